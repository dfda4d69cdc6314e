/* lab.c — helpers shared by the elasticity experiments (see alim/lab.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/lab.h"

#include <math.h>
#include <time.h>

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
