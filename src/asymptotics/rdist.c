/* rdist.c — reward distributions: validation, normalisation, summaries (see alim/rdist.h). */
#include "alim/rdist.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"

void alim_rdist_free(alim_rdist *d)
{
    if (!d) return;
    free(d->p);
    free(d->r);
    memset(d, 0, sizeof *d);
}

/* Names entry i (0-based) in a message: "path:line" when lines are known, else "where". */
static void entry_where(char *buf, size_t len, const char *where, const size_t *lines, size_t i)
{
    if (lines) snprintf(buf, len, "%s:%zu", where, lines[i]);
    else snprintf(buf, len, "%s", where);
}

/* Validates d->p, d->r (already filled), normalises p and computes the summaries. */
static alim_status finish(alim_rdist *d, double tol, int normalize, const char *where, const size_t *lines,
                          alim_error *err)
{
    char w[ALIM_ERROR_WHERE_MAX];
    const size_t n = d->n;
    if (n == 0) return alim_error_set(err, ALIM_EINVAL, where, "empty distribution (no outcomes)");
    if (tol <= 0) tol = ALIM_RDIST_SUM_TOL;
    double s = 0.0, c = 0.0; /* Neumaier sum of p */
    for (size_t i = 0; i < n; i++) {
        double pi = d->p[i], ri = d->r[i];
        if (!isfinite(pi) || pi < 0.0 || !isfinite(ri)) { /* name the row only on error: formatting is slow */
            entry_where(w, sizeof w, where, lines, i);
            if (!isfinite(pi))
                return alim_error_set(err, ALIM_EINVAL, w, "probability of outcome %zu is not a finite number", i + 1);
            if (pi < 0.0)
                return alim_error_set(err, ALIM_EINVAL, w, "probability of outcome %zu is negative (%.17g)", i + 1, pi);
            return alim_error_set(err, ALIM_EINVAL, w, "reward of outcome %zu is not a finite number", i + 1);
        }
        if (ri == 0.0) d->r[i] = 0.0; /* -0 -> +0, so equal rewards compare (and sort) equal */
        double t = s + pi;
        c += fabs(s) >= fabs(pi) ? (s - t) + pi : (pi - t) + s;
        s = t;
    }
    s += c;
    if (!(s > 0.0)) return alim_error_set(err, ALIM_EINVAL, where, "probabilities sum to 0");
    if (!normalize && fabs(s - 1.0) > tol)
        return alim_error_set(err, ALIM_EINVAL, where,
                              "probabilities sum to %.17g, not 1 (tolerance %g; normalize rescales)", s, tol);
    if (s != 1.0)
        for (size_t i = 0; i < n; i++) d->p[i] /= s;

    /* support, extremes */
    double rmin = INFINITY, rmax = -INFINITY;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(d->p[i] > 0.0)) continue;
        k++;
        if (d->r[i] < rmin) rmin = d->r[i];
        if (d->r[i] > rmax) rmax = d->r[i];
    }
    if (k == 0) return alim_error_set(err, ALIM_EINVAL, where, "no outcome has positive probability");
    d->support = k;
    d->r_min = rmin;
    d->r_max = rmax;
    double ptop = 0, pbot = 0, below_top = -INFINITY, above_bot = INFINITY, mean = 0.0;
    for (size_t i = 0; i < n; i++) {
        double pi = d->p[i], ri = d->r[i];
        if (!(pi > 0.0)) continue;
        if (ri == rmax) ptop += pi;
        else if (ri > below_top) below_top = ri;
        if (ri == rmin) pbot += pi;
        else if (ri < above_bot) above_bot = ri;
        mean += pi * ri;
    }
    d->p_top = ptop;
    d->p_bottom = pbot;
    d->gap_top = below_top == -INFINITY ? INFINITY : rmax - below_top;
    d->gap_bottom = above_bot == INFINITY ? INFINITY : above_bot - rmin;
    /* one refinement step makes the mean accurate to rounding */
    double corr = 0.0;
    for (size_t i = 0; i < n; i++)
        if (d->p[i] > 0.0) corr += d->p[i] * (d->r[i] - mean);
    mean += corr;
    if (mean > rmax) mean = rmax;
    if (mean < rmin) mean = rmin;
    d->mean = mean;
    double m[7] = {0};
    for (size_t i = 0; i < n; i++) {
        double pi = d->p[i];
        if (!(pi > 0.0)) continue;
        double x = d->r[i] - mean, x2 = x * x;
        m[2] += pi * x2;
        m[3] += pi * x2 * x;
        m[4] += pi * x2 * x2;
        m[5] += pi * x2 * x2 * x;
        m[6] += pi * x2 * x2 * x2;
    }
    d->kappa[0] = d->kappa[1] = 0.0;
    d->kappa[2] = m[2];
    d->kappa[3] = m[3];
    d->kappa[4] = m[4] - 3.0 * m[2] * m[2];
    d->kappa[5] = m[5] - 10.0 * m[3] * m[2];
    d->kappa[6] = m[6] - 15.0 * m[4] * m[2] - 10.0 * m[3] * m[3] + 30.0 * m[2] * m[2] * m[2];
    d->max_dev = fmax(rmax - mean, mean - rmin);
    return ALIM_OK;
}

alim_status alim_rdist_from_arrays(alim_rdist *d, const double *p, const double *r, size_t n, double tol,
                                   int normalize, const char *where, alim_error *err)
{
    memset(d, 0, sizeof *d);
    if (!where) where = "distribution";
    if (n == 0) return alim_error_set(err, ALIM_EINVAL, where, "empty distribution (no outcomes)");
    d->p = malloc(n * sizeof *d->p);
    d->r = malloc(n * sizeof *d->r);
    if (!d->p || !d->r) {
        alim_rdist_free(d);
        return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    }
    memcpy(d->p, p, n * sizeof *p);
    memcpy(d->r, r, n * sizeof *r);
    d->n = n;
    alim_status st = finish(d, tol, normalize, where, NULL, err);
    if (st) alim_rdist_free(d);
    return st;
}

alim_status alim_rdist_read_csv(alim_rdist *d, const char *path, double tol, int normalize, alim_error *err)
{
    memset(d, 0, sizeof *d);
    alim_matrix m;
    alim_status st = alim_matrix_read_csv(path, 2, 2, &m, err);
    if (st) return st;
    const size_t n = m.rows;
    /* the rewards move to an array of their own; the probabilities are compacted in place
     * into the front half of the matrix, which then shrinks (no second copy of p) */
    d->r = malloc(n * sizeof *d->r);
    if (!d->r) {
        alim_matrix_free(&m);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    double *a = m.data;
    for (size_t i = 0; i < n; i++) d->r[i] = a[2 * i + 1];
    for (size_t i = 0; i < n; i++) a[i] = a[2 * i];
    double *pa = realloc(a, n * sizeof *a);
    d->p = pa ? pa : a;
    d->n = n;
    m.data = NULL;
    st = finish(d, tol, normalize, path, m.line_of_row, err);
    /* Rewards whose spread overflows a double (e.g. -1e308 and 1e308) defeat every
     * computation downstream (tilting, moments, solvers): refused here, where the file is
     * known, instead of failing later under the name of an option. */
    if (!st && !isfinite(d->r_max - d->r_min))
        st = alim_error_set(err, ALIM_EINVAL, path, "rewards span [%g, %g], a range that overflows a double; rescale them", d->r_min, d->r_max);
    alim_matrix_free(&m);
    if (st) alim_rdist_free(d);
    return st;
}
