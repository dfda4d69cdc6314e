/* resist.c — E1: resistance, forward vs inverse alignment (see alim/resist.h): the
 * configuration and alim_resist_run, the orchestration of its steps; resist_impl.h names the
 * files that hold the rest. */
#define _POSIX_C_SOURCE 200809L
#include "resist_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/corpus.h"
#include "alim/io.h"
#include "lab_impl.h"

const int rs_pair_k[RS_N_PAIRS] = {1, 2, 1}, rs_pair_l[RS_N_PAIRS] = {2, 3, 3};

void alim_resist_config_default(alim_resist_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_seeds = 3;
    LAB_SET_BASE(c, lab_base_default);
    c->sft_docs = 200;
    c->sft_batch = 8;
    c->sft_lr = 3e-4;
    c->n_samples = 300;
    c->sample_tokens = 128;
    c->prompt_bytes = 16;
    c->temperature = 1.0;
}

void alim_resist_config_quick(alim_resist_config *c)
{
    alim_resist_config_default(c);
    c->n_seeds = 2;
    LAB_SET_BASE(c, lab_base_quick);
    c->sft_docs = 20;
    c->n_samples = 24;
    c->sample_tokens = 32;
    c->prompt_bytes = 8;
    c->quick = 1;
}

char *rs_path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static cJSON *make_config(const alim_resist_config *c, const char *source, const char *data_hash)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data_source", source);
    cJSON_AddStringToObject(o, "data_manifest_hash", data_hash);
    const alim_lab_base base = LAB_BASE_OF(c);
    alim_lab_add_base_config(o, &base);
    cJSON *s = cJSON_AddObjectToObject(o, "sft");
    cJSON_AddNumberToObject(s, "docs_per_slice", (double)c->sft_docs);
    cJSON_AddNumberToObject(s, "slices", RS_N_SLICES);
    cJSON_AddNumberToObject(s, "batch", c->sft_batch);
    cJSON_AddNumberToObject(s, "lr", c->sft_lr);
    cJSON_AddStringToObject(s, "schedule", "constant");
    cJSON_AddNumberToObject(s, "weight_decay", 0);
    cJSON_AddStringToObject(s, "moments", "one pass in document order, AdamW carried across the slices");
    cJSON *g = cJSON_AddObjectToObject(o, "samples");
    cJSON_AddNumberToObject(g, "n", (double)c->n_samples);
    cJSON_AddNumberToObject(g, "tokens", (double)c->sample_tokens);
    cJSON_AddNumberToObject(g, "prompt_bytes", (double)c->prompt_bytes);
    cJSON_AddNumberToObject(g, "temperature", c->temperature);
    cJSON_AddBoolToObject(o, "quick", c->quick);
    return o;
}

static alim_status check_config(const alim_resist_config *c, alim_error *err)
{
    alim_status st = lab_check_run(c->data_dir, c->run_dir, c->n_seeds, c->context, err);
    if (st) return st;
    if (!(c->sft_lr > 0 && c->sft_lr < 1)) return alim_error_set(err, ALIM_EINVAL, "sft_lr", "must be in (0, 1)");
    if (c->theta0_model) return ALIM_OK; /* check_real, once the data are known to be chats */
    if (c->pretrain_tokens < 1) return alim_error_set(err, ALIM_EINVAL, "pretrain_tokens", "must be >= 1");
    if (c->sft_docs < 1) return alim_error_set(err, ALIM_EINVAL, "sft_docs", "must be >= 1");
    if (c->n_samples < 1) return alim_error_set(err, ALIM_EINVAL, "n_samples", "must be >= 1");
    if (c->sample_tokens < 1 || c->sample_tokens > (size_t)c->context)
        return alim_error_set(err, ALIM_EINVAL, "sample_tokens", "%zu must be in [1, context = %d]", c->sample_tokens, c->context);
    if (!(c->temperature > 0 && isfinite(c->temperature))) return alim_error_set(err, ALIM_EINVAL, "temperature", "must be > 0");
    if (c->pretrain_batch < 1 || c->sft_batch < 1) return alim_error_set(err, ALIM_EINVAL, c->pretrain_batch < 1 ? "pretrain_batch" : "sft_batch", "must be >= 1");
    return ALIM_OK;
}

/* a pretrained theta0: no pretraining; replies end at the end of turn, not at the context */
static alim_status check_real(const alim_resist_config *c, alim_error *err)
{
    if (c->sft_docs < 1) return alim_error_set(err, ALIM_EINVAL, "sft_docs", "must be >= 1");
    if (c->n_samples < 1) return alim_error_set(err, ALIM_EINVAL, "n_samples", "must be >= 1");
    if (c->sample_tokens < 1) return alim_error_set(err, ALIM_EINVAL, "sample_tokens", "must be >= 1");
    if (!(c->temperature > 0 && isfinite(c->temperature))) return alim_error_set(err, ALIM_EINVAL, "temperature", "must be > 0");
    if (c->sft_batch < 1) return alim_error_set(err, ALIM_EINVAL, "sft_batch", "must be >= 1");
    if (c->pos_slice < 1) return alim_error_set(err, ALIM_EINVAL, "pos_slice", "must be >= 1");
    return ALIM_OK;
}


/* The inputs, read and checked before the run directory is touched: the manifest, then the
 * real path's (rsr_load) or the text data's pools (pool_c2, and pool_c1's prompts for natural
 * data). */
static alim_status load_inputs(rs_run *r, alim_error *err)
{
    const alim_resist_config *cfg = r->cfg;
    rs_exper *x = &r->x;
    r->pre_path = rs_path_join(cfg->data_dir, "pretrain.txt");
    r->pool2_path = rs_path_join(cfg->data_dir, "pool_c2.txt");
    r->pool1_path = rs_path_join(cfg->data_dir, "pool_c1.txt");
    if (!r->pre_path || !r->pool2_path || !r->pool1_path) return alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    alim_status st = lab_read_manifest(cfg->data_dir, cfg->theta0_model, "set theta0_model", &r->man, &x->real, err);
    if (st) return st;
    alim_json_hash(r->man, r->data_hash);
    if (x->real) {
        r->source = "behaviours";
        x->natural = 1;
        st = check_real(cfg, err);
        if (!st) st = rsr_load(cfg, r->man, &r->in, err);
        return st;
    }
    alim_corpus *pool2 = &r->pool2, *pool1 = &r->pool1;
    const char *pool2_path = r->pool2_path, *pool1_path = r->pool1_path;
    const cJSON *srcj = cJSON_GetObjectItemCaseSensitive(r->man, "source");
    if (cJSON_IsString(srcj)) r->source = srcj->valuestring;
    x->natural = strcmp(r->source, "synthetic") != 0;
    st = alim_corpus_read(pool2, pool2_path, err);
    if (!st && pool2->n_docs < RS_N_SLICES * cfg->sft_docs)
        st = alim_error_set(err, ALIM_EINVAL, pool2_path, "has %zu documents, the SFT needs %d x %zu (a smaller sft_docs, or data made with a larger pool_docs)",
                            pool2->n_docs, RS_N_SLICES, cfg->sft_docs);
    if (!st && x->natural) {
        st = alim_corpus_read(pool1, pool1_path, err);
        if (!st && pool1->n_docs < cfg->n_samples)
            st = alim_error_set(err, ALIM_EINVAL, pool1_path, "has %zu documents, fewer than the %zu prompts needed (n_samples)", pool1->n_docs, cfg->n_samples);
        for (size_t d = 0; d < cfg->n_samples && !st; d++) {
            size_t l;
            alim_corpus_doc(pool1, d, &l);
            if (l < cfg->prompt_bytes)
                st = alim_error_set(err, ALIM_EINVAL, pool1_path, "document %zu has %zu bytes, fewer than prompt_bytes = %zu", d + 1, l, cfg->prompt_bytes);
        }
        if (!st && cfg->prompt_bytes >= cfg->sample_tokens)
            st = alim_error_set(err, ALIM_EINVAL, "prompt_bytes", "%zu leaves no continuation of sample_tokens = %zu", cfg->prompt_bytes, cfg->sample_tokens);
    }
    if (st) return st;
    x->pool2 = pool2;
    x->prompts = pool1;
    return ALIM_OK;
}

/* The configuration record (the run directory's identity) and the run directory. */
static alim_status open_run_dir(rs_run *r, alim_error *err)
{
    const alim_resist_config *cfg = r->cfg;
    r->config = r->x.real ? rsr_make_config(cfg, r->data_hash, &r->in) : make_config(cfg, r->source, r->data_hash);
    if (!r->config) return alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    alim_lab_add_precision(r->config, r->x.prec);
    return alim_rundir_open(cfg->run_dir, "elastic-resist", r->config, &r->rd, err);
}

/* The cell graph, in the order a single worker runs them, with their estimated cost
 * (thousands of training-token equivalents): per seed theta0 (none on the real path), the
 * SFT pass, D1..D3, each pair's forward and inverse fine-tuning. */
static alim_status build_cells(rs_run *r, const alim_progress *progress, alim_error *err)
{
    const alim_resist_config *cfg = r->cfg;
    const rs_exper *x = &r->x;
    const size_t S = r->S;
    const double c_pre = (double)cfg->pretrain_tokens / 1000.0;
    const double c_sft = (double)cfg->sft_docs * (double)(cfg->sample_tokens + 1) / 1000.0 + 0.001;
    const double c_smp = (double)cfg->n_samples * (double)(cfg->sample_tokens + 1) * (double)(cfg->sample_tokens + 1) / 6.0 / 1000.0 + 0.001;
    const double c_ft = (double)cfg->n_samples * (double)(cfg->sample_tokens + 1) / 1000.0 + 0.001;
    r->x.pre_path = r->pre_path;
    const alim_runner_options ro = {"E1", progress, cfg->jobs > 0 ? cfg->jobs : 1};
    alim_status st = alim_runner_create(r->rd, &ro, &r->runner, err);
    if (st) return st;
    alim_runner *runner = r->runner;
    rs_seedres *sr = r->sr = calloc(S, sizeof *sr);
    rs_cell_arg *args = r->args = calloc(S * RS_PER_SEED, sizeof *args);
    size_t *cix = r->cix = calloc(S * RS_PER_SEED, sizeof *cix);
    if (!sr || !args || !cix) return alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    char cell[64];
    for (size_t s = 1; s <= S; s++) {
        rs_cell_arg *a = &args[(s - 1) * RS_PER_SEED];
        size_t *ix = &cix[(s - 1) * RS_PER_SEED];
        for (int q = 0; q < RS_PER_SEED; q++) a[q] = (rs_cell_arg){x, &sr[s - 1], s, 0, 0, 0, "", ""};
        if (x->real) { /* theta0 is the model given: no cell of its own */
            ix[0] = (size_t)-1;
            snprintf(a[1].from, sizeof a[1].from, "%s", cfg->theta0_model);
        } else {
            snprintf(cell, sizeof cell, "s%zu-theta0", s);
            ix[0] = alim_runner_add(runner, cell, c_pre, rs_theta0_cell, &a[0], rs_note_theta0, NULL, 0);
            snprintf(a[1].from, sizeof a[1].from, "%s/cells/%s", cfg->run_dir, cell);
        }
        snprintf(cell, sizeof cell, "s%zu-sft", s);
        ix[1] = alim_runner_add(runner, cell, RS_N_SLICES * c_sft, rs_sft_cell, &a[1], rs_note_sft, &ix[0], x->real ? 0 : 1);
        for (int k = 1; k <= RS_N_SLICES; k++) {
            a[1 + k].k = k;
            snprintf(a[1 + k].from, sizeof a[1 + k].from, "%s/cells/s%zu-sft/theta%d", cfg->run_dir, s, k);
            snprintf(cell, sizeof cell, "s%zu-D%d", s, k);
            ix[1 + k] = alim_runner_add(runner, cell, c_smp, rs_d_cell, &a[1 + k], rs_note_d, &ix[1], 1);
        }
        for (int p = 0; p < RS_N_PAIRS; p++)
            for (int dir = 0; dir < 2; dir++) {
                const int k = rs_pair_k[p], l = rs_pair_l[p], from = dir ? l : k, to = dir ? k : l;
                rs_cell_arg *f = &a[2 + RS_N_SLICES + 2 * p + dir];
                f->k = k, f->l = l, f->dir = dir;
                snprintf(f->from, sizeof f->from, "%s/cells/s%zu-sft/theta%d", cfg->run_dir, s, from);
                snprintf(f->data, sizeof f->data, "%s/cells/s%zu-D%d/D.jsonl", cfg->run_dir, s, to);
                snprintf(cell, sizeof cell, "s%zu-ft%d%d-%s", s, k, l, dir ? "inverse" : "forward");
                const size_t deps[2] = {ix[1], ix[1 + to]};
                ix[2 + RS_N_SLICES + 2 * p + dir] = alim_runner_add(runner, cell, c_ft, rs_ft_cell, f, rs_note_ft, deps, 2);
            }
    }
    return ALIM_OK;
}

/* Frees what a run holds, its inputs included. */
static void run_free(rs_run *r)
{
    cJSON_Delete(r->summary);
    cJSON_Delete(r->seeds_json);
    cJSON_Delete(r->pairs_json);
    cJSON_Delete(r->config);
    cJSON_Delete(r->man);
    alim_runner_free(r->runner);
    if (r->rd) alim_rundir_close(r->rd);
    free(r->args), free(r->cix);
    alim_corpus_free(&r->pool2);
    alim_corpus_free(&r->pool1);
    rsr_free(&r->in);
    free(r->cases), free(r->gap_raw), free(r->gap_corr), free(r->sr);
    free(r->pre_path), free(r->pool2_path), free(r->pool1_path);
}

alim_status alim_resist_run(const alim_resist_config *cfg, const alim_progress *progress, alim_resist_note_fn note,
                            void *note_ctx, alim_resist_result *res, alim_error *err)
{
    memset(res, 0, sizeof *res);
    alim_status st = check_config(cfg, err);
    if (st) return st;
    rs_run r = {.cfg = cfg, .S = cfg->n_seeds, .t_start = alim_lab_now(), .source = "synthetic"};
    r.x = (rs_exper){cfg, 0, NULL, NULL, NULL, note, note_ctx, ALIM_PRECISION_FP32, 0, NULL};
    st = alim_precision_select(cfg->precision, &r.x.prec, err);
    if (st) return st;
    r.x.in = &r.in;

    /* 1. the inputs, checked */
    st = load_inputs(&r, err);
    /* 2. the configuration record and the run directory (another configuration is refused) */
    if (!st) st = open_run_dir(&r, err);
    /* 3. the cell graph, computed where no result.json is */
    if (!st) st = build_cells(&r, progress, err);
    if (!st) st = alim_runner_run(r.runner, err);
    if (!st) {
        alim_runner_stats rs;
        alim_runner_get_stats(r.runner, &rs);
        res->cells_total = rs.total;
        res->cells_run = rs.run;
        res->cells_reused = rs.reused;
        /* 4. the results read back (curves.csv), 5. judged and written (summary.csv,
         * summary.json); under MPI rank 0's */
        if (alim_runner_writes(r.runner)) {
            st = rs_read_results(&r, err);
            if (!st) st = rs_write_summary(&r, res, err);
        }
    }
    run_free(&r);
    /* a failed run hands back nothing to free (the cell counts stay) */
    if (st) alim_resist_result_free(res);
    return st;
}

void alim_resist_result_free(alim_resist_result *res)
{
    if (!res) return;
    cJSON_Delete(res->summary);
    res->summary = NULL;
    free(res->cases);
    res->cases = NULL;
    res->n_cases = 0;
    free(res->source);
    res->source = NULL;
}
