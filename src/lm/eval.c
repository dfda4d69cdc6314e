/* eval.c — scoring and sampling (see alim/lm_eval.h). */
#include "alim/lm_eval.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

alim_status alim_lm_evaluate(alim_gpt *m, alim_gpt *base, const alim_token_stream *ds,
                             const alim_tokenizer *tk, int T, int B, float *logprobs,
                             const alim_progress *progress, alim_eval_result *res,
                             alim_error *err)
{
    memset(res, 0, sizeof *res);
    const int V = m->config.vocab_size;
    if (T < 1 || T > m->config.n_positions)
        return alim_error_set(err, ALIM_EINVAL, "context", "%d is outside [1, %d], the model's context", T, m->config.n_positions);
    if (base && base->config.vocab_size != V)
        return alim_error_set(err, ALIM_EINVAL, "base", "vocab_size %d differs from the model's %d", base->config.vocab_size, V);
    if (base && T > base->config.n_positions)
        return alim_error_set(err, ALIM_EINVAL, "base", "context %d is longer than the base model's %d", T, base->config.n_positions);
    if (B < 1) B = 1;
    if (ds->n < 2) return ALIM_OK;
    const size_t n_windows = (ds->n - 2) / (size_t)T + 1;
    int32_t *in = malloc((size_t)B * T * sizeof(int32_t)), *tg = malloc((size_t)B * T * sizeof(int32_t));
    float *lp = malloc(2 * (size_t)V * sizeof(float));
    if (!in || !tg || !lp) {
        free(in), free(tg), free(lp);
        return alim_error_set(err, ALIM_ENOMEM, "eval", "out of memory");
    }
    alim_status st = ALIM_OK;
    size_t done = 0;
    size_t dump = 0;
    while (done < n_windows && !st) {
        /* B full windows, or the single last (shorter) one */
        size_t start = done * (size_t)T;
        int len = (int)(ds->n - 1 - start < (size_t)T ? ds->n - 1 - start : (size_t)T);
        int nb = 0;
        while (nb < B && done + nb < n_windows) {
            size_t s = (done + nb) * (size_t)T;
            int l = (int)(ds->n - 1 - s < (size_t)T ? ds->n - 1 - s : (size_t)T);
            if (l != len) break;
            for (int t = 0; t < len; t++) {
                in[nb * len + t] = ds->tokens[s + t];
                tg[nb * len + t] = ds->mask[s + t + 1] ? ds->tokens[s + t + 1] : -1;
            }
            nb++;
        }
        st = alim_gpt_forward_inference(m, in, tg, nb, len, err);
        if (!st && base) st = alim_gpt_forward_inference(base, in, tg, nb, len, err);
        if (st) break;
        res->total_nats += m->loss_sum;
        res->n_tokens += m->loss_count;
        for (int b = 0; b < nb; b++)
            for (int t = 0; t < len; t++) {
                int32_t y = tg[b * len + t];
                if (y < 0) continue;
                size_t nbytes = 0;
                /* the document separator is no text (HF vocabularies decode it to its name) */
                if (tk && y != tk->eot && alim_tokenizer_decode(tk, y, &nbytes)) res->n_bytes += nbytes;
                if (!base && !logprobs) continue;
                alim_gpt_log_softmax_row(m, b, t, lp);
                if (logprobs) memcpy(logprobs + (dump++) * V, lp, (size_t)V * sizeof(float));
                if (base) {
                    alim_gpt_log_softmax_row(base, b, t, lp + V);
                    double kl = 0.0;
                    for (int v = 0; v < V; v++) {
                        double p = exp((double)lp[v]);
                        if (p > 0) kl += p * ((double)lp[v] - (double)lp[V + v]);
                    }
                    res->kl_nats_sum += kl;
                }
            }
        done += (size_t)nb;
        if (alim_progress_report(progress, "eval windows", (double)done, (double)n_windows)) break;
    }
    free(in);
    free(tg);
    free(lp);
    return st;
}

/* Picks the next token from log-probabilities lp[0..lim): greedy (temperature <= 0, the
 * first most likely id) or one draw from the top_k (all if 0) most likely ids at the
 * temperature. idx (lim) and w (lim) are scratch. */
static int pick_token(const float *lp, int lim, double temperature, int top_k, int *idx, double *w,
                      alim_rng *rng)
{
    int next = 0;
    if (temperature <= 0) {
        for (int v = 1; v < lim; v++)
            if (lp[v] > lp[next]) next = v;
        return next;
    }
    /* candidates: the top_k most likely (all if top_k == 0), ties by id */
    int nc = lim;
    for (int v = 0; v < lim; v++) idx[v] = v;
    if (top_k > 0 && top_k < lim) {
        for (int i = 0; i < top_k; i++) { /* partial selection sort: k is small */
            int best = i;
            for (int j = i + 1; j < lim; j++)
                if (lp[idx[j]] > lp[idx[best]]) best = j;
            int t = idx[i];
            idx[i] = idx[best];
            idx[best] = t;
        }
        nc = top_k;
    }
    double mx = -INFINITY;
    for (int i = 0; i < nc; i++) mx = lp[idx[i]] > mx ? lp[idx[i]] : mx;
    double acc = 0.0;
    for (int i = 0; i < nc; i++) {
        acc += exp(((double)lp[idx[i]] - mx) / temperature);
        w[i] = acc;
    }
    return idx[alim_rng_discrete_cdf(rng, w, (size_t)nc)];
}

alim_status alim_lm_sample(alim_gpt *m, int32_t *ids, size_t n_prompt,
                           const alim_sample_options *o, alim_rng *rng, size_t *n_out,
                           alim_error *err)
{
    return alim_lm_sample_until(m, ids, n_prompt, o, NULL, 0, rng, n_out, err);
}

alim_status alim_lm_sample_until(alim_gpt *m, int32_t *ids, size_t n_prompt,
                                 const alim_sample_options *o, const int32_t *stop_ids, int n_stop,
                                 alim_rng *rng, size_t *n_out, alim_error *err)
{
    const int V = m->config.vocab_size, maxT = m->config.n_positions;
    const int lim = o->vocab_limit > 0 && o->vocab_limit < V ? o->vocab_limit : V;
    size_t n = n_prompt;
    *n_out = n;
    if (n_prompt < 1) return alim_error_set(err, ALIM_EINVAL, "prompt", "needs at least one token");
    if (o->max_new <= 0) return ALIM_OK;
    float *lp = malloc((size_t)V * sizeof(float));
    double *w = malloc((size_t)V * sizeof(double));
    int *idx = malloc((size_t)V * sizeof(int));
    if (!lp || !w || !idx) {
        free(lp), free(w), free(idx);
        return alim_error_set(err, ALIM_ENOMEM, "sample", "out of memory");
    }
    /* While the context fits the model (n <= n_positions), the key/value cache gives each
     * new token for one token-forward: the prompt is one forward pass (prefill), then one
     * step per token. Past n_positions the window slides, every position changes, and the
     * cache is of no use: those tokens re-run the last n_positions tokens in full. */
    alim_gpt_cache *cache = NULL;
    alim_status st = ALIM_OK;
    if (n_prompt <= (size_t)maxT) {
        const size_t need = n_prompt + (size_t)o->max_new - 1;
        st = alim_gpt_cache_create(m, 1, need < (size_t)maxT ? (int)need : maxT, &cache, err);
        if (!st) st = alim_gpt_cache_prefill(m, cache, ids, (int)n_prompt, lp, err);
    }
    for (int k = 0; k < o->max_new && !st; k++) {
        if (k > 0 || !cache) {
            if (cache && n <= (size_t)cache->T_max) {
                st = alim_gpt_forward_step(m, cache, ids + n - 1, lp, err);
            } else {
                size_t start = n > (size_t)maxT ? n - (size_t)maxT : 0;
                int T = (int)(n - start);
                st = alim_gpt_forward_inference(m, ids + start, NULL, 1, T, err);
                if (!st) alim_gpt_log_softmax_row(m, 0, T - 1, lp);
            }
            if (st) break;
        }
        int next = pick_token(lp, lim, o->temperature, o->top_k, idx, w, rng);
        ids[n++] = next;
        *n_out = n;
        if (o->stop_at_eot && next == o->eot) break;
        int stop = 0;
        for (int i = 0; i < n_stop; i++) stop |= next == stop_ids[i];
        if (stop) break;
    }
    alim_gpt_cache_free(cache);
    free(lp);
    free(w);
    free(idx);
    return st;
}

alim_status alim_lm_sample_batch(alim_gpt *m, int32_t *rows, size_t B, size_t L, size_t n_prompt,
                                 int eot, double temperature, int vocab_limit, alim_rng *rngs,
                                 size_t *len, alim_error *err)
{
    const int V = m->config.vocab_size, maxT = m->config.n_positions;
    const int lim = vocab_limit > 0 && vocab_limit < V ? vocab_limit : V;
    if (B < 1 || B > (size_t)1 << 30) return alim_error_set(err, ALIM_EINVAL, "sample", "batch of %zu rows", B);
    if (n_prompt < 1 || n_prompt > L)
        return alim_error_set(err, ALIM_EINVAL, "prompt", "%zu prompt tokens for rows of %zu (needs 1 <= n_prompt <= L)", n_prompt, L);
    if (L - 1 > (size_t)maxT)
        return alim_error_set(err, ALIM_EINVAL, "sample", "rows of %zu tokens need a context of %zu, the model has %d", L, L - 1, maxT);
    if (!(temperature >= 0) || isinf(temperature))
        return alim_error_set(err, ALIM_EINVAL, "temperature", "must be >= 0 and finite, got %g", temperature);
    for (size_t b = 0; b < B; b++) len[b] = n_prompt;
    if (n_prompt == L) return ALIM_OK;
    /* rows whose document ended are fed the end-of-text token (or 0) until they are dropped */
    const int32_t filler = eot >= 0 && eot < V ? eot : 0;
    const int nt = omp_get_max_threads();
    alim_gpt_cache *c = NULL;
    float *lp = malloc(B * (size_t)V * sizeof *lp);
    double *w = malloc((size_t)nt * V * sizeof *w);
    int32_t *tok = malloc(B * n_prompt * sizeof *tok); /* prompts (B,n_prompt), then (B) per step */
    int *row_of = malloc(B * sizeof *row_of), *alive = malloc(B * sizeof *alive), *keep = malloc(B * sizeof *keep);
    alim_status st = ALIM_OK;
    if (!lp || !w || !tok || !row_of || !alive || !keep) st = alim_error_set(err, ALIM_ENOMEM, "sample", "out of memory");
    if (!st) st = alim_gpt_cache_create(m, (int)B, (int)(L - 1), &c, err);
    if (!st) {
        for (size_t b = 0; b < B; b++) memcpy(tok + b * n_prompt, rows + b * L, n_prompt * sizeof *tok);
        st = alim_gpt_cache_prefill(m, c, tok, (int)n_prompt, lp, err);
    }
    /* cache row r holds document row_of[r]; rows of ended documents are dropped from the
     * cache once they are a quarter of it, so that the work follows the live documents */
    int nact = (int)B;
    for (int r = 0; r < nact; r++) row_of[r] = r, alive[r] = 1;
    for (size_t t = n_prompt; !st; t++) {
        // lp (nact,V) is the distribution of position t of every live row: draw it
#pragma omp parallel for schedule(static) if (nact * (size_t)lim >= 4096)
        for (int r = 0; r < nact; r++) {
            if (!alive[r]) continue;
            const size_t b = (size_t)row_of[r];
            const float *l = lp + (size_t)r * V;
            int next;
            if (temperature <= 0) {
                next = 0;
                for (int v = 1; v < lim; v++)
                    if (l[v] > l[next]) next = v;
            } else {
                /* the elasticity experiments' draw: max-subtracted exp(lp/T) accumulated in
                 * double, inverted with the row's own stream */
                double *wr = w + (size_t)omp_get_thread_num() * V;
                double mx = -INFINITY, acc = 0;
                for (int v = 0; v < lim; v++) mx = l[v] > mx ? l[v] : mx;
                for (int v = 0; v < lim; v++) {
                    acc += exp(((double)l[v] - mx) / temperature);
                    wr[v] = acc;
                }
                next = (int)alim_rng_discrete_cdf(&rngs[b], wr, (size_t)lim);
            }
            if (next == eot) {
                alive[r] = 0;
                continue;
            }
            rows[b * L + t] = next;
            len[b] = t + 1;
        }
        if (t + 1 >= L) break;
        int n_alive = 0;
        for (int r = 0; r < nact; r++) n_alive += alive[r];
        if (n_alive == 0) break;
        if (n_alive <= nact - (nact + 3) / 4) {
            int k = 0;
            for (int r = 0; r < nact; r++)
                if (alive[r]) keep[k++] = r;
            st = alim_gpt_cache_keep_rows(c, keep, k, err);
            if (st) break;
            for (int r = 0; r < k; r++) row_of[r] = row_of[keep[r]], alive[r] = 1;
            nact = k;
        }
        for (int r = 0; r < nact; r++) tok[r] = alive[r] ? rows[(size_t)row_of[r] * L + t] : filler;
        st = alim_gpt_forward_step(m, c, tok, lp, err);
    }
    for (size_t b = 0; b < B; b++)
        for (size_t j = len[b]; j < L; j++) rows[b * L + j] = filler;
    alim_gpt_cache_free(c);
    free(lp), free(w), free(tok), free(row_of), free(alive), free(keep);
    return st;
}
