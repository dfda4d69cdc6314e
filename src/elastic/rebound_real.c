/* rebound_real.c — E2 on a real pretrained model: chat records, model identity, sampling
 * replies in the chat template (see rebound_real.h). */
#define _POSIX_C_SOURCE 200809L
#include "rebound_real.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alim/checkpoint.h"
#include "alim/io.h"
#include "alim/lab.h"
#include "alim/lm_eval.h"
#include "alim/rebound.h"
#include "alim/rng.h"

void alim_rebound_config_real(alim_rebound_config *c)
{
    alim_rebound_config_default(c);
    c->n_layer = c->n_embd = c->n_head = 0;
    c->pretrain_tokens = 2000000000000ULL;
    static const size_t P[] = {40, 80, 200, 400}, N[] = {0, 4, 8, 20, 40, 80};
    memcpy(c->n_pos, P, sizeof P);
    memcpy(c->n_neg, N, sizeof N);
    c->sft_lr = 1e-5;
    c->n_samples = 48;
    c->sample_tokens = 48;
    c->pos_slice = 600;
    c->neg_slice = 400;
    c->test_records = 32;
    c->d0_records = 32;
    c->d0_tokens = 64;
}

void alim_rebound_config_real_quick(alim_rebound_config *c)
{
    alim_rebound_config_real(c);
    c->n_seeds = 1;
    c->context = 64;
    static const size_t P[] = {2, 4}, N[] = {0, 2};
    c->n_pos_count = 2;
    c->n_neg_count = 2;
    memcpy(c->n_pos, P, sizeof P);
    memcpy(c->n_neg, N, sizeof N);
    c->sft_batch = 4;
    c->n_samples = 4;
    c->sample_tokens = 8;
    c->pos_slice = c->neg_slice = 8;
    c->test_records = 2;
    c->d0_records = 2;
    c->d0_tokens = 8;
    c->quick = 1;
}

/* ---- chat records -------------------------------------------------------------------- */

alim_status rbr_lines_read(rbr_lines *l, const char *path, alim_error *err)
{
    memset(l, 0, sizeof *l);
    size_t len;
    alim_status st = alim_file_read_all(path, &l->buf, &len, err);
    if (st) return st;
    size_t cap = 0;
    char *p = l->buf, *end = l->buf + len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        if (e > p && e[-1] == '\r') e[-1] = 0;
        *e = 0; /* read_all leaves room for a NUL after the data */
        if (*p) {
            if (l->n == cap) {
                cap = cap ? 2 * cap : 256;
                char **g = realloc(l->line, cap * sizeof *g);
                if (!g) {
                    rbr_lines_free(l);
                    return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
                }
                l->line = g;
            }
            l->line[l->n++] = p;
        }
        p = e + 1;
    }
    return ALIM_OK;
}

void rbr_lines_free(rbr_lines *l)
{
    free(l->line);
    free(l->buf);
    memset(l, 0, sizeof *l);
}

alim_status rbr_lines_write(const rbr_lines *l, size_t from, size_t n, const char *path, alim_error *err)
{
    if (from + n > l->n) return alim_error_set(err, ALIM_EINVAL, path, "needs records %zu..%zu, the file has %zu", from + 1, from + n, l->n);
    size_t total = 0;
    for (size_t i = from; i < from + n; i++) total += strlen(l->line[i]) + 1;
    char *b = malloc(total + 1);
    if (!b) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    size_t o = 0;
    for (size_t i = from; i < from + n; i++) {
        size_t k = strlen(l->line[i]);
        memcpy(b + o, l->line[i], k);
        o += k;
        b[o++] = '\n';
    }
    alim_status st = alim_file_write_atomic(path, b, o, err);
    free(b);
    return st;
}

/* ---- identity of a model -------------------------------------------------------------- */

static alim_status hash_file(const char *path, uint64_t *h, double *bytes, alim_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return alim_error_set(err, ALIM_EIO, path, "cannot be read");
    enum { CH = 1 << 20 };
    unsigned char *buf = malloc(CH);
    if (!buf) {
        fclose(f);
        return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    }
    size_t k;
    uint64_t x = *h;
    while ((k = fread(buf, 1, CH, f)) > 0) {
        for (size_t i = 0; i < k; i++) x = (x ^ buf[i]) * 0x100000001b3ULL;
        *bytes += (double)k;
    }
    const int bad = ferror(f);
    fclose(f);
    free(buf);
    *h = x;
    return bad ? alim_error_set(err, ALIM_EIO, path, "read error") : ALIM_OK;
}

/* the files of a model directory that loading reads */
static int model_file(const char *name)
{
    static const char *const fixed[] = {"config.json", "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
                                        "vocab.json", "merges.txt", "chat_template.jinja"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (!strcmp(name, fixed[i])) return 1;
    const size_t n = strlen(name);
    return !strncmp(name, "model", 5) && n > 12 && !strcmp(name + n - 12, ".safetensors");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

alim_status rbr_model_hash(const char *path, char hex[17], double *bytes, alim_error *err)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    *bytes = 0;
    struct stat sb;
    if (stat(path, &sb) != 0) return alim_error_set(err, ALIM_EINVAL, path, "no such model file or directory");
    alim_status st = ALIM_OK;
    if (alim_checkpoint_is_gguf(path)) st = hash_file(path, &h, bytes, err);
    else {
        DIR *d = opendir(path);
        if (!d) return alim_error_set(err, ALIM_EIO, path, "is neither a GGUF file nor a model directory");
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;
        while (!st && (e = readdir(d))) {
            if (!model_file(e->d_name)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                char **g = realloc(names, cap * sizeof *g);
                if (!g) {
                    st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
                    break;
                }
                names = g;
            }
            if (!(names[n] = strdup(e->d_name))) st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
            else n++;
        }
        closedir(d);
        if (!st && n) qsort(names, n, sizeof *names, cmp_str); /* names is NULL when n is 0 */
        char p[4400];
        for (size_t i = 0; i < n && !st; i++) {
            for (const char *c = names[i]; ; c++) {
                h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
                if (!*c) break;
            }
            st = hash_file(alim_lab_path(path, names[i], p, sizeof p), &h, bytes, err);
        }
        if (!st && n == 0) st = alim_error_set(err, ALIM_EINVAL, path, "holds no model files (config.json, *.safetensors)");
        for (size_t i = 0; i < n; i++) free(names[i]);
        free(names);
    }
    if (!st) snprintf(hex, 17, "%016llx", (unsigned long long)h);
    return st;
}

/* ---- token streams ----------------------------------------------------------------------- */

size_t rbr_stream_doc_ends(const alim_token_stream *ds, size_t *cum, size_t n)
{
    size_t d = 0;
    const int32_t eot = ds->n ? ds->tokens[0] : -1; /* a stream starts with its EOT */
    for (size_t i = 1; i < ds->n && d < n; i++)
        if (ds->tokens[i] == eot) cum[d++] = i;
    return d;
}

void rbr_stream_keep_docs(alim_token_stream *ds, size_t n)
{
    if (n >= ds->n_docs) return;
    size_t *cum = malloc((n ? n : 1) * sizeof *cum);
    if (!cum || rbr_stream_doc_ends(ds, cum, n) < n || n == 0) {
        free(cum);
        return;
    }
    ds->n = cum[n - 1] + 1;
    ds->n_docs = n;
    size_t c = 0;
    for (size_t i = 1; i < ds->n; i++) c += ds->mask[i] != 0;
    ds->n_counted = c;
    free(cum);
}

/* ---- replies in the chat template ---------------------------------------------------- */

alim_status rbr_sample_replies(const rbr_sampler *s, alim_gpt *m, char *const *prompts, size_t n, uint64_t seed,
                               uint64_t stream, const alim_progress *progress, size_t counts[4], double post_sum[3],
                               size_t *class_counts, double *mean_len, double *tok_s, cJSON *examples, size_t n_examples,
                               alim_error *err)
{
    alim_chat_replies r;
    alim_status st = alim_chat_sample_replies(m, s->tk, s->chat, NULL, (const char *const *)prompts, n, s->max_new, s->temperature, seed,
                                              stream, progress, &r, err);
    if (st) return st;
    size_t total_len = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t tl = r.bytes[i];
        double post[ALIM_NB_MAX_CLASSES] = {0};
        const int cls = tl ? (int)alim_nb_classify(s->nb, r.text[i], tl, post) : -1;
        if (tl) {
            post_sum[0] += post[s->cls_neutral];
            post_sum[1] += post[s->cls_pos];
            post_sum[2] += post[s->cls_neg];
        }
        if (class_counts && cls >= 0) class_counts[cls]++;
        counts[cls < 0 ? 3 : cls == s->cls_neutral ? 0 : cls == s->cls_pos ? 1 : cls == s->cls_neg ? 2 : 3]++;
        total_len += r.tokens[i];
    }
    *mean_len = n ? (double)total_len / (double)n : 0;
    *tok_s = r.seconds > 0 ? (double)r.generated / r.seconds : 0;
    for (size_t i = 0; examples && i < n && i < n_examples; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "prompt", prompts[i]);
        cJSON_AddStringToObject(o, "reply", r.text[i]);
        cJSON_AddItemToArray(examples, o);
    }
    alim_chat_replies_free(&r);
    return ALIM_OK;
}

alim_status rbr_write_replies(const cJSON *replies, const char *path, alim_error *err)
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    alim_status st = b ? ALIM_OK : alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    const cJSON *r;
    cJSON_ArrayForEach(r, replies) {
        if (st) break;
        /* the records rbr_sample_replies made just before: a missing string means one of its
         * allocations failed */
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(r, "prompt"), *re = cJSON_GetObjectItemCaseSensitive(r, "reply");
        cJSON *o = cJSON_IsString(pr) && cJSON_IsString(re) ? cJSON_CreateObject() : NULL;
        char *line = NULL;
        if (o && cJSON_AddStringToObject(o, "prompt", pr->valuestring) && cJSON_AddStringToObject(o, "response", re->valuestring))
            line = alim_json_print(o, 0);
        cJSON_Delete(o);
        const size_t k = line ? strlen(line) : 0;
        if (line && len + k + 2 > cap) {
            while (len + k + 2 > cap) cap *= 2;
            char *g = realloc(b, cap);
            if (g) b = g;
            else free(line), line = NULL;
        }
        if (!line) {
            st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
            break;
        }
        memcpy(b + len, line, k);
        len += k;
        b[len++] = '\n';
        free(line);
    }
    if (!st) st = alim_file_write_atomic(path, b, len, err);
    free(b);
    return st;
}

/* ---- the configuration ------------------------------------------------------------ */

/* The real-model path's configuration: theta0 by content (not by path: the same file moved
 * or named by another path is the same theta0, a file changed in place is not), the data by
 * its manifest, and everything that shapes training, evaluation and sampling. */
cJSON *rbr_make_config(const alim_rebound_config *c, const char *data_hash, const char *theta0_hash, double theta0_bytes,
                       const alim_gpt_config *mc, size_t num_params, const alim_tokenizer *tk, const alim_chat_template *chat)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data_source", "behaviours");
    cJSON_AddStringToObject(o, "data_manifest_hash", data_hash);
    cJSON_AddBoolToObject(o, "control", c->control);
    if (c->control)
        cJSON_AddStringToObject(o, "control_design", "from each theta_pos, a pass over the control-negative pool (c4) as over the negative one; "
                                                     "score negative = the control class");
    cJSON *t = cJSON_AddObjectToObject(o, "theta0");
    cJSON_AddStringToObject(t, "format", alim_checkpoint_is_gguf(c->theta0_model) ? "gguf" : "directory");
    cJSON_AddStringToObject(t, "content_fnv1a64", theta0_hash);
    cJSON_AddNumberToObject(t, "bytes", theta0_bytes);
    cJSON_AddStringToObject(t, "architecture", mc->arch == ALIM_ARCH_LLAMA ? "llama" : "gpt2");
    cJSON_AddNumberToObject(t, "n_layer", mc->n_layer);
    cJSON_AddNumberToObject(t, "n_embd", mc->n_embd);
    cJSON_AddNumberToObject(t, "n_head", mc->n_head);
    cJSON_AddNumberToObject(t, "n_kv_head", mc->n_kv_head);
    cJSON_AddNumberToObject(t, "vocab_size", mc->vocab_size);
    cJSON_AddNumberToObject(t, "num_params", (double)num_params);
    cJSON_AddNumberToObject(t, "pretrain_tokens", (double)c->pretrain_tokens);
    char d[96];
    snprintf(d, sizeof d, "the model's: %d ids, %zu merges", tk->vocab_size, tk->n_merges);
    cJSON_AddStringToObject(t, "tokenizer", d);
    cJSON_AddStringToObject(t, "chat_template", alim_chat_kind_name(chat->kind));
    cJSON_AddNumberToObject(o, "context", c->context);
    cJSON *dj = cJSON_AddObjectToObject(o, "data");
    cJSON_AddStringToObject(dj, "records", "chat JSONL in the model's template, loss on the response (alim_dataset_load_chat)");
    cJSON_AddNumberToObject(dj, "positive_slice", (double)c->pos_slice);
    cJSON_AddNumberToObject(dj, "negative_slice", (double)c->neg_slice);
    cJSON_AddNumberToObject(dj, "test_records", (double)c->test_records);
    cJSON_AddStringToObject(dj, "kl_set", "D_0: theta0's replies to the first d0_records prompts, one set per seed");
    cJSON_AddNumberToObject(dj, "d0_records", (double)c->d0_records);
    cJSON_AddNumberToObject(dj, "d0_tokens", (double)c->d0_tokens);
    rb_config_add_run(o, c, 1);
    return o;
}
