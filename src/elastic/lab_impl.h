/* lab_impl.h — helpers that E1 (resist*.c) and E2 (rebound*.c) share, private to src/elastic
 * (defined in lab.c; the public ones are alim/lab.h's). */
#ifndef ALIM_LAB_IMPL_H
#define ALIM_LAB_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/corpus.h"
#include "alim/gpt.h"
#include "alim/lab.h"
#include "alim/lm_train.h"
#include "alim/runner.h"
#include "alim/status.h"

/* the model and pretraining part of an experiment's configuration c (any config struct with
 * the fields of alim_lab_base) */
#define LAB_BASE_OF(c)                                                                                                          \
    ((alim_lab_base){(c)->n_layer, (c)->n_embd, (c)->n_head, (c)->context, (c)->pretrain_tokens, (c)->pretrain_batch,      \
                     (c)->pretrain_lr, (c)->pretrain_min_lr, (c)->pretrain_weight_decay, (c)->pretrain_warmup})

/* The lab's model and theta0's pretraining: by default the spec's G1 (2x64x4, context 128)
 * pretrained on 2M tokens (batch 16, cosine lr 1e-3 -> 1e-4, warm-up 200, weight decay 0.1);
 * quick (the tests'): 1x16x2, context 32, 16384 tokens, warm-up 4. */
extern const alim_lab_base lab_base_default, lab_base_quick;
/* c's model and pretraining fields = those of b (an alim_lab_base) */
#define LAB_SET_BASE(c, b)                                                                                                      \
    do {                                                                                                                        \
        (c)->n_layer = (b).n_layer, (c)->n_embd = (b).n_embd, (c)->n_head = (b).n_head, (c)->context = (b).context;             \
        (c)->pretrain_tokens = (b).pretrain_tokens, (c)->pretrain_batch = (b).pretrain_batch;                                   \
        (c)->pretrain_lr = (b).pretrain_lr, (c)->pretrain_min_lr = (b).pretrain_min_lr;                                         \
        (c)->pretrain_weight_decay = (b).pretrain_weight_decay, (c)->pretrain_warmup = (b).pretrain_warmup;                     \
    } while (0)

/* a cell's one-line note through x->note (x: any context with note and note_ctx) */
#define lab_notef(x, ...) alim_lab_note((x)->note, (x)->note_ctx, __VA_ARGS__)
/* a note's word for a cell computed now or read back */
#define LAB_DONE(reused) ((reused) ? "reused" : "done")

/* The checks every experiment's configuration starts with: data and run directories given,
 * 1..1000 seeds, context >= 2. */
alim_status lab_check_run(const char *data_dir, const char *run_dir, size_t n_seeds, int context, alim_error *err);

/* Reads DATA/manifest.json into *man and tells whether it is behaviour data (the real-model
 * path, *real), which goes with a pretrained theta0 (theta0_model) and only with one;
 * real_hint names the command that takes them (in the error). */
alim_status lab_read_manifest(const char *data_dir, const char *theta0_model, const char *real_hint, cJSON **man, int *real,
                              alim_error *err);

/* Writes documents [from, from + n) of c to path in the corpus format. */
alim_status lab_write_docs(const alim_corpus *c, size_t from, size_t n, const char *path, alim_error *err);

/* Training options of a model of b's shape with the byte tokenizer, clip 1, precision p. */
void lab_train_options(alim_train_options *o, const alim_lab_base *b, alim_precision p);
/* ... and theta0's pretraining on data[0] (text) into out_dir: b's tokens, batch, cosine lr
 * with warm-up, weight decay; seed. */
void lab_pretrain_options(alim_train_options *o, const alim_lab_base *b, alim_precision p, const char *const *data, const char *out_dir,
                          uint64_t seed);
/* The SFT recipe on top: one epoch, batch, lr constant, weight decay 0. */
void lab_sft_options(alim_train_options *o, int batch, double lr);

/* alim_train, its tokens and seconds counted for the runner's statistics. */
alim_status lab_train(const alim_cell_env *env, const alim_train_options *o, alim_train_result *tr, alim_error *err);

/* The updates of one pass over a stream of n_tokens tokens: its windows of context tokens
 * (the loader's), batch windows an update; at least 1. */
uint64_t lab_pass_updates(size_t n_tokens, size_t context, size_t batch);

/* summary["config_hash"], ["config"] (a copy of config) and ["seeds"] */
void lab_add_config_record(cJSON *summary, const cJSON *config, size_t n_seeds);
/* summary["cells"] {total, run, reused}, summary["wall_s"] and ["train_tokens_per_s"] */
void lab_add_run_stats(cJSON *summary, size_t total, size_t run, size_t reused, double wall_s, double train_tokens_per_s);

#endif
