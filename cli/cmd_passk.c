/* cmd_passk.c — `alim passk`: the unbiased pass@k estimator, its variance, and the exact value. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bonfam.h"
#include "cli.h"

const char cmd_passk_help[] =
    "usage: alim passk --n N --c C --k K [--p THETA] [--json]\n"
    "\n"
    "pass@k for a binary reward (success/failure). From n samples with c successes the unbiased\n"
    "estimator (Chen et al. 2021)\n"
    "    pass@k_hat = 1 - C(n-c, k)/C(n, k)\n"
    "computed as a product of log1p terms (no overflow, no cancellation), with\n"
    "    var_plugin   = its exact variance at theta = c/n (a sum over the binomial law of c)\n"
    "    var_unbiased = V^2 - C(n-c, 2k)/C(n, 2k), V = C(n-c, k)/C(n, k): an unbiased estimate of\n"
    "                   the variance (2k <= n; may be negative)\n"
    "    std_error    = sqrt(var_plugin)\n"
    "and the exact value under the model, pass@k = 1 - (1 - theta)^k (= best-of-k's expected reward;\n"
    "`alim bon DIST.csv --n K` prints it as pass_at_k for rewards in {0, 1}).\n"
    "\n"
    "options:\n"
    "  --n N        samples drawn (>= 1)\n"
    "  --c C        successes among them (0 <= C <= N)\n"
    "  --k K        k of pass@k (1 <= K <= N)\n"
    "  --p THETA    a success probability: adds the exact pass@k and the estimator's variance at THETA\n"
    "  --json       one JSON object: n, c, k, pass_at_k_estimate, var_plugin, var_unbiased, std_error,\n"
    "               (with --p) theta, pass_at_k_exact, var_at_theta\n"
    "\n"
    "example:\n"
    "  alim passk --n 10 --c 3 --k 2     # 1 - C(7,2)/C(10,2) = 0.533333\n";

int cmd_passk(int argc, char **argv)
{
    static const struct option opts[] = {{"n", required_argument, 0, 'n'}, {"c", required_argument, 0, 'c'},
                                         {"k", required_argument, 0, 'k'}, {"p", required_argument, 0, 'p'},
                                         {"json", no_argument, 0, 'j'},    {0, 0, 0, 0}};
    uint64_t n = 0, c = 0, k = 0;
    int have[3] = {0, 0, 0}, json = 0;
    double theta = NAN;
    int ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (cli_parse_u64("--n", optarg, &n)) return CLI_EXIT_USAGE;
            have[0] = 1;
            break;
        case 'c':
            if (cli_parse_u64("--c", optarg, &c)) return CLI_EXIT_USAGE;
            have[1] = 1;
            break;
        case 'k':
            if (cli_parse_u64("--k", optarg, &k)) return CLI_EXIT_USAGE;
            have[2] = 1;
            break;
        case 'p':
            if (cli_parse_double("--p", optarg, &theta)) return CLI_EXIT_USAGE;
            if (!(theta >= 0 && theta <= 1)) return cli_error("--p", "theta must be in [0, 1] (got '%s')", optarg);
            break;
        case 'j': json = 1; break;
        case ':': return cli_usage_error("passk", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("passk", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return cli_usage_error("passk", "unexpected argument '%s'", argv[optind]);
    if (!have[0] || !have[1] || !have[2]) return cli_usage_error("passk", "--n, --c and --k are required");
    alim_error err;
    alim_error_clear(&err);
    alim_passk_result r;
    if (alim_pass_at_k_estimate(n, c, k, &r, &err)) return cli_fail(&err);
    const double exact = isnan(theta) ? NAN : alim_pass_at_k(theta, (double)k);
    const double vth = isnan(theta) ? NAN : alim_pass_at_k_estimator_var(n, k, theta);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddNumberToObject(j, "n", (double)n);
        cJSON_AddNumberToObject(j, "c", (double)c);
        cJSON_AddNumberToObject(j, "k", (double)k);
        cli_json_add_number(j, "pass_at_k_estimate", r.estimate);
        cli_json_add_number(j, "var_plugin", r.var_plugin);
        cli_json_add_number(j, "var_unbiased", r.var_unbiased);
        cli_json_add_number(j, "std_error", r.std_error);
        if (!isnan(theta)) {
            cli_json_add_number(j, "theta", theta);
            cli_json_add_number(j, "pass_at_k_exact", exact);
            cli_json_add_number(j, "var_at_theta", vth);
        }
        return cli_print_json(j);
    }
    printf("pass@%llu from n = %llu samples with c = %llu successes\n", (unsigned long long)k, (unsigned long long)n,
           (unsigned long long)c);
    printf("  estimate 1 - C(n-c,k)/C(n,k)   %.15g  (std error %.6g)\n", r.estimate, r.std_error);
    printf("  variance at theta = c/n        %.10g\n", r.var_plugin);
    if (!isnan(r.var_unbiased)) printf("  unbiased variance estimate     %.10g\n", r.var_unbiased);
    if (!isnan(theta))
        printf("  exact at theta = %.10g       %.15g  (estimator variance %.10g)\n", theta, exact, vth);
    return 0;
}
