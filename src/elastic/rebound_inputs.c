/* rebound_inputs.c — E2's inputs, loaded and checked before the run directory is touched:
 * the data directory's manifest, the synthetic or natural data (chains or classifier,
 * tokenizer, pools, test sets), an external theta0's shape, the real-model path's data, and
 * the configuration record that identifies the run directory (rebound_impl.h names the other
 * files). */
#define _POSIX_C_SOURCE 200809L
#include "rebound_impl.h"
#include "lab_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/checkpoint.h"
#include "alim/io.h"

/* The part of the configuration record that byte-level and real runs share (rebound_real.h);
 * its bytes are the run directories' identity, so the two wordings and the real path's extra
 * keys stay exactly as they were. */
void rb_config_add_run(cJSON *o, const alim_rebound_config *c, int real)
{
    cJSON *g = cJSON_AddObjectToObject(o, "grid");
    double v[ALIM_REBOUND_MAX_GRID];
    for (size_t i = 0; i < c->n_pos_count; i++) v[i] = (double)c->n_pos[i];
    cJSON_AddItemToObject(g, "n_pos", cJSON_CreateDoubleArray(v, (int)c->n_pos_count));
    for (size_t i = 0; i < c->n_neg_count; i++) v[i] = (double)c->n_neg[i];
    cJSON_AddItemToObject(g, "n_neg", cJSON_CreateDoubleArray(v, (int)c->n_neg_count));
    cJSON_AddStringToObject(g, "negatives", real ? "one pass per n_pos in record order, checkpoints at the prefixes (stop_at + resume)"
                                                 : "one pass per n_pos in document order, checkpoints at the prefixes (stop_at + resume)");
    cJSON *s = cJSON_AddObjectToObject(o, "sft");
    cJSON_AddNumberToObject(s, "batch", c->sft_batch);
    cJSON_AddNumberToObject(s, "lr", c->sft_lr);
    cJSON_AddStringToObject(s, "schedule", "constant");
    cJSON_AddNumberToObject(s, "weight_decay", 0);
    cJSON_AddNumberToObject(s, "epochs", 1);
    if (real) cJSON_AddNumberToObject(s, "clip", 1);
    cJSON *e = cJSON_AddObjectToObject(o, "samples");
    cJSON_AddNumberToObject(e, "n", (double)c->n_samples);
    cJSON_AddNumberToObject(e, "tokens", (double)c->sample_tokens);
    cJSON_AddNumberToObject(e, "temperature", c->temperature);
    if (real) cJSON_AddStringToObject(e, "prompts", "the first n lines of prompts.txt in the chat template; a reply ends at the end of turn");
    cJSON_AddBoolToObject(o, "quick", c->quick);
}

static cJSON *make_config(const alim_rebound_config *c, const char *source, const char *data_hash, const alim_tokenizer *tk)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data_source", source);
    cJSON_AddStringToObject(o, "data_manifest_hash", data_hash);
    cJSON_AddBoolToObject(o, "control", c->control);
    if (c->theta0_dirs) cJSON_AddStringToObject(o, "theta0_origin", c->theta0_origin);
    const alim_lab_base base = LAB_BASE_OF(c);
    alim_lab_add_base_config(o, &base);
    if (tk->n_merges) { /* an external theta0 with a BPE: name its size instead of "byte" */
        char d[64];
        snprintf(d, sizeof d, "bpe, %d ids, %zu merges", tk->vocab_size, tk->n_merges);
        cJSON_ReplaceItemInObject(cJSON_GetObjectItemCaseSensitive(o, "model"), "tokenizer", cJSON_CreateString(d));
    }
    rb_config_add_run(o, c, 0);
    return o;
}

static alim_status load_chains(rb *x, const char *path, alim_error *err)
{
    cJSON *j = NULL;
    alim_status st = alim_json_read_file(path, &j, err);
    if (st) return st;
    const cJSON *comps = cJSON_GetObjectItemCaseSensitive(j, "components");
    const double nsym = alim_lab_json_num(j, "symbols");
    const int K = cJSON_GetArraySize(comps);
    if (!cJSON_IsArray(comps) || K < 1 || K > ALIM_SOURCE_MAX_COMPONENTS || !(nsym >= 1 && nsym <= 256)) {
        cJSON_Delete(j);
        return alim_error_set(err, ALIM_EFORMAT, path, "not a chains file (symbols, components[{init, P}])");
    }
    const size_t n = (size_t)nsym;
    for (int k = 0; k < K && !st; k++) {
        const cJSON *ck = cJSON_GetArrayItem(comps, k);
        const cJSON *init = cJSON_GetObjectItemCaseSensitive(ck, "init"), *P = cJSON_GetObjectItemCaseSensitive(ck, "P");
        if ((size_t)cJSON_GetArraySize(init) != n || (size_t)cJSON_GetArraySize(P) != n) {
            st = alim_error_set(err, ALIM_EFORMAT, path, "component %d: init or P has the wrong size", k + 1);
            break;
        }
        st = alim_markov_alloc(&x->chains[k], n, err);
        if (st) break;
        x->n_chains = (size_t)k + 1;
        for (size_t s = 0; s < n && !st; s++) {
            const cJSON *v = cJSON_GetArrayItem(init, (int)s);
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                st = alim_error_set(err, ALIM_EFORMAT, path, "component %d: init[%zu] is not a finite number", k + 1, s);
            else x->chains[k].init[s] = v->valuedouble;
        }
        for (size_t s = 0; s < n && !st; s++) {
            const cJSON *row = cJSON_GetArrayItem(P, (int)s);
            if ((size_t)cJSON_GetArraySize(row) != n) st = alim_error_set(err, ALIM_EFORMAT, path, "component %d: row %zu has the wrong size", k + 1, s);
            for (size_t t = 0; t < n && !st; t++) {
                const cJSON *v = cJSON_GetArrayItem(row, (int)t);
                if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                    st = alim_error_set(err, ALIM_EFORMAT, path, "component %d: P[%zu][%zu] is not a finite number", k + 1, s, t);
                else x->chains[k].P[s * n + t] = v->valuedouble;
            }
        }
        if (!st) alim_markov_prepare(&x->chains[k]);
    }
    cJSON_Delete(j);
    return st;
}

/* An external theta0 must have this run's shape and the byte vocabulary: checked for every
 * seed before the run directory is touched. */
static alim_status check_theta0_dirs(const alim_rebound_config *cfg, const alim_tokenizer *tk0, alim_error *err)
{
    const int vocab = tk0->vocab_size;
    for (size_t s = 0; s < cfg->n_seeds; s++) {
        int seen = 0; /* `--theta0 DIR` gives every seed the same directory: check it once */
        for (size_t u = 0; u < s && !seen; u++) seen = !strcmp(cfg->theta0_dirs[u], cfg->theta0_dirs[s]);
        if (seen) continue;
        alim_gpt m = {0};
        alim_tokenizer tk = {0};
        alim_status st = alim_checkpoint_load(cfg->theta0_dirs[s], &m, &tk, NULL, err);
        if (st) return st;
        const alim_gpt_config mc = m.config;
        const int same_tk = tk.vocab_size == tk0->vocab_size && tk.n_merges == tk0->n_merges && tk.eot == tk0->eot;
        alim_gpt_free(&m);
        alim_tokenizer_free(&tk);
        if (!same_tk)
            return alim_error_set(err, ALIM_EINVAL, cfg->theta0_dirs[s], "has another tokenizer than %s (all seeds' theta0 must share one)", cfg->theta0_dirs[0]);
        if (mc.n_layer != cfg->n_layer || mc.n_embd != cfg->n_embd || mc.n_head != cfg->n_head || mc.n_positions < cfg->context ||
            mc.vocab_size < vocab)
            return alim_error_set(err, ALIM_EINVAL, cfg->theta0_dirs[s],
                                  "theta0 is %dx%dx%d, context %d, vocabulary %d; this run needs %dx%dx%d, context %d, vocabulary %d",
                                  mc.n_layer, mc.n_embd, mc.n_head, mc.n_positions, mc.vocab_size, cfg->n_layer, cfg->n_embd, cfg->n_head,
                                  cfg->context, vocab);
    }
    return ALIM_OK;
}

/* The real-model path's inputs (cfg->theta0_model with `alim data behaviours` data): which
 * behaviour is which, theta0's identity, shape, tokenizer and chat template, the classifier,
 * the pools, the test sets and the prompts. Everything is checked before the run directory
 * is touched. */
static alim_status load_real(rb *x, const cJSON *man, char hash[17], double *bytes, alim_gpt_config *mc, size_t *num_params,
                             double *nb_acc, alim_error *err)
{
    const alim_rebound_config *cfg = x->cfg;
    char p1[4200];
    const char *pool[4] = {0}, *test[4] = {0}; /* neutral, positive, negative, control */
    int cls[4] = {-1, -1, -1, -1};
    static const char *const roles[4] = {"neutral", "positive", "negative", "control-negative"};
    const cJSON *b;
    int k = 0;
    cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(man, "behaviours")) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(b, "role"), *files = cJSON_GetObjectItemCaseSensitive(b, "files");
        const cJSON *fp = cJSON_GetObjectItemCaseSensitive(files, "pool"), *ft = cJSON_GetObjectItemCaseSensitive(files, "test");
        for (int r = 0; r < 4; r++)
            if (cJSON_IsString(role) && !strcmp(role->valuestring, roles[r]) && cls[r] < 0 && cJSON_IsString(fp) && cJSON_IsString(ft)) {
                cls[r] = k;
                pool[r] = fp->valuestring;
                test[r] = ft->valuestring;
            }
        k++;
    }
    for (int r = 0; r < (cfg->control ? 4 : 3); r++)
        if (cls[r] < 0) return alim_error_set(err, ALIM_EFORMAT, cfg->data_dir, "manifest.json names no %s behaviour with its pool and test files", roles[r]);
    x->cls_neutral = cls[0], x->cls_pos = cls[1], x->cls_neg = cls[2], x->cls_ctl = cls[3];
    alim_status st = rbr_model_hash(cfg->theta0_model, hash, bytes, err);
    if (st) return st;
    alim_gpt m = {0};
    st = alim_checkpoint_load(cfg->theta0_model, &m, &x->tk, NULL, err);
    if (st) return st;
    *mc = m.config;
    *num_params = m.num_params;
    alim_gpt_free(&m);
    if (cfg->context > mc->n_positions)
        return alim_error_set(err, ALIM_EINVAL, "context", "%d is longer than theta0's context (%d)", cfg->context, mc->n_positions);
    st = alim_chat_template_resolve(&x->chat, cfg->theta0_model, ALIM_CHAT_AUTO, &x->tk, err);
    if (st) return st;
    if (x->chat.kind == ALIM_CHAT_UNRECOGNISED) return alim_error_set(err, x->chat.unrecognised.status, x->chat.unrecognised.where, "%s", x->chat.unrecognised.what);
    if (x->chat.kind == ALIM_CHAT_NONE) return alim_error_set(err, ALIM_EINVAL, cfg->theta0_model, "has no chat template (the behaviour data are chats)");
    st = alim_nb_load(&x->nb, alim_lab_path(cfg->data_dir, "classifier.nb", p1, sizeof p1), err);
    if (st) return st;
    x->have_nb = x->natural = 1;
    for (int r = 0; r < (cfg->control ? 4 : 3); r++)
        if ((size_t)cls[r] >= x->nb.n_classes) return alim_error_set(err, ALIM_EFORMAT, p1, "has %zu classes, the manifest's %s behaviour is class %d", x->nb.n_classes, roles[r], cls[r] + 1);
    *nb_acc = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(man, "classifier"), "accuracy");
    const size_t S = cfg->n_seeds, np = cfg->n_pos[cfg->n_pos_count - 1], nn = cfg->n_neg[cfg->n_neg_count - 1];
    st = rbr_lines_read(&x->pos_rec, alim_lab_path(cfg->data_dir, pool[1], p1, sizeof p1), err);
    if (!st && x->pos_rec.n < (S - 1) * cfg->pos_slice + np)
        st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu records; %zu seed(s) with slices of %zu and n_pos up to %zu need %zu", x->pos_rec.n, S, cfg->pos_slice, np,
                            (S - 1) * cfg->pos_slice + np);
    if (!st) st = rbr_lines_read(&x->neg_rec, alim_lab_path(cfg->data_dir, pool[2], p1, sizeof p1), err);
    if (!st && x->neg_rec.n < (S - 1) * cfg->neg_slice + nn)
        st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu records; %zu seed(s) with slices of %zu and n_neg up to %zu need %zu", x->neg_rec.n, S, cfg->neg_slice, nn,
                            (S - 1) * cfg->neg_slice + nn);
    /* test[0] neutral, test[1] positive, test[2] negative; "mix" (test[3]) is D_0, made in a cell */
    for (int r = 0; r < 3 && !st; r++) {
        const char *paths[1] = {alim_lab_path(cfg->data_dir, test[r], p1, sizeof p1)};
        alim_token_stream *ts = &x->test[r];
        st = alim_dataset_load_chat(ts, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, err);
        if (!st) rbr_stream_keep_docs(ts, cfg->test_records);
    }
    if (!st && cfg->control) {
        st = rbr_lines_read(&x->ctl_rec, alim_lab_path(cfg->data_dir, pool[3], p1, sizeof p1), err);
        if (!st && x->ctl_rec.n < (S - 1) * cfg->neg_slice + nn)
            st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu records; %zu seed(s) with slices of %zu and n_neg up to %zu need %zu", x->ctl_rec.n, S,
                                cfg->neg_slice, nn, (S - 1) * cfg->neg_slice + nn);
        const char *paths[1] = {alim_lab_path(cfg->data_dir, test[3], p1, sizeof p1)};
        if (!st) st = alim_dataset_load_chat(&x->test_ctl, paths, 1, ALIM_DATA_JSONL, NULL, &x->tk, &x->chat, err);
        if (!st) rbr_stream_keep_docs(&x->test_ctl, cfg->test_records);
    }
    if (!st) st = rbr_lines_read(&x->prompts, alim_lab_path(cfg->data_dir, "prompts.txt", p1, sizeof p1), err);
    if (!st && x->prompts.n < cfg->n_samples)
        st = alim_error_set(err, ALIM_EINVAL, "n_samples", "%zu replies need as many prompts, %s has %zu", cfg->n_samples, p1, x->prompts.n);
    if (!st && x->prompts.n < cfg->d0_records)
        st = alim_error_set(err, ALIM_EINVAL, "d0_records", "%zu replies need as many prompts, %s has %zu", cfg->d0_records, p1, x->prompts.n);
    return st;
}

/* The synthetic or natural (text) data: the chains or the classifier, the tokenizer (the
 * byte one or an external theta0's), the pools, the test sets, --control-run's summary; an
 * external theta0 checked against the run's shape. */
static alim_status load_text(rb_run *r, alim_error *err)
{
    const alim_rebound_config *cfg = r->cfg;
    rb *x = r->x;
    const size_t P = r->P, N = r->N;
    char p1[4200], p2[4200];
    alim_status st = ALIM_OK;
    const cJSON *srcj = cJSON_GetObjectItemCaseSensitive(r->man, "source");
    if (cJSON_IsString(srcj)) r->source = srcj->valuestring;
    x->natural = strcmp(r->source, "synthetic") != 0;
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(r->man, "shares");
    if (cJSON_GetArraySize(sh) != 3)
        return alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "needs a data directory with 3 components (C1 neutral, C2 positive, C3 negative)");
    double *shares = r->shares;
    for (int k = 0; k < 3; k++) shares[k] = alim_json_number_value(cJSON_GetArrayItem(sh, k));
    if (!(shares[0] >= 0 && shares[1] >= 0 && shares[2] >= 0))
        return alim_error_set(err, ALIM_EFORMAT, cfg->data_dir, "manifest.json: shares must be three numbers >= 0");
    if (cfg->control && !(shares[2] == 0))
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "control needs a data directory without C3 in pretraining (shares %g,%g,%g); make one with alim_datadir_synthetic and shares 0.95,0.05,0",
                            shares[0], shares[1], shares[2]);
    else if (!cfg->control && shares[2] == 0)
        st = alim_error_set(err, ALIM_EINVAL, cfg->data_dir, "C3 has share 0 in pretraining: this is a control data directory (set control)");
    if (st) return st;
    alim_json_hash(r->man, r->data_hash);
    if (!x->natural) st = load_chains(x, alim_lab_path(cfg->data_dir, "chains.json", p1, sizeof p1), err);
    else {
        st = alim_nb_load(&x->nb, alim_lab_path(cfg->data_dir, "classifier.nb", p1, sizeof p1), err);
        if (st == ALIM_EIO) st = alim_error_set(err, ALIM_EINVAL, p1, "no classifier: natural/text data need one (classifier_docs > 0 when made)");
        x->have_nb = !st;
        r->nb_acc = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(r->man, "classifier"), "accuracy");
    }
    /* the byte tokenizer, or an external theta0's own (vocab.json + merges.txt) */
    if (!st) st = cfg->theta0_dirs ? alim_checkpoint_load_tokenizer(cfg->theta0_dirs[0], &x->tk, err) : alim_tokenizer_init_bytes(&x->tk, err);
    if (!st) st = alim_corpus_read(&x->pool2, alim_lab_path(cfg->data_dir, "pool_c2.txt", p1, sizeof p1), err);
    if (!st && x->pool2.n_docs < cfg->n_pos[P - 1])
        st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu documents, n_pos needs %zu (make the data with a larger pool_docs)", x->pool2.n_docs, cfg->n_pos[P - 1]);
    if (!st) st = alim_corpus_read(&x->pool3, alim_lab_path(cfg->data_dir, "pool_c3.txt", p1, sizeof p1), err);
    if (!st && x->pool3.n_docs < cfg->n_neg[N - 1])
        st = alim_error_set(err, ALIM_EINVAL, p1, "has %zu documents, n_neg needs %zu (make the data with a larger pool_docs)", x->pool3.n_docs, cfg->n_neg[N - 1]);
    for (int k = 0; k < RB_N_TEST && !st; k++) {
        snprintf(p2, sizeof p2, "test_%s.txt", rb_test_name[k]);
        const char *paths[1] = {alim_lab_path(cfg->data_dir, p2, p1, sizeof p1)};
        st = alim_dataset_load(&x->test[k], paths, 1, ALIM_DATA_TEXT, NULL, &x->tk, err);
    }
    if (!st && cfg->control_run) {
        st = alim_json_read_file(alim_lab_path(cfg->control_run, "summary.json", p1, sizeof p1), &r->ctl_sum, err);
        if (st == ALIM_EIO) st = alim_error_set(err, ALIM_EINVAL, "control_run", "%s has no summary.json (run the control first)", cfg->control_run);
        if (!st && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r->ctl_sum, "config"), "control")))
            st = alim_error_set(err, ALIM_EINVAL, "control_run", "%s is not a control run (made without control)", cfg->control_run);
    }
    if (st) return st;
    if (cfg->theta0_dirs) return check_theta0_dirs(cfg, &x->tk, err);
    return ALIM_OK;
}

alim_status rb_load_inputs(rb_run *r, alim_error *err)
{
    const alim_rebound_config *cfg = r->cfg;
    rb *x = r->x;
    alim_status st = lab_read_manifest(cfg->data_dir, cfg->theta0_model,
                                       "set theta0_model (the coefficient does not take them yet)", &r->man, &x->real, err);
    if (st) return st;
    if (x->real) {
        r->source = "behaviours";
        alim_json_hash(r->man, r->data_hash);
        st = load_real(x, r->man, r->theta0_hash, &r->theta0_bytes, &r->theta0_cfg, &r->theta0_params, &r->nb_acc, err);
    } else
        st = load_text(r, err);
    if (st) return st;
    r->config = x->real ? rbr_make_config(cfg, r->data_hash, r->theta0_hash, r->theta0_bytes, &r->theta0_cfg, r->theta0_params, &x->tk, &x->chat)
                        : make_config(cfg, r->source, r->data_hash, &x->tk);
    if (r->config) alim_lab_add_precision(r->config, x->prec);
    return ALIM_OK;
}
