/* alim/rdist.h — a reward distribution: outcomes y with reference probability p(y) and
 * reward r(y), the input of the asymptotics engine (tilt, best-of-N, sequence PMFs).
 *
 * The law is read from a two-column table "p,r" (one row per outcome) or built from
 * arrays. Probabilities must be finite and >= 0 and sum to 1 within a tolerance (or, with
 * `normalize`, to anything > 0); they are then divided by their sum, so the stored p sums
 * to 1 up to rounding. Rewards must be finite (any sign). Outcomes with p = 0 are kept
 * (so policies line up with the input rows) but take no part in any summary: the support
 * S is {y : p(y) > 0}. All logarithms are natural (nats).
 */
#ifndef ALIM_RDIST_H
#define ALIM_RDIST_H

#include <stddef.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default tolerance on |sum p - 1|. */
#define ALIM_RDIST_SUM_TOL 1e-9

typedef struct {
    size_t n;       /* outcomes (rows), including any with p = 0 */
    double *p, *r;  /* n each, owned; p normalised to sum 1 */
    size_t support; /* outcomes with p > 0 */
    /* Summaries over the support: */
    double r_min, r_max;
    double p_top, p_bottom; /* p(A), A = {r = r_max}; p{r = r_min} */
    double gap_top;         /* r_max - (largest support reward below r_max); INFINITY if none */
    double gap_bottom;      /* (smallest support reward above r_min) - r_min; INFINITY if none */
    double mean;            /* E_p r, compensated */
    double kappa[7];        /* cumulants kappa_2..kappa_6 of r under p (kappa[0], kappa[1] unused) */
    double max_dev;         /* max |r - mean| over the support */
} alim_rdist;

/* A Monte Carlo estimate with its ~95% confidence interval (used by the engine's validators). */
typedef struct {
    double mean, lo, hi;
} alim_mc_estimate;

/* Copies and validates arrays p, r of length n. `where` names the source in messages
 * ("dist.csv"); the error names the 1-based entry. tol <= 0 means ALIM_RDIST_SUM_TOL. */
alim_status alim_rdist_from_arrays(alim_rdist *d, const double *p, const double *r, size_t n,
                                   double tol, int normalize, const char *where, alim_error *err);

/* Reads a "p,r" table with alim_matrix_read_csv (optional header, '#' comments) and
 * validates it; errors name "path:line". Exactly two columns are required. */
alim_status alim_rdist_read_csv(alim_rdist *d, const char *path, double tol, int normalize,
                                alim_error *err);

void alim_rdist_free(alim_rdist *d);

#ifdef __cplusplus
}
#endif
#endif
