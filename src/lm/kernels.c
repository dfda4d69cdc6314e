/* kernels.c — elementwise passes, reductions, the matrix product and embeddings shared by
 * the transformer graphs (see kernels.h). */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---------------------------------------------------------------- */




/* dst[c] += sum_n src[n*ld + c] for c < C; parallel over blocks of columns, each summed
 * in a fixed order (double accumulators), so the result is independent of the thread count. */
void lm_colsum_add(float *dst, const float *src, size_t N, size_t C, size_t ld)
{
#pragma omp parallel for schedule(static)
    for (size_t c0 = 0; c0 < C; c0 += COLBLOCK) {
        size_t c1 = lm_zmin(C, c0 + COLBLOCK);
        double acc[COLBLOCK] = {0};
        for (size_t n = 0; n < N; n++) {
            const float *row = src + n * ld;
            for (size_t c = c0; c < c1; c++) acc[c - c0] += row[c];
        }
        for (size_t c = c0; c < c1; c++) dst[c] += (float)acc[c - c0];
    }
}


/* log(sum_v exp(row[v])) over V entries: max, then exps summed in 8 fixed lanes. */
LM_CLONES float lm_logsumexp_row(const float *row, int V)
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
        for (int j = 0; j < 8; j++) acc[j] += lm_exp_fast(row[v + j] - mx);
    double s = 0.0;
    for (; v < V; v++) s += lm_exp_fast(row[v] - mx);
    for (int j = 0; j < 8; j++) s += acc[j];
    return (float)(log(s) + mx);
}

/* ---- GELU (tanh approximation, "gelu_new") ------------------------------------------ */

#define GELU_SCALE 0.7978845608028654f /* sqrt(2/pi) */


LM_CLONES void lm_gelu_forward_chunk(float *out, const float *inp, size_t n)
{
    // gelu(x) = 0.5 x (1 + tanh(u)) = x sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        /* x * (1 / (1 + e)), not x / (1 + e): gcc splits the latter into one division
         * per clamp branch of lm_exp_fast (two vdivps per vector, half the speed) */
        out[i] = x * (1.0f / (1.0f + lm_exp_fast(-2.0f * u)));
    }
}

LM_CLONES void lm_gelu_backward_chunk(float *d, const float *inp, size_t n)
{
    // d := d * gelu'(inp);  gelu' = s + 2 x s (1 - s) u',  s = sigmoid(2u)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_SCALE * (x + 0.044715f * x * x * x);
        float s = 1.0f / (1.0f + lm_exp_fast(-2.0f * u));
        float du = GELU_SCALE * (1.0f + 3.0f * 0.044715f * x * x);
        d[i] *= s + 2.0f * x * s * (1.0f - s) * du;
    }
}


void lm_gelu_forward(float *out, const float *inp, size_t N)
{
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (size_t i = 0; i < N; i += ELEM_CHUNK) lm_gelu_forward_chunk(out + i, inp + i, lm_zmin(ELEM_CHUNK, N - i));
}

void lm_gelu_backward_inplace(float *d, const float *inp, size_t N)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < N; i += ELEM_CHUNK) lm_gelu_backward_chunk(d + i, inp + i, lm_zmin(ELEM_CHUNK, N - i));
}


void lm_residual_forward(float *out, const float *a, const float *b, size_t N)
{
#pragma omp parallel for schedule(static) if (N >= PAR_MIN)
    for (size_t i = 0; i < N; i += ELEM_CHUNK) lm_add_vectors(out + i, a + i, b + i, lm_zmin(ELEM_CHUNK, N - i));
}


/* rows [m0,m1) x columns [n0,n1) of C = alpha op(A) op(B) + beta C, with the epilogue */
static void gemm_block(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m0, int m1, int n0, int n1,
                       int K, float alpha, const float *A, int lda, const float *B, int ldb,
                       float beta, float *C, int ldc, const lm_gemm_epilogue *e)
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
        if (full) lm_gelu_forward_chunk(e->gelu_out + off, C + off, (size_t)(m1 - m0) * w);
        else
            for (int r = m0; r < m1; r++)
                lm_gelu_forward_chunk(e->gelu_out + (size_t)r * ldc + n0, C + (size_t)r * ldc + n0, w);
    }
    if (e->add_out) {
        const size_t nrow = full ? 1 : (size_t)(m1 - m0), len = full ? (size_t)(m1 - m0) * w : w;
        for (size_t r = 0; r < nrow; r++) {
            const size_t o = off + r * (size_t)ldc;
            lm_add_vectors(e->add_out + o, e->add_in + o, C + o, len);
        }
    }
}

/* C (M,N) = alpha * op(A) (M,K) @ op(B) (K,N) + beta * C, row-major, with the M rows (or,
 * when there are fewer rows than columns or too few rows, the N columns) split into
 * contiguous blocks handed to the OpenMP threads, each block a single-threaded sgemm. OpenBLAS's own
 * thread pool is kept out (see lm_blas_threads_begin): its spinning threads and OpenMP's
 * compete for the same cores and made training 10x slower. The K reduction is never split,
 * so the result does not depend on timing. e (or NULL) adds work before and after each block. */
void lm_gemm_epi(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc,
                     const lm_gemm_epilogue *e)
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

void lm_gemm(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                 const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    lm_gemm_epi(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, NULL);
}

/* ---- encoder: token + position embedding ------------------------------------------ */

void lm_encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe,
                            int B, int T, int C)
{
    // out (B,T,C), inp (B,T), wte (V,C), wpe (maxT,C) or NULL
    if (!wpe) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * C >= PAR_MIN)
        for (int bt = 0; bt < B * T; bt++) memcpy(out + (size_t)bt * C, wte + (size_t)inp[bt] * C, (size_t)C * sizeof(float));
        return;
    }
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

void lm_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp,
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
                if (dwpe) add_to(dwpe + (size_t)t * C + c0, d + c0, c1 - c0);
            }
    }
}

/* ---- causal self-attention ---------------------------------------------------------- */

/* Every sgemm runs inside an OpenMP loop (over row blocks, or (batch, head) in attention)
 * and must not start OpenBLAS's own threads: forward and backward set OpenBLAS to one
 * thread on entry and restore the caller's setting on exit.
 *
 * OpenBLAS's thread count is one setting for the whole process, and passes of different
 * models can run at once (the experiment runner computes cells side by side, alim/runner.h).
 * So the switch is counted: the first pass to begin saves the setting and sets one thread,
 * the last to end restores it. Without the count a pass that ended restored two threads
 * under a pass still running, whose products then took another OpenBLAS path (a multi-
 * threaded split instead of the single-thread small-matrix kernel) and other bits: a cell
 * computed side by side differed from the same cell computed alone in the 7th digit. */
static pthread_mutex_t blas_mutex = PTHREAD_MUTEX_INITIALIZER;
static int blas_depth, blas_saved;

int lm_blas_threads_begin(void)
{
    pthread_mutex_lock(&blas_mutex);
    if (blas_depth++ == 0) {
        blas_saved = openblas_get_num_threads();
        if (blas_saved != 1) openblas_set_num_threads(1);
    }
    const int n = blas_saved;
    pthread_mutex_unlock(&blas_mutex);
    return n;
}
void lm_blas_threads_end(int n)
{
    (void)n; /* the count decides, not the caller's copy */
    pthread_mutex_lock(&blas_mutex);
    if (--blas_depth == 0 && blas_saved != 1) openblas_set_num_threads(blas_saved);
    pthread_mutex_unlock(&blas_mutex);
}


/* row[0..n) := softmax(row[0..n)); max and sum in 8 fixed lanes. One causal attention row
 * (the full forward's rows and the cached decoding step share it, so they agree). */
LM_CLONES void lm_softmax_prefix_row(float *row, int n)
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
            const float e = lm_exp_fast(row[j + l] - mx);
            row[j + l] = e;
            sm8[l] += e;
        }
    float sum = 0.0f;
    for (; j < n; j++) {
        const float e = lm_exp_fast(row[j] - mx);
        row[j] = e;
        sum += e;
    }
    for (int l = 0; l < 8; l++) sum += sm8[l];
    float inv = 1.0f / sum;
    for (j = 0; j < n; j++) row[j] *= inv;
}

void lm_softmax_causal_rows(float *s, int T)
{
    // s (T,T): row t := softmax(s[t, 0..t]), zero after t
    for (int t = 0; t < T; t++) {
        float *row = s + (size_t)t * T;
        lm_softmax_prefix_row(row, t + 1);
        for (int j = t + 1; j < T; j++) row[j] = 0.0f;
    }
}

LM_CLONES void lm_softmax_backward_rows(float *ds, const float *s, int T)
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

/* row (V) := k * (softmax(row) - onehot(target)), given the row's log-sum-exp */
LM_CLONES void lm_dlogits_row(float *row, int V, float lse, int target, float k)
{
    for (int v = 0; v < V; v++) row[v] = k * lm_exp_fast(row[v] - lse);
    row[target] -= k;
}

/* out (V) = log softmax of row (V): max, sum of exp in double, one rounding of the log-sum-exp */
void lm_log_softmax_vec(float *out, const float *row, int V)
{
    float mx = row[0];
    for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
    double s = 0.0;
    for (int v = 0; v < V; v++) s += exp((double)(row[v] - mx));
    float lse = (float)(log(s) + mx);
    for (int v = 0; v < V; v++) out[v] = row[v] - lse;
}

void lm_step_logprobs(float *logprobs, const float *logits, int B, int V)
{
    // logprobs (B,V) = log softmax of each logits row (B,V)
#pragma omp parallel for schedule(static) if ((size_t)B * V >= PAR_MIN / 4)
    for (int r = 0; r < B; r++) lm_log_softmax_vec(logprobs + (size_t)r * V, logits + (size_t)r * V, V);
}

void lm_loss_rows(float *logits, float *losses, float *lse, const int32_t *targets, size_t r0,
                  size_t N, int V, int dlogits, float k)
{
    if (!targets) return;
#pragma omp parallel for schedule(static)
    for (size_t i = r0; i < r0 + N; i++) {
        if (targets[i] < 0) {
            losses[i] = 0.0f;
            continue;
        }
        float *row = logits + i * V;
        lse[i] = lm_logsumexp_row(row, V);
        losses[i] = (float)((double)lse[i] - row[targets[i]]);
        if (dlogits) lm_dlogits_row(row, V, lse[i], targets[i], k);
    }
    if (dlogits) // rows without a target get a zero gradient
        for (size_t i = r0; i < r0 + N; i++)
            if (targets[i] < 0) memset(logits + i * V, 0, (size_t)V * sizeof(float));
}

void lm_dlogits_rows(float *logits, const float *lse, const int32_t *targets, size_t r0, size_t N,
                     int V, float k)
{
#pragma omp parallel for schedule(static)
    for (size_t i = r0; i < r0 + N; i++) {
        float *row = logits + i * V;
        if (targets[i] < 0) memset(row, 0, (size_t)V * sizeof(float));
        else lm_dlogits_row(row, V, lse[i], targets[i], k);  // lse from the forward pass
    }
}
