/* gemm_bf16.h — the transformer engine's bf16 matrix product on the CPU's matrix units
 * (AVX512_BF16 dot products or AMX tiles) through oneDNN's matmul primitive. Private to
 * src/lm/, next to kernels.h; not installed.
 *
 * The product keeps fp32 everywhere except the two inputs, which are rounded to bfloat16
 * (8 bits of mantissa) before the dot products: the accumulation, alpha/beta, the bias and
 * the GELU/residual epilogue stay fp32, so a bf16 product is the fp32 product of the
 * rounded inputs up to the accumulation order (docs/lm.md, "bf16 kernel").
 *
 * Built without oneDNN (ALIM_HAVE_DNNL undefined) the module still compiles: there is no
 * native bf16 (lm_bf16_native() is 0, lm_bf16_isa() "none") and every product returns -1,
 * so that callers take the fp32 path (lm_gemm_epi). */
#ifndef ALIM_LM_GEMM_BF16_H
#define ALIM_LM_GEMM_BF16_H

#include "kernels.h" /* CBLAS_TRANSPOSE, lm_gemm_epilogue */

#include <stddef.h>
#include <stdint.h>

/* A bfloat16 number: the upper 16 bits of an IEEE binary32 (sign, 8 exponent bits, 7
 * mantissa bits). */
typedef uint16_t lm_bf16;

/* 1 if alim was built with oneDNN and the CPU has native bf16 dot products (AVX512_BF16 or
 * AMX-BF16 by cpuid, oneDNN dispatching to at least avx512_core_bf16 — ONEDNN_MAX_CPU_ISA
 * can lower that — and a probe bf16 matmul created), checked once; 0 otherwise.
 * Thread-safe. */
int lm_bf16_native(void);

/* What oneDNN's bf16 matmul runs on here, from the implementation a probe primitive got
 * (without its "brg:" prefix): "avx512_core_amx", "avx512_core_bf16", ...; "none" without
 * oneDNN or without native bf16. A static string. */
const char *lm_bf16_isa(void);

/* dst[i] = src[i] rounded to bfloat16, i < n: round to nearest, ties to even (the same bits
 * as torch's float -> bfloat16, c10::BFloat16): finite values too large round to +-inf,
 * denormals are rounded (not flushed), inf stays inf, every NaN becomes the quiet NaN
 * 0x7FC0. Vectorised; dst and src do not overlap. */
void lm_f32_to_bf16(lm_bf16 *dst, const float *src, size_t n);
/* dst[i] = src[i] widened to float (exact), i < n */
void lm_bf16_to_f32(float *dst, const lm_bf16 *src, size_t n);

/* C (M,N) = alpha op(A) (M,K) @ op(B) (K,N) + beta C, row-major like cblas_sgemm:
 * op(A) is A (M,K) stored with row stride lda (ta = CblasNoTrans) or A^T with A (K,M)
 * stored with row stride lda (CblasTrans); op(B) is B (K,N), row stride ldb, or B^T with B
 * (N,K), row stride ldb; C (M,N) has row stride ldc. The inputs are rounded to bf16, the
 * products accumulated in fp32 and C is fp32. A and B are given in fp32 (rounded here into
 * per-thread scratch laid out with the same strides) or already in bf16: Ah / Bh non-NULL
 * are used instead of A / B (which may then be NULL), with the same strides; either way the
 * same primitive runs on the same bf16 values, so the bits agree.
 *
 * e (or NULL): the epilogue of lm_gemm_epi (kernels.c), the same operations on the same
 * values: C := bias in every row before the product (the caller then passes beta 1), then
 * gelu_out := gelu(C) and add_out := add_in + C after it (fp32, after the bf16 product).
 *
 * Deterministic: the same bits for the same inputs, shapes, strides and OpenMP thread
 * count (the K reduction's order is fixed when the primitive is created for that thread
 * count). Safe to call from several threads at once and from inside an OpenMP parallel
 * region, where it runs on the calling thread only.
 *
 * Returns 0, or -1 when it did not compute the product: alim built without oneDNN, no
 * native bf16 (lm_bf16_native() 0), arguments out of range (a negative size, a stride
 * below the stored width), or oneDNN failed to create the primitive or memory for it. C is
 * untouched then, and the caller falls back to lm_gemm_epi. (C changes only once the
 * primitive, the memory objects and the scratch all exist: first the bias rows, then the
 * product; an error of the execution itself, which oneDNN does not report for valid
 * arguments with a user scratchpad, would also return -1 after the bias was written.) */
int lm_gemm_bf16(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                 const float *A, const lm_bf16 *Ah, int lda, const float *B, const lm_bf16 *Bh,
                 int ldb, float beta, float *C, int ldc, const lm_gemm_epilogue *e);

/* The same product in fp32 through oneDNN's fp32 matmul (no rounding of the inputs), with
 * the same caching and threading as lm_gemm_bf16: the benchmark's comparison with OpenBLAS
 * (bench/bench_bf16.sh). Needs oneDNN only, not native bf16. Returns 0, or -1 as above. */
int lm_gemm_dnnl_f32(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc, const lm_gemm_epilogue *e);

/* Frees the cached oneDNN primitives (and empties oneDNN's own primitive cache) that no
 * product is using at the moment; those in use are freed by their last user. The next
 * products create them again. Not called at exit (oneDNN's static objects may be gone by
 * then): the process's end frees them. The per-thread scratch goes with its thread. */
void lm_bf16_release(void);

#endif
