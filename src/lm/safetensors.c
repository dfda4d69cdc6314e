/* safetensors.c — safetensors reader and writer (see alim/safetensors.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/safetensors.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"

static uint64_t read_le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void alim_safetensors_free(alim_safetensors *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n; i++) free(st->tensors[i].name);
    free(st->tensors);
    free(st->file);
    free(st->path);
    cJSON_Delete(st->metadata);
    memset(st, 0, sizeof *st);
}

static int cmp_offset(const void *a, const void *b)
{
    const alim_st_tensor *x = *(const alim_st_tensor *const *)a, *y = *(const alim_st_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

alim_status alim_safetensors_read(const char *path, alim_safetensors *st, alim_error *err)
{
    memset(st, 0, sizeof *st);
    char *buf;
    size_t len;
    alim_status s = alim_file_read_all(path, &buf, &len, err);
    if (s) return s;
    st->file = (unsigned char *)buf;
    st->file_len = len;
    st->path = strdup(path);
    char where[ALIM_ERROR_WHERE_MAX];
    if (!st->path) {
        alim_safetensors_free(st);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    if (len < 8) {
        alim_safetensors_free(st);
        return alim_error_set(err, ALIM_EFORMAT, path, "not a safetensors file: %zu bytes, too short for the header length", len);
    }
    uint64_t hlen = read_le64(st->file);
    if (hlen < 2 || hlen > len - 8) {
        alim_safetensors_free(st);
        return alim_error_set(err, ALIM_EFORMAT, path, "bad header length %llu (file has %zu bytes): truncated or not a safetensors file", (unsigned long long)hlen, len);
    }
    const char *hdr = (const char *)st->file + 8;
    cJSON *root = cJSON_ParseWithLength(hdr, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        alim_safetensors_free(st);
        return alim_error_set(err, ALIM_EFORMAT, path, "header is not a JSON object");
    }
    st->data = st->file + 8 + hlen;
    st->data_len = len - 8 - (size_t)hlen;
    size_t count = 0;
    for (cJSON *it = root->child; it; it = it->next) count++;
    st->tensors = calloc(count ? count : 1, sizeof *st->tensors);
    if (!st->tensors) {
        cJSON_Delete(root);
        alim_safetensors_free(st);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    s = ALIM_OK;
    for (cJSON *it = root->child; it && !s; it = it->next) {
        snprintf(where, sizeof where, "%s: %s", path, it->string);
        if (!strcmp(it->string, "__metadata__")) {
            if (!cJSON_IsObject(it)) {
                s = alim_error_set(err, ALIM_EFORMAT, where, "must be an object");
                break;
            }
            if (st->metadata) { /* a second copy would leak the first (found by fuzz_safetensors) */
                s = alim_error_set(err, ALIM_EFORMAT, where, "appears twice in the header");
                break;
            }
            st->metadata = cJSON_Duplicate(it, 1);
            continue;
        }
        alim_st_tensor *t = &st->tensors[st->n];
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shape");
        const cJSON *off = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2) {
            s = alim_error_set(err, ALIM_EFORMAT, where, "tensor entry needs dtype, shape and data_offsets [begin, end]");
            break;
        }
        size_t esize;
        if (!strcmp(dt->valuestring, "F32")) t->dtype = ALIM_ST_F32, esize = 4;
        else if (!strcmp(dt->valuestring, "F16")) t->dtype = ALIM_ST_F16, esize = 2;
        else if (!strcmp(dt->valuestring, "BF16")) t->dtype = ALIM_ST_BF16, esize = 2;
        else {
            s = alim_error_set(err, ALIM_EFORMAT, where, "unsupported dtype '%s' (alim reads F32, F16, BF16)", dt->valuestring);
            break;
        }
        int nd = cJSON_GetArraySize(sh);
        if (nd > ALIM_ST_MAX_DIMS) {
            s = alim_error_set(err, ALIM_EFORMAT, where, "%d dimensions (at most %d)", nd, ALIM_ST_MAX_DIMS);
            break;
        }
        double elems = 1.0;
        t->ndim = nd;
        for (int d = 0; d < nd && !s; d++) {
            const cJSON *e = cJSON_GetArrayItem(sh, d);
            if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble != floor(e->valuedouble) || e->valuedouble > 1e15)
                s = alim_error_set(err, ALIM_EFORMAT, where, "shape entry %d is not a non-negative integer", d);
            else {
                t->shape[d] = (int64_t)e->valuedouble;
                elems *= e->valuedouble;
            }
        }
        if (s) break;
        const cJSON *b0 = cJSON_GetArrayItem(off, 0), *b1 = cJSON_GetArrayItem(off, 1);
        if (!cJSON_IsNumber(b0) || !cJSON_IsNumber(b1) || b0->valuedouble < 0 || b1->valuedouble < b0->valuedouble) {
            s = alim_error_set(err, ALIM_EFORMAT, where, "bad data_offsets");
            break;
        }
        double begin = b0->valuedouble, end = b1->valuedouble;
        if (end > (double)st->data_len) {
            s = alim_error_set(err, ALIM_EFORMAT, where, "data [%.0f, %.0f) lies past the end of the file (data section has %zu bytes): truncated?", begin, end, st->data_len);
            break;
        }
        if (end - begin != elems * (double)esize) {
            s = alim_error_set(err, ALIM_EFORMAT, where, "data_offsets span %.0f bytes, the shape needs %.0f", end - begin, elems * (double)esize);
            break;
        }
        t->offset = (size_t)begin;
        t->nbytes = (size_t)(end - begin);
        t->name = strdup(it->string);
        if (!t->name) {
            s = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
            break;
        }
        st->n++;
    }
    cJSON_Delete(root);
    if (!s && st->n > 1) { /* no two tensors may overlap */
        const alim_st_tensor **order = malloc(st->n * sizeof *order);
        if (!order) s = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
        else {
            for (size_t i = 0; i < st->n; i++) order[i] = &st->tensors[i];
            qsort(order, st->n, sizeof *order, cmp_offset);
            for (size_t i = 1; i < st->n && !s; i++)
                if (order[i]->offset < order[i - 1]->offset + order[i - 1]->nbytes) {
                    snprintf(where, sizeof where, "%s: %s", path, order[i]->name);
                    s = alim_error_set(err, ALIM_EFORMAT, where, "data overlaps tensor %s", order[i - 1]->name);
                }
            free(order);
        }
    }
    if (s) alim_safetensors_free(st);
    return s;
}

const alim_st_tensor *alim_safetensors_find(const alim_safetensors *st, const char *name)
{
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        float f = ldexpf((float)man, -24);
        return sign ? -f : f;
    }
    if (exp == 31) bits = sign | 0x7f800000u | (man << 13);
    else bits = sign | ((exp + 112) << 23) | (man << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

alim_status alim_safetensors_copy_f32(const alim_safetensors *st, const char *name, int ndim,
                                      const int64_t *shape, float *dst, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    snprintf(where, sizeof where, "%s: %s", st->path, name);
    const alim_st_tensor *t = alim_safetensors_find(st, name);
    if (!t) return alim_error_set(err, ALIM_EFORMAT, where, "missing tensor");
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char got[128] = "", want[128] = "";
        size_t g = 0, w = 0;
        for (int d = 0; d < t->ndim && g < sizeof got; d++) g += (size_t)snprintf(got + g, sizeof got - g, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        for (int d = 0; d < ndim && w < sizeof want; d++) w += (size_t)snprintf(want + w, sizeof want - w, "%s%lld", d ? "," : "", (long long)shape[d]);
        return alim_error_set(err, ALIM_EFORMAT, where, "shape mismatch: file has (%s), the model needs (%s)", got, want);
    }
    const unsigned char *src = st->data + t->offset;
    if (t->dtype == ALIM_ST_F32) memcpy(dst, src, t->nbytes);
    else {
        size_t n = t->nbytes / 2;
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            if (t->dtype == ALIM_ST_F16) dst[i] = half_to_float(h);
            else {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&dst[i], &bits, 4);
            }
        }
    }
    return ALIM_OK;
}

alim_status alim_safetensors_write(const char *path, const alim_st_entry *entries, size_t n,
                                   const cJSON *metadata, alim_error *err)
{
    cJSON *hdr = cJSON_CreateObject();
    if (!hdr) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    if (metadata) cJSON_AddItemToObject(hdr, "__metadata__", cJSON_Duplicate(metadata, 1));
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const alim_st_entry *e = &entries[i];
        size_t elems = 1;
        cJSON *t = cJSON_AddObjectToObject(hdr, e->name);
        cJSON_AddStringToObject(t, "dtype", "F32");
        cJSON *sh = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < e->ndim; d++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e->shape[d]));
            elems *= (size_t)e->shape[d];
        }
        cJSON *o = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
        off += elems * 4;
        cJSON_AddItemToArray(o, cJSON_CreateNumber((double)off));
    }
    char *js = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    if (!js) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    size_t jl = strlen(js), padded = (jl + 7) / 8 * 8;
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    alim_atomic_file f;
    alim_status s = alim_atomic_open(&f, path, err);
    if (s) {
        free(js);
        return s;
    }
    int bad = fwrite(lenbuf, 1, 8, f.fp) != 8 || fwrite(js, 1, jl, f.fp) != jl;
    for (size_t i = jl; i < padded && !bad; i++) bad = fputc(' ', f.fp) == EOF;
    free(js);
    for (size_t i = 0; i < n && !bad; i++) {
        size_t elems = 1;
        for (int d = 0; d < entries[i].ndim; d++) elems *= (size_t)entries[i].shape[d];
        bad = elems && fwrite(entries[i].data, sizeof(float), elems, f.fp) != elems;
    }
    if (bad) {
        int e = errno;
        alim_atomic_abort(&f);
        return alim_error_set(err, ALIM_EIO, path, "write failed: %s", strerror(e));
    }
    return alim_atomic_commit(&f, err);
}
