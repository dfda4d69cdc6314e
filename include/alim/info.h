/* alim/info.h — information measures of discrete distributions.
 *
 * Everything is in nats (natural logarithms); convert with alim_bits(). Conventions:
 *   0 log 0 = 0;  a term p log(p/q) with p > 0, q = 0 is +inf (returned as INFINITY);
 *   probabilities are plain arrays of doubles of length n. These functions do not
 *   validate their inputs (use alim_check_distribution first); they never fail.
 */
#ifndef ALIM_INFO_H
#define ALIM_INFO_H

#include <stddef.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ALIM_LN2 0.693147180559945309417232121458176568

/* nats -> bits */
static inline double alim_bits(double nats) { return nats / ALIM_LN2; }
/* bits -> nats */
static inline double alim_nats(double bits) { return bits * ALIM_LN2; }

/* log(sum_i exp(x[i])), stable; -inf for n == 0 or all x = -inf; +inf if any x = +inf. */
double alim_logsumexp(const double *x, size_t n);

/* Checks that p[0..n) is a probability vector: every entry finite and >= 0, and
 * |sum - 1| <= tol. On failure fills err with `where` and the offending index. */
alim_status alim_check_distribution(const double *p, size_t n, double tol, const char *where,
                                    alim_error *err);

/* H(p) = -sum p log p. */
double alim_entropy(const double *p, size_t n);
/* H(p; q) = -sum p log q (+inf if q = 0 where p > 0). */
double alim_cross_entropy(const double *p, const double *q, size_t n);
/* KL(p || q) = sum p log(p/q) (+inf if p is not absolutely continuous w.r.t. q). */
double alim_kl(const double *p, const double *q, size_t n);

/* Renyi divergence of order alpha >= 0:
 *   D_a(p||q) = log(sum p^a q^(1-a)) / (a - 1);
 * alpha = 1 gives KL, alpha = INFINITY gives log max_i p_i/q_i, alpha = 0 gives
 * -log q(supp p). Returns NAN for alpha < 0 or NaN. */
double alim_renyi_divergence(const double *p, const double *q, size_t n, double alpha);

/* Renyi entropy of order alpha >= 0: H_a(p) = log(sum p^a) / (1 - a);
 * alpha = 0: log |supp p|; 1: Shannon; INFINITY: -log max p. NAN for alpha < 0. */
double alim_renyi_entropy(const double *p, size_t n, double alpha);

/* Binary entropy h(p) = -p log p - (1-p) log(1-p) in nats; NAN outside [0,1]. */
double alim_binary_entropy(double p);

/* Inverse of h on [0, 1/2]: the p in [0, 1/2] with h(p) = h_nats; h_nats is clamped
 * to [0, log 2]. Accurate to a few ulps (bisection to 4*DBL_EPSILON then Newton). */
double alim_binary_entropy_inverse(double h_nats);

/* Bernoulli divergence kl(q||p) = q log(q/p) + (1-q) log((1-q)/(1-p)), with 0 log 0 = 0;
 * +inf when p = 0 < q or p = 1 > q. Uses log1p near p -> 1. NAN outside [0,1]. */
double alim_kl_bernoulli(double q, double p);

#ifdef __cplusplus
}
#endif
#endif
