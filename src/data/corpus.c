/* corpus.c — documents, the data-directory format, windows and splits (see alim/corpus.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/corpus.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alim/io.h"
#include "alim/rng.h"

alim_status alim_corpus_add(alim_corpus *c, const void *doc, size_t len, alim_error *err)
{
    if (c->n_docs + 2 > c->cap_docs) {
        size_t nc = c->cap_docs ? 2 * c->cap_docs : 256;
        size_t *no = realloc(c->off, nc * sizeof *no);
        if (!no) return alim_error_set(err, ALIM_ENOMEM, "corpus", "out of memory");
        if (!c->off) no[0] = 0;
        c->off = no;
        c->cap_docs = nc;
    }
    size_t used = c->off[c->n_docs];
    if (used + len > c->cap_bytes) {
        size_t nc = c->cap_bytes ? 2 * c->cap_bytes : 65536;
        while (nc < used + len) nc *= 2;
        uint8_t *nb = realloc(c->bytes, nc);
        if (!nb) return alim_error_set(err, ALIM_ENOMEM, "corpus", "out of memory");
        c->bytes = nb;
        c->cap_bytes = nc;
    }
    if (len) memcpy(c->bytes + used, doc, len);
    c->off[++c->n_docs] = used + len;
    return ALIM_OK;
}

void alim_corpus_free(alim_corpus *c)
{
    if (!c) return;
    free(c->off);
    free(c->bytes);
    memset(c, 0, sizeof *c);
}

static const void *find_bytes(const void *hay, size_t n, const char *needle, size_t k)
{
    const unsigned char *h = hay;
    if (k == 0 || n < k) return NULL;
    for (size_t i = 0; i + k <= n; i++) {
        const unsigned char *p = memchr(h + i, needle[0], n - k + 1 - i);
        if (!p) return NULL;
        i = (size_t)(p - h);
        if (!memcmp(p, needle, k)) return p;
    }
    return NULL;
}

int alim_corpus_doc_ok(const void *doc, size_t len)
{
    const unsigned char *d = doc;
    int blank = 1;
    for (size_t i = 0; i < len; i++) {
        if (d[i] == 0) return 0;
        if (!(d[i] == ' ' || d[i] == '\n' || d[i] == '\r' || d[i] == '\t')) blank = 0;
    }
    if (blank) return 0;
    return find_bytes(doc, len, ALIM_CORPUS_DELIM, strlen(ALIM_CORPUS_DELIM)) == NULL;
}

alim_status alim_corpus_write(const alim_corpus *c, const char *path, alim_error *err)
{
    alim_atomic_file f;
    alim_status st = alim_atomic_open(&f, path, err);
    if (st) return st;
    size_t dl = strlen(ALIM_CORPUS_DELIM);
    for (size_t d = 0; d < c->n_docs; d++) {
        size_t len;
        const uint8_t *p = alim_corpus_doc(c, d, &len);
        if (!alim_corpus_doc_ok(p, len)) {
            alim_atomic_abort(&f);
            return alim_error_set(err, ALIM_EINVAL, path, "document %zu is blank or holds a NUL byte or the delimiter", d + 1);
        }
        if (fwrite(p, 1, len, f.fp) != len || fwrite(ALIM_CORPUS_DELIM, 1, dl, f.fp) != dl) {
            alim_atomic_abort(&f);
            return alim_error_set(err, ALIM_EIO, path, "write failed");
        }
    }
    return alim_atomic_commit(&f, err);
}

alim_status alim_corpus_read(alim_corpus *c, const char *path, alim_error *err)
{
    memset(c, 0, sizeof *c);
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    size_t dl = strlen(ALIM_CORPUS_DELIM);
    const char *p = buf, *end = buf + len;
    while (p < end && !st) {
        const char *q = find_bytes(p, (size_t)(end - p), ALIM_CORPUS_DELIM, dl);
        if (!q) q = end;
        size_t n = (size_t)(q - p);
        int blank = 1;
        for (size_t i = 0; i < n && blank; i++)
            if (!(p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t')) blank = 0;
        if (!blank) st = alim_corpus_add(c, p, n, err);
        p = q + (q < end ? dl : 0);
    }
    free(buf);
    if (!st && c->n_docs == 0) st = alim_error_set(err, ALIM_EINVAL, path, "no documents (the file is empty)");
    if (st) alim_corpus_free(c);
    return st;
}

alim_status alim_corpus_add_windows(alim_corpus *c, const char *text, size_t len, size_t window, alim_error *err)
{
    if (window == 0) return alim_error_set(err, ALIM_EINVAL, "window", "window must be at least 1 byte");
    for (size_t i = 0; i + window <= len; i += window) {
        if (!alim_corpus_doc_ok(text + i, window)) continue;
        alim_status st = alim_corpus_add(c, text + i, window, err);
        if (st) return st;
    }
    return ALIM_OK;
}

static uint64_t hash_doc(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ n;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h ^ (h >> 31);
}

alim_status alim_corpus_dedup(alim_corpus *cs, size_t k, size_t *removed, alim_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < k; i++) total += cs[i].n_docs;
    size_t cap = 16;
    while (cap < 2 * total + 2) cap *= 2;
    /* the set holds (corpus, doc) pairs of kept documents */
    size_t *set = malloc(cap * sizeof *set);
    if (!set) return alim_error_set(err, ALIM_ENOMEM, "corpus", "out of memory");
    for (size_t j = 0; j < cap; j++) set[j] = SIZE_MAX;
    alim_status st = ALIM_OK;
    for (size_t i = 0; i < k && !st; i++) {
        alim_corpus out;
        memset(&out, 0, sizeof out);
        size_t drop = 0;
        for (size_t d = 0; d < cs[i].n_docs && !st; d++) {
            size_t len;
            const uint8_t *p = alim_corpus_doc(&cs[i], d, &len);
            size_t j = hash_doc(p, len) & (cap - 1);
            int dup = 0;
            while (set[j] != SIZE_MAX) {
                size_t ci = set[j] >> 40, di = set[j] & ((1ULL << 40) - 1), l2;
                const alim_corpus *src = ci == i ? &out : &cs[ci];
                const uint8_t *q = alim_corpus_doc(src, di, &l2);
                if (l2 == len && !memcmp(p, q, len)) {
                    dup = 1;
                    break;
                }
                j = (j + 1) & (cap - 1);
            }
            if (dup) {
                drop++;
                continue;
            }
            set[j] = (i << 40) | out.n_docs;
            st = alim_corpus_add(&out, p, len, err);
        }
        if (st) {
            alim_corpus_free(&out);
            break;
        }
        alim_corpus_free(&cs[i]);
        cs[i] = out;
        if (removed) removed[i] = drop;
    }
    free(set);
    return st;
}

alim_status alim_text_fortunes(const char *in, size_t len, char **out, size_t *out_len, size_t *n_cookies,
                               alim_error *err)
{
    char *o = malloc(len + 2);
    if (!o) return alim_error_set(err, ALIM_ENOMEM, "fortunes", "out of memory");
    size_t k = 0, cookies = 0;
    int in_cookie = 0;
    const char *p = in, *end = in + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        size_t n = (size_t)(eol - p);
        if (n && p[n - 1] == '\r') n--;
        if (n == 1 && p[0] == '%') {
            if (in_cookie) o[k++] = '\n';
            in_cookie = 0;
        } else {
            if (!in_cookie) cookies++;
            in_cookie = 1;
            memcpy(o + k, p, n);
            k += n;
            o[k++] = '\n';
        }
        p = eol + 1;
    }
    o[k] = '\0';
    *out = o;
    *out_len = k;
    if (n_cookies) *n_cookies = cookies;
    return ALIM_OK;
}

alim_status alim_text_strip_verse_refs(const char *in, size_t len, char **out, size_t *out_len, alim_error *err)
{
    char *o = malloc(len + 1);
    if (!o) return alim_error_set(err, ALIM_ENOMEM, "bible", "out of memory");
    size_t k = 0;
    const char *p = in, *end = in + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        const char *s = p;
        /* [digit] letters digits ':' digits ' ' */
        const char *t = s;
        if (t < eol && isdigit((unsigned char)*t)) t++;
        const char *l0 = t;
        while (t < eol && isalpha((unsigned char)*t)) t++;
        int ok = t > l0;
        const char *d0 = t;
        while (t < eol && isdigit((unsigned char)*t)) t++;
        ok = ok && t > d0 && t < eol && *t == ':';
        if (ok) {
            t++;
            const char *d1 = t;
            while (t < eol && isdigit((unsigned char)*t)) t++;
            ok = t > d1;
            while (ok && t < eol && *t == ' ') t++;
            if (ok) s = t;
        }
        const char *e = eol;
        while (e > s && (e[-1] == ' ' || e[-1] == '\r' || e[-1] == '\t')) e--;
        if (e > s) {
            memcpy(o + k, s, (size_t)(e - s));
            k += (size_t)(e - s);
            o[k++] = '\n';
        }
        p = eol + 1;
    }
    o[k] = '\0';
    *out = o;
    *out_len = k;
    return ALIM_OK;
}

/* ---- splits --------------------------------------------------------------------------- */

void alim_split_config_default(alim_split_config *c)
{
    memset(c, 0, sizeof *c);
    c->n_components = 3;
    c->shares[0] = 0.90;
    c->shares[1] = 0.05;
    c->shares[2] = 0.05;
    c->pretrain_docs = 15625;
    c->pool_docs = 4096;
    c->test_docs = 256;
    c->classifier_docs = 0;
    c->block = 8;
    c->seed = 1;
}

void alim_splits_free(alim_splits *s)
{
    if (!s) return;
    alim_corpus_free(&s->pretrain);
    alim_corpus_free(&s->test_mix);
    free(s->pretrain_comp);
    free(s->test_mix_comp);
    for (size_t i = 0; i < ALIM_CORPUS_MAX_COMPONENTS; i++) {
        alim_corpus_free(&s->pool[i]);
        alim_corpus_free(&s->test[i]);
        alim_corpus_free(&s->classifier[i]);
    }
    memset(s, 0, sizeof *s);
}

static void shuffle(size_t *a, size_t n, alim_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)alim_rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

static size_t test_need(const alim_split_config *cfg, size_t mix)
{
    return cfg->test_docs + mix + cfg->classifier_docs;
}

alim_status alim_splits_from_windows(alim_splits *out, const alim_corpus *const *windows, const alim_split_config *cfg,
                                     alim_error *err)
{
    memset(out, 0, sizeof *out);
    size_t K = cfg->n_components;
    if (K < 1 || K > ALIM_CORPUS_MAX_COMPONENTS)
        return alim_error_set(err, ALIM_EINVAL, "shares", "%zu components (need 1..%d)", K, ALIM_CORPUS_MAX_COMPONENTS);
    out->n_components = K;
    size_t block = cfg->block ? cfg->block : 1;
    alim_rng r;
    /* component draws of the mixture test set and pretraining counts */
    size_t mix_count[ALIM_CORPUS_MAX_COMPONENTS] = {0}, pre_count[ALIM_CORPUS_MAX_COMPONENTS] = {0};
    out->test_mix_comp = malloc(cfg->test_docs ? cfg->test_docs : 1);
    if (!out->test_mix_comp) return alim_error_set(err, ALIM_ENOMEM, "splits", "out of memory");
    alim_rng_seed(&r, cfg->seed, 101);
    for (size_t d = 0; d < cfg->test_docs; d++) {
        double u = alim_rng_uniform(&r) * 1.0, c = 0;
        size_t i = K - 1;
        for (size_t k = 0; k < K; k++) {
            c += cfg->shares[k];
            if (u < c && cfg->shares[k] > 0) {
                i = k;
                break;
            }
        }
        while (cfg->shares[i] <= 0 && i > 0) i--;
        out->test_mix_comp[d] = (uint8_t)i;
        mix_count[i]++;
    }
    size_t big = 0;
    for (size_t i = 1; i < K; i++)
        if (cfg->shares[i] > cfg->shares[big]) big = i;
    size_t n_pre = cfg->pretrain_docs;
    if (n_pre == SIZE_MAX) { /* as many as fit */
        double best = INFINITY;
        for (size_t i = 0; i < K; i++) {
            if (cfg->shares[i] <= 0) continue;
            double room = (double)windows[i]->n_docs - (double)(cfg->test_docs + mix_count[i] + cfg->classifier_docs);
            double m = floor(room / cfg->shares[i]);
            if (m < best) best = m;
        }
        n_pre = best > 0 && isfinite(best) ? (size_t)best : 0;
    }
    for (int tries = 0; tries < 64; tries++) {
        size_t assigned = 0, over = 0;
        for (size_t i = 0; i < K; i++) {
            pre_count[i] = (size_t)llround(cfg->shares[i] * (double)n_pre);
            assigned += pre_count[i];
        }
        /* make the total exact: adjust the largest share */
        if (assigned != n_pre) pre_count[big] = pre_count[big] + n_pre - assigned;
        for (size_t i = 0; i < K; i++)
            if (test_need(cfg, mix_count[i]) + pre_count[i] > windows[i]->n_docs) over = 1;
        if (!over || cfg->pretrain_docs != SIZE_MAX || n_pre == 0) break;
        n_pre--;
    }

    size_t *order[ALIM_CORPUS_MAX_COMPONENTS] = {0};
    size_t pos[ALIM_CORPUS_MAX_COMPONENTS] = {0};
    alim_status st = ALIM_OK;
    for (size_t i = 0; i < K && !st; i++) {
        size_t n = windows[i]->n_docs;
        out->available[i] = n;
        size_t need = cfg->test_docs + mix_count[i] + cfg->classifier_docs + pre_count[i];
        if (n < need) {
            char where[64];
            snprintf(where, sizeof where, "component %zu", i + 1);
            st = alim_error_set(err, ALIM_EINVAL, where,
                                "has %zu windows, the splits need %zu (test %zu + mixture test %zu + classifier %zu + pretraining %zu)",
                                n, need, cfg->test_docs, mix_count[i], cfg->classifier_docs, pre_count[i]);
            break;
        }
        size_t nb = (n + block - 1) / block;
        size_t *bl = malloc((nb ? nb : 1) * sizeof *bl);
        order[i] = malloc((n ? n : 1) * sizeof(size_t));
        if (!bl || !order[i]) {
            free(bl);
            st = alim_error_set(err, ALIM_ENOMEM, "splits", "out of memory");
            break;
        }
        for (size_t b = 0; b < nb; b++) bl[b] = b;
        alim_rng_seed(&r, cfg->seed, 500 + i);
        shuffle(bl, nb, &r);
        size_t k = 0;
        for (size_t b = 0; b < nb; b++)
            for (size_t w = bl[b] * block; w < (bl[b] + 1) * block && w < n; w++) order[i][k++] = w;
        free(bl);
    }
#define TAKE(dst, i)                                                                  \
    do {                                                                              \
        size_t len_;                                                                  \
        const uint8_t *p_ = alim_corpus_doc(windows[i], order[i][pos[i]++], &len_);  \
        st = alim_corpus_add((dst), p_, len_, err);                                   \
    } while (0)
    for (size_t i = 0; i < K && !st; i++)
        for (size_t d = 0; d < cfg->test_docs && !st; d++) TAKE(&out->test[i], i);
    for (size_t d = 0; d < cfg->test_docs && !st; d++) TAKE(&out->test_mix, out->test_mix_comp[d]);
    for (size_t i = 0; i < K && !st; i++)
        for (size_t d = 0; d < cfg->classifier_docs && !st; d++) TAKE(&out->classifier[i], i);
    /* pretraining: the documents of each component, then in a shuffled order */
    size_t *pidx = NULL, np = 0;
    if (!st) {
        pidx = malloc((n_pre ? n_pre : 1) * sizeof *pidx);
        out->pretrain_comp = malloc(n_pre ? n_pre : 1);
        if (!pidx || !out->pretrain_comp) st = alim_error_set(err, ALIM_ENOMEM, "splits", "out of memory");
    }
    for (size_t i = 0; i < K && !st; i++)
        for (size_t d = 0; d < pre_count[i]; d++) pidx[np++] = (i << 56) | order[i][pos[i]++];
    if (!st) {
        alim_rng_seed(&r, cfg->seed, 102);
        shuffle(pidx, np, &r);
        for (size_t d = 0; d < np && !st; d++) {
            size_t i = pidx[d] >> 56, w = pidx[d] & ((1ULL << 56) - 1), len;
            const uint8_t *p = alim_corpus_doc(windows[i], w, &len);
            out->pretrain_comp[d] = (uint8_t)i;
            st = alim_corpus_add(&out->pretrain, p, len, err);
        }
    }
    free(pidx);
    for (size_t i = 0; i < K && !st; i++)
        for (size_t d = 0; d < cfg->pool_docs && pos[i] < windows[i]->n_docs && !st; d++) TAKE(&out->pool[i], i);
#undef TAKE
    for (size_t i = 0; i < K; i++) free(order[i]);
    if (st) alim_splits_free(out);
    return st;
}

/* ---- output directory ----------------------------------------------------------------- */

alim_status alim_outdir_begin(alim_outdir *d, const char *dir, alim_error *err)
{
    memset(d, 0, sizeof *d);
    struct stat sb;
    if (stat(dir, &sb) == 0) {
        if (!S_ISDIR(sb.st_mode)) return alim_error_set(err, ALIM_EINVAL, dir, "exists and is not a directory");
        if (alim_dir_is_empty(dir) != 1) return alim_error_set(err, ALIM_EINVAL, dir, "exists and is not empty (choose a new directory)");
    }
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    d->final_dir = strndup(dir, n);
    d->tmp_dir = malloc(n + 32);
    if (!d->final_dir || !d->tmp_dir) {
        alim_outdir_abort(d);
        return alim_error_set(err, ALIM_ENOMEM, dir, "out of memory");
    }
    snprintf(d->tmp_dir, n + 32, "%s.tmp.%ld", d->final_dir, (long)getpid());
    if (mkdir(d->tmp_dir, 0777) != 0) {
        int e = errno;
        free(d->tmp_dir);
        d->tmp_dir = NULL;
        alim_outdir_abort(d);
        return alim_error_set(err, e == ENOENT || e == ENOTDIR || e == EACCES ? ALIM_EINVAL : ALIM_EIO, dir,
                              "cannot create the output directory: %s", strerror(e));
    }
    return ALIM_OK;
}

const char *alim_outdir_file(alim_outdir *d, const char *name)
{
    snprintf(d->path, sizeof d->path, "%s/%s", d->tmp_dir, name);
    char **nf = realloc(d->files, (d->n_files + 1) * sizeof *nf);
    if (nf) {
        d->files = nf;
        nf[d->n_files] = strdup(name);
        if (nf[d->n_files]) d->n_files++;
    }
    return d->path;
}

static void outdir_release(alim_outdir *d)
{
    for (size_t i = 0; i < d->n_files; i++) free(d->files[i]);
    free(d->files);
    free(d->final_dir);
    free(d->tmp_dir);
    memset(d, 0, sizeof *d);
}

alim_status alim_outdir_commit(alim_outdir *d, alim_error *err)
{
    struct stat sb;
    if (stat(d->final_dir, &sb) == 0 && S_ISDIR(sb.st_mode) && alim_dir_is_empty(d->final_dir) == 1) rmdir(d->final_dir);
    if (rename(d->tmp_dir, d->final_dir) != 0) {
        int e = errno;
        alim_error_set(err, ALIM_EIO, d->final_dir, "cannot rename the finished directory into place: %s", strerror(e));
        alim_outdir_abort(d);
        return ALIM_EIO;
    }
    outdir_release(d);
    return ALIM_OK;
}

void alim_outdir_abort(alim_outdir *d)
{
    if (d->tmp_dir) {
        char p[4096];
        for (size_t i = 0; i < d->n_files; i++) {
            snprintf(p, sizeof p, "%s/%s", d->tmp_dir, d->files[i]);
            remove(p);
            /* a temporary of an atomic write left behind */
            snprintf(p, sizeof p, "%s/%s.tmp.%ld", d->tmp_dir, d->files[i], (long)getpid());
            remove(p);
        }
        rmdir(d->tmp_dir);
    }
    outdir_release(d);
}

static alim_status write_components(alim_outdir *d, const char *name, const uint8_t *comp, size_t n, alim_error *err)
{
    const char *path = alim_outdir_file(d, name);
    alim_atomic_file f;
    alim_status st = alim_atomic_open(&f, path, err);
    if (st) return st;
    for (size_t i = 0; i < n; i++) fprintf(f.fp, "%d\n", comp[i] + 1);
    return alim_atomic_commit(&f, err);
}

alim_status alim_splits_write(const alim_splits *s, alim_outdir *d, alim_error *err)
{
    alim_status st = alim_corpus_write(&s->pretrain, alim_outdir_file(d, "pretrain.txt"), err);
    if (!st) st = write_components(d, "pretrain_components.txt", s->pretrain_comp, s->pretrain.n_docs, err);
    if (!st) st = alim_corpus_write(&s->test_mix, alim_outdir_file(d, "test_mix.txt"), err);
    if (!st) st = write_components(d, "test_mix_components.txt", s->test_mix_comp, s->test_mix.n_docs, err);
    char name[64];
    for (size_t i = 0; i < s->n_components && !st; i++) {
        snprintf(name, sizeof name, "pool_c%zu.txt", i + 1);
        st = alim_corpus_write(&s->pool[i], alim_outdir_file(d, name), err);
        snprintf(name, sizeof name, "test_c%zu.txt", i + 1);
        if (!st) st = alim_corpus_write(&s->test[i], alim_outdir_file(d, name), err);
        snprintf(name, sizeof name, "classifier_c%zu.txt", i + 1);
        if (!st && s->classifier[i].n_docs) st = alim_corpus_write(&s->classifier[i], alim_outdir_file(d, name), err);
    }
    return st;
}
