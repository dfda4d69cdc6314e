/* simulate.c — seeded simulator of the codebook mixture, experiments E1 and E4
 * (spec bottleneck.md §8; see alim/simulate.h). */
#include "alim/simulate.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bounds.h"
#include "alim/info.h"

/* ---- the model -------------------------------------------------------------------------- */

typedef struct {
    double weight;
    size_t n_in, n_h, n_y;
    size_t cell0;    /* first cell of this context */
    double *cog_cdf; /* n_in * n_h, cumulative sums of each row of W_cog */
    double *art_cdf; /* n_h * n_y, cumulative sums of each row of W_art */
    double *casc;    /* n_in * n_y, W_cog · W_art */
} sim_ctx;

struct alim_sim_model {
    size_t M, n_ctx, n_cells;
    double gap; /* Δ */
    sim_ctx *ctx;
    double *ctx_cdf;  /* n_ctx, cumulative P_S */
    size_t *cell_ctx; /* n_cells: the context of each cell */
    double *cell_p;   /* n_cells: P(S=s, Y=y) */
};

static const double Z95 = 1.959963984540054;

void alim_sim_model_free(alim_sim_model *m)
{
    if (!m) return;
    if (m->ctx)
        for (size_t i = 0; i < m->n_ctx; i++) {
            free(m->ctx[i].cog_cdf);
            free(m->ctx[i].art_cdf);
            free(m->ctx[i].casc);
        }
    free(m->ctx);
    free(m->ctx_cdf);
    free(m->cell_ctx);
    free(m->cell_p);
    free(m);
}

static void cumulate(const double *w, size_t rows, size_t cols, double *cdf)
{
    for (size_t r = 0; r < rows; r++) {
        double acc = 0.0;
        for (size_t c = 0; c < cols; c++) {
            acc += w[r * cols + c];
            cdf[r * cols + c] = acc;
        }
    }
}

/* Number of codewords j < M with j mod n_in = u. */
static size_t codewords_of(size_t M, size_t n_in, size_t u)
{
    return M / n_in + (u < M % n_in ? 1 : 0);
}

alim_status alim_sim_model_alloc(const alim_scenario *s, alim_sim_model **out, alim_error *err)
{
    *out = NULL;
    double Md = nearbyint(exp(s->log_m));
    if (!(s->log_m <= log((double)ALIM_SIM_MAX_M) + 1e-9) || fabs(log(Md) - s->log_m) > 1e-9)
        return alim_error_set(err, ALIM_EINVAL, "simulate",
                              "the simulator needs an integer codebook size M <= %d (this scenario has ln M = %g)",
                              ALIM_SIM_MAX_M, s->log_m);
    alim_sim_model *m = calloc(1, sizeof *m);
    if (!m) return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    m->M = (size_t)Md;
    m->gap = s->loss_gap;
    m->n_ctx = s->n_contexts;
    m->ctx = calloc(m->n_ctx, sizeof *m->ctx);
    m->ctx_cdf = malloc(m->n_ctx * sizeof *m->ctx_cdf);
    alim_status st = ALIM_OK;
    if (!m->ctx || !m->ctx_cdf) {
        st = alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
        goto fail;
    }
    double acc = 0.0;
    for (size_t i = 0; i < m->n_ctx; i++) {
        const alim_context_spec *cs = &s->contexts[i];
        sim_ctx *c = &m->ctx[i];
        char where[64];
        snprintf(where, sizeof where, "contexts[%zu]", i);
        alim_channel cog = {0}, art = {0}, casc = {0};
        if ((st = alim_channel_spec_build(&cs->cognitive, s->log_m, &cog, err))) {
            if (err) snprintf(err->where, sizeof err->where, "%s.cognitive", where);
            goto fail;
        }
        if ((st = alim_channel_spec_build(&cs->articulation, s->log_m, &art, err))) {
            if (err) snprintf(err->where, sizeof err->where, "%s.articulation", where);
            alim_channel_free(&cog);
            goto fail;
        }
        if (cog.ny != art.nx) {
            st = alim_error_set(err, ALIM_EINVAL, where,
                                "the cognitive channel has %zu outputs but the articulation channel has %zu inputs",
                                cog.ny, art.nx);
        } else {
            st = alim_channel_compose(&cog, &art, &casc, err);
        }
        if (!st) {
            c->weight = cs->weight;
            c->n_in = cog.nx, c->n_h = cog.ny, c->n_y = art.ny;
            c->cell0 = m->n_cells;
            m->n_cells += c->n_y;
            c->cog_cdf = malloc(cog.nx * cog.ny * sizeof *c->cog_cdf);
            c->art_cdf = malloc(art.nx * art.ny * sizeof *c->art_cdf);
            if (!c->cog_cdf || !c->art_cdf) {
                st = alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
            } else {
                cumulate(cog.w, cog.nx, cog.ny, c->cog_cdf);
                cumulate(art.w, art.nx, art.ny, c->art_cdf);
                c->casc = casc.w; /* take ownership */
                casc.w = NULL;
            }
        }
        alim_channel_free(&cog);
        alim_channel_free(&art);
        alim_channel_free(&casc);
        if (st) goto fail;
        acc += cs->weight;
        m->ctx_cdf[i] = acc;
    }
    if ((double)m->n_cells * (double)m->M > (double)ALIM_SIM_MAX_TABLE) {
        st = alim_error_set(err, ALIM_EINVAL, "simulate",
                            "%zu (context, label) cells times M = %zu exceeds the simulator's limit of %u", m->n_cells,
                            m->M, ALIM_SIM_MAX_TABLE);
        goto fail;
    }
    m->cell_ctx = malloc(m->n_cells * sizeof *m->cell_ctx);
    m->cell_p = malloc(m->n_cells * sizeof *m->cell_p);
    if (!m->cell_ctx || !m->cell_p) {
        st = alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < m->n_ctx; i++) {
        const sim_ctx *c = &m->ctx[i];
        for (size_t y = 0; y < c->n_y; y++) {
            double p = 0.0;
            for (size_t u = 0; u < c->n_in && u < m->M; u++)
                p += (double)codewords_of(m->M, c->n_in, u) * c->casc[u * c->n_y + y];
            m->cell_ctx[c->cell0 + y] = i;
            m->cell_p[c->cell0 + y] = c->weight * p / (double)m->M;
        }
    }
    *out = m;
    return ALIM_OK;
fail:
    alim_sim_model_free(m);
    return st;
}

size_t alim_sim_model_codebook_size(const alim_sim_model *m) { return m->M; }
size_t alim_sim_model_contexts(const alim_sim_model *m) { return m->n_ctx; }
size_t alim_sim_model_cells(const alim_sim_model *m) { return m->n_cells; }
double alim_sim_model_loss_gap(const alim_sim_model *m) { return m->gap; }

size_t alim_sim_cell(const alim_sim_model *m, size_t s, size_t y)
{
    if (s >= m->n_ctx || y >= m->ctx[s].n_y) return (size_t)-1;
    return m->ctx[s].cell0 + y;
}

double alim_sim_cell_prob(const alim_sim_model *m, size_t c) { return m->cell_p[c]; }

double alim_sim_joint(const alim_sim_model *m, size_t c, size_t j)
{
    const sim_ctx *x = &m->ctx[m->cell_ctx[c]];
    size_t y = c - x->cell0;
    return x->weight * x->casc[(j % x->n_in) * x->n_y + y] / (double)m->M;
}

double alim_sim_canonical_loss(const alim_sim_model *m, size_t c, size_t a)
{
    double p = m->cell_p[c];
    if (!(p > 0.0)) return m->gap * (1.0 - 1.0 / (double)m->M);
    double l = 1.0 - alim_sim_joint(m, c, a) / p;
    return m->gap * (l < 0.0 ? 0.0 : l > 1.0 ? 1.0 : l);
}

void alim_sim_draw(const alim_sim_model *m, alim_rng *rng, size_t *j, size_t *cell)
{
    size_t jj = (size_t)alim_rng_below(rng, m->M);
    size_t s = m->n_ctx > 1 ? alim_rng_discrete_cdf(rng, m->ctx_cdf, m->n_ctx) : 0;
    const sim_ctx *c = &m->ctx[s];
    size_t u = jj % c->n_in;
    size_t h = alim_rng_discrete_cdf(rng, c->cog_cdf + u * c->n_h, c->n_h);
    size_t y = alim_rng_discrete_cdf(rng, c->art_cdf + h * c->n_y, c->n_y);
    *j = jj;
    *cell = c->cell0 + y;
}

double alim_sim_risk_exact(const alim_sim_model *m, const uint32_t *f)
{
    double correct = 0.0;
    for (size_t c = 0; c < m->n_cells; c++) correct += alim_sim_joint(m, c, f[c]);
    double r = 1.0 - correct;
    return m->gap * (r < 0.0 ? 0.0 : r);
}

/* argmax_j P(J=j, cell c); the codewords j >= n_in repeat inputs, so the smallest maximiser
 * is an input index u < min(M, n_in). */
static uint32_t bayes_index(const alim_sim_model *m, size_t c)
{
    const sim_ctx *x = &m->ctx[m->cell_ctx[c]];
    size_t y = c - x->cell0, best = 0;
    double bv = -1.0;
    for (size_t u = 0; u < x->n_in && u < m->M; u++) {
        double v = x->casc[u * x->n_y + y];
        if (v > bv) bv = v, best = u;
    }
    return (uint32_t)best;
}

void alim_sim_bayes_decoder(const alim_sim_model *m, uint32_t *f)
{
    for (size_t c = 0; c < m->n_cells; c++) f[c] = bayes_index(m, c);
}

void alim_sim_wilson(size_t k, size_t n, double z, double *low, double *high)
{
    if (n == 0) {
        *low = 0.0, *high = 1.0;
        return;
    }
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double den = 1.0 + z2 / nn;
    double centre = (p + z2 / (2.0 * nn)) / den;
    double half = z * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / den;
    *low = k == 0 ? 0.0 : fmax(0.0, centre - half);
    *high = k == n ? 1.0 : fmin(1.0, centre + half);
}

static alim_sim_estimate estimate_from_count(size_t k, size_t n, double scale)
{
    alim_sim_estimate e;
    double p = n ? (double)k / (double)n : 0.0, lo, hi;
    alim_sim_wilson(k, n, Z95, &lo, &hi);
    e.n = n;
    e.mean = scale * p;
    e.se = n ? scale * sqrt(p * (1.0 - p) / (double)n) : INFINITY;
    e.ci_low = scale * lo;
    e.ci_high = scale * hi;
    return e;
}

void alim_sim_risk_mc(const alim_sim_model *m, const uint32_t *const *decoders, size_t n_dec, size_t n_test,
                      alim_rng *rng, alim_sim_estimate *out)
{
    size_t errs_small[8] = {0};
    size_t *errs = n_dec <= 8 ? errs_small : calloc(n_dec, sizeof *errs);
    if (!errs) { /* cannot count: report an uninformative estimate */
        for (size_t d = 0; d < n_dec; d++) out[d] = estimate_from_count(0, 0, m->gap);
        return;
    }
    for (size_t t = 0; t < n_test; t++) {
        size_t j, c;
        alim_sim_draw(m, rng, &j, &c);
        for (size_t d = 0; d < n_dec; d++) errs[d] += decoders[d][c] != j;
    }
    for (size_t d = 0; d < n_dec; d++) out[d] = estimate_from_count(errs[d], n_test, m->gap);
    if (errs != errs_small) free(errs);
}

/* ---- learners ----------------------------------------------------------------------------- */

const char *alim_sim_learner_name(alim_sim_learner l)
{
    switch (l) {
    case ALIM_SIM_PLUGIN_MAP: return "plugin-map";
    case ALIM_SIM_ERM_CANONICAL: return "erm-canonical";
    case ALIM_SIM_LOGISTIC: return "logistic";
    default: return "unknown";
    }
}

static uint32_t argmax_u32(const uint32_t *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return (uint32_t)b;
}

static uint32_t argmax_d(const double *v, size_t n)
{
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return (uint32_t)b;
}

static alim_status fit_plugin(const alim_sim_model *m, const uint32_t *counts, uint32_t *f, alim_error *err)
{
    const size_t M = m->M;
    uint32_t *tot = calloc(M, sizeof *tot);
    if (!tot) return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    for (size_t c = 0; c < m->n_cells; c++)
        for (size_t j = 0; j < M; j++) tot[j] += counts[c * M + j];
    uint32_t fallback = argmax_u32(tot, M);
    for (size_t c = 0; c < m->n_cells; c++) {
        const uint32_t *row = counts + c * M;
        uint64_t n = 0;
        for (size_t j = 0; j < M; j++) n += row[j];
        f[c] = n ? argmax_u32(row, M) : fallback;
    }
    free(tot);
    return ALIM_OK;
}

static void fit_erm(const alim_sim_model *m, const uint32_t *counts, uint32_t *f)
{
    const size_t M = m->M;
    for (size_t c = 0; c < m->n_cells; c++) {
        uint64_t n = 0;
        for (size_t j = 0; j < M; j++) n += counts[c * M + j];
        /* summed canonical loss of index a on this cell's items: n·ℓ̃(a; c); all 0 if n = 0 */
        size_t best = 0;
        double bv = INFINITY;
        for (size_t a = 0; a < M; a++) {
            double v = (double)n * alim_sim_canonical_loss(m, c, a);
            if (v < bv) bv = v, best = a;
        }
        f[c] = (uint32_t)best;
    }
}

static alim_status fit_logistic(const alim_sim_model *m, const uint32_t *counts, const alim_sim_logistic_options *o,
                                uint32_t *f, alim_error *err)
{
    const size_t M = m->M;
    size_t nv = 0;
    double total = 0.0;
    size_t *vis = malloc(m->n_cells * sizeof *vis);
    double *nc = malloc(m->n_cells * sizeof *nc);
    if (!vis || !nc) {
        free(vis), free(nc);
        return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    }
    for (size_t c = 0; c < m->n_cells; c++) {
        double n = 0.0;
        for (size_t j = 0; j < M; j++) n += counts[c * M + j];
        if (n > 0) vis[nv] = c, nc[nv] = n, nv++, total += n;
    }
    double *W = calloc(nv * M + 3 * M, sizeof *W);
    if (!W) {
        free(vis), free(nc);
        return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    }
    double *b = W + nv * M, *gb = b + M, *p = gb + M;
    const double lr = o->learning_rate, l2 = o->l2, inv_m = total > 0 ? 1.0 / total : 0.0;
    for (size_t step = 0; step < o->steps && nv > 0; step++) {
        memset(gb, 0, M * sizeof *gb);
        for (size_t k = 0; k < nv; k++) {
            double *w = W + k * M;
            const uint32_t *row = counts + vis[k] * M;
            double mx = -INFINITY, z = 0.0;
            for (size_t j = 0; j < M; j++) {
                p[j] = w[j] + b[j];
                if (p[j] > mx) mx = p[j];
            }
            for (size_t j = 0; j < M; j++) z += (p[j] = exp(p[j] - mx));
            for (size_t j = 0; j < M; j++) {
                double g = (nc[k] * p[j] / z - (double)row[j]) * inv_m;
                gb[j] += g;
                w[j] -= lr * (g + l2 * w[j]);
            }
        }
        for (size_t j = 0; j < M; j++) b[j] -= lr * gb[j];
    }
    uint32_t fallback = argmax_d(b, M);
    for (size_t c = 0; c < m->n_cells; c++) f[c] = fallback;
    for (size_t k = 0; k < nv; k++) {
        for (size_t j = 0; j < M; j++) p[j] = W[k * M + j] + b[j];
        f[vis[k]] = argmax_d(p, M);
    }
    free(W), free(vis), free(nc);
    return ALIM_OK;
}

alim_status alim_sim_fit(const alim_sim_model *m, alim_sim_learner l, const uint32_t *counts,
                         const alim_sim_logistic_options *opt, uint32_t *f, alim_error *err)
{
    static const alim_sim_logistic_options def = ALIM_SIM_LOGISTIC_OPTIONS_DEFAULT;
    switch (l) {
    case ALIM_SIM_PLUGIN_MAP: return fit_plugin(m, counts, f, err);
    case ALIM_SIM_ERM_CANONICAL: fit_erm(m, counts, f); return ALIM_OK;
    case ALIM_SIM_LOGISTIC: return fit_logistic(m, counts, opt ? opt : &def, f, err);
    default: return alim_error_set(err, ALIM_EINVAL, "simulate", "unknown learner %d", (int)l);
    }
}

/* ---- experiments ---------------------------------------------------------------------------- */

enum { STREAM_E1_TRAIN = 1, STREAM_E1_TEST = 2, STREAM_E4_TRAIN = 3 };

/* Stream of (experiment purpose, m index, replicate): replicate r's training items are one
 * stream for every m (nested datasets: the m = 100 set is the first 100 items of the m = 1000
 * set), its test items a fresh stream per m. */
static uint64_t stream_id(unsigned kind, uint64_t mi, uint64_t r)
{
    return ((uint64_t)kind << 56) ^ (mi << 40) ^ r;
}

static alim_status check_m(double m, const char *what, alim_error *err)
{
    if (!(m >= 1.0 && m <= 1e9 && m == floor(m)))
        return alim_error_set(err, ALIM_EINVAL, what, "m = %g must be an integer in [1, 1e9]", m);
    return ALIM_OK;
}

static int get_flag(const int *f)
{
    int v;
#pragma omp atomic read
    v = *f;
    return v;
}

static void set_flag(int *f)
{
#pragma omp atomic write
    *f = 1;
}

/* Counts one finished task and reports it; a non-zero answer raises *stop. */
static void report(const alim_progress *progress, const char *stage, size_t *done, size_t total, int *stop)
{
#pragma omp critical(alim_sim_progress)
    {
        ++*done;
        if (!get_flag(stop) && alim_progress_report(progress, stage, (double)*done, (double)total)) set_flag(stop);
    }
}

void alim_sim_e1_result_free(alim_sim_e1_result *r)
{
    if (!r) return;
    free(r->rows);
    free(r->summary);
    r->rows = NULL;
    r->summary = NULL;
    r->n_rows = 0;
}

/* One (m, replicate) task of E1: rows[0..ALIM_SIM_N_LEARNERS). */
static alim_status e1_task(const alim_sim_model *model, const alim_sim_e1_options *o, double m, size_t mi, size_t r,
                           alim_sim_e1_row *rows, alim_error *err)
{
    const size_t M = model->M, nc = model->n_cells;
    uint32_t *counts = calloc(nc * M, sizeof *counts);
    uint32_t *dec = malloc(ALIM_SIM_N_LEARNERS * nc * sizeof *dec);
    if (!counts || !dec) {
        free(counts), free(dec);
        return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    }
    alim_rng rng;
    alim_rng_seed(&rng, o->seed, stream_id(STREAM_E1_TRAIN, 0, r));
    for (size_t i = 0; i < (size_t)m; i++) {
        size_t j, c;
        alim_sim_draw(model, &rng, &j, &c);
        counts[c * M + j]++;
    }
    alim_status st = ALIM_OK;
    const uint32_t *decs[ALIM_SIM_N_LEARNERS];
    for (int l = 0; l < ALIM_SIM_N_LEARNERS && !st; l++) {
        st = alim_sim_fit(model, (alim_sim_learner)l, counts, &o->logistic, dec + (size_t)l * nc, err);
        decs[l] = dec + (size_t)l * nc;
    }
    if (!st) {
        alim_sim_estimate est[ALIM_SIM_N_LEARNERS];
        alim_rng_seed(&rng, o->seed, stream_id(STREAM_E1_TEST, mi, r));
        alim_sim_risk_mc(model, decs, ALIM_SIM_N_LEARNERS, o->test_items, &rng, est);
        for (int l = 0; l < ALIM_SIM_N_LEARNERS; l++) {
            alim_sim_e1_row *row = &rows[l];
            row->m = m;
            row->learner = (alim_sim_learner)l;
            row->replicate = r;
            row->risk_exact = alim_sim_risk_exact(model, decs[l]);
            row->risk_mc = est[l];
            row->done = 1;
        }
    }
    free(counts), free(dec);
    return st;
}

alim_status alim_simulate_e1(const alim_scenario *s, const alim_sim_e1_options *opt, const alim_progress *progress,
                             alim_sim_e1_result *out, alim_error *err)
{
    static const double default_m[] = {10, 100, 1000, 10000, 100000};
    alim_sim_e1_options o = ALIM_SIM_E1_OPTIONS_DEFAULT;
    if (opt) o = *opt;
    if (!o.m_values) o.m_values = default_m, o.n_m = sizeof default_m / sizeof *default_m;
    memset(out, 0, sizeof *out);
    if (o.n_m == 0) return alim_error_set(err, ALIM_EINVAL, "m_values", "the list of training-set sizes is empty");
    for (size_t i = 0; i < o.n_m; i++) {
        alim_status st = check_m(o.m_values[i], "m_values", err);
        if (st) return st;
    }
    if (o.replicates == 0) return alim_error_set(err, ALIM_EINVAL, "replicates", "need at least 1 replicate");
    if (o.test_items == 0) return alim_error_set(err, ALIM_EINVAL, "test_items", "need at least 1 test item");
    if (o.logistic.steps > 1000000)
        return alim_error_set(err, ALIM_EINVAL, "logistic.steps", "at most 1000000 gradient steps");
    if (!(o.logistic.learning_rate > 0 && o.logistic.learning_rate < 2))
        return alim_error_set(err, ALIM_EINVAL, "logistic.learning_rate",
                              "the step size %g must be in (0, 2) (the loss is (1 + l2)-smooth)", o.logistic.learning_rate);
    if (!(o.logistic.l2 >= 0 && o.logistic.l2 <= 1))
        return alim_error_set(err, ALIM_EINVAL, "logistic.l2", "the L2 weight %g must be in [0, 1]", o.logistic.l2);

    alim_interval iv;
    alim_status st = alim_interval_compute(s, &iv, err);
    if (st) return st;
    alim_sim_model *model;
    if ((st = alim_sim_model_alloc(s, &model, err))) {
        alim_interval_free(&iv);
        return st;
    }
    const double gap = s->loss_gap;
    out->M = model->M;
    out->n_cells = model->n_cells;
    out->loss_gap = gap;
    out->lower_bound = iv.lower_bound;
    out->lb_casc = iv.lb_strong_casc;
    out->lb_info = iv.lb_strong_info;
    out->bayes_risk = gap * iv.bayes_risk;
    out->c_tot_upper_nats = iv.c_tot_upper;
    out->info_nats = iv.info_nats;
    out->n_m = o.n_m;
    out->replicates = o.replicates;
    out->test_items = o.test_items;
    out->seed = o.seed;
    alim_interval_free(&iv);

    const size_t R = o.replicates, L = ALIM_SIM_N_LEARNERS, tasks = o.n_m * R;
    out->n_rows = tasks * L;
    out->rows = calloc(out->n_rows, sizeof *out->rows);
    out->summary = calloc(o.n_m * L, sizeof *out->summary);
    if (!out->rows || !out->summary) {
        alim_sim_model_free(model);
        alim_sim_e1_result_free(out);
        return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    }
    int stop = 0;
    size_t done = 0;
    alim_status fail = ALIM_OK;
    alim_error ferr;
    alim_error_clear(&ferr);
    /* the last m (usually the largest) first, so the long tasks do not end up last in a queue */
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t t = 0; t < tasks; t++) {
        if (get_flag(&stop)) continue;
        size_t mi = o.n_m - 1 - t / R, r = t % R;
        alim_error e;
        alim_status ts = e1_task(model, &o, o.m_values[mi], mi, r, out->rows + (mi * R + r) * L, &e);
        if (ts) {
#pragma omp critical(alim_sim_fail)
            if (!fail) fail = ts, ferr = e;
            set_flag(&stop);
        }
        report(progress, "simulate e1", &done, tasks, &stop);
    }
    alim_sim_model_free(model);
    if (fail) {
        alim_sim_e1_result_free(out);
        if (err) *err = ferr;
        return fail;
    }
    out->stopped = stop && done < tasks;
    /* summaries and checks */
    out->mc_above_lb = 1;
    out->exact_above_bayes = 1;
    out->min_margin = INFINITY;
    size_t in_ci = 0, n_done = 0;
    for (size_t mi = 0; mi < o.n_m; mi++)
        for (size_t l = 0; l < L; l++) {
            alim_sim_e1_summary *sm = &out->summary[mi * L + l];
            sm->m = o.m_values[mi];
            sm->learner = (alim_sim_learner)l;
            sm->min_mc_minus_3se = INFINITY;
            sm->min_exact = INFINITY;
            double s1 = 0, s2 = 0, smc = 0;
            for (size_t r = 0; r < R; r++) {
                const alim_sim_e1_row *row = &out->rows[(mi * R + r) * L + l];
                if (!row->done) continue;
                sm->n++;
                s1 += row->risk_exact;
                smc += row->risk_mc.mean;
                double lo = row->risk_mc.mean - 3.0 * row->risk_mc.se;
                if (lo < sm->min_mc_minus_3se) sm->min_mc_minus_3se = lo;
                if (row->risk_exact < sm->min_exact) sm->min_exact = row->risk_exact;
                if (lo - out->lower_bound < out->min_margin) out->min_margin = lo - out->lower_bound;
                if (lo < out->lower_bound) out->mc_above_lb = 0;
                if (row->risk_exact < out->bayes_risk - 1e-12) out->exact_above_bayes = 0;
                n_done++;
                if (row->risk_mc.ci_low <= row->risk_exact && row->risk_exact <= row->risk_mc.ci_high) in_ci++;
            }
            double n = (double)sm->n;
            sm->mean_exact = n ? s1 / n : NAN;
            sm->mean_mc = n ? smc / n : NAN;
            /* second pass for the spread (no cancellation when every replicate hits R*) */
            for (size_t r = 0; r < R; r++) {
                const alim_sim_e1_row *row = &out->rows[(mi * R + r) * L + l];
                if (row->done) s2 += (row->risk_exact - sm->mean_exact) * (row->risk_exact - sm->mean_exact);
            }
            sm->sd_exact = n > 1 ? sqrt(s2 / (n - 1)) : 0.0;
            if (sm->sd_exact < 1e-12) sm->sd_exact = 0.0;
            /* the simulator's and the interval's R* are sums in different orders: differences
             * below 1e-12 are rounding, reported as 0 */
            sm->excess = sm->mean_exact - out->bayes_risk;
            if (fabs(sm->excess) < 1e-12) sm->excess = 0.0;
        }
    out->ci_coverage = n_done ? (double)in_ci / (double)n_done : NAN;
    for (size_t l = 0; l < L; l++) {
        const alim_sim_e1_summary *first = &out->summary[l], *last = &out->summary[(o.n_m - 1) * L + l];
        out->gap_shrinks[l] = first->n && last->n ? last->excess <= first->excess + 1e-12 : 0;
    }
    return ALIM_OK;
}

/* ---- E4 ------------------------------------------------------------------------------------ */

void alim_sim_e4_result_free(alim_sim_e4_result *r)
{
    if (!r) return;
    free(r->rows);
    r->rows = NULL;
}

typedef struct {
    const alim_sim_model *model;
    const double *closs; /* cells * M canonical losses */
    double m, lambda, log_xi, delta, eta, budget;
    alim_pacbayes_form form; /* the scenario's PAC-Bayes form (kl-xi by default) */
    double catoni_c;
    uint64_t seed;
} e4_ctx;

/* Gibbs quantities from cell counts; closs = the canonical-loss table (cells * M) or NULL. */
static alim_status gibbs(const alim_sim_model *model, const double *closs, const uint32_t *n, double lambda,
                         double *emp_risk, double *kl_nats, double *true_risk, alim_error *err)
{
    const size_t M = model->M, nc = model->n_cells;
    double *la = malloc(2 * M * sizeof *la);
    if (!la) return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    double *lt = la + M;
    const double logM = log((double)M);
    double emp = 0.0, kl = 0.0, correct = 0.0, total = 0.0;
    for (size_t c = 0; c < nc; c++) {
        if (n[c] == 0) { /* q_c = the prior: no KL, no empirical loss */
            correct += model->cell_p[c] / (double)M;
            continue;
        }
        const double *l = closs ? closs + c * M : lt;
        if (!closs)
            for (size_t a = 0; a < M; a++) lt[a] = alim_sim_canonical_loss(model, c, a);
        total += n[c];
        for (size_t a = 0; a < M; a++) la[a] = -lambda * (double)n[c] * l[a];
        double lz = alim_logsumexp(la, M), ec = 0.0, kc = 0.0, cc = 0.0;
        for (size_t a = 0; a < M; a++) {
            double lq = la[a] - lz, q = exp(lq);
            if (q == 0.0) continue;
            ec += q * l[a];
            kc += q * (lq + logM);
            cc += q * alim_sim_joint(model, c, a);
        }
        emp += (double)n[c] * ec;
        kl += kc > 0.0 ? kc : 0.0;
        correct += cc;
    }
    emp = total > 0 ? emp / total : 0.0;
    *emp_risk = emp < 0.0 ? 0.0 : emp > 1.0 ? 1.0 : emp;
    *kl_nats = kl;
    double tr = model->gap * (1.0 - correct);
    *true_risk = tr < 0.0 ? 0.0 : tr;
    free(la);
    return ALIM_OK;
}

alim_status alim_sim_gibbs(const alim_sim_model *m, const uint32_t *n, double lambda, double *emp_risk,
                           double *kl_nats, double *true_risk, alim_error *err)
{
    return gibbs(m, NULL, n, lambda, emp_risk, kl_nats, true_risk, err);
}

static alim_status e4_task(const e4_ctx *x, size_t r, alim_sim_e4_row *row, alim_error *err)
{
    const alim_sim_model *model = x->model;
    uint32_t *n = calloc(model->n_cells, sizeof *n);
    if (!n) return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    alim_rng rng;
    alim_rng_seed(&rng, x->seed, stream_id(STREAM_E4_TRAIN, 0, r));
    for (size_t i = 0; i < (size_t)x->m; i++) {
        size_t j, c;
        alim_sim_draw(model, &rng, &j, &c);
        n[c]++;
    }
    alim_status st = gibbs(model, x->closs, n, x->lambda, &row->emp_risk, &row->kl_nats, &row->true_risk, err);
    free(n);
    if (st) return st;
    row->replicate = r;
    row->ub_measured = alim_pacbayes_bound(x->form, row->emp_risk, row->kl_nats, x->m, x->delta, x->catoni_c);
    row->ub_budget = alim_pacbayes_bound(x->form, row->emp_risk, x->budget / x->eta, x->m, x->delta, x->catoni_c);
    row->covered_measured = row->true_risk <= row->ub_measured;
    row->covered_budget = row->true_risk <= row->ub_budget;
    row->done = 1;
    return ALIM_OK;
}

alim_status alim_simulate_e4(const alim_scenario *s, const alim_sim_e4_options *opt, const alim_progress *progress,
                             alim_sim_e4_result *out, alim_error *err)
{
    alim_sim_e4_options o = ALIM_SIM_E4_OPTIONS_DEFAULT;
    if (opt) o = *opt;
    memset(out, 0, sizeof *out);
    double m = o.m > 0 ? o.m : s->m;
    alim_status st = check_m(m, "m", err);
    if (st) return st;
    if (o.replicates == 0) return alim_error_set(err, ALIM_EINVAL, "replicates", "need at least 1 replicate");
    if (!(o.lambda >= 0.0 && isfinite(o.lambda)))
        return alim_error_set(err, ALIM_EINVAL, "lambda", "lambda = %g must be finite and >= 0", o.lambda);
    alim_interval iv;
    if ((st = alim_interval_compute(s, &iv, err))) return st;
    alim_sim_model *model;
    if ((st = alim_sim_model_alloc(s, &model, err))) {
        alim_interval_free(&iv);
        return st;
    }
    const size_t M = model->M, nc = model->n_cells;
    out->M = M;
    out->n_cells = nc;
    out->m = m;
    out->lambda = o.lambda;
    out->delta = s->delta;
    out->eta = s->eta;
    out->loss_gap = s->loss_gap;
    out->class_log2 = (double)nc * log2((double)M);
    out->kl_max_nats = (double)nc * log((double)M);
    out->budget_nats = m * (iv.c_tot_upper + s->info_us_nats) + s->rho_nats + s->prior_mismatch_nats;
    out->lower_bound = iv.lower_bound;
    out->lb_info = iv.lb_strong_info;
    out->bayes_risk = s->loss_gap * iv.bayes_risk;
    out->replicates = o.replicates;
    out->seed = o.seed;
    alim_interval_free(&iv);
    if (!(out->class_log2 <= o.max_class_log2)) {
        alim_sim_model_free(model);
        return alim_error_set(err, ALIM_EINVAL, "simulate e4",
                              "the decoder class has M^cells = %zu^%zu = 2^%.4g decoders, above the limit 2^%g "
                              "(raise max_class_log2)",
                              M, nc, out->class_log2, o.max_class_log2);
    }
    double *closs = malloc(nc * M * sizeof *closs);
    out->rows = calloc(o.replicates, sizeof *out->rows);
    if (!closs || !out->rows) {
        free(closs);
        alim_sim_model_free(model);
        alim_sim_e4_result_free(out);
        return alim_error_set(err, ALIM_ENOMEM, "simulate", "out of memory");
    }
    for (size_t c = 0; c < nc; c++)
        for (size_t a = 0; a < M; a++) closs[c * M + a] = alim_sim_canonical_loss(model, c, a);
    e4_ctx x = {model, closs, m, o.lambda, alim_pacbayes_log_xi(m), s->delta, s->eta, out->budget_nats,
                s->form, s->catoni_c, o.seed};
    int stop = 0;
    size_t done = 0;
    alim_status fail = ALIM_OK;
    alim_error ferr;
    alim_error_clear(&ferr);
#pragma omp parallel for schedule(dynamic, 16)
    for (size_t r = 0; r < o.replicates; r++) {
        if (get_flag(&stop)) continue;
        alim_error e;
        alim_status ts = e4_task(&x, r, &out->rows[r], &e);
        if (ts) {
#pragma omp critical(alim_sim_fail)
            if (!fail) fail = ts, ferr = e;
            set_flag(&stop);
        }
        report(progress, "simulate e4", &done, o.replicates, &stop);
    }
    free(closs);
    alim_sim_model_free(model);
    if (fail) {
        alim_sim_e4_result_free(out);
        if (err) *err = ferr;
        return fail;
    }
    out->stopped = stop && done < o.replicates;
    out->above_lb = 1;
    out->min_true_risk = INFINITY;
    size_t n_above = 0;
    double se = 0, st_ = 0, sk = 0, sum = 0, sub = 0;
    for (size_t r = 0; r < o.replicates; r++) {
        const alim_sim_e4_row *row = &out->rows[r];
        if (!row->done) continue;
        out->n_done++;
        out->n_covered_measured += (size_t)row->covered_measured;
        out->n_covered_budget += (size_t)row->covered_budget;
        out->n_covered_naive += (size_t)(row->true_risk <= row->emp_risk);
        se += row->emp_risk, st_ += row->true_risk, sk += row->kl_nats;
        sum += row->ub_measured, sub += row->ub_budget;
        if (row->kl_nats > out->max_kl_nats) out->max_kl_nats = row->kl_nats;
        if (row->true_risk < out->min_true_risk) out->min_true_risk = row->true_risk;
        if (row->true_risk < out->lower_bound) out->above_lb = 0;
        if (row->kl_nats > out->budget_nats / out->eta) n_above++;
    }
    double n = (double)out->n_done;
    out->mean_emp_risk = se / n, out->mean_true_risk = st_ / n, out->mean_kl_nats = sk / n;
    out->mean_ub_measured = sum / n, out->mean_ub_budget = sub / n;
    out->frac_kl_above_budget = (double)n_above / n;
    out->kl_within_budget = out->mean_kl_nats <= out->budget_nats;
    out->coverage_measured = estimate_from_count(out->n_covered_measured, out->n_done, 1.0);
    out->coverage_budget = estimate_from_count(out->n_covered_budget, out->n_done, 1.0);
    out->coverage_naive = estimate_from_count(out->n_covered_naive, out->n_done, 1.0);
    out->measured_ok = out->n_done > 0 && out->coverage_measured.ci_high >= 1.0 - out->delta;
    out->budget_ok = out->n_done > 0 && out->coverage_budget.ci_high >= 1.0 - out->delta - out->eta;
    return ALIM_OK;
}
