/* report_e1.c — E1 (resistance) in the report: the configuration against the spec's, the
 * per-pair table and verdict from the run's typed cases, and one figure per pair of the forward
 * and inverse fine-tuning loss curves (from the run's curves.csv). */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"
#include "alim/lab.h"

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
        if ((st = report_write_csv(r, name, header, tab, T, cols))) break;
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
        if ((st = report_add_figure(r, name, &pl, caption))) break;
    }
    free(tab), free(xs), free(ys), free(pts);
    return st;
}

alim_status report_e1(report *r, const alim_resist_config *cfg, const alim_resist_result *res)
{
    const alim_resist_verdict *v = &res->verdict;
    alim_resist_config spec;
    alim_resist_config_default(&spec);
    const int is_spec = !r->quick && cfg->n_seeds >= spec.n_seeds && cfg->n_layer == spec.n_layer &&
                        cfg->n_embd == spec.n_embd && cfg->n_head == spec.n_head && cfg->context == spec.context &&
                        cfg->pretrain_tokens == spec.pretrain_tokens && cfg->sft_docs == spec.sft_docs &&
                        cfg->n_samples == spec.n_samples && cfg->sample_tokens == spec.sample_tokens;
    sb_printf(&r->html, "<h3>E1: resistance (forward versus inverse alignment)</h3>\n<p>Configuration: ");
    sb_model(&r->html, cfg->n_layer, cfg->n_embd, cfg->n_head, cfg->context, cfg->pretrain_tokens);
    sb_printf(&r->html,
              "; &theta;<sub>1</sub>, &theta;<sub>2</sub>, &theta;<sub>3</sub> after SFT on 3 slices of %zu "
              "positive (C2) documents; D<sub>k</sub> = %zu documents of up to %zu tokens sampled from "
              "&theta;<sub>k</sub>; %zu seed%s (%.0f parameters). ",
              cfg->sft_docs, cfg->n_samples, cfg->sample_tokens, cfg->n_seeds, cfg->n_seeds == 1 ? "" : "s",
              res->num_params);
    if (is_spec) sb_printf(&r->html, "This is the spec's configuration (&sect;4.5).</p>\n");
    else {
        sb_printf(&r->html, "This is a reduced version of the spec's run (&sect;4.5: ");
        sb_model(&r->html, spec.n_layer, spec.n_embd, spec.n_head, spec.context, spec.pretrain_tokens);
        sb_printf(&r->html,
                  ", 3 &times; %zu SFT documents, %zu samples, %zu seeds); run the full one with <code>alim data "
                  "synthetic --out syn &amp;&amp; alim elastic resist --data syn --run e1-syn</code>.</p>\n",
                  spec.sft_docs, spec.n_samples, spec.n_seeds);
    }
    /* per-pair table from the run's cases (means over seeds) */
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
        for (size_t q = 0; q < res->n_cases; q++) {
            const alim_resist_case *c = &res->cases[q];
            if (strcmp(c->pair, names[p]) || n >= S) continue;
            fw[n] = c->forward.mean_nats;
            iv[n] = c->inverse.mean_nats;
            gap[n] = c->gap_nats;
            gc[n] = c->gap_corrected_nats;
            lower += c->inverse_lower != 0;
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
    sb_html_escaped(&r->html, v->reason);
    sb_printf(&r->html,
              "). Data: <a href=\"elasticity_e1_summary.csv\">per pair and seed (CSV)</a>, "
              "<a href=\"elasticity_e1_curves.csv\">every step of every run (CSV)</a>.</p>\n");
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.csv", cfg->run_dir);
    alim_status st = report_copy_file(r, path, "elasticity_e1_summary.csv");
    snprintf(path, sizeof path, "%s/curves.csv", cfg->run_dir);
    if (!st) st = report_copy_file(r, path, "elasticity_e1_curves.csv");
    if (!st) st = e1_figures(r, cfg);
    return st;
}
