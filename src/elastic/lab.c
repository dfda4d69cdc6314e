/* lab.c — helpers shared by the elasticity experiments (see alim/lab.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
