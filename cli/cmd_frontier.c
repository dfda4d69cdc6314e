/* cmd_frontier.c — `alim frontier`: reward-KL frontier of KL-RL and best-of-N. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/bonfam.h"
#include "alim/tilt.h"
#include "asym.h"
#include "cli.h"

const char cmd_frontier_help[] =
    "usage: alim frontier DIST.csv [--points P] [--n-max N | --n-list N1,N2,...] [--csv FILE]\n"
    "                     [--json] [--normalize]\n"
    "       alim frontier DIST.csv --family [--soft-n N] [--points P] [--n-max N | --n-list LIST]\n"
    "                     [--csv FILE] [--json] [--normalize]\n"
    "\n"
    "The reward-KL frontier of the two alignment methods on one response space (DIST.csv:\n"
    "rows p,r), as CSV. KL-RL: the curve (KL(phi_l || p), E_phi r) of the optimal tilts, which\n"
    "is also the Cramer rate function x -> I_p(x) read sideways; P points equally spaced in KL\n"
    "from 0 to the saturation value log 1/p(A). Best-of-N: the points (KL(pi_N || p), E r)\n"
    "for N = 1..10, then doubling up to --n-max. For every BoN point the 'exchange rate'\n"
    "with KL-RL: the RL reward at the same KL R*(KL), the shortfall R*(KL) - E r >= 0, the\n"
    "lambda of that RL policy and KL(pi_N || phi_lambda) (how far BoN is from the optimum).\n"
    "\n"
    "CSV columns (empty where not applicable):\n"
    "  method,lambda,n,kl_nats,reward,kl_bound_nats,win_rate,rl_reward_same_kl,shortfall,\n"
    "  lambda_same_kl,kl_bon_to_rl_nats\n"
    "method is 'rl' or 'bon'; lambda is 'inf' at the saturated end of the RL curve.\n"
    "\n"
    "With --family: win rate and reward against KL for the four methods on one CSV, columns\n"
    "  method,param,kl_nats,reward,win_rate,win_rate_strict,gold_reward,win_rate_bound,\n"
    "  kl_bound_nats,win_rate_optimal\n"
    "method bon (param N), bop (Best-of-Poisson, param mu = N - 1: the same mean N), soft (soft\n"
    "best-of-N at N = --soft-n, param lambda on a grid 0, 0.01..100) and tilt (param lambda, P points\n"
    "equally spaced in KL). Bounds: bon N/(N+1) and log N - (N-1)/N (Beirami et al.), bop their\n"
    "means over N; win_rate_optimal = the best win rate at that KL for an atomless reward (the\n"
    "quantile tilt; Gui et al.). gold_reward needs a third column g in DIST.csv; then --json also\n"
    "gives the gold-maximising parameter of each method (hedge: N-dagger, mu, lambda).\n"
    "\n"
    "options:\n"
    "  --points P       points on the RL curve (default 41, at least 2)\n"
    "  --family         the four-method win-rate/reward/gold-vs-KL table described above\n"
    "  --soft-n N       N of the soft best-of-N rows (default 16)\n"
    "  --n-max N        largest N of the BoN points (default 1e6)\n"
    "  --n-list LIST    explicit BoN sizes, comma-separated (each >= 1)\n"
    "  --csv FILE       write the CSV to FILE atomically (default: stdout)\n"
    "  --json           one JSON object {rl: [...], bon: [...]} instead of CSV\n"
    "  --normalize      rescale p to sum 1\n"
    "\n"
    "example:\n"
    "  alim frontier d.csv --n-list 1,2,4,16 --points 5\n";

/* One row of the family table. */
static void family_row(FILE *fp, cJSON *arr, const char *method, double param, const alim_bonfam_point *pt, double wb,
                       double kb)
{
    const double v[9] = {param, pt->kl_nats, pt->reward, pt->win_rate, pt->win_rate_strict, pt->gold_reward, wb, kb,
                         alim_bon_win_rate_optimal(pt->kl_nats, NULL)};
    static const char *keys[9] = {"param", "kl_nats", "reward", "win_rate", "win_rate_strict", "gold_reward",
                                  "win_rate_bound", "kl_bound_nats", "win_rate_optimal"};
    if (arr) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "method", method);
        for (int t = 0; t < 9; t++)
            if (!isnan(v[t])) cli_json_add_number(e, keys[t], v[t]);
        cJSON_AddItemToArray(arr, e);
        return;
    }
    fputs(method, fp);
    for (int t = 0; t < 9; t++) {
        fputc(',', fp);
        if (!isnan(v[t])) asym_csv_num(fp, v[t]);
    }
    fputc('\n', fp);
}

/* `alim frontier --family`: bon, bop, soft and tilt on one table. */
static int frontier_family(const char *path, int normalize, size_t points, const double *nlist, size_t nn, double soft_n,
                           const char *csv, int json)
{
    alim_error err;
    alim_error_clear(&err);
    alim_rdist d, ld = {0};
    double *gold = NULL, *gl = NULL;
    if (alim_rdist_read_gold_csv(&d, &gold, path, ALIM_RDIST_SUM_TOL, normalize, &err)) return cli_fail(&err);
    alim_levels lv = {0};
    int rc = 0;
    cJSON *j = NULL, *arr = NULL;
    asym_out o = {0};
    if (alim_levels_from_rdist(&d, &lv, &err)) goto fail;
    if (gold) {
        if (!(gl = malloc(lv.n * sizeof *gl))) {
            alim_error_set(&err, ALIM_ENOMEM, "frontier", "out of memory");
            goto fail;
        }
        if (alim_levels_gold(&d, &lv, gold, gl, &err)) goto fail;
    }
    if ((rc = asym_rdist_of_levels(&lv, &ld))) goto done;
    if (json) {
        j = cJSON_CreateObject();
        arr = cJSON_AddArrayToObject(j, "rows");
    } else {
        if ((rc = asym_out_open(&o, csv))) goto done;
        fputs("method,param,kl_nats,reward,win_rate,win_rate_strict,gold_reward,win_rate_bound,kl_bound_nats,"
              "win_rate_optimal\n",
              o.fp);
    }
    alim_bonfam_point pt;
    for (size_t i = 0; i < nn; i++) {
        alim_bon_size N = {nlist[i], log(nlist[i])};
        if (alim_bonfam_eval(&lv, gl, ALIM_METHOD_BON, N.n, 0, &pt, &err)) goto fail;
        family_row(o.fp, arr, "bon", N.n, &pt, N.n / (N.n + 1), alim_bon_kl_bound(N));
    }
    for (size_t i = 0; i < nn; i++) {
        alim_bon_size M = {nlist[i] - 1, log(nlist[i] - 1)};
        if (alim_bonfam_eval(&lv, gl, ALIM_METHOD_BOP, M.n, 0, &pt, &err)) goto fail;
        family_row(o.fp, arr, "bop", M.n, &pt, alim_bop_win_rate_bound(M), alim_bop_kl_bound(M));
    }
    for (size_t i = 0; i < points; i++) {
        const double lam = i == 0 ? 0 : 0.01 * pow(1e4, (double)(i - 1) / (double)(points > 2 ? points - 2 : 1));
        if (alim_bonfam_eval(&lv, gl, ALIM_METHOD_SOFT, soft_n, lam, &pt, &err)) goto fail;
        family_row(o.fp, arr, "soft", lam, &pt, NAN, NAN);
    }
    const double kmax = alim_tilt_kl_max(&ld);
    for (size_t i = 0; i < points; i++) {
        alim_tilt_solution s;
        if (alim_tilt_solve_kl(&ld, kmax * (double)i / (double)(points - 1), &s, &err)) goto fail;
        if (alim_bonfam_eval(&lv, gl, ALIM_METHOD_TILT, s.pt.lambda, 0, &pt, &err)) goto fail;
        family_row(o.fp, arr, "tilt", s.pt.lambda, &pt, NAN, NAN);
    }
    if (json) {
        cJSON_AddNumberToObject(j, "soft_n", soft_n);
        cli_json_add_number(j, "reference_reward", d.mean);
        if (gl) {
            double gm = 0;
            for (size_t t = 0; t < d.n; t++) gm += d.p[t] * gold[t];
            cli_json_add_number(j, "reference_gold_reward", gm);
            cJSON *h = cJSON_AddObjectToObject(j, "hedge");
            const double nmax = nn ? nlist[nn - 1] : 1e6;
            struct {
                alim_bon_method m;
                const char *key;
                double aux, lo, hi;
            } hs[4] = {{ALIM_METHOD_BON, "bon_n", 0, 1, nmax},
                       {ALIM_METHOD_BOP, "bop_mu", 0, 0, nmax},
                       {ALIM_METHOD_SOFT, "soft_lambda", soft_n, 0, 100},
                       {ALIM_METHOD_TILT, "tilt_lambda", 0, 0, 100}};
            for (int t = 0; t < 4; t++) {
                alim_hedge_result hr;
                if (alim_bonfam_hedge(&lv, gl, hs[t].m, hs[t].aux, hs[t].lo, hs[t].hi, &hr, &err)) goto fail;
                cJSON *e = cJSON_AddObjectToObject(h, hs[t].key);
                cli_json_add_number(e, "best", hr.param);
                cli_json_add_number(e, "gold_reward", hr.at.gold_reward);
                cli_json_add_number(e, "kl_nats", hr.at.kl_nats);
                cJSON_AddBoolToObject(e, "interior", hr.interior);
            }
        }
        rc = cli_print_json(j);
        j = NULL;
    } else rc = asym_out_close(&o);
    goto done;
fail:
    if (o.atomic) alim_atomic_abort(&o.af);
    rc = cli_fail(&err);
done:
    cJSON_Delete(j);
    free(gl);
    free(gold);
    alim_levels_free(&lv);
    alim_rdist_free(&ld);
    alim_rdist_free(&d);
    return rc;
}

int cmd_frontier(int argc, char **argv)
{
    static const struct option opts[] = {{"points", required_argument, 0, 'P'}, {"n-max", required_argument, 0, 'M'},
                                         {"n-list", required_argument, 0, 'L'}, {"csv", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},         {"normalize", no_argument, 0, 'z'},
                                         {"family", no_argument, 0, 'F'},       {"soft-n", required_argument, 0, 'S'},
                                         {0, 0, 0, 0}};
    size_t points = 41;
    double nmax = 1e6, *nlist = NULL;
    size_t nn = 0;
    int json = 0, normalize = 0, family = 0;
    double soft_n = 16;
    const char *csv = "-";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            if (cli_parse_size("--points", optarg, &points)) return CLI_EXIT_USAGE;
            if (points < 2) return cli_error("--points", "need at least 2 points");
            break;
        case 'M':
            if (cli_parse_double("--n-max", optarg, &nmax)) return CLI_EXIT_USAGE;
            if (!(nmax >= 1) || isinf(nmax)) return cli_error("--n-max", "N must be a finite number >= 1");
            break;
        case 'L':
            free(nlist);
            if (cli_parse_double_list("--n-list", optarg, &nlist, &nn)) return CLI_EXIT_USAGE;
            for (size_t i = 0; i < nn; i++)
                if (!(nlist[i] >= 1) || isinf(nlist[i])) {
                    free(nlist);
                    return cli_error("--n-list", "N must be a finite number >= 1 (got %g)", nlist[i]);
                }
            break;
        case 'c': csv = optarg; break;
        case 'j': json = 1; break;
        case 'z': normalize = 1; break;
        case 'F': family = 1; break;
        case 'S':
            if (cli_parse_double("--soft-n", optarg, &soft_n)) return CLI_EXIT_USAGE;
            if (!(soft_n >= 1) || isinf(soft_n)) return cli_error("--soft-n", "N must be a finite number >= 1");
            break;
        case ':': free(nlist); return cli_usage_error("frontier", "option '%s' needs a value", argv[optind - 1]);
        default: free(nlist); return cli_usage_error("frontier", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        free(nlist);
        return cli_usage_error("frontier", "expected one DIST.csv argument");
    }
    if (!nlist) {
        nlist = malloc(80 * sizeof *nlist);
        if (!nlist) return cli_error("frontier", "out of memory");
        for (double v = 1; v <= nmax && nn < 80; v = v < 10 ? v + 1 : v * 2) nlist[nn++] = v;
    }
    if (family) {
        int frc = frontier_family(argv[optind], normalize, points, nlist, nn, soft_n, csv, json);
        free(nlist);
        return frc;
    }
    alim_rdist d;
    int rc = asym_load(argv[optind], normalize, &d);
    if (rc) {
        free(nlist);
        return rc;
    }
    alim_error err;
    alim_error_clear(&err);
    alim_levels lv;
    if (alim_levels_from_rdist_nomap(&d, &lv, &err)) {
        free(nlist);
        alim_rdist_free(&d);
        return cli_fail(&err);
    }
    /* KL-RL quantities depend on the reward law only: solve them on the levels */
    alim_rdist ld;
    if ((rc = asym_rdist_of_levels(&lv, &ld))) {
        free(nlist);
        alim_levels_free(&lv);
        alim_rdist_free(&d);
        return rc;
    }
    const double kmax = alim_tilt_kl_max(&ld);
    cJSON *j = json ? cJSON_CreateObject() : NULL;
    cJSON *jr = json ? cJSON_AddArrayToObject(j, "rl") : NULL, *jb = json ? cJSON_AddArrayToObject(j, "bon") : NULL;
    asym_out o = {0};
    if (!json && (rc = asym_out_open(&o, csv))) goto done;
    if (!json)
        fputs("method,lambda,n,kl_nats,reward,kl_bound_nats,win_rate,rl_reward_same_kl,shortfall,lambda_same_kl,"
              "kl_bon_to_rl_nats\n",
              o.fp);
    alim_progress prog = cli_progress();
    const double total = (double)(points + nn);
    for (size_t i = 0; i < points; i++) {
        alim_progress_report(&prog, "frontier", (double)i, total);
        alim_tilt_solution s;
        double k = kmax * (double)i / (double)(points - 1);
        if (alim_tilt_solve_kl(&ld, k, &s, &err)) goto fail;
        if (json) {
            cJSON *e = cJSON_CreateObject();
            cli_json_add_number(e, "lambda", s.pt.lambda);
            cli_json_add_number(e, "kl_nats", s.pt.kl_nats);
            cli_json_add_number(e, "reward", s.pt.mean);
            cJSON_AddItemToArray(jr, e);
        } else {
            fputs("rl,", o.fp);
            asym_csv_num(o.fp, s.pt.lambda);
            fputs(",,", o.fp);
            asym_csv_num(o.fp, s.pt.kl_nats);
            fputc(',', o.fp);
            asym_csv_num(o.fp, s.pt.mean);
            fputs(",,,,,,\n", o.fp);
        }
    }
    for (size_t i = 0; i < nn; i++) {
        alim_progress_report(&prog, "frontier", (double)(points + i), total);
        alim_bon_size N;
        if (alim_bon_size_from_n(nlist[i], &N, &err)) goto fail;
        alim_bon_result b;
        alim_bon_eval(&lv, N, &b);
        alim_tilt_solution s;
        if (alim_tilt_solve_kl(&ld, b.kl_nats, &s, &err)) goto fail;
        double v[9] = {N.n, b.kl_nats, b.reward, b.kl_bound_nats, b.win_rate, s.pt.mean, s.pt.mean - b.reward, s.pt.lambda,
                       alim_tilt_kl_from(&s.pt, b.kl_nats, b.reward)};
        if (json) {
            static const char *keys[9] = {"n", "kl_nats", "reward", "kl_bound_nats", "win_rate", "rl_reward_same_kl",
                                          "shortfall", "lambda_same_kl", "kl_bon_to_rl_nats"};
            cJSON *e = cJSON_CreateObject();
            for (int t = 0; t < 9; t++) cli_json_add_number(e, keys[t], v[t]);
            cJSON_AddItemToArray(jb, e);
        } else {
            fputs("bon,,", o.fp);
            for (int t = 0; t < 9; t++) {
                if (t) fputc(',', o.fp);
                asym_csv_num(o.fp, v[t]);
            }
            fputc('\n', o.fp);
        }
    }
    alim_progress_report(&prog, "frontier", total, total);
    cli_progress_done();
    if (json) {
        cli_json_add_number(j, "kl_max_nats", kmax);
        cli_json_add_number(j, "reference_reward", d.mean);
        rc = cli_print_json(j);
        j = NULL;
    } else rc = asym_out_close(&o);
    goto done;
fail:
    cli_progress_done();
    if (o.atomic) alim_atomic_abort(&o.af);
    rc = cli_fail(&err);
done:
    cJSON_Delete(j);
    free(nlist);
    alim_levels_free(&lv);
    alim_rdist_free(&ld);
    alim_rdist_free(&d);
    return rc;
}
