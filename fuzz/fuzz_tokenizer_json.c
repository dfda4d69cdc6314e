/* fuzz_tokenizer_json.c — Hugging Face tokenizer.json (alim_tokenizer_load on a directory
 * holding it). The input is the tokenizer.json, optionally followed by a line
 * "%%CONFIG%%" and a tokenizer_config.json (where EOS and BOS names are read). A loaded
 * tokenizer encodes a few strings (added tokens, digits, Unicode, invalid UTF-8: a lone
 * continuation byte, a truncated sequence, an overlong form, a surrogate) and every id it
 * produced decodes. */
#include "fuzz.h"

#include "alim/tokenizer.h"

static const char *const texts[] = {
    "Hello, world! 12345 <|endoftext|>",
    "<|im_start|>user\nhi<|im_end|>\n",
    "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80  \t\n\n x",
    "\x80 bad \xc3 trunc \xe2\x82 \xc0\xaf over \xed\xa0\x80 sur \xf4\x90\x80\x80 \xff",
    "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t jl, cl;
    const uint8_t *config;
    fuzz_split(data, size, "\n%%CONFIG%%\n", &jl, &config, &cl);
    fuzz_write("tokj/tokenizer.json", data, jl);
    const char *cfg_path = fuzz_path("tokj/tokenizer_config.json");
    if (config != data + size) fuzz_write("tokj/tokenizer_config.json", config, cl);
    else unlink(cfg_path);
    alim_error err;
    alim_error_clear(&err);
    alim_tokenizer tk;
    memset(&tk, 0, sizeof tk);
    alim_status st = alim_tokenizer_load(&tk, fuzz_path("tokj"), &err);
    fuzz_check_error(st, &err);
    if (st) return 0;
    fuzz_encode_texts(&tk, texts, sizeof texts / sizeof texts[0]);
    size_t len;
    (void)alim_tokenizer_decode(&tk, -1, &len);
    (void)alim_tokenizer_decode(&tk, tk.vocab_size, &len);
    alim_tokenizer_free(&tk);
    return 0;
}
