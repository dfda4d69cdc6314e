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

enum { EVAL_CHUNK = 4096 }; /* fixed chunks: partial sums added in order, the same for any thread count */

void alim_bonfam_eval_law(const alim_levels *lv, const double *gold, const double *log_pi, alim_bonfam_point *out)
{
    const size_t L = lv->n, nch = (L + EVAL_CHUNK - 1) / EVAL_CHUNK;
    const double top = lv->v[L - 1];
    double *part = malloc(6 * nch * sizeof *part), stack[6];
    /* out of memory: one chunk on the stack (this function cannot fail) */
    double *pp = part ? part : stack;
    const size_t nc = part ? nch : 1, csz = part ? EVAL_CHUNK : L;
    /* log sum pi (the law need not be normalised): the max, then chunked sums of e^{x - max} */
    double m = -INFINITY;
#pragma omp parallel for reduction(max : m) schedule(static) if (L > PAR_MIN)
    for (size_t j = 0; j < L; j++)
        if (log_pi[j] > m) m = log_pi[j];
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
    for (size_t c = 0; c < nc; c++) {
        const size_t j1 = (c + 1) * csz < L ? (c + 1) * csz : L;
        double s = 0;
        for (size_t j = c * csz; j < j1; j++) s += exp(log_pi[j] - m);
        pp[6 * c] = s;
    }
    double sm = 0;
    for (size_t c = 0; c < nc; c++) sm += pp[6 * c];
    const double lm = m + log(sm);
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
    for (size_t c = 0; c < nc; c++) {
        const size_t j0 = c * csz, j1 = (c + 1) * csz < L ? (c + 1) * csz : L;
        double kl = 0, gap = 0, ls = 0, lh = 0, g = 0, sprev = j0 ? exp(lv->log_tail[j0 - 1]) : 1.0;
        for (size_t j = j0; j < j1; j++) {
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
        double *q = pp + 6 * c;
        q[1] = kl, q[2] = gap, q[3] = ls, q[4] = lh, q[5] = g;
    }
    double kl = 0, gap = 0, ls = 0, lh = 0, g = 0;
    for (size_t c = 0; c < nc; c++) kl += pp[6 * c + 1], gap += pp[6 * c + 2], ls += pp[6 * c + 3], lh += pp[6 * c + 4], g += pp[6 * c + 5];
    free(part);
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
     * log(G_{j-1}/G_j) = log1p(-q_j/F_j) - mu q_j (S_{j-1} - S_j = q_j); levels are independent */
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
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

/* ---- vectorisable exp for the soft best-of-N passes ------------------------------------------
 * The two O(levels x nodes) passes spend their time in exp/expm1; glibc's are scalar calls (its
 * vector versions need -ffast-math), so these are written out branch-free for `omp simd`:
 * e^x = 2^n e^r, n = round(x / ln 2) by the 1.5 2^52 rounding trick, r = x - n ln 2 (Cody-Waite,
 * fdlibm's split), e^r by its Taylor series to r^13 (|r| <= 0.347: remainder < 4e-18 relative),
 * 2^n from the exponent bits. Max error ~1 ulp (tested against exp/expm1); results below 2^-1022
 * are returned as 0 (they are below 1e-300 of every sum they enter). */
#define SOFT_INLINE static inline __attribute__((always_inline))
#define SOFT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

SOFT_INLINE double soft_exp_poly(double r) /* e^r - 1 - r, |r| <= 0.35 */
{
    /* Estrin's scheme: dependency depth 5 instead of Horner's 12 (the loops are latency-bound) */
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double p01 = 1.0 / 2 + r * (1.0 / 6), p23 = 1.0 / 24 + r * (1.0 / 120), p45 = 1.0 / 720 + r * (1.0 / 5040);
    const double p67 = 1.0 / 40320 + r * (1.0 / 362880), p89 = 1.0 / 3628800 + r * (1.0 / 39916800);
    const double pab = 1.0 / 479001600 + r * (1.0 / 6227020800.0);
    const double q0 = p01 + r2 * p23, q1 = p45 + r2 * p67, q2 = p89 + r2 * pab;
    return r2 * ((q0 + r4 * q1) + r8 * q2);
}

SOFT_INLINE double soft_bits_double(uint64_t b)
{
    union {
        uint64_t u;
        double d;
    } x = {b};
    return x.d;
}

SOFT_INLINE uint64_t soft_double_bits(double d)
{
    union {
        double d;
        uint64_t u;
    } x = {d};
    return x.u;
}

SOFT_INLINE double soft_exp(double x) /* x <= 709 */
{
    /* x is clamped first: 2^n and the product then stay normal numbers (a subnormal or garbage
     * operand would cost a microcode assist per lane, ~100 cycles) and the result is blended to 0 */
    const double xc = x < -708.0 ? -708.0 : x;
    const double magic = 0x1.8p52;
    const double kd = xc * 0x1.71547652b82fep0 + magic, n = kd - magic;
    const double r = (xc - n * 0x1.62e42fee00000p-1) - n * 0x1.a39ef35793c76p-33;
    const double sc = soft_bits_double((soft_double_bits(kd) + (uint64_t)(1023 - 0x4338000000000000LL)) << 52); /* 2^n */
    const double e = (1.0 + (r + soft_exp_poly(r))) * sc;
    return x < -708.0 ? 0.0 : e;
}

enum { SOFT_CHUNK = 4096, SOFT_BLOCK = 256, SOFT_BATCH = 16, SOFT_MOM = 16 };

/* sums over one chunk of levels for nt nodes: sum q expm1(-t w) and sum q e^{-t w} per node (the
 * chunk stays in cache for all nt nodes: one sweep of the data per batch of nodes, not per node) */
SOFT_CLONES static void soft_m_batch(const double *q, const double *w, size_t n, const double *t, size_t nt,
                                     double *out)
{
    for (size_t i = 0; i < nt; i++) {
        const double ti = t[i];
        double a = 0, b = 0;
#pragma omp simd reduction(+ : a, b)
        for (size_t j = 0; j < n; j++) {
            const double u = -ti * w[j], e = soft_exp(u);
            /* expm1: for |u| <= 0.34 the series itself (no cancellation), else e - 1 */
            a += q[j] * (u > -0.34 ? u + soft_exp_poly(u) : e - 1.0);
            b += q[j] * e;
        }
        out[2 * i] = a, out[2 * i + 1] = b;
    }
}

/* One block of levels through every node (the fast path's second pass): sa[j] += g on every node,
 * sb[j] += g on the even ones, g = e^{x_k + A_k - t_k w_j + la_j} from node k0[j] on (nodes in pairs, even
 * then odd). The sequence of operations on a level does not depend on the block or the thread. */
SOFT_CLONES static void soft_level_block(size_t n, size_t K, const double *xa, const double *tk, const double *w,
                                         const double *la, const double *k0, double *sa, double *sb)
{
    size_t k = 0;
    for (; k + 1 < K; k += 2) {
        const double c0 = xa[k], t0 = tk[k], c1 = xa[k + 1], t1 = tk[k + 1], kd = (double)k;
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            const double g0 = kd >= k0[j] ? soft_exp(c0 - t0 * w[j] + la[j]) : 0.0;
            const double g1 = kd + 1 >= k0[j] ? soft_exp(c1 - t1 * w[j] + la[j]) : 0.0;
            sa[j] += g0 + g1;
            sb[j] += g0;
        }
    }
    if (k < K) { /* K odd: the last node is even */
        const double c0 = xa[k], t0 = tk[k], kd = (double)k;
#pragma omp simd
        for (size_t j = 0; j < n; j++) {
            const double g0 = kd >= k0[j] ? soft_exp(c0 - t0 * w[j] + la[j]) : 0.0;
            sa[j] += g0;
            sb[j] += g0;
        }
    }
}

/* deterministic parallel sums: fixed chunks, partial sums added in chunk order */
static double chunked_sum(const double *x, size_t n, double *part)
{
    const size_t nch = (n + SOFT_CHUNK - 1) / SOFT_CHUNK;
#pragma omp parallel for schedule(static) if (n > PAR_MIN)
    for (size_t c = 0; c < nch; c++) {
        const size_t j0 = c * SOFT_CHUNK, m = n - j0 < SOFT_CHUNK ? n - j0 : SOFT_CHUNK;
        double s = 0;
        for (size_t j = j0; j < j0 + m; j++) s += x[j];
        part[c] = s;
    }
    double s = 0;
    for (size_t c = 0; c < nch; c++) s += part[c];
    return s;
}

SOFT_CLONES static void soft_exp_array(const double *x, size_t n, double *y)
{
#pragma omp simd
    for (size_t j = 0; j < n; j++) y[j] = soft_exp(x[j]);
}

/* The part of a trapezoid rule of step m h below its first node ks (k0 rounded up to a multiple of m),
 * summed in closed form from the expansion f ~ 1 - a t + c2 t^2 / 2 (g = geo(h m), geo(2 h m), geo(3 h m)). */
static inline double soft_closed(size_t m, double a, double c2, size_t k0, const double *tk, size_t K, const double *g)
{
    const size_t ks = (k0 + m - 1) / m * m;
    const double t0 = tk[ks < K ? ks : K - 1];
    return a * (double)m * SOFT_H * (t0 * g[0] - a * t0 * t0 * g[1] + 0.5 * c2 * t0 * t0 * t0 * g[2]);
}

/* The fast path of soft best-of-N (see alim_soft_bon_level_log_probs): the same grid, nodes and
 * closed forms as the general path, with w_j, q_j and t w_j as plain doubles, one fixed scale per
 * level (1/a_j), vectorised exponentials, every O(levels) pass parallel with results that do not
 * depend on the thread count, and the sum of log M(t) by its moment series where t <= 0.01.
 * Valid when lambda (v_L - v_1) <= 600, every q_j >= e^-600 and N <= e^600: then w_j and M(t)
 * stay normal numbers and a_j / b_j <= e^600 keeps the scaled sums finite. */
static alim_status soft_fast(const alim_levels *lv, alim_bon_size N, double lambda, double *log_pi, alim_soft_info *info,
                             alim_error *err)
{
    const size_t L = lv->n, nch = (L + SOFT_CHUNK - 1) / SOFT_CHUNK;
    const double top = lv->v[L - 1];
    double *w = malloc((9 * L + (2 * SOFT_BATCH + SOFT_MOM + 1) * nch + 16) * sizeof *w);
    if (!w) return alim_error_set(err, ALIM_ENOMEM, "soft best-of-N", "out of memory (%zu levels)", L);
    double *q = w + L, *la = q + L, *k0s = la + L, *s0 = k0s + L, *s1 = s0 + L, *gl = s1 + L, *tmp = gl + L,
           *tmp2 = tmp + L, *part = tmp2 + L, *pmom = part + 2 * SOFT_BATCH * nch;
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
    for (size_t j = 0; j < L; j++) tmp[j] = lambda * (lv->v[j] - top);
    soft_exp_array(tmp, L, w);
    soft_exp_array(lv->log_q, L, q);
    /* moments m_k = sum q w^k, k = 1..SOFT_MOM, in one sweep (per-chunk partials added in order) */
    double mom[SOFT_MOM + 1] = {0};
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
    for (size_t c = 0; c < nch; c++) {
        const size_t j0 = c * SOFT_CHUNK, j1 = L - j0 < SOFT_CHUNK ? L : j0 + SOFT_CHUNK;
        double acc[SOFT_MOM + 1] = {0};
        for (size_t j = j0; j < j1; j++) {
            double pw = q[j];
            for (int k = 1; k <= SOFT_MOM; k++) pw *= w[j], acc[k] += pw;
        }
        for (int k = 1; k <= SOFT_MOM; k++) pmom[c * (SOFT_MOM + 1) + k] = acc[k];
    }
    for (size_t c = 0; c < nch; c++)
        for (int k = 1; k <= SOFT_MOM; k++) mom[k] += pmom[c * (SOFT_MOM + 1) + k];
    const double lm1 = log(mom[1]);
    /* N beyond e^40 w_max / E w: the corrections to the tilt are O(w_max / (N E w)) < e^-40 relative */
    if (N.log_n > 40.0 - lm1) {
        info->limit = 3;
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
        for (size_t j = 0; j < L; j++) log_pi[j] = lv->log_q[j] + tmp[j] - lm1;
        free(w);
        return ALIM_OK;
    }
    const double nm1 = isfinite(N.n) ? N.n - 1 : exp(N.log_n), lnm1 = log(nm1);
    const double lt0n = -0.5 * lnm1; /* t0 <= 1e-6 / sqrt(N - 1): the second-order expansion holds below t0 */
    double lt0min = INFINITY;
#pragma omp parallel for schedule(static) reduction(min : lt0min) if (L > PAR_MIN)
    for (size_t j = 0; j < L; j++) {
        la[j] = log(w[j] + nm1 * mom[1]); /* a_j = w_j + (N-1) E w */
        const double lt0 = log(1e-6) + fmin(-la[j], lt0n);
        if (lt0 < lt0min) lt0min = lt0;
    }
    const double x0 = lt0min - SOFT_H;
    const double b1 = w[0] + nm1 * w[0], lthr = log(SOFT_TOL) - la[L - 1];
    size_t K = 0, cap = 1024;
    double *A = malloc(cap * sizeof *A);
    if (!A) {
        free(w);
        return alim_error_set(err, ALIM_ENOMEM, "soft best-of-N", "out of memory");
    }
    /* nodes in batches of SOFT_BATCH; where t <= 1/2, sum q expm1(-t w) = sum_k (-t)^k m_k / k! (w <= 1:
     * the terms fall by t/k, SOFT_MOM terms leave < 1e-19 of the first; no cancellation to speak of) */
    for (int done = 0; !done;) {
        double tb_[SOFT_BATCH], lM[SOFT_BATCH];
        size_t nd = 0, first = SOFT_BATCH;
        for (size_t i = 0; i < SOFT_BATCH; i++) {
            tb_[i] = exp(x0 + (double)(K + i) * SOFT_H);
            if (tb_[i] > 0.5 && first == SOFT_BATCH) first = i;
        }
        for (size_t i = 0; i < first; i++) {
            double sm = 0, tp = 1, f = 1;
            for (int k = 1; k <= SOFT_MOM; k++) tp *= -tb_[i], f *= k, sm += tp * mom[k] / f;
            lM[i] = log1p(sm);
        }
        nd = SOFT_BATCH - first;
        if (nd) {
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
            for (size_t c = 0; c < nch; c++) {
                const size_t j0 = c * SOFT_CHUNK, n = L - j0 < SOFT_CHUNK ? L - j0 : SOFT_CHUNK;
                soft_m_batch(q + j0, w + j0, n, tb_ + first, nd, part + 2 * SOFT_BATCH * c);
            }
            for (size_t i = first; i < SOFT_BATCH; i++) {
                double sm1 = 0, sm0 = 0;
                for (size_t c = 0; c < nch; c++)
                    sm1 += part[2 * SOFT_BATCH * c + 2 * (i - first)], sm0 += part[2 * SOFT_BATCH * c + 2 * (i - first) + 1];
                lM[i] = sm1 > -0.5 ? log1p(sm1) : log(sm0);
            }
        }
        for (size_t i = 0; i < SOFT_BATCH; i++, K++) {
            if (K >= SOFT_MAX_NODES) {
                free(A), free(w);
                return alim_error_set(err, ALIM_ERANGE, "soft_lambda", "needs more than %d quadrature nodes", SOFT_MAX_NODES);
            }
            if (K == cap) {
                double *nA = realloc(A, 2 * cap * sizeof *A);
                if (!nA) {
                    free(A), free(w);
                    return alim_error_set(err, ALIM_ENOMEM, "soft best-of-N", "out of memory");
                }
                A = nA, cap *= 2;
            }
            const double x = x0 + (double)K * SOFT_H, t = tb_[i], l = lM[i];
            A[K] = l == 0 ? 0.0 : -exp(lnm1 + log(-l));
            const double tb = t * b1;
            if (tb >= 2 && x + A[K] - t * w[0] + log(SOFT_H * geo((tb - 1) * SOFT_H)) < lthr) {
                K++;
                done = 1;
                break;
            }
        }
    }
    double *xa = malloc(2 * K * sizeof *xa);
    if (!xa) {
        free(A), free(w);
        return alim_error_set(err, ALIM_ENOMEM, "soft best-of-N", "out of memory");
    }
    double *tk = xa + K;
    for (size_t k = 0; k < K; k++) xa[k] = x0 + (double)k * SOFT_H + A[k], tk[k] = exp(x0 + (double)k * SOFT_H);
    /* Pass 2: the trapezoid rules of steps h and 2h (the even nodes) for every level; their difference
     * is the reported error estimate. Below each level's first node k0 the integrand is summed in
     * closed form from f ~ 1 - a t + c2 t^2/2, c2 = a^2 + (N-1) E w^2. */
    const double cm2 = nm1 * mom[2];
    double *sa = s0, *sb = s1; /* raw node sums: every node, even nodes */
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
    for (size_t j = 0; j < L; j++) {
        const double lt0 = log(1e-6) + fmin(-la[j], lt0n);
        k0s[j] = ceil((lt0 - x0) / SOFT_H);
        sa[j] = sb[j] = 0;
    }
    const size_t nb = (L + SOFT_BLOCK - 1) / SOFT_BLOCK;
#pragma omp parallel for schedule(dynamic, 16) if (L > PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        const size_t j0 = b * SOFT_BLOCK, n = L - j0 < SOFT_BLOCK ? L - j0 : SOFT_BLOCK;
        soft_level_block(n, K, xa, tk, w + j0, la + j0, k0s + j0, sa + j0, sb + j0);
    }
    double gm[3][3];
    for (int m = 1; m <= 2; m++)
        for (int i = 0; i < 3; i++) gm[m][i] = geo((i + 1) * m * SOFT_H);
    double serr = 0;
    int bad = 0;
    const double tl = tk[K - 1], lnn = N.log_n;
#pragma omp parallel for reduction(max : serr) reduction(| : bad) if (L > PAR_MIN) schedule(static)
    for (size_t j = 0; j < L; j++) {
        const double a = w[j] + nm1 * mom[1], c2 = a * a + cm2;
        const size_t k0 = (size_t)k0s[j];
        const double S = soft_closed(1, a, c2, k0, tk, K, gm[1]) + SOFT_H * sa[j];
        const double S2 = soft_closed(2, a, c2, k0, tk, K, gm[2]) + 2 * SOFT_H * sb[j];
        /* every level's tail beyond the last node must be negligible (the grid was sized for level 1) */
        const double tb = tl * (w[j] + nm1 * w[0]), gK = exp(xa[K - 1] - tl * w[j] + la[j]); /* the last node */
        if (k0 + 1 >= K || !(tb >= 2 && SOFT_H * gK * geo((tb - 1) * SOFT_H) <= SOFT_TOL * S)) bad = 1;
        const double rel = fabs(S2 / S - 1);
        if (rel > serr) serr = rel;
        log_pi[j] = lnn + lv->log_q[j] + tmp[j] + log(S) - la[j];
    }
    free(xa), free(A);
    if (bad) {
        free(w);
        return alim_error_set(err, ALIM_EINTERNAL, "soft best-of-N", "quadrature grid ended before a level's tail");
    }
    /* normalise (sum pi_j = 1 - M(inf)^N = 1 checks every sum at once) */
    soft_exp_array(log_pi, L, tmp2);
    const double lmass = log(chunked_sum(tmp2, L, part));
#pragma omp parallel for schedule(static) if (L > PAR_MIN)
    for (size_t j = 0; j < L; j++) log_pi[j] -= lmass;
    info->nodes = K;
    info->mass_error = expm1(lmass);
    info->step_error = serr;
    free(w);
    return ALIM_OK;
}

alim_status alim_soft_bon_level_log_probs(const alim_levels *lv, alim_bon_size N, double lambda, double *log_pi,
                                          alim_soft_info *info, alim_error *err)
{
    alim_soft_info dummy;
    if (!info) info = &dummy;
    memset(info, 0, sizeof *info);
    if (isnan(lambda) || lambda < 0)
        return alim_error_set(err, ALIM_EINVAL, "soft_lambda", "lambda must be >= 0 (got %g)", lambda);
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
    {
        double lqmin = 0;
        for (size_t j = 0; j < L; j++)
            if (lv->log_q[j] < lqmin) lqmin = lv->log_q[j];
        if (lambda * (top - lv->v[0]) <= 600 && lqmin >= -600 && N.log_n <= 600)
            return soft_fast(lv, N, lambda, log_pi, info, err);
    }
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
            return alim_error_set(err, ALIM_ERANGE, "soft_lambda",
                                  "lambda (max r - min r) = %g needs more than %d quadrature nodes; use plain best-of-N "
                                  "(soft_lambda = inf) or a smaller lambda",
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
            return alim_error_set(err, ALIM_EINVAL, "mu", "mu must be a finite number >= 0 (got %g)", param);
        N.n = param, N.log_n = log(param);
        alim_bop_level_log_probs(lv, N, log_pi);
        return ALIM_OK;
    case ALIM_METHOD_TILT:
        if (!(param >= 0)) return alim_error_set(err, ALIM_EINVAL, "lambda", "lambda must be >= 0 (got %g)", param);
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
    if (samples < 2) return alim_error_set(err, ALIM_EINVAL, "check_mc", "need at least 2 samples");
    const double M = (double)samples;
    if ((m == ALIM_METHOD_BON || m == ALIM_METHOD_SOFT) &&
        (param != floor(param) || param > (m == ALIM_METHOD_BON ? 1e7 : 1e6) || param * M > 2e10))
        return alim_error_set(err, ALIM_EINVAL, "check_mc",
                              "direct simulation needs an integer N (<= 10^7, soft <= 10^6) and N x samples <= 2e10");
    if (m == ALIM_METHOD_BOP && (param > 1e6 || param * M > 2e10))
        return alim_error_set(err, ALIM_EINVAL, "check_mc", "direct simulation needs mu <= 10^6 and mu x samples <= 2e10");
    const size_t L = lv->n;
    double *lp = malloc(2 * L * sizeof *lp);
    if (!lp) return alim_error_set(err, ALIM_ENOMEM, "check_mc", "out of memory");
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
