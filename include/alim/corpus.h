/* alim/corpus.h — collections of documents, the data-directory file format, windows of
 * natural text and the disjoint splits of the elasticity lab (docs/elastic.md).
 *
 * File format of a split (`*.txt`): the documents' bytes, each followed by the delimiter
 * "<|endoftext|>" (ALIM_CORPUS_DELIM), nothing else — exactly what the LM engine's
 * `--format text` reads (alim/dataset.h). A document never contains the delimiter, a NUL
 * byte, or only blanks (the LM loader would skip it).
 */
#ifndef ALIM_CORPUS_H
#define ALIM_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ALIM_CORPUS_DELIM "<|endoftext|>"
enum { ALIM_CORPUS_MAX_COMPONENTS = 8 };

typedef struct {
    size_t n_docs;
    size_t *off;    /* (n_docs + 1) document d is bytes[off[d] .. off[d+1]) */
    uint8_t *bytes;
    size_t cap_docs, cap_bytes;
} alim_corpus;

static inline const uint8_t *alim_corpus_doc(const alim_corpus *c, size_t d, size_t *len)
{
    *len = c->off[d + 1] - c->off[d];
    return c->bytes + c->off[d];
}
alim_status alim_corpus_add(alim_corpus *c, const void *doc, size_t len, alim_error *err);
void alim_corpus_free(alim_corpus *c);
/* 1 if the document can be stored in the file format (not blank, no NUL, no delimiter). */
int alim_corpus_doc_ok(const void *doc, size_t len);
/* Total bytes of all documents. */
static inline size_t alim_corpus_bytes(const alim_corpus *c) { return c->n_docs ? c->off[c->n_docs] : 0; }

/* Writes the documents (each followed by the delimiter) atomically. */
alim_status alim_corpus_write(const alim_corpus *c, const char *path, alim_error *err);
/* Reads a file of the format; text after the last delimiter (if not blank) is one more
 * document, blank documents are skipped. A file without the delimiter is one document. */
alim_status alim_corpus_read(alim_corpus *c, const char *path, alim_error *err);

/* Cuts text into consecutive non-overlapping windows of `window` bytes (the tail shorter
 * than a window is dropped) and appends those that alim_corpus_doc_ok accepts. */
alim_status alim_corpus_add_windows(alim_corpus *c, const char *text, size_t len, size_t window,
                                    alim_error *err);

/* Removes documents whose bytes equal an earlier document's, across cs[0..k) in order
 * (so that splits drawn from them cannot share a document); *removed[i] counts the ones
 * dropped from cs[i] (removed may be NULL). */
alim_status alim_corpus_dedup(alim_corpus *cs, size_t k, size_t *removed, alim_error *err);

/* Fortune files: drops the "%" separator lines; cookies are joined by one newline.
 * Result malloc'd in *out (NUL-terminated). *n_cookies counts the cookies. */
alim_status alim_text_fortunes(const char *in, size_t len, char **out, size_t *out_len,
                               size_t *n_cookies, alim_error *err);
/* Output of `bible -f`: removes verse references ("Ge1:1 ", "1Co13:4 ", "Jude1:3 ") at the
 * start of each line and blank lines. */
alim_status alim_text_strip_verse_refs(const char *in, size_t len, char **out, size_t *out_len,
                                       alim_error *err);

/* ---- splits of a data directory ------------------------------------------------------ */

typedef struct {
    size_t n_components;
    double shares[ALIM_CORPUS_MAX_COMPONENTS]; /* pretraining shares q, sum 1   */
    size_t pretrain_docs;   /* |D_p| in documents (15625 = 2M tokens of 128); SIZE_MAX = as many as fit */
    size_t pool_docs;       /* per component, for alignment/perturbation (4096)    */
    size_t test_docs;       /* per component and for the mixture (256)              */
    size_t classifier_docs; /* per component, held-out text for the classifier (0 = none) */
    size_t block;           /* windows are assigned to splits in blocks of this many (8) */
    uint64_t seed;
} alim_split_config;

void alim_split_config_default(alim_split_config *c);

typedef struct {
    size_t n_components;
    alim_corpus pretrain;
    uint8_t *pretrain_comp; /* (pretrain.n_docs) component of each pretraining document */
    alim_corpus pool[ALIM_CORPUS_MAX_COMPONENTS];
    alim_corpus test[ALIM_CORPUS_MAX_COMPONENTS];
    alim_corpus test_mix;
    uint8_t *test_mix_comp;
    alim_corpus classifier[ALIM_CORPUS_MAX_COMPONENTS];
    size_t available[ALIM_CORPUS_MAX_COMPONENTS]; /* windows/documents there were to assign */
} alim_splits;

void alim_splits_free(alim_splits *s);
/* Assigns the windows of each component to the splits without overlap: blocks of
 * cfg->block consecutive windows are shuffled (seeded), then taken in order by test,
 * the mixture test (its component draws ~ shares), classifier, pretraining (round(q_i * N)
 * documents of component i, then shuffled together) and the pool (up to pool_docs, what
 * is left). EINVAL (where = "component <i>") when a component has too few windows. */
alim_status alim_splits_from_windows(alim_splits *out, const alim_corpus *const *windows,
                                     const alim_split_config *cfg, alim_error *err);

/* ---- atomic output directory ---------------------------------------------------------- */

/* Files are written into DIR.tmp.<pid>/ and the directory is renamed to DIR at commit;
 * DIR must not exist or be an empty directory (EINVAL otherwise). abort removes the
 * temporary directory and what was written into it. */
typedef struct {
    char *final_dir, *tmp_dir;
    char **files;
    size_t n_files;
    char path[4096];
} alim_outdir;
alim_status alim_outdir_begin(alim_outdir *d, const char *dir, alim_error *err);
/* Path of file `name` inside the temporary directory (valid until the next call). */
const char *alim_outdir_file(alim_outdir *d, const char *name);
alim_status alim_outdir_commit(alim_outdir *d, alim_error *err);
void alim_outdir_abort(alim_outdir *d);

/* Writes every split as files of the format into the directory:
 * pretrain.txt, pretrain_components.txt (one component number 1..K per line),
 * pool_c<i>.txt, test_c<i>.txt, test_mix.txt, test_mix_components.txt and, when not
 * empty, classifier_c<i>.txt (i = 1..K). */
alim_status alim_splits_write(const alim_splits *s, alim_outdir *d, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
