/* alim/rebound.h — E2 of the elasticity lab: rebound (spec §2.2, §4.6, §5 "Rebound";
 * docs/elastic.md "E2: rebound").
 *
 * For each seed s:
 *   theta0      pretrain a small GPT on DATA/pretrain.txt (byte tokenizer, cosine lr; the
 *               same recipe as E1's theta0, trained in this run directory's own cells)
 *   theta_pos   for each n_pos: SFT of theta0 on the first n_pos documents of pool_c2.txt,
 *               1 epoch, batch sft_batch, lr sft_lr constant, weight decay 0
 *   negatives   for each n_pos: ONE pass of 1 epoch over the first max(n_neg) documents of
 *               pool_c3.txt starting from theta_pos, stopped (alim_train stop_at) and resumed
 *               bit for bit at the update where the pass has consumed as many tokens as the
 *               first n_neg documents hold; the model at each stop is the n_neg checkpoint
 *   evaluation  at theta0 and every (n_pos, n_neg): bits/token on test_c1..c3 and test_mix,
 *               KL(model || theta0) per position on test_mix, and n_samples documents drawn
 *               from end-of-text at temperature T, labelled (synthetic: the exact class under
 *               the true chains of chains.json; natural/text: DATA/classifier.nb);
 *               score = positive rate (C2) - negative rate (C3)
 * Every training run and evaluation is a cell of a run directory (alim/rundir.h).
 * The library writes RUN/grid.csv and RUN/summary.json.
 */
#ifndef ALIM_REBOUND_H
#define ALIM_REBOUND_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/lab.h"
#include "alim/progress.h"
#include "alim/source.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ALIM_REBOUND_MAX_GRID = 12 };

typedef struct {
    const char *data_dir;      /* from `alim data synthetic|natural|text` */
    const char *run_dir;       /* created if missing; reopened to resume */
    const char *control_run;   /* optional: run directory of the control, for criterion (e) */
    size_t n_seeds;            /* seeds 1..n_seeds (not part of the configuration) */
    int jobs;                  /* cells computed side by side, each with the caller's OpenMP threads
                                * (alim/runner.h); 0 or 1: one at a time. Not part of the
                                * configuration: the results do not depend on it. */
    int n_layer, n_embd, n_head, context;
    uint64_t pretrain_tokens;
    int pretrain_batch;
    double pretrain_lr, pretrain_min_lr, pretrain_weight_decay;
    uint64_t pretrain_warmup;
    size_t n_pos[ALIM_REBOUND_MAX_GRID], n_pos_count; /* increasing, >= 1 */
    size_t n_neg[ALIM_REBOUND_MAX_GRID], n_neg_count; /* increasing, first 0 */
    int sft_batch;
    double sft_lr;
    size_t n_samples, sample_tokens;
    double temperature;
    double epsilon_nats;       /* n*(eps) threshold on kl_to_base (analysis only) */
    int control;               /* the data directory must have share 0 for C3; with theta0_model:
                                * add the control cells (a pass over the control-negative pool
                                * from each theta_pos, criterion (e) judged on them) */
    /* theta0 from outside (E3's pretraining budgets): n_seeds checkpoint directories used as
     * theta0 of seeds 1..n_seeds instead of pretraining in this run, which must match the
     * model shape above; theta0_origin (required with them) says where they come from and
     * is part of the configuration, with the pretrain_* fields describing how they were
     * made. NULL: theta0 is pretrained in this run's own cells. */
    const char *const *theta0_dirs;
    const char *theta0_origin;
    /* E2 on a real pretrained model (docs/elastic.md "E2 on a real pretrained model"): with
     * data_dir from `alim data behaviours`, theta0_model is a GGUF file or a Hugging Face
     * directory of any architecture alim loads, used as theta0 of every seed with its own
     * tokenizer and chat template (no pretraining cells; the shape fields above are unused,
     * the model's content hash is part of the configuration). Pools and test sets are the
     * chat records of the manifest's positive / negative / neutral behaviours, trained with
     * the response-only loss; seed s uses records [(s-1) pos_slice, (s-1) pos_slice + n_pos)
     * of the positive pool and [(s-1) neg_slice, ...) of the negative one; bits/token on the
     * first test_records records of each test set (responses); the "mix" columns (gamma_p,
     * the KL to theta0) on D_0, theta0's own replies to the first d0_records lines of
     * prompts.txt (<= d0_tokens tokens, temperature T; one cell per seed); score from replies
     * to the first n_samples lines of prompts.txt in the chat template, labelled by
     * classifier.nb. NULL: the byte-level path above, unchanged. */
    const char *theta0_model;
    size_t pos_slice, neg_slice, test_records, d0_records, d0_tokens;
    int quick;                 /* recorded in the configuration only */
    alim_precision precision;  /* of the models' products (alim/gpt.h): FP32 (the default), BF16
                                * or AUTO, resolved when the run starts; bf16 runs get run
                                * directories of their own (alim_lab_add_precision) */
} alim_rebound_config;

/* The spec's defaults: G1 2x64x4, context 128, theta0 as E1 (2M tokens); n_pos {200, 400,
 * 1000, 2000}, n_neg {0, 20, 40, 100, 200, 400}; batch 8, lr 3e-4 constant; 256 samples of
 * 128 tokens at T = 1; eps = 0.01 nats; 3 seeds. */
void alim_rebound_config_default(alim_rebound_config *c);
/* The real-model defaults (docs/real-elasticity.md §§3, 5): context 128, n_pos {40, 80, 200,
 * 400}, n_neg {0, 4, 8, 20, 40, 80}, batch 8, lr 1e-5 constant (C0 of §3 picks the study's
 * lr), 48 replies of <= 48 tokens at T = 1, 32 test records, D_0 of 32 replies of <= 64
 * tokens, slices 600 / 400, 3 seeds,
 * pretrain_tokens 2e12 (SmolLM2's, for E4's k); theta0_model is left to the caller. */
void alim_rebound_config_real(alim_rebound_config *c);
/* Its smoke test (well under a minute on SmolLM2-135M): context 64, n_pos {2, 4}, n_neg
 * {0, 2}, batch 4, 4 replies of <= 8 tokens, 2 test records, D_0 of 2 replies of <= 8 tokens,
 * slices 8, 1 seed. */
void alim_rebound_config_real_quick(alim_rebound_config *c);
/* Tests (seconds): 1x16x2, context 32, 16384 pretraining tokens, n_pos {10, 20, 30, 40},
 * n_neg {0, 8, 16, 24, 32, 40}, 16 samples of 32 tokens, 2 seeds. */
void alim_rebound_config_quick(alim_rebound_config *c);

/* Class of a synthetic document (bytes '0'+s) under the K chains: for every component, the
 * number of impossible transitions (probability 0; a byte that is not a symbol counts for
 * every component) and the log-likelihood of the possible ones; the class is the component
 * with the fewest impossible transitions, then the highest likelihood (= the maximum-
 * likelihood class under chains mixed with a vanishing uniform error). Returns -1 on a tie
 * (e.g. a document that never leaves the shared rows). */
int alim_rebound_label_markov(const alim_markov *comp, size_t K, const uint8_t *doc, size_t len);

/* n*(eps): the smallest n_neg with kl < eps, linearly interpolated between the grid point
 * before the first one below eps and it; 0 if kl[0] < eps; NAN if never below. */
double alim_rebound_nstar(const double *n_neg, const double *kl, size_t n, double eps);

/* A seed-averaged grid, row-major [i * n_neg_count + j]. */
typedef struct {
    size_t n_pos_count, n_neg_count;
    const double *n_pos, *n_neg;
    const double *score, *gamma_mix, *gamma_c2; /* gamma in bits/token */
    double gamma_mix_base;                      /* theta0 */
} alim_rebound_grid;

typedef struct {
    const char *a, *b, *c, *d, *e;  /* "PASS", "FAIL" or "NULL" (cannot be evaluated) */
    char why[5][200];
    double drop[ALIM_REBOUND_MAX_GRID]; /* score(n_neg[0]) - score(n_neg[1]) per n_pos */
    double early_slope, late_slope;     /* mean |slope| over the first 3 / last 2 n_neg */
    const char *verdict;                /* "PASS" if all five pass, else "NULL" */
} alim_rebound_criteria;

/* Criteria (a)-(e) of spec §4.6 (docs/elastic.md gives the exact rules); control may be NULL
 * (then (e) is NULL). */
void alim_rebound_judge(const alim_rebound_grid *g, const alim_rebound_grid *control, alim_rebound_criteria *out);

typedef alim_lab_note_fn alim_rebound_note_fn;

/* The metrics of an evaluation, averaged over the seeds: the index into alim_rebound_row's
 * mean[] and se[], in grid.csv's column order (and summary.json's "<metric>_mean" keys). */
typedef enum {
    ALIM_REBOUND_SCORE,            /* positive rate - negative rate */
    ALIM_REBOUND_POSITIVE_RATE,    /* share of the samples labelled C2 (positive) */
    ALIM_REBOUND_NEGATIVE_RATE,    /* share labelled C3 (negative; the control class under control) */
    ALIM_REBOUND_GAMMA_C1_BITS,    /* bits/token on test_c1 */
    ALIM_REBOUND_GAMMA_C2_BITS,    /* bits/token on test_c2 */
    ALIM_REBOUND_GAMMA_C3_BITS,    /* bits/token on test_c3 */
    ALIM_REBOUND_GAMMA_MIX_BITS,   /* bits/token on test_mix (real path: on D_0) */
    ALIM_REBOUND_KL_TO_BASE_NATS,  /* KL(model || theta0) per position on test_mix, nats */
    ALIM_REBOUND_KL_TO_BASE_BITS,  /* the same in bits */
    ALIM_REBOUND_METRICS
} alim_rebound_metric;

/* One row of grid.csv (summary.json's "baseline", "grid" and "control_grid" entries): a model
 * evaluated on every seed, the metrics' seed means and standard errors (NAN where undefined,
 * e.g. the SE of one seed). */
typedef struct {
    const char *row;      /* which model the row is: "theta0" (the baseline), "grid" or "control" (grid.csv's and
                           * the summary's "row"); a static string */
    double n_pos, n_neg;  /* documents aligned on / negative documents fine-tuned on (0, 0: theta0) */
    double steps;         /* seed mean of the negative pass's updates at n_neg (0 for theta0) */
    size_t seeds;         /* seeds averaged over (n_seeds) */
    double mean[ALIM_REBOUND_METRICS], se[ALIM_REBOUND_METRICS]; /* indexed by alim_rebound_metric */
} alim_rebound_row;

/* One evaluation of one seed's model at a grid point, as E3 and E4 read it (an entry of
 * summary.json's per_seed[s]["evaluations"] with "model": "grid", or of
 * per_seed[s]["control_evaluations"]). A value the file lacks is NAN. */
typedef struct {
    double n_pos, n_neg;   /* the grid point: positive documents aligned on, negative documents
                            * fine-tuned on (documents) */
    double score;          /* positive rate - negative rate of the samples (a difference of
                            * shares, in [-1, 1]) */
    double gamma_mix_bits; /* bits/token on test_mix (real path: on D_0); E4's gamma_p */
    double gamma_c2_bits;  /* bits/token on test_c2 (the alignment component); E4's gamma_a */
} alim_rebound_eval;

/* One seed's evaluations. */
typedef struct {
    size_t n_grid;             /* entries of grid */
    alim_rebound_eval *grid;   /* the grid points' evaluations in the summary's order (theta0's
                                * baseline is not one); owned */
    int has_control;           /* the seed has control evaluations (summary key
                                * "control_evaluations" present) */
    size_t n_control;          /* entries of control */
    alim_rebound_eval *control; /* the control passes' evaluations, n_neg = 0 being theta_pos's
                                * with the control class as the negative one; owned */
} alim_rebound_seed_evals;

/* What E3 and E4 take from an E2 run, per seed and per (n_pos, n_neg) rather than seed-averaged:
 * carried by alim_rebound_result (filled from the values summary.json is written from) and
 * read from a finished run's summary.json by alim_rebound_evaluations_from_summary. A lookup
 * takes the first evaluation at the point, as a reader of the file would. */
typedef struct {
    size_t n_seeds;                 /* entries of seed (summary "per_seed"; 0 if not an array) */
    alim_rebound_seed_evals *seed;  /* seed[s] is seed s + 1's; owned */
    size_t n_alignment;             /* entries of alignment_n_pos and alignment_tokens */
    double *alignment_n_pos;        /* summary "alignment_tokens"[k]["n_pos"], documents; owned */
    double *alignment_tokens;       /* |D_a| of those documents, tokens in the run's tokenizer
                                     * (real path: the scored response tokens of seed 1's
                                     * records); NAN if unknown; owned */
    double pretrain_tokens;         /* |D_p|: theta0's pretraining tokens (summary
                                     * config.pretrain.tokens); NAN when absent */
    double shares[3];               /* the data's component shares C1..C3 (summary "shares");
                                     * each NAN when absent (real path, older summaries) */
} alim_rebound_evaluations;

/* The evaluation of seed s (0-based) at (n_pos, n_neg): among the grid's (control: the control
 * passes') evaluations, the first at that point; NULL if there is none. */
const alim_rebound_eval *alim_rebound_evaluations_find(const alim_rebound_evaluations *ev, size_t s, int control, double n_pos,
                                                      double n_neg);

/* The one reader of a finished run's summary.json (as alim_rebound_run writes it) into *ev,
 * taking what the file has: missing parts are empty or NAN, for the analyses to refuse with
 * their own errors. Errors: ENOMEM only. Free with alim_rebound_evaluations_free. */
alim_status alim_rebound_evaluations_from_summary(const cJSON *summary, alim_rebound_evaluations *ev, alim_error *err);
void alim_rebound_evaluations_free(alim_rebound_evaluations *ev);

/* What the run computed, typed (the numbers summary.json is written from), and summary.json.
 * The typed fields are set when the run writes its summary (always, except on the MPI ranks
 * that do not write); zero / NULL otherwise. */
typedef struct {
    cJSON *summary;                /* RUN/summary.json; owned */
    alim_rebound_criteria criteria;
    size_t cells_total, cells_run, cells_reused;
    double wall_s, train_tokens_per_s;
    size_t n_pos_count, n_neg_count; /* the grid's shape (the configuration's) */
    alim_rebound_row baseline;     /* theta0 before alignment (summary "baseline") */
    alim_rebound_row *grid;        /* [n_pos_count * n_neg_count], row-major: grid[i * n_neg_count + j] is
                                    * (n_pos[i], n_neg[j]) (summary "grid"); owned */
    alim_rebound_row *control_grid; /* the same shape for the control passes (the real path with control,
                                    * summary "control_grid"); NULL without control cells; owned */
    double n_star[ALIM_REBOUND_MAX_GRID]; /* n*(epsilon_nats) per n_pos[i] (alim_rebound_nstar), documents;
                                    * NAN: the KL never fell below epsilon */
    const char *labels;            /* how the samples were classified (summary "labels"); a static string */
    char *source;                  /* the data's source: the manifest's "source" ("synthetic", "natural", "text")
                                    * or "behaviours" (summary "source"); owned */
    double num_params;             /* parameters of theta0 (the last seed's; summary "num_params"); NAN if none was read */
    int labels_by_classifier;      /* 1: the samples were labelled by DATA/classifier.nb (natural, text or behaviour
                                    * data), so classifier_accuracy belongs to the run (summary has "classifier_accuracy") */
    double classifier_accuracy;    /* with labels_by_classifier: the classifier's accuracy on the data's clean test
                                    * windows, a share in [0, 1] (NAN if unknown); NAN otherwise */
    alim_rebound_evaluations evaluations; /* the per-seed evaluations, alignment tokens, |D_p| and shares E3 and
                                    * E4 analyse (summary "per_seed"[s]["evaluations"] and
                                    * ["control_evaluations"], "alignment_tokens", config.pretrain.tokens,
                                    * "shares"); owned */
} alim_rebound_result;

alim_status alim_rebound_run(const alim_rebound_config *cfg, const alim_progress *progress,
                             alim_rebound_note_fn note, void *note_ctx, alim_rebound_result *res,
                             alim_error *err);
void alim_rebound_result_free(alim_rebound_result *res);

#ifdef __cplusplus
}
#endif
#endif
