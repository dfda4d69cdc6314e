/* fuzz_tokenizer_parts.c — the GGUF tokenizer builder alim_tokenizer_init_parts with fuzzed
 * parts, as the GGUF loader passes them (tokenizer.ggml.*), without the GGUF container so
 * that the mutations land on the vocabulary itself. Input, as text:
 *   line 1   the pre-tokeniser name (tokenizer.ggml.pre); "-" = NULL
 *   line 2   "bos eos unk pad add_bos" as integers (missing ones are -1 / 0)
 *   then     one token per line (byte-level alphabet strings; control tokens any text)
 *   "%%MERGES%%" then one merge "a b" per line
 *   "%%TYPES%%" then one character per token: its GGUF type as c - '0' (1 normal,
 *            3 control, 4 user-defined, others as they come); no line = all normal
 * A built tokenizer encodes a few strings, incl. invalid UTF-8, and each id decodes. */
#include "fuzz.h"

#include "alim/tokenizer.h"

enum { MAX_LINES = 4096 };

static const char *const texts[] = {
    "Hello, world! 12345 <|endoftext|> <|im_start|>",
    "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80  \t\n\n x 2024",
    "\x80 bad \xc3 trunc \xe2\x82 \xc0\xaf over \xed\xa0\x80 sur \xff",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* lines; the buffer's NULs stay inside lines (the lengths are explicit) */
    static const char *line[MAX_LINES];
    static size_t len[MAX_LINES];
    size_t nl = 0;
    for (char *p = buf, *end = buf + size; p <= end && nl < MAX_LINES;) {
        char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        *e = '\0';
        line[nl] = p;
        len[nl++] = (size_t)(e - p);
        p = e + 1;
    }
    alim_tokenizer_parts parts;
    memset(&parts, 0, sizeof parts);
    parts.pre = nl > 0 && strcmp(line[0], "-") != 0 ? line[0] : NULL;
    long v[5] = {-1, -1, -1, -1, 0};
    if (nl > 1) {
        const char *s = line[1];
        for (int i = 0; i < 5; i++) {
            char *e;
            const long x = strtol(s, &e, 10);
            if (e == s) break;
            v[i] = x;
            s = e;
        }
    }
    /* int32 fields: values beyond them wrap like a GGUF int64 cast does in the loader */
    parts.bos_id = (int32_t)v[0], parts.eos_id = (int32_t)v[1];
    parts.unk_id = (int32_t)v[2], parts.pad_id = (int32_t)v[3];
    parts.add_bos = v[4] != 0;
    size_t i = 2, tok0 = 2;
    while (i < nl && strcmp(line[i], "%%MERGES%%") != 0 && strcmp(line[i], "%%TYPES%%") != 0) i++;
    parts.tokens = line + tok0, parts.token_lens = len + tok0, parts.n_tokens = i - tok0;
    if (i < nl && strcmp(line[i], "%%MERGES%%") == 0) {
        const size_t m0 = ++i;
        while (i < nl && strcmp(line[i], "%%TYPES%%") != 0) i++;
        parts.merges = line + m0, parts.merge_lens = len + m0, parts.n_merges = i - m0;
    }
    int32_t *types = NULL;
    if (i < nl && strcmp(line[i], "%%TYPES%%") == 0 && i + 1 < nl) {
        types = malloc((parts.n_tokens + 1) * sizeof *types);
        if (!types) { free(buf); return 0; }
        const char *t = line[i + 1];
        for (size_t k = 0; k < parts.n_tokens; k++)
            types[k] = k < len[i + 1] ? (int32_t)(unsigned char)t[k] - '0' : 1;
        parts.token_types = types;
    }
    alim_error err;
    alim_error_clear(&err);
    alim_tokenizer tk;
    memset(&tk, 0, sizeof tk);
    alim_status st = alim_tokenizer_init_parts(&tk, &parts, "fuzz.gguf", &err);
    fuzz_check_error(st, &err);
    if (!st) {
        fuzz_encode_texts(&tk, texts, sizeof texts / sizeof texts[0]);
        alim_tokenizer_free(&tk);
    }
    free(types);
    free(buf);
    return 0;
}
