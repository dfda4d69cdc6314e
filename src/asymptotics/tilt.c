/* tilt.c — exponential tilts, the KL-RL optimum and rate functions (see alim/tilt.h). */
#include "alim/tilt.h"

#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "alim/rng.h"

#define PAR_MIN 200000 /* outcomes above which passes run on all OpenMP threads */

/* Internal evaluation: besides the public point, the shift c and L_c = Lambda(l) - l c used
 * to write phi_l(y) = p(y) exp(l (r(y) - c) - L_c) without cancellation. */
typedef struct {
    double c, lc;
} shift;

static void eval_inf(const alim_rdist *d, double lambda, alim_tilt_point *o, shift *sh)
{
    int top = lambda > 0;
    double rv = top ? d->r_max : d->r_min, pv = top ? d->p_top : d->p_bottom;
    o->lambda = lambda;
    o->log_partition = rv == 0.0 ? log(pv) : (top ? (rv > 0 ? INFINITY : -INFINITY) : (rv < 0 ? INFINITY : -INFINITY));
    o->mean = rv;
    o->var = 0.0;
    o->cumulant3 = 0.0;
    o->kl_nats = pv < 1 ? -log(pv) : 0.0;
    o->kl_gap_nats = 0.0;
    o->mean_gap = 0.0;
    if (sh) sh->c = rv, sh->lc = log(pv);
}

static void eval_series(const alim_rdist *d, double l, alim_tilt_point *o, shift *sh)
{
    const double *k = d->kappa, mu = d->mean;
    double l2 = l * l, l3 = l2 * l, l4 = l3 * l, l5 = l4 * l, l6 = l5 * l;
    double lc = k[2] * l2 / 2 + k[3] * l3 / 6 + k[4] * l4 / 24 + k[5] * l5 / 120 + k[6] * l6 / 720;
    o->lambda = l;
    o->log_partition = mu * l + lc;
    o->mean = mu + k[2] * l + k[3] * l2 / 2 + k[4] * l3 / 6 + k[5] * l4 / 24 + k[6] * l5 / 120;
    o->var = k[2] + k[3] * l + k[4] * l2 / 2 + k[5] * l3 / 6 + k[6] * l4 / 24;
    if (o->var < 0) o->var = 0;
    o->cumulant3 = k[3] + k[4] * l + k[5] * l2 / 2 + k[6] * l3 / 6;
    double K = k[2] * l2 / 2 + 2 * k[3] * l3 / 6 + 3 * k[4] * l4 / 24 + 4 * k[5] * l5 / 120 + 5 * k[6] * l6 / 720;
    o->kl_nats = K > 0 ? K : 0;
    if (sh) sh->c = mu, sh->lc = lc;
}

/* |l| (max |r - mean|) <= 2: centred expm1/log1p sums. */
static void eval_centred(const alim_rdist *d, double l, alim_tilt_point *o, shift *sh)
{
    const double *p = d->p, *r = d->r, mu = d->mean;
    const size_t n = d->n;
    double s0m1 = 0, a = 0, b = 0, s2 = 0, s3 = 0;
#pragma omp parallel for reduction(+ : s0m1, a, b, s2, s3) if (n > PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        double pi = p[i];
        if (!(pi > 0.0)) continue;
        double x = r[i] - mu, e = expm1(l * x), w2 = pi * x * x * (1.0 + e);
        s0m1 += pi * e;
        a += pi * x;
        b += pi * x * e;
        s2 += w2;
        s3 += w2 * x;
    }
    double s0 = 1.0 + s0m1, lc = log1p(s0m1), s1 = a + b, m1 = s1 / s0, m2 = s2 / s0;
    o->lambda = l;
    o->log_partition = l * mu + lc;
    o->mean = mu + m1;
    o->var = m2 - m1 * m1;
    if (o->var < 0) o->var = 0;
    o->cumulant3 = s3 / s0 - 3 * m1 * m2 + 2 * m1 * m1 * m1;
    double K = l * m1 - lc;
    o->kl_nats = K > 0 ? K : 0;
    if (sh) sh->c = mu, sh->lc = lc;
}

/* Shift by r_max (l > 0) or r_min (l < 0); the outcomes at that end are split off so
 * that K(inf) - K(l) = log1p(T/p_end) - l D is computed without cancellation. */
static void eval_shifted(const alim_rdist *d, double l, alim_tilt_point *o, shift *sh)
{
    const double *p = d->p, *r = d->r;
    const size_t n = d->n;
    const int top = l > 0;
    const double c = top ? d->r_max : d->r_min, pend = top ? d->p_top : d->p_bottom;
    /* The sums are taken relative to p_end (scaled by e^{L0}, L0 = -log p_end capped at 700),
     * so that p e^{l (r - c)} does not sink into subnormals when p_end is tiny and l large. */
    const double L0 = fmin(-log(pend), 700.0), pe = exp(log(pend) + L0);
    double T = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp parallel for reduction(+ : T, s1, s2, s3) if (n > PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) {
        double pi = p[i];
        if (!(pi > 0.0) || r[i] == c) continue;
        double x = r[i] - c, w = pi * exp(l * x + L0), wx = w * x, wxx = wx * x;
        T += w;
        s1 += wx;
        s2 += wxx;
        s3 += wxx * x;
    }
    /* l1 = log1p(T/p_end), also when T/p_end overflows */
    const double l1 = T <= pe ? log1p(T / pe) : log(T) - log(pe) + log1p(pe / T);
    double s0 = pe + T, lc = log(pend) + l1, D = s1 / s0;
    o->lambda = l;
    o->log_partition = l * c + lc;
    o->mean = c + D;
    o->var = s2 / s0 - D * D;
    if (o->var < 0) o->var = 0;
    o->cumulant3 = s3 / s0 - 3 * D * (s2 / s0) + 2 * D * D * D;
    double K = l * D - lc;
    o->kl_nats = K > 0 ? K : 0;
    double g = l1 - l * D;
    o->kl_gap_nats = g > 0 ? g : 0;
    o->mean_gap = fabs(D);
    if (sh) sh->c = c, sh->lc = lc;
}

static void eval_internal(const alim_rdist *d, double l, alim_tilt_point *o, shift *sh)
{
    if (isnan(l)) {
        o->lambda = o->log_partition = o->mean = o->var = o->cumulant3 = o->kl_nats = o->kl_gap_nats = o->mean_gap = NAN;
        if (sh) sh->c = sh->lc = NAN;
        return;
    }
    if (isinf(l)) {
        eval_inf(d, l, o, sh);
        return;
    }
    double range = d->r_max - d->r_min;
    if (fabs(l) * range < 1e-3) eval_series(d, l, o, sh);
    else if (fabs(l) * d->max_dev <= 2.0) eval_centred(d, l, o, sh);
    else {
        eval_shifted(d, l, o, sh);
        return;
    }
    double kinf = l >= 0 ? -log(d->p_top) : -log(d->p_bottom);
    o->kl_gap_nats = kinf - o->kl_nats > 0 ? kinf - o->kl_nats : 0;
    o->mean_gap = l >= 0 ? d->r_max - o->mean : o->mean - d->r_min;
    if (o->mean_gap < 0) o->mean_gap = 0;
}

void alim_tilt_eval(const alim_rdist *d, double lambda, alim_tilt_point *out)
{
    eval_internal(d, lambda, out, NULL);
}

double alim_tilt_kl_max(const alim_rdist *d)
{
    double k = -log(d->p_top);
    return k > 0 ? k : 0.0; /* no -0 when p(A) = 1 */
}

alim_status alim_tilt_solve_kl(const alim_rdist *d, double kl, alim_tilt_solution *out, alim_error *err)
{
    out->saturated = 0;
    out->iterations = 0;
    if (isnan(kl) || kl < 0)
        return alim_error_set(err, ALIM_EINVAL, "kl", "KL budget must be >= 0 (got %g)", kl);
    const double kinf = alim_tilt_kl_max(d);
    if (kl == 0) {
        alim_tilt_eval(d, 0.0, &out->pt);
        return ALIM_OK;
    }
    if (d->r_max == d->r_min || kl >= kinf * (1.0 - 1e-12)) {
        out->saturated = 1;
        alim_tilt_eval(d, INFINITY, &out->pt);
        return ALIM_OK;
    }
    /* Residual f(l), increasing in l:
     *   near 0:          f = log K(l) - log kl,            f' = l K''... = l Lambda''/K
     *   near saturation: f = log g* - log(K(inf) - K(l)),  f' = l Lambda''/(K(inf) - K) */
    const int near_top = kl > 0.5 * kinf;
    const double target = near_top ? kinf - kl : kl;
    alim_tilt_point pt;
    /* f' = l Lambda''/den; f'' = (Lambda'' + l Lambda''')/den -+ f'^2 (- near 0, + near the top) */
    double f2 = 0;
#define RESID(x, fv, dfv)                                                                          \
    do {                                                                                           \
        alim_tilt_eval(d, (x), &pt);                                                               \
        double den_ = near_top ? pt.kl_gap_nats : pt.kl_nats;                                       \
        (fv) = near_top ? log(target) - log(den_) : log(den_) - log(target);                       \
        (dfv) = (x) * pt.var / den_;                                                               \
        f2 = (pt.var + (x) * pt.cumulant3) / den_ + (near_top ? 1.0 : -1.0) * (dfv) * (dfv);       \
    } while (0)
    double x = near_top ? 1.0 / (d->r_max - d->r_min) : sqrt(2.0 * kl / d->kappa[2]);
    if (!(x > 0) || !isfinite(x)) x = 1.0 / (d->r_max - d->r_min);
    const double cap = 1e6 / (d->gap_top < INFINITY ? d->gap_top : (d->r_max - d->r_min));
    double f = 0, df, lo = 0, hi = INFINITY;
    int it = 0;
    /* Newton from the start with the bracket [lo, hi] learned on the way (no separate
     * bracketing phase: one pass over the outcomes per step). Once a Newton step is below
     * 1e-10 x, quadratic convergence has put x within ~1e-18 of the root; one last
     * evaluation there gives the reported point. */
    for (; it < 500; it++) {
        RESID(x, f, df);
        if (f == 0) break;
        if (f > 0) hi = x;
        else lo = x;
        if (lo > cap) { /* K(cap) is still below the budget: within ~1e-15 of K(inf) */
            out->saturated = 1;
            out->iterations = it + 1;
            alim_tilt_eval(d, INFINITY, &out->pt);
            return ALIM_OK;
        }
        /* Halley's step (cubic convergence) when its correction is moderate, else Newton's */
        double nx = x - f / df, hd = 2 * df * df - f * f2;
        if (isfinite(f2) && fabs(f * f2) < df * df && hd > 0) nx = x - 2 * f * df / hd;
        int newton = 1;
        if (!(nx > lo && nx < hi) || !isfinite(nx)) {
            newton = 0;
            if (hi == INFINITY) nx = 4 * lo;
            else if (lo == 0) nx = hi / 4;
            else nx = hi > 4 * lo ? sqrt(lo * hi) : 0.5 * (lo + hi);
        }
        if ((newton && fabs(nx - x) <= 1e-10 * x) || (hi < INFINITY && hi - lo <= 4 * DBL_EPSILON * hi)) {
            x = nx;
            RESID(x, f, df);
            it++;
            break;
        }
        x = nx;
    }
#undef RESID
    out->iterations = it;
    out->pt = pt;
    if (it >= 500 && fabs(f) > 1e-9)
        /* not "--kl": best-of-N, seq and frontier solve for budgets the user never typed */
        return alim_error_set(err, ALIM_ENOCONV, "tilt", "the lambda solver did not converge for a KL budget of %g nats (K - budget = %g)",
                              kl, pt.kl_nats - kl);
    return ALIM_OK;
}

void alim_tilt_policy(const alim_rdist *d, double lambda, double *phi)
{
    const size_t n = d->n;
    if (isinf(lambda)) {
        int top = lambda > 0;
        double rv = top ? d->r_max : d->r_min, pv = top ? d->p_top : d->p_bottom;
        for (size_t i = 0; i < n; i++) phi[i] = (d->p[i] > 0 && d->r[i] == rv) ? d->p[i] / pv : 0.0;
        return;
    }
    alim_tilt_point pt;
    shift sh;
    eval_internal(d, lambda, &pt, &sh);
    const double *p = d->p, *r = d->r;
#pragma omp parallel for if (n > PAR_MIN) schedule(static)
    for (size_t i = 0; i < n; i++) phi[i] = p[i] > 0 ? p[i] * exp(lambda * (r[i] - sh.c) - sh.lc) : 0.0;
}

double alim_tilt_kl_from(const alim_tilt_point *pt, double kl_phi_p, double mean_phi)
{
    if (isinf(pt->lambda)) {
        if (pt->lambda > 0 ? mean_phi < pt->mean : mean_phi > pt->mean) return INFINITY;
        double v = kl_phi_p - pt->kl_nats;
        return v > 0 ? v : 0;
    }
    double v = (kl_phi_p - pt->kl_nats) + pt->lambda * (pt->mean - mean_phi);
    return v > 0 ? v : 0;
}

alim_status alim_tilt_solve_mean(const alim_rdist *d, double x, double *t, alim_error *err)
{
    if (isnan(x)) return alim_error_set(err, ALIM_EINVAL, "x", "x is NaN");
    if (x > d->r_max || x < d->r_min)
        return alim_error_set(err, ALIM_EINVAL, "x", "%g is outside the reward range [%g, %g]", x, d->r_min, d->r_max);
    if (x == d->mean || d->r_max == d->r_min) {
        *t = 0;
        return ALIM_OK;
    }
    if (x == d->r_max) {
        *t = INFINITY;
        return ALIM_OK;
    }
    if (x == d->r_min) {
        *t = -INFINITY;
        return ALIM_OK;
    }
    /* Search s = sign * t > 0 with f(s) = log(target gap) - log(mean gap(t)), increasing. */
    const double sg = x > d->mean ? 1.0 : -1.0;
    const double target = sg > 0 ? d->r_max - x : x - d->r_min;
    alim_tilt_point pt;
#define RESID(s, fv, dfv)                                                                          \
    do {                                                                                           \
        alim_tilt_eval(d, sg *(s), &pt);                                                           \
        (fv) = log(target) - log(pt.mean_gap);                                                     \
        (dfv) = pt.var / pt.mean_gap;                                                              \
    } while (0)
    double s = fabs(x - d->mean) / d->kappa[2], f, df, lo = 0, hi = INFINITY;
    if (!(s > 0) || !isfinite(s)) s = 1.0 / (d->r_max - d->r_min);
    RESID(s, f, df);
    int it = 0;
    if (f < 0) {
        lo = s;
        for (;; it++) {
            double z = 2 * lo;
            if (!isfinite(z) || it > 3000) {
                *t = sg * INFINITY;
                return ALIM_OK;
            }
            RESID(z, f, df);
            if (f >= 0) {
                hi = z;
                break;
            }
            lo = z;
        }
    } else {
        hi = s;
        for (int k = 0; k < 2100; k++, it++) {
            double z = hi / 2;
            RESID(z, f, df);
            if (f < 0) {
                lo = z;
                break;
            }
            hi = z;
        }
    }
    s = hi;
    RESID(s, f, df);
    for (; it < 600; it++) {
        if (f == 0) break;
        if (f > 0) hi = s;
        else lo = s;
        double ns = s - f / df;
        if (!(ns > lo && ns < hi) || !isfinite(ns)) ns = (lo > 0 && hi > 4 * lo) ? sqrt(lo * hi) : 0.5 * (lo + hi);
        if (fabs(ns - s) <= 1e-15 * s || hi - lo <= 4 * DBL_EPSILON * hi) {
            s = ns;
            break;
        }
        s = ns;
        RESID(s, f, df);
    }
#undef RESID
    *t = sg * s;
    return ALIM_OK;
}

double alim_rate_cramer(const alim_rdist *d, double x, double *t)
{
    if (isnan(x) || x > d->r_max || x < d->r_min) {
        if (t) *t = NAN;
        return isnan(x) ? NAN : INFINITY;
    }
    double tt;
    if (alim_tilt_solve_mean(d, x, &tt, NULL)) {
        if (t) *t = NAN;
        return NAN;
    }
    if (t) *t = tt;
    if (tt == 0) return 0.0;
    alim_tilt_point pt;
    alim_tilt_eval(d, tt, &pt);
    return pt.kl_nats;
}

double alim_rate_tilted(const alim_rdist *d, double lambda, double x)
{
    double i = alim_rate_cramer(d, x, NULL);
    if (!isfinite(i)) return i;
    alim_tilt_point pt;
    alim_tilt_eval(d, lambda, &pt);
    /* J = I(x) - l x + Lambda(l), written around Lambda'(l) to limit cancellation:
     * J = I(x) - K(l) - l (x - Lambda'(l)). */
    double j = i - pt.kl_nats - lambda * (x - pt.mean);
    return j > 0 ? j : 0;
}

double alim_tilt_log_softmax_norm(const alim_rdist *d)
{
    double m = d->r_max, s = 0;
    for (size_t i = 0; i < d->n; i++)
        if (d->p[i] > 0) s += exp(d->r[i] - m);
    return m + log(s);
}

double alim_tilt_renyi_cross_entropy(const alim_rdist *d, double lambda, double alpha)
{
    alim_tilt_point pt;
    shift sh;
    eval_internal(d, lambda, &pt, &sh);
    const double logc = alim_tilt_log_softmax_norm(d);
    if (alpha == 1.0) {
        double h = 0;
        for (size_t i = 0; i < d->n; i++) {
            if (!(d->p[i] > 0)) continue;
            double phi = d->p[i] * exp(lambda * (d->r[i] - sh.c) - sh.lc);
            h += phi * (logc - d->r[i]);
        }
        return h;
    }
    /* log sum exp(log phi(y) + (alpha - 1)(r(y) - log C)), two passes */
    double m = -INFINITY;
    for (size_t i = 0; i < d->n; i++) {
        if (!(d->p[i] > 0)) continue;
        double v = log(d->p[i]) + lambda * (d->r[i] - sh.c) - sh.lc + (alpha - 1.0) * (d->r[i] - logc);
        if (v > m) m = v;
    }
    double s = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!(d->p[i] > 0)) continue;
        double v = log(d->p[i]) + lambda * (d->r[i] - sh.c) - sh.lc + (alpha - 1.0) * (d->r[i] - logc);
        s += exp(v - m);
    }
    return (m + log(s)) / (1.0 - alpha);
}

static alim_mc_estimate mc_mean_ci(double s, double s2, double m)
{
    alim_mc_estimate e;
    e.mean = s / m;
    double var = (s2 - s * s / m) / (m - 1);
    double h = 1.959963984540054 * sqrt(var > 0 ? var / m : 0);
    e.lo = e.mean - h;
    e.hi = e.mean + h;
    return e;
}

alim_status alim_tilt_mc(const alim_rdist *d, double lambda, size_t samples, uint64_t seed, alim_mc_estimate *reward,
                         alim_mc_estimate *kl, alim_error *err)
{
    if (samples < 2) return alim_error_set(err, ALIM_EINVAL, "check_mc", "need at least 2 samples");
    double *cdf = malloc(d->n * sizeof *cdf);
    if (!cdf) return alim_error_set(err, ALIM_ENOMEM, "tilt", "out of memory");
    alim_tilt_policy(d, lambda, cdf);
    for (size_t i = 1; i < d->n; i++) cdf[i] += cdf[i - 1];
    alim_tilt_point pt;
    alim_tilt_eval(d, lambda, &pt);
    alim_rng rng;
    alim_rng_seed(&rng, seed, 1);
    double sr = 0, sr2 = 0, sk = 0, sk2 = 0;
    for (size_t t = 0; t < samples; t++) {
        size_t i = alim_rng_discrete_cdf(&rng, cdf, d->n);
        while (i > 0 && cdf[i] == cdf[i - 1]) i--; /* never land on a zero-probability row */
        double r = d->r[i];
        /* log(phi/p) = l r - Lambda(l), written as l (r - E_phi r) + K(l) */
        double lg = isinf(lambda) ? pt.kl_nats : lambda * (r - pt.mean) + pt.kl_nats;
        sr += r, sr2 += r * r, sk += lg, sk2 += lg * lg;
    }
    free(cdf);
    *reward = mc_mean_ci(sr, sr2, (double)samples);
    *kl = mc_mean_ci(sk, sk2, (double)samples);
    return ALIM_OK;
}
