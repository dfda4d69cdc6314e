/* test_elastic_oracle.c — E0: the count-weighted learner against the closed form of spec §1.6. */
#include <math.h>
#include <stdlib.h>

#include "alim/info.h"
#include "alim/oracle.h"
#include "alim/source.h"
#include "check.h"

static double zipf_h_bits(size_t m)
{
    double z = 0, h = 0;
    for (size_t j = 1; j <= m; j++) z += 1.0 / (double)j;
    for (size_t j = 1; j <= m; j++) h -= (1.0 / (double)j / z) * log2(1.0 / (double)j / z);
    return h;
}

/* closed form: gamma_a = H - log2 w_2, gamma_p = sum q_i (H - log2 w_i), A = 1 */
static void closed(double k, double l, const double *q, double *ga, double *gp, double *dga, double *dgp)
{
    double H = zipf_h_bits(30), N = k + 1 + l;
    double w[3] = {q[0] * k / N, (q[1] * k + 1) / N, (q[2] * k + l) / N};
    *ga = H - log2(w[1]);
    *gp = 0;
    for (int i = 0; i < 3; i++)
        if (q[i] > 0) *gp += q[i] * (H - log2(w[i]));
    *dga = 1 / (N * M_LN2);
    *dgp = (1 / N - (q[2] > 0 ? q[2] / (q[2] * k + l) : 0)) / M_LN2;
}

int main(int argc, char **argv)
{
    (void)argc;
    double *comp = alim_oracle_zipf_components(3, 30);
    double q[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    alim_oracle_mix m = {3, 90, comp, q, 1, 2, 0};
    alim_oracle_point p;
    const double ks[] = {10, 100, 1000}, ls[] = {0, 0.001, 0.01, 0.02};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++) {
            double ga, gp, dga, dgp;
            closed(ks[a], ls[b], q, &ga, &gp, &dga, &dgp);
            CHECK(alim_oracle_mix_eval(&m, ks[a], ls[b], &p, NULL) == ALIM_OK, "eval");
            CHECK_ABS(p.gamma_a_bits, ga, 1e-10, "gamma_a closed form");
            CHECK_ABS(p.gamma_p_bits, gp, 1e-10, "gamma_p closed form");
            CHECK_REL(p.dgamma_a_dl, dga, 1e-9, "dgamma_a/dl = 1/(N ln 2)");
            CHECK(fabs(p.dgamma_p_dl - dgp) <= 1e-9 * fabs(dgp), "dgamma_p/dl closed form: %g vs %g", p.dgamma_p_dl, dgp);
            CHECK(fabs(p.dgamma_a_dl_fd / p.dgamma_a_dl - 1) < 1e-4, "fd = analytic (a)");
            CHECK(fabs(p.dgamma_p_dl_fd / p.dgamma_p_dl - 1) < 1e-4, "fd = analytic (p): %g vs %g", p.dgamma_p_dl_fd,
                  p.dgamma_p_dl);
            CHECK(p.dgamma_a_dl > 0 && p.dgamma_p_dl < 0, "signs (Thm 4.2)");
            if (ls[b] > 0) {
                CHECK(fabs(p.hooke - 1) < 0.05, "Hooke ratio within 5%% of 1 (%g)", p.hooke);
                CHECK(fabs(p.ratio / ks[a] - 1) <= 0.05 * (1 + 10 * ls[b]), "ratio near k");
            }
        }
    /* at T = 0: dgamma_p/dT = (1/ln2)(1/(P+A) - 1/P), the ratio is exactly k */
    alim_oracle_mix_eval(&m, 1000, 0, &p, NULL);
    CHECK_REL(p.dgamma_p_dl, (1 / 1001.0 - 1 / 1000.0) / M_LN2, 1e-9, "dgamma_p/dT at T = 0");
    CHECK_REL(p.ratio, 1000, 1e-9, "ratio -> k exactly as l -> 0");
    double q2[3] = {0.8, 0.1, 0.1};
    m.q = q2;
    alim_oracle_mix_eval(&m, 1000, 0, &p, NULL);
    CHECK_REL(p.ratio, 1000, 1e-9, "ratio -> k whatever q");

    /* the table of spec §1.6 (secant ratio from l = 0) */
    m.q = q;
    alim_oracle_mix_eval(&m, 100, 0.001, &p, NULL);
    CHECK_ABS(p.ratio_secant, 100.1, 0.05, "table: k=100, l=.001 -> 100.1");
    alim_oracle_mix_eval(&m, 1000, 0.001, &p, NULL);
    CHECK_ABS(p.ratio_secant, 1001, 0.5, "table: k=1000, l=.001 -> 1001");
    alim_oracle_mix_eval(&m, 1000, 0.02, &p, NULL);
    CHECK_ABS(p.ratio_secant, 1020.4385, 1e-3, "table: k=1000, l=.02 -> 1020.44 (spec prints 1021)");
    m.q = q2;
    alim_oracle_mix_eval(&m, 1000, 0.001, &p, NULL);
    CHECK_ABS(p.ratio_secant, 1004.5, 0.05, "table: q=(.8,.1,.1) -> 1004.5");
    m.q = q;
    m.smoothing = 1e-5;
    alim_oracle_mix_eval(&m, 1000, 0.001, &p, NULL);
    CHECK_ABS(p.ratio_secant, 1002, 0.5, "table: smoothing (1e-5 on probabilities) -> 1002");
    CHECK(fabs(p.dgamma_p_dl_fd / p.dgamma_p_dl - 1) < 1e-4, "smoothed: fd = analytic");
    m.smoothing = 0;

    /* novel component: perturbation absent from pretraining -> no rebound */
    double qn[3] = {0.5, 0.5, 0};
    m.q = qn;
    for (int b = 0; b < 3; b++) {
        alim_oracle_mix_eval(&m, 100, ls[b], &p, NULL);
        CHECK(p.dgamma_a_dl > 0 && p.dgamma_p_dl > 0, "novel: both derivatives > 0");
        CHECK_REL(p.dgamma_p_dl, 1 / ((101 + ls[b]) * M_LN2), 1e-9, "novel: dgamma_p/dl = 1/(N ln 2)");
    }
    m.q = q;

    /* errors */
    alim_error err;
    CHECK(alim_oracle_mix_eval(&m, 0, 0.01, &p, &err) == ALIM_EINVAL, "k = 0 rejected");
    CHECK(alim_oracle_mix_eval(&m, 10, -1, &p, &err) == ALIM_EINVAL, "l < 0 rejected");
    double qbad[3] = {0.5, 0.5, 0.5};
    m.q = qbad;
    CHECK(alim_oracle_mix_eval(&m, 10, 0.01, &p, &err) == ALIM_EINVAL, "shares must sum to 1");
    m.q = q;

    /* the Markov "O" learner on S */
    alim_source_config cfg;
    alim_source_config_default(&cfg);
    alim_source s;
    alim_source_build(&s, &cfg, NULL);
    for (int sm = 0; sm < 2; sm++) {
        alim_oracle_markov mk = {&s, q, 1, 2, 2000, sm ? 0.5 : 0};
        for (int a = 0; a < 3; a++) {
            alim_oracle_markov_eval(&mk, ks[a], 0.001, &p, NULL);
            CHECK(p.dgamma_a_dl > 0 && p.dgamma_p_dl < 0, "markov signs");
            CHECK(fabs(p.ratio / ks[a] - 1) < 0.05, "markov ratio near k (%g vs %g)", p.ratio, ks[a]);
            CHECK(fabs(p.dgamma_a_dl_fd / p.dgamma_a_dl - 1) < 1e-4, "markov fd = analytic (a)");
            CHECK(fabs(p.dgamma_p_dl_fd / p.dgamma_p_dl - 1) < 1e-4, "markov fd = analytic (p)");
            CHECK(fabs(p.hooke - 1) < 0.05, "markov Hooke");
            /* learner rates are above the true entropy (cross-entropy >= entropy) */
            CHECK(p.gamma_a_bits > 2.6197 + 6.0 / 128 - 1e-9, "gamma_a >= entropy per token");
        }
        mk.q = qn;
        alim_oracle_markov_eval(&mk, 100, 0.01, &p, NULL);
        CHECK(p.dgamma_a_dl > 0 && p.dgamma_p_dl > 0, "markov novel: both > 0");
    }
    /* without any perturbation data and k large, gamma_a of C2 -> C2's own rate only if C2 dominates;
       with only C2 data (q = (0,1,0)) the learner is exact: gamma_a = document entropy per token */
    double qa[3] = {0, 1, 0};
    alim_oracle_markov mk = {&s, qa, 1, 2, 2000, 0};
    alim_oracle_markov_eval(&mk, 10, 0, &p, NULL);
    alim_source_entropy e;
    alim_source_entropies(&s, &e, NULL);
    CHECK_ABS(p.gamma_a_bits, alim_bits(e.doc_nats[1]) / 128, 1e-9, "exact learner on its own chain = entropy");
    alim_source_free(&s);
    free(comp);
    return check_summary(argv[0]);
}
