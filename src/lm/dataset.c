/* dataset.c — token streams and training batches (see alim/dataset.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "alim/chat.h"
#include "alim/io.h"

int alim_data_format_parse(const char *s)
{
    if (!strcmp(s, "auto")) return ALIM_DATA_AUTO;
    if (!strcmp(s, "text")) return ALIM_DATA_TEXT;
    if (!strcmp(s, "lines")) return ALIM_DATA_LINES;
    if (!strcmp(s, "jsonl")) return ALIM_DATA_JSONL;
    return -1;
}

void alim_dataset_free(alim_token_stream *ds)
{
    if (!ds) return;
    free(ds->tokens);
    free(ds->mask);
    memset(ds, 0, sizeof *ds);
}

typedef struct {
    int32_t *ids;
    size_t n, cap;
    uint8_t *mask;
    size_t mask_cap;
} builder;

/* Makes the mask as long as the ids, filling new entries with `value`. */
static alim_status mark(builder *b, size_t from, uint8_t value, alim_error *err)
{
    if (b->n > b->mask_cap) {
        size_t nc = b->cap;
        uint8_t *m = realloc(b->mask, nc);
        if (!m) return alim_error_set(err, ALIM_ENOMEM, "data", "out of memory");
        b->mask = m;
        b->mask_cap = nc;
    }
    memset(b->mask + from, value, b->n - from);
    return ALIM_OK;
}

static alim_status add_text(builder *b, const alim_tokenizer *tk, const char *s, size_t len,
                            uint8_t value, const char *where, alim_error *err)
{
    size_t from = b->n;
    alim_status st = alim_tokenizer_encode(tk, s, len, &b->ids, &b->n, &b->cap, where, err);
    return st ? st : mark(b, from, value, err);
}

static alim_status add_eot(builder *b, const alim_tokenizer *tk, uint8_t value, alim_error *err)
{
    if (b->n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        int32_t *p = realloc(b->ids, nc * sizeof *p);
        if (!p) return alim_error_set(err, ALIM_ENOMEM, "data", "out of memory");
        b->ids = p;
        b->cap = nc;
    }
    b->ids[b->n++] = tk->eot;
    return mark(b, b->n - 1, value, err);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* One prompt/response record rendered with a chat template. As TRL's SFT does with
 * prompt-completion data, the whole conversation is tokenized at once (so the ids are those
 * of apply_chat_template) and its first len(tokens of the prompt rendered alone, with the
 * generation prompt) tokens are masked: the response, the end-of-turn marker and what the
 * template writes after it count. The EOT that separates documents does not count: the
 * rendered conversation already ends its turn. */
static alim_status add_chat(builder *b, const alim_tokenizer *tk, const alim_chat_template *chat,
                            const char *prompt, const char *response, const char *where, alim_error *err)
{
    alim_chat_text ct;
    alim_status st = alim_chat_render(chat, NULL, prompt, response, &ct, err);
    if (st) return st;
    int32_t *pids = NULL;
    size_t pn = 0, pcap = 0, from = b->n;
    st = alim_tokenizer_encode(tk, ct.text, ct.response_start, &pids, &pn, &pcap, where, err);
    if (!st) st = alim_tokenizer_encode(tk, ct.text, ct.len, &b->ids, &b->n, &b->cap, where, err);
    if (!st) st = mark(b, from, 1, err);
    if (!st) memset(b->mask + from, 0, pn < b->n - from ? pn : b->n - from);
    free(pids);
    alim_chat_text_free(&ct);
    return st ? st : add_eot(b, tk, 0, err);
}

alim_status alim_dataset_load(alim_token_stream *ds, const char *const *paths, size_t n_paths,
                              alim_data_format format, const char *delimiter,
                              const alim_tokenizer *tk, alim_error *err)
{
    return alim_dataset_load_chat(ds, paths, n_paths, format, delimiter, tk, NULL, err);
}

alim_status alim_dataset_load_chat(alim_token_stream *ds, const char *const *paths, size_t n_paths,
                                   alim_data_format format, const char *delimiter,
                                   const alim_tokenizer *tk, const alim_chat_template *chat,
                                   alim_error *err)
{
    if (chat && (chat->kind == ALIM_CHAT_NONE || chat->kind == ALIM_CHAT_AUTO)) chat = NULL;
    memset(ds, 0, sizeof *ds);
    if (tk->eot < 0) return alim_error_set(err, ALIM_EINVAL, "tokenizer", "has no <|endoftext|> token");
    if (!delimiter) delimiter = "<|endoftext|>";
    size_t dlen = strlen(delimiter);
    builder b = {0};
    alim_status st = add_eot(&b, tk, 0, err);
    char where[ALIM_ERROR_WHERE_MAX];
    for (size_t f = 0; f < n_paths && !st; f++) {
        const char *path = paths[f];
        alim_data_format fmt = format;
        if (fmt == ALIM_DATA_AUTO) fmt = ends_with(path, ".jsonl") ? ALIM_DATA_JSONL : ALIM_DATA_TEXT;
        char *buf;
        size_t len;
        st = alim_file_read_all(path, &buf, &len, err);
        if (st) break;
        if (fmt == ALIM_DATA_TEXT) {
            const char *p = buf, *end = buf + len;
            while (p < end && !st) {
                const char *q = dlen ? strstr(p, delimiter) : NULL;
                if (!q || q > end) q = end;
                /* skip documents that are only blanks */
                const char *t = p;
                while (t < q && (*t == ' ' || *t == '\n' || *t == '\r' || *t == '\t')) t++;
                if (t < q) {
                    st = add_text(&b, tk, p, (size_t)(q - p), 1, path, err);
                    if (!st) st = add_eot(&b, tk, 1, err);
                    ds->n_docs++;
                }
                p = q + (q < end ? dlen : 0);
            }
        } else {
            char *p = buf, *end = buf + len;
            size_t lineno = 0;
            while (p < end && !st) {
                char *eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol) eol = end;
                lineno++;
                char *line = p;
                size_t ll = (size_t)(eol - line);
                p = eol + 1;
                if (ll && line[ll - 1] == '\r') ll--;
                size_t k = 0;
                while (k < ll && (line[k] == ' ' || line[k] == '\t')) k++;
                if (k == ll) continue;
                snprintf(where, sizeof where, "%s:%zu", path, lineno);
                if (fmt == ALIM_DATA_LINES) {
                    st = add_text(&b, tk, line, ll, 1, where, err);
                    if (!st) st = add_eot(&b, tk, 1, err);
                    ds->n_docs++;
                    continue;
                }
                cJSON *o = cJSON_ParseWithLength(line, ll);
                const cJSON *pr = o ? cJSON_GetObjectItemCaseSensitive(o, "prompt") : NULL;
                const cJSON *re = o ? cJSON_GetObjectItemCaseSensitive(o, "response") : NULL;
                if (!cJSON_IsObject(o)) st = alim_error_set(err, ALIM_EFORMAT, where, "not a JSON object");
                else if (!cJSON_IsString(pr) || !cJSON_IsString(re))
                    st = alim_error_set(err, ALIM_EFORMAT, where, "needs string fields \"prompt\" and \"response\"");
                else if (chat) {
                    st = add_chat(&b, tk, chat, pr->valuestring, re->valuestring, where, err);
                    ds->n_docs++;
                } else {
                    st = add_text(&b, tk, pr->valuestring, strlen(pr->valuestring), 0, where, err);
                    if (!st) st = add_text(&b, tk, re->valuestring, strlen(re->valuestring), 1, where, err);
                    if (!st) st = add_eot(&b, tk, 1, err);
                    ds->n_docs++;
                }
                cJSON_Delete(o);
            }
        }
        free(buf);
        if (!st && ds->n_docs == 0 && n_paths == 1) st = alim_error_set(err, ALIM_EINVAL, path, "no documents (the file is empty)");
    }
    if (!st && ds->n_docs == 0) st = alim_error_set(err, ALIM_EINVAL, n_paths ? paths[0] : "data", "no documents (the data is empty)");
    if (st) {
        free(b.ids);
        free(b.mask);
        ds->n_docs = 0;
        return st;
    }
    ds->tokens = b.ids;
    ds->mask = b.mask;
    ds->n = b.n;
    for (size_t i = 1; i < b.n; i++) ds->n_counted += b.mask[i];
    return ALIM_OK;
}

/* ---- batches ----------------------------------------------------------------------- */

static void shuffle(alim_loader *ld)
{
    for (size_t i = 0; i < ld->n_windows; i++) ld->perm[i] = i;
    if (ld->in_order) return;
    alim_rng r;
    alim_rng_seed(&r, ld->seed, 0x64617461u + ld->epoch);
    for (size_t i = ld->n_windows; i > 1; i--) {
        size_t j = (size_t)alim_rng_below(&r, i);
        size_t t = ld->perm[i - 1];
        ld->perm[i - 1] = ld->perm[j];
        ld->perm[j] = t;
    }
}

alim_status alim_loader_init(alim_loader *ld, const alim_token_stream *ds, int B, int T,
                             uint64_t seed, alim_error *err)
{
    memset(ld, 0, sizeof *ld);
    if (ds->n < (size_t)T + 1)
        return alim_error_set(err, ALIM_EINVAL, "data", "has %zu tokens, fewer than context + 1 = %d (a smaller context or more data)", ds->n, T + 1);
    ld->ds = ds;
    ld->B = B;
    ld->T = T;
    ld->seed = seed;
    ld->n_windows = (ds->n - 1 + (size_t)T - 1) / (size_t)T; /* the last one may overlap its neighbour */
    ld->perm = malloc(ld->n_windows * sizeof *ld->perm);
    ld->inputs = malloc((size_t)B * T * sizeof(int32_t));
    ld->targets = malloc((size_t)B * T * sizeof(int32_t));
    if (!ld->perm || !ld->inputs || !ld->targets) {
        alim_loader_free(ld);
        return alim_error_set(err, ALIM_ENOMEM, "data", "out of memory");
    }
    shuffle(ld);
    return ALIM_OK;
}

void alim_loader_set_order(alim_loader *ld, int in_order)
{
    ld->in_order = in_order != 0;
    shuffle(ld);
}

void alim_loader_seek(alim_loader *ld, uint64_t epoch, size_t pos)
{
    ld->epoch = epoch;
    ld->pos = pos;
    shuffle(ld);
}

void alim_loader_next(alim_loader *ld)
{
    const int T = ld->T;
    for (int b = 0; b < ld->B; b++) {
        if (ld->pos >= ld->n_windows) {
            ld->epoch++;
            ld->pos = 0;
            shuffle(ld);
        }
        size_t start = ld->perm[ld->pos++] * (size_t)T;
        if (start + (size_t)T + 1 > ld->ds->n) start = ld->ds->n - 1 - (size_t)T; /* the tail window */
        const int32_t *tok = ld->ds->tokens + start;
        const uint8_t *mask = ld->ds->mask + start;
        for (int t = 0; t < T; t++) {
            ld->inputs[b * T + t] = tok[t];
            ld->targets[b * T + t] = mask[t + 1] ? tok[t + 1] : -1;
        }
    }
}

void alim_loader_free(alim_loader *ld)
{
    if (!ld) return;
    free(ld->perm);
    free(ld->inputs);
    free(ld->targets);
    memset(ld, 0, sizeof *ld);
}
