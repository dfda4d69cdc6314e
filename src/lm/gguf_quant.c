/* gguf_quant.c — ggml tensor types: names, block sizes, and fp32 dequantisation.
 *
 * Block layouts follow ggml's spec (ggml-common.h); every field is read byte by byte as
 * little-endian, so blocks need no alignment and the code does not depend on the host's
 * byte order. Each dequantiser evaluates exactly the float operations of ggml's reference
 * dequantize_row_* in the same order (e.g. Q4_K: d1 = d * sc, then d1 * q - m1; Q6_K:
 * (d * sc) * q), so the results are the same bits as ggml's and gguf-py's.
 *
 * Contraction of a*b+c into a fused multiply-add would change the last bit, and GCC
 * contracts by default in gnu11 mode whenever the target has FMA (e.g. -march=native), so
 * it is switched off for this file.
 */

#include <stdint.h>
#include <string.h>

#include "alim/gguf.h"

typedef struct {
    const char *name;
    int block_size;  /* elements per block */
    int block_bytes; /* bytes per block */
} type_traits;

/* Every type id ggml (and gguf-py 0.19) defines; gaps are ids ggml removed. Sizes from the
 * ggml block structs (QK_K = 256). */
static const type_traits TYPES[] = {
    [0] = {"F32", 1, 4},          [1] = {"F16", 1, 2},          [2] = {"Q4_0", 32, 18},
    [3] = {"Q4_1", 32, 20},       [6] = {"Q5_0", 32, 22},       [7] = {"Q5_1", 32, 24},
    [8] = {"Q8_0", 32, 34},       [9] = {"Q8_1", 32, 36},       [10] = {"Q2_K", 256, 84},
    [11] = {"Q3_K", 256, 110},    [12] = {"Q4_K", 256, 144},    [13] = {"Q5_K", 256, 176},
    [14] = {"Q6_K", 256, 210},    [15] = {"Q8_K", 256, 292},    [16] = {"IQ2_XXS", 256, 66},
    [17] = {"IQ2_XS", 256, 74},   [18] = {"IQ3_XXS", 256, 98},  [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},    [21] = {"IQ3_S", 256, 110},   [22] = {"IQ2_S", 256, 82},
    [23] = {"IQ4_XS", 256, 136},  [24] = {"I8", 1, 1},          [25] = {"I16", 1, 2},
    [26] = {"I32", 1, 4},         [27] = {"I64", 1, 8},         [28] = {"F64", 1, 8},
    [29] = {"IQ1_M", 256, 56},    [30] = {"BF16", 1, 2},        [34] = {"TQ1_0", 256, 54},
    [35] = {"TQ2_0", 256, 66},    [39] = {"MXFP4", 32, 17},     [40] = {"NVFP4", 64, 36},
    [41] = {"Q1_0", 128, 18},
};
enum { N_TYPES = (int)(sizeof TYPES / sizeof *TYPES) };

static const type_traits *traits(int type)
{
    if (type < 0 || type >= N_TYPES || !TYPES[type].name) return NULL;
    return &TYPES[type];
}

const char *alim_gguf_type_name(int type)
{
    const type_traits *t = traits(type);
    return t ? t->name : "unknown";
}

int alim_gguf_type_block_size(int type)
{
    const type_traits *t = traits(type);
    return t ? t->block_size : 0;
}

int alim_gguf_type_block_bytes(int type)
{
    const type_traits *t = traits(type);
    return t ? t->block_bytes : 0;
}

int alim_gguf_type_supported(int type)
{
    switch (type) {
    case ALIM_GGML_F32: case ALIM_GGML_F16: case ALIM_GGML_BF16: case ALIM_GGML_Q8_0:
    case ALIM_GGML_Q4_0: case ALIM_GGML_Q4_1: case ALIM_GGML_Q5_0: case ALIM_GGML_Q5_1:
    case ALIM_GGML_Q4_K: case ALIM_GGML_Q5_K: case ALIM_GGML_Q6_K:
        return 1;
    default:
        return 0;
    }
}

static inline uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static inline uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* IEEE binary16 -> binary32, exact for every input (subnormals are normalised, NaN
 * payloads kept in the top mantissa bits as the hardware conversion does). */
static inline float half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | man << 13);
    if (exp == 0) {
        if (man == 0) return bits_to_float(sign);
        /* subnormal: shift the leading 1 into the implicit position */
        int e = -1;
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400u));
        return bits_to_float(sign | (uint32_t)(112 - e) << 23 | (man & 0x3ffu) << 13);
    }
    return bits_to_float(sign | (exp + 112) << 23 | man << 13);
}

/* ---- one block each ------------------------------------------------------------------ */

/* Q4_0: f16 d, 16 bytes of nibbles; low nibbles are elements 0-15, high ones 16-31. */
static void dq_q4_0(const unsigned char *b, float *y)
{
    const float d = half_to_float(rd16(b));
    const unsigned char *q = b + 2;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((q[j] & 0x0f) - 8) * d;
        y[j + 16] = (float)((q[j] >> 4) - 8) * d;
    }
}

/* Q4_1: f16 d, f16 m, nibbles; x = q d + m. */
static void dq_q4_1(const unsigned char *b, float *y)
{
    const float d = half_to_float(rd16(b)), m = half_to_float(rd16(b + 2));
    const unsigned char *q = b + 4;
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(q[j] & 0x0f) * d + m;
        y[j + 16] = (float)(q[j] >> 4) * d + m;
    }
}

/* Q5_0: f16 d, uint32 of fifth bits (bit j for element j), nibbles; x = (q - 16) d. */
static void dq_q5_0(const unsigned char *b, float *y)
{
    const float d = half_to_float(rd16(b));
    const uint32_t qh = rd32(b + 2);
    const unsigned char *q = b + 6;
    for (int j = 0; j < 16; j++) {
        const int lo = (q[j] & 0x0f) | (int)((qh >> j) & 1u) << 4;
        const int hi = (q[j] >> 4) | (int)((qh >> (j + 16)) & 1u) << 4;
        y[j] = (float)(lo - 16) * d;
        y[j + 16] = (float)(hi - 16) * d;
    }
}

/* Q5_1: f16 d, f16 m, fifth bits, nibbles; x = q d + m. */
static void dq_q5_1(const unsigned char *b, float *y)
{
    const float d = half_to_float(rd16(b)), m = half_to_float(rd16(b + 2));
    const uint32_t qh = rd32(b + 4);
    const unsigned char *q = b + 8;
    for (int j = 0; j < 16; j++) {
        const int lo = (q[j] & 0x0f) | (int)((qh >> j) & 1u) << 4;
        const int hi = (q[j] >> 4) | (int)((qh >> (j + 16)) & 1u) << 4;
        y[j] = (float)lo * d + m;
        y[j + 16] = (float)hi * d + m;
    }
}

/* Q8_0: f16 d, 32 int8. */
static void dq_q8_0(const unsigned char *b, float *y)
{
    const float d = half_to_float(rd16(b));
    for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
}

/* The 6-bit scale and min of sub-block j (0-7) of a Q4_K/Q5_K super-block, packed in 12
 * bytes: sub-blocks 0-3 in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); 4-7 have
 * their low 4 bits in bytes 8-11 and their top 2 bits in the spare top bits of bytes 0-7. */
static inline void scale_min_k4(int j, const unsigned char *s, int *sc, int *mn)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | (s[j - 4] >> 6) << 4;
        *mn = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

/* Q4_K: f16 d, f16 dmin, 12 bytes of scales/mins, 128 bytes of nibbles; 8 sub-blocks of
 * 32; each 32 bytes of nibbles hold two sub-blocks (low nibbles first). */
static void dq_q4_k(const unsigned char *b, float *y)
{
    const float d = half_to_float(rd16(b)), dmin = half_to_float(rd16(b + 2));
    const unsigned char *sc = b + 4, *q = b + 16;
    for (int k = 0; k < 4; k++, q += 32, y += 64) {
        int s1, m1, s2, m2;
        scale_min_k4(2 * k, sc, &s1, &m1);
        scale_min_k4(2 * k + 1, sc, &s2, &m2);
        const float d1 = d * (float)s1, dm1 = dmin * (float)m1;
        const float d2 = d * (float)s2, dm2 = dmin * (float)m2;
        for (int l = 0; l < 32; l++) y[l] = d1 * (float)(q[l] & 0x0f) - dm1;
        for (int l = 0; l < 32; l++) y[l + 32] = d2 * (float)(q[l] >> 4) - dm2;
    }
}

/* Q5_K: as Q4_K plus 32 bytes of fifth bits: bit 2k of qh[l] for element l of sub-block
 * 2k, bit 2k+1 for sub-block 2k+1. */
static void dq_q5_k(const unsigned char *b, float *y)
{
    const float d = half_to_float(rd16(b)), dmin = half_to_float(rd16(b + 2));
    const unsigned char *sc = b + 4, *qh = b + 16, *q = b + 48;
    for (int k = 0; k < 4; k++, q += 32, y += 64) {
        int s1, m1, s2, m2;
        scale_min_k4(2 * k, sc, &s1, &m1);
        scale_min_k4(2 * k + 1, sc, &s2, &m2);
        const float d1 = d * (float)s1, dm1 = dmin * (float)m1;
        const float d2 = d * (float)s2, dm2 = dmin * (float)m2;
        for (int l = 0; l < 32; l++) {
            const int lo = (q[l] & 0x0f) | ((qh[l] >> (2 * k)) & 1) << 4;
            const int hi = (q[l] >> 4) | ((qh[l] >> (2 * k + 1)) & 1) << 4;
            y[l] = d1 * (float)lo - dm1;
            y[l + 32] = d2 * (float)hi - dm2;
        }
    }
}

/* Q6_K: 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 int8 scales (one per 16
 * elements), f16 d; two halves of 128 elements, x = (d * scale) * (q - 32). */
static void dq_q6_k(const unsigned char *b, float *y)
{
    const float d = half_to_float(rd16(b + 208));
    const unsigned char *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    for (int n = 0; n < 2; n++, ql += 64, qh += 32, sc += 8, y += 128) {
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32;
            const int q2 = ((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32;
            const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            y[l] = d * (float)sc[is] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}

/* ---- element types, a run of n at a time -------------------------------------------- */

static void cv_f32(const unsigned char *s, float *y, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) y[i] = bits_to_float(rd32(s + 4 * i));
}

static void cv_f16(const unsigned char *s, float *y, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) y[i] = half_to_float(rd16(s + 2 * i));
}

/* bfloat16 is the top half of a binary32. */
static void cv_bf16(const unsigned char *s, float *y, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) y[i] = bits_to_float((uint32_t)rd16(s + 2 * i) << 16);
}

/* Below this many elements a parallel region costs more than it saves; threads take work
 * in pieces of about CHUNK_ELEMENTS so a thread that is descheduled (a busy machine) does
 * not hold up the others, as a static split would. */
enum { PARALLEL_MIN_ELEMENTS = 1 << 15, CHUNK_ELEMENTS = 1 << 14 };

int alim_gguf_dequantize(int type, const void *src, float *dst, uint64_t n_blocks)
{
    void (*blk)(const unsigned char *, float *) = NULL;
    void (*run)(const unsigned char *, float *, uint64_t) = NULL;
    switch (type) {
    case ALIM_GGML_F32: run = cv_f32; break;
    case ALIM_GGML_F16: run = cv_f16; break;
    case ALIM_GGML_BF16: run = cv_bf16; break;
    case ALIM_GGML_Q4_0: blk = dq_q4_0; break;
    case ALIM_GGML_Q4_1: blk = dq_q4_1; break;
    case ALIM_GGML_Q5_0: blk = dq_q5_0; break;
    case ALIM_GGML_Q5_1: blk = dq_q5_1; break;
    case ALIM_GGML_Q8_0: blk = dq_q8_0; break;
    case ALIM_GGML_Q4_K: blk = dq_q4_k; break;
    case ALIM_GGML_Q5_K: blk = dq_q5_k; break;
    case ALIM_GGML_Q6_K: blk = dq_q6_k; break;
    default: return -1;
    }
    const unsigned char *s = src;
    const type_traits *t = traits(type);
    const size_t bb = (size_t)t->block_bytes, bs = (size_t)t->block_size;
    /* Every block (or run of elements) is computed by one thread with the same operations,
     * so neither the schedule nor the thread count can change any bit of the result. */
    if (run) {
        const int64_t n_chunks = (int64_t)((n_blocks + CHUNK_ELEMENTS - 1) / CHUNK_ELEMENTS);
#pragma omp parallel for schedule(dynamic, 1) if (n_blocks >= PARALLEL_MIN_ELEMENTS)
        for (int64_t c = 0; c < n_chunks; c++) {
            const uint64_t i0 = (uint64_t)c * CHUNK_ELEMENTS;
            const uint64_t len = n_blocks - i0 < CHUNK_ELEMENTS ? n_blocks - i0 : CHUNK_ELEMENTS;
            run(s + i0 * bb, dst + i0, len);
        }
    } else {
        const int64_t n = (int64_t)n_blocks, chunk = (int64_t)(CHUNK_ELEMENTS / bs);
#pragma omp parallel for schedule(dynamic, chunk) if (n_blocks * bs >= PARALLEL_MIN_ELEMENTS)
        for (int64_t i = 0; i < n; i++) blk(s + (size_t)i * bb, dst + (size_t)i * bs);
    }
    return 0;
}
