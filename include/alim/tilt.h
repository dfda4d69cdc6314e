/* alim/tilt.h — optimal KL-constrained policies (exponential tilts) and rate functions.
 *
 * For a reward distribution (p, r) (alim/rdist.h):
 *   Lambda(l) = log sum_y p(y) e^{l r(y)}         log-partition (cumulant generating function)
 *   phi_l(y)  = p(y) e^{l r(y) - Lambda(l)}        the tilted policy
 *   K(l)      = KL(phi_l || p) = l Lambda'(l) - Lambda(l)
 * phi_l maximises E_phi r subject to KL(phi || p) <= K(l) (Gibbs/Donsker-Varadhan). K rises
 * from 0 at l = 0 to K(inf) = log 1/p(A), A = argmax r; a budget at or above K(inf) is
 * "saturated": the optimum is r_max, reached by p(.|A) (l = +inf), and is not unique.
 * The reward-KL frontier R*(D) = Lambda'(l*(D)) is the inverse of the Cramer rate function
 * I_p(x) = sup_t [t x - Lambda(t)].
 *
 * Units: nats. Numerics: Lambda is evaluated shifted by r_max (l > 0) or r_min (l < 0);
 * for |l| range(r) < 1e-3 the cumulant series (to kappa_6) is used, and for moderate l a
 * centred expm1/log1p form, so K(l) keeps full relative accuracy from l ~ 1e-150 to
 * saturation. These functions never print; they return alim_status where they can fail.
 */
#ifndef ALIM_TILT_H
#define ALIM_TILT_H

#include <stddef.h>
#include <stdint.h>

#include "alim/rdist.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Everything known about one tilt l (any real, or +-INFINITY for the limit laws). */
typedef struct {
    double lambda;
    double log_partition;  /* Lambda(l) (nats); +-inf for l = +-inf */
    double mean;           /* Lambda'(l) = E_{phi_l} r */
    double var;            /* Lambda''(l) = Var_{phi_l} r */
    double cumulant3;      /* Lambda'''(l): third cumulant of r under phi_l (used by the solver) */
    double kl_nats;        /* K(l) = KL(phi_l || p) */
    double kl_gap_nats;    /* K(+-inf) - K(l), accurate near saturation */
    double mean_gap;       /* r_max - Lambda'(l) for l >= 0, Lambda'(l) - r_min for l < 0 */
} alim_tilt_point;

/* Evaluates the tilt at l (one pass over the outcomes; never fails; l NaN gives NaNs). */
void alim_tilt_eval(const alim_rdist *d, double lambda, alim_tilt_point *out);

/* K(+inf) = log 1/p(A): the largest KL a reward-maximising policy can need. */
double alim_tilt_kl_max(const alim_rdist *d);

typedef struct {
    alim_tilt_point pt; /* at the solution; lambda = +INFINITY when saturated */
    int saturated;      /* 1 if the budget is >= log 1/p(A) (within relative 1e-12) */
    int iterations;
} alim_tilt_solution;

/* Solves K(l) = kl_nats for l >= 0 (the constraint is active), or reports saturation.
 * kl_nats < 0 or NaN -> ALIM_EINVAL; kl_nats = 0 -> l = 0. Converges to |dl| <= 1e-15 l
 * (safeguarded Halley/Newton in log K near 0 and in log(K(inf) - K) near saturation,
 * bisection fallback; 3-5 passes over the outcomes); ALIM_ENOCONV if 500 steps do not suffice (never seen). */
alim_status alim_tilt_solve_kl(const alim_rdist *d, double kl_nats, alim_tilt_solution *out, alim_error *err);

/* The tilted policy phi_l over the n outcomes (phi[i] = 0 where p = 0). l = +inf gives
 * p(.|A), l = -inf gives p(.|argmin r). phi must hold d->n doubles (caller-owned). */
void alim_tilt_policy(const alim_rdist *d, double lambda, double *phi);

/* KL(phi || phi_l) = [KL(phi||p) - K(l)] + l [Lambda'(l) - E_phi r]   (exact identity),
 * written as KL(phi||p) - l E_phi r + Lambda(l). Inputs in nats; +inf if l is infinite
 * and phi is not supported on the maximisers. */
double alim_tilt_kl_from(const alim_tilt_point *pt, double kl_phi_p_nats, double mean_phi);

/* Solves Lambda'(t) = x for t (x strictly inside (r_min, r_max)); t = +-INFINITY at the ends
 * (x = r_max or r_min); ALIM_EINVAL outside [r_min, r_max] or for NaN. */
alim_status alim_tilt_solve_mean(const alim_rdist *d, double x, double *t, alim_error *err);

/* Cramer rate function I_p(x) = sup_t [t x - Lambda(t)] = min{KL(q||p) : E_q r = x}:
 * 0 at the mean, log 1/p(A) at r_max, log 1/p(r_min) at r_min, +inf outside. If t is not
 * NULL it receives the maximising t (+-inf at the ends, NaN outside). */
double alim_rate_cramer(const alim_rdist *d, double x, double *t);

/* Rate function of the mean reward under phi_l: J_l(x) = I_p(x) - l x + Lambda(l)
 * = min{KL(q||phi_l) : E_q r = x}. l must be finite. */
double alim_rate_tilted(const alim_rdist *d, double lambda, double x);

/* Renyi cross-entropy H_a(phi_l; q) = log(sum phi_l(y) q(y)^{a-1}) / (1 - a) with
 * q = softmax(r) (q(y) = e^{r(y)}/C over the support), computed directly from its
 * definition (alpha = 1: the Shannon cross-entropy -sum phi log q). Used to check the
 * identity Lambda(l + t) - Lambda(l) = t [log C - H_{1+t}(phi_l; q)]. */
double alim_tilt_renyi_cross_entropy(const alim_rdist *d, double lambda, double alpha);

/* Monte Carlo check of a tilt: draws `samples` outcomes from phi_l (seeded xoshiro256**,
 * stream 1) and estimates E_phi r and KL(phi||p) = E_phi[l r - Lambda(l)] with ~95% normal
 * intervals. Needs d->n extra doubles. ALIM_EINVAL for samples < 2 or a non-finite l. */
alim_status alim_tilt_mc(const alim_rdist *d, double lambda, size_t samples, uint64_t seed,
                         alim_mc_estimate *reward, alim_mc_estimate *kl_nats, alim_error *err);

/* log C = log sum_{y in S} e^{r(y)} (the softmax normaliser of the rewards). */
double alim_tilt_log_softmax_norm(const alim_rdist *d);

#ifdef __cplusplus
}
#endif
#endif
