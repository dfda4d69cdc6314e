/* alim/residual.h — the residual term rho of the PAC-Bayes budget, by exact enumeration
 * (spec bottleneck.md §3 and the §6 "residual rho" example; prediction P3).
 *
 * A proxy learner that fits raw labels gathers information I(W;D) about its data; only
 * I(W;U^m) of it is about the intended values, and that part is capped by m·C̄_tot|S. The
 * rest, rho = I(W;D | U^m), is information about the channel's noise. All values in nats.
 */
#ifndef ALIM_RESIDUAL_H
#define ALIM_RESIDUAL_H

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double i_wd;       /* I(W;D) = H(W) for a deterministic learner */
    double i_wu;       /* I(W;U^m): the useful part */
    double rho;        /* I(W;D|U^m) = i_wd - i_wu */
    double cap_info;   /* m·I(U;Y), the cap with the cascade's exact information */
    double cap_tot;    /* m·C̄_tot|S = m·min(C_cog, C_art) */
} alim_residual;

/* Binary values U_i uniform, a cascade BSC(p1) then BSC(p2) (one context), m odd labels,
 * and the learner W = majority(Y_1..Y_m). Exact by summing over the number of ones in U^m
 * (O(m^2) terms), so m in the thousands is instant. */
alim_status alim_residual_majority(unsigned m, double p1, double p2, alim_residual *out, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
