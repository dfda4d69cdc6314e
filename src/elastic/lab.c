/* lab.c — helpers shared by the elasticity experiments (see alim/lab.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/lab.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alim/checkpoint.h"
#include "alim/io.h"

double alim_lab_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double alim_lab_json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
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
    char *text = cJSON_Print(v);
    if (!text) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    const size_t n = strlen(text);
    text[n] = '\n'; /* cJSON_Print's buffer has room for the NUL it replaces */
    alim_status st = alim_file_write_atomic(path, text, n + 1, err);
    free(text);
    return st;
}

void alim_lab_add_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
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

const cJSON *alim_lab_find_eval(const cJSON *evals, double n_pos, double n_neg)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, evals) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "model");
        if (cJSON_IsString(m) && !strcmp(m->valuestring, "grid") && alim_lab_json_num(e, "n_pos") == n_pos &&
            alim_lab_json_num(e, "n_neg") == n_neg)
            return e;
    }
    return NULL;
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
