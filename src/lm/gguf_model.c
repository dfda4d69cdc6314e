/* gguf_model.c — a Llama-family model and its tokenizer from a GGUF file (see
 * alim_gguf_model_load in alim/checkpoint.h; the file format itself is alim/gguf.h).
 *
 * llama.cpp's converter permutes the rows of attn_q and attn_k so that its rotary kernel
 * can pair adjacent elements (x[2i], x[2i+1]) where Hugging Face pairs x[i] with
 * x[i + hs/2] ("rotate half"). Within each head, HF row r = j*(hs/2) + i (j in {0,1}) was
 * written to row 2i + j; loading inverts that, so the engine keeps one rotation and a model
 * loaded from GGUF is the same model as its Hugging Face original, row for row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/gguf.h"
#include "model.h"

/* key "<arch>.<suffix>" */
static const char *arch_key(char *buf, size_t n, const char *arch, const char *suffix)
{
    snprintf(buf, n, "%s.%s", arch, suffix);
    return buf;
}

static alim_status get_int_key(const alim_gguf *g, const char *key, int required, int *out, alim_error *err)
{
    if (!required && !alim_gguf_has_key(g, key)) return ALIM_OK;
    int64_t v;
    alim_status st = alim_gguf_get_int(g, key, &v, err);
    if (st) return st;
    if (v < 0 || v > (1 << 30)) {
        char where[ALIM_ERROR_WHERE_MAX];
        snprintf(where, sizeof where, "%s: %s", alim_gguf_path(g), key);
        return alim_error_set(err, ALIM_EFORMAT, where, "value %lld is out of range", (long long)v);
    }
    *out = (int)v;
    return ALIM_OK;
}

static alim_status get_float_key(const alim_gguf *g, const char *key, float *out, alim_error *err)
{
    if (!alim_gguf_has_key(g, key)) return ALIM_OK;
    double v;
    alim_status st = alim_gguf_get_float(g, key, &v, err);
    if (!st) *out = (float)v;
    return st;
}

static alim_status read_config(const alim_gguf *g, alim_gpt_config *c, int *permuted_qk, alim_error *err)
{
    const char *path = alim_gguf_path(g);
    char where[ALIM_ERROR_WHERE_MAX], key[128];
    const char *arch;
    size_t alen;
    alim_status st = alim_gguf_get_string(g, "general.architecture", &arch, &alen, err);
    if (st) return st;
    char a[32];
    if (alen >= sizeof a || (!(alen == 5 && !memcmp(arch, "llama", 5)) && !(alen == 5 && !memcmp(arch, "qwen2", 5)))) {
        snprintf(where, sizeof where, "%s: general.architecture", path);
        return alim_error_set(err, ALIM_EFORMAT, where, "'%.*s' is not supported (alim reads llama and qwen2)", (int)(alen < 64 ? alen : 64), arch);
    }
    memcpy(a, arch, alen);
    a[alen] = '\0';
    memset(c, 0, sizeof *c);
    c->arch = ALIM_ARCH_LLAMA;
    c->qkv_bias = !strcmp(a, "qwen2");
    /* llama.cpp permutes Q/K for its adjacent-pair rotation in "llama" files only; Qwen2
     * uses the rotate-half ("neox") rotation and keeps the Hugging Face rows */
    *permuted_qk = !strcmp(a, "llama");
    c->rope_theta = 10000.0f;
    c->layer_norm_epsilon = 1e-5f;
    st = get_int_key(g, arch_key(key, sizeof key, a, "block_count"), 1, &c->n_layer, err);
    if (!st) st = get_int_key(g, arch_key(key, sizeof key, a, "embedding_length"), 1, &c->n_embd, err);
    if (!st) st = get_int_key(g, arch_key(key, sizeof key, a, "attention.head_count"), 1, &c->n_head, err);
    c->n_kv_head = c->n_head;
    if (!st) st = get_int_key(g, arch_key(key, sizeof key, a, "attention.head_count_kv"), 0, &c->n_kv_head, err);
    if (!st) st = get_int_key(g, arch_key(key, sizeof key, a, "feed_forward_length"), 1, &c->n_inner, err);
    if (!st) st = get_int_key(g, arch_key(key, sizeof key, a, "context_length"), 1, &c->n_positions, err);
    if (!st) st = get_float_key(g, arch_key(key, sizeof key, a, "rope.freq_base"), &c->rope_theta, err);
    if (!st) st = get_float_key(g, arch_key(key, sizeof key, a, "attention.layer_norm_rms_epsilon"), &c->layer_norm_epsilon, err);
    if (!st) {
        int rot = 0;
        st = get_int_key(g, arch_key(key, sizeof key, a, "rope.dimension_count"), 0, &rot, err);
        if (!st && rot && c->n_head && rot != c->n_embd / c->n_head) {
            snprintf(where, sizeof where, "%s: %s", path, key);
            st = alim_error_set(err, ALIM_EFORMAT, where, "partial rotary embeddings (%d of %d dimensions) are not supported", rot, c->n_embd / c->n_head);
        }
    }
    if (!st && alim_gguf_has_key(g, arch_key(key, sizeof key, a, "rope.scaling.type"))) {
        const char *ty;
        size_t tl;
        st = alim_gguf_get_string(g, key, &ty, &tl, err);
        if (!st && !(tl == 4 && !memcmp(ty, "none", 4))) {
            snprintf(where, sizeof where, "%s: %s", path, key);
            st = alim_error_set(err, ALIM_EFORMAT, where, "rope scaling '%.*s' is not supported", (int)(tl < 64 ? tl : 64), ty);
        }
    }
    /* the vocabulary size: llama.vocab_size, else the token list's length */
    if (!st && alim_gguf_has_key(g, arch_key(key, sizeof key, a, "vocab_size")))
        st = get_int_key(g, key, 1, &c->vocab_size, err);
    const alim_gguf_tensor *emb = st ? NULL : alim_gguf_find_tensor(g, "token_embd.weight");
    if (!st && !emb) {
        snprintf(where, sizeof where, "%s: token_embd.weight", path);
        st = alim_error_set(err, ALIM_EFORMAT, where, "missing tensor");
    }
    if (!st && !c->vocab_size) c->vocab_size = (int)emb->ne[1];
    if (!st) c->tie_word_embeddings = alim_gguf_find_tensor(g, "output.weight") == NULL;
    if (!st) {
        alim_error e2;
        if (alim_gpt_config_check(c, &e2)) {
            snprintf(where, sizeof where, "%.*s: %.60s", 180, path, e2.where);
            st = alim_error_set(err, ALIM_EFORMAT, where, "%s", e2.what);
        }
    }
    /* every parameter comes from a tensor of the file: hyper-parameters needing more than
     * the file's tensors hold are refused before the model is sized from them (a file of
     * 640 bytes claiming 1000 layers of width 4096 asked for 976 GB; fuzz_gguf_model's seed
     * regress-huge-config) */
    if (!st) {
        alim_gpt probe;
        memset(&probe, 0, sizeof probe);
        probe.config = *c;
        lm_model_setup(&probe);
        uint64_t held = 0;
        for (int i = 0; i < alim_gguf_tensor_count(g); i++) held += alim_gguf_tensor_at(g, i)->n_elements;
        if (probe.num_params > held)
            st = alim_error_set(err, ALIM_EFORMAT, path, "the hyper-parameters need %zu parameters, the file's tensors hold %llu",
                                probe.num_params, (unsigned long long)held);
    }
    return st;
}

/* rows (nrow, ncol) of one head block of Q or K: GGUF row 2i + j holds HF row j*half + i */
static void unpermute_rows(float *dst, const float *src, int n_heads, int hs, int ncol)
{
    const int half = hs / 2;
    for (int h = 0; h < n_heads; h++)
        for (int j = 0; j < 2; j++)
            for (int i = 0; i < half; i++)
                memcpy(dst + ((size_t)h * hs + (size_t)j * half + i) * ncol,
                       src + ((size_t)h * hs + 2 * (size_t)i + j) * ncol, (size_t)ncol * sizeof(float));
}

static alim_status load_tensors(const alim_gguf *g, alim_gpt *m, int permuted_qk, alim_error *err)
{
    const char *path = alim_gguf_path(g);
    const alim_gpt_config *c = &m->config;
    const int hs = c->n_embd / c->n_head;
    char name[128], where[ALIM_ERROR_WHERE_MAX];
    float *tmp = NULL;
    size_t tmp_cap = 0;
    alim_status st = ALIM_OK;
    for (int t = 0; t < m->n_tensors && !st; t++) {
        const int nl = alim_gpt_tensor_is_per_layer(m, t) ? c->n_layer : 1, id = m->tensor_id[t];
        for (int l = 0; l < nl && !st; l++) {
            int64_t shape[2];
            const int nd = alim_gpt_tensor_info(m, t, l, NULL, 0, shape);
            alim_gpt_tensor_gguf_name(m, t, l, name, sizeof name);
            snprintf(where, sizeof where, "%s: %s", path, name);
            const alim_gguf_tensor *gt = alim_gguf_find_tensor(g, name);
            if (!gt) {
                st = alim_error_set(err, ALIM_EFORMAT, where, "missing tensor");
                break;
            }
            /* GGUF dims are reversed: ne[0] is the row length */
            const int64_t rows = nd == 2 ? shape[0] : 1, cols = nd == 2 ? shape[1] : shape[0];
            if (gt->n_dims != nd || gt->ne[0] != cols || (nd == 2 && gt->ne[1] != rows)) {
                st = alim_error_set(err, ALIM_EFORMAT, where, "has shape [%lld, %lld] (ggml order), the model needs [%lld, %lld]",
                                    (long long)gt->ne[0], (long long)(gt->n_dims > 1 ? gt->ne[1] : 1), (long long)cols, (long long)rows);
                break;
            }
            size_t n;
            float *dst = alim_gpt_tensor_slice(m, m->params, t, l, &n);
            const int permuted = permuted_qk && (id == ALIM_LLAMA_WQ || id == ALIM_LLAMA_WK);
            if (!permuted) {
                st = alim_gguf_tensor_read_f32(g, gt, dst, err);
                continue;
            }
            if (n > tmp_cap) {
                free(tmp);
                tmp = malloc(n * sizeof(float));
                tmp_cap = tmp ? n : 0;
                if (!tmp) {
                    st = alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
                    break;
                }
            }
            st = alim_gguf_tensor_read_f32(g, gt, tmp, err);
            const int heads = id == ALIM_LLAMA_WQ ? c->n_head : c->n_kv_head;
            if (!st) unpermute_rows(dst, tmp, heads, hs, (int)cols);
        }
    }
    free(tmp);
    alim_gpt_params_changed(m);
    return st;
}

static alim_status load_tokenizer(const alim_gguf *g, alim_tokenizer *tk, alim_error *err)
{
    const char *path = alim_gguf_path(g);
    char where[ALIM_ERROR_WHERE_MAX];
    const char *model;
    size_t mlen;
    alim_status st = alim_gguf_get_string(g, "tokenizer.ggml.model", &model, &mlen, err);
    if (st) return st;
    if (!(mlen == 4 && !memcmp(model, "gpt2", 4))) {
        snprintf(where, sizeof where, "%s: tokenizer.ggml.model", path);
        return alim_error_set(err, ALIM_EFORMAT, where, "tokenizer model '%.*s' is not supported (alim reads byte-level BPE, 'gpt2')", (int)(mlen < 64 ? mlen : 64), model);
    }
    alim_tokenizer_parts p;
    memset(&p, 0, sizeof p);
    const char **tokens = NULL, **merges = NULL;
    size_t *tlens = NULL, *mlens = NULL;
    int64_t *types = NULL;
    int32_t *types32 = NULL;
    uint64_t nt = 0, nm = 0, ntypes = 0;
    char pre[64] = "default";
    st = alim_gguf_get_string_array(g, "tokenizer.ggml.tokens", &tokens, &tlens, &nt, err);
    /* a vocabulary without merges (a byte tokenizer) may leave the key out */
    if (!st && alim_gguf_has_key(g, "tokenizer.ggml.merges"))
        st = alim_gguf_get_string_array(g, "tokenizer.ggml.merges", &merges, &mlens, &nm, err);
    if (!st && alim_gguf_has_key(g, "tokenizer.ggml.token_type")) {
        st = alim_gguf_get_int_array(g, "tokenizer.ggml.token_type", &types, &ntypes, err);
        if (!st && ntypes != nt) {
            snprintf(where, sizeof where, "%s: tokenizer.ggml.token_type", path);
            st = alim_error_set(err, ALIM_EFORMAT, where, "has %llu entries for %llu tokens", (unsigned long long)ntypes, (unsigned long long)nt);
        }
        if (!st && !(types32 = malloc(nt * sizeof *types32))) st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
        for (uint64_t i = 0; !st && i < nt; i++) types32[i] = (int32_t)types[i];
    }
    if (!st && alim_gguf_has_key(g, "tokenizer.ggml.pre")) {
        const char *s;
        size_t n;
        st = alim_gguf_get_string(g, "tokenizer.ggml.pre", &s, &n, err);
        if (!st) snprintf(pre, sizeof pre, "%.*s", (int)(n < sizeof pre - 1 ? n : sizeof pre - 1), s);
    }
    int bos = -1, eos = -1, unk = -1, pad = -1, add_bos = 0;
    if (!st && alim_gguf_has_key(g, "tokenizer.ggml.bos_token_id")) st = get_int_key(g, "tokenizer.ggml.bos_token_id", 1, &bos, err);
    if (!st && alim_gguf_has_key(g, "tokenizer.ggml.eos_token_id")) st = get_int_key(g, "tokenizer.ggml.eos_token_id", 1, &eos, err);
    if (!st && alim_gguf_has_key(g, "tokenizer.ggml.unknown_token_id")) st = get_int_key(g, "tokenizer.ggml.unknown_token_id", 1, &unk, err);
    if (!st && alim_gguf_has_key(g, "tokenizer.ggml.padding_token_id")) st = get_int_key(g, "tokenizer.ggml.padding_token_id", 1, &pad, err);
    if (!st && alim_gguf_has_key(g, "tokenizer.ggml.add_bos_token")) st = alim_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, err);
    if (!st) {
        p.tokens = tokens, p.token_lens = tlens, p.n_tokens = nt;
        p.merges = merges, p.merge_lens = mlens, p.n_merges = nm;
        p.token_types = types32, p.pre = pre;
        p.bos_id = bos, p.eos_id = eos, p.unk_id = unk, p.pad_id = pad, p.add_bos = add_bos;
        st = alim_tokenizer_init_parts(tk, &p, path, err);
    }
    free(tokens), free(tlens), free(merges), free(mlens), free(types), free(types32);
    return st;
}

alim_status alim_gguf_model_load(const char *path, alim_gpt *m, alim_tokenizer *tk, alim_error *err)
{
    memset(m, 0, sizeof *m);
    alim_gguf *g;
    alim_status st = alim_gguf_open(path, &g, err);
    if (st) return st;
    alim_gpt_config cfg;
    int permuted_qk = 0;
    st = read_config(g, &cfg, &permuted_qk, err);
    if (!st) st = alim_gpt_create(m, &cfg, err);
    if (!st) st = load_tensors(g, m, permuted_qk, err);
    if (!st) st = alim_gpt_check_finite(m, path, err);
    if (!st && tk) {
        st = load_tokenizer(g, tk, err);
        if (!st && tk->vocab_size > cfg.vocab_size) {
            st = alim_error_set(err, ALIM_EFORMAT, path, "the tokenizer has %d ids, more than the model's vocab_size %d", tk->vocab_size, cfg.vocab_size);
            alim_tokenizer_free(tk);
        }
    }
    if (st) alim_gpt_free(m);
    alim_gguf_close(g);
    return st;
}

alim_status alim_gguf_tokenizer_load(const char *path, alim_tokenizer *tk, alim_error *err)
{
    alim_gguf *g;
    alim_status st = alim_gguf_open(path, &g, err);
    if (st) return st;
    st = load_tokenizer(g, tk, err);
    alim_gguf_close(g);
    return st;
}
