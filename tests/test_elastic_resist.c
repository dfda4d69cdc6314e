/* test_elastic_resist.c — E1's statistics: the exact one-sided sign test and the verdict
 * rules (PASS / NULL / FAIL) of spec §4.5. The experiment itself is tested end to end in
 * tests/cli/test_elastic_resist.sh. */
#include <math.h>
#include <string.h>

#include "alim/resist.h"
#include "check.h"

static double binom(int n, int k)
{
    double c = 1;
    for (int i = 1; i <= k; i++) c = c * (n - k + i) / i;
    return c;
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
    return check_summary(argv[0]);
}
