/* arith.c — Witten–Neal–Cleary arithmetic coding with 62-bit registers (see alim/arith.h). */
#include "alim/arith.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CODE_BITS 62
#define TOP ((UINT64_C(1) << CODE_BITS) - 1)
#define Q1 (UINT64_C(1) << (CODE_BITS - 2))
#define HALF (2 * Q1)
#define Q3 (3 * Q1)
#define QUANT 281474976710656.0 /* 2^48 */

typedef unsigned __int128 u128;

alim_status alim_arith_encoder_init(alim_arith_encoder *e, alim_error *err)
{
    memset(e, 0, sizeof *e);
    e->high = TOP;
    e->cap = 4096;
    e->buf = calloc(e->cap, 1);
    if (!e->buf) return alim_error_set(err, ALIM_ENOMEM, "arith", "out of memory");
    return ALIM_OK;
}

void alim_arith_encoder_free(alim_arith_encoder *e)
{
    if (!e) return;
    free(e->buf);
    memset(e, 0, sizeof *e);
}

static int put_bit(alim_arith_encoder *e, int bit)
{
    size_t byte = (size_t)(e->n_bits >> 3);
    if (byte >= e->cap) {
        size_t nc = e->cap * 2;
        uint8_t *nb = realloc(e->buf, nc);
        if (!nb) return -1;
        memset(nb + e->cap, 0, nc - e->cap);
        e->buf = nb;
        e->cap = nc;
    }
    if (bit) e->buf[byte] |= (uint8_t)(0x80u >> (e->n_bits & 7));
    e->n_bits++;
    return 0;
}

static int put_bits(alim_arith_encoder *e, int bit)
{
    if (put_bit(e, bit)) return -1;
    for (; e->pending; e->pending--)
        if (put_bit(e, !bit)) return -1;
    return 0;
}

alim_status alim_arith_encode_freq(alim_arith_encoder *e, uint64_t lo, uint64_t hi, uint64_t total, alim_error *err)
{
    if (e->finished) return alim_error_set(err, ALIM_EINTERNAL, "arith", "encoder already finished");
    if (!(lo < hi && hi <= total && total <= (UINT64_C(1) << 60)))
        return alim_error_set(err, ALIM_EINVAL, "arith", "bad interval [%llu, %llu) of %llu", (unsigned long long)lo,
                              (unsigned long long)hi, (unsigned long long)total);
    u128 range = (u128)(e->high - e->low) + 1;
    e->high = e->low + (uint64_t)(range * hi / total) - 1;
    e->low = e->low + (uint64_t)(range * lo / total);
    for (;;) {
        if (e->high < HALF) {
            if (put_bits(e, 0)) return alim_error_set(err, ALIM_ENOMEM, "arith", "out of memory");
        } else if (e->low >= HALF) {
            if (put_bits(e, 1)) return alim_error_set(err, ALIM_ENOMEM, "arith", "out of memory");
            e->low -= HALF;
            e->high -= HALF;
        } else if (e->low >= Q1 && e->high < Q3) {
            e->pending++;
            e->low -= Q1;
            e->high -= Q1;
        } else
            break;
        e->low = 2 * e->low;
        e->high = 2 * e->high + 1;
    }
    return ALIM_OK;
}

/* quantised frequencies: returns total, fills lo/hi of sym (if sym < n) */
static uint64_t quantise(const double *p, size_t n, size_t sym, uint64_t *lo, uint64_t *hi)
{
    double s = 0;
    for (size_t j = 0; j < n; j++)
        if (p[j] > 0) s += p[j];
    uint64_t tot = 0;
    for (size_t j = 0; j < n; j++) {
        uint64_t f = 0;
        if (p[j] > 0) {
            double x = floor(p[j] / s * QUANT);
            f = x < 1 ? 1 : (uint64_t)x;
        }
        if (j == sym) *lo = tot, *hi = tot + f;
        tot += f;
    }
    return tot;
}

alim_status alim_arith_encode(alim_arith_encoder *e, const double *p, size_t n, size_t sym, alim_error *err)
{
    if (sym >= n) return alim_error_set(err, ALIM_EINVAL, "arith", "symbol %zu outside 0..%zu", sym, n ? n - 1 : 0);
    if (!(p[sym] > 0)) return alim_error_set(err, ALIM_EINVAL, "arith", "symbol %zu has probability 0", sym);
    uint64_t lo = 0, hi = 0, tot = quantise(p, n, sym, &lo, &hi);
    return alim_arith_encode_freq(e, lo, hi, tot, err);
}

alim_status alim_arith_encoder_finish(alim_arith_encoder *e, alim_error *err)
{
    if (e->finished) return ALIM_OK;
    e->pending++;
    if (put_bits(e, e->low >= Q1)) return alim_error_set(err, ALIM_ENOMEM, "arith", "out of memory");
    e->finished = 1;
    e->n_bytes = (size_t)((e->n_bits + 7) / 8);
    return ALIM_OK;
}

static int get_bit(alim_arith_decoder *d)
{
    uint64_t i = d->bitpos++;
    if ((i >> 3) >= d->n_bytes) return 0;
    return (d->buf[i >> 3] >> (7 - (i & 7))) & 1;
}

void alim_arith_decoder_init(alim_arith_decoder *d, const uint8_t *buf, size_t n_bytes)
{
    memset(d, 0, sizeof *d);
    d->buf = buf;
    d->n_bytes = n_bytes;
    d->high = TOP;
    for (int i = 0; i < CODE_BITS; i++) d->value = 2 * d->value + (uint64_t)get_bit(d);
}

uint64_t alim_arith_decode_target(const alim_arith_decoder *d, uint64_t total)
{
    u128 range = (u128)(d->high - d->low) + 1;
    u128 t = (((u128)(d->value - d->low) + 1) * total - 1) / range;
    return (uint64_t)t;
}

void alim_arith_decode_update(alim_arith_decoder *d, uint64_t lo, uint64_t hi, uint64_t total)
{
    u128 range = (u128)(d->high - d->low) + 1;
    d->high = d->low + (uint64_t)(range * hi / total) - 1;
    d->low = d->low + (uint64_t)(range * lo / total);
    for (;;) {
        if (d->high < HALF) {
        } else if (d->low >= HALF) {
            d->low -= HALF;
            d->high -= HALF;
            d->value -= HALF;
        } else if (d->low >= Q1 && d->high < Q3) {
            d->low -= Q1;
            d->high -= Q1;
            d->value -= Q1;
        } else
            break;
        d->low = 2 * d->low;
        d->high = 2 * d->high + 1;
        d->value = 2 * d->value + (uint64_t)get_bit(d);
    }
}

alim_status alim_arith_decode(alim_arith_decoder *d, const double *p, size_t n, size_t *sym, alim_error *err)
{
    uint64_t lo = 0, hi = 0;
    uint64_t tot = quantise(p, n, n, &lo, &hi);
    if (tot == 0) return alim_error_set(err, ALIM_EINVAL, "arith", "probability vector has no positive entry");
    uint64_t target = alim_arith_decode_target(d, tot);
    uint64_t c = 0;
    double s = 0;
    for (size_t j = 0; j < n; j++)
        if (p[j] > 0) s += p[j];
    for (size_t j = 0; j < n; j++) {
        uint64_t f = 0;
        if (p[j] > 0) {
            double x = floor(p[j] / s * QUANT);
            f = x < 1 ? 1 : (uint64_t)x;
        }
        if (f && target < c + f) {
            alim_arith_decode_update(d, c, c + f, tot);
            *sym = j;
            return ALIM_OK;
        }
        c += f;
    }
    return alim_error_set(err, ALIM_EFORMAT, "arith", "corrupt code stream");
}

double alim_arith_cost_bits(const double *p, size_t n, size_t sym)
{
    uint64_t lo = 0, hi = 0;
    uint64_t tot = quantise(p, n, sym, &lo, &hi);
    if (hi <= lo) return INFINITY;
    return -log2((double)(hi - lo) / (double)tot);
}
