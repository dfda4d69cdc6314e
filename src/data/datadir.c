/* datadir.c — data directories of the elasticity lab: synthetic, natural, text
 * (see alim/datadir.h; the CLI front end is `alim data`, cli/cmd_data.c). */
#define _POSIX_C_SOURCE 200809L
#include "alim/datadir.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "alim/classifier.h"
#include "alim/corpus.h"
#include "alim/info.h"
#include "alim/io.h"
#include "alim/source.h"
#include "bible.h"
#include "textsrc.h"

void alim_datadir_options_default(alim_datadir_options *o)
{
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->pool_docs = 4096;
    o->test_docs = 256;
    o->window = 128;
    o->doc_len = 128;
    o->symbols = 64;
    o->classifier_order = 5;
    o->classifier_alpha = 0.1;
    o->fortunes_dir = "/usr/share/games/fortunes";
    o->bible = "/usr/lib/bible.data";
    o->jargon = "/usr/share/doc/jargon-text/jargon.txt.gz";
}

/* ---- JSON helpers (non-finite numbers as alim/io.h's convention says) -------------------- */

static cJSON *json_number(double v) { return alim_json_create_number(v); }

static void add_number(cJSON *obj, const char *key, double v)
{
    cJSON *n = json_number(v);
    if (n) cJSON_AddItemToObject(obj, key, n);
}

static void add_array(cJSON *obj, const char *key, const double *v, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(obj, key);
    if (!a) return;
    for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(a, json_number(v[i]));
}

/* ---- shared parts ------------------------------------------------------------------------ */

static alim_status check_common(const alim_datadir_options *o, alim_error *err)
{
    if (o->window == 0) return alim_error_set(err, ALIM_EINVAL, "window", "must be at least 1");
    if (o->test_docs == 0) return alim_error_set(err, ALIM_EINVAL, "test_docs", "must be at least 1");
    return ALIM_OK;
}

static alim_status check_shares(const double *q, size_t n, size_t want, alim_error *err)
{
    if (n != want) return alim_error_set(err, ALIM_EINVAL, "shares", "need %zu shares, got %zu", want, n);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(q[i] >= 0) || !isfinite(q[i]))
            return alim_error_set(err, ALIM_EINVAL, "shares", "share %zu is not a number >= 0", i + 1);
        s += q[i];
    }
    if (fabs(s - 1) > 1e-6) return alim_error_set(err, ALIM_EINVAL, "shares", "shares sum to %g, not 1", s);
    return ALIM_OK;
}

static cJSON *manifest_base(const char *source, const alim_datadir_options *o, const alim_splits *sp,
                            const alim_split_config *cfg)
{
    cJSON *m = cJSON_CreateObject();
    if (!m) return NULL;
    cJSON_AddStringToObject(m, "format", "alim-elastic-data/1");
    cJSON_AddStringToObject(m, "source", source);
    add_number(m, "seed", (double)o->seed);
    cJSON_AddStringToObject(m, "delimiter", ALIM_CORPUS_DELIM);
    add_number(m, "n_components", (double)sp->n_components);
    add_array(m, "shares", cfg->shares, sp->n_components);
    cJSON *f = cJSON_AddObjectToObject(m, "files");
    cJSON_AddStringToObject(f, "pretrain", "pretrain.txt");
    cJSON_AddStringToObject(f, "pretrain_components", "pretrain_components.txt");
    cJSON_AddStringToObject(f, "test_mix", "test_mix.txt");
    cJSON_AddStringToObject(f, "test_mix_components", "test_mix_components.txt");
    if (!strcmp(source, "synthetic")) cJSON_AddStringToObject(f, "chains", "chains.json");
    cJSON *s = cJSON_AddObjectToObject(m, "sizes");
    add_number(s, "pretrain_docs", (double)sp->pretrain.n_docs);
    add_number(s, "pretrain_tokens", (double)alim_corpus_bytes(&sp->pretrain));
    add_number(s, "test_mix_docs", (double)sp->test_mix.n_docs);
    cJSON *comps = cJSON_AddArrayToObject(m, "components");
    for (size_t i = 0; i < sp->n_components; i++) {
        cJSON *c = cJSON_CreateObject();
        char buf[64];
        snprintf(buf, sizeof buf, "c%zu", i + 1);
        cJSON_AddStringToObject(c, "name", buf);
        add_number(c, "share", cfg->shares[i]);
        size_t np = 0;
        for (size_t d = 0; d < sp->pretrain.n_docs; d++) np += sp->pretrain_comp[d] == i;
        add_number(c, "pretrain_docs", (double)np);
        add_number(c, "pool_docs", (double)sp->pool[i].n_docs);
        add_number(c, "test_docs", (double)sp->test[i].n_docs);
        add_number(c, "classifier_docs", (double)sp->classifier[i].n_docs);
        snprintf(buf, sizeof buf, "pool_c%zu.txt", i + 1);
        cJSON_AddStringToObject(c, "pool_file", buf);
        snprintf(buf, sizeof buf, "test_c%zu.txt", i + 1);
        cJSON_AddStringToObject(c, "test_file", buf);
        if (sp->classifier[i].n_docs) {
            snprintf(buf, sizeof buf, "classifier_c%zu.txt", i + 1);
            cJSON_AddStringToObject(c, "classifier_file", buf);
        }
        if (sp->available[i] != SIZE_MAX) add_number(c, "available_windows", (double)sp->available[i]);
        cJSON_AddItemToArray(comps, c);
    }
    return m;
}

/* Writes the manifest and commits the directory (aborts it on failure); takes m. */
static alim_status finish(alim_outdir *od, cJSON *m, cJSON **manifest, alim_error *err)
{
    char *txt = m ? alim_json_print(m, 1) : NULL;
    alim_status st = txt ? ALIM_OK : alim_error_set(err, ALIM_ENOMEM, "manifest", "out of memory");
    if (!st) {
        size_t n = strlen(txt);
        txt[n] = '\n'; /* over the terminating NUL: written with its length, restored below */
        st = alim_file_write_atomic(alim_outdir_file(od, "manifest.json"), txt, n + 1, err);
        txt[n] = '\0';
    }
    if (!st) st = alim_outdir_commit(od, err);
    else alim_outdir_abort(od);
    free(txt);
    if (st || !manifest) cJSON_Delete(m);
    else *manifest = m;
    return st;
}

/* ---- synthetic ------------------------------------------------------------------------ */

/* the true chains, for exact labels and independent checks */
static alim_status write_chains(const alim_source *s, const char *path, alim_error *err)
{
    size_t n = s->cfg.n_symbols;
    cJSON *o = cJSON_CreateObject();
    if (!o) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    add_number(o, "symbols", (double)n);
    add_number(o, "doc_len", (double)s->cfg.doc_len);
    cJSON *arr = cJSON_AddArrayToObject(o, "components");
    for (size_t i = 0; i < s->cfg.n_components; i++) {
        cJSON *c = cJSON_CreateObject();
        add_array(c, "init", s->comp[i].init, n);
        cJSON *P = cJSON_AddArrayToObject(c, "P");
        for (size_t r = 0; r < n; r++) {
            cJSON *row = cJSON_CreateArray();
            for (size_t j = 0; j < n; j++) cJSON_AddItemToArray(row, cJSON_CreateNumber(s->comp[i].P[r * n + j]));
            cJSON_AddItemToArray(P, row);
        }
        cJSON_AddItemToArray(arr, c);
    }
    char *txt = alim_json_print(o, 0);
    cJSON_Delete(o);
    if (!txt) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    alim_status st = alim_file_write_atomic(path, txt, strlen(txt), err);
    free(txt);
    return st;
}

alim_status alim_datadir_synthetic(const alim_datadir_options *o, const char *out_dir, cJSON **manifest,
                                   alim_error *err)
{
    if (manifest) *manifest = NULL;
    alim_status st = check_common(o, err);
    if (st) return st;
    alim_source_config scfg;
    alim_source_config_default(&scfg);
    scfg.seed = o->seed;
    scfg.doc_len = o->doc_len;
    scfg.n_symbols = o->symbols;
    alim_split_config cfg;
    alim_split_config_default(&cfg);
    cfg.seed = o->seed;
    if (o->shares) {
        if ((st = check_shares(o->shares, o->n_shares, 3, err))) return st;
        memcpy(cfg.shares, o->shares, 3 * sizeof(double));
    }
    if (o->doc_len == 0) return alim_error_set(err, ALIM_EINVAL, "doc_len", "must be at least 1");
    uint64_t tokens = o->have_pretrain ? o->pretrain_size : 2000000;
    cfg.pretrain_docs = (size_t)((tokens + o->doc_len - 1) / o->doc_len);
    if (cfg.pretrain_docs == 0)
        return alim_error_set(err, ALIM_EINVAL, "pretrain_size", "must be at least one document");
    if (tokens > (1ULL << 32) || (uint64_t)o->pool_docs * o->doc_len > (1ULL << 32) ||
        (uint64_t)o->test_docs * o->doc_len > (1ULL << 32))
        return alim_error_set(err, ALIM_EINVAL, "pretrain_size", "at most 2^32 tokens per split");
    cfg.pool_docs = o->pool_docs;
    cfg.test_docs = o->test_docs;
    cfg.classifier_docs = o->classifier_docs;
    alim_source src;
    if ((st = alim_source_build(&src, &scfg, err))) return st;
    alim_source_entropy ent;
    double lo, ex, up;
    alim_outdir od;
    alim_splits sp;
    memset(&sp, 0, sizeof sp);
    st = alim_source_entropies(&src, &ent, err);
    if (!st) st = alim_source_mixture_doc_entropy(&src, cfg.shares, &lo, &ex, &up, err);
    if (!st) st = alim_outdir_begin(&od, out_dir, err);
    if (st) {
        alim_source_free(&src);
        return st;
    }
    st = alim_source_make_splits(&src, &cfg, &sp, err);
    if (!st) st = alim_splits_write(&sp, &od, err);
    if (!st) st = write_chains(&src, alim_outdir_file(&od, "chains.json"), err);
    cJSON *m = st ? NULL : manifest_base("synthetic", o, &sp, &cfg);
    if (!st && !m) st = alim_error_set(err, ALIM_ENOMEM, "manifest", "out of memory");
    if (st) {
        alim_outdir_abort(&od);
        alim_source_free(&src);
        alim_splits_free(&sp);
        return st;
    }
    cJSON_AddStringToObject(m, "tokenization",
                            "symbol s is the byte '0'+s (ASCII 48..48+symbols-1); one document = doc_len symbols after BOS");
    add_number(m, "doc_len", (double)scfg.doc_len);
    cJSON *sc = cJSON_AddObjectToObject(m, "synthetic");
    add_number(sc, "symbols", (double)scfg.n_symbols);
    add_number(sc, "decision_rows", (double)scfg.n_decision);
    add_number(sc, "branching", (double)scfg.branching);
    add_number(sc, "zipf_exponent", scfg.zipf_s);
    cJSON_AddStringToObject(sc, "bos_row", "uniform over the symbols, shared by all components");
    add_number(sc, "stationary_residual", ent.stationary_residual);
    static const char *labels[] = {"neutral", "positive (aligned)", "negative (perturbation)"};
    cJSON *comps = cJSON_GetObjectItem(m, "components");
    for (size_t i = 0; i < 3; i++) {
        cJSON *c = cJSON_GetArrayItem(comps, (int)i);
        cJSON_AddStringToObject(c, "label", labels[i]);
        add_number(c, "entropy_rate_bits", alim_bits(ent.rate_nats[i]));
        add_number(c, "doc_entropy_bits", alim_bits(ent.doc_nats[i]));
        add_number(c, "doc_entropy_bits_per_token", alim_bits(ent.doc_nats[i]) / (double)scfg.doc_len);
    }
    cJSON *mx = cJSON_AddObjectToObject(m, "mixture");
    double rate = 0;
    for (size_t i = 0; i < 3; i++) rate += cfg.shares[i] * ent.rate_nats[i];
    add_number(mx, "entropy_rate_bits", alim_bits(rate));
    add_number(mx, "doc_entropy_bits_lower", alim_bits(lo));
    add_number(mx, "doc_entropy_bits", alim_bits(ex));
    add_number(mx, "doc_entropy_bits_upper", alim_bits(up));
    add_number(mx, "doc_entropy_bits_per_token", alim_bits(ex) / (double)scfg.doc_len);
    cJSON_AddStringToObject(mx, "method",
                            "H(X) = sum q_i H_i(X) + H(q) * P(no transition out of a decision row in X_1..X_{len-1}); "
                            "exact because decision rows have pairwise disjoint supports and all other rows are shared");
    alim_source_free(&src);
    alim_splits_free(&sp);
    return finish(&od, m, manifest, err);
}

/* ---- natural and text ------------------------------------------------------------------ */

/* A file as zcat -f reads it: gzip-compressed (one or more members) or plain, through zlib
 * (gzread passes a file without the gzip magic through unchanged). The text is malloc'd and
 * NUL-terminated. */
alim_status data_read_gz(const char *path, char **text, size_t *len, alim_error *err)
{
    *text = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) return alim_error_set(err, ALIM_EIO, path, "cannot open");
    size_t cap = 1 << 20, n = 0;
    char *b = malloc(cap);
    alim_status st = b ? ALIM_OK : alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    while (!st) {
        if (cap - n < 65536 + 1) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) {
                st = alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
                break;
            }
            b = nb;
        }
        const int got = gzread(f, b + n, 65536);
        if (got < 0) {
            int zerr;
            const char *msg = gzerror(f, &zerr);
            st = alim_error_set(err, ALIM_EFORMAT, path, "cannot decompress: %s", zerr == Z_ERRNO ? "read error" : msg);
        } else if (got == 0) {
            break;
        } else {
            n += (size_t)got;
        }
    }
    /* gzclose reports what gzread could not yet (a truncated last member) */
    const int zc = gzclose(f);
    if (!st && zc != Z_OK) st = alim_error_set(err, ALIM_EFORMAT, path, "cannot decompress: damaged or truncated gzip data");
    if (st) {
        free(b);
        return st;
    }
    b[n] = '\0';
    *text = b;
    *len = n;
    return ALIM_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

/* Grows *b (capacity *cap) to hold at least need bytes; -1 when out of memory. */
static int reserve(char **b, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t nc = *cap;
    while (nc < need) nc *= 2;
    char *nb = realloc(*b, nc);
    if (!nb) return -1;
    *b = nb;
    *cap = nc;
    return 0;
}

/* All fortune files of dir (sorted; not .dat, not .u8, regular files) concatenated, each
 * closed by a "%" line. -1: no directory or no files; -2: out of memory. */
int data_read_fortunes(const char *dir, char **text, size_t *len, size_t *n_files)
{
    *text = NULL;
    DIR *d = opendir(dir);
    if (!d) return -1;
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || ends_with(e->d_name, ".dat") || ends_with(e->d_name, ".u8")) continue;
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) || !S_ISREG(sb.st_mode)) continue;
        char **nn = realloc(names, (n + 1) * sizeof *names);
        char *dup = nn ? strdup(p) : NULL;
        if (nn) names = nn;
        if (!dup) {
            rc = -2;
            break;
        }
        names[n++] = dup;
    }
    closedir(d);
    if (names) qsort(names, n, sizeof *names, cmp_str);
    size_t cap = 1 << 20, k = 0;
    char *b = rc ? NULL : malloc(cap);
    if (!b) rc = -2;
    for (size_t i = 0; i < n; i++) {
        char *buf;
        size_t l;
        alim_error ferr;
        if (!rc && alim_file_read_all(names[i], &buf, &l, &ferr) == ALIM_OK) {
            if (reserve(&b, &cap, k + l + 4)) rc = -2;
            else {
                memcpy(b + k, buf, l);
                k += l;
                if (l && buf[l - 1] != '\n') b[k++] = '\n';
                b[k++] = '%', b[k++] = '\n';
            }
            free(buf);
        }
        free(names[i]);
    }
    free(names);
    if (rc) {
        free(b);
        return rc;
    }
    b[k] = '\0';
    *text = b;
    *len = k;
    *n_files = n;
    return n ? 0 : -1;
}

static alim_status build_from_windows(const char *source, const alim_datadir_options *o, const char *out_dir,
                                      alim_corpus *win, size_t K, const char *const *names,
                                      const char *const *origins, size_t default_clf, cJSON **manifest,
                                      alim_error *err)
{
    alim_split_config cfg;
    alim_split_config_default(&cfg);
    cfg.n_components = K;
    cfg.seed = o->seed;
    alim_status st;
    if (o->shares) {
        if ((st = check_shares(o->shares, o->n_shares, K, err))) return st;
        memcpy(cfg.shares, o->shares, K * sizeof(double));
    } else if (strcmp(source, "natural")) {
        for (size_t i = 0; i < K; i++) cfg.shares[i] = 1.0 / (double)K;
    }
    if (o->have_pretrain) cfg.pretrain_docs = (size_t)((o->pretrain_size + o->window - 1) / o->window);
    else if (!strcmp(source, "natural")) cfg.pretrain_docs = (size_t)((2000000 + o->window - 1) / o->window);
    else cfg.pretrain_docs = SIZE_MAX;
    cfg.pool_docs = o->pool_docs;
    cfg.test_docs = o->test_docs;
    cfg.classifier_docs = o->have_classifier_docs ? o->classifier_docs : default_clf;
    size_t dups[ALIM_CORPUS_MAX_COMPONENTS] = {0};
    if ((st = alim_corpus_dedup(win, K, dups, err))) return st;
    const alim_corpus *wp[ALIM_CORPUS_MAX_COMPONENTS];
    for (size_t i = 0; i < K; i++) wp[i] = &win[i];
    alim_splits sp;
    if ((st = alim_splits_from_windows(&sp, wp, &cfg, err))) return st;
    alim_outdir od;
    if ((st = alim_outdir_begin(&od, out_dir, err))) {
        alim_splits_free(&sp);
        return st;
    }
    st = alim_splits_write(&sp, &od, err);
    /* the behaviour classifier */
    alim_nb nb;
    memset(&nb, 0, sizeof nb);
    double acc = NAN, per[ALIM_CORPUS_MAX_COMPONENTS];
    const int have_clf = cfg.classifier_docs > 0 && K >= 2;
    if (!st && have_clf) {
        st = alim_nb_init(&nb, K, o->classifier_order, o->classifier_alpha, err);
        for (size_t i = 0; i < K && !st; i++) {
            snprintf(nb.names[i], ALIM_NB_NAME_MAX, "%s", names[i]);
            st = alim_nb_add_corpus(&nb, i, &sp.classifier[i], err);
        }
        if (!st) {
            const alim_corpus *tp[ALIM_CORPUS_MAX_COMPONENTS];
            for (size_t i = 0; i < K; i++) tp[i] = &sp.test[i];
            acc = alim_nb_accuracy(&nb, tp, per);
            st = alim_nb_save(&nb, alim_outdir_file(&od, "classifier.nb"), err);
        }
    }
    cJSON *m = st ? NULL : manifest_base(source, o, &sp, &cfg);
    if (!st && !m) st = alim_error_set(err, ALIM_ENOMEM, "manifest", "out of memory");
    if (st) {
        alim_nb_free(&nb);
        alim_outdir_abort(&od);
        alim_splits_free(&sp);
        return st;
    }
    add_number(m, "window", (double)o->window);
    cJSON_AddStringToObject(m, "tokenization", "bytes (each document is one window of raw text)");
    cJSON *comps = cJSON_GetObjectItem(m, "components");
    for (size_t i = 0; i < K; i++) {
        cJSON *c = cJSON_GetArrayItem(comps, (int)i);
        cJSON_AddStringToObject(c, "label", names[i]);
        cJSON_AddStringToObject(c, "origin", origins[i]);
        add_number(c, "duplicate_windows_removed", (double)dups[i]);
    }
    if (have_clf) {
        cJSON *c = cJSON_AddObjectToObject(m, "classifier");
        cJSON_AddStringToObject(c, "file", "classifier.nb");
        cJSON_AddStringToObject(c, "kind", "character n-gram multinomial naive Bayes, add-alpha smoothing, uniform prior");
        add_number(c, "order", (double)o->classifier_order);
        add_number(c, "alpha", o->classifier_alpha);
        add_number(c, "train_docs_per_class", (double)cfg.classifier_docs);
        add_number(c, "accuracy", acc);
        add_array(c, "accuracy_per_class", per, K);
    }
    alim_nb_free(&nb);
    alim_splits_free(&sp);
    return finish(&od, m, manifest, err);
}

alim_status alim_datadir_natural(const alim_datadir_options *o, const char *out_dir, cJSON **manifest,
                                 alim_error *err)
{
    if (manifest) *manifest = NULL;
    alim_status st = check_common(o, err);
    if (st) return st;
    struct stat sb;
    if (stat(o->fortunes_dir, &sb) || !S_ISDIR(sb.st_mode))
        return alim_error_set(err, ALIM_EINVAL, "natural",
                              "%s not found: the Debian package 'fortunes' is missing (apt-get install fortunes)",
                              o->fortunes_dir);
    if (access(o->bible, R_OK))
        return alim_error_set(err, ALIM_EINVAL, "natural",
                              "%s not found: the Debian package 'bible-kjv-text' is missing (apt-get install bible-kjv)",
                              o->bible);
    if (access(o->jargon, R_OK))
        return alim_error_set(err, ALIM_EINVAL, "natural",
                              "%s not found: the Debian package 'jargon-text' is missing (apt-get install jargon-text)",
                              o->jargon);
    char *raw = NULL, *txt[3] = {0};
    size_t rawlen, len[3], nfiles = 0, cookies = 0;
    int rc = data_read_fortunes(o->fortunes_dir, &raw, &rawlen, &nfiles);
    if (rc == -2) return alim_error_set(err, ALIM_ENOMEM, o->fortunes_dir, "out of memory");
    if (rc) {
        free(raw);
        return alim_error_set(err, ALIM_EINVAL, o->fortunes_dir, "no fortune files to read");
    }
    st = alim_text_fortunes(raw, rawlen, &txt[0], &len[0], &cookies, err);
    free(raw);
    if (st) return st;
    if ((st = alim_bible_read(o->bible, &raw, &rawlen, err))) {
        free(txt[0]);
        return st;
    }
    st = alim_text_strip_verse_refs(raw, rawlen, &txt[1], &len[1], err);
    free(raw);
    if (st) {
        free(txt[0]);
        return st;
    }
    if ((st = data_read_gz(o->jargon, &txt[2], &len[2], err))) {
        free(txt[0]), free(txt[1]);
        return st;
    }
    alim_corpus win[3];
    memset(win, 0, sizeof win);
    for (int i = 0; i < 3 && !st; i++) st = alim_corpus_add_windows(&win[i], txt[i], len[i], o->window, err);
    for (int i = 0; i < 3; i++) free(txt[i]);
    if (!st) {
        static const char *const names[] = {"fortunes", "bible-kjv", "jargon"};
        char o1[512];
        snprintf(o1, sizeof o1, "%zu fortune files in %s, %zu cookies, '%%' lines removed", nfiles, o->fortunes_dir,
                 cookies);
        /* the data file decodes to exactly what `bible -f 'Gen1:1-Rev22:21'` prints (title line
         * aside; tests/test_data_bible.c), so the origin names the text by that command, as the
         * manifests of directories built before the library read the file directly do */
        const char *const origins[] = {o1, "bible -f 'Gen1:1-Rev22:21', verse references removed", o->jargon};
        st = build_from_windows("natural", o, out_dir, win, 3, names, origins, 2000, manifest, err);
    }
    for (int i = 0; i < 3; i++) alim_corpus_free(&win[i]);
    return st;
}

/* A JSONL file of {"prompt": ..., "response": ...} records (either may be absent, not both)
 * as text: each record's prompt and response, then a newline, in file order. Malformed
 * lines are refused with the file and line number. */
static alim_status jsonl_text(const char *path, char *buf, size_t len, char **out, size_t *out_len, alim_error *err)
{
    char *t = malloc(len + 1);
    if (!t) return alim_error_set(err, ALIM_ENOMEM, path, "out of memory");
    size_t n = 0, line = 0, records = 0;
    for (size_t a = 0; a < len;) {
        size_t b = a;
        while (b < len && buf[b] != '\n') b++;
        line++;
        size_t e = b;
        while (e > a && (buf[e - 1] == '\r' || buf[e - 1] == ' ' || buf[e - 1] == '\t')) e--;
        if (e > a) {
            cJSON *j = cJSON_ParseWithLength(buf + a, e - a);
            const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "prompt"), *rs = cJSON_GetObjectItemCaseSensitive(j, "response");
            if (!cJSON_IsObject(j) || (pr && !cJSON_IsString(pr)) || (rs && !cJSON_IsString(rs)) || (!pr && !rs)) {
                cJSON_Delete(j);
                free(t);
                char where[4200];
                snprintf(where, sizeof where, "%.4000s:%zu", path, line);
                return alim_error_set(err, ALIM_EFORMAT, where, "expected a JSON object with string \"prompt\" and/or \"response\"");
            }
            /* the record's text is never longer than its JSON line, so t (len + 1 bytes) suffices */
            const char *parts[2] = {pr ? pr->valuestring : "", rs ? rs->valuestring : ""};
            for (int k = 0; k < 2; k++) {
                size_t pl = strlen(parts[k]);
                memcpy(t + n, parts[k], pl);
                n += pl;
            }
            t[n++] = '\n';
            records++;
            cJSON_Delete(j);
        }
        a = b + 1;
    }
    if (!records) {
        free(t);
        return alim_error_set(err, ALIM_EINVAL, path, "has no records");
    }
    *out = t;
    *out_len = n;
    return ALIM_OK;
}

static int ends_with_jsonl(const char *s)
{
    size_t n = strlen(s);
    return n >= 6 && !strcmp(s + n - 6, ".jsonl");
}

alim_status alim_datadir_text(const alim_datadir_options *o, const char *const *files, size_t n_files,
                              const char *out_dir, cJSON **manifest, alim_error *err)
{
    if (manifest) *manifest = NULL;
    alim_status st = check_common(o, err);
    if (st) return st;
    if (n_files == 0) return alim_error_set(err, ALIM_EINVAL, "data text", "needs at least one FILE");
    if (n_files > ALIM_CORPUS_MAX_COMPONENTS)
        return alim_error_set(err, ALIM_EINVAL, "data text", "at most %d files (components)", ALIM_CORPUS_MAX_COMPONENTS);
    alim_corpus win[ALIM_CORPUS_MAX_COMPONENTS];
    memset(win, 0, sizeof win);
    for (size_t i = 0; i < n_files && !st; i++) {
        char *buf;
        size_t len;
        st = alim_file_read_all(files[i], &buf, &len, err);
        if (!st && ends_with_jsonl(files[i])) {
            char *t;
            size_t tl;
            st = jsonl_text(files[i], buf, len, &t, &tl, err);
            free(buf);
            buf = st ? NULL : t;
            len = st ? 0 : tl;
        }
        if (!st) {
            st = alim_corpus_add_windows(&win[i], buf, len, o->window, err);
            free(buf);
        }
    }
    if (!st) {
        const char *names[ALIM_CORPUS_MAX_COMPONENTS];
        for (size_t i = 0; i < n_files; i++) {
            const char *b = strrchr(files[i], '/');
            names[i] = b ? b + 1 : files[i];
        }
        st = build_from_windows("text", o, out_dir, win, n_files, names, files, 0, manifest, err);
    }
    for (size_t i = 0; i < n_files; i++) alim_corpus_free(&win[i]);
    return st;
}
