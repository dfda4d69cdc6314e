/* passk.c — pass@k for binary rewards (see alim/bonfam.h): the exact value 1 - (1-theta)^k
 * and the unbiased estimator 1 - C(n-c,k)/C(n,k) from n samples with c successes, with its
 * exact and unbiased variances. */
#include <math.h>
#include <stdint.h>

#include "alim/bonfam.h"

/* ---- pass@k --------------------------------------------------------------------------------- */

double alim_pass_at_k(double theta, double k)
{
    if (!(theta >= 0 && theta <= 1) || !(k >= 0)) return NAN;
    if (theta == 1) return k > 0 ? 1.0 : 0.0;
    return -expm1(k * log1p(-theta));
}

/* log C(n-c, k)/C(n, k) = sum_{i<k} log1p(-c/(n-i)); -inf when n - c < k */
static double log_ratio(uint64_t n, uint64_t c, uint64_t k)
{
    if (n - c < k) return -INFINITY;
    if (c == 0) return 0.0;
    if (k > 10000000) /* lgamma differences: relative accuracy ~1e-16 n log n, still ~1e-8 at 10^8 */
        return lgamma((double)(n - c) + 1) - lgamma((double)(n - c - k) + 1) - lgamma((double)n + 1) +
               lgamma((double)(n - k) + 1);
    double s = 0;
    for (uint64_t i = 0; i < k; i++) s += log1p(-(double)c / (double)(n - i));
    return s;
}

double alim_pass_at_k_estimator_var(uint64_t n, uint64_t k, double theta)
{
    if (!(theta > 0 && theta < 1) || k == 0 || k > n) return 0.0;
    const double nn = (double)n, sd = sqrt(nn * theta * (1 - theta));
    const double mode = floor((nn + 1) * theta);
    double c0 = floor(mode - 40 * sd - 60), c1 = ceil(mode + 40 * sd + 60);
    if (c0 < 0) c0 = 0;
    if (c1 > nn) c1 = nn;
    const double m = exp((double)k * log1p(-theta)); /* E V = (1 - theta)^k */
    /* binomial weights by recurrence from c0 (renormalised over the window, which holds all but
     * e^-800 of the mass), V(c) by recurrence from log_ratio(c0) */
    const double lodds = log(theta) - log1p(-theta);
    double lb = 0, sb = 0, s = 0;
    double lv = log_ratio(n, (uint64_t)c0, k);
    /* first pass: the log-weights' maximum, to scale */
    double lbmax = -INFINITY, t = 0;
    for (double c = c0; c <= c1; c++) {
        if (t > lbmax) lbmax = t;
        t += log((nn - c) / (c + 1)) + lodds;
    }
    lb = -lbmax;
    for (double c = c0; c <= c1; c++) {
        const double b = exp(lb), V = exp(lv);
        sb += b;
        s += b * (V - m) * (V - m);
        lb += log((nn - c) / (c + 1)) + lodds;
        if (lv > -INFINITY) lv = nn - c - (double)k >= 1 ? lv + log1p(-(double)k / (nn - c)) : -INFINITY;
    }
    return s / sb;
}

alim_status alim_pass_at_k_estimate(uint64_t n, uint64_t c, uint64_t k, alim_passk_result *out, alim_error *err)
{
    if (n == 0) return alim_error_set(err, ALIM_EINVAL, "n", "n must be >= 1");
    if (c > n) return alim_error_set(err, ALIM_EINVAL, "c", "c = %llu exceeds n = %llu", (unsigned long long)c,
                                     (unsigned long long)n);
    if (k < 1 || k > n)
        return alim_error_set(err, ALIM_EINVAL, "k", "k must be in [1, n] (got %llu, n = %llu)", (unsigned long long)k,
                              (unsigned long long)n);
    const double lv = log_ratio(n, c, k);
    out->estimate = -expm1(lv);
    out->var_plugin = alim_pass_at_k_estimator_var(n, k, (double)c / (double)n);
    out->std_error = sqrt(out->var_plugin);
    if (2 * k <= n) {
        const double V = exp(lv), V2 = exp(log_ratio(n, c, 2 * k));
        out->var_unbiased = V * V - V2;
    } else out->var_unbiased = NAN;
    return ALIM_OK;
}
