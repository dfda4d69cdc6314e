/* test_data_behaviours.c — the behaviour data of the real-model study (alim/behaviours.h):
 * the text pieces (ASCII folding, squeezing, whole-word windows, the cipher, prompts) and,
 * when the Debian packages are installed, whole builds: determinism, disjoint splits, prompts
 * from the right topics, the records' form, the manifest against the files, the classifier's
 * accuracy (recomputed from its files) and the error cases. */
#define _GNU_SOURCE /* memmem */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "alim/behaviours.h"
#include "alim/classifier.h"
#include "alim/corpus.h"
#include "alim/io.h"
#include "alim/rng.h"
#include "check.h"

static void test_text(void)
{
    char a[] = "  one\t two\n\n three  ";
    size_t n = alim_behaviour_squeeze(a, strlen(a));
    CHECK(n == 13 && !memcmp(a, "one two three", 13), "squeeze: '%.*s'", (int)n, a);
    char b[] = "\xe2\x80\x9cHi\xe2\x80\x9d \xe2\x80\x94 it\xe2\x80\x99s\xc2\xa0ok\xe2\x80\xa6 \xe2\x94\x80\xe2\x94\x80x caf\xc3\xa9";
    n = alim_behaviour_ascii(b, strlen(b));
    const char *want = "\"Hi\" -- it's ok...   x caf ";
    CHECK(n == strlen(want) && !memcmp(b, want, n), "ascii: '%.*s'", (int)n, b);
    CHECK(alim_behaviour_printable(b, n), "folded text is printable");
    CHECK(!alim_behaviour_printable("a\tb", 3) && !alim_behaviour_printable("\x80", 1), "tab and high bytes refused");
    size_t s;
    const char *w = "rd one two thr";
    size_t k = alim_behaviour_trim(w, strlen(w), &s);
    CHECK(k == 7 && !memcmp(w + s, "one two", 7), "trim: '%.*s'", (int)k, w + s);
    CHECK(alim_behaviour_trim("nospace", 7, &s) == 0, "trim: one partial word gives nothing");
    CHECK(alim_behaviour_trim("ab cd", 5, &s) == 0, "trim: two partial words give nothing");
    char key[26], key2[26];
    alim_behaviour_cipher_key(1, key);
    alim_behaviour_cipher_key(1, key2);
    CHECK(!memcmp(key, key2, 26), "key is a function of the seed");
    int seen[26] = {0}, fixed = 0;
    for (int i = 0; i < 26; i++) {
        if (key[i] >= 'a' && key[i] <= 'z') seen[key[i] - 'a']++;
        fixed += key[i] == 'a' + i;
    }
    int perm = 1;
    for (int i = 0; i < 26; i++) perm &= seen[i] == 1;
    CHECK(perm && fixed == 0, "key is a permutation without fixed letters (fixed %d)", fixed);
    /* a 26-cycle: following the key from 'a' visits every letter */
    int len = 0, c = 0;
    do c = key[c] - 'a', len++;
    while (c != 0 && len < 30);
    CHECK(len == 26, "key is one 26-cycle (cycle of 'a' has %d)", len);
    alim_behaviour_cipher_key(2, key2);
    CHECK(memcmp(key, key2, 26), "another seed, another key");
    char t[] = "Hello, World 42!";
    alim_behaviour_encipher(key, t, strlen(t));
    CHECK(t[0] == key['h' - 'a'] - 'a' + 'A' && t[1] == key['e' - 'a'] && !strcmp(t + 12, " 42!") && t[5] == ',',
          "encipher keeps case, digits and punctuation: %s", t);
    char prompt[128];
    CHECK(alim_behaviour_n_templates() == 10 && alim_behaviour_n_topics() == 96, "10 templates x 96 topics");
    CHECK(alim_behaviour_prompt(3, 0, prompt, sizeof prompt) > 0 && !strcmp(prompt, "Describe the sea."), "prompt: %s",
          prompt);
    CHECK(alim_behaviour_prompt(0, 0, prompt, sizeof prompt) > 0 && !strcmp(prompt, "Tell me about the sea."), "prompt: %s",
          prompt);
    CHECK(alim_behaviour_prompt(10, 0, prompt, sizeof prompt) < 0 && alim_behaviour_prompt(0, 96, prompt, sizeof prompt) < 0,
          "out-of-range template/topic");
    CHECK(alim_behaviour_prompt(0, 0, prompt, 5) < 0, "too small a buffer");
    CHECK(!strcmp(alim_behaviour_topic(0), "the sea") && alim_behaviour_topic(96) == NULL, "topic names");
    int distinct = 1;
    for (size_t i = 0; i < alim_behaviour_n_topics(); i++)
        for (size_t j = 0; j < i; j++) distinct &= strcmp(alim_behaviour_topic(i), alim_behaviour_topic(j)) != 0;
    CHECK(distinct, "the 96 topics are distinct");
}

/* ---- whole builds ------------------------------------------------------------------------- */

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *b = NULL;
    alim_error e;
    if (alim_file_read_all(p, &b, len, &e)) return NULL;
    return b;
}

static int same_file(const char *d1, const char *d2, const char *name)
{
    size_t n1, n2;
    char *a = slurp(d1, name, &n1), *b = slurp(d2, name, &n2);
    int same = a && b && n1 == n2 && !memcmp(a, b, n1);
    free(a), free(b);
    return same;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char p[4096];
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* any OUT.tmp.* left beside OUT */
static int temporaries_left(const char *parent, const char *base)
{
    DIR *d = opendir(parent);
    if (!d) return 0;
    struct dirent *e;
    int n = 0;
    size_t bl = strlen(base);
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, base, bl) && !strncmp(e->d_name + bl, ".tmp.", 5)) n++;
    closedir(d);
    return n;
}

/* JSONL records of a file: n records, each with string prompt and response; the prompts are
 * returned in *prompts (caller frees each and the array), responses added to *resp. */
static size_t read_jsonl(const char *dir, const char *name, char ***prompts, alim_corpus *resp, int *bad)
{
    size_t len, n = 0;
    char *b = slurp(dir, name, &len);
    *prompts = NULL;
    if (!b) {
        *bad = 1;
        return 0;
    }
    for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prompt"), *r = cJSON_GetObjectItemCaseSensitive(j, "response");
        if (!cJSON_IsString(p) || !cJSON_IsString(r) || cJSON_GetArraySize(j) != 2) *bad = 1;
        else {
            *prompts = realloc(*prompts, (n + 1) * sizeof **prompts);
            (*prompts)[n++] = strdup(p->valuestring);
            alim_error e;
            if (resp && alim_corpus_add(resp, r->valuestring, strlen(r->valuestring), &e)) *bad = 1;
        }
        cJSON_Delete(j);
    }
    free(b);
    return n;
}

static void free_prompts(char **p, size_t n)
{
    for (size_t i = 0; i < n; i++) free(p[i]);
    free(p);
}

/* 1 if the prompt is some template of a topic in the list (a prompt that no template and
 * topic render counts as outside every list) */
static int prompt_topic_in(const char *prompt, const cJSON *topics)
{
    char buf[256];
    for (size_t k = 0; k < alim_behaviour_n_templates(); k++)
        for (size_t j = 0; j < alim_behaviour_n_topics(); j++) {
            alim_behaviour_prompt(k, j, buf, sizeof buf);
            if (strcmp(buf, prompt)) continue;
            const cJSON *t;
            cJSON_ArrayForEach(t, topics) if (!strcmp(t->valuestring, alim_behaviour_topic(j))) return 1;
            return 0;
        }
    return 0;
}

static void test_build(void)
{
    const char *parent = "/tmp";
    char d1[256], d2[256], d3[256];
    snprintf(d1, sizeof d1, "%s/alim_test_beh_a_%ld", parent, (long)getpid());
    snprintf(d2, sizeof d2, "%s/alim_test_beh_b_%ld", parent, (long)getpid());
    snprintf(d3, sizeof d3, "%s/alim_test_beh_c_%ld", parent, (long)getpid());
    rm_rf(d1), rm_rf(d2), rm_rf(d3);
    alim_behaviour_options o;
    alim_behaviour_options_default(&o);
    o.pool_docs = 400;
    o.min_pool_docs = 200;
    alim_error err;
    cJSON *m = NULL;
    alim_status st = alim_behaviours_build(&o, d1, &m, &err);
    CHECK(st == ALIM_OK, "build: %s: %s", err.where, err.what);
    if (st) return;
    CHECK(alim_behaviours_build(&o, d2, NULL, &err) == ALIM_OK, "second build");
    o.seed = 2;
    CHECK(alim_behaviours_build(&o, d3, NULL, &err) == ALIM_OK, "build with seed 2");
    o.seed = 1;
    static const char *files[] = {"manifest.json", "prompts.txt", "classifier.nb"};
    int same = 1;
    for (size_t i = 0; i < 3; i++) same &= same_file(d1, d2, files[i]);
    char name[64];
    static const char *per[] = {"pool_c%d.jsonl", "test_c%d.jsonl", "test_c%d.txt", "classifier_c%d.txt",
                                "classifier_eval_c%d.txt"};
    int differs = 0;
    for (int i = 1; i <= 4; i++)
        for (size_t f = 0; f < 5; f++) {
            snprintf(name, sizeof name, per[f], i);
            same &= same_file(d1, d2, name);
            differs += !same_file(d1, d3, name);
        }
    CHECK(same, "the same options give the same bytes in every file");
    CHECK(differs == 20, "seed 2 changes every split file (%d of 20 differ)", differs);
    CHECK(!same_file(d1, d3, "prompts.txt"), "seed 2 changes the prompts");

    /* manifest */
    CHECK(!strcmp(cJSON_GetObjectItem(m, "format")->valuestring, "alim-behaviour-data/1"), "format");
    const cJSON *bs = cJSON_GetObjectItem(m, "behaviours"), *clf = cJSON_GetObjectItem(m, "classifier");
    const cJSON *roles = cJSON_GetObjectItem(m, "roles");
    CHECK(cJSON_GetArraySize(bs) == 4, "4 behaviours");
    CHECK(!strcmp(cJSON_GetObjectItem(roles, "positive")->valuestring, "c2") &&
              !strcmp(cJSON_GetObjectItem(roles, "negative")->valuestring, "c3") &&
              !strcmp(cJSON_GetObjectItem(roles, "control-negative")->valuestring, "c4") &&
              !strcmp(cJSON_GetObjectItem(roles, "neutral")->valuestring, "c1"),
          "roles");
    const cJSON *prom = cJSON_GetObjectItem(m, "prompts");
    const cJSON *train_t = cJSON_GetObjectItem(prom, "training_topics"), *held_t = cJSON_GetObjectItem(prom, "heldout_topics");
    CHECK(cJSON_GetArraySize(train_t) == 72 && cJSON_GetArraySize(held_t) == 24, "72 training and 24 held-out topics");

    /* every document of every split of every behaviour, to check disjointness */
    alim_corpus all[4 * 5];
    memset(all, 0, sizeof all);
    int bad = 0;
    size_t pool_n[4] = {0};
    for (int i = 1; i <= 4; i++) {
        const cJSON *b = cJSON_GetArrayItem(bs, i - 1);
        char **pp;
        snprintf(name, sizeof name, "pool_c%d.jsonl", i);
        size_t np = read_jsonl(d1, name, &pp, &all[(i - 1) * 5 + 0], &bad);
        pool_n[i - 1] = np;
        int heldout_in_pool = 0, train_in_test = 0;
        for (size_t k = 0; k < np; k++) heldout_in_pool += !prompt_topic_in(pp[k], train_t);
        free_prompts(pp, np);
        CHECK(heldout_in_pool == 0, "c%d: %d pool prompts with a held-out topic", i, heldout_in_pool);
        snprintf(name, sizeof name, "test_c%d.jsonl", i);
        alim_corpus test_resp;
        memset(&test_resp, 0, sizeof test_resp);
        size_t nt = read_jsonl(d1, name, &pp, &test_resp, &bad);
        for (size_t k = 0; k < nt; k++) train_in_test += !prompt_topic_in(pp[k], held_t);
        free_prompts(pp, nt);
        CHECK(train_in_test == 0, "c%d: %d test prompts without a held-out topic", i, train_in_test);
        CHECK(np == 400 && nt == 128, "c%d: pool %zu (400), test %zu (128) records", i, np, nt);
        CHECK(cJSON_GetObjectItem(b, "pool_docs")->valuedouble == (double)np &&
                  cJSON_GetObjectItem(b, "test_docs")->valuedouble == (double)nt,
              "c%d: manifest sizes = files", i);
        static const char *txt[] = {"test_c%d.txt", "classifier_c%d.txt", "classifier_eval_c%d.txt"};
        for (int f = 0; f < 3; f++) {
            char p[4300];
            snprintf(name, sizeof name, txt[f], i);
            snprintf(p, sizeof p, "%s/%s", d1, name);
            alim_error e;
            if (alim_corpus_read(&all[(i - 1) * 5 + 1 + f], p, &e)) bad = 1;
        }
        /* the text test set holds the test records' responses, in order */
        const alim_corpus *tt = &all[(i - 1) * 5 + 1];
        int same_resp = tt->n_docs == test_resp.n_docs;
        for (size_t d = 0; same_resp && d < tt->n_docs; d++) {
            size_t l1, l2;
            const uint8_t *a = alim_corpus_doc(tt, d, &l1), *c = alim_corpus_doc(&test_resp, d, &l2);
            same_resp = l1 == l2 && !memcmp(a, c, l1);
        }
        CHECK(same_resp, "c%d: test_c%d.txt = the responses of test_c%d.jsonl", i, i, i);
        alim_corpus_free(&test_resp);
        CHECK(all[(i - 1) * 5 + 2].n_docs == 1000 && all[(i - 1) * 5 + 3].n_docs == 300,
              "c%d: classifier 1000 and eval 300 windows", i);
        /* responses: printable ASCII, single spaces, whole-word windows of 128..256 bytes */
        int form = 1;
        for (int f = 0; f < 4; f++) {
            const alim_corpus *c = &all[(i - 1) * 5 + f];
            for (size_t d = 0; d < c->n_docs; d++) {
                size_t l;
                const char *p = (const char *)alim_corpus_doc(c, d, &l);
                form &= l >= 128 && l <= 256 && alim_behaviour_printable(p, l) && p[0] != ' ' && p[l - 1] != ' ' &&
                        !memmem(p, l, "  ", 2);
            }
        }
        CHECK(form, "c%d: every response is 128..256 bytes of printable ASCII, single-spaced", i);
    }
    CHECK(!bad, "every JSONL line is {prompt, response} strings and every text file reads");
    /* disjoint: no document in two places (within or across behaviours) */
    alim_corpus copy[4 * 5];
    memset(copy, 0, sizeof copy);
    size_t removed[4 * 5] = {0}, total_removed = 0;
    for (int f = 0; f < 20; f++)
        for (size_t d = 0; d < all[f].n_docs; d++) {
            size_t l;
            const uint8_t *p = alim_corpus_doc(&all[f], d, &l);
            alim_corpus_add(&copy[f], p, l, &err);
        }
    alim_corpus_dedup(copy, 20, removed, &err);
    for (int f = 0; f < 20; f++) total_removed += removed[f];
    CHECK(total_removed == 0, "pools, tests, classifier and eval splits share no document (%zu shared)", total_removed);
    /* c4 deciphered is Jargon File text: the classifier calls it jargon */
    const cJSON *key = cJSON_GetObjectItem(cJSON_GetObjectItem(m, "cipher"), "key");
    char inv[26];
    for (int i = 0; i < 26; i++) inv[key->valuestring[i] - 'a'] = (char)('a' + i);
    alim_nb nb;
    char p[4300];
    snprintf(p, sizeof p, "%s/classifier.nb", d1);
    st = alim_nb_load(&nb, p, &err);
    CHECK(st == ALIM_OK, "classifier loads");
    if (!st) {
        const alim_corpus *ev[4] = {&all[3], &all[8], &all[13], &all[18]};
        double per_class[4];
        double acc = alim_nb_accuracy(&nb, ev, per_class);
        CHECK_ABS(acc, cJSON_GetObjectItem(clf, "accuracy")->valuedouble, 1e-12, "accuracy recomputed from the eval files");
        /* thresholds: the spec's >= 0.95 overall (section 4.3); >= 0.93 for the classes the
         * score counts (c2 positive, c3/c4 negative), >= 0.85 for the neutral c1. Seeds 1-3
         * measured 0.9575-0.9767 overall, c1 0.870-0.947, c2 0.997-1, c3 0.957-0.963, c4
         * 0.997-1 (fortunes and jargon are the pair confused: both modern English) */
        CHECK(acc >= 0.95, "accuracy %.4f >= 0.95", acc);
        CHECK(per_class[0] >= 0.85, "neutral accuracy %.4f >= 0.85", per_class[0]);
        for (int i = 1; i < 4; i++) CHECK(per_class[i] >= 0.93, "class %d accuracy %.4f >= 0.93", i + 1, per_class[i]);
        size_t as_jargon = 0;
        double post[8];
        for (size_t d = 0; d < all[18].n_docs; d++) {
            size_t l;
            const char *q = (const char *)alim_corpus_doc(&all[18], d, &l);
            char *dec = malloc(l);
            memcpy(dec, q, l);
            alim_behaviour_encipher(inv, dec, l);
            as_jargon += alim_nb_classify(&nb, dec, l, post) == 2;
            free(dec);
        }
        CHECK(as_jargon * 10 >= all[18].n_docs * 9, "deciphered c4 reads as jargon (%zu of %zu)", as_jargon, all[18].n_docs);
        alim_nb_free(&nb);
    }
    /* prompts.txt: 128 lines, held-out topics only */
    size_t pl;
    char *pt = slurp(d1, "prompts.txt", &pl);
    size_t lines = 0, outside = 0;
    if (pt)
        for (char *line = strtok(pt, "\n"); line; line = strtok(NULL, "\n")) lines++, outside += !prompt_topic_in(line, held_t);
    free(pt);
    CHECK(lines == 128 && outside == 0, "prompts.txt: %zu lines (128), %zu outside the held-out topics", lines, outside);
    for (int f = 0; f < 20; f++) alim_corpus_free(&all[f]), alim_corpus_free(&copy[f]);
    (void)pool_n;

    /* the pool of a smaller --pool-docs is a prefix of the larger one (nested prefixes) */
    char d4[256];
    snprintf(d4, sizeof d4, "%s/alim_test_beh_d_%ld", parent, (long)getpid());
    rm_rf(d4);
    o.pool_docs = 200;
    CHECK(alim_behaviours_build(&o, d4, NULL, &err) == ALIM_OK, "build with pool 200");
    size_t l4, l1;
    char *a4 = slurp(d4, "test_c2.jsonl", &l4), *a1 = slurp(d1, "test_c2.jsonl", &l1);
    CHECK(a4 && a1 && l4 == l1 && !memcmp(a4, a1, l1), "the test set does not depend on --pool-docs");
    free(a4), free(a1);
    rm_rf(d4);

    /* errors: nothing written, one message naming the option or package */
    mkdir(d4, 0755);
    FILE *f = fopen("/tmp/alim_test_beh_block", "w");
    if (f) fclose(f);
    snprintf(p, sizeof p, "%s/x", d4);
    f = fopen(p, "w");
    if (f) fclose(f);
    o.pool_docs = 400;
    st = alim_behaviours_build(&o, d4, NULL, &err);
    CHECK(st == ALIM_EINVAL, "non-empty OUT refused (%d)", st);
    CHECK(exists(p), "non-empty OUT left as it was");
    rm_rf(d4);
    alim_behaviour_options b2 = o;
    b2.window = 32;
    CHECK(alim_behaviours_build(&b2, d4, NULL, &err) == ALIM_EINVAL && !strcmp(err.where, "window"), "window 32: %s",
          err.where);
    b2 = o;
    b2.classifier_alpha = 0;
    CHECK(alim_behaviours_build(&b2, d4, NULL, &err) == ALIM_EINVAL && !strcmp(err.where, "classifier_alpha"), "alpha 0");
    b2 = o;
    b2.classifier_order = 9;
    CHECK(alim_behaviours_build(&b2, d4, NULL, &err) == ALIM_EINVAL && !strcmp(err.where, "classifier_order"), "order 9");
    b2 = o;
    b2.test_docs = 0;
    CHECK(alim_behaviours_build(&b2, d4, NULL, &err) == ALIM_EINVAL && !strcmp(err.where, "test_docs"), "test 0");
    b2 = o;
    b2.jargon = "/nonexistent/jargon.txt.gz";
    CHECK(alim_behaviours_build(&b2, d4, NULL, &err) == ALIM_EINVAL && strstr(err.what, "jargon-text"),
          "missing jargon names the package: %s", err.what);
    b2 = o;
    b2.bible = "/tmp/alim_test_beh_block"; /* empty: not a data file */
    CHECK(alim_behaviours_build(&b2, d4, NULL, &err) == ALIM_EFORMAT, "an empty bible data file is EFORMAT: %s", err.what);
    b2 = o;
    b2.classifier_docs = 3000; /* more than the Jargon File halves hold */
    st = alim_behaviours_build(&b2, d4, NULL, &err);
    CHECK(st == ALIM_EINVAL && strstr(err.what, "jargon (c3)"), "too little text names the behaviour: %s: %s", err.where,
          err.what);
    CHECK(!exists(d4) && temporaries_left(parent, strrchr(d4, '/') + 1) == 0, "failed builds leave nothing behind");
    unlink("/tmp/alim_test_beh_block");
    cJSON_Delete(m);
    rm_rf(d1), rm_rf(d2), rm_rf(d3);
}

/* the optional fifth class from a JSONL file of replies */
static void test_extra_class(void)
{
    char dir[256], file[256], bad[256];
    snprintf(dir, sizeof dir, "/tmp/alim_test_beh_x_%ld", (long)getpid());
    snprintf(file, sizeof file, "/tmp/alim_test_beh_x_%ld.jsonl", (long)getpid());
    snprintf(bad, sizeof bad, "/tmp/alim_test_beh_xbad_%ld.jsonl", (long)getpid());
    rm_rf(dir);
    static const char *words[] = {"system", "user", "helpful", "model", "answer", "data", "great", "question",
                                  "certainly", "here", "is", "a", "summary", "of", "the", "topic", "overall", "key"};
    FILE *f = fopen(file, "w");
    if (!f) return;
    alim_rng r;
    alim_rng_seed(&r, 7, 0);
    for (int i = 0; i < 520; i++) {
        fputs("{\"prompt\": \"p\", \"response\": \"", f);
        int n = 12 + (int)alim_rng_below(&r, 20);
        for (int k = 0; k < n; k++) fprintf(f, "%s%s", k ? " " : "", words[alim_rng_below(&r, 18)]);
        fputs(i % 50 == 0 ? " \u201cquoted\u201d\\n\"}\n" : ".\"}\n", f);
    }
    fputs("{\"response\": \"short\"}\n\n", f); /* under 16 bytes: skipped */
    fclose(f);
    alim_behaviour_options o;
    alim_behaviour_options_default(&o);
    o.pool_docs = 200;
    o.extra_name = "theta0";
    o.extra_file = file;
    alim_error err;
    cJSON *m = NULL;
    alim_status st = alim_behaviours_build(&o, dir, &m, &err);
    CHECK(st == ALIM_OK, "build with a fifth class: %s: %s", err.where, err.what);
    if (!st) {
        const cJSON *c = cJSON_GetObjectItem(m, "classifier"), *x = cJSON_GetObjectItem(c, "extra_class");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(c, "classes")) == 5 &&
                  !strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "classes"), 4)->valuestring, "theta0"),
              "five classes, the fifth named theta0");
        CHECK(x && cJSON_GetObjectItem(x, "usable_replies")->valuedouble == 520 &&
                  cJSON_GetObjectItem(x, "eval_docs")->valuedouble == 300 &&
                  cJSON_GetObjectItem(x, "train_docs")->valuedouble == 220,
              "520 usable replies: 300 eval, 220 train");
        const cJSON *per = cJSON_GetObjectItem(c, "accuracy_per_class");
        CHECK(cJSON_GetArraySize(per) == 5 && cJSON_GetArrayItem(per, 4)->valuedouble >= 0.95, "the fifth class is recognised");
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(c, "confusion")) == 5, "5x5 confusion");
        char p[4300];
        snprintf(p, sizeof p, "%s/classifier_eval_c5.txt", dir);
        alim_corpus ev;
        CHECK(alim_corpus_read(&ev, p, &err) == ALIM_OK && ev.n_docs == 300, "classifier_eval_c5.txt: 300 replies");
        int folded = 1;
        for (size_t d = 0; d < ev.n_docs; d++) {
            size_t l;
            const char *q = (const char *)alim_corpus_doc(&ev, d, &l);
            folded &= alim_behaviour_printable(q, l) && q[l - 1] != ' ';
        }
        CHECK(folded, "replies folded to printable ASCII, squeezed");
        alim_corpus_free(&ev);
        alim_nb nb;
        snprintf(p, sizeof p, "%s/classifier.nb", dir);
        CHECK(alim_nb_load(&nb, p, &err) == ALIM_OK && nb.n_classes == 5, "classifier.nb has 5 classes");
        alim_nb_free(&nb);
        /* the behaviours' files are those of the four-class build */
        char d4[256];
        snprintf(d4, sizeof d4, "/tmp/alim_test_beh_y_%ld", (long)getpid());
        rm_rf(d4);
        alim_behaviour_options o4 = o;
        o4.extra_name = o4.extra_file = NULL;
        CHECK(alim_behaviours_build(&o4, d4, NULL, &err) == ALIM_OK && same_file(dir, d4, "pool_c3.jsonl") &&
                  same_file(dir, d4, "test_c2.jsonl") && same_file(dir, d4, "prompts.txt"),
              "the fifth class changes no behaviour file");
        rm_rf(d4);
    }
    cJSON_Delete(m);
    rm_rf(dir);
    alim_behaviour_options b = o;
    b.extra_file = NULL;
    CHECK(alim_behaviours_build(&b, dir, NULL, &err) == ALIM_EINVAL && !strcmp(err.where, "extra_name"), "name without file");
    b = o;
    b.extra_name = "jargon";
    CHECK(alim_behaviours_build(&b, dir, NULL, &err) == ALIM_EINVAL && strstr(err.what, "already a class"), "a taken name");
    b = o;
    b.classifier_eval_docs = 450;
    CHECK(alim_behaviours_build(&b, dir, NULL, &err) == ALIM_EINVAL && !strcmp(err.where, file), "too few replies: %s",
          err.what);
    f = fopen(bad, "w");
    if (f) {
        fputs("{\"response\": \"fine and long enough here\"}\n[1, 2]\n", f);
        fclose(f);
    }
    b = o;
    b.extra_file = bad;
    char want[300];
    snprintf(want, sizeof want, "%s:2", bad);
    CHECK(alim_behaviours_build(&b, dir, NULL, &err) == ALIM_EFORMAT && !strcmp(err.where, want), "malformed line: %s",
          err.where);
    b.extra_file = "/nonexistent/own.jsonl";
    CHECK(alim_behaviours_build(&b, dir, NULL, &err) == ALIM_EINVAL && strstr(err.what, "cannot open"), "a missing file: %s", err.what);
    CHECK(!exists(dir), "failed builds leave nothing");
    unlink(file);
    unlink(bad);
}

int main(int argc, char **argv)
{
    (void)argc;
    test_text();
    if (access("/usr/lib/bible.data", R_OK) || access("/usr/share/doc/jargon-text/jargon.txt.gz", R_OK) ||
        access("/usr/share/games/fortunes", R_OK))
        printf("note: Debian packages fortunes/bible-kjv/jargon-text missing: builds not tested\n");
    else {
        test_build();
        test_extra_class();
    }
    return check_summary(argv[0]);
}
