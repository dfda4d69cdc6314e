/* cmd_budget.c — `alim budget`: how big may N be for a KL budget, and for a target reward. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/tilt.h"
#include "asym.h"
#include "cli.h"

const char cmd_budget_help[] =
    "usage: alim budget DIST.csv --kl D [--reward X] [--json] [--normalize]\n"
    "\n"
    "How many best-of-N draws a KL budget buys (DIST.csv: rows p,r; random ties):\n"
    "  n_max          the largest integer N with exact KL(pi_M || p) <= D for every M <= N\n"
    "                 ('inf' when D >= log 1/q_L, q_L = mass of the top reward level: the KL of\n"
    "                 best-of-N never reaches it). Found by doubling then bisection; for\n"
    "                 n_max <= 10^5 every smaller M is checked too (verified = true), since\n"
    "                 monotonicity of the exact KL in N is observed, not proved.\n"
    "  n_bound        the bound-only answer: the largest N with log N - (N-1)/N <= D.\n"
    "  rl_reward      what KL-RL achieves with the same budget, R*(D), and its lambda.\n"
    "With --reward X also the smallest N whose expected reward reaches X (E r rises with N,\n"
    "so this is exact; 'inf' if X >= max r while lower rewards exist).\n"
    "\n"
    "options:\n"
    "  --kl D          KL budget in nats (>= 0)\n"
    "  --reward X      target expected reward\n"
    "  --json          one JSON object: n_max, kl_at_n_max_nats, reward_at_n_max, n_bound,\n"
    "                  verified, rl_lambda, rl_reward, n_for_reward, ...\n"
    "  --normalize     rescale p to sum 1\n"
    "\n"
    "example:\n"
    "  alim budget d.csv --kl 0.5 --reward 1.9     # n_max 3 (N = 4 needs 0.5598 nats)\n";

int cmd_budget(int argc, char **argv)
{
    static const struct option opts[] = {{"kl", required_argument, 0, 'k'}, {"reward", required_argument, 0, 'r'},
                                         {"json", no_argument, 0, 'j'},     {"normalize", no_argument, 0, 'z'},
                                         {0, 0, 0, 0}};
    double kl = NAN, target = NAN;
    int have_k = 0, have_r = 0, json = 0, normalize = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (cli_parse_double("--kl", optarg, &kl)) return CLI_EXIT_USAGE;
            if (kl < 0) return cli_error("--kl", "KL budget must be >= 0 (got %g)", kl);
            have_k = 1;
            break;
        case 'r':
            if (cli_parse_double("--reward", optarg, &target)) return CLI_EXIT_USAGE;
            have_r = 1;
            break;
        case 'j': json = 1; break;
        case 'z': normalize = 1; break;
        case ':': return cli_usage_error("budget", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("budget", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("budget", "expected one DIST.csv argument");
    if (!have_k) return cli_usage_error("budget", "--kl D is required");
    alim_rdist d;
    int rc = asym_load(argv[optind], normalize, &d);
    if (rc) return rc;
    alim_error err;
    alim_error_clear(&err);
    alim_levels lv;
    if (alim_levels_from_rdist_nomap(&d, &lv, &err)) {
        alim_rdist_free(&d);
        return cli_fail(&err);
    }
    alim_bon_budget bb;
    alim_tilt_solution rl;
    double nrew = NAN, rew_at = NAN;
    if (alim_bon_budget_kl(&lv, kl, &bb, &err) || alim_tilt_solve_kl(&d, kl, &rl, &err) ||
        (have_r && alim_bon_min_n_for_reward(&lv, target, &nrew, &err))) {
        rc = cli_fail(&err);
        goto done;
    }
    if (isfinite(bb.n_max)) {
        alim_bon_size N;
        alim_bon_size_from_n(bb.n_max, &N, NULL);
        alim_bon_result b;
        alim_bon_eval(&lv, N, &b);
        rew_at = b.reward;
    } else rew_at = lv.v[lv.n - 1];
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", argv[optind]);
        cli_json_add_number(j, "kl_budget_nats", kl);
        cli_json_add_number(j, "n_max", bb.n_max);
        cli_json_add_number(j, "kl_at_n_max_nats", bb.kl_at_n);
        cli_json_add_number(j, "reward_at_n_max", rew_at);
        cJSON_AddBoolToObject(j, "verified", bb.verified);
        cli_json_add_number(j, "n_bound", bb.n_bound);
        cli_json_add_number(j, "kl_saturation_nats", 0.0 - lv.log_q[lv.n - 1]);
        cli_json_add_number(j, "rl_lambda", rl.pt.lambda);
        cJSON_AddBoolToObject(j, "rl_saturated", rl.saturated);
        cli_json_add_number(j, "rl_reward", rl.pt.mean);
        if (have_r) {
            cli_json_add_number(j, "target_reward", target);
            cli_json_add_number(j, "n_for_reward", nrew);
        }
        rc = cli_print_json(j);
    } else {
        printf("KL budget %.10g nats on %s (%zu reward levels)\n", kl, argv[optind], lv.n);
        if (isfinite(bb.n_max))
            printf("  largest N (exact KL)    %.17g   (KL %.12g nats, E r %.12g)%s\n", bb.n_max, bb.kl_at_n, rew_at,
                   bb.verified ? "" : "  [not verified below: KL assumed increasing]");
        else printf("  largest N (exact KL)    inf   (KL of best-of-N stays below log 1/q_L = %.12g)\n", bb.kl_at_n);
        printf("  largest N (bound only)  %.17g   (log N - (N-1)/N <= budget)\n", bb.n_bound);
        printf("  KL-RL with this budget  reward %.12g, lambda %.12g%s\n", rl.pt.mean, rl.pt.lambda,
               rl.saturated ? " (saturated)" : "");
        if (have_r) {
            if (isfinite(nrew)) printf("  smallest N for E r >= %.10g   %.17g\n", target, nrew);
            else printf("  smallest N for E r >= %.10g   inf (unreachable)\n", target);
        }
    }
done:
    alim_levels_free(&lv);
    alim_rdist_free(&d);
    return rc;
}
