/* rundir.c — resumable run directories (see alim/rundir.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/rundir.h"

#include <dirent.h>
#include <unistd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alim/dist.h"
#include "alim/io.h"

struct alim_rundir {
    char *dir;
    alim_dir_lock *lock; /* held from open to close: one writer per run directory (rank 0's, for all ranks) */
    int shared;          /* the ranks of a multi-rank job work in it together */
};

/* The key cell_finish adds to a result: the hash of the rest, so that a result.json that was
 * edited, truncated by hand or replaced ("hello") is not taken for a finished cell. */
static const char RESULT_HASH_KEY[] = "alim_result_hash";

/* ---- canonical JSON ------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} buf_t;

static void put(buf_t *b, const char *t, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 256) + n;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, t, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static int cmp_keys(const void *a, const void *b)
{
    const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;
    return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

static void canon(buf_t *b, const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        size_t n = 0;
        for (const cJSON *c = v->child; c; c = c->next) n++;
        const cJSON **kids = malloc((n ? n : 1) * sizeof *kids);
        if (!kids) {
            b->oom = 1;
            return;
        }
        n = 0;
        for (const cJSON *c = v->child; c; c = c->next) kids[n++] = c;
        qsort(kids, n, sizeof *kids, cmp_keys);
        put(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i) put(b, ",", 1);
            cJSON *k = cJSON_CreateString(kids[i]->string ? kids[i]->string : "");
            char *ks = k ? cJSON_PrintUnformatted(k) : NULL;
            if (ks) put(b, ks, strlen(ks));
            else b->oom = 1;
            free(ks);
            cJSON_Delete(k);
            put(b, ":", 1);
            canon(b, kids[i]);
        }
        put(b, "}", 1);
        free(kids);
    } else if (cJSON_IsArray(v)) {
        put(b, "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (c != v->child) put(b, ",", 1);
            canon(b, c);
        }
        put(b, "]", 1);
    } else {
        char *s = alim_json_print(v, 0); /* non-finite numbers as the files hold them */
        if (s) put(b, s, strlen(s));
        else b->oom = 1;
        free(s);
    }
}

char *alim_json_canonical(const cJSON *v)
{
    buf_t b = {0};
    canon(&b, v);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

void alim_json_hash(const cJSON *v, char out[17])
{
    char *s = alim_json_canonical(v);
    uint64_t h = 1469598103934665603ULL;
    for (const char *c = s ? s : ""; *c; c++) h = (h ^ (unsigned char)*c) * 1099511628211ULL;
    free(s);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* The first key path where a and b differ, written to buf ("" if equal). */
static void first_difference(const cJSON *a, const cJSON *b, const char *prefix, char *buf, size_t n)
{
    char *ca = alim_json_canonical(a), *cb = alim_json_canonical(b);
    int same = ca && cb && !strcmp(ca, cb);
    free(ca);
    free(cb);
    if (same) {
        buf[0] = '\0';
        return;
    }
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        for (const cJSON *c = a->child; c; c = c->next) {
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(b, c->string);
            char p[256];
            snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", c->string);
            if (!d) {
                snprintf(buf, n, "%s (only in the directory's configuration)", p);
                return;
            }
            first_difference(c, d, p, buf, n);
            if (buf[0]) return;
        }
        for (const cJSON *c = b->child; c; c = c->next)
            if (!cJSON_GetObjectItemCaseSensitive(a, c->string)) {
                snprintf(buf, n, "%s%s%s (only in the new configuration)", prefix, *prefix ? "." : "", c->string);
                return;
            }
    }
    snprintf(buf, n, "%s", *prefix ? prefix : "(top level)");
}

/* ---- the directory ---------------------------------------------------------------------- */

static int valid_cell(const char *cell)
{
    if (!cell || !*cell || !strcmp(cell, ".") || !strcmp(cell, "..")) return 0;
    for (const char *c = cell; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-' ||
              *c == '_' || *c == '.'))
            return 0;
    return strlen(cell) < 128;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

/* Removes the claims and failure marks (alim/runner.h) of an earlier multi-rank run: with the
 * lock held nobody else works on the directory, so every claim is stale. */
static void remove_claims(const char *dir)
{
    char cells[4096];
    snprintf(cells, sizeof cells, "%s/cells", dir);
    DIR *d = opendir(cells);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[4400];
        snprintf(p, sizeof p, "%s/%s/" ALIM_RUNDIR_CLAIM, cells, e->d_name);
        unlink(p);
        snprintf(p, sizeof p, "%s/%s/" ALIM_RUNDIR_FAILED, cells, e->d_name);
        unlink(p);
    }
    closedir(d);
}

/* rank 0's (or the only process's) open: create or check, lock */
static alim_status open_root(const char *dir, const char *experiment, const cJSON *config, alim_rundir **out,
                             alim_error *err)
{
    *out = NULL;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return alim_error_set(err, ALIM_EIO, dir, "cannot create the run directory: %s", strerror(errno));
    alim_dir_lock *lock;
    alim_status st = alim_dir_lock_acquire(dir, &lock, err);
    if (st) return st;
    /* holding the lock, no other writer is alive: the cells' temporaries of killed runs go */
    alim_dir_remove_stale_temporaries(dir, 3);
    remove_claims(dir);
    char *mpath = join(dir, "manifest.json");
    if (!mpath) {
        alim_dir_lock_release(lock);
        return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    }
    struct stat sb;
    if (stat(mpath, &sb) == 0) {
        cJSON *m = NULL;
        if ((st = alim_json_read_file(mpath, &m, err))) goto done;
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(m, "experiment");
        const cJSON *cf = cJSON_GetObjectItemCaseSensitive(m, "config");
        if (!cJSON_IsString(ex) || !cf) {
            st = alim_error_set(err, ALIM_EFORMAT, mpath, "not an alim run manifest (no experiment or config)");
        } else if (strcmp(ex->valuestring, experiment)) {
            st = alim_error_set(err, ALIM_EINVAL, dir, "this run directory belongs to experiment \"%s\", not \"%s\"",
                                ex->valuestring, experiment);
        } else {
            char diff[300];
            first_difference(cf, config, "", diff, sizeof diff);
            if (diff[0])
                st = alim_error_set(err, ALIM_EINVAL, dir,
                                    "this run directory was made with a different configuration (first difference: "
                                    "%s); use another directory or the same settings",
                                    diff);
        }
        cJSON_Delete(m);
        if (st) goto done;
    } else {
        if (alim_dir_is_empty(dir) == 0) {
            st = alim_error_set(err, ALIM_EINVAL, dir, "directory is not empty and has no manifest.json; refusing to "
                                                       "use it as a run directory");
            goto done;
        }
        cJSON *m = cJSON_CreateObject();
        char hash[17];
        alim_json_hash(config, hash);
        time_t now = time(NULL);
        char date[64];
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        cJSON_AddStringToObject(m, "experiment", experiment);
        cJSON_AddItemToObject(m, "config", cJSON_Duplicate(config, 1));
        cJSON_AddStringToObject(m, "config_hash", hash);
        cJSON_AddStringToObject(m, "created", date);
        char *text = alim_json_print(m, 1);
        cJSON_Delete(m);
        st = text ? alim_file_write_atomic(mpath, text, strlen(text), err)
                  : alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
        free(text);
        if (st) goto done;
    }
    alim_rundir *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->dir = strdup(dir))) {
        free(rd);
        st = alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
        goto done;
    }
    rd->lock = lock;
    lock = NULL;
    *out = rd;
done:
    alim_dir_lock_release(lock);
    free(mpath);
    return st;
}

/* the other ranks' open: rank 0 made or checked the directory and holds its lock for the
 * job; check the manifest is the one expected (same file system, same configuration) */
static alim_status open_peer(const char *dir, const char *experiment, const cJSON *config, alim_rundir **out, alim_error *err)
{
    *out = NULL;
    char *mpath = join(dir, "manifest.json");
    if (!mpath) return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    cJSON *m = NULL;
    alim_status st = alim_json_read_file(mpath, &m, err);
    if (st == ALIM_EIO)
        st = alim_error_set(err, ALIM_EINVAL, dir, "rank %d does not see the run directory rank 0 made: the ranks need a shared file system",
                            alim_dist_rank());
    if (!st) {
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(m, "experiment"), *cf = cJSON_GetObjectItemCaseSensitive(m, "config");
        char diff[300] = "";
        if (cf) first_difference(cf, config, "", diff, sizeof diff);
        if (!cJSON_IsString(ex) || strcmp(ex->valuestring, experiment) || !cf || diff[0])
            st = alim_error_set(err, ALIM_EINVAL, mpath, "rank %d reads another manifest than rank 0 wrote (a stale copy of the file system?)",
                                alim_dist_rank());
    }
    cJSON_Delete(m);
    free(mpath);
    if (st) return st;
    alim_rundir *rd = calloc(1, sizeof *rd);
    if (!rd || !(rd->dir = strdup(dir))) {
        free(rd);
        return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    }
    rd->shared = 1;
    *out = rd;
    return ALIM_OK;
}

alim_status alim_rundir_open(const char *dir, const char *experiment, const cJSON *config, alim_rundir **out,
                             alim_error *err)
{
    if (!alim_dist_multi()) return open_root(dir, experiment, config, out, err);
    /* a multi-rank job: rank 0 opens (and locks) for all, then the others join */
    *out = NULL;
    alim_rundir *rd = NULL;
    alim_status st = alim_dist_rank() == 0 ? open_root(dir, experiment, config, &rd, err) : ALIM_OK;
    if (rd) rd->shared = 1;
    st = alim_dist_agree(st, err);
    if (!st && alim_dist_rank() != 0) st = open_peer(dir, experiment, config, &rd, err);
    st = alim_dist_agree(st, err);
    if (st) {
        alim_rundir_close(rd);
        return st;
    }
    *out = rd;
    return ALIM_OK;
}

int alim_rundir_shared(const alim_rundir *rd) { return rd->shared; }

void alim_rundir_close(alim_rundir *rd)
{
    if (!rd) return;
    alim_dir_lock_release(rd->lock);
    free(rd->dir);
    free(rd);
}

const char *alim_rundir_path(const alim_rundir *rd) { return rd->dir; }

static int result_path(const alim_rundir *rd, const char *cell, char *buf, size_t n)
{
    return snprintf(buf, n, "%s/cells/%s/result.json", rd->dir, cell) < (int)n;
}

int alim_rundir_cell_done(const alim_rundir *rd, const char *cell)
{
    char p[4096];
    struct stat sb;
    return valid_cell(cell) && result_path(rd, cell, p, sizeof p) && stat(p, &sb) == 0;
}

alim_status alim_rundir_cell_dir(const alim_rundir *rd, const char *cell, char *buf, size_t n, alim_error *err)
{
    if (!valid_cell(cell)) return alim_error_set(err, ALIM_EINVAL, rd->dir, "invalid cell name \"%s\"", cell ? cell : "");
    char cells[4096];
    snprintf(cells, sizeof cells, "%s/cells", rd->dir);
    if (mkdir(cells, 0777) != 0 && errno != EEXIST)
        return alim_error_set(err, ALIM_EIO, cells, "cannot create: %s", strerror(errno));
    if (snprintf(buf, n, "%s/%s", cells, cell) >= (int)n)
        return alim_error_set(err, ALIM_EINVAL, rd->dir, "path of cell \"%s\" is too long", cell);
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return alim_error_set(err, ALIM_EIO, buf, "cannot create: %s", strerror(errno));
    return ALIM_OK;
}

alim_status alim_rundir_cell_finish(const alim_rundir *rd, const char *cell, const cJSON *result, alim_error *err)
{
    char d[4096], p[4096];
    alim_status st = alim_rundir_cell_dir(rd, cell, d, sizeof d, err);
    if (st) return st;
    result_path(rd, cell, p, sizeof p);
    if (!cJSON_IsObject(result) || cJSON_GetObjectItemCaseSensitive(result, RESULT_HASH_KEY))
        return alim_error_set(err, ALIM_EINTERNAL, p, "a cell result must be a JSON object without \"%s\"", RESULT_HASH_KEY);
    cJSON *sealed = cJSON_Duplicate(result, 1);
    char hash[17];
    alim_json_hash(result, hash);
    if (sealed) cJSON_AddStringToObject(sealed, RESULT_HASH_KEY, hash);
    char *text = sealed ? alim_json_print(sealed, 1) : NULL;
    cJSON_Delete(sealed);
    if (!text) return alim_error_set(err, ALIM_ENOMEM, p, "out of memory");
    st = alim_file_write_atomic(p, text, strlen(text), err);
    free(text);
    return st;
}

cJSON *alim_rundir_cell_result(const alim_rundir *rd, const char *cell, alim_error *err)
{
    char p[4096];
    if (!alim_rundir_cell_done(rd, cell)) {
        alim_error_set(err, ALIM_EINVAL, rd->dir, "cell \"%s\" has not finished", cell ? cell : "");
        return NULL;
    }
    result_path(rd, cell, p, sizeof p);
    cJSON *j = NULL;
    if (alim_json_read_file(p, &j, err)) return NULL;
    /* Results written before the hash was added are accepted when they are objects; a
     * result with a hash must match it. Either way the error tells how to recover. */
    const char *bad = NULL;
    if (!cJSON_IsObject(j)) bad = "is not a cell result (expected the JSON object written when the cell finished)";
    else {
        cJSON *h = cJSON_DetachItemFromObjectCaseSensitive(j, RESULT_HASH_KEY);
        if (h) {
            char hash[17];
            alim_json_hash(j, hash);
            if (!cJSON_IsString(h) || strcmp(h->valuestring, hash))
                bad = "was changed after the cell finished (its alim_result_hash does not match)";
            cJSON_Delete(h);
        }
    }
    if (bad) {
        cJSON_Delete(j);
        alim_error_set(err, ALIM_EFORMAT, p, "%s; delete it to run the cell again", bad);
        return NULL;
    }
    return j;
}
