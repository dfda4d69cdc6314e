/* report_e3.c — E3 (elasticity versus scale) in the report: the configuration against the
 * spec's, and for each part (model size, pretraining tokens) the rebound rate R and E_hat
 * against the level's scale, with the criteria and verdict of the run, all from the typed
 * alim_scale_result (alim/scale.h). */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
static alim_status e3_part_figures(report *r, const alim_scale_part *part, size_t S, const char *pname, const char *verdict,
                                   int reduced)
{
    const size_t n = part->n_levels;
    if (n < 1) return alim_error_set(r->err, ALIM_EFORMAT, "E3 result", "no %s levels", pname);
    const int is_size = !strcmp(pname, "size");
    double *v = calloc(8 * n + 2 * n * (S + 1) + 8 * n, sizeof *v);
    alim_plot_series *se = calloc(2 * n + 8, sizeof *se);
    if (!v || !se) {
        free(v), free(se);
        return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    }
    double *x = v, *rm = v + n, *rs = v + 2 * n, *em = v + 3 * n, *elo = v + 4 * n, *ehi = v + 5 * n, *orc = v + 6 * n;
    double *px = v + 8 * n, *pr = px + n * (S + 1), *bars = pr + n * (S + 1); /* per-seed points; error bars */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const alim_scale_level *lv = &part->levels[i];
        x[i] = lv->value; /* parameters (size) or pretraining tokens (tokens) */
        rm[i] = lv->R_mean;
        rs[i] = lv->R_se;
        em[i] = lv->e_hat;
        elo[i] = lv->e_lo;
        ehi[i] = lv->e_hi;
        orc[i] = lv->oracle_e_hat;
    }
    alim_status st = ALIM_OK;
    const double rho[2] = {part->rho_R, part->rho_e_hat};
    for (int fig = 0; fig < 2 && !st; fig++) {
        size_t ns = 0;
        /* single seeds */
        k = 0;
        for (size_t i = 0; i < n; i++)
            for (size_t s = 0; s < S; s++) {
                px[k] = x[i];
                pr[k++] = fig ? part->levels[i].e_hat_seed[s] : part->levels[i].R[s];
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
        sb_num_or_dash(&cap, "%.3g", rho[fig]);
        sb_printf(&cap, " (the %s part, %s: PASS needs &rho; &gt; 0); <b>verdict of this run: %s</b>.%s", pname,
                  fig ? "&Ecirc;" : "R", verdict,
                  reduced ? " A reduced version of the spec's E3 (see the text)." : "");
        st = cap.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                     : report_add_figure_csv(r, name, "elasticity_e3_levels", &p, cap.s);
        free(cap.s);
    }
    free(v), free(se);
    return st;
}

/* The criteria, typed (E3's have no "why") */
static void e3_criteria_text(strbuf *b, const alim_scale_result *res)
{
    for (size_t i = 0; i < res->n_criteria; i++)
        report_criterion_text(b, i == 0, res->criteria[i].name, res->criteria[i].result, NULL);
}

alim_status report_e3(report *r, const alim_scale_config *c, const alim_scale_result *res)
{
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
    sb_size_list(&r->html, c->size_n_pos, c->size_n_pos_count);
    sb_printf(&r->html, ", n<sub>neg</sub> &isin; ");
    sb_size_list(&r->html, c->size_n_neg, c->size_n_neg_count);
    sb_printf(&r->html, "; <b>tokens</b>, one pretraining run per seed of the %d&times;%d&times;%d shape at lr %g constant, "
                        "stopped at the budgets {",
              c->layers[c->budget_model], c->dim[c->budget_model], c->heads[c->budget_model], c->budget_lr);
    for (size_t i = 0; i < c->n_budgets; i++) sb_printf(&r->html, "%s%llu", i ? ", " : "", (unsigned long long)c->budgets[i]);
    sb_printf(&r->html, "} tokens, each followed by n<sub>pos</sub> &isin; ");
    sb_size_list(&r->html, c->tok_n_pos, c->tok_n_pos_count);
    sb_printf(&r->html, ", n<sub>neg</sub> &isin; ");
    sb_size_list(&r->html, c->tok_n_neg, c->tok_n_neg_count);
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
    alim_status st = report_copy_file(r, path, "elasticity_e3_levels.csv");
    snprintf(path, sizeof path, "%s/scale.csv", c->run_dir);
    if (!st) st = report_copy_file(r, path, "elasticity_e3_scale.csv");
    if (!st && c->do_size) st = e3_part_figures(r, &res->size, res->n_seeds, "size", verdict, !spec);
    if (!st && c->do_tokens) st = e3_part_figures(r, &res->tokens, res->n_seeds, "tokens", verdict, !spec);
    if (st) return st;
    sb_printf(&r->html, "<p>Criteria (docs/elastic.md &ldquo;E3&rdquo;): ");
    e3_criteria_text(&r->html, res);
    sb_printf(&r->html,
              ". <b>Verdict of this run: %s</b> (PASS needs all four &rho; &gt; 0). Data: <a "
              "href=\"elasticity_e3_levels.csv\">per level, means over seeds (CSV)</a>, <a "
              "href=\"elasticity_e3_scale.csv\">per level and seed (CSV)</a>.</p>\n",
              verdict);
    return ALIM_OK;
}
