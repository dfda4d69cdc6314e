/* scale.c — E3: rebound versus model size and pretraining tokens (see alim/scale.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/scale.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/coefficient.h"
#include "alim/dist.h"
#include "alim/io.h"
#include "alim/lab.h"
#include "alim/lm_train.h"
#include "alim/rundir.h"
#include "alim/runner.h"

void alim_scale_config_default(alim_scale_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_seeds = 3;
    c->do_size = c->do_tokens = 1;
    static const int L[] = {1, 2, 4}, D[] = {32, 64, 128}, H[] = {2, 4, 4};
    c->n_sizes = 3;
    memcpy(c->layers, L, sizeof L);
    memcpy(c->dim, D, sizeof D);
    memcpy(c->heads, H, sizeof H);
    c->size_pretrain_tokens = 2000000;
    static const size_t SP[] = {400, 2000}, SN[] = {0, 20, 40, 100, 400};
    c->size_n_pos_count = 2;
    c->size_n_neg_count = 5;
    memcpy(c->size_n_pos, SP, sizeof SP);
    memcpy(c->size_n_neg, SN, sizeof SN);
    c->budget_model = 1;
    static const uint64_t B[] = {250000, 500000, 1000000, 2000000, 4000000};
    c->n_budgets = 5;
    memcpy(c->budgets, B, sizeof B);
    c->budget_lr = 1e-3;
    static const size_t TP[] = {2000}, TN[] = {0, 20, 40, 100};
    c->tok_n_pos_count = 1;
    c->tok_n_neg_count = 4;
    memcpy(c->tok_n_pos, TP, sizeof TP);
    memcpy(c->tok_n_neg, TN, sizeof TN);
    c->context = 128;
    c->pretrain_batch = 16;
    c->pretrain_warmup = 200;
    c->max_l_neg = 100;
    c->n_samples = 256;
    c->sample_tokens = 128;
}

void alim_scale_config_quick(alim_scale_config *c)
{
    alim_scale_config_default(c);
    c->n_seeds = 2;
    static const int L[] = {1, 1}, D[] = {8, 16}, H[] = {2, 2};
    c->n_sizes = 2;
    memcpy(c->layers, L, sizeof L);
    memcpy(c->dim, D, sizeof D);
    memcpy(c->heads, H, sizeof H);
    c->size_pretrain_tokens = 8192;
    static const size_t SP[] = {10, 40}, SN[] = {0, 8, 16, 40};
    c->size_n_pos_count = 2;
    c->size_n_neg_count = 4;
    memcpy(c->size_n_pos, SP, sizeof SP);
    memcpy(c->size_n_neg, SN, sizeof SN);
    c->budget_model = 1;
    static const uint64_t B[] = {4096, 8192, 16384};
    c->n_budgets = 3;
    memcpy(c->budgets, B, sizeof B);
    static const size_t TP[] = {40}, TN[] = {0, 8, 16};
    c->tok_n_pos_count = 1;
    c->tok_n_neg_count = 3;
    memcpy(c->tok_n_pos, TP, sizeof TP);
    memcpy(c->tok_n_neg, TN, sizeof TN);
    c->context = 32;
    c->pretrain_warmup = 4;
    c->max_l_neg = 16;
    c->n_samples = 16;
    c->sample_tokens = 32;
    c->quick = 1;
}

static alim_status check_grid(const char *what, const size_t *v, size_t n, int first_zero, alim_error *err)
{
    if (n < (first_zero ? 2u : 1u) || n > ALIM_REBOUND_MAX_GRID) return alim_error_set(err, ALIM_EINVAL, what, "needs %d..%d values", first_zero ? 2 : 1, ALIM_REBOUND_MAX_GRID);
    if (first_zero && v[0] != 0) return alim_error_set(err, ALIM_EINVAL, what, "the first value must be 0");
    for (size_t i = 0; i < n; i++)
        if ((!first_zero && v[i] < 1) || (i && v[i] <= v[i - 1])) return alim_error_set(err, ALIM_EINVAL, what, "values must be increasing%s", first_zero ? "" : " and >= 1");
    return ALIM_OK;
}

static alim_status check_config(const alim_scale_config *c, alim_error *err)
{
    if (!c->data_dir) return alim_error_set(err, ALIM_EINVAL, "data_dir", "no data directory given");
    if (!c->run_dir) return alim_error_set(err, ALIM_EINVAL, "run_dir", "no run directory given");
    if (!c->do_size && !c->do_tokens) return alim_error_set(err, ALIM_EINVAL, "do_size", "nothing to run");
    if (c->n_seeds < 1 || c->n_seeds > 1000) return alim_error_set(err, ALIM_EINVAL, "n_seeds", "must be in [1, 1000]");
    if (c->n_sizes < 1 || c->n_sizes > ALIM_SCALE_MAX_LEVELS) return alim_error_set(err, ALIM_EINVAL, "n_sizes", "needs 1..%d shapes", ALIM_SCALE_MAX_LEVELS);
    for (size_t i = 0; i < c->n_sizes; i++)
        if (c->layers[i] < 1 || c->dim[i] < 1 || c->heads[i] < 1 || c->dim[i] % c->heads[i])
            return alim_error_set(err, ALIM_EINVAL, "n_sizes", "shape %dx%dx%d: layers, dim and heads must be >= 1, dim a multiple of heads", c->layers[i], c->dim[i], c->heads[i]);
    if (c->budget_model >= c->n_sizes) return alim_error_set(err, ALIM_EINVAL, "budget_model", "must name one of the %zu sizes (0-based)", c->n_sizes);
    if (c->n_budgets < 2 || c->n_budgets > ALIM_SCALE_MAX_LEVELS) return alim_error_set(err, ALIM_EINVAL, "budgets", "needs 2..%d budgets", ALIM_SCALE_MAX_LEVELS);
    for (size_t i = 0; i < c->n_budgets; i++)
        if (c->budgets[i] < 1 || (i && c->budgets[i] <= c->budgets[i - 1])) return alim_error_set(err, ALIM_EINVAL, "budgets", "must be increasing and >= 1");
    if (!(c->budget_lr > 0)) return alim_error_set(err, ALIM_EINVAL, "budget_lr", "must be > 0");
    alim_status st = check_grid("size_n_pos", c->size_n_pos, c->size_n_pos_count, 0, err);
    if (!st) st = check_grid("size_n_neg", c->size_n_neg, c->size_n_neg_count, 1, err);
    if (!st) st = check_grid("tok_n_pos", c->tok_n_pos, c->tok_n_pos_count, 0, err);
    if (!st) st = check_grid("tok_n_neg", c->tok_n_neg, c->tok_n_neg_count, 1, err);
    if (!st && (c->max_l_neg < c->size_n_neg[1] || c->max_l_neg < c->tok_n_neg[1]))
        st = alim_error_set(err, ALIM_EINVAL, "max_l_neg", "%zu is below the first perturbation of a grid", c->max_l_neg);
    return st;
}

cJSON *alim_scale_config_json(const alim_scale_config *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddBoolToObject(o, "size_part", c->do_size);
    cJSON_AddBoolToObject(o, "tokens_part", c->do_tokens);
    cJSON *sz = cJSON_AddArrayToObject(o, "sizes");
    for (size_t i = 0; i < c->n_sizes; i++) {
        int v[3] = {c->layers[i], c->dim[i], c->heads[i]};
        cJSON_AddItemToArray(sz, cJSON_CreateIntArray(v, 3));
    }
    double v[ALIM_REBOUND_MAX_GRID];
#define GRID(key, arr, n) do { for (size_t i_ = 0; i_ < (n); i_++) v[i_] = (double)(arr)[i_]; cJSON_AddItemToObject(o, key, cJSON_CreateDoubleArray(v, (int)(n))); } while (0)
    cJSON_AddNumberToObject(o, "size_pretrain_tokens", (double)c->size_pretrain_tokens);
    GRID("size_n_pos", c->size_n_pos, c->size_n_pos_count);
    GRID("size_n_neg", c->size_n_neg, c->size_n_neg_count);
    cJSON_AddNumberToObject(o, "budget_model", (double)c->budget_model);
    GRID("budgets", c->budgets, c->n_budgets);
    cJSON_AddNumberToObject(o, "budget_lr", c->budget_lr);
    GRID("tok_n_pos", c->tok_n_pos, c->tok_n_pos_count);
    GRID("tok_n_neg", c->tok_n_neg, c->tok_n_neg_count);
#undef GRID
    cJSON_AddNumberToObject(o, "context", c->context);
    cJSON_AddNumberToObject(o, "pretrain_batch", c->pretrain_batch);
    cJSON_AddNumberToObject(o, "pretrain_warmup", (double)c->pretrain_warmup);
    cJSON_AddNumberToObject(o, "max_l_neg", (double)c->max_l_neg);
    cJSON_AddNumberToObject(o, "samples", (double)c->n_samples);
    cJSON_AddNumberToObject(o, "sample_tokens", (double)c->sample_tokens);
    cJSON_AddBoolToObject(o, "quick", c->quick);
    alim_lab_add_precision(o, alim_precision_resolve(c->precision));
    return o;
}

static cJSON *make_config(const alim_scale_config *c, const char *data_hash)
{
    cJSON *o = alim_scale_config_json(c);
    if (o) cJSON_AddStringToObject(o, "data_manifest_hash", data_hash);
    return o;
}

typedef struct {
    const alim_scale_config *cfg;
    const alim_progress *outer;
    alim_rebound_note_fn note;
    void *note_ctx;
    char label[96];
} sc;

#define notef(x, ...) alim_lab_note((x)->note, (x)->note_ctx, __VA_ARGS__)

/* progress of a sub-run, labelled with the part and level */
static int sub_progress(void *ctx, const char *stage, double done, double total)
{
    const sc *x = ctx;
    char s[320];
    snprintf(s, sizeof s, "E3 %s: %s", x->label, stage);
    return alim_progress_report(x->outer, s, done, total);
}

static void sub_note(void *ctx, const char *line)
{
    const sc *x = ctx;
    notef(x, "E3 %s: %s", x->label, line);
}

/* a rebound configuration for one level */
static void level_config(const alim_scale_config *c, size_t shape, alim_rebound_config *r)
{
    alim_rebound_config_default(r);
    if (c->quick) alim_rebound_config_quick(r);
    r->data_dir = c->data_dir;
    r->n_seeds = c->n_seeds;
    r->n_layer = c->layers[shape];
    r->n_embd = c->dim[shape];
    r->n_head = c->heads[shape];
    r->context = c->context;
    r->pretrain_batch = c->pretrain_batch;
    r->pretrain_warmup = c->pretrain_warmup;
    r->n_samples = c->n_samples;
    r->sample_tokens = c->sample_tokens;
    r->jobs = c->jobs;
    r->precision = c->precision;
}

/* ---- the budget pretraining: one run per seed, checkpoints at the budgets ------------------ */

static uint64_t budget_steps(const alim_scale_config *c, uint64_t tokens)
{
    const uint64_t per = (uint64_t)c->pretrain_batch * (uint64_t)c->context;
    return (tokens + per - 1) / per;
}

typedef struct {
    const sc *x;
    size_t seed;
} budget_arg;

/* One pretraining run per seed, stopped and resumed at every budget, the model at budget b
 * copied to DIR/t<budget>. Result {checkpoints: [{budget, steps, tokens, loss_nats,
 * tokens_per_s}], elapsed_s}. */
static alim_status budget_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const budget_arg *a = arg;
    const alim_scale_config *c = a->x->cfg;
    const size_t seed = a->seed;
    char tdir[4300], to[4400], data[4200];
    snprintf(tdir, sizeof tdir, "%s/train", env->dir);
    const size_t g = c->budget_model;
    cJSON *r = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(r, "checkpoints");
    uint64_t done = 0;
    double el = 0, loss = NAN, tps = 0;
    alim_status st = ALIM_OK;
    for (size_t b = 0; b < c->n_budgets && !st; b++) {
        const uint64_t stop = budget_steps(c, c->budgets[b]);
        if (stop > done) {
            alim_train_options o;
            alim_train_options_default(&o);
            o.model.n_layer = c->layers[g];
            o.model.n_embd = c->dim[g];
            o.model.n_head = c->heads[g];
            o.model.n_positions = c->context;
            o.context = c->context;
            o.tokenizer = "byte";
            o.format = ALIM_DATA_TEXT;
            o.clip = 1.0;
            const char *paths[1] = {alim_lab_path(c->data_dir, "pretrain.txt", data, sizeof data)};
            o.data = paths;
            o.n_data = 1;
            o.out_dir = tdir;
            o.steps = budget_steps(c, c->budgets[c->n_budgets - 1]);
            o.stop_at = stop;
            o.batch = c->pretrain_batch;
            o.lr = c->budget_lr;
            o.min_lr = c->budget_lr;
            o.schedule = ALIM_LR_CONSTANT;
            o.warmup = c->pretrain_warmup;
            o.adamw.weight_decay = 0.1f;
            o.seed = seed;
            o.resume = done > 0;
            o.precision = alim_precision_resolve(c->precision); /* available: checked by alim_scale_run */
            alim_train_result tr;
            st = alim_train(&o, env->progress, &tr, err);
            if (st) break;
            alim_runner_count_training(env, (double)(tr.last_step - tr.first_step) * o.batch * o.context, tr.elapsed_s);
            done = tr.last_step;
            el += tr.elapsed_s;
            loss = tr.last_loss;
            tps = tr.tokens_per_s;
        }
        snprintf(to, sizeof to, "%s/t%llu", env->dir, (unsigned long long)c->budgets[b]);
        if (!st) st = alim_lab_copy_model(tdir, to, err);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "budget", (double)c->budgets[b]);
        cJSON_AddNumberToObject(o, "steps", (double)done);
        cJSON_AddNumberToObject(o, "tokens", (double)(done * (uint64_t)c->pretrain_batch * (uint64_t)c->context));
        alim_lab_add_num(o, "loss_nats", loss);
        cJSON_AddNumberToObject(o, "tokens_per_s", tps);
        cJSON_AddItemToArray(arr, o);
    }
    cJSON_AddNumberToObject(r, "elapsed_s", el);
    if (st) {
        cJSON_Delete(r);
        return st;
    }
    *result = r;
    return ALIM_OK;
}

static void note_budget(void *arg, const char *name, const cJSON *result, int reused)
{
    const budget_arg *a = arg;
    (void)name;
    if (reused) return;
    const cJSON *o;
    double prev = 0;
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(result, "checkpoints")) {
        const double steps = alim_lab_json_num(o, "steps");
        if (steps > prev)
            notef(a->x, "E3 seed %zu: pretrained to step %.0f (%.0f tokens), loss %.4f nats, %.0f tokens/s", a->seed, steps,
                  alim_lab_json_num(o, "tokens"), alim_lab_json_num(o, "loss_nats"), alim_lab_json_num(o, "tokens_per_s"));
        prev = steps;
    }
}

/* the budget pretraining of every seed, side by side when cfg->jobs > 1; bres[s] = seed s+1's result */
static alim_status budget_cells(const sc *x, alim_rundir *rd, cJSON **bres, alim_error *err)
{
    const alim_scale_config *c = x->cfg;
    const size_t S = c->n_seeds;
    alim_runner *runner = NULL;
    const alim_runner_options ro = {"E3", x->outer, c->jobs > 0 ? c->jobs : 1};
    budget_arg *args = calloc(S, sizeof *args);
    size_t *ix = calloc(S, sizeof *ix);
    alim_status st = !args || !ix ? alim_error_set(err, ALIM_ENOMEM, "scale", "out of memory") : alim_runner_create(rd, &ro, &runner, err);
    for (size_t s = 0; s < S && !st; s++) {
        char cell[64];
        snprintf(cell, sizeof cell, "s%zu-budgets", s + 1);
        args[s] = (budget_arg){x, s + 1};
        ix[s] = alim_runner_add(runner, cell, (double)c->budgets[c->n_budgets - 1] / 1000.0, budget_cell, &args[s], note_budget, NULL, 0);
    }
    if (!st) st = alim_runner_run(runner, err);
    for (size_t s = 0; s < S && !st; s++)
        if (!(bres[s] = alim_runner_result(runner, ix[s], err))) st = err->status; /* set when NULL */
    alim_runner_free(runner);
    free(args), free(ix);
    return st;
}

/* ---- metrics of one level -------------------------------------------------------------------- */

typedef struct {
    const char *part;
    char name[64];
    double value;                /* size: parameters; tokens: pretraining tokens */
    double R[1000], E[1000];     /* per seed */
    double R_mean, R_se;
    alim_coefficient_estimate est;
    double oracle_e;
    double params;
} level;

/* The level's metrics from its E2 sub-run's per-seed evaluations ev (typed, in process). */
static alim_status level_metrics(const alim_scale_config *c, const alim_rebound_evaluations *ev, double num_params,
                                 const alim_rebound_config *rc, double pre_tokens, double a_tokens, const double q[3], level *lv,
                                 alim_error *err)
{
    const size_t S = c->n_seeds, np = rc->n_pos[rc->n_pos_count - 1], n1 = rc->n_neg[1];
    for (size_t s = 0; s < S; s++) {
        const alim_rebound_eval *e0 = alim_rebound_evaluations_find(ev, s, 0, (double)np, 0),
                                *e1 = alim_rebound_evaluations_find(ev, s, 0, (double)np, (double)n1);
        if (!e0 || !e1) return alim_error_set(err, ALIM_EINVAL, rc->run_dir, "seed %zu lacks the evaluations at n_pos = %zu", s + 1, np);
        lv->R[s] = (e0->score - e1->score) / (double)n1;
    }
    alim_lab_mean_se(lv->R, S, &lv->R_mean, &lv->R_se);
    size_t nneg[ALIM_REBOUND_MAX_GRID], N = 0;
    for (size_t j = 1; j < rc->n_neg_count; j++)
        if (rc->n_neg[j] <= c->max_l_neg) nneg[N++] = rc->n_neg[j];
    const size_t P1[1] = {np};
    alim_coefficient_analysis an; /* typed only: the level needs no JSON of it */
    alim_status st = alim_coefficient_analyse(ev, P1, 1, nneg, N, pre_tokens, &a_tokens, q, 10000, 1, &an, NULL, err);
    if (st) return st;
    lv->est = an.est[0];
    lv->oracle_e = an.oracle_e_hat[0];
    /* per-seed E_hat: the fit on one seed's changes (the analysis found every point) */
    for (size_t s = 0; s < S; s++) {
        alim_coefficient_estimate one;
        double dgp[ALIM_REBOUND_MAX_GRID], dga[ALIM_REBOUND_MAX_GRID], l[ALIM_REBOUND_MAX_GRID];
        const alim_rebound_eval *e0 = alim_rebound_evaluations_find(ev, s, 0, (double)np, 0);
        for (size_t j = 0; j < N; j++) {
            const alim_rebound_eval *e = alim_rebound_evaluations_find(ev, s, 0, (double)np, (double)nneg[j]);
            l[j] = (double)nneg[j] / (double)np;
            dgp[j] = e->gamma_mix_bits - e0->gamma_mix_bits;
            dga[j] = e->gamma_c2_bits - e0->gamma_c2_bits;
        }
        alim_error e2;
        alim_error_clear(&e2);
        lv->E[s] = alim_coefficient_fit(l, N, dgp, dga, 1, pre_tokens / a_tokens, 0, 1, &one, &e2) ? NAN : one.e_hat;
    }
    lv->params = num_params;
    return ALIM_OK;
}

/* One level of either part: its E2 sub-run (cells counted into res) and, on the rank that
 * writes, its metrics into *lv, pre_tokens being the level's pretraining tokens. */
static alim_status level_run(sc *x, const alim_rebound_config *rc, int writes, const char *part, double pre_tokens,
                             const double q[3], level *lv, alim_scale_result *res, alim_error *err)
{
    alim_progress pg = {sub_progress, x};
    alim_rebound_result rr;
    alim_status st = alim_rebound_run(rc, &pg, sub_note, x, &rr, err);
    if (st) return st;
    res->cells_run += rr.cells_run;
    res->cells_reused += rr.cells_reused;
    if (writes) {
        lv->part = part;
        double a_tok = NAN;
        st = alim_coefficient_alignment_tokens(&rr.evaluations, x->cfg->data_dir, &rc->n_pos[rc->n_pos_count - 1], 1, &a_tok, err);
        if (!st) st = level_metrics(x->cfg, &rr.evaluations, rr.num_params, rc, pre_tokens, a_tok, q, lv, err);
    }
    alim_rebound_result_free(&rr);
    return st;
}

/* rho of (level index, metric) over levels x seeds */
static double rho_of(const level *lv, size_t n, size_t S, int use_e)
{
    double x[ALIM_SCALE_MAX_LEVELS * 1000], y[ALIM_SCALE_MAX_LEVELS * 1000];
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t s = 0; s < S; s++) {
            x[m] = (double)i;
            y[m++] = use_e ? lv[i].E[s] : lv[i].R[s];
        }
    return alim_lab_spearman(x, y, m);
}

/* The typed part from the levels' metrics: what alim_scale_result returns and what
 * summary.json records (part_json writes it from these fields). The per-seed arrays are the
 * result's. */
static alim_status part_fill(const level *lv, size_t n, size_t S, alim_scale_part *p, alim_error *err)
{
    p->n_levels = n;
    for (size_t i = 0; i < n; i++) {
        alim_scale_level *o = &p->levels[i];
        memcpy(o->name, lv[i].name, sizeof o->name);
        o->value = lv[i].value;
        o->params = lv[i].params;
        o->k = lv[i].est.k;
        o->R_mean = lv[i].R_mean;
        o->R_se = lv[i].R_se;
        o->e_hat = lv[i].est.e_hat;
        o->e_lo = lv[i].est.e_lo;
        o->e_hi = lv[i].est.e_hi;
        o->oracle_e_hat = lv[i].oracle_e;
        o->R = malloc(S * sizeof *o->R);
        o->e_hat_seed = malloc(S * sizeof *o->e_hat_seed);
        if (!o->R || !o->e_hat_seed) return alim_error_set(err, ALIM_ENOMEM, "scale", "out of memory");
        memcpy(o->R, lv[i].R, S * sizeof *o->R);
        memcpy(o->e_hat_seed, lv[i].E, S * sizeof *o->e_hat_seed);
    }
    p->rho_R = rho_of(lv, n, S, 0);
    p->rho_e_hat = rho_of(lv, n, S, 1);
    return ALIM_OK;
}

/* summary.json's record of a part, from the typed part */
static cJSON *part_json(const char *part, const alim_scale_part *p, size_t S)
{
    cJSON *o = cJSON_CreateObject(), *levels = cJSON_AddArrayToObject(o, "levels");
    for (size_t i = 0; i < p->n_levels; i++) {
        const alim_scale_level *lv = &p->levels[i];
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "level", lv->name);
        /* the size part records "params" twice (scale and parameters), as it always has */
        alim_lab_add_num(l, strcmp(part, "size") ? "pretrain_tokens" : "params", lv->value);
        alim_lab_add_num(l, "params", lv->params);
        alim_lab_add_num(l, "k", lv->k);
        alim_lab_add_num(l, "R_mean", lv->R_mean);
        alim_lab_add_num(l, "R_se", lv->R_se);
        alim_lab_add_num(l, "e_hat", lv->e_hat);
        alim_lab_add_num(l, "e_hat_lo95", lv->e_lo);
        alim_lab_add_num(l, "e_hat_hi95", lv->e_hi);
        alim_lab_add_num(l, "oracle_e_hat", lv->oracle_e_hat);
        cJSON *ps = cJSON_AddArrayToObject(l, "per_seed");
        for (size_t s = 0; s < S; s++) {
            cJSON *q = cJSON_CreateObject();
            cJSON_AddNumberToObject(q, "seed", (double)(s + 1));
            alim_lab_add_num(q, "R", lv->R[s]);
            alim_lab_add_num(q, "e_hat", lv->e_hat_seed[s]);
            cJSON_AddItemToArray(ps, q);
        }
        cJSON_AddItemToArray(levels, l);
    }
    alim_lab_add_num(o, "spearman_R", p->rho_R);
    alim_lab_add_num(o, "spearman_e_hat", p->rho_e_hat);
    return o;
}

/* criteria (docs/elastic.md "E3"): rho > 0 for R and E_hat in every part that ran */
static void judge(const alim_scale_config *cfg, alim_scale_result *res)
{
    static const char *const names[ALIM_SCALE_N_CRITERIA] = {"size_R", "size_e_hat", "tokens_R", "tokens_e_hat"};
    const int ran[ALIM_SCALE_N_CRITERIA] = {cfg->do_size, cfg->do_size, cfg->do_tokens, cfg->do_tokens};
    const double rho[ALIM_SCALE_N_CRITERIA] = {res->size.rho_R, res->size.rho_e_hat, res->tokens.rho_R, res->tokens.rho_e_hat};
    int all = 1;
    res->n_criteria = 0;
    for (int k = 0; k < ALIM_SCALE_N_CRITERIA; k++) {
        if (!ran[k]) continue;
        alim_scale_criterion *c = &res->criteria[res->n_criteria++];
        c->name = names[k];
        c->result = isnan(rho[k]) ? "NULL" : rho[k] > 0 ? "PASS" : "FAIL";
        c->spearman = rho[k];
        all &= !strcmp(c->result, "PASS");
    }
    res->verdict = all ? "PASS" : "NULL";
}

alim_status alim_scale_run(const alim_scale_config *cfg, const alim_progress *progress, alim_rebound_note_fn note, void *note_ctx,
                           alim_scale_result *res, alim_error *err)
{
    memset(res, 0, sizeof *res);
    alim_status st = check_config(cfg, err);
    alim_precision prec;
    if (!st) st = alim_precision_select(cfg->precision, &prec, err);
    if (st) return st;
    const double t0 = alim_lab_now();
    const size_t S = cfg->n_seeds;
    sc x = {cfg, progress, note, note_ctx, ""};
    cJSON *man = NULL, *config = NULL, *summary = NULL, *bres[1000] = {0};
    alim_rundir *rd = NULL;
    level *sz = calloc(ALIM_SCALE_MAX_LEVELS, sizeof *sz), *tk = calloc(ALIM_SCALE_MAX_LEVELS, sizeof *tk);
    char p1[4200], sub[4200];
    double q[3] = {NAN, NAN, NAN};
    if (!sz || !tk) {
        free(sz), free(tk);
        return alim_error_set(err, ALIM_ENOMEM, "scale", "out of memory");
    }
    st = alim_json_read_file(alim_lab_path(cfg->data_dir, "manifest.json", p1, sizeof p1), &man, err);
    if (st == ALIM_EIO) st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "not a data directory (no readable manifest.json; make one with alim_datadir_synthetic)");
    if (st) goto out;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(man, "shares");
    for (int i = 0; i < 3 && cJSON_GetArraySize(sh) == 3; i++) q[i] = alim_json_number_value(cJSON_GetArrayItem(sh, i));
    char data_hash[17];
    alim_json_hash(man, data_hash);
    config = make_config(cfg, data_hash);
    st = alim_rundir_open(cfg->run_dir, "elastic-scale", config, &rd, err);
    if (st) goto out;
    /* under MPI every rank computes cells, rank 0 alone the levels' metrics and the files */
    const int writes = !alim_rundir_shared(rd) || alim_dist_rank() == 0;

    res->n_seeds = S;
    summary = cJSON_CreateObject();
    /* the size part */
    if (cfg->do_size) {
        for (size_t g = 0; g < cfg->n_sizes && !st; g++) {
            alim_rebound_config rc;
            level_config(cfg, g, &rc);
            rc.pretrain_tokens = cfg->size_pretrain_tokens;
            memcpy(rc.n_pos, cfg->size_n_pos, sizeof rc.n_pos);
            rc.n_pos_count = cfg->size_n_pos_count;
            memcpy(rc.n_neg, cfg->size_n_neg, sizeof rc.n_neg);
            rc.n_neg_count = cfg->size_n_neg_count;
            snprintf(sz[g].name, sizeof sz[g].name, "%dx%dx%d", cfg->layers[g], cfg->dim[g], cfg->heads[g]);
            snprintf(sub, sizeof sub, "%s/size-%s", cfg->run_dir, sz[g].name);
            rc.run_dir = sub;
            snprintf(x.label, sizeof x.label, "size %s [%zu/%zu]", sz[g].name, g + 1, cfg->n_sizes);
            st = level_run(&x, &rc, writes, "size", (double)rc.pretrain_tokens, q, &sz[g], res, err);
            if (!st && writes) sz[g].value = sz[g].params;
        }
        if (!st && writes) st = part_fill(sz, cfg->n_sizes, S, &res->size, err);
        if (st) goto out;
        if (writes) cJSON_AddItemToObject(summary, "size", part_json("size", &res->size, S));
    }
    /* the pretraining-token part */
    if (cfg->do_tokens) {
        st = budget_cells(&x, rd, bres, err);
        for (size_t b = 0; b < cfg->n_budgets && !st; b++) {
            alim_rebound_config rc;
            level_config(cfg, cfg->budget_model, &rc);
            const double tokens = alim_lab_json_num(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(bres[0], "checkpoints"), (int)b), "tokens");
            rc.pretrain_tokens = (uint64_t)tokens;
            rc.pretrain_lr = rc.pretrain_min_lr = cfg->budget_lr;
            memcpy(rc.n_pos, cfg->tok_n_pos, sizeof rc.n_pos);
            rc.n_pos_count = cfg->tok_n_pos_count;
            memcpy(rc.n_neg, cfg->tok_n_neg, sizeof rc.n_neg);
            rc.n_neg_count = cfg->tok_n_neg_count;
            char *dirs[1000];
            const char *cdirs[1000];
            for (size_t s = 0; s < S; s++) {
                dirs[s] = malloc(4400);
                if (dirs[s]) snprintf(dirs[s], 4400, "%s/cells/s%zu-budgets/t%llu", cfg->run_dir, s + 1, (unsigned long long)cfg->budgets[b]);
                cdirs[s] = dirs[s];
            }
            char origin[256];
            snprintf(origin, sizeof origin, "elastic scale: one run per seed at lr %g constant after %llu warm-up steps, checkpoint after %.0f tokens",
                     cfg->budget_lr, (unsigned long long)cfg->pretrain_warmup, tokens);
            rc.theta0_dirs = cdirs;
            rc.theta0_origin = origin;
            snprintf(tk[b].name, sizeof tk[b].name, "%.0f", tokens);
            snprintf(sub, sizeof sub, "%s/tokens-%llu", cfg->run_dir, (unsigned long long)cfg->budgets[b]);
            rc.run_dir = sub;
            snprintf(x.label, sizeof x.label, "tokens %s [%zu/%zu]", tk[b].name, b + 1, cfg->n_budgets);
            int oom = 0;
            for (size_t s = 0; s < S; s++) oom |= !dirs[s];
            st = oom ? alim_error_set(err, ALIM_ENOMEM, "scale", "out of memory") : level_run(&x, &rc, writes, "tokens", tokens, q, &tk[b], res, err);
            for (size_t s = 0; s < S; s++) free(dirs[s]);
            if (!st && writes) tk[b].value = tokens;
        }
        if (!st && writes) st = part_fill(tk, cfg->n_budgets, S, &res->tokens, err);
        if (st) goto out;
        if (writes) cJSON_AddItemToObject(summary, "tokens", part_json("tokens", &res->tokens, S));
    }

    if (!writes) goto out;
    /* files */
    {
        alim_atomic_file f = {0};
        st = alim_atomic_open(&f, alim_lab_path(cfg->run_dir, "scale.csv", p1, sizeof p1), err);
        if (st) goto out;
        fprintf(f.fp, "part,level,params,pretrain_tokens,k,seed,R,e_hat\n");
        for (int part = 0; part < 2; part++) {
            const level *lv = part ? tk : sz;
            const size_t n = part ? (cfg->do_tokens ? cfg->n_budgets : 0) : (cfg->do_size ? cfg->n_sizes : 0);
            for (size_t i = 0; i < n; i++)
                for (size_t s = 0; s < S; s++)
                    fprintf(f.fp, "%s,%s,%.0f,%.0f,%.9g,%zu,%.9g,%.9g\n", part ? "tokens" : "size", lv[i].name, lv[i].params,
                            part ? lv[i].value : (double)cfg->size_pretrain_tokens, lv[i].est.k, s + 1, lv[i].R[s], lv[i].E[s]);
        }
        st = alim_atomic_commit(&f, err);
        if (st) goto out;
        st = alim_atomic_open(&f, alim_lab_path(cfg->run_dir, "levels.csv", p1, sizeof p1), err);
        if (st) goto out;
        fprintf(f.fp, "part,level,params,pretrain_tokens,k,seeds,R_mean,R_se,e_hat,e_hat_lo95,e_hat_hi95,oracle_e_hat\n");
        for (int part = 0; part < 2; part++) {
            const level *lv = part ? tk : sz;
            const size_t n = part ? (cfg->do_tokens ? cfg->n_budgets : 0) : (cfg->do_size ? cfg->n_sizes : 0);
            for (size_t i = 0; i < n; i++)
                fprintf(f.fp, "%s,%s,%.0f,%.0f,%.9g,%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", part ? "tokens" : "size", lv[i].name, lv[i].params,
                        part ? lv[i].value : (double)cfg->size_pretrain_tokens, lv[i].est.k, S, lv[i].R_mean, lv[i].R_se, lv[i].est.e_hat,
                        lv[i].est.e_lo, lv[i].est.e_hi, lv[i].oracle_e);
        }
        st = alim_atomic_commit(&f, err);
        if (st) goto out;
    }
    /* criteria and verdict: judged on the typed parts, recorded from the typed criteria */
    {
        judge(cfg, res);
        cJSON *cj = cJSON_AddObjectToObject(summary, "criteria");
        for (size_t k = 0; k < res->n_criteria; k++) {
            cJSON *o = cJSON_AddObjectToObject(cj, res->criteria[k].name);
            cJSON_AddStringToObject(o, "result", res->criteria[k].result);
            alim_lab_add_num(o, "spearman", res->criteria[k].spearman);
        }
        cJSON_AddStringToObject(summary, "verdict", res->verdict);
    }
    cJSON_AddStringToObject(summary, "experiment", "E3 scale (elastic scale)");
    cJSON_AddStringToObject(summary, "data_dir", cfg->data_dir);
    cJSON_AddStringToObject(summary, "run_dir", cfg->run_dir);
    /* the manifest is freed below: the result keeps a copy of its source */
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(man, "source");
    if (cJSON_IsString(src) && !(res->source = strdup(src->valuestring))) {
        st = alim_error_set(err, ALIM_ENOMEM, "scale", "out of memory");
        goto out;
    }
    if (res->source) cJSON_AddStringToObject(summary, "source", res->source);
    cJSON_AddNumberToObject(summary, "seeds", (double)S);
    char hash[17];
    alim_json_hash(config, hash);
    cJSON_AddStringToObject(summary, "config_hash", hash);
    cJSON_AddItemToObject(summary, "config", cJSON_Duplicate(config, 1));
    res->wall_s = alim_lab_now() - t0;
    cJSON *cells = cJSON_AddObjectToObject(summary, "cells");
    cJSON_AddNumberToObject(cells, "run", (double)res->cells_run);
    cJSON_AddNumberToObject(cells, "reused", (double)res->cells_reused);
    cJSON_AddNumberToObject(summary, "wall_s", res->wall_s);
    st = alim_lab_write_json(alim_lab_path(cfg->run_dir, "summary.json", p1, sizeof p1), summary, err);
    if (st) goto out;
    res->summary = summary;
    summary = NULL;
out:
    if (st) alim_scale_result_free(res); /* nothing for the caller to free; the cell counts stay */
    for (size_t s = 0; s < S && s < 1000; s++) cJSON_Delete(bres[s]);
    cJSON_Delete(summary);
    cJSON_Delete(config);
    cJSON_Delete(man);
    if (rd) alim_rundir_close(rd);
    free(sz), free(tk);
    return st;
}

void alim_scale_result_free(alim_scale_result *res)
{
    if (!res) return;
    cJSON_Delete(res->summary);
    res->summary = NULL;
    alim_scale_part *parts[2] = {&res->size, &res->tokens};
    for (int p = 0; p < 2; p++) {
        for (size_t i = 0; i < ALIM_SCALE_MAX_LEVELS; i++) free(parts[p]->levels[i].R), free(parts[p]->levels[i].e_hat_seed);
        memset(parts[p], 0, sizeof *parts[p]);
    }
    res->n_criteria = 0;
    res->verdict = NULL;
    free(res->source);
    res->source = NULL;
}
