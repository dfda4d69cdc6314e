/* alim/runner.h — the one experiment runner: the resumable cells of a run directory, run in
 * dependency order, one at a time or several side by side.
 *
 * An experiment (E1 resist, E2 rebound, E3 scale) declares its cells first: a name (the
 * directory RUN/cells/<name>/), an estimated cost (for progress and ETA), the function that
 * computes the cell's result, and the earlier cells it needs. alim_runner_run then computes
 * every cell that has no result yet and leaves the others alone (a finished cell is never
 * recomputed, an interrupted one is redone: alim/rundir.h). The experiment reads the results
 * back in its own fixed order to write its summary, so the summary does not depend on the
 * order in which cells finished.
 *
 * Side by side: with jobs > 1 that many cells run at once, each on a thread of its own with
 * the OpenMP thread count of the caller (so a cell's bits, which depend on its thread count
 * only, are those of a run with jobs = 1). With jobs = 1 cells run in the calling thread in
 * the order they were added: the behaviour of the experiments before the runner existed.
 *
 * Under MPI (alim/dist.h), when the ranks of a job share the run directory (every rank calls
 * the experiment with the same configuration; alim_rundir_open makes rank 0 the owner), the
 * ranks hand the cells out among themselves: a rank (each of its jobs) takes the next ready
 * cell no other rank has taken, through a claim file (runner.c), and waits for the cells of
 * other ranks it depends on. Done callbacks run on rank 0 only. alim_runner_run returns on
 * every rank with the same status.
 *
 * Life cycle: alim_runner_create, alim_runner_add (every cell), alim_runner_run once,
 * alim_runner_result / alim_runner_stats, alim_runner_free.
 */
#ifndef ALIM_RUNNER_H
#define ALIM_RUNNER_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "alim/progress.h"
#include "alim/rundir.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct alim_runner alim_runner;

/* What a cell's function gets besides its own argument. */
typedef struct {
    const char *name;              /* the cell's name */
    const char *dir;               /* RUN/cells/<name>: the cell's own files, created */
    const alim_progress *progress; /* the cell's progress: done/total of its own work */
    alim_runner *runner;           /* for alim_runner_count_training */
} alim_cell_env;

/* Computes a cell: fills *result with a JSON object (the runner writes it as the cell's
 * result and frees it). Called from a worker thread when jobs > 1: it must touch only its
 * own argument, read-only data of the experiment, and its directory. */
typedef alim_status (*alim_cell_fn)(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err);

/* Told when a cell is finished (reused = 1: it was finished before this run), with its
 * result; for the experiment's one-line notes. Calls are serialised and come after those
 * of the cell's dependencies; with jobs = 1 in the order the cells were added. */
typedef void (*alim_cell_done_fn)(void *arg, const char *name, const cJSON *result, int reused);

typedef struct {
    const char *label;             /* prefix of the progress stage, e.g. "E2" */
    const alim_progress *progress; /* the experiment's progress, or NULL */
    int jobs;                      /* cells side by side, >= 1 */
} alim_runner_options;

/* A runner over an open run directory (not owned). ALIM_EINVAL when jobs < 1. */
alim_status alim_runner_create(alim_rundir *rd, const alim_runner_options *o, alim_runner **out, alim_error *err);

/* Declares a cell; deps are indices returned by earlier calls. cost > 0 is in the
 * experiment's work unit. Returns the cell's index, or (size_t)-1 when out of memory or
 * when a dependency index is not an earlier cell (alim_runner_run then fails). */
size_t alim_runner_add(alim_runner *r, const char *name, double cost, alim_cell_fn fn, void *arg, alim_cell_done_fn done,
                       const size_t *deps, size_t n_deps);

/* Computes every cell without a result. On an error no further cell starts, the cells
 * already running finish (their results are kept: a re-run reuses them), and the first
 * error is returned. */
alim_status alim_runner_run(alim_runner *r, alim_error *err);

/* The result of finished cell i (caller frees with cJSON_Delete); NULL with err set when it
 * cannot be read. */
cJSON *alim_runner_result(const alim_runner *r, size_t i, alim_error *err);
/* 1 unless this is a rank other than 0 of a multi-rank job: the experiment's summary files
 * are rank 0's to write (every rank can still read every result). */
int alim_runner_writes(const alim_runner *r);
/* 1 if cell i was finished before this run. */
int alim_runner_reused(const alim_runner *r, size_t i);

/* Adds a cell's training tokens and seconds to the experiment's totals (thread-safe). */
void alim_runner_count_training(const alim_cell_env *env, double tokens, double seconds);

typedef struct {
    size_t total, run, reused;       /* cells: all, computed in this run (by any rank), finished before */
    size_t here;                     /* computed by this process */
    double train_tokens, train_s;    /* what the cells counted */
} alim_runner_stats;
void alim_runner_get_stats(const alim_runner *r, alim_runner_stats *s);

void alim_runner_free(alim_runner *r);

#ifdef __cplusplus
}
#endif
#endif
