/* resist.c — E1: resistance, forward vs inverse alignment (see alim/resist.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/lab.h"
#include "alim/resist.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alim/checkpoint.h"
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
#include "resist_real.h"

enum { N_SLICES = 3, N_PAIRS = 3, SAMPLE_CHUNK = 128 };
static const int PAIR_K[N_PAIRS] = {1, 2, 1}, PAIR_L[N_PAIRS] = {2, 3, 3};

void alim_resist_config_default(alim_resist_config *c)
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
    c->sft_docs = 200;
    c->sft_batch = 8;
    c->sft_lr = 3e-4;
    c->n_samples = 300;
    c->sample_tokens = 128;
    c->prompt_bytes = 16;
    c->temperature = 1.0;
}

void alim_resist_config_quick(alim_resist_config *c)
{
    alim_resist_config_default(c);
    c->n_seeds = 2;
    c->n_layer = 1;
    c->n_embd = 16;
    c->n_head = 2;
    c->context = 32;
    c->pretrain_tokens = 16384;
    c->pretrain_warmup = 4;
    c->sft_docs = 20;
    c->n_samples = 24;
    c->sample_tokens = 32;
    c->prompt_bytes = 8;
    c->quick = 1;
}

/* ---- statistics ----------------------------------------------------------------------- */

double alim_sign_test_p(size_t count, size_t n)
{
    if (count == 0) return 1.0;
    if (count > n) return 0.0;
    /* sum_{i >= count} C(n,i) 2^-n in the log domain */
    double s = 0.0;
    for (size_t i = count; i <= n; i++)
        s += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) - (double)n * log(2.0));
    return s > 1.0 ? 1.0 : s;
}


void alim_resist_judge(const double *gap_raw, const double *gap_corrected, size_t n, alim_resist_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->n = n;
    size_t neg_raw = 0, neg_corr = 0;
    for (size_t i = 0; i < n; i++) {
        v->count_raw += gap_raw[i] > 0;
        v->count_corrected += gap_corrected[i] > 0;
        neg_raw += gap_raw[i] < 0;
        neg_corr += gap_corrected[i] < 0;
    }
    v->p_raw = alim_sign_test_p(v->count_raw, n);
    v->p_corrected = alim_sign_test_p(v->count_corrected, n);
    alim_lab_mean_se(gap_raw, n, &v->mean_raw, &v->se_raw);
    alim_lab_mean_se(gap_corrected, n, &v->mean_corrected, &v->se_corrected);
    v->all_raw = n > 0 && v->count_raw == n;
    v->all_corrected = n > 0 && v->count_corrected == n;
    v->sig_raw = v->p_raw <= 0.05;
    v->sig_corrected = v->p_corrected <= 0.05;
    v->gap2se_raw = v->mean_raw >= 2 * v->se_raw; /* false when the SE is NaN (n < 2) */
    v->gap2se_corrected = v->mean_corrected >= 2 * v->se_corrected;
    v->reversed = n > 0 && neg_raw == n && neg_corr == n && v->mean_raw <= -2 * v->se_raw &&
                  v->mean_corrected <= -2 * v->se_corrected && alim_sign_test_p(neg_raw, n) <= 0.05;
    if (v->all_raw && v->all_corrected && v->sig_raw && v->sig_corrected && v->gap2se_raw && v->gap2se_corrected) {
        v->verdict = "PASS";
        snprintf(v->reason, sizeof v->reason, "inverse < forward in all %zu cases, raw and entropy-corrected (p = %.3g), gaps >= 2 SE", n, v->p_raw);
        return;
    }
    if (v->reversed) {
        v->verdict = "FAIL";
        snprintf(v->reason, sizeof v->reason, "reversed: forward < inverse in all %zu cases, raw and corrected, gaps <= -2 SE", n);
        return;
    }
    v->verdict = "NULL";
    char *p = v->reason;
    size_t left = sizeof v->reason;
    int w;
#define ADD(...) do { w = snprintf(p, left, __VA_ARGS__); if (w > 0 && (size_t)w < left) { p += w; left -= (size_t)w; } } while (0)
    if (!v->all_raw) ADD("mixed signs (inverse lower in %zu of %zu); ", v->count_raw, n);
    else if (!v->sig_raw) ADD("too few cases for the sign test (p = %.3g > 0.05); ", v->p_raw);
    if (!v->gap2se_raw) ADD("mean gap %.4g < 2 SE (SE %.3g); ", v->mean_raw, v->se_raw);
    if (v->all_raw && !v->all_corrected) ADD("the gap does not survive the entropy correction (%zu of %zu); ", v->count_corrected, n);
    else if (!v->gap2se_corrected) ADD("corrected gap %.4g < 2 SE (SE %.3g); ", v->mean_corrected, v->se_corrected);
#undef ADD
    size_t len = strlen(v->reason);
    if (len >= 2) v->reason[len - 2] = '\0';
}

/* ---- helpers ---------------------------------------------------------------------------- */


static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}


/* Per-step losses from a training log (CSV "step,loss,..."). */
static alim_status read_log_losses(const char *path, double **out, size_t *n, alim_error *err)
{
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    size_t cap = 64, k = 0;
    double *v = malloc(cap * sizeof *v);
    if (!v) {
        free(buf);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "step,", 5)) continue;
        char *e;
        strtoull(line, &e, 10);
        if (*e != ',') continue;
        double loss = strtod(e + 1, NULL);
        if (k == cap) {
            double *nv = realloc(v, 2 * cap * sizeof *v);
            if (!nv) {
                free(v), free(buf);
                return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
            }
            v = nv, cap *= 2;
        }
        v[k++] = loss;
    }
    free(buf);
    if (!k) {
        free(v);
        return alim_error_set(err, ALIM_EFORMAT, path, "the training log has no steps");
    }
    *out = v;
    *n = k;
    return ALIM_OK;
}

/* ---- the cells -------------------------------------------------------------------------- */

/* What every cell reads: the configuration and the data, read-only while cells run (side by
 * side when cfg->jobs > 1). */
typedef struct {
    const alim_resist_config *cfg;
    int natural;
    const alim_corpus *pool2, *prompts;
    const char *pre_path;
    alim_resist_note_fn note;
    void *note_ctx;
    alim_precision prec;  /* resolved */
    int real;             /* a pretrained theta0 with chat data (cfg->theta0_model) */
    const rsr_inputs *in; /* its inputs */
} exper;

#define notef(x, ...) alim_lab_note((x)->note, (x)->note_ctx, __VA_ARGS__)

static void base_train_options(const exper *x, alim_train_options *o)
{
    alim_train_options_default(o);
    o->model.n_layer = x->cfg->n_layer;
    o->model.n_embd = x->cfg->n_embd;
    o->model.n_head = x->cfg->n_head;
    o->model.n_positions = x->cfg->context;
    o->context = x->cfg->context;
    o->tokenizer = "byte";
    o->clip = 1.0;
    o->precision = x->prec;
}

/* Runs alim_train and fills a result object {steps, loss_final, tokens_per_s, elapsed_s,
 * num_params, train_tokens[, losses]} */
static alim_status train_cell(const alim_cell_env *env, alim_train_options *o, int with_losses, cJSON **result, alim_error *err)
{
    alim_train_result tr;
    double t0 = alim_lab_now();
    alim_status st = alim_train(o, env->progress, &tr, err);
    if (st) return st;
    double el = alim_lab_now() - t0;
    const double tokens = (double)(tr.last_step - tr.first_step) * o->batch * o->context * o->grad_accum;
    alim_runner_count_training(env, tokens, tr.elapsed_s);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "steps", (double)tr.last_step);
    cJSON_AddNumberToObject(r, "loss_final_nats", tr.last_loss);
    cJSON_AddNumberToObject(r, "tokens", tokens);
    cJSON_AddNumberToObject(r, "tokens_per_s", tr.tokens_per_s);
    cJSON_AddNumberToObject(r, "elapsed_s", el);
    cJSON_AddNumberToObject(r, "num_params", (double)tr.num_params);
    cJSON_AddNumberToObject(r, "data_tokens", (double)tr.train_tokens);
    if (with_losses) {
        char *lp = path_join(o->out_dir, "log.csv");
        double *l = NULL;
        size_t n = 0;
        st = lp ? read_log_losses(lp, &l, &n, err) : alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        free(lp);
        if (st) {
            cJSON_Delete(r);
            return st;
        }
        cJSON_AddItemToObject(r, "losses_nats", cJSON_CreateDoubleArray(l, (int)n));
        free(l);
    }
    *result = r;
    return ALIM_OK;
}

/* The byte-level pass's updates, from the loader's windows, and the update of stop k: where
 * the pass has read the first k * sft_docs documents of pool, by their bytes (to the nearest
 * update; the last stop is the end of the pass). */
static alim_status byte_pass_plan(const exper *x, const alim_corpus *pool, const char *data, uint64_t *total_out, uint64_t *stops,
                                  alim_error *err)
{
    const alim_resist_config *cfg = x->cfg;
    alim_tokenizer tk = {0};
    alim_token_stream ds = {0};
    const char *paths[1] = {data};
    alim_status st = alim_tokenizer_init_bytes(&tk, err);
    if (!st) st = alim_dataset_load(&ds, paths, 1, ALIM_DATA_TEXT, NULL, &tk, err);
    const size_t T = (size_t)cfg->context, W = !st && ds.n > 1 ? (ds.n - 1 + T - 1) / T : 0;
    alim_dataset_free(&ds);
    alim_tokenizer_free(&tk);
    if (st) return st;
    uint64_t total = (W + (size_t)cfg->sft_batch - 1) / (size_t)cfg->sft_batch;
    if (!total) total = 1;
    double all = 0, upto[N_SLICES];
    for (size_t d = 0; d < N_SLICES * cfg->sft_docs; d++) {
        size_t l;
        alim_corpus_doc(pool, d, &l);
        all += (double)l + 1;
        if ((d + 1) % cfg->sft_docs == 0) upto[(d + 1) / cfg->sft_docs - 1] = all;
    }
    uint64_t done = 0;
    for (int k = 0; k < N_SLICES; k++) {
        uint64_t stop = k == N_SLICES - 1 ? total : (uint64_t)llround((double)total * upto[k] / all);
        if (stop <= done) stop = done + 1; /* every slice trains at least one update */
        if (stop > total) stop = total;
        stops[k] = done = stop;
    }
    *total_out = total;
    return ALIM_OK;
}

/* E1's SFT: one in-order pass over data (the first N_SLICES * sft_docs documents or records),
 * stopped after update stops[k] (byte_pass_plan, rsr_pass_plan), the model of stop k copied
 * to DIR/theta<k>. Result {total_steps, slices: [{first_step, steps, loss_final_nats,
 * losses_nats, ...}]}. */
static alim_status sft_pass(const alim_cell_env *env, const exper *x, const char *data, const char *dir, const char *theta0, uint64_t seed,
                            uint64_t total, const uint64_t *stops, cJSON **result, alim_error *err)
{
    const alim_resist_config *cfg = x->cfg;
    char tdir[4300], to[4300];
    snprintf(tdir, sizeof tdir, "%s/train", dir);
    const char *paths[1] = {data};
    alim_status st = ALIM_OK;
    cJSON *r = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(r, "slices");
    uint64_t done = 0;
    for (int k = 0; k < N_SLICES && !st; k++) {
        const uint64_t stop = stops[k];
        snprintf(to, sizeof to, "%s/theta%d", dir, k + 1);
        if (x->real && stop <= done) { /* records too short for an update of their own: theta_k = theta_(k-1) */
            cJSON *one = cJSON_CreateObject();
            cJSON_AddNumberToObject(one, "steps", (double)done);
            cJSON_AddItemToObject(one, "losses_nats", cJSON_CreateArray());
            cJSON_AddNumberToObject(one, "first_step", (double)done);
            cJSON_AddNumberToObject(one, "documents", (double)((size_t)(k + 1) * cfg->sft_docs));
            cJSON_AddItemToArray(arr, one);
            st = rsr_keep_model(tdir, to, err);
            continue;
        }
        alim_train_options o;
        base_train_options(x, &o);
        o.data = paths;
        o.n_data = 1;
        o.format = x->real ? ALIM_DATA_JSONL : ALIM_DATA_TEXT; /* real: chat records, loss on the responses */
        o.out_dir = tdir;
        o.init_dir = done ? NULL : theta0;
        o.resume = done > 0;
        o.epochs = 1;
        o.stop_at = stop;
        o.in_order = 1;
        o.batch = cfg->sft_batch;
        o.lr = cfg->sft_lr;
        o.schedule = ALIM_LR_CONSTANT;
        o.adamw.weight_decay = 0;
        o.seed = seed;
        cJSON *one = NULL;
        st = train_cell(env, &o, 1, &one, err);
        if (st) break;
        const double got = alim_lab_json_num(one, "steps");
        if (x->real && (uint64_t)got != stop) {
            cJSON_Delete(one);
            st = alim_error_set(err, ALIM_EINVAL, dir, "the pass stopped after update %.0f, planned %llu of %llu", got, (unsigned long long)stop,
                                (unsigned long long)total);
            break;
        }
        /* the log holds every update of the pass so far: keep this slice's */
        cJSON *ls = cJSON_DetachItemFromObjectCaseSensitive(one, "losses_nats");
        const int n = cJSON_GetArraySize(ls);
        double *l = malloc(((size_t)n + 1) * sizeof *l);
        size_t m = 0;
        for (int i = (int)done; i < n && l; i++) l[m++] = cJSON_GetArrayItem(ls, i)->valuedouble;
        cJSON_Delete(ls);
        if (!l) {
            cJSON_Delete(one);
            st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
            break;
        }
        cJSON_AddItemToObject(one, "losses_nats", cJSON_CreateDoubleArray(l, (int)m));
        free(l);
        cJSON_AddNumberToObject(one, "first_step", (double)done);
        cJSON_AddNumberToObject(one, "documents", (double)((size_t)(k + 1) * cfg->sft_docs));
        cJSON_AddItemToArray(arr, one);
        done = (uint64_t)alim_lab_json_num(one, "steps");
        /* real: at the end of the pass nothing resumes it (every --init starts a fresh AdamW):
         * its 1 GB of moments go, and the pass's directory becomes theta3 (540 MB not copied) */
        if (x->real && k == N_SLICES - 1) {
            char p[4400];
            remove(alim_lab_path(tdir, "optimizer.safetensors", p, sizeof p));
            if (rename(tdir, to) == 0) continue;
        }
        st = x->real ? rsr_keep_model(tdir, to, err) : alim_lab_copy_model(tdir, to, err);
    }
    if (!st && x->real) { /* the pass's directory when it could not be renamed */
        char p[4400];
        remove(alim_lab_path(tdir, "optimizer.safetensors", p, sizeof p));
        remove(alim_lab_path(tdir, "model.safetensors", p, sizeof p));
    }
    if (st) {
        cJSON_Delete(r);
        return st;
    }
    cJSON_AddNumberToObject(r, "total_steps", (double)total);
    cJSON_AddStringToObject(r, "order", x->real ? "records 1..3n of the seed's slice in order, one pass, stops after n, 2n, 3n records (by their tokens)"
                                                : "documents 1..3n in order, one pass, stops after n, 2n, 3n documents");
    *result = r;
    return ALIM_OK;
}

/* Writes documents [from, from+n) of c to path in the corpus format. */
static alim_status write_slice(const alim_corpus *c, size_t from, size_t n, const char *path, alim_error *err)
{
    alim_corpus s = {0};
    alim_status st = ALIM_OK;
    for (size_t d = from; d < from + n && !st; d++) {
        size_t len;
        const uint8_t *p = alim_corpus_doc(c, d, &len);
        st = alim_corpus_add(&s, p, len, err);
    }
    if (!st) st = alim_corpus_write(&s, path, err);
    alim_corpus_free(&s);
    return st;
}

/* Samples D_k from the model in `model_dir` into out_path (JSONL), then scores it:
 * result {docs, redrawn, tokens, mean_len, H_nats, H_tokens, tokens_per_s, elapsed_s}. */
static alim_status sample_cell(const alim_cell_env *env, const exper *x, const char *model_dir, uint64_t seed, int k,
                               const char *out_path, cJSON **result, alim_error *err)
{
    const alim_resist_config *cfg = x->cfg;
    alim_gpt m = {0};
    alim_tokenizer tk = {0};
    alim_status st = alim_checkpoint_load(model_dir, &m, &tk, NULL, err);
    if (!st) st = alim_gpt_set_precision(&m, x->prec, err);
    if (st) {
        alim_gpt_free(&m);
        alim_tokenizer_free(&tk);
        return st;
    }
    const size_t N = cfg->n_samples, P = x->natural ? cfg->prompt_bytes : 0;
    const size_t L = 1 + cfg->sample_tokens; /* BOS + document */
    const int V = m.config.vocab_size, lim = tk.vocab_size < V ? tk.vocab_size : V;
    int32_t *rows = malloc(N * L * sizeof *rows), *packed = malloc((size_t)SAMPLE_CHUNK * L * sizeof *packed);
    size_t *len = calloc(N, sizeof *len), *pending = malloc(N * sizeof *pending);
    alim_rng *rngs = malloc(N * sizeof *rngs);
    if (!rows || !packed || !len || !pending || !rngs) st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    size_t n_pending = N, redrawn = 0, generated = 0;
    for (size_t i = 0; i < N && !st; i++) {
        pending[i] = i;
        alim_rng_seed(&rngs[i], seed, ((uint64_t)0x45310000u + (uint64_t)k) << 24 | i);
    }
    const double t0 = alim_lab_now();
    double work = 0;
    for (int round = 0; n_pending && !st; round++) {
        if (round >= 50) {
            st = alim_error_set(err, ALIM_EINVAL, model_dir, "after 50 rounds %zu samples still contain a NUL byte or are empty", n_pending);
            break;
        }
        size_t next_pending = 0;
        for (size_t c0 = 0; c0 < n_pending && !st; c0 += SAMPLE_CHUNK) {
            const size_t nb = n_pending - c0 < SAMPLE_CHUNK ? n_pending - c0 : SAMPLE_CHUNK;
            /* the chunk's rows side by side, each with its own stream (continued on a redraw) */
            alim_rng crng[SAMPLE_CHUNK];
            size_t clen[SAMPLE_CHUNK];
            for (size_t b = 0; b < nb; b++) {
                size_t i = pending[c0 + b];
                int32_t *r = packed + b * L;
                for (size_t j = 0; j < L; j++) r[j] = tk.eot;
                if (P) {
                    size_t pl;
                    const uint8_t *pd = alim_corpus_doc(x->prompts, i, &pl);
                    for (size_t j = 0; j < P; j++) r[1 + j] = tk.byte_id[pd[j]];
                }
                crng[b] = rngs[i];
            }
            st = alim_lm_sample_batch(&m, packed, nb, L, 1 + P, tk.eot, cfg->temperature, lim, crng, clen, err);
            if (st) break;
            for (size_t b = 0; b < nb; b++) {
                size_t i = pending[c0 + b];
                memcpy(rows + i * L, packed + b * L, L * sizeof *rows);
                len[i] = clen[b];
                rngs[i] = crng[b];
                generated += clen[b] - (1 + P) + (clen[b] < L);
            }
            work += (double)nb;
            if (round == 0) alim_progress_report(env->progress, "sampling", work / (double)N > 1 ? 1 : work / (double)N, 1);
            /* a document that cannot be stored is drawn again with the sample's stream */
            for (size_t b = 0; b < nb && !st; b++) {
                size_t i = pending[c0 + b];
                int okdoc = len[i] > 1 + P || P > 0;
                for (size_t j = 1; j < len[i] && okdoc; j++) {
                    size_t bl;
                    const char *s = alim_tokenizer_decode(&tk, rows[i * L + j], &bl);
                    if (!s || bl == 0 || memchr(s, 0, bl)) okdoc = 0;
                }
                if (!okdoc) {
                    pending[next_pending++] = i;
                    redrawn++;
                }
            }
        }
        n_pending = next_pending;
    }
    const double el = alim_lab_now() - t0;
    /* write D_k as JSONL {"prompt", "response"} */
    size_t tokens = 0;
    if (!st) {
        alim_atomic_file f = {0};
        st = alim_atomic_open(&f, out_path, err);
        char *text = malloc(4 * L + 1);
        if (!st && !text) {
            alim_atomic_abort(&f);
            st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        }
        for (size_t i = 0; i < N && !st; i++) {
            size_t tl = 0, pl = 0;
            for (size_t j = 1; j < len[i]; j++) {
                size_t bl;
                const char *s = alim_tokenizer_decode(&tk, rows[i * L + j], &bl);
                memcpy(text + tl, s, bl);
                tl += bl;
                if (j == P) pl = tl;
            }
            text[tl] = '\0';
            tokens += len[i] - 1 - P;
            cJSON *o = cJSON_CreateObject();
            char save = text[pl];
            text[pl] = '\0';
            cJSON_AddStringToObject(o, "prompt", text);
            text[pl] = save;
            cJSON_AddStringToObject(o, "response", text + pl);
            char *line = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);
            if (!line) {
                st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
                break;
            }
            fputs(line, f.fp);
            fputc('\n', f.fp);
            free(line);
        }
        free(text);
        if (!st) st = alim_atomic_commit(&f, err);
        else if (f.fp) alim_atomic_abort(&f);
    }
    /* H_k: the model's own loss on D_k (only the continuation is scored) */
    alim_token_stream ds = {0};
    alim_eval_result er = {0};
    if (!st) {
        const char *paths[1] = {out_path};
        st = alim_dataset_load(&ds, paths, 1, ALIM_DATA_JSONL, NULL, &tk, err);
    }
    if (!st) st = alim_lm_evaluate(&m, NULL, &ds, &tk, x->cfg->context, 16, NULL, NULL, &er, err);
    if (!st) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "docs", (double)N);
        cJSON_AddNumberToObject(r, "redrawn", (double)redrawn);
        cJSON_AddNumberToObject(r, "tokens", (double)tokens);
        cJSON_AddNumberToObject(r, "mean_len", N ? (double)tokens / (double)N : 0);
        cJSON_AddNumberToObject(r, "H_nats", er.n_tokens ? er.total_nats / (double)er.n_tokens : NAN);
        cJSON_AddNumberToObject(r, "H_tokens", (double)er.n_tokens);
        cJSON_AddNumberToObject(r, "sampled_tokens_per_s", el > 0 ? (double)generated / el : 0);
        cJSON_AddNumberToObject(r, "elapsed_s", el);
        *result = r;
    }
    alim_dataset_free(&ds);
    free(rows), free(packed), free(len), free(pending), free(rngs);
    alim_tokenizer_free(&tk);
    alim_gpt_free(&m);
    return st;
}

/* ---- the experiment --------------------------------------------------------------------- */

static cJSON *make_config(const alim_resist_config *c, const char *source, const char *data_hash)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data_source", source);
    cJSON_AddStringToObject(o, "data_manifest_hash", data_hash);
    const alim_lab_base base = {c->n_layer, c->n_embd, c->n_head, c->context, c->pretrain_tokens, c->pretrain_batch,
                                c->pretrain_lr, c->pretrain_min_lr, c->pretrain_weight_decay, c->pretrain_warmup};
    alim_lab_add_base_config(o, &base);
    cJSON *s = cJSON_AddObjectToObject(o, "sft");
    cJSON_AddNumberToObject(s, "docs_per_slice", (double)c->sft_docs);
    cJSON_AddNumberToObject(s, "slices", N_SLICES);
    cJSON_AddNumberToObject(s, "batch", c->sft_batch);
    cJSON_AddNumberToObject(s, "lr", c->sft_lr);
    cJSON_AddStringToObject(s, "schedule", "constant");
    cJSON_AddNumberToObject(s, "weight_decay", 0);
    cJSON_AddStringToObject(s, "moments", "one pass in document order, AdamW carried across the slices");
    cJSON *g = cJSON_AddObjectToObject(o, "samples");
    cJSON_AddNumberToObject(g, "n", (double)c->n_samples);
    cJSON_AddNumberToObject(g, "tokens", (double)c->sample_tokens);
    cJSON_AddNumberToObject(g, "prompt_bytes", (double)c->prompt_bytes);
    cJSON_AddNumberToObject(g, "temperature", c->temperature);
    cJSON_AddBoolToObject(o, "quick", c->quick);
    return o;
}

static alim_status check_config(const alim_resist_config *c, alim_error *err)
{
    if (!c->data_dir) return alim_error_set(err, ALIM_EINVAL, "--data", "no data directory given");
    if (!c->run_dir) return alim_error_set(err, ALIM_EINVAL, "--run", "no run directory given");
    if (c->n_seeds < 1 || c->n_seeds > 1000) return alim_error_set(err, ALIM_EINVAL, "--seeds", "must be in [1, 1000]");
    if (c->context < 2) return alim_error_set(err, ALIM_EINVAL, "--context", "must be >= 2");
    if (!(c->sft_lr > 0 && c->sft_lr < 1)) return alim_error_set(err, ALIM_EINVAL, "--lr", "must be in (0, 1)");
    if (c->theta0_model) return ALIM_OK; /* check_real, once the data are known to be chats */
    if (c->pretrain_tokens < 1) return alim_error_set(err, ALIM_EINVAL, "--pretrain-tokens", "must be >= 1");
    if (c->sft_docs < 1) return alim_error_set(err, ALIM_EINVAL, "--sft-docs", "must be >= 1");
    if (c->n_samples < 1) return alim_error_set(err, ALIM_EINVAL, "--samples", "must be >= 1");
    if (c->sample_tokens < 1 || c->sample_tokens > (size_t)c->context)
        return alim_error_set(err, ALIM_EINVAL, "--sample-tokens", "%zu must be in [1, context = %d]", c->sample_tokens, c->context);
    if (!(c->temperature > 0 && isfinite(c->temperature))) return alim_error_set(err, ALIM_EINVAL, "--temperature", "must be > 0");
    if (c->pretrain_batch < 1 || c->sft_batch < 1) return alim_error_set(err, ALIM_EINVAL, "--batch", "must be >= 1");
    return ALIM_OK;
}

/* a pretrained theta0: no pretraining; replies end at the end of turn, not at the context */
static alim_status check_real(const alim_resist_config *c, alim_error *err)
{
    if (c->sft_docs < 1) return alim_error_set(err, ALIM_EINVAL, "--sft-docs", "must be >= 1");
    if (c->n_samples < 1) return alim_error_set(err, ALIM_EINVAL, "--samples", "must be >= 1");
    if (c->sample_tokens < 1) return alim_error_set(err, ALIM_EINVAL, "--sample-tokens", "must be >= 1");
    if (!(c->temperature > 0 && isfinite(c->temperature))) return alim_error_set(err, ALIM_EINVAL, "--temperature", "must be > 0");
    if (c->sft_batch < 1) return alim_error_set(err, ALIM_EINVAL, "--batch", "must be >= 1");
    if (c->pos_slice < 1) return alim_error_set(err, ALIM_EINVAL, "pos_slice", "must be >= 1");
    return ALIM_OK;
}

typedef struct {
    double H[N_SLICES + 1]; /* H_k of D_k, set when cell D_k is told done */
} seedres;

/* one cell's argument */
typedef struct {
    const exper *x;
    seedres *sr;
    size_t seed;
    int k, l, dir;       /* slice (D_k), or pair (k, l) and direction (0 forward, 1 inverse) */
    char from[4200];     /* the model the cell starts from or samples */
    char data[4200];     /* fine-tuning: the D_l (forward) or D_k (inverse) it trains on */
} cell_arg;

static alim_status theta0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const cell_arg *a = arg;
    const alim_resist_config *cfg = a->x->cfg;
    alim_train_options o;
    base_train_options(a->x, &o);
    const char *data[1] = {a->x->pre_path};
    o.data = data;
    o.n_data = 1;
    o.format = ALIM_DATA_TEXT;
    o.out_dir = env->dir;
    o.tokens = cfg->pretrain_tokens;
    o.batch = cfg->pretrain_batch;
    o.lr = cfg->pretrain_lr;
    o.min_lr = cfg->pretrain_min_lr;
    o.schedule = ALIM_LR_COSINE;
    o.warmup = cfg->pretrain_warmup;
    o.adamw.weight_decay = (float)cfg->pretrain_weight_decay;
    o.seed = a->seed;
    return train_cell(env, &o, 0, result, err);
}

/* theta1..3: ONE pass over pool_c2 documents 1..3n in document order (fresh AdamW once, lr
 * constant), stopped and resumed bit for bit where it has read the first n, 2n, 3n documents;
 * theta_k = the model at the k-th stop (spec §4.5: "save theta1..3 after 200, 400 and 600
 * documents") */
static alim_status sft_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const cell_arg *a = arg;
    const exper *x = a->x;
    char path[4200];
    uint64_t total = 0, stops[N_SLICES];
    snprintf(path, sizeof path, "%s/data.%s", env->dir, x->real ? "jsonl" : "txt");
    alim_status st = x->real ? rsr_pass_plan(x->cfg, x->in, a->seed, N_SLICES, path, &total, stops, err)
                             : write_slice(x->pool2, 0, N_SLICES * x->cfg->sft_docs, path, err);
    if (!st && !x->real) st = byte_pass_plan(x, x->pool2, path, &total, stops, err);
    if (!st) st = sft_pass(env, x, path, env->dir, a->from, a->seed, total, stops, result, err);
    return st;
}

static alim_status d_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const cell_arg *a = arg;
    char path[4200];
    snprintf(path, sizeof path, "%s/D.jsonl", env->dir);
    if (a->x->real) return rsr_sample_d(a->x->cfg, a->x->in, a->x->prec, a->from, a->seed, a->k, path, env->progress, result, err);
    return sample_cell(env, a->x, a->from, a->seed, a->k, path, result, err);
}

/* forward: theta_k on D_l; inverse: theta_l on D_k */
static alim_status ft_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const cell_arg *a = arg;
    const alim_resist_config *cfg = a->x->cfg;
    alim_train_options o;
    base_train_options(a->x, &o);
    const char *data[1] = {a->data};
    o.data = data;
    o.n_data = 1;
    o.format = ALIM_DATA_JSONL;
    o.out_dir = env->dir;
    o.init_dir = a->from;
    o.epochs = 1;
    o.batch = cfg->sft_batch;
    o.lr = cfg->sft_lr;
    o.schedule = ALIM_LR_CONSTANT;
    o.adamw.weight_decay = 0;
    o.seed = a->seed;
    if (a->x->real) {
        o.in_order = 1; /* the recipe of docs/real-elasticity.md §3 */
        o.no_save = 1;  /* only the per-update losses are wanted, not 2 GB of weights and moments */
    }
    return train_cell(env, &o, 1, result, err);
}

/* the first, mean and last of a fine-tuning's losses; their count */
static int loss_stats(const cJSON *result, double *first, double *mean, double *last)
{
    const cJSON *ls = cJSON_GetObjectItemCaseSensitive(result, "losses_nats");
    const int n = cJSON_GetArraySize(ls);
    double sum = 0;
    *first = *last = NAN;
    for (int i = 0; i < n; i++) {
        const double v = cJSON_GetArrayItem(ls, i)->valuedouble;
        sum += v;
        if (i == 0) *first = v;
        *last = v;
    }
    *mean = n ? sum / n : NAN;
    return n;
}

#define DONE(reused) ((reused) ? "reused" : "done")

static void note_theta0(void *arg, const char *name, const cJSON *r, int reused)
{
    notef(((const cell_arg *)arg)->x, "%s: %s, %.0f steps, final loss %.4f nats, %.0f tokens/s, %.1f s", name, DONE(reused),
          alim_lab_json_num(r, "steps"), alim_lab_json_num(r, "loss_final_nats"), alim_lab_json_num(r, "tokens_per_s"),
          alim_lab_json_num(r, "elapsed_s"));
}

static void note_sft(void *arg, const char *name, const cJSON *result, int reused)
{
    const cell_arg *a = arg;
    (void)name;
    const cJSON *sl = cJSON_GetObjectItemCaseSensitive(result, "slices");
    for (int k = 1; k <= N_SLICES; k++) {
        const cJSON *r = cJSON_GetArrayItem(sl, k - 1);
        const size_t first = (size_t)(k - 1) * a->x->cfg->sft_docs + 1, last = (size_t)k * a->x->cfg->sft_docs;
        if (a->x->real) /* the seed's slice of the positive pool */
            notef(a->x, "s%zu-theta%d: %s, updates %.0f..%.0f on %s records %zu..%zu in order, final loss %.4f nats", a->seed, k, DONE(reused),
                  alim_lab_json_num(r, "first_step") + 1, alim_lab_json_num(r, "steps"), a->x->in->pos_pool, (a->seed - 1) * a->x->cfg->pos_slice + first,
                  (a->seed - 1) * a->x->cfg->pos_slice + last, alim_lab_json_num(r, "loss_final_nats"));
        else
            notef(a->x, "s%zu-theta%d: %s, updates %.0f..%.0f on pool_c2 documents %zu..%zu in order, final loss %.4f nats", a->seed, k,
                  DONE(reused), alim_lab_json_num(r, "first_step") + 1, alim_lab_json_num(r, "steps"), first, last, alim_lab_json_num(r, "loss_final_nats"));
    }
}

static void note_d(void *arg, const char *name, const cJSON *r, int reused)
{
    const cell_arg *a = arg;
    a->sr->H[a->k] = alim_lab_json_num(r, "H_nats");
    if (a->x->real) {
        notef(a->x, "%s: %s, %.0f replies to prompts.txt, mean length %.1f tokens (positive %.0f, negative %.0f, neutral %.0f), H_%d = %.4f nats/token",
              name, DONE(reused), alim_lab_json_num(r, "docs"), alim_lab_json_num(r, "mean_len"), alim_lab_json_num(r, "positive"),
              alim_lab_json_num(r, "negative"), alim_lab_json_num(r, "neutral"), a->k, a->sr->H[a->k]);
        return;
    }
    notef(a->x, "%s: %s, %.0f documents (%.0f redrawn), mean length %.1f, H_%d = %.4f nats/token", name, DONE(reused),
          alim_lab_json_num(r, "docs"), alim_lab_json_num(r, "redrawn"), alim_lab_json_num(r, "mean_len"), a->k, a->sr->H[a->k]);
}

static void note_ft(void *arg, const char *name, const cJSON *r, int reused)
{
    const cell_arg *a = arg;
    double first, mean, last;
    const int n = loss_stats(r, &first, &mean, &last);
    const double H = a->sr->H[a->dir ? a->k : a->l]; /* D_k's cell is a dependency: told before */
    notef(a->x, "%s: %s, %d steps, loss initial %.4f mean %.4f final %.4f nats (excess %.4f)", name, DONE(reused), n, first, mean, last,
          mean - H);
}


alim_status alim_resist_run(const alim_resist_config *cfg, const alim_progress *progress, alim_resist_note_fn note,
                            void *note_ctx, alim_resist_result *res, alim_error *err)
{
    memset(res, 0, sizeof *res);
    alim_status st = check_config(cfg, err);
    if (st) return st;
    const double t_start = alim_lab_now();
    exper x = {cfg, 0, NULL, NULL, NULL, note, note_ctx, ALIM_PRECISION_FP32, 0, NULL};
    st = alim_precision_select(cfg->precision, &x.prec, err);
    if (st) return st;
    rsr_inputs in; /* the real path's */
    memset(&in, 0, sizeof in);
    x.in = &in;
    alim_rundir *rd = NULL;
    alim_runner *runner = NULL;
    cell_arg *args = NULL;
    size_t *cix = NULL;

    /* the data directory */
    char *man_path = path_join(cfg->data_dir, "manifest.json");
    char *pre_path = path_join(cfg->data_dir, "pretrain.txt");
    char *pool2_path = path_join(cfg->data_dir, "pool_c2.txt");
    char *pool1_path = path_join(cfg->data_dir, "pool_c1.txt");
    cJSON *man = NULL, *config = NULL, *summary = NULL;
    alim_corpus pool2 = {0}, pool1 = {0};
    double *gap_raw = NULL, *gap_corr = NULL;
    seedres *sr = NULL;
    const char *source = "synthetic";
    char data_hash[17];
    if (!man_path || !pre_path || !pool2_path || !pool1_path) {
        st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        goto out;
    }
    st = alim_json_read_file(man_path, &man, err);
    if (st) {
        if (st == ALIM_EIO) st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "not a data directory (no readable manifest.json; make one with 'alim data synthetic --out DIR')");
        goto out;
    }
    const cJSON *fmtj = cJSON_GetObjectItemCaseSensitive(man, "format");
    x.real = cJSON_IsString(fmtj) && !strcmp(fmtj->valuestring, "alim-behaviour-data/1");
    if (x.real && !cfg->theta0_model)
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "behaviour data (alim data behaviours) go with a pretrained theta0 model: 'alim elastic resist --theta0 MODEL'");
    else if (!x.real && cfg->theta0_model)
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "a pretrained theta0 (%s) needs the chat data of 'alim data behaviours --out DIR'", cfg->theta0_model);
    if (st) goto out;
    alim_json_hash(man, data_hash);
    if (x.real) {
        source = "behaviours";
        x.natural = 1;
        st = check_real(cfg, err);
        if (!st) st = rsr_load(cfg, man, &in, err);
        if (st) goto out;
        goto loaded;
    }
    const cJSON *srcj = cJSON_GetObjectItemCaseSensitive(man, "source");
    if (cJSON_IsString(srcj)) source = srcj->valuestring;
    x.natural = strcmp(source, "synthetic") != 0;
    st = alim_corpus_read(&pool2, pool2_path, err);
    if (!st && pool2.n_docs < N_SLICES * cfg->sft_docs)
        st = alim_error_set(err, ALIM_EINVAL, pool2_path, "has %zu documents, the SFT needs %d x %zu (use --sft-docs or a larger --pool-docs)",
                            pool2.n_docs, N_SLICES, cfg->sft_docs);
    if (!st && x.natural) {
        st = alim_corpus_read(&pool1, pool1_path, err);
        if (!st && pool1.n_docs < cfg->n_samples)
            st = alim_error_set(err, ALIM_EINVAL, pool1_path, "has %zu documents, fewer than the %zu prompts needed (--samples)", pool1.n_docs, cfg->n_samples);
        for (size_t d = 0; d < cfg->n_samples && !st; d++) {
            size_t l;
            alim_corpus_doc(&pool1, d, &l);
            if (l < cfg->prompt_bytes)
                st = alim_error_set(err, ALIM_EINVAL, pool1_path, "document %zu has %zu bytes, fewer than --prompt-bytes %zu", d + 1, l, cfg->prompt_bytes);
        }
        if (!st && cfg->prompt_bytes >= cfg->sample_tokens)
            st = alim_error_set(err, ALIM_EINVAL, "--prompt-bytes", "%zu leaves no continuation of --sample-tokens %zu", cfg->prompt_bytes, cfg->sample_tokens);
    }
    if (st) goto out;
    x.pool2 = &pool2;
    x.prompts = &pool1;

loaded:
    config = x.real ? rsr_make_config(cfg, data_hash, &in) : make_config(cfg, source, data_hash);
    if (!config) {
        st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        goto out;
    }
    alim_lab_add_precision(config, x.prec);
    st = alim_rundir_open(cfg->run_dir, "elastic-resist", config, &rd, err);
    if (st) goto out;

    /* the cells, in the order a single worker runs them, and their estimated cost
     * (thousands of training-token equivalents) */
    const size_t S = cfg->n_seeds;
    const double c_pre = (double)cfg->pretrain_tokens / 1000.0;
    const double c_sft = (double)cfg->sft_docs * (double)(cfg->sample_tokens + 1) / 1000.0 + 0.001;
    const double c_smp = (double)cfg->n_samples * (double)(cfg->sample_tokens + 1) * (double)(cfg->sample_tokens + 1) / 6.0 / 1000.0 + 0.001;
    const double c_ft = (double)cfg->n_samples * (double)(cfg->sample_tokens + 1) / 1000.0 + 0.001;
    enum { PER_SEED = 2 + N_SLICES + 2 * N_PAIRS }; /* theta0, sft, D1..D3, the pairs' two directions */
    x.pre_path = pre_path;
    const alim_runner_options ro = {"E1", progress, cfg->jobs > 0 ? cfg->jobs : 1};
    st = alim_runner_create(rd, &ro, &runner, err);
    if (st) goto out;
    sr = calloc(S, sizeof *sr);
    args = calloc(S * PER_SEED, sizeof *args);
    cix = calloc(S * PER_SEED, sizeof *cix);
    if (!sr || !args || !cix) {
        st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        goto out;
    }
    char cell[64];
    for (size_t s = 1; s <= S; s++) {
        cell_arg *a = &args[(s - 1) * PER_SEED];
        size_t *ix = &cix[(s - 1) * PER_SEED];
        for (int q = 0; q < PER_SEED; q++) a[q] = (cell_arg){&x, &sr[s - 1], s, 0, 0, 0, "", ""};
        if (x.real) { /* theta0 is the model given: no cell of its own */
            ix[0] = (size_t)-1;
            snprintf(a[1].from, sizeof a[1].from, "%s", cfg->theta0_model);
        } else {
            snprintf(cell, sizeof cell, "s%zu-theta0", s);
            ix[0] = alim_runner_add(runner, cell, c_pre, theta0_cell, &a[0], note_theta0, NULL, 0);
            snprintf(a[1].from, sizeof a[1].from, "%s/cells/%s", cfg->run_dir, cell);
        }
        snprintf(cell, sizeof cell, "s%zu-sft", s);
        ix[1] = alim_runner_add(runner, cell, N_SLICES * c_sft, sft_cell, &a[1], note_sft, &ix[0], x.real ? 0 : 1);
        for (int k = 1; k <= N_SLICES; k++) {
            a[1 + k].k = k;
            snprintf(a[1 + k].from, sizeof a[1 + k].from, "%s/cells/s%zu-sft/theta%d", cfg->run_dir, s, k);
            snprintf(cell, sizeof cell, "s%zu-D%d", s, k);
            ix[1 + k] = alim_runner_add(runner, cell, c_smp, d_cell, &a[1 + k], note_d, &ix[1], 1);
        }
        for (int p = 0; p < N_PAIRS; p++)
            for (int dir = 0; dir < 2; dir++) {
                const int k = PAIR_K[p], l = PAIR_L[p], from = dir ? l : k, to = dir ? k : l;
                cell_arg *f = &a[2 + N_SLICES + 2 * p + dir];
                f->k = k, f->l = l, f->dir = dir;
                snprintf(f->from, sizeof f->from, "%s/cells/s%zu-sft/theta%d", cfg->run_dir, s, from);
                snprintf(f->data, sizeof f->data, "%s/cells/s%zu-D%d/D.jsonl", cfg->run_dir, s, to);
                snprintf(cell, sizeof cell, "s%zu-ft%d%d-%s", s, k, l, dir ? "inverse" : "forward");
                const size_t deps[2] = {ix[1], ix[1 + to]};
                ix[2 + N_SLICES + 2 * p + dir] = alim_runner_add(runner, cell, c_ft, ft_cell, f, note_ft, deps, 2);
            }
    }
    st = alim_runner_run(runner, err);
    if (st) goto out;
    alim_runner_stats rs;
    alim_runner_get_stats(runner, &rs);
    res->cells_total = rs.total;
    res->cells_run = rs.run;
    res->cells_reused = rs.reused;
    if (!alim_runner_writes(runner)) goto out; /* under MPI the summary is rank 0's */

    /* the results, read back in a fixed order */
    gap_raw = calloc(S * N_PAIRS, sizeof *gap_raw);
    gap_corr = calloc(S * N_PAIRS, sizeof *gap_corr);
    summary = cJSON_CreateObject();
    if (!gap_raw || !gap_corr || !summary) {
        st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        goto out;
    }
    cJSON *pairs_json = cJSON_CreateArray();
    cJSON *seeds_json = cJSON_CreateArray();
    char *curves_path = path_join(cfg->run_dir, "curves.csv");
    alim_atomic_file curves = {0};
    st = curves_path ? alim_atomic_open(&curves, curves_path, err) : alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    free(curves_path);
    if (st) {
        cJSON_Delete(pairs_json);
        cJSON_Delete(seeds_json);
        goto out;
    }
    fprintf(curves.fp, "pair,seed,direction,step,loss_nats\n");
    double num_params = NAN;
    size_t ncase = 0;
    /* a result that cannot be read (alim_runner_result sets err) ends the reading */
#define GET(dst, cell) do { if (!((dst) = alim_runner_result(runner, (cell), err))) { st = err->status ? err->status : ALIM_EIO; goto read_end; } } while (0)
    for (size_t s = 1; s <= S && !st; s++) {
        const size_t *ix = &cix[(s - 1) * PER_SEED];
        cJSON *sj = cJSON_CreateObject(), *result;
        cJSON_AddNumberToObject(sj, "seed", (double)s);
        cJSON_AddItemToArray(seeds_json, sj);
        if (x.real) {
            num_params = (double)in.num_params;
            cJSON_AddStringToObject(sj, "theta0_model", cfg->theta0_model);
        } else {
            GET(result, ix[0]);
            num_params = alim_lab_json_num(result, "num_params");
            cJSON_AddItemToObject(sj, "theta0", result);
        }
        GET(result, ix[1]);
        const cJSON *sl = cJSON_GetObjectItemCaseSensitive(result, "slices");
        for (int k = 1; k <= N_SLICES; k++) {
            char key[32];
            snprintf(key, sizeof key, "theta%d", k);
            cJSON_AddItemToObject(sj, key, cJSON_Duplicate(cJSON_GetArrayItem(sl, k - 1), 1));
        }
        cJSON_Delete(result);
        for (int k = 1; k <= N_SLICES; k++) {
            GET(result, ix[1 + k]);
            sr[s - 1].H[k] = alim_lab_json_num(result, "H_nats");
            char key[32];
            snprintf(key, sizeof key, "D%d", k);
            cJSON_AddItemToObject(sj, key, result);
        }
        /* the fine-tuning pairs */
        for (int p = 0; p < N_PAIRS; p++) {
            const int k = PAIR_K[p], l = PAIR_L[p];
            double mean[2] = {NAN, NAN};
            cJSON *pj = cJSON_CreateObject();
            char pname[32];
            snprintf(pname, sizeof pname, "%d-%d", k, l);
            cJSON_AddStringToObject(pj, "pair", pname);
            cJSON_AddNumberToObject(pj, "k", k);
            cJSON_AddNumberToObject(pj, "l", l);
            cJSON_AddNumberToObject(pj, "seed", (double)s);
            cJSON_AddItemToArray(pairs_json, pj);
            for (int dir = 0; dir < 2; dir++) {
                const int to = dir ? k : l;
                const char *dname = dir ? "inverse" : "forward";
                GET(result, ix[2 + N_SLICES + 2 * p + dir]);
                const cJSON *ls = cJSON_GetObjectItemCaseSensitive(result, "losses_nats");
                double first, last;
                const int n = loss_stats(result, &first, &mean[dir], &last);
                for (int i = 0; i < n; i++) fprintf(curves.fp, "%s,%zu,%s,%d,%.9g\n", pname, s, dname, i + 1, cJSON_GetArrayItem(ls, i)->valuedouble);
                const double H = sr[s - 1].H[to];
                cJSON *dj = cJSON_AddObjectToObject(pj, dname);
                cJSON_AddStringToObject(dj, "model", dir ? (l == 2 ? "theta2" : "theta3") : (k == 1 ? "theta1" : "theta2"));
                char dn[32];
                snprintf(dn, sizeof dn, "D%d", to);
                cJSON_AddStringToObject(dj, "data", dn);
                cJSON_AddNumberToObject(dj, "steps", n);
                cJSON_AddNumberToObject(dj, "initial_nats", first);
                cJSON_AddNumberToObject(dj, "mean_nats", mean[dir]);
                cJSON_AddNumberToObject(dj, "final_nats", last);
                cJSON_AddNumberToObject(dj, "target_entropy_nats", H);
                cJSON_AddNumberToObject(dj, "excess_nats", mean[dir] - H);
                cJSON_AddNumberToObject(dj, "excess_initial_nats", first - H);
                cJSON_AddNumberToObject(dj, "excess_final_nats", last - H);
                cJSON_AddNumberToObject(dj, "tokens_per_s", alim_lab_json_num(result, "tokens_per_s"));
                cJSON_Delete(result);
            }
            const double g = mean[0] - mean[1];
            const double gc = (mean[0] - sr[s - 1].H[l]) - (mean[1] - sr[s - 1].H[k]);
            gap_raw[ncase] = g;
            gap_corr[ncase] = gc;
            ncase++;
            cJSON_AddNumberToObject(pj, "gap_nats", g);
            cJSON_AddNumberToObject(pj, "gap_corrected_nats", gc);
            cJSON_AddBoolToObject(pj, "inverse_lower", g > 0);
            cJSON_AddBoolToObject(pj, "inverse_lower_corrected", gc > 0);
        }
    }
read_end:
#undef GET
    if (st) {
        alim_atomic_abort(&curves);
        cJSON_Delete(pairs_json);
        cJSON_Delete(seeds_json);
        goto out;
    }
    st = alim_atomic_commit(&curves, err);
    if (st) {
        cJSON_Delete(pairs_json);
        cJSON_Delete(seeds_json);
        goto out;
    }
    alim_resist_judge(gap_raw, gap_corr, ncase, &res->verdict);
    res->wall_s = alim_lab_now() - t_start;
    res->train_tokens_per_s = rs.train_s > 0 ? rs.train_tokens / rs.train_s : 0;

    /* the summary */
    const alim_resist_verdict *v = &res->verdict;
    cJSON_AddStringToObject(summary, "experiment", x.real ? "E1 resistance on a pretrained model (elastic resist --theta0 MODEL)" : "E1 resistance (elastic resist)");
    cJSON_AddStringToObject(summary, "data_dir", cfg->data_dir);
    if (x.real) {
        cJSON_AddStringToObject(summary, "theta0_model", cfg->theta0_model);
        alim_lab_add_num(summary, "classifier_accuracy", in.nb_accuracy);
    }
    cJSON_AddStringToObject(summary, "run_dir", cfg->run_dir);
    cJSON_AddStringToObject(summary, "source", source);
    char hash[17];
    alim_json_hash(config, hash);
    cJSON_AddStringToObject(summary, "config_hash", hash);
    cJSON_AddItemToObject(summary, "config", cJSON_Duplicate(config, 1));
    cJSON_AddNumberToObject(summary, "seeds", (double)S);
    cJSON_AddNumberToObject(summary, "num_params", num_params);
    cJSON *cells = cJSON_AddObjectToObject(summary, "cells");
    cJSON_AddNumberToObject(cells, "total", (double)res->cells_total);
    cJSON_AddNumberToObject(cells, "run", (double)res->cells_run);
    cJSON_AddNumberToObject(cells, "reused", (double)res->cells_reused);
    cJSON_AddNumberToObject(summary, "wall_s", res->wall_s);
    cJSON_AddNumberToObject(summary, "train_tokens_per_s", res->train_tokens_per_s);
    cJSON_AddItemToObject(summary, "per_seed", seeds_json);
    cJSON_AddItemToObject(summary, "pairs", pairs_json);
    cJSON *t = cJSON_AddObjectToObject(summary, "sign_test");
    cJSON_AddNumberToObject(t, "n", (double)v->n);
    cJSON_AddNumberToObject(t, "inverse_lower", (double)v->count_raw);
    cJSON_AddNumberToObject(t, "p_value", v->p_raw);
    cJSON_AddNumberToObject(t, "mean_gap_nats", v->mean_raw);
    if (isnan(v->se_raw)) cJSON_AddNullToObject(t, "se_gap_nats");
    else cJSON_AddNumberToObject(t, "se_gap_nats", v->se_raw);
    cJSON_AddNumberToObject(t, "inverse_lower_corrected", (double)v->count_corrected);
    cJSON_AddNumberToObject(t, "p_value_corrected", v->p_corrected);
    cJSON_AddNumberToObject(t, "mean_gap_corrected_nats", v->mean_corrected);
    if (isnan(v->se_corrected)) cJSON_AddNullToObject(t, "se_gap_corrected_nats");
    else cJSON_AddNumberToObject(t, "se_gap_corrected_nats", v->se_corrected);
    cJSON *cr = cJSON_AddObjectToObject(summary, "criteria");
    cJSON_AddStringToObject(cr, "all_inverse_lower", v->all_raw ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "sign_test_p_le_0.05", v->sig_raw ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "gap_ge_2se", v->gap2se_raw ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "all_inverse_lower_corrected", v->all_corrected ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "sign_test_corrected_p_le_0.05", v->sig_corrected ? "PASS" : "FAIL");
    cJSON_AddStringToObject(cr, "gap_corrected_ge_2se", v->gap2se_corrected ? "PASS" : "FAIL");
    cJSON_AddStringToObject(summary, "verdict", v->verdict);
    cJSON_AddStringToObject(summary, "verdict_reason", v->reason);

    /* RUN/summary.csv and RUN/summary.json */
    {
        char *sp = path_join(cfg->run_dir, "summary.csv");
        alim_atomic_file f = {0};
        st = sp ? alim_atomic_open(&f, sp, err) : alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        free(sp);
        if (st) goto out;
        fprintf(f.fp, "pair,seed,forward_steps,forward_initial_nats,forward_mean_nats,forward_final_nats,forward_excess_nats,"
                      "inverse_steps,inverse_initial_nats,inverse_mean_nats,inverse_final_nats,inverse_excess_nats,"
                      "H_k_nats,H_l_nats,gap_nats,gap_corrected_nats,inverse_lower,inverse_lower_corrected\n");
        const cJSON *pj;
        cJSON_ArrayForEach(pj, pairs_json) {
            const cJSON *fw = cJSON_GetObjectItemCaseSensitive(pj, "forward"), *iv = cJSON_GetObjectItemCaseSensitive(pj, "inverse");
            fprintf(f.fp, "%s,%.0f,%.0f,%.9g,%.9g,%.9g,%.9g,%.0f,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%d\n",
                    cJSON_GetObjectItemCaseSensitive(pj, "pair")->valuestring, alim_lab_json_num(pj, "seed"), alim_lab_json_num(fw, "steps"),
                    alim_lab_json_num(fw, "initial_nats"), alim_lab_json_num(fw, "mean_nats"), alim_lab_json_num(fw, "final_nats"), alim_lab_json_num(fw, "excess_nats"),
                    alim_lab_json_num(iv, "steps"), alim_lab_json_num(iv, "initial_nats"), alim_lab_json_num(iv, "mean_nats"), alim_lab_json_num(iv, "final_nats"),
                    alim_lab_json_num(iv, "excess_nats"), alim_lab_json_num(iv, "target_entropy_nats"), alim_lab_json_num(fw, "target_entropy_nats"),
                    alim_lab_json_num(pj, "gap_nats"), alim_lab_json_num(pj, "gap_corrected_nats"),
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower")),
                    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj, "inverse_lower_corrected")));
        }
        st = alim_atomic_commit(&f, err);
        if (st) goto out;
        char *text = cJSON_Print(summary);
        char *jp = path_join(cfg->run_dir, "summary.json");
        if (!text || !jp) st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
        else {
            size_t tl = strlen(text);
            text[tl] = '\n'; /* replace the NUL for writing; length tl + 1 */
            st = alim_file_write_atomic(jp, text, tl + 1, err);
            text[tl] = '\0';
        }
        free(text);
        free(jp);
        if (st) goto out;
    }
    res->summary = summary;
    summary = NULL;
out:
    cJSON_Delete(summary);
    cJSON_Delete(config);
    cJSON_Delete(man);
    alim_runner_free(runner);
    if (rd) alim_rundir_close(rd);
    free(args), free(cix);
    alim_corpus_free(&pool2);
    alim_corpus_free(&pool1);
    rsr_free(&in);
    free(gap_raw), free(gap_corr), free(sr);
    free(man_path), free(pre_path), free(pool2_path), free(pool1_path);
    return st;
}

void alim_resist_result_free(alim_resist_result *res)
{
    if (!res) return;
    cJSON_Delete(res->summary);
    res->summary = NULL;
}
