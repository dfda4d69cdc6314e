/* test_lm_gguf.c — the GGUF reader on files built byte by byte here.
 *
 * Small GGUF files are assembled in memory (a tiny writer below, independent of the reader),
 * written to a temporary file and opened. Checks: every metadata getter and its error
 * messages, the value walker on nested arrays, hand-computed dequantisations of one block of
 * F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K and Q6_K, the same bits with 1 and 2
 * threads, and refusal of malformed files: every truncation of a valid file, bad magic,
 * versions, big-endian, counts and lengths of 2^63, dimensions, unknown types, alignment,
 * duplicates, overlaps, nesting depth; plus random byte flips (run under ASan this shows that
 * nothing reads outside the mapping).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/gguf.h"
#include "check.h"

/* ---- a minimal GGUF writer ----------------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p) abort();
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void u8(buf *b, unsigned v) { unsigned char c = (unsigned char)v; put(b, &c, 1); }
static void u16(buf *b, unsigned v) { u8(b, v & 0xff); u8(b, (v >> 8) & 0xff); }
static void u32(buf *b, uint32_t v) { for (int i = 0; i < 4; i++) u8(b, (v >> (8 * i)) & 0xff); }
static void u64(buf *b, uint64_t v) { for (int i = 0; i < 8; i++) u8(b, (unsigned)(v >> (8 * i)) & 0xff); }
static void str(buf *b, const char *s) { u64(b, strlen(s)); put(b, s, strlen(s)); }
static void f32(buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); u32(b, u); }
static void f64(buf *b, double d) { uint64_t u; memcpy(&u, &d, 8); u64(b, u); }
static void key(buf *b, const char *k, uint32_t type) { str(b, k); u32(b, type); }

typedef struct {
    const char *name;
    int n_dims;
    uint64_t ne[4];
    uint32_t type;
    const unsigned char *data;
    size_t n_bytes;
} tensor_spec;

/* header + kv (already encoded, n_kv entries) + tensor infos + aligned data */
static buf build(uint32_t version, const buf *kv, uint64_t n_kv, const tensor_spec *ts, int nt, uint64_t align)
{
    buf b = {0};
    put(&b, "GGUF", 4);
    u32(&b, version);
    u64(&b, (uint64_t)nt);
    u64(&b, n_kv);
    if (kv && kv->n) put(&b, kv->p, kv->n);
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        str(&b, ts[i].name);
        u32(&b, (uint32_t)ts[i].n_dims);
        for (int d = 0; d < ts[i].n_dims; d++) u64(&b, ts[i].ne[d]);
        u32(&b, ts[i].type);
        u64(&b, off);
        off += (ts[i].n_bytes + align - 1) / align * align;
    }
    while (b.n % align) u8(&b, 0);
    for (int i = 0; i < nt; i++) {
        put(&b, ts[i].data, ts[i].n_bytes);
        while (b.n % align) u8(&b, 0);
    }
    return b;
}

static char tmpdir[64];
static int file_no;

static const char *write_tmp(const void *p, size_t n)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/f%d.gguf", tmpdir, file_no++);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n) fwrite(p, 1, n, f);
    fclose(f);
    return path;
}

static alim_status open_buf(const buf *b, alim_gguf **g, alim_error *err)
{
    alim_error_clear(err);
    return alim_gguf_open(write_tmp(b->p, b->n), g, err);
}

/* Expects opening b to fail with EFORMAT and the message to contain `needle`. */
static void expect_bad(const buf *b, const char *needle, const char *label)
{
    alim_gguf *g = NULL;
    alim_error err;
    alim_status s = open_buf(b, &g, &err);
    CHECK(s == ALIM_EFORMAT && !g && strstr(err.what, needle), "%s: status %d, what '%s', want '%s'", label, s,
          err.what, needle);
    alim_gguf_close(g);
}

static uint16_t f2h(float f) /* exact for the values used here (normal halves) */
{
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint32_t sign = (u >> 16) & 0x8000u;
    const int e = (int)((u >> 23) & 0xff) - 127 + 15;
    return (uint16_t)(sign | (uint32_t)e << 10 | ((u >> 13) & 0x3ffu));
}

/* ---- metadata ---------------------------------------------------------------------------- */

static void test_metadata(void)
{
    buf kv = {0};
    uint64_t n = 0;
    key(&kv, "a.u8", ALIM_GGUF_UINT8), u8(&kv, 200), n++;
    key(&kv, "a.i8", ALIM_GGUF_INT8), u8(&kv, 0x80), n++;
    key(&kv, "a.u16", ALIM_GGUF_UINT16), u16(&kv, 65535), n++;
    key(&kv, "a.i16", ALIM_GGUF_INT16), u16(&kv, 0xfffe), n++;
    key(&kv, "a.u32", ALIM_GGUF_UINT32), u32(&kv, 4000000000u), n++;
    key(&kv, "a.i32", ALIM_GGUF_INT32), u32(&kv, (uint32_t)-7), n++;
    key(&kv, "a.u64", ALIM_GGUF_UINT64), u64(&kv, UINT64_MAX), n++;
    key(&kv, "a.i64", ALIM_GGUF_INT64), u64(&kv, (uint64_t)INT64_MIN), n++;
    key(&kv, "a.f32", ALIM_GGUF_FLOAT32), f32(&kv, 0.1f), n++;
    key(&kv, "a.f64", ALIM_GGUF_FLOAT64), f64(&kv, -2.5e300), n++;
    key(&kv, "a.bool", ALIM_GGUF_BOOL), u8(&kv, 1), n++;
    key(&kv, "a.str", ALIM_GGUF_STRING), str(&kv, "llama"), n++;
    key(&kv, "a.strs", ALIM_GGUF_ARRAY), u32(&kv, ALIM_GGUF_STRING), u64(&kv, 3), str(&kv, "x"), str(&kv, ""), str(&kv, "yz"), n++;
    key(&kv, "a.ints", ALIM_GGUF_ARRAY), u32(&kv, ALIM_GGUF_INT16), u64(&kv, 3), u16(&kv, 1), u16(&kv, 0xffff), u16(&kv, 300), n++;
    key(&kv, "a.bigs", ALIM_GGUF_ARRAY), u32(&kv, ALIM_GGUF_UINT64), u64(&kv, 2), u64(&kv, 5), u64(&kv, UINT64_MAX), n++;
    key(&kv, "a.floats", ALIM_GGUF_ARRAY), u32(&kv, ALIM_GGUF_FLOAT64), u64(&kv, 2), f64(&kv, 0.5), f64(&kv, 1e-3), n++;
    key(&kv, "a.empty", ALIM_GGUF_ARRAY), u32(&kv, ALIM_GGUF_INT32), u64(&kv, 0), n++;
    /* [[1, 2], [], [3]] of uint8 */
    key(&kv, "a.nested", ALIM_GGUF_ARRAY), u32(&kv, ALIM_GGUF_ARRAY), u64(&kv, 3);
    u32(&kv, ALIM_GGUF_UINT8), u64(&kv, 2), u8(&kv, 1), u8(&kv, 2);
    u32(&kv, ALIM_GGUF_UINT8), u64(&kv, 0);
    u32(&kv, ALIM_GGUF_UINT8), u64(&kv, 1), u8(&kv, 3), n++;
    key(&kv, "general.alignment", ALIM_GGUF_UINT32), u32(&kv, 64), n++;
    buf b = build(3, &kv, n, NULL, 0, 64);
    alim_gguf *g = NULL;
    alim_error err;
    CHECK(open_buf(&b, &g, &err) == ALIM_OK, "open: %s", err.what);
    if (!g) return;
    CHECK(alim_gguf_version(g) == 3 && alim_gguf_kv_count(g) == (int)n && alim_gguf_tensor_count(g) == 0, "counts");
    CHECK(alim_gguf_alignment(g) == 64 && alim_gguf_data_offset(g) % 64 == 0 && alim_gguf_data_offset(g) >= b.n - 63,
          "alignment 64, data offset %llu", (unsigned long long)alim_gguf_data_offset(g));
    int64_t i;
    double d;
    int bo;
    CHECK(!alim_gguf_get_int(g, "a.u8", &i, &err) && i == 200, "u8");
    CHECK(!alim_gguf_get_int(g, "a.i8", &i, &err) && i == -128, "i8");
    CHECK(!alim_gguf_get_int(g, "a.u16", &i, &err) && i == 65535, "u16");
    CHECK(!alim_gguf_get_int(g, "a.i16", &i, &err) && i == -2, "i16");
    CHECK(!alim_gguf_get_int(g, "a.u32", &i, &err) && i == 4000000000, "u32");
    CHECK(!alim_gguf_get_int(g, "a.i32", &i, &err) && i == -7, "i32");
    CHECK(!alim_gguf_get_int(g, "a.i64", &i, &err) && i == INT64_MIN, "i64");
    CHECK(alim_gguf_get_int(g, "a.u64", &i, &err) == ALIM_EFORMAT && strstr(err.what, "18446744073709551615 does not fit"),
          "u64 > INT64_MAX: %s", err.what);
    CHECK(!alim_gguf_get_float(g, "a.f32", &d, &err) && d == (double)0.1f, "f32");
    CHECK(!alim_gguf_get_float(g, "a.f64", &d, &err) && d == -2.5e300, "f64");
    CHECK(!alim_gguf_get_float(g, "a.u32", &d, &err) && d == 4e9, "float from an integer");
    CHECK(!alim_gguf_get_bool(g, "a.bool", &bo, &err) && bo == 1, "bool");
    const char *s;
    size_t len;
    CHECK(!alim_gguf_get_string(g, "a.str", &s, &len, &err) && len == 5 && !memcmp(s, "llama", 5), "string");
    /* type errors and missing keys name "<path>: <key>" */
    alim_error_clear(&err);
    CHECK(alim_gguf_get_int(g, "a.str", &i, &err) == ALIM_EFORMAT && !strcmp(err.what, "is a string, expected an integer"),
          "int from string: %s", err.what);
    char want_where[300];
    snprintf(want_where, sizeof want_where, "%s: a.str", alim_gguf_path(g));
    CHECK(!strcmp(err.where, want_where), "where: %s", err.where);
    CHECK(alim_gguf_get_string(g, "a.i8", &s, &len, &err) == ALIM_EFORMAT && !strcmp(err.what, "is an int8, expected a string"),
          "string from int8: %s", err.what);
    CHECK(alim_gguf_get_bool(g, "a.strs", &bo, &err) == ALIM_EFORMAT && !strcmp(err.what, "is an array of strings, expected a bool"),
          "bool from array: %s", err.what);
    CHECK(alim_gguf_get_int(g, "no.such", &i, &err) == ALIM_EFORMAT && !strcmp(err.what, "missing key") &&
          strstr(err.where, ": no.such"), "missing key: %s / %s", err.where, err.what);
    CHECK(alim_gguf_has_key(g, "a.nested") && !alim_gguf_has_key(g, "a.neste") && !alim_gguf_has_key(g, "a.nestedx"), "has_key");
    /* arrays */
    const char **sv;
    size_t *lv;
    uint64_t na;
    alim_status st = alim_gguf_get_string_array(g, "a.strs", &sv, &lv, &na, &err);
    CHECK(!st && na == 3 && lv[0] == 1 && sv[0][0] == 'x' && lv[1] == 0 && lv[2] == 2 && !memcmp(sv[2], "yz", 2),
          "string array");
    if (!st) free(sv), free(lv);
    int64_t *iv;
    st = alim_gguf_get_int_array(g, "a.ints", &iv, &na, &err);
    CHECK(!st && na == 3 && iv[0] == 1 && iv[1] == -1 && iv[2] == 300, "int16 array");
    if (!st) free(iv);
    alim_error_clear(&err);
    CHECK(alim_gguf_get_int_array(g, "a.bigs", &iv, &na, &err) == ALIM_EFORMAT && strstr(err.what, "element 1"),
          "uint64 array element too big: %s", err.what);
    st = alim_gguf_get_int_array(g, "a.empty", &iv, &na, &err);
    CHECK(!st && na == 0 && iv, "empty array gives a pointer");
    if (!st) free(iv);
    float *fv;
    st = alim_gguf_get_float_array(g, "a.floats", &fv, &na, &err);
    CHECK(!st && na == 2 && fv[0] == 0.5f && fv[1] == 1e-3f, "float64 array as float");
    if (!st) free(fv);
    CHECK(alim_gguf_get_float_array(g, "a.strs", &fv, &na, &err) == ALIM_EFORMAT, "float array from strings");
    CHECK(alim_gguf_get_int_array(g, "a.nested", &iv, &na, &err) == ALIM_EFORMAT &&
          !strcmp(err.what, "is an array of arrays, expected an array of integers"), "nested as int array: %s", err.what);
    /* the walker on the nested array */
    int found = 0;
    for (int k = 0; k < alim_gguf_kv_count(g); k++) {
        size_t kl;
        const char *kk = alim_gguf_kv_key(g, k, &kl);
        if (kl != 8 || memcmp(kk, "a.nested", 8)) continue;
        found = 1;
        alim_gguf_value v = alim_gguf_kv_value(g, k);
        CHECK(v.type == ALIM_GGUF_ARRAY && alim_gguf_array_type(v) == ALIM_GGUF_ARRAY && alim_gguf_array_length(v) == 3,
              "nested: outer");
        alim_gguf_value e0 = alim_gguf_array_first(v), e1 = alim_gguf_array_next(e0), e2 = alim_gguf_array_next(e1);
        CHECK(alim_gguf_array_length(e0) == 2 && alim_gguf_array_length(e1) == 0 && alim_gguf_array_length(e2) == 1,
              "nested: lengths");
        alim_gguf_value x = alim_gguf_array_first(e0);
        CHECK(alim_gguf_value_u64(x) == 1 && alim_gguf_value_u64(alim_gguf_array_next(x)) == 2 &&
              alim_gguf_value_u64(alim_gguf_array_first(e2)) == 3, "nested: values");
        CHECK(e0.size == 14 && e1.size == 12 && e2.size == 13 && v.size == 12 + 14 + 12 + 13, "nested: sizes");
    }
    CHECK(found, "walker finds a.nested");
    alim_gguf_close(g);
    free(kv.p);
    free(b.p);
}

/* ---- dequantisation by hand ----------------------------------------------------------------- */

/* Opens a one-tensor file of `type` with ne0 x ne1 elements from the given block bytes and
 * dequantises it. */
static int read_one(uint32_t type, uint64_t ne0, uint64_t ne1, const unsigned char *data, size_t nb, float *out)
{
    tensor_spec t = {"w", ne1 > 1 ? 2 : 1, {ne0, ne1, 1, 1}, type, data, nb};
    buf b = build(3, NULL, 0, &t, 1, 32);
    alim_gguf *g = NULL;
    alim_error err;
    int ok = open_buf(&b, &g, &err) == ALIM_OK;
    CHECK(ok, "open %s tensor: %s", alim_gguf_type_name((int)type), err.what);
    if (ok) {
        const alim_gguf_tensor *w = alim_gguf_find_tensor(g, "w");
        ok = w && w->n_elements == ne0 * ne1 && w->n_bytes == nb && alim_gguf_tensor_read_f32(g, w, out, &err) == ALIM_OK;
        CHECK(ok, "read %s tensor: %s", alim_gguf_type_name((int)type), err.what);
    }
    alim_gguf_close(g);
    free(b.p);
    return ok;
}

static void test_simple_types(void)
{
    /* F16: 1, -2, 65504, -0, smallest subnormal 2^-24, largest subnormal, inf, 1/3 */
    const uint16_t h[8] = {0x3c00, 0xc000, 0x7bff, 0x8000, 0x0001, 0x03ff, 0x7c00, 0x3555};
    const float hw[8] = {1.0f, -2.0f, 65504.0f, -0.0f, 0x1p-24f, 1023 * 0x1p-24f, INFINITY, 0x1.554p-2f};
    unsigned char raw[64];
    for (int i = 0; i < 8; i++) raw[2 * i] = h[i] & 0xff, raw[2 * i + 1] = h[i] >> 8;
    float y[256 * 4];
    if (read_one(ALIM_GGML_F16, 8, 1, raw, 16, y))
        for (int i = 0; i < 8; i++) CHECK(memcmp(&y[i], &hw[i], 4) == 0, "f16 %d: %a vs %a", i, y[i], hw[i]);
    /* BF16: the top halves of 1.5 and -3.0e38-ish */
    const uint16_t bf[2] = {0x3fc0, 0xff61};
    for (int i = 0; i < 2; i++) raw[2 * i] = bf[i] & 0xff, raw[2 * i + 1] = bf[i] >> 8;
    if (read_one(ALIM_GGML_BF16, 2, 1, raw, 4, y)) {
        uint32_t u = 0xff610000u;
        float w;
        memcpy(&w, &u, 4);
        CHECK(y[0] == 1.5f && y[1] == w, "bf16: %g %g", y[0], y[1]);
    }
    /* F32 passes through, also at alignment-1 addresses inside the file */
    const float fv[3] = {1.25f, -0.0f, NAN};
    if (read_one(ALIM_GGML_F32, 3, 1, (const unsigned char *)fv, 12, y)) CHECK(!memcmp(y, fv, 12), "f32 bits");
}

static void test_legacy_quants(void)
{
    unsigned char blk[2 * 34];
    float y[64];
    /* Q4_0, d = 0.5, byte j = j | (15 - j) << 4: element j = (j - 8) / 2, element 16 + j = (7 - j) / 2 */
    blk[0] = f2h(0.5f) & 0xff, blk[1] = f2h(0.5f) >> 8;
    for (int j = 0; j < 16; j++) blk[2 + j] = (unsigned char)(j | (15 - j) << 4);
    if (read_one(ALIM_GGML_Q4_0, 32, 1, blk, 18, y))
        for (int j = 0; j < 16; j++) {
            CHECK(y[j] == (float)(j - 8) * 0.5f, "q4_0 low %d: %g", j, y[j]);
            CHECK(y[16 + j] == (float)(7 - j) * 0.5f, "q4_0 high %d: %g", j, y[16 + j]);
        }
    /* Q4_1, d = 0.25, m = -1: x = q / 4 - 1 */
    blk[0] = f2h(0.25f) & 0xff, blk[1] = f2h(0.25f) >> 8, blk[2] = f2h(-1.0f) & 0xff, blk[3] = f2h(-1.0f) >> 8;
    for (int j = 0; j < 16; j++) blk[4 + j] = (unsigned char)(j | (15 - j) << 4);
    if (read_one(ALIM_GGML_Q4_1, 32, 1, blk, 20, y))
        for (int j = 0; j < 16; j++) CHECK(y[j] == j * 0.25f - 1 && y[16 + j] == (15 - j) * 0.25f - 1, "q4_1 %d", j);
    /* Q5_0, d = 2, qh = 0xffff0000 (fifth bit set for elements 16-31), nibbles j | j << 4:
     * element j = 2 (j - 16), element 16 + j = 2 (j + 16 - 16) = 2 j */
    blk[0] = f2h(2.0f) & 0xff, blk[1] = f2h(2.0f) >> 8;
    blk[2] = 0, blk[3] = 0, blk[4] = 0xff, blk[5] = 0xff;
    for (int j = 0; j < 16; j++) blk[6 + j] = (unsigned char)(j | j << 4);
    if (read_one(ALIM_GGML_Q5_0, 32, 1, blk, 22, y))
        for (int j = 0; j < 16; j++) CHECK(y[j] == 2.0f * (j - 16) && y[16 + j] == 2.0f * j, "q5_0 %d: %g %g", j, y[j], y[16 + j]);
    /* Q5_1, d = 1, m = 0.5, qh = 0x00000001 (only element 0): element 0 = 16 + 0 + .5 */
    blk[0] = f2h(1.0f) & 0xff, blk[1] = f2h(1.0f) >> 8, blk[2] = f2h(0.5f) & 0xff, blk[3] = f2h(0.5f) >> 8;
    blk[4] = 1, blk[5] = 0, blk[6] = 0, blk[7] = 0;
    for (int j = 0; j < 16; j++) blk[8 + j] = (unsigned char)(15 - j);
    if (read_one(ALIM_GGML_Q5_1, 32, 1, blk, 24, y)) {
        CHECK(y[0] == 31.5f, "q5_1 element 0: %g", y[0]);
        for (int j = 1; j < 16; j++) CHECK(y[j] == (15 - j) + 0.5f && y[16 + j] == 0.5f, "q5_1 %d", j);
    }
    /* Q8_0, two blocks in a 2 x 32 matrix: d = -0.125 and 3, q_j = j - 16 */
    for (int r = 0; r < 2; r++) {
        const float d = r ? 3.0f : -0.125f;
        blk[34 * r] = f2h(d) & 0xff, blk[34 * r + 1] = f2h(d) >> 8;
        for (int j = 0; j < 32; j++) blk[34 * r + 2 + j] = (unsigned char)(int8_t)(j - 16);
    }
    if (read_one(ALIM_GGML_Q8_0, 32, 2, blk, 68, y))
        for (int j = 0; j < 32; j++) CHECK(y[j] == (j - 16) * -0.125f && y[32 + j] == (j - 16) * 3.0f, "q8_0 %d", j);
}

/* 12 bytes of Q4_K/Q5_K scales and mins from 8 (scale, min) pairs of 6 bits */
static void pack_scales(unsigned char *s, const int *sc, const int *mn)
{
    for (int j = 0; j < 4; j++) {
        s[j] = (unsigned char)((sc[j] & 63) | (sc[j + 4] >> 4) << 6);
        s[j + 4] = (unsigned char)((mn[j] & 63) | (mn[j + 4] >> 4) << 6);
        s[j + 8] = (unsigned char)((sc[j + 4] & 15) | (mn[j + 4] & 15) << 4);
    }
}

static void test_k_quants(void)
{
    unsigned char blk[256];
    float y[256];
    /* sub-block b has scale sc[b] and min mn[b], including 6-bit values with top bits */
    const int sc[8] = {1, 2, 3, 63, 17, 40, 7, 63}, mn[8] = {0, 5, 63, 1, 33, 2, 48, 63};
    /* Q4_K: d = 0.5, dmin = 0.25, every byte 0x21 (low nibble 1, high 2): sub-block 2k has
     * q = 1, 2k+1 has q = 2; x = d sc q - dmin mn */
    memset(blk, 0x21, sizeof blk);
    blk[0] = f2h(0.5f) & 0xff, blk[1] = f2h(0.5f) >> 8, blk[2] = f2h(0.25f) & 0xff, blk[3] = f2h(0.25f) >> 8;
    pack_scales(blk + 4, sc, mn);
    if (read_one(ALIM_GGML_Q4_K, 256, 1, blk, 144, y))
        for (int i = 0; i < 256; i++) {
            const int b = i / 32, q = b % 2 ? 2 : 1;
            CHECK(y[i] == 0.5f * sc[b] * q - 0.25f * mn[b], "q4_k %d: %g", i, y[i]);
        }
    /* Q5_K: same scales, qs bytes 0x21, qh[l] = 0xaa (fifth bit set for odd sub-blocks) */
    memset(blk, 0, sizeof blk);
    blk[0] = f2h(0.5f) & 0xff, blk[1] = f2h(0.5f) >> 8, blk[2] = f2h(0.25f) & 0xff, blk[3] = f2h(0.25f) >> 8;
    pack_scales(blk + 4, sc, mn);
    memset(blk + 16, 0xaa, 32);
    memset(blk + 48, 0x21, 128);
    if (read_one(ALIM_GGML_Q5_K, 256, 1, blk, 176, y))
        for (int i = 0; i < 256; i++) {
            const int b = i / 32, q = b % 2 ? 2 + 16 : 1;
            CHECK(y[i] == 0.5f * sc[b] * q - 0.25f * mn[b], "q5_k %d: %g", i, y[i]);
        }
    /* Q6_K: d = 0.5, scales s_k = k - 8 (k = 0..15, one per 16 elements), quants:
     * low nibbles all 3, high nibbles all 9, 2-bit highs all 2 (qh = 0xaa): elements in the
     * first 64 of each half use low nibbles -> q = 3 | 2 << 4 = 35 -> 3; the next 64 use high
     * nibbles -> 9 | 32 = 41 -> 9. x = (d s) q */
    memset(blk, 0x93, 128);
    memset(blk + 128, 0xaa, 64);
    for (int k = 0; k < 16; k++) blk[192 + k] = (unsigned char)(int8_t)(k - 8);
    blk[208] = f2h(0.5f) & 0xff, blk[209] = f2h(0.5f) >> 8;
    if (read_one(ALIM_GGML_Q6_K, 256, 1, blk, 210, y))
        for (int i = 0; i < 256; i++) {
            const int q = (i % 128) < 64 ? 3 : 9;
            CHECK(y[i] == (0.5f * (float)(i / 16 - 8)) * (float)q, "q6_k %d: %g", i, y[i]);
        }
    /* Q6_K element order: one nonzero quant at a time lands where ggml puts it */
    memset(blk, 0, 208);
    for (int k = 0; k < 16; k++) blk[192 + k] = 1;
    for (int l = 0; l < 64; l++) blk[l] = 0x88; /* ql low = high = 8 everywhere in the first half */
    memset(blk + 128, 0x00, 64);
    if (read_one(ALIM_GGML_Q6_K, 256, 1, blk, 210, y))
        for (int i = 0; i < 256; i++) CHECK(y[i] == (i < 128 ? 0.5f * -24.0f : 0.5f * -32.0f), "q6_k order %d: %g", i, y[i]);
}

/* Random blocks decoded with 1 and 2 threads give the same bits. */
static void test_threads(void)
{
    const int types[] = {ALIM_GGML_Q4_0, ALIM_GGML_Q4_1, ALIM_GGML_Q5_0, ALIM_GGML_Q5_1, ALIM_GGML_Q8_0,
                         ALIM_GGML_Q4_K, ALIM_GGML_Q5_K, ALIM_GGML_Q6_K, ALIM_GGML_F16, ALIM_GGML_BF16, ALIM_GGML_F32};
    const uint64_t n_el = 1 << 17;
    float *a = malloc(n_el * 4), *b = malloc(n_el * 4);
    unsigned char *src = malloc(n_el * 4);
    uint64_t state = 12345;
    for (uint64_t i = 0; i < n_el * 4; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        src[i] = (unsigned char)(state >> 56);
    }
    for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
        const int t = types[k];
        const uint64_t nb = n_el / (uint64_t)alim_gguf_type_block_size(t);
        omp_set_num_threads(1);
        alim_gguf_dequantize(t, src, a, nb);
        omp_set_num_threads(2);
        alim_gguf_dequantize(t, src, b, nb);
        CHECK(!memcmp(a, b, n_el * 4), "%s: 1 and 2 threads give the same bits", alim_gguf_type_name(t));
    }
    CHECK(alim_gguf_dequantize(16, src, a, 1) == -1, "IQ2_XXS has no dequantiser");
    free(a), free(b), free(src);
}

/* ---- malformed files --------------------------------------------------------------------- */

static buf valid_file(void)
{
    static unsigned char q4[2 * 18], f[4 * 8];
    for (size_t i = 0; i < sizeof q4; i++) q4[i] = (unsigned char)(i * 37);
    q4[1] = 0x3c, q4[19] = 0x3c; /* sane scales */
    for (size_t i = 0; i < sizeof f; i++) f[i] = (unsigned char)(i + 1);
    buf kv = {0};
    key(&kv, "general.architecture", ALIM_GGUF_STRING), str(&kv, "llama");
    key(&kv, "x.arr", ALIM_GGUF_ARRAY), u32(&kv, ALIM_GGUF_STRING), u64(&kv, 2), str(&kv, "ab"), str(&kv, "c");
    tensor_spec ts[2] = {{"blk.0.w", 2, {32, 2, 1, 1}, ALIM_GGML_Q4_0, q4, sizeof q4},
                         {"out.nrm", 1, {8, 1, 1, 1}, ALIM_GGML_F32, f, sizeof f}};
    buf b = build(3, &kv, 2, ts, 2, 32);
    free(kv.p);
    return b;
}

static buf patched(const buf *b, size_t at, const void *bytes, size_t n)
{
    buf c = {0};
    put(&c, b->p, b->n);
    memcpy(c.p + at, bytes, n);
    return c;
}

static void test_bad_files(void)
{
    buf v = valid_file();
    alim_gguf *g = NULL;
    alim_error err;
    CHECK(open_buf(&v, &g, &err) == ALIM_OK, "valid file opens: %s", err.what);
    alim_gguf_close(g);
    /* every truncation fails cleanly (the file ends with the F32 data, no padding after it) */
    int all_fail = 1, all_say = 1;
    for (size_t cut = 0; cut < v.n; cut++) {
        buf c = {v.p, cut, cut};
        alim_status s = open_buf(&c, &g, &err);
        if (s != ALIM_EFORMAT || g) all_fail = 0, fprintf(stderr, "cut at %zu: status %d\n", cut, s);
        if (!strstr(err.what, "truncated")) all_say = 0, fprintf(stderr, "cut at %zu: %s\n", cut, err.what);
        alim_gguf_close(g);
        g = NULL;
    }
    CHECK(all_fail, "every truncation of a valid file is refused");
    CHECK(all_say, "every truncation message says 'truncated'");

    /* offsets in the valid file: header 24 bytes, then key 0 */
    const uint64_t big = UINT64_C(1) << 63;
    unsigned char le[8];
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(big >> (8 * i));
    buf c;
    c = patched(&v, 0, "GGML", 4), expect_bad(&c, "not a GGUF file", "magic"), free(c.p);
    c = patched(&v, 0, "FUGG", 4), expect_bad(&c, "big-endian", "reversed magic"), free(c.p);
    c = patched(&v, 4, "\0\0\0\3", 4), expect_bad(&c, "big-endian", "big-endian version"), free(c.p);
    c = patched(&v, 4, "\1\0\0\0", 4), expect_bad(&c, "GGUF version 1 is not supported", "version 1"), free(c.p);
    c = patched(&v, 4, "\7\0\0\0", 4), expect_bad(&c, "GGUF version 7 is not supported", "version 7"), free(c.p);
    c = patched(&v, 8, le, 8), expect_bad(&c, "tensor count 9223372036854775808", "tensor count 2^63"), free(c.p);
    c = patched(&v, 16, le, 8), expect_bad(&c, "metadata count 9223372036854775808", "kv count 2^63"), free(c.p);
    c = patched(&v, 24, le, 8), expect_bad(&c, "9223372036854775808 bytes", "key length 2^63"), free(c.p);
    /* general.architecture: key length 8 + 20 bytes, type 4, then the string length */
    c = patched(&v, 24 + 28 + 4, le, 8), expect_bad(&c, "a string of 9223372036854775808 bytes", "string length 2^63"), free(c.p);
    c = patched(&v, 24 + 28, "\x0d\0\0\0", 4), expect_bad(&c, "unknown value type 13", "value type 13"), free(c.p);
    /* x.arr: starts after "llama" (8 + 5); key 8 + 5, type 4, element type 4, length 8 */
    const size_t arr = 24 + 28 + 4 + 13 + 13 + 4;
    c = patched(&v, arr + 4, le, 8), expect_bad(&c, "array of 9223372036854775808 strings", "array length 2^63"), free(c.p);
    c = patched(&v, arr, "\x63\0\0\0", 4), expect_bad(&c, "array of unknown value type 99", "array element type"), free(c.p);
    /* tensor info 0 starts after x.arr's 12 + 10 + 9 bytes */
    const size_t ti = arr + 12 + 10 + 9, nd = ti + 8 + 7, type0 = nd + 4 + 16, off0 = type0 + 4;
    const size_t ti1 = off0 + 8, nd1 = ti1 + 8 + 7, off1 = nd1 + 4 + 8 + 4;
    c = patched(&v, nd, "\5\0\0\0", 4), expect_bad(&c, "has 5 dimensions", "5 dims"), free(c.p);
    c = patched(&v, nd, "\0\0\0\0", 4), expect_bad(&c, "has 0 dimensions", "0 dims"), free(c.p);
    c = patched(&v, nd + 4, "\0\0\0\0\0\0\0\0", 8), expect_bad(&c, "ne[0] = 0", "ne 0"), free(c.p);
    c = patched(&v, nd + 4, "\x21\0\0\0\0\0\0\0", 8), expect_bad(&c, "not a multiple of the Q4_0 block size 32", "ragged"), free(c.p);
    c = patched(&v, nd + 4 + 8, le, 8), expect_bad(&c, "ne[1] = 9223372036854775808", "ne 2^63"), free(c.p);
    c = patched(&v, nd + 4, "\0\0\0\0\0\0\0\x40", 8), expect_bad(&c, "overflows 64 bits", "element count overflow"), free(c.p);
    c = patched(&v, type0, "\x04\0\0\0", 4), expect_bad(&c, "unknown ggml tensor type id 4", "removed type 4"), free(c.p);
    c = patched(&v, type0, "\x63\0\0\0", 4), expect_bad(&c, "unknown ggml tensor type id 99", "type 99"), free(c.p);
    c = patched(&v, off0, "\x10\0\0\0\0\0\0\0", 8), expect_bad(&c, "not a multiple of the alignment 32", "misaligned"), free(c.p);
    c = patched(&v, off1, "\0\0\0\0\0\0\0\0", 8), expect_bad(&c, "overlaps", "overlap"), free(c.p);
    c = patched(&v, off1, "\xe0\xff\xff\xff\xff\xff\xff\xff", 8), expect_bad(&c, "truncated", "offset near 2^64"), free(c.p);
    c = patched(&v, ti1 + 8, "blk.0.w", 7), expect_bad(&c, "two tensors have this name", "duplicate tensor"), free(c.p);
    c = patched(&v, ti1 + 8, "o\0t", 3), expect_bad(&c, "contains a NUL byte", "NUL in name"), free(c.p);
    free(v.p);

    /* metadata-level problems */
    buf kv = {0};
    key(&kv, "a", ALIM_GGUF_UINT8), u8(&kv, 1);
    key(&kv, "a", ALIM_GGUF_UINT8), u8(&kv, 2);
    c = build(3, &kv, 2, NULL, 0, 32), expect_bad(&c, "metadata key 'a' appears twice", "duplicate key"), free(c.p), free(kv.p);
    const struct {
        uint32_t type;
        uint64_t value;
        const char *needle;
    } aligns[] = {{ALIM_GGUF_UINT32, 48, "48 is not a power of two"}, {ALIM_GGUF_UINT32, 0, "0 is not a power of two"},
                  {ALIM_GGUF_INT32, (uint32_t)-32, "-32 is not a power of two"}};
    for (size_t k = 0; k < sizeof aligns / sizeof *aligns; k++) {
        kv = (buf){0};
        key(&kv, "general.alignment", aligns[k].type), u32(&kv, (uint32_t)aligns[k].value);
        c = build(3, &kv, 1, NULL, 0, 32), expect_bad(&c, aligns[k].needle, "alignment"), free(c.p), free(kv.p);
    }
    kv = (buf){0};
    key(&kv, "general.alignment", ALIM_GGUF_STRING), str(&kv, "32");
    c = build(3, &kv, 1, NULL, 0, 32), expect_bad(&c, "is a string, expected an integer", "alignment string"), free(c.p), free(kv.p);
    /* arrays nested 9 deep are refused, 8 deep are fine */
    for (int depth = 8; depth <= 9; depth++) {
        kv = (buf){0};
        key(&kv, "deep", ALIM_GGUF_ARRAY);
        for (int k = 1; k < depth; k++) u32(&kv, ALIM_GGUF_ARRAY), u64(&kv, 1);
        u32(&kv, ALIM_GGUF_UINT8), u64(&kv, 1), u8(&kv, 7);
        c = build(3, &kv, 1, NULL, 0, 32);
        if (depth == 9) expect_bad(&c, "nested more than 8 deep", "depth 9");
        else {
            CHECK(open_buf(&c, &g, &err) == ALIM_OK, "depth 8 opens: %s", err.what);
            alim_gguf_close(g);
        }
        free(c.p), free(kv.p);
    }
    /* a type ggml knows but alim does not dequantise: listed, refused when read */
    unsigned char iq[66] = {0};
    tensor_spec t = {"blk.0.attn_q.weight", 1, {256, 1, 1, 1}, 16, iq, sizeof iq};
    c = build(2, NULL, 0, &t, 1, 32);
    g = NULL;
    CHECK(open_buf(&c, &g, &err) == ALIM_OK && alim_gguf_version(g) == 2, "IQ2_XXS file opens: %s", err.what);
    if (g) {
        float y[256];
        const alim_gguf_tensor *w = alim_gguf_tensor_at(g, 0);
        CHECK(alim_gguf_tensor_read_f32(g, w, y, &err) == ALIM_EFORMAT &&
              strstr(err.what, "tensor type IQ2_XXS (16) is not supported; alim reads F32") &&
              strstr(err.where, ": blk.0.attn_q.weight"), "IQ2_XXS refused: %s: %s", err.where, err.what);
        CHECK(!strcmp(alim_gguf_type_name(16), "IQ2_XXS") && !strcmp(alim_gguf_type_name(5), "unknown") &&
              !alim_gguf_type_supported(16) && alim_gguf_type_supported(14), "type names");
    }
    alim_gguf_close(g);
    free(c.p);
    /* an empty file, a directory, a missing file */
    c = (buf){0};
    expect_bad(&c, "truncated at byte 0", "empty file");
    CHECK(alim_gguf_open(tmpdir, &g, &err) == ALIM_EINVAL && !strcmp(err.where, tmpdir) && strstr(err.what, "directory"),
          "directory: %s", err.what);
    char missing[128];
    snprintf(missing, sizeof missing, "%s/none.gguf", tmpdir);
    CHECK(alim_gguf_open(missing, &g, &err) == ALIM_EINVAL && !strcmp(err.where, missing) && strstr(err.what, "cannot open"),
          "missing: %s", err.what);
    alim_gguf_close(NULL);
}

/* Random byte changes to a valid file: opening fails cleanly or succeeds, and reading every
 * tensor of a file that opened stays inside it (ASan would report otherwise). */
static void test_fuzz(void)
{
    buf v = valid_file();
    uint64_t state = 99;
    int opened = 0, refused = 0, bad = 0;
    float y[256];
    for (int it = 0; it < 3000; it++) {
        buf c = {0};
        put(&c, v.p, v.n);
        const int flips = 1 + it % 4;
        for (int k = 0; k < flips; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            const size_t at = (size_t)(state >> 33) % c.n;
            c.p[at] = (unsigned char)(state >> 13);
        }
        alim_gguf *g = NULL;
        alim_error err;
        alim_status s = open_buf(&c, &g, &err);
        if (s == ALIM_OK) {
            opened++;
            for (int i = 0; i < alim_gguf_tensor_count(g); i++) {
                const alim_gguf_tensor *t = alim_gguf_tensor_at(g, i);
                if (t->n_elements <= 256 && alim_gguf_type_supported(t->type)) alim_gguf_tensor_read_f32(g, t, y, &err);
            }
            for (int i = 0; i < alim_gguf_kv_count(g); i++) {
                alim_gguf_value val = alim_gguf_kv_value(g, i);
                if (val.type == ALIM_GGUF_ARRAY && alim_gguf_array_length(val) > 0) {
                    alim_gguf_value e = alim_gguf_array_first(val);
                    for (uint64_t k = 1; k < alim_gguf_array_length(val); k++) e = alim_gguf_array_next(e);
                }
            }
            alim_gguf_close(g);
        } else if (s == ALIM_EFORMAT && !g && err.what[0]) {
            refused++;
        } else {
            bad++;
        }
        free(c.p);
    }
    CHECK(bad == 0 && opened + refused == 3000, "fuzz: %d opened, %d refused, %d other", opened, refused, bad);
    free(v.p);
}

int main(int argc, char **argv)
{
    (void)argc;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/alim-test-gguf-XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_metadata();
    test_simple_types();
    test_legacy_quants();
    test_k_quants();
    test_threads();
    test_bad_files();
    test_fuzz();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary(argv[0]);
}
