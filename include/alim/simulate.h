/* alim/simulate.h — seeded simulator of the codebook mixture (spec bottleneck.md §2, §3, §8).
 *
 * The model is the mixture of an alim_scenario (alim/interval.h): each item draws
 * J ~ Unif{0..M-1}, S ~ P_S, U = J mod n_in(S) (the codebook convention of interval.c),
 * H ~ W_cog(.|U,S), Y ~ W_art(.|H,S). A learner sees (S, Y) (and, for the oracle-label
 * plug-in, J) and outputs a decoder f: (s, y) -> index in {0..M-1}; a decoder is an array
 * of uint32_t, one entry per "cell" (s, y), cells numbered context by context.
 *
 * Loss: the Δ-scaled index loss ℓ(a, u_j) = Δ·1[a != j] (Δ = the scenario's loss_gap), so the
 * codebook is Δ-separable and the interval's Δ·Fano bound applies; every risk below is in
 * these units (for Δ = 1, the probability of decoding the wrong index).
 *
 * Because the channels are known, the true risk of a decoder is computed exactly,
 *     R(f) = Δ·(1 - Σ_s P(s) Σ_y W_casc(y | u_f(s,y), s) / M),
 * and the canonical observable loss of §3 is ℓ̃(a; s, y) = Δ·P(J != a | S=s, Y=y).
 *
 * Randomness comes only from alim_rng streams seeded from (seed, stream), one stream per
 * (experiment, replicate, purpose); replicates run in parallel (OpenMP) but each one's
 * numbers depend only on its streams, so results are bit-identical for any thread count.
 * All information quantities are in nats.
 */
#ifndef ALIM_SIMULATE_H
#define ALIM_SIMULATE_H

#include <stddef.h>
#include <stdint.h>

#include "alim/interval.h"
#include "alim/progress.h"
#include "alim/rng.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits of the dense simulator: M <= ALIM_SIM_MAX_M and cells * M <= ALIM_SIM_MAX_TABLE
 * (the count table of the learners). Channels must be dense (MSC stages up to
 * ALIM_MSC_DENSE_MAX). */
#define ALIM_SIM_MAX_M 65536
#define ALIM_SIM_MAX_TABLE (1u << 24)

typedef struct alim_sim_model alim_sim_model; /* opaque */

/* Builds the channels of every context (alim_channel_spec_build + alim_channel_compose) and
 * the sampling tables. Errors (ALIM_EINVAL) name the context when a stage cannot be built,
 * the stages do not chain, or the model exceeds the limits above. */
alim_status alim_sim_model_alloc(const alim_scenario *s, alim_sim_model **out, alim_error *err);
void alim_sim_model_free(alim_sim_model *m);

size_t alim_sim_model_codebook_size(const alim_sim_model *m); /* M */
size_t alim_sim_model_contexts(const alim_sim_model *m);
size_t alim_sim_model_cells(const alim_sim_model *m);          /* Σ_s |Y(s)| */
double alim_sim_model_loss_gap(const alim_sim_model *m);       /* Δ */
/* Cell index of (context s, output y); (size_t)-1 if out of range. */
size_t alim_sim_cell(const alim_sim_model *m, size_t s, size_t y);
/* P(S=s, Y=y) of cell c, and P(S=s, Y=y, J=j). */
double alim_sim_cell_prob(const alim_sim_model *m, size_t c);
double alim_sim_joint(const alim_sim_model *m, size_t c, size_t j);
/* Canonical loss ℓ̃(a; c) = Δ·P(J != a | cell c) (Δ(1 - 1/M) for a cell of probability 0). */
double alim_sim_canonical_loss(const alim_sim_model *m, size_t c, size_t a);

/* Draws one item through the two channels: J, then S, U = J mod n_in, H, Y. */
void alim_sim_draw(const alim_sim_model *m, alim_rng *rng, size_t *j, size_t *cell);

/* Exact true risk of decoder f (length cells, entries < M). */
double alim_sim_risk_exact(const alim_sim_model *m, const uint32_t *f);
/* The Bayes (MAP) decoder: argmax_j P(J=j | cell), ties to the smallest index. */
void alim_sim_bayes_decoder(const alim_sim_model *m, uint32_t *f);

/* A Monte-Carlo estimate of a risk: mean, standard error and a 95% confidence interval
 * (Wilson score interval of the error frequency, times Δ). */
typedef struct {
    double mean, se, ci_low, ci_high;
    size_t n;
} alim_sim_estimate;

/* Wilson score interval for k successes out of n at normal quantile z (1.959963984540054
 * for 95%); n = 0 gives [0, 1]. */
void alim_sim_wilson(size_t k, size_t n, double z, double *low, double *high);
/* Estimates the risks of n_dec decoders on the same n_test fresh items drawn from rng. */
void alim_sim_risk_mc(const alim_sim_model *m, const uint32_t *const *decoders, size_t n_dec, size_t n_test,
                      alim_rng *rng, alim_sim_estimate *out);

/* ---- learners (spec §8, E1) ------------------------------------------------------------
 * Each learner sees a training set summarised by counts N[c*M + j] = #items with cell c and
 * index j (sufficient for all three):
 *   PLUGIN_MAP     f(c) = argmax_j N(c, j) (oracle labels J); a cell never seen falls back
 *                  to argmax_j N(., j); ties go to the smallest index.
 *   ERM_CANONICAL  ERM of the canonical loss over ALL decoders (s,y) -> index: the empirical
 *                  risk Σ_c N(c) ℓ̃(f(c); c) splits per cell, so f(c) = argmin_a ℓ̃(a; c) on seen
 *                  cells (= the Bayes decoder there) and index 0 (every index ties) elsewhere.
 *                  Uses only (s, y) and the known posterior.
 *   LOGISTIC       multinomial logistic regression of J on one-hot(cell) plus a bias:
 *                  full-batch gradient descent on the mean cross-entropy + (l2/2)·|W|² (bias
 *                  not penalised), from zero; f(c) = argmax_j W[c][j] + b[j]. */
typedef enum { ALIM_SIM_PLUGIN_MAP = 0, ALIM_SIM_ERM_CANONICAL, ALIM_SIM_LOGISTIC, ALIM_SIM_N_LEARNERS } alim_sim_learner;

/* "plugin-map", "erm-canonical", "logistic". */
const char *alim_sim_learner_name(alim_sim_learner l);

typedef struct {
    size_t steps;         /* gradient steps; default 300 */
    double learning_rate; /* default 1.0 (the loss is (1 + l2)-smooth, so any rate < 2 is stable) */
    double l2;            /* default 1e-4 */
} alim_sim_logistic_options;

#define ALIM_SIM_LOGISTIC_OPTIONS_DEFAULT {300, 1.0, 1e-4}

/* Fits learner l to counts (cells*M entries) and writes its decoder to f. opt may be NULL. */
alim_status alim_sim_fit(const alim_sim_model *m, alim_sim_learner l, const uint32_t *counts,
                         const alim_sim_logistic_options *opt, uint32_t *f, alim_error *err);

/* ---- E1: data independence ------------------------------------------------------------- */

typedef struct {
    const double *m_values; /* training-set sizes; NULL = 10, 100, 1000, 1e4, 1e5 */
    size_t n_m;
    size_t replicates;      /* datasets per m; default 10 */
    size_t test_items;      /* fresh items for the Monte-Carlo risk; default 100000 */
    uint64_t seed;          /* default 1 */
    alim_sim_logistic_options logistic;
} alim_sim_e1_options;

#define ALIM_SIM_E1_OPTIONS_DEFAULT {NULL, 0, 10, 100000, 1, ALIM_SIM_LOGISTIC_OPTIONS_DEFAULT}

typedef struct {
    double m;
    alim_sim_learner learner;
    size_t replicate;
    double risk_exact;       /* exact true risk of the learned decoder */
    alim_sim_estimate risk_mc; /* on test_items fresh items */
    int done;                /* 0 if the run was stopped before this row */
} alim_sim_e1_row;

typedef struct {
    double m;
    alim_sim_learner learner;
    size_t n;                   /* rows that ran */
    double mean_exact, sd_exact; /* over replicates */
    double mean_mc;
    double min_mc_minus_3se;    /* min over replicates of risk_mc - 3 SE */
    double min_exact;
    double excess;              /* mean_exact - Δ·R* */
} alim_sim_e1_summary;

typedef struct {
    size_t M, n_cells;
    double loss_gap;
    double lower_bound;  /* Δ·F-strong(C̄_tot|S), from alim_interval_compute */
    double lb_casc;      /* Δ·F-strong(C̄_casc|S) */
    double lb_info;      /* Δ·F-strong(I(U;Y|S)) */
    double bayes_risk;   /* Δ·R* (the interval's MAP error, checked against the simulator's) */
    double c_tot_upper_nats, info_nats;
    size_t n_m, replicates, test_items;
    uint64_t seed;
    size_t n_rows;
    alim_sim_e1_row *rows; /* m-major, then replicate, then learner; owned */
    alim_sim_e1_summary *summary; /* n_m * ALIM_SIM_N_LEARNERS, m-major; owned */
    /* checks */
    int mc_above_lb;       /* risk_mc - 3 SE >= lower_bound in every row that ran */
    double min_margin;     /* min over rows of risk_mc - 3 SE - lower_bound */
    int exact_above_bayes; /* risk_exact >= Δ·R* - 1e-12 in every row (a theorem; sanity check) */
    int gap_shrinks[ALIM_SIM_N_LEARNERS]; /* mean excess at the last m <= mean excess at the first m
                                             (m values in the order given) */
    double ci_coverage;    /* fraction of rows whose 95% CI contains risk_exact (about 0.95) */
    int stopped;           /* the progress callback asked to stop; rows with done = 0 did not run */
} alim_sim_e1_result;

/* Runs E1. The progress stage is "simulate e1", counted in (m, replicate) tasks; a non-zero
 * return from the callback stops the run (ALIM_OK, stopped = 1, partial rows). Errors:
 * ALIM_EINVAL for an empty sweep, an m < 1 or > 1e9, replicates or test_items = 0, or a
 * scenario the simulator cannot build. */
alim_status alim_simulate_e1(const alim_scenario *s, const alim_sim_e1_options *opt, const alim_progress *progress,
                             alim_sim_e1_result *out, alim_error *err);
void alim_sim_e1_result_free(alim_sim_e1_result *r);

/* ---- E4: PAC-Bayes coverage -------------------------------------------------------------
 * Class H = all decoders (s,y) -> index (|H| = M^cells), uniform prior P, Gibbs posterior
 * Q_D(h) ∝ exp(-λ·m·R̂(h)) with R̂ the empirical canonical loss. R̂ splits per cell, so Q_D is a
 * product over cells, q_c(a) ∝ exp(-λ N_c ℓ̃(a; c)), and R̂(Q), KL(Q‖P) = Σ_c KL(q_c‖Unif) and
 * the true R(Q) are exact sums (no enumeration of H). Bounds per dataset:
 *   measured  kl⁻¹₊(R̂(Q), [KL(Q‖P) + ln(ξ(m)/δ)]/m)         (holds w.p. >= 1-δ)
 *   budget    kl⁻¹₊(R̂(Q), [B/η + ln(ξ(m)/δ)]/m),             (holds w.p. >= 1-δ-η)
 *             B = m(C̄_tot|S + I(U;S)) + ρ + KL(Q̄‖P) from the scenario (alim_interval_upper_at)
 * ξ(m) exact, or 2√m when the scenario says "xi": "2sqrtm". */

/* The Gibbs posterior of E4 for one dataset, given its cell counts n[0..cells) (m = Σ n):
 * writes R̂(Q) (*emp_risk), KL(Q‖P) in nats (*kl_nats) and the exact R(Q) (*true_risk).
 * ALIM_ENOMEM is the only error. */
alim_status alim_sim_gibbs(const alim_sim_model *m, const uint32_t *n, double lambda, double *emp_risk,
                           double *kl_nats, double *true_risk, alim_error *err);

typedef struct {
    double m;              /* training-set size; 0 = the scenario's m */
    size_t replicates;     /* datasets; default 1000 */
    double lambda;         /* inverse temperature per item; default 1 */
    uint64_t seed;         /* default 1 */
    double max_class_log2; /* refuse when log2|H| = cells·log2 M exceeds this; default 20 */
} alim_sim_e4_options;

#define ALIM_SIM_E4_OPTIONS_DEFAULT {0, 1000, 1.0, 1, 20}

typedef struct {
    size_t replicate;
    double emp_risk;    /* R̂(Q_D) */
    double kl_nats;     /* KL(Q_D‖P) */
    double true_risk;   /* R(Q_D), exact */
    double ub_measured, ub_budget;
    int covered_measured, covered_budget; /* true_risk <= bound */
    int done;
} alim_sim_e4_row;

typedef struct {
    size_t M, n_cells;
    double m, lambda, delta, eta, loss_gap;
    double class_log2;   /* log2 |H| */
    double kl_max_nats;  /* cells·ln M, the largest possible KL(Q‖P) */
    double budget_nats;  /* B */
    double lower_bound, lb_info, bayes_risk; /* as in E1 */
    size_t replicates, n_done;
    uint64_t seed;
    alim_sim_e4_row *rows; /* owned */
    size_t n_covered_measured, n_covered_budget;
    alim_sim_estimate coverage_measured, coverage_budget; /* fractions, Wilson 95% CI */
    /* control: how often R(Q_D) <= R̂(Q_D), i.e. the "bound" without a complexity term; far
     * below 1 - δ, it shows that the coverage statistic can detect a bound that fails */
    size_t n_covered_naive;
    alim_sim_estimate coverage_naive;
    double mean_emp_risk, mean_true_risk, min_true_risk;
    double mean_kl_nats, max_kl_nats;
    double frac_kl_above_budget; /* fraction of datasets with KL(Q_D‖P) > B/η (Markov: <= η if E KL <= B) */
    double mean_ub_measured, mean_ub_budget;
    /* checks: the Wilson upper end reaches the target, i.e. the data do not reject coverage >= target */
    int measured_ok;  /* target 1 - δ */
    int budget_ok;    /* target 1 - δ - η */
    int above_lb;     /* R(Q_D) >= lower_bound for every dataset (Fano holds for Gibbs too) */
    int kl_within_budget; /* mean KL(Q_D‖P) <= B: the premise E_D KL <= B of the budget bound, whose
                             ρ and KL(Q̄‖P) come from the scenario (default 0), holds empirically */
    int stopped;
} alim_sim_e4_result;

/* Runs E4. Progress stage "simulate e4", counted in replicates; stopping as for E1.
 * Errors: ALIM_EINVAL for m < 1 or > 1e9, replicates = 0, λ not finite or < 0, a class above
 * max_class_log2 (the message gives log2 |H|), or a scenario the simulator cannot build. */
alim_status alim_simulate_e4(const alim_scenario *s, const alim_sim_e4_options *opt, const alim_progress *progress,
                             alim_sim_e4_result *out, alim_error *err);
void alim_sim_e4_result_free(alim_sim_e4_result *r);

#ifdef __cplusplus
}
#endif
#endif
