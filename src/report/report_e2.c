/* report_e2.c — E2 (rebound) in the report: the configuration against the spec's, the
 * behaviour score and the KL to theta0 against n_neg (one line per n_pos) and the table of the
 * spec's five criteria. */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/rebound.h"

alim_status report_e2(report *r, const alim_rebound_config *cfg, const alim_rebound_result *res, int theta0_from_e1)
{
    const size_t P = cfg->n_pos_count, N = cfg->n_neg_count, S = cfg->n_seeds;
    /* the run's typed results (alim/rebound.h), set by the rank that wrote its summary */
    if (!res->grid || !res->labels || res->n_pos_count != P || res->n_neg_count != N)
        return alim_error_set(r->err, ALIM_EINVAL, cfg->run_dir, "E2's result holds no grid of %zu x %zu", P, N);
    const char *classified_by = res->labels; /* how the samples were labelled */
    const alim_rebound_criteria *cr = &res->criteria;
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
    sb_model(&r->html, cfg->n_layer, cfg->n_embd, cfg->n_head, cfg->context, cfg->pretrain_tokens);
    sb_printf(&r->html, "%s; n<sub>pos</sub> &isin; ", theta0_from_e1 ? " (the same &theta;<sub>0</sub> as E1)" : "");
    sb_size_list(&r->html, cfg->n_pos, P);
    sb_printf(&r->html, ", n<sub>neg</sub> &isin; ");
    sb_size_list(&r->html, cfg->n_neg, N);
    sb_printf(&r->html, "; %zu samples of up to %zu tokens per evaluation; %zu seed%s. ", cfg->n_samples,
              cfg->sample_tokens, S, S == 1 ? "" : "s");
    if (is_spec) sb_printf(&r->html, "This is the spec's configuration (&sect;4.6).</p>\n");
    else {
        sb_printf(&r->html, "This is a reduced version of the spec's run (&sect;4.6: %zu seeds, n<sub>pos</sub> &isin; ",
                  spec.n_seeds);
        sb_size_list(&r->html, spec.n_pos, spec.n_pos_count);
        sb_printf(&r->html, ", n<sub>neg</sub> &isin; ");
        sb_size_list(&r->html, spec.n_neg, spec.n_neg_count);
        sb_printf(&r->html,
                  ", %zu samples); run the full one with <code>alim data synthetic "
                  "--out syn &amp;&amp; alim elastic rebound --data syn --run e2-syn</code>.</p>\n",
                  spec.n_samples);
    }
    /* the grid's seed means and SEs, laid out for the figures */
    double *buf = calloc(13 * P * N + 8, sizeof *buf);
    alim_plot_series *se = calloc(2 * P * N + P + 4, sizeof *se);
    char(*labels)[64] = calloc(P, sizeof *labels);
    if (!buf || !se || !labels) {
        free(buf), free(se), free(labels);
        return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    }
    double *xn = buf, *score = buf + P * N, *score_se = score + P * N, *kl = score_se + P * N, *kl_se = kl + P * N;
    double *bars = kl_se + P * N; /* 4 per grid point and figure: x, x, lo, hi (8 P N in all) */
    for (size_t j = 0; j < N; j++) xn[j] = (double)cfg->n_neg[j];
    for (size_t q = 0; q < P * N; q++) {
        const alim_rebound_row *g = &res->grid[q];
        score[q] = g->mean[ALIM_REBOUND_SCORE], score_se[q] = g->se[ALIM_REBOUND_SCORE];
        kl[q] = g->mean[ALIM_REBOUND_KL_TO_BASE_NATS], kl_se[q] = g->se[ALIM_REBOUND_KL_TO_BASE_NATS];
    }
    double bx[2] = {xn[0], xn[N - 1]}, by[2];
    by[0] = by[1] = res->baseline.mean[ALIM_REBOUND_SCORE];
    double ex[2] = {xn[0], xn[N - 1]}, ey[2] = {cfg->epsilon_nats, cfg->epsilon_nats};
    char path[4200];
    snprintf(path, sizeof path, "%s/grid.csv", cfg->run_dir);
    alim_status st = report_copy_file(r, path, "elasticity_e2_grid.csv");
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
                      cfg->n_samples, classified_by, S > 1 ? ", bars &plusmn; 1 SE over the seeds" : " (one seed: no error bars)");
            const char *res5[5] = {cr->a, cr->b, cr->c, cr->d, cr->e};
            for (int k = 0; k < 5; k++) sb_printf(&cap, "%s(%c) %s", k ? ", " : "", 'a' + k, res5[k]);
            sb_printf(&cap, "; <b>verdict of this run: %s</b> (table below).", cr->verdict);
            st = cap.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                         : report_add_figure_csv(r, "elasticity_e2_score", "elasticity_e2_grid", &p, cap.s);
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
            for (size_t i = 0; i < P; i++) {
                const double nstar = res->n_star[i];
                sb_printf(&cap, "%sn<sub>pos</sub> = %zu: ", i ? ", " : "", cfg->n_pos[i]);
                if (isfinite(nstar)) sb_printf(&cap, "%.3g", nstar);
                else sb_printf(&cap, "not reached");
            }
            sb_printf(&cap, ".");
            st = cap.oom ? alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory")
                         : report_add_figure_csv(r, "elasticity_e2_kl", "elasticity_e2_grid", &p, cap.s);
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
        sb_html_escaped(&r->html, cr->why[k]);
        sb_printf(&r->html, "</td></tr>\n");
    }
    sb_printf(&r->html,
              "</table>\n<p><b>Verdict of this run: %s</b> (PASS needs all five). Data: "
              "<a href=\"elasticity_e2_grid.csv\">the grid, means and SEs over seeds (CSV)</a>.</p>\n",
              cr->verdict);
    return ALIM_OK;
}
