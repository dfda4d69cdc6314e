/* gemm_prec.c — the matrix products of the layers in the model's precision (lm_prec in
 * kernels.h): fp32 through lm_gemm_epi (CBLAS, bit for bit as before bf16 existed), or bf16
 * inputs with fp32 accumulation through oneDNN (gemm_bf16.c).
 *
 * Kept apart from kernels.c so that the fp32 kernels' object code does not change with the
 * bf16 path. In bf16, a weight's bf16 copy is found by its offset in the parameters; the
 * activations are rounded by lm_gemm_bf16 itself, product by product.
 */
#include <stdlib.h>
#include <string.h>

#include "gemm_bf16.h"
#include "kernels.h"

/* A few rows against a bf16 weight: the decoding step's products (one row per sequence).
 * oneDNN's matmul costs a primitive lookup and a parallel region per call, which for M = 1
 * on a small model is most of the step (measured: a 2x64 GPT-2 decoded 5000 tokens in 14 s
 * through oneDNN against 0.14 s in fp32). The same arithmetic here: the row rounded to bf16,
 * every product of two bf16 numbers exact in fp32, summed in fp32 in a fixed order (per
 * output element: lanes of 16 over K, then the lanes in a fixed tree — NoTrans: k in order),
 * so the bits do not depend on the thread count; parallel over the columns only. */
enum { SMALL_M = 4, SMALL_K_MAX = 1 << 16 };

static inline float bf16_to_f32(lm_bf16 h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* y[n] = sum_k x[k] W[n,k]: W (N,K) row-major bf16 (op = transpose), x already rounded */
LM_CLONES static float dot_bf16(const float *x, const lm_bf16 *w, int K)
{
    float lane[16] = {0};
    int k = 0;
    for (; k + 16 <= K; k += 16)
        for (int j = 0; j < 16; j++) lane[j] += x[k + j] * bf16_to_f32(w[k + j]);
    for (int j = 0; k + j < K; j++) lane[j] += x[k + j] * bf16_to_f32(w[k + j]);
    for (int h = 8; h >= 1; h /= 2)
        for (int j = 0; j < h; j++) lane[j] += lane[j + h];
    return lane[0];
}

/* y[n0..n1) += x[k] W[k, n0..n1) for k in order: W (K,N) row-major bf16, x rounded */
LM_CLONES static void axpy_rows_bf16(float *y, const float *x, const lm_bf16 *w, int ldw, int K, int n0, int n1)
{
    for (int k = 0; k < K; k++) {
        const float a = x[k];
        const lm_bf16 *wr = w + (size_t)k * ldw;
        for (int n = n0; n < n1; n++) y[n] += a * bf16_to_f32(wr[n]);
    }
}

static int small_bf16(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha, const float *A,
                      int lda, const lm_bf16 *Wh, int ldw, float beta, float *C, int ldc, const lm_gemm_epilogue *e)
{
    if (M > SMALL_M || K > SMALL_K_MAX || ta != CblasNoTrans || alpha != 1.0f) return 0;
    if (!(beta == 0.0f || (beta == 1.0f && e && e->bias))) return 0;
    float *x = malloc((size_t)M * K * sizeof(float));
    lm_bf16 *xh = malloc((size_t)M * K * sizeof(lm_bf16));
    float *acc = tb == CblasNoTrans ? calloc((size_t)M * N, sizeof(float)) : NULL;
    if (!x || !xh || (tb == CblasNoTrans && !acc)) {
        free(x), free(xh), free(acc);
        return 0;
    }
    for (int m = 0; m < M; m++) {
        lm_f32_to_bf16(xh + (size_t)m * K, A + (size_t)m * lda, (size_t)K);
        for (int k = 0; k < K; k++) x[(size_t)m * K + k] = bf16_to_f32(xh[(size_t)m * K + k]);
    }
    const int par = (size_t)N * K >= (size_t)1 << 18;
    if (tb == CblasTrans) {
#pragma omp parallel for schedule(static) if (par)
        for (int n = 0; n < N; n++)
            for (int m = 0; m < M; m++) {
                const float d = dot_bf16(x + (size_t)m * K, Wh + (size_t)n * ldw, K);
                C[(size_t)m * ldc + n] = e && e->bias ? e->bias[n] + d : d;
            }
    } else {
        enum { NB = 256 };
        const int nblocks = (N + NB - 1) / NB;
#pragma omp parallel for schedule(static) if (par)
        for (int b = 0; b < nblocks; b++) {
            const int n0 = b * NB, n1 = n0 + NB < N ? n0 + NB : N;
            for (int m = 0; m < M; m++) {
                float *y = acc + (size_t)m * N;
                axpy_rows_bf16(y, x + (size_t)m * K, Wh, ldw, K, n0, n1);
                for (int n = n0; n < n1; n++) C[(size_t)m * ldc + n] = e && e->bias ? e->bias[n] + y[n] : y[n];
            }
        }
    }
    if (e && (e->gelu_out || e->add_out))
        for (int m = 0; m < M; m++) {
            const size_t o = (size_t)m * ldc;
            if (e->gelu_out) lm_gelu_forward_chunk(e->gelu_out + o, C + o, (size_t)N);
            if (e->add_out) lm_add_vectors(e->add_out + o, e->add_in + o, C + o, (size_t)N);
        }
    free(x), free(xh), free(acc);
    return 1;
}

static void mark_failed(const lm_prec *pr)
{
    if (pr->failed) __atomic_store_n(pr->failed, 1, __ATOMIC_RELAXED);
}

void lm_gemm_w(const lm_prec *pr, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
               float alpha, const float *A, int lda, const float *W, int ldw, float beta, float *C,
               int ldc, const lm_gemm_epilogue *e)
{
    if (!pr || !pr->base_h) {
        lm_gemm_epi(ta, tb, M, N, K, alpha, A, lda, W, ldw, beta, C, ldc, e);
        return;
    }
    const lm_bf16 *Wh = pr->base_h + (W - pr->base);
    if (small_bf16(ta, tb, M, N, K, alpha, A, lda, Wh, ldw, beta, C, ldc, e)) return;
    if (lm_gemm_bf16(ta, tb, M, N, K, alpha, A, NULL, lda, NULL, Wh, ldw, beta, C, ldc, e)) mark_failed(pr);
}

void lm_gemm_x(const lm_prec *pr, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
               float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C,
               int ldc)
{
    if (!pr || !pr->base_h) {
        lm_gemm_epi(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
        return;
    }
    if (lm_gemm_bf16(ta, tb, M, N, K, alpha, A, NULL, lda, B, NULL, ldb, beta, C, ldc, NULL)) mark_failed(pr);
}
