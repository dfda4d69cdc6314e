/* tokenizer_json.c — Hugging Face tokenizer.json (byte-level BPE) and GGUF vocabularies
 * (alim_tokenizer_init_parts): reading them into the pipeline of tokenizer_impl.h, and
 * writing a tokenizer.json that HF tokenizers loads (see alim/tokenizer.h). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "alim/io.h"
#include "tokenizer_impl.h"

void tok_hf_free(tok_hf *h)
{
    for (size_t i = 0; i < h->n_steps; i++) tok_step_free(&h->steps[i]);
    free(h->steps);
    for (size_t i = 0; i < h->n_added; i++) free(h->added[i].content);
    free(h->added);
    tok_strmap_free(&h->vocab);
    free(h->post_json);
    memset(h, 0, sizeof *h);
}

static alim_status oom(const char *where, alim_error *err)
{
    return alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
}

static alim_status add_step(tok_hf *h, int kind, const char *pattern, int literal, int flag,
                            const char *where, alim_error *err)
{
    tok_step *ns = realloc(h->steps, (h->n_steps + 1) * sizeof *ns);
    if (!ns) return oom(where, err);
    h->steps = ns;
    tok_step *s = &h->steps[h->n_steps];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->literal = literal;
    s->flag = flag;
    if (pattern && !(s->pattern = strdup(pattern))) return oom(where, err);
    h->n_steps++;
    return tok_step_compile(s, where, err);
}

static int cmp_added(const void *a, const void *b)
{
    const tok_added *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1; /* longest first: leftmost-longest matching */
    return x->id < y->id ? -1 : x->id > y->id;
}

static void finish_added(tok_hf *h)
{
    qsort(h->added, h->n_added, sizeof *h->added, cmp_added);
    memset(h->first, 0, sizeof h->first);
    for (size_t i = 0; i < h->n_added; i++) h->first[(unsigned char)h->added[i].content[0]] = 1;
}

/* Single-byte tokens of the model vocabulary (not added tokens) encode the bytes. */
static void set_byte_ids(alim_tokenizer *tk, const unsigned char *is_added)
{
    for (int b = 0; b < 256; b++) tk->byte_id[b] = -1;
    for (int i = 0; i < tk->vocab_size; i++)
        if (!is_added[i] && tk->token_len[i] == 1 && tk->byte_id[(unsigned char)tk->token[i][0]] < 0)
            tk->byte_id[(unsigned char)tk->token[i][0]] = i;
}

/* Parses merge text "a b" (alphabet strings) or the halves given apart, finds the ids. */
static alim_status add_merge(alim_tokenizer *tk, const char *a, size_t la, const char *b, size_t lb,
                             const char *where, alim_error *err)
{
    const tok_hf *h = tk->hf;
    char stackbuf[512], *tmp = la + lb <= sizeof stackbuf ? stackbuf : malloc(la + lb);
    if (!tmp) return oom(where, err);
    long ka = tok_alphabet_decode(a, la, tmp), kb = ka < 0 ? -1 : tok_alphabet_decode(b, lb, tmp + ka);
    alim_status st = ALIM_OK;
    if (ka <= 0 || kb <= 0) st = alim_error_set(err, ALIM_EFORMAT, where, "merge is not two tokens written in GPT-2's byte alphabet");
    else {
        int32_t ia = tok_strmap_get(&h->vocab, tmp, (size_t)ka), ib = tok_strmap_get(&h->vocab, tmp + ka, (size_t)kb);
        int32_t out = tok_strmap_get(&h->vocab, tmp, (size_t)(ka + kb));
        if (ia < 0 || ib < 0) st = alim_error_set(err, ALIM_EFORMAT, where, "merge part %d \"%.*s\" is not in the vocabulary", ia < 0 ? 1 : 2, ia < 0 ? (int)la : (int)lb, ia < 0 ? a : b);
        else if (out < 0) st = alim_error_set(err, ALIM_EFORMAT, where, "the merged token \"%.*s%.*s\" is not in the vocabulary", (int)la, a, (int)lb, b);
        else {
            tk->merge_a[tk->n_merges] = ia;
            tk->merge_b[tk->n_merges] = ib;
            tk->merge_out[tk->n_merges] = out;
            tk->n_merges++;
        }
    }
    if (tmp != stackbuf) free(tmp);
    return st;
}

static alim_status split_merge(alim_tokenizer *tk, const char *m, size_t len, const char *where, alim_error *err)
{
    const char *sp = memchr(m, ' ', len);
    if (!sp || sp == m || sp + 1 == m + len || memchr(sp + 1, ' ', (size_t)(m + len - sp - 1)))
        return alim_error_set(err, ALIM_EFORMAT, where, "expected two tokens separated by one space");
    return add_merge(tk, m, (size_t)(sp - m), sp + 1, (size_t)(m + len - sp - 1), where, err);
}

static alim_status alloc_merges(alim_tokenizer *tk, size_t n, const char *where, alim_error *err)
{
    tk->merge_a = malloc((n + 1) * sizeof(int32_t));
    tk->merge_b = malloc((n + 1) * sizeof(int32_t));
    tk->merge_out = malloc((n + 1) * sizeof(int32_t));
    return tk->merge_a && tk->merge_b && tk->merge_out ? ALIM_OK : oom(where, err);
}

/* ---- GGUF parts -------------------------------------------------------------------------- */

enum { PRE_GPT2, PRE_LLAMA3, PRE_LLAMA3_MERGES, PRE_QWEN2, PRE_SMOLLM, PRE_DEFAULT };

/* llama.cpp's tokenizer.ggml.pre names (llama-vocab.cpp) for the families alim supports. */
static const struct {
    const char *name;
    int kind;
} PRE_NAMES[] = {
    {"gpt2", PRE_GPT2}, {"gpt-2", PRE_GPT2}, {"phi-2", PRE_GPT2}, {"mpt", PRE_GPT2}, {"olmo", PRE_GPT2}, {"jais", PRE_GPT2},
    {"llama3", PRE_LLAMA3}, {"llama-v3", PRE_LLAMA3}, {"llama-bpe", PRE_LLAMA3}, {"falcon3", PRE_LLAMA3},
    {"dbrx", PRE_LLAMA3_MERGES}, {"smaug-bpe", PRE_LLAMA3_MERGES},
    {"qwen2", PRE_QWEN2}, {"deepseek-r1-qwen", PRE_QWEN2},
    {"smollm", PRE_SMOLLM}, {"starcoder", PRE_SMOLLM}, {"refact", PRE_SMOLLM}, {"codeshell", PRE_SMOLLM},
    {"exaone", PRE_SMOLLM}, {"minerva-7b", PRE_SMOLLM}, {"command-r", PRE_SMOLLM},
    {"default", PRE_DEFAULT},
};

/* The pre-tokeniser a name stands for, as the family's tokenizer.json writes it. */
static alim_status set_pre(tok_hf *h, int kind, const char *where, alim_error *err)
{
    alim_status st = ALIM_OK;
    switch (kind) {
    case PRE_GPT2: return add_step(h, TOK_STEP_BYTELEVEL, NULL, 0, 1, where, err);
    case PRE_LLAMA3:
    case PRE_LLAMA3_MERGES:
        h->ignore_merges = kind == PRE_LLAMA3;
        st = add_step(h, TOK_STEP_SPLIT, TOK_LLAMA3_PATTERN, 0, 0, where, err);
        break;
    case PRE_QWEN2:
        h->nfc = 1;
        st = add_step(h, TOK_STEP_SPLIT, TOK_QWEN2_PATTERN, 0, 0, where, err);
        break;
    case PRE_SMOLLM:
        st = add_step(h, TOK_STEP_DIGITS, NULL, 0, 1, where, err);
        return st ? st : add_step(h, TOK_STEP_BYTELEVEL, NULL, 0, 1, where, err);
    default: {
        static const char *const pats[] = {"[\\p{P}\\$\\+<=>\\^~\\|]+",
                                           "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
                                           "\\p{N}+", "[0-9][0-9][0-9]"};
        for (int i = 0; i < 4 && !st; i++) st = add_step(h, TOK_STEP_SPLIT, pats[i], 0, 0, where, err);
    }
    }
    return st ? st : add_step(h, TOK_STEP_BYTELEVEL, NULL, 0, 0, where, err);
}

static alim_status check_id(int32_t id, int V, const char *name, const char *where, alim_error *err)
{
    if (id < -1 || id >= V) return alim_error_set(err, ALIM_EINVAL, where, "%s %d is outside the vocabulary (%d ids)", name, (int)id, V);
    return ALIM_OK;
}

/* The end-of-document id: the family's pretraining separator ("<|endoftext|>" of GPT-2,
 * SmolLM2 and Qwen2, "<|end_of_text|>" of Llama 3) when the vocabulary has one, else EOS.
 * An instruct model's EOS is its end-of-turn token (SmolLM2-Instruct: "<|im_end|>"), which
 * does not separate pretraining documents. */
static int document_separator(const alim_tokenizer *tk)
{
    static const char *const names[] = {"<|endoftext|>", "<|end_of_text|>"};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < tk->vocab_size; i++)
            if (tk->token[i] && !strcmp(tk->token[i], names[k])) return i;
    return tk->eos_id;
}

alim_status alim_tokenizer_init_parts(alim_tokenizer *tk, const alim_tokenizer_parts *p,
                                      const char *where, alim_error *err)
{
    memset(tk, 0, sizeof *tk);
    char w[ALIM_ERROR_WHERE_MAX];
    if (!where) where = "tokenizer";
    if (p->n_tokens == 0 || p->n_tokens > (1u << 24) || !p->tokens || !p->token_lens)
        return alim_error_set(err, ALIM_EINVAL, where, "tokenizer.ggml.tokens must hold 1 to 2^24 tokens, got %zu", p->n_tokens);
    if (p->n_merges && (!p->merges || !p->merge_lens)) return alim_error_set(err, ALIM_EINVAL, where, "tokenizer.ggml.merges is missing");
    const char *pre = p->pre ? p->pre : "gpt2";
    int kind = -1;
    for (size_t i = 0; i < sizeof PRE_NAMES / sizeof *PRE_NAMES; i++)
        if (!strcmp(pre, PRE_NAMES[i].name)) kind = PRE_NAMES[i].kind;
    if (kind < 0)
        return alim_error_set(err, ALIM_EINVAL, where, "tokenizer.ggml.pre \"%.60s\" is not supported (gpt2, llama-bpe, qwen2, smollm, default and their aliases)", pre);
    const int V = (int)p->n_tokens;
    alim_status st = ALIM_OK;
    if ((st = check_id(p->bos_id, V, "bos_id", where, err)) || (st = check_id(p->eos_id, V, "eos_id", where, err)) ||
        (st = check_id(p->unk_id, V, "unk_id", where, err)) || (st = check_id(p->pad_id, V, "pad_id", where, err)))
        return st;
    if ((st = tok_alloc_vocab(tk, V, err))) return st;
    tok_hf *h = calloc(1, sizeof *h);
    unsigned char *is_added = calloc((size_t)V, 1);
    size_t n_added = 0;
    if (h) h->unk = -1; /* llama.cpp's BPE has no unknown token either */
    for (int i = 0; i < V; i++) n_added += p->token_types && (p->token_types[i] == 3 || p->token_types[i] == 4);
    if (h) h->added = calloc(n_added + 1, sizeof *h->added);
    tk->hf = h;
    if (!h || !is_added || !h->added) st = oom(where, err);
    if (!st) st = set_pre(h, kind, where, err);
    for (int i = 0; i < V && !st; i++) {
        const int type = p->token_types ? p->token_types[i] : 1;
        const size_t len = p->token_lens[i];
        snprintf(w, sizeof w, "%s: tokenizer.ggml.tokens[%d]", where, i);
        if (!p->tokens[i] || len == 0) {
            st = alim_error_set(err, ALIM_EFORMAT, w, "empty token");
            break;
        }
        char *b = malloc(len + 1);
        if (!b) {
            st = oom(w, err);
            break;
        }
        tk->token[i] = b;
        long k = type == 3 || type == 4 ? -1 : tok_alphabet_decode(p->tokens[i], len, b);
        if (k < 0) {
            if (type == 1) {
                st = alim_error_set(err, ALIM_EFORMAT, w, "token \"%.40s\" is not written in GPT-2's byte alphabet", p->tokens[i]);
                break;
            }
            /* control and user-defined tokens are their text; so are odd unused/byte ones */
            memcpy(b, p->tokens[i], len);
            k = (long)len;
        }
        b[k] = '\0';
        tk->token_len[i] = (uint32_t)k;
        if (type == 3 || type == 4) {
            tok_added *a = &h->added[h->n_added++];
            a->id = i;
            a->len = (size_t)k;
            a->special = type == 3;
            if (!(a->content = malloc((size_t)k + 1))) st = oom(w, err);
            else memcpy(a->content, b, (size_t)k + 1);
            is_added[i] = 1;
        } else if (tok_strmap_insert(&h->vocab, b, (size_t)k, i)) st = oom(w, err);
    }
    if (!st) {
        finish_added(h);
        set_byte_ids(tk, is_added);
        st = alloc_merges(tk, p->n_merges, where, err);
    }
    for (size_t r = 0; r < p->n_merges && !st; r++) {
        snprintf(w, sizeof w, "%s: tokenizer.ggml.merges[%zu]", where, r);
        if (!p->merges[r]) st = alim_error_set(err, ALIM_EFORMAT, w, "missing merge");
        else st = split_merge(tk, p->merges[r], p->merge_lens[r], w, err);
    }
    if (!st) st = tok_build_pair_table(tk, err);
    free(is_added);
    if (st) return alim_tokenizer_free(tk), st;
    tk->bos_id = p->bos_id;
    tk->eos_id = p->eos_id;
    tk->eot = document_separator(tk);
    tk->unk_id = p->unk_id;
    tk->pad_id = p->pad_id;
    tk->add_bos = p->add_bos && p->bos_id >= 0;
    return ALIM_OK;
}

/* ---- tokenizer.json ------------------------------------------------------------------------ */

static const char *type_of(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* 1 if key is absent, null, or (when empty_ok) "" — the value of an option alim does not implement. */
static int unset(const cJSON *o, const char *key, int empty_ok)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return !v || cJSON_IsNull(v) || (empty_ok && cJSON_IsString(v) && !v->valuestring[0]);
}

static int flag(const cJSON *o, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static alim_status parse_pretok(const cJSON *pt, tok_hf *h, const char *path, int depth, alim_error *err)
{
    char w[ALIM_ERROR_WHERE_MAX];
    snprintf(w, sizeof w, "%s: pre_tokenizer", path);
    const char *t = type_of(pt);
    if (!t || depth > 4) return alim_error_set(err, ALIM_EFORMAT, w, "must be an object with a \"type\"");
    if (!strcmp(t, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pt, "pretokenizers"), *it;
        if (!cJSON_IsArray(list)) return alim_error_set(err, ALIM_EFORMAT, w, "Sequence needs a \"pretokenizers\" list");
        cJSON_ArrayForEach(it, list)
        {
            alim_status st = parse_pretok(it, h, path, depth + 1, err);
            if (st) return st;
        }
        return ALIM_OK;
    }
    if (!strcmp(t, "ByteLevel")) {
        if (flag(pt, "add_prefix_space", 0)) return alim_error_set(err, ALIM_EINVAL, w, "ByteLevel with add_prefix_space true is not supported");
        return add_step(h, TOK_STEP_BYTELEVEL, NULL, 0, flag(pt, "use_regex", 1), w, err);
    }
    if (!strcmp(t, "Digits")) return add_step(h, TOK_STEP_DIGITS, NULL, 0, flag(pt, "individual_digits", 0), w, err);
    if (!strcmp(t, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(pt, "pattern"), *beh = cJSON_GetObjectItemCaseSensitive(pt, "behavior");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex"), *lit = cJSON_GetObjectItemCaseSensitive(pat, "String");
        if (!cJSON_IsString(re) && !cJSON_IsString(lit)) return alim_error_set(err, ALIM_EFORMAT, w, "Split needs a pattern {\"Regex\": ...} or {\"String\": ...}");
        if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated"))
            return alim_error_set(err, ALIM_EINVAL, w, "Split behavior \"%.40s\" is not supported (Isolated)", cJSON_IsString(beh) ? beh->valuestring : "?");
        if (flag(pt, "invert", 0)) return alim_error_set(err, ALIM_EINVAL, w, "Split with invert true is not supported");
        return add_step(h, TOK_STEP_SPLIT, cJSON_IsString(re) ? re->valuestring : lit->valuestring, !cJSON_IsString(re), 0, w, err);
    }
    return alim_error_set(err, ALIM_EINVAL, w, "type \"%.40s\" is not supported (ByteLevel, Split, Digits, Sequence)", t);
}

static alim_status parse_normalizer(const cJSON *nm, tok_hf *h, const char *path, alim_error *err)
{
    char w[ALIM_ERROR_WHERE_MAX];
    snprintf(w, sizeof w, "%s: normalizer", path);
    if (!nm || cJSON_IsNull(nm)) return ALIM_OK;
    const char *t = type_of(nm);
    if (t && !strcmp(t, "NFC")) return h->nfc = 1, ALIM_OK;
    if (t && !strcmp(t, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(nm, "normalizers"), *it;
        cJSON_ArrayForEach(it, list)
        {
            const char *u = type_of(it);
            if (!u || strcmp(u, "NFC")) return alim_error_set(err, ALIM_EINVAL, w, "type \"%.40s\" is not supported (null or NFC)", u ? u : "?");
            h->nfc = 1;
        }
        return ALIM_OK;
    }
    return alim_error_set(err, ALIM_EINVAL, w, "type \"%.40s\" is not supported (null or NFC)", t ? t : "?");
}

/* BOS from a TemplateProcessing whose single-sequence template starts with a special token. */
static alim_status parse_post(const cJSON *pp, alim_tokenizer *tk, const char *path, int depth, alim_error *err)
{
    char w[ALIM_ERROR_WHERE_MAX];
    snprintf(w, sizeof w, "%s: post_processor", path);
    if (!pp || cJSON_IsNull(pp)) return ALIM_OK;
    const char *t = type_of(pp);
    if (t && !strcmp(t, "ByteLevel")) return ALIM_OK; /* offsets only */
    if (t && !strcmp(t, "Sequence") && depth < 4) {
        const cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(pp, "processors"))
        {
            alim_status st = parse_post(it, tk, path, depth + 1, err);
            if (st) return st;
        }
        return ALIM_OK;
    }
    if (t && !strcmp(t, "TemplateProcessing")) {
        const cJSON *single = cJSON_GetObjectItemCaseSensitive(pp, "single");
        const cJSON *first = cJSON_IsArray(single) ? single->child : NULL;
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(first, "SpecialToken");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(sp, "id");
        if (!cJSON_IsString(name)) return ALIM_OK;
        const cJSON *ent = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pp, "special_tokens"), name->valuestring);
        const cJSON *ids = cJSON_GetObjectItemCaseSensitive(ent, "ids");
        const cJSON *id = cJSON_IsArray(ids) ? ids->child : NULL;
        if (!cJSON_IsNumber(id) || id->valueint < 0 || id->valueint >= tk->vocab_size)
            return alim_error_set(err, ALIM_EFORMAT, w, "special token \"%.40s\" of the template has no valid id", name->valuestring);
        tk->bos_id = id->valueint;
        tk->add_bos = 1;
        return ALIM_OK;
    }
    return alim_error_set(err, ALIM_EINVAL, w, "type \"%.40s\" is not supported (ByteLevel, TemplateProcessing, Sequence)", t ? t : "?");
}

/* Id of a token given by its text ("eos_token": "..." or {"content": "..."}), -1 if none. */
static int id_of_text(const alim_tokenizer *tk, const cJSON *v)
{
    if (cJSON_IsObject(v)) v = cJSON_GetObjectItemCaseSensitive(v, "content");
    if (!cJSON_IsString(v)) return -1;
    const tok_hf *h = tk->hf;
    size_t len = strlen(v->valuestring);
    for (size_t i = 0; i < h->n_added; i++)
        if (h->added[i].len == len && !memcmp(h->added[i].content, v->valuestring, len)) return h->added[i].id;
    return tok_strmap_get(&h->vocab, v->valuestring, len);
}

/* EOS/BOS names live beside tokenizer.json, in tokenizer_config.json or config.json. */
static void read_special_ids(alim_tokenizer *tk, const char *dir)
{
    char path[4096];
    struct stat sb;
    cJSON *j = NULL;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    if (stat(path, &sb) == 0 && alim_json_read_file(path, &j, NULL) == ALIM_OK) {
        tk->eos_id = id_of_text(tk, cJSON_GetObjectItemCaseSensitive(j, "eos_token"));
        if (tk->bos_id < 0) tk->bos_id = id_of_text(tk, cJSON_GetObjectItemCaseSensitive(j, "bos_token"));
        tk->unk_id = tk->unk_id >= 0 ? tk->unk_id : id_of_text(tk, cJSON_GetObjectItemCaseSensitive(j, "unk_token"));
        tk->pad_id = id_of_text(tk, cJSON_GetObjectItemCaseSensitive(j, "pad_token"));
        cJSON_Delete(j);
        j = NULL;
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    if (tk->eos_id < 0 && stat(path, &sb) == 0 && alim_json_read_file(path, &j, NULL) == ALIM_OK) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "eos_token_id");
        if (cJSON_IsArray(e)) e = e->child;
        if (cJSON_IsNumber(e) && e->valueint >= 0 && e->valueint < tk->vocab_size) tk->eos_id = e->valueint;
        cJSON_Delete(j);
    }
    static const char *const names[] = {"<|endoftext|>", "<|end_of_text|>", "</s>"};
    for (int i = 0; i < 3 && tk->eos_id < 0; i++) {
        cJSON *s = cJSON_CreateString(names[i]);
        tk->eos_id = s ? id_of_text(tk, s) : -1;
        cJSON_Delete(s);
    }
    tk->eot = document_separator(tk);
}

static alim_status parse_added(const cJSON *list, alim_tokenizer *tk, int V, unsigned char *is_added,
                               const char *path, alim_error *err)
{
    tok_hf *h = tk->hf;
    char w[ALIM_ERROR_WHERE_MAX];
    const cJSON *it;
    size_t i = 0;
    cJSON_ArrayForEach(it, list)
    {
        snprintf(w, sizeof w, "%s: added_tokens[%zu]", path, i++);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id"), *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        if (!cJSON_IsNumber(id) || id->valueint < 0 || id->valueint >= V || !cJSON_IsString(c) || !c->valuestring[0])
            return alim_error_set(err, ALIM_EFORMAT, w, "needs an \"id\" and a non-empty \"content\"");
        static const char *const unsupported[] = {"single_word", "lstrip", "rstrip"};
        for (int k = 0; k < 3; k++)
            if (flag(it, unsupported[k], 0)) return alim_error_set(err, ALIM_EINVAL, w, "\"%.40s\": %s true is not supported", c->valuestring, unsupported[k]);
        if (flag(it, "normalized", 0) && h->nfc)
            return alim_error_set(err, ALIM_EINVAL, w, "\"%.40s\": normalized true with a normalizer is not supported", c->valuestring);
        int tid = id->valueint;
        size_t len = strlen(c->valuestring);
        char *b = malloc(len + 1), *b2 = malloc(len + 1);
        if (!b || !b2) return free(b), free(b2), oom(w, err);
        memcpy(b, c->valuestring, len + 1);
        memcpy(b2, c->valuestring, len + 1);
        free(tk->token[tid]); /* an added token's text replaces the model's string for it */
        tk->token[tid] = b;
        tk->token_len[tid] = (uint32_t)len;
        tok_added *a = &h->added[h->n_added++];
        a->id = tid;
        a->content = b2;
        a->len = len;
        a->special = flag(it, "special", 0);
        is_added[tid] = 1;
    }
    return ALIM_OK;
}

alim_status tok_json_load(alim_tokenizer *tk, const char *dir, const char *path, alim_error *err)
{
    memset(tk, 0, sizeof *tk);
    cJSON *root;
    alim_status st = alim_json_read_file(path, &root, err);
    if (st) return st;
    char w[ALIM_ERROR_WHERE_MAX];
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const char *mt = type_of(model);
    snprintf(w, sizeof w, "%s: model", path);
    if (!cJSON_IsObject(root) || !mt) st = alim_error_set(err, ALIM_EFORMAT, w, "missing (an object with a \"type\")");
    else if (strcmp(mt, "BPE")) st = alim_error_set(err, ALIM_EINVAL, w, "type \"%.40s\" is not supported (only byte-level BPE)", mt);
    else if (!cJSON_IsObject(vocab) || !vocab->child) st = alim_error_set(err, ALIM_EFORMAT, w, "\"vocab\" must be a non-empty object {token: id}");
    else if (!cJSON_IsArray(merges)) st = alim_error_set(err, ALIM_EFORMAT, w, "\"merges\" must be a list");
    else if (!unset(model, "dropout", 0)) st = alim_error_set(err, ALIM_EINVAL, w, "dropout is not supported");
    else if (!unset(model, "continuing_subword_prefix", 1) || !unset(model, "end_of_word_suffix", 1))
        st = alim_error_set(err, ALIM_EINVAL, w, "continuing_subword_prefix/end_of_word_suffix are not supported (byte-level BPE has none)");
    else if (flag(model, "byte_fallback", 0)) st = alim_error_set(err, ALIM_EINVAL, w, "byte_fallback is not supported (a SentencePiece-style BPE, not byte-level)");
    else if (!unset(root, "truncation", 0)) st = alim_error_set(err, ALIM_EINVAL, path, "truncation is not supported");
    else if (added && !cJSON_IsArray(added)) st = alim_error_set(err, ALIM_EFORMAT, path, "\"added_tokens\" must be a list");
    if (st) return cJSON_Delete(root), st;

    /* ids: the model's vocabulary plus the added tokens, 0..V-1 without gaps */
    int V = 0;
    snprintf(w, sizeof w, "%s: model.vocab", path);
    for (const cJSON *it = vocab->child; it; it = it->next) {
        if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= (1 << 24) || it->valuedouble != (int)it->valuedouble) {
            snprintf(w, sizeof w, "%s: model.vocab \"%.40s\"", path, it->string);
            return cJSON_Delete(root), alim_error_set(err, ALIM_EFORMAT, w, "id must be an integer in [0, 2^24)");
        }
        if (it->valueint + 1 > V) V = it->valueint + 1;
    }
    size_t n_added = 0;
    for (const cJSON *it = added ? added->child : NULL; it; it = it->next, n_added++) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (cJSON_IsNumber(id) && id->valueint >= V && id->valueint < (1 << 24)) V = id->valueint + 1;
    }
    if ((st = tok_alloc_vocab(tk, V, err))) return cJSON_Delete(root), st;
    tok_hf *h = calloc(1, sizeof *h);
    unsigned char *is_added = calloc((size_t)V, 1), *in_model = calloc((size_t)V, 1);
    if (h) h->added = calloc(n_added + 1, sizeof *h->added), h->unk = -1;
    tk->hf = h;
    if (!h || !h->added || !is_added || !in_model) st = oom(path, err);
    if (!st) st = parse_normalizer(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), h, path, err);
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    snprintf(w, sizeof w, "%s: pre_tokenizer", path);
    if (!st && (!pt || cJSON_IsNull(pt))) st = alim_error_set(err, ALIM_EINVAL, w, "missing: a byte-level BPE needs ByteLevel");
    if (!st) st = parse_pretok(pt, h, path, 0, err);
    if (!st) {
        size_t nb = 0;
        for (size_t i = 0; i < h->n_steps; i++) nb += h->steps[i].kind == TOK_STEP_BYTELEVEL;
        if (nb != 1 || h->steps[h->n_steps - 1].kind != TOK_STEP_BYTELEVEL)
            st = alim_error_set(err, ALIM_EINVAL, w, "ByteLevel must be the last pre-tokenizer, once (only byte-level BPE is supported)");
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    const char *dt = type_of(dec);
    snprintf(w, sizeof w, "%s: decoder", path);
    if (!st && dec && !cJSON_IsNull(dec) && (!dt || strcmp(dt, "ByteLevel")))
        st = alim_error_set(err, ALIM_EINVAL, w, "type \"%.40s\" is not supported (ByteLevel)", dt ? dt : "?");
    h->ignore_merges = flag(model, "ignore_merges", 0);
    for (const cJSON *it = vocab->child; it && !st; it = it->next) {
        int id = it->valueint;
        snprintf(w, sizeof w, "%s: model.vocab \"%.40s\"", path, it->string);
        if (tk->token[id]) {
            st = alim_error_set(err, ALIM_EFORMAT, w, "id %d is used twice", id);
            break;
        }
        size_t n = strlen(it->string);
        char *b = malloc(n + 1);
        if (!b) {
            st = oom(w, err);
            break;
        }
        tk->token[id] = b;
        in_model[id] = 1;
        long k = tok_alphabet_decode(it->string, n, b);
        if (k <= 0) { /* only an added token may be spelled outside the alphabet: checked below */
            memcpy(b, it->string, n);
            k = -(long)n - 1;
        }
        tk->token_len[id] = (uint32_t)(k < 0 ? -k - 1 : k);
        b[tk->token_len[id]] = '\0';
        if (k < 0) is_added[id] = 2;
    }
    if (!st && added) st = parse_added(added, tk, V, is_added, path, err);
    for (int i = 0; i < V && !st; i++) {
        if (!tk->token[i]) st = alim_error_set(err, ALIM_EFORMAT, path, "id %d is missing (ids must be 0..%d without gaps)", i, V - 1);
        else if (is_added[i] == 2) {
            snprintf(w, sizeof w, "%s: model.vocab \"%.40s\"", path, tk->token[i]);
            st = alim_error_set(err, ALIM_EFORMAT, w, "token is not written in GPT-2's byte alphabet");
        } else if (in_model[i] && tok_strmap_insert(&h->vocab, tk->token[i], tk->token_len[i], i)) st = oom(path, err);
    }
    if (!st) {
        finish_added(h);
        set_byte_ids(tk, is_added);
        const cJSON *unk = cJSON_GetObjectItemCaseSensitive(model, "unk_token");
        h->unk = cJSON_IsString(unk) ? id_of_text(tk, unk) : -1;
        tk->unk_id = h->unk;
        st = parse_post(cJSON_GetObjectItemCaseSensitive(root, "post_processor"), tk, path, 0, err);
    }
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    if (!st && pp && !cJSON_IsNull(pp) && !(h->post_json = cJSON_PrintUnformatted(pp))) st = oom(path, err);
    if (!st) st = alloc_merges(tk, (size_t)cJSON_GetArraySize(merges), path, err);
    size_t r = 0;
    for (const cJSON *it = merges->child; it && !st; it = it->next, r++) {
        snprintf(w, sizeof w, "%s: model.merges[%zu]", path, r);
        if (cJSON_IsString(it)) st = split_merge(tk, it->valuestring, strlen(it->valuestring), w, err);
        else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) && cJSON_IsString(it->child->next))
            st = add_merge(tk, it->child->valuestring, strlen(it->child->valuestring), it->child->next->valuestring,
                           strlen(it->child->next->valuestring), w, err);
        else st = alim_error_set(err, ALIM_EFORMAT, w, "a merge is \"a b\" or [\"a\", \"b\"]");
    }
    if (!st) st = tok_build_pair_table(tk, err);
    free(is_added);
    free(in_model);
    cJSON_Delete(root);
    if (st) return alim_tokenizer_free(tk), st;
    read_special_ids(tk, dir);
    return ALIM_OK;
}

/* ---- writing tokenizer.json ----------------------------------------------------------------- */

static cJSON *step_json(const tok_step *s)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    if (s->kind == TOK_STEP_SPLIT) {
        cJSON_AddStringToObject(o, "type", "Split");
        cJSON *p = cJSON_AddObjectToObject(o, "pattern");
        if (p) cJSON_AddStringToObject(p, s->literal ? "String" : "Regex", s->pattern);
        cJSON_AddStringToObject(o, "behavior", "Isolated");
        cJSON_AddBoolToObject(o, "invert", 0);
    } else if (s->kind == TOK_STEP_DIGITS) {
        cJSON_AddStringToObject(o, "type", "Digits");
        cJSON_AddBoolToObject(o, "individual_digits", s->flag);
    } else {
        cJSON_AddStringToObject(o, "type", "ByteLevel");
        cJSON_AddBoolToObject(o, "add_prefix_space", 0);
        cJSON_AddBoolToObject(o, "trim_offsets", 1);
        cJSON_AddBoolToObject(o, "use_regex", s->flag);
    }
    return o;
}

/* Llama 3's form: "<bos> $A:0" and "<bos> $A:0 <bos>:1 $B:1". */
static cJSON *template_json(const alim_tokenizer *tk)
{
    const char *bos = tk->token[tk->bos_id];
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddStringToObject(o, "type", "TemplateProcessing");
    const char *names[2] = {"single", "pair"};
    for (int t = 0; t < 2; t++) {
        cJSON *a = cJSON_AddArrayToObject(o, names[t]);
        for (int part = 0; a && part < (t ? 4 : 2); part++) {
            cJSON *item = cJSON_CreateObject(), *in = item ? cJSON_AddObjectToObject(item, part % 2 ? "Sequence" : "SpecialToken") : NULL;
            if (in) {
                cJSON_AddStringToObject(in, "id", part % 2 ? (part == 1 ? "A" : "B") : bos);
                cJSON_AddNumberToObject(in, "type_id", part >= 2);
            }
            cJSON_AddItemToArray(a, item);
        }
    }
    cJSON *sp = cJSON_AddObjectToObject(o, "special_tokens"), *e = sp ? cJSON_AddObjectToObject(sp, bos) : NULL;
    if (e) {
        cJSON_AddStringToObject(e, "id", bos);
        cJSON *ids = cJSON_AddArrayToObject(e, "ids"), *toks = cJSON_AddArrayToObject(e, "tokens");
        if (ids) cJSON_AddItemToArray(ids, cJSON_CreateNumber(tk->bos_id));
        if (toks) cJSON_AddItemToArray(toks, cJSON_CreateString(bos));
    }
    return o;
}

alim_status tok_json_save(const alim_tokenizer *tk, const char *dir, alim_error *err)
{
    const tok_hf *h = tk->hf;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    unsigned char *is_added = calloc((size_t)tk->vocab_size, 1);
    char **keys = calloc((size_t)tk->vocab_size, sizeof *keys);
    cJSON *root = cJSON_CreateObject();
    tok_strmap used = {0};
    alim_status st = !is_added || !keys || !root ? oom(path, err) : ALIM_OK;
    if (!st) {
        cJSON_AddStringToObject(root, "version", "1.0");
        cJSON_AddNullToObject(root, "truncation");
        cJSON_AddNullToObject(root, "padding");
        cJSON *al = cJSON_AddArrayToObject(root, "added_tokens");
        /* in id order, as HF writes them */
        for (int id = 0; al && id < tk->vocab_size; id++)
            for (size_t i = 0; i < h->n_added; i++) {
                const tok_added *a = &h->added[i];
                if (a->id != id) continue;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "id", a->id);
                cJSON_AddStringToObject(o, "content", a->content);
                cJSON_AddBoolToObject(o, "single_word", 0);
                cJSON_AddBoolToObject(o, "lstrip", 0);
                cJSON_AddBoolToObject(o, "rstrip", 0);
                cJSON_AddBoolToObject(o, "normalized", 0);
                cJSON_AddBoolToObject(o, "special", a->special);
                cJSON_AddItemToArray(al, o);
                is_added[id] = 1;
            }
        if (h->nfc) {
            cJSON *n = cJSON_AddObjectToObject(root, "normalizer");
            if (n) cJSON_AddStringToObject(n, "type", "NFC");
        } else cJSON_AddNullToObject(root, "normalizer");
        cJSON *pre;
        if (h->n_steps == 1) pre = step_json(&h->steps[0]);
        else {
            pre = cJSON_CreateObject();
            cJSON *list = pre ? cJSON_AddArrayToObject(pre, "pretokenizers") : NULL;
            if (pre) cJSON_AddStringToObject(pre, "type", "Sequence");
            for (size_t i = 0; list && i < h->n_steps; i++) cJSON_AddItemToArray(list, step_json(&h->steps[i]));
        }
        cJSON_AddItemToObject(root, "pre_tokenizer", pre);
        cJSON *post = h->post_json ? cJSON_Parse(h->post_json) : tk->add_bos && tk->bos_id >= 0 ? template_json(tk) : NULL;
        if (!post && !h->post_json && !(tk->add_bos && tk->bos_id >= 0) && (post = cJSON_CreateObject())) {
            cJSON_AddStringToObject(post, "type", "ByteLevel");
            cJSON_AddBoolToObject(post, "add_prefix_space", 0);
            cJSON_AddBoolToObject(post, "trim_offsets", 0);
            cJSON_AddBoolToObject(post, "use_regex", 0);
        }
        cJSON_AddItemToObject(root, "post_processor", post);
        cJSON *dec = cJSON_AddObjectToObject(root, "decoder");
        if (dec) {
            cJSON_AddStringToObject(dec, "type", "ByteLevel");
            cJSON_AddBoolToObject(dec, "add_prefix_space", 1);
            cJSON_AddBoolToObject(dec, "trim_offsets", 1);
            cJSON_AddBoolToObject(dec, "use_regex", 1);
        }
        cJSON *m = cJSON_AddObjectToObject(root, "model");
        cJSON_AddStringToObject(m, "type", "BPE");
        cJSON_AddNullToObject(m, "dropout");
        cJSON_AddNullToObject(m, "continuing_subword_prefix");
        cJSON_AddNullToObject(m, "end_of_word_suffix");
        cJSON_AddBoolToObject(m, "fuse_unk", 0);
        cJSON_AddBoolToObject(m, "byte_fallback", 0);
        cJSON_AddBoolToObject(m, "ignore_merges", h->ignore_merges);
        cJSON *v = cJSON_AddObjectToObject(m, "vocab");
        /* added tokens too, under their text, so that HF gives them the same ids */
        for (int id = 0; v && !st && id < tk->vocab_size; id++) {
            if (!(keys[id] = malloc(tk->token_len[id] * 2 + 1))) {
                st = oom(path, err);
                break;
            }
            if (is_added[id]) memcpy(keys[id], tk->token[id], tk->token_len[id] + 1);
            else tok_alphabet_encode(tk->token[id], tk->token_len[id], keys[id]);
            size_t kl = strlen(keys[id]);
            if (tok_strmap_get(&used, keys[id], kl) >= 0) continue; /* an added token spelled like a model token */
            if (tok_strmap_insert(&used, keys[id], kl, id)) st = oom(path, err);
            else cJSON_AddItemToObject(v, keys[id], cJSON_CreateNumber(id));
        }
        if (!st && h->unk >= 0) cJSON_AddStringToObject(m, "unk_token", keys[h->unk]);
        else cJSON_AddNullToObject(m, "unk_token");
        cJSON *ml = cJSON_AddArrayToObject(m, "merges");
        for (size_t r = 0; ml && !st && r < tk->n_merges; r++) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, cJSON_CreateString(keys[tk->merge_a[r]]));
            cJSON_AddItemToArray(pair, cJSON_CreateString(keys[tk->merge_b[r]]));
            cJSON_AddItemToArray(ml, pair);
        }
    }
    char *js = st ? NULL : cJSON_Print(root);
    if (!st && !js) st = oom(path, err);
    if (!st) st = alim_file_write_atomic(path, js, strlen(js), err);
    free(js);
    cJSON_Delete(root);
    tok_strmap_free(&used);
    for (int i = 0; keys && i < tk->vocab_size; i++) free(keys[i]);
    free(keys);
    free(is_added);
    return st;
}
