/* alim/lmcode.h — compressing a token stream with a language model: the Shannon code length
 * -sum log2 p(x_t | context) next to a real arithmetic code (alim/arith.h) of the same
 * stream under the same model, decoded again (spec §1.1 "compression view", §5 "protocol
 * mode": "run a real arithmetic coder; its size should be within 2 bits per file of
 * total_bits").
 *
 * Contexts are those of `alim eval` (alim/lm_eval.h): the stream is cut into windows of
 * T+1 tokens that overlap by one, and token i is predicted from the tokens of its window
 * before it. Both coder and decoder compute the probabilities one token at a time with the
 * key/value cache (alim_gpt_forward_step, batch 1), so they see bit-identical floats; the
 * Shannon length reported next to the code uses the same probabilities. The first token of
 * the stream has no context: it is coded under the uniform law over the vocabulary
 * (log2 V bits, counted in both lengths). The stream length is side information (a
 * header, not charged), as is the model.
 */
#ifndef ALIM_LMCODE_H
#define ALIM_LMCODE_H

#include <stddef.h>
#include <stdint.h>

#include "alim/dataset.h"
#include "alim/gpt.h"
#include "alim/progress.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    size_t n_tokens;        /* tokens coded (the whole stream)                             */
    double shannon_bits;    /* log2 V + sum over i >= 1 of -log2 p(x_i | window context)   */
    double quantised_bits;  /* the same under the coder's quantised probabilities          */
    uint64_t code_bits;     /* length of the arithmetic code                               */
    size_t code_bytes;
    int round_trip;         /* 1 if decoding gave the stream back token for token          */
    double encode_s, decode_s;
} alim_lmcode_result;

/* Codes ds->tokens[0..n) with m and context T (1 <= T <= n_positions) and decodes the code
 * again. With code/code_len (both non-NULL) returns the code (malloc'd). Errors: EINVAL
 * for an empty stream, a token outside the vocabulary or a bad T; ENOMEM. */
alim_status alim_lmcode_run(alim_gpt *m, const alim_token_stream *ds, int T, const alim_progress *progress,
                            alim_lmcode_result *res, uint8_t **code, size_t *code_len, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
