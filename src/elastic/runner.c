/* runner.c — the one experiment runner (see alim/runner.h).
 *
 * The state of every cell lives in one array guarded by one mutex: pending, running,
 * finished. A worker takes the first pending cell (in the order of alim_runner_add) whose
 * dependencies are finished, computes it outside the lock, then marks it finished and wakes
 * the others. Taking the first ready cell in declaration order keeps a run with jobs = 1
 * exactly the sequential loop the experiments had, and with jobs > 1 it starts the cells
 * an experiment needs first (theta0 before the grids that hang on it).
 *
 * Under MPI (a run directory shared by the ranks of a job, alim_rundir_shared) the ranks
 * know nothing of each other's memory: the file system is the state. A cell is finished when
 * its result.json exists; a rank takes a cell by creating RUN/cells/<cell>/.claim with
 * O_CREAT | O_EXCL (atomic on POSIX and NFSv3+ file systems), so exactly one rank computes
 * it; a rank whose cell fails leaves RUN/cells/<cell>/.failed with the error, which stops the
 * others. Waiting for a cell another rank computes is polling (every 100 ms: a cell takes
 * seconds to hours). Rank 0 removes the claims of an earlier job when it opens the directory
 * (it holds the lock, so they are stale). */
#define _POSIX_C_SOURCE 200809L
#include "alim/runner.h"

#include <errno.h>
#include <fcntl.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alim/dist.h"
#include "alim/io.h"

/* ELSEWHERE: claimed by another rank, not finished yet */
enum { CELL_PENDING, CELL_RUNNING, CELL_FINISHED, CELL_ELSEWHERE };

typedef struct {
    char name[128];
    double cost;
    alim_cell_fn fn;
    void *arg;
    alim_cell_done_fn done;
    size_t *deps, n_deps;
    int state, reused, told;
    double frac; /* of its cost done, while running */
} cell;

struct alim_runner {
    alim_rundir *rd;
    char label[32];
    const alim_progress *outer;
    int jobs, threads;
    int shared, tells; /* a multi-rank job's run directory; this rank tells cells done */
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

/* Tells every finished cell not told yet whose dependencies are told, in declaration order
 * (lock held; one pass suffices: dependencies are earlier cells). */
static alim_status tell_ready_locked(alim_runner *r, alim_error *err)
{
    for (size_t i = 0; i < r->n; i++) {
        cell *c = &r->cells[i];
        if (c->state != CELL_FINISHED || c->told) continue;
        size_t k = 0;
        while (k < c->n_deps && r->cells[c->deps[k]].told) k++;
        if (k < c->n_deps) continue;
        c->told = 1;
        if (!c->done || !r->tells) continue;
        alim_error e = {0};
        cJSON *res = alim_rundir_cell_result(r->rd, c->name, &e);
        if (!res) {
            if (!e.status) alim_error_set(&e, ALIM_EIO, c->name, "result unreadable");
            *err = e;
            return e.status;
        }
        c->done(c->arg, c->name, res, c->reused);
        cJSON_Delete(res);
    }
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

/* ---- claims: cells shared by the ranks of a job ---------------------------------------------- */

static void mark_path(const alim_runner *r, const cell *c, const char *mark, char *buf, size_t n)
{
    snprintf(buf, n, "%s/cells/%s/%s", alim_rundir_path(r->rd), c->name, mark);
}

/* 1: this rank took the cell; 0: another rank has it; error status otherwise */
static int claim(alim_runner *r, const cell *c, alim_error *err)
{
    char dir[4096], p[4400];
    if (alim_rundir_cell_dir(r->rd, c->name, dir, sizeof dir, err)) return -1;
    mark_path(r, c, ALIM_RUNDIR_CLAIM, p, sizeof p);
    const int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        if (errno == EEXIST) return 0;
        alim_error_set(err, ALIM_EIO, p, "cannot claim the cell: %s", strerror(errno));
        return -1;
    }
    char line[96];
    const int n = snprintf(line, sizeof line, "rank %d pid %ld\n", alim_dist_rank(), (long)getpid());
    const ssize_t w = write(fd, line, (size_t)n);
    (void)w; /* the claim is the file's existence; its text is for people */
    close(fd);
    return 1;
}

static void unclaim(const alim_runner *r, const cell *c)
{
    char p[4400];
    mark_path(r, c, ALIM_RUNDIR_CLAIM, p, sizeof p);
    unlink(p);
}

/* leaves the error where the other ranks look */
static void mark_failed(const alim_runner *r, const cell *c, const alim_error *e)
{
    char p[4400], text[ALIM_ERROR_WHERE_MAX + ALIM_ERROR_WHAT_MAX + 8];
    mark_path(r, c, ALIM_RUNDIR_FAILED, p, sizeof p);
    const int n = snprintf(text, sizeof text, "%s: %s\n", e->where, e->what);
    alim_error ignored = {0};
    alim_file_write_atomic(p, text, (size_t)n, &ignored);
}

/* cells other ranks finished, or failed (lock held) */
static alim_status refresh_locked(alim_runner *r, alim_error *err)
{
    for (size_t i = 0; i < r->n; i++) {
        cell *c = &r->cells[i];
        if (c->state != CELL_PENDING && c->state != CELL_ELSEWHERE) continue;
        if (alim_rundir_cell_done(r->rd, c->name)) {
            c->state = CELL_FINISHED;
            r->done_cost += c->cost;
            r->stats.run++;
            continue;
        }
        char p[4400];
        mark_path(r, c, ALIM_RUNDIR_FAILED, p, sizeof p);
        char *text = NULL;
        size_t len = 0;
        alim_error ignored = {0};
        if (alim_file_read_all(p, &text, &len, &ignored) == ALIM_OK) {
            while (len && (text[len - 1] == '\n')) text[--len] = '\0';
            alim_status st = alim_error_set(err, ALIM_EINVAL, c->name, "failed on another rank: %s", text);
            free(text);
            return st;
        }
    }
    return ALIM_OK;
}

/* ---- the workers ---------------------------------------------------------------------------- */

/* the first pending cell whose dependencies are finished, from index `from`, or n (lock held) */
static size_t next_ready_locked(const alim_runner *r, size_t from)
{
    for (size_t i = from; i < r->n; i++) {
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

static void wait_locked(alim_runner *r, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&r->cv, &r->mu, &ts);
}

static void *worker(void *arg)
{
    alim_runner *r = arg;
    /* a cell's bits depend on its OpenMP thread count: the caller's, in every worker */
    omp_set_num_threads(r->threads);
    pthread_mutex_lock(&r->mu);
    for (;;) {
        if (r->failed) break;
        alim_error e = {0};
        alim_status st = r->shared ? refresh_locked(r, &e) : ALIM_OK;
        if (!st) st = tell_ready_locked(r, &e);
        if (st) {
            fail_locked(r, &e);
            break;
        }
        size_t i = next_ready_locked(r, 0);
        /* shared: take the first ready cell no other rank has */
        while (r->shared && i < r->n) {
            const int got = claim(r, &r->cells[i], &e);
            if (got < 0) break;
            if (got && !alim_rundir_cell_done(r->rd, r->cells[i].name)) break; /* ours */
            if (got) unclaim(r, &r->cells[i]); /* finished between the look and the claim: refresh sees it */
            else r->cells[i].state = CELL_ELSEWHERE;
            i = next_ready_locked(r, i + 1);
        }
        if (e.status) {
            fail_locked(r, &e);
            break;
        }
        if (i == r->n) {
            size_t open_cells = 0, running = 0;
            for (size_t k = 0; k < r->n; k++) {
                open_cells += r->cells[k].state != CELL_FINISHED;
                running += r->cells[k].state == CELL_RUNNING;
            }
            if (!open_cells) break;
            if (!running && !r->shared) { /* cannot happen: dependencies are earlier cells */
                alim_error_set(&e, ALIM_EINTERNAL, "runner", "cells wait for each other");
                fail_locked(r, &e);
                break;
            }
            if (r->shared) wait_locked(r, 100); /* other ranks' cells show on the file system */
            else pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        r->cells[i].state = CELL_RUNNING;
        r->cells[i].frac = 0;
        const size_t ordinal = ++r->seen;
        pthread_mutex_unlock(&r->mu);
        st = compute(r, i, ordinal, &e);
        if (st && r->shared) mark_failed(r, &r->cells[i], &e);
        if (r->shared) unclaim(r, &r->cells[i]);
        pthread_mutex_lock(&r->mu);
        r->cells[i].state = st ? CELL_PENDING : CELL_FINISHED;
        if (!st) {
            r->done_cost += r->cells[i].cost;
            r->stats.run++;
            r->stats.here++;
            st = tell_ready_locked(r, &e);
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
    r->shared = r->rd && alim_rundir_shared(r->rd);
    r->tells = !r->shared || alim_dist_rank() == 0; /* one rank's notes, not one per rank */
    for (size_t i = 0; i < r->n; i++) {
        cell *c = &r->cells[i];
        c->reused = alim_rundir_cell_done(r->rd, c->name);
        if (!c->reused) r->total_cost += c->cost;
    }
    if (r->jobs == 1 && !r->shared) {
        /* in the calling thread, in order: finished cells are told as they come */
        for (size_t i = 0; i < r->n; i++) {
            cell *c = &r->cells[i];
            alim_status st;
            r->seen++;
            if (c->reused) {
                r->stats.reused++;
                c->state = CELL_FINISHED;
                if ((st = tell_ready_locked(r, err))) return st;
                continue;
            }
            c->state = CELL_RUNNING;
            if ((st = compute(r, i, r->seen, err))) return st;
            c->state = CELL_FINISHED;
            r->done_cost += c->cost;
            r->stats.run++;
            r->stats.here++;
            if ((st = tell_ready_locked(r, err))) return st;
        }
        return ALIM_OK;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->cells[i].reused) {
            r->cells[i].state = CELL_FINISHED;
            r->stats.reused++;
            r->seen++;
        }
    alim_status st = tell_ready_locked(r, err);
    /* every rank has seen which cells were finished before any rank starts one */
    if (r->shared) st = alim_dist_agree(st, err); /* collective: also the barrier */
    if (st) return st;
    pthread_t *tids = calloc((size_t)r->jobs, sizeof *tids);
    if (!tids) st = alim_error_set(err, ALIM_ENOMEM, "runner", "out of memory");
    int started = 0;
    for (int j = 1; !st && j < r->jobs; j++) {
        if (pthread_create(&tids[j], NULL, worker, r) != 0) break;
        started++;
    }
    if (!st) worker(r); /* the calling thread is a worker too */
    for (int j = 1; j <= started; j++) pthread_join(tids[j], NULL);
    free(tids);
    if (!st && r->failed) {
        *err = r->first_err;
        st = err->status ? err->status : ALIM_EINTERNAL;
    }
    /* the ranks leave together, with the first failure of any */
    if (r->shared) st = alim_dist_agree(st, err);
    return st;
}

int alim_runner_writes(const alim_runner *r) { return !r->shared || alim_dist_rank() == 0; }

cJSON *alim_runner_result(const alim_runner *r, size_t i, alim_error *err)
{
    if (i >= r->n) {
        alim_error_set(err, ALIM_EINTERNAL, "runner", "no cell %zu", i);
        return NULL;
    }
    alim_error e = {0}; /* the caller's record may hold anything until an error is set */
    cJSON *res = alim_rundir_cell_result(r->rd, r->cells[i].name, &e);
    if (!res) {
        if (!e.status) alim_error_set(&e, ALIM_EIO, r->cells[i].name, "result unreadable");
        *err = e;
    }
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
