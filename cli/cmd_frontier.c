/* cmd_frontier.c — `alim frontier`: reward-KL frontier of KL-RL and best-of-N. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/tilt.h"
#include "asym.h"
#include "cli.h"

const char cmd_frontier_help[] =
    "usage: alim frontier DIST.csv [--points P] [--n-max N | --n-list N1,N2,...] [--csv FILE]\n"
    "                     [--json] [--normalize]\n"
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
    "options:\n"
    "  --points P       points on the RL curve (default 41, at least 2)\n"
    "  --n-max N        largest N of the BoN points (default 1e6)\n"
    "  --n-list LIST    explicit BoN sizes, comma-separated (each >= 1)\n"
    "  --csv FILE       write the CSV to FILE atomically (default: stdout)\n"
    "  --json           one JSON object {rl: [...], bon: [...]} instead of CSV\n"
    "  --normalize      rescale p to sum 1\n"
    "\n"
    "example:\n"
    "  alim frontier d.csv --n-list 1,2,4,16 --points 5\n";

int cmd_frontier(int argc, char **argv)
{
    static const struct option opts[] = {{"points", required_argument, 0, 'P'}, {"n-max", required_argument, 0, 'M'},
                                         {"n-list", required_argument, 0, 'L'}, {"csv", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},         {"normalize", no_argument, 0, 'z'},
                                         {0, 0, 0, 0}};
    size_t points = 41;
    double nmax = 1e6, *nlist = NULL;
    size_t nn = 0;
    int json = 0, normalize = 0;
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
