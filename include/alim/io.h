/* alim/io.h — reading numeric CSV and JSON input, writing files atomically.
 *
 * Every reader names the file (and line, column or key) in the error record, so the
 * CLI can print "alim: error: chan.csv:3: row has 2 entries, expected 3".
 * Writers go through a temporary file in the same directory that is renamed into place,
 * so an interrupted run never leaves a truncated result where a complete one is expected.
 */
#ifndef ALIM_IO_H
#define ALIM_IO_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads a whole file into a NUL-terminated malloc'd buffer (*len excludes the NUL).
 * path "-" reads standard input. */
alim_status alim_file_read_all(const char *path, char **buf, size_t *len, alim_error *err);

/* A dense row-major matrix of doubles read from text. */
typedef struct {
    double *data; /* rows * cols entries, row-major, owned */
    size_t rows, cols;
    size_t *line_of_row; /* 1-based source line of each row (for messages), owned */
} alim_matrix;

/* Reads a numeric table: one row per line, entries separated by commas and/or blanks.
 * Blank lines and lines starting with '#' are skipped. If the first data line holds a
 * non-numeric field it is taken as a header and skipped. Every entry must be a finite
 * number and every row must have the same number of entries. The error names
 * "path:line". min_cols/max_cols bound the width (0 = no bound). */
alim_status alim_matrix_read_csv(const char *path, size_t min_cols, size_t max_cols,
                                 alim_matrix *out, alim_error *err);
void alim_matrix_free(alim_matrix *m);

/* A copy of s[0..n) that is valid UTF-8 (RFC 3629: no overlong forms, surrogates or code
 * points above U+10FFFF): each maximal ill-formed subsequence becomes U+FFFD, as Unicode's
 * "substitution of maximal subparts" (and Python's errors="replace") does. For text a model
 * wrote, whose last token may end inside a character. NUL-terminated; its length in *out_len
 * (may be NULL); NULL when out of memory. The caller frees. */
char *alim_utf8_valid_copy(const char *s, size_t n, size_t *out_len);
/* Makes every string value in the tree v valid UTF-8 as alim_utf8_valid_copy does (keys are
 * left alone); returns how many strings changed, or -1 when out of memory. For summaries that
 * gather text written by an older alim (cells of a resumed run), before they are printed. */
long alim_json_utf8_repair(cJSON *v);

/* Writes len bytes to path atomically: path.tmp.<pid> is written, flushed, fsync'ed
 * and renamed over path. */
alim_status alim_file_write_atomic(const char *path, const void *data, size_t len,
                                   alim_error *err);

/* Streaming form of the same: open, write with stdio, then commit (rename into place)
 * or abort (remove the temporary). */
typedef struct {
    FILE *fp;
    char *final_path;
    char *tmp_path;
} alim_atomic_file;
alim_status alim_atomic_open(alim_atomic_file *f, const char *path, alim_error *err);
alim_status alim_atomic_commit(alim_atomic_file *f, alim_error *err);
void alim_atomic_abort(alim_atomic_file *f);

/* 1 if path is a directory with no entries, 0 if it has entries, -1 if it cannot be opened.
 * The lock file of alim_dir_lock_acquire (ALIM_DIR_LOCK_NAME) does not count as an entry. */
int alim_dir_is_empty(const char *path);

/* ---- one writer per directory ---------------------------------------------------------------
 * Every directory alim writes (a training --out, an elasticity run directory, a report and its
 * cache) is held with an advisory lock: flock(2) on DIR/.alim.lock, which holds the owner's PID
 * for the message. The kernel drops the lock when the process ends, however it ends, so there
 * is nothing to clean up after a crash. A second process gets ALIM_EINVAL (exit 2) at once:
 *     "DIR: in use by process 1234"
 * Within one process the lock is counted: acquiring a directory the process already holds
 * (the report running an experiment that trains into its own cells, an experiment resuming a
 * directory it holds) succeeds and needs one release more. Directories are identified by
 * device and inode, so "run" and "./run" are the same directory.
 * The first acquisition also removes the directory's stale temporaries: files named
 * "NAME.tmp.PID" (alim_atomic_open's) whose PID is not a live process. */
#define ALIM_DIR_LOCK_NAME ".alim.lock"
typedef struct alim_dir_lock alim_dir_lock;
/* dir must exist. *lock is NULL on error. */
alim_status alim_dir_lock_acquire(const char *dir, alim_dir_lock **lock, alim_error *err);
/* Releases one acquisition (NULL is ignored). */
void alim_dir_lock_release(alim_dir_lock *lock);
/* ---- one writer per appended file ----------------------------------------------------------
 * A file written a row at a time over a long run, which may lie outside any locked directory
 * (alim train --log FILE), is held the same way: flock(2) on the file itself. The file is
 * opened without truncating it, and created when absent (*created then says so: the caller
 * removes it if the run fails before writing to it). A second process gets ALIM_EINVAL:
 *     "FILE: written by another process"
 * and so does a second acquisition of the same file by this process (one writer, not a count).
 * Only regular files are locked: a character device or a FIFO (--log /dev/null) is taken
 * without a lock; a directory is refused. Replacing the file (a rename over it) leaves the
 * lock on the old inode: acquire the new file, then release the old. */
typedef struct alim_file_lock alim_file_lock;
/* *lock is NULL on error; created may be NULL. */
alim_status alim_file_lock_acquire(const char *path, alim_file_lock **lock, int *created, alim_error *err);
/* Drops the lock (NULL is ignored). */
void alim_file_lock_release(alim_file_lock *lock);

/* Removes the stale temporaries "NAME.tmp.PID" of dir (PID not a live process, nor this one);
 * returns how many were removed. Subdirectories are searched down to `depth` levels. */
size_t alim_dir_remove_stale_temporaries(const char *dir, int depth);

/* Non-finite numbers in JSON. JSON has neither infinities nor NaN, and cJSON would print both
 * as null, losing the sign of an infinite bound. alim's one convention, in every JSON document
 * it writes of its own (--json output, run directories, manifests; not the model files of
 * other ecosystems): +inf and -inf are the strings "inf" and "-inf" (Python's float() reads
 * them), and NaN -- a quantity that is undefined or was not measured -- is null.
 * alim_json_create_number/alim_json_add_number build a node that way; alim_json_print
 * prints any tree that way (a number node holding a non-finite value is printed as the
 * convention says; the tree itself is not modified). NULL when out of memory. */
cJSON *alim_json_create_number(double v);
cJSON *alim_json_add_number(cJSON *obj, const char *key, double v);
char *alim_json_print(const cJSON *v, int formatted);
/* Reads a number written by the convention above: a number, "inf", "-inf", "nan" (the
 * spelling of older files), or null (NaN). Anything else, and a missing node, is NaN. */
double alim_json_number_value(const cJSON *v);

/* Parses a JSON file. The error carries the path and the line/column of a syntax error. */
alim_status alim_json_read_file(const char *path, cJSON **out, alim_error *err);

/* Typed getters for JSON objects. `where` names the object in messages (e.g.
 * "scen.json: contexts[1]"). A missing key is an error when required, else *out keeps
 * its value and ALIM_OK is returned. Numbers must be finite. */
alim_status alim_json_get_number(const cJSON *obj, const char *key, int required,
                                 const char *where, double *out, alim_error *err);
alim_status alim_json_get_string(const cJSON *obj, const char *key, int required,
                                 const char *where, const char **out, alim_error *err);
/* Reports the first key of obj that is not in the NULL-terminated list `allowed`. */
alim_status alim_json_check_keys(const cJSON *obj, const char *const *allowed,
                                 const char *where, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
