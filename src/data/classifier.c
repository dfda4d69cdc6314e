/* classifier.c — character n-gram naive Bayes (see alim/classifier.h). */
#include "alim/classifier.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/info.h"
#include "alim/io.h"

static const char NB_MAGIC[8] = {'A', 'L', 'I', 'M', 'N', 'B', '1', '\n'};

alim_status alim_nb_init(alim_nb *nb, size_t n_classes, size_t order, double alpha, alim_error *err)
{
    memset(nb, 0, sizeof *nb);
    if (n_classes < 1 || n_classes > ALIM_NB_MAX_CLASSES)
        return alim_error_set(err, ALIM_EINVAL, "classifier", "%zu classes (need 1..%d)", n_classes, ALIM_NB_MAX_CLASSES);
    if (order < 1 || order > 7) return alim_error_set(err, ALIM_EINVAL, "order", "n-gram order %zu outside 1..7", order);
    if (!(alpha > 0) || !isfinite(alpha)) return alim_error_set(err, ALIM_EINVAL, "alpha", "smoothing must be > 0");
    nb->n_classes = n_classes;
    nb->order = order;
    nb->alpha = alpha;
    for (size_t c = 0; c < n_classes; c++) snprintf(nb->names[c], ALIM_NB_NAME_MAX, "c%zu", c + 1);
    nb->cap = 1 << 16;
    nb->keys = calloc(nb->cap, sizeof *nb->keys);
    nb->counts = calloc(nb->cap * n_classes, sizeof *nb->counts);
    if (!nb->keys || !nb->counts) {
        alim_nb_free(nb);
        return alim_error_set(err, ALIM_ENOMEM, "classifier", "out of memory");
    }
    return ALIM_OK;
}

void alim_nb_free(alim_nb *nb)
{
    if (!nb) return;
    free(nb->keys);
    free(nb->counts);
    memset(nb, 0, sizeof *nb);
}

static size_t slot_of(const uint64_t *keys, size_t cap, uint64_t key1)
{
    uint64_t h = key1 * 0x9e3779b97f4a7c15ULL;
    size_t i = (size_t)(h >> 20) & (cap - 1);
    while (keys[i] && keys[i] != key1) i = (i + 1) & (cap - 1);
    return i;
}

static alim_status grow(alim_nb *nb, alim_error *err)
{
    size_t nc = nb->cap * 2, K = nb->n_classes;
    uint64_t *nk = calloc(nc, sizeof *nk);
    uint32_t *ncn = calloc(nc * K, sizeof *ncn);
    if (!nk || !ncn) {
        free(nk), free(ncn);
        return alim_error_set(err, ALIM_ENOMEM, "classifier", "out of memory");
    }
    for (size_t i = 0; i < nb->cap; i++)
        if (nb->keys[i]) {
            size_t j = slot_of(nk, nc, nb->keys[i]);
            nk[j] = nb->keys[i];
            memcpy(ncn + j * K, nb->counts + i * K, K * sizeof *ncn);
        }
    free(nb->keys), free(nb->counts);
    nb->keys = nk;
    nb->counts = ncn;
    nb->cap = nc;
    return ALIM_OK;
}

static alim_status add_key(alim_nb *nb, size_t cls, uint64_t key1, alim_error *err)
{
    if (2 * (nb->n_grams + 1) > nb->cap) {
        alim_status st = grow(nb, err);
        if (st) return st;
    }
    size_t i = slot_of(nb->keys, nb->cap, key1);
    if (!nb->keys[i]) {
        nb->keys[i] = key1;
        nb->n_grams++;
    }
    nb->counts[i * nb->n_classes + cls]++;
    nb->total[cls]++;
    return ALIM_OK;
}

alim_status alim_nb_add_text(alim_nb *nb, size_t cls, const void *text, size_t len, alim_error *err)
{
    if (cls >= nb->n_classes) return alim_error_set(err, ALIM_EINVAL, "classifier", "class %zu out of range", cls);
    const uint8_t *t = text;
    size_t n = nb->order;
    uint64_t mask = (n == 8) ? ~0ULL : ((1ULL << (8 * n)) - 1), key = 0;
    for (size_t i = 0; i < len; i++) {
        key = ((key << 8) | t[i]) & mask;
        if (i + 1 >= n) {
            alim_status st = add_key(nb, cls, key + 1, err);
            if (st) return st;
        }
    }
    return ALIM_OK;
}

alim_status alim_nb_add_corpus(alim_nb *nb, size_t cls, const alim_corpus *c, alim_error *err)
{
    for (size_t d = 0; d < c->n_docs; d++) {
        size_t len;
        const uint8_t *p = alim_corpus_doc(c, d, &len);
        alim_status st = alim_nb_add_text(nb, cls, p, len, err);
        if (st) return st;
    }
    return ALIM_OK;
}

size_t alim_nb_classify(const alim_nb *nb, const void *text, size_t len, double *posterior)
{
    size_t K = nb->n_classes, n = nb->order;
    double lp[ALIM_NB_MAX_CLASSES] = {0}, denom[ALIM_NB_MAX_CLASSES];
    for (size_t c = 0; c < K; c++) denom[c] = log((double)nb->total[c] + nb->alpha * (double)(nb->n_grams + 1));
    const uint8_t *t = text;
    uint64_t mask = (1ULL << (8 * n)) - 1, key = 0;
    for (size_t i = 0; i < len; i++) {
        key = ((key << 8) | t[i]) & mask;
        if (i + 1 < n) continue;
        size_t s = slot_of(nb->keys, nb->cap, key + 1);
        const uint32_t *cnt = nb->keys[s] ? nb->counts + s * K : NULL;
        for (size_t c = 0; c < K; c++) lp[c] += log((cnt ? (double)cnt[c] : 0.0) + nb->alpha) - denom[c];
    }
    double z = alim_logsumexp(lp, K);
    size_t best = 0;
    for (size_t c = 0; c < K; c++) {
        posterior[c] = exp(lp[c] - z);
        if (lp[c] > lp[best]) best = c;
    }
    return best;
}

double alim_nb_accuracy(const alim_nb *nb, const alim_corpus *const *test, double *per_class)
{
    double post[ALIM_NB_MAX_CLASSES];
    size_t right = 0, total = 0;
    for (size_t c = 0; c < nb->n_classes; c++) {
        size_t rc = 0, n = test[c] ? test[c]->n_docs : 0;
        for (size_t d = 0; d < n; d++) {
            size_t len;
            const uint8_t *p = alim_corpus_doc(test[c], d, &len);
            if (alim_nb_classify(nb, p, len, post) == c) rc++;
        }
        if (per_class) per_class[c] = n ? (double)rc / (double)n : NAN;
        right += rc;
        total += n;
    }
    return total ? (double)right / (double)total : NAN;
}

alim_status alim_nb_save(const alim_nb *nb, const char *path, alim_error *err)
{
    alim_atomic_file f;
    alim_status st = alim_atomic_open(&f, path, err);
    if (st) return st;
    uint32_t K = (uint32_t)nb->n_classes, order = (uint32_t)nb->order;
    uint64_t ng = nb->n_grams;
    fwrite(NB_MAGIC, 1, 8, f.fp);
    fwrite(&K, 4, 1, f.fp);
    fwrite(&order, 4, 1, f.fp);
    fwrite(&nb->alpha, 8, 1, f.fp);
    fwrite(nb->names, ALIM_NB_NAME_MAX, K, f.fp);
    fwrite(nb->total, 8, K, f.fp);
    fwrite(&ng, 8, 1, f.fp);
    for (size_t i = 0; i < nb->cap; i++)
        if (nb->keys[i]) {
            fwrite(&nb->keys[i], 8, 1, f.fp);
            fwrite(nb->counts + i * K, 4, K, f.fp);
        }
    return alim_atomic_commit(&f, err);
}

alim_status alim_nb_load(alim_nb *nb, const char *path, alim_error *err)
{
    memset(nb, 0, sizeof *nb);
    char *buf;
    size_t len;
    alim_status st = alim_file_read_all(path, &buf, &len, err);
    if (st) return st;
    const char *p = buf, *end = buf + len;
#define NEED(n)                                                                                   \
    do {                                                                                          \
        if ((size_t)(end - p) < (size_t)(n)) {                                                    \
            free(buf);                                                                            \
            alim_nb_free(nb);                                                                     \
            return alim_error_set(err, ALIM_EFORMAT, path, "truncated naive-Bayes classifier file"); \
        }                                                                                         \
    } while (0)
    NEED(8 + 4 + 4 + 8);
    if (memcmp(p, NB_MAGIC, 8)) {
        free(buf);
        return alim_error_set(err, ALIM_EFORMAT, path, "not an alim naive-Bayes classifier file (bad magic)");
    }
    p += 8;
    uint32_t K, order;
    double alpha;
    memcpy(&K, p, 4), p += 4;
    memcpy(&order, p, 4), p += 4;
    memcpy(&alpha, p, 8), p += 8;
    alim_error e2; /* not err itself: its message is formatted into err (no overlapping copy) */
    st = alim_nb_init(nb, K, order, alpha, &e2);
    if (st) {
        free(buf);
        return alim_error_set(err, ALIM_EFORMAT, path, "bad header: %s", e2.what);
    }
    NEED((size_t)K * ALIM_NB_NAME_MAX + 8 * K + 8);
    memcpy(nb->names, p, (size_t)K * ALIM_NB_NAME_MAX), p += K * ALIM_NB_NAME_MAX;
    for (uint32_t c = 0; c < K; c++) nb->names[c][ALIM_NB_NAME_MAX - 1] = '\0';
    memcpy(nb->total, p, 8 * K), p += 8 * K;
    uint64_t ng;
    memcpy(&ng, p, 8), p += 8;
    /* ng is compared with what the file holds before anything is sized from it (ng times
     * the entry size may not fit 64 bits, and a table sized from a huge ng would grow until
     * memory runs out) */
    const uint64_t entry = 8 + 4 * (uint64_t)K;
    if (ng > (uint64_t)(end - p) / entry) NEED(SIZE_MAX);
    if (ng != (uint64_t)(end - p) / entry || (uint64_t)(end - p) % entry)
        return free(buf), alim_nb_free(nb),
               alim_error_set(err, ALIM_EFORMAT, path, "corrupt classifier file (%llu bytes after the %llu entries)",
                              (unsigned long long)((uint64_t)(end - p) - ng * entry), (unsigned long long)ng);
    while (nb->cap < 2 * ng + 2) {
        alim_error e3;
        st = grow(nb, &e3);
        if (st) return free(buf), alim_nb_free(nb), alim_error_set(err, st, path, "%s", e3.what);
    }
    for (uint64_t g = 0; g < ng; g++) {
        uint64_t key1;
        memcpy(&key1, p, 8), p += 8;
        size_t i = slot_of(nb->keys, nb->cap, key1);
        if (key1 == 0 || nb->keys[i]) {
            free(buf);
            alim_nb_free(nb);
            return alim_error_set(err, ALIM_EFORMAT, path, "corrupt classifier file (entry %llu)", (unsigned long long)g);
        }
        nb->keys[i] = key1;
        memcpy(nb->counts + i * K, p, 4 * K), p += 4 * K;
        nb->n_grams++;
    }
#undef NEED
    free(buf);
    return ALIM_OK;
}
