/* alim/safetensors.h — reading and writing the safetensors tensor file format.
 *
 * Format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length
 * N, N bytes of JSON {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * ..., "__metadata__": {"key": "value"}}, then the raw little-endian data; offsets are
 * relative to the end of the header. alim reads F32, F16 and BF16 (converted to float on
 * copy) and writes F32. Every malformed file is refused with a message naming the file
 * and, where it applies, the tensor: header length past the end of the file, invalid
 * JSON, unknown dtype, offsets outside the data or not matching the shape, overlapping
 * tensors.
 */
#ifndef ALIM_SAFETENSORS_H
#define ALIM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ALIM_ST_F32, ALIM_ST_F16, ALIM_ST_BF16 } alim_st_dtype;

enum { ALIM_ST_MAX_DIMS = 8 };

typedef struct {
    char *name;                          /* owned */
    alim_st_dtype dtype;
    int ndim;
    int64_t shape[ALIM_ST_MAX_DIMS];
    size_t offset, nbytes;               /* within the data section */
} alim_st_tensor;

typedef struct {
    char *path;                          /* owned copy, for messages */
    unsigned char *file;                 /* whole file, owned */
    size_t file_len;
    const unsigned char *data;           /* start of the data section (inside file) */
    size_t data_len;
    alim_st_tensor *tensors;             /* owned, n of them, in header order */
    size_t n;
    cJSON *metadata;                     /* the "__metadata__" object or NULL, owned */
} alim_safetensors;

/* Reads and validates a safetensors file. Free with alim_safetensors_free. */
alim_status alim_safetensors_read(const char *path, alim_safetensors *st, alim_error *err);
void alim_safetensors_free(alim_safetensors *st);

/* The tensor called `name`, or NULL. */
const alim_st_tensor *alim_safetensors_find(const alim_safetensors *st, const char *name);

/* Copies tensor `name` to dst as floats after checking that it exists and has exactly
 * shape[0..ndim) (a 1-element shape may also be stored as a scalar). Errors name
 * "path: name". */
alim_status alim_safetensors_copy_f32(const alim_safetensors *st, const char *name, int ndim,
                                      const int64_t *shape, float *dst, alim_error *err);

/* One tensor to write: float data of the given shape (borrowed). */
typedef struct {
    const char *name;
    const float *data;
    int ndim;
    int64_t shape[ALIM_ST_MAX_DIMS];
} alim_st_entry;

/* Writes tensors (in the order given) and optional string metadata (an object of string
 * values, may be NULL) atomically to path. */
alim_status alim_safetensors_write(const char *path, const alim_st_entry *entries, size_t n,
                                   const cJSON *metadata, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
