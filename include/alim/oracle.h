/* alim/oracle.h — E0 of the elasticity lab: the exact count-weighted learner (spec §1.6).
 *
 * Sizes are relative to the alignment set: |D_a| = A = 1 unit, |D_p| = k, |D_t| = l.
 * The learner's joint law is the count-weighted mixture of everything it was trained on:
 *   p = (sum_i n_i P_i) / N,   n_i = q_i k + [i = a] + l [i = t],   N = k + 1 + l,
 * optionally smoothed additively on the joint alphabet: p <- (p + alpha) / (1 + alpha V).
 * Rates are cross-entropies in bits per symbol:
 *   gamma_a = H(P_a; p),  gamma_p = H(sum_i q_i P_i; p).
 * With disjoint supports and alpha = 0 this is gamma_a = H_a - log2 w_a and
 * gamma_p = sum q_i (H_i - log2 w_i), the spec's closed form.
 *
 * The Markov form ("O" of spec §4.2) does the same with a count-based first-order model:
 * expected transition counts n_i * occ_i(s) P_i(s'|s) of the chains of alim/source.h,
 * rates per token of a document. Its sizes are in documents (A = a_docs) since additive
 * pseudo-counts make the result depend on the scale.
 */
#ifndef ALIM_ORACLE_H
#define ALIM_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "alim/source.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double k, l;
    double gamma_a_bits, gamma_p_bits;         /* at (k, l)                                   */
    double dgamma_a_dl, dgamma_p_dl;           /* analytic derivatives in l, bits per unit l  */
    double dgamma_a_dl_fd, dgamma_p_dl_fd;     /* central finite differences                  */
    double ratio;                              /* -dgamma_a/dl / dgamma_p/dl (analytic)       */
    double ratio_fd;                           /* the same from finite differences            */
    double delta_a_bits, delta_p_bits;         /* gamma(k, l) - gamma(k, 0)                   */
    double ratio_secant;                       /* -delta_a / delta_p                          */
    double hooke;                              /* |D_a| delta_a / (|D_p| |delta_p|) = ratio_secant / k */
} alim_oracle_point;

/* Components: rows comp[i*V .. i*V+V) (probability vectors on a joint alphabet of V symbols),
 * pretraining shares q (sum 1), alignment component a, perturbation component t.
 * smoothing = alpha above (0 = none). */
typedef struct {
    size_t n_components, n_symbols;
    const double *comp;
    const double *q;
    size_t a, t;
    double smoothing;
} alim_oracle_mix;

/* Errors EINVAL: k <= 0, l < 0, a or t out of range, q not a distribution, a row of comp
 * not a distribution; ERANGE if gamma is infinite (a component the learner never saw). */
alim_status alim_oracle_mix_eval(const alim_oracle_mix *m, double k, double l, alim_oracle_point *out,
                                 alim_error *err);

/* K components, each Zipf(1) over its own block of `m` symbols (disjoint supports), as
 * rows of a K x (K*m) matrix (malloc'd). The spec's §1.6 table uses K = 3, m = 30. */
double *alim_oracle_zipf_components(size_t K, size_t m);

/* The count-based first-order Markov learner on the source S. a_docs = |D_a| in documents;
 * smoothing = pseudo-count added to every transition count (0 = none). */
typedef struct {
    const alim_source *src;
    const double *q;
    size_t a, t;
    double a_docs;
    double smoothing;
} alim_oracle_markov;
alim_status alim_oracle_markov_eval(const alim_oracle_markov *m, double k, double l, alim_oracle_point *out,
                                    alim_error *err);

/* ---- E0's checks: the oracle against the claims of the paper (spec §4.4 and §1.6) ----
 * The checks are results, not errors: a failed check is a row with pass = 0. */

/* One check. Two kinds: "above" checks pass when value > expected (tolerance 0); "near"
 * checks pass when |value - expected| <= tolerance. A value is NaN when a quantity it is
 * made of is NaN, and then the check fails. */
typedef struct {
    const char *name; /* static string; the key of the check in `alim elastic oracle --json` */
    double value, expected, tolerance;
    int pass;
} alim_oracle_check;

enum {
    ALIM_ORACLE_CHECK_SIGNS, /* "signs", above: min(dgamma_a/dl, -dgamma_p/dl) > 0          */
    ALIM_ORACLE_CHECK_RATIO, /* "ratio_near_k", near: ratio/k vs 1 within 5%, 5% (1 + 10 l)
                                for l > 0.001 (the ratio drifts from k as l grows)          */
    ALIM_ORACLE_CHECK_FD,    /* "analytic_equals_fd", near: the larger relative difference of
                                the analytic and finite-difference derivatives vs 0, 1e-3    */
    ALIM_ORACLE_CHECK_HOOKE, /* "hooke_near_1", near: the Hooke ratio vs 1 within 5%; passes at
                                l = 0, where nothing changed and there is nothing to compare */
    ALIM_ORACLE_CHECK_NOVEL, /* "novel_both_positive", above: with the perturbation component
                                absent from pretraining, min(dgamma_a/dl, dgamma_p/dl) > 0   */
    ALIM_ORACLE_N_CHECKS
};

/* The checks of one grid point: `point` at the pretraining shares q, `novel` at the same
 * (k, l) with the perturbation component's share 0 (the other shares renormalised). */
typedef struct {
    const char *model; /* "mix" or "markov" (static) */
    alim_oracle_point point, novel;
    alim_oracle_check checks[ALIM_ORACLE_N_CHECKS];
    int pass; /* every check passed */
} alim_oracle_verdict;

/* Judges one grid point (model is left as it is). Pure: no allocation, no failure. */
void alim_oracle_judge(const alim_oracle_point *point, const alim_oracle_point *novel, alim_oracle_verdict *out);

/* E0's grid: both learners (or only 'mix') at every (k, l), three components (C1, C2, C3),
 * alignment component C2, perturbation C3. 'mix' is three Zipf(1) components over 30 symbols
 * each; 'markov' the source S of alim/source.h built with `seed`. */
typedef struct {
    const double *k; /* k = |D_p|/|D_a| values (n_k)          */
    size_t n_k;
    const double *l; /* l = |D_t|/|D_a| values (n_l)          */
    size_t n_l;
    double q[3];      /* pretraining shares of C1, C2, C3       */
    double smoothing; /* as in alim_oracle_mix / _markov       */
    int markov;       /* also the Markov learner                */
    uint64_t seed;    /* of the source S                        */
    double a_docs;    /* |D_a| in documents for 'markov'        */
} alim_oracle_grid_config;

/* k 10, 100, 1000; l 0.001, 0.01; equal shares; no smoothing; both learners; seed 1;
 * a_docs 2000 (the defaults of `alim elastic oracle`). */
void alim_oracle_grid_config_default(alim_oracle_grid_config *c);

typedef struct {
    double novel_q[3];         /* the shares of the novel control: (q1, q2)/(q1 + q2), 0 */
    alim_oracle_verdict *rows; /* 'mix' rows, then 'markov' rows; k outer, l inner */
    size_t n_rows;
    int all_pass;
} alim_oracle_grid;

/* Evaluates and judges the grid. Errors EINVAL: the shares of C1 and C2 both 0 (no novel
 * control), and those of alim_source_build and alim_oracle_*_eval; ENOMEM. On error *out
 * holds nothing to free. */
alim_status alim_oracle_grid_run(const alim_oracle_grid_config *c, alim_oracle_grid *out, alim_error *err);
void alim_oracle_grid_free(alim_oracle_grid *g);

/* The table of spec §1.6: the spec's ratio for five settings of the 'mix' learner against
 * ours (the secant ratio, measured from l = 0). check: name = setting, value = our secant
 * ratio, expected = the spec's, tolerance = half a unit of the spec's last printed digit. */
enum { ALIM_ORACLE_TABLE_ROWS = 5 };
typedef struct {
    double k, l, q[3], smoothing;
    double ratio_derivative; /* the derivative ratio at l, for comparison */
    alim_oracle_check check;
} alim_oracle_table_row;

/* Fills rows[ALIM_ORACLE_TABLE_ROWS]; *all_match = every check passed. Errors: ENOMEM. */
alim_status alim_oracle_table_run(alim_oracle_table_row *rows, int *all_match, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
