/* report_lab_config.c — the configuration of the report's elasticity experiments
 * ("elasticity" in the config): the report's defaults (quick or full) for the data directory,
 * E1, E2, E3 and E4, each key read and checked against what the runs would refuse. */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <string.h>

#include "alim/io.h"

/* The report's default E2 is the spec's (alim_rebound_config_default: 3 seeds, n_pos {200, 400,
 * 1000, 2000}, n_neg {0, 20, 40, 100, 200, 400}, 256 samples). With the sampler's KV cache an
 * evaluation cell costs about a second, so the whole E2 takes ~1.5 minutes here
 * (docs/report.md "Times"). */
static void rebound_config_report(alim_rebound_config *c)
{
    alim_rebound_config_default(c);
}

/* The report's default E3: a reduced version of the spec's (alim_scale_config_default, ~25
 * minutes here) that keeps the whole default report within ~10 minutes: 2 seeds (the fewest
 * that give error bars), the three shapes G0, G1, G2 pretrained on 500,000 tokens instead of
 * 2M, budgets 125k..1M tokens of G1 instead of 0.25M..4M, n_pos {400} instead of {400, 2000} /
 * {2000} and n_neg {0, 20, 40, 100} (E_hat's l grid; no 400), 128 samples per evaluation. */
static void scale_config_report(alim_scale_config *c)
{
    alim_scale_config_default(c);
    c->n_seeds = 2;
    c->size_pretrain_tokens = 500000;
    static const size_t P[] = {400}, N[] = {0, 20, 40, 100};
    c->size_n_pos_count = c->tok_n_pos_count = 1;
    c->size_n_neg_count = c->tok_n_neg_count = 4;
    memcpy(c->size_n_pos, P, sizeof P);
    memcpy(c->tok_n_pos, P, sizeof P);
    memcpy(c->size_n_neg, N, sizeof N);
    memcpy(c->tok_n_neg, N, sizeof N);
    static const uint64_t B[] = {125000, 250000, 500000, 1000000};
    c->n_budgets = 4;
    memcpy(c->budgets, B, sizeof B);
    c->n_samples = 128;
}

static void elasticity_defaults(int quick, elasticity_config *ec)
{
    memset(ec, 0, sizeof *ec);
    ec->run_resist = ec->run_rebound = ec->run_coefficient = ec->run_scale = 1;
    alim_datadir_options_default(&ec->data);
    ec->data.have_pretrain = 1;
    ec->data.pretrain_size = 2000000;
    ec->e4_max_n_neg = 100;
    ec->e4_boot = 10000;
    if (quick) {
        /* the size the elasticity CLI tests use: seconds in all */
        ec->data.pretrain_size = 20000;
        ec->data.pool_docs = 80;
        ec->data.test_docs = 8;
        ec->data.doc_len = 32;
        alim_resist_config_quick(&ec->e1);
        alim_rebound_config_quick(&ec->e2);
        alim_scale_config_quick(&ec->e3);
        ec->e4_boot = 2000;
    } else {
        alim_resist_config_default(&ec->e1);
        rebound_config_report(&ec->e2);
        scale_config_report(&ec->e3);
    }
}

/* elasticity.experiments: which of E1-E4 run */
static alim_status experiments_read(const cJSON *v, const char *where, elasticity_config *ec, alim_error *err)
{
    static const char known[] = "(known: \"resist\" = E1, \"rebound\" = E2, \"coefficient\" = E4, \"scale\" = E3)";
    if (!cJSON_IsArray(v)) return alim_error_set(err, ALIM_EINVAL, where, "\"experiments\" must be an array %s", known);
    ec->run_resist = ec->run_rebound = ec->run_coefficient = ec->run_scale = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v) {
        if (cJSON_IsString(e) && !strcmp(e->valuestring, "resist")) ec->run_resist = 1;
        else if (cJSON_IsString(e) && !strcmp(e->valuestring, "rebound")) ec->run_rebound = 1;
        else if (cJSON_IsString(e) && !strcmp(e->valuestring, "coefficient")) ec->run_coefficient = 1;
        else if (cJSON_IsString(e) && !strcmp(e->valuestring, "scale")) ec->run_scale = 1;
        else return alim_error_set(err, ALIM_EINVAL, where, "\"experiments\": unknown experiment %s", known);
    }
    if (ec->run_coefficient && !ec->run_rebound)
        return alim_error_set(err, ALIM_EINVAL, where,
                              "\"experiments\": \"coefficient\" (E4) needs \"rebound\" (it is computed from E2's cells)");
    return ALIM_OK;
}

/* elasticity.data: the data directory */
static alim_status data_config_read(const cJSON *d, const char *w, elasticity_config *ec, alim_error *err)
{
    static const char *const dkeys[] = {"source", "seed", "pretrain_tokens", "pool_docs", "test_docs", "doc_len", NULL};
    alim_status st = alim_json_check_keys(d, dkeys, w, err);
    if (st) return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "source");
    if (v) {
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "synthetic")) ec->natural = 0;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "natural")) ec->natural = 1;
        else return alim_error_set(err, ALIM_EINVAL, w, "\"source\" must be \"synthetic\" or \"natural\"");
    }
    alim_datadir_options *o = &ec->data;
    if ((st = report_read_u64(d, "seed", w, 0, 9007199254740992.0, &o->seed, err)) ||
        (st = report_read_u64(d, "pretrain_tokens", w, 1000, 4294967296.0, &o->pretrain_size, err)) ||
        (st = report_read_size(d, "pool_docs", w, 1, 1e6, &o->pool_docs, NULL, err)) ||
        (st = report_read_size(d, "test_docs", w, 1, 1e5, &o->test_docs, NULL, err)) ||
        (st = report_read_size(d, "doc_len", w, 2, 4096, &o->doc_len, NULL, err)))
        return st;
    return ALIM_OK;
}

/* elasticity.model: the model of E1 and E2 */
static alim_status model_config_read(const cJSON *d, const char *w, elasticity_config *ec, alim_error *err)
{
    static const char *const mkeys[] = {"layers", "dim", "heads", "context", NULL};
    alim_status st = alim_json_check_keys(d, mkeys, w, err);
    if (st) return st;
    alim_resist_config *e1 = &ec->e1;
    if ((st = report_read_int(d, "layers", w, 1, 64, &e1->n_layer, err)) ||
        (st = report_read_int(d, "dim", w, 1, 4096, &e1->n_embd, err)) ||
        (st = report_read_int(d, "heads", w, 1, 256, &e1->n_head, err)) ||
        (st = report_read_int(d, "context", w, 2, 4096, &e1->context, err)))
        return st;
    ec->e2.n_layer = e1->n_layer, ec->e2.n_embd = e1->n_embd, ec->e2.n_head = e1->n_head, ec->e2.context = e1->context;
    if (e1->n_embd % e1->n_head)
        return alim_error_set(err, ALIM_EINVAL, w, "\"dim\" (%d) must be a multiple of \"heads\" (%d)", e1->n_embd,
                              e1->n_head);
    return ALIM_OK;
}

/* "sample_tokens" given beyond the context */
static alim_status sample_tokens_check(size_t sample_tokens, int given, int context, const char *w, alim_error *err)
{
    if (given && sample_tokens > (size_t)context)
        return alim_error_set(err, ALIM_EINVAL, w, "\"sample_tokens\" (%zu) must not exceed the context (%d)", sample_tokens,
                              context);
    return ALIM_OK;
}

/* elasticity.resist: E1's settings (alim/resist.h) */
static alim_status resist_config_read(const cJSON *d, const char *w, alim_resist_config *e1, alim_error *err)
{
    static const char *const rkeys[] = {"seeds", "sft_docs", "samples", "sample_tokens", "prompt_bytes", NULL};
    alim_status st = alim_json_check_keys(d, rkeys, w, err);
    int given;
    if (st || (st = report_read_size(d, "seeds", w, 1, 100, &e1->n_seeds, NULL, err)) ||
        (st = report_read_size(d, "sft_docs", w, 1, 1e6, &e1->sft_docs, NULL, err)) ||
        (st = report_read_size(d, "samples", w, 1, 1e6, &e1->n_samples, NULL, err)) ||
        (st = report_read_size(d, "sample_tokens", w, 2, 4096, &e1->sample_tokens, &given, err)) ||
        (st = sample_tokens_check(e1->sample_tokens, given, e1->context, w, err)))
        return st;
    return report_read_size(d, "prompt_bytes", w, 1, 4096, &e1->prompt_bytes, NULL, err);
}

/* elasticity.rebound: E2's settings (alim/rebound.h) */
static alim_status rebound_config_read(const cJSON *d, const char *w, alim_rebound_config *e2, alim_error *err)
{
    static const char *const bkeys[] = {"seeds", "n_pos", "n_neg", "samples", "sample_tokens", "epsilon_nats", NULL};
    alim_status st = alim_json_check_keys(d, bkeys, w, err);
    int given;
    if (st || (st = report_read_size(d, "seeds", w, 1, 100, &e2->n_seeds, NULL, err)) ||
        (st = report_read_grid(d, "n_pos", w, e2->n_pos, &e2->n_pos_count, 0, err)) ||
        (st = report_read_grid(d, "n_neg", w, e2->n_neg, &e2->n_neg_count, 1, err)) ||
        (st = report_read_size(d, "samples", w, 1, 1e6, &e2->n_samples, NULL, err)) ||
        (st = report_read_size(d, "sample_tokens", w, 2, 4096, &e2->sample_tokens, &given, err)) ||
        (st = sample_tokens_check(e2->sample_tokens, given, e2->context, w, err)) ||
        (st = alim_json_get_number(d, "epsilon_nats", 0, w, &e2->epsilon_nats, err)))
        return st;
    if (!(e2->epsilon_nats > 0)) return alim_error_set(err, ALIM_EINVAL, w, "\"epsilon_nats\" must be positive");
    return ALIM_OK;
}

/* elasticity.scale: E3's settings (alim/scale.h); "budget_model" is 1-based as in the CLI */
static alim_status scale_config_read(const cJSON *d, const char *w, alim_scale_config *e3, alim_error *err)
{
    static const char *const skeys[] = {"seeds",        "sizes",         "pretrain_tokens", "size_n_pos", "size_n_neg",
                                        "budgets",      "budget_model",  "budget_lr",       "tokens_n_pos",
                                        "tokens_n_neg", "max_n_neg",     "context",         "samples",
                                        "sample_tokens", NULL};
    alim_status st = alim_json_check_keys(d, skeys, w, err);
    if (st || (st = report_read_size(d, "seeds", w, 1, 100, &e3->n_seeds, NULL, err))) return st;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "sizes");
    if (a) {
        const int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
        if (n < 1 || n > ALIM_SCALE_MAX_LEVELS)
            return alim_error_set(err, ALIM_EINVAL, w, "\"sizes\" must be an array of 1 to %d shapes [layers, dim, heads]",
                                  ALIM_SCALE_MAX_LEVELS);
        size_t i = 0;
        const cJSON *sh;
        cJSON_ArrayForEach(sh, a) {
            double v[3];
            size_t k = 0;
            if ((st = report_read_numbers(sh, w, "sizes", v, 3, &k, 1, 4096, 1, err))) return st;
            if (k != 3 || (int)v[1] % (int)v[2])
                return alim_error_set(err, ALIM_EINVAL, w,
                                      "\"sizes\" entries must be [layers, dim, heads] with dim a multiple of heads");
            e3->layers[i] = (int)v[0], e3->dim[i] = (int)v[1], e3->heads[i] = (int)v[2];
            i++;
        }
        e3->n_sizes = i;
    }
    if ((st = report_read_u64(d, "pretrain_tokens", w, 1, 1e11, &e3->size_pretrain_tokens, err)) ||
        (st = report_read_grid(d, "size_n_pos", w, e3->size_n_pos, &e3->size_n_pos_count, 0, err)) ||
        (st = report_read_grid(d, "size_n_neg", w, e3->size_n_neg, &e3->size_n_neg_count, 1, err)) ||
        (st = report_read_grid(d, "tokens_n_pos", w, e3->tok_n_pos, &e3->tok_n_pos_count, 0, err)) ||
        (st = report_read_grid(d, "tokens_n_neg", w, e3->tok_n_neg, &e3->tok_n_neg_count, 1, err)))
        return st;
    if ((a = cJSON_GetObjectItemCaseSensitive(d, "budgets"))) {
        double v[ALIM_SCALE_MAX_LEVELS];
        size_t k = 0;
        if ((st = report_read_numbers(a, w, "budgets", v, ALIM_SCALE_MAX_LEVELS, &k, 1, 1e11, 1, err))) return st;
        if (k < 2) return alim_error_set(err, ALIM_EINVAL, w, "\"budgets\" needs at least 2 values");
        for (size_t i = 0; i < k; i++) {
            if (i && !(v[i] > v[i - 1])) return alim_error_set(err, ALIM_EINVAL, w, "\"budgets\" must be increasing");
            e3->budgets[i] = (uint64_t)v[i];
        }
        e3->n_budgets = k;
    }
    size_t model = e3->budget_model + 1;
    if ((st = report_read_size(d, "budget_model", w, 1, ALIM_SCALE_MAX_LEVELS, &model, NULL, err))) return st;
    e3->budget_model = model - 1;
    if ((st = alim_json_get_number(d, "budget_lr", 0, w, &e3->budget_lr, err))) return st;
    if (!(e3->budget_lr > 0 && e3->budget_lr < 1)) return alim_error_set(err, ALIM_EINVAL, w, "\"budget_lr\" must be in (0, 1)");
    if ((st = report_read_size(d, "max_n_neg", w, 1, 1e7, &e3->max_l_neg, NULL, err)) ||
        (st = report_read_int(d, "context", w, 2, 4096, &e3->context, err)))
        return st;
    /* a shorter context shortens the generated documents unless they are given */
    if (e3->sample_tokens > (size_t)e3->context) e3->sample_tokens = (size_t)e3->context;
    int given;
    if ((st = report_read_size(d, "samples", w, 1, 1e6, &e3->n_samples, NULL, err)) ||
        (st = report_read_size(d, "sample_tokens", w, 2, 4096, &e3->sample_tokens, &given, err)))
        return st;
    return sample_tokens_check(e3->sample_tokens, given, e3->context, w, err);
}

/* What alim_scale_run would refuse, and what the data directory cannot hold. */
static alim_status scale_config_check(const alim_scale_config *e3, const char *w, size_t pool_docs, alim_error *err)
{
    if (e3->budget_model >= e3->n_sizes)
        return alim_error_set(err, ALIM_EINVAL, w, "\"budget_model\" (%zu) must name one of the %zu sizes (1-based)",
                              e3->budget_model + 1, e3->n_sizes);
    if (e3->max_l_neg < e3->size_n_neg[1] || e3->max_l_neg < e3->tok_n_neg[1])
        return alim_error_set(err, ALIM_EINVAL, w, "\"max_n_neg\" (%zu) is below the first n_neg > 0 of a grid",
                              e3->max_l_neg);
    const size_t mp = e3->size_n_pos[e3->size_n_pos_count - 1] > e3->tok_n_pos[e3->tok_n_pos_count - 1]
                          ? e3->size_n_pos[e3->size_n_pos_count - 1]
                          : e3->tok_n_pos[e3->tok_n_pos_count - 1];
    const size_t mn = e3->size_n_neg[e3->size_n_neg_count - 1] > e3->tok_n_neg[e3->tok_n_neg_count - 1]
                          ? e3->size_n_neg[e3->size_n_neg_count - 1]
                          : e3->tok_n_neg[e3->tok_n_neg_count - 1];
    if (mp > pool_docs || mn > pool_docs)
        return alim_error_set(err, ALIM_EINVAL, w, "the largest n_pos (%zu) and n_neg (%zu) must not exceed data.pool_docs (%zu)",
                              mp, mn, pool_docs);
    return ALIM_OK;
}

/* Each part read in turn, then checked against the parts it depends on (the data's pool, the
 * experiments that run); `where` grows to name the part ("CONFIG: elasticity.resist"). */
alim_status report_elasticity_config_read(const cJSON *c, const char *where, int quick, elasticity_config *ec,
                                          alim_error *err)
{
    elasticity_defaults(quick, ec);
    if (!c) return ALIM_OK;
    static const char *const keys[] = {"cache",   "experiments", "data",        "model", "pretrain_tokens",
                                       "resist", "rebound",     "coefficient", "scale", NULL};
    alim_status st = alim_json_check_keys(c, keys, where, err);
    if (st) return st;
    char w[ALIM_ERROR_WHERE_MAX];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "cache");
    if (v) {
        if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= sizeof ec->cache - 64)
            return alim_error_set(err, ALIM_EINVAL, where, "\"cache\" must be a directory name (a non-empty string)");
        snprintf(ec->cache, sizeof ec->cache, "%s", v->valuestring);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(c, "experiments")) && (st = experiments_read(v, where, ec, err))) return st;
    const cJSON *d;
    if ((st = report_read_object(c, "data", where, &d, err))) return st;
    snprintf(w, sizeof w, "%.200s.data", where);
    if (d && (st = data_config_read(d, w, ec, err))) return st;
    /* the model and theta0's pretraining, shared by E1 and E2 */
    if ((st = report_read_object(c, "model", where, &d, err))) return st;
    snprintf(w, sizeof w, "%.200s.model", where);
    if (d && (st = model_config_read(d, w, ec, err))) return st;
    if ((st = report_read_u64(c, "pretrain_tokens", where, 1, 1e11, &ec->e1.pretrain_tokens, err))) return st;
    ec->e2.pretrain_tokens = ec->e1.pretrain_tokens;
    /* a shorter context shortens the generated documents unless they are given (as in `alim elastic`) */
    if (ec->e1.sample_tokens > (size_t)ec->e1.context) ec->e1.sample_tokens = (size_t)ec->e1.context;
    if (ec->e2.sample_tokens > (size_t)ec->e2.context) ec->e2.sample_tokens = (size_t)ec->e2.context;
    /* E1 */
    if ((st = report_read_object(c, "resist", where, &d, err))) return st;
    snprintf(w, sizeof w, "%.200s.resist", where);
    if (d && (st = resist_config_read(d, w, &ec->e1, err))) return st;
    if (ec->run_resist && 3 * ec->e1.sft_docs > ec->data.pool_docs)
        return alim_error_set(err, ALIM_EINVAL, w,
                              "\"sft_docs\": 3 slices of %zu documents need a pool of %zu, the data has %zu (data.pool_docs)",
                              ec->e1.sft_docs, 3 * ec->e1.sft_docs, ec->data.pool_docs);
    if (ec->run_resist && ec->natural && ec->e1.prompt_bytes >= ec->e1.sample_tokens)
        return alim_error_set(err, ALIM_EINVAL, w, "\"prompt_bytes\" (%zu) leaves no continuation of %zu sample tokens",
                              ec->e1.prompt_bytes, ec->e1.sample_tokens);
    /* E2 */
    if ((st = report_read_object(c, "rebound", where, &d, err))) return st;
    snprintf(w, sizeof w, "%.200s.rebound", where);
    if (d && (st = rebound_config_read(d, w, &ec->e2, err))) return st;
    const size_t max_pos = ec->e2.n_pos[ec->e2.n_pos_count - 1], max_neg = ec->e2.n_neg[ec->e2.n_neg_count - 1];
    if (ec->run_rebound && (max_pos > ec->data.pool_docs || max_neg > ec->data.pool_docs))
        return alim_error_set(err, ALIM_EINVAL, w, "the largest n_pos (%zu) and n_neg (%zu) must not exceed data.pool_docs (%zu)",
                              max_pos, max_neg, ec->data.pool_docs);
    /* E4 (from E2's cells) */
    if ((st = report_read_object(c, "coefficient", where, &d, err))) return st;
    snprintf(w, sizeof w, "%.200s.coefficient", where);
    if (d) {
        static const char *const ckeys[] = {"max_n_neg", "bootstrap", NULL};
        if ((st = alim_json_check_keys(d, ckeys, w, err)) ||
            (st = report_read_size(d, "max_n_neg", w, 1, 1e7, &ec->e4_max_n_neg, NULL, err)) ||
            (st = report_read_size(d, "bootstrap", w, 0, 1e6, &ec->e4_boot, NULL, err)))
            return st;
    }
    if (ec->run_coefficient && !(ec->e2.n_neg_count > 1 && ec->e2.n_neg[1] <= ec->e4_max_n_neg))
        return alim_error_set(err, ALIM_EINVAL, w, "\"max_n_neg\" (%zu) leaves no n_neg of the rebound grid for E4 (the first > 0 is %zu)",
                              ec->e4_max_n_neg, ec->e2.n_neg[1]);
    /* E3 */
    if ((st = report_read_object(c, "scale", where, &d, err))) return st;
    snprintf(w, sizeof w, "%.200s.scale", where);
    if (d && (st = scale_config_read(d, w, &ec->e3, err))) return st;
    if (ec->run_scale && (st = scale_config_check(&ec->e3, w, ec->data.pool_docs, err))) return st;
    return ALIM_OK;
}
