/* alim/channel.h — discrete memoryless channels and their capacity.
 *
 * A channel W is a row-stochastic matrix: W[x][y] = P(Y=y | X=x), rows = inputs,
 * columns = outputs. Capacity C = max_p I_p(X;Y) is computed by Blahut–Arimoto with a
 * certified bracket: at every iteration
 *     I_L = log sum_x r(x) exp(D(x)) <= C <= I_U = max_x D(x),   D(x) = KL(W(.|x) || q_r)
 * (Blahut 1972, Arimoto 1972), so the solver reports [lower, upper] and never a bare
 * midpoint. All quantities are in nats.
 *
 * Life cycle (GSL style): alim_ba_alloc -> alim_ba_iterate (repeatedly) -> alim_ba_free;
 * or the one-call alim_channel_capacity().
 */
#ifndef ALIM_CHANNEL_H
#define ALIM_CHANNEL_H

#include <stddef.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t nx, ny; /* inputs, outputs */
    double *w;     /* nx*ny, row-major, owned */
} alim_channel;

/* Tolerance for row sums used by alim_channel_from_matrix when tol <= 0. */
#define ALIM_CHANNEL_ROW_TOL 1e-9

/* Copies an nx*ny row-major matrix into a channel after checking it: entries finite and
 * >= 0, every row summing to 1 within tol (or, with normalize, to something > 0, in which
 * case rows are divided by their sums). Errors name `where` and the 1-based row. */
alim_status alim_channel_from_matrix(alim_channel *c, const double *w, size_t nx, size_t ny,
                                     double tol, int normalize, const char *where, alim_error *err);
void alim_channel_free(alim_channel *c);

/* Standard families. p, e in [0,1].
 *   bsc(p):    binary symmetric, flips with probability p;
 *   bec(e):    binary erasure, outputs (0, erased, 1);
 *   z(p):      Z channel, 0 -> 0 always, 1 -> 0 with probability p;
 *   msc(M, p): M-ary symmetric, correct with 1-p, else uniform over the M-1 others (M >= 2). */
alim_status alim_channel_bsc(alim_channel *c, double p, alim_error *err);
alim_status alim_channel_bec(alim_channel *c, double e, alim_error *err);
alim_status alim_channel_z(alim_channel *c, double p, alim_error *err);
alim_status alim_channel_msc(alim_channel *c, size_t m, double p, alim_error *err);

/* Cascade: out = a then b, the matrix product a.w * b.w (a.ny must equal b.nx). */
alim_status alim_channel_compose(const alim_channel *a, const alim_channel *b, alim_channel *out,
                                 alim_error *err);

/* I(X;Y) in nats for the input law px (length nx; not validated). */
double alim_channel_mutual_information(const alim_channel *c, const double *px);

/* Error of the MAP decoder of X from Y under input law px: 1 - sum_y max_x px(x) W(y|x). */
double alim_channel_map_error(const alim_channel *c, const double *px);

/* ---- Blahut–Arimoto ----------------------------------------------------------------- */

typedef struct alim_ba alim_ba; /* opaque solver state */

/* Prepares a solver for channel c (which must outlive it). All-zero output columns are
 * dropped; the input law starts uniform. */
alim_status alim_ba_alloc(const alim_channel *c, alim_ba **out, alim_error *err);
/* One Blahut–Arimoto step: computes the bracket for the current input law, then updates
 * the law. Returns the raw gap upper - lower (0 once converged exactly). */
double alim_ba_iterate(alim_ba *s);
/* The bracket of the last iteration, widened by a floating-point rounding margin so that
 * lower <= C <= upper holds in floating point too. */
void alim_ba_bracket(const alim_ba *s, double *lower_nats, double *upper_nats);
/* The input law r at which the last bracket was evaluated (length nx, not owned). */
const double *alim_ba_input(const alim_ba *s);
size_t alim_ba_iterations(const alim_ba *s);
void alim_ba_free(alim_ba *s);

typedef struct {
    double tol;      /* stop when upper - lower < tol (nats); default 1e-12 */
    size_t max_iter; /* default 1000000 */
} alim_capacity_options;

#define ALIM_CAPACITY_OPTIONS_DEFAULT {1e-12, 1000000}

typedef struct {
    double lower_nats, upper_nats; /* certified: lower <= C <= upper */
    double *input;                 /* nx: the capacity-achieving input law found, owned */
    size_t nx;
    size_t iterations;
    int converged; /* 1 if upper - lower < tol was reached within max_iter */
} alim_capacity;

/* Runs Blahut–Arimoto to the tolerance. Not converging within max_iter is not an error:
 * the bracket is still certified and `converged` is 0. opt may be NULL (defaults). */
alim_status alim_channel_capacity(const alim_channel *c, const alim_capacity_options *opt,
                                  alim_capacity *out, alim_error *err);
void alim_capacity_free(alim_capacity *r);

#ifdef __cplusplus
}
#endif
#endif
