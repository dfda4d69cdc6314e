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

#ifdef __cplusplus
}
#endif
#endif
