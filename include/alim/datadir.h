/* alim/datadir.h — data directories of the elasticity lab (docs/elastic.md "The data
 * directory"): the synthetic Markov-mixture source S, the natural source N from Debian
 * packages, and your own text files.
 *
 * Each builder writes every split (pretrain.txt, pool_c<i>.txt, test_c<i>.txt, test_mix.txt,
 * ...), the source's extras (synthetic: chains.json; natural/text: classifier.nb) and
 * manifest.json into OUT.tmp.<pid>/ and renames it to OUT when complete, so a directory with
 * a manifest.json is always complete and a failed build leaves nothing behind. OUT must not
 * exist or be an empty directory.
 *
 * On success *manifest (if not NULL) receives the manifest that was written (caller frees
 * with cJSON_Delete); everything a caller might print is in it. Errors are EINVAL for bad
 * options (where = the field, e.g. "shares"), a missing Debian package (where = "natural"),
 * an existing non-empty OUT or too small a corpus; EIO for files that cannot be read or
 * written. Nothing is printed.
 */
#ifndef ALIM_DATADIR_H
#define ALIM_DATADIR_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint64_t seed;             /* 1 */
    const double *shares;      /* pretraining shares of the components, n_shares of them;
                                  NULL = 0.9, 0.05, 0.05 (synthetic, natural), equal (text) */
    size_t n_shares;
    int have_pretrain;         /* 0: the default size of D_p (synthetic and natural 2,000,000
                                  tokens/bytes; text: as many windows as fit) */
    uint64_t pretrain_size;    /* with have_pretrain: tokens (synthetic) or bytes (natural, text) */
    size_t pool_docs;          /* documents per component pool (4096; natural/text: at most) */
    size_t test_docs;          /* per component and for the mixture (256) */
    int have_classifier_docs;  /* 0: natural 2000, text 0 (no classifier) */
    size_t classifier_docs;
    size_t window;             /* natural/text window in bytes (128) */
    size_t doc_len;            /* synthetic document length (128) */
    size_t symbols;            /* synthetic alphabet size (64) */
    size_t classifier_order;   /* n-gram order of the behaviour classifier (5) */
    double classifier_alpha;   /* its additive smoothing (0.1) */
    const char *fortunes_dir;  /* natural: /usr/share/games/fortunes */
    const char *bible;         /* natural: the data file of bible-kjv-text, /usr/lib/bible.data */
    const char *jargon;        /* natural: /usr/share/doc/jargon-text/jargon.txt.gz (gzip or plain) */
} alim_datadir_options;

/* The defaults above (what `alim data` uses without options). */
void alim_datadir_options_default(alim_datadir_options *o);

/* The synthetic source S (alim/source.h) with o->symbols symbols and documents of o->doc_len;
 * the manifest carries the exact entropy rates and per-document entropies. */
alim_status alim_datadir_synthetic(const alim_datadir_options *o, const char *out_dir, cJSON **manifest,
                                   alim_error *err);

/* The natural source N: C1 fortunes (package fortunes), C2 the KJV Bible (bible-kjv-text's data
 * file o->bible, decoded here: the text `bible -f 'Gen1:1-Rev22:21'` prints, verse references
 * removed), C3 the Jargon File (jargon-text, read through zlib); windows of o->window bytes,
 * de-duplicated; trains the naive-Bayes behaviour classifier on held-out windows. Runs no
 * program. A missing package is EINVAL naming it (nothing is installed); a damaged file
 * EFORMAT naming the file. */
alim_status alim_datadir_natural(const alim_datadir_options *o, const char *out_dir, cJSON **manifest,
                                 alim_error *err);

/* The same from your own files: files[i] is component i + 1 (1..ALIM_CORPUS_MAX_COMPONENTS).
 * A file whose name ends in ".jsonl" holds {"prompt", "response"} records (one per line,
 * either field may be absent but not both): its text is each record's prompt + response +
 * "\n" in file order (a malformed line: EFORMAT, where = "FILE:LINE"). */
alim_status alim_datadir_text(const alim_datadir_options *o, const char *const *files, size_t n_files,
                              const char *out_dir, cJSON **manifest, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
