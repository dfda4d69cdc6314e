/* test_lm_gpt.c — GPT forward/backward by finite differences, determinism, checkpoints
 * (round trip and every kind of corruption), AdamW against a hand computation. */
#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/checkpoint.h"
#include "alim/gpt.h"
#include "alim/io.h"
#include "alim/lm_eval.h"
#include "alim/optim.h"
#include "alim/rng.h"
#include "check.h"

enum { B = 2, T = 5 };
static const alim_gpt_config CFG = {.n_layer = 2, .n_embd = 8, .n_head = 2, .n_positions = 6, .vocab_size = 13, .layer_norm_epsilon = 1e-5f};

static void random_model(alim_gpt *m, uint64_t seed)
{
    alim_rng r;
    alim_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < m->num_params; i++) m->params[i] = (float)(0.3 * alim_rng_normal(&r));
    for (size_t i = 0; i < m->tensor_size[ALIM_GPT_LN1W]; i++) m->p.ln1w[i] += 1.0f, m->p.ln2w[i] += 1.0f;
    for (int i = 0; i < CFG.n_embd; i++) m->p.lnfw[i] += 1.0f;
}

static double loss_sum(alim_gpt *m, const int32_t *in, const int32_t *tg)
{
    alim_error err;
    if (alim_gpt_forward(m, in, tg, B, T, &err)) return NAN;
    return m->loss_sum;
}

static void test_finite_differences(void)
{
    alim_gpt m;
    alim_error err;
    CHECK(alim_gpt_create(&m, &CFG, &err) == ALIM_OK, "%s", err.what);
    random_model(&m, 5);
    const int32_t in[B * T] = {1, 4, 12, 0, 7, 3, 3, 9, 11, 2};
    const int32_t tg[B * T] = {4, 12, 0, 7, 5, 3, -1, 11, 2, 6}; /* one position not counted */
    CHECK(alim_gpt_zero_grad(&m, &err) == ALIM_OK, "zero_grad");
    CHECK(alim_gpt_forward(&m, in, tg, B, T, &err) == ALIM_OK, "%s", err.what);
    CHECK(m.loss_count == 9, "loss_count %zu", m.loss_count);
    CHECK_ABS(m.mean_loss, m.loss_sum / 9, 1e-5, "mean loss");
    /* gradient of the SUM of the losses */
    CHECK(alim_gpt_backward(&m, (float)m.loss_count, &err) == ALIM_OK, "%s", err.what);
    alim_rng r;
    alim_rng_seed(&r, 9, 1);
    int checked = 0, bad = 0;
    for (int t = 0; t < m.n_tensors; t++) {
        int nl = alim_gpt_tensor_is_per_layer(&m, t) ? CFG.n_layer : 1;
        for (int l = 0; l < nl; l++) {
            size_t n;
            float *p = alim_gpt_tensor_slice(&m, m.params, t, l, &n);
            float *g = alim_gpt_tensor_slice(&m, m.grads, t, l, &n);
            char name[64];
            int64_t shape[2];
            alim_gpt_tensor_info(&m, t, l, name, sizeof name, shape);
            for (int k = 0; k < 4; k++) {
                size_t i = (size_t)alim_rng_below(&r, n);
                if (t == ALIM_GPT_WTE && k == 0) i = 12 * (size_t)CFG.n_embd + 3; /* a row used only by the output */
                if (t == ALIM_GPT_WPE && k == 0) i = 5 * (size_t)CFG.n_embd + 1; /* position 5 >= T: zero gradient */
                const float save = p[i];
                const float h = 1e-2f;
                p[i] = save + h;
                double lp = loss_sum(&m, in, tg);
                p[i] = save - h;
                double lm = loss_sum(&m, in, tg);
                p[i] = save;
                double fd = (lp - lm) / (2.0 * h);
                double tol = 2e-3 + 2e-2 * fabs(fd);
                checked++;
                if (fabs(fd - g[i]) > tol) {
                    bad++;
                    fprintf(stderr, "FAIL finite difference %s[%zu]: backward %.6g, (f(x+h)-f(x-h))/2h %.6g\n", name, i, g[i], fd);
                }
            }
        }
    }
    CHECK(bad == 0, "%d of %d finite-difference checks failed", bad, checked);
    CHECK(checked == 4 * (4 + 12 * CFG.n_layer), "checked %d", checked);

    /* determinism: the same forward/backward twice gives the same bits */
    float *g1 = malloc(m.num_params * sizeof(float));
    memcpy(g1, m.grads, m.num_params * sizeof(float));
    alim_gpt_zero_grad(&m, &err);
    alim_gpt_forward(&m, in, tg, B, T, &err);
    alim_gpt_backward(&m, (float)m.loss_count, &err);
    CHECK(memcmp(g1, m.grads, m.num_params * sizeof(float)) == 0, "gradients differ between two identical runs");
    /* and with another thread count (all products here are below the split threshold) */
    int nt = omp_get_max_threads();
    omp_set_num_threads(nt > 1 ? 1 : 2);
    alim_gpt_zero_grad(&m, &err);
    alim_gpt_forward(&m, in, tg, B, T, &err);
    alim_gpt_backward(&m, (float)m.loss_count, &err);
    omp_set_num_threads(nt);
    CHECK(memcmp(g1, m.grads, m.num_params * sizeof(float)) == 0, "gradients depend on the thread count");
    /* gradients accumulate */
    alim_gpt_forward(&m, in, tg, B, T, &err);
    alim_gpt_backward(&m, (float)m.loss_count, &err);
    CHECK_REL(m.g.lnfb[0], 2.0 * g1[m.num_params - CFG.n_embd], 1e-5, "second backward adds");
    free(g1);

    /* bad inputs */
    int32_t badin[B * T];
    memcpy(badin, in, sizeof badin);
    badin[3] = 13;
    CHECK(alim_gpt_forward(&m, badin, NULL, B, T, &err) == ALIM_EINVAL && strstr(err.what, "outside the vocabulary"), "token out of range: %s", err.what);
    CHECK(alim_gpt_forward(&m, in, NULL, 1, 7, &err) == ALIM_EINVAL && strstr(err.what, "exceeds the model's context"), "too long: %s", err.what);
    alim_gpt_config c2 = CFG;
    c2.n_embd = 9;
    alim_gpt m2;
    CHECK(alim_gpt_create(&m2, &c2, &err) == ALIM_EINVAL && !strcmp(err.where, "n_embd"), "n_embd %% n_head: %s", err.where);
    alim_gpt_free(&m);
}

/* T = 70 > 64: attention runs in two row blocks; check the attention weights and the
 * positions of the second block by finite differences. */
static void test_long_context(void)
{
    enum { TL = 70 };
    const alim_gpt_config cfg = {.n_layer = 1, .n_embd = 8, .n_head = 2, .n_positions = 80, .vocab_size = 11, .layer_norm_epsilon = 1e-5f};
    alim_gpt m;
    alim_error err;
    alim_gpt_create(&m, &cfg, &err);
    alim_rng r;
    alim_rng_seed(&r, 4, 0);
    for (size_t i = 0; i < m.num_params; i++) m.params[i] = (float)(0.3 * alim_rng_normal(&r));
    for (int i = 0; i < 8; i++) m.p.ln1w[i] += 1.0f, m.p.ln2w[i] += 1.0f, m.p.lnfw[i] += 1.0f;
    int32_t in[TL], tg[TL];
    for (int t = 0; t < TL; t++) in[t] = (int32_t)alim_rng_below(&r, 11), tg[t] = (int32_t)alim_rng_below(&r, 11);
    alim_gpt_zero_grad(&m, &err);
    CHECK(alim_gpt_forward(&m, in, tg, 1, TL, &err) == ALIM_OK, "%s", err.what);
    alim_gpt_backward(&m, (float)m.loss_count, &err);
    const int tensors[3] = {ALIM_GPT_QKVW, ALIM_GPT_WPE, ALIM_GPT_ATTPROJW};
    int bad = 0;
    for (int k = 0; k < 3; k++) {
        size_t n;
        float *p = alim_gpt_tensor_slice(&m, m.params, tensors[k], 0, &n);
        float *g = alim_gpt_tensor_slice(&m, m.grads, tensors[k], 0, &n);
        for (int rep = 0; rep < 8; rep++) {
            size_t i = tensors[k] == ALIM_GPT_WPE ? (size_t)(64 + rep) * 8 + (size_t)rep % 8 : (size_t)alim_rng_below(&r, n);
            const float save = p[i], h = 1e-2f;
            p[i] = save + h;
            alim_gpt_forward(&m, in, tg, 1, TL, &err);
            double lp = m.loss_sum;
            p[i] = save - h;
            alim_gpt_forward(&m, in, tg, 1, TL, &err);
            double lm = m.loss_sum;
            p[i] = save;
            double fd = (lp - lm) / (2.0 * h);
            if (fabs(fd - g[i]) > 3e-3 + 2e-2 * fabs(fd)) {
                bad++;
                fprintf(stderr, "FAIL long context: tensor %d [%zu]: backward %.6g, finite difference %.6g\n", tensors[k], i, g[i], fd);
            }
        }
    }
    CHECK(bad == 0, "%d finite-difference checks failed at T = 70", bad);
    alim_gpt_free(&m);
}

static char tmpdir[64];

static int write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fwrite(data, 1, n, f);
    return fclose(f);
}

static void corrupt_and_expect(const char *what, const char *orig, size_t len, size_t cut,
                               const char *find, const char *repl, const char *want_where,
                               const char *want_what)
{
    char path[256];
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    char *buf = malloc(len + 1);
    memcpy(buf, orig, len);
    buf[len] = 0;
    if (find) {
        char *p = memmem(buf, len, find, strlen(find));
        CHECK(p != NULL, "%s: pattern %s not found", what, find);
        if (p) memcpy(p, repl, strlen(repl));
    }
    write_file(path, buf, len - cut);
    free(buf);
    alim_gpt m;
    alim_error err;
    alim_error_clear(&err);
    alim_status st = alim_checkpoint_load(tmpdir, &m, NULL, NULL, &err);
    CHECK(st == ALIM_EFORMAT, "%s: status %d", what, st);
    CHECK(strstr(err.where, want_where) != NULL, "%s: where '%s' lacks '%s'", what, err.where, want_where);
    CHECK(strstr(err.what, want_what) != NULL, "%s: what '%s' lacks '%s'", what, err.what, want_what);
}

static void test_checkpoint(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/alim-test-lm-XXXXXX");
    CHECK(mkdtemp(tmpdir) != NULL, "mkdtemp");
    alim_gpt m, m2;
    alim_error err;
    alim_gpt_create(&m, &CFG, &err);
    alim_gpt_init_params(&m, 3);
    CHECK(alim_checkpoint_save(tmpdir, &m, NULL, 42, &err) == ALIM_OK, "save: %s", err.what);
    uint64_t step = 0;
    CHECK(alim_checkpoint_load(tmpdir, &m2, NULL, &step, &err) == ALIM_OK, "load: %s %s", err.where, err.what);
    CHECK(step == 42, "step %llu", (unsigned long long)step);
    CHECK(m2.num_params == m.num_params && !memcmp(m.params, m2.params, m.num_params * sizeof(float)), "round trip");
    CHECK(!memcmp(&m.config, &m2.config, sizeof m.config), "config round trip");
    alim_gpt_free(&m2);
    /* init is deterministic and has GPT-2's statistics */
    alim_gpt m3;
    alim_gpt_create(&m3, &CFG, &err);
    alim_gpt_init_params(&m3, 3);
    CHECK(!memcmp(m.params, m3.params, m.num_params * sizeof(float)), "init is deterministic");
    CHECK(m3.p.ln1w[0] == 1.0f && m3.p.qkvb[0] == 0.0f, "LayerNorm gains 1, biases 0");
    alim_gpt_free(&m3);

    char path[256], *orig;
    size_t len;
    snprintf(path, sizeof path, "%s/model.safetensors", tmpdir);
    alim_file_read_all(path, &orig, &len, &err);
    corrupt_and_expect("truncated", orig, len, 20, NULL, NULL, "ln_f.bias", "past the end");
    corrupt_and_expect("truncated to 4 bytes", orig, len, len - 4, NULL, NULL, "model.safetensors", "too short");
    char hl[8] = {(char)0xff, (char)0xff, 0, 0, 0, 0, 0, 0};
    char *b2 = malloc(len);
    memcpy(b2, orig, len);
    memcpy(b2, hl, 8);
    corrupt_and_expect("bad header length", b2, len, 0, NULL, NULL, "model.safetensors", "bad header length");
    free(b2);
    corrupt_and_expect("wrong dtype", orig, len, 0, "\"F32\"", "\"I32\"", "wte.weight", "unsupported dtype");
    corrupt_and_expect("missing tensor", orig, len, 0, "ln_f.bias", "ln_f.biaz", "ln_f.bias", "missing tensor");
    corrupt_and_expect("shape mismatch", orig, len, 0, "\"shape\":[13,8]", "\"shape\":[8,13]", "wte.weight", "shape mismatch");
    corrupt_and_expect("bad JSON", orig, len, 0, "{\"__metadata__\"", "[\"__metadata__\"", "model.safetensors", "JSON");
    free(orig);

    /* optimizer state round trip */
    alim_adamw opt, opt2;
    alim_adamw_create(&opt, 5, &err);
    for (int i = 0; i < 5; i++) opt.m[i] = (float)i, opt.v[i] = (float)(i * i);
    opt.step = 7;
    CHECK(alim_checkpoint_save_optimizer(tmpdir, &opt, NULL, &err) == ALIM_OK, "save optimizer: %s", err.what);
    cJSON *state = NULL;
    CHECK(alim_checkpoint_load_optimizer(tmpdir, 5, &opt2, &state, &err) == ALIM_OK, "load optimizer: %s", err.what);
    CHECK(opt2.step == 7 && !memcmp(opt.m, opt2.m, 5 * sizeof(float)) && !memcmp(opt.v, opt2.v, 5 * sizeof(float)), "optimizer round trip");
    cJSON_Delete(state);
    alim_adamw_free(&opt2);
    CHECK(alim_checkpoint_load_optimizer(tmpdir, 6, &opt2, &state, &err) == ALIM_EFORMAT && strstr(err.where, "adamw.m"), "wrong size: %s", err.where);
    alim_adamw_free(&opt);
    alim_gpt_free(&m);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    CHECK(system(cmd) == 0, "cleanup");
}

static void test_adamw(void)
{
    alim_adamw opt;
    alim_error err;
    alim_adamw_create(&opt, 2, &err);
    alim_adamw_config c = {0.9f, 0.95f, 1e-8f, 0.1f};
    float p[2] = {1.0f, -2.0f}, g[2] = {0.5f, -0.25f};
    alim_param_segment segs[2] = {{0, 1, 1}, {1, 1, 0}};
    double pd[2] = {1.0, -2.0}, m[2] = {0}, v[2] = {0};
    for (int t = 1; t <= 3; t++) {
        alim_adamw_step(&opt, &c, 0.01f, p, g, segs, 2);
        for (int i = 0; i < 2; i++) {
            if (i == 0) pd[i] *= 1.0 - 0.01 * 0.1;
            m[i] = 0.9 * m[i] + 0.1 * g[i];
            v[i] = 0.95 * v[i] + 0.05 * g[i] * g[i];
            double mh = m[i] / (1 - pow(0.9, t)), vh = v[i] / (1 - pow(0.95, t));
            pd[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
    }
    CHECK_ABS(p[0], pd[0], 1e-6, "AdamW with decay");
    CHECK_ABS(p[1], pd[1], 1e-6, "AdamW without decay");
    CHECK(opt.step == 3, "step count");
    alim_adamw_free(&opt);
    float gr[3] = {3.0f, 4.0f, 0.0f};
    CHECK_ABS(alim_grad_clip(gr, 3, 1.0), 5.0, 1e-12, "norm");
    CHECK_ABS(gr[0], 0.6, 1e-6, "clipped");
    CHECK_ABS(alim_lr_at(ALIM_LR_COSINE, 1.0, 0.1, 0, 10, 110), 0.1, 1e-12, "warmup start");
    CHECK_ABS(alim_lr_at(ALIM_LR_COSINE, 1.0, 0.1, 10, 10, 110), 1.0, 1e-12, "cosine start");
    CHECK_ABS(alim_lr_at(ALIM_LR_COSINE, 1.0, 0.1, 60, 10, 110), 0.55, 1e-12, "cosine middle");
    CHECK_ABS(alim_lr_at(ALIM_LR_CONSTANT, 1.0, 0.1, 60, 10, 110), 1.0, 1e-12, "constant");
}

/* Head sizes 8 and 16 use the small-head attention kernels instead of sgemm: their
 * gradients must match the sgemm path (ALIM_ATT_SGEMM=1) closely and repeat bit for bit. */
static void test_small_heads(void)
{
    enum { BS = 2, TS = 70 };
    for (int C = 16; C <= 32; C += 16) {
        const alim_gpt_config cfg = {.n_layer = 1, .n_embd = C, .n_head = 2, .n_positions = 80, .vocab_size = 11, .layer_norm_epsilon = 1e-5f};
        alim_gpt m;
        alim_error err;
        alim_gpt_create(&m, &cfg, &err);
        alim_rng r;
        alim_rng_seed(&r, 5, 0);
        for (size_t i = 0; i < m.num_params; i++) m.params[i] = (float)(0.3 * alim_rng_normal(&r));
        for (int i = 0; i < C; i++) m.p.ln1w[i] += 1.0f, m.p.ln2w[i] += 1.0f, m.p.lnfw[i] += 1.0f;
        int32_t in[BS * TS], tg[BS * TS];
        for (int t = 0; t < BS * TS; t++) in[t] = (int32_t)alim_rng_below(&r, 11), tg[t] = (int32_t)alim_rng_below(&r, 11);
        float *g[3];
        for (int run = 0; run < 3; run++) {  /* small kernels twice, then sgemm */
            if (run == 2) setenv("ALIM_ATT_SGEMM", "1", 1);
            alim_gpt_zero_grad(&m, &err);
            CHECK(alim_gpt_forward(&m, in, tg, BS, TS, &err) == ALIM_OK, "%s", err.what);
            alim_gpt_backward(&m, 1.0f, &err);
            g[run] = malloc(m.num_params * sizeof(float));
            memcpy(g[run], m.grads, m.num_params * sizeof(float));
            unsetenv("ALIM_ATT_SGEMM");
        }
        CHECK(memcmp(g[0], g[1], m.num_params * sizeof(float)) == 0, "hs=%d: small-head gradients differ between two identical runs", C / 2);
        double mx = 0.0, diff = 0.0;
        for (size_t i = 0; i < m.num_params; i++) {
            mx = fmax(mx, fabs(g[2][i]));
            diff = fmax(diff, fabs(g[0][i] - g[2][i]));
        }
        CHECK(mx > 0 && diff / mx < 1e-5, "hs=%d: small-head vs sgemm gradients differ by %.3g of max %.3g", C / 2, diff, mx);
        for (int run = 0; run < 3; run++) free(g[run]);
        alim_gpt_free(&m);
    }
}

/* A model with random weights of the given shape (LayerNorm gains around 1). */
static void random_model_cfg(alim_gpt *m, const alim_gpt_config *cfg, uint64_t seed)
{
    alim_error err;
    alim_gpt_create(m, cfg, &err);
    alim_rng r;
    alim_rng_seed(&r, seed, 0);
    for (size_t i = 0; i < m->num_params; i++) m->params[i] = (float)(0.3 * alim_rng_normal(&r));
    for (size_t i = 0; i < m->tensor_size[ALIM_GPT_LN1W]; i++) m->p.ln1w[i] += 1.0f, m->p.ln2w[i] += 1.0f;
    for (int i = 0; i < cfg->n_embd; i++) m->p.lnfw[i] += 1.0f;
}

/* max |a - b| over n floats */
static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* The key/value cache: step-by-step log-probabilities equal the full forward's log-softmax
 * rows at every position (batched, T = 70 > one attention block, head sizes 4 (sgemm
 * attention in the full forward), 8 and 16 (small-head kernels)), with a prefill, after
 * dropping rows, repeatably and for any thread count; errors leave the cache unchanged. */
static void test_kv_cache(void)
{
    enum { BK = 3, TK = 70, T0 = 9 };
    const alim_gpt_config cfgs[3] = {{.n_layer = 2, .n_embd = 8, .n_head = 2, .n_positions = 80, .vocab_size = 13, .layer_norm_epsilon = 1e-5f}, {.n_layer = 2, .n_embd = 32, .n_head = 2, .n_positions = 80, .vocab_size = 11, .layer_norm_epsilon = 1e-5f}, {.n_layer = 1, .n_embd = 16, .n_head = 2, .n_positions = 72, .vocab_size = 7, .layer_norm_epsilon = 1e-5f}};
    for (int ci = 0; ci < 3; ci++) {
        const alim_gpt_config *cfg = &cfgs[ci];
        const int V = cfg->vocab_size, hs = cfg->n_embd / cfg->n_head;
        alim_gpt m;
        alim_error err;
        random_model_cfg(&m, cfg, 11 + ci);
        alim_rng r;
        alim_rng_seed(&r, 7, ci);
        int32_t in[BK * TK], col[BK];
        for (int i = 0; i < BK * TK; i++) in[i] = (int32_t)alim_rng_below(&r, V);
        CHECK(alim_gpt_forward(&m, in, NULL, BK, TK, &err) == ALIM_OK, "%s", err.what);
        float *full = malloc((size_t)BK * TK * V * sizeof(float));  // (B,T,V) reference
        for (int b = 0; b < BK; b++)
            for (int t = 0; t < TK; t++) alim_gpt_log_softmax_row(&m, b, t, full + ((size_t)b * TK + t) * V);

        alim_gpt_cache *c = NULL;
        CHECK(alim_gpt_cache_create(&m, BK, TK, &c, &err) == ALIM_OK, "%s", err.what);
        float *lp = malloc((size_t)BK * V * sizeof(float)), *steps = malloc((size_t)BK * TK * V * sizeof(float));
        double worst = 0.0;
        int exact = 1;
        for (int t = 0; t < TK; t++) {
            for (int b = 0; b < BK; b++) col[b] = in[b * TK + t];
            CHECK(alim_gpt_forward_step(&m, c, col, lp, &err) == ALIM_OK, "step %d: %s", t, err.what);
            for (int b = 0; b < BK; b++) {
                const float *want = full + ((size_t)b * TK + t) * V;
                worst = fmax(worst, max_abs_diff(lp + (size_t)b * V, want, V));
                exact &= !memcmp(lp + (size_t)b * V, want, (size_t)V * sizeof(float));
                memcpy(steps + ((size_t)b * TK + t) * V, lp + (size_t)b * V, (size_t)V * sizeof(float));
            }
        }
        CHECK(worst < 1e-5, "hs=%d: cached steps vs full forward: max |diff| of log-probs %.3g", hs, worst);
        /* not bit for bit in general: OpenBLAS rounds a row of a product differently for
         * M = B (step) and M = B*T (full forward) */
        printf("kv cache hs=%d: max |step - full| = %.3g (%s)\n", hs, worst, exact ? "bit for bit" : "rounding differs");
        CHECK(c->t == TK, "t = %d after %d steps", c->t, TK);
        /* full: one more step is refused and changes nothing */
        CHECK(alim_gpt_forward_step(&m, c, col, lp, &err) == ALIM_EINVAL && !strcmp(err.where, "cache") && strstr(err.what, "full"), "full cache: %s", err.what);
        CHECK(c->t == TK, "t = %d after the refused step", c->t);

        /* again from a reset cache, with one thread and then two: the same bits (products
         * this small are not split between threads) */
        const int nt = omp_get_max_threads();
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            alim_gpt_cache_reset(c);
            int same = 1;
            for (int t = 0; t < TK; t++) {
                for (int b = 0; b < BK; b++) col[b] = in[b * TK + t];
                alim_gpt_forward_step(&m, c, col, lp, &err);
                for (int b = 0; b < BK; b++)
                    same &= !memcmp(lp + (size_t)b * V, steps + ((size_t)b * TK + t) * V, (size_t)V * sizeof(float));
            }
            CHECK(same, "hs=%d: steps differ between two runs (%d threads)", hs, threads);
        }
        omp_set_num_threads(nt);

        /* prefill T0 tokens in one forward, then steps; a bad token is refused in between */
        alim_gpt_cache_reset(c);
        int32_t pre[BK * T0];
        for (int b = 0; b < BK; b++) memcpy(pre + b * T0, in + b * TK, T0 * sizeof(int32_t));
        CHECK(alim_gpt_cache_prefill(&m, c, pre, T0, lp, &err) == ALIM_OK, "prefill: %s", err.what);
        worst = 0.0;
        for (int b = 0; b < BK; b++) worst = fmax(worst, max_abs_diff(lp + (size_t)b * V, full + ((size_t)b * TK + T0 - 1) * V, V));
        CHECK(alim_gpt_cache_prefill(&m, c, pre, T0, lp, &err) == ALIM_EINVAL && strstr(err.what, "empty cache"), "second prefill: %s", err.what);
        col[0] = col[1] = 0, col[2] = V;
        CHECK(alim_gpt_forward_step(&m, c, col, lp, &err) == ALIM_EINVAL && !strcmp(err.where, "input"), "bad token: %s", err.what);
        CHECK(c->t == T0, "t = %d after a refused step", c->t);
        for (int t = T0; t < 30; t++) {
            for (int b = 0; b < BK; b++) col[b] = in[b * TK + t];
            alim_gpt_forward_step(&m, c, col, lp, &err);
            for (int b = 0; b < BK; b++) worst = fmax(worst, max_abs_diff(lp + (size_t)b * V, full + ((size_t)b * TK + t) * V, V));
        }
        /* drop row 1: rows 0 and 2 go on as rows 0 and 1 */
        const int keep[2] = {0, 2}, badkeep[2] = {2, 0};
        CHECK(alim_gpt_cache_keep_rows(c, badkeep, 2, &err) == ALIM_EINVAL, "keep rows out of order accepted");
        CHECK(alim_gpt_cache_keep_rows(c, keep, 2, &err) == ALIM_OK && c->B == 2, "keep rows: %s", err.what);
        for (int t = 30; t < TK; t++) {
            for (int k = 0; k < 2; k++) col[k] = in[keep[k] * TK + t];
            CHECK(alim_gpt_forward_step(&m, c, col, lp, &err) == ALIM_OK, "%s", err.what);
            for (int k = 0; k < 2; k++) worst = fmax(worst, max_abs_diff(lp + (size_t)k * V, full + ((size_t)keep[k] * TK + t) * V, V));
        }
        CHECK(worst < 1e-5, "hs=%d: prefill + steps + dropped row: max |diff| %.3g", hs, worst);
        alim_gpt_cache_reset(c);
        CHECK(c->B == BK && c->t == 0, "reset");
        alim_gpt_cache_free(c);

        /* a single row (B = 1) gives the same as its row in the batch */
        CHECK(alim_gpt_cache_create(&m, 1, TK, &c, &err) == ALIM_OK, "%s", err.what);
        worst = 0.0;
        for (int t = 0; t < TK; t++) {
            alim_gpt_forward_step(&m, c, in + 2 * TK + t, lp, &err);
            worst = fmax(worst, max_abs_diff(lp, steps + ((size_t)2 * TK + t) * V, V));
        }
        CHECK(worst < 1e-5, "hs=%d: B = 1 vs B = 3: max |diff| %.3g", hs, worst);
        alim_gpt_cache_free(c);
        free(lp), free(steps), free(full);
        alim_gpt_free(&m);
    }
    /* creation errors; a model of another shape */
    alim_gpt m, m2;
    alim_error err;
    alim_gpt_cache *c = NULL;
    random_model_cfg(&m, &CFG, 3);
    CHECK(alim_gpt_cache_create(&m, 1, CFG.n_positions + 1, &c, &err) == ALIM_EINVAL && c == NULL, "T_max > n_positions accepted");
    CHECK(alim_gpt_cache_create(&m, 0, 2, &c, &err) == ALIM_EINVAL, "B = 0 accepted");
    alim_gpt_config c2 = CFG;
    c2.n_layer = 1;
    random_model_cfg(&m2, &c2, 3);
    CHECK(alim_gpt_cache_create(&m, 1, 4, &c, &err) == ALIM_OK, "%s", err.what);
    const int32_t one = 1;
    CHECK(alim_gpt_forward_step(&m2, c, &one, NULL, &err) == ALIM_EINVAL && strstr(err.what, "another shape"), "other model: %s", err.what);
    CHECK(alim_gpt_forward_step(&m, c, &one, NULL, &err) == ALIM_OK && c->t == 1, "step without logprobs: %s", err.what);
    alim_gpt_cache_free(c);
    alim_gpt_free(&m2);
    alim_gpt_free(&m);
}

/* The sampler before the cache: the whole window through alim_gpt_forward for every token. */
static size_t sample_reference(alim_gpt *m, int32_t *ids, size_t n_prompt, const alim_sample_options *o, alim_rng *rng)
{
    const int V = m->config.vocab_size, maxT = m->config.n_positions;
    const int lim = o->vocab_limit > 0 && o->vocab_limit < V ? o->vocab_limit : V;
    float *lp = malloc((size_t)V * sizeof(float));
    double *w = malloc((size_t)V * sizeof(double));
    int *idx = malloc((size_t)V * sizeof(int));
    alim_error err;
    size_t n = n_prompt;
    for (int k = 0; k < o->max_new; k++) {
        size_t start = n > (size_t)maxT ? n - (size_t)maxT : 0;
        int TW = (int)(n - start);
        alim_gpt_forward(m, ids + start, NULL, 1, TW, &err);
        alim_gpt_log_softmax_row(m, 0, TW - 1, lp);
        int next = 0;
        if (o->temperature <= 0) {
            for (int v = 1; v < lim; v++)
                if (lp[v] > lp[next]) next = v;
        } else {
            int nc = lim;
            for (int v = 0; v < lim; v++) idx[v] = v;
            if (o->top_k > 0 && o->top_k < lim) {
                for (int i = 0; i < o->top_k; i++) {
                    int best = i;
                    for (int j = i + 1; j < lim; j++)
                        if (lp[idx[j]] > lp[idx[best]]) best = j;
                    int t = idx[i];
                    idx[i] = idx[best];
                    idx[best] = t;
                }
                nc = o->top_k;
            }
            double mx = -INFINITY, acc = 0.0;
            for (int i = 0; i < nc; i++) mx = lp[idx[i]] > mx ? lp[idx[i]] : mx;
            for (int i = 0; i < nc; i++) {
                acc += exp(((double)lp[idx[i]] - mx) / o->temperature);
                w[i] = acc;
            }
            next = idx[alim_rng_discrete_cdf(rng, w, (size_t)nc)];
        }
        ids[n++] = next;
        if (o->stop_at_eot && next == o->eot) break;
    }
    free(lp), free(w), free(idx);
    return n;
}

/* The batched loop of the elasticity experiments before the cache (rebound.c's
 * sample_and_label): every step re-runs the (B,t) prefix through alim_gpt_forward. */
static void sample_batch_reference(alim_gpt *m, int32_t *rows, size_t NR, size_t L, size_t n_prompt, int eot,
                                   double temp, int lim, alim_rng *rng, size_t *len)
{
    const int V = m->config.vocab_size;
    int32_t *packed = malloc(NR * L * sizeof(int32_t));
    float *lp = malloc((size_t)V * sizeof(float));
    double *w = malloc((size_t)V * sizeof(double));
    int *alive = malloc(NR * sizeof(int));
    alim_error err;
    for (size_t b = 0; b < NR; b++) len[b] = n_prompt, alive[b] = 1;
    for (size_t t = n_prompt; t < L; t++) {
        int any = 0;
        for (size_t b = 0; b < NR; b++) any |= alive[b];
        if (!any) break;
        for (size_t b = 0; b < NR; b++)
            for (size_t j = len[b]; j < t; j++) rows[b * L + j] = eot;
        for (size_t b = 0; b < NR; b++) memcpy(packed + b * t, rows + b * L, t * sizeof(int32_t));
        alim_gpt_forward(m, packed, NULL, (int)NR, (int)t, &err);
        for (size_t b = 0; b < NR; b++) {
            if (!alive[b]) continue;
            alim_gpt_log_softmax_row(m, (int)b, (int)t - 1, lp);
            double mx = -INFINITY, acc = 0;
            for (int v = 0; v < lim; v++) mx = lp[v] > mx ? lp[v] : mx;
            for (int v = 0; v < lim; v++) {
                acc += exp(((double)lp[v] - mx) / temp);
                w[v] = acc;
            }
            int tok = (int)alim_rng_discrete_cdf(&rng[b], w, (size_t)lim);
            if (tok == eot) {
                alive[b] = 0;
                continue;
            }
            rows[b * L + t] = tok;
            len[b] = t + 1;
        }
    }
    for (size_t b = 0; b < NR; b++)
        for (size_t j = len[b]; j < L; j++) rows[b * L + j] = eot;
    free(packed), free(lp), free(w), free(alive);
}

/* Sampling with the cache draws the same tokens as the full-forward samplers for a fixed
 * seed. This relies on the log-probabilities agreeing to ~1e-7: a draw could only differ
 * if the uniform fell within that distance of a cumulative-weight boundary (probability
 * ~1e-6 per draw); the seeds are fixed, so the test is repeatable, and the log-probs are
 * compared directly in test_kv_cache. */
static void test_sample_with_cache(void)
{
    const alim_gpt_config cfg = {.n_layer = 2, .n_embd = 32, .n_head = 2, .n_positions = 24, .vocab_size = 12, .layer_norm_epsilon = 1e-5f};  /* hs 16, a short context */
    alim_gpt m;
    alim_error err;
    random_model_cfg(&m, &cfg, 21);
    for (size_t i = 0; i < m.tensor_size[ALIM_GPT_WTE]; i++) m.p.wte[i] *= 0.7f; /* flatter distributions: every id gets drawn */
    const alim_sample_options opts[4] = {
        {40, 1.0, 0, 0, -1, 0},  /* 3 + 40 > 24 positions: the sliding window after 21 tokens */
        {15, 0.7, 3, 1, 8, 11}, /* top-k, stop at eot, vocab limit */
        {15, 0.0, 0, 0, -1, 0},  /* greedy */
        {1, 1.0, 0, 0, -1, 0},   /* one token: prefill only */
    };
    const int32_t prompt[3] = {11, 4, 7};
    int same = 1, total = 0;
    for (int oi = 0; oi < 4; oi++)
        for (int seed = 0; seed < 6; seed++) {
            int32_t a[64], b[64];
            memcpy(a, prompt, sizeof prompt), memcpy(b, prompt, sizeof prompt);
            alim_rng ra, rb;
            alim_rng_seed(&ra, 99, (uint64_t)seed), alim_rng_seed(&rb, 99, (uint64_t)seed);
            size_t na = 0;
            CHECK(alim_lm_sample(&m, a, 3, &opts[oi], &ra, &na, &err) == ALIM_OK, "%s", err.what);
            size_t nb = sample_reference(&m, b, 3, &opts[oi], &rb);
            same &= na == nb && !memcmp(a, b, na * sizeof(int32_t));
            total += (int)na - 3;
        }
    CHECK(same, "alim_lm_sample with the cache draws other tokens than the full-forward reference");
    CHECK(total > 200, "only %d tokens drawn", total);

    /* batched: against rebound's loop, eot ends documents (not stored), filler after */
    enum { NB = 7, LB = 22, EOT = 5 };
    int32_t rows[NB * LB], ref[NB * LB];
    size_t len[NB], lref[NB];
    alim_rng rng[NB], rng2[NB];
    for (int oi = 0; oi < 2; oi++) {
        const size_t np = oi ? 3 : 1;
        const double temp = oi ? 0.8 : 1.0;
        for (int b = 0; b < NB; b++) {
            alim_rng_seed(&rng[b], 5, (uint64_t)b), alim_rng_seed(&rng2[b], 5, (uint64_t)b);
            for (int j = 0; j < LB; j++) rows[b * LB + j] = ref[b * LB + j] = (b + j) % 11;
        }
        CHECK(alim_lm_sample_batch(&m, rows, NB, LB, np, EOT, temp, 12, rng, len, &err) == ALIM_OK, "%s", err.what);
        sample_batch_reference(&m, ref, NB, LB, np, EOT, temp, 12, rng2, lref);
        CHECK(!memcmp(rows, ref, sizeof rows) && !memcmp(len, lref, sizeof len), "batched sampling differs from the full-forward loop (prompt %zu)", np);
        int ended = 0, full = 0;
        for (int b = 0; b < NB; b++) ended += len[b] < LB, full += len[b] == LB;
        CHECK(ended > 0 && full > 0, "want both ended and full-length rows: %d ended, %d full", ended, full);
        printf("batched sampling (prompt %zu): %d of %d documents ended by eot, the same tokens as the full-forward loop\n", np, ended, NB);
        /* one row alone gives the same row */
        int32_t one[LB];
        size_t l1;
        alim_rng r1;
        alim_rng_seed(&r1, 5, 4);
        for (int j = 0; j < LB; j++) one[j] = (4 + j) % 11;
        CHECK(alim_lm_sample_batch(&m, one, 1, LB, np, EOT, temp, 12, &r1, &l1, &err) == ALIM_OK, "%s", err.what);
        CHECK(l1 == len[4] && !memcmp(one, rows + 4 * LB, sizeof one), "row 4 alone differs from row 4 in the batch");
    }
    CHECK(alim_lm_sample_batch(&m, rows, NB, 26, 1, 11, 1.0, 12, rng, len, &err) == ALIM_EINVAL && strstr(err.what, "context"), "L - 1 > n_positions: %s", err.what);
    CHECK(alim_lm_sample_batch(&m, rows, NB, LB, 0, 11, 1.0, 12, rng, len, &err) == ALIM_EINVAL, "n_prompt = 0 accepted");
    alim_gpt_free(&m);
}

/* Data parallelism (alim_gpt_shard_count > 1): each thread runs whole passes on its part
 * of the batch. Gradients, loss and log-probabilities against the operation-parallel
 * path, repeatability, and accumulation across backward calls. */
static void test_shards(void)
{
    const alim_gpt_config cfg = {.n_layer = 2, .n_embd = 32, .n_head = 2, .n_positions = 64, .vocab_size = 257, .layer_norm_epsilon = 1e-5f};
    enum { SB = 8, ST = 64 };
    alim_gpt m;
    alim_error err;
    CHECK(alim_gpt_create(&m, &cfg, &err) == ALIM_OK, "create");
    alim_gpt_init_params(&m, 5);
    alim_rng r;
    alim_rng_seed(&r, 77, 0);
    int32_t in[SB * ST], tg[SB * ST];
    for (int i = 0; i < SB * ST; i++) {
        in[i] = (int32_t)alim_rng_below(&r, 257);
        tg[i] = i % 13 == 0 ? -1 : (int32_t)alim_rng_below(&r, 257);  // some positions not counted
    }
    const int nt = omp_get_max_threads();
    omp_set_num_threads(2);
    CHECK(alim_gpt_shard_count(&m, SB, ST) == 2, "2 threads, small model: 2 shards (got %d)", alim_gpt_shard_count(&m, SB, ST));
    CHECK(alim_gpt_shard_count(&m, 1, ST) == 1, "one sequence: no shards");
    const size_t np = m.num_params, nlp = (size_t)SB * ST;
    float *g[3], *lse[2];
    double loss[2];
    for (int run = 0; run < 3; run++) {
        if (run == 2) setenv("ALIM_LM_NO_SHARDS", "1", 1);
        if (run == 2) CHECK(alim_gpt_shard_count(&m, SB, ST) == 1, "ALIM_LM_NO_SHARDS turns shards off");
        alim_gpt_zero_grad(&m, &err);
        CHECK(alim_gpt_forward(&m, in, tg, SB, ST, &err) == ALIM_OK, "forward");
        if (run != 1) {
            lse[run / 2] = malloc(nlp * sizeof(float));
            memcpy(lse[run / 2], m.a.lse, nlp * sizeof(float));
            loss[run / 2] = m.loss_sum;
        }
        CHECK(alim_gpt_backward(&m, 1.0f, &err) == ALIM_OK, "backward");
        g[run] = malloc(np * sizeof(float));
        memcpy(g[run], m.grads, np * sizeof(float));
    }
    unsetenv("ALIM_LM_NO_SHARDS");
    CHECK(memcmp(g[0], g[1], np * sizeof(float)) == 0, "sharded gradients differ between two runs");
    double worst = 0.0;
    for (int t = 0; t < m.n_tensors; t++)
        for (int l = 0; l < (alim_gpt_tensor_is_per_layer(&m, t) ? cfg.n_layer : 1); l++) {
            size_t n;
            const float *a = alim_gpt_tensor_slice(&m, g[0], t, l, &n), *b = alim_gpt_tensor_slice(&m, g[2], t, l, &n);
            double mx = 1e-30, d = 0.0;
            for (size_t i = 0; i < n; i++) {
                mx = fmax(mx, fabs(b[i]));
                d = fmax(d, fabs((double)a[i] - b[i]));
            }
            worst = fmax(worst, d / mx);
        }
    CHECK(worst < 1e-5, "sharded vs operation-parallel gradients: max |diff| / max |grad| = %.3g", worst);
    double dl = 0.0;
    for (size_t i = 0; i < nlp; i++)
        if (tg[i] >= 0) dl = fmax(dl, fabs((double)lse[0][i] - lse[1][i]));
    CHECK(dl < 1e-5, "sharded vs operation-parallel log-sum-exp: %.3g", dl);
    CHECK_REL(loss[0], loss[1], 1e-6, "sharded vs operation-parallel loss sum");
    /* a second sharded backward adds to the gradients */
    CHECK(alim_gpt_forward(&m, in, tg, SB, ST, &err) == ALIM_OK, "forward");
    CHECK(alim_gpt_backward(&m, 1.0f, &err) == ALIM_OK, "backward");  // on top of run 2's
    double da = 0.0, ma = 1e-30;
    for (size_t i = 0; i < np; i++) {
        da = fmax(da, fabs((double)m.grads[i] - ((double)g[2][i] + g[0][i])));
        ma = fmax(ma, fabs(g[0][i]));
    }
    CHECK(da / ma < 1e-5, "sharded backward accumulates: %.3g", da / ma);
    /* alim_gpt_forward_backward = forward then backward, bit for bit, sharded or not */
    for (int shards = 0; shards < 2; shards++) {
        if (!shards) setenv("ALIM_LM_NO_SHARDS", "1", 1);
        alim_gpt_zero_grad(&m, &err);
        alim_gpt_forward(&m, in, tg, SB, ST, &err);
        alim_gpt_backward(&m, 0.5f, &err);
        const double ls = m.loss_sum;
        memcpy(g[1], m.grads, np * sizeof(float));
        alim_gpt_zero_grad(&m, &err);
        CHECK(alim_gpt_forward_backward(&m, in, tg, SB, ST, 0.5f, &err) == ALIM_OK, "forward_backward");
        CHECK(memcmp(g[1], m.grads, np * sizeof(float)) == 0, "forward_backward gradients differ from forward + backward (shards %d)", shards);
        CHECK(m.loss_sum == ls && m.loss_count == (size_t)(SB * ST - (SB * ST + 12) / 13), "forward_backward loss (shards %d)", shards);
        unsetenv("ALIM_LM_NO_SHARDS");
    }
    CHECK(alim_gpt_forward_backward(&m, in, NULL, SB, ST, 1.0f, &err) == ALIM_EINVAL, "forward_backward needs targets");
    omp_set_num_threads(nt);
    for (int i = 0; i < 3; i++) free(g[i]);
    free(lse[0]);
    free(lse[1]);
    alim_gpt_free(&m);
}

int main(int argc, char **argv)
{
    (void)argc;
    test_finite_differences();
    test_long_context();
    test_small_heads();
    test_shards();
    test_kv_cache();
    test_sample_with_cache();
    test_checkpoint();
    test_adamw();
    return check_summary(argv[0]);
}
