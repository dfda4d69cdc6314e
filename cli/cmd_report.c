/* cmd_report.c — `alim report`: the main job, one command for the whole HTML report. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "alim/io.h"
#include "alim/report.h"
#include "cli.h"

const char cmd_report_help[] =
    "usage: alim report [--config FILE.json] [--quick] [--out DIR] [--json]\n"
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
    "               perturbation size (Hooke's law and where it ends)\n"
    "\n"
    "options:\n"
    "  --config FILE  JSON overriding any part of the defaults; unknown keys are errors:\n"
    "                 {\"bottleneck\": {\"scenario\": {...as for 'alim interval'...},\n"
    "                   \"m_values\": [10, 100, 1000], \"replicates\": 6, \"test_items\": 20000,\n"
    "                   \"eps\": [0.1, 0.01], \"log2M_max\": 32, \"seed\": 1},\n"
    "                  \"asymptotics\": {\"p\": [0.5, 0.3, 0.2], \"r\": [0, 1, 2],\n"
    "                   \"delta_nats\": 0.5, \"lengths\": [1, 4, 16, 64, 256, 1024],\n"
    "                   \"log10_N_max\": 8}}\n"
    "  --quick        reduced sweeps (for tests; well under a minute)\n"
    "  --out DIR      output directory (default alim-report), created if missing\n"
    "  --json         print a JSON summary (directory, seconds, figures, tables)\n"
    "\n"
    "example:\n"
    "  alim report --out alim-report && xdg-open alim-report/index.html\n";

int cmd_report(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, 0, 'c'}, {"quick", no_argument, 0, 'q'},
                                         {"out", required_argument, 0, 'o'},    {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    const char *config_path = NULL, *out = "alim-report";
    int quick = 0, json = 0, c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'q': quick = 1; break;
        case 'o': out = optarg; break;
        case 'j': json = 1; break;
        default: return cli_usage_error("report", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc) return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
    if (!*out) return cli_error("--out", "empty directory name");
    alim_error err;
    cJSON *config = NULL;
    if (config_path && alim_json_read_file(config_path, &config, &err)) return cli_fail(&err);
    alim_report_options o = {out, config, config_path, quick};
    alim_report_summary sum;
    alim_progress prog = cli_progress();
    alim_status st = alim_report_run(&o, &prog, &sum, &err);
    cli_progress_done();
    cJSON_Delete(config);
    if (st) return cli_fail(&err);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "out_dir", out);
        cJSON_AddNumberToObject(j, "seconds", sum.seconds);
        cJSON_AddNumberToObject(j, "figures", sum.n_figures);
        cJSON_AddNumberToObject(j, "tables", sum.n_tables);
        return cli_print_json(j);
    }
    printf("report written to %s/index.html (%d figures, %d tables, %.1f s)\n", out, sum.n_figures, sum.n_tables,
           sum.seconds);
    return CLI_EXIT_OK;
}
