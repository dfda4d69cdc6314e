/* runner.c — the one experiment runner (see alim/runner.h).
 *
 * The state of every cell lives in one array guarded by one mutex: pending, running,
 * finished. A worker takes the first pending cell (in the order of alim_runner_add) whose
 * dependencies are finished, computes it outside the lock, then marks it finished and wakes
 * the others. Taking the first ready cell in declaration order keeps a run with jobs = 1
 * exactly the sequential loop the experiments had, and with jobs > 1 it starts the cells
 * an experiment needs first (theta0 before the grids that hang on it). */
#define _POSIX_C_SOURCE 200809L
#include "alim/runner.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CELL_PENDING, CELL_RUNNING, CELL_FINISHED };

typedef struct {
    char name[128];
    double cost;
    alim_cell_fn fn;
    void *arg;
    alim_cell_done_fn done;
    size_t *deps, n_deps;
    int state, reused;
    double frac; /* of its cost done, while running */
} cell;

struct alim_runner {
    alim_rundir *rd;
    char label[32];
    const alim_progress *outer;
    int jobs, threads;
    cell *cells;
    size_t n, cap;
    int bad_add;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t seen;             /* cells started or found finished: the [k/total] of the label */
    double done_cost, total_cost;
    int failed;
    alim_error first_err;
    alim_runner_stats stats;
};

/* the per-cell progress adapter: the cell's done/total -> the experiment's */
typedef struct {
    alim_runner *r;
    size_t i;
    char label[192];
} cell_progress;

alim_status alim_runner_create(alim_rundir *rd, const alim_runner_options *o, alim_runner **out, alim_error *err)
{
    *out = NULL;
    if (o->jobs < 1) return alim_error_set(err, ALIM_EINVAL, "jobs", "must be at least 1 (got %d)", o->jobs);
    alim_runner *r = calloc(1, sizeof *r);
    if (!r) return alim_error_set(err, ALIM_ENOMEM, "runner", "out of memory");
    r->rd = rd;
    snprintf(r->label, sizeof r->label, "%s", o->label ? o->label : "");
    r->outer = o->progress;
    r->jobs = o->jobs;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    *out = r;
    return ALIM_OK;
}

size_t alim_runner_add(alim_runner *r, const char *name, double cost, alim_cell_fn fn, void *arg, alim_cell_done_fn done,
                       const size_t *deps, size_t n_deps)
{
    for (size_t k = 0; k < n_deps; k++)
        if (deps[k] >= r->n) {
            r->bad_add = 1;
            return (size_t)-1;
        }
    if (r->n == r->cap) {
        const size_t cap = r->cap ? 2 * r->cap : 64;
        cell *c = realloc(r->cells, cap * sizeof *c);
        if (!c) {
            r->bad_add = 1;
            return (size_t)-1;
        }
        r->cells = c;
        r->cap = cap;
    }
    cell *c = &r->cells[r->n];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->cost = cost;
    c->fn = fn;
    c->arg = arg;
    c->done = done;
    if (n_deps) {
        c->deps = malloc(n_deps * sizeof *c->deps);
        if (!c->deps) {
            r->bad_add = 1;
            return (size_t)-1;
        }
        memcpy(c->deps, deps, n_deps * sizeof *deps);
        c->n_deps = n_deps;
    }
    return r->n++;
}

/* the experiment's progress: finished cells plus the running ones' fractions (lock held) */
static int report_locked(alim_runner *r, const char *label, const char *stage)
{
    double done = r->done_cost;
    for (size_t i = 0; i < r->n; i++)
        if (r->cells[i].state == CELL_RUNNING) done += r->cells[i].frac * r->cells[i].cost;
    char s[320];
    size_t sl = strlen(stage);
    /* the training loop's stage ends in ", step": drop it */
    if (sl >= 6 && !strcmp(stage + sl - 6, ", step")) sl -= 6;
    snprintf(s, sizeof s, "%s %s (%.*s), kilo-token units", r->label, label, (int)sl, stage);
    return alim_progress_report(r->outer, s, done, r->total_cost);
}

static int cell_progress_fn(void *ctx, const char *stage, double done, double total)
{
    cell_progress *cp = ctx;
    alim_runner *r = cp->r;
    pthread_mutex_lock(&r->mu);
    r->cells[cp->i].frac = total > 0 ? done / total : 0;
    const int rc = report_locked(r, cp->label, stage);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* the done callback with the cell's stored result (lock held) */
static alim_status tell_done_locked(alim_runner *r, size_t i, alim_error *err)
{
    cell *c = &r->cells[i];
    if (!c->done) return ALIM_OK;
    cJSON *res = alim_rundir_cell_result(r->rd, c->name, err);
    if (!res) return err->status ? err->status : alim_error_set(err, ALIM_EIO, c->name, "result unreadable");
    c->done(c->arg, c->name, res, c->reused);
    cJSON_Delete(res);
    return ALIM_OK;
}

/* computes cell i (lock not held; its state is RUNNING and its label number taken) */
static alim_status compute(alim_runner *r, size_t i, size_t ordinal, alim_error *err)
{
    cell *c = &r->cells[i];
    char dir[4096];
    alim_status st = alim_rundir_cell_dir(r->rd, c->name, dir, sizeof dir, err);
    if (st) return st;
    cell_progress cp = {r, i, {0}};
    snprintf(cp.label, sizeof cp.label, "%s [%zu/%zu]", c->name, ordinal, r->n);
    const alim_progress pg = {cell_progress_fn, &cp};
    const alim_cell_env env = {c->name, dir, &pg, r};
    cJSON *res = NULL;
    st = c->fn(c->arg, &env, &res, err);
    if (!st && !res) st = alim_error_set(err, ALIM_EINTERNAL, c->name, "the cell gave no result");
    if (!st) st = alim_rundir_cell_finish(r->rd, c->name, res, err);
    cJSON_Delete(res);
    return st;
}

/* the first pending cell whose dependencies are finished, or n (lock held) */
static size_t next_ready_locked(const alim_runner *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const cell *c = &r->cells[i];
        if (c->state != CELL_PENDING) continue;
        size_t k = 0;
        while (k < c->n_deps && r->cells[c->deps[k]].state == CELL_FINISHED) k++;
        if (k == c->n_deps) return i;
    }
    return r->n;
}

static void fail_locked(alim_runner *r, const alim_error *e)
{
    if (!r->failed) r->first_err = *e;
    r->failed = 1;
}

static void *worker(void *arg)
{
    alim_runner *r = arg;
    /* a cell's bits depend on its OpenMP thread count: the caller's, in every worker */
    omp_set_num_threads(r->threads);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (r->failed) break;
        const size_t i = next_ready_locked(r);
        if (i == r->n) {
            size_t pending = 0, running = 0;
            for (size_t k = 0; k < r->n; k++) {
                pending += r->cells[k].state == CELL_PENDING;
                running += r->cells[k].state == CELL_RUNNING;
            }
            if (!pending) break;
            if (!running) { /* cannot happen: dependencies are earlier cells */
                alim_error e = {0};
                alim_error_set(&e, ALIM_EINTERNAL, "runner", "cells wait for each other");
                fail_locked(r, &e);
                break;
            }
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        r->cells[i].state = CELL_RUNNING;
        r->cells[i].frac = 0;
        const size_t ordinal = ++r->seen;
        pthread_mutex_unlock(&r->mu);
        alim_error e = {0};
        alim_status st = compute(r, i, ordinal, &e);
        pthread_mutex_lock(&r->mu);
        r->cells[i].state = st ? CELL_PENDING : CELL_FINISHED;
        if (!st) {
            r->done_cost += r->cells[i].cost;
            r->stats.run++;
            st = tell_done_locked(r, i, &e);
        }
        if (st) fail_locked(r, &e);
        pthread_cond_broadcast(&r->cv);
    }
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

alim_status alim_runner_run(alim_runner *r, alim_error *err)
{
    if (r->bad_add) return alim_error_set(err, ALIM_EINTERNAL, "runner", "a cell could not be added (out of memory or a dependency that is not an earlier cell)");
    r->stats.total = r->n;
    r->threads = omp_get_max_threads();
    for (size_t i = 0; i < r->n; i++) {
        cell *c = &r->cells[i];
        c->reused = alim_rundir_cell_done(r->rd, c->name);
        if (!c->reused) r->total_cost += c->cost;
    }
    if (r->jobs == 1) {
        /* in the calling thread, in order: finished cells are told as they come */
        for (size_t i = 0; i < r->n; i++) {
            cell *c = &r->cells[i];
            alim_status st;
            r->seen++;
            if (c->reused) {
                r->stats.reused++;
                c->state = CELL_FINISHED;
                if ((st = tell_done_locked(r, i, err))) return st;
                continue;
            }
            c->state = CELL_RUNNING;
            if ((st = compute(r, i, r->seen, err))) return st;
            c->state = CELL_FINISHED;
            r->done_cost += c->cost;
            r->stats.run++;
            if ((st = tell_done_locked(r, i, err))) return st;
        }
        return ALIM_OK;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->cells[i].reused) {
            r->cells[i].state = CELL_FINISHED;
            r->stats.reused++;
            r->seen++;
            alim_status st = tell_done_locked(r, i, err);
            if (st) return st;
        }
    pthread_t *tids = calloc((size_t)r->jobs, sizeof *tids);
    if (!tids) return alim_error_set(err, ALIM_ENOMEM, "runner", "out of memory");
    int started = 0;
    for (int j = 1; j < r->jobs; j++) {
        if (pthread_create(&tids[j], NULL, worker, r) != 0) break;
        started++;
    }
    worker(r); /* the calling thread is a worker too */
    for (int j = 1; j <= started; j++) pthread_join(tids[j], NULL);
    free(tids);
    if (r->failed) {
        *err = r->first_err;
        return err->status ? err->status : ALIM_EINTERNAL;
    }
    return ALIM_OK;
}

cJSON *alim_runner_result(const alim_runner *r, size_t i, alim_error *err)
{
    if (i >= r->n) {
        alim_error_set(err, ALIM_EINTERNAL, "runner", "no cell %zu", i);
        return NULL;
    }
    cJSON *res = alim_rundir_cell_result(r->rd, r->cells[i].name, err);
    if (!res && !err->status) alim_error_set(err, ALIM_EIO, r->cells[i].name, "result unreadable");
    return res;
}

int alim_runner_reused(const alim_runner *r, size_t i) { return i < r->n && r->cells[i].reused; }

void alim_runner_count_training(const alim_cell_env *env, double tokens, double seconds)
{
    alim_runner *r = env->runner;
    pthread_mutex_lock(&r->mu);
    r->stats.train_tokens += tokens;
    r->stats.train_s += seconds;
    pthread_mutex_unlock(&r->mu);
}

void alim_runner_get_stats(const alim_runner *r, alim_runner_stats *s) { *s = r->stats; }

void alim_runner_free(alim_runner *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) free(r->cells[i].deps);
    free(r->cells);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}
