/* rng.c — xoshiro256** (Blackman & Vigna, public domain reference) seeded by splitmix64. */
#include "alim/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void alim_rng_seed(alim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t h = splitmix64(&x) ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&h);
    /* xoshiro must not start from the all-zero state */
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t alim_rng_next(alim_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double alim_rng_uniform(alim_rng *r) { return (double)(alim_rng_next(r) >> 11) * 0x1.0p-53; }

double alim_rng_uniform_pos(alim_rng *r) { return ((double)(alim_rng_next(r) >> 11) + 0.5) * 0x1.0p-53; }

uint64_t alim_rng_below(alim_rng *r, uint64_t n)
{
    /* rejection on the top of the range removes modulo bias */
    uint64_t lim = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = alim_rng_next(r);
    while (x >= lim);
    return x % n;
}

double alim_rng_normal(alim_rng *r)
{
    double u = alim_rng_uniform_pos(r), v = alim_rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

size_t alim_rng_discrete_cdf(alim_rng *r, const double *cdf, size_t n)
{
    double u = alim_rng_uniform(r) * cdf[n - 1];
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}
