/* lab.c — helpers shared by the elasticity experiments (see alim/lab.h, and lab_impl.h for
 * the private ones of E1 and E2). */
#define _POSIX_C_SOURCE 200809L
#include "alim/lab.h"

#include "lab_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alim/checkpoint.h"
#include "alim/io.h"
#include "alim/lm_train.h"
#include "alim/rundir.h"
#include "alim/runner.h"

double alim_lab_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double alim_lab_json_num(const cJSON *o, const char *key)
{
    return alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, key));
}

void alim_lab_mean_se(const double *x, size_t n, double *mean, double *se)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m = n ? m / (double)n : NAN;
    double v = 0.0;
    for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *se = n > 1 ? sqrt(v / (double)(n - 1) / (double)n) : NAN;
}

void alim_lab_add_base_config(cJSON *o, const alim_lab_base *c)
{
    cJSON *m = cJSON_AddObjectToObject(o, "model");
    cJSON_AddNumberToObject(m, "layers", c->n_layer);
    cJSON_AddNumberToObject(m, "dim", c->n_embd);
    cJSON_AddNumberToObject(m, "heads", c->n_head);
    cJSON_AddNumberToObject(m, "context", c->context);
    cJSON_AddStringToObject(m, "tokenizer", "byte");
    cJSON *p = cJSON_AddObjectToObject(o, "pretrain");
    cJSON_AddNumberToObject(p, "tokens", (double)c->pretrain_tokens);
    cJSON_AddNumberToObject(p, "batch", c->pretrain_batch);
    cJSON_AddNumberToObject(p, "lr", c->pretrain_lr);
    cJSON_AddNumberToObject(p, "min_lr", c->pretrain_min_lr);
    cJSON_AddStringToObject(p, "schedule", "cosine");
    cJSON_AddNumberToObject(p, "warmup", (double)c->pretrain_warmup);
    cJSON_AddNumberToObject(p, "weight_decay", c->pretrain_weight_decay);
}

void alim_lab_add_precision(cJSON *o, alim_precision p)
{
    if (p != ALIM_PRECISION_BF16) return;
    cJSON_AddStringToObject(o, "precision", alim_precision_name(p));
    cJSON_AddStringToObject(o, "bf16_isa", alim_bf16_isa());
}

/* mean ranks (1-based) of x[0..n) into r; O(n^2), n is a handful of (level, seed) pairs */
static void mean_ranks(const double *x, size_t n, double *r)
{
    for (size_t i = 0; i < n; i++) {
        size_t below = 0, equal = 0;
        for (size_t j = 0; j < n; j++) {
            below += x[j] < x[i];
            equal += x[j] == x[i];
        }
        r[i] = (double)below + ((double)equal + 1.0) / 2.0;
    }
}

double alim_lab_spearman(const double *x, const double *y, size_t n)
{
    if (n < 2) return NAN;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || !isfinite(y[i])) return NAN;
    double *rx = malloc(2 * n * sizeof *rx);
    if (!rx) return NAN;
    double *ry = rx + n;
    mean_ranks(x, n, rx);
    mean_ranks(y, n, ry);
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) mx += rx[i], my += ry[i];
    mx /= (double)n, my /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        sxy += (rx[i] - mx) * (ry[i] - my);
        sxx += (rx[i] - mx) * (rx[i] - mx);
        syy += (ry[i] - my) * (ry[i] - my);
    }
    free(rx);
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : NAN;
}

alim_status alim_lab_write_json(const char *path, const cJSON *v, alim_error *err)
{
    char *text = alim_json_print(v, 1);
    if (!text) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    const size_t n = strlen(text);
    text[n] = '\n'; /* cJSON_Print's buffer (alim_json_print's) has room for the NUL it replaces */
    alim_status st = alim_file_write_atomic(path, text, n + 1, err);
    free(text);
    return st;
}

void alim_lab_add_num(cJSON *o, const char *key, double v)
{
    alim_json_add_number(o, key, v);
}

char *alim_lab_path(const char *a, const char *b, char *buf, size_t n)
{
    int w = snprintf(buf, n, "%s/%s", a, b);
    if (w < 0 || (size_t)w >= n) buf[0] = '\0';
    return buf;
}

alim_status alim_lab_copy_model(const char *from_dir, const char *to_dir, alim_error *err)
{
    /* the model and whichever tokenizer files it has: GPT-2's vocab.json + merges.txt, or
     * a Hugging Face tokenizer.json with its config and chat template */
    static const char *const files[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt",
                                        "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"};
    enum { REQUIRED = 2 };
    char from[4400], to[4400];
    alim_status st = alim_checkpoint_make_dir(to_dir, err);
    for (size_t f = 0; f < sizeof files / sizeof *files && !st; f++) {
        char *buf;
        size_t len;
        struct stat sb;
        if (f >= REQUIRED && stat(alim_lab_path(from_dir, files[f], from, sizeof from), &sb) != 0) continue;
        st = alim_file_read_all(alim_lab_path(from_dir, files[f], from, sizeof from), &buf, &len, err);
        if (st) break;
        st = alim_file_write_atomic(alim_lab_path(to_dir, files[f], to, sizeof to), buf, len, err);
        free(buf);
    }
    return st;
}

void alim_lab_note(alim_lab_note_fn fn, void *ctx, const char *fmt, ...)
{
    if (!fn) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(ctx, line);
}

/* ---- E1 and E2's private helpers (lab_impl.h) --------------------------------------------- */

const alim_lab_base lab_base_default = {2, 64, 4, 128, 2000000, 16, 1e-3, 1e-4, 0.1, 200};
const alim_lab_base lab_base_quick = {1, 16, 2, 32, 16384, 16, 1e-3, 1e-4, 0.1, 4};

alim_status lab_check_run(const char *data_dir, const char *run_dir, size_t n_seeds, int context, alim_error *err)
{
    if (!data_dir) return alim_error_set(err, ALIM_EINVAL, "data_dir", "no data directory given");
    if (!run_dir) return alim_error_set(err, ALIM_EINVAL, "run_dir", "no run directory given");
    if (n_seeds < 1 || n_seeds > 1000) return alim_error_set(err, ALIM_EINVAL, "n_seeds", "must be in [1, 1000]");
    if (context < 2) return alim_error_set(err, ALIM_EINVAL, "context", "must be >= 2");
    return ALIM_OK;
}

alim_status lab_read_manifest(const char *data_dir, const char *theta0_model, const char *real_hint, cJSON **man, int *real,
                              alim_error *err)
{
    char p[4200];
    alim_status st = alim_json_read_file(alim_lab_path(data_dir, "manifest.json", p, sizeof p), man, err);
    if (st) {
        if (st == ALIM_EIO) st = alim_error_set(err, ALIM_EINVAL, data_dir, "not a data directory (no readable manifest.json; make one with alim_datadir_synthetic)");
        return st;
    }
    const cJSON *fmtj = cJSON_GetObjectItemCaseSensitive(*man, "format");
    *real = cJSON_IsString(fmtj) && !strcmp(fmtj->valuestring, "alim-behaviour-data/1");
    if (*real && !theta0_model)
        return alim_error_set(err, ALIM_EINVAL, data_dir, "behaviour data (alim data behaviours) go with a pretrained theta0 model: %s", real_hint);
    if (!*real && theta0_model)
        return alim_error_set(err, ALIM_EINVAL, data_dir, "a pretrained theta0 (%s) needs the chat data of alim_behaviours_build", theta0_model);
    return ALIM_OK;
}

alim_status lab_write_docs(const alim_corpus *c, size_t from, size_t n, const char *path, alim_error *err)
{
    alim_corpus s = {0};
    alim_status st = ALIM_OK;
    for (size_t d = from; d < from + n && !st; d++) {
        size_t len;
        const uint8_t *p = alim_corpus_doc(c, d, &len);
        st = alim_corpus_add(&s, p, len, err);
    }
    if (!st) st = alim_corpus_write(&s, path, err);
    alim_corpus_free(&s);
    return st;
}

void lab_train_options(alim_train_options *o, const alim_lab_base *b, alim_precision p)
{
    alim_train_options_default(o);
    o->model.n_layer = b->n_layer;
    o->model.n_embd = b->n_embd;
    o->model.n_head = b->n_head;
    o->model.n_positions = b->context;
    o->context = b->context;
    o->tokenizer = "byte";
    o->clip = 1.0;
    o->precision = p;
}

void lab_pretrain_options(alim_train_options *o, const alim_lab_base *b, alim_precision p, const char *const *data, const char *out_dir,
                          uint64_t seed)
{
    lab_train_options(o, b, p);
    o->data = data;
    o->n_data = 1;
    o->format = ALIM_DATA_TEXT;
    o->out_dir = out_dir;
    o->tokens = b->pretrain_tokens;
    o->batch = b->pretrain_batch;
    o->lr = b->pretrain_lr;
    o->min_lr = b->pretrain_min_lr;
    o->schedule = ALIM_LR_COSINE;
    o->warmup = b->pretrain_warmup;
    o->adamw.weight_decay = (float)b->pretrain_weight_decay;
    o->seed = seed;
}

void lab_sft_options(alim_train_options *o, int batch, double lr)
{
    o->epochs = 1;
    o->batch = batch;
    o->lr = lr;
    o->schedule = ALIM_LR_CONSTANT;
    o->adamw.weight_decay = 0;
}

alim_status lab_train(const alim_cell_env *env, const alim_train_options *o, alim_train_result *tr, alim_error *err)
{
    alim_status st = alim_train(o, env->progress, tr, err);
    if (st) return st;
    alim_runner_count_training(env, (double)(tr->last_step - tr->first_step) * o->batch * o->context * o->grad_accum, tr->elapsed_s);
    return ALIM_OK;
}

uint64_t lab_pass_updates(size_t n_tokens, size_t context, size_t batch)
{
    const size_t W = n_tokens > 1 ? (n_tokens - 1 + context - 1) / context : 0;
    const uint64_t total = (W + batch - 1) / batch;
    return total ? total : 1;
}

void lab_add_config_record(cJSON *summary, const cJSON *config, size_t n_seeds)
{
    char hash[17];
    alim_json_hash(config, hash);
    cJSON_AddStringToObject(summary, "config_hash", hash);
    cJSON_AddItemToObject(summary, "config", cJSON_Duplicate(config, 1));
    cJSON_AddNumberToObject(summary, "seeds", (double)n_seeds);
}

void lab_add_run_stats(cJSON *summary, size_t total, size_t run, size_t reused, double wall_s, double train_tokens_per_s)
{
    cJSON *cells = cJSON_AddObjectToObject(summary, "cells");
    cJSON_AddNumberToObject(cells, "total", (double)total);
    cJSON_AddNumberToObject(cells, "run", (double)run);
    cJSON_AddNumberToObject(cells, "reused", (double)reused);
    cJSON_AddNumberToObject(summary, "wall_s", wall_s);
    cJSON_AddNumberToObject(summary, "train_tokens_per_s", train_tokens_per_s);
}
