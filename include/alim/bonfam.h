/* alim/bonfam.h — the best-of-N family on a finite reward distribution: soft best-of-N,
 * Best-of-Poisson, the optimal tilt and best-of-N side by side (KL, reward, win rate, gold
 * reward), reward hacking (the parameter that maximises a gold reward), and pass@k.
 *
 * Every method here picks its output's reward level j by some law pi_j and, inside a level,
 * an outcome in proportion to p (the selection only sees rewards). So everything is a
 * function of the levels of alim/bon.h and of pi_j:
 *   KL(pi || p)  = sum_j pi_j log(pi_j / q_j)
 *   E r          = sum_j pi_j v_j
 *   win rate     = sum_j pi_j (F_{j-1} + F_j)/2  (ties 1/2), strict sum_j pi_j F_{j-1}
 *   gold reward  = sum_j pi_j gbar_j, gbar_j = E_p[g | level j]
 * The laws (q_j, F_j, S_j as in alim/bon.h; w_j = e^{lambda (v_j - v_L)}):
 *   best-of-N      pi_j = F_j^N - F_{j-1}^N                         (random ties)
 *   Best-of-Poisson N = 1 + K, K ~ Poisson(mu) (Khalaf et al. 2025, Algorithm "BoP"):
 *                  P(level <= j) = E F_j^N = F_j e^{-mu S_j}
 *   soft best-of-N (Verdun et al. 2025): draw N, return draw i with probability
 *                  e^{lambda r_i} / sum_k e^{lambda r_k}; with 1/x = int_0^inf e^{-tx} dt,
 *                  pi_j = N q_j w_j int_0^inf e^{-t w_j} M(t)^{N-1} dt,  M(t) = sum_k q_k e^{-t w_k},
 *                  for any real N >= 1 (lambda = 0: p; lambda -> inf: best-of-N, random ties;
 *                  N -> inf: the tilt phi_lambda, with KL(pi || phi_lambda) = O(1/N))
 *   tilt           pi_j = q_j w_j / sum_k q_k w_k                  (the KL-RL optimum)
 * Units: nats. Functions never print; they return alim_status where they can fail.
 */
#ifndef ALIM_BONFAM_H
#define ALIM_BONFAM_H

#include <stddef.h>
#include <stdint.h>

#include "alim/bon.h"
#include "alim/rdist.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ALIM_METHOD_BON = 0,  /* parameter N >= 1 */
    ALIM_METHOD_SOFT = 1, /* parameter N >= 1, with lambda >= 0 fixed */
    ALIM_METHOD_BOP = 2,  /* parameter mu >= 0 (E N = mu + 1) */
    ALIM_METHOD_TILT = 3  /* parameter lambda >= 0 */
} alim_bon_method;

/* "bon", "soft", "bop", "tilt". */
const char *alim_bon_method_name(alim_bon_method m);

/* What a policy over the levels achieves. gold_reward is NAN when no gold column is given. */
typedef struct {
    double kl_nats, reward, win_rate, win_rate_strict, gold_reward;
} alim_bonfam_point;

/* Evaluates a level law (log pi_j for each of lv->n levels; need not be exactly normalised:
 * it is renormalised). gold_level may be NULL. */
void alim_bonfam_eval_law(const alim_levels *lv, const double *gold_level, const double *log_pi,
                          alim_bonfam_point *out);

/* Best-of-Poisson level law: log pi_j for N = 1 + Poisson(mu); mu is given as (mu, log mu) in an
 * alim_bon_size (mu = 0 is allowed here: log mu = -inf gives p). Exact in log domain for any mu,
 * including mu = e^5000. */
void alim_bop_level_log_probs(const alim_levels *lv, alim_bon_size mu, double *log_pi);

/* Bounds for Best-of-Poisson from convexity (KL is convex and the win rate linear in the
 * policy): KL <= E[log N - (N-1)/N] and win rate <= E[N/(N+1)], N = 1 + Poisson(mu). */
double alim_bop_kl_bound(alim_bon_size mu);
double alim_bop_win_rate_bound(alim_bon_size mu);

/* The tilt's level law at lambda >= 0 (+INFINITY: p(. | top level)). */
void alim_tilt_level_log_probs(const alim_levels *lv, double lambda, double *log_pi);

/* Diagnostics of the soft best-of-N quadrature. */
typedef struct {
    size_t nodes;      /* quadrature nodes (0 when a closed form was used) */
    double mass_error; /* sum_j pi_j - 1 before renormalising (the identity sum = 1 checks the sums) */
    double step_error; /* max_j relative difference between steps h and 2h (an error estimate) */
    int limit;         /* 0 quadrature, 1 N = 1 (p), 2 lambda = 0 (p), 3 tilt limit (N beyond e^40 w_max/E w:
                        * the law equals phi_lambda to double precision), 4 lambda = inf (best-of-N) */
} alim_soft_info;

/* Soft best-of-N level law for any real N >= 1 and lambda >= 0 (INFINITY allowed). The integral is
 * a trapezoid rule in log t with step 1/8 over every node that matters (exponentially accurate for
 * this analytic, doubly decaying integrand; relative error ~1e-15); the part below t0 is summed in
 * closed form from the second-order expansion of the integrand. ALIM_EINVAL for lambda < 0 or NaN,
 * ALIM_ERANGE when lambda (v_L - v_1) needs more than 4e5 nodes (beyond ~5e4). info may be NULL. */
alim_status alim_soft_bon_level_log_probs(const alim_levels *lv, alim_bon_size N, double lambda, double *log_pi,
                                          alim_soft_info *info, alim_error *err);

/* One method at one parameter (N, mu or lambda), soft with its lambda in `soft_lambda`. */
alim_status alim_bonfam_eval(const alim_levels *lv, const double *gold_level, alim_bon_method m, double param,
                             double soft_lambda, alim_bonfam_point *out, alim_error *err);

/* ---- gold rewards ------------------------------------------------------------------------- */

/* Reads "p,r" or "p,r,g" (g = a gold reward beside the proxy r; selection uses r). *gold is a new
 * array of d->n values, or NULL for two columns. Same rules and messages as alim_rdist_read_csv;
 * a non-finite g is an error naming path:line. */
alim_status alim_rdist_read_gold_csv(alim_rdist *d, double **gold, const char *path, double tol, int normalize,
                                     alim_error *err);

/* gbar_j = E_p[g | level j] for every level (lv from alim_levels_from_rdist(d): needs the map). */
alim_status alim_levels_gold(const alim_rdist *d, const alim_levels *lv, const double *g, double *gold_level,
                             alim_error *err);

/* HedgeTune (Khalaf et al.): the parameter in [lo, hi] that maximises the gold reward. For BoN the
 * answer is an integer N (the hacking threshold N-dagger); every integer is evaluated when
 * (hi - lo) * levels <= 2e8, else a log grid (16 points per factor 10) is refined by golden
 * section (exact when the gold reward is unimodal in the parameter, which Khalaf et al. prove for
 * BoN and BoP under their TP2 conditions). */
typedef struct {
    double param;         /* the maximiser */
    alim_bonfam_point at; /* everything at the maximiser */
    int interior;         /* 1 if the maximiser is inside (lo, hi): the gold reward rises then falls (hacking) */
    int exhaustive;       /* 1 if every integer was evaluated */
} alim_hedge_result;

alim_status alim_bonfam_hedge(const alim_levels *lv, const double *gold_level, alim_bon_method m, double soft_lambda,
                              double lo, double hi, alim_hedge_result *out, alim_error *err);

/* ---- pass@k ------------------------------------------------------------------------------ */

/* pass@k = 1 - (1 - theta)^k for success probability theta (exact, expm1/log1p). */
double alim_pass_at_k(double theta, double k);

typedef struct {
    double estimate;     /* 1 - C(n-c, k)/C(n, k), the unbiased estimator (Chen et al. 2021) */
    double var_plugin;   /* its exact variance at theta = c/n */
    double var_unbiased; /* unbiased estimate of its variance: V^2 - C(n-c,2k)/C(n,2k), V = C(n-c,k)/C(n,k)
                          * (NAN when 2k > n); may be negative */
    double std_error;    /* sqrt(var_plugin) */
} alim_passk_result;

/* ALIM_EINVAL unless 0 <= c <= n, 1 <= k <= n. */
alim_status alim_pass_at_k_estimate(uint64_t n, uint64_t c, uint64_t k, alim_passk_result *out, alim_error *err);

/* Exact variance of the estimator from n samples at success probability theta (sum over c). */
double alim_pass_at_k_estimator_var(uint64_t n, uint64_t k, double theta);

/* ---- Monte Carlo ----------------------------------------------------------------------------- */

/* Simulates the method directly (draws outcomes' levels from p; soft: N draws and a softmax choice,
 * integer N <= 10^6; BoP: K ~ Poisson(mu) by exponential gaps, mu <= 10^6, then the best of 1 + K;
 * BoN: N draws, integer N <= 10^7; tilt: inversion of its law). Estimates reward, KL (mean of
 * log(pi_j / q_j) with the exact law), win rate (vs an independent Y' ~ p) and gold reward with 95%
 * intervals. ALIM_EINVAL for samples < 2 or a parameter out of range. */
typedef struct {
    alim_mc_estimate reward, kl_nats, win_rate, gold_reward;
} alim_bonfam_mc_result;

alim_status alim_bonfam_mc(const alim_levels *lv, const double *gold_level, alim_bon_method m, double param,
                           double soft_lambda, size_t samples, uint64_t seed, alim_bonfam_mc_result *out,
                           alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
