/* alim/gpt.h — decoder-only transformers: forward, backward, parameters, decoding, in fp32
 * or with bf16 matrix products (alim_precision).
 *
 * Two architectures share this interface (alim_gpt_config.arch):
 *
 * ALIM_ARCH_GPT2 (Radford et al. 2019, the Hugging Face GPT2LMHeadModel):
 *   x = wte[tokens] + wpe[positions]                               // (B,T,C)
 *   for each of L blocks:
 *     x = x + c_proj(causal_self_attention(ln_1(x)))               // n_head heads of C/n_head
 *     x = x + mlp.c_proj(gelu_tanh(mlp.c_fc(ln_2(x))))             // hidden 4C
 *   logits = ln_f(x) @ wte^T                                       // (B,T,V), tied output
 *
 * ALIM_ARCH_LLAMA (the Hugging Face LlamaForCausalLM; Qwen2 and Mistral are the same graph
 * with q/k/v biases or none):
 *   x = embed_tokens[tokens]                                       // (B,T,C), no positions
 *   for each of L blocks:
 *     h = rmsnorm(x) ; q, k, v = h Wq^T + bq, h Wk^T + bk, h Wv^T + bv // NH and NKV heads of hs
 *     q, k = rope(q, t), rope(k, t)                               // rotate-half pairing
 *     x = x + attention(q, k, v) Wo^T                              // head h reads kv head h/(NH/NKV)
 *     x = x + (silu(rmsnorm(x) Wg^T) * (rmsnorm(x) Wu^T)) Wd^T     // SwiGLU, hidden n_inner
 *   logits = rmsnorm(x) @ W_out^T                                  // W_out = embed_tokens if tied
 * Linear weights keep the Hugging Face nn.Linear layout (out, in), so y = x @ W^T and
 * checkpoints are plain copies; GGUF's permuted Q/K rows are un-permuted on load.
 *
 * Storage: the parameters are one float array, the gradients another, the activations a
 * third; every tensor is a view (pointer) into them. Linear weights keep the Hugging Face
 * Conv1D layout (in, out), so y = x @ W + b and checkpoints are plain copies. Tensors of
 * the L blocks are stacked: ln1w is (L,C), qkvw (L,C,3C), and so on.
 *
 * Matrix products go through CBLAS (OpenBLAS) in fp32, or oneDNN in bf16 (alim_precision);
 * the rest is OpenMP loops without atomics,
 * so a run is deterministic for a given thread count. Attention backward is O(T^2) per
 * head (softmax Jacobian applied row by row, never materialised).
 */
#ifndef ALIM_GPT_H
#define ALIM_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ALIM_ARCH_GPT2 = 0, ALIM_ARCH_LLAMA = 1 } alim_arch;

/* Rotary position embedding frequencies: "default" (theta^(-2i/hs)) or Llama 3.1's
 * "llama3" rescaling of the low frequencies. */
typedef enum { ALIM_ROPE_DEFAULT = 0, ALIM_ROPE_LLAMA3 = 1 } alim_rope_type;

/* Hyper-parameters, named after GPT2Config (the first six) and LlamaConfig. A zeroed tail
 * is a GPT-2 model. */
typedef struct {
    int n_layer;      /* L, number of blocks (>= 1)                               */
    int n_embd;       /* C, width; a multiple of n_head                           */
    int n_head;       /* NH, attention heads                                      */
    int n_positions;  /* maximum context length (rows of wpe; Llama: max_position_embeddings) */
    int vocab_size;   /* V, rows of wte                                           */
    float layer_norm_epsilon; /* 1e-5 in GPT-2; Llama: rms_norm_eps             */
    /* ---- ALIM_ARCH_LLAMA only (zero for GPT-2) ---- */
    alim_arch arch;
    int n_kv_head;    /* NKV, key/value heads (num_key_value_heads), dividing n_head */
    int n_inner;      /* MLP hidden width (intermediate_size)                    */
    float rope_theta; /* base of the rotary frequencies                           */
    alim_rope_type rope_type;
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor; /* llama3 scaling */
    int rope_original_max_positions;                                /* llama3 scaling */
    int qkv_bias;     /* q, k, v projections carry biases (Qwen2)                 */
    int tie_word_embeddings; /* the output layer is embed_tokens                  */
} alim_gpt_config;

/* The parameter tensors, in checkpoint order. Each is a view into one allocation. */
enum {
    ALIM_GPT_WTE, ALIM_GPT_WPE, ALIM_GPT_LN1W, ALIM_GPT_LN1B, ALIM_GPT_QKVW, ALIM_GPT_QKVB,
    ALIM_GPT_ATTPROJW, ALIM_GPT_ATTPROJB, ALIM_GPT_LN2W, ALIM_GPT_LN2B, ALIM_GPT_FCW,
    ALIM_GPT_FCB, ALIM_GPT_FCPROJW, ALIM_GPT_FCPROJB, ALIM_GPT_LNFW, ALIM_GPT_LNFB,
    ALIM_GPT_NUM_TENSORS
};

/* The Llama family's parameter tensors, in checkpoint order. BQ/BK/BV exist only with
 * qkv_bias, LM_HEAD only without tie_word_embeddings: a model's tensor index t (the
 * argument of alim_gpt_tensor_info and friends) counts the tensors it has. */
enum {
    ALIM_LLAMA_WTE, ALIM_LLAMA_ATTN_NORM, ALIM_LLAMA_WQ, ALIM_LLAMA_BQ, ALIM_LLAMA_WK,
    ALIM_LLAMA_BK, ALIM_LLAMA_WV, ALIM_LLAMA_BV, ALIM_LLAMA_WO, ALIM_LLAMA_MLP_NORM,
    ALIM_LLAMA_WGATE, ALIM_LLAMA_WUP, ALIM_LLAMA_WDOWN, ALIM_LLAMA_NORM, ALIM_LLAMA_LM_HEAD,
    ALIM_LLAMA_NUM_TENSORS
};
enum { ALIM_GPT_MAX_TENSORS = 16 };

/* The precision of the model's matrix products.
 * FP32: every product in fp32 through CBLAS (the default; bit for bit what alim always did).
 * BF16: the products of every linear layer and of the output layer, forward and backward
 *   (weights, d inputs and d weights), take their two inputs rounded to bfloat16 (round to
 *   nearest even) and accumulate in fp32, through oneDNN's matmul on the CPU's bf16 units
 *   (AMX or AVX512-BF16) — what torch.autocast("cpu", torch.bfloat16) does to nn.Linear.
 *   The weights are rounded once after each change of the parameters (a bf16 copy kept
 *   beside the fp32 master weights), activations and gradients once per product.
 *   Everything else stays fp32: embeddings, norms, attention's per-head products and
 *   softmax, the loss, the residual stream, gradients and the optimizer.
 * AUTO: BF16 where the CPU has native bf16 dot products (alim_bf16_native), else FP32.
 * A run is deterministic for a given precision, thread count and ISA (oneDNN picks its
 * kernels by ISA, so bf16 bits may differ between CPUs; fp32 bits depend on the threads). */
typedef enum { ALIM_PRECISION_FP32 = 0, ALIM_PRECISION_BF16 = 1, ALIM_PRECISION_AUTO = 2 } alim_precision;

/* "fp32", "bf16", "auto" */
const char *alim_precision_name(alim_precision p);
/* parses "fp32", "bf16" or "auto"; ALIM_EINVAL naming `where` (e.g. "--precision") otherwise */
alim_status alim_precision_parse(const char *s, alim_precision *p, const char *where, alim_error *err);
/* AUTO -> BF16 or FP32 for this CPU; FP32 and BF16 unchanged */
alim_precision alim_precision_resolve(alim_precision p);
/* want resolved (AUTO -> BF16 or FP32) into *out, checking that BF16 products can run here:
 * ALIM_EINVAL (where = "precision") if alim was built without oneDNN or oneDNN has no bf16
 * matmul for this CPU. What an experiment calls once before it builds its models. */
alim_status alim_precision_select(alim_precision want, alim_precision *out, alim_error *err);
/* 1 if alim was built with oneDNN and this CPU has native bf16 dot products (AMX-BF16 or
 * AVX512-BF16), checked at run time */
int alim_bf16_native(void);
/* the ISA oneDNN's bf16 products run on here ("avx512_core_amx", "avx512_core_bf16", ...),
 * or "none" without oneDNN */
const char *alim_bf16_isa(void);

/* Llama parameters; Dq = NH hs, Dkv = NKV hs, I = n_inner. Absent tensors are NULL. */
typedef struct {
    float *wte;       /* (V,C)        model.embed_tokens.weight                    */
    float *attn_norm; /* (L,C)        input_layernorm.weight                       */
    float *wq;        /* (L,Dq,C)     self_attn.q_proj.weight                      */
    float *bq;        /* (L,Dq)                                                    */
    float *wk;        /* (L,Dkv,C)                                                 */
    float *bk;        /* (L,Dkv)                                                   */
    float *wv;        /* (L,Dkv,C)                                                 */
    float *bv;        /* (L,Dkv)                                                   */
    float *wo;        /* (L,C,Dq)     self_attn.o_proj.weight                      */
    float *mlp_norm;  /* (L,C)        post_attention_layernorm.weight              */
    float *wgate;     /* (L,I,C)      mlp.gate_proj.weight                         */
    float *wup;       /* (L,I,C)      mlp.up_proj.weight                           */
    float *wdown;     /* (L,C,I)      mlp.down_proj.weight                         */
    float *norm;      /* (C)          model.norm.weight                            */
    float *lm_head;   /* (V,C)        lm_head.weight; NULL when tied               */
} alim_llama_tensors;

/* Llama activations of the last forward pass; ld = Dq + 2 Dkv. */
typedef struct {
    float *encoded;   /* (B,T,C)      */
    float *ln1;       /* (L,B,T,C)    rmsnorm(x) before attention */
    float *ln1_rstd;  /* (L,B,T)      */
    float *qkv;       /* (L,B,T,ld)   q | k | v heads, q and k after the rotation */
    float *atty;      /* (L,B,T,Dq)   */
    float *att;       /* (L,B,NH,T,T) softmax weights */
    float *residual2; /* (L,B,T,C)    */
    float *ln2;       /* (L,B,T,C)    */
    float *ln2_rstd;  /* (L,B,T)      */
    float *gate;      /* (L,B,T,I)    before silu */
    float *up;        /* (L,B,T,I)    */
    float *hid;       /* (L,B,T,I)    silu(gate) * up */
    float *residual3; /* (L,B,T,C)    */
    float *lnf;       /* (B,T,C)      */
    float *lnf_rstd;  /* (B,T)        */
    float *logits;    /* (B,T,V)      after backward: d loss / d logits */
    float *losses;    /* (B,T)        */
    float *lse;       /* (B,T)        */
    float *rope_cos;  /* (T,hs/2)     */
    float *rope_sin;  /* (T,hs/2)     */
} alim_llama_acts;

typedef struct {
    float *wte;      /* (V,C)      token embedding, also the output projection */
    float *wpe;      /* (maxT,C)   position embedding                          */
    float *ln1w;     /* (L,C)                                                  */
    float *ln1b;     /* (L,C)                                                  */
    float *qkvw;     /* (L,C,3C)   c_attn.weight, columns q | k | v            */
    float *qkvb;     /* (L,3C)                                                 */
    float *attprojw; /* (L,C,C)    attn.c_proj.weight                          */
    float *attprojb; /* (L,C)                                                  */
    float *ln2w;     /* (L,C)                                                  */
    float *ln2b;     /* (L,C)                                                  */
    float *fcw;      /* (L,C,4C)   mlp.c_fc.weight                             */
    float *fcb;      /* (L,4C)                                                 */
    float *fcprojw;  /* (L,4C,C)   mlp.c_proj.weight                           */
    float *fcprojb;  /* (L,C)                                                  */
    float *lnfw;     /* (C)                                                    */
    float *lnfb;     /* (C)                                                    */
} alim_gpt_tensors;

/* Activations of the last forward pass, for batch B and length T (views into one block). */
typedef struct {
    float *encoded;   /* (B,T,C)      */
    float *ln1;       /* (L,B,T,C)    */
    float *ln1_mean;  /* (L,B,T)      */
    float *ln1_rstd;  /* (L,B,T)      */
    float *qkv;       /* (L,B,T,3C)   */
    float *atty;      /* (L,B,T,C)    */
    float *att;       /* (L,B,NH,T,T) softmax weights (upper triangle unused) */
    float *attproj;   /* (L,B,T,C)    */
    float *residual2; /* (L,B,T,C)    */
    float *ln2;       /* (L,B,T,C)    */
    float *ln2_mean;  /* (L,B,T)      */
    float *ln2_rstd;  /* (L,B,T)      */
    float *fch;       /* (L,B,T,4C)   */
    float *fch_gelu;  /* (L,B,T,4C)   */
    float *fcproj;    /* (L,B,T,C)    */
    float *residual3; /* (L,B,T,C)    */
    float *lnf;       /* (B,T,C)      */
    float *lnf_mean;  /* (B,T)        */
    float *lnf_rstd;  /* (B,T)        */
    float *logits;    /* (B,T,V)      after backward: d loss / d logits   */
    float *losses;    /* (B,T)        -log p(target), 0 where not counted */
    float *lse;       /* (B,T)        log sum exp of each logits row (with targets) */
} alim_gpt_acts;

typedef struct {
    alim_gpt_config config;
    size_t num_params;
    int n_tensors;              /* tensors this model has (16 for GPT-2)             */
    int tensor_id[ALIM_GPT_MAX_TENSORS];      /* ALIM_GPT_* or ALIM_LLAMA_* of each   */
    size_t tensor_size[ALIM_GPT_MAX_TENSORS]; /* elements of each tensor (by index t) */
    float *params;              /* num_params floats, owned                          */
    alim_gpt_tensors p;         /* views into params (GPT-2)                         */
    alim_llama_tensors lp;      /* views into params (Llama)                         */
    float *grads;               /* num_params floats, owned; NULL until first backward */
    alim_gpt_tensors g;         /* views into grads (GPT-2)                          */
    alim_llama_tensors lg;      /* views into grads (Llama)                          */
    float *rope_inv_freq;       /* (hs/2) Llama rotary frequencies, owned            */
    float *acts_memory;         /* owned                                             */
    size_t acts_capacity;       /* floats allocated                                  */
    alim_gpt_acts a;            /* views for the current (B,T) (GPT-2)               */
    alim_llama_acts la;         /* views for the current (B,T) (Llama)               */
    float *grad_acts_memory;    /* owned, scratch for backward                       */
    size_t grad_acts_capacity;
    int B, T;                   /* shape of the last forward                         */
    int acts_layers;            /* blocks whose activations the last forward kept: L, or
                                   1 after alim_gpt_forward_inference (no backward then) */
    const int32_t *inputs;      /* (B,T) of the last forward (borrowed)             */
    const int32_t *targets;     /* (B,T) or NULL (borrowed); -1 = not counted        */
    double loss_sum;            /* sum of -log p over counted targets (nats)         */
    size_t loss_count;          /* number of counted targets                         */
    float mean_loss;            /* loss_sum / loss_count, or -1 without targets      */
    alim_precision precision;   /* FP32 or BF16 (alim_gpt_set_precision); never AUTO  */
    uint16_t *params_bf16;      /* BF16: the parameters rounded to bf16, owned        */
    uint64_t params_version;    /* bumped by every change of params (alim_gpt_params_changed) */
    uint64_t bf16_version;      /* params_version that params_bf16 was made from      */
    int bf16_failed;            /* set by a bf16 product oneDNN could not run (internal) */
} alim_gpt;

/* Checks a configuration; the error names the offending field. */
alim_status alim_gpt_config_check(const alim_gpt_config *cfg, alim_error *err);

/* Allocates the parameters of a model (zeroed; fill them with alim_gpt_init_params or a
 * checkpoint). Free with alim_gpt_free. */
alim_status alim_gpt_create(alim_gpt *m, const alim_gpt_config *cfg, alim_error *err);
void alim_gpt_free(alim_gpt *m);

/* Sets the precision of the model's products (AUTO is resolved here). BF16 allocates the
 * bf16 copy of the weights and checks that oneDNN can run a bf16 product on this CPU:
 * ALIM_EINVAL (where = "precision") if alim was built without oneDNN or oneDNN has no bf16
 * matmul for this CPU, ALIM_ENOMEM. FP32 frees the copy. */
alim_status alim_gpt_set_precision(alim_gpt *m, alim_precision p, alim_error *err);

/* Tells the model that m->params were written from outside alim's own functions (the
 * loaders, alim_gpt_init_params and the trainer say it themselves): the bf16 copy is made
 * again before the next pass. Without it a BF16 model would run on the old weights. */
void alim_gpt_params_changed(alim_gpt *m);

/* GPT-2 initialisation: weights N(0, 0.02), residual output projections N(0, 0.02/sqrt(2L)),
 * biases 0, LayerNorm gains 1. Deterministic for a seed (alim_rng stream 0x67707432). */
void alim_gpt_init_params(alim_gpt *m, uint64_t seed);

/* Name and shape of parameter tensor `t` (0 <= t < m->n_tensors) of block `layer` in the
 * Hugging Face naming ("h.3.attn.c_attn.weight", "model.layers.3.self_attn.q_proj.weight");
 * for the non-block tensors layer is ignored. Returns the number of dimensions (1 or 2)
 * and fills shape[0..ndim) (PyTorch order). `name` gets at most name_size bytes. */
int alim_gpt_tensor_info(const alim_gpt *m, int t, int layer, char *name, size_t name_size,
                         int64_t shape[2]);
/* ALIM_OK if every parameter is finite; otherwise ALIM_EFORMAT (where = `where`, e.g. the
 * file) naming the first tensor holding a NaN or an infinity. */
alim_status alim_gpt_check_finite(const alim_gpt *m, const char *where, alim_error *err);
/* Pointer to the slice of tensor `t` for block `layer` inside `base` (params or grads),
 * and its element count in *n. */
float *alim_gpt_tensor_slice(const alim_gpt *m, float *base, int t, int layer, size_t *n);
/* 1 if tensor `t` of m is a block tensor (stacked over layers). */
int alim_gpt_tensor_is_per_layer(const alim_gpt *m, int t);
/* The GGUF name of tensor `t` of block `layer` ("blk.3.attn_q.weight"); Llama only
 * (returns 0 for GPT-2, 1 otherwise). */
int alim_gpt_tensor_gguf_name(const alim_gpt *m, int t, int layer, char *name, size_t name_size);

/* Forward pass on inputs (B,T) of token ids in [0,V), T <= n_positions. With targets
 * (B,T) (ids in [0,V) or -1 for "not counted") also computes the cross-entropy: loss_sum,
 * loss_count and mean_loss. The model keeps pointers to inputs and targets for backward;
 * they must stay valid until then. Errors: a token id out of range (where = "input" or
 * "target"), T too long, out of memory. */
alim_status alim_gpt_forward(alim_gpt *m, const int32_t *inputs, const int32_t *targets, int B,
                             int T, alim_error *err);

/* alim_gpt_forward for scoring only: the same logits, losses and results, but the blocks'
 * activations share one block's worth of memory (each block overwrites the previous one),
 * so a long context costs L times less. No backward pass and no cache prefill can follow. */
alim_status alim_gpt_forward_inference(alim_gpt *m, const int32_t *inputs, const int32_t *targets,
                                       int B, int T, alim_error *err);

/* Sets every gradient to 0 (allocating the gradient buffer on first use). */
alim_status alim_gpt_zero_grad(alim_gpt *m, alim_error *err);

/* Backward pass of the last forward (which needs targets): ADDS d(loss_scale * loss_sum /
 * loss_count)/d(params) to the gradients, so micro-batches accumulate (pass 1/k for k of
 * them). Overwrites a.logits with d loss/d logits. */
alim_status alim_gpt_backward(alim_gpt *m, float loss_scale, alim_error *err);

/* alim_gpt_forward followed by alim_gpt_backward, in one call and with the same results
 * bit for bit, faster: d logits is made while each logits row is in cache, and with
 * data-parallel shards each thread goes from its forward pass into its backward pass
 * without waiting for the others. a.logits holds d loss/d logits afterwards. */
alim_status alim_gpt_forward_backward(alim_gpt *m, const int32_t *inputs, const int32_t *targets,
                                      int B, int T, float loss_scale, alim_error *err);

/* How alim_gpt_forward and alim_gpt_backward share a (B,T) batch between the current
 * OpenMP threads: 1 = every operation is split between them; S > 1 = data parallel, each
 * of S threads runs the whole pass on its B/S sequences, with its own gradient buffer
 * summed into the gradients at the end (in a fixed order: results repeat for a given
 * thread count). Chosen when the S-1 extra gradient copies are at most 1/8 of the
 * activations (small models); the environment variable ALIM_LM_NO_SHARDS turns it off. */
int alim_gpt_shard_count(const alim_gpt *m, int B, int T);

/* Per-position log-probabilities: writes log softmax of logits row (b,t) to out[0..V). */
void alim_gpt_log_softmax_row(const alim_gpt *m, int b, int t, float *out);

/* ---- incremental decoding with a key/value cache -------------------------------------
 *
 * alim_gpt_forward on a prefix of t tokens costs O(t) token-forwards (and O(t^2)
 * attention), so generating T tokens that way costs O(T^2). The cache keeps, for every
 * layer, row and head, the keys and values of the positions seen so far; one step then
 * feeds one new token per row, attends over the cached positions and costs one
 * token-forward. The math is alim_gpt_forward's (pre-LN, tanh-GELU, tied output; the same
 * layer kernels, the attention sums in the same order; products through the same sgemm
 * helper, sgemv for a single row), so the log-probabilities agree with alim_gpt_forward +
 * alim_gpt_log_softmax_row to fp32 rounding: tested to 1e-5 (observed <= 5e-6), not bit
 * for bit, because OpenBLAS rounds a row of a product differently depending on how many
 * rows the product has (B here, B*T there; also on the thread split of large products).
 * For a given B and thread count a step is bit-for-bit repeatable.
 *
 * All B rows share the position c->t: a row whose document has ended keeps being fed a
 * filler token (its outputs are then ignored); rows never see each other.
 * Life cycle: create (once per model, batch size and maximal length), then prefill or
 * step, step, ...; reset to start new sequences; free. The cache holds a copy of the model
 * configuration and refuses a model of another shape, but it does not own the model;
 * changing the parameters invalidates the cached keys and values (reset). */
typedef struct {
    alim_gpt_config config; /* of the model the cache was made for                       */
    int B;                  /* rows (sequences) in use, <= B_cap                           */
    int B_cap;              /* rows allocated                                              */
    int T_max;              /* positions allocated, <= n_positions                         */
    int t;                  /* positions filled: the next token goes to position t         */
    /* Keys are stored transposed per head so that the scores q . k_j of one query over all
     * positions j run along contiguous memory (vectorised over j), values in position order
     * so that sum_j s_j v_j runs along contiguous rows: */
    float *k;               /* (L, B_cap, NH, HS, T_max)                                   */
    float *v;               /* (L, B_cap, NH, T_max, HS)                                   */
    float *logits;          /* (B_cap, V) after a step: logits of the next token of each row */
    float *work;            /* scratch of one step (residual, LayerNorm, qkv, MLP, scores)  */
} alim_gpt_cache;

/* Allocates a cache for B rows of up to T_max positions (1 <= T_max <= n_positions).
 * Memory: 2 * L * B * T_max * C floats plus O(B * (V + 4C + NH * T_max)) scratch.
 * Errors: ALIM_EINVAL for B < 1 or T_max outside [1, n_positions], ALIM_ENOMEM. */
alim_status alim_gpt_cache_create(const alim_gpt *m, int B, int T_max, alim_gpt_cache **out,
                                  alim_error *err);
/* Empties the cache (t = 0) and restores B to the allocated number of rows. */
void alim_gpt_cache_reset(alim_gpt_cache *c);
/* Frees the cache (NULL is fine). */
void alim_gpt_cache_free(alim_gpt_cache *c);

/* Appends tokens[b] (b < c->B) at position c->t of every row and computes the next-token
 * distribution: c->logits (B,V) and, when logprobs is not NULL, logprobs (B,V) = log
 * softmax of each logits row, as alim_gpt_log_softmax_row computes it. Then c->t += 1.
 * Errors (the cache is left unchanged): the cache is full (c->t == T_max; where =
 * "cache"), a token out of [0,V) (where = "input"), a model of another shape than the
 * cache's. */
alim_status alim_gpt_forward_step(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens,
                                  float *logprobs, alim_error *err);

/* Fills an empty cache (c->t == 0) with T0 tokens per row, tokens (B,T0) row-major, using
 * one alim_gpt_forward (so prompts cost one batched pass; the model's activations are
 * overwritten), and computes the distribution after the last token exactly as
 * alim_gpt_forward_step does (c->logits, logprobs (B,V) or NULL). c->t = T0 after. */
alim_status alim_gpt_cache_prefill(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens, int T0,
                                   float *logprobs, alim_error *err);

/* Keeps rows keep[0..n) (strictly increasing, < c->B) of the cache as rows 0..n-1 and sets
 * c->B = n, so that later steps skip the rows of finished sequences. Cost: one copy of
 * the kept rows' keys and values. Errors: keep not increasing or out of range. */
alim_status alim_gpt_cache_keep_rows(alim_gpt_cache *c, const int *keep, int n, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
