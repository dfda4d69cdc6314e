/* cmd_elastic.c — `alim elastic`: the elasticity lab (subcommands; only `oracle` so far). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"
#include "alim/oracle.h"
#include "alim/source.h"
#include "cli.h"

const char cmd_elastic_help[] =
    "usage: alim elastic <subcommand> [options]\n"
    "\n"
    "The elasticity lab (\"Language models resist alignment\", docs/elastic.md).\n"
    "\n"
    "subcommands:\n"
    "  oracle   E0: the exact count-weighted learner; gamma_a, gamma_p, their derivatives in\n"
    "           l = |D_t|/|D_a| (analytic and finite-difference), the ratio vs k = |D_p|/|D_a|,\n"
    "           the Hooke ratio, the novel-component control, PASS/FAIL rows\n"
    "\n"
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

typedef struct {
    const char *model;
    alim_oracle_point pt;
    alim_oracle_point novel;
    int sign_ok, ratio_ok, fd_ok, hooke_ok, novel_ok;
    double tol;
} row;

static double rel(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

static void judge(row *r)
{
    const alim_oracle_point *p = &r->pt;
    r->tol = p->l <= 0.001 + 1e-12 ? 0.05 : 0.05 * (1 + 10 * p->l);
    r->sign_ok = p->dgamma_p_dl < 0 && p->dgamma_a_dl > 0;
    r->ratio_ok = fabs(p->ratio / p->k - 1) <= r->tol;
    r->fd_ok = rel(p->dgamma_a_dl_fd, p->dgamma_a_dl) <= 1e-3 && rel(p->dgamma_p_dl_fd, p->dgamma_p_dl) <= 1e-3;
    r->hooke_ok = p->l > 0 ? fabs(p->hooke - 1) <= 0.05 : 1; /* no change at l = 0: nothing to compare */
    r->novel_ok = r->novel.dgamma_a_dl > 0 && r->novel.dgamma_p_dl > 0;
}

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

/* the spec's §1.6 table */
typedef struct {
    const char *setting;
    double k, l, q1, q2, q3, smoothing, spec, half_unit;
} table_row;
static const table_row TABLE[] = {
    {"k = 100", 100, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 100.1, 0.05},
    {"k = 1000", 1000, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 1001, 0.5},
    {"k = 1000", 1000, 0.02, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 1021, 0.5},
    {"k = 1000, q = (.8, .1, .1)", 1000, 0.001, 0.8, 0.1, 0.1, 0, 1004.5, 0.05},
    {"k = 1000, additive smoothing 1e-3", 1000, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1e-3, 1002, 0.5},
};

static int run_table(int json)
{
    double *comp = alim_oracle_zipf_components(3, 30);
    if (!comp) return cli_error("oracle", "out of memory");
    size_t n = sizeof TABLE / sizeof *TABLE;
    cJSON *o = json ? cJSON_CreateObject() : NULL, *arr = json ? cJSON_AddArrayToObject(o, "table") : NULL;
    if (!json) {
        printf("spec §1.6 table: three components, each Zipf(1) over its own 30 symbols; ratio = -Dgamma_a/Dgamma_p\n");
        printf("measured from l = 0 (the secant; the derivative ratio at l is shown too)\n\n");
        printf("%-36s %7s %9s %11s %11s  %s\n", "setting", "l", "spec", "ours", "derivative", "");
    }
    int all = 1;
    for (size_t i = 0; i < n; i++) {
        const table_row *t = &TABLE[i];
        double q[3] = {t->q1, t->q2, t->q3};
        alim_oracle_mix m = {3, 90, comp, q, 1, 2, t->smoothing};
        alim_oracle_point p;
        alim_error err;
        alim_error_clear(&err);
        if (alim_oracle_mix_eval(&m, t->k, t->l, &p, &err)) {
            free(comp);
            cJSON_Delete(o);
            return cli_fail(&err);
        }
        int match = fabs(p.ratio_secant - t->spec) <= t->half_unit;
        all &= match;
        if (json) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "setting", t->setting);
            cli_json_add_number(r, "k", t->k);
            cli_json_add_number(r, "l", t->l);
            cli_json_add_number(r, "smoothing", t->smoothing);
            cli_json_add_number(r, "spec_ratio", t->spec);
            cli_json_add_number(r, "ratio_secant", p.ratio_secant);
            cli_json_add_number(r, "ratio_derivative", p.ratio);
            cJSON_AddBoolToObject(r, "match", match);
            cJSON_AddItemToArray(arr, r);
        } else
            printf("%-36s %7g %9g %11.4f %11.4f  %s\n", t->setting, t->l, t->spec, p.ratio_secant, p.ratio,
                   match ? "match" : "DIFFERS");
    }
    free(comp);
    if (json) {
        cJSON_AddBoolToObject(o, "all_match", all);
        return cli_print_json(o);
    }
    printf("\n%s\n", all ? "all rows match the spec" : "rows marked DIFFERS: see docs/elastic.md (definition of the smoothing)");
    return CLI_EXIT_OK;
}

static int oracle(int argc, char **argv)
{
    static const struct option opts[] = {
        {"k", required_argument, 0, 'k'},         {"l", required_argument, 0, 'l'},
        {"shares", required_argument, 0, 'q'},    {"smoothing", required_argument, 0, 'a'},
        {"no-markov", no_argument, 0, 'M'},       {"seed", required_argument, 0, 's'},
        {"a-docs", required_argument, 0, 'A'},    {"table", no_argument, 0, 't'},
        {"json", no_argument, 0, 'j'},            {"csv", required_argument, 0, 'c'},
        {"help", no_argument, 0, 'h'},            {0, 0, 0, 0}};
    double kd[] = {10, 100, 1000}, ld[] = {0.001, 0.01};
    double *ks = NULL, *ls = NULL, *qs = NULL;
    size_t nk = 0, nl = 0, nq = 0;
    double smoothing = 0, a_docs = 2000;
    uint64_t seed = 1;
    int json = 0, table = 0, markov = 1, rc = 0;
    const char *csv = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': free(ks); rc = cli_parse_double_list("--k", optarg, &ks, &nk); break;
        case 'l': free(ls); rc = cli_parse_double_list("--l", optarg, &ls, &nl); break;
        case 'q': free(qs); rc = cli_parse_double_list("--shares", optarg, &qs, &nq); break;
        case 'a': rc = cli_parse_double("--smoothing", optarg, &smoothing); break;
        case 'M': markov = 0; break;
        case 's': rc = cli_parse_u64("--seed", optarg, &seed); break;
        case 'A': rc = cli_parse_double("--a-docs", optarg, &a_docs); break;
        case 't': table = 1; break;
        case 'j': json = 1; break;
        case 'c': csv = optarg; break;
        case 'h': free(ks), free(ls), free(qs); return cli_print_help("elastic");
        case ':': rc = cli_usage_error("elastic", "option '%s' needs a value", argv[optind - 1]); break;
        default: rc = cli_usage_error("elastic", "unknown option '%s'", argv[optind - 1]); break;
        }
        if (rc) break;
    }
    if (!rc && optind < argc) rc = cli_usage_error("elastic", "unexpected argument '%s'", argv[optind]);
    if (!rc && qs && nq != 3) rc = cli_error("--shares", "need 3 shares (C1,C2,C3), got %zu", nq);
    if (!rc && !(smoothing >= 0)) rc = cli_error("--smoothing", "must be >= 0");
    if (rc) {
        free(ks), free(ls), free(qs);
        return rc;
    }
    if (table) {
        free(ks), free(ls), free(qs);
        return run_table(json);
    }
    double q[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
    if (qs) memcpy(q, qs, sizeof q);
    free(qs);
    if (!ks) ks = kd, nk = 3;
    if (!ls) ls = ld, nl = 2;
    double qn[3] = {0, 0, 0};
    double s12 = q[0] + q[1];
    alim_error err;
    alim_error_clear(&err);
    int st = 0;
    if (!(s12 > 0)) st = alim_error_set(&err, ALIM_EINVAL, "--shares", "C1 and C2 shares are both 0");
    else qn[0] = q[0] / s12, qn[1] = q[1] / s12;
    double *comp = alim_oracle_zipf_components(3, 30);
    alim_source src;
    memset(&src, 0, sizeof src);
    alim_source_config scfg;
    alim_source_config_default(&scfg);
    scfg.seed = seed;
    if (!st && markov) st = alim_source_build(&src, &scfg, &err);
    size_t nmodels = markov ? 2 : 1, nrows = nmodels * nk * nl;
    row *rows = calloc(nrows, sizeof *rows);
    if (!comp || !rows) st = alim_error_set(&err, ALIM_ENOMEM, "oracle", "out of memory");
    size_t r = 0;
    for (size_t mi = 0; mi < nmodels && !st; mi++)
        for (size_t i = 0; i < nk && !st; i++)
            for (size_t j = 0; j < nl && !st; j++, r++) {
                rows[r].model = mi == 0 ? "mix" : "markov";
                if (mi == 0) {
                    alim_oracle_mix m = {3, 90, comp, q, 1, 2, smoothing};
                    st = alim_oracle_mix_eval(&m, ks[i], ls[j], &rows[r].pt, &err);
                    m.q = qn;
                    if (!st) st = alim_oracle_mix_eval(&m, ks[i], ls[j], &rows[r].novel, &err);
                } else {
                    alim_oracle_markov m = {&src, q, 1, 2, a_docs, smoothing};
                    st = alim_oracle_markov_eval(&m, ks[i], ls[j], &rows[r].pt, &err);
                    m.q = qn;
                    if (!st) st = alim_oracle_markov_eval(&m, ks[i], ls[j], &rows[r].novel, &err);
                }
                if (!st) judge(&rows[r]);
            }
    free(comp);
    alim_source_free(&src);
    if (ks != kd) free(ks);
    if (ls != ld) free(ls);
    if (st) {
        free(rows);
        return cli_fail(&err);
    }
    int all = 1;
    for (r = 0; r < nrows; r++)
        all &= rows[r].sign_ok && rows[r].ratio_ok && rows[r].fd_ok && rows[r].hooke_ok && rows[r].novel_ok;
    if (csv) {
        alim_atomic_file f;
        if (alim_atomic_open(&f, csv, &err)) {
            free(rows);
            return cli_fail(&err);
        }
        fprintf(f.fp, "model,k,l,gamma_a_bits,gamma_p_bits,dgamma_a_dl_bits,dgamma_p_dl_bits,dgamma_a_dl_fd_bits,"
                      "dgamma_p_dl_fd_bits,ratio,ratio_fd,ratio_over_k,delta_gamma_a_bits,delta_gamma_p_bits,hooke_ratio,"
                      "novel_dgamma_a_dl_bits,novel_dgamma_p_dl_bits,sign,ratio_check,fd_check,hooke_check,novel_check\n");
        for (r = 0; r < nrows; r++) {
            const alim_oracle_point *p = &rows[r].pt;
            fprintf(f.fp, "%s,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%s,%s,%s,%s,%s\n",
                    rows[r].model, p->k, p->l, p->gamma_a_bits, p->gamma_p_bits, p->dgamma_a_dl, p->dgamma_p_dl,
                    p->dgamma_a_dl_fd, p->dgamma_p_dl_fd, p->ratio, p->ratio_fd, p->ratio / p->k, p->delta_a_bits,
                    p->delta_p_bits, p->hooke, rows[r].novel.dgamma_a_dl, rows[r].novel.dgamma_p_dl,
                    rows[r].sign_ok ? "PASS" : "FAIL", rows[r].ratio_ok ? "PASS" : "FAIL", rows[r].fd_ok ? "PASS" : "FAIL",
                    rows[r].hooke_ok ? "PASS" : "FAIL", rows[r].novel_ok ? "PASS" : "FAIL");
        }
        if (alim_atomic_commit(&f, &err)) {
            free(rows);
            return cli_fail(&err);
        }
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cli_json_add_array(o, "shares", q, 3);
        cli_json_add_array(o, "novel_shares", qn, 3);
        cli_json_add_number(o, "smoothing", smoothing);
        cli_json_add_number(o, "seed", (double)seed);
        cJSON *arr = cJSON_AddArrayToObject(o, "grid");
        for (r = 0; r < nrows; r++) {
            cJSON *e = cJSON_CreateObject();
            cJSON_AddStringToObject(e, "model", rows[r].model);
            add_point_json(e, &rows[r].pt);
            cli_json_add_number(e, "novel_dgamma_a_dl_bits", rows[r].novel.dgamma_a_dl);
            cli_json_add_number(e, "novel_dgamma_p_dl_bits", rows[r].novel.dgamma_p_dl);
            cli_json_add_number(e, "ratio_tolerance", rows[r].tol);
            cJSON *ch = cJSON_AddObjectToObject(e, "checks");
            cJSON_AddBoolToObject(ch, "signs", rows[r].sign_ok);
            cJSON_AddBoolToObject(ch, "ratio_near_k", rows[r].ratio_ok);
            cJSON_AddBoolToObject(ch, "analytic_equals_fd", rows[r].fd_ok);
            cJSON_AddBoolToObject(ch, "hooke_near_1", rows[r].hooke_ok);
            cJSON_AddBoolToObject(ch, "novel_both_positive", rows[r].novel_ok);
            cJSON_AddItemToArray(arr, e);
        }
        cJSON_AddBoolToObject(o, "all_pass", all);
        free(rows);
        return cli_print_json(o);
    }
    printf("E0 oracle: shares q = (%g, %g, %g), smoothing %g; novel control q = (%g, %g, 0)\n", q[0], q[1], q[2],
           smoothing, qn[0], qn[1]);
    printf("rates in bits/token; derivatives d/dl in bits; ratio = -(dga/dl)/(dgp/dl)\n\n");
    printf("%-7s %6s %6s %9s %9s %11s %12s %10s %7s %7s %11s %11s  %s\n", "model", "k", "l", "gamma_a", "gamma_p",
           "dga/dl", "dgp/dl", "ratio", "r/k", "hooke", "novel dga", "novel dgp", "checks");
    for (r = 0; r < nrows; r++) {
        const alim_oracle_point *p = &rows[r].pt;
        printf("%-7s %6g %6g %9.5f %9.5f %11.4e %12.4e %10.3f %7.4f %7.4f %11.4e %11.4e  %s %s %s %s %s\n", rows[r].model,
               p->k, p->l, p->gamma_a_bits, p->gamma_p_bits, p->dgamma_a_dl, p->dgamma_p_dl, p->ratio, p->ratio / p->k,
               p->hooke, rows[r].novel.dgamma_a_dl, rows[r].novel.dgamma_p_dl, rows[r].sign_ok ? "signs:PASS" : "signs:FAIL",
               rows[r].ratio_ok ? "ratio:PASS" : "ratio:FAIL", rows[r].fd_ok ? "fd:PASS" : "fd:FAIL",
               rows[r].hooke_ok ? "hooke:PASS" : "hooke:FAIL", rows[r].novel_ok ? "novel:PASS" : "novel:FAIL");
    }
    printf("\n%s\n", all ? "all assertions PASS" : "some assertions FAIL");
    free(rows);
    return CLI_EXIT_OK;
}

int cmd_elastic(int argc, char **argv)
{
    if (argc < 2) return cli_usage_error("elastic", "missing subcommand (available: oracle)");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) return cli_print_help("elastic");
    if (!strcmp(argv[1], "oracle")) return oracle(argc - 1, argv + 1);
    return cli_usage_error("elastic", "unknown subcommand '%s' (available: oracle)", argv[1]);
}
