/* alim/treecode.h — the compression protocol of Def 3.3 / Thm 3.4 on counts (model-free).
 *
 * Each document is cut into chunks of `depth` tokens (bytes), the last one shorter (an EOS
 * leaf at a shallower depth of the token tree T_D). The leaves' weights are the chunks'
 * relative counts; the leaves are Huffman-coded. Reported per token:
 *   shannon   H(leaves) * chunks / tokens                         (the Shannon bound)
 *   huffman   sum count(leaf) * len(leaf) / tokens                 (H <= L < H + 1 per chunk)
 *   ceil_chunks  sum_docs ceil(|x|/d) * H / tokens                 (first ceiling of Thm 3.4)
 *   thm34     sum_docs ceil(|x|/d) * ceil(H) / tokens              (both ceilings, Thm 3.4)
 *   arith     size of a real arithmetic code of the chunk sequence under the same counts,
 *             decoded again to check the round trip; within 2 bits of H * chunks in total.
 * The code table itself is not charged (the counts come from the data being coded).
 */
#ifndef ALIM_TREECODE_H
#define ALIM_TREECODE_H

#include <stddef.h>

#include "alim/corpus.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ALIM_TREECODE_MAX_DEPTH = 16 };

typedef struct {
    size_t depth, n_docs, n_tokens, n_chunks, n_leaves, vocab;
    double entropy_bits_per_chunk;   /* H of the leaf law                          */
    double huffman_bits_per_chunk;   /* mean Huffman code length                   */
    double order0_bits_per_token;    /* empirical unigram entropy, for comparison  */
    double shannon_bits_per_token, huffman_bits_per_token, ceil_chunks_bits_per_token, thm34_bits_per_token;
    double ideal_total_bits;         /* H * chunks = sum -log2 count/chunks         */
    double arith_total_bits;         /* exact length of the arithmetic code         */
    size_t arith_bytes;
    double arith_bits_per_token;
    int arith_roundtrip_ok;          /* decoded chunks equal the input               */
} alim_treecode_result;

/* EINVAL (where = "depth") for depth outside 1..16, (where = "data") for no tokens. */
alim_status alim_treecode_run(const alim_corpus *docs, size_t depth, alim_treecode_result *out, alim_error *err);

/* Huffman code lengths of weights w[0..n) (w >= 0; zero weights get a length too). n = 1
 * gives length 1 (one symbol still needs one bit per occurrence in a prefix code). */
alim_status alim_huffman_lengths(const double *w, size_t n, unsigned *len, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
