/* source.c — Markov chains and the synthetic source S (see alim/source.h). */
#include "alim/source.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/info.h"

alim_status alim_markov_alloc(alim_markov *m, size_t n, alim_error *err)
{
    memset(m, 0, sizeof *m);
    if (n == 0 || n > 256) return alim_error_set(err, ALIM_EINVAL, "markov", "%zu symbols (need 1..256)", n);
    m->n = n;
    m->init = calloc(n, sizeof *m->init);
    m->P = calloc(n * n, sizeof *m->P);
    m->cdf = calloc(n + n * n, sizeof *m->cdf);
    if (!m->init || !m->P || !m->cdf) {
        alim_markov_free(m);
        return alim_error_set(err, ALIM_ENOMEM, "markov", "out of memory");
    }
    return ALIM_OK;
}

void alim_markov_free(alim_markov *m)
{
    if (!m) return;
    free(m->init);
    free(m->P);
    free(m->cdf);
    memset(m, 0, sizeof *m);
}

void alim_markov_prepare(alim_markov *m)
{
    size_t n = m->n;
    double c = 0;
    for (size_t j = 0; j < n; j++) m->cdf[j] = c += m->init[j];
    for (size_t s = 0; s < n; s++) {
        c = 0;
        for (size_t j = 0; j < n; j++) m->cdf[n + s * n + j] = c += m->P[s * n + j];
    }
}

alim_status alim_markov_check(const alim_markov *m, double tol, const char *where, alim_error *err)
{
    alim_status st = alim_check_distribution(m->init, m->n, tol, where, err);
    for (size_t s = 0; s < m->n && !st; s++) st = alim_check_distribution(m->P + s * m->n, m->n, tol, where, err);
    return st;
}

/* y = x P */
static void vec_mat(const alim_markov *m, const double *x, double *y)
{
    size_t n = m->n;
    for (size_t j = 0; j < n; j++) y[j] = 0;
    for (size_t s = 0; s < n; s++) {
        double xs = x[s];
        if (xs == 0) continue;
        const double *row = m->P + s * n;
        for (size_t j = 0; j < n; j++) y[j] += xs * row[j];
    }
}

alim_status alim_markov_stationary(const alim_markov *m, double *pi, double tol, size_t max_iter,
                                   double *residual, alim_error *err)
{
    size_t n = m->n;
    double *y = malloc(n * sizeof *y);
    if (!y) return alim_error_set(err, ALIM_ENOMEM, "markov", "out of memory");
    for (size_t j = 0; j < n; j++) pi[j] = 1.0 / (double)n;
    double res = INFINITY;
    for (size_t it = 0; it < max_iter; it++) {
        vec_mat(m, pi, y);
        res = 0;
        for (size_t j = 0; j < n; j++) res += fabs(y[j] - pi[j]);
        if (res <= tol) break;
        double sum = 0;
        for (size_t j = 0; j < n; j++) sum += pi[j] = 0.5 * (pi[j] + y[j]);
        for (size_t j = 0; j < n; j++) pi[j] /= sum;
    }
    free(y);
    if (residual) *residual = res;
    if (!(res <= tol))
        return alim_error_set(err, ALIM_ENOCONV, "markov", "stationary law: residual %.3g after %zu iterations", res, max_iter);
    return ALIM_OK;
}

double alim_markov_entropy_rate(const alim_markov *m, const double *pi)
{
    double h = 0;
    for (size_t s = 0; s < m->n; s++)
        if (pi[s] > 0) h += pi[s] * alim_entropy(m->P + s * m->n, m->n);
    return h;
}

double alim_markov_doc_entropy(const alim_markov *m, size_t len, double *marginals)
{
    size_t n = m->n;
    if (len == 0) return 0;
    double *mu = malloc(n * sizeof *mu), *nx = malloc(n * sizeof *nx), *hrow = malloc(n * sizeof *hrow);
    if (!mu || !nx || !hrow) {
        free(mu), free(nx), free(hrow);
        return NAN;
    }
    for (size_t s = 0; s < n; s++) hrow[s] = alim_entropy(m->P + s * n, n);
    memcpy(mu, m->init, n * sizeof *mu);
    double h = alim_entropy(m->init, n);
    for (size_t t = 1; t <= len; t++) {
        if (marginals) memcpy(marginals + (t - 1) * n, mu, n * sizeof *mu);
        if (t == len) break;
        for (size_t s = 0; s < n; s++) h += mu[s] * hrow[s];
        vec_mat(m, mu, nx);
        memcpy(mu, nx, n * sizeof *mu);
    }
    free(mu), free(nx), free(hrow);
    return h;
}

double alim_markov_doc_logprob(const alim_markov *m, const uint8_t *x, size_t len)
{
    if (len == 0) return 0;
    double lp = log(m->init[x[0]]);
    for (size_t t = 1; t < len; t++) lp += log(m->P[(size_t)x[t - 1] * m->n + x[t]]);
    return lp;
}

void alim_markov_sample(const alim_markov *m, alim_rng *r, uint8_t *x, size_t len)
{
    size_t n = m->n;
    if (len == 0) return;
    x[0] = (uint8_t)alim_rng_discrete_cdf(r, m->cdf, n);
    for (size_t t = 1; t < len; t++) x[t] = (uint8_t)alim_rng_discrete_cdf(r, m->cdf + n + (size_t)x[t - 1] * n, n);
}

/* ---- the source S ------------------------------------------------------------------ */

void alim_source_config_default(alim_source_config *c)
{
    c->n_symbols = 64;
    c->doc_len = 128;
    c->n_components = 3;
    c->n_decision = 16;
    c->branching = 8;
    c->zipf_s = 1.0;
    c->seed = 1;
}

void alim_source_free(alim_source *s)
{
    if (!s) return;
    for (size_t i = 0; i < ALIM_SOURCE_MAX_COMPONENTS; i++) alim_markov_free(&s->comp[i]);
}

/* Fills row (length n) with `b` successors drawn among the symbols with used[j] == 0,
 * Zipf(zs) weights in the order drawn; marks them used. */
static void draw_row(double *row, size_t n, size_t b, double zs, unsigned char *used, alim_rng *r)
{
    size_t *cand = malloc(n * sizeof *cand);
    size_t nc = 0;
    for (size_t j = 0; j < n; j++)
        if (!used[j]) cand[nc++] = j;
    double z = 0;
    for (size_t k = 1; k <= b; k++) z += pow((double)k, -zs);
    for (size_t j = 0; j < n; j++) row[j] = 0;
    for (size_t k = 0; k < b; k++) {
        size_t pick = k + (size_t)alim_rng_below(r, nc - k);
        size_t tmp = cand[k];
        cand[k] = cand[pick];
        cand[pick] = tmp;
        row[cand[k]] = pow((double)(k + 1), -zs) / z;
        used[cand[k]] = 1;
    }
    free(cand);
}

alim_status alim_source_build(alim_source *s, const alim_source_config *cfg, alim_error *err)
{
    memset(s, 0, sizeof *s);
    if (cfg->n_symbols < 2 || cfg->n_symbols > 256)
        return alim_error_set(err, ALIM_EINVAL, "n_symbols", "%zu symbols (need 2..256)", cfg->n_symbols);
    if (cfg->doc_len == 0) return alim_error_set(err, ALIM_EINVAL, "doc_len", "documents need at least one token");
    if (cfg->n_components < 1 || cfg->n_components > ALIM_SOURCE_MAX_COMPONENTS)
        return alim_error_set(err, ALIM_EINVAL, "n_components", "%zu components (need 1..%d)", cfg->n_components,
                              ALIM_SOURCE_MAX_COMPONENTS);
    if (cfg->n_decision > cfg->n_symbols)
        return alim_error_set(err, ALIM_EINVAL, "n_decision", "%zu decision rows > %zu symbols", cfg->n_decision,
                              cfg->n_symbols);
    if (cfg->branching == 0 || cfg->branching * cfg->n_components > cfg->n_symbols)
        return alim_error_set(err, ALIM_EINVAL, "branching",
                              "%zu successors x %zu components do not fit disjointly in %zu symbols", cfg->branching,
                              cfg->n_components, cfg->n_symbols);
    if (!(cfg->zipf_s >= 0) || !isfinite(cfg->zipf_s))
        return alim_error_set(err, ALIM_EINVAL, "zipf_s", "exponent must be finite and >= 0");
    s->cfg = *cfg;
    size_t n = cfg->n_symbols, K = cfg->n_components;
    for (size_t i = 0; i < K; i++) {
        alim_status st = alim_markov_alloc(&s->comp[i], n, err);
        if (st) return alim_source_free(s), st;
    }
    alim_rng r;
    alim_rng_seed(&r, cfg->seed, 0x5e1a57);
    unsigned char *used = malloc(n);
    if (!used) return alim_source_free(s), alim_error_set(err, ALIM_ENOMEM, "source", "out of memory");
    alim_markov *c1 = &s->comp[0];
    for (size_t j = 0; j < n; j++) c1->init[j] = 1.0 / (double)n;
    for (size_t row = 0; row < n; row++) {
        memset(used, 0, n);
        draw_row(c1->P + row * n, n, cfg->branching, cfg->zipf_s, used, &r);
        if (row < cfg->n_decision)
            for (size_t i = 1; i < K; i++) /* disjoint from C1 and the earlier components */
                draw_row(s->comp[i].P + row * n, n, cfg->branching, cfg->zipf_s, used, &r);
    }
    free(used);
    for (size_t i = 1; i < K; i++) {
        memcpy(s->comp[i].init, c1->init, n * sizeof(double));
        memcpy(s->comp[i].P + cfg->n_decision * n, c1->P + cfg->n_decision * n,
               (n - cfg->n_decision) * n * sizeof(double));
    }
    for (size_t i = 0; i < K; i++) alim_markov_prepare(&s->comp[i]);
    return ALIM_OK;
}

alim_status alim_source_entropies(const alim_source *s, alim_source_entropy *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = s->cfg.n_symbols;
    double *pi = malloc(n * sizeof *pi);
    if (!pi) return alim_error_set(err, ALIM_ENOMEM, "source", "out of memory");
    for (size_t i = 0; i < s->cfg.n_components; i++) {
        double res;
        alim_status st = alim_markov_stationary(&s->comp[i], pi, 1e-13, 1000000, &res, err);
        if (st) return free(pi), st;
        if (res > out->stationary_residual) out->stationary_residual = res;
        out->rate_nats[i] = alim_markov_entropy_rate(&s->comp[i], pi);
        out->doc_nats[i] = alim_markov_doc_entropy(&s->comp[i], s->cfg.doc_len, NULL);
    }
    free(pi);
    return ALIM_OK;
}

static int same_vec(const double *a, const double *b, size_t n)
{
    for (size_t j = 0; j < n; j++)
        if (a[j] != b[j]) return 0;
    return 1;
}

static int disjoint_vec(const double *a, const double *b, size_t n)
{
    for (size_t j = 0; j < n; j++)
        if (a[j] > 0 && b[j] > 0) return 0;
    return 1;
}

alim_status alim_source_mixture_doc_entropy(const alim_source *s, const double *q, double *lower,
                                            double *exact, double *upper, alim_error *err)
{
    size_t K = s->cfg.n_components, n = s->cfg.n_symbols, len = s->cfg.doc_len;
    double qs = 0;
    for (size_t i = 0; i < K; i++) {
        if (!(q[i] >= 0) || !isfinite(q[i])) return alim_error_set(err, ALIM_EINVAL, "shares", "share %zu is not >= 0", i + 1);
        qs += q[i];
    }
    if (fabs(qs - 1) > 1e-9) return alim_error_set(err, ALIM_EINVAL, "shares", "shares sum to %g, not 1", qs);
    double lo = 0;
    for (size_t i = 0; i < K; i++)
        if (q[i] > 0) lo += q[i] * alim_markov_doc_entropy(&s->comp[i], len, NULL);
    double hq = alim_entropy(q, K);
    *lower = lo;
    *upper = lo + hq;
    *exact = NAN;
    /* rows identical in all used components, or pairwise disjoint */
    size_t ref = 0;
    while (ref < K && q[ref] <= 0) ref++;
    unsigned char *ident = malloc(n);
    if (!ident) return alim_error_set(err, ALIM_ENOMEM, "source", "out of memory");
    int ok = 1;
    for (size_t i = 0; i < K && ok; i++)
        if (q[i] > 0 && !same_vec(s->comp[i].init, s->comp[ref].init, n)) ok = 0;
    for (size_t row = 0; row < n && ok; row++) {
        int same = 1, disj = 1;
        for (size_t i = 0; i < K; i++) {
            if (q[i] <= 0) continue;
            for (size_t k = i + 1; k < K; k++) {
                if (q[k] <= 0) continue;
                const double *a = s->comp[i].P + row * n, *b = s->comp[k].P + row * n;
                if (!same_vec(a, b, n)) same = 0;
                if (!disjoint_vec(a, b, n)) disj = 0;
            }
        }
        ident[row] = (unsigned char)same;
        if (!same && !disj) ok = 0;
    }
    if (ok) {
        /* P(X_1..X_{len-1} all in identical rows): propagate a sub-stochastic vector */
        const alim_markov *m = &s->comp[ref];
        double *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v);
        if (!u || !v) {
            free(u), free(v), free(ident);
            return alim_error_set(err, ALIM_ENOMEM, "source", "out of memory");
        }
        for (size_t j = 0; j < n; j++) u[j] = ident[j] ? m->init[j] : 0;
        for (size_t t = 2; t < len; t++) {
            vec_mat(m, u, v);
            for (size_t j = 0; j < n; j++) u[j] = ident[j] ? v[j] : 0;
        }
        double stay = 0;
        if (len >= 2)
            for (size_t j = 0; j < n; j++) stay += u[j];
        else
            stay = 1;
        *exact = lo + hq * (1 - stay);
        free(u), free(v);
    }
    free(ident);
    return ALIM_OK;
}

double alim_source_mixture_logprob(const alim_source *s, const double *q, const uint8_t *x)
{
    double lp[ALIM_SOURCE_MAX_COMPONENTS];
    size_t K = s->cfg.n_components;
    for (size_t i = 0; i < K; i++)
        lp[i] = q[i] > 0 ? log(q[i]) + alim_markov_doc_logprob(&s->comp[i], x, s->cfg.doc_len) : -INFINITY;
    return alim_logsumexp(lp, K);
}

size_t alim_source_pick(const double *q, size_t k, alim_rng *r)
{
    double tot = 0;
    for (size_t i = 0; i < k; i++) tot += q[i];
    double u = alim_rng_uniform(r) * tot, c = 0;
    for (size_t i = 0; i < k; i++) {
        c += q[i];
        if (u < c && q[i] > 0) return i;
    }
    for (size_t i = k; i-- > 0;)
        if (q[i] > 0) return i;
    return 0;
}

static alim_status gen_docs(const alim_source *s, alim_corpus *c, size_t n_docs, const double *q, size_t fixed,
                            uint8_t **comp_out, alim_rng *r, alim_error *err)
{
    size_t len = s->cfg.doc_len, K = s->cfg.n_components;
    uint8_t *x = malloc(len);
    char *b = malloc(len);
    uint8_t *comp = comp_out ? malloc(n_docs ? n_docs : 1) : NULL;
    if (!x || !b || (comp_out && !comp)) {
        free(x), free(b), free(comp);
        return alim_error_set(err, ALIM_ENOMEM, "source", "out of memory");
    }
    alim_status st = ALIM_OK;
    for (size_t d = 0; d < n_docs && !st; d++) {
        size_t i = q ? alim_source_pick(q, K, r) : fixed;
        if (comp) comp[d] = (uint8_t)i;
        alim_markov_sample(&s->comp[i], r, x, len);
        for (size_t t = 0; t < len; t++) b[t] = alim_source_symbol_byte(x[t]);
        st = alim_corpus_add(c, b, len, err);
    }
    free(x), free(b);
    if (st) free(comp);
    else if (comp_out) *comp_out = comp;
    return st;
}

alim_status alim_source_generate(const alim_source *s, const double *q, size_t component, size_t n_docs,
                                 uint64_t seed, uint64_t stream, alim_corpus *out, uint8_t **comp_out,
                                 alim_error *err)
{
    if (comp_out) *comp_out = NULL;
    if (!q && component >= s->cfg.n_components)
        return alim_error_set(err, ALIM_EINVAL, "source", "component %zu out of range", component + 1);
    alim_rng r;
    alim_rng_seed(&r, seed, stream);
    return gen_docs(s, out, n_docs, q, component, q ? comp_out : NULL, &r, err);
}

alim_status alim_source_make_splits(const alim_source *s, const alim_split_config *cfg, alim_splits *out,
                                    alim_error *err)
{
    memset(out, 0, sizeof *out);
    size_t K = s->cfg.n_components;
    if (cfg->n_components != K)
        return alim_error_set(err, ALIM_EINVAL, "shares", "%zu shares for %zu components", cfg->n_components, K);
    out->n_components = K;
    alim_rng r;
    alim_status st = ALIM_OK;
    /* one stream per split, so changing one size does not change the others */
    alim_rng_seed(&r, cfg->seed, 100);
    st = gen_docs(s, &out->pretrain, cfg->pretrain_docs, cfg->shares, 0, &out->pretrain_comp, &r, err);
    alim_rng_seed(&r, cfg->seed, 101);
    if (!st) st = gen_docs(s, &out->test_mix, cfg->test_docs, cfg->shares, 0, &out->test_mix_comp, &r, err);
    for (size_t i = 0; i < K && !st; i++) {
        alim_rng_seed(&r, cfg->seed, 200 + i);
        st = gen_docs(s, &out->pool[i], cfg->pool_docs, NULL, i, NULL, &r, err);
        alim_rng_seed(&r, cfg->seed, 300 + i);
        if (!st) st = gen_docs(s, &out->test[i], cfg->test_docs, NULL, i, NULL, &r, err);
        alim_rng_seed(&r, cfg->seed, 400 + i);
        if (!st) st = gen_docs(s, &out->classifier[i], cfg->classifier_docs, NULL, i, NULL, &r, err);
        out->available[i] = SIZE_MAX;
    }
    if (st) alim_splits_free(out);
    return st;
}
