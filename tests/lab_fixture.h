/* lab_fixture.h — the tiny synthetic data directory the experiments' C tests run on
 * (alim_datadir_synthetic with test sizes: 4 test documents of 16 symbols per class). */
#ifndef ALIM_TESTS_LAB_FIXTURE_H
#define ALIM_TESTS_LAB_FIXTURE_H

#include "alim/datadir.h"

/* Writes it to dir: pretrain_size bytes of pretraining text, pool_docs documents per class. */
static inline alim_status lab_fixture_synthetic(const char *dir, size_t pretrain_size, size_t pool_docs, alim_error *err)
{
    alim_datadir_options o;
    alim_datadir_options_default(&o);
    o.have_pretrain = 1;
    o.pretrain_size = pretrain_size;
    o.pool_docs = pool_docs;
    o.test_docs = 4;
    o.doc_len = 16;
    cJSON *man = NULL;
    const alim_status st = alim_datadir_synthetic(&o, dir, &man, err);
    cJSON_Delete(man);
    return st;
}

#endif
