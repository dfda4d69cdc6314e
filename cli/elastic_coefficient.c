/* elastic_coefficient.c — `alim elastic coefficient`: E4, the elasticity coefficient. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/coefficient.h"
#include "cli.h"
#include "elastic.h"

const char cli_elastic_coefficient_help[] =
    "usage: alim elastic coefficient --data DIR --run DIR [--n-pos LIST] [--n-neg LIST]\n"
    "                                [--bootstrap B] [rebound options] [--json] [--csv FILE]\n"
    "       alim elastic coefficient --from-rebound E2RUN --run DIR [--n-pos LIST] [--n-neg LIST]\n"
    "                                [--pretrain-tokens N] [--control]\n"
    "\n"
    "E4 of spec §4.8. theta_pos = theta0 after n_pos positive documents (default 200 and 2000,\n"
    "k = |D_p|/|D_a| about 78 and 7.8 with 2M pretraining tokens), perturbed by n_neg negative\n"
    "documents (default 20, 40, 100), l = n_neg/n_pos. With gamma_p = bits/token on test_mix\n"
    "and gamma_a on test_c2, Delta = value at n_neg minus value at 0, per seed:\n"
    "  E_hat = -slope(Delta gamma_a) / slope(Delta gamma_p)   (least squares through 0)\n"
    "on the seed means, with a 95% percentile bootstrap over whole seeds (default 10000\n"
    "resamples), the Hooke ratio |D_a| Delta gamma_a / (|D_p| |Delta gamma_p|) per l, E_hat/k\n"
    "and the count-weighted learner's E_hat at the same k and l (alim elastic oracle).\n"
    "Criteria: (a) slope_p < 0 < slope_a, (b) the interval of E_hat above 1, (c) E_hat larger\n"
    "at the larger k; PASS if all hold, FAIL if the signs are wrong for every n_pos, else NULL.\n"
    "The cells are those of an E2 rebound run in RUN (resumable); --from-rebound reads a\n"
    "finished 'alim elastic rebound' run instead (its grid must hold the points) and trains\n"
    "nothing. Writes RUN/coefficient.csv and RUN/coefficient.json.\n"
    "\n"
    "options:\n"
    "  --n-pos LIST, --n-neg LIST (first 0)   the grid (defaults above)\n"
    "  --from-rebound E2RUN   analyse a finished E2 run (results go to --run DIR)\n"
    "  --pretrain-tokens N    with --from-rebound of a run on a pretrained theta0 (rebound\n"
    "                         --theta0 MODEL with behaviour data; required there): |D_p|, the\n"
    "                         tokens theta0 was pretrained on (SmolLM2-135M: 2e12); gamma_p is\n"
    "                         then bits/token on D_0 and |D_a| the scored tokens of seed 1's\n"
    "                         first n_pos records\n"
    "  --control              with --from-rebound: the run's control cells (its --control pass\n"
    "                         over the never-pretrained negative) instead of the main grid\n"
    "  --bootstrap B          resamples (default 10000; 0 = no interval)\n"
    "  --seeds N, --pretrain-tokens N, --layers N --dim N --heads N --context N,\n"
    "  --theta0 DIR, --samples N, --sample-tokens N, --threads N, --jobs N,\n"
    "  --precision P          as for rebound\n"
    "  --quick                tests: rebound's quick model, n_pos 10,40, n_neg 0,8,16,24\n"
    "  --json (print RUN/coefficient.json), --csv FILE (copy RUN/coefficient.csv)\n";

int cli_elastic_coefficient(int argc, char **argv)
{
    enum { C_DATA = CLI_ELASTIC_OPT_END, C_RUN, C_FROM, C_BOOT, C_QUICK, C_JSON, C_CSV, C_HELP, C_CONTROL };
    static const struct option opts[] = {
        {"data", required_argument, 0, C_DATA},         {"run", required_argument, 0, C_RUN},
        {"from-rebound", required_argument, 0, C_FROM}, {"bootstrap", required_argument, 0, C_BOOT},
        {"quick", no_argument, 0, C_QUICK},             {"json", no_argument, 0, C_JSON},
        {"csv", required_argument, 0, C_CSV},           {"help", no_argument, 0, C_HELP},
        {"control", no_argument, 0, C_CONTROL},
        CLI_ELASTIC_REBOUND_OPTIONS,                    {0, 0, 0, 0}};
    alim_coefficient_config cfg;
    alim_coefficient_config_default(&cfg);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--quick")) alim_coefficient_config_quick(&cfg);
    alim_rebound_config *rc = &cfg.rebound;
    int json = 0, rc_ = cli_parse_precision(NULL, &rc->precision), c;
    cli_elastic_rebound_opts o = {0};
    const char **theta0_dirs = NULL;
    char origin[600];
    const char *csv = NULL;
    optind = 1;
    opterr = 0;
    while (!rc_ && (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case C_DATA: rc->data_dir = optarg; break;
        case C_RUN: rc->run_dir = optarg; break;
        case C_FROM: cfg.from_run = optarg; break;
        case C_BOOT: rc_ = cli_parse_size("--bootstrap", optarg, &cfg.n_boot); if (!rc_ && cfg.n_boot > 10000000) rc_ = cli_error("--bootstrap", "at most 10^7 resamples"); break;
        case C_QUICK: break;
        case C_JSON: json = 1; break;
        case C_CSV: csv = optarg; break;
        case C_HELP: return CLI_ELASTIC_SHOW_HELP;
        case C_CONTROL: cfg.control = 1; break;
        case CLI_ELASTIC_OPT_PRETRAIN: { /* a real number: 2e12 tokens is a pretrained model's scale */
            double v;
            rc_ = cli_parse_double("--pretrain-tokens", optarg, &v);
            if (!rc_ && !(v >= 1 && v <= 1e18 && v == floor(v))) rc_ = cli_error("--pretrain-tokens", "must be a whole number in [1, 1e18]");
            if (!rc_) cfg.pretrain_tokens = v, rc->pretrain_tokens = (uint64_t)v;
            break;
        }
        case ':': rc_ = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default:
            rc_ = cli_elastic_rebound_option(c, optarg, rc, &o);
            if (rc_ == CLI_ELASTIC_NOT_SHARED) rc_ = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]);
            break;
        }
    }
    if (!rc_ && optind < argc) rc_ = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc_ && !rc->run_dir) rc_ = cli_usage_error("elastic", "coefficient needs --run DIR (the run directory; with --from-rebound, where the results go)");
    if (!rc_ && !cfg.from_run && !rc->data_dir) rc_ = cli_usage_error("elastic", "coefficient needs --data DIR, or --from-rebound RUN to analyse a finished 'alim elastic rebound' run");
    if (!rc_ && cfg.from_run && o.run_opts)
        rc_ = cli_usage_error("elastic", "with --from-rebound nothing is trained: model, seed and sampling options belong to the rebound run");
    if (!rc_ && cfg.control && !cfg.from_run) rc_ = cli_usage_error("elastic", "--control goes with --from-rebound (the control cells of a finished run)");
    if (!rc_ && !cfg.from_run) cfg.pretrain_tokens = 0; /* a run of its own pretrains: the figure is its budget */
    if (!rc_ && (rc->n_neg_count < 2 || rc->n_neg[0] != 0)) rc_ = cli_error("--n-neg", "needs 0 first and at least one perturbation size");
    if (!rc_ && o.theta0 && o.shape_given) rc_ = cli_usage_error("elastic", "--theta0 gives the model shape: drop --layers/--dim/--heads");
    if (!rc_ && !o.sample_tokens_given && rc->sample_tokens > (size_t)rc->context) rc->sample_tokens = (size_t)rc->context;
    if (!rc_ && o.theta0) rc_ = cli_elastic_use_theta0(rc, o.theta0, o.context_given, &theta0_dirs, origin, sizeof origin);
    if (rc_) return free(theta0_dirs), rc_;

    alim_progress pg = cli_progress();
    alim_coefficient_result res;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_coefficient_run(&cfg, &pg, cli_elastic_note, NULL, &res, &err);
    cli_progress_done();
    free(theta0_dirs);
    if (st) return cli_fail(&err);
    if (!res.summary) return CLI_EXIT_OK; /* under MPI a rank other than 0: the summary is rank 0's */
    char path[4200];
    if (csv) {
        snprintf(path, sizeof path, "%s/coefficient.csv", rc->run_dir);
        int r = cli_elastic_copy_file(path, csv);
        if (r) return alim_coefficient_result_free(&res), r;
    }
    if (json) { /* cli_print_json prints and frees the summary; the typed rest goes here */
        cJSON *s = res.summary;
        res.summary = NULL;
        alim_coefficient_result_free(&res);
        return cli_print_json(s);
    }
    const alim_coefficient_analysis *an = &res.analysis;
    printf("E4 elasticity coefficient: %s source (%s), rebound cells from %s", res.source ? res.source : "?", res.data_dir,
           cfg.from_run ? cfg.from_run : rc->run_dir);
    if (!cfg.from_run) printf(" (%zu run now, %zu reused)", res.cells_run, res.cells_reused);
    printf("%s\n|D_p| = %.4g pretraining tokens; gamma_p = %s, gamma_a on test_c2; l = n_neg / n_pos;\n"
           "E_hat = -slope(dgamma_a) / slope(dgamma_p), least squares through the origin; 95%% bootstrap over seeds\n",
           cfg.control ? " -- the control cells" : "", res.pretrain_tokens, res.gamma_p);
    for (size_t i = 0; i < an->n_pos_count; i++) {
        const alim_coefficient_estimate *x = &an->est[i];
        printf("\nn_pos %zu: |D_a| = %.0f tokens, k = %.4g, %zu seed(s)\n", an->n_pos[i], an->a_tokens[i], x->k, x->n_seeds);
        printf("  %6s %8s  %22s  %22s  %9s\n", "n_neg", "l", "dgamma_p (bits)", "dgamma_a (bits)", "Hooke");
        for (size_t j = 0; j < x->n_l; j++)
            printf("  %6zu %8.4f  %+10.5f +- %-8.5f  %+10.5f +- %-8.5f  %9.4f\n", an->n_neg[j], x->l[j], x->dgamma_p[j], x->dgamma_p_se[j],
                   x->dgamma_a[j], x->dgamma_a_se[j], x->hooke[j]);
        printf("  slopes: p %+.5f, a %+.5f bits per unit l; E_hat = %.4g [%.4g, %.4g]; E_hat/k = %.4g; oracle E_hat = %.4g\n", x->slope_p,
               x->slope_a, x->e_hat, x->e_lo, x->e_hi, x->hooke_fit, an->oracle_e_hat[i]);
    }
    printf("\ncriteria (spec §4.8; docs/elastic.md \"E4\"):\n");
    for (size_t k = 0; k < an->n_criteria; k++)
        printf("  (%c) %-4s %s\n", an->criteria[k].name[0], an->criteria[k].result, an->criteria[k].why);
    printf("verdict: %s\nfiles: %s/coefficient.csv, %s/coefficient.json\n", res.verdict, rc->run_dir, rc->run_dir);
    alim_coefficient_result_free(&res);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_RUNTIME;
}
