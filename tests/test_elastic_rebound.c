/* test_elastic_rebound.c — the pure functions of E2 (alim/rebound.h): n*(eps) interpolation,
 * the criteria on hand-made grids, the Bayes labels on known chains, the configurations; and
 * a tiny run from an external theta0 (E3's budgets), refused for a checkpoint of another shape. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/datadir.h"
#include "alim/io.h"
#include "alim/lm_train.h"
#include "alim/rebound.h"
#include "alim/source.h"
#include "../src/elastic/rebound_real.h"
#include "check.h"
#include "lab_fixture.h"

static void test_nstar(void)
{
    const double n[] = {0, 20, 40, 100, 200, 400};
    const double kl1[] = {0.2, 0.1, 0.05, 0.02, 0.005, 0.001};
    /* below 0.01 first at 200: 100 + (0.02 - 0.01) / (0.02 - 0.005) * 100 */
    CHECK_ABS(alim_rebound_nstar(n, kl1, 6, 0.01), 100 + 0.01 / 0.015 * 100, 1e-9, "interpolated");
    CHECK_ABS(alim_rebound_nstar(n, kl1, 6, 0.15), 0 + (0.2 - 0.15) / 0.1 * 20, 1e-9, "first segment");
    CHECK_ABS(alim_rebound_nstar(n, kl1, 6, 0.5), 0, 0, "already below at n_neg 0");
    CHECK(isnan(alim_rebound_nstar(n, kl1, 6, 0.0005)), "never below: NAN");
    const double kl2[] = {0.2, 0.1, 0.3, 0.005, 0.5, 0.001}; /* not monotone: the first crossing counts */
    CHECK_ABS(alim_rebound_nstar(n, kl2, 6, 0.01), 40 + (0.3 - 0.01) / (0.3 - 0.005) * 60, 1e-9, "first crossing");
    const double kl3[] = {0.02, 0.01, 0.001}; /* exactly eps is not below */
    CHECK_ABS(alim_rebound_nstar(n, kl3, 3, 0.01), 20 + (0.01 - 0.01) / (0.01 - 0.001) * 20, 1e-9, "eps itself is not < eps");
}

/* a rebound-shaped grid: score at 0 rises with n_pos, a steep early drop growing with n_pos,
 * then flat; gamma_mix goes back to theta0, gamma_C2 rises */
static void make_grid(double *score, double *gmix, double *gc2, double strength, int back)
{
    const double nneg[6] = {0, 20, 40, 100, 200, 400};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) {
            const double s0 = 0.2 + 0.1 * i, depth = strength * (0.2 + 0.1 * i);
            score[i * 6 + j] = s0 - depth * (1 - exp(-nneg[j] / 15.0));
            gmix[i * 6 + j] = 3.0 + 0.05 * (i + 1) * (back ? exp(-nneg[j] / 50.0) : 1 + nneg[j] / 400.0);
            gc2[i * 6 + j] = 2.8 + 0.001 * nneg[j];
        }
}

static void test_judge(void)
{
    double np[4] = {200, 400, 1000, 2000}, nn[6] = {0, 20, 40, 100, 200, 400};
    double sc[24], gm[24], g2[24], csc[24], cgm[24], cg2[24];
    make_grid(sc, gm, g2, 1.0, 1);
    alim_rebound_grid g = {4, 6, np, nn, sc, gm, g2, 3.0};
    alim_rebound_criteria c;
    alim_rebound_judge(&g, NULL, &c);
    CHECK(!strcmp(c.a, "PASS") && !strcmp(c.b, "PASS") && !strcmp(c.c, "PASS") && !strcmp(c.d, "PASS"), "rebound grid: %s %s %s %s", c.a,
          c.b, c.c, c.d);
    CHECK(!strcmp(c.e, "NULL") && !strcmp(c.verdict, "NULL"), "no control: (e) NULL, verdict NULL (%s, %s)", c.e, c.verdict);
    CHECK(c.early_slope > 3 * c.late_slope, "slopes %g %g", c.early_slope, c.late_slope);
    for (int i = 1; i < 4; i++) CHECK(c.drop[i] > c.drop[i - 1], "drops grow");
    /* a control with a weak, linear decline and no return: (e) PASS, verdict PASS */
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) csc[i * 6 + j] = 0.2 - 0.0001 * nn[j];
    double unused[24];
    make_grid(unused, cgm, cg2, 0.0, 0);
    alim_rebound_grid cg = {4, 6, np, nn, csc, cgm, cg2, 3.0};
    alim_rebound_judge(&g, &cg, &c);
    CHECK(!strcmp(c.e, "PASS") && !strcmp(c.verdict, "PASS"), "control weaker: (e) %s, verdict %s (%s)", c.e, c.verdict, c.why[4]);
    /* the same behaviour in the control: (e) FAIL */
    alim_rebound_grid same = g;
    alim_rebound_judge(&g, &same, &c);
    CHECK(!strcmp(c.e, "FAIL") && !strcmp(c.verdict, "NULL"), "same in control: (e) %s", c.e);
    /* a linear decline: (c) FAIL */
    double lin[24];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) lin[i * 6 + j] = 0.2 + 0.1 * i - (0.001 * (i + 1)) * nn[j];
    alim_rebound_grid gl = {4, 6, np, nn, lin, gm, g2, 3.0};
    alim_rebound_judge(&gl, NULL, &c);
    CHECK(!strcmp(c.c, "FAIL") && !strcmp(c.a, "PASS") && !strcmp(c.b, "PASS"), "linear: c %s a %s b %s", c.c, c.a, c.b);
    /* drops that do not depend on n_pos: (b) FAIL; score not rising: (a) FAIL */
    double flat[24];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 6; j++) flat[i * 6 + j] = 0.3 - 0.2 * (1 - exp(-nn[j] / 15.0));
    alim_rebound_grid gf = {4, 6, np, nn, flat, gm, g2, 3.0};
    alim_rebound_judge(&gf, NULL, &c);
    CHECK(!strcmp(c.a, "FAIL") && !strcmp(c.b, "FAIL") && !strcmp(c.c, "PASS"), "flat in n_pos: a %s b %s c %s", c.a, c.b, c.c);
    /* (b): one of three steps down is not enough (need ceil(3/4 * 3) = 3) */
    double sb[24];
    memcpy(sb, sc, sizeof sb);
    for (int j = 1; j < 6; j++) sb[2 * 6 + j] = sb[2 * 6 + 0] - 0.5 * (sc[1 * 6 + 0] - sc[1 * 6 + j]);
    alim_rebound_grid gb = {4, 6, np, nn, sb, gm, g2, 3.0};
    alim_rebound_judge(&gb, NULL, &c);
    CHECK(!strcmp(c.b, "FAIL"), "one drop step down: b %s (%s)", c.b, c.why[1]);
    /* (d): gamma_mix moving away from theta0 fails */
    double away[24];
    for (int i = 0; i < 24; i++) away[i] = 3.0 + 0.01 * (i % 6);
    alim_rebound_grid gd = {4, 6, np, nn, sc, away, g2, 3.0};
    alim_rebound_judge(&gd, NULL, &c);
    CHECK(!strcmp(c.d, "FAIL"), "gamma_mix away: d %s", c.d);
    /* gamma_C2 falling fails (d) too */
    double down[24];
    for (int i = 0; i < 24; i++) down[i] = 2.8 - 0.01 * (i % 6);
    alim_rebound_grid gd2 = {4, 6, np, nn, sc, gm, down, 3.0};
    alim_rebound_judge(&gd2, NULL, &c);
    CHECK(!strcmp(c.d, "FAIL"), "gamma_C2 down: d %s", c.d);
    /* not evaluable: NaN, too few points */
    double nanv[24];
    memcpy(nanv, sc, sizeof nanv);
    nanv[5] = NAN;
    alim_rebound_grid gn = {4, 6, np, nn, nanv, gm, g2, 3.0};
    alim_rebound_judge(&gn, NULL, &c);
    CHECK(!strcmp(c.a, "NULL") && !strcmp(c.d, "NULL") && !strcmp(c.verdict, "NULL"), "NaN: all NULL");
    alim_rebound_grid g3 = {4, 3, np, nn, sc, gm, g2, 3.0};
    alim_rebound_judge(&g3, NULL, &c);
    CHECK(!strcmp(c.b, "NULL"), "3 n_neg values: NULL");
    /* a control of another shape: (e) NULL */
    alim_rebound_grid cg3 = {3, 6, np, nn, csc, cgm, cg2, 3.0};
    alim_rebound_judge(&g, &cg3, &c);
    CHECK(!strcmp(c.e, "NULL"), "control of another shape: e %s", c.e);
}

static void test_labels(void)
{
    alim_source src;
    alim_source_config sc;
    alim_source_config_default(&sc);
    alim_error err;
    alim_error_clear(&err);
    CHECK(alim_source_build(&src, &sc, &err) == ALIM_OK, "build S: %s", err.what);
    /* documents of each component: C2 and C3 documents (which visit decision rows) get their
     * own label; a document that never leaves the shared rows is a tie */
    size_t right[3] = {0}, ties[3] = {0}, n = 300;
    for (size_t k = 0; k < 3; k++) {
        alim_corpus c = {0};
        CHECK(alim_source_generate(&src, NULL, k, n, 7, 100 + k, &c, NULL, &err) == ALIM_OK, "generate");
        for (size_t d = 0; d < c.n_docs; d++) {
            size_t len;
            const uint8_t *p = alim_corpus_doc(&c, d, &len);
            int l = alim_rebound_label_markov(src.comp, 3, p, len);
            right[k] += l == (int)k;
            ties[k] += l == -1;
        }
        alim_corpus_free(&c);
    }
    for (size_t k = 0; k < 3; k++) CHECK(right[k] + ties[k] == n && right[k] >= n - 2, "component %zu: %zu right, %zu ties", k + 1, right[k], ties[k]);
    /* a C2 document with one corrupted transition (a byte that is no symbol) keeps its label;
     * a C2 document followed by C3 transitions in decision rows goes to the one with fewer
     * impossible transitions */
    alim_corpus c2 = {0}, c3 = {0};
    alim_source_generate(&src, NULL, 1, 20, 9, 1, &c2, NULL, &err);
    alim_source_generate(&src, NULL, 2, 20, 9, 2, &c3, NULL, &err);
    size_t kept = 0;
    for (size_t d = 0; d < 20; d++) {
        size_t len;
        uint8_t buf[256];
        const uint8_t *src_doc = alim_corpus_doc(&c2, d, &len);
        memcpy(buf, src_doc, len);
        int before = alim_rebound_label_markov(src.comp, 3, buf, len);
        buf[len / 2] = '!';
        kept += alim_rebound_label_markov(src.comp, 3, buf, len) == before;
    }
    CHECK(kept == 20, "a non-symbol byte counts against every component alike (%zu of 20 kept)", kept);
    /* hand-made: symbol 0 is a decision row; its successors under C2 and C3 are disjoint */
    const size_t N = src.comp[0].n;
    int s2 = -1, s3 = -1, s1 = -1;
    for (size_t t = 0; t < N; t++) {
        if (src.comp[1].P[t] > 0 && s2 < 0) s2 = (int)t;
        if (src.comp[2].P[t] > 0 && s3 < 0) s3 = (int)t;
        if (src.comp[0].P[t] > 0 && s1 < 0) s1 = (int)t;
    }
    uint8_t doc[3] = {'0', (uint8_t)('0' + s2), 0};
    CHECK(alim_rebound_label_markov(src.comp, 3, doc, 2) == 1, "0 -> C2 successor: C2");
    doc[1] = (uint8_t)('0' + s3);
    CHECK(alim_rebound_label_markov(src.comp, 3, doc, 2) == 2, "0 -> C3 successor: C3");
    doc[1] = (uint8_t)('0' + s1);
    CHECK(alim_rebound_label_markov(src.comp, 3, doc, 2) == 0, "0 -> C1 successor: C1");
    CHECK(alim_rebound_label_markov(src.comp, 3, doc, 1) == -1, "a lone first symbol: tie");
    CHECK(alim_rebound_label_markov(src.comp, 3, doc, 0) == -1, "empty: tie");
    alim_corpus_free(&c2), alim_corpus_free(&c3);
    alim_source_free(&src);
}

static void test_configs(void)
{
    alim_rebound_config c;
    alim_rebound_config_default(&c);
    CHECK(c.n_pos_count == 4 && c.n_pos[0] == 200 && c.n_pos[3] == 2000, "default n_pos");
    CHECK(c.n_neg_count == 6 && c.n_neg[0] == 0 && c.n_neg[1] == 20 && c.n_neg[5] == 400, "default n_neg");
    CHECK(c.sft_batch == 8 && c.sft_lr == 3e-4 && c.n_samples == 256 && c.n_seeds == 3 && c.epsilon_nats == 0.01, "default settings");
    CHECK(c.n_layer == 2 && c.n_embd == 64 && c.n_head == 4 && c.context == 128 && c.pretrain_tokens == 2000000, "G1");
    alim_rebound_config_quick(&c);
    CHECK(c.quick && c.n_seeds == 2 && c.context == 32 && c.n_neg_count == 6 && c.n_pos_count == 4, "quick");
}

/* the same number (NAN: summary.json's null) */
static int same_num(double typed, double json)
{
    return typed == json || (isnan(typed) && isnan(json));
}

/* a typed row against its summary.json object, metric by metric (the names in
 * alim_rebound_metric's order, spelt out here so the enum is checked against the keys) */
static int row_matches(const alim_rebound_row *t, const cJSON *o)
{
    static const char *const name[ALIM_REBOUND_METRICS] = {"score", "positive_rate", "negative_rate", "gamma_c1_bits", "gamma_c2_bits",
                                                           "gamma_c3_bits", "gamma_mix_bits", "kl_to_base_nats", "kl_to_base_bits"};
    if (!cJSON_IsObject(o)) return 0;
    const cJSON *row = cJSON_GetObjectItemCaseSensitive(o, "row");
    int ok = t->row && cJSON_IsString(row) && !strcmp(t->row, row->valuestring) &&
             same_num(t->n_pos, alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, "n_pos"))) &&
             same_num(t->n_neg, alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, "n_neg"))) &&
             same_num(t->steps, alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, "steps"))) &&
             same_num((double)t->seeds, alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, "seeds")));
    for (int k = 0; k < ALIM_REBOUND_METRICS && ok; k++) {
        char key[64];
        snprintf(key, sizeof key, "%s_mean", name[k]);
        ok = same_num(t->mean[k], alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, key)));
        snprintf(key, sizeof key, "%s_se", name[k]);
        ok = ok && same_num(t->se[k], alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, key)));
    }
    return ok;
}

/* The typed results equal summary.json's values, exactly (the report reads the typed ones). */
static void check_typed(const alim_rebound_result *r, const alim_rebound_config *c)
{
    const cJSON *sm = r->summary;
    CHECK(r->n_pos_count == c->n_pos_count && r->n_neg_count == c->n_neg_count && r->grid, "typed grid %zu x %zu", r->n_pos_count,
          r->n_neg_count);
    if (!r->grid) return;
    CHECK(row_matches(&r->baseline, cJSON_GetObjectItemCaseSensitive(sm, "baseline")) && r->baseline.n_pos == 0 && r->baseline.seeds == c->n_seeds,
          "typed baseline = summary's");
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(sm, "grid"), *ns = cJSON_GetObjectItemCaseSensitive(sm, "n_star");
    const size_t P = c->n_pos_count, N = c->n_neg_count;
    CHECK(cJSON_GetArraySize(grid) == (int)(P * N) && cJSON_GetArraySize(ns) == (int)P, "summary's grid and n_star sizes");
    int rows_ok = 1, nstar_ok = 1;
    for (size_t i = 0; i < P; i++) {
        for (size_t j = 0; j < N; j++) {
            const alim_rebound_row *t = &r->grid[i * N + j];
            rows_ok &= row_matches(t, cJSON_GetArrayItem(grid, (int)(i * N + j))) && t->n_pos == (double)c->n_pos[i] &&
                       t->n_neg == (double)c->n_neg[j];
        }
        const cJSON *o = cJSON_GetArrayItem(ns, (int)i);
        nstar_ok &= same_num(r->n_star[i], alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, "n_star"))) &&
                    alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, "n_pos")) == (double)c->n_pos[i];
    }
    CHECK(rows_ok, "typed grid rows = summary's, row-major (n_pos, n_neg)");
    CHECK(nstar_ok, "typed n_star = summary's");
    CHECK(!r->control_grid && !cJSON_GetObjectItemCaseSensitive(sm, "control_grid"), "no control cells: no control grid");
    const cJSON *lb = cJSON_GetObjectItemCaseSensitive(sm, "labels");
    CHECK(r->labels && cJSON_IsString(lb) && !strcmp(r->labels, lb->valuestring) && strstr(r->labels, "chains.json"), "typed labels = summary's: %s",
          r->labels ? r->labels : "(null)");
    CHECK(!strcmp(r->baseline.row, "theta0") && !strcmp(r->grid[0].row, "grid"), "typed row labels: theta0, grid");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(sm, "source");
    CHECK(r->source && cJSON_IsString(src) && !strcmp(r->source, src->valuestring) && !strcmp(r->source, "synthetic"), "typed source = summary's: %s",
          r->source ? r->source : "(null)");
    CHECK(same_num(r->num_params, alim_json_number_value(cJSON_GetObjectItemCaseSensitive(sm, "num_params"))) && r->num_params > 0,
          "typed num_params = summary's: %g", r->num_params);
    /* synthetic data: the exact chains label the samples, no classifier, no accuracy */
    CHECK(!r->labels_by_classifier && isnan(r->classifier_accuracy) && !cJSON_GetObjectItemCaseSensitive(sm, "classifier_accuracy"),
          "no classifier: no typed or summary accuracy");
}

/* two typed evaluations are the same numbers (NAN = NAN) */
static int same_eval(const alim_rebound_eval *a, const alim_rebound_eval *b)
{
    return same_num(a->n_pos, b->n_pos) && same_num(a->n_neg, b->n_neg) && same_num(a->score, b->score) &&
           same_num(a->gamma_mix_bits, b->gamma_mix_bits) && same_num(a->gamma_c2_bits, b->gamma_c2_bits);
}

static int same_evaluations(const alim_rebound_evaluations *a, const alim_rebound_evaluations *b)
{
    int ok = a->n_seeds == b->n_seeds && a->n_alignment == b->n_alignment && same_num(a->pretrain_tokens, b->pretrain_tokens);
    for (int k = 0; k < 3; k++) ok &= same_num(a->shares[k], b->shares[k]);
    for (size_t k = 0; ok && k < a->n_alignment; k++)
        ok &= same_num(a->alignment_n_pos[k], b->alignment_n_pos[k]) && same_num(a->alignment_tokens[k], b->alignment_tokens[k]);
    for (size_t s = 0; ok && s < a->n_seeds; s++) {
        const alim_rebound_seed_evals *x = &a->seed[s], *y = &b->seed[s];
        ok &= x->n_grid == y->n_grid && x->has_control == y->has_control && x->n_control == y->n_control;
        for (size_t k = 0; ok && k < x->n_grid; k++) ok &= same_eval(&x->grid[k], &y->grid[k]);
        for (size_t k = 0; ok && k < x->n_control; k++) ok &= same_eval(&x->control[k], &y->control[k]);
    }
    return ok;
}

/* The typed per-seed evaluations (what E3 and E4 analyse) = the summary's values, and the one
 * reader on the run's summary.json gives the same typed values as the run handed over. */
static void check_evaluations(const alim_rebound_result *r, const alim_rebound_config *c)
{
    const cJSON *sm = r->summary;
    const alim_rebound_evaluations *ev = &r->evaluations;
    const size_t P = c->n_pos_count, N = c->n_neg_count;
    CHECK(ev->n_seeds == c->n_seeds && ev->seed, "typed evaluations: %zu seeds", ev->n_seeds);
    if (!ev->seed) return;
    size_t bad = 0, seen = 0;
    const cJSON *sd;
    cJSON_ArrayForEach(sd, cJSON_GetObjectItemCaseSensitive(sm, "per_seed")) {
        const size_t s = seen++;
        if (s >= ev->n_seeds) break;
        bad += ev->seed[s].n_grid != P * N || ev->seed[s].has_control || ev->seed[s].n_control || ev->seed[s].control;
        const cJSON *e;
        size_t k = 0;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(sd, "evaluations")) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "model");
            if (!cJSON_IsString(m) || strcmp(m->valuestring, "grid")) continue; /* theta0's is no grid point */
            const alim_rebound_eval *t = k < ev->seed[s].n_grid ? &ev->seed[s].grid[k] : NULL;
            k++;
            const double n_pos = alim_json_number_value(cJSON_GetObjectItemCaseSensitive(e, "n_pos")),
                         n_neg = alim_json_number_value(cJSON_GetObjectItemCaseSensitive(e, "n_neg"));
            bad += !t || t->n_pos != n_pos || t->n_neg != n_neg ||
                   !same_num(t->score, alim_json_number_value(cJSON_GetObjectItemCaseSensitive(e, "score"))) ||
                   !same_num(t->gamma_mix_bits, alim_json_number_value(cJSON_GetObjectItemCaseSensitive(e, "gamma_mix_bits"))) ||
                   !same_num(t->gamma_c2_bits, alim_json_number_value(cJSON_GetObjectItemCaseSensitive(e, "gamma_c2_bits"))) ||
                   !isfinite(t->gamma_mix_bits) || alim_rebound_evaluations_find(ev, s, 0, n_pos, n_neg) != t;
        }
        bad += k != P * N;
    }
    bad += seen != c->n_seeds;
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(sm, "alignment_tokens");
    bad += ev->n_alignment != P || cJSON_GetArraySize(at) != (int)P;
    for (size_t i = 0; i < P && i < ev->n_alignment; i++)
        bad += ev->alignment_n_pos[i] != (double)c->n_pos[i] ||
               ev->alignment_tokens[i] != alim_json_number_value(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(at, (int)i), "tokens")) ||
               !(ev->alignment_tokens[i] > 0);
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(sm, "shares");
    for (int k = 0; k < 3; k++) bad += ev->shares[k] != alim_json_number_value(cJSON_GetArrayItem(sh, k));
    bad += ev->pretrain_tokens != (double)c->pretrain_tokens;
    CHECK(bad == 0, "typed evaluations, alignment tokens, shares, |D_p| = summary's (%zu differ)", bad);
    /* the reader on the file on disk */
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", c->run_dir);
    cJSON *file = NULL;
    alim_error err;
    alim_error_clear(&err);
    CHECK(alim_json_read_file(path, &file, &err) == ALIM_OK, "read %s: %s", path, err.what);
    alim_rebound_evaluations rd;
    CHECK(file && alim_rebound_evaluations_from_summary(file, &rd, &err) == ALIM_OK, "reader on summary.json: %s", err.what);
    if (file) {
        CHECK(same_evaluations(&rd, ev), "reader on summary.json = the run's typed evaluations");
        alim_rebound_evaluations_free(&rd);
        CHECK(!rd.seed && !rd.alignment_n_pos && rd.n_seeds == 0, "evaluations freed");
    }
    cJSON_Delete(file);
}

/* theta0 from a checkpoint made elsewhere: a wrong shape is refused naming the checkpoint,
 * the right one is used instead of pretraining (no theta0 cell) and recorded */
static void test_external_theta0(void)
{
    char root[] = "/tmp/alim-test-rebound-XXXXXX", data[256], model[256], run1[256], run2[256];
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return;
    }
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(model, sizeof model, "%s/theta0", root);
    snprintf(run1, sizeof run1, "%s/run-bad", root);
    snprintf(run2, sizeof run2, "%s/run", root);
    alim_error err;
    alim_error_clear(&err);
    CHECK(lab_fixture_synthetic(data, 4096, 50, &err) == ALIM_OK, "data: %s", err.what);
    alim_train_options o;
    alim_train_options_default(&o);
    char pre[300];
    snprintf(pre, sizeof pre, "%s/pretrain.txt", data);
    const char *paths[1] = {pre};
    o.data = paths;
    o.n_data = 1;
    o.out_dir = model;
    o.model.n_layer = 1, o.model.n_embd = 8, o.model.n_head = 2, o.model.n_positions = 16;
    o.context = 16;
    o.format = ALIM_DATA_TEXT;
    o.steps = 4;
    o.batch = 4;
    alim_train_result tr;
    CHECK(alim_train(&o, NULL, &tr, &err) == ALIM_OK, "theta0: %s", err.what);

    alim_rebound_config c;
    alim_rebound_config_quick(&c);
    c.data_dir = data;
    c.n_seeds = 1;
    c.context = 16;
    c.sample_tokens = 16;
    c.n_samples = 4;
    c.n_pos_count = 2, c.n_pos[0] = 5, c.n_pos[1] = 10;
    c.n_neg_count = 3, c.n_neg[0] = 0, c.n_neg[1] = 4, c.n_neg[2] = 8;
    const char *dirs[1] = {model};
    c.theta0_dirs = dirs;
    alim_rebound_result r;
    c.run_dir = run1;
    CHECK(alim_rebound_run(&c, NULL, NULL, NULL, &r, &err) == ALIM_EINVAL && strstr(err.what, "theta0_origin"), "no origin: %s", err.what);
    c.theta0_origin = "test: 4 steps";
    c.n_layer = 1, c.n_embd = 16, c.n_head = 2; /* another shape */
    alim_error_clear(&err);
    CHECK(alim_rebound_run(&c, NULL, NULL, NULL, &r, &err) == ALIM_EINVAL && !strcmp(err.where, model) && strstr(err.what, "1x8x2") &&
              strstr(err.what, "1x16x2"),
          "wrong shape refused naming the checkpoint: %s: %s", err.where, err.what);
    FILE *fp = fopen(run1, "r");
    CHECK(!fp, "a refused run leaves no run directory");
    if (fp) fclose(fp);
    c.n_embd = 8;
    c.run_dir = run2;
    alim_error_clear(&err);
    CHECK(alim_rebound_run(&c, NULL, NULL, NULL, &r, &err) == ALIM_OK, "run from the external theta0: %s", err.what);
    CHECK(r.cells_total == 1 + 2 * 2 + 2 * 3 && r.cells_run == r.cells_total, "cells: theta0-eval, 2 x (pos, negpass), 6 evaluations: %zu",
          r.cells_total);
    const cJSON *s0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.summary, "per_seed"), 0);
    const cJSON *td = cJSON_GetObjectItemCaseSensitive(s0, "theta0_dir");
    CHECK(cJSON_IsString(td) && !strcmp(td->valuestring, model) && !cJSON_GetObjectItemCaseSensitive(s0, "theta0"), "theta0_dir recorded, no theta0 cell");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(r.summary, "config");
    const cJSON *orig = cJSON_GetObjectItemCaseSensitive(cfg, "theta0_origin");
    CHECK(cJSON_IsString(orig) && !strcmp(orig->valuestring, "test: 4 steps"), "origin in the configuration");
    check_typed(&r, &c);
    check_evaluations(&r, &c);
    alim_rebound_result_free(&r);
    CHECK(!r.grid && !r.summary && !r.source, "freed");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "clean up");
}

/* The pieces of the real-model path (rebound_real.c) and its configurations. */
static void test_real_pieces(void)
{
    alim_rebound_config c;
    alim_rebound_config_real(&c);
    static const size_t P[] = {40, 80, 200, 400}, N[] = {0, 4, 8, 20, 40, 80};
    CHECK(c.n_pos_count == 4 && !memcmp(c.n_pos, P, sizeof P) && c.n_neg_count == 6 && !memcmp(c.n_neg, N, sizeof N), "real grid (§5)");
    CHECK(c.context == 128 && c.sft_batch == 8 && c.sft_lr == 1e-5 && c.n_samples == 48 && c.sample_tokens == 48 && c.temperature == 1 &&
              c.n_seeds == 3 && c.pos_slice == 600 && c.neg_slice == 400 && c.test_records == 32 && c.d0_records == 32 && c.d0_tokens == 64 &&
              !c.theta0_model && !c.quick,
          "real defaults (§§2.4, 3, 5)");
    alim_rebound_config_real_quick(&c);
    CHECK(c.n_pos_count == 2 && c.n_pos[1] == 4 && c.n_neg_count == 2 && c.n_neg[1] == 2 && c.n_seeds == 1 && c.context == 64 && c.quick,
          "real quick");

    char dir[] = "/tmp/alim-rbr-XXXXXX", p[256], q[256];
    CHECK(mkdtemp(dir) != NULL, "temp dir");
    snprintf(p, sizeof p, "%s/l.txt", dir);
    FILE *f = fopen(p, "wb");
    fputs("a\n\nbb\r\nc", f);
    fclose(f);
    rbr_lines l;
    alim_error err;
    CHECK(rbr_lines_read(&l, p, &err) == ALIM_OK && l.n == 3 && !strcmp(l.line[0], "a") && !strcmp(l.line[1], "bb") && !strcmp(l.line[2], "c"),
          "lines: empty skipped, CR dropped");
    snprintf(q, sizeof q, "%s/w.txt", dir);
    CHECK(rbr_lines_write(&l, 1, 2, q, &err) == ALIM_OK, "write a slice");
    char buf[32] = {0};
    f = fopen(q, "rb");
    size_t got = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    CHECK(got == 5 && !strcmp(buf, "bb\nc\n"), "slice [1, 3): '%s'", buf);
    CHECK(rbr_lines_write(&l, 2, 2, q, &err) == ALIM_EINVAL, "a slice beyond the file is refused");
    rbr_lines_free(&l);

    /* FNV-1a 64 of "GGUFa" is 2f1484e36671e787: a GGUF file is hashed whole */
    snprintf(p, sizeof p, "%s/m.gguf", dir);
    f = fopen(p, "wb");
    fputs("GGUFa", f);
    fclose(f);
    char h[17];
    double bytes;
    CHECK(rbr_model_hash(p, h, &bytes, &err) == ALIM_OK && !strcmp(h, "2f1484e36671e787") && bytes == 5, "hash of a file: %s", h);
    f = fopen(p, "wb");
    fputs("GGUFb", f);
    fclose(f);
    char h2[17];
    CHECK(rbr_model_hash(p, h2, &bytes, &err) == ALIM_OK && strcmp(h, h2) != 0, "one byte changed, another hash");
    snprintf(q, sizeof q, "%s/none.gguf", dir);
    CHECK(rbr_model_hash(q, h, &bytes, &err) == ALIM_EINVAL, "missing model: EINVAL");
    CHECK(rbr_model_hash(dir, h, &bytes, &err) == ALIM_EINVAL, "a directory without model files: EINVAL");
    snprintf(p, sizeof p, "%s/config.json", dir);
    f = fopen(p, "wb");
    fputs("{}", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/optimizer.safetensors", dir);
    f = fopen(p, "wb");
    fputs("x", f);
    fclose(f);
    CHECK(rbr_model_hash(dir, h, &bytes, &err) == ALIM_OK && bytes == 2, "a directory: config.json counted, optimizer not (%g bytes)", bytes);

    /* a stream EOT d1 EOT d2 EOT d3 EOT cut to 2 documents */
    int32_t tok[] = {0, 5, 6, 0, 7, 0, 8, 9, 0};
    uint8_t mask[] = {0, 1, 1, 0, 1, 0, 1, 1, 0};
    alim_token_stream ds = {tok, mask, 9, 3, 5};
    size_t ends[3];
    CHECK(rbr_stream_doc_ends(&ds, ends, 3) == 3 && ends[0] == 3 && ends[1] == 5 && ends[2] == 8, "document ends");
    rbr_stream_keep_docs(&ds, 2);
    CHECK(ds.n == 6 && ds.n_docs == 2 && ds.n_counted == 3, "keep 2 documents: n %zu, counted %zu", ds.n, ds.n_counted);
    rbr_stream_keep_docs(&ds, 5);
    CHECK(ds.n == 6 && ds.n_docs == 2, "keeping more is a no-op");
    snprintf(p, sizeof p, "rm -rf '%s'", dir);
    CHECK(system(p) == 0, "clean up");
}

int main(int argc, char **argv)
{
    (void)argc;
    test_external_theta0();
    test_nstar();
    test_judge();
    test_labels();
    test_configs();
    test_real_pieces();
    return check_summary(argv[0]);
}
