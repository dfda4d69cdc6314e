/* rebound_cells.c — E2's cells: theta0's pretraining, the positive SFT, the negative pass
 * with its checkpoints at the n_neg prefixes, the evaluations (sampling + labelling, the test
 * sets, the KL to theta0), the real path's D_0, and the cells' one-line notes
 * (rebound_impl.h names the other files). */
#define _POSIX_C_SOURCE 200809L
#include "rebound_impl.h"
#include "lab_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/io.h"
#include "alim/lm_eval.h"
#include "alim/lm_train.h"
#include "alim/rng.h"

enum { SAMPLE_CHUNK = 128 };

/* the SFT's options: the run's model, one epoch of sft_batch at sft_lr (lab_sft_options) */
static void sft_options(const rb *x, alim_train_options *o)
{
    const alim_lab_base b = LAB_BASE_OF(x->cfg);
    lab_train_options(o, &b, x->prec);
    o->format = ALIM_DATA_TEXT;
    lab_sft_options(o, x->cfg->sft_batch, x->cfg->sft_lr);
    if (x->real) o->format = ALIM_DATA_JSONL; /* records in the model's chat template, loss on the response */
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

alim_status rb_theta0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rb_train_arg *a = arg;
    const rb *x = a->x;
    alim_train_options o;
    const alim_lab_base b = LAB_BASE_OF(x->cfg);
    const char *data[1] = {a->data_path};
    lab_pretrain_options(&o, &b, x->prec, data, env->dir, a->seed);
    alim_train_result tr;
    alim_status st = lab_train(env, &o, &tr, err);
    if (!st) *result = train_json(&tr);
    return st;
}

alim_status rb_pos_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rb_train_arg *a = arg;
    const rb *x = a->x;
    const char *dir = env->dir;
    char path[4200];
    snprintf(path, sizeof path, "%s/data.%s", dir, x->real ? "jsonl" : "txt");
    alim_status st = x->real ? rbr_lines_write(&x->pos_rec, (a->seed - 1) * x->cfg->pos_slice, a->n_pos, path, err)
                             : lab_write_docs(&x->pool2, 0, a->n_pos, path, err);
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
    st = lab_train(env, &o, &tr, err);
    if (!st && x->real) remove(alim_lab_path(dir, "optimizer.safetensors", path, sizeof path)); /* every --init starts a fresh AdamW */
    if (!st) *result = train_json(&tr);
    return st;
}

/* tokens of document d of c in the training stream: its tokens under the run's tokenizer
 * plus the end-of-text token that follows it (bytes + 1 for the byte tokenizer) */
double rb_doc_tokens(const rb *x, const alim_corpus *c, size_t d)
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
    for (size_t d = 0; d < nmax; d++) cum[d + 1] = cum[d] + rb_doc_tokens(x, &x->pool3, d);
    for (size_t j = 0; j < c->n_neg_count; j++) {
        uint64_t s = (uint64_t)llround((double)total * cum[c->n_neg[j]] / cum[nmax]);
        if (c->n_neg[j] > 0 && s < 1) s = 1;
        if (j == c->n_neg_count - 1) s = total;
        steps[j] = s;
    }
    free(cum);
}

alim_status rb_neg_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rb_train_arg *a = arg;
    const rb *x = a->x;
    const char *dir = env->dir;
    const alim_rebound_config *c = x->cfg;
    char path[4200], tdir[4200], to[4400];
    const size_t nmax = c->n_neg[c->n_neg_count - 1];
    snprintf(path, sizeof path, "%s/data.%s", dir, x->real ? "jsonl" : "txt");
    snprintf(tdir, sizeof tdir, "%s/train", dir);
    alim_status st = x->real ? rbr_lines_write(a->ctl ? &x->ctl_rec : &x->neg_rec, (a->seed - 1) * c->neg_slice, nmax, path, err)
                             : lab_write_docs(&x->pool3, 0, nmax, path, err);
    if (st) return st;
    /* the number of updates of the whole pass, from the loader's windows */
    alim_token_stream ds = {0};
    const char *paths[1] = {path};
    st = x->real ? alim_dataset_load_chat(&ds, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, err)
                 : alim_dataset_load(&ds, paths, 1, ALIM_DATA_TEXT, NULL, &x->tk, err);
    if (st) return st;
    const uint64_t total = lab_pass_updates(ds.n, (size_t)c->context, (size_t)c->sft_batch);
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
            st = lab_train(env, &o, &tr, err);
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

alim_status rb_eval_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rb_eval_arg *a = arg;
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
    for (int k = 0; k < RB_N_TEST && !st; k++) {
        alim_eval_result er = {0};
        const int with_kl = k == RB_N_TEST - 1 && have_base;
        const alim_token_stream *ts = x->real && k == RB_N_TEST - 1 ? &d0 : &x->test[k];
        st = alim_lm_evaluate(&m, with_kl ? &base : NULL, ts, &x->tk, x->cfg->context, 16, NULL, NULL, &er, err);
        if (st) break;
        char key[32];
        snprintf(key, sizeof key, "gamma_%s_bits", rb_test_name[k]);
        alim_lab_add_num(r, key, er.n_tokens ? er.total_nats / (double)er.n_tokens / log(2.0) : NAN);
        if (k == RB_N_TEST - 1) {
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
        /* the examples are for reading: a reply cut at the token limit can end inside a
         * character, and result.json must stay valid UTF-8 (the scores used the bytes) */
        cJSON *ex;
        cJSON_ArrayForEach(ex, examples) {
            const cJSON *rep = cJSON_GetObjectItemCaseSensitive(ex, "reply");
            char *v = cJSON_IsString(rep) ? alim_utf8_valid_copy(rep->valuestring, strlen(rep->valuestring), NULL) : NULL;
            if (v) cJSON_ReplaceItemInObjectCaseSensitive(ex, "reply", cJSON_CreateString(v));
            free(v);
        }
        cJSON_AddItemToObject(r, "examples", examples);
    }
    cJSON_AddNumberToObject(r, "elapsed_s", alim_lab_now() - t0);
    *result = r;
    return ALIM_OK;
}

/* ---- the cells' one-line notes ---------------------------------------------------------- */

void rb_note_theta0(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb *x = ((const rb_train_arg *)arg)->x;
    lab_notef(x, "%s: %s, %.0f steps, final loss %.4f nats, %.0f tokens/s", name, LAB_DONE(reused), alim_lab_json_num(r, "steps"),
          alim_lab_json_num(r, "loss_final_nats"), alim_lab_json_num(r, "tokens_per_s"));
}

/* D_0 of a seed (real path): theta0's replies to the first d0_records prompts, the set gamma_p
 * and the KL to theta0 are measured on (docs/real-elasticity.md §5 step 4) */
alim_status rb_d0_cell(void *arg, const alim_cell_env *env, cJSON **result, alim_error *err)
{
    const rb_eval_arg *a = arg;
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

void rb_note_d0(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb *x = ((const rb_eval_arg *)arg)->x;
    lab_notef(x, "%s: %s, theta0's replies to %.0f prompts (D_0), %.1f tokens each", name, ((reused) ? "reused" : "done"), alim_lab_json_num(r, "records"),
          alim_lab_json_num(r, "mean_len"));
}

void rb_note_theta0_eval(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb *x = ((const rb_eval_arg *)arg)->x;
    lab_notef(x, "%s: %s, score %+.4f (positive %.4f, negative %.4f), gamma_mix %.4f bits", name, LAB_DONE(reused), alim_lab_json_num(r, "score"),
          alim_lab_json_num(r, "positive_rate"), alim_lab_json_num(r, "negative_rate"), alim_lab_json_num(r, "gamma_mix_bits"));
}

void rb_note_pos(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb_train_arg *a = arg;
    lab_notef(a->x, "%s: %s, %.0f steps on pool_c2 documents 1..%zu, final loss %.4f nats", name, LAB_DONE(reused), alim_lab_json_num(r, "steps"),
          a->n_pos, alim_lab_json_num(r, "loss_final_nats"));
}

void rb_note_negpass(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb *x = ((const rb_train_arg *)arg)->x;
    lab_notef(x, "%s: %s, %.0f steps on %s documents 1..%zu, checkpoints at the prefixes", name, LAB_DONE(reused), alim_lab_json_num(r, "total_steps"),
          ((const rb_train_arg *)arg)->ctl ? "the control pool's" : "pool_c3", x->cfg->n_neg[x->cfg->n_neg_count - 1]);
}

void rb_note_eval(void *arg, const char *name, const cJSON *r, int reused)
{
    const rb_eval_arg *a = arg;
    const rb *x = a->x;
    /* the real path keeps the weights of theta_pos and of each pass's last checkpoint only
     * (docs/real-elasticity.md §8, "Disk"): a stop's 540 MB go once its result is written */
    char p[4400];
    if (a->discard) remove(alim_lab_path(a->model_dir, "model.safetensors", p, sizeof p));
    lab_notef(x, "%s: %s, score %+.4f, gamma_mix %.4f gamma_c2 %.4f bits, KL to theta0 %.5f nats", name, LAB_DONE(reused),
          alim_lab_json_num(r, "score"), alim_lab_json_num(r, "gamma_mix_bits"), alim_lab_json_num(r, "gamma_c2_bits"),
          alim_lab_json_num(r, "kl_to_base_nats"));
}
