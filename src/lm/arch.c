/* arch.c — every architecture's parameter tensors in one table (in the spirit of
 * llama.cpp's llama-arch.cpp): the Hugging Face and GGUF names, whether a tensor is
 * stacked over the blocks, and its shape. Allocation, the views into the parameter and
 * gradient arrays, checkpoint I/O (safetensors and GGUF names), initialisation and the
 * optimizer's segments are all generated from it (see alim/gpt.h).
 */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    int id;            /* ALIM_GPT_* or ALIM_LLAMA_*                                    */
    int per_layer;     /* stacked over the L blocks                                     */
    const char *hf;    /* Hugging Face state-dict name; %d is the block                  */
    const char *gguf;  /* GGUF name (llama.cpp); NULL where GGUF has none               */
} tensor_name;

static const tensor_name gpt2_names[ALIM_GPT_NUM_TENSORS] = {
    {ALIM_GPT_WTE, 0, "wte.weight", NULL},
    {ALIM_GPT_WPE, 0, "wpe.weight", NULL},
    {ALIM_GPT_LN1W, 1, "h.%d.ln_1.weight", NULL},
    {ALIM_GPT_LN1B, 1, "h.%d.ln_1.bias", NULL},
    {ALIM_GPT_QKVW, 1, "h.%d.attn.c_attn.weight", NULL},
    {ALIM_GPT_QKVB, 1, "h.%d.attn.c_attn.bias", NULL},
    {ALIM_GPT_ATTPROJW, 1, "h.%d.attn.c_proj.weight", NULL},
    {ALIM_GPT_ATTPROJB, 1, "h.%d.attn.c_proj.bias", NULL},
    {ALIM_GPT_LN2W, 1, "h.%d.ln_2.weight", NULL},
    {ALIM_GPT_LN2B, 1, "h.%d.ln_2.bias", NULL},
    {ALIM_GPT_FCW, 1, "h.%d.mlp.c_fc.weight", NULL},
    {ALIM_GPT_FCB, 1, "h.%d.mlp.c_fc.bias", NULL},
    {ALIM_GPT_FCPROJW, 1, "h.%d.mlp.c_proj.weight", NULL},
    {ALIM_GPT_FCPROJB, 1, "h.%d.mlp.c_proj.bias", NULL},
    {ALIM_GPT_LNFW, 0, "ln_f.weight", NULL},
    {ALIM_GPT_LNFB, 0, "ln_f.bias", NULL},
};

static const tensor_name llama_names[ALIM_LLAMA_NUM_TENSORS] = {
    {ALIM_LLAMA_WTE, 0, "model.embed_tokens.weight", "token_embd.weight"},
    {ALIM_LLAMA_ATTN_NORM, 1, "model.layers.%d.input_layernorm.weight", "blk.%d.attn_norm.weight"},
    {ALIM_LLAMA_WQ, 1, "model.layers.%d.self_attn.q_proj.weight", "blk.%d.attn_q.weight"},
    {ALIM_LLAMA_BQ, 1, "model.layers.%d.self_attn.q_proj.bias", "blk.%d.attn_q.bias"},
    {ALIM_LLAMA_WK, 1, "model.layers.%d.self_attn.k_proj.weight", "blk.%d.attn_k.weight"},
    {ALIM_LLAMA_BK, 1, "model.layers.%d.self_attn.k_proj.bias", "blk.%d.attn_k.bias"},
    {ALIM_LLAMA_WV, 1, "model.layers.%d.self_attn.v_proj.weight", "blk.%d.attn_v.weight"},
    {ALIM_LLAMA_BV, 1, "model.layers.%d.self_attn.v_proj.bias", "blk.%d.attn_v.bias"},
    {ALIM_LLAMA_WO, 1, "model.layers.%d.self_attn.o_proj.weight", "blk.%d.attn_output.weight"},
    {ALIM_LLAMA_MLP_NORM, 1, "model.layers.%d.post_attention_layernorm.weight", "blk.%d.ffn_norm.weight"},
    {ALIM_LLAMA_WGATE, 1, "model.layers.%d.mlp.gate_proj.weight", "blk.%d.ffn_gate.weight"},
    {ALIM_LLAMA_WUP, 1, "model.layers.%d.mlp.up_proj.weight", "blk.%d.ffn_up.weight"},
    {ALIM_LLAMA_WDOWN, 1, "model.layers.%d.mlp.down_proj.weight", "blk.%d.ffn_down.weight"},
    {ALIM_LLAMA_NORM, 0, "model.norm.weight", "output_norm.weight"},
    {ALIM_LLAMA_LM_HEAD, 0, "lm_head.weight", "output.weight"},
};

static const tensor_name *name_of(const alim_gpt *m, int t)
{
    const int id = m->tensor_id[t];
    return m->config.arch == ALIM_ARCH_LLAMA ? &llama_names[id] : &gpt2_names[id];
}

/* rows and columns (0 = 1-D) of one block's slice of tensor id, PyTorch order */
static void shape_of(const alim_gpt_config *c, int arch, int id, int64_t *r, int64_t *col)
{
    const int64_t C = c->n_embd, V = c->vocab_size;
    *r = C, *col = 0;
    if (arch == ALIM_ARCH_GPT2) {
        switch (id) {
        case ALIM_GPT_WTE: *r = V, *col = C; break;
        case ALIM_GPT_WPE: *r = c->n_positions, *col = C; break;
        case ALIM_GPT_QKVW: *col = 3 * C; break;
        case ALIM_GPT_QKVB: *r = 3 * C; break;
        case ALIM_GPT_ATTPROJW: *col = C; break;
        case ALIM_GPT_FCW: *col = 4 * C; break;
        case ALIM_GPT_FCB: *r = 4 * C; break;
        case ALIM_GPT_FCPROJW: *r = 4 * C, *col = C; break;
        default: break;
        }
        return;
    }
    const int64_t hs = C / c->n_head, Dq = c->n_head * hs, Dkv = (int64_t)c->n_kv_head * hs,
                  I = c->n_inner;
    switch (id) {
    case ALIM_LLAMA_WTE: case ALIM_LLAMA_LM_HEAD: *r = V, *col = C; break;
    case ALIM_LLAMA_WQ: *r = Dq, *col = C; break;
    case ALIM_LLAMA_BQ: *r = Dq; break;
    case ALIM_LLAMA_WK: case ALIM_LLAMA_WV: *r = Dkv, *col = C; break;
    case ALIM_LLAMA_BK: case ALIM_LLAMA_BV: *r = Dkv; break;
    case ALIM_LLAMA_WO: *r = C, *col = Dq; break;
    case ALIM_LLAMA_WGATE: case ALIM_LLAMA_WUP: *r = I, *col = C; break;
    case ALIM_LLAMA_WDOWN: *r = C, *col = I; break;
    default: break; /* norms: (C) */
    }
}

void lm_model_setup(alim_gpt *m)
{
    const alim_gpt_config *c = &m->config;
    const int arch = c->arch;
    const int count = arch == ALIM_ARCH_LLAMA ? ALIM_LLAMA_NUM_TENSORS : ALIM_GPT_NUM_TENSORS;
    m->n_tensors = 0;
    m->num_params = 0;
    for (int id = 0; id < count; id++) {
        if (arch == ALIM_ARCH_LLAMA) {
            if (!c->qkv_bias && (id == ALIM_LLAMA_BQ || id == ALIM_LLAMA_BK || id == ALIM_LLAMA_BV)) continue;
            if (c->tie_word_embeddings && id == ALIM_LLAMA_LM_HEAD) continue;
        }
        int64_t r, col;
        shape_of(c, arch, id, &r, &col);
        const tensor_name *tn = arch == ALIM_ARCH_LLAMA ? &llama_names[id] : &gpt2_names[id];
        size_t n = (size_t)r * (size_t)(col ? col : 1);
        if (tn->per_layer) n *= (size_t)c->n_layer;
        m->tensor_id[m->n_tensors] = id;
        m->tensor_size[m->n_tensors] = n;
        m->n_tensors++;
        m->num_params += n;
    }
}

void lm_model_point(const alim_gpt *m, float *base, alim_gpt_tensors *gpt2, alim_llama_tensors *llama)
{
    if (m->config.arch == ALIM_ARCH_LLAMA) {
        memset(llama, 0, sizeof *llama);
        float **ptrs[ALIM_LLAMA_NUM_TENSORS] = {
            &llama->wte, &llama->attn_norm, &llama->wq, &llama->bq, &llama->wk, &llama->bk,
            &llama->wv, &llama->bv, &llama->wo, &llama->mlp_norm, &llama->wgate, &llama->wup,
            &llama->wdown, &llama->norm, &llama->lm_head};
        for (int t = 0; t < m->n_tensors; t++) {
            *ptrs[m->tensor_id[t]] = base;
            base += m->tensor_size[t];
        }
        return;
    }
    float **ptrs[ALIM_GPT_NUM_TENSORS] = {&gpt2->wte, &gpt2->wpe, &gpt2->ln1w, &gpt2->ln1b, &gpt2->qkvw,
                                          &gpt2->qkvb, &gpt2->attprojw, &gpt2->attprojb, &gpt2->ln2w,
                                          &gpt2->ln2b, &gpt2->fcw, &gpt2->fcb, &gpt2->fcprojw, &gpt2->fcprojb,
                                          &gpt2->lnfw, &gpt2->lnfb};
    for (int t = 0; t < m->n_tensors; t++) {
        *ptrs[m->tensor_id[t]] = base;
        base += m->tensor_size[t];
    }
}

int alim_gpt_tensor_is_per_layer(const alim_gpt *m, int t) { return name_of(m, t)->per_layer; }

int alim_gpt_tensor_info(const alim_gpt *m, int t, int layer, char *name, size_t name_size,
                         int64_t shape[2])
{
    const tensor_name *tn = name_of(m, t);
    int64_t r, c;
    shape_of(&m->config, m->config.arch, tn->id, &r, &c);
    if (name) {
        if (tn->per_layer) snprintf(name, name_size, tn->hf, layer);
        else snprintf(name, name_size, "%s", tn->hf);
    }
    shape[0] = r;
    shape[1] = c;
    return c ? 2 : 1;
}

int alim_gpt_tensor_gguf_name(const alim_gpt *m, int t, int layer, char *name, size_t name_size)
{
    const tensor_name *tn = name_of(m, t);
    if (!tn->gguf) return 0;
    if (tn->per_layer) snprintf(name, name_size, tn->gguf, layer);
    else snprintf(name, name_size, "%s", tn->gguf);
    return 1;
}

float *alim_gpt_tensor_slice(const alim_gpt *m, float *base, int t, int layer, size_t *n)
{
    size_t off = 0;
    for (int i = 0; i < t; i++) off += m->tensor_size[i];
    size_t sz = m->tensor_size[t];
    if (name_of(m, t)->per_layer) {
        sz /= (size_t)m->config.n_layer;
        off += (size_t)layer * sz;
    }
    *n = sz;
    return base + off;
}

/* 1 if x[0..n) holds a NaN or an infinity: the exponent bits all set, OR-ed over the
 * block in integer lanes so that the loop vectorises (isfinite per element did not) */
static int any_non_finite(const float *x, size_t n)
{
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, x + i, sizeof b);
        acc |= (uint32_t)((b & 0x7f800000u) == 0x7f800000u);
    }
    return acc != 0;
}

alim_status alim_gpt_check_finite(const alim_gpt *m, const char *where, alim_error *err)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const int nl = name_of(m, t)->per_layer ? m->config.n_layer : 1;
        for (int l = 0; l < nl; l++) {
            size_t n;
            const float *x = alim_gpt_tensor_slice(m, m->params, t, l, &n);
            if (!any_non_finite(x, n)) continue;
            for (size_t i = 0; i < n; i++)
                if (!isfinite(x[i])) {
                    char name[128];
                    int64_t shape[2];
                    alim_gpt_tensor_info(m, t, l, name, sizeof name, shape);
                    return alim_error_set(err, ALIM_EFORMAT, where, "tensor %s holds a non-finite value (%g at element %zu)", name, (double)x[i], i);
                }
        }
    }
    return ALIM_OK;
}
