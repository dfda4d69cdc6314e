/* io.c — numeric CSV and JSON input, atomic output (see alim/io.h). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* MAP_POPULATE */
#include "alim/io.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <omp.h>

alim_status alim_file_read_all(const char *path, char **buf, size_t *len, alim_error *err)
{
    *buf = NULL;
    *len = 0;
    int is_stdin = strcmp(path, "-") == 0;
    FILE *fp = is_stdin ? stdin : fopen(path, "rb");
    /* a path that does not exist or cannot be read is bad input from the user (exit 2) */
    if (!fp) return alim_error_set(err, (errno == ENOENT || errno == EACCES || errno == EISDIR || errno == ENOTDIR) ? ALIM_EINVAL : ALIM_EIO, path, "cannot open: %s", strerror(errno));
    /* fopen(DIR, "rb") succeeds on Linux and only the first read fails (EISDIR): a directory
     * given where a file is expected is the user's mistake, said as such */
    struct stat sb;
    if (!is_stdin && fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
        fclose(fp);
        return alim_error_set(err, ALIM_EINVAL, path, "is a directory, expected a file");
    }
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

/* ---- numbers ------------------------------------------------------------------------------
 * fast_number parses the plain decimal numbers that make up almost every CSV file
 * ([+-] digits [. digits] [(e|E) [+-] digits], at most 19 significant digits) and returns
 * the correctly rounded double, bit for bit what strtod returns: w * 10^e with w < 2^64 is
 * one exact double operation when w <= 2^53 and |e| <= 22 (Clinger's fast path: both
 * operands are exact doubles, so IEEE rounds the exact product/quotient once); otherwise,
 * on x86-64, one x87 extended (64-bit significand) operation when |e| <= 27 (w and 10^|e|
 * are exact there), whose result is rounded to double unless it is exactly halfway between
 * two doubles (the only case where rounding twice can differ from rounding once). Anything
 * else -- more digits, larger exponents, hex, inf/nan words, a field not followed by a
 * separator -- returns 0 and the caller uses strtod, so the accepted syntax and the
 * messages do not change. */

#define IS_SEP(c) ((c) == ',' || (c) == ' ' || (c) == '\t' || (c) == '\r' || (c) == '\n')

static const double pow10_d[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                   1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#if defined(__x86_64__) && LDBL_MANT_DIG == 64
#define ALIM_X87_PATH 1
static const long double pow10_ld[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
    1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

/* 1 and the value of the 8 decimal digits at s (SWAR, little endian), or 0 if they are not
 * all digits. */
static inline int eight_digits(const char *s, uint64_t *val)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t x;
    memcpy(&x, s, sizeof x);
    if (((x & UINT64_C(0xF0F0F0F0F0F0F0F0)) |
         (((x + UINT64_C(0x0606060606060606)) & UINT64_C(0xF0F0F0F0F0F0F0F0)) >> 4)) != UINT64_C(0x3333333333333333))
        return 0;
    x -= UINT64_C(0x3030303030303030);
    x = x * 10 + (x >> 8); /* pairs of digits */
    x = (((x & UINT64_C(0x000000FF000000FF)) * (100 + (UINT64_C(1000000) << 32))) +
         (((x >> 16) & UINT64_C(0x000000FF000000FF)) * (1 + (UINT64_C(10000) << 32)))) >> 32;
    *val = x;
    return 1;
#else
    (void)s, (void)val;
    return 0;
#endif
}

static inline int fast_number(const char *p, const char *end, double *out, const char **stop)
{
    const char *s = p;
    int neg = 0;
    if (s < end && (*s == '-' || *s == '+')) neg = *s++ == '-';
    uint64_t w = 0;
    int nsig = 0, ndig = 0; /* significant digits in w; all mantissa digits seen */
    long e = 0;
    while (s < end && *s == '0') s++, ndig++;
    uint64_t x8;
    while (end - s >= 8 && nsig <= 11 && eight_digits(s, &x8)) w = w * 100000000 + x8, nsig += 8, ndig += 8, s += 8;
    while (s < end && (unsigned)(*s - '0') < 10) {
        if (nsig == 19) return 0;
        w = w * 10 + (unsigned)(*s - '0');
        nsig++, ndig++, s++;
    }
    if (s < end && *s == '.') {
        s++;
        if (w == 0)
            while (s < end && *s == '0') s++, ndig++, e--;
        while (end - s >= 8 && nsig <= 11 && eight_digits(s, &x8))
            w = w * 100000000 + x8, nsig += 8, ndig += 8, s += 8, e -= 8;
        while (s < end && (unsigned)(*s - '0') < 10) {
            if (nsig == 19) return 0;
            w = w * 10 + (unsigned)(*s - '0');
            nsig++, ndig++, s++, e--;
        }
    }
    if (ndig == 0) return 0;
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        int eneg = 0;
        if (s < end && (*s == '-' || *s == '+')) eneg = *s++ == '-';
        if (!(s < end && (unsigned)(*s - '0') < 10)) return 0;
        long ex = 0;
        while (s < end && (unsigned)(*s - '0') < 10) {
            if (ex < 100000) ex = ex * 10 + (*s - '0');
            s++;
        }
        e += eneg ? -ex : ex;
    }
    if (s < end && !IS_SEP(*s)) return 0; /* "0x1p3", "1.5f", ...: strtod decides */
    double v;
    if (w == 0) v = 0.0;
    else if (w <= (UINT64_C(1) << 53) && e >= -22 && e <= 22) {
        v = (double)w;
        v = e < 0 ? v / pow10_d[-e] : v * pow10_d[e];
    }
#ifdef ALIM_X87_PATH
    else if (e >= -27 && e <= 27) {
        long double x = (long double)w;
        x = e < 0 ? x / pow10_ld[-e] : x * pow10_ld[e];
        uint64_t mant;
        memcpy(&mant, &x, sizeof mant); /* the explicit 64-bit significand (little endian) */
        if ((mant & 0x7ff) == 0x400) return 0; /* halfway between two doubles: strtod */
        v = (double)x;
    }
#endif
    else return 0;
    *out = neg ? -v : v;
    *stop = s;
    return 1;
}

/* Parses one line [s, end) into vals (growing it); returns the number of fields, or
 * -1 on a non-numeric field (*bad_col set), -2 on a non-finite value. The line is followed
 * by '\n' or by a NUL byte in the buffer (strtod may look at it). */
static long parse_row(const char *s, const char *end, double **vals, size_t *cap, size_t *bad_col)
{
    size_t k = 0;
    const char *p = s;
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
        const char *q;
        double v;
        if (!fast_number(p, end, &v, &q)) {
            char *qq;
            v = strtod(p, &qq);
            q = qq;
            /* the field must end at a separator or the end of the line */
            if (q == p || (q < end && *q != ',' && *q != ' ' && *q != '\t' && *q != '\r')) {
                *bad_col = k + 1;
                return -1;
            }
            if (!isfinite(v)) {
                *bad_col = k + 1;
                return -2;
            }
        }
        (*vals)[k++] = v;
        p = q;
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
        if (p < end && *p == ',') {
            p++;
            /* a trailing comma leaves an empty field */
            const char *t = p;
            while (t < end && (*t == ' ' || *t == '\t' || *t == '\r')) t++;
            if (t >= end) {
                *bad_col = k + 1;
                return -1;
            }
        }
    }
    return (long)k;
}

/* Maps a regular file read-only (*len bytes, followed by at least one NUL byte: the rest
 * of its last page). Returns 0 when that is not possible (stdin, a pipe, an empty file, a
 * size that is a multiple of the page size, mmap failing); the caller then reads the file
 * with alim_file_read_all, which also produces the error messages. */
static int map_file(const char *path, const char **buf, size_t *len)
{
    if (strcmp(path, "-") == 0) return 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    struct stat st;
    long pg = sysconf(_SC_PAGESIZE);
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || pg <= 0 || st.st_size % pg == 0 ||
        (uintmax_t)st.st_size > SIZE_MAX / 2) {
        close(fd);
        return 0;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return 0;
    *buf = m;
    *len = (size_t)st.st_size;
    return 1;
}

/* After the first data row (header, width and bounds settled by the serial reader), the
 * rest of a large file is split at line starts into one chunk per OpenMP thread; each
 * chunk's data rows are counted, the arrays sized once, and every chunk parsed into its
 * own rows. Any irregularity (a bad field, a ragged row, out of memory) returns -1 without
 * changing *rows, and the serial reader carries on from the same line, so the result and
 * every error message are exactly those of the serial reader. */
enum { CSV_PAR_MIN = 1 << 22, CSV_TMAX = 16 };

static int parse_rest_parallel(const char *p, const char *end, size_t lineno0, size_t cols, double **data,
                               size_t *datacap, size_t **lines, size_t *linecap, size_t *rows)
{
    int T = omp_get_max_threads();
    if (T > CSV_TMAX) T = CSV_TMAX;
    if (T < 2) return -1;
    const char *b[CSV_TMAX + 1];
    size_t nrows[CSV_TMAX + 1], nlines[CSV_TMAX + 1];
    int bad = 0;
    const size_t len = (size_t)(end - p);
    b[0] = p;
    b[T] = end;
    for (int t = 1; t < T; t++) {
        const char *c = p + len * (size_t)t / (size_t)T;
        if (c < b[t - 1]) c = b[t - 1];
        const char *nl = c < end ? memchr(c, '\n', (size_t)(end - c)) : NULL;
        b[t] = nl ? nl + 1 : end;
    }
#pragma omp parallel for num_threads(T) schedule(static, 1)
    for (int t = 0; t < T; t++) {
        size_t nr = 0, nl = 0;
        for (const char *q = b[t]; q < b[t + 1];) {
            const char *eol = memchr(q, '\n', (size_t)(b[t + 1] - q));
            if (!eol) eol = b[t + 1];
            nl++;
            const char *s = q;
            q = eol + 1;
            while (s < eol && isspace((unsigned char)*s)) s++;
            if (s != eol && *s != '#') nr++;
        }
        nrows[t] = nr, nlines[t] = nl;
    }
    size_t total = 0, ltot = 0;
    for (int t = 0; t < T; t++) {
        size_t r = nrows[t], l = nlines[t];
        nrows[t] = total, nlines[t] = ltot; /* offsets */
        total += r, ltot += l;
    }
    const size_t need = *rows + total;
    if (need * cols > *datacap) {
        double *nd = realloc(*data, need * cols * sizeof **data);
        if (!nd) return -1;
        *data = nd;
        *datacap = need * cols;
    }
    if (need > *linecap) {
        size_t *nl = realloc(*lines, need * sizeof **lines);
        if (!nl) return -1;
        *lines = nl;
        *linecap = need;
    }
    double *D = *data;
    size_t *Ln = *lines;
    const size_t r0 = *rows;
#pragma omp parallel for num_threads(T) schedule(static, 1) reduction(| : bad)
    for (int t = 0; t < T; t++) {
        double *row = NULL;
        size_t rowcap = 0, ri = r0 + nrows[t], lineno = lineno0 + nlines[t];
        for (const char *q = b[t]; q < b[t + 1];) {
            const char *eol = memchr(q, '\n', (size_t)(b[t + 1] - q));
            if (!eol) eol = b[t + 1];
            lineno++;
            const char *s = q;
            q = eol + 1;
            while (s < eol && isspace((unsigned char)*s)) s++;
            if (s == eol || *s == '#') continue;
            size_t bad_col;
            if (parse_row(s, eol, &row, &rowcap, &bad_col) != (long)cols) {
                bad = 1;
                break;
            }
            for (size_t c = 0; c < cols; c++) D[ri * cols + c] = row[c];
            Ln[ri++] = lineno;
        }
        free(row);
    }
    if (bad) return -1;
    *rows = need;
    return 0;
}

alim_status alim_matrix_read_csv(const char *path, size_t min_cols, size_t max_cols,
                                 alim_matrix *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    const char *buf;
    char *rbuf = NULL; /* buf when read (not mapped) */
    size_t len;
    alim_status st;
    const int mapped = map_file(path, &buf, &len);
    if (!mapped) {
        st = alim_file_read_all(path, &rbuf, &len, err);
        if (st) return st;
        buf = rbuf;
    }
#define RELEASE_BUF() (mapped ? (void)munmap((void *)buf, len) : free(rbuf))
    if (memchr(buf, '\0', len))
        return RELEASE_BUF(), alim_error_set(err, ALIM_EFORMAT, path, "binary data (NUL byte) in a text file");

    double *row = NULL, *data = NULL;
    size_t rowcap = 0, datacap = 0, rows = 0, cols = 0, *lines = NULL, linecap = 0;
    size_t lineno = 0;
    int seen_data = 0;
    char where[ALIM_ERROR_WHERE_MAX];
    const char *p = buf, *bufend = buf + len;
    st = ALIM_OK;
    while (p < bufend && st == ALIM_OK) {
        const char *eol = memchr(p, '\n', (size_t)(bufend - p));
        if (!eol) eol = bufend;
        lineno++;
        const char *s = p;
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
        /* a large rest goes to the threads (it falls back to this loop on any irregularity) */
        if (rows == 1 && p < bufend && (size_t)(bufend - p) >= CSV_PAR_MIN &&
            parse_rest_parallel(p, bufend, lineno, cols, &data, &datacap, &lines, &linecap, &rows) == 0)
            break;
    }
#undef WHERE
    free(row);
    RELEASE_BUF();
#undef RELEASE_BUF
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

int alim_dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, ALIM_DIR_LOCK_NAME)) empty = 0;
    closedir(d);
    return empty;
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

/* ---- non-finite numbers: one convention (io.h) ------------------------------------- */

cJSON *alim_json_create_number(double v)
{
    if (isfinite(v)) return cJSON_CreateNumber(v);
    if (isnan(v)) return cJSON_CreateNull();
    return cJSON_CreateString(v > 0 ? "inf" : "-inf");
}

cJSON *alim_json_add_number(cJSON *obj, const char *key, double v)
{
    cJSON *n = alim_json_create_number(v);
    if (n && !cJSON_AddItemToObject(obj, key, n)) {
        cJSON_Delete(n);
        return NULL;
    }
    return n;
}

static int json_has_nonfinite(const cJSON *v)
{
    for (; v; v = v->next) {
        if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) return 1;
        if (v->child && json_has_nonfinite(v->child)) return 1;
    }
    return 0;
}

/* Rewrites the non-finite number nodes of a tree (siblings and children of v) in place;
 * the string takes cJSON's own allocation so that cJSON_Delete frees it. */
static int json_fix_nonfinite(cJSON *v)
{
    for (; v; v = v->next) {
        if (cJSON_IsNumber(v) && !isfinite(v->valuedouble)) {
            if (isnan(v->valuedouble)) {
                v->type = cJSON_NULL;
            } else {
                cJSON *s = cJSON_CreateString(v->valuedouble > 0 ? "inf" : "-inf");
                if (!s) return -1;
                v->type = cJSON_String;
                v->valuestring = s->valuestring;
                s->valuestring = NULL;
                cJSON_Delete(s);
            }
            v->valueint = 0;
            v->valuedouble = 0;
        }
        if (v->child && json_fix_nonfinite(v->child)) return -1;
    }
    return 0;
}

char *alim_json_print(const cJSON *v, int formatted)
{
    if (!v) return NULL;
    if (!(v->child ? json_has_nonfinite(v->child) : cJSON_IsNumber(v) && !isfinite(v->valuedouble)))
        return formatted ? cJSON_Print(v) : cJSON_PrintUnformatted(v);
    cJSON *copy = cJSON_Duplicate(v, 1);
    if (!copy) return NULL;
    /* the copy is a root: its own next pointer is NULL, so the walk covers just it */
    char *text = json_fix_nonfinite(copy) ? NULL : formatted ? cJSON_Print(copy) : cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    return text;
}

double alim_json_number_value(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return v->valuedouble;
    if (cJSON_IsString(v) && v->valuestring) {
        if (!strcmp(v->valuestring, "inf")) return INFINITY;
        if (!strcmp(v->valuestring, "-inf")) return -INFINITY;
    }
    return NAN;
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

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* The length of the well-formed sequence at s (1..4), or 0 with *bad = the length of its
 * maximal ill-formed prefix (>= 1): Unicode's table 3-7 of well-formed byte sequences. */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
    const unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* the second byte's range */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        *bad = 1;
        return 0;
    }
    size_t k = 1;
    for (; k <= need && k < n; k++) {
        const unsigned char b = s[k];
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) break;
    }
    if (k == need + 1) return k;
    *bad = k; /* the lead byte and the continuation bytes that were still possible */
    return 0;
}

long alim_json_utf8_repair(cJSON *v)
{
    long changed = 0;
    for (; v; v = v->next) {
        if (cJSON_IsString(v) && v->valuestring) {
            const size_t n = strlen(v->valuestring);
            size_t m;
            char *c = alim_utf8_valid_copy(v->valuestring, n, &m);
            if (!c) return -1;
            if (m != n || memcmp(c, v->valuestring, n) != 0) {
                if (!cJSON_SetValuestring(v, c)) {
                    free(c);
                    return -1;
                }
                changed++;
            }
            free(c);
        }
        if (v->child) {
            const long k = alim_json_utf8_repair(v->child);
            if (k < 0) return -1;
            changed += k;
        }
    }
    return changed;
}

char *alim_utf8_valid_copy(const char *s, size_t n, size_t *out_len)
{
    char *o = malloc(3 * n + 1); /* every byte may become U+FFFD (3 bytes) */
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        size_t bad = 0;
        const size_t k = utf8_seq((const unsigned char *)s + i, n - i, &bad);
        if (k) {
            memcpy(o + j, s + i, k);
            j += k;
            i += k;
        } else {
            memcpy(o + j, "\xEF\xBF\xBD", 3);
            j += 3;
            i += bad;
        }
    }
    o[j] = 0;
    if (out_len) *out_len = j;
    return o;
}
