/* cmd_tilt.c — `alim tilt`: the optimal KL-constrained policy phi_l ∝ p e^{l r}. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/info.h"
#include "alim/tilt.h"
#include "asym.h"
#include "cli.h"

const char cmd_tilt_help[] =
    "usage: alim tilt DIST.csv (--lambda L | --kl D) [--policy] [--csv FILE] [--json]\n"
    "                 [--normalize] [--check-mc M [--seed S]]\n"
    "\n"
    "The optimal KL-regularised (\"KL-RL\") policy on one response space. DIST.csv has one\n"
    "row per outcome with two columns p,r: its reference probability and its reward (an\n"
    "optional header line and '#' comments are allowed). The policy that maximises the\n"
    "expected reward subject to KL(phi || p) <= D is the exponential tilt\n"
    "    phi_l(y) = p(y) e^{l r(y)} / Z(l),   Lambda(l) = log Z(l),\n"
    "with KL(phi_l || p) = l Lambda'(l) - Lambda(l) and reward Lambda'(l). With --kl D the\n"
    "tilt l* solving KL = D is found (safeguarded Newton; full accuracy for D down to 1e-300\n"
    "and up to the saturation point). The largest useful budget is log 1/p(A), A = the\n"
    "outcomes of maximal reward: at or above it the budget is 'saturated', the optimum is\n"
    "max r, reached by p(.|A) (one of many optimal policies), and lambda is reported as\n"
    "\"inf\" (a JSON string; JSON has no infinity).\n"
    "\n"
    "options:\n"
    "  --lambda L       use the tilt L (any real; inf and -inf give p(.|argmax r), p(.|argmin r))\n"
    "  --kl D           KL budget in nats (D >= 0); the solver finds lambda\n"
    "  --policy         include the policy (one value per row) in the output\n"
    "  --csv FILE       write the rows p,r,policy as CSV to FILE (atomically; '-' = stdout)\n"
    "  --json           one JSON object: lambda, saturated, kl_nats, kl_bits, reward,\n"
    "                   reward_gain, reward_variance, log_partition_nats, kl_max_nats, ...\n"
    "  --normalize      rescale p to sum 1 (default: p must sum to 1 within 1e-9)\n"
    "  --check-mc M     Monte Carlo check with M samples from phi: reward and KL with 95% CIs\n"
    "  --seed S         seed of the Monte Carlo check (default 1)\n"
    "  --timing         add wall-clock seconds of reading and computing to the JSON\n"
    "\n"
    "example:\n"
    "  printf 'p,r\\n0.5,0\\n0.3,1\\n0.2,2\\n' > d.csv\n"
    "  alim tilt d.csv --kl 0.5        # lambda 1.289146918526, reward 1.505447837739\n";

int cmd_tilt(int argc, char **argv)
{
    static const struct option opts[] = {{"lambda", required_argument, 0, 'l'}, {"kl", required_argument, 0, 'k'},
                                         {"policy", no_argument, 0, 'p'},       {"csv", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},         {"normalize", no_argument, 0, 'n'},
                                         {"check-mc", required_argument, 0, 'm'}, {"seed", required_argument, 0, 's'},
                                         {"timing", no_argument, 0, 'T'},        {0, 0, 0, 0}};
    double lambda = NAN, kl = NAN;
    int have_l = 0, have_k = 0, want_policy = 0, json = 0, normalize = 0, timing = 0;
    const char *csv = NULL;
    size_t mc = 0;
    uint64_t seed = 1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (cli_parse_double("--lambda", optarg, &lambda)) return CLI_EXIT_USAGE;
            have_l = 1;
            break;
        case 'k':
            if (cli_parse_double("--kl", optarg, &kl)) return CLI_EXIT_USAGE;
            have_k = 1;
            break;
        case 'p': want_policy = 1; break;
        case 'c': csv = optarg; break;
        case 'j': json = 1; break;
        case 'n': normalize = 1; break;
        case 'T': timing = 1; break;
        case 'm':
            if (cli_parse_size("--check-mc", optarg, &mc)) return CLI_EXIT_USAGE;
            if (mc < 2) return cli_error("--check-mc", "need at least 2 samples");
            break;
        case 's':
            if (cli_parse_u64("--seed", optarg, &seed)) return CLI_EXIT_USAGE;
            break;
        case ':': return cli_usage_error("tilt", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("tilt", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("tilt", "expected one DIST.csv argument");
    if (have_l == have_k) return cli_usage_error("tilt", "give exactly one of --lambda and --kl");
    if (have_k && kl < 0) return cli_error("--kl", "KL budget must be >= 0 (got %g)", kl);
    alim_rdist d;
    const double t0 = asym_now();
    int rc = asym_load(argv[optind], normalize, &d);
    if (rc) return rc;
    const double t1 = asym_now();
    alim_error err;
    alim_error_clear(&err);
    alim_tilt_point pt;
    int saturated = 0, iterations = 0;
    if (have_k) {
        alim_tilt_solution s;
        if (alim_tilt_solve_kl(&d, kl, &s, &err)) {
            alim_rdist_free(&d);
            return cli_fail(&err);
        }
        pt = s.pt;
        saturated = s.saturated;
        iterations = s.iterations;
    } else {
        alim_tilt_eval(&d, lambda, &pt);
        saturated = isinf(lambda);
    }
    const double kmax = alim_tilt_kl_max(&d);
    const double range = d.r_max - d.r_min;
    const double subg = sqrt(2.0 * range * range / 4.0 * pt.kl_nats);
    double *phi = NULL;
    if (want_policy || csv) {
        phi = malloc(d.n * sizeof *phi);
        if (!phi) {
            alim_rdist_free(&d);
            return cli_error("tilt", "out of memory");
        }
        alim_tilt_policy(&d, pt.lambda, phi);
    }
    const double t2 = asym_now();
    alim_mc_estimate mr, mk;
    if (mc && alim_tilt_mc(&d, pt.lambda, mc, seed, &mr, &mk, &err)) {
        free(phi);
        alim_rdist_free(&d);
        return cli_fail(&err);
    }
    if (csv) {
        asym_out o;
        if ((rc = asym_out_open(&o, csv))) goto done;
        fputs("p,r,policy\n", o.fp);
        for (size_t i = 0; i < d.n; i++) {
            asym_csv_num(o.fp, d.p[i]);
            fputc(',', o.fp);
            asym_csv_num(o.fp, d.r[i]);
            fputc(',', o.fp);
            asym_csv_num(o.fp, phi[i]);
            fputc('\n', o.fp);
        }
        if ((rc = asym_out_close(&o))) goto done;
        if (!strcmp(csv, "-")) goto done; /* the CSV is the output */
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", argv[optind]);
        cJSON_AddNumberToObject(j, "outcomes", (double)d.n);
        cJSON_AddNumberToObject(j, "support", (double)d.support);
        cli_json_add_number(j, "lambda", pt.lambda);
        cJSON_AddBoolToObject(j, "saturated", saturated);
        if (have_k) cli_json_add_number(j, "kl_budget_nats", kl);
        cli_json_add_number(j, "kl_nats", pt.kl_nats);
        cli_json_add_number(j, "kl_bits", alim_bits(pt.kl_nats));
        cli_json_add_number(j, "reward", pt.mean);
        cli_json_add_number(j, "reward_gain", pt.mean - d.mean);
        cli_json_add_number(j, "reward_variance", pt.var);
        cli_json_add_number(j, "log_partition_nats", pt.log_partition);
        cli_json_add_number(j, "kl_max_nats", kmax);
        cli_json_add_number(j, "reference_reward", d.mean);
        cli_json_add_number(j, "reward_max", d.r_max);
        cli_json_add_number(j, "subgaussian_gain_bound", subg);
        if (have_k) cJSON_AddNumberToObject(j, "iterations", iterations);
        if (mc) {
            cJSON *m = cJSON_AddObjectToObject(j, "monte_carlo");
            cJSON_AddNumberToObject(m, "samples", (double)mc);
            cJSON_AddNumberToObject(m, "seed", (double)seed);
            double a[3] = {mr.mean, mr.lo, mr.hi}, b[3] = {mk.mean, mk.lo, mk.hi};
            cli_json_add_array(m, "reward", a, 3);
            cli_json_add_array(m, "kl_nats", b, 3);
        }
        if (timing) {
            cJSON *t = cJSON_AddObjectToObject(j, "timing");
            cJSON_AddNumberToObject(t, "read_seconds", t1 - t0);
            cJSON_AddNumberToObject(t, "compute_seconds", t2 - t1);
        }
        if (want_policy) cli_json_add_array(j, "policy", phi, d.n);
        rc = cli_print_json(j);
    } else {
        printf("KL-RL optimum for %s (%zu outcomes, support %zu; E_p r = %.10g, r in [%.10g, %.10g])\n", argv[optind], d.n,
               d.support, d.mean, d.r_min, d.r_max);
        printf("  lambda                 %.15g%s\n", pt.lambda, saturated ? "   (saturated: budget >= log 1/p(A))" : "");
        printf("  KL(phi || p)           %.15g nats  (%.6g bits)\n", pt.kl_nats, alim_bits(pt.kl_nats));
        printf("  reward E_phi r         %.15g  (gain %+.6g)\n", pt.mean, pt.mean - d.mean);
        printf("  reward variance        %.10g\n", pt.var);
        printf("  log-partition Lambda   %.15g\n", pt.log_partition);
        printf("  saturation KL          %.15g nats  (log 1/p(A), p(A) = %.6g)\n", kmax, d.p_top);
        printf("  sub-Gaussian bound     gain <= %.6g  (sqrt(2 KL range^2/4))\n", subg);
        if (mc)
            printf("  Monte Carlo (M = %zu)  reward %.6f [%.6f, %.6f], KL %.6f [%.6f, %.6f]\n", mc, mr.mean, mr.lo, mr.hi,
                   mk.mean, mk.lo, mk.hi);
        if (want_policy) {
            printf("  policy:\n");
            for (size_t i = 0; i < d.n; i++) printf("    %zu  p=%.10g  r=%.10g  phi=%.15g\n", i + 1, d.p[i], d.r[i], phi[i]);
        }
    }
done:
    free(phi);
    alim_rdist_free(&d);
    return rc;
}
