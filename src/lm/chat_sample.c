/* chat_sample.c — replies of a model to many user messages at once, in its chat template:
 * the sampler of the real-model experiments (E1's D_k, E2's scores and D_0) and of
 * `alim sample --chat --prompts FILE`. Prompts of equal token length share one batch of
 * alim_lm_sample_batch, so the batch never needs padding or per-row prompt lengths, and
 * each reply has its own random stream, so it does not depend on the other prompts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "alim/lm_eval.h"

enum { MAX_ROWS = 64 }; /* rows per batch: the cache of 64 rows x 112 tokens of SmolLM2 is ~0.5 GB */

typedef struct {
    int32_t *ids;
    size_t n, idx;
} prompt_ids;

/* by token length, then by input order: the batches are runs of equal length */
static int cmp_prompt(const void *a, const void *b)
{
    const prompt_ids *x = a, *y = b;
    if (x->n != y->n) return x->n < y->n ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static double now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

void alim_chat_replies_free(alim_chat_replies *r)
{
    if (!r) return;
    if (r->text)
        for (size_t i = 0; i < r->n; i++) free(r->text[i]);
    free(r->text);
    free(r->tokens);
    free(r->bytes);
    memset(r, 0, sizeof *r);
}

alim_status alim_chat_sample_replies(alim_gpt *m, const alim_tokenizer *tk, const alim_chat_template *chat, const char *system,
                                     const char *const *prompts, size_t n, size_t max_new, double temperature, uint64_t seed,
                                     uint64_t stream, const alim_progress *progress, alim_chat_replies *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    if (max_new == 0) return alim_error_set(err, ALIM_EINVAL, "chat replies", "max_new is 0");
    if (!(temperature >= 0)) return alim_error_set(err, ALIM_EINVAL, "chat replies", "temperature %g is not >= 0", temperature);
    const int V = m->config.vocab_size, lim = tk->vocab_size < V ? tk->vocab_size : V;
    int end_turn = alim_chat_end_of_turn_id(chat, tk);
    if (end_turn < 0) end_turn = tk->eos_id >= 0 ? tk->eos_id : tk->eot;
    prompt_ids *p = calloc(n ? n : 1, sizeof *p);
    out->text = calloc(n ? n : 1, sizeof *out->text);
    out->tokens = calloc(n ? n : 1, sizeof *out->tokens);
    out->bytes = calloc(n ? n : 1, sizeof *out->bytes);
    out->n = n;
    if (!p || !out->text || !out->tokens || !out->bytes) {
        free(p);
        alim_chat_replies_free(out);
        return alim_error_set(err, ALIM_ENOMEM, "chat replies", "out of memory");
    }
    alim_status st = ALIM_OK;
    size_t maxp = 0;
    for (size_t i = 0; i < n && !st; i++) {
        alim_chat_text ct;
        size_t cap = 0;
        char where[48];
        snprintf(where, sizeof where, "prompt %zu", i + 1);
        p[i].idx = i;
        st = alim_chat_render(chat, system, prompts[i], NULL, &ct, err);
        if (st) break;
        st = alim_tokenizer_encode(tk, ct.text, ct.len, &p[i].ids, &p[i].n, &cap, where, err);
        alim_chat_text_free(&ct);
        if (!st && p[i].n == 0) st = alim_error_set(err, ALIM_EINVAL, where, "renders to no tokens");
        if (!st && p[i].n > maxp) maxp = p[i].n;
    }
    if (!st && maxp + max_new > (size_t)m->config.n_positions + 1)
        st = alim_error_set(err, ALIM_EINVAL, "chat replies", "a prompt of %zu tokens plus %zu new ones exceeds the model's context %d", maxp,
                            max_new, m->config.n_positions);
    const size_t L = maxp + max_new;
    int32_t *rows = st ? NULL : malloc(MAX_ROWS * L * sizeof *rows);
    size_t maxtok = 4;
    for (int v = 0; v < tk->vocab_size; v++) maxtok = tk->token_len[v] > maxtok ? tk->token_len[v] : maxtok;
    char *text = st ? NULL : malloc(max_new * maxtok + 1);
    if (!st && (!rows || !text)) st = alim_error_set(err, ALIM_ENOMEM, "chat replies", "out of memory");
    if (!st) qsort(p, n, sizeof *p, cmp_prompt);
    alim_rng rng[MAX_ROWS];
    size_t len[MAX_ROWS], done = 0;
    const double t0 = now_s();
    for (size_t g = 0; g < n && !st;) {
        size_t B = 1;
        while (g + B < n && B < MAX_ROWS && p[g + B].n == p[g].n) B++;
        const size_t np = p[g].n, Lg = np + max_new;
        for (size_t b = 0; b < B; b++) {
            memcpy(rows + b * Lg, p[g + b].ids, np * sizeof *rows);
            alim_rng_seed(&rng[b], seed, stream << 20 | p[g + b].idx);
        }
        st = alim_lm_sample_batch(m, rows, B, Lg, np, end_turn, temperature, lim, rng, len, err);
        for (size_t b = 0; b < B && !st; b++) {
            out->generated += len[b] - np + (len[b] < Lg);
            size_t tl = 0, k = np;
            for (; k < len[b]; k++) {
                const int32_t id = rows[b * Lg + k];
                if (id == tk->eot || id == tk->eos_id) break;
                size_t bl;
                const char *t = alim_tokenizer_decode(tk, id, &bl);
                if (t && bl) memcpy(text + tl, t, bl), tl += bl;
            }
            text[tl] = 0;
            const size_t i = p[g + b].idx;
            out->tokens[i] = k - np;
            out->bytes[i] = tl;
            if (!(out->text[i] = malloc(tl + 1))) st = alim_error_set(err, ALIM_ENOMEM, "chat replies", "out of memory");
            else memcpy(out->text[i], text, tl + 1);
        }
        g += B;
        done += B;
        alim_progress_report(progress, "sampling", (double)done / (double)n, 1);
    }
    out->seconds = now_s() - t0;
    for (size_t i = 0; i < n; i++) free(p[i].ids);
    free(p), free(rows), free(text);
    if (st) alim_chat_replies_free(out);
    return st;
}
