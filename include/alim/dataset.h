/* alim/dataset.h — text and prompt/response data as one token stream, and batches of it.
 *
 * A dataset is read into one stream of token ids that starts with end-of-text and has one
 * after every document:   EOT doc1 EOT doc2 EOT ...
 * so that every document token (and each document's end) is predicted from a context
 * that starts at a document boundary. Next to each token a mask says whether predicting
 * it counts in the loss.
 *
 * Formats:
 *   ALIM_DATA_TEXT   the file is split into documents at a delimiter string (default
 *                    "<|endoftext|>"; a file without it is one document); all tokens count
 *   ALIM_DATA_LINES  one document per non-empty line (the newline is not part of it)
 *   ALIM_DATA_JSONL  one JSON object per line, {"prompt": "...", "response": "..."}; the
 *                    document is prompt followed by response, and only the response tokens
 *                    and the EOT after them count (supervised fine-tuning)
 *   ALIM_DATA_AUTO   JSONL if the file name ends in ".jsonl", else TEXT
 *
 * With a chat template (alim/chat.h, alim_dataset_load_chat) a JSONL record is instead the
 * conversation [user: prompt, assistant: response] rendered by the template and tokenized
 * as one text (added tokens such as <|im_start|> come out as their ids); its first k tokens
 * are masked, k the number of tokens of the prompt rendered alone with the generation prompt
 * (TRL's prompt-completion rule), so the response, the end-of-turn marker closing it and
 * whatever the template writes after that (ChatML's "\n") count; the EOT after the
 * conversation does not (the conversation already ends its turn).
 */
#ifndef ALIM_DATASET_H
#define ALIM_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "alim/chat.h"
#include "alim/rng.h"
#include "alim/status.h"
#include "alim/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { ALIM_DATA_AUTO, ALIM_DATA_TEXT, ALIM_DATA_LINES, ALIM_DATA_JSONL } alim_data_format;

/* Parses "auto", "text", "lines" or "jsonl"; -1 if none of them. */
int alim_data_format_parse(const char *s);

typedef struct {
    int32_t *tokens;   /* (n) owned                                              */
    uint8_t *mask;     /* (n) owned; mask[i] = 1 if predicting tokens[i] counts  */
    size_t n;          /* stream length, including the EOTs                       */
    size_t n_docs;
    size_t n_counted;  /* number of i >= 1 with mask[i] = 1                       */
} alim_token_stream;

/* Reads and tokenizes the files (in order) into one stream. delimiter is used by TEXT
 * (NULL = "<|endoftext|>"). The tokenizer must have an end-of-text token. Errors name
 * "file" or "file:line": unreadable file, a JSONL line that is not an object with string
 * "prompt" and "response", a byte with no token; and "data" when there is no document. */
alim_status alim_dataset_load(alim_token_stream *ds, const char *const *paths, size_t n_paths,
                              alim_data_format format, const char *delimiter,
                              const alim_tokenizer *tk, alim_error *err);
/* The same with a chat template for JSONL records (NULL, or kind NONE: as above). A
 * template of kind UNRECOGNISED fails at the first JSONL record with its error. */
alim_status alim_dataset_load_chat(alim_token_stream *ds, const char *const *paths, size_t n_paths,
                                   alim_data_format format, const char *delimiter,
                                   const alim_tokenizer *tk, const alim_chat_template *chat,
                                   alim_error *err);
void alim_dataset_free(alim_token_stream *ds);

/* Batches for training: the stream is cut into W = ceil((n-1)/T) windows of T+1 tokens that
 * overlap by one (window k starts at k*T; the last one starts at n-1-T, so that every
 * token is a target in some window, the tail ones possibly twice per epoch). Each epoch visits the windows in a fresh random
 * order (seeded by (seed, epoch)), or with in_order set in stream order (so the first k
 * updates see exactly the first k*B windows: nested prefixes of the data), B windows per
 * batch; the last batch of an epoch takes its missing windows from the next epoch. */
typedef struct {
    const alim_token_stream *ds;
    int B, T;
    uint64_t seed;
    int in_order;        /* 1: windows in stream order (set with alim_loader_set_order) */
    size_t n_windows;
    size_t *perm;        /* (n_windows) order of the current epoch, owned */
    uint64_t epoch;      /* current epoch, from 0                          */
    size_t pos;          /* next index into perm                           */
    int32_t *inputs;     /* (B,T) owned, filled by alim_loader_next        */
    int32_t *targets;    /* (B,T) owned; -1 where the prediction does not count */
} alim_loader;

/* Errors: the stream has fewer than T+1 tokens (where = "data"). */
alim_status alim_loader_init(alim_loader *ld, const alim_token_stream *ds, int B, int T,
                             uint64_t seed, alim_error *err);
/* Windows in stream order (in_order = 1) or shuffled per epoch (0, the default); restarts
 * the current epoch's order. */
void alim_loader_set_order(alim_loader *ld, int in_order);
/* Moves to (epoch, pos), e.g. when resuming. */
void alim_loader_seek(alim_loader *ld, uint64_t epoch, size_t pos);
/* Fills inputs and targets with the next batch. */
void alim_loader_next(alim_loader *ld);
void alim_loader_free(alim_loader *ld);

#ifdef __cplusplus
}
#endif
#endif
