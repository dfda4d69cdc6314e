/* report_bottleneck.c — the report's section 1, "The alignment bottleneck": the performance
 * interval of a scenario (built-in or from the config) against three learners trained on m
 * labels (true risk versus m), and the capacity a target risk needs as log2 M grows. */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bounds.h"
#include "alim/info.h"
#include "alim/interval.h"
#include "alim/io.h"
#include "alim/simulate.h"

/* The built-in bottleneck scenario: a 16-value codebook seen through two contexts. */
static const char default_scenario[] =
    "{\"M\": 16, \"m\": 1000, \"description\": \"built-in: 16 values, two contexts of M-ary symmetric stages\","
    " \"contexts\": ["
    "{\"weight\": 0.6, \"cognitive\": {\"type\": \"msc\", \"p\": 0.1}, \"articulation\": {\"type\": \"msc\", \"p\": 0.2}},"
    "{\"weight\": 0.4, \"cognitive\": {\"type\": \"msc\", \"p\": 0.3}, \"articulation\": {\"type\": \"msc\", \"p\": 0.05}}]}";

alim_status report_bottleneck_config_read(const cJSON *c, const char *where, int quick, bottleneck_config *bc,
                                          alim_error *err)
{
    memset(bc, 0, sizeof *bc);
    static const double m_full[] = {10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};
    static const double m_quick[] = {10, 100, 1000};
    const double *mv = quick ? m_quick : m_full;
    bc->n_m = quick ? 3 : 10;
    memcpy(bc->m_values, mv, bc->n_m * sizeof *mv);
    bc->replicates = quick ? 2 : 6;
    bc->test_items = quick ? 5000 : 20000;
    bc->eps[0] = 0.1, bc->eps[1] = 0.01, bc->n_eps = 2;
    bc->log2m_max = 32;
    bc->seed = 1;
    alim_status st;
    const cJSON *scen = NULL;
    if (c) {
        static const char *const keys[] = {"scenario", "m_values", "replicates", "test_items", "eps", "log2M_max", "seed", NULL};
        if ((st = alim_json_check_keys(c, keys, where, err))) return st;
        scen = cJSON_GetObjectItemCaseSensitive(c, "scenario");
        const cJSON *v;
        if ((v = cJSON_GetObjectItemCaseSensitive(c, "m_values")) &&
            (st = report_read_numbers(v, where, "m_values", bc->m_values, 64, &bc->n_m, 1, 1e7, 1, err)))
            return st;
        if ((v = cJSON_GetObjectItemCaseSensitive(c, "eps")) &&
            (st = report_read_numbers(v, where, "eps", bc->eps, 8, &bc->n_eps, 1e-9, 0.999, 0, err)))
            return st;
        double x = (double)bc->replicates;
        if ((st = alim_json_get_number(c, "replicates", 0, where, &x, err))) return st;
        if (!(x >= 1 && x <= 1000) || x != floor(x))
            return alim_error_set(err, ALIM_EINVAL, where, "\"replicates\" must be an integer in [1, 1000]");
        bc->replicates = (size_t)x;
        x = (double)bc->test_items;
        if ((st = alim_json_get_number(c, "test_items", 0, where, &x, err))) return st;
        if (!(x >= 100 && x <= 1e7) || x != floor(x))
            return alim_error_set(err, ALIM_EINVAL, where, "\"test_items\" must be an integer in [100, 1e7]");
        bc->test_items = (size_t)x;
        if ((st = alim_json_get_number(c, "log2M_max", 0, where, &bc->log2m_max, err))) return st;
        if (!(bc->log2m_max >= 2 && bc->log2m_max <= 1024))
            return alim_error_set(err, ALIM_EINVAL, where, "\"log2M_max\" must be in [2, 1024]");
        x = (double)bc->seed;
        if ((st = alim_json_get_number(c, "seed", 0, where, &x, err))) return st;
        if (!(x >= 0) || x != floor(x) || x > 9007199254740992.0)
            return alim_error_set(err, ALIM_EINVAL, where, "\"seed\" must be a non-negative integer");
        bc->seed = (uint64_t)x;
    }
    bc->scenario_json = scen ? cJSON_Duplicate(scen, 1) : cJSON_Parse(default_scenario);
    if (!bc->scenario_json) return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    return ALIM_OK;
}

alim_status report_bottleneck(report *r, const cJSON *c, const char *where)
{
    bottleneck_config bc;
    alim_status st = report_bottleneck_config_read(c, where, r->quick, &bc, r->err);
    if (st) return st;
    alim_scenario s;
    alim_interval iv;
    alim_sim_e1_result e1;
    double *tab = NULL, *xs = NULL;
    int have_s = 0, have_iv = 0, have_e1 = 0;
    if ((st = alim_scenario_from_json(bc.scenario_json, where, &s, r->err))) goto out;
    have_s = 1;
    if ((st = alim_interval_compute(&s, &iv, r->err))) goto out;
    have_iv = 1;
    alim_sim_e1_options o = ALIM_SIM_E1_OPTIONS_DEFAULT;
    o.m_values = bc.m_values;
    o.n_m = bc.n_m;
    o.replicates = bc.replicates;
    o.test_items = bc.test_items;
    o.seed = bc.seed;
    if ((st = alim_simulate_e1(&s, &o, r->progress, &e1, r->err))) goto out;
    have_e1 = 1;

    /* the scenario's "description" is optional (alim interval's format) */
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(bc.scenario_json, "description");
    sb_printf(&r->html,
              "<section><h2>1. The alignment bottleneck</h2>\n"
              "<p>Feedback about an intended value U reaches the learner through a cascade: a cognitive channel "
              "(U &rarr; human judgment H) and an articulation channel (H &rarr; recorded label Y), per context S. "
              "No learner can do better than the Fano bound set by the average total capacity "
              "C&#772;<sub>tot</sub> = E<sub>S</sub> min(C<sub>cog</sub>, C<sub>art</sub>), however many labels it "
              "sees (Cao 2025). Scenario: %s.</p>\n",
              cJSON_IsString(desc) ? desc->valuestring : "from the configuration");
    sb_printf(&r->html,
              "<table><tr><th>quantity</th><th>value</th></tr>\n"
              "<tr><td>codebook size M</td><td>2<sup>%.4g</sup></td></tr>\n"
              "<tr><td>C&#772;<sub>tot</sub> (certified bracket)</td><td>[%.10f, %.10f] bits</td></tr>\n"
              "<tr><td>C&#772;<sub>casc</sub> (exact cascade)</td><td>%.10f bits</td></tr>\n"
              "<tr><td>I(U;Y|S), uniform codebook</td><td>%.10f bits</td></tr>\n"
              "<tr><td>Bayes risk R*</td><td>%.10f</td></tr>\n"
              "<tr><td>lower bound, Fano strong with C&#772;<sub>tot</sub> (any learner, any m)</td><td>%.10f</td></tr>\n"
              "<tr><td>lower bound with the exact I(U;Y|S)</td><td>%.10f</td></tr>\n"
              "<tr><td>upper bound, PAC-Bayes capacity budget at m = %.0f (probability &ge; %.2f)</td><td>%.10f</td></tr>\n"
              "</table>\n",
              alim_bits(s.log_m), alim_bits(iv.c_tot_lower), alim_bits(iv.c_tot_upper), alim_bits(iv.c_casc_lower),
              alim_bits(iv.info_nats), iv.bayes_risk, iv.lower_bound, iv.lb_strong_info, s.m, 1 - s.delta - s.eta,
              iv.upper_bound);

    /* F1: risk versus m */
    const size_t nm = bc.n_m, cols = 9;
    tab = malloc(nm * cols * sizeof *tab);
    if (!tab) {
        st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        goto out;
    }
    for (size_t k = 0; k < nm; k++) {
        const alim_sim_e1_summary *sm = &e1.summary[k * ALIM_SIM_N_LEARNERS];
        double hp, ex;
        alim_interval_upper_at(&s, &iv, bc.m_values[k], &hp, &ex, NULL);
        double row[9] = {bc.m_values[k], sm[ALIM_SIM_PLUGIN_MAP].mean_exact, sm[ALIM_SIM_ERM_CANONICAL].mean_exact,
                         sm[ALIM_SIM_LOGISTIC].mean_exact, iv.lower_bound, iv.lb_strong_info, iv.bayes_risk, hp, ex};
        memcpy(tab + k * cols, row, sizeof row);
    }
    if ((st = report_write_csv(r, "bottleneck_risk_vs_m",
                               "m,risk_plugin_map,risk_erm_canonical,risk_logistic,lower_bound_C_tot,lower_bound_info,"
                               "bayes_risk,ub_high_prob,ub_expectation",
                               tab, nm, cols)))
        goto out;
    {
        double col[9][64];
        for (size_t j = 0; j < cols; j++)
            for (size_t k = 0; k < nm; k++) col[j][k] = tab[k * cols + j];
        alim_plot_series se[] = {
            {col[0], col[1], nm, "plug-in MAP learner", ALIM_PLOT_LINE_POINTS, 0},
            {col[0], col[2], nm, "ERM on the canonical loss", ALIM_PLOT_LINE_POINTS, 1},
            {col[0], col[3], nm, "logistic regression", ALIM_PLOT_LINE_POINTS, 2},
            {col[0], col[6], nm, "Bayes risk R*", ALIM_PLOT_DASHED, 7},
            {col[0], col[5], nm, "Fano bound, exact I(U;Y|S)", ALIM_PLOT_DASHED, 4},
            {col[0], col[4], nm, "Fano bound with C_tot", ALIM_PLOT_DASHED, 3},
            {col[0], col[7], nm, "PAC-Bayes upper bound", ALIM_PLOT_LINE, 5},
        };
        alim_plot p = {"True risk versus number of labels", "labels m (log scale)", "risk (0-1 loss on the codeword)",
                       1, 0, NAN, NAN, 0.0, 1.05, se, sizeof se / sizeof *se, 4, 0, 0};
        char cap[600];
        snprintf(cap, sizeof cap,
                 "Exact true risk of three learners (mean of %zu seeded datasets per m) against the alignment "
                 "performance interval. The learners approach the Bayes risk but never cross the Fano bound, which "
                 "does not depend on m; the capacity-budget upper bound plateaus instead of approaching the "
                 "empirical risk (bottleneck spec F1).",
                 bc.replicates);
        if ((st = report_add_figure(r, "bottleneck_risk_vs_m", &p, cap))) goto out;
    }

    /* F2: required capacity versus log2 M */
    {
        size_t nk = (size_t)floor(bc.log2m_max);
        size_t ncol = 1 + 2 * bc.n_eps;
        free(tab);
        tab = malloc(nk * ncol * sizeof *tab);
        xs = malloc(nk * (ncol) * sizeof *xs);
        if (!tab || !xs) {
            st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            goto out;
        }
        for (size_t k = 0; k < nk; k++) {
            double l2 = (double)(k + 1);
            tab[k * ncol] = l2;
            for (size_t e = 0; e < bc.n_eps; e++) {
                tab[k * ncol + 1 + 2 * e] = alim_bits(alim_fano_required_weak(l2 * ALIM_LN2, bc.eps[e]));
                tab[k * ncol + 2 + 2 * e] = alim_bits(alim_fano_required_strong(l2 * ALIM_LN2, bc.eps[e]));
            }
        }
        strbuf hdr = {0};
        sb_printf(&hdr, "log2M");
        for (size_t e = 0; e < bc.n_eps; e++) sb_printf(&hdr, ",weak_bits_eps_%g,strong_bits_eps_%g", bc.eps[e], bc.eps[e]);
        st = hdr.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                     : report_write_csv(r, "bottleneck_required_capacity", hdr.s, tab, nk, ncol);
        free(hdr.s);
        if (st) goto out;
        for (size_t j = 0; j < ncol; j++)
            for (size_t k = 0; k < nk; k++) xs[j * nk + k] = tab[k * ncol + j];
        alim_plot_series se[16];
        char labels[16][64];
        size_t ns = 0;
        for (size_t e = 0; e < bc.n_eps && ns + 1 < 16; e++) {
            snprintf(labels[ns], 64, "strong (tight), eps = %g", bc.eps[e]);
            se[ns] = (alim_plot_series){xs, xs + (2 + 2 * e) * nk, nk, labels[ns], ALIM_PLOT_LINE, (int)e};
            ns++;
            snprintf(labels[ns], 64, "weak, eps = %g", bc.eps[e]);
            se[ns] = (alim_plot_series){xs, xs + (1 + 2 * e) * nk, nk, labels[ns], ALIM_PLOT_DASHED, (int)e};
            ns++;
        }
        alim_plot p = {"Capacity needed for a target risk", "log2 M (bits of value complexity)",
                       "required average total capacity (bits)", 0, 0, 0.0, NAN, 0.0, NAN, se, ns, 1, 0, 0};
        if ((st = report_add_figure(r, "bottleneck_required_capacity", &p,
                                    "Capacity the feedback channel must carry for the Fano bound to allow risk eps, as the "
                                    "value complexity log2 M grows: linear with slope 1 - eps (prediction P2; spec F2).")))
            goto out;
    }
    sb_printf(&r->html, "</section>\n");
out:
    free(tab);
    free(xs);
    if (have_e1) alim_sim_e1_result_free(&e1);
    if (have_iv) alim_interval_free(&iv);
    if (have_s) alim_scenario_free(&s);
    cJSON_Delete(bc.scenario_json);
    return st;
}
