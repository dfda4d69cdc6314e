/* lab_fixture.h — the tiny synthetic data directory the experiments' C tests run on
 * (alim_datadir_synthetic with test sizes: 4 test documents of 16 symbols per class). */
#ifndef ALIM_TESTS_LAB_FIXTURE_H
#define ALIM_TESTS_LAB_FIXTURE_H

#include "alim/datadir.h"
#include "alim/resist.h"

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

/* E1 at its smallest (seconds): --quick with a 1x8x2 model of context 16, 2 seeds, 6 SFT
 * documents and 6 samples of 16 tokens; run_dir is the caller's. */
static inline void lab_fixture_tiny_resist(alim_resist_config *e, const char *data_dir)
{
    alim_resist_config_quick(e);
    e->data_dir = data_dir;
    e->n_seeds = 2;
    e->n_layer = 1, e->n_embd = 8, e->n_head = 2, e->context = 16;
    e->pretrain_tokens = 2048;
    e->pretrain_batch = 4;
    e->sft_docs = 6;
    e->n_samples = 6;
    e->sample_tokens = 16;
    e->prompt_bytes = 4;
}

#endif
