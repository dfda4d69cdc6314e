/* test_elastic_coefficient.c — E4's fit (slope through the origin, E_hat, bootstrap interval,
 * Hooke ratio), the oracle's E_hat against the closed form, the lab's Spearman rho, and the
 * typed analysis (alim_coefficient_analysis) against the JSON of the same analysis, on a
 * rebound summary made up here (no training). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alim/coefficient.h"
#include "alim/io.h"
#include "alim/lab.h"
#include "check.h"

/* closed form of spec §1.6, A = 1: Delta gamma_a and Delta gamma_p in bits at (k, l) */
static void closed_delta(const double *q, double k, double l, double *da, double *dp)
{
    const double N0 = k + 1, N = k + 1 + l;
    const double w0[3] = {q[0] * k / N0, (q[1] * k + 1) / N0, q[2] * k / N0};
    const double w[3] = {q[0] * k / N, (q[1] * k + 1) / N, (q[2] * k + l) / N};
    *da = -log2(w[1]) + log2(w0[1]);
    *dp = 0;
    for (int i = 0; i < 3; i++) *dp += q[i] * (-log2(w[i]) + log2(w0[i]));
}

/* A rebound summary as alim_rebound_run writes it, as far as E4 reads it: S seeds, the grid
 * n_pos x n_neg (n_neg[0] = 0) with gamma_p falling and gamma_a rising in l, seed by seed
 * a little differently; |D_p| = 16384, |D_a| = 33 n_pos tokens. */
static cJSON *fake_summary(size_t S, const size_t *np, size_t P, const size_t *nn, size_t N, const char *data_dir)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "experiment", "E2 rebound (elastic rebound)");
    cJSON_AddStringToObject(o, "data_dir", data_dir);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(o, "config"), "pretrain"), "tokens", 16384);
    const double sh[3] = {0.9, 0.05, 0.05};
    cJSON_AddItemToObject(o, "shares", cJSON_CreateDoubleArray(sh, 3));
    cJSON *at = cJSON_AddArrayToObject(o, "alignment_tokens");
    for (size_t i = 0; i < P; i++) {
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "n_pos", (double)np[i]);
        cJSON_AddNumberToObject(a, "tokens", 33.0 * (double)np[i]);
        cJSON_AddItemToArray(at, a);
    }
    cJSON *ps = cJSON_AddArrayToObject(o, "per_seed");
    for (size_t s = 0; s < S; s++) {
        cJSON *sd = cJSON_CreateObject(), *ev = cJSON_AddArrayToObject(sd, "evaluations");
        for (size_t i = 0; i < P; i++)
            for (size_t j = 0; j < N; j++) {
                const double l = (double)nn[j] / (double)np[i], wob = 1e-3 * sin((double)(7 * s + 3 * j + i));
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "model", "grid");
                cJSON_AddNumberToObject(e, "n_pos", (double)np[i]);
                cJSON_AddNumberToObject(e, "n_neg", (double)nn[j]);
                cJSON_AddNumberToObject(e, "gamma_mix_bits", 5.0 - 0.02 * l * (1 + 0.2 * (double)s) + (j ? wob : 0));
                cJSON_AddNumberToObject(e, "gamma_c2_bits", 6.0 + 0.9 * l * (1 + 0.1 * (double)s) / (1 + (double)i) - (j ? wob : 0));
                cJSON_AddItemToArray(ev, e);
            }
        cJSON_AddItemToArray(ps, sd);
    }
    return o;
}

static double jnum(const cJSON *o, const char *key)
{
    return alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* the same double: equal, or both NAN (JSON null) */
static int same(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* Every number of the typed analysis against its JSON (coefficient.json's content): bit for
 * bit, the JSON being the in-memory object (no printing in between). Returns the mismatches. */
static size_t analysis_vs_json(const alim_coefficient_analysis *an, const cJSON *j)
{
    size_t bad = 0, i = 0;
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(j, "per_n_pos"), *r;
    bad += (size_t)cJSON_GetArraySize(rows) != an->n_pos_count;
    cJSON_ArrayForEach(r, rows) {
        if (i >= an->n_pos_count) break;
        const alim_coefficient_estimate *x = &an->est[i];
        bad += jnum(r, "n_pos") != (double)an->n_pos[i] || jnum(r, "a_tokens") != an->a_tokens[i] || jnum(r, "k") != x->k ||
               jnum(r, "seeds") != (double)x->n_seeds;
        const cJSON *pts = cJSON_GetObjectItemCaseSensitive(r, "points"), *p;
        bad += (size_t)cJSON_GetArraySize(pts) != x->n_l;
        size_t k = 0;
        cJSON_ArrayForEach(p, pts) {
            if (k >= x->n_l) break;
            bad += jnum(p, "n_neg") != (double)an->n_neg[k] || jnum(p, "l") != x->l[k] ||
                   !same(jnum(p, "dgamma_p_bits_mean"), x->dgamma_p[k]) || !same(jnum(p, "dgamma_p_bits_se"), x->dgamma_p_se[k]) ||
                   !same(jnum(p, "dgamma_a_bits_mean"), x->dgamma_a[k]) || !same(jnum(p, "dgamma_a_bits_se"), x->dgamma_a_se[k]) ||
                   !same(jnum(p, "hooke"), x->hooke[k]) ||
                   (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p, "per_seed")) != x->n_seeds;
            k++;
        }
        bad += !same(jnum(r, "slope_p_bits_per_l"), x->slope_p) || !same(jnum(r, "slope_a_bits_per_l"), x->slope_a) ||
               !same(jnum(r, "e_hat"), x->e_hat) || !same(jnum(r, "e_hat_lo95"), x->e_lo) || !same(jnum(r, "e_hat_hi95"), x->e_hi) ||
               !same(jnum(r, "e_hat_over_k"), x->hooke_fit) || !same(jnum(r, "oracle_e_hat"), an->oracle_e_hat[i]) ||
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "signs_ok")) != (x->signs_ok != 0);
        i++;
    }
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(j, "criteria"), *c;
    bad += (size_t)cJSON_GetArraySize(cj) != an->n_criteria || an->n_criteria != ALIM_COEFFICIENT_N_CRITERIA;
    i = 0;
    cJSON_ArrayForEach(c, cj) {
        if (i >= an->n_criteria) break;
        const alim_coefficient_criterion *t = &an->criteria[i++];
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(c, "result"), *why = cJSON_GetObjectItemCaseSensitive(c, "why");
        bad += strcmp(c->string, t->name) != 0 || !cJSON_IsString(res) || strcmp(res->valuestring, t->result) != 0 || !cJSON_IsString(why) ||
               strcmp(why->valuestring, t->why) != 0;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "verdict");
    bad += !an->verdict || !cJSON_IsString(v) || strcmp(v->valuestring, an->verdict) != 0;
    return bad;
}

/* The typed analysis: against its JSON, without the JSON, through alim_coefficient_run on a
 * finished run (from_run) with its coefficient.csv, and its errors. */
static void test_typed_analysis(void)
{
    alim_error err;
    alim_error_clear(&err);
    char root[] = "/tmp/alim-test-coefficient-XXXXXX";
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return;
    }
    const size_t np[2] = {10, 40}, nn[4] = {0, 8, 16, 24};
    cJSON *sum = fake_summary(3, np, 2, nn, 4, root);
    double pre, q[3], a_tok[2];
    /* the one reader: the summary's evaluations, alignment tokens, |D_p| and shares, typed */
    alim_rebound_evaluations ev;
    CHECK(alim_rebound_evaluations_from_summary(sum, &ev, &err) == ALIM_OK, "reader: %s", err.what);
    pre = ev.pretrain_tokens, q[0] = ev.shares[0], q[1] = ev.shares[1], q[2] = ev.shares[2];
    CHECK(pre == 16384 && q[0] == 0.9 && q[1] == 0.05 && q[2] == 0.05, "rebound inputs: |D_p| %g, shares", pre);
    {
        size_t bad_ev = ev.n_seeds != 3;
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(sum, "per_seed");
        for (size_t s = 0; s < ev.n_seeds && s < 3; s++) {
            const cJSON *e;
            size_t k = 0;
            bad_ev += ev.seed[s].n_grid != 8 || ev.seed[s].has_control || ev.seed[s].n_control;
            cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ps, (int)s), "evaluations")) {
                const alim_rebound_eval *t = k < ev.seed[s].n_grid ? &ev.seed[s].grid[k] : NULL;
                k++;
                bad_ev += !t || t->n_pos != jnum(e, "n_pos") || t->n_neg != jnum(e, "n_neg") || t->gamma_mix_bits != jnum(e, "gamma_mix_bits") ||
                          t->gamma_c2_bits != jnum(e, "gamma_c2_bits") || !isnan(t->score);
            }
            const alim_rebound_eval *f = alim_rebound_evaluations_find(&ev, s, 0, 40, 16);
            bad_ev += !f || f != &ev.seed[s].grid[6] || alim_rebound_evaluations_find(&ev, s, 0, 40, 12) || alim_rebound_evaluations_find(&ev, s, 1, 40, 16);
        }
        bad_ev += ev.n_alignment != 2 || ev.alignment_n_pos[1] != 40 || ev.alignment_tokens[1] != 33 * 40;
        bad_ev += alim_rebound_evaluations_find(&ev, 3, 0, 10, 0) != NULL;
        CHECK(bad_ev == 0, "reader: typed evaluations = the summary's (%zu differ)", bad_ev);
        cJSON *bare = cJSON_CreateObject();
        alim_rebound_evaluations none;
        CHECK(alim_rebound_evaluations_from_summary(bare, &none, &err) == ALIM_OK && isnan(none.pretrain_tokens) && isnan(none.shares[0]) &&
                  isnan(none.shares[2]) && none.n_seeds == 0 && none.n_alignment == 0,
              "reader of a summary without them: NAN, empty");
        alim_rebound_evaluations_free(&none);
        cJSON_Delete(bare);
    }
    CHECK(alim_coefficient_alignment_tokens(&ev, root, np, 2, a_tok, &err) == ALIM_OK && a_tok[1] == 33 * 40, "alignment tokens");

    alim_coefficient_analysis an, an2;
    cJSON *out = NULL;
    CHECK(alim_coefficient_analyse(&ev, np, 2, nn + 1, 3, pre, a_tok, q, 500, 1, &an, &out, &err) == ALIM_OK, "analyse: %s", err.what);
    CHECK(out && an.n_pos_count == 2 && an.est[0].n_l == 3 && an.est[0].n_seeds == 3 && an.n_neg[2] == 24, "analysis shape");
    CHECK(isfinite(an.est[0].e_lo) && isfinite(an.oracle_e_hat[1]) && an.est[0].signs_ok, "interval, oracle and signs present");
    size_t bad = out ? analysis_vs_json(&an, out) : 1;
    CHECK(bad == 0, "typed analysis = its JSON (%zu differ)", bad);
    /* without JSON: the same numbers */
    CHECK(alim_coefficient_analyse(&ev, np, 2, nn + 1, 3, pre, a_tok, q, 500, 1, &an2, NULL, &err) == ALIM_OK, "analyse without JSON");
    CHECK(!memcmp(&an, &an2, sizeof an), "the typed analysis does not depend on the JSON being made");
    cJSON_Delete(out);
    /* one n_pos and no shares: criterion (c) NULL, no oracle */
    CHECK(alim_coefficient_analyse(&ev, np + 1, 1, nn + 1, 2, pre, a_tok + 1, NULL, 0, 1, &an, &out, &err) == ALIM_OK, "analyse one n_pos");
    bad = out ? analysis_vs_json(&an, out) : 1;
    CHECK(bad == 0 && isnan(an.oracle_e_hat[0]) && isnan(an.est[0].e_lo) && !strcmp(an.criteria[2].result, "NULL") &&
          !strcmp(an.criteria[2].why, "needs >= 2 n_pos") && !strcmp(an.verdict, "NULL"),
          "one n_pos, no shares, no bootstrap (%zu differ)", bad);
    cJSON_Delete(out);
    /* errors: a point the grid lacks, too many n_pos; nothing returned */
    const size_t missing[1] = {12}, many[ALIM_COEFFICIENT_MAX_N_POS + 1] = {10};
    double many_a[ALIM_COEFFICIENT_MAX_N_POS + 1] = {330};
    out = NULL;
    CHECK(alim_coefficient_analyse(&ev, np, 2, missing, 1, pre, a_tok, q, 0, 1, &an, &out, &err) == ALIM_EINVAL && !out && an.n_pos_count == 0 &&
              !an.verdict,
          "a missing grid point refused, nothing returned");
    CHECK(alim_coefficient_analyse(&ev, many, ALIM_COEFFICIENT_MAX_N_POS + 1, nn + 1, 1, pre, many_a, q, 0, 1, &an, &out, &err) == ALIM_EINVAL,
          "more than %d n_pos refused", ALIM_COEFFICIENT_MAX_N_POS);

    /* alim_coefficient_run on the made-up run: res.analysis is res.summary's numbers, and
     * coefficient.csv (%.9g) holds them */
    char e2[256], e4[256], path[300];
    snprintf(e2, sizeof e2, "%s/e2", root);
    snprintf(e4, sizeof e4, "%s/e4", root);
    snprintf(path, sizeof path, "%s/summary.json", e2);
    CHECK(mkdir(e2, 0777) == 0 && alim_lab_write_json(path, sum, &err) == ALIM_OK, "write the rebound summary");
    alim_coefficient_config cfg;
    alim_coefficient_config_quick(&cfg);
    cfg.from_run = e2;
    cfg.rebound.run_dir = e4;
    cfg.n_boot = 300;
    alim_coefficient_result res;
    CHECK(alim_coefficient_run(&cfg, NULL, NULL, NULL, &res, &err) == ALIM_OK, "coefficient from_run: %s", err.what);
    bad = res.summary ? analysis_vs_json(&res.analysis, res.summary) : 1;
    CHECK(bad == 0 && res.verdict == res.analysis.verdict && res.pretrain_tokens == 16384, "run: typed = summary (%zu differ)", bad);
    /* the strings the text output prints: typed = the summary's (source NULL when the summary has none) */
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(res.summary, "source"), *dd = cJSON_GetObjectItemCaseSensitive(res.summary, "data_dir"),
                *gp = cJSON_GetObjectItemCaseSensitive(res.summary, "gamma_p");
    CHECK((src ? cJSON_IsString(src) && res.source && !strcmp(res.source, src->valuestring) : !res.source) && cJSON_IsString(dd) && res.data_dir &&
              !strcmp(res.data_dir, dd->valuestring) && cJSON_IsString(gp) && res.gamma_p && !strcmp(res.gamma_p, gp->valuestring) &&
              strstr(res.gamma_p, "test_mix"),
          "run: typed source, data_dir, gamma_p = summary's (%s, %s)", res.source ? res.source : "(none)", res.data_dir ? res.data_dir : "(null)");
    snprintf(path, sizeof path, "%s/coefficient.csv", e4);
    FILE *fp = fopen(path, "r");
    char line[1024];
    size_t rows = 0;
    bad = !fp || !fgets(line, sizeof line, fp);
    while (fp && fgets(line, sizeof line, fp)) {
        double v[17];
        int n = sscanf(line, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                       &v[7], &v[8], &v[9], &v[10], &v[11], &v[12], &v[13], &v[14], &v[15], &v[16]);
        const size_t i = rows / 3, jj = rows % 3;
        rows++;
        if (n != 17 || i >= res.analysis.n_pos_count) {
            bad++;
            continue;
        }
        const alim_coefficient_estimate *x = &res.analysis.est[i];
        const double want[17] = {(double)res.analysis.n_pos[i], x->k, (double)res.analysis.n_neg[jj], x->l[jj], (double)x->n_seeds, x->dgamma_p[jj],
                                 x->dgamma_p_se[jj], x->dgamma_a[jj], x->dgamma_a_se[jj], x->hooke[jj], x->slope_p, x->slope_a, x->e_hat,
                                 x->e_lo, x->e_hi, x->hooke_fit, res.analysis.oracle_e_hat[i]};
        for (int c = 0; c < 17; c++) bad += !(fabs(v[c] - want[c]) <= 1e-8 * fabs(want[c]));
    }
    if (fp) fclose(fp);
    CHECK(bad == 0 && rows == 6, "coefficient.csv holds the typed numbers (%zu rows, %zu differ)", rows, bad);
    const alim_coefficient_analysis an_grid = res.analysis;
    alim_coefficient_result_free(&res);
    CHECK(!res.summary && !res.verdict && res.analysis.n_pos_count == 0 && !res.source && !res.data_dir && !res.gamma_p,
          "free leaves an empty result");
    /* control: a run whose control evaluations are the grid's above and whose own grid differs
     * is analysed from its control evaluations, through the reader */
    {
        char e2c[256], e4c[256];
        snprintf(e2c, sizeof e2c, "%s/e2c", root);
        snprintf(e4c, sizeof e4c, "%s/e4c", root);
        cJSON *sc = cJSON_Duplicate(sum, 1), *sd;
        cJSON_ArrayForEach(sd, cJSON_GetObjectItemCaseSensitive(sc, "per_seed")) {
            cJSON *ce = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(sd, "evaluations"), 1), *e;
            cJSON_ArrayForEach(e, ce) cJSON_ReplaceItemInObjectCaseSensitive(e, "model", cJSON_CreateString("control"));
            cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(sd, "evaluations"))
                cJSON_ReplaceItemInObjectCaseSensitive(e, "gamma_c2_bits", cJSON_CreateNumber(7 - jnum(e, "gamma_c2_bits")));
            cJSON_AddItemToObject(sd, "control_evaluations", ce);
        }
        snprintf(path, sizeof path, "%s/summary.json", e2c);
        CHECK(mkdir(e2c, 0777) == 0 && alim_lab_write_json(path, sc, &err) == ALIM_OK, "write the control run's summary");
        cfg.from_run = e2c;
        cfg.rebound.run_dir = e4c;
        cfg.control = 1;
        CHECK(alim_coefficient_run(&cfg, NULL, NULL, NULL, &res, &err) == ALIM_OK, "coefficient from_run --control: %s", err.what);
        CHECK(!memcmp(&res.analysis.est, &an_grid.est, sizeof an_grid.est) && res.analysis.verdict == an_grid.verdict,
              "control: the control evaluations analysed, as the grid's were");
        alim_coefficient_result_free(&res);
        cfg.control = 0;
        CHECK(alim_coefficient_run(&cfg, NULL, NULL, NULL, &res, &err) == ALIM_OK && memcmp(&res.analysis.est, &an_grid.est, sizeof an_grid.est),
              "without control: the run's own grid, which differs");
        alim_coefficient_result_free(&res);
        cfg.from_run = e2;
        cfg.rebound.run_dir = e4;
        cfg.control = 1;
        CHECK(alim_coefficient_run(&cfg, NULL, NULL, NULL, &res, &err) == ALIM_EINVAL && strstr(err.what, "has no control cells"),
              "control on a run without control cells refused: %s", err.what);
        cfg.control = 0;
        cJSON_Delete(sc);
    }
    /* a refused run returns nothing to free */
    cfg.rebound.n_neg[1] = 12;
    CHECK(alim_coefficient_run(&cfg, NULL, NULL, NULL, &res, &err) == ALIM_EINVAL && !res.summary && res.analysis.n_pos_count == 0,
          "refused run: empty result");
    alim_rebound_evaluations_free(&ev);
    CHECK(!ev.seed && !ev.n_seeds && !ev.alignment_tokens, "free leaves empty evaluations");
    cJSON_Delete(sum);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "clean up");
}

int main(int argc, char **argv)
{
    (void)argc;
    alim_error err;
    alim_error_clear(&err);

    /* slope through the origin: sum xy / sum x^2 */
    const double x[3] = {1, 2, 3}, y[3] = {2, 4.5, 5.5};
    CHECK_ABS(alim_coefficient_slope0(x, y, 3), (2 + 9 + 16.5) / 14.0, 1e-15, "slope0");
    const double z[2] = {0, 0};
    CHECK(isnan(alim_coefficient_slope0(z, y, 2)), "slope0 of x = 0 is NAN");

    /* exact lines: dgp = -0.1 l, dga = 0.7 l for every seed -> E_hat = 7 with a zero-width interval */
    {
        const double l[3] = {0.01, 0.02, 0.05};
        double dgp[9], dga[9];
        for (int s = 0; s < 3; s++)
            for (int j = 0; j < 3; j++) dgp[s * 3 + j] = -0.1 * l[j], dga[s * 3 + j] = 0.7 * l[j];
        alim_coefficient_estimate e;
        CHECK(alim_coefficient_fit(l, 3, dgp, dga, 3, 10, 500, 1, &e, &err) == ALIM_OK, "fit ok");
        CHECK_REL(e.e_hat, 7, 1e-12, "E_hat of exact lines");
        CHECK_REL(e.slope_p, -0.1, 1e-12, "slope_p");
        CHECK_REL(e.slope_a, 0.7, 1e-12, "slope_a");
        CHECK_REL(e.e_lo, 7, 1e-12, "interval low of identical seeds");
        CHECK_REL(e.e_hi, 7, 1e-12, "interval high of identical seeds");
        CHECK_REL(e.hooke_fit, 0.7, 1e-12, "E_hat / k");
        CHECK_REL(e.hooke[1], 0.7, 1e-12, "Hooke per l");
        CHECK(e.signs_ok, "signs");
        CHECK(e.dgamma_p_se[0] == 0, "SE of identical seeds is 0");
    }
    /* seeds that differ: the point estimate is the fit on the seed means, the interval
     * brackets it and lies within the per-seed extremes (every resample is a mix of seeds) */
    {
        const double l[2] = {0.1, 0.2};
        const double dgp[6] = {-0.01, -0.02, -0.02, -0.04, -0.015, -0.03};
        const double dga[6] = {0.05, 0.10, 0.04, 0.08, 0.09, 0.18};
        alim_coefficient_estimate e;
        CHECK(alim_coefficient_fit(l, 2, dgp, dga, 3, 5, 4000, 7, &e, &err) == ALIM_OK, "fit ok");
        /* seed means: dgp = (-0.015, -0.03), dga = (0.06, 0.12) -> E_hat = 4 */
        CHECK_REL(e.e_hat, 4, 1e-12, "E_hat of the seed means");
        CHECK(e.e_lo <= e.e_hat && e.e_hat <= e.e_hi, "interval brackets E_hat: [%g, %g]", e.e_lo, e.e_hi);
        CHECK(e.e_lo >= 2 - 1e-12 && e.e_hi <= 6 + 1e-12, "interval within the per-seed E_hat (5, 2, 6): [%g, %g]", e.e_lo, e.e_hi);
        CHECK(e.e_lo < e.e_hi, "a non-degenerate interval");
        alim_coefficient_estimate e2;
        alim_coefficient_fit(l, 2, dgp, dga, 3, 5, 4000, 7, &e2, &err);
        CHECK(e2.e_lo == e.e_lo && e2.e_hi == e.e_hi, "bootstrap deterministic for a seed");
        CHECK_ABS(e.dgamma_a_se[0], sqrt(((0.05 - 0.06) * (0.05 - 0.06) + (0.04 - 0.06) * (0.04 - 0.06) + (0.09 - 0.06) * (0.09 - 0.06)) / 2 / 3), 1e-15,
                  "SE of dgamma_a");
        alim_coefficient_estimate one;
        CHECK(alim_coefficient_fit(l, 2, dgp, dga, 1, 5, 1000, 1, &one, &err) == ALIM_OK, "one seed");
        CHECK_REL(one.e_hat, 5, 1e-12, "E_hat of seed 1");
        CHECK(isnan(one.e_lo) && isnan(one.e_hi), "no interval with one seed");
    }
    /* wrong signs are reported, not hidden */
    {
        const double l[1] = {0.1}, dgp[1] = {0.01}, dga[1] = {0.02};
        alim_coefficient_estimate e;
        alim_coefficient_fit(l, 1, dgp, dga, 1, 5, 0, 1, &e, &err);
        CHECK(!e.signs_ok && e.e_hat < 0, "gamma_p rising: signs not ok, E_hat < 0");
    }
    /* errors */
    {
        const double l[2] = {0.1, -0.2}, d[2] = {0, 0}, bad[2] = {NAN, 0};
        alim_coefficient_estimate e;
        CHECK(alim_coefficient_fit(l, 2, d, d, 1, 5, 0, 1, &e, &err) == ALIM_EINVAL, "l <= 0 refused");
        CHECK(alim_coefficient_fit(l, 1, bad, d, 1, 5, 0, 1, &e, &err) == ALIM_EINVAL, "NaN refused");
        CHECK(alim_coefficient_fit(l, 1, d, d, 1, 0, 0, 1, &e, &err) == ALIM_EINVAL, "k = 0 refused");
        CHECK(alim_coefficient_fit(l, 0, d, d, 1, 5, 0, 1, &e, &err) == ALIM_EINVAL, "no l refused");
    }

    /* the oracle's E_hat against the closed form, and -> k as l -> 0 */
    {
        const double q[3] = {0.9, 0.05, 0.05};
        const double ks[3] = {7.75, 77.5, 1000}, l[3] = {0.01, 0.02, 0.05};
        for (int a = 0; a < 3; a++) {
            double da[3], dp[3], e;
            for (int j = 0; j < 3; j++) closed_delta(q, ks[a], l[j], &da[j], &dp[j]);
            const double want = -alim_coefficient_slope0(l, da, 3) / alim_coefficient_slope0(l, dp, 3);
            CHECK(alim_coefficient_oracle(q, ks[a], l, 3, &e, &err) == ALIM_OK, "oracle ok");
            CHECK_REL(e, want, 1e-9, "oracle E_hat = closed form");
        }
        const double tiny[2] = {1e-6, 2e-6}, qe[3] = {1.0 / 3, 1.0 / 3, 1.0 / 3};
        double e;
        alim_coefficient_oracle(qe, 100, tiny, 2, &e, &err);
        CHECK_REL(e, 100, 1e-3, "oracle E_hat -> k as l -> 0");
        const double qn[3] = {0.95, 0.05, 0};
        CHECK(alim_coefficient_oracle(qn, 10, l, 3, &e, &err) != ALIM_OK || !(e > 0), "novel C3: no positive E_hat");
    }

    /* Spearman rho: known values, ties as mean ranks (values from scipy.stats.spearmanr) */
    {
        const double a[5] = {1, 2, 3, 4, 5}, b[5] = {5, 6, 7, 8, 7};
        CHECK_ABS(alim_lab_spearman(a, b, 5), 0.8207826816681233, 1e-12, "rho with a tie");
        const double c[5] = {2, 1, 4, 3, 5};
        CHECK_ABS(alim_lab_spearman(a, c, 5), 0.8, 1e-12, "rho without ties");
        const double d[4] = {0, 0, 1, 1}, f[4] = {3, 1, 2, 0};
        CHECK_ABS(alim_lab_spearman(d, f, 4), -0.4472135954999579, 1e-12, "rho with tied levels");
        const double g[3] = {1, 1, 1};
        CHECK(isnan(alim_lab_spearman(a, g, 3)), "constant side: NAN");
        CHECK(isnan(alim_lab_spearman(a, b, 1)), "n = 1: NAN");
    }

    test_typed_analysis();
    return check_summary(argv[0]);
}
