/* cmd_report.c — `alim report`: the main job, one command for the whole HTML report. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alim/dist.h"
#include "alim/io.h"
#include "alim/report.h"
#include "cli.h"

const char cmd_report_help[] =
    "usage: alim report [--config FILE.json] [--quick] [--out DIR] [--cache DIR] [--threads N] [--jobs N]\n"
    "                   [--precision P] [--json]\n"
    "\n"
    "Runs alim's analyses on built-in defaults (or on your configuration) and writes a\n"
    "self-contained report: DIR/index.html, every figure as PNG and SVG, and every table as\n"
    "CSV next to it, so each number in the report traces back to a file. The HTML is static\n"
    "(no network, no server) and opens in any browser. index.html is written last; a run\n"
    "that fails leaves no index.html behind.\n"
    "\n"
    "Sections:\n"
    "  bottleneck   the alignment performance interval against three learners trained on\n"
    "               m = 10 ... 10^4 labels (true risk vs m), and the capacity a target risk\n"
    "               needs as the value complexity log2 M grows\n"
    "  asymptotics  KL-regularised RL versus best-of-N: the reward-KL frontier with exact\n"
    "               best-of-N for n-token sequences (N = e^{n Delta}), KL(best-of-N || RL optimum)\n"
    "               versus n, and the exact KL of best-of-N against log N - (N-1)/N\n"
    "  elasticity   E0: the exact count-weighted learner's ratio of rate changes versus the\n"
    "               perturbation size (Hooke's law and where it ends); E1: forward versus\n"
    "               inverse fine-tuning loss curves of small GPTs; E2: rebound, the behaviour\n"
    "               score and the KL to theta0 versus the number of negative documents (the\n"
    "               spec's grid); E4: the elasticity coefficient E_hat from E2's cells (no\n"
    "               new training); E3: elasticity versus scale, R and E_hat versus model\n"
    "               parameters and pretraining tokens (a reduced version of the spec's run).\n"
    "               About 10 minutes the first time on 2 cores, seconds when the cache has it.\n"
    "  real         (only when the config asks for it) the elasticity study on a real\n"
    "               pretrained model, drawn from the finished directory of 'make\n"
    "               reproduce-real' (computes nothing): E1, E2 with its control, E4,\n"
    "               the C0 learning rate and the classifier; examples/report-real.json:\n"
    "                 alim report --config examples/report-real.json --out real-report\n"
    "\n"
    "options:\n"
    "  --config FILE  JSON overriding any part of the defaults; unknown keys are errors:\n"
    "                 {\"bottleneck\": {\"scenario\": {...as for 'alim interval'...},\n"
    "                   \"m_values\": [10, 100, 1000], \"replicates\": 6, \"test_items\": 20000,\n"
    "                   \"eps\": [0.1, 0.01], \"log2M_max\": 32, \"seed\": 1},\n"
    "                  \"asymptotics\": {\"p\": [0.5, 0.3, 0.2], \"r\": [0, 1, 2],\n"
    "                   \"delta_nats\": 0.5, \"lengths\": [1, 4, 16, 64, 256, 1024],\n"
    "                   \"log10_N_max\": 8},\n"
    "                  \"elasticity\": {\"cache\": \"DIR\", \"experiments\": [\"resist\", \"rebound\"],\n"
    "                   \"data\": {\"source\": \"synthetic\", \"seed\": 1, \"pretrain_tokens\": 2000000,\n"
    "                            \"pool_docs\": 4096, \"test_docs\": 256, \"doc_len\": 128},\n"
    "                   \"model\": {\"layers\": 2, \"dim\": 64, \"heads\": 4, \"context\": 128},\n"
    "                   \"pretrain_tokens\": 2000000,\n"
    "                   \"resist\": {\"seeds\": 3, \"sft_docs\": 200, \"samples\": 300,\n"
    "                              \"sample_tokens\": 128, \"prompt_bytes\": 16},\n"
    "                   \"rebound\": {\"seeds\": 3, \"n_pos\": [200, 400, 1000, 2000],\n"
    "                               \"n_neg\": [0, 20, 40, 100, 200, 400], \"samples\": 256,\n"
    "                               \"sample_tokens\": 128, \"epsilon_nats\": 0.01},\n"
    "                   \"coefficient\": {\"max_n_neg\": 100, \"bootstrap\": 10000},\n"
    "                   \"scale\": {\"seeds\": 2, \"sizes\": [[1, 32, 2], [2, 64, 4], [4, 128, 4]],\n"
    "                             \"pretrain_tokens\": 500000, \"size_n_pos\": [400],\n"
    "                             \"size_n_neg\": [0, 20, 40, 100],\n"
    "                             \"budgets\": [125000, 250000, 500000, 1000000],\n"
    "                             \"budget_model\": 2, \"budget_lr\": 0.001,\n"
    "                             \"tokens_n_pos\": [400], \"tokens_n_neg\": [0, 20, 40, 100],\n"
    "                             \"max_n_neg\": 100, \"context\": 128, \"samples\": 128,\n"
    "                             \"sample_tokens\": 128}}}\n"
    "                 \"sections\": [\"bottleneck\", \"asymptotics\", \"bon\", \"elasticity\", \"real\"]\n"
    "                 picks the sections (default the first four), \"real\": {\"run\": \"DIR\"}\n"
    "                 names the study directory of the \"real\" section.\n"
    "                 \"experiments\" picks from \"resist\" (E1), \"rebound\" (E2),\n"
    "                 \"coefficient\" (E4, needs \"rebound\") and \"scale\" (E3); default all.\n"
    "  --quick        reduced sweeps (for tests; well under a minute)\n"
    "  --out DIR      output directory (default alim-report), created if missing\n"
    "  --cache DIR    where the elasticity runs keep their data and cells (default: the\n"
    "                 config's elasticity.cache, else DIR/cache); a re-run reuses them\n"
    "  --threads N    threads for training and sampling (default 1: robust when other jobs\n"
    "                 share the cores; 2 is faster on an idle 2-core machine)\n"
    "  --jobs N       elasticity cells computed side by side, each with --threads threads\n"
    "                 (default: the CPUs online divided by --threads). The figures are the\n"
    "                 same for every N: a cell's bits depend on its threads only\n"
    "  --precision P  the elasticity models' matrix products: fp32, bf16 (bf16 inputs, fp32\n"
    "                 sums, on AMX/AVX512-BF16 through oneDNN) or auto (default: bf16 where\n"
    "                 the CPU has native bf16); bf16 runs are cached apart, and the report\n"
    "                 says which precision its figures used\n"
    "  --json         print a JSON summary (directory, seconds, figures, tables, cells)\n"
    "\n"
    "Progress (stderr, when it is a terminal or ALIM_PROGRESS=1): a progress line, and one line\n"
    "per elasticity cell computed or reused.\n"
    "\n"
    "example:\n"
    "  alim report --out alim-report && xdg-open alim-report/index.html\n";

/* The progress line. Like cli_progress, but the ETA restarts with each stage's own total
 * (the elasticity runs report in their own units after the fast sections). */
static struct {
    int enabled, drawn;
    double start, last, total;
} prog;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int progress_draw(void *ctx, const char *stage, double done, double total)
{
    (void)ctx;
    if (!prog.enabled) return 0;
    double t = now_s();
    if (prog.start == 0.0 || total != prog.total) prog.start = t, prog.total = total;
    if (t - prog.last < 0.25 && done < total) return 0;
    prog.last = t;
    double frac = total > 0 ? done / total : 0.0, el = t - prog.start;
    char eta[32] = "";
    if (frac > 0.01 && frac < 1.0) snprintf(eta, sizeof eta, ", ETA %.0f s", el * (1.0 - frac) / frac);
    fprintf(stderr, "\r%s: %.0f/%.0f (%3.0f%%%s)   ", stage, done, total, 100.0 * frac, eta);
    fflush(stderr);
    prog.drawn = 1;
    return 0;
}

static void progress_end(void)
{
    if (prog.drawn) fputc('\n', stderr);
    prog.drawn = 0;
}

static void note_line(void *ctx, const char *line)
{
    (void)ctx;
    if (!prog.enabled) return;
    if (prog.drawn) fputs("\r\033[K", stderr);
    prog.drawn = 0;
    fprintf(stderr, "%s\n", line);
}

static int report_main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"quick", no_argument, 0, 'q'},
                                         {"out", required_argument, 0, 'o'},    {"json", no_argument, 0, 'j'},
                                         {"cache", required_argument, 0, 'C'},  {"threads", required_argument, 0, 't'},
                                         {"jobs", required_argument, 0, 'J'},   {"precision", required_argument, 0, 'P'},
                                         {0, 0, 0, 0}};
    const char *config_path = NULL, *out = "alim-report", *cache = NULL;
    const char *threads = NULL, *jobs = NULL, *precision = NULL;
    int quick = 0, json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'q': quick = 1; break;
        case 'o': out = optarg; break;
        case 'j': json = 1; break;
        case 'C': cache = optarg; break;
        case 't': threads = optarg; break;
        case 'J': jobs = optarg; break;
        case 'P': precision = optarg; break;
        default: return cli_usage_error("report", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
    if (!*out) return cli_error("--out", "empty directory name");
    if (cache && !*cache) return cli_error("--cache", "empty directory name");
    /* One thread unless asked: the report's models are small, and when other jobs share the
     * cores, waiting OpenMP threads spin (measured with the default configuration while other
     * jobs kept both cores busy: 646 s with 2 threads, 111 s with 1; docs/report.md). */
    int rc = cli_lm_set_threads(threads ? threads : "1");
    if (rc) return rc;
    int n_jobs;
    if ((rc = cli_parse_jobs(jobs, &n_jobs))) return rc;
    alim_precision prec;
    if ((rc = cli_parse_precision(precision, &prec))) return rc;
    alim_error err;
    alim_error_clear(&err);
    cJSON *config = NULL;
    if (config_path && alim_json_read_file(config_path, &config, &err)) return cli_fail(&err);
    alim_report_options o = {out, config, config_path, quick, cache, note_line, NULL, n_jobs, prec};
    alim_report_summary sum;
    const char *e = getenv("ALIM_PROGRESS");
    prog.enabled = e ? strcmp(e, "0") != 0 : isatty(STDERR_FILENO);
    alim_progress pg = {progress_draw, NULL};
    alim_status st = alim_report_run(&o, &pg, &sum, &err);
    progress_end();
    cJSON_Delete(config);
    if (st && alim_dist_multi()) {
        /* Under MPI a rank that failed outside the experiments' agreed steps (rank 0 writing
         * a figure, say) leaves the others waiting in a collective: say why, naming the rank,
         * and end the job. */
        const int rank = alim_dist_rank();
        cli_quiet = 0;
        char what[2 * ALIM_ERROR_WHAT_MAX];
        cli_flag_hints(err.what, what, sizeof what);
        rc = rank ? cli_error(cli_flag_of(err.where), "(rank %d) %s", rank, what) : cli_fail(&err);
        fflush(stderr);
        alim_dist_abort(alim_status_is_user_error(st) ? CLI_EXIT_USAGE : CLI_EXIT_RUNTIME);
        return rc;
    }
    if (st) return cli_fail(&err);
    if (cli_quiet) return CLI_EXIT_OK; /* a rank other than 0: rank 0 reports */
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "out_dir", out);
        cJSON_AddNumberToObject(j, "seconds", sum.seconds);
        cJSON_AddNumberToObject(j, "figures", sum.n_figures);
        cJSON_AddNumberToObject(j, "tables", sum.n_tables);
        cJSON *el = cJSON_AddObjectToObject(j, "elasticity_cells");
        cJSON_AddNumberToObject(el, "total", (double)sum.cells_total);
        cJSON_AddNumberToObject(el, "run", (double)sum.cells_run);
        cJSON_AddNumberToObject(el, "reused", (double)sum.cells_reused);
        cJSON_AddBoolToObject(el, "data_reused", sum.data_reused);
        return cli_print_json(j);
    }
    printf("report written to %s/index.html (%d figures, %d tables, %.1f s; elasticity cells: %zu computed, %zu "
           "reused)\n",
           out, sum.n_figures, sum.n_tables, sum.seconds, sum.cells_run, sum.cells_reused);
    return CLI_EXIT_OK;
}

/* Under mpirun/srun every rank runs the report: the elasticity cells are handed out to the
 * ranks (alim/runner.h), rank 0 writes the report. */
int cmd_report(int argc, char **argv) { return cli_with_dist(report_main, argc, argv, NULL); }
