/* rebound_summary.c — E2's summary: the cells' results read back in a fixed order (so the
 * summary never depends on which worker or rank finished first), seed means and SEs into the
 * result's typed rows, grid.csv and summary.json written from them, n*(eps), the criteria from
 * the grid (rebound_impl.h names the other files). */
#define _POSIX_C_SOURCE 200809L
#include "rebound_impl.h"
#include "lab_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/io.h"

/* the metrics' names in the cells' results, grid.csv and summary.json, indexed by
 * alim_rebound_metric */
static const char *const METRIC[] = {"score", "positive_rate", "negative_rate", "gamma_c1_bits", "gamma_c2_bits", "gamma_c3_bits",
                                     "gamma_mix_bits", "kl_to_base_nats", "kl_to_base_bits"};
enum { N_METRIC = sizeof METRIC / sizeof *METRIC };
_Static_assert(sizeof METRIC / sizeof *METRIC == ALIM_REBOUND_METRICS, "METRIC[] names every alim_rebound_metric, in its order");

/* how the samples are classified (summary "labels", alim_rebound_result.labels) */
static const char LABELS_NB[] = "naive-Bayes classifier (classifier.nb)";
static const char LABELS_CHAINS[] = "exact class under the true chains (chains.json)";

/* one grid row (or the baseline), row its label (a string literal: out->row keeps it): the seed
 * means and SEs of every metric from the per-seed results into *out, then its grid.csv line and its summary object, both written from *out
 * (so the typed result and the files cannot disagree) */
static cJSON *aggregate(cJSON *const *per_seed, size_t S, double n_pos, double n_neg, double steps_mean, const char *row, FILE *csv,
                        alim_rebound_row *out)
{
    out->row = row, out->n_pos = n_pos, out->n_neg = n_neg, out->steps = steps_mean, out->seeds = S;
    double v[1000];
    for (int k = 0; k < N_METRIC; k++) {
        for (size_t s = 0; s < S; s++) v[s] = alim_lab_json_num(per_seed[s], METRIC[k]);
        alim_lab_mean_se(v, S, &out->mean[k], &out->se[k]);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "row", row);
    cJSON_AddNumberToObject(o, "n_pos", out->n_pos);
    cJSON_AddNumberToObject(o, "n_neg", out->n_neg);
    cJSON_AddNumberToObject(o, "steps", out->steps);
    cJSON_AddNumberToObject(o, "seeds", (double)out->seeds);
    fprintf(csv, "%s,%.0f,%.0f,%.6g,%zu", row, out->n_pos, out->n_neg, out->steps, out->seeds);
    for (int k = 0; k < N_METRIC; k++) {
        char key[64];
        snprintf(key, sizeof key, "%s_mean", METRIC[k]);
        alim_lab_add_num(o, key, out->mean[k]);
        snprintf(key, sizeof key, "%s_se", METRIC[k]);
        alim_lab_add_num(o, key, out->se[k]);
        fprintf(csv, ",%.9g,%.9g", out->mean[k], out->se[k]);
    }
    fputc('\n', csv);
    return o;
}

/* a grid from a summary's "grid" rows (for the control's criterion (e)) */
typedef struct {
    double n_pos[ALIM_REBOUND_MAX_GRID], n_neg[ALIM_REBOUND_MAX_GRID];
    double score[ALIM_REBOUND_MAX_GRID * ALIM_REBOUND_MAX_GRID], gmix[ALIM_REBOUND_MAX_GRID * ALIM_REBOUND_MAX_GRID],
        gc2[ALIM_REBOUND_MAX_GRID * ALIM_REBOUND_MAX_GRID];
    alim_rebound_grid g;
} grid_store;

static int grid_from_summary(const cJSON *sum, grid_store *gs)
{
    memset(gs, 0, sizeof *gs);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(sum, "config");
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "grid"), "n_pos");
    const cJSON *gneg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "grid"), "n_neg");
    int P = cJSON_GetArraySize(grid), N = cJSON_GetArraySize(gneg);
    if (P < 1 || N < 1 || P > ALIM_REBOUND_MAX_GRID || N > ALIM_REBOUND_MAX_GRID) return 0;
    for (int i = 0; i < P; i++) gs->n_pos[i] = alim_json_number_value(cJSON_GetArrayItem(grid, i));
    for (int j = 0; j < N; j++) gs->n_neg[j] = alim_json_number_value(cJSON_GetArrayItem(gneg, j));
    for (int i = 0; i < P * N; i++) gs->score[i] = gs->gmix[i] = gs->gc2[i] = NAN;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(sum, "grid")) {
        int i = -1, j = -1;
        for (int a = 0; a < P; a++) if (gs->n_pos[a] == alim_lab_json_num(r, "n_pos")) i = a;
        for (int b = 0; b < N; b++) if (gs->n_neg[b] == alim_lab_json_num(r, "n_neg")) j = b;
        if (i < 0 || j < 0) continue;
        gs->score[i * N + j] = alim_lab_json_num(r, "score_mean");
        gs->gmix[i * N + j] = alim_lab_json_num(r, "gamma_mix_bits_mean");
        gs->gc2[i * N + j] = alim_lab_json_num(r, "gamma_c2_bits_mean");
    }
    alim_rebound_grid g = {(size_t)P, (size_t)N, gs->n_pos, gs->n_neg, gs->score, gs->gmix, gs->gc2,
                           alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(sum, "baseline"), "gamma_mix_bits_mean")};
    gs->g = g;
    return 1;
}

/* Reads every cell's result back, seed by seed: the per-seed record of summary["per_seed"]
 * (theta0 or D_0, pos<n>, pos<n>-negpass, pos<n>-ctlpass), the evaluations into r->per (and
 * r->cper), the negative passes' updates into r->steps (r->csteps), r->num_params. */
alim_status rb_read_results(rb_run *run, alim_error *err)
{
    const alim_rebound_config *cfg = run->cfg;
    const rb *x = run->x;
    const size_t P = run->P, N = run->N, S = run->S, G = run->G;
    const int ctl = run->ctl;
    alim_runner *runner = run->runner;
    alim_status st = ALIM_OK;
    run->per = calloc(S * G, sizeof *run->per);
    run->steps = calloc(S * P * N, sizeof *run->steps);
    if (ctl && (!(run->cper = calloc(S * P * N, sizeof *run->cper)) || !(run->csteps = calloc(S * P * N, sizeof *run->csteps))))
        return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    run->summary = cJSON_CreateObject();
    if (!run->per || !run->steps || !run->summary) return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    cJSON **per = run->per, **cper = run->cper;
    double *steps = run->steps, *csteps = run->csteps;
    const size_t *ccix = run->ccix;
    cJSON *seeds_json = cJSON_AddArrayToObject(run->summary, "per_seed");
    double num_params = NAN;
    /* a result that cannot be read (alim_runner_result sets err) ends the reading */
#define GET(dst, cell) do { if (!((dst) = alim_runner_result(runner, (cell), err))) { st = err->status ? err->status : ALIM_EIO; goto read_end; } } while (0)
    for (size_t s = 1; s <= S && !st; s++) {
        cJSON *sj = cJSON_CreateObject(), *r = NULL;
        cJSON_AddNumberToObject(sj, "seed", (double)s);
        cJSON_AddItemToArray(seeds_json, sj);
        if (x->real) {
            cJSON_AddStringToObject(sj, "theta0_model", cfg->theta0_model);
            num_params = (double)run->theta0_params;
            GET(r, *rb_cix(run, s - 1, 0));
            cJSON_AddItemToObject(sj, "d0", r);
        } else if (cfg->theta0_dirs) {
            cJSON_AddStringToObject(sj, "theta0_dir", cfg->theta0_dirs[s - 1]);
            alim_gpt base = {0};
            st = alim_checkpoint_load(cfg->theta0_dirs[s - 1], &base, NULL, NULL, err);
            num_params = (double)base.num_params;
            alim_gpt_free(&base);
            if (st) break;
        } else {
            GET(r, *rb_cix(run, s - 1, 0));
            num_params = alim_lab_json_num(r, "num_params");
            cJSON_AddItemToObject(sj, "theta0", r);
        }
        GET(per[(s - 1) * G], *rb_cix(run, s - 1, 1));
        for (size_t i = 0; i < P; i++) {
            char key[64];
            GET(r, *rb_cix(run, s - 1, 2 + 2 * i));
            snprintf(key, sizeof key, "pos%zu", cfg->n_pos[i]);
            cJSON_AddItemToObject(sj, key, r);
            GET(r, *rb_cix(run, s - 1, 3 + 2 * i));
            const cJSON *sa = cJSON_GetObjectItemCaseSensitive(r, "steps");
            for (size_t j = 0; j < N; j++) steps[((s - 1) * P + i) * N + j] = alim_json_number_value(cJSON_GetArrayItem(sa, (int)j));
            snprintf(key, sizeof key, "pos%zu-negpass", cfg->n_pos[i]);
            cJSON_AddItemToObject(sj, key, r);
            for (size_t j = 0; j < N; j++) GET(per[(s - 1) * G + 1 + i * N + j], *rb_cix(run, s - 1, 2 + 2 * P + i * N + j));
            if (!ctl) continue;
            const size_t cb = ((s - 1) * P + i) * N;
            GET(r, ccix[cb]);
            sa = cJSON_GetObjectItemCaseSensitive(r, "steps");
            for (size_t j = 0; j < N; j++) csteps[cb + j] = alim_json_number_value(cJSON_GetArrayItem(sa, (int)j));
            snprintf(key, sizeof key, "pos%zu-ctlpass", cfg->n_pos[i]);
            cJSON_AddItemToObject(sj, key, r);
            for (size_t j = 1; j < N; j++) GET(cper[cb + j], ccix[cb + j]);
            /* n_neg = 0: theta_pos's evaluation with the control class as the negative one */
            cJSON *z = cJSON_Duplicate(per[(s - 1) * G + 1 + i * N], 1);
            const cJSON *cc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(z, "class_counts"), x->cls_ctl);
            const double nneg0 = alim_json_number_value(cc), ns = alim_lab_json_num(z, "samples");
            cJSON_ReplaceItemInObject(z, "negative", cJSON_CreateNumber(nneg0));
            cJSON_ReplaceItemInObject(z, "negative_rate", cJSON_CreateNumber(nneg0 / ns));
            cJSON_ReplaceItemInObject(z, "score", cJSON_CreateNumber((alim_lab_json_num(z, "positive") - nneg0) / ns));
            cJSON_DeleteItemFromObject(z, "posterior_negative_mean");
            cJSON_AddStringToObject(z, "from", "theta_pos's evaluation, negative = the control class");
            cper[cb] = z;
        }
    }
read_end:
#undef GET
    run->num_params = num_params;
    return st;
}

/* grid.csv and summary["baseline"], ["grid"] (and ["control_grid"]): the seed means of
 * theta0's evaluation, of every (n_pos, n_neg) and of the control's, into res's typed rows and
 * written from them */
static alim_status write_grid(rb_run *r, alim_rebound_result *res, alim_error *err)
{
    const alim_rebound_config *cfg = r->cfg;
    const size_t P = r->P, N = r->N, S = r->S, G = r->G;
    cJSON *summary = r->summary, **per = r->per, **cper = r->cper;
    const double *steps = r->steps, *csteps = r->csteps;
    char p1[4200];
    alim_atomic_file f = {0};
    alim_status st = alim_atomic_open(&f, alim_lab_path(cfg->run_dir, "grid.csv", p1, sizeof p1), err);
    if (st) return st;
    fprintf(f.fp, "row,n_pos,n_neg,steps,seeds");
    for (int k = 0; k < N_METRIC; k++) fprintf(f.fp, ",%s_mean,%s_se", METRIC[k], METRIC[k]);
    fputc('\n', f.fp);
    cJSON **col = malloc(S * sizeof *col);
    res->n_pos_count = P, res->n_neg_count = N;
    res->grid = calloc(P * N, sizeof *res->grid);
    if (r->ctl) res->control_grid = calloc(P * N, sizeof *res->control_grid);
    if (!col || !res->grid || (r->ctl && !res->control_grid)) {
        alim_atomic_abort(&f);
        free(col);
        return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    }
    for (size_t s = 0; s < S; s++) col[s] = per[s * G];
    cJSON_AddItemToObject(summary, "baseline", aggregate(col, S, 0, 0, 0, "theta0", f.fp, &res->baseline));
    cJSON *grid = cJSON_AddArrayToObject(summary, "grid");
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < N; j++) {
            double sm = 0;
            for (size_t s = 0; s < S; s++) col[s] = per[s * G + 1 + i * N + j], sm += steps[(s * P + i) * N + j];
            cJSON_AddItemToArray(grid, aggregate(col, S, (double)cfg->n_pos[i], (double)cfg->n_neg[j], sm / (double)S, "grid", f.fp,
                                                 &res->grid[i * N + j]));
        }
    if (r->ctl) { /* the control's rows: seed means, after the grid in grid.csv */
        cJSON *cgrid = cJSON_AddArrayToObject(summary, "control_grid");
        for (size_t i = 0; i < P; i++)
            for (size_t j = 0; j < N; j++) {
                double sm = 0;
                for (size_t s = 0; s < S; s++) col[s] = cper[(s * P + i) * N + j], sm += csteps[(s * P + i) * N + j];
                cJSON_AddItemToArray(cgrid, aggregate(col, S, (double)cfg->n_pos[i], (double)cfg->n_neg[j], sm / (double)S, "control",
                                                      f.fp, &res->control_grid[i * N + j]));
            }
    }
    free(col);
    return alim_atomic_commit(&f, err);
}

/* metric k of rows[0..n) into out (the columns alim_rebound_grid and alim_rebound_nstar read) */
static void metric_column(const alim_rebound_row *rows, size_t n, alim_rebound_metric k, double *out)
{
    for (size_t q = 0; q < n; q++) out[q] = rows[q].mean[k];
}

/* n*(eps) per n_pos into res->n_star and summary["n_star"]; the criteria into res->criteria,
 * against the control (the real path's control cells, else --control-run's summary) */
static void judge_grid(rb_run *r, alim_rebound_result *res)
{
    const alim_rebound_config *cfg = r->cfg;
    const size_t P = r->P, N = r->N;
    enum { MAX = ALIM_REBOUND_MAX_GRID * ALIM_REBOUND_MAX_GRID };
    double npos[ALIM_REBOUND_MAX_GRID], nneg[ALIM_REBOUND_MAX_GRID];
    double sc[MAX], gm[MAX], g2[MAX], kl[MAX], csc[MAX], cgm[MAX], cg2[MAX];
    for (size_t i = 0; i < P; i++) npos[i] = (double)cfg->n_pos[i];
    for (size_t j = 0; j < N; j++) nneg[j] = (double)cfg->n_neg[j];
    metric_column(res->grid, P * N, ALIM_REBOUND_SCORE, sc);
    metric_column(res->grid, P * N, ALIM_REBOUND_GAMMA_MIX_BITS, gm);
    metric_column(res->grid, P * N, ALIM_REBOUND_GAMMA_C2_BITS, g2);
    metric_column(res->grid, P * N, ALIM_REBOUND_KL_TO_BASE_NATS, kl);
    cJSON *ns = cJSON_AddArrayToObject(r->summary, "n_star");
    for (size_t i = 0; i < P; i++) {
        res->n_star[i] = alim_rebound_nstar(nneg, kl + i * N, N, cfg->epsilon_nats);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n_pos", npos[i]);
        alim_lab_add_num(o, "kl_after_alignment_nats", kl[i * N]);
        alim_lab_add_num(o, "n_star", res->n_star[i]);
        cJSON_AddItemToArray(ns, o);
    }
    alim_rebound_grid g = {P, N, npos, nneg, sc, gm, g2, res->baseline.mean[ALIM_REBOUND_GAMMA_MIX_BITS]};
    grid_store cs;
    const alim_rebound_grid *cg = r->ctl_sum && grid_from_summary(r->ctl_sum, &cs) ? &cs.g : NULL;
    alim_rebound_grid cgr = {P, N, npos, nneg, csc, cgm, cg2, g.gamma_mix_base};
    if (res->control_grid) {
        metric_column(res->control_grid, P * N, ALIM_REBOUND_SCORE, csc);
        metric_column(res->control_grid, P * N, ALIM_REBOUND_GAMMA_MIX_BITS, cgm);
        metric_column(res->control_grid, P * N, ALIM_REBOUND_GAMMA_C2_BITS, cg2);
        cg = &cgr;
    }
    alim_rebound_judge(&g, cg, &res->criteria);
}

/* summary["alignment_tokens"]: |D_a| per n_pos in the run's tokens (E4's k = |D_p| / |D_a|) */
static alim_status add_alignment_tokens(const rb_run *r, alim_rebound_result *res, alim_error *err)
{
    const alim_rebound_config *cfg = r->cfg;
    const rb *x = r->x;
    const size_t P = r->P;
    cJSON *summary = r->summary;
    char p2[4200];
    cJSON *at = cJSON_AddArrayToObject(summary, "alignment_tokens");
    alim_rebound_evaluations *ev = &res->evaluations;
    double t = 0;
    size_t d = 0;
    ev->alignment_n_pos = malloc(P * sizeof *ev->alignment_n_pos);
    ev->alignment_tokens = malloc(P * sizeof *ev->alignment_tokens);
    if (!ev->alignment_n_pos || !ev->alignment_tokens) return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    ev->n_alignment = P;
    alim_token_stream ds = {0}; /* real: the scored (response) tokens of seed 1's records */
    size_t *ends = NULL;
    if (x->real) {
        snprintf(p2, sizeof p2, "%s/cells/s1-pos%zu/data.jsonl", cfg->run_dir, cfg->n_pos[P - 1]);
        const char *paths[1] = {p2};
        ends = malloc(cfg->n_pos[P - 1] * sizeof *ends);
        alim_error e2;
        if (!ends || alim_dataset_load_chat(&ds, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, &e2) ||
            rbr_stream_doc_ends(&ds, ends, cfg->n_pos[P - 1]) != cfg->n_pos[P - 1])
            free(ends), ends = NULL;
    }
    for (size_t i = 0; i < P; i++) {
        if (x->real) {
            for (; ends && d < cfg->n_pos[i]; d++)
                for (size_t q = d ? ends[d - 1] + 1 : 1; q <= ends[d]; q++) t += ds.mask[q] != 0;
            if (!ends) t = NAN;
        } else
            for (; d < cfg->n_pos[i]; d++) t += rb_doc_tokens(x, &x->pool2, d);
        ev->alignment_n_pos[i] = (double)cfg->n_pos[i], ev->alignment_tokens[i] = t;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n_pos", (double)cfg->n_pos[i]);
        if (x->real) alim_lab_add_num(o, "tokens", t);
        else cJSON_AddNumberToObject(o, "tokens", t);
        cJSON_AddItemToArray(at, o);
    }
    free(ends);
    alim_dataset_free(&ds);
    return ALIM_OK;
}

/* summary's description of the run, its criteria and verdict */
static alim_status describe(const rb_run *r, alim_rebound_result *res, alim_error *err)
{
    const alim_rebound_config *cfg = r->cfg;
    const rb *x = r->x;
    const int ctl = r->ctl;
    const alim_rebound_criteria *cr = &res->criteria;
    cJSON *summary = r->summary;
    cJSON_AddStringToObject(summary, "experiment", ctl           ? "E2 rebound on a pretrained model with its control (elastic rebound --theta0 MODEL --control)"
                                                   : x->real     ? "E2 rebound on a pretrained model (elastic rebound --theta0 MODEL)"
                                                   : cfg->control ? "E2 rebound, control (elastic rebound --control)"
                                                                  : "E2 rebound (elastic rebound)");
    cJSON_AddStringToObject(summary, "data_dir", cfg->data_dir);
    cJSON_AddStringToObject(summary, "run_dir", cfg->run_dir);
    cJSON_AddStringToObject(summary, "source", res->source);
    if (x->real) {
        cJSON_AddStringToObject(summary, "theta0_model", cfg->theta0_model);
        cJSON_AddStringToObject(summary, "theta0_content_fnv1a64", r->theta0_hash);
        cJSON_AddStringToObject(summary, "chat_template", alim_chat_kind_name(x->chat.kind));
    } else
        cJSON_AddItemToObject(summary, "shares", cJSON_CreateDoubleArray(r->shares, 3));
    cJSON_AddBoolToObject(summary, "control", cfg->control);
    if (cfg->control_run) cJSON_AddStringToObject(summary, "control_run", cfg->control_run);
    cJSON_AddStringToObject(summary, "labels", res->labels);
    if (res->labels_by_classifier) alim_lab_add_num(summary, "classifier_accuracy", res->classifier_accuracy);
    lab_add_config_record(summary, r->config, r->S);
    cJSON_AddNumberToObject(summary, "epsilon_nats", cfg->epsilon_nats);
    alim_status st = add_alignment_tokens(r, res, err);
    if (st) return st;
    alim_lab_add_num(summary, "num_params", res->num_params);
    lab_add_run_stats(summary, res->cells_total, res->cells_run, res->cells_reused, res->wall_s, res->train_tokens_per_s);
    cJSON *cj = cJSON_AddObjectToObject(summary, "criteria");
    const char *const names[5] = {"a_score_rises_with_n_pos", "b_first_drop_grows_with_n_pos", "c_early_slope_3x_late",
                                  "d_mix_back_c2_up", "e_control_weaker"};
    const char *const vals[5] = {cr->a, cr->b, cr->c, cr->d, cr->e};
    for (int k = 0; k < 5; k++) {
        cJSON *o = cJSON_AddObjectToObject(cj, names[k]);
        cJSON_AddStringToObject(o, "result", vals[k]);
        cJSON_AddStringToObject(o, "why", cr->why[k]);
    }
    cJSON_AddStringToObject(summary, "verdict", cr->verdict);
    return ALIM_OK;
}

/* summary["per_seed"][s]["evaluations"] (and "control_evaluations"): the results of r->per
 * (r->cper), moved there with their n_pos, n_neg and model; the grid's (the control's) into
 * res->evaluations from the same objects */
static alim_status attach_evaluations(rb_run *r, alim_rebound_result *res, alim_error *err)
{
    const alim_rebound_config *cfg = r->cfg;
    const size_t P = r->P, N = r->N, S = r->S, G = r->G;
    const int ctl = r->ctl;
    cJSON **per = r->per, **cper = r->cper;
    cJSON *seeds_json = cJSON_GetObjectItemCaseSensitive(r->summary, "per_seed");
    alim_rebound_evaluations *evs = &res->evaluations;
    if (!(evs->seed = calloc(S, sizeof *evs->seed))) return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    evs->n_seeds = S;
    for (size_t s = 0; s < S; s++) {
        alim_rebound_seed_evals *te = &evs->seed[s];
        if (!(te->grid = calloc(P * N, sizeof *te->grid)) || (ctl && !(te->control = calloc(P * N, sizeof *te->control))))
            return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
        te->n_grid = P * N, te->has_control = ctl, te->n_control = ctl ? P * N : 0;
        cJSON *sj = cJSON_GetArrayItem(seeds_json, (int)s), *ev = cJSON_AddArrayToObject(sj, "evaluations");
        for (size_t q = 0; q < G; q++) {
            cJSON *e = per[s * G + q];
            per[s * G + q] = NULL;
            cJSON_AddNumberToObject(e, "n_pos", q ? (double)cfg->n_pos[(q - 1) / N] : 0);
            cJSON_AddNumberToObject(e, "n_neg", q ? (double)cfg->n_neg[(q - 1) % N] : 0);
            cJSON_AddStringToObject(e, "model", q ? "grid" : "theta0");
            cJSON_AddItemToArray(ev, e);
            if (q) rb_eval_from_json(e, &te->grid[q - 1]);
        }
        if (!ctl) continue;
        cJSON *cev = cJSON_AddArrayToObject(sj, "control_evaluations");
        for (size_t q = 0; q < P * N; q++) {
            cJSON *e = cper[s * P * N + q];
            cper[s * P * N + q] = NULL;
            cJSON_AddNumberToObject(e, "n_pos", (double)cfg->n_pos[q / N]);
            cJSON_AddNumberToObject(e, "n_neg", (double)cfg->n_neg[q % N]);
            cJSON_AddStringToObject(e, "model", "control");
            cJSON_AddItemToArray(cev, e);
            rb_eval_from_json(e, &te->control[q]);
        }
    }
    return ALIM_OK;
}

alim_status rb_write_summary(rb_run *r, alim_rebound_result *res, alim_error *err)
{
    alim_status st = write_grid(r, res, err);
    if (st) return st;
    judge_grid(r, res);
    res->labels = r->x->natural ? LABELS_NB : LABELS_CHAINS;
    /* r->source points into the data's manifest, which the run frees: the result keeps a copy */
    if (!(res->source = strdup(r->source))) return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    res->num_params = r->num_params;
    res->labels_by_classifier = r->x->natural;
    res->classifier_accuracy = r->x->natural ? r->nb_acc : NAN;
    alim_runner_stats rs;
    alim_runner_get_stats(r->runner, &rs);
    res->wall_s = alim_lab_now() - r->t_start;
    res->train_tokens_per_s = rs.train_s > 0 ? rs.train_tokens / rs.train_s : 0;
    /* what E3 and E4 analyse besides the evaluations, from the values the summary records */
    res->evaluations.pretrain_tokens = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(r->config, "pretrain"), "tokens");
    for (int k = 0; k < 3; k++) res->evaluations.shares[k] = r->x->real ? NAN : r->shares[k];
    if ((st = describe(r, res, err)) || (st = attach_evaluations(r, res, err))) return st;
    /* cells computed by an alim before the replies' UTF-8 repair (rebound_cells.c) may hold a
     * reply cut inside a character: the summary is valid UTF-8 whatever the cells hold */
    if (alim_json_utf8_repair(r->summary) < 0) return alim_error_set(err, ALIM_ENOMEM, r->cfg->run_dir, "out of memory");
    char p1[4200];
    st = alim_lab_write_json(alim_lab_path(r->cfg->run_dir, "summary.json", p1, sizeof p1), r->summary, err);
    if (st) return st;
    res->summary = r->summary;
    r->summary = NULL;
    return ALIM_OK;
}
