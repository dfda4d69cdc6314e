/* alim/seqpmf.h — exact reward PMFs of sequences from a memoryless model, and the
 * finite-n comparison of best-of-N with the KL-RL optimum on them.
 *
 * A token law (p, rho) (an alim_rdist) defines sequences y = (y_1..y_n) with
 * p_n(y) = prod p(y_i) and additive reward r_n(y) = sum rho(y_i). Under RANDOM ties both
 * the BoN policy and the tilted optimum phi_{n,l} = phi_l^{(x) n} have a likelihood ratio to
 * p_n that is a function of r_n, so every exact quantity follows from the PMF of r_n,
 * returned here as alim_levels (log domain).
 *
 * Methods:
 *   lattice  (rho = a + h k, k integer in [0, K]): binary powering of the token PMF tilted
 *            by theta, in linear arithmetic with a running log scale. All terms are >= 0,
 *            so every output has relative error ~1e-16 x log2(n); entries below
 *            `window_floor` x (current maximum) are trimmed from the ends of each
 *            intermediate PMF. Un-tilting gives log q(s) = log phi~(s) - theta h s. The mass
 *            cut off below the window becomes one "lump" level (its reward is the lattice
 *            point just below the window, an upper bound on its true rewards); the caller
 *            checks that best-of-N puts negligible mass there (alim_seq_compare does).
 *   types    (any rho): enumeration of the C(n+V-1, V-1) count vectors with multinomial
 *            probabilities; rewards equal within merge_tol x n x max|rho| are merged.
 * Units: nats. Errors through alim_status/alim_error; never prints.
 */
#ifndef ALIM_SEQPMF_H
#define ALIM_SEQPMF_H

#include <stddef.h>

#include "alim/bon.h"
#include "alim/progress.h"
#include "alim/rdist.h"
#include "alim/status.h"
#include "alim/tilt.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ALIM_SEQPMF_AUTO = 0, ALIM_SEQPMF_LATTICE = 1, ALIM_SEQPMF_TYPES = 2 } alim_seqpmf_method;

typedef struct {
    alim_seqpmf_method method; /* AUTO: lattice when rho is on a lattice with K <= max_lattice, unless
                                * type enumeration is much cheaper (<= 2e6 types and fewer than a
                                * quarter of the n K + 1 lattice points) */
    double lattice_tol;        /* relative tolerance of the lattice test (default 1e-9) */
    double lattice_step;       /* > 0: round rho onto a + h k with this h (an approximation) */
    size_t max_lattice;        /* largest K = (rho_max - rho_min)/h accepted (default 10^6) */
    double merge_tol;          /* types: relative merge tolerance (default 1e-12) */
    double max_types;          /* types: largest enumeration (default 2e7) */
    double theta;              /* tilt of the lattice method (NAN: 0) */
    double window_floor;       /* lattice: relative trim floor; < 0 = automatic (0 when n K <= 20000,
                                * else 1e-30) */
} alim_seqpmf_options;

#define ALIM_SEQPMF_OPTIONS_DEFAULT {ALIM_SEQPMF_AUTO, 1e-9, 0.0, 1000000, 1e-12, 2e7, 0.0 / 0.0, -1.0}

typedef struct {
    int lattice;             /* 1: lattice method used */
    double a, h;             /* lattice origin and span (lattice method) */
    size_t kmax;             /* K */
    int rounded;             /* 1 if lattice_step rounded the rewards */
    double theta;            /* tilt used */
    double floor;            /* trim floor used */
    size_t levels;           /* levels in the result */
    int lumped;              /* 1 if a lower lump level was added */
    double lump_log_mass;    /* log of its mass (-inf if none) */
    double log_top_dropped;  /* rough log bound on the mass trimmed above the window (-inf: none) */
    double types;            /* types method: count vectors enumerated */
} alim_seqpmf_info;

/* Detects a lattice rho = a + h k (k integer) on the support, to relative tolerance tol.
 * Returns 1 and fills a, h, kmax if found with kmax <= max_k, else 0. A constant reward is
 * a lattice with h = 1, kmax = 0. */
int alim_seqpmf_lattice_detect(const alim_rdist *token, double tol, size_t max_k, double *a, double *h,
                               size_t *kmax);

/* The PMF of r_n under p_n, n >= 1. opt may be NULL (defaults); prog may be NULL. */
alim_status alim_seqpmf_compute(const alim_rdist *token, size_t n, const alim_seqpmf_options *opt,
                                alim_levels *out, alim_seqpmf_info *info, const alim_progress *prog,
                                alim_error *err);

typedef struct {
    size_t n;
    alim_bon_size N;          /* BoN size */
    double delta_nats;        /* per-token RL budget (RL total KL = n delta) */
    alim_tilt_solution rl;    /* per-token tilt: lambda*, x* = rl.pt.mean */
    alim_bon_result bon;      /* BoN on r_n: totals (kl_nats = KL(pi||p_n), reward = E r_n) */
    double bon_kl_to_rl_nats; /* KL(pi_BoN || phi_{n,lambda*}), total; +inf when saturated */
    alim_seqpmf_info pmf;
} alim_seq_result;

/* Exact finite-n comparison: BoN with N draws of n-token sequences against the KL-RL
 * optimum with total budget n delta. The lattice tilt is chosen where BoN lives
 * (theta = lambda*(log N / n), or near the top when that saturates); if best-of-N would put
 * more than 1e-25 on the lump, the PMF is recomputed without trimming, and ALIM_ERANGE is
 * returned if that still does not suffice. */
alim_status alim_seq_compare(const alim_rdist *token, size_t n, double delta_nats, alim_bon_size N,
                             const alim_seqpmf_options *opt, alim_seq_result *out, const alim_progress *prog,
                             alim_error *err);

/* Saddlepoint (Lugannani-Rice) approximation of P(r_n >= s) for n i.i.d. tokens: with
 * x = s/n, theta solving Lambda'(theta) = x, w = sgn(theta) sqrt(2 n I_p(x)) and
 * u = theta sqrt(n Lambda''(theta)) (continuous) or ((1 - e^{-theta h})/h) sqrt(n Lambda''(theta))
 * (lattice of span h > 0, s on the lattice: Daniels' correction),
 *     P ~ 1 - Phi(w) + phi(w) (1/u - 1/w).
 * An approximation (relative error ~1e-3 at n = 64), for tails far beyond what sampling can
 * reach; the exact value is the PMF's tail. NAN at x = E r (undefined there) or outside
 * (r_min, r_max]. */
double alim_seq_tail_saddlepoint(const alim_rdist *token, size_t n, double s, double h);

typedef struct {
    size_t samples;
    alim_mc_estimate reward_per_token; /* E_BoN[r_n]/n */
    alim_mc_estimate win_rate;         /* against one more sequence from p_n, ties 1/2 */
    alim_mc_estimate kl_nats;          /* KL(pi_BoN || p_n) = E_BoN[log g(r_n)], g from the exact PMF */
    alim_mc_estimate kl_to_rl_nats;    /* KL(pi_BoN || phi_{n,l*}) = E_BoN[log g - l* r_n + n Lambda(l*)];
                                        * NaN when the RL budget is saturated */
} alim_seq_mc_result;

/* Direct simulation check: `samples` times, draws N sequences of n tokens from p (seeded
 * xoshiro256**, stream 2), keeps the largest reward and compares it with one more sequence.
 * The KL estimates average the exact log-likelihood ratio log g = log(P_j/q_j) of the r_n PMF
 * at the simulated maxima, so they check that PMF against real best-of-N draws. delta_nats
 * is the per-token RL budget (for l*). Needs integer N with N x n x samples <= 4e9. */
alim_status alim_seq_mc(const alim_rdist *token, size_t n, double N, double delta_nats, size_t samples,
                        uint64_t seed, alim_seq_mc_result *out, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
