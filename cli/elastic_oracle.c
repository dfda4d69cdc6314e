/* elastic_oracle.c — `alim elastic oracle`: E0, the exact count-weighted learner. The grid,
 * its checks and the spec's §1.6 table come from the library (alim_oracle_grid_run,
 * alim_oracle_table_run); this file parses the options and formats the rows. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"
#include "alim/oracle.h"
#include "cli.h"
#include "elastic.h"

const char cli_elastic_oracle_help[] =
    "usage: alim elastic oracle [--k 10,100,1000] [--l 0.001,0.01] [--shares q1,q2,q3]\n"
    "                           [--smoothing A] [--no-markov] [--seed S] [--a-docs N]\n"
    "                           [--table] [--json] [--csv FILE]\n"
    "\n"
    "Two learners, both exact: 'mix' has three components, each Zipf(1) over its own 30\n"
    "symbols (spec §1.6); 'markov' is the count-based first-order model on the synthetic\n"
    "source S (the 'O' model of spec §4.2), trained on k |D_a| pretraining documents of the\n"
    "mixture q, |D_a| documents of C2 and l |D_a| documents of C3. Rates are bits per token.\n"
    "The ratio is -(dgamma_a/dl)/(dgamma_p/dl); the Hooke ratio is\n"
    "|D_a| dgamma_a / (|D_p| |dgamma_p|) with the changes measured from l = 0.\n"
    "Assertions (spec §4.4): dgamma_p/dl < 0 < dgamma_a/dl; ratio within 5% of k (5% (1+10 l)\n"
    "for l > 0.001); analytic and finite-difference derivatives agree to 0.1%; Hooke within\n"
    "5% of 1; with the perturbation from a novel component (share 0 in pretraining) both\n"
    "derivatives > 0. Failed assertions are results, not errors: the exit status is 0.\n"
    "\n"
    "options:\n"
    "  --k LIST          k = |D_p|/|D_a| values (default 10,100,1000)\n"
    "  --l LIST          l = |D_t|/|D_a| values (default 0.001,0.01)\n"
    "  --shares LIST     pretraining shares of C1,C2,C3 (default 1/3 each, as in spec §1.6)\n"
    "  --smoothing A     additive smoothing: 'mix' adds A to every probability of the joint\n"
    "                    alphabet and renormalises; 'markov' adds A to every transition count\n"
    "  --no-markov       only the 'mix' learner\n"
    "  --seed S          seed of the source S (default 1)\n"
    "  --a-docs N        |D_a| in documents for 'markov' (default 2000; matters only with\n"
    "                    smoothing)\n"
    "  --table           reproduce the table of spec §1.6 (spec value next to ours)\n"
    "  --json            one JSON object on stdout\n"
    "  --csv FILE        the grid as CSV (written atomically)\n";

static const char *pass_word(const alim_oracle_verdict *v, int check) { return v->checks[check].pass ? "PASS" : "FAIL"; }

static void add_point_json(cJSON *o, const alim_oracle_point *p)
{
    cli_json_add_number(o, "k", p->k);
    cli_json_add_number(o, "l", p->l);
    cli_json_add_number(o, "gamma_a_bits", p->gamma_a_bits);
    cli_json_add_number(o, "gamma_p_bits", p->gamma_p_bits);
    cli_json_add_number(o, "dgamma_a_dl_bits", p->dgamma_a_dl);
    cli_json_add_number(o, "dgamma_p_dl_bits", p->dgamma_p_dl);
    cli_json_add_number(o, "dgamma_a_dl_fd_bits", p->dgamma_a_dl_fd);
    cli_json_add_number(o, "dgamma_p_dl_fd_bits", p->dgamma_p_dl_fd);
    cli_json_add_number(o, "ratio", p->ratio);
    cli_json_add_number(o, "ratio_fd", p->ratio_fd);
    cli_json_add_number(o, "ratio_over_k", p->ratio / p->k);
    cli_json_add_number(o, "delta_gamma_a_bits", p->delta_a_bits);
    cli_json_add_number(o, "delta_gamma_p_bits", p->delta_p_bits);
    cli_json_add_number(o, "ratio_secant", p->ratio_secant);
    cli_json_add_number(o, "hooke_ratio", p->hooke);
}

/* --table: the spec's §1.6 table */
static int print_table(int json)
{
    alim_oracle_table_row rows[ALIM_ORACLE_TABLE_ROWS];
    int all;
    alim_error err;
    alim_error_clear(&err);
    if (alim_oracle_table_run(rows, &all, &err)) return cli_fail(&err);
    if (json) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "table");
        for (size_t i = 0; i < ALIM_ORACLE_TABLE_ROWS; i++) {
            const alim_oracle_table_row *t = &rows[i];
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "setting", t->check.name);
            cli_json_add_number(r, "k", t->k);
            cli_json_add_number(r, "l", t->l);
            cli_json_add_number(r, "smoothing", t->smoothing);
            cli_json_add_number(r, "spec_ratio", t->check.expected);
            cli_json_add_number(r, "ratio_secant", t->check.value);
            cli_json_add_number(r, "ratio_derivative", t->ratio_derivative);
            cJSON_AddBoolToObject(r, "match", t->check.pass);
            cJSON_AddItemToArray(arr, r);
        }
        cJSON_AddBoolToObject(o, "all_match", all);
        return cli_print_json(o);
    }
    printf("spec §1.6 table: three components, each Zipf(1) over its own 30 symbols; ratio = -Dgamma_a/Dgamma_p\n");
    printf("measured from l = 0 (the secant; the derivative ratio at l is shown too)\n\n");
    printf("%-36s %7s %9s %11s %11s  %s\n", "setting", "l", "spec", "ours", "derivative", "");
    for (size_t i = 0; i < ALIM_ORACLE_TABLE_ROWS; i++) {
        const alim_oracle_table_row *t = &rows[i];
        printf("%-36s %7g %9g %11.4f %11.4f  %s\n", t->check.name, t->l, t->check.expected, t->check.value, t->ratio_derivative,
               t->check.pass ? "match" : "DIFFERS");
    }
    printf("\n%s\n", all ? "all rows match the spec" : "rows marked DIFFERS: see docs/elastic.md (definition of the smoothing)");
    return CLI_EXIT_OK;
}

static int write_csv(const char *path, const alim_oracle_grid *g)
{
    alim_atomic_file f;
    alim_error err;
    alim_error_clear(&err);
    if (alim_atomic_open(&f, path, &err)) return cli_fail(&err);
    fprintf(f.fp, "model,k,l,gamma_a_bits,gamma_p_bits,dgamma_a_dl_bits,dgamma_p_dl_bits,dgamma_a_dl_fd_bits,"
                  "dgamma_p_dl_fd_bits,ratio,ratio_fd,ratio_over_k,delta_gamma_a_bits,delta_gamma_p_bits,hooke_ratio,"
                  "novel_dgamma_a_dl_bits,novel_dgamma_p_dl_bits,sign,ratio_check,fd_check,hooke_check,novel_check\n");
    for (size_t r = 0; r < g->n_rows; r++) {
        const alim_oracle_verdict *v = &g->rows[r];
        const alim_oracle_point *p = &v->point;
        fprintf(f.fp, "%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%s,%s,%s,%s,%s\n",
                v->model, p->k, p->l, p->gamma_a_bits, p->gamma_p_bits, p->dgamma_a_dl, p->dgamma_p_dl, p->dgamma_a_dl_fd,
                p->dgamma_p_dl_fd, p->ratio, p->ratio_fd, p->ratio / p->k, p->delta_a_bits, p->delta_p_bits, p->hooke,
                v->novel.dgamma_a_dl, v->novel.dgamma_p_dl, pass_word(v, ALIM_ORACLE_CHECK_SIGNS),
                pass_word(v, ALIM_ORACLE_CHECK_RATIO), pass_word(v, ALIM_ORACLE_CHECK_FD), pass_word(v, ALIM_ORACLE_CHECK_HOOKE),
                pass_word(v, ALIM_ORACLE_CHECK_NOVEL));
    }
    return alim_atomic_commit(&f, &err) ? cli_fail(&err) : 0;
}

static int print_json(const alim_oracle_grid_config *c, const alim_oracle_grid *g)
{
    cJSON *o = cJSON_CreateObject();
    cli_json_add_array(o, "shares", c->q, 3);
    cli_json_add_array(o, "novel_shares", g->novel_q, 3);
    cli_json_add_number(o, "smoothing", c->smoothing);
    cli_json_add_number(o, "seed", (double)c->seed);
    cJSON *arr = cJSON_AddArrayToObject(o, "grid");
    for (size_t r = 0; r < g->n_rows; r++) {
        const alim_oracle_verdict *v = &g->rows[r];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "model", v->model);
        add_point_json(e, &v->point);
        cli_json_add_number(e, "novel_dgamma_a_dl_bits", v->novel.dgamma_a_dl);
        cli_json_add_number(e, "novel_dgamma_p_dl_bits", v->novel.dgamma_p_dl);
        cli_json_add_number(e, "ratio_tolerance", v->checks[ALIM_ORACLE_CHECK_RATIO].tolerance);
        cJSON *ch = cJSON_AddObjectToObject(e, "checks");
        for (int i = 0; i < ALIM_ORACLE_N_CHECKS; i++) cJSON_AddBoolToObject(ch, v->checks[i].name, v->checks[i].pass);
        cJSON_AddItemToArray(arr, e);
    }
    cJSON_AddBoolToObject(o, "all_pass", g->all_pass);
    return cli_print_json(o);
}

static void print_text(const alim_oracle_grid_config *c, const alim_oracle_grid *g)
{
    const double *q = c->q, *qn = g->novel_q;
    printf("E0 oracle: shares q = (%g, %g, %g), smoothing %g; novel control q = (%g, %g, 0)\n", q[0], q[1], q[2],
           c->smoothing, qn[0], qn[1]);
    printf("rates in bits/token; derivatives d/dl in bits; ratio = -(dga/dl)/(dgp/dl)\n\n");
    printf("%-7s %6s %6s %9s %9s %11s %12s %10s %7s %7s %11s %11s  %s\n", "model", "k", "l", "gamma_a", "gamma_p",
           "dga/dl", "dgp/dl", "ratio", "r/k", "hooke", "novel dga", "novel dgp", "checks");
    for (size_t r = 0; r < g->n_rows; r++) {
        const alim_oracle_verdict *v = &g->rows[r];
        const alim_oracle_point *p = &v->point;
        printf("%-7s %6g %6g %9.5f %9.5f %11.4e %12.4e %10.3f %7.4f %7.4f %11.4e %11.4e  signs:%s ratio:%s fd:%s hooke:%s novel:%s\n",
               v->model, p->k, p->l, p->gamma_a_bits, p->gamma_p_bits, p->dgamma_a_dl, p->dgamma_p_dl, p->ratio, p->ratio / p->k,
               p->hooke, v->novel.dgamma_a_dl, v->novel.dgamma_p_dl, pass_word(v, ALIM_ORACLE_CHECK_SIGNS),
               pass_word(v, ALIM_ORACLE_CHECK_RATIO), pass_word(v, ALIM_ORACLE_CHECK_FD), pass_word(v, ALIM_ORACLE_CHECK_HOOKE),
               pass_word(v, ALIM_ORACLE_CHECK_NOVEL));
    }
    printf("\n%s\n", g->all_pass ? "all assertions PASS" : "some assertions FAIL");
}

int cli_elastic_oracle(int argc, char **argv)
{
    static const struct option opts[] = {
        {"k", required_argument, 0, 'k'},         {"l", required_argument, 0, 'l'},
        {"shares", required_argument, 0, 'q'},    {"smoothing", required_argument, 0, 'a'},
        {"no-markov", no_argument, 0, 'M'},       {"seed", required_argument, 0, 's'},
        {"a-docs", required_argument, 0, 'A'},    {"table", no_argument, 0, 't'},
        {"json", no_argument, 0, 'j'},            {"csv", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    alim_oracle_grid_config cfg;
    alim_oracle_grid_config_default(&cfg);
    double *ks = NULL, *ls = NULL, *qs = NULL;
    size_t nk = 0, nl = 0, nq = 0;
    int json = 0, table = 0, rc = 0;
    const char *csv = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': free(ks); rc = cli_parse_double_list("--k", optarg, &ks, &nk); break;
        case 'l': free(ls); rc = cli_parse_double_list("--l", optarg, &ls, &nl); break;
        case 'q': free(qs); rc = cli_parse_double_list("--shares", optarg, &qs, &nq); break;
        case 'a': rc = cli_parse_double("--smoothing", optarg, &cfg.smoothing); break;
        case 'M': cfg.markov = 0; break;
        case 's': rc = cli_parse_u64("--seed", optarg, &cfg.seed); break;
        case 'A': rc = cli_parse_double("--a-docs", optarg, &cfg.a_docs); break;
        case 't': table = 1; break;
        case 'j': json = 1; break;
        case 'c': csv = optarg; break;
        case 'h': free(ks), free(ls), free(qs); return CLI_ELASTIC_SHOW_HELP;
        case ':': rc = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]); break;
        }
        if (rc) break;
    }
    if (!rc && optind < argc) rc = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc && qs && nq != 3) rc = cli_error("--shares", "need 3 shares (C1,C2,C3), got %zu", nq);
    if (!rc && !(cfg.smoothing >= 0)) rc = cli_error("--smoothing", "must be >= 0");
    if (!rc && table) rc = print_table(json);
    else if (!rc) {
        if (qs) memcpy(cfg.q, qs, sizeof cfg.q);
        if (ks) cfg.k = ks, cfg.n_k = nk;
        if (ls) cfg.l = ls, cfg.n_l = nl;
        alim_oracle_grid g;
        alim_error err;
        alim_error_clear(&err);
        /* the library speaks of the shares; name the option that set them */
        if (!(cfg.q[0] + cfg.q[1] > 0)) rc = cli_error("--shares", "C1 and C2 shares are both 0");
        else if (alim_oracle_grid_run(&cfg, &g, &err)) rc = cli_fail(&err);
        else {
            if (csv) rc = write_csv(csv, &g);
            if (!rc && json) rc = print_json(&cfg, &g);
            else if (!rc) print_text(&cfg, &g);
            alim_oracle_grid_free(&g);
        }
    }
    free(ks), free(ls), free(qs);
    return rc;
}
