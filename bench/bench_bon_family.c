/* bench_bon_family.c — timing driver of bench/bench_bon_family.sh (built by the script against
 * libalim.a; not part of `make`): reads a p,r CSV with alim's reader, builds the reward levels once
 * (as `alim bon`), then times each method's level law plus the common evaluation
 * (alim_bonfam_eval_law), the same split as bench_bon_family.py.
 *   bench_bon_family FILE N MU LAMBDA   -> one JSON line */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "alim/bon.h"
#include "alim/bonfam.h"
#include "alim/rdist.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_point(const char *name, double sec, const alim_bonfam_point *pt, int last)
{
    printf("\"%s\": {\"seconds\": %.6f, \"kl_nats\": %.17g, \"reward\": %.17g, \"win_rate\": %.17g}%s", name, sec,
           pt->kl_nats, pt->reward, pt->win_rate, last ? "" : ", ");
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_bon_family FILE N MU LAMBDA\n");
        return 2;
    }
    const double Nv = atof(argv[2]), mu = atof(argv[3]), lambda = atof(argv[4]);
    alim_error err;
    alim_rdist d;
    alim_levels lv;
    double t0 = now();
    if (alim_rdist_read_csv(&d, argv[1], ALIM_RDIST_SUM_TOL, 0, &err)) {
        fprintf(stderr, "%s: %s\n", err.where, err.what);
        return 2;
    }
    double t1 = now();
    if (alim_levels_from_rdist_nomap(&d, &lv, &err)) {
        fprintf(stderr, "%s: %s\n", err.where, err.what);
        return 1;
    }
    double t2 = now();
    printf("{\"read_seconds\": %.6f, \"levels_seconds\": %.6f, \"levels\": %zu, ", t1 - t0, t2 - t1, lv.n);
    double *lp = malloc(lv.n * sizeof *lp);
    alim_bonfam_point pt;
    alim_bon_size N = {Nv, log(Nv)}, M = {mu, log(mu)};

    t0 = now();
    alim_bon_level_log_probs(&lv, N, lp);
    alim_bonfam_eval_law(&lv, NULL, lp, &pt);
    print_point("bon", now() - t0, &pt, 0);

    t0 = now();
    alim_bop_level_log_probs(&lv, M, lp);
    alim_bonfam_eval_law(&lv, NULL, lp, &pt);
    print_point("bop", now() - t0, &pt, 0);

    alim_soft_info si;
    t0 = now();
    if (alim_soft_bon_level_log_probs(&lv, N, lambda, lp, &si, &err)) {
        fprintf(stderr, "%s: %s\n", err.where, err.what);
        return 1;
    }
    const double tl = now() - t0;
    alim_bonfam_eval_law(&lv, NULL, lp, &pt);
    const double ts = now() - t0;
    print_point("soft", ts, &pt, 1);
    printf(", \"soft_law_seconds\": %.6f, \"soft_nodes\": %zu, \"soft_step_error\": %.3g, \"soft_mass_error\": %.3g}\n",
           tl, si.nodes, si.step_error, si.mass_error);
    free(lp);
    alim_levels_free(&lv);
    alim_rdist_free(&d);
    return 0;
}
