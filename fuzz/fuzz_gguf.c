/* fuzz_gguf.c — GGUF files (alim/gguf.h): alim_gguf_open, then every getter on every key
 * of the file (each typed getter on each key, whatever its type, so the type checks are
 * exercised too), the metadata walk with its array iteration, and every tensor read with
 * alim_gguf_tensor_read_f32. Inputs are whole files; the seeds are small valid files of every
 * metadata type and every dequantised tensor type (fuzz/make_seeds.py). */
#include "fuzz.h"

#include "alim/gguf.h"

/* Visits a value the way a listing does: scalars through every accessor, arrays element by
 * element (nested ones recursively), so that the accessors' bounds are exercised. */
static double visit_value(alim_gguf_value v, int depth)
{
    double acc = (double)alim_gguf_value_u64(v) + (double)alim_gguf_value_i64(v) + alim_gguf_value_f64(v);
    size_t len = 0;
    const char *s = alim_gguf_value_string(v, &len);
    if (s && len) acc += (unsigned char)s[0] + (unsigned char)s[len - 1];
    (void)alim_gguf_value_type_name(v.type);
    if (v.type == ALIM_GGUF_ARRAY && depth <= ALIM_GGUF_MAX_NESTING) {
        (void)alim_gguf_array_type(v);
        const uint64_t n = alim_gguf_array_length(v);
        alim_gguf_value e = alim_gguf_array_first(v);
        /* long arrays cost time without new paths: the first and last few elements only
         * would need random access, so a bounded prefix */
        for (uint64_t i = 0; i < n && i < 64; i++) {
            acc += visit_value(e, depth + 1);
            if (i + 1 < n) e = alim_gguf_array_next(e);
        }
    }
    return acc;
}

static void get_all(const alim_gguf *g, const char *key)
{
    alim_error err;
    alim_status st;
    int64_t i64;
    double f64;
    int b;
    const char *s;
    size_t len;
    uint64_t n;
    (void)alim_gguf_has_key(g, key);
    alim_error_clear(&err);
    st = alim_gguf_get_int(g, key, &i64, &err);
    fuzz_check_error(st, &err);
    alim_error_clear(&err);
    st = alim_gguf_get_float(g, key, &f64, &err);
    fuzz_check_error(st, &err);
    alim_error_clear(&err);
    st = alim_gguf_get_bool(g, key, &b, &err);
    fuzz_check_error(st, &err);
    alim_error_clear(&err);
    st = alim_gguf_get_string(g, key, &s, &len, &err);
    fuzz_check_error(st, &err);
    if (!st && len) { volatile char c = s[len - 1]; (void)c; }

    const char **strs = NULL;
    size_t *lens = NULL;
    alim_error_clear(&err);
    st = alim_gguf_get_string_array(g, key, &strs, &lens, &n, &err);
    fuzz_check_error(st, &err);
    if (!st) {
        for (uint64_t i = 0; i < n; i++)
            if (lens[i]) { volatile char c = strs[i][lens[i] - 1]; (void)c; }
        free(strs);
        free(lens);
    }
    int64_t *iv = NULL;
    alim_error_clear(&err);
    st = alim_gguf_get_int_array(g, key, &iv, &n, &err);
    fuzz_check_error(st, &err);
    if (!st) free(iv);
    float *fv = NULL;
    alim_error_clear(&err);
    st = alim_gguf_get_float_array(g, key, &fv, &n, &err);
    fuzz_check_error(st, &err);
    if (!st) free(fv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("model.gguf", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_gguf *g = NULL;
    alim_status st = alim_gguf_open(path, &g, &err);
    fuzz_check_error(st, &err);
    if (st) return 0;
    (void)alim_gguf_version(g);
    (void)alim_gguf_path(g);
    (void)alim_gguf_file_size(g);
    (void)alim_gguf_alignment(g);
    (void)alim_gguf_data_offset(g);

    volatile double sink = 0;
    const int nkv = alim_gguf_kv_count(g);
    for (int i = 0; i < nkv; i++) {
        size_t klen = 0;
        const char *k = alim_gguf_kv_key(g, i, &klen);
        sink += visit_value(alim_gguf_kv_value(g, i), 0);
        /* the getters take a NUL-ended key; keys with a NUL inside are looked up by their
         * prefix, which may name another key or none: both are fine */
        char key[256];
        const size_t kl = klen < sizeof key - 1 ? klen : sizeof key - 1;
        memcpy(key, k, kl);
        key[kl] = '\0';
        get_all(g, key);
    }
    (void)sink; /* read once: clang counts `+=` on a volatile as set but not used */
    get_all(g, "no.such.key");

    const int nt = alim_gguf_tensor_count(g);
    for (int i = 0; i < nt; i++) {
        const alim_gguf_tensor *t = alim_gguf_tensor_at(g, i);
        (void)alim_gguf_find_tensor(g, t->name);
        (void)alim_gguf_tensor_file_offset(g, t);
        (void)alim_gguf_type_name(t->type);
        (void)alim_gguf_type_block_size(t->type);
        (void)alim_gguf_type_block_bytes(t->type);
        /* libFuzzer's malloc limit stops a tensor too large to convert; valid files can
         * declare large tensors only as large as the input, so this stays small */
        float *out = malloc((size_t)t->n_elements * sizeof(float) + 1);
        if (!out) continue;
        alim_error_clear(&err);
        st = alim_gguf_tensor_read_f32(g, t, out, &err);
        fuzz_check_error(st, &err);
        if (!alim_gguf_type_supported(t->type) && st == ALIM_OK) abort();
        if (!st && t->n_elements) sink += out[t->n_elements - 1];
        free(out);
    }
    alim_gguf_close(g);
    return 0;
}
