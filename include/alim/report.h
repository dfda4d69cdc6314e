/* alim/report.h — the main job: run the engines on built-in defaults (or a user's config)
 * and write a self-contained HTML report with every figure as PNG and SVG and every table
 * as CSV next to it, so each number in the report can be traced to a file.
 *
 * Layout of the output directory:
 *   index.html                       the report (written last: its presence means complete)
 *   report.json                      what ran, with which settings, how long it took
 *   <section>_<name>.png/.svg/.csv   figures and the tables behind them
 * A failing run removes index.html first, so a partial directory is never taken for a
 * complete report.
 *
 * The elasticity section trains small transformers (E1 resistance, E2 rebound; alim/resist.h,
 * alim/rebound.h) on a synthetic data directory it builds itself (alim/datadir.h). The data
 * and the run directories (alim/rundir.h) live in a cache directory (default OUT/cache), so a
 * re-run reuses every finished cell; see docs/report.md.
 */
#ifndef ALIM_REPORT_H
#define ALIM_REPORT_H

#include <cjson/cJSON.h>

#include "alim/progress.h"
#include "alim/gpt.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One line per finished or reused cell of the elasticity runs (e.g. for stderr). */
typedef void (*alim_report_note_fn)(void *ctx, const char *line);

typedef struct {
    const char *out_dir;  /* created if missing */
    const cJSON *config;  /* NULL = built-in defaults; unknown keys are errors */
    const char *config_name; /* for messages, e.g. the file name */
    int quick;            /* smaller sweeps for tests (well under a minute) */
    const char *cache_dir; /* NULL: config "elasticity.cache", else OUT/cache */
    alim_report_note_fn note; /* may be NULL */
    void *note_ctx;
    int jobs;             /* elasticity cells computed side by side, each with the caller's
                             OpenMP threads (alim/runner.h); 0 or 1: one at a time. The
                             figures do not depend on it. */
    alim_precision precision; /* of the elasticity runs' models (alim/gpt.h): FP32 (0), BF16 or
                             AUTO; bf16 runs have cache entries of their own, and the report
                             says which precision its figures used */
} alim_report_options;

typedef struct {
    double seconds;       /* wall time of the whole run */
    int n_figures, n_tables;
    /* the elasticity runs' cells (E1 + E2): total, computed now, reused from the cache */
    size_t cells_total, cells_run, cells_reused;
    int data_reused;      /* the data directory came from the cache */
} alim_report_summary;

/* Checks a config against the schema without running anything (unknown keys, wrong types,
 * impossible probabilities, grids the elasticity runs would refuse), for the default run;
 * alim_report_run checks it again for the mode it runs in (quick sizes are smaller). */
alim_status alim_report_check_config(const cJSON *config, const char *where, alim_error *err);

/* Runs every section and writes the report. */
alim_status alim_report_run(const alim_report_options *opt, const alim_progress *progress,
                            alim_report_summary *summary, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
