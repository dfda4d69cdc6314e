/* alim/scale.h — E3 of the elasticity lab: rebound versus model size and versus pretraining
 * tokens (spec §4.7; docs/elastic.md "E3").
 *
 * Two parts, each a set of E2 rebound runs (alim/rebound.h) in sub-directories of RUN:
 *   size     one rebound run per model shape (default G0 1x32x2, G1 2x64x4, G2 4x128x4), each
 *            pretrained on the same D_p with the same budget:           RUN/size-<L>x<d>x<h>/
 *   tokens   one pretraining run per seed of the budget model (G1) at constant lr after
 *            warm-up, stopped and resumed bit for bit at each budget (default 0.25M, 0.5M,
 *            1M, 2M, 4M tokens; a cell of RUN), and one rebound run per budget that starts
 *            from those checkpoints:                                      RUN/tokens-<N>/
 * Metrics per level and seed, at the largest n_pos:
 *   R     = (score(0) - score(n1)) / n1, the rebound rate over the first n1 = n_neg[1]
 *           negative documents
 *   E_hat = the elasticity coefficient of alim/coefficient.h on the n_neg in (0, max_l_neg]
 * Success (spec): R and E_hat rise with size and with tokens, Spearman rho > 0 over the
 * (level, seed) pairs. Null: no monotone trend.
 */
#ifndef ALIM_SCALE_H
#define ALIM_SCALE_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/progress.h"
#include "alim/rebound.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ALIM_SCALE_MAX_LEVELS = 8 };

typedef struct {
    const char *data_dir, *run_dir;
    size_t n_seeds;                          /* not part of the configuration */
    int jobs;                                /* cells side by side in every sub-run (alim/runner.h);
                                              * 0 or 1: one at a time; not part of the configuration */
    int do_size, do_tokens;                  /* which parts to run (default both) */
    /* the model-size part */
    size_t n_sizes;
    int layers[ALIM_SCALE_MAX_LEVELS], dim[ALIM_SCALE_MAX_LEVELS], heads[ALIM_SCALE_MAX_LEVELS];
    uint64_t size_pretrain_tokens;
    size_t size_n_pos[ALIM_REBOUND_MAX_GRID], size_n_pos_count;
    size_t size_n_neg[ALIM_REBOUND_MAX_GRID], size_n_neg_count;
    /* the pretraining-token part (model: layers/dim/heads[budget_model]) */
    size_t budget_model;
    size_t n_budgets;
    uint64_t budgets[ALIM_SCALE_MAX_LEVELS]; /* increasing, tokens */
    double budget_lr;                        /* constant after warm-up */
    size_t tok_n_pos[ALIM_REBOUND_MAX_GRID], tok_n_pos_count;
    size_t tok_n_neg[ALIM_REBOUND_MAX_GRID], tok_n_neg_count;
    /* shared */
    int context, pretrain_batch;
    uint64_t pretrain_warmup;
    size_t max_l_neg;                        /* E_hat uses 0 < n_neg <= max_l_neg */
    size_t n_samples, sample_tokens;
    int quick;
    alim_precision precision;                /* of every model (alim/gpt.h; as E2's) */
} alim_scale_config;

/* The spec's defaults: sizes G0, G1, G2 with 2M pretraining tokens (cosine, as E1/E2), n_pos
 * {400, 2000}, n_neg {0, 20, 40, 100, 400}; budgets 0.25M..4M of G1 at lr 1e-3 constant after
 * 200 warm-up steps, n_pos {2000}, n_neg {0, 20, 40, 100}; E_hat on n_neg <= 100; 3 seeds. */
void alim_scale_config_default(alim_scale_config *c);
/* Tests (seconds): sizes 1x8x2 and 1x16x2, context 32, budgets 4096, 8192, 16384. */
void alim_scale_config_quick(alim_scale_config *c);

/* The configuration as the run directory records it (every field that changes a result;
 * not the seeds, not the directories), caller frees; NULL on OOM. A cache key for callers
 * that keep several E3 runs (the report). */
cJSON *alim_scale_config_json(const alim_scale_config *c);

/* One level of a part (a model shape or a pretraining budget) at the largest n_pos; the same
 * numbers as the level's entry of summary.json's "levels". */
typedef struct {
    char name[64];        /* "LxDxH" (size) or the pretraining tokens as "%.0f" (tokens)         */
    double value;         /* the level's scale: parameters (size) or pretraining tokens (tokens) */
    double params;        /* parameters of the level's model                                     */
    double k;             /* |D_p| / |D_a| (tokens / tokens)                                     */
    double R_mean, R_se;  /* rebound rate R (score per negative document): mean over seeds and
                           * its standard error (NAN with one seed)                              */
    double e_hat;         /* E_hat on the seed means (alim/coefficient.h)                        */
    double e_lo, e_hi;    /* its 95% bootstrap interval over seeds (NAN with one seed)           */
    double oracle_e_hat;  /* the count-weighted learner's E_hat at the same k and l (NAN: the
                           * data has no shares or the oracle is undefined)                      */
    double *R;            /* per seed (n_seeds entries, seed s+1 at [s]): R; owned               */
    double *e_hat_seed;   /* per seed: E_hat of that seed's changes alone (NAN: no fit); owned   */
} alim_scale_level;

/* One part (size or tokens): its levels in increasing scale and the trend over them. */
typedef struct {
    size_t n_levels;                              /* 0: the part did not run                  */
    alim_scale_level levels[ALIM_SCALE_MAX_LEVELS];
    double rho_R, rho_e_hat;                      /* Spearman rho of (level index, per-seed R
                                                   * or E_hat) over levels x seeds; NAN when
                                                   * undefined                                */
} alim_scale_part;

enum { ALIM_SCALE_N_CRITERIA = 4 };

/* One criterion of docs/elastic.md "E3": rho > 0 for one metric of one part. */
typedef struct {
    const char *name;     /* "size_R", "size_e_hat", "tokens_R" or "tokens_e_hat" (static)  */
    const char *result;   /* "PASS" (rho > 0), "FAIL" (rho <= 0), "NULL" (rho NAN) (static) */
    double spearman;      /* the rho judged                                                  */
} alim_scale_criterion;

/* Under MPI a rank other than 0 gets cells_run and cells_reused only (summary NULL, no parts,
 * no criteria, verdict NULL). */
typedef struct {
    cJSON *summary;       /* RUN/summary.json; owned                                        */
    const char *verdict;  /* "PASS" (every criterion PASS) or "NULL"; static                */
    size_t cells_run, cells_reused;
    double wall_s;
    char *source;         /* the data's source, the manifest's "source" ("synthetic", "natural",
                           * "text"; summary "source"); NULL when the manifest has none; owned */
    size_t n_seeds;       /* per-seed entries of every level                                 */
    alim_scale_part size, tokens;   /* the two parts (n_levels 0 when not run)               */
    size_t n_criteria;    /* those of the parts that ran, in the order of the names above   */
    alim_scale_criterion criteria[ALIM_SCALE_N_CRITERIA];
} alim_scale_result;

/* Writes RUN/scale.csv (one row per part, level and seed), RUN/levels.csv (seed means) and
 * RUN/summary.json (rho per part and metric, criteria, verdict), and returns the same numbers
 * in res (free with alim_scale_result_free; on an error res holds nothing to free). Resumable
 * like E2. */
alim_status alim_scale_run(const alim_scale_config *cfg, const alim_progress *progress, alim_rebound_note_fn note,
                           void *note_ctx, alim_scale_result *res, alim_error *err);
void alim_scale_result_free(alim_scale_result *res);

#ifdef __cplusplus
}
#endif
#endif
