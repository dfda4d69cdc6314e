/* test_elastic_source.c — Markov chains, the synthetic source S, corpora and splits. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alim/corpus.h"
#include "alim/info.h"
#include "alim/rng.h"
#include "alim/source.h"
#include "check.h"

/* stationary law by Gaussian elimination on pi (P - I) = 0, sum pi = 1 */
static void stationary_solve(const alim_markov *m, double *pi)
{
    size_t n = m->n;
    double *A = calloc(n * (n + 1), sizeof *A);
    for (size_t i = 0; i < n; i++) {         /* equation i: sum_s pi_s (P[s][i] - delta) = 0 */
        for (size_t s = 0; s < n; s++) A[i * (n + 1) + s] = m->P[s * n + i] - (s == i);
        A[i * (n + 1) + n] = 0;
    }
    for (size_t s = 0; s < n; s++) A[(n - 1) * (n + 1) + s] = 1; /* replace the last by the sum */
    A[(n - 1) * (n + 1) + n] = 1;
    for (size_t c = 0; c < n; c++) {
        size_t piv = c;
        for (size_t r = c + 1; r < n; r++)
            if (fabs(A[r * (n + 1) + c]) > fabs(A[piv * (n + 1) + c])) piv = r;
        for (size_t k = 0; k <= n; k++) {
            double t = A[c * (n + 1) + k];
            A[c * (n + 1) + k] = A[piv * (n + 1) + k];
            A[piv * (n + 1) + k] = t;
        }
        for (size_t r = 0; r < n; r++) {
            if (r == c) continue;
            double f = A[r * (n + 1) + c] / A[c * (n + 1) + c];
            for (size_t k = c; k <= n; k++) A[r * (n + 1) + k] -= f * A[c * (n + 1) + k];
        }
    }
    for (size_t i = 0; i < n; i++) pi[i] = A[i * (n + 1) + n] / A[i * (n + 1) + i];
    free(A);
}

static void random_chain(alim_markov *m, size_t n, alim_rng *r)
{
    alim_markov_alloc(m, n, NULL);
    for (size_t s = 0; s <= n; s++) {
        double *row = s < n ? m->P + s * n : m->init, tot = 0;
        for (size_t j = 0; j < n; j++) tot += row[j] = pow(alim_rng_uniform_pos(r), 3.0);
        for (size_t j = 0; j < n; j++) row[j] /= tot;
    }
    alim_markov_prepare(m);
}

static void test_chain_exact(void)
{
    alim_rng r;
    alim_rng_seed(&r, 7, 0);
    for (int rep = 0; rep < 5; rep++) {
        alim_markov m;
        random_chain(&m, 3 + (size_t)rep, &r);
        double pi[8], pis[8], res;
        CHECK(alim_markov_stationary(&m, pi, 1e-14, 1000000, &res, NULL) == ALIM_OK, "stationary converges");
        stationary_solve(&m, pis);
        for (size_t i = 0; i < m.n; i++) CHECK_ABS(pi[i], pis[i], 1e-12, "power iteration = linear solve");
        double h = 0;
        for (size_t s = 0; s < m.n; s++) h += pis[s] * alim_entropy(m.P + s * m.n, m.n);
        CHECK_ABS(alim_markov_entropy_rate(&m, pi), h, 1e-12, "entropy rate");
        /* per-document entropy against brute-force enumeration, len 4 */
        size_t n = m.n, len = 4, total = 1;
        for (size_t t = 0; t < len; t++) total *= n;
        double hb = 0;
        uint8_t x[4];
        for (size_t code = 0; code < total; code++) {
            size_t c = code;
            for (size_t t = 0; t < len; t++) x[t] = (uint8_t)(c % n), c /= n;
            double p = exp(alim_markov_doc_logprob(&m, x, len));
            if (p > 0) hb -= p * log(p);
        }
        CHECK_ABS(alim_markov_doc_entropy(&m, len, NULL), hb, 1e-12, "document entropy = brute force");
        /* long documents: per-token entropy tends to the rate */
        double hl = alim_markov_doc_entropy(&m, 4000, NULL) / 4000;
        CHECK_ABS(hl, h, 2e-3, "doc entropy / len -> rate");
        alim_markov_free(&m);
    }
    /* a periodic chain (0 -> 1 -> 0) still converges on the lazy chain */
    alim_markov m;
    alim_markov_alloc(&m, 2, NULL);
    m.P[1] = m.P[2] = 1;
    m.init[0] = 1;
    double pi[2], res;
    CHECK(alim_markov_stationary(&m, pi, 1e-13, 100000, &res, NULL) == ALIM_OK, "periodic chain converges");
    CHECK_ABS(pi[0], 0.5, 1e-12, "periodic stationary");
    alim_markov_free(&m);
}

static double zipf_entropy_bits(size_t b)
{
    double z = 0, h = 0;
    for (size_t j = 1; j <= b; j++) z += 1.0 / (double)j;
    for (size_t j = 1; j <= b; j++) h -= (1.0 / (double)j / z) * log2(1.0 / (double)j / z);
    return h;
}

static void test_source_structure(void)
{
    alim_source_config cfg;
    alim_source_config_default(&cfg);
    alim_source s;
    CHECK(alim_source_build(&s, &cfg, NULL) == ALIM_OK, "build S");
    size_t n = 64;
    int rows_ok = 1, disj_ok = 1, shared_ok = 1;
    for (size_t i = 0; i < 3; i++) {
        CHECK(alim_markov_check(&s.comp[i], 1e-12, "S", NULL) == ALIM_OK, "rows are distributions");
        for (size_t r = 0; r < n; r++) {
            size_t nz = 0;
            for (size_t j = 0; j < n; j++) nz += s.comp[i].P[r * n + j] > 0;
            if (nz != 8) rows_ok = 0;
        }
    }
    for (size_t r = 0; r < n; r++)
        for (size_t i = 0; i < 3; i++)
            for (size_t k = i + 1; k < 3; k++)
                for (size_t j = 0; j < n; j++) {
                    double a = s.comp[i].P[r * n + j], b = s.comp[k].P[r * n + j];
                    if (r < 16 && a > 0 && b > 0) disj_ok = 0;
                    if (r >= 16 && a != b) shared_ok = 0;
                }
    CHECK(rows_ok, "every row has 8 successors");
    CHECK(disj_ok, "decision rows have pairwise disjoint supports");
    CHECK(shared_ok, "the other 48 rows are shared");
    alim_source_entropy e;
    CHECK(alim_source_entropies(&s, &e, NULL) == ALIM_OK, "entropies");
    double hz = zipf_entropy_bits(8);
    CHECK_ABS(hz, 2.6197, 1e-4, "Zipf(1) over 8 = 2.62 bits (spec)");
    for (size_t i = 0; i < 3; i++) {
        CHECK_ABS(alim_bits(e.rate_nats[i]), hz, 1e-10, "rate = row entropy (all rows Zipf-8)");
        CHECK_ABS(alim_bits(e.doc_nats[i]), 6 + 127 * hz, 1e-8, "doc entropy = log2 64 + 127 H");
    }
    /* same seed, same source; another seed, another source */
    alim_source s2;
    alim_source_build(&s2, &cfg, NULL);
    CHECK(memcmp(s.comp[1].P, s2.comp[1].P, n * n * sizeof(double)) == 0, "seeded");
    alim_source_free(&s2);
    cfg.seed = 2;
    alim_source_build(&s2, &cfg, NULL);
    CHECK(memcmp(s.comp[1].P, s2.comp[1].P, n * n * sizeof(double)) != 0, "other seed differs");
    alim_source_free(&s2);

    /* generator statistics: transition frequencies of C2 */
    alim_rng r;
    alim_rng_seed(&r, 3, 0);
    size_t ndoc = 3000, len = cfg.doc_len;
    double *cnt = calloc(n * n, sizeof *cnt);
    uint8_t x[128];
    for (size_t d = 0; d < ndoc; d++) {
        alim_markov_sample(&s.comp[1], &r, x, len);
        for (size_t t = 1; t < len; t++) cnt[x[t - 1] * n + x[t]]++;
    }
    double worst = 0;
    for (size_t a = 0; a < n; a++) {
        double row = 0;
        for (size_t b = 0; b < n; b++) row += cnt[a * n + b];
        for (size_t b = 0; b < n; b++) {
            double p = s.comp[1].P[a * n + b], f = cnt[a * n + b] / row;
            double se = sqrt(p * (1 - p) / row) + 1e-12;
            if (p == 0 && f > 0) worst = INFINITY;
            if (p > 0 && fabs(f - p) / se > worst) worst = fabs(f - p) / se;
        }
    }
    CHECK(worst < 5.0, "transition frequencies within 5 SE of P (worst %.2f)", worst);
    free(cnt);

    /* Monte Carlo: per-document entropy of C1 and of the mixture */
    double q[3] = {0.9, 0.05, 0.05}, lo, ex, up;
    CHECK(alim_source_mixture_doc_entropy(&s, q, &lo, &ex, &up, NULL) == ALIM_OK, "mixture entropy");
    CHECK(lo <= ex && ex <= up, "exact within bounds");
    double sum = 0, sum2 = 0, ms = 0, ms2 = 0;
    size_t N = 4000, comp_count[3] = {0};
    for (size_t d = 0; d < N; d++) {
        alim_markov_sample(&s.comp[0], &r, x, len);
        double v = -alim_markov_doc_logprob(&s.comp[0], x, len);
        sum += v, sum2 += v * v;
        size_t i = alim_source_pick(q, 3, &r);
        comp_count[i]++;
        alim_markov_sample(&s.comp[i], &r, x, len);
        v = -alim_source_mixture_logprob(&s, q, x);
        ms += v, ms2 += v * v;
    }
    double m1 = sum / N, se1 = sqrt((sum2 / N - m1 * m1) / N);
    CHECK(fabs(m1 - e.doc_nats[0]) < 4 * se1, "MC doc entropy of C1 %.3f vs exact %.3f (SE %.3f)", m1, e.doc_nats[0], se1);
    double m2 = ms / N, se2 = sqrt((ms2 / N - m2 * m2) / N);
    CHECK(fabs(m2 - ex) < 4 * se2, "MC mixture doc entropy %.3f vs exact %.3f (SE %.3f)", m2, ex, se2);
    CHECK(fabs((double)comp_count[0] / N - 0.9) < 4 * sqrt(0.09 / N), "component draws follow the shares");
    alim_source_free(&s);

    /* a small source where documents often reveal nothing: exact strictly inside the bounds */
    alim_source_config c2 = cfg;
    c2.n_symbols = 16;
    c2.n_decision = 2;
    c2.branching = 4;
    c2.doc_len = 6;
    c2.seed = 5;
    CHECK(alim_source_build(&s, &c2, NULL) == ALIM_OK, "small source");
    double q2[3] = {0.5, 0.3, 0.2};
    alim_source_mixture_doc_entropy(&s, q2, &lo, &ex, &up, NULL);
    CHECK(lo < ex && ex < up, "small source: exact strictly inside (%g < %g < %g)", lo, ex, up);
    /* brute force over all 16^6 documents is 16.7M; Monte Carlo instead */
    ms = ms2 = 0;
    N = 200000;
    for (size_t d = 0; d < N; d++) {
        size_t i = alim_source_pick(q2, 3, &r);
        alim_markov_sample(&s.comp[i], &r, x, c2.doc_len);
        double v = -alim_source_mixture_logprob(&s, q2, x);
        ms += v, ms2 += v * v;
    }
    m2 = ms / N, se2 = sqrt((ms2 / N - m2 * m2) / N);
    CHECK(fabs(m2 - ex) < 4 * se2, "small source MC %.4f vs exact %.4f (SE %.4f)", m2, ex, se2);
    alim_source_free(&s);

    /* bad configurations */
    alim_source_config bad = cfg;
    bad.branching = 30;
    alim_error err;
    CHECK(alim_source_build(&s, &bad, &err) == ALIM_EINVAL, "branching too large");
}

/* documents as strings: a simple open-addressing set of (ptr,len) */
typedef struct {
    const uint8_t **p;
    size_t *len, cap;
} docset;
static uint64_t hbytes(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}
/* returns 1 if newly inserted, 0 if already there */
static int docset_add(docset *s, const uint8_t *p, size_t n)
{
    size_t i = hbytes(p, n) & (s->cap - 1);
    while (s->p[i]) {
        if (s->len[i] == n && !memcmp(s->p[i], p, n)) return 0;
        i = (i + 1) & (s->cap - 1);
    }
    s->p[i] = p;
    s->len[i] = n;
    return 1;
}

static int splits_disjoint(const alim_splits *sp)
{
    docset s = {calloc(1 << 17, sizeof(void *)), calloc(1 << 17, sizeof(size_t)), 1 << 17};
    int ok = 1;
    const alim_corpus *all[4 * ALIM_CORPUS_MAX_COMPONENTS + 2];
    size_t na = 0;
    all[na++] = &sp->pretrain;
    all[na++] = &sp->test_mix;
    for (size_t i = 0; i < sp->n_components; i++) {
        all[na++] = &sp->pool[i];
        all[na++] = &sp->test[i];
        all[na++] = &sp->classifier[i];
    }
    for (size_t c = 0; c < na; c++)
        for (size_t d = 0; d < all[c]->n_docs; d++) {
            size_t len;
            const uint8_t *p = alim_corpus_doc(all[c], d, &len);
            if (!docset_add(&s, p, len)) ok = 0;
        }
    free(s.p), free(s.len);
    return ok;
}

static void test_splits(void)
{
    /* synthetic splits */
    alim_source_config cfg;
    alim_source_config_default(&cfg);
    alim_source s;
    alim_source_build(&s, &cfg, NULL);
    alim_split_config sc;
    alim_split_config_default(&sc);
    sc.pretrain_docs = 3000;
    sc.pool_docs = 500;
    sc.classifier_docs = 100;
    alim_splits sp;
    CHECK(alim_source_make_splits(&s, &sc, &sp, NULL) == ALIM_OK, "synthetic splits");
    CHECK(sp.pretrain.n_docs == 3000 && sp.pool[2].n_docs == 500 && sp.test[1].n_docs == 256, "sizes");
    CHECK(splits_disjoint(&sp), "synthetic splits share no document");
    size_t c2 = 0;
    for (size_t d = 0; d < sp.pretrain.n_docs; d++) c2 += sp.pretrain_comp[d] == 1;
    CHECK(fabs(c2 / 3000.0 - 0.05) < 4 * sqrt(0.05 * 0.95 / 3000), "pretraining shares");
    int sym_ok = 1;
    for (size_t i = 0; i < alim_corpus_bytes(&sp.pool[0]); i++)
        if (sp.pool[0].bytes[i] < '0' || sp.pool[0].bytes[i] >= '0' + 64) sym_ok = 0;
    CHECK(sym_ok, "symbols written as '0'+s");
    /* the documents of test_c2 have probability > 0 under C2 only when they use C2's rows */
    size_t len;
    const uint8_t *p = alim_corpus_doc(&sp.test[1], 0, &len);
    uint8_t x[128];
    for (size_t t = 0; t < len; t++) x[t] = (uint8_t)alim_source_byte_symbol(p[t]);
    CHECK(isfinite(alim_markov_doc_logprob(&s.comp[1], x, len)), "test_c2 doc possible under C2");
    alim_splits_free(&sp);
    /* the generator API: seeded, component labels follow the shares */
    alim_corpus g1, g2;
    memset(&g1, 0, sizeof g1);
    memset(&g2, 0, sizeof g2);
    uint8_t *gc = NULL;
    double gq[3] = {0.2, 0.3, 0.5};
    CHECK(alim_source_generate(&s, gq, 0, 2000, 9, 1, &g1, &gc, NULL) == ALIM_OK, "generate mixture");
    CHECK(alim_source_generate(&s, gq, 0, 2000, 9, 1, &g2, NULL, NULL) == ALIM_OK, "generate again");
    CHECK(g1.n_docs == 2000 && !memcmp(g1.bytes, g2.bytes, alim_corpus_bytes(&g1)), "generator is seeded");
    size_t n3 = 0;
    for (size_t d = 0; d < 2000; d++) n3 += gc[d] == 2;
    CHECK(fabs(n3 / 2000.0 - 0.5) < 4 * sqrt(0.25 / 2000), "generated components follow the shares");
    int lab_ok = 1;
    for (size_t d = 0; d < 2000; d++) {
        const uint8_t *gp = alim_corpus_doc(&g1, d, &len);
        for (size_t t = 0; t < len; t++) x[t] = (uint8_t)alim_source_byte_symbol(gp[t]);
        if (!isfinite(alim_markov_doc_logprob(&s.comp[gc[d]], x, len))) lab_ok = 0;
    }
    CHECK(lab_ok, "each document is possible under its labelled component");
    free(gc);
    alim_corpus_free(&g1);
    alim_corpus_free(&g2);
    CHECK(alim_source_generate(&s, NULL, 3, 1, 9, 1, &g1, NULL, NULL) == ALIM_EINVAL, "component out of range");
    alim_corpus_free(&g1);
    alim_source_free(&s);

    /* windows: text where every window is unique (its index written in it) */
    alim_corpus win[3];
    memset(win, 0, sizeof win);
    char buf[64];
    size_t nw[3] = {5000, 800, 900};
    for (int c = 0; c < 3; c++) {
        size_t tl = nw[c] * 32;
        char *text = malloc(tl + 1);
        for (size_t w = 0; w < nw[c]; w++) {
            snprintf(buf, sizeof buf, "component %d window %-12zu....", c, w);
            memcpy(text + w * 32, buf, 32);
        }
        CHECK(alim_corpus_add_windows(&win[c], text, tl, 32, NULL) == ALIM_OK, "windows");
        CHECK(win[c].n_docs == nw[c], "window count");
        free(text);
    }
    const alim_corpus *wp[3] = {&win[0], &win[1], &win[2]};
    alim_split_config wc;
    alim_split_config_default(&wc);
    wc.pretrain_docs = 4000;
    wc.test_docs = 64;
    wc.classifier_docs = 50;
    wc.pool_docs = 10000;
    CHECK(alim_splits_from_windows(&sp, wp, &wc, NULL) == ALIM_OK, "window splits");
    CHECK(splits_disjoint(&sp), "window splits share no window");
    size_t used[3] = {0};
    for (int c = 0; c < 3; c++) used[c] = sp.test[c].n_docs + sp.classifier[c].n_docs + sp.pool[c].n_docs;
    for (size_t d = 0; d < sp.test_mix.n_docs; d++) used[sp.test_mix_comp[d]]++;
    for (size_t d = 0; d < sp.pretrain.n_docs; d++) used[sp.pretrain_comp[d]]++;
    for (int c = 0; c < 3; c++) CHECK(used[c] == nw[c], "every window used once (pool takes the rest)");
    CHECK(sp.pretrain.n_docs == 4000, "pretraining size");
    alim_splits_free(&sp);
    /* as many as fit */
    wc.pretrain_docs = SIZE_MAX;
    CHECK(alim_splits_from_windows(&sp, wp, &wc, NULL) == ALIM_OK, "auto pretraining size");
    CHECK(sp.pretrain.n_docs > 5000 && splits_disjoint(&sp), "auto size fits (%zu)", sp.pretrain.n_docs);
    CHECK(sp.pool[0].n_docs < 2, "auto size takes all of the limiting component (%zu left)", sp.pool[0].n_docs);
    alim_splits_free(&sp);
    /* too few windows */
    wc.pretrain_docs = 20000;
    alim_error err;
    CHECK(alim_splits_from_windows(&sp, wp, &wc, &err) == ALIM_EINVAL, "too few windows");
    CHECK(strstr(err.where, "component") != NULL, "error names the component");

    /* write + read round trip, atomic output directory */
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/alim_test_elastic_%ld", (long)getpid());
    alim_outdir od;
    wc.pretrain_docs = 1000;
    alim_splits_from_windows(&sp, wp, &wc, NULL);
    CHECK(alim_outdir_begin(&od, dir, NULL) == ALIM_OK, "outdir begin");
    CHECK(access(dir, F_OK) != 0, "nothing at DIR before commit");
    CHECK(alim_splits_write(&sp, &od, NULL) == ALIM_OK, "write splits");
    CHECK(alim_outdir_commit(&od, NULL) == ALIM_OK, "commit");
    char path[512];
    snprintf(path, sizeof path, "%s/test_c2.txt", dir);
    alim_corpus back;
    CHECK(alim_corpus_read(&back, path, NULL) == ALIM_OK, "read back");
    CHECK(back.n_docs == sp.test[1].n_docs && alim_corpus_bytes(&back) == alim_corpus_bytes(&sp.test[1]) &&
              !memcmp(back.bytes, sp.test[1].bytes, alim_corpus_bytes(&back)),
          "round trip");
    alim_corpus_free(&back);
    CHECK(alim_outdir_begin(&od, dir, &err) == ALIM_EINVAL, "non-empty DIR refused");
    /* clean up */
    const char *names[] = {"pretrain.txt", "pretrain_components.txt", "test_mix.txt", "test_mix_components.txt",
                           "pool_c1.txt", "pool_c2.txt", "pool_c3.txt", "test_c1.txt", "test_c2.txt", "test_c3.txt",
                           "classifier_c1.txt", "classifier_c2.txt", "classifier_c3.txt"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        remove(path);
    }
    CHECK(rmdir(dir) == 0, "only the expected files were written");
    /* abort leaves nothing */
    CHECK(alim_outdir_begin(&od, dir, NULL) == ALIM_OK, "begin again");
    alim_corpus_write(&sp.test[0], alim_outdir_file(&od, "x.txt"), NULL);
    alim_outdir_abort(&od);
    snprintf(path, sizeof path, "%s.tmp.%ld", dir, (long)getpid());
    CHECK(access(dir, F_OK) != 0 && access(path, F_OK) != 0, "abort removes everything");
    alim_splits_free(&sp);
    for (int c = 0; c < 3; c++) alim_corpus_free(&win[c]);

    /* documents the format cannot hold are skipped as windows */
    alim_corpus c;
    memset(&c, 0, sizeof c);
    const char t[] = "abcdefghijklmnop                <|endoftext|>xyzabcdefghijklmnopqrstuvwxyz";
    alim_corpus_add_windows(&c, t, sizeof t - 1, 16, NULL);
    CHECK(c.n_docs == 2, "blank and delimiter windows skipped (%zu)", c.n_docs);
    alim_corpus_free(&c);
}

static void test_dedup(void)
{
    alim_corpus c[2];
    memset(c, 0, sizeof c);
    const char *a[] = {"xx", "yy", "xx", "zz"}, *b[] = {"yy", "ww", "ww"};
    for (int i = 0; i < 4; i++) alim_corpus_add(&c[0], a[i], 2, NULL);
    for (int i = 0; i < 3; i++) alim_corpus_add(&c[1], b[i], 2, NULL);
    size_t rem[2];
    CHECK(alim_corpus_dedup(c, 2, rem, NULL) == ALIM_OK, "dedup");
    CHECK(c[0].n_docs == 3 && c[1].n_docs == 1 && rem[0] == 1 && rem[1] == 2, "dedup counts %zu %zu", c[0].n_docs, c[1].n_docs);
    size_t len;
    const uint8_t *p = alim_corpus_doc(&c[1], 0, &len);
    CHECK(len == 2 && !memcmp(p, "ww", 2), "dedup keeps the first");
    alim_corpus_free(&c[0]);
    alim_corpus_free(&c[1]);
}

static void test_text_sources(void)
{
    const char f[] = "First cookie\nline two\n%\nSecond\n%\n";
    char *o;
    size_t n, k;
    alim_text_fortunes(f, sizeof f - 1, &o, &n, &k, NULL);
    CHECK(k == 2 && !strcmp(o, "First cookie\nline two\n\nSecond\n\n"), "fortunes: %zu cookies, '%s'", k, o);
    free(o);
    const char b[] = "Ge1:1 In the beginning God created.\n1Co13:4 Charity suffereth long.\n\nJude1:3 Beloved, when\n";
    alim_text_strip_verse_refs(b, sizeof b - 1, &o, &n, NULL);
    CHECK(!strcmp(o, "In the beginning God created.\nCharity suffereth long.\nBeloved, when\n"), "verse refs: '%s'", o);
    free(o);
}

int main(int argc, char **argv)
{
    (void)argc;
    test_chain_exact();
    test_source_structure();
    test_splits();
    test_text_sources();
    test_dedup();
    return check_summary(argv[0]);
}
