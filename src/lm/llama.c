/* llama.c — the Llama family's graph (Llama 2/3, Qwen2, Mistral, SmolLM2): RMSNorm, rotary
 * position embeddings, grouped-query attention, SwiGLU MLP, tied or untied output; forward
 * and backward over a shard's batch rows, and one decoding step with the key/value cache.
 * See alim/gpt.h for the maths and the tensor layouts, model.h for how gpt.c drives it.
 *
 * Layer functions come in forward/backward pairs as in gpt.c; linear weights are in the
 * Hugging Face nn.Linear layout (out, in), so a projection is x @ W^T through lm_gemm.
 * Every reduction runs in a fixed order, so results repeat for a given thread count.
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "alim/rng.h"
#include "kernels.h"
#include "model.h"

/* ---- RMSNorm: y = w * x / sqrt(mean(x^2) + eps) -------------------------------------- */

LM_CLONES static void rmsnorm_row(float *o, float *rstd, const float *x, const float *w, int C,
                                  float eps)
{
    // sum of squares in 8 fixed float lanes, then in double
    float s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) s8[l] += x[c + l] * x[c + l];
    double s = 0.0;
    for (; c < C; c++) s += (double)x[c] * x[c];
    for (int l = 0; l < 8; l++) s += s8[l];
    const float rs = (float)(1.0 / sqrt(s / C + (double)eps));
    for (c = 0; c < C; c++) o[c] = w[c] * (x[c] * rs);
    *rstd = rs;
}

static void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, size_t N,
                            int C, float eps)
{
    // out (N,C), rstd (N), inp (N,C), w (C)
#pragma omp parallel for schedule(static) if (N * C >= PAR_MIN)
    for (size_t n = 0; n < N; n++) rmsnorm_row(out + n * C, rstd + n, inp + n * C, w, C, eps);
}

LM_CLONES static void rmsnorm_backward_row(float *di, const float *d, const float *x,
                                           const float *w, float rs, int C)
{
    // di += rs * (dn - nrm * mean(dn * nrm)), dn = w * d, nrm = x * rs; sum in 8 lanes
    float a8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) a8[l] += w[c + l] * d[c + l] * (x[c + l] * rs);
    double dot = 0.0;
    for (; c < C; c++) dot += (double)(w[c] * d[c]) * (x[c] * rs);
    for (int l = 0; l < 8; l++) dot += a8[l];
    const float fm = (float)(dot / C);
    for (c = 0; c < C; c++) di[c] += (w[c] * d[c] - (x[c] * rs) * fm) * rs;
}

static void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                             const float *w, const float *rstd, size_t N, int C)
{
    // dinp (N,C) +=, dw (C) +=, dout (N,C), inp (N,C), w (C), rstd (N)
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++)
        rmsnorm_backward_row(dinp + n * C, dout + n * C, inp + n * C, w, rstd[n], C);
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
        int c1 = c0 + COLBLOCK < C ? c0 + COLBLOCK : C;
        double aw[COLBLOCK] = {0};
        for (size_t n = 0; n < N; n++) {
            const float *x = inp + n * C, *d = dout + n * C;
            for (int c = c0; c < c1; c++) aw[c - c0] += (double)d[c] * (x[c] * rstd[n]);
        }
        for (int c = c0; c < c1; c++) dw[c] += (float)aw[c - c0];
    }
}

/* ---- linear layer (nn.Linear layout) ------------------------------------------------ */

/* pr: the precision of the products (kernels.h), from lm_model_prec */
static void linear_forward(const lm_prec *pr, float *out, int ldo, const float *inp, const float *w,
                           const float *bias, size_t N, int in, int outf, float *add_out,
                           const float *add_in)
{
    // out (N,outf; row stride ldo) = inp (N,in) @ w (outf,in)^T + bias (outf); then, if
    // given, add_out = add_in + out (same stride)
    const lm_gemm_epilogue e = {bias, NULL, add_out, add_in};
    lm_gemm_w(pr, CblasNoTrans, CblasTrans, (int)N, outf, in, 1.0f, inp, in, w, in, bias ? 1.0f : 0.0f,
                out, ldo, &e);
}

static void linear_backward(const lm_prec *pr, float *dinp, float dinp_beta, float *dw, float *dbias,
                            const float *dout, int ldd, const float *inp, const float *w, size_t N,
                            int in, int outf)
{
    // dinp (N,in) = beta dinp + dout (N,outf; stride ldd) @ w (outf,in);
    // dw (outf,in) += dout^T @ inp; dbias (outf) += column sums of dout
    lm_gemm_w(pr, CblasNoTrans, CblasNoTrans, (int)N, in, outf, 1.0f, dout, ldd, w, in, dinp_beta, dinp, in, NULL);
    lm_gemm_x(pr, CblasTrans, CblasNoTrans, outf, in, (int)N, 1.0f, dout, ldd, inp, in, 1.0f, dw, in);
    if (dbias) lm_colsum_add(dbias, dout, N, (size_t)outf, (size_t)ldd);
}

/* ---- rotary position embedding (rotate-half pairing) ---------------------------------- */

/* inv_freq[i] as transformers computes it in float32: 1 / theta^(2i/hs), then the llama3
 * rescaling (low frequencies divided by factor, a smooth blend in between). */
alim_status lm_llama_setup(alim_gpt *m, alim_error *err)
{
    const alim_gpt_config *c = &m->config;
    const int hs = c->n_embd / c->n_head, half = hs / 2;
    free(m->rope_inv_freq);
    m->rope_inv_freq = malloc((size_t)half * sizeof(float));
    if (!m->rope_inv_freq) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory");
    for (int i = 0; i < half; i++) {
        float inv = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)hs);
        if (c->rope_type == ALIM_ROPE_LLAMA3) {
            const float old = (float)c->rope_original_max_positions, f = c->rope_factor;
            const float low_wl = old / c->rope_low_freq_factor, high_wl = old / c->rope_high_freq_factor;
            const float wl = 2.0f * (float)M_PI / inv;
            float adj = wl > low_wl ? inv / f : inv;
            const float smooth = (old / wl - c->rope_low_freq_factor) / (c->rope_high_freq_factor - c->rope_low_freq_factor);
            if (!(wl < high_wl) && !(wl > low_wl)) adj = (1.0f - smooth) * adj / f + smooth * adj;
            inv = adj;
        }
        m->rope_inv_freq[i] = inv;
    }
    return ALIM_OK;
}

static void rope_cos_sin(const float *inv_freq, int half, int pos, float *cs, float *sn)
{
    for (int i = 0; i < half; i++) {
        const float ang = (float)pos * inv_freq[i];
        cs[i] = cosf(ang);
        sn[i] = sinf(ang);
    }
}

/* Rotates heads [0, nheads) of each of the N rows (row stride ld, position n % T):
 * (x1, x2) -> (x1 c - x2 s, x2 c + x1 s); inverse = 1 applies the transpose (backward). */
static void rope_rows(float *x, size_t N, int T, int ld, int nheads, int hs, const float *cos_t,
                      const float *sin_t, int inverse)
{
    const int half = hs / 2;
    const float sgn = inverse ? -1.0f : 1.0f;
#pragma omp parallel for schedule(static) if (N * nheads * hs >= PAR_MIN)
    for (size_t n = 0; n < N; n++) {
        const float *cs = cos_t + (size_t)(n % T) * half, *sn = sin_t + (size_t)(n % T) * half;
        for (int h = 0; h < nheads; h++) {
            float *v = x + n * ld + (size_t)h * hs;
            for (int i = 0; i < half; i++) {
                const float a = v[i], b = v[i + half], s = sgn * sn[i];
                v[i] = a * cs[i] - b * s;
                v[i + half] = b * cs[i] + a * s;
            }
        }
    }
}

/* ---- SwiGLU: hid = silu(gate) * up ---------------------------------------------------- */

LM_CLONES static void swiglu_forward_chunk(float *hid, const float *gate, const float *up, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float g = gate[i];
        hid[i] = g * (1.0f / (1.0f + lm_exp_fast(-g))) * up[i];
    }
}

static void swiglu_forward(float *hid, const float *gate, const float *up, size_t N)
{
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (size_t i = 0; i < N; i += ELEM_CHUNK) swiglu_forward_chunk(hid + i, gate + i, up + i, lm_zmin(ELEM_CHUNK, N - i));
}

LM_CLONES static void swiglu_backward_chunk(float *dgate, float *dup, const float *gate,
                                            const float *up, size_t n)
{
    // in: dgate = d hid; out: dgate = d hid * up * silu'(gate), dup = d hid * silu(gate)
    for (size_t i = 0; i < n; i++) {
        const float g = gate[i], s = 1.0f / (1.0f + lm_exp_fast(-g)), dh = dgate[i];
        dup[i] = dh * (g * s);
        dgate[i] = dh * up[i] * (s * (1.0f + g * (1.0f - s)));
    }
}

static void swiglu_backward(float *dgate, float *dup, const float *gate, const float *up, size_t N)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i += ELEM_CHUNK)
        swiglu_backward_chunk(dgate + i, dup + i, gate + i, up + i, lm_zmin(ELEM_CHUNK, N - i));
}

/* ---- model ---------------------------------------------------------------------------- */

typedef struct {
    int L, C, NH, NKV, hs, Dq, Dkv, ld, FF, V;
    float eps;
} dims;

static dims dims_of(const alim_gpt_config *c)
{
    dims d;
    d.L = c->n_layer, d.C = c->n_embd, d.NH = c->n_head, d.NKV = c->n_kv_head;
    d.hs = d.C / d.NH, d.Dq = d.NH * d.hs, d.Dkv = d.NKV * d.hs, d.ld = d.Dq + 2 * d.Dkv;
    d.FF = c->n_inner, d.V = c->vocab_size, d.eps = c->layer_norm_epsilon;
    return d;
}

void lm_llama_init_params(alim_gpt *m, uint64_t seed)
{
    alim_rng r;
    alim_rng_seed(&r, seed, 0x6c6c616du);
    memset(m->params, 0, m->num_params * sizeof(float));
    float *base = m->params;
    for (int t = 0; t < m->n_tensors; t++) {
        const size_t n = m->tensor_size[t];
        const int id = m->tensor_id[t];
        if (id == ALIM_LLAMA_ATTN_NORM || id == ALIM_LLAMA_MLP_NORM || id == ALIM_LLAMA_NORM)
            for (size_t i = 0; i < n; i++) base[i] = 1.0f;
        else if (id != ALIM_LLAMA_BQ && id != ALIM_LLAMA_BK && id != ALIM_LLAMA_BV)
            for (size_t i = 0; i < n; i++) base[i] = (float)(0.02 * alim_rng_normal(&r));
        base += n;
    }
}

size_t lm_llama_layout_acts(alim_llama_acts *a, float *base, const alim_gpt_config *cfg, size_t B,
                            size_t T, size_t L)
{
    const dims d = dims_of(cfg);
    const size_t C = d.C, BT = B * T, FF = d.FF;
    struct { float **p; size_t n; } items[] = {
        {&a->encoded, BT * C},           {&a->ln1, L * BT * C},         {&a->ln1_rstd, L * BT},
        {&a->qkv, L * BT * d.ld},        {&a->atty, L * BT * d.Dq},     {&a->att, L * B * d.NH * T * T},
        {&a->residual2, L * BT * C},     {&a->ln2, L * BT * C},         {&a->ln2_rstd, L * BT},
        {&a->gate, L * BT * FF},          {&a->up, L * BT * FF},          {&a->hid, L * BT * FF},
        {&a->residual3, L * BT * C},     {&a->lnf, BT * C},             {&a->lnf_rstd, BT},
        {&a->logits, BT * d.V},          {&a->losses, BT},              {&a->lse, BT},
        {&a->rope_cos, T * (d.hs / 2)},  {&a->rope_sin, T * (d.hs / 2)},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        if (base) *items[i].p = base + total;
        total += items[i].n;
    }
    return total;
}

void lm_llama_prepare(alim_gpt *m)
{
    const int half = m->config.n_embd / m->config.n_head / 2;
    for (int t = 0; t < m->T; t++)
        rope_cos_sin(m->rope_inv_freq, half, t, m->la.rope_cos + (size_t)t * half, m->la.rope_sin + (size_t)t * half);
}

/* The activations of block l for the shard whose rows start at batch row b0. */
typedef struct {
    const float *residual; // (N,C) the block's input
    float *ln1, *ln1_rstd, *qkv, *atty, *att, *residual2, *ln2, *ln2_rstd, *gate, *up, *hid, *residual3;
} block_acts;

static block_acts block_view(const alim_gpt *m, const dims *d, int l, int b0)
{
    const alim_llama_acts *a = &m->la;
    const size_t B = m->B, T = m->T, BT = B * T, C = d->C, FF = d->FF;
    /* one block's activations kept (forward-only): every block uses slot 0 and reads its
     * input from the residual3 the previous block left there */
    const size_t slot = (size_t)(l % m->acts_layers), r0 = (size_t)b0 * T, lr = slot * BT + r0;
    block_acts v;
    v.residual = l == 0 ? a->encoded + r0 * C : a->residual3 + (m->acts_layers == 1 ? lr : lr - BT) * C;
    v.ln1 = a->ln1 + lr * C, v.ln1_rstd = a->ln1_rstd + lr, v.qkv = a->qkv + lr * d->ld;
    v.atty = a->atty + lr * d->Dq, v.att = a->att + (slot * B + b0) * d->NH * T * T;
    v.residual2 = a->residual2 + lr * C, v.ln2 = a->ln2 + lr * C, v.ln2_rstd = a->ln2_rstd + lr;
    v.gate = a->gate + lr * FF, v.up = a->up + lr * FF, v.hid = a->hid + lr * FF;
    v.residual3 = a->residual3 + lr * C;
    return v;
}

void lm_llama_forward_rows(alim_gpt *m, int b0, int b1, float *tbuf, int dlogits, float k)
{
    const dims d = dims_of(&m->config);
    const int T = m->T, Bs = b1 - b0;
    const size_t BT = (size_t)m->B * T, r0 = (size_t)b0 * T, N = (size_t)Bs * T;
    const size_t C = d.C, FF = d.FF;
    const alim_llama_tensors *p = &m->lp;
    alim_llama_acts *a = &m->la;
    const lm_prec pr = lm_model_prec(m);

    lm_encoder_forward(a->encoded + r0 * C, m->inputs + r0, p->wte, NULL, Bs, T, d.C);
    for (int l = 0; l < d.L; l++) {
        const block_acts v = block_view(m, &d, l, b0);
        const size_t lq = (size_t)l * d.Dq, lkv = (size_t)l * d.Dkv;
        rmsnorm_forward(v.ln1, v.ln1_rstd, v.residual, p->attn_norm + l * C, N, d.C, d.eps);
        linear_forward(&pr, v.qkv, d.ld, v.ln1, p->wq + lq * C, p->bq ? p->bq + lq : NULL, N, d.C, d.Dq, NULL, NULL);
        linear_forward(&pr, v.qkv + d.Dq, d.ld, v.ln1, p->wk + lkv * C, p->bk ? p->bk + lkv : NULL, N, d.C, d.Dkv, NULL, NULL);
        linear_forward(&pr, v.qkv + d.Dq + d.Dkv, d.ld, v.ln1, p->wv + lkv * C, p->bv ? p->bv + lkv : NULL, N, d.C, d.Dkv, NULL, NULL);
        rope_rows(v.qkv, N, T, d.ld, d.NH + d.NKV, d.hs, a->rope_cos, a->rope_sin, 0);
        lm_attention_forward(v.atty, v.att, tbuf, v.qkv, Bs, T, d.NH, d.NKV, d.hs);
        // residual2 = residual + atty @ Wo^T (the product lands in residual2, then the sum)
        linear_forward(&pr, v.residual2, d.C, v.atty, p->wo + (size_t)l * C * d.Dq, NULL, N, d.Dq, d.C, v.residual2, v.residual);
        rmsnorm_forward(v.ln2, v.ln2_rstd, v.residual2, p->mlp_norm + l * C, N, d.C, d.eps);
        linear_forward(&pr, v.gate, d.FF, v.ln2, p->wgate + (size_t)l * FF * C, NULL, N, d.C, d.FF, NULL, NULL);
        linear_forward(&pr, v.up, d.FF, v.ln2, p->wup + (size_t)l * FF * C, NULL, N, d.C, d.FF, NULL, NULL);
        swiglu_forward(v.hid, v.gate, v.up, N * FF);
        linear_forward(&pr, v.residual3, d.C, v.hid, p->wdown + (size_t)l * C * FF, NULL, N, d.FF, d.C, v.residual3, v.residual2);
    }
    const float *last = a->residual3 + ((size_t)(m->acts_layers - 1) * BT + r0) * C;
    float *lnf = a->lnf + r0 * C, *logits = a->logits + r0 * d.V;
    rmsnorm_forward(lnf, a->lnf_rstd + r0, last, p->norm, N, d.C, d.eps);
    const float *wout = p->lm_head ? p->lm_head : p->wte;
    lm_gemm_w(&pr, CblasNoTrans, CblasTrans, (int)N, d.V, d.C, 1.0f, lnf, d.C, wout, d.C, 0.0f, logits, d.V, NULL);
    lm_loss_rows(a->logits, a->losses, a->lse, m->targets, r0, N, d.V, dlogits, k);
}

size_t lm_llama_backward_scratch(const alim_gpt_config *cfg, size_t BT)
{
    const dims d = dims_of(cfg);
    const size_t W = (size_t)(2 * d.FF > d.ld ? 2 * d.FF : d.ld);
    return BT * ((size_t)d.C * 2 + d.Dq + W);
}

void lm_llama_backward_rows(alim_gpt *m, int b0, int b1, const alim_llama_tensors *g, float k,
                            int dlogits, float *rows, float *attscratch, float *tbuf)
{
    const dims d = dims_of(&m->config);
    const int T = m->T, Bs = b1 - b0;
    const size_t BT = (size_t)m->B * T, r0 = (size_t)b0 * T, N = (size_t)Bs * T;
    const size_t C = d.C, FF = d.FF, W = (size_t)(2 * d.FF > d.ld ? 2 * d.FF : d.ld);
    const alim_llama_tensors *p = &m->lp;
    const alim_llama_acts *a = &m->la;
    const lm_prec pr = lm_model_prec(m);
    // scratch of all BT rows: dres (BT,C), dtmp (BT,C), datty (BT,Dq), dbig (BT,W); the
    // shard uses its own rows of each
    float *dres = rows + r0 * C, *dtmp = rows + BT * C + r0 * C;
    float *datty = rows + 2 * BT * C + r0 * d.Dq, *dbig = rows + BT * (2 * C + d.Dq) + r0 * W;
    float *logits = a->logits + r0 * d.V;
    const float *lnf = a->lnf + r0 * C;

    if (dlogits) lm_dlogits_rows(a->logits, a->lse, m->targets, r0, N, d.V, k);
    const float *wout = p->lm_head ? p->lm_head : p->wte;
    float *dwout = g->lm_head ? g->lm_head : g->wte;
    // dlnf (N,C) = dlogits (N,V) @ W_out (V,C);  dW_out += dlogits^T @ lnf
    lm_gemm_w(&pr, CblasNoTrans, CblasNoTrans, (int)N, d.C, d.V, 1.0f, logits, d.V, wout, d.C, 0.0f, dtmp, d.C, NULL);
    lm_gemm_x(&pr, CblasTrans, CblasNoTrans, d.V, d.C, (int)N, 1.0f, logits, d.V, lnf, d.C, 1.0f, dwout, d.C);
    memset(dres, 0, N * C * sizeof(float));
    rmsnorm_backward(dres, g->norm, dtmp, a->residual3 + ((size_t)(d.L - 1) * BT + r0) * C, p->norm, a->lnf_rstd + r0, N, d.C);

    for (int l = d.L - 1; l >= 0; l--) {
        const block_acts v = block_view(m, &d, l, b0);
        const size_t lq = (size_t)l * d.Dq, lkv = (size_t)l * d.Dkv;
        float *dgate = dbig, *dup = dbig + N * FF;
        // residual3 = residual2 + hid @ Wd^T: dres is d(hid @ Wd^T) and d residual2 so far
        linear_backward(&pr, dgate, 0.0f, g->wdown + (size_t)l * C * FF, NULL, dres, d.C, v.hid, p->wdown + (size_t)l * C * FF, N, d.FF, d.C);
        swiglu_backward(dgate, dup, v.gate, v.up, N * FF);
        // gate, up = ln2 @ Wg^T, ln2 @ Wu^T               dtmp = d ln2
        linear_backward(&pr, dtmp, 0.0f, g->wgate + (size_t)l * FF * C, NULL, dgate, d.FF, v.ln2, p->wgate + (size_t)l * FF * C, N, d.C, d.FF);
        linear_backward(&pr, dtmp, 1.0f, g->wup + (size_t)l * FF * C, NULL, dup, d.FF, v.ln2, p->wup + (size_t)l * FF * C, N, d.C, d.FF);
        rmsnorm_backward(dres, g->mlp_norm + l * C, dtmp, v.residual2, p->mlp_norm + l * C, v.ln2_rstd, N, d.C);
        // residual2 = residual + atty @ Wo^T              datty = d atty
        linear_backward(&pr, datty, 0.0f, g->wo + (size_t)l * C * d.Dq, NULL, dres, d.C, v.atty, p->wo + (size_t)l * C * d.Dq, N, d.Dq, d.C);
        float *dqkv = dbig; // (N,ld)
        lm_attention_backward(dqkv, attscratch, tbuf, datty, v.qkv, v.att, Bs, T, d.NH, d.NKV, d.hs);
        rope_rows(dqkv, N, T, d.ld, d.NH + d.NKV, d.hs, a->rope_cos, a->rope_sin, 1);
        // q, k, v = ln1 @ W^T + b                        dtmp = d ln1
        linear_backward(&pr, dtmp, 0.0f, g->wq + lq * C, g->bq ? g->bq + lq : NULL, dqkv, d.ld, v.ln1, p->wq + lq * C, N, d.C, d.Dq);
        linear_backward(&pr, dtmp, 1.0f, g->wk + lkv * C, g->bk ? g->bk + lkv : NULL, dqkv + d.Dq, d.ld, v.ln1, p->wk + lkv * C, N, d.C, d.Dkv);
        linear_backward(&pr, dtmp, 1.0f, g->wv + lkv * C, g->bv ? g->bv + lkv : NULL, dqkv + d.Dq + d.Dkv, d.ld, v.ln1, p->wv + lkv * C, N, d.C, d.Dkv);
        rmsnorm_backward(dres, g->attn_norm + l * C, dtmp, v.residual, p->attn_norm + l * C, v.ln1_rstd, N, d.C);
    }
    lm_encoder_backward(g->wte, NULL, dres, m->inputs + r0, Bs, T, d.C);
}

/* ---- one decoding step with the key/value cache ------------------------------------- */

/* Floats of one step's scratch per row: residual x, norm output, rstd, q|k|v, attention
 * output, MLP gate and up, attention scores over T_max, cos and sin of the position. */
size_t lm_llama_cache_work_per_row(const alim_gpt_config *cfg, int T_max)
{
    const dims d = dims_of(cfg);
    return (size_t)d.C * 2 + 1 + d.ld + d.Dq + 2 * (size_t)d.FF + (size_t)d.NH * T_max + d.hs;
}

/* out (B,outf) = inp (B,in) @ w^T + bias: linear_forward, except that one row goes through
 * sgemv (sgemm with M = 1 spends most of its time packing the weights) */
static void step_linear(const lm_prec *pr, float *out, int ldo, const float *inp, const float *w,
                        const float *bias, int B, int in, int outf)
{
    if (B > 1 || pr->base_h) { /* bf16: one row through the bf16 product too */
        linear_forward(pr, out, ldo, inp, w, bias, (size_t)B, in, outf, NULL, NULL);
        return;
    }
    if (bias) memcpy(out, bias, (size_t)outf * sizeof(float));
    cblas_sgemv(CblasRowMajor, CblasNoTrans, outf, in, 1.0f, w, in, inp, 1, bias ? 1.0f : 0.0f, out, 1);
}

static void store_kv(alim_gpt_cache *c, const dims *d, int l, int b, int pos, const float *k, const float *v)
{
    const size_t Bc = c->B_cap, T_max = c->T_max, hs = d->hs, plane = (size_t)d->NKV * hs * T_max;
    float *kt = c->k + ((size_t)l * Bc + b) * plane, *vc = c->v + ((size_t)l * Bc + b) * plane;
    for (int kh = 0; kh < d->NKV; kh++) {
        float *kth = kt + (size_t)kh * hs * T_max;
        for (size_t i = 0; i < hs; i++) kth[i * T_max + pos] = k[kh * hs + i];
        memcpy(vc + ((size_t)kh * T_max + pos) * hs, v + kh * hs, hs * sizeof(float));
    }
}

void lm_llama_step(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens)
{
    const dims d = dims_of(&m->config);
    const int B = c->B, T_max = c->T_max, pos = c->t, half = d.hs / 2;
    const size_t BC = (size_t)B * d.C, Bc = c->B_cap, plane = (size_t)d.NKV * d.hs * T_max;
    const float scale = 1.0f / sqrtf((float)d.hs);
    const lm_attention_step_row_fn attention_step_row = lm_attention_step_row_pick();
    const alim_llama_tensors *p = &m->lp;
    const lm_prec pr = lm_model_prec(m);
    float *x = c->work, *ln = x + BC, *rstd = ln + BC, *qkv = rstd + B, *atty = qkv + (size_t)B * d.ld;
    float *gate = atty + (size_t)B * d.Dq, *up = gate + (size_t)B * d.FF, *att = up + (size_t)B * d.FF;
    float *cs = att + (size_t)B * d.NH * T_max, *sn = cs + half;
    rope_cos_sin(m->rope_inv_freq, half, pos, cs, sn);

    for (int b = 0; b < B; b++) memcpy(x + (size_t)b * d.C, p->wte + (size_t)tokens[b] * d.C, (size_t)d.C * sizeof(float));
    for (int l = 0; l < d.L; l++) {
        const size_t lq = (size_t)l * d.Dq, lkv = (size_t)l * d.Dkv, C = d.C, FF = d.FF;
        rmsnorm_forward(ln, rstd, x, p->attn_norm + l * C, B, d.C, d.eps);
        // q | k | v of each row into one row of ld floats
        step_linear(&pr, qkv, d.ld, ln, p->wq + lq * C, p->bq ? p->bq + lq : NULL, B, d.C, d.Dq);
        step_linear(&pr, qkv + d.Dq, d.ld, ln, p->wk + lkv * C, p->bk ? p->bk + lkv : NULL, B, d.C, d.Dkv);
        step_linear(&pr, qkv + d.Dq + d.Dkv, d.ld, ln, p->wv + lkv * C, p->bv ? p->bv + lkv : NULL, B, d.C, d.Dkv);
        rope_rows(qkv, (size_t)B, 1, d.ld, d.NH + d.NKV, d.hs, cs, sn, 0);
#pragma omp parallel for schedule(static) if ((size_t)B * C * (pos + 1) >= PAR_MIN)
        for (int b = 0; b < B; b++) {
            const float *row = qkv + (size_t)b * d.ld;
            store_kv(c, &d, l, b, pos, row + d.Dq, row + d.Dq + d.Dkv);
            const size_t off = ((size_t)l * Bc + b) * plane;
            attention_step_row(atty + (size_t)b * d.Dq, att + (size_t)b * d.NH * T_max, row, c->k + off, c->v + off,
                               pos + 1, T_max, d.NH, d.NH / d.NKV, d.hs, scale);
        }
        step_linear(&pr, ln, d.C, atty, p->wo + (size_t)l * C * d.Dq, NULL, B, d.Dq, d.C);
        lm_residual_forward(x, x, ln, BC);
        rmsnorm_forward(ln, rstd, x, p->mlp_norm + l * C, B, d.C, d.eps);
        step_linear(&pr, gate, d.FF, ln, p->wgate + (size_t)l * FF * C, NULL, B, d.C, d.FF);
        step_linear(&pr, up, d.FF, ln, p->wup + (size_t)l * FF * C, NULL, B, d.C, d.FF);
        swiglu_forward(gate, gate, up, (size_t)B * FF);
        step_linear(&pr, ln, d.C, gate, p->wdown + (size_t)l * C * FF, NULL, B, d.FF, d.C);
        lm_residual_forward(x, x, ln, BC);
    }
    rmsnorm_forward(ln, rstd, x, p->norm, B, d.C, d.eps);
    const float *wout = p->lm_head ? p->lm_head : p->wte;
    if (B > 1 || pr.base_h) lm_gemm_w(&pr, CblasNoTrans, CblasTrans, B, d.V, d.C, 1.0f, ln, d.C, wout, d.C, 0.0f, c->logits, d.V, NULL);
    else cblas_sgemv(CblasRowMajor, CblasNoTrans, d.V, d.C, 1.0f, wout, d.C, ln, 1, 0.0f, c->logits, 1);
}

void lm_llama_prefill_kv(const alim_gpt *m, alim_gpt_cache *c, int T0)
{
    const dims d = dims_of(&m->config);
    const int B = c->B;
    const size_t BT = (size_t)B * T0;
    for (int l = 0; l < d.L; l++) {
        const float *qkv = m->la.qkv + (size_t)l * BT * d.ld;
#pragma omp parallel for schedule(static) if (BT * d.C >= PAR_MIN)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T0; t++) {
                const float *row = qkv + ((size_t)b * T0 + t) * d.ld;
                store_kv(c, &d, l, b, t, row + d.Dq, row + d.Dq + d.Dkv);
            }
    }
}
