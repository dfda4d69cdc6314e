/* checkpoint.c — model checkpoints (see alim/checkpoint.h): Hugging Face directories of GPT-2 and
 * Llama-family models (config.json readers and writers, single or sharded safetensors), the
 * optimizer state, GGUF dispatch, and a training checkpoint saved as one transaction. */
#define _POSIX_C_SOURCE 200809L
#include "alim/checkpoint.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alim/io.h"
#include "alim/safetensors.h"
#include "model.h"

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
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return alim_error_set(err, ALIM_EFORMAT, where, "must be an integer");
    if (fabs(v->valuedouble) > 1e9) /* before the cast to int, and far above any real model's */
        return alim_error_set(err, ALIM_EFORMAT, where, "must be at most 10^9 in magnitude, got %.17g", v->valuedouble);
    *out = (int)v->valuedouble;
    return ALIM_OK;
}

static alim_status get_float(const cJSON *o, const char *key, const char *path, float *out, alim_error *err)
{
    double v = *out;
    alim_status st = alim_json_get_number(o, key, 0, path, &v, err);
    if (!st) *out = (float)v;
    return st;
}

/* A boolean that alim implements only with one value: absent/null is that value. */
static alim_status require_bool(const cJSON *o, const char *key, int want, const char *path,
                                const char *why, alim_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return ALIM_OK;
    char where[ALIM_ERROR_WHERE_MAX];
    join_where(where, sizeof where, path, key);
    if (!cJSON_IsBool(v)) return alim_error_set(err, ALIM_EFORMAT, where, "must be true or false");
    if (cJSON_IsTrue(v) != want) return alim_error_set(err, ALIM_EFORMAT, where, "%s", why);
    return ALIM_OK;
}

static alim_status get_bool(const cJSON *o, const char *key, const char *path, int *out, alim_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return ALIM_OK;
    char where[ALIM_ERROR_WHERE_MAX];
    join_where(where, sizeof where, path, key);
    if (!cJSON_IsBool(v)) return alim_error_set(err, ALIM_EFORMAT, where, "must be true or false");
    *out = cJSON_IsTrue(v);
    return ALIM_OK;
}

/* rope_scaling: null, {"rope_type"|"type": "default"} or the llama3 rescaling; any other
 * type (linear, dynamic, yarn, longrope, ...) changes the maths and is refused by name. */
static alim_status read_rope_scaling(const cJSON *o, const char *path, alim_gpt_config *cfg, alim_error *err)
{
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "rope_scaling");
    char where[ALIM_ERROR_WHERE_MAX];
    join_where(where, sizeof where, path, "rope_scaling");
    if (!rs || cJSON_IsNull(rs)) return ALIM_OK;
    if (!cJSON_IsObject(rs)) return alim_error_set(err, ALIM_EFORMAT, where, "must be null or an object");
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!ty) ty = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsString(ty)) return alim_error_set(err, ALIM_EFORMAT, where, "has no rope_type");
    if (!strcmp(ty->valuestring, "default")) return ALIM_OK;
    if (strcmp(ty->valuestring, "llama3"))
        return alim_error_set(err, ALIM_EFORMAT, where, "rope type '%s' is not supported (alim computes default and llama3)", ty->valuestring);
    cfg->rope_type = ALIM_ROPE_LLAMA3;
    double f = 0, lo = 0, hi = 0;
    alim_status st = alim_json_get_number(rs, "factor", 1, where, &f, err);
    if (!st) st = alim_json_get_number(rs, "low_freq_factor", 1, where, &lo, err);
    if (!st) st = alim_json_get_number(rs, "high_freq_factor", 1, where, &hi, err);
    if (!st) st = get_int(rs, "original_max_position_embeddings", 1, where, &cfg->rope_original_max_positions, err);
    cfg->rope_factor = (float)f, cfg->rope_low_freq_factor = (float)lo, cfg->rope_high_freq_factor = (float)hi;
    return st;
}

/* config.json of the Llama family: model_type llama, mistral or qwen2. Every field that
 * changes the maths is read; a value alim does not implement is refused naming it. */
static alim_status read_llama_config(const cJSON *o, const char *path, const char *model_type,
                                     alim_gpt_config *cfg, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    const int qwen2 = !strcmp(model_type, "qwen2"), mistral = !strcmp(model_type, "mistral");
    cfg->arch = ALIM_ARCH_LLAMA;
    cfg->layer_norm_epsilon = 1e-6f;
    cfg->rope_theta = 10000.0f;
    cfg->n_positions = qwen2 ? 32768 : mistral ? 4096 * 32 : 2048; /* the configs' defaults */
    cfg->qkv_bias = qwen2;
    alim_status st = get_int(o, "hidden_size", 1, path, &cfg->n_embd, err);
    if (!st) st = get_int(o, "num_hidden_layers", 1, path, &cfg->n_layer, err);
    if (!st) st = get_int(o, "num_attention_heads", 1, path, &cfg->n_head, err);
    cfg->n_kv_head = cfg->n_head;
    if (!st) st = get_int(o, "num_key_value_heads", 0, path, &cfg->n_kv_head, err);
    if (!st) st = get_int(o, "intermediate_size", 1, path, &cfg->n_inner, err);
    if (!st) st = get_int(o, "max_position_embeddings", 0, path, &cfg->n_positions, err);
    if (!st) st = get_int(o, "vocab_size", 1, path, &cfg->vocab_size, err);
    if (!st) st = get_float(o, "rms_norm_eps", path, &cfg->layer_norm_epsilon, err);
    if (!st) st = get_float(o, "rope_theta", path, &cfg->rope_theta, err);
    if (!st) st = get_bool(o, "tie_word_embeddings", path, &cfg->tie_word_embeddings, err);
    if (!st) st = read_rope_scaling(o, path, cfg, err);
    if (!st) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "hidden_act");
        join_where(where, sizeof where, path, "hidden_act");
        if (a && (!cJSON_IsString(a) || strcmp(a->valuestring, "silu")))
            st = alim_error_set(err, ALIM_EFORMAT, where, "alim implements only silu (SwiGLU)");
    }
    if (!st) {
        int hd = 0;
        st = get_int(o, "head_dim", 0, path, &hd, err);
        join_where(where, sizeof where, path, "head_dim");
        if (!st && hd && cfg->n_head > 0 && hd * cfg->n_head != cfg->n_embd)
            st = alim_error_set(err, ALIM_EFORMAT, where, "alim implements only head_dim = hidden_size / num_attention_heads (%d), got %d", cfg->n_embd / cfg->n_head, hd);
    }
    if (!st) st = require_bool(o, "attention_bias", 0, path, "Llama's attention_bias (biases on q, k, v and o) is not supported; Qwen2's q/k/v biases are", err);
    if (!st) st = require_bool(o, "mlp_bias", 0, path, "MLP biases are not supported", err);
    if (!st && qwen2) st = require_bool(o, "use_sliding_window", 0, path, "sliding-window attention is not supported", err);
    if (!st && mistral) {
        int sw = 0;
        st = get_int(o, "sliding_window", 0, path, &sw, err);
        join_where(where, sizeof where, path, "sliding_window");
        if (!st && sw && sw < cfg->n_positions)
            st = alim_error_set(err, ALIM_EFORMAT, where, "sliding-window attention (window %d < max_position_embeddings %d) is not supported", sw, cfg->n_positions);
    }
    return st;
}

/* config.json of a GPT-2 model (GPT2Config keys). */
static alim_status read_gpt2_config(const cJSON *o, const char *path, alim_gpt_config *cfg, alim_error *err)
{
    char where[ALIM_ERROR_WHERE_MAX];
    alim_status st = get_int(o, "n_embd", 1, path, &cfg->n_embd, err);
    if (!st) st = get_int(o, "n_layer", 1, path, &cfg->n_layer, err);
    if (!st) st = get_int(o, "n_head", 1, path, &cfg->n_head, err);
    if (!st) st = get_int(o, "n_positions", 1, path, &cfg->n_positions, err);
    if (!st) st = get_int(o, "vocab_size", 1, path, &cfg->vocab_size, err);
    if (!st) st = get_float(o, "layer_norm_epsilon", path, &cfg->layer_norm_epsilon, err);
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
    return st;
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
    const cJSON *mt = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, "model_type") : NULL;
    join_where(where, sizeof where, path, "model_type");
    if (!cJSON_IsObject(o)) st = alim_error_set(err, ALIM_EFORMAT, path, "must be a JSON object");
    else if (mt && !cJSON_IsString(mt)) st = alim_error_set(err, ALIM_EFORMAT, where, "must be a string");
    else if (!mt || !strcmp(mt->valuestring, "gpt2")) st = read_gpt2_config(o, path, cfg, err);
    else if (!strcmp(mt->valuestring, "llama") || !strcmp(mt->valuestring, "qwen2") || !strcmp(mt->valuestring, "mistral"))
        st = read_llama_config(o, path, mt->valuestring, cfg, err);
    else
        st = alim_error_set(err, ALIM_EFORMAT, where, "'%s' is not supported (alim reads gpt2, llama, qwen2 and mistral)", mt->valuestring);
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

/* The safetensors files of a directory: model.safetensors, or the shards that
 * model.safetensors.index.json's weight_map names (each once, in order of appearance). */
static alim_status list_weight_files(const char *dir, char ***files, size_t *n, alim_error *err)
{
    char path[4096];
    struct stat sb;
    *files = NULL, *n = 0;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (stat(path, &sb) == 0 || errno != ENOENT) {
        *files = malloc(sizeof **files);
        if (!*files || !((*files)[0] = strdup(path))) return free(*files), alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
        *n = 1;
        return ALIM_OK;
    }
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (stat(path, &sb) != 0)
        return alim_error_set(err, ALIM_EINVAL, dir, "holds neither model.safetensors nor model.safetensors.index.json");
    cJSON *o;
    alim_status st = alim_json_read_file(path, &o, err);
    if (st) return st;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(o, "weight_map");
    char where[ALIM_ERROR_WHERE_MAX];
    join_where(where, sizeof where, path, "weight_map");
    if (!cJSON_IsObject(wm) || !wm->child) st = alim_error_set(err, ALIM_EFORMAT, where, "missing or empty");
    size_t cap = (size_t)cJSON_GetArraySize(wm);
    char **list = st ? NULL : calloc(cap ? cap : 1, sizeof *list);
    if (!st && !list) st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    for (const cJSON *e = st ? NULL : wm->child; e && !st; e = e->next) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, '/') || !e->valuestring[0]) {
            st = alim_error_set(err, ALIM_EFORMAT, where, "%s: must name a file in the directory", e->string);
            break;
        }
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", dir, e->valuestring);
        size_t i = 0;
        while (i < *n && strcmp(list[i], full)) i++;
        if (i < *n) continue;
        if (!(list[*n] = strdup(full))) st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
        else (*n)++;
    }
    cJSON_Delete(o);
    if (st) {
        for (size_t i = 0; list && i < *n; i++) free(list[i]);
        free(list);
        *n = 0;
        return st;
    }
    *files = list;
    return ALIM_OK;
}

/* Fills m's parameters from the directory's safetensors file(s): every tensor of the
 * model's table must be found in one of them, with its shape; F32, F16 and BF16 are
 * converted to fp32. GPT-2 state dicts may carry a "transformer." prefix. Tensors the model
 * does not use are ignored (attention masks; lm_head.weight of a tied model). */
static alim_status load_weights(const char *dir, alim_gpt *m, uint64_t *step, alim_error *err)
{
    char **files;
    size_t nfiles;
    alim_status st = list_weight_files(dir, &files, &nfiles, err);
    if (st) return st;
    const int L = m->config.n_layer;
    unsigned char *found = calloc((size_t)m->n_tensors * L, 1);
    if (!found) st = alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    char name[256], full[300];
    int64_t shape[2];
    for (size_t f = 0; f < nfiles && !st; f++) {
        alim_safetensors sf;
        st = alim_safetensors_read(files[f], &sf, err);
        if (st) break;
        const char *prefix = "";
        if (m->config.arch == ALIM_ARCH_GPT2 && !alim_safetensors_find(&sf, "wte.weight") &&
            alim_safetensors_find(&sf, "transformer.wte.weight"))
            prefix = "transformer.";
        for (int t = 0; t < m->n_tensors && !st; t++) {
            const int nl = alim_gpt_tensor_is_per_layer(m, t) ? L : 1;
            for (int l = 0; l < nl && !st; l++) {
                if (found[(size_t)t * L + l]) continue;
                const int nd = alim_gpt_tensor_info(m, t, l, name, sizeof name, shape);
                snprintf(full, sizeof full, "%s%s", prefix, name);
                if (nfiles > 1 && !alim_safetensors_find(&sf, full)) continue;
                size_t n;
                float *dst = alim_gpt_tensor_slice(m, m->params, t, l, &n);
                st = alim_safetensors_copy_f32(&sf, full, nd, shape, dst, err);
                found[(size_t)t * L + l] = 1;
            }
        }
        if (!st && step && f == 0) {
            *step = 0;
            const cJSON *s = sf.metadata ? cJSON_GetObjectItemCaseSensitive(sf.metadata, "alim_step") : NULL;
            if (cJSON_IsString(s)) *step = strtoull(s->valuestring, NULL, 10);
        }
        alim_safetensors_free(&sf);
    }
    for (int t = 0; t < m->n_tensors && !st; t++)
        for (int l = 0; l < (alim_gpt_tensor_is_per_layer(m, t) ? L : 1) && !st; l++)
            if (!found[(size_t)t * L + l]) {
                alim_gpt_tensor_info(m, t, l, name, sizeof name, shape);
                st = alim_error_set(err, ALIM_EFORMAT, dir, "tensor %s is in none of the %zu weight files", name, nfiles);
            }
    free(found);
    for (size_t f = 0; f < nfiles; f++) free(files[f]);
    free(files);
    alim_gpt_params_changed(m);
    return st;
}

/* Every parameter comes from a weight file, in at least 2 bytes (F16/BF16): a config.json
 * that describes more than the files can hold is refused before a large model is allocated
 * (a 1 kB config of 1000 layers of width 4096 would otherwise ask for terabytes first).
 * Small models are left to the tensor-by-tensor reading, whose errors name the tensor. */
static alim_status check_weight_bytes(const char *dir, const alim_gpt_config *cfg, alim_error *err)
{
    alim_gpt probe;
    memset(&probe, 0, sizeof probe);
    probe.config = *cfg;
    lm_model_setup(&probe);
    char **files;
    size_t nfiles;
    alim_status st = list_weight_files(dir, &files, &nfiles, err);
    if (st) return st;
    unsigned long long bytes = 0;
    for (size_t f = 0; f < nfiles; f++) {
        struct stat sb;
        if (stat(files[f], &sb) == 0) bytes += (unsigned long long)sb.st_size;
        free(files[f]);
    }
    free(files);
    if ((unsigned long long)probe.num_params > bytes / 2 && probe.num_params > ((size_t)64 << 20))
        return alim_error_set(err, ALIM_EFORMAT, dir, "config.json describes %zu parameters, more than its weight files (%llu bytes) can hold",
                              probe.num_params, bytes);
    return ALIM_OK;
}

alim_status alim_checkpoint_load(const char *dir, alim_gpt *m, alim_tokenizer *tk,
                                 uint64_t *step, alim_error *err)
{
    if (alim_checkpoint_is_gguf(dir)) {
        if (step) *step = 0;
        return alim_gguf_model_load(dir, m, tk, err);
    }
    alim_gpt_config cfg;
    alim_status st = alim_checkpoint_read_config(dir, &cfg, err);
    if (!st) st = check_weight_bytes(dir, &cfg, err);
    if (st) return st;
    st = alim_gpt_create(m, &cfg, err);
    if (st) return st;
    st = load_weights(dir, m, step, err);
    if (!st) st = alim_gpt_check_finite(m, dir, err);
    if (!st && tk) {
        char path[4096];
        st = alim_tokenizer_load(tk, dir, err);
        if (!st && tk->vocab_size > cfg.vocab_size) {
            snprintf(path, sizeof path, "%s", dir);
            st = alim_error_set(err, ALIM_EFORMAT, path, "the tokenizer has %d ids, more than the model's vocab_size %d", tk->vocab_size, cfg.vocab_size);
            alim_tokenizer_free(tk);
        }
    }
    if (st) alim_gpt_free(m);
    return st;
}

alim_status alim_checkpoint_load_tokenizer(const char *path, alim_tokenizer *tk, alim_error *err)
{
    if (alim_checkpoint_is_gguf(path)) return alim_gguf_tokenizer_load(path, tk, err);
    return alim_tokenizer_load(tk, path, err);
}

int alim_checkpoint_is_gguf(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        const size_t n = strlen(path);
        return n > 5 && !strcmp(path + n - 5, ".gguf"); /* a missing .gguf: the GGUF reader says so */
    }
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    if (f) {
        if (fread(magic, 1, 4, f) != 4) magic[0] = 0;
        fclose(f);
    }
    return !memcmp(magic, "GGUF", 4);
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

/* A special token's text for tokenizer_config.json (NULL for an absent id). */
static cJSON *token_text(const alim_tokenizer *tk, int id)
{
    size_t len;
    const char *s = id >= 0 ? alim_tokenizer_decode(tk, id, &len) : NULL;
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* tokenizer_config.json beside a tokenizer.json: what transformers' AutoTokenizer needs to
 * load the tokenizer with its special tokens, and the chat template when the directory
 * already holds one (alim_chat_template_copy adds it otherwise). */
static alim_status write_tokenizer_config(const char *dir, const alim_tokenizer *tk, int max_len, alim_error *err)
{
    char path[4096];
    cJSON *o = cJSON_CreateObject();
    if (!o) return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    cJSON_AddStringToObject(o, "tokenizer_class", "PreTrainedTokenizerFast");
    cJSON_AddItemToObject(o, "bos_token", token_text(tk, tk->bos_id));
    cJSON_AddItemToObject(o, "eos_token", token_text(tk, tk->eos_id));
    cJSON_AddItemToObject(o, "unk_token", token_text(tk, tk->unk_id));
    cJSON_AddItemToObject(o, "pad_token", token_text(tk, tk->pad_id));
    cJSON_AddBoolToObject(o, "clean_up_tokenization_spaces", 0);
    cJSON_AddNumberToObject(o, "model_max_length", max_len);
    snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
    char *tmpl = NULL;
    size_t tlen = 0;
    struct stat sb;
    if (stat(path, &sb) == 0 && alim_file_read_all(path, &tmpl, &tlen, NULL) == ALIM_OK) {
        cJSON_AddItemToObject(o, "chat_template", cJSON_CreateString(tmpl));
        free(tmpl);
    }
    char *js = cJSON_Print(o);
    cJSON_Delete(o);
    if (!js) return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    alim_status st = alim_file_write_atomic(path, js, strlen(js), err);
    free(js);
    return st;
}

/* config.json of a Llama-family model: Qwen2 when the projections carry q/k/v biases
 * (Llama's attention_bias would add one to o_proj too), Llama otherwise. */
static void add_llama_config(cJSON *o, const alim_gpt_config *c, const alim_tokenizer *tk)
{
    const int qwen2 = c->qkv_bias;
    cJSON *arch = cJSON_AddArrayToObject(o, "architectures");
    cJSON_AddItemToArray(arch, cJSON_CreateString(qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
    cJSON_AddStringToObject(o, "model_type", qwen2 ? "qwen2" : "llama");
    cJSON_AddNumberToObject(o, "hidden_size", c->n_embd);
    cJSON_AddNumberToObject(o, "intermediate_size", c->n_inner);
    cJSON_AddNumberToObject(o, "num_hidden_layers", c->n_layer);
    cJSON_AddNumberToObject(o, "num_attention_heads", c->n_head);
    cJSON_AddNumberToObject(o, "num_key_value_heads", c->n_kv_head);
    cJSON_AddNumberToObject(o, "head_dim", c->n_embd / c->n_head);
    cJSON_AddNumberToObject(o, "max_position_embeddings", c->n_positions);
    cJSON_AddNumberToObject(o, "vocab_size", c->vocab_size);
    cJSON_AddNumberToObject(o, "rms_norm_eps", (double)c->layer_norm_epsilon);
    cJSON_AddNumberToObject(o, "rope_theta", (double)c->rope_theta);
    if (c->rope_type == ALIM_ROPE_LLAMA3) {
        cJSON *rs = cJSON_AddObjectToObject(o, "rope_scaling");
        cJSON_AddStringToObject(rs, "rope_type", "llama3");
        cJSON_AddNumberToObject(rs, "factor", (double)c->rope_factor);
        cJSON_AddNumberToObject(rs, "low_freq_factor", (double)c->rope_low_freq_factor);
        cJSON_AddNumberToObject(rs, "high_freq_factor", (double)c->rope_high_freq_factor);
        cJSON_AddNumberToObject(rs, "original_max_position_embeddings", c->rope_original_max_positions);
    } else
        cJSON_AddNullToObject(o, "rope_scaling");
    cJSON_AddStringToObject(o, "hidden_act", "silu");
    cJSON_AddBoolToObject(o, "tie_word_embeddings", c->tie_word_embeddings);
    if (qwen2) cJSON_AddBoolToObject(o, "use_sliding_window", 0);
    else {
        cJSON_AddBoolToObject(o, "attention_bias", 0);
        cJSON_AddBoolToObject(o, "mlp_bias", 0);
    }
    cJSON_AddNumberToObject(o, "initializer_range", 0.02);
    if (tk && tk->bos_id >= 0) cJSON_AddNumberToObject(o, "bos_token_id", tk->bos_id);
    if (tk && tk->eos_id >= 0) cJSON_AddNumberToObject(o, "eos_token_id", tk->eos_id);
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
    if (c->arch == ALIM_ARCH_LLAMA) add_llama_config(o, c, tk);
    else {
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
    }
    cJSON_AddStringToObject(o, "torch_dtype", "float32");
    char *js = cJSON_Print(o);
    cJSON_Delete(o);
    if (!js) return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    snprintf(path, sizeof path, "%s/config.json", dir);
    st = alim_file_write_atomic(path, js, strlen(js), err);
    free(js);
    if (!st && tk) st = alim_tokenizer_save(tk, dir, err);
    if (!st && tk && tk->hf) st = write_tokenizer_config(dir, tk, c->n_positions, err);
    if (st) return st;

    size_t n_entries = (size_t)m->n_tensors * c->n_layer;
    alim_st_entry *e = calloc(n_entries, sizeof *e);
    char (*names)[96] = calloc(n_entries, sizeof *names);
    if (!e || !names) {
        free(e), free(names);
        return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    }
    /* the table's order: the tensors before the blocks (wte, wpe), then block by block,
     * then the ones after (ln_f; norm, lm_head) */
    size_t k = 0;
    int first_block = 0;
    while (first_block < m->n_tensors && !alim_gpt_tensor_is_per_layer(m, first_block)) first_block++;
    for (int pass = 0; pass < 3; pass++) {
        int nl = pass == 1 ? c->n_layer : 1;
        for (int l = 0; l < nl; l++)
            for (int t = 0; t < m->n_tensors; t++) {
                const int per = alim_gpt_tensor_is_per_layer(m, t);
                if ((pass == 1) != per || (pass == 0 && t > first_block) || (pass == 2 && t < first_block)) continue;
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

/* ---- a training checkpoint as one transaction ---------------------------------------
 *
 * A training checkpoint is several files that must change together: the model, the
 * optimizer state (moments, data position, RNG), config.json, the tokenizer and the chat
 * template. Each is written atomically (temporary file, fsync, rename), but a crash between
 * two renames would leave the model of step N+k beside the optimizer of step N. So a save
 * first keeps the previous set: hard links to its files in DIR/.prev (made in .prev.tmp,
 * then renamed, so .prev is complete or absent); the new files are then renamed over the
 * old names; renaming .prev away is the commit. A writer that finds .prev (the lock tells it
 * no other is running) rolls back to it: every crash point leaves either the previous or
 * the next complete checkpoint. Readers never see a torn file: each name is swapped by one
 * rename, and a model alone (eval, sample) is consistent at every moment. */

static const char *const ckpt_files[] = {"config.json", "model.safetensors", "optimizer.safetensors", "vocab.json",
                                         "merges.txt", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"};
enum { N_CKPT_FILES = sizeof ckpt_files / sizeof *ckpt_files };

static alim_status sync_dir(const char *dir, alim_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return alim_error_set(err, ALIM_EIO, dir, "cannot open the directory: %s", strerror(errno));
    int rc = fsync(fd);
    close(fd);
    return rc ? alim_error_set(err, ALIM_EIO, dir, "cannot sync the directory: %s", strerror(errno)) : ALIM_OK;
}

/* removes dir/sub and the files in it (no deeper levels: alim puts none there) */
static alim_status remove_subdir(const char *dir, const char *sub, alim_error *err)
{
    char path[4400], f[4700];
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    if (!d) return errno == ENOENT ? ALIM_OK : alim_error_set(err, ALIM_EIO, path, "cannot read the directory: %s", strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(f, sizeof f, "%s/%s", path, e->d_name);
            if (unlink(f) != 0 && errno != ENOENT) {
                closedir(d);
                return alim_error_set(err, ALIM_EIO, f, "cannot remove: %s", strerror(errno));
            }
        }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT) return alim_error_set(err, ALIM_EIO, path, "cannot remove: %s", strerror(errno));
    return ALIM_OK;
}

alim_status alim_checkpoint_recover(const char *dir, alim_error *err)
{
    char prev[4400], from[4600], to[4600];
    snprintf(prev, sizeof prev, "%s/.prev", dir);
    struct stat sb;
    alim_status st = ALIM_OK;
    if (stat(prev, &sb) == 0) { /* a save was interrupted: back to the set it kept */
        for (size_t i = 0; i < N_CKPT_FILES && !st; i++) {
            snprintf(from, sizeof from, "%s/%s", prev, ckpt_files[i]);
            snprintf(to, sizeof to, "%s/%s", dir, ckpt_files[i]);
            if (stat(from, &sb) == 0) {
                if (rename(from, to) != 0) st = alim_error_set(err, ALIM_EIO, to, "cannot restore the previous checkpoint: %s", strerror(errno));
            } else if (unlink(to) != 0 && errno != ENOENT)
                st = alim_error_set(err, ALIM_EIO, to, "cannot remove a file of an interrupted save: %s", strerror(errno));
        }
        if (!st) st = sync_dir(dir, err);
        if (!st) st = remove_subdir(dir, ".prev", err);
    }
    if (!st) st = remove_subdir(dir, ".prev.tmp", err);
    if (!st) st = remove_subdir(dir, ".prev.old", err);
    return st;
}

alim_status alim_checkpoint_txn_begin(const char *dir, alim_error *err)
{
    alim_status st = alim_checkpoint_recover(dir, err);
    char tmp[4400], prev[4400], from[4600], to[4600];
    snprintf(tmp, sizeof tmp, "%s/.prev.tmp", dir);
    snprintf(prev, sizeof prev, "%s/.prev", dir);
    if (!st && mkdir(tmp, 0777) != 0) st = alim_error_set(err, ALIM_EIO, tmp, "cannot create: %s", strerror(errno));
    for (size_t i = 0; i < N_CKPT_FILES && !st; i++) {
        snprintf(from, sizeof from, "%s/%s", dir, ckpt_files[i]);
        snprintf(to, sizeof to, "%s/%s", tmp, ckpt_files[i]);
        if (link(from, to) != 0 && errno != ENOENT)
            st = alim_error_set(err, ALIM_EIO, to, "cannot keep the previous checkpoint: %s", strerror(errno));
    }
    if (!st) st = sync_dir(tmp, err);
    if (!st && rename(tmp, prev) != 0) st = alim_error_set(err, ALIM_EIO, prev, "cannot keep the previous checkpoint: %s", strerror(errno));
    if (!st) st = sync_dir(dir, err);
    return st;
}

alim_status alim_checkpoint_txn_commit(const char *dir, alim_error *err)
{
    char prev[4400], old[4400];
    snprintf(prev, sizeof prev, "%s/.prev", dir);
    snprintf(old, sizeof old, "%s/.prev.old", dir);
    alim_status st = sync_dir(dir, err); /* the new files' renames are durable ... */
    if (!st && rename(prev, old) != 0) /* ... before the commit */
        st = alim_error_set(err, ALIM_EIO, prev, "cannot commit the checkpoint: %s", strerror(errno));
    if (!st) st = sync_dir(dir, err);
    if (!st) st = remove_subdir(dir, ".prev.old", err);
    return st;
}
