/* rebound_real.h — the pieces of E2 on a real pretrained model (chat data of `alim data
 * behaviours`, theta0 from a GGUF file or a Hugging Face directory) that rebound.c uses;
 * private to src/elastic (docs/elastic.md "E2 on a real pretrained model"). */
#ifndef ALIM_REBOUND_REAL_H
#define ALIM_REBOUND_REAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/chat.h"
#include "alim/classifier.h"
#include "alim/dataset.h"
#include "alim/gpt.h"
#include "alim/progress.h"
#include "alim/rebound.h"
#include "alim/status.h"
#include "alim/tokenizer.h"

/* The non-empty lines of a text file (JSONL records, prompts.txt). */
typedef struct {
    char **line;
    size_t n;
    char *buf; /* owned: the file, lines cut in place */
} rbr_lines;

alim_status rbr_lines_read(rbr_lines *l, const char *path, alim_error *err);
void rbr_lines_free(rbr_lines *l);
/* Writes lines [from, from + n) to path (one per line), atomically. */
alim_status rbr_lines_write(const rbr_lines *l, size_t from, size_t n, const char *path, alim_error *err);

/* The identity of a model file or directory: 64-bit FNV-1a over the bytes of a GGUF file, or
 * over name + NUL + bytes of the files of a directory that loading reads (config.json, the
 * model's *.safetensors and index, tokenizer and chat-template files), in name order; 16 hex
 * digits into hex, the bytes hashed into *bytes. */
alim_status rbr_model_hash(const char *path, char hex[17], double *bytes, alim_error *err);

/* Keeps the first n documents of a token stream (EOT doc EOT doc ...); fewer: unchanged. */
void rbr_stream_keep_docs(alim_token_stream *ds, size_t n);
/* Token offsets of the document ends: cum[d] = stream index of the EOT after document d
 * (d < n); returns the number found. */
size_t rbr_stream_doc_ends(const alim_token_stream *ds, size_t *cum, size_t n);

/* Replies of m to prompts[0..n) in the chat template, each one sampled from its own stream
 * (seed, stream << 20 | i): prompts of equal token length go through alim_lm_sample_batch
 * together (at most 64 rows), so a reply does not depend on the others (up to fp32 rounding,
 * alim/lm_eval.h). A reply ends at the template's end of turn (or the tokenizer's end of
 * text / EOS) or after max_new tokens; it is classified alone with nb. counts: [0] the
 * neutral class, [1] positive, [2] negative, [3] anything else (other classes, empty
 * replies). post_sum[k] sums the posterior of class k; class_counts (may be NULL; nb's
 * n_classes entries, added to) counts the replies of every class. examples (may be NULL) gets the first
 * n_examples replies as strings. */
typedef struct {
    const alim_tokenizer *tk;
    const alim_chat_template *chat;
    const alim_nb *nb;
    int cls_neutral, cls_pos, cls_neg;
    size_t max_new;
    double temperature;
} rbr_sampler;

alim_status rbr_sample_replies(const rbr_sampler *s, alim_gpt *m, char *const *prompts, size_t n, uint64_t seed,
                               uint64_t stream, const alim_progress *progress, size_t counts[4], double post_sum[3],
                               size_t *class_counts, double *mean_len, double *tok_s, cJSON *examples, size_t n_examples,
                               alim_error *err);

/* Writes the replies (rbr_sample_replies' examples: {"prompt", "reply"}) as chat records
 * {"prompt", "response"}, one JSON object a line, atomically. */
alim_status rbr_write_replies(const cJSON *replies, const char *path, alim_error *err);

/* The configuration record's grid, sft, samples and quick keys (rebound_inputs.c), shared by
 * the byte-level and the real path (real: record order, clip, the prompts). */
void rb_config_add_run(cJSON *o, const alim_rebound_config *c, int real);

/* The configuration of a run on a pretrained theta0 (cJSON object; NULL when out of memory). */
cJSON *rbr_make_config(const alim_rebound_config *c, const char *data_hash, const char *theta0_hash, double theta0_bytes,
                       const alim_gpt_config *mc, size_t num_params, const alim_tokenizer *tk, const alim_chat_template *chat);

#endif
