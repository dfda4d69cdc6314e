/* alim/coefficient.h — E4 of the elasticity lab: the elasticity coefficient under SGD
 * (spec §4.8, §5 "Elasticity"; docs/elastic.md "E4").
 *
 * Start from theta_pos (SFT of theta0 on n_pos positive documents, |D_a| tokens) and perturb
 * it with n_neg negative documents, l = n_neg / n_pos. With gamma_p the bits/token on the
 * pretraining mixture (test_mix) and gamma_a on the alignment component (test_c2), and
 * Delta gamma = gamma(n_neg) - gamma(0):
 *   slope_x = sum_l l Delta gamma_x / sum_l l^2      (least squares through the origin)
 *   E_hat   = -slope_a / slope_p
 * Theorem 4.2 says slope_p < 0 < slope_a and E_hat = Theta(k), k = |D_p| / |D_a|; the count-
 * weighted learner (alim/oracle.h) gives E_hat -> k as l -> 0. The interval is a percentile
 * bootstrap over seeds (resampling whole seeds, E_hat from the resampled seed means).
 *
 * The measurements are the cells of an E2 rebound run (alim/rebound.h): either one made for
 * E4 (n_pos {200, 2000}, n_neg {0, 20, 40, 100}) or an existing E2 run whose grid holds them.
 */
#ifndef ALIM_COEFFICIENT_H
#define ALIM_COEFFICIENT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/progress.h"
#include "alim/rebound.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ALIM_COEFFICIENT_MAX_L = ALIM_REBOUND_MAX_GRID };

typedef struct {
    double k;                                   /* |D_p| / |D_a| (tokens)               */
    size_t n_l, n_seeds;
    double l[ALIM_COEFFICIENT_MAX_L];
    double dgamma_p[ALIM_COEFFICIENT_MAX_L];    /* seed means, bits/token               */
    double dgamma_a[ALIM_COEFFICIENT_MAX_L];
    double dgamma_p_se[ALIM_COEFFICIENT_MAX_L]; /* NAN with one seed                    */
    double dgamma_a_se[ALIM_COEFFICIENT_MAX_L];
    double hooke[ALIM_COEFFICIENT_MAX_L];       /* |D_a| dga / (|D_p| |dgp|) per l      */
    double slope_p, slope_a;                    /* bits per unit l, on the seed means   */
    double e_hat;                               /* -slope_a / slope_p                   */
    double e_lo, e_hi;                          /* 95% bootstrap interval (NAN: 1 seed) */
    double hooke_fit;                           /* e_hat / k                            */
    int signs_ok;                               /* slope_p < 0 < slope_a                */
} alim_coefficient_estimate;

/* Least-squares slope through the origin of y on x (NAN if sum x^2 = 0). */
double alim_coefficient_slope0(const double *x, const double *y, size_t n);

/* E_hat and its interval from per-seed changes dgp, dga (row-major (n_seeds, n_l), bits/token)
 * at perturbation sizes l (> 0). n_boot resamples (0: no interval) drawn from `seed`.
 * Errors EINVAL: n_l or n_seeds out of range, l <= 0, k <= 0, a non-finite change. */
alim_status alim_coefficient_fit(const double *l, size_t n_l, const double *dgp, const double *dga, size_t n_seeds,
                                 double k, size_t n_boot, uint64_t seed, alim_coefficient_estimate *out,
                                 alim_error *err);

/* The count-weighted learner's E_hat at the same l grid: components with disjoint supports,
 * pretraining shares q (3, summing to 1; C2 aligned, C3 perturbation), |D_p|/|D_a| = k.
 * It does not depend on the components' entropies. */
alim_status alim_coefficient_oracle(const double q[3], double k, const double *l, size_t n_l, double *e_hat,
                                    alim_error *err);

typedef struct {
    alim_rebound_config rebound; /* the runs; its n_pos are the k values, n_neg 0 + the l grid */
    const char *from_run;        /* analyse this finished E2 run (RUN/summary.json) instead   */
    size_t n_boot;               /* bootstrap resamples (default 10000)                       */
    uint64_t boot_seed;          /* default 1                                                 */
    /* with from_run only: */
    double pretrain_tokens;      /* |D_p| of a pretrained theta0 (its run does not state it;
                                  * SmolLM2-135M: 2e12); 0 = the run's own figure            */
    int control;                 /* the run's control cells (a pretrained theta0's control pass,
                                  * per_seed[].control_evaluations) instead of the main grid  */
} alim_coefficient_config;

/* Defaults: alim_rebound_config_default with n_pos {200, 2000}, n_neg {0, 20, 40, 100}. */
void alim_coefficient_config_default(alim_coefficient_config *c);
/* Tests: alim_rebound_config_quick with n_pos {10, 40}, n_neg {0, 8, 16, 24}. */
void alim_coefficient_config_quick(alim_coefficient_config *c);

enum { ALIM_COEFFICIENT_MAX_N_POS = ALIM_REBOUND_MAX_GRID, ALIM_COEFFICIENT_N_CRITERIA = 3 };

/* One criterion of docs/elastic.md "E4". */
typedef struct {
    const char *name;   /* "a_signs", "b_e_above_1" or "c_e_grows_with_k" (static)        */
    const char *result; /* "PASS", "FAIL" or "NULL" (static)                               */
    char why[200];      /* the count behind the result, e.g. "slope_p < 0 < slope_a for 2
                         * of 2 n_pos"                                                     */
} alim_coefficient_criterion;

/* The E4 analysis of a rebound run: the numbers of coefficient.json (without the per-seed
 * changes, which only the JSON holds), one row per n_pos. */
typedef struct {
    size_t n_pos_count;                                 /* rows                            */
    size_t n_pos[ALIM_COEFFICIENT_MAX_N_POS];           /* positive documents of each row  */
    double a_tokens[ALIM_COEFFICIENT_MAX_N_POS];        /* |D_a| of each row, tokens       */
    size_t n_neg[ALIM_COEFFICIENT_MAX_L];               /* the perturbation sizes (> 0),
                                                         * est[i].n_l of them, increasing  */
    alim_coefficient_estimate est[ALIM_COEFFICIENT_MAX_N_POS]; /* the fit of each row: k, l,
                                                         * mean changes and SEs, slopes,
                                                         * E_hat and interval, signs       */
    double oracle_e_hat[ALIM_COEFFICIENT_MAX_N_POS];    /* the count-weighted learner's
                                                         * E_hat at the row's k and l (NAN:
                                                         * no shares, or undefined)        */
    size_t n_criteria;                                  /* ALIM_COEFFICIENT_N_CRITERIA     */
    alim_coefficient_criterion criteria[ALIM_COEFFICIENT_N_CRITERIA];
    const char *verdict;                                /* "PASS": all criteria pass;
                                                         * "FAIL": no row has the theorem's
                                                         * signs; else "NULL" (static)     */
} alim_coefficient_analysis;

/* Under MPI a rank other than 0 gets cells_run and cells_reused only (summary NULL, analysis
 * empty, verdict NULL). */
typedef struct {
    cJSON *summary;       /* RUN/coefficient.json; owned                                   */
    const char *verdict;  /* analysis.verdict                                              */
    size_t cells_run, cells_reused;
    double pretrain_tokens;              /* |D_p| the analysis used, tokens               */
    alim_coefficient_analysis analysis;  /* the numbers of the summary, typed             */
    char *source;                        /* the data's source, the rebound summary's "source"
                                          * ("synthetic", "natural", "text", "behaviours";
                                          * summary "source"); NULL when it has none; owned */
    char *data_dir;                      /* the data directory the analysis used: the given
                                          * one, else the rebound run's (summary "data_dir");
                                          * owned                                          */
    const char *gamma_p;                 /* what gamma_p measures, in words (summary
                                          * "gamma_p"); static                             */
} alim_coefficient_result;

/* Runs (or, with from_run, reads) the rebound cells, fits E_hat per n_pos, adds the oracle's
 * prediction and the criteria (docs/elastic.md "E4"), and writes RUN/coefficient.csv (one row
 * per n_pos and l) and RUN/coefficient.json, where RUN is rebound.run_dir (created if
 * missing when from_run is given); res holds the summary and the same numbers typed. */
alim_status alim_coefficient_run(const alim_coefficient_config *cfg, const alim_progress *progress,
                                 alim_rebound_note_fn note, void *note_ctx, alim_coefficient_result *res,
                                 alim_error *err);
void alim_coefficient_result_free(alim_coefficient_result *res);

/* |D_a| in tokens for each n_pos[i]: the rebound run's alignment tokens (ev->alignment_tokens,
 * counted with the run's tokenizer; the last entry for an n_pos) when it has them all, else
 * from DATA/pool_c2.txt with the byte rule (each document's bytes plus its end-of-text token).
 * Errors: too few documents, unreadable pool. */
alim_status alim_coefficient_alignment_tokens(const alim_rebound_evaluations *ev, const char *data_dir, const size_t *n_pos,
                                              size_t n, double *a_tokens, alim_error *err);

/* The E4 analysis of a rebound run's per-seed evaluations ev (alim_rebound_result.evaluations,
 * or alim_rebound_evaluations_from_summary of its summary.json; the grid lists are analysed, so
 * a control analysis passes a view whose grid lists are the control's), without files:
 * n_pos_want/n_neg_want select the grid points (n_neg > 0 only); pretrain_tokens = |D_p|;
 * a_tokens[i] = |D_a| of n_pos_want[i] in tokens; q = the data's shares for the oracle (NULL:
 * no oracle). Fills an (n_pos_count <= ALIM_COEFFICIENT_MAX_N_POS rows) and, when out is not
 * NULL, returns the same analysis as a JSON object with the per-seed changes (caller frees).
 * Errors: no seeds or more than 1000 (EFORMAT), a point some seed lacks (EINVAL). */
alim_status alim_coefficient_analyse(const alim_rebound_evaluations *ev, const size_t *n_pos_want, size_t n_pos_count,
                                     const size_t *n_neg_want, size_t n_neg_count, double pretrain_tokens,
                                     const double *a_tokens, const double q[3], size_t n_boot, uint64_t seed,
                                     alim_coefficient_analysis *an, cJSON **out, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
