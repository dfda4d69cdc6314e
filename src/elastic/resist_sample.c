/* resist_sample.c — D_k of E1's byte-level path: theta_k's samples (batched, one random
 * stream per sample, a sample that cannot be stored drawn again), written as JSONL
 * {"prompt", "response"}, and H_k, the model's own loss on them (resist_impl.h names the
 * other files). */
#define _POSIX_C_SOURCE 200809L
#include "resist_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/dataset.h"
#include "alim/io.h"
#include "alim/lm_eval.h"
#include "alim/rng.h"
#include "alim/tokenizer.h"

enum { SAMPLE_CHUNK = 128 };

/* Samples D_k from the model in `model_dir` into out_path (JSONL), then scores it:
 * result {docs, redrawn, tokens, mean_len, H_nats, H_tokens, tokens_per_s, elapsed_s}. */
/* Writes D_k to out_path as JSONL {"prompt", "response"}: sample i is rows[i * L + 1 ..
 * i * L + len[i]), its first P tokens the prompt; *tokens_out counts the responses' tokens. */
static alim_status write_d(const char *out_path, const alim_tokenizer *tk, const int32_t *rows, const size_t *len, size_t N, size_t L,
                           size_t P, size_t *tokens_out, alim_error *err)
{
    size_t tokens = 0;
    alim_atomic_file f = {0};
    alim_status st = alim_atomic_open(&f, out_path, err);
    char *text = malloc(4 * L + 1);
    if (!st && !text) {
        alim_atomic_abort(&f);
        st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    }
    for (size_t i = 0; i < N && !st; i++) {
        size_t tl = 0, pl = 0;
        for (size_t j = 1; j < len[i]; j++) {
            size_t bl;
            const char *s = alim_tokenizer_decode(tk, rows[i * L + j], &bl);
            memcpy(text + tl, s, bl);
            tl += bl;
            if (j == P) pl = tl;
        }
        text[tl] = '\0';
        tokens += len[i] - 1 - P;
        cJSON *o = cJSON_CreateObject();
        char save = text[pl];
        text[pl] = '\0';
        cJSON_AddStringToObject(o, "prompt", text);
        text[pl] = save;
        cJSON_AddStringToObject(o, "response", text + pl);
        char *line = alim_json_print(o, 0);
        cJSON_Delete(o);
        if (!line) {
            st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
            break;
        }
        fputs(line, f.fp);
        fputc('\n', f.fp);
        free(line);
    }
    free(text);
    if (!st) st = alim_atomic_commit(&f, err);
    else if (f.fp) alim_atomic_abort(&f);
    *tokens_out = tokens;
    return st;
}

alim_status rs_sample_cell(const alim_cell_env *env, const rs_exper *x, const char *model_dir, uint64_t seed, int k,
                               const char *out_path, cJSON **result, alim_error *err)
{
    const alim_resist_config *cfg = x->cfg;
    alim_gpt m = {0};
    alim_tokenizer tk = {0};
    alim_status st = alim_checkpoint_load(model_dir, &m, &tk, NULL, err);
    if (!st) st = alim_gpt_set_precision(&m, x->prec, err);
    if (st) {
        alim_gpt_free(&m);
        alim_tokenizer_free(&tk);
        return st;
    }
    const size_t N = cfg->n_samples, P = x->natural ? cfg->prompt_bytes : 0;
    const size_t L = 1 + cfg->sample_tokens; /* BOS + document */
    const int V = m.config.vocab_size, lim = tk.vocab_size < V ? tk.vocab_size : V;
    int32_t *rows = malloc(N * L * sizeof *rows), *packed = malloc((size_t)SAMPLE_CHUNK * L * sizeof *packed);
    size_t *len = calloc(N, sizeof *len), *pending = malloc(N * sizeof *pending);
    alim_rng *rngs = malloc(N * sizeof *rngs);
    if (!rows || !packed || !len || !pending || !rngs) st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    size_t n_pending = N, redrawn = 0, generated = 0;
    for (size_t i = 0; i < N && !st; i++) {
        pending[i] = i;
        alim_rng_seed(&rngs[i], seed, ((uint64_t)0x45310000u + (uint64_t)k) << 24 | i);
    }
    const double t0 = alim_lab_now();
    double work = 0;
    for (int round = 0; n_pending && !st; round++) {
        if (round >= 50) {
            st = alim_error_set(err, ALIM_EINVAL, model_dir, "after 50 rounds %zu samples still contain a NUL byte or are empty", n_pending);
            break;
        }
        size_t next_pending = 0;
        for (size_t c0 = 0; c0 < n_pending && !st; c0 += SAMPLE_CHUNK) {
            const size_t nb = n_pending - c0 < SAMPLE_CHUNK ? n_pending - c0 : SAMPLE_CHUNK;
            /* the chunk's rows side by side, each with its own stream (continued on a redraw) */
            alim_rng crng[SAMPLE_CHUNK];
            size_t clen[SAMPLE_CHUNK];
            for (size_t b = 0; b < nb; b++) {
                size_t i = pending[c0 + b];
                int32_t *r = packed + b * L;
                for (size_t j = 0; j < L; j++) r[j] = tk.eot;
                if (P) {
                    size_t pl;
                    const uint8_t *pd = alim_corpus_doc(x->prompts, i, &pl);
                    for (size_t j = 0; j < P; j++) r[1 + j] = tk.byte_id[pd[j]];
                }
                crng[b] = rngs[i];
            }
            st = alim_lm_sample_batch(&m, packed, nb, L, 1 + P, tk.eot, cfg->temperature, lim, crng, clen, err);
            if (st) break;
            for (size_t b = 0; b < nb; b++) {
                size_t i = pending[c0 + b];
                memcpy(rows + i * L, packed + b * L, L * sizeof *rows);
                len[i] = clen[b];
                rngs[i] = crng[b];
                generated += clen[b] - (1 + P) + (clen[b] < L);
            }
            work += (double)nb;
            if (round == 0) alim_progress_report(env->progress, "sampling", work / (double)N > 1 ? 1 : work / (double)N, 1);
            /* a document that cannot be stored is drawn again with the sample's stream */
            for (size_t b = 0; b < nb && !st; b++) {
                size_t i = pending[c0 + b];
                int okdoc = len[i] > 1 + P || P > 0;
                for (size_t j = 1; j < len[i] && okdoc; j++) {
                    size_t bl;
                    const char *s = alim_tokenizer_decode(&tk, rows[i * L + j], &bl);
                    if (!s || bl == 0 || memchr(s, 0, bl)) okdoc = 0;
                }
                if (!okdoc) {
                    pending[next_pending++] = i;
                    redrawn++;
                }
            }
        }
        n_pending = next_pending;
    }
    const double el = alim_lab_now() - t0;
    /* write D_k as JSONL {"prompt", "response"} */
    size_t tokens = 0;
    if (!st) st = write_d(out_path, &tk, rows, len, N, L, P, &tokens, err);
    /* H_k: the model's own loss on D_k (only the continuation is scored) */
    alim_token_stream ds = {0};
    alim_eval_result er = {0};
    if (!st) {
        const char *paths[1] = {out_path};
        st = alim_dataset_load(&ds, paths, 1, ALIM_DATA_JSONL, NULL, &tk, err);
    }
    if (!st) st = alim_lm_evaluate(&m, NULL, &ds, &tk, x->cfg->context, 16, NULL, NULL, &er, err);
    if (!st) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "docs", (double)N);
        cJSON_AddNumberToObject(r, "redrawn", (double)redrawn);
        cJSON_AddNumberToObject(r, "tokens", (double)tokens);
        cJSON_AddNumberToObject(r, "mean_len", N ? (double)tokens / (double)N : 0);
        cJSON_AddNumberToObject(r, "H_nats", er.n_tokens ? er.total_nats / (double)er.n_tokens : NAN);
        cJSON_AddNumberToObject(r, "H_tokens", (double)er.n_tokens);
        cJSON_AddNumberToObject(r, "sampled_tokens_per_s", el > 0 ? (double)generated / el : 0);
        cJSON_AddNumberToObject(r, "elapsed_s", el);
        *result = r;
    }
    alim_dataset_free(&ds);
    free(rows), free(packed), free(len), free(pending), free(rngs);
    alim_tokenizer_free(&tk);
    alim_gpt_free(&m);
    return st;
}
