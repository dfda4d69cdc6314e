/* alim/bounds.h — risk bounds of the alignment bottleneck (spec bottleneck.md §2, §3, §5.3–5.5).
 *
 * Lower bounds (Fano) hold for every learner; upper bounds (PAC-Bayes) for a Gibbs
 * learner. Risks are in [0, 1] for 0-1 loss (multiply by the loss gap Δ for a
 * Δ-separable codebook); information and capacities are in nats. Value complexity is
 * given as log M in nats so that M far beyond 2^64 works (M = e^log_m).
 */
#ifndef ALIM_BOUNDS_H
#define ALIM_BOUNDS_H

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* phi_M(p) = h(p) + p log(M-1), increasing on [0, 1 - 1/M], phi_M(1 - 1/M) = log M. */
double alim_fano_phi(double p, double log_m);

/* F-weak: max{0, 1 - (I + log 2)/log M}. NAN if log_m <= 0 or I < 0 / NaN. */
double alim_fano_weak(double log_m, double info_nats);
/* F-strong: phi_M^{-1}(log M - I) on [0, 1 - 1/M] (0 when I >= log M). */
double alim_fano_strong(double log_m, double info_nats);

/* Capacity (nats) needed so that the Fano bound allows risk eps (spec P2):
 * weak:   max{0, (1 - eps) log M - log 2};
 * strong: max{0, log M - h(eps) - eps log(M-1)} for eps <= 1 - 1/M, else 0. */
double alim_fano_required_weak(double log_m, double eps);
double alim_fano_required_strong(double log_m, double eps);

/* kl^{-1}_+(q, c) = sup{p in [q,1]: kl(q||p) <= c} and kl^{-1}_-(q, c) = inf{p in [0,q]: ...}.
 * c <= 0 gives q. Accurate to a few ulps (bisection to 4 DBL_EPSILON, exact at q = 0). */
double alim_kl_inverse_upper(double q, double c);
double alim_kl_inverse_lower(double q, double c);

/* xi(m) = sum_k C(m,k) (k/m)^k (1-k/m)^(m-k), in log space; exact O(m) sum for
 * m <= 1e7, above that its upper bound 2 sqrt(m). log_xi returns its logarithm. */
double alim_pacbayes_xi(double m);
double alim_pacbayes_log_xi(double m);

typedef enum {
    ALIM_PB_KL_XI = 0,    /* Maurer/Seeger: kl(R^||R) <= (KL + ln(xi(m)/delta))/m, exact xi(m) */
    ALIM_PB_KL_2SQRTM,    /* the same with xi(m) replaced by its bound 2 sqrt(m) */
    ALIM_PB_PINSKER,      /* McAllester/Maurer: R <= R^ + sqrt((KL + ln(2 sqrt(m)/delta)) / (2m)) */
    ALIM_PB_CATONI        /* Catoni, fixed C > 0: R <= (1 - exp(-C R^ - (KL + ln(1/delta))/m)) / (1 - e^-C) */
} alim_pacbayes_form;

/* Upper bound on the Gibbs risk R(Q) holding with probability >= 1 - delta.
 * emp_risk in [0,1], kl_nats >= 0 (KL(Q||P)), m >= 1 labels, delta in (0,1),
 * catoni_c > 0 (used by ALIM_PB_CATONI only). Result clamped to [0, 1]; NAN on bad input. */
double alim_pacbayes_bound(alim_pacbayes_form form, double emp_risk, double kl_nats, double m,
                           double delta, double catoni_c);

/* Name of a form ("kl-xi", "kl-2sqrtm", "pinsker", "catoni") and its inverse (-1 if unknown). */
const char *alim_pacbayes_form_name(alim_pacbayes_form form);
int alim_pacbayes_form_parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif
