/* blas.c — CPU feature detection and the OpenBLAS kernel in use (see alim/blas.h). */
#include "alim/blas.h"

#include <cblas.h>
#include <stddef.h>

void alim_cpu_detect(alim_cpu_features *f)
{
    __builtin_cpu_init();
    f->sse3 = __builtin_cpu_supports("sse3");
    f->avx = __builtin_cpu_supports("avx");
    f->avx2 = __builtin_cpu_supports("avx2");
    f->fma = __builtin_cpu_supports("fma");
    f->avx512f = __builtin_cpu_supports("avx512f");
    f->avx512cd = __builtin_cpu_supports("avx512cd");
    f->avx512bw = __builtin_cpu_supports("avx512bw");
    f->avx512dq = __builtin_cpu_supports("avx512dq");
    f->avx512vl = __builtin_cpu_supports("avx512vl");
    f->avx512_bf16 = __builtin_cpu_supports("avx512bf16");
}

const char *alim_blas_recommended_coretype(const alim_cpu_features *f)
{
    /* OpenBLAS's SkylakeX kernels use exactly these AVX-512 subsets. */
    if (f->avx512f && f->avx512cd && f->avx512bw && f->avx512dq && f->avx512vl && f->avx2 && f->fma)
        return "SkylakeX";
    if (f->avx2 && f->fma) return "Haswell";
    return NULL;
}

const char *alim_blas_corename(void) { return openblas_get_corename(); }
const char *alim_blas_config(void) { return openblas_get_config(); }
int alim_blas_threads(void) { return openblas_get_num_threads(); }
