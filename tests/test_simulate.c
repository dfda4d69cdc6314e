/* test_simulate.c — the codebook-mixture simulator (spec §8): exact risks against brute-force
 * enumeration of (J, S, H, Y), sampling frequencies, Monte-Carlo risk inside its CI, the
 * Gibbs posterior against enumeration of all 16 decoders of example A, reproducibility
 * (same seed, any thread count), E1 (never below the LB, approaches R*) and E4 coverage at
 * small scale, and the errors. Runs in a few seconds, also under ASan. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bounds.h"
#include "alim/info.h"
#include "alim/interval.h"
#include "alim/simulate.h"
#include "check.h"

static int load(const char *text, alim_scenario *s, alim_error *e)
{
    cJSON *j = cJSON_Parse(text);
    if (!j) return -1;
    int st = alim_scenario_from_json(j, "scen.json", s, e);
    cJSON_Delete(j);
    return st;
}

/* spec §6 example A: M = 2; s_a: BSC(.05) -> BSC(.1); s_b: BSC(.2) -> BSC(.02) */
static const char example_a[] =
    "{\"M\": 2, \"m\": 100, \"contexts\": ["
    "{\"weight\": 0.5, \"cognitive\": {\"type\": \"bsc\", \"p\": 0.05}, \"articulation\": {\"type\": \"bsc\", \"p\": 0.1}},"
    "{\"weight\": 0.5, \"cognitive\": {\"type\": \"bsc\", \"p\": 0.2}, \"articulation\": {\"type\": \"bsc\", \"p\": 0.02}}]}";

/* A tiny irregular case: M = 3 codewords on 2 inputs (codeword 2 shares input 0), 3 hidden
 * states, a Z-like articulation with 2 outputs in one context and a BEC in the other; Δ = 0.8. */
static const char tiny[] =
    "{\"M\": 3, \"m\": 50, \"loss_gap\": 0.8, \"contexts\": ["
    "{\"weight\": 0.3, \"cognitive\": {\"matrix\": [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]},"
    " \"articulation\": {\"matrix\": [[0.9, 0.1], [0.5, 0.5], [0.05, 0.95]]}},"
    "{\"weight\": 0.7, \"cognitive\": {\"type\": \"bsc\", \"p\": 0.15}, \"articulation\": {\"type\": \"bec\", \"e\": 0.3}}]}";

static const double tiny_cog0[2][3] = {{0.7, 0.2, 0.1}, {0.1, 0.3, 0.6}};
static const double tiny_art0[3][2] = {{0.9, 0.1}, {0.5, 0.5}, {0.05, 0.95}};
static const double tiny_cog1[2][2] = {{0.85, 0.15}, {0.15, 0.85}};
static const double tiny_art1[2][3] = {{0.7, 0.3, 0}, {0, 0.3, 0.7}};

/* Risk of decoder f (cells: context 0 outputs 0,1 then context 1 outputs 0,1,2) by summing
 * over every (j, s, h, y), straight from the matrices above. */
static double tiny_brute_risk(const uint32_t *f)
{
    double r = 0.0;
    for (int j = 0; j < 3; j++) {
        int u = j % 2;
        for (int h = 0; h < 3; h++)
            for (int y = 0; y < 2; y++)
                r += 0.3 / 3 * tiny_cog0[u][h] * tiny_art0[h][y] * ((int)f[y] != j);
        for (int h = 0; h < 2; h++)
            for (int y = 0; y < 3; y++)
                r += 0.7 / 3 * tiny_cog1[u][h] * tiny_art1[h][y] * ((int)f[2 + y] != j);
    }
    return 0.8 * r;
}

static void bits_equal_e1(const alim_sim_e1_result *a, const alim_sim_e1_result *b, const char *name)
{
    int same = a->n_rows == b->n_rows;
    for (size_t i = 0; same && i < a->n_rows; i++) {
        const alim_sim_e1_row *x = &a->rows[i], *y = &b->rows[i];
        same = x->risk_exact == y->risk_exact && x->risk_mc.mean == y->risk_mc.mean && x->risk_mc.se == y->risk_mc.se &&
               x->m == y->m && x->learner == y->learner && x->replicate == y->replicate;
    }
    CHECK(same, "%s: identical E1 rows", name);
}

static int stop_after;
static int stop_cb(void *ctx, const char *stage, double done, double total)
{
    (void)ctx, (void)stage, (void)total;
    return done >= stop_after;
}

int main(int argc, char **argv)
{
    (void)argc;
    alim_scenario s, t;
    alim_interval iv;
    alim_error e;
    alim_sim_model *model = NULL;
    CHECK(load(example_a, &s, &e) == ALIM_OK, "example A parses: %s", e.what);
    CHECK(alim_interval_compute(&s, &iv, &e) == ALIM_OK, "interval: %s", e.what);
    CHECK(alim_sim_model_alloc(&s, &model, &e) == ALIM_OK, "model A: %s", e.what);
    CHECK(alim_sim_model_codebook_size(model) == 2 && alim_sim_model_cells(model) == 4, "A: M = 2, 4 cells");

    /* exact risk of all 16 decoders of example A against enumeration, Bayes risk = 0.176 */
    {
        /* cascades: s_a BSC(0.05)∘BSC(0.1) = BSC(0.14), s_b BSC(0.2)∘BSC(0.02) = BSC(0.212) */
        const double pc[2] = {0.14, 0.212};
        double best = 1.0, worst_diff = 0.0, worst_canon = 0.0;
        for (unsigned h = 0; h < 16; h++) {
            uint32_t f[4];
            double brute = 0.0, canon = 0.0;
            for (int c = 0; c < 4; c++) f[c] = (h >> c) & 1u;
            for (int j = 0; j < 2; j++)
                for (int sc = 0; sc < 2; sc++)
                    for (int y = 0; y < 2; y++)
                        brute += 0.25 * (y == j ? 1 - pc[sc] : pc[sc]) * ((int)f[2 * sc + y] != j);
            for (size_t c = 0; c < 4; c++) canon += alim_sim_cell_prob(model, c) * alim_sim_canonical_loss(model, c, f[c]);
            double ex = alim_sim_risk_exact(model, f);
            worst_diff = fmax(worst_diff, fabs(ex - brute));
            worst_canon = fmax(worst_canon, fabs(ex - canon));
            best = fmin(best, ex);
        }
        CHECK_ABS(worst_diff, 0.0, 1e-15, "A: exact risk = enumeration, all 16 decoders");
        CHECK_ABS(worst_canon, 0.0, 1e-15, "A: E[canonical loss] = risk (tower rule), all 16 decoders");
        uint32_t fb[4];
        alim_sim_bayes_decoder(model, fb);
        CHECK_ABS(alim_sim_risk_exact(model, fb), 0.176, 1e-15, "A: Bayes decoder risk");
        CHECK_ABS(best, 0.176, 1e-15, "A: best of 16 decoders = R*");
        CHECK_ABS(iv.bayes_risk, 0.176, 1e-14, "A: interval's R*");
    }

    /* the irregular tiny case: exact risk vs brute force over every decoder (3^5 = 243) */
    {
        alim_sim_model *tm = NULL;
        CHECK(load(tiny, &t, &e) == ALIM_OK, "tiny parses: %s", e.what);
        CHECK(alim_sim_model_alloc(&t, &tm, &e) == ALIM_OK, "tiny model: %s", e.what);
        if (tm) {
            CHECK(alim_sim_model_cells(tm) == 5 && alim_sim_model_codebook_size(tm) == 3, "tiny: 5 cells, M = 3");
            double worst = 0.0, best = 1.0, psum = 0.0;
            for (unsigned h = 0; h < 243; h++) {
                uint32_t f[5];
                unsigned x = h;
                for (int c = 0; c < 5; c++) f[c] = x % 3, x /= 3;
                double ex = alim_sim_risk_exact(tm, f);
                worst = fmax(worst, fabs(ex - tiny_brute_risk(f)));
                best = fmin(best, ex);
            }
            for (size_t c = 0; c < 5; c++) psum += alim_sim_cell_prob(tm, c);
            CHECK_ABS(worst, 0.0, 1e-15, "tiny: exact risk = enumeration, all 243 decoders");
            CHECK_ABS(psum, 1.0, 1e-15, "tiny: cell probabilities sum to 1");
            uint32_t fb[5];
            alim_sim_bayes_decoder(tm, fb);
            CHECK_ABS(alim_sim_risk_exact(tm, fb), best, 1e-15, "tiny: Bayes decoder = best decoder");
            alim_interval tiv;
            if (alim_interval_compute(&t, &tiv, &e) == ALIM_OK) {
                CHECK_ABS(0.8 * tiv.bayes_risk, best, 1e-14, "tiny: interval's R* (x Δ) = best decoder");
                alim_interval_free(&tiv);
            }
            /* sampling: frequencies of (cell, j) within 5 SE of P(cell, J=j) */
            alim_rng rng;
            alim_rng_seed(&rng, 7, 0);
            enum { N = 200000 };
            size_t cnt[5][3] = {{0}};
            for (int i = 0; i < N; i++) {
                size_t j, c;
                alim_sim_draw(tm, &rng, &j, &c);
                cnt[c][j]++;
            }
            int ok = 1;
            for (size_t c = 0; c < 5; c++)
                for (size_t j = 0; j < 3; j++) {
                    double p = alim_sim_joint(tm, c, j), f = (double)cnt[c][j] / N;
                    if (fabs(f - p) > 5 * sqrt(p * (1 - p) / N) + 1e-12) {
                        ok = 0;
                        fprintf(stderr, "cell %zu j %zu: freq %g, P %g\n", c, j, f, p);
                    }
                }
            CHECK(ok, "tiny: sampled (cell, J) frequencies match P(cell, J) within 5 SE");
            /* Monte-Carlo risk inside its 95%% CI, for the Bayes decoder and a bad one */
            uint32_t bad[5] = {2, 2, 1, 0, 0};
            const uint32_t *decs[2] = {fb, bad};
            alim_sim_estimate est[2];
            alim_rng_seed(&rng, 8, 0);
            alim_sim_risk_mc(tm, decs, 2, 100000, &rng, est);
            for (int d = 0; d < 2; d++) {
                double ex = alim_sim_risk_exact(tm, decs[d]);
                CHECK(est[d].ci_low <= ex && ex <= est[d].ci_high, "tiny decoder %d: exact %g in CI [%g, %g]", d, ex,
                      est[d].ci_low, est[d].ci_high);
                CHECK(fabs(est[d].mean - ex) <= 4 * est[d].se, "tiny decoder %d: |MC - exact| <= 4 SE", d);
            }
            /* Gibbs posterior against enumeration of all 243 decoders for some counts */
            const uint32_t n[5] = {7, 0, 3, 12, 1};
            const double lambdas[3] = {0.0, 0.7, 3.0};
            for (int li = 0; li < 3; li++) {
                double lam = lambdas[li], emp, kl, tr;
                CHECK(alim_sim_gibbs(tm, n, lam, &emp, &kl, &tr, &e) == ALIM_OK, "gibbs");
                double lw[243], z, be = 0, bk = 0, bt = 0;
                for (unsigned h = 0; h < 243; h++) {
                    unsigned x = h;
                    double sum = 0;
                    for (int c = 0; c < 5; c++, x /= 3) sum += n[c] * alim_sim_canonical_loss(tm, (size_t)c, x % 3);
                    lw[h] = -lam * sum;
                }
                z = alim_logsumexp(lw, 243);
                for (unsigned h = 0; h < 243; h++) {
                    uint32_t f[5];
                    unsigned x = h;
                    double sum = 0;
                    for (int c = 0; c < 5; c++, x /= 3) f[c] = x % 3, sum += n[c] * alim_sim_canonical_loss(tm, (size_t)c, f[c]);
                    double q = exp(lw[h] - z);
                    be += q * sum / 23.0;
                    bk += q * (lw[h] - z + log(243.0));
                    bt += q * tiny_brute_risk(f);
                }
                char nm[64];
                snprintf(nm, sizeof nm, "tiny Gibbs lambda %g: R^(Q)", lam);
                CHECK_ABS(emp, be, 1e-13, nm);
                snprintf(nm, sizeof nm, "tiny Gibbs lambda %g: KL(Q||P)", lam);
                CHECK_ABS(kl, bk, 1e-12, nm);
                snprintf(nm, sizeof nm, "tiny Gibbs lambda %g: R(Q)", lam);
                CHECK_ABS(tr, bt, 1e-13, nm);
            }
        }
        alim_sim_model_free(tm);
        alim_scenario_free(&t);
    }

    /* E1 at small scale on example A */
    {
        const double ms[] = {10, 100, 1000, 10000};
        alim_sim_e1_options o = ALIM_SIM_E1_OPTIONS_DEFAULT;
        o.m_values = ms, o.n_m = 4, o.replicates = 4, o.test_items = 20000, o.seed = 11;
        alim_sim_e1_result r1, r2, r3;
        CHECK(alim_simulate_e1(&s, &o, NULL, &r1, &e) == ALIM_OK, "E1: %s", e.what);
        CHECK(r1.n_rows == 4 * 4 * 3, "E1 rows %zu", r1.n_rows);
        CHECK_ABS(r1.lower_bound, 0.1443278689736, 1e-10, "E1 LB(C_tot)");
        CHECK_ABS(r1.lb_info, 0.1731071766619, 1e-10, "E1 LB(I)");
        CHECK_ABS(r1.bayes_risk, 0.176, 1e-14, "E1 R*");
        CHECK(r1.mc_above_lb, "E1: risk_mc - 3 SE >= LB in every row (min margin %g)", r1.min_margin);
        CHECK(r1.exact_above_bayes, "E1: exact risk >= R* in every row");
        int all_done = 1, all_ge_lb = 1;
        for (size_t i = 0; i < r1.n_rows; i++) {
            all_done &= r1.rows[i].done;
            all_ge_lb &= r1.rows[i].risk_exact >= r1.lower_bound;
        }
        CHECK(all_done && !r1.stopped, "E1: every row ran");
        CHECK(all_ge_lb, "E1: exact risk >= LB in every row");
        for (int l = 0; l < ALIM_SIM_N_LEARNERS; l++) {
            const alim_sim_e1_summary *last = &r1.summary[3 * ALIM_SIM_N_LEARNERS + l];
            CHECK(r1.gap_shrinks[l], "E1 %s: gap to R* shrinks", alim_sim_learner_name((alim_sim_learner)l));
            CHECK(last->excess <= 1e-3, "E1 %s at m = 1e4: excess %g <= 1e-3", alim_sim_learner_name((alim_sim_learner)l),
                  last->excess);
        }
        CHECK(r1.ci_coverage >= 0.75, "E1: exact risk inside the 95%% CI in %g of rows", r1.ci_coverage);
        /* reproducible: same seed -> same bits, with 1 thread or 2 */
        omp_set_num_threads(1);
        CHECK(alim_simulate_e1(&s, &o, NULL, &r2, &e) == ALIM_OK, "E1 again: %s", e.what);
        omp_set_num_threads(2);
        bits_equal_e1(&r1, &r2, "same seed, 1 vs 2 threads");
        o.seed = 12;
        CHECK(alim_simulate_e1(&s, &o, NULL, &r3, &e) == ALIM_OK, "E1 seed 12: %s", e.what);
        int differ = 0;
        for (size_t i = 0; i < r1.n_rows; i++) differ |= r1.rows[i].risk_mc.mean != r3.rows[i].risk_mc.mean;
        CHECK(differ, "E1: another seed gives other numbers");
        alim_sim_e1_result_free(&r1);
        alim_sim_e1_result_free(&r2);
        alim_sim_e1_result_free(&r3);
        /* stopping through the progress callback */
        alim_progress pr = {stop_cb, NULL};
        stop_after = 2;
        o.replicates = 8;
        CHECK(alim_simulate_e1(&s, &o, &pr, &r1, &e) == ALIM_OK, "E1 stopped: %s", e.what);
        size_t ran = 0;
        for (size_t i = 0; i < r1.n_rows; i++) ran += (size_t)r1.rows[i].done;
        CHECK(r1.stopped && ran < r1.n_rows && ran >= 2 * 3, "E1: stop request honoured (%zu rows ran)", ran);
        alim_sim_e1_result_free(&r1);
    }

    /* E4 at small scale on example A: 16 decoders, KL <= ln 16 */
    {
        alim_sim_e4_options o = ALIM_SIM_E4_OPTIONS_DEFAULT;
        o.replicates = 300, o.seed = 5;
        alim_sim_e4_result r1, r2;
        CHECK(alim_simulate_e4(&s, &o, NULL, &r1, &e) == ALIM_OK, "E4: %s", e.what);
        CHECK(r1.m == 100 && r1.n_done == 300, "E4 m from the scenario, all replicates ran");
        CHECK_ABS(r1.class_log2, 4.0, 1e-12, "E4 class log2 |H| = 4");
        CHECK_ABS(r1.kl_max_nats, log(16.0), 1e-12, "E4 KL max = ln 16");
        CHECK(r1.max_kl_nats <= log(16.0) + 1e-12, "E4: measured KL %g <= ln 16", r1.max_kl_nats);
        CHECK(r1.coverage_measured.mean >= 0.95, "E4 measured coverage %g >= 1 - delta", r1.coverage_measured.mean);
        CHECK(r1.coverage_budget.mean >= 0.45, "E4 budget coverage %g >= 1 - delta - eta", r1.coverage_budget.mean);
        CHECK(r1.measured_ok && r1.budget_ok && r1.above_lb && r1.kl_within_budget, "E4 checks");
        CHECK(r1.coverage_naive.mean < 0.9, "E4 control: R(Q) <= R^(Q) only in %g of datasets", r1.coverage_naive.mean);
        CHECK(r1.min_true_risk >= 0.176 - 1e-12, "E4: R(Q) >= R* (%g)", r1.min_true_risk);
        /* the per-row bounds are those of bounds.h / interval.h */
        const alim_sim_e4_row *row = &r1.rows[17];
        CHECK_ABS(row->ub_measured, alim_pacbayes_bound(ALIM_PB_KL_XI, row->emp_risk, row->kl_nats, 100, 0.05, 0), 1e-14,
                  "E4 measured bound = alim_pacbayes_bound");
        alim_interval iv2 = iv;
        iv2.empirical_risk = row->emp_risk;
        double hp;
        alim_interval_upper_at(&s, &iv2, 100, &hp, NULL, NULL);
        CHECK_ABS(row->ub_budget, hp, 1e-14, "E4 budget bound = alim_interval_upper_at");
        CHECK_ABS(r1.budget_nats, 100 * iv.c_tot_upper, 1e-12, "E4 B = m C_tot");
        omp_set_num_threads(1);
        CHECK(alim_simulate_e4(&s, &o, NULL, &r2, &e) == ALIM_OK, "E4 again");
        omp_set_num_threads(2);
        int same = 1;
        for (size_t i = 0; i < 300; i++)
            same &= r1.rows[i].emp_risk == r2.rows[i].emp_risk && r1.rows[i].kl_nats == r2.rows[i].kl_nats &&
                    r1.rows[i].true_risk == r2.rows[i].true_risk;
        CHECK(same, "E4: same seed, 1 vs 2 threads -> identical rows");
        alim_sim_e4_result_free(&r1);
        alim_sim_e4_result_free(&r2);
        /* a too-large class is refused; --max-class-log2 lets it through */
        o.max_class_log2 = 3;
        CHECK(alim_simulate_e4(&s, &o, NULL, &r1, &e) == ALIM_EINVAL && strstr(e.what, "2^4"), "E4 refuses 2^4 > 2^3: %s",
              e.what);
        o.max_class_log2 = 20;
        o.m = 0.5;
        CHECK(alim_simulate_e4(&s, &o, NULL, &r1, &e) == ALIM_EINVAL, "E4 m = 0.5 refused");
        o.m = 10, o.replicates = 0;
        CHECK(alim_simulate_e4(&s, &o, NULL, &r1, &e) == ALIM_EINVAL, "E4 0 replicates refused");
        o.replicates = 5, o.lambda = -1;
        CHECK(alim_simulate_e4(&s, &o, NULL, &r1, &e) == ALIM_EINVAL, "E4 negative lambda refused");
    }

    /* E1 errors */
    {
        alim_sim_e1_options o = ALIM_SIM_E1_OPTIONS_DEFAULT;
        alim_sim_e1_result r;
        const double bad_m[] = {10, 0};
        o.m_values = bad_m, o.n_m = 2;
        CHECK(alim_simulate_e1(&s, &o, NULL, &r, &e) == ALIM_EINVAL && !strcmp(e.where, "m_values"), "E1 m = 0 refused");
        o.m_values = NULL, o.replicates = 0;
        CHECK(alim_simulate_e1(&s, &o, NULL, &r, &e) == ALIM_EINVAL, "E1 0 replicates refused");
        alim_scenario big;
        CHECK(load("{\"log2M\": 30, \"m\": 10, \"contexts\": [{\"weight\": 1, \"cognitive\": {\"type\": \"bsc\", \"p\": 0.1},"
                   " \"articulation\": {\"type\": \"bsc\", \"p\": 0.1}}]}",
                   &big, &e) == ALIM_OK,
              "2^30 scenario parses");
        alim_sim_model *bm = NULL;
        CHECK(alim_sim_model_alloc(&big, &bm, &e) == ALIM_EINVAL && strstr(e.what, "M <="), "M = 2^30 refused: %s", e.what);
        alim_scenario_free(&big);
    }

    alim_sim_model_free(model);
    alim_interval_free(&iv);
    alim_scenario_free(&s);
    return check_summary(argv[0]);
}
