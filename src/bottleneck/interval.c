/* interval.c — scenarios and the alignment performance interval (see alim/interval.h). */
#include "alim/interval.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/info.h"
#include "alim/io.h"

/* ---- scenario parsing ----------------------------------------------------------------- */

const char *alim_channel_kind_name(alim_channel_kind kind)
{
    switch (kind) {
    case ALIM_CHAN_MATRIX: return "matrix";
    case ALIM_CHAN_BSC: return "bsc";
    case ALIM_CHAN_BEC: return "bec";
    case ALIM_CHAN_Z: return "z";
    case ALIM_CHAN_MSC: return "msc";
    }
    return "unknown";
}

static alim_status parse_matrix(const cJSON *a, const char *where, alim_channel *out, alim_error *err)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
        return alim_error_set(err, ALIM_EINVAL, where, "\"matrix\" must be a non-empty array of rows");
    size_t nx = (size_t)cJSON_GetArraySize(a), ny = 0;
    double *w = NULL;
    size_t x = 0;
    alim_status st = ALIM_OK;
    for (const cJSON *row = a->child; row && !st; row = row->next, x++) {
        if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) == 0) {
            st = alim_error_set(err, ALIM_EINVAL, where, "matrix row %zu is not a non-empty array", x + 1);
            break;
        }
        size_t n = (size_t)cJSON_GetArraySize(row);
        if (x == 0) {
            ny = n;
            w = malloc(nx * ny * sizeof *w);
            if (!w) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
        } else if (n != ny) {
            st = alim_error_set(err, ALIM_EINVAL, where, "matrix row %zu has %zu entries, expected %zu (ragged rows)",
                                x + 1, n, ny);
            break;
        }
        size_t y = 0;
        for (const cJSON *v = row->child; v; v = v->next, y++) {
            if (!cJSON_IsNumber(v)) {
                st = alim_error_set(err, ALIM_EINVAL, where, "matrix row %zu, column %zu is not a number", x + 1, y + 1);
                break;
            }
            w[x * ny + y] = v->valuedouble;
        }
    }
    if (!st) st = alim_channel_from_matrix(out, w, nx, ny, 0, 0, where, err);
    free(w);
    return st;
}

static alim_status parse_channel(const cJSON *j, const char *where, alim_channel_spec *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    if (!cJSON_IsObject(j)) return alim_error_set(err, ALIM_EINVAL, where, "a channel must be a JSON object");
    const char *type = NULL;
    alim_status st = alim_json_get_string(j, "type", 0, where, &type, err);
    if (st) return st;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "matrix");
    if (m || (type && !strcmp(type, "matrix"))) {
        static const char *const keys[] = {"type", "matrix", NULL};
        if ((st = alim_json_check_keys(j, keys, where, err))) return st;
        if (!m) return alim_error_set(err, ALIM_EINVAL, where, "type \"matrix\" needs a \"matrix\" key");
        out->kind = ALIM_CHAN_MATRIX;
        return parse_matrix(m, where, &out->matrix, err);
    }
    if (!type)
        return alim_error_set(err, ALIM_EINVAL, where, "a channel needs \"type\" (bsc, bec, z, msc) or \"matrix\"");
    const char *pname = "p";
    if (!strcmp(type, "bsc")) {
        out->kind = ALIM_CHAN_BSC;
        static const char *const keys[] = {"type", "p", NULL};
        st = alim_json_check_keys(j, keys, where, err);
    } else if (!strcmp(type, "bec")) {
        out->kind = ALIM_CHAN_BEC;
        pname = "e";
        static const char *const keys[] = {"type", "e", NULL};
        st = alim_json_check_keys(j, keys, where, err);
    } else if (!strcmp(type, "z")) {
        out->kind = ALIM_CHAN_Z;
        static const char *const keys[] = {"type", "p", NULL};
        st = alim_json_check_keys(j, keys, where, err);
    } else if (!strcmp(type, "msc")) {
        out->kind = ALIM_CHAN_MSC;
        static const char *const keys[] = {"type", "p", "size", NULL};
        st = alim_json_check_keys(j, keys, where, err);
        double size = 0;
        if (!st) st = alim_json_get_number(j, "size", 0, where, &size, err);
        if (!st && (size != floor(size) || (size != 0 && size < 2) || size > 1e9))
            st = alim_error_set(err, ALIM_EINVAL, where, "\"size\" must be an integer >= 2");
        /* converted only once checked: a negative or huge double -> size_t is undefined */
        if (!st) out->size = (size_t)size;
    } else {
        return alim_error_set(err, ALIM_EINVAL, where, "unknown channel type \"%s\" (bsc, bec, z, msc or matrix)", type);
    }
    if (st) return st;
    if ((st = alim_json_get_number(j, pname, 1, where, &out->param, err))) return st;
    if (!(out->param >= 0.0 && out->param <= 1.0))
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" = %.17g is not a probability in [0, 1]", pname, out->param);
    return ALIM_OK;
}

void alim_scenario_free(alim_scenario *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_contexts; i++) {
        alim_channel_free(&s->contexts[i].cognitive.matrix);
        alim_channel_free(&s->contexts[i].articulation.matrix);
    }
    free(s->contexts);
    s->contexts = NULL;
    s->n_contexts = 0;
}

static alim_status check_range(double v, double lo, double hi, int open_lo, int open_hi, const char *where,
                               const char *key, alim_error *err)
{
    if ((open_lo ? v <= lo : v < lo) || (open_hi ? v >= hi : v > hi))
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" = %.17g is outside %c%g, %g%c", key, v,
                              open_lo ? '(' : '[', lo, hi, open_hi ? ')' : ']');
    return ALIM_OK;
}

alim_status alim_scenario_from_json(const cJSON *j, const char *where, alim_scenario *s, alim_error *err)
{
    memset(s, 0, sizeof *s);
    s->loss_gap = 1.0;
    s->delta = 0.05;
    s->eta = 0.5;
    s->empirical_risk = NAN;
    s->kl_measured_nats = NAN;
    s->ba = (alim_capacity_options)ALIM_CAPACITY_OPTIONS_DEFAULT;
    static const char *const keys[] = {"M", "log2M", "loss_gap", "m", "delta", "eta", "empirical_risk", "rho_nats",
                                       "prior_mismatch_nats", "info_us_nats", "kl_measured_nats", "pac_bayes_form", "catoni_c",
                                       "contexts", "description", NULL};
    alim_status st = alim_json_check_keys(j, keys, where, err);
    if (st) return st;
    const cJSON *jm = cJSON_GetObjectItemCaseSensitive(j, "M"), *jl = cJSON_GetObjectItemCaseSensitive(j, "log2M");
    if (jm && jl) return alim_error_set(err, ALIM_EINVAL, where, "give either \"M\" or \"log2M\", not both");
    if (jm) {
        double M = 0;
        if ((st = alim_json_get_number(j, "M", 1, where, &M, err))) return st;
        if (M < 2 || M != floor(M)) return alim_error_set(err, ALIM_EINVAL, where, "\"M\" must be an integer >= 2");
        s->log_m = log(M);
    } else if (jl) {
        double l = 0;
        if ((st = alim_json_get_number(j, "log2M", 1, where, &l, err))) return st;
        if (!(l >= 1.0)) return alim_error_set(err, ALIM_EINVAL, where, "\"log2M\" must be >= 1");
        s->log_m = l * ALIM_LN2;
    } else {
        return alim_error_set(err, ALIM_EINVAL, where, "missing key \"M\" (codebook size) or \"log2M\"");
    }
    if ((st = alim_json_get_number(j, "loss_gap", 0, where, &s->loss_gap, err)) ||
        (st = check_range(s->loss_gap, 0, 1, 1, 0, where, "loss_gap", err)))
        return st;
    s->m = NAN;
    if ((st = alim_json_get_number(j, "m", 1, where, &s->m, err))) return st;
    if (!(s->m >= 1) || s->m != floor(s->m) || s->m > 1e15)
        return alim_error_set(err, ALIM_EINVAL, where, "\"m\" (number of labels) must be an integer >= 1");
    if ((st = alim_json_get_number(j, "delta", 0, where, &s->delta, err)) ||
        (st = check_range(s->delta, 0, 1, 1, 1, where, "delta", err)) ||
        (st = alim_json_get_number(j, "eta", 0, where, &s->eta, err)) ||
        (st = check_range(s->eta, 0, 1, 1, 1, where, "eta", err)))
        return st;
    if (s->delta + s->eta >= 1.0)
        return alim_error_set(err, ALIM_EINVAL, where, "delta + eta = %g must be below 1", s->delta + s->eta);
    if (cJSON_GetObjectItemCaseSensitive(j, "empirical_risk")) {
        if ((st = alim_json_get_number(j, "empirical_risk", 1, where, &s->empirical_risk, err)) ||
            (st = check_range(s->empirical_risk, 0, 1, 0, 0, where, "empirical_risk", err)))
            return st;
    }
    if ((st = alim_json_get_number(j, "rho_nats", 0, where, &s->rho_nats, err)) ||
        (st = check_range(s->rho_nats, 0, INFINITY, 0, 1, where, "rho_nats", err)) ||
        (st = alim_json_get_number(j, "prior_mismatch_nats", 0, where, &s->prior_mismatch_nats, err)) ||
        (st = check_range(s->prior_mismatch_nats, 0, INFINITY, 0, 1, where, "prior_mismatch_nats", err)) ||
        (st = alim_json_get_number(j, "info_us_nats", 0, where, &s->info_us_nats, err)) ||
        (st = check_range(s->info_us_nats, 0, INFINITY, 0, 1, where, "info_us_nats", err)))
        return st;
    if (cJSON_GetObjectItemCaseSensitive(j, "kl_measured_nats")) {
        if ((st = alim_json_get_number(j, "kl_measured_nats", 1, where, &s->kl_measured_nats, err)) ||
            (st = check_range(s->kl_measured_nats, 0, INFINITY, 0, 1, where, "kl_measured_nats", err)))
            return st;
    }
    const char *form = "kl-xi";
    if ((st = alim_json_get_string(j, "pac_bayes_form", 0, where, &form, err))) return st;
    int f = alim_pacbayes_form_parse(form);
    if (f < 0)
        return alim_error_set(err, ALIM_EINVAL, where,
                              "\"pac_bayes_form\" must be \"kl-xi\", \"kl-2sqrtm\", \"pinsker\" or \"catoni\"");
    s->form = (alim_pacbayes_form)f;
    s->catoni_c = 1.0;
    if ((st = alim_json_get_number(j, "catoni_c", 0, where, &s->catoni_c, err))) return st;
    if (!(s->catoni_c > 0)) return alim_error_set(err, ALIM_EINVAL, where, "\"catoni_c\" must be positive");
    const cJSON *jc = cJSON_GetObjectItemCaseSensitive(j, "contexts");
    if (!jc) return alim_error_set(err, ALIM_EINVAL, where, "missing key \"contexts\"");
    if (!cJSON_IsArray(jc) || cJSON_GetArraySize(jc) == 0)
        return alim_error_set(err, ALIM_EINVAL, where, "\"contexts\" must be a non-empty array");
    size_t n = (size_t)cJSON_GetArraySize(jc);
    s->contexts = calloc(n, sizeof *s->contexts);
    if (!s->contexts) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    s->n_contexts = n;
    double wsum = 0.0;
    size_t i = 0;
    char w[ALIM_ERROR_WHERE_MAX];
    for (const cJSON *c = jc->child; c; c = c->next, i++) {
        alim_context_spec *cs = &s->contexts[i];
        snprintf(w, sizeof w, "%s: contexts[%zu]", where, i);
        static const char *const ckeys[] = {"weight", "cognitive", "articulation", "name", NULL};
        if ((st = alim_json_check_keys(c, ckeys, w, err))) goto fail;
        cs->weight = NAN;
        if ((st = alim_json_get_number(c, "weight", 1, w, &cs->weight, err)) ||
            (st = check_range(cs->weight, 0, 1, 0, 0, w, "weight", err)))
            goto fail;
        wsum += cs->weight;
        const cJSON *cog = cJSON_GetObjectItemCaseSensitive(c, "cognitive");
        const cJSON *art = cJSON_GetObjectItemCaseSensitive(c, "articulation");
        if (!cog || !art) {
            st = alim_error_set(err, ALIM_EINVAL, w, "missing key \"%s\"", cog ? "articulation" : "cognitive");
            goto fail;
        }
        char w2[ALIM_ERROR_WHERE_MAX + 16];
        snprintf(w2, sizeof w2, "%s.cognitive", w);
        if ((st = parse_channel(cog, w2, &cs->cognitive, err))) goto fail;
        snprintf(w2, sizeof w2, "%s.articulation", w);
        if ((st = parse_channel(art, w2, &cs->articulation, err))) goto fail;
    }
    if (fabs(wsum - 1.0) > 1e-9) {
        st = alim_error_set(err, ALIM_EINVAL, where, "context weights sum to %.17g, not 1", wsum);
        goto fail;
    }
    return ALIM_OK;
fail:
    alim_scenario_free(s);
    return st;
}

alim_status alim_scenario_read(const char *path, alim_scenario *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    cJSON *j;
    alim_status st = alim_json_read_file(path, &j, err);
    if (st) return st;
    st = alim_scenario_from_json(j, path, out, err);
    cJSON_Delete(j);
    return st;
}

/* ---- channels of a scenario ----------------------------------------------------------- */

/* M as an integer when it fits a double exactly, else 0 ("astronomically large"). */
static double integer_m(double log_m)
{
    if (log_m > 52.0 * ALIM_LN2) return 0.0;
    return nearbyint(exp(log_m));
}

/* The size of an msc stage as ln K: its "size" key, else the scenario's M. */
static double msc_log_size(const alim_channel_spec *spec, double log_m)
{
    return spec->size ? log((double)spec->size) : log_m;
}

/* The size as an integer when it is small enough to build a matrix, else 0. */
static size_t msc_size(const alim_channel_spec *spec, double log_m)
{
    if (spec->size) return spec->size;
    double M = integer_m(log_m);
    return M > 0 && M <= ALIM_MSC_DENSE_MAX ? (size_t)M : 0;
}

alim_status alim_channel_spec_build(const alim_channel_spec *spec, double log_m, alim_channel *out, alim_error *err)
{
    out->w = NULL;
    switch (spec->kind) {
    case ALIM_CHAN_BSC: return alim_channel_bsc(out, spec->param, err);
    case ALIM_CHAN_BEC: return alim_channel_bec(out, spec->param, err);
    case ALIM_CHAN_Z: return alim_channel_z(out, spec->param, err);
    case ALIM_CHAN_MSC: {
        size_t k = msc_size(spec, log_m);
        if (k == 0 || k > ALIM_MSC_DENSE_MAX)
            return alim_error_set(err, ALIM_EINVAL, "msc",
                                  "an M-ary symmetric channel of size %s is too large to build as a matrix (limit %d)",
                                  k ? "above the limit" : "M", ALIM_MSC_DENSE_MAX);
        return alim_channel_msc(out, k, spec->param, err);
    }
    case ALIM_CHAN_MATRIX:
        return alim_channel_from_matrix(out, spec->matrix.w, spec->matrix.nx, spec->matrix.ny, 0, 0, "matrix", err);
    }
    return alim_error_set(err, ALIM_EINTERNAL, "channel", "unknown channel kind");
}

/* An MSC-like stage (bsc is msc of size 2): ln of its size, else 0. */
static double symmetric_log_size(const alim_channel_spec *spec, double log_m)
{
    if (spec->kind == ALIM_CHAN_BSC) return log(2.0);
    if (spec->kind == ALIM_CHAN_MSC) return msc_log_size(spec, log_m);
    return 0.0;
}

/* log(K - 1) from log K, valid for K far beyond 2^64. */
static double log_k_minus_1(double log_k) { return log_k + log1p(-exp(-log_k)); }

/* Capacity of MSC(K, p) in nats: log K - h(p) - p log(K-1). */
static double msc_capacity(double log_k, double p)
{
    double c = log_k - alim_binary_entropy(p) - p * log_k_minus_1(log_k);
    return c > 0.0 ? c : 0.0;
}

/* Input law of the uniform codebook on n_in inputs: codeword j -> input j mod n_in. */
static void codebook_law(double log_m, size_t n_in, double *pu)
{
    double M = integer_m(log_m);
    if (M == 0.0) { /* M > 2^52: the counts differ by at most one in M/n_in */
        for (size_t u = 0; u < n_in; u++) pu[u] = 1.0 / (double)n_in;
        return;
    }
    double base = floor(M / (double)n_in), extra = M - base * (double)n_in;
    for (size_t u = 0; u < n_in; u++) pu[u] = (base + ((double)u < extra ? 1.0 : 0.0)) / M;
}

static alim_status context_closed_form(const alim_scenario *s, const alim_context_spec *cs, double log_k,
                                       alim_context_result *r, alim_error *err, const char *where)
{
    double M = integer_m(s->log_m), K = integer_m(log_k);
    if (log_k > s->log_m * (1 + 1e-15) || (M != 0.0 && (K == 0.0 || fmod(M, K) != 0.0)))
        return alim_error_set(err, ALIM_EINVAL, where,
                              "M-ary symmetric stages of size K need M to be a multiple of K");
    double p1 = cs->cognitive.param, p2 = cs->articulation.param;
    /* MSC(p1) then MSC(p2) is MSC(pc), pc = p1 + p2 - p1 p2 K/(K-1) */
    double k_over_k1 = 1.0 / -expm1(-log_k);
    double pc = p1 + p2 - p1 * p2 * k_over_k1;
    double margin = 16.0 * DBL_EPSILON * (1.0 + log_k);
    double cc = msc_capacity(log_k, p1), ca = msc_capacity(log_k, p2), cx = msc_capacity(log_k, pc);
    r->cog_lower = fmax(0, cc - margin), r->cog_upper = cc + margin;
    r->art_lower = fmax(0, ca - margin), r->art_upper = ca + margin;
    r->casc_lower = fmax(0, cx - margin), r->casc_upper = cx + margin;
    r->info_nats = cx; /* the uniform law achieves capacity on a symmetric channel */
    /* P(correct J) = (1/M) sum_y max_u W(y|u) = (K/M) max(1-pc, pc/(K-1)) */
    double best = fmax(1.0 - pc, pc * exp(-log_k_minus_1(log_k)));
    r->bayes_risk = 1.0 - exp(log_k - s->log_m) * best;
    r->closed_form = 1;
    return ALIM_OK;
}

static alim_status context_dense(const alim_scenario *s, const alim_context_spec *cs, alim_context_result *r,
                                 alim_error *err, const char *where)
{
    alim_channel cog = {0}, art = {0}, casc = {0};
    alim_capacity cap = {0};
    double *pu = NULL;
    alim_status st;
    if ((st = alim_channel_spec_build(&cs->cognitive, s->log_m, &cog, err))) {
        if (err) snprintf(err->where, sizeof err->where, "%.200s.cognitive", where);
        goto done;
    }
    if ((st = alim_channel_spec_build(&cs->articulation, s->log_m, &art, err))) {
        if (err) snprintf(err->where, sizeof err->where, "%.200s.articulation", where);
        goto done;
    }
    if (cog.ny != art.nx) {
        st = alim_error_set(err, ALIM_EINVAL, where,
                            "the cognitive channel has %zu outputs but the articulation channel has %zu inputs",
                            cog.ny, art.nx);
        goto done;
    }
    if ((st = alim_channel_compose(&cog, &art, &casc, err))) goto done;
    if ((st = alim_channel_capacity(&cog, &s->ba, &cap, err))) goto done;
    r->cog_lower = cap.lower_nats, r->cog_upper = cap.upper_nats;
    alim_capacity_free(&cap);
    if ((st = alim_channel_capacity(&art, &s->ba, &cap, err))) goto done;
    r->art_lower = cap.lower_nats, r->art_upper = cap.upper_nats;
    alim_capacity_free(&cap);
    if ((st = alim_channel_capacity(&casc, &s->ba, &cap, err))) goto done;
    r->casc_lower = cap.lower_nats, r->casc_upper = cap.upper_nats;
    alim_capacity_free(&cap);
    pu = malloc(cog.nx * sizeof *pu);
    if (!pu) {
        st = alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
        goto done;
    }
    codebook_law(s->log_m, cog.nx, pu);
    r->info_nats = alim_channel_mutual_information(&casc, pu);
    /* MAP decoding of J: P(correct) = (1/M) sum_y max over used inputs u of W(y|u) */
    double M = integer_m(s->log_m), correct = 0.0;
    for (size_t y = 0; y < casc.ny; y++) {
        double best = 0.0;
        for (size_t u = 0; u < casc.nx; u++)
            if (pu[u] > 0.0 && casc.w[u * casc.ny + y] > best) best = casc.w[u * casc.ny + y];
        correct += best;
    }
    r->bayes_risk = M == 0.0 ? 1.0 : fmax(0.0, 1.0 - correct / M);
    r->closed_form = 0;
done:
    free(pu);
    alim_channel_free(&cog);
    alim_channel_free(&art);
    alim_channel_free(&casc);
    return st;
}

void alim_interval_free(alim_interval *iv)
{
    if (!iv) return;
    free(iv->contexts);
    iv->contexts = NULL;
    iv->n_contexts = 0;
}

/* The high-probability bound of each form: KL(Q_D||P) is replaced by B/η (Markov). */
static double upper_high_prob(const alim_scenario *s, double budget, double r, double m, alim_pacbayes_form form)
{
    return alim_pacbayes_bound(form, r, budget / s->eta, m, s->delta, s->catoni_c);
}

void alim_interval_upper_at(const alim_scenario *s, const alim_interval *iv, double m, double *hp, double *ex,
                            double *measured)
{
    double budget = m * (iv->c_tot_upper + s->info_us_nats) + s->rho_nats + s->prior_mismatch_nats;
    double log_xi = alim_pacbayes_log_xi(floor(m));
    double r = iv->empirical_risk;
    if (hp) *hp = upper_high_prob(s, budget, r, m, s->form);
    if (ex) *ex = alim_kl_inverse_upper(r, (budget + log_xi) / m);
    if (measured)
        *measured = isnan(s->kl_measured_nats)
                        ? NAN
                        : alim_pacbayes_bound(s->form, r, s->kl_measured_nats, m, s->delta, s->catoni_c);
}

alim_status alim_interval_compute(const alim_scenario *s, alim_interval *iv, alim_error *err)
{
    memset(iv, 0, sizeof *iv);
    iv->contexts = calloc(s->n_contexts, sizeof *iv->contexts);
    if (!iv->contexts) return alim_error_set(err, ALIM_ENOMEM, "interval", "out of memory");
    iv->n_contexts = s->n_contexts;
    for (size_t i = 0; i < s->n_contexts; i++) {
        const alim_context_spec *cs = &s->contexts[i];
        alim_context_result *r = &iv->contexts[i];
        char where[64];
        snprintf(where, sizeof where, "contexts[%zu]", i);
        r->weight = cs->weight;
        double k1 = symmetric_log_size(&cs->cognitive, s->log_m);
        double k2 = symmetric_log_size(&cs->articulation, s->log_m);
        const double dense_max = log((double)ALIM_MSC_DENSE_MAX) * (1 + 1e-12);
        int big = k1 > dense_max || k2 > dense_max;
        alim_status st;
        if (big) {
            if (k1 != k2) {
                alim_interval_free(iv);
                return alim_error_set(err, ALIM_EINVAL, where,
                                      "an M-ary symmetric stage larger than %d is supported only when both stages "
                                      "are M-ary symmetric of the same size (closed form)",
                                      ALIM_MSC_DENSE_MAX);
            }
            st = context_closed_form(s, cs, k1, r, err, where);
        } else {
            st = context_dense(s, cs, r, err, where);
        }
        if (st) {
            alim_interval_free(iv);
            return st;
        }
        r->tot_lower = fmin(r->cog_lower, r->art_lower);
        r->tot_upper = fmin(r->cog_upper, r->art_upper);
        r->binding_stage = r->cog_upper <= r->art_upper ? 0 : 1;
        iv->c_tot_lower += cs->weight * r->tot_lower;
        iv->c_tot_upper += cs->weight * r->tot_upper;
        iv->c_casc_lower += cs->weight * r->casc_lower;
        iv->c_casc_upper += cs->weight * r->casc_upper;
        iv->info_nats += cs->weight * r->info_nats;
        iv->bayes_risk += cs->weight * r->bayes_risk;
    }
    const double d = s->loss_gap, lm = s->log_m;
    iv->lb_weak_tot = d * alim_fano_weak(lm, iv->c_tot_upper);
    iv->lb_strong_tot = d * alim_fano_strong(lm, iv->c_tot_upper);
    iv->lb_weak_casc = d * alim_fano_weak(lm, iv->c_casc_upper);
    iv->lb_strong_casc = d * alim_fano_strong(lm, iv->c_casc_upper);
    iv->lb_weak_info = d * alim_fano_weak(lm, iv->info_nats);
    iv->lb_strong_info = d * alim_fano_strong(lm, iv->info_nats);
    iv->lower_bound = iv->lb_strong_tot;
    iv->empirical_is_bayes = isnan(s->empirical_risk);
    iv->empirical_risk = iv->empirical_is_bayes ? iv->bayes_risk : s->empirical_risk;
    iv->budget_nats = s->m * (iv->c_tot_upper + s->info_us_nats) + s->rho_nats + s->prior_mismatch_nats;
    alim_interval_upper_at(s, iv, s->m, &iv->ub_high_prob, &iv->ub_expectation, &iv->ub_measured);
    for (int f = 0; f < 4; f++) iv->ub_forms[f] = upper_high_prob(s, iv->budget_nats, iv->empirical_risk, s->m, (alim_pacbayes_form)f);
    iv->upper_bound = iv->ub_high_prob;
    return ALIM_OK;
}
