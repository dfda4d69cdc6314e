/* cmd_interval.c — `alim interval`: the alignment performance interval of a scenario. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/info.h"
#include "alim/interval.h"
#include "alim/io.h"
#include "cli.h"

const char cmd_interval_help[] =
    "usage: alim interval SCENARIO.json [--m-sweep LIST] [--csv FILE] [--tol T] [--json]\n"
    "\n"
    "The alignment performance interval (spec bottleneck.md §4): with probability\n"
    ">= 1 - delta - eta over the m labels,\n"
    "    D * F-strong(M, C_tot)  <=  R(Q_D)  <=  kl^{-1}_+(R^, [B/eta + ln(xi(m)/delta)] / m)\n"
    "where C_tot = sum_s P(s) min{C_cog(s), C_art(s)} is the average total capacity of the\n"
    "feedback channel (intended value -> human judgment -> recorded label, per context s),\n"
    "and B = m (C_tot + I(U;S)) + rho + KL(Qbar||P) is the capacity budget of the learner.\n"
    "The lower bound holds for every learner and does not fall with m; the upper bound\n"
    "plateaus instead of approaching R^. Capacities come from Blahut-Arimoto with certified\n"
    "brackets; both bounds use the upper end of each bracket so they stay valid.\n"
    "\n"
    "Also printed: the exact cascade capacity C_casc per context (capacity of the product\n"
    "channel, <= C_tot), the exact I(U;Y|S) under the uniform codebook, the Bayes risk R* of\n"
    "decoding the codeword index, and the Fano bounds with C_tot, C_casc and I (in that order\n"
    "they tighten: LB(C_tot) <= LB(C_casc) <= LB(I) <= R*).\n"
    "\n"
    "SCENARIO.json (see docs/formats.md):\n"
    "  {\"M\": 256, \"loss_gap\": 1.0, \"m\": 1000, \"delta\": 0.05, \"eta\": 0.5,\n"
    "   \"empirical_risk\": 0.176,\n"
    "   \"contexts\": [\n"
    "     {\"weight\": 0.7, \"cognitive\": {\"type\": \"msc\", \"p\": 0.05},\n"
    "                     \"articulation\": {\"type\": \"msc\", \"p\": 0.02}},\n"
    "     {\"weight\": 0.3, \"cognitive\": {\"matrix\": [[0.9, 0.1], [0.2, 0.8]]},\n"
    "                     \"articulation\": {\"type\": \"bsc\", \"p\": 0.1}}]}\n"
    "  Channels: bsc (p), bec (e), z (p), msc (p, optional size; default M), or a matrix.\n"
    "  Optional: log2M instead of M, rho_nats, prior_mismatch_nats, info_us_nats,\n"
    "  kl_measured_nats (adds the measured-KL bound), pac_bayes_form (\"kl-xi\" default,\n"
    "  \"kl-2sqrtm\", \"pinsker\", \"catoni\" with catoni_c, default 1).\n"
    "  Without empirical_risk the Bayes risk is used as R^.\n"
    "\n"
    "options:\n"
    "  --m-sweep LIST  also the upper bounds for each m in a comma-separated list\n"
    "                  (e.g. 10,100,1000,10000); table, JSON array \"sweep\" or CSV\n"
    "  --csv FILE      write the sweep as CSV (m, lower_bound, bayes_risk, ub_high_prob,\n"
    "                  ub_expectation, ub_measured), atomically; '-' for stdout\n"
    "  --tol T         Blahut-Arimoto tolerance in nats (default 1e-12)\n"
    "  --json          one JSON object: C_tot_bits, C_tot_lower_bits, C_tot_upper_bits,\n"
    "                  C_casc_bits (+ bracket), info_bits, bayes_risk, lower_bound,\n"
    "                  upper_bound, the Fano and PAC-Bayes variants, contexts[]\n"
    "\n"
    "example:\n"
    "  alim interval examples/interval-A.json --m-sweep 100,1000,10000\n";

static void add_bracket(cJSON *o, const char *name, double lo, double hi)
{
    char k[64];
    snprintf(k, sizeof k, "%s_bits", name);
    cli_json_add_number(o, k, alim_bits(lo));
    snprintf(k, sizeof k, "%s_lower_bits", name);
    cli_json_add_number(o, k, alim_bits(lo));
    snprintf(k, sizeof k, "%s_upper_bits", name);
    cli_json_add_number(o, k, alim_bits(hi));
}

static int write_sweep_csv(const char *path, const alim_scenario *s, const alim_interval *iv, const double *ms,
                           size_t n)
{
    alim_atomic_file f = {0};
    alim_error err;
    FILE *fp = stdout;
    if (strcmp(path, "-")) {
        if (alim_atomic_open(&f, path, &err)) return cli_fail(&err);
        fp = f.fp;
    }
    fprintf(fp, "m,lower_bound,bayes_risk,ub_high_prob,ub_expectation,ub_measured\n");
    for (size_t i = 0; i < n; i++) {
        double hp, ex, me;
        alim_interval_upper_at(s, iv, ms[i], &hp, &ex, &me);
        fprintf(fp, "%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", ms[i], iv->lower_bound, iv->bayes_risk, hp, ex, me);
    }
    if (fp != stdout && alim_atomic_commit(&f, &err)) return cli_fail(&err);
    return 0;
}

int cmd_interval(int argc, char **argv)
{
    static const struct option opts[] = {{"m-sweep", required_argument, 0, 's'}, {"csv", required_argument, 0, 'c'},
                                         {"tol", required_argument, 0, 't'},     {"json", no_argument, 0, 'j'},
                                         {0, 0, 0, 0}};
    double *ms = NULL, tol = 1e-12;
    size_t nm = 0;
    const char *csv = NULL;
    int json = 0, c, rc;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            free(ms);
            if ((rc = cli_parse_double_list("--m-sweep", optarg, &ms, &nm))) return rc;
            for (size_t i = 0; i < nm; i++)
                if (!(ms[i] >= 1) || ms[i] != floor(ms[i]) || ms[i] > 1e15) {
                    free(ms);
                    return cli_error("--m-sweep", "every m must be an integer >= 1");
                }
            break;
        case 'c': csv = optarg; break;
        case 't':
            if ((rc = cli_parse_double("--tol", optarg, &tol))) return free(ms), rc;
            if (!(tol > 0)) return free(ms), cli_error("--tol", "must be positive");
            break;
        case 'j': json = 1; break;
        default: free(ms); return cli_usage_error("interval", "unknown option or missing value '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return free(ms), cli_usage_error("interval", "expected one SCENARIO.json");
    if (csv && !ms) return cli_usage_error("interval", "--csv writes the --m-sweep table; give --m-sweep too");
    const char *path = argv[optind];
    alim_scenario s;
    alim_interval iv;
    alim_error err;
    if (alim_scenario_read(path, &s, &err)) return free(ms), cli_fail(&err);
    s.ba.tol = tol;
    if (alim_interval_compute(&s, &iv, &err)) {
        if (err.where[0] && strncmp(err.where, path, strlen(path))) {
            char w[ALIM_ERROR_WHERE_MAX];
            snprintf(w, sizeof w, "%.120s: %.120s", path, err.where);
            snprintf(err.where, sizeof err.where, "%s", w);
        }
        alim_scenario_free(&s);
        free(ms);
        return cli_fail(&err);
    }
    rc = CLI_EXIT_OK;
    if (csv) rc = write_sweep_csv(csv, &s, &iv, ms, nm);
    if (rc) goto out;
    if (json && !(csv && !strcmp(csv, "-"))) {
        cJSON *o = cJSON_CreateObject();
        cli_json_add_number(o, "log2M", alim_bits(s.log_m));
        cli_json_add_number(o, "m", s.m);
        cli_json_add_number(o, "delta", s.delta);
        cli_json_add_number(o, "eta", s.eta);
        cli_json_add_number(o, "loss_gap", s.loss_gap);
        add_bracket(o, "C_tot", iv.c_tot_lower, iv.c_tot_upper);
        add_bracket(o, "C_casc", iv.c_casc_lower, iv.c_casc_upper);
        cli_json_add_number(o, "info_bits", alim_bits(iv.info_nats));
        cli_json_add_number(o, "info_nats", iv.info_nats);
        cli_json_add_number(o, "bayes_risk", iv.bayes_risk);
        cli_json_add_number(o, "lower_bound", iv.lower_bound);
        cli_json_add_number(o, "upper_bound", iv.upper_bound);
        cJSON *f = cJSON_AddObjectToObject(o, "fano");
        cli_json_add_number(f, "weak_C_tot", iv.lb_weak_tot);
        cli_json_add_number(f, "strong_C_tot", iv.lb_strong_tot);
        cli_json_add_number(f, "weak_C_casc", iv.lb_weak_casc);
        cli_json_add_number(f, "strong_C_casc", iv.lb_strong_casc);
        cli_json_add_number(f, "weak_info", iv.lb_weak_info);
        cli_json_add_number(f, "strong_info", iv.lb_strong_info);
        cJSON *p = cJSON_AddObjectToObject(o, "pac_bayes");
        cli_json_add_number(p, "empirical_risk", iv.empirical_risk);
        cJSON_AddBoolToObject(p, "empirical_risk_is_bayes_risk", iv.empirical_is_bayes);
        cli_json_add_number(p, "budget_nats", iv.budget_nats);
        cli_json_add_number(p, "high_probability", iv.ub_high_prob);
        cJSON_AddStringToObject(p, "form", alim_pacbayes_form_name(s.form));
        cJSON *fo = cJSON_AddObjectToObject(p, "high_probability_by_form");
        for (int k = 0; k < 4; k++) cli_json_add_number(fo, alim_pacbayes_form_name((alim_pacbayes_form)k), iv.ub_forms[k]);
        cli_json_add_number(p, "expectation", iv.ub_expectation);
        if (isnan(iv.ub_measured)) cJSON_AddNullToObject(p, "measured_kl");
        else cli_json_add_number(p, "measured_kl", iv.ub_measured);
        cJSON *cs = cJSON_AddArrayToObject(o, "contexts");
        for (size_t i = 0; i < iv.n_contexts; i++) {
            const alim_context_result *r = &iv.contexts[i];
            cJSON *x = cJSON_CreateObject();
            cli_json_add_number(x, "weight", r->weight);
            add_bracket(x, "C_cog", r->cog_lower, r->cog_upper);
            add_bracket(x, "C_art", r->art_lower, r->art_upper);
            add_bracket(x, "C_casc", r->casc_lower, r->casc_upper);
            add_bracket(x, "C_tot", r->tot_lower, r->tot_upper);
            cli_json_add_number(x, "info_bits", alim_bits(r->info_nats));
            cli_json_add_number(x, "bayes_risk", r->bayes_risk);
            cJSON_AddStringToObject(x, "binding_stage", r->binding_stage ? "articulation" : "cognitive");
            cJSON_AddBoolToObject(x, "closed_form", r->closed_form);
            cJSON_AddItemToArray(cs, x);
        }
        if (ms) {
            cJSON *sw = cJSON_AddArrayToObject(o, "sweep");
            for (size_t i = 0; i < nm; i++) {
                double hp, ex, me;
                alim_interval_upper_at(&s, &iv, ms[i], &hp, &ex, &me);
                cJSON *x = cJSON_CreateObject();
                cli_json_add_number(x, "m", ms[i]);
                cli_json_add_number(x, "ub_high_prob", hp);
                cli_json_add_number(x, "ub_expectation", ex);
                if (isnan(me)) cJSON_AddNullToObject(x, "ub_measured");
                else cli_json_add_number(x, "ub_measured", me);
                cJSON_AddItemToArray(sw, x);
            }
        }
        rc = cli_print_json(o);
    } else if (!json && !(csv && !strcmp(csv, "-"))) {
        printf("scenario %s: log2 M = %.6g, %zu context%s, m = %.0f, delta = %g, eta = %g\n\n", path, alim_bits(s.log_m),
               s.n_contexts, s.n_contexts == 1 ? "" : "s", s.m, s.delta, s.eta);
        printf("context  weight   C_cog bits     C_art bits     C_tot bits     C_casc bits    I(U;Y) bits    R*      binding\n");
        for (size_t i = 0; i < iv.n_contexts; i++) {
            const alim_context_result *r = &iv.contexts[i];
            printf("%-7zu  %-7.4g  %-13.10f  %-13.10f  %-13.10f  %-13.10f  %-13.10f  %-6.4f  %s\n", i, r->weight,
                   alim_bits(r->cog_lower), alim_bits(r->art_lower), alim_bits(r->tot_lower), alim_bits(r->casc_lower),
                   alim_bits(r->info_nats), r->bayes_risk, r->binding_stage ? "articulation" : "cognitive");
        }
        printf("average           C_tot %.13f bits  [%.15f, %.15f]\n", alim_bits(iv.c_tot_lower),
               alim_bits(iv.c_tot_lower), alim_bits(iv.c_tot_upper));
        printf("                  C_casc %.13f bits, I(U;Y|S) %.13f bits\n\n", alim_bits(iv.c_casc_lower),
               alim_bits(iv.info_nats));
        printf("lower bounds (every learner, any m)   weak            strong\n");
        printf("  with C_tot (the paper's)            %.13f %.13f\n", iv.lb_weak_tot, iv.lb_strong_tot);
        printf("  with C_casc                         %.13f %.13f\n", iv.lb_weak_casc, iv.lb_strong_casc);
        printf("  with exact I(U;Y|S)                 %.13f %.13f\n", iv.lb_weak_info, iv.lb_strong_info);
        printf("Bayes risk R*                         %.13f\n\n", iv.bayes_risk);
        printf("upper bounds (Gibbs learner, R^ = %.10g%s)\n", iv.empirical_risk,
               iv.empirical_is_bayes ? ", the Bayes risk" : "");
        printf("  capacity budget B                   %.10g nats\n", iv.budget_nats);
        printf("  high probability (1-delta-eta)      %.13f  (%s; kl-2sqrtm %.6f, pinsker %.6f, catoni %.6f)\n",
               iv.ub_high_prob, alim_pacbayes_form_name(s.form), iv.ub_forms[ALIM_PB_KL_2SQRTM],
               iv.ub_forms[ALIM_PB_PINSKER], iv.ub_forms[ALIM_PB_CATONI]);
        printf("  in expectation                      %.13f\n", iv.ub_expectation);
        if (!isnan(iv.ub_measured)) printf("  measured KL (1-delta)               %.13f\n", iv.ub_measured);
        printf("\ninterval  %.10f <= R(Q_D) <= %.10f\n", iv.lower_bound, iv.upper_bound);
        if (ms) {
            printf("\n%-12s %-16s %-16s %-16s\n", "m", "UB high-prob", "UB expectation", "UB measured-KL");
            for (size_t i = 0; i < nm; i++) {
                double hp, ex, me;
                alim_interval_upper_at(&s, &iv, ms[i], &hp, &ex, &me);
                printf("%-12.0f %-16.13f %-16.13f %-16.13f\n", ms[i], hp, ex, me);
            }
        }
    }
out:
    alim_interval_free(&iv);
    alim_scenario_free(&s);
    free(ms);
    return rc;
}
