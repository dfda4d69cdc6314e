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
 */
#ifndef ALIM_REPORT_H
#define ALIM_REPORT_H

#include <cjson/cJSON.h>

#include "alim/progress.h"
#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *out_dir;  /* created if missing */
    const cJSON *config;  /* NULL = built-in defaults; unknown keys are errors */
    const char *config_name; /* for messages, e.g. the file name */
    int quick;            /* smaller sweeps for tests (well under a minute) */
} alim_report_options;

typedef struct {
    double seconds;       /* wall time of the whole run */
    int n_figures, n_tables;
} alim_report_summary;

/* Checks a config against the schema without running anything (unknown keys, wrong types,
 * impossible probabilities). */
alim_status alim_report_check_config(const cJSON *config, const char *where, alim_error *err);

/* Runs every section and writes the report. */
alim_status alim_report_run(const alim_report_options *opt, const alim_progress *progress,
                            alim_report_summary *summary, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
