/* tokenizer.c — byte-level BPE in the GPT-2 format (see alim/tokenizer.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/tokenizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alim/io.h"

static const char EOT_STRING[] = "<|endoftext|>";

/* ---- GPT-2's bytes_to_unicode ------------------------------------------------------- */

static void byte_alphabet(int cp_of_byte[256])
{
    int n = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp_of_byte[b] = printable ? b : 256 + n++;
    }
}

static size_t utf8_put(char *out, int cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2; /* the alphabet stays below U+0800 */
}

/* Decodes one UTF-8 code point; returns its byte length or 0 if malformed. */
static size_t utf8_get(const unsigned char *s, size_t n, int *cp)
{
    if (n >= 1 && s[0] < 0x80) return *cp = s[0], 1;
    if (n >= 2 && (s[0] & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) return *cp = ((s[0] & 0x1F) << 6) | (s[1] & 0x3F), 2;
    if (n >= 3 && (s[0] & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80)
        return *cp = ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F), 3;
    return 0;
}

/* ---- hash tables ------------------------------------------------------------------- */

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}
static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

typedef struct {
    uint64_t key; /* (a << 32) | b, +1 so that 0 means empty */
    int32_t rank;
} pair_slot;

static int pair_lookup(const alim_tokenizer *tk, int32_t a, int32_t b)
{
    if (!tk->pair_cap) return -1;
    const pair_slot *t = tk->pair_table;
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    size_t mask = tk->pair_cap - 1;
    for (size_t i = hash_u64(key) & mask;; i = (i + 1) & mask) {
        if (t[i].key == key) return t[i].rank;
        if (t[i].key == 0) return -1;
    }
}

static alim_status build_pair_table(alim_tokenizer *tk, alim_error *err)
{
    free(tk->pair_table);
    tk->pair_table = NULL;
    tk->pair_cap = 0;
    if (!tk->n_merges) return ALIM_OK;
    size_t cap = 16;
    while (cap < tk->n_merges * 2) cap *= 2;
    pair_slot *t = calloc(cap, sizeof *t);
    if (!t) return alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
    for (size_t r = 0; r < tk->n_merges; r++) {
        uint64_t key = (((uint64_t)(uint32_t)tk->merge_a[r] << 32) | (uint32_t)tk->merge_b[r]) + 1;
        size_t i = hash_u64(key) & (cap - 1);
        while (t[i].key && t[i].key != key) i = (i + 1) & (cap - 1);
        if (!t[i].key) t[i].key = key, t[i].rank = (int32_t)r; /* first (lowest) rank wins */
    }
    tk->pair_table = t;
    tk->pair_cap = cap;
    return ALIM_OK;
}

/* string -> id map used while loading */
typedef struct {
    const char *s;
    uint32_t len;
    int32_t id;
} str_slot;

static int32_t str_lookup(const str_slot *t, size_t cap, const char *s, size_t len)
{
    for (size_t i = hash_bytes(s, len) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (!t[i].s) return -1;
        if (t[i].len == len && !memcmp(t[i].s, s, len)) return t[i].id;
    }
}
static void str_insert(str_slot *t, size_t cap, const char *s, size_t len, int32_t id)
{
    size_t i = hash_bytes(s, len) & (cap - 1);
    while (t[i].s && !(t[i].len == len && !memcmp(t[i].s, s, len))) i = (i + 1) & (cap - 1);
    t[i].s = s, t[i].len = (uint32_t)len, t[i].id = id;
}

/* ---- construction ------------------------------------------------------------------ */

void alim_tokenizer_free(alim_tokenizer *tk)
{
    if (!tk) return;
    if (tk->token)
        for (int i = 0; i < tk->vocab_size; i++) free(tk->token[i]);
    free(tk->token);
    free(tk->token_len);
    free(tk->merge_a);
    free(tk->merge_b);
    free(tk->merge_out);
    free(tk->pair_table);
    memset(tk, 0, sizeof *tk);
}

static alim_status alloc_vocab(alim_tokenizer *tk, int V, alim_error *err)
{
    memset(tk, 0, sizeof *tk);
    tk->vocab_size = V;
    tk->eot = -1;
    for (int b = 0; b < 256; b++) tk->byte_id[b] = -1;
    tk->token = calloc((size_t)V, sizeof *tk->token);
    tk->token_len = calloc((size_t)V, sizeof *tk->token_len);
    if (!tk->token || !tk->token_len) {
        alim_tokenizer_free(tk);
        return alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
    }
    return ALIM_OK;
}

alim_status alim_tokenizer_init_bytes(alim_tokenizer *tk, alim_error *err)
{
    alim_status st = alloc_vocab(tk, 257, err);
    if (st) return st;
    for (int b = 0; b < 256; b++) {
        tk->token[b] = malloc(2);
        if (!tk->token[b]) {
            alim_tokenizer_free(tk);
            return alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
        }
        tk->token[b][0] = (char)b;
        tk->token[b][1] = '\0';
        tk->token_len[b] = 1;
        tk->byte_id[b] = b;
    }
    tk->token[256] = strdup(EOT_STRING);
    if (!tk->token[256]) {
        alim_tokenizer_free(tk);
        return alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
    }
    tk->token_len[256] = 0;
    tk->eot = 256;
    return ALIM_OK;
}

alim_status alim_tokenizer_load(alim_tokenizer *tk, const char *dir, alim_error *err)
{
    memset(tk, 0, sizeof *tk);
    char path[4096], mpath[4096], where[ALIM_ERROR_WHERE_MAX];
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    snprintf(mpath, sizeof mpath, "%s/merges.txt", dir);
    cJSON *vocab;
    alim_status st = alim_json_read_file(path, &vocab, err);
    if (st) return st;
    if (!cJSON_IsObject(vocab)) {
        cJSON_Delete(vocab);
        return alim_error_set(err, ALIM_EFORMAT, path, "must be a JSON object {token: id}");
    }
    int V = 0;
    for (cJSON *it = vocab->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (1 << 24) || it->valuedouble != (int)it->valuedouble) {
            if (snprintf(where, sizeof where, "%s: \"%.40s\"", path, it->string) < 0) where[0] = 0;
            cJSON_Delete(vocab);
            return alim_error_set(err, ALIM_EFORMAT, where, "id must be an integer in [0, 2^24)");
        }
        if (it->valueint + 1 > V) V = it->valueint + 1;
    }
    if (V == 0) {
        cJSON_Delete(vocab);
        return alim_error_set(err, ALIM_EFORMAT, path, "empty vocabulary");
    }
    st = alloc_vocab(tk, V, err);
    if (st) return cJSON_Delete(vocab), st;
    int cp_of_byte[256], byte_of_cp[512];
    byte_alphabet(cp_of_byte);
    for (int i = 0; i < 512; i++) byte_of_cp[i] = -1;
    for (int b = 0; b < 256; b++) byte_of_cp[cp_of_byte[b]] = b;
    for (cJSON *it = vocab->child; it && !st; it = it->next) {
        int id = it->valueint;
        if (snprintf(where, sizeof where, "%s: \"%.40s\"", path, it->string) < 0) where[0] = 0;
        if (tk->token[id]) {
            st = alim_error_set(err, ALIM_EFORMAT, where, "id %d is used twice", id);
            break;
        }
        const unsigned char *s = (const unsigned char *)it->string;
        size_t n = strlen(it->string);
        char *bytes = malloc(n + 1);
        if (!bytes) {
            st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
            break;
        }
        tk->token[id] = bytes;
        if (!strcmp(it->string, EOT_STRING)) {
            strcpy(bytes, EOT_STRING);
            tk->token_len[id] = 0;
            tk->eot = id;
            continue;
        }
        size_t k = 0;
        for (size_t i = 0; i < n;) {
            int cp;
            size_t used = utf8_get(s + i, n - i, &cp);
            if (!used || cp >= 512 || byte_of_cp[cp] < 0) {
                st = alim_error_set(err, ALIM_EFORMAT, where, "token is not written in GPT-2's byte alphabet");
                break;
            }
            bytes[k++] = (char)byte_of_cp[cp];
            i += used;
        }
        bytes[k] = '\0';
        tk->token_len[id] = (uint32_t)k;
        if (!st && k == 0) st = alim_error_set(err, ALIM_EFORMAT, where, "empty token");
        if (!st && k == 1 && tk->byte_id[(unsigned char)bytes[0]] < 0) tk->byte_id[(unsigned char)bytes[0]] = id;
    }
    cJSON_Delete(vocab);
    for (int i = 0; i < V && !st; i++)
        if (!tk->token[i]) st = alim_error_set(err, ALIM_EFORMAT, path, "id %d is missing (ids must be 0..%d without gaps)", i, V - 1);
    if (st) return alim_tokenizer_free(tk), st;

    /* merges.txt */
    char *buf;
    size_t len;
    st = alim_file_read_all(mpath, &buf, &len, err);
    if (st) return alim_tokenizer_free(tk), st;
    size_t cap = 16;
    while (cap < (size_t)V * 2) cap *= 2;
    str_slot *tab = calloc(cap, sizeof *tab);
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++) nlines += buf[i] == '\n';
    tk->merge_a = malloc(nlines * sizeof(int32_t));
    tk->merge_b = malloc(nlines * sizeof(int32_t));
    tk->merge_out = malloc(nlines * sizeof(int32_t));
    if (!tab || !tk->merge_a || !tk->merge_b || !tk->merge_out) {
        free(tab), free(buf), alim_tokenizer_free(tk);
        return alim_error_set(err, ALIM_ENOMEM, mpath, "out of memory");
    }
    for (int i = 0; i < V; i++)
        if (i != tk->eot) str_insert(tab, cap, tk->token[i], tk->token_len[i], i);
    char *p = buf, *end = buf + len, tmp[1024];
    size_t lineno = 0;
    while (p < end && !st) {
        char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        lineno++;
        char *line = p;
        p = eol + 1;
        size_t ll = (size_t)(eol - line);
        if (ll && line[ll - 1] == '\r') ll--;
        if (ll == 0 || (lineno == 1 && line[0] == '#')) continue;
        if (snprintf(where, sizeof where, "%s:%zu", mpath, lineno) < 0) where[0] = 0;
        char *sp = memchr(line, ' ', ll);
        if (!sp || sp == line || sp + 1 >= line + ll || memchr(sp + 1, ' ', (size_t)(line + ll - sp - 1))) {
            st = alim_error_set(err, ALIM_EFORMAT, where, "expected two tokens separated by one space");
            break;
        }
        /* decode both halves from the byte alphabet */
        int32_t ids[2];
        char *parts[2] = {line, sp + 1};
        size_t plen[2] = {(size_t)(sp - line), (size_t)(line + ll - sp - 1)};
        char joined[2048];
        size_t jl = 0;
        for (int h = 0; h < 2 && !st; h++) {
            size_t k = 0;
            for (size_t i = 0; i < plen[h];) {
                int cp;
                size_t used = utf8_get((const unsigned char *)parts[h] + i, plen[h] - i, &cp);
                if (!used || cp >= 512 || byte_of_cp[cp] < 0 || k >= sizeof tmp) {
                    st = alim_error_set(err, ALIM_EFORMAT, where, "merge is not written in GPT-2's byte alphabet");
                    break;
                }
                tmp[k++] = (char)byte_of_cp[cp];
                i += used;
            }
            if (st) break;
            ids[h] = str_lookup(tab, cap, tmp, k);
            if (ids[h] < 0) st = alim_error_set(err, ALIM_EFORMAT, where, "merge part %d is not in vocab.json", h + 1);
            else if (jl + k < sizeof joined) {
                memcpy(joined + jl, tmp, k);
                jl += k;
            }
        }
        if (st) break;
        int32_t out = str_lookup(tab, cap, joined, jl);
        if (out < 0) {
            st = alim_error_set(err, ALIM_EFORMAT, where, "the merged token is not in vocab.json");
            break;
        }
        tk->merge_a[tk->n_merges] = ids[0];
        tk->merge_b[tk->n_merges] = ids[1];
        tk->merge_out[tk->n_merges] = out;
        tk->n_merges++;
    }
    free(tab);
    free(buf);
    if (!st) st = build_pair_table(tk, err);
    if (st) alim_tokenizer_free(tk);
    return st;
}

static void put_alphabet(char *out, size_t *k, const char *bytes, size_t n, const int cp_of_byte[256])
{
    for (size_t i = 0; i < n; i++) *k += utf8_put(out + *k, cp_of_byte[(unsigned char)bytes[i]]);
    out[*k] = '\0';
}

alim_status alim_tokenizer_save(const alim_tokenizer *tk, const char *dir, alim_error *err)
{
    char path[4096];
    int cp_of_byte[256];
    byte_alphabet(cp_of_byte);
    cJSON *vocab = cJSON_CreateObject();
    size_t maxlen = 16;
    for (int i = 0; i < tk->vocab_size; i++)
        if (tk->token_len[i] > maxlen) maxlen = tk->token_len[i];
    char *s = malloc(maxlen * 4 + 32);
    if (!vocab || !s) {
        cJSON_Delete(vocab), free(s);
        return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    }
    for (int i = 0; i < tk->vocab_size; i++) {
        size_t k = 0;
        if (i == tk->eot) strcpy(s, EOT_STRING);
        else put_alphabet(s, &k, tk->token[i], tk->token_len[i], cp_of_byte);
        cJSON_AddItemToObject(vocab, s, cJSON_CreateNumber(i));
    }
    char *js = cJSON_PrintUnformatted(vocab);
    cJSON_Delete(vocab);
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    alim_status st = js ? alim_file_write_atomic(path, js, strlen(js), err) : alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    free(js);
    if (st) return free(s), st;
    snprintf(path, sizeof path, "%s/merges.txt", dir);
    alim_atomic_file f;
    st = alim_atomic_open(&f, path, err);
    if (st) return free(s), st;
    fputs("#version: 0.2\n", f.fp);
    for (size_t r = 0; r < tk->n_merges; r++) {
        size_t k = 0;
        put_alphabet(s, &k, tk->token[tk->merge_a[r]], tk->token_len[tk->merge_a[r]], cp_of_byte);
        fprintf(f.fp, "%s ", s);
        k = 0;
        put_alphabet(s, &k, tk->token[tk->merge_b[r]], tk->token_len[tk->merge_b[r]], cp_of_byte);
        fprintf(f.fp, "%s\n", s);
    }
    free(s);
    return alim_atomic_commit(&f, err);
}

/* ---- pre-tokenisation (GPT-2 pattern) ------------------------------------------------ */

static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
static int is_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80; }
static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static int is_other(unsigned char c) { return !is_space(c) && !is_letter(c) && !is_digit(c); }

/* Length of the piece starting at s[i] (i < n). */
static size_t next_piece(const unsigned char *s, size_t i, size_t n)
{
    if (s[i] == '\'' && i + 1 < n) {
        unsigned char c = s[i + 1];
        if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
        if (i + 2 < n && ((c == 'r' && s[i + 2] == 'e') || (c == 'v' && s[i + 2] == 'e') || (c == 'l' && s[i + 2] == 'l'))) return 3;
    }
    size_t j = i + (s[i] == ' ' && i + 1 < n ? 1 : 0);
    if (j == i + 1 || !is_space(s[i])) {
        int (*cls)(unsigned char) = is_letter(s[j]) ? is_letter : is_digit(s[j]) ? is_digit : is_other(s[j]) ? is_other : NULL;
        if (cls) {
            size_t k = j;
            while (k < n && cls(s[k])) k++;
            return k - i;
        }
    }
    size_t k = i;
    while (k < n && is_space(s[k])) k++;
    if (k < n && k - i > 1) return k - i - 1; /* \s+(?!\S): leave the last blank to the next piece */
    return k - i;
}

static alim_status grow(int32_t **ids, size_t *cap, size_t need, const char *where, alim_error *err)
{
    if (need <= *cap) return ALIM_OK;
    size_t nc = *cap ? *cap : 1024;
    while (nc < need) nc *= 2;
    int32_t *p = realloc(*ids, nc * sizeof *p);
    if (!p) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    *ids = p;
    *cap = nc;
    return ALIM_OK;
}

/* Applies the merges to w[0..*k) in place. */
static void bpe_piece(const alim_tokenizer *tk, int32_t *w, size_t *k)
{
    size_t n = *k;
    while (n > 1) {
        int best = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            int r = pair_lookup(tk, w[i], w[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r;
        }
        if (best < 0) break;
        int32_t a = tk->merge_a[best], b = tk->merge_b[best], out = tk->merge_out[best];
        size_t o = 0;
        for (size_t i = 0; i < n;) {
            if (i + 1 < n && w[i] == a && w[i + 1] == b) {
                w[o++] = out;
                i += 2;
            } else w[o++] = w[i++];
        }
        n = o;
    }
    *k = n;
}

alim_status alim_tokenizer_encode(const alim_tokenizer *tk, const char *text, size_t len,
                                  int32_t **ids, size_t *n, size_t *cap, const char *where,
                                  alim_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    alim_status st = grow(ids, cap, *n + len + 1, where, err);
    if (st) return st;
    for (size_t i = 0; i < len; i++)
        if (tk->byte_id[s[i]] < 0)
            return alim_error_set(err, ALIM_EINVAL, where, "byte 0x%02x at offset %zu has no token in the vocabulary (unknown token)", s[i], i);
    if (!tk->n_merges) {
        for (size_t i = 0; i < len; i++) (*ids)[(*n)++] = tk->byte_id[s[i]];
        return ALIM_OK;
    }
    for (size_t i = 0; i < len;) {
        size_t pl = next_piece(s, i, len);
        int32_t *w = *ids + *n;
        for (size_t j = 0; j < pl; j++) w[j] = tk->byte_id[s[i + j]];
        size_t k = pl;
        bpe_piece(tk, w, &k);
        *n += k;
        i += pl;
    }
    return ALIM_OK;
}

const char *alim_tokenizer_decode(const alim_tokenizer *tk, int32_t id, size_t *len)
{
    if (id < 0 || id >= tk->vocab_size) return NULL;
    *len = tk->token_len[id];
    return tk->token[id];
}

/* ---- training ---------------------------------------------------------------------- */

typedef struct {
    int32_t *w;     /* token ids of the piece */
    size_t n;
    uint64_t count; /* occurrences in the corpus */
} train_piece;

typedef struct {
    uint64_t key; /* (a<<32|b)+1, 0 = empty */
    uint64_t count;
} count_slot;

alim_status alim_tokenizer_train(alim_tokenizer *tk, const char *const *texts,
                                 const size_t *lens, size_t n_texts, int vocab_size,
                                 const alim_progress *progress, alim_error *err)
{
    memset(tk, 0, sizeof *tk);
    if (vocab_size < 257 || vocab_size > (1 << 20))
        return alim_error_set(err, ALIM_EINVAL, "--vocab", "must be in [257, 2^20], got %d", vocab_size);
    /* unique pieces with their counts */
    size_t cap = 1 << 12, nuniq = 0;
    str_slot *tab = calloc(cap, sizeof *tab);
    train_piece *pieces = NULL;
    size_t pcap = 0;
    alim_status st = ALIM_OK;
    if (!tab) return alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
    for (size_t t = 0; t < n_texts && !st; t++) {
        const unsigned char *s = (const unsigned char *)texts[t];
        for (size_t i = 0; i < lens[t] && !st;) {
            size_t pl = next_piece(s, i, lens[t]);
            int32_t id = str_lookup(tab, cap, (const char *)s + i, pl);
            if (id >= 0) pieces[id].count++;
            else {
                if (nuniq * 2 >= cap) { /* rehash */
                    size_t nc = cap * 2;
                    str_slot *nt = calloc(nc, sizeof *nt);
                    if (!nt) {
                        st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
                        break;
                    }
                    for (size_t j = 0; j < cap; j++)
                        if (tab[j].s) str_insert(nt, nc, tab[j].s, tab[j].len, tab[j].id);
                    free(tab);
                    tab = nt;
                    cap = nc;
                }
                if (nuniq == pcap) {
                    pcap = pcap ? pcap * 2 : 1024;
                    train_piece *np = realloc(pieces, pcap * sizeof *np);
                    if (!np) {
                        st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
                        break;
                    }
                    pieces = np;
                }
                train_piece *p = &pieces[nuniq];
                p->w = malloc(pl * sizeof(int32_t));
                if (!p->w) {
                    st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
                    break;
                }
                for (size_t j = 0; j < pl; j++) p->w[j] = s[i + j];
                p->n = pl;
                p->count = 1;
                str_insert(tab, cap, (const char *)s + i, pl, (int32_t)nuniq);
                nuniq++;
            }
            i += pl;
        }
    }
    free(tab);
    int want = vocab_size - 257;
    int32_t *ma = malloc(((size_t)want + 1) * sizeof(int32_t)), *mb = malloc(((size_t)want + 1) * sizeof(int32_t));
    char **tokb = calloc((size_t)vocab_size, sizeof(char *));
    uint32_t *tokl = calloc((size_t)vocab_size, sizeof(uint32_t));
    size_t ccap = 1 << 16;
    count_slot *ct = NULL;
    if (!st && (!ma || !mb || !tokb || !tokl)) st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
    for (int b = 0; b < 256 && !st; b++) {
        tokb[b] = malloc(2);
        if (!tokb[b]) st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
        else tokb[b][0] = (char)b, tokb[b][1] = 0, tokl[b] = 1;
    }
    int nm = 0;
    while (!st && nm < want) {
        /* count adjacent pairs */
        size_t npairs = 0;
        for (size_t i = 0; i < nuniq; i++) npairs += pieces[i].n ? pieces[i].n - 1 : 0;
        size_t need = 16;
        while (need < npairs * 2) need *= 2;
        if (need > ccap || !ct) {
            free(ct);
            ccap = need > ccap ? need : ccap;
            ct = malloc(ccap * sizeof *ct);
            if (!ct) {
                st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
                break;
            }
        }
        memset(ct, 0, ccap * sizeof *ct);
        uint64_t best_count = 0, best_key = 0;
        for (size_t i = 0; i < nuniq; i++) {
            const train_piece *p = &pieces[i];
            for (size_t j = 0; j + 1 < p->n; j++) {
                uint64_t key = (((uint64_t)(uint32_t)p->w[j] << 32) | (uint32_t)p->w[j + 1]) + 1;
                size_t h = hash_u64(key) & (ccap - 1);
                while (ct[h].key && ct[h].key != key) h = (h + 1) & (ccap - 1);
                ct[h].key = key;
                ct[h].count += p->count;
                if (ct[h].count > best_count || (ct[h].count == best_count && key < best_key)) {
                    best_count = ct[h].count;
                    best_key = key;
                }
            }
        }
        if (best_count < 2) break;
        int32_t a = (int32_t)((best_key - 1) >> 32), b = (int32_t)((best_key - 1) & 0xffffffffu);
        int32_t out = 256 + nm;
        ma[nm] = a;
        mb[nm] = b;
        tokl[out] = tokl[a] + tokl[b];
        tokb[out] = malloc(tokl[out] + 1);
        if (!tokb[out]) {
            st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
            break;
        }
        memcpy(tokb[out], tokb[a], tokl[a]);
        memcpy(tokb[out] + tokl[a], tokb[b], tokl[b]);
        tokb[out][tokl[out]] = 0;
        for (size_t i = 0; i < nuniq; i++) {
            train_piece *p = &pieces[i];
            size_t o = 0;
            for (size_t j = 0; j < p->n;) {
                if (j + 1 < p->n && p->w[j] == a && p->w[j + 1] == b) {
                    p->w[o++] = out;
                    j += 2;
                } else p->w[o++] = p->w[j++];
            }
            p->n = o;
        }
        nm++;
        if (alim_progress_report(progress, "merges", nm, want)) break;
    }
    free(ct);
    for (size_t i = 0; i < nuniq; i++) free(pieces[i].w);
    free(pieces);
    if (!st) {
        int V = 256 + nm + 1;
        st = alloc_vocab(tk, V, err);
        if (!st) {
            for (int i = 0; i < 256 + nm; i++) {
                tk->token[i] = tokb[i];
                tk->token_len[i] = tokl[i];
                tokb[i] = NULL;
            }
            for (int b = 0; b < 256; b++) tk->byte_id[b] = b;
            tk->token[V - 1] = strdup(EOT_STRING);
            tk->eot = V - 1;
            tk->merge_a = ma, tk->merge_b = mb, ma = mb = NULL;
            tk->merge_out = malloc(((size_t)nm + 1) * sizeof(int32_t));
            if (!tk->token[V - 1] || !tk->merge_out) st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
            else {
                for (int r = 0; r < nm; r++) tk->merge_out[r] = 256 + r;
                tk->n_merges = (size_t)nm;
                st = build_pair_table(tk, err);
            }
            if (st) alim_tokenizer_free(tk);
        }
    }
    for (int i = 0; i < vocab_size && tokb; i++) free(tokb[i]);
    free(tokb);
    free(tokl);
    free(ma);
    free(mb);
    return st;
}
