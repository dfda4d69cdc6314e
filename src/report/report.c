/* report.c — the report's driver (see alim/report.h): checks the configuration, runs the
 * sections in order (report_bottleneck.c, report_asymptotics.c, report_bon.c, then elasticity:
 * report_e0.c and report_lab.c with report_e1.c .. report_e4.c, then the real-model study,
 * report_real.c; "sections" picks which) and assembles the page:
 * header, style, footer, report.json, and index.html written last. */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include "alim/dist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alim/blas.h"
#include "alim/interval.h"
#include "alim/io.h"
#include "alim/lab.h"

/* The whole config against the schema, for the mode (quick or not) the report runs in. */
static alim_status check_config(const cJSON *config, const char *where, int quick, alim_error *err)
{
    if (!config) return ALIM_OK;
    static const char *const keys[] = {"bottleneck", "asymptotics", "elasticity", "description", "sections", "real", NULL};
    alim_status st = alim_json_check_keys(config, keys, where, err);
    if (st) return st;
    report_sections sec;
    if ((st = report_sections_read(config, where, &sec, err))) return st;
    char w[ALIM_ERROR_WHERE_MAX];
    elasticity_config ec;
    snprintf(w, sizeof w, "%.200s: elasticity", where);
    if ((st = report_elasticity_config_read(cJSON_GetObjectItemCaseSensitive(config, "elasticity"), w, quick, &ec, err)))
        return st;
    asymptotics_config ac;
    snprintf(w, sizeof w, "%.200s: asymptotics", where);
    if ((st = report_asymptotics_config_read(cJSON_GetObjectItemCaseSensitive(config, "asymptotics"), w, 0, &ac, err)))
        return st;
    snprintf(w, sizeof w, "%.200s: bottleneck", where);
    bottleneck_config bc;
    if ((st = report_bottleneck_config_read(cJSON_GetObjectItemCaseSensitive(config, "bottleneck"), w, 0, &bc, err)))
        return st;
    alim_scenario s;
    snprintf(w, sizeof w, "%.200s: bottleneck.scenario", where);
    st = alim_scenario_from_json(bc.scenario_json, w, &s, err);
    if (!st) alim_scenario_free(&s);
    cJSON_Delete(bc.scenario_json);
    return st;
}

/* The sections to render ("sections", default the four of before) and the real-model study's
 * directory ("real": {"run": DIR}, required when "real" is one of them). */
alim_status report_sections_read(const cJSON *config, const char *where, report_sections *s, alim_error *err)
{
    static const char *const names[REPORT_SECTIONS] = {"bottleneck", "asymptotics", "bon", "elasticity", "real"};
    memset(s, 0, sizeof *s);
    for (int i = 0; i < REPORT_SECTION_REAL; i++) s->on[i] = 1;
    const cJSON *a = config ? cJSON_GetObjectItemCaseSensitive(config, "sections") : NULL;
    if (a) {
        if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < 1 || cJSON_GetArraySize(a) > REPORT_SECTIONS)
            return alim_error_set(err, ALIM_EINVAL, where,
                                  "\"sections\" must be an array of 1 to %d section names: \"bottleneck\", \"asymptotics\", "
                                  "\"bon\", \"elasticity\", \"real\"",
                                  REPORT_SECTIONS);
        memset(s->on, 0, sizeof s->on);
        const cJSON *v;
        cJSON_ArrayForEach(v, a) {
            int k = -1;
            for (int i = 0; i < REPORT_SECTIONS && cJSON_IsString(v); i++)
                if (!strcmp(v->valuestring, names[i])) k = i;
            if (k < 0)
                return alim_error_set(err, ALIM_EINVAL, where,
                                      "\"sections\": unknown section (one of \"bottleneck\", \"asymptotics\", \"bon\", "
                                      "\"elasticity\", \"real\")");
            if (s->on[k]) return alim_error_set(err, ALIM_EINVAL, where, "\"sections\": \"%s\" given twice", names[k]);
            s->on[k] = 1;
        }
    }
    char w[ALIM_ERROR_WHERE_MAX];
    snprintf(w, sizeof w, "%.200s: real", where);
    const cJSON *real = config ? cJSON_GetObjectItemCaseSensitive(config, "real") : NULL;
    alim_status st = report_real_config_read(real, w, &s->real_run, err);
    if (st) return st;
    if (s->on[REPORT_SECTION_REAL] && !s->real_run)
        return alim_error_set(err, ALIM_EINVAL, where, "\"sections\" has \"real\": \"real\": {\"run\": DIR} is required");
    return ALIM_OK;
}

alim_status alim_report_check_config(const cJSON *config, const char *where, alim_error *err)
{
    return check_config(config, where, 0, err);
}

/* ---- the report ------------------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char css[] =
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}"
    "figure{margin:1.5em 0}img{max-width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:.92em;color:#444}table{border-collapse:collapse;margin:1em 0;font-size:.93em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f4f4f4}"
    ".meta{color:#666;font-size:.9em}";

/* A rank other than 0 of an MPI job: it runs the elasticity experiments with rank 0, which
 * hands their cells out (alim/runner.h), and writes nothing; rank 0 writes the report. */
static alim_status run_peer(const alim_report_options *opt, const alim_progress *progress, alim_report_summary *summary,
                            alim_error *err)
{
    report r = {opt->out_dir, {0}, 0, 0, opt->quick, progress, err, NULL, NULL, 0, 0, 0, 0, opt->jobs > 0 ? opt->jobs : 1, 1,
                ALIM_PRECISION_FP32};
    alim_status pst = alim_precision_select(opt->precision, &r.precision, err);
    if (pst) return pst;
    const cJSON *cfg = opt->config;
    char w[ALIM_ERROR_WHERE_MAX];
    snprintf(w, sizeof w, "%.200s: elasticity", opt->config_name ? opt->config_name : "config");
    report_sections sec;
    alim_status st = report_sections_read(cfg, w, &sec, err);
    if (!st && sec.on[REPORT_SECTION_ELASTICITY])
        st = report_elasticity(&r, cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "elasticity") : NULL, w, opt->cache_dir);
    free(r.html.s);
    if (summary) memset(summary, 0, sizeof *summary);
    return st;
}

alim_status alim_report_run(const alim_report_options *opt, const alim_progress *progress,
                            alim_report_summary *summary, alim_error *err)
{
    const double t0 = now_seconds();
    const char *where = opt->config_name ? opt->config_name : "config";
    alim_status st = check_config(opt->config, where, opt->quick, err);
    alim_precision prec = ALIM_PRECISION_FP32;
    if (!st) st = alim_precision_select(opt->precision, &prec, err);
    report_sections sec;
    if (!st) st = report_sections_read(opt->config, where, &sec, err);
    /* the real-model study's directory must hold a result before anything is written */
    if (!st && sec.on[REPORT_SECTION_REAL] && !(alim_dist_multi() && alim_dist_rank() != 0))
        st = report_real_check(sec.real_run, err);
    if (st) return st;
    if (alim_dist_multi() && alim_dist_rank() != 0) return run_peer(opt, progress, summary, err);
    if (mkdir(opt->out_dir, 0777) != 0 && errno != EEXIST)
        return alim_error_set(err, ALIM_EIO, opt->out_dir, "cannot create the output directory: %s", strerror(errno));
    /* one report per directory at a time (alim/io.h); released below on every path */
    alim_dir_lock *lock;
    if ((st = alim_dir_lock_acquire(opt->out_dir, &lock, err))) return st;
    report r = {opt->out_dir, {0}, 0, 0, opt->quick, progress, err, opt->note, opt->note_ctx, 0, 0, 0, 0, opt->jobs > 0 ? opt->jobs : 1, 0,
                prec};
    /* a stale index.html must not pass for the result of this run */
    char *index = report_path(&r, "index.html");
    if (!index) return alim_dir_lock_release(lock), alim_error_set(err, ALIM_ENOMEM, "report", "out of memory");
    if (remove(index) != 0 && errno != ENOENT) {
        st = alim_error_set(err, ALIM_EIO, index, "cannot remove the previous report: %s", strerror(errno));
        free(index);
        alim_dir_lock_release(lock);
        return st;
    }
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    sb_printf(&r.html,
              "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<title>alim report</title><style>%s</style></head><body>\n"
              "<h1>alim report: how far alignment can go, and how fast it comes undone</h1>\n"
              "<p class=\"meta\">Generated %s%s; configuration: %s. Every figure links to its SVG and to the CSV "
              "it was drawn from.</p>\n",
              css, date, opt->quick ? " (quick mode: reduced sweeps)" : "", opt->config ? where : "built-in defaults");
    const cJSON *cfg = opt->config;
    char w[ALIM_ERROR_WHERE_MAX];
    snprintf(w, sizeof w, "%.200s: bottleneck", where);
    if (sec.on[REPORT_SECTION_BOTTLENECK])
        st = report_bottleneck(&r, cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "bottleneck") : NULL, w);
    snprintf(w, sizeof w, "%.200s: asymptotics", where);
    if (!st && sec.on[REPORT_SECTION_ASYMPTOTICS])
        st = report_asymptotics(&r, cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "asymptotics") : NULL, w);
    if (!st && sec.on[REPORT_SECTION_BON]) st = report_bon(&r);
    snprintf(w, sizeof w, "%.200s: elasticity", where);
    if (!st && sec.on[REPORT_SECTION_ELASTICITY])
        st = report_elasticity(&r, cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "elasticity") : NULL, w, opt->cache_dir);
    if (!st && sec.on[REPORT_SECTION_REAL]) st = report_real(&r, sec.real_run);
    double seconds = now_seconds() - t0;
    if (!st) {
        sb_printf(&r.html,
                  "<hr><p class=\"meta\">%d figures, %d tables, %.1f s; BLAS kernel %s. alim computes every bound "
                  "with a certified bracket; see the project's docs/ for the algorithms.</p>\n</body></html>\n",
                  r.n_fig, r.n_tab, seconds, alim_blas_corename());
        if (r.html.oom) st = alim_error_set(err, ALIM_ENOMEM, "report", "out of memory");
    }
    if (!st) {
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddStringToObject(meta, "generated", date);
        cJSON_AddBoolToObject(meta, "quick", opt->quick);
        alim_lab_add_num(meta, "seconds", seconds); /* non-finite as null, as everywhere */
        cJSON_AddNumberToObject(meta, "figures", r.n_fig);
        cJSON_AddNumberToObject(meta, "tables", r.n_tab);
        cJSON_AddStringToObject(meta, "blas_kernel", alim_blas_corename());
        cJSON *el = cJSON_AddObjectToObject(meta, "elasticity_cells");
        cJSON_AddNumberToObject(el, "total", (double)r.cells_total);
        cJSON_AddNumberToObject(el, "run", (double)r.cells_run);
        cJSON_AddNumberToObject(el, "reused", (double)r.cells_reused);
        cJSON_AddBoolToObject(el, "data_reused", r.data_reused);
        cJSON_AddNumberToObject(el, "jobs", r.jobs);
        cJSON_AddStringToObject(el, "precision", alim_precision_name(r.precision));
        if (r.precision == ALIM_PRECISION_BF16) cJSON_AddStringToObject(el, "bf16_isa", alim_bf16_isa());
        if (opt->config) cJSON_AddItemToObject(meta, "config", cJSON_Duplicate(opt->config, 1));
        char *text = alim_json_print(meta, 1);
        cJSON_Delete(meta);
        char *mp = report_path(&r, "report.json");
        st = (text && mp) ? alim_file_write_atomic(mp, text, strlen(text), err)
                          : alim_error_set(err, ALIM_ENOMEM, "report", "out of memory");
        free(text);
        free(mp);
    }
    /* index.html last: its presence means the report is complete */
    if (!st) st = alim_file_write_atomic(index, r.html.s, r.html.len, err);
    alim_dir_lock_release(lock);
    free(index);
    free(r.html.s);
    if (!st && summary) {
        summary->seconds = seconds;
        summary->n_figures = r.n_fig;
        summary->n_tables = r.n_tab;
        summary->cells_total = r.cells_total;
        summary->cells_run = r.cells_run;
        summary->cells_reused = r.cells_reused;
        summary->data_reused = r.data_reused;
    }
    return st;
}
