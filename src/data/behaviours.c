/* behaviours.c — the behaviour data of the real-model elasticity study (see alim/behaviours.h;
 * the CLI front end is `alim data behaviours`, cli/data_behaviours.c). The splits, the
 * de-duplication, the output directory and the classifier are the natural source's
 * (alim/corpus.h, alim/classifier.h); what is new here is the chat framing (prompts from
 * templates x topics), the whole-word response windows and the cipher control. */
#define _POSIX_C_SOURCE 200809L
#include "alim/behaviours.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alim/classifier.h"
#include "alim/corpus.h"
#include "alim/io.h"
#include "alim/rng.h"
#include "bible.h"
#include "textsrc.h"

void alim_behaviour_options_default(alim_behaviour_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->window = 256;
    o->pool_docs = 2048;
    o->test_docs = 128;
    o->classifier_docs = 1000;
    o->classifier_eval_docs = 300;
    o->min_pool_docs = 200;
    o->classifier_order = 5;
    o->classifier_alpha = 0.1;
    o->fortunes_dir = "/usr/share/games/fortunes";
    o->bible = "/usr/lib/bible.data";
    o->jargon = "/usr/share/doc/jargon-text/jargon.txt.gz";
}

/* ---- prompts ------------------------------------------------------------------------------ */

/* Requests that ask for a passage and say nothing about its style: the behaviour is the style
 * the model answers in, whatever it is asked. */
static const char *const TEMPLATES[] = {
    "Tell me about %s.",
    "Write a few sentences about %s.",
    "What can you say about %s?",
    "Describe %s.",
    "Share a thought on %s.",
    "Write a short passage on %s.",
    "Give me a paragraph about %s.",
    "What comes to mind when you think of %s?",
    "Talk to me about %s.",
    "Say something about %s.",
};

static const char *const TOPICS[] = {
    "the sea",       "bread",         "a river",      "the night",     "friendship",   "work",
    "a city",        "the weather",   "music",        "a journey",     "time",         "money",
    "a garden",      "the morning",   "a king",       "the law",       "war",          "peace",
    "a teacher",     "books",         "the mountains", "fire",         "rain",         "a machine",
    "a letter",      "the market",    "a house",      "children",      "old age",      "memory",
    "a storm",       "the stars",     "a horse",      "a door",        "the wind",     "a feast",
    "sleep",         "a stranger",    "a promise",    "silence",       "the harvest",  "a tower",
    "language",      "numbers",       "a mistake",    "luck",          "a dream",      "winter",
    "summer",        "a bridge",      "the moon",     "a debt",        "a gift",       "patience",
    "anger",         "a secret",      "a road",       "water",         "gold",         "a ship",
    "a mirror",      "the truth",     "a game",       "a crowd",       "an island",    "a library",
    "a clock",       "a map",         "the desert",   "a lamp",        "a song",       "a meal",
    "a wall",        "the future",    "the past",     "a question",    "a rule",       "a tool",
    "a habit",       "a neighbour",   "the forest",   "a window",      "a festival",   "a workshop",
    "the kitchen",   "a sword",       "a message",    "the evening",   "a mountain path", "a village",
    "a birthday",    "the ocean floor", "a family",   "a parade",      "a puzzle",     "an orchard",
};

size_t alim_behaviour_n_templates(void) { return sizeof TEMPLATES / sizeof *TEMPLATES; }
size_t alim_behaviour_n_topics(void) { return sizeof TOPICS / sizeof *TOPICS; }

const char *alim_behaviour_topic(size_t j) { return j < alim_behaviour_n_topics() ? TOPICS[j] : NULL; }

int alim_behaviour_prompt(size_t t, size_t j, char *buf, size_t cap)
{
    if (t >= alim_behaviour_n_templates() || j >= alim_behaviour_n_topics()) return -1;
    int n = snprintf(buf, cap, TEMPLATES[t], TOPICS[j]);
    if (n > 0 && (size_t)n < cap && buf[0] >= 'a' && buf[0] <= 'z') buf[0] = (char)(buf[0] - 'a' + 'A');
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* ---- text ----------------------------------------------------------------------------------- */

size_t alim_behaviour_ascii(char *text, size_t len)
{
    /* UTF-8 punctuation with an ASCII equivalent, longest first where prefixes overlap */
    static const struct {
        const char *from, *to;
    } map[] = {
        {"\xe2\x80\x9c", "\""}, {"\xe2\x80\x9d", "\""}, {"\xe2\x80\x98", "'"},  {"\xe2\x80\x99", "'"},
        {"\xe2\x80\x94", "--"}, {"\xe2\x80\x93", "-"},  {"\xe2\x80\xa6", "..."}, {"\xe2\x80\xa2", "*"},
        {"\xc2\xa0", " "},       {"\xc2\xb4", "'"},       {"\xc2\xb7", "."},
    };
    size_t k = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80) {
            text[k++] = text[i++];
            continue;
        }
        size_t m = 0;
        for (; m < sizeof map / sizeof *map; m++) {
            size_t fl = strlen(map[m].from);
            if (i + fl <= len && !memcmp(text + i, map[m].from, fl)) {
                size_t tl = strlen(map[m].to);
                memcpy(text + k, map[m].to, tl); /* tl <= fl: never overtakes the reader */
                k += tl;
                i += fl;
                break;
            }
        }
        if (m < sizeof map / sizeof *map) continue;
        /* any other character (box drawing, accents): one space for the whole sequence */
        i++;
        while (i < len && ((unsigned char)text[i] & 0xc0) == 0x80) i++;
        text[k++] = ' ';
    }
    return k;
}

static int is_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

size_t alim_behaviour_squeeze(char *text, size_t len)
{
    size_t k = 0;
    int pending = 0;
    for (size_t i = 0; i < len; i++) {
        if (is_blank((unsigned char)text[i])) {
            pending = k > 0;
            continue;
        }
        if (pending) text[k++] = ' ';
        pending = 0;
        text[k++] = text[i];
    }
    return k;
}

size_t alim_behaviour_trim(const char *in, size_t len, size_t *start)
{
    *start = 0;
    const char *a = memchr(in, ' ', len);
    if (!a) return 0;
    size_t s = (size_t)(a - in) + 1, e = len;
    while (e > s && in[e - 1] != ' ') e--;
    if (e <= s) return 0;
    e--; /* the space itself */
    *start = s;
    return e - s;
}

int alim_behaviour_printable(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
    return 1;
}

void alim_behaviour_cipher_key(uint64_t seed, char key[26])
{
    alim_rng r;
    alim_rng_seed(&r, seed, 0xc1f3e7);
    /* Sattolo's algorithm: a uniformly drawn 26-cycle, so no letter maps to itself */
    for (int i = 0; i < 26; i++) key[i] = (char)('a' + i);
    for (size_t i = 25; i > 0; i--) {
        size_t j = (size_t)alim_rng_below(&r, i);
        char t = key[i];
        key[i] = key[j];
        key[j] = t;
    }
}

void alim_behaviour_encipher(const char key[26], char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') s[i] = key[c - 'a'];
        else if (c >= 'A' && c <= 'Z') s[i] = (char)(key[c - 'A'] - 'a' + 'A');
    }
}

/* The windows of a normalised text, trimmed to whole words; kept when printable and at least
 * half a window long. */
static alim_status word_windows(const char *text, size_t len, size_t window, alim_corpus *out, alim_error *err)
{
    alim_corpus raw;
    memset(&raw, 0, sizeof raw);
    alim_status st = alim_corpus_add_windows(&raw, text, len, window, err);
    for (size_t d = 0; d < raw.n_docs && !st; d++) {
        size_t n, s;
        const char *p = (const char *)alim_corpus_doc(&raw, d, &n);
        size_t k = alim_behaviour_trim(p, n, &s);
        if (k * 2 < window || !alim_behaviour_printable(p + s, k) || !alim_corpus_doc_ok(p + s, k)) continue;
        st = alim_corpus_add(out, p + s, k, err);
    }
    alim_corpus_free(&raw);
    return st;
}

/* ---- output ----------------------------------------------------------------------------------- */

typedef struct {
    char *b;
    size_t n, cap;
} strbuf;

static int sb_add(strbuf *s, const char *p, size_t n)
{
    if (s->n + n + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 1 << 16;
        while (nc < s->n + n + 1) nc *= 2;
        char *nb = realloc(s->b, nc);
        if (!nb) return -1;
        s->b = nb;
        s->cap = nc;
    }
    memcpy(s->b + s->n, p, n);
    s->n += n;
    s->b[s->n] = '\0';
    return 0;
}

/* Draws a prompt from the given topics: template uniform, topic uniform. */
static void draw_prompt(alim_rng *r, const size_t *topics, size_t n_topics, char *buf, size_t cap)
{
    size_t t = (size_t)alim_rng_below(r, alim_behaviour_n_templates());
    size_t j = topics[alim_rng_below(r, n_topics)];
    alim_behaviour_prompt(t, j, buf, cap);
}

/* JSONL chat records: docs[first .. first + n) as responses to prompts drawn from stream. */
static alim_status write_jsonl(const alim_corpus *c, size_t first, size_t n, alim_rng *r, const size_t *topics,
                               size_t n_topics, const char *path, alim_error *err)
{
    strbuf sb = {0};
    alim_status st = ALIM_OK;
    char prompt[256], *resp = NULL;
    size_t rcap = 0;
    for (size_t d = first; d < first + n && !st; d++) {
        size_t len;
        const char *p = (const char *)alim_corpus_doc(c, d, &len);
        if (len + 1 > rcap) {
            char *nr = realloc(resp, rcap = len + 1);
            if (!nr) {
                st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
                break;
            }
            resp = nr;
        }
        memcpy(resp, p, len);
        resp[len] = '\0';
        draw_prompt(r, topics, n_topics, prompt, sizeof prompt);
        cJSON *o = cJSON_CreateObject();
        if (o) {
            cJSON_AddStringToObject(o, "prompt", prompt);
            cJSON_AddStringToObject(o, "response", resp);
        }
        char *line = o ? alim_json_print(o, 0) : NULL;
        cJSON_Delete(o);
        if (!line || sb_add(&sb, line, strlen(line)) || sb_add(&sb, "\n", 1))
            st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
        free(line);
    }
    free(resp);
    if (!st) st = alim_file_write_atomic(path, sb.b ? sb.b : "", sb.n, err);
    free(sb.b);
    return st;
}

/* A sub-range of a corpus as a corpus of its own, in a seeded random order when r is not
 * NULL (the splits hand out blocks of 8 consecutive windows; a pool's records are shuffled
 * so that its first n records, which a run of size n uses, are not a few passages). */
static alim_status sub_corpus(const alim_corpus *c, size_t first, size_t n, alim_rng *r, alim_corpus *out,
                              alim_error *err)
{
    memset(out, 0, sizeof *out);
    if (first >= c->n_docs) return ALIM_OK;
    if (n > c->n_docs - first) n = c->n_docs - first;
    size_t *ord = malloc((n ? n : 1) * sizeof *ord);
    if (!ord) return alim_error_set(err, ALIM_ENOMEM, "behaviours", "out of memory");
    for (size_t i = 0; i < n; i++) ord[i] = first + i;
    for (size_t i = n; r && i > 1; i--) {
        size_t j = (size_t)alim_rng_below(r, i), t = ord[i - 1];
        ord[i - 1] = ord[j];
        ord[j] = t;
    }
    alim_status st = ALIM_OK;
    for (size_t i = 0; i < n && !st; i++) {
        size_t len;
        const uint8_t *p = alim_corpus_doc(c, ord[i], &len);
        st = alim_corpus_add(out, p, len, err);
    }
    free(ord);
    return st;
}

static cJSON *num(double v) { return alim_json_create_number(v); }

static void add_num(cJSON *o, const char *k, double v) { cJSON_AddItemToObject(o, k, num(v)); }

static void add_nums(cJSON *o, const char *k, const double *v, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, num(v[i]));
}

/* ---- the builder ------------------------------------------------------------------------------ */

static const char *const NAMES[ALIM_BEHAVIOURS] = {"fortunes", "bible-kjv", "jargon", "jargon-cipher"};
static const char *const ROLES[ALIM_BEHAVIOURS] = {"neutral", "positive", "negative", "control-negative"};

static alim_status check_options(const alim_behaviour_options *o, alim_error *err)
{
    if (o->window < 64 || o->window > 4096)
        return alim_error_set(err, ALIM_EINVAL, "window", "%zu bytes (need 64..4096)", o->window);
    if (o->test_docs < 1) return alim_error_set(err, ALIM_EINVAL, "test_docs", "must be at least 1");
    if (o->pool_docs < 1) return alim_error_set(err, ALIM_EINVAL, "pool_docs", "must be at least 1");
    if (o->classifier_docs < 1) return alim_error_set(err, ALIM_EINVAL, "classifier_docs", "must be at least 1");
    if (o->classifier_eval_docs < 1)
        return alim_error_set(err, ALIM_EINVAL, "classifier_eval_docs", "must be at least 1");
    if (o->min_pool_docs > o->pool_docs)
        return alim_error_set(err, ALIM_EINVAL, "pool_docs", "%zu is below the minimum pool of %zu records", o->pool_docs,
                              o->min_pool_docs);
    if (o->classifier_order < 1 || o->classifier_order > 7)
        return alim_error_set(err, ALIM_EINVAL, "classifier_order", "n-gram order %zu outside 1..7", o->classifier_order);
    if (!(o->classifier_alpha > 0) || !isfinite(o->classifier_alpha))
        return alim_error_set(err, ALIM_EINVAL, "classifier_alpha", "smoothing must be a number > 0");
    if ((o->extra_file == NULL) != (o->extra_name == NULL) ||
        (o->extra_name && (!o->extra_name[0] || strlen(o->extra_name) >= ALIM_NB_NAME_MAX)))
        return alim_error_set(err, ALIM_EINVAL, "extra_name", "needs NAME=FILE with a NAME of 1..%d bytes",
                              ALIM_NB_NAME_MAX - 1);
    for (size_t i = 0; o->extra_name && i < ALIM_BEHAVIOURS; i++)
        if (!strcmp(o->extra_name, NAMES[i]))
            return alim_error_set(err, ALIM_EINVAL, "extra_name", "'%s' is already a class", o->extra_name);
    struct stat sb;
    if (stat(o->fortunes_dir, &sb) || !S_ISDIR(sb.st_mode))
        return alim_error_set(err, ALIM_EINVAL, "behaviours",
                              "%s not found: the Debian package 'fortunes' is missing (apt-get install fortunes)",
                              o->fortunes_dir);
    if (access(o->bible, R_OK))
        return alim_error_set(err, ALIM_EINVAL, "behaviours",
                              "%s not found: the Debian package 'bible-kjv-text' is missing (apt-get install bible-kjv)",
                              o->bible);
    if (access(o->jargon, R_OK))
        return alim_error_set(err, ALIM_EINVAL, "behaviours",
                              "%s not found: the Debian package 'jargon-text' is missing (apt-get install jargon-text)",
                              o->jargon);
    return ALIM_OK;
}

/* The three package texts, whitespace squeezed. */
static alim_status read_texts(const alim_behaviour_options *o, char *txt[3], size_t len[3], size_t *n_cookies,
                              size_t *n_files, alim_error *err)
{
    char *raw = NULL;
    size_t rawlen;
    txt[0] = txt[1] = txt[2] = NULL;
    int rc = data_read_fortunes(o->fortunes_dir, &raw, &rawlen, n_files);
    if (rc == -2) return alim_error_set(err, ALIM_ENOMEM, o->fortunes_dir, "out of memory");
    if (rc) {
        free(raw);
        return alim_error_set(err, ALIM_EINVAL, o->fortunes_dir, "no fortune files to read");
    }
    alim_status st = alim_text_fortunes(raw, rawlen, &txt[0], &len[0], n_cookies, err);
    free(raw);
    if (!st) st = alim_bible_read(o->bible, &raw, &rawlen, err);
    if (!st) {
        st = alim_text_strip_verse_refs(raw, rawlen, &txt[1], &len[1], err);
        free(raw);
    }
    if (!st) st = data_read_gz(o->jargon, &txt[2], &len[2], err);
    if (st) {
        for (int i = 0; i < 3; i++) free(txt[i]), txt[i] = NULL;
        return st;
    }
    for (int i = 0; i < 3; i++) len[i] = alim_behaviour_squeeze(txt[i], alim_behaviour_ascii(txt[i], len[i]));
    return ALIM_OK;
}

typedef struct {
    alim_corpus win[ALIM_BEHAVIOURS];
    alim_splits sp;
    alim_corpus pool[ALIM_BEHAVIOURS], clf_eval[ALIM_BEHAVIOURS + 1];
    alim_corpus extra_train; /* the optional fifth class's training text (clf_eval[4]: its eval) */
    size_t extra_records;    /* usable replies in the extra-class file */
    alim_nb nb;
    size_t dups[ALIM_BEHAVIOURS];
    size_t topics[sizeof TOPICS / sizeof *TOPICS], n_train_topics, n_heldout_topics;
    char key[27];
    size_t n_cookies, n_files;
} build_state;

static void state_free(build_state *b)
{
    for (size_t i = 0; i < ALIM_BEHAVIOURS; i++) {
        alim_corpus_free(&b->win[i]);
        alim_corpus_free(&b->pool[i]);
    }
    for (size_t i = 0; i <= ALIM_BEHAVIOURS; i++) alim_corpus_free(&b->clf_eval[i]);
    alim_corpus_free(&b->extra_train);
    alim_splits_free(&b->sp);
    alim_nb_free(&b->nb);
}

/* Windows of the four behaviours, de-duplicated, split. */
static alim_status make_splits(const alim_behaviour_options *o, build_state *b, alim_error *err)
{
    char *txt[3];
    size_t len[3];
    alim_status st = read_texts(o, txt, len, &b->n_cookies, &b->n_files, err);
    if (st) return st;
    alim_corpus jargon;
    memset(&jargon, 0, sizeof jargon);
    st = word_windows(txt[0], len[0], o->window, &b->win[0], err);
    if (!st) st = word_windows(txt[1], len[1], o->window, &b->win[1], err);
    if (!st) st = word_windows(txt[2], len[2], o->window, &jargon, err);
    for (int i = 0; i < 3; i++) free(txt[i]);
    /* alternating blocks of 8 windows: even blocks are c3, odd blocks (enciphered) c4 */
    alim_behaviour_cipher_key(o->seed, b->key);
    b->key[26] = '\0';
    for (size_t d = 0; d < jargon.n_docs && !st; d++) {
        size_t n;
        const uint8_t *p = alim_corpus_doc(&jargon, d, &n);
        if ((d / 8) % 2 == 0) {
            st = alim_corpus_add(&b->win[2], p, n, err);
        } else {
            st = alim_corpus_add(&b->win[3], p, n, err);
            if (!st) {
                size_t k = b->win[3].n_docs - 1;
                alim_behaviour_encipher(b->key, (char *)b->win[3].bytes + b->win[3].off[k], n);
            }
        }
    }
    alim_corpus_free(&jargon);
    if (!st) st = alim_corpus_dedup(b->win, ALIM_BEHAVIOURS, b->dups, err);
    if (st) return st;
    alim_split_config cfg;
    alim_split_config_default(&cfg);
    cfg.n_components = ALIM_BEHAVIOURS;
    memset(cfg.shares, 0, sizeof cfg.shares);
    cfg.shares[0] = 1; /* the mixture test set (unused here) draws c1 only */
    cfg.pretrain_docs = 0;
    cfg.test_docs = o->test_docs;
    cfg.classifier_docs = o->classifier_docs;
    cfg.pool_docs = o->classifier_eval_docs + o->pool_docs;
    cfg.seed = o->seed;
    const alim_corpus *wp[ALIM_BEHAVIOURS];
    for (size_t i = 0; i < ALIM_BEHAVIOURS; i++) wp[i] = &b->win[i];
    if ((st = alim_splits_from_windows(&b->sp, wp, &cfg, err))) {
        /* "component <i>" -> the behaviour's name */
        unsigned ci;
        if (st == ALIM_EINVAL && sscanf(err->where, "component %u", &ci) == 1 && ci >= 1 && ci <= ALIM_BEHAVIOURS) {
            alim_error e2 = *err;
            alim_error_set(err, st, "behaviours", "%s (c%u): %s", NAMES[ci - 1], ci, e2.what);
        }
        return st;
    }
    for (size_t i = 0; i < ALIM_BEHAVIOURS && !st; i++) {
        size_t have = b->sp.pool[i].n_docs;
        if (have < o->classifier_eval_docs + o->min_pool_docs) {
            return alim_error_set(err, ALIM_EINVAL, "behaviours",
                                  "%s (c%zu): %zu windows left after test %zu and classifier %zu; need classifier eval %zu + a pool of at least %zu",
                                  NAMES[i], i + 1, have, o->test_docs, o->classifier_docs, o->classifier_eval_docs, o->min_pool_docs);
        }
        st = sub_corpus(&b->sp.pool[i], 0, o->classifier_eval_docs, NULL, &b->clf_eval[i], err);
        alim_rng r;
        alim_rng_seed(&r, o->seed, 1000 + i);
        if (!st) st = sub_corpus(&b->sp.pool[i], o->classifier_eval_docs, o->pool_docs, &r, &b->pool[i], err);
    }
    return st;
}

/* The topic partition: a seeded shuffle, the first quarter held out. */
static void split_topics(uint64_t seed, build_state *b)
{
    size_t n = alim_behaviour_n_topics();
    for (size_t j = 0; j < n; j++) b->topics[j] = j;
    alim_rng r;
    alim_rng_seed(&r, seed, 600);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)alim_rng_below(&r, i);
        size_t t = b->topics[i - 1];
        b->topics[i - 1] = b->topics[j];
        b->topics[j] = t;
    }
    b->n_heldout_topics = n / 4;
    b->n_train_topics = n - b->n_heldout_topics;
}

#define HELDOUT(b) ((b)->topics)
#define TRAINING(b) ((b)->topics + (b)->n_heldout_topics)

/* The optional fifth class: the "response" of every JSONL record of o->extra_file, folded and
 * squeezed like the windows (kept when printable and at least 16 bytes), in a seeded order;
 * the first classifier_eval_docs are its eval split, the next classifier_docs (at most) its
 * training text. */
static alim_status extra_class(const alim_behaviour_options *o, build_state *b, alim_error *err)
{
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(o->extra_file, &buf, &len, err);
    if (st) return st;
    alim_corpus all;
    memset(&all, 0, sizeof all);
    size_t line = 0;
    for (size_t a = 0; a < len && !st;) {
        size_t e = a;
        while (e < len && buf[e] != '\n') e++;
        line++;
        size_t z = e;
        while (z > a && (buf[z - 1] == '\r' || buf[z - 1] == ' ' || buf[z - 1] == '\t')) z--;
        if (z > a) {
            cJSON *j = cJSON_ParseWithLength(buf + a, z - a);
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "response");
            if (!cJSON_IsString(r)) {
                char where[4200];
                snprintf(where, sizeof where, "%.4000s:%zu", o->extra_file, line);
                st = alim_error_set(err, ALIM_EFORMAT, where, "expected a JSON object with a string \"response\"");
            } else {
                char *t = strdup(r->valuestring);
                if (!t) st = alim_error_set(err, ALIM_ENOMEM, o->extra_file, "out of memory");
                else {
                    size_t n = alim_behaviour_squeeze(t, alim_behaviour_ascii(t, strlen(t)));
                    if (n >= 16 && alim_behaviour_printable(t, n) && alim_corpus_doc_ok(t, n)) st = alim_corpus_add(&all, t, n, err);
                    free(t);
                }
            }
            cJSON_Delete(j);
        }
        a = e + 1;
    }
    free(buf);
    b->extra_records = all.n_docs;
    if (!st && all.n_docs < o->classifier_eval_docs + 100)
        st = alim_error_set(err, ALIM_EINVAL, o->extra_file,
                            "has %zu usable replies (>= 16 printable bytes); the class needs %zu for its eval split + 100",
                            all.n_docs, o->classifier_eval_docs);
    alim_rng r;
    alim_rng_seed(&r, o->seed, 1100);
    alim_corpus shuffled;
    memset(&shuffled, 0, sizeof shuffled);
    if (!st) st = sub_corpus(&all, 0, all.n_docs, &r, &shuffled, err);
    if (!st) st = sub_corpus(&shuffled, 0, o->classifier_eval_docs, NULL, &b->clf_eval[ALIM_BEHAVIOURS], err);
    if (!st) st = sub_corpus(&shuffled, o->classifier_eval_docs, o->classifier_docs, NULL, &b->extra_train, err);
    alim_corpus_free(&all);
    alim_corpus_free(&shuffled);
    return st;
}

static alim_status write_files(const alim_behaviour_options *o, build_state *b, alim_outdir *od, alim_error *err)
{
    alim_status st = ALIM_OK;
    alim_rng r;
    char name[64];
    for (size_t i = 0; i < ALIM_BEHAVIOURS && !st; i++) {
        alim_rng_seed(&r, o->seed, 700 + i);
        snprintf(name, sizeof name, "pool_c%zu.jsonl", i + 1);
        st = write_jsonl(&b->pool[i], 0, b->pool[i].n_docs, &r, TRAINING(b), b->n_train_topics,
                         alim_outdir_file(od, name), err);
        alim_rng_seed(&r, o->seed, 800 + i);
        snprintf(name, sizeof name, "test_c%zu.jsonl", i + 1);
        if (!st)
            st = write_jsonl(&b->sp.test[i], 0, b->sp.test[i].n_docs, &r, HELDOUT(b), b->n_heldout_topics,
                             alim_outdir_file(od, name), err);
        snprintf(name, sizeof name, "test_c%zu.txt", i + 1);
        if (!st) st = alim_corpus_write(&b->sp.test[i], alim_outdir_file(od, name), err);
        snprintf(name, sizeof name, "classifier_c%zu.txt", i + 1);
        if (!st) st = alim_corpus_write(&b->sp.classifier[i], alim_outdir_file(od, name), err);
        snprintf(name, sizeof name, "classifier_eval_c%zu.txt", i + 1);
        if (!st) st = alim_corpus_write(&b->clf_eval[i], alim_outdir_file(od, name), err);
    }
    if (!st && o->extra_file) {
        st = alim_corpus_write(&b->extra_train, alim_outdir_file(od, "classifier_c5.txt"), err);
        if (!st) st = alim_corpus_write(&b->clf_eval[ALIM_BEHAVIOURS], alim_outdir_file(od, "classifier_eval_c5.txt"), err);
    }
    if (st) return st;
    /* held-out prompts for sampling */
    strbuf sb = {0};
    alim_rng_seed(&r, o->seed, 900);
    char prompt[256];
    for (size_t k = 0; k < o->test_docs && !st; k++) {
        draw_prompt(&r, HELDOUT(b), b->n_heldout_topics, prompt, sizeof prompt);
        if (sb_add(&sb, prompt, strlen(prompt)) || sb_add(&sb, "\n", 1))
            st = alim_error_set(err, ALIM_ENOMEM, "prompts.txt", "out of memory");
    }
    if (!st) st = alim_file_write_atomic(alim_outdir_file(od, "prompts.txt"), sb.b, sb.n, err);
    free(sb.b);
    return st;
}

/* Trains the classifier on the classifier split, measures it on the eval split (whole windows
 * and 64-byte prefixes), saves it and describes it in c. */
static alim_status classifier(const alim_behaviour_options *o, build_state *b, alim_outdir *od, cJSON *c,
                              alim_error *err)
{
    const size_t K = ALIM_BEHAVIOURS + (o->extra_file != NULL);
    alim_status st = alim_nb_init(&b->nb, K, o->classifier_order, o->classifier_alpha, err);
    for (size_t i = 0; i < K && !st; i++) {
        snprintf(b->nb.names[i], ALIM_NB_NAME_MAX, "%s", i < ALIM_BEHAVIOURS ? NAMES[i] : o->extra_name);
        st = alim_nb_add_corpus(&b->nb, i, i < ALIM_BEHAVIOURS ? &b->sp.classifier[i] : &b->extra_train, err);
    }
    if (!st) st = alim_nb_save(&b->nb, alim_outdir_file(od, "classifier.nb"), err);
    if (st) return st;
    double conf[ALIM_BEHAVIOURS + 1][ALIM_BEHAVIOURS + 1] = {{0}}, post[ALIM_NB_MAX_CLASSES];
    double per[ALIM_BEHAVIOURS + 1], per64[ALIM_BEHAVIOURS + 1];
    size_t right = 0, right64 = 0, total = 0;
    for (size_t i = 0; i < K; i++) {
        size_t ri = 0, ri64 = 0, n = b->clf_eval[i].n_docs;
        for (size_t d = 0; d < n; d++) {
            size_t len;
            const uint8_t *p = alim_corpus_doc(&b->clf_eval[i], d, &len);
            size_t got = alim_nb_classify(&b->nb, p, len, post);
            conf[i][got] += 1;
            ri += got == i;
            ri64 += alim_nb_classify(&b->nb, p, len < 64 ? len : 64, post) == i;
        }
        per[i] = n ? (double)ri / (double)n : NAN;
        per64[i] = n ? (double)ri64 / (double)n : NAN;
        right += ri, right64 += ri64, total += n;
    }
    cJSON_AddStringToObject(c, "file", "classifier.nb");
    cJSON_AddStringToObject(c, "kind", "character n-gram multinomial naive Bayes, add-alpha smoothing, uniform prior");
    add_num(c, "order", (double)o->classifier_order);
    add_num(c, "alpha", o->classifier_alpha);
    cJSON *names = cJSON_AddArrayToObject(c, "classes");
    for (size_t i = 0; i < K; i++) cJSON_AddItemToArray(names, cJSON_CreateString(b->nb.names[i]));
    add_num(c, "train_docs_per_class", (double)o->classifier_docs);
    if (o->extra_file) {
        cJSON *x = cJSON_AddObjectToObject(c, "extra_class");
        cJSON_AddStringToObject(x, "name", o->extra_name);
        cJSON_AddStringToObject(x, "file", o->extra_file);
        add_num(x, "usable_replies", (double)b->extra_records);
        add_num(x, "train_docs", (double)b->extra_train.n_docs);
        add_num(x, "eval_docs", (double)b->clf_eval[ALIM_BEHAVIOURS].n_docs);
        cJSON_AddStringToObject(x, "files", "classifier_c5.txt, classifier_eval_c5.txt");
    }
    add_num(c, "eval_docs_per_class", (double)o->classifier_eval_docs);
    cJSON_AddStringToObject(c, "eval_split", "classifier_eval_c<i>.txt: disjoint from the classifier's training text, "
                                             "the pools and the test sets");
    add_num(c, "accuracy", total ? (double)right / (double)total : NAN);
    add_nums(c, "accuracy_per_class", per, K);
    add_num(c, "prefix_bytes", 64);
    add_num(c, "accuracy_prefix", total ? (double)right64 / (double)total : NAN);
    add_nums(c, "accuracy_prefix_per_class", per64, K);
    cJSON *cm = cJSON_AddArrayToObject(c, "confusion");
    for (size_t i = 0; i < K; i++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t j = 0; j < K; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber(conf[i][j]));
        cJSON_AddItemToArray(cm, row);
    }
    cJSON_AddStringToObject(c, "confusion_rows", "true class; columns: the class given");
    return ALIM_OK;
}

static double mean_len(const alim_corpus *c) { return c->n_docs ? (double)alim_corpus_bytes(c) / (double)c->n_docs : NAN; }

static cJSON *manifest(const alim_behaviour_options *o, build_state *b)
{
    cJSON *m = cJSON_CreateObject();
    if (!m) return NULL;
    cJSON_AddStringToObject(m, "format", "alim-behaviour-data/1");
    cJSON_AddStringToObject(m, "source", "behaviours");
    add_num(m, "seed", (double)o->seed);
    add_num(m, "window", (double)o->window);
    cJSON_AddStringToObject(m, "delimiter", ALIM_CORPUS_DELIM);
    cJSON_AddStringToObject(m, "record", "{\"prompt\": request, \"response\": passage}; `alim train --init MODEL` renders "
                                         "it in the model's chat template, loss on the response (docs/chat.md)");
    cJSON_AddStringToObject(m, "normalisation", "whitespace runs as one space; windows cut to whole words; printable ASCII; "
                                                "at least half a window; de-duplicated across behaviours");
    add_num(m, "n_behaviours", ALIM_BEHAVIOURS);
    cJSON *roles = cJSON_AddObjectToObject(m, "roles");
    for (size_t i = 0; i < ALIM_BEHAVIOURS; i++) {
        char c[8];
        snprintf(c, sizeof c, "c%zu", i + 1);
        cJSON_AddStringToObject(roles, ROLES[i], c);
    }
    char o1[512];
    snprintf(o1, sizeof o1, "%zu fortune files in %s, %zu cookies", b->n_files, o->fortunes_dir, b->n_cookies);
    char o3[512], o4[600];
    snprintf(o3, sizeof o3, "%s, even blocks of 8 windows", o->jargon);
    snprintf(o4, sizeof o4, "%s, odd blocks of 8 windows, letters substituted by the cipher key", o->jargon);
    const char *origins[ALIM_BEHAVIOURS] = {o1, "bible -f 'Gen1:1-Rev22:21' (read from the data file), verse references removed",
                                            o3, o4};
    cJSON *arr = cJSON_AddArrayToObject(m, "behaviours");
    for (size_t i = 0; i < ALIM_BEHAVIOURS; i++) {
        cJSON *c = cJSON_CreateObject();
        char buf[64];
        snprintf(buf, sizeof buf, "c%zu", i + 1);
        cJSON_AddStringToObject(c, "name", buf);
        cJSON_AddStringToObject(c, "label", NAMES[i]);
        cJSON_AddStringToObject(c, "role", ROLES[i]);
        cJSON_AddStringToObject(c, "origin", origins[i]);
        add_num(c, "available_windows", (double)b->sp.available[i]);
        add_num(c, "duplicate_windows_removed", (double)b->dups[i]);
        add_num(c, "pool_docs", (double)b->pool[i].n_docs);
        add_num(c, "test_docs", (double)b->sp.test[i].n_docs);
        add_num(c, "classifier_docs", (double)b->sp.classifier[i].n_docs);
        add_num(c, "classifier_eval_docs", (double)b->clf_eval[i].n_docs);
        add_num(c, "pool_mean_response_bytes", mean_len(&b->pool[i]));
        cJSON *f = cJSON_AddObjectToObject(c, "files");
        snprintf(buf, sizeof buf, "pool_c%zu.jsonl", i + 1);
        cJSON_AddStringToObject(f, "pool", buf);
        snprintf(buf, sizeof buf, "test_c%zu.jsonl", i + 1);
        cJSON_AddStringToObject(f, "test", buf);
        snprintf(buf, sizeof buf, "test_c%zu.txt", i + 1);
        cJSON_AddStringToObject(f, "test_text", buf);
        snprintf(buf, sizeof buf, "classifier_c%zu.txt", i + 1);
        cJSON_AddStringToObject(f, "classifier", buf);
        snprintf(buf, sizeof buf, "classifier_eval_c%zu.txt", i + 1);
        cJSON_AddStringToObject(f, "classifier_eval", buf);
        cJSON_AddItemToArray(arr, c);
    }
    cJSON *p = cJSON_AddObjectToObject(m, "prompts");
    cJSON_AddStringToObject(p, "file", "prompts.txt");
    add_num(p, "n", (double)o->test_docs);
    add_num(p, "templates", (double)alim_behaviour_n_templates());
    add_num(p, "topics", (double)alim_behaviour_n_topics());
    cJSON *tt = cJSON_AddArrayToObject(p, "training_topics"), *ht = cJSON_AddArrayToObject(p, "heldout_topics");
    for (size_t j = 0; j < b->n_train_topics; j++) cJSON_AddItemToArray(tt, cJSON_CreateString(TOPICS[TRAINING(b)[j]]));
    for (size_t j = 0; j < b->n_heldout_topics; j++) cJSON_AddItemToArray(ht, cJSON_CreateString(TOPICS[HELDOUT(b)[j]]));
    cJSON_AddStringToObject(p, "rule", "pool records: training topics; test records and prompts.txt: held-out topics; "
                                       "template and topic uniform, seeded per file");
    cJSON *k = cJSON_AddObjectToObject(m, "cipher");
    cJSON_AddStringToObject(k, "alphabet", "abcdefghijklmnopqrstuvwxyz");
    cJSON_AddStringToObject(k, "key", b->key);
    cJSON_AddStringToObject(k, "rule", "letter x becomes key[x - 'a'], case kept; a 26-cycle (no fixed letter) drawn from the seed");
    return m;
}

alim_status alim_behaviours_build(const alim_behaviour_options *o, const char *out_dir, cJSON **manifest_out,
                                  alim_error *err)
{
    if (manifest_out) *manifest_out = NULL;
    alim_status st = check_options(o, err);
    if (st) return st;
    build_state *b = calloc(1, sizeof *b);
    if (!b) return alim_error_set(err, ALIM_ENOMEM, "behaviours", "out of memory");
    st = make_splits(o, b, err);
    if (!st && o->extra_file) st = extra_class(o, b, err);
    split_topics(o->seed, b);
    alim_outdir od;
    int open = 0;
    if (!st) st = alim_outdir_begin(&od, out_dir, err);
    open = !st;
    if (!st) st = write_files(o, b, &od, err);
    cJSON *m = NULL;
    if (!st) {
        m = manifest(o, b);
        cJSON *c = m ? cJSON_AddObjectToObject(m, "classifier") : NULL;
        st = c ? classifier(o, b, &od, c, err) : alim_error_set(err, ALIM_ENOMEM, "manifest", "out of memory");
    }
    char *txt = NULL;
    if (!st) {
        txt = alim_json_print(m, 1);
        st = txt ? ALIM_OK : alim_error_set(err, ALIM_ENOMEM, "manifest", "out of memory");
    }
    if (!st) {
        size_t n = strlen(txt);
        txt[n] = '\n'; /* written with its length; restored below */
        st = alim_file_write_atomic(alim_outdir_file(&od, "manifest.json"), txt, n + 1, err);
        txt[n] = '\0';
    }
    free(txt);
    if (!st) st = alim_outdir_commit(&od, err);
    else if (open) alim_outdir_abort(&od);
    state_free(b);
    free(b);
    if (st || !manifest_out) cJSON_Delete(m);
    else *manifest_out = m;
    return st;
}
