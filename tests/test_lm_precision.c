/* test_lm_precision.c — the model in bf16 (alim_precision, alim/gpt.h): the choice and its
 * errors, the bf16 copy of the weights and when it is made again, determinism, the fp32 path
 * untouched by a bf16 detour, bf16 against fp32 on GPT-2 and Llama (forward, gradients,
 * decoding) within bf16's tolerance, and a short training run in both precisions.
 *
 * The exact oracle of the bf16 numbers is tests/pypi/test_bf16_golden.py (PyTorch with the
 * same rounding); here the checks are the properties the engine must have whatever the
 * oracle says. On a CPU or build without bf16 the numeric part is skipped (said so) and the
 * refusal is checked instead. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/gpt.h"
#include "alim/lm_train.h"
#include "alim/rng.h"
#include "check.h"

static alim_gpt_config gpt2_cfg(void)
{
    alim_gpt_config c = {.n_layer = 2, .n_embd = 64, .n_head = 4, .n_positions = 32, .vocab_size = 97,
                         .layer_norm_epsilon = 1e-5f};
    return c;
}

static alim_gpt_config llama_cfg(void)
{
    alim_gpt_config c = {.n_layer = 2, .n_embd = 48, .n_head = 6, .n_positions = 32, .vocab_size = 61,
                         .layer_norm_epsilon = 1e-5f, .arch = ALIM_ARCH_LLAMA, .n_kv_head = 2, .n_inner = 40,
                         .rope_theta = 500.0f, .qkv_bias = 1, .tie_word_embeddings = 0};
    return c;
}

static void random_model(alim_gpt *m, const alim_gpt_config *c, uint64_t seed)
{
    alim_error err;
    CHECK(alim_gpt_create(m, c, &err) == ALIM_OK, "create: %s", err.what);
    alim_rng r;
    alim_rng_seed(&r, seed, 7);
    for (size_t i = 0; i < m->num_params; i++) m->params[i] = (float)(0.3 * alim_rng_normal(&r));
    alim_gpt_params_changed(m);
}

static void random_tokens(int32_t *x, size_t n, int V, uint64_t seed)
{
    alim_rng r;
    alim_rng_seed(&r, seed, 1);
    for (size_t i = 0; i < n; i++) x[i] = (int32_t)alim_rng_below(&r, (uint64_t)V);
}

static size_t n_logits(const alim_gpt *m, int B, int T) { return (size_t)B * T * m->config.vocab_size; }

static float *logits_of(alim_gpt *m) { return m->config.arch == ALIM_ARCH_LLAMA ? m->la.logits : m->a.logits; }

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_choice(int have_bf16)
{
    alim_precision p;
    alim_error err;
    CHECK(alim_precision_parse("bf16", &p, "--precision", &err) == ALIM_OK && p == ALIM_PRECISION_BF16, "parse bf16");
    CHECK(alim_precision_parse("fp32", &p, "--precision", &err) == ALIM_OK && p == ALIM_PRECISION_FP32, "parse fp32");
    CHECK(alim_precision_parse("auto", &p, "--precision", &err) == ALIM_OK && p == ALIM_PRECISION_AUTO, "parse auto");
    CHECK(alim_precision_parse("fp16", &p, "--precision", &err) == ALIM_EINVAL && !strcmp(err.where, "--precision") &&
              strstr(err.what, "fp16"), "fp16 refused: %s: %s", err.where, err.what);
    CHECK(alim_precision_resolve(ALIM_PRECISION_AUTO) == (alim_bf16_native() ? ALIM_PRECISION_BF16 : ALIM_PRECISION_FP32),
          "auto = bf16 exactly where native");
    CHECK(alim_precision_resolve(ALIM_PRECISION_FP32) == ALIM_PRECISION_FP32, "fp32 stays");
    CHECK(!strcmp(alim_precision_name(ALIM_PRECISION_BF16), "bf16"), "name");
    CHECK(alim_bf16_isa() && *alim_bf16_isa(), "isa string");
    CHECK(!alim_bf16_native() || strcmp(alim_bf16_isa(), "none"), "native bf16 names its ISA");

    alim_gpt m;
    const alim_gpt_config c = gpt2_cfg();
    random_model(&m, &c, 1);
    const alim_status st = alim_gpt_set_precision(&m, ALIM_PRECISION_BF16, &err);
    if (have_bf16) CHECK(st == ALIM_OK && m.precision == ALIM_PRECISION_BF16 && m.params_bf16, "bf16 set: %s", err.what);
    else
        CHECK(st == ALIM_EINVAL && !strcmp(err.where, "precision") && strstr(err.what, "not available") &&
                  m.precision == ALIM_PRECISION_FP32, "bf16 refused clearly: %s", err.what);
    CHECK(alim_gpt_set_precision(&m, ALIM_PRECISION_FP32, &err) == ALIM_OK && !m.params_bf16 && m.precision == ALIM_PRECISION_FP32,
          "back to fp32 frees the copy");
    CHECK(alim_gpt_set_precision(&m, ALIM_PRECISION_AUTO, &err) == ALIM_OK && m.precision == alim_precision_resolve(ALIM_PRECISION_AUTO),
          "auto resolved on the model");
    alim_gpt_free(&m);
}

/* forward, forward+backward and decoding of one architecture in both precisions */
static void test_arch(const alim_gpt_config *c, const char *name)
{
    enum { B = 4, T = 24 };
    int32_t in[B * T], tg[B * T];
    random_tokens(in, B * T, c->vocab_size, 5);
    random_tokens(tg, B * T, c->vocab_size, 6);
    alim_error err;
    alim_gpt f, h;
    random_model(&f, c, 11);
    random_model(&h, c, 11);
    CHECK(alim_gpt_set_precision(&h, ALIM_PRECISION_BF16, &err) == ALIM_OK, "%s: bf16: %s", name, err.what);
    const size_t nl = n_logits(&f, B, T);
    float *lf = malloc(nl * sizeof(float)), *lh = malloc(nl * sizeof(float)), *lh2 = malloc(nl * sizeof(float));

    /* forward: bf16 is close to fp32 but not equal (so the bf16 path did run). The inputs
     * of each product carry a relative error up to 2^-9 (one rounding), so a logit, a sum
     * of ~C products through L blocks, moves by roughly 2^-9 sqrt(C) |x||w| per product:
     * ~1e-2 on these logits of size ~3; 0.1 is a loose bound, 1e-6 the floor of "differs". */
    CHECK(alim_gpt_forward(&f, in, tg, B, T, &err) == ALIM_OK, "%s: fp32 forward: %s", name, err.what);
    memcpy(lf, logits_of(&f), nl * sizeof(float));
    CHECK(alim_gpt_forward(&h, in, tg, B, T, &err) == ALIM_OK, "%s: bf16 forward: %s", name, err.what);
    memcpy(lh, logits_of(&h), nl * sizeof(float));
    const double d = max_abs_diff(lf, lh, nl);
    CHECK(d > 1e-6 && d < 0.1, "%s: bf16 logits within bf16 error of fp32 and not equal: %.3g", name, d);
    CHECK_REL(h.mean_loss, f.mean_loss, 5e-3, "bf16 loss ~ fp32 loss");
    printf("%s: max |logit bf16 - fp32| %.3g, loss %.6f vs %.6f\n", name, d, h.mean_loss, f.mean_loss);

    /* deterministic: the same pass twice gives the same bits */
    CHECK(alim_gpt_forward(&h, in, tg, B, T, &err) == ALIM_OK, "forward again");
    CHECK(!memcmp(lh, logits_of(&h), nl * sizeof(float)), "%s: bf16 forward repeats bit for bit", name);

    /* gradients: bf16 close to fp32 in direction and size */
    CHECK(alim_gpt_zero_grad(&f, &err) == ALIM_OK && alim_gpt_zero_grad(&h, &err) == ALIM_OK, "zero grad");
    CHECK(alim_gpt_forward_backward(&f, in, tg, B, T, 1.0f, &err) == ALIM_OK, "fp32 fwd+bwd: %s", err.what);
    CHECK(alim_gpt_forward_backward(&h, in, tg, B, T, 1.0f, &err) == ALIM_OK, "bf16 fwd+bwd: %s", err.what);
    double dot = 0, nf = 0, nh = 0;
    for (size_t i = 0; i < f.num_params; i++) {
        dot += (double)f.grads[i] * h.grads[i];
        nf += (double)f.grads[i] * f.grads[i];
        nh += (double)h.grads[i] * h.grads[i];
    }
    const double cosine = dot / sqrt(nf * nh);
    CHECK(cosine > 0.999 && cosine < 1.0, "%s: gradient cosine bf16 vs fp32 %.8f", name, cosine);
    CHECK(fabs(sqrt(nh) / sqrt(nf) - 1) < 0.01, "%s: gradient norms %.6g vs %.6g", name, sqrt(nh), sqrt(nf));
    printf("%s: gradient cosine %.8f, norm ratio %.6f\n", name, cosine, sqrt(nh / nf));
    float *g1 = malloc(h.num_params * sizeof(float));
    memcpy(g1, h.grads, h.num_params * sizeof(float));
    CHECK(alim_gpt_zero_grad(&h, &err) == ALIM_OK, "zero");
    CHECK(alim_gpt_forward_backward(&h, in, tg, B, T, 1.0f, &err) == ALIM_OK, "again");
    CHECK(!memcmp(g1, h.grads, h.num_params * sizeof(float)), "%s: bf16 gradients repeat bit for bit", name);
    /* forward then backward = forward_backward, bit for bit, as in fp32 */
    CHECK(alim_gpt_zero_grad(&h, &err) == ALIM_OK, "zero");
    CHECK(alim_gpt_forward(&h, in, tg, B, T, &err) == ALIM_OK && alim_gpt_backward(&h, 1.0f, &err) == ALIM_OK, "split");
    CHECK(!memcmp(g1, h.grads, h.num_params * sizeof(float)), "%s: bf16 forward + backward = forward_backward", name);

    /* the bf16 copy: made again after alim_gpt_params_changed, not before (the contract) */
    CHECK(alim_gpt_forward(&h, in, tg, B, T, &err) == ALIM_OK, "fwd");
    memcpy(lh, logits_of(&h), nl * sizeof(float));
    for (size_t i = 0; i < h.num_params; i++) h.params[i] *= 2.0f;
    CHECK(alim_gpt_forward(&h, in, tg, B, T, &err) == ALIM_OK, "fwd");
    memcpy(lh2, logits_of(&h), nl * sizeof(float));
    alim_gpt_params_changed(&h);
    CHECK(alim_gpt_forward(&h, in, tg, B, T, &err) == ALIM_OK, "fwd");
    CHECK(memcmp(lh2, logits_of(&h), nl * sizeof(float)) != 0, "%s: a change of the parameters reaches the bf16 copy", name);
    for (size_t i = 0; i < h.num_params; i++) h.params[i] *= 0.5f; /* exact: powers of two */
    alim_gpt_params_changed(&h);
    CHECK(alim_gpt_forward(&h, in, tg, B, T, &err) == ALIM_OK, "fwd");
    CHECK(!memcmp(lh, logits_of(&h), nl * sizeof(float)), "%s: and back, bit for bit", name);

    /* a detour through bf16 leaves fp32 bit for bit as it was */
    CHECK(alim_gpt_set_precision(&h, ALIM_PRECISION_FP32, &err) == ALIM_OK, "fp32");
    CHECK(alim_gpt_forward(&h, in, tg, B, T, &err) == ALIM_OK, "fwd");
    CHECK(!memcmp(lf, logits_of(&h), nl * sizeof(float)), "%s: fp32 after bf16 = fp32, bit for bit", name);
    CHECK(alim_gpt_set_precision(&h, ALIM_PRECISION_BF16, &err) == ALIM_OK, "bf16 again");

    /* decoding with the cache in bf16 agrees with the full forward in bf16 (products of
     * other shapes: oneDNN may sum in another order, so to fp32 rounding of the logits) */
    alim_gpt_cache *cache = NULL;
    CHECK(alim_gpt_cache_create(&h, B, T, &cache, &err) == ALIM_OK, "cache: %s", err.what);
    const int V = c->vocab_size, T0 = 5;
    int32_t pre[B * T0];
    for (int b = 0; b < B; b++) memcpy(pre + b * T0, in + b * T, T0 * sizeof(int32_t));
    float *lp = malloc((size_t)B * V * sizeof(float)), *row = malloc((size_t)V * sizeof(float));
    CHECK(alim_gpt_forward(&h, in, NULL, B, T, &err) == ALIM_OK, "fwd");
    float *full = malloc(nl * sizeof(float));
    memcpy(full, logits_of(&h), nl * sizeof(float));
    CHECK(alim_gpt_cache_prefill(&h, cache, pre, T0, lp, &err) == ALIM_OK, "prefill: %s", err.what);
    double worst = 0;
    float *first = malloc((size_t)V * sizeof(float)); /* row 0 after its first step */
    for (int t = T0; t < 12; t++) {
        int32_t col[B];
        for (int b = 0; b < B; b++) col[b] = in[b * T + t];
        CHECK(alim_gpt_forward_step(&h, cache, col, lp, &err) == ALIM_OK, "step: %s", err.what);
        if (t == T0) memcpy(first, lp, (size_t)V * sizeof(float));
        for (int b = 0; b < B; b++) {
            /* log softmax of the full pass's row (b,t) */
            const float *lr = full + ((size_t)b * T + t) * V;
            double mx = -INFINITY, s = 0;
            for (int v = 0; v < V; v++) mx = fmax(mx, lr[v]);
            for (int v = 0; v < V; v++) s += exp(lr[v] - mx);
            for (int v = 0; v < V; v++) worst = fmax(worst, fabs(lp[(size_t)b * V + v] - (lr[v] - mx - log(s))));
        }
    }
    CHECK(worst < 2e-3, "%s: bf16 decoding vs bf16 forward: %.3g", name, worst);
    printf("%s: bf16 cache steps vs full forward: max |log p diff| %.3g\n", name, worst);
    /* and with one row (the M = 1 products) */
    alim_gpt_cache *c1 = NULL;
    CHECK(alim_gpt_cache_create(&h, 1, T, &c1, &err) == ALIM_OK, "cache 1");
    CHECK(alim_gpt_cache_prefill(&h, c1, pre, T0, row, &err) == ALIM_OK, "prefill 1");
    CHECK(alim_gpt_forward_step(&h, c1, &in[T0], row, &err) == ALIM_OK, "step 1");
    CHECK(max_abs_diff(row, first, (size_t)V) < 2e-3, "%s: one row decoded alone = row 0 of %d: %.3g", name, B,
          max_abs_diff(row, first, (size_t)V));
    free(first);
    alim_gpt_cache_free(c1);
    alim_gpt_cache_free(cache);
    free(full);
    free(lp);
    free(row);
    free(g1);
    free(lf);
    free(lh);
    free(lh2);
    alim_gpt_free(&f);
    alim_gpt_free(&h);
}

/* A short training run of a small GPT-2 in both precisions: the curves agree. Margin: the
 * final loss within 2% (bf16's per-product error is ~0.4%, and training averages it out;
 * measured below). */
static void test_training(const char *tmp)
{
    char data[512], out_f[512], out_h[512];
    snprintf(data, sizeof data, "%s/data.txt", tmp);
    snprintf(out_f, sizeof out_f, "%s/f", tmp);
    snprintf(out_h, sizeof out_h, "%s/h", tmp);
    FILE *fp = fopen(data, "w");
    alim_rng r;
    alim_rng_seed(&r, 9, 2);
    /* text with structure to learn: words from a small vocabulary */
    static const char *words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far", "away", "home"};
    for (int i = 0; i < 12000; i++) fprintf(fp, "%s%s", words[alim_rng_below(&r, 12)], i % 9 == 8 ? ".\n" : " ");
    fclose(fp);
    const char *files[] = {data};
    double loss[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        alim_train_options o;
        alim_train_options_default(&o);
        o.data = files;
        o.n_data = 1;
        o.out_dir = k ? out_h : out_f;
        o.model.n_layer = 2, o.model.n_embd = 64, o.model.n_head = 4, o.model.n_positions = 64;
        o.context = 64;
        o.steps = 150;
        o.batch = 8;
        o.lr = 1e-3;
        o.precision = k ? ALIM_PRECISION_BF16 : ALIM_PRECISION_FP32;
        alim_train_result res;
        alim_error err;
        alim_error_clear(&err);
        CHECK(alim_train(&o, NULL, &res, &err) == ALIM_OK, "train %d: %s", k, err.what);
        CHECK(res.precision == o.precision, "result records the precision");
        loss[k] = res.last_loss;
    }
    CHECK(loss[0] < 2.2, "fp32 learned: %.4f", loss[0]);
    CHECK(fabs(loss[1] / loss[0] - 1) < 0.02, "bf16 final loss %.4f within 2%% of fp32's %.4f", loss[1], loss[0]);
    printf("training 150 steps: final loss fp32 %.4f, bf16 %.4f (%+.2f%%)\n", loss[0], loss[1], 100 * (loss[1] / loss[0] - 1));

    /* resume: another precision is refused, auto continues in the run's own */
    alim_train_options o;
    alim_train_options_default(&o);
    o.data = files;
    o.n_data = 1;
    o.out_dir = out_h;
    o.resume = 1;
    o.context = 64;
    o.steps = 152;
    o.batch = 8;
    o.lr = 1e-3;
    alim_train_result res;
    alim_error err;
    o.precision = ALIM_PRECISION_FP32;
    CHECK(alim_train(&o, NULL, &res, &err) == ALIM_EINVAL && !strcmp(err.where, "precision") && strstr(err.what, "bf16"),
          "resume in another precision refused: %s: %s", err.where, err.what);
    o.precision = ALIM_PRECISION_AUTO;
    CHECK(alim_train(&o, NULL, &res, &err) == ALIM_OK && res.precision == ALIM_PRECISION_BF16, "auto resumes in bf16: %s", err.what);
}

int main(int argc, char **argv)
{
    (void)argc;
    alim_gpt probe;
    const alim_gpt_config c = gpt2_cfg();
    alim_error err;
    int have_bf16 = 0;
    if (alim_gpt_create(&probe, &c, &err) == ALIM_OK) {
        have_bf16 = alim_gpt_set_precision(&probe, ALIM_PRECISION_BF16, &err) == ALIM_OK;
        alim_gpt_free(&probe);
    }
    printf("bf16: %s (oneDNN ISA %s, native %d)\n", have_bf16 ? "available" : "not available", alim_bf16_isa(), alim_bf16_native());
    test_choice(have_bf16);
    if (!have_bf16) {
        printf("skipped: the numeric bf16 checks (no bf16 products on this CPU/build)\n");
        return check_summary(argv[0]);
    }
    const alim_gpt_config g = gpt2_cfg(), l = llama_cfg();
    test_arch(&g, "gpt2");
    test_arch(&l, "llama");
    char tmp[] = "/tmp/alim_prec_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL, "mkdtemp");
    test_training(tmp);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0, "cleanup");
    return check_summary(argv[0]);
}
