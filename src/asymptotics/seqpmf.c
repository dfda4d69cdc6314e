/* seqpmf.c — reward PMFs of memoryless sequences; finite-n BoN vs KL-RL (alim/seqpmf.h). */
#include "alim/seqpmf.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/rng.h"

int alim_seqpmf_lattice_detect(const alim_rdist *d, double tol, size_t max_k, double *a, double *h, size_t *kmax)
{
    const double a0 = d->r_min, span = d->r_max - d->r_min;
    if (span == 0) {
        *a = a0, *h = 1.0, *kmax = 0;
        return 1;
    }
    const double scale = fmax(fmax(fabs(d->r_max), fabs(d->r_min)), span);
    const double atol = tol * scale;
    /* real gcd of the differences, with tolerance */
    double g = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (!(d->p[i] > 0)) continue;
        double x = d->r[i] - a0;
        if (x <= atol) continue;
        if (g == 0) {
            g = x;
            continue;
        }
        double u = g > x ? g : x, v = g > x ? x : g;
        while (v > atol) {
            double rem = fmod(u, v);
            if (v - rem <= atol) rem = 0;
            u = v;
            v = rem;
        }
        g = u;
        if (span / g > (double)max_k) return 0;
    }
    if (g <= 0) return 0;
    double kd = round(span / g);
    if (kd < 1 || kd > (double)max_k) return 0;
    double hh = span / kd;
    for (size_t i = 0; i < d->n; i++) {
        if (!(d->p[i] > 0)) continue;
        double k = round((d->r[i] - a0) / hh);
        if (fabs(d->r[i] - (a0 + k * hh)) > atol) return 0;
    }
    *a = a0, *h = hh, *kmax = (size_t)kd;
    return 1;
}

/* ---- scaled arrays: value(s) = v[s - lo] * exp(ls) ------------------------------------ */

typedef struct {
    double *v;
    size_t lo, len;
    double ls;
} sarr;

static void sarr_free(sarr *a)
{
    free(a->v);
    a->v = NULL;
    a->len = 0;
}

/* Rescales to max 1 and trims entries below floor (and zeros) from both ends. */
static void sarr_normalise(sarr *a, double floor)
{
    double m = 0;
    for (size_t i = 0; i < a->len; i++)
        if (a->v[i] > m) m = a->v[i];
    if (m == 0) return;
    double inv = 1.0 / m;
    for (size_t i = 0; i < a->len; i++) a->v[i] *= inv;
    a->ls += log(m);
    size_t b = 0, e = a->len;
    while (b < e && !(a->v[b] > floor)) b++;
    while (e > b && !(a->v[e - 1] > floor)) e--;
    if (b > 0) memmove(a->v, a->v + b, (e - b) * sizeof *a->v);
    a->lo += b;
    a->len = e - b;
}

static int sarr_conv(const sarr *a, const sarr *b, double floor, sarr *out)
{
    const size_t la = a->len, lb = b->len, lo = la + lb - 1;
    double *o = calloc(lo, sizeof *o);
    if (!o) return -1;
    const double *av = a->v, *bv = b->v;
    enum { BS = 4096 };
    const size_t nblk = (lo + BS - 1) / BS;
#pragma omp parallel for schedule(dynamic, 1) if ((double)la * (double)lb > 1e6)
    for (size_t blk = 0; blk < nblk; blk++) {
        size_t s0 = blk * BS, s1 = s0 + BS < lo ? s0 + BS : lo;
        for (size_t i = 0; i < la && i < s1; i++) {
            double ai = av[i];
            if (ai == 0) continue;
            size_t jlo = s0 > i ? s0 - i : 0, jhi = s1 - i < lb ? s1 - i : lb;
            double *oi = o + i;
            for (size_t j = jlo; j < jhi; j++) oi[j] += ai * bv[j];
        }
    }
    out->v = o;
    out->len = lo;
    out->lo = a->lo + b->lo;
    out->ls = a->ls + b->ls;
    sarr_normalise(out, floor);
    return 0;
}

static int sarr_copy(const sarr *a, sarr *out)
{
    out->v = malloc(a->len * sizeof *out->v);
    if (!out->v) return -1;
    memcpy(out->v, a->v, a->len * sizeof *a->v);
    out->len = a->len, out->lo = a->lo, out->ls = a->ls;
    return 0;
}

static alim_status lattice_pmf(const alim_rdist *d, size_t n, double a, double h, size_t K, int rounded,
                               double theta, double floor, alim_levels *out, alim_seqpmf_info *info,
                               const alim_progress *prog, alim_error *err)
{
    /* token weights w_k = sum_{k(x) = k} p(x) e^{theta h k}, as a scaled array */
    double *lw = malloc((K + 1) * sizeof *lw);
    if (!lw) return alim_error_set(err, ALIM_ENOMEM, "seq", "out of memory");
    for (size_t k = 0; k <= K; k++) lw[k] = -INFINITY;
    for (size_t i = 0; i < d->n; i++) {
        if (!(d->p[i] > 0)) continue;
        double kk = K == 0 ? 0 : round((d->r[i] - a) / h);
        if (kk < 0) kk = 0;
        if (kk > (double)K) kk = (double)K;
        size_t k = (size_t)kk;
        double t = log(d->p[i]);
        lw[k] = lw[k] == -INFINITY ? t : (lw[k] > t ? lw[k] + log1p(exp(t - lw[k])) : t + log1p(exp(lw[k] - t)));
    }
    double m = -INFINITY;
    for (size_t k = 0; k <= K; k++) {
        if (lw[k] > -INFINITY) lw[k] += theta * h * (double)k;
        if (lw[k] > m) m = lw[k];
    }
    sarr base = {malloc((K + 1) * sizeof(double)), 0, K + 1, m}, acc = {NULL, 0, 0, 0};
    if (!base.v) {
        free(lw);
        return alim_error_set(err, ALIM_ENOMEM, "seq", "out of memory");
    }
    for (size_t k = 0; k <= K; k++) base.v[k] = exp(lw[k] - m);
    free(lw);
    sarr_normalise(&base, floor);
    int bits = 0;
    for (size_t t = n; t; t >>= 1) bits++;
    int step = 0;
    for (size_t t = n; t; t >>= 1, step++) {
        if (t & 1) {
            sarr nx;
            int rc = acc.v ? sarr_conv(&acc, &base, floor, &nx) : sarr_copy(&base, &nx);
            if (rc) {
                sarr_free(&acc), sarr_free(&base);
                return alim_error_set(err, ALIM_ENOMEM, "seq", "out of memory in the convolution");
            }
            sarr_free(&acc);
            acc = nx;
        }
        if (t > 1) {
            sarr sq;
            if (sarr_conv(&base, &base, floor, &sq)) {
                sarr_free(&acc), sarr_free(&base);
                return alim_error_set(err, ALIM_ENOMEM, "seq", "out of memory in the convolution");
            }
            sarr_free(&base);
            base = sq;
        }
        if (alim_progress_report(prog, "sequence PMF", step + 1, bits)) break;
    }
    sarr_free(&base);
    /* un-tilt: log q(s) = log v + ls - theta h s; reward n a + h s */
    const size_t W = acc.len;
    double *v = malloc((W + 1) * sizeof *v), *lq = malloc((W + 1) * sizeof *lq);
    if (!v || !lq) {
        free(v), free(lq), sarr_free(&acc);
        return alim_error_set(err, ALIM_ENOMEM, "seq", "out of memory");
    }
    double lmax = -INFINITY;
    for (size_t i = 0; i < W; i++) {
        double s = (double)(acc.lo + i);
        v[i + 1] = (double)n * a + h * s;
        lq[i + 1] = acc.v[i] > 0 ? log(acc.v[i]) + acc.ls - theta * h * s : -INFINITY;
        if (lq[i + 1] > lmax) lmax = lq[i + 1];
    }
    double sum = 0;
    for (size_t i = 1; i <= W; i++)
        if (lq[i] > -INFINITY) sum += exp(lq[i] - lmax);
    const double lsum = lmax + log(sum); /* log of the window's mass (<= 0 up to rounding) */
    info->lumped = 0;
    info->lump_log_mass = -INFINITY;
    size_t first = 1;
    if (acc.lo > 0 && lsum < -1e-14) {
        lq[0] = log(-expm1(lsum));
        v[0] = (double)n * a + h * ((double)acc.lo - 1);
        info->lumped = 1;
        info->lump_log_mass = lq[0];
        first = 0;
    }
    /* rough bound on the trimmed top mass: at most floor x max per lattice point */
    const double top = (double)n * (double)K;
    double hi_s = (double)(acc.lo + W - 1);
    info->log_top_dropped = hi_s < top ? log(floor > 0 ? floor : DBL_MIN) + acc.ls - theta * h * (hi_s + 1) + log(top - hi_s) : -INFINITY;
    sarr_free(&acc);
    alim_status st = alim_levels_from_log(v + first, lq + first, W + 1 - first, out, err);
    free(v), free(lq);
    if (st) return st;
    info->lattice = 1;
    info->a = a, info->h = h, info->kmax = K, info->rounded = rounded;
    info->theta = theta, info->floor = floor;
    info->levels = out->n;
    info->types = 0;
    return ALIM_OK;
}

/* ---- type enumeration -------------------------------------------------------------------- */

typedef struct {
    double r, lp;
} rl_pair;

static int cmp_pair(const void *x, const void *y)
{
    double a = ((const rl_pair *)x)->r, b = ((const rl_pair *)y)->r;
    return (a > b) - (a < b);
}

static alim_status types_pmf(const alim_rdist *d, size_t n, double merge_tol, double max_types, alim_levels *out,
                             alim_seqpmf_info *info, alim_error *err)
{
    /* distinct token rewards with their masses */
    alim_levels tl;
    alim_status st = alim_levels_from_rdist(d, &tl, err);
    if (st) return st;
    const size_t V = tl.n;
    double count = 1; /* C(n + V - 1, V - 1) */
    for (size_t k = 1; k < V; k++) count = count * (double)(n + k) / (double)k;
    if (count > max_types) {
        alim_levels_free(&tl);
        return alim_error_set(err, ALIM_EINVAL, "length",
                              "the rewards are not on a lattice and enumerating the %.3g count vectors of n = %zu "
                              "over %zu reward values exceeds the limit %.3g; round them with a lattice_step > 0",
                              count, n, V, max_types);
    }
    size_t M = (size_t)(count + 0.5);
    rl_pair *pr = malloc(M * sizeof *pr);
    size_t *c = calloc(V, sizeof *c);
    if (!pr || !c) {
        free(pr), free(c), alim_levels_free(&tl);
        return alim_error_set(err, ALIM_ENOMEM, "seq", "out of memory for %zu types", M);
    }
    const double lgn = lgamma((double)n + 1);
    /* all compositions c of n into V parts (Nijenhuis & Wilf's NEXCOM), from (n,0,..,0) */
    c[0] = n;
    size_t k = 0, t = n, hh = 0;
    for (;;) {
        double lp = lgn, r = 0;
        for (size_t x = 0; x < V; x++) {
            if (!c[x]) continue;
            lp += (double)c[x] * tl.log_q[x] - lgamma((double)c[x] + 1);
            r += (double)c[x] * tl.v[x];
        }
        pr[k].r = r, pr[k].lp = lp;
        k++;
        if (c[V - 1] == n || k >= M) break;
        if (t > 1) hh = 0;
        hh++;
        t = c[hh - 1];
        c[hh - 1] = 0;
        c[0] = t - 1;
        c[hh]++;
    }
    free(c);
    M = k;
    double rmaxabs = 0;
    for (size_t x = 0; x < V; x++) rmaxabs = fmax(rmaxabs, fabs(tl.v[x]));
    alim_levels_free(&tl);
    qsort(pr, M, sizeof *pr, cmp_pair);
    const double tol = merge_tol * (double)n * (rmaxabs > 0 ? rmaxabs : 1);
    double *v = malloc(M * sizeof *v), *lq = malloc(M * sizeof *lq);
    if (!v || !lq) {
        free(pr), free(v), free(lq);
        return alim_error_set(err, ALIM_ENOMEM, "seq", "out of memory");
    }
    size_t L = 0;
    for (size_t i = 0; i < M; i++) {
        if (L > 0 && pr[i].r - pr[i - 1].r <= tol) {
            double a = lq[L - 1], b = pr[i].lp, mx = a > b ? a : b;
            lq[L - 1] = mx + log1p(exp(-fabs(a - b)));
        } else {
            v[L] = pr[i].r;
            lq[L] = pr[i].lp;
            L++;
        }
    }
    free(pr);
    st = alim_levels_from_log(v, lq, L, out, err);
    free(v), free(lq);
    if (st) return st;
    info->lattice = 0;
    info->a = info->h = NAN;
    info->kmax = 0;
    info->rounded = 0;
    info->theta = 0;
    info->floor = 0;
    info->levels = out->n;
    info->lumped = 0;
    info->lump_log_mass = -INFINITY;
    info->log_top_dropped = -INFINITY;
    info->types = (double)M;
    return ALIM_OK;
}

alim_status alim_seqpmf_compute(const alim_rdist *d, size_t n, const alim_seqpmf_options *opt, alim_levels *out,
                                alim_seqpmf_info *info, const alim_progress *prog, alim_error *err)
{
    const alim_seqpmf_options def = ALIM_SEQPMF_OPTIONS_DEFAULT;
    if (!opt) opt = &def;
    memset(out, 0, sizeof *out);
    memset(info, 0, sizeof *info);
    if (n == 0) return alim_error_set(err, ALIM_EINVAL, "length", "sequence length must be >= 1");
    double a, h;
    size_t K;
    int lat = 0, rounded = 0;
    if (opt->lattice_step > 0) {
        a = d->r_min, h = opt->lattice_step;
        double kd = ceil((d->r_max - d->r_min) / h - 1e-9);
        if (kd > (double)opt->max_lattice)
            return alim_error_set(err, ALIM_EINVAL, "lattice_step", "step %g gives %.0f > %zu lattice points", h, kd,
                                  opt->max_lattice);
        K = (size_t)kd;
        lat = 1;
        rounded = 1;
    } else if (opt->method != ALIM_SEQPMF_TYPES) {
        lat = alim_seqpmf_lattice_detect(d, opt->lattice_tol, opt->max_lattice, &a, &h, &K);
        if (!lat && opt->method == ALIM_SEQPMF_LATTICE)
            return alim_error_set(err, ALIM_EINVAL, "method", "the rewards are not on a lattice (tolerance %g)",
                                  opt->lattice_tol);
    }
    if (!lat) return types_pmf(d, n, opt->merge_tol, opt->max_types, out, info, err);
    double support = (double)n * (double)K + 1;
    if (opt->method == ALIM_SEQPMF_AUTO && !rounded) {
        /* a sparse lattice (few tokens, a wide reward span) is cheaper to enumerate by types */
        size_t V = 0;
        {
            alim_levels tl;
            if (alim_levels_from_rdist_nomap(d, &tl, NULL) == ALIM_OK) V = tl.n, alim_levels_free(&tl);
        }
        double count = 1;
        for (size_t k = 1; k < V && count <= 1e300; k++) count = count * (double)(n + k) / (double)k;
        if (V > 0 && count <= 2e6 && count < support / 4) return types_pmf(d, n, opt->merge_tol, opt->max_types, out, info, err);
    }
    if (support > 4e8)
        return alim_error_set(err, ALIM_EINVAL, "length",
                              "the reward of a sequence takes %.3g lattice values (limit 4e8); a coarser "
                              "lattice_step rounds the rewards onto fewer values",
                              support);
    double floor = opt->window_floor;
    if (floor < 0) floor = support <= 20000 ? 0.0 : 1e-30;
    double theta = isnan(opt->theta) ? 0.0 : opt->theta;
    return lattice_pmf(d, n, a, h, K, rounded, theta, floor, out, info, prog, err);
}

/* ---- finite-n comparison -------------------------------------------------------------- */

/* The tilt that centres the sequence PMF where best-of-N with N draws lives: lambda*(log N / n),
 * or, when that saturates, a tilt leaving mass ~1/n off the top. */
static alim_status choose_theta(const alim_rdist *d, size_t n, alim_bon_size N, double *theta, alim_error *err)
{
    const double kinf = alim_tilt_kl_max(d), de = N.log_n / (double)n;
    alim_tilt_solution s;
    double target = de < kinf * (1 - 1e-9) ? de : kinf - fmin(0.5 * kinf, 1.0 / (double)n);
    if (d->r_max == d->r_min) target = 0;
    alim_status st = alim_tilt_solve_kl(d, target, &s, err);
    if (st) return st;
    *theta = isfinite(s.pt.lambda) ? s.pt.lambda : 0.0;
    return ALIM_OK;
}

alim_status alim_seq_compare(const alim_rdist *d, size_t n, double delta, alim_bon_size N,
                             const alim_seqpmf_options *opt, alim_seq_result *out, const alim_progress *prog,
                             alim_error *err)
{
    const alim_seqpmf_options def = ALIM_SEQPMF_OPTIONS_DEFAULT;
    if (!opt) opt = &def;
    memset(out, 0, sizeof *out);
    if (n == 0) return alim_error_set(err, ALIM_EINVAL, "length", "sequence length must be >= 1");
    if (isnan(delta) || delta < 0)
        return alim_error_set(err, ALIM_EINVAL, "kl_per_token", "KL budget must be >= 0 (got %g)", delta);
    out->n = n;
    out->N = N;
    out->delta_nats = delta;
    alim_status st = alim_tilt_solve_kl(d, delta, &out->rl, err);
    if (st) return st;
    /* tilt of the lattice window: where BoN lives */
    alim_seqpmf_options o = *opt;
    if (isnan(o.theta) && (st = choose_theta(d, n, N, &o.theta, err))) return st;
    alim_levels lv;
    for (int attempt = 0; attempt < 2; attempt++) {
        st = alim_seqpmf_compute(d, n, &o, &lv, &out->pmf, prog, err);
        if (st) return st;
        int ok = 1;
        if (out->pmf.lumped) { /* BoN mass on the lump: F_lump^N */
            double lp[1];
            alim_levels one = lv;
            one.n = 1;
            alim_bon_level_log_probs(&one, N, lp);
            if (lp[0] > log(1e-25)) ok = 0;
        }
        if (out->pmf.log_top_dropped > -INFINITY && N.log_n + out->pmf.log_top_dropped > log(1e-25)) ok = 0;
        if (ok) break;
        alim_levels_free(&lv);
        if (attempt == 1 || o.window_floor == 0)
            return alim_error_set(err, ALIM_ERANGE, "seq",
                                  "the exact PMF window does not cover where best-of-N puts its mass (n = %zu)", n);
        o.window_floor = 0;
    }
    alim_bon_eval(&lv, N, &out->bon);
    alim_levels_free(&lv);
    /* KL(pi || phi_{n,l}) = KL(pi || p_n) - l E_pi r_n + n Lambda(l), written around n K(l) */
    const alim_tilt_point *pt = &out->rl.pt;
    if (isinf(pt->lambda)) /* p(.|A)^n: finite only if best-of-N never leaves the top level */
        out->bon_kl_to_rl_nats = out->pmf.levels == 1 ? fmax(out->bon.kl_nats - (double)n * pt->kl_nats, 0.0) : INFINITY;
    else {
        double v = (out->bon.kl_nats - (double)n * pt->kl_nats) + pt->lambda * ((double)n * pt->mean - out->bon.reward);
        out->bon_kl_to_rl_nats = v > 0 ? v : 0;
    }
    return ALIM_OK;
}

static alim_mc_estimate mc_ci(double s, double s2, double m)
{
    alim_mc_estimate e;
    e.mean = s / m;
    double var = (s2 - s * s / m) / (m - 1), h = 1.959963984540054 * sqrt(var > 0 ? var / m : 0);
    e.lo = e.mean - h, e.hi = e.mean + h;
    return e;
}

/* index of the level whose reward is nearest to r (levels sorted by v) */
static size_t nearest_level(const alim_levels *lv, double r)
{
    size_t lo = 0, hi = lv->n;
    while (lo < hi) { /* first v >= r */
        size_t mid = lo + (hi - lo) / 2;
        if (lv->v[mid] < r) lo = mid + 1;
        else hi = mid;
    }
    if (lo == lv->n) return lv->n - 1;
    if (lo > 0 && r - lv->v[lo - 1] < lv->v[lo] - r) return lo - 1;
    return lo;
}

alim_status alim_seq_mc(const alim_rdist *d, size_t n, double N, double delta, size_t samples, uint64_t seed,
                        alim_seq_mc_result *out, alim_error *err)
{
    if (samples < 2) return alim_error_set(err, ALIM_EINVAL, "check_mc", "need at least 2 samples");
    if (!(N >= 1) || N != floor(N) || N * (double)n * (double)samples > 4e9)
        return alim_error_set(err, ALIM_EINVAL, "check_mc",
                              "direct simulation needs an integer N with N x n x samples <= 4e9 (N = %g)", N);
    alim_bon_size NS;
    alim_status st = alim_bon_size_from_n(N, &NS, err);
    if (st) return st;
    /* the exact PMF of r_n and the log-likelihood ratios of best-of-N on it */
    alim_seqpmf_options o = ALIM_SEQPMF_OPTIONS_DEFAULT;
    o.window_floor = 0;
    if ((st = choose_theta(d, n, NS, &o.theta, err))) return st;
    alim_levels lv;
    alim_seqpmf_info info;
    if ((st = alim_seqpmf_compute(d, n, &o, &lv, &info, NULL, err))) return st;
    alim_tilt_solution rl;
    if ((st = alim_tilt_solve_kl(d, delta, &rl, err))) {
        alim_levels_free(&lv);
        return st;
    }
    double *lg = malloc(lv.n * sizeof *lg), *cdf = malloc(d->n * sizeof *cdf);
    if (!lg || !cdf) {
        free(lg), free(cdf), alim_levels_free(&lv);
        return alim_error_set(err, ALIM_ENOMEM, "seq", "out of memory");
    }
    alim_bon_level_log_probs(&lv, NS, lg);
    for (size_t j = 0; j < lv.n; j++) lg[j] -= lv.log_q[j];
    cdf[0] = d->p[0];
    for (size_t i = 1; i < d->n; i++) cdf[i] = cdf[i - 1] + d->p[i];
    const double lam = rl.pt.lambda, nlam = (double)n * rl.pt.log_partition;
    alim_rng rng;
    alim_rng_seed(&rng, seed, 2);
    double sr = 0, sr2 = 0, sw = 0, sw2 = 0, sk = 0, sk2 = 0, sq = 0, sq2 = 0;
    for (size_t t = 0; t < samples; t++) {
        double best = -INFINITY;
        for (double k = 0; k < N; k++) {
            double r = 0;
            for (size_t i = 0; i < n; i++) r += d->r[alim_rng_discrete_cdf(&rng, cdf, d->n)];
            if (r > best) best = r;
        }
        double opp = 0;
        for (size_t i = 0; i < n; i++) opp += d->r[alim_rng_discrete_cdf(&rng, cdf, d->n)];
        /* equal sums of the same rewards in another order may differ by rounding */
        const double tie_tol = 1e-9 * (double)n * fmax(fabs(d->r_max), fabs(d->r_min));
        double x = best / (double)n, w = best > opp + tie_tol ? 1.0 : (fabs(best - opp) <= tie_tol ? 0.5 : 0.0);
        double g = lg[nearest_level(&lv, best)], q = isfinite(lam) ? g - lam * best + nlam : NAN;
        sr += x, sr2 += x * x, sw += w, sw2 += w * w, sk += g, sk2 += g * g, sq += q, sq2 += q * q;
    }
    free(lg), free(cdf), alim_levels_free(&lv);
    const double m = (double)samples;
    out->samples = samples;
    out->reward_per_token = mc_ci(sr, sr2, m);
    out->win_rate = mc_ci(sw, sw2, m);
    out->kl_nats = mc_ci(sk, sk2, m);
    out->kl_to_rl_nats = mc_ci(sq, sq2, m);
    return ALIM_OK;
}

double alim_seq_tail_saddlepoint(const alim_rdist *d, size_t n, double s, double h)
{
    const double nn = (double)n, x = s / nn;
    if (!(x > d->r_min && x <= d->r_max) || x == d->mean) return NAN;
    if (x == d->r_max) return exp(nn * log(d->p_top));
    double th;
    if (alim_tilt_solve_mean(d, x, &th, NULL) || !isfinite(th)) return NAN;
    alim_tilt_point pt;
    alim_tilt_eval(d, th, &pt);
    const double I = pt.kl_nats;
    const double w = (th > 0 ? 1.0 : -1.0) * sqrt(2.0 * nn * I);
    const double sd = sqrt(nn * pt.var);
    const double u = h > 0 ? (-expm1(-th * h) / h) * sd : th * sd;
    const double tail = 0.5 * erfc(w / M_SQRT2), dens = exp(-0.5 * w * w) / sqrt(2.0 * M_PI);
    return tail + dens * (1.0 / u - 1.0 / w);
}
