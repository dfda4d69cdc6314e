/* channel.c — channel matrices, families, cascades, and Blahut–Arimoto capacity with a
 * certified bracket (see alim/channel.h and spec bottleneck.md §5.1). */
#include "alim/channel.h"

#include <cblas.h>
#include <lapacke.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/info.h"

static alim_status channel_alloc(alim_channel *c, size_t nx, size_t ny, alim_error *err)
{
    c->nx = nx;
    c->ny = ny;
    c->w = NULL;
    if (nx == 0 || ny == 0) return alim_error_set(err, ALIM_EINVAL, "channel", "empty channel matrix");
    if (ny > SIZE_MAX / sizeof(double) / nx)
        return alim_error_set(err, ALIM_ENOMEM, "channel", "channel of %zu x %zu entries is too large", nx, ny);
    c->w = calloc(nx * ny, sizeof *c->w);
    if (!c->w) return alim_error_set(err, ALIM_ENOMEM, "channel", "out of memory for %zu x %zu channel", nx, ny);
    return ALIM_OK;
}

void alim_channel_free(alim_channel *c)
{
    if (!c) return;
    free(c->w);
    c->w = NULL;
    c->nx = c->ny = 0;
}

alim_status alim_channel_from_matrix(alim_channel *c, const double *w, size_t nx, size_t ny, double tol,
                                     int normalize, const char *where, alim_error *err)
{
    c->w = NULL;
    if (tol <= 0) tol = ALIM_CHANNEL_ROW_TOL;
    if (nx == 0 || ny == 0) return alim_error_set(err, ALIM_EINVAL, where, "empty channel matrix");
    for (size_t x = 0; x < nx; x++) {
        double s = 0.0;
        for (size_t y = 0; y < ny; y++) {
            double v = w[x * ny + y];
            if (!isfinite(v))
                return alim_error_set(err, ALIM_EINVAL, where, "row %zu, column %zu is not a finite number", x + 1, y + 1);
            if (v < 0.0)
                return alim_error_set(err, ALIM_EINVAL, where, "row %zu, column %zu is negative (%.17g)", x + 1, y + 1, v);
            s += v;
        }
        if (normalize ? !(s > 0.0) : fabs(s - 1.0) > tol)
            return alim_error_set(err, ALIM_EINVAL, where,
                                  normalize ? "row %zu sums to %.17g; cannot normalize"
                                            : "row %zu sums to %.17g, not 1 (normalize rescales rows)",
                                  x + 1, s);
    }
    alim_status st = channel_alloc(c, nx, ny, err);
    if (st) return st;
    memcpy(c->w, w, nx * ny * sizeof *w);
    if (normalize) {
        for (size_t x = 0; x < nx; x++) {
            double s = 0.0;
            for (size_t y = 0; y < ny; y++) s += c->w[x * ny + y];
            for (size_t y = 0; y < ny; y++) c->w[x * ny + y] /= s;
        }
    }
    return ALIM_OK;
}

static alim_status check_prob(double p, const char *name, alim_error *err)
{
    if (!(p >= 0.0 && p <= 1.0))
        return alim_error_set(err, ALIM_EINVAL, name, "parameter %.17g is not a probability in [0, 1]", p);
    return ALIM_OK;
}

alim_status alim_channel_bsc(alim_channel *c, double p, alim_error *err)
{
    alim_status st = check_prob(p, "bsc", err);
    if (st || (st = channel_alloc(c, 2, 2, err))) return st;
    c->w[0] = 1.0 - p, c->w[1] = p, c->w[2] = p, c->w[3] = 1.0 - p;
    return ALIM_OK;
}

alim_status alim_channel_bec(alim_channel *c, double e, alim_error *err)
{
    alim_status st = check_prob(e, "bec", err);
    if (st || (st = channel_alloc(c, 2, 3, err))) return st;
    c->w[0] = 1.0 - e, c->w[1] = e, c->w[2] = 0.0;
    c->w[3] = 0.0, c->w[4] = e, c->w[5] = 1.0 - e;
    return ALIM_OK;
}

alim_status alim_channel_z(alim_channel *c, double p, alim_error *err)
{
    alim_status st = check_prob(p, "z", err);
    if (st || (st = channel_alloc(c, 2, 2, err))) return st;
    c->w[0] = 1.0, c->w[1] = 0.0, c->w[2] = p, c->w[3] = 1.0 - p;
    return ALIM_OK;
}

alim_status alim_channel_msc(alim_channel *c, size_t m, double p, alim_error *err)
{
    alim_status st = check_prob(p, "msc", err);
    if (st) return st;
    if (m < 2) return alim_error_set(err, ALIM_EINVAL, "msc", "alphabet size %zu must be at least 2", m);
    if ((st = channel_alloc(c, m, m, err))) return st;
    double off = p / (double)(m - 1);
    for (size_t x = 0; x < m; x++)
        for (size_t y = 0; y < m; y++) c->w[x * m + y] = x == y ? 1.0 - p : off;
    return ALIM_OK;
}

alim_status alim_channel_compose(const alim_channel *a, const alim_channel *b, alim_channel *out,
                                 alim_error *err)
{
    out->w = NULL;
    if (a->ny != b->nx)
        return alim_error_set(err, ALIM_EINVAL, "cascade",
                              "first stage has %zu outputs but second stage has %zu inputs", a->ny, b->nx);
    alim_status st = channel_alloc(out, a->nx, b->ny, err);
    if (st) return st;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)a->nx, (int)b->ny, (int)a->ny, 1.0, a->w,
                (int)a->ny, b->w, (int)b->ny, 0.0, out->w, (int)b->ny);
    return ALIM_OK;
}

double alim_channel_mutual_information(const alim_channel *c, const double *px)
{
    const size_t nx = c->nx, ny = c->ny;
    double *q = calloc(ny, sizeof *q);
    if (!q) return NAN;
    for (size_t x = 0; x < nx; x++)
        if (px[x] > 0.0)
            for (size_t y = 0; y < ny; y++) q[y] += px[x] * c->w[x * ny + y];
    double i = 0.0;
    for (size_t x = 0; x < nx; x++) {
        if (px[x] <= 0.0) continue;
        double d = 0.0;
        for (size_t y = 0; y < ny; y++) {
            double w = c->w[x * ny + y];
            if (w > 0.0) d += w * log(w / q[y]);
        }
        i += px[x] * d;
    }
    free(q);
    return i > 0.0 ? i : 0.0;
}

double alim_channel_map_error(const alim_channel *c, const double *px)
{
    double correct = 0.0;
    for (size_t y = 0; y < c->ny; y++) {
        double best = 0.0;
        for (size_t x = 0; x < c->nx; x++) {
            double v = px[x] * c->w[x * c->ny + y];
            if (v > best) best = v;
        }
        correct += best;
    }
    double e = 1.0 - correct;
    return e > 0.0 ? e : 0.0;
}

/* ---- Blahut–Arimoto ---------------------------------------------------------------- */

struct alim_ba {
    size_t nx, ny;      /* ny: non-zero columns only */
    double *w;          /* nx*ny compacted channel */
    double *neg_ent;    /* nx: sum_y W log W  (= -H(W(.|x))) */
    double *logr, *r;   /* nx: current input law, log and linear */
    double *q, *logq;   /* ny: output law */
    double *d;          /* nx: D(x) = KL(W(.|x) || q) */
    double *tmp;        /* nx */
    double lower, upper, margin;
    double info;        /* I(r) = sum_x r(x) D(x) at the evaluated law */
    double cap_limit;   /* log min(nx, ny): C never exceeds it */
    double *r_eval;     /* nx: the law the last bracket was evaluated at */
    size_t iterations;
};

void alim_ba_free(alim_ba *s)
{
    if (!s) return;
    free(s->w);
    free(s->neg_ent);
    free(s->logr);
    free(s->r);
    free(s->q);
    free(s->logq);
    free(s->d);
    free(s->tmp);
    free(s->r_eval);
    free(s);
}

alim_status alim_ba_alloc(const alim_channel *c, alim_ba **out, alim_error *err)
{
    *out = NULL;
    if (!c || !c->w || c->nx == 0 || c->ny == 0)
        return alim_error_set(err, ALIM_EINVAL, "capacity", "empty channel");
    const size_t nx = c->nx, ny = c->ny;
    /* keep only columns that some input can reach: an all-zero column would give q = 0
     * and log 0 in the update although it never matters */
    size_t *keep = malloc(ny * sizeof *keep);
    if (!keep) return alim_error_set(err, ALIM_ENOMEM, "capacity", "out of memory");
    size_t nk = 0;
    for (size_t y = 0; y < ny; y++) {
        int any = 0;
        for (size_t x = 0; x < nx && !any; x++) any = c->w[x * ny + y] > 0.0;
        if (any) keep[nk++] = y;
    }
    alim_ba *s = calloc(1, sizeof *s);
    if (!s) return free(keep), alim_error_set(err, ALIM_ENOMEM, "capacity", "out of memory");
    s->nx = nx;
    s->ny = nk;
    s->w = malloc(nx * (nk ? nk : 1) * sizeof *s->w);
    s->neg_ent = malloc(nx * sizeof(double));
    s->logr = malloc(nx * sizeof(double));
    s->r = malloc(nx * sizeof(double));
    s->r_eval = malloc(nx * sizeof(double));
    s->d = malloc(nx * sizeof(double));
    s->tmp = malloc(nx * sizeof(double));
    s->q = malloc((nk ? nk : 1) * sizeof(double));
    s->logq = malloc((nk ? nk : 1) * sizeof(double));
    if (!s->w || !s->neg_ent || !s->logr || !s->r || !s->r_eval || !s->d || !s->tmp || !s->q || !s->logq) {
        free(keep);
        alim_ba_free(s);
        return alim_error_set(err, ALIM_ENOMEM, "capacity", "out of memory for the solver");
    }
    if (nk == 0) {
        free(keep);
        alim_ba_free(s);
        return alim_error_set(err, ALIM_EINVAL, "capacity", "every column of the channel is zero");
    }
    for (size_t x = 0; x < nx; x++) {
        double ne = 0.0;
        for (size_t k = 0; k < nk; k++) {
            double v = c->w[x * ny + keep[k]];
            s->w[x * nk + k] = v;
            if (v > 0.0) ne += v * log(v);
        }
        s->neg_ent[x] = ne;
        s->logr[x] = -log((double)nx);
        s->r[x] = 1.0 / (double)nx;
    }
    free(keep);
    s->cap_limit = log((double)(nx < nk ? nx : nk));
    s->lower = 0.0;
    s->upper = s->cap_limit;
    *out = s;
    return ALIM_OK;
}

/* Evaluates the output law, D(x), the bracket and I(r) at the current input law r. */
static void ba_evaluate(alim_ba *s)
{
    const size_t nx = s->nx, ny = s->ny;
    /* q = r W  (the output law) */
    cblas_dgemv(CblasRowMajor, CblasTrans, (int)nx, (int)ny, 1.0, s->w, (int)ny, s->r, 1, 0.0, s->q, 1);
    double max_abs_logq = 0.0;
    for (size_t y = 0; y < ny; y++) {
        double lq;
        if (s->q[y] > 1e-290) {
            lq = log(s->q[y]);
        } else {
            /* underflow in the linear sum: redo this column in log space, where every
             * r(x) is positive, so log q stays finite */
            double m = -INFINITY;
            for (size_t x = 0; x < nx; x++) {
                double v = s->w[x * ny + y];
                if (v > 0.0 && s->logr[x] + log(v) > m) m = s->logr[x] + log(v);
            }
            double t = 0.0;
            for (size_t x = 0; x < nx; x++) {
                double v = s->w[x * ny + y];
                if (v > 0.0) t += exp(s->logr[x] + log(v) - m);
            }
            lq = m + log(t);
            s->q[y] = exp(lq);
        }
        s->logq[y] = lq;
        if (fabs(lq) > max_abs_logq) max_abs_logq = fabs(lq);
    }
    /* D(x) = sum_y W log W - sum_y W log q */
    cblas_dgemv(CblasRowMajor, CblasNoTrans, (int)nx, (int)ny, 1.0, s->w, (int)ny, s->logq, 1, 0.0, s->tmp, 1);
    double iu = -INFINITY, max_abs_ne = 0.0, ir = 0.0;
    for (size_t x = 0; x < nx; x++) {
        double dx = s->neg_ent[x] - s->tmp[x];
        if (dx < 0.0) dx = 0.0; /* a KL divergence; negative only by rounding */
        s->d[x] = dx;
        if (dx > iu) iu = dx;
        if (fabs(s->neg_ent[x]) > max_abs_ne) max_abs_ne = fabs(s->neg_ent[x]);
        s->tmp[x] = s->logr[x] + dx;
        ir += s->r[x] * dx;
    }
    /* I_L = log sum_x r(x) e^{D(x)} <= I(r') <= C for the BA successor r' of r, and
     * I_U = max_x D(x) >= C: both hold for ANY input law r, which is what lets the
     * Newton polish below share the certificate. */
    s->lower = alim_logsumexp(s->tmp, nx);
    s->upper = iu;
    s->info = ir;
    memcpy(s->r_eval, s->r, nx * sizeof *s->r);
    /* Rounding: each D(x) is a sum of ny products of magnitude at most
     * |sum W log W| + max|log q|; a generous statistical bound on the accumulated error
     * is a few ulps times sqrt(ny) times that size. */
    s->margin = 16.0 * DBL_EPSILON * (max_abs_ne + max_abs_logq + 1.0) * sqrt((double)ny);
}

static void ba_set_law(alim_ba *s, const double *r)
{
    double z = 0.0;
    for (size_t x = 0; x < s->nx; x++) z += r[x] > 0.0 ? r[x] : 0.0;
    for (size_t x = 0; x < s->nx; x++) {
        s->r[x] = r[x] > 0.0 ? r[x] / z : 0.0;
        s->logr[x] = s->r[x] > 0.0 ? log(s->r[x]) : -745.0; /* keeps log q finite */
    }
}

double alim_ba_iterate(alim_ba *s)
{
    const size_t nx = s->nx;
    ba_evaluate(s);
    s->iterations++;
    /* update r(x) <- r(x) exp(D(x)) / exp(I_L), renormalised in log space */
    for (size_t x = 0; x < nx; x++) s->logr[x] += s->d[x] - s->lower;
    double z = alim_logsumexp(s->logr, nx);
    for (size_t x = 0; x < nx; x++) {
        s->logr[x] -= z;
        s->r[x] = exp(s->logr[x]);
    }
    double gap = s->upper - s->lower;
    return gap > 0.0 ? gap : 0.0;
}

/* Solves A z = b for the two right-hand sides b1, b2 (contiguous: b2 = b1 + n) in place,
 * with LAPACK's Cholesky factorisation and solve through LAPACKE (LAPACK itself is
 * OpenBLAS's). A is n x n symmetric positive definite with its lower triangle filled in
 * row-major order, which column-major LAPACK sees as the upper triangle: asking LAPACKE for
 * column-major 'U' passes the matrix to dpotrf/dpotrs as it is, where row-major would copy
 * it transposed first. Returns 0, or -1 if A is not numerically positive definite (or holds
 * a NaN, which LAPACKE refuses). */
static int cholesky_solve(double *a, size_t n, double *b12)
{
    const lapack_int nn = (lapack_int)n;
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'U', nn, a, nn) != 0) return -1;
    return LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', nn, 2, a, nn, b12, nn) == 0 ? 0 : -1;
}

/* Newton's method for max I(r) on the face of the simplex spanned by the inputs that
 * carry mass, with inputs added when their D(x) exceeds the face's level and dropped
 * when a step would make them negative. Plain Blahut–Arimoto slows to a crawl when many
 * inputs lie just outside the optimal support (their mass decays like e^{-n(C - D(x))});
 * Newton converges quadratically once the support is right. Every accepted step raises
 * I(r), and the bracket evaluated afterwards is as certified as any BA bracket.
 * Returns 1 if it improved the bracket. */
static int ba_polish(alim_ba *s, double tol)
{
    const size_t nx = s->nx, ny = s->ny;
    enum { MAX_SUPPORT = 1500 };
    size_t *sup = malloc(nx * sizeof *sup);
    double *rr = malloc(nx * sizeof *rr), *best_r = malloc(nx * sizeof *best_r), *r0 = malloc(nx * sizeof *r0);
    double *b = NULL, *a = NULL, *u = NULL, *v = NULL;
    int improved = 0;
    if (!sup || !rr || !best_r || !r0) goto out;
    ba_evaluate(s);
    double best_gap = s->upper - s->lower;
    memcpy(best_r, s->r, nx * sizeof *rr);
    /* Start from the face of the inputs Blahut–Arimoto is growing (D(x) >= I(r)): the
     * others are on their way out of the support. Inputs wrongly left out come back
     * below, when their D(x) exceeds the face's level. */
    size_t n = 0;
    for (size_t x = 0; x < nx; x++) {
        if (s->d[x] >= s->info) sup[n++] = x;
        rr[x] = s->d[x] >= s->info ? s->r[x] : 0.0;
    }
    if (n == 0 || n > MAX_SUPPORT) goto out;
    ba_set_law(s, rr);
    ba_evaluate(s);
    b = malloc((size_t)MAX_SUPPORT * ny * sizeof *b);
    a = malloc((size_t)MAX_SUPPORT * MAX_SUPPORT * sizeof *a);
    u = malloc(2 * MAX_SUPPORT * sizeof *u); /* u and v = u + n, contiguous for LAPACK */
    if (!b || !a || !u) goto out;
    for (int it = 0; it < 60 && n > 0; it++) {
        /* A = W_S diag(1/q) W_S^T is minus the Hessian of I(r) on the face */
        for (size_t i = 0; i < n; i++)
            for (size_t y = 0; y < ny; y++) b[i * ny + y] = s->w[sup[i] * ny + y] / sqrt(s->q[y]);
        cblas_dsyrk(CblasRowMajor, CblasLower, CblasNoTrans, (int)n, (int)ny, 1.0, b, (int)ny, 0.0, a, (int)n);
        double tr = 0.0;
        for (size_t i = 0; i < n; i++) tr += a[i * n + i];
        for (size_t i = 0; i < n; i++) a[i * n + i] += 1e-13 * tr / (double)n; /* duplicate rows make A singular */
        double dmean = 0.0;
        for (size_t i = 0; i < n; i++) dmean += s->d[sup[i]];
        dmean /= (double)n;
        v = u + n;
        for (size_t i = 0; i < n; i++) u[i] = s->d[sup[i]] - dmean, v[i] = 1.0;
        if (cholesky_solve(a, n, u)) break;
        /* step = A^{-1}(D - c 1) with c chosen so the step keeps sum r = 1 */
        double su = 0.0, sv = 0.0;
        for (size_t i = 0; i < n; i++) su += u[i], sv += v[i];
        double lam = su / sv;
        double tmax = 1.0;
        size_t leave = n;
        for (size_t i = 0; i < n; i++) {
            double di = u[i] - lam * v[i];
            u[i] = di;
            if (di < 0.0 && s->r[sup[i]] + di <= 0.0) {
                double t = s->r[sup[i]] / -di;
                if (t < tmax) tmax = t, leave = i;
            }
        }
        double i_old = s->info, t = 1.0;
        int accepted = 0;
        memcpy(r0, s->r_eval, nx * sizeof *r0); /* the base law of this step */
        /* first the projected full step: negative masses clipped to zero (many inputs can
         * leave the face at once), accepted if it raises I(r) */
        memcpy(rr, r0, nx * sizeof *rr);
        for (size_t i = 0; i < n; i++) rr[sup[i]] = fmax(0.0, rr[sup[i]] + u[i]);
        ba_set_law(s, rr);
        ba_evaluate(s);
        accepted = s->info >= i_old - 1e-15 * (1.0 + i_old);
        /* else the ratio-test step, halved until I(r) does not fall */
        t = tmax;
        for (int ls = 0; ls < 40 && !accepted; ls++) {
            memcpy(rr, r0, nx * sizeof *rr);
            for (size_t i = 0; i < n; i++) rr[sup[i]] += t * u[i];
            if (leave < n && t == tmax) rr[sup[leave]] = 0.0;
            ba_set_law(s, rr);
            ba_evaluate(s);
            if (s->info >= i_old - 1e-15 * (1.0 + i_old)) {
                accepted = 1;
                break;
            }
            t *= 0.5;
        }
        if (!accepted) {
            ba_set_law(s, best_r);
            ba_evaluate(s);
            break;
        }
        if (s->upper - s->lower < best_gap) {
            best_gap = s->upper - s->lower;
            memcpy(best_r, s->r, nx * sizeof *rr);
            improved = 1;
        }
        if (best_gap < tol) break;
        /* re-form the face: drop inputs that hit zero, add the most violating outsider */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (s->r[sup[i]] > 0.0) sup[k++] = sup[i];
        n = k;
        double level = 0.0;
        for (size_t i = 0; i < n; i++) level = fmax(level, s->d[sup[i]]);
        /* add every outsider whose D(x) exceeds the face's level: they belong to the support */
        int added = 0;
        memcpy(rr, s->r, nx * sizeof *rr);
        for (size_t x = 0; x < nx && n < MAX_SUPPORT; x++) {
            double excess = s->d[x] - level;
            if (s->r[x] == 0.0 && excess > 1e-3 * tol) {
                rr[x] = 1e-3 * fmin(1.0, excess) / (double)nx;
                sup[n++] = x;
                added = 1;
            }
        }
        if (added) {
            ba_set_law(s, rr);
            ba_evaluate(s);
        }
    }
    ba_set_law(s, best_r);
    ba_evaluate(s);
out:
    free(sup);
    free(rr);
    free(best_r);
    free(r0);
    free(a);
    free(b);
    free(u);
    return improved;
}

void alim_ba_bracket(const alim_ba *s, double *lower, double *upper)
{
    double lo = s->lower - s->margin, hi = s->upper + s->margin;
    if (lo < 0.0) lo = 0.0;
    if (hi > s->cap_limit + s->margin) hi = s->cap_limit + s->margin;
    if (lo > hi) lo = hi;
    *lower = lo;
    *upper = hi;
}

const double *alim_ba_input(const alim_ba *s) { return s->r_eval; }
size_t alim_ba_iterations(const alim_ba *s) { return s->iterations; }

alim_status alim_channel_capacity(const alim_channel *c, const alim_capacity_options *opt, alim_capacity *out,
                                  alim_error *err)
{
    memset(out, 0, sizeof *out);
    alim_capacity_options o = ALIM_CAPACITY_OPTIONS_DEFAULT;
    if (opt) o = *opt;
    if (!(o.tol > 0.0)) return alim_error_set(err, ALIM_EINVAL, "tol", "tolerance must be positive");
    if (o.max_iter == 0) return alim_error_set(err, ALIM_EINVAL, "max_iter", "must be at least 1");
    alim_ba *s;
    alim_status st = alim_ba_alloc(c, &s, err);
    if (st) return st;
    double gap = INFINITY;
    size_t next_polish = 64;
    while (s->iterations < o.max_iter) {
        gap = alim_ba_iterate(s);
        if (gap < o.tol) break;
        if (s->iterations == next_polish) {
            /* Blahut–Arimoto is slow here: try Newton on the active support; its bracket
             * is certified the same way, so keep it if it closed the gap */
            ba_polish(s, o.tol);
            gap = s->upper - s->lower;
            if (gap < o.tol) break;
            next_polish *= 2;
        }
    }
    out->converged = gap < o.tol;
    alim_ba_bracket(s, &out->lower_nats, &out->upper_nats);
    out->iterations = s->iterations;
    out->nx = c->nx;
    out->input = malloc(c->nx * sizeof *out->input);
    if (!out->input) {
        alim_ba_free(s);
        return alim_error_set(err, ALIM_ENOMEM, "capacity", "out of memory");
    }
    memcpy(out->input, s->r_eval, c->nx * sizeof *out->input);
    alim_ba_free(s);
    return ALIM_OK;
}

void alim_capacity_free(alim_capacity *r)
{
    if (!r) return;
    free(r->input);
    r->input = NULL;
}
