/* lmcode.c — arithmetic coding of a token stream with a language model (see alim/lmcode.h). */
#include "alim/lmcode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alim/arith.h"

/* wall-clock seconds for the encode/decode timings; its own clock rather than the lab's
 * (alim/lab.h) so that the codes never include an experiment header */
static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the law of the next token after the step just taken, as doubles for the coder */
static void law_of(const float *lp, int V, double *p)
{
    for (int v = 0; v < V; v++) p[v] = exp((double)lp[v]);
}

/* One pass over the stream: the encoder (dec == NULL; tokens are read from ds) or the
 * decoder (tokens are decoded into out). Windows as in alim_lm_evaluate. */
static alim_status pass(alim_gpt *m, alim_gpt_cache *c, const int32_t *in, int32_t *out, size_t n, int T, alim_arith_encoder *enc,
                        alim_arith_decoder *dec, double *shannon, double *quant, const alim_progress *progress, const char *stage,
                        alim_error *err)
{
    const int V = m->config.vocab_size;
    float *lp = malloc((size_t)V * sizeof *lp);
    double *p = malloc((size_t)V * sizeof *p);
    if (!lp || !p) {
        free(lp), free(p);
        return alim_error_set(err, ALIM_ENOMEM, "compress", "out of memory");
    }
    alim_status st = ALIM_OK;
    /* the first token: uniform over the vocabulary */
    for (int v = 0; v < V; v++) p[v] = 1.0;
    size_t sym = 0;
    if (enc) st = alim_arith_encode(enc, p, (size_t)V, (size_t)in[0], err), sym = (size_t)in[0];
    else st = alim_arith_decode(dec, p, (size_t)V, &sym, err);
    if (!st) {
        out[0] = (int32_t)sym;
        *shannon += log2((double)V);
        *quant += alim_arith_cost_bits(p, (size_t)V, sym);
    }
    /* window w holds tokens [w T, w T + T]; its first token is context only */
    for (size_t w0 = 0; w0 + 1 < n && !st; w0 += (size_t)T) {
        alim_gpt_cache_reset(c);
        const size_t end = w0 + (size_t)T < n - 1 ? w0 + (size_t)T : n - 1; /* last predicted index */
        for (size_t i = w0; i < end && !st; i++) {
            st = alim_gpt_forward_step(m, c, &out[i], lp, err);
            if (st) break;
            law_of(lp, V, p);
            if (enc) {
                sym = (size_t)in[i + 1];
                st = alim_arith_encode(enc, p, (size_t)V, sym, err);
            } else
                st = alim_arith_decode(dec, p, (size_t)V, &sym, err);
            if (st) break;
            out[i + 1] = (int32_t)sym;
            *shannon -= (double)lp[sym] / M_LN2;
            *quant += alim_arith_cost_bits(p, (size_t)V, sym);
        }
        (void)alim_progress_report(progress, stage, (double)end, (double)(n - 1));
    }
    free(lp), free(p);
    return st;
}

alim_status alim_lmcode_run(alim_gpt *m, const alim_token_stream *ds, int T, const alim_progress *progress, alim_lmcode_result *res,
                            uint8_t **code, size_t *code_len, alim_error *err)
{
    memset(res, 0, sizeof *res);
    if (code) *code = NULL;
    if (code_len) *code_len = 0;
    const size_t n = ds->n;
    const int V = m->config.vocab_size;
    if (n < 1) return alim_error_set(err, ALIM_EINVAL, "compress", "empty token stream");
    if (T < 1 || T > m->config.n_positions) return alim_error_set(err, ALIM_EINVAL, "context", "%d outside [1, %d]", T, m->config.n_positions);
    for (size_t i = 0; i < n; i++)
        if (ds->tokens[i] < 0 || ds->tokens[i] >= V) return alim_error_set(err, ALIM_EINVAL, "input", "token %d at %zu outside the vocabulary of %d", ds->tokens[i], i, V);
    alim_gpt_cache *c = NULL;
    alim_status st = alim_gpt_cache_create(m, 1, T, &c, err);
    if (st) return st;
    int32_t *copy = malloc(n * sizeof *copy), *back = malloc(n * sizeof *back);
    alim_arith_encoder enc;
    int enc_ok = 0;
    if (!copy || !back) st = alim_error_set(err, ALIM_ENOMEM, "compress", "out of memory");
    if (!st) st = alim_arith_encoder_init(&enc, err);
    enc_ok = !st;
    double sh = 0, q = 0, sh2 = 0, q2 = 0;
    double t0 = seconds_now();
    if (!st) st = pass(m, c, ds->tokens, copy, n, T, &enc, NULL, &sh, &q, progress, "encoding", err);
    if (!st) st = alim_arith_encoder_finish(&enc, err);
    res->encode_s = seconds_now() - t0;
    if (!st) {
        alim_arith_decoder dec;
        alim_arith_decoder_init(&dec, enc.buf, enc.n_bytes);
        t0 = seconds_now();
        st = pass(m, c, NULL, back, n, T, NULL, &dec, &sh2, &q2, progress, "decoding", err);
        res->decode_s = seconds_now() - t0;
        if (st == ALIM_EINVAL) { /* a decoder that ran off the rails is a failed round trip, not bad input */
            alim_error_clear(err);
            st = ALIM_OK;
            res->round_trip = 0;
        } else if (!st)
            res->round_trip = memcmp(back, ds->tokens, n * sizeof *back) == 0;
    }
    if (!st) {
        res->n_tokens = n;
        res->shannon_bits = sh;
        res->quantised_bits = q;
        res->code_bits = enc.n_bits;
        res->code_bytes = enc.n_bytes;
        if (code && code_len) {
            *code = malloc(enc.n_bytes ? enc.n_bytes : 1);
            if (!*code) st = alim_error_set(err, ALIM_ENOMEM, "compress", "out of memory");
            else memcpy(*code, enc.buf, enc.n_bytes), *code_len = enc.n_bytes;
        }
    }
    if (enc_ok) alim_arith_encoder_free(&enc);
    free(copy), free(back);
    alim_gpt_cache_free(c);
    return st;
}
