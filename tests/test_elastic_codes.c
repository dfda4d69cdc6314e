/* test_elastic_codes.c — Huffman optimality, the arithmetic coder, the depth-d tree protocol. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alim/arith.h"
#include "alim/corpus.h"
#include "alim/rng.h"
#include "alim/treecode.h"
#include "check.h"

/* the least sum w_i l_i over all integer lengths 1..n-1 satisfying Kraft (brute force) */
static double brute_best(const double *w, size_t n)
{
    unsigned l[8];
    for (size_t i = 0; i < n; i++) l[i] = 1;
    double best = INFINITY;
    for (;;) {
        double kraft = 0, cost = 0;
        for (size_t i = 0; i < n; i++) kraft += ldexp(1.0, -(int)l[i]), cost += w[i] * l[i];
        if (kraft <= 1 + 1e-12 && cost < best) best = cost;
        size_t i = 0;
        while (i < n && l[i] == n - 1) l[i++] = 1;
        if (i == n) break;
        l[i]++;
    }
    return best;
}

static void test_huffman(void)
{
    alim_rng r;
    alim_rng_seed(&r, 11, 0);
    for (int rep = 0; rep < 300; rep++) {
        size_t n = 2 + (size_t)alim_rng_below(&r, 5);
        double w[8];
        for (size_t i = 0; i < n; i++) w[i] = rep % 3 ? alim_rng_uniform(&r) : pow(alim_rng_uniform(&r), 4);
        if (rep % 7 == 0) w[0] = 0;
        unsigned len[8];
        CHECK(alim_huffman_lengths(w, n, len, NULL) == ALIM_OK, "huffman");
        double cost = 0, kraft = 0;
        for (size_t i = 0; i < n; i++) cost += w[i] * len[i], kraft += ldexp(1.0, -(int)len[i]);
        CHECK_ABS(kraft, 1.0, 1e-12, "Huffman code is complete (Kraft = 1)");
        double b = brute_best(w, n);
        CHECK(fabs(cost - b) <= 1e-12 * (1 + b), "Huffman optimal: %g vs brute force %g (n=%zu)", cost, b, n);
    }
    unsigned one;
    double w1 = 1;
    alim_huffman_lengths(&w1, 1, &one, NULL);
    CHECK(one == 1, "one symbol -> length 1");
    /* dyadic weights: lengths = -log2 p */
    double wd[4] = {0.5, 0.25, 0.125, 0.125};
    unsigned ld[4];
    alim_huffman_lengths(wd, 4, ld, NULL);
    CHECK(ld[0] == 1 && ld[1] == 2 && ld[2] == 3 && ld[3] == 3, "dyadic lengths");
}

static void test_arith(void)
{
    alim_rng r;
    alim_rng_seed(&r, 12, 0);
    for (int rep = 0; rep < 40; rep++) {
        size_t V = 2 + (size_t)alim_rng_below(&r, 60), N = 1 + (size_t)alim_rng_below(&r, 3000);
        if (rep == 0) N = 0;
        double *P = malloc((N + 1) * V * sizeof *P);
        size_t *x = malloc((N + 1) * sizeof *x);
        double ideal = 0, paid = 0, qerr = 0;
        for (size_t t = 0; t < N; t++) {
            double *p = P + t * V, s = 0;
            double skew = 1 + 8 * alim_rng_uniform(&r);
            for (size_t j = 0; j < V; j++) s += p[j] = pow(alim_rng_uniform_pos(&r), skew);
            if (rep % 5 == 1) p[0] = 1e-12 * s; /* a very unlikely symbol */
            if (rep % 5 == 2) p[V - 1] = 0;       /* an impossible symbol */
            s = 0;
            for (size_t j = 0; j < V; j++) s += p[j];
            for (size_t j = 0; j < V; j++) p[j] /= s;
            /* draw from p, but sometimes take the unlikely symbol 0 */
            double u = alim_rng_uniform(&r), c = 0;
            x[t] = V - 1;
            for (size_t j = 0; j < V; j++)
                if (u < (c += p[j]) && p[j] > 0) {
                    x[t] = j;
                    break;
                }
            if (p[x[t]] == 0) x[t] = 0;
            if (rep % 5 == 1 && t % 97 == 0) x[t] = 0;
            ideal -= log2(p[x[t]]);
            qerr += (1 / (p[x[t]] * 281474976710656.0) + (double)V / 281474976710656.0) / M_LN2;
            paid += alim_arith_cost_bits(p, V, x[t]);
        }
        alim_arith_encoder e;
        alim_arith_encoder_init(&e, NULL);
        int ok = 1;
        for (size_t t = 0; t < N; t++) ok &= alim_arith_encode(&e, P + t * V, V, x[t], NULL) == ALIM_OK;
        ok &= alim_arith_encoder_finish(&e, NULL) == ALIM_OK;
        CHECK(ok, "encode");
        CHECK((double)e.n_bits <= paid + 2 + 1e-6, "size within 2 bits: %llu bits vs %.3f (+2)", (unsigned long long)e.n_bits, paid);
        CHECK(fabs(paid - ideal) <= 1.01 * qerr + 1e-9, "quantisation within its bound: %.9g vs %.9g (bound %.3g)", paid, ideal, qerr);
        CHECK((double)e.n_bits <= ideal + 2 + 1.01 * qerr + 1e-6, "size within 2 bits of sum -log2 p (+quantisation)");
        CHECK(e.n_bytes == (e.n_bits + 7) / 8, "bytes");
        alim_arith_decoder d;
        alim_arith_decoder_init(&d, e.buf, e.n_bytes);
        int same = 1;
        for (size_t t = 0; t < N; t++) {
            size_t s;
            if (alim_arith_decode(&d, P + t * V, V, &s, NULL) || s != x[t]) same = 0;
        }
        CHECK(same, "round trip (V=%zu, N=%zu)", V, N);
        alim_arith_encoder_free(&e);
        free(P), free(x);
    }
    /* a symbol of probability 0 cannot be coded */
    alim_arith_encoder e;
    alim_arith_encoder_init(&e, NULL);
    double p[3] = {0.5, 0.5, 0};
    alim_error err;
    CHECK(alim_arith_encode(&e, p, 3, 2, &err) == ALIM_EINVAL, "p = 0 refused");
    CHECK(alim_arith_encode(&e, p, 3, 5, &err) == ALIM_EINVAL, "symbol out of range refused");
    alim_arith_encoder_free(&e);
    /* a certain symbol costs nothing: 10000 of them fit in 2 bits */
    alim_arith_encoder_init(&e, NULL);
    double one[2] = {1, 0};
    for (int t = 0; t < 10000; t++) alim_arith_encode(&e, one, 2, 0, NULL);
    alim_arith_encoder_finish(&e, NULL);
    CHECK(e.n_bits <= 2, "certain symbols are free (%llu bits)", (unsigned long long)e.n_bits);
    alim_arith_encoder_free(&e);
}

static void test_treecode(void)
{
    alim_rng r;
    alim_rng_seed(&r, 13, 0);
    alim_corpus c;
    memset(&c, 0, sizeof c);
    char doc[64];
    for (int d = 0; d < 300; d++) {
        size_t len = 1 + (size_t)alim_rng_below(&r, 40);
        for (size_t i = 0; i < len; i++) doc[i] = alim_rng_uniform(&r) < 0.8 ? 'a' : 'b';
        alim_corpus_add(&c, doc, len, NULL);
    }
    for (size_t depth = 1; depth <= 16; depth *= 2) {
        alim_treecode_result t;
        CHECK(alim_treecode_run(&c, depth, &t, NULL) == ALIM_OK, "treecode");
        /* brute force: chunk counts via a naive list */
        size_t nchunk = 0;
        for (size_t d = 0; d < c.n_docs; d++) nchunk += (c.off[d + 1] - c.off[d] + depth - 1) / depth;
        CHECK(t.n_chunks == nchunk, "chunks");
        CHECK(t.vocab == 2, "binary vocabulary");
        CHECK(t.huffman_bits_per_chunk >= t.entropy_bits_per_chunk - 1e-12 &&
                  t.huffman_bits_per_chunk < t.entropy_bits_per_chunk + 1,
              "H <= L < H + 1");
        CHECK(t.thm34_bits_per_token >= t.ceil_chunks_bits_per_token - 1e-12, "ceil(H) >= H");
        CHECK_ABS(t.ceil_chunks_bits_per_token, t.shannon_bits_per_token, 1e-12, "chunk ceiling is the chunk count");
        CHECK(t.arith_roundtrip_ok, "arith round trip");
        CHECK(t.arith_total_bits <= t.ideal_total_bits + 2 + 1e-6 && t.arith_total_bits >= t.ideal_total_bits - 1e-6,
              "arith within 2 bits of Shannon (%g vs %g)", t.arith_total_bits, t.ideal_total_bits);
        if (depth == 1) {
            /* depth 1: leaves are the symbols; H = order-0 entropy */
            CHECK_ABS(t.shannon_bits_per_token, t.order0_bits_per_token, 1e-12, "depth 1 = order 0");
            CHECK_ABS(t.huffman_bits_per_token, 1.0, 1e-12, "two symbols: Huffman pays 1 bit");
        }
    }
    alim_treecode_result t;
    alim_error err;
    CHECK(alim_treecode_run(&c, 17, &t, &err) == ALIM_EINVAL, "depth 17 refused");
    alim_corpus_free(&c);
}

int main(int argc, char **argv)
{
    (void)argc;
    test_huffman();
    test_arith();
    test_treecode();
    return check_summary(argv[0]);
}
