/* chat.c — chat templates: recognition from the Jinja text, rendering in C (see alim/chat.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/chat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "alim/checkpoint.h"
#include "alim/gguf.h"
#include "alim/io.h"

int alim_chat_kind_parse(const char *s)
{
    if (!strcmp(s, "auto")) return ALIM_CHAT_AUTO;
    if (!strcmp(s, "none")) return ALIM_CHAT_NONE;
    if (!strcmp(s, "chatml")) return ALIM_CHAT_CHATML;
    if (!strcmp(s, "llama3")) return ALIM_CHAT_LLAMA3;
    return -1;
}

const char *alim_chat_kind_name(alim_chat_kind k)
{
    switch (k) {
    case ALIM_CHAT_AUTO: return "auto";
    case ALIM_CHAT_NONE: return "none";
    case ALIM_CHAT_CHATML: return "chatml";
    case ALIM_CHAT_LLAMA3: return "llama3";
    default: return "unrecognised";
    }
}

void alim_chat_template_free(alim_chat_template *t)
{
    if (!t) return;
    free(t->default_system);
    free(t->knowledge);
    free(t->date);
    free(t->bos);
    memset(t, 0, sizeof *t);
}

void alim_chat_text_free(alim_chat_text *c)
{
    if (!c) return;
    free(c->text);
    memset(c, 0, sizeof *c);
}

/* ---- a growing string ------------------------------------------------------------------ */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t len)
{
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + len + 1) nc *= 2;
        char *p = realloc(b->s, nc);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, len);
    b->n += len;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* ---- lexing the Jinja text --------------------------------------------------------------- */

/* The template reduced to what decides its output: tag contents with the whitespace outside
 * string literals removed, every literal re-quoted with ' and its escapes decoded, ['name']
 * subscripts written .name (so message['role'] and message.role read the same), comments
 * dropped. Plus the decoded literals on their own, and whether any text outside the tags
 * survives Jinja's whitespace rules (HF renders with trim_blocks and lstrip_blocks, and
 * keep_trailing_newline off). */
typedef struct {
    sbuf norm;
    char **lits;
    size_t n_lits, cap_lits;
    int raw_output;     /* the template writes text outside its tags */
    int unterminated;   /* a tag or literal that does not end */
} lexed;

static void lexed_free(lexed *x)
{
    free(x->norm.s);
    for (size_t i = 0; i < x->n_lits; i++) free(x->lits[i]);
    free(x->lits);
    memset(x, 0, sizeof *x);
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Does the data text between two tags write anything? prev_kind/next_kind: 0 none (start or
 * end of the template), 'v' {{ }}, 'b' {% %}, 'c' {# #}; prev_trim: the previous tag ended
 * with '-'; next_trim: the next one starts with '-' (1) or '+' (2, no lstrip). */
static int data_writes(const char *s, size_t n, int prev_kind, int prev_trim, int next_kind, int next_trim)
{
    size_t a = 0, b = n;
    if (next_kind == 0 && b > a && s[b - 1] == '\n') b--; /* keep_trailing_newline off */
    if (prev_trim) {
        while (a < b && is_ws(s[a])) a++;
    } else if ((prev_kind == 'b' || prev_kind == 'c') && a < b) {
        if (s[a] == '\n') a++;
        else if (s[a] == '\r' && a + 1 < b && s[a + 1] == '\n') a += 2;
    }
    if (next_trim == 1) {
        while (b > a && is_ws(s[b - 1])) b--;
    } else if ((next_kind == 'b' || next_kind == 'c') && next_trim != 2) {
        /* lstrip_blocks: spaces and tabs from the start of the tag's line */
        size_t k = b;
        while (k > a && (s[k - 1] == ' ' || s[k - 1] == '\t')) k--;
        int line_start = k > a ? s[k - 1] == '\n' : (k == 0 && prev_kind == 0);
        if (line_start || (k == a && k > 0 && s[k - 1] == '\n')) b = k;
    }
    return b > a;
}

static void add_literal(lexed *x, const char *s, size_t n)
{
    if (x->norm.oom) return;
    if (x->n_lits == x->cap_lits) {
        size_t nc = x->cap_lits ? 2 * x->cap_lits : 32;
        char **p = realloc(x->lits, nc * sizeof *p);
        if (!p) {
            x->norm.oom = 1;
            return;
        }
        x->lits = p;
        x->cap_lits = nc;
    }
    char *c = malloc(n + 1);
    if (!c) {
        x->norm.oom = 1;
        return;
    }
    memcpy(c, s, n);
    c[n] = '\0';
    x->lits[x->n_lits++] = c;
}

/* Lexes the inside of one {{ }} or {% %} tag starting at p; returns the position after its
 * closing delimiter (close = '}' or '%'), or NULL if it does not end. */
static const char *lex_tag(lexed *x, const char *p, const char *end, char close, int *right_trim)
{
    sbuf lit = {0};
    while (p < end) {
        char c = *p;
        if (c == '\'' || c == '"') {
            const char q = c;
            lit.n = 0;
            sb_add(&lit, "", 0);
            p++;
            while (p < end && *p != q) {
                if (*p == '\\' && p + 1 < end) {
                    const char e = p[1];
                    const char *d = e == 'n' ? "\n" : e == 't' ? "\t" : e == 'r' ? "\r" : e == '\\' ? "\\" : e == '\'' ? "'" : e == '"' ? "\"" : NULL;
                    if (d) sb_add(&lit, d, 1);
                    else sb_add(&lit, p, 2); /* other escapes are kept as written */
                    p += 2;
                } else {
                    sb_add(&lit, p, 1);
                    p++;
                }
            }
            if (p >= end) break;
            p++;
            sb_add(&x->norm, "'", 1);
            sb_add(&x->norm, lit.s, lit.n);
            sb_add(&x->norm, "'", 1);
            add_literal(x, lit.s, lit.n);
            continue;
        }
        if ((c == '-' || c == '+') && p + 2 < end && p[1] == close && p[2] == '}') {
            *right_trim = c == '-';
            free(lit.s);
            return p + 3;
        }
        if (c == close && p + 1 < end && p[1] == '}') {
            *right_trim = 0;
            free(lit.s);
            return p + 2;
        }
        if (!is_ws(c)) sb_add(&x->norm, p, 1);
        p++;
    }
    free(lit.s);
    if (lit.oom) x->norm.oom = 1;
    return NULL;
}

/* ['name'] -> .name in the normalised text, in place. */
static void dot_subscripts(sbuf *b)
{
    size_t w = 0;
    for (size_t r = 0; r < b->n;) {
        if (b->s[r] == '[' && r + 1 < b->n && b->s[r + 1] == '\'') {
            size_t k = r + 2;
            while (k < b->n && (b->s[k] == '_' || (b->s[k] >= 'a' && b->s[k] <= 'z') || (b->s[k] >= 'A' && b->s[k] <= 'Z') ||
                                (k > r + 2 && b->s[k] >= '0' && b->s[k] <= '9')))
                k++;
            if (k > r + 2 && k + 1 < b->n && b->s[k] == '\'' && b->s[k + 1] == ']') {
                b->s[w++] = '.';
                memmove(b->s + w, b->s + r + 2, k - r - 2);
                w += k - r - 2;
                r = k + 2;
                continue;
            }
        }
        b->s[w++] = b->s[r++];
    }
    b->n = w;
    if (b->s) b->s[w] = '\0';
}

static void lex_template(lexed *x, const char *text, size_t len)
{
    memset(x, 0, sizeof *x);
    sb_add(&x->norm, "", 0);
    const char *p = text, *end = text + len;
    int prev_kind = 0, prev_trim = 0;
    while (p <= end && !x->unterminated && !x->norm.oom) {
        /* the next tag */
        const char *t = p;
        while (t + 1 < end && !(t[0] == '{' && (t[1] == '{' || t[1] == '%' || t[1] == '#'))) t++;
        if (t + 1 >= end) t = end;
        int kind = 0, left = 0;
        if (t < end) {
            kind = t[1] == '{' ? 'v' : t[1] == '%' ? 'b' : 'c';
            left = t + 2 < end ? (t[2] == '-' ? 1 : t[2] == '+' ? 2 : 0) : 0;
        }
        if (data_writes(p, (size_t)(t - p), prev_kind, prev_trim, kind, left)) x->raw_output = 1;
        if (t >= end) break;
        const char *q = t + 2 + (left ? 1 : 0);
        int right = 0;
        if (kind == 'c') {
            const char *e = q;
            while (e + 1 < end && !(e[0] == '#' && e[1] == '}')) e++;
            if (e + 1 >= end) {
                x->unterminated = 1;
                break;
            }
            right = e > q && e[-1] == '-';
            p = e + 2;
        } else {
            sb_str(&x->norm, kind == 'v' ? "{{" : "{%");
            p = lex_tag(x, q, end, kind == 'v' ? '}' : '%', &right);
            if (!p) {
                x->unterminated = 1;
                break;
            }
            sb_str(&x->norm, kind == 'v' ? "}}" : "%}");
        }
        prev_kind = kind;
        prev_trim = right;
    }
    dot_subscripts(&x->norm);
}

/* ---- recognition ------------------------------------------------------------------------- */

static int has(const lexed *x, const char *s) { return strstr(x->norm.s, s) != NULL; }

static alim_status not_recognised(alim_chat_template *t, const char *text, size_t len, const char *where,
                                  const char *why, alim_error *err)
{
    char ex[200];
    size_t k = 0, shown = 0;
    /* the first 60 characters, on one line */
    for (size_t i = 0; i < len && shown < 60 && k + 4 < sizeof ex; shown++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') ex[k++] = '\\', ex[k++] = 'n', i++;
        else if (c == '\r' || c == '\t') ex[k++] = ' ', i++;
        else {
            size_t n = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
            if (i + n > len || k + n + 4 >= sizeof ex) break;
            memcpy(ex + k, text + i, n);
            k += n;
            i += n;
        }
    }
    ex[k] = '\0';
    alim_chat_template_free(t);
    t->kind = ALIM_CHAT_UNRECOGNISED;
    alim_error_set(&t->unrecognised, ALIM_EINVAL, where,
                   "chat template not recognised (%s; alim renders ChatML and Llama 3, a chat_template of chatml, llama3 or none overrides): \"%s%s\"",
                   why, ex, shown >= 60 && len > 60 ? "..." : "");
    if (err) *err = t->unrecognised;
    return ALIM_EINVAL;
}

static char *dup_n(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) memcpy(c, s, n), c[n] = '\0';
    return c;
}

/* ChatML's default system message: the first literal that is a whole system turn. */
static int chatml_default_system(const lexed *x, char **out)
{
    static const char head[] = "<|im_start|>system\n", tail[] = "<|im_end|>";
    for (size_t i = 0; i < x->n_lits; i++) {
        const char *l = x->lits[i];
        if (strncmp(l, head, sizeof head - 1)) continue;
        const char *e = strstr(l + sizeof head - 1, tail);
        if (!e) continue;
        *out = dup_n(l + sizeof head - 1, (size_t)(e - l - (sizeof head - 1)));
        return *out ? 1 : -1;
    }
    return 0;
}

alim_status alim_chat_template_detect(alim_chat_template *t, const char *text, size_t len,
                                      const char *where, alim_error *err)
{
    memset(t, 0, sizeof *t);
    if (!where) where = "chat template";
    lexed x;
    lex_template(&x, text, len);
    alim_status st = ALIM_OK;
    if (x.norm.oom) st = alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
    else if (x.unterminated) st = not_recognised(t, text, len, where, "a tag or string does not end", err);
    else if (x.raw_output) st = not_recognised(t, text, len, where, "it writes text outside its tags", err);
    else if (has(&x, "<think>") || has(&x, "reasoning_content") || has(&x, "enable_thinking"))
        st = not_recognised(t, text, len, where, "reasoning blocks are not rendered", err);
    else if (has(&x, "<|im_start|>")) {
        const int msg = has(&x, "'<|im_start|>'+message.role+'\n'+message.content+'<|im_end|>'+'\n'") ||
                        has(&x, "'<|im_start|>'+message.role+'\n'+message.content+'<|im_end|>\n'");
        if (!msg || !has(&x, "add_generation_prompt") || !has(&x, "'<|im_start|>assistant\n'"))
            st = not_recognised(t, text, len, where, "ChatML markers but not its per-message form", err);
        else {
            t->kind = ALIM_CHAT_CHATML;
            if (chatml_default_system(&x, &t->default_system) < 0) st = alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
        }
    } else if (has(&x, "<|start_header_id|>")) {
        const int msg = has(&x, "'<|start_header_id|>'+message.role+'<|end_header_id|>\n\n'+message.content|trim+'<|eot_id|>'");
        if (!msg || !has(&x, "bos_token") || !has(&x, "add_generation_prompt") ||
            !has(&x, "'<|start_header_id|>assistant<|end_header_id|>\n\n'"))
            st = not_recognised(t, text, len, where, "Llama 3 markers but not its per-message form", err);
        else if (has(&x, "strftime_now"))
            st = not_recognised(t, text, len, where, "it takes today's date from the clock (strftime_now)", err);
        else if (has(&x, "Cutting Knowledge Date")) {
            /* Llama 3.1: the system block always, with the template's fixed date */
            const char *knowledge = NULL;
            for (size_t i = 0; i < x.n_lits && !knowledge; i++)
                if (!strncmp(x.lits[i], "Cutting Knowledge Date:", 23)) knowledge = x.lits[i];
            const char *d = strstr(x.norm.s, "{%setdate_string='");
            const char *de = d ? strchr(d + 18, '\'') : NULL;
            if (!knowledge || !de || !has(&x, "'Today Date: '+date_string+'\n\n'") || !has(&x, "{{system_message}}") ||
                !has(&x, "'<|start_header_id|>system<|end_header_id|>\n\n'"))
                st = not_recognised(t, text, len, where, "a Llama 3.1 system block alim does not know", err);
            else {
                t->kind = ALIM_CHAT_LLAMA3;
                t->knowledge = dup_n(knowledge, strlen(knowledge));
                t->date = dup_n(d + 18, (size_t)(de - d - 18));
                if (!t->knowledge || !t->date) st = alim_error_set(err, ALIM_ENOMEM, where, "out of memory");
            }
        } else
            t->kind = ALIM_CHAT_LLAMA3;
    } else
        st = not_recognised(t, text, len, where, "no ChatML or Llama 3 markers", err);
    lexed_free(&x);
    if (st == ALIM_ENOMEM) alim_chat_template_free(t);
    return st;
}

/* ---- the template of a model ----------------------------------------------------------- */

static int is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

alim_status alim_chat_template_read(const char *model, char **text, size_t *len, char *where,
                                    size_t where_size, alim_error *err)
{
    *text = NULL;
    *len = 0;
    if (where_size) where[0] = '\0';
    if (alim_checkpoint_is_gguf(model)) {
        alim_gguf *g = NULL;
        alim_status st = alim_gguf_open(model, &g, err);
        if (st) return st;
        static const char key[] = "tokenizer.chat_template";
        if (alim_gguf_has_key(g, key)) {
            const char *s;
            size_t n;
            st = alim_gguf_get_string(g, key, &s, &n, err);
            if (!st) {
                *text = dup_n(s, n);
                *len = n;
                if (!*text) st = alim_error_set(err, ALIM_ENOMEM, model, "out of memory");
                snprintf(where, where_size, "%s: %s", model, key);
            }
        }
        alim_gguf_close(g);
        return st;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/chat_template.jinja", model);
    if (is_file(path)) {
        alim_status st = alim_file_read_all(path, text, len, err);
        if (!st) snprintf(where, where_size, "%s", path);
        return st;
    }
    snprintf(path, sizeof path, "%s/tokenizer_config.json", model);
    if (!is_file(path)) return ALIM_OK;
    cJSON *j = NULL;
    alim_status st = alim_json_read_file(path, &j, err);
    if (st) return st;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "chat_template");
    if (cJSON_IsArray(c)) {
        /* named templates: the "default" one is what apply_chat_template uses */
        const cJSON *it, *found = NULL;
        cJSON_ArrayForEach(it, c)
        {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
            if (cJSON_IsString(nm) && !strcmp(nm->valuestring, "default")) found = cJSON_GetObjectItemCaseSensitive(it, "template");
        }
        if (!found) st = alim_error_set(err, ALIM_EFORMAT, path, "chat_template: a list without a \"default\" template");
        c = found;
    }
    if (!st && c && !cJSON_IsNull(c)) {
        if (!cJSON_IsString(c)) st = alim_error_set(err, ALIM_EFORMAT, path, "chat_template: not a string");
        else {
            *len = strlen(c->valuestring);
            *text = dup_n(c->valuestring, *len);
            if (!*text) st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
            snprintf(where, where_size, "%s: chat_template", path);
        }
    }
    cJSON_Delete(j);
    return st;
}

alim_status alim_chat_template_copy(const char *model, const char *dir, alim_error *err)
{
    if (!model || !strcmp(model, dir)) return ALIM_OK;
    char *text = NULL, where[ALIM_ERROR_WHERE_MAX], path[4096];
    size_t len = 0;
    alim_status st = alim_chat_template_read(model, &text, &len, where, sizeof where, err);
    if (!st && text) {
        snprintf(path, sizeof path, "%s/chat_template.jinja", dir);
        st = alim_file_write_atomic(path, text, len, err);
    }
    /* transformers 4.46 reads the template from tokenizer_config.json only: put it there
     * too when the checkpoint has one (alim_checkpoint_save writes it for HF tokenizers) */
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    struct stat sb;
    cJSON *cfg = NULL;
    if (!st && text && stat(path, &sb) == 0 && (st = alim_json_read_file(path, &cfg, err)) == ALIM_OK) {
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "chat_template");
        cJSON_AddItemToObject(cfg, "chat_template", cJSON_CreateString(text));
        char *js = cJSON_Print(cfg);
        st = js ? alim_file_write_atomic(path, js, strlen(js), err) : alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
        free(js);
        cJSON_Delete(cfg);
    }
    free(text);
    return st;
}

alim_status alim_chat_template_resolve(alim_chat_template *t, const char *model,
                                       alim_chat_kind want, const alim_tokenizer *tk,
                                       alim_error *err)
{
    memset(t, 0, sizeof *t);
    t->kind = ALIM_CHAT_NONE;
    if (want == ALIM_CHAT_NONE) return ALIM_OK;
    if (want != ALIM_CHAT_AUTO && want != ALIM_CHAT_CHATML && want != ALIM_CHAT_LLAMA3)
        return alim_error_set(err, ALIM_EINVAL, "chat_template", "is not auto, none, chatml or llama3");
    char *text = NULL, where[ALIM_ERROR_WHERE_MAX];
    size_t len = 0;
    alim_status st = model ? alim_chat_template_read(model, &text, &len, where, sizeof where, err) : ALIM_OK;
    if (st) return st;
    if (text) {
        alim_error e;
        alim_status d = alim_chat_template_detect(t, text, len, where, &e);
        if (d == ALIM_ENOMEM) st = (*err = e, d);
        /* an explicit family that is not the model's own: its plain form */
        if (!st && want != ALIM_CHAT_AUTO && t->kind != want) alim_chat_template_free(t);
    }
    free(text);
    if (st) return st;
    if (want != ALIM_CHAT_AUTO && t->kind != want) {
        memset(t, 0, sizeof *t);
        t->kind = want;
    }
    if (t->kind == ALIM_CHAT_AUTO) t->kind = ALIM_CHAT_NONE; /* the model has no template */
    if (t->kind == ALIM_CHAT_LLAMA3) {
        size_t n = 0;
        const char *b = tk && tk->bos_id >= 0 ? alim_tokenizer_decode(tk, tk->bos_id, &n) : NULL;
        if (!b) b = "<|begin_of_text|>", n = strlen(b);
        t->bos = dup_n(b, n);
        if (!t->bos) {
            alim_chat_template_free(t);
            return alim_error_set(err, ALIM_ENOMEM, "chat template", "out of memory");
        }
    }
    return ALIM_OK;
}

/* ---- rendering ----------------------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (at most n bytes) and its code point; 1 and -1 for a
 * byte that does not start a valid sequence. */
static size_t utf8_at(const unsigned char *s, size_t n, long *cp)
{
    if (s[0] < 0x80) return *cp = s[0], 1;
    size_t k = s[0] >= 0xF0 && s[0] < 0xF8 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
    if (!k || k > n) return *cp = -1, 1;
    long v = s[0] & (0x7F >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return *cp = -1, 1;
        v = v << 6 | (s[i] & 0x3F);
    }
    return *cp = v, k;
}

/* Python's str.isspace(), which Jinja's trim filter strips. */
static int py_space(long c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Adds s with Python's str.strip() applied. */
static void sb_trimmed(sbuf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), a = 0, e = 0;
    long cp;
    while (a < n) {
        size_t k = utf8_at(u + a, n - a, &cp);
        if (!py_space(cp)) break;
        a += k;
    }
    /* the end: the last non-space character's end */
    for (size_t i = a; i < n;) {
        size_t k = utf8_at(u + i, n - i, &cp);
        i += k;
        if (!py_space(cp)) e = i;
    }
    if (e > a) sb_add(b, s + a, e - a);
}

alim_status alim_chat_render(const alim_chat_template *t, const char *system, const char *user,
                             const char *response, alim_chat_text *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    if (t->kind == ALIM_CHAT_UNRECOGNISED) {
        if (err) *err = t->unrecognised;
        return t->unrecognised.status ? t->unrecognised.status : ALIM_EINVAL;
    }
    sbuf b = {0};
    sb_add(&b, "", 0);
    size_t start = 0;
    switch (t->kind) {
    case ALIM_CHAT_CHATML: {
        const char *sys = system ? system : t->default_system;
        if (sys) sb_str(&b, "<|im_start|>system\n"), sb_str(&b, sys), sb_str(&b, "<|im_end|>\n");
        sb_str(&b, "<|im_start|>user\n"), sb_str(&b, user), sb_str(&b, "<|im_end|>\n");
        sb_str(&b, "<|im_start|>assistant\n");
        start = b.n;
        if (response) sb_str(&b, response), sb_str(&b, "<|im_end|>\n");
        break;
    }
    case ALIM_CHAT_LLAMA3:
        sb_str(&b, t->bos ? t->bos : "<|begin_of_text|>");
        if (t->knowledge) {
            /* Llama 3.1: the system block is always there */
            sb_str(&b, "<|start_header_id|>system<|end_header_id|>\n\n");
            sb_str(&b, t->knowledge), sb_str(&b, "Today Date: "), sb_str(&b, t->date ? t->date : ""), sb_str(&b, "\n\n");
            if (system) sb_trimmed(&b, system);
            sb_str(&b, "<|eot_id|>");
        } else if (system) {
            sb_str(&b, "<|start_header_id|>system<|end_header_id|>\n\n"), sb_trimmed(&b, system), sb_str(&b, "<|eot_id|>");
        }
        sb_str(&b, "<|start_header_id|>user<|end_header_id|>\n\n"), sb_trimmed(&b, user), sb_str(&b, "<|eot_id|>");
        sb_str(&b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
        start = b.n;
        if (response) sb_trimmed(&b, response), sb_str(&b, "<|eot_id|>");
        break;
    default:
        if (system) {
            free(b.s);
            return alim_error_set(err, ALIM_EINVAL, "system", "needs a chat template (the template is none)");
        }
        sb_str(&b, user);
        start = b.n;
        if (response) sb_str(&b, response);
        break;
    }
    if (b.oom) {
        free(b.s);
        return alim_error_set(err, ALIM_ENOMEM, "chat template", "out of memory");
    }
    out->text = b.s;
    out->len = b.n;
    out->response_start = start;
    return ALIM_OK;
}

const char *alim_chat_end_of_turn_text(const alim_chat_template *t)
{
    return t->kind == ALIM_CHAT_CHATML ? "<|im_end|>" : t->kind == ALIM_CHAT_LLAMA3 ? "<|eot_id|>" : NULL;
}

int alim_chat_end_of_turn_id(const alim_chat_template *t, const alim_tokenizer *tk)
{
    const char *s = alim_chat_end_of_turn_text(t);
    if (!s) return -1;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    int id = -1;
    if (alim_tokenizer_encode(tk, s, strlen(s), &ids, &n, &cap, "chat template", NULL) == ALIM_OK && n == 1) id = ids[0];
    free(ids);
    return id;
}
