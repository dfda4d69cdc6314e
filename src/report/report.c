/* report.c — the HTML report: runs the engines, draws the figures, writes the tables
 * (see alim/report.h). Sections so far: the alignment bottleneck. */
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
#include "alim/info.h"
#include "alim/interval.h"
#include "alim/io.h"
#include "alim/oracle.h"
#include "alim/plot.h"
#include "alim/rdist.h"
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
static alim_status section_elasticity(report *r)
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
              "(Ji et al. 2025, Theorem 4.2). E0 checks this with the exact count-weighted learner; the transformer "
              "experiments (E1 resistance so far) are run with <code>alim elastic</code> and reported in the "
              "project's <code>docs/results.md</code>.</p>\n");
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
    if (!st) sb_printf(&r->html, "</section>\n");
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

alim_status alim_report_check_config(const cJSON *config, const char *where, alim_error *err)
{
    if (!config) return ALIM_OK;
    static const char *const keys[] = {"bottleneck", "asymptotics", "description", NULL};
    alim_status st = alim_json_check_keys(config, keys, where, err);
    if (st) return st;
    char w[ALIM_ERROR_WHERE_MAX];
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
    alim_status st = alim_report_check_config(opt->config, where, err);
    if (st) return st;
    if (mkdir(opt->out_dir, 0777) != 0 && errno != EEXIST)
        return alim_error_set(err, ALIM_EIO, opt->out_dir, "cannot create the output directory: %s", strerror(errno));
    report r = {opt->out_dir, {0}, 0, 0, opt->quick, progress, err};
    /* a stale index.html must not pass for the result of this run */
    char *index = path_in(&r, "index.html");
    if (!index) return alim_error_set(err, ALIM_ENOMEM, "report", "out of memory");
    if (remove(index) != 0 && errno != ENOENT) {
        st = alim_error_set(err, ALIM_EIO, index, "cannot remove the previous report: %s", strerror(errno));
        free(index);
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
    if (!st) st = section_elasticity(&r);
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
    free(index);
    free(r.html.s);
    if (!st && summary) {
        summary->seconds = seconds;
        summary->n_figures = r.n_fig;
        summary->n_tables = r.n_tab;
    }
    return st;
}
