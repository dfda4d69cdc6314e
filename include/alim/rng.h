/* alim/rng.h — seeded pseudo-random numbers (xoshiro256**, seeded through splitmix64).
 *
 * The same seed gives the same stream on every machine. Independent streams for
 * parallel or per-replicate work come from alim_rng_seed(&r, seed, stream): the pair
 * (seed, stream) is hashed, so streams 0, 1, 2, ... do not overlap in practice.
 */
#ifndef ALIM_RNG_H
#define ALIM_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t s[4];
} alim_rng;

void alim_rng_seed(alim_rng *r, uint64_t seed, uint64_t stream);
uint64_t alim_rng_next(alim_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double alim_rng_uniform(alim_rng *r);
/* Uniform double in (0, 1): never exactly 0, so log() is always finite. */
double alim_rng_uniform_pos(alim_rng *r);
/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t alim_rng_below(alim_rng *r, uint64_t n);
/* Standard normal (Box–Muller, no caching, so the stream position is predictable). */
double alim_rng_normal(alim_rng *r);
/* Index drawn from the discrete law given by its cumulative sums cdf[0..n)
 * (cdf[n-1] is the total, need not be 1); binary search, O(log n). */
size_t alim_rng_discrete_cdf(alim_rng *r, const double *cdf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
