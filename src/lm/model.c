/* model.c — the model's life cycle and passes, whatever the architecture (see alim/gpt.h):
 * configuration checks, allocation from the tensor table (arch.c), batches, the forward and
 * backward passes operation-parallel or in data-parallel shards, gradients. The graphs
 * themselves are gpt2.c and llama.c.
 *
 * Small models run data parallel (shard_count): each thread takes whole passes over its
 * part of the batch, and the shards' gradients are summed in a fixed order.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/dist.h"
#include "alim/rng.h"
#include "kernels.h"
#include "model.h"

/* ---- model ------------------------------------------------------------------------- */

alim_status alim_gpt_config_check(const alim_gpt_config *c, alim_error *err)
{
    if (c->n_layer < 1 || c->n_layer > 1000) return alim_error_set(err, ALIM_EINVAL, "n_layer", "must be in [1, 1000], got %d", c->n_layer);
    if (c->n_head < 1) return alim_error_set(err, ALIM_EINVAL, "n_head", "must be >= 1, got %d", c->n_head);
    if (c->n_embd < 1 || c->n_embd > 65536 || c->n_embd % c->n_head)
        return alim_error_set(err, ALIM_EINVAL, "n_embd", "must be a positive multiple of n_head (%d), got %d", c->n_head, c->n_embd);
    if (c->n_positions < 1 || c->n_positions > 1 << 20)
        return alim_error_set(err, ALIM_EINVAL, "n_positions", "must be in [1, 2^20], got %d", c->n_positions);
    if (c->vocab_size < 1 || c->vocab_size > 1 << 24)
        return alim_error_set(err, ALIM_EINVAL, "vocab_size", "must be in [1, 2^24], got %d", c->vocab_size);
    if (!(c->layer_norm_epsilon > 0.0f) || !isfinite(c->layer_norm_epsilon))
        return alim_error_set(err, ALIM_EINVAL, "layer_norm_epsilon", "must be a positive number");
    if (c->arch == ALIM_ARCH_GPT2) return ALIM_OK;
    if (c->arch != ALIM_ARCH_LLAMA) return alim_error_set(err, ALIM_EINVAL, "arch", "unknown architecture %d", (int)c->arch);
    if (c->n_kv_head < 1 || c->n_head % c->n_kv_head)
        return alim_error_set(err, ALIM_EINVAL, "num_key_value_heads", "must divide num_attention_heads (%d), got %d", c->n_head, c->n_kv_head);
    if ((c->n_embd / c->n_head) % 2)
        return alim_error_set(err, ALIM_EINVAL, "head_dim", "rotary embeddings need an even head size, got %d", c->n_embd / c->n_head);
    if (c->n_inner < 1 || c->n_inner > 1 << 20)
        return alim_error_set(err, ALIM_EINVAL, "intermediate_size", "must be in [1, 2^20], got %d", c->n_inner);
    if (!(c->rope_theta > 0.0f) || !isfinite(c->rope_theta))
        return alim_error_set(err, ALIM_EINVAL, "rope_theta", "must be a positive number");
    if (c->rope_type == ALIM_ROPE_LLAMA3) {
        if (!(c->rope_factor >= 1.0f) || !isfinite(c->rope_factor) || !(c->rope_low_freq_factor > 0.0f) ||
            !(c->rope_high_freq_factor > c->rope_low_freq_factor) || !isfinite(c->rope_high_freq_factor) ||
            c->rope_original_max_positions < 1)
            return alim_error_set(err, ALIM_EINVAL, "rope_scaling", "llama3 scaling needs factor >= 1, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings >= 1");
    } else if (c->rope_type != ALIM_ROPE_DEFAULT)
        return alim_error_set(err, ALIM_EINVAL, "rope_scaling", "unknown rope type %d", (int)c->rope_type);
    return ALIM_OK;
}

alim_status alim_gpt_create(alim_gpt *m, const alim_gpt_config *cfg, alim_error *err)
{
    memset(m, 0, sizeof *m);
    alim_status st = alim_gpt_config_check(cfg, err);
    if (st) return st;
    m->config = *cfg;
    if (cfg->arch == ALIM_ARCH_GPT2) { /* the Llama-only fields mean nothing here */
        memset(&m->config, 0, sizeof m->config);
        m->config.n_layer = cfg->n_layer, m->config.n_embd = cfg->n_embd, m->config.n_head = cfg->n_head;
        m->config.n_positions = cfg->n_positions, m->config.vocab_size = cfg->vocab_size;
        m->config.layer_norm_epsilon = cfg->layer_norm_epsilon;
    }
    lm_model_setup(m);
    m->params = calloc(m->num_params, sizeof(float));
    if (!m->params) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for %zu parameters", m->num_params);
    lm_model_point(m, m->params, &m->p, &m->lp);
    m->mean_loss = -1.0f;
    if (cfg->arch == ALIM_ARCH_LLAMA && (st = lm_llama_setup(m, err))) {
        alim_gpt_free(m);
        return st;
    }
    return ALIM_OK;
}

void alim_gpt_free(alim_gpt *m)
{
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->acts_memory);
    free(m->grad_acts_memory);
    free(m->rope_inv_freq);
    free(m->params_bf16);
    memset(m, 0, sizeof *m);
}


void alim_gpt_init_params(alim_gpt *m, uint64_t seed)
{
    if (m->config.arch == ALIM_ARCH_LLAMA) lm_llama_init_params(m, seed);
    else lm_gpt2_init_params(m, seed);
    alim_gpt_params_changed(m);
}

/* The activation views of m's architecture for (B,T): the floats needed, and the views
 * pointed into base when base != NULL. */
static size_t model_layout_acts(alim_gpt *m, float *base, size_t B, size_t T, size_t L)
{
    if (m->config.arch == ALIM_ARCH_LLAMA) return lm_llama_layout_acts(&m->la, base, &m->config, B, T, L);
    return lm_gpt2_layout_acts(&m->a, base, &m->config, B, T, L);
}

float *lm_model_logits(const alim_gpt *m) { return m->config.arch == ALIM_ARCH_LLAMA ? m->la.logits : m->a.logits; }

/* Data parallelism for small models. Splitting every layer's work between the threads
 * costs an OpenMP fork/join per operation (some 70 per step for two layers), and the
 * threads wait for each other at every one of them; with a model this small the waiting
 * was 8% of the time on two threads. Instead each thread can run the whole forward and
 * backward pass for its own slice of the batch, with its own gradient buffer, and the
 * buffers are summed once at the end. That needs (shards - 1) extra copies of the
 * gradients, so it is only done when they are small next to the activations (never for
 * GPT-2 124M at B*T = 256, say). The shard count is the thread count (capped by B): the
 * gradients are a sum over the shards in a fixed order, repeatable for a given thread
 * count, as the column splits of lm_gemm already were. */
int lm_model_shard_count(const alim_gpt *m, int B, int T, int nt)
{
    if (nt < 2 || B < 2 || omp_in_parallel() || getenv("ALIM_LM_NO_SHARDS")) return 1;
    const int S = nt < B ? nt : B;
    alim_gpt_acts views;
    alim_llama_acts lviews;
    const size_t acts = m->config.arch == ALIM_ARCH_LLAMA ? lm_llama_layout_acts(&lviews, NULL, &m->config, (size_t)B, (size_t)T, (size_t)m->config.n_layer)
                                                          : lm_gpt2_layout_acts(&views, NULL, &m->config, (size_t)B, (size_t)T, (size_t)m->config.n_layer);
    return (size_t)(S - 1) * m->num_params <= acts / 8 ? S : 1;
}

static int shard_count(const alim_gpt *m, int B, int T) { return lm_model_shard_count(m, B, T, omp_get_max_threads()); }

int alim_gpt_shard_count(const alim_gpt *m, int B, int T) { return shard_count(m, B, T); }

/* batch rows [b0, b1) of a shard count S: an even split */
static void shard_rows(int B, int S, int s, int *b0, int *b1)
{
    *b0 = (int)((long long)B * s / S);
    *b1 = (int)((long long)B * (s + 1) / S);
}


/* Checks the batch and lays out the activations for (B,T); remembers the batch in m. */
static alim_status forward_prepare(alim_gpt *m, const int32_t *inputs, const int32_t *targets, int layers,
                                   int B, int T, alim_error *err)
{
    const alim_gpt_config *cfg = &m->config;
    const int V = cfg->vocab_size;
    if (B < 1 || T < 1) return alim_error_set(err, ALIM_EINVAL, "input", "empty batch (B=%d, T=%d)", B, T);
    if (T > cfg->n_positions)
        return alim_error_set(err, ALIM_EINVAL, "input", "sequence length %d exceeds the model's context of %d", T, cfg->n_positions);
    for (size_t i = 0; i < (size_t)B * T; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return alim_error_set(err, ALIM_EINVAL, "input", "token id %d at position %zu is outside the vocabulary [0, %d)", inputs[i], i, V);
        if (targets && (targets[i] < -1 || targets[i] >= V))
            return alim_error_set(err, ALIM_EINVAL, "target", "token id %d at position %zu is outside the vocabulary [0, %d)", targets[i], i, V);
    }
    size_t need = model_layout_acts(m, NULL, B, T, (size_t)layers);
    if (need > m->acts_capacity) {
        float *mem = realloc(m->acts_memory, need * sizeof(float));
        if (!mem) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for activations (%zu floats)", need);
        m->acts_memory = mem;
        m->acts_capacity = need;
    }
    model_layout_acts(m, m->acts_memory, B, T, (size_t)layers);
    m->acts_layers = layers;
    m->B = B;
    m->T = T;
    if (cfg->arch == ALIM_ARCH_LLAMA) lm_llama_prepare(m);
    m->inputs = inputs;
    m->targets = targets;
    m->loss_sum = 0.0;
    m->loss_count = 0;
    m->mean_loss = -1.0f;
    return ALIM_OK;
}

/* The loss of the batch from the rows' losses: summed serially, in row order, so the
 * reported loss does not depend on the thread count at all. */
static void forward_finish(alim_gpt *m)
{
    if (!m->targets) return;
    const size_t BT = (size_t)m->B * m->T;
    double sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < BT; i++) {
        sum += (m->config.arch == ALIM_ARCH_LLAMA ? m->la.losses : m->a.losses)[i];
        count += m->targets[i] >= 0;
    }
    m->loss_sum = sum;
    m->loss_count = count;
    m->mean_loss = count ? (float)(sum / (double)count) : 0.0f;
}

void alim_gpt_log_softmax_row(const alim_gpt *m, int b, int t, float *out)
{
    const int V = m->config.vocab_size;
    lm_log_softmax_vec(out, lm_model_logits(m) + ((size_t)b * m->T + t) * V, V);
}

alim_status alim_gpt_zero_grad(alim_gpt *m, alim_error *err)
{
    if (!m->grads) {
        m->grads = calloc(m->num_params, sizeof(float));
        if (!m->grads) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for gradients");
        lm_model_point(m, m->grads, &m->g, &m->lg);
        return ALIM_OK;
    }
    memset(m->grads, 0, m->num_params * sizeof(float));
    return ALIM_OK;
}


static void arch_forward_rows(alim_gpt *m, int b0, int b1, float *tbuf, int dlogits, float k)
{
    if (m->config.arch == ALIM_ARCH_LLAMA) lm_llama_forward_rows(m, b0, b1, tbuf, dlogits, k);
    else lm_gpt2_forward_rows(m, b0, b1, tbuf, dlogits, k);
}

/* Runs the forward pass (fwd), the backward pass (bwd) or both over m's prepared batch,
 * operation-parallel (S == 1) or in S data-parallel shards (see shard_count). With both, a
 * shard goes from its forward straight into its backward (no join in between) and d logits
 * is made in the forward's loss loop. k = loss_scale / loss_count for the backward.
 * This process runs the shards [s0, s1) of the S; with all of them (s0 = 0, s1 = S) their
 * gradients are summed into m->grads here, otherwise (the other shards are other ranks')
 * *part points to the buffers of shards max(s0, 1) .. s1 - 1 (shard 0's sum is in m->grads)
 * followed by xfloats floats of room for the caller's exchange. */
static alim_status run_passes(alim_gpt *m, int fwd, int bwd, float k, int S, int s0, int s1, size_t xfloats,
                              float **part, alim_error *err)
{
    const alim_gpt_config *cfg = &m->config;
    const int C = cfg->n_embd, NH = cfg->n_head, llama = cfg->arch == ALIM_ARCH_LLAMA;
    const int B = m->B, T = m->T;
    const size_t BT = (size_t)B * T, TT = (size_t)T * T, hsT = (size_t)(C / NH) * T;
    const size_t rows_need = llama ? lm_llama_backward_scratch(cfg, BT) : BT * C * 2 + BT * 4 * C;
    /* per-thread scratch slots: one per local shard when the shards were set by the caller
     * (there may be more shards than threads), else one per thread */
    const int local = s1 - s0, all = s0 == 0 && s1 == S;
    const int nthreads = omp_get_max_threads() > local ? omp_get_max_threads() : local;
    float *tbuf_f = NULL;  // forward: a transposed head (hs,T) per thread (small heads)
    if (fwd && lm_attention_small_head(C / NH)) {
        tbuf_f = malloc((size_t)nthreads * hsT * sizeof(float));
        if (!tbuf_f) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for attention scratch");
    }
    float *dres = NULL, *dtmp = NULL, *dbig = NULL, *attscratch = NULL, *tbuf = NULL, *shard_grads = NULL;
    if (bwd) {
        if (!m->grads) {
            alim_status st = alim_gpt_zero_grad(m, err);
            if (st) return free(tbuf_f), st;
        }
        // scratch: rows (GPT-2: dres (BT,C), dtmp (BT,C), dbig (BT,4C)), attention
        // (threads,T,T) + a transposed head (hs,T) per thread for the small-head attention
        // kernels + the gradients of shards 1..S-1 (or of the local ones, and the exchange's room)
        const size_t own = all ? (size_t)(S - 1) : (size_t)(local - (s0 == 0));
        size_t need = rows_need + (size_t)nthreads * (TT + hsT) + own * m->num_params + (all ? 0 : xfloats);
        if (need > m->grad_acts_capacity) {
            float *mem = realloc(m->grad_acts_memory, need * sizeof(float));
            if (!mem) return free(tbuf_f), alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for backward scratch");
            m->grad_acts_memory = mem;
            m->grad_acts_capacity = need;
        }
        dres = m->grad_acts_memory, dtmp = dres + BT * C, dbig = dtmp + BT * C;
        attscratch = m->grad_acts_memory + rows_need, tbuf = attscratch + (size_t)nthreads * TT;
        shard_grads = tbuf + (size_t)nthreads * hsT;
        if (part) *part = shard_grads;
    }
    if (S == 1) {
        if (fwd) arch_forward_rows(m, 0, B, tbuf_f, bwd, k);
        if (bwd && llama) lm_llama_backward_rows(m, 0, B, &m->lg, k, !fwd, m->grad_acts_memory, attscratch, tbuf);
        else if (bwd) lm_gpt2_backward_rows(m, 0, B, &m->g, k, !fwd, dres, dtmp, dbig, attscratch, tbuf);
        free(tbuf_f);
        return ALIM_OK;
    }
    const size_t np = m->num_params;
    const int first_own = s0 > 1 ? s0 : 1; // the first shard with a buffer of its own
#pragma omp parallel num_threads(local)
    {
        /* the team can be smaller than S (OMP_DYNAMIC, OMP_THREAD_LIMIT): a thread takes
         * shards tid, tid + team, ..., so every shard runs exactly once and the results
         * depend on S only */
        const int tid = omp_get_thread_num(), team = omp_get_num_threads();
        /* the operations' own parallel loops run on this thread alone, even with nested
         * parallelism enabled (their per-thread scratch is the shard's slot); the setting
         * is this implicit task's and ends with the region */
        omp_set_num_threads(1);
        for (int s = s0 + tid; s < s1; s += team) {
            const size_t slot = (size_t)(s - s0);
            int b0, b1;
            shard_rows(B, S, s, &b0, &b1);
            if (fwd) arch_forward_rows(m, b0, b1, tbuf_f ? tbuf_f + slot * hsT : NULL, bwd, k);
            if (!bwd) continue;
            alim_gpt_tensors gs = m->g;  // shard 0 adds to the gradients, the others to their own
            alim_llama_tensors lgs = m->lg;
            if (s > 0) {
                float *own = shard_grads + (size_t)(s - first_own) * np;
                memset(own, 0, np * sizeof(float));
                lm_model_point(m, own, &gs, &lgs);
            }
            if (llama) lm_llama_backward_rows(m, b0, b1, &lgs, k, !fwd, m->grad_acts_memory, attscratch + slot * TT, tbuf + slot * hsT);
            else lm_gpt2_backward_rows(m, b0, b1, &gs, k, !fwd, dres, dtmp, dbig, attscratch + slot * TT, tbuf + slot * hsT);
        }
        if (bwd && all) {
#pragma omp barrier
            // grads += shard 1 + shard 2 + ..., in that order for every element
            float *grads = m->grads;
#pragma omp for schedule(static)
            for (size_t i = 0; i < np; i++) {
                float acc = grads[i];
                for (int t = 1; t < S; t++) acc += shard_grads[(size_t)(t - 1) * np + i];
                grads[i] = acc;
            }
        }
    }
    free(tbuf_f);
    return ALIM_OK;
}

static alim_status forward_only(alim_gpt *m, const int32_t *inputs, const int32_t *targets, int B,
                                int T, int layers, alim_error *err)
{
    alim_status st = forward_prepare(m, inputs, targets, layers, B, T, err);
    if (st) return st;
    int saved = lm_blas_threads_begin();
    const int S = shard_count(m, B, T);
    lm_model_sync_bf16(m);
    st = run_passes(m, 1, 0, 0.0f, S, 0, S, 0, NULL, err);
    lm_blas_threads_end(saved);
    if (!st) st = lm_model_prec_status(m, err);
    if (!st) forward_finish(m);
    return st;
}

alim_status alim_gpt_forward(alim_gpt *m, const int32_t *inputs, const int32_t *targets, int B,
                             int T, alim_error *err)
{
    return forward_only(m, inputs, targets, B, T, m->config.n_layer, err);
}

alim_status alim_gpt_forward_inference(alim_gpt *m, const int32_t *inputs, const int32_t *targets,
                                       int B, int T, alim_error *err)
{
    return forward_only(m, inputs, targets, B, T, 1, err);
}

alim_status alim_gpt_backward(alim_gpt *m, float loss_scale, alim_error *err)
{
    if (!m->targets || m->B == 0) return alim_error_set(err, ALIM_EINVAL, "model", "backward needs a forward pass with targets");
    if (m->acts_layers != m->config.n_layer)
        return alim_error_set(err, ALIM_EINVAL, "model", "backward after alim_gpt_forward_inference, which keeps no activations to go back through");
    const float k = m->loss_count ? loss_scale / (float)m->loss_count : 0.0f;
    int saved = lm_blas_threads_begin();
    const int S = shard_count(m, m->B, m->T);
    m->bf16_failed = 0; /* the forward's bf16 copy, even if the parameters changed since */
    alim_status st = run_passes(m, 0, 1, k, S, 0, S, 0, NULL, err);
    lm_blas_threads_end(saved);
    return st ? st : lm_model_prec_status(m, err);
}

alim_status alim_gpt_forward_backward(alim_gpt *m, const int32_t *inputs, const int32_t *targets,
                                      int B, int T, float loss_scale, alim_error *err)
{
    if (!targets) return alim_error_set(err, ALIM_EINVAL, "model", "backward needs targets");
    alim_status st = forward_prepare(m, inputs, targets, m->config.n_layer, B, T, err);
    if (st) return st;
    size_t count = 0;  // the backward's scale needs the count of the whole batch up front
    for (size_t i = 0; i < (size_t)B * T; i++) count += targets[i] >= 0;
    const float k = count ? loss_scale / (float)count : 0.0f;
    const int S = shard_count(m, B, T);
    int saved = lm_blas_threads_begin();
    lm_model_sync_bf16(m);
    st = run_passes(m, 1, 1, k, S, 0, S, 0, NULL, err);
    lm_blas_threads_end(saved);
    if (!st) st = lm_model_prec_status(m, err);
    if (!st) forward_finish(m);
    return st;
}


/* ---- data parallel across processes (alim/dist.h) ------------------------------------- */

/* m->grads := the sum of the S shards' terms in shard order, every rank ending with all of
 * it. The terms are shard 0's (m->grads on its rank: the running sum plus shard 0, as the
 * one-process pass leaves it) and the others' buffers. MPI_Allreduce would fix neither the
 * order nor the grouping of the sums, so instead each rank takes a slice of the parameters,
 * receives that slice of every shard (an all-to-all; rank r's shards arrive in order after
 * rank r-1's), adds them up exactly as run_passes does, and the slices are gathered back.
 * Per step and rank that moves (local shards + 1) * (R-1)/R * num_params floats each way:
 * for one shard per rank, the 2 (R-1)/R * 4 * num_params bytes of a ring all-reduce. */
static alim_status reduce_shards_dist(alim_gpt *m, int S, int s0, int s1, const float *shard_grads, float *xbuf,
                                      alim_error *err)
{
    const int R = alim_dist_size(), me = alim_dist_rank(), local = s1 - s0, first_own = s0 > 1 ? s0 : 1;
    const size_t np = m->num_params;
    size_t *v = malloc(6 * (size_t)R * sizeof *v);
    if (!v) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for the gradient exchange");
    size_t *sc = v, *sd = v + R, *rc = v + 2 * R, *rd = v + 3 * R, *pc = v + 4 * R, *pd = v + 5 * R;
    for (int q = 0; q < R; q++) {
        pd[q] = np * (size_t)q / (size_t)R;
        pc[q] = np * (size_t)(q + 1) / (size_t)R - pd[q];
    }
    float *send = xbuf, *recv = xbuf + (size_t)local * np;
    size_t off = 0;
    for (int q = 0; q < R; q++) { // to rank q: its slice of each local shard, in shard order
        sd[q] = off;
        for (int s = s0; s < s1; s++) {
            const float *term = s == 0 ? m->grads : shard_grads + (size_t)(s - first_own) * np;
            memcpy(send + off, term + pd[q], pc[q] * sizeof(float));
            off += pc[q];
        }
        sc[q] = off - sd[q];
    }
    off = 0;
    for (int r = 0; r < R; r++) { // from rank r: my slice of each of its shards
        const int r0 = (int)((long long)S * r / R), r1 = (int)((long long)S * (r + 1) / R);
        rd[r] = off;
        rc[r] = (size_t)(r1 - r0) * pc[me];
        off += rc[r];
    }
    alim_status st = alim_dist_alltoallv_float(send, sc, sd, recv, rc, rd, err);
    if (!st) {
        const size_t len = pc[me];
        float *g = m->grads + pd[me];
        // shard 0 + shard 1 + shard 2 + ..., in that order for every element (run_passes)
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < len; i++) {
            float acc = recv[i];
            for (int t = 1; t < S; t++) acc += recv[(size_t)t * len + i];
            g[i] = acc;
        }
        st = alim_dist_allgatherv_float(m->grads, pc, pd, err);
    }
    free(v);
    return st;
}

alim_status lm_model_forward_backward_dist(alim_gpt *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                                           float loss_scale, int S, int ranks, alim_error *err)
{
    const int R = ranks > 1 ? ranks : 1, me = R > 1 ? alim_dist_rank() : 0;
    alim_status st = ALIM_OK;
    if (!targets) st = alim_error_set(err, ALIM_EINVAL, "model", "backward needs targets");
    else if (S < R || S > B)
        st = alim_error_set(err, ALIM_EINVAL, "shards", "%d data-parallel shards of a batch of %d over %d ranks: need ranks <= shards <= batch", S, B, R);
    if (!st) st = forward_prepare(m, inputs, targets, m->config.n_layer, B, T, err);
    if (R == 1 && st) return st;
    const int s0 = (int)((long long)S * me / R), s1 = (int)((long long)S * (me + 1) / R);
    float *part = NULL;
    const size_t np = m->num_params, slice = np / (size_t)R + 1;
    if (!st) {
        size_t count = 0;  // the backward's scale needs the count of the whole batch up front
        for (size_t i = 0; i < (size_t)B * T; i++) count += targets[i] >= 0;
        const float k = count ? loss_scale / (float)count : 0.0f;
        int saved = lm_blas_threads_begin();
        lm_model_sync_bf16(m);
        st = run_passes(m, 1, 1, k, S, s0, s1, R > 1 ? (size_t)(s1 - s0) * np + (size_t)S * slice : 0, &part, err);
        lm_blas_threads_end(saved);
        if (!st) st = lm_model_prec_status(m, err);
    }
    if (R == 1) {
        if (!st) forward_finish(m);
        return st;
    }
    size_t *v = malloc(2 * (size_t)R * sizeof *v);
    if (!v && !st) st = alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for the loss exchange");
    /* a rank that failed (memory) must not leave the others waiting in the exchange */
    st = alim_dist_agree(st, err);
    if (st) return free(v), st;
    for (int r = 0; r < R; r++) { // the rows' losses: rank r's shards' rows, contiguous
        int b0, b1, e0, e1;
        shard_rows(B, S, (int)((long long)S * r / R), &b0, &b1);
        shard_rows(B, S, (int)((long long)S * (r + 1) / R) - 1, &e0, &e1);
        v[R + r] = (size_t)b0 * T;
        v[r] = (size_t)(e1 - b0) * T;
    }
    st = alim_dist_allgatherv_float(m->config.arch == ALIM_ARCH_LLAMA ? m->la.losses : m->a.losses, v, v + R, err);
    free(v);
    if (!st) forward_finish(m);
    const size_t local_bufs = (size_t)(s1 - s0) - (s0 == 0);
    if (!st) st = reduce_shards_dist(m, S, s0, s1, part, part + local_bufs * np, err);
    return st;
}
