/* alim/bon.h — exact best-of-N on a finite reward distribution, with ties.
 *
 * Best-of-N draws y_1..y_N i.i.d. from p and outputs one with maximal reward. With the
 * distinct reward levels v_1 < ... < v_L of masses q_j, F_j = q_1 + ... + q_j and
 * S_j = 1 - F_j, the level of the output has law P_j = F_j^N - F_{j-1}^N whatever the tie
 * rule, and
 *   RANDOM ties (uniform among maximisers):  pi_N(y) = p(y) P_j / q_j
 *   ORDERED ties (fixed order, later row wins): items ranked by (r, row), pi = G^N - G_-^N
 *   KL(pi_N || p) = sum_j P_j log(P_j / q_j)                  (RANDOM: the least KL)
 *   E r           = v_L - sum_{j<L} (v_{j+1} - v_j) F_j^N
 *   win rate vs y' ~ p: strict sum_j P_j F_{j-1}; ties count 1/2: sum_j P_j (F_{j-1}+F_j)/2
 *   bound         KL <= log N - (N-1)/N.
 * N is any real >= 1 and is carried as (N, log N), so N = e^5000 works. Everything is
 * computed in log domain: log F_j = log1p(-S_j) when F_j >= 1/2, N log F_j and
 * N log(F_{j-1}/F_j) through exp(log N + log(-log F)) when N overflows, P_j through expm1.
 * Units: nats. The library never prints; functions return alim_status where they can fail.
 */
#ifndef ALIM_BON_H
#define ALIM_BON_H

#include <stddef.h>
#include <stdint.h>

#include "alim/rdist.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The reward levels of a distribution, in log domain. */
typedef struct {
    size_t n;         /* number of levels (all with q > 0) */
    double *v;        /* reward of each level, non-decreasing (strictly for merged levels) */
    double *log_q;    /* log mass of each level */
    double *log_tail; /* log S_j: log of the mass strictly above level j; -inf at the top */
    double *log_cdf;  /* log F_j: log of the mass at or below level j; 0 at the top */
    /* Optional map back to outcomes (filled by alim_levels_from_rdist): the outcomes of level
     * j are order[start[j] .. start[j+1]) (0-based rows). NULL otherwise. */
    uint32_t *order;
    size_t *start;
} alim_levels;

/* Groups the support of d by reward (exact equality; -0 == +0) into merged levels, sorted
 * by an O(n) stable radix sort (OpenMP-parallel passes); keeps the outcome map. Working
 * memory while sorting: 40 bytes per outcome; the result: 32 bytes per level plus 4 bytes
 * per outcome and 8 per level for the map. */
alim_status alim_levels_from_rdist(const alim_rdist *d, alim_levels *out, alim_error *err);

/* The same without the outcome map (order/start stay NULL): 32 bytes per outcome while
 * sorting; use it when no policy and no ORDERED ties are needed. */
alim_status alim_levels_from_rdist_nomap(const alim_rdist *d, alim_levels *out, alim_error *err);

/* One level per outcome of the support, in (reward, row) order: the ranking used by ORDERED
 * ties (a later row beats an earlier row with the same reward). `merged` must come from
 * alim_levels_from_rdist(d). */
alim_status alim_levels_ordered(const alim_rdist *d, const alim_levels *merged, alim_levels *out,
                                alim_error *err);

/* Builds levels from n sorted rewards v (non-decreasing) and their log masses (need not be
 * normalised; they are renormalised). Levels with log mass -inf are dropped. */
alim_status alim_levels_from_log(const double *v, const double *log_q, size_t n, alim_levels *out,
                                 alim_error *err);

void alim_levels_free(alim_levels *lv);

/* The number of draws N, as the pair (N, log N). N may be +inf when only log N fits. */
typedef struct {
    double n, log_n;
} alim_bon_size;

/* N from its value (finite, >= 1) or from log N (>= 0). ALIM_EINVAL otherwise (where "n" or "log_n"). */
alim_status alim_bon_size_from_n(double n, alim_bon_size *out, alim_error *err);
alim_status alim_bon_size_from_log(double log_n, alim_bon_size *out, alim_error *err);

typedef enum { ALIM_TIES_RANDOM = 0, ALIM_TIES_ORDERED = 1 } alim_ties;

typedef struct {
    double kl_nats;         /* KL(pi_N || p) for RANDOM ties */
    double kl_bound_nats;   /* log N - (N-1)/N */
    double reward;          /* E_{pi_N} r */
    double win_rate;        /* P(r(Y) > r(Y')) + P(r(Y) = r(Y'))/2, Y' ~ p */
    double win_rate_strict; /* P(r(Y) > r(Y')) */
    double top_prob;        /* P(output is in the top level) = 1 - F_{L-1}^N */
    double kl_one_atom_nats;/* one-atom model with eps = mass of the top level */
} alim_bon_result;

/* Exact best-of-N quantities for RANDOM ties (the win rates and reward hold for any rule). */
void alim_bon_eval(const alim_levels *lv, alim_bon_size N, alim_bon_result *out);

/* KL(pi_N || p) over the given levels: RANDOM ties on merged levels, ORDERED ties on
 * alim_levels_ordered levels. */
double alim_bon_kl(const alim_levels *lv, alim_bon_size N);

/* log P_j for every level (caller array of lv->n). */
void alim_bon_level_log_probs(const alim_levels *lv, alim_bon_size N, double *log_p);

/* The BoN policy over the outcomes of d (pi[i] = 0 where p = 0). merged from
 * alim_levels_from_rdist(d); ordered from alim_levels_ordered (needed for ORDERED only,
 * else NULL). pi holds d->n doubles. */
alim_status alim_bon_policy(const alim_rdist *d, const alim_levels *merged, const alim_levels *ordered,
                            alim_bon_size N, alim_ties ties, double *pi, alim_error *err);

/* log N - (N-1)/N, accurate near N = 1 and for huge N. */
double alim_bon_kl_bound(alim_bon_size N);

/* The exact KL of the "one top atom of mass eps + atomless rest" model:
 * c^N [log N + (N-1) log c - (N-1)/N] + (1 - c^N) log((1 - c^N)/eps), c = 1 - eps.
 * (A model of its own, not Beirami et al.'s estimator.) */
double alim_bon_kl_one_atom(double eps, alim_bon_size N);

/* The best win rate any policy can reach at a given KL when the reward is atomless: the
 * exponential tilt of the quantile u, density c e^{cu}/(e^c - 1), with
 * W(c) = 1/(1 - e^{-c}) - 1/c and KL(c) = log(c/(e^c - 1)) + c W(c). Solves KL(c) = kl_nats
 * for c >= 0 and returns W(c) (1/2 at kl = 0); *c_out may be NULL. Best-of-N reaches
 * N/(N+1) at KL log N - (N-1)/N, just below this (Gui et al.'s "BoN is essentially
 * win-rate optimal"). NAN for a negative or NaN kl. */
double alim_bon_win_rate_optimal(double kl_nats, double *c_out);

/* The real N >= 1 with log N - (N-1)/N = kl (the bound-only answer to "how big may N be"). */
double alim_bon_bound_inverse(double kl_nats);

typedef struct {
    double n_max;    /* largest integer N with KL(pi_M || p) <= budget for every M <= N; INFINITY if
                      * the KL never exceeds it (budget >= log 1/q_L) */
    double kl_at_n;  /* exact KL at n_max */
    double n_bound;  /* floor of alim_bon_bound_inverse(budget) */
    int verified;    /* 1 if every M <= n_max was evaluated (n_max <= 10^5), else the search
                      * (doubling, then bisection) assumed KL increasing between evaluated N */
} alim_bon_budget;

/* Largest N within a KL budget (RANDOM ties). ALIM_EINVAL for a negative or NaN budget. */
alim_status alim_bon_budget_kl(const alim_levels *lv, double kl_nats, alim_bon_budget *out, alim_error *err);

/* Smallest integer N with E_{pi_N} r >= target (INFINITY if target > max reward, or = max
 * reward while lower levels exist). *n = 1 when the mean already reaches it. */
alim_status alim_bon_min_n_for_reward(const alim_levels *lv, double target, double *n, alim_error *err);

/* ---- Monte Carlo validation ----------------------------------------------------------- */

typedef struct {
    size_t samples;
    alim_mc_estimate reward, kl_nats, win_rate, win_rate_strict; /* KL: mean of log(P_j/q_j) */
} alim_bon_mc_result;

/* Samples `samples` BoN outputs with a seeded xoshiro256** stream (seed, stream 0).
 * direct = 0: draws the output level by inversion of F_j^N (O(log L) per draw, any N);
 * direct = 1: draws N outcomes and keeps the best (integer N <= 10^7 only; validates the
 * inversion sampler). Each output is compared with an independent Y' ~ p for the win rates
 * (Wilson interval for the strict one). ALIM_EINVAL for samples < 2 or a bad direct N. */
alim_status alim_bon_mc(const alim_levels *lv, alim_bon_size N, size_t samples, uint64_t seed, int direct,
                        alim_bon_mc_result *out, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
