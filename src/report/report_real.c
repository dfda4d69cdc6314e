/* report_real.c — the real-model elasticity study (docs/real-elasticity.md) in the report, drawn
 * from a finished (or running) study directory, the OUT of scripts/reproduce-real.sh: nothing is
 * trained, sampled or re-analysed. What is there is drawn, what is not is named on the page:
 * the header (theta0, precision, C0's learning rate, theta0's jargon rate, the classifier,
 * wall times), E1 (forward against inverse losses per pair and seed, the sign test), E2 and its
 * control (score, KL to theta0, gamma_p and gamma_a against n_neg per n_pos, criteria) and E4
 * (E_hat per n_pos for the main and the control cells). */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alim/io.h"
#include "alim/lab.h"

#define NOMEM(r) alim_error_set((r)->err, ALIM_ENOMEM, "report", "out of memory")

alim_status report_real_config_read(const cJSON *c, const char *where, const char **run, alim_error *err)
{
    *run = NULL;
    if (!c) return ALIM_OK;
    if (!cJSON_IsObject(c)) return alim_error_set(err, ALIM_EINVAL, where, "must be an object {\"run\": DIR}");
    static const char *const keys[] = {"run", NULL};
    alim_status st = alim_json_check_keys(c, keys, where, err);
    if (st) return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, "run");
    if (!cJSON_IsString(v) || !v->valuestring || !*v->valuestring)
        return alim_error_set(err, ALIM_EINVAL, where, "\"run\" must be the study directory (a non-empty string)");
    *run = v->valuestring;
    return ALIM_OK;
}

/* run/name, or NULL when out of memory */
static char *join(const char *run, const char *name)
{
    size_t n = strlen(run) + strlen(name) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", run, name);
    return p;
}

static int file_there(const char *run, const char *name)
{
    char *p = join(run, name);
    struct stat sb;
    int ok = p && stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
    free(p);
    return ok;
}

alim_status report_real_check(const char *run, alim_error *err)
{
    struct stat sb;
    if (stat(run, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return alim_error_set(err, ALIM_EINVAL, run, "no such study directory (\"real\": {\"run\": DIR})");
    if (!file_there(run, "e1/summary.json") && !file_there(run, "e2/summary.json"))
        return alim_error_set(err, ALIM_EINVAL, run, "neither e1/summary.json nor e2/summary.json is there yet: nothing to draw");
    return ALIM_OK;
}

/* run/name parsed into *out, NULL (and ALIM_OK) when the file is not there yet */
static alim_status load_json(report *r, const char *run, const char *name, cJSON **out)
{
    *out = NULL;
    if (!file_there(run, name)) return ALIM_OK;
    char *p = join(run, name);
    if (!p) return NOMEM(r);
    alim_status st = alim_json_read_file(p, out, r->err);
    free(p);
    return st;
}

static char *load_text(const char *run, const char *name)
{
    if (!file_there(run, name)) return NULL;
    char *p = join(run, name), *buf = NULL;
    size_t len;
    alim_error e;
    if (p && alim_file_read_all(p, &buf, &len, &e)) buf = NULL;
    free(p);
    return buf;
}

/* before, then v with fmt (an en dash when not finite) */
static void pn(strbuf *b, const char *before, const char *fmt, double v)
{
    sb_printf(b, "%s", before);
    sb_num_or_dash(b, fmt, v);
}

static const cJSON *obj(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }
static double num(const cJSON *o, const char *key) { return alim_lab_json_num(o, key); }

/* "name RESULT, ..." (with_why: "name RESULT (why); ...") from a criteria object whose members
 * are {"result", "why"} or strings; whatever is missing is a "?", never an error */
static void criteria_results(strbuf *b, const cJSON *cr, int with_why)
{
    const cJSON *c;
    int first = 1;
    cJSON_ArrayForEach(c, cr) {
        const cJSON *res = cJSON_IsString(c) ? c : obj(c, "result"), *why = obj(c, "why");
        sb_printf(b, "%s", first ? "" : with_why ? "; " : ", ");
        sb_html_escaped(b, c->string ? c->string : "?");
        sb_printf(b, " ");
        sb_html_escaped(b, cJSON_IsString(res) ? res->valuestring : "?");
        if (with_why && cJSON_IsString(why)) {
            sb_printf(b, " (");
            sb_html_escaped(b, why->valuestring);
            sb_printf(b, ")");
        }
        first = 0;
    }
    if (first) sb_printf(b, "(no criteria in the summary)");
}

static const char *verdict_of(const cJSON *s)
{
    const cJSON *v = obj(s, "verdict");
    return cJSON_IsString(v) ? v->valuestring : "(no verdict in the summary)";
}

/* ---- the header ---------------------------------------------------------------------------- */

static void header(report *r, const char *run, const cJSON *e1, const cJSON *e2, strbuf *missing)
{
    strbuf *h = &r->html;
    const cJSON *sum = e2 ? e2 : e1, *cfg = obj(sum, "config"), *t0 = obj(cfg, "theta0");
    const cJSON *model = obj(sum, "theta0_model");
    sb_printf(h, "<p><b>&theta;<sub>0</sub></b>: ");
    if (cJSON_IsString(model)) {
        sb_printf(h, "<code>");
        sb_html_escaped(h, model->valuestring);
        sb_printf(h, "</code>");
    } else sb_printf(h, "(model file not in the summary)");
    double np_ = num(t0, "num_params");
    if (!isfinite(np_)) np_ = num(sum, "num_params");
    pn(h, ", ", "%.0f", np_);
    sb_printf(h, " parameters");
    const cJSON *arch = obj(t0, "architecture");
    if (cJSON_IsString(arch))
        sb_printf(h, " (%s, %.0f blocks, width %.0f)", arch->valuestring, num(t0, "n_layer"), num(t0, "n_embd"));
    const cJSON *prec = obj(cfg, "precision"), *isa = obj(cfg, "bf16_isa");
    sb_printf(h, "; precision %s", cJSON_IsString(prec) ? prec->valuestring : "fp32");
    if (cJSON_IsString(isa)) sb_printf(h, " (%s)", isa->valuestring);
    sb_printf(h, "; learning rate ");
    char *lr = load_text(run, "lr.txt");
    if (lr) {
        lr[strcspn(lr, "\r\n")] = 0;
        sb_html_escaped(h, lr);
        sb_printf(h, " (C0, <code>lr.txt</code>)");
    } else {
        sb_printf(h, "not chosen yet (no <code>lr.txt</code>)");
        sb_printf(missing, "<li><code>lr.txt</code> (C0's learning rate)</li>");
    }
    double slr = num(obj(cfg, "sft"), "lr");
    if (isfinite(slr)) sb_printf(h, ", %g in the runs' configuration", slr);
    free(lr);
    sb_printf(h, ".</p>\n<p><b>C0</b> (the smallest learning rate whose &theta;<sub>pos</sub> at n<sub>pos</sub> = 400 "
                 "has a positive rate &ge; 0.5): ");
    char *c0 = load_text(run, "c0.txt");
    if (c0) {
        sb_printf(h, "<code>");
        for (char *s = c0; *s; s++) {
            if (*s == '\n' && s[1]) sb_printf(h, "</code>; <code>");
            else if (*s != '\n') sb_html_escaped(h, (char[2]){*s, 0});
        }
        sb_printf(h, "</code>.");
    } else {
        sb_printf(h, "not run yet.");
        sb_printf(missing, "<li><code>c0.txt</code> (the calibration C0)</li>");
    }
    free(c0);
    cJSON *check = NULL, *man = NULL;
    for (int k = 0; k < 2; k++) /* a damaged file here is named, not fatal: the results are what matters */
        if (load_json(r, run, k ? "beh/manifest.json" : "check.json", k ? &man : &check)) {
            sb_printf(h, " (could not read ");
            sb_html_escaped(h, r->err->where);
            sb_printf(h, ": ");
            sb_html_escaped(h, r->err->what);
            sb_printf(h, ")");
            alim_error_clear(r->err);
        }
    sb_printf(h, "</p>\n<p><b>&theta;<sub>0</sub>'s replies</b> (&sect;2.3's rule, <code>check.json</code>): ");
    if (check) {
        const cJSON *cls = obj(check, "classes"), *fr = obj(check, "fraction"), *c;
        int i = 0;
        cJSON_ArrayForEach(c, cls) {
            const cJSON *f = cJSON_GetArrayItem(fr, i++);
            if (!cJSON_IsString(c)) continue;
            const int jar = !strcmp(c->valuestring, "jargon");
            sb_printf(h, "%s%s", i > 1 ? ", " : "", jar ? "<b>" : "");
            sb_html_escaped(h, c->valuestring);
            pn(h, " ", "%.3f", cJSON_IsNumber(f) ? f->valuedouble : NAN);
            sb_printf(h, "%s", jar ? "</b>" : "");
        }
        sb_printf(h, " of %.0f replies (more than 0.1 jargon adds the class &ldquo;theta0&rdquo;). ", num(check, "n_docs"));
    } else {
        sb_printf(h, "not classified yet. ");
        sb_printf(missing, "<li><code>check.json</code> (&theta;<sub>0</sub>'s jargon rate)</li>");
    }
    const cJSON *cl = obj(man, "classifier");
    sb_printf(h, "<b>Classifier</b> (<code>beh/manifest.json</code>): ");
    if (cl) {
        pn(h, "accuracy ", "%.4f", num(cl, "accuracy"));
        sb_printf(h, " on its eval split (");
        const cJSON *names = obj(cl, "classes"), *acc = obj(cl, "accuracy_per_class"), *c;
        int i = 0;
        cJSON_ArrayForEach(c, names) {
            const cJSON *a = cJSON_GetArrayItem(acc, i++);
            sb_printf(h, "%s", i > 1 ? ", " : "");
            if (cJSON_IsString(c)) sb_html_escaped(h, c->valuestring);
            pn(h, " ", "%.3f", cJSON_IsNumber(a) ? a->valuedouble : NAN);
        }
        const cJSON *ex = obj(obj(cl, "extra_class"), "name");
        sb_printf(h, "); fifth class: ");
        if (cJSON_IsString(ex)) sb_html_escaped(h, ex->valuestring);
        else sb_printf(h, "none (the four-class classifier)");
        sb_printf(h, ".</p>\n");
    } else {
        sb_printf(h, "not built yet.</p>\n");
        sb_printf(missing, "<li><code>beh/manifest.json</code> (the behaviour data)</li>");
    }
    cJSON_Delete(check);
    cJSON_Delete(man);
    /* wall times: "name N s" per step */
    sb_printf(h, "<p><b>Wall times</b> (<code>times.txt</code>): ");
    char *tm = load_text(run, "times.txt");
    if (tm) {
        double total = 0;
        int first = 1;
        char *save = NULL;
        for (char *l = strtok_r(tm, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
            char name[128];
            double s;
            if (sscanf(l, "%127s %lf", name, &s) != 2) continue;
            sb_printf(h, "%s", first ? "" : ", ");
            sb_html_escaped(h, name);
            sb_printf(h, " %.0f s", s);
            total += s, first = 0;
        }
        sb_printf(h, "; %.0f s (%.2f h) in all so far.", total, total / 3600);
    } else {
        sb_printf(h, "none recorded yet.");
        sb_printf(missing, "<li><code>times.txt</code> (the steps' wall times)</li>");
    }
    free(tm);
    sb_printf(h, "</p>\n");
}

/* ---- E2 ------------------------------------------------------------------------------------ */

enum { F_SEEDS, F_SCORE, F_SCORE_SE, F_POS, F_NEG, F_KL, F_KL_SE, F_GP, F_GP_SE, F_GA, F_GA_SE, NF, MAXG = 32 };
static const char *const fkey[NF] = {"seeds", "score_mean", "score_se", "positive_rate_mean", "negative_rate_mean",
                                     "kl_to_base_nats_mean", "kl_to_base_nats_se", "gamma_mix_bits_mean", "gamma_mix_bits_se",
                                     "gamma_c2_bits_mean", "gamma_c2_bits_se"};

typedef struct {
    size_t P, N;
    double npos[MAXG], nneg[MAXG];
    double v[2][MAXG * MAXG][NF]; /* [main, control][i * N + j][field] */
    double base[NF];
    int has_ctl;
} e2grid;

static void add_sorted(double *a, size_t *n, double x)
{
    size_t i = 0;
    if (!isfinite(x)) return;
    while (i < *n && a[i] < x) i++;
    if ((i < *n && a[i] == x) || *n >= MAXG) return;
    memmove(a + i + 1, a + i, (*n - i) * sizeof *a);
    a[i] = x, (*n)++;
}

static void e2_read(const cJSON *sm, e2grid *g)
{
    memset(g, 0, sizeof *g);
    static const char *const rows[2] = {"grid", "control_grid"};
    const cJSON *row;
    for (int k = 0; k < 2; k++)
        cJSON_ArrayForEach(row, obj(sm, rows[k])) {
            add_sorted(g->npos, &g->P, num(row, "n_pos"));
            add_sorted(g->nneg, &g->N, num(row, "n_neg"));
        }
    for (int k = 0; k < 2; k++)
        for (size_t q = 0; q < MAXG * MAXG; q++)
            for (int f = 0; f < NF; f++) g->v[k][q][f] = NAN;
    for (int k = 0; k < 2; k++)
        cJSON_ArrayForEach(row, obj(sm, rows[k])) {
            size_t i = 0, j = 0;
            while (i < g->P && g->npos[i] != num(row, "n_pos")) i++;
            while (j < g->N && g->nneg[j] != num(row, "n_neg")) j++;
            if (i == g->P || j == g->N) continue;
            for (int f = 0; f < NF; f++) g->v[k][i * g->N + j][f] = num(row, fkey[f]);
            g->has_ctl |= k;
        }
    for (int f = 0; f < NF; f++) g->base[f] = num(obj(sm, "baseline"), fkey[f]);
}

/* field f (its SE in fse, or -1) against n_neg, one colour per n_pos; runs: 1 main, 2 control,
 * 3 both (control dashed); logy 1 log axis, 0 linear, -1 linear on [-1, 1] (scores); a dashed
 * line at href unless NaN */
static alim_status e2_figure(report *r, const e2grid *g, const char *name, const char *title, const char *ylabel, int f,
                             int fse, int runs, int logy, double href, const char *hlabel, const char *caption)
{
    const size_t P = g->P, N = g->N;
    size_t usable = 0;
    for (int k = 0; k < 2; k++)
        for (size_t q = 0; q < P * N && (runs & (1 << k)); q++)
            usable += isfinite(g->v[k][q][f]) && (logy <= 0 || g->v[k][q][f] > 0);
    if (!usable) { /* keys absent from the summary: said, not fatal */
        sb_printf(&r->html, "<p>(<code>%s</code> is not drawn: the summary has no usable <code>%s</code>.)</p>\n", name, fkey[f]);
        return ALIM_OK;
    }
    double *ys = malloc(2 * P * N * sizeof *ys), *bars = malloc(2 * P * N * 4 * sizeof *bars);
    alim_plot_series *se = calloc(2 * P * N + 2 * P + 2, sizeof *se);
    char(*labels)[64] = calloc(2 * P, sizeof *labels);
    if (!ys || !bars || !se || !labels) {
        free(ys), free(bars), free(se), free(labels);
        return NOMEM(r);
    }
    size_t ns = 0, nb = 0;
    for (int k = 0; k < 2; k++) {
        if (!(runs & (1 << k))) continue;
        for (size_t i = 0; i < P; i++) {
            double *y = ys + (k * P + i) * N;
            for (size_t j = 0; j < N; j++) {
                y[j] = g->v[k][i * N + j][f];
                const double s = fse >= 0 ? g->v[k][i * N + j][fse] : NAN;
                if (!isfinite(y[j]) || !(s > 0) || !isfinite(s)) continue;
                double *b = bars + 4 * nb++;
                b[0] = b[1] = g->nneg[j], b[2] = y[j] - s, b[3] = y[j] + s;
                se[ns++] = (alim_plot_series){b, b + 2, 2, NULL, ALIM_PLOT_LINE, (int)i};
            }
            snprintf(labels[k * P + i], sizeof labels[0], "n_pos = %.0f%s", g->npos[i], k && runs == 3 ? ", control" : "");
            se[ns++] = (alim_plot_series){g->nneg, y, N, labels[k * P + i],
                                          k && runs == 3 ? ALIM_PLOT_DASHED : ALIM_PLOT_LINE_POINTS, (int)i};
        }
    }
    double hx[2] = {g->nneg[0], g->nneg[N - 1]}, hy[2] = {href, href};
    if (isfinite(href)) se[ns++] = (alim_plot_series){hx, hy, 2, hlabel, ALIM_PLOT_DASHED, 7};
    const double y0 = logy < 0 ? -1.05 : NAN, y1 = logy < 0 ? 1.05 : NAN; /* logy -1: a score, on [-1, 1] */
    alim_plot p = {title, "negative records fine-tuned on, n_neg", ylabel, 0, logy > 0, NAN, NAN, y0, y1, se, ns,
                   ns - nb > 4 ? 4 : 0, 0, 0};
    alim_status st = report_add_figure_csv(r, name, "real_e2_grid", &p, caption);
    free(ys), free(bars), free(se), free(labels);
    return st;
}

static alim_status real_e2(report *r, const char *run, const cJSON *sm, strbuf *missing)
{
    strbuf *h = &r->html;
    e2grid *g = malloc(sizeof *g);
    if (!g) return NOMEM(r);
    e2_read(sm, g);
    const size_t P = g->P, N = g->N;
    const double S = num(sm, "seeds"), eps = num(sm, "epsilon_nats");
    sb_printf(h, "<h3>E2: rebound, with the never-pretrained control (&sect;5)</h3>\n<p>From <code>e2/summary.json</code>: "
                 "&theta;<sub>pos</sub> after n<sub>pos</sub> &isin; {");
    for (size_t i = 0; i < P; i++) sb_printf(h, "%s%.0f", i ? ", " : "", g->npos[i]);
    sb_printf(h, "} positive (c2, KJV) records, then n<sub>neg</sub> &isin; {");
    for (size_t j = 0; j < N; j++) sb_printf(h, "%s%.0f", j ? ", " : "", g->nneg[j]);
    sb_printf(h, "} negative records: c3 (the Jargon File) in the main run, c4 (its letter-substituted copy, in no "
                 "pretraining corpus) in the control; %.0f seed%s, %.0f samples per evaluation, ",
              S, S == 1 ? "" : "s", num(obj(obj(sm, "config"), "samples"), "n"));
    sb_num_or_dash(h, "%.0f", num(sm, "wall_s"));
    sb_printf(h, " s wall time.%s</p>\n",
              g->has_ctl ? "" : " <b>The control is not there yet</b> (the summary has no <code>control_grid</code>).");
    if (!g->has_ctl) sb_printf(missing, "<li>E2's control (no <code>control_grid</code> in <code>e2/summary.json</code>)</li>");
    alim_status st = ALIM_OK;
    if (P == 0 || N == 0) {
        sb_printf(h, "<p>The summary has no grid rows.</p>\n");
        free(g);
        return ALIM_OK;
    }
    /* the CSV of every figure: row 0 theta0, 1 main, 2 control */
    double *tab = malloc((1 + 2 * P * N) * 14 * sizeof *tab);
    if (!tab) return free(g), NOMEM(r);
    size_t nr = 0;
    for (int k = -1; k < 2; k++)
        for (size_t q = 0; q < (k < 0 ? 1 : P * N); q++) {
            if (k == 1 && !g->has_ctl) break;
            const double *v = k < 0 ? g->base : g->v[k][q];
            double row[14] = {(double)(k + 1), k < 0 ? 0 : g->npos[q / N], k < 0 ? 0 : g->nneg[q % N], v[F_SEEDS],
                              v[F_SCORE], v[F_SCORE_SE], v[F_POS], v[F_NEG], v[F_KL], v[F_KL_SE], v[F_GP], v[F_GP_SE],
                              v[F_GA], v[F_GA_SE]};
            memcpy(tab + 14 * nr++, row, sizeof row);
        }
    st = report_write_csv(r, "real_e2_grid",
                          "row,n_pos,n_neg,seeds,score_mean,score_se,positive_rate_mean,negative_rate_mean,"
                          "kl_to_base_nats_mean,kl_to_base_nats_se,gamma_p_bits_mean,gamma_p_bits_se,gamma_a_bits_mean,"
                          "gamma_a_bits_se",
                          tab, nr, 14);
    free(tab);
    char *gp = join(run, "e2/grid.csv");
    if (!gp) st = st ? st : NOMEM(r);
    else if (!st && file_there(run, "e2/grid.csv")) st = report_copy_file(r, gp, "real_e2_grid_run.csv");
    free(gp);
    const cJSON *cr = obj(sm, "criteria");
    strbuf cap = {0};
    const int runs = g->has_ctl ? 3 : 1;
    const char *bars = S > 1 ? "bars &plusmn; 1 SE over the seeds" : "one seed: no error bars";
    for (int fig = 0; fig < 5 && !st; fig++) {
        cap.len = 0;
        if (cap.s) cap.s[0] = 0;
        if (fig == 0 || fig == 1) {
            if (fig == 1 && !g->has_ctl) continue;
            sb_printf(&cap, "Behaviour score = positive rate &minus; negative rate of the replies to the held-out prompts "
                            "(positive: classified c2; negative: c%d) against n<sub>neg</sub>, %s run, one line per "
                            "n<sub>pos</sub>, %s, the axis [&minus;1, 1] in both runs; %s. Criteria (&sect;5): ",
                      fig ? 4 : 3, fig ? "the control" : "the main", bars,
                      fig ? "&theta;<sub>0</sub> is scored with c3 as the negative class only, so its score is not drawn here"
                          : "&theta;<sub>0</sub>'s score dashed");
            criteria_results(&cap, cr, 0);
            sb_printf(&cap, "; <b>verdict of E2: %s</b>.", verdict_of(sm));
            st = cap.oom ? NOMEM(r)
                         : e2_figure(r, g, fig ? "real_e2_score_control" : "real_e2_score",
                                     fig ? "E2 control (c4 negatives): behaviour score" : "E2 (c3 negatives): behaviour score",
                                     "score = positive rate - negative rate", F_SCORE, F_SCORE_SE, fig ? 2 : 1, -1,
                                     fig ? NAN : g->base[F_SCORE], "theta0", cap.s);
        } else if (fig == 2) {
            sb_printf(&cap, "KL(model &Vert; &theta;<sub>0</sub>) per response position of D<sub>0</sub> (&theta;<sub>0</sub>'s "
                            "own replies), nats, log scale, against n<sub>neg</sub>; main run solid%s, %s; &epsilon; = ",
                      g->has_ctl ? ", control dashed" : "", bars);
            sb_num_or_dash(&cap, "%g", eps);
            sb_printf(&cap, " nats dashed. n*(&epsilon;), the first n<sub>neg</sub> with the seed-mean KL below &epsilon; "
                            "(main run): ");
            const cJSON *o;
            int first = 1;
            cJSON_ArrayForEach(o, obj(sm, "n_star")) {
                sb_printf(&cap, "%sn<sub>pos</sub> = %.0f: ", first ? "" : ", ", num(o, "n_pos"));
                if (isfinite(num(o, "n_star"))) sb_printf(&cap, "%.3g", num(o, "n_star"));
                else sb_printf(&cap, "not reached");
                pn(&cap, " (KL after alignment ", "%.3g", num(o, "kl_after_alignment_nats"));
                sb_printf(&cap, ")");
                first = 0;
            }
            if (first) sb_printf(&cap, "not in the summary");
            sb_printf(&cap, ".");
            st = cap.oom ? NOMEM(r)
                         : e2_figure(r, g, "real_e2_kl", "E2: KL to theta0", "KL(model || theta0) per token (nats)", F_KL,
                                     F_KL_SE, runs, 1, eps, "epsilon", cap.s);
        } else {
            const int a = fig == 4;
            sb_printf(&cap, "%s against n<sub>neg</sub>; main run solid%s, %s; &theta;<sub>0</sub>'s value dashed. "
                            "Criterion (d) wants |&gamma;<sub>p</sub> &minus; &gamma;<sub>p</sub>(&theta;<sub>0</sub>)| "
                            "smaller at the last n<sub>neg</sub> than at 0 and &gamma;<sub>a</sub> higher; (e) wants the "
                            "control's |&gamma;<sub>p</sub> &minus; &gamma;<sub>p</sub>(&theta;<sub>0</sub>)| not to shrink.",
                      a ? "&gamma;<sub>a</sub>, bits/token on the first test_c2 records (the alignment behaviour)"
                        : "&gamma;<sub>p</sub>, bits/token on D<sub>0</sub> (&theta;<sub>0</sub>'s own replies)",
                      g->has_ctl ? ", control dashed" : "", bars);
            st = cap.oom ? NOMEM(r)
                         : e2_figure(r, g, a ? "real_e2_gamma_a" : "real_e2_gamma_p",
                                     a ? "E2: gamma_a (test_c2)" : "E2: gamma_p (D_0)",
                                     a ? "gamma_a: bits/token on test_c2" : "gamma_p: bits/token on D_0", a ? F_GA : F_GP,
                                     a ? F_GA_SE : F_GP_SE, runs, 0, g->base[a ? F_GA : F_GP], "theta0", cap.s);
        }
    }
    free(cap.s);
    free(g);
    if (st) return st;
    static const char *const what[5] = {
        "score at n<sub>neg</sub> = 0 rises strictly with n<sub>pos</sub>",
        "the first drop score(0) &minus; score(first n<sub>neg</sub>) grows with n<sub>pos</sub>",
        "mean early |slope| &gt; 0 and &ge; 3 &times; the late one",
        "|&gamma;<sub>p</sub> &minus; &gamma;<sub>p</sub>(&theta;<sub>0</sub>)| shrinks and &gamma;<sub>a</sub> rises from n<sub>neg</sub> = 0 to the last",
        "the control rebounds at most half as much, and its &gamma;<sub>p</sub> does not return"};
    sb_printf(h, "<table><tr><th>criterion (&sect;5)</th><th>result</th><th>why</th></tr>\n");
    const cJSON *c;
    cJSON_ArrayForEach(c, cr) {
        const int k = c->string ? c->string[0] - 'a' : -1;
        const cJSON *res = obj(c, "result"), *why = obj(c, "why");
        sb_printf(h, "<tr><td>");
        if (k >= 0 && k < 5) sb_printf(h, "(%c) %s", 'a' + k, what[k]);
        else sb_html_escaped(h, c->string ? c->string : "?");
        sb_printf(h, "</td><td>%s</td><td>", cJSON_IsString(res) ? res->valuestring : "?");
        if (cJSON_IsString(why)) sb_html_escaped(h, why->valuestring);
        sb_printf(h, "</td></tr>\n");
    }
    sb_printf(h, "</table>\n<p><b>Verdict of E2: %s</b> (PASS needs (a)&ndash;(e)). Data: <a href=\"real_e2_grid.csv\">"
                 "the figures' numbers (CSV; row 0 &theta;<sub>0</sub>, 1 main, 2 control)</a>, "
                 "<a href=\"real_e2_grid_run.csv\">the run's grid.csv</a>.</p>\n",
              verdict_of(sm));
    return ALIM_OK;
}

/* ---- E4 ------------------------------------------------------------------------------------ */

static alim_status real_e4(report *r, const cJSON *e4[2], strbuf *missing)
{
    strbuf *h = &r->html;
    static const char *const file[2] = {"e4/coefficient.json", "e4-ctl/coefficient.json"};
    sb_printf(h, "<h3>E4: the elasticity coefficient (&sect;6), from E2's cells</h3>\n");
    for (int k = 0; k < 2; k++)
        if (!e4[k]) {
            sb_printf(h, "<p><b>%s is not there yet.</b></p>\n", k ? "The control's E4" : "E4");
            sb_printf(missing, "<li><code>%s</code> (E4%s)</li>", file[k], k ? " on the control cells" : "");
        }
    if (!e4[0] && !e4[1]) return ALIM_OK;
    sb_printf(h, "<p>&Delta;&gamma;<sub>p</sub> (D<sub>0</sub>) and &Delta;&gamma;<sub>a</sub> (test_c2) from "
                 "n<sub>neg</sub> = 0, slopes by least squares through the origin in l = n<sub>neg</sub>/n<sub>pos</sub> "
                 "(bits per unit l), &Ecirc; = &minus;slope<sub>a</sub>/slope<sub>p</sub> with its 95%% bootstrap "
                 "interval over whole seeds (with 3 seeds only 10 distinct resamples: coarse), k = "
                 "|D<sub>p</sub>|/|D<sub>a</sub>|.</p>\n<table><tr><th>cells</th><th>n<sub>pos</sub></th><th>k</th>"
                 "<th>&Ecirc; [95%% interval]</th><th>slope<sub>p</sub></th><th>slope<sub>a</sub></th><th>&Ecirc;/k</th>"
                 "<th>signs</th></tr>\n");
    double *tab = malloc(2 * MAXG * 10 * sizeof *tab);
    if (!tab) return NOMEM(r);
    size_t nr = 0;
    for (int k = 0; k < 2; k++) {
        const cJSON *row;
        cJSON_ArrayForEach(row, obj(e4[k], "per_n_pos")) {
            double v[10] = {k, num(row, "n_pos"), num(row, "a_tokens"), num(row, "k"), num(row, "e_hat"),
                            num(row, "e_hat_lo95"), num(row, "e_hat_hi95"), num(row, "slope_p_bits_per_l"),
                            num(row, "slope_a_bits_per_l"), num(row, "e_hat_over_k")};
            if (nr < 2 * MAXG) memcpy(tab + 10 * nr++, v, sizeof v);
            sb_printf(h, "<tr><td>%s</td><td>%.0f</td><td>", k ? "control (c4)" : "main (c3)", v[1]);
            sb_num_or_dash(h, "%.3g", v[3]);
            pn(h, "</td><td>", "%.3g", v[4]);
            pn(h, " [", "%.3g", v[5]);
            pn(h, ", ", "%.3g", v[6]);
            pn(h, "]</td><td>", "%.4g", v[7]);
            pn(h, "</td><td>", "%.4g", v[8]);
            pn(h, "</td><td>", "%.3g", v[9]);
            const cJSON *ok = obj(row, "signs_ok");
            sb_printf(h, "</td><td>%s</td></tr>\n",
                      !cJSON_IsBool(ok) ? "&ndash;" : cJSON_IsTrue(ok) ? "as the theorem says" : "not as the theorem says");
        }
    }
    sb_printf(h, "</table>\n");
    alim_status st = report_write_csv(r, "real_e4",
                                      "control,n_pos,a_tokens,k,e_hat,e_hat_lo95,e_hat_hi95,slope_p_bits_per_l,"
                                      "slope_a_bits_per_l,e_hat_over_k",
                                      tab, nr, 10);
    free(tab);
    for (int k = 0; k < 2 && !st; k++) {
        if (!e4[k]) continue;
        sb_printf(h, "<p>%s: ", k ? "Control cells (the theorem predicts the signs fail)" : "Main cells");
        criteria_results(h, obj(e4[k], "criteria"), 1);
        sb_printf(h, "; <b>verdict of E4%s: %s</b>.</p>\n", k ? " on the control" : "", verdict_of(e4[k]));
    }
    if (!st) sb_printf(h, "<p>Data: <a href=\"real_e4.csv\">the table (CSV; control 0 main, 1 control)</a>.</p>\n");
    return st;
}

/* ---- E1 ------------------------------------------------------------------------------------ */

static alim_status real_e1(report *r, const cJSON *sm)
{
    strbuf *h = &r->html;
    const cJSON *pairs = obj(sm, "pairs"), *p;
    const size_t n = (size_t)cJSON_GetArraySize(pairs);
    sb_printf(h, "<h3>E1: resistance (&sect;4)</h3>\n<p>From <code>e1/summary.json</code>: per pair (k, l) and seed, the "
                 "forward run fine-tunes &theta;<sub>k</sub> on D<sub>l</sub>, the inverse run &theta;<sub>l</sub> on "
                 "D<sub>k</sub>; the mean of the per-update training losses (nats per response token); gap = forward "
                 "&minus; inverse (positive: the inverse direction is easier, as the paper predicts), corrected gap = gap "
                 "&minus; (H<sub>l</sub> &minus; H<sub>k</sub>). ");
    sb_num_or_dash(h, "%.0f", num(sm, "wall_s"));
    sb_printf(h, " s wall time.</p>\n");
    if (n == 0) {
        sb_printf(h, "<p>The summary has no <code>pairs</code>: nothing to tabulate.</p>\n");
        return ALIM_OK;
    }
    enum { C = 13 };
    double *tab = malloc(n * C * sizeof *tab), *fx = malloc(n * sizeof *fx), *fy = malloc(n * sizeof *fy);
    if (!tab || !fx || !fy) return free(tab), free(fx), free(fy), NOMEM(r);
    char names[8][32];
    size_t nn = 0, row = 0, drawable = 0;
    sb_printf(h, "<table><tr><th>pair</th><th>seed</th><th>forward mean loss</th><th>inverse mean loss</th><th>forward "
                 "excess</th><th>inverse excess</th><th>gap</th><th>corrected gap</th><th>inverse lower (raw, "
                 "corrected)</th></tr>\n");
    cJSON_ArrayForEach(p, pairs) {
        const cJSON *fw = obj(p, "forward"), *iv = obj(p, "inverse");
        const double v[C] = {num(p, "k"), num(p, "l"), num(p, "seed"), num(fw, "mean_nats"), num(iv, "mean_nats"),
                             num(fw, "excess_nats"), num(iv, "excess_nats"), num(p, "gap_nats"), num(p, "gap_corrected_nats"),
                             cJSON_IsBool(obj(p, "inverse_lower")) ? cJSON_IsTrue(obj(p, "inverse_lower")) : NAN,
                             cJSON_IsBool(obj(p, "inverse_lower_corrected")) ? cJSON_IsTrue(obj(p, "inverse_lower_corrected")) : NAN,
                             num(iv, "target_entropy_nats"), num(fw, "target_entropy_nats")};
        memcpy(tab + C * row++, v, sizeof v);
        sb_printf(h, "<tr><td>(%.0f, %.0f)</td><td>%.0f</td>", v[0], v[1], v[2]);
        for (int c = 3; c < 9; c++) {
            sb_printf(h, "<td>");
            sb_num_or_dash(h, c >= 7 ? "%+.4f" : "%.4f", v[c]);
            sb_printf(h, "</td>");
        }
        sb_printf(h, "<td>%s, %s</td></tr>\n", isnan(v[9]) ? "&ndash;" : v[9] ? "yes" : "no",
                  isnan(v[10]) ? "&ndash;" : v[10] ? "yes" : "no");
        drawable += isfinite(v[3]) && isfinite(v[4]);
    }
    sb_printf(h, "</table>\n");
    alim_status st = report_write_csv(r, "real_e1_pairs",
                                      "k,l,seed,forward_mean_nats,inverse_mean_nats,forward_excess_nats,inverse_excess_nats,"
                                      "gap_nats,gap_corrected_nats,inverse_lower,inverse_lower_corrected,H_k_nats,H_l_nats",
                                      tab, row, C);
    /* the figure: forward against inverse, one colour per pair, the diagonal dashed */
    alim_plot_series se[10];
    size_t ns = 0, off = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t q = 0; q < row; q++) { /* the pairs, in order of appearance */
        char nm[32];
        snprintf(nm, sizeof nm, "pair (%.0f, %.0f)", tab[C * q], tab[C * q + 1]);
        size_t c = 0;
        while (c < nn && strcmp(nm, names[c])) c++;
        if (c == nn && nn < 8) memcpy(names[nn++], nm, sizeof nm);
    }
    for (size_t c = 0; c < nn; c++) {
        size_t m = 0;
        for (size_t q = 0; q < row; q++) {
            char nm[32];
            snprintf(nm, sizeof nm, "pair (%.0f, %.0f)", tab[C * q], tab[C * q + 1]);
            if (strcmp(nm, names[c])) continue;
            fx[off + m] = tab[C * q + 3], fy[off + m] = tab[C * q + 4], m++;
            if (isfinite(tab[C * q + 3]) && isfinite(tab[C * q + 4]))
                lo = fmin(lo, fmin(tab[C * q + 3], tab[C * q + 4])), hi = fmax(hi, fmax(tab[C * q + 3], tab[C * q + 4]));
        }
        se[ns++] = (alim_plot_series){fx + off, fy + off, m, names[c], ALIM_PLOT_POINTS, (int)c};
        off += m;
    }
    double dx[2] = {lo, hi};
    se[ns++] = (alim_plot_series){dx, dx, 2, "inverse = forward", ALIM_PLOT_DASHED, 7};
    if (!st && drawable) {
        strbuf cap = {0};
        sb_printf(&cap, "Each point is one pair and seed: the forward run's mean training loss (x) against the inverse "
                        "run's (y), nats per response token. Points below the diagonal have the inverse direction easier "
                        "(the paper's resistance). Criteria (&sect;4): ");
        criteria_results(&cap, obj(sm, "criteria"), 0);
        sb_printf(&cap, "; <b>verdict of E1: %s</b>.", verdict_of(sm));
        alim_plot pl = {"E1: forward against inverse fine-tuning loss", "forward mean loss (nats/token)",
                        "inverse mean loss (nats/token)", 0, 0, NAN, NAN, NAN, NAN, se, ns, 4, 0, 0};
        st = cap.oom ? NOMEM(r) : report_add_figure_csv(r, "real_e1_losses", "real_e1_pairs", &pl, cap.s);
        free(cap.s);
    }
    free(tab), free(fx), free(fy);
    if (st) return st;
    const cJSON *t = obj(sm, "sign_test");
    sb_printf(h, "<p>Sign test over the %.0f cases: inverse lower in %.0f (one-sided p = ", num(t, "n"), num(t, "inverse_lower"));
    sb_num_or_dash(h, "%.3g", num(t, "p_value"));
    pn(h, "), mean gap ", "%+.4f", num(t, "mean_gap_nats"));
    pn(h, " nats (SE ", "%.4f", num(t, "se_gap_nats"));
    sb_printf(h, "); entropy-corrected: %.0f (p = ", num(t, "inverse_lower_corrected"));
    sb_num_or_dash(h, "%.3g", num(t, "p_value_corrected"));
    pn(h, "), ", "%+.4f", num(t, "mean_gap_corrected_nats"));
    pn(h, " nats (SE ", "%.4f", num(t, "se_gap_corrected_nats"));
    sb_printf(h, ")%s. Criteria: ", t ? "" : " (the summary has no <code>sign_test</code>)");
    criteria_results(h, obj(sm, "criteria"), 0);
    sb_printf(h, ". <b>Verdict of E1: %s</b>", verdict_of(sm));
    const cJSON *why = obj(sm, "verdict_reason");
    if (cJSON_IsString(why)) {
        sb_printf(h, " (");
        sb_html_escaped(h, why->valuestring);
        sb_printf(h, ")");
    }
    sb_printf(h, ". Data: <a href=\"real_e1_pairs.csv\">per pair and seed (CSV)</a>.</p>\n");
    return ALIM_OK;
}

/* ---- the section ------------------------------------------------------------------------------ */

alim_status report_real(report *r, const char *run)
{
    cJSON *e1 = NULL, *e2 = NULL, *e4[2] = {NULL, NULL};
    alim_status st = load_json(r, run, "e1/summary.json", &e1);
    if (!st) st = load_json(r, run, "e2/summary.json", &e2);
    if (!st) st = load_json(r, run, "e4/coefficient.json", &e4[0]);
    if (!st) st = load_json(r, run, "e4-ctl/coefficient.json", &e4[1]);
    if (!st && !e1 && !e2) st = report_real_check(run, r->err); /* gone since the check */
    strbuf missing = {0};
    if (!st) {
        strbuf *h = &r->html;
        sb_printf(h, "<h2>Elasticity of a real pretrained model: SmolLM2-135M-Instruct</h2>\n<p>Drawn from the study "
                     "directory <code>");
        sb_html_escaped(h, run);
        sb_printf(h, "</code> (<code>scripts/reproduce-real.sh</code>, <code>make reproduce-real</code>); nothing is "
                     "computed here. The behaviours, the configuration and the criteria of PASS, NULL and FAIL were fixed "
                     "before any run in <code>docs/real-elasticity.md</code> (&sect;4 E1, &sect;5 E2, &sect;6 E4, &sect;7 "
                     "the verdicts at a glance).</p>\n");
        header(r, run, e1, e2, &missing);
        if (e1) st = real_e1(r, e1);
        else {
            sb_printf(h, "<h3>E1: resistance (&sect;4)</h3>\n<p><b>E1 is not there yet</b> (no <code>e1/summary.json</code>).</p>\n");
            sb_printf(&missing, "<li><code>e1/summary.json</code> (E1)</li>");
        }
        if (!st && e2) st = real_e2(r, run, e2, &missing);
        else if (!st) {
            sb_printf(h, "<h3>E2: rebound (&sect;5)</h3>\n<p><b>E2 is not there yet</b> (no <code>e2/summary.json</code>).</p>\n");
            sb_printf(&missing, "<li><code>e2/summary.json</code> (E2 and its control)</li>");
        }
        if (!st) st = real_e4(r, (const cJSON **)e4, &missing);
        if (!st) {
            if (missing.len) sb_printf(h, "<p><b>Not there yet</b> (the study is still running, or the step failed):</p>\n<ul>%s</ul>\n", missing.s);
            else sb_printf(h, "<p>Every part of the study is there.</p>\n");
            if (missing.oom || h->oom) st = NOMEM(r);
        }
    }
    free(missing.s);
    cJSON_Delete(e1), cJSON_Delete(e2), cJSON_Delete(e4[0]), cJSON_Delete(e4[1]);
    return st;
}
