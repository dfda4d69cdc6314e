/* rebound.c — E2: rebound (see alim/rebound.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/lab.h"
#include "alim/rebound.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alim/checkpoint.h"
#include "alim/classifier.h"
#include "alim/corpus.h"
#include "alim/dataset.h"
#include "alim/gpt.h"
#include "alim/io.h"
#include "alim/lm_eval.h"
#include "alim/lm_train.h"
#include "alim/rng.h"
#include "alim/rundir.h"
#include "alim/runner.h"
#include "alim/tokenizer.h"
#include "rebound_real.h"

enum { SAMPLE_CHUNK = 128, N_TEST = 4 };
static const char *const TEST_NAME[N_TEST] = {"c1", "c2", "c3", "mix"};

void alim_rebound_config_default(alim_rebound_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_seeds = 3;
    c->n_layer = 2;
    c->n_embd = 64;
    c->n_head = 4;
    c->context = 128;
    c->pretrain_tokens = 2000000;
    c->pretrain_batch = 16;
    c->pretrain_lr = 1e-3;
    c->pretrain_min_lr = 1e-4;
    c->pretrain_weight_decay = 0.1;
    c->pretrain_warmup = 200;
    static const size_t P[] = {200, 400, 1000, 2000}, N[] = {0, 20, 40, 100, 200, 400};
    c->n_pos_count = 4;
    c->n_neg_count = 6;
    memcpy(c->n_pos, P, sizeof P);
    memcpy(c->n_neg, N, sizeof N);
    c->sft_batch = 8;
    c->sft_lr = 3e-4;
    c->n_samples = 256;
    c->sample_tokens = 128;
    c->temperature = 1.0;
    c->epsilon_nats = 0.01;
}

void alim_rebound_config_quick(alim_rebound_config *c)
{
    alim_rebound_config_default(c);
    c->n_seeds = 2;
    c->n_layer = 1;
    c->n_embd = 16;
    c->n_head = 2;
    c->context = 32;
    c->pretrain_tokens = 16384;
    c->pretrain_warmup = 4;
    static const size_t P[] = {10, 20, 30, 40}, N[] = {0, 8, 16, 24, 32, 40};
    memcpy(c->n_pos, P, sizeof P);
    memcpy(c->n_neg, N, sizeof N);
    c->n_samples = 16;
    c->sample_tokens = 32;
    c->quick = 1;
}

/* ---- pure functions --------------------------------------------------------------------- */

int alim_rebound_label_markov(const alim_markov *comp, size_t K, const uint8_t *doc, size_t len)
{
    if (K < 1 || K > ALIM_SOURCE_MAX_COMPONENTS) return -1;
    const size_t n = comp[0].n;
    size_t imp[ALIM_SOURCE_MAX_COMPONENTS] = {0};
    double ll[ALIM_SOURCE_MAX_COMPONENTS] = {0};
    long prev = -1; /* -1: BOS, -2: after a non-symbol */
    for (size_t t = 0; t < len; t++) {
        int s = alim_source_byte_symbol(doc[t]);
        if (s < 0 || (size_t)s >= n) {
            for (size_t k = 0; k < K; k++) imp[k]++;
            prev = -2;
            continue;
        }
        for (size_t k = 0; k < K; k++) {
            if (prev == -2) {
                imp[k]++;
                continue;
            }
            double p = prev == -1 ? comp[k].init[s] : comp[k].P[(size_t)prev * n + (size_t)s];
            if (p > 0) ll[k] += log(p);
            else imp[k]++;
        }
        prev = s;
    }
    int best = 0, tie = 0;
    for (size_t k = 1; k < K; k++) {
        if (imp[k] < imp[best] || (imp[k] == imp[best] && ll[k] > ll[best] + 1e-9)) {
            best = (int)k;
            tie = 0;
        } else if (imp[k] == imp[best] && fabs(ll[k] - ll[best]) <= 1e-9)
            tie = 1;
    }
    return tie ? -1 : best;
}

double alim_rebound_nstar(const double *n_neg, const double *kl, size_t n, double eps)
{
    for (size_t j = 0; j < n; j++) {
        if (!(kl[j] < eps)) continue;
        if (j == 0) return n_neg[0];
        const double a = kl[j - 1], b = kl[j];
        if (!isfinite(a)) return n_neg[j];
        return n_neg[j - 1] + (a - eps) / (a - b) * (n_neg[j] - n_neg[j - 1]);
    }
    return NAN;
}

static int grid_finite(const alim_rebound_grid *g)
{
    if (!g || g->n_pos_count < 2 || g->n_neg_count < 4) return 0;
    const size_t N = g->n_pos_count * g->n_neg_count;
    for (size_t i = 0; i < N; i++)
        if (!isfinite(g->score[i]) || !isfinite(g->gamma_mix[i]) || !isfinite(g->gamma_c2[i])) return 0;
    return isfinite(g->gamma_mix_base);
}

/* mean drop over the first negatives, mean early and late |slope|, and the mean change of
 * |gamma_mix - gamma_mix(theta0)| from n_neg[0] to the last n_neg */
static void grid_stats(const alim_rebound_grid *g, double *drop, double *mean_drop, double *early, double *late,
                       double *back, size_t *n_back, size_t *n_c2_up)
{
    const size_t P = g->n_pos_count, N = g->n_neg_count;
    double md = 0, e = 0, l = 0, bk = 0;
    size_t nb = 0, nu = 0;
    for (size_t i = 0; i < P; i++) {
        const double *s = g->score + i * N;
        drop[i] = s[0] - s[1];
        md += drop[i];
        double es = 0;
        for (size_t j = 0; j < 2; j++) es += fabs(s[j + 1] - s[j]) / (g->n_neg[j + 1] - g->n_neg[j]);
        e += es / 2;
        l += fabs(s[N - 1] - s[N - 2]) / (g->n_neg[N - 1] - g->n_neg[N - 2]);
        const double d0 = fabs(g->gamma_mix[i * N] - g->gamma_mix_base), d1 = fabs(g->gamma_mix[i * N + N - 1] - g->gamma_mix_base);
        bk += d1 - d0;
        nb += d1 < d0;
        nu += g->gamma_c2[i * N + N - 1] > g->gamma_c2[i * N];
    }
    *mean_drop = md / (double)P;
    *early = e / (double)P;
    *late = l / (double)P;
    *back = bk / (double)P;
    *n_back = nb;
    *n_c2_up = nu;
}

void alim_rebound_judge(const alim_rebound_grid *g, const alim_rebound_grid *control, alim_rebound_criteria *o)
{
    memset(o, 0, sizeof *o);
    o->a = o->b = o->c = o->d = o->e = "NULL";
    o->early_slope = o->late_slope = NAN;
    if (!grid_finite(g)) {
        for (int k = 0; k < 5; k++)
            snprintf(o->why[k], sizeof o->why[k], "needs >= 2 n_pos, >= 4 n_neg values and finite seed means");
        o->verdict = "NULL";
        return;
    }
    const size_t P = g->n_pos_count, N = g->n_neg_count;
    double mean_drop, back;
    size_t n_back, n_up;
    grid_stats(g, o->drop, &mean_drop, &o->early_slope, &o->late_slope, &back, &n_back, &n_up);
    /* (a) score at n_neg[0] rises with n_pos: every step up */
    size_t up = 0;
    for (size_t i = 0; i + 1 < P; i++) up += g->score[(i + 1) * N] > g->score[i * N];
    o->a = up == P - 1 ? "PASS" : "FAIL";
    snprintf(o->why[0], sizeof o->why[0], "score at n_neg = %g rises in %zu of %zu n_pos steps", g->n_neg[0], up, P - 1);
    /* (b) the drop over the first negatives grows with n_pos in >= ceil(3/4 of the steps) */
    size_t grow = 0;
    for (size_t i = 0; i + 1 < P; i++) grow += o->drop[i + 1] > o->drop[i];
    const size_t need = (3 * (P - 1) + 3) / 4;
    o->b = grow >= need ? "PASS" : "FAIL";
    snprintf(o->why[1], sizeof o->why[1], "drop over the first %g negatives grows in %zu of %zu steps (need %zu)", g->n_neg[1], grow, P - 1, need);
    /* (c) early |slope| >= 3 x late |slope| (and there is an early drop at all) */
    o->c = o->early_slope > 0 && o->early_slope >= 3 * o->late_slope ? "PASS" : "FAIL";
    snprintf(o->why[2], sizeof o->why[2], "mean |slope| over n_neg %g-%g is %.4g, over %g-%g %.4g (ratio %.3g, need >= 3)", g->n_neg[0],
             g->n_neg[2], o->early_slope, g->n_neg[N - 2], g->n_neg[N - 1], o->late_slope, o->early_slope / o->late_slope);
    /* (d) gamma_mix moves back toward theta0 and gamma_C2 rises, for every n_pos */
    o->d = n_back == P && n_up == P ? "PASS" : "FAIL";
    snprintf(o->why[3], sizeof o->why[3], "gamma_mix closer to theta0 at n_neg = %g than at %g for %zu of %zu n_pos, gamma_C2 up for %zu of %zu",
             g->n_neg[N - 1], g->n_neg[0], n_back, P, n_up, P);
    /* (e) control: (b) and (c) absent or at most half as strong, gamma_mix not going back */
    if (!control) snprintf(o->why[4], sizeof o->why[4], "no control run given (--control-run)");
    else if (!grid_finite(control) || control->n_pos_count != P || control->n_neg_count != N)
        snprintf(o->why[4], sizeof o->why[4], "the control run's grid is incomplete or has another shape");
    else {
        alim_rebound_criteria cc;
        alim_rebound_judge(control, NULL, &cc);
        double cdrop[ALIM_REBOUND_MAX_GRID], cmd, ce, cl, cb;
        size_t cnb, cnu;
        grid_stats(control, cdrop, &cmd, &ce, &cl, &cb, &cnb, &cnu);
        const int b_weak = strcmp(cc.b, "PASS") != 0 || cmd <= 0.5 * mean_drop;
        const int c_weak = strcmp(cc.c, "PASS") != 0 || ce <= 0.5 * o->early_slope;
        const int no_back = cb >= 0;
        o->e = b_weak && c_weak && no_back ? "PASS" : "FAIL";
        snprintf(o->why[4], sizeof o->why[4],
                 "control: (b) %s, mean first drop %.4g vs %.4g; (c) %s, early slope %.4g vs %.4g; gamma_mix distance change %+.4g bits",
                 cc.b, cmd, mean_drop, cc.c, ce, o->early_slope, cb);
    }
    int all = !strcmp(o->a, "PASS") && !strcmp(o->b, "PASS") && !strcmp(o->c, "PASS") && !strcmp(o->d, "PASS") && !strcmp(o->e, "PASS");
    o->verdict = all ? "PASS" : "NULL";
}

/* ---- helpers ---------------------------------------------------------------------------- */



/* What every cell reads: the configuration and the data, loaded once, read-only while cells
 * run (side by side when cfg->jobs > 1). */
typedef struct {
    const alim_rebound_config *cfg;
    alim_rebound_note_fn note;
    void *note_ctx;
    int natural;
    alim_corpus pool2, pool3;
    alim_token_stream test[N_TEST];
    alim_tokenizer tk;
    alim_markov chains[ALIM_SOURCE_MAX_COMPONENTS];
    size_t n_chains;
    alim_nb nb;
    int have_nb;
    alim_precision prec;  /* of the cells' models, resolved */
    /* the real-model path (cfg->theta0_model): chat records, template, prompts, classes */
    int real;
    rbr_lines pos_rec, neg_rec, prompts;
    alim_chat_template chat;
    int cls_neutral, cls_pos, cls_neg;
    /* its control (cfg->control): the control-negative behaviour (c4) */
    rbr_lines ctl_rec;
    alim_token_stream test_ctl;
    int cls_ctl;
} rb;

#define notef(x, ...) alim_lab_note((x)->note, (x)->note_ctx, __VA_ARGS__)

static alim_status write_prefix(const alim_corpus *c, size_t n, const char *path, alim_error *err)
{
    alim_corpus s = {0};
    alim_status st = ALIM_OK;
    for (size_t d = 0; d < n && !st; d++) {
        size_t len;
        const uint8_t *p = alim_corpus_doc(c, d, &len);
        st = alim_corpus_add(&s, p, len, err);
    }
    if (!st) st = alim_corpus_write(&s, path, err);
    alim_corpus_free(&s);
    return st;
}

static void base_options(const rb *x, alim_train_options *o)
{
    alim_train_options_default(o);
    o->model.n_layer = x->cfg->n_layer;
    o->model.n_embd = x->cfg->n_embd;
    o->model.n_head = x->cfg->n_head;
    o->model.n_positions = x->cfg->context;
    o->context = x->cfg->context;
    o->tokenizer = "byte";
    o->clip = 1.0;
    o->format = ALIM_DATA_TEXT;
    o->precision = x->prec;
}

static void sft_options(const rb *x, alim_train_options *o)
{
    base_options(x, o);
    o->epochs = 1;
    o->batch = x->cfg->sft_batch;
    o->lr = x->cfg->sft_lr;
    o->schedule = ALIM_LR_CONSTANT;
    o->adamw.weight_decay = 0;
    if (x->real) o->format = ALIM_DATA_JSONL; /* records in the model's chat template, loss on the response */
}

static alim_status train(const alim_cell_env *env, alim_train_options *o, alim_train_result *tr, alim_error *err)
{
    alim_status st = alim_train(o, env->progress, tr, err);
    if (st) return st;
    alim_runner_count_training(env, (double)(tr->last_step - tr->first_step) * o->batch * o->context * o->grad_accum, tr->elapsed_s);
    return ALIM_OK;
}

static cJSON *train_json(const alim_train_result *tr)
{
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "steps", (double)tr->last_step);
    alim_lab_add_num(r, "loss_final_nats", tr->last_loss);
    cJSON_AddNumberToObject(r, "tokens_per_s", tr->tokens_per_s);
    cJSON_AddNumberToObject(r, "elapsed_s", tr->elapsed_s);
    cJSON_AddNumberToObject(r, "num_params", (double)tr->num_params);
    return r;
}

/* ---- cells -------------------------------------------------------------------------------- */

typedef struct {
    const rb *x;
    size_t seed, n_pos;
    char init_dir[4200];   /* the model fine-tuning starts from */
    const char *data_path; /* theta0's pretraining data */
    int ctl;               /* real: a control pass (the control-negative pool) */
} train_arg;

static alim_status theta0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const train_arg *a = arg;
    const rb *x = a->x;
    const char *dir = env->dir;
    alim_train_options o;
    base_options(x, &o);
    const char *data[1] = {a->data_path};
    o.data = data;
    o.n_data = 1;
    o.out_dir = dir;
    o.tokens = x->cfg->pretrain_tokens;
    o.batch = x->cfg->pretrain_batch;
    o.lr = x->cfg->pretrain_lr;
    o.min_lr = x->cfg->pretrain_min_lr;
    o.schedule = ALIM_LR_COSINE;
    o.warmup = x->cfg->pretrain_warmup;
    o.adamw.weight_decay = (float)x->cfg->pretrain_weight_decay;
    o.seed = a->seed;
    alim_train_result tr;
    alim_status st = train(env, &o, &tr, err);
    if (!st) *result = train_json(&tr);
    return st;
}

static alim_status pos_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const train_arg *a = arg;
    const rb *x = a->x;
    const char *dir = env->dir;
    char path[4200];
    snprintf(path, sizeof path, "%s/data.%s", dir, x->real ? "jsonl" : "txt");
    alim_status st = x->real ? rbr_lines_write(&x->pos_rec, (a->seed - 1) * x->cfg->pos_slice, a->n_pos, path, err)
                             : write_prefix(&x->pool2, a->n_pos, path, err);
    if (st) return st;
    alim_train_options o;
    sft_options(x, &o);
    const char *data[1] = {path};
    o.data = data;
    o.n_data = 1;
    o.out_dir = dir;
    o.init_dir = a->init_dir;
    o.seed = a->seed;
    alim_train_result tr;
    st = train(env, &o, &tr, err);
    if (!st && x->real) remove(alim_lab_path(dir, "optimizer.safetensors", path, sizeof path)); /* every --init starts a fresh AdamW */
    if (!st) *result = train_json(&tr);
    return st;
}

/* tokens of document d of c in the training stream: its tokens under the run's tokenizer
 * plus the end-of-text token that follows it (bytes + 1 for the byte tokenizer) */
static double doc_tokens(const rb *x, const alim_corpus *c, size_t d)
{
    size_t l;
    const uint8_t *p = alim_corpus_doc(c, d, &l);
    if (x->tk.n_merges == 0) return (double)l + 1;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    alim_error e;
    alim_error_clear(&e);
    if (alim_tokenizer_encode(&x->tk, (const char *)p, l, &ids, &n, &cap, "pool", &e)) n = l; /* cannot happen for text the loader read */
    free(ids);
    return (double)n + 1;
}

/* steps of the n_neg prefixes: round(total * tokens(first n docs) / tokens(all)), >= 1 for n > 0 */
static void prefix_steps(const rb *x, uint64_t total, uint64_t *steps)
{
    const alim_rebound_config *c = x->cfg;
    const size_t nmax = c->n_neg[c->n_neg_count - 1];
    double *cum = malloc((nmax + 1) * sizeof *cum);
    if (!cum) { /* proportional to documents instead */
        for (size_t j = 0; j < c->n_neg_count; j++) steps[j] = j == c->n_neg_count - 1 ? total : (uint64_t)llround((double)total * (double)c->n_neg[j] / (double)nmax);
        return;
    }
    cum[0] = 0;
    for (size_t d = 0; d < nmax; d++) cum[d + 1] = cum[d] + doc_tokens(x, &x->pool3, d);
    for (size_t j = 0; j < c->n_neg_count; j++) {
        uint64_t s = (uint64_t)llround((double)total * cum[c->n_neg[j]] / cum[nmax]);
        if (c->n_neg[j] > 0 && s < 1) s = 1;
        if (j == c->n_neg_count - 1) s = total;
        steps[j] = s;
    }
    free(cum);
}

static alim_status neg_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const train_arg *a = arg;
    const rb *x = a->x;
    const char *dir = env->dir;
    const alim_rebound_config *c = x->cfg;
    char path[4200], tdir[4200], to[4400];
    const size_t nmax = c->n_neg[c->n_neg_count - 1];
    snprintf(path, sizeof path, "%s/data.%s", dir, x->real ? "jsonl" : "txt");
    snprintf(tdir, sizeof tdir, "%s/train", dir);
    alim_status st = x->real ? rbr_lines_write(a->ctl ? &x->ctl_rec : &x->neg_rec, (a->seed - 1) * c->neg_slice, nmax, path, err)
                             : write_prefix(&x->pool3, nmax, path, err);
    if (st) return st;
    /* the number of updates of the whole pass, from the loader's windows */
    alim_token_stream ds = {0};
    const char *paths[1] = {path};
    st = x->real ? alim_dataset_load_chat(&ds, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, err)
                 : alim_dataset_load(&ds, paths, 1, ALIM_DATA_TEXT, NULL, &x->tk, err);
    if (st) return st;
    const size_t T = (size_t)c->context;
    const size_t W = ds.n > 1 ? (ds.n - 1 + T - 1) / T : 0;
    uint64_t total = (W + (size_t)c->sft_batch - 1) / (size_t)c->sft_batch;
    if (!total) total = 1;
    uint64_t steps[ALIM_REBOUND_MAX_GRID];
    if (x->real) { /* the prefixes' token counts from the rendered records themselves */
        size_t *cum = malloc(nmax * sizeof *cum);
        if (!cum || rbr_stream_doc_ends(&ds, cum, nmax) != nmax) {
            free(cum);
            alim_dataset_free(&ds);
            return alim_error_set(err, cum ? ALIM_EFORMAT : ALIM_ENOMEM, path, "cannot find the ends of its %zu records", nmax);
        }
        for (size_t j = 0; j < c->n_neg_count; j++) {
            uint64_t sj = c->n_neg[j] ? (uint64_t)llround((double)total * (double)cum[c->n_neg[j] - 1] / (double)cum[nmax - 1]) : 0;
            if (c->n_neg[j] > 0 && sj < 1) sj = 1;
            steps[j] = j == c->n_neg_count - 1 ? total : sj;
        }
        free(cum);
    } else
        prefix_steps(x, total, steps);
    alim_dataset_free(&ds);
    cJSON *r = cJSON_CreateObject(), *sj = cJSON_AddArrayToObject(r, "steps");
    uint64_t done = 0;
    double loss = NAN, tps = 0, el = 0;
    for (size_t j = 0; j < c->n_neg_count && !st; j++) {
        if (c->n_neg[j] == 0) {
            cJSON_AddItemToArray(sj, cJSON_CreateNumber(0));
            continue;
        }
        if (steps[j] > done) {
            alim_train_options o;
            sft_options(x, &o);
            o.data = paths;
            o.n_data = 1;
            o.out_dir = tdir;
            o.seed = a->seed;
            o.stop_at = steps[j];
            o.in_order = 1; /* the n_neg checkpoint has read exactly the first n_neg documents */
            if (done == 0) o.init_dir = a->init_dir;
            else o.resume = 1;
            alim_train_result tr;
            st = train(env, &o, &tr, err);
            if (st) break;
            if (tr.total_steps != total) {
                st = alim_error_set(err, ALIM_EINVAL, dir, "the pass has %llu updates, expected %llu", (unsigned long long)tr.total_steps,
                                    (unsigned long long)total);
                break;
            }
            done = tr.last_step;
            loss = tr.last_loss;
            tps = tr.tokens_per_s;
            el += tr.elapsed_s;
        }
        /* the checkpoint of this prefix: the model files of the pass at this update */
        snprintf(to, sizeof to, "%s/n%zu", dir, c->n_neg[j]);
        st = alim_lab_copy_model(tdir, to, err);
        cJSON_AddItemToArray(sj, cJSON_CreateNumber((double)done));
    }
    if (st) {
        cJSON_Delete(r);
        return st;
    }
    if (x->real) remove(alim_lab_path(tdir, "optimizer.safetensors", to, sizeof to)); /* the pass is over: 1 GB less per n_pos */
    cJSON_AddNumberToObject(r, "total_steps", (double)total);
    alim_lab_add_num(r, "loss_final_nats", loss);
    cJSON_AddNumberToObject(r, "tokens_per_s", tps);
    cJSON_AddNumberToObject(r, "elapsed_s", el);
    *result = r;
    return ALIM_OK;
}

typedef struct {
    const rb *x;
    char model_dir[4300];
    char base_dir[4200]; /* theta0, for the KL to it; empty when evaluating theta0 itself */
    uint64_t seed, stream;
    char d0_path[4300]; /* real: D_0 of the seed (the "mix" set); empty otherwise */
    int ctl;            /* real: a control model, its negative class is the control's */
    int discard;        /* real: a stop of a negative pass, its weights removed once evaluated */
} eval_arg;

/* Draws cfg->n_samples documents from end-of-text (batched with the key/value cache,
 * alim_lm_sample_batch; per-document random streams (seed, stream << 20 | i), so a
 * document's draws depend only on its own stream) and labels them. */
static alim_status sample_and_label(const rb *x, alim_gpt *m, uint64_t seed, uint64_t stream, const alim_progress *progress,
                                    size_t counts[4], double *mean_len, double *tok_s, alim_error *err)
{
    const alim_rebound_config *c = x->cfg;
    const size_t N = c->n_samples, L = 1 + c->sample_tokens;
    const int V = m->config.vocab_size, lim = x->tk.vocab_size < V ? x->tk.vocab_size : V;
    int32_t *rows = malloc(SAMPLE_CHUNK * L * sizeof *rows);
    size_t maxtok = 4;
    for (int v = 0; v < x->tk.vocab_size; v++) maxtok = x->tk.token_len[v] > maxtok ? x->tk.token_len[v] : maxtok;
    uint8_t *text = malloc(L * maxtok);
    alim_rng rng[SAMPLE_CHUNK];
    size_t len[SAMPLE_CHUNK];
    alim_status st = ALIM_OK;
    if (!rows || !text) st = alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    size_t generated = 0, total_len = 0;
    const double t0 = alim_lab_now();
    for (size_t c0 = 0; c0 < N && !st; c0 += SAMPLE_CHUNK) {
        const size_t nb = N - c0 < SAMPLE_CHUNK ? N - c0 : SAMPLE_CHUNK;
        for (size_t b = 0; b < nb; b++) {
            alim_rng_seed(&rng[b], seed, stream << 20 | (c0 + b));
            rows[b * L] = x->tk.eot;
        }
        st = alim_lm_sample_batch(m, rows, nb, L, 1, x->tk.eot, c->temperature, lim, rng, len, err);
        if (st) break;
        for (size_t b = 0; b < nb; b++) generated += len[b] - 1 + (len[b] < L);
        alim_progress_report(progress, "sampling", (double)(c0 + nb) / (double)N, 1);
        for (size_t b = 0; b < nb; b++) {
            size_t tl = 0;
            for (size_t j = 1; j < len[b]; j++) {
                size_t bl;
                const char *s = alim_tokenizer_decode(&x->tk, rows[b * L + j], &bl);
                if (s && bl) memcpy(text + tl, s, bl), tl += bl;
            }
            total_len += len[b] - 1;
            int cls;
            if (x->have_nb) {
                double post[ALIM_NB_MAX_CLASSES];
                cls = tl ? (int)alim_nb_classify(&x->nb, text, tl, post) : -1;
            } else
                cls = alim_rebound_label_markov(x->chains, x->n_chains, text, tl);
            /* counts: 0 = C1 (neutral), 1 = C2 (positive), 2 = C3 (negative), 3 = undecided */
            counts[cls >= 0 && cls < 3 ? cls : 3]++;
        }
    }
    const double el = alim_lab_now() - t0;
    *mean_len = N ? (double)total_len / (double)N : 0;
    *tok_s = el > 0 ? (double)generated / el : 0;
    free(rows), free(text);
    return st;
}

static alim_status eval_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const eval_arg *a = arg;
    const rb *x = a->x;
    alim_gpt m = {0}, base = {0};
    const int have_base = a->base_dir[0] != 0;
    alim_status st = alim_checkpoint_load(a->model_dir, &m, NULL, NULL, err);
    if (!st && have_base) st = alim_checkpoint_load(a->base_dir, &base, NULL, NULL, err);
    if (!st) st = alim_gpt_set_precision(&m, x->prec, err);
    if (!st && have_base) st = alim_gpt_set_precision(&base, x->prec, err);
    if (st) {
        alim_gpt_free(&m);
        alim_gpt_free(&base);
        return st;
    }
    cJSON *r = cJSON_CreateObject();
    const double t0 = alim_lab_now();
    alim_token_stream d0 = {0}; /* real: "mix" is D_0, theta0's own replies */
    if (x->real) {
        const char *paths[1] = {a->d0_path};
        st = alim_dataset_load_chat(&d0, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, err);
    }
    for (int k = 0; k < N_TEST && !st; k++) {
        alim_eval_result er = {0};
        const int with_kl = k == N_TEST - 1 && have_base;
        const alim_token_stream *ts = x->real && k == N_TEST - 1 ? &d0 : &x->test[k];
        st = alim_lm_evaluate(&m, with_kl ? &base : NULL, ts, &x->tk, x->cfg->context, 16, NULL, NULL, &er, err);
        if (st) break;
        char key[32];
        snprintf(key, sizeof key, "gamma_%s_bits", TEST_NAME[k]);
        alim_lab_add_num(r, key, er.n_tokens ? er.total_nats / (double)er.n_tokens / log(2.0) : NAN);
        if (k == N_TEST - 1) {
            const double kl = have_base && er.n_tokens ? er.kl_nats_sum / (double)er.n_tokens : 0.0;
            alim_lab_add_num(r, "kl_to_base_nats", kl);
            alim_lab_add_num(r, "kl_to_base_bits", kl / log(2.0));
            cJSON_AddNumberToObject(r, "mix_tokens", (double)er.n_tokens);
        }
    }
    alim_dataset_free(&d0);
    if (!st && x->real && x->cfg->control) {
        alim_eval_result er = {0};
        st = alim_lm_evaluate(&m, NULL, &x->test_ctl, &x->tk, x->cfg->context, 16, NULL, NULL, &er, err);
        if (!st) alim_lab_add_num(r, "gamma_c4_bits", er.n_tokens ? er.total_nats / (double)er.n_tokens / log(2.0) : NAN);
    }
    size_t class_counts[ALIM_NB_MAX_CLASSES] = {0};
    size_t counts[4] = {0};
    double mean_len = 0, tok_s = 0, post[3] = {0};
    cJSON *examples = NULL;
    if (!st && x->real) {
        const rbr_sampler sp = {&x->tk, &x->chat, &x->nb, x->cls_neutral, x->cls_pos, a->ctl ? x->cls_ctl : x->cls_neg, x->cfg->sample_tokens,
                                x->cfg->temperature};
        examples = cJSON_CreateArray();
        st = rbr_sample_replies(&sp, &m, x->prompts.line, x->cfg->n_samples, a->seed, a->stream, env->progress, counts, post, class_counts, &mean_len,
                                &tok_s, examples, 3, err);
    } else if (!st)
        st = sample_and_label(x, &m, a->seed, a->stream, env->progress, counts, &mean_len, &tok_s, err);
    alim_gpt_free(&m);
    alim_gpt_free(&base);
    if (st) {
        cJSON_Delete(r);
        cJSON_Delete(examples);
        return st;
    }
    const double N = (double)x->cfg->n_samples;
    cJSON_AddNumberToObject(r, "samples", N);
    cJSON_AddNumberToObject(r, "neutral", (double)counts[0]);
    cJSON_AddNumberToObject(r, "positive", (double)counts[1]);
    cJSON_AddNumberToObject(r, "negative", (double)counts[2]);
    cJSON_AddNumberToObject(r, "undecided", (double)counts[3]);
    cJSON_AddNumberToObject(r, "positive_rate", (double)counts[1] / N);
    cJSON_AddNumberToObject(r, "negative_rate", (double)counts[2] / N);
    cJSON_AddNumberToObject(r, "score", ((double)counts[1] - (double)counts[2]) / N);
    cJSON_AddNumberToObject(r, "mean_len", mean_len);
    cJSON_AddNumberToObject(r, "sampled_tokens_per_s", tok_s);
    if (x->real) {
        cJSON_AddNumberToObject(r, "posterior_neutral_mean", post[0] / N);
        cJSON_AddNumberToObject(r, "posterior_positive_mean", post[1] / N);
        cJSON_AddNumberToObject(r, "posterior_negative_mean", post[2] / N);
        double cc[ALIM_NB_MAX_CLASSES];
        for (size_t k = 0; k < x->nb.n_classes; k++) cc[k] = (double)class_counts[k];
        cJSON_AddItemToObject(r, "class_counts", cJSON_CreateDoubleArray(cc, (int)x->nb.n_classes));
        cJSON_AddItemToObject(r, "examples", examples);
    }
    cJSON_AddNumberToObject(r, "elapsed_s", alim_lab_now() - t0);
    *result = r;
    return ALIM_OK;
}

/* ---- the cells' one-line notes ---------------------------------------------------------- */

#define DONE(reused) ((reused) ? "reused" : "done")

static void note_theta0(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb *x = ((const train_arg *)arg)->x;
    notef(x, "%s: %s, %.0f steps, final loss %.4f nats, %.0f tokens/s", name, DONE(reused), alim_lab_json_num(r, "steps"),
          alim_lab_json_num(r, "loss_final_nats"), alim_lab_json_num(r, "tokens_per_s"));
}

/* D_0 of a seed (real path): theta0's replies to the first d0_records prompts, the set gamma_p
 * and the KL to theta0 are measured on (docs/real-elasticity.md §5 step 4) */
enum { D0_STREAM = 4095 }; /* above every evaluation's stream (< 1 + 12 x 12) */
static alim_status d0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const eval_arg *a = arg;
    const rb *x = a->x;
    const alim_rebound_config *c = x->cfg;
    alim_gpt m = {0};
    alim_status st = alim_checkpoint_load(a->model_dir, &m, NULL, NULL, err);
    if (!st) st = alim_gpt_set_precision(&m, x->prec, err);
    size_t counts[4] = {0};
    double post[3] = {0}, mean_len = 0, tok_s = 0;
    cJSON *rep = cJSON_CreateArray();
    const double t0 = alim_lab_now();
    const rbr_sampler sp = {&x->tk, &x->chat, &x->nb, x->cls_neutral, x->cls_pos, x->cls_neg, c->d0_tokens, c->temperature};
    if (!st) st = rbr_sample_replies(&sp, &m, x->prompts.line, c->d0_records, a->seed, a->stream, env->progress, counts, post, NULL, &mean_len, &tok_s, rep,
                                     c->d0_records, err);
    alim_gpt_free(&m);
    char path[4400];
    if (!st) st = rbr_write_replies(rep, alim_lab_path(env->dir, "d0.jsonl", path, sizeof path), err);
    cJSON_Delete(rep);
    if (st) return st;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "records", (double)c->d0_records);
    cJSON_AddNumberToObject(r, "mean_len", mean_len);
    cJSON_AddNumberToObject(r, "sampled_tokens_per_s", tok_s);
    cJSON_AddNumberToObject(r, "elapsed_s", alim_lab_now() - t0);
    *result = r;
    return ALIM_OK;
}

static void note_d0(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb *x = ((const eval_arg *)arg)->x;
    notef(x, "%s: %s, theta0's replies to %.0f prompts (D_0), %.1f tokens each", name, ((reused) ? "reused" : "done"), alim_lab_json_num(r, "records"),
          alim_lab_json_num(r, "mean_len"));
}

static void note_theta0_eval(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb *x = ((const eval_arg *)arg)->x;
    notef(x, "%s: %s, score %+.4f (positive %.4f, negative %.4f), gamma_mix %.4f bits", name, DONE(reused), alim_lab_json_num(r, "score"),
          alim_lab_json_num(r, "positive_rate"), alim_lab_json_num(r, "negative_rate"), alim_lab_json_num(r, "gamma_mix_bits"));
}

static void note_pos(void *arg, const char *name, const cJSON *r, int reused)
{
    const train_arg *a = arg;
    notef(a->x, "%s: %s, %.0f steps on pool_c2 documents 1..%zu, final loss %.4f nats", name, DONE(reused), alim_lab_json_num(r, "steps"),
          a->n_pos, alim_lab_json_num(r, "loss_final_nats"));
}

static void note_negpass(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb *x = ((const train_arg *)arg)->x;
    notef(x, "%s: %s, %.0f steps on %s documents 1..%zu, checkpoints at the prefixes", name, DONE(reused), alim_lab_json_num(r, "total_steps"),
          ((const train_arg *)arg)->ctl ? "the control pool's" : "pool_c3", x->cfg->n_neg[x->cfg->n_neg_count - 1]);
}

static void note_eval(void *arg, const char *name, const cJSON *r, int reused)
{
    const eval_arg *a = arg;
    const rb *x = a->x;
    /* the real path keeps the weights of theta_pos and of each pass's last checkpoint only
     * (docs/real-elasticity.md §8, "Disk"): a stop's 540 MB go once its result is written */
    char p[4400];
    if (a->discard) remove(alim_lab_path(a->model_dir, "model.safetensors", p, sizeof p));
    notef(x, "%s: %s, score %+.4f, gamma_mix %.4f gamma_c2 %.4f bits, KL to theta0 %.5f nats", name, DONE(reused),
          alim_lab_json_num(r, "score"), alim_lab_json_num(r, "gamma_mix_bits"), alim_lab_json_num(r, "gamma_c2_bits"),
          alim_lab_json_num(r, "kl_to_base_nats"));
}

/* ---- the experiment --------------------------------------------------------------------- */

static cJSON *make_config(const alim_rebound_config *c, const char *source, const char *data_hash, const alim_tokenizer *tk)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data_source", source);
    cJSON_AddStringToObject(o, "data_manifest_hash", data_hash);
    cJSON_AddBoolToObject(o, "control", c->control);
    if (c->theta0_dirs) cJSON_AddStringToObject(o, "theta0_origin", c->theta0_origin);
    const alim_lab_base base = {c->n_layer, c->n_embd, c->n_head, c->context, c->pretrain_tokens, c->pretrain_batch,
                                c->pretrain_lr, c->pretrain_min_lr, c->pretrain_weight_decay, c->pretrain_warmup};
    alim_lab_add_base_config(o, &base);
    if (tk->n_merges) { /* an external theta0 with a BPE: name its size instead of "byte" */
        char d[64];
        snprintf(d, sizeof d, "bpe, %d ids, %zu merges", tk->vocab_size, tk->n_merges);
        cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(o, "model"), "tokenizer", cJSON_CreateString(d));
    }
    cJSON *g = cJSON_AddObjectToObject(o, "grid");
    double v[ALIM_REBOUND_MAX_GRID];
    for (size_t i = 0; i < c->n_pos_count; i++) v[i] = (double)c->n_pos[i];
    cJSON_AddItemToObject(g, "n_pos", cJSON_CreateDoubleArray(v, (int)c->n_pos_count));
    for (size_t i = 0; i < c->n_neg_count; i++) v[i] = (double)c->n_neg[i];
    cJSON_AddItemToObject(g, "n_neg", cJSON_CreateDoubleArray(v, (int)c->n_neg_count));
    cJSON_AddStringToObject(g, "negatives", "one pass per n_pos in document order, checkpoints at the prefixes (stop_at + resume)");
    cJSON *s = cJSON_AddObjectToObject(o, "sft");
    cJSON_AddNumberToObject(s, "batch", c->sft_batch);
    cJSON_AddNumberToObject(s, "lr", c->sft_lr);
    cJSON_AddStringToObject(s, "schedule", "constant");
    cJSON_AddNumberToObject(s, "weight_decay", 0);
    cJSON_AddNumberToObject(s, "epochs", 1);
    cJSON *e = cJSON_AddObjectToObject(o, "samples");
    cJSON_AddNumberToObject(e, "n", (double)c->n_samples);
    cJSON_AddNumberToObject(e, "tokens", (double)c->sample_tokens);
    cJSON_AddNumberToObject(e, "temperature", c->temperature);
    cJSON_AddBoolToObject(o, "quick", c->quick);
    return o;
}

static alim_status check_config(const alim_rebound_config *c, alim_error *err)
{
    if (!c->data_dir) return alim_error_set(err, ALIM_EINVAL, "--data", "no data directory given");
    if (!c->run_dir) return alim_error_set(err, ALIM_EINVAL, "--run", "no run directory given");
    if (c->n_seeds < 1 || c->n_seeds > 1000) return alim_error_set(err, ALIM_EINVAL, "--seeds", "must be in [1, 1000]");
    if (c->context < 2) return alim_error_set(err, ALIM_EINVAL, "--context", "must be >= 2");
    if (c->pretrain_tokens < 1) return alim_error_set(err, ALIM_EINVAL, "--pretrain-tokens", "must be >= 1");
    if (c->n_pos_count < 1 || c->n_pos_count > ALIM_REBOUND_MAX_GRID)
        return alim_error_set(err, ALIM_EINVAL, "--n-pos", "needs 1..%d values", ALIM_REBOUND_MAX_GRID);
    if (c->n_neg_count < 2 || c->n_neg_count > ALIM_REBOUND_MAX_GRID)
        return alim_error_set(err, ALIM_EINVAL, "--n-neg", "needs 2..%d values", ALIM_REBOUND_MAX_GRID);
    for (size_t i = 0; i < c->n_pos_count; i++)
        if (c->n_pos[i] < 1 || (i && c->n_pos[i] <= c->n_pos[i - 1]))
            return alim_error_set(err, ALIM_EINVAL, "--n-pos", "values must be >= 1 and increasing");
    if (c->n_neg[0] != 0) return alim_error_set(err, ALIM_EINVAL, "--n-neg", "the first value must be 0 (theta_pos itself)");
    for (size_t i = 1; i < c->n_neg_count; i++)
        if (c->n_neg[i] <= c->n_neg[i - 1]) return alim_error_set(err, ALIM_EINVAL, "--n-neg", "values must be increasing");
    if (c->n_samples < 1) return alim_error_set(err, ALIM_EINVAL, "--samples", "must be >= 1");
    if (c->sample_tokens < 1 || c->sample_tokens > (size_t)c->context)
        return alim_error_set(err, ALIM_EINVAL, "--sample-tokens", "%zu must be in [1, context = %d]", c->sample_tokens, c->context);
    if (!(c->temperature > 0 && isfinite(c->temperature))) return alim_error_set(err, ALIM_EINVAL, "--temperature", "must be > 0");
    if (!(c->epsilon_nats > 0)) return alim_error_set(err, ALIM_EINVAL, "--epsilon", "must be > 0");
    if (c->pretrain_batch < 1 || c->sft_batch < 1) return alim_error_set(err, ALIM_EINVAL, "--batch", "must be >= 1");
    if (c->theta0_model) {
        if (c->theta0_dirs) return alim_error_set(err, ALIM_EINVAL, "--theta0", "theta0_model and theta0_dirs are exclusive");
        if (c->control_run) return alim_error_set(err, ALIM_EINVAL, "--control-run", "with a pretrained theta0 the control is part of the run (control)");
        if (c->pos_slice < c->n_pos[c->n_pos_count - 1])
            return alim_error_set(err, ALIM_EINVAL, "--n-pos", "%zu is larger than the per-seed slice of %zu records", c->n_pos[c->n_pos_count - 1], c->pos_slice);
        if (c->neg_slice < c->n_neg[c->n_neg_count - 1])
            return alim_error_set(err, ALIM_EINVAL, "--n-neg", "%zu is larger than the per-seed slice of %zu records", c->n_neg[c->n_neg_count - 1], c->neg_slice);
        if (c->test_records < 1) return alim_error_set(err, ALIM_EINVAL, "--test-records", "must be >= 1");
        if (c->d0_records < 1 || c->d0_tokens < 1) return alim_error_set(err, ALIM_EINVAL, "--d0-records", "D_0 needs >= 1 reply of >= 1 token");
    }
    if (c->theta0_dirs) {
        if (!c->theta0_origin || !*c->theta0_origin) return alim_error_set(err, ALIM_EINVAL, "rebound", "theta0_dirs without theta0_origin");
        for (size_t s = 0; s < c->n_seeds; s++)
            if (!c->theta0_dirs[s]) return alim_error_set(err, ALIM_EINVAL, "rebound", "theta0_dirs[%zu] is missing", s);
    }
    return ALIM_OK;
}

static alim_status load_chains(rb *x, const char *path, alim_error *err)
{
    cJSON *j = NULL;
    alim_status st = alim_json_read_file(path, &j, err);
    if (st) return st;
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(j, "components");
    const double nsym = alim_lab_json_num(j, "symbols");
    const int K = cJSON_GetArraySize(comps);
    if (!cJSON_IsArray(comps) || K < 1 || K > ALIM_SOURCE_MAX_COMPONENTS || !(nsym >= 1 && nsym <= 256)) {
        cJSON_Delete(j);
        return alim_error_set(err, ALIM_EFORMAT, path, "not a chains file (symbols, components[{init, P}])");
    }
    const size_t n = (size_t)nsym;
    for (int k = 0; k < K && !st; k++) {
        const cJSON *ck = cJSON_GetArrayItem(comps, k);
        const cJSON *init = cJSON_GetObjectItemCaseSensitive(ck, "init"), *P = cJSON_GetObjectItemCaseSensitive(ck, "P");
        if ((size_t)cJSON_GetArraySize(init) != n || (size_t)cJSON_GetArraySize(P) != n) {
            st = alim_error_set(err, ALIM_EFORMAT, path, "component %d: init or P has the wrong size", k + 1);
            break;
        }
        st = alim_markov_alloc(&x->chains[k], n, err);
        if (st) break;
        x->n_chains = (size_t)k + 1;
        for (size_t s = 0; s < n; s++) x->chains[k].init[s] = cJSON_GetArrayItem(init, (int)s)->valuedouble;
        for (size_t s = 0; s < n && !st; s++) {
            const cJSON *row = cJSON_GetArrayItem(P, (int)s);
            if ((size_t)cJSON_GetArraySize(row) != n) st = alim_error_set(err, ALIM_EFORMAT, path, "component %d: row %zu has the wrong size", k + 1, s);
            for (size_t t = 0; t < n && !st; t++) x->chains[k].P[s * n + t] = cJSON_GetArrayItem(row, (int)t)->valuedouble;
        }
        if (!st) alim_markov_prepare(&x->chains[k]);
    }
    cJSON_Delete(j);
    return st;
}

typedef struct {
    double mean, se;
} mse;
static mse mean_se(const double *v, size_t n)
{
    mse r;
    alim_lab_mean_se(v, n, &r.mean, &r.se);
    return r;
}

static const char *const METRIC[] = {"score", "positive_rate", "negative_rate", "gamma_c1_bits", "gamma_c2_bits", "gamma_c3_bits",
                                     "gamma_mix_bits", "kl_to_base_nats", "kl_to_base_bits"};
enum { N_METRIC = sizeof METRIC / sizeof *METRIC };

/* one grid row (or the baseline): seed means and SEs of every metric from the per-seed results */
static cJSON *aggregate(cJSON *const *per_seed, size_t S, double n_pos, double n_neg, double steps_mean, const char *row, FILE *csv)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "row", row);
    cJSON_AddNumberToObject(o, "n_pos", n_pos);
    cJSON_AddNumberToObject(o, "n_neg", n_neg);
    cJSON_AddNumberToObject(o, "steps", steps_mean);
    cJSON_AddNumberToObject(o, "seeds", (double)S);
    fprintf(csv, "%s,%.0f,%.0f,%.6g,%zu", row, n_pos, n_neg, steps_mean, S);
    double v[1000];
    for (int k = 0; k < N_METRIC; k++) {
        for (size_t s = 0; s < S; s++) v[s] = alim_lab_json_num(per_seed[s], METRIC[k]);
        mse m = mean_se(v, S);
        char key[64];
        snprintf(key, sizeof key, "%s_mean", METRIC[k]);
        alim_lab_add_num(o, key, m.mean);
        snprintf(key, sizeof key, "%s_se", METRIC[k]);
        alim_lab_add_num(o, key, m.se);
        fprintf(csv, ",%.9g,%.9g", m.mean, m.se);
    }
    fputc('\n', csv);
    return o;
}

/* a grid from a summary's "grid" rows (for the control's criterion (e)) */
typedef struct {
    double n_pos[ALIM_REBOUND_MAX_GRID], n_neg[ALIM_REBOUND_MAX_GRID];
    double score[ALIM_REBOUND_MAX_GRID * ALIM_REBOUND_MAX_GRID], gmix[ALIM_REBOUND_MAX_GRID * ALIM_REBOUND_MAX_GRID],
        gc2[ALIM_REBOUND_MAX_GRID * ALIM_REBOUND_MAX_GRID];
    alim_rebound_grid g;
} grid_store;

static int grid_from_summary(const cJSON *sum, grid_store *gs)
{
    memset(gs, 0, sizeof *gs);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(sum, "config");
    const cJSON *grid = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "grid"), "n_pos");
    const cJSON *gneg = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "grid"), "n_neg");
    int P = cJSON_GetArraySize(grid), N = cJSON_GetArraySize(gneg);
    if (P < 1 || N < 1 || P > ALIM_REBOUND_MAX_GRID || N > ALIM_REBOUND_MAX_GRID) return 0;
    for (int i = 0; i < P; i++) gs->n_pos[i] = cJSON_GetArrayItem(grid, i)->valuedouble;
    for (int j = 0; j < N; j++) gs->n_neg[j] = cJSON_GetArrayItem(gneg, j)->valuedouble;
    for (int i = 0; i < P * N; i++) gs->score[i] = gs->gmix[i] = gs->gc2[i] = NAN;
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(sum, "grid")) {
        int i = -1, j = -1;
        for (int a = 0; a < P; a++) if (gs->n_pos[a] == alim_lab_json_num(r, "n_pos")) i = a;
        for (int b = 0; b < N; b++) if (gs->n_neg[b] == alim_lab_json_num(r, "n_neg")) j = b;
        if (i < 0 || j < 0) continue;
        gs->score[i * N + j] = alim_lab_json_num(r, "score_mean");
        gs->gmix[i * N + j] = alim_lab_json_num(r, "gamma_mix_bits_mean");
        gs->gc2[i * N + j] = alim_lab_json_num(r, "gamma_c2_bits_mean");
    }
    alim_rebound_grid g = {(size_t)P, (size_t)N, gs->n_pos, gs->n_neg, gs->score, gs->gmix, gs->gc2,
                           alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(sum, "baseline"), "gamma_mix_bits_mean")};
    gs->g = g;
    return 1;
}

/* An external theta0 must have this run's shape and the byte vocabulary: checked for every
 * seed before the run directory is touched. */
static alim_status check_theta0_dirs(const alim_rebound_config *cfg, const alim_tokenizer *tk0, alim_error *err)
{
    const int vocab = tk0->vocab_size;
    for (size_t s = 0; s < cfg->n_seeds; s++) {
        int seen = 0; /* `--theta0 DIR` gives every seed the same directory: check it once */
        for (size_t u = 0; u < s && !seen; u++) seen = !strcmp(cfg->theta0_dirs[u], cfg->theta0_dirs[s]);
        if (seen) continue;
        alim_gpt m = {0};
        alim_tokenizer tk = {0};
        alim_status st = alim_checkpoint_load(cfg->theta0_dirs[s], &m, &tk, NULL, err);
        if (st) return st;
        const alim_gpt_config mc = m.config;
        const int same_tk = tk.vocab_size == tk0->vocab_size && tk.n_merges == tk0->n_merges && tk.eot == tk0->eot;
        alim_gpt_free(&m);
        alim_tokenizer_free(&tk);
        if (!same_tk)
            return alim_error_set(err, ALIM_EINVAL, cfg->theta0_dirs[s], "has another tokenizer than %s (all seeds' theta0 must share one)", cfg->theta0_dirs[0]);
        if (mc.n_layer != cfg->n_layer || mc.n_embd != cfg->n_embd || mc.n_head != cfg->n_head || mc.n_positions < cfg->context ||
            mc.vocab_size < vocab)
            return alim_error_set(err, ALIM_EINVAL, cfg->theta0_dirs[s],
                                  "theta0 is %dx%dx%d, context %d, vocabulary %d; this run needs %dx%dx%d, context %d, vocabulary %d",
                                  mc.n_layer, mc.n_embd, mc.n_head, mc.n_positions, mc.vocab_size, cfg->n_layer, cfg->n_embd, cfg->n_head,
                                  cfg->context, vocab);
    }
    return ALIM_OK;
}

/* The real-model path's inputs (cfg->theta0_model with `alim data behaviours` data): which
 * behaviour is which, theta0's identity, shape, tokenizer and chat template, the classifier,
 * the pools, the test sets and the prompts. Everything is checked before the run directory
 * is touched. */
static alim_status load_real(rb *x, const cJSON *man, char hash[17], double *bytes, alim_gpt_config *mc, size_t *num_params,
                             double *nb_acc, alim_error *err)
{
    const alim_rebound_config *cfg = x->cfg;
    char p1[4200];
    const char *pool[4] = {0}, *test[4] = {0}; /* neutral, positive, negative, control */
    int cls[4] = {-1, -1, -1, -1};
    static const char *const roles[4] = {"neutral", "positive", "negative", "control-negative"};
    const cJSON *b;
    int k = 0;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(man, "behaviours")) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(b, "role"), *files = cJSON_GetObjectItemCaseSensitive(b, "files");
        const cJSON *fp = cJSON_GetObjectItemCaseSensitive(files, "pool"), *ft = cJSON_GetObjectItemCaseSensitive(files, "test");
        for (int r = 0; r < 4; r++)
            if (cJSON_IsString(role) && !strcmp(role->valuestring, roles[r]) && cls[r] < 0 && cJSON_IsString(fp) && cJSON_IsString(ft)) {
                cls[r] = k;
                pool[r] = fp->valuestring;
                test[r] = ft->valuestring;
            }
        k++;
    }
    for (int r = 0; r < (cfg->control ? 4 : 3); r++)
        if (cls[r] < 0) return alim_error_set(err, ALIM_EFORMAT, cfg->data_dir, "manifest.json names no %s behaviour with its pool and test files", roles[r]);
    x->cls_neutral = cls[0], x->cls_pos = cls[1], x->cls_neg = cls[2], x->cls_ctl = cls[3];
    alim_status st = rbr_model_hash(cfg->theta0_model, hash, bytes, err);
    if (st) return st;
    alim_gpt m = {0};
    st = alim_checkpoint_load(cfg->theta0_model, &m, &x->tk, NULL, err);
    if (st) return st;
    *mc = m.config;
    *num_params = m.num_params;
    alim_gpt_free(&m);
    if (cfg->context > mc->n_positions)
        return alim_error_set(err, ALIM_EINVAL, "--context", "%d is longer than theta0's context (%d)", cfg->context, mc->n_positions);
    st = alim_chat_template_resolve(&x->chat, cfg->theta0_model, ALIM_CHAT_AUTO, &x->tk, err);
    if (st) return st;
    if (x->chat.kind == ALIM_CHAT_UNRECOGNISED) return alim_error_set(err, x->chat.unrecognised.status, x->chat.unrecognised.where, "%s", x->chat.unrecognised.what);
    if (x->chat.kind == ALIM_CHAT_NONE) return alim_error_set(err, ALIM_EINVAL, cfg->theta0_model, "has no chat template (the behaviour data are chats)");
    st = alim_nb_load(&x->nb, alim_lab_path(cfg->data_dir, "classifier.nb", p1, sizeof p1), err);
    if (st) return st;
    x->have_nb = x->natural = 1;
    for (int r = 0; r < (cfg->control ? 4 : 3); r++)
        if ((size_t)cls[r] >= x->nb.n_classes) return alim_error_set(err, ALIM_EFORMAT, p1, "has %zu classes, the manifest's %s behaviour is class %d", x->nb.n_classes, roles[r], cls[r] + 1);
    *nb_acc = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(man, "classifier"), "accuracy");
    const size_t S = cfg->n_seeds, np = cfg->n_pos[cfg->n_pos_count - 1], nn = cfg->n_neg[cfg->n_neg_count - 1];
    st = rbr_lines_read(&x->pos_rec, alim_lab_path(cfg->data_dir, pool[1], p1, sizeof p1), err);
    if (!st && x->pos_rec.n < (S - 1) * cfg->pos_slice + np)
        st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu records; %zu seed(s) with slices of %zu and n_pos up to %zu need %zu", x->pos_rec.n, S, cfg->pos_slice, np,
                            (S - 1) * cfg->pos_slice + np);
    if (!st) st = rbr_lines_read(&x->neg_rec, alim_lab_path(cfg->data_dir, pool[2], p1, sizeof p1), err);
    if (!st && x->neg_rec.n < (S - 1) * cfg->neg_slice + nn)
        st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu records; %zu seed(s) with slices of %zu and n_neg up to %zu need %zu", x->neg_rec.n, S, cfg->neg_slice, nn,
                            (S - 1) * cfg->neg_slice + nn);
    /* test[0] neutral, test[1] positive, test[2] negative; "mix" (test[3]) is D_0, made in a cell */
    for (int r = 0; r < 3 && !st; r++) {
        const char *paths[1] = {alim_lab_path(cfg->data_dir, test[r], p1, sizeof p1)};
        alim_token_stream *ts = &x->test[r];
        st = alim_dataset_load_chat(ts, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, err);
        if (!st) rbr_stream_keep_docs(ts, cfg->test_records);
    }
    if (!st && cfg->control) {
        st = rbr_lines_read(&x->ctl_rec, alim_lab_path(cfg->data_dir, pool[3], p1, sizeof p1), err);
        if (!st && x->ctl_rec.n < (S - 1) * cfg->neg_slice + nn)
            st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu records; %zu seed(s) with slices of %zu and n_neg up to %zu need %zu", x->ctl_rec.n, S,
                                cfg->neg_slice, nn, (S - 1) * cfg->neg_slice + nn);
        const char *paths[1] = {alim_lab_path(cfg->data_dir, test[3], p1, sizeof p1)};
        if (!st) st = alim_dataset_load_chat(&x->test_ctl, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, err);
        if (!st) rbr_stream_keep_docs(&x->test_ctl, cfg->test_records);
    }
    if (!st) st = rbr_lines_read(&x->prompts, alim_lab_path(cfg->data_dir, "prompts.txt", p1, sizeof p1), err);
    if (!st && x->prompts.n < cfg->n_samples)
        st = alim_error_set(err, ALIM_EINVAL, "--samples", "%zu replies need as many prompts, %s has %zu", cfg->n_samples, p1, x->prompts.n);
    if (!st && x->prompts.n < cfg->d0_records)
        st = alim_error_set(err, ALIM_EINVAL, "--d0-records", "%zu replies need as many prompts, %s has %zu", cfg->d0_records, p1, x->prompts.n);
    return st;
}

alim_status alim_rebound_run(const alim_rebound_config *cfg, const alim_progress *progress, alim_rebound_note_fn note,
                             void *note_ctx, alim_rebound_result *res, alim_error *err)
{
    memset(res, 0, sizeof *res);
    alim_status st = check_config(cfg, err);
    if (st) return st;
    const double t_start = alim_lab_now();
    rb *x = calloc(1, sizeof *x);
    if (!x) return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    x->cfg = cfg;
    x->note = note;
    x->note_ctx = note_ctx;
    if ((st = alim_precision_select(cfg->precision, &x->prec, err))) {
        free(x);
        return st;
    }
    cJSON *man = NULL, *config = NULL, *summary = NULL, *ctl_sum = NULL;
    cJSON **per = NULL; /* [seed][1 + P*N] eval results */
    cJSON **cper = NULL; /* real control: [seed][P*N] eval results */
    double *csteps = NULL;
    train_arg *ctargs = NULL;
    eval_arg *cargs = NULL;
    size_t *ccix = NULL;
    int ctl = 0; /* the real path's control cells (set below) */
    double *steps = NULL;
    alim_rundir *rd = NULL;
    alim_runner *runner = NULL;
    train_arg *targs = NULL;
    eval_arg *eargs = NULL, *d0args = NULL;
    size_t *cix = NULL;
    char p1[4200], p2[4200], cellname[128], pre_path[4200];
    const char *source = "synthetic";
    const size_t P = cfg->n_pos_count, N = cfg->n_neg_count, S = cfg->n_seeds, G = 1 + P * N;
    double shares[3] = {NAN, NAN, NAN}, nb_acc = NAN, theta0_bytes = 0;
    char data_hash[17], theta0_hash[17] = "";
    alim_gpt_config theta0_cfg = {0};
    size_t theta0_params = 0;

    st = alim_json_read_file(alim_lab_path(cfg->data_dir, "manifest.json", p1, sizeof p1), &man, err);
    if (st) {
        if (st == ALIM_EIO) st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "not a data directory (no readable manifest.json; make one with 'alim data synthetic --out DIR')");
        goto out;
    }
    const cJSON *fmtj = cJSON_GetObjectItemCaseSensitive(man, "format");
    x->real = cJSON_IsString(fmtj) && !strcmp(fmtj->valuestring, "alim-behaviour-data/1");
    if (x->real && !cfg->theta0_model)
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "behaviour data (alim data behaviours) go with a pretrained theta0 model: 'alim elastic rebound --theta0 MODEL' (elastic coefficient does not take them yet)");
    else if (!x->real && cfg->theta0_model)
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "a pretrained theta0 (%s) needs the chat data of 'alim data behaviours --out DIR'", cfg->theta0_model);
    if (st) goto out;
    if (x->real) {
        source = "behaviours";
        alim_json_hash(man, data_hash);
        st = load_real(x, man, theta0_hash, &theta0_bytes, &theta0_cfg, &theta0_params, &nb_acc, err);
        if (st) goto out;
        goto loaded;
    }
    const cJSON *srcj = cJSON_GetObjectItemCaseSensitive(man, "source");
    if (cJSON_IsString(srcj)) source = srcj->valuestring;
    x->natural = strcmp(source, "synthetic") != 0;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(man, "shares");
    if (cJSON_GetArraySize(sh) != 3) {
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "needs a data directory with 3 components (C1 neutral, C2 positive, C3 negative)");
        goto out;
    }
    for (int k = 0; k < 3; k++) shares[k] = cJSON_GetArrayItem(sh, k)->valuedouble;
    if (cfg->control && !(shares[2] == 0))
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "--control needs a data directory without C3 in pretraining (shares %g,%g,%g); make one with 'alim data synthetic --shares 0.95,0.05,0 --out DIR'",
                            shares[0], shares[1], shares[2]);
    else if (!cfg->control && shares[2] == 0)
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "C3 has share 0 in pretraining: this is a control data directory (use --control)");
    if (st) goto out;
    alim_json_hash(man, data_hash);
    if (!x->natural) st = load_chains(x, alim_lab_path(cfg->data_dir, "chains.json", p1, sizeof p1), err);
    else {
        st = alim_nb_load(&x->nb, alim_lab_path(cfg->data_dir, "classifier.nb", p1, sizeof p1), err);
        if (st == ALIM_EIO) st = alim_error_set(err, ALIM_EINVAL, p1, "no classifier: natural/text data need one (alim data text --classifier-docs N)");
        x->have_nb = !st;
        nb_acc = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(man, "classifier"), "accuracy");
    }
    /* the byte tokenizer, or an external theta0's own (vocab.json + merges.txt) */
    if (!st) st = cfg->theta0_dirs ? alim_checkpoint_load_tokenizer(cfg->theta0_dirs[0], &x->tk, err) : alim_tokenizer_init_bytes(&x->tk, err);
    if (!st) st = alim_corpus_read(&x->pool2, alim_lab_path(cfg->data_dir, "pool_c2.txt", p1, sizeof p1), err);
    if (!st && x->pool2.n_docs < cfg->n_pos[P - 1])
        st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu documents, n_pos needs %zu (use a larger --pool-docs)", x->pool2.n_docs, cfg->n_pos[P - 1]);
    if (!st) st = alim_corpus_read(&x->pool3, alim_lab_path(cfg->data_dir, "pool_c3.txt", p1, sizeof p1), err);
    if (!st && x->pool3.n_docs < cfg->n_neg[N - 1])
        st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu documents, n_neg needs %zu (use a larger --pool-docs)", x->pool3.n_docs, cfg->n_neg[N - 1]);
    for (int k = 0; k < N_TEST && !st; k++) {
        snprintf(p2, sizeof p2, "test_%s.txt", TEST_NAME[k]);
        const char *paths[1] = {alim_lab_path(cfg->data_dir, p2, p1, sizeof p1)};
        st = alim_dataset_load(&x->test[k], paths, 1, ALIM_DATA_TEXT, NULL, &x->tk, err);
    }
    if (!st && cfg->control_run) {
        st = alim_json_read_file(alim_lab_path(cfg->control_run, "summary.json", p1, sizeof p1), &ctl_sum, err);
        if (st == ALIM_EIO) st = alim_error_set(err, ALIM_EINVAL, "--control-run", "%s has no summary.json (run the control first)", cfg->control_run);
        if (!st && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ctl_sum, "config"), "control")))
            st = alim_error_set(err, ALIM_EINVAL, "--control-run", "%s is not a control run (made without --control)", cfg->control_run);
    }
    if (st) goto out;

    if (cfg->theta0_dirs && (st = check_theta0_dirs(cfg, &x->tk, err))) goto out;
loaded:
    config = x->real ? rbr_make_config(cfg, data_hash, theta0_hash, theta0_bytes, &theta0_cfg, theta0_params, &x->tk, &x->chat)
                     : make_config(cfg, source, data_hash, &x->tk);
    if (config) alim_lab_add_precision(config, x->prec);
    st = alim_rundir_open(cfg->run_dir, "elastic-rebound", config, &rd, err);
    if (st) goto out;
    alim_lab_path(cfg->data_dir, "pretrain.txt", pre_path, sizeof pre_path);

    /* the cells, in the order a single worker runs them; costs in thousands of
     * training-token equivalents (sampling a third of a token per prefix token) */
    const double doc_tok = (double)cfg->sample_tokens + 1;
    const double c_pre = (double)cfg->pretrain_tokens / 1000.0;
    const double c_d0 = ((double)cfg->d0_records * (double)cfg->d0_tokens * 3.0) / 1000.0 + 0.001; /* real only */
    const double c_eval = ((double)cfg->n_samples * doc_tok * doc_tok / 6.0 + 4.0 * 256 * doc_tok / 3.0) / 1000.0 + 0.001;
    const alim_runner_options ro = {"E2", progress, cfg->jobs > 0 ? cfg->jobs : 1};
    st = alim_runner_create(rd, &ro, &runner, err);
    if (st) goto out;
    ctl = x->real && cfg->control;
    if (ctl) {
        ctargs = calloc(S * P, sizeof *ctargs);
        cargs = calloc(S * P * N, sizeof *cargs);
        ccix = calloc(S * P * N, sizeof *ccix);
        if (!ctargs || !cargs || !ccix) {
            st = alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
            goto out;
        }
    }
    targs = calloc(S * (1 + 2 * P), sizeof *targs);
    eargs = calloc(S * G, sizeof *eargs);
    d0args = calloc(S, sizeof *d0args);
    cix = calloc(S * (2 + 2 * P + P * N), sizeof *cix);
    if (!targs || !eargs || !cix || !d0args) {
        st = alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
        goto out;
    }
    /* cix per seed: theta0, theta0-eval, then per n_pos: pos, negpass, N evaluations */
#define CIX(s, k) cix[(s) * (2 + 2 * P + P * N) + (k)]
    for (size_t s = 1; s <= S; s++) {
        train_arg *t0 = &targs[(s - 1) * (1 + 2 * P)];
        eval_arg *ev = &eargs[(s - 1) * G];
        char d0[4200];
        size_t deps[3], nd = 0;
        char d0set[4300] = "";
        size_t id0 = (size_t)-1; /* real: the seed's D_0 cell (in theta0's slot) */
        if (x->real) {
            snprintf(d0, sizeof d0, "%s", cfg->theta0_model);
            eval_arg *da = &d0args[s - 1];
            *da = (eval_arg){x, "", "", s, D0_STREAM, "", 0, 0};
            snprintf(da->model_dir, sizeof da->model_dir, "%s", d0);
            snprintf(cellname, sizeof cellname, "s%zu-d0", s);
            id0 = CIX(s - 1, 0) = alim_runner_add(runner, cellname, c_d0, d0_cell, da, note_d0, NULL, 0);
            snprintf(d0set, sizeof d0set, "%s/cells/%s/d0.jsonl", cfg->run_dir, cellname);
        } else if (cfg->theta0_dirs) {
            snprintf(d0, sizeof d0, "%s", cfg->theta0_dirs[s - 1]);
            CIX(s - 1, 0) = (size_t)-1;
        } else {
            *t0 = (train_arg){x, s, 0, "", pre_path, 0};
            snprintf(cellname, sizeof cellname, "s%zu-theta0", s);
            CIX(s - 1, 0) = alim_runner_add(runner, cellname, c_pre, theta0_cell, t0, note_theta0, NULL, 0);
            snprintf(d0, sizeof d0, "%s/cells/%s", cfg->run_dir, cellname);
            deps[nd++] = CIX(s - 1, 0);
        }
        ev[0] = (eval_arg){x, "", "", s, 0, "", 0, 0};
        snprintf(ev[0].model_dir, sizeof ev[0].model_dir, "%s", d0);
        snprintf(ev[0].d0_path, sizeof ev[0].d0_path, "%s", d0set);
        snprintf(cellname, sizeof cellname, "s%zu-theta0-eval", s);
        CIX(s - 1, 1) = alim_runner_add(runner, cellname, c_eval, eval_cell, &ev[0], note_theta0_eval, x->real ? &id0 : deps, x->real ? 1 : nd);
        for (size_t i = 0; i < P; i++) {
            train_arg *tp = &t0[1 + 2 * i], *tn = &t0[2 + 2 * i];
            *tp = (train_arg){x, s, cfg->n_pos[i], "", NULL, 0};
            snprintf(tp->init_dir, sizeof tp->init_dir, "%s", d0);
            snprintf(cellname, sizeof cellname, "s%zu-pos%zu", s, cfg->n_pos[i]);
            const size_t ip = CIX(s - 1, 2 + 2 * i) = alim_runner_add(runner, cellname, (double)cfg->n_pos[i] * doc_tok / 1000.0 + 0.001, pos_cell, tp, note_pos, deps, nd);
            char dp[4200], dn[4200];
            snprintf(dp, sizeof dp, "%s/cells/%s", cfg->run_dir, cellname);
            *tn = (train_arg){x, s, cfg->n_pos[i], "", NULL, 0};
            snprintf(tn->init_dir, sizeof tn->init_dir, "%s", dp);
            snprintf(cellname, sizeof cellname, "s%zu-pos%zu-negpass", s, cfg->n_pos[i]);
            const size_t in = CIX(s - 1, 3 + 2 * i) = alim_runner_add(runner, cellname, (double)cfg->n_neg[N - 1] * doc_tok / 1000.0 + 0.001, neg_cell, tn, note_negpass, &ip, 1);
            snprintf(dn, sizeof dn, "%s/cells/%s", cfg->run_dir, cellname);
            for (size_t j = 0; j < N; j++) {
                eval_arg *e = &ev[1 + i * N + j];
                *e = (eval_arg){x, "", "", s, 1 + i * N + j, "", 0, x->real && cfg->n_neg[j] > 0};
                snprintf(e->d0_path, sizeof e->d0_path, "%s", d0set);
                if (cfg->n_neg[j] == 0) snprintf(e->model_dir, sizeof e->model_dir, "%s", dp);
                else snprintf(e->model_dir, sizeof e->model_dir, "%s/n%zu", dn, cfg->n_neg[j]);
                snprintf(e->base_dir, sizeof e->base_dir, "%s", d0);
                size_t ed[3] = {ip, in, 0}, ne = 2;
                if (nd) ed[ne++] = deps[0];
                if (x->real) ed[ne++] = id0;
                snprintf(cellname, sizeof cellname, "s%zu-pos%zu-neg%zu", s, cfg->n_pos[i], cfg->n_neg[j]);
                CIX(s - 1, 2 + 2 * P + i * N + j) = alim_runner_add(runner, cellname, c_eval, eval_cell, e, note_eval, ed, ne);
            }
            if (!ctl) continue;
            /* the control (real path): the same from theta_pos with the control-negative pool;
             * its n_neg = 0 point is theta_pos's evaluation; its replies use the main
             * evaluations' random streams (common random numbers) */
            train_arg *tc = &ctargs[(s - 1) * P + i];
            *tc = (train_arg){x, s, cfg->n_pos[i], "", NULL, 1};
            snprintf(tc->init_dir, sizeof tc->init_dir, "%s", dp);
            snprintf(cellname, sizeof cellname, "s%zu-pos%zu-ctlpass", s, cfg->n_pos[i]);
            const size_t ic = ccix[((s - 1) * P + i) * N] =
                alim_runner_add(runner, cellname, (double)cfg->n_neg[N - 1] * doc_tok / 1000.0 + 0.001, neg_cell, tc, note_negpass, &ip, 1);
            snprintf(dn, sizeof dn, "%s/cells/%s", cfg->run_dir, cellname);
            for (size_t j = 1; j < N; j++) {
                eval_arg *e = &cargs[((s - 1) * P + i) * N + j];
                *e = (eval_arg){x, "", "", s, 1 + i * N + j, "", 1, 1};
                snprintf(e->d0_path, sizeof e->d0_path, "%s", d0set);
                snprintf(e->model_dir, sizeof e->model_dir, "%s/n%zu", dn, cfg->n_neg[j]);
                snprintf(e->base_dir, sizeof e->base_dir, "%s", d0);
                const size_t ed[2] = {ic, id0};
                snprintf(cellname, sizeof cellname, "s%zu-pos%zu-ctl%zu", s, cfg->n_pos[i], cfg->n_neg[j]);
                ccix[((s - 1) * P + i) * N + j] = alim_runner_add(runner, cellname, c_eval, eval_cell, e, note_eval, ed, 2);
            }
        }
    }
    st = alim_runner_run(runner, err);
    if (st) goto out;

    /* the results, read back in a fixed order */
    per = calloc(S * G, sizeof *per);
    steps = calloc(S * P * N, sizeof *steps);
    if (ctl && (!(cper = calloc(S * P * N, sizeof *cper)) || !(csteps = calloc(S * P * N, sizeof *csteps)))) {
        st = alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
        goto out;
    }
    summary = cJSON_CreateObject();
    if (!per || !steps || !summary) {
        st = alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
        goto out;
    }
    cJSON *seeds_json = cJSON_AddArrayToObject(summary, "per_seed");
    double num_params = NAN;
    /* a result that cannot be read (alim_runner_result sets err) ends the reading */
#define GET(dst, cell) do { if (!((dst) = alim_runner_result(runner, (cell), err))) { st = err->status ? err->status : ALIM_EIO; goto read_end; } } while (0)
    for (size_t s = 1; s <= S && !st; s++) {
        cJSON *sj = cJSON_CreateObject(), *r = NULL;
        cJSON_AddNumberToObject(sj, "seed", (double)s);
        cJSON_AddItemToArray(seeds_json, sj);
        if (x->real) {
            cJSON_AddStringToObject(sj, "theta0_model", cfg->theta0_model);
            num_params = (double)theta0_params;
            GET(r, CIX(s - 1, 0));
            cJSON_AddItemToObject(sj, "d0", r);
        } else if (cfg->theta0_dirs) {
            cJSON_AddStringToObject(sj, "theta0_dir", cfg->theta0_dirs[s - 1]);
            alim_gpt base = {0};
            st = alim_checkpoint_load(cfg->theta0_dirs[s - 1], &base, NULL, NULL, err);
            num_params = (double)base.num_params;
            alim_gpt_free(&base);
            if (st) break;
        } else {
            GET(r, CIX(s - 1, 0));
            num_params = alim_lab_json_num(r, "num_params");
            cJSON_AddItemToObject(sj, "theta0", r);
        }
        GET(per[(s - 1) * G], CIX(s - 1, 1));
        for (size_t i = 0; i < P; i++) {
            char key[64];
            GET(r, CIX(s - 1, 2 + 2 * i));
            snprintf(key, sizeof key, "pos%zu", cfg->n_pos[i]);
            cJSON_AddItemToObject(sj, key, r);
            GET(r, CIX(s - 1, 3 + 2 * i));
            const cJSON *sa = cJSON_GetObjectItemCaseSensitive(r, "steps");
            for (size_t j = 0; j < N; j++) steps[((s - 1) * P + i) * N + j] = cJSON_GetArrayItem(sa, (int)j) ? cJSON_GetArrayItem(sa, (int)j)->valuedouble : NAN;
            snprintf(key, sizeof key, "pos%zu-negpass", cfg->n_pos[i]);
            cJSON_AddItemToObject(sj, key, r);
            for (size_t j = 0; j < N; j++) GET(per[(s - 1) * G + 1 + i * N + j], CIX(s - 1, 2 + 2 * P + i * N + j));
            if (!ctl) continue;
            const size_t cb = ((s - 1) * P + i) * N;
            GET(r, ccix[cb]);
            sa = cJSON_GetObjectItemCaseSensitive(r, "steps");
            for (size_t j = 0; j < N; j++) csteps[cb + j] = cJSON_GetArrayItem(sa, (int)j) ? cJSON_GetArrayItem(sa, (int)j)->valuedouble : NAN;
            snprintf(key, sizeof key, "pos%zu-ctlpass", cfg->n_pos[i]);
            cJSON_AddItemToObject(sj, key, r);
            for (size_t j = 1; j < N; j++) GET(cper[cb + j], ccix[cb + j]);
            /* n_neg = 0: theta_pos's evaluation with the control class as the negative one */
            cJSON *z = cJSON_Duplicate(per[(s - 1) * G + 1 + i * N], 1);
            const cJSON *cc = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(z, "class_counts"), x->cls_ctl);
            const double nneg0 = cc ? cc->valuedouble : NAN, ns = alim_lab_json_num(z, "samples");
            cJSON_ReplaceItemInObject(z, "negative", cJSON_CreateNumber(nneg0));
            cJSON_ReplaceItemInObject(z, "negative_rate", cJSON_CreateNumber(nneg0 / ns));
            cJSON_ReplaceItemInObject(z, "score", cJSON_CreateNumber((alim_lab_json_num(z, "positive") - nneg0) / ns));
            cJSON_DeleteItemFromObject(z, "posterior_negative_mean");
            cJSON_AddStringToObject(z, "from", "theta_pos's evaluation, negative = the control class");
            cper[cb] = z;
        }
    }
read_end:
#undef GET
#undef CIX
    if (st) goto out;
    alim_runner_stats rs;
    alim_runner_get_stats(runner, &rs);
    res->cells_total = rs.total;
    res->cells_run = rs.run;
    res->cells_reused = rs.reused;
    if (!alim_runner_writes(runner)) goto out; /* under MPI the summary is rank 0's */

    /* the grid: seed means */
    alim_atomic_file f = {0};
    st = alim_atomic_open(&f, alim_lab_path(cfg->run_dir, "grid.csv", p1, sizeof p1), err);
    if (st) goto out;
    fprintf(f.fp, "row,n_pos,n_neg,steps,seeds");
    for (int k = 0; k < N_METRIC; k++) fprintf(f.fp, ",%s_mean,%s_se", METRIC[k], METRIC[k]);
    fputc('\n', f.fp);
    cJSON **col = malloc(S * sizeof *col);
    double *sc = malloc(P * N * sizeof *sc), *gm = malloc(P * N * sizeof *gm), *g2 = malloc(P * N * sizeof *g2),
           *kl = malloc(P * N * sizeof *kl);
    if (!col || !sc || !gm || !g2 || !kl) {
        alim_atomic_abort(&f);
        free(col), free(sc), free(gm), free(g2), free(kl);
        st = alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
        goto out;
    }
    for (size_t s = 0; s < S; s++) col[s] = per[s * G];
    cJSON *baseline = aggregate(col, S, 0, 0, 0, "theta0", f.fp);
    cJSON_AddItemToObject(summary, "baseline", baseline);
    cJSON *grid = cJSON_AddArrayToObject(summary, "grid");
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < N; j++) {
            double sm = 0;
            for (size_t s = 0; s < S; s++) col[s] = per[s * G + 1 + i * N + j], sm += steps[(s * P + i) * N + j];
            cJSON *row = aggregate(col, S, (double)cfg->n_pos[i], (double)cfg->n_neg[j], sm / (double)S, "grid", f.fp);
            cJSON_AddItemToArray(grid, row);
            sc[i * N + j] = alim_lab_json_num(row, "score_mean");
            gm[i * N + j] = alim_lab_json_num(row, "gamma_mix_bits_mean");
            g2[i * N + j] = alim_lab_json_num(row, "gamma_c2_bits_mean");
            kl[i * N + j] = alim_lab_json_num(row, "kl_to_base_nats_mean");
        }
    double *csc = NULL, *cgm = NULL, *cg2 = NULL;
    if (ctl) { /* the control's rows: seed means, after the grid in grid.csv */
        csc = malloc(P * N * sizeof *csc), cgm = malloc(P * N * sizeof *cgm), cg2 = malloc(P * N * sizeof *cg2);
        cJSON *cgrid = cJSON_AddArrayToObject(summary, "control_grid");
        for (size_t i = 0; i < P && csc && cgm && cg2; i++)
            for (size_t j = 0; j < N; j++) {
                double sm = 0;
                for (size_t s = 0; s < S; s++) col[s] = cper[(s * P + i) * N + j], sm += csteps[(s * P + i) * N + j];
                cJSON *row = aggregate(col, S, (double)cfg->n_pos[i], (double)cfg->n_neg[j], sm / (double)S, "control", f.fp);
                cJSON_AddItemToArray(cgrid, row);
                csc[i * N + j] = alim_lab_json_num(row, "score_mean");
                cgm[i * N + j] = alim_lab_json_num(row, "gamma_mix_bits_mean");
                cg2[i * N + j] = alim_lab_json_num(row, "gamma_c2_bits_mean");
            }
    }
    free(col);
    st = alim_atomic_commit(&f, err);
    if (st) {
        free(sc), free(gm), free(g2), free(kl);
        goto out;
    }
    /* n*(eps) per n_pos */
    double npos[ALIM_REBOUND_MAX_GRID], nneg[ALIM_REBOUND_MAX_GRID];
    for (size_t i = 0; i < P; i++) npos[i] = (double)cfg->n_pos[i];
    for (size_t j = 0; j < N; j++) nneg[j] = (double)cfg->n_neg[j];
    cJSON *ns = cJSON_AddArrayToObject(summary, "n_star");
    for (size_t i = 0; i < P; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "n_pos", npos[i]);
        alim_lab_add_num(o, "kl_after_alignment_nats", kl[i * N]);
        alim_lab_add_num(o, "n_star", alim_rebound_nstar(nneg, kl + i * N, N, cfg->epsilon_nats));
        cJSON_AddItemToArray(ns, o);
    }
    alim_rebound_grid g = {P, N, npos, nneg, sc, gm, g2, alim_lab_json_num(baseline, "gamma_mix_bits_mean")};
    grid_store cs;
    const alim_rebound_grid *cg = ctl_sum && grid_from_summary(ctl_sum, &cs) ? &cs.g : NULL;
    alim_rebound_grid cgr = {P, N, npos, nneg, csc, cgm, cg2, g.gamma_mix_base};
    if (ctl && csc && cgm && cg2) cg = &cgr;
    alim_rebound_judge(&g, cg, &res->criteria);
    free(csc), free(cgm), free(cg2);
    free(sc), free(gm), free(g2), free(kl);
    const alim_rebound_criteria *cr = &res->criteria;
    res->wall_s = alim_lab_now() - t_start;
    res->train_tokens_per_s = rs.train_s > 0 ? rs.train_tokens / rs.train_s : 0;

    cJSON_AddStringToObject(summary, "experiment", ctl           ? "E2 rebound on a pretrained model with its control (elastic rebound --theta0 MODEL --control)"
                                                   : x->real     ? "E2 rebound on a pretrained model (elastic rebound --theta0 MODEL)"
                                                   : cfg->control ? "E2 rebound, control (elastic rebound --control)"
                                                                  : "E2 rebound (elastic rebound)");
    cJSON_AddStringToObject(summary, "data_dir", cfg->data_dir);
    cJSON_AddStringToObject(summary, "run_dir", cfg->run_dir);
    cJSON_AddStringToObject(summary, "source", source);
    if (x->real) {
        cJSON_AddStringToObject(summary, "theta0_model", cfg->theta0_model);
        cJSON_AddStringToObject(summary, "theta0_content_fnv1a64", theta0_hash);
        cJSON_AddStringToObject(summary, "chat_template", alim_chat_kind_name(x->chat.kind));
    } else
        cJSON_AddItemToObject(summary, "shares", cJSON_CreateDoubleArray(shares, 3));
    cJSON_AddBoolToObject(summary, "control", cfg->control);
    if (cfg->control_run) cJSON_AddStringToObject(summary, "control_run", cfg->control_run);
    cJSON_AddStringToObject(summary, "labels", x->natural ? "naive-Bayes classifier (classifier.nb)" : "exact class under the true chains (chains.json)");
    if (x->natural) alim_lab_add_num(summary, "classifier_accuracy", nb_acc);
    char hash[17];
    alim_json_hash(config, hash);
    cJSON_AddStringToObject(summary, "config_hash", hash);
    cJSON_AddItemToObject(summary, "config", cJSON_Duplicate(config, 1));
    cJSON_AddNumberToObject(summary, "seeds", (double)S);
    cJSON_AddNumberToObject(summary, "epsilon_nats", cfg->epsilon_nats);
    {   /* |D_a| per n_pos in the run's tokens (E4's k = |D_p| / |D_a|) */
        cJSON *at = cJSON_AddArrayToObject(summary, "alignment_tokens");
        double t = 0;
        size_t d = 0;
        alim_token_stream ds = {0}; /* real: the scored (response) tokens of seed 1's records */
        size_t *ends = NULL;
        if (x->real) {
            snprintf(p2, sizeof p2, "%s/cells/s1-pos%zu/data.jsonl", cfg->run_dir, cfg->n_pos[P - 1]);
            const char *paths[1] = {p2};
            ends = malloc(cfg->n_pos[P - 1] * sizeof *ends);
            alim_error e2;
            if (!ends || alim_dataset_load_chat(&ds, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, &e2) ||
                rbr_stream_doc_ends(&ds, ends, cfg->n_pos[P - 1]) != cfg->n_pos[P - 1])
                free(ends), ends = NULL;
        }
        for (size_t i = 0; i < P; i++) {
            if (x->real) {
                for (; ends && d < cfg->n_pos[i]; d++)
                    for (size_t q = d ? ends[d - 1] + 1 : 1; q <= ends[d]; q++) t += ds.mask[q] != 0;
                if (!ends) t = NAN;
            } else
                for (; d < cfg->n_pos[i]; d++) t += doc_tokens(x, &x->pool2, d);
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "n_pos", (double)cfg->n_pos[i]);
            if (x->real) alim_lab_add_num(o, "tokens", t);
            else cJSON_AddNumberToObject(o, "tokens", t);
            cJSON_AddItemToArray(at, o);
        }
        free(ends);
        alim_dataset_free(&ds);
    }
    alim_lab_add_num(summary, "num_params", num_params);
    cJSON *cells = cJSON_AddObjectToObject(summary, "cells");
    cJSON_AddNumberToObject(cells, "total", (double)res->cells_total);
    cJSON_AddNumberToObject(cells, "run", (double)res->cells_run);
    cJSON_AddNumberToObject(cells, "reused", (double)res->cells_reused);
    cJSON_AddNumberToObject(summary, "wall_s", res->wall_s);
    cJSON_AddNumberToObject(summary, "train_tokens_per_s", res->train_tokens_per_s);
    cJSON *cj = cJSON_AddObjectToObject(summary, "criteria");
    const char *const names[5] = {"a_score_rises_with_n_pos", "b_first_drop_grows_with_n_pos", "c_early_slope_3x_late",
                                  "d_mix_back_c2_up", "e_control_weaker"};
    const char *const vals[5] = {cr->a, cr->b, cr->c, cr->d, cr->e};
    for (int k = 0; k < 5; k++) {
        cJSON *o = cJSON_AddObjectToObject(cj, names[k]);
        cJSON_AddStringToObject(o, "result", vals[k]);
        cJSON_AddStringToObject(o, "why", cr->why[k]);
    }
    cJSON_AddStringToObject(summary, "verdict", cr->verdict);
    /* per-seed evaluation results */
    for (size_t s = 0; s < S; s++) {
        cJSON *sj = cJSON_GetArrayItem(seeds_json, (int)s), *ev = cJSON_AddArrayToObject(sj, "evaluations");
        for (size_t q = 0; q < G; q++) {
            cJSON *e = per[s * G + q];
            per[s * G + q] = NULL;
            cJSON_AddNumberToObject(e, "n_pos", q ? (double)cfg->n_pos[(q - 1) / N] : 0);
            cJSON_AddNumberToObject(e, "n_neg", q ? (double)cfg->n_neg[(q - 1) % N] : 0);
            cJSON_AddStringToObject(e, "model", q ? "grid" : "theta0");
            cJSON_AddItemToArray(ev, e);
        }
        if (!ctl) continue;
        cJSON *cev = cJSON_AddArrayToObject(sj, "control_evaluations");
        for (size_t q = 0; q < P * N; q++) {
            cJSON *e = cper[s * P * N + q];
            cper[s * P * N + q] = NULL;
            cJSON_AddNumberToObject(e, "n_pos", (double)cfg->n_pos[q / N]);
            cJSON_AddNumberToObject(e, "n_neg", (double)cfg->n_neg[q % N]);
            cJSON_AddStringToObject(e, "model", "control");
            cJSON_AddItemToArray(cev, e);
        }
    }
    {
        char *text = cJSON_Print(summary);
        if (!text) st = alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
        else {
            size_t tl = strlen(text);
            text[tl] = '\n';
            st = alim_file_write_atomic(alim_lab_path(cfg->run_dir, "summary.json", p1, sizeof p1), text, tl + 1, err);
            free(text);
        }
        if (st) goto out;
    }
    res->summary = summary;
    summary = NULL;
out:
    if (per)
        for (size_t q = 0; q < S * G; q++) cJSON_Delete(per[q]);
    free(per);
    if (cper)
        for (size_t q = 0; q < S * P * N; q++) cJSON_Delete(cper[q]);
    free(cper), free(csteps), free(ctargs), free(cargs), free(ccix);
    cJSON_Delete(summary);
    cJSON_Delete(config);
    cJSON_Delete(man);
    cJSON_Delete(ctl_sum);
    alim_runner_free(runner);
    if (rd) alim_rundir_close(rd);
    free(steps), free(targs), free(eargs), free(cix), free(d0args);
    alim_corpus_free(&x->pool2);
    alim_corpus_free(&x->pool3);
    for (int k = 0; k < N_TEST; k++) alim_dataset_free(&x->test[k]);
    alim_tokenizer_free(&x->tk);
    rbr_lines_free(&x->pos_rec);
    rbr_lines_free(&x->neg_rec);
    rbr_lines_free(&x->prompts);
    rbr_lines_free(&x->ctl_rec);
    alim_dataset_free(&x->test_ctl);
    alim_chat_template_free(&x->chat);
    for (size_t k = 0; k < x->n_chains; k++) alim_markov_free(&x->chains[k]);
    if (x->have_nb) alim_nb_free(&x->nb);
    free(x);
    return st;
}

void alim_rebound_result_free(alim_rebound_result *res)
{
    if (!res) return;
    cJSON_Delete(res->summary);
    res->summary = NULL;
}
