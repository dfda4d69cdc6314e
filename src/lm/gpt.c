/* gpt.c — GPT-2 forward and backward in fp32 (see alim/gpt.h).
 *
 * Layer functions come in forward/backward pairs, in the style of karpathy's llm.c
 * (train_gpt2.c), with two differences: linear weights are in the Hugging Face Conv1D
 * (in,out) layout, and every matrix product is a CBLAS sgemm — those inside attention
 * too, except with head sizes 8 and 16, which have their own kernels. Reductions over the batch (bias, LayerNorm and embedding gradients) are
 * parallelised over channels, never with atomics, so results do not depend on timing.
 * Small models run data parallel instead (shard_count): each thread takes whole passes
 * over its part of the batch, and the shards' gradients are summed in a fixed order.
 */
#pragma GCC optimize("O3", "no-trapping-math")
#include "alim/gpt.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/rng.h"

/* ---- small helpers ---------------------------------------------------------------- */

static inline size_t zmin(size_t a, size_t b) { return a < b ? a : b; }

enum { COLBLOCK = 32, GEMM_CHUNKS = 2 };

/* Elementwise and row loops touching fewer floats than this run on one thread: OpenMP's
 * fork/join costs more than it saves there (a decoding step of one sequence has a few
 * dozen such loops of C floats), and on a loaded machine each parallel region can wait a
 * whole scheduler slice for the second thread. */
enum { PAR_MIN = 1 << 14 };

/* dst[c] += sum_n src[n*ld + c] for c < C; parallel over blocks of columns, each summed
 * in a fixed order (double accumulators), so the result is independent of the thread count. */
static void colsum_add(float *dst, const float *src, size_t N, size_t C, size_t ld)
{
#pragma omp parallel for schedule(static)
    for (size_t c0 = 0; c0 < C; c0 += COLBLOCK) {
        size_t c1 = zmin(C, c0 + COLBLOCK);
        double acc[COLBLOCK] = {0};
        for (size_t n = 0; n < N; n++) {
            const float *row = src + n * ld;
            for (size_t c = c0; c < c1; c++) acc[c - c0] += row[c];
        }
        for (size_t c = c0; c < c1; c++) dst[c] += (float)acc[c - c0];
    }
}


/* exp(x) in float without library calls, so that loops over it vectorise: x is clamped to
 * [-87, 88], reduced to r = x - k ln2 with |r| <= ln2/2, exp(r) by its degree-7 Taylor
 * polynomial (truncation < 1e-8 relative), times 2^k built in the exponent bits.
 * Accurate to about 2 ulp; no -ffast-math needed (the rounding trick relies on the default
 * round-to-nearest mode). */
static inline float exp_fast(float x)
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
    int32_t bits = ((int32_t)kf + 127) << 23;
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

/* log(sum_v exp(row[v])) over V entries: max, then exps summed in 8 fixed lanes. */
LM_CLONES static float logsumexp_row(const float *row, int V)
{
    float mx8[8], acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int l = 0; l < 8; l++) mx8[l] = row[0];
    int v = 0;
    for (; v + 8 <= V; v += 8)
        for (int l = 0; l < 8; l++) mx8[l] = row[v + l] > mx8[l] ? row[v + l] : mx8[l];
    float mx = row[0];
    for (; v < V; v++) mx = row[v] > mx ? row[v] : mx;
    for (int l = 0; l < 8; l++) mx = mx8[l] > mx ? mx8[l] : mx;
    v = 0;
    for (; v + 8 <= V; v += 8)
        for (int j = 0; j < 8; j++) acc[j] += exp_fast(row[v + j] - mx);
    double s = 0.0;
    for (; v < V; v++) s += exp_fast(row[v] - mx);
    for (int j = 0; j < 8; j++) s += acc[j];
    return (float)(log(s) + mx);
}

/* ---- GELU (tanh approximation, "gelu_new") ------------------------------------------ */

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */


LM_CLONES static void gelu_forward_chunk(float *out, const float *inp, size_t n)
{
    // gelu(x) = 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        /* x * (1 / (1 + e)), not x / (1 + e): gcc splits the latter into one division
         * per clamp branch of exp_fast (two vdivps per vector, half the speed) */
        out[i] = x * (1.0f / (1.0f + exp_fast(-2.0f * u)));
    }
}

LM_CLONES static void gelu_backward_chunk(float *d, const float *inp, size_t n)
{
    // d := d * gelu'(inp);  gelu' = s + 2 x s (1 - s) u',  s = sigmoid(2u)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float s = 1.0f / (1.0f + exp_fast(-2.0f * u));
        float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        d[i] *= s + 2.0f * x * s * (1.0f - s) * du;
    }
}

enum { ELEM_CHUNK = 4096 };

static void gelu_forward(float *out, const float *inp, size_t N)
{
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (size_t i = 0; i < N; i += ELEM_CHUNK) gelu_forward_chunk(out + i, inp + i, zmin(ELEM_CHUNK, N - i));
}

static void gelu_backward_inplace(float *d, const float *inp, size_t N)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i += ELEM_CHUNK) gelu_backward_chunk(d + i, inp + i, zmin(ELEM_CHUNK, N - i));
}

static inline void add_vectors(float *out, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

static void residual_forward(float *out, const float *a, const float *b, size_t N)
{
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (size_t i = 0; i < N; i += ELEM_CHUNK) add_vectors(out + i, a + i, b + i, zmin(ELEM_CHUNK, N - i));
}

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
} gemm_epilogue;

/* rows [m0,m1) x columns [n0,n1) of C = alpha op(A) op(B) + beta C, with the epilogue */
static void gemm_block(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m0, int m1, int n0, int n1,
                       int K, float alpha, const float *A, int lda, const float *B, int ldb,
                       float beta, float *C, int ldc, const gemm_epilogue *e)
{
    const size_t off = (size_t)m0 * ldc + n0, w = (size_t)(n1 - n0);
    const int full = n0 == 0 && (size_t)ldc == w; /* the block is one contiguous range */
    if (e && e->bias)
        for (int r = m0; r < m1; r++) memcpy(C + (size_t)r * ldc + n0, e->bias + n0, w * sizeof(float));
    const float *a = ta == CblasNoTrans ? A + (size_t)m0 * lda : A + m0;
    const float *b = tb == CblasNoTrans ? B + n0 : B + (size_t)n0 * ldb;
    cblas_sgemm(CblasRowMajor, ta, tb, m1 - m0, n1 - n0, K, alpha, a, lda, b, ldb, beta, C + off, ldc);
    if (!e) return;
    if (e->gelu_out) {
        if (full) gelu_forward_chunk(e->gelu_out + off, C + off, (size_t)(m1 - m0) * w);
        else
            for (int r = m0; r < m1; r++)
                gelu_forward_chunk(e->gelu_out + (size_t)r * ldc + n0, C + (size_t)r * ldc + n0, w);
    }
    if (e->add_out) {
        const size_t nrow = full ? 1 : (size_t)(m1 - m0), len = full ? (size_t)(m1 - m0) * w : w;
        for (size_t r = 0; r < nrow; r++) {
            const size_t o = off + r * (size_t)ldc;
            add_vectors(e->add_out + o, e->add_in + o, C + o, len);
        }
    }
}

/* C (M,N) = alpha * op(A) (M,K) @ op(B) (K,N) + beta * C, row-major, with the M rows (or,
 * when there are fewer rows than columns or too few rows, the N columns) split into
 * contiguous blocks handed to the OpenMP threads, each block a single-threaded sgemm. OpenBLAS's own
 * thread pool is kept out (see blas_threads_begin): its spinning threads and OpenMP's
 * compete for the same cores and made training 10x slower. The K reduction is never split,
 * so the result does not depend on timing. e (or NULL) adds work before and after each block. */
static void gemm_epi(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                     const gemm_epilogue *e)
{
    int nt = omp_get_max_threads();
    if (nt <= 1 || omp_in_parallel() || (double)M * N * K < (double)(1 << 17) || M < 2 * nt) {
        gemm_block(ta, tb, 0, M, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc, e);
        return;
    }
    /* GEMM_CHUNKS blocks per thread, handed out dynamically: a thread that the OS
     * descheduled (a busy machine) does not hold the others up for a whole half */
    int nchunks = (double)M * N * K < (double)(1 << 27) ? nt : nt * GEMM_CHUNKS; /* small: less packing */
    int chunk = ((M + nchunks - 1) / nchunks + 15) / 16 * 16;
    if (chunk < 64) chunk = 64;
    nchunks = (M + chunk - 1) / chunk;
    /* Each block is a separate sgemm that packs its own copy of the operand it shares with
     * the other blocks: B (K,N) for row blocks, A (M,K) for column blocks. With fewer rows
     * than columns (B*T = 256 activations against GPT-2's 768..50257 columns) splitting
     * the columns repacks the smaller operand: row blocks of the output layer packed all of
     * wte (V*C floats) once per block. Also split the columns when there are too few rows
     * (a weight gradient with C = 64 rows, say). */
    if ((nchunks < nt || N > M) && N >= 128) {
        int nc = nt * ((double)M * N * K < (double)(1 << 27) ? 1 : GEMM_CHUNKS);
        int cchunk = ((N + nc - 1) / nc + 15) / 16 * 16;
        if (cchunk < 64) cchunk = 64;
        nc = (N + cchunk - 1) / cchunk;
#pragma omp parallel for schedule(dynamic, 1)
        for (int c = 0; c < nc; c++) {
            int n0 = c * cchunk, n1 = n0 + cchunk < N ? n0 + cchunk : N;
            gemm_block(ta, tb, 0, M, n0, n1, K, alpha, A, lda, B, ldb, beta, C, ldc, e);
        }
        return;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nchunks; c++) {
        int m0 = c * chunk, m1 = m0 + chunk < M ? m0 + chunk : M;
        gemm_block(ta, tb, m0, m1, 0, N, K, alpha, A, lda, B, ldb, beta, C, ldc, e);
    }
}

static void gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    gemm_epi(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

/* ---- encoder: token + position embedding ------------------------------------------ */

static void encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe,
                            int B, int T, int C)
{
    // out (B,T,C), inp (B,T), wte (V,C), wpe (maxT,C)
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= PAR_MIN)
    for (int bt = 0; bt < B * T; bt++) {
        float *o = out + (size_t)bt * C;
        const float *te = wte + (size_t)inp[bt] * C, *pe = wpe + (size_t)(bt % T) * C;
        for (int c = 0; c < C; c++) o[c] = te[c] + pe[c];
    }
}

/* dst[0..n) += src[0..n); restrict lets gcc vectorise it (a gradient row and dout never
 * overlap) where the loop over two possibly aliasing rows stayed scalar */
static inline void add_to(float *restrict dst, const float *restrict src, int n)
{
    for (int c = 0; c < n; c++) dst[c] += src[c];
}

static void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp,
                             int B, int T, int C)
{
    // dwte (V,C) +=, dwpe (maxT,C) +=, dout (B,T,C); parallel over channel blocks so that
    // rows of dwte hit by several tokens are summed in a fixed order
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
        int c1 = c0 + COLBLOCK < C ? c0 + COLBLOCK : C;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                const float *d = dout + ((size_t)b * T + t) * C;
                add_to(dwte + (size_t)inp[b * T + t] * C + c0, d + c0, c1 - c0);
                add_to(dwpe + (size_t)t * C + c0, d + c0, c1 - c0);
            }
    }
}

/* ---- LayerNorm -------------------------------------------------------------------- */

LM_CLONES static void layernorm_row(float *o, float *mean, float *rstd, const float *x,
                                    const float *w, const float *b, int C, float eps)
{
    // mean and variance (two passes) summed in 8 fixed float lanes, then in double
    float s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) s8[l] += x[c + l];
    double s = 0.0;
    for (; c < C; c++) s += x[c];
    for (int l = 0; l < 8; l++) s += s8[l];
    const float m = (float)(s / C);
    float v8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (c = 0; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) v8[l] += (x[c + l] - m) * (x[c + l] - m);
    double v = 0.0;
    for (; c < C; c++) v += (double)(x[c] - m) * (x[c] - m);
    for (int l = 0; l < 8; l++) v += v8[l];
    const float rs = (float)(1.0 / sqrt(v / C + (double)eps));
    for (c = 0; c < C; c++) o[c] = (x[c] - m) * rs * w[c] + b[c];
    *mean = m;
    *rstd = rs;
}

static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, size_t N, int C, float eps)
{
    // out (N,C), mean (N), rstd (N), inp (N,C), w (C), b (C)
#pragma omp parallel for schedule(static) if (N * C >= PAR_MIN)
    for (size_t n = 0; n < N; n++) layernorm_row(out + n * C, mean + n, rstd + n, inp + n * C, w, b, C, eps);
}

LM_CLONES static void layernorm_backward_row(float *di, const float *d, const float *x,
                                             const float *w, float m, float rs, int C)
{
    // di += (dn - mean(dn) - norm * mean(dn * norm)) * rstd, dn = w * d, sums in 8 lanes
    float a8[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        for (int l = 0; l < 8; l++) {
            float norm = (x[c + l] - m) * rs, dn = w[c + l] * d[c + l];
            a8[l] += dn;
            b8[l] += dn * norm;
        }
    double dmean = 0.0, dnm = 0.0;
    for (; c < C; c++) {
        float norm = (x[c] - m) * rs, dn = w[c] * d[c];
        dmean += dn;
        dnm += (double)dn * norm;
    }
    for (int l = 0; l < 8; l++) dmean += a8[l], dnm += b8[l];
    const float fm = (float)(dmean / C), fnm = (float)(dnm / C);
    for (c = 0; c < C; c++) {
        float norm = (x[c] - m) * rs, dn = w[c] * d[c];
        di[c] += (dn - fm - norm * fnm) * rs;
    }
}

static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, size_t N, int C)
{
    // dinp (N,C) +=, dw (C) +=, db (C) +=, dout (N,C), inp (N,C), w (C), mean/rstd (N)
#pragma omp parallel for schedule(static)
    for (size_t n = 0; n < N; n++)
        layernorm_backward_row(dinp + n * C, dout + n * C, inp + n * C, w, mean[n], rstd[n], C);
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += COLBLOCK) {
        int c1 = c0 + COLBLOCK < C ? c0 + COLBLOCK : C;
        double aw[COLBLOCK] = {0}, ab[COLBLOCK] = {0};
        for (size_t n = 0; n < N; n++) {
            const float *x = inp + n * C, *d = dout + n * C;
            const float m = mean[n], rs = rstd[n];
            for (int c = c0; c < c1; c++) {
                aw[c - c0] += (double)d[c] * ((x[c] - m) * rs);
                ab[c - c0] += d[c];
            }
        }
        for (int c = c0; c < c1; c++) {
            dw[c] += (float)aw[c - c0];
            db[c] += (float)ab[c - c0];
        }
    }
}

/* ---- linear layer (Conv1D layout) --------------------------------------------------- */

static void matmul_forward_epi(float *out, const float *inp, const float *w, const float *bias,
                               size_t N, int C, int OC, float *gelu_out, float *add_out,
                               const float *add_in)
{
    // out (N,OC) = inp (N,C) @ w (C,OC) + bias (OC); then, if given,
    // gelu_out (N,OC) = gelu(out) and add_out (N,OC) = add_in (N,OC) + out
    const gemm_epilogue e = {bias, gelu_out, add_out, add_in};
    gemm_epi(CblasNoTrans, CblasNoTrans, (int)N, OC, C, 1.0f, inp, C, w, OC, bias ? 1.0f : 0.0f, out, OC, &e);
}

static void matmul_forward(float *out, const float *inp, const float *w, const float *bias,
                           size_t N, int C, int OC)
{
    // out (N,OC) = inp (N,C) @ w (C,OC) + bias (OC)
    matmul_forward_epi(out, inp, w, bias, N, C, OC, NULL, NULL, NULL);
}

static void matmul_backward(float *dinp, float dinp_beta, float *dw, float *dbias,
                            const float *dout, const float *inp, const float *w, size_t N, int C,
                            int OC)
{
    // dinp (N,C) = dinp_beta*dinp + dout (N,OC) @ w^T; dw (C,OC) += inp^T @ dout;
    // dbias (OC) += column sums of dout
    gemm(CblasNoTrans, CblasTrans, (int)N, C, OC, 1.0f, dout, OC, w, OC, dinp_beta, dinp, C);
    gemm(CblasTrans, CblasNoTrans, C, OC, (int)N, 1.0f, inp, C, dout, OC, 1.0f, dw, OC);
    if (dbias) colsum_add(dbias, dout, N, (size_t)OC, (size_t)OC);
}

/* ---- causal self-attention ---------------------------------------------------------- */

/* Every sgemm runs inside an OpenMP loop (over row blocks, or (batch, head) in attention)
 * and must not start OpenBLAS's own threads: forward and backward set OpenBLAS to one
 * thread on entry and restore the caller's setting on exit. */
static int blas_threads_begin(void)
{
    int n = openblas_get_num_threads();
    if (n != 1) openblas_set_num_threads(1);
    return n;
}
static void blas_threads_end(int n)
{
    if (n != 1) openblas_set_num_threads(n);
}

/* Causal attention skips the products of the upper triangle: rows are taken in blocks of
 * ATT_BLOCK, and block r only meets keys 0 .. end of block r (the wasted part is then the
 * upper triangles of the diagonal blocks only). */
enum { ATT_BLOCK = 64 };

/* row[0..n) := softmax(row[0..n)); max and sum in 8 fixed lanes. One causal attention row
 * (the full forward's rows and the cached decoding step share it, so they agree). */
LM_CLONES static void softmax_prefix_row(float *row, int n)
{
    float mx8[8], sm8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int j = 0; j < 8; j++) mx8[j] = row[0];
    int j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) mx8[l] = row[j + l] > mx8[l] ? row[j + l] : mx8[l];
    float mx = row[0];
    for (; j < n; j++) mx = row[j] > mx ? row[j] : mx;
    for (int l = 0; l < 8; l++) mx = mx8[l] > mx ? mx8[l] : mx;
    // exps and their sum in one pass (the same lanes and order as a separate pass)
    for (j = 0; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) {
            const float e = exp_fast(row[j + l] - mx);
            row[j + l] = e;
            sm8[l] += e;
        }
    float sum = 0.0f;
    for (; j < n; j++) {
        const float e = exp_fast(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    for (int l = 0; l < 8; l++) sum += sm8[l];
    float inv = 1.0f / sum;
    for (j = 0; j < n; j++) row[j] *= inv;
}

static void softmax_causal_rows(float *s, int T)
{
    // s (T,T): row t := softmax(s[t, 0..t]), zero after t
    for (int t = 0; t < T; t++) {
        float *row = s + (size_t)t * T;
        softmax_prefix_row(row, t + 1);
        for (int j = t + 1; j < T; j++) row[j] = 0.0f;
    }
}

LM_CLONES static void softmax_backward_rows(float *ds, const float *s, int T)
{
    // ds (T,T) := s * (ds - <s, ds>) row by row, zero after t; dot product in 8 fixed lanes
    for (int t = 0; t < T; t++) {
        const float *sr = s + (size_t)t * T;
        float *dr = ds + (size_t)t * T;
        const int n = t + 1;
        float d8[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        int j = 0;
        for (; j + 8 <= n; j += 8)
            for (int l = 0; l < 8; l++) d8[l] += sr[j + l] * dr[j + l];
        float dot = 0.0f;
        for (; j < n; j++) dot += sr[j] * dr[j];
        for (int l = 0; l < 8; l++) dot += d8[l];
        for (j = 0; j < n; j++) dr[j] = sr[j] * (dr[j] - dot);
        for (j = n; j < T; j++) dr[j] = 0.0f;
    }
}

/* Small heads (hs = 8 or 16): the per-head products have K = hs, far too short for sgemm
 * (packing and edge handling cost more than the FMAs), so they are written out as loops
 * over a compile-time head size with gcc vector types, RB rows (or CB columns) at a time
 * for independent accumulators. They rely on the zero upper triangles that
 * softmax_causal_rows and softmax_backward_rows leave in s and ds. Every sum runs in a
 * fixed order (over d, j or i, whatever the vector width and blocking), and each (batch,
 * head) is one thread's, so results do not depend on the thread count, nor on which of
 * the variants below runs (all of them use FMA except the baseline x86-64 one).
 *
 * One variant per vector width, chosen at run time: gcc keeps a 64-byte vector in one
 * AVX-512 register, but without AVX-512 it keeps arrays of them in memory (every FMA then
 * loads and stores its accumulator: 15x slower with AVX2), so AVX2 gets 32-byte vectors
 * and the baseline 16-byte ones, with as many rows per block as fit the 16 registers. */

/* gcc vector types; loads and stores go through memcpy, so no alignment is assumed */
typedef float vf16 __attribute__((vector_size(64)));
typedef float vf8 __attribute__((vector_size(32)));
typedef float vf4 __attribute__((vector_size(16)));

/* Kernels for head size HS with vectors VT of VW floats (VW divides HS; NV = HS / VW per
 * row), RB rows per block in qkt and sv, CB columns in stu. */
#define DEFINE_SMALL_HEAD_KERNELS(HS, VT, VW, RB, CB, SUF, ATTR)                                \
/* s[i, j] = scale * q[i] . kt[:, j] for j <= i (and up to max(RB, VW) - 1 columns past it,  \
 * within the row; kt (HS,T) is k transposed, rows of q stride ldq) */                          \
ATTR static void small_qkt_##HS##SUF(float *s, const float *q, int ldq, const float *kt, int T, \
                                     float scale)                                               \
{                                                                                               \
    for (int i0 = 0; i0 < T; i0 += RB) {                                                        \
        const int nr = T - i0 < RB ? T - i0 : RB, n = i0 + nr;                                  \
        float qs[RB][HS];                                                                       \
        for (int r = 0; r < RB; r++)                                                            \
            for (int d = 0; d < HS; d++) qs[r][d] = r < nr ? q[(size_t)(i0 + r) * ldq + d] : 0.0f; \
        /* whole vectors up to n rounded up (past the diagonal: the softmax or its backward  \
         * zeroes those columns) while they fit in the row; the scalar tail cost as much as  \
         * the rest of the block when n = 8 (mod 16) */                                        \
        const int nv = (n + VW - 1) / VW * VW <= T ? (n + VW - 1) / VW * VW : n;                \
        int j = 0;                                                                              \
        for (; j + VW <= nv; j += VW) {                                                         \
            VT acc[RB];                                                                         \
            for (int r = 0; r < RB; r++) acc[r] = (VT){0};                                      \
            for (int d = 0; d < HS; d++) {                                                      \
                VT kv;                                                                          \
                memcpy(&kv, kt + (size_t)d * T + j, sizeof kv);                                 \
                for (int r = 0; r < RB; r++) acc[r] += qs[r][d] * kv;                           \
            }                                                                                   \
            for (int r = 0; r < nr; r++) {                                                      \
                VT o = acc[r] * scale;                                                          \
                memcpy(s + (size_t)(i0 + r) * T + j, &o, sizeof o);                             \
            }                                                                                   \
        }                                                                                       \
        for (; j < n; j++)                                                                      \
            for (int r = 0; r < nr; r++) {                                                      \
                float acc = 0.0f;                                                               \
                for (int d = 0; d < HS; d++) acc += qs[r][d] * kt[(size_t)d * T + j];           \
                s[(size_t)(i0 + r) * T + j] = acc * scale;                                      \
            }                                                                                   \
    }                                                                                           \
}                                                                                               \
/* y[i] (HS) = alpha * sum_{j <= i} s[i, j] v[j]  (s zero above the diagonal) */                \
ATTR static void small_sv_##HS##SUF(float *y, int ldy, const float *s, const float *v, int ldv, \
                                    int T, float alpha)                                         \
{                                                                                               \
    enum { NV = HS / VW };                                                                      \
    for (int i0 = 0; i0 < T; i0 += RB) {                                                        \
        const int nr = T - i0 < RB ? T - i0 : RB, n = i0 + nr;                                  \
        VT acc[RB][NV];                                                                         \
        const float *srow[RB]; /* rows past the end repeat the last one (computed, not stored): \
                                  no branch in the inner loop */                                \
        for (int r = 0; r < RB; r++) {                                                          \
            srow[r] = s + (size_t)(i0 + (r < nr ? r : nr - 1)) * T;                             \
            for (int u = 0; u < NV; u++) acc[r][u] = (VT){0};                                   \
        }                                                                                       \
        for (int j = 0; j < n; j++) {                                                           \
            VT vj[NV];                                                                          \
            for (int u = 0; u < NV; u++) /* one load per vector: a single memcpy of the row \
                                            went through the stack with AVX2 */                 \
                memcpy(&vj[u], v + (size_t)j * ldv + u * VW, sizeof vj[u]);                     \
            _Pragma("GCC unroll 16") for (int r = 0; r < RB; r++)                               \
                _Pragma("GCC unroll 16") for (int u = 0; u < NV; u++) acc[r][u] += srow[r][j] * vj[u]; \
        }                                                                                       \
        for (int r = 0; r < nr; r++)                                                            \
            for (int u = 0; u < NV; u++) {                                                      \
                VT o = alpha * acc[r][u];                                                       \
                memcpy(y + (size_t)(i0 + r) * ldy + u * VW, &o, sizeof o);                      \
            }                                                                                   \
    }                                                                                           \
}                                                                                               \
/* x[j] (HS) = alpha * sum_{i >= j} s[i, j] u[i]  (s zero above the diagonal) */                \
ATTR static void small_stu_##HS##SUF(float *x, int ldx, const float *s, const float *u, int ldu, \
                                     int T, float alpha)                                        \
{                                                                                               \
    enum { NV = HS / VW };                                                                      \
    for (int j0 = 0; j0 < T; j0 += CB) {                                                        \
        const int nc = T - j0 < CB ? T - j0 : CB;                                               \
        VT acc[CB][NV];                                                                         \
        int col[CB]; /* columns past the end repeat the last one (computed, not stored) */      \
        for (int c = 0; c < CB; c++) {                                                          \
            col[c] = c < nc ? c : nc - 1;                                                       \
            for (int w = 0; w < NV; w++) acc[c][w] = (VT){0};                                   \
        }                                                                                       \
        for (int i = j0; i < T; i++) {                                                          \
            VT ui[NV];                                                                          \
            for (int w = 0; w < NV; w++) memcpy(&ui[w], u + (size_t)i * ldu + w * VW, sizeof ui[w]); \
            const float *si = s + (size_t)i * T + j0;                                           \
            _Pragma("GCC unroll 16") for (int c = 0; c < CB; c++)                               \
                _Pragma("GCC unroll 16") for (int w = 0; w < NV; w++) acc[c][w] += si[col[c]] * ui[w]; \
        }                                                                                       \
        for (int c = 0; c < nc; c++)                                                            \
            for (int w = 0; w < NV; w++) {                                                      \
                VT o = alpha * acc[c][w];                                                       \
                memcpy(x + (size_t)(j0 + c) * ldx + w * VW, &o, sizeof o);                      \
            }                                                                                   \
    }                                                                                           \
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define SMALL_HEAD_VARIANTS 1
#define ATTR_V4 __attribute__((target("arch=x86-64-v4")))
#define ATTR_V3 __attribute__((target("arch=x86-64-v3")))
/* AVX-512: one register per 16 floats, 8 accumulators (FMA latency x 2 ports) */
DEFINE_SMALL_HEAD_KERNELS(16, vf16, 16, 8, 4, _v4, ATTR_V4)
DEFINE_SMALL_HEAD_KERNELS(8, vf8, 8, 8, 4, _v4, ATTR_V4)
/* AVX2: 8 floats per register, at most 8 accumulator registers */
DEFINE_SMALL_HEAD_KERNELS(16, vf8, 8, 4, 4, _v3, ATTR_V3)
DEFINE_SMALL_HEAD_KERNELS(8, vf8, 8, 8, 4, _v3, ATTR_V3)
#endif
/* baseline (SSE2, or a build without target attributes) */
DEFINE_SMALL_HEAD_KERNELS(16, vf4, 4, 2, 2, _v0, )
DEFINE_SMALL_HEAD_KERNELS(8, vf4, 4, 4, 4, _v0, )

/* 4 = x86-64-v4 (AVX-512 F/BW/CD/DQ/VL), 3 = x86-64-v3 (AVX2, FMA), 0 = baseline */
static int small_head_isa(void)
{
#ifdef SMALL_HEAD_VARIANTS
    if (__builtin_cpu_supports("x86-64-v4")) return 4;
    if (__builtin_cpu_supports("x86-64-v3")) return 3;
#endif
    return 0;
}

typedef struct {
    void (*qkt)(float *, const float *, int, const float *, int, float);
    void (*sv)(float *, int, const float *, const float *, int, int, float);
    void (*stu)(float *, int, const float *, const float *, int, int, float);
} small_head_kernels;

static small_head_kernels small_head_pick(int hs)
{
    const int isa = small_head_isa();
#ifdef SMALL_HEAD_VARIANTS
    if (isa == 4) return hs == 16 ? (small_head_kernels){small_qkt_16_v4, small_sv_16_v4, small_stu_16_v4}
                                  : (small_head_kernels){small_qkt_8_v4, small_sv_8_v4, small_stu_8_v4};
    if (isa == 3) return hs == 16 ? (small_head_kernels){small_qkt_16_v3, small_sv_16_v3, small_stu_16_v3}
                                  : (small_head_kernels){small_qkt_8_v3, small_sv_8_v3, small_stu_8_v3};
#endif
    (void)isa;
    return hs == 16 ? (small_head_kernels){small_qkt_16_v0, small_sv_16_v0, small_stu_16_v0}
                    : (small_head_kernels){small_qkt_8_v0, small_sv_8_v0, small_stu_8_v0};
}

static int small_head(int hs) { return (hs == 16 || hs == 8) && !getenv("ALIM_ATT_SGEMM"); }

/* kt (hs, T) = k (T, hs) transposed, rows of k stride ldk */
static void transpose_head(float *kt, const float *k, int ldk, int T, int hs)
{
    for (int j = 0; j < T; j++)
        for (int d = 0; d < hs; d++) kt[(size_t)d * T + j] = k[(size_t)j * ldk + d];
}

static void attention_forward_small(float *out, float *att, float *tbuf, const float *qkv, int B,
                                    int T, int C, int NH)
{
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    const small_head_kernels kern = small_head_pick(hs);
#pragma omp parallel
    {
        float *kt = tbuf + (size_t)omp_get_thread_num() * hs * T;
#pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < B * NH; bh++) {
            int b = bh / NH, h = bh % NH;
            const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hs;
            const float *k = q + C, *v = q + 2 * C;
            float *s = att + (size_t)bh * T * T;
            float *y = out + (size_t)b * T * C + (size_t)h * hs;
            transpose_head(kt, k, C3, T, hs);
            kern.qkt(s, q, C3, kt, T, scale);
            softmax_causal_rows(s, T);
            kern.sv(y, C, s, v, C3, T, 1.0f);
        }
    }
}

static void attention_backward_small(float *dqkv, float *scratch, float *tbuf, const float *dout,
                                     const float *qkv, const float *att, int B, int T, int C, int NH)
{
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
    const small_head_kernels kern = small_head_pick(hs);
#pragma omp parallel
    {
        float *vt = tbuf + (size_t)omp_get_thread_num() * hs * T;
#pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < B * NH; bh++) {
            int b = bh / NH, h = bh % NH;
            size_t qoff = (size_t)b * T * C3 + (size_t)h * hs;
            const float *q = qkv + qoff, *k = q + C, *v = q + 2 * C;
            float *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;
            const float *s = att + (size_t)bh * T * T;
            const float *dy = dout + (size_t)b * T * C + (size_t)h * hs;
            float *ds = scratch + (size_t)omp_get_thread_num() * T * T;
            transpose_head(vt, v, C3, T, hs);
            kern.qkt(ds, dy, C, vt, T, 1.0f);      // ds[i, j<=i] = dy[i] . v[j]
            kern.stu(dv, C3, s, dy, C, T, 1.0f);   // dv[j] = sum_{i>=j} s[i,j] dy[i]
            softmax_backward_rows(ds, s, T);        // ds = d pre-softmax scores
            kern.sv(dq, C3, ds, k, C3, T, scale);  // dq[i] = scale sum_{j<=i} ds[i,j] k[j]
            kern.stu(dk, C3, ds, q, C3, T, scale); // dk[j] = scale sum_{i>=j} ds[i,j] q[i]
        }
    }
}

static void attention_forward(float *out, float *att, float *tbuf, const float *qkv, int B, int T,
                              int C, int NH)
{
    if (small_head(C / NH)) {
        attention_forward_small(out, att, tbuf, qkv, B, T, C, NH);
        return;
    }
    // out (B,T,C), att (B,NH,T,T), qkv (B,T,3C) with q | k | v, each split in NH heads
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hs;
        const float *k = q + C, *v = q + 2 * C;
        float *s = att + (size_t)bh * T * T;
        float *y = out + (size_t)b * T * C + (size_t)h * hs;
        // s[r0:r1, 0:r1] = q[r0:r1] @ k[0:r1]^T * scale
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, scale,
                        q + (size_t)r0 * C3, C3, k, C3, 0.0f, s + (size_t)r0 * T, T);
        }
        softmax_causal_rows(s, T);
        // y[r0:r1] (.,hs) = s[r0:r1, 0:r1] @ v[0:r1]
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f,
                        s + (size_t)r0 * T, T, v, C3, 0.0f, y + (size_t)r0 * C, C);
        }
    }
}

static void attention_backward(float *dqkv, float *scratch, float *tbuf, const float *dout, const float *qkv,
                               const float *att, int B, int T, int C, int NH)
{
    // dqkv (B,T,3C) written (not accumulated), scratch (threads,T,T), dout (B,T,C),
    // qkv (B,T,3C), att (B,NH,T,T)
    if (small_head(C / NH)) {
        attention_backward_small(dqkv, scratch, tbuf, dout, qkv, att, B, T, C, NH);
        return;
    }
    const int hs = C / NH, C3 = 3 * C;
    const float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH;
        size_t qoff = (size_t)b * T * C3 + (size_t)h * hs;
        const float *q = qkv + qoff, *k = q + C, *v = q + 2 * C;
        float *dq = dqkv + qoff, *dk = dq + C, *dv = dq + 2 * C;
        const float *s = att + (size_t)bh * T * T;
        const float *dy = dout + (size_t)b * T * C + (size_t)h * hs;
        float *ds = scratch + (size_t)omp_get_thread_num() * T * T;
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            // ds[r0:r1, 0:r1] = dy[r0:r1] @ v[0:r1]^T
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f,
                        dy + (size_t)r0 * C, C, v, C3, 0.0f, ds + (size_t)r0 * T, T);
            // dv[r0:r1] = s[r0:T, r0:r1]^T @ dy[r0:T]   (only queries t >= key j see key j)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, hs, T - r0, 1.0f,
                        s + (size_t)r0 * T + r0, T, dy + (size_t)r0 * C, C, 0.0f,
                        dv + (size_t)r0 * C3, C3);
        }
        softmax_backward_rows(ds, s, T);  // ds = d pre-softmax scores
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            // dq[r0:r1] = scale * ds[r0:r1, 0:r1] @ k[0:r1]
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, scale,
                        ds + (size_t)r0 * T, T, k, C3, 0.0f, dq + (size_t)r0 * C3, C3);
            // dk[r0:r1] = scale * ds[r0:T, r0:r1]^T @ q[r0:T]
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, hs, T - r0, scale,
                        ds + (size_t)r0 * T + r0, T, q + (size_t)r0 * C3, C3, 0.0f,
                        dk + (size_t)r0 * C3, C3);
        }
    }
}

/* ---- model ------------------------------------------------------------------------- */

alim_status alim_gpt_config_check(const alim_gpt_config *c, alim_error *err)
{
    if (c->n_layer < 1 || c->n_layer > 1000) return alim_error_set(err, ALIM_EINVAL, "n_layer", "must be in [1, 1000], got %d", c->n_layer);
    if (c->n_head < 1) return alim_error_set(err, ALIM_EINVAL, "n_head", "must be >= 1, got %d", c->n_head);
    if (c->n_embd < 1 || c->n_embd > 65536 || c->n_embd % c->n_head)
        return alim_error_set(err, ALIM_EINVAL, "n_embd", "must be a positive multiple of n_head (%d), got %d", c->n_head, c->n_embd);
    if (c->n_positions < 1 || c->n_positions > 1 << 20)
        return alim_error_set(err, ALIM_EINVAL, "n_positions", "must be in [1, 2^20], got %d", c->n_positions);
    if (c->vocab_size < 1 || c->vocab_size > 1 << 24)
        return alim_error_set(err, ALIM_EINVAL, "vocab_size", "must be in [1, 2^24], got %d", c->vocab_size);
    if (!(c->layer_norm_epsilon > 0.0f) || !isfinite(c->layer_norm_epsilon))
        return alim_error_set(err, ALIM_EINVAL, "layer_norm_epsilon", "must be a positive number");
    return ALIM_OK;
}

int alim_gpt_tensor_is_per_layer(int t) { return t >= ALIM_GPT_LN1W && t <= ALIM_GPT_FCPROJB; }

static void fill_sizes(alim_gpt *m)
{
    const size_t L = m->config.n_layer, C = m->config.n_embd, V = m->config.vocab_size,
                 maxT = m->config.n_positions;
    size_t *s = m->tensor_size;
    s[ALIM_GPT_WTE] = V * C;
    s[ALIM_GPT_WPE] = maxT * C;
    s[ALIM_GPT_LN1W] = L * C;
    s[ALIM_GPT_LN1B] = L * C;
    s[ALIM_GPT_QKVW] = L * C * 3 * C;
    s[ALIM_GPT_QKVB] = L * 3 * C;
    s[ALIM_GPT_ATTPROJW] = L * C * C;
    s[ALIM_GPT_ATTPROJB] = L * C;
    s[ALIM_GPT_LN2W] = L * C;
    s[ALIM_GPT_LN2B] = L * C;
    s[ALIM_GPT_FCW] = L * C * 4 * C;
    s[ALIM_GPT_FCB] = L * 4 * C;
    s[ALIM_GPT_FCPROJW] = L * 4 * C * C;
    s[ALIM_GPT_FCPROJB] = L * C;
    s[ALIM_GPT_LNFW] = C;
    s[ALIM_GPT_LNFB] = C;
    m->num_params = 0;
    for (int i = 0; i < ALIM_GPT_NUM_TENSORS; i++) m->num_params += s[i];
}

static void point_tensors(alim_gpt_tensors *t, float *base, const size_t *sizes)
{
    float **ptrs[ALIM_GPT_NUM_TENSORS] = {&t->wte, &t->wpe, &t->ln1w, &t->ln1b, &t->qkvw,
                                          &t->qkvb, &t->attprojw, &t->attprojb, &t->ln2w,
                                          &t->ln2b, &t->fcw, &t->fcb, &t->fcprojw, &t->fcprojb,
                                          &t->lnfw, &t->lnfb};
    for (int i = 0; i < ALIM_GPT_NUM_TENSORS; i++) {
        *ptrs[i] = base;
        base += sizes[i];
    }
}

alim_status alim_gpt_create(alim_gpt *m, const alim_gpt_config *cfg, alim_error *err)
{
    memset(m, 0, sizeof *m);
    alim_status st = alim_gpt_config_check(cfg, err);
    if (st) return st;
    m->config = *cfg;
    fill_sizes(m);
    m->params = calloc(m->num_params, sizeof(float));
    if (!m->params) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for %zu parameters", m->num_params);
    point_tensors(&m->p, m->params, m->tensor_size);
    m->mean_loss = -1.0f;
    return ALIM_OK;
}

void alim_gpt_free(alim_gpt *m)
{
    if (!m) return;
    free(m->params);
    free(m->grads);
    free(m->acts_memory);
    free(m->grad_acts_memory);
    memset(m, 0, sizeof *m);
}

static void fill_normal(float *x, size_t n, float std, alim_rng *r)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(std * alim_rng_normal(r));
}

void alim_gpt_init_params(alim_gpt *m, uint64_t seed)
{
    alim_rng r;
    alim_rng_seed(&r, seed, 0x67707432u);
    const size_t L = m->config.n_layer, C = m->config.n_embd;
    const float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)L);
    memset(m->params, 0, m->num_params * sizeof(float));
    fill_normal(m->p.wte, m->tensor_size[ALIM_GPT_WTE], std, &r);
    fill_normal(m->p.wpe, m->tensor_size[ALIM_GPT_WPE], std, &r);
    for (size_t i = 0; i < L * C; i++) m->p.ln1w[i] = m->p.ln2w[i] = 1.0f;
    for (size_t i = 0; i < C; i++) m->p.lnfw[i] = 1.0f;
    fill_normal(m->p.qkvw, m->tensor_size[ALIM_GPT_QKVW], std, &r);
    fill_normal(m->p.attprojw, m->tensor_size[ALIM_GPT_ATTPROJW], proj_std, &r);
    fill_normal(m->p.fcw, m->tensor_size[ALIM_GPT_FCW], std, &r);
    fill_normal(m->p.fcprojw, m->tensor_size[ALIM_GPT_FCPROJW], proj_std, &r);
}

int alim_gpt_tensor_info(const alim_gpt *m, int t, int layer, char *name, size_t name_size,
                         int64_t shape[2])
{
    static const char *const fmt[ALIM_GPT_NUM_TENSORS] = {
        "wte.weight", "wpe.weight", "h.%d.ln_1.weight", "h.%d.ln_1.bias",
        "h.%d.attn.c_attn.weight", "h.%d.attn.c_attn.bias", "h.%d.attn.c_proj.weight",
        "h.%d.attn.c_proj.bias", "h.%d.ln_2.weight", "h.%d.ln_2.bias", "h.%d.mlp.c_fc.weight",
        "h.%d.mlp.c_fc.bias", "h.%d.mlp.c_proj.weight", "h.%d.mlp.c_proj.bias", "ln_f.weight",
        "ln_f.bias"};
    const int64_t C = m->config.n_embd;
    int64_t r = 0, c = 0; /* c == 0: 1-D */
    switch (t) {
    case ALIM_GPT_WTE: r = m->config.vocab_size, c = C; break;
    case ALIM_GPT_WPE: r = m->config.n_positions, c = C; break;
    case ALIM_GPT_QKVW: r = C, c = 3 * C; break;
    case ALIM_GPT_QKVB: r = 3 * C; break;
    case ALIM_GPT_ATTPROJW: r = C, c = C; break;
    case ALIM_GPT_FCW: r = C, c = 4 * C; break;
    case ALIM_GPT_FCB: r = 4 * C; break;
    case ALIM_GPT_FCPROJW: r = 4 * C, c = C; break;
    default: r = C; break;
    }
    if (name) {
        if (alim_gpt_tensor_is_per_layer(t)) snprintf(name, name_size, fmt[t], layer);
        else snprintf(name, name_size, "%s", fmt[t]);
    }
    shape[0] = r;
    shape[1] = c;
    return c ? 2 : 1;
}

float *alim_gpt_tensor_slice(const alim_gpt *m, float *base, int t, int layer, size_t *n)
{
    size_t off = 0;
    for (int i = 0; i < t; i++) off += m->tensor_size[i];
    size_t sz = m->tensor_size[t];
    if (alim_gpt_tensor_is_per_layer(t)) {
        sz /= (size_t)m->config.n_layer;
        off += (size_t)layer * sz;
    }
    *n = sz;
    return base + off;
}

/* Lays out the activation views for (B,T); returns the number of floats needed, and
 * points the views into base when base != NULL. */
static size_t layout_acts(alim_gpt_acts *a, float *base, const alim_gpt_config *cfg, size_t B,
                          size_t T)
{
    const size_t L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const size_t BT = B * T;
    struct { float **p; size_t n; } items[] = {
        {&a->encoded, BT * C},       {&a->ln1, L * BT * C},      {&a->ln1_mean, L * BT},
        {&a->ln1_rstd, L * BT},      {&a->qkv, L * BT * 3 * C},  {&a->atty, L * BT * C},
        {&a->att, L * B * NH * T * T}, {&a->attproj, L * BT * C}, {&a->residual2, L * BT * C},
        {&a->ln2, L * BT * C},       {&a->ln2_mean, L * BT},     {&a->ln2_rstd, L * BT},
        {&a->fch, L * BT * 4 * C},   {&a->fch_gelu, L * BT * 4 * C}, {&a->fcproj, L * BT * C},
        {&a->residual3, L * BT * C}, {&a->lnf, BT * C},          {&a->lnf_mean, BT},
        {&a->lnf_rstd, BT},          {&a->logits, BT * V},       {&a->losses, BT}, {&a->lse, BT},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof items / sizeof *items; i++) {
        if (base) *items[i].p = base + total;
        total += items[i].n;
    }
    return total;
}

/* row (V) := k * (softmax(row) - onehot(target)), given the row's log-sum-exp */
LM_CLONES static void dlogits_row(float *row, int V, float lse, int target, float k)
{
    for (int v = 0; v < V; v++) row[v] = k * exp_fast(row[v] - lse);
    row[target] -= k;
}

/* Data parallelism for small models. Splitting every layer's work between the threads
 * costs an OpenMP fork/join per operation (some 70 per step for two layers), and the
 * threads wait for each other at every one of them; with a model this small the waiting
 * was 8% of the time on two threads. Instead each thread can run the whole forward and
 * backward pass for its own slice of the batch, with its own gradient buffer, and the
 * buffers are summed once at the end. That needs (shards - 1) extra copies of the
 * gradients, so it is only done when they are small next to the activations (never for
 * GPT-2 124M at B*T = 256, say). The shard count is the thread count (capped by B): the
 * gradients are a sum over the shards in a fixed order, repeatable for a given thread
 * count, as the column splits of gemm already were. */
static int shard_count(const alim_gpt *m, int B, int T)
{
    const int nt = omp_get_max_threads();
    if (nt < 2 || B < 2 || omp_in_parallel() || getenv("ALIM_LM_NO_SHARDS")) return 1;
    const int S = nt < B ? nt : B;
    alim_gpt_acts views;
    const size_t acts = layout_acts(&views, NULL, &m->config, (size_t)B, (size_t)T);
    return (size_t)(S - 1) * m->num_params <= acts / 8 ? S : 1;
}

int alim_gpt_shard_count(const alim_gpt *m, int B, int T) { return shard_count(m, B, T); }

/* batch rows [b0, b1) of a shard count S: an even split */
static void shard_rows(int B, int S, int s, int *b0, int *b1)
{
    *b0 = (int)((long long)B * s / S);
    *b1 = (int)((long long)B * (s + 1) / S);
}

/* The activations of layer l for the shard whose rows start at batch row b0: each layer's
 * (B,T,.) arrays start at row l*B*T, the shard's rows at b0*T in them; attention's saved
 * softmax at (l*B + b0)*NH*T*T. One place for the offsets, used by both passes. */
typedef struct {
    const float *residual; // (N,C) the layer's input: encoded or the previous residual3
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att, *attproj, *residual2;
    float *ln2, *ln2_mean, *ln2_rstd, *fch, *fch_gelu, *fcproj, *residual3;
} layer_acts;

static layer_acts layer_view(const alim_gpt *m, int l, int b0)
{
    const alim_gpt_acts *a = &m->a;
    const size_t C = m->config.n_embd, NH = m->config.n_head, B = m->B, T = m->T, BT = B * T;
    const size_t r0 = (size_t)b0 * T, lr = (size_t)l * BT + r0;
    layer_acts v;
    v.residual = l == 0 ? a->encoded + r0 * C : a->residual3 + (lr - BT) * C;
    v.ln1 = a->ln1 + lr * C, v.ln1_mean = a->ln1_mean + lr, v.ln1_rstd = a->ln1_rstd + lr;
    v.qkv = a->qkv + lr * 3 * C, v.atty = a->atty + lr * C;
    v.att = a->att + ((size_t)l * B + b0) * NH * T * T, v.attproj = a->attproj + lr * C;
    v.residual2 = a->residual2 + lr * C, v.ln2 = a->ln2 + lr * C;
    v.ln2_mean = a->ln2_mean + lr, v.ln2_rstd = a->ln2_rstd + lr;
    v.fch = a->fch + lr * 4 * C, v.fch_gelu = a->fch_gelu + lr * 4 * C;
    v.fcproj = a->fcproj + lr * C, v.residual3 = a->residual3 + lr * C;
    return v;
}

/* The forward pass over batch rows [b0, b1) of m's (B,T) batch: their activations, logits
 * and, with targets, lse and losses. attscratch: (threads, hs*T) for small heads. With
 * dlogits (training: a backward pass follows), each logits row is turned into d loss/d
 * logits right after its loss, while it is in L1 (the same formula as backward_rows). */
static void forward_rows(alim_gpt *m, int b0, int b1, float *attscratch, int dlogits, float k)
{
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int B = m->B, T = m->T, Bs = b1 - b0;
    const size_t BT = (size_t)B * T, r0 = (size_t)b0 * T, N = (size_t)Bs * T;
    const alim_gpt_tensors *p = &m->p;
    alim_gpt_acts *a = &m->a;
    const int32_t *targets = m->targets;
    encoder_forward(a->encoded + r0 * C, m->inputs + r0, p->wte, p->wpe, Bs, T, C);
    for (int l = 0; l < L; l++) {
        const size_t lc = (size_t)l * C;
        const layer_acts la = layer_view(m, l, b0);

        layernorm_forward(la.ln1, la.ln1_mean, la.ln1_rstd, la.residual, p->ln1w + lc, p->ln1b + lc, N, C, cfg->layer_norm_epsilon);
        matmul_forward(la.qkv, la.ln1, p->qkvw + lc * 3 * C, p->qkvb + lc * 3, N, C, 3 * C);
        attention_forward(la.atty, la.att, attscratch, la.qkv, Bs, T, C, NH);
        matmul_forward_epi(la.attproj, la.atty, p->attprojw + lc * C, p->attprojb + lc, N, C, C, NULL, la.residual2, la.residual);
        layernorm_forward(la.ln2, la.ln2_mean, la.ln2_rstd, la.residual2, p->ln2w + lc, p->ln2b + lc, N, C, cfg->layer_norm_epsilon);
        matmul_forward_epi(la.fch, la.ln2, p->fcw + lc * 4 * C, p->fcb + lc * 4, N, C, 4 * C, la.fch_gelu, NULL, NULL);
        matmul_forward_epi(la.fcproj, la.fch_gelu, p->fcprojw + lc * 4 * C, p->fcprojb + lc, N, 4 * C, C, NULL, la.residual3, la.residual2);
    }
    const float *last = a->residual3 + ((size_t)(L - 1) * BT + r0) * C;
    float *lnf = a->lnf + r0 * C, *logits = a->logits + r0 * V;
    layernorm_forward(lnf, a->lnf_mean + r0, a->lnf_rstd + r0, last, p->lnfw, p->lnfb, N, C, cfg->layer_norm_epsilon);
    // logits (N,V) = lnf (N,C) @ wte^T
    gemm(CblasNoTrans, CblasTrans, (int)N, V, C, 1.0f, lnf, C, p->wte, C, 0.0f, logits, V);
    if (!targets) return;
#pragma omp parallel for schedule(static)
    for (size_t i = r0; i < r0 + N; i++) {
        if (targets[i] < 0) {
            a->losses[i] = 0.0f;
            continue;
        }
        float *row = a->logits + i * V;
        a->lse[i] = logsumexp_row(row, V);
        a->losses[i] = (float)((double)a->lse[i] - row[targets[i]]);
        if (dlogits) dlogits_row(row, V, a->lse[i], targets[i], k);
    }
    if (dlogits) // rows without a target get a zero gradient
        for (size_t i = r0; i < r0 + N; i++)
            if (targets[i] < 0) memset(a->logits + i * V, 0, (size_t)V * sizeof(float));
}

/* Checks the batch and lays out the activations for (B,T); remembers the batch in m. */
static alim_status forward_prepare(alim_gpt *m, const int32_t *inputs, const int32_t *targets,
                                   int B, int T, alim_error *err)
{
    const alim_gpt_config *cfg = &m->config;
    const int V = cfg->vocab_size;
    if (B < 1 || T < 1) return alim_error_set(err, ALIM_EINVAL, "input", "empty batch (B=%d, T=%d)", B, T);
    if (T > cfg->n_positions)
        return alim_error_set(err, ALIM_EINVAL, "input", "sequence length %d exceeds the model's context of %d", T, cfg->n_positions);
    for (size_t i = 0; i < (size_t)B * T; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return alim_error_set(err, ALIM_EINVAL, "input", "token id %d at position %zu is outside the vocabulary [0, %d)", inputs[i], i, V);
        if (targets && (targets[i] < -1 || targets[i] >= V))
            return alim_error_set(err, ALIM_EINVAL, "target", "token id %d at position %zu is outside the vocabulary [0, %d)", targets[i], i, V);
    }
    size_t need = layout_acts(&m->a, NULL, cfg, B, T);
    if (need > m->acts_capacity) {
        float *mem = realloc(m->acts_memory, need * sizeof(float));
        if (!mem) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for activations (%zu floats)", need);
        m->acts_memory = mem;
        m->acts_capacity = need;
    }
    layout_acts(&m->a, m->acts_memory, cfg, B, T);
    m->B = B;
    m->T = T;
    m->inputs = inputs;
    m->targets = targets;
    m->loss_sum = 0.0;
    m->loss_count = 0;
    m->mean_loss = -1.0f;
    return ALIM_OK;
}

/* The loss of the batch from the rows' losses: summed serially, in row order, so the
 * reported loss does not depend on the thread count at all. */
static void forward_finish(alim_gpt *m)
{
    if (!m->targets) return;
    const size_t BT = (size_t)m->B * m->T;
    double sum = 0.0;
    size_t count = 0;
    for (size_t i = 0; i < BT; i++) {
        sum += m->a.losses[i];
        count += m->targets[i] >= 0;
    }
    m->loss_sum = sum;
    m->loss_count = count;
    m->mean_loss = count ? (float)(sum / (double)count) : 0.0f;
}

/* out (V) = log softmax of row (V): max, sum of exp in double, one rounding of the log-sum-exp */
static void log_softmax_vec(float *out, const float *row, int V)
{
    float mx = row[0];
    for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
    double s = 0.0;
    for (int v = 0; v < V; v++) s += exp((double)(row[v] - mx));
    float lse = (float)(log(s) + mx);
    for (int v = 0; v < V; v++) out[v] = row[v] - lse;
}

void alim_gpt_log_softmax_row(const alim_gpt *m, int b, int t, float *out)
{
    const int V = m->config.vocab_size;
    log_softmax_vec(out, m->a.logits + ((size_t)b * m->T + t) * V, V);
}

alim_status alim_gpt_zero_grad(alim_gpt *m, alim_error *err)
{
    if (!m->grads) {
        m->grads = calloc(m->num_params, sizeof(float));
        if (!m->grads) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for gradients");
        point_tensors(&m->g, m->grads, m->tensor_size);
        return ALIM_OK;
    }
    memset(m->grads, 0, m->num_params * sizeof(float));
    return ALIM_OK;
}

/* The backward pass over batch rows [b0, b1), adding their gradients to g. Scratch:
 * dres, dtmp (BT,C) and dbig (BT,4C) of which the shard uses its own rows, attention
 * buffers (threads,T,T) and (threads,hs,T) for the threads of this call. */
static void backward_rows(alim_gpt *m, int b0, int b1, const alim_gpt_tensors *g, float k,
                          int dlogits, float *dres_all, float *dtmp_all, float *dbig_all, float *attscratch,
                          float *tbuf)
{
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int B = m->B, T = m->T, Bs = b1 - b0;
    const size_t BT = (size_t)B * T, r0 = (size_t)b0 * T, N = (size_t)Bs * T;
    const alim_gpt_tensors *p = &m->p;
    const alim_gpt_acts *a = &m->a;
    const int32_t *targets = m->targets;
    // dbig is used as (N,4C) and as (N,3C): the shard's part starts at row r0 of (BT,4C)
    float *dres = dres_all + r0 * C, *dtmp = dtmp_all + r0 * C, *dbig = dbig_all + r0 * 4 * C;
    float *logits = a->logits + r0 * V;
    const float *lnf = a->lnf + r0 * C;

    // d loss / d logits, in place: scale * (softmax - onehot) / count (unless the forward
    // pass of the same call made it)
    if (dlogits) {
#pragma omp parallel for schedule(static)
        for (size_t i = r0; i < r0 + N; i++) {
            float *row = a->logits + i * V;
            if (targets[i] < 0) memset(row, 0, (size_t)V * sizeof(float));
            else dlogits_row(row, V, a->lse[i], targets[i], k);  // lse from the forward pass
        }
    }
    // dlnf (N,C) = dlogits (N,V) @ wte (V,C);  dwte += dlogits^T @ lnf
    float *dlnf = dtmp;
    gemm(CblasNoTrans, CblasNoTrans, (int)N, C, V, 1.0f, logits, V, p->wte, C, 0.0f, dlnf, C);
    gemm(CblasTrans, CblasNoTrans, V, C, (int)N, 1.0f, logits, V, lnf, C, 1.0f, g->wte, C);
    memset(dres, 0, N * C * sizeof(float));
    layernorm_backward(dres, g->lnfw, g->lnfb, dlnf, a->residual3 + ((size_t)(L - 1) * BT + r0) * C, p->lnfw, a->lnf_mean + r0, a->lnf_rstd + r0, N, C);

    for (int l = L - 1; l >= 0; l--) {
        const size_t lc = (size_t)l * C;
        const layer_acts la = layer_view(m, l, b0);

        // residual3 = residual2 + fcproj: dres is d fcproj and (so far) d residual2
        // fcproj = fch_gelu @ fcprojw + b             dbig (N,4C) = d fch_gelu
        matmul_backward(dbig, 0.0f, g->fcprojw + lc * 4 * C, g->fcprojb + lc, dres, la.fch_gelu, p->fcprojw + lc * 4 * C, N, 4 * C, C);
        gelu_backward_inplace(dbig, la.fch, N * 4 * C);  // dbig = d fch
        // fch = ln2 @ fcw + b                          dtmp (N,C) = d ln2
        matmul_backward(dtmp, 0.0f, g->fcw + lc * 4 * C, g->fcb + lc * 4, dbig, la.ln2, p->fcw + lc * 4 * C, N, C, 4 * C);
        layernorm_backward(dres, g->ln2w + lc, g->ln2b + lc, dtmp, la.residual2, p->ln2w + lc, la.ln2_mean, la.ln2_rstd, N, C);
        // residual2 = residual + attproj: dres is d attproj and d residual (so far)
        // attproj = atty @ attprojw + b               dtmp = d atty
        matmul_backward(dtmp, 0.0f, g->attprojw + lc * C, g->attprojb + lc, dres, la.atty, p->attprojw + lc * C, N, C, C);
        attention_backward(dbig, attscratch, tbuf, dtmp, la.qkv, la.att, Bs, T, C, NH);  // dbig (N,3C) = d qkv
        // qkv = ln1 @ qkvw + b                         dtmp = d ln1
        matmul_backward(dtmp, 0.0f, g->qkvw + lc * 3 * C, g->qkvb + lc * 3, dbig, la.ln1, p->qkvw + lc * 3 * C, N, C, 3 * C);
        layernorm_backward(dres, g->ln1w + lc, g->ln1b + lc, dtmp, la.residual, p->ln1w + lc, la.ln1_mean, la.ln1_rstd, N, C);
    }
    encoder_backward(g->wte, g->wpe, dres, m->inputs + r0, Bs, T, C);
}

/* Runs the forward pass (fwd), the backward pass (bwd) or both over m's prepared batch,
 * operation-parallel or in data-parallel shards (see shard_count). With both, a shard goes
 * from its forward straight into its backward (no join in between) and d logits is made
 * in the forward's loss loop. k = loss_scale / loss_count for the backward. */
static alim_status run_passes(alim_gpt *m, int fwd, int bwd, float k, alim_error *err)
{
    const alim_gpt_config *cfg = &m->config;
    const int C = cfg->n_embd, NH = cfg->n_head;
    const int B = m->B, T = m->T;
    const size_t BT = (size_t)B * T, TT = (size_t)T * T, hsT = (size_t)(C / NH) * T;
    const int nthreads = omp_get_max_threads(), S = shard_count(m, B, T);
    float *tbuf_f = NULL;  // forward: a transposed head (hs,T) per thread (small heads)
    if (fwd && small_head(C / NH)) {
        tbuf_f = malloc((size_t)nthreads * hsT * sizeof(float));
        if (!tbuf_f) return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for attention scratch");
    }
    float *dres = NULL, *dtmp = NULL, *dbig = NULL, *attscratch = NULL, *tbuf = NULL, *shard_grads = NULL;
    if (bwd) {
        if (!m->grads) {
            alim_status st = alim_gpt_zero_grad(m, err);
            if (st) return free(tbuf_f), st;
        }
        // scratch: dres (BT,C), dtmp (BT,C), dbig (BT,4C), attention (threads,T,T)
        // + a transposed head (hs,T) per thread for the small-head attention kernels
        // + the gradients of shards 1..S-1
        size_t need = BT * C * 2 + BT * 4 * C + (size_t)nthreads * (TT + hsT) + (size_t)(S - 1) * m->num_params;
        if (need > m->grad_acts_capacity) {
            float *mem = realloc(m->grad_acts_memory, need * sizeof(float));
            if (!mem) return free(tbuf_f), alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for backward scratch");
            m->grad_acts_memory = mem;
            m->grad_acts_capacity = need;
        }
        dres = m->grad_acts_memory, dtmp = dres + BT * C, dbig = dtmp + BT * C;
        attscratch = dbig + BT * 4 * C, tbuf = attscratch + (size_t)nthreads * TT;
        shard_grads = tbuf + (size_t)nthreads * hsT;
    }
    if (S == 1) {
        if (fwd) forward_rows(m, 0, B, tbuf_f, bwd, k);
        if (bwd) backward_rows(m, 0, B, &m->g, k, !fwd, dres, dtmp, dbig, attscratch, tbuf);
        free(tbuf_f);
        return ALIM_OK;
    }
    const size_t np = m->num_params;
#pragma omp parallel num_threads(S)
    {
        /* the team can be smaller than S (OMP_DYNAMIC, OMP_THREAD_LIMIT): a thread takes
         * shards tid, tid + team, ..., so every shard runs exactly once and the results
         * depend on S only */
        const int tid = omp_get_thread_num(), team = omp_get_num_threads();
        /* the operations' own parallel loops run on this thread alone, even with nested
         * parallelism enabled (their per-thread scratch is the shard's slot); the setting
         * is this implicit task's and ends with the region */
        omp_set_num_threads(1);
        for (int s = tid; s < S; s += team) {
            int b0, b1;
            shard_rows(B, S, s, &b0, &b1);
            if (fwd) forward_rows(m, b0, b1, tbuf_f ? tbuf_f + (size_t)s * hsT : NULL, bwd, k);
            if (!bwd) continue;
            alim_gpt_tensors gs = m->g;  // shard 0 adds to the gradients, the others to their own
            if (s > 0) {
                float *own = shard_grads + (size_t)(s - 1) * np;
                memset(own, 0, np * sizeof(float));
                point_tensors(&gs, own, m->tensor_size);
            }
            backward_rows(m, b0, b1, &gs, k, !fwd, dres, dtmp, dbig, attscratch + (size_t)s * TT, tbuf + (size_t)s * hsT);
        }
        if (bwd) {
#pragma omp barrier
            // grads += shard 1 + shard 2 + ..., in that order for every element
            float *grads = m->grads;
#pragma omp for schedule(static)
            for (size_t i = 0; i < np; i++) {
                float acc = grads[i];
                for (int t = 1; t < S; t++) acc += shard_grads[(size_t)(t - 1) * np + i];
                grads[i] = acc;
            }
        }
    }
    free(tbuf_f);
    return ALIM_OK;
}

alim_status alim_gpt_forward(alim_gpt *m, const int32_t *inputs, const int32_t *targets, int B,
                             int T, alim_error *err)
{
    alim_status st = forward_prepare(m, inputs, targets, B, T, err);
    if (st) return st;
    int saved = blas_threads_begin();
    st = run_passes(m, 1, 0, 0.0f, err);
    blas_threads_end(saved);
    if (!st) forward_finish(m);
    return st;
}

alim_status alim_gpt_backward(alim_gpt *m, float loss_scale, alim_error *err)
{
    if (!m->targets || m->B == 0) return alim_error_set(err, ALIM_EINVAL, "model", "backward needs a forward pass with targets");
    const float k = m->loss_count ? loss_scale / (float)m->loss_count : 0.0f;
    int saved = blas_threads_begin();
    alim_status st = run_passes(m, 0, 1, k, err);
    blas_threads_end(saved);
    return st;
}

alim_status alim_gpt_forward_backward(alim_gpt *m, const int32_t *inputs, const int32_t *targets,
                                      int B, int T, float loss_scale, alim_error *err)
{
    if (!targets) return alim_error_set(err, ALIM_EINVAL, "model", "backward needs targets");
    alim_status st = forward_prepare(m, inputs, targets, B, T, err);
    if (st) return st;
    size_t count = 0;  // the backward's scale needs the count of the whole batch up front
    for (size_t i = 0; i < (size_t)B * T; i++) count += targets[i] >= 0;
    const float k = count ? loss_scale / (float)count : 0.0f;
    int saved = blas_threads_begin();
    st = run_passes(m, 1, 1, k, err);
    blas_threads_end(saved);
    if (!st) forward_finish(m);
    return st;
}

/* ---- incremental decoding with a key/value cache ------------------------------------ */

/* Floats of one step's scratch per row: residual x, LayerNorm output, mean and rstd, qkv,
 * attention output, projection output, MLP hidden, attention scores over T_max. */
static size_t cache_work_per_row(const alim_gpt_config *cfg, int T_max)
{
    const size_t C = cfg->n_embd;
    return C + C + 2 + 3 * C + C + C + 4 * C + (size_t)cfg->n_head * T_max;
}

alim_status alim_gpt_cache_create(const alim_gpt *m, int B, int T_max, alim_gpt_cache **out,
                                  alim_error *err)
{
    *out = NULL;
    const alim_gpt_config *cfg = &m->config;
    if (B < 1) return alim_error_set(err, ALIM_EINVAL, "cache", "batch size %d must be >= 1", B);
    if (T_max < 1 || T_max > cfg->n_positions)
        return alim_error_set(err, ALIM_EINVAL, "cache", "length %d is outside [1, %d], the model's context", T_max, cfg->n_positions);
    alim_gpt_cache *c = calloc(1, sizeof *c);
    const size_t kv = (size_t)cfg->n_layer * B * cfg->n_embd * T_max;
    if (c) {
        c->k = malloc(kv * sizeof(float));
        c->v = malloc(kv * sizeof(float));
        c->logits = malloc((size_t)B * cfg->vocab_size * sizeof(float));
        c->work = malloc((size_t)B * cache_work_per_row(cfg, T_max) * sizeof(float));
    }
    if (!c || !c->k || !c->v || !c->logits || !c->work) {
        alim_gpt_cache_free(c);
        return alim_error_set(err, ALIM_ENOMEM, "cache", "out of memory for a key/value cache of %d rows x %d positions (%zu floats)", B, T_max, 2 * kv);
    }
    c->config = *cfg;
    c->B = c->B_cap = B;
    c->T_max = T_max;
    c->t = 0;
    *out = c;
    return ALIM_OK;
}

void alim_gpt_cache_reset(alim_gpt_cache *c)
{
    if (!c) return;
    c->t = 0;
    c->B = c->B_cap;
}

void alim_gpt_cache_free(alim_gpt_cache *c)
{
    if (!c) return;
    free(c->k);
    free(c->v);
    free(c->logits);
    free(c->work);
    free(c);
}

static alim_status cache_check_model(const alim_gpt *m, const alim_gpt_cache *c, alim_error *err)
{
    const alim_gpt_config *a = &m->config, *b = &c->config;
    if (a->n_layer != b->n_layer || a->n_embd != b->n_embd || a->n_head != b->n_head ||
        a->n_positions != b->n_positions || a->vocab_size != b->vocab_size)
        return alim_error_set(err, ALIM_EINVAL, "cache", "made for a model of another shape (L=%d C=%d NH=%d V=%d, the model has L=%d C=%d NH=%d V=%d)",
                              b->n_layer, b->n_embd, b->n_head, b->vocab_size, a->n_layer, a->n_embd, a->n_head, a->vocab_size);
    return ALIM_OK;
}

/* The new query of one row against its cached positions 0..n-1, all heads. The sums run
 * in the order of the full forward's attention (small-head kernels and blocked sgemm
 * alike): each score summed over d in order, then scaled; softmax_prefix_row; each output
 * summed over j in order (the upper triangle the full forward multiplies by 0 adds exact
 * zeros). Independent chains come from 4 blocks of VW positions (scores) and from up to
 * 8 blocks of YW output columns of any heads (all heads share n), so the FMA latency is
 * hidden without reordering any sum. Variants per vector width as for the small-head
 * kernels (VT of VW floats for the scores, YT of YW floats for the outputs). */
#define DEFINE_ATTENTION_STEP_ROW(VT, VW, YT, YW, SUF, ATTR)                                    \
ATTR static void attention_step_row##SUF(float *y, float *s, const float *q, const float *kt,   \
                                         const float *v, int n, int T_max, int NH, int hs,      \
                                         float scale)                                           \
{                                                                                               \
    /* y (C), s (NH,T_max) scores, q (C), kt (NH,hs,T_max) keys transposed, v (NH,T_max,hs) */ \
    const int C = NH * hs;                                                                      \
    for (int h = 0; h < NH; h++) {                                                              \
        const float *qh = q + (size_t)h * hs, *kh = kt + (size_t)h * hs * T_max;                \
        float *sh = s + (size_t)h * T_max;                                                      \
        int j = 0;                                                                              \
        for (; j + 4 * VW <= n; j += 4 * VW) {                                                  \
            VT acc[4] = {{0}, {0}, {0}, {0}};                                                   \
            for (int d = 0; d < hs; d++) {                                                      \
                const float *kd = kh + (size_t)d * T_max + j;                                   \
                _Pragma("GCC unroll 4") for (int u = 0; u < 4; u++) {                           \
                    VT kv;                                                                      \
                    memcpy(&kv, kd + VW * u, sizeof kv);                                        \
                    acc[u] += qh[d] * kv;                                                       \
                }                                                                               \
            }                                                                                   \
            for (int u = 0; u < 4; u++) {                                                       \
                VT o = acc[u] * scale;                                                          \
                memcpy(sh + j + VW * u, &o, sizeof o);                                          \
            }                                                                                   \
        }                                                                                       \
        for (; j + VW <= n; j += VW) {                                                          \
            VT acc = {0};                                                                       \
            for (int d = 0; d < hs; d++) {                                                      \
                VT kv;                                                                          \
                memcpy(&kv, kh + (size_t)d * T_max + j, sizeof kv);                             \
                acc += qh[d] * kv;                                                              \
            }                                                                                   \
            acc *= scale;                                                                       \
            memcpy(sh + j, &acc, sizeof acc);                                                   \
        }                                                                                       \
        for (; j < n; j++) {                                                                    \
            float acc = 0.0f;                                                                   \
            for (int d = 0; d < hs; d++) acc += qh[d] * kh[(size_t)d * T_max + j];              \
            sh[j] = acc * scale;                                                                \
        }                                                                                       \
        softmax_prefix_row(sh, n);                                                              \
    }                                                                                           \
    if (hs % YW) { /* odd head sizes: plain loops */                                           \
        for (int h = 0; h < NH; h++) {                                                          \
            const float *sh = s + (size_t)h * T_max, *vh = v + (size_t)h * T_max * hs;          \
            float *yh = y + (size_t)h * hs;                                                     \
            for (int d = 0; d < hs; d++) yh[d] = 0.0f;                                          \
            for (int j = 0; j < n; j++)                                                         \
                for (int d = 0; d < hs; d++) yh[d] += sh[j] * vh[(size_t)j * hs + d];           \
        }                                                                                       \
        return;                                                                                 \
    }                                                                                           \
    /* y in column blocks of YW (each inside one head), 8 blocks at a time */                  \
    for (int c0 = 0; c0 < C; c0 += 8 * YW) {                                                    \
        const int nblk = C - c0 < 8 * YW ? (C - c0) / YW : 8;                                   \
        const float *sb[8], *vb[8];                                                             \
        for (int u = 0; u < 8; u++) { /* blocks past the end repeat the last (not stored) */  \
            const int c = c0 + YW * (u < nblk ? u : nblk - 1), h = c / hs;                      \
            sb[u] = s + (size_t)h * T_max;                                                      \
            vb[u] = v + (size_t)h * T_max * hs + (c - h * hs);                                  \
        }                                                                                       \
        YT acc[8] = {{0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}};                                   \
        for (int j = 0; j < n; j++)                                                             \
            _Pragma("GCC unroll 8") for (int u = 0; u < 8; u++) {                               \
                YT vj;                                                                          \
                memcpy(&vj, vb[u] + (size_t)j * hs, sizeof vj);                                 \
                acc[u] += sb[u][j] * vj;                                                        \
            }                                                                                   \
        for (int u = 0; u < nblk; u++) memcpy(y + c0 + YW * u, &acc[u], sizeof acc[u]);        \
    }                                                                                           \
}

#ifdef SMALL_HEAD_VARIANTS
DEFINE_ATTENTION_STEP_ROW(vf16, 16, vf8, 8, _v4, ATTR_V4)
DEFINE_ATTENTION_STEP_ROW(vf8, 8, vf8, 8, _v3, ATTR_V3)
#endif
DEFINE_ATTENTION_STEP_ROW(vf4, 4, vf4, 4, _v0, )

typedef void (*attention_step_row_fn)(float *, float *, const float *, const float *, const float *,
                                      int, int, int, int, float);

static attention_step_row_fn attention_step_row_pick(void)
{
#ifdef SMALL_HEAD_VARIANTS
    const int isa = small_head_isa();
    if (isa == 4) return attention_step_row_v4;
    if (isa == 3) return attention_step_row_v3;
#endif
    return attention_step_row_v0;
}

/* out (B,OC) = inp (B,C) @ w (C,OC) + bias: matmul_forward, except that one row (sampling
 * a single sequence) goes through sgemv; sgemm with M = 1 spends most of its time packing
 * the weights. (The two round differently, at the level of fp32 rounding.) */
static void step_matmul(float *out, const float *inp, const float *w, const float *bias, int B,
                        int C, int OC)
{
    if (B > 1) {
        matmul_forward(out, inp, w, bias, (size_t)B, C, OC);
        return;
    }
    memcpy(out, bias, (size_t)OC * sizeof(float));
    cblas_sgemv(CblasRowMajor, CblasTrans, C, OC, 1.0f, w, OC, inp, 1, 1.0f, out, 1);
}

static void step_logprobs(float *logprobs, const float *logits, int B, int V)
{
    // logprobs (B,V) = log softmax of each logits row (B,V)
#pragma omp parallel for schedule(static) if ((size_t)B * V >= PAR_MIN / 4)
    for (int r = 0; r < B; r++) log_softmax_vec(logprobs + (size_t)r * V, logits + (size_t)r * V, V);
}

static alim_status step_impl(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens,
                             float *logprobs, alim_error *err)
{
    alim_status st = cache_check_model(m, c, err);
    if (st) return st;
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int hs = C / NH, B = c->B, Bc = c->B_cap, T_max = c->T_max, pos = c->t;
    const float scale = 1.0f / sqrtf((float)hs), eps = cfg->layer_norm_epsilon;
    const attention_step_row_fn attention_step_row = attention_step_row_pick();
    if (pos >= T_max)
        return alim_error_set(err, ALIM_EINVAL, "cache", "full: %d positions are in use (the cache holds %d; the model's context is %d)", pos, T_max, cfg->n_positions);
    for (int b = 0; b < B; b++)
        if (tokens[b] < 0 || tokens[b] >= V)
            return alim_error_set(err, ALIM_EINVAL, "input", "token id %d of row %d is outside the vocabulary [0, %d)", tokens[b], b, V);

    const size_t BC = (size_t)B * C;
    float *x = c->work, *ln = x + BC, *mean = ln + BC, *rstd = mean + B, *qkv = rstd + B;
    float *atty = qkv + 3 * BC, *tmp = atty + BC, *h = tmp + BC, *att = h + 4 * BC;
    const alim_gpt_tensors *p = &m->p;

    // x (B,C) = wte[tokens] + wpe[pos]
    for (int b = 0; b < B; b++) {
        const float *te = p->wte + (size_t)tokens[b] * C, *pe = p->wpe + (size_t)pos * C;
        for (int i = 0; i < C; i++) x[(size_t)b * C + i] = te[i] + pe[i];
    }
    for (int l = 0; l < L; l++) {
        const size_t lc = (size_t)l * C;
        float *kl = c->k + (size_t)l * Bc * C * T_max, *vl = c->v + (size_t)l * Bc * C * T_max;
        layernorm_forward(ln, mean, rstd, x, p->ln1w + lc, p->ln1b + lc, B, C, eps);
        step_matmul(qkv, ln, p->qkvw + lc * 3 * C, p->qkvb + lc * 3, B, C, 3 * C);  // (B,3C)
        // the new position's key and value go into the cache, then the query attends
        // over positions 0..pos of its own row
#pragma omp parallel for schedule(static) if ((size_t)B * C * (pos + 1) >= PAR_MIN)
        for (int b = 0; b < B; b++) {
            const float *qb = qkv + (size_t)b * 3 * C;
            float *kt = kl + (size_t)b * C * T_max, *vc = vl + (size_t)b * C * T_max;
            for (int hd = 0; hd < NH; hd++) {
                const float *k = qb + C + (size_t)hd * hs, *v = k + C;
                float *kth = kt + (size_t)hd * hs * T_max;
                for (int d = 0; d < hs; d++) kth[(size_t)d * T_max + pos] = k[d];
                memcpy(vc + ((size_t)hd * T_max + pos) * hs, v, (size_t)hs * sizeof(float));
            }
            attention_step_row(atty + (size_t)b * C, att + (size_t)b * NH * T_max, qb, kt, vc, pos + 1, T_max, NH, hs, scale);
        }
        step_matmul(tmp, atty, p->attprojw + lc * C, p->attprojb + lc, B, C, C);
        residual_forward(x, x, tmp, BC);
        layernorm_forward(ln, mean, rstd, x, p->ln2w + lc, p->ln2b + lc, B, C, eps);
        step_matmul(h, ln, p->fcw + lc * 4 * C, p->fcb + lc * 4, B, C, 4 * C);  // (B,4C)
        gelu_forward(h, h, 4 * BC);
        step_matmul(tmp, h, p->fcprojw + lc * 4 * C, p->fcprojb + lc, B, 4 * C, C);
        residual_forward(x, x, tmp, BC);
    }
    layernorm_forward(ln, mean, rstd, x, p->lnfw, p->lnfb, B, C, eps);
    // logits (B,V) = lnf (B,C) @ wte^T
    if (B > 1) gemm(CblasNoTrans, CblasTrans, B, V, C, 1.0f, ln, C, p->wte, C, 0.0f, c->logits, V);
    else cblas_sgemv(CblasRowMajor, CblasNoTrans, V, C, 1.0f, p->wte, C, ln, 1, 0.0f, c->logits, 1);
    if (logprobs) step_logprobs(logprobs, c->logits, B, V);
    c->t = pos + 1;
    return ALIM_OK;
}

alim_status alim_gpt_forward_step(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens,
                                  float *logprobs, alim_error *err)
{
    int saved = blas_threads_begin();
    alim_status st = step_impl(m, c, tokens, logprobs, err);
    blas_threads_end(saved);
    return st;
}

alim_status alim_gpt_cache_prefill(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens, int T0,
                                   float *logprobs, alim_error *err)
{
    alim_status st = cache_check_model(m, c, err);
    if (st) return st;
    if (c->t != 0) return alim_error_set(err, ALIM_EINVAL, "cache", "prefill needs an empty cache (%d positions in use; reset it)", c->t);
    if (T0 < 1 || T0 > c->T_max)
        return alim_error_set(err, ALIM_EINVAL, "cache", "prefill of %d tokens: the cache holds 1 to %d", T0, c->T_max);
    const int B = c->B;
    st = alim_gpt_forward(m, tokens, NULL, B, T0, err);
    if (st) return st;
    const alim_gpt_config *cfg = &m->config;
    const int L = cfg->n_layer, C = cfg->n_embd, NH = cfg->n_head, V = cfg->vocab_size;
    const int hs = C / NH, Bc = c->B_cap, T_max = c->T_max;
    const size_t BT = (size_t)B * T0;
    // keys and values from the forward's qkv (L,B,T0,3C)
    for (int l = 0; l < L; l++) {
        const float *qkv = m->a.qkv + (size_t)l * BT * 3 * C;
        float *kl = c->k + (size_t)l * Bc * C * T_max, *vl = c->v + (size_t)l * Bc * C * T_max;
#pragma omp parallel for schedule(static) if (BT * C >= PAR_MIN)
        for (int bh = 0; bh < B * NH; bh++) {
            const int b = bh / NH, hd = bh % NH;
            float *kt = kl + (size_t)bh * hs * T_max, *vc = vl + (size_t)bh * T_max * hs;
            for (int t = 0; t < T0; t++) {
                const float *k = qkv + ((size_t)b * T0 + t) * 3 * C + C + (size_t)hd * hs, *v = k + C;
                for (int d = 0; d < hs; d++) kt[(size_t)d * T_max + t] = k[d];
                memcpy(vc + (size_t)t * hs, v, (size_t)hs * sizeof(float));
            }
        }
    }
    for (int b = 0; b < B; b++)
        memcpy(c->logits + (size_t)b * V, m->a.logits + ((size_t)b * T0 + T0 - 1) * V, (size_t)V * sizeof(float));
    if (logprobs) step_logprobs(logprobs, c->logits, B, V);
    c->t = T0;
    return ALIM_OK;
}

alim_status alim_gpt_cache_keep_rows(alim_gpt_cache *c, const int *keep, int n, alim_error *err)
{
    if (n < 0 || n > c->B) return alim_error_set(err, ALIM_EINVAL, "cache", "cannot keep %d of %d rows", n, c->B);
    for (int i = 0; i < n; i++)
        if (keep[i] < 0 || keep[i] >= c->B || (i > 0 && keep[i] <= keep[i - 1]))
            return alim_error_set(err, ALIM_EINVAL, "cache", "rows to keep must increase within [0, %d): entry %d is %d", c->B, i, keep[i]);
    const alim_gpt_config *cfg = &c->config;
    const size_t row = (size_t)cfg->n_embd * c->T_max, V = (size_t)cfg->vocab_size;
    // keep[i] >= i, so moving rows down in increasing order never overwrites a kept row
    for (int i = 0; i < n; i++) {
        if (keep[i] == i) continue;
        for (int l = 0; l < cfg->n_layer; l++) {
            const size_t base = (size_t)l * c->B_cap * row;
            memmove(c->k + base + (size_t)i * row, c->k + base + (size_t)keep[i] * row, row * sizeof(float));
            memmove(c->v + base + (size_t)i * row, c->v + base + (size_t)keep[i] * row, row * sizeof(float));
        }
        memmove(c->logits + (size_t)i * V, c->logits + (size_t)keep[i] * V, V * sizeof(float));
    }
    c->B = n;
    return ALIM_OK;
}
