/* cmd_gguf.c — `alim gguf`: inspect a GGUF model file, dump a tensor as float32. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alim/gguf.h"
#include "alim/io.h"
#include "cli.h"

const char cmd_gguf_help[] =
    "usage: alim gguf FILE [--json] [--tensors] [--full] [--read-all] [--threads N]\n"
    "       alim gguf FILE --tensor NAME --out OUT.f32\n"
    "\n"
    "Reads a GGUF model file (the format of llama.cpp and ollama, versions 2 and 3) and shows\n"
    "its version, its metadata (architecture, hyperparameters, tokenizer...), how many tensors\n"
    "of each type it holds and the total number of parameters. The whole file is checked\n"
    "first: a truncated or corrupt file is refused with a message saying where it broke.\n"
    "\n"
    "Tensor shapes are shown in PyTorch order (rows first), i.e. ggml's ne[] reversed: a\n"
    "token embedding with ne = [576, 49152] is [49152, 576]. alim dequantises F32, F16, BF16,\n"
    "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K and Q6_K bit for bit as ggml does; tensors of\n"
    "other types (IQ*, Q2_K, Q3_K, ...) are listed but cannot be read.\n"
    "\n"
    "options:\n"
    "  --tensors        list every tensor: name, type, shape, bytes and file offset\n"
    "  --full           show arrays and strings in full (default: arrays of more than 8\n"
    "                   elements, 64 in JSON, are summarised as 'array of 49152 strings' and\n"
    "                   strings cut at 120 characters in the table)\n"
    "  --tensor NAME    dequantise tensor NAME ...\n"
    "  --out FILE       ... and write it to FILE as little-endian float32, ne[0] fastest\n"
    "                   (a row-major (rows, columns) matrix for 2-D); numpy reads it with\n"
    "                   np.fromfile(FILE, '<f4').reshape(shape)\n"
    "  --read-all       dequantise every supported tensor and report the time taken and any\n"
    "                   non-finite values (a quick health check of a download)\n"
    "  --threads N      OpenMP threads for dequantising (default: all cores)\n"
    "  --json           one JSON object: version, metadata (exact values: 64-bit integers in\n"
    "                   full, floats to 17 digits, inf/nan as strings, bytes that are not\n"
    "                   UTF-8 as U+FFFD), metadata_types, tensor_types, n_parameters (and\n"
    "                   tensors, written, read_all)\n"
    "\n"
    "examples:\n"
    "  alim gguf SmolLM2-135M-Instruct.Q4_1.gguf\n"
    "  alim gguf model.gguf --tensors --json\n"
    "  alim gguf model.gguf --tensor token_embd.weight --out emb.f32\n";

enum { O_JSON = 256, O_TENSORS, O_FULL, O_TENSOR, O_OUT, O_READ_ALL, O_THREADS };
enum { TEXT_ARRAY_MAX = 8, JSON_ARRAY_MAX = 64, TEXT_STRING_MAX = 120, MAX_TYPE_ID = 64 };

/* ---- text rendering of values ---------------------------------------------------------- */

/* Bytes from the file go to the terminal escaped: control characters (which could move the
 * cursor or recolour the terminal) as \xNN, quotes and backslashes doubled. */
static void print_escaped(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
}

static void print_string(const char *s, size_t len, int full)
{
    const size_t shown = !full && len > TEXT_STRING_MAX ? TEXT_STRING_MAX : len;
    putchar('"');
    print_escaped(s, shown);
    putchar('"');
    if (shown < len) printf("... (%zu bytes)", len);
}

static const char *plural_type(int type)
{
    switch (type) {
    case ALIM_GGUF_STRING: return "strings";
    case ALIM_GGUF_ARRAY: return "arrays";
    case ALIM_GGUF_BOOL: return "bools";
    default: return alim_gguf_value_type_name(type);
    }
}

static void print_value(alim_gguf_value v, int full)
{
    switch (v.type) {
    case ALIM_GGUF_UINT8: case ALIM_GGUF_UINT16: case ALIM_GGUF_UINT32: case ALIM_GGUF_UINT64:
        printf("%" PRIu64, alim_gguf_value_u64(v));
        break;
    case ALIM_GGUF_INT8: case ALIM_GGUF_INT16: case ALIM_GGUF_INT32: case ALIM_GGUF_INT64:
        printf("%" PRId64, alim_gguf_value_i64(v));
        break;
    case ALIM_GGUF_FLOAT32: printf("%.9g", alim_gguf_value_f64(v)); break;
    case ALIM_GGUF_FLOAT64: printf("%.17g", alim_gguf_value_f64(v)); break;
    case ALIM_GGUF_BOOL: fputs(alim_gguf_value_u64(v) ? "true" : "false", stdout); break;
    case ALIM_GGUF_STRING: {
        size_t len;
        const char *s = alim_gguf_value_string(v, &len);
        print_string(s, len, full);
        break;
    }
    case ALIM_GGUF_ARRAY: {
        const uint64_t n = alim_gguf_array_length(v);
        if (!full && n > TEXT_ARRAY_MAX) {
            printf("array of %" PRIu64 " %s", n, plural_type(alim_gguf_array_type(v)));
            break;
        }
        putchar('[');
        alim_gguf_value e = alim_gguf_array_first(v);
        for (uint64_t i = 0; i < n; i++) {
            if (i) {
                fputs(", ", stdout);
                e = alim_gguf_array_next(e);
            }
            print_value(e, full);
        }
        putchar(']');
        break;
    }
    default: fputs("?", stdout);
    }
}

/* "uint32", "array[string]", "array[array[int8]]" */
static void type_text(alim_gguf_value v, char *buf, size_t cap)
{
    if (v.type != ALIM_GGUF_ARRAY) {
        snprintf(buf, cap, "%s", alim_gguf_value_type_name(v.type));
        return;
    }
    char inner[96];
    if (alim_gguf_array_type(v) == ALIM_GGUF_ARRAY && alim_gguf_array_length(v) > 0)
        type_text(alim_gguf_array_first(v), inner, sizeof inner);
    else snprintf(inner, sizeof inner, "%s", alim_gguf_value_type_name(alim_gguf_array_type(v)));
    snprintf(buf, cap, "array[%s]", inner);
}

/* ---- JSON rendering ---------------------------------------------------------------------- */

/* A NUL-terminated copy that is valid UTF-8 (alim_utf8_valid_copy: ill-formed sequences
 * become U+FFFD) in which NUL bytes become U+FFFD too (JSON output must be UTF-8, cJSON
 * strings end at NUL). */
static char *utf8_copy(const char *s, size_t len)
{
    size_t n;
    char *v = alim_utf8_valid_copy(s, len, &n);
    if (!v || !memchr(v, 0, n)) return v;
    char *o = malloc(3 * n + 1);
    size_t k = 0;
    for (size_t i = 0; o && i < n; i++) {
        if (v[i]) o[k++] = v[i];
        else memcpy(o + k, "\xef\xbf\xbd", 3), k += 3;
    }
    if (o) o[k] = '\0';
    free(v);
    return o;
}

static cJSON *json_string(const char *s, size_t len)
{
    char *c = utf8_copy(s, len);
    cJSON *j = c ? cJSON_CreateString(c) : NULL;
    free(c);
    return j;
}

/* Numbers are printed by us, not by cJSON, whose "%1.15g" first try can drop the last bits
 * of large integers and of doubles: integers exactly in decimal (also beyond 2^53), floats
 * with 17 significant digits, which read back as the same double. */
static cJSON *json_u64(uint64_t u)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, u);
    return cJSON_CreateRaw(b);
}

static cJSON *json_i64(int64_t i)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRId64, i);
    return cJSON_CreateRaw(b);
}

static cJSON *json_double(double d)
{
    if (!isfinite(d)) return alim_json_create_number(d);
    char b[40];
    snprintf(b, sizeof b, "%.17g", d);
    return cJSON_CreateRaw(b);
}

static cJSON *json_value(alim_gguf_value v, int full)
{
    switch (v.type) {
    case ALIM_GGUF_UINT8: case ALIM_GGUF_UINT16: case ALIM_GGUF_UINT32: case ALIM_GGUF_UINT64:
        return json_u64(alim_gguf_value_u64(v));
    case ALIM_GGUF_INT8: case ALIM_GGUF_INT16: case ALIM_GGUF_INT32: case ALIM_GGUF_INT64:
        return json_i64(alim_gguf_value_i64(v));
    case ALIM_GGUF_FLOAT32: case ALIM_GGUF_FLOAT64: return json_double(alim_gguf_value_f64(v));
    case ALIM_GGUF_BOOL: return cJSON_CreateBool(alim_gguf_value_u64(v) != 0);
    case ALIM_GGUF_STRING: {
        size_t len;
        const char *s = alim_gguf_value_string(v, &len);
        return json_string(s, len);
    }
    case ALIM_GGUF_ARRAY: {
        const uint64_t n = alim_gguf_array_length(v);
        if (!full && n > JSON_ARRAY_MAX) {
            char b[96];
            snprintf(b, sizeof b, "array of %" PRIu64 " %s", n, plural_type(alim_gguf_array_type(v)));
            return cJSON_CreateString(b);
        }
        cJSON *a = cJSON_CreateArray();
        alim_gguf_value e = alim_gguf_array_first(v);
        for (uint64_t i = 0; a && i < n; i++) {
            if (i) e = alim_gguf_array_next(e);
            cJSON_AddItemToArray(a, json_value(e, full));
        }
        return a;
    }
    default: return cJSON_CreateNull();
    }
}

/* ---- the command ------------------------------------------------------------------------ */

static void human_bytes(double b, char *buf, size_t cap)
{
    if (b < 1e3) snprintf(buf, cap, "%.0f B", b);
    else if (b < 1e6) snprintf(buf, cap, "%.1f kB", b / 1e3);
    else if (b < 1e9) snprintf(buf, cap, "%.1f MB", b / 1e6);
    else snprintf(buf, cap, "%.2f GB", b / 1e9);
}

static void shape_text(const alim_gguf_tensor *t, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "[");
    for (int d = t->n_dims - 1; d >= 0 && k < cap; d--)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, d == t->n_dims - 1 ? "" : ", ", t->ne[d]);
    if (k < cap) snprintf(buf + k, cap - k, "]");
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Dequantises one tensor into a new buffer. */
static alim_status read_tensor(const alim_gguf *g, const alim_gguf_tensor *t, float **out, alim_error *err)
{
    *out = NULL;
    if (t->n_elements > SIZE_MAX / sizeof(float)) {
        char where[ALIM_ERROR_WHERE_MAX];
        snprintf(where, sizeof where, "%s: %s", alim_gguf_path(g), t->name);
        return alim_error_set(err, ALIM_ENOMEM, where, "too large for this machine");
    }
    float *buf = malloc((size_t)(t->n_elements ? t->n_elements : 1) * sizeof *buf);
    if (!buf) {
        char where[ALIM_ERROR_WHERE_MAX];
        snprintf(where, sizeof where, "%s: %s", alim_gguf_path(g), t->name);
        return alim_error_set(err, ALIM_ENOMEM, where, "out of memory for %" PRIu64 " floats", t->n_elements);
    }
    alim_status s = alim_gguf_tensor_read_f32(g, t, buf, err);
    if (s) free(buf);
    else *out = buf;
    return s;
}

/* Writes n floats as little-endian float32, atomically. */
static alim_status write_f32(const char *path, float *v, uint64_t n, alim_error *err)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    for (uint64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        u = __builtin_bswap32(u);
        memcpy(&v[i], &u, 4);
    }
#endif
    return alim_file_write_atomic(path, v, (size_t)n * sizeof *v, err);
}

typedef struct {
    uint64_t tensors, values, non_finite;
    int unsupported;
    double seconds;
} read_all_result;

static alim_status read_all(const alim_gguf *g, read_all_result *r, alim_error *err)
{
    memset(r, 0, sizeof *r);
    uint64_t max = 1;
    for (int i = 0; i < alim_gguf_tensor_count(g); i++) {
        const alim_gguf_tensor *t = alim_gguf_tensor_at(g, i);
        if (alim_gguf_type_supported(t->type) && t->n_elements > max) max = t->n_elements;
    }
    if (max > SIZE_MAX / sizeof(float)) return alim_error_set(err, ALIM_ENOMEM, alim_gguf_path(g), "a tensor is too large for this machine");
    float *buf = malloc((size_t)max * sizeof *buf);
    if (!buf) return alim_error_set(err, ALIM_ENOMEM, alim_gguf_path(g), "out of memory");
    alim_status s = ALIM_OK;
    for (int i = 0; i < alim_gguf_tensor_count(g) && !s; i++) {
        const alim_gguf_tensor *t = alim_gguf_tensor_at(g, i);
        if (!alim_gguf_type_supported(t->type)) {
            r->unsupported++;
            continue;
        }
        const double t0 = now_seconds();
        s = alim_gguf_tensor_read_f32(g, t, buf, err);
        r->seconds += now_seconds() - t0;
        r->tensors++;
        r->values += t->n_elements;
        for (uint64_t k = 0; !s && k < t->n_elements; k++) r->non_finite += !isfinite(buf[k]);
    }
    free(buf);
    return s;
}

int cmd_gguf(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, 0, O_JSON}, {"tensors", no_argument, 0, O_TENSORS},
        {"full", no_argument, 0, O_FULL}, {"tensor", required_argument, 0, O_TENSOR},
        {"out", required_argument, 0, O_OUT}, {"read-all", no_argument, 0, O_READ_ALL},
        {"threads", required_argument, 0, O_THREADS}, {0, 0, 0, 0}};
    int json = 0, list = 0, full = 0, all = 0, rc = 0, c;
    const char *tensor = NULL, *out = NULL, *path = NULL;
    opterr = 0;
    optind = 1;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case O_JSON: json = 1; break;
        case O_TENSORS: list = 1; break;
        case O_FULL: full = 1; break;
        case O_TENSOR: tensor = optarg; break;
        case O_OUT: out = optarg; break;
        case O_READ_ALL: all = 1; break;
        case O_THREADS: rc = cli_lm_set_threads(optarg); break;
        case ':': rc = cli_usage_error("gguf", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("gguf", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (rc) return rc;
    if (optind < argc) path = argv[optind++];
    if (optind < argc) return cli_usage_error("gguf", "one file at a time ('%s' is extra)", argv[optind]);
    if (!path) return cli_usage_error("gguf", "no GGUF file given");
    if (tensor && !out) return cli_usage_error("gguf", "--tensor needs --out FILE to write the values to");
    if (out && !tensor) return cli_usage_error("gguf", "--out needs --tensor NAME");

    alim_error err;
    alim_error_clear(&err);
    alim_gguf *g = NULL;
    alim_status st = alim_gguf_open(path, &g, &err);
    if (st) return cli_fail(&err);

    const alim_gguf_tensor *sel = NULL;
    if (tensor) {
        sel = alim_gguf_find_tensor(g, tensor);
        if (!sel) {
            char where[ALIM_ERROR_WHERE_MAX];
            snprintf(where, sizeof where, "%s: %s", path, tensor);
            st = alim_error_set(&err, ALIM_EINVAL, where, "no such tensor (the file has %d; list them with --tensors)",
                                alim_gguf_tensor_count(g));
        } else {
            float *v = NULL;
            st = read_tensor(g, sel, &v, &err);
            if (!st) st = write_f32(out, v, sel->n_elements, &err);
            free(v);
        }
    }
    read_all_result ra;
    if (!st && all) st = read_all(g, &ra, &err);
    if (st) {
        alim_gguf_close(g);
        return cli_fail(&err);
    }

    /* tensor totals by type */
    uint64_t count_by[MAX_TYPE_ID] = {0}, params_by[MAX_TYPE_ID] = {0}, params = 0, bytes = 0;
    const int nt = alim_gguf_tensor_count(g), nkv = alim_gguf_kv_count(g);
    for (int i = 0; i < nt; i++) {
        const alim_gguf_tensor *t = alim_gguf_tensor_at(g, i);
        count_by[t->type]++; /* ids were validated against ggml's table, all < MAX_TYPE_ID */
        params_by[t->type] += t->n_elements;
        params += t->n_elements;
        bytes += t->n_bytes;
    }

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "path", path);
        cJSON_AddNumberToObject(o, "version", alim_gguf_version(g));
        cJSON_AddItemToObject(o, "file_bytes", json_u64(alim_gguf_file_size(g)));
        cJSON_AddItemToObject(o, "alignment", json_u64(alim_gguf_alignment(g)));
        cJSON_AddItemToObject(o, "data_offset", json_u64(alim_gguf_data_offset(g)));
        cJSON *md = cJSON_AddObjectToObject(o, "metadata");
        cJSON *mt = cJSON_AddObjectToObject(o, "metadata_types");
        for (int i = 0; i < nkv; i++) {
            size_t kl;
            const char *k = alim_gguf_kv_key(g, i, &kl);
            char *key = utf8_copy(k, kl);
            if (!key) continue;
            const alim_gguf_value v = alim_gguf_kv_value(g, i);
            char tt[128];
            type_text(v, tt, sizeof tt);
            cJSON_AddItemToObject(md, key, json_value(v, full));
            cJSON_AddStringToObject(mt, key, tt);
            free(key);
        }
        cJSON_AddNumberToObject(o, "n_tensors", nt);
        cJSON_AddItemToObject(o, "n_parameters", json_u64(params));
        cJSON_AddItemToObject(o, "tensor_bytes", json_u64(bytes));
        cJSON *tt = cJSON_AddObjectToObject(o, "tensor_types");
        for (int k = 0; k < MAX_TYPE_ID; k++)
            if (count_by[k]) {
                cJSON *e = cJSON_AddObjectToObject(tt, alim_gguf_type_name(k));
                cJSON_AddNumberToObject(e, "type_id", k);
                cJSON_AddItemToObject(e, "count", json_u64(count_by[k]));
                cJSON_AddItemToObject(e, "parameters", json_u64(params_by[k]));
                cJSON_AddBoolToObject(e, "supported", alim_gguf_type_supported(k));
            }
        if (list) {
            cJSON *arr = cJSON_AddArrayToObject(o, "tensors");
            for (int i = 0; i < nt; i++) {
                const alim_gguf_tensor *t = alim_gguf_tensor_at(g, i);
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "name", t->name);
                cJSON_AddStringToObject(e, "type", alim_gguf_type_name(t->type));
                cJSON_AddNumberToObject(e, "type_id", t->type);
                cJSON *sh = cJSON_AddArrayToObject(e, "shape"), *ne = cJSON_AddArrayToObject(e, "ne");
                for (int d = t->n_dims - 1; d >= 0; d--) cJSON_AddItemToArray(sh, json_i64(t->ne[d]));
                for (int d = 0; d < t->n_dims; d++) cJSON_AddItemToArray(ne, json_i64(t->ne[d]));
                cJSON_AddItemToObject(e, "n_elements", json_u64(t->n_elements));
                cJSON_AddItemToObject(e, "bytes", json_u64(t->n_bytes));
                cJSON_AddItemToObject(e, "offset", json_u64(alim_gguf_tensor_file_offset(g, t)));
                cJSON_AddItemToArray(arr, e);
            }
        }
        if (sel) {
            cJSON *w = cJSON_AddObjectToObject(o, "written");
            cJSON_AddStringToObject(w, "tensor", sel->name);
            cJSON_AddStringToObject(w, "path", out);
            cJSON_AddItemToObject(w, "n_elements", json_u64(sel->n_elements));
            cJSON_AddItemToObject(w, "bytes", json_u64(sel->n_elements * 4));
        }
        if (all) {
            cJSON *r = cJSON_AddObjectToObject(o, "read_all");
            cJSON_AddItemToObject(r, "tensors", json_u64(ra.tensors));
            cJSON_AddItemToObject(r, "values", json_u64(ra.values));
            cJSON_AddNumberToObject(r, "seconds", ra.seconds);
            cJSON_AddItemToObject(r, "non_finite", json_u64(ra.non_finite));
            cJSON_AddNumberToObject(r, "unsupported_tensors", ra.unsupported);
        }
        alim_gguf_close(g);
        return cli_print_json(o);
    }

    char hb[32], hd[32];
    human_bytes((double)alim_gguf_file_size(g), hb, sizeof hb);
    printf("file        %s: GGUF v%u, %s, alignment %" PRIu64 ", data at byte %" PRIu64 "\n", path,
           alim_gguf_version(g), hb, alim_gguf_alignment(g), alim_gguf_data_offset(g));
    printf("metadata    %d keys\n", nkv);
    size_t width = 0;
    for (int i = 0; i < nkv; i++) {
        size_t kl;
        alim_gguf_kv_key(g, i, &kl);
        if (kl > width) width = kl;
    }
    if (width > 40) width = 40;
    for (int i = 0; i < nkv; i++) {
        size_t kl;
        const char *k = alim_gguf_kv_key(g, i, &kl);
        const alim_gguf_value v = alim_gguf_kv_value(g, i);
        char tt[128];
        type_text(v, tt, sizeof tt);
        fputs("  ", stdout);
        print_escaped(k, kl);
        printf("%*s  %-14s ", kl < width ? (int)(width - kl) : 0, "", tt);
        print_value(v, full);
        putchar('\n');
    }
    human_bytes((double)bytes, hd, sizeof hd);
    printf("tensors     %d, %" PRIu64 " parameters, %s of data\n", nt, params, hd);
    for (int k = 0; k < MAX_TYPE_ID; k++)
        if (count_by[k])
            printf("  %-8s %6" PRIu64 " tensor%s %14" PRIu64 " parameters%s\n", alim_gguf_type_name(k), count_by[k],
                   count_by[k] == 1 ? " " : "s", params_by[k], alim_gguf_type_supported(k) ? "" : "  (alim cannot dequantise this type)");
    if (list) {
        size_t nw = 4;
        for (int i = 0; i < nt; i++) {
            const size_t l = strlen(alim_gguf_tensor_at(g, i)->name);
            if (l > nw) nw = l;
        }
        printf("  %-*s  %-7s  %-22s  %12s  %12s\n", (int)nw, "name", "type", "shape", "bytes", "offset");
        for (int i = 0; i < nt; i++) {
            const alim_gguf_tensor *t = alim_gguf_tensor_at(g, i);
            char sh[96];
            shape_text(t, sh, sizeof sh);
            printf("  %-*s  %-7s  %-22s  %12" PRIu64 "  %12" PRIu64 "\n", (int)nw, t->name, alim_gguf_type_name(t->type),
                   sh, t->n_bytes, alim_gguf_tensor_file_offset(g, t));
        }
    }
    if (sel) {
        char sh[96];
        shape_text(sel, sh, sizeof sh);
        printf("wrote       %s: %s %s %s as %" PRIu64 " little-endian float32\n", out, sel->name,
               alim_gguf_type_name(sel->type), sh, sel->n_elements);
    }
    if (all)
        printf("read all    %" PRIu64 " tensors, %" PRIu64 " values dequantised in %.3f s; %" PRIu64
               " non-finite values%s\n",
               ra.tensors, ra.values, ra.seconds, ra.non_finite,
               ra.unsupported ? " (some tensors have types alim cannot read)" : "");
    alim_gguf_close(g);
    return CLI_EXIT_OK;
}
