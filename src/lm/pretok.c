/* pretok.c — the text side of the tokenizers: GPT-2's byte alphabet, UTF-8 validity, NFC
 * (utf8proc) and regex pre-tokenisation with PCRE2 (see alim/tokenizer.h). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "tokenizer_impl.h"

/* The pre-tokeniser regexes of the supported families, as their tokenizer.json files write them. */
const char TOK_GPT2_PATTERN[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const char TOK_LLAMA3_PATTERN[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const char TOK_QWEN2_PATTERN[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* ---- GPT-2's bytes_to_unicode ---------------------------------------------------------- */

static int cp_of_byte[256], byte_of_cp[324]; /* the alphabet ends at U+0143 */
static pthread_once_t alphabet_once = PTHREAD_ONCE_INIT;

static void make_alphabet(void)
{
    int n = 0;
    for (int i = 0; i < 324; i++) byte_of_cp[i] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp_of_byte[b] = printable ? b : 256 + n++;
        byte_of_cp[cp_of_byte[b]] = b;
    }
}

long tok_alphabet_decode(const char *s, size_t n, char *out)
{
    pthread_once(&alphabet_once, make_alphabet);
    const unsigned char *u = (const unsigned char *)s;
    long k = 0;
    for (size_t i = 0; i < n;) {
        int cp;
        if (u[i] < 0x80) cp = u[i++];
        else if (i + 1 < n && (u[i] & 0xE0) == 0xC0 && (u[i + 1] & 0xC0) == 0x80) {
            cp = ((u[i] & 0x1F) << 6) | (u[i + 1] & 0x3F);
            i += 2;
        } else return -1;
        if (cp >= 324 || byte_of_cp[cp] < 0) return -1;
        out[k++] = (char)byte_of_cp[cp];
    }
    return k;
}

size_t tok_alphabet_encode(const char *bytes, size_t n, char *out)
{
    pthread_once(&alphabet_once, make_alphabet);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int cp = cp_of_byte[(unsigned char)bytes[i]];
        if (cp < 0x80) out[k++] = (char)cp;
        else {
            out[k++] = (char)(0xC0 | (cp >> 6));
            out[k++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[k] = '\0';
    return k;
}

/* ---- bytes -> id map ----------------------------------------------------------------------- */

struct tok_str_slot {
    const char *s; /* NULL = empty */
    size_t len;
    int32_t id;
};

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static struct tok_str_slot *find_slot(struct tok_str_slot *t, size_t cap, const char *s, size_t len)
{
    size_t i = hash_bytes(s, len) & (cap - 1);
    while (t[i].s && !(t[i].len == len && !memcmp(t[i].s, s, len))) i = (i + 1) & (cap - 1);
    return &t[i];
}

int tok_strmap_insert(tok_strmap *m, const char *s, size_t len, int32_t id)
{
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        struct tok_str_slot *nt = calloc(nc, sizeof *nt);
        if (!nt) return -1;
        for (size_t i = 0; i < m->cap; i++)
            if (m->slot[i].s) *find_slot(nt, nc, m->slot[i].s, m->slot[i].len) = m->slot[i];
        free(m->slot);
        m->slot = nt;
        m->cap = nc;
    }
    struct tok_str_slot *e = find_slot(m->slot, m->cap, s, len);
    if (!e->s) {
        e->s = s ? s : "";
        e->len = len;
        e->id = id;
        m->n++;
    }
    return 0;
}

int32_t tok_strmap_get(const tok_strmap *m, const char *s, size_t len)
{
    if (!m->cap) return -1;
    const struct tok_str_slot *e = find_slot(m->slot, m->cap, s, len);
    return e->s ? e->id : -1;
}

void tok_strmap_free(tok_strmap *m)
{
    free(m->slot);
    memset(m, 0, sizeof *m);
}

/* ---- UTF-8 and NFC ---------------------------------------------------------------------------- */

size_t tok_utf8_char_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && s[1] > 0x9F) return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
        if (c == 0xF4 && s[1] > 0x8F) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

alim_status tok_nfc(const char *s, size_t n, char **out, size_t *out_len, const char *where, alim_error *err)
{
    utf8proc_uint8_t *dst = NULL;
    utf8proc_ssize_t r = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &dst,
                                      (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (r < 0) {
        free(dst);
        if (r == UTF8PROC_ERROR_NOMEM) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
        return alim_error_set(err, ALIM_EINTERNAL, where, "NFC normalisation failed: %s", utf8proc_errmsg(r));
    }
    *out = (char *)dst;
    *out_len = (size_t)r;
    return ALIM_OK;
}

/* ---- regexes ------------------------------------------------------------------------------------ */

alim_status tok_step_compile(tok_step *s, const char *where, alim_error *err)
{
    const char *pat = s->kind == TOK_STEP_SPLIT ? s->pattern
                      : s->kind == TOK_STEP_DIGITS ? (s->flag ? "\\p{N}" : "\\p{N}+")
                      : s->flag ? TOK_GPT2_PATTERN : NULL;
    if (!pat) return ALIM_OK;
    int ec;
    PCRE2_SIZE eo;
    uint32_t opts = PCRE2_UTF | PCRE2_UCP | (s->kind == TOK_STEP_SPLIT && s->literal ? PCRE2_LITERAL : 0);
    s->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, opts, &ec, &eo, NULL);
    if (!s->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        return alim_error_set(err, ALIM_EFORMAT, where, "regex \"%.60s\" does not compile at offset %zu: %s", pat, (size_t)eo, (const char *)msg);
    }
    pcre2_jit_compile(s->re, PCRE2_JIT_COMPLETE); /* without JIT, pcre2_match interprets */
    return ALIM_OK;
}

void tok_step_free(tok_step *s)
{
    pcre2_code_free(s->re);
    free(s->pattern);
    memset(s, 0, sizeof *s);
}

static pcre2_code *gpt2_re;
static pthread_once_t gpt2_once = PTHREAD_ONCE_INIT;

static void compile_gpt2(void)
{
    tok_step s = {.kind = TOK_STEP_BYTELEVEL, .flag = 1};
    if (tok_step_compile(&s, "GPT-2 pattern", NULL) == ALIM_OK) gpt2_re = s.re;
}

const pcre2_code *tok_gpt2_regex(void)
{
    pthread_once(&gpt2_once, compile_gpt2);
    return gpt2_re;
}

void tok_scratch_free(tok_scratch *sc)
{
    free(sc->a);
    free(sc->b);
    free(sc->sym);
    pcre2_match_data_free(sc->md);
    memset(sc, 0, sizeof *sc);
}

static int push_span(tok_scratch *sc, size_t off, size_t len)
{
    if (sc->nb == sc->cap) {
        size_t nc = sc->cap ? sc->cap * 2 : 256;
        tok_span *na = realloc(sc->a, nc * sizeof *na);
        if (!na) return -1;
        sc->a = na;
        tok_span *nb = realloc(sc->b, nc * sizeof *nb);
        if (!nb) return -1;
        sc->b = nb;
        sc->cap = nc;
    }
    sc->b[sc->nb].off = off;
    sc->b[sc->nb].len = len;
    sc->nb++;
    return 0;
}

/* Appends the pieces of s[off, off+len) cut by re to sc->b: matches and the gaps between
 * them, in order (an empty match only ends a gap, as HF's split does). */
static alim_status split_isolated(const pcre2_code *re, const char *s, size_t off, size_t len,
                                  tok_scratch *sc, const char *where, alim_error *err)
{
    const char *sub = s + off;
    size_t pos = 0, last = 0;
    while (pos <= len) {
        int rc = pcre2_match(re, (PCRE2_SPTR)sub, len, pos, PCRE2_NO_UTF_CHECK, sc->md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return alim_error_set(err, ALIM_EINVAL, where, "pre-tokeniser regex failed at byte %zu: %s", off + pos, (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(sc->md);
        size_t ms = ov[0], me = ov[1];
        if (ms > last && push_span(sc, off + last, ms - last)) goto oom;
        if (me > ms) {
            if (push_span(sc, off + ms, me - ms)) goto oom;
            pos = me;
        } else { /* empty match: step over one character */
            if (ms >= len) {
                last = ms;
                break;
            }
            size_t cl = tok_utf8_char_len((const unsigned char *)sub + ms, len - ms);
            pos = ms + (cl ? cl : 1);
        }
        last = me;
    }
    if (last < len && push_span(sc, off + last, len - last)) goto oom;
    return ALIM_OK;
oom:
    return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
}

alim_status tok_pretokenize(const tok_step *steps, size_t n_steps, const pcre2_code *re,
                            const char *s, size_t n, tok_scratch *sc, const char *where,
                            alim_error *err)
{
    if (!sc->md && !(sc->md = pcre2_match_data_create(1, NULL))) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    sc->nb = 0;
    if (push_span(sc, 0, n)) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    size_t nsteps = re ? 1 : n_steps;
    for (size_t k = 0; k < nsteps; k++) {
        const pcre2_code *r = re ? re : steps[k].re;
        if (!r) continue;
        /* the current pieces are in b: move them to a, cut each into b */
        tok_span *t = sc->a;
        sc->a = sc->b;
        sc->b = t;
        sc->na = sc->nb;
        sc->nb = 0;
        for (size_t i = 0; i < sc->na; i++) {
            alim_status st = split_isolated(r, s, sc->a[i].off, sc->a[i].len, sc, where, err);
            if (st) return st;
        }
    }
    tok_span *t = sc->a;
    sc->a = sc->b;
    sc->b = t;
    sc->na = sc->nb;
    sc->nb = 0;
    return ALIM_OK;
}
