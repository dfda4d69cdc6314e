/* test_lm_tokenizer.c — the GGUF parts builder (alim_tokenizer_init_parts): the same ids as
 * the GPT-2-format tokenizer it was made from (which tests/pypi/test_tokenizer_json.py checks
 * against HF tokenizers), control tokens cut out of the text, each tokenizer.ggml.pre family
 * (digits, Llama 3's 1-3 digit numbers and ignore_merges, Qwen2's NFC), invalid UTF-8, the
 * tokenizer.json round trip, and errors naming the token, merge or pre name. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/tokenizer.h"
#include "check.h"

/* GPT-2's bytes_to_unicode, written out again here as the test's own oracle */
static void alphabet(const char *bytes, size_t n, char *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int b = (unsigned char)bytes[i], cp;
        if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) cp = b;
        else {
            int m = 0; /* rank of b among the non-printable bytes */
            for (int c = 0; c < b; c++) m += !((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255));
            cp = 256 + m;
        }
        if (cp < 0x80) out[k++] = (char)cp;
        else out[k++] = (char)(0xC0 | (cp >> 6)), out[k++] = (char)(0x80 | (cp & 0x3F));
    }
    out[k] = '\0';
}

/* Parts made from a tokenizer (tokens in the alphabet, merges "a b"), plus extra tokens. */
typedef struct {
    char **tok, **mer;
    size_t *tl, *ml, nt, nm;
    int32_t *types;
    alim_tokenizer_parts p;
} parts;

static void parts_from(parts *q, const alim_tokenizer *tk, const char *const *extra, const int32_t *extra_types, size_t n_extra)
{
    memset(q, 0, sizeof *q);
    q->nt = (size_t)tk->vocab_size + n_extra;
    q->tok = calloc(q->nt, sizeof *q->tok);
    q->tl = calloc(q->nt, sizeof *q->tl);
    q->types = calloc(q->nt, sizeof *q->types);
    for (int i = 0; i < tk->vocab_size; i++) {
        q->tok[i] = malloc(tk->token_len[i] * 2 + 16);
        if (i == tk->eot) strcpy(q->tok[i], "<|endoftext|>"), q->types[i] = 3;
        else alphabet(tk->token[i], tk->token_len[i], q->tok[i]), q->types[i] = 1;
        q->tl[i] = strlen(q->tok[i]);
    }
    for (size_t e = 0; e < n_extra; e++) {
        size_t i = (size_t)tk->vocab_size + e;
        q->tok[i] = strdup(extra[e]);
        q->tl[i] = strlen(extra[e]);
        q->types[i] = extra_types[e];
    }
    q->nm = tk->n_merges;
    q->mer = calloc(q->nm + 1, sizeof *q->mer);
    q->ml = calloc(q->nm + 1, sizeof *q->ml);
    for (size_t r = 0; r < q->nm; r++) {
        char a[512], b[512];
        alphabet(tk->token[tk->merge_a[r]], tk->token_len[tk->merge_a[r]], a);
        alphabet(tk->token[tk->merge_b[r]], tk->token_len[tk->merge_b[r]], b);
        q->mer[r] = malloc(strlen(a) + strlen(b) + 2);
        sprintf(q->mer[r], "%s %s", a, b);
        q->ml[r] = strlen(q->mer[r]);
    }
    q->p = (alim_tokenizer_parts){(const char *const *)q->tok, q->tl, q->nt, (const char *const *)q->mer, q->ml, q->nm,
                                  q->types, "gpt2", -1, tk->eot, -1, -1, 0};
}

static void parts_free(parts *q)
{
    for (size_t i = 0; i < q->nt; i++) free(q->tok[i]);
    for (size_t r = 0; r < q->nm; r++) free(q->mer[r]);
    free(q->tok), free(q->tl), free(q->types), free(q->mer), free(q->ml);
}

/* ids of text, or n = (size_t)-1 on error */
static size_t encode(const alim_tokenizer *tk, const char *text, size_t len, int32_t *out, size_t max)
{
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    alim_error err;
    if (alim_tokenizer_encode(tk, text, len, &ids, &n, &cap, "t", &err)) {
        fprintf(stderr, "encode: %s: %s\n", err.where, err.what);
        free(ids);
        return (size_t)-1;
    }
    for (size_t i = 0; i < n && i < max; i++) out[i] = ids[i];
    free(ids);
    return n;
}

static int same_ids(const alim_tokenizer *a, const alim_tokenizer *b, const char *text)
{
    int32_t x[4096], y[4096];
    size_t nx = encode(a, text, strlen(text), x, 4096), ny = encode(b, text, strlen(text), y, 4096);
    return nx == ny && nx != (size_t)-1 && nx <= 4096 && !memcmp(x, y, nx * sizeof *x);
}

static int roundtrip(const alim_tokenizer *tk, const char *text, size_t len)
{
    int32_t ids[4096];
    size_t n = encode(tk, text, len, ids, 4096), k = 0;
    if (n == (size_t)-1 || n > 4096) return 0;
    char out[8192];
    for (size_t i = 0; i < n; i++) {
        size_t bl;
        const char *s = alim_tokenizer_decode(tk, ids[i], &bl);
        if (!s || k + bl > sizeof out) return 0;
        memcpy(out + k, s, bl), k += bl;
    }
    return k == len && !memcmp(out, text, len);
}

static const char *const TEXTS[] = {
    "hello world, it's the cat's mat; we'll see 12345 and 7.",
    "café déjà vu — Größe привет мир 你好世界 😀👍🏽 👨‍👩‍👧",
    "tabs\tand   spaces  \n\n  lines\r\nend ",
    "<|endoftext|>after<|im_start|>user\nhi<|im_end|>",
};

int main(int argc, char **argv)
{
    alim_error err;
    /* a small BPE learned by alim on mixed text */
    const char *corpus = "hello world hello there the cat sat on the mat 12345 12345 67 café café привет привет "
                         "мир мир 你好 你好 the world is the world it's it's we'll we'll 999 999 1000";
    size_t clen = strlen(corpus);
    alim_tokenizer gpt2;
    CHECK(alim_tokenizer_train(&gpt2, &corpus, &clen, 1, 320, NULL, &err) == ALIM_OK, "train: %s", err.what);

    /* parts from it, "gpt2": the same ids; the control token is cut out of the text */
    const char *extra[] = {"<|im_start|>", "<|im_end|>", "my word"};
    const int32_t types[] = {3, 3, 4};
    parts q;
    parts_from(&q, &gpt2, extra, types, 3);
    alim_tokenizer tk;
    CHECK(alim_tokenizer_init_parts(&tk, &q.p, "m.gguf", &err) == ALIM_OK, "init_parts: %s: %s", err.where, err.what);
    const int V = gpt2.vocab_size;
    CHECK(tk.vocab_size == V + 3 && tk.eot == gpt2.eot && tk.eos_id == gpt2.eot && tk.bos_id == -1 && !tk.add_bos,
          "ids: V %d eot %d bos %d", tk.vocab_size, tk.eot, tk.bos_id);
    for (int i = 0; i < 3; i++) CHECK(same_ids(&gpt2, &tk, TEXTS[i]), "parts vs GPT-2 format: %s", TEXTS[i]);
    int32_t ids[256];
    size_t n = encode(&tk, TEXTS[3], strlen(TEXTS[3]), ids, 256);
    CHECK(n != (size_t)-1 && n > 4 && ids[0] == gpt2.eot && ids[n - 1] == V + 1, "control tokens from text: n %zu", n);
    int found = 0;
    for (size_t i = 0; i < n; i++) found += ids[i] == V;
    CHECK(found == 1, "<|im_start|> once");
    n = encode(&tk, "say my word now", 15, ids, 256);
    found = 0;
    for (size_t i = 0; i < n && n != (size_t)-1; i++) found += ids[i] == V + 2;
    CHECK(found == 1, "user-defined token with a space is cut out whole");
    size_t bl;
    const char *s = alim_tokenizer_decode(&tk, V, &bl);
    CHECK(s && bl == 12 && !memcmp(s, "<|im_start|>", 12), "added tokens decode to their text");
    for (int i = 0; i < 4; i++) CHECK(roundtrip(&tk, TEXTS[i], strlen(TEXTS[i])), "round trip %d", i);
    const char bad[] = "ok \xff\xfe mid \xc3( \xe2\x82 \xf0\x9f\x98 \xed\xa0\x80 \xc0\xaf end";
    CHECK(roundtrip(&tk, bad, sizeof bad - 1), "invalid UTF-8 encodes and round-trips");
    CHECK(roundtrip(&gpt2, bad, sizeof bad - 1), "invalid UTF-8, GPT-2 format");

    /* tokenizer.json round trip: same ids, specials, eos by name */
    char dir[] = "/tmp/alim-test-tok-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    CHECK(alim_tokenizer_save(&tk, dir, &err) == ALIM_OK, "save: %s", err.what);
    alim_tokenizer back;
    CHECK(alim_tokenizer_load(&back, dir, &err) == ALIM_OK, "load: %s: %s", err.where, err.what);
    CHECK(back.vocab_size == tk.vocab_size && back.eot == tk.eot && back.n_merges == tk.n_merges, "reloaded sizes");
    for (int i = 0; i < 4; i++) CHECK(same_ids(&tk, &back, TEXTS[i]), "reloaded ids %d", i);
    alim_tokenizer_free(&back);

    /* BOS: recorded, never added by encode; kept by save/load through the template */
    alim_tokenizer_free(&tk);
    q.p.bos_id = V;
    q.p.add_bos = 1;
    q.p.pre = "llama-bpe";
    CHECK(alim_tokenizer_init_parts(&tk, &q.p, "m.gguf", &err) == ALIM_OK, "llama-bpe: %s", err.what);
    CHECK(tk.add_bos == 1 && tk.bos_id == V, "add_bos recorded");
    n = encode(&tk, "hi", 2, ids, 256);
    CHECK(n != (size_t)-1 && n >= 1 && ids[0] != V, "encode does not prepend BOS");
    CHECK(alim_tokenizer_save(&tk, dir, &err) == ALIM_OK, "save llama: %s", err.what);
    CHECK(alim_tokenizer_load(&back, dir, &err) == ALIM_OK && back.add_bos == 1 && back.bos_id == V, "BOS template reloads");
    for (int i = 0; i < 4; i++) CHECK(same_ids(&tk, &back, TEXTS[i]), "llama reloaded ids %d", i);
    alim_tokenizer_free(&back);
    alim_tokenizer_free(&tk);
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    unlink(path);
    rmdir(dir);

    /* the pre-tokeniser families on "12345" with merges 1+2, 12+3, 4+5, 123+45: GPT-2
     * keeps the run (1 id), Llama 3 and llama.cpp's default cut 3 digits (123|45), SmolLM2
     * and Qwen2 one digit each (5 ids) */
    alim_tokenizer bytes;
    CHECK(alim_tokenizer_init_bytes(&bytes, &err) == ALIM_OK, "bytes");
    parts qb;
    const char *digit_extra[] = {"12", "123", "45", "12345", "xyz"};
    const int32_t digit_types[] = {1, 1, 1, 1, 1};
    parts_from(&qb, &bytes, digit_extra, digit_types, 5);
    const char *dmerges[] = {"1 2", "12 3", "4 5", "123 45"};
    const size_t dmlens[] = {3, 4, 3, 6};
    qb.p.merges = dmerges, qb.p.merge_lens = dmlens, qb.p.n_merges = 4;
    struct {
        const char *pre;
        size_t n_ids, n_xyz;
    } fam[] = {{"gpt2", 1, 3}, {"gpt-2", 1, 3}, {"llama-bpe", 2, 1}, {"llama3", 2, 1}, {"dbrx", 2, 3},
               {"smollm", 5, 3}, {"qwen2", 5, 3}, {"default", 2, 3}, {NULL, 1, 3}};
    for (size_t f = 0; f < sizeof fam / sizeof *fam; f++) {
        const char *name = fam[f].pre ? fam[f].pre : "NULL";
        qb.p.pre = fam[f].pre;
        CHECK(alim_tokenizer_init_parts(&tk, &qb.p, "d.gguf", &err) == ALIM_OK, "%s: %s", name, err.what);
        n = encode(&tk, "12345", 5, ids, 256);
        CHECK(n == fam[f].n_ids, "%s: \"12345\" gives %zu ids, want %zu", name, n, fam[f].n_ids);
        if (n == 2) CHECK(ids[0] == 258 && ids[1] == 259, "%s: 123|45", name);
        if (n == 1) CHECK(ids[0] == 260, "%s: 12345 whole", name);
        /* a vocab word no merge reaches: whole only with ignore_merges (Llama 3) */
        n = encode(&tk, "xyz", 3, ids, 256);
        CHECK(n == fam[f].n_xyz, "%s: \"xyz\" gives %zu ids, want %zu", name, n, fam[f].n_xyz);
        alim_tokenizer_free(&tk);
    }
    /* Qwen2's NFC: e + U+0301 becomes é (C3 A9, the byte ids); GPT-2 keeps the 3 bytes */
    qb.p.pre = "qwen2";
    CHECK(alim_tokenizer_init_parts(&tk, &qb.p, "d.gguf", &err) == ALIM_OK, "qwen2");
    n = encode(&tk, "e\xcc\x81", 3, ids, 256);
    CHECK(n == 2 && ids[0] == 0xC3 && ids[1] == 0xA9, "qwen2: NFC composes e + U+0301 (%zu ids)", n);
    alim_tokenizer_free(&tk);
    qb.p.pre = "gpt2";
    CHECK(alim_tokenizer_init_parts(&tk, &qb.p, "d.gguf", &err) == ALIM_OK, "gpt2");
    CHECK(encode(&tk, "e\xcc\x81", 3, ids, 256) == 3, "gpt2: no normaliser");
    alim_tokenizer_free(&tk);

    /* errors name the place */
    qb.p.pre = "klingon";
    CHECK(alim_tokenizer_init_parts(&tk, &qb.p, "d.gguf", &err) == ALIM_EINVAL && strstr(err.what, "klingon") && !strcmp(err.where, "d.gguf"),
          "unknown pre: %s: %s", err.where, err.what);
    qb.p.pre = "gpt2";
    qb.p.bos_id = (int32_t)qb.nt;
    CHECK(alim_tokenizer_init_parts(&tk, &qb.p, "d.gguf", &err) == ALIM_EINVAL && strstr(err.what, "bos_id"), "bos out of range: %s", err.what);
    qb.p.bos_id = -1;
    char *keep = qb.tok[65];
    qb.tok[65] = "a b"; /* a raw space is not in the alphabet */
    qb.tl[65] = 3;
    CHECK(alim_tokenizer_init_parts(&tk, &qb.p, "d.gguf", &err) == ALIM_EFORMAT && strstr(err.where, "tokens[65]"), "bad token: %s: %s", err.where, err.what);
    qb.tok[65] = keep;
    qb.tl[65] = 1;
    const char *bad_merges[][2] = {{"1 2", "x y"}, {"1 2", "zz q"}, {"1 2", "1 2 3"}};
    const char *bad_what[] = {"merged", "not in the vocabulary", "one space"};
    for (int c = 0; c < 3; c++) {
        const size_t ml[2] = {strlen(bad_merges[c][0]), strlen(bad_merges[c][1])};
        alim_tokenizer_parts pm = qb.p;
        pm.merges = bad_merges[c], pm.merge_lens = ml, pm.n_merges = 2;
        CHECK(alim_tokenizer_init_parts(&tk, &pm, "d.gguf", &err) == ALIM_EFORMAT && !strcmp(err.where, "d.gguf: tokenizer.ggml.merges[1]") &&
                  strstr(err.what, bad_what[c]),
              "bad merge %d: %s: %s", c, err.where, err.what);
    }
    CHECK(tk.vocab_size == 0 && tk.token == NULL, "a failed init leaves an empty tokenizer");
    alim_tokenizer_free(&tk); /* harmless after a failure */
    parts_free(&qb);
    alim_tokenizer_free(&bytes);
    parts_free(&q);
    alim_tokenizer_free(&gpt2);
    (void)argc;
    return check_summary(argv[0]);
}
