/* gguf.c — GGUF reader: mapping, validation, metadata and tensor lookup (alim/gguf.h).
 *
 * The whole header is validated at open, so later accessors trust it. Every length read
 * from the file is compared with the bytes that are left before it is used, and every sum
 * or product of file-controlled numbers goes through the checked helpers below, so a
 * hostile file can neither make the reader leave the mapping nor make it allocate more
 * than a small multiple of the file size (counts are bounded by the minimum encoded size
 * of one item: 13 bytes for a key/value, 32 for a tensor info).
 */
#define _POSIX_C_SOURCE 200809L
#include "alim/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const unsigned char *key;
    uint64_t key_len;
    alim_gguf_value val;
} kv_entry;

struct alim_gguf {
    char *path;
    unsigned char *map; /* NULL for an empty file */
    uint64_t size;
    uint32_t version;
    uint64_t alignment, data_offset;
    kv_entry *kv;
    int n_kv;
    int *kv_order; /* kv indices sorted by key, for binary search */
    alim_gguf_tensor *tensors;
    int n_tensors;
    int *t_order; /* tensor indices sorted by name */
};

enum { MIN_KV_BYTES = 8 + 4 + 1, MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8, DEFAULT_ALIGNMENT = 32 };

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static int add_overflows(uint64_t a, uint64_t b, uint64_t *out) { return __builtin_add_overflow(a, b, out); }
static int mul_overflows(uint64_t a, uint64_t b, uint64_t *out) { return __builtin_mul_overflow(a, b, out); }

/* Encoded size of a fixed-size value type, 0 for strings, arrays and unknown ids. */
static uint64_t fixed_size(uint32_t type)
{
    switch (type) {
    case ALIM_GGUF_UINT8: case ALIM_GGUF_INT8: case ALIM_GGUF_BOOL: return 1;
    case ALIM_GGUF_UINT16: case ALIM_GGUF_INT16: return 2;
    case ALIM_GGUF_UINT32: case ALIM_GGUF_INT32: case ALIM_GGUF_FLOAT32: return 4;
    case ALIM_GGUF_UINT64: case ALIM_GGUF_INT64: case ALIM_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static int is_integer_type(int t)
{
    return t == ALIM_GGUF_UINT8 || t == ALIM_GGUF_INT8 || t == ALIM_GGUF_UINT16 || t == ALIM_GGUF_INT16 ||
           t == ALIM_GGUF_UINT32 || t == ALIM_GGUF_INT32 || t == ALIM_GGUF_UINT64 || t == ALIM_GGUF_INT64;
}
static int is_signed_type(int t)
{
    return t == ALIM_GGUF_INT8 || t == ALIM_GGUF_INT16 || t == ALIM_GGUF_INT32 || t == ALIM_GGUF_INT64;
}

const char *alim_gguf_value_type_name(int type)
{
    static const char *const names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                        "bool", "string", "array", "uint64", "int64", "float64"};
    return type >= 0 && type <= ALIM_GGUF_FLOAT64 ? names[type] : "unknown";
}

/* ---- the parse cursor ------------------------------------------------------------------ */

typedef struct {
    const unsigned char *base;
    uint64_t size, pos;
    const char *path;
    alim_error *err;
    char ctx[200]; /* what is being read, for messages: "header", "tensor info 3 of 9 ('x')" */
} cursor;

/* A printable, NUL-terminated excerpt of the bytes s[0..len) for messages (non-ASCII as
 * \xNN, cut with "..." when it does not fit in cap). */
static void printable(char *dst, size_t cap, const unsigned char *s, uint64_t len)
{
    size_t o = 0;
    uint64_t i = 0;
    for (; i < len && o + 8 < cap; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f) dst[o++] = (char)s[i];
        else o += (size_t)snprintf(dst + o, cap - o, "\\x%02x", s[i]);
    }
    if (i < len) o += (size_t)snprintf(dst + o, cap - o, "...");
    dst[o < cap ? o : cap - 1] = '\0';
}

/* Ensures n more bytes are in the file; else a "truncated" error saying what was read. */
static alim_status need(cursor *c, uint64_t n, const char *what)
{
    if (n <= c->size - c->pos) return ALIM_OK;
    return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                          "truncated at byte %llu (%s: %s needs %llu bytes at byte %llu)",
                          (unsigned long long)c->size, c->ctx, what, (unsigned long long)n,
                          (unsigned long long)c->pos);
}

static alim_status read_u32(cursor *c, const char *what, uint32_t *v)
{
    alim_status s = need(c, 4, what);
    if (s) return s;
    *v = rd32(c->base + c->pos);
    c->pos += 4;
    return ALIM_OK;
}

static alim_status read_u64(cursor *c, const char *what, uint64_t *v)
{
    alim_status s = need(c, 8, what);
    if (s) return s;
    *v = rd64(c->base + c->pos);
    c->pos += 8;
    return ALIM_OK;
}

static alim_status read_string(cursor *c, const char *what, const unsigned char **str, uint64_t *len)
{
    char w[96];
    snprintf(w, sizeof w, "the length of %s", what);
    alim_status s = read_u64(c, w, len);
    if (s) return s;
    if (*len > c->size - c->pos)
        return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                              "%s: %s of %llu bytes at byte %llu runs past the end of the file (%llu bytes): truncated or corrupt",
                              c->ctx, what, (unsigned long long)*len, (unsigned long long)c->pos,
                              (unsigned long long)c->size);
    *str = c->base + c->pos;
    c->pos += *len;
    return ALIM_OK;
}

/* Parses one value of `type` at the cursor (arrays recursively, at most
 * ALIM_GGUF_MAX_NESTING deep) and records where it lies. */
static alim_status parse_value(cursor *c, uint32_t type, int depth, alim_gguf_value *v)
{
    const uint64_t start = c->pos;
    alim_status s = ALIM_OK;
    v->type = (int)type;
    v->p = c->base + start;
    const uint64_t fs = fixed_size(type);
    if (fs) {
        s = need(c, fs, alim_gguf_value_type_name((int)type));
        if (!s) c->pos += fs;
    } else if (type == ALIM_GGUF_STRING) {
        const unsigned char *str;
        uint64_t len;
        s = read_string(c, "a string", &str, &len);
    } else if (type == ALIM_GGUF_ARRAY) {
        if (depth >= ALIM_GGUF_MAX_NESTING)
            return alim_error_set(c->err, ALIM_EFORMAT, c->path, "%s: arrays nested more than %d deep",
                                  c->ctx, ALIM_GGUF_MAX_NESTING);
        uint32_t et;
        uint64_t n, bytes;
        if ((s = read_u32(c, "an array's element type", &et)) || (s = read_u64(c, "an array's length", &n)))
            return s;
        const uint64_t left = c->size - c->pos, efs = fixed_size(et);
        if (efs) {
            if (mul_overflows(n, efs, &bytes) || bytes > left)
                return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                                      "%s: array of %llu %s values at byte %llu runs past the end of the file (%llu bytes): truncated or corrupt",
                                      c->ctx, (unsigned long long)n, alim_gguf_value_type_name((int)et),
                                      (unsigned long long)c->pos, (unsigned long long)c->size);
            c->pos += bytes;
        } else if (et == ALIM_GGUF_STRING || et == ALIM_GGUF_ARRAY) {
            /* each element takes at least its 8-byte length (12 bytes for an array) */
            const uint64_t min = et == ALIM_GGUF_STRING ? 8 : 12;
            if (n > left / min)
                return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                                      "%s: array of %llu %ss at byte %llu cannot fit in the %llu bytes left in the file: truncated or corrupt",
                                      c->ctx, (unsigned long long)n, alim_gguf_value_type_name((int)et),
                                      (unsigned long long)c->pos, (unsigned long long)left);
            alim_gguf_value e;
            for (uint64_t i = 0; i < n && !s; i++) s = parse_value(c, et, depth + 1, &e);
        } else {
            return alim_error_set(c->err, ALIM_EFORMAT, c->path, "%s: array of unknown value type %u",
                                  c->ctx, et);
        }
    } else {
        return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                              "%s: unknown value type %u (GGUF defines 0-12)", c->ctx, type);
    }
    v->size = c->pos - start;
    return s;
}

/* ---- sorting and lookup ------------------------------------------------------------------ */

static int cmp_bytes(const unsigned char *a, uint64_t na, const unsigned char *b, uint64_t nb)
{
    const int r = memcmp(a, b, na < nb ? na : nb);
    return r ? r : (na > nb) - (na < nb);
}

/* qsort has no context argument; the arrays being sorted are owned by one open call. */
static _Thread_local const alim_gguf *sort_ctx;

static int cmp_kv_index(const void *a, const void *b)
{
    const kv_entry *x = &sort_ctx->kv[*(const int *)a], *y = &sort_ctx->kv[*(const int *)b];
    return cmp_bytes(x->key, x->key_len, y->key, y->key_len);
}

static int cmp_tensor_index(const void *a, const void *b)
{
    return strcmp(sort_ctx->tensors[*(const int *)a].name, sort_ctx->tensors[*(const int *)b].name);
}

static int cmp_tensor_offset(const void *a, const void *b)
{
    const alim_gguf_tensor *x = &sort_ctx->tensors[*(const int *)a], *y = &sort_ctx->tensors[*(const int *)b];
    const uintptr_t p = (uintptr_t)x->data, q = (uintptr_t)y->data;
    return (p > q) - (p < q);
}

static const kv_entry *find_kv(const alim_gguf *g, const char *key)
{
    const uint64_t len = strlen(key);
    int lo = 0, hi = g->n_kv;
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        const kv_entry *e = &g->kv[g->kv_order[mid]];
        const int r = cmp_bytes(e->key, e->key_len, (const unsigned char *)key, len);
        if (!r) return e;
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const alim_gguf_tensor *alim_gguf_find_tensor(const alim_gguf *g, const char *name)
{
    int lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        const alim_gguf_tensor *t = &g->tensors[g->t_order[mid]];
        const int r = strcmp(t->name, name);
        if (!r) return t;
        if (r < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* ---- open ---------------------------------------------------------------------------- */

void alim_gguf_close(alim_gguf *g)
{
    if (!g) return;
    if (g->map) munmap(g->map, (size_t)g->size);
    if (g->tensors)
        for (int i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->tensors);
    free(g->t_order);
    free(g->kv);
    free(g->kv_order);
    free(g->path);
    free(g);
}

static alim_status map_file(alim_gguf *g, const char *path, alim_error *err)
{
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        return alim_error_set(err, (e == ENOENT || e == EACCES || e == ENOTDIR || e == ELOOP) ? ALIM_EINVAL : ALIM_EIO,
                              path, "cannot open: %s", strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        close(fd);
        return alim_error_set(err, ALIM_EIO, path, "cannot stat: %s", strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return alim_error_set(err, ALIM_EINVAL, path, "is a directory, not a GGUF file");
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return alim_error_set(err, ALIM_EINVAL, path, "is not a regular file (a GGUF file is mapped into memory)");
    }
    g->size = (uint64_t)st.st_size;
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return alim_error_set(err, ALIM_EIO, path, "too large to map on this machine");
    }
    if (g->size > 0) {
        void *m = mmap(NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            const int e = errno;
            close(fd);
            return alim_error_set(err, e == ENOMEM ? ALIM_ENOMEM : ALIM_EIO, path, "cannot map: %s", strerror(e));
        }
        g->map = m;
    }
    close(fd);
    return ALIM_OK;
}

static alim_status parse_header(alim_gguf *g, cursor *c, uint64_t *n_tensors, uint64_t *n_kv)
{
    snprintf(c->ctx, sizeof c->ctx, "header");
    alim_status s = need(c, 4, "the magic");
    if (s) return s;
    const unsigned char *m = c->base;
    if (!memcmp(m, "FUGG", 4))
        return alim_error_set(c->err, ALIM_EFORMAT, c->path, "big-endian GGUF file: alim reads little-endian GGUF only");
    if (memcmp(m, "GGUF", 4)) {
        char shown[32];
        printable(shown, sizeof shown, m, 4);
        return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                              "not a GGUF file: starts with '%s' (bytes %02x %02x %02x %02x), expected 'GGUF'",
                              shown, m[0], m[1], m[2], m[3]);
    }
    c->pos = 4;
    if ((s = read_u32(c, "the version", &g->version))) return s;
    /* gguf-py writes the magic little-endian in every file, the rest in the file's byte
     * order, so a big-endian file shows a version with its low half zero. */
    const uint32_t v = g->version, swapped = __builtin_bswap32(v);
    if ((v & 0xffffu) == 0 && swapped >= 1 && swapped <= 0xffffu)
        return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                              "big-endian GGUF file (version %u byte-swapped): alim reads little-endian GGUF only",
                              swapped);
    if (v != 2 && v != 3)
        return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                              "GGUF version %u is not supported (alim reads versions 2 and 3%s)", v,
                              v == 1 ? "; version 1 files predate 64-bit counts, convert with a current llama.cpp" : "");
    if ((s = read_u64(c, "the tensor count", n_tensors)) || (s = read_u64(c, "the metadata count", n_kv)))
        return s;
    const uint64_t left = c->size - c->pos;
    if (*n_kv > left / MIN_KV_BYTES || *n_kv > INT_MAX)
        return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                              "metadata count %llu cannot fit in the %llu bytes after the header: truncated or corrupt",
                              (unsigned long long)*n_kv, (unsigned long long)left);
    if (*n_tensors > left / MIN_TENSOR_INFO_BYTES || *n_tensors > INT_MAX)
        return alim_error_set(c->err, ALIM_EFORMAT, c->path,
                              "tensor count %llu cannot fit in the %llu bytes after the header: truncated or corrupt",
                              (unsigned long long)*n_tensors, (unsigned long long)left);
    return ALIM_OK;
}

static alim_status parse_metadata(alim_gguf *g, cursor *c, uint64_t n)
{
    g->kv = calloc(n ? n : 1, sizeof *g->kv);
    g->kv_order = malloc((n ? n : 1) * sizeof *g->kv_order);
    if (!g->kv || !g->kv_order) return alim_error_set(c->err, ALIM_ENOMEM, c->path, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        kv_entry *e = &g->kv[i];
        snprintf(c->ctx, sizeof c->ctx, "metadata key %llu of %llu", (unsigned long long)i, (unsigned long long)n);
        alim_status s = read_string(c, "the key", &e->key, &e->key_len);
        if (s) return s;
        char shown[80];
        printable(shown, sizeof shown, e->key, e->key_len);
        snprintf(c->ctx, sizeof c->ctx, "metadata key %llu of %llu ('%s')", (unsigned long long)i,
                 (unsigned long long)n, shown);
        uint32_t type;
        if ((s = read_u32(c, "the value type", &type)) || (s = parse_value(c, type, 0, &e->val))) return s;
        g->kv_order[i] = (int)i;
        g->n_kv = (int)i + 1;
    }
    sort_ctx = g;
    qsort(g->kv_order, (size_t)g->n_kv, sizeof *g->kv_order, cmp_kv_index);
    for (int i = 1; i < g->n_kv; i++) {
        const kv_entry *a = &g->kv[g->kv_order[i - 1]], *b = &g->kv[g->kv_order[i]];
        if (!cmp_bytes(a->key, a->key_len, b->key, b->key_len)) {
            char shown[80];
            printable(shown, sizeof shown, a->key, a->key_len);
            return alim_error_set(c->err, ALIM_EFORMAT, c->path, "metadata key '%s' appears twice", shown);
        }
    }
    g->alignment = DEFAULT_ALIGNMENT;
    const kv_entry *al = find_kv(g, "general.alignment");
    if (al) {
        char where[ALIM_ERROR_WHERE_MAX];
        snprintf(where, sizeof where, "%s: general.alignment", c->path);
        if (!is_integer_type(al->val.type))
            return alim_error_set(c->err, ALIM_EFORMAT, where, "is a %s, expected an integer",
                                  alim_gguf_value_type_name(al->val.type));
        const int64_t sv = alim_gguf_value_i64(al->val);
        const uint64_t a = is_signed_type(al->val.type) ? (sv < 0 ? 0 : (uint64_t)sv) : alim_gguf_value_u64(al->val);
        if (a == 0 || (a & (a - 1)) != 0)
            return alim_error_set(c->err, ALIM_EFORMAT, where, "%lld is not a power of two",
                                  is_signed_type(al->val.type) ? (long long)sv : (long long)a);
        g->alignment = a;
    }
    return ALIM_OK;
}

static alim_status parse_tensor_info(alim_gguf *g, cursor *c, uint64_t i, uint64_t n, uint64_t *offset)
{
    alim_gguf_tensor *t = &g->tensors[i];
    snprintf(c->ctx, sizeof c->ctx, "tensor info %llu of %llu", (unsigned long long)i, (unsigned long long)n);
    const unsigned char *name;
    uint64_t len;
    alim_status s = read_string(c, "the tensor name", &name, &len);
    if (s) return s;
    char shown[80];
    printable(shown, sizeof shown, name, len);
    if (len == 0) return alim_error_set(c->err, ALIM_EFORMAT, c->path, "%s has an empty name", c->ctx);
    if (memchr(name, 0, (size_t)len))
        return alim_error_set(c->err, ALIM_EFORMAT, c->path, "%s: the name '%s' contains a NUL byte", c->ctx, shown);
    char *copy = malloc((size_t)len + 1);
    if (!copy) return alim_error_set(c->err, ALIM_ENOMEM, c->path, "out of memory");
    memcpy(copy, name, (size_t)len);
    copy[len] = '\0';
    t->name = copy;
    g->n_tensors = (int)i + 1;
    snprintf(c->ctx, sizeof c->ctx, "tensor info %llu of %llu ('%s')", (unsigned long long)i, (unsigned long long)n, shown);
    char where[ALIM_ERROR_WHERE_MAX];
    snprintf(where, sizeof where, "%s: %s", c->path, copy);
    uint32_t nd, type;
    if ((s = read_u32(c, "n_dims", &nd))) return s;
    if (nd < 1 || nd > 4)
        return alim_error_set(c->err, ALIM_EFORMAT, where, "has %u dimensions (ggml tensors have 1 to 4)", nd);
    t->n_dims = (int)nd;
    uint64_t elems = 1;
    for (int d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t ne;
        if ((s = read_u64(c, "a dimension", &ne))) return s;
        if (ne == 0 || ne > INT64_MAX)
            return alim_error_set(c->err, ALIM_EFORMAT, where, "dimension ne[%u] = %llu is not in 1..2^63-1", d,
                                  (unsigned long long)ne);
        if (mul_overflows(elems, ne, &elems) || elems > INT64_MAX)
            return alim_error_set(c->err, ALIM_EFORMAT, where, "element count overflows 64 bits");
        t->ne[d] = (int64_t)ne;
    }
    if ((s = read_u32(c, "the type", &type)) || (s = read_u64(c, "the data offset", offset))) return s;
    const int bs = alim_gguf_type_block_size((int)type), bb = alim_gguf_type_block_bytes((int)type);
    if (!bs) return alim_error_set(c->err, ALIM_EFORMAT, where, "unknown ggml tensor type id %u", type);
    t->type = (int)type;
    if (t->ne[0] % bs)
        return alim_error_set(c->err, ALIM_EFORMAT, where,
                              "row length ne[0] = %lld is not a multiple of the %s block size %d",
                              (long long)t->ne[0], alim_gguf_type_name(t->type), bs);
    t->n_elements = elems;
    if (mul_overflows(elems / (uint64_t)bs, (uint64_t)bb, &t->n_bytes))
        return alim_error_set(c->err, ALIM_EFORMAT, where, "byte size overflows 64 bits");
    return ALIM_OK;
}

static alim_status parse_tensors(alim_gguf *g, cursor *c, uint64_t n)
{
    g->tensors = calloc(n ? n : 1, sizeof *g->tensors);
    g->t_order = malloc((n ? n : 1) * sizeof *g->t_order);
    uint64_t *offsets = malloc((n ? n : 1) * sizeof *offsets);
    alim_status s = ALIM_OK;
    if (!g->tensors || !g->t_order || !offsets) s = alim_error_set(c->err, ALIM_ENOMEM, c->path, "out of memory");
    for (uint64_t i = 0; i < n && !s; i++) {
        s = parse_tensor_info(g, c, i, n, &offsets[i]);
        g->t_order[i] = (int)i;
    }
    /* the data section starts at the next multiple of the alignment */
    uint64_t start = 0;
    if (!s) {
        const uint64_t a = g->alignment;
        if (add_overflows(c->pos, a - 1, &start))
            s = alim_error_set(c->err, ALIM_EFORMAT, c->path, "alignment %llu overflows the data offset", (unsigned long long)a);
        else start -= start % a;
        g->data_offset = start;
    }
    for (uint64_t i = 0; i < n && !s; i++) {
        alim_gguf_tensor *t = &g->tensors[i];
        char where[ALIM_ERROR_WHERE_MAX];
        snprintf(where, sizeof where, "%s: %s", c->path, t->name);
        uint64_t begin, end;
        if (offsets[i] % g->alignment)
            s = alim_error_set(c->err, ALIM_EFORMAT, where, "data offset %llu is not a multiple of the alignment %llu",
                               (unsigned long long)offsets[i], (unsigned long long)g->alignment);
        else if (add_overflows(start, offsets[i], &begin) || add_overflows(begin, t->n_bytes, &end) || end > c->size)
            s = alim_error_set(c->err, ALIM_EFORMAT, where,
                               "truncated at byte %llu (tensor %llu of %llu: its %llu bytes of data at offset %llu of the data section, which starts at byte %llu, run past the end)",
                               (unsigned long long)c->size, (unsigned long long)i, (unsigned long long)n,
                               (unsigned long long)t->n_bytes, (unsigned long long)offsets[i], (unsigned long long)start);
        else t->data = c->base + begin;
    }
    free(offsets);
    if (s) return s;
    sort_ctx = g;
    qsort(g->t_order, (size_t)n, sizeof *g->t_order, cmp_tensor_index);
    for (uint64_t i = 1; i < n; i++) {
        const alim_gguf_tensor *a = &g->tensors[g->t_order[i - 1]], *b = &g->tensors[g->t_order[i]];
        if (!strcmp(a->name, b->name)) {
            char where[ALIM_ERROR_WHERE_MAX];
            snprintf(where, sizeof where, "%s: %s", c->path, a->name);
            return alim_error_set(c->err, ALIM_EFORMAT, where, "two tensors have this name");
        }
    }
    /* no two tensors may share bytes: check neighbours in offset order */
    int *by_off = malloc((n ? n : 1) * sizeof *by_off);
    if (!by_off) return alim_error_set(c->err, ALIM_ENOMEM, c->path, "out of memory");
    for (uint64_t i = 0; i < n; i++) by_off[i] = (int)i;
    qsort(by_off, (size_t)n, sizeof *by_off, cmp_tensor_offset);
    for (uint64_t i = 1; i < n && !s; i++) {
        const alim_gguf_tensor *a = &g->tensors[by_off[i - 1]], *b = &g->tensors[by_off[i]];
        if ((const unsigned char *)b->data < (const unsigned char *)a->data + a->n_bytes) {
            char where[ALIM_ERROR_WHERE_MAX];
            snprintf(where, sizeof where, "%s: %s", c->path, b->name);
            s = alim_error_set(c->err, ALIM_EFORMAT, where, "data overlaps tensor %s", a->name);
        }
    }
    free(by_off);
    return s;
}

alim_status alim_gguf_open(const char *path, alim_gguf **out, alim_error *err)
{
    *out = NULL;
    alim_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    alim_status s = map_file(g, path, err);
    cursor c = {g->map, g->size, 0, g->path, err, ""};
    uint64_t n_tensors = 0, n_kv = 0;
    if (!s) s = parse_header(g, &c, &n_tensors, &n_kv);
    if (!s) s = parse_metadata(g, &c, n_kv);
    if (!s) s = parse_tensors(g, &c, n_tensors);
    if (s) {
        alim_gguf_close(g);
        return s;
    }
    *out = g;
    return ALIM_OK;
}

/* ---- simple accessors ---------------------------------------------------------------------- */

uint32_t alim_gguf_version(const alim_gguf *g) { return g->version; }
const char *alim_gguf_path(const alim_gguf *g) { return g->path; }
uint64_t alim_gguf_file_size(const alim_gguf *g) { return g->size; }
uint64_t alim_gguf_alignment(const alim_gguf *g) { return g->alignment; }
uint64_t alim_gguf_data_offset(const alim_gguf *g) { return g->data_offset; }
int alim_gguf_kv_count(const alim_gguf *g) { return g->n_kv; }
int alim_gguf_tensor_count(const alim_gguf *g) { return g->n_tensors; }

const char *alim_gguf_kv_key(const alim_gguf *g, int i, size_t *len)
{
    if (i < 0 || i >= g->n_kv) return NULL;
    if (len) *len = (size_t)g->kv[i].key_len;
    return (const char *)g->kv[i].key;
}

alim_gguf_value alim_gguf_kv_value(const alim_gguf *g, int i)
{
    alim_gguf_value none = {-1, NULL, 0};
    return i < 0 || i >= g->n_kv ? none : g->kv[i].val;
}

const alim_gguf_tensor *alim_gguf_tensor_at(const alim_gguf *g, int i)
{
    return i < 0 || i >= g->n_tensors ? NULL : &g->tensors[i];
}

uint64_t alim_gguf_tensor_file_offset(const alim_gguf *g, const alim_gguf_tensor *t)
{
    return (uint64_t)((const unsigned char *)t->data - g->map);
}

int alim_gguf_has_key(const alim_gguf *g, const char *key) { return find_kv(g, key) != NULL; }

/* ---- values ---------------------------------------------------------------------------- */

uint64_t alim_gguf_value_u64(alim_gguf_value v)
{
    switch (v.type) {
    case ALIM_GGUF_UINT8: return v.p[0];
    case ALIM_GGUF_BOOL: return v.p[0] != 0;
    case ALIM_GGUF_UINT16: return rd16(v.p);
    case ALIM_GGUF_UINT32: return rd32(v.p);
    case ALIM_GGUF_UINT64: return rd64(v.p);
    default: return 0;
    }
}

int64_t alim_gguf_value_i64(alim_gguf_value v)
{
    switch (v.type) {
    case ALIM_GGUF_INT8: return (int8_t)v.p[0];
    case ALIM_GGUF_INT16: return (int16_t)rd16(v.p);
    case ALIM_GGUF_INT32: return (int32_t)rd32(v.p);
    case ALIM_GGUF_INT64: return (int64_t)rd64(v.p);
    default: return 0;
    }
}

double alim_gguf_value_f64(alim_gguf_value v)
{
    if (v.type == ALIM_GGUF_FLOAT32) {
        const uint32_t u = rd32(v.p);
        float f;
        memcpy(&f, &u, sizeof f);
        return f;
    }
    if (v.type == ALIM_GGUF_FLOAT64) {
        const uint64_t u = rd64(v.p);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    if (is_signed_type(v.type)) return (double)alim_gguf_value_i64(v);
    if (is_integer_type(v.type)) return (double)alim_gguf_value_u64(v);
    return 0.0;
}

const char *alim_gguf_value_string(alim_gguf_value v, size_t *len)
{
    if (v.type != ALIM_GGUF_STRING) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = (size_t)rd64(v.p);
    return (const char *)v.p + 8;
}

int alim_gguf_array_type(alim_gguf_value arr) { return arr.type == ALIM_GGUF_ARRAY ? (int)rd32(arr.p) : -1; }
uint64_t alim_gguf_array_length(alim_gguf_value arr) { return arr.type == ALIM_GGUF_ARRAY ? rd64(arr.p + 4) : 0; }

/* Encoded size of a value of `type` at p (validated at open). */
static uint64_t encoded_size(int type, const unsigned char *p)
{
    const uint64_t fs = fixed_size((uint32_t)type);
    if (fs) return fs;
    if (type == ALIM_GGUF_STRING) return 8 + rd64(p);
    const int et = (int)rd32(p);
    const uint64_t n = rd64(p + 4), efs = fixed_size((uint32_t)et);
    if (efs) return 12 + n * efs;
    uint64_t size = 12;
    for (uint64_t i = 0; i < n; i++) size += encoded_size(et, p + size);
    return size;
}

alim_gguf_value alim_gguf_array_first(alim_gguf_value arr)
{
    alim_gguf_value e = {alim_gguf_array_type(arr), arr.p + 12, 0};
    if (alim_gguf_array_length(arr) > 0) e.size = encoded_size(e.type, e.p);
    return e;
}

alim_gguf_value alim_gguf_array_next(alim_gguf_value elem)
{
    alim_gguf_value e = {elem.type, elem.p + elem.size, 0};
    e.size = encoded_size(e.type, e.p);
    return e;
}

/* ---- typed getters ------------------------------------------------------------------------ */

/* "a string", "an int32", "an array of strings", "an array of arrays" */
static void describe(alim_gguf_value v, char *buf, size_t cap)
{
    const char *n = alim_gguf_value_type_name(v.type);
    if (v.type == ALIM_GGUF_ARRAY) {
        const int et = alim_gguf_array_type(v);
        snprintf(buf, cap, "an array of %s%s", alim_gguf_value_type_name(et),
                 et == ALIM_GGUF_STRING || et == ALIM_GGUF_ARRAY ? "s" : "");
    } else {
        snprintf(buf, cap, "%s %s", (n[0] == 'i' || n[0] == 'a') ? "an" : "a", n);
    }
}

static alim_status lookup(const alim_gguf *g, const char *key, char *where, const kv_entry **e, alim_error *err)
{
    snprintf(where, ALIM_ERROR_WHERE_MAX, "%s: %s", g->path, key);
    *e = find_kv(g, key);
    return *e ? ALIM_OK : alim_error_set(err, ALIM_EFORMAT, where, "missing key");
}

static alim_status wrong_type(alim_gguf_value v, const char *where, const char *expected, alim_error *err)
{
    char d[64];
    describe(v, d, sizeof d);
    return alim_error_set(err, ALIM_EFORMAT, where, "is %s, expected %s", d, expected);
}

/* An integer value as int64, refusing uint64 values above INT64_MAX. */
static alim_status to_int64(alim_gguf_value v, const char *where, int64_t *out, alim_error *err)
{
    if (is_signed_type(v.type)) {
        *out = alim_gguf_value_i64(v);
        return ALIM_OK;
    }
    const uint64_t u = alim_gguf_value_u64(v);
    if (u > INT64_MAX)
        return alim_error_set(err, ALIM_EFORMAT, where, "value %llu does not fit a signed 64-bit integer",
                              (unsigned long long)u);
    *out = (int64_t)u;
    return ALIM_OK;
}

alim_status alim_gguf_get_int(const alim_gguf *g, const char *key, int64_t *out, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    const kv_entry *e;
    alim_status s = lookup(g, key, where, &e, err);
    if (s) return s;
    if (!is_integer_type(e->val.type)) return wrong_type(e->val, where, "an integer", err);
    return to_int64(e->val, where, out, err);
}

alim_status alim_gguf_get_float(const alim_gguf *g, const char *key, double *out, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    const kv_entry *e;
    alim_status s = lookup(g, key, where, &e, err);
    if (s) return s;
    const int t = e->val.type;
    if (t != ALIM_GGUF_FLOAT32 && t != ALIM_GGUF_FLOAT64 && !is_integer_type(t))
        return wrong_type(e->val, where, "a number", err);
    *out = alim_gguf_value_f64(e->val);
    return ALIM_OK;
}

alim_status alim_gguf_get_bool(const alim_gguf *g, const char *key, int *out, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    const kv_entry *e;
    alim_status s = lookup(g, key, where, &e, err);
    if (s) return s;
    if (e->val.type != ALIM_GGUF_BOOL) return wrong_type(e->val, where, "a bool", err);
    *out = (int)alim_gguf_value_u64(e->val);
    return ALIM_OK;
}

alim_status alim_gguf_get_string(const alim_gguf *g, const char *key, const char **str, size_t *len, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    const kv_entry *e;
    alim_status s = lookup(g, key, where, &e, err);
    if (s) return s;
    if (e->val.type != ALIM_GGUF_STRING) return wrong_type(e->val, where, "a string", err);
    *str = alim_gguf_value_string(e->val, len);
    return ALIM_OK;
}

/* Looks up an array whose elements satisfy ok(type); *n its length. */
static alim_status lookup_array(const alim_gguf *g, const char *key, int (*ok)(int), const char *expected,
                                char *where, alim_gguf_value *arr, uint64_t *n, alim_error *err)
{
    const kv_entry *e;
    alim_status s = lookup(g, key, where, &e, err);
    if (s) return s;
    if (e->val.type != ALIM_GGUF_ARRAY || !ok(alim_gguf_array_type(e->val)))
        return wrong_type(e->val, where, expected, err);
    *arr = e->val;
    *n = alim_gguf_array_length(e->val);
    return ALIM_OK;
}

static int is_string(int t) { return t == ALIM_GGUF_STRING; }
static int is_number(int t) { return t == ALIM_GGUF_FLOAT32 || t == ALIM_GGUF_FLOAT64 || is_integer_type(t); }

alim_status alim_gguf_get_string_array(const alim_gguf *g, const char *key, const char ***strs, size_t **lens,
                                       uint64_t *n, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    alim_gguf_value arr;
    alim_status s = lookup_array(g, key, is_string, "an array of strings", where, &arr, n, err);
    if (s) return s;
    /* n <= file size / 8 was checked at open, so these sizes cannot overflow */
    const char **sv = malloc((size_t)(*n ? *n : 1) * sizeof *sv);
    size_t *lv = malloc((size_t)(*n ? *n : 1) * sizeof *lv);
    if (!sv || !lv) {
        free(sv);
        free(lv);
        return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    }
    const unsigned char *p = arr.p + 12;
    for (uint64_t i = 0; i < *n; i++) {
        lv[i] = (size_t)rd64(p);
        sv[i] = (const char *)p + 8;
        p += 8 + lv[i];
    }
    *strs = sv;
    *lens = lv;
    return ALIM_OK;
}

alim_status alim_gguf_get_int_array(const alim_gguf *g, const char *key, int64_t **v, uint64_t *n, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    alim_gguf_value arr;
    alim_status s = lookup_array(g, key, is_integer_type, "an array of integers", where, &arr, n, err);
    if (s) return s;
    int64_t *out = malloc((size_t)(*n ? *n : 1) * sizeof *out);
    if (!out) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    const uint64_t es = fixed_size((uint32_t)alim_gguf_array_type(arr));
    alim_gguf_value e = {alim_gguf_array_type(arr), arr.p + 12, es};
    for (uint64_t i = 0; i < *n; i++, e.p += es) {
        if (!is_signed_type(e.type) && alim_gguf_value_u64(e) > INT64_MAX) {
            free(out);
            return alim_error_set(err, ALIM_EFORMAT, where, "element %llu = %llu does not fit a signed 64-bit integer",
                                  (unsigned long long)i, (unsigned long long)alim_gguf_value_u64(e));
        }
        out[i] = is_signed_type(e.type) ? alim_gguf_value_i64(e) : (int64_t)alim_gguf_value_u64(e);
    }
    *v = out;
    return ALIM_OK;
}

alim_status alim_gguf_get_float_array(const alim_gguf *g, const char *key, float **v, uint64_t *n, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    alim_gguf_value arr;
    alim_status s = lookup_array(g, key, is_number, "an array of numbers", where, &arr, n, err);
    if (s) return s;
    float *out = malloc((size_t)(*n ? *n : 1) * sizeof *out);
    if (!out) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    const uint64_t es = fixed_size((uint32_t)alim_gguf_array_type(arr));
    alim_gguf_value e = {alim_gguf_array_type(arr), arr.p + 12, es};
    for (uint64_t i = 0; i < *n; i++, e.p += es) out[i] = (float)alim_gguf_value_f64(e);
    *v = out;
    return ALIM_OK;
}

/* ---- tensor data -------------------------------------------------------------------------- */

alim_status alim_gguf_tensor_read_f32(const alim_gguf *g, const alim_gguf_tensor *t, float *out, alim_error *err)
{
    if (!alim_gguf_type_supported(t->type)) {
        char where[ALIM_ERROR_WHERE_MAX];
        snprintf(where, sizeof where, "%s: %s", g->path, t->name);
        return alim_error_set(err, ALIM_EFORMAT, where,
                              "tensor type %s (%d) is not supported; alim reads F32, F16, BF16, Q8_0, Q4_0, Q4_1, "
                              "Q5_0, Q5_1, Q4_K, Q5_K and Q6_K",
                              alim_gguf_type_name(t->type), t->type);
    }
    const uint64_t n_blocks = t->n_elements / (uint64_t)alim_gguf_type_block_size(t->type);
    if (alim_gguf_dequantize(t->type, t->data, out, n_blocks) != 0)
        return alim_error_set(err, ALIM_EINTERNAL, g->path, "no dequantiser for type %d", t->type);
    return ALIM_OK;
}
