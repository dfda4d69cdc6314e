/* checkpoint.c — GPT-2 checkpoint directories (see alim/checkpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alim/io.h"
#include "alim/safetensors.h"

/* where = "a: b" (truncated to fit) */
static void join_where(char *w, size_t n, const char *a, const char *b)
{
    if (snprintf(w, n, "%s: %s", a, b) < 0) w[0] = '\0';
}

static alim_status get_int(const cJSON *o, const char *key, int required, const char *path,
                           int *out, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    join_where(where, sizeof where, path, key);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return alim_error_set(err, ALIM_EFORMAT, where, "missing key");
        return ALIM_OK;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 1e9)
        return alim_error_set(err, ALIM_EFORMAT, where, "must be an integer");
    *out = (int)v->valuedouble;
    return ALIM_OK;
}

alim_status alim_checkpoint_read_config(const char *dir, alim_gpt_config *cfg, alim_error *err)
{
    char path[4096], where[ALIM_ERROR_WHERE_MAX];
    snprintf(path, sizeof path, "%s/config.json", dir);
    cJSON *o;
    alim_status st = alim_json_read_file(path, &o, err);
    if (st) return st;
    memset(cfg, 0, sizeof *cfg);
    cfg->layer_norm_epsilon = 1e-5f;
    if (!cJSON_IsObject(o)) st = alim_error_set(err, ALIM_EFORMAT, path, "must be a JSON object");
    if (!st) st = get_int(o, "n_embd", 1, path, &cfg->n_embd, err);
    if (!st) st = get_int(o, "n_layer", 1, path, &cfg->n_layer, err);
    if (!st) st = get_int(o, "n_head", 1, path, &cfg->n_head, err);
    if (!st) st = get_int(o, "n_positions", 1, path, &cfg->n_positions, err);
    if (!st) st = get_int(o, "vocab_size", 1, path, &cfg->vocab_size, err);
    if (!st) {
        double eps = cfg->layer_norm_epsilon;
        st = alim_json_get_number(o, "layer_norm_epsilon", 0, path, &eps, err);
        cfg->layer_norm_epsilon = (float)eps;
    }
    if (!st) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "activation_function");
        if (a && (!cJSON_IsString(a) || (strcmp(a->valuestring, "gelu_new") && strcmp(a->valuestring, "gelu_pytorch_tanh")))) {
            join_where(where, sizeof where, path, "activation_function");
            st = alim_error_set(err, ALIM_EFORMAT, where, "alim implements only the tanh GELU (gelu_new)");
        }
        const cJSON *inner = cJSON_GetObjectItemCaseSensitive(o, "n_inner");
        if (!st && inner && !cJSON_IsNull(inner) && (!cJSON_IsNumber(inner) || inner->valuedouble != 4.0 * cfg->n_embd)) {
            join_where(where, sizeof where, path, "n_inner");
            st = alim_error_set(err, ALIM_EFORMAT, where, "alim implements only n_inner = 4 * n_embd");
        }
    }
    cJSON_Delete(o);
    if (!st) {
        alim_error e2;
        if (alim_gpt_config_check(cfg, &e2)) {
            join_where(where, sizeof where, path, e2.where);
            st = alim_error_set(err, ALIM_EFORMAT, where, "%s", e2.what);
        }
    }
    return st;
}

alim_status alim_checkpoint_load(const char *dir, alim_gpt *m, alim_tokenizer *tk,
                                 uint64_t *step, alim_error *err)
{
    alim_gpt_config cfg;
    alim_status st = alim_checkpoint_read_config(dir, &cfg, err);
    if (st) return st;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    alim_safetensors sf;
    st = alim_safetensors_read(path, &sf, err);
    if (st) return st;
    st = alim_gpt_create(m, &cfg, err);
    if (st) return alim_safetensors_free(&sf), st;
    const char *prefix = "";
    if (!alim_safetensors_find(&sf, "wte.weight") && alim_safetensors_find(&sf, "transformer.wte.weight")) prefix = "transformer.";
    char name[256], full[300];
    int64_t shape[2];
    for (int t = 0; t < ALIM_GPT_NUM_TENSORS && !st; t++) {
        int nl = alim_gpt_tensor_is_per_layer(t) ? cfg.n_layer : 1;
        for (int l = 0; l < nl && !st; l++) {
            int nd = alim_gpt_tensor_info(m, t, l, name, sizeof name, shape);
            size_t n;
            float *dst = alim_gpt_tensor_slice(m, m->params, t, l, &n);
            snprintf(full, sizeof full, "%s%s", prefix, name);
            st = alim_safetensors_copy_f32(&sf, full, nd, shape, dst, err);
        }
    }
    if (!st && step) {
        *step = 0;
        const cJSON *s = sf.metadata ? cJSON_GetObjectItemCaseSensitive(sf.metadata, "alim_step") : NULL;
        if (cJSON_IsString(s)) *step = strtoull(s->valuestring, NULL, 10);
    }
    alim_safetensors_free(&sf);
    if (!st && tk) {
        st = alim_tokenizer_load(tk, dir, err);
        if (!st && tk->vocab_size > cfg.vocab_size) {
            snprintf(path, sizeof path, "%s/vocab.json", dir);
            st = alim_error_set(err, ALIM_EFORMAT, path, "the tokenizer has %d ids, more than the model's vocab_size %d", tk->vocab_size, cfg.vocab_size);
            alim_tokenizer_free(tk);
        }
    }
    if (st) alim_gpt_free(m);
    return st;
}

alim_status alim_checkpoint_make_dir(const char *dir, alim_error *err)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)) return ALIM_OK;
        return alim_error_set(err, ALIM_EIO, dir, "exists and is not a directory");
    }
    return alim_error_set(err, ALIM_EIO, dir, "cannot create directory: %s", strerror(errno));
}

alim_status alim_checkpoint_save(const char *dir, const alim_gpt *m, const alim_tokenizer *tk,
                                 uint64_t step, alim_error *err)
{
    alim_status st = alim_checkpoint_make_dir(dir, err);
    if (st) return st;
    const alim_gpt_config *c = &m->config;
    char path[4096];
    cJSON *o = cJSON_CreateObject();
    if (!o) return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString("GPT2LMHeadModel"));
    cJSON_AddStringToObject(o, "model_type", "gpt2");
    cJSON_AddNumberToObject(o, "n_embd", c->n_embd);
    cJSON_AddNumberToObject(o, "n_layer", c->n_layer);
    cJSON_AddNumberToObject(o, "n_head", c->n_head);
    cJSON_AddNumberToObject(o, "n_positions", c->n_positions);
    cJSON_AddNumberToObject(o, "n_ctx", c->n_positions);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "layer_norm_epsilon", (double)c->layer_norm_epsilon);
    cJSON_AddStringToObject(o, "activation_function", "gelu_new");
    cJSON_AddNullToObject(o, "n_inner");
    cJSON_AddNumberToObject(o, "resid_pdrop", 0.0);
    cJSON_AddNumberToObject(o, "embd_pdrop", 0.0);
    cJSON_AddNumberToObject(o, "attn_pdrop", 0.0);
    cJSON_AddNumberToObject(o, "initializer_range", 0.02);
    cJSON_AddBoolToObject(o, "tie_word_embeddings", 1);
    cJSON_AddBoolToObject(o, "scale_attn_weights", 1);
    if (tk && tk->eot >= 0) {
        cJSON_AddNumberToObject(o, "bos_token_id", tk->eot);
        cJSON_AddNumberToObject(o, "eos_token_id", tk->eot);
    }
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    char *js = cJSON_Print(o);
    cJSON_Delete(o);
    if (!js) return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    snprintf(path, sizeof path, "%s/config.json", dir);
    st = alim_file_write_atomic(path, js, strlen(js), err);
    free(js);
    if (!st && tk) st = alim_tokenizer_save(tk, dir, err);
    if (st) return st;

    size_t n_entries = 4 + (size_t)c->n_layer * 12;
    alim_st_entry *e = calloc(n_entries, sizeof *e);
    char (*names)[64] = calloc(n_entries, sizeof *names);
    if (!e || !names) {
        free(e), free(names);
        return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    }
    /* GPT-2's order: wte, wpe, then block by block, then ln_f */
    size_t k = 0;
    int order[ALIM_GPT_NUM_TENSORS];
    for (int t = 0; t < ALIM_GPT_NUM_TENSORS; t++) order[t] = t;
    for (int pass = 0; pass < 3; pass++) {
        int nl = pass == 1 ? c->n_layer : 1;
        for (int l = 0; l < nl; l++)
            for (int ti = 0; ti < ALIM_GPT_NUM_TENSORS; ti++) {
                int t = order[ti], per = alim_gpt_tensor_is_per_layer(t);
                if ((pass == 1) != per || (pass == 0 && t > ALIM_GPT_WPE) || (pass == 2 && t < ALIM_GPT_LNFW)) continue;
                int64_t shape[2];
                e[k].ndim = alim_gpt_tensor_info(m, t, l, names[k], sizeof names[k], shape);
                e[k].shape[0] = shape[0];
                e[k].shape[1] = shape[1];
                size_t n;
                e[k].data = alim_gpt_tensor_slice(m, m->params, t, l, &n);
                e[k].name = names[k];
                k++;
            }
    }
    cJSON *meta = cJSON_CreateObject();
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, step);
    cJSON_AddStringToObject(meta, "format", "pt");
    cJSON_AddStringToObject(meta, "alim_step", buf);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    st = alim_safetensors_write(path, e, k, meta, err);
    cJSON_Delete(meta);
    free(e);
    free(names);
    return st;
}

alim_status alim_checkpoint_save_optimizer(const char *dir, const alim_adamw *opt,
                                           const cJSON *state, alim_error *err)
{
    alim_status st = alim_checkpoint_make_dir(dir, err);
    if (st) return st;
    char path[4096], buf[32];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    cJSON *meta = state ? cJSON_Duplicate(state, 1) : cJSON_CreateObject();
    if (!meta) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    snprintf(buf, sizeof buf, "%" PRIu64, opt->step);
    cJSON_DeleteItemFromObjectCaseSensitive(meta, "step");
    cJSON_AddStringToObject(meta, "step", buf);
    alim_st_entry e[2] = {{"adamw.m", opt->m, 1, {(int64_t)opt->n}}, {"adamw.v", opt->v, 1, {(int64_t)opt->n}}};
    st = alim_safetensors_write(path, e, 2, meta, err);
    cJSON_Delete(meta);
    return st;
}

alim_status alim_checkpoint_load_optimizer(const char *dir, size_t n, alim_adamw *opt,
                                           cJSON **state, alim_error *err)
{
    *state = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/optimizer.safetensors", dir);
    alim_safetensors sf;
    alim_status st = alim_safetensors_read(path, &sf, err);
    if (st) return st;
    st = alim_adamw_create(opt, n, err);
    int64_t shape[1] = {(int64_t)n};
    if (!st) st = alim_safetensors_copy_f32(&sf, "adamw.m", 1, shape, opt->m, err);
    if (!st) st = alim_safetensors_copy_f32(&sf, "adamw.v", 1, shape, opt->v, err);
    const cJSON *s = sf.metadata ? cJSON_GetObjectItemCaseSensitive(sf.metadata, "step") : NULL;
    if (!st && !cJSON_IsString(s)) st = alim_error_set(err, ALIM_EFORMAT, path, "metadata has no step");
    if (!st) {
        opt->step = strtoull(s->valuestring, NULL, 10);
        *state = sf.metadata;
        sf.metadata = NULL;
    }
    if (st) alim_adamw_free(opt);
    alim_safetensors_free(&sf);
    return st;
}
