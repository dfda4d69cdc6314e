/* cli.c — shared helpers of the command-line front end (see cli.h). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include "alim/dist.h"
#include "alim/io.h"

#include <cblas.h>
#include <omp.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* a rank other than 0 of an MPI job (cli_with_dist): rank 0 prints the errors */
int cli_quiet;

int cli_error(const char *where, const char *fmt, ...)
{
    fflush(stdout);
    if (cli_quiet) return CLI_EXIT_USAGE;
    fputs("alim: error: ", stderr);
    if (where && *where) fprintf(stderr, "%s: ", where);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CLI_EXIT_USAGE;
}

int cli_fail(const alim_error *err)
{
    char what[2 * ALIM_ERROR_WHAT_MAX];
    cli_flag_hints(err->what[0] ? err->what : alim_status_name(err->status), what, sizeof what);
    cli_error(cli_flag_of(err->where), "%s", what);
    return alim_status_is_user_error(err->status) ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    fflush(stdout);
    if (cli_quiet) return CLI_EXIT_USAGE;
    fputs("alim: error: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (try 'alim %s --help')\n", cmd);
    return CLI_EXIT_USAGE;
}

int cli_parse_double(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0') return cli_error(opt, "'%s' is not a number", s);
    if (isnan(v)) return cli_error(opt, "NaN is not allowed");
    if (errno == ERANGE && isinf(v)) return cli_error(opt, "'%s' is out of range", s);
    *out = v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (*s == '-') return cli_error(opt, "'%s' must be a non-negative integer", s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0') return cli_error(opt, "'%s' is not a non-negative integer", s);
    if (errno == ERANGE) return cli_error(opt, "'%s' is out of range", s);
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_size(const char *opt, const char *s, size_t *out)
{
    uint64_t v;
    int rc = cli_parse_u64(opt, s, &v);
    if (rc) return rc;
    if (v > SIZE_MAX) return cli_error(opt, "'%s' is out of range", s);
    *out = (size_t)v;
    return 0;
}

int cli_parse_double_list(const char *opt, const char *s, double **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *c = s; *c; c++)
        if (*c == ',') cap++;
    double *v = malloc(cap * sizeof *v);
    if (!v) return cli_error(opt, "out of memory");
    char *copy = strdup(s);
    if (!copy) return free(v), cli_error(opt, "out of memory");
    size_t k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (cli_parse_double(opt, tok, &v[k])) {
            free(copy);
            free(v);
            return CLI_EXIT_USAGE;
        }
        k++;
    }
    free(copy);
    if (k == 0) {
        free(v);
        return cli_error(opt, "empty list");
    }
    *out = v;
    *n = k;
    return 0;
}

int cli_lm_set_threads(const char *s)
{
    size_t n;
    int rc = cli_parse_size("--threads", s, &n);
    if (rc) return rc;
    if (n < 1 || n > 1024) return cli_error("--threads", "must be between 1 and 1024");
    omp_set_num_threads((int)n);
    openblas_set_num_threads((int)n);
    return 0;
}

int cli_parse_precision(const char *s, alim_precision *p)
{
    const char *opt = "--precision";
    if (!s) {
        s = getenv("ALIM_PRECISION");
        opt = "ALIM_PRECISION";
        if (!s || !*s) {
            *p = ALIM_PRECISION_AUTO;
            return 0;
        }
    }
    alim_error err;
    alim_error_clear(&err);
    if (alim_precision_parse(s, p, opt, &err)) return cli_error(opt, "%s", err.what);
    return 0;
}

int cli_parse_jobs(const char *s, int *jobs)
{
    if (!s) {
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN), t = omp_get_max_threads();
        *jobs = cpus > t ? (int)(cpus / t) : 1;
        return 0;
    }
    size_t n;
    int rc = cli_parse_size("--jobs", s, &n);
    if (rc) return rc;
    if (n < 1 || n > 256) return cli_error("--jobs", "must be between 1 and 256");
    *jobs = (int)n;
    return 0;
}

int cli_with_dist(int (*cmd)(int, char **), int argc, char **argv, int (*then)(int))
{
    alim_error err;
    alim_error_clear(&err);
    if (alim_dist_init(&err)) return cli_fail(&err);
    const int peer = alim_dist_multi() && alim_dist_rank() != 0;
    if (peer && !freopen("/dev/null", "w", stdout)) return CLI_EXIT_RUNTIME;
    cli_quiet = peer;
    int rc = cmd(argc, argv);
    if (then) rc = then(rc);
    fflush(stdout);
    alim_error_clear(&err);
    if (alim_dist_multi()) alim_dist_barrier(&err);
    if (alim_dist_finalize(&err) && !rc) rc = cli_fail(&err);
    return rc;
}

int cli_print_json(cJSON *obj)
{
    char *s = alim_json_print(obj, 1);
    cJSON_Delete(obj);
    if (!s) {
        fputs("alim: error: out of memory printing JSON\n", stderr);
        return CLI_EXIT_RUNTIME;
    }
    puts(s);
    free(s);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}

cJSON *cli_json_add_number(cJSON *obj, const char *key, double v)
{
    return alim_json_add_number(obj, key, v);
}

cJSON *cli_json_add_array(cJSON *obj, const char *key, const double *v, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    if (!a) return NULL;
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, alim_json_create_number(v[i]));
    return a;
}

/* ---- progress line ---------------------------------------------------------------- */

static struct {
    int enabled, drawn;
    double start, last;
} progress_state;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int progress_draw(void *ctx, const char *stage, double done, double total)
{
    (void)ctx;
    if (!progress_state.enabled) return 0;
    double t = now_seconds();
    if (progress_state.start == 0.0) progress_state.start = t;
    if (t - progress_state.last < 0.25 && done < total) return 0;
    progress_state.last = t;
    double frac = total > 0 ? done / total : 0.0;
    double el = t - progress_state.start;
    char eta[32] = "";
    if (frac > 0.01 && frac < 1.0) snprintf(eta, sizeof eta, ", ETA %.0f s", el * (1.0 - frac) / frac);
    fprintf(stderr, "\r%s: %.0f/%.0f (%3.0f%%%s)   ", stage, done, total, 100.0 * frac, eta);
    fflush(stderr);
    progress_state.drawn = 1;
    return 0;
}

alim_progress cli_progress(void)
{
    const char *e = getenv("ALIM_PROGRESS");
    progress_state.enabled = e ? strcmp(e, "0") != 0 : isatty(STDERR_FILENO);
    progress_state.start = 0.0;
    progress_state.last = 0.0;
    alim_progress p = {progress_draw, NULL};
    return p;
}

void cli_progress_done(void)
{
    if (progress_state.drawn) fputc('\n', stderr);
    progress_state.drawn = 0;
}
