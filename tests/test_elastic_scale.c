/* test_elastic_scale.c — E3's typed result (alim/scale.h): every number of the parts, the
 * criteria and the verdict equals what RUN/summary.json records, for both parts with two seeds
 * and for the token part alone with one seed (no SEs, no intervals, no size part). The report
 * draws E3 from these fields, so they must be the summary's numbers to the bit. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/datadir.h"
#include "alim/io.h"
#include "alim/scale.h"
#include "check.h"
#include "lab_fixture.h"

/* Relative tolerance of the comparison: 0 against the summary in memory (the report read
 * that one: the typed fields must be its numbers to the bit); 1e-14 against summary.json on
 * disk, whose numbers cJSON prints with 15 significant digits when that reads back within
 * DBL_EPSILON. */
static double tol_;

/* the same double: equal within tol_ (relative), or both NAN (JSON null) */
static int same(double a, double b)
{
    return a == b || (isnan(a) && isnan(b)) || fabs(a - b) <= tol_ * fabs(b);
}

static double num(const cJSON *o, const char *key)
{
    return alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* the typed part against summary.json's record of it */
static void check_part(const alim_scale_part *p, const cJSON *j, const char *name, size_t S)
{
    const cJSON *levels = cJSON_GetObjectItemCaseSensitive(j, "levels");
    CHECK(cJSON_IsArray(levels) && (size_t)cJSON_GetArraySize(levels) == p->n_levels, "%s: %zu levels", name, p->n_levels);
    const int is_size = !strcmp(name, "size");
    size_t i = 0, bad = 0;
    const cJSON *l;
    cJSON_ArrayForEach(l, levels) {
        if (i >= p->n_levels) break;
        const alim_scale_level *lv = &p->levels[i++];
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(l, "level");
        bad += !cJSON_IsString(nm) || strcmp(nm->valuestring, lv->name) != 0;
        bad += !same(lv->value, num(l, is_size ? "params" : "pretrain_tokens"));
        bad += !same(lv->k, num(l, "k"));
        bad += !same(lv->R_mean, num(l, "R_mean")) + !same(lv->R_se, num(l, "R_se"));
        bad += !same(lv->e_hat, num(l, "e_hat")) + !same(lv->e_lo, num(l, "e_hat_lo95")) + !same(lv->e_hi, num(l, "e_hat_hi95"));
        bad += !same(lv->oracle_e_hat, num(l, "oracle_e_hat"));
        /* the size part records "params" twice: the scale first, then the parameters */
        const cJSON *pa = cJSON_GetObjectItemCaseSensitive(l, "params");
        if (is_size) pa = pa ? pa->next : NULL;
        bad += !pa || strcmp(pa->string, "params") != 0 || !same(lv->params, alim_json_number_value(pa));
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(l, "per_seed");
        bad += (size_t)cJSON_GetArraySize(ps) != S;
        for (size_t s = 0; s < S && s < (size_t)cJSON_GetArraySize(ps); s++) {
            const cJSON *q = cJSON_GetArrayItem(ps, (int)s);
            bad += num(q, "seed") != (double)(s + 1) || !same(lv->R[s], num(q, "R")) || !same(lv->e_hat_seed[s], num(q, "e_hat"));
        }
    }
    CHECK(bad == 0, "%s: %zu typed level values differ from summary.json", name, bad);
    CHECK(same(p->rho_R, num(j, "spearman_R")) && same(p->rho_e_hat, num(j, "spearman_e_hat")), "%s: rho", name);
}

/* the whole result against a summary: the one in memory (exact), then summary.json on disk */
static void check_result_against(const alim_scale_result *r, const alim_scale_config *c, const cJSON *sm, const char *what)
{
    CHECK(r->n_seeds == c->n_seeds, "n_seeds %zu", r->n_seeds);
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(sm, "size"), *tokens = cJSON_GetObjectItemCaseSensitive(sm, "tokens");
    CHECK((r->size.n_levels > 0) == (size != NULL) && (r->tokens.n_levels > 0) == (tokens != NULL), "%s: parts run", what);
    CHECK(r->size.n_levels == (c->do_size ? c->n_sizes : 0) && r->tokens.n_levels == (c->do_tokens ? c->n_budgets : 0),
          "levels per part: %zu, %zu", r->size.n_levels, r->tokens.n_levels);
    if (size) check_part(&r->size, size, "size", r->n_seeds);
    if (tokens) check_part(&r->tokens, tokens, "tokens", r->n_seeds);
    const cJSON *cj = cJSON_GetObjectItemCaseSensitive(sm, "criteria"), *cr;
    CHECK((size_t)cJSON_GetArraySize(cj) == r->n_criteria && r->n_criteria == 2u * (size_t)(!!c->do_size + !!c->do_tokens),
          "%s: %zu criteria", what, r->n_criteria);
    size_t i = 0, bad = 0;
    cJSON_ArrayForEach(cr, cj) {
        if (i >= r->n_criteria) break;
        const alim_scale_criterion *t = &r->criteria[i++];
        const cJSON *res = cJSON_GetObjectItemCaseSensitive(cr, "result");
        bad += strcmp(cr->string, t->name) != 0 || !cJSON_IsString(res) || strcmp(res->valuestring, t->result) != 0 ||
               !same(t->spearman, num(cr, "spearman"));
    }
    CHECK(bad == 0, "%s: %zu typed criteria differ", what, bad);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(sm, "verdict");
    CHECK(r->verdict && cJSON_IsString(v) && !strcmp(v->valuestring, r->verdict), "%s: verdict %s", what, r->verdict ? r->verdict : "(null)");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(sm, "source");
    CHECK(r->source && cJSON_IsString(src) && !strcmp(r->source, src->valuestring) && !strcmp(r->source, "synthetic"), "%s: source %s", what,
          r->source ? r->source : "(null)");
}

/* |a - b| <= 1e-8 |b| or both NAN: a CSV number printed with %.9g */
static int near9(double a, double b)
{
    return a == b || (isnan(a) && isnan(b)) || fabs(a - b) <= 1e-8 * fabs(b);
}

/* The typed result against RUN/levels.csv and RUN/scale.csv, which the run writes from its own
 * working copy of the metrics, not from the typed result or the summary: a field filled from
 * the wrong number shows here. */
static void check_csv(const alim_scale_result *r, const alim_scale_config *c)
{
    char path[512], line[1024], part[16], name[64];
    size_t bad = 0, rows = 0;
    snprintf(path, sizeof path, "%s/levels.csv", c->run_dir);
    FILE *fp = fopen(path, "r");
    CHECK(fp && fgets(line, sizeof line, fp), "read %s", path);
    while (fp && fgets(line, sizeof line, fp)) {
        double params, tokens, k, R_mean, R_se, e, lo, hi, orc;
        size_t seeds;
        if (sscanf(line, "%15[^,],%63[^,],%lf,%lf,%lf,%zu,%lf,%lf,%lf,%lf,%lf,%lf", part, name, &params, &tokens, &k, &seeds, &R_mean,
                   &R_se, &e, &lo, &hi, &orc) != 12) {
            bad++;
            continue;
        }
        const alim_scale_part *p = !strcmp(part, "size") ? &r->size : &r->tokens;
        const size_t i = rows < r->size.n_levels ? rows : rows - r->size.n_levels;
        rows++;
        if (i >= p->n_levels) {
            bad++;
            continue;
        }
        const alim_scale_level *lv = &p->levels[i];
        bad += strcmp(name, lv->name) != 0 || seeds != r->n_seeds || !near9(lv->params, params) ||
               !near9(lv->value, p == &r->size ? params : tokens) || !near9(lv->k, k) || !near9(lv->R_mean, R_mean) ||
               !near9(lv->R_se, R_se) || !near9(lv->e_hat, e) || !near9(lv->e_lo, lo) || !near9(lv->e_hi, hi) ||
               !near9(lv->oracle_e_hat, orc);
    }
    if (fp) fclose(fp);
    CHECK(bad == 0 && rows == r->size.n_levels + r->tokens.n_levels, "levels.csv: %zu rows, %zu differ from the typed levels", rows, bad);
    snprintf(path, sizeof path, "%s/scale.csv", c->run_dir);
    fp = fopen(path, "r");
    CHECK(fp && fgets(line, sizeof line, fp), "read %s", path);
    rows = bad = 0;
    while (fp && fgets(line, sizeof line, fp)) {
        double params, tokens, k, R, e;
        size_t seed;
        if (sscanf(line, "%15[^,],%63[^,],%lf,%lf,%lf,%zu,%lf,%lf", part, name, &params, &tokens, &k, &seed, &R, &e) != 8 || seed < 1 ||
            seed > r->n_seeds) {
            bad++;
            continue;
        }
        const alim_scale_part *p = !strcmp(part, "size") ? &r->size : &r->tokens;
        size_t i = 0;
        while (i < p->n_levels && strcmp(p->levels[i].name, name) != 0) i++;
        rows++;
        bad += i == p->n_levels || !near9(p->levels[i].R[seed - 1], R) || !near9(p->levels[i].e_hat_seed[seed - 1], e);
    }
    if (fp) fclose(fp);
    CHECK(bad == 0 && rows == (r->size.n_levels + r->tokens.n_levels) * r->n_seeds, "scale.csv: %zu rows, %zu differ from the typed per-seed values",
          rows, bad);
}

static void check_result(const alim_scale_result *r, const alim_scale_config *c)
{
    check_csv(r, c);
    CHECK(r->summary != NULL, "summary in memory");
    if (!r->summary) return;
    tol_ = 0;
    check_result_against(r, c, r->summary, "in memory");
    char path[512];
    snprintf(path, sizeof path, "%s/summary.json", c->run_dir);
    cJSON *sm = NULL;
    alim_error err;
    alim_error_clear(&err);
    CHECK(alim_json_read_file(path, &sm, &err) == ALIM_OK, "read %s: %s", path, err.what);
    tol_ = 1e-14;
    if (sm) check_result_against(r, c, sm, "summary.json");
    cJSON_Delete(sm);
}

int main(int argc, char **argv)
{
    (void)argc;
    char root[] = "/tmp/alim-test-scale-XXXXXX";
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return check_summary(argv[0]);
    }
    alim_error err;
    alim_error_clear(&err);
    char data[256], run[2][256];
    snprintf(data, sizeof data, "%s/data", root);
    CHECK(lab_fixture_synthetic(data, 8192, 60, &err) == ALIM_OK, "data: %s", err.what);
    omp_set_num_threads(1);

    alim_scale_config c;
    alim_scale_config_quick(&c);
    c.data_dir = data;
    for (int k = 0; k < 2; k++) {
        snprintf(run[k], sizeof run[k], "%s/e3-%d", root, k);
        c.run_dir = run[k];
        if (k == 1) c.do_size = 0, c.n_seeds = 1; /* the token part alone, one seed: SEs and intervals NAN */
        alim_scale_result r;
        alim_error_clear(&err);
        CHECK(alim_scale_run(&c, NULL, NULL, NULL, &r, &err) == ALIM_OK, "E3 run %d: %s", k, err.what);
        check_result(&r, &c);
        if (k == 1) CHECK(isnan(r.tokens.levels[0].R_se) && isnan(r.tokens.levels[0].e_lo), "one seed: no SE, no interval");
        alim_scale_result_free(&r);
        CHECK(!r.summary && !r.verdict && r.size.n_levels == 0 && r.tokens.n_levels == 0 && !r.tokens.levels[0].R && r.n_criteria == 0 &&
                  !r.source,
              "free leaves an empty result");
        alim_scale_result_free(&r); /* twice is harmless */
    }
    /* a refused configuration leaves nothing to free */
    alim_scale_result z;
    c.run_dir = run[0];
    c.n_budgets = 1;
    CHECK(alim_scale_run(&c, NULL, NULL, NULL, &z, &err) == ALIM_EINVAL && !z.summary && z.tokens.n_levels == 0, "refused");

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "clean up");
    return check_summary(argv[0]);
}
