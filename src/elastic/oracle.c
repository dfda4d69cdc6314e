/* oracle.c — the exact count-weighted learner of E0 (see alim/oracle.h).
 *
 * Both learners are one computation: R rows (contexts) over V symbols; component i visits
 * row r occ_i(r) times per document and emits v with T_i(r, v). Trained on n_i documents
 * of each component the learner's row law is p(r, .) = c(r, .)/C(r) smoothed, with
 * c(r, v) = sum_i n_i occ_i(r) T_i(r, v). The mixture learner is R = 1, occ = 1.
 * Differences between two sizes are computed as exact differences of the counts, and the
 * log-ratios with log1p, so that the finite differences stay accurate when k is large. */
#include "alim/oracle.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/info.h"

typedef struct {
    size_t K, R, V;
    const double *occ[ALIM_SOURCE_MAX_COMPONENTS]; /* (R) */
    const double *T[ALIM_SOURCE_MAX_COMPONENTS];   /* (R*V) */
    const double *q;
    size_t a, t;
    double scale;     /* documents per unit of size (|D_a|) */
    double alpha;     /* smoothing */
    int prob_mode;    /* 1: p = (c/C + alpha)/(1 + alpha V); 0: p = (c + alpha)/(C + alpha V) */
    double len;       /* tokens per document (rates are per token) */
} rowmodel;

static double n_of(const rowmodel *m, size_t i, double k, double l)
{
    return m->scale * (m->q[i] * k + (i == m->a ? 1.0 : 0.0) + (i == m->t ? l : 0.0));
}

/* counts c (R*V) and row totals C (R) at (k, l) */
static void counts(const rowmodel *m, double k, double l, double *c, double *C)
{
    memset(c, 0, m->R * m->V * sizeof *c);
    for (size_t i = 0; i < m->K; i++) {
        double ni = n_of(m, i, k, l);
        if (ni == 0) continue;
        for (size_t r = 0; r < m->R; r++) {
            double w = ni * m->occ[i][r];
            if (w == 0) continue;
            for (size_t v = 0; v < m->V; v++) c[r * m->V + v] += w * m->T[i][r * m->V + v];
        }
    }
    for (size_t r = 0; r < m->R; r++) {
        double s = 0;
        for (size_t v = 0; v < m->V; v++) s += c[r * m->V + v];
        C[r] = s;
    }
}

static double phat(const rowmodel *m, double c, double C)
{
    if (C <= 0 && m->alpha <= 0) return 1.0 / (double)m->V;
    if (m->prob_mode) return (C > 0 ? c / C + m->alpha : 1.0 / (double)m->V) / (C > 0 ? 1 + m->alpha * (double)m->V : 1.0);
    return (c + m->alpha) / (C + m->alpha * (double)m->V);
}

/* d phat given count changes dc, dC (first order, or exact for a secant when C1 = C + dC) */
static double dphat(const rowmodel *m, double c0, double C0, double dc, double dC, double C1)
{
    if (C1 <= 0) return 0;
    if (m->prob_mode) return (dc - (C0 > 0 ? c0 / C0 : 0) * dC) / (C1 * (1 + m->alpha * (double)m->V));
    return (dc - phat(m, c0, C0) * dC) / (C1 + m->alpha * (double)m->V);
}

/* cross-entropy in bits per token of the eval weights w (over components) */
static double xent(const rowmodel *m, const double *w, const double *c, const double *C)
{
    double h = 0;
    for (size_t j = 0; j < m->K; j++) {
        if (w[j] == 0) continue;
        for (size_t r = 0; r < m->R; r++) {
            double o = m->occ[j][r];
            if (o == 0) continue;
            for (size_t v = 0; v < m->V; v++) {
                double pt = m->T[j][r * m->V + v];
                if (pt == 0) continue;
                double p = phat(m, c[r * m->V + v], C[r]);
                h -= w[j] * o * pt * (p > 0 ? log(p) : -INFINITY);
            }
        }
    }
    return alim_bits(h) / m->len;
}

/* gamma(l1) - gamma(l0) exactly (log1p of exact count differences) */
static double xent_diff(const rowmodel *m, const double *w, double k, double l0, double l1, const double *c0,
                        const double *C0)
{
    double dn = m->scale * (l1 - l0), h = 0;
    size_t t = m->t;
    for (size_t r = 0; r < m->R; r++) {
        double dC = dn * m->occ[t][r];
        double C1 = C0[r] + dC;
        for (size_t v = 0; v < m->V; v++) {
            double dc = dn * m->occ[t][r] * m->T[t][r * m->V + v];
            double p0 = phat(m, c0[r * m->V + v], C0[r]);
            double dp = dphat(m, c0[r * m->V + v], C0[r], dc, dC, C1);
            if (dp == 0) continue;
            double lr = p0 > 0 ? log1p(dp / p0) : INFINITY;
            for (size_t j = 0; j < m->K; j++)
                if (w[j] != 0 && m->occ[j][r] != 0 && m->T[j][r * m->V + v] != 0)
                    h -= w[j] * m->occ[j][r] * m->T[j][r * m->V + v] * lr;
        }
    }
    (void)k;
    return alim_bits(h) / m->len;
}

/* analytic d gamma / d l */
static double xent_deriv(const rowmodel *m, const double *w, const double *c, const double *C)
{
    size_t t = m->t;
    double h = 0;
    for (size_t r = 0; r < m->R; r++) {
        double dC = m->scale * m->occ[t][r];
        if (dC == 0) continue;
        for (size_t v = 0; v < m->V; v++) {
            double dc = dC * m->T[t][r * m->V + v];
            double p = phat(m, c[r * m->V + v], C[r]);
            double dp = dphat(m, c[r * m->V + v], C[r], dc, dC, C[r]);
            if (dp == 0) continue;
            for (size_t j = 0; j < m->K; j++)
                if (w[j] != 0 && m->occ[j][r] != 0 && m->T[j][r * m->V + v] != 0)
                    h -= w[j] * m->occ[j][r] * m->T[j][r * m->V + v] * dp / p;
        }
    }
    return alim_bits(h) / m->len;
}

static alim_status eval(const rowmodel *m, double k, double l, alim_oracle_point *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    if (!(k > 0) || !isfinite(k)) return alim_error_set(err, ALIM_EINVAL, "k", "k = |D_p|/|D_a| must be > 0 (got %g)", k);
    if (!(l >= 0) || !isfinite(l)) return alim_error_set(err, ALIM_EINVAL, "l", "l = |D_t|/|D_a| must be >= 0 (got %g)", l);
    size_t RV = m->R * m->V;
    double *c = malloc(RV * sizeof *c), *C = malloc(m->R * sizeof *C), *c0 = malloc(RV * sizeof *c0),
           *C0 = malloc(m->R * sizeof *C0);
    if (!c || !C || !c0 || !C0) {
        free(c), free(C), free(c0), free(C0);
        return alim_error_set(err, ALIM_ENOMEM, "oracle", "out of memory");
    }
    double wa[ALIM_SOURCE_MAX_COMPONENTS] = {0};
    wa[m->a] = 1;
    const double *wp = m->q;
    out->k = k;
    out->l = l;
    counts(m, k, l, c, C);
    out->gamma_a_bits = xent(m, wa, c, C);
    out->gamma_p_bits = xent(m, wp, c, C);
    out->dgamma_a_dl = xent_deriv(m, wa, c, C);
    out->dgamma_p_dl = xent_deriv(m, wp, c, C);
    /* central finite difference of step h (one-sided at l = 0) */
    double h = l > 0 ? 0.01 * l : 1e-5;
    double lo = l > 0 ? l - h : l, hi = l + h;
    counts(m, k, lo, c0, C0);
    out->dgamma_a_dl_fd = xent_diff(m, wa, k, lo, hi, c0, C0) / (hi - lo);
    out->dgamma_p_dl_fd = xent_diff(m, wp, k, lo, hi, c0, C0) / (hi - lo);
    out->ratio = -out->dgamma_a_dl / out->dgamma_p_dl;
    out->ratio_fd = -out->dgamma_a_dl_fd / out->dgamma_p_dl_fd;
    counts(m, k, 0, c0, C0);
    out->delta_a_bits = xent_diff(m, wa, k, 0, l, c0, C0);
    out->delta_p_bits = xent_diff(m, wp, k, 0, l, c0, C0);
    out->ratio_secant = l > 0 ? -out->delta_a_bits / out->delta_p_bits : out->ratio;
    out->hooke = l > 0 ? out->delta_a_bits / (k * fabs(out->delta_p_bits)) : NAN;
    free(c), free(C), free(c0), free(C0);
    if (!isfinite(out->gamma_a_bits) || !isfinite(out->gamma_p_bits))
        return alim_error_set(err, ALIM_ERANGE, "oracle", "a rate is infinite: a component has no mass in the learner");
    return ALIM_OK;
}

static alim_status check_q(const double *q, size_t K, size_t a, size_t t, alim_error *err)
{
    if (K < 1 || K > ALIM_SOURCE_MAX_COMPONENTS) return alim_error_set(err, ALIM_EINVAL, "shares", "%zu components (need 1..%d)", K, ALIM_SOURCE_MAX_COMPONENTS);
    if (a >= K || t >= K) return alim_error_set(err, ALIM_EINVAL, "oracle", "alignment/perturbation component out of range");
    return alim_check_distribution(q, K, 1e-9, "shares", err);
}

alim_status alim_oracle_mix_eval(const alim_oracle_mix *mx, double k, double l, alim_oracle_point *out, alim_error *err)
{
    alim_status st = check_q(mx->q, mx->n_components, mx->a, mx->t, err);
    if (st) return st;
    if (!(mx->smoothing >= 0)) return alim_error_set(err, ALIM_EINVAL, "smoothing", "must be >= 0");
    for (size_t i = 0; i < mx->n_components && !st; i++)
        st = alim_check_distribution(mx->comp + i * mx->n_symbols, mx->n_symbols, 1e-9, "oracle components", err);
    if (st) return st;
    static const double one = 1.0;
    rowmodel m = {.K = mx->n_components, .R = 1, .V = mx->n_symbols, .q = mx->q, .a = mx->a, .t = mx->t,
                  .scale = 1, .alpha = mx->smoothing, .prob_mode = 1, .len = 1};
    for (size_t i = 0; i < m.K; i++) {
        m.occ[i] = &one;
        m.T[i] = mx->comp + i * mx->n_symbols;
    }
    return eval(&m, k, l, out, err);
}

double *alim_oracle_zipf_components(size_t K, size_t msym)
{
    double *c = calloc(K * K * msym, sizeof *c);
    if (!c) return NULL;
    double z = 0;
    for (size_t j = 1; j <= msym; j++) z += 1.0 / (double)j;
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < msym; j++) c[i * K * msym + i * msym + j] = 1.0 / ((double)(j + 1) * z);
    return c;
}

alim_status alim_oracle_markov_eval(const alim_oracle_markov *mk, double k, double l, alim_oracle_point *out,
                                    alim_error *err)
{
    const alim_source *s = mk->src;
    size_t K = s->cfg.n_components, n = s->cfg.n_symbols, len = s->cfg.doc_len;
    alim_status st = check_q(mk->q, K, mk->a, mk->t, err);
    if (st) return st;
    if (!(mk->a_docs > 0)) return alim_error_set(err, ALIM_EINVAL, "a_docs", "must be > 0");
    if (!(mk->smoothing >= 0)) return alim_error_set(err, ALIM_EINVAL, "smoothing", "must be >= 0");
    /* rows 0..n-1 are the symbols, row n is BOS (visited once per document) */
    size_t R = n + 1;
    double *occ = calloc(K * R, sizeof *occ), *T = calloc(K * R * n, sizeof *T), *mu = malloc(len * n * sizeof *mu);
    if (!occ || !T || !mu) {
        free(occ), free(T), free(mu);
        return alim_error_set(err, ALIM_ENOMEM, "oracle", "out of memory");
    }
    rowmodel m = {.K = K, .R = R, .V = n, .q = mk->q, .a = mk->a, .t = mk->t, .scale = mk->a_docs,
                  .alpha = mk->smoothing, .prob_mode = 0, .len = (double)len};
    for (size_t i = 0; i < K; i++) {
        alim_markov_doc_entropy(&s->comp[i], len, mu);
        for (size_t t = 0; t + 1 < len; t++)
            for (size_t x = 0; x < n; x++) occ[i * R + x] += mu[t * n + x];
        occ[i * R + n] = 1;
        memcpy(T + i * R * n, s->comp[i].P, n * n * sizeof *T);
        memcpy(T + i * R * n + n * n, s->comp[i].init, n * sizeof *T);
        m.occ[i] = occ + i * R;
        m.T[i] = T + i * R * n;
    }
    st = eval(&m, k, l, out, err);
    free(occ), free(T), free(mu);
    return st;
}
