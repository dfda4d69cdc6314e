/* bon.c — exact best-of-N in log domain, reward levels, budgets, Monte Carlo (alim/bon.h). */
#include "alim/bon.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "alim/rng.h"

#define PAR_MIN 100000

void alim_levels_free(alim_levels *lv)
{
    if (!lv) return;
    free(lv->v);
    free(lv->log_q);
    free(lv->log_tail);
    free(lv->log_cdf);
    free(lv->order);
    free(lv->start);
    memset(lv, 0, sizeof *lv);
}

static alim_status levels_alloc(alim_levels *lv, size_t n, alim_error *err)
{
    memset(lv, 0, sizeof *lv);
    lv->n = n;
    lv->v = malloc(n * sizeof *lv->v);
    lv->log_q = malloc(n * sizeof *lv->log_q);
    lv->log_tail = malloc(n * sizeof *lv->log_tail);
    lv->log_cdf = malloc(n * sizeof *lv->log_cdf);
    if (!lv->v || !lv->log_q || !lv->log_tail || !lv->log_cdf) {
        alim_levels_free(lv);
        return alim_error_set(err, ALIM_ENOMEM, "levels", "out of memory (%zu levels)", n);
    }
    return ALIM_OK;
}

/* lv->log_q holds *linear* masses on entry; turns them into logs and fills the tails and
 * CDFs (compensated prefix/suffix sums, then log1p(-S) where F >= 1/2). */
static void levels_finish_linear(alim_levels *lv)
{
    const size_t L = lv->n;
    double *q = lv->log_q, *S = lv->log_tail, *F = lv->log_cdf;
    double s = 0, c = 0;
    for (size_t j = L; j-- > 0;) {
        S[j] = s + c;
        double t = s + q[j];
        c += fabs(s) >= fabs(q[j]) ? (s - t) + q[j] : (q[j] - t) + s;
        s = t;
    }
    double total = s + c;
    s = 0, c = 0;
    for (size_t j = 0; j < L; j++) {
        double t = s + q[j];
        c += fabs(s) >= fabs(q[j]) ? (s - t) + q[j] : (q[j] - t) + s;
        s = t;
        F[j] = s + c;
    }
    /* renormalise (rounding leaves the total within a few ulps of 1) */
#pragma omp parallel for if (L > PAR_MIN) schedule(static)
    for (size_t j = 0; j < L; j++) {
        double Sj = S[j] / total, Fj = F[j] / total;
        F[j] = j + 1 == L ? 0.0 : (Fj >= 0.5 ? log1p(-Sj) : log(Fj));
        S[j] = j + 1 == L ? -INFINITY : log(Sj);
        q[j] = log(q[j] / total);
    }
}

static inline double lae(double a, double b) /* log(e^a + e^b) */
{
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

alim_status alim_levels_from_log(const double *v, const double *log_q, size_t n, alim_levels *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    size_t L = 0;
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (log_q[i] > -INFINITY) {
            L++;
            if (log_q[i] > m) m = log_q[i];
        }
    if (L == 0) return alim_error_set(err, ALIM_EINVAL, "levels", "no level has positive mass");
    alim_status st = levels_alloc(out, L, err);
    if (st) return st;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        if (log_q[i] > -INFINITY) s += exp(log_q[i] - m);
    const double ltot = m + log(s);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(log_q[i] > -INFINITY)) continue;
        out->v[k] = v[i];
        out->log_q[k] = log_q[i] - ltot;
        k++;
    }
    double acc = -INFINITY;
    for (size_t j = L; j-- > 0;) {
        out->log_tail[j] = acc;
        acc = lae(acc, out->log_q[j]);
    }
    acc = -INFINITY;
    for (size_t j = 0; j < L; j++) {
        acc = lae(acc, out->log_q[j]);
        double lt = out->log_tail[j];
        if (j + 1 == L) out->log_cdf[j] = 0.0;
        else if (acc >= -M_LN2) out->log_cdf[j] = log1p(-exp(lt));
        else out->log_cdf[j] = acc;
    }
    return ALIM_OK;
}

/* ---- radix sort of (reward, row) ------------------------------------------------------- */

static inline uint64_t key_of(double r)
{
    uint64_t u;
    memcpy(&u, &r, sizeof u);
    return (u >> 63) ? ~u : (u | 0x8000000000000000ULL);
}

static inline double key_value(uint64_t k)
{
    uint64_t u = (k >> 63) ? (k & 0x7fffffffffffffffULL) : ~k;
    double r;
    memcpy(&r, &u, sizeof r);
    return r;
}

enum { RBITS = 11, RB = 1 << RBITS, RPASSES = 6, RTMAX = 16 };

/* Exclusive prefix over (bucket, thread): thread t's first output slot for each bucket. */
static void radix_offsets(size_t (*cnt)[RB], int nt)
{
    size_t sum = 0;
    for (int b = 0; b < RB; b++)
        for (int u = 0; u < nt; u++) {
            size_t x = cnt[u][b];
            cnt[u][b] = sum;
            sum += x;
        }
}

/* Stable LSD radix sort of the support of d (the outcomes with p > 0, in row order) by
 * reward: keys are the order-preserving 64-bit images of the rewards (-0 was made +0 by
 * the reader), sorted with 11-bit digits; the probabilities and rows (idx, optional) are
 * carried along so that the level pass afterwards reads memory in order. The first pass
 * reads d directly and scatters into buffer 0 (ka, va, ia); later passes ping-pong between
 * buffers 0 and 1, digits shared by all keys skipped. Each pass runs on all OpenMP threads:
 * per-thread histograms of contiguous chunks give every thread its own output offsets,
 * which keeps the sort stable (and the result independent of the thread count).
 * Returns the buffer (0 or 1) that holds the sorted support, or -1 when out of memory. */
static int radix_sort(const alim_rdist *d, size_t m, uint64_t *ka, double *va, uint32_t *ia, uint64_t *kb,
                      double *vb, uint32_t *ib)
{
    const size_t n = d->n;
    const double *P = d->p, *R = d->r;
    const int with_idx = ia != NULL;
    int T = m < 500000 ? 1 : omp_get_max_threads();
    if (T > RTMAX) T = RTMAX;
    if (T < 1) T = 1;
    size_t(*glob)[RPASSES][RB] = calloc((size_t)T, sizeof *glob);
    size_t(*cnt)[RB] = calloc((size_t)T, sizeof *cnt);
    if (!glob || !cnt) {
        free(glob), free(cnt);
        return -1;
    }
    /* all digit histograms in one read of d, plus the first pass's per-thread counts */
#pragma omp parallel num_threads(T)
    {
        const int t = omp_get_thread_num(), nt = omp_get_num_threads();
        const size_t i0 = n * (size_t)t / (size_t)nt, i1 = n * (size_t)(t + 1) / (size_t)nt;
        size_t(*g)[RB] = glob[t];
        for (size_t i = i0; i < i1; i++)
            if (P[i] > 0) {
                const uint64_t k = key_of(R[i]);
                for (int p = 0; p < RPASSES; p++) g[p][(k >> (p * RBITS)) & (RB - 1)]++;
            }
        memcpy(cnt[t], g[0], sizeof cnt[0]);
#pragma omp barrier
#pragma omp single
        radix_offsets(cnt, nt);
        size_t *c = cnt[t];
        for (size_t i = i0; i < i1; i++)
            if (P[i] > 0) {
                const uint64_t k = key_of(R[i]);
                const size_t pos = c[k & (RB - 1)]++;
                ka[pos] = k;
                va[pos] = P[i];
                if (with_idx) ia[pos] = (uint32_t)i;
            }
    }
    for (int u = 1; u < T; u++)
        for (int p = 1; p < RPASSES; p++)
            for (int b = 0; b < RB; b++) glob[0][p][b] += glob[u][p][b];
    uint64_t *sk = ka, *dk = kb;
    double *sv = va, *dv = vb;
    uint32_t *si = ia, *di = ib;
    int in = 0;
    for (int p = 1; p < RPASSES; p++) {
        int trivial = 0;
        for (int b = 0; b < RB; b++)
            if (glob[0][p][b] == m) trivial = 1;
        if (trivial) continue;
        const int sh = p * RBITS;
#pragma omp parallel num_threads(T)
        {
            const int t = omp_get_thread_num(), nt = omp_get_num_threads();
            const size_t i0 = m * (size_t)t / (size_t)nt, i1 = m * (size_t)(t + 1) / (size_t)nt;
            size_t *c = cnt[t];
            memset(c, 0, sizeof cnt[0]);
            for (size_t i = i0; i < i1; i++) c[(sk[i] >> sh) & (RB - 1)]++;
#pragma omp barrier
#pragma omp single
            radix_offsets(cnt, nt);
            if (with_idx)
                for (size_t i = i0; i < i1; i++) {
                    size_t pos = c[(sk[i] >> sh) & (RB - 1)]++;
                    dk[pos] = sk[i];
                    dv[pos] = sv[i];
                    di[pos] = si[i];
                }
            else
                for (size_t i = i0; i < i1; i++) {
                    size_t pos = c[(sk[i] >> sh) & (RB - 1)]++;
                    dk[pos] = sk[i];
                    dv[pos] = sv[i];
                }
        }
        /* ping-pong: the destination becomes the source of the next pass */
        uint64_t *tk = sk;
        sk = dk, dk = tk;
        double *tv = sv;
        sv = dv, dv = tv;
        uint32_t *ti = si;
        si = di, di = ti;
        in ^= 1;
    }
    free(glob), free(cnt);
    return in;
}

/* Shrinks a buffer to n doubles, keeping it when realloc cannot (pages already touched
 * are reused: no fresh memory for the level arrays). */
static double *shrink(void *p, size_t n)
{
    void *q = realloc(p, n * sizeof(double));
    return q ? q : p;
}

static alim_status levels_build(const alim_rdist *d, int keep_map, alim_levels *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    const size_t m = d->support;
    if (d->n > UINT32_MAX)
        return alim_error_set(err, ALIM_ERANGE, "levels", "more than 2^32 outcomes are not supported");
    /* two buffers of (key, probability[, row]); after the sort, the level arrays reuse them */
    void *buf[4] = {malloc(m * 8), malloc(m * 8), malloc(m * 8), malloc(m * 8)};
    uint32_t *idx[2] = {NULL, NULL};
    if (keep_map) idx[0] = malloc(m * sizeof *idx[0]), idx[1] = malloc(m * sizeof *idx[1]);
    int in = -1;
    if (buf[0] && buf[1] && buf[2] && buf[3] && (!keep_map || (idx[0] && idx[1])))
        in = radix_sort(d, m, buf[0], buf[1], idx[0], buf[2], buf[3], idx[1]);
    if (in < 0) {
        for (int b = 0; b < 4; b++) free(buf[b]);
        free(idx[0]), free(idx[1]);
        return alim_error_set(err, ALIM_ENOMEM, "levels", "out of memory sorting %zu outcomes", m);
    }
    const uint64_t *key = buf[2 * in];
    const double *val = buf[2 * in + 1];
    double *v = buf[2 - 2 * in], *q = buf[3 - 2 * in]; /* the other buffer */
    free(idx[1 - in]);
    /* merge equal keys into levels (compensated sums of their masses) */
    size_t L = 0;
    size_t *start = NULL;
    if (keep_map) {
        size_t nl = 0;
        for (size_t i = 0; i < m; i++)
            if (i == 0 || key[i] != key[i - 1]) nl++;
        start = malloc((nl + 1) * sizeof *start);
        if (!start) {
            for (int b = 0; b < 4; b++) free(buf[b]);
            free(idx[in]);
            return alim_error_set(err, ALIM_ENOMEM, "levels", "out of memory");
        }
    }
    for (size_t i = 0; i < m;) {
        const uint64_t kv = key[i];
        size_t e = i;
        double s = 0, c = 0;
        while (e < m && key[e] == kv) {
            double pe = val[e], t = s + pe;
            c += fabs(s) >= pe ? (s - t) + pe : (pe - t) + s;
            s = t;
            e++;
        }
        if (keep_map) start[L] = i;
        v[L] = key_value(kv);
        q[L] = s + c; /* linear for now */
        L++;
        i = e;
    }
    out->n = L;
    out->v = shrink(v, L);
    out->log_q = shrink(q, L);
    out->log_tail = shrink(buf[2 * in], L);
    out->log_cdf = shrink(buf[2 * in + 1], L);
    if (keep_map) {
        start[L] = m;
        out->start = start;
        out->order = idx[in];
    }
    levels_finish_linear(out);
    return ALIM_OK;
}

alim_status alim_levels_from_rdist(const alim_rdist *d, alim_levels *out, alim_error *err)
{
    return levels_build(d, 1, out, err);
}

alim_status alim_levels_from_rdist_nomap(const alim_rdist *d, alim_levels *out, alim_error *err)
{
    return levels_build(d, 0, out, err);
}

alim_status alim_levels_ordered(const alim_rdist *d, const alim_levels *merged, alim_levels *out, alim_error *err)
{
    if (!merged->order) return alim_error_set(err, ALIM_EINTERNAL, "levels", "merged levels without an outcome map");
    const size_t m = merged->start[merged->n];
    alim_status st = levels_alloc(out, m, err);
    if (st) return st;
    for (size_t i = 0; i < m; i++) {
        out->v[i] = d->r[merged->order[i]];
        out->log_q[i] = d->p[merged->order[i]];
    }
    levels_finish_linear(out);
    return ALIM_OK;
}

/* ---- N --------------------------------------------------------------------------------- */

alim_status alim_bon_size_from_n(double n, alim_bon_size *out, alim_error *err)
{
    if (isnan(n) || n < 1 || isinf(n))
        return alim_error_set(err, ALIM_EINVAL, "n", "N must be a finite number >= 1 (got %g)", n);
    out->n = n;
    out->log_n = log(n);
    return ALIM_OK;
}

alim_status alim_bon_size_from_log(double log_n, alim_bon_size *out, alim_error *err)
{
    if (isnan(log_n) || log_n < 0 || isinf(log_n))
        return alim_error_set(err, ALIM_EINVAL, "log_n", "log N must be finite and >= 0 (got %g)", log_n);
    out->log_n = log_n;
    out->n = exp(log_n);
    return ALIM_OK;
}

/* N * m for m >= 0, given lm = log m (used when m is subnormal/zero or N overflows). */
static inline double n_times(alim_bon_size N, double m, double lm)
{
    if (lm == -INFINITY) return 0.0;
    if (isfinite(N.n) && m >= DBL_MIN) return N.n * m;
    return exp(N.log_n + lm);
}

/* N * m for a normal m > 0 (log m computed only when N is not finite). */
static inline double n_times_normal(alim_bon_size N, double m)
{
    return isfinite(N.n) ? N.n * m : exp(N.log_n + log(m));
}

/* N (-log F_j) >= 0. */
static inline double n_mlogf(const alim_levels *lv, alim_bon_size N, size_t j)
{
    double m = -lv->log_cdf[j];
    if (m >= DBL_MIN) return n_times_normal(N, m);
    if (lv->log_tail[j] == -INFINITY) return 0.0;
    return n_times(N, m, lv->log_tail[j]); /* -log F = S (1 + S/2 + ...) with S < 1e-300 */
}

/* log P_j = N log F_j + log(1 - (F_{j-1}/F_j)^N). */
/* 1 - (F_{j-1}/F_j)^N = -expm1(N log(F_{j-1}/F_j)), from log(F_{j-1}/F_j) = log1p(-q_j/F_j). */
static inline double level_one_minus(const alim_levels *lv, alim_bon_size N, size_t j)
{
    if (j == 0) return 1.0;
    double lx = lv->log_q[j] - lv->log_cdf[j];
    if (lx > 0) lx = 0;
    double nmd;
    if (lx < -40) { /* -log1p(-x) = x (1 + x/2 + ...) */
        double x = exp(lx), md = x * (1 + 0.5 * x);
        nmd = n_times(N, md, lx + log1p(0.5 * x));
    } else {
        double md = -log1p(-exp(lx));
        nmd = md == INFINITY ? INFINITY : n_times_normal(N, md);
    }
    return -expm1(-nmd);
}

/* log P_j = N log F_j + log(1 - (F_{j-1}/F_j)^N). */
static inline double level_log_prob(const alim_levels *lv, alim_bon_size N, size_t j, double nmlf)
{
    return -nmlf + log(level_one_minus(lv, N, j));
}

void alim_bon_level_log_probs(const alim_levels *lv, alim_bon_size N, double *log_p)
{
    const size_t L = lv->n;
#pragma omp parallel for if (L > PAR_MIN) schedule(static)
    for (size_t j = 0; j < L; j++) log_p[j] = level_log_prob(lv, N, j, n_mlogf(lv, N, j));
}

double alim_bon_kl_bound(alim_bon_size N)
{
    if (!isfinite(N.n)) return N.log_n - 1.0;
    if (N.n < 2) return log1p(N.n - 1) - (N.n - 1) / N.n;
    return N.log_n - 1.0 + 1.0 / N.n;
}

double alim_bon_kl_one_atom(double eps, alim_bon_size N)
{
    if (!(eps >= 0 && eps <= 1)) return NAN;
    if (eps == 0) return alim_bon_kl_bound(N);
    if (eps == 1) return 0.0;
    double lc = log1p(-eps), mlc = -lc;
    double nl = n_times(N, mlc, log(mlc)); /* -N log c */
    double cN = exp(-nl), omc = -expm1(-nl);
    double t1 = 0;
    if (cN > 0) {
        double nm1 = isfinite(N.n) ? N.n - 1 : INFINITY;
        double a = N.log_n + (nm1 == INFINITY ? -nl : nm1 * lc) - (isfinite(N.n) ? (N.n - 1) / N.n : 1.0);
        t1 = cN * a;
    }
    double t2 = omc > 0 ? omc * (log(omc) - log(eps)) : 0;
    double kl = t1 + t2;
    return kl > 0 ? kl : 0;
}

void alim_bon_eval(const alim_levels *lv, alim_bon_size N, alim_bon_result *out)
{
    const size_t L = lv->n;
    double kl = 0, er = 0, ws = 0, wh = 0;
    /* contiguous chunks per thread, so that S_{j-1} is carried from one level to the next */
#pragma omp parallel reduction(+ : kl, er, ws, wh) if (L > PAR_MIN)
    {
        const size_t t = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
        const size_t j0 = L * t / nt, j1 = L * (t + 1) / nt;
        double sprev = j0 > 0 ? exp(lv->log_tail[j0 - 1]) : 1.0;
        for (size_t j = j0; j < j1; j++) {
            const double nmlf = n_mlogf(lv, N, j), fn = exp(-nmlf), om = level_one_minus(lv, N, j);
            const double P = fn * om; /* F_j^N - F_{j-1}^N */
            if (P > 0) kl += P * ((-nmlf + log(om)) - lv->log_q[j]);
            if (j + 1 < L) er += (lv->v[j + 1] - lv->v[j]) * fn;
            /* losses: P_j S_{j-1} (strict) and P_j (S_{j-1} + S_j)/2, accurate when the win rate is near 1 */
            const double sj = exp(lv->log_tail[j]);
            ws += P * sprev;
            wh += P * 0.5 * (sprev + sj);
            sprev = sj;
        }
    }
    ws = 1.0 - ws;
    wh = 1.0 - wh;
    if (ws < 0) ws = 0;
    if (wh < 0) wh = 0;
    out->kl_nats = kl > 0 ? kl : 0;
    out->kl_bound_nats = alim_bon_kl_bound(N);
    out->reward = lv->v[L - 1] - er;
    out->win_rate = wh;
    out->win_rate_strict = ws;
    out->top_prob = L > 1 ? -expm1(-n_mlogf(lv, N, L - 2)) : 1.0;
    out->kl_one_atom_nats = alim_bon_kl_one_atom(exp(lv->log_q[L - 1]), N);
}

double alim_bon_kl(const alim_levels *lv, alim_bon_size N)
{
    const size_t L = lv->n;
    double kl = 0;
#pragma omp parallel for reduction(+ : kl) if (L > PAR_MIN) schedule(static)
    for (size_t j = 0; j < L; j++) {
        double lp = level_log_prob(lv, N, j, n_mlogf(lv, N, j));
        double P = exp(lp);
        if (P > 0) kl += P * (lp - lv->log_q[j]);
    }
    return kl > 0 ? kl : 0;
}

static double bon_reward(const alim_levels *lv, alim_bon_size N)
{
    double er = 0;
    for (size_t j = 0; j + 1 < lv->n; j++) er += (lv->v[j + 1] - lv->v[j]) * exp(-n_mlogf(lv, N, j));
    return lv->v[lv->n - 1] - er;
}

alim_status alim_bon_policy(const alim_rdist *d, const alim_levels *merged, const alim_levels *ordered,
                            alim_bon_size N, alim_ties ties, double *pi, alim_error *err)
{
    if (!merged->order) return alim_error_set(err, ALIM_EINTERNAL, "bon", "levels without an outcome map");
    for (size_t i = 0; i < d->n; i++) pi[i] = 0.0;
    const uint32_t *ord = merged->order;
    if (ties == ALIM_TIES_ORDERED) {
        if (!ordered || ordered->n != merged->start[merged->n])
            return alim_error_set(err, ALIM_EINTERNAL, "bon", "ORDERED ties need the ordered levels");
#pragma omp parallel for if (ordered->n > PAR_MIN) schedule(static)
        for (size_t i = 0; i < ordered->n; i++) pi[ord[i]] = exp(level_log_prob(ordered, N, i, n_mlogf(ordered, N, i)));
        return ALIM_OK;
    }
    const size_t L = merged->n;
#pragma omp parallel for if (L > PAR_MIN) schedule(static)
    for (size_t j = 0; j < L; j++) {
        double g = level_log_prob(merged, N, j, n_mlogf(merged, N, j)) - merged->log_q[j];
        for (size_t k = merged->start[j]; k < merged->start[j + 1]; k++) pi[ord[k]] = exp(log(d->p[ord[k]]) + g);
    }
    return ALIM_OK;
}

double alim_bon_bound_inverse(double kl)
{
    if (isnan(kl) || kl < 0) return NAN;
    if (kl == 0) return 1.0;
    if (isinf(kl)) return INFINITY;
    /* g(u) = u - 1 + e^{-u} - kl, u = log N in [0, kl + 1], increasing */
    double lo = 0, hi = kl + 1, u = kl < 0.5 ? sqrt(2 * kl) : kl + 1 - exp(-(kl + 1));
    for (int it = 0; it < 200; it++) {
        double g = (u < 1e-4 ? u * u / 2 - u * u * u / 6 + u * u * u * u / 24 : u - 1 + exp(-u)) - kl;
        if (g > 0) hi = u;
        else lo = u;
        double dg = -expm1(-u);
        double nu = u - g / dg;
        if (!(nu > lo && nu < hi)) nu = 0.5 * (lo + hi);
        if (fabs(nu - u) <= 1e-16 * u) {
            u = nu;
            break;
        }
        u = nu;
    }
    return exp(u);
}

static double kl_at(const alim_levels *lv, double n)
{
    alim_bon_size N = {n, log(n)};
    return alim_bon_kl(lv, N);
}

alim_status alim_bon_budget_kl(const alim_levels *lv, double kl, alim_bon_budget *out, alim_error *err)
{
    if (isnan(kl) || kl < 0) return alim_error_set(err, ALIM_EINVAL, "kl", "KL budget must be >= 0 (got %g)", kl);
    out->n_bound = floor(alim_bon_bound_inverse(kl));
    out->verified = 0;
    const double ksup = 0.0 - lv->log_q[lv->n - 1];
    if (lv->n == 1 || kl >= ksup) {
        out->n_max = INFINITY;
        out->kl_at_n = ksup;
        return ALIM_OK;
    }
    double lo = 1, hi = 2;
    while (kl_at(lv, hi) <= kl) {
        lo = hi;
        hi *= 2;
        if (hi > 0x1p53) break;
    }
    if (hi <= 0x1p53) {
        while (hi - lo > 1) {
            double mid = floor(0.5 * (lo + hi));
            if (kl_at(lv, mid) <= kl) lo = mid;
            else hi = mid;
        }
    }
    /* exhaustive check below the answer when affordable */
    if (lo <= 1e5 && lo * (double)lv->n <= 2e8) {
        out->verified = 1;
        for (double m = 2; m <= lo; m++)
            if (kl_at(lv, m) > kl) {
                lo = m - 1;
                break;
            }
    }
    out->n_max = lo;
    out->kl_at_n = kl_at(lv, lo);
    return ALIM_OK;
}

alim_status alim_bon_min_n_for_reward(const alim_levels *lv, double target, double *n, alim_error *err)
{
    if (isnan(target)) return alim_error_set(err, ALIM_EINVAL, "reward", "target reward is NaN");
    const double top = lv->v[lv->n - 1];
    alim_bon_size one = {1, 0};
    if (bon_reward(lv, one) >= target) {
        *n = 1;
        return ALIM_OK;
    }
    if (target >= top) {
        *n = INFINITY;
        return ALIM_OK;
    }
    /* E r rises with N (each F_j^N falls), so doubling then bisection is exact. */
    double lo = 1, hi = 2;
    for (;;) {
        alim_bon_size N = {hi, log(hi)};
        if (bon_reward(lv, N) >= target) break;
        lo = hi;
        hi *= 2;
        if (!isfinite(hi) || hi > 1e300) {
            *n = INFINITY;
            return ALIM_OK;
        }
    }
    while (hi - lo > 1 && hi - lo > 1e-15 * hi) {
        double mid = hi <= 0x1p53 ? floor(0.5 * (lo + hi)) : sqrt(lo * hi);
        alim_bon_size N = {mid, log(mid)};
        if (bon_reward(lv, N) >= target) hi = mid;
        else lo = mid;
    }
    *n = hi;
    return ALIM_OK;
}

/* ---- Monte Carlo ------------------------------------------------------------------------ */

/* least j with log F_j >= lu (lu = log U, U uniform): a draw from the levels' law */
static size_t draw_level(const alim_levels *lv, double lu)
{
    size_t lo = 0, hi = lv->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lv->log_cdf[mid] >= lu) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* log(-log F_j), -inf at the top */
static inline double llf(const alim_levels *lv, size_t j)
{
    double m = -lv->log_cdf[j];
    if (m >= DBL_MIN) return log(m);
    return lv->log_tail[j];
}

/* least j with F_j^N >= U  <=>  log(-log F_j) <= log(-log U) - log N */
static size_t draw_bon_level(const alim_levels *lv, alim_bon_size N, double u)
{
    double thr = log(-log(u)) - N.log_n;
    size_t lo = 0, hi = lv->n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (llf(lv, mid) <= thr) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

static alim_mc_estimate mean_ci(double s, double s2, double m)
{
    alim_mc_estimate e;
    e.mean = s / m;
    double var = (s2 - s * s / m) / (m - 1);
    double h = 1.959963984540054 * sqrt(var > 0 ? var / m : 0);
    e.lo = e.mean - h;
    e.hi = e.mean + h;
    return e;
}

alim_status alim_bon_mc(const alim_levels *lv, alim_bon_size N, size_t samples, uint64_t seed, int direct,
                        alim_bon_mc_result *out, alim_error *err)
{
    if (samples < 2) return alim_error_set(err, ALIM_EINVAL, "check_mc", "need at least 2 samples");
    if (direct && (N.n != floor(N.n) || N.n > 1e7 || N.n * (double)samples > 2e10))
        return alim_error_set(err, ALIM_EINVAL, "n",
                              "direct simulation needs an integer N <= 10^7 and N x samples <= 2e10");
    alim_rng rng;
    alim_rng_seed(&rng, seed, 0);
    double sr = 0, sr2 = 0, sk = 0, sk2 = 0, sw = 0, sw2 = 0, ss = 0;
    const double m = (double)samples;
    for (size_t t = 0; t < samples; t++) {
        size_t j;
        if (direct) {
            j = 0;
            for (double k = 0; k < N.n; k++) {
                size_t jj = draw_level(lv, log(alim_rng_uniform_pos(&rng)));
                if (jj > j) j = jj;
            }
        } else {
            j = draw_bon_level(lv, N, alim_rng_uniform_pos(&rng));
        }
        size_t jo = draw_level(lv, log(alim_rng_uniform_pos(&rng)));
        double r = lv->v[j];
        double lg = level_log_prob(lv, N, j, n_mlogf(lv, N, j)) - lv->log_q[j];
        double w = j > jo ? 1.0 : (j == jo ? 0.5 : 0.0);
        double s = j > jo ? 1.0 : 0.0;
        sr += r, sr2 += r * r;
        sk += lg, sk2 += lg * lg;
        sw += w, sw2 += w * w;
        ss += s;
    }
    out->samples = samples;
    out->reward = mean_ci(sr, sr2, m);
    out->kl_nats = mean_ci(sk, sk2, m);
    out->win_rate = mean_ci(sw, sw2, m);
    /* Wilson interval for the strict win rate */
    const double z = 1.959963984540054, ph = ss / m, z2 = z * z;
    double center = (ph + z2 / (2 * m)) / (1 + z2 / m);
    double half = z / (1 + z2 / m) * sqrt(ph * (1 - ph) / m + z2 / (4 * m * m));
    out->win_rate_strict.mean = ph;
    out->win_rate_strict.lo = center - half;
    out->win_rate_strict.hi = center + half;
    return ALIM_OK;
}

/* W(c) and KL(c) of the quantile tilt, stable for small and large c */
static void qtilt(double c, double *w, double *kl)
{
    if (c < 1e-3) {
        double c2 = c * c;
        *w = 0.5 + c / 12 - c2 * c / 720;
        *kl = c2 / 24 - c2 * c2 / 2880;
        return;
    }
    double om = -expm1(-c); /* 1 - e^{-c} */
    *w = 1.0 / om - 1.0 / c;
    *kl = log(c) - c - log(om) + c * *w;
}

double alim_bon_win_rate_optimal(double kl, double *c_out)
{
    if (isnan(kl) || kl < 0) return NAN;
    if (kl == 0) {
        if (c_out) *c_out = 0;
        return 0.5;
    }
    double lo = 0, hi = 1, w, k;
    for (qtilt(hi, &w, &k); k < kl && hi < 1e300; qtilt(hi, &w, &k)) lo = hi, hi *= 2;
    for (int it = 0; it < 200 && hi - lo > 1e-16 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        qtilt(mid, &w, &k);
        if (k < kl) lo = mid;
        else hi = mid;
    }
    double c = 0.5 * (lo + hi);
    qtilt(c, &w, &k);
    if (c_out) *c_out = c;
    return w;
}
