/* resist_real.h — the pieces of E1 on a real pretrained model (chat data of `alim data
 * behaviours`, theta0 from a GGUF file or a Hugging Face directory) that resist.c uses;
 * private to src/elastic (docs/elastic.md "E1 on a real pretrained model"). */
#ifndef ALIM_RESIST_REAL_H
#define ALIM_RESIST_REAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/chat.h"
#include "alim/classifier.h"
#include "alim/gpt.h"
#include "alim/progress.h"
#include "alim/resist.h"
#include "alim/status.h"
#include "alim/tokenizer.h"
#include "rebound_real.h"

/* What every cell of the real path reads (read-only once loaded). */
typedef struct {
    char theta0_hash[17];   /* rbr_model_hash of cfg->theta0_model */
    double theta0_bytes;
    alim_gpt_config mc;     /* theta0's shape */
    size_t num_params;
    alim_tokenizer tk;      /* theta0's tokenizer: of every theta_k */
    alim_chat_template chat;
    alim_nb nb;             /* the data's classifier: the replies' classes, for the record */
    int cls_neutral, cls_pos, cls_neg;
    double nb_accuracy;
    char pos_pool[256];     /* the positive behaviour's pool file (manifest) */
    rbr_lines pos_rec, prompts;
} rsr_inputs;

/* Reads and checks everything the run needs before its run directory is touched: the
 * manifest's roles, theta0 (identity, shape, tokenizer, chat template), the classifier, the
 * positive pool (every seed's 3 sft_docs records within its pos_slice) and the prompts. */
alim_status rsr_load(const alim_resist_config *cfg, const cJSON *man, rsr_inputs *in, alim_error *err);
void rsr_free(rsr_inputs *in);

/* The configuration of a real run (NULL when out of memory). */
cJSON *rsr_make_config(const alim_resist_config *cfg, const char *data_hash, const rsr_inputs *in);

/* The SFT pass of seed s: writes its records (the first n_stops * cfg->sft_docs of the seed's
 * slice) to path and finds the pass's updates as the trainer will (the rendered records'
 * windows) and the update of every stop: the one where the pass has read the first
 * (k+1) sft_docs records, by the records' tokens; the last stop is the end of the pass. */
alim_status rsr_pass_plan(const alim_resist_config *cfg, const rsr_inputs *in, size_t seed, int n_stops, const char *path,
                          uint64_t *total, uint64_t *stops, alim_error *err);

/* Keeps the model of a running pass's checkpoint (from_dir) as the model directory to_dir:
 * the small files copied, model.safetensors hard-linked (copied where links fail). Safe
 * because a checkpoint save replaces each file by a rename, never in place
 * (alim_checkpoint_txn_begin): the link keeps this update's weights; 540 MB not written. */
alim_status rsr_keep_model(const char *from_dir, const char *to_dir, alim_error *err);

/* D_k: theta_k (model_dir) answers the first cfg->n_samples prompts (stream per (seed, k)),
 * the replies written to out_path as chat records; then H_k = the model's loss on them
 * (response tokens, context cfg->context). Result {docs, redrawn, tokens, mean_len, H_nats,
 * H_tokens, neutral, positive, negative, undecided, sampled_tokens_per_s, elapsed_s}. */
alim_status rsr_sample_d(const alim_resist_config *cfg, const rsr_inputs *in, alim_precision prec, const char *model_dir,
                         size_t seed, int k, const char *out_path, const alim_progress *progress, cJSON **result, alim_error *err);

#endif
