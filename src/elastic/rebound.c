/* rebound.c — E2: rebound (see alim/rebound.h): the configuration and alim_rebound_run, the
 * orchestration of its steps; rebound_impl.h names the files that hold the rest. */
#define _POSIX_C_SOURCE 200809L
#include "rebound_impl.h"
#include "lab_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const rb_test_name[RB_N_TEST] = {"c1", "c2", "c3", "mix"};

void alim_rebound_config_default(alim_rebound_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_seeds = 3;
    LAB_SET_BASE(c, lab_base_default);
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
    LAB_SET_BASE(c, lab_base_quick);
    static const size_t P[] = {10, 20, 30, 40}, N[] = {0, 8, 16, 24, 32, 40};
    memcpy(c->n_pos, P, sizeof P);
    memcpy(c->n_neg, N, sizeof N);
    c->n_samples = 16;
    c->sample_tokens = 32;
    c->quick = 1;
}

static alim_status check_config(const alim_rebound_config *c, alim_error *err)
{
    alim_status st = lab_check_run(c->data_dir, c->run_dir, c->n_seeds, c->context, err);
    if (st) return st;
    if (c->pretrain_tokens < 1) return alim_error_set(err, ALIM_EINVAL, "pretrain_tokens", "must be >= 1");
    if (c->n_pos_count < 1 || c->n_pos_count > ALIM_REBOUND_MAX_GRID)
        return alim_error_set(err, ALIM_EINVAL, "n_pos", "needs 1..%d values", ALIM_REBOUND_MAX_GRID);
    if (c->n_neg_count < 2 || c->n_neg_count > ALIM_REBOUND_MAX_GRID)
        return alim_error_set(err, ALIM_EINVAL, "n_neg", "needs 2..%d values", ALIM_REBOUND_MAX_GRID);
    for (size_t i = 0; i < c->n_pos_count; i++)
        if (c->n_pos[i] < 1 || (i && c->n_pos[i] <= c->n_pos[i - 1]))
            return alim_error_set(err, ALIM_EINVAL, "n_pos", "values must be >= 1 and increasing");
    if (c->n_neg[0] != 0) return alim_error_set(err, ALIM_EINVAL, "n_neg", "the first value must be 0 (theta_pos itself)");
    for (size_t i = 1; i < c->n_neg_count; i++)
        if (c->n_neg[i] <= c->n_neg[i - 1]) return alim_error_set(err, ALIM_EINVAL, "n_neg", "values must be increasing");
    if (c->n_samples < 1) return alim_error_set(err, ALIM_EINVAL, "n_samples", "must be >= 1");
    if (c->sample_tokens < 1 || c->sample_tokens > (size_t)c->context)
        return alim_error_set(err, ALIM_EINVAL, "sample_tokens", "%zu must be in [1, context = %d]", c->sample_tokens, c->context);
    if (!(c->temperature > 0 && isfinite(c->temperature))) return alim_error_set(err, ALIM_EINVAL, "temperature", "must be > 0");
    if (!(c->epsilon_nats > 0)) return alim_error_set(err, ALIM_EINVAL, "epsilon_nats", "must be > 0");
    if (c->pretrain_batch < 1 || c->sft_batch < 1) return alim_error_set(err, ALIM_EINVAL, c->pretrain_batch < 1 ? "pretrain_batch" : "sft_batch", "must be >= 1");
    if (c->theta0_model) {
        if (c->theta0_dirs) return alim_error_set(err, ALIM_EINVAL, "theta0_model", "theta0_model and theta0_dirs are exclusive");
        if (c->control_run) return alim_error_set(err, ALIM_EINVAL, "control_run", "with a pretrained theta0 the control is part of the run (control)");
        if (c->pos_slice < c->n_pos[c->n_pos_count - 1])
            return alim_error_set(err, ALIM_EINVAL, "n_pos", "%zu is larger than the per-seed slice of %zu records", c->n_pos[c->n_pos_count - 1], c->pos_slice);
        if (c->neg_slice < c->n_neg[c->n_neg_count - 1])
            return alim_error_set(err, ALIM_EINVAL, "n_neg", "%zu is larger than the per-seed slice of %zu records", c->n_neg[c->n_neg_count - 1], c->neg_slice);
        if (c->test_records < 1) return alim_error_set(err, ALIM_EINVAL, "test_records", "must be >= 1");
        if (c->d0_records < 1 || c->d0_tokens < 1) return alim_error_set(err, ALIM_EINVAL, "d0_records", "D_0 needs >= 1 reply of >= 1 token");
    }
    if (c->theta0_dirs) {
        if (!c->theta0_origin || !*c->theta0_origin) return alim_error_set(err, ALIM_EINVAL, "rebound", "theta0_dirs without theta0_origin");
        for (size_t s = 0; s < c->n_seeds; s++)
            if (!c->theta0_dirs[s]) return alim_error_set(err, ALIM_EINVAL, "rebound", "theta0_dirs[%zu] is missing", s);
    }
    return ALIM_OK;
}

/* the cells' estimated costs, in thousands of training-token equivalents (sampling a third of
 * a token per prefix token) */
typedef struct {
    double doc_tok, pre, d0, eval;
} cell_costs;

/* Declares seed s's cells (1-based), in the order a single worker runs them: theta0 (or the
 * real path's D_0), theta0-eval, then per n_pos: pos, negpass, its N evaluations (and under
 * ctl the control pass and its evaluations). Their arguments go to r->targs, r->eargs,
 * r->d0args (r->ctargs, r->cargs), their runner indices to r->cix (r->ccix). */
static void add_seed_cells(rb_run *r, size_t s, const cell_costs *cost)
{
    const alim_rebound_config *cfg = r->cfg;
    const rb *x = r->x;
    const size_t P = r->P, N = r->N, G = r->G;
    const int ctl = r->ctl;
    alim_runner *runner = r->runner;
    rb_train_arg *targs = r->targs, *ctargs = r->ctargs;
    rb_eval_arg *eargs = r->eargs, *d0args = r->d0args, *cargs = r->cargs;
    size_t *ccix = r->ccix;
    const char *pre_path = r->pre_path;
    const double doc_tok = cost->doc_tok, c_pre = cost->pre, c_d0 = cost->d0, c_eval = cost->eval;
    char cellname[128];
    rb_train_arg *t0 = &targs[(s - 1) * (1 + 2 * P)];
    rb_eval_arg *ev = &eargs[(s - 1) * G];
    char d0[4200];
    size_t deps[3], nd = 0;
    char d0set[4300] = "";
    size_t id0 = (size_t)-1; /* real: the seed's D_0 cell (in theta0's slot) */
    if (x->real) {
        snprintf(d0, sizeof d0, "%s", cfg->theta0_model);
        rb_eval_arg *da = &d0args[s - 1];
        *da = (rb_eval_arg){x, "", "", s, RB_D0_STREAM, "", 0, 0};
        snprintf(da->model_dir, sizeof da->model_dir, "%s", d0);
        snprintf(cellname, sizeof cellname, "s%zu-d0", s);
        id0 = *rb_cix(r, s - 1, 0) = alim_runner_add(runner, cellname, c_d0, rb_d0_cell, da, rb_note_d0, NULL, 0);
        snprintf(d0set, sizeof d0set, "%s/cells/%s/d0.jsonl", cfg->run_dir, cellname);
    } else if (cfg->theta0_dirs) {
        snprintf(d0, sizeof d0, "%s", cfg->theta0_dirs[s - 1]);
        *rb_cix(r, s - 1, 0) = (size_t)-1;
    } else {
        *t0 = (rb_train_arg){x, s, 0, "", pre_path, 0};
        snprintf(cellname, sizeof cellname, "s%zu-theta0", s);
        *rb_cix(r, s - 1, 0) = alim_runner_add(runner, cellname, c_pre, rb_theta0_cell, t0, rb_note_theta0, NULL, 0);
        snprintf(d0, sizeof d0, "%s/cells/%s", cfg->run_dir, cellname);
        deps[nd++] = *rb_cix(r, s - 1, 0);
    }
    ev[0] = (rb_eval_arg){x, "", "", s, 0, "", 0, 0};
    snprintf(ev[0].model_dir, sizeof ev[0].model_dir, "%s", d0);
    snprintf(ev[0].d0_path, sizeof ev[0].d0_path, "%s", d0set);
    snprintf(cellname, sizeof cellname, "s%zu-theta0-eval", s);
    *rb_cix(r, s - 1, 1) = alim_runner_add(runner, cellname, c_eval, rb_eval_cell, &ev[0], rb_note_theta0_eval, x->real ? &id0 : deps, x->real ? 1 : nd);
    for (size_t i = 0; i < P; i++) {
        rb_train_arg *tp = &t0[1 + 2 * i], *tn = &t0[2 + 2 * i];
        *tp = (rb_train_arg){x, s, cfg->n_pos[i], "", NULL, 0};
        snprintf(tp->init_dir, sizeof tp->init_dir, "%s", d0);
        snprintf(cellname, sizeof cellname, "s%zu-pos%zu", s, cfg->n_pos[i]);
        const size_t ip = *rb_cix(r, s - 1, 2 + 2 * i) = alim_runner_add(runner, cellname, (double)cfg->n_pos[i] * doc_tok / 1000.0 + 0.001, rb_pos_cell, tp, rb_note_pos, deps, nd);
        char dp[4200], dn[4200];
        snprintf(dp, sizeof dp, "%s/cells/%s", cfg->run_dir, cellname);
        *tn = (rb_train_arg){x, s, cfg->n_pos[i], "", NULL, 0};
        snprintf(tn->init_dir, sizeof tn->init_dir, "%s", dp);
        snprintf(cellname, sizeof cellname, "s%zu-pos%zu-negpass", s, cfg->n_pos[i]);
        const size_t in = *rb_cix(r, s - 1, 3 + 2 * i) = alim_runner_add(runner, cellname, (double)cfg->n_neg[N - 1] * doc_tok / 1000.0 + 0.001, rb_neg_cell, tn, rb_note_negpass, &ip, 1);
        snprintf(dn, sizeof dn, "%s/cells/%s", cfg->run_dir, cellname);
        for (size_t j = 0; j < N; j++) {
            rb_eval_arg *e = &ev[1 + i * N + j];
            *e = (rb_eval_arg){x, "", "", s, 1 + i * N + j, "", 0, x->real && cfg->n_neg[j] > 0};
            snprintf(e->d0_path, sizeof e->d0_path, "%s", d0set);
            if (cfg->n_neg[j] == 0) snprintf(e->model_dir, sizeof e->model_dir, "%s", dp);
            else snprintf(e->model_dir, sizeof e->model_dir, "%s/n%zu", dn, cfg->n_neg[j]);
            snprintf(e->base_dir, sizeof e->base_dir, "%s", d0);
            size_t ed[3] = {ip, in, 0}, ne = 2;
            if (nd) ed[ne++] = deps[0];
            if (x->real) ed[ne++] = id0;
            snprintf(cellname, sizeof cellname, "s%zu-pos%zu-neg%zu", s, cfg->n_pos[i], cfg->n_neg[j]);
            *rb_cix(r, s - 1, 2 + 2 * P + i * N + j) = alim_runner_add(runner, cellname, c_eval, rb_eval_cell, e, rb_note_eval, ed, ne);
        }
        if (!ctl) continue;
        /* the control (real path): the same from theta_pos with the control-negative pool;
         * its n_neg = 0 point is theta_pos's evaluation; its replies use the main
         * evaluations' random streams (common random numbers) */
        rb_train_arg *tc = &ctargs[(s - 1) * P + i];
        *tc = (rb_train_arg){x, s, cfg->n_pos[i], "", NULL, 1};
        snprintf(tc->init_dir, sizeof tc->init_dir, "%s", dp);
        snprintf(cellname, sizeof cellname, "s%zu-pos%zu-ctlpass", s, cfg->n_pos[i]);
        const size_t ic = ccix[((s - 1) * P + i) * N] =
            alim_runner_add(runner, cellname, (double)cfg->n_neg[N - 1] * doc_tok / 1000.0 + 0.001, rb_neg_cell, tc, rb_note_negpass, &ip, 1);
        snprintf(dn, sizeof dn, "%s/cells/%s", cfg->run_dir, cellname);
        for (size_t j = 1; j < N; j++) {
            rb_eval_arg *e = &cargs[((s - 1) * P + i) * N + j];
            *e = (rb_eval_arg){x, "", "", s, 1 + i * N + j, "", 1, 1};
            snprintf(e->d0_path, sizeof e->d0_path, "%s", d0set);
            snprintf(e->model_dir, sizeof e->model_dir, "%s/n%zu", dn, cfg->n_neg[j]);
            snprintf(e->base_dir, sizeof e->base_dir, "%s", d0);
            const size_t ed[2] = {ic, id0};
            snprintf(cellname, sizeof cellname, "s%zu-pos%zu-ctl%zu", s, cfg->n_pos[i], cfg->n_neg[j]);
            ccix[((s - 1) * P + i) * N + j] = alim_runner_add(runner, cellname, c_eval, rb_eval_cell, e, rb_note_eval, ed, 2);
        }
    }
}

/* The cell graph: the runner over r->rd and every seed's cells (add_seed_cells). */
static alim_status build_cells(rb_run *r, const alim_progress *progress, alim_error *err)
{
    const alim_rebound_config *cfg = r->cfg;
    const size_t P = r->P, N = r->N, S = r->S, G = r->G;
    const double doc_tok = (double)cfg->sample_tokens + 1;
    const cell_costs cost = {doc_tok, (double)cfg->pretrain_tokens / 1000.0,
                             ((double)cfg->d0_records * (double)cfg->d0_tokens * 3.0) / 1000.0 + 0.001, /* real only */
                             ((double)cfg->n_samples * doc_tok * doc_tok / 6.0 + 4.0 * 256 * doc_tok / 3.0) / 1000.0 + 0.001};
    const alim_runner_options ro = {"E2", progress, cfg->jobs > 0 ? cfg->jobs : 1};
    alim_status st = alim_runner_create(r->rd, &ro, &r->runner, err);
    if (st) return st;
    r->ctl = r->x->real && cfg->control;
    if (r->ctl) {
        r->ctargs = calloc(S * P, sizeof *r->ctargs);
        r->cargs = calloc(S * P * N, sizeof *r->cargs);
        r->ccix = calloc(S * P * N, sizeof *r->ccix);
        if (!r->ctargs || !r->cargs || !r->ccix) return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    }
    r->targs = calloc(S * (1 + 2 * P), sizeof *r->targs);
    r->eargs = calloc(S * G, sizeof *r->eargs);
    r->d0args = calloc(S, sizeof *r->d0args);
    r->cix = calloc(S * (2 + 2 * P + P * N), sizeof *r->cix);
    if (!r->targs || !r->eargs || !r->cix || !r->d0args) return alim_error_set(err, ALIM_ENOMEM, "rebound", "out of memory");
    for (size_t s = 1; s <= S; s++) add_seed_cells(r, s, &cost);
    return ALIM_OK;
}

/* Frees what a run holds, its inputs included. */
static void run_free(rb_run *r)
{
    const size_t P = r->P, N = r->N, S = r->S, G = r->G;
    rb *x = r->x;
    if (r->per)
        for (size_t q = 0; q < S * G; q++) cJSON_Delete(r->per[q]);
    free(r->per);
    if (r->cper)
        for (size_t q = 0; q < S * P * N; q++) cJSON_Delete(r->cper[q]);
    free(r->cper), free(r->csteps), free(r->ctargs), free(r->cargs), free(r->ccix);
    cJSON_Delete(r->summary);
    cJSON_Delete(r->config);
    cJSON_Delete(r->man);
    cJSON_Delete(r->ctl_sum);
    alim_runner_free(r->runner);
    if (r->rd) alim_rundir_close(r->rd);
    free(r->steps), free(r->targs), free(r->eargs), free(r->cix), free(r->d0args);
    alim_corpus_free(&x->pool2);
    alim_corpus_free(&x->pool3);
    for (int k = 0; k < RB_N_TEST; k++) alim_dataset_free(&x->test[k]);
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
    rb_run r = {.cfg = cfg, .x = x, .t_start = t_start, .source = "synthetic", .shares = {NAN, NAN, NAN}, .nb_acc = NAN, .num_params = NAN};
    r.P = cfg->n_pos_count, r.N = cfg->n_neg_count, r.S = cfg->n_seeds, r.G = 1 + r.P * r.N;

    /* 1. the inputs, checked, and the configuration record */
    st = rb_load_inputs(&r, err);
    /* 2. the run directory (another configuration is refused) */
    if (!st) st = alim_rundir_open(cfg->run_dir, "elastic-rebound", r.config, &r.rd, err);
    if (!st) alim_lab_path(cfg->data_dir, "pretrain.txt", r.pre_path, sizeof r.pre_path);
    /* 3. the cell graph, computed where no result.json is */
    if (!st) st = build_cells(&r, progress, err);
    if (!st) st = alim_runner_run(r.runner, err);
    /* 4. the results, read back in a fixed order */
    if (!st) st = rb_read_results(&r, err);
    if (!st) {
        alim_runner_stats rs;
        alim_runner_get_stats(r.runner, &rs);
        res->cells_total = rs.total;
        res->cells_run = rs.run;
        res->cells_reused = rs.reused;
        /* 5. aggregated and written: grid.csv, summary.json (under MPI rank 0's) */
        if (alim_runner_writes(r.runner)) st = rb_write_summary(&r, res, err);
    }
    run_free(&r);
    /* a failed run hands back no partial rows (callers free only what succeeded) */
    if (st) alim_rebound_result_free(res);
    return st;
}

void alim_rebound_result_free(alim_rebound_result *res)
{
    if (!res) return;
    cJSON_Delete(res->summary);
    res->summary = NULL;
    free(res->grid);
    free(res->control_grid);
    res->grid = res->control_grid = NULL;
    free(res->source);
    res->source = NULL;
    alim_rebound_evaluations_free(&res->evaluations);
}
