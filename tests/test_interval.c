/* test_interval.c — the performance interval against spec §6 examples A and B, the ordering
 * LB(C̄_tot) <= LB(C̄_casc) <= LB(I) <= R*, and scenario validation. */
#include <math.h>
#include <stdio.h>

#include "alim/info.h"
#include "alim/interval.h"
#include "alim/residual.h"
#include "check.h"

#define TOL 1e-10

static int load(const char *text, alim_scenario *s, alim_error *e)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) return -1;
    int st = alim_scenario_from_json(j, "scen.json", s, e);
    cJSON_Delete(j);
    return st;
}

static const char example_a[] =
    "{\"M\": 2, \"m\": 100, \"empirical_risk\": 0.176, \"kl_measured_nats\": 2.772588722239781,"
    " \"contexts\": [{\"weight\": 0.5, \"cognitive\": {\"type\": \"bsc\", \"p\": 0.05},"
    " \"articulation\": {\"type\": \"bsc\", \"p\": 0.1}},"
    " {\"weight\": 0.5, \"cognitive\": {\"type\": \"bsc\", \"p\": 0.2}, \"articulation\": {\"matrix\": [[0.98, 0.02], [0.02, 0.98]]}}]}";

static const char example_b[] =
    "{\"M\": 256, \"m\": 1000, \"contexts\": ["
    "{\"weight\": 0.7, \"cognitive\": {\"type\": \"msc\", \"p\": 0.05}, \"articulation\": {\"type\": \"msc\", \"p\": 0.02}},"
    "{\"weight\": 0.3, \"cognitive\": {\"type\": \"msc\", \"p\": 0.6}, \"articulation\": {\"type\": \"msc\", \"p\": 0.1}}]}";

static void check_order(const alim_interval *iv, const char *name)
{
    CHECK(iv->lb_strong_tot <= iv->lb_strong_casc + 1e-15 && iv->lb_strong_casc <= iv->lb_strong_info + 1e-15 &&
              iv->lb_strong_info <= iv->bayes_risk + 1e-15,
          "%s: LB(tot) %g <= LB(casc) %g <= LB(I) %g <= R* %g", name, iv->lb_strong_tot, iv->lb_strong_casc,
          iv->lb_strong_info, iv->bayes_risk);
    CHECK(iv->lb_weak_tot <= iv->lb_strong_tot + 1e-15, "%s: weak <= strong", name);
    CHECK(iv->info_nats <= iv->c_casc_upper + 1e-12 && iv->c_casc_lower <= iv->c_tot_upper + 1e-12,
          "%s: I <= C_casc <= C_tot", name);
}

int main(int argc, char **argv)
{
    (void)argc;
    alim_scenario s;
    alim_interval iv;
    alim_error e;
    /* example A */
    CHECK(load(example_a, &s, &e) == ALIM_OK, "example A parses: %s", e.what);
    CHECK(alim_interval_compute(&s, &iv, &e) == ALIM_OK, "example A computes: %s", e.what);
    CHECK_ABS(iv.contexts[0].cog_lower, 0.4946319372141, TOL, "A C_cog(a)");
    CHECK_ABS(iv.contexts[1].cog_lower, 0.1927447570218, TOL, "A C_cog(b)");
    CHECK_ABS(iv.contexts[0].art_lower, 0.3680642071685, TOL, "A C_art(a)");
    CHECK_ABS(iv.contexts[1].art_lower, 0.5951080672802, TOL, "A C_art(b)");
    CHECK_ABS(iv.c_tot_lower, 0.2804044820951, TOL, "A C_tot");
    CHECK_ABS(alim_bits(iv.c_tot_upper), 0.4045381557617, TOL, "A C_tot bits");
    CHECK_ABS(iv.info_nats, 0.2323681910561, TOL, "A I(U;Y|S)");
    CHECK_ABS(iv.bayes_risk, 0.176, 1e-14, "A Bayes risk");
    CHECK_ABS(iv.lb_strong_tot, 0.1443278689736, TOL, "A LB strong C_tot");
    CHECK_ABS(iv.lb_strong_info, 0.1731071766619, TOL, "A LB strong I");
    CHECK(iv.lb_weak_tot == 0 && iv.lb_weak_info == 0, "A LB weak = 0");
    CHECK(iv.contexts[0].binding_stage == 1 && iv.contexts[1].binding_stage == 0, "A binding stages");
    check_order(&iv, "A");
    const double ms[] = {100, 1000, 10000};
    const double ub_ex[] = {0.5554454806008, 0.5407266525867, 0.5385316864722};
    const double ub_hp[] = {0.7106018809596, 0.6910021762388, 0.6885410976078};
    const double ub_kl[] = {0.3615169237274, 0.2322907222017, 0.1939895698129};
    for (int k = 0; k < 3; k++) {
        double hp, ex, me;
        alim_interval_upper_at(&s, &iv, ms[k], &hp, &ex, &me);
        char name[64];
        snprintf(name, sizeof name, "A UB m=%g", ms[k]);
        CHECK_ABS(ex, ub_ex[k], TOL, name);
        CHECK_ABS(hp, ub_hp[k], TOL, name);
        CHECK_ABS(me, ub_kl[k], TOL, name);
    }
    CHECK_ABS(iv.ub_high_prob, ub_hp[0], TOL, "A UB at the scenario's m");
    CHECK(iv.lower_bound <= iv.empirical_risk && iv.empirical_risk <= iv.upper_bound, "A interval contains R^");
    alim_interval_free(&iv);
    alim_scenario_free(&s);

    /* example B */
    CHECK(load(example_b, &s, &e) == ALIM_OK, "example B parses: %s", e.what);
    CHECK(alim_interval_compute(&s, &iv, &e) == ALIM_OK, "example B computes: %s", e.what);
    CHECK_ABS(iv.contexts[0].cog_lower, 5.069599023876, 1e-9, "B C_cog(1)");
    CHECK_ABS(iv.contexts[1].cog_lower, 1.547407650375, 1e-9, "B C_cog(2)");
    CHECK_ABS(iv.contexts[0].art_lower, 5.336313060297, 1e-9, "B C_art(1)");
    CHECK_ABS(iv.contexts[1].art_lower, 4.665968116572, 1e-9, "B C_art(2)");
    CHECK_ABS(iv.c_tot_upper, 4.012941611826, 1e-9, "B C_tot");
    CHECK_ABS(alim_bits(iv.c_tot_upper), 5.789450962758, 1e-9, "B C_tot bits");
    CHECK_ABS(iv.info_nats, 3.842228100702, 1e-9, "B I(U;Y|S)");
    CHECK_ABS(iv.bayes_risk, 0.2402266666667, TOL, "B Bayes risk");
    CHECK_ABS(1 - iv.contexts[0].bayes_risk, 1 - 0.06899607843137, TOL, "B cascade error 1");
    CHECK_ABS(iv.contexts[1].bayes_risk, 0.6397647058824, TOL, "B cascade error 2");
    CHECK_ABS(iv.lb_weak_tot, 0.1513186296553, TOL, "B LB weak C_tot");
    CHECK_ABS(iv.lb_weak_info, 0.1821045716442, TOL, "B LB weak I");
    CHECK_ABS(iv.lb_strong_tot, 0.1890239108869, TOL, "B LB strong C_tot");
    CHECK_ABS(iv.lb_strong_info, 0.2136946688127, TOL, "B LB strong I");
    CHECK(iv.empirical_is_bayes, "B: R^ defaults to the Bayes risk");
    check_order(&iv, "B");
    double dense_tot = iv.c_tot_upper, dense_info = iv.info_nats, dense_bayes = iv.bayes_risk;
    alim_interval_free(&iv);
    alim_scenario_free(&s);
    /* the closed form for huge MSC agrees with the dense path: force it with size 8192 and M = 8192 */
    {
        const char big[] = "{\"M\": 8192, \"m\": 10, \"contexts\": [{\"weight\": 1, \"cognitive\": {\"type\": \"msc\", \"p\": 0.1},"
                           " \"articulation\": {\"type\": \"msc\", \"p\": 0.2}}]}";
        CHECK(load(big, &s, &e) == ALIM_OK, "big MSC parses");
        CHECK(alim_interval_compute(&s, &iv, &e) == ALIM_OK, "big MSC closed form: %s", e.what);
        double k = 8192, pc = 0.1 + 0.2 - 0.02 * k / (k - 1);
        CHECK_ABS(iv.contexts[0].casc_upper, log(k) - alim_binary_entropy(pc) - pc * log(k - 1), 1e-12, "closed form");
        CHECK_ABS(iv.bayes_risk, pc, 1e-12, "closed-form Bayes risk");
        CHECK(iv.contexts[0].closed_form, "closed form used");
        alim_interval_free(&iv);
        alim_scenario_free(&s);
        const char huge[] = "{\"log2M\": 100, \"m\": 10, \"contexts\": [{\"weight\": 1, \"cognitive\": {\"type\": \"msc\", \"p\": 0.1},"
                            " \"articulation\": {\"type\": \"msc\", \"p\": 0.2}}]}";
        CHECK(load(huge, &s, &e) == ALIM_OK, "log2M = 100 parses");
        CHECK(alim_interval_compute(&s, &iv, &e) == ALIM_OK, "log2M = 100 computes: %s", e.what);
        /* strong Fano is tight for MSC: LB(C_tot) = the binding stage's p, LB(I) = the cascade's */
        CHECK_ABS(iv.lower_bound, 0.2, 1e-9, "log2M = 100: LB(C_tot)");
        CHECK_ABS(iv.lb_strong_info, 0.1 + 0.2 - 0.02, 1e-9, "log2M = 100: LB(I)");
        CHECK_ABS(iv.bayes_risk, 0.1 + 0.2 - 0.02, 1e-12, "log2M = 100: R*");
        alim_interval_free(&iv);
        alim_scenario_free(&s);
        (void)dense_tot, (void)dense_info, (void)dense_bayes;
    }
    /* fewer channel inputs than M: codewords share inputs, the index cannot be decoded better */
    {
        const char t[] = "{\"M\": 4, \"m\": 10, \"contexts\": [{\"weight\": 1, \"cognitive\": {\"type\": \"bsc\", \"p\": 0},"
                         " \"articulation\": {\"type\": \"bsc\", \"p\": 0}}]}";
        CHECK(load(t, &s, &e) == ALIM_OK, "M > inputs parses");
        CHECK(alim_interval_compute(&s, &iv, &e) == ALIM_OK, "M > inputs computes");
        CHECK_ABS(iv.info_nats, log(2.0), 1e-15, "I = 1 bit");
        CHECK_ABS(iv.bayes_risk, 0.5, 1e-15, "R* = 1/2");
        CHECK_ABS(iv.lb_strong_info, 0.1892896249152, TOL, "Fano with M=4, I=1 bit (spec table)");
        alim_interval_free(&iv);
        alim_scenario_free(&s);
    }
    /* validation */
    {
        struct {
            const char *json, *want;
        } bad[] = {
            {"{\"m\": 10, \"contexts\": []}", "M"},
            {"{\"M\": 2, \"contexts\": [{\"weight\":1,\"cognitive\":{\"type\":\"bsc\",\"p\":0.1},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}", "\"m\""},
            {"{\"M\": 2, \"m\": 10, \"bogus\": 1, \"contexts\": []}", "unknown key \"bogus\""},
            {"{\"M\": 2, \"m\": 10, \"contexts\": []}", "non-empty"},
            {"{\"M\": 2, \"m\": 10, \"contexts\": [{\"weight\":0.5,\"cognitive\":{\"type\":\"bsc\",\"p\":0.1},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}", "sum to"},
            {"{\"M\": 2, \"m\": 10, \"contexts\": [{\"weight\":1,\"cognitive\":{\"type\":\"bsc\",\"p\":1.1},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}", "probability"},
            {"{\"M\": 2, \"m\": 10, \"contexts\": [{\"weight\":1,\"cognitive\":{\"type\":\"xyz\",\"p\":0.1},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}", "unknown channel type"},
            {"{\"M\": 2, \"m\": 10, \"contexts\": [{\"weight\":1,\"cognitive\":{\"matrix\":[[0.5,0.5],[1]]},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}", "ragged"},
            {"{\"M\": 2, \"m\": 10, \"contexts\": [{\"weight\":1,\"cognitive\":{\"matrix\":[[0.5,0.6],[1,0]]},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}", "sums to"},
            {"{\"M\": 2, \"m\": 10, \"contexts\": [{\"weight\":1,\"cognitive\":{\"matrix\":[[1.5,-0.5],[1,0]]},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}", "negative"},
            {"{\"M\": 2, \"m\": 10, \"delta\": 0.6, \"contexts\": [{\"weight\":1,\"cognitive\":{\"type\":\"bsc\",\"p\":0.1},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}", "delta + eta"},
            {"{\"M\": 2.5, \"m\": 10, \"contexts\": []}", "integer"},
            {"{\"M\": \"2\", \"m\": 10, \"contexts\": []}", "must be a number"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            alim_error_clear(&e);
            int st = load(bad[i].json, &s, &e);
            CHECK(st == ALIM_EINVAL && strstr(e.what, bad[i].want), "bad scenario %zu: status %d, message '%s' lacks '%s'",
                  i, st, e.what, bad[i].want);
        }
        const char mismatch[] = "{\"M\": 2, \"m\": 10, \"contexts\": [{\"weight\":1,\"cognitive\":{\"type\":\"bec\",\"e\":0.1},\"articulation\":{\"type\":\"bsc\",\"p\":0.1}}]}";
        CHECK(load(mismatch, &s, &e) == ALIM_OK, "bec->bsc parses");
        CHECK(alim_interval_compute(&s, &iv, &e) == ALIM_EINVAL && strstr(e.what, "outputs"), "stage size mismatch: %s", e.what);
        alim_scenario_free(&s);
    }
    /* PAC-Bayes forms usable from the scenario */
    {
        const char t[] = "{\"M\": 2, \"m\": 1000, \"empirical_risk\": 0.176, \"pac_bayes_form\": \"catoni\", \"catoni_c\": 2,"
                         " \"contexts\": [{\"weight\": 1, \"cognitive\": {\"type\": \"bsc\", \"p\": 0.3},"
                         " \"articulation\": {\"type\": \"bsc\", \"p\": 0.1}}]}";
        CHECK(load(t, &s, &e) == ALIM_OK, "form parses: %s", e.what);
        CHECK(alim_interval_compute(&s, &iv, &e) == ALIM_OK, "form computes");
        double B = 1000 * iv.c_tot_upper;
        CHECK_ABS(iv.ub_high_prob, alim_pacbayes_bound(ALIM_PB_CATONI, 0.176, B / 0.5, 1000, 0.05, 2), 1e-15, "catoni form");
        CHECK_ABS(iv.ub_forms[ALIM_PB_PINSKER], alim_pacbayes_bound(ALIM_PB_PINSKER, 0.176, B / 0.5, 1000, 0.05, 2), 1e-15, "pinsker form");
        CHECK_ABS(iv.ub_forms[ALIM_PB_KL_XI], alim_kl_inverse_upper(0.176, (B / 0.5 + alim_pacbayes_log_xi(1000) - log(0.05)) / 1000), 1e-15, "kl-xi form");
        CHECK(iv.ub_forms[ALIM_PB_KL_XI] <= iv.ub_forms[ALIM_PB_KL_2SQRTM], "exact xi is tighter than 2 sqrt m");
        alim_interval_free(&iv);
        alim_scenario_free(&s);
        const char bad[] = "{\"M\": 2, \"m\": 10, \"pac_bayes_form\": \"bernstein\", \"contexts\": []}";
        CHECK(load(bad, &s, &e) == ALIM_EINVAL && strstr(e.what, "pac_bayes_form"), "unknown form rejected");
    }
    /* the residual rho example of spec §6 (exhaustive enumeration there) */
    {
        alim_residual r;
        CHECK(alim_residual_majority(3, 0.1, 0.2, &r, &e) == ALIM_OK, "residual m=3");
        CHECK_ABS(r.i_wd, 0.6931471805599, TOL, "I(W;D)");
        CHECK_ABS(r.i_wu, 0.09344503964019, TOL, "I(W;U^3)");
        CHECK_ABS(r.rho, 0.5997021409198, TOL, "rho");
        CHECK_ABS(r.cap_info, 0.3602707902856, TOL, "m I(U;Y)");
        CHECK_ABS(r.cap_tot, 0.5782342710653, TOL, "m C_tot");
        CHECK(r.i_wu <= r.cap_info, "I(W;U^m) <= m I(U;Y)");
        CHECK(alim_residual_majority(4, 0.1, 0.2, &r, &e) == ALIM_EINVAL, "even m rejected");
        /* brute force over all (U, Y) for m = 5 */
        double e5 = 0.1 + 0.2 - 2 * 0.1 * 0.2, hwu = 0;
        for (int u = 0; u < 32; u++) {
            double p1w = 0;
            for (int y = 0; y < 32; y++) {
                double py = 1;
                for (int i = 0; i < 5; i++) py *= (((u >> i) & 1) == ((y >> i) & 1)) ? 1 - e5 : e5;
                if (__builtin_popcount(y) >= 3) p1w += py;
            }
            hwu += alim_binary_entropy(p1w) / 32;
        }
        CHECK(alim_residual_majority(5, 0.1, 0.2, &r, &e) == ALIM_OK, "residual m=5");
        CHECK_ABS(r.rho, hwu, 1e-13, "rho m=5 vs brute force");
    }
    return check_summary(argv[0]);
}
