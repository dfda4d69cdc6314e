/* test_elastic_coefficient.c — E4's fit (slope through the origin, E_hat, bootstrap interval,
 * Hooke ratio), the oracle's E_hat against the closed form, and the lab's Spearman rho. */
#include <math.h>
#include <stdlib.h>

#include "alim/coefficient.h"
#include "alim/lab.h"
#include "check.h"

/* closed form of spec §1.6, A = 1: Delta gamma_a and Delta gamma_p in bits at (k, l) */
static void closed_delta(const double *q, double k, double l, double *da, double *dp)
{
    const double N0 = k + 1, N = k + 1 + l;
    const double w0[3] = {q[0] * k / N0, (q[1] * k + 1) / N0, q[2] * k / N0};
    const double w[3] = {q[0] * k / N, (q[1] * k + 1) / N, (q[2] * k + l) / N};
    *da = -log2(w[1]) + log2(w0[1]);
    *dp = 0;
    for (int i = 0; i < 3; i++) *dp += q[i] * (-log2(w[i]) + log2(w0[i]));
}

int main(int argc, char **argv)
{
    (void)argc;
    alim_error err;
    alim_error_clear(&err);

    /* slope through the origin: sum xy / sum x^2 */
    const double x[3] = {1, 2, 3}, y[3] = {2, 4.5, 5.5};
    CHECK_ABS(alim_coefficient_slope0(x, y, 3), (2 + 9 + 16.5) / 14.0, 1e-15, "slope0");
    const double z[2] = {0, 0};
    CHECK(isnan(alim_coefficient_slope0(z, y, 2)), "slope0 of x = 0 is NAN");

    /* exact lines: dgp = -0.1 l, dga = 0.7 l for every seed -> E_hat = 7 with a zero-width interval */
    {
        const double l[3] = {0.01, 0.02, 0.05};
        double dgp[9], dga[9];
        for (int s = 0; s < 3; s++)
            for (int j = 0; j < 3; j++) dgp[s * 3 + j] = -0.1 * l[j], dga[s * 3 + j] = 0.7 * l[j];
        alim_coefficient_estimate e;
        CHECK(alim_coefficient_fit(l, 3, dgp, dga, 3, 10, 500, 1, &e, &err) == ALIM_OK, "fit ok");
        CHECK_REL(e.e_hat, 7, 1e-12, "E_hat of exact lines");
        CHECK_REL(e.slope_p, -0.1, 1e-12, "slope_p");
        CHECK_REL(e.slope_a, 0.7, 1e-12, "slope_a");
        CHECK_REL(e.e_lo, 7, 1e-12, "interval low of identical seeds");
        CHECK_REL(e.e_hi, 7, 1e-12, "interval high of identical seeds");
        CHECK_REL(e.hooke_fit, 0.7, 1e-12, "E_hat / k");
        CHECK_REL(e.hooke[1], 0.7, 1e-12, "Hooke per l");
        CHECK(e.signs_ok, "signs");
        CHECK(e.dgamma_p_se[0] == 0, "SE of identical seeds is 0");
    }
    /* seeds that differ: the point estimate is the fit on the seed means, the interval
     * brackets it and lies within the per-seed extremes (every resample is a mix of seeds) */
    {
        const double l[2] = {0.1, 0.2};
        const double dgp[6] = {-0.01, -0.02, -0.02, -0.04, -0.015, -0.03};
        const double dga[6] = {0.05, 0.10, 0.04, 0.08, 0.09, 0.18};
        alim_coefficient_estimate e;
        CHECK(alim_coefficient_fit(l, 2, dgp, dga, 3, 5, 4000, 7, &e, &err) == ALIM_OK, "fit ok");
        /* seed means: dgp = (-0.015, -0.03), dga = (0.06, 0.12) -> E_hat = 4 */
        CHECK_REL(e.e_hat, 4, 1e-12, "E_hat of the seed means");
        CHECK(e.e_lo <= e.e_hat && e.e_hat <= e.e_hi, "interval brackets E_hat: [%g, %g]", e.e_lo, e.e_hi);
        CHECK(e.e_lo >= 2 - 1e-12 && e.e_hi <= 6 + 1e-12, "interval within the per-seed E_hat (5, 2, 6): [%g, %g]", e.e_lo, e.e_hi);
        CHECK(e.e_lo < e.e_hi, "a non-degenerate interval");
        alim_coefficient_estimate e2;
        alim_coefficient_fit(l, 2, dgp, dga, 3, 5, 4000, 7, &e2, &err);
        CHECK(e2.e_lo == e.e_lo && e2.e_hi == e.e_hi, "bootstrap deterministic for a seed");
        CHECK_ABS(e.dgamma_a_se[0], sqrt(((0.05 - 0.06) * (0.05 - 0.06) + (0.04 - 0.06) * (0.04 - 0.06) + (0.09 - 0.06) * (0.09 - 0.06)) / 2 / 3), 1e-15,
                  "SE of dgamma_a");
        alim_coefficient_estimate one;
        CHECK(alim_coefficient_fit(l, 2, dgp, dga, 1, 5, 1000, 1, &one, &err) == ALIM_OK, "one seed");
        CHECK_REL(one.e_hat, 5, 1e-12, "E_hat of seed 1");
        CHECK(isnan(one.e_lo) && isnan(one.e_hi), "no interval with one seed");
    }
    /* wrong signs are reported, not hidden */
    {
        const double l[1] = {0.1}, dgp[1] = {0.01}, dga[1] = {0.02};
        alim_coefficient_estimate e;
        alim_coefficient_fit(l, 1, dgp, dga, 1, 5, 0, 1, &e, &err);
        CHECK(!e.signs_ok && e.e_hat < 0, "gamma_p rising: signs not ok, E_hat < 0");
    }
    /* errors */
    {
        const double l[2] = {0.1, -0.2}, d[2] = {0, 0}, bad[2] = {NAN, 0};
        alim_coefficient_estimate e;
        CHECK(alim_coefficient_fit(l, 2, d, d, 1, 5, 0, 1, &e, &err) == ALIM_EINVAL, "l <= 0 refused");
        CHECK(alim_coefficient_fit(l, 1, bad, d, 1, 5, 0, 1, &e, &err) == ALIM_EINVAL, "NaN refused");
        CHECK(alim_coefficient_fit(l, 1, d, d, 1, 0, 0, 1, &e, &err) == ALIM_EINVAL, "k = 0 refused");
        CHECK(alim_coefficient_fit(l, 0, d, d, 1, 5, 0, 1, &e, &err) == ALIM_EINVAL, "no l refused");
    }

    /* the oracle's E_hat against the closed form, and -> k as l -> 0 */
    {
        const double q[3] = {0.9, 0.05, 0.05};
        const double ks[3] = {7.75, 77.5, 1000}, l[3] = {0.01, 0.02, 0.05};
        for (int a = 0; a < 3; a++) {
            double da[3], dp[3], e;
            for (int j = 0; j < 3; j++) closed_delta(q, ks[a], l[j], &da[j], &dp[j]);
            const double want = -alim_coefficient_slope0(l, da, 3) / alim_coefficient_slope0(l, dp, 3);
            CHECK(alim_coefficient_oracle(q, ks[a], l, 3, &e, &err) == ALIM_OK, "oracle ok");
            CHECK_REL(e, want, 1e-9, "oracle E_hat = closed form");
        }
        const double tiny[2] = {1e-6, 2e-6}, qe[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
        double e;
        alim_coefficient_oracle(qe, 100, tiny, 2, &e, &err);
        CHECK_REL(e, 100, 1e-3, "oracle E_hat -> k as l -> 0");
        const double qn[3] = {0.95, 0.05, 0};
        CHECK(alim_coefficient_oracle(qn, 10, l, 3, &e, &err) != ALIM_OK || !(e > 0), "novel C3: no positive E_hat");
    }

    /* Spearman rho: known values, ties as mean ranks (values from scipy.stats.spearmanr) */
    {
        const double a[5] = {1, 2, 3, 4, 5}, b[5] = {5, 6, 7, 8, 7};
        CHECK_ABS(alim_lab_spearman(a, b, 5), 0.8207826816681233, 1e-12, "rho with a tie");
        const double c[5] = {2, 1, 4, 3, 5};
        CHECK_ABS(alim_lab_spearman(a, c, 5), 0.8, 1e-12, "rho without ties");
        const double d[4] = {0, 0, 1, 1}, f[4] = {3, 1, 2, 0};
        CHECK_ABS(alim_lab_spearman(d, f, 4), -0.4472135954999579, 1e-12, "rho with tied levels");
        const double g[3] = {1, 1, 1};
        CHECK(isnan(alim_lab_spearman(a, g, 3)), "constant side: NAN");
        CHECK(isnan(alim_lab_spearman(a, b, 1)), "n = 1: NAN");
    }
    return check_summary(argv[0]);
}
