/* gemm_prec.c — the matrix products of the layers in the model's precision (lm_prec in
 * kernels.h): fp32 through lm_gemm_epi (CBLAS, bit for bit as before bf16 existed), or bf16
 * inputs with fp32 accumulation through oneDNN (gemm_bf16.c).
 *
 * Kept apart from kernels.c so that the fp32 kernels' object code does not change with the
 * bf16 path. In bf16, a weight's bf16 copy is found by its offset in the parameters; the
 * activations are rounded by lm_gemm_bf16 itself, product by product.
 */
#include "gemm_bf16.h"
#include "kernels.h"

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
