/* bench_bf16.c — timing driver of bench/bench_bf16.sh (not a test): the engine's matrix
 * products on GPT-2 124M's and SmolLM2-135M's real shapes through
 *   fp32      lm_gemm (OpenBLAS sgemm in row/column blocks over the OpenMP threads),
 *   dnnl32    lm_gemm_dnnl_f32 (oneDNN's fp32 matmul),
 *   bf16      lm_gemm_bf16 with fp32 inputs (their rounding to bf16 included),
 *   bf16w     lm_gemm_bf16 with the weight operand already in bf16 (the model keeps a bf16
 *             copy of its parameters; the activations are still rounded in the call),
 * and the peaks: oneDNN's bf16 matmul on 4096^3 with both operands in bf16, OpenBLAS's and
 * oneDNN's fp32 on 4096^3. Each figure is the median of at least RUNS timed calls (more for
 * short products, up to 0.25 s) after one warm-up call (which also creates the oneDNN
 * primitive), with the best call beside it: on a shared machine the median carries the
 * waits for a core (each OpenMP barrier of a two-thread team can wait a scheduler slice),
 * the best call what the kernel does alone. GFLOP/s count 2 M N K per product.
 *
 * Usage: bench_bf16 [RUNS]   (RUNS default 5; OMP_NUM_THREADS as usual; BENCH_BF16_ONLY=op
 * for the rows of one op only) */
#define _GNU_SOURCE
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/lm/gemm_bf16.h"

static int RUNS = 5;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    const char *model, *op, *pass; /* pass: fwd, dinp, dW */
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc;
    float beta;
    int weight_b; /* B is a weight (fwd, dinp): bf16w applies */
    int count;    /* how many times one training step runs it (layers) */
} shape;

enum { M_F32, M_DNNL32, M_BF16, M_BF16W, M_BF16HH, NMETH };
static const char *meth_name[NMETH] = {"fp32 OpenBLAS", "oneDNN fp32", "bf16 (fp32 in)", "bf16 (bf16 W)", "bf16 (both bf16)"};

typedef struct {
    float *A, *B, *C;
    lm_bf16 *Ah, *Bh;
} bufs;

/* one product by method m; returns 0 or -1 */
static int run(int m, const shape *s, bufs *b)
{
    switch (m) {
    case M_F32:
        lm_gemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A, s->lda, b->B, s->ldb, s->beta, b->C, s->ldc);
        return 0;
    case M_DNNL32:
        return lm_gemm_dnnl_f32(s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A, s->lda, b->B, s->ldb, s->beta, b->C, s->ldc, NULL);
    case M_BF16:
        return lm_gemm_bf16(s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A, NULL, s->lda, b->B, NULL, s->ldb, s->beta,
                            b->C, s->ldc, NULL);
    case M_BF16W: /* the weight (B) in bf16, the activations (A) rounded in the call */
        return lm_gemm_bf16(s->ta, s->tb, s->M, s->N, s->K, 1.0f, b->A, NULL, s->lda, NULL, b->Bh, s->ldb,
                            s->beta, b->C, s->ldc, NULL);
    default:
        return lm_gemm_bf16(s->ta, s->tb, s->M, s->N, s->K, 1.0f, NULL, b->Ah, s->lda, NULL, b->Bh, s->ldb,
                            s->beta, b->C, s->ldc, NULL);
    }
}

/* Median seconds of at least RUNS calls after a warm-up, more (up to 200) until 0.25 s
 * were timed, so that short products get enough samples; *best the fastest call. -1 if the
 * method declined. */
static double timeit(int m, const shape *s, bufs *b, double *best)
{
    *best = -1.0;
    if (run(m, s, b)) return -1.0;
    double t[200], sum = 0.0;
    int n = 0;
    while (n < 200 && (n < RUNS || sum < 0.25)) {
        /* beta 1 accumulates: keep C bounded by resetting it outside the timed call */
        if (s->beta != 0.0f) memset(b->C, 0, (size_t)s->M * s->ldc * sizeof(float));
        const double t0 = now();
        run(m, s, b);
        t[n] = now() - t0;
        sum += t[n++];
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_d);
    *best = t[0];
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static float *rnd(size_t n, unsigned *seed)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = (float)((*seed >> 8) & 0xFFFF) / 65536.0f - 0.5f;
    }
    return p;
}

static void bufs_make(bufs *b, const shape *s, unsigned seed)
{
    const size_t ra = s->ta == CblasNoTrans ? (size_t)s->M : (size_t)s->K;
    const size_t rb = s->tb == CblasNoTrans ? (size_t)s->K : (size_t)s->N;
    const size_t na = ra * s->lda, nb = rb * s->ldb, nc = (size_t)s->M * s->ldc;
    b->A = rnd(na, &seed);
    b->B = rnd(nb, &seed);
    b->C = calloc(nc, sizeof *b->C);
    b->Ah = malloc(na * sizeof *b->Ah);
    b->Bh = malloc(nb * sizeof *b->Bh);
    lm_f32_to_bf16(b->Ah, b->A, na);
    lm_f32_to_bf16(b->Bh, b->B, nb);
}

static void bufs_free(bufs *b)
{
    free(b->A), free(b->B), free(b->C), free(b->Ah), free(b->Bh);
    lm_bf16_release(); /* the next shapes' primitives only: keep oneDNN's memory small */
}

/* the three products of a linear layer x (rows, in) -> (rows, out); gpt2 stores W (in, out)
 * (NoTrans), llama (out, in) (Trans in the forward). ldo: the output's row stride (Llama's
 * q/k/v write into one (rows, q+2kv) buffer). */
static int add_linear(shape *v, int n, const char *model, const char *op, int llama, int rows, int in, int out,
                      int ldo, int count, float beta_fwd)
{
    const int ldw = llama ? in : out;
    v[n++] = (shape){model, op, "fwd", CblasNoTrans, llama ? CblasTrans : CblasNoTrans, rows, out, in, in, ldw, ldo, beta_fwd, 1, count};
    v[n++] = (shape){model, op, "dinp", CblasNoTrans, llama ? CblasNoTrans : CblasTrans, rows, in, out, ldo, ldw, in, 0.0f, 1, count};
    if (llama) /* dW (out, in) += dout^T x */
        v[n++] = (shape){model, op, "dW", CblasTrans, CblasNoTrans, out, in, rows, ldo, in, in, 1.0f, 0, count};
    else /* dW (in, out) += x^T dout */
        v[n++] = (shape){model, op, "dW", CblasTrans, CblasNoTrans, in, out, rows, in, ldo, out, 1.0f, 0, count};
    return n;
}

int main(int argc, char **argv)
{
    if (argc > 1) RUNS = atoi(argv[1]) > 0 ? atoi(argv[1]) : 5;
    /* BENCH_BF16_ONLY=op: only the rows whose op contains it (the step totals then cover
     * those rows only), and no peaks */
    const char *only = getenv("BENCH_BF16_ONLY");
    const int nt = omp_get_max_threads();
    const int blas = lm_blas_threads_begin(); /* as a pass does: OpenBLAS on one thread per block */
    printf("native bf16: %s; oneDNN's bf16 matmul: %s; OpenMP threads %d; medians of >= %d runs\n",
           lm_bf16_native() ? "yes" : "no", lm_bf16_isa(), nt, RUNS);

    /* ---- peaks: 4096^3 (as asked of a peak), and 1024^3, short enough (a few ms) that some
     * calls run without losing a core on a shared machine; fp32 and bf16 (both operands in
     * bf16 for the bf16 peak) ---- */
    bufs b;
    double peak32 = -1, peak16 = -1;
    if (!only)
        for (int sz = 4096; sz >= 1024; sz /= 4) {
            const shape sq = {"peak", "square", "cube", CblasNoTrans, CblasNoTrans, sz, sz, sz, sz, sz, sz, 0.0f, 1, 1};
            bufs_make(&b, &sq, 1);
            const double fl_sq = 2.0 * sz * (double)sz * sz;
            printf("%d^3:", sz);
            for (int m = 0; m < NMETH; m++) {
                double best;
                const double t = timeit(m, &sq, &b, &best);
                const double g = t > 0 ? fl_sq / t * 1e-9 : -1, gb = t > 0 ? fl_sq / best * 1e-9 : -1;
                printf("%s %s %.0f GFLOP/s (best %.0f)", m ? "," : "", meth_name[m], g, gb);
                if (m < 2 && gb > peak32) peak32 = gb;
                if (m == M_BF16HH && gb > peak16) peak16 = gb;
            }
            printf("\n");
            bufs_free(&b);
        }
    printf("%%pk: median GFLOP/s over the peak (the best call of the squares): fp32 columns over the fp32 peak"
           " %.0f, bf16 columns over the bf16 peak %.0f; x32: median time of fp32 OpenBLAS over the column's\n\n",
           peak32, peak16);

    /* ---- the engine's shapes ---- */
    static shape v[128];
    int n = 0;
    const int gpt_rows[2] = {256, 1024};
    static char gname[2][32];
    for (int r = 0; r < 2; r++) {
        snprintf(gname[r], sizeof gname[r], "gpt2 BT=%d", gpt_rows[r]);
        const int R = gpt_rows[r];
        n = add_linear(v, n, gname[r], "qkv", 0, R, 768, 2304, 2304, 12, 1.0f);
        n = add_linear(v, n, gname[r], "attproj", 0, R, 768, 768, 768, 12, 1.0f);
        n = add_linear(v, n, gname[r], "fc", 0, R, 768, 3072, 3072, 12, 1.0f);
        n = add_linear(v, n, gname[r], "fcproj", 0, R, 3072, 768, 768, 12, 1.0f);
        /* tied head: logits = x wte^T, wte (V, C) */
        n = add_linear(v, n, gname[r], "head", 1, R, 768, 50257, 50257, 1, 0.0f);
    }
    /* SmolLM2-135M: C 576, 9 heads of 64, 3 key/value heads (q 576, k/v 192 into one
     * (rows, 960) buffer), MLP 1536, vocabulary 49152 (tied), 30 layers; T 256 B 4 */
    const char *sm = "smollm2 BT=1024";
    n = add_linear(v, n, sm, "q", 1, 1024, 576, 576, 960, 30, 0.0f);
    n = add_linear(v, n, sm, "k/v", 1, 1024, 576, 192, 960, 60, 0.0f);
    n = add_linear(v, n, sm, "o", 1, 1024, 576, 576, 576, 30, 0.0f);
    n = add_linear(v, n, sm, "gate/up", 1, 1024, 576, 1536, 1536, 60, 0.0f);
    n = add_linear(v, n, sm, "down", 1, 1024, 1536, 576, 576, 30, 0.0f);
    n = add_linear(v, n, sm, "head", 1, 1024, 576, 49152, 49152, 1, 0.0f);

    printf("%-16s %-7s %-4s %-2s %5s %5s %5s |%-16s|%-21s|%-21s|%-21s\n", "model", "op", "pass", "tr", "M", "N", "K",
           " fp32 OpenBLAS", " oneDNN fp32", " bf16 (fp32 in)", " bf16 (bf16 W)");
    printf("%-16s %-7s %-4s %-2s %5s %5s %5s |%-16s|%-21s|%-21s|%-21s\n", "", "", "", "", "", "", "", "  med best %pk",
           "  med best %pk  x32", "  med best %pk  x32", "  med best %pk  x32");
    /* per model: one training step's products (each times its layer count) per method, from
     * the medians and from the best calls */
    const char *cur = NULL;
    double step[4] = {0}, stepb[4] = {0}, stepfl = 0;
    for (int i = 0; i <= n; i++) {
        if (cur && (i == n || strcmp(v[i].model, cur)) && stepfl > 0) {
            printf("%-16s one training step's products (x layers, %.0f GFLOP), medians: fp32 %.2f s", cur, stepfl * 1e-9, step[0]);
            for (int m = 1; m < 4; m++) printf(", %s %.2f s (%.2fx)", meth_name[m], step[m], step[0] / step[m]);
            printf("\n%-16s best calls: fp32 %.2f s", "", stepb[0]);
            for (int m = 1; m < 4; m++) printf(", %s %.2f s (%.2fx)", meth_name[m], stepb[m], stepb[0] / stepb[m]);
            printf("\n\n");
            memset(step, 0, sizeof step);
            memset(stepb, 0, sizeof stepb);
            stepfl = 0;
        }
        if (i == n) break;
        cur = v[i].model;
        const shape *s = &v[i];
        if (only && !strstr(s->op, only)) continue;
        bufs_make(&b, s, 7 + (unsigned)i);
        const double fl = 2.0 * s->M * (double)s->N * s->K;
        double t[4], tb[4];
        for (int m = 0; m < 4; m++) {
            /* a weight gradient has no weight operand: bf16 (bf16 W) is bf16 (fp32 in) there */
            if (m == M_BF16W && !s->weight_b) t[m] = t[M_BF16], tb[m] = tb[M_BF16];
            else t[m] = timeit(m, s, &b, &tb[m]);
            step[m] += t[m] * s->count;
            stepb[m] += tb[m] * s->count;
        }
        stepfl += fl * s->count;
        bufs_free(&b);
        printf("%-16s %-7s %-4s %c%c %5d %5d %5d |", s->model, s->op, s->pass, s->ta == CblasTrans ? 'T' : 'N',
               s->tb == CblasTrans ? 'T' : 'N', s->M, s->N, s->K);
        for (int m = 0; m < 4; m++) {
            const double g = fl / t[m] * 1e-9, gb = fl / tb[m] * 1e-9, pkm = m < 2 ? peak32 : peak16;
            if (m == M_BF16W && !s->weight_b) printf("%21s", "(no weight)");
            else if (pkm > 0) printf("%5.0f %4.0f %3.0f%%", g, gb, 100 * g / pkm);
            else printf("%5.0f %4.0f    ", g, gb);
            if (m == 0) printf(" |");
            else if (m == M_BF16W && !s->weight_b) printf("|");
            else printf(" %4.2f|", t[0] / t[m]);
        }
        printf("\n");
        fflush(stdout);
    }
    lm_blas_threads_end(blas);
    return 0;
}
