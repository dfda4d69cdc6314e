/* gpt.c — GPT-2 forward and backward in fp32 (see alim/gpt.h).
 *
 * Layer functions come in forward/backward pairs, in the style of karpathy's llm.c
 * (train_gpt2.c), with two differences: linear weights are in the Hugging Face Conv1D
 * (in,out) layout, and every matrix product is a CBLAS sgemm — those inside attention
 * too, except with head sizes 8 and 16, which have their own kernels. Reductions over the batch (bias, LayerNorm and embedding gradients) are
 * parallelised over channels, never with atomics, so results do not depend on timing.
 * Small models run data parallel instead (shard_count): each thread takes whole passes
 * over its part of the batch, and the shards' gradients are summed in a fixed order.
 */
#pragma GCC optimize("O3", "no-trapping-math")
#include "alim/gpt.h"

#include <cblas.h>
#include "kernels.h"
#include "model.h"
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/rng.h"

/* ---- LayerNorm -------------------------------------------------------------------- */

LM_CLONES static void layernorm_row(float *o, float *mean, float *rstd, const float *x,
                                    const float *w, const float *b, int C, float eps)
{
    // mean and variance (two passes) summed in 8 fixed float lanes, then in double
    float s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) s8[l] += x[c + l];
    double s = 0.0;
    for (; c < C; c++) s += x[c];
    for (int l = 0; l < 8; l++) s += s8[l];
    const float m = (float)(s / C);
    float v8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (c = 0; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) v8[l] += (x[c + l] - m) * (x[c + l] - m);
    double v = 0.0;
    for (; c < C; c++) v += (double)(x[c] - m) * (x[c] - m);
    for (int l = 0; l < 8; l++) v += v8[l];
    const float rs = (float)(1.0 / sqrt(v / C + (double)eps));
    for (c = 0; c < C; c++) o[c] = (x[c] - m) * rs * w[c] + b[c];
    *mean = m;
    *rstd = rs;
}

static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, size_t N, int C, float eps)
{
    // out (N,C), mean (N), rstd (N), inp (N,C), w (C), b (C)
#pragma omp parallel for schedule(static) if (N * C >= PAR_MIN)
    for (size_t n = 0; n < N; n++) layernorm_row(out + n * C, mean + n, rstd + n, inp + n * C, w, b, C, eps);
}

LM_CLONES static void layernorm_backward_row(float *di, const float *d, const float *x,
                                             const float *w, float m, float rs, int C)
{
    // di += (dn - mean(dn) - norm * mean(dn * norm)) * rstd, dn = w * d, sums in 8 lanes
    float a8[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) {
            float norm = (x[c + l] - m) * rs, dn = w[c + l] * d[c + l];
            a8[l] += dn;
            b8[l] += dn * norm;
        }
    double dmean = 0.0, dnm = 0.0;
    for (; c < C; c++) {
        float norm = (x[c] - m) * rs, dn = w[c] * d[c];
        dmean += dn;
        dnm += (double)dn * norm;
    }
    for (int l = 0; l < 8; l++) dmean += a8[l], dnm += b8[l];
    const float fm = (float)(dmean / C), fnm = (float)(dnm / C);
    for (c = 0; c < C; c++) {
        float norm = (x[c] - m) * rs, dn = w[c] * d[c];
        di[c] += (dn - fm - norm * fnm) * rs;
    }
}

static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, size_t N, int C)
{
    // dinp (N,C) +=, dw (C) +=, db (C) +=, dout (N,C), inp (N,C), w (C), mean/rstd (N)
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++)
        layernorm_backward_row(dinp + n * C, dout + n * C, inp + n * C, w, mean[n], rstd[n], C);
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
        int c1 = c0 + COLBLOCK < C ? c0 + COLBLOCK : C;
        double aw[COLBLOCK] = {0}, ab[COLBLOCK] = {0};
        for (size_t n = 0; n < N; n++) {
            const float *x = inp + n * C, *d = dout + n * C;
            const float m = mean[n], rs = rstd[n];
            for (int c = c0; c < c1; c++) {
                aw[c - c0] += (double)d[c] * ((x[c] - m) * rs);
                ab[c - c0] += d[c];
            }
        }
        for (int c = c0; c < c1; c++) {
            dw[c] += (float)aw[c - c0];
            db[c] += (float)ab[c - c0];
        }
    }
}

/* ---- linear layer (Conv1D layout) --------------------------------------------------- */

static void matmul_forward_epi(float *out, const float *inp, const float *w, const float *bias,
                               size_t N, int C, int OC, float *gelu_out, float *add_out,
                               const float *add_in)
{
    // out (N,OC) = inp (N,C) @ w (C,OC) + bias (OC); then, if given,
    // gelu_out (N,OC) = gelu(out) and add_out (N,OC) = add_in (N,OC) + out
    const lm_gemm_epilogue e = {bias, gelu_out, add_out, add_in};
    lm_gemm_epi(CblasNoTrans, CblasNoTrans, (int)N, OC, C, 1.0f, inp, C, w, OC, bias ? 1.0f : 0.0f, out, OC, &e);
}

static void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                           size_t N, int C, int OC)
{
    // out (N,OC) = inp (N,C) @ w (C,OC) + bias (OC)
    matmul_forward_epi(out, inp, w, bias, N, C, OC, NULL, NULL, NULL);
}

static void matmul_backward(float *dinp, float dinp_beta, float *dw, float *dbias,
                            const float *dout, const float *inp, const float *w, size_t N, int C,
                            int OC)
{
    // dinp (N,C) = dinp_beta*dinp + dout (N,OC) @ w^T; dw (C,OC) += inp^T @ dout;
    // dbias (OC) += column sums of dout
    lm_gemm(CblasNoTrans, CblasTrans, (int)N, C, OC, 1.0f, dout, OC, w, OC, dinp_beta, dinp, C);
    lm_gemm(CblasTrans, CblasNoTrans, C, OC, (int)N, 1.0f, inp, C, dout, OC, 1.0f, dw, OC);
    if (dbias) lm_colsum_add(dbias, dout, N, (size_t)OC, (size_t)OC);
}

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
    memset(m, 0, sizeof *m);
}

static void fill_normal(float *x, size_t n, float std, alim_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * alim_rng_normal(r));
}

void alim_gpt_init_params(alim_gpt *m, uint64_t seed)
{
    if (m->config.arch == ALIM_ARCH_LLAMA) {
        lm_llama_init_params(m, seed);
        return;
    }
    alim_rng r;
    alim_rng_seed(&r, seed, 0x67707432u);
    const size_t L = m->config.n_layer, C = m->config.n_embd;
    const float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)L);
    memset(m->params, 0, m->num_params * sizeof(float));
    fill_normal(m->p.wte, m->tensor_size[ALIM_GPT_WTE], std, &r);
    fill_normal(m->p.wpe, m->tensor_size[ALIM_GPT_WPE], std, &r);
    for (size_t i = 0; i < L * C; i++) m->p.ln1w[i] = m->p.ln2w[i] = 1.0f;
    for (size_t i = 0; i < C; i++) m->p.lnfw[i] = 1.0f;
    fill_normal(m->p.qkvw, m->tensor_size[ALIM_GPT_QKVW], std, &r);
    fill_normal(m->p.attprojw, m->tensor_size[ALIM_GPT_ATTPROJW], proj_std, &r);
    fill_normal(m->p.fcw, m->tensor_size[ALIM_GPT_FCW], std, &r);
    fill_normal(m->p.fcprojw, m->tensor_size[ALIM_GPT_FCPROJW], proj_std, &r);
}

/* Lays out the activation views for (B,T); returns the number of floats needed, and
 * points the views into base when base != NULL. */
static size_t layout_acts(alim_gpt_acts *a, float *base, const alim_gpt_config *cfg, size_t B,
                          size_t T)
{
    const size_t L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const size_t BT = B * T;
    struct { float **p; size_t n; } items[] = {
        {&a->encoded, BT * C},       {&a->ln1, L * BT * C},      {&a->ln1_mean, L * BT},
        {&a->ln1_rstd, L * BT},      {&a->qkv, L * BT * 3 * C},  {&a->atty, L * BT * C},
        {&a->att, L * B * NH * T * T}, {&a->attproj, L * BT * C}, {&a->residual2, L * BT * C},
        {&a->ln2, L * BT * C},       {&a->ln2_mean, L * BT},     {&a->ln2_rstd, L * BT},
        {&a->fch, L * BT * 4 * C},   {&a->fch_gelu, L * BT * 4 * C}, {&a->fcproj, L * BT * C},
        {&a->residual3, L * BT * C}, {&a->lnf, BT * C},          {&a->lnf_mean, BT},
        {&a->lnf_rstd, BT},          {&a->logits, BT * V},       {&a->losses, BT}, {&a->lse, BT},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        if (base) *items[i].p = base + total;
        total += items[i].n;
    }
    return total;
}

/* The activation views of m's architecture for (B,T): the floats needed, and the views
 * pointed into base when base != NULL. */
static size_t model_layout_acts(alim_gpt *m, float *base, size_t B, size_t T)
{
    if (m->config.arch == ALIM_ARCH_LLAMA) return lm_llama_layout_acts(&m->la, base, &m->config, B, T);
    return layout_acts(&m->a, base, &m->config, B, T);
}

static float *model_logits(const alim_gpt *m) { return m->config.arch == ALIM_ARCH_LLAMA ? m->la.logits : m->a.logits; }

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
static int shard_count(const alim_gpt *m, int B, int T)
{
    const int nt = omp_get_max_threads();
    if (nt < 2 || B < 2 || omp_in_parallel() || getenv("ALIM_LM_NO_SHARDS")) return 1;
    const int S = nt < B ? nt : B;
    alim_gpt_acts views;
    alim_llama_acts lviews;
    const size_t acts = m->config.arch == ALIM_ARCH_LLAMA ? lm_llama_layout_acts(&lviews, NULL, &m->config, (size_t)B, (size_t)T)
                                                          : layout_acts(&views, NULL, &m->config, (size_t)B, (size_t)T);
    return (size_t)(S - 1) * m->num_params <= acts / 8 ? S : 1;
}

int alim_gpt_shard_count(const alim_gpt *m, int B, int T) { return shard_count(m, B, T); }

/* batch rows [b0, b1) of a shard count S: an even split */
static void shard_rows(int B, int S, int s, int *b0, int *b1)
{
    *b0 = (int)((long long)B * s / S);
    *b1 = (int)((long long)B * (s + 1) / S);
}

/* The activations of layer l for the shard whose rows start at batch row b0: each layer's
 * (B,T,.) arrays start at row l*B*T, the shard's rows at b0*T in them; attention's saved
 * softmax at (l*B + b0)*NH*T*T. One place for the offsets, used by both passes. */
typedef struct {
    const float *residual; // (N,C) the layer's input: encoded or the previous residual3
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *attproj, *residual2;
    float *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *fcproj, *residual3;
} layer_acts;

static layer_acts layer_view(const alim_gpt *m, int l, int b0)
{
    const alim_gpt_acts *a = &m->a;
    const size_t C = m->config.n_embd, NH = m->config.n_head, B = m->B, T = m->T, BT = B * T;
    const size_t r0 = (size_t)b0 * T, lr = (size_t)l * BT + r0;
    layer_acts v;
    v.residual = l == 0 ? a->encoded + r0 * C : a->residual3 + (lr - BT) * C;
    v.ln1 = a->ln1 + lr * C, v.ln1_mean = a->ln1_mean + lr, v.ln1_rstd = a->ln1_rstd + lr;
    v.qkv = a->qkv + lr * 3 * C, v.atty = a->atty + lr * C;
    v.att = a->att + ((size_t)l * B + b0) * NH * T * T, v.attproj = a->attproj + lr * C;
    v.residual2 = a->residual2 + lr * C, v.ln2 = a->ln2 + lr * C;
    v.ln2_mean = a->ln2_mean + lr, v.ln2_rstd = a->ln2_rstd + lr;
    v.fch = a->fch + lr * 4 * C, v.fch_gelu = a->fch_gelu + lr * 4 * C;
    v.fcproj = a->fcproj + lr * C, v.residual3 = a->residual3 + lr * C;
    return v;
}

/* The forward pass over batch rows [b0, b1) of m's (B,T) batch: their activations, logits
 * and, with targets, lse and losses. attscratch: (threads, hs*T) for small heads. With
 * dlogits (training: a backward pass follows), each logits row is turned into d loss/d
 * logits right after its loss, while it is in L1 (the same formula as backward_rows). */
static void forward_rows(alim_gpt *m, int b0, int b1, float *attscratch, int dlogits, float k)
{
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int B = m->B, T = m->T, Bs = b1 - b0;
    const size_t BT = (size_t)B * T, r0 = (size_t)b0 * T, N = (size_t)Bs * T;
    const alim_gpt_tensors *p = &m->p;
    alim_gpt_acts *a = &m->a;
    const int32_t *targets = m->targets;
    lm_encoder_forward(a->encoded + r0 * C, m->inputs + r0, p->wte, p->wpe, Bs, T, C);
    for (int l = 0; l < L; l++) {
        const size_t lc = (size_t)l * C;
        const layer_acts la = layer_view(m, l, b0);

        layernorm_forward(la.ln1, la.ln1_mean, la.ln1_rstd, la.residual, p->ln1w + lc, p->ln1b + lc, N, C, cfg->layer_norm_epsilon);
        matmul_forward(la.qkv, la.ln1, p->qkvw + lc * 3 * C, p->qkvb + lc * 3, N, C, 3 * C);
        lm_attention_forward(la.atty, la.att, attscratch, la.qkv, Bs, T, NH, NH, C / NH);
        matmul_forward_epi(la.attproj, la.atty, p->attprojw + lc * C, p->attprojb + lc, N, C, C, NULL, la.residual2, la.residual);
        layernorm_forward(la.ln2, la.ln2_mean, la.ln2_rstd, la.residual2, p->ln2w + lc, p->ln2b + lc, N, C, cfg->layer_norm_epsilon);
        matmul_forward_epi(la.fch, la.ln2, p->fcw + lc * 4 * C, p->fcb + lc * 4, N, C, 4 * C, la.fch_gelu, NULL, NULL);
        matmul_forward_epi(la.fcproj, la.fch_gelu, p->fcprojw + lc * 4 * C, p->fcprojb + lc, N, 4 * C, C, NULL, la.residual3, la.residual2);
    }
    const float *last = a->residual3 + ((size_t)(L - 1) * BT + r0) * C;
    float *lnf = a->lnf + r0 * C, *logits = a->logits + r0 * V;
    layernorm_forward(lnf, a->lnf_mean + r0, a->lnf_rstd + r0, last, p->lnfw, p->lnfb, N, C, cfg->layer_norm_epsilon);
    // logits (N,V) = lnf (N,C) @ wte^T
    lm_gemm(CblasNoTrans, CblasTrans, (int)N, V, C, 1.0f, lnf, C, p->wte, C, 0.0f, logits, V);
    lm_loss_rows(a->logits, a->losses, a->lse, targets, r0, N, V, dlogits, k);
}

/* Checks the batch and lays out the activations for (B,T); remembers the batch in m. */
static alim_status forward_prepare(alim_gpt *m, const int32_t *inputs, const int32_t *targets,
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
    size_t need = model_layout_acts(m, NULL, B, T);
    if (need > m->acts_capacity) {
        float *mem = realloc(m->acts_memory, need * sizeof(float));
        if (!mem) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for activations (%zu floats)", need);
        m->acts_memory = mem;
        m->acts_capacity = need;
    }
    model_layout_acts(m, m->acts_memory, B, T);
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
    lm_log_softmax_vec(out, model_logits(m) + ((size_t)b * m->T + t) * V, V);
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

/* The backward pass over batch rows [b0, b1), adding their gradients to g. Scratch:
 * dres, dtmp (BT,C) and dbig (BT,4C) of which the shard uses its own rows, attention
 * buffers (threads,T,T) and (threads,hs,T) for the threads of this call. */
static void backward_rows(alim_gpt *m, int b0, int b1, const alim_gpt_tensors *g, float k,
                          int dlogits, float *dres_all, float *dtmp_all, float *dbig_all, float *attscratch,
                          float *tbuf)
{
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int B = m->B, T = m->T, Bs = b1 - b0;
    const size_t BT = (size_t)B * T, r0 = (size_t)b0 * T, N = (size_t)Bs * T;
    const alim_gpt_tensors *p = &m->p;
    const alim_gpt_acts *a = &m->a;
    const int32_t *targets = m->targets;
    // dbig is used as (N,4C) and as (N,3C): the shard's part starts at row r0 of (BT,4C)
    float *dres = dres_all + r0 * C, *dtmp = dtmp_all + r0 * C, *dbig = dbig_all + r0 * 4 * C;
    float *logits = a->logits + r0 * V;
    const float *lnf = a->lnf + r0 * C;

    // d loss / d logits, in place: scale * (softmax - onehot) / count (unless the forward
    // pass of the same call made it)
    if (dlogits) lm_dlogits_rows(a->logits, a->lse, targets, r0, N, V, k);
    // dlnf (N,C) = dlogits (N,V) @ wte (V,C);  dwte += dlogits^T @ lnf
    float *dlnf = dtmp;
    lm_gemm(CblasNoTrans, CblasNoTrans, (int)N, C, V, 1.0f, logits, V, p->wte, C, 0.0f, dlnf, C);
    lm_gemm(CblasTrans, CblasNoTrans, V, C, (int)N, 1.0f, logits, V, lnf, C, 1.0f, g->wte, C);
    memset(dres, 0, N * C * sizeof(float));
    layernorm_backward(dres, g->lnfw, g->lnfb, dlnf, a->residual3 + ((size_t)(L - 1) * BT + r0) * C, p->lnfw, a->lnf_mean + r0, a->lnf_rstd + r0, N, C);

    for (int l = L - 1; l >= 0; l--) {
        const size_t lc = (size_t)l * C;
        const layer_acts la = layer_view(m, l, b0);

        // residual3 = residual2 + fcproj: dres is d fcproj and (so far) d residual2
        // fcproj = fch_gelu @ fcprojw + b             dbig (N,4C) = d fch_gelu
        matmul_backward(dbig, 0.0f, g->fcprojw + lc * 4 * C, g->fcprojb + lc, dres, la.fch_gelu, p->fcprojw + lc * 4 * C, N, 4 * C, C);
        lm_gelu_backward_inplace(dbig, la.fch, N * 4 * C);  // dbig = d fch
        // fch = ln2 @ fcw + b                          dtmp (N,C) = d ln2
        matmul_backward(dtmp, 0.0f, g->fcw + lc * 4 * C, g->fcb + lc * 4, dbig, la.ln2, p->fcw + lc * 4 * C, N, C, 4 * C);
        layernorm_backward(dres, g->ln2w + lc, g->ln2b + lc, dtmp, la.residual2, p->ln2w + lc, la.ln2_mean, la.ln2_rstd, N, C);
        // residual2 = residual + attproj: dres is d attproj and d residual (so far)
        // attproj = atty @ attprojw + b               dtmp = d atty
        matmul_backward(dtmp, 0.0f, g->attprojw + lc * C, g->attprojb + lc, dres, la.atty, p->attprojw + lc * C, N, C, C);
        lm_attention_backward(dbig, attscratch, tbuf, dtmp, la.qkv, la.att, Bs, T, NH, NH, C / NH);  // dbig (N,3C) = d qkv
        // qkv = ln1 @ qkvw + b                         dtmp = d ln1
        matmul_backward(dtmp, 0.0f, g->qkvw + lc * 3 * C, g->qkvb + lc * 3, dbig, la.ln1, p->qkvw + lc * 3 * C, N, C, 3 * C);
        layernorm_backward(dres, g->ln1w + lc, g->ln1b + lc, dtmp, la.residual, p->ln1w + lc, la.ln1_mean, la.ln1_rstd, N, C);
    }
    lm_encoder_backward(g->wte, g->wpe, dres, m->inputs + r0, Bs, T, C);
}

static void arch_forward_rows(alim_gpt *m, int b0, int b1, float *tbuf, int dlogits, float k)
{
    if (m->config.arch == ALIM_ARCH_LLAMA) lm_llama_forward_rows(m, b0, b1, tbuf, dlogits, k);
    else forward_rows(m, b0, b1, tbuf, dlogits, k);
}

/* Runs the forward pass (fwd), the backward pass (bwd) or both over m's prepared batch,
 * operation-parallel or in data-parallel shards (see shard_count). With both, a shard goes
 * from its forward straight into its backward (no join in between) and d logits is made
 * in the forward's loss loop. k = loss_scale / loss_count for the backward. */
static alim_status run_passes(alim_gpt *m, int fwd, int bwd, float k, alim_error *err)
{
    const alim_gpt_config *cfg = &m->config;
    const int C = cfg->n_embd, NH = cfg->n_head, llama = cfg->arch == ALIM_ARCH_LLAMA;
    const int B = m->B, T = m->T;
    const size_t BT = (size_t)B * T, TT = (size_t)T * T, hsT = (size_t)(C / NH) * T;
    const size_t rows_need = llama ? lm_llama_backward_scratch(cfg, BT) : BT * C * 2 + BT * 4 * C;
    const int nthreads = omp_get_max_threads(), S = shard_count(m, B, T);
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
        // kernels + the gradients of shards 1..S-1
        size_t need = rows_need + (size_t)nthreads * (TT + hsT) + (size_t)(S - 1) * m->num_params;
        if (need > m->grad_acts_capacity) {
            float *mem = realloc(m->grad_acts_memory, need * sizeof(float));
            if (!mem) return free(tbuf_f), alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for backward scratch");
            m->grad_acts_memory = mem;
            m->grad_acts_capacity = need;
        }
        dres = m->grad_acts_memory, dtmp = dres + BT * C, dbig = dtmp + BT * C;
        attscratch = m->grad_acts_memory + rows_need, tbuf = attscratch + (size_t)nthreads * TT;
        shard_grads = tbuf + (size_t)nthreads * hsT;
    }
    if (S == 1) {
        if (fwd) arch_forward_rows(m, 0, B, tbuf_f, bwd, k);
        if (bwd && llama) lm_llama_backward_rows(m, 0, B, &m->lg, k, !fwd, m->grad_acts_memory, attscratch, tbuf);
        else if (bwd) backward_rows(m, 0, B, &m->g, k, !fwd, dres, dtmp, dbig, attscratch, tbuf);
        free(tbuf_f);
        return ALIM_OK;
    }
    const size_t np = m->num_params;
#pragma omp parallel num_threads(S)
    {
        /* the team can be smaller than S (OMP_DYNAMIC, OMP_THREAD_LIMIT): a thread takes
         * shards tid, tid + team, ..., so every shard runs exactly once and the results
         * depend on S only */
        const int tid = omp_get_thread_num(), team = omp_get_num_threads();
        /* the operations' own parallel loops run on this thread alone, even with nested
         * parallelism enabled (their per-thread scratch is the shard's slot); the setting
         * is this implicit task's and ends with the region */
        omp_set_num_threads(1);
        for (int s = tid; s < S; s += team) {
            int b0, b1;
            shard_rows(B, S, s, &b0, &b1);
            if (fwd) arch_forward_rows(m, b0, b1, tbuf_f ? tbuf_f + (size_t)s * hsT : NULL, bwd, k);
            if (!bwd) continue;
            alim_gpt_tensors gs = m->g;  // shard 0 adds to the gradients, the others to their own
            alim_llama_tensors lgs = m->lg;
            if (s > 0) {
                float *own = shard_grads + (size_t)(s - 1) * np;
                memset(own, 0, np * sizeof(float));
                lm_model_point(m, own, &gs, &lgs);
            }
            if (llama) lm_llama_backward_rows(m, b0, b1, &lgs, k, !fwd, m->grad_acts_memory, attscratch + (size_t)s * TT, tbuf + (size_t)s * hsT);
            else backward_rows(m, b0, b1, &gs, k, !fwd, dres, dtmp, dbig, attscratch + (size_t)s * TT, tbuf + (size_t)s * hsT);
        }
        if (bwd) {
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

alim_status alim_gpt_forward(alim_gpt *m, const int32_t *inputs, const int32_t *targets, int B,
                             int T, alim_error *err)
{
    alim_status st = forward_prepare(m, inputs, targets, B, T, err);
    if (st) return st;
    int saved = lm_blas_threads_begin();
    st = run_passes(m, 1, 0, 0.0f, err);
    lm_blas_threads_end(saved);
    if (!st) forward_finish(m);
    return st;
}

alim_status alim_gpt_backward(alim_gpt *m, float loss_scale, alim_error *err)
{
    if (!m->targets || m->B == 0) return alim_error_set(err, ALIM_EINVAL, "model", "backward needs a forward pass with targets");
    const float k = m->loss_count ? loss_scale / (float)m->loss_count : 0.0f;
    int saved = lm_blas_threads_begin();
    alim_status st = run_passes(m, 0, 1, k, err);
    lm_blas_threads_end(saved);
    return st;
}

alim_status alim_gpt_forward_backward(alim_gpt *m, const int32_t *inputs, const int32_t *targets,
                                      int B, int T, float loss_scale, alim_error *err)
{
    if (!targets) return alim_error_set(err, ALIM_EINVAL, "model", "backward needs targets");
    alim_status st = forward_prepare(m, inputs, targets, B, T, err);
    if (st) return st;
    size_t count = 0;  // the backward's scale needs the count of the whole batch up front
    for (size_t i = 0; i < (size_t)B * T; i++) count += targets[i] >= 0;
    const float k = count ? loss_scale / (float)count : 0.0f;
    int saved = lm_blas_threads_begin();
    st = run_passes(m, 1, 1, k, err);
    lm_blas_threads_end(saved);
    if (!st) forward_finish(m);
    return st;
}

/* ---- incremental decoding with a key/value cache ------------------------------------ */

/* Floats of one step's scratch per row: residual x, LayerNorm output, mean and rstd, qkv,
 * attention output, projection output, MLP hidden, attention scores over T_max. */
static size_t cache_work_per_row(const alim_gpt_config *cfg, int T_max)
{
    if (cfg->arch == ALIM_ARCH_LLAMA) return lm_llama_cache_work_per_row(cfg, T_max);
    const size_t C = cfg->n_embd;
    return C + C + 2 + 3 * C + C + C + 4 * C + (size_t)cfg->n_head * T_max;
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

/* out (B,OC) = inp (B,C) @ w (C,OC) + bias: matmul_forward, except that one row (sampling
 * a single sequence) goes through sgemv; sgemm with M = 1 spends most of its time packing
 * the weights. (The two round differently, at the level of fp32 rounding.) */
static void step_matmul(float *out, const float *inp, const float *w, const float *bias, int B,
                        int C, int OC)
{
    if (B > 1) {
        matmul_forward(out, inp, w, bias, (size_t)B, C, OC);
        return;
    }
    memcpy(out, bias, (size_t)OC * sizeof(float));
    cblas_sgemv(CblasRowMajor, CblasTrans, C, OC, 1.0f, w, OC, inp, 1, 1.0f, out, 1);
}

static alim_status step_impl(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens,
                             float *logprobs, alim_error *err)
{
    alim_status st = cache_check_model(m, c, err);
    if (st) return st;
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int hs = C / NH, B = c->B, Bc = c->B_cap, T_max = c->T_max, pos = c->t;
    const float scale = 1.0f / sqrtf((float)hs), eps = cfg->layer_norm_epsilon;
    const lm_attention_step_row_fn attention_step_row = lm_attention_step_row_pick();
    if (pos >= T_max)
        return alim_error_set(err, ALIM_EINVAL, "cache", "full: %d positions are in use (the cache holds %d; the model's context is %d)", pos, T_max, cfg->n_positions);
    for (int b = 0; b < B; b++)
        if (tokens[b] < 0 || tokens[b] >= V)
            return alim_error_set(err, ALIM_EINVAL, "input", "token id %d of row %d is outside the vocabulary [0, %d)", tokens[b], b, V);
    if (cfg->arch == ALIM_ARCH_LLAMA) {
        lm_llama_step(m, c, tokens);
        if (logprobs) lm_step_logprobs(logprobs, c->logits, B, V);
        c->t = pos + 1;
        return ALIM_OK;
    }

    const size_t BC = (size_t)B * C;
    float *x = c->work, *ln = x + BC, *mean = ln + BC, *rstd = mean + B, *qkv = rstd + B;
    float *atty = qkv + 3 * BC, *tmp = atty + BC, *h = tmp + BC, *att = h + 4 * BC;
    const alim_gpt_tensors *p = &m->p;

    // x (B,C) = wte[tokens] + wpe[pos]
    for (int b = 0; b < B; b++) {
        const float *te = p->wte + (size_t)tokens[b] * C, *pe = p->wpe + (size_t)pos * C;
        for (int i = 0; i < C; i++) x[(size_t)b * C + i] = te[i] + pe[i];
    }
    for (int l = 0; l < L; l++) {
        const size_t lc = (size_t)l * C;
        float *kl = c->k + (size_t)l * Bc * C * T_max, *vl = c->v + (size_t)l * Bc * C * T_max;
        layernorm_forward(ln, mean, rstd, x, p->ln1w + lc, p->ln1b + lc, B, C, eps);
        step_matmul(qkv, ln, p->qkvw + lc * 3 * C, p->qkvb + lc * 3, B, C, 3 * C);  // (B,3C)
        // the new position's key and value go into the cache, then the query attends
        // over positions 0..pos of its own row
#pragma omp parallel for schedule(static) if ((size_t)B * C * (pos + 1) >= PAR_MIN)
        for (int b = 0; b < B; b++) {
            const float *qb = qkv + (size_t)b * 3 * C;
            float *kt = kl + (size_t)b * C * T_max, *vc = vl + (size_t)b * C * T_max;
            for (int hd = 0; hd < NH; hd++) {
                const float *k = qb + C + (size_t)hd * hs, *v = k + C;
                float *kth = kt + (size_t)hd * hs * T_max;
                for (int d = 0; d < hs; d++) kth[(size_t)d * T_max + pos] = k[d];
                memcpy(vc + ((size_t)hd * T_max + pos) * hs, v, (size_t)hs * sizeof(float));
            }
            attention_step_row(atty + (size_t)b * C, att + (size_t)b * NH * T_max, qb, kt, vc, pos + 1, T_max, NH, 1, hs, scale);
        }
        step_matmul(tmp, atty, p->attprojw + lc * C, p->attprojb + lc, B, C, C);
        lm_residual_forward(x, x, tmp, BC);
        layernorm_forward(ln, mean, rstd, x, p->ln2w + lc, p->ln2b + lc, B, C, eps);
        step_matmul(h, ln, p->fcw + lc * 4 * C, p->fcb + lc * 4, B, C, 4 * C);  // (B,4C)
        lm_gelu_forward(h, h, 4 * BC);
        step_matmul(tmp, h, p->fcprojw + lc * 4 * C, p->fcprojb + lc, B, 4 * C, C);
        lm_residual_forward(x, x, tmp, BC);
    }
    layernorm_forward(ln, mean, rstd, x, p->lnfw, p->lnfb, B, C, eps);
    // logits (B,V) = lnf (B,C) @ wte^T
    if (B > 1) lm_gemm(CblasNoTrans, CblasTrans, B, V, C, 1.0f, ln, C, p->wte, C, 0.0f, c->logits, V);
    else cblas_sgemv(CblasRowMajor, CblasNoTrans, V, C, 1.0f, p->wte, C, ln, 1, 0.0f, c->logits, 1);
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
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int hs = C / NH, Bc = c->B_cap, T_max = c->T_max;
    const size_t BT = (size_t)B * T0;
    if (cfg->arch == ALIM_ARCH_LLAMA) lm_llama_prefill_kv(m, c, T0);
    // keys and values from the forward's qkv (L,B,T0,3C)
    for (int l = 0; l < L && cfg->arch != ALIM_ARCH_LLAMA; l++) {
        const float *qkv = m->a.qkv + (size_t)l * BT * 3 * C;
        float *kl = c->k + (size_t)l * Bc * C * T_max, *vl = c->v + (size_t)l * Bc * C * T_max;
#pragma omp parallel for schedule(static) if (BT * C >= PAR_MIN)
        for (int bh = 0; bh < B * NH; bh++) {
            const int b = bh / NH, hd = bh % NH;
            float *kt = kl + (size_t)bh * hs * T_max, *vc = vl + (size_t)bh * T_max * hs;
            for (int t = 0; t < T0; t++) {
                const float *k = qkv + ((size_t)b * T0 + t) * 3 * C + C + (size_t)hd * hs, *v = k + C;
                for (int d = 0; d < hs; d++) kt[(size_t)d * T_max + t] = k[d];
                memcpy(vc + (size_t)t * hs, v, (size_t)hs * sizeof(float));
            }
        }
    }
    for (int b = 0; b < B; b++)
        memcpy(c->logits + (size_t)b * V, model_logits(m) + ((size_t)b * T0 + T0 - 1) * V, (size_t)V * sizeof(float));
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
