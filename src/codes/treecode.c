/* treecode.c — depth-d token tree, Huffman code and arithmetic code on counts (alim/treecode.h). */
#include "alim/treecode.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alim/arith.h"

typedef struct {
    double w;
    size_t i;
} wi;

static int cmp_wi(const void *a, const void *b)
{
    const wi *x = a, *y = b;
    if (x->w < y->w) return -1;
    if (x->w > y->w) return 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

alim_status alim_huffman_lengths(const double *w, size_t n, unsigned *len, alim_error *err)
{
    if (n == 0) return ALIM_OK;
    if (n == 1) {
        len[0] = 1;
        return ALIM_OK;
    }
    /* two-queue Huffman: leaves sorted ascending, internal nodes created in ascending order */
    wi *leaf = malloc(n * sizeof *leaf);
    double *iw = malloc(n * sizeof *iw);
    size_t *parent = malloc((2 * n) * sizeof *parent);
    if (!leaf || !iw || !parent) {
        free(leaf), free(iw), free(parent);
        return alim_error_set(err, ALIM_ENOMEM, "huffman", "out of memory");
    }
    for (size_t i = 0; i < n; i++) leaf[i] = (wi){w[i], i};
    qsort(leaf, n, sizeof *leaf, cmp_wi);
    /* node ids: 0..n-1 leaves (sorted order), n..2n-2 internal */
    size_t li = 0, ii = 0, ni = 0;
    for (size_t k = 0; k < n - 1; k++) {
        size_t pick[2];
        double sum = 0;
        for (int c = 0; c < 2; c++) {
            if (li < n && (ii >= ni || leaf[li].w <= iw[ii])) {
                pick[c] = li;
                sum += leaf[li++].w;
            } else {
                pick[c] = n + ii;
                sum += iw[ii++];
            }
        }
        iw[ni] = sum;
        parent[pick[0]] = parent[pick[1]] = n + ni;
        ni++;
    }
    /* depths: the root is n + n - 2; internal nodes were created in order, so walk down */
    unsigned *depth = calloc(2 * n, sizeof *depth);
    if (!depth) {
        free(leaf), free(iw), free(parent);
        return alim_error_set(err, ALIM_ENOMEM, "huffman", "out of memory");
    }
    for (size_t v = 2 * n - 2; v-- > n;) depth[v] = depth[parent[v]] + 1;
    for (size_t v = 0; v < n; v++) len[leaf[v].i] = depth[parent[v]] + 1;
    free(depth), free(leaf), free(iw), free(parent);
    return ALIM_OK;
}

/* ---- chunk table (open addressing) ---- */

typedef struct {
    uint8_t b[ALIM_TREECODE_MAX_DEPTH];
    uint8_t len;
    uint8_t used;
    size_t count;
    size_t id;
} slot;

static uint64_t hash_chunk(const uint8_t *b, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ len;
    for (size_t i = 0; i < len; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static slot *find(slot *tab, size_t cap, const uint8_t *b, size_t len)
{
    size_t i = hash_chunk(b, len) & (cap - 1);
    for (;;) {
        slot *s = &tab[i];
        if (!s->used || (s->len == len && !memcmp(s->b, b, len))) return s;
        i = (i + 1) & (cap - 1);
    }
}

alim_status alim_treecode_run(const alim_corpus *docs, size_t depth, alim_treecode_result *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    if (depth < 1 || depth > ALIM_TREECODE_MAX_DEPTH)
        return alim_error_set(err, ALIM_EINVAL, "depth", "depth %zu outside 1..%d", depth, ALIM_TREECODE_MAX_DEPTH);
    size_t n_tokens = alim_corpus_bytes(docs), n_chunks = 0;
    if (n_tokens == 0) return alim_error_set(err, ALIM_EINVAL, "data", "no tokens to code");
    for (size_t d = 0; d < docs->n_docs; d++) {
        size_t len = docs->off[d + 1] - docs->off[d];
        n_chunks += (len + depth - 1) / depth;
    }
    size_t cap = 1024;
    while (cap < 2 * n_chunks) cap *= 2;
    slot *tab = calloc(cap, sizeof *tab);
    size_t *seq = malloc(n_chunks * sizeof *seq);
    size_t uni[256] = {0};
    if (!tab || !seq) {
        free(tab), free(seq);
        return alim_error_set(err, ALIM_ENOMEM, "treecode", "out of memory");
    }
    size_t n_leaves = 0, k = 0;
    slot **byid = NULL;
    for (size_t d = 0; d < docs->n_docs; d++) {
        size_t len;
        const uint8_t *p = alim_corpus_doc(docs, d, &len);
        for (size_t i = 0; i < len; i++) uni[p[i]]++;
        for (size_t i = 0; i < len; i += depth) {
            size_t cl = len - i < depth ? len - i : depth;
            slot *s = find(tab, cap, p + i, cl);
            if (!s->used) {
                s->used = 1;
                s->len = (uint8_t)cl;
                memcpy(s->b, p + i, cl);
                s->id = n_leaves++;
            }
            s->count++;
            seq[k++] = s->id;
        }
    }
    alim_status st = ALIM_OK;
    double *w = calloc(n_leaves ? n_leaves : 1, sizeof *w);
    unsigned *cl = malloc(n_leaves * sizeof *cl);
    uint64_t *cum = malloc((n_leaves + 1) * sizeof *cum);
    byid = malloc(n_leaves * sizeof *byid);
    if (!w || !cl || !cum || !byid) st = alim_error_set(err, ALIM_ENOMEM, "treecode", "out of memory");
    if (!st) {
        for (size_t i = 0; i < cap; i++)
            if (tab[i].used) byid[tab[i].id] = &tab[i];
        double H = 0, L = 0;
        cum[0] = 0;
        for (size_t j = 0; j < n_leaves; j++) {
            w[j] = (double)byid[j]->count;
            double pj = w[j] / (double)n_chunks;
            H -= pj * log2(pj);
            cum[j + 1] = cum[j] + byid[j]->count;
        }
        st = alim_huffman_lengths(w, n_leaves, cl, err);
        for (size_t j = 0; j < n_leaves && !st; j++) L += w[j] * cl[j];
        double ceil_chunks = 0;
        for (size_t d = 0; d < docs->n_docs; d++) ceil_chunks += (double)((docs->off[d + 1] - docs->off[d] + depth - 1) / depth);
        double vocab = 0, h0 = 0;
        for (int b = 0; b < 256; b++)
            if (uni[b]) {
                vocab++;
                double pb = (double)uni[b] / (double)n_tokens;
                h0 -= pb * log2(pb);
            }
        out->depth = depth;
        out->n_docs = docs->n_docs;
        out->n_tokens = n_tokens;
        out->n_chunks = n_chunks;
        out->n_leaves = n_leaves;
        out->vocab = (size_t)vocab;
        out->entropy_bits_per_chunk = H;
        out->huffman_bits_per_chunk = L / (double)n_chunks;
        out->order0_bits_per_token = h0;
        out->shannon_bits_per_token = H * (double)n_chunks / (double)n_tokens;
        out->huffman_bits_per_token = L / (double)n_tokens;
        out->ceil_chunks_bits_per_token = ceil_chunks * H / (double)n_tokens;
        out->thm34_bits_per_token = ceil_chunks * ceil(H) / (double)n_tokens;
        double ideal = 0;
        for (size_t j = 0; j < n_leaves; j++) ideal -= w[j] * log2(w[j] / (double)n_chunks);
        out->ideal_total_bits = ideal;
    }
    /* the arithmetic code of the chunk sequence under the same counts, then decoded */
    if (!st) {
        alim_arith_encoder e;
        st = alim_arith_encoder_init(&e, err);
        for (size_t i = 0; i < n_chunks && !st; i++) st = alim_arith_encode_freq(&e, cum[seq[i]], cum[seq[i] + 1], n_chunks, err);
        if (!st) st = alim_arith_encoder_finish(&e, err);
        if (!st) {
            out->arith_total_bits = (double)e.n_bits;
            out->arith_bytes = e.n_bytes;
            out->arith_bits_per_token = (double)e.n_bits / (double)n_tokens;
            alim_arith_decoder dd;
            alim_arith_decoder_init(&dd, e.buf, e.n_bytes);
            int ok = 1;
            for (size_t i = 0; i < n_chunks && ok; i++) {
                uint64_t t = alim_arith_decode_target(&dd, n_chunks);
                size_t lo = 0, hi = n_leaves; /* largest j with cum[j] <= t */
                while (hi - lo > 1) {
                    size_t mid = (lo + hi) / 2;
                    if (cum[mid] <= t) lo = mid;
                    else hi = mid;
                }
                if (lo != seq[i]) ok = 0;
                alim_arith_decode_update(&dd, cum[lo], cum[lo + 1], n_chunks);
            }
            out->arith_roundtrip_ok = ok;
        }
        alim_arith_encoder_free(&e);
    }
    free(tab), free(seq), free(w), free(cl), free(cum), free(byid);
    return st;
}
