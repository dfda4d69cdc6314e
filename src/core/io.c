/* io.c — numeric CSV and JSON input, atomic output (see alim/io.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/io.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

alim_status alim_file_read_all(const char *path, char **buf, size_t *len, alim_error *err)
{
    *buf = NULL;
    *len = 0;
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    /* a path that does not exist or cannot be read is bad input from the user (exit 2) */
    if (!fp) return alim_error_set(err, (errno == ENOENT || errno == EACCES || errno == EISDIR || errno == ENOTDIR) ? ALIM_EINVAL : ALIM_EIO, path, "cannot open: %s", strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    if (!b) {
        if (!is_stdin) fclose(fp);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap * 2;
            char *nb = realloc(b, ncap);
            if (!nb) {
                free(b);
                if (!is_stdin) fclose(fp);
                return alim_error_set(err, ALIM_ENOMEM, path, "out of memory reading file");
            }
            b = nb;
            cap = ncap;
        }
        size_t got = fread(b + n, 1, cap - n - 1, fp);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(fp);
    if (!is_stdin) fclose(fp);
    if (bad) {
        free(b);
        return alim_error_set(err, ALIM_EIO, path, "read error");
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return ALIM_OK;
}

void alim_matrix_free(alim_matrix *m)
{
    if (!m) return;
    free(m->data);
    free(m->line_of_row);
    m->data = NULL;
    m->line_of_row = NULL;
    m->rows = m->cols = 0;
}

/* Parses one line into vals (growing it); returns the number of fields, or
 * -1 on a non-numeric field (*bad_col set), -2 on a non-finite value. */
static long parse_row(char *s, char *end, double **vals, size_t *cap, size_t *bad_col)
{
    size_t k = 0;
    char *p = s;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p >= end) break;
        if (k >= *cap) {
            size_t nc = *cap ? *cap * 2 : 16;
            double *nv = realloc(*vals, nc * sizeof **vals);
            if (!nv) return -3;
            *vals = nv;
            *cap = nc;
        }
        char *q;
        errno = 0;
        double v = strtod(p, &q);
        /* the field must end at a separator or the end of the line */
        if (q == p || (q < end && *q != ',' && *q != ' ' && *q != '\t' && *q != '\r')) {
            *bad_col = k + 1;
            return -1;
        }
        if (!isfinite(v)) {
            *bad_col = k + 1;
            return -2;
        }
        (*vals)[k++] = v;
        p = q;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p < end && *p == ',') {
            p++;
            /* a trailing comma leaves an empty field */
            char *t = p;
            while (t < end && (*t == ' ' || *t == '\t' || *t == '\r')) t++;
            if (t >= end) {
                *bad_col = k + 1;
                return -1;
            }
        }
    }
    return (long)k;
}

alim_status alim_matrix_read_csv(const char *path, size_t min_cols, size_t max_cols,
                                 alim_matrix *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    if (memchr(buf, '\0', len))
        return free(buf), alim_error_set(err, ALIM_EFORMAT, path, "binary data (NUL byte) in a text file");

    double *row = NULL, *data = NULL;
    size_t rowcap = 0, datacap = 0, rows = 0, cols = 0, *lines = NULL, linecap = 0;
    size_t lineno = 0;
    int seen_data = 0;
    char where[ALIM_ERROR_WHERE_MAX];
    char *p = buf, *bufend = buf + len;
    st = ALIM_OK;
    while (p < bufend && st == ALIM_OK) {
        char *eol = memchr(p, '\n', (size_t)(bufend - p));
        if (!eol) eol = bufend;
        lineno++;
        char *s = p;
        p = eol + 1;
        while (s < eol && isspace((unsigned char)*s)) s++;
        if (s == eol || *s == '#') continue;
        size_t bad_col = 0;
        long k = parse_row(s, eol, &row, &rowcap, &bad_col);
        /* "path:line" for messages; formatted only when a message is due (this loop is hot) */
#define WHERE() (snprintf(where, sizeof where, "%s:%zu", path, lineno), where)
        if (k == -3) {
            st = alim_error_set(err, ALIM_ENOMEM, WHERE(), "out of memory");
            break;
        }
        if (k == -1) {
            if (!seen_data) { /* a header line */
                seen_data = 1;
                continue;
            }
            st = alim_error_set(err, ALIM_EFORMAT, WHERE(), "column %zu is not a number", bad_col);
            break;
        }
        if (k == -2) {
            st = alim_error_set(err, ALIM_EINVAL, WHERE(), "column %zu is not a finite number (NaN or inf)",
                                bad_col);
            break;
        }
        seen_data = 1;
        if (rows == 0) {
            cols = (size_t)k;
            if (min_cols && cols < min_cols) {
                st = alim_error_set(err, ALIM_EFORMAT, WHERE(), "row has %zu entries, expected at least %zu",
                                    cols, min_cols);
                break;
            }
            if (max_cols && cols > max_cols) {
                st = alim_error_set(err, ALIM_EFORMAT, WHERE(), "row has %zu entries, expected at most %zu",
                                    cols, max_cols);
                break;
            }
        } else if ((size_t)k != cols) {
            st = alim_error_set(err, ALIM_EFORMAT, WHERE(), "row has %ld entries, expected %zu (ragged rows)",
                                k, cols);
            break;
        }
        if ((rows + 1) * cols > datacap) {
            size_t nc = datacap ? datacap * 2 : 64 * cols;
            double *nd = realloc(data, nc * sizeof *data);
            if (!nd) {
                st = alim_error_set(err, ALIM_ENOMEM, WHERE(), "out of memory");
                break;
            }
            data = nd;
            datacap = nc;
        }
        if (rows + 1 > linecap) {
            size_t nc = linecap ? linecap * 2 : 64;
            size_t *nl = realloc(lines, nc * sizeof *lines);
            if (!nl) {
                st = alim_error_set(err, ALIM_ENOMEM, WHERE(), "out of memory");
                break;
            }
            lines = nl;
            linecap = nc;
        }
        memcpy(data + rows * cols, row, cols * sizeof *row);
        lines[rows] = lineno;
        rows++;
    }
#undef WHERE
    free(row);
    free(buf);
    if (st == ALIM_OK && rows == 0) st = alim_error_set(err, ALIM_EFORMAT, path, "no data rows (empty file?)");
    if (st) {
        free(data);
        free(lines);
        return st;
    }
    out->data = data;
    out->rows = rows;
    out->cols = cols;
    out->line_of_row = lines;
    return ALIM_OK;
}

alim_status alim_atomic_open(alim_atomic_file *f, const char *path, alim_error *err)
{
    memset(f, 0, sizeof *f);
    size_t n = strlen(path) + 32;
    f->final_path = strdup(path);
    f->tmp_path = malloc(n);
    if (!f->final_path || !f->tmp_path) {
        alim_atomic_abort(f);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        int e = errno;
        alim_atomic_abort(f);
        return alim_error_set(err, ALIM_EIO, path, "cannot create: %s", strerror(e));
    }
    return ALIM_OK;
}

alim_status alim_atomic_commit(alim_atomic_file *f, alim_error *err)
{
    alim_status st = ALIM_OK;
    if (!f->fp) return alim_error_set(err, ALIM_EINTERNAL, f->final_path ? f->final_path : "", "not open");
    int bad = ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0;
    int e = errno;
    if (fclose(f->fp) != 0) bad = 1;
    f->fp = NULL;
    if (bad) st = alim_error_set(err, ALIM_EIO, f->final_path, "write failed: %s", strerror(e));
    else if (rename(f->tmp_path, f->final_path) != 0)
        st = alim_error_set(err, ALIM_EIO, f->final_path, "cannot rename into place: %s", strerror(errno));
    if (st) remove(f->tmp_path);
    free(f->final_path);
    free(f->tmp_path);
    f->final_path = f->tmp_path = NULL;
    return st;
}

void alim_atomic_abort(alim_atomic_file *f)
{
    if (f->fp) {
        fclose(f->fp);
        f->fp = NULL;
        remove(f->tmp_path);
    }
    free(f->final_path);
    free(f->tmp_path);
    f->final_path = f->tmp_path = NULL;
}

alim_status alim_file_write_atomic(const char *path, const void *data, size_t len, alim_error *err)
{
    alim_atomic_file f;
    alim_status st = alim_atomic_open(&f, path, err);
    if (st) return st;
    if (len && fwrite(data, 1, len, f.fp) != len) {
        alim_atomic_abort(&f);
        return alim_error_set(err, ALIM_EIO, path, "write failed");
    }
    return alim_atomic_commit(&f, err);
}

alim_status alim_json_read_file(const char *path, cJSON **out, alim_error *err)
{
    *out = NULL;
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    const char *end = NULL;
    /* len + 1: the terminating NUL is part of the buffer cJSON must see */
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!j) {
        size_t line = 1, col = 1;
        const char *stop = end ? end : cJSON_GetErrorPtr();
        if (!stop || stop < buf || stop > buf + len) stop = buf + len;
        for (const char *c = buf; c < stop; c++) {
            if (*c == '\n') line++, col = 1;
            else col++;
        }
        st = alim_error_set(err, ALIM_EFORMAT, path, "%s at line %zu, column %zu",
                            len == 0 ? "empty file, expected JSON" : "invalid JSON", line, col);
    }
    free(buf);
    *out = j;
    return st;
}

alim_status alim_json_get_number(const cJSON *obj, const char *key, int required, const char *where,
                                 double *out, alim_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) return alim_error_set(err, ALIM_EINVAL, where, "missing key \"%s\"", key);
        return ALIM_OK;
    }
    if (!cJSON_IsNumber(v)) return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be a number", key);
    if (!isfinite(v->valuedouble))
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" is not a finite number", key);
    *out = v->valuedouble;
    return ALIM_OK;
}

alim_status alim_json_get_string(const cJSON *obj, const char *key, int required, const char *where,
                                 const char **out, alim_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) {
        if (required) return alim_error_set(err, ALIM_EINVAL, where, "missing key \"%s\"", key);
        return ALIM_OK;
    }
    if (!cJSON_IsString(v)) return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be a string", key);
    *out = v->valuestring;
    return ALIM_OK;
}

alim_status alim_json_check_keys(const cJSON *obj, const char *const *allowed, const char *where,
                                 alim_error *err)
{
    if (!cJSON_IsObject(obj)) return alim_error_set(err, ALIM_EINVAL, where, "expected a JSON object");
    for (const cJSON *c = obj->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *a = allowed; *a; a++)
            if (c->string && strcmp(c->string, *a) == 0) ok = 1;
        if (!ok) return alim_error_set(err, ALIM_EINVAL, where, "unknown key \"%s\"", c->string ? c->string : "");
    }
    return ALIM_OK;
}
