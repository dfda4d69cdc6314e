/* resist_summary.c — E1's statistics and summary: the sign test and alim_resist_judge; the
 * cells' results read back in a fixed order (so the summary never depends on which worker or
 * rank finished first) into the result's typed cases, curves.csv; summary.csv and summary.json
 * written from the cases (resist_impl.h names the other files). */
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

/* the summary.json record of a case, written from it; tokens_per_s[dir] (forward, inverse)
 * are the runs' speeds, recorded there only */
static cJSON *case_json(const alim_resist_case *c, const double tokens_per_s[2])
{
    cJSON *pj = cJSON_CreateObject();
    cJSON_AddStringToObject(pj, "pair", c->pair);
    cJSON_AddNumberToObject(pj, "k", c->k);
    cJSON_AddNumberToObject(pj, "l", c->l);
    cJSON_AddNumberToObject(pj, "seed", (double)c->seed);
    for (int dir = 0; dir < 2; dir++) {
        const alim_resist_finetune *d = dir ? &c->inverse : &c->forward;
        const int to = dir ? c->k : c->l;
        cJSON *dj = cJSON_AddObjectToObject(pj, dir ? "inverse" : "forward");
        cJSON_AddStringToObject(dj, "model", dir ? (c->l == 2 ? "theta2" : "theta3") : (c->k == 1 ? "theta1" : "theta2"));
        char dn[32];
        snprintf(dn, sizeof dn, "D%d", to);
        cJSON_AddStringToObject(dj, "data", dn);
        cJSON_AddNumberToObject(dj, "steps", d->steps);
        cJSON_AddNumberToObject(dj, "initial_nats", d->initial_nats);
        cJSON_AddNumberToObject(dj, "mean_nats", d->mean_nats);
        cJSON_AddNumberToObject(dj, "final_nats", d->final_nats);
        cJSON_AddNumberToObject(dj, "target_entropy_nats", d->target_entropy_nats);
        cJSON_AddNumberToObject(dj, "excess_nats", d->mean_nats - d->target_entropy_nats);
        cJSON_AddNumberToObject(dj, "excess_initial_nats", d->initial_nats - d->target_entropy_nats);
        cJSON_AddNumberToObject(dj, "excess_final_nats", d->final_nats - d->target_entropy_nats);
        cJSON_AddNumberToObject(dj, "tokens_per_s", tokens_per_s[dir]);
    }
    cJSON_AddNumberToObject(pj, "gap_nats", c->gap_nats);
    cJSON_AddNumberToObject(pj, "gap_corrected_nats", c->gap_corrected_nats);
    cJSON_AddBoolToObject(pj, "inverse_lower", c->inverse_lower);
    cJSON_AddBoolToObject(pj, "inverse_lower_corrected", c->inverse_lower_corrected);
    return pj;
}

/* Pair p of seed s (1-based): its forward and inverse fine-tunings into case r->cases[r->ncase]
 * (and its record of r->pairs_json, written from it), their loss curves into curves.csv. */
static alim_status read_pair(rs_run *r, size_t s, int p, FILE *curves, alim_error *err)
{
    const size_t *ix = &r->cix[(s - 1) * RS_PER_SEED];
    const rs_seedres *sr = r->sr;
    cJSON *result;
    alim_resist_case *c = &r->cases[r->ncase];
    c->k = rs_pair_k[p], c->l = rs_pair_l[p], c->seed = s;
    snprintf(c->pair, sizeof c->pair, "%d-%d", c->k, c->l);
    double tokens_per_s[2];
    for (int dir = 0; dir < 2; dir++) {
        alim_resist_finetune *d = dir ? &c->inverse : &c->forward;
        GET(result, ix[2 + RS_N_SLICES + 2 * p + dir]);
        const cJSON *ls = cJSON_GetObjectItemCaseSensitive(result, "losses_nats");
        d->steps = rs_loss_stats(result, &d->initial_nats, &d->mean_nats, &d->final_nats);
        for (int i = 0; i < d->steps; i++)
            fprintf(curves, "%s,%zu,%s,%d,%.9g\n", c->pair, s, dir ? "inverse" : "forward", i + 1, alim_json_number_value(cJSON_GetArrayItem(ls, i)));
        d->target_entropy_nats = sr[s - 1].H[dir ? c->k : c->l];
        tokens_per_s[dir] = alim_lab_json_num(result, "tokens_per_s");
        cJSON_Delete(result);
    }
    c->gap_nats = c->forward.mean_nats - c->inverse.mean_nats;
    c->gap_corrected_nats = (c->forward.mean_nats - sr[s - 1].H[c->l]) - (c->inverse.mean_nats - sr[s - 1].H[c->k]);
    c->inverse_lower = c->gap_nats > 0;
    c->inverse_lower_corrected = c->gap_corrected_nats > 0;
    r->gap_raw[r->ncase] = c->gap_nats;
    r->gap_corr[r->ncase] = c->gap_corrected_nats;
    r->ncase++;
    cJSON_AddItemToArray(r->pairs_json, case_json(c, tokens_per_s));
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
    r->cases = calloc(S * RS_N_PAIRS, sizeof *r->cases);
    r->gap_raw = calloc(S * RS_N_PAIRS, sizeof *r->gap_raw);
    r->gap_corr = calloc(S * RS_N_PAIRS, sizeof *r->gap_corr);
    r->summary = cJSON_CreateObject();
    if (!r->cases || !r->gap_raw || !r->gap_corr || !r->summary) return alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
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
    cJSON_AddStringToObject(summary, "source", res->source);
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

/* RUN/summary.csv: a row per case (pair, seed), as summary["pairs"] */
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
    for (size_t q = 0; q < r->ncase; q++) {
        const alim_resist_case *c = &r->cases[q];
        const alim_resist_finetune *fw = &c->forward, *iv = &c->inverse;
        fprintf(f.fp, "%s,%zu,%d,%.9g,%.9g,%.9g,%.9g,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%d\n", c->pair, c->seed, fw->steps,
                fw->initial_nats, fw->mean_nats, fw->final_nats, fw->mean_nats - fw->target_entropy_nats, iv->steps, iv->initial_nats,
                iv->mean_nats, iv->final_nats, iv->mean_nats - iv->target_entropy_nats, iv->target_entropy_nats, fw->target_entropy_nats,
                c->gap_nats, c->gap_corrected_nats, c->inverse_lower, c->inverse_lower_corrected);
    }
    st = alim_atomic_commit(&f, err);
    return st;
}

alim_status rs_write_summary(rs_run *r, alim_resist_result *res, alim_error *err)
{
    /* r->source points into the data's manifest, which the run frees: the result keeps a copy */
    if (!(res->source = strdup(r->source))) return alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
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
    res->num_params = r->num_params;
    res->cases = r->cases;
    res->n_cases = r->ncase;
    r->cases = NULL;
    return ALIM_OK;
}
