/* fuzz_gguf_model.c — the GGUF model loader (alim/checkpoint.h): alim_gguf_model_load with
 * its tokenizer on small fuzzed files (the hyper-parameter keys, the tensor names, shapes
 * and types the model needs, the Q/K un-permutation, the finiteness check, the
 * tokenizer.ggml.* keys), then alim_gguf_tokenizer_load alone. A loaded model's tokenizer
 * encodes and decodes a few bytes. Seeds: tiny Llama and Qwen2 files (fuzz/make_seeds.py). */
#include "fuzz.h"

#include "alim/checkpoint.h"
#include "alim/gpt.h"
#include "alim/tokenizer.h"

static void encode(const alim_tokenizer *tk, const char *text, size_t size)
{
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_tokenizer_encode(tk, text, size, &ids, &n, &cap, "fuzz", &err);
    fuzz_check_error(st, &err);
    for (size_t i = 0; !st && i < n; i++) {
        size_t len;
        if (!alim_tokenizer_decode(tk, ids[i], &len)) abort(); /* an encoded id decodes */
    }
    free(ids);
}

/* text within the seeds' vocabulary, and bytes outside it (invalid UTF-8 too) */
static void use_tokenizer(const alim_tokenizer *tk)
{
    static const char ok[] = "hello <|endoftext|> wor whale", bad[] = "hello wor\xffld \xe2\x82";
    encode(tk, ok, sizeof ok - 1);
    encode(tk, bad, sizeof bad - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("model.gguf", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_gpt m;
    alim_tokenizer tk;
    memset(&tk, 0, sizeof tk);
    alim_status st = alim_gguf_model_load(path, &m, &tk, &err);
    fuzz_check_error(st, &err);
    if (!st) {
        use_tokenizer(&tk);
        alim_tokenizer_free(&tk);
        alim_gpt_free(&m);
    }
    memset(&tk, 0, sizeof tk);
    alim_error_clear(&err);
    st = alim_gguf_tokenizer_load(path, &tk, &err);
    fuzz_check_error(st, &err);
    if (!st) {
        use_tokenizer(&tk);
        alim_tokenizer_free(&tk);
    }
    return 0;
}
