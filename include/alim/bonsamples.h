/* alim/bonsamples.h — the best-of-N family from samples, when the outcome space cannot be
 * enumerated (sequences of a real model): for each prompt (group) x, N_x draws from p(. | x)
 * with a proxy reward r, optionally a gold reward g and the sample's log-probability under p.
 *
 * Every curve is an unbiased U-statistic over the subsets of a group (never resampling):
 * with the group's rewards sorted, r_(1) <= ... <= r_(N), the maximum of a uniformly random
 * n-subset is the i-th smallest with probability C(i-1, n-1)/C(N, n), so
 *   E[max of n]       = sum_i r_(i) C(i-1, n-1)/C(N, n)                 (n <= N)
 * and, for tied rewards, the selected sample is uniform over the tied block (random ties):
 *   gold reward       = sum_blocks P(max = v) * mean of g over the block
 *   win rate vs Y'~p  = 1 - sum_v c_v [R(m_v + c_v - 1) + R(m_v)] / (2 (N - n))    (n <= N - 1)
 *   strict            = 1 - sum_v c_v R(m_v + c_v - 1) / (N - n)
 * where R(a) = C(a, n)/C(N, n), c_v samples have reward v and m_v have less (the U-statistic of
 * the n+1-sample kernel "best of n beats the held-out one"; n/(n+1) exactly without ties).
 * Soft best-of-n (Verdun et al.): E over n-subsets S of sum_{i in S} f_i e^{lambda r_i} / sum_{S}
 * e^{lambda r_j}, exact through 1/W = int_0^inf e^{-tW} dt and the elementary symmetric means of
 * (e^{-t w_j}, a_j e^{-t w_j}) as dual numbers (trapezoid rule in log t, reported step error).
 * Best-of-Poisson (N = 1 + Poisson(mu), mu = n - 1): the Poisson mixture of the U-statistics over
 * the sizes a group can supply, renormalised; the missing tail mass is reported (bias <= tail x
 * reward range): no unbiased estimator exists for an unbounded N.
 * KL (per group, then averaged): the bound log n - (n-1)/n; the plug-in exact best-of-n KL of the
 * group's empirical reward distribution (alim/bon.h; <= log N_x, so low when n nears N_x with
 * continuous rewards); Beirami et al.'s estimator d_n(eps) (alim_bon_kl_one_atom) at eps = p(y) of
 * the selected sample, averaged over the selection law (needs the logp column).
 * Prompt-level curves are means over groups (each prompt weight 1); intervals are percentile
 * bootstrap intervals over prompts, replicate b drawn from alim_rng stream (seed, b), so results
 * do not depend on the thread count. Units: nats. Functions never print.
 */
#ifndef ALIM_BONSAMPLES_H
#define ALIM_BONSAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Samples grouped by prompt. Group k holds samples [start[k], start[k+1]), sorted by reward
 * (stable: file order among ties); groups are in order of first appearance. */
typedef struct {
    size_t n_groups, n_samples;
    size_t *start;       /* n_groups + 1 */
    char **group_name;   /* the id as written (quotes removed) */
    double *r;           /* proxy reward */
    double *g;           /* gold reward, NULL when absent */
    double *logp;        /* log p(sample | prompt) in nats, NULL when absent */
    size_t *line;        /* source line of each sample (for messages) */
} alim_bon_samples;

/* Reads a CSV with a header naming its columns. Fields are separated by commas; a field may be
 * double-quoted ("" is a quote inside; commas and newlines allowed), so a text column can stay.
 * Blank lines and lines starting with '#' are skipped. Columns used (others ignored):
 *   group: group_col, or by default the first of "group", "prompt", "prompt_id" (none: one group)
 *   reward: reward_col, or by default "r" or "reward" (required; finite numbers)
 *   gold: "g" or "gold" (optional; finite)       logp: "logp" (optional; finite, <= 0)
 * Errors name "path:line" (ragged row, non-numeric or non-finite value, logp > 0) or the path
 * (missing column, no samples): ALIM_EFORMAT / ALIM_EINVAL. group_col/reward_col may be NULL. */
alim_status alim_bon_samples_read_csv(alim_bon_samples *s, const char *path, const char *group_col,
                                      const char *reward_col, alim_error *err);

/* The same from arrays: group[i] is the group index of sample i (groups need not be contiguous;
 * they are numbered 0..max in the result). g and logp may be NULL. */
alim_status alim_bon_samples_from_arrays(alim_bon_samples *s, const size_t *group, const double *r, const double *g,
                                         const double *logp, size_t n, alim_error *err);
void alim_bon_samples_free(alim_bon_samples *s);

/* Smallest and largest group size. */
void alim_bon_samples_group_sizes(const alim_bon_samples *s, size_t *min, size_t *max);

/* The quantities of a curve, in this order (NAN where undefined for a row). */
typedef enum {
    ALIM_BS_REWARD = 0,     /* E r of best-of-n */
    ALIM_BS_WIN_RATE,       /* vs an independent draw, ties 1/2 (n <= N - 1) */
    ALIM_BS_WIN_STRICT,     /* strict (n <= N - 1) */
    ALIM_BS_GOLD,           /* E g of the proxy-selected sample (gold column) */
    ALIM_BS_KL_PLUGIN,      /* exact best-of-n KL on each group's empirical reward law */
    ALIM_BS_KL_BEIRAMI,     /* Beirami et al.'s d_n(p(selected)) (logp column) */
    ALIM_BS_SOFT_REWARD,    /* soft best-of-n E r (with a lambda) */
    ALIM_BS_SOFT_GOLD,      /* soft best-of-n E g */
    ALIM_BS_BOP_REWARD,     /* Best-of-Poisson, mu = n - 1 */
    ALIM_BS_BOP_WIN_RATE,
    ALIM_BS_BOP_GOLD,
    ALIM_BS_NQ
} alim_bs_quantity;

/* "reward", "win_rate", "win_rate_strict", "gold_reward", "kl_plugin_nats", "kl_beirami_nats",
 * "soft_reward", "soft_gold_reward", "bop_reward", "bop_win_rate", "bop_gold_reward". */
const char *alim_bs_quantity_name(alim_bs_quantity q);

/* Selection law of best-of-n on one group's sorted rewards (random ties): w[i] = probability
 * that sample i is returned when n of the N samples are drawn without replacement. */
alim_status alim_bon_subset_max_weights(const double *r_sorted, size_t N, size_t n, double *w, alim_error *err);

/* One group's curves for n = 1..n_max (n_max <= N): out[q * n_max + (n - 1)] for every q.
 * r sorted ascending; g, logp may be NULL (their quantities are NAN), soft_lambda NAN for no soft
 * curve (else finite >= 0 with soft_lambda (max r - min r) <= 700). bop_tail (may be NULL) gets
 * n_max values: P(1 + Poisson(n - 1) > N - 1), the mass the Best-of-Poisson rows could not use.
 * soft_step_error (may be NULL): max relative change of the soft sums between steps h and 2h. */
alim_status alim_bon_samples_group_curve(const double *r, const double *g, const double *logp, size_t N,
                                         size_t n_max, double soft_lambda, double *out, double *bop_tail,
                                         double *soft_step_error, alim_error *err);

typedef struct {
    size_t n_max;       /* 0: the smallest group size */
    double soft_lambda; /* NAN: no soft curve */
    size_t bootstrap;   /* replicates (0: no intervals) */
    uint64_t seed;
    double level;       /* central interval probability, e.g. 0.95 */
} alim_bon_samples_options;

typedef struct {
    size_t n_max;
    int have_gold, have_logp, have_soft;
    double *value;           /* [q * n_max + n - 1]: mean over groups */
    double *lo, *hi;         /* bootstrap percentile bounds, NULL without bootstrap */
    double *bop_tail;        /* per n: max over groups of the unused Poisson mass */
    double soft_step_error;  /* max over groups */
} alim_bon_samples_curves;

/* Every group's curve, their mean, and bootstrap intervals over groups (percentiles of the B
 * replicate means, linear interpolation between order statistics as numpy's default).
 * ALIM_EINVAL ("n_max") when n_max exceeds the smallest group, naming that group. */
alim_status alim_bon_samples_curves_compute(const alim_bon_samples *s, const alim_bon_samples_options *opt,
                                            alim_bon_samples_curves *out, alim_error *err);
void alim_bon_samples_curves_free(alim_bon_samples_curves *c);

#ifdef __cplusplus
}
#endif
#endif
