/* fuzz_corpus.c — corpus files of the elasticity data directories (alim_corpus_read). */
#include "fuzz.h"

#include "alim/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("pool.jsonl", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_corpus c;
    memset(&c, 0, sizeof c);
    alim_status st = alim_corpus_read(&c, path, &err);
    fuzz_check_error(st, &err);
    if (!st) alim_corpus_free(&c);
    return 0;
}
