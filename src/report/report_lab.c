/* report_lab.c — the trained part of the report's section 3: the data directory and the cache
 * of run directories, and the one function that runs E1, E2 (with E4 from its cells) and E3
 * and hands each result to its part of the section (report_e1.c .. report_e4.c). */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include "alim/dist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alim/io.h"
#include "alim/rundir.h"

/* mkdir -p */
static alim_status make_dirs(const char *path, alim_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return alim_error_set(err, ALIM_EINVAL, path, "path too long");
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return alim_error_set(err, ALIM_EIO, buf, "cannot create the directory: %s", strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return alim_error_set(err, ALIM_EIO, buf, "cannot create the directory: %s", strerror(errno));
    return ALIM_OK;
}

/* NAME-<hash of key> */
static void hashed_name(const char *name, const cJSON *key, char *out, size_t n)
{
    char h[17];
    alim_json_hash(key, h);
    snprintf(out, n, "%s-%s", name, h);
}

/* the model and pretraining part of a run's identity (the key hashed into its directory name) */
static void add_base_key(cJSON *k, int layers, int dim, int heads, int context, uint64_t tokens, int batch, double lr,
                         double min_lr, double wd, uint64_t warmup)
{
    cJSON_AddNumberToObject(k, "layers", layers);
    cJSON_AddNumberToObject(k, "dim", dim);
    cJSON_AddNumberToObject(k, "heads", heads);
    cJSON_AddNumberToObject(k, "context", context);
    cJSON_AddNumberToObject(k, "pretrain_tokens", (double)tokens);
    cJSON_AddNumberToObject(k, "pretrain_batch", batch);
    cJSON_AddNumberToObject(k, "pretrain_lr", lr);
    cJSON_AddNumberToObject(k, "pretrain_min_lr", min_lr);
    cJSON_AddNumberToObject(k, "pretrain_weight_decay", wd);
    cJSON_AddNumberToObject(k, "pretrain_warmup", (double)warmup);
}

static void lab_note(void *ctx, const char *line)
{
    const report *r = ctx;
    if (r->note) r->note(r->note_ctx, line);
}

/* Builds (or finds in the cache) the data directory; its path goes to dir. */
static alim_status lab_data(report *r, const elasticity_config *ec, const char *cache, char *dir, size_t n,
                            char name[64])
{
    cJSON *key = cJSON_CreateObject();
    if (!key) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    cJSON_AddStringToObject(key, "source", ec->natural ? "natural" : "synthetic");
    cJSON_AddNumberToObject(key, "seed", (double)ec->data.seed);
    cJSON_AddNumberToObject(key, "pretrain_tokens", (double)ec->data.pretrain_size);
    cJSON_AddNumberToObject(key, "pool_docs", (double)ec->data.pool_docs);
    cJSON_AddNumberToObject(key, "test_docs", (double)ec->data.test_docs);
    if (!ec->natural) cJSON_AddNumberToObject(key, "doc_len", (double)ec->data.doc_len);
    hashed_name("data", key, name, 64);
    cJSON_Delete(key);
    snprintf(dir, n, "%s/%s", cache, name);
    if (r->peer) return ALIM_OK; /* rank 0 builds it */
    char man[4400];
    snprintf(man, sizeof man, "%.4200s/manifest.json", dir);
    struct stat sb;
    if (stat(man, &sb) == 0) { /* a manifest means the directory is complete (it is renamed into place) */
        r->data_reused = 1;
        if (r->note) {
            char line[4300];
            snprintf(line, sizeof line, "data: reused %s", dir);
            r->note(r->note_ctx, line);
        }
        return ALIM_OK;
    }
    alim_progress_report(r->progress, "elasticity: building the data directory", 0, 1);
    alim_status st = ec->natural ? alim_datadir_natural(&ec->data, dir, NULL, r->err)
                                 : alim_datadir_synthetic(&ec->data, dir, NULL, r->err);
    alim_progress_report(r->progress, "elasticity: building the data directory", 1, 1);
    if (!st && r->note) {
        char line[4300];
        snprintf(line, sizeof line, "data: built %s", dir);
        r->note(r->note_ctx, line);
    }
    return st;
}

/* Runs E1, E2 (with E4 from its cells) and E3 as configured, in the cache (made and held by
 * lab_section), and adds their parts of the section: the one place that decides which
 * experiment runs when and what each hands to the next (E1's theta0 to E2, E2's cells to E4). */
static alim_status lab_run(report *r, elasticity_config *ec, const char *cache)
{
    char data_dir[4200], e1_dir[4300], e2_dir[4300];
    char data_name[64];
    alim_status st = lab_data(r, ec, cache, data_dir, sizeof data_dir, data_name);
    if (alim_dist_multi()) st = alim_dist_agree(st, r->err); /* the other ranks wait for rank 0's data */
    if (st) return st;
    sb_printf(&r->html,
              "<p>E1, E2 and E3 below train small GPT models (byte tokenizer) on the CPU, on a data directory the report "
              "built: %s, seed %llu, pretraining data of %llu %s at the shares 0.9, 0.05, 0.05. "
              "Data and runs are kept in the cache <code>",
              ec->natural ? "the natural source of <code>alim data natural</code> (C1 fortunes, C2 the KJV Bible as "
                            "the positive behaviour, C3 the Jargon File as the negative one)"
                          : "the synthetic Markov-mixture source S (C1 neutral, C2 positive, C3 negative)",
              (unsigned long long)ec->data.seed, (unsigned long long)ec->data.pretrain_size,
              ec->natural ? "bytes" : "tokens");
    sb_html_escaped(&r->html, cache);
    sb_printf(&r->html, "</code>; a re-run reuses every finished cell.</p>\n");

    /* E1 */
    alim_resist_result r1;
    memset(&r1, 0, sizeof r1);
    int have_r1 = 0;
    char e1_name[64] = "";
    if (ec->run_resist) {
        alim_resist_config *c = &ec->e1;
        cJSON *key = cJSON_CreateObject();
        if (!key) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        cJSON_AddStringToObject(key, "data", data_name);
        add_base_key(key, c->n_layer, c->n_embd, c->n_head, c->context, c->pretrain_tokens, c->pretrain_batch,
                     c->pretrain_lr, c->pretrain_min_lr, c->pretrain_weight_decay, c->pretrain_warmup);
        cJSON_AddNumberToObject(key, "sft_docs", (double)c->sft_docs);
        cJSON_AddNumberToObject(key, "sft_batch", c->sft_batch);
        cJSON_AddNumberToObject(key, "sft_lr", c->sft_lr);
        cJSON_AddNumberToObject(key, "samples", (double)c->n_samples);
        cJSON_AddNumberToObject(key, "sample_tokens", (double)c->sample_tokens);
        cJSON_AddNumberToObject(key, "prompt_bytes", (double)c->prompt_bytes);
        cJSON_AddNumberToObject(key, "temperature", c->temperature);
        cJSON_AddBoolToObject(key, "quick", c->quick);
        alim_lab_add_precision(key, r->precision);
        hashed_name("resist", key, e1_name, sizeof e1_name);
        cJSON_Delete(key);
        snprintf(e1_dir, sizeof e1_dir, "%s/%s", cache, e1_name);
        c->data_dir = data_dir;
        c->run_dir = e1_dir;
        c->jobs = r->jobs;
        c->precision = r->precision;
        st = alim_resist_run(c, r->progress, lab_note, r, &r1, r->err);
        if (st) return st;
        have_r1 = 1;
        r->cells_total += r1.cells_total;
        r->cells_run += r1.cells_run;
        r->cells_reused += r1.cells_reused;
        if (!r->peer) st = report_e1(r, c, &r1);
    }
    /* E2, with E1's theta0 when E1 trained one for every seed (same data, model and pretraining) */
    alim_rebound_result r2;
    memset(&r2, 0, sizeof r2);
    int have_r2 = 0;
    char **t0 = NULL;
    if (!st && ec->run_rebound) {
        alim_rebound_config *c = &ec->e2;
        const int from_e1 = ec->run_resist && c->n_seeds <= ec->e1.n_seeds;
        char origin[160] = "";
        if (from_e1) {
            t0 = calloc(c->n_seeds, sizeof *t0);
            if (!t0) st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            for (size_t s = 0; s < c->n_seeds && !st; s++) {
                t0[s] = malloc(4400);
                if (!t0[s]) st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
                else snprintf(t0[s], 4400, "%s/cells/s%zu-theta0", e1_dir, s + 1);
            }
            snprintf(origin, sizeof origin, "theta0 of the report's E1 run %s (cells s<seed>-theta0)", e1_name);
            c->theta0_dirs = (const char *const *)t0;
            c->theta0_origin = origin;
        }
        cJSON *key = st ? NULL : cJSON_CreateObject();
        if (!st && !key) st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        if (!st) {
            cJSON_AddStringToObject(key, "data", data_name);
            cJSON_AddStringToObject(key, "theta0", from_e1 ? e1_name : "own");
            add_base_key(key, c->n_layer, c->n_embd, c->n_head, c->context, c->pretrain_tokens, c->pretrain_batch,
                         c->pretrain_lr, c->pretrain_min_lr, c->pretrain_weight_decay, c->pretrain_warmup);
            double gv[ALIM_REBOUND_MAX_GRID];
            for (size_t i = 0; i < c->n_pos_count; i++) gv[i] = (double)c->n_pos[i];
            cJSON_AddItemToObject(key, "n_pos", cJSON_CreateDoubleArray(gv, (int)c->n_pos_count));
            for (size_t i = 0; i < c->n_neg_count; i++) gv[i] = (double)c->n_neg[i];
            cJSON_AddItemToObject(key, "n_neg", cJSON_CreateDoubleArray(gv, (int)c->n_neg_count));
            cJSON_AddNumberToObject(key, "sft_batch", c->sft_batch);
            cJSON_AddNumberToObject(key, "sft_lr", c->sft_lr);
            cJSON_AddNumberToObject(key, "samples", (double)c->n_samples);
            cJSON_AddNumberToObject(key, "sample_tokens", (double)c->sample_tokens);
            cJSON_AddNumberToObject(key, "temperature", c->temperature);
            cJSON_AddBoolToObject(key, "quick", c->quick);
            alim_lab_add_precision(key, r->precision);
            char e2_name[64];
            hashed_name("rebound", key, e2_name, sizeof e2_name);
            cJSON_Delete(key);
            snprintf(e2_dir, sizeof e2_dir, "%s/%s", cache, e2_name);
            c->data_dir = data_dir;
            c->run_dir = e2_dir;
            c->jobs = r->jobs;
            c->precision = r->precision;
            st = alim_rebound_run(c, r->progress, lab_note, r, &r2, r->err);
            if (!st) {
                have_r2 = 1;
                r->cells_total += r2.cells_total;
                r->cells_run += r2.cells_run;
                r->cells_reused += r2.cells_reused;
                if (!r->peer) st = report_e2(r, c, &r2, from_e1);
                if (!st && !r->peer && ec->run_coefficient) st = report_e4(r, ec, c, &r2, data_dir);
            }
        }
        c->theta0_dirs = NULL;
        c->theta0_origin = NULL;
    }
    if (t0)
        for (size_t s = 0; s < ec->e2.n_seeds; s++) free(t0[s]);
    free(t0);
    if (have_r1) alim_resist_result_free(&r1);
    if (have_r2) alim_rebound_result_free(&r2);
    /* E3: its own rebound runs (sizes, budgets) in one run directory of the cache */
    if (!st && ec->run_scale) {
        alim_scale_config *c = &ec->e3;
        c->precision = r->precision;
        cJSON *key = alim_scale_config_json(c); /* the library's own record of what changes a result */
        if (!key) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        cJSON_AddStringToObject(key, "data", data_name);
        char e3_name[64], e3_dir[4300];
        hashed_name("scale", key, e3_name, sizeof e3_name);
        cJSON_Delete(key);
        snprintf(e3_dir, sizeof e3_dir, "%s/%s", cache, e3_name);
        c->data_dir = data_dir;
        c->run_dir = e3_dir;
        c->jobs = r->jobs;
        alim_scale_result r3;
        st = alim_scale_run(c, r->progress, lab_note, r, &r3, r->err);
        if (!st) {
            r->cells_total += r3.cells_run + r3.cells_reused;
            r->cells_run += r3.cells_run;
            r->cells_reused += r3.cells_reused;
            if (!r->peer) st = report_e3(r, c, &r3);
            alim_scale_result_free(&r3);
        }
        c->data_dir = c->run_dir = NULL;
    }
    if (!st)
        sb_printf(&r->html, "<p class=\"meta\">Elasticity runs: %zu cells, %zu computed now, %zu reused from the "
                            "cache (%d at a time); the models' matrix products in %s%s%s%s.</p>\n",
                  r->cells_total, r->cells_run, r->cells_reused, r->jobs, alim_precision_name(r->precision),
                  r->precision == ALIM_PRECISION_BF16 ? " (bf16 inputs, fp32 sums, oneDNN on " : "",
                  r->precision == ALIM_PRECISION_BF16 ? alim_bf16_isa() : "", r->precision == ALIM_PRECISION_BF16 ? ")" : "");
    return st;
}

/* The trained experiments: the cache directory (--cache, the config's, or OUT/cache), locked
 * while lab_run uses it. */
static alim_status lab_section(report *r, elasticity_config *ec, const char *cache_override)
{
    if (!ec->run_resist && !ec->run_rebound && !ec->run_scale) {
        sb_printf(&r->html, "<p>The transformer experiments E1&ndash;E4 were not run (configuration "
                            "<code>\"experiments\": []</code>).</p>\n");
        return ALIM_OK;
    }
    char cache[4096];
    if (cache_override) snprintf(cache, sizeof cache, "%s", cache_override);
    else if (ec->cache[0]) snprintf(cache, sizeof cache, "%s", ec->cache);
    else snprintf(cache, sizeof cache, "%s/cache", r->dir);
    alim_status st = make_dirs(cache, r->err);
    /* the cache may be shared by reports of other --out directories: one writer at a time
     * (under MPI rank 0's lock stands for the job) */
    alim_dir_lock *lock = NULL;
    if (!st && !r->peer) st = alim_dir_lock_acquire(cache, &lock, r->err);
    if (st) return st;
    st = lab_run(r, ec, cache);
    alim_dir_lock_release(lock);
    return st;
}

alim_status report_elasticity(report *r, const cJSON *c, const char *where, const char *cache_override)
{
    elasticity_config ec;
    alim_status st = report_elasticity_config_read(c, where, r->quick, &ec, r->err);
    if (!st && !r->peer) st = report_e0(r);
    if (!st) st = lab_section(r, &ec, cache_override);
    if (!st) sb_printf(&r->html, "</section>\n");
    return st;
}
