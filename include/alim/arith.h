/* alim/arith.h — a binary arithmetic coder (Witten–Neal–Cleary, 62-bit registers) driven by
 * a probability vector at every step, so that any model (counts now, the LM engine later)
 * can code a sequence with it. The output is within 2 bits of sum -log2 f/total of the
 * quantised probabilities (plus < 2^-12 bit per step from integer truncation), and the
 * quantised probabilities differ from the given ones by < 2^-48 relative to their sum.
 *
 * Probabilities are quantised identically by encoder and decoder:
 *   f_j = 0 if p_j <= 0, else max(1, floor(p_j / sum(p) * 2^48)),  total = sum f_j,
 * so a symbol with p = 0 cannot be coded (EINVAL). The vector need not be normalised.
 */
#ifndef ALIM_ARITH_H
#define ALIM_ARITH_H

#include <stddef.h>
#include <stdint.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t low, high, pending;
    uint8_t *buf;
    size_t n_bytes, cap;
    uint64_t n_bits; /* bits written so far (after finish: the code length) */
    int finished;
} alim_arith_encoder;

alim_status alim_arith_encoder_init(alim_arith_encoder *e, alim_error *err);
/* Codes the interval [cum_lo, cum_hi) of total (0 <= cum_lo < cum_hi <= total <= 2^60). */
alim_status alim_arith_encode_freq(alim_arith_encoder *e, uint64_t cum_lo, uint64_t cum_hi, uint64_t total,
                                   alim_error *err);
/* Codes symbol sym of the law p[0..n). */
alim_status alim_arith_encode(alim_arith_encoder *e, const double *p, size_t n, size_t sym, alim_error *err);
/* Flushes the final bits. Then e->buf holds e->n_bytes bytes (the last byte zero-padded)
 * and e->n_bits is the exact code length in bits. */
alim_status alim_arith_encoder_finish(alim_arith_encoder *e, alim_error *err);
void alim_arith_encoder_free(alim_arith_encoder *e);

typedef struct {
    const uint8_t *buf;
    size_t n_bytes;
    uint64_t bitpos;
    uint64_t low, high, value;
} alim_arith_decoder;

void alim_arith_decoder_init(alim_arith_decoder *d, const uint8_t *buf, size_t n_bytes);
/* The count in [0, total) that the next symbol's interval contains; then call update. */
uint64_t alim_arith_decode_target(const alim_arith_decoder *d, uint64_t total);
void alim_arith_decode_update(alim_arith_decoder *d, uint64_t cum_lo, uint64_t cum_hi, uint64_t total);
/* Decodes one symbol of the law p[0..n). EINVAL if p has no positive entry. */
alim_status alim_arith_decode(alim_arith_decoder *d, const double *p, size_t n, size_t *sym, alim_error *err);

/* -log2 of the quantised probability of sym (what the coder actually pays), +inf if 0. */
double alim_arith_cost_bits(const double *p, size_t n, size_t sym);

#ifdef __cplusplus
}
#endif
#endif
