/* tokenizer_impl.h — private to src/lm/tokenizer.c, pretok.c and tokenizer_json.c: the parts
 * of alim_tokenizer's pipeline that the GPT-2 format, tokenizer.json and the GGUF parts
 * builder share (byte alphabet, string maps, PCRE2 pre-tokenisation, added tokens, BPE). */
#ifndef ALIM_LM_TOKENIZER_IMPL_H
#define ALIM_LM_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stddef.h>
#include <stdint.h>

#include "alim/tokenizer.h"

/* ---- GPT-2's bytes_to_unicode alphabet ---------------------------------------------- */

/* Decodes an alphabet string s[0..n) into its bytes (out needs n bytes); returns the byte
 * count, or -1 if s is not written in the alphabet. */
long tok_alphabet_decode(const char *s, size_t n, char *out);
/* Writes the alphabet form of bytes[0..n) into out (room for 2n+1), NUL-ended; returns its length. */
size_t tok_alphabet_encode(const char *bytes, size_t n, char *out);

/* ---- bytes -> id map ---------------------------------------------------------------- */

typedef struct {
    struct tok_str_slot *slot;
    size_t cap, n;
} tok_strmap;

/* Keys are not copied: they must outlive the map. Inserting an existing key keeps the first id. */
int tok_strmap_insert(tok_strmap *m, const char *s, size_t len, int32_t id); /* 0 ok, -1 out of memory */
int32_t tok_strmap_get(const tok_strmap *m, const char *s, size_t len);     /* -1 if absent */
void tok_strmap_free(tok_strmap *m);

/* ---- UTF-8 and NFC -------------------------------------------------------------------- */

/* Length of the valid UTF-8 character at s[0..n) by Rust's (= the Unicode standard's) rules:
 * no overlong forms, no surrogates, nothing above U+10FFFF; 0 if the bytes there are not one. */
size_t tok_utf8_char_len(const unsigned char *s, size_t n);

/* NFC of the valid UTF-8 text s[0..n) into a malloc'd *out. */
alim_status tok_nfc(const char *s, size_t n, char **out, size_t *out_len, const char *where, alim_error *err);

/* ---- pre-tokenisation ------------------------------------------------------------------ */

enum { TOK_STEP_SPLIT, TOK_STEP_DIGITS, TOK_STEP_BYTELEVEL };

/* One pre-tokeniser of a (flattened) HF Sequence. Split and Digits, and ByteLevel with
 * use_regex, cut each piece with a regex and keep both the matches and the text between
 * them as pieces (HF's "Isolated" behaviour). */
typedef struct {
    int kind;
    char *pattern;   /* SPLIT: the pattern's text (owned) */
    int literal;     /* SPLIT: a {"String": ...} pattern, matched literally */
    int flag;        /* DIGITS: individual_digits; BYTELEVEL: use_regex */
    pcre2_code *re;  /* compiled regex, NULL for BYTELEVEL without use_regex (owned, except GPT-2's) */
} tok_step;

extern const char TOK_GPT2_PATTERN[], TOK_LLAMA3_PATTERN[], TOK_QWEN2_PATTERN[];

/* Compiles the step's regex (UTF + UCP, JIT when available). */
alim_status tok_step_compile(tok_step *s, const char *where, alim_error *err);
void tok_step_free(tok_step *s);
/* GPT-2's pattern compiled once per process (shared, never freed); NULL if PCRE2 failed. */
const pcre2_code *tok_gpt2_regex(void);

typedef struct {
    size_t off, len;
} tok_span;

/* Scratch of one encode call. */
typedef struct {
    tok_span *a, *b;
    size_t na, nb, cap;
    pcre2_match_data *md;
    int32_t *sym;   /* BPE scratch */
    size_t sym_cap;
} tok_scratch;

void tok_scratch_free(tok_scratch *sc);

/* Cuts the valid UTF-8 text s[0..n) with the regexes in `steps` (those without a regex are
 * skipped); the pieces, in order, are sc->a[0..sc->na) with offsets into s. With res != NULL
 * it is the only step (GPT-2's pattern). */
alim_status tok_pretokenize(const tok_step *steps, size_t n_steps, const pcre2_code *re,
                            const char *s, size_t n, tok_scratch *sc, const char *where,
                            alim_error *err);

/* ---- the tokenizer.json / GGUF pipeline (alim_tokenizer.hf) ------------------------------ */

typedef struct {
    int32_t id;
    char *content; /* owned; the token's bytes in the text */
    size_t len;
    int special;
} tok_added;

typedef struct {
    int nfc;               /* normalizer NFC (else none) */
    tok_step *steps;
    size_t n_steps;
    tok_added *added;      /* sorted by length, longest first */
    size_t n_added;
    unsigned char first[256]; /* 1 if some added token starts with this byte */
    int ignore_merges;     /* a piece that is itself in the vocab is one token (Llama 3) */
    int32_t unk;           /* the model's unk_token for bytes without a token, -1 = error */
    tok_strmap vocab;      /* bytes -> id of the model vocabulary (keys point into tk->token) */
    char *post_json;       /* the post_processor as read, written back verbatim; NULL = generate */
} tok_hf;

void tok_hf_free(tok_hf *h);

/* ---- shared by the loaders ---------------------------------------------------------------- */

/* Empty tokenizer with V ids (tokens NULL, ids -1). */
alim_status tok_alloc_vocab(alim_tokenizer *tk, int V, alim_error *err);
/* Merge (a, b) -> out rank table; call after filling merge_a/b/out. */
alim_status tok_build_pair_table(alim_tokenizer *tk, alim_error *err);

/* tokenizer_json.c */
alim_status tok_json_load(alim_tokenizer *tk, const char *dir, const char *path, alim_error *err);
alim_status tok_json_save(const alim_tokenizer *tk, const char *dir, alim_error *err);

/* BPE merges of w[0..*k) in place (lowest rank first, leftmost among equals, as HF). */
alim_status tok_bpe(const alim_tokenizer *tk, int32_t *w, size_t *k, tok_scratch *sc);

#endif
