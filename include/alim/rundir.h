/* alim/rundir.h — resumable run directories for long experiments (elasticity E1–E4, the report).
 *
 * An experiment is a set of named cells (a training run, a fine-tuning pair, a grid point).
 * The run directory records the configuration it was made for and one result per finished
 * cell:
 *   DIR/manifest.json            {"experiment", "config", "config_hash", "created", "alim"}
 *   DIR/cells/<cell>/            scratch space of the cell (checkpoints, logs)
 *   DIR/cells/<cell>/result.json written atomically when the cell finishes: its presence
 *                                is what "done" means, so an interrupted cell is redone and a
 *                                finished one is never recomputed. It carries
 *                                "alim_result_hash" (of the rest), so that a result edited
 *                                or replaced by hand is refused instead of read as numbers.
 *   DIR/.alim.lock               the lock (alim/io.h): one process writes DIR at a time
 *   DIR/cells/<cell>/.claim      under MPI: the rank computing the cell (alim/runner.h)
 *   DIR/cells/<cell>/.failed     under MPI: the error of a cell that failed, for the other ranks
 * Reopening a directory with a different configuration or experiment is refused (nothing is
 * overwritten), with the first differing key named in the message.
 */
#ifndef ALIM_RUNDIR_H
#define ALIM_RUNDIR_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alim_rundir alim_rundir;

/* Canonical JSON text of v (object keys sorted, no whitespace), malloc'd; NULL on OOM. */
char *alim_json_canonical(const cJSON *v);
/* 64-bit FNV-1a hash of the canonical text, as 16 hex digits in buf (17 bytes). */
void alim_json_hash(const cJSON *v, char buf[17]);

/* Opens DIR for `experiment` with `config`, creating it (and the manifest) if missing, and
 * holds its lock until alim_rundir_close; stale temporaries of killed runs (NAME.tmp.PID of
 * dead processes) in DIR and its cells are removed.
 * Errors: ALIM_EINVAL if another process holds DIR ("in use by process PID"), if DIR holds a
 * manifest of another experiment or configuration (where = DIR, what names the first
 * differing key path), or a non-empty DIR without a manifest; ALIM_EIO when it cannot be
 * created or read. */
alim_status alim_rundir_open(const char *dir, const char *experiment, const cJSON *config, alim_rundir **out,
                             alim_error *err);
/* Under MPI (alim_dist_multi(), alim/dist.h) every rank calls this at the same point
 * (collective): rank 0 opens, checks and locks the directory as above for the whole job
 * (and removes the claims of an earlier job), then the other ranks check they see the same
 * manifest on their file system; all ranks return the same status. */
void alim_rundir_close(alim_rundir *rd);
/* 1 if the ranks of a multi-rank job share this directory (cells are claimed, alim/runner.h). */
int alim_rundir_shared(const alim_rundir *rd);

/* The names of the claim and failure marks in a cell's directory. */
#define ALIM_RUNDIR_CLAIM ".claim"
#define ALIM_RUNDIR_FAILED ".failed"

const char *alim_rundir_path(const alim_rundir *rd);

/* 1 if the cell has a result. Cell names: letters, digits, '-', '_', '.' (no '/'). */
int alim_rundir_cell_done(const alim_rundir *rd, const char *cell);
/* Writes DIR/cells/<cell> into buf (creating the directory) for the cell's own files. */
alim_status alim_rundir_cell_dir(const alim_rundir *rd, const char *cell, char *buf, size_t n, alim_error *err);
/* Marks the cell finished with its result (a JSON object), atomically. */
alim_status alim_rundir_cell_finish(const alim_rundir *rd, const char *cell, const cJSON *result, alim_error *err);
/* The result of a finished cell (caller frees with cJSON_Delete; without the hash key), or
 * NULL if not done or unreadable (err says which): ALIM_EFORMAT naming the file when it is
 * not a JSON object or does not match its hash (results written before the hash are taken
 * when they are objects). */
cJSON *alim_rundir_cell_result(const alim_rundir *rd, const char *cell, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
