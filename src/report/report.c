/* report.c — the HTML report: runs the engines, draws the figures, writes the tables
 * (see alim/report.h). Sections: the alignment bottleneck, KL-RL versus best-of-N, elasticity
 * (E0 exact; E1, E2 and E3 trained, with their runs cached; E4 from E2's cells). */
#define _POSIX_C_SOURCE 200809L
#include "alim/report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alim/blas.h"
#include "alim/bon.h"
#include "alim/bounds.h"
#include "alim/datadir.h"
#include "alim/info.h"
#include "alim/interval.h"
#include "alim/io.h"
#include "alim/lab.h"
#include "alim/oracle.h"
#include "alim/plot.h"
#include "alim/rdist.h"
#include "alim/rebound.h"
#include "alim/resist.h"
#include "alim/rundir.h"
#include "alim/scale.h"
#include "alim/coefficient.h"
#include "alim/corpus.h"
#include "alim/seqpmf.h"
#include "alim/simulate.h"
#include "alim/tilt.h"

/* ---- a growing string for the HTML ---------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(strbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

/* ---- report context --------------------------------------------------------------------- */

typedef struct {
    const char *dir;
    strbuf html;
    int n_fig, n_tab;
    int quick;
    const alim_progress *progress;
    alim_error *err;
    alim_report_note_fn note;
    void *note_ctx;
    size_t cells_total, cells_run, cells_reused; /* elasticity runs */
    int data_reused;
} report;

static char *path_in(const report *r, const char *name)
{
    size_t n = strlen(r->dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", r->dir, name);
    return p;
}

/* Draws a figure as name.png + name.svg and adds it to the HTML with a caption and a link to
 * the CSV it was drawn from (csv = NULL: name.csv). */
static alim_status add_figure_csv(report *r, const char *name, const char *csv, const alim_plot *p,
                                  const char *caption)
{
    char png[256], svg[256];
    snprintf(png, sizeof png, "%s.png", name);
    snprintf(svg, sizeof svg, "%s.svg", name);
    char *pp = path_in(r, png), *sp = path_in(r, svg);
    alim_status st = (pp && sp) ? alim_plot_write(p, pp, sp, r->err)
                                : alim_error_set(r->err, ALIM_ENOMEM, name, "out of memory");
    free(pp);
    free(sp);
    if (st) return st;
    r->n_fig++;
    sb_printf(&r->html,
              "<figure><a href=\"%s\"><img src=\"%s\" alt=\"%s\"></a>"
              "<figcaption><b>Figure %d.</b> %s <a href=\"%s\">SVG</a>, <a href=\"%s.csv\">data (CSV)</a>.</figcaption></figure>\n",
              svg, png, p->title ? p->title : name, r->n_fig, caption, svg, csv ? csv : name);
    return ALIM_OK;
}

static alim_status add_figure(report *r, const char *name, const alim_plot *p, const char *caption)
{
    return add_figure_csv(r, name, NULL, p, caption);
}

/* Writes a CSV table atomically: header plus rows x cols doubles (column-major access through a callback
 * would be over-general here; the callers pass row-major data). */
static alim_status write_csv(report *r, const char *name, const char *header, const double *data, size_t rows,
                             size_t cols)
{
    char file[256];
    snprintf(file, sizeof file, "%s.csv", name);
    char *p = path_in(r, file);
    if (!p) return alim_error_set(r->err, ALIM_ENOMEM, name, "out of memory");
    alim_atomic_file f;
    alim_status st = alim_atomic_open(&f, p, r->err);
    free(p);
    if (st) return st;
    fprintf(f.fp, "%s\n", header);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) fprintf(f.fp, "%.17g%c", data[i * cols + j], j + 1 < cols ? ',' : '\n');
    st = alim_atomic_commit(&f, r->err);
    if (!st) r->n_tab++;
    return st;
}

/* ---- configuration ----------------------------------------------------------------------- */

/* The built-in bottleneck scenario: a 16-value codebook seen through two contexts. */
static const char default_scenario[] =
    "{\"M\": 16, \"m\": 1000, \"description\": \"built-in: 16 values, two contexts of M-ary symmetric stages\","
    " \"contexts\": ["
    "{\"weight\": 0.6, \"cognitive\": {\"type\": \"msc\", \"p\": 0.1}, \"articulation\": {\"type\": \"msc\", \"p\": 0.2}},"
    "{\"weight\": 0.4, \"cognitive\": {\"type\": \"msc\", \"p\": 0.3}, \"articulation\": {\"type\": \"msc\", \"p\": 0.05}}]}";

typedef struct {
    cJSON *scenario_json; /* owned copy */
    double m_values[64];
    size_t n_m;
    size_t replicates, test_items;
    double eps[8];
    size_t n_eps;
    double log2m_max;
    uint64_t seed;
} bottleneck_config;

static alim_status read_number_array(const cJSON *a, const char *where, const char *key, double *out, size_t max,
                                     size_t *n, double lo, double hi, int integer, alim_error *err)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0 || (size_t)cJSON_GetArraySize(a) > max)
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be an array of 1 to %zu numbers", key, max);
    size_t k = 0;
    for (const cJSON *v = a->child; v; v = v->next) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
            (integer && v->valuedouble != floor(v->valuedouble)))
            return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" entries must be %s in [%g, %g]", key,
                                  integer ? "integers" : "numbers", lo, hi);
        out[k++] = v->valuedouble;
    }
    *n = k;
    return ALIM_OK;
}

static alim_status bottleneck_config_read(const cJSON *c, const char *where, int quick, bottleneck_config *bc,
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
            (st = read_number_array(v, where, "m_values", bc->m_values, 64, &bc->n_m, 1, 1e7, 1, err)))
            return st;
        if ((v = cJSON_GetObjectItemCaseSensitive(c, "eps")) &&
            (st = read_number_array(v, where, "eps", bc->eps, 8, &bc->n_eps, 1e-9, 0.999, 0, err)))
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

/* ---- the bottleneck section ---------------------------------------------------------------- */

static alim_status section_bottleneck(report *r, const cJSON *c, const char *where)
{
    bottleneck_config bc;
    alim_status st = bottleneck_config_read(c, where, r->quick, &bc, r->err);
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

    sb_printf(&r->html,
              "<section><h2>1. The alignment bottleneck</h2>\n"
              "<p>Feedback about an intended value U reaches the learner through a cascade: a cognitive channel "
              "(U &rarr; human judgment H) and an articulation channel (H &rarr; recorded label Y), per context S. "
              "No learner can do better than the Fano bound set by the average total capacity "
              "C&#772;<sub>tot</sub> = E<sub>S</sub> min(C<sub>cog</sub>, C<sub>art</sub>), however many labels it "
              "sees (Cao 2025). Scenario: %s.</p>\n",
              cJSON_GetObjectItemCaseSensitive(bc.scenario_json, "description") &&
                      cJSON_IsString(cJSON_GetObjectItemCaseSensitive(bc.scenario_json, "description"))
                  ? cJSON_GetObjectItemCaseSensitive(bc.scenario_json, "description")->valuestring
                  : "from the configuration");
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
    if ((st = write_csv(r, "bottleneck_risk_vs_m",
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
        if ((st = add_figure(r, "bottleneck_risk_vs_m", &p, cap))) goto out;
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
                     : write_csv(r, "bottleneck_required_capacity", hdr.s, tab, nk, ncol);
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
        if ((st = add_figure(r, "bottleneck_required_capacity", &p,
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

/* ---- the asymptotics section: KL-regularised RL versus best-of-N ---------------------------- */

/* ---- the elasticity section: the E0 oracle -------------------------------------------------- */

/* E0 (elasticity spec §1.6, §4.4): the exact count-weighted learner on three disjoint Zipf
 * components. The figure shows ratio/k (secant: the changes from l = 0) against the perturbation
 * size l for several k, at equal pretraining shares and at the data shares (0.9, 0.05, 0.05). */
static alim_status section_e0(report *r)
{
    static const double ks[] = {10, 100, 1000};
    enum { NL = 25 };
    double ls[NL], y[6][NL];
    static const double shares[2][3] = {{1.0 / 3, 1.0 / 3, 1.0 / 3}, {0.9, 0.05, 0.05}};
    double *comp = alim_oracle_zipf_components(3, 30);
    if (!comp) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    alim_status st = ALIM_OK;
    double rows[NL * 7];
    for (size_t i = 0; i < NL; i++) ls[i] = pow(10.0, -4.0 + 3.0 * (double)i / (NL - 1));
    for (int q = 0; q < 2 && !st; q++)
        for (int k = 0; k < 3 && !st; k++) {
            alim_oracle_mix m = {3, 90, comp, shares[q], 1, 2, 0.0};
            for (size_t i = 0; i < NL && !st; i++) {
                alim_oracle_point pt;
                st = alim_oracle_mix_eval(&m, ks[k], ls[i], &pt, r->err);
                y[q * 3 + k][i] = pt.ratio_secant / ks[k];
            }
        }
    free(comp);
    if (st) return st;
    for (size_t i = 0; i < NL; i++) {
        rows[i * 7] = ls[i];
        for (int c = 0; c < 6; c++) rows[i * 7 + 1 + c] = y[c][i];
    }
    if ((st = write_csv(r, "elasticity_oracle_ratio",
                        "l,ratio_over_k_equal_k10,ratio_over_k_equal_k100,ratio_over_k_equal_k1000,"
                        "ratio_over_k_data_k10,ratio_over_k_data_k100,ratio_over_k_data_k1000",
                        rows, NL, 7)))
        return st;
    sb_printf(&r->html,
              "<section><h2>3. Elasticity</h2>\n"
              "<p>Language models resist alignment: perturbing an aligned model moves its fit to the alignment data "
              "about k = |D<sub>p</sub>|/|D<sub>a</sub>| times faster than its fit to the pretraining data "
              "(Ji et al. 2025, Theorem 4.2). E0 checks this with the exact count-weighted learner; E1 (resistance) "
              "and E2 (rebound) below test the paper's two predictions on small transformers. The full-scale runs "
              "(<code>alim elastic</code>) are reported in the project's <code>docs/results.md</code>.</p>\n");
    alim_plot_series se[] = {
        {ls, y[0], NL, "equal shares, k = 10", ALIM_PLOT_LINE, 0},
        {ls, y[1], NL, "equal shares, k = 100", ALIM_PLOT_LINE, 1},
        {ls, y[2], NL, "equal shares, k = 1000", ALIM_PLOT_LINE, 2},
        {ls, y[3], NL, "shares (.9, .05, .05), k = 10", ALIM_PLOT_DASHED, 0},
        {ls, y[4], NL, "shares (.9, .05, .05), k = 100", ALIM_PLOT_DASHED, 1},
        {ls, y[5], NL, "shares (.9, .05, .05), k = 1000", ALIM_PLOT_DASHED, 2},
    };
    alim_plot p = {"E0: how much faster the alignment fit moves", "perturbation size l = |D_t|/|D_a| (log scale)",
                   "ratio of rate changes / k", 1, 1, NAN, NAN, 0.8, NAN, se, 6, 4, 0, 0};
    st = add_figure(r, "elasticity_oracle_ratio", &p,
                    "The exact count-weighted learner: the ratio of the changes in compression rate of the alignment "
                    "data and of the pretraining data, divided by k. It is 1 (Hooke's law with stiffness |D_i|) as "
                    "long as l is small against the perturbation component's pretraining share, and grows beyond "
                    "that: at the shares (0.9, 0.05, 0.05) the theorem's regime ends near l = 0.01 (elasticity spec "
                    "§1.6, §4.4).");
    return st;
}

typedef struct {
    double p[64], r[64];
    size_t n_out;
    double delta;         /* per-token KL budget (nats) */
    double lengths[32];
    size_t n_len;
    double log10_n_max;   /* F4: N from 1 to 10^log10_n_max */
} asymptotics_config;

static alim_status asymptotics_config_read(const cJSON *c, const char *where, int quick, asymptotics_config *ac,
                                           alim_error *err)
{
    memset(ac, 0, sizeof *ac);
    static const double p0[] = {0.5, 0.3, 0.2}, r0[] = {0, 1, 2}; /* the spec's T1 token law */
    static const double len_full[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    static const double len_quick[] = {1, 4, 16, 64};
    ac->n_out = 3;
    memcpy(ac->p, p0, sizeof p0);
    memcpy(ac->r, r0, sizeof r0);
    ac->delta = 0.5;
    ac->n_len = quick ? 4 : 11;
    memcpy(ac->lengths, quick ? len_quick : len_full, ac->n_len * sizeof(double));
    ac->log10_n_max = quick ? 4 : 8;
    if (!c) return ALIM_OK;
    static const char *const keys[] = {"p", "r", "delta_nats", "lengths", "log10_N_max", NULL};
    alim_status st = alim_json_check_keys(c, keys, where, err);
    if (st) return st;
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(c, "p"), *jr = cJSON_GetObjectItemCaseSensitive(c, "r");
    if (!jp != !jr) return alim_error_set(err, ALIM_EINVAL, where, "give \"p\" and \"r\" together");
    if (jp) {
        size_t np, nr;
        if ((st = read_number_array(jp, where, "p", ac->p, 64, &np, 0, 1, 0, err)) ||
            (st = read_number_array(jr, where, "r", ac->r, 64, &nr, -1e300, 1e300, 0, err)))
            return st;
        if (np != nr) return alim_error_set(err, ALIM_EINVAL, where, "\"p\" and \"r\" must have the same length");
        ac->n_out = np;
    }
    if ((st = alim_json_get_number(c, "delta_nats", 0, where, &ac->delta, err))) return st;
    if (!(ac->delta > 0)) return alim_error_set(err, ALIM_EINVAL, where, "\"delta_nats\" must be positive");
    const cJSON *jl = cJSON_GetObjectItemCaseSensitive(c, "lengths");
    if (jl && (st = read_number_array(jl, where, "lengths", ac->lengths, 32, &ac->n_len, 1, 4096, 1, err))) return st;
    if ((st = alim_json_get_number(c, "log10_N_max", 0, where, &ac->log10_n_max, err))) return st;
    if (!(ac->log10_n_max >= 1 && ac->log10_n_max <= 300))
        return alim_error_set(err, ALIM_EINVAL, where, "\"log10_N_max\" must be in [1, 300]");
    /* the token law itself is checked where it is used (alim_rdist_from_arrays) */
    alim_rdist d;
    if ((st = alim_rdist_from_arrays(&d, ac->p, ac->r, ac->n_out, 1e-9, 0, where, err))) return st;
    alim_rdist_free(&d);
    return ALIM_OK;
}

static alim_status section_asymptotics(report *r, const cJSON *c, const char *where)
{
    asymptotics_config ac;
    alim_status st = asymptotics_config_read(c, where, r->quick, &ac, r->err);
    if (st) return st;
    alim_rdist d;
    alim_levels lv = {0};
    double *tab = NULL;
    int have_d = 0, have_lv = 0;
    if ((st = alim_rdist_from_arrays(&d, ac.p, ac.r, ac.n_out, 1e-9, 0, where, r->err))) goto out;
    have_d = 1;
    if ((st = alim_levels_from_rdist_nomap(&d, &lv, r->err))) goto out;
    have_lv = 1;
    const double kmax = alim_tilt_kl_max(&d);
    alim_tilt_solution rl;
    if ((st = alim_tilt_solve_kl(&d, ac.delta, &rl, r->err))) goto out;
    sb_printf(&r->html,
              "<section><h2>2. KL-regularised RL versus best-of-N</h2>\n"
              "<p>The optimal policy under a KL budget is an exponential tilt &phi;<sub>&lambda;</sub> &prop; "
              "p&middot;e<sup>&lambda;r</sup> of the base model; best-of-N is its cheap cousin. For a memoryless "
              "model generating n tokens, best-of-N with N = e<sup>n&Delta;</sup> approaches the KL-RL optimum with "
              "budget n&Delta; per token as n grows (Yang et al. 2024). Token law: %zu outcomes, per-token budget "
              "&Delta; = %g nats (&lambda;* = %.10g, x* = %.10g per token%s).</p>\n",
              ac.n_out, ac.delta, rl.pt.lambda, rl.pt.mean, rl.saturated ? ", saturated" : "");

    /* F1: reward-KL frontier with best-of-N points */
    const size_t nf = 101;
    const size_t nl = ac.n_len;
    tab = malloc((nf * 2 + nl * 6 + 4096) * sizeof *tab);
    if (!tab) {
        st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        goto out;
    }
    double *fk = tab, *fx = tab + nf;
    for (size_t i = 0; i < nf; i++) {
        alim_tilt_solution sol;
        double budget = kmax * (double)i / (double)(nf - 1) * (i + 1 == nf ? 1.0 : 0.999);
        if ((st = alim_tilt_solve_kl(&d, budget, &sol, r->err))) goto out;
        fk[i] = sol.pt.kl_nats;
        fx[i] = sol.saturated ? d.r_max : sol.pt.mean;
        if (sol.saturated) fk[i] = kmax;
    }
    double *bk = tab + 2 * nf, *bx = bk + nl, *pk = bx + nl, *tot = pk + nl, *nn = tot + nl, *rx = nn + nl;
    for (size_t i = 0; i < nl; i++) {
        alim_bon_size N;
        alim_seq_result sr;
        size_t n = (size_t)ac.lengths[i];
        if ((st = alim_bon_size_from_log((double)n * ac.delta, &N, r->err))) goto out;
        if ((st = alim_seq_compare(&d, n, ac.delta, N, NULL, &sr, r->progress, r->err))) goto out;
        nn[i] = (double)n;
        bk[i] = sr.bon.kl_nats / (double)n;
        bx[i] = sr.bon.reward / (double)n;
        tot[i] = sr.bon_kl_to_rl_nats;
        pk[i] = tot[i] / (double)n;
        rx[i] = sr.rl.pt.mean;
    }
    {
        double *rows = malloc(nl * 6 * sizeof *rows);
        if (!rows) {
            st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nl; i++) {
            double row[6] = {nn[i], bk[i], bx[i], rx[i], pk[i], tot[i]};
            memcpy(rows + i * 6, row, sizeof row);
        }
        st = write_csv(r, "asymptotics_bon_vs_rl",
                       "n,bon_kl_per_token_nats,bon_reward_per_token,rl_reward_per_token,"
                       "kl_bon_to_rl_per_token_nats,kl_bon_to_rl_total_nats",
                       rows, nl, 6);
        free(rows);
        if (st) goto out;
        double *rows2 = malloc(nf * 2 * sizeof *rows2);
        if (!rows2) {
            st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nf; i++) rows2[2 * i] = fk[i], rows2[2 * i + 1] = fx[i];
        st = write_csv(r, "asymptotics_frontier", "kl_per_token_nats,reward_per_token", rows2, nf, 2);
        free(rows2);
        if (st) goto out;
    }
    {
        double dx[2] = {ac.delta, ac.delta}, dy[2] = {d.r_min, d.r_max};
        alim_plot_series se[] = {
            {fk, fx, nf, "KL-RL frontier (rate function)", ALIM_PLOT_LINE, 0},
            {bk, bx, nl, "best-of-N, N = exp(n Delta)", ALIM_PLOT_LINE_POINTS, 3},
            {dx, dy, 2, "per-token budget Delta", ALIM_PLOT_DASHED, 7},
        };
        alim_plot p = {"Reward versus KL per token", "KL to the base model per token (nats)",
                       "expected reward per token", 0, 0, 0.0, NAN, NAN, NAN, se, 3, 4, 0, 0};
        if ((st = add_figure(r, "asymptotics_frontier", &p,
                             "The KL-RL frontier (exact tilts &phi;<sub>&lambda;</sub>) and exact best-of-N for "
                             "sequences of n tokens with N = e<sup>n&Delta;</sup>: the best-of-N points lie below the "
                             "curve and move up along it toward (&Delta;, x*) as n grows (asymptotics spec F1).")))
            goto out;
    }
    {
        alim_plot_series se[] = {
            {nn, tot, nl, "total KL(BoN || RL optimum)", ALIM_PLOT_LINE_POINTS, 1},
            {nn, pk, nl, "per token", ALIM_PLOT_LINE_POINTS, 0},
        };
        alim_plot p = {"How far best-of-N is from the KL-RL optimum", "sequence length n (tokens)",
                       "KL(best-of-N || tilted optimum) (nats)", 1, 1, NAN, NAN, NAN, NAN, se, 2, 4, 0, 0};
        if ((st = add_figure_csv(r, "asymptotics_kl_to_rl", "asymptotics_bon_vs_rl", &p,
                             "Exact KL divergence from best-of-N to the optimal KL-regularised policy: the per-token "
                             "value vanishes (about log n / 2n) while the total grows like &frac12; log n: the "
                             "equivalence is per token (asymptotics spec F2).")))
            goto out;
    }
    /* F4: exact KL of best-of-N against the log N - (N-1)/N bound */
    {
        size_t nb = (size_t)(4 * ac.log10_n_max) + 1;
        if (nb > 1000) nb = 1000;
        double *bn = tab + 2 * nf + 6 * nl, *be = bn + nb, *bb = be + nb, *b1 = bb + nb;
        for (size_t i = 0; i < nb; i++) {
            alim_bon_size N;
            alim_bon_result br;
            if ((st = alim_bon_size_from_log(log(10.0) * (double)i / 4.0, &N, r->err))) goto out;
            alim_bon_eval(&lv, N, &br);
            bn[i] = N.n;
            be[i] = br.kl_nats;
            bb[i] = br.kl_bound_nats;
            b1[i] = br.kl_one_atom_nats;
        }
        double *rows = malloc(nb * 4 * sizeof *rows);
        if (!rows) {
            st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nb; i++) {
            double row[4] = {bn[i], be[i], bb[i], b1[i]};
            memcpy(rows + 4 * i, row, sizeof row);
        }
        st = write_csv(r, "asymptotics_bon_kl_bound", "N,kl_exact_nats,kl_bound_nats,kl_one_atom_nats", rows, nb, 4);
        free(rows);
        if (st) goto out;
        double sx[2] = {1, bn[nb - 1]}, sy[2] = {kmax, kmax};
        alim_plot_series se[] = {
            {bn, bb, nb, "bound log N - (N-1)/N", ALIM_PLOT_DASHED, 3},
            {bn, be, nb, "exact KL(best-of-N || p)", ALIM_PLOT_LINE, 0},
            {bn, b1, nb, "one-atom model (top mass)", ALIM_PLOT_LINE, 2},
            {sx, sy, 2, "saturation log 1/p(top)", ALIM_PLOT_DASHED, 7},
        };
        alim_plot p = {"Exact KL of best-of-N versus the usual bound", "N (log scale)", "KL to the base model (nats)",
                       1, 0, NAN, NAN, 0.0, NAN, se, 4, 4, 0, 0};
        if ((st = add_figure(r, "asymptotics_bon_kl_bound", &p,
                             "For a discrete reward the exact KL of best-of-N saturates at log 1/p(top) while the "
                             "bound log N - (N-1)/N keeps growing (asymptotics spec F4; Beirami et al.).")))
            goto out;
    }
    sb_printf(&r->html, "</section>\n");
out:
    free(tab);
    if (have_lv) alim_levels_free(&lv);
    if (have_d) alim_rdist_free(&d);
    return st;
}

/* ---- the elasticity section: E1 and E2 on a data directory in the cache ------------------------ */

/* E1 (resistance) and E2 (rebound) of the elasticity lab (alim/resist.h, alim/rebound.h) run
 * through the library on a synthetic data directory the report builds itself
 * (alim/datadir.h). The data directory and the run directories live in a cache directory
 * (default OUT/cache) under names that carry a hash of their configuration (seeds excluded),
 * so a re-run reuses every finished cell, a changed configuration gets directories of its own,
 * and more seeds extend the existing runs. */

typedef struct {
    char cache[4096];          /* from the config; "" = not given */
    int run_resist, run_rebound, run_coefficient, run_scale;
    int natural;               /* data source: 0 synthetic, 1 natural */
    alim_datadir_options data; /* seed, pretrain_size, pool_docs, test_docs, doc_len */
    alim_resist_config e1;     /* data_dir and run_dir are set when run */
    alim_rebound_config e2;
    size_t e4_max_n_neg;       /* E4 uses E2's n_neg in (0, e4_max_n_neg] */
    size_t e4_boot;            /* bootstrap resamples of E4 */
    alim_scale_config e3;      /* data_dir and run_dir are set when run */
    /* set by lab_section when it ran (empty otherwise) */
    char cache_used[4096];     /* the cache directory */
    char data_used[4200];      /* the data directory in it */
} elasticity_config;

/* The report's default E2 is the spec's (alim_rebound_config_default: 3 seeds, n_pos {200, 400,
 * 1000, 2000}, n_neg {0, 20, 40, 100, 200, 400}, 256 samples). With the sampler's KV cache an
 * evaluation cell costs about a second, so the whole E2 takes ~1.5 minutes here
 * (docs/report.md "Times"). */
static void rebound_config_report(alim_rebound_config *c)
{
    alim_rebound_config_default(c);
}

/* The report's default E3: a reduced version of the spec's (alim_scale_config_default, ~25
 * minutes here) that keeps the whole default report within ~10 minutes: 2 seeds (the fewest
 * that give error bars), the three shapes G0, G1, G2 pretrained on 500,000 tokens instead of
 * 2M, budgets 125k..1M tokens of G1 instead of 0.25M..4M, n_pos {400} instead of {400, 2000} /
 * {2000} and n_neg {0, 20, 40, 100} (E_hat's l grid; no 400), 128 samples per evaluation. */
static void scale_config_report(alim_scale_config *c)
{
    alim_scale_config_default(c);
    c->n_seeds = 2;
    c->size_pretrain_tokens = 500000;
    static const size_t P[] = {400}, N[] = {0, 20, 40, 100};
    c->size_n_pos_count = c->tok_n_pos_count = 1;
    c->size_n_neg_count = c->tok_n_neg_count = 4;
    memcpy(c->size_n_pos, P, sizeof P);
    memcpy(c->tok_n_pos, P, sizeof P);
    memcpy(c->size_n_neg, N, sizeof N);
    memcpy(c->tok_n_neg, N, sizeof N);
    static const uint64_t B[] = {125000, 250000, 500000, 1000000};
    c->n_budgets = 4;
    memcpy(c->budgets, B, sizeof B);
    c->n_samples = 128;
}

static void elasticity_defaults(int quick, elasticity_config *ec)
{
    memset(ec, 0, sizeof *ec);
    ec->run_resist = ec->run_rebound = ec->run_coefficient = ec->run_scale = 1;
    alim_datadir_options_default(&ec->data);
    ec->data.have_pretrain = 1;
    ec->data.pretrain_size = 2000000;
    ec->e4_max_n_neg = 100;
    ec->e4_boot = 10000;
    if (quick) {
        /* the size the elasticity CLI tests use: seconds in all */
        ec->data.pretrain_size = 20000;
        ec->data.pool_docs = 80;
        ec->data.test_docs = 8;
        ec->data.doc_len = 32;
        alim_resist_config_quick(&ec->e1);
        alim_rebound_config_quick(&ec->e2);
        alim_scale_config_quick(&ec->e3);
        ec->e4_boot = 2000;
    } else {
        alim_resist_config_default(&ec->e1);
        rebound_config_report(&ec->e2);
        scale_config_report(&ec->e3);
    }
}

/* An optional integer obj[key] in [lo, hi]; *given set when present. */
static alim_status get_integer(const cJSON *obj, const char *key, const char *where, double lo, double hi, double *x,
                               int *given, alim_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (given) *given = v != NULL;
    if (!v) return ALIM_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || v->valuedouble != floor(v->valuedouble))
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be an integer in [%.15g, %.15g]", key, lo, hi);
    *x = v->valuedouble;
    return ALIM_OK;
}

/* An optional sub-object obj[key] (NULL if absent); error if present and not an object. */
static alim_status get_object(const cJSON *obj, const char *key, const char *where, const cJSON **out, alim_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v) return ALIM_OK;
    if (!cJSON_IsObject(v)) return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be an object", key);
    *out = v;
    return ALIM_OK;
}

static alim_status read_grid(const cJSON *obj, const char *key, const char *where, size_t *out, size_t *n,
                             int first_zero, alim_error *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!a) return ALIM_OK;
    double v[ALIM_REBOUND_MAX_GRID];
    size_t k;
    alim_status st = read_number_array(a, where, key, v, ALIM_REBOUND_MAX_GRID, &k, first_zero ? 0 : 1, 1e7, 1, err);
    if (st) return st;
    if (first_zero && (k < 2 || v[0] != 0))
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" needs at least 2 values, the first 0 (theta_pos itself)", key);
    for (size_t i = 1; i < k; i++)
        if (!(v[i] > v[i - 1])) return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be increasing", key);
    for (size_t i = 0; i < k; i++) out[i] = (size_t)v[i];
    *n = k;
    return ALIM_OK;
}

/* elasticity.scale: E3's settings (alim/scale.h); "budget_model" is 1-based as in the CLI */
static alim_status scale_config_read(const cJSON *d, const char *w, alim_scale_config *e3, alim_error *err)
{
    static const char *const skeys[] = {"seeds",        "sizes",         "pretrain_tokens", "size_n_pos", "size_n_neg",
                                        "budgets",      "budget_model",  "budget_lr",       "tokens_n_pos",
                                        "tokens_n_neg", "max_n_neg",     "context",         "samples",
                                        "sample_tokens", NULL};
    alim_status st = alim_json_check_keys(d, skeys, w, err);
    if (st) return st;
    double x;
    int given;
    x = (double)e3->n_seeds;
    if ((st = get_integer(d, "seeds", w, 1, 100, &x, NULL, err))) return st;
    e3->n_seeds = (size_t)x;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(d, "sizes");
    if (a) {
        const int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
        if (n < 1 || n > ALIM_SCALE_MAX_LEVELS)
            return alim_error_set(err, ALIM_EINVAL, w, "\"sizes\" must be an array of 1 to %d shapes [layers, dim, heads]",
                                  ALIM_SCALE_MAX_LEVELS);
        size_t i = 0;
        const cJSON *sh;
        cJSON_ArrayForEach(sh, a) {
            double v[3];
            size_t k = 0;
            if ((st = read_number_array(sh, w, "sizes", v, 3, &k, 1, 4096, 1, err))) return st;
            if (k != 3 || (int)v[1] % (int)v[2])
                return alim_error_set(err, ALIM_EINVAL, w,
                                      "\"sizes\" entries must be [layers, dim, heads] with dim a multiple of heads");
            e3->layers[i] = (int)v[0], e3->dim[i] = (int)v[1], e3->heads[i] = (int)v[2];
            i++;
        }
        e3->n_sizes = i;
    }
    x = (double)e3->size_pretrain_tokens;
    if ((st = get_integer(d, "pretrain_tokens", w, 1, 1e11, &x, NULL, err))) return st;
    e3->size_pretrain_tokens = (uint64_t)x;
    if ((st = read_grid(d, "size_n_pos", w, e3->size_n_pos, &e3->size_n_pos_count, 0, err))) return st;
    if ((st = read_grid(d, "size_n_neg", w, e3->size_n_neg, &e3->size_n_neg_count, 1, err))) return st;
    if ((st = read_grid(d, "tokens_n_pos", w, e3->tok_n_pos, &e3->tok_n_pos_count, 0, err))) return st;
    if ((st = read_grid(d, "tokens_n_neg", w, e3->tok_n_neg, &e3->tok_n_neg_count, 1, err))) return st;
    if ((a = cJSON_GetObjectItemCaseSensitive(d, "budgets"))) {
        double v[ALIM_SCALE_MAX_LEVELS];
        size_t k = 0;
        if ((st = read_number_array(a, w, "budgets", v, ALIM_SCALE_MAX_LEVELS, &k, 1, 1e11, 1, err))) return st;
        if (k < 2) return alim_error_set(err, ALIM_EINVAL, w, "\"budgets\" needs at least 2 values");
        for (size_t i = 0; i < k; i++) {
            if (i && !(v[i] > v[i - 1])) return alim_error_set(err, ALIM_EINVAL, w, "\"budgets\" must be increasing");
            e3->budgets[i] = (uint64_t)v[i];
        }
        e3->n_budgets = k;
    }
    x = (double)e3->budget_model + 1;
    if ((st = get_integer(d, "budget_model", w, 1, ALIM_SCALE_MAX_LEVELS, &x, NULL, err))) return st;
    e3->budget_model = (size_t)x - 1;
    if ((st = alim_json_get_number(d, "budget_lr", 0, w, &e3->budget_lr, err))) return st;
    if (!(e3->budget_lr > 0 && e3->budget_lr < 1)) return alim_error_set(err, ALIM_EINVAL, w, "\"budget_lr\" must be in (0, 1)");
    x = (double)e3->max_l_neg;
    if ((st = get_integer(d, "max_n_neg", w, 1, 1e7, &x, NULL, err))) return st;
    e3->max_l_neg = (size_t)x;
    x = (double)e3->context;
    if ((st = get_integer(d, "context", w, 2, 4096, &x, NULL, err))) return st;
    e3->context = (int)x;
    if (e3->sample_tokens > (size_t)e3->context) e3->sample_tokens = (size_t)e3->context;
    x = (double)e3->n_samples;
    if ((st = get_integer(d, "samples", w, 1, 1e6, &x, NULL, err))) return st;
    e3->n_samples = (size_t)x;
    x = (double)e3->sample_tokens;
    if ((st = get_integer(d, "sample_tokens", w, 2, 4096, &x, &given, err))) return st;
    e3->sample_tokens = (size_t)x;
    if (given && x > e3->context)
        return alim_error_set(err, ALIM_EINVAL, w, "\"sample_tokens\" (%.0f) must not exceed the context (%d)", x, e3->context);
    return ALIM_OK;
}

/* What alim_scale_run would refuse, and what the data directory cannot hold. */
static alim_status scale_config_check(const alim_scale_config *e3, const char *w, size_t pool_docs, alim_error *err)
{
    if (e3->budget_model >= e3->n_sizes)
        return alim_error_set(err, ALIM_EINVAL, w, "\"budget_model\" (%zu) must name one of the %zu sizes (1-based)",
                              e3->budget_model + 1, e3->n_sizes);
    if (e3->max_l_neg < e3->size_n_neg[1] || e3->max_l_neg < e3->tok_n_neg[1])
        return alim_error_set(err, ALIM_EINVAL, w, "\"max_n_neg\" (%zu) is below the first n_neg > 0 of a grid",
                              e3->max_l_neg);
    const size_t mp = e3->size_n_pos[e3->size_n_pos_count - 1] > e3->tok_n_pos[e3->tok_n_pos_count - 1]
                          ? e3->size_n_pos[e3->size_n_pos_count - 1]
                          : e3->tok_n_pos[e3->tok_n_pos_count - 1];
    const size_t mn = e3->size_n_neg[e3->size_n_neg_count - 1] > e3->tok_n_neg[e3->tok_n_neg_count - 1]
                          ? e3->size_n_neg[e3->size_n_neg_count - 1]
                          : e3->tok_n_neg[e3->tok_n_neg_count - 1];
    if (mp > pool_docs || mn > pool_docs)
        return alim_error_set(err, ALIM_EINVAL, w, "the largest n_pos (%zu) and n_neg (%zu) must not exceed data.pool_docs (%zu)",
                              mp, mn, pool_docs);
    return ALIM_OK;
}

static alim_status elasticity_config_read(const cJSON *c, const char *where, int quick, elasticity_config *ec,
                                          alim_error *err)
{
    elasticity_defaults(quick, ec);
    if (!c) return ALIM_OK;
    static const char *const keys[] = {"cache",   "experiments", "data",        "model", "pretrain_tokens",
                                       "resist", "rebound",     "coefficient", "scale", NULL};
    alim_status st = alim_json_check_keys(c, keys, where, err);
    if (st) return st;
    char w[ALIM_ERROR_WHERE_MAX];
    double x;
    int given;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "cache");
    if (v) {
        if (!cJSON_IsString(v) || !v->valuestring[0] || strlen(v->valuestring) >= sizeof ec->cache - 64)
            return alim_error_set(err, ALIM_EINVAL, where, "\"cache\" must be a directory name (a non-empty string)");
        snprintf(ec->cache, sizeof ec->cache, "%s", v->valuestring);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(c, "experiments"))) {
        static const char known[] = "(known: \"resist\" = E1, \"rebound\" = E2, \"coefficient\" = E4, \"scale\" = E3)";
        if (!cJSON_IsArray(v)) return alim_error_set(err, ALIM_EINVAL, where, "\"experiments\" must be an array %s", known);
        ec->run_resist = ec->run_rebound = ec->run_coefficient = ec->run_scale = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (cJSON_IsString(e) && !strcmp(e->valuestring, "resist")) ec->run_resist = 1;
            else if (cJSON_IsString(e) && !strcmp(e->valuestring, "rebound")) ec->run_rebound = 1;
            else if (cJSON_IsString(e) && !strcmp(e->valuestring, "coefficient")) ec->run_coefficient = 1;
            else if (cJSON_IsString(e) && !strcmp(e->valuestring, "scale")) ec->run_scale = 1;
            else return alim_error_set(err, ALIM_EINVAL, where, "\"experiments\": unknown experiment %s", known);
        }
        if (ec->run_coefficient && !ec->run_rebound)
            return alim_error_set(err, ALIM_EINVAL, where,
                                  "\"experiments\": \"coefficient\" (E4) needs \"rebound\" (it is computed from E2's cells)");
    }
    /* the data directory */
    const cJSON *d;
    if ((st = get_object(c, "data", where, &d, err))) return st;
    if (d) {
        snprintf(w, sizeof w, "%.200s.data", where);
        static const char *const dkeys[] = {"source", "seed", "pretrain_tokens", "pool_docs", "test_docs", "doc_len", NULL};
        if ((st = alim_json_check_keys(d, dkeys, w, err))) return st;
        if ((v = cJSON_GetObjectItemCaseSensitive(d, "source"))) {
            if (cJSON_IsString(v) && !strcmp(v->valuestring, "synthetic")) ec->natural = 0;
            else if (cJSON_IsString(v) && !strcmp(v->valuestring, "natural")) ec->natural = 1;
            else return alim_error_set(err, ALIM_EINVAL, w, "\"source\" must be \"synthetic\" or \"natural\"");
        }
        x = (double)ec->data.seed;
        if ((st = get_integer(d, "seed", w, 0, 9007199254740992.0, &x, NULL, err))) return st;
        ec->data.seed = (uint64_t)x;
        x = (double)ec->data.pretrain_size;
        if ((st = get_integer(d, "pretrain_tokens", w, 1000, 4294967296.0, &x, NULL, err))) return st;
        ec->data.pretrain_size = (uint64_t)x;
        x = (double)ec->data.pool_docs;
        if ((st = get_integer(d, "pool_docs", w, 1, 1e6, &x, NULL, err))) return st;
        ec->data.pool_docs = (size_t)x;
        x = (double)ec->data.test_docs;
        if ((st = get_integer(d, "test_docs", w, 1, 1e5, &x, NULL, err))) return st;
        ec->data.test_docs = (size_t)x;
        x = (double)ec->data.doc_len;
        if ((st = get_integer(d, "doc_len", w, 2, 4096, &x, NULL, err))) return st;
        ec->data.doc_len = (size_t)x;
    }
    /* the model and theta0's pretraining, shared by E1 and E2 */
    if ((st = get_object(c, "model", where, &d, err))) return st;
    if (d) {
        snprintf(w, sizeof w, "%.200s.model", where);
        static const char *const mkeys[] = {"layers", "dim", "heads", "context", NULL};
        if ((st = alim_json_check_keys(d, mkeys, w, err))) return st;
        x = ec->e1.n_layer;
        if ((st = get_integer(d, "layers", w, 1, 64, &x, NULL, err))) return st;
        ec->e1.n_layer = ec->e2.n_layer = (int)x;
        x = ec->e1.n_embd;
        if ((st = get_integer(d, "dim", w, 1, 4096, &x, NULL, err))) return st;
        ec->e1.n_embd = ec->e2.n_embd = (int)x;
        x = ec->e1.n_head;
        if ((st = get_integer(d, "heads", w, 1, 256, &x, NULL, err))) return st;
        ec->e1.n_head = ec->e2.n_head = (int)x;
        x = ec->e1.context;
        if ((st = get_integer(d, "context", w, 2, 4096, &x, NULL, err))) return st;
        ec->e1.context = ec->e2.context = (int)x;
        if (ec->e1.n_embd % ec->e1.n_head)
            return alim_error_set(err, ALIM_EINVAL, w, "\"dim\" (%d) must be a multiple of \"heads\" (%d)", ec->e1.n_embd,
                                  ec->e1.n_head);
    }
    x = (double)ec->e1.pretrain_tokens;
    if ((st = get_integer(c, "pretrain_tokens", where, 1, 1e11, &x, NULL, err))) return st;
    ec->e1.pretrain_tokens = ec->e2.pretrain_tokens = (uint64_t)x;
    /* a shorter context shortens the generated documents unless they are given (as in `alim elastic`) */
    if (ec->e1.sample_tokens > (size_t)ec->e1.context) ec->e1.sample_tokens = (size_t)ec->e1.context;
    if (ec->e2.sample_tokens > (size_t)ec->e2.context) ec->e2.sample_tokens = (size_t)ec->e2.context;
    /* E1 */
    if ((st = get_object(c, "resist", where, &d, err))) return st;
    if (d) {
        snprintf(w, sizeof w, "%.200s.resist", where);
        static const char *const rkeys[] = {"seeds", "sft_docs", "samples", "sample_tokens", "prompt_bytes", NULL};
        if ((st = alim_json_check_keys(d, rkeys, w, err))) return st;
        x = (double)ec->e1.n_seeds;
        if ((st = get_integer(d, "seeds", w, 1, 100, &x, NULL, err))) return st;
        ec->e1.n_seeds = (size_t)x;
        x = (double)ec->e1.sft_docs;
        if ((st = get_integer(d, "sft_docs", w, 1, 1e6, &x, NULL, err))) return st;
        ec->e1.sft_docs = (size_t)x;
        x = (double)ec->e1.n_samples;
        if ((st = get_integer(d, "samples", w, 1, 1e6, &x, NULL, err))) return st;
        ec->e1.n_samples = (size_t)x;
        x = (double)ec->e1.sample_tokens;
        if ((st = get_integer(d, "sample_tokens", w, 2, 4096, &x, &given, err))) return st;
        ec->e1.sample_tokens = (size_t)x;
        if (given && x > ec->e1.context)
            return alim_error_set(err, ALIM_EINVAL, w, "\"sample_tokens\" (%.0f) must not exceed the context (%d)", x,
                                  ec->e1.context);
        x = (double)ec->e1.prompt_bytes;
        if ((st = get_integer(d, "prompt_bytes", w, 1, 4096, &x, NULL, err))) return st;
        ec->e1.prompt_bytes = (size_t)x;
    }
    snprintf(w, sizeof w, "%.200s.resist", where);
    if (ec->run_resist && 3 * ec->e1.sft_docs > ec->data.pool_docs)
        return alim_error_set(err, ALIM_EINVAL, w,
                              "\"sft_docs\": 3 slices of %zu documents need a pool of %zu, the data has %zu (data.pool_docs)",
                              ec->e1.sft_docs, 3 * ec->e1.sft_docs, ec->data.pool_docs);
    if (ec->run_resist && ec->natural && ec->e1.prompt_bytes >= ec->e1.sample_tokens)
        return alim_error_set(err, ALIM_EINVAL, w, "\"prompt_bytes\" (%zu) leaves no continuation of %zu sample tokens",
                              ec->e1.prompt_bytes, ec->e1.sample_tokens);
    /* E2 */
    if ((st = get_object(c, "rebound", where, &d, err))) return st;
    if (d) {
        snprintf(w, sizeof w, "%.200s.rebound", where);
        static const char *const bkeys[] = {"seeds", "n_pos", "n_neg", "samples", "sample_tokens", "epsilon_nats", NULL};
        if ((st = alim_json_check_keys(d, bkeys, w, err))) return st;
        x = (double)ec->e2.n_seeds;
        if ((st = get_integer(d, "seeds", w, 1, 100, &x, NULL, err))) return st;
        ec->e2.n_seeds = (size_t)x;
        if ((st = read_grid(d, "n_pos", w, ec->e2.n_pos, &ec->e2.n_pos_count, 0, err))) return st;
        if ((st = read_grid(d, "n_neg", w, ec->e2.n_neg, &ec->e2.n_neg_count, 1, err))) return st;
        x = (double)ec->e2.n_samples;
        if ((st = get_integer(d, "samples", w, 1, 1e6, &x, NULL, err))) return st;
        ec->e2.n_samples = (size_t)x;
        x = (double)ec->e2.sample_tokens;
        if ((st = get_integer(d, "sample_tokens", w, 2, 4096, &x, &given, err))) return st;
        ec->e2.sample_tokens = (size_t)x;
        if (given && x > ec->e2.context)
            return alim_error_set(err, ALIM_EINVAL, w, "\"sample_tokens\" (%.0f) must not exceed the context (%d)", x,
                                  ec->e2.context);
        if ((st = alim_json_get_number(d, "epsilon_nats", 0, w, &ec->e2.epsilon_nats, err))) return st;
        if (!(ec->e2.epsilon_nats > 0)) return alim_error_set(err, ALIM_EINVAL, w, "\"epsilon_nats\" must be positive");
    }
    snprintf(w, sizeof w, "%.200s.rebound", where);
    if (ec->run_rebound && (ec->e2.n_pos[ec->e2.n_pos_count - 1] > ec->data.pool_docs ||
                            ec->e2.n_neg[ec->e2.n_neg_count - 1] > ec->data.pool_docs))
        return alim_error_set(err, ALIM_EINVAL, w, "the largest n_pos (%zu) and n_neg (%zu) must not exceed data.pool_docs (%zu)",
                              ec->e2.n_pos[ec->e2.n_pos_count - 1], ec->e2.n_neg[ec->e2.n_neg_count - 1],
                              ec->data.pool_docs);
    /* E4 (from E2's cells) */
    if ((st = get_object(c, "coefficient", where, &d, err))) return st;
    snprintf(w, sizeof w, "%.200s.coefficient", where);
    if (d) {
        static const char *const ckeys[] = {"max_n_neg", "bootstrap", NULL};
        if ((st = alim_json_check_keys(d, ckeys, w, err))) return st;
        x = (double)ec->e4_max_n_neg;
        if ((st = get_integer(d, "max_n_neg", w, 1, 1e7, &x, NULL, err))) return st;
        ec->e4_max_n_neg = (size_t)x;
        x = (double)ec->e4_boot;
        if ((st = get_integer(d, "bootstrap", w, 0, 1e6, &x, NULL, err))) return st;
        ec->e4_boot = (size_t)x;
    }
    if (ec->run_coefficient && !(ec->e2.n_neg_count > 1 && ec->e2.n_neg[1] <= ec->e4_max_n_neg))
        return alim_error_set(err, ALIM_EINVAL, w, "\"max_n_neg\" (%zu) leaves no n_neg of the rebound grid for E4 (the first > 0 is %zu)",
                              ec->e4_max_n_neg, ec->e2.n_neg[1]);
    /* E3 */
    if ((st = get_object(c, "scale", where, &d, err))) return st;
    snprintf(w, sizeof w, "%.200s.scale", where);
    if (d && (st = scale_config_read(d, w, &ec->e3, err))) return st;
    if (ec->run_scale && (st = scale_config_check(&ec->e3, w, ec->data.pool_docs, err))) return st;
    return ALIM_OK;
}

/* ---- running E1 and E2 ------------------------------------------------------------------------ */

static void html_escaped(strbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '&': sb_printf(b, "&amp;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        default: sb_printf(b, "%c", *s); break;
        }
    }
}

static void size_list(strbuf *b, const size_t *v, size_t n)
{
    sb_printf(b, "{");
    for (size_t i = 0; i < n; i++) sb_printf(b, "%s%zu", i ? ", " : "", v[i]);
    sb_printf(b, "}");
}

/* mkdir -p */
static alim_status make_dirs(const char *path, alim_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return alim_error_set(err, ALIM_EINVAL, path, "path too long");
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return alim_error_set(err, ALIM_EIO, buf, "cannot create the directory: %s", strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return alim_error_set(err, ALIM_EIO, buf, "cannot create the directory: %s", strerror(errno));
    return ALIM_OK;
}

/* NAME-<hash of key> */
static void hashed_name(const char *name, const cJSON *key, char *out, size_t n)
{
    char h[17];
    alim_json_hash(key, h);
    snprintf(out, n, "%s-%s", name, h);
}

static void add_base_key(cJSON *k, int layers, int dim, int heads, int context, uint64_t tokens, int batch, double lr,
                         double min_lr, double wd, uint64_t warmup)
{
    cJSON_AddNumberToObject(k, "layers", layers);
    cJSON_AddNumberToObject(k, "dim", dim);
    cJSON_AddNumberToObject(k, "heads", heads);
    cJSON_AddNumberToObject(k, "context", context);
    cJSON_AddNumberToObject(k, "pretrain_tokens", (double)tokens);
    cJSON_AddNumberToObject(k, "pretrain_batch", batch);
    cJSON_AddNumberToObject(k, "pretrain_lr", lr);
    cJSON_AddNumberToObject(k, "pretrain_min_lr", min_lr);
    cJSON_AddNumberToObject(k, "pretrain_weight_decay", wd);
    cJSON_AddNumberToObject(k, "pretrain_warmup", (double)warmup);
}

static void lab_note(void *ctx, const char *line)
{
    const report *r = ctx;
    if (r->note) r->note(r->note_ctx, line);
}

/* Copies a run's output file into the report directory as `name`. */
static alim_status copy_into_report(report *r, const char *from, const char *name)
{
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(from, &buf, &len, r->err);
    if (st) return st;
    char *to = path_in(r, name);
    st = to ? alim_file_write_atomic(to, buf, len, r->err) : alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    free(to);
    free(buf);
    if (!st) r->n_tab++;
    return st;
}

/* Builds (or finds in the cache) the data directory; its path goes to dir. */
static alim_status lab_data(report *r, const elasticity_config *ec, const char *cache, char *dir, size_t n,
                            char name[64])
{
    cJSON *key = cJSON_CreateObject();
    if (!key) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    cJSON_AddStringToObject(key, "source", ec->natural ? "natural" : "synthetic");
    cJSON_AddNumberToObject(key, "seed", (double)ec->data.seed);
    cJSON_AddNumberToObject(key, "pretrain_tokens", (double)ec->data.pretrain_size);
    cJSON_AddNumberToObject(key, "pool_docs", (double)ec->data.pool_docs);
    cJSON_AddNumberToObject(key, "test_docs", (double)ec->data.test_docs);
    if (!ec->natural) cJSON_AddNumberToObject(key, "doc_len", (double)ec->data.doc_len);
    hashed_name("data", key, name, 64);
    cJSON_Delete(key);
    snprintf(dir, n, "%s/%s", cache, name);
    char man[4400];
    snprintf(man, sizeof man, "%.4200s/manifest.json", dir);
    struct stat sb;
    if (stat(man, &sb) == 0) { /* a manifest means the directory is complete (it is renamed into place) */
        r->data_reused = 1;
        if (r->note) {
            char line[4300];
            snprintf(line, sizeof line, "data: reused %s", dir);
            r->note(r->note_ctx, line);
        }
        return ALIM_OK;
    }
    alim_progress_report(r->progress, "elasticity: building the data directory", 0, 1);
    alim_status st = ec->natural ? alim_datadir_natural(&ec->data, dir, NULL, r->err)
                                 : alim_datadir_synthetic(&ec->data, dir, NULL, r->err);
    alim_progress_report(r->progress, "elasticity: building the data directory", 1, 1);
    if (!st && r->note) {
        char line[4300];
        snprintf(line, sizeof line, "data: built %s", dir);
        r->note(r->note_ctx, line);
    }
    return st;
}

/* ---- E1 figures ---- */

typedef struct {
    int pair, seed, dir, step; /* pair 0..2 = (1,2), (2,3), (1,3); dir 0 forward, 1 inverse */
    double loss;
} curve_point;

static alim_status read_curves(const char *path, curve_point **out, size_t *n, alim_error *err)
{
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    size_t cap = 0, k = 0;
    curve_point *pts = NULL;
    char *save = NULL;
    int first = 1;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (first) { /* header */
            first = 0;
            continue;
        }
        char pair[16], dir[16];
        int seed, step;
        double loss;
        if (sscanf(line, "%15[^,],%d,%15[^,],%d,%lf", pair, &seed, dir, &step, &loss) != 5) {
            st = alim_error_set(err, ALIM_EFORMAT, path, "unexpected line \"%.60s\"", line);
            break;
        }
        int p = !strcmp(pair, "1-2") ? 0 : !strcmp(pair, "2-3") ? 1 : !strcmp(pair, "1-3") ? 2 : -1;
        if (p < 0 || step < 1 || seed < 1) continue;
        if (k == cap) {
            cap = cap ? 2 * cap : 256;
            curve_point *np = realloc(pts, cap * sizeof *np);
            if (!np) {
                st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
                break;
            }
            pts = np;
        }
        pts[k++] = (curve_point){p, seed, strcmp(dir, "forward") ? 1 : 0, step, loss};
    }
    free(buf);
    if (st) {
        free(pts);
        return st;
    }
    *out = pts;
    *n = k;
    return ALIM_OK;
}

static alim_status e1_figures(report *r, const alim_resist_config *cfg)
{
    static const char *const pair_name[3] = {"12", "23", "13"};
    static const int PK[3] = {1, 2, 1}, PL[3] = {2, 3, 3};
    char path[4200];
    snprintf(path, sizeof path, "%s/curves.csv", cfg->run_dir);
    curve_point *pts = NULL;
    size_t np = 0;
    alim_status st = read_curves(path, &pts, &np, r->err);
    if (st) return st;
    const size_t S = cfg->n_seeds;
    double *tab = NULL, *xs = NULL, *ys = NULL;
    for (int p = 0; p < 3 && !st; p++) {
        size_t T = 0, m[2] = {0, 0};
        for (size_t i = 0; i < np; i++)
            if (pts[i].pair == p && (size_t)pts[i].seed <= S) {
                if ((size_t)pts[i].step > T) T = (size_t)pts[i].step;
                m[pts[i].dir]++;
            }
        if (T == 0) continue;
        /* columns: step, forward mean, inverse mean, forward seed 1..S, inverse seed 1..S */
        const size_t cols = 3 + 2 * S;
        free(tab), free(xs), free(ys);
        tab = malloc(T * cols * sizeof *tab);
        xs = malloc((T + np) * sizeof *xs);
        ys = malloc((4 * T + np) * sizeof *ys);
        if (!tab || !xs || !ys) {
            st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            break;
        }
        for (size_t t = 0; t < T; t++) {
            tab[t * cols] = (double)(t + 1);
            for (size_t j = 1; j < cols; j++) tab[t * cols + j] = NAN;
        }
        for (size_t i = 0; i < np; i++)
            if (pts[i].pair == p && (size_t)pts[i].seed <= S)
                tab[(size_t)(pts[i].step - 1) * cols + 3 + (size_t)pts[i].dir * S + (size_t)(pts[i].seed - 1)] = pts[i].loss;
        /* the mean over the seeds that have the step */
        double *mean[2] = {ys, ys + T};
        for (size_t t = 0; t < T; t++) {
            xs[t] = (double)(t + 1);
            for (int d = 0; d < 2; d++) {
                double s = 0;
                size_t c = 0;
                for (size_t q = 0; q < S; q++) {
                    double v = tab[t * cols + 3 + (size_t)d * S + q];
                    if (isfinite(v)) s += v, c++;
                }
                mean[d][t] = tab[t * cols + 1 + (size_t)d] = c ? s / (double)c : NAN;
            }
        }
        /* the single seeds as points */
        double *px = xs + T, *py[2] = {ys + 2 * T, ys + 2 * T + m[0]};
        size_t k[2] = {0, 0};
        for (size_t i = 0; i < np; i++)
            if (pts[i].pair == p && (size_t)pts[i].seed <= S) {
                int d = pts[i].dir;
                /* x of forward points first, then inverse points */
                px[(d ? m[0] : 0) + k[d]] = (double)pts[i].step;
                py[d][k[d]] = pts[i].loss;
                k[d]++;
            }
        char name[64], header[4096], title[160], fl[96], il[96], caption[1024];
        snprintf(name, sizeof name, "elasticity_e1_pair%s", pair_name[p]);
        strbuf hb = {0};
        sb_printf(&hb, "step,forward_mean_nats,inverse_mean_nats");
        for (int d = 0; d < 2; d++)
            for (size_t q = 1; q <= S; q++) sb_printf(&hb, ",%s_seed%zu_nats", d ? "inverse" : "forward", q);
        snprintf(header, sizeof header, "%s", hb.s ? hb.s : "");
        free(hb.s);
        if ((st = write_csv(r, name, header, tab, T, cols))) break;
        snprintf(title, sizeof title, "E1 pair (%d, %d): forward versus inverse fine-tuning", PK[p], PL[p]);
        snprintf(fl, sizeof fl, "forward: theta%d on D%d, mean of %zu seed%s", PK[p], PL[p], S, S == 1 ? "" : "s");
        snprintf(il, sizeof il, "inverse: theta%d on D%d, mean of %zu seed%s", PL[p], PK[p], S, S == 1 ? "" : "s");
        alim_plot_series se[] = {
            {px, py[0], m[0], "forward, single seeds", ALIM_PLOT_POINTS, 0},
            {px + m[0], py[1], m[1], "inverse, single seeds", ALIM_PLOT_POINTS, 1},
            {xs, mean[0], T, fl, ALIM_PLOT_LINE, 0},
            {xs, mean[1], T, il, ALIM_PLOT_LINE, 1},
        };
        alim_plot pl = {title, "update step (one batch of the fine-tuning epoch)",
                        "training loss before the update (nats/token)", 0, 0, NAN, NAN, NAN, NAN, se, 4, 4, 0, 0};
        snprintf(caption, sizeof caption,
                 "Pair (%d, %d): the forward run fine-tunes the less-aligned model &theta;<sub>%d</sub> on the "
                 "samples D<sub>%d</sub> of the more-aligned &theta;<sub>%d</sub>; the inverse run fine-tunes "
                 "&theta;<sub>%d</sub> on D<sub>%d</sub>. Each point is one batch's mean cross-entropy before its "
                 "update; lines are the means over the seeds that reached the step. The paper's claim is that the inverse direction is "
                 "easier (lower loss).",
                 PK[p], PL[p], PK[p], PL[p], PL[p], PL[p], PK[p]);
        if ((st = add_figure(r, name, &pl, caption))) break;
    }
    free(tab), free(xs), free(ys), free(pts);
    return st;
}

/* Describes the run's configuration against the spec's (the library's defaults). */
static void describe_model(strbuf *b, int layers, int dim, int heads, int context, uint64_t tokens)
{
    sb_printf(b, "GPT %d&times;%d&times;%d, context %d, &theta;<sub>0</sub> pretrained on %llu tokens", layers, dim,
              heads, context, (unsigned long long)tokens);
}

static alim_status e1_section(report *r, const alim_resist_config *cfg, const alim_resist_result *res)
{
    const alim_resist_verdict *v = &res->verdict;
    const cJSON *sm = res->summary;
    alim_resist_config spec;
    alim_resist_config_default(&spec);
    const int is_spec = !r->quick && cfg->n_seeds >= spec.n_seeds && cfg->n_layer == spec.n_layer &&
                        cfg->n_embd == spec.n_embd && cfg->n_head == spec.n_head && cfg->context == spec.context &&
                        cfg->pretrain_tokens == spec.pretrain_tokens && cfg->sft_docs == spec.sft_docs &&
                        cfg->n_samples == spec.n_samples && cfg->sample_tokens == spec.sample_tokens;
    sb_printf(&r->html, "<h3>E1: resistance (forward versus inverse alignment)</h3>\n<p>Configuration: ");
    describe_model(&r->html, cfg->n_layer, cfg->n_embd, cfg->n_head, cfg->context, cfg->pretrain_tokens);
    sb_printf(&r->html,
              "; &theta;<sub>1</sub>, &theta;<sub>2</sub>, &theta;<sub>3</sub> after SFT on 3 slices of %zu "
              "positive (C2) documents; D<sub>k</sub> = %zu documents of up to %zu tokens sampled from "
              "&theta;<sub>k</sub>; %zu seed%s (%.0f parameters). ",
              cfg->sft_docs, cfg->n_samples, cfg->sample_tokens, cfg->n_seeds, cfg->n_seeds == 1 ? "" : "s",
              alim_lab_json_num(sm, "num_params"));
    if (is_spec) sb_printf(&r->html, "This is the spec's configuration (&sect;4.5).</p>\n");
    else {
        sb_printf(&r->html, "This is a reduced version of the spec's run (&sect;4.5: ");
        describe_model(&r->html, spec.n_layer, spec.n_embd, spec.n_head, spec.context, spec.pretrain_tokens);
        sb_printf(&r->html,
                  ", 3 &times; %zu SFT documents, %zu samples, %zu seeds); run the full one with <code>alim data "
                  "synthetic --out syn &amp;&amp; alim elastic resist --data syn --run e1-syn</code>.</p>\n",
                  spec.sft_docs, spec.n_samples, spec.n_seeds);
    }
    /* per-pair table from the summary (means over seeds) */
    sb_printf(&r->html, "<table><tr><th>pair (k, l)</th><th>forward mean loss</th><th>inverse mean loss</th>"
                        "<th>gap = forward &minus; inverse</th><th>entropy-corrected gap</th>"
                        "<th>inverse lower</th></tr>\n");
    static const char *const names[3] = {"1-2", "2-3", "1-3"};
    const size_t S = cfg->n_seeds;
    double *g = malloc(4 * S * sizeof *g);
    if (!g) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    for (int p = 0; p < 3; p++) {
        size_t n = 0, lower = 0;
        double *fw = g, *iv = g + S, *gap = g + 2 * S, *gc = g + 3 * S;
        const cJSON *pj;
        cJSON_ArrayForEach(pj, cJSON_GetObjectItemCaseSensitive(sm, "pairs")) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(pj, "pair");
            if (!cJSON_IsString(nm) || strcmp(nm->valuestring, names[p]) || n >= S) continue;
            fw[n] = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(pj, "forward"), "mean_nats");
            iv[n] = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(pj, "inverse"), "mean_nats");
            gap[n] = alim_lab_json_num(pj, "gap_nats");
            gc[n] = alim_lab_json_num(pj, "gap_corrected_nats");
            lower += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower"));
            n++;
        }
        double mf, mi, mg, sg, mc, sc, dummy;
        alim_lab_mean_se(fw, n, &mf, &dummy);
        alim_lab_mean_se(iv, n, &mi, &dummy);
        alim_lab_mean_se(gap, n, &mg, &sg);
        alim_lab_mean_se(gc, n, &mc, &sc);
        sb_printf(&r->html,
                  "<tr><td>(%c, %c)</td><td>%.4f nats</td><td>%.4f nats</td><td>%+.4f &plusmn; %.4f nats</td>"
                  "<td>%+.4f &plusmn; %.4f nats</td><td>%zu of %zu seeds</td></tr>\n",
                  names[p][0], names[p][2], mf, mi, mg, sg, mc, sc, lower, n);
    }
    free(g);
    sb_printf(&r->html,
              "</table>\n<p>Means over seeds &plusmn; standard error; the gap is positive when the inverse direction "
              "is easier, as the paper predicts. The entropy correction subtracts H<sub>l</sub> &minus; "
              "H<sub>k</sub>, the difference in the models' own entropies on their samples. Sign test over all %zu "
              "cases (pairs &times; seeds): inverse lower in %zu (one-sided p = %.3g), mean gap %+.4f nats (SE "
              "%.4f); after the correction %zu (p = %.3g), %+.4f nats (SE %.4f). <b>Verdict of this run: %s</b> (",
              v->n, v->count_raw, v->p_raw, v->mean_raw, v->se_raw, v->count_corrected, v->p_corrected,
              v->mean_corrected, v->se_corrected, v->verdict);
    html_escaped(&r->html, v->reason);
    sb_printf(&r->html,
              "). Data: <a href=\"elasticity_e1_summary.csv\">per pair and seed (CSV)</a>, "
              "<a href=\"elasticity_e1_curves.csv\">every step of every run (CSV)</a>.</p>\n");
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.csv", cfg->run_dir);
    alim_status st = copy_into_report(r, path, "elasticity_e1_summary.csv");
    snprintf(path, sizeof path, "%s/curves.csv", cfg->run_dir);
    if (!st) st = copy_into_report(r, path, "elasticity_e1_curves.csv");
    if (!st) st = e1_figures(r, cfg);
    return st;
}

/* ---- E2 figures ---- */

static alim_status e2_section(report *r, const alim_rebound_config *cfg, const alim_rebound_result *res,
                              int theta0_from_e1)
{
    const cJSON *sm = res->summary;
    const alim_rebound_criteria *cr = &res->criteria;
    const size_t P = cfg->n_pos_count, N = cfg->n_neg_count, S = cfg->n_seeds;
    alim_rebound_config spec;
    alim_rebound_config_default(&spec);
    const int is_spec = !r->quick && S >= spec.n_seeds && cfg->n_layer == spec.n_layer && cfg->n_embd == spec.n_embd &&
                        cfg->n_head == spec.n_head && cfg->context == spec.context &&
                        cfg->pretrain_tokens == spec.pretrain_tokens && P == spec.n_pos_count &&
                        !memcmp(cfg->n_pos, spec.n_pos, P * sizeof *cfg->n_pos) && N == spec.n_neg_count &&
                        !memcmp(cfg->n_neg, spec.n_neg, N * sizeof *cfg->n_neg) && cfg->n_samples == spec.n_samples &&
                        cfg->sample_tokens == spec.sample_tokens;
    sb_printf(&r->html, "<h3>E2: rebound</h3>\n<p>After aligning &theta;<sub>0</sub> on n<sub>pos</sub> positive (C2) "
                        "documents, the model is fine-tuned on the first n<sub>neg</sub> negative (C3) documents. The "
                        "paper predicts a fast drop of the aligned behaviour over the first few negatives, faster the "
                        "more it was aligned, then a slow decline (the model springs back toward its pretraining "
                        "distribution). Configuration: ");
    describe_model(&r->html, cfg->n_layer, cfg->n_embd, cfg->n_head, cfg->context, cfg->pretrain_tokens);
    sb_printf(&r->html, "%s; n<sub>pos</sub> &isin; ", theta0_from_e1 ? " (the same &theta;<sub>0</sub> as E1)" : "");
    size_list(&r->html, cfg->n_pos, P);
    sb_printf(&r->html, ", n<sub>neg</sub> &isin; ");
    size_list(&r->html, cfg->n_neg, N);
    sb_printf(&r->html, "; %zu samples of up to %zu tokens per evaluation; %zu seed%s. ", cfg->n_samples,
              cfg->sample_tokens, S, S == 1 ? "" : "s");
    if (is_spec) sb_printf(&r->html, "This is the spec's configuration (&sect;4.6).</p>\n");
    else {
        sb_printf(&r->html, "This is a reduced version of the spec's run (&sect;4.6: %zu seeds, n<sub>pos</sub> &isin; ",
                  spec.n_seeds);
        size_list(&r->html, spec.n_pos, spec.n_pos_count);
        sb_printf(&r->html, ", n<sub>neg</sub> &isin; ");
        size_list(&r->html, spec.n_neg, spec.n_neg_count);
        sb_printf(&r->html,
                  ", %zu samples); run the full one with <code>alim data synthetic "
                  "--out syn &amp;&amp; alim elastic rebound --data syn --run e2-syn</code>.</p>\n",
                  spec.n_samples);
    }
    /* the grid from the summary */
    double *buf = calloc(13 * P * N + 8, sizeof *buf);
    alim_plot_series *se = calloc(2 * P * N + P + 4, sizeof *se);
    char(*labels)[64] = calloc(P, sizeof *labels);
    if (!buf || !se || !labels) {
        free(buf), free(se), free(labels);
        return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    }
    double *xn = buf, *score = buf + P * N, *score_se = score + P * N, *kl = score_se + P * N, *kl_se = kl + P * N;
    double *bars = kl_se + P * N; /* 4 per grid point and figure: x, x, lo, hi (8 P N in all) */
    for (size_t i = 0; i < P * N; i++) score[i] = score_se[i] = kl[i] = kl_se[i] = NAN;
    for (size_t j = 0; j < N; j++) xn[j] = (double)cfg->n_neg[j];
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(sm, "grid")) {
        double np_ = alim_lab_json_num(row, "n_pos"), nn_ = alim_lab_json_num(row, "n_neg");
        for (size_t i = 0; i < P; i++)
            for (size_t j = 0; j < N; j++)
                if (np_ == (double)cfg->n_pos[i] && nn_ == (double)cfg->n_neg[j]) {
                    score[i * N + j] = alim_lab_json_num(row, "score_mean");
                    score_se[i * N + j] = alim_lab_json_num(row, "score_se");
                    kl[i * N + j] = alim_lab_json_num(row, "kl_to_base_nats_mean");
                    kl_se[i * N + j] = alim_lab_json_num(row, "kl_to_base_nats_se");
                }
    }
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(sm, "baseline");
    double bx[2] = {xn[0], xn[N - 1]}, by[2];
    by[0] = by[1] = alim_lab_json_num(base, "score_mean");
    double ex[2] = {xn[0], xn[N - 1]}, ey[2] = {cfg->epsilon_nats, cfg->epsilon_nats};
    char path[4200];
    snprintf(path, sizeof path, "%s/grid.csv", cfg->run_dir);
    alim_status st = copy_into_report(r, path, "elasticity_e2_grid.csv");
    for (int fig = 0; fig < 2 && !st; fig++) {
        const double *y = fig ? kl : score, *ys = fig ? kl_se : score_se;
        double *bb = bars + (size_t)fig * 4 * P * N;
        size_t ns = 0;
        for (size_t i = 0; i < P; i++) {
            snprintf(labels[i], sizeof labels[i], "n_pos = %zu", cfg->n_pos[i]);
            se[ns++] = (alim_plot_series){xn, y + i * N, N, labels[i], ALIM_PLOT_LINE_POINTS, (int)i};
        }
        /* +- 1 SE as vertical bars (none with one seed) */
        for (size_t i = 0; i < P; i++)
            for (size_t j = 0; j < N; j++) {
                const double m = y[i * N + j], s = ys[i * N + j];
                if (!isfinite(m) || !isfinite(s) || !(s > 0)) continue;
                double *b = bb + 4 * (i * N + j);
                b[0] = b[1] = xn[j];
                b[2] = m - s, b[3] = m + s;
                se[ns++] = (alim_plot_series){b, b + 2, 2, NULL, ALIM_PLOT_LINE, (int)i};
            }
        if (fig == 0) se[ns++] = (alim_plot_series){bx, by, 2, "theta0 (before alignment)", ALIM_PLOT_DASHED, 7};
        else se[ns++] = (alim_plot_series){ex, ey, 2, "epsilon (for n*)", ALIM_PLOT_DASHED, 7};
        strbuf cap = {0};
        if (fig == 0) {
            alim_plot p = {"E2: aligned behaviour under negative fine-tuning",
                           "negative (C3) documents fine-tuned on, n_neg",
                           "behaviour score = positive rate - negative rate", 0, 0, NAN, NAN, NAN, NAN, se, ns, 4, 0,
                           0};
            sb_printf(&cap,
                      "Behaviour score of %zu samples per model (share classified C2 minus share classified C3; "
                      "labels: %s) against the number of negative documents; one line per n<sub>pos</sub>%s. "
                      "Criteria of the spec (&sect;4.6) on this run: ",
                      cfg->n_samples,
                      cJSON_IsString(cJSON_GetObjectItemCaseSensitive(sm, "labels"))
                          ? cJSON_GetObjectItemCaseSensitive(sm, "labels")->valuestring
                          : "",
                      S > 1 ? ", bars &plusmn; 1 SE over the seeds" : " (one seed: no error bars)");
            const char *res5[5] = {cr->a, cr->b, cr->c, cr->d, cr->e};
            for (int k = 0; k < 5; k++) sb_printf(&cap, "%s(%c) %s", k ? ", " : "", 'a' + k, res5[k]);
            sb_printf(&cap, "; <b>verdict of this run: %s</b> (table below).", cr->verdict);
            st = cap.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                         : add_figure_csv(r, "elasticity_e2_score", "elasticity_e2_grid", &p, cap.s);
        } else {
            alim_plot p = {"E2: distance from theta0 under negative fine-tuning",
                           "negative (C3) documents fine-tuned on, n_neg",
                           "KL(model || theta0) per token (nats, log scale)", 0, 1, NAN, NAN, NAN, NAN, se, ns, 4, 0,
                           0};
            sb_printf(&cap,
                      "KL divergence of each model from &theta;<sub>0</sub> per position on the mixture test set; "
                      "one line per n<sub>pos</sub>%s. A rebound toward the pretrained model would bring the KL down "
                      "quickly. n*(&epsilon; = %g nats), the first n<sub>neg</sub> with KL &lt; &epsilon;: ",
                      S > 1 ? ", bars &plusmn; 1 SE over the seeds" : "", cfg->epsilon_nats);
            const cJSON *ns_j;
            int first = 1;
            cJSON_ArrayForEach(ns_j, cJSON_GetObjectItemCaseSensitive(sm, "n_star")) {
                const double nstar = alim_lab_json_num(ns_j, "n_star");
                sb_printf(&cap, "%sn<sub>pos</sub> = %.0f: ", first ? "" : ", ", alim_lab_json_num(ns_j, "n_pos"));
                if (isfinite(nstar)) sb_printf(&cap, "%.3g", nstar);
                else sb_printf(&cap, "not reached");
                first = 0;
            }
            sb_printf(&cap, ".");
            st = cap.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                         : add_figure_csv(r, "elasticity_e2_kl", "elasticity_e2_grid", &p, cap.s);
        }
        free(cap.s);
    }
    free(buf), free(se), free(labels);
    if (st) return st;
    static const char *const what[5] = {
        "score at n<sub>neg</sub> = 0 rises with n<sub>pos</sub>",
        "the drop over the first negatives grows with n<sub>pos</sub>",
        "early slope &ge; 3 &times; late slope (fast, then slow)",
        "&gamma;<sub>mix</sub> returns toward &theta;<sub>0</sub> while &gamma;<sub>C2</sub> rises",
        "a control without C3 in pretraining rebounds less (needs a control run; the report runs none)"};
    const char *res5[5] = {cr->a, cr->b, cr->c, cr->d, cr->e};
    sb_printf(&r->html, "<table><tr><th>criterion (spec &sect;4.6)</th><th>result</th><th>why</th></tr>\n");
    for (int k = 0; k < 5; k++) {
        sb_printf(&r->html, "<tr><td>(%c) %s</td><td>%s</td><td>", 'a' + k, what[k], res5[k]);
        html_escaped(&r->html, cr->why[k]);
        sb_printf(&r->html, "</td></tr>\n");
    }
    sb_printf(&r->html,
              "</table>\n<p><b>Verdict of this run: %s</b> (PASS needs all five). Data: "
              "<a href=\"elasticity_e2_grid.csv\">the grid, means and SEs over seeds (CSV)</a>.</p>\n",
              cr->verdict);
    return ALIM_OK;
}

/* ---- E4: the elasticity coefficient from E2's cells ------------------------------------------ */

static void criteria_text(strbuf *b, const cJSON *criteria)
{
    const cJSON *cr;
    int first = 1;
    cJSON_ArrayForEach(cr, criteria) {
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(cr, "result"), *why = cJSON_GetObjectItemCaseSensitive(cr, "why");
        sb_printf(b, "%s", first ? "" : "; ");
        html_escaped(b, cr->string ? cr->string : "?");
        sb_printf(b, " %s", cJSON_IsString(res) ? res->valuestring : "?");
        if (cJSON_IsString(why)) {
            sb_printf(b, " (");
            html_escaped(b, why->valuestring);
            sb_printf(b, ")");
        }
        first = 0;
    }
}

static const char *json_str(const cJSON *o, const char *key, const char *dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : dflt;
}

static void num_or_dash(strbuf *b, const char *fmt, double v)
{
    if (isfinite(v)) sb_printf(b, fmt, v);
    else sb_printf(b, "&ndash;");
}

static alim_status e4_section(report *r, const elasticity_config *ec, const alim_rebound_config *c, const cJSON *sum,
                              const char *data_dir)
{
    const size_t P = c->n_pos_count;
    size_t nneg[ALIM_REBOUND_MAX_GRID], N = 0;
    for (size_t j = 0; j < c->n_neg_count; j++)
        if (c->n_neg[j] > 0 && c->n_neg[j] <= ec->e4_max_n_neg) nneg[N++] = c->n_neg[j];
    const double pre = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sum, "config"), "pretrain"),
                                         "tokens");
    if (!(pre > 0)) return alim_error_set(r->err, ALIM_EFORMAT, "E2 summary.json", "config.pretrain.tokens missing");
    double q[3];
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(sum, "shares");
    for (int i = 0; i < 3; i++) q[i] = cJSON_IsNumber(cJSON_GetArrayItem(sh, i)) ? cJSON_GetArrayItem(sh, i)->valuedouble : NAN;
    double a_tok[ALIM_REBOUND_MAX_GRID];
    alim_coefficient_estimate est[ALIM_REBOUND_MAX_GRID];
    cJSON *out = NULL;
    alim_status st = alim_coefficient_alignment_tokens(sum, data_dir, c->n_pos, P, a_tok, r->err);
    if (!st)
        st = alim_coefficient_analyse(sum, c->n_pos, P, nneg, N, pre, a_tok, isfinite(q[0]) ? q : NULL, ec->e4_boot, 1, est, &out,
                                      r->err);
    if (st) return st;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(out, "per_n_pos");
    double oracle[ALIM_REBOUND_MAX_GRID];
    for (size_t i = 0; i < P; i++) oracle[i] = alim_lab_json_num(cJSON_GetArrayItem(rows, (int)i), "oracle_e_hat");
    /* the CSV: one row per n_pos and l */
    enum { COLS = 17, FIT = 24 };
    double *tab = malloc(P * N * COLS * sizeof *tab), *fx = malloc(P * FIT * sizeof *fx), *fy = malloc(2 * P * FIT * sizeof *fy);
    double *bars = malloc(2 * P * N * 4 * sizeof *bars);
    alim_plot_series *se = calloc(2 * P * N + 4 * P + 2, sizeof *se);
    char(*labels)[96] = calloc(2 * P, sizeof *labels);
    if (!tab || !fx || !fy || !bars || !se || !labels) st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    for (size_t i = 0; i < P && !st; i++)
        for (size_t j = 0; j < N; j++) {
            const alim_coefficient_estimate *e = &est[i];
            double row[COLS] = {(double)c->n_pos[i], a_tok[i], e->k, (double)nneg[j], e->l[j], e->dgamma_p[j], e->dgamma_p_se[j],
                                e->dgamma_a[j], e->dgamma_a_se[j], e->hooke[j], e->slope_p, e->slope_a, e->e_hat, e->e_lo,
                                e->e_hi, e->hooke_fit, oracle[i]};
            memcpy(tab + (i * N + j) * COLS, row, sizeof row);
        }
    if (!st)
        st = write_csv(r, "elasticity_e4_coefficient",
                       "n_pos,a_tokens,k,n_neg,l,dgamma_p_bits_mean,dgamma_p_bits_se,dgamma_a_bits_mean,dgamma_a_bits_se,hooke,"
                       "slope_p_bits_per_l,slope_a_bits_per_l,e_hat,e_hat_lo95,e_hat_hi95,e_hat_over_k,oracle_e_hat",
                       tab, P * N, COLS);
    if (!st) {
        /* the analysis as JSON next to it (per-seed changes, criteria) */
        char *text = cJSON_Print(out);
        char *p = path_in(r, "elasticity_e4_coefficient.json");
        st = (text && p) ? alim_file_write_atomic(p, text, strlen(text), r->err)
                         : alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        free(text), free(p);
    }
    size_t ns = 0;
    double lmin = INFINITY, lmax = 0;
    for (size_t i = 0; i < P && !st; i++)
        for (size_t j = 0; j < N; j++) lmin = fmin(lmin, est[i].l[j]), lmax = fmax(lmax, est[i].l[j]);
    for (size_t i = 0; i < P && !st; i++) {
        const alim_coefficient_estimate *e = &est[i];
        double *x = fx + i * FIT, *ya = fy + 2 * i * FIT, *yp = ya + FIT;
        const double l0 = e->l[0] / 1.25, l1 = e->l[N - 1] * 1.25;
        for (int t = 0; t < FIT; t++) {
            x[t] = l0 * pow(l1 / l0, (double)t / (FIT - 1));
            ya[t] = e->slope_a * x[t];
            yp[t] = e->slope_p * x[t];
        }
        snprintf(labels[2 * i], sizeof labels[0], "n_pos %zu: Delta gamma_a", c->n_pos[i]);
        snprintf(labels[2 * i + 1], sizeof labels[0], "n_pos %zu: Delta gamma_p", c->n_pos[i]);
        se[ns++] = (alim_plot_series){x, ya, FIT, labels[2 * i], ALIM_PLOT_LINE, (int)i};
        se[ns++] = (alim_plot_series){x, yp, FIT, labels[2 * i + 1], ALIM_PLOT_DASHED, (int)i};
        se[ns++] = (alim_plot_series){e->l, e->dgamma_a, N, NULL, ALIM_PLOT_POINTS, (int)i};
        se[ns++] = (alim_plot_series){e->l, e->dgamma_p, N, NULL, ALIM_PLOT_POINTS, (int)i};
        for (size_t j = 0; j < N; j++)
            for (int w = 0; w < 2; w++) {
                const double m = w ? e->dgamma_p[j] : e->dgamma_a[j], s = w ? e->dgamma_p_se[j] : e->dgamma_a_se[j];
                if (!isfinite(m) || !(s > 0)) continue;
                double *b = bars + 4 * ((i * N + j) * 2 + (size_t)w);
                b[0] = b[1] = e->l[j];
                b[2] = m - s, b[3] = m + s;
                se[ns++] = (alim_plot_series){b, b + 2, 2, NULL, ALIM_PLOT_LINE, (int)i};
            }
    }
    /* whole decades on the log axis, so that it always has labelled ticks */
    double zx[2] = {pow(10, floor(log10(lmin / 1.3))), pow(10, ceil(log10(lmax * 1.3)))}, zy[2] = {0, 0};
    if (!st) se[ns++] = (alim_plot_series){zx, zy, 2, "no change", ALIM_PLOT_DASHED, 7};
    strbuf cap = {0};
    if (!st) {
        sb_printf(&r->html, "<h3>E4: the elasticity coefficient</h3>\n<p>No new training: the points are cells of the E2 run "
                            "above. &theta;<sub>pos</sub> (n<sub>pos</sub> positive documents, |D<sub>a</sub>| tokens) "
                            "perturbed by n<sub>neg</sub> negative documents, l = n<sub>neg</sub>/n<sub>pos</sub>; "
                            "&Delta;&gamma; = change of bits/token from n<sub>neg</sub> = 0, &gamma;<sub>p</sub> on the "
                            "pretraining mixture (test_mix), &gamma;<sub>a</sub> on the alignment component (test_c2); "
                            "&Ecirc; = &minus;slope<sub>a</sub>/slope<sub>p</sub> of the least-squares fits through the "
                            "origin, k = |D<sub>p</sub>|/|D<sub>a</sub>|. The theorem says slope<sub>p</sub> &lt; 0 &lt; "
                            "slope<sub>a</sub> and &Ecirc; = &Theta;(k); the count-weighted learner (the oracle) gives "
                            "&Ecirc; &rarr; k as l &rarr; 0 (docs/elastic.md &ldquo;E4&rdquo;).</p>\n");
        sb_printf(&r->html, "<table><tr><th>n<sub>pos</sub></th><th>|D<sub>a</sub>| (tokens)</th><th>k</th>"
                            "<th>&Ecirc; [95%% interval]</th><th>&Ecirc;/k</th><th>oracle &Ecirc;</th><th>signs</th></tr>\n");
        for (size_t i = 0; i < P; i++) {
            sb_printf(&r->html, "<tr><td>%zu</td><td>%.0f</td><td>%.3g</td><td>", c->n_pos[i], a_tok[i], est[i].k);
            num_or_dash(&r->html, "%.3g", est[i].e_hat);
            sb_printf(&r->html, " [");
            num_or_dash(&r->html, "%.3g", est[i].e_lo);
            sb_printf(&r->html, ", ");
            num_or_dash(&r->html, "%.3g", est[i].e_hi);
            sb_printf(&r->html, "]</td><td>");
            num_or_dash(&r->html, "%.3g", est[i].hooke_fit);
            sb_printf(&r->html, "</td><td>");
            num_or_dash(&r->html, "%.3g", oracle[i]);
            sb_printf(&r->html, "</td><td>%s</td></tr>\n", est[i].signs_ok ? "as the theorem says" : "not as the theorem says");
        }
        sb_printf(&r->html, "</table>\n");
        alim_plot p = {"E4: rate changes under negative fine-tuning",
                       "perturbation size l = n_neg / n_pos (log scale)",
                       "change of bits/token from n_neg = 0", 1, 0, zx[0], zx[1], NAN, NAN, se, ns, 4, 0, 0};
        sb_printf(&cap,
                  "&Delta;&gamma;<sub>a</sub> (solid fits) and &Delta;&gamma;<sub>p</sub> (dashed fits) against l, one "
                  "colour per n<sub>pos</sub>, for n<sub>neg</sub> &isin; ");
        size_list(&cap, nneg, N);
        sb_printf(&cap,
                  "; points are the means over %zu seed%s%s, lines the least-squares fits through the origin "
                  "(&Delta;&gamma; = slope &times; l, curved on the log axis). ",
                  est[0].n_seeds, est[0].n_seeds == 1 ? "" : "s", est[0].n_seeds > 1 ? " &plusmn; 1 SE" : "");
        for (size_t i = 0; i < P; i++) {
            sb_printf(&cap, "n<sub>pos</sub> = %zu (k = %.3g): &Ecirc; = ", c->n_pos[i], est[i].k);
            num_or_dash(&cap, "%.3g", est[i].e_hat);
            if (isfinite(est[i].e_lo)) sb_printf(&cap, " [%.3g, %.3g]", est[i].e_lo, est[i].e_hi);
            sb_printf(&cap, ", &Ecirc;/k = ");
            num_or_dash(&cap, "%.3g", est[i].hooke_fit);
            sb_printf(&cap, ", oracle &Ecirc; = ");
            num_or_dash(&cap, "%.3g", oracle[i]);
            sb_printf(&cap, "%s", i + 1 < P ? "; " : ". ");
        }
        sb_printf(&cap, "Criteria (docs/elastic.md &ldquo;E4&rdquo;): ");
        criteria_text(&cap, cJSON_GetObjectItemCaseSensitive(out, "criteria"));
        sb_printf(&cap, "; <b>verdict of this analysis: %s</b>. <a href=\"elasticity_e4_coefficient.json\">The analysis with "
                        "the per-seed changes (JSON)</a>.",
                  json_str(out, "verdict", "?"));
        st = cap.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                     : add_figure(r, "elasticity_e4_coefficient", &p, cap.s);
    }
    free(cap.s);
    free(tab), free(fx), free(fy), free(bars), free(se), free(labels);
    cJSON_Delete(out);
    return st;
}

/* ---- E3: elasticity versus scale -------------------------------------------------------------- */

static int scale_is_spec(const alim_scale_config *c)
{
    alim_scale_config s;
    alim_scale_config_default(&s);
    return !c->quick && c->n_seeds >= s.n_seeds && c->n_sizes == s.n_sizes &&
           !memcmp(c->layers, s.layers, sizeof s.layers) && !memcmp(c->dim, s.dim, sizeof s.dim) &&
           !memcmp(c->heads, s.heads, sizeof s.heads) && c->size_pretrain_tokens == s.size_pretrain_tokens &&
           c->size_n_pos_count == s.size_n_pos_count && !memcmp(c->size_n_pos, s.size_n_pos, sizeof s.size_n_pos) &&
           c->size_n_neg_count == s.size_n_neg_count && !memcmp(c->size_n_neg, s.size_n_neg, sizeof s.size_n_neg) &&
           c->n_budgets == s.n_budgets && !memcmp(c->budgets, s.budgets, sizeof s.budgets) &&
           c->budget_model == s.budget_model && c->budget_lr == s.budget_lr &&
           c->tok_n_pos_count == s.tok_n_pos_count && !memcmp(c->tok_n_pos, s.tok_n_pos, sizeof s.tok_n_pos) &&
           c->tok_n_neg_count == s.tok_n_neg_count && !memcmp(c->tok_n_neg, s.tok_n_neg, sizeof s.tok_n_neg) &&
           c->context == s.context && c->max_l_neg == s.max_l_neg && c->n_samples == s.n_samples &&
           c->sample_tokens == s.sample_tokens;
}

/* Two figures for one part (size or tokens): R and E_hat against the level's scale (log x). */
static alim_status e3_part_figures(report *r, const cJSON *part, const char *pname, const char *verdict, int reduced)
{
    const cJSON *levels = cJSON_GetObjectItemCaseSensitive(part, "levels");
    const size_t n = (size_t)cJSON_GetArraySize(levels);
    if (!cJSON_IsArray(levels) || n < 1) return alim_error_set(r->err, ALIM_EFORMAT, "E3 summary.json", "no %s levels", pname);
    const int is_size = !strcmp(pname, "size");
    size_t S = (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(levels, 0), "per_seed"));
    double *v = calloc(8 * n + 2 * n * (S + 1) + 8 * n, sizeof *v);
    alim_plot_series *se = calloc(2 * n + 8, sizeof *se);
    if (!v || !se) {
        free(v), free(se);
        return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    }
    double *x = v, *rm = v + n, *rs = v + 2 * n, *em = v + 3 * n, *elo = v + 4 * n, *ehi = v + 5 * n, *orc = v + 6 * n;
    double *px = v + 8 * n, *pr = px + n * (S + 1), *bars = pr + n * (S + 1); /* per-seed points; error bars */
    size_t k = 0;
    const cJSON *lv;
    int i = 0;
    cJSON_ArrayForEach(lv, levels) {
        x[i] = alim_lab_json_num(lv, is_size ? "params" : "pretrain_tokens");
        rm[i] = alim_lab_json_num(lv, "R_mean");
        rs[i] = alim_lab_json_num(lv, "R_se");
        em[i] = alim_lab_json_num(lv, "e_hat");
        elo[i] = alim_lab_json_num(lv, "e_hat_lo95");
        ehi[i] = alim_lab_json_num(lv, "e_hat_hi95");
        orc[i] = alim_lab_json_num(lv, "oracle_e_hat");
        i++;
    }
    alim_status st = ALIM_OK;
    const double rho[2] = {alim_lab_json_num(part, "spearman_R"), alim_lab_json_num(part, "spearman_e_hat")};
    for (int fig = 0; fig < 2 && !st; fig++) {
        size_t ns = 0;
        /* single seeds */
        k = 0;
        cJSON_ArrayForEach(lv, levels) {
            const double xv = alim_lab_json_num(lv, is_size ? "params" : "pretrain_tokens");
            const cJSON *ps;
            cJSON_ArrayForEach(ps, cJSON_GetObjectItemCaseSensitive(lv, "per_seed")) {
                if (k >= n * (S + 1)) break;
                px[k] = xv;
                pr[k++] = alim_lab_json_num(ps, fig ? "e_hat" : "R");
            }
        }
        const double *m = fig ? em : rm;
        se[ns++] = (alim_plot_series){x, m, n, fig ? "E_hat on the seed means" : "mean over seeds", ALIM_PLOT_LINE_POINTS, 0};
        se[ns++] = (alim_plot_series){px, pr, k, "single seeds", ALIM_PLOT_POINTS, 1};
        int have_bar = 0;
        for (size_t j = 0; j < n; j++) {
            const double lo = fig ? elo[j] : rm[j] - rs[j], hi = fig ? ehi[j] : rm[j] + rs[j];
            if (!isfinite(lo) || !isfinite(hi) || !(hi > lo)) continue;
            double *b = bars + 4 * j;
            b[0] = b[1] = x[j];
            b[2] = lo, b[3] = hi;
            se[ns++] = (alim_plot_series){b, b + 2, 2, have_bar ? NULL : fig ? "95% bootstrap interval" : "+- 1 SE", ALIM_PLOT_LINE, 0};
            have_bar = 1;
        }
        if (fig) se[ns++] = (alim_plot_series){x, orc, n, "count-weighted learner (oracle)", ALIM_PLOT_DASHED, 7};
        char name[64], title[128], xl[96];
        snprintf(name, sizeof name, "elasticity_e3_%s_%s", pname, fig ? "ehat" : "R");
        snprintf(title, sizeof title, "E3: %s versus %s", fig ? "elasticity coefficient E_hat" : "rebound rate R",
                 is_size ? "model size" : "pretraining tokens");
        snprintf(xl, sizeof xl, "%s (log scale)", is_size ? "model parameters" : "pretraining tokens of theta0");
        double xlo = INFINITY, xhi = 0; /* whole decades on the log axis */
        for (size_t j = 0; j < n; j++)
            if (x[j] > 0) xlo = fmin(xlo, x[j]), xhi = fmax(xhi, x[j]);
        if (!(xhi > 0)) xlo = xhi = NAN;
        else xlo = pow(10, floor(log10(xlo / 1.2))), xhi = pow(10, ceil(log10(xhi * 1.2)));
        alim_plot p = {title, xl, fig ? "E_hat = -slope_a / slope_p" : "R = (score(0) - score(n1)) / n1, per document",
                       1, 0, xlo, xhi, NAN, NAN, se, ns, 4, 0, 0};
        strbuf cap = {0};
        if (fig)
            sb_printf(&cap, "The elasticity coefficient &Ecirc; (as in E4, k = pretraining tokens / |D<sub>a</sub>|) "
                            "against %s; bars: 95%% bootstrap interval over seeds (none with one seed); dashed: the "
                            "count-weighted learner's &Ecirc; at the same k. ",
                      is_size ? "the number of parameters" : "the pretraining tokens of &theta;<sub>0</sub>");
        else
            sb_printf(&cap, "The rebound rate R, the drop of the behaviour score per negative document over the first "
                            "negative prefix, against %s; bars &plusmn; 1 SE over seeds (none with one seed). ",
                      is_size ? "the number of parameters" : "the pretraining tokens of &theta;<sub>0</sub>");
        sb_printf(&cap, "Spearman &rho; over (level, seed): ");
        num_or_dash(&cap, "%.3g", rho[fig]);
        sb_printf(&cap, " (the %s part, %s: PASS needs &rho; &gt; 0); <b>verdict of this run: %s</b>.%s", pname,
                  fig ? "&Ecirc;" : "R", verdict,
                  reduced ? " A reduced version of the spec's E3 (see the text)." : "");
        st = cap.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                     : add_figure_csv(r, name, "elasticity_e3_levels", &p, cap.s);
        free(cap.s);
    }
    free(v), free(se);
    return st;
}

static alim_status e3_section(report *r, const alim_scale_config *c, const alim_scale_result *res)
{
    const cJSON *sm = res->summary;
    const int spec = scale_is_spec(c);
    alim_scale_config s;
    alim_scale_config_default(&s);
    sb_printf(&r->html, "<h3>E3: elasticity versus scale</h3>\n<p>Does the rebound get stronger with model size and with "
                        "pretraining? Two parts, each a set of E2 rebound runs: <b>size</b>, one run per shape ");
    for (size_t i = 0; i < c->n_sizes; i++)
        sb_printf(&r->html, "%s%d&times;%d&times;%d", i ? ", " : "", c->layers[i], c->dim[i], c->heads[i]);
    sb_printf(&r->html, " (layers &times; dim &times; heads, context %d), &theta;<sub>0</sub> pretrained on %llu tokens, "
                        "n<sub>pos</sub> &isin; ",
              c->context, (unsigned long long)c->size_pretrain_tokens);
    size_list(&r->html, c->size_n_pos, c->size_n_pos_count);
    sb_printf(&r->html, ", n<sub>neg</sub> &isin; ");
    size_list(&r->html, c->size_n_neg, c->size_n_neg_count);
    sb_printf(&r->html, "; <b>tokens</b>, one pretraining run per seed of the %d&times;%d&times;%d shape at lr %g constant, "
                        "stopped at the budgets {",
              c->layers[c->budget_model], c->dim[c->budget_model], c->heads[c->budget_model], c->budget_lr);
    for (size_t i = 0; i < c->n_budgets; i++) sb_printf(&r->html, "%s%llu", i ? ", " : "", (unsigned long long)c->budgets[i]);
    sb_printf(&r->html, "} tokens, each followed by n<sub>pos</sub> &isin; ");
    size_list(&r->html, c->tok_n_pos, c->tok_n_pos_count);
    sb_printf(&r->html, ", n<sub>neg</sub> &isin; ");
    size_list(&r->html, c->tok_n_neg, c->tok_n_neg_count);
    sb_printf(&r->html, "; %zu samples per evaluation, %zu seed%s. Per level and seed, at the largest n<sub>pos</sub>: "
                        "R = (score(0) &minus; score(n<sub>1</sub>))/n<sub>1</sub> with n<sub>1</sub> the first "
                        "n<sub>neg</sub> &gt; 0, and &Ecirc; as in E4 on n<sub>neg</sub> &le; %zu. The spec's success: R "
                        "and &Ecirc; rise with size and with tokens (Spearman &rho; &gt; 0 in all four). ",
              c->n_samples, c->n_seeds, c->n_seeds == 1 ? "" : "s", c->max_l_neg);
    if (spec) sb_printf(&r->html, "This is the spec's configuration (&sect;4.7).</p>\n");
    else
        sb_printf(&r->html,
                  "<b>This is a reduced version</b> of the spec's run (&sect;4.7: shapes G0, G1, G2 on %llu tokens, "
                  "budgets 0.25M to 4M tokens, n<sub>pos</sub> {400, 2000} and {2000}, %zu samples, %zu seeds; about 25 "
                  "minutes on 2 cores); run the full one with <code>alim data synthetic --out syn &amp;&amp; alim "
                  "elastic scale --data syn --run e3-syn</code> (<code>alim elastic scale --data DIR --run DIR</code>).</p>\n",
                  (unsigned long long)s.size_pretrain_tokens, s.n_samples, s.n_seeds);
    const char *verdict = res->verdict ? res->verdict : "?";
    char path[4400];
    snprintf(path, sizeof path, "%s/levels.csv", c->run_dir);
    alim_status st = copy_into_report(r, path, "elasticity_e3_levels.csv");
    snprintf(path, sizeof path, "%s/scale.csv", c->run_dir);
    if (!st) st = copy_into_report(r, path, "elasticity_e3_scale.csv");
    const cJSON *part;
    if (!st && c->do_size && (part = cJSON_GetObjectItemCaseSensitive(sm, "size")))
        st = e3_part_figures(r, part, "size", verdict, !spec);
    if (!st && c->do_tokens && (part = cJSON_GetObjectItemCaseSensitive(sm, "tokens")))
        st = e3_part_figures(r, part, "tokens", verdict, !spec);
    if (st) return st;
    sb_printf(&r->html, "<p>Criteria (docs/elastic.md &ldquo;E3&rdquo;): ");
    criteria_text(&r->html, cJSON_GetObjectItemCaseSensitive(sm, "criteria"));
    sb_printf(&r->html,
              ". <b>Verdict of this run: %s</b> (PASS needs all four &rho; &gt; 0). Data: <a "
              "href=\"elasticity_e3_levels.csv\">per level, means over seeds (CSV)</a>, <a "
              "href=\"elasticity_e3_scale.csv\">per level and seed (CSV)</a>.</p>\n",
              verdict);
    return ALIM_OK;
}

/* Runs E1, E2 (with E4 from its cells) and E3 (as configured) and adds their parts of the section. */
static alim_status lab_section_in(report *r, elasticity_config *ec, const char *cache);
static alim_status lab_section(report *r, elasticity_config *ec, const char *cache_override)
{
    if (!ec->run_resist && !ec->run_rebound && !ec->run_scale) {
        sb_printf(&r->html, "<p>The transformer experiments E1&ndash;E4 were not run (configuration "
                            "<code>\"experiments\": []</code>).</p>\n");
        return ALIM_OK;
    }
    char cache[4096];
    if (cache_override) snprintf(cache, sizeof cache, "%s", cache_override);
    else if (ec->cache[0]) snprintf(cache, sizeof cache, "%s", ec->cache);
    else snprintf(cache, sizeof cache, "%s/cache", r->dir);
    alim_status st = make_dirs(cache, r->err);
    /* the cache may be shared by reports of other --out directories: one writer at a time */
    alim_dir_lock *lock = NULL;
    if (!st) st = alim_dir_lock_acquire(cache, &lock, r->err);
    if (st) return st;
    st = lab_section_in(r, ec, cache);
    alim_dir_lock_release(lock);
    return st;
}

/* lab_section with the cache made and held */
static alim_status lab_section_in(report *r, elasticity_config *ec, const char *cache)
{
    char data_dir[4200], e1_dir[4300], e2_dir[4300];
    char data_name[64];
    alim_status st = lab_data(r, ec, cache, data_dir, sizeof data_dir, data_name);
    if (st) return st;
    snprintf(ec->cache_used, sizeof ec->cache_used, "%s", cache);
    snprintf(ec->data_used, sizeof ec->data_used, "%s", data_dir);
    sb_printf(&r->html,
              "<p>E1, E2 and E3 below train small GPT models (byte tokenizer) on the CPU, on a data directory the report "
              "built: %s, seed %llu, pretraining data of %llu %s at the shares 0.9, 0.05, 0.05. "
              "Data and runs are kept in the cache <code>",
              ec->natural ? "the natural source of <code>alim data natural</code> (C1 fortunes, C2 the KJV Bible as "
                            "the positive behaviour, C3 the Jargon File as the negative one)"
                          : "the synthetic Markov-mixture source S (C1 neutral, C2 positive, C3 negative)",
              (unsigned long long)ec->data.seed, (unsigned long long)ec->data.pretrain_size,
              ec->natural ? "bytes" : "tokens");
    html_escaped(&r->html, cache);
    sb_printf(&r->html, "</code>; a re-run reuses every finished cell.</p>\n");

    /* E1 */
    alim_resist_result r1;
    memset(&r1, 0, sizeof r1);
    int have_r1 = 0;
    char e1_name[64] = "";
    if (ec->run_resist) {
        alim_resist_config *c = &ec->e1;
        cJSON *key = cJSON_CreateObject();
        if (!key) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        cJSON_AddStringToObject(key, "data", data_name);
        add_base_key(key, c->n_layer, c->n_embd, c->n_head, c->context, c->pretrain_tokens, c->pretrain_batch,
                     c->pretrain_lr, c->pretrain_min_lr, c->pretrain_weight_decay, c->pretrain_warmup);
        cJSON_AddNumberToObject(key, "sft_docs", (double)c->sft_docs);
        cJSON_AddNumberToObject(key, "sft_batch", c->sft_batch);
        cJSON_AddNumberToObject(key, "sft_lr", c->sft_lr);
        cJSON_AddNumberToObject(key, "samples", (double)c->n_samples);
        cJSON_AddNumberToObject(key, "sample_tokens", (double)c->sample_tokens);
        cJSON_AddNumberToObject(key, "prompt_bytes", (double)c->prompt_bytes);
        cJSON_AddNumberToObject(key, "temperature", c->temperature);
        cJSON_AddBoolToObject(key, "quick", c->quick);
        hashed_name("resist", key, e1_name, sizeof e1_name);
        cJSON_Delete(key);
        snprintf(e1_dir, sizeof e1_dir, "%s/%s", cache, e1_name);
        c->data_dir = data_dir;
        c->run_dir = e1_dir;
        st = alim_resist_run(c, r->progress, lab_note, r, &r1, r->err);
        if (st) return st;
        have_r1 = 1;
        r->cells_total += r1.cells_total;
        r->cells_run += r1.cells_run;
        r->cells_reused += r1.cells_reused;
        st = e1_section(r, c, &r1);
    }
    /* E2, with E1's theta0 when E1 trained one for every seed (same data, model and pretraining) */
    alim_rebound_result r2;
    memset(&r2, 0, sizeof r2);
    int have_r2 = 0;
    char **t0 = NULL;
    if (!st && ec->run_rebound) {
        alim_rebound_config *c = &ec->e2;
        const int from_e1 = ec->run_resist && c->n_seeds <= ec->e1.n_seeds;
        char origin[160] = "";
        if (from_e1) {
            t0 = calloc(c->n_seeds, sizeof *t0);
            if (!t0) st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            for (size_t s = 0; s < c->n_seeds && !st; s++) {
                t0[s] = malloc(4400);
                if (!t0[s]) st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
                else snprintf(t0[s], 4400, "%s/cells/s%zu-theta0", e1_dir, s + 1);
            }
            snprintf(origin, sizeof origin, "theta0 of the report's E1 run %s (cells s<seed>-theta0)", e1_name);
            c->theta0_dirs = (const char *const *)t0;
            c->theta0_origin = origin;
        }
        cJSON *key = st ? NULL : cJSON_CreateObject();
        if (!st && !key) st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        if (!st) {
            cJSON_AddStringToObject(key, "data", data_name);
            cJSON_AddStringToObject(key, "theta0", from_e1 ? e1_name : "own");
            add_base_key(key, c->n_layer, c->n_embd, c->n_head, c->context, c->pretrain_tokens, c->pretrain_batch,
                         c->pretrain_lr, c->pretrain_min_lr, c->pretrain_weight_decay, c->pretrain_warmup);
            double gv[ALIM_REBOUND_MAX_GRID];
            for (size_t i = 0; i < c->n_pos_count; i++) gv[i] = (double)c->n_pos[i];
            cJSON_AddItemToObject(key, "n_pos", cJSON_CreateDoubleArray(gv, (int)c->n_pos_count));
            for (size_t i = 0; i < c->n_neg_count; i++) gv[i] = (double)c->n_neg[i];
            cJSON_AddItemToObject(key, "n_neg", cJSON_CreateDoubleArray(gv, (int)c->n_neg_count));
            cJSON_AddNumberToObject(key, "sft_batch", c->sft_batch);
            cJSON_AddNumberToObject(key, "sft_lr", c->sft_lr);
            cJSON_AddNumberToObject(key, "samples", (double)c->n_samples);
            cJSON_AddNumberToObject(key, "sample_tokens", (double)c->sample_tokens);
            cJSON_AddNumberToObject(key, "temperature", c->temperature);
            cJSON_AddBoolToObject(key, "quick", c->quick);
            char e2_name[64];
            hashed_name("rebound", key, e2_name, sizeof e2_name);
            cJSON_Delete(key);
            snprintf(e2_dir, sizeof e2_dir, "%s/%s", cache, e2_name);
            c->data_dir = data_dir;
            c->run_dir = e2_dir;
            st = alim_rebound_run(c, r->progress, lab_note, r, &r2, r->err);
            if (!st) {
                have_r2 = 1;
                r->cells_total += r2.cells_total;
                r->cells_run += r2.cells_run;
                r->cells_reused += r2.cells_reused;
                st = e2_section(r, c, &r2, from_e1);
                if (!st && ec->run_coefficient) st = e4_section(r, ec, c, r2.summary, data_dir);
            }
        }
        c->theta0_dirs = NULL;
        c->theta0_origin = NULL;
    }
    if (t0)
        for (size_t s = 0; s < ec->e2.n_seeds; s++) free(t0[s]);
    free(t0);
    if (have_r1) alim_resist_result_free(&r1);
    if (have_r2) alim_rebound_result_free(&r2);
    /* E3: its own rebound runs (sizes, budgets) in one run directory of the cache */
    if (!st && ec->run_scale) {
        alim_scale_config *c = &ec->e3;
        cJSON *key = alim_scale_config_json(c); /* the library's own record of what changes a result */
        if (!key) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        cJSON_AddStringToObject(key, "data", data_name);
        char e3_name[64], e3_dir[4300];
        hashed_name("scale", key, e3_name, sizeof e3_name);
        cJSON_Delete(key);
        snprintf(e3_dir, sizeof e3_dir, "%s/%s", cache, e3_name);
        c->data_dir = data_dir;
        c->run_dir = e3_dir;
        alim_scale_result r3;
        st = alim_scale_run(c, r->progress, lab_note, r, &r3, r->err);
        if (!st) {
            r->cells_total += r3.cells_run + r3.cells_reused;
            r->cells_run += r3.cells_run;
            r->cells_reused += r3.cells_reused;
            st = e3_section(r, c, &r3);
            alim_scale_result_free(&r3);
        }
        c->data_dir = c->run_dir = NULL;
    }
    if (!st)
        sb_printf(&r->html, "<p class=\"meta\">Elasticity runs: %zu cells, %zu computed now, %zu reused from the "
                            "cache.</p>\n",
                  r->cells_total, r->cells_run, r->cells_reused);
    return st;
}

static alim_status section_elasticity(report *r, const cJSON *c, const char *where, const char *cache_override)
{
    elasticity_config ec;
    alim_status st = elasticity_config_read(c, where, r->quick, &ec, r->err);
    if (!st) st = section_e0(r);
    if (!st) st = lab_section(r, &ec, cache_override);
    if (!st) sb_printf(&r->html, "</section>\n");
    return st;
}

/* The whole config against the schema, for the mode (quick or not) the report runs in. */
static alim_status check_config(const cJSON *config, const char *where, int quick, alim_error *err)
{
    if (!config) return ALIM_OK;
    static const char *const keys[] = {"bottleneck", "asymptotics", "elasticity", "description", NULL};
    alim_status st = alim_json_check_keys(config, keys, where, err);
    if (st) return st;
    char w[ALIM_ERROR_WHERE_MAX];
    elasticity_config ec;
    snprintf(w, sizeof w, "%.200s: elasticity", where);
    if ((st = elasticity_config_read(cJSON_GetObjectItemCaseSensitive(config, "elasticity"), w, quick, &ec, err)))
        return st;
    asymptotics_config ac;
    snprintf(w, sizeof w, "%.200s: asymptotics", where);
    if ((st = asymptotics_config_read(cJSON_GetObjectItemCaseSensitive(config, "asymptotics"), w, 0, &ac, err)))
        return st;
    snprintf(w, sizeof w, "%.200s: bottleneck", where);
    bottleneck_config bc;
    if ((st = bottleneck_config_read(cJSON_GetObjectItemCaseSensitive(config, "bottleneck"), w, 0, &bc, err)))
        return st;
    alim_scenario s;
    snprintf(w, sizeof w, "%.200s: bottleneck.scenario", where);
    st = alim_scenario_from_json(bc.scenario_json, w, &s, err);
    if (!st) alim_scenario_free(&s);
    cJSON_Delete(bc.scenario_json);
    return st;
}

alim_status alim_report_check_config(const cJSON *config, const char *where, alim_error *err)
{
    return check_config(config, where, 0, err);
}

/* ---- the report ------------------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char css[] =
    "body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}"
    "figure{margin:1.5em 0}img{max-width:100%;height:auto;border:1px solid #eee}"
    "figcaption{font-size:.92em;color:#444}table{border-collapse:collapse;margin:1em 0;font-size:.93em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f4f4f4}"
    ".meta{color:#666;font-size:.9em}";

alim_status alim_report_run(const alim_report_options *opt, const alim_progress *progress,
                            alim_report_summary *summary, alim_error *err)
{
    const double t0 = now_seconds();
    const char *where = opt->config_name ? opt->config_name : "config";
    alim_status st = check_config(opt->config, where, opt->quick, err);
    if (st) return st;
    if (mkdir(opt->out_dir, 0777) != 0 && errno != EEXIST)
        return alim_error_set(err, ALIM_EIO, opt->out_dir, "cannot create the output directory: %s", strerror(errno));
    /* one report per directory at a time (alim/io.h); released below on every path */
    alim_dir_lock *lock;
    if ((st = alim_dir_lock_acquire(opt->out_dir, &lock, err))) return st;
    report r = {opt->out_dir, {0}, 0, 0, opt->quick, progress, err, opt->note, opt->note_ctx, 0, 0, 0, 0};
    /* a stale index.html must not pass for the result of this run */
    char *index = path_in(&r, "index.html");
    if (!index) return alim_dir_lock_release(lock), alim_error_set(err, ALIM_ENOMEM, "report", "out of memory");
    if (remove(index) != 0 && errno != ENOENT) {
        st = alim_error_set(err, ALIM_EIO, index, "cannot remove the previous report: %s", strerror(errno));
        free(index);
        alim_dir_lock_release(lock);
        return st;
    }
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    sb_printf(&r.html,
              "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
              "<title>alim report</title><style>%s</style></head><body>\n"
              "<h1>alim report: how far alignment can go, and how fast it comes undone</h1>\n"
              "<p class=\"meta\">Generated %s%s; configuration: %s. Every figure links to its SVG and to the CSV "
              "it was drawn from.</p>\n",
              css, date, opt->quick ? " (quick mode: reduced sweeps)" : "", opt->config ? where : "built-in defaults");
    const cJSON *cfg = opt->config;
    char w[ALIM_ERROR_WHERE_MAX];
    snprintf(w, sizeof w, "%.200s: bottleneck", where);
    st = section_bottleneck(&r, cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "bottleneck") : NULL, w);
    snprintf(w, sizeof w, "%.200s: asymptotics", where);
    if (!st) st = section_asymptotics(&r, cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "asymptotics") : NULL, w);
    if (!st) { /* "Beyond best-of-N" (report_bon.c) */
        char *h = NULL;
        if (!(st = alim_report_bon_section(r.dir, r.quick, &r.n_fig, &r.n_tab, &h, err))) sb_printf(&r.html, "%s", h);
        free(h);
    }
    snprintf(w, sizeof w, "%.200s: elasticity", where);
    if (!st)
        st = section_elasticity(&r, cfg ? cJSON_GetObjectItemCaseSensitive(cfg, "elasticity") : NULL, w, opt->cache_dir);
    double seconds = now_seconds() - t0;
    if (!st) {
        sb_printf(&r.html,
                  "<hr><p class=\"meta\">%d figures, %d tables, %.1f s; BLAS kernel %s. alim computes every bound "
                  "with a certified bracket; see the project's docs/ for the algorithms.</p>\n</body></html>\n",
                  r.n_fig, r.n_tab, seconds, alim_blas_corename());
        if (r.html.oom) st = alim_error_set(err, ALIM_ENOMEM, "report", "out of memory");
    }
    if (!st) {
        cJSON *meta = cJSON_CreateObject();
        cJSON_AddStringToObject(meta, "generated", date);
        cJSON_AddBoolToObject(meta, "quick", opt->quick);
        cJSON_AddNumberToObject(meta, "seconds", seconds);
        cJSON_AddNumberToObject(meta, "figures", r.n_fig);
        cJSON_AddNumberToObject(meta, "tables", r.n_tab);
        cJSON_AddStringToObject(meta, "blas_kernel", alim_blas_corename());
        cJSON *el = cJSON_AddObjectToObject(meta, "elasticity_cells");
        cJSON_AddNumberToObject(el, "total", (double)r.cells_total);
        cJSON_AddNumberToObject(el, "run", (double)r.cells_run);
        cJSON_AddNumberToObject(el, "reused", (double)r.cells_reused);
        cJSON_AddBoolToObject(el, "data_reused", r.data_reused);
        if (opt->config) cJSON_AddItemToObject(meta, "config", cJSON_Duplicate(opt->config, 1));
        char *text = cJSON_Print(meta);
        cJSON_Delete(meta);
        char *mp = path_in(&r, "report.json");
        st = (text && mp) ? alim_file_write_atomic(mp, text, strlen(text), err)
                          : alim_error_set(err, ALIM_ENOMEM, "report", "out of memory");
        free(text);
        free(mp);
    }
    /* index.html last: its presence means the report is complete */
    if (!st) st = alim_file_write_atomic(index, r.html.s, r.html.len, err);
    alim_dir_lock_release(lock);
    free(index);
    free(r.html.s);
    if (!st && summary) {
        summary->seconds = seconds;
        summary->n_figures = r.n_fig;
        summary->n_tables = r.n_tab;
        summary->cells_total = r.cells_total;
        summary->cells_run = r.cells_run;
        summary->cells_reused = r.cells_reused;
        summary->data_reused = r.data_reused;
    }
    return st;
}
