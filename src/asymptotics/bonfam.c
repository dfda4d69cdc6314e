/* bonfam.c — soft best-of-N, Best-of-Poisson, the tilt's level law, gold rewards, HedgeTune
 * and pass@k (see alim/bonfam.h). Level laws are computed in log domain like bon.c. */
#include "alim/bonfam.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"
#include "alim/rng.h"

#define PAR_MIN 20000 /* levels above which the soft best-of-N integrals run on all threads */

const char *alim_bon_method_name(alim_bon_method m)
{
    switch (m) {
    case ALIM_METHOD_BON: return "bon";
    case ALIM_METHOD_SOFT: return "soft";
    case ALIM_METHOD_BOP: return "bop";
    case ALIM_METHOD_TILT: return "tilt";
    }
    return "?";
}

static inline double lae(double a, double b) /* log(e^a + e^b) */
{
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

/* log sum_j exp(x_j) over n values, two passes (max, then shifted sum) */
static double lse(const double *x, size_t n)
{
    double m = -INFINITY;
    for (size_t j = 0; j < n; j++)
        if (x[j] > m) m = x[j];
    if (m == -INFINITY || m == INFINITY) return m;
    double s = 0;
    for (size_t j = 0; j < n; j++) s += exp(x[j] - m);
    return m + log(s);
}

void alim_bonfam_eval_law(const alim_levels *lv, const double *gold, const double *log_pi, alim_bonfam_point *out)
{
    const size_t L = lv->n;
    const double lm = lse(log_pi, L), top = lv->v[L - 1];
    double kl = 0, gap = 0, ls = 0, lh = 0, g = 0, sprev = 1.0;
    for (size_t j = 0; j < L; j++) {
        const double lp = log_pi[j] - lm, P = exp(lp);
        const double sj = exp(lv->log_tail[j]);
        if (P > 0) {
            kl += P * (lp - lv->log_q[j]);
            gap += P * (top - lv->v[j]);
            /* losses (as in bon.c): accurate when the win rate is near 1 */
            ls += P * sprev;
            lh += P * 0.5 * (sprev + sj);
            if (gold) g += P * gold[j];
        }
        sprev = sj;
    }
    out->kl_nats = kl > 0 ? kl : 0;
    out->reward = top - gap;
    out->win_rate = lh < 1 ? 1 - lh : 0;
    out->win_rate_strict = ls < 1 ? 1 - ls : 0;
    out->gold_reward = gold ? g : NAN;
}

/* ---- Best-of-Poisson ------------------------------------------------------------------------- */

/* mu * m for m >= 0 given log m (mu possibly beyond double range, carried as (mu, log mu)) */
static inline double mu_times(alim_bon_size mu, double m, double lm)
{
    if (lm == -INFINITY || mu.log_n == -INFINITY) return 0.0;
    if (isfinite(mu.n) && m >= DBL_MIN) return mu.n * m;
    return exp(mu.log_n + lm);
}

void alim_bop_level_log_probs(const alim_levels *lv, alim_bon_size mu, double *log_pi)
{
    const size_t L = lv->n;
    /* log G_j = log F_j - mu S_j; log pi_j = log G_j + log(1 - G_{j-1}/G_j) with
     * log(G_{j-1}/G_j) = log1p(-q_j/F_j) - mu q_j (S_{j-1} - S_j = q_j) */
    for (size_t j = 0; j < L; j++) {
        const double lt = lv->log_tail[j];
        const double lg = lv->log_cdf[j] - mu_times(mu, exp(lt), lt);
        if (j == 0) {
            log_pi[j] = lg;
            continue;
        }
        double lx = lv->log_q[j] - lv->log_cdf[j];
        if (lx > 0) lx = 0;
        const double x = exp(lx);
        const double l1 = lx < -40 ? -x * (1 + 0.5 * x) : log1p(-x);
        const double d = l1 - mu_times(mu, exp(lv->log_q[j]), lv->log_q[j]);
        log_pi[j] = lg + log(-expm1(d));
    }
}

double alim_bop_win_rate_bound(alim_bon_size mu)
{
    /* E[N/(N+1)] = 1 - E[1/(K+2)] = 1 - (mu - 1 + e^{-mu})/mu^2 */
    if (mu.log_n == -INFINITY) return 0.5;
    if (!isfinite(mu.n)) return -expm1(-mu.log_n);
    const double m = mu.n;
    if (m < 1e-3) return 0.5 + m / 6 - m * m / 24 + m * m * m / 120;
    return 1.0 - (expm1(-m) + m) / (m * m);
}

double alim_bop_kl_bound(alim_bon_size mu)
{
    /* E[log N] - E[(N-1)/N] = E log(K+1) - 1 + E[1/(K+1)], E[1/(K+1)] = (1 - e^{-mu})/mu */
    if (mu.log_n == -INFINITY) return 0.0;
    if (!isfinite(mu.n) || mu.n > 1e7) {
        if (!isfinite(mu.n)) return mu.log_n - 1.0;
        const double m = mu.n, a = m + 1;
        /* moments of K + 1 (mean a, variance mu, third central moment mu) in log(a + X) */
        double el = log(a) - m / (2 * a * a) + m / (3 * a * a * a) - (3 * m * m + m) / (4 * a * a * a * a);
        return el - 1.0 + (-expm1(-m)) / m;
    }
    const double m = mu.n, sd = sqrt(m);
    double k0 = floor(m - 40 * sd - 40), k1 = ceil(m + 40 * sd + 40);
    if (k0 < 0) k0 = 0;
    double s = 0, c = 0, mass = 0;
    const double lm = log(m);
    for (double k = k0; k <= k1; k++) {
        const double w = exp(k * lm - m - lgamma(k + 1)), t = w * log1p(k), y = s + t;
        c += fabs(s) >= fabs(t) ? (s - y) + t : (t - y) + s;
        s = y;
        mass += w;
    }
    const double el = (s + c) / mass;
    const double inv = m < 1e-8 ? 1 - m / 2 : -expm1(-m) / m;
    const double v = el - 1.0 + inv;
    return v > 0 ? v : 0;
}

/* ---- the tilt ------------------------------------------------------------------------------- */

void alim_tilt_level_log_probs(const alim_levels *lv, double lambda, double *log_pi)
{
    const size_t L = lv->n;
    if (lambda == INFINITY) {
        for (size_t j = 0; j < L; j++) log_pi[j] = j + 1 == L ? 0.0 : -INFINITY;
        return;
    }
    const double top = lv->v[L - 1];
    for (size_t j = 0; j < L; j++) log_pi[j] = lambda == 0 ? lv->log_q[j] : lv->log_q[j] + lambda * (lv->v[j] - top);
    const double lz = lse(log_pi, L);
    for (size_t j = 0; j < L; j++) log_pi[j] -= lz;
}

/* ---- soft best-of-N ------------------------------------------------------------------------- */

enum { SOFT_MAX_NODES = 400000 };
#define SOFT_H 0.125
#define SOFT_TOL 1e-18

/* h sum_{m>=1} e^{-k m h} = h e^{-kh}/(1 - e^{-kh}) */
static inline double geo(double kh) { return exp(-kh) / -expm1(-kh); }

alim_status alim_soft_bon_level_log_probs(const alim_levels *lv, alim_bon_size N, double lambda, double *log_pi,
                                          alim_soft_info *info, alim_error *err)
{
    alim_soft_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (isnan(lambda) || lambda < 0)
        return alim_error_set(err, ALIM_EINVAL, "--soft", "lambda must be >= 0 (got %g)", lambda);
    const size_t L = lv->n;
    if (lambda == INFINITY) {
        info->limit = 4;
        alim_bon_level_log_probs(lv, N, log_pi);
        return ALIM_OK;
    }
    if (N.log_n == 0 || lambda == 0 || L == 1) {
        info->limit = lambda == 0 ? 2 : 1;
        memcpy(log_pi, lv->log_q, L * sizeof *log_pi);
        return ALIM_OK;
    }
    const double top = lv->v[L - 1];
    double *lw = calloc(4 * L, sizeof *lw);
    if (!lw) return alim_error_set(err, ALIM_ENOMEM, "soft best-of-N", "out of memory (%zu levels)", L);
    double *la = lw + L, *lb = la + L, *tmp = lb + L;
    for (size_t j = 0; j < L; j++) lw[j] = lambda * (lv->v[j] - top);
    for (size_t j = 0; j < L; j++) tmp[j] = lv->log_q[j] + lw[j];
    const double lm1 = lse(tmp, L); /* log E_p w */
    for (size_t j = 0; j < L; j++) tmp[j] = lv->log_q[j] + 2 * lw[j];
    const double lm2 = lse(tmp, L); /* log E_p w^2 */
    /* N beyond e^40 w_max / E w: the corrections to the tilt are O(w_max / (N E w)) < e^-40 relative */
    if (N.log_n > 40.0 - lm1) {
        info->limit = 3;
        for (size_t j = 0; j < L; j++) log_pi[j] = lv->log_q[j] + lw[j] - lm1;
        free(lw);
        return ALIM_OK;
    }
    const double lnm1 = isfinite(N.n) ? log(N.n - 1) : N.log_n; /* log(N - 1); N - 1 exact for N in [1, 2] */
    /* a_j = w_j + (N-1) E w (initial decay rate of the integrand), b_j = w_j + (N-1) w_1 (final one):
     * the integral I_j lies in [1/a_j, 1/b_j] (log f_j is convex with slopes between -a_j and -b_j) */
    double x0 = INFINITY;
    const double lt0n = -0.5 * lnm1; /* t0 <= 1e-6 / sqrt(N - 1): the second-order expansion holds below t0 */
    for (size_t j = 0; j < L; j++) {
        la[j] = lae(lw[j], lnm1 + lm1);
        lb[j] = lae(lw[j], lnm1 + lw[0]);
        double lt0 = log(1e-6) + fmin(-la[j], lt0n);
        if (lt0 < x0) x0 = lt0;
    }
    x0 -= SOFT_H;
    /* the grid ends where level 1 (slowest decay) has a negligible tail against the smallest I_j */
    const double lthr = log(SOFT_TOL) - la[L - 1];
    size_t K = 0, cap = 1024;
    double *A = malloc(cap * sizeof *A);
    if (!A) {
        free(lw);
        return alim_error_set(err, ALIM_ENOMEM, "soft best-of-N", "out of memory");
    }
    for (;; K++) {
        if (K >= SOFT_MAX_NODES) {
            const double span = -lw[0];
            free(A), free(lw);
            return alim_error_set(err, ALIM_ERANGE, "--soft",
                                  "lambda (max r - min r) = %g needs more than %d quadrature nodes; use plain best-of-N "
                                  "(--soft inf) or a smaller lambda",
                                  span, SOFT_MAX_NODES);
        }
        if (K == cap) {
            double *nA = realloc(A, 2 * cap * sizeof *A);
            if (!nA) {
                free(A), free(lw);
                return alim_error_set(err, ALIM_ENOMEM, "soft best-of-N", "out of memory");
            }
            A = nA, cap *= 2;
        }
        const double x = x0 + (double)K * SOFT_H;
        /* (N-1) log M(t): log1p of sum q expm1(-t w) while M >= 1/2, else log-sum-exp */
        double s = 0;
        for (size_t j = 0; j < L; j++) s += exp(lv->log_q[j]) * expm1(-exp(x + lw[j]));
        double l;
        if (s > -0.5) l = log1p(s);
        else {
            for (size_t j = 0; j < L; j++) tmp[j] = lv->log_q[j] - exp(x + lw[j]);
            l = lse(tmp, L);
        }
        A[K] = l == 0 ? 0.0 : -exp(lnm1 + log(-l));
        const double tb = exp(x + lb[0]);
        if (tb >= 2) {
            const double lg = x + A[K] - exp(x + lw[0]); /* t w_1 without underflow */
            if (lg + log(SOFT_H * geo((tb - 1) * SOFT_H)) < lthr) {
                K++;
                break;
            }
        }
    }
    double serr = 0;
    int bad = 0;
#pragma omp parallel for reduction(max : serr) reduction(| : bad) if (L > PAR_MIN) schedule(dynamic, 64)
    for (size_t j = 0; j < L; j++) {
        /* scaled integral J_j = a_j I_j in [1, a_j/b_j]; nodes below k0 are summed in closed form from
         * f ~ 1 - a t + c2 t^2/2, c2 = a^2 + (N-1) E w^2 */
        const double a = exp(la[j]);
        const double lt0 = log(1e-6) + fmin(-la[j], lt0n);
        size_t k0 = (size_t)ceil((lt0 - x0) / SOFT_H);
        const double c2 = a * a + exp(lnm1 + lm2);
        double sum[2] = {0, 0};
        for (int e = 0; e < 2; e++) { /* e = 0: step h; e = 1: step 2h on the even nodes */
            const size_t ks = e ? k0 + (k0 & 1) : k0;
            const double h = e ? 2 * SOFT_H : SOFT_H, t0 = exp(x0 + (double)ks * SOFT_H);
            sum[e] = a * h * (t0 * geo(h) - a * t0 * t0 * geo(2 * h) + 0.5 * c2 * t0 * t0 * t0 * geo(3 * h));
        }
        size_t k = k0;
        /* the sums are kept in units of e^ls (first 1/a_j); when the integrand outgrows that (I_j can
         * reach 1/b_j >> 1/a_j, e.g. e^800 for a low level under a large lambda) they are rescaled */
        double ls = -la[j];
        for (; k < K; k++) {
            const double x = x0 + (double)k * SOFT_H;
            const double lg = x + A[k] - exp(x + lw[j]);
            if (lg - ls > 600) {
                const double f = exp(ls - lg);
                sum[0] *= f, sum[1] *= f, ls = lg;
            }
            const double g = exp(lg - ls);
            sum[0] += SOFT_H * g;
            if (!(k & 1)) sum[1] += 2 * SOFT_H * g;
            const double tb = exp(x + lb[j]);
            if (tb >= 2 && SOFT_H * g * geo((tb - 1) * SOFT_H) < SOFT_TOL * sum[0]) break;
        }
        if (k == K) bad = 1;
        const double rel = fabs(sum[1] / sum[0] - 1);
        if (rel > serr) serr = rel;
        log_pi[j] = N.log_n + lv->log_q[j] + lw[j] + log(sum[0]) + ls;
    }
    free(A);
    free(lw);
    if (bad) return alim_error_set(err, ALIM_EINTERNAL, "soft best-of-N", "quadrature grid ended before a level's tail");
    const double lmass = lse(log_pi, L);
    for (size_t j = 0; j < L; j++) log_pi[j] -= lmass;
    info->nodes = K;
    info->mass_error = expm1(lmass);
    info->step_error = serr;
    return ALIM_OK;
}

/* ---- one method at one parameter -------------------------------------------------------------- */

static alim_status method_law(const alim_levels *lv, alim_bon_method m, double param, double soft_lambda,
                              double *log_pi, alim_error *err)
{
    alim_bon_size N;
    alim_status st;
    switch (m) {
    case ALIM_METHOD_BON:
        if ((st = alim_bon_size_from_n(param, &N, err))) return st;
        alim_bon_level_log_probs(lv, N, log_pi);
        return ALIM_OK;
    case ALIM_METHOD_SOFT:
        if ((st = alim_bon_size_from_n(param, &N, err))) return st;
        return alim_soft_bon_level_log_probs(lv, N, soft_lambda, log_pi, NULL, err);
    case ALIM_METHOD_BOP:
        if (!(param >= 0) || isinf(param))
            return alim_error_set(err, ALIM_EINVAL, "--poisson", "mu must be a finite number >= 0 (got %g)", param);
        N.n = param, N.log_n = log(param);
        alim_bop_level_log_probs(lv, N, log_pi);
        return ALIM_OK;
    case ALIM_METHOD_TILT:
        if (!(param >= 0)) return alim_error_set(err, ALIM_EINVAL, "--lambda", "lambda must be >= 0 (got %g)", param);
        alim_tilt_level_log_probs(lv, param, log_pi);
        return ALIM_OK;
    }
    return alim_error_set(err, ALIM_EINVAL, "method", "unknown method %d", (int)m);
}

alim_status alim_bonfam_eval(const alim_levels *lv, const double *gold, alim_bon_method m, double param,
                             double soft_lambda, alim_bonfam_point *out, alim_error *err)
{
    double *lp = malloc(lv->n * sizeof *lp);
    if (!lp) return alim_error_set(err, ALIM_ENOMEM, "best-of-N family", "out of memory");
    alim_status st = method_law(lv, m, param, soft_lambda, lp, err);
    if (!st) alim_bonfam_eval_law(lv, gold, lp, out);
    free(lp);
    return st;
}

/* ---- gold rewards ------------------------------------------------------------------------------ */

alim_status alim_rdist_read_gold_csv(alim_rdist *d, double **gold, const char *path, double tol, int normalize,
                                     alim_error *err)
{
    *gold = NULL;
    memset(d, 0, sizeof *d);
    alim_matrix m;
    alim_status st = alim_matrix_read_csv(path, 2, 3, &m, err);
    if (st) return st;
    if (m.cols == 2) { /* the plain reader keeps its line-numbered messages */
        alim_matrix_free(&m);
        return alim_rdist_read_csv(d, path, tol, normalize, err);
    }
    const size_t n = m.rows;
    double *p = malloc(n * sizeof *p), *r = malloc(n * sizeof *r), *g = malloc(n * sizeof *g);
    if (!p || !r || !g) {
        free(p), free(r), free(g);
        alim_matrix_free(&m);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = m.data[3 * i], r[i] = m.data[3 * i + 1], g[i] = m.data[3 * i + 2];
        if (!isfinite(g[i])) {
            char w[ALIM_ERROR_WHERE_MAX];
            snprintf(w, sizeof w, "%s:%zu", path, m.line_of_row ? m.line_of_row[i] : i + 1);
            free(p), free(r), free(g);
            alim_matrix_free(&m);
            return alim_error_set(err, ALIM_EINVAL, w, "gold reward of outcome %zu is not a finite number", i + 1);
        }
    }
    alim_matrix_free(&m);
    st = alim_rdist_from_arrays(d, p, r, n, tol, normalize, path, err);
    free(p), free(r);
    if (st) {
        free(g);
        return st;
    }
    *gold = g;
    return ALIM_OK;
}

alim_status alim_levels_gold(const alim_rdist *d, const alim_levels *lv, const double *g, double *gold_level,
                             alim_error *err)
{
    if (!lv->order) return alim_error_set(err, ALIM_EINTERNAL, "levels", "levels without an outcome map");
    for (size_t j = 0; j < lv->n; j++) {
        double sp = 0, sg = 0;
        for (size_t k = lv->start[j]; k < lv->start[j + 1]; k++) {
            const uint32_t i = lv->order[k];
            sp += d->p[i];
            sg += d->p[i] * g[i];
        }
        gold_level[j] = sg / sp;
    }
    return ALIM_OK;
}

/* ---- HedgeTune ------------------------------------------------------------------------------- */

typedef struct {
    const alim_levels *lv;
    const double *gold;
    alim_bon_method m;
    double aux; /* soft: the fixed N */
    double shift; /* u = log(param + shift) */
    double *lp;
    alim_error *err;
} hedge_ctx;

static alim_status hedge_at(hedge_ctx *c, double param, alim_bonfam_point *pt)
{
    alim_status st;
    if (c->m == ALIM_METHOD_SOFT) {
        alim_bon_size N;
        if ((st = alim_bon_size_from_n(c->aux, &N, c->err))) return st;
        st = alim_soft_bon_level_log_probs(c->lv, N, param, c->lp, NULL, c->err);
    } else st = method_law(c->lv, c->m, param, 0, c->lp, c->err);
    if (!st) alim_bonfam_eval_law(c->lv, c->gold, c->lp, pt);
    return st;
}

alim_status alim_bonfam_hedge(const alim_levels *lv, const double *gold, alim_bon_method m, double aux, double lo,
                              double hi, alim_hedge_result *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    if (!gold) return alim_error_set(err, ALIM_EINVAL, "hedge", "the gold reward needs a third column g");
    const double pmin = m == ALIM_METHOD_BON ? 1 : 0;
    if (!(lo >= pmin) || !(hi >= lo) || isinf(hi))
        return alim_error_set(err, ALIM_EINVAL, "hedge", "bad parameter range [%g, %g] for %s", lo, hi,
                              alim_bon_method_name(m));
    hedge_ctx c = {lv, gold, m, aux, m == ALIM_METHOD_BON ? 0.0 : 1.0, malloc(lv->n * sizeof(double)), err};
    if (!c.lp) return alim_error_set(err, ALIM_ENOMEM, "hedge", "out of memory");
    alim_status st = ALIM_OK;
    alim_bonfam_point pt, best;
    double bp = lo;
    if (m == ALIM_METHOD_BON) {
        lo = ceil(lo), hi = floor(hi);
        if (hi < lo) hi = lo;
    }
    if (m == ALIM_METHOD_BON && (hi - lo) * (double)lv->n <= 2e8) {
        out->exhaustive = 1;
        for (double n = lo; n <= hi; n++) {
            if ((st = hedge_at(&c, n, &pt))) goto done;
            if (n == lo || pt.gold_reward > best.gold_reward) best = pt, bp = n;
        }
    } else {
        const double ulo = log(lo + c.shift), uhi = log(hi + c.shift);
        size_t G = (size_t)ceil(16 * (uhi - ulo) / M_LN10);
        if (G < 16) G = 16;
        if (G > 4000) G = 4000;
        size_t bi = 0;
        for (size_t i = 0; i <= G; i++) {
            const double u = ulo + (uhi - ulo) * (double)i / (double)G, par = i == G ? hi : fmax(lo, exp(u) - c.shift);
            if ((st = hedge_at(&c, par, &pt))) goto done;
            if (i == 0 || pt.gold_reward > best.gold_reward) best = pt, bp = par, bi = i;
        }
        /* golden section in u on the neighbours of the best grid point */
        double a = ulo + (uhi - ulo) * (double)(bi > 0 ? bi - 1 : 0) / (double)G;
        double b = ulo + (uhi - ulo) * (double)(bi < G ? bi + 1 : G) / (double)G;
        const double gr = 0.5 * (sqrt(5.0) - 1);
        double x1 = b - gr * (b - a), x2 = a + gr * (b - a);
        alim_bonfam_point p1, p2;
        if ((st = hedge_at(&c, fmax(lo, exp(x1) - c.shift), &p1)) || (st = hedge_at(&c, fmax(lo, exp(x2) - c.shift), &p2)))
            goto done;
        for (int it = 0; it < 200 && b - a > 1e-13 * fmax(1, fabs(a)); it++) {
            if (p1.gold_reward >= p2.gold_reward) {
                b = x2, x2 = x1, p2 = p1, x1 = b - gr * (b - a);
                if ((st = hedge_at(&c, fmax(lo, exp(x1) - c.shift), &p1))) goto done;
            } else {
                a = x1, x1 = x2, p1 = p2, x2 = a + gr * (b - a);
                if ((st = hedge_at(&c, fmax(lo, exp(x2) - c.shift), &p2))) goto done;
            }
        }
        double cand = fmin(hi, fmax(lo, exp(0.5 * (a + b)) - c.shift));
        double cands[2] = {cand, cand};
        if (m == ALIM_METHOD_BON) cands[0] = fmax(lo, floor(cand)), cands[1] = fmin(hi, ceil(cand));
        for (int t = 0; t < 2; t++) {
            if ((st = hedge_at(&c, cands[t], &pt))) goto done;
            if (pt.gold_reward > best.gold_reward) best = pt, bp = cands[t];
        }
    }
    out->param = bp;
    out->at = best;
    out->interior = bp > lo && bp < hi;
done:
    free(c.lp);
    return st;
}

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
    if (n == 0) return alim_error_set(err, ALIM_EINVAL, "--n", "n must be >= 1");
    if (c > n) return alim_error_set(err, ALIM_EINVAL, "--c", "c = %llu exceeds n = %llu", (unsigned long long)c,
                                     (unsigned long long)n);
    if (k < 1 || k > n)
        return alim_error_set(err, ALIM_EINVAL, "--k", "k must be in [1, n] (got %llu, n = %llu)", (unsigned long long)k,
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

/* ---- Monte Carlo ---------------------------------------------------------------------------- */

static size_t draw_p(const alim_levels *lv, alim_rng *rng)
{
    const double lu = log(alim_rng_uniform_pos(rng));
    size_t lo = 0, hi = lv->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lv->log_cdf[mid] >= lu) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static alim_mc_estimate ci(double s, double s2, double m)
{
    alim_mc_estimate e;
    e.mean = s / m;
    double var = (s2 - s * s / m) / (m - 1), h = 1.959963984540054 * sqrt(var > 0 ? var / m : 0);
    e.lo = e.mean - h, e.hi = e.mean + h;
    return e;
}

alim_status alim_bonfam_mc(const alim_levels *lv, const double *gold, alim_bon_method m, double param,
                           double soft_lambda, size_t samples, uint64_t seed, alim_bonfam_mc_result *out,
                           alim_error *err)
{
    if (samples < 2) return alim_error_set(err, ALIM_EINVAL, "--check-mc", "need at least 2 samples");
    const double M = (double)samples;
    if ((m == ALIM_METHOD_BON || m == ALIM_METHOD_SOFT) &&
        (param != floor(param) || param > (m == ALIM_METHOD_BON ? 1e7 : 1e6) || param * M > 2e10))
        return alim_error_set(err, ALIM_EINVAL, "--check-mc",
                              "direct simulation needs an integer N (<= 10^7, soft <= 10^6) and N x samples <= 2e10");
    if (m == ALIM_METHOD_BOP && (param > 1e6 || param * M > 2e10))
        return alim_error_set(err, ALIM_EINVAL, "--check-mc", "direct simulation needs mu <= 10^6 and mu x samples <= 2e10");
    const size_t L = lv->n;
    double *lp = malloc(2 * L * sizeof *lp);
    if (!lp) return alim_error_set(err, ALIM_ENOMEM, "--check-mc", "out of memory");
    double *cum = lp + L;
    alim_status st = method_law(lv, m, param, soft_lambda, lp, err);
    if (st) {
        free(lp);
        return st;
    }
    const double lm = lse(lp, L), top = lv->v[L - 1];
    double acc = 0;
    for (size_t j = 0; j < L; j++) cum[j] = (acc += exp(lp[j] - lm));
    alim_rng rng;
    alim_rng_seed(&rng, seed, 3);
    double sr = 0, sr2 = 0, sk = 0, sk2 = 0, sw = 0, sw2 = 0, sg = 0, sg2 = 0;
    for (size_t s = 0; s < samples; s++) {
        size_t j = 0;
        if (m == ALIM_METHOD_TILT) {
            const double u = alim_rng_uniform(&rng) * acc;
            size_t lo = 0, hi = L - 1;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (cum[mid] > u) hi = mid;
                else lo = mid + 1;
            }
            j = lo;
        } else if (m == ALIM_METHOD_SOFT) {
            /* N draws, then one chosen with probability proportional to e^{lambda r} (streamed: keep
             * draw i with probability w_i / (w_1 + ... + w_i)) */
            double wsum = 0;
            for (double i = 0; i < param; i++) {
                const size_t d = draw_p(lv, &rng);
                if (soft_lambda == INFINITY) {
                    if (i == 0 || d > j) j = d;
                    continue;
                }
                const double w = exp(soft_lambda * (lv->v[d] - top));
                wsum += w;
                if (i == 0 || alim_rng_uniform(&rng) * wsum < w) j = d;
            }
        } else {
            double n = param;
            if (m == ALIM_METHOD_BOP) { /* N = 1 + K, K = arrivals of a unit-rate Poisson process in [0, mu] */
                double t = -log(alim_rng_uniform_pos(&rng));
                n = 1;
                while (t <= param) {
                    n++;
                    t -= log(alim_rng_uniform_pos(&rng));
                }
            }
            for (double i = 0; i < n; i++) {
                const size_t d = draw_p(lv, &rng);
                if (i == 0 || d > j) j = d;
            }
        }
        const size_t jo = draw_p(lv, &rng);
        const double r = lv->v[j], k = (lp[j] - lm) - lv->log_q[j], w = j > jo ? 1.0 : (j == jo ? 0.5 : 0.0);
        const double g = gold ? gold[j] : 0.0;
        sr += r, sr2 += r * r, sk += k, sk2 += k * k, sw += w, sw2 += w * w, sg += g, sg2 += g * g;
    }
    free(lp);
    out->reward = ci(sr, sr2, M);
    out->kl_nats = ci(sk, sk2, M);
    out->win_rate = ci(sw, sw2, M);
    if (gold) out->gold_reward = ci(sg, sg2, M);
    else out->gold_reward.mean = out->gold_reward.lo = out->gold_reward.hi = NAN;
    return ALIM_OK;
}
