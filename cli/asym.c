/* asym.c — helpers shared by the asymptotics-engine commands (see asym.h). */
#define _POSIX_C_SOURCE 200809L
#include "asym.h"

#include <time.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int asym_load(const char *path, int normalize, alim_rdist *d)
{
    alim_error err;
    alim_error_clear(&err);
    if (alim_rdist_read_csv(d, path, ALIM_RDIST_SUM_TOL, normalize, &err)) return cli_fail(&err);
    return 0;
}

int asym_parse_n(const char *opt, const char *s, alim_bon_size *N)
{
    alim_error err;
    const char *x = NULL;
    char buf[128];
    if (!strncmp(s, "e^", 2)) x = s + 2;
    else if (!strncmp(s, "exp(", 4) && strlen(s) < sizeof buf && s[strlen(s) - 1] == ')') {
        snprintf(buf, sizeof buf, "%.*s", (int)(strlen(s) - 5), s + 4);
        x = buf;
    }
    if (x) {
        double l;
        if (cli_parse_double(opt, x, &l)) return CLI_EXIT_USAGE;
        if (alim_bon_size_from_log(l, N, &err)) return cli_error(opt, "N = e^%s: the exponent must be finite and >= 0", x);
        return 0;
    }
    double v;
    if (cli_parse_double(opt, s, &v)) return CLI_EXIT_USAGE;
    if (alim_bon_size_from_n(v, N, &err)) return cli_error(opt, "N must be a finite number >= 1 (got '%s')", s);
    return 0;
}

int asym_out_open(asym_out *o, const char *path)
{
    memset(o, 0, sizeof *o);
    if (!strcmp(path, "-")) {
        o->fp = stdout;
        return 0;
    }
    alim_error err;
    if (alim_atomic_open(&o->af, path, &err)) return cli_fail(&err);
    o->fp = o->af.fp;
    o->atomic = 1;
    return 0;
}

int asym_out_close(asym_out *o)
{
    if (!o->atomic) return fflush(stdout) == 0 ? 0 : CLI_EXIT_RUNTIME;
    alim_error err;
    if (alim_atomic_commit(&o->af, &err)) return cli_fail(&err);
    return 0;
}

void asym_csv_num(FILE *fp, double v)
{
    if (isnan(v)) fputs("nan", fp);
    else if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", fp);
    else fprintf(fp, "%.17g", v);
}

double asym_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int asym_rdist_of_levels(const alim_levels *lv, alim_rdist *out)
{
    alim_error err;
    double *q = malloc(lv->n * sizeof *q);
    if (!q) return cli_error("levels", "out of memory");
    for (size_t k = 0; k < lv->n; k++) q[k] = exp(lv->log_q[k]);
    alim_status st = alim_rdist_from_arrays(out, q, lv->v, lv->n, 1e-6, 1, "levels", &err);
    free(q);
    return st ? cli_fail(&err) : 0;
}
