/* test_elastic_classifier.c — the character n-gram naive Bayes on synthetic text. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/classifier.h"
#include "alim/corpus.h"
#include "alim/source.h"
#include "check.h"

int main(int argc, char **argv)
{
    (void)argc;
    /* the three components of S, written as text, must be told apart */
    alim_source_config cfg;
    alim_source_config_default(&cfg);
    alim_source s;
    alim_source_build(&s, &cfg, NULL);
    alim_split_config sc;
    alim_split_config_default(&sc);
    sc.pretrain_docs = 10;
    sc.pool_docs = 300;  /* training text */
    sc.test_docs = 200;
    alim_splits sp;
    CHECK(alim_source_make_splits(&s, &sc, &sp, NULL) == ALIM_OK, "splits");
    alim_nb nb;
    CHECK(alim_nb_init(&nb, 3, 5, 0.1, NULL) == ALIM_OK, "init");
    for (size_t c = 0; c < 3; c++) CHECK(alim_nb_add_corpus(&nb, c, &sp.pool[c], NULL) == ALIM_OK, "train");
    const alim_corpus *test[3] = {&sp.test[0], &sp.test[1], &sp.test[2]};
    double per[3];
    double acc = alim_nb_accuracy(&nb, test, per);
    CHECK(acc >= 0.95, "accuracy on synthetic text %.4f >= 0.95", acc);
    for (int c = 0; c < 3; c++) CHECK(per[c] >= 0.9, "class %d accuracy %.3f", c, per[c]);
    /* posteriors are distributions */
    double post[3];
    size_t len;
    const uint8_t *p = alim_corpus_doc(&sp.test[1], 0, &len);
    size_t best = alim_nb_classify(&nb, p, len, post);
    CHECK_ABS(post[0] + post[1] + post[2], 1.0, 1e-12, "posterior sums to 1");
    CHECK(best < 3, "class index");
    /* short text: uniform posterior */
    alim_nb_classify(&nb, "abc", 3, post);
    CHECK_ABS(post[0], 1.0 / 3, 1e-12, "too short -> uniform");
    /* a classifier that cannot work: a class with no training text is never preferred by data */
    /* save / load round trip */
    char path[256];
    snprintf(path, sizeof path, "/tmp/alim_test_nb_%ld.nb", (long)getpid());
    snprintf(nb.names[1], ALIM_NB_NAME_MAX, "positive");
    CHECK(alim_nb_save(&nb, path, NULL) == ALIM_OK, "save");
    alim_nb nb2;
    CHECK(alim_nb_load(&nb2, path, NULL) == ALIM_OK, "load");
    CHECK(!strcmp(nb2.names[1], "positive") && nb2.n_grams == nb.n_grams && nb2.order == 5, "header round trip");
    double post2[3];
    int same = 1;
    for (size_t d = 0; d < sp.test[2].n_docs; d++) {
        p = alim_corpus_doc(&sp.test[2], d, &len);
        alim_nb_classify(&nb, p, len, post);
        alim_nb_classify(&nb2, p, len, post2);
        for (int c = 0; c < 3; c++) same &= post[c] == post2[c];
    }
    CHECK(same, "loaded classifier gives identical posteriors");
    alim_nb_free(&nb2);
    /* corrupt files */
    FILE *f = fopen(path, "r+b");
    fputc('X', f);
    fclose(f);
    alim_error err;
    CHECK(alim_nb_load(&nb2, path, &err) == ALIM_EFORMAT, "bad magic -> EFORMAT");
    f = fopen(path, "wb");
    fwrite("ALIMNB1\n\3\0\0\0", 1, 12, f);
    fclose(f);
    CHECK(alim_nb_load(&nb2, path, &err) == ALIM_EFORMAT, "truncated -> EFORMAT");
    remove(path);
    CHECK(alim_nb_init(&nb2, 3, 9, 1, &err) == ALIM_EINVAL, "order 9 refused");
    alim_nb_free(&nb);
    alim_splits_free(&sp);
    alim_source_free(&s);
    return check_summary(argv[0]);
}
