/* gpt2.c — GPT-2's graph in fp32 (see alim/gpt.h): LayerNorm, Conv1D linear layers, the
 * forward and backward passes over a shard's batch rows, and one decoding step with the
 * key/value cache. model.c drives it (batches, shards); kernels.c and attention.c hold
 * what it shares with the other architectures.
 *
 * Layer functions come in forward/backward pairs, in the style of karpathy's llm.c
 * (train_gpt2.c), with two differences: linear weights are in the Hugging Face Conv1D
 * (in,out) layout, and every matrix product is a CBLAS sgemm — those inside attention
 * too, except with head sizes 8 and 16, which have their own kernels. Reductions over the
 * batch (bias, LayerNorm and embedding gradients) are parallelised over channels, never
 * with atomics, so results do not depend on timing.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/rng.h"
#include "kernels.h"
#include "model.h"

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

/* pr: the precision of the products (kernels.h), from lm_model_prec */
static void matmul_forward_epi(const lm_prec *pr, float *out, const float *inp, const float *w,
                               const float *bias, size_t N, int C, int OC, float *gelu_out,
                               float *add_out, const float *add_in)
{
    // out (N,OC) = inp (N,C) @ w (C,OC) + bias (OC); then, if given,
    // gelu_out (N,OC) = gelu(out) and add_out (N,OC) = add_in (N,OC) + out
    const lm_gemm_epilogue e = {bias, gelu_out, add_out, add_in};
    lm_gemm_w(pr, CblasNoTrans, CblasNoTrans, (int)N, OC, C, 1.0f, inp, C, w, OC, bias ? 1.0f : 0.0f, out, OC, &e);
}

static void matmul_forward(const lm_prec *pr, float *out, const float *inp, const float *w,
                           const float *bias, size_t N, int C, int OC)
{
    // out (N,OC) = inp (N,C) @ w (C,OC) + bias (OC)
    matmul_forward_epi(pr, out, inp, w, bias, N, C, OC, NULL, NULL, NULL);
}

static void matmul_backward(const lm_prec *pr, float *dinp, float dinp_beta, float *dw, float *dbias,
                            const float *dout, const float *inp, const float *w, size_t N, int C,
                            int OC)
{
    // dinp (N,C) = dinp_beta*dinp + dout (N,OC) @ w^T; dw (C,OC) += inp^T @ dout;
    // dbias (OC) += column sums of dout
    lm_gemm_w(pr, CblasNoTrans, CblasTrans, (int)N, C, OC, 1.0f, dout, OC, w, OC, dinp_beta, dinp, C, NULL);
    lm_gemm_x(pr, CblasTrans, CblasNoTrans, C, OC, (int)N, 1.0f, inp, C, dout, OC, 1.0f, dw, OC);
    if (dbias) lm_colsum_add(dbias, dout, N, (size_t)OC, (size_t)OC);
}


/* ---- model ------------------------------------------------------------------------- */

static void fill_normal(float *x, size_t n, float std, alim_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * alim_rng_normal(r));
}

void lm_gpt2_init_params(alim_gpt *m, uint64_t seed)
{
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
size_t lm_gpt2_layout_acts(alim_gpt_acts *a, float *base, const alim_gpt_config *cfg, size_t B,
                          size_t T, size_t L)
{
    const size_t C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
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
    /* with one block's activations kept (forward-only), every block uses slot 0 and reads
     * its input from the residual3 the previous block left there */
    const size_t slot = (size_t)(l % m->acts_layers), r0 = (size_t)b0 * T, lr = slot * BT + r0;
    layer_acts v;
    v.residual = l == 0 ? a->encoded + r0 * C : a->residual3 + (m->acts_layers == 1 ? lr : lr - BT) * C;
    v.ln1 = a->ln1 + lr * C, v.ln1_mean = a->ln1_mean + lr, v.ln1_rstd = a->ln1_rstd + lr;
    v.qkv = a->qkv + lr * 3 * C, v.atty = a->atty + lr * C;
    v.att = a->att + (slot * B + b0) * NH * T * T, v.attproj = a->attproj + lr * C;
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
void lm_gpt2_forward_rows(alim_gpt *m, int b0, int b1, float *attscratch, int dlogits, float k)
{
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int B = m->B, T = m->T, Bs = b1 - b0;
    const size_t BT = (size_t)B * T, r0 = (size_t)b0 * T, N = (size_t)Bs * T;
    const alim_gpt_tensors *p = &m->p;
    alim_gpt_acts *a = &m->a;
    const int32_t *targets = m->targets;
    const lm_prec pr = lm_model_prec(m);
    lm_encoder_forward(a->encoded + r0 * C, m->inputs + r0, p->wte, p->wpe, Bs, T, C);
    for (int l = 0; l < L; l++) {
        const size_t lc = (size_t)l * C;
        const layer_acts la = layer_view(m, l, b0);

        layernorm_forward(la.ln1, la.ln1_mean, la.ln1_rstd, la.residual, p->ln1w + lc, p->ln1b + lc, N, C, cfg->layer_norm_epsilon);
        matmul_forward(&pr, la.qkv, la.ln1, p->qkvw + lc * 3 * C, p->qkvb + lc * 3, N, C, 3 * C);
        lm_attention_forward(la.atty, la.att, attscratch, la.qkv, Bs, T, NH, NH, C / NH);
        matmul_forward_epi(&pr, la.attproj, la.atty, p->attprojw + lc * C, p->attprojb + lc, N, C, C, NULL, la.residual2, la.residual);
        layernorm_forward(la.ln2, la.ln2_mean, la.ln2_rstd, la.residual2, p->ln2w + lc, p->ln2b + lc, N, C, cfg->layer_norm_epsilon);
        matmul_forward_epi(&pr, la.fch, la.ln2, p->fcw + lc * 4 * C, p->fcb + lc * 4, N, C, 4 * C, la.fch_gelu, NULL, NULL);
        matmul_forward_epi(&pr, la.fcproj, la.fch_gelu, p->fcprojw + lc * 4 * C, p->fcprojb + lc, N, 4 * C, C, NULL, la.residual3, la.residual2);
    }
    const float *last = a->residual3 + ((size_t)(m->acts_layers - 1) * BT + r0) * C;
    float *lnf = a->lnf + r0 * C, *logits = a->logits + r0 * V;
    layernorm_forward(lnf, a->lnf_mean + r0, a->lnf_rstd + r0, last, p->lnfw, p->lnfb, N, C, cfg->layer_norm_epsilon);
    // logits (N,V) = lnf (N,C) @ wte^T
    lm_gemm_w(&pr, CblasNoTrans, CblasTrans, (int)N, V, C, 1.0f, lnf, C, p->wte, C, 0.0f, logits, V, NULL);
    lm_loss_rows(a->logits, a->losses, a->lse, targets, r0, N, V, dlogits, k);
}


/* The backward pass over batch rows [b0, b1), adding their gradients to g. Scratch:
 * dres, dtmp (BT,C) and dbig (BT,4C) of which the shard uses its own rows, attention
 * buffers (threads,T,T) and (threads,hs,T) for the threads of this call. */
void lm_gpt2_backward_rows(alim_gpt *m, int b0, int b1, const alim_gpt_tensors *g, float k,
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
    const lm_prec pr = lm_model_prec(m);
    // dbig is used as (N,4C) and as (N,3C): the shard's part starts at row r0 of (BT,4C)
    float *dres = dres_all + r0 * C, *dtmp = dtmp_all + r0 * C, *dbig = dbig_all + r0 * 4 * C;
    float *logits = a->logits + r0 * V;
    const float *lnf = a->lnf + r0 * C;

    // d loss / d logits, in place: scale * (softmax - onehot) / count (unless the forward
    // pass of the same call made it)
    if (dlogits) lm_dlogits_rows(a->logits, a->lse, targets, r0, N, V, k);
    // dlnf (N,C) = dlogits (N,V) @ wte (V,C);  dwte += dlogits^T @ lnf
    float *dlnf = dtmp;
    lm_gemm_w(&pr, CblasNoTrans, CblasNoTrans, (int)N, C, V, 1.0f, logits, V, p->wte, C, 0.0f, dlnf, C, NULL);
    lm_gemm_x(&pr, CblasTrans, CblasNoTrans, V, C, (int)N, 1.0f, logits, V, lnf, C, 1.0f, g->wte, C);
    memset(dres, 0, N * C * sizeof(float));
    layernorm_backward(dres, g->lnfw, g->lnfb, dlnf, a->residual3 + ((size_t)(L - 1) * BT + r0) * C, p->lnfw, a->lnf_mean + r0, a->lnf_rstd + r0, N, C);

    for (int l = L - 1; l >= 0; l--) {
        const size_t lc = (size_t)l * C;
        const layer_acts la = layer_view(m, l, b0);

        // residual3 = residual2 + fcproj: dres is d fcproj and (so far) d residual2
        // fcproj = fch_gelu @ fcprojw + b             dbig (N,4C) = d fch_gelu
        matmul_backward(&pr, dbig, 0.0f, g->fcprojw + lc * 4 * C, g->fcprojb + lc, dres, la.fch_gelu, p->fcprojw + lc * 4 * C, N, 4 * C, C);
        lm_gelu_backward_inplace(dbig, la.fch, N * 4 * C);  // dbig = d fch
        // fch = ln2 @ fcw + b                          dtmp (N,C) = d ln2
        matmul_backward(&pr, dtmp, 0.0f, g->fcw + lc * 4 * C, g->fcb + lc * 4, dbig, la.ln2, p->fcw + lc * 4 * C, N, C, 4 * C);
        layernorm_backward(dres, g->ln2w + lc, g->ln2b + lc, dtmp, la.residual2, p->ln2w + lc, la.ln2_mean, la.ln2_rstd, N, C);
        // residual2 = residual + attproj: dres is d attproj and d residual (so far)
        // attproj = atty @ attprojw + b               dtmp = d atty
        matmul_backward(&pr, dtmp, 0.0f, g->attprojw + lc * C, g->attprojb + lc, dres, la.atty, p->attprojw + lc * C, N, C, C);
        lm_attention_backward(dbig, attscratch, tbuf, dtmp, la.qkv, la.att, Bs, T, NH, NH, C / NH);  // dbig (N,3C) = d qkv
        // qkv = ln1 @ qkvw + b                         dtmp = d ln1
        matmul_backward(&pr, dtmp, 0.0f, g->qkvw + lc * 3 * C, g->qkvb + lc * 3, dbig, la.ln1, p->qkvw + lc * 3 * C, N, C, 3 * C);
        layernorm_backward(dres, g->ln1w + lc, g->ln1b + lc, dtmp, la.residual, p->ln1w + lc, la.ln1_mean, la.ln1_rstd, N, C);
    }
    lm_encoder_backward(g->wte, g->wpe, dres, m->inputs + r0, Bs, T, C);
}


/* ---- one decoding step -------------------------------------------------------------- */

/* Floats of one step's scratch per row: residual x, LayerNorm output, mean and rstd, qkv,
 * attention output, projection output, MLP hidden, attention scores over T_max. */
size_t lm_gpt2_cache_work_per_row(const alim_gpt_config *cfg, int T_max)
{
    const size_t C = cfg->n_embd;
    return C + C + 2 + 3 * C + C + C + 4 * C + (size_t)cfg->n_head * T_max;
}


/* out (B,OC) = inp (B,C) @ w (C,OC) + bias: matmul_forward, except that one row (sampling
 * a single sequence) goes through sgemv; sgemm with M = 1 spends most of its time packing
 * the weights. (The two round differently, at the level of fp32 rounding.) */
static void step_matmul(const lm_prec *pr, float *out, const float *inp, const float *w,
                        const float *bias, int B, int C, int OC)
{
    if (B > 1 || pr->base_h) { /* bf16: one row through the bf16 product too */
        matmul_forward(pr, out, inp, w, bias, (size_t)B, C, OC);
        return;
    }
    memcpy(out, bias, (size_t)OC * sizeof(float));
    cblas_sgemv(CblasRowMajor, CblasTrans, C, OC, 1.0f, w, OC, inp, 1, 1.0f, out, 1);
}

/* One decoding step of GPT-2 (kv_cache.c checked the cache and the tokens). */
void lm_gpt2_step(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens)
{
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int hs = C / NH, B = c->B, Bc = c->B_cap, T_max = c->T_max, pos = c->t;
    const float scale = 1.0f / sqrtf((float)hs), eps = cfg->layer_norm_epsilon;
    const lm_attention_step_row_fn attention_step_row = lm_attention_step_row_pick();
    const size_t BC = (size_t)B * C;
    float *x = c->work, *ln = x + BC, *mean = ln + BC, *rstd = mean + B, *qkv = rstd + B;
    float *atty = qkv + 3 * BC, *tmp = atty + BC, *h = tmp + BC, *att = h + 4 * BC;
    const alim_gpt_tensors *p = &m->p;
    const lm_prec pr = lm_model_prec(m);

    // x (B,C) = wte[tokens] + wpe[pos]
    for (int b = 0; b < B; b++) {
        const float *te = p->wte + (size_t)tokens[b] * C, *pe = p->wpe + (size_t)pos * C;
        for (int i = 0; i < C; i++) x[(size_t)b * C + i] = te[i] + pe[i];
    }
    for (int l = 0; l < L; l++) {
        const size_t lc = (size_t)l * C;
        float *kl = c->k + (size_t)l * Bc * C * T_max, *vl = c->v + (size_t)l * Bc * C * T_max;
        layernorm_forward(ln, mean, rstd, x, p->ln1w + lc, p->ln1b + lc, B, C, eps);
        step_matmul(&pr, qkv, ln, p->qkvw + lc * 3 * C, p->qkvb + lc * 3, B, C, 3 * C);  // (B,3C)
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
        step_matmul(&pr, tmp, atty, p->attprojw + lc * C, p->attprojb + lc, B, C, C);
        lm_residual_forward(x, x, tmp, BC);
        layernorm_forward(ln, mean, rstd, x, p->ln2w + lc, p->ln2b + lc, B, C, eps);
        step_matmul(&pr, h, ln, p->fcw + lc * 4 * C, p->fcb + lc * 4, B, C, 4 * C);  // (B,4C)
        lm_gelu_forward(h, h, 4 * BC);
        step_matmul(&pr, tmp, h, p->fcprojw + lc * 4 * C, p->fcprojb + lc, B, 4 * C, C);
        lm_residual_forward(x, x, tmp, BC);
    }
    layernorm_forward(ln, mean, rstd, x, p->lnfw, p->lnfb, B, C, eps);
    // logits (B,V) = lnf (B,C) @ wte^T
    if (B > 1 || pr.base_h) lm_gemm_w(&pr, CblasNoTrans, CblasTrans, B, V, C, 1.0f, ln, C, p->wte, C, 0.0f, c->logits, V, NULL);
    else cblas_sgemv(CblasRowMajor, CblasNoTrans, V, C, 1.0f, p->wte, C, ln, 1, 0.0f, c->logits, 1);
}


/* The keys and values of a prefill from the forward pass's qkv activations (GPT-2). */
void lm_gpt2_prefill_kv(const alim_gpt *m, alim_gpt_cache *c, int T0)
{
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, B = c->B;
    const int hs = C / NH, Bc = c->B_cap, T_max = c->T_max;
    const size_t BT = (size_t)B * T0;
    // keys and values from the forward's qkv (L,B,T0,3C)
    for (int l = 0; l < L; l++) {
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
}
