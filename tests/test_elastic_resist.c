/* test_elastic_resist.c — E1's statistics: the exact one-sided sign test and the verdict
 * rules (PASS / NULL / FAIL) of spec §4.5; a tiny run whose typed result must equal its
 * summary.json. The experiment itself is tested end to end in tests/cli/test_elastic_resist.sh. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/datadir.h"
#include "alim/io.h"
#include "alim/resist.h"
#include "check.h"
#include "lab_fixture.h"

static double binom(int n, int k)
{
    double c = 1;
    for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
    return c;
}

/* the same number (NAN: summary.json's null) */
static int same_num(double typed, double json)
{
    return typed == json || (isnan(typed) && isnan(json));
}

static double num(const cJSON *o, const char *key)
{
    return alim_json_number_value(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* a typed fine-tuning run against its summary.json record */
static int finetune_matches(const alim_resist_finetune *t, const cJSON *o)
{
    return cJSON_IsObject(o) && same_num(t->steps, num(o, "steps")) && same_num(t->initial_nats, num(o, "initial_nats")) &&
           same_num(t->mean_nats, num(o, "mean_nats")) && same_num(t->final_nats, num(o, "final_nats")) &&
           same_num(t->target_entropy_nats, num(o, "target_entropy_nats")) &&
           same_num(t->mean_nats - t->target_entropy_nats, num(o, "excess_nats"));
}

/* A tiny run (2 seeds, seconds): the typed cases and num_params equal summary.json's, exactly
 * (the report reads the typed ones). */
static void test_typed_result(void)
{
    char root[] = "/tmp/alim-test-resist-XXXXXX", data[256], run[256];
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return;
    }
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(run, sizeof run, "%s/run", root);
    alim_error err;
    alim_error_clear(&err);
    CHECK(lab_fixture_synthetic(data, 4096, 50, &err) == ALIM_OK, "data: %s", err.what);
    alim_resist_config e;
    lab_fixture_tiny_resist(&e, data);
    e.run_dir = run;
    alim_resist_result q;
    CHECK(alim_resist_run(&e, NULL, NULL, NULL, &q, &err) == ALIM_OK, "tiny E1: %s", err.what);
    const cJSON *pairs = cJSON_GetObjectItemCaseSensitive(q.summary, "pairs");
    CHECK(q.cases && q.n_cases == 3 * e.n_seeds && cJSON_GetArraySize(pairs) == (int)q.n_cases, "typed cases: %zu", q.n_cases);
    CHECK(q.num_params > 0 && same_num(q.num_params, num(q.summary, "num_params")), "typed num_params = summary's: %g", q.num_params);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(q.summary, "source");
    CHECK(q.source && cJSON_IsString(src) && !strcmp(q.source, src->valuestring) && !strcmp(q.source, "synthetic"), "typed source = summary's: %s",
          q.source ? q.source : "(null)");
    static const int K[3] = {1, 2, 1}, L[3] = {2, 3, 3};
    int ok = 1;
    for (size_t i = 0; i < q.n_cases && q.cases; i++) {
        const alim_resist_case *c = &q.cases[i];
        const cJSON *pj = cJSON_GetArrayItem(pairs, (int)i), *nm = cJSON_GetObjectItemCaseSensitive(pj, "pair");
        char want[8];
        snprintf(want, sizeof want, "%d-%d", K[i % 3], L[i % 3]);
        ok &= cJSON_IsString(nm) && !strcmp(c->pair, nm->valuestring) && !strcmp(c->pair, want) && c->k == K[i % 3] &&
              c->l == L[i % 3] && c->seed == i / 3 + 1 && same_num((double)c->seed, num(pj, "seed")) &&
              finetune_matches(&c->forward, cJSON_GetObjectItemCaseSensitive(pj, "forward")) &&
              finetune_matches(&c->inverse, cJSON_GetObjectItemCaseSensitive(pj, "inverse")) && c->forward.steps > 0 &&
              same_num(c->gap_nats, num(pj, "gap_nats")) && same_num(c->gap_corrected_nats, num(pj, "gap_corrected_nats")) &&
              c->inverse_lower == cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower")) &&
              c->inverse_lower_corrected == cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower_corrected"));
    }
    CHECK(ok, "typed cases = summary's pairs, seed by seed, pairs (1,2), (2,3), (1,3)");
    alim_resist_result_free(&q);
    CHECK(!q.cases && !q.summary && q.n_cases == 0 && !q.source, "freed");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "clean up");
}

int main(int argc, char **argv)
{
    (void)argc;
    /* sign test against a direct sum of binomial coefficients */
    for (int n = 1; n <= 30; n++)
        for (int c = 0; c <= n; c++) {
            double want = 0;
            for (int i = c; i <= n; i++) want += binom(n, i);
            want /= pow(2.0, n);
            CHECK_ABS(alim_sign_test_p((size_t)c, (size_t)n), want, 1e-12 * fmax(1, want), "sign test p");
        }
    CHECK_ABS(alim_sign_test_p(9, 9), 1.0 / 512, 1e-15, "9 of 9: the spec's p ~ 0.002");
    CHECK_ABS(alim_sign_test_p(3, 3), 0.125, 1e-15, "3 of 3");
    CHECK_ABS(alim_sign_test_p(0, 9), 1.0, 0, "0 of 9");
    CHECK_ABS(alim_sign_test_p(8, 9), 10.0 / 512, 1e-15, "8 of 9");

    alim_resist_verdict v;
    /* all nine inverse lower, raw and corrected, clear gaps: PASS */
    double pos[9] = {0.05, 0.04, 0.06, 0.05, 0.03, 0.07, 0.05, 0.04, 0.06};
    double posc[9] = {0.04, 0.03, 0.05, 0.04, 0.02, 0.06, 0.04, 0.03, 0.05};
    alim_resist_judge(pos, posc, 9, &v);
    CHECK(!strcmp(v.verdict, "PASS"), "verdict %s (%s)", v.verdict, v.reason);
    CHECK(v.count_raw == 9 && v.count_corrected == 9 && v.all_raw && v.all_corrected, "counts");
    CHECK_ABS(v.p_raw, 1.0 / 512, 1e-15, "p");
    CHECK_ABS(v.mean_raw, 0.05, 1e-12, "mean gap");
    /* SE = sd / sqrt(n) */
    double m = 0.05, ss = 0;
    for (int i = 0; i < 9; i++) ss += (pos[i] - m) * (pos[i] - m);
    CHECK_ABS(v.se_raw, sqrt(ss / 8 / 9), 1e-12, "SE");
    /* three cases only: all positive but p = 0.125 -> NULL */
    alim_resist_judge(pos, posc, 3, &v);
    CHECK(!strcmp(v.verdict, "NULL") && strstr(v.reason, "too few cases"), "3 cases: %s (%s)", v.verdict, v.reason);
    /* one case the other way: mixed signs -> NULL */
    double mixed[9];
    memcpy(mixed, pos, sizeof mixed);
    mixed[4] = -0.01;
    alim_resist_judge(mixed, posc, 9, &v);
    CHECK(!strcmp(v.verdict, "NULL") && strstr(v.reason, "mixed signs"), "mixed: %s (%s)", v.verdict, v.reason);
    CHECK(v.count_raw == 8, "8 of 9");
    /* raw all positive but the correction removes the gap -> NULL naming the correction */
    double gone[9] = {0.01, -0.01, 0.02, -0.02, 0.0, 0.01, -0.01, 0.02, -0.02};
    alim_resist_judge(pos, gone, 9, &v);
    CHECK(!strcmp(v.verdict, "NULL") && strstr(v.reason, "entropy correction"), "corrected: %s (%s)", v.verdict, v.reason);
    /* all positive but noisy: mean < 2 SE -> NULL */
    double noisy[9] = {0.001, 0.002, 0.001, 0.003, 0.001, 0.002, 0.001, 0.002, 0.3};
    alim_resist_judge(noisy, noisy, 9, &v);
    CHECK(!strcmp(v.verdict, "NULL") && strstr(v.reason, "2 SE"), "noisy: %s (%s)", v.verdict, v.reason);
    CHECK(v.all_raw && v.sig_raw && !v.gap2se_raw, "noisy criteria");
    /* every case the other way: FAIL */
    double neg[9], negc[9];
    for (int i = 0; i < 9; i++) neg[i] = -pos[i], negc[i] = -posc[i];
    alim_resist_judge(neg, negc, 9, &v);
    CHECK(!strcmp(v.verdict, "FAIL") && strstr(v.reason, "reversed"), "reversed: %s (%s)", v.verdict, v.reason);
    /* one case: SE undefined, never PASS */
    alim_resist_judge(pos, posc, 1, &v);
    CHECK(!strcmp(v.verdict, "NULL") && isnan(v.se_raw), "one case: %s", v.verdict);
    /* zero cases */
    alim_resist_judge(pos, posc, 0, &v);
    CHECK(!strcmp(v.verdict, "NULL"), "no cases: %s", v.verdict);

    /* configurations */
    alim_resist_config c, q;
    alim_resist_config_default(&c);
    CHECK(c.n_layer == 2 && c.n_embd == 64 && c.n_head == 4 && c.context == 128, "G1");
    CHECK(c.pretrain_tokens == 2000000 && c.pretrain_batch == 16 && c.pretrain_warmup == 200, "pretraining");
    CHECK(c.pretrain_lr == 1e-3 && c.pretrain_min_lr == 1e-4, "pretraining lr");
    CHECK(c.sft_docs == 200 && c.sft_batch == 8 && c.sft_lr == 3e-4, "SFT");
    CHECK(c.n_samples == 300 && c.sample_tokens == 128 && c.prompt_bytes == 16 && c.temperature == 1.0, "samples");
    CHECK(c.n_seeds == 3, "seeds");
    alim_resist_config_quick(&q);
    CHECK(q.quick && q.sample_tokens <= (size_t)q.context && q.prompt_bytes < q.sample_tokens, "quick is consistent");

    test_typed_result();
    return check_summary(argv[0]);
}
