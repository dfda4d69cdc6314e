/* test_lm_llama.c — the Llama-family graph on its own (transformers checks the same maths
 * in tests/pypi/test_llama_golden.py):
 *   - central finite differences of the loss for elements of every tensor and block, with
 *     grouped-query attention, q/k/v biases, an untied head, llama3 rope scaling;
 *   - the key/value cache (prefill, steps of several rows, keep_rows) against the full
 *     forward's log-probabilities;
 *   - data-parallel shards against operation-parallel passes, repeatability;
 *   - the tensor table (HF and GGUF names, shapes), a checkpoint round trip bit for bit, and
 *     refusal of non-finite weights naming the tensor.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/checkpoint.h"
#include "alim/gpt.h"
#include "alim/rng.h"
#include "check.h"

static alim_gpt_config llama_cfg(int qkv_bias, int tied, int rope_llama3)
{
    alim_gpt_config c = {.n_layer = 2, .n_embd = 24, .n_head = 6, .n_positions = 16, .vocab_size = 19,
                         .layer_norm_epsilon = 1e-5f, .arch = ALIM_ARCH_LLAMA, .n_kv_head = 2, .n_inner = 20,
                         .rope_theta = 500.0f, .qkv_bias = qkv_bias, .tie_word_embeddings = tied};
    if (rope_llama3) {
        c.rope_type = ALIM_ROPE_LLAMA3;
        c.rope_factor = 4.0f, c.rope_low_freq_factor = 1.0f, c.rope_high_freq_factor = 2.0f;
        c.rope_original_max_positions = 4;
    }
    return c;
}

static void random_model(alim_gpt *m, const alim_gpt_config *c, uint64_t seed)
{
    alim_error err;
    CHECK(alim_gpt_create(m, c, &err) == ALIM_OK, "create: %s", err.what);
    alim_rng r;
    alim_rng_seed(&r, seed, 7);
    for (size_t i = 0; i < m->num_params; i++) m->params[i] = (float)(0.4 * alim_rng_normal(&r));
}

static double loss_of(alim_gpt *m, const int32_t *in, const int32_t *tg, int B, int T)
{
    alim_error err;
    CHECK(alim_gpt_forward(m, in, tg, B, T, &err) == ALIM_OK, "forward: %s", err.what);
    return m->loss_sum;
}

static void test_finite_differences(int qkv_bias, int tied, int llama3)
{
    const alim_gpt_config c = llama_cfg(qkv_bias, tied, llama3);
    alim_gpt m;
    random_model(&m, &c, 11 + qkv_bias + 2 * tied + 4 * llama3);
    enum { B = 2, T = 7 };
    int32_t in[B * T], tg[B * T];
    alim_rng r;
    alim_rng_seed(&r, 3, 1);
    for (int i = 0; i < B * T; i++) in[i] = (int32_t)alim_rng_below(&r, c.vocab_size), tg[i] = (int32_t)alim_rng_below(&r, c.vocab_size);
    tg[3] = -1; /* a position without a target */
    alim_error err;
    CHECK(alim_gpt_zero_grad(&m, &err) == ALIM_OK, "zero_grad");
    CHECK(alim_gpt_forward(&m, in, tg, B, T, &err) == ALIM_OK, "forward: %s", err.what);
    /* gradient of the SUM of losses: backward gives d(mean)/d, scale by the count */
    CHECK(alim_gpt_backward(&m, (float)m.loss_count, &err) == ALIM_OK, "backward: %s", err.what);
    double worst = 0.0;
    for (int t = 0; t < m.n_tensors; t++)
        for (int l = 0; l < (alim_gpt_tensor_is_per_layer(&m, t) ? c.n_layer : 1); l++) {
            size_t n;
            float *p = alim_gpt_tensor_slice(&m, m.params, t, l, &n);
            const float *g = alim_gpt_tensor_slice(&m, m.grads, t, l, &n);
            char name[128];
            int64_t shape[2];
            alim_gpt_tensor_info(&m, t, l, name, sizeof name, shape);
            for (int k = 0; k < 3; k++) {
                const size_t i = (size_t)(k * 7919 + l * 31) % n;
                const float saved = p[i], h = 1e-2f;
                p[i] = saved + h;
                const double up = loss_of(&m, in, tg, B, T);
                p[i] = saved - h;
                const double dn = loss_of(&m, in, tg, B, T);
                p[i] = saved;
                const double fd = (up - dn) / (2.0 * h), tol = 2e-3 * fmax(1.0, fabs(fd));
                worst = fmax(worst, fabs(fd - g[i]) / fmax(1.0, fabs(fd)));
                CHECK(fabs(fd - g[i]) <= tol, "%s[%zu] (bias %d tied %d llama3 %d): backward %.6g, finite difference %.6g", name, i,
                      qkv_bias, tied, llama3, (double)g[i], fd);
            }
        }
    printf("finite differences (bias %d, tied %d, llama3 %d): worst relative error %.3g\n", qkv_bias, tied, llama3, worst);
    alim_gpt_free(&m);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_kv_cache(void)
{
    const alim_gpt_config c = llama_cfg(1, 0, 1);
    alim_gpt m;
    random_model(&m, &c, 5);
    enum { B = 3, T = 9, T0 = 4 };
    const int V = c.vocab_size;
    int32_t tok[B * T];
    alim_rng r;
    alim_rng_seed(&r, 9, 2);
    for (int i = 0; i < B * T; i++) tok[i] = (int32_t)alim_rng_below(&r, V);
    alim_error err;
    /* the full forward's log-probabilities of every position */
    float *full = malloc((size_t)B * T * V * sizeof(float)), *lp = malloc((size_t)B * V * sizeof(float));
    CHECK(alim_gpt_forward(&m, tok, NULL, B, T, &err) == ALIM_OK, "forward: %s", err.what);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) alim_gpt_log_softmax_row(&m, b, t, full + ((size_t)b * T + t) * V);
    alim_gpt_cache *cache = NULL;
    CHECK(alim_gpt_cache_create(&m, B, T, &cache, &err) == ALIM_OK, "cache: %s", err.what);
    int32_t pre[B * T0], col[B];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T0; t++) pre[b * T0 + t] = tok[b * T + t];
    CHECK(alim_gpt_cache_prefill(&m, cache, pre, T0, lp, &err) == ALIM_OK, "prefill: %s", err.what);
    double worst = 0.0;
    for (int b = 0; b < B; b++) worst = fmax(worst, max_abs_diff(lp + (size_t)b * V, full + ((size_t)b * T + T0 - 1) * V, V));
    for (int t = T0; t < T; t++) {
        for (int b = 0; b < B; b++) col[b] = tok[b * T + t];
        CHECK(alim_gpt_forward_step(&m, cache, col, lp, &err) == ALIM_OK, "step: %s", err.what);
        for (int b = 0; b < B; b++) worst = fmax(worst, max_abs_diff(lp + (size_t)b * V, full + ((size_t)b * T + t) * V, V));
    }
    CHECK(worst < 1e-5, "cached steps vs full forward: max |diff| %.3g", worst);
    printf("kv cache (3 rows, GQA, biases, llama3 rope): max |step - full| = %.3g\n", worst);
    /* one row at a time (sgemv) from a reset cache, after keeping rows 0 and 2 */
    alim_gpt_cache_reset(cache);
    CHECK(alim_gpt_cache_prefill(&m, cache, pre, T0, lp, &err) == ALIM_OK, "prefill: %s", err.what);
    const int keep[1] = {2};
    CHECK(alim_gpt_cache_keep_rows(cache, keep, 1, &err) == ALIM_OK && cache->B == 1, "keep_rows: %s", err.what);
    worst = 0.0;
    for (int t = T0; t < T; t++) {
        col[0] = tok[2 * T + t];
        CHECK(alim_gpt_forward_step(&m, cache, col, lp, &err) == ALIM_OK, "step: %s", err.what);
        worst = fmax(worst, max_abs_diff(lp, full + ((size_t)2 * T + t) * V, V));
    }
    CHECK(worst < 1e-5, "kept row vs full forward: max |diff| %.3g", worst);
    alim_gpt_cache_free(cache);
    free(full);
    free(lp);
    alim_gpt_free(&m);
}

static void test_shards_and_repeatability(void)
{
    const alim_gpt_config c = llama_cfg(1, 1, 0);
    alim_gpt m;
    random_model(&m, &c, 21);
    enum { B = 8, T = 16 };
    int32_t in[B * T], tg[B * T];
    alim_rng r;
    alim_rng_seed(&r, 4, 3);
    for (int i = 0; i < B * T; i++) in[i] = (int32_t)alim_rng_below(&r, c.vocab_size), tg[i] = (int32_t)alim_rng_below(&r, c.vocab_size);
    alim_error err;
    const size_t np = m.num_params;
    float *g[3];
    omp_set_num_threads(2);
    for (int run = 0; run < 3; run++) {
        if (run == 2) setenv("ALIM_LM_NO_SHARDS", "1", 1);
        CHECK(alim_gpt_zero_grad(&m, &err) == ALIM_OK, "zero_grad");
        CHECK(alim_gpt_forward_backward(&m, in, tg, B, T, 1.0f, &err) == ALIM_OK, "forward_backward: %s", err.what);
        g[run] = malloc(np * sizeof(float));
        memcpy(g[run], m.grads, np * sizeof(float));
    }
    unsetenv("ALIM_LM_NO_SHARDS");
    CHECK(alim_gpt_shard_count(&m, B, T) == 2, "a model this small runs in 2 shards (got %d)", alim_gpt_shard_count(&m, B, T));
    CHECK(memcmp(g[0], g[1], np * sizeof(float)) == 0, "two identical runs differ");
    double mx = 1e-30;
    for (size_t i = 0; i < np; i++) mx = fmax(mx, fabs(g[2][i]));
    const double d = max_abs_diff(g[0], g[2], np) / mx;
    CHECK(d < 1e-5, "sharded vs operation-parallel gradients: %.3g of the largest", d);
    /* forward + backward as two calls: the same bits as the fused call */
    CHECK(alim_gpt_zero_grad(&m, &err) == ALIM_OK, "zero_grad");
    CHECK(alim_gpt_forward(&m, in, tg, B, T, &err) == ALIM_OK && alim_gpt_backward(&m, 1.0f, &err) == ALIM_OK, "%s", err.what);
    CHECK(memcmp(g[0], m.grads, np * sizeof(float)) == 0, "forward_backward differs from forward + backward");
    for (int k = 0; k < 3; k++) free(g[k]);
    alim_gpt_free(&m);
}

static void test_table_and_checkpoint(void)
{
    const alim_gpt_config c = llama_cfg(1, 0, 1);
    alim_gpt m;
    random_model(&m, &c, 8);
    char name[128];
    int64_t shape[2];
    CHECK(m.n_tensors == 15, "15 tensors with biases and an untied head, got %d", m.n_tensors);
    alim_gpt_tensor_info(&m, 2, 1, name, sizeof name, shape);
    CHECK(!strcmp(name, "model.layers.1.self_attn.q_proj.weight") && shape[0] == 24 && shape[1] == 24, "%s (%lld,%lld)", name,
          (long long)shape[0], (long long)shape[1]);
    alim_gpt_tensor_info(&m, 4, 0, name, sizeof name, shape);
    CHECK(!strcmp(name, "model.layers.0.self_attn.k_proj.weight") && shape[0] == 8 && shape[1] == 24, "%s (%lld,%lld)", name,
          (long long)shape[0], (long long)shape[1]);
    CHECK(alim_gpt_tensor_gguf_name(&m, 12, 1, name, sizeof name) && !strcmp(name, "blk.1.ffn_down.weight"), "%s", name);
    CHECK(alim_gpt_tensor_gguf_name(&m, 14, 0, name, sizeof name) && !strcmp(name, "output.weight"), "%s", name);
    const alim_gpt_config ct = llama_cfg(0, 1, 0);
    alim_gpt mt;
    random_model(&mt, &ct, 9);
    CHECK(mt.n_tensors == 11, "11 tensors without biases, tied: %d", mt.n_tensors);
    alim_gpt_free(&mt);

    char dir[] = "/tmp/alim-test-llama-XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    alim_error err;
    alim_tokenizer tk;
    CHECK(alim_tokenizer_init_bytes(&tk, &err) == ALIM_OK, "bytes");
    alim_gpt_config big = c;
    big.vocab_size = 300;
    alim_gpt mb;
    random_model(&mb, &big, 12);
    CHECK(alim_checkpoint_save(dir, &mb, &tk, 5, &err) == ALIM_OK, "save: %s", err.what);
    alim_gpt back;
    uint64_t step = 0;
    CHECK(alim_checkpoint_load(dir, &back, NULL, &step, &err) == ALIM_OK, "load: %s", err.what);
    CHECK(step == 5 && back.num_params == mb.num_params && !memcmp(back.params, mb.params, mb.num_params * sizeof(float)),
          "checkpoint round trip is not bit for bit");
    CHECK(back.config.rope_type == ALIM_ROPE_LLAMA3 && back.config.n_kv_head == 2 && back.config.qkv_bias && !back.config.tie_word_embeddings,
          "config round trip");
    alim_gpt_free(&back);
    /* a NaN weight is refused, naming the tensor */
    size_t n;
    alim_gpt_tensor_slice(&mb, mb.params, 8, 1, &n)[3] = NAN;
    CHECK(alim_checkpoint_save(dir, &mb, &tk, 6, &err) == ALIM_OK, "save: %s", err.what);
    CHECK(alim_checkpoint_load(dir, &back, NULL, NULL, &err) == ALIM_EFORMAT && strstr(err.what, "model.layers.1.self_attn.o_proj.weight"),
          "non-finite weight: %s", err.what);
    alim_gpt_free(&mb);
    alim_tokenizer_free(&tk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleanup");
    alim_gpt_free(&m);
}

/* alim_gpt_forward_inference: one block's activations, the same logits and losses bit for
 * bit as alim_gpt_forward, for both architectures and with shards; no backward after it */
static void test_forward_inference(void)
{
    const alim_gpt_config cl = llama_cfg(1, 0, 1);
    const alim_gpt_config cg = {.n_layer = 3, .n_embd = 32, .n_head = 2, .n_positions = 16, .vocab_size = 19, .layer_norm_epsilon = 1e-5f};
    const alim_gpt_config *cfgs[2] = {&cl, &cg};
    for (int k = 0; k < 2; k++) {
        alim_gpt m;
        random_model(&m, cfgs[k], 31 + k);
        enum { B = 8, T = 16 };
        int32_t in[B * T], tg[B * T];
        alim_rng r;
        alim_rng_seed(&r, 6, 4);
        for (int i = 0; i < B * T; i++) in[i] = (int32_t)alim_rng_below(&r, 19), tg[i] = (int32_t)alim_rng_below(&r, 19);
        alim_error err;
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            CHECK(alim_gpt_forward(&m, in, tg, B, T, &err) == ALIM_OK, "forward: %s", err.what);
            const size_t n = (size_t)B * T * 19;
            float *full = malloc(n * sizeof(float));
            memcpy(full, k == 0 ? m.la.logits : m.a.logits, n * sizeof(float));
            const double loss = m.loss_sum;
            CHECK(alim_gpt_forward_inference(&m, in, tg, B, T, &err) == ALIM_OK && m.acts_layers == 1, "forward_inference: %s", err.what);
            CHECK(!memcmp(full, k == 0 ? m.la.logits : m.a.logits, n * sizeof(float)) && m.loss_sum == loss,
                  "%s, %d threads: forward_inference differs from forward", k == 0 ? "llama" : "gpt2", threads);
            CHECK(alim_gpt_backward(&m, 1.0f, &err) == ALIM_EINVAL && strstr(err.what, "forward_inference"), "backward after inference: %s", err.what);
            free(full);
        }
        alim_gpt_free(&m);
    }
}

static void test_config_checks(void)
{
    alim_error err;
    alim_gpt_config c = llama_cfg(0, 0, 0);
    c.n_kv_head = 4; /* does not divide 6 heads */
    CHECK(alim_gpt_config_check(&c, &err) == ALIM_EINVAL && !strcmp(err.where, "num_key_value_heads"), "%s", err.where);
    c = llama_cfg(0, 0, 0);
    c.n_embd = 18; /* head size 3: odd */
    CHECK(alim_gpt_config_check(&c, &err) == ALIM_EINVAL && !strcmp(err.where, "head_dim"), "%s", err.where);
    c = llama_cfg(0, 0, 1);
    c.rope_high_freq_factor = 0.5f;
    CHECK(alim_gpt_config_check(&c, &err) == ALIM_EINVAL && !strcmp(err.where, "rope_scaling"), "%s", err.where);
}

int main(void)
{
    test_finite_differences(0, 0, 0);
    test_finite_differences(1, 0, 1);
    test_finite_differences(0, 1, 0);
    test_kv_cache();
    test_shards_and_repeatability();
    test_table_and_checkpoint();
    test_config_checks();
    test_forward_inference();
    return check_summary("test_lm_llama");
}
