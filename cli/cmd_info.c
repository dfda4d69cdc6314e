/* cmd_info.c — `alim info`: build, BLAS kernel and CPU features. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "alim/blas.h"
#include "alim/dist.h"
#include "cli.h"

const char cmd_info_help[] =
    "usage: alim info [--json]\n"
    "\n"
    "Shows what alim runs on: the OpenBLAS kernel in use, who chose it, the CPU's vector\n"
    "features, the thread counts, the bf16 matrix products (oneDNN, the ISA its kernels use\n"
    "here, and the precision --precision auto picks: bf16 only with native bf16 dot\n"
    "products, AMX or AVX512-BF16), and MPI: whether it is compiled in and, under mpirun or\n"
    "srun, this process's rank among how many (docs/mpi.md).\n"
    "\n"
    "Debian 12's OpenBLAS 0.3.21 does not recognise recent CPUs and falls back to its SSE3\n"
    "'Prescott' kernels. Unless OPENBLAS_CORETYPE is already set, alim sets it to the fastest\n"
    "kernel this CPU supports (SkylakeX with AVX-512, Haswell with AVX2+FMA) before OpenBLAS\n"
    "loads. A value you set yourself is always kept. ALIM_NO_BLAS_SELECT=1 turns this off.\n"
    "\n"
    "options:\n"
    "  --json   one JSON object on stdout\n";

int cmd_info(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else return cli_usage_error("info", "unknown option '%s'", argv[i]);
    }
    alim_cpu_features f;
    alim_cpu_detect(&f);
    const char *rec = alim_blas_recommended_coretype(&f);
    const char *env = getenv("OPENBLAS_CORETYPE");
    const char *by_alim = getenv("ALIM_BLAS_SELECTED");
    const char *source = !env ? "OpenBLAS's own detection" : (by_alim && !strcmp(by_alim, env)) ? "alim (this CPU)" : "the user (OPENBLAS_CORETYPE)";
    const char *feat_names[] = {"sse3", "avx", "avx2", "fma", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16"};
    const int feat_vals[] = {f.sse3, f.avx, f.avx2, f.fma, f.avx512f, f.avx512cd, f.avx512bw, f.avx512dq, f.avx512vl, f.avx512_bf16};
    alim_error err;
    alim_error_clear(&err);
    if (alim_dist_init(&err)) return cli_fail(&err);
    const int mpi_on = alim_dist_active(), rank = alim_dist_rank(), size = alim_dist_size();
    const char *mpi_lib = alim_dist_compiled() && mpi_on ? alim_dist_library() : NULL;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "blas_kernel", alim_blas_corename());
        cJSON_AddStringToObject(o, "blas_kernel_chosen_by", source);
        if (env) cJSON_AddStringToObject(o, "openblas_coretype", env);
        else cJSON_AddNullToObject(o, "openblas_coretype");
        if (rec) cJSON_AddStringToObject(o, "recommended_coretype", rec);
        else cJSON_AddNullToObject(o, "recommended_coretype");
        cJSON_AddStringToObject(o, "blas_config", alim_blas_config());
        cJSON_AddNumberToObject(o, "blas_threads", alim_blas_threads());
        cJSON_AddNumberToObject(o, "omp_threads", omp_get_max_threads());
        cJSON *fe = cJSON_AddObjectToObject(o, "cpu_features");
        for (size_t i = 0; i < sizeof feat_vals / sizeof *feat_vals; i++) cJSON_AddBoolToObject(fe, feat_names[i], feat_vals[i]);
        cJSON *bf = cJSON_AddObjectToObject(o, "bf16");
#ifdef ALIM_HAVE_DNNL
        cJSON_AddBoolToObject(bf, "onednn", 1);
#else
        cJSON_AddBoolToObject(bf, "onednn", 0);
#endif
        cJSON_AddBoolToObject(bf, "native", alim_bf16_native());
        cJSON_AddStringToObject(bf, "isa", alim_bf16_isa());
        cJSON_AddStringToObject(o, "precision_auto", alim_precision_name(alim_precision_resolve(ALIM_PRECISION_AUTO)));
        cJSON *mp = cJSON_AddObjectToObject(o, "mpi");
        cJSON_AddBoolToObject(mp, "compiled", alim_dist_compiled());
        cJSON_AddBoolToObject(mp, "active", mpi_on);
        cJSON_AddNumberToObject(mp, "rank", rank);
        cJSON_AddNumberToObject(mp, "size", size);
        if (mpi_lib) cJSON_AddStringToObject(mp, "library", mpi_lib);
        else cJSON_AddNullToObject(mp, "library");
        alim_dist_finalize(&err);
        return cli_print_json(o);
    }
    printf("BLAS kernel        %s (chosen by %s)\n", alim_blas_corename(), source);
    printf("OPENBLAS_CORETYPE  %s\n", env ? env : "(unset)");
    printf("best for this CPU  %s\n", rec ? rec : "(OpenBLAS default)");
    printf("BLAS config        %s\n", alim_blas_config());
    printf("threads            BLAS %d, OpenMP %d\n", alim_blas_threads(), omp_get_max_threads());
    printf("CPU features      ");
    for (size_t i = 0; i < sizeof feat_vals / sizeof *feat_vals; i++)
        if (feat_vals[i]) printf(" %s", feat_names[i]);
    printf("\n");
#ifdef ALIM_HAVE_DNNL
    if (alim_bf16_native()) printf("bf16 products      oneDNN on %s (native bf16)\n", alim_bf16_isa());
    else printf("bf16 products      oneDNN, no native bf16 on this CPU\n");
#else
    printf("bf16 products      not compiled in (make DNNL=0, or no oneDNN found at build time)\n");
#endif
    printf("precision auto     %s\n", alim_precision_name(alim_precision_resolve(ALIM_PRECISION_AUTO)));
    if (!alim_dist_compiled()) printf("MPI                not compiled in (make MPI=0, or no Open MPI found at build time)\n");
    else if (!mpi_on) printf("MPI                compiled in; not launched (one process; mpirun/srun, or ALIM_MPI=1)\n");
    else printf("MPI                rank %d of %d (%s)\n", rank, size, mpi_lib);
    alim_dist_finalize(&err);
    return CLI_EXIT_OK;
}
