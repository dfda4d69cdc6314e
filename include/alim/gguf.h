/* alim/gguf.h — reading GGUF model files (llama.cpp / ollama), versions 2 and 3.
 *
 * A GGUF file is: the magic "GGUF", a uint32 version, uint64 tensor and metadata counts,
 * the metadata (key string, uint32 value type, value), the tensor infos (name, n_dims,
 * ne[n_dims] as uint64, uint32 ggml type, uint64 offset into the data section), padding to
 * `general.alignment` (default 32), then the tensor data. Everything is little-endian;
 * strings are a uint64 length and that many bytes (no NUL).
 *
 * alim_gguf_open maps the file read-only and validates all of it before returning: every
 * count, length and offset against the file size with checked arithmetic, nesting depth of
 * arrays, duplicate keys and tensor names, shapes (1-4 dims, every ne > 0, no overflow,
 * ne[0] a multiple of the type's block size), alignment and bounds of the tensor data, and
 * that no two tensors overlap. After a successful open nothing that reads the mapping can
 * leave it (the one hazard left is another process truncating the file while it is mapped,
 * which raises SIGBUS as for any mmap reader).
 *
 * Tensors of any type ggml knows are listed (so a file can be inspected); dequantisation
 * to fp32 supports F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K and
 * gives bit for bit what ggml's reference dequantize_row_* (and gguf-py) give.
 * Errors: where = "<path>" or "<path>: <key or tensor name>", ALIM_EFORMAT for a malformed
 * file, ALIM_EINVAL for a path that is missing or a directory, ALIM_EIO for read failures.
 */
#ifndef ALIM_GGUF_H
#define ALIM_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alim_gguf alim_gguf; /* opaque; the file is mmap'ed read-only */

typedef struct {
    const char *name;      /* NUL-terminated copy owned by the alim_gguf                  */
    int n_dims;            /* 1..4                                                          */
    int64_t ne[4];         /* ggml order: ne[0] is the fastest-varying (row length); unused = 1 */
    int type;              /* ggml type id (0 F32, 1 F16, 2 Q4_0, 3 Q4_1, 6 Q5_0, 7 Q5_1,
                              8 Q8_0, 12 Q4_K, 13 Q5_K, 14 Q6_K, 30 BF16, ...)              */
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data;      /* into the mapping                                              */
} alim_gguf_tensor;

/* ggml type ids alim dequantises (the others are listed by name only). */
enum {
    ALIM_GGML_F32 = 0, ALIM_GGML_F16 = 1, ALIM_GGML_Q4_0 = 2, ALIM_GGML_Q4_1 = 3,
    ALIM_GGML_Q5_0 = 6, ALIM_GGML_Q5_1 = 7, ALIM_GGML_Q8_0 = 8, ALIM_GGML_Q4_K = 12,
    ALIM_GGML_Q5_K = 13, ALIM_GGML_Q6_K = 14, ALIM_GGML_BF16 = 30
};

/* GGUF metadata value types (the file's uint32 tags). */
typedef enum {
    ALIM_GGUF_UINT8 = 0, ALIM_GGUF_INT8 = 1, ALIM_GGUF_UINT16 = 2, ALIM_GGUF_INT16 = 3,
    ALIM_GGUF_UINT32 = 4, ALIM_GGUF_INT32 = 5, ALIM_GGUF_FLOAT32 = 6, ALIM_GGUF_BOOL = 7,
    ALIM_GGUF_STRING = 8, ALIM_GGUF_ARRAY = 9, ALIM_GGUF_UINT64 = 10, ALIM_GGUF_INT64 = 11,
    ALIM_GGUF_FLOAT64 = 12
} alim_gguf_value_type;

/* Arrays may nest (an array of arrays of ...) at most this deep. */
enum { ALIM_GGUF_MAX_NESTING = 8 };

alim_status alim_gguf_open(const char *path, alim_gguf **out, alim_error *err);
void alim_gguf_close(alim_gguf *g); /* NULL is fine */
uint32_t alim_gguf_version(const alim_gguf *g);
const char *alim_gguf_path(const alim_gguf *g);
uint64_t alim_gguf_file_size(const alim_gguf *g);
uint64_t alim_gguf_alignment(const alim_gguf *g);   /* general.alignment or 32 */
uint64_t alim_gguf_data_offset(const alim_gguf *g); /* where the data section starts */

/* metadata: every getter fails with ALIM_EFORMAT, where = "<path>: <key>", when the key is
 * missing ("missing key") or has another type ("is a string, expected an integer"). */
int alim_gguf_has_key(const alim_gguf *g, const char *key);
alim_status alim_gguf_get_int(const alim_gguf *g, const char *key, int64_t *out, alim_error *err);   /* any integer type; uint64 > INT64_MAX is an error */
alim_status alim_gguf_get_float(const alim_gguf *g, const char *key, double *out, alim_error *err);  /* float32/float64 (integers accepted too) */
alim_status alim_gguf_get_bool(const alim_gguf *g, const char *key, int *out, alim_error *err);
alim_status alim_gguf_get_string(const alim_gguf *g, const char *key, const char **s, size_t *len, alim_error *err); /* points into the mapping, NOT NUL-terminated */
/* arrays: *n elements; the returned arrays are malloc'ed (never NULL on success, also for
 * n = 0), the caller frees them (strings point into the mapping) */
alim_status alim_gguf_get_string_array(const alim_gguf *g, const char *key, const char ***s, size_t **lens, uint64_t *n, alim_error *err);
alim_status alim_gguf_get_int_array(const alim_gguf *g, const char *key, int64_t **v, uint64_t *n, alim_error *err);
alim_status alim_gguf_get_float_array(const alim_gguf *g, const char *key, float **v, uint64_t *n, alim_error *err); /* float32/float64/integers, rounded to float */

/* Walking all metadata (for listings). A value is a view of its encoding in the mapping,
 * validated at open, so the accessors below cannot read outside it. */
typedef struct {
    int type;               /* alim_gguf_value_type */
    const unsigned char *p; /* the encoded value after its type tag */
    uint64_t size;          /* encoded size in bytes */
} alim_gguf_value;

int alim_gguf_kv_count(const alim_gguf *g);
/* Key i (0 <= i < count) in file order: points into the mapping, *len bytes, no NUL. */
const char *alim_gguf_kv_key(const alim_gguf *g, int i, size_t *len);
alim_gguf_value alim_gguf_kv_value(const alim_gguf *g, int i);
/* "uint8", ..., "string", "array", "float64"; "unknown" for other ids. */
const char *alim_gguf_value_type_name(int type);
/* Scalars: unsigned integers and bool as uint64, signed integers as int64 (sign-extended),
 * floats and integers as double. Calling one on a value of another kind gives 0. */
uint64_t alim_gguf_value_u64(alim_gguf_value v);
int64_t alim_gguf_value_i64(alim_gguf_value v);
double alim_gguf_value_f64(alim_gguf_value v);
const char *alim_gguf_value_string(alim_gguf_value v, size_t *len); /* not NUL-terminated */
/* Arrays: element type, length, first element, and the element after `elem` (only valid
 * while fewer than length elements have been visited). */
int alim_gguf_array_type(alim_gguf_value arr);
uint64_t alim_gguf_array_length(alim_gguf_value arr);
alim_gguf_value alim_gguf_array_first(alim_gguf_value arr);
alim_gguf_value alim_gguf_array_next(alim_gguf_value elem);

/* tensors */
int alim_gguf_tensor_count(const alim_gguf *g);
const alim_gguf_tensor *alim_gguf_tensor_at(const alim_gguf *g, int i);
const alim_gguf_tensor *alim_gguf_find_tensor(const alim_gguf *g, const char *name); /* NULL if absent */
/* Byte offset of the tensor's data from the start of the file. */
uint64_t alim_gguf_tensor_file_offset(const alim_gguf *g, const alim_gguf_tensor *t);
/* "Q4_K", ...; "unknown" for ids ggml does not define (callers print the id). */
const char *alim_gguf_type_name(int type);
int alim_gguf_type_supported(int type); /* 1 for the types alim dequantises */
/* Elements per block and bytes per block of a ggml type; 0 for unknown ids. */
int alim_gguf_type_block_size(int type);
int alim_gguf_type_block_bytes(int type);

/* Dequantises the whole tensor into out (n_elements floats, ne[0] fastest, i.e. a (ne[1], ne[0])
 * row-major matrix for 2-D). An unsupported type is ALIM_EFORMAT naming the tensor and the type
 * ("<path>: blk.0.attn_q.weight": "tensor type IQ2_XXS (16) is not supported; alim reads F32, F16, ...").
 * Blocks are spread over OpenMP threads; the result does not depend on the thread count. */
alim_status alim_gguf_tensor_read_f32(const alim_gguf *g, const alim_gguf_tensor *t, float *out, alim_error *err);

/* The dequantiser itself: n_blocks consecutive blocks of `type` at src into dst
 * (n_blocks * block size floats). Returns 0, or -1 if the type is not supported. */
int alim_gguf_dequantize(int type, const void *src, float *dst, uint64_t n_blocks);

#ifdef __cplusplus
}
#endif
#endif
