/* resist_real.c — E1 on a real pretrained model: inputs, configuration, the SFT pass's stops
 * and the generated sets D_k (see resist_real.h, docs/real-elasticity.md §4). */
#define _POSIX_C_SOURCE 200809L
#include "resist_real.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alim/checkpoint.h"
#include "alim/io.h"
#include "alim/dataset.h"
#include "alim/lab.h"
#include "alim/lm_eval.h"

void alim_resist_config_real(alim_resist_config *c)
{
    alim_resist_config_default(c);
    c->n_layer = c->n_embd = c->n_head = 0; /* theta0's */
    c->pretrain_tokens = 0;
    c->pretrain_batch = 0;
    c->pretrain_lr = c->pretrain_min_lr = c->pretrain_weight_decay = 0;
    c->pretrain_warmup = 0;
    c->prompt_bytes = 0;
    c->context = 128;
    c->sft_docs = 100;  /* records per stop: theta1..3 after 100, 200, 300 */
    c->sft_batch = 8;
    c->sft_lr = 1e-5;
    c->n_samples = 100; /* replies per D_k: the first 100 lines of prompts.txt */
    c->sample_tokens = 64;
    c->temperature = 1.0;
    c->pos_slice = 600; /* as E2's positive slices (docs/real-elasticity.md §2.4) */
}

void alim_resist_config_real_quick(alim_resist_config *c)
{
    alim_resist_config_real(c);
    c->n_seeds = 1;
    c->context = 64;
    c->sft_docs = 2;
    c->sft_batch = 4;
    c->n_samples = 3;
    c->sample_tokens = 8;
    c->pos_slice = 8;
    c->quick = 1;
}

alim_status rsr_load(const alim_resist_config *cfg, const cJSON *man, rsr_inputs *in, alim_error *err)
{
    char p[4200];
    static const char *const roles[3] = {"neutral", "positive", "negative"};
    int cls[3] = {-1, -1, -1}, k = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(man, "behaviours")) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(b, "role");
        const cJSON *fp = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "files"), "pool");
        for (int r = 0; r < 3; r++)
            if (cJSON_IsString(role) && !strcmp(role->valuestring, roles[r]) && cls[r] < 0) {
                cls[r] = k;
                if (r == 1 && cJSON_IsString(fp)) snprintf(in->pos_pool, sizeof in->pos_pool, "%s", fp->valuestring);
            }
        k++;
    }
    for (int r = 0; r < 3; r++)
        if (cls[r] < 0) return alim_error_set(err, ALIM_EFORMAT, cfg->data_dir, "manifest.json names no %s behaviour", roles[r]);
    if (!in->pos_pool[0]) return alim_error_set(err, ALIM_EFORMAT, cfg->data_dir, "manifest.json names no pool file of the positive behaviour");
    in->cls_neutral = cls[0], in->cls_pos = cls[1], in->cls_neg = cls[2];
    alim_status st = rbr_model_hash(cfg->theta0_model, in->theta0_hash, &in->theta0_bytes, err);
    if (st) return st;
    alim_gpt m = {0};
    st = alim_checkpoint_load(cfg->theta0_model, &m, &in->tk, NULL, err);
    if (st) return st;
    in->mc = m.config;
    in->num_params = m.num_params;
    alim_gpt_free(&m);
    if (cfg->context > in->mc.n_positions)
        return alim_error_set(err, ALIM_EINVAL, "context", "%d is longer than theta0's context (%d)", cfg->context, in->mc.n_positions);
    st = alim_chat_template_resolve(&in->chat, cfg->theta0_model, ALIM_CHAT_AUTO, &in->tk, err);
    if (st) return st;
    if (in->chat.kind == ALIM_CHAT_UNRECOGNISED) return alim_error_set(err, in->chat.unrecognised.status, in->chat.unrecognised.where, "%s", in->chat.unrecognised.what);
    if (in->chat.kind == ALIM_CHAT_NONE) return alim_error_set(err, ALIM_EINVAL, cfg->theta0_model, "has no chat template (the behaviour data are chats)");
    st = alim_nb_load(&in->nb, alim_lab_path(cfg->data_dir, "classifier.nb", p, sizeof p), err);
    if (st) return st;
    for (int r = 0; r < 3; r++)
        if ((size_t)cls[r] >= in->nb.n_classes)
            return alim_error_set(err, ALIM_EFORMAT, p, "has %zu classes, the manifest's %s behaviour is class %d", in->nb.n_classes, roles[r], cls[r] + 1);
    in->nb_accuracy = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(man, "classifier"), "accuracy");
    const size_t S = cfg->n_seeds, need = 3 * cfg->sft_docs;
    if (need > cfg->pos_slice)
        return alim_error_set(err, ALIM_EINVAL, "sft_docs", "3 x %zu records exceed the per-seed slice of %zu", cfg->sft_docs, cfg->pos_slice);
    st = rbr_lines_read(&in->pos_rec, alim_lab_path(cfg->data_dir, in->pos_pool, p, sizeof p), err);
    if (!st && in->pos_rec.n < (S - 1) * cfg->pos_slice + need)
        st = alim_error_set(err, ALIM_EINVAL, p, "has %zu records; %zu seed(s) with slices of %zu and 3 x %zu records need %zu", in->pos_rec.n, S,
                            cfg->pos_slice, cfg->sft_docs, (S - 1) * cfg->pos_slice + need);
    if (!st) st = rbr_lines_read(&in->prompts, alim_lab_path(cfg->data_dir, "prompts.txt", p, sizeof p), err);
    if (!st && in->prompts.n < cfg->n_samples)
        st = alim_error_set(err, ALIM_EINVAL, "n_samples", "%zu replies need as many prompts, %s has %zu", cfg->n_samples, p, in->prompts.n);
    return st;
}

void rsr_free(rsr_inputs *in)
{
    alim_tokenizer_free(&in->tk);
    alim_chat_template_free(&in->chat);
    alim_nb_free(&in->nb);
    rbr_lines_free(&in->pos_rec);
    rbr_lines_free(&in->prompts);
}

/* theta0 by content (a file moved is the same theta0, one changed in place is not), the data
 * by their manifest, and everything that shapes training and sampling */
cJSON *rsr_make_config(const alim_resist_config *c, const char *data_hash, const rsr_inputs *in)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data_source", "behaviours");
    cJSON_AddStringToObject(o, "data_manifest_hash", data_hash);
    cJSON *t = cJSON_AddObjectToObject(o, "theta0");
    cJSON_AddStringToObject(t, "format", alim_checkpoint_is_gguf(c->theta0_model) ? "gguf" : "directory");
    cJSON_AddStringToObject(t, "content_fnv1a64", in->theta0_hash);
    cJSON_AddNumberToObject(t, "bytes", in->theta0_bytes);
    cJSON_AddStringToObject(t, "architecture", in->mc.arch == ALIM_ARCH_LLAMA ? "llama" : "gpt2");
    cJSON_AddNumberToObject(t, "n_layer", in->mc.n_layer);
    cJSON_AddNumberToObject(t, "n_embd", in->mc.n_embd);
    cJSON_AddNumberToObject(t, "n_head", in->mc.n_head);
    cJSON_AddNumberToObject(t, "n_kv_head", in->mc.n_kv_head);
    cJSON_AddNumberToObject(t, "vocab_size", in->mc.vocab_size);
    cJSON_AddNumberToObject(t, "num_params", (double)in->num_params);
    char d[96];
    snprintf(d, sizeof d, "the model's: %d ids, %zu merges", in->tk.vocab_size, in->tk.n_merges);
    cJSON_AddStringToObject(t, "tokenizer", d);
    cJSON_AddStringToObject(t, "chat_template", alim_chat_kind_name(in->chat.kind));
    cJSON_AddNumberToObject(o, "context", c->context);
    cJSON *dj = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(dj, "records", "chat JSONL in the model's template, loss on the response (alim_dataset_load_chat)");
    cJSON_AddStringToObject(dj, "positive_pool", in->pos_pool);
    cJSON_AddNumberToObject(dj, "positive_slice", (double)c->pos_slice);
    cJSON *s = cJSON_AddObjectToObject(o, "sft");
    cJSON_AddNumberToObject(s, "docs_per_slice", (double)c->sft_docs);
    cJSON_AddNumberToObject(s, "slices", 3);
    cJSON_AddNumberToObject(s, "batch", c->sft_batch);
    cJSON_AddNumberToObject(s, "lr", c->sft_lr);
    cJSON_AddStringToObject(s, "schedule", "constant");
    cJSON_AddNumberToObject(s, "warmup", 0);
    cJSON_AddNumberToObject(s, "weight_decay", 0);
    cJSON_AddNumberToObject(s, "beta1", 0.9);
    cJSON_AddNumberToObject(s, "beta2", 0.95);
    cJSON_AddNumberToObject(s, "clip", 1);
    cJSON_AddNumberToObject(s, "epochs", 1);
    cJSON_AddStringToObject(s, "order", "records in order; fresh AdamW at every --init");
    cJSON_AddStringToObject(s, "moments", "one pass in record order, AdamW carried across the stops (by the records' tokens)");
    cJSON *g = cJSON_AddObjectToObject(o, "samples");
    cJSON_AddNumberToObject(g, "n", (double)c->n_samples);
    cJSON_AddNumberToObject(g, "tokens", (double)c->sample_tokens);
    cJSON_AddNumberToObject(g, "temperature", c->temperature);
    cJSON_AddStringToObject(g, "prompts", "the first n lines of prompts.txt in the chat template; a reply ends at the end of turn; "
                                          "D_k = {prompt, response = the reply}");
    cJSON_AddBoolToObject(o, "quick", c->quick);
    return o;
}

alim_status rsr_pass_plan(const alim_resist_config *cfg, const rsr_inputs *in, size_t seed, int n_stops, const char *path,
                          uint64_t *total, uint64_t *stops, alim_error *err)
{
    const size_t n = (size_t)n_stops * cfg->sft_docs;
    alim_status st = rbr_lines_write(&in->pos_rec, (seed - 1) * cfg->pos_slice, n, path, err);
    if (st) return st;
    alim_token_stream ds = {0};
    const char *paths[1] = {path};
    st = alim_dataset_load_chat(&ds, paths, 1, ALIM_DATA_JSONL, NULL, &in->tk, &in->chat, err);
    if (st) return st;
    const size_t T = (size_t)cfg->context, W = ds.n > 1 ? (ds.n - 1 + T - 1) / T : 0;
    *total = (W + (size_t)cfg->sft_batch - 1) / (size_t)cfg->sft_batch;
    if (!*total) *total = 1;
    size_t *cum = malloc(n * sizeof *cum);
    if (!cum || rbr_stream_doc_ends(&ds, cum, n) != n) {
        free(cum);
        alim_dataset_free(&ds);
        return alim_error_set(err, cum ? ALIM_EFORMAT : ALIM_ENOMEM, path, "cannot find the ends of its %zu records", n);
    }
    for (int k = 0; k < n_stops; k++) {
        const size_t r = (size_t)(k + 1) * cfg->sft_docs;
        uint64_t s = (uint64_t)llround((double)*total * (double)cum[r - 1] / (double)cum[n - 1]);
        stops[k] = k == n_stops - 1 ? *total : s < 1 ? 1 : s;
    }
    free(cum);
    alim_dataset_free(&ds);
    return ALIM_OK;
}

alim_status rsr_keep_model(const char *from_dir, const char *to_dir, alim_error *err)
{
    static const char *const small[] = {"config.json", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"};
    char from[4400], to[4400];
    alim_status st = alim_checkpoint_make_dir(to_dir, err);
    for (size_t f = 0; f < sizeof small / sizeof *small && !st; f++) {
        struct stat sb;
        if (stat(alim_lab_path(from_dir, small[f], from, sizeof from), &sb) != 0) {
            if (f == 0) st = alim_error_set(err, ALIM_EIO, from, "missing: the pass wrote no checkpoint");
            continue;
        }
        char *buf;
        size_t len;
        st = alim_file_read_all(from, &buf, &len, err);
        if (st) break;
        st = alim_file_write_atomic(alim_lab_path(to_dir, small[f], to, sizeof to), buf, len, err);
        free(buf);
    }
    if (st) return st;
    alim_lab_path(from_dir, "model.safetensors", from, sizeof from);
    alim_lab_path(to_dir, "model.safetensors", to, sizeof to);
    remove(to); /* a cell redone */
    if (link(from, to) == 0) return ALIM_OK;
    char *buf; /* a file system without hard links */
    size_t len;
    st = alim_file_read_all(from, &buf, &len, err);
    if (!st) {
        st = alim_file_write_atomic(to, buf, len, err);
        free(buf);
    }
    return st;
}

/* D_k's streams: apart from E2's evaluations and D_0 (< 4096) */
enum { D_STREAM = 0xE100 };

alim_status rsr_sample_d(const alim_resist_config *cfg, const rsr_inputs *in, alim_precision prec, const char *model_dir,
                         size_t seed, int k, const char *out_path, const alim_progress *progress, cJSON **result, alim_error *err)
{
    alim_gpt m = {0};
    alim_status st = alim_checkpoint_load(model_dir, &m, NULL, NULL, err);
    if (!st) st = alim_gpt_set_precision(&m, prec, err);
    size_t counts[4] = {0};
    double post[3] = {0}, mean_len = 0, tok_s = 0;
    cJSON *rep = cJSON_CreateArray();
    const double t0 = alim_lab_now();
    const rbr_sampler sp = {&in->tk, &in->chat, &in->nb, in->cls_neutral, in->cls_pos, in->cls_neg, cfg->sample_tokens, cfg->temperature};
    if (!st && !rep) st = alim_error_set(err, ALIM_ENOMEM, "resist", "out of memory");
    /* every reply is D_k's: examples = all n */
    if (!st)
        st = rbr_sample_replies(&sp, &m, in->prompts.line, cfg->n_samples, seed, D_STREAM + (uint64_t)k, progress, counts, post, NULL, &mean_len,
                                &tok_s, rep, cfg->n_samples, err);
    const double el = alim_lab_now() - t0;
    if (!st) st = rbr_write_replies(rep, out_path, err);
    cJSON_Delete(rep);
    /* H_k: theta_k's own loss on D_k, the response tokens only (as the fine-tunings score them) */
    alim_token_stream ds = {0};
    alim_eval_result er = {0};
    const char *paths[1] = {out_path};
    if (!st) st = alim_dataset_load_chat(&ds, paths, 1, ALIM_DATA_JSONL, NULL, &in->tk, &in->chat, err);
    if (!st) st = alim_lm_evaluate(&m, NULL, &ds, &in->tk, cfg->context, 8, NULL, NULL, &er, err);
    if (!st) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddNumberToObject(r, "docs", (double)cfg->n_samples);
        cJSON_AddNumberToObject(r, "redrawn", 0);
        cJSON_AddNumberToObject(r, "mean_len", mean_len);
        cJSON_AddNumberToObject(r, "tokens", mean_len * (double)cfg->n_samples);
        alim_lab_add_num(r, "H_nats", er.n_tokens ? er.total_nats / (double)er.n_tokens : NAN);
        cJSON_AddNumberToObject(r, "H_tokens", (double)er.n_tokens);
        cJSON_AddNumberToObject(r, "neutral", (double)counts[0]);
        cJSON_AddNumberToObject(r, "positive", (double)counts[1]);
        cJSON_AddNumberToObject(r, "negative", (double)counts[2]);
        cJSON_AddNumberToObject(r, "undecided", (double)counts[3]);
        cJSON_AddNumberToObject(r, "sampled_tokens_per_s", tok_s);
        cJSON_AddNumberToObject(r, "elapsed_s", el);
        *result = r;
    }
    alim_dataset_free(&ds);
    alim_gpt_free(&m);
    return st;
}
