/* elastic_rebound.c — `alim elastic rebound`: E2, rebound (an aligned model fed negative
 * documents, measured at every checkpoint). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/io.h"
#include "alim/rebound.h"
#include "cli.h"
#include "elastic.h"

const char cli_elastic_rebound_help[] =
    "usage: alim elastic rebound --data DIR --run DIR [--seeds N] [--n-pos LIST] [--n-neg LIST]\n"
    "                            [--samples N] [--epsilon E] [--control] [--control-run DIR]\n"
    "                            [--quick] [--json] [--csv FILE]\n"
    "\n"
    "E2 of spec §4.6. For each seed s = 1..N: theta0 as in 'resist' (own cells); for each\n"
    "n_pos (default 200,400,1000,2000) theta_pos = theta0 after 1 epoch on pool_c2.txt\n"
    "documents 1..n_pos (batch 8, lr 3e-4 constant, weight decay 0); then ONE epoch on\n"
    "pool_c3.txt documents 1..max(n_neg) in document order from theta_pos, stopped and\n"
    "resumed (bit for bit) at the update where the pass has read the first n_neg\n"
    "documents (default n_neg 0,20,40,100,200,400; 0 = theta_pos). At theta0 and every\n"
    "checkpoint: bits/token on test_c1..c3 and test_mix, KL(model || theta0) per position\n"
    "on test_mix, and 256 documents drawn from end-of-text at temperature 1, labelled by the\n"
    "exact class under chains.json (synthetic) or by classifier.nb (natural/text);\n"
    "score = positive (C2) rate - negative (C3) rate. n*(eps) = smallest n_neg (linearly\n"
    "interpolated) with KL < eps nats. Criteria (a)-(e) of spec §4.6 on the seed means\n"
    "(PASS / FAIL, NULL when they cannot be evaluated; (e) needs --control-run); the\n"
    "verdict is PASS only when all five pass, else NULL. Exit status 0 either way.\n"
    "Control (novel negative): a data directory without C3 in pretraining,\n"
    "  alim data synthetic --shares 0.95,0.05,0 --out syn-ctl\n"
    "  alim elastic rebound --data syn-ctl --run e2-ctl --control\n"
    "  alim elastic rebound --data syn --run e2-syn --control-run e2-ctl\n"
    "Cells are resumable as in 'resist'; writes RUN/grid.csv (theta0 row, then n_pos x\n"
    "n_neg rows: seed means and SEs) and RUN/summary.json.\n"
    "\n"
    "options:\n"
    "  --data DIR, --run DIR, --seeds N (default 3), --pretrain-tokens N,\n"
    "  --layers N --dim N --heads N --context N   as for resist\n"
    "  --n-pos LIST           positive documents (increasing)\n"
    "  --n-neg LIST           negative prefixes (increasing, first 0)\n"
    "  --samples N            documents drawn per checkpoint (default 256)\n"
    "  --sample-tokens N      at most N tokens per document (default 128)\n"
    "  --epsilon E            n*(eps) threshold in nats (default 0.01)\n"
    "  --control              the data directory is the control (C3 share 0)\n"
    "  --control-run DIR      a finished control run directory, for criterion (e)\n"
    "  --theta0 DIR           start every seed from this checkpoint instead of pretraining:\n"
    "                         any GPT-2-format model (e.g. `alim train` output or a Hugging\n"
    "                         Face GPT-2 directory) with its tokenizer (vocab.json +\n"
    "                         merges.txt), which then tokenizes the data; the shape comes from\n"
    "                         it, the context is capped at its n_positions; give the tokens\n"
    "                         it was pretrained on with --pretrain-tokens (for E4's k)\n"
    "  --theta0 MODEL         with --data from 'alim data behaviours': E2 on a real pretrained\n"
    "                         model (docs/elastic.md \"E2 on a real pretrained model\"), a GGUF\n"
    "                         file or Hugging Face directory (e.g. scripts/fetch-smollm2.sh's\n"
    "                         SmolLM2), theta0 of every seed with its own tokenizer and chat\n"
    "                         template; SFT on the chat pools (response-only loss), bits/token\n"
    "                         on the test sets, gamma_mix and the KL to theta0 on D_0 (theta0's\n"
    "                         own replies to prompts.txt), score from replies to prompts.txt.\n"
    "                         Defaults then: context 128, n_pos\n"
    "                         40,80,200,400, n_neg 0,4,8,20,40,80, lr 1e-5, 48 replies of <= 48\n"
    "                         tokens, 32 test records; --quick: context 64, n_pos 2,4, n_neg\n"
    "                         0,2, batch 4, 4 replies of <= 8 tokens, 2 test records, 1 seed;\n"
    "                         --control adds the control: from each theta_pos a pass over the\n"
    "                         control-negative pool (c4), scored with its class as negative,\n"
    "                         and criterion (e) from it (rows \"control\")\n"
    "  --lr X                 the SFT learning rate (constant; default 3e-4, pretrained 1e-5)\n"
    "  --test-records N       pretrained theta0: records of each test set scored (default 32)\n"
    "  --d0-records N         pretrained theta0: replies in D_0 (default 32, <= 64 tokens each)\n"
    "  --quick                tests: 1 x 16 x 2, context 32, 16384 pretraining tokens,\n"
    "                         n_pos 10,20,30,40, n_neg 0,8,16,24,32,40, 16 samples of 32\n"
    "                         tokens, 2 seeds; options given with it override it\n"
    CLI_ELASTIC_JOBS_HELP
    "  --threads N, --json (print RUN/summary.json), --csv FILE (copy RUN/grid.csv)\n";

int cli_elastic_rebound(int argc, char **argv)
{
    enum { B_DATA = CLI_ELASTIC_OPT_END, B_RUN, B_EPS, B_CONTROL, B_CRUN, B_QUICK, B_JSON, B_CSV, B_HELP, B_LR, B_TESTREC, B_D0REC };
    static const struct option opts[] = {
        {"data", required_argument, 0, B_DATA},        {"run", required_argument, 0, B_RUN},
        {"epsilon", required_argument, 0, B_EPS},      {"control", no_argument, 0, B_CONTROL},
        {"control-run", required_argument, 0, B_CRUN}, {"quick", no_argument, 0, B_QUICK},
        {"json", no_argument, 0, B_JSON},              {"csv", required_argument, 0, B_CSV},
        {"help", no_argument, 0, B_HELP},              {"lr", required_argument, 0, B_LR},
        {"test-records", required_argument, 0, B_TESTREC}, {"d0-records", required_argument, 0, B_D0REC},
        CLI_ELASTIC_REBOUND_OPTIONS,
        {0, 0, 0, 0}};
    alim_rebound_config cfg;
    alim_rebound_config_default(&cfg);
    /* behaviour data (a pretrained theta0) have defaults of their own: found before the options */
    int quick = 0;
    const int real = cli_elastic_prescan(argc, argv, &quick);
    if (real) quick ? alim_rebound_config_real_quick(&cfg) : alim_rebound_config_real(&cfg);
    else if (quick) alim_rebound_config_quick(&cfg);
    int json = 0, rc = cli_parse_precision(NULL, &cfg.precision), c;
    cli_elastic_rebound_opts o = {0};
    const char **theta0_dirs = NULL;
    char origin[600];
    const char *csv = NULL;
    optind = 1;
    opterr = 0;
    while (!rc && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case B_DATA: cfg.data_dir = optarg; break;
        case B_RUN: cfg.run_dir = optarg; break;
        case B_EPS: rc = cli_parse_double("--epsilon", optarg, &cfg.epsilon_nats); if (!rc && !(cfg.epsilon_nats > 0)) rc = cli_error("--epsilon", "must be > 0"); break;
        case B_CONTROL: cfg.control = 1; break;
        case B_CRUN: cfg.control_run = optarg; break;
        case B_QUICK: break;
        case B_LR: rc = cli_parse_double("--lr", optarg, &cfg.sft_lr); if (!rc && !(cfg.sft_lr > 0 && cfg.sft_lr < 1)) rc = cli_error("--lr", "must be in (0, 1)"); break;
        case B_D0REC: rc = cli_elastic_parse_pos_size("--d0-records", optarg, &cfg.d0_records); if (!rc && !real) rc = cli_usage_error("elastic", "--d0-records goes with behaviour data (a pretrained --theta0)"); break;
        case B_TESTREC: rc = cli_elastic_parse_pos_size("--test-records", optarg, &cfg.test_records); if (!rc && !real) rc = cli_usage_error("elastic", "--test-records goes with behaviour data (a pretrained --theta0)"); break;
        case B_JSON: json = 1; break;
        case B_CSV: csv = optarg; break;
        case B_HELP: return CLI_ELASTIC_SHOW_HELP;
        case ':': rc = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default:
            rc = cli_elastic_rebound_option(c, optarg, &cfg, &o);
            if (rc == CLI_ELASTIC_NOT_SHARED) rc = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    if (!rc && optind < argc) rc = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc && !cfg.data_dir) rc = cli_usage_error("elastic", "rebound needs --data DIR (from 'alim data synthetic --out DIR')");
    if (!rc && !cfg.run_dir) rc = cli_usage_error("elastic", "rebound needs --run DIR (the run directory, created or resumed)");
    if (!rc && cfg.control && cfg.control_run) rc = cli_usage_error("elastic", "--control-run goes with the main run, not with --control");
    if (!rc && real && !o.theta0) rc = cli_usage_error("elastic", "behaviour data need a pretrained theta0: --theta0 MODEL.gguf or a Hugging Face directory");
    if (!rc && o.theta0 && o.shape_given) rc = cli_usage_error("elastic", "--theta0 gives the model shape: drop --layers/--dim/--heads");
    if (!rc && real && cfg.control_run) rc = cli_usage_error("elastic", "with a pretrained theta0 the control is part of the run: --control, not --control-run");
    if (!rc && o.theta0 && cfg.control && !real) rc = cli_usage_error("elastic", "--theta0 with --control: the control needs a theta0 pretrained without C3");
    if (!rc && !o.sample_tokens_given && cfg.sample_tokens > (size_t)cfg.context) cfg.sample_tokens = (size_t)cfg.context;
    if (!rc && real) cfg.theta0_model = o.theta0;
    else if (!rc && o.theta0) rc = cli_elastic_use_theta0(&cfg, o.theta0, o.context_given, &theta0_dirs, origin, sizeof origin);
    if (rc) return free(theta0_dirs), rc;

    alim_progress pg = cli_progress();
    alim_rebound_result res;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_rebound_run(&cfg, &pg, cli_elastic_note, NULL, &res, &err);
    cli_progress_done();
    free(theta0_dirs);
    if (st) return cli_fail(&err);
    if (!res.summary) return CLI_EXIT_OK; /* under MPI a rank other than 0: the summary is rank 0's */
    char path[4200];
    if (csv) {
        snprintf(path, sizeof path, "%s/grid.csv", cfg.run_dir);
        if ((rc = cli_elastic_copy_file(path, csv))) return alim_rebound_result_free(&res), rc;
    }
    if (json) { /* cli_print_json prints and frees the summary; the typed rest goes here */
        cJSON *s = res.summary;
        res.summary = NULL;
        alim_rebound_result_free(&res);
        return cli_print_json(s);
    }
    printf("E2 rebound%s: %s source (%s), %zu seed(s), %.0f parameters; run directory %s\n", cfg.control ? " (control)" : "",
           res.source, cfg.data_dir, cfg.n_seeds, res.num_params, cfg.run_dir);
    printf("cells: %zu total, %zu run now, %zu reused; %.1f s", res.cells_total, res.cells_run, res.cells_reused, res.wall_s);
    if (res.train_tokens_per_s > 0) printf("; training %.0f tokens/s\n", res.train_tokens_per_s);
    else printf("; nothing trained now\n");
    printf("labels: %s", res.labels);
    if (res.labels_by_classifier) printf(" (accuracy %.4f on clean test windows)", res.classifier_accuracy);
    printf("\nscore = positive rate - negative rate (mean +- SE over seeds); gamma in bits/token; KL(model || theta0) in nats\n\n");
    printf("%-7s %6s %6s %6s  %16s %8s %8s  %8s %8s %8s %8s  %9s\n", "row", "n_pos", "n_neg", "steps", "score", "pos", "neg",
           "g_C1", "g_C2", "g_C3", "g_mix", "KL");
    /* theta0, then the grid, then the control's rows (grid.csv's order) */
    const size_t cells = res.n_pos_count * res.n_neg_count;
    for (size_t q = 0; q < 1 + cells + (res.control_grid ? cells : 0); q++) {
        const alim_rebound_row *r = !q ? &res.baseline : q <= cells ? &res.grid[q - 1] : &res.control_grid[q - 1 - cells];
        const double *m = r->mean;
        printf("%-7s %6.0f %6.0f %6.1f  %+8.4f +- %-6.4f %8.4f %8.4f  %8.4f %8.4f %8.4f %8.4f  %9.5f\n", r->row, r->n_pos, r->n_neg,
               r->steps, m[ALIM_REBOUND_SCORE], r->se[ALIM_REBOUND_SCORE], m[ALIM_REBOUND_POSITIVE_RATE], m[ALIM_REBOUND_NEGATIVE_RATE],
               m[ALIM_REBOUND_GAMMA_C1_BITS], m[ALIM_REBOUND_GAMMA_C2_BITS], m[ALIM_REBOUND_GAMMA_C3_BITS], m[ALIM_REBOUND_GAMMA_MIX_BITS],
               m[ALIM_REBOUND_KL_TO_BASE_NATS]);
    }
    printf("\nn*(eps = %g nats), smallest n_neg with KL < eps (interpolated):", cfg.epsilon_nats);
    for (size_t i = 0; i < res.n_pos_count; i++) {
        const double n_pos = res.grid[i * res.n_neg_count].n_pos;
        if (isnan(res.n_star[i])) printf("  n_pos %.0f: not reached", n_pos);
        else printf("  n_pos %.0f: %.1f", n_pos, res.n_star[i]);
    }
    printf("\ncriteria (spec §4.6, on seed means):\n");
    const alim_rebound_criteria *cr = &res.criteria;
    const char *const result[5] = {cr->a, cr->b, cr->c, cr->d, cr->e};
    for (int k = 0; k < 5; k++) printf("  (%c) %-4s %s\n", 'a' + k, result[k], cr->why[k]);
    printf("verdict: %s\n", cr->verdict);
    printf("files: %s/grid.csv, %s/summary.json\n", cfg.run_dir, cfg.run_dir);
    alim_rebound_result_free(&res);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
