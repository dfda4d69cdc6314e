/* report_impl.h — private to src/report: the report being written (context, HTML buffer,
 * figure/CSV writers), the configuration readers the sections share, and one entry point per
 * section. The public face is alim/report.h; included by the files of src/report only.
 *
 * Files: report.c (driver, config check, page), report_html.c (strbuf, escaping, figure and
 * CSV writers), report_config.c (JSON readers), report_bottleneck.c, report_asymptotics.c,
 * report_bon.c, report_e0.c, report_lab_config.c (the elasticity config), report_lab.c (data,
 * cache and the runs of E1-E4), report_e1.c .. report_e4.c (their parts of the section),
 * report_real.c (the real-model study, drawn from a finished study directory).
 */
#ifndef ALIM_REPORT_IMPL_H
#define ALIM_REPORT_IMPL_H

#include <stdint.h>
#include <stdio.h>

#include "alim/datadir.h"
#include "alim/plot.h"
#include "alim/rebound.h"
#include "alim/report.h"
#include "alim/resist.h"
#include "alim/scale.h"

/* ---- a growing string for the HTML (report_html.c) ---------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom; /* an allocation failed: later writes are dropped, the caller checks once */
} strbuf;

void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with <, >, & and " as entities */
void sb_html_escaped(strbuf *b, const char *s);
/* {v[0], v[1], ...} */
void sb_size_list(strbuf *b, const size_t *v, size_t n);
/* v with fmt, or an en dash when v is not finite */
void sb_num_or_dash(strbuf *b, const char *fmt, double v);
/* "GPT LxDxH, context C, theta0 pretrained on T tokens" (E1 and E2 describe their runs so) */
void sb_model(strbuf *b, int layers, int dim, int heads, int context, uint64_t tokens);

/* ---- the report being written ------------------------------------------------------------ */

typedef struct {
    const char *dir;
    strbuf html;
    int n_fig, n_tab;
    int quick;
    const alim_progress *progress;
    alim_error *err;
    alim_report_note_fn note;
    void *note_ctx;
    size_t cells_total, cells_run, cells_reused; /* elasticity runs */
    int data_reused;
    int jobs; /* elasticity cells side by side (alim/runner.h) */
    int peer; /* a rank other than 0 of an MPI job: it computes elasticity cells, writes nothing */
    alim_precision precision; /* of the elasticity runs' models, resolved */
} report;

/* dir/name (caller frees; NULL when out of memory) */
char *report_path(const report *r, const char *name);
/* Draws name.png + name.svg into the report directory (not added to the HTML). */
alim_status report_draw(report *r, const char *name, const alim_plot *p);
/* Draws a figure and adds it to the HTML with a caption and a link to the CSV it was drawn
 * from (csv = NULL: name.csv). */
alim_status report_add_figure_csv(report *r, const char *name, const char *csv, const alim_plot *p,
                                  const char *caption);
alim_status report_add_figure(report *r, const char *name, const alim_plot *p, const char *caption);
/* Writes name.csv atomically: header, then rows x cols doubles given row-major. */
alim_status report_write_csv(report *r, const char *name, const char *header, const double *data, size_t rows,
                             size_t cols);
/* One number of the report's own CSV tables: "%.17g", non-finite values as nan, inf, -inf (the
 * JSON files carry them as null, as alim_lab_add_num writes them). */
void report_csv_num(FILE *fp, double v);
/* Copies a run's output file into the report directory as name (a table). */
alim_status report_copy_file(report *r, const char *from, const char *name);
/* One criterion of an experiment's verdict as "name result (why)", after "; " unless first;
 * why may be NULL (E3's criteria have none). */
void report_criterion_text(strbuf *b, int first, const char *name, const char *result, const char *why);

/* ---- configuration readers (report_config.c) ---------------------------------------------- */

/* a[] into out: 1 to max numbers in [lo, hi], integers if asked */
alim_status report_read_numbers(const cJSON *a, const char *where, const char *key, double *out, size_t max, size_t *n,
                                double lo, double hi, int integer, alim_error *err);
/* An optional integer obj[key] in [lo, hi] into *x (unchanged if absent); *given set when present. */
alim_status report_read_integer(const cJSON *obj, const char *key, const char *where, double lo, double hi, double *x,
                                int *given, alim_error *err);
/* The same into a size_t, uint64_t or int field: absent leaves it unchanged. */
alim_status report_read_size(const cJSON *obj, const char *key, const char *where, double lo, double hi, size_t *v,
                             int *given, alim_error *err);
alim_status report_read_u64(const cJSON *obj, const char *key, const char *where, double lo, double hi, uint64_t *v,
                            alim_error *err);
alim_status report_read_int(const cJSON *obj, const char *key, const char *where, double lo, double hi, int *v,
                            alim_error *err);
/* An optional sub-object obj[key] (NULL if absent); error if present and not an object. */
alim_status report_read_object(const cJSON *obj, const char *key, const char *where, const cJSON **out, alim_error *err);
/* An optional increasing grid of sizes obj[key]; first_zero: at least 2 values, the first 0. */
alim_status report_read_grid(const cJSON *obj, const char *key, const char *where, size_t *out, size_t *n,
                             int first_zero, alim_error *err);

/* ---- the sections ---------------------------------------------------------------------------- */

/* 1. The alignment bottleneck (report_bottleneck.c) */
typedef struct {
    cJSON *scenario_json; /* owned copy */
    double m_values[64];
    size_t n_m;
    size_t replicates, test_items;
    double eps[8];
    size_t n_eps;
    double log2m_max;
    uint64_t seed;
} bottleneck_config;

alim_status report_bottleneck_config_read(const cJSON *c, const char *where, int quick, bottleneck_config *bc,
                                          alim_error *err);
alim_status report_bottleneck(report *r, const cJSON *c, const char *where);

/* 2. KL-regularised RL versus best-of-N (report_asymptotics.c) */
typedef struct {
    double p[64], r[64];
    size_t n_out;
    double delta;       /* per-token KL budget (nats) */
    double lengths[32];
    size_t n_len;
    double log10_n_max; /* F4: N from 1 to 10^log10_n_max */
} asymptotics_config;

alim_status report_asymptotics_config_read(const cJSON *c, const char *where, int quick, asymptotics_config *ac,
                                           alim_error *err);
alim_status report_asymptotics(report *r, const cJSON *c, const char *where);

/* 2b. Beyond best-of-N (report_bon.c) */
alim_status report_bon(report *r);

/* 3. Elasticity: E0 (report_e0.c), then the trained experiments (report_lab.c). E1 (resistance)
 * and E2 (rebound) run on a synthetic data directory the report builds itself; E4 is computed
 * from E2's cells, E3 runs its own rebound runs. Data and run directories live in a cache
 * directory (default OUT/cache) under names that carry a hash of their configuration (seeds
 * excluded), so a re-run reuses every finished cell, a changed configuration gets directories
 * of its own, and more seeds extend the existing runs. */
typedef struct {
    char cache[4096];          /* from the config; "" = not given */
    int run_resist, run_rebound, run_coefficient, run_scale;
    int natural;               /* data source: 0 synthetic, 1 natural */
    alim_datadir_options data; /* seed, pretrain_size, pool_docs, test_docs, doc_len */
    alim_resist_config e1;     /* data_dir and run_dir are set when run */
    alim_rebound_config e2;
    size_t e4_max_n_neg;       /* E4 uses E2's n_neg in (0, e4_max_n_neg] */
    size_t e4_boot;            /* bootstrap resamples of E4 */
    alim_scale_config e3;      /* data_dir and run_dir are set when run */
} elasticity_config;

/* report_lab_config.c: the defaults (quick or not) overridden by the config c */
alim_status report_elasticity_config_read(const cJSON *c, const char *where, int quick, elasticity_config *ec,
                                          alim_error *err);
/* The whole section: reads the config, E0, then E1-E4 as configured. */
alim_status report_elasticity(report *r, const cJSON *c, const char *where, const char *cache_override);
alim_status report_e0(report *r);
alim_status report_e1(report *r, const alim_resist_config *cfg, const alim_resist_result *res);
alim_status report_e2(report *r, const alim_rebound_config *cfg, const alim_rebound_result *res, int theta0_from_e1);
alim_status report_e3(report *r, const alim_scale_config *c, const alim_scale_result *res);
alim_status report_e4(report *r, const elasticity_config *ec, const alim_rebound_config *c, const alim_rebound_result *rr,
                      const char *data_dir);

/* ---- which sections ("sections", report.c) ---------------------------------------------------- */

enum {
    REPORT_SECTION_BOTTLENECK,
    REPORT_SECTION_ASYMPTOTICS,
    REPORT_SECTION_BON,
    REPORT_SECTION_ELASTICITY,
    REPORT_SECTION_REAL,
    REPORT_SECTIONS
};
typedef struct {
    int on[REPORT_SECTIONS]; /* default: all but REAL */
    const char *real_run;    /* "real": {"run": DIR}, borrowed from the config; NULL if absent */
} report_sections;

/* config["sections"] and config["real"] (config may be NULL: the defaults); errors name the key. */
alim_status report_sections_read(const cJSON *config, const char *where, report_sections *s, alim_error *err);

/* 4. The real-model elasticity study (report_real.c, docs/real-elasticity.md): drawn from the OUT
 * directory of scripts/reproduce-real.sh, nothing computed. */
/* c = the "real" object (NULL if absent: *run = NULL); unknown keys, a missing or empty "run"
 * are errors. */
alim_status report_real_config_read(const cJSON *c, const char *where, const char **run, alim_error *err);
/* ALIM_EINVAL naming run when it holds neither e1/summary.json nor e2/summary.json. */
alim_status report_real_check(const char *run, alim_error *err);
alim_status report_real(report *r, const char *run);

#endif
