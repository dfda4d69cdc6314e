/* fuzz_classifier.c — naive-Bayes classifier files (classifier.nb of alim data/compress):
 * alim_nb_load; a loaded classifier then scores a few documents. */
#include "fuzz.h"

#include "alim/classifier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("classifier.nb", data, size);
    alim_error err;
    alim_error_clear(&err);
    alim_nb nb;
    alim_status st = alim_nb_load(&nb, path, &err);
    fuzz_check_error(st, &err);
    if (st) return 0;
    static const char *const docs[] = {"the cat sat on the mat", "", "zzzzzzzzzzzzzzzz", "\x01\xff"};
    double posterior[ALIM_NB_MAX_CLASSES];
    for (size_t d = 0; d < sizeof docs / sizeof *docs; d++)
        if (alim_nb_classify(&nb, docs[d], strlen(docs[d]), posterior) >= nb.n_classes) abort();
    alim_nb_free(&nb);
    return 0;
}
