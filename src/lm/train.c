/* train.c — the training loop (see alim/lm_train.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/lm_train.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <omp.h>

#include "alim/checkpoint.h"
#include "alim/dist.h"
#include "alim/io.h"
#include "alim/lm_eval.h"
#include "alim/tokenizer.h"
#include "model.h"

void alim_train_options_default(alim_train_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = ALIM_DATA_AUTO;
    o->model.n_layer = 2;
    o->model.n_embd = 64;
    o->model.n_head = 4;
    o->model.n_positions = 128;
    o->model.vocab_size = 0;
    o->model.layer_norm_epsilon = 1e-5f;
    o->batch = 16;
    o->grad_accum = 1;
    o->lr = 3e-4;
    o->min_lr = -1.0; /* = lr / 10 */
    o->schedule = ALIM_LR_CONSTANT;
    o->adamw.beta1 = 0.9f;
    o->adamw.beta2 = 0.95f;
    o->adamw.eps = 1e-8f;
    o->adamw.weight_decay = 0.1f;
    o->clip = 1.0;
    o->seed = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void put_u64(cJSON *o, const char *key, uint64_t v)
{
    char b[32];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddStringToObject(o, key, b);
}

static int get_u64(const cJSON *o, const char *key, uint64_t *v)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(s)) return -1;
    *v = strtoull(s->valuestring, NULL, 10);
    return 0;
}

/* ---- the output directory and the log ------------------------------------------------------ */

static const char LOG_HEADER[] = "step,loss,lr,grad_norm,tokens,tokens_per_s,elapsed_s,eval_loss\n";

static int file_in(const char *dir, const char *name)
{
    char p[4200];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* 1 if dir/name starts like a log this file writes (CSV header, or a JSON Lines step) */
static int is_train_log(const char *dir, const char *name)
{
    char p[4200], b[sizeof LOG_HEADER];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return 0;
    const size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = '\0';
    return n == 0 || !strncmp(b, LOG_HEADER, sizeof LOG_HEADER - 1) || !strncmp(b, "{\"step\": ", 9);
}

/* "NAME.tmp.DIGITS": an alim_atomic_open temporary */
static int is_temporary(const char *name)
{
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name) return 0;
    for (t = strstr(name, ".tmp.") + 5; *t; t++)
        if (*t < '0' || *t > '9') return 0;
    return 1;
}

/* 1 if dir holds a checkpoint, or part of one (a save interrupted after config.json): a
 * model or optimizer file, or a config.json with a "model_type" (Hugging Face's key). */
static int holds_checkpoint(const char *dir)
{
    if (file_in(dir, "model.safetensors") || file_in(dir, "optimizer.safetensors")) return 1;
    char p[4200];
    snprintf(p, sizeof p, "%s/config.json", dir);
    struct stat sb;
    if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > (1 << 20)) return 0;
    cJSON *j = NULL;
    alim_error e;
    if (alim_json_read_file(p, &j, &e)) return 0;
    const int hf = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "model_type"));
    cJSON_Delete(j);
    return hf;
}

/* May a new run write its checkpoint into dir? A checkpoint (re-training over it, or redoing
 * a run whose first save was interrupted) may be overwritten; otherwise no file a run writes
 * may be there already, and with strict nothing else either (the lock file, temporaries and
 * a log of an interrupted run aside). */
static alim_status check_out_dir(const char *dir, int strict, alim_error *err)
{
    if (holds_checkpoint(dir)) return ALIM_OK;
    static const char *const ours[] = {"config.json", "vocab.json", "merges.txt", "tokenizer.json",
                                       "tokenizer_config.json", "chat_template.jinja", "model.safetensors",
                                       "optimizer.safetensors", "log.csv", NULL};
    DIR *d = opendir(dir);
    if (!d) return alim_error_set(err, ALIM_EIO, dir, "cannot read the directory: %s", strerror(errno));
    alim_status st = ALIM_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        const char *n = e->d_name;
        if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, ALIM_DIR_LOCK_NAME) || is_temporary(n)) continue;
        if ((!strcmp(n, "log.csv") || !strcmp(n, "log.jsonl")) && is_train_log(dir, n)) continue;
        int overwritten = 0;
        for (const char *const *q = ours; *q; q++) overwritten |= !strcmp(n, *q);
        if (overwritten)
            st = alim_error_set(err, ALIM_EINVAL, dir, "holds %s but no checkpoint (model.safetensors, or a config.json "
                                "with a model_type); refusing to overwrite it: choose a new or empty out_dir", n);
        else if (strict)
            st = alim_error_set(err, ALIM_EINVAL, dir, "is not empty (%s) and holds no checkpoint; refusing to write a "
                                "model among other files: choose a new or empty out_dir", n);
    }
    closedir(d);
    return st;
}

/* Makes (new run) and locks out_dir; *made says whether this call created it. */
static alim_status open_out_dir(const alim_train_options *o, alim_dir_lock **lock, int *made, alim_error *err)
{
    *made = 0;
    if (!o->resume) {
        struct stat sb;
        if (stat(o->out_dir, &sb) != 0) {
            if (mkdir(o->out_dir, 0777) != 0)
                return alim_error_set(err, errno == ENOENT || errno == ENOTDIR ? ALIM_EINVAL : ALIM_EIO, o->out_dir,
                                      "cannot create the directory: %s", strerror(errno));
            *made = 1;
        } else if (!S_ISDIR(sb.st_mode))
            return alim_error_set(err, ALIM_EINVAL, o->out_dir, "exists and is not a directory");
    }
    alim_status st = alim_dir_lock_acquire(o->out_dir, lock, err);
    /* an interrupted save is rolled back to the checkpoint before it, under the lock */
    if (!st) st = alim_checkpoint_recover(o->out_dir, err);
    if (!st && !o->resume) st = check_out_dir(o->out_dir, o->refuse_foreign_out, err);
    if (st) {
        alim_dir_lock_release(*lock);
        *lock = NULL;
        if (*made) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", o->out_dir, ALIM_DIR_LOCK_NAME);
            remove(p);
            rmdir(o->out_dir);
            *made = 0;
        }
    }
    return st;
}

/* The update number a log line starts with; 0 if it is not a step line (a header, a torn line). */
static int log_line_step(const char *s, const char *eol, int jsonl, uint64_t *step)
{
    if (jsonl) {
        if ((size_t)(eol - s) < 10 || strncmp(s, "{\"step\": ", 9)) return 0;
        s += 9;
    }
    if (s >= eol || *s < '0' || *s > '9') return 0;
    uint64_t v = 0;
    for (; s < eol && *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10) return 0;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (s >= eol || *s != ',') return 0;
    *step = v;
    return 1;
}

/* Resuming at update `step`: the log keeps its header and the rows of updates 1..step, once
 * each and in order; rows of updates after the checkpoint (done again now) and a torn last
 * line go. The log is rewritten atomically only when something is cut. */
static alim_status cut_log(const char *path, int jsonl, uint64_t step, int *rewrote, alim_error *err)
{
    *rewrote = 0;
    struct stat sb;
    if (stat(path, &sb) != 0 || sb.st_size == 0) return ALIM_OK; /* appending creates it */
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    char *out = malloc(len + 1);
    if (!out) return free(buf), alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    size_t n = 0;
    uint64_t last = 0;
    for (const char *p = buf, *end = buf + len; p < end;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) break; /* a torn last line */
        uint64_t k;
        const int is_step = log_line_step(p, eol, jsonl, &k);
        const int keep = is_step ? k > last && k <= step : (p == buf && !jsonl);
        if (keep) {
            memcpy(out + n, p, (size_t)(eol - p) + 1);
            n += (size_t)(eol - p) + 1;
            if (is_step) last = k;
        }
        p = eol + 1;
    }
    if (n != len) {
        st = alim_file_write_atomic(path, out, n, err);
        *rewrote = !st;
    }
    free(out);
    free(buf);
    return st;
}

/* ---- non-finite numbers ------------------------------------------------------------------- */

static alim_status diverged(const alim_train_options *o, uint64_t update, const char *what, double value,
                            uint64_t kept, int have_kept, alim_error *err)
{
    char k[96];
    if (have_kept) snprintf(k, sizeof k, "the checkpoint of update %" PRIu64 " is kept", kept);
    else snprintf(k, sizeof k, "no checkpoint was written");
    char v[32];
    if (isnan(value)) snprintf(v, sizeof v, "NaN");
    else snprintf(v, sizeof v, "%g", value);
    return alim_error_set(err, ALIM_ERANGE, o->out_dir,
                          "training diverged at update %" PRIu64 ": %s is %s; nothing non-finite was saved (%s); "
                          "a smaller lr may help",
                          update, what, v, k);
}

/* The first non-finite value of x[0..n), or n */
static size_t first_non_finite(const float *x, size_t n)
{
    size_t bad = n;
#pragma omp parallel for reduction(min : bad) schedule(static)
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) && i < bad) bad = i;
    return bad;
}

/* Where the chat template comes from: the model started from, else a tokenizer directory. */
static const char *chat_source(const alim_train_options *o)
{
    if (o->resume) return o->out_dir;
    if (o->init_dir) return o->init_dir;
    return o->tokenizer && strcmp(o->tokenizer, "byte") ? o->tokenizer : NULL;
}

/* plan: how the batch is split (see plan_shards); recorded so that a resume can refuse a
 * split that would change the bits */
typedef struct {
    int shards;  /* S data-parallel shards of every micro-batch (1: operation-parallel) */
    int forced;  /* S was set (--shards, a resumed run's, or MPI's minimum), not chosen from threads */
    int threads; /* OpenMP threads of all ranks together */
    alim_precision precision; /* of the products, resolved */
    int ranks;
} train_plan;

static alim_status save_all(const alim_train_options *o, const alim_gpt *m,
                            const alim_tokenizer *tk, const alim_adamw *opt,
                            const alim_loader *ld, uint64_t tokens, int T, const train_plan *plan,
                            alim_error *err)
{
    alim_status st = alim_checkpoint_txn_begin(o->out_dir, err);
    if (!st) st = alim_checkpoint_save(o->out_dir, m, tk, opt->step, err);
    if (!st) st = alim_chat_template_copy(chat_source(o), o->out_dir, err);
    if (st) return st;
    cJSON *s = cJSON_CreateObject();
    if (!s) return alim_error_set(err, ALIM_ENOMEM, o->out_dir, "out of memory");
    put_u64(s, "data_epoch", ld->epoch);
    put_u64(s, "data_pos", ld->pos);
    put_u64(s, "tokens", tokens);
    put_u64(s, "batch", (uint64_t)o->batch);
    put_u64(s, "context", (uint64_t)T);
    put_u64(s, "grad_accum", (uint64_t)o->grad_accum);
    put_u64(s, "seed", o->seed);
    put_u64(s, "data_in_order", (uint64_t)(o->in_order != 0));
    /* the sums over data-parallel shards, hence the bits, depend on the team size: of all
     * ranks together, which is the shard count when it is chosen from it; a set shard count
     * alone decides the bits, whatever the threads and ranks (docs/mpi.md) */
    if (plan->forced) put_u64(s, "shards", (uint64_t)plan->shards);
    else put_u64(s, "threads", (uint64_t)plan->threads);
    /* and on the products' precision; in bf16 on the ISA oneDNN picked its kernels for */
    cJSON_AddStringToObject(s, "precision", alim_precision_name(plan->precision));
    if (plan->precision == ALIM_PRECISION_BF16) cJSON_AddStringToObject(s, "bf16_isa", alim_bf16_isa());
    /* the data order is the only randomness of training: it is drawn from (seed, epoch) */
    cJSON_AddStringToObject(s, "rng", "alim_rng(seed, 0x64617461 + data_epoch)");
    st = alim_checkpoint_save_optimizer(o->out_dir, opt, s, err);
    cJSON_Delete(s);
    if (!st) st = alim_checkpoint_txn_commit(o->out_dir, err);
    return st;
}

/* The shard count of a run over R ranks with N threads in all (docs/mpi.md). Set (--shards,
 * or the resumed run's): that. One process: what it chooses from its threads. Several ranks:
 * what one process with the same N threads would choose, if that gives every rank a shard;
 * else min(batch, N) shards, set (so recorded as such). */
static alim_status plan_shards(const alim_train_options *o, const alim_gpt *m, int T, uint64_t resumed_shards,
                               train_plan *p, alim_error *err)
{
    const int want = o->shards ? o->shards : (int)resumed_shards, R = p->ranks, B = o->batch;
    if (want) {
        if (want > B) return alim_error_set(err, ALIM_EINVAL, "shards", "%d shards of a batch of %d windows: at most one shard per window", want, B);
        if (want < R) return alim_error_set(err, ALIM_EINVAL, "shards", "%d shards over %d ranks: every rank needs at least one", want, R);
        p->shards = want, p->forced = 1;
        return ALIM_OK;
    }
    p->shards = lm_model_shard_count(m, B, T, R == 1 ? omp_get_max_threads() : p->threads);
    p->forced = 0;
    if (p->shards >= R) return ALIM_OK;
    if (B < R) return alim_error_set(err, ALIM_EINVAL, "batch", "%d windows cannot be split over %d ranks: at least one per rank", B, R);
    p->shards = p->threads < B ? p->threads : B;
    if (p->shards < R) p->shards = R;
    p->forced = 1;
    return ALIM_OK;
}

static void build_segments(const alim_gpt *m, alim_param_segment *segs, size_t *n)
{
    size_t off = 0, k = 0;
    for (int t = 0; t < m->n_tensors; t++) {
        int64_t shape[2];
        int nd = alim_gpt_tensor_info(m, t, 0, NULL, 0, shape);
        segs[k].offset = off;
        segs[k].count = m->tensor_size[t];
        segs[k].decay = nd == 2;
        off += m->tensor_size[t];
        k++;
    }
    *n = k;
}

alim_status alim_train(const alim_train_options *o, const alim_progress *progress,
                       alim_train_result *res, alim_error *err)
{
    memset(res, 0, sizeof *res);
    res->last_eval_loss = NAN;
    if (o->batch < 1) return alim_error_set(err, ALIM_EINVAL, "batch", "must be >= 1");
    if (o->grad_accum < 1) return alim_error_set(err, ALIM_EINVAL, "grad_accum", "must be >= 1");
    if (!(o->lr >= 0) || !isfinite(o->lr)) return alim_error_set(err, ALIM_EINVAL, "lr", "must be a finite number >= 0");
    /* the update takes the rate as a float */
    if (o->lr > FLT_MAX) return alim_error_set(err, ALIM_EINVAL, "lr", "%g is larger than the largest float (%g)", o->lr, (double)FLT_MAX);
    if (o->min_lr > FLT_MAX || (o->min_lr >= 0 && !isfinite(o->min_lr)))
        return alim_error_set(err, ALIM_EINVAL, "min_lr", "must be a finite number no larger than %g", (double)FLT_MAX);
    if (!(o->adamw.beta1 >= 0 && o->adamw.beta1 < 1)) return alim_error_set(err, ALIM_EINVAL, "adamw.beta1", "must be in [0, 1)");
    if (!(o->adamw.beta2 >= 0 && o->adamw.beta2 < 1)) return alim_error_set(err, ALIM_EINVAL, "adamw.beta2", "must be in [0, 1)");
    if (!(o->adamw.weight_decay >= 0)) return alim_error_set(err, ALIM_EINVAL, "adamw.weight_decay", "must be >= 0");
    if (!(o->clip >= 0)) return alim_error_set(err, ALIM_EINVAL, "clip", "must be >= 0");
    if (o->n_data == 0) return alim_error_set(err, ALIM_EINVAL, "n_data", "no training data given");
    if (!o->out_dir) return alim_error_set(err, ALIM_EINVAL, "out_dir", "no output directory given");

    alim_gpt m = {0};
    alim_tokenizer tk = {0};
    alim_adamw opt = {0};
    alim_token_stream data = {0}, evdata = {0};
    alim_loader ld = {0};
    cJSON *state = NULL;
    FILE *log = NULL;
    alim_param_segment segs[ALIM_GPT_MAX_TENSORS];
    size_t n_segs = 0;
    alim_status st = ALIM_OK;
    uint64_t tokens_seen = 0;
    alim_dir_lock *lock = NULL;
    alim_file_lock *log_lock = NULL;
    int made_dir = 0, log_made = 0, log_created = 0, have_kept = 0;
    uint64_t kept = 0; /* the update of the last checkpoint in out_dir */
    char logpath[4096] = "";

    /* the ranks train this model together only when asked (mpirun alim train); a cell of a
     * sweep (alim/runner.h) trains alone on its rank whatever MPI says */
    const int multi = o->data_parallel && alim_dist_multi(), root = !multi || alim_dist_rank() == 0;
    train_plan plan = {.shards = 1, .forced = 0, .threads = omp_get_max_threads(), .precision = ALIM_PRECISION_FP32,
                       .ranks = multi ? alim_dist_size() : 1};
    if (o->resume) {
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/optimizer.safetensors", o->out_dir);
        FILE *f = fopen(probe, "rb");
        if (!f) st = alim_error_set(err, ALIM_EINVAL, "resume", "%s holds no training checkpoint (optimizer.safetensors) to resume", o->out_dir);
        else fclose(f);
    }
    /* rank 0 alone makes, locks and recovers out_dir; the others only read from it */
    if (!st && root) st = open_out_dir(o, &lock, &made_dir, err);
    /* and holds the log, which --log may put outside out_dir: a second run writing the same
     * log is refused here, before it loads anything (it would interleave its rows, or cut
     * this run's) */
    if (o->log_path) snprintf(logpath, sizeof logpath, "%s", o->log_path);
    else snprintf(logpath, sizeof logpath, "%s/log.csv", o->out_dir);
    if (!st && root) st = alim_file_lock_acquire(logpath, &log_lock, &log_created, err);
    if (multi) st = alim_dist_agree(st, err);
    if (!st && o->resume) { /* again: rolling back an interrupted first save leaves no checkpoint */
        char probe[4096];
        struct stat sb;
        snprintf(probe, sizeof probe, "%s/optimizer.safetensors", o->out_dir);
        if (stat(probe, &sb) != 0)
            st = alim_error_set(err, ALIM_EINVAL, "resume", "%s holds no training checkpoint (optimizer.safetensors) to resume: its only save was interrupted", o->out_dir);
        if (multi) st = alim_dist_agree(st, err);
    }
    if (!st && multi) { /* the threads of all ranks together */
        int *all = malloc((size_t)plan.ranks * sizeof *all);
        if (!all) st = alim_error_set(err, ALIM_ENOMEM, "MPI", "out of memory");
        st = alim_dist_agree(st, err);
        if (!st) st = alim_dist_allgather_int(&plan.threads, 1, all, err);
        if (!st)
            for (int r = 1; r < plan.ranks; r++) plan.threads += all[r];
        free(all);
    }
    if (st) {
        if (log_created) remove(logpath);
        alim_file_lock_release(log_lock);
        alim_dir_lock_release(lock);
        if (made_dir) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", o->out_dir, ALIM_DIR_LOCK_NAME);
            remove(p);
            rmdir(o->out_dir);
        }
        return st;
    }
    uint64_t model_step = 0;
    if (o->resume) {
        st = alim_checkpoint_load(o->out_dir, &m, &tk, &model_step, err);
    } else if (o->init_dir) {
        st = alim_checkpoint_load(o->init_dir, &m, &tk, NULL, err);
    } else {
        if (!o->tokenizer || !strcmp(o->tokenizer, "byte")) st = alim_tokenizer_init_bytes(&tk, err);
        else st = alim_tokenizer_load(&tk, o->tokenizer, err);
        if (!st) {
            alim_gpt_config c = o->model;
            if (c.vocab_size == 0) c.vocab_size = tk.vocab_size;
            else if (c.vocab_size < tk.vocab_size)
                st = alim_error_set(err, ALIM_EINVAL, "model.vocab_size", "%d is smaller than the tokenizer's %d ids", c.vocab_size, tk.vocab_size);
            if (!st && o->context > c.n_positions) c.n_positions = o->context;
            if (!st) {
                alim_error e2;
                if (alim_gpt_create(&m, &c, &e2)) {
                    /* the shape is o->model: "n_layer" becomes "model.n_layer" */
                    char w[ALIM_ERROR_WHERE_MAX];
                    snprintf(w, sizeof w, "model.%.200s", e2.where);
                    st = alim_error_set(err, e2.status, e2.where[0] ? w : "", "%s", e2.what);
                } else alim_gpt_init_params(&m, o->seed);
            }
        }
    }
    if (!st) {
        st = alim_gpt_set_precision(&m, o->precision, err); /* where = "precision", as o->precision */
        plan.precision = m.precision;
    }
    const int T = o->context ? o->context : (m.params ? m.config.n_positions : 0);
    if (!st && (T < 1 || T > m.config.n_positions))
        st = alim_error_set(err, ALIM_EINVAL, "context", "%d is longer than the model's context (n_positions = %d)", T, m.config.n_positions);
    {
        alim_chat_template chat = {0};
        if (!st) st = alim_chat_template_resolve(&chat, chat_source(o), o->chat_template, &tk, err);
        if (!st) st = alim_dataset_load_chat(&data, o->data, o->n_data, o->format, o->delimiter, &tk, &chat, err);
        if (!st && o->n_eval) st = alim_dataset_load_chat(&evdata, o->eval_data, o->n_eval, o->format, o->delimiter, &tk, &chat, err);
        alim_chat_template_free(&chat);
    }
    if (!st) st = alim_loader_init(&ld, &data, o->batch, T, o->seed, err);
    if (!st && o->in_order) alim_loader_set_order(&ld, 1);
    if (!st && o->resume) {
        st = alim_checkpoint_load_optimizer(o->out_dir, m.num_params, &opt, &state, err);
        uint64_t ep = 0, pos = 0, b = 0, ctx = 0, acc = 0, seed = 0;
        if (!st && (get_u64(state, "data_epoch", &ep) || get_u64(state, "data_pos", &pos) || get_u64(state, "tokens", &tokens_seen) ||
                    get_u64(state, "batch", &b) || get_u64(state, "context", &ctx) || get_u64(state, "grad_accum", &acc) || get_u64(state, "seed", &seed)))
            st = alim_error_set(err, ALIM_EFORMAT, o->out_dir, "optimizer.safetensors: the training state is incomplete");
        if (!st && b != (uint64_t)o->batch) st = alim_error_set(err, ALIM_EINVAL, "batch", "%d differs from the resumed run's %" PRIu64, o->batch, b);
        if (!st && ctx != (uint64_t)T) st = alim_error_set(err, ALIM_EINVAL, "context", "%d differs from the resumed run's %" PRIu64, T, ctx);
        if (!st && acc != (uint64_t)o->grad_accum) st = alim_error_set(err, ALIM_EINVAL, "grad_accum", "%d differs from the resumed run's %" PRIu64, o->grad_accum, acc);
        if (!st && seed != o->seed) st = alim_error_set(err, ALIM_EINVAL, "seed", "%" PRIu64 " differs from the resumed run's %" PRIu64, o->seed, seed);
        uint64_t in_order = 0; /* absent in states written before the option: shuffled */
        if (!st && !get_u64(state, "data_in_order", &in_order) && in_order != (uint64_t)(o->in_order != 0))
            st = alim_error_set(err, ALIM_EINVAL, "in_order", "the resumed run visited the data %s", in_order ? "in order" : "shuffled");
        /* the model file must be from the same update as the optimizer state */
        if (!st && model_step != opt.step)
            st = alim_error_set(err, ALIM_EFORMAT, o->out_dir, "model.safetensors is from update %" PRIu64 " but optimizer.safetensors from %" PRIu64 " (interrupted save?)", model_step, opt.step);
        /* The bits depend on the shard count alone when it was set, else on the thread count
         * (of all ranks) it was chosen from; states written before either was recorded are
         * taken as they are. */
        uint64_t threads = 0, shards = 0;
        const int has_shards = !st && !get_u64(state, "shards", &shards);
        if (has_shards && (shards < 1 || shards > (uint64_t)o->batch))
            st = alim_error_set(err, ALIM_EFORMAT, o->out_dir, "optimizer.safetensors: %" PRIu64 " shards of a batch of %d", shards, o->batch);
        if (!st && has_shards && o->shards && (uint64_t)o->shards != shards)
            st = alim_error_set(err, ALIM_EINVAL, "shards", "%d differs from the resumed run's %" PRIu64 " data-parallel shards; the run continues bit for bit only with the same count (shards = %" PRIu64 ", any ranks and threads)",
                                o->shards, shards, shards);
        if (!st && !has_shards && !get_u64(state, "threads", &threads)) {
            if (o->shards)
                st = alim_error_set(err, ALIM_EINVAL, "shards", "the resumed run chose its shards from its %" PRIu64 " threads; resume it without shards and with %" PRIu64 " threads in all", threads, threads);
            else if (threads != (uint64_t)plan.threads)
                st = alim_error_set(err, ALIM_EINVAL, "threads", "%d%s differs from the resumed run's %" PRIu64 " threads; the run continues bit for bit only with the same count (threads = %" PRIu64 "%s)",
                                    plan.threads, plan.ranks > 1 ? " (threads of all ranks)" : "", threads, threads, plan.ranks > 1 ? " in all" : "");
        }
        /* and on the precision (states from before bf16 existed are fp32) and, in bf16, on
         * the ISA oneDNN's kernels were picked for */
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(state, "precision"), *si = cJSON_GetObjectItemCaseSensitive(state, "bf16_isa");
        const char *was = cJSON_IsString(sp) ? sp->valuestring : "fp32";
        if (!st && strcmp(was, alim_precision_name(plan.precision)) && o->precision == ALIM_PRECISION_AUTO) {
            alim_precision wp; /* auto resumes in the run's own precision */
            st = alim_precision_parse(was, &wp, o->out_dir, err);
            if (!st) st = alim_gpt_set_precision(&m, wp, err);
            plan.precision = m.precision;
        }
        if (!st && strcmp(was, alim_precision_name(plan.precision)))
            st = alim_error_set(err, ALIM_EINVAL, "precision", "%s differs from the resumed run's %s; the run continues only in the precision it started in (precision = %s)",
                                alim_precision_name(plan.precision), was, was);
        if (!st && plan.precision == ALIM_PRECISION_BF16 && cJSON_IsString(si) && strcmp(si->valuestring, alim_bf16_isa()))
            st = alim_error_set(err, ALIM_EINVAL, "precision", "the resumed run's bf16 products ran on %s, this CPU's on %s: bf16 bits depend on the kernels, so it continues bit for bit only on a CPU like the first (or start a new run from its checkpoint as init_dir)",
                                si->valuestring, alim_bf16_isa());
        if (!st) st = plan_shards(o, &m, T, has_shards ? shards : 0, &plan, err);
        if (!st && !has_shards && plan.forced)
            st = alim_error_set(err, ALIM_EINVAL, "threads", "the resumed run split its batch by its %d threads (%d shards), which %d ranks cannot do; resume it with fewer ranks",
                                plan.threads, lm_model_shard_count(&m, o->batch, T, plan.threads), plan.ranks);
        if (!st) alim_loader_seek(&ld, ep, (size_t)pos);
        have_kept = 1;
        kept = opt.step;
    } else if (!st) {
        st = alim_adamw_create(&opt, m.num_params, err);
    }
    if (!st && !o->resume) st = plan_shards(o, &m, T, 0, &plan, err);
    if (!st) st = alim_gpt_zero_grad(&m, err);
    /* the ranks read the same files and options: they fail alike, but leave together */
    if (multi) st = alim_dist_agree(st, err);
    if (st) goto done;
    build_segments(&m, segs, &n_segs);

    /* batch, T and grad_accum are each below 2^31: their product may not fit 64 bits */
    if ((double)o->batch * (double)T * (double)o->grad_accum >= 9223372036854775808.0) {
        st = alim_error_set(err, ALIM_EINVAL, "batch", "%d windows of %d tokens times grad_accum = %d is more than 2^63 tokens per update", o->batch, T, o->grad_accum);
        goto done;
    }
    const uint64_t per_step = (uint64_t)o->batch * (uint64_t)T * (uint64_t)o->grad_accum;
    uint64_t total = o->steps;
    if (!total && o->tokens) total = o->tokens / per_step + (o->tokens % per_step != 0); /* no overflow near 2^64 */
    if (!total) {
        double ep = o->epochs > 0 ? o->epochs : 1.0;
        /* converted only when it fits: an out-of-range float -> integer conversion is undefined */
        const double steps = ceil(ep * (double)ld.n_windows / ((double)o->batch * (double)o->grad_accum));
        if (!(steps < 18446744073709551616.0)) {
            st = alim_error_set(err, ALIM_EINVAL, "epochs", "%g passes over %zu windows are %g updates, more than 2^64", ep, ld.n_windows, steps);
            goto done;
        }
        total = (uint64_t)steps;
        if (!total) total = 1;
    }
    const double min_lr = o->min_lr >= 0 ? o->min_lr : o->lr / 10.0;
    res->first_step = opt.step;
    res->total_steps = total;
    res->num_params = m.num_params;
    res->shards = plan.shards;
    res->shards_set = plan.forced;
    res->ranks = plan.ranks;
    res->precision = plan.precision;
    res->train_tokens = data.n;

    size_t lpl = strlen(logpath);
    const int jsonl = lpl > 6 && !strcmp(logpath + lpl - 6, ".jsonl");
    if (o->resume && root) {
        int rewrote = 0;
        st = cut_log(logpath, jsonl, opt.step, &rewrote, err);
        if (!st && rewrote) { /* the cut log is a new file: hold it, then let the old one go */
            alim_file_lock *cut = NULL;
            st = alim_file_lock_acquire(logpath, &cut, NULL, err);
            if (!st) {
                alim_file_lock_release(log_lock);
                log_lock = cut;
            }
        }
    }
    if (multi) st = alim_dist_agree(st, err);
    if (st) goto done;
    /* the log is opened with the first row to write: a run failing before it (no data, no
     * memory for the activations) leaves no log */

    const double t0 = now_s();
    uint64_t run_tokens = 0;
    char stage[160];
    while (opt.step < total) {
        const double ts = now_s();
        alim_gpt_zero_grad(&m, err);
        double loss = 0.0;
        for (int a = 0; a < o->grad_accum && !st; a++) {
            alim_loader_next(&ld);
            /* several ranks, or a set shard count: the shards of model.c, split over the ranks */
            if (multi || plan.forced)
                st = lm_model_forward_backward_dist(&m, ld.inputs, ld.targets, o->batch, T, 1.0f / (float)o->grad_accum, plan.shards, plan.ranks, err);
            else st = alim_gpt_forward_backward(&m, ld.inputs, ld.targets, o->batch, T, 1.0f / (float)o->grad_accum, err);
            loss += (double)m.mean_loss / o->grad_accum;
        }
        if (st) break;
        // clipping is a factor on the gradients inside the update (one pass fewer over them)
        double norm = alim_grad_norm(m.grads, m.num_params);
        /* a non-finite loss or gradient stops the run before it reaches the weights */
        if (!isfinite(loss) || !isfinite(norm)) {
            st = diverged(o, opt.step + 1, isfinite(loss) ? "the gradient norm" : "the loss", isfinite(loss) ? norm : loss, kept, have_kept, err);
            break;
        }
        double lr = alim_lr_at(o->schedule, o->lr, min_lr, opt.step, o->warmup, total);
        alim_adamw_step_scaled(&opt, &o->adamw, (float)lr, m.params, m.grads, alim_grad_clip_scale(norm, o->clip), segs, n_segs);
        alim_gpt_params_changed(&m);
        tokens_seen += per_step;
        run_tokens += per_step;
        const double te = now_s();
        const double tps = (double)per_step / (te - ts > 0 ? te - ts : 1e-9);
        const uint64_t step = opt.step;
        double ev = NAN;
        const int last = step == total || (o->stop_at && step >= o->stop_at);
        int stop = 0;
        /* rank 0 alone evaluates, logs and reports; a failure leaves this block (not the
         * loop), so that every rank learns of it at the agreement below */
        if (root) do {
            if (o->n_eval && ((o->eval_every && step % o->eval_every == 0) || last)) {
                alim_eval_result er;
                st = alim_lm_evaluate(&m, NULL, &evdata, &tk, T, o->batch, NULL, NULL, &er, err);
                if (st) break;
                ev = er.n_tokens ? er.total_nats / (double)er.n_tokens : NAN;
                res->last_eval_loss = ev;
            }
            char evs[32] = "";
            if (!isnan(ev)) snprintf(evs, sizeof evs, "%.9g", ev);
            if (!log) {
                log = fopen(logpath, o->resume ? "a" : "w");
                if (!log) {
                    st = alim_error_set(err, ALIM_EIO, logpath, "cannot open the log: %s", strerror(errno));
                    break;
                }
                log_made = !o->resume;
                if (!o->resume && !jsonl) fputs(LOG_HEADER, log);
            }
            if (jsonl)
                fprintf(log, "{\"step\": %" PRIu64 ", \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, \"tokens\": %" PRIu64 ", \"tokens_per_s\": %.1f, \"elapsed_s\": %.3f, \"eval_loss\": %s}\n",
                        step, loss, lr, norm, tokens_seen, tps, te - t0, evs[0] ? evs : "null");
            else
                fprintf(log, "%" PRIu64 ",%.9g,%.9g,%.9g,%" PRIu64 ",%.1f,%.3f,%s\n", step, loss, lr, norm, tokens_seen, tps, te - t0, evs);
            /* a full disk shows at the flush (stdio buffers the rows) */
            if (fflush(log) != 0 || ferror(log)) {
                st = alim_error_set(err, ALIM_EIO, logpath, "cannot write the log: %s", strerror(errno ? errno : EIO));
                break;
            }
            if (progress && progress->fn) {
                double rate = (double)run_tokens / (te - t0 > 0 ? te - t0 : 1e-9);
                snprintf(stage, sizeof stage, "loss %.4f%s%s, %.0f tok/s, step", loss, evs[0] ? ", eval " : "", evs, rate);
                stop = alim_progress_report(progress, stage, (double)step, (double)total);
            }
        } while (0);
        if (multi) { /* rank 0's outcome and its decision to stop, for all */
            st = alim_dist_agree(st, err);
            if (!st) st = alim_dist_bcast(&stop, sizeof stop, 0, err);
        }
        if (st) break;
        res->last_loss = loss;
        res->last_step = step;
        if (!o->no_save && (last || stop || (o->save_every && step % o->save_every == 0))) {
            /* what is saved must be finite: the last good checkpoint stays otherwise */
            const size_t bad = first_non_finite(m.params, m.num_params);
            const size_t bad_m = bad < m.num_params ? 0 : first_non_finite(opt.m, opt.n);
            const size_t bad_v = bad < m.num_params || bad_m < opt.n ? 0 : first_non_finite(opt.v, opt.n);
            if (bad < m.num_params) st = diverged(o, step, "a weight", (double)m.params[bad], kept, have_kept, err);
            else if (bad_m < opt.n) st = diverged(o, step, "an AdamW first moment", (double)opt.m[bad_m], kept, have_kept, err);
            else if (bad_v < opt.n) st = diverged(o, step, "an AdamW second moment", (double)opt.v[bad_v], kept, have_kept, err);
            /* every rank holds the same model: rank 0 writes it */
            if (!st && root) st = save_all(o, &m, &tk, &opt, &ld, tokens_seen, T, &plan, err);
            if (multi) st = alim_dist_agree(st, err);
            if (st) break;
            have_kept = 1;
            kept = step;
        }
        if (last || stop) break;
    }
    res->elapsed_s = now_s() - t0;
    res->tokens_per_s = res->elapsed_s > 0 ? (double)run_tokens / res->elapsed_s : 0.0;
done:
    if (log && fclose(log) != 0 && !st) st = alim_error_set(err, ALIM_EIO, logpath, "cannot write the log: %s", strerror(errno));
    /* A new run that failed before its first checkpoint leaves nothing: not a log.csv alone,
     * nor the directory it made. */
    if (root && log_created && !log) remove(logpath); /* made at the start, never written to */
    if (st && !o->resume && !have_kept && root) {
        if (log_made && !o->log_path) remove(logpath);
        if (made_dir) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", o->out_dir, ALIM_DIR_LOCK_NAME);
            remove(p);
            rmdir(o->out_dir);
        }
    }
    alim_file_lock_release(log_lock);
    alim_dir_lock_release(lock);
    cJSON_Delete(state);
    alim_loader_free(&ld);
    alim_dataset_free(&data);
    alim_dataset_free(&evdata);
    alim_adamw_free(&opt);
    alim_tokenizer_free(&tk);
    alim_gpt_free(&m);
    return st;
}
