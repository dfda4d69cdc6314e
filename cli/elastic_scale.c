/* elastic_scale.c — `alim elastic scale`: E3, rebound versus model size and pretraining tokens. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/scale.h"
#include "cli.h"
#include "elastic.h"

const char cli_elastic_scale_help[] =
    "usage: alim elastic scale --data DIR --run DIR [--seeds N] [--part size|tokens|both]\n"
    "                          [--sizes LxDxH,...] [--size-pretrain-tokens N]\n"
    "                          [--budgets N,...] [--budget-lr LR] [--budget-model I]\n"
    "                          [--quick] [--json] [--csv FILE]\n"
    "\n"
    "E3 of spec §4.7, as E2 rebound runs in sub-directories of RUN:\n"
    "  size     one rebound run per shape (default 1x32x2, 2x64x4, 4x128x4 = G0, G1, G2), each\n"
    "           with theta0 pretrained on DIR/pretrain.txt as in E2 (2M tokens, cosine lr),\n"
    "           n_pos 400,2000 and n_neg 0,20,40,100,400            -> RUN/size-LxDxH/\n"
    "  tokens   one pretraining run per seed of the --budget-model shape (default the 2nd,\n"
    "           G1) at lr 1e-3 constant after 200 warm-up steps, stopped and resumed bit for\n"
    "           bit at each budget (default 250000,500000,1000000,2000000,4000000 tokens,\n"
    "           rounded up to whole updates of 16 x 128), so the checkpoints are one run;\n"
    "           from each, a rebound run with n_pos 2000 and n_neg 0,20,40,100\n"
    "                                                                -> RUN/tokens-N/\n"
    "Per level and seed, at the largest n_pos: R = (score(0) - score(n1))/n1 over the first\n"
    "negative prefix n1, and E_hat as 'coefficient' on the n_neg <= 100 (per seed, and on the\n"
    "seed means with a bootstrap interval), with k = pretraining tokens / alignment tokens.\n"
    "Criteria: Spearman rho of (level, R) and (level, E_hat) over all (level, seed) pairs\n"
    "> 0 in each part (PASS), else NULL. Resumable like 'rebound'. Writes RUN/scale.csv\n"
    "(per level and seed), RUN/levels.csv (seed means) and RUN/summary.json.\n"
    "The full default takes about an hour on 2 cores (docs/results.md has the measured time).\n"
    "\n"
    "options:\n"
    "  --part P               size, tokens or both (default both)\n"
    "  --sizes LIST           shapes LAYERSxDIMxHEADS (default 1x32x2,2x64x4,4x128x4)\n"
    "  --size-pretrain-tokens N   theta0 budget of the size part (default 2000000)\n"
    "  --budgets LIST         pretraining budgets of the tokens part, increasing\n"
    "  --budget-lr LR         its constant learning rate (default 1e-3)\n"
    "  --budget-model I       which shape of --sizes it trains, 1-based (default 2)\n"
    "  --samples N, --sample-tokens N, --seeds N (default 3), --threads N\n"
    CLI_ELASTIC_JOBS_HELP
    "  --quick                tests: shapes 1x8x2, 1x16x2, context 32, budgets 4096, 8192,\n"
    "                         16384, small grids, 2 seeds\n"
    "  --json (print RUN/summary.json), --csv FILE (copy RUN/scale.csv)\n";

/* "1x32x2,2x64x4": layers x dim x heads per shape */
static int parse_sizes(const char *s, alim_scale_config *c)
{
    size_t n = 0;
    const char *p = s;
    while (*p) {
        int l, d, h, used = 0;
        if (n >= ALIM_SCALE_MAX_LEVELS) return cli_error("--sizes", "at most %d shapes", ALIM_SCALE_MAX_LEVELS);
        if (sscanf(p, "%dx%dx%d%n", &l, &d, &h, &used) != 3 || used < 5 || l < 1 || d < 1 || h < 1 || l > 64 || d > 8192 || h > 256 || d % h)
            return cli_error("--sizes", "'%s': expected LAYERSxDIMxHEADS,... with DIM a multiple of HEADS, e.g. 1x32x2,2x64x4", s);
        c->layers[n] = l, c->dim[n] = d, c->heads[n] = h;
        n++;
        p += used;
        if (*p == ',') p++;
        else if (*p) return cli_error("--sizes", "'%s': expected LAYERSxDIMxHEADS,...", s);
    }
    if (!n) return cli_error("--sizes", "no shape given");
    c->n_sizes = n;
    return 0;
}

static int parse_budgets(const char *s, alim_scale_config *c)
{
    double *v = NULL;
    size_t k = 0;
    int rc = cli_parse_double_list("--budgets", s, &v, &k);
    if (rc) return rc;
    if (k < 2 || k > ALIM_SCALE_MAX_LEVELS) rc = cli_error("--budgets", "needs 2..%d values", ALIM_SCALE_MAX_LEVELS);
    for (size_t i = 0; i < k && !rc; i++) {
        if (!(v[i] >= 1 && v[i] <= 1e12 && v[i] == floor(v[i])) || (i && v[i] <= v[i - 1]))
            rc = cli_error("--budgets", "'%s': whole numbers of tokens, increasing", s);
        else c->budgets[i] = (uint64_t)v[i];
    }
    free(v);
    if (!rc) c->n_budgets = k;
    return rc;
}

/* a part's levels and trend; nothing when it did not run */
static void print_part(const char *title, const alim_scale_part *part, int tokens)
{
    if (!part->n_levels) return;
    printf("\n%s\n  %-12s %12s %9s  %22s  %28s  %9s\n", title, "level", tokens ? "tokens" : "params", "k", "R (per document)",
           "E_hat [95% bootstrap]", "oracle");
    for (size_t i = 0; i < part->n_levels; i++) {
        const alim_scale_level *l = &part->levels[i];
        printf("  %-12s %12.0f %9.4g  %+10.6f +- %-8.6f  %9.4g [%7.4g, %7.4g]  %9.4g\n", l->name, l->value, l->k, l->R_mean, l->R_se, l->e_hat,
               l->e_lo, l->e_hi, l->oracle_e_hat);
    }
    printf("  Spearman rho over (level, seed): R %.4g, E_hat %.4g\n", part->rho_R, part->rho_e_hat);
}

int cli_elastic_scale(int argc, char **argv)
{
    enum { S_DATA = 256, S_RUN, S_SEEDS, S_PART, S_SIZES, S_SPRE, S_BUDGETS, S_BLR, S_BMODEL, S_SAMPLES, S_STOK, S_QUICK, S_THREADS, S_JOBS, S_PRECISION,
           S_JSON, S_CSV, S_HELP };
    static const struct option opts[] = {
        {"data", required_argument, 0, S_DATA},       {"run", required_argument, 0, S_RUN},
        {"seeds", required_argument, 0, S_SEEDS},     {"part", required_argument, 0, S_PART},
        {"sizes", required_argument, 0, S_SIZES},     {"size-pretrain-tokens", required_argument, 0, S_SPRE},
        {"budgets", required_argument, 0, S_BUDGETS}, {"budget-lr", required_argument, 0, S_BLR},
        {"budget-model", required_argument, 0, S_BMODEL}, {"samples", required_argument, 0, S_SAMPLES},
        {"sample-tokens", required_argument, 0, S_STOK}, {"quick", no_argument, 0, S_QUICK},
        {"threads", required_argument, 0, S_THREADS}, {"json", no_argument, 0, S_JSON},
        {"csv", required_argument, 0, S_CSV},         {"help", no_argument, 0, S_HELP},
        {"jobs", required_argument, 0, S_JOBS},        {"precision", required_argument, 0, S_PRECISION},
        {0, 0, 0, 0}};
    alim_scale_config cfg;
    alim_scale_config_default(&cfg);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quick")) alim_scale_config_quick(&cfg);
    int json = 0, rc = cli_parse_precision(NULL, &cfg.precision), c, bmodel_given = 0;
    const char *csv = NULL;
    uint64_t u;
    size_t bm = 0;
    optind = 1;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case S_DATA: cfg.data_dir = optarg; break;
        case S_RUN: cfg.run_dir = optarg; break;
        case S_SEEDS: rc = cli_elastic_parse_pos_size("--seeds", optarg, &cfg.n_seeds); if (!rc && cfg.n_seeds > 1000) rc = cli_error("--seeds", "at most 1000"); break;
        case S_PART:
            if (!strcmp(optarg, "size")) cfg.do_size = 1, cfg.do_tokens = 0;
            else if (!strcmp(optarg, "tokens")) cfg.do_size = 0, cfg.do_tokens = 1;
            else if (!strcmp(optarg, "both")) cfg.do_size = cfg.do_tokens = 1;
            else rc = cli_error("--part", "'%s': expected size, tokens or both", optarg);
            break;
        case S_SIZES: rc = parse_sizes(optarg, &cfg); break;
        case S_SPRE: rc = cli_parse_u64("--size-pretrain-tokens", optarg, &u); if (!rc && u < 1) rc = cli_error("--size-pretrain-tokens", "must be >= 1"); cfg.size_pretrain_tokens = u; break;
        case S_BUDGETS: rc = parse_budgets(optarg, &cfg); break;
        case S_BLR: rc = cli_parse_double("--budget-lr", optarg, &cfg.budget_lr); if (!rc && !(cfg.budget_lr > 0 && cfg.budget_lr < 1)) rc = cli_error("--budget-lr", "must be in (0, 1)"); break;
        case S_BMODEL: rc = cli_parse_size("--budget-model", optarg, &bm); bmodel_given = 1; break;
        case S_SAMPLES: rc = cli_elastic_parse_pos_size("--samples", optarg, &cfg.n_samples); break;
        case S_STOK: rc = cli_elastic_parse_pos_size("--sample-tokens", optarg, &cfg.sample_tokens); break;
        case S_QUICK: break;
        case S_THREADS: rc = cli_lm_set_threads(optarg); break;
        case S_JOBS: rc = cli_parse_jobs(optarg, &cfg.jobs); break;
        case S_PRECISION: rc = cli_parse_precision(optarg, &cfg.precision); break;
        case S_JSON: json = 1; break;
        case S_CSV: csv = optarg; break;
        case S_HELP: return CLI_ELASTIC_SHOW_HELP;
        case ':': rc = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]); break;
        }
    }
    if (!rc && optind < argc) rc = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc && !cfg.data_dir) rc = cli_usage_error("elastic", "scale needs --data DIR (from 'alim data synthetic --out DIR')");
    if (!rc && !cfg.run_dir) rc = cli_usage_error("elastic", "scale needs --run DIR (the run directory, created or resumed)");
    if (!rc && bmodel_given) {
        if (bm < 1 || bm > cfg.n_sizes) rc = cli_error("--budget-model", "must be 1..%zu (a position in --sizes)", cfg.n_sizes);
        else cfg.budget_model = bm - 1;
    } else if (!rc && cfg.budget_model >= cfg.n_sizes) cfg.budget_model = cfg.n_sizes - 1;
    if (!rc && cfg.sample_tokens > (size_t)cfg.context) rc = cli_error("--sample-tokens", "at most the context, %d", cfg.context);
    if (rc) return rc;

    alim_progress pg = cli_progress();
    alim_scale_result res;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_scale_run(&cfg, &pg, cli_elastic_note, NULL, &res, &err);
    cli_progress_done();
    if (st) return cli_fail(&err);
    if (!res.summary) return CLI_EXIT_OK; /* under MPI a rank other than 0: the summary is rank 0's */
    char path[4200];
    if (csv) {
        snprintf(path, sizeof path, "%s/scale.csv", cfg.run_dir);
        int r = cli_elastic_copy_file(path, csv);
        if (r) return alim_scale_result_free(&res), r;
    }
    if (json) { /* cli_print_json prints and frees the summary; the typed rest goes here */
        cJSON *s = res.summary;
        res.summary = NULL;
        alim_scale_result_free(&res);
        return cli_print_json(s);
    }
    printf("E3 scale: %s source (%s), %zu seed(s); run directory %s; cells %zu run now, %zu reused; %.1f s\n",
           res.source ? res.source : "?", cfg.data_dir, cfg.n_seeds, cfg.run_dir, res.cells_run, res.cells_reused, res.wall_s);
    printf("R = (score(0) - score(n1)) / n1 at the largest n_pos (n1 = the first negative prefix); E_hat as 'elastic coefficient'\n");
    print_part("model size (same D_p and budget):", &res.size, 0);
    print_part("pretraining tokens (one constant-lr run per seed, checkpoints):", &res.tokens, 1);
    printf("\ncriteria (spec §4.7: rho > 0):\n");
    for (size_t k = 0; k < res.n_criteria; k++)
        printf("  %-14s %-4s rho = %.4g\n", res.criteria[k].name, res.criteria[k].result, res.criteria[k].spearman);
    printf("verdict: %s\nfiles: %s/scale.csv, %s/levels.csv, %s/summary.json\n", res.verdict, cfg.run_dir, cfg.run_dir, cfg.run_dir);
    alim_scale_result_free(&res);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
