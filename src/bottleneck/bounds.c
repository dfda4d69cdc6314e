/* bounds.c — Fano lower bounds, kl inverses, xi(m) and PAC-Bayes upper bounds (see alim/bounds.h). */
#include "alim/bounds.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "alim/info.h"

/* log(M - 1) from log M without forming M: log M + log1p(-1/M). */
static double log_m_minus_1(double log_m) { return log_m + log1p(-exp(-log_m)); }

double alim_fano_phi(double p, double log_m) { return alim_binary_entropy(p) + p * log_m_minus_1(log_m); }

double alim_fano_weak(double log_m, double info)
{
    if (!(log_m > 0.0) || !(info >= 0.0)) return NAN;
    double b = 1.0 - (info + ALIM_LN2) / log_m;
    return b > 0.0 ? b : 0.0;
}

double alim_fano_strong(double log_m, double info)
{
    if (!(log_m > 0.0) || !(info >= 0.0)) return NAN;
    double t = log_m - info;
    if (t <= 0.0) return 0.0;
    /* the top of the range: 1 - 1/M, computed as -expm1(-log M) for huge M */
    double top = -expm1(-log_m);
    if (isinf(log_m)) return 1.0;
    if (t >= log_m) return top;
    double lm1 = log_m_minus_1(log_m);
    double lo = 0.0, hi = top;
    while (hi - lo > 4.0 * DBL_EPSILON * hi) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (alim_binary_entropy(mid) + mid * lm1 < t) lo = mid;
        else hi = mid;
    }
    double p = 0.5 * (lo + hi);
    /* one Newton polish inside the bracket: phi'(p) = log((1-p)/p) + log(M-1) */
    double d = log1p(-p) - log(p) + lm1;
    if (d > 0.0) {
        double np = p - (alim_binary_entropy(p) + p * lm1 - t) / d;
        if (np >= lo && np <= hi) p = np;
    }
    return p;
}

double alim_fano_required_weak(double log_m, double eps)
{
    if (!(log_m > 0.0) || !(eps >= 0.0 && eps <= 1.0)) return NAN;
    double c = (1.0 - eps) * log_m - ALIM_LN2;
    return c > 0.0 ? c : 0.0;
}

double alim_fano_required_strong(double log_m, double eps)
{
    if (!(log_m > 0.0) || !(eps >= 0.0 && eps <= 1.0)) return NAN;
    if (eps >= -expm1(-log_m)) return 0.0;
    double c = log_m - alim_binary_entropy(eps) - eps * log_m_minus_1(log_m);
    return c > 0.0 ? c : 0.0;
}

double alim_kl_inverse_upper(double q, double c)
{
    if (!(q >= 0.0 && q <= 1.0) || isnan(c)) return NAN;
    if (c <= 0.0) return q;
    if (q >= 1.0) return 1.0;
    if (q == 0.0) return -expm1(-c); /* kl(0||p) = -log(1-p) */
    /* f(p) = kl(q||p) - c is increasing on [q, 1) */
    double lo = q, hi = 1.0;
    while (hi - lo > 4.0 * DBL_EPSILON) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (alim_kl_bernoulli(q, mid) <= c) lo = mid;
        else hi = mid;
    }
    return lo; /* the largest p known to satisfy kl(q||p) <= c */
}

double alim_kl_inverse_lower(double q, double c)
{
    if (!(q >= 0.0 && q <= 1.0) || isnan(c)) return NAN;
    if (c <= 0.0) return q;
    if (q <= 0.0) return 0.0;
    if (q == 1.0) return exp(-c); /* kl(1||p) = -log p */
    double lo = 0.0, hi = q;
    while (hi - lo > 4.0 * DBL_EPSILON) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (alim_kl_bernoulli(q, mid) <= c) hi = mid;
        else lo = mid;
    }
    return hi; /* the smallest p known to satisfy kl(q||p) <= c */
}

double alim_pacbayes_log_xi(double m)
{
    if (!(m >= 1.0) || m != floor(m)) return NAN;
    if (m > 1e7) return log(2.0) + 0.5 * log(m);
    const long n = (long)m;
    const double lgm = lgamma(m + 1.0);
    /* log-sum-exp over k of log C(m,k) + k log(k/m) + (m-k) log(1-k/m) */
    double mx = -INFINITY, s = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        for (long k = 0; k <= n; k++) {
            double kk = (double)k;
            double t = lgm - lgamma(kk + 1.0) - lgamma(m - kk + 1.0);
            if (k > 0) t += kk * log(kk / m);
            if (k < n) t += (m - kk) * log1p(-kk / m);
            if (pass == 0) {
                if (t > mx) mx = t;
            } else {
                s += exp(t - mx);
            }
        }
    }
    return mx + log(s);
}

double alim_pacbayes_xi(double m) { return exp(alim_pacbayes_log_xi(m)); }

static double clamp01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

double alim_pacbayes_bound(alim_pacbayes_form form, double r, double kl, double m, double delta, double cc)
{
    if (!(r >= 0.0 && r <= 1.0) || !(kl >= 0.0) || !(m >= 1.0) || !(delta > 0.0 && delta < 1.0)) return NAN;
    switch (form) {
    case ALIM_PB_KL_XI:
        return alim_kl_inverse_upper(r, (kl + alim_pacbayes_log_xi(floor(m)) - log(delta)) / m);
    case ALIM_PB_KL_2SQRTM:
        return alim_kl_inverse_upper(r, (kl + log(2.0 * sqrt(m) / delta)) / m);
    case ALIM_PB_PINSKER:
        return clamp01(r + sqrt((kl + log(2.0 * sqrt(m) / delta)) / (2.0 * m)));
    case ALIM_PB_CATONI:
        if (!(cc > 0.0)) return NAN;
        return clamp01(-expm1(-cc * r - (kl - log(delta)) / m) / -expm1(-cc));
    }
    return NAN;
}

static const char *const pb_names[] = {"kl-xi", "kl-2sqrtm", "pinsker", "catoni"};

const char *alim_pacbayes_form_name(alim_pacbayes_form form)
{
    return (unsigned)form < 4 ? pb_names[form] : "unknown";
}

int alim_pacbayes_form_parse(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, pb_names[i])) return i;
    return -1;
}
