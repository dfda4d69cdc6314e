/* tokenizer.c — byte-level BPE: the GPT-2 file format, encode/decode and training
 * (see alim/tokenizer.h; tokenizer.json and GGUF parts are in tokenizer_json.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "alim/io.h"
#include "tokenizer_impl.h"

static const char EOT_STRING[] = "<|endoftext|>";

/* ---- merge table --------------------------------------------------------------------- */

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

alim_status tok_build_pair_table(alim_tokenizer *tk, alim_error *err)
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
    if (tk->hf) {
        tok_hf_free(tk->hf);
        free(tk->hf);
    }
    memset(tk, 0, sizeof *tk);
    tk->eot = tk->bos_id = tk->eos_id = tk->unk_id = tk->pad_id = -1;
}

alim_status tok_alloc_vocab(alim_tokenizer *tk, int V, alim_error *err)
{
    memset(tk, 0, sizeof *tk);
    tk->vocab_size = V;
    tk->eot = tk->bos_id = tk->eos_id = tk->unk_id = tk->pad_id = -1;
    for (int b = 0; b < 256; b++) tk->byte_id[b] = -1;
    tk->token = calloc((size_t)V, sizeof *tk->token);
    tk->token_len = calloc((size_t)V, sizeof *tk->token_len);
    if (!tk->token || !tk->token_len) {
        alim_tokenizer_free(tk);
        return alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
    }
    return ALIM_OK;
}

/* GPT-2's files name one id for beginning and end of text. */
static void set_gpt2_ids(alim_tokenizer *tk, int eot)
{
    tk->eot = tk->bos_id = tk->eos_id = eot;
    tk->add_bos = 0;
}

alim_status alim_tokenizer_init_bytes(alim_tokenizer *tk, alim_error *err)
{
    alim_status st = tok_alloc_vocab(tk, 257, err);
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
    set_gpt2_ids(tk, 256);
    return ALIM_OK;
}

/* ---- the GPT-2 format (vocab.json + merges.txt) --------------------------------------- */

static alim_status load_gpt2(alim_tokenizer *tk, const char *dir, alim_error *err)
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
    st = tok_alloc_vocab(tk, V, err);
    if (st) return cJSON_Delete(vocab), st;
    for (cJSON *it = vocab->child; it && !st; it = it->next) {
        int id = it->valueint;
        if (snprintf(where, sizeof where, "%s: \"%.40s\"", path, it->string) < 0) where[0] = 0;
        if (tk->token[id]) {
            st = alim_error_set(err, ALIM_EFORMAT, where, "id %d is used twice", id);
            break;
        }
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
            set_gpt2_ids(tk, id);
            continue;
        }
        long k = tok_alphabet_decode(it->string, n, bytes);
        if (k < 0) {
            bytes[0] = '\0';
            st = alim_error_set(err, ALIM_EFORMAT, where, "token is not written in GPT-2's byte alphabet");
            break;
        }
        bytes[k] = '\0';
        tk->token_len[id] = (uint32_t)k;
        if (k == 0) st = alim_error_set(err, ALIM_EFORMAT, where, "empty token");
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
    tok_strmap tab = {0};
    size_t nlines = 1;
    for (size_t i = 0; i < len; i++) nlines += buf[i] == '\n';
    tk->merge_a = malloc(nlines * sizeof(int32_t));
    tk->merge_b = malloc(nlines * sizeof(int32_t));
    tk->merge_out = malloc(nlines * sizeof(int32_t));
    int oom = !tk->merge_a || !tk->merge_b || !tk->merge_out;
    for (int i = 0; i < V && !oom; i++)
        if (i != tk->eot) oom = tok_strmap_insert(&tab, tk->token[i], tk->token_len[i], i);
    if (oom) {
        tok_strmap_free(&tab), free(buf), alim_tokenizer_free(tk);
        return alim_error_set(err, ALIM_ENOMEM, mpath, "out of memory");
    }
    char *p = buf, *end = buf + len, tmp[2048];
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
        /* decode both halves from the byte alphabet, side by side in tmp */
        size_t l0 = (size_t)(sp - line), l1 = (size_t)(line + ll - sp - 1);
        if (l0 + l1 > sizeof tmp) {
            st = alim_error_set(err, ALIM_EFORMAT, where, "merge longer than %zu bytes", sizeof tmp);
            break;
        }
        long k0 = tok_alphabet_decode(line, l0, tmp), k1 = k0 < 0 ? -1 : tok_alphabet_decode(sp + 1, l1, tmp + k0);
        if (k0 < 0 || k1 < 0) {
            st = alim_error_set(err, ALIM_EFORMAT, where, "merge is not written in GPT-2's byte alphabet");
            break;
        }
        int32_t a = tok_strmap_get(&tab, tmp, (size_t)k0), b = tok_strmap_get(&tab, tmp + k0, (size_t)k1);
        int32_t out = tok_strmap_get(&tab, tmp, (size_t)(k0 + k1));
        if (a < 0 || b < 0) st = alim_error_set(err, ALIM_EFORMAT, where, "merge part %d is not in vocab.json", a < 0 ? 1 : 2);
        else if (out < 0) st = alim_error_set(err, ALIM_EFORMAT, where, "the merged token is not in vocab.json");
        else {
            tk->merge_a[tk->n_merges] = a;
            tk->merge_b[tk->n_merges] = b;
            tk->merge_out[tk->n_merges] = out;
            tk->n_merges++;
        }
    }
    tok_strmap_free(&tab);
    free(buf);
    if (!st) st = tok_build_pair_table(tk, err);
    if (st) alim_tokenizer_free(tk);
    return st;
}

alim_status alim_tokenizer_load(alim_tokenizer *tk, const char *dir, alim_error *err)
{
    char path[4096];
    struct stat sb;
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    if (stat(path, &sb) == 0) return tok_json_load(tk, dir, path, err);
    return load_gpt2(tk, dir, err);
}

static alim_status save_gpt2(const alim_tokenizer *tk, const char *dir, alim_error *err)
{
    char path[4096];
    cJSON *vocab = cJSON_CreateObject();
    size_t maxlen = 16;
    for (int i = 0; i < tk->vocab_size; i++)
        if (tk->token_len[i] > maxlen) maxlen = tk->token_len[i];
    char *s = malloc(maxlen * 2 + 32);
    if (!vocab || !s) {
        cJSON_Delete(vocab), free(s);
        return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    }
    for (int i = 0; i < tk->vocab_size; i++) {
        if (i == tk->eot) strcpy(s, EOT_STRING);
        else tok_alphabet_encode(tk->token[i], tk->token_len[i], s);
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
        tok_alphabet_encode(tk->token[tk->merge_a[r]], tk->token_len[tk->merge_a[r]], s);
        fprintf(f.fp, "%s ", s);
        tok_alphabet_encode(tk->token[tk->merge_b[r]], tk->token_len[tk->merge_b[r]], s);
        fprintf(f.fp, "%s\n", s);
    }
    free(s);
    return alim_atomic_commit(&f, err);
}

alim_status alim_tokenizer_save(const alim_tokenizer *tk, const char *dir, alim_error *err)
{
    return tk->hf ? tok_json_save(tk, dir, err) : save_gpt2(tk, dir, err);
}

/* ---- encoding ---------------------------------------------------------------------------- */

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

/* Min-heap of (rank << 32 | position): the lowest rank first, the leftmost among equal
 * ranks, which is the order of HF's and GPT-2's BPE. */
static void heap_push(uint64_t *h, size_t *n, uint64_t v)
{
    size_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}
static uint64_t heap_pop(uint64_t *h, size_t *n)
{
    uint64_t top = h[0], v = h[--*n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = v;
    return top;
}

alim_status tok_bpe(const alim_tokenizer *tk, int32_t *w, size_t *k, tok_scratch *sc)
{
    size_t n = *k;
    if (n < 2 || !tk->n_merges) return ALIM_OK;
    /* nxt/prv links and a heap of candidate merges (each merge adds at most two) */
    size_t need = n * 2 * sizeof(int32_t) + n * 3 * sizeof(uint64_t);
    if (need > sc->sym_cap * sizeof(int32_t)) {
        int32_t *p = realloc(sc->sym, need);
        if (!p) return ALIM_ENOMEM;
        sc->sym = p;
        sc->sym_cap = need / sizeof(int32_t);
    }
    uint64_t *heap = (uint64_t *)(void *)sc->sym;
    int32_t *nxt = (int32_t *)(heap + n * 3), *prv = nxt + n;
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        nxt[i] = i + 1 < n ? (int32_t)(i + 1) : -1;
        prv[i] = (int32_t)i - 1;
        int r = i + 1 < n ? pair_lookup(tk, w[i], w[i + 1]) : -1;
        if (r >= 0) heap_push(heap, &nh, (uint64_t)r << 32 | i);
    }
    while (nh) {
        uint64_t top = heap_pop(heap, &nh);
        int32_t r = (int32_t)(top >> 32), i = (int32_t)(top & 0xffffffffu);
        /* stale if the symbol was absorbed or its pair changed since the push */
        if (w[i] < 0 || nxt[i] < 0 || pair_lookup(tk, w[i], w[nxt[i]]) != r) continue;
        int32_t j = nxt[i];
        w[i] = tk->merge_out[r];
        w[j] = -1;
        nxt[i] = nxt[j];
        if (nxt[j] >= 0) prv[nxt[j]] = i;
        int r2;
        if (prv[i] >= 0 && (r2 = pair_lookup(tk, w[prv[i]], w[i])) >= 0) heap_push(heap, &nh, (uint64_t)r2 << 32 | (uint32_t)prv[i]);
        if (nxt[i] >= 0 && (r2 = pair_lookup(tk, w[i], w[nxt[i]])) >= 0) heap_push(heap, &nh, (uint64_t)r2 << 32 | (uint32_t)i);
    }
    size_t o = 0;
    for (int32_t i = 0; i >= 0; i = nxt[i]) w[o++] = w[i];
    *k = o;
    return ALIM_OK;
}

/* Encodes one piece s[0..n) (bytes of the text) and appends its ids. */
static alim_status encode_piece(const alim_tokenizer *tk, const char *s, size_t n, size_t base,
                                int32_t **ids, size_t *nids, size_t *cap, tok_scratch *sc,
                                const char *where, alim_error *err)
{
    const tok_hf *hf = tk->hf;
    alim_status st = grow(ids, cap, *nids + n + 1, where, err);
    if (st) return st;
    if (hf && hf->ignore_merges) {
        int32_t id = tok_strmap_get(&hf->vocab, s, n);
        if (id >= 0) {
            (*ids)[(*nids)++] = id;
            return ALIM_OK;
        }
    }
    int32_t *w = *ids + *nids;
    for (size_t j = 0; j < n; j++) {
        int32_t id = tk->byte_id[(unsigned char)s[j]];
        if (id < 0) {
            if (hf && hf->unk >= 0) id = hf->unk;
            else return alim_error_set(err, ALIM_EINVAL, where, "byte 0x%02x at offset %zu has no token in the vocabulary (unknown token)", (unsigned char)s[j], base + j);
        }
        w[j] = id;
    }
    size_t k = n;
    if (tok_bpe(tk, w, &k, sc)) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    *nids += k;
    return ALIM_OK;
}

/* Encodes a stretch of text without added tokens: valid UTF-8 runs are normalised and
 * pre-tokenised; a byte that is not part of valid UTF-8 is a piece of its own (HF only
 * ever sees valid text, so this is alim's rule for the bytes HF could not be given). */
static alim_status encode_plain(const alim_tokenizer *tk, const char *s, size_t len, size_t base,
                                int32_t **ids, size_t *n, size_t *cap, tok_scratch *sc,
                                const char *where, alim_error *err)
{
    const tok_hf *hf = tk->hf;
    const unsigned char *u = (const unsigned char *)s;
    alim_status st = ALIM_OK;
    for (size_t i = 0; i < len && !st;) {
        size_t j = i, cl;
        while (j < len && (cl = tok_utf8_char_len(u + j, len - j))) j += cl;
        if (j == i) { /* an invalid byte */
            st = encode_piece(tk, s + i, 1, base + i, ids, n, cap, sc, where, err);
            i++;
            continue;
        }
        const char *run = s + i;
        size_t rl = j - i;
        char *norm = NULL;
        if (hf && hf->nfc) {
            st = tok_nfc(run, rl, &norm, &rl, where, err);
            if (st) break;
            run = norm;
        }
        const pcre2_code *re = hf ? NULL : tok_gpt2_regex();
        if (!hf && !re) st = alim_error_set(err, ALIM_EINTERNAL, where, "GPT-2's pre-tokeniser regex did not compile");
        if (!st) st = tok_pretokenize(hf ? hf->steps : NULL, hf ? hf->n_steps : 0, re, run, rl, sc, where, err);
        /* offsets in messages refer to the text as given (NFC rarely changes lengths) */
        for (size_t p = 0; p < sc->na && !st; p++)
            st = encode_piece(tk, run + sc->a[p].off, sc->a[p].len, base + i + sc->a[p].off, ids, n, cap, sc, where, err);
        free(norm);
        i = j;
    }
    return st;
}

/* The added token that starts at s[0..n) (the longest), or NULL. */
static const tok_added *added_at(const tok_hf *hf, const char *s, size_t n)
{
    if (!hf->first[(unsigned char)s[0]]) return NULL;
    for (size_t a = 0; a < hf->n_added; a++)
        if (hf->added[a].len <= n && !memcmp(hf->added[a].content, s, hf->added[a].len)) return &hf->added[a];
    return NULL;
}

alim_status alim_tokenizer_encode(const alim_tokenizer *tk, const char *text, size_t len,
                                  int32_t **ids, size_t *n, size_t *cap, const char *where,
                                  alim_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    alim_status st = grow(ids, cap, *n + len + 1, where, err);
    if (st) return st;
    if (!tk->hf) {
        for (size_t i = 0; i < len; i++)
            if (tk->byte_id[s[i]] < 0)
                return alim_error_set(err, ALIM_EINVAL, where, "byte 0x%02x at offset %zu has no token in the vocabulary (unknown token)", s[i], i);
        if (!tk->n_merges) { /* the byte tokenizer: pieces would not change anything */
            for (size_t i = 0; i < len; i++) (*ids)[(*n)++] = tk->byte_id[s[i]];
            return ALIM_OK;
        }
    }
    const tok_hf *hf = tk->hf;
    tok_scratch sc = {0};
    if (!hf || !hf->n_added) st = encode_plain(tk, text, len, 0, ids, n, cap, &sc, where, err);
    else {
        /* added tokens are cut out of the raw text first, leftmost-longest, as HF does */
        size_t start = 0;
        for (size_t i = 0; i < len && !st;) {
            const tok_added *a = added_at(hf, text + i, len - i);
            if (!a) {
                i++;
                continue;
            }
            if (i > start) st = encode_plain(tk, text + start, i - start, start, ids, n, cap, &sc, where, err);
            if (!st) st = grow(ids, cap, *n + 1, where, err);
            if (!st) (*ids)[(*n)++] = a->id;
            i += a->len;
            start = i;
        }
        if (!st && start < len) st = encode_plain(tk, text + start, len - start, start, ids, n, cap, &sc, where, err);
    }
    tok_scratch_free(&sc);
    return st;
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

/* Adds one pre-tokenised piece to the table of unique pieces. */
static alim_status count_piece(const char *s, size_t pl, tok_strmap *tab, train_piece **pieces,
                               size_t *nuniq, size_t *pcap, alim_error *err)
{
    int32_t id = tok_strmap_get(tab, s, pl);
    if (id >= 0) {
        (*pieces)[id].count++;
        return ALIM_OK;
    }
    if (*nuniq == *pcap) {
        *pcap = *pcap ? *pcap * 2 : 1024;
        train_piece *np = realloc(*pieces, *pcap * sizeof *np);
        if (!np) return alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
        *pieces = np;
    }
    train_piece *p = &(*pieces)[*nuniq];
    p->w = malloc((pl ? pl : 1) * sizeof(int32_t));
    if (!p->w || tok_strmap_insert(tab, s, pl, (int32_t)*nuniq)) {
        free(p->w);
        return alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
    }
    for (size_t j = 0; j < pl; j++) p->w[j] = (unsigned char)s[j];
    p->n = pl;
    p->count = 1;
    (*nuniq)++;
    return ALIM_OK;
}

alim_status alim_tokenizer_train(alim_tokenizer *tk, const char *const *texts,
                                 const size_t *lens, size_t n_texts, int vocab_size,
                                 const alim_progress *progress, alim_error *err)
{
    memset(tk, 0, sizeof *tk);
    if (vocab_size < 257 || vocab_size > (1 << 20))
        return alim_error_set(err, ALIM_EINVAL, "vocab_size", "must be in [257, 2^20], got %d", vocab_size);
    /* unique pieces with their counts (the map's keys point into the texts) */
    size_t nuniq = 0, pcap = 0;
    tok_strmap tab = {0};
    train_piece *pieces = NULL;
    tok_scratch sc = {0};
    alim_status st = ALIM_OK;
    const pcre2_code *re = tok_gpt2_regex();
    if (!re) st = alim_error_set(err, ALIM_EINTERNAL, "tokenizer", "GPT-2's pre-tokeniser regex did not compile");
    for (size_t t = 0; t < n_texts && !st; t++) {
        const unsigned char *s = (const unsigned char *)texts[t];
        for (size_t i = 0; i < lens[t] && !st;) {
            size_t j = i, cl;
            while (j < lens[t] && (cl = tok_utf8_char_len(s + j, lens[t] - j))) j += cl;
            if (j == i) { /* an invalid UTF-8 byte is a piece of its own, as in encode */
                st = count_piece(texts[t] + i, 1, &tab, &pieces, &nuniq, &pcap, err);
                i++;
                continue;
            }
            st = tok_pretokenize(NULL, 0, re, texts[t] + i, j - i, &sc, "tokenizer", err);
            for (size_t p = 0; p < sc.na && !st; p++)
                st = count_piece(texts[t] + i + sc.a[p].off, sc.a[p].len, &tab, &pieces, &nuniq, &pcap, err);
            i = j;
        }
    }
    tok_scratch_free(&sc);
    tok_strmap_free(&tab);
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
        st = tok_alloc_vocab(tk, V, err);
        if (!st) {
            for (int i = 0; i < 256 + nm; i++) {
                tk->token[i] = tokb[i];
                tk->token_len[i] = tokl[i];
                tokb[i] = NULL;
            }
            for (int b = 0; b < 256; b++) tk->byte_id[b] = b;
            tk->token[V - 1] = strdup(EOT_STRING);
            set_gpt2_ids(tk, V - 1);
            tk->merge_a = ma, tk->merge_b = mb, ma = mb = NULL;
            tk->merge_out = malloc(((size_t)nm + 1) * sizeof(int32_t));
            if (!tk->token[V - 1] || !tk->merge_out) st = alim_error_set(err, ALIM_ENOMEM, "tokenizer", "out of memory");
            else {
                for (int r = 0; r < nm; r++) tk->merge_out[r] = 256 + r;
                tk->n_merges = (size_t)nm;
                st = tok_build_pair_table(tk, err);
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
