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
#include "alim/optim.h"
#include "alim/rng.h"
#include "check.h"

enum { B = 2, T = 5 };
static const alim_gpt_config CFG = {2, 8, 2, 6, 13, 1e-5f};

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
    for (int t = 0; t < ALIM_GPT_NUM_TENSORS; t++) {
        int nl = alim_gpt_tensor_is_per_layer(t) ? CFG.n_layer : 1;
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
    const alim_gpt_config cfg = {1, 8, 2, 80, 11, 1e-5f};
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
        const alim_gpt_config cfg = {1, C, 2, 80, 11, 1e-5f};
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

int main(int argc, char **argv)
{
    (void)argc;
    test_finite_differences();
    test_long_context();
    test_small_heads();
    test_checkpoint();
    test_adamw();
    return check_summary(argv[0]);
}
