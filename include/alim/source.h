/* alim/source.h — first-order Markov chains and the synthetic Markov-mixture source S
 * of the elasticity lab (docs/elastic.md, spec §4.3).
 *
 * A chain has n <= 256 symbols, an initial law (the row of BOS) and an n x n transition
 * matrix. Documents are the first `len` symbols after BOS. Entropies are in nats and exact:
 * the entropy rate from the stationary law, the entropy of a whole document by
 * propagating the marginal law of each position.
 *
 * The source S: K components over n symbols. Component 0 (C1, "neutral") gives every row
 * `branching` random successors with Zipf(s) probabilities (the first successor drawn
 * gets weight 1, the j-th 1/j^s). Components 1..K-1 redraw the first `n_decision` rows
 * ("decision contexts") with supports disjoint from C1's row and from each other; the
 * other rows and the BOS row (uniform over the n symbols) are shared by all components.
 * Everything is fixed by the seed. Symbol s is written as the byte '0' + s.
 */
#ifndef ALIM_SOURCE_H
#define ALIM_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "alim/corpus.h"
#include "alim/rng.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ALIM_SOURCE_MAX_COMPONENTS = 8 };

typedef struct {
    size_t n;     /* number of symbols, 1..256                                  */
    double *init; /* (n) law of the first symbol (the BOS row)                  */
    double *P;    /* (n*n) row-major transitions P[s*n + s'] = p(s' | s)        */
    double *cdf;  /* (n + n*n) cumulative sums of init and of each row (sampling) */
} alim_markov;

alim_status alim_markov_alloc(alim_markov *m, size_t n, alim_error *err);
void alim_markov_free(alim_markov *m);
/* Recomputes the sampling tables after init or P changed. */
void alim_markov_prepare(alim_markov *m);
/* Every row (and init) must be a probability vector within tol. */
alim_status alim_markov_check(const alim_markov *m, double tol, const char *where, alim_error *err);

/* Stationary law by power iteration on the lazy chain (P + I)/2 (same fixed point, no
 * periodicity trouble), stopped when ||pi P - pi||_1 <= tol; *residual gets the final
 * ||pi P - pi||_1. ALIM_ENOCONV after max_iter iterations. */
alim_status alim_markov_stationary(const alim_markov *m, double *pi, double tol, size_t max_iter,
                                   double *residual, alim_error *err);
/* Entropy rate sum_s pi(s) H(P[s,.]) in nats. */
double alim_markov_entropy_rate(const alim_markov *m, const double *pi);
/* Exact entropy of X_1..X_len after BOS in nats: H(init) + sum_{t<len} sum_s mu_t(s) H(P[s,.]),
 * mu_t the marginal law of X_t. If marginals != NULL it receives mu_1..mu_len (len*n). */
double alim_markov_doc_entropy(const alim_markov *m, size_t len, double *marginals);
/* log p(x_1..x_len) in nats (-inf if impossible). */
double alim_markov_doc_logprob(const alim_markov *m, const uint8_t *x, size_t len);
/* Draws x_1..x_len. */
void alim_markov_sample(const alim_markov *m, alim_rng *r, uint8_t *x, size_t len);

typedef struct {
    size_t n_symbols;    /* 64 */
    size_t doc_len;      /* 128 */
    size_t n_components; /* 3 */
    size_t n_decision;   /* 16: rows 0..15 differ between components */
    size_t branching;    /* 8 successors per row */
    double zipf_s;       /* 1.0 */
    uint64_t seed;       /* 1 */
} alim_source_config;

typedef struct {
    alim_source_config cfg;
    alim_markov comp[ALIM_SOURCE_MAX_COMPONENTS];
} alim_source;

void alim_source_config_default(alim_source_config *c);
/* Errors (EINVAL, where = the option name): n_symbols outside 2..256, doc_len 0,
 * n_components outside 1..8, n_decision > n_symbols, branching 0 or too large for
 * n_components disjoint supports. */
alim_status alim_source_build(alim_source *s, const alim_source_config *cfg, alim_error *err);
void alim_source_free(alim_source *s);

/* Exact entropies of each component in nats: rate (per token, stationary) and per document
 * (doc_len tokens after BOS). residual = largest stationary residual. */
typedef struct {
    double rate_nats[ALIM_SOURCE_MAX_COMPONENTS];
    double doc_nats[ALIM_SOURCE_MAX_COMPONENTS];
    double stationary_residual;
} alim_source_entropy;
alim_status alim_source_entropies(const alim_source *s, alim_source_entropy *out, alim_error *err);

/* Entropy of one document of the mixture (component z ~ q, then the chain), in nats.
 *   H(X) = sum_i q_i H_i(X) + I(Z;X),  0 <= I(Z;X) = H(q) - H(Z|X) <= H(q),
 * so lower = sum q_i H_i, upper = lower + H(q). When every row is either identical in all
 * components with q_i > 0 or has pairwise disjoint supports across them (true for S), the
 * first transition out of such a row reveals Z, otherwise the posterior is the prior; then
 * H(Z|X) = H(q) * P(no identifying transition) exactly and *exact is set; else NAN. */
alim_status alim_source_mixture_doc_entropy(const alim_source *s, const double *q, double *lower,
                                            double *exact, double *upper, alim_error *err);
/* log p_mix(x) in nats of one document under the mixture q (for Monte Carlo checks). */
double alim_source_mixture_logprob(const alim_source *s, const double *q, const uint8_t *x);

/* Index i with probability q[i] (q need not be normalised). */
size_t alim_source_pick(const double *q, size_t k, alim_rng *r);

static inline char alim_source_symbol_byte(uint8_t s) { return (char)('0' + s); }
static inline int alim_source_byte_symbol(unsigned char b) { return b >= '0' ? (int)b - '0' : -1; }

/* Appends n_docs fresh documents (bytes '0'+s) to *out, drawn from the mixture q (q != NULL;
 * *comp_out, if not NULL, gets a malloc'd array of each document's component) or, with
 * q == NULL, all from component `component`. Seeded by (seed, stream). */
alim_status alim_source_generate(const alim_source *s, const double *q, size_t component, size_t n_docs,
                                 uint64_t seed, uint64_t stream, alim_corpus *out, uint8_t **comp_out,
                                 alim_error *err);

/* Generates every split of a data directory (see alim/corpus.h) from the source: fresh
 * documents for each split (stream per split), pretraining components drawn with
 * cfg->shares. Documents are written as bytes '0'+s. */
alim_status alim_source_make_splits(const alim_source *s, const alim_split_config *cfg,
                                    alim_splits *out, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
