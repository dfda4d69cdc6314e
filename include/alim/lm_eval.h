/* alim/lm_eval.h — scoring a token stream with a model, and sampling from it.
 *
 * Evaluation cuts the stream (alim/dataset.h) into consecutive windows of T+1 tokens that
 * overlap by one (the last may be shorter), so every token after the first is predicted
 * exactly once, from at most T tokens of context starting at a window boundary. Only the
 * positions whose mask is 1 are scored.
 */
#ifndef ALIM_LM_EVAL_H
#define ALIM_LM_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "alim/dataset.h"
#include "alim/gpt.h"
#include "alim/progress.h"
#include "alim/rng.h"
#include "alim/status.h"
#include "alim/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    double total_nats;     /* sum of -log p(token) over scored positions */
    size_t n_tokens;       /* scored positions                           */
    size_t n_bytes;        /* bytes of text of the scored tokens (EOT: 0) */
    double kl_nats_sum;    /* sum over scored positions of KL(model || base), nats (with a base) */
} alim_eval_result;

/* Scores ds with m in windows of T (<= n_positions) tokens, B windows per forward pass.
 * With base (same vocab_size) also sums the per-position KL(m || base) over the vocabulary.
 * With logprobs (n_counted * V floats) writes the log-probabilities of every scored
 * position, in stream order. tk gives the byte counts (NULL: n_bytes = 0). */
alim_status alim_lm_evaluate(alim_gpt *m, alim_gpt *base, const alim_token_stream *ds,
                             const alim_tokenizer *tk, int T, int B, float *logprobs,
                             const alim_progress *progress, alim_eval_result *res,
                             alim_error *err);

/* Sampling options. */
typedef struct {
    int max_new;          /* tokens to generate                                    */
    double temperature;   /* > 0; 1 = the model's distribution; 0 = greedy         */
    int top_k;            /* 0 = whole vocabulary                                  */
    int stop_at_eot;      /* stop when the end-of-text token is drawn              */
    int eot;              /* its id (or -1)                                        */
    int vocab_limit;      /* draw only ids < vocab_limit (the tokenizer's size); 0 = V */
} alim_sample_options;

/* Continues ids[0..n_prompt) (n_prompt >= 1) in place with up to max_new tokens drawn
 * with rng; ids must have room for n_prompt + max_new. The context is the last
 * n_positions tokens. Returns the total length in *n_out. */
alim_status alim_lm_sample(alim_gpt *m, int32_t *ids, size_t n_prompt,
                           const alim_sample_options *o, alim_rng *rng, size_t *n_out,
                           alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
