/* alim/lab.h — small helpers shared by the elasticity experiments (E1-E4). */
#ifndef ALIM_LAB_H
#define ALIM_LAB_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/gpt.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic wall clock in seconds. */
double alim_lab_now(void);
/* obj[key] as a number read by alim/io.h's convention ("inf", "-inf"; null is NAN), NAN if
 * missing or not a number. */
double alim_lab_json_num(const cJSON *obj, const char *key);
/* Mean and standard error of x[0..n) (NAN when undefined: mean for n = 0, SE for n < 2). */
void alim_lab_mean_se(const double *x, size_t n, double *mean, double *se);

/* Spearman's rank correlation of (x[i], y[i]), ties given their mean rank (the Pearson
 * correlation of the ranks); NAN for n < 2 or when either side is constant. */
double alim_lab_spearman(const double *x, const double *y, size_t n);

/* Writes v as indented JSON (plus a newline) to path atomically; non-finite numbers as
 * alim/io.h's convention says. */
alim_status alim_lab_write_json(const char *path, const cJSON *v, alim_error *err);

/* obj[key] = v; +-inf as the strings "inf"/"-inf", NaN as null (alim/io.h). */
void alim_lab_add_num(cJSON *obj, const char *key, double v);
/* "a/b" into buf (n bytes); an empty string when it does not fit (so opening it fails). */
char *alim_lab_path(const char *a, const char *b, char *buf, size_t n);
/* Copies the model files of checkpoint from_dir (config.json, model.safetensors, vocab.json,
 * merges.txt; not the optimizer state) into to_dir, created if missing; atomic per file. */
alim_status alim_lab_copy_model(const char *from_dir, const char *to_dir, alim_error *err);

/* A progress note of an experiment (one line, no newline), e.g. "s1-theta0: done, ...". */
typedef void (*alim_lab_note_fn)(void *ctx, const char *line);
/* printf-style note through fn (nothing when fn is NULL). */
void alim_lab_note(alim_lab_note_fn fn, void *ctx, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The part of an experiment's configuration every experiment shares: the model and the
 * pretraining of theta0 (added as objects "model" and "pretrain" of cfg). */
typedef struct {
    int n_layer, n_embd, n_head, context;
    uint64_t pretrain_tokens;
    int pretrain_batch;
    double pretrain_lr, pretrain_min_lr, pretrain_weight_decay;
    uint64_t pretrain_warmup;
} alim_lab_base;
void alim_lab_add_base_config(cJSON *cfg, const alim_lab_base *b);
/* The precision of the products (alim/gpt.h), resolved: bf16 adds "precision" and
 * "bf16_isa" to cfg (bf16 bits depend on the ISA's kernels, so a cached bf16 cell from
 * another kind of CPU is not reused); fp32 adds nothing, so fp32 runs keep the run
 * directories they had before bf16 existed. */
void alim_lab_add_precision(cJSON *cfg, alim_precision p);

#ifdef __cplusplus
}
#endif
#endif
