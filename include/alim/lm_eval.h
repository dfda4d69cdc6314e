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

#include "alim/chat.h"
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
 * n_positions tokens. Returns the total length in *n_out.
 * While the sequence fits the model's context it decodes with a key/value cache (one
 * forward pass over the prompt, then one token-forward per new token); once it is longer
 * than n_positions the window slides and each further token re-runs the whole window
 * (alim_gpt_forward), as before the cache. Both give the same distributions up to fp32
 * rounding (see alim_gpt_forward_step). */
alim_status alim_lm_sample(alim_gpt *m, int32_t *ids, size_t n_prompt,
                           const alim_sample_options *o, alim_rng *rng, size_t *n_out,
                           alim_error *err);
/* The same, also stopping when one of stop_ids[0..n_stop) is drawn (a chat template's end
 * of turn); the id that stopped it is kept in ids. */
alim_status alim_lm_sample_until(alim_gpt *m, int32_t *ids, size_t n_prompt,
                                 const alim_sample_options *o, const int32_t *stop_ids, int n_stop,
                                 alim_rng *rng, size_t *n_out, alim_error *err);

/* Samples B documents at once with a key/value cache. rows (B,L) row-major: each row
 * starts with n_prompt given tokens (1 <= n_prompt <= L) and is continued in place. At
 * position t = n_prompt, n_prompt+1, ... every live row draws its next token from the
 * model's distribution given its own tokens 0..t-1: ids below vocab_limit (0 = all V),
 * weights exp((lp - max lp) / temperature) accumulated in double and inverted with
 * alim_rng_discrete_cdf(&rngs[b], ...) — exactly the draw of the elasticity experiments'
 * batched loops — or, with temperature 0, the first most likely id (no draw). Drawing eot
 * ends the row's document: eot is not stored. A row also ends at L tokens.
 * On return len[b] is the length of row b (prompt included) and rows[b][len[b]..L) hold
 * the filler eot (0 if eot is not a token id; eot < 0 means documents never end early).
 * Row b's draws use only its own distributions and rngs[b] (one stream per row), so its
 * tokens do not depend on the other rows, up to fp32 rounding: the log-probabilities of a
 * row vary by ~1e-6 with the number of rows in the batch and the thread count (see
 * alim_gpt_forward_step), which changes a draw only if its uniform falls that close to a
 * cumulative-weight boundary. For given inputs and thread count the result is repeatable.
 * Rows of finished documents are dropped from the batch once they are a quarter of it
 * (alim_gpt_cache_keep_rows). Draws made: sum over rows of len[b] - n_prompt, plus one
 * for each row with len[b] < L (its eot).
 * Needs L - 1 <= n_positions (no sliding window). Memory: the cache, 2 * n_layer * B *
 * (L-1) * n_embd floats, plus B * V floats. Errors: bad sizes, a prompt token out of
 * range, out of memory; rows and len are then partially written. */
alim_status alim_lm_sample_batch(alim_gpt *m, int32_t *rows, size_t B, size_t L, size_t n_prompt,
                                 int eot, double temperature, int vocab_limit, alim_rng *rngs,
                                 size_t *len, alim_error *err);

/* Replies of m to the user messages prompts[0..n) in the chat template chat (system: a
 * system message, NULL for the template's own): each conversation is rendered with its
 * assistant header, and the reply is drawn at the given temperature over the whole
 * vocabulary until the template's end of turn (else the tokenizer's EOS, else end of text)
 * or max_new tokens. Reply i uses the random stream (seed, stream << 20 | i), so it depends
 * on its own prompt only (up to the fp32 rounding of alim_lm_sample_batch, which samples
 * prompts of equal token length together, at most 64 a batch). On success out holds n
 * NUL-terminated replies (the end-of-turn token not included) and their token counts;
 * free with alim_chat_replies_free. Errors: a prompt that does not render or encode, a
 * prompt plus max_new longer than the model's context, out of memory (out then empty). */
typedef struct {
    size_t n;
    char **text;      /* n replies */
    size_t *tokens;   /* n: tokens of each reply */
    size_t *bytes;    /* n: bytes of each reply (a byte token may decode to NUL) */
    size_t generated; /* draws made, the end-of-turn tokens included */
    double seconds;   /* wall time of the sampling */
} alim_chat_replies;

alim_status alim_chat_sample_replies(alim_gpt *m, const alim_tokenizer *tk, const alim_chat_template *chat, const char *system,
                                     const char *const *prompts, size_t n, size_t max_new, double temperature, uint64_t seed,
                                     uint64_t stream, const alim_progress *progress, alim_chat_replies *out, alim_error *err);
void alim_chat_replies_free(alim_chat_replies *r);

#ifdef __cplusplus
}
#endif
#endif
