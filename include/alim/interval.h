/* alim/interval.h — the alignment performance interval (spec bottleneck.md §1–§5).
 *
 * A scenario is the codebook mixture of §2: J ~ Unif{1..M}, context S ~ P_S, U = u_J,
 * H ~ W_cog(.|U,S), Y ~ W_art(.|H,S). For each context the engine computes the cognitive,
 * articulation and exact cascade capacities (certified Blahut–Arimoto brackets), then
 *   lower bound  Δ·F-strong(M, C̄_tot|S)           holds for every learner, any m;
 *   upper bound  kl⁻¹₊(R̂, [B/η + ln(ξ(m)/δ)]/m)    PAC-Bayes, capacity-budget mode,
 * with B = m·(C̄_tot|S + I(U;S)) + ρ + KL(Q̄‖P). Both use the UPPER end of the capacity
 * bracket, so they stay valid despite the solver's finite tolerance (§5.2).
 *
 * Codebook: codeword j (0-based) is channel input j mod n_in, so with M equal to the
 * cognitive channel's input size every input is one codeword; with fewer inputs than M
 * several codewords share an input (the index then cannot be decoded better than its
 * input allows, and I(J;Y|S) = I(U;Y|S) for the induced input law).
 * All information quantities are in nats.
 */
#ifndef ALIM_INTERVAL_H
#define ALIM_INTERVAL_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "alim/bounds.h"
#include "alim/channel.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ALIM_CHAN_MATRIX, ALIM_CHAN_BSC, ALIM_CHAN_BEC, ALIM_CHAN_Z, ALIM_CHAN_MSC } alim_channel_kind;

/* A channel as the scenario names it: a family with its parameter, or a matrix. */
typedef struct {
    alim_channel_kind kind;
    double param;          /* p (bsc, z, msc) or e (bec) */
    size_t size;           /* msc alphabet size; 0 = the scenario's M */
    alim_channel matrix;   /* ALIM_CHAN_MATRIX only, owned */
} alim_channel_spec;

typedef struct {
    double weight; /* P_S(s) */
    alim_channel_spec cognitive, articulation;
} alim_context_spec;

/* Largest M-ary symmetric channel materialised as a dense matrix; larger ones are
 * handled in closed form when both stages of a context are MSC of the same size. */
#define ALIM_MSC_DENSE_MAX 4096

typedef struct {
    double log_m;               /* ln M (nats); M >= 2 */
    double loss_gap;            /* Δ in (0, 1]; default 1 */
    double m;                   /* number of labels, >= 1 */
    double delta, eta;          /* confidence and Markov slack; defaults 0.05, 0.5 */
    double empirical_risk;      /* R̂(Q_D) in [0,1]; NAN = use the Bayes risk */
    double rho_nats;            /* residual ρ = I(W;D|U^m) >= 0; default 0 */
    double prior_mismatch_nats; /* KL(Q̄‖P) >= 0; default 0 */
    double info_us_nats;        /* I(U;S) >= 0; default 0 (codebook mixture) */
    double kl_measured_nats;    /* KL(Q_D‖P) when known (measured-KL mode); NAN = not given */
    alim_pacbayes_form form;    /* high-probability upper bound: kl-xi (default), kl-2sqrtm, pinsker, catoni */
    double catoni_c;            /* Catoni's C > 0; default 1 */
    size_t n_contexts;
    alim_context_spec *contexts; /* owned */
    alim_capacity_options ba;
} alim_scenario;

/* Reads a scenario from parsed JSON (format in docs/formats.md). Unknown keys, wrong types,
 * impossible probabilities and weights that do not sum to 1 are errors naming `where`
 * and the key path (e.g. "scen.json: contexts[1].cognitive"). */
alim_status alim_scenario_from_json(const cJSON *json, const char *where, alim_scenario *out,
                                    alim_error *err);
/* Reads and parses a scenario file. */
alim_status alim_scenario_read(const char *path, alim_scenario *out, alim_error *err);
void alim_scenario_free(alim_scenario *s);
/* Builds the channel a spec names (M is used for an msc of size 0). */
alim_status alim_channel_spec_build(const alim_channel_spec *spec, double log_m, alim_channel *out,
                                    alim_error *err);
const char *alim_channel_kind_name(alim_channel_kind kind);

typedef struct {
    double weight;
    double cog_lower, cog_upper;   /* C_cog(s) bracket */
    double art_lower, art_upper;   /* C_art(s) */
    double casc_lower, casc_upper; /* C_casc(s), capacity of W_cog·W_art */
    double tot_lower, tot_upper;   /* C_tot(s) = min(C_cog, C_art) */
    double info_nats;              /* I(U;Y|S=s) under the uniform codebook */
    double bayes_risk;             /* MAP error of J from (s, Y) in this context */
    int binding_stage;             /* 0 = cognitive binds (C_cog <= C_art), 1 = articulation */
    int closed_form;               /* 1 if computed by MSC closed forms, not Blahut–Arimoto */
} alim_context_result;

typedef struct {
    size_t n_contexts;
    alim_context_result *contexts; /* owned */
    double c_tot_lower, c_tot_upper;   /* C̄_tot|S bracket */
    double c_casc_lower, c_casc_upper; /* C̄_casc|S bracket */
    double info_nats;                  /* I(U;Y|S) */
    double bayes_risk;                 /* R* of the 0-1 index loss */
    /* Fano lower bounds (already multiplied by Δ), with C̄_tot (upper end), C̄_casc (upper end)
     * and the exact I: weak and strong. LB(C̄_tot) <= LB(C̄_casc) <= LB(I) <= Δ·R*. */
    double lb_weak_tot, lb_strong_tot, lb_weak_casc, lb_strong_casc, lb_weak_info, lb_strong_info;
    double lower_bound;        /* = lb_strong_tot, the paper's bound */
    double empirical_risk;     /* the R̂ used */
    int empirical_is_bayes;    /* 1 if R̂ was not given and the Bayes risk was used */
    double budget_nats;        /* B */
    double ub_high_prob;       /* probability >= 1 - δ - η, with the scenario's form */
    double ub_forms[4];        /* the same bound in each alim_pacbayes_form */
    double ub_expectation;     /* bound on E_D R(Q_D) */
    double ub_measured;        /* measured-KL mode, probability >= 1 - δ; NAN if KL not given */
    double upper_bound;        /* = ub_high_prob */
} alim_interval;

/* Computes every channel quantity and both bounds at the scenario's m. */
alim_status alim_interval_compute(const alim_scenario *s, alim_interval *out, alim_error *err);
/* Re-evaluates the three upper bounds of an already computed interval at another m.
 * ub_high_prob uses the scenario's form; ub_expectation and ub_measured the kl form. */
void alim_interval_upper_at(const alim_scenario *s, const alim_interval *iv, double m, double *ub_high_prob,
                            double *ub_expectation, double *ub_measured);
void alim_interval_free(alim_interval *iv);

#ifdef __cplusplus
}
#endif
#endif
