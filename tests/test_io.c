/* test_io.c — the numeric CSV reader: its number parsing against strtod, bit for bit, on
 * about 1.2 million strings of many shapes (the reader has a fast path for plain decimals
 * and falls back to strtod), and every error case with its message and line; the UTF-8
 * repair; the JSON convention for non-finite numbers. */
#define _POSIX_C_SOURCE 200809L
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/io.h"
#include "alim/rng.h"
#include "check.h"

static char tmpdir[256];

static const char *write_file(const char *name, const char *data, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(data, 1, len, f);
    fclose(f);
    return path;
}

static uint64_t bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* ---- random number strings ----------------------------------------------------------- */

static unsigned rnd(alim_rng *g, unsigned n) { return (unsigned)(alim_rng_next(g) % n); }

static void digits(alim_rng *g, char *s, int n, int lead_nonzero)
{
    for (int i = 0; i < n; i++) s[i] = (char)('0' + (i == 0 && lead_nonzero ? 1 + rnd(g, 9) : rnd(g, 10)));
    s[n] = 0;
}

/* One random decimal string into s (at most 127 bytes). */
static void random_number(alim_rng *g, char *s)
{
    char d[64], f[64];
    const char *sign = (const char *[]){"", "", "-", "+"}[rnd(g, 4)];
    unsigned shape = rnd(g, 12);
    double x;
    uint64_t u;
    switch (shape) {
    case 0: /* %.17g of a random bit pattern (any magnitude, subnormals included) */
        do {
            u = alim_rng_next(g);
            memcpy(&x, &u, sizeof x);
        } while (!isfinite(x));
        snprintf(s, 128, "%.17g", x);
        break;
    case 1: /* %.17g / %.16g / %.15g of a number of moderate size (the benchmark's p column) */
        x = alim_rng_uniform(g) * pow(10, (int)rnd(g, 40) - 30);
        snprintf(s, 128, (const char *[]){"%.17g", "%.16g", "%.15g", "%.17e"}[rnd(g, 4)], x);
        break;
    case 2: /* %.6f of a normal-ish number (the r column) */
        x = (alim_rng_uniform(g) - 0.5) * 10;
        snprintf(s, 128, "%.6f", x);
        break;
    case 3: { /* digits, optional point, optional exponent: many lengths */
        int n = 1 + (int)rnd(g, 25), pt = (int)rnd(g, (unsigned)n + 2);
        digits(g, d, n, rnd(g, 3) != 0);
        if (pt > n) snprintf(s, 128, "%s%s", sign, d);
        else snprintf(s, 128, "%s%.*s.%s", sign, pt, d, d + pt);
        if (rnd(g, 2)) {
            size_t l = strlen(s);
            snprintf(s + l, 128 - l, "%s%s%d", rnd(g, 2) ? "e" : "E", (const char *[]){"", "+", "-"}[rnd(g, 3)],
                     (int)rnd(g, 40));
        }
        break;
    }
    case 4: { /* 15-20 significant digits with exponents around the x87 window (|e| <= 27) */
        int n = 15 + (int)rnd(g, 6);
        digits(g, d, n, 1);
        snprintf(s, 128, "%s%se%d", sign, d, (int)rnd(g, 70) - 45);
        break;
    }
    case 5: { /* subnormal and overflow-adjacent exponents */
        int n = 1 + (int)rnd(g, 19);
        digits(g, d, n, 1);
        int e = rnd(g, 2) ? -330 + (int)rnd(g, 30) : 280 + (int)rnd(g, 28);
        snprintf(s, 128, "%s%.1s.%se%d", sign, d, d + 1, e);
        break;
    }
    case 6: { /* leading zeros, trailing zeros, bare points */
        int nz = (int)rnd(g, 8), n = (int)rnd(g, 8), tz = (int)rnd(g, 8);
        digits(g, d, n, 0);
        char z[16] = "00000000", t[16] = "00000000";
        z[nz] = 0, t[tz] = 0;
        switch (rnd(g, 4)) {
        case 0: snprintf(s, 128, "%s%s%s%s.", sign, z, n ? d : "0", t); break;
        case 1: snprintf(s, 128, "%s.%s%s%s", sign, z, d, t); break;
        case 2: snprintf(s, 128, "%s%s%s.%s", sign, z, n ? d : "0", t); break;
        default: snprintf(s, 128, "%s0.%s%s%se%d", sign, z, n ? d : "1", t, (int)rnd(g, 30) - 15);
        }
        break;
    }
    case 7: { /* integers near 2^53 and 2^64, exact midpoints between doubles, times small powers of 10 */
        uint64_t w = (UINT64_C(1) << (53 + rnd(g, 11))) + (alim_rng_next(g) & ((UINT64_C(1) << rnd(g, 12)) - 1));
        if (rnd(g, 2)) w |= UINT64_C(1) << rnd(g, 11);
        int e = rnd(g, 2) ? 0 : (int)rnd(g, 56) - 28;
        if (e) snprintf(s, 128, "%s%" PRIu64 "e%d", sign, w, e);
        else snprintf(s, 128, "%s%" PRIu64, sign, w);
        break;
    }
    case 8: { /* a double's exact midpoint to its neighbour, as up to 19 digits (often exact) */
        double a = ldexp((double)((UINT64_C(1) << 52) + (alim_rng_next(g) >> 12)), (int)rnd(g, 30) - 60);
        long double m = ((long double)a + (long double)nextafter(a, INFINITY)) / 2;
        snprintf(s, 128, "%s%.*Lg", sign, 15 + (int)rnd(g, 6), m);
        break;
    }
    case 9: { /* fractions like 0.1 + 0.2 style: k / 10^j */
        int n = 1 + (int)rnd(g, 18);
        digits(g, d, n, 1);
        digits(g, f, 1 + (int)rnd(g, 20), 0);
        snprintf(s, 128, "%s%s.%s", sign, d, f);
        break;
    }
    case 10: { /* powers of ten and their neighbours */
        int e = (int)rnd(g, 60) - 30;
        snprintf(s, 128, "%s%s%de%d", sign, rnd(g, 2) ? "1" : "9", (int)rnd(g, 2) ? 0 : 99999, e);
        break;
    }
    default: { /* short numbers */
        int n = 1 + (int)rnd(g, 4);
        digits(g, d, n, 0);
        snprintf(s, 128, "%s%s%s", sign, d, (const char *[]){"", ".", ".5", "e1", "E-2", "e+0"}[rnd(g, 6)]);
    }
    }
}

static void test_numbers(void)
{
    static const char *fixed[] = {
        "0", "-0", "+0", "00", "0.", ".0", "-.0", "1.", ".5", "1e5", "1E-5", "+3", "-.5e-3", "1e0", "1e+22",
        "1e23", "1e-22", "1e-23", "9007199254740992", "9007199254740993", "9007199254740995",
        "18446744073709551615", "9999999999999999999", "0.1", "0.2", "0.3", "4.9e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "1.7976931348623157e308", "2.2250738585072011e-308", "2.2250738585072014e-308",
        "1e-400", "123456789012345678901234567890", "0.000000000000000000000000000001", "1.5e-7", "8.7789729914493593e-08",
        "0x1p3", "0X1.8P1", "1e0000000000000000000002", "1.0000000000000000000000000000001", "3.14159265358979323846",
        "7.2057594037927933e16", "1.448997445238699", "5e-324", "1e308", "-1e-308"};
    const size_t nfix = sizeof fixed / sizeof *fixed;
    const size_t nrand = 1200000, ncols = 4;
    const size_t total = nfix + nrand;
    char **str = malloc(total * sizeof *str);
    double *want = malloc(total * sizeof *want);
    alim_rng g;
    alim_rng_seed(&g, 12345, 7);
    size_t n = 0;
    for (size_t i = 0; i < total; i++) {
        char s[128];
        if (i < nfix) snprintf(s, sizeof s, "%s", fixed[i]);
        else random_number(&g, s);
        char *e;
        double x = strtod(s, &e);
        if (!isfinite(x) || e == s || *e) continue; /* the reader rejects these (tested below) */
        str[n] = strdup(s);
        want[n] = x;
        n++;
    }
    /* ncols per row, separators varied; the row count stays a whole number */
    const size_t nall = n;
    n -= n % ncols;
    size_t cap = 64 * n + 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "a,b,c,d\n");
    for (size_t i = 0; i < n; i++) {
        const char *sep = i % ncols == ncols - 1 ? (i % 3 ? "\n" : "\r\n") : (const char *[]){",", ", ", " ", "\t,"}[i % 4];
        len += (size_t)snprintf(text + len, cap - len, "%s%s", str[i], sep);
    }
    const char *path = write_file("numbers.csv", text, len);
    alim_matrix m;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_matrix_read_csv(path, 0, 0, &m, &err);
    CHECK(st == ALIM_OK, "%s: %s", err.where, err.what);
    if (st == ALIM_OK) {
        CHECK(m.rows == n / ncols && m.cols == ncols, "%zu x %zu", m.rows, m.cols);
        size_t bad = 0;
        for (size_t i = 0; i < n && i < m.rows * m.cols; i++)
            if (bits(m.data[i]) != bits(want[i])) {
                if (bad++ < 10)
                    fprintf(stderr, "FAIL \"%s\": got %.17g (%016" PRIx64 "), strtod %.17g (%016" PRIx64 ")\n", str[i],
                            m.data[i], bits(m.data[i]), want[i], bits(want[i]));
            }
        CHECK(bad == 0, "%zu of %zu numbers differ from strtod", bad, n);
        CHECK(m.line_of_row[0] == 2 && m.line_of_row[m.rows - 1] == m.rows + 1, "lines %zu .. %zu",
              m.line_of_row[0], m.line_of_row[m.rows - 1]);
        alim_matrix_free(&m);
    }
    /* the same numbers one per line without a final newline, and padded so that the file
     * size is a multiple of the page size (the reader then reads instead of mapping) */
    for (int pad = 0; pad < 2; pad++) {
        len = 0;
        for (size_t i = 0; i < 5000; i++) len += (size_t)snprintf(text + len, cap - len, "%s%s", str[i], i + 1 < 5000 ? "\n" : "");
        if (pad) {
            size_t pg = (size_t)sysconf(_SC_PAGESIZE), target = (len / pg + 1) * pg;
            text[len++] = '\n';
            while (len < target - 1) text[len++] = '#';
            text[len++] = '\n';
            CHECK(len % pg == 0, "padding %zu", len);
        }
        path = write_file("lines.csv", text, len);
        st = alim_matrix_read_csv(path, 1, 1, &m, &err);
        CHECK(st == ALIM_OK, "%s: %s", err.where, err.what);
        if (st == ALIM_OK) {
            size_t bad = 0;
            for (size_t i = 0; i < 5000; i++) bad += bits(m.data[i]) != bits(want[i]);
            CHECK(bad == 0 && m.rows == 5000, "pad %d: %zu differ, %zu rows", pad, bad, m.rows);
            alim_matrix_free(&m);
        }
    }
    for (size_t i = 0; i < nall; i++) free(str[i]);
    free(str);
    free(want);
    free(text);
}

/* ---- error cases ----------------------------------------------------------------------- */

static void expect(const char *name, const char *data, size_t len, size_t minc, size_t maxc, alim_status want_st,
                   const char *want_where_suffix, const char *want_what)
{
    const char *path = write_file(name, data, len);
    char where[600];
    snprintf(where, sizeof where, "%s%s", path, want_where_suffix);
    alim_matrix m;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_matrix_read_csv(path, minc, maxc, &m, &err);
    CHECK(st == want_st, "%s: status %d, want %d (%s)", name, (int)st, (int)want_st, err.what);
    if (st == ALIM_OK) {
        alim_matrix_free(&m);
        return;
    }
    CHECK(strcmp(err.where, where) == 0, "%s: where \"%s\", want \"%s\"", name, err.where, where);
    CHECK(strcmp(err.what, want_what) == 0, "%s: what \"%s\", want \"%s\"", name, err.what, want_what);
}

#define EXPECT(name, text, minc, maxc, st, where, what) expect(name, text, sizeof text - 1, minc, maxc, st, where, what)

static void test_errors(void)
{
    EXPECT("ragged.csv", "p,r\n0.5,1\n0.5\n", 0, 0, ALIM_EFORMAT, ":3", "row has 1 entries, expected 2 (ragged rows)");
    EXPECT("ragged2.csv", "# c\n\n0.5,1\n\n# x\n0.5,1,2\n", 0, 0, ALIM_EFORMAT, ":6",
           "row has 3 entries, expected 2 (ragged rows)");
    EXPECT("trailing.csv", "0.5,1\n0.5,1,\n", 0, 0, ALIM_EFORMAT, ":2", "column 3 is not a number");
    EXPECT("trailing1.csv", "0.5,\n", 0, 0, ALIM_EFORMAT, "", "no data rows (empty file?)"); /* a header */
    EXPECT("nan.csv", "p,r\n0.5,nan\n", 0, 0, ALIM_EINVAL, ":2", "column 2 is not a finite number (NaN or inf)");
    EXPECT("NaN.csv", "0.5,1\nNaN,1\n", 0, 0, ALIM_EINVAL, ":2", "column 1 is not a finite number (NaN or inf)");
    EXPECT("inf.csv", "0.5,1\n0.5,-inf\n", 0, 0, ALIM_EINVAL, ":2", "column 2 is not a finite number (NaN or inf)");
    EXPECT("infinity.csv", "0.5,1\n0.5, Infinity\n", 0, 0, ALIM_EINVAL, ":2",
           "column 2 is not a finite number (NaN or inf)");
    EXPECT("overflow.csv", "0.5,1\n0.5,1e400\n", 0, 0, ALIM_EINVAL, ":2", "column 2 is not a finite number (NaN or inf)");
    EXPECT("overflow2.csv", "0.5,1\n0.5,179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792\n", 0, 0, ALIM_EINVAL, ":2", "column 2 is not a finite number (NaN or inf)");
    EXPECT("header2.csv", "p,r\n0.5,1\np,r\n", 0, 0, ALIM_EFORMAT, ":3", "column 1 is not a number");
    EXPECT("word.csv", "1,2\n3,abc\n", 0, 0, ALIM_EFORMAT, ":2", "column 2 is not a number");
    EXPECT("suffix.csv", "1,2\n3,1.5x\n", 0, 0, ALIM_EFORMAT, ":2", "column 2 is not a number");
    EXPECT("expo.csv", "1,2\n3,1e\n", 0, 0, ALIM_EFORMAT, ":2", "column 2 is not a number");
    EXPECT("expo2.csv", "1,2\n3,1e+\n", 0, 0, ALIM_EFORMAT, ":2", "column 2 is not a number");
    EXPECT("dot.csv", "1,2\n3,.\n", 0, 0, ALIM_EFORMAT, ":2", "column 2 is not a number");
    EXPECT("sign.csv", "1,2\n3,-\n", 0, 0, ALIM_EFORMAT, ":2", "column 2 is not a number");
    EXPECT("twodots.csv", "1,2\n3,1.2.3\n", 0, 0, ALIM_EFORMAT, ":2", "column 2 is not a number");
    EXPECT("semicolon.csv", "1;2\n", 0, 0, ALIM_EFORMAT, "", "no data rows (empty file?)");
    EXPECT("semicolon2.csv", "1,2\n1;2\n", 0, 0, ALIM_EFORMAT, ":2", "column 1 is not a number");
    EXPECT("emptyfield.csv", "1,2\n1,,2\n", 0, 0, ALIM_EFORMAT, ":2", "column 2 is not a number");
    EXPECT("empty.csv", "", 0, 0, ALIM_EFORMAT, "", "no data rows (empty file?)");
    EXPECT("blank.csv", "\n  \n# only a comment\n", 0, 0, ALIM_EFORMAT, "", "no data rows (empty file?)");
    EXPECT("headeronly.csv", "p,r\n", 0, 0, ALIM_EFORMAT, "", "no data rows (empty file?)");
    EXPECT("nul.csv", "0.5,1\n0.5\0,1\n", 0, 0, ALIM_EFORMAT, "", "binary data (NUL byte) in a text file");
    EXPECT("narrow.csv", "1\n2\n", 2, 2, ALIM_EFORMAT, ":1", "row has 1 entries, expected at least 2");
    EXPECT("wide.csv", "# w\n1,2,3\n", 2, 2, ALIM_EFORMAT, ":2", "row has 3 entries, expected at most 2");
    {
        alim_matrix m;
        alim_error err;
        char path[600];
        snprintf(path, sizeof path, "%s/does-not-exist.csv", tmpdir);
        alim_status st = alim_matrix_read_csv(path, 0, 0, &m, &err);
        CHECK(st == ALIM_EINVAL && strcmp(err.where, path) == 0 && strcmp(err.what, "cannot open: No such file or directory") == 0,
              "missing: %d %s: %s", (int)st, err.where, err.what);
    }
    /* accepted shapes: hex through strtod, blanks and tabs as separators, CRLF, comments,
     * no final newline, leading blanks, "-0" */
    const char ok[] = "# comment\n\n p r\n0x1p3 , -0\t\r\n  1.,.5\n#\n+3 1E-5";
    const char *path = write_file("ok.csv", ok, sizeof ok - 1);
    alim_matrix m;
    alim_error err;
    alim_status st = alim_matrix_read_csv(path, 2, 2, &m, &err);
    CHECK(st == ALIM_OK, "%s", err.what);
    if (st == ALIM_OK) {
        CHECK(m.rows == 3 && m.cols == 2, "%zu x %zu", m.rows, m.cols);
        CHECK(m.data[0] == 8 && bits(m.data[1]) == bits(-0.0) && m.data[2] == 1 && m.data[3] == 0.5 &&
                  m.data[4] == 3 && bits(m.data[5]) == bits(1e-5),
              "values %g %g %g %g %g %g", m.data[0], m.data[1], m.data[2], m.data[3], m.data[4], m.data[5]);
        CHECK(m.line_of_row[0] == 4 && m.line_of_row[1] == 5 && m.line_of_row[2] == 7, "lines %zu %zu %zu",
              m.line_of_row[0], m.line_of_row[1], m.line_of_row[2]);
        alim_matrix_free(&m);
    }
}

/* A file large enough for the threaded reader (> 4 MB after the first row): blank lines,
 * comments and CRLF sprinkled in; every row's line number, and errors placed early, in the
 * middle and on the last line, reported with the serial reader's message and line. */
static void test_large(void)
{
    const size_t nrows = 400000;
    size_t cap = nrows * 48 + 1024, len = 0;
    char *text = malloc(cap);
    size_t *line = malloc(nrows * sizeof *line), ln = 0;
    len += (size_t)snprintf(text + len, cap - len, "# big\np, r\n");
    ln = 2;
    for (size_t i = 0; i < nrows; i++) {
        if (i % 997 == 5) len += (size_t)snprintf(text + len, cap - len, "\n"), ln++;
        if (i % 1493 == 7) len += (size_t)snprintf(text + len, cap - len, "  # comment %zu\n", i), ln++;
        len += (size_t)snprintf(text + len, cap - len, "%zu.25, -%zu.125e-3%s", i, i % 1000, i % 3 ? "\n" : "\r\n");
        line[i] = ++ln;
    }
    const char *path = write_file("big.csv", text, len);
    alim_matrix m;
    alim_error err;
    alim_status st = alim_matrix_read_csv(path, 2, 2, &m, &err);
    CHECK(st == ALIM_OK, "%s: %s", err.where, err.what);
    if (st == ALIM_OK) {
        int ok = m.rows == nrows && m.cols == 2;
        for (size_t i = 0; ok && i < nrows; i++)
        {
            char b[64];
            snprintf(b, sizeof b, "-%zu.125e-3", i % 1000);
            ok &= m.data[2 * i] == (double)i + 0.25 && bits(m.data[2 * i + 1]) == bits(strtod(b, NULL)) &&
                  m.line_of_row[i] == line[i];
        }
        CHECK(ok, "large file: values and lines (%zu rows)", m.rows);
        alim_matrix_free(&m);
    }
    /* errors: replace row i's text with a bad one (same length, so nothing else moves) */
    const struct {
        size_t row;
        const char *bad, *what;
        alim_status st;
    } cases[] = {{3, "x", "column 1 is not a number", ALIM_EFORMAT},
                 {150000, "1,nan", "column 2 is not a finite number (NaN or inf)", ALIM_EINVAL},
                 {210000, "1,2,3", "row has 3 entries, expected 2 (ragged rows)", ALIM_EFORMAT},
                 {250001, "7", "row has 1 entries, expected 2 (ragged rows)", ALIM_EFORMAT},
                 {299999, "1,", "column 2 is not a number", ALIM_EFORMAT},
                 {nrows - 1, "1,1e999", "column 2 is not a finite number (NaN or inf)", ALIM_EINVAL}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        /* find the start of the row's line */
        char *q = text;
        for (size_t l = 1; l < line[cases[c].row]; l++) q = strchr(q, '\n') + 1;
        char *eol = strchr(q, '\n');
        size_t n = (size_t)(eol - q), k = strlen(cases[c].bad);
        char *save = malloc(n);
        memcpy(save, q, n);
        memset(q, ' ', n);
        memcpy(q, cases[c].bad, k);
        char want_where[600];
        path = write_file("bigbad.csv", text, len);
        snprintf(want_where, sizeof want_where, "%s:%zu", path, line[cases[c].row]);
        st = alim_matrix_read_csv(path, 2, 2, &m, &err);
        CHECK(st == cases[c].st && strcmp(err.where, want_where) == 0 && strcmp(err.what, cases[c].what) == 0,
              "large file, bad row %zu: %d %s: %s", cases[c].row, (int)st, err.where, err.what);
        if (st == ALIM_OK) alim_matrix_free(&m);
        memcpy(q, save, n);
        free(save);
    }
    free(text);
    free(line);
}

/* alim_utf8_valid_copy against Python's bytes.decode("utf-8", "replace") (the vectors were
 * made by it: Unicode's substitution of maximal subparts), then a property on random bytes:
 * the copy of a copy is the copy (what comes out is well-formed) */
static void test_utf8(void)
{
    static const struct {
        const char *in;
        size_t n;
        const char *want;
        size_t wn;
    } v[] = {
        {"", 0, "", 0},
        {"\x61\x62\x63", 3, "\x61\x62\x63", 3},
        {"\x63\x61\x66\xc3\xa9", 5, "\x63\x61\x66\xc3\xa9", 5},
        {"\xf0\x9f\x8c", 3, "\xef\xbf\xbd", 3},
        {"\xf0\x9f\x95\x8d\xf0\x9f", 6, "\xf0\x9f\x95\x8d\xef\xbf\xbd", 7},
        {"\xd8", 1, "\xef\xbf\xbd", 3},
        {"\xc3", 1, "\xef\xbf\xbd", 3},
        {"\x61\x80\x62", 3, "\x61\xef\xbf\xbd\x62", 5},
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
        {"\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9},
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9},
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 12},
        {"\xf5\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
        {"\xe2\x82", 2, "\xef\xbf\xbd", 3},
        {"\xe2\x82\xac", 3, "\xe2\x82\xac", 3},
        {"\xff\xfe", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6},
        {"\xf0\x9f\x8c\x8d", 4, "\xf0\x9f\x8c\x8d", 4},
        {"\x78\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41", 10, "\x78\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\x41", 14},
    };
    for (size_t c = 0; c < sizeof v / sizeof v[0]; c++) {
        size_t len = 99;
        char *o = alim_utf8_valid_copy(v[c].in, v[c].n, &len);
        CHECK(o && len == v[c].wn && memcmp(o, v[c].want, len) == 0 && o[len] == 0, "utf8 case %zu: length %zu, want %zu", c, len, v[c].wn);
        free(o);
    }
    uint64_t x = 88172645463325252ull;
    for (int t = 0; t < 2000; t++) {
        char in[24];
        const size_t n = (size_t)(t % 24);
        for (size_t i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            /* bytes biased to the UTF-8 lead and continuation ranges */
            in[i] = (char)(t & 1 ? (x & 0xff) : 0x80 | (x & 0x7f));
        }
        size_t l1, l2;
        char *a = alim_utf8_valid_copy(in, n, &l1);
        char *b = a ? alim_utf8_valid_copy(a, l1, &l2) : NULL;
        CHECK(a && b && l1 == l2 && memcmp(a, b, l1) == 0, "utf8 random %d: not a fixed point", t);
        free(a), free(b);
    }
}

/* ---- non-finite numbers in JSON: one convention (io.h) -------------------------------- */

static void test_json_nonfinite(void)
{
    /* a tree with non-finite numbers at every depth: object member, array element, nested */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "a", 1.5);
    cJSON_AddNumberToObject(o, "pinf", INFINITY);
    cJSON_AddNumberToObject(o, "ninf", -INFINITY);
    cJSON_AddNumberToObject(o, "nan", NAN);
    cJSON *arr = cJSON_AddArrayToObject(o, "arr");
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(NAN));
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(2));
    cJSON *in = cJSON_CreateObject();
    cJSON_AddNumberToObject(in, "x", -INFINITY);
    cJSON_AddItemToArray(arr, in);
    char *txt = alim_json_print(o, 0);
    const char *want = "{\"a\":1.5,\"pinf\":\"inf\",\"ninf\":\"-inf\",\"nan\":null,"
                       "\"arr\":[null,2,{\"x\":\"-inf\"}]}";
    CHECK(txt && strcmp(txt, want) == 0, "printed %s", txt ? txt : "(null)");
    /* the tree is left as it was */
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "pinf");
    CHECK(cJSON_IsNumber(p) && p->valuedouble == INFINITY, "tree modified");
    /* and reads back to the same values; older files' "nan" strings read as NaN */
    cJSON *back = txt ? cJSON_Parse(txt) : NULL;
    CHECK(back != NULL, "parse");
    if (back) {
        CHECK(alim_json_number_value(cJSON_GetObjectItemCaseSensitive(back, "a")) == 1.5, "a");
        CHECK(alim_json_number_value(cJSON_GetObjectItemCaseSensitive(back, "pinf")) == INFINITY, "+inf");
        CHECK(alim_json_number_value(cJSON_GetObjectItemCaseSensitive(back, "ninf")) == -INFINITY, "-inf");
        CHECK(isnan(alim_json_number_value(cJSON_GetObjectItemCaseSensitive(back, "nan"))), "null is NaN");
        CHECK(isnan(alim_json_number_value(cJSON_GetObjectItemCaseSensitive(back, "missing"))), "missing");
        cJSON *old = cJSON_CreateString("nan"), *other = cJSON_CreateString("infinite");
        CHECK(isnan(alim_json_number_value(old)) && isnan(alim_json_number_value(other)), "strings");
        cJSON_Delete(old);
        cJSON_Delete(other);
    }
    cJSON_Delete(back);
    free(txt);
    /* a finite tree prints exactly as cJSON prints it; a root number follows the convention */
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "k", 0.1);
    char *a = alim_json_print(f, 1), *b = cJSON_Print(f);
    CHECK(a && b && strcmp(a, b) == 0, "finite tree differs from cJSON_Print");
    free(a);
    free(b);
    cJSON_Delete(f);
    cJSON *r = cJSON_CreateNumber(-INFINITY);
    a = alim_json_print(r, 1);
    CHECK(a && strcmp(a, "\"-inf\"") == 0, "root -inf: %s", a ? a : "(null)");
    free(a);
    cJSON_Delete(r);
    /* the builders */
    cJSON *n = cJSON_CreateObject();
    alim_json_add_number(n, "u", NAN);
    alim_json_add_number(n, "v", INFINITY);
    alim_json_add_number(n, "w", 3);
    a = cJSON_PrintUnformatted(n);
    CHECK(a && strcmp(a, "{\"u\":null,\"v\":\"inf\",\"w\":3}") == 0, "builders: %s", a ? a : "(null)");
    free(a);
    cJSON_Delete(n);
    cJSON_Delete(o);
    /* the UTF-8 repair of a tree's strings: a reply cut inside a character, nested */
    cJSON *u = cJSON_CreateObject();
    cJSON *ua = cJSON_AddArrayToObject(u, "examples");
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "reply", "ok \xf0\x9f\x8c");
    cJSON_AddStringToObject(e, "prompt", "fine \xc3\xa9");
    cJSON_AddItemToArray(ua, e);
    CHECK(alim_json_utf8_repair(u) == 1, "one string repaired");
    CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(e, "reply")->valuestring, "ok \xef\xbf\xbd"), "cut character -> U+FFFD");
    CHECK(!strcmp(cJSON_GetObjectItemCaseSensitive(e, "prompt")->valuestring, "fine \xc3\xa9"), "valid text kept");
    CHECK(alim_json_utf8_repair(u) == 0, "idempotent");
    cJSON_Delete(u);
}

/* alim_file_lock: one writer per file, held on the file itself (alim/io.h) */
static void test_file_lock(void)
{
    char p[600], q[600];
    alim_error err;
    alim_file_lock *a = NULL, *b = NULL;
    int created = -1;
    snprintf(p, sizeof p, "%s/log.csv", tmpdir);
    CHECK(alim_file_lock_acquire(p, &a, &created, &err) == ALIM_OK && a && created == 1, "an absent file is created and held");
    CHECK(access(p, F_OK) == 0, "the file exists");
    CHECK(alim_file_lock_acquire(p, &b, &created, &err) == ALIM_EINVAL && !b && strstr(err.what, "written by another process"),
          "a second acquisition is refused: %s", err.what);
    alim_file_lock_release(a);
    FILE *f = fopen(p, "w");
    fputs("step\n1\n", f);
    fclose(f);
    CHECK(alim_file_lock_acquire(p, &b, &created, &err) == ALIM_OK && b && created == 0, "released: held again, not created");
    f = fopen(p, "r");
    char line[16] = "";
    CHECK(f && fgets(line, sizeof line, f) && !strcmp(line, "step\n"), "nothing truncated");
    if (f) fclose(f);
    /* the file replaced by a rename (a cut log): the new one is free, held beside the old */
    snprintf(q, sizeof q, "%s/log.csv.new", tmpdir);
    f = fopen(q, "w");
    fclose(f);
    CHECK(rename(q, p) == 0, "rename over the held file");
    CHECK(alim_file_lock_acquire(p, &a, NULL, &err) == ALIM_OK, "the new file is held while the old one still is");
    alim_file_lock_release(b);
    alim_file_lock_release(a);
    CHECK(alim_file_lock_acquire("/dev/null", &a, &created, &err) == ALIM_OK && created == 0, "/dev/null is taken, unheld");
    CHECK(alim_file_lock_acquire("/dev/null", &b, NULL, &err) == ALIM_OK, "twice");
    alim_file_lock_release(a);
    alim_file_lock_release(b);
    CHECK(alim_file_lock_acquire(tmpdir, &a, NULL, &err) == ALIM_EINVAL && !a && !strcmp(err.what, "is a directory"), "a directory: %s", err.what);
    snprintf(q, sizeof q, "%s/none/log.csv", tmpdir);
    CHECK(alim_file_lock_acquire(q, &a, NULL, &err) == ALIM_EINVAL && !a && strstr(err.what, "No such file"), "no such directory: %s", err.what);
    alim_file_lock_release(NULL);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/alim-test-io-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_numbers();
    test_errors();
    test_large();
    test_utf8();
    test_json_nonfinite();
    test_file_lock();
    char cmd[300];
    if (getenv("ALIM_TEST_KEEP")) return check_summary(argv[0]);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary(argv[0]);
}
