/* resist_summary.c — E1's statistics and summary: the sign test and alim_resist_judge; the
 * cells' results read back in a fixed order (so the summary never depends on which worker or
 * rank finished first), curves.csv, summary.csv, summary.json (resist_impl.h names the other
 * files). */
#define _POSIX_C_SOURCE 200809L
#include "resist_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"
#include "lab_impl.h"

/* ---- statistics ----------------------------------------------------------------------- */

double alim_sign_test_p(size_t count, size_t n)
{
    if (count == 0) return 1.0;
    if (count > n) return 0.0;
    /* sum_{i >= count} C(n,i) 2^-n in the log domain */
    double s = 0.0;
    for (size_t i = count; i <= n; i++)
        s += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - (double)n * log(2.0));
    return s > 1.0 ? 1.0 : s;
}


void alim_resist_judge(const double *gap_raw, const double *gap_corrected, size_t n, alim_resist_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->n = n;
    size_t neg_raw = 0, neg_corr = 0;
    for (size_t i = 0; i < n; i++) {
        v->count_raw += gap_raw[i] > 0;
        v->count_corrected += gap_corrected[i] > 0;
        neg_raw += gap_raw[i] < 0;
        neg_corr += gap_corrected[i] < 0;
    }
    v->p_raw = alim_sign_test_p(v->count_raw, n);
    v->p_corrected = alim_sign_test_p(v->count_corrected, n);
    alim_lab_mean_se(gap_raw, n, &v->mean_raw, &v->se_raw);
    alim_lab_mean_se(gap_corrected, n, &v->mean_corrected, &v->se_corrected);
    v->all_raw = n > 0 && v->count_raw == n;
    v->all_corrected = n > 0 && v->count_corrected == n;
    v->sig_raw = v->p_raw <= 0.05;
    v->sig_corrected = v->p_corrected <= 0.05;
    v->gap2se_raw = v->mean_raw >= 2 * v->se_raw; /* false when the SE is NaN (n < 2) */
    v->gap2se_corrected = v->mean_corrected >= 2 * v->se_corrected;
    v->reversed = n > 0 && neg_raw == n && neg_corr == n && v->mean_raw <= -2 * v->se_raw &&
                  v->mean_corrected <= -2 * v->se_corrected && alim_sign_test_p(neg_raw, n) <= 0.05;
    if (v->all_raw && v->all_corrected && v->sig_raw && v->sig_corrected && v->gap2se_raw && v->gap2se_corrected) {
        v->verdict = "PASS";
        snprintf(v->reason, sizeof v->reason, "inverse < forward in all %zu cases, raw and entropy-corrected (p = %.3g), gaps >= 2 SE", n, v->p_raw);
        return;
    }
    if (v->reversed) {
        v->verdict = "FAIL";
        snprintf(v->reason, sizeof v->reason, "reversed: forward < inverse in all %zu cases, raw and corrected, gaps <= -2 SE", n);
        return;
    }
    v->verdict = "NULL";
    char *p = v->reason;
    size_t left = sizeof v->reason;
    int w;
#define ADD(...) do { w = snprintf(p, left, __VA_ARGS__); if (w > 0 && (size_t)w < left) { p += w; left -= (size_t)w; } } while (0)
    if (!v->all_raw) ADD("mixed signs (inverse lower in %zu of %zu); ", v->count_raw, n);
    else if (!v->sig_raw) ADD("too few cases for the sign test (p = %.3g > 0.05); ", v->p_raw);
    if (!v->gap2se_raw) ADD("mean gap %.4g < 2 SE (SE %.3g); ", v->mean_raw, v->se_raw);
    if (v->all_raw && !v->all_corrected) ADD("the gap does not survive the entropy correction (%zu of %zu); ", v->count_corrected, n);
    else if (!v->gap2se_corrected) ADD("corrected gap %.4g < 2 SE (SE %.3g); ", v->mean_corrected, v->se_corrected);
#undef ADD
    size_t len = strlen(v->reason);
    if (len >= 2) v->reason[len - 2] = '\0';
}

/* a result that cannot be read (alim_runner_result sets err) ends the reading */
#define GET(dst, cell) do { if (!((dst) = alim_runner_result(r->runner, (cell), err))) return err->status ? err->status : ALIM_EIO; } while (0)

/* Pair p of seed s (1-based): its forward and inverse fine-tunings into a record of
 * r->pairs_json, their loss curves into curves.csv, the gaps into case r->ncase. */
static alim_status read_pair(rs_run *r, size_t s, int p, FILE *curves, alim_error *err)
{
    const size_t *ix = &r->cix[(s - 1) * RS_PER_SEED];
    const rs_seedres *sr = r->sr;
    cJSON *result;
    const int k = rs_pair_k[p], l = rs_pair_l[p];
    double mean[2] = {NAN, NAN};
    cJSON *pj = cJSON_CreateObject();
    char pname[32];
    snprintf(pname, sizeof pname, "%d-%d", k, l);
    cJSON_AddStringToObject(pj, "pair", pname);
    cJSON_AddNumberToObject(pj, "k", k);
    cJSON_AddNumberToObject(pj, "l", l);
    cJSON_AddNumberToObject(pj, "seed", (double)s);
    cJSON_AddItemToArray(r->pairs_json, pj);
    for (int dir = 0; dir < 2; dir++) {
        const int to = dir ? k : l;
        const char *dname = dir ? "inverse" : "forward";
        GET(result, ix[2 + RS_N_SLICES + 2 * p + dir]);
        const cJSON *ls = cJSON_GetObjectItemCaseSensitive(result, "losses_nats");
        double first, last;
        const int n = rs_loss_stats(result, &first, &mean[dir], &last);
        for (int i = 0; i < n; i++) fprintf(curves, "%s,%zu,%s,%d,%.9g\n", pname, s, dname, i + 1, alim_json_number_value(cJSON_GetArrayItem(ls, i)));
        const double H = sr[s - 1].H[to];
        cJSON *dj = cJSON_AddObjectToObject(pj, dname);
        cJSON_AddStringToObject(dj, "model", dir ? (l == 2 ? "theta2" : "theta3") : (k == 1 ? "theta1" : "theta2"));
        char dn[32];
        snprintf(dn, sizeof dn, "D%d", to);
        cJSON_AddStringToObject(dj, "data", dn);
        cJSON_AddNumberToObject(dj, "steps", n);
        cJSON_AddNumberToObject(dj, "initial_nats", first);
        cJSON_AddNumberToObject(dj, "mean_nats", mean[dir]);
        cJSON_AddNumberToObject(dj, "final_nats", last);
        cJSON_AddNumberToObject(dj, "target_entropy_nats", H);
        cJSON_AddNumberToObject(dj, "excess_nats", mean[dir] - H);
        cJSON_AddNumberToObject(dj, "excess_initial_nats", first - H);
        cJSON_AddNumberToObject(dj, "excess_final_nats", last - H);
        cJSON_AddNumberToObject(dj, "tokens_per_s", alim_lab_json_num(result, "tokens_per_s"));
        cJSON_Delete(result);
    }
    const double g = mean[0] - mean[1];
    const double gc = (mean[0] - sr[s - 1].H[l]) - (mean[1] - sr[s - 1].H[k]);
    r->gap_raw[r->ncase] = g;
    r->gap_corr[r->ncase] = gc;
    r->ncase++;
    cJSON_AddNumberToObject(pj, "gap_nats", g);
    cJSON_AddNumberToObject(pj, "gap_corrected_nats", gc);
    cJSON_AddBoolToObject(pj, "inverse_lower", g > 0);
    cJSON_AddBoolToObject(pj, "inverse_lower_corrected", gc > 0);
    return ALIM_OK;
}

/* Seed s (1-based): its record of r->seeds_json (theta0, theta1..3, D1..D3), H_k into r->sr,
 * its pairs (read_pair). */
static alim_status read_seed(rs_run *r, size_t s, FILE *curves, alim_error *err)
{
    const alim_resist_config *cfg = r->cfg;
    const size_t *ix = &r->cix[(s - 1) * RS_PER_SEED];
    rs_seedres *sr = r->sr;
    cJSON *sj = cJSON_CreateObject(), *result;
    cJSON_AddNumberToObject(sj, "seed", (double)s);
    cJSON_AddItemToArray(r->seeds_json, sj);
    if (r->x.real) {
        r->num_params = (double)r->in.num_params;
        cJSON_AddStringToObject(sj, "theta0_model", cfg->theta0_model);
    } else {
        GET(result, ix[0]);
        r->num_params = alim_lab_json_num(result, "num_params");
        cJSON_AddItemToObject(sj, "theta0", result);
    }
    GET(result, ix[1]);
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(result, "slices");
    for (int k = 1; k <= RS_N_SLICES; k++) {
        char key[32];
        snprintf(key, sizeof key, "theta%d", k);
        cJSON_AddItemToObject(sj, key, cJSON_Duplicate(cJSON_GetArrayItem(sl, k - 1), 1));
    }
    cJSON_Delete(result);
    for (int k = 1; k <= RS_N_SLICES; k++) {
        GET(result, ix[1 + k]);
        sr[s - 1].H[k] = alim_lab_json_num(result, "H_nats");
        char key[32];
        snprintf(key, sizeof key, "D%d", k);
        cJSON_AddItemToObject(sj, key, result);
    }
    /* the fine-tuning pairs */
    for (int p = 0; p < RS_N_PAIRS; p++) {
        alim_status st = read_pair(r, s, p, curves, err);
        if (st) return st;
    }
    return ALIM_OK;
}
#undef GET

alim_status rs_read_results(rs_run *r, alim_error *err)
{
    const size_t S = r->S;
    r->gap_raw = calloc(S * RS_N_PAIRS, sizeof *r->gap_raw);
    r->gap_corr = calloc(S * RS_N_PAIRS, sizeof *r->gap_corr);
    r->summary = cJSON_CreateObject();
    if (!r->gap_raw || !r->gap_corr || !r->summary) return alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    r->pairs_json = cJSON_CreateArray();
    r->seeds_json = cJSON_CreateArray();
    char *curves_path = rs_path_join(r->cfg->run_dir, "curves.csv");
    alim_atomic_file curves = {0};
    alim_status st = curves_path ? alim_atomic_open(&curves, curves_path, err) : alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    free(curves_path);
    if (st) return st;
    fprintf(curves.fp, "pair,seed,direction,step,loss_nats\n");
    r->num_params = NAN;
    r->ncase = 0;
    for (size_t s = 1; s <= S && !st; s++) st = read_seed(r, s, curves.fp, err);
    if (st) {
        alim_atomic_abort(&curves);
        return st;
    }
    return alim_atomic_commit(&curves, err);
}


/* summary's description of the run, its per-seed records and pairs, the sign tests, criteria
 * and verdict */
static void describe(rs_run *r, const alim_resist_result *res)
{
    const alim_resist_config *cfg = r->cfg;
    cJSON *summary = r->summary;
    const alim_resist_verdict *v = &res->verdict;
    cJSON_AddStringToObject(summary, "experiment", r->x.real ? "E1 resistance on a pretrained model (elastic resist --theta0 MODEL)" : "E1 resistance (elastic resist)");
    cJSON_AddStringToObject(summary, "data_dir", cfg->data_dir);
    if (r->x.real) {
        cJSON_AddStringToObject(summary, "theta0_model", cfg->theta0_model);
        alim_lab_add_num(summary, "classifier_accuracy", r->in.nb_accuracy);
    }
    cJSON_AddStringToObject(summary, "run_dir", cfg->run_dir);
    cJSON_AddStringToObject(summary, "source", r->source);
    lab_add_config_record(summary, r->config, r->S);
    cJSON_AddNumberToObject(summary, "num_params", r->num_params);
    lab_add_run_stats(summary, res->cells_total, res->cells_run, res->cells_reused, res->wall_s, res->train_tokens_per_s);
    cJSON_AddItemToObject(summary, "per_seed", r->seeds_json);
    cJSON_AddItemToObject(summary, "pairs", r->pairs_json);
    r->seeds_json = r->pairs_json = NULL; /* the summary's now */
    cJSON *t = cJSON_AddObjectToObject(summary, "sign_test");
    cJSON_AddNumberToObject(t, "n", (double)v->n);
    cJSON_AddNumberToObject(t, "inverse_lower", (double)v->count_raw);
    cJSON_AddNumberToObject(t, "p_value", v->p_raw);
    cJSON_AddNumberToObject(t, "mean_gap_nats", v->mean_raw);
    if (isnan(v->se_raw)) cJSON_AddNullToObject(t, "se_gap_nats");
    else cJSON_AddNumberToObject(t, "se_gap_nats", v->se_raw);
    cJSON_AddNumberToObject(t, "inverse_lower_corrected", (double)v->count_corrected);
    cJSON_AddNumberToObject(t, "p_value_corrected", v->p_corrected);
    cJSON_AddNumberToObject(t, "mean_gap_corrected_nats", v->mean_corrected);
    if (isnan(v->se_corrected)) cJSON_AddNullToObject(t, "se_gap_corrected_nats");
    else cJSON_AddNumberToObject(t, "se_gap_corrected_nats", v->se_corrected);
    cJSON *cr = cJSON_AddObjectToObject(summary, "criteria");
    cJSON_AddStringToObject(cr, "all_inverse_lower", v->all_raw ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "sign_test_p_le_0.05", v->sig_raw ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "gap_ge_2se", v->gap2se_raw ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "all_inverse_lower_corrected", v->all_corrected ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "sign_test_corrected_p_le_0.05", v->sig_corrected ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "gap_corrected_ge_2se", v->gap2se_corrected ? "PASS" : "FAIL");
    cJSON_AddStringToObject(summary, "verdict", v->verdict);
    cJSON_AddStringToObject(summary, "verdict_reason", v->reason);
}

/* RUN/summary.csv: a row per (pair, seed) of summary["pairs"] */
static alim_status write_summary_csv(const rs_run *r, alim_error *err)
{
    char *sp = rs_path_join(r->cfg->run_dir, "summary.csv");
    alim_atomic_file f = {0};
    alim_status st = sp ? alim_atomic_open(&f, sp, err) : alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    free(sp);
    if (st) return st;
    fprintf(f.fp, "pair,seed,forward_steps,forward_initial_nats,forward_mean_nats,forward_final_nats,forward_excess_nats,"
                  "inverse_steps,inverse_initial_nats,inverse_mean_nats,inverse_final_nats,inverse_excess_nats,"
                  "H_k_nats,H_l_nats,gap_nats,gap_corrected_nats,inverse_lower,inverse_lower_corrected\n");
    const cJSON *pj;
    cJSON_ArrayForEach(pj, cJSON_GetObjectItemCaseSensitive(r->summary, "pairs")) {
        const cJSON *fw = cJSON_GetObjectItemCaseSensitive(pj, "forward"), *iv = cJSON_GetObjectItemCaseSensitive(pj, "inverse");
        fprintf(f.fp, "%s,%.0f,%.0f,%.9g,%.9g,%.9g,%.9g,%.0f,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%d\n",
                cJSON_GetObjectItemCaseSensitive(pj, "pair")->valuestring, alim_lab_json_num(pj, "seed"), alim_lab_json_num(fw, "steps"),
                alim_lab_json_num(fw, "initial_nats"), alim_lab_json_num(fw, "mean_nats"), alim_lab_json_num(fw, "final_nats"), alim_lab_json_num(fw, "excess_nats"),
                alim_lab_json_num(iv, "steps"), alim_lab_json_num(iv, "initial_nats"), alim_lab_json_num(iv, "mean_nats"), alim_lab_json_num(iv, "final_nats"),
                alim_lab_json_num(iv, "excess_nats"), alim_lab_json_num(iv, "target_entropy_nats"), alim_lab_json_num(fw, "target_entropy_nats"),
                alim_lab_json_num(pj, "gap_nats"), alim_lab_json_num(pj, "gap_corrected_nats"),
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower")),
                cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower_corrected")));
    }
    st = alim_atomic_commit(&f, err);
    return st;
}

alim_status rs_write_summary(rs_run *r, alim_resist_result *res, alim_error *err)
{
    alim_resist_judge(r->gap_raw, r->gap_corr, r->ncase, &res->verdict);
    alim_runner_stats rs;
    alim_runner_get_stats(r->runner, &rs);
    res->wall_s = alim_lab_now() - r->t_start;
    res->train_tokens_per_s = rs.train_s > 0 ? rs.train_tokens / rs.train_s : 0;
    describe(r, res);
    alim_status st = write_summary_csv(r, err);
    if (st) return st;
    char *jp = rs_path_join(r->cfg->run_dir, "summary.json");
    st = jp ? alim_lab_write_json(jp, r->summary, err) : alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    free(jp);
    if (st) return st;
    res->summary = r->summary;
    r->summary = NULL;
    return ALIM_OK;
}
