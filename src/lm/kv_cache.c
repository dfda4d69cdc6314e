/* kv_cache.c — incremental decoding with a key/value cache (see alim/gpt.h): the cache's
 * life cycle, its checks, prefill and row dropping; one step's maths is the architecture's
 * (gpt2.c, llama.c). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/rng.h"
#include "kernels.h"
#include "model.h"

/* ---- incremental decoding with a key/value cache ------------------------------------ */

/* Floats of one step's scratch per row, from the architecture's graph. */
static size_t cache_work_per_row(const alim_gpt_config *cfg, int T_max)
{
    return cfg->arch == ALIM_ARCH_LLAMA ? lm_llama_cache_work_per_row(cfg, T_max) : lm_gpt2_cache_work_per_row(cfg, T_max);
}

/* floats of one position's keys (or values) in one row: NKV hs */
static size_t cache_kv_width(const alim_gpt_config *cfg)
{
    if (cfg->arch == ALIM_ARCH_LLAMA) return (size_t)cfg->n_kv_head * (cfg->n_embd / cfg->n_head);
    return (size_t)cfg->n_embd;
}

alim_status alim_gpt_cache_create(const alim_gpt *m, int B, int T_max, alim_gpt_cache **out,
                                  alim_error *err)
{
    *out = NULL;
    const alim_gpt_config *cfg = &m->config;
    if (B < 1) return alim_error_set(err, ALIM_EINVAL, "cache", "batch size %d must be >= 1", B);
    if (T_max < 1 || T_max > cfg->n_positions)
        return alim_error_set(err, ALIM_EINVAL, "cache", "length %d is outside [1, %d], the model's context", T_max, cfg->n_positions);
    alim_gpt_cache *c = calloc(1, sizeof *c);
    /* keys and values of NKV heads (GPT-2: NKV = NH, NKV hs = C) */
    const size_t kv = (size_t)cfg->n_layer * B * cache_kv_width(cfg) * T_max;
    if (c) {
        c->k = malloc(kv * sizeof(float));
        c->v = malloc(kv * sizeof(float));
        c->logits = malloc((size_t)B * cfg->vocab_size * sizeof(float));
        c->work = malloc((size_t)B * cache_work_per_row(cfg, T_max) * sizeof(float));
    }
    if (!c || !c->k || !c->v || !c->logits || !c->work) {
        alim_gpt_cache_free(c);
        return alim_error_set(err, ALIM_ENOMEM, "cache", "out of memory for a key/value cache of %d rows x %d positions (%zu floats)", B, T_max, 2 * kv);
    }
    c->config = *cfg;
    c->B = c->B_cap = B;
    c->T_max = T_max;
    c->t = 0;
    *out = c;
    return ALIM_OK;
}

void alim_gpt_cache_reset(alim_gpt_cache *c)
{
    if (!c) return;
    c->t = 0;
    c->B = c->B_cap;
}

void alim_gpt_cache_free(alim_gpt_cache *c)
{
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c->logits);
    free(c->work);
    free(c);
}

static alim_status cache_check_model(const alim_gpt *m, const alim_gpt_cache *c, alim_error *err)
{
    const alim_gpt_config *a = &m->config, *b = &c->config;
    if (a->n_layer != b->n_layer || a->n_embd != b->n_embd || a->n_head != b->n_head ||
        a->n_positions != b->n_positions || a->vocab_size != b->vocab_size || a->arch != b->arch ||
        a->n_kv_head != b->n_kv_head || a->n_inner != b->n_inner)
        return alim_error_set(err, ALIM_EINVAL, "cache", "made for a model of another shape (L=%d C=%d NH=%d V=%d, the model has L=%d C=%d NH=%d V=%d)",
                              b->n_layer, b->n_embd, b->n_head, b->vocab_size, a->n_layer, a->n_embd, a->n_head, a->vocab_size);
    return ALIM_OK;
}



static alim_status step_impl(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens,
                             float *logprobs, alim_error *err)
{
    alim_status st = cache_check_model(m, c, err);
    if (st) return st;
    const alim_gpt_config *cfg = &m->config;
    const int V = cfg->vocab_size, B = c->B, T_max = c->T_max, pos = c->t;
    if (pos >= T_max)
        return alim_error_set(err, ALIM_EINVAL, "cache", "full: %d positions are in use (the cache holds %d; the model's context is %d)", pos, T_max, cfg->n_positions);
    for (int b = 0; b < B; b++)
        if (tokens[b] < 0 || tokens[b] >= V)
            return alim_error_set(err, ALIM_EINVAL, "input", "token id %d of row %d is outside the vocabulary [0, %d)", tokens[b], b, V);
    lm_model_sync_bf16(m);
    if (cfg->arch == ALIM_ARCH_LLAMA) lm_llama_step(m, c, tokens);
    else lm_gpt2_step(m, c, tokens);
    if ((st = lm_model_prec_status(m, err))) return st;
    if (logprobs) lm_step_logprobs(logprobs, c->logits, B, V);
    c->t = pos + 1;
    return ALIM_OK;
}


alim_status alim_gpt_forward_step(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens,
                                  float *logprobs, alim_error *err)
{
    int saved = lm_blas_threads_begin();
    alim_status st = step_impl(m, c, tokens, logprobs, err);
    lm_blas_threads_end(saved);
    return st;
}


alim_status alim_gpt_cache_prefill(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens, int T0,
                                   float *logprobs, alim_error *err)
{
    alim_status st = cache_check_model(m, c, err);
    if (st) return st;
    if (c->t != 0) return alim_error_set(err, ALIM_EINVAL, "cache", "prefill needs an empty cache (%d positions in use; reset it)", c->t);
    if (T0 < 1 || T0 > c->T_max)
        return alim_error_set(err, ALIM_EINVAL, "cache", "prefill of %d tokens: the cache holds 1 to %d", T0, c->T_max);
    const int B = c->B;
    st = alim_gpt_forward(m, tokens, NULL, B, T0, err);
    if (st) return st;
    const int V = m->config.vocab_size;
    if (m->config.arch == ALIM_ARCH_LLAMA) lm_llama_prefill_kv(m, c, T0);
    else lm_gpt2_prefill_kv(m, c, T0);
    for (int b = 0; b < B; b++)
        memcpy(c->logits + (size_t)b * V, lm_model_logits(m) + ((size_t)b * T0 + T0 - 1) * V, (size_t)V * sizeof(float));
    if (logprobs) lm_step_logprobs(logprobs, c->logits, B, V);
    c->t = T0;
    return ALIM_OK;
}


alim_status alim_gpt_cache_keep_rows(alim_gpt_cache *c, const int *keep, int n, alim_error *err)
{
    if (n < 0 || n > c->B) return alim_error_set(err, ALIM_EINVAL, "cache", "cannot keep %d of %d rows", n, c->B);
    for (int i = 0; i < n; i++)
        if (keep[i] < 0 || keep[i] >= c->B || (i > 0 && keep[i] <= keep[i - 1]))
            return alim_error_set(err, ALIM_EINVAL, "cache", "rows to keep must increase within [0, %d): entry %d is %d", c->B, i, keep[i]);
    const alim_gpt_config *cfg = &c->config;
    const size_t row = cache_kv_width(cfg) * c->T_max, V = (size_t)cfg->vocab_size;
    // keep[i] >= i, so moving rows down in increasing order never overwrites a kept row
    for (int i = 0; i < n; i++) {
        if (keep[i] == i) continue;
        for (int l = 0; l < cfg->n_layer; l++) {
            const size_t base = (size_t)l * c->B_cap * row;
            memmove(c->k + base + (size_t)i * row, c->k + base + (size_t)keep[i] * row, row * sizeof(float));
            memmove(c->v + base + (size_t)i * row, c->v + base + (size_t)keep[i] * row, row * sizeof(float));
        }
        memmove(c->logits + (size_t)i * V, c->logits + (size_t)keep[i] * V, V * sizeof(float));
    }
    c->B = n;
    return ALIM_OK;
}

