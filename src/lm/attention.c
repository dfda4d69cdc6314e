/* attention.c — causal self-attention with grouped key/value heads: the blocked sgemm
 * path, the small-head (hs = 8, 16) kernels, and one decoding step's row (see kernels.h). */
#include "kernels.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Small heads (hs = 8 or 16): the per-head products have K = hs, far too short for sgemm
 * (packing and edge handling cost more than the FMAs), so they are written out as loops
 * over a compile-time head size with gcc vector types, RB rows (or CB columns) at a time
 * for independent accumulators. They rely on the zero upper triangles that
 * lm_softmax_causal_rows and lm_softmax_backward_rows leave in s and ds. Every sum runs in a
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

int lm_attention_small_head(int hs) { return (hs == 16 || hs == 8) && !getenv("ALIM_ATT_SGEMM"); }

/* kt (hs, T) = k (T, hs) transposed, rows of k stride ldk */
static void transpose_head(float *kt, const float *k, int ldk, int T, int hs)
{
    for (int j = 0; j < T; j++)
        for (int d = 0; d < hs; d++) kt[(size_t)d * T + j] = k[(size_t)j * ldk + d];
}

/* Query head h reads key/value head h / rep (rep = NH / NKV: Hugging Face's repeat_kv
 * repeats each key/value head rep times in a row). Rows of qkv hold the NH query heads,
 * then the NKV key heads, then the NKV value heads, hs floats each; ld = (NH + 2 NKV) hs. */
typedef struct {
    int NH, NKV, hs, rep, ld, C; /* C = NH hs, the width of out */
} att_shape;

static att_shape att_shape_of(int NH, int NKV, int hs)
{
    const att_shape a = {NH, NKV, hs, NH / NKV, (NH + 2 * NKV) * hs, NH * hs};
    return a;
}

static void attention_forward_small(float *out, float *att, float *tbuf, const float *qkv, int B,
                                    int T, att_shape a)
{
    const int hs = a.hs, NH = a.NH, ld = a.ld, C = a.C, koff = NH * hs, voff = (NH + a.NKV) * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    const small_head_kernels kern = small_head_pick(hs);
#pragma omp parallel
    {
        float *kt = tbuf + (size_t)omp_get_thread_num() * hs * T;
#pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < B * NH; bh++) {
            int b = bh / NH, h = bh % NH, kh = h / a.rep;
            const float *row = qkv + (size_t)b * T * ld;
            const float *q = row + (size_t)h * hs;
            const float *k = row + koff + (size_t)kh * hs, *v = row + voff + (size_t)kh * hs;
            float *s = att + (size_t)bh * T * T;
            float *y = out + (size_t)b * T * C + (size_t)h * hs;
            transpose_head(kt, k, ld, T, hs);
            kern.qkt(s, q, ld, kt, T, scale);
            lm_softmax_causal_rows(s, T);
            kern.sv(y, C, s, v, ld, T, 1.0f);
        }
    }
}

/* (small heads without grouping: each key/value head has one query head, so dk and dv are
 * written once) */
static void attention_backward_small(float *dqkv, float *scratch, float *tbuf, const float *dout,
                                     const float *qkv, const float *att, int B, int T, att_shape a)
{
    const int hs = a.hs, NH = a.NH, ld = a.ld, C = a.C, koff = NH * hs, voff = (NH + a.NKV) * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    const small_head_kernels kern = small_head_pick(hs);
#pragma omp parallel
    {
        float *vt = tbuf + (size_t)omp_get_thread_num() * hs * T;
#pragma omp for schedule(dynamic, 1)
        for (int bh = 0; bh < B * NH; bh++) {
            int b = bh / NH, h = bh % NH;
            const size_t rowoff = (size_t)b * T * ld;
            const float *q = qkv + rowoff + (size_t)h * hs, *k = qkv + rowoff + koff + (size_t)h * hs;
            const float *v = qkv + rowoff + voff + (size_t)h * hs;
            float *dq = dqkv + rowoff + (size_t)h * hs, *dk = dqkv + rowoff + koff + (size_t)h * hs;
            float *dv = dqkv + rowoff + voff + (size_t)h * hs;
            const float *s = att + (size_t)bh * T * T;
            const float *dy = dout + (size_t)b * T * C + (size_t)h * hs;
            float *ds = scratch + (size_t)omp_get_thread_num() * T * T;
            transpose_head(vt, v, ld, T, hs);
            kern.qkt(ds, dy, C, vt, T, 1.0f);      // ds[i, j<=i] = dy[i] . v[j]
            kern.stu(dv, ld, s, dy, C, T, 1.0f);   // dv[j] = sum_{i>=j} s[i,j] dy[i]
            lm_softmax_backward_rows(ds, s, T);     // ds = d pre-softmax scores
            kern.sv(dq, ld, ds, k, ld, T, scale);  // dq[i] = scale sum_{j<=i} ds[i,j] k[j]
            kern.stu(dk, ld, ds, q, ld, T, scale); // dk[j] = scale sum_{i>=j} ds[i,j] q[i]
        }
    }
}

void lm_attention_forward(float *out, float *att, float *tbuf, const float *qkv, int B, int T,
                          int NH, int NKV, int hs)
{
    const att_shape a = att_shape_of(NH, NKV, hs);
    if (lm_attention_small_head(hs)) {
        attention_forward_small(out, att, tbuf, qkv, B, T, a);
        return;
    }
    // out (B,T,NH hs), att (B,NH,T,T), qkv (B,T,ld) with q | k | v heads
    const int ld = a.ld, C = a.C, koff = NH * hs, voff = (NH + NKV) * hs;
    const float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(dynamic, 1)
    for (int bh = 0; bh < B * NH; bh++) {
        int b = bh / NH, h = bh % NH, kh = h / a.rep;
        const float *row = qkv + (size_t)b * T * ld;
        const float *q = row + (size_t)h * hs;
        const float *k = row + koff + (size_t)kh * hs, *v = row + voff + (size_t)kh * hs;
        float *s = att + (size_t)bh * T * T;
        float *y = out + (size_t)b * T * C + (size_t)h * hs;
        // s[r0:r1, 0:r1] = q[r0:r1] @ k[0:r1]^T * scale
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, scale,
                        q + (size_t)r0 * ld, ld, k, ld, 0.0f, s + (size_t)r0 * T, T);
        }
        lm_softmax_causal_rows(s, T);
        // y[r0:r1] (.,hs) = s[r0:r1, 0:r1] @ v[0:r1]
        for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
            int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f,
                        s + (size_t)r0 * T, T, v, ld, 0.0f, y + (size_t)r0 * C, C);
        }
    }
}

void lm_attention_backward(float *dqkv, float *scratch, float *tbuf, const float *dout,
                           const float *qkv, const float *att, int B, int T, int NH, int NKV, int hs)
{
    // dqkv (B,T,ld) written (not accumulated), scratch (threads,T,T), dout (B,T,NH hs),
    // qkv (B,T,ld), att (B,NH,T,T)
    const att_shape a = att_shape_of(NH, NKV, hs);
    if (lm_attention_small_head(hs) && a.rep == 1) {
        attention_backward_small(dqkv, scratch, tbuf, dout, qkv, att, B, T, a);
        return;
    }
    const int ld = a.ld, C = a.C, koff = NH * hs, voff = (NH + NKV) * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    /* one task per (batch row, key/value head): the rep query heads that share the head
     * add their dk and dv in order (beta 1 after the first), so no two threads write the
     * same rows and the sums do not depend on timing */
#pragma omp parallel for schedule(dynamic, 1)
    for (int bk = 0; bk < B * NKV; bk++) {
        const int b = bk / NKV, kh = bk % NKV;
        const size_t rowoff = (size_t)b * T * ld;
        const float *k = qkv + rowoff + koff + (size_t)kh * hs, *v = qkv + rowoff + voff + (size_t)kh * hs;
        float *dk = dqkv + rowoff + koff + (size_t)kh * hs, *dv = dqkv + rowoff + voff + (size_t)kh * hs;
        float *ds = scratch + (size_t)omp_get_thread_num() * T * T;
        for (int r = 0; r < a.rep; r++) {
            const int h = kh * a.rep + r;
            const float beta = r == 0 ? 0.0f : 1.0f;
            const float *q = qkv + rowoff + (size_t)h * hs;
            float *dq = dqkv + rowoff + (size_t)h * hs;
            const float *s = att + ((size_t)b * NH + h) * T * T;
            const float *dy = dout + (size_t)b * T * C + (size_t)h * hs;
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
                // ds[r0:r1, 0:r1] = dy[r0:r1] @ v[0:r1]^T
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f,
                            dy + (size_t)r0 * C, C, v, ld, 0.0f, ds + (size_t)r0 * T, T);
                // dv[r0:r1] (+)= s[r0:T, r0:r1]^T @ dy[r0:T]   (only queries t >= key j see key j)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, hs, T - r0, 1.0f,
                            s + (size_t)r0 * T + r0, T, dy + (size_t)r0 * C, C, beta,
                            dv + (size_t)r0 * ld, ld);
            }
            lm_softmax_backward_rows(ds, s, T);  // ds = d pre-softmax scores
            for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
                int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
                // dq[r0:r1] = scale * ds[r0:r1, 0:r1] @ k[0:r1]
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, scale,
                            ds + (size_t)r0 * T, T, k, ld, 0.0f, dq + (size_t)r0 * ld, ld);
                // dk[r0:r1] (+)= scale * ds[r0:T, r0:r1]^T @ q[r0:T]
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1 - r0, hs, T - r0, scale,
                            ds + (size_t)r0 * T + r0, T, q + (size_t)r0 * ld, ld, beta,
                            dk + (size_t)r0 * ld, ld);
            }
        }
    }
}

/* The new query of one row against its cached positions 0..n-1, all heads. The sums run
 * in the order of the full forward's attention (small-head kernels and blocked sgemm
 * alike): each score summed over d in order, then scaled; lm_softmax_prefix_row; each output
 * summed over j in order (the upper triangle the full forward multiplies by 0 adds exact
 * zeros). Independent chains come from 4 blocks of VW positions (scores) and from up to
 * 8 blocks of YW output columns of any heads (all heads share n), so the FMA latency is
 * hidden without reordering any sum. Variants per vector width as for the small-head
 * kernels (VT of VW floats for the scores, YT of YW floats for the outputs). */
#define DEFINE_ATTENTION_STEP_ROW(VT, VW, YT, YW, SUF, ATTR)                                    \
ATTR static void attention_step_row##SUF(float *y, float *s, const float *q, const float *kt,   \
                                         const float *v, int n, int T_max, int NH, int rep,   \
                                         int hs, float scale)                                           \
{                                                                                               \
    /* y (C), s (NH,T_max) scores, q (C), kt (NH,hs,T_max) keys transposed, v (NH,T_max,hs) */ \
    const int C = NH * hs;                                                                      \
    for (int h = 0; h < NH; h++) {                                                              \
        const float *qh = q + (size_t)h * hs, *kh = kt + (size_t)(h / rep) * hs * T_max;        \
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
        lm_softmax_prefix_row(sh, n);                                                              \
    }                                                                                           \
    if (hs % YW) { /* odd head sizes: plain loops */                                           \
        for (int h = 0; h < NH; h++) {                                                          \
            const float *sh = s + (size_t)h * T_max, *vh = v + (size_t)(h / rep) * T_max * hs;  \
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
            vb[u] = v + (size_t)(h / rep) * T_max * hs + (c - h * hs);                          \
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



lm_attention_step_row_fn lm_attention_step_row_pick(void)
{
#ifdef SMALL_HEAD_VARIANTS
    const int isa = small_head_isa();
    if (isa == 4) return attention_step_row_v4;
    if (isa == 3) return attention_step_row_v3;
#endif
    return attention_step_row_v0;
}
