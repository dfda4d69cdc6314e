/* fuzz_data_text.c — training data (alim train/eval --data): the same bytes read as text
 * (documents between delimiters), lines and JSON Lines {"prompt","response"} with the byte
 * tokenizer (alim_dataset_load). */
#include "fuzz.h"

#include "alim/dataset.h"
#include "alim/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static alim_tokenizer tk;
    static int have_tk;
    alim_error err;
    if (!have_tk) {
        if (alim_tokenizer_init_bytes(&tk, &err)) abort();
        have_tk = 1;
    }
    const char *path = fuzz_write("data.txt", data, size);
    const char *paths[1] = {path};
    static const alim_data_format formats[] = {ALIM_DATA_TEXT, ALIM_DATA_LINES, ALIM_DATA_JSONL};
    for (size_t f = 0; f < sizeof formats / sizeof *formats; f++) {
        alim_token_stream ds;
        memset(&ds, 0, sizeof ds);
        alim_error_clear(&err);
        alim_status st = alim_dataset_load(&ds, paths, 1, formats[f], NULL, &tk, &err);
        fuzz_check_error(st, &err);
        if (!st) alim_dataset_free(&ds);
    }
    return 0;
}
