/* kernels.h — the transformer engine's private kernels, shared by every architecture's
 * graph (src/lm/gpt2.c, src/lm/llama.c) and the key/value cache. Not installed: the
 * public interface is alim/gpt.h.
 *
 * lm_gemm / lm_gemm_epi is the one matrix-product interface every layer calls: a CBLAS
 * sgemm split into row or column blocks over the OpenMP threads, never splitting the K
 * reduction, so that results do not depend on timing. Everything here is deterministic
 * for a given thread count. Compiled with -O3 and no-trapping-math (see the pragma in each
 * .c file) but never -ffast-math.
 */
#ifndef ALIM_LM_KERNELS_H
#define ALIM_LM_KERNELS_H

#include <cblas.h>

#include "alim/gpt.h"
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline size_t lm_zmin(size_t a, size_t b) { return a < b ? a : b; }

enum { COLBLOCK = 32, GEMM_CHUNKS = 2 };

/* Elementwise and row loops touching fewer floats than this run on one thread: OpenMP's
 * fork/join costs more than it saves there (a decoding step of one sequence has a few
 * dozen such loops of C floats), and on a loaded machine each parallel region can wait a
 * whole scheduler slice for the second thread. */
enum { PAR_MIN = 1 << 14 };

enum { ELEM_CHUNK = 4096 };

static inline void lm_add_vectors(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* Causal attention skips the products of the upper triangle: rows are taken in blocks of
 * ATT_BLOCK, and block r only meets keys 0 .. end of block r (the wasted part is then the
 * upper triangles of the diagonal blocks only). */
enum { ATT_BLOCK = 64 };

/* What matmul_forward does around a product, done block by block inside the product's
 * parallel loop while the block is in cache, instead of in separate passes over the whole
 * output (each an extra OpenMP fork/join and a trip through L2/L3): the bias broadcast
 * before it, and GELU or the residual addition after it. The same operations on the same
 * values as the separate passes, so the same bits. */
typedef struct {
    const float *bias;   // (N): C := bias in every row before the product (then beta is 1), or NULL
    float *gelu_out;     // (M,N), stride ldc: gelu(C) after the product, or NULL
    float *add_out;      // (M,N), stride ldc: add_in + C after the product, or NULL
    const float *add_in; // (M,N), stride ldc
} lm_gemm_epilogue;

/* exp(x) in float without library calls, so that loops over it vectorise: x is clamped to
 * [-87, 88], reduced to r = x - k ln2 with |r| <= ln2/2, exp(r) by its degree-7 Taylor
 * polynomial (truncation < 1e-8 relative), times 2^k built in the exponent bits.
 * Accurate to about 2 ulp; no -ffast-math needed (the rounding trick relies on the default
 * round-to-nearest mode). exp_fast(NaN) is NaN. */
static inline float lm_exp_fast(float x)
{
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    float kf = x * 1.44269504088896341f + 12582912.0f;
    kf -= 12582912.0f;
    float r = x - kf * 0.693145751953125f;
    r -= kf * 1.428606765330187e-06f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* NaN in, NaN out (through p) without converting a NaN to an integer, which C leaves
     * undefined: the exponent of a NaN input is taken as 0. A select, so the loops still
     * vectorise; finite inputs are unaffected. */
    const float kq = kf == kf ? kf : 0.0f;
    int32_t bits = ((int32_t)kq + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* Elementwise kernels are compiled for AVX-512, AVX2+FMA and baseline x86-64 and picked at
 * load time (the binary still runs on CPUs without AVX-512). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define LM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LM_CLONES
#endif

/* ---- reductions and elementwise passes (kernels.c) ---------------------------------- */
/* dst[c] += sum_n src[n*ld + c] for c < C, in a fixed order (double accumulators) */
void lm_colsum_add(float *dst, const float *src, size_t N, size_t C, size_t ld);
/* log(sum_v exp(row[v])) over V entries, in 8 fixed lanes */
float lm_logsumexp_row(const float *row, int V);
/* tanh-approximation GELU ("gelu_new") and its backward d := d * gelu'(inp) */
void lm_gelu_forward_chunk(float *out, const float *inp, size_t n);
void lm_gelu_backward_chunk(float *d, const float *inp, size_t n);
void lm_gelu_forward(float *out, const float *inp, size_t N);
void lm_gelu_backward_inplace(float *d, const float *inp, size_t N);
/* out = a + b over N floats */
void lm_residual_forward(float *out, const float *a, const float *b, size_t N);
/* row (V) := k * (softmax(row) - onehot(target)), given the row's log-sum-exp */
void lm_dlogits_row(float *row, int V, float lse, int target, float k);
/* The loss of rows [r0, r0+N) of logits (.,V): lse[i], losses[i] = lse - logit of the
 * target (0 where targets[i] < 0; nothing without targets); with dlogits also turns each
 * row into d loss / d logits with scale k (zero rows where there is no target). */
void lm_loss_rows(float *logits, float *losses, float *lse, const int32_t *targets, size_t r0,
                  size_t N, int V, int dlogits, float k);
/* rows [r0, r0+N) of logits := d loss / d logits from the forward pass's lse */
void lm_dlogits_rows(float *logits, const float *lse, const int32_t *targets, size_t r0, size_t N,
                     int V, float k);
/* out (V) = log softmax of row (V): max, sum of exp in double, one rounding of the lse */
void lm_log_softmax_vec(float *out, const float *row, int V);
/* logprobs (B,V) = log softmax of each logits row (B,V) */
void lm_step_logprobs(float *logprobs, const float *logits, int B, int V);

/* ---- the matrix product (kernels.c) ------------------------------------------------- */
/* C (M,N) = alpha op(A) (M,K) @ op(B) (K,N) + beta C, row-major, blocks over the OpenMP
 * threads; e (or NULL) adds work before and after each block (lm_gemm_epilogue). */
void lm_gemm_epi(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                 const lm_gemm_epilogue *e);
void lm_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* The precision of one pass's products (from alim_gpt, lm_model_prec): base_h NULL = fp32,
 * every product through lm_gemm_epi exactly as before; else bf16 (gemm_bf16.h), with the
 * weights read from the bf16 copy base_h of the parameters base (a weight W inside base is
 * base_h + (W - base) there). A bf16 product that oneDNN fails to run sets *failed and
 * leaves its output undefined; the pass then returns an error (nothing is mixed silently). */
typedef struct {
    const float *base;
    const uint16_t *base_h;
    int *failed;
} lm_prec;
/* m's precision for the kernels (precision.c): fp32, or bf16 with the bf16 copy of the
 * parameters (made current by the pass's entry point, lm_model_sync_bf16 in model.h) */
lm_prec lm_model_prec(alim_gpt *m);
/* C = alpha op(A) @ op(W) + beta C where W (the B operand) is a weight inside pr->base */
void lm_gemm_w(const lm_prec *pr, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
               float alpha, const float *A, int lda, const float *W, int ldw, float beta, float *C,
               int ldc, const lm_gemm_epilogue *e);
/* C = alpha op(A) @ op(B) + beta C of two activations (the weight gradients) */
void lm_gemm_x(const lm_prec *pr, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
               float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C,
               int ldc);
/* Every sgemm runs inside an OpenMP loop and must not start OpenBLAS's own threads: a
 * pass sets OpenBLAS to one thread on entry (returning the caller's setting) and restores
 * it on exit. */
int lm_blas_threads_begin(void);
void lm_blas_threads_end(int n);

/* ---- embeddings (kernels.c) --------------------------------------------------------- */
/* out (B,T,C) = wte[inp] + wpe[t] (wpe may be NULL: no position embedding) */
void lm_encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe,
                        int B, int T, int C);
/* dwte (V,C) += and dwpe (maxT,C) += (dwpe may be NULL) the rows of dout (B,T,C) */
void lm_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp,
                         int B, int T, int C);

/* ---- softmax rows of causal attention (kernels.c) ----------------------------------- */
void lm_softmax_prefix_row(float *row, int n);             /* row[0..n) := softmax      */
void lm_softmax_causal_rows(float *s, int T);              /* s (T,T), zero above diag  */
void lm_softmax_backward_rows(float *ds, const float *s, int T);

/* ---- causal self-attention with grouped key/value heads (attention.c) -------------- */
/* Rows of qkv (B,T,ld) hold NH query heads, then NKV key heads, then NKV value heads, hs
 * floats each (ld = (NH + 2 NKV) hs; GPT-2's packed q|k|v is NKV = NH). Query head h reads
 * key/value head h / (NH / NKV). out (B,T,NH hs); att (B,NH,T,T) the softmax weights;
 * tbuf (threads, hs, T) scratch for small heads. */
void lm_attention_forward(float *out, float *att, float *tbuf, const float *qkv, int B, int T,
                          int NH, int NKV, int hs);
/* dqkv (B,T,ld) written (not accumulated); scratch (threads,T,T); dout (B,T,NH hs) */
void lm_attention_backward(float *dqkv, float *scratch, float *tbuf, const float *dout,
                           const float *qkv, const float *att, int B, int T, int NH, int NKV,
                           int hs);
/* One decoding step of one row: y (NH hs) from the query q (NH hs) against n cached
 * positions, keys transposed kt (NKV,hs,T_max), values v (NKV,T_max,hs), scores s
 * (NH,T_max); rep = NH / NKV. The sums run in the order of lm_attention_forward. */
typedef void (*lm_attention_step_row_fn)(float *y, float *s, const float *q, const float *kt,
                                         const float *v, int n, int T_max, int NH, int rep,
                                         int hs, float scale);
lm_attention_step_row_fn lm_attention_step_row_pick(void);
/* 1 if attention on heads of size hs takes the small-head kernels (hs = 8 or 16, unless
 * ALIM_ATT_SGEMM is set): the forward then needs its tbuf scratch */
int lm_attention_small_head(int hs);

#endif
