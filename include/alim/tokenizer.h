/* alim/tokenizer.h — byte-level BPE tokenizers: plain bytes, GPT-2's files, Hugging Face
 * tokenizer.json and GGUF vocabularies (the Llama 3, Qwen2, SmolLM2 and GPT-2 families).
 *
 * All are one thing: a byte-level BPE. Token strings are written with GPT-2's
 * bytes_to_unicode alphabet in the files and held here as the bytes they stand for; merges
 * "a b" are applied in rank order inside each pre-tokenised piece. The byte tokenizer is the
 * BPE with no merges whose vocab maps byte b to id b and "<|endoftext|>" to 256 (V = 257).
 *
 * Pre-tokenisation uses PCRE2 with Unicode properties (UTF + UCP, JIT when available), so
 * GPT-2's pattern
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * and the Llama 3 / Qwen2 patterns are exact on any Unicode text. Hugging Face only ever
 * sees valid UTF-8 (Rust strings); alim's data may hold any bytes, so a byte that is not
 * part of valid UTF-8 is a piece of its own (encoded by its byte token) and the valid runs
 * around it are pre-tokenised separately. Never an error, never a crash.
 *
 * GPT-2 format (vocab.json + merges.txt): the end-of-text token is never produced from
 * text; datasets insert it between documents. tokenizer.json and GGUF parts: added tokens
 * (<|im_start|>, <|begin_of_text|>, ...) found in the text are cut out before
 * normalisation and pre-tokenisation, leftmost-longest, and encoded as their ids, as HF does.
 * docs/tokenizers.md lists what is supported and what is refused.
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
    int eot;                 /* end of text/document id: "<|endoftext|>" of GPT-2 files; for
                                tokenizer.json/GGUF the added token "<|endoftext|>" or
                                "<|end_of_text|>" if any, else EOS; -1 if none          */
    int bos_id, eos_id;      /* -1 when absent (GPT-2 files: both are eot)             */
    int unk_id, pad_id;      /* -1 when absent                                         */
    int add_bos;             /* 1 if the model expects bos_id before each sequence.
                                alim_tokenizer_encode never adds it: the caller does.   */
    int byte_id[256];        /* id of each single byte, -1 if not in the vocab     */
    char **token;            /* (vocab_size) bytes of each token (owned, NUL-ended) */
    uint32_t *token_len;     /* (vocab_size) byte length of each token; 0 for eot  */
    int32_t *merge_a, *merge_b, *merge_out; /* (n_merges) merge r: a + b -> out    */
    size_t n_merges;
    void *pair_table;        /* private: (a,b) -> merge rank                       */
    size_t pair_cap;
    void *hf;                /* private: tokenizer.json/GGUF pipeline, NULL for GPT-2 files */
} alim_tokenizer;

/* A GGUF vocabulary (tokenizer.ggml.*), for alim_tokenizer_init_parts. */
typedef struct {
    const char *const *tokens; const size_t *token_lens; size_t n_tokens;  /* byte-level alphabet strings, id = index */
    const char *const *merges; const size_t *merge_lens; size_t n_merges;  /* "a b" */
    const int32_t *token_types;   /* n_tokens GGUF token types, or NULL = all normal; control (3) and
                                     user-defined (4) tokens are added tokens split out before pre-tokenisation */
    const char *pre;              /* GGUF tokenizer.ggml.pre name; NULL = "gpt2"; an unknown name is ALIM_EINVAL naming it */
    int32_t bos_id, eos_id, unk_id, pad_id;   /* -1 when absent */
    int add_bos;                  /* 1 if a BOS id is prepended to a sequence */
} alim_tokenizer_parts;

/* The byte tokenizer: ids 0..255 are bytes, 256 is end-of-text. */
alim_status alim_tokenizer_init_bytes(alim_tokenizer *tk, alim_error *err);

/* Loads dir/tokenizer.json when it exists (a byte-level BPE; EOS and BOS names are read from
 * dir/tokenizer_config.json, else dir/config.json's eos_token_id, else the added token
 * "<|endoftext|>", "<|end_of_text|>" or "</s>"), else dir/vocab.json and dir/merges.txt
 * (GPT-2 format). Errors name the file (and key, or line of merges.txt): a token string
 * that is not in the byte alphabet, a merge whose parts or result are not in the vocab,
 * duplicate or missing ids, a model/normalizer/pre-tokenizer/added-token option that is not
 * supported (named). */
alim_status alim_tokenizer_load(alim_tokenizer *tk, const char *dir, alim_error *err);

/* A tokenizer from a GGUF vocabulary. `pre` picks the pre-tokeniser as llama.cpp's names
 * do: "gpt2"/"gpt-2" (GPT-2's pattern), "llama3"/"llama-bpe"/... (Llama 3's pattern, merges
 * ignored for pieces in the vocab), "qwen2" (Qwen2's pattern and NFC, as its tokenizer.json),
 * "smollm"/"starcoder"/... (single digits, then GPT-2's pattern), "default" (llama.cpp's
 * default patterns). Normal tokens must be in the byte alphabet; control and user-defined
 * ones are taken as their text. Errors (ALIM_EINVAL/ALIM_EFORMAT) are reported at `where`
 * plus the token or merge index. */
alim_status alim_tokenizer_init_parts(alim_tokenizer *tk, const alim_tokenizer_parts *p,
                                      const char *where, alim_error *err);

/* Writes the tokenizer into dir (which must exist), atomically: tokenizers from
 * tokenizer.json or parts as dir/tokenizer.json (loadable by HF tokenizers, same ids), the
 * GPT-2 format ones as dir/vocab.json and dir/merges.txt. */
alim_status alim_tokenizer_save(const alim_tokenizer *tk, const char *dir, alim_error *err);

void alim_tokenizer_free(alim_tokenizer *tk);

/* Encodes text[0..len) and APPENDS the ids to *ids (a malloc'd array of *n entries and
 * capacity *cap, grown as needed; start with NULL, 0, 0). Error: a byte that has no token
 * in the vocabulary (where = `where`, e.g. the file name), out of memory. */
alim_status alim_tokenizer_encode(const alim_tokenizer *tk, const char *text, size_t len,
                                  int32_t **ids, size_t *n, size_t *cap, const char *where,
                                  alim_error *err);

/* Bytes of token `id` (NUL-ended) and their number. Added tokens decode to their text; the
 * GPT-2 format's eot decodes to "<|endoftext|>" with *len 0 bytes of text. NULL for an id
 * outside the vocabulary. */
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
