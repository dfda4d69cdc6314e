/* cmd_bon_samples.c — `alim bon-samples`: the best-of-N family from sampled draws (a CSV of samples
 * with their rewards, grouped by prompt): unbiased subset curves, bootstrap intervals over
 * prompts, and the KL estimators. A command of its own rather than a mode of `alim bon`: its input
 * is samples, not a distribution p,r, and none of bon's options (--ties, --policy, --check-mc)
 * apply to it. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/bonfam.h"
#include "alim/bonsamples.h"
#include "asym.h"
#include "cli.h"

const char cmd_bon_samples_help[] =
    "usage: alim bon-samples FILE [--n-max N] [--group COL] [--reward COL] [--soft LAMBDA]\n"
    "                        [--bootstrap B [--seed S] [--level L]] [--csv OUT] [--json] [--timing]\n"
    "\n"
    "The best-of-N family when the outcome space cannot be enumerated: FILE holds N_x samples of\n"
    "each prompt x with their proxy reward (e.g. `alim sample --n K` scored by a classifier or your\n"
    "reward model). A header names the columns; others (the text, ...) are ignored:\n"
    "    group (or prompt, prompt_id)  the prompt id (any text; absent: one prompt)\n"
    "    r (or reward)                 the proxy reward used for selection\n"
    "    g (or gold)                   optional gold reward: what the selected sample is worth\n"
    "    logp                          optional log p(sample | prompt) under the reference, in nats\n"
    "Fields may be double-quoted (commas, \"\" and newlines inside). Groups may differ in size.\n"
    "\n"
    "For n = 1..N (N = --n-max, default the smallest group), per prompt then averaged over prompts,\n"
    "every estimate is the mean over all n-subsets of the prompt's samples (unbiased; no resampling):\n"
    "    reward           E[max of n] = sum_i r_(i) C(i-1, n-1)/C(N_x, n)   (r sorted)\n"
    "    win_rate         vs an independent draw, ties 1/2 (and _strict); n/(n+1) without ties;\n"
    "                     needs n + 1 samples: nan at n = N_x\n"
    "    gold_reward      E g of the sample best-of-n selects (random tie-breaking)\n"
    "    kl_bound_nats    log n - (n-1)/n: an upper bound on the KL, not its value\n"
    "    kl_plugin_nats   exact best-of-n KL of each prompt's empirical reward law (<= log N_x:\n"
    "                     low for continuous rewards when n nears N_x)\n"
    "    kl_beirami_nats  Beirami et al.'s estimator d_n(eps), eps = p(selected sample) from logp:\n"
    "                     exact when the selected sample is the top outcome and lower ones are\n"
    "                     atomless (see docs/asymptotics.md)\n"
    "    soft_reward      (--soft LAMBDA) soft best-of-n: of n draws, draw i w.p. ~ e^{LAMBDA r_i}\n"
    "    bop_*            Best-of-Poisson with mu = n - 1 (E N = n): the Poisson mixture of the subset\n"
    "                     values over the sizes a prompt supplies; bop_tail_mass is the Poisson mass\n"
    "                     beyond them (bias <= tail x reward range)\n"
    "With --bootstrap B, every estimate gets a percentile interval (_lo, _hi) from B resamples of\n"
    "the prompts (seeded; the same for any thread count).\n"
    "\n"
    "options:\n"
    "  --n-max N      largest n (<= the smallest group)\n"
    "  --group COL    column of the prompt id        --reward COL   column of the proxy reward\n"
    "  --soft LAMBDA  add soft best-of-n at LAMBDA (finite, >= 0)\n"
    "  --bootstrap B  bootstrap replicates over prompts (e.g. 1000)\n"
    "  --seed S       bootstrap seed (default 1)   --level L   interval probability (default 0.95)\n"
    "  --csv OUT      write the CSV to OUT (atomically) instead of stdout\n"
    "  --json         one JSON object (rows with the CSV's keys) on stdout\n"
    "  --timing       add reading and computing seconds to the JSON\n"
    "\n"
    "example:\n"
    "  alim bon-samples scored.csv --n-max 16 --bootstrap 1000 --seed 3 > curves.csv\n";

/* which quantities this input has */
static int has_q(const alim_bon_samples_curves *c, int q)
{
    switch (q) {
    case ALIM_BS_GOLD:
    case ALIM_BS_BOP_GOLD: return c->have_gold;
    case ALIM_BS_KL_BEIRAMI: return c->have_logp;
    case ALIM_BS_SOFT_REWARD: return c->have_soft;
    case ALIM_BS_SOFT_GOLD: return c->have_soft && c->have_gold;
    default: return 1;
    }
}

static double bound_kl(double n) { return alim_bon_kl_bound((alim_bon_size){n, log(n)}); }

int cmd_bon_samples(int argc, char **argv)
{
    static const struct option opts[] = {
        {"n-max", required_argument, 0, 'n'}, {"group", required_argument, 0, 'g'},
        {"reward", required_argument, 0, 'r'}, {"soft", required_argument, 0, 's'},
        {"bootstrap", required_argument, 0, 'b'}, {"seed", required_argument, 0, 'S'},
        {"level", required_argument, 0, 'l'}, {"csv", required_argument, 0, 'c'},
        {"json", no_argument, 0, 'j'},           {"timing", no_argument, 0, 'T'},
        {0, 0, 0, 0}};
    alim_bon_samples_options o = {0, NAN, 0, 1, 0.95};
    const char *group = NULL, *reward = NULL, *csv = NULL;
    int json = 0, timing = 0, ch;
    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (cli_parse_size("--n-max", optarg, &o.n_max)) return CLI_EXIT_USAGE;
            if (o.n_max < 1) return cli_error("--n-max", "must be >= 1 (got '%s')", optarg);
            break;
        case 'g': group = optarg; break;
        case 'r': reward = optarg; break;
        case 's':
            if (cli_parse_double("--soft", optarg, &o.soft_lambda)) return CLI_EXIT_USAGE;
            if (!(o.soft_lambda >= 0) || isinf(o.soft_lambda))
                return cli_error("--soft", "lambda must be a finite number >= 0 (got '%s'; plain best-of-n is the "
                                           "reward column)", optarg);
            break;
        case 'b':
            if (cli_parse_size("--bootstrap", optarg, &o.bootstrap)) return CLI_EXIT_USAGE;
            if (o.bootstrap < 2 || o.bootstrap > 1000000)
                return cli_error("--bootstrap", "replicates must be in [2, 10^6] (got '%s')", optarg);
            break;
        case 'S':
            if (cli_parse_u64("--seed", optarg, &o.seed)) return CLI_EXIT_USAGE;
            break;
        case 'l':
            if (cli_parse_double("--level", optarg, &o.level)) return CLI_EXIT_USAGE;
            if (!(o.level > 0 && o.level < 1)) return cli_error("--level", "must be in (0, 1) (got '%s')", optarg);
            break;
        case 'c': csv = optarg; break;
        case 'j': json = 1; break;
        case 'T': timing = 1; break;
        case ':': return cli_usage_error("bon-samples", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("bon-samples", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind + 1 != argc)
        return optind == argc ? cli_usage_error("bon-samples", "missing FILE")
                              : cli_usage_error("bon-samples", "unexpected argument '%s'", argv[optind + 1]);
    const char *path = argv[optind];
    alim_error err;
    alim_error_clear(&err);
    alim_bon_samples s;
    const double t0 = asym_now();
    if (alim_bon_samples_read_csv(&s, path, group, reward, &err)) return cli_fail(&err);
    const double t1 = asym_now();
    alim_bon_samples_curves c;
    if (alim_bon_samples_curves_compute(&s, &o, &c, &err)) {
        alim_bon_samples_free(&s);
        return cli_fail(&err);
    }
    const double t2 = asym_now();
    const size_t nm = c.n_max;
    int rc = 0;
    /* the table: one row per n; both outputs use the same keys */
    if (!json || csv) {
        asym_out out;
        if ((rc = asym_out_open(&out, csv ? csv : "-"))) goto done;
        fputs("n,kl_bound_nats,win_rate_bound", out.fp);
        for (int q = 0; q < ALIM_BS_NQ; q++) {
            if (!has_q(&c, q)) continue;
            if (q == ALIM_BS_BOP_REWARD) fputs(",bop_mu,bop_kl_bound_nats,bop_tail_mass", out.fp);
            const char *nmq = alim_bs_quantity_name(q);
            fprintf(out.fp, ",%s", nmq);
            if (c.lo) fprintf(out.fp, ",%s_lo,%s_hi", nmq, nmq);
        }
        fputc('\n', out.fp);
        for (size_t n = 1; n <= nm; n++) {
            fprintf(out.fp, "%zu,", n);
            asym_csv_num(out.fp, bound_kl((double)n));
            fputc(',', out.fp);
            asym_csv_num(out.fp, (double)n / (double)(n + 1));
            for (int q = 0; q < ALIM_BS_NQ; q++) {
                if (!has_q(&c, q)) continue;
                const size_t i = (size_t)q * nm + n - 1;
                if (q == ALIM_BS_BOP_REWARD) {
                    fprintf(out.fp, ",%zu,", n - 1);
                    asym_csv_num(out.fp, alim_bop_kl_bound((alim_bon_size){(double)(n - 1), log((double)(n - 1))}));
                    fputc(',', out.fp);
                    asym_csv_num(out.fp, c.bop_tail[n - 1]);
                }
                fputc(',', out.fp);
                asym_csv_num(out.fp, c.value[i]);
                if (c.lo) {
                    fputc(',', out.fp);
                    asym_csv_num(out.fp, c.lo[i]);
                    fputc(',', out.fp);
                    asym_csv_num(out.fp, c.hi[i]);
                }
            }
            fputc('\n', out.fp);
        }
        if ((rc = asym_out_close(&out))) goto done;
    }
    if (json) {
        size_t mn, mx;
        alim_bon_samples_group_sizes(&s, &mn, &mx);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "file", path);
        cJSON_AddNumberToObject(j, "groups", (double)s.n_groups);
        cJSON_AddNumberToObject(j, "samples", (double)s.n_samples);
        cJSON_AddNumberToObject(j, "group_size_min", (double)mn);
        cJSON_AddNumberToObject(j, "group_size_max", (double)mx);
        cJSON_AddNumberToObject(j, "n_max", (double)nm);
        cJSON_AddBoolToObject(j, "gold", c.have_gold);
        cJSON_AddBoolToObject(j, "logp", c.have_logp);
        if (c.have_soft) {
            cli_json_add_number(j, "soft_lambda", o.soft_lambda);
            cli_json_add_number(j, "soft_step_error", c.soft_step_error);
        }
        if (c.lo) {
            cJSON *b = cJSON_AddObjectToObject(j, "bootstrap");
            cJSON_AddNumberToObject(b, "replicates", (double)o.bootstrap);
            cJSON_AddNumberToObject(b, "seed", (double)o.seed);
            cJSON_AddNumberToObject(b, "level", o.level);
        }
        cJSON *rows = cJSON_AddArrayToObject(j, "rows");
        for (size_t n = 1; n <= nm; n++) {
            cJSON *row = cJSON_CreateObject();
            cJSON_AddNumberToObject(row, "n", (double)n);
            cli_json_add_number(row, "kl_bound_nats", bound_kl((double)n));
            cli_json_add_number(row, "win_rate_bound", (double)n / (double)(n + 1));
            cJSON_AddNumberToObject(row, "bop_mu", (double)(n - 1));
            cli_json_add_number(row, "bop_kl_bound_nats",
                                alim_bop_kl_bound((alim_bon_size){(double)(n - 1), log((double)(n - 1))}));
            cli_json_add_number(row, "bop_tail_mass", c.bop_tail[n - 1]);
            for (int q = 0; q < ALIM_BS_NQ; q++) {
                if (!has_q(&c, q)) continue;
                const size_t i = (size_t)q * nm + n - 1;
                cli_json_add_number(row, alim_bs_quantity_name(q), c.value[i]);
                if (c.lo) {
                    char key[64];
                    snprintf(key, sizeof key, "%s_lo", alim_bs_quantity_name(q));
                    cli_json_add_number(row, key, c.lo[i]);
                    snprintf(key, sizeof key, "%s_hi", alim_bs_quantity_name(q));
                    cli_json_add_number(row, key, c.hi[i]);
                }
            }
            cJSON_AddItemToArray(rows, row);
        }
        if (timing) {
            cJSON *t = cJSON_AddObjectToObject(j, "timing");
            cJSON_AddNumberToObject(t, "read_seconds", t1 - t0);
            cJSON_AddNumberToObject(t, "compute_seconds", t2 - t1);
        }
        rc = cli_print_json(j);
    }
done:
    alim_bon_samples_curves_free(&c);
    alim_bon_samples_free(&s);
    return rc;
}
