/* bible.c — the KJV text of bible-kjv-text read from its data file (see bible.h): the file's
 * window table, and a decoder of the LZW code of Unix `compress` for each window. */
#include "bible.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"

/* the header (bible.h): magic "EC", version "02", 80 bytes of description, then big-endian
 * window size, window count and count + 1 window offsets */
#define HEADER_TABLE 92
#define MAX_WINDOW ((size_t)1 << 24) /* far above the package's 64 KiB; bounds the window buffer */

/* LZW as `compress` writes it in block mode: codes 0..255 are bytes, 256 clears the table,
 * new strings start at 257; codes widen from 9 bits up to 16 */
#define LZW_MAX_BITS 16
#define LZW_CLEAR 256
#define LZW_FIRST 257
#define LZW_SIZE ((size_t)1 << LZW_MAX_BITS)

typedef struct {
    uint16_t prefix[LZW_SIZE]; /* string of code c = string of prefix[c] + suffix[c] */
    uint8_t suffix[LZW_SIZE];
    uint8_t stack[LZW_SIZE];   /* a string's bytes come out last to first */
} lzw_tables;

/* Codes are packed least significant bit first in groups of n_bits bytes (eight codes); when
 * the width changes, or the table is cleared, the rest of the current group is padding. This
 * reader follows that rule exactly, else every code after the first change would be off. */
typedef struct {
    const unsigned char *next, *end; /* input not yet taken into a group */
    const unsigned char *group;
    size_t group_bytes;
    size_t bit, limit;               /* next code's bit offset in the group; codes start below limit */
    int n_bits;
    size_t max_code;                 /* the largest code of the current width */
} code_reader;

static size_t max_code_of(int n_bits)
{
    return n_bits == LZW_MAX_BITS ? LZW_SIZE : ((size_t)1 << n_bits) - 1;
}

/* The next code, or -1 at the end of the window's input. free_ent is the next table entry
 * (a code that can no longer be written in n_bits bits widens the codes); *clear restarts
 * at 9 bits after a CLEAR. */
static long read_code(code_reader *r, size_t free_ent, int *clear)
{
    if (*clear || r->bit >= r->limit || free_ent > r->max_code) {
        if (free_ent > r->max_code) r->max_code = max_code_of(++r->n_bits);
        if (*clear) {
            r->n_bits = 9;
            r->max_code = max_code_of(9);
            *clear = 0;
        }
        size_t left = (size_t)(r->end - r->next);
        size_t size = left < (size_t)r->n_bits ? left : (size_t)r->n_bits;
        /* a tail too short for one whole code is padding */
        if (size * 8 < (size_t)r->n_bits) return -1;
        r->group = r->next;
        r->group_bytes = size;
        r->next += size;
        r->bit = 0;
        r->limit = size * 8 - (size_t)(r->n_bits - 1);
    }
    size_t b = r->bit >> 3;
    uint32_t v = 0;
    for (size_t i = 0; i < 3 && b + i < r->group_bytes; i++) v |= (uint32_t)r->group[b + i] << (8 * i);
    long code = (long)((v >> (r->bit & 7)) & (((uint32_t)1 << r->n_bits) - 1));
    r->bit += (size_t)r->n_bits;
    return code;
}

/* Decodes one window (in, n bytes) into out (at most cap bytes); *out_n bytes written.
 * 0, or -1 when the codes are not a valid LZW stream or decode to more than cap. */
static int decode_window(const unsigned char *in, size_t n, unsigned char *out, size_t cap, size_t *out_n,
                         lzw_tables *t)
{
    memset(t, 0, sizeof *t);
    for (size_t c = 0; c < 256; c++) t->suffix[c] = (uint8_t)c;
    code_reader r = {in, in + n, NULL, 0, 0, 0, 9, 0};
    r.max_code = max_code_of(9);
    size_t free_ent = LZW_FIRST, k = 0;
    int clear = 0;
    *out_n = 0;
    long old = read_code(&r, free_ent, &clear);
    if (old < 0) return 0;
    if (old >= 256 || cap == 0) return -1;
    uint8_t fin = (uint8_t)old;
    out[k++] = fin;
    long code;
    while ((code = read_code(&r, free_ent, &clear)) >= 0) {
        if (code == LZW_CLEAR) {
            clear = 1;
            free_ent = LZW_FIRST - 1;
            if ((code = read_code(&r, free_ent, &clear)) < 0) break;
        }
        const long in_code = code;
        size_t sp = 0;
        if ((size_t)code > free_ent) return -1;
        if ((size_t)code == free_ent) { /* the string being defined: the previous one + its first byte */
            t->stack[sp++] = fin;
            code = old;
        }
        while (code >= 256) {
            if (sp >= LZW_SIZE - 1) return -1; /* only a damaged table chains this far */
            t->stack[sp++] = t->suffix[code];
            code = t->prefix[code];
        }
        fin = (uint8_t)code;
        t->stack[sp++] = fin;
        if (sp > cap - k) return -1;
        while (sp) out[k++] = t->stack[--sp];
        if (free_ent < LZW_SIZE) {
            t->prefix[free_ent] = (uint16_t)old;
            t->suffix[free_ent] = fin;
            free_ent++;
        }
        old = in_code;
    }
    *out_n = k;
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

alim_status alim_bible_decode(const unsigned char *data, size_t size, const char *name, char **text, size_t *len,
                              alim_error *err)
{
    *text = NULL;
    *len = 0;
    if (size < HEADER_TABLE || memcmp(data, "EC02", 4))
        return alim_error_set(err, ALIM_EFORMAT, name, "not a bible-kjv data file (no \"EC02\" header)");
    const size_t wsize = be32(data + 84), wnum = be32(data + 88);
    if (wsize == 0 || wsize > MAX_WINDOW || wnum == 0 || wnum >= (size - HEADER_TABLE) / 4)
        return alim_error_set(err, ALIM_EFORMAT, name, "bad window size %zu or count %zu", wsize, wnum);
    const size_t data_start = HEADER_TABLE + 4 * (wnum + 1);
    for (size_t w = 0; w <= wnum; w++) {
        size_t off = be32(data + HEADER_TABLE + 4 * w);
        size_t prev = w ? be32(data + HEADER_TABLE + 4 * (w - 1)) : data_start;
        if (off < prev || off > size)
            return alim_error_set(err, ALIM_EFORMAT, name, "window %zu starts at %zu, outside %zu..%zu", w, off, prev,
                                  size);
    }
    /* the output grows with what the windows really hold, so that a damaged window count
     * cannot ask for more memory than the text needs */
    lzw_tables *t = malloc(sizeof *t);
    unsigned char *win = t ? malloc(wsize) : NULL, *out = NULL;
    size_t total = 0, cap = 0;
    alim_status st = win ? ALIM_OK : alim_error_set(err, ALIM_ENOMEM, name, "out of memory");
    for (size_t w = 0; w < wnum && !st; w++) {
        const size_t a = be32(data + HEADER_TABLE + 4 * w), b = be32(data + HEADER_TABLE + 4 * (w + 1));
        size_t got;
        if (decode_window(data + a, b - a, win, wsize, &got, t)) {
            st = alim_error_set(err, ALIM_EFORMAT, name, "window %zu: damaged compressed data", w);
        } else if (got != wsize && w + 1 < wnum) {
            /* every window but the last is full: the text's offsets are window * wsize + offset */
            st = alim_error_set(err, ALIM_EFORMAT, name, "window %zu holds %zu bytes, not %zu", w, got, wsize);
        } else if (total + got + 1 > cap) {
            size_t nc = cap ? cap : (size_t)1 << 20;
            while (nc < total + got + 1) nc *= 2;
            unsigned char *no = realloc(out, nc);
            if (!no) st = alim_error_set(err, ALIM_ENOMEM, name, "out of memory");
            else out = no, cap = nc;
        }
        if (!st) {
            memcpy(out + total, win, got);
            total += got;
        }
    }
    free(t);
    free(win);
    const unsigned char *nl = st || !out ? NULL : memchr(out, '\n', total);
    if (!st && !nl) st = alim_error_set(err, ALIM_EFORMAT, name, "no title line");
    if (st) {
        free(out);
        return st;
    }
    /* the first line is the file's title, not a verse */
    const size_t skip = (size_t)(nl + 1 - out);
    memmove(out, out + skip, total - skip);
    out[total - skip] = '\0';
    *text = (char *)out;
    *len = total - skip;
    return ALIM_OK;
}

alim_status alim_bible_read(const char *path, char **text, size_t *len, alim_error *err)
{
    *text = NULL;
    *len = 0;
    char *buf;
    size_t n;
    alim_status st = alim_file_read_all(path, &buf, &n, err);
    if (st) return st;
    st = alim_bible_decode((const unsigned char *)buf, n, path, text, len, err);
    free(buf);
    return st;
}
