/* cmd_bon.c — `alim bon`: exact best-of-N on one response space. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/info.h"
#include "alim/tilt.h"
#include "asym.h"
#include "cli.h"

const char cmd_bon_help[] =
    "usage: alim bon DIST.csv --n N [--ties random|ordered] [--policy] [--csv FILE] [--json]\n"
    "                [--normalize] [--check-mc M [--seed S] [--mc-direct]]\n"
    "\n"
    "Exact best-of-N: draw N outcomes from p (DIST.csv: rows p,r) and keep one of maximal\n"
    "reward. With reward levels v_1 < ... < v_L, masses q_j and F_j = q_1 + ... + q_j, the\n"
    "chosen level has probability P_j = F_j^N - F_{j-1}^N, and\n"
    "    KL(pi_N || p) = sum_j P_j log(P_j / q_j)                (random tie-breaking)\n"
    "    E r           = v_L - sum_{j<L} (v_{j+1} - v_j) F_j^N\n"
    "    win rate      = P(r(Y) > r(Y')) + P(r(Y) = r(Y'))/2,  Y' ~ p   (<= N/(N+1))\n"
    "    bound         KL <= log N - (N-1)/N  (tight only when no outcome is likely at scale 1/N).\n"
    "N is any real >= 1 (fractional N uses the same formulas); everything is computed in log\n"
    "domain with log1p/expm1, so N = 1e15, 1e300 or e^5000 is exact too. The output also\n"
    "compares with the KL-RL optimum at the same KL: its reward R*(KL), the shortfall\n"
    "R*(KL) - E r and KL(pi_N || phi_lambda) = how far best-of-N is from the optimum.\n"
    "\n"
    "options:\n"
    "  --n N            number of draws: a number >= 1 or e^X (N = e^X, for huge N)\n"
    "  --ties RULE      random (default): uniform among tied maximisers (least KL);\n"
    "                   ordered: a later row beats an earlier row with the same reward\n"
    "  --policy         include the policy pi_N (one value per row)\n"
    "  --csv FILE       write the rows p,r,policy as CSV (atomically; '-' = stdout)\n"
    "  --json           one JSON object: kl_nats, kl_bound_nats, reward, win_rate,\n"
    "                   win_rate_strict, kl_random_nats, kl_ordered_nats, rl_same_kl, ...\n"
    "  --normalize      rescale p to sum 1 (default: p must sum to 1 within 1e-9)\n"
    "  --check-mc M     Monte Carlo check with M best-of-N draws (95% intervals); the level is\n"
    "                   drawn by inverting F_j^N, which works for any N\n"
    "  --mc-direct      draw N outcomes per sample instead (integer N <= 10^7; slow)\n"
    "  --seed S         seed of the Monte Carlo check (default 1)\n"
    "  --timing         add wall-clock seconds of reading and computing to the JSON\n"
    "\n"
    "example:\n"
    "  alim bon d.csv --n 4        # d.csv of 'alim tilt --help': KL 0.5597505604, E r 1.5279\n"
    "  alim bon d.csv --n 1e15 --json\n";

int cmd_bon(int argc, char **argv)
{
    static const struct option opts[] = {{"n", required_argument, 0, 'N'},       {"ties", required_argument, 0, 't'},
                                         {"policy", no_argument, 0, 'p'},        {"csv", required_argument, 0, 'c'},
                                         {"json", no_argument, 0, 'j'},          {"normalize", no_argument, 0, 'z'},
                                         {"check-mc", required_argument, 0, 'm'}, {"seed", required_argument, 0, 's'},
                                         {"mc-direct", no_argument, 0, 'd'},     {"timing", no_argument, 0, 'T'},
                                         {0, 0, 0, 0}};
    alim_bon_size N = {NAN, NAN};
    int have_n = 0, want_policy = 0, json = 0, normalize = 0, direct = 0, timing = 0;
    alim_ties ties = ALIM_TIES_RANDOM;
    const char *csv = NULL;
    size_t mc = 0;
    uint64_t seed = 1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'N':
            if (asym_parse_n("--n", optarg, &N)) return CLI_EXIT_USAGE;
            have_n = 1;
            break;
        case 't':
            if (!strcmp(optarg, "random")) ties = ALIM_TIES_RANDOM;
            else if (!strcmp(optarg, "ordered")) ties = ALIM_TIES_ORDERED;
            else return cli_error("--ties", "'%s' is not 'random' or 'ordered'", optarg);
            break;
        case 'p': want_policy = 1; break;
        case 'c': csv = optarg; break;
        case 'j': json = 1; break;
        case 'z': normalize = 1; break;
        case 'd': direct = 1; break;
        case 'T': timing = 1; break;
        case 'm':
            if (cli_parse_size("--check-mc", optarg, &mc)) return CLI_EXIT_USAGE;
            if (mc < 2) return cli_error("--check-mc", "need at least 2 samples");
            break;
        case 's':
            if (cli_parse_u64("--seed", optarg, &seed)) return CLI_EXIT_USAGE;
            break;
        case ':': return cli_usage_error("bon", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("bon", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("bon", "expected one DIST.csv argument");
    if (!have_n) return cli_usage_error("bon", "--n N is required");
    alim_rdist d;
    const double t0 = asym_now();
    int rc = asym_load(argv[optind], normalize, &d);
    if (rc) return rc;
    const double t1 = asym_now();
    alim_error err;
    alim_error_clear(&err);
    alim_levels lv = {0}, ord = {0};
    double *pi = NULL;
    const int need_ordered = ties == ALIM_TIES_ORDERED;
    if ((want_policy || csv || need_ordered ? alim_levels_from_rdist(&d, &lv, &err)
                                            : alim_levels_from_rdist_nomap(&d, &lv, &err)))
        goto fail;
    if (need_ordered && alim_levels_ordered(&d, &lv, &ord, &err)) goto fail;
    alim_bon_result b;
    alim_bon_eval(&lv, N, &b);
    const double kl_ord = need_ordered ? alim_bon_kl(&ord, N) : NAN;
    const double kl = need_ordered ? kl_ord : b.kl_nats;
    /* the KL-RL optimum at the same KL, solved on the reward levels (the tilt depends on
     * the reward distribution only, and there are at most as many levels as outcomes) */
    alim_tilt_solution rl;
    {
        alim_rdist ld;
        if ((rc = asym_rdist_of_levels(&lv, &ld))) goto done;
        alim_status st = alim_tilt_solve_kl(&ld, kl, &rl, &err);
        alim_rdist_free(&ld);
        if (st) goto fail;
    }
    const double shortfall = rl.pt.mean - b.reward;
    const double kl_to_rl = alim_tilt_kl_from(&rl.pt, kl, b.reward);
    const double wbound = isfinite(N.n) ? N.n / (N.n + 1) : 1.0;
    if (want_policy || csv) {
        pi = malloc(d.n * sizeof *pi);
        if (!pi) {
            alim_error_set(&err, ALIM_ENOMEM, "bon", "out of memory");
            goto fail;
        }
        if (alim_bon_policy(&d, &lv, need_ordered ? &ord : NULL, N, ties, pi, &err)) goto fail;
    }
    const double t2 = asym_now();
    alim_bon_mc_result mcr;
    if (mc && alim_bon_mc(&lv, N, mc, seed, direct, &mcr, &err)) goto fail;
    if (csv) {
        asym_out o;
        if ((rc = asym_out_open(&o, csv))) goto done;
        fputs("p,r,policy\n", o.fp);
        for (size_t i = 0; i < d.n; i++) {
            asym_csv_num(o.fp, d.p[i]);
            fputc(',', o.fp);
            asym_csv_num(o.fp, d.r[i]);
            fputc(',', o.fp);
            asym_csv_num(o.fp, pi[i]);
            fputc('\n', o.fp);
        }
        if ((rc = asym_out_close(&o))) goto done;
        if (!strcmp(csv, "-")) goto done;
    }
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", argv[optind]);
        cJSON_AddNumberToObject(j, "outcomes", (double)d.n);
        cJSON_AddNumberToObject(j, "levels", (double)lv.n);
        cli_json_add_number(j, "n", N.n);
        cli_json_add_number(j, "log_n", N.log_n);
        cJSON_AddStringToObject(j, "ties", need_ordered ? "ordered" : "random");
        cli_json_add_number(j, "kl_nats", kl);
        cli_json_add_number(j, "kl_bits", alim_bits(kl));
        cli_json_add_number(j, "kl_random_nats", b.kl_nats);
        if (need_ordered) cli_json_add_number(j, "kl_ordered_nats", kl_ord);
        cli_json_add_number(j, "kl_bound_nats", b.kl_bound_nats);
        cli_json_add_number(j, "kl_bound_gap_nats", b.kl_bound_nats - kl);
        cli_json_add_number(j, "kl_one_atom_nats", b.kl_one_atom_nats);
        cli_json_add_number(j, "kl_saturation_nats", 0.0 - lv.log_q[lv.n - 1]);
        cli_json_add_number(j, "reward", b.reward);
        cli_json_add_number(j, "reward_gain", b.reward - d.mean);
        cli_json_add_number(j, "win_rate", b.win_rate);
        cli_json_add_number(j, "win_rate_strict", b.win_rate_strict);
        cli_json_add_number(j, "win_rate_bound", wbound);
        cli_json_add_number(j, "top_level_prob", b.top_prob);
        cJSON *r = cJSON_AddObjectToObject(j, "rl_same_kl");
        cli_json_add_number(r, "lambda", rl.pt.lambda);
        cJSON_AddBoolToObject(r, "saturated", rl.saturated);
        cli_json_add_number(r, "reward", rl.pt.mean);
        cli_json_add_number(r, "shortfall", shortfall);
        cli_json_add_number(r, "kl_bon_to_rl_nats", kl_to_rl);
        if (mc) {
            cJSON *m = cJSON_AddObjectToObject(j, "monte_carlo");
            cJSON_AddNumberToObject(m, "samples", (double)mc);
            cJSON_AddNumberToObject(m, "seed", (double)seed);
            cJSON_AddStringToObject(m, "sampler", direct ? "direct" : "inversion");
            double a[3];
            a[0] = mcr.reward.mean, a[1] = mcr.reward.lo, a[2] = mcr.reward.hi;
            cli_json_add_array(m, "reward", a, 3);
            a[0] = mcr.kl_nats.mean, a[1] = mcr.kl_nats.lo, a[2] = mcr.kl_nats.hi;
            cli_json_add_array(m, "kl_nats", a, 3);
            a[0] = mcr.win_rate.mean, a[1] = mcr.win_rate.lo, a[2] = mcr.win_rate.hi;
            cli_json_add_array(m, "win_rate", a, 3);
            a[0] = mcr.win_rate_strict.mean, a[1] = mcr.win_rate_strict.lo, a[2] = mcr.win_rate_strict.hi;
            cli_json_add_array(m, "win_rate_strict", a, 3);
        }
        if (timing) {
            cJSON *t = cJSON_AddObjectToObject(j, "timing");
            cJSON_AddNumberToObject(t, "read_seconds", t1 - t0);
            cJSON_AddNumberToObject(t, "compute_seconds", t2 - t1);
        }
        if (want_policy) cli_json_add_array(j, "policy", pi, d.n);
        rc = cli_print_json(j);
    } else {
        printf("best-of-N on %s (%zu outcomes, %zu reward levels), N = ", argv[optind], d.n, lv.n);
        if (isfinite(N.n)) printf("%.17g", N.n);
        else printf("e^%.17g", N.log_n);
        printf(", %s ties\n", need_ordered ? "ordered" : "random");
        printf("  KL(pi_N || p)          %.15g nats  (%.6g bits)\n", kl, alim_bits(kl));
        if (need_ordered) printf("  KL with random ties    %.15g nats  (the least over tie rules)\n", b.kl_nats);
        printf("  bound log N - (N-1)/N  %.15g nats  (gap %.6g)\n", b.kl_bound_nats, b.kl_bound_nats - kl);
        printf("  one-atom model         %.15g nats  (top level mass %.6g; KL -> %.6g as N grows)\n", b.kl_one_atom_nats,
               exp(lv.log_q[lv.n - 1]), 0.0 - lv.log_q[lv.n - 1]);
        printf("  reward E r             %.15g  (gain %+.6g over E_p r = %.10g)\n", b.reward, b.reward - d.mean, d.mean);
        printf("  win rate (ties 1/2)    %.15g  (N/(N+1) = %.10g)\n", b.win_rate, wbound);
        printf("  win rate (strict)      %.15g\n", b.win_rate_strict);
        printf("  KL-RL at the same KL   lambda %.12g, reward %.15g, shortfall %.6g\n", rl.pt.lambda, rl.pt.mean, shortfall);
        printf("  KL(pi_N || phi_lambda) %.15g nats\n", kl_to_rl);
        if (mc) {
            printf("  Monte Carlo (M = %zu, %s sampler, 95%% intervals):\n", mc, direct ? "direct" : "inversion");
            printf("    reward    %.6f [%.6f, %.6f]\n", mcr.reward.mean, mcr.reward.lo, mcr.reward.hi);
            printf("    KL        %.6f [%.6f, %.6f]\n", mcr.kl_nats.mean, mcr.kl_nats.lo, mcr.kl_nats.hi);
            printf("    win rate  %.6f [%.6f, %.6f]\n", mcr.win_rate.mean, mcr.win_rate.lo, mcr.win_rate.hi);
            printf("    strict    %.6f [%.6f, %.6f]\n", mcr.win_rate_strict.mean, mcr.win_rate_strict.lo,
                   mcr.win_rate_strict.hi);
        }
        if (want_policy) {
            printf("  policy:\n");
            for (size_t i = 0; i < d.n; i++) printf("    %zu  p=%.10g  r=%.10g  pi=%.15g\n", i + 1, d.p[i], d.r[i], pi[i]);
        }
    }
    goto done;
fail:
    rc = cli_fail(&err);
done:
    free(pi);
    alim_levels_free(&lv);
    alim_levels_free(&ord);
    alim_rdist_free(&d);
    return rc;
}
