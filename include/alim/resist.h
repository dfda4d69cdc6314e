/* alim/resist.h — E1 of the elasticity lab: resistance, forward vs inverse alignment
 * (spec §2.1, §4.5; docs/elastic.md "E1: resistance").
 *
 * For each seed s:
 *   theta0   pretrain a small GPT on DATA/pretrain.txt (byte tokenizer, cosine lr)
 *   theta1..3 SFT on three consecutive slices of DATA/pool_c2.txt (each slice continues
 *            from the previous checkpoint with a fresh AdamW: moments do not carry over)
 *   D1..D3   theta_k samples n_samples documents at temperature T (synthetic source: from
 *            the end-of-text token; natural/text: continuing the first prompt_bytes bytes
 *            of the first n_samples windows of DATA/pool_c1.txt, only the continuation scored)
 *   H_k      = loss of theta_k on its own D_k (nats per scored token)
 *   for (k,l) in (1,2), (2,3), (1,3):
 *            forward = fine-tune theta_k on D_l, inverse = fine-tune theta_l on D_k,
 *            1 epoch, batch sft_batch, lr sft_lr constant, no warm-up, weight decay 0;
 *            the per-step training losses come from the training log.
 * On a real pretrained model (theta0_model with the chat data of `alim data behaviours`;
 * docs/elastic.md "E1 on a real pretrained model", docs/real-elasticity.md §4): no
 * pretraining; theta1..3 are stops of one in-order SFT pass over records 1..3n of seed s's
 * slice of the positive pool (records [(s-1) pos_slice, s pos_slice)) in the model's chat
 * template, loss on the responses; D_k = theta_k's replies to the first n_samples lines of
 * prompts.txt (at most sample_tokens new tokens, ending at the end of turn); the fine-tuning
 * runs train on D_k's records the same way and keep no weights.
 * Every training run, sample set and fine-tuning run is one cell of a run directory
 * (alim/rundir.h), so an interrupted run resumes and a finished cell is never redone.
 * The library writes RUN/curves.csv, RUN/summary.csv and RUN/summary.json.
 */
#ifndef ALIM_RESIST_H
#define ALIM_RESIST_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/lab.h"
#include "alim/progress.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *data_dir;      /* from `alim data synthetic|natural|text` */
    const char *run_dir;       /* created if missing; reopened to resume */
    size_t n_seeds;            /* seeds 1..n_seeds (not part of the run's configuration:
                                  more seeds can be added to a run directory later) */
    int jobs;                  /* cells computed side by side, each with the caller's OpenMP threads
                                * (alim/runner.h); 0 or 1: one at a time. Not part of the
                                * configuration: the results do not depend on it. */
    /* model (new, byte tokenizer) */
    int n_layer, n_embd, n_head, context;
    /* pretraining */
    uint64_t pretrain_tokens;
    int pretrain_batch;
    double pretrain_lr, pretrain_min_lr, pretrain_weight_decay;
    uint64_t pretrain_warmup;
    /* SFT and the fine-tuning runs */
    size_t sft_docs;           /* documents per slice (3 slices) */
    int sft_batch;
    double sft_lr;
    /* generated data */
    size_t n_samples;          /* documents per D_k */
    size_t sample_tokens;      /* tokens per generated document (prompt included) */
    size_t prompt_bytes;       /* natural/text sources: prompt length */
    double temperature;
    /* a real pretrained theta0 (NULL: the byte-level path above) */
    const char *theta0_model;  /* GGUF file or Hugging Face directory; data_dir then holds the
                                * chat data of `alim data behaviours` */
    size_t pos_slice;          /* positive-pool records per seed (seed s: [(s-1) slice, s slice)) */
    int quick;                 /* recorded in the configuration only */
    alim_precision precision;  /* of the models' products (alim/gpt.h): FP32 (the default), BF16
                                * or AUTO, resolved when the run starts; bf16 runs get run
                                * directories of their own (alim_lab_add_precision) */
} alim_resist_config;

/* The spec's defaults (G1 2x64x4, context 128, 2M pretraining tokens, batch 16, lr 1e-3
 * cosine to 1e-4, warm-up 200, weight decay 0.1; SFT 3 x 200 documents, batch 8, lr 3e-4;
 * 300 samples of 128 tokens, prompt 16 bytes, T = 1; 3 seeds). */
void alim_resist_config_default(alim_resist_config *c);
/* A tiny configuration for tests (seconds): 1x16x2, context 32, 16384 pretraining tokens,
 * warm-up 4, 3 x 20 SFT documents, 24 samples of 32 tokens, prompt 8 bytes, 2 seeds. */
void alim_resist_config_quick(alim_resist_config *c);

/* On a real pretrained model (docs/real-elasticity.md §4): context 128, 3 stops of 100
 * records (slices of 600 per seed), batch 8, lr 1e-5 constant, 100 replies of at most 64 new
 * tokens, T = 1, 3 seeds; theta0_model still to be set. */
void alim_resist_config_real(alim_resist_config *c);
/* Its test size (well under two minutes on SmolLM2-135M): context 64, stops of 2 records,
 * batch 4, 3 replies of at most 8 tokens, 1 seed. */
void alim_resist_config_real_quick(alim_resist_config *c);

/* One-sided exact sign test: P(X >= count) for X ~ Binomial(n, 1/2). */
double alim_sign_test_p(size_t count, size_t n);

/* The spec's criteria on the per-case gaps (forward - inverse mean training loss, nats),
 * raw and entropy-corrected (gap - (H_l - H_k)). */
typedef struct {
    size_t n;
    size_t count_raw, count_corrected;   /* cases with gap > 0 */
    double p_raw, p_corrected;           /* sign-test p-values */
    double mean_raw, se_raw, mean_corrected, se_corrected;
    int all_raw, all_corrected;          /* every case inverse < forward */
    int sig_raw, sig_corrected;          /* p <= 0.05 */
    int gap2se_raw, gap2se_corrected;    /* mean gap >= 2 SE */
    int reversed;                        /* every case the other way, mean <= -2 SE, both */
    const char *verdict;                 /* "PASS", "NULL" or "FAIL" */
    char reason[256];
} alim_resist_verdict;
void alim_resist_judge(const double *gap_raw, const double *gap_corrected, size_t n,
                       alim_resist_verdict *v);

/* Optional line-by-line notes (one per cell: run or reused), e.g. for stderr. */
typedef alim_lab_note_fn alim_resist_note_fn;

/* One fine-tuning run of a case: a model trained for one epoch on another model's samples. */
typedef struct {
    int steps;                  /* updates of the epoch (= losses in curves.csv) */
    double initial_nats;        /* training loss before the first update, nats/token (NAN: no update) */
    double mean_nats;           /* mean over the updates: the number the gap compares */
    double final_nats;          /* before the last update */
    double target_entropy_nats; /* H of the data: its sampler's loss on its own samples, nats/token */
} alim_resist_finetune;

/* One case of the sign test: the pair (k, l) on one seed (summary.json's "pairs" entry,
 * summary.csv's row). */
typedef struct {
    char pair[8];                  /* "k-l", e.g. "1-2" */
    int k, l;                      /* theta_k is the less aligned of the two (1 <= k < l <= 3) */
    size_t seed;                   /* 1-based */
    alim_resist_finetune forward;  /* theta_k fine-tuned on D_l */
    alim_resist_finetune inverse;  /* theta_l fine-tuned on D_k */
    double gap_nats;               /* forward.mean_nats - inverse.mean_nats: > 0 when the inverse is easier */
    double gap_corrected_nats;     /* (forward.mean_nats - H_l) - (inverse.mean_nats - H_k), H the targets' entropies */
    int inverse_lower;             /* gap_nats > 0 */
    int inverse_lower_corrected;   /* gap_corrected_nats > 0 */
} alim_resist_case;

/* What the run computed, typed (the numbers summary.json and summary.csv are written from),
 * and summary.json. The typed fields are set when the run writes its summary (always, except
 * on the MPI ranks that do not write); zero / NULL otherwise. */
typedef struct {
    cJSON *summary;            /* the summary object (also RUN/summary.json); owned */
    alim_resist_verdict verdict;
    size_t cells_total, cells_run, cells_reused;
    double wall_s;
    double train_tokens_per_s; /* training runs of this invocation (0 if none ran) */
    double num_params;         /* parameters of theta0 (the last seed's; NAN if none was read) */
    char *source;              /* the data's source: the manifest's "source" ("synthetic", "natural", "text")
                                * or "behaviours" (summary "source"); owned */
    alim_resist_case *cases;   /* [n_cases]: seed by seed, pairs (1,2), (2,3), (1,3) within a seed; owned */
    size_t n_cases;            /* 3 x n_seeds */
} alim_resist_result;

alim_status alim_resist_run(const alim_resist_config *cfg, const alim_progress *progress,
                            alim_resist_note_fn note, void *note_ctx, alim_resist_result *res,
                            alim_error *err);
void alim_resist_result_free(alim_resist_result *res);

#ifdef __cplusplus
}
#endif
#endif
