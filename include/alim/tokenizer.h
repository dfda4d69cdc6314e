/* alim/tokenizer.h — byte-level tokenizers: plain bytes and GPT-2 byte-level BPE.
 *
 * Both are one thing: a byte-level BPE in the GPT-2 file format (vocab.json mapping
 * token strings, written with GPT-2's bytes_to_unicode alphabet, to ids; merges.txt with
 * one "a b" merge per line in priority order). The byte tokenizer is the BPE with no merges
 * whose vocab maps byte b to id b and "<|endoftext|>" to 256 (V = 257).
 *
 * Encoding splits the text with GPT-2's pre-tokenisation pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (with every byte >= 0x80 counted as a letter, an approximation outside ASCII), then
 * applies the merges in rank order inside each piece. The end-of-text token is never
 * produced from text; datasets insert it between documents.
 */
#ifndef ALIM_TOKENIZER_H
#define ALIM_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "alim/progress.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int vocab_size;          /* number of ids, 0 .. vocab_size-1                  */
    int eot;                 /* id of "<|endoftext|>", or -1 if the vocab has none */
    int byte_id[256];        /* id of each single byte, -1 if not in the vocab     */
    char **token;            /* (vocab_size) bytes of each token (owned, NUL-ended) */
    uint32_t *token_len;     /* (vocab_size) byte length of each token; 0 for eot  */
    int32_t *merge_a, *merge_b, *merge_out; /* (n_merges) merge r: a + b -> out    */
    size_t n_merges;
    void *pair_table;        /* private: (a,b) -> merge rank                       */
    size_t pair_cap;
} alim_tokenizer;

/* The byte tokenizer: ids 0..255 are bytes, 256 is end-of-text. */
alim_status alim_tokenizer_init_bytes(alim_tokenizer *tk, alim_error *err);

/* Loads dir/vocab.json and dir/merges.txt (GPT-2 format). Errors name the file (and line
 * of merges.txt): a token string that is not in the byte alphabet, a merge whose parts or
 * result are not in the vocab, duplicate ids. */
alim_status alim_tokenizer_load(alim_tokenizer *tk, const char *dir, alim_error *err);

/* Writes dir/vocab.json and dir/merges.txt atomically (dir must exist). */
alim_status alim_tokenizer_save(const alim_tokenizer *tk, const char *dir, alim_error *err);

void alim_tokenizer_free(alim_tokenizer *tk);

/* Encodes text[0..len) and APPENDS the ids to *ids (a malloc'd array of *n entries and
 * capacity *cap, grown as needed; start with NULL, 0, 0). Error: a byte that has no token
 * in the vocabulary (where = `where`, e.g. the file name), out of memory. */
alim_status alim_tokenizer_encode(const alim_tokenizer *tk, const char *text, size_t len,
                                  int32_t **ids, size_t *n, size_t *cap, const char *where,
                                  alim_error *err);

/* Bytes of token `id` and their number (eot decodes to "<|endoftext|>" with *len 0 bytes
 * of text). NULL for an id outside the vocabulary. */
const char *alim_tokenizer_decode(const alim_tokenizer *tk, int32_t id, size_t *len);

/* Learns a byte-level BPE with vocab_size ids (>= 257: 256 bytes, the merges, then
 * "<|endoftext|>" last) from the texts. At each step the most frequent adjacent pair
 * inside pre-tokenised pieces is merged (ties: the pair (a, b) with the smallest ids).
 * Stops early if no pair occurs twice. Reports progress as merges done / wanted. */
alim_status alim_tokenizer_train(alim_tokenizer *tk, const char *const *texts,
                                 const size_t *lens, size_t n_texts, int vocab_size,
                                 const alim_progress *progress, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
