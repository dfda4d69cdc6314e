/* eval.c — scoring and sampling (see alim/lm_eval.h). */
#include "alim/lm_eval.h"

#include <math.h>
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
        return alim_error_set(err, ALIM_EINVAL, "--context", "%d is outside [1, %d], the model's context", T, m->config.n_positions);
    if (base && base->config.vocab_size != V)
        return alim_error_set(err, ALIM_EINVAL, "--base", "vocab_size %d differs from the model's %d", base->config.vocab_size, V);
    if (base && T > base->config.n_positions)
        return alim_error_set(err, ALIM_EINVAL, "--base", "context %d is longer than the base model's %d", T, base->config.n_positions);
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
        st = alim_gpt_forward(m, in, tg, nb, len, err);
        if (!st && base) st = alim_gpt_forward(base, in, tg, nb, len, err);
        if (st) break;
        res->total_nats += m->loss_sum;
        res->n_tokens += m->loss_count;
        for (int b = 0; b < nb; b++)
            for (int t = 0; t < len; t++) {
                int32_t y = tg[b * len + t];
                if (y < 0) continue;
                size_t nbytes = 0;
                if (tk && alim_tokenizer_decode(tk, y, &nbytes)) res->n_bytes += nbytes;
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

alim_status alim_lm_sample(alim_gpt *m, int32_t *ids, size_t n_prompt,
                           const alim_sample_options *o, alim_rng *rng, size_t *n_out,
                           alim_error *err)
{
    const int V = m->config.vocab_size, maxT = m->config.n_positions;
    const int lim = o->vocab_limit > 0 && o->vocab_limit < V ? o->vocab_limit : V;
    size_t n = n_prompt;
    *n_out = n;
    if (n_prompt < 1) return alim_error_set(err, ALIM_EINVAL, "prompt", "needs at least one token");
    float *lp = malloc((size_t)V * sizeof(float));
    double *w = malloc((size_t)V * sizeof(double));
    int *idx = malloc((size_t)V * sizeof(int));
    if (!lp || !w || !idx) {
        free(lp), free(w), free(idx);
        return alim_error_set(err, ALIM_ENOMEM, "sample", "out of memory");
    }
    alim_status st = ALIM_OK;
    for (int k = 0; k < o->max_new; k++) {
        size_t start = n > (size_t)maxT ? n - (size_t)maxT : 0;
        int T = (int)(n - start);
        st = alim_gpt_forward(m, ids + start, NULL, 1, T, err);
        if (st) break;
        alim_gpt_log_softmax_row(m, 0, T - 1, lp);
        int next = 0;
        if (o->temperature <= 0) {
            for (int v = 1; v < lim; v++)
                if (lp[v] > lp[next]) next = v;
        } else {
            /* candidates: the top_k most likely (all if top_k == 0), ties by id */
            int nc = lim;
            for (int v = 0; v < lim; v++) idx[v] = v;
            if (o->top_k > 0 && o->top_k < lim) {
                for (int i = 0; i < o->top_k; i++) { /* partial selection sort: k is small */
                    int best = i;
                    for (int j = i + 1; j < lim; j++)
                        if (lp[idx[j]] > lp[idx[best]]) best = j;
                    int t = idx[i];
                    idx[i] = idx[best];
                    idx[best] = t;
                }
                nc = o->top_k;
            }
            double mx = -INFINITY;
            for (int i = 0; i < nc; i++) mx = lp[idx[i]] > mx ? lp[idx[i]] : mx;
            double acc = 0.0;
            for (int i = 0; i < nc; i++) {
                acc += exp(((double)lp[idx[i]] - mx) / o->temperature);
                w[i] = acc;
            }
            next = idx[alim_rng_discrete_cdf(rng, w, (size_t)nc)];
        }
        ids[n++] = next;
        *n_out = n;
        if (o->stop_at_eot && next == o->eot) break;
    }
    free(lp);
    free(w);
    free(idx);
    return st;
}
