/* alim/lm_train.h — the training loop: data, model, AdamW, logging, checkpoints, resume.
 *
 * One update ("step") = grad_accum micro-batches of B windows of T+1 tokens (alim_loader),
 * gradients averaged over them, clipped to a global norm, then one AdamW update at the
 * scheduled learning rate. Every step appends a line to the log (CSV with a header, or
 * JSON Lines if the log name ends in ".jsonl"):
 *   step,loss,lr,grad_norm,tokens,tokens_per_s,elapsed_s,eval_loss
 * (loss = mean cross-entropy in nats of the step's batches before the update; eval_loss is
 * empty except at evaluation steps). Checkpoints (alim/checkpoint.h) are written to
 * out_dir every save_every steps and at the end, with the optimizer state, so that
 * resume = 1 continues bit for bit as if the run had not stopped (same thread count: the
 * state records it and a resume with another count is refused).
 *
 * Under MPI (alim/dist.h, docs/mpi.md), with data_parallel set (the CLI sets it), every rank
 * calls alim_train with the same options: the ranks split each micro-batch's data-parallel
 * shards between them and sum the gradients in shard order, so the run is bit for bit the one process's with the same shard count; rank 0
 * alone locks out_dir, writes the checkpoints and the log, evaluates and reports progress,
 * and all ranks return the same status. The bits depend on the shard count alone when it is
 * set (shards, or the resumed run's; then a resume may use any ranks and threads), else on
 * the threads of all ranks together (recorded; a resume must have as many).
 *
 * Failure modes, all before anything is lost:
 * - out_dir is locked for the whole run (alim_dir_lock_acquire): a second writer is refused.
 *   So is the log, wherever log_path puts it (alim_file_lock_acquire on the file itself):
 *   two runs given one --log are refused before the second loads anything.
 * - A new run refuses an out_dir holding files it would overwrite (config.json, vocab.json,
 *   merges.txt, *.safetensors, log.csv) unless they are an alim checkpoint or log; with
 *   refuse_foreign_out, any other file refuses it (the CLI's --out).
 * - A non-finite loss or gradient norm stops the run (ALIM_ERANGE, naming the update) before
 *   the update is applied; weights are checked before every save, so a NaN model is never
 *   written and the last good checkpoint stays.
 * - Log writes are checked (a full disk is ALIM_EIO); resume cuts the log after the
 *   checkpoint's update, so rows of updates redone are not duplicated.
 * - A run that fails before its first save leaves no log.csv behind, and no out_dir if it
 *   made it.
 */
#ifndef ALIM_LM_TRAIN_H
#define ALIM_LM_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "alim/dataset.h"
#include "alim/gpt.h"
#include "alim/optim.h"
#include "alim/progress.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *const *data;      /* training files */
    size_t n_data;
    const char *const *eval_data; /* evaluation files (may be empty) */
    size_t n_eval;
    alim_data_format format;
    const char *delimiter;        /* NULL = "<|endoftext|>" */
    alim_chat_kind chat_template; /* JSONL records as chats (alim/chat.h): ALIM_CHAT_AUTO (0) = the
                                     template of the model (init_dir, out_dir on resume) or of the
                                     tokenizer directory, none if it has none; its text is copied
                                     into out_dir/chat_template.jinja at every save */
    const char *out_dir;          /* checkpoint directory (created) */
    const char *init_dir;         /* start from this checkpoint (fine-tuning); NULL = new model */
    int resume;                   /* continue from out_dir's last checkpoint */
    alim_gpt_config model;        /* shape of a new model; vocab_size 0 = the tokenizer's */
    const char *tokenizer;        /* new model: NULL or "byte" = bytes, else a directory
                                     with vocab.json + merges.txt */
    int context;                  /* T; 0 = the model's n_positions */
    uint64_t steps;               /* total updates; 0 = from tokens or epochs */
    uint64_t tokens;              /* total training tokens (if steps == 0) */
    double epochs;                /* passes over the data (if steps == tokens == 0; 0 = 1) */
    uint64_t stop_at;             /* stop after this update as if interrupted (0 = no) */
    int batch, grad_accum;
    double lr, min_lr;
    alim_lr_schedule schedule;
    uint64_t warmup;
    alim_adamw_config adamw;
    double clip;                  /* max global gradient norm; 0 = no clipping */
    uint64_t seed;                /* initialisation and data order */
    int in_order;                 /* windows in stream order, not shuffled (alim_loader) */
    uint64_t eval_every, save_every; /* 0 = only at the end */
    const char *log_path;         /* NULL = out_dir/log.csv */
    int refuse_foreign_out;       /* a new run refuses an out_dir holding anything but an alim
                                     checkpoint and its log (the CLI's policy) */
    int shards;                   /* data-parallel shards of every micro-batch, 0 = chosen from
                                     the threads (alim_gpt_shard_count; of all ranks under MPI) */
    int data_parallel;            /* 1: every rank of the MPI job (alim/dist.h) calls this with
                                     the same options and they train one model together (rank
                                     0 writes); 0: this process trains alone, MPI or not (a
                                     cell of an experiment run on one rank) */
    alim_precision precision;     /* of the matrix products (alim/gpt.h): FP32 (0, the default),
                                     BF16 or AUTO; recorded in the training state; a resume
                                     with AUTO continues in the run's precision, with another
                                     (or, in bf16, on another oneDNN ISA) it is refused */
    int no_save;                  /* 1: write no checkpoint at all, only the log (a run whose
                                     per-update losses are all that is wanted, e.g. E1's
                                     fine-tunings of a 540 MB model); it cannot be resumed */
} alim_train_options;

/* Defaults: batch 16, grad_accum 1, lr 3e-4, min_lr lr/10, constant, warmup 0,
 * AdamW (0.9, 0.95, 1e-8, wd 0.1), clip 1, seed 1, a 2-layer 64-wide 4-head model with
 * context 128. */
void alim_train_options_default(alim_train_options *o);

typedef struct {
    uint64_t first_step, last_step;   /* updates done before this run, and after it */
    uint64_t total_steps;
    double last_loss, last_eval_loss; /* eval loss NAN if none */
    double tokens_per_s;              /* of this run */
    double elapsed_s;
    size_t num_params, train_tokens;
    int shards;                       /* data-parallel shards of the training batch */
    int shards_set;                   /* 1 if set (--shards, the resumed run's, MPI's minimum),
                                         0 if chosen from the threads */
    int ranks;                        /* MPI processes that trained together (1 without MPI) */
    alim_precision precision;         /* FP32 or BF16 (AUTO resolved)                       */
} alim_train_result;

/* Runs the training. progress gets stage "step ... loss ..." with done/total = steps;
 * returning non-zero from it stops after the current step (a checkpoint is written). */
alim_status alim_train(const alim_train_options *o, const alim_progress *progress,
                       alim_train_result *res, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
