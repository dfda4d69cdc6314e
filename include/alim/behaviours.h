/* alim/behaviours.h — the behaviour data of the real-model elasticity study (issue 12,
 * docs/real-elasticity.md): prompt/response chat data in four behaviours, built from Debian
 * packages, with held-out test sets, held-out prompts and a behaviour classifier.
 *
 * Behaviours (components, numbered as in the data directories of alim/datadir.h):
 *   c1 neutral   fortunes (package fortunes): modern English, the classifier's "none of the two"
 *   c2 positive  the KJV Bible (bible-kjv-text's data file): the style the model is aligned toward
 *   c3 negative  the Jargon File (jargon-text): the style of the perturbation data
 *   c4 control   the Jargon File under a seeded letter substitution (a derangement of a..z,
 *                case kept): a negative behaviour no pretraining corpus holds (E2's control)
 * c3 and c4 come from alternating blocks of the Jargon File's windows, so no passage is in both.
 *
 * Every text is normalised (typographic punctuation -> ASCII, other non-ASCII -> space,
 * whitespace runs -> one space), cut into windows of o->window
 * bytes (alim_corpus_add_windows), each trimmed to whole words (the partial first and last
 * words dropped) and kept only if it is printable ASCII of at least window/2 bytes;
 * duplicates are removed across behaviours (alim_corpus_dedup); the windows of each behaviour
 * are assigned to disjoint splits by alim_splits_from_windows (shuffled blocks of 8): test,
 * classifier training, then the rest, whose first classifier_eval_docs windows are the
 * classifier's accuracy split and the next pool_docs the pool, in a seeded random order
 * (nested prefixes: the first n records of a pool are the n records a run of size n uses).
 *
 * A record is {"prompt": P, "response": R}: R a window, P a request drawn from fixed
 * templates x topics ("Tell me about the sea." ...). The topics are partitioned (seeded) into
 * training topics (pool records) and held-out topics (test records and prompts.txt), so no
 * test or generation prompt occurs in any pool. `alim train --init MODEL --data
 * pool_c2.jsonl` renders records in the model's chat template with the loss on the response.
 *
 * Files written into OUT (atomically: OUT.tmp.<pid>/ renamed when complete):
 *   pool_c<i>.jsonl           chat records for fine-tuning (training prompts)
 *   test_c<i>.jsonl           held-out chat records (held-out prompts)
 *   test_c<i>.txt             the same responses as documents + <|endoftext|>
 *   classifier_c<i>.txt       the classifier's training text
 *   classifier_eval_c<i>.txt  its accuracy split
 *   prompts.txt               held-out prompts, one per line (for sampling, E1's D_k, E2's score)
 *   classifier.nb             character n-gram naive Bayes over c1..c4 (alim/classifier.h)
 *   manifest.json             "format": "alim-behaviour-data/1", sizes, origins, the cipher
 *                             key, prompts, the classifier's accuracy (whole windows and 64-byte
 *                             prefixes) and confusion matrix
 * Deterministic given the options (the seed drives splits, prompts, topics and the key).
 */
#ifndef ALIM_BEHAVIOURS_H
#define ALIM_BEHAVIOURS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { ALIM_BEHAVIOURS = 4 };

typedef struct {
    uint64_t seed;               /* 1 */
    size_t window;               /* bytes per response window before trimming (256; 64..4096) */
    size_t pool_docs;            /* records per behaviour pool, at most what is left (2048) */
    size_t test_docs;            /* held-out records per behaviour, and prompts.txt lines (128) */
    size_t classifier_docs;      /* classifier training windows per behaviour (1000) */
    size_t classifier_eval_docs; /* classifier accuracy windows per behaviour (300) */
    size_t min_pool_docs;        /* fewer pool records than this is an error (200) */
    size_t classifier_order;     /* 5 */
    double classifier_alpha;     /* 0.1 */
    const char *fortunes_dir;    /* /usr/share/games/fortunes */
    const char *bible;           /* /usr/lib/bible.data */
    const char *jargon;          /* /usr/share/doc/jargon-text/jargon.txt.gz */
    /* An optional fifth classifier class (not a behaviour: no pool, no test set), e.g. θ0's
     * own replies ("theta0", docs/real-elasticity.md §2.3): the "response" of every JSONL
     * record of extra_file, folded and squeezed like the windows, kept when printable and at
     * least 16 bytes, in a seeded order; the first classifier_eval_docs are its accuracy split
     * (classifier_eval_c5.txt), the next classifier_docs at most its training text
     * (classifier_c5.txt). Both NULL (default) or both set. */
    const char *extra_name, *extra_file;
} alim_behaviour_options;

void alim_behaviour_options_default(alim_behaviour_options *o);

/* Builds the directory. EINVAL for bad options (where = the option), a missing package
 * (where = "behaviours", naming it), an existing non-empty OUT or too little text; EFORMAT
 * for a damaged input file; EIO for files that cannot be read or written. On success
 * *manifest (if not NULL) is the manifest written (caller frees). Nothing is printed. */
alim_status alim_behaviours_build(const alim_behaviour_options *o, const char *out_dir, cJSON **manifest,
                                  alim_error *err);

/* The pieces, public for tests and for building prompts elsewhere. */

/* UTF-8 typographic punctuation as ASCII (curly quotes, dashes, ellipsis, bullet, no-break
 * space, acute accent, middle dot), any other non-ASCII character as one space, in place.
 * Returns the new length (never longer). */
size_t alim_behaviour_ascii(char *text, size_t len);
/* Whitespace runs (space, tab, newline, CR, FF, VT) of text[0..len) become one space, in
 * place; leading and trailing blanks go. Returns the new length. */
size_t alim_behaviour_squeeze(char *text, size_t len);
/* A window cut to whole words: the bytes up to and including its first space and from its
 * last space on are dropped (a window is cut at arbitrary bytes, so its first and last words
 * may be partial). Returns the offset of the kept part in *start and its length (0: none). */
size_t alim_behaviour_trim(const char *in, size_t len, size_t *start);
/* 1 if every byte is printable ASCII (0x20..0x7e). */
int alim_behaviour_printable(const char *s, size_t len);
/* The substitution of c4: key[0..26) is the image of 'a'..'z' (a derangement drawn from seed). */
void alim_behaviour_cipher_key(uint64_t seed, char key[26]);
/* Applies the key to s in place (letters only, case kept). */
void alim_behaviour_encipher(const char key[26], char *s, size_t len);
/* Number of prompt templates and topics, and the prompt of (template t, topic j) into buf. */
size_t alim_behaviour_n_templates(void);
size_t alim_behaviour_n_topics(void);
/* Returns the length, or -1 (t or j out of range, or cap too small). */
int alim_behaviour_prompt(size_t t, size_t j, char *buf, size_t cap);
/* Topic j's text ("the sea"), NULL out of range. */
const char *alim_behaviour_topic(size_t j);

#ifdef __cplusplus
}
#endif
#endif
