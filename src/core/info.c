/* info.c — entropies and divergences in nats (see alim/info.h).
 * Sums of logs are done in log space where a naive product would underflow. */
#include "alim/info.h"

#include <float.h>
#include <math.h>

double alim_logsumexp(const double *x, size_t n)
{
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i])) return NAN;
        if (x[i] > m) m = x[i];
    }
    if (m == -INFINITY || m == INFINITY) return m;
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += exp(x[i] - m);
    return m + log(s);
}

alim_status alim_check_distribution(const double *p, size_t n, double tol, const char *where,
                                    alim_error *err)
{
    if (n == 0) return alim_error_set(err, ALIM_EINVAL, where, "empty distribution");
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(p[i]))
            return alim_error_set(err, ALIM_EINVAL, where, "entry %zu is not a finite number", i + 1);
        if (p[i] < 0.0)
            return alim_error_set(err, ALIM_EINVAL, where, "entry %zu is negative (%.17g)", i + 1, p[i]);
        s += p[i];
    }
    if (fabs(s - 1.0) > tol)
        return alim_error_set(err, ALIM_EINVAL, where,
                              "probabilities sum to %.17g, not 1 (tolerance %g)", s, tol);
    return ALIM_OK;
}

double alim_entropy(const double *p, size_t n)
{
    double h = 0.0;
    for (size_t i = 0; i < n; i++)
        if (p[i] > 0.0) h -= p[i] * log(p[i]);
    return h;
}

double alim_cross_entropy(const double *p, const double *q, size_t n)
{
    double h = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] <= 0.0) continue;
        if (q[i] <= 0.0) return INFINITY;
        h -= p[i] * log(q[i]);
    }
    return h;
}

double alim_kl(const double *p, const double *q, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] <= 0.0) continue;
        if (q[i] <= 0.0) return INFINITY;
        d += p[i] * log(p[i] / q[i]);
    }
    /* Rounding can leave a tiny negative value for p == q; KL is non-negative. */
    return d > 0.0 ? d : 0.0;
}

double alim_renyi_divergence(const double *p, const double *q, size_t n, double a)
{
    if (isnan(a) || a < 0.0) return NAN;
    if (a == 1.0) return alim_kl(p, q, n);
    if (isinf(a)) {
        double m = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            if (p[i] <= 0.0) continue;
            if (q[i] <= 0.0) return INFINITY;
            double r = log(p[i]) - log(q[i]);
            if (r > m) m = r;
        }
        return m;
    }
    /* log sum exp(a log p + (1-a) log q) over supp p (a > 0) or supp p ∩ supp q (a < 1). */
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (p[i] <= 0.0) continue;
        if (q[i] <= 0.0) {
            if (a > 1.0) return INFINITY;
            continue;
        }
        double t = (a == 0.0 ? 0.0 : a * log(p[i])) + (1.0 - a) * log(q[i]);
        if (t > m) m = t;
    }
    if (m == -INFINITY) return INFINITY; /* disjoint supports with a < 1 */
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] <= 0.0 || q[i] <= 0.0) continue;
        double t = (a == 0.0 ? 0.0 : a * log(p[i])) + (1.0 - a) * log(q[i]);
        s += exp(t - m);
    }
    double d = (m + log(s)) / (a - 1.0);
    return d > 0.0 ? d : 0.0;
}

double alim_renyi_entropy(const double *p, size_t n, double a)
{
    if (isnan(a) || a < 0.0) return NAN;
    if (a == 1.0) return alim_entropy(p, n);
    if (isinf(a)) {
        double m = 0.0;
        for (size_t i = 0; i < n; i++)
            if (p[i] > m) m = p[i];
        return -log(m);
    }
    if (a == 0.0) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (p[i] > 0.0) k++;
        return log((double)k);
    }
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (p[i] > 0.0 && a * log(p[i]) > m) m = a * log(p[i]);
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        if (p[i] > 0.0) s += exp(a * log(p[i]) - m);
    double h = (m + log(s)) / (1.0 - a);
    return h > 0.0 ? h : 0.0;
}

double alim_binary_entropy(double p)
{
    if (!(p >= 0.0 && p <= 1.0)) return NAN;
    if (p == 0.0 || p == 1.0) return 0.0;
    /* log1p keeps the (1-p) term accurate for small p. */
    return -p * log(p) - (1.0 - p) * log1p(-p);
}

double alim_binary_entropy_inverse(double h)
{
    if (isnan(h)) return NAN;
    if (h <= 0.0) return 0.0;
    if (h >= ALIM_LN2) return 0.5;
    /* h is increasing on [0, 1/2]: bisection is safe; the Newton polish uses
     * h'(p) = log((1-p)/p) > 0 on (0, 1/2). */
    double lo = 0.0, hi = 0.5;
    while (hi - lo > 4.0 * DBL_EPSILON * hi) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (alim_binary_entropy(mid) < h) lo = mid;
        else hi = mid;
    }
    double p = 0.5 * (lo + hi);
    for (int k = 0; k < 2; k++) {
        double d = log1p(-p) - log(p);
        if (!(d > 0.0)) break;
        double np = p - (alim_binary_entropy(p) - h) / d;
        if (np > lo && np < hi) p = np;
    }
    return p;
}

double alim_kl_bernoulli(double q, double p)
{
    if (!(q >= 0.0 && q <= 1.0 && p >= 0.0 && p <= 1.0)) return NAN;
    double d = 0.0;
    if (q > 0.0) {
        if (p == 0.0) return INFINITY;
        d += q * log(q / p);
    }
    if (q < 1.0) {
        if (p == 1.0) return INFINITY;
        d += (1.0 - q) * (log1p(-q) - log1p(-p));
    }
    return d > 0.0 ? d : 0.0;
}
