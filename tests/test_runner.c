/* test_runner.c — the experiment runner (alim/runner.h): dependency order, side-by-side
 * cells, reuse of finished cells, failures; and E2 and E1 give the same summary with the
 * cells run one at a time or side by side. */
#define _POSIX_C_SOURCE 200809L
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alim/datadir.h"
#include "alim/rebound.h"
#include "alim/resist.h"
#include "alim/rundir.h"
#include "alim/runner.h"
#include "alim/scale.h"
#include "check.h"
#include "lab_fixture.h"

/* ---- a toy experiment: cells that record when they ran ------------------------------------ */

enum { NC = 9 };

typedef struct {
    pthread_mutex_t mu;
    int clock;                 /* events so far */
    int start[NC], end[NC];    /* event numbers; 0 = never */
    int running, max_running;
    int calls[NC];
    int told[NC], told_order[NC], n_told;
    int fail_cell;             /* this cell's function fails (-1: none) */
    int threads_seen[NC];
    int bad_result;            /* a done callback got another cell's result */
} toy;

typedef struct {
    toy *t;
    int id;
} toy_arg;

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

static alim_status toy_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    toy_arg *a = arg;
    toy *t = a->t;
    pthread_mutex_lock(&t->mu);
    t->start[a->id] = ++t->clock;
    t->calls[a->id]++;
    t->running++;
    if (t->running > t->max_running) t->max_running = t->running;
    t->threads_seen[a->id] = omp_get_max_threads();
    pthread_mutex_unlock(&t->mu);
    alim_progress_report(env->progress, "working, step", 1, 2);
    sleep_ms(30);
    pthread_mutex_lock(&t->mu);
    t->running--;
    t->end[a->id] = ++t->clock;
    pthread_mutex_unlock(&t->mu);
    if (a->id == t->fail_cell) return alim_error_set(err, ALIM_EINVAL, env->name, "toy failure");
    alim_runner_count_training(env, 100, 0.5);
    *result = cJSON_CreateObject();
    cJSON_AddNumberToObject(*result, "id", a->id);
    return ALIM_OK;
}

static void toy_done(void *arg, const char *name, const cJSON *result, int reused)
{
    toy_arg *a = arg;
    (void)name, (void)reused;
    /* serialised by the runner: no lock needed, but the test's own counters are shared */
    a->t->told[a->id]++;
    a->t->told_order[a->t->n_told++] = a->id;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(result, "id");
    if (!cJSON_IsNumber(id) || id->valueint != a->id) a->t->bad_result = 1;
}

/* the graph: 0 -> {1, 2}; 1 -> 3; 2 -> 4; {3, 4} -> 5; 6 alone; 7 -> 8 */
static const int DEPS[NC][2] = {{-1, -1}, {0, -1}, {0, -1}, {1, -1}, {2, -1}, {3, 4}, {-1, -1}, {-1, -1}, {7, -1}};

static alim_status toy_run(const char *dir, int jobs, toy *t, toy_arg *args, alim_runner_stats *stats, alim_error *err)
{
    cJSON *cfg = cJSON_CreateObject();
    cJSON_AddStringToObject(cfg, "what", "toy");
    alim_rundir *rd = NULL;
    alim_status st = alim_rundir_open(dir, "toy", cfg, &rd, err);
    cJSON_Delete(cfg);
    if (st) return st;
    alim_runner *r = NULL;
    const alim_runner_options o = {"T", NULL, jobs};
    st = alim_runner_create(rd, &o, &r, err);
    size_t ix[NC];
    for (int i = 0; i < NC && !st; i++) {
        args[i] = (toy_arg){t, i};
        size_t deps[2], n = 0;
        for (int k = 0; k < 2; k++)
            if (DEPS[i][k] >= 0) deps[n++] = ix[DEPS[i][k]];
        char name[16];
        snprintf(name, sizeof name, "c%d", i);
        ix[i] = alim_runner_add(r, name, 1.0 + i, toy_cell, &args[i], toy_done, deps, n);
    }
    if (!st) st = alim_runner_run(r, err);
    if (r && stats) alim_runner_get_stats(r, stats);
    if (!st) {
        cJSON *res = alim_runner_result(r, ix[5], err);
        CHECK(res && cJSON_GetObjectItemCaseSensitive(res, "id")->valueint == 5, "result of cell 5 read back");
        cJSON_Delete(res);
    }
    alim_runner_free(r);
    alim_rundir_close(rd);
    return st;
}

static void toy_reset(toy *t, int fail)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    t->fail_cell = fail;
}

static int deps_respected(const toy *t)
{
    for (int i = 0; i < NC; i++)
        for (int k = 0; k < 2; k++) {
            const int d = DEPS[i][k];
            if (d >= 0 && t->start[i] && !(t->end[d] && t->end[d] < t->start[i])) return 0;
        }
    return 1;
}

static int told_after_deps(const toy *t)
{
    int pos[NC];
    for (int i = 0; i < NC; i++) pos[i] = -1;
    for (int k = 0; k < t->n_told; k++) pos[t->told_order[k]] = k;
    for (int i = 0; i < NC; i++)
        for (int k = 0; k < 2; k++)
            if (DEPS[i][k] >= 0 && pos[i] >= 0 && !(pos[DEPS[i][k]] >= 0 && pos[DEPS[i][k]] < pos[i])) return 0;
    return 1;
}

static void test_toy(const char *root)
{
    toy t;
    toy_arg args[NC];
    alim_error err;
    alim_runner_stats s;
    char dir[300];
    omp_set_num_threads(2);

    /* one at a time: in the order of declaration, nothing side by side */
    snprintf(dir, sizeof dir, "%s/toy1", root);
    toy_reset(&t, -1);
    alim_error_clear(&err);
    CHECK(toy_run(dir, 1, &t, args, &s, &err) == ALIM_OK, "jobs 1: %s", err.what);
    int in_order = 1;
    for (int i = 0; i < NC; i++) in_order &= t.start[i] == 2 * i + 1 && t.told_order[i] == i;
    CHECK(in_order && t.max_running == 1, "jobs 1: cells run and are told in declaration order, one at a time");
    CHECK(!t.bad_result, "jobs 1: every done callback gets its cell's result");
    CHECK(s.total == NC && s.run == NC && s.reused == 0 && s.train_tokens == 100.0 * NC && s.train_s == 0.5 * NC,
          "jobs 1: stats %zu/%zu/%zu, %g tokens", s.total, s.run, s.reused, s.train_tokens);

    /* three side by side: every cell once, dependencies first, really concurrent */
    snprintf(dir, sizeof dir, "%s/toy3", root);
    toy_reset(&t, -1);
    alim_error_clear(&err);
    CHECK(toy_run(dir, 3, &t, args, &s, &err) == ALIM_OK, "jobs 3: %s", err.what);
    int once = 1, told_once = 1, threads = 1;
    for (int i = 0; i < NC; i++) once &= t.calls[i] == 1, told_once &= t.told[i] == 1, threads &= t.threads_seen[i] == 2;
    CHECK(once && told_once && !t.bad_result, "jobs 3: every cell computed and told once, with its result");
    CHECK(deps_respected(&t), "jobs 3: a cell starts after its dependencies ended");
    CHECK(told_after_deps(&t), "jobs 3: a cell is told after its dependencies");
    CHECK(t.max_running >= 2 && t.max_running <= 3, "jobs 3: cells ran side by side (at most %d at once)", t.max_running);
    CHECK(threads, "jobs 3: every worker runs with the caller's OpenMP thread count");
    CHECK(s.run == NC && s.train_tokens == 100.0 * NC, "jobs 3: training counted from every worker (%g)", s.train_tokens);

    /* again: everything reused, nothing computed, all told (as reused) */
    toy_reset(&t, -1);
    alim_error_clear(&err);
    CHECK(toy_run(dir, 3, &t, args, &s, &err) == ALIM_OK, "jobs 3 again: %s", err.what);
    int none = 1, all_told = 1;
    for (int i = 0; i < NC; i++) none &= t.calls[i] == 0, all_told &= t.told[i] == 1;
    CHECK(none && all_told && s.reused == NC && s.run == 0, "a second run reuses every cell (%zu reused)", s.reused);

    /* a failure: the error comes back, the failed cell's dependants never start, finished
     * cells are kept and a re-run computes only what is missing */
    snprintf(dir, sizeof dir, "%s/toyfail", root);
    toy_reset(&t, 3);
    alim_error_clear(&err);
    CHECK(toy_run(dir, 2, &t, args, NULL, &err) == ALIM_EINVAL && !strcmp(err.where, "c3") && strstr(err.what, "toy failure"),
          "a failing cell's error is returned: %s: %s", err.where, err.what);
    CHECK(t.calls[5] == 0, "the failed cell's dependant did not run");
    int kept = 0;
    for (int i = 0; i < NC; i++) kept += t.end[i] != 0 && i != 3;
    toy_reset(&t, -1);
    alim_error_clear(&err);
    CHECK(toy_run(dir, 2, &t, args, &s, &err) == ALIM_OK, "re-run after the failure: %s", err.what);
    CHECK(s.reused == (size_t)kept && s.run == NC - (size_t)kept && t.calls[3] == 1 && t.calls[5] == 1,
          "the re-run computes only the missing cells (%zu reused, %zu run; %d finished before)", s.reused, s.run, kept);

    /* jobs must be >= 1; a dependency on a later cell is refused */
    alim_runner *r = NULL;
    const alim_runner_options bad = {"T", NULL, 0};
    alim_error_clear(&err);
    CHECK(alim_runner_create(NULL, &bad, &r, &err) == ALIM_EINVAL && !r, "jobs 0 refused: %s", err.what);
    cJSON *cfg = cJSON_CreateObject();
    alim_rundir *rd = NULL;
    snprintf(dir, sizeof dir, "%s/toybad", root);
    alim_error_clear(&err);
    CHECK(alim_rundir_open(dir, "toy", cfg, &rd, &err) == ALIM_OK, "open: %s", err.what);
    const alim_runner_options ok = {"T", NULL, 1};
    CHECK(alim_runner_create(rd, &ok, &r, &err) == ALIM_OK, "create");
    const size_t later = 5;
    CHECK(alim_runner_add(r, "x", 1, toy_cell, &args[0], NULL, &later, 1) == (size_t)-1, "a dependency on a later cell is refused");
    CHECK(alim_runner_run(r, &err) == ALIM_EINTERNAL, "and the run then fails: %s", err.what);
    alim_runner_free(r);
    alim_rundir_close(rd);
    cJSON_Delete(cfg);
}

/* ---- the experiments: side by side gives the same summary ---------------------------------- */

/* removes the keys that measure time from a summary */
static void strip_times(cJSON *o)
{
    static const char *const keys[] = {"wall_s", "train_tokens_per_s", "tokens_per_s", "elapsed_s", "sampled_tokens_per_s", "run_dir"};
    if (cJSON_IsObject(o))
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) cJSON_DeleteItemFromObjectCaseSensitive(o, keys[k]);
    cJSON *c;
    cJSON_ArrayForEach(c, o) strip_times(c);
}

static int same_summary(const cJSON *a, const cJSON *b)
{
    cJSON *x = cJSON_Duplicate(a, 1), *y = cJSON_Duplicate(b, 1);
    strip_times(x), strip_times(y);
    char *sx = alim_json_canonical(x), *sy = alim_json_canonical(y);
    const int same = sx && sy && !strcmp(sx, sy);
    free(sx), free(sy);
    cJSON_Delete(x), cJSON_Delete(y);
    return same;
}

static int read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char buf[1 << 20];
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    *out = strdup(buf);
    return *out != NULL;
}

static void test_experiments(const char *root)
{
    alim_error err;
    alim_error_clear(&err);
    char data[256];
    snprintf(data, sizeof data, "%s/data", root);
    CHECK(lab_fixture_synthetic(data, 8192, 60, &err) == ALIM_OK, "data: %s", err.what);
    omp_set_num_threads(1);

    /* E2 */
    alim_rebound_config c;
    alim_rebound_config_quick(&c);
    c.data_dir = data;
    c.n_seeds = 2;
    c.n_layer = 1, c.n_embd = 8, c.n_head = 2, c.context = 16;
    c.pretrain_tokens = 2048;
    c.pretrain_batch = 4;
    c.sample_tokens = 16;
    c.n_samples = 4;
    c.n_pos_count = 2, c.n_pos[0] = 5, c.n_pos[1] = 10;
    c.n_neg_count = 3, c.n_neg[0] = 0, c.n_neg[1] = 4, c.n_neg[2] = 8;
    alim_rebound_result r[3];
    const int jobs[3] = {1, 2, 3};
    char run[3][256], grid[3][1100], *gt[3] = {0};
    for (int k = 0; k < 3; k++) {
        snprintf(run[k], sizeof run[k], "%s/e2-jobs%d", root, jobs[k]);
        c.run_dir = run[k];
        c.jobs = jobs[k];
        alim_error_clear(&err);
        CHECK(alim_rebound_run(&c, NULL, NULL, NULL, &r[k], &err) == ALIM_OK, "E2 with %d jobs: %s", jobs[k], err.what);
        snprintf(grid[k], sizeof grid[k], "%s/grid.csv", run[k]);
        CHECK(read_file(grid[k], &gt[k]), "E2 grid.csv of %d jobs", jobs[k]);
    }
    CHECK(r[0].cells_run == 2 * (2 + 2 * 2 + 2 * 3) && r[1].cells_run == r[0].cells_run, "E2: %zu cells", r[0].cells_run);
    for (int k = 1; k < 3; k++) {
        CHECK(r[0].summary && r[k].summary && same_summary(r[0].summary, r[k].summary), "E2: %d jobs give the summary of one", jobs[k]);
        CHECK(gt[0] && gt[k] && !strcmp(gt[0], gt[k]), "E2: %d jobs give grid.csv of one byte for byte", jobs[k]);
    }
    CHECK(!strcmp(r[0].criteria.verdict, r[2].criteria.verdict), "E2: same verdict");
    for (int k = 0; k < 3; k++) alim_rebound_result_free(&r[k]), free(gt[k]);

    /* E1 */
    alim_resist_config e;
    lab_fixture_tiny_resist(&e, data);
    alim_resist_result q[2];
    for (int k = 0; k < 2; k++) {
        snprintf(run[k], sizeof run[k], "%s/e1-jobs%d", root, jobs[k]);
        e.run_dir = run[k];
        e.jobs = jobs[k];
        alim_error_clear(&err);
        CHECK(alim_resist_run(&e, NULL, NULL, NULL, &q[k], &err) == ALIM_OK, "E1 with %d jobs: %s", jobs[k], err.what);
        snprintf(grid[k], sizeof grid[k], "%s/summary.csv", run[k]);
        CHECK(read_file(grid[k], &gt[k]), "E1 summary.csv of %d jobs", jobs[k]);
    }
    CHECK(q[0].summary && q[1].summary && same_summary(q[0].summary, q[1].summary), "E1: 2 jobs give the summary of one");
    CHECK(gt[0] && gt[1] && !strcmp(gt[0], gt[1]), "E1: 2 jobs give summary.csv of one byte for byte");
    for (int k = 0; k < 2; k++) alim_resist_result_free(&q[k]), free(gt[k]);

    /* E3: sub-runs and the budget pretraining of both seeds side by side */
    alim_scale_config sc;
    alim_scale_config_quick(&sc);
    sc.data_dir = data;
    alim_scale_result z[2];
    for (int k = 0; k < 2; k++) {
        snprintf(run[k], sizeof run[k], "%s/e3-jobs%d", root, jobs[k]);
        sc.run_dir = run[k];
        sc.jobs = jobs[k];
        alim_error_clear(&err);
        CHECK(alim_scale_run(&sc, NULL, NULL, NULL, &z[k], &err) == ALIM_OK, "E3 with %d jobs: %s", jobs[k], err.what);
        snprintf(grid[k], sizeof grid[k], "%s/scale.csv", run[k]);
        CHECK(read_file(grid[k], &gt[k]), "E3 scale.csv of %d jobs", jobs[k]);
    }
    CHECK(z[0].summary && z[1].summary && same_summary(z[0].summary, z[1].summary), "E3: 2 jobs give the summary of one");
    CHECK(gt[0] && gt[1] && !strcmp(gt[0], gt[1]), "E3: 2 jobs give scale.csv of one byte for byte");
    for (int k = 0; k < 2; k++) alim_scale_result_free(&z[k]), free(gt[k]);
}

int main(int argc, char **argv)
{
    (void)argc;
    char root[] = "/tmp/alim-test-runner-XXXXXX";
    if (!mkdtemp(root)) {
        CHECK(0, "mkdtemp");
        return check_summary(argv[0]);
    }
    test_toy(root);
    test_experiments(root);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0, "clean up");
    return check_summary(argv[0]);
}
