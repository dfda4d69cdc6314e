/* residual.c — exact I(W;D), I(W;U^m) and rho for the majority-vote proxy learner. */
#include "alim/residual.h"

#include <math.h>
#include <stdlib.h>

#include "alim/info.h"

/* log of the binomial pmf C(n,k) a^k (1-a)^(n-k) */
static double log_binom_pmf(unsigned n, unsigned k, double a)
{
    double t = lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0);
    if (k) t += k * log(a);
    if (n - k) t += (n - k) * log1p(-a);
    return t;
}

alim_status alim_residual_majority(unsigned m, double p1, double p2, alim_residual *out, alim_error *err)
{
    if (m == 0 || m % 2 == 0) return alim_error_set(err, ALIM_EINVAL, "m", "the majority learner needs an odd m (got %u)", m);
    if (m > 100000) return alim_error_set(err, ALIM_EINVAL, "m", "m = %u is above the limit 100000", m);
    if (!(p1 >= 0 && p1 <= 1 && p2 >= 0 && p2 <= 1))
        return alim_error_set(err, ALIM_EINVAL, "p", "flip probabilities must lie in [0, 1]");
    const double e = p1 + p2 - 2.0 * p1 * p2; /* BSC(p1) then BSC(p2) is BSC(e) */
    /* pmfs of A ~ Bin(k, 1-e) (ones that stay ones) and B ~ Bin(m-k, e) (zeros flipped) */
    double *pa = malloc((m + 1) * sizeof *pa), *pb = malloc((m + 1) * sizeof *pb);
    if (!pa || !pb) {
        free(pa);
        free(pb);
        return alim_error_set(err, ALIM_ENOMEM, "residual", "out of memory");
    }
    double h_w_given_u = 0.0;
    for (unsigned k = 0; k <= m; k++) {
        for (unsigned i = 0; i <= k; i++) pa[i] = (e == 0.0 || e == 1.0) ? (i == (e == 0.0 ? k : 0)) : exp(log_binom_pmf(k, i, 1.0 - e));
        for (unsigned i = 0; i <= m - k; i++) pb[i] = (e == 0.0 || e == 1.0) ? (i == (e == 0.0 ? 0 : m - k)) : exp(log_binom_pmf(m - k, i, e));
        /* P(A + B > m/2) */
        double p1w = 0.0;
        for (unsigned i = 0; i <= k; i++) {
            double tail = 0.0;
            for (unsigned j = 0; j <= m - k; j++)
                if (2 * (i + j) > m) tail += pb[j];
            p1w += pa[i] * tail;
        }
        if (p1w > 1.0) p1w = 1.0;
        double w = exp(lgamma(m + 1.0) - lgamma(k + 1.0) - lgamma(m - k + 1.0) - m * ALIM_LN2);
        h_w_given_u += w * alim_binary_entropy(p1w);
    }
    free(pa);
    free(pb);
    /* P(W = 1) = 1/2 by symmetry, so I(W;D) = H(W) = log 2 */
    out->i_wd = ALIM_LN2;
    out->rho = h_w_given_u; /* I(W;D|U^m) = H(W|U^m) - H(W|D,U^m) = H(W|U^m) */
    out->i_wu = ALIM_LN2 - h_w_given_u;
    out->cap_info = m * (ALIM_LN2 - alim_binary_entropy(e));
    out->cap_tot = m * (ALIM_LN2 - alim_binary_entropy(fmin(fabs(0.5 - p1), fabs(0.5 - p2)) == fabs(0.5 - p1) ? p1 : p2));
    return ALIM_OK;
}
