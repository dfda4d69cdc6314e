/* report_e4.c — E4 (the elasticity coefficient) in the report, computed from E2's cells without
 * new training: the table and JSON of the analysis, E_hat per n_pos against k and the oracle,
 * and the figure of the rate changes against l with their fits. The numbers come from the
 * typed alim_coefficient_analysis (alim/coefficient.h); its JSON is only written out. */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/coefficient.h"
#include "alim/io.h"

/* the analysis as JSON in the report directory */
#define ANALYSIS "elasticity_e4_coefficient.json"

/* The criteria, typed */
static void e4_criteria_text(strbuf *b, const alim_coefficient_analysis *an)
{
    for (size_t i = 0; i < an->n_criteria; i++)
        report_criterion_text(b, i == 0, an->criteria[i].name, an->criteria[i].result, an->criteria[i].why);
}

alim_status report_e4(report *r, const elasticity_config *ec, const alim_rebound_config *c, const alim_rebound_result *rr,
                      const char *data_dir)
{
    const size_t P = c->n_pos_count;
    size_t nneg[ALIM_REBOUND_MAX_GRID], N = 0;
    for (size_t j = 0; j < c->n_neg_count; j++)
        if (c->n_neg[j] > 0 && c->n_neg[j] <= ec->e4_max_n_neg) nneg[N++] = c->n_neg[j];
    /* |D_p| and the data's shares, from the rebound run's typed evaluations; without shares
     * the analysis has no oracle column, as in alim elastic coefficient */
    const alim_rebound_evaluations *ev = &rr->evaluations;
    const double pre = ev->pretrain_tokens, *q = ev->shares;
    if (!(pre > 0)) {
        char where[ALIM_ERROR_WHERE_MAX];
        snprintf(where, sizeof where, "%.200s/summary.json", c->run_dir);
        return alim_error_set(r->err, ALIM_EFORMAT, where, "\"config\".\"pretrain\".\"tokens\" missing or not positive");
    }
    double a_tok[ALIM_REBOUND_MAX_GRID];
    alim_coefficient_analysis an; /* the numbers drawn; out: the same analysis as JSON, written as a file */
    cJSON *out = NULL;
    alim_status st = alim_coefficient_alignment_tokens(ev, data_dir, c->n_pos, P, a_tok, r->err);
    if (!st)
        st = alim_coefficient_analyse(ev, c->n_pos, P, nneg, N, pre, a_tok, isfinite(q[0]) ? q : NULL, ec->e4_boot, 1, &an, &out,
                                      r->err);
    if (st) return st;
    const alim_coefficient_estimate *est = an.est;
    const double *oracle = an.oracle_e_hat;
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
        st = report_write_csv(r, "elasticity_e4_coefficient",
                              "n_pos,a_tokens,k,n_neg,l,dgamma_p_bits_mean,dgamma_p_bits_se,dgamma_a_bits_mean,dgamma_a_bits_se,hooke,"
                              "slope_p_bits_per_l,slope_a_bits_per_l,e_hat,e_hat_lo95,e_hat_hi95,e_hat_over_k,oracle_e_hat",
                              tab, P * N, COLS);
    if (!st) {
        /* the analysis as JSON next to it (per-seed changes, criteria) */
        char *text = alim_json_print(out, 1);
        char *p = report_path(r, ANALYSIS);
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
            sb_num_or_dash(&r->html, "%.3g", est[i].e_hat);
            sb_printf(&r->html, " [");
            sb_num_or_dash(&r->html, "%.3g", est[i].e_lo);
            sb_printf(&r->html, ", ");
            sb_num_or_dash(&r->html, "%.3g", est[i].e_hi);
            sb_printf(&r->html, "]</td><td>");
            sb_num_or_dash(&r->html, "%.3g", est[i].hooke_fit);
            sb_printf(&r->html, "</td><td>");
            sb_num_or_dash(&r->html, "%.3g", oracle[i]);
            sb_printf(&r->html, "</td><td>%s</td></tr>\n", est[i].signs_ok ? "as the theorem says" : "not as the theorem says");
        }
        sb_printf(&r->html, "</table>\n");
        alim_plot p = {"E4: rate changes under negative fine-tuning",
                       "perturbation size l = n_neg / n_pos (log scale)",
                       "change of bits/token from n_neg = 0", 1, 0, zx[0], zx[1], NAN, NAN, se, ns, 4, 0, 0};
        sb_printf(&cap,
                  "&Delta;&gamma;<sub>a</sub> (solid fits) and &Delta;&gamma;<sub>p</sub> (dashed fits) against l, one "
                  "colour per n<sub>pos</sub>, for n<sub>neg</sub> &isin; ");
        sb_size_list(&cap, nneg, N);
        sb_printf(&cap,
                  "; points are the means over %zu seed%s%s, lines the least-squares fits through the origin "
                  "(&Delta;&gamma; = slope &times; l, curved on the log axis). ",
                  est[0].n_seeds, est[0].n_seeds == 1 ? "" : "s", est[0].n_seeds > 1 ? " &plusmn; 1 SE" : "");
        for (size_t i = 0; i < P; i++) {
            sb_printf(&cap, "n<sub>pos</sub> = %zu (k = %.3g): &Ecirc; = ", c->n_pos[i], est[i].k);
            sb_num_or_dash(&cap, "%.3g", est[i].e_hat);
            if (isfinite(est[i].e_lo)) sb_printf(&cap, " [%.3g, %.3g]", est[i].e_lo, est[i].e_hi);
            sb_printf(&cap, ", &Ecirc;/k = ");
            sb_num_or_dash(&cap, "%.3g", est[i].hooke_fit);
            sb_printf(&cap, ", oracle &Ecirc; = ");
            sb_num_or_dash(&cap, "%.3g", oracle[i]);
            sb_printf(&cap, "%s", i + 1 < P ? "; " : ". ");
        }
        sb_printf(&cap, "Criteria (docs/elastic.md &ldquo;E4&rdquo;): ");
        e4_criteria_text(&cap, &an);
        sb_printf(&cap, "; <b>verdict of this analysis: %s</b>. <a href=\"" ANALYSIS "\">The analysis with the "
                        "per-seed changes (JSON)</a>.",
                  an.verdict);
        st = cap.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                     : report_add_figure(r, "elasticity_e4_coefficient", &p, cap.s);
    }
    free(cap.s);
    free(tab), free(fx), free(fy), free(bars), free(se), free(labels);
    cJSON_Delete(out);
    return st;
}
