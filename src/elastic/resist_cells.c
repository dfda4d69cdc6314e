/* resist_cells.c — E1's cells: theta0's pretraining, the SFT pass over 3n documents (or
 * records) with its stops theta1..3, D_k (resist_sample.c, or resist_real.c's replies), the
 * pairs' fine-tunings, and the cells' one-line notes (resist_impl.h names the other files). */
#define _POSIX_C_SOURCE 200809L
#include "resist_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/dataset.h"
#include "alim/io.h"
#include "alim/lm_train.h"
#include "alim/tokenizer.h"
#include "lab_impl.h"

/* Per-step losses from a training log (CSV "step,loss,..."). */
static alim_status read_log_losses(const char *path, double **out, size_t *n, alim_error *err)
{
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    size_t cap = 64, k = 0;
    double *v = malloc(cap * sizeof *v);
    if (!v) {
        free(buf);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "step,", 5)) continue;
        char *e;
        strtoull(line, &e, 10);
        if (*e != ',') continue;
        double loss = strtod(e + 1, NULL);
        if (k == cap) {
            double *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                free(v), free(buf);
                return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
            }
            v = nv, cap *= 2;
        }
        v[k++] = loss;
    }
    free(buf);
    if (!k) {
        free(v);
        return alim_error_set(err, ALIM_EFORMAT, path, "the training log has no steps");
    }
    *out = v;
    *n = k;
    return ALIM_OK;
}

/* ---- the cells -------------------------------------------------------------------------- */

/* the run's model (lab_train_options) */
static void base_train_options(const rs_exper *x, alim_train_options *o)
{
    const alim_lab_base b = LAB_BASE_OF(x->cfg);
    lab_train_options(o, &b, x->prec);
}

/* Runs alim_train and fills a result object {steps, loss_final, tokens_per_s, elapsed_s,
 * num_params, train_tokens[, losses]} */
static alim_status train_cell(const alim_cell_env *env, alim_train_options *o, int with_losses, cJSON **result, alim_error *err)
{
    alim_train_result tr;
    double t0 = alim_lab_now();
    alim_status st = lab_train(env, o, &tr, err);
    if (st) return st;
    double el = alim_lab_now() - t0;
    const double tokens = (double)(tr.last_step - tr.first_step) * o->batch * o->context * o->grad_accum;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "steps", (double)tr.last_step);
    cJSON_AddNumberToObject(r, "loss_final_nats", tr.last_loss);
    cJSON_AddNumberToObject(r, "tokens", tokens);
    cJSON_AddNumberToObject(r, "tokens_per_s", tr.tokens_per_s);
    cJSON_AddNumberToObject(r, "elapsed_s", el);
    cJSON_AddNumberToObject(r, "num_params", (double)tr.num_params);
    cJSON_AddNumberToObject(r, "data_tokens", (double)tr.train_tokens);
    if (with_losses) {
        char *lp = rs_path_join(o->out_dir, "log.csv");
        double *l = NULL;
        size_t n = 0;
        st = lp ? read_log_losses(lp, &l, &n, err) : alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        free(lp);
        if (st) {
            cJSON_Delete(r);
            return st;
        }
        cJSON_AddItemToObject(r, "losses_nats", cJSON_CreateDoubleArray(l, (int)n));
        free(l);
    }
    *result = r;
    return ALIM_OK;
}

/* The byte-level pass's updates, from the loader's windows, and the update of stop k: where
 * the pass has read the first k * sft_docs documents of pool, by their bytes (to the nearest
 * update; the last stop is the end of the pass). */
static alim_status byte_pass_plan(const rs_exper *x, const alim_corpus *pool, const char *data, uint64_t *total_out, uint64_t *stops,
                                  alim_error *err)
{
    const alim_resist_config *cfg = x->cfg;
    alim_tokenizer tk = {0};
    alim_token_stream ds = {0};
    const char *paths[1] = {data};
    alim_status st = alim_tokenizer_init_bytes(&tk, err);
    if (!st) st = alim_dataset_load(&ds, paths, 1, ALIM_DATA_TEXT, NULL, &tk, err);
    const uint64_t total = st ? 1 : lab_pass_updates(ds.n, (size_t)cfg->context, (size_t)cfg->sft_batch);
    alim_dataset_free(&ds);
    alim_tokenizer_free(&tk);
    if (st) return st;
    double all = 0, upto[RS_N_SLICES];
    for (size_t d = 0; d < RS_N_SLICES * cfg->sft_docs; d++) {
        size_t l;
        alim_corpus_doc(pool, d, &l);
        all += (double)l + 1;
        if ((d + 1) % cfg->sft_docs == 0) upto[(d + 1) / cfg->sft_docs - 1] = all;
    }
    uint64_t done = 0;
    for (int k = 0; k < RS_N_SLICES; k++) {
        uint64_t stop = k == RS_N_SLICES - 1 ? total : (uint64_t)llround((double)total * upto[k] / all);
        if (stop <= done) stop = done + 1; /* every slice trains at least one update */
        if (stop > total) stop = total;
        stops[k] = done = stop;
    }
    *total_out = total;
    return ALIM_OK;
}

/* E1's SFT: one in-order pass over data (the first RS_N_SLICES * sft_docs documents or records),
 * stopped after update stops[k] (byte_pass_plan, rsr_pass_plan), the model of stop k copied
 * to DIR/theta<k>. Result {total_steps, slices: [{first_step, steps, loss_final_nats,
 * losses_nats, ...}]}. */
static alim_status sft_pass(const alim_cell_env *env, const rs_exper *x, const char *data, const char *dir, const char *theta0, uint64_t seed,
                            uint64_t total, const uint64_t *stops, cJSON **result, alim_error *err)
{
    const alim_resist_config *cfg = x->cfg;
    char tdir[4300], to[4300];
    snprintf(tdir, sizeof tdir, "%s/train", dir);
    const char *paths[1] = {data};
    alim_status st = ALIM_OK;
    cJSON *r = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(r, "slices");
    uint64_t done = 0;
    for (int k = 0; k < RS_N_SLICES && !st; k++) {
        const uint64_t stop = stops[k];
        snprintf(to, sizeof to, "%s/theta%d", dir, k + 1);
        if (x->real && stop <= done) { /* records too short for an update of their own: theta_k = theta_(k-1) */
            cJSON *one = cJSON_CreateObject();
            cJSON_AddNumberToObject(one, "steps", (double)done);
            cJSON_AddItemToObject(one, "losses_nats", cJSON_CreateArray());
            cJSON_AddNumberToObject(one, "first_step", (double)done);
            cJSON_AddNumberToObject(one, "documents", (double)((size_t)(k + 1) * cfg->sft_docs));
            cJSON_AddItemToArray(arr, one);
            st = rsr_keep_model(tdir, to, err);
            continue;
        }
        alim_train_options o;
        base_train_options(x, &o);
        o.data = paths;
        o.n_data = 1;
        o.format = x->real ? ALIM_DATA_JSONL : ALIM_DATA_TEXT; /* real: chat records, loss on the responses */
        o.out_dir = tdir;
        o.init_dir = done ? NULL : theta0;
        o.resume = done > 0;
        lab_sft_options(&o, cfg->sft_batch, cfg->sft_lr);
        o.stop_at = stop;
        o.in_order = 1;
        o.seed = seed;
        cJSON *one = NULL;
        st = train_cell(env, &o, 1, &one, err);
        if (st) break;
        const double got = alim_lab_json_num(one, "steps");
        if (x->real && (uint64_t)got != stop) {
            cJSON_Delete(one);
            st = alim_error_set(err, ALIM_EINVAL, dir, "the pass stopped after update %.0f, planned %llu of %llu", got, (unsigned long long)stop,
                                (unsigned long long)total);
            break;
        }
        /* the log holds every update of the pass so far: keep this slice's */
        cJSON *ls = cJSON_DetachItemFromObjectCaseSensitive(one, "losses_nats");
        const int n = cJSON_GetArraySize(ls);
        double *l = malloc(((size_t)n + 1) * sizeof *l);
        size_t m = 0;
        for (int i = (int)done; i < n && l; i++) l[m++] = alim_json_number_value(cJSON_GetArrayItem(ls, i));
        cJSON_Delete(ls);
        if (!l) {
            cJSON_Delete(one);
            st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
            break;
        }
        cJSON_AddItemToObject(one, "losses_nats", cJSON_CreateDoubleArray(l, (int)m));
        free(l);
        cJSON_AddNumberToObject(one, "first_step", (double)done);
        cJSON_AddNumberToObject(one, "documents", (double)((size_t)(k + 1) * cfg->sft_docs));
        cJSON_AddItemToArray(arr, one);
        done = (uint64_t)alim_lab_json_num(one, "steps");
        /* real: at the end of the pass nothing resumes it (every --init starts a fresh AdamW):
         * its 1 GB of moments go, and the pass's directory becomes theta3 (540 MB not copied) */
        if (x->real && k == RS_N_SLICES - 1) {
            char p[4400];
            remove(alim_lab_path(tdir, "optimizer.safetensors", p, sizeof p));
            if (rename(tdir, to) == 0) continue;
        }
        st = x->real ? rsr_keep_model(tdir, to, err) : alim_lab_copy_model(tdir, to, err);
    }
    if (!st && x->real) { /* the pass's directory when it could not be renamed */
        char p[4400];
        remove(alim_lab_path(tdir, "optimizer.safetensors", p, sizeof p));
        remove(alim_lab_path(tdir, "model.safetensors", p, sizeof p));
    }
    if (st) {
        cJSON_Delete(r);
        return st;
    }
    cJSON_AddNumberToObject(r, "total_steps", (double)total);
    cJSON_AddStringToObject(r, "order", x->real ? "records 1..3n of the seed's slice in order, one pass, stops after n, 2n, 3n records (by their tokens)"
                                                : "documents 1..3n in order, one pass, stops after n, 2n, 3n documents");
    *result = r;
    return ALIM_OK;
}

alim_status rs_theta0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rs_cell_arg *a = arg;
    alim_train_options o;
    const alim_lab_base b = LAB_BASE_OF(a->x->cfg);
    const char *data[1] = {a->x->pre_path};
    lab_pretrain_options(&o, &b, a->x->prec, data, env->dir, a->seed);
    return train_cell(env, &o, 0, result, err);
}

/* theta1..3: ONE pass over pool_c2 documents 1..3n in document order (fresh AdamW once, lr
 * constant), stopped and resumed bit for bit where it has read the first n, 2n, 3n documents;
 * theta_k = the model at the k-th stop (spec §4.5: "save theta1..3 after 200, 400 and 600
 * documents") */
alim_status rs_sft_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rs_cell_arg *a = arg;
    const rs_exper *x = a->x;
    char path[4200];
    uint64_t total = 0, stops[RS_N_SLICES];
    snprintf(path, sizeof path, "%s/data.%s", env->dir, x->real ? "jsonl" : "txt");
    alim_status st = x->real ? rsr_pass_plan(x->cfg, x->in, a->seed, RS_N_SLICES, path, &total, stops, err)
                             : lab_write_docs(x->pool2, 0, RS_N_SLICES * x->cfg->sft_docs, path, err);
    if (!st && !x->real) st = byte_pass_plan(x, x->pool2, path, &total, stops, err);
    if (!st) st = sft_pass(env, x, path, env->dir, a->from, a->seed, total, stops, result, err);
    return st;
}

alim_status rs_d_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rs_cell_arg *a = arg;
    char path[4200];
    snprintf(path, sizeof path, "%s/D.jsonl", env->dir);
    if (a->x->real) return rsr_sample_d(a->x->cfg, a->x->in, a->x->prec, a->from, a->seed, a->k, path, env->progress, result, err);
    return rs_sample_cell(env, a->x, a->from, a->seed, a->k, path, result, err);
}

/* forward: theta_k on D_l; inverse: theta_l on D_k */
alim_status rs_ft_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rs_cell_arg *a = arg;
    const alim_resist_config *cfg = a->x->cfg;
    alim_train_options o;
    base_train_options(a->x, &o);
    const char *data[1] = {a->data};
    o.data = data;
    o.n_data = 1;
    o.format = ALIM_DATA_JSONL;
    o.out_dir = env->dir;
    o.init_dir = a->from;
    lab_sft_options(&o, cfg->sft_batch, cfg->sft_lr);
    o.seed = a->seed;
    if (a->x->real) {
        o.in_order = 1; /* the recipe of docs/real-elasticity.md §3 */
        o.no_save = 1;  /* only the per-update losses are wanted, not 2 GB of weights and moments */
    }
    return train_cell(env, &o, 1, result, err);
}

/* the first, mean and last of a fine-tuning's losses; their count */
int rs_loss_stats(const cJSON *result, double *first, double *mean, double *last)
{
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(result, "losses_nats");
    const int n = cJSON_GetArraySize(ls);
    double sum = 0;
    *first = *last = NAN;
    for (int i = 0; i < n; i++) {
        const double v = alim_json_number_value(cJSON_GetArrayItem(ls, i));
        sum += v;
        if (i == 0) *first = v;
        *last = v;
    }
    *mean = n ? sum / n : NAN;
    return n;
}

void rs_note_theta0(void *arg, const char *name, const cJSON *r, int reused)
{
    lab_notef(((const rs_cell_arg *)arg)->x, "%s: %s, %.0f steps, final loss %.4f nats, %.0f tokens/s, %.1f s", name, LAB_DONE(reused),
          alim_lab_json_num(r, "steps"), alim_lab_json_num(r, "loss_final_nats"), alim_lab_json_num(r, "tokens_per_s"),
          alim_lab_json_num(r, "elapsed_s"));
}

void rs_note_sft(void *arg, const char *name, const cJSON *result, int reused)
{
    const rs_cell_arg *a = arg;
    (void)name;
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(result, "slices");
    for (int k = 1; k <= RS_N_SLICES; k++) {
        const cJSON *r = cJSON_GetArrayItem(sl, k - 1);
        const size_t first = (size_t)(k - 1) * a->x->cfg->sft_docs + 1, last = (size_t)k * a->x->cfg->sft_docs;
        if (a->x->real) /* the seed's slice of the positive pool */
            lab_notef(a->x, "s%zu-theta%d: %s, updates %.0f..%.0f on %s records %zu..%zu in order, final loss %.4f nats", a->seed, k, LAB_DONE(reused),
                  alim_lab_json_num(r, "first_step") + 1, alim_lab_json_num(r, "steps"), a->x->in->pos_pool, (a->seed - 1) * a->x->cfg->pos_slice + first,
                  (a->seed - 1) * a->x->cfg->pos_slice + last, alim_lab_json_num(r, "loss_final_nats"));
        else
            lab_notef(a->x, "s%zu-theta%d: %s, updates %.0f..%.0f on pool_c2 documents %zu..%zu in order, final loss %.4f nats", a->seed, k,
                  LAB_DONE(reused), alim_lab_json_num(r, "first_step") + 1, alim_lab_json_num(r, "steps"), first, last, alim_lab_json_num(r, "loss_final_nats"));
    }
}

void rs_note_d(void *arg, const char *name, const cJSON *r, int reused)
{
    const rs_cell_arg *a = arg;
    a->sr->H[a->k] = alim_lab_json_num(r, "H_nats");
    if (a->x->real) {
        lab_notef(a->x, "%s: %s, %.0f replies to prompts.txt, mean length %.1f tokens (positive %.0f, negative %.0f, neutral %.0f), H_%d = %.4f nats/token",
              name, LAB_DONE(reused), alim_lab_json_num(r, "docs"), alim_lab_json_num(r, "mean_len"), alim_lab_json_num(r, "positive"),
              alim_lab_json_num(r, "negative"), alim_lab_json_num(r, "neutral"), a->k, a->sr->H[a->k]);
        return;
    }
    lab_notef(a->x, "%s: %s, %.0f documents (%.0f redrawn), mean length %.1f, H_%d = %.4f nats/token", name, LAB_DONE(reused),
          alim_lab_json_num(r, "docs"), alim_lab_json_num(r, "redrawn"), alim_lab_json_num(r, "mean_len"), a->k, a->sr->H[a->k]);
}

void rs_note_ft(void *arg, const char *name, const cJSON *r, int reused)
{
    const rs_cell_arg *a = arg;
    double first, mean, last;
    const int n = rs_loss_stats(r, &first, &mean, &last);
    const double H = a->sr->H[a->dir ? a->k : a->l]; /* D_k's cell is a dependency: told before */
    lab_notef(a->x, "%s: %s, %d steps, loss initial %.4f mean %.4f final %.4f nats (excess %.4f)", name, LAB_DONE(reused), n, first, mean, last,
          mean - H);
}
