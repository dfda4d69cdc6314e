/* alim/classifier.h — character n-gram naive Bayes (the behaviour classifier of spec §4.3).
 *
 * A window of text is the bag of its overlapping byte n-grams (n = 5 by default). Each
 * class c has a multinomial law over n-grams with add-alpha smoothing over the n-grams
 * seen in training plus one slot for all unseen ones:
 *   p(g | c) = (count_c(g) + alpha) / (total_c + alpha (|G| + 1)).
 * Class priors are uniform (the test sets are balanced), so the posterior is
 *   p(c | x) = softmax_c sum_g log p(g | c).
 * Files: a small binary format (magic "ALIMNB1\n", little-endian), written atomically.
 */
#ifndef ALIM_CLASSIFIER_H
#define ALIM_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "alim/corpus.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ALIM_NB_MAX_CLASSES = 8, ALIM_NB_NAME_MAX = 32 };

typedef struct {
    size_t n_classes, order;
    double alpha;
    char names[ALIM_NB_MAX_CLASSES][ALIM_NB_NAME_MAX];
    uint64_t total[ALIM_NB_MAX_CLASSES]; /* n-grams seen per class */
    uint64_t *keys;                      /* (cap) key + 1, 0 = empty */
    uint32_t *counts;                    /* (cap * n_classes) */
    size_t cap, n_grams;
} alim_nb;

/* EINVAL: n_classes outside 1..8, order outside 1..7, alpha <= 0. */
alim_status alim_nb_init(alim_nb *nb, size_t n_classes, size_t order, double alpha, alim_error *err);
void alim_nb_free(alim_nb *nb);
alim_status alim_nb_add_text(alim_nb *nb, size_t cls, const void *text, size_t len, alim_error *err);
/* Every document of the corpus as training text of class cls. */
alim_status alim_nb_add_corpus(alim_nb *nb, size_t cls, const alim_corpus *c, alim_error *err);
/* posterior[0..n_classes); returns the most probable class. A text shorter than the order
 * gets the uniform posterior. */
size_t alim_nb_classify(const alim_nb *nb, const void *text, size_t len, double *posterior);
/* Accuracy over test[c] (documents of class c); per_class may be NULL. */
double alim_nb_accuracy(const alim_nb *nb, const alim_corpus *const *test, double *per_class);

alim_status alim_nb_save(const alim_nb *nb, const char *path, alim_error *err);
alim_status alim_nb_load(alim_nb *nb, const char *path, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
