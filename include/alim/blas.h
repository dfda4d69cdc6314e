/* alim/blas.h — which BLAS kernel runs, and which one should.
 *
 * Debian 12's OpenBLAS 0.3.21 does not know recent CPUs and falls back to its SSE3
 * "Prescott" kernels, 3-5x slower for sgemm. OpenBLAS reads OPENBLAS_CORETYPE once, when
 * the library is loaded, so the choice has to be made before the process starts: the
 * `alim` program checks the CPU, sets the variable if the user has not, and re-executes
 * itself (see cli/alim.c). A program embedding the library can do the same with
 * alim_blas_recommended_coretype(). We never override a value the user already set.
 */
#ifndef ALIM_BLAS_H
#define ALIM_BLAS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int sse3, avx, avx2, fma;
    int avx512f, avx512cd, avx512bw, avx512dq, avx512vl, avx512_bf16;
} alim_cpu_features;

/* Reads the CPU's feature flags (cpuid through the compiler's builtins). */
void alim_cpu_detect(alim_cpu_features *f);

/* The OPENBLAS_CORETYPE that is safe and fast on this CPU: "SkylakeX" when AVX-512
 * F/CD/BW/DQ/VL are all present, "Haswell" when AVX2 and FMA are, else NULL (let
 * OpenBLAS detect). */
const char *alim_blas_recommended_coretype(const alim_cpu_features *f);

/* The kernel OpenBLAS loaded ("SkylakeX", "Haswell", "Prescott", ...), its build
 * configuration string and its thread count. */
const char *alim_blas_corename(void);
const char *alim_blas_config(void);
int alim_blas_threads(void);

#ifdef __cplusplus
}
#endif
#endif
