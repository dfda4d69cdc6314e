/* test_data_bible.c — the reader of bible-kjv-text's data file (src/data/bible.h).
 *
 * Oracles: (1) the package's own program: the decoded /usr/lib/bible.data must be byte for
 * byte what `bible -f 'Gen1:1-Rev22:21'` prints (skipped when bible-kjv is not installed);
 * (2) data files written here by an LZW encoder of the `compress` format (codes growing from
 * 9 to 16 bits, padding at each width change, a CLEAR when the table is full), several
 * windows, decoded back to the text that went in; (3) damaged files refused with EFORMAT. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/data/bible.h"
#include "check.h"

/* ---- an LZW encoder in the format of `compress` (block mode, at most 16 bits) ---------- */

typedef struct {
    unsigned char *out;
    size_t n, cap;
    unsigned char group[16];
    size_t bit;         /* bits used in group */
    int n_bits;
    long max_code, free_ent;
} enc;

static void put_bytes(enc *e, const unsigned char *p, size_t k)
{
    if (e->n + k > e->cap) {
        while (e->n + k > e->cap) e->cap = e->cap ? 2 * e->cap : 4096;
        e->out = realloc(e->out, e->cap);
    }
    memcpy(e->out + e->n, p, k);
    e->n += k;
}

/* writes code at the current width; a full group goes out whole; a width change (or a
 * CLEAR, clear = 1) pads the group to n_bits bytes, as compress does */
static void emit(enc *e, long code, int clear)
{
    for (int i = 0; i < e->n_bits; i++, e->bit++)
        if (code >> i & 1) e->group[e->bit >> 3] |= (unsigned char)(1u << (e->bit & 7));
    if (e->bit == (size_t)e->n_bits * 8) {
        put_bytes(e, e->group, (size_t)e->n_bits);
        memset(e->group, 0, sizeof e->group);
        e->bit = 0;
    }
    if (clear || e->free_ent > e->max_code) {
        if (e->bit) put_bytes(e, e->group, (size_t)e->n_bits);
        memset(e->group, 0, sizeof e->group);
        e->bit = 0;
        e->n_bits = clear ? 9 : e->n_bits + 1;
        e->max_code = e->n_bits == 16 ? 65536 : (1L << e->n_bits) - 1;
    }
}

#define HASH (1u << 20)

/* One window: text -> codes appended to e->out, from a fresh table. With clear_when_full,
 * a full table (65536 codes) is cleared with a CLEAR code, as block-mode compress does when
 * its ratio drops; without, the table stays frozen. */
static void encode_window(enc *e, const unsigned char *t, size_t n, int clear_when_full)
{
    static int32_t key_prefix[HASH], value[HASH];
    static uint8_t key_byte[HASH];
    for (size_t i = 0; i < HASH; i++) value[i] = -1;
    e->n_bits = 9;
    e->max_code = 511;
    e->free_ent = 257;
    memset(e->group, 0, sizeof e->group);
    e->bit = 0;
    if (!n) return;
    long ent = t[0];
    for (size_t i = 1; i < n; i++) {
        const uint8_t c = t[i];
        uint32_t h = ((uint32_t)ent * 2654435761u ^ (uint32_t)c * 40503u) & (HASH - 1);
        while (value[h] >= 0 && !(key_prefix[h] == ent && key_byte[h] == c)) h = (h + 1) & (HASH - 1);
        if (value[h] >= 0) {
            ent = value[h];
            continue;
        }
        emit(e, ent, 0);
        if (e->free_ent < 65536) {
            key_prefix[h] = (int32_t)ent;
            key_byte[h] = c;
            value[h] = (int32_t)e->free_ent++;
        } else if (clear_when_full) {
            for (size_t k = 0; k < HASH; k++) value[k] = -1;
            e->free_ent = 257;
            emit(e, 256, 1);
        }
        ent = c;
    }
    emit(e, ent, 0);
    if (e->bit) put_bytes(e, e->group, (e->bit + 7) / 8);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16), p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* A data file of text in windows of wsize bytes (header as in bible.h). */
static unsigned char *make_file(const unsigned char *text, size_t n, size_t wsize, int clear_when_full, size_t *size)
{
    const size_t wnum = n ? (n + wsize - 1) / wsize : 1, table = 92 + 4 * (wnum + 1);
    enc e = {0};
    unsigned char *offs = calloc(wnum + 1, 4);
    unsigned char head[92] = "EC02test data file";
    put_be32(head + 84, (uint32_t)wsize);
    put_be32(head + 88, (uint32_t)wnum);
    for (size_t w = 0; w < wnum; w++) {
        put_be32(offs + 4 * w, (uint32_t)(table + e.n));
        const size_t a = w * wsize, len = n - a < wsize ? n - a : wsize;
        encode_window(&e, text + a, len, clear_when_full);
    }
    put_be32(offs + 4 * wnum, (uint32_t)(table + e.n));
    unsigned char *f = malloc(table + e.n);
    memcpy(f, head, 92);
    memcpy(f + 92, offs, 4 * (wnum + 1));
    memcpy(f + table, e.out, e.n);
    *size = table + e.n;
    free(offs);
    free(e.out);
    return f;
}

static uint64_t rng_state = 88172645463325252ull;
static uint32_t next_rand(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* Encodes title + body, decodes, and checks the body comes back. */
static void round_trip(const char *name, const unsigned char *body, size_t n, size_t wsize, int clear_when_full)
{
    static const char title[] = "a title line\n";
    unsigned char *t = malloc(sizeof title - 1 + n + 1);
    memcpy(t, title, sizeof title - 1);
    memcpy(t + sizeof title - 1, body, n);
    size_t size, len = 0;
    unsigned char *f = make_file(t, sizeof title - 1 + n, wsize, clear_when_full, &size);
    char *out = NULL;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_bible_decode(f, size, name, &out, &len, &err);
    CHECK(st == ALIM_OK, "%s: %s: %s", name, err.where, err.what);
    CHECK(len == n && out && !memcmp(out, body, n), "%s: %zu bytes back, want %zu", name, len, n);
    free(out);
    free(f);
    free(t);
}

static void expect_format_error(const char *name, const unsigned char *f, size_t size, const char *what)
{
    char *out = NULL;
    size_t len = 0;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_bible_decode(f, size, name, &out, &len, &err);
    CHECK(st == ALIM_EFORMAT && !out, "%s: status %d", name, (int)st);
    CHECK(!strcmp(err.where, name) && strstr(err.what, what), "%s: where '%s', what '%s'", name, err.where, err.what);
}

/* the real file against the package's program */
static void check_package(void)
{
    const char *path = "/usr/lib/bible.data";
    if (access(path, R_OK) || system("command -v bible >/dev/null 2>&1")) {
        printf("note: %s or the bible program missing (bible-kjv): package oracle skipped\n", path);
        return;
    }
    FILE *p = popen("bible -f 'Gen1:1-Rev22:21' 2>/dev/null", "r");
    size_t cap = 1 << 23, n = 0, got;
    char *want = malloc(cap);
    while (p && (got = fread(want + n, 1, cap - n, p)) > 0) {
        n += got;
        if (n == cap) want = realloc(want, cap *= 2);
    }
    CHECK(p && pclose(p) == 0 && n > 4000000, "bible -f printed %zu bytes", n);
    char *text = NULL;
    size_t len = 0;
    alim_error err;
    alim_error_clear(&err);
    CHECK(alim_bible_read(path, &text, &len, &err) == ALIM_OK, "%s: %s", err.where, err.what);
    CHECK(len == n && text && !memcmp(text, want, n), "decoded %zu bytes, bible -f printed %zu", len, n);
    size_t lines = 0;
    for (size_t i = 0; text && i < len; i++) lines += text[i] == '\n';
    CHECK(lines == 31102, "%zu verses, want 31102", lines);
    CHECK(text && !strncmp(text, "Ge1:1 In the beginning God created the heaven and the earth.\n", 61), "first verse");
    free(text);
    free(want);
}

int main(void)
{
    check_package();

    /* words: windows fill to exactly wsize, the codes grow past 9 bits */
    static const char *words[] = {"the", "and", "of", "LORD", "unto", "shall", "he", "said", ",", ".", "\n", "thou"};
    size_t n = 300000;
    unsigned char *body = malloc(n);
    for (size_t k = 0; k < n;) {
        const char *w = words[next_rand() % 12];
        for (size_t j = 0; w[j] && k < n; j++) body[k++] = (unsigned char)w[j];
        if (k < n) body[k++] = ' ';
    }
    round_trip("words, 64 KiB windows", body, n, 65536, 0);
    round_trip("words, 1000-byte windows", body, n, 1000, 0);
    round_trip("words, one window", body, n, n + 13, 0);
    /* random bytes: the table fills (16-bit codes), then frozen or cleared */
    for (size_t k = 0; k < n; k++) body[k] = (unsigned char)(next_rand() % 200 + 1);
    round_trip("random, table frozen", body, n, n + 13, 0);
    round_trip("random, table cleared", body, n, n + 13, 1);
    round_trip("random, 9 bytes per window", body, 5000, 9, 1);
    round_trip("title only", body, 0, 64, 0);

    /* damaged files */
    size_t size;
    unsigned char *t = malloc(n + 1);
    t[0] = '\n';
    memcpy(t + 1, body, n);
    unsigned char *f = make_file(t, 20000, 4096, 0, &size);
    unsigned char *g = malloc(size);
    expect_format_error("short", f, 50, "EC02");
    memcpy(g, f, size), g[1] = 'X';
    expect_format_error("magic", g, size, "EC02");
    memcpy(g, f, size), put_be32(g + 88, 1000000);
    expect_format_error("count", g, size, "window size");
    memcpy(g, f, size), put_be32(g + 84, 0);
    expect_format_error("size 0", g, size, "window size");
    memcpy(g, f, size), put_be32(g + 92 + 8, 5);
    expect_format_error("offsets", g, size, "window 2 starts");
    memcpy(g, f, size), put_be32(g + 92 + 4 * 5, (uint32_t)size + 1);
    expect_format_error("past the end", g, size, "outside");
    /* window 0 cut short: it decodes to fewer than wsize bytes */
    memcpy(g, f, size);
    const uint32_t w1 = (uint32_t)g[96] << 24 | (uint32_t)g[97] << 16 | (uint32_t)g[98] << 8 | g[99];
    put_be32(g + 96, w1 - 40);
    expect_format_error("short window", g, size, "holds");
    /* a code beyond the next table entry: 'A' then 300 at 9 bits (the next entry is 257) */
    {
        unsigned char h[92 + 8 + 3] = "EC02";
        put_be32(h + 84, 64), put_be32(h + 88, 1), put_be32(h + 92, 100), put_be32(h + 96, 103);
        const uint32_t bits = 65u | 300u << 9;
        h[100] = (unsigned char)bits, h[101] = (unsigned char)(bits >> 8), h[102] = (unsigned char)(bits >> 16);
        expect_format_error("bad code", h, sizeof h, "damaged");
    }
    /* no newline: no title line to drop */
    free(f);
    f = make_file(body, 100, 64, 0, &size);
    expect_format_error("no title", f, size, "title");
    {
        char *out = NULL;
        size_t len;
        alim_error err;
        alim_error_clear(&err);
        CHECK(alim_bible_read("/nonexistent/bible.data", &out, &len, &err) != ALIM_OK && !out, "missing file");
        CHECK(strstr(err.where, "/nonexistent/bible.data") != NULL, "names the file: %s", err.where);
    }
    free(f);
    free(g);
    free(t);
    free(body);
    return check_summary("test_data_bible");
}
