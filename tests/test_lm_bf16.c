/* test_lm_bf16.c — the bf16 matrix-product module (src/lm/gemm_bf16.h): float <-> bfloat16
 * conversion against hand-computed round-to-nearest-even cases and an independent
 * reference; lm_gemm_bf16 against a double-precision product of the rounded inputs for
 * every transpose combination, odd shapes, strides wider than the matrices, alpha, beta
 * and each epilogue; the same bits on repeated calls, from two threads at once, from inside
 * an OpenMP parallel region, after the cache is released, and with the inputs given in
 * bf16 instead of fp32. Without native bf16 only the conversion is checked (and that the
 * product declines with C untouched). */
#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/lm/gemm_bf16.h"
#include "alim/rng.h"
#include "check.h"

static float f_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static uint32_t u_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* ---- conversion -------------------------------------------------------------------------- */

/* An independent reference for one value: the two bf16 neighbours of x (truncation and
 * truncation + 1 ulp), compared by exact distance in double (both distances are exact:
 * they are differences of numbers with at most 24 significant bits, at most 2^128 apart),
 * the nearer one or, at a tie, the one with an even last bit. The upper neighbour of the
 * largest finite bf16 is 2^128 in this comparison, which is where IEEE rounding overflows
 * to inf. */
static lm_bf16 ref_bf16(float x)
{
    const uint32_t u = u_of(x);
    if (isnan(x)) return 0x7FC0;
    if (isinf(x)) return (lm_bf16)(u >> 16);
    const uint32_t lo = u >> 16, hi = lo + 1; /* same sign; magnitudes lo <= |x| < hi */
    const double ax = fabs((double)x), alo = fabs((double)f_of(lo << 16));
    const double ahi = (hi & 0x7FFF) == 0x7F80 ? ldexp(1.0, 128) : fabs((double)f_of(hi << 16));
    const double dlo = ax - alo, dhi = ahi - ax;
    if (dlo < dhi) return (lm_bf16)lo;
    if (dhi < dlo) return (lm_bf16)hi;
    return (lm_bf16)((lo & 1) ? hi : lo);
}

static void test_conversion_cases(void)
{
    /* input bits -> bf16 bits, by hand */
    static const struct {
        uint32_t in;
        uint16_t want;
        const char *what;
    } cases[] = {
        {0x3F800000u, 0x3F80, "1"},
        {0x3F808000u, 0x3F80, "1 + 2^-8: tie, kept part even -> down"},
        {0x3F818000u, 0x3F82, "tie, kept part odd -> up"},
        {0x3F808001u, 0x3F81, "just above the tie -> up"},
        {0x3F807FFFu, 0x3F80, "just below the tie -> down"},
        {0xBF818000u, 0xBF82, "negative tie, odd -> away from zero"},
        {0x3FFF8000u, 0x4000, "tie, odd, carry into the exponent"},
        {0x00000000u, 0x0000, "+0"},
        {0x80000000u, 0x8000, "-0"},
        {0x00000001u, 0x0000, "smallest denormal -> +0"},
        {0x80000001u, 0x8000, "smallest negative denormal -> -0"},
        {0x00008000u, 0x0000, "denormal tie, even -> down"},
        {0x00018000u, 0x0002, "denormal tie, odd -> up"},
        {0x00008001u, 0x0001, "denormal above the tie -> smallest bf16 denormal"},
        {0x007FFFFFu, 0x0080, "largest denormal -> smallest normal"},
        {0x00800000u, 0x0080, "smallest normal"},
        {0x7F7F0000u, 0x7F7F, "largest finite bf16, exact"},
        {0x7F7F7FFFu, 0x7F7F, "below the overflow tie -> largest finite"},
        {0x7F7F8000u, 0x7F80, "overflow tie, odd -> inf"},
        {0x7F7FFFFFu, 0x7F80, "FLT_MAX -> inf"},
        {0xFF7FFFFFu, 0xFF80, "-FLT_MAX -> -inf"},
        {0x7F800000u, 0x7F80, "inf"},
        {0xFF800000u, 0xFF80, "-inf"},
        {0x7FC00000u, 0x7FC0, "quiet NaN"},
        {0x7F800001u, 0x7FC0, "signalling NaN (would truncate to inf) -> quiet NaN"},
        {0x7F80FFFFu, 0x7FC0, "NaN whose rounding would carry -> quiet NaN"},
        {0xFFFFFFFFu, 0x7FC0, "negative NaN, all payload bits -> 0x7FC0"},
        {0x40490FDBu, 0x4049, "pi"},
        {0x3DCCCCCDu, 0x3DCD, "0.1"},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    float in[64];
    lm_bf16 out[64];
    for (size_t i = 0; i < n; i++) in[i] = f_of(cases[i].in);
    lm_f32_to_bf16(out, in, n);
    for (size_t i = 0; i < n; i++) {
        CHECK(out[i] == cases[i].want, "%s: 0x%08x -> 0x%04x, want 0x%04x", cases[i].what, cases[i].in, out[i], cases[i].want);
        CHECK(ref_bf16(in[i]) == cases[i].want, "reference on %s: 0x%04x", cases[i].what, ref_bf16(in[i]));
    }
    /* the same cases one at a time and at every offset of a longer array (the vector body
     * and the scalar tail of each clone) */
    int bad = 0;
    for (size_t len = 1; len <= 67; len++)
        for (size_t i = 0; i < len; i++) {
            float buf[67];
            lm_bf16 o[67];
            for (size_t j = 0; j < len; j++) buf[j] = f_of(cases[(i + j) % n].in);
            lm_f32_to_bf16(o, buf, len);
            for (size_t j = 0; j < len; j++) bad += o[j] != cases[(i + j) % n].want;
        }
    CHECK(bad == 0, "%d mismatches at other lengths and offsets", bad);
}

static void test_conversion_reference(void)
{
    /* every exponent and sign with random mantissas, the low 16 bits near the tie, and
     * plain random patterns: 2^20 values against the reference */
    enum { N = 1 << 20 };
    float *x = malloc(N * sizeof *x);
    lm_bf16 *h = malloc(N * sizeof *h);
    alim_rng r;
    alim_rng_seed(&r, 18, 1);
    for (size_t i = 0; i < N; i++) {
        uint32_t u = (uint32_t)alim_rng_next(&r);
        if (i % 4 == 1) u = (u & 0xFFFF0000u) | (0x8000u + (uint32_t)(i % 7) - 3u); /* around the tie */
        if (i % 4 == 2) u = (u & 0x807FFFFFu) | ((uint32_t)(i / 4 % 256) << 23);   /* every exponent */
        x[i] = f_of(u);
    }
    lm_f32_to_bf16(h, x, N);
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) bad += h[i] != ref_bf16(x[i]);
    CHECK(bad == 0, "%zu of %d random patterns differ from the reference", bad, N);

    /* widening is exact, and narrowing gives back every bf16 except NaNs (-> 0x7FC0) */
    float f[65536];
    lm_bf16 all[65536], back[65536];
    for (uint32_t i = 0; i < 65536; i++) all[i] = (lm_bf16)i;
    lm_bf16_to_f32(f, all, 65536);
    lm_f32_to_bf16(back, f, 65536);
    size_t wbad = 0, rbad = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        wbad += u_of(f[i]) != i << 16;
        const int nan = (i & 0x7F80) == 0x7F80 && (i & 0x7F);
        rbad += back[i] != (nan ? 0x7FC0 : i);
    }
    CHECK(wbad == 0, "%zu bf16 values not widened to their bits << 16", wbad);
    CHECK(rbad == 0, "%zu bf16 values not given back by a round trip", rbad);
    free(x);
    free(h);
}

/* ---- the product ------------------------------------------------------------------------- */

/* A product case: C (M,N) = alpha op(A) op(B) + beta C, stored matrices with extra columns
 * (strides wider than the widths); epilogue flags. */
typedef struct {
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K, pad;
    float alpha, beta;
    int bias, gelu, add;
} gcase;

typedef struct {
    float *A, *B, *C0, *bias, *add_in;
    lm_bf16 *Ah, *Bh;
    size_t na, nb, nc;
    int lda, ldb, ldc;
} operands;

static float *rand_floats(alim_rng *r, size_t n, double scale)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)(scale * (2.0 * alim_rng_uniform(r) - 1.0));
    return p;
}

static void operands_make(operands *o, const gcase *g, uint64_t seed)
{
    alim_rng r;
    alim_rng_seed(&r, seed, 2);
    const int ra = g->ta == CblasNoTrans ? g->M : g->K, wa = g->ta == CblasNoTrans ? g->K : g->M;
    const int rb = g->tb == CblasNoTrans ? g->K : g->N, wb = g->tb == CblasNoTrans ? g->N : g->K;
    o->lda = wa + g->pad, o->ldb = wb + 2 * g->pad, o->ldc = g->N + 3 * g->pad;
    o->na = (size_t)ra * o->lda, o->nb = (size_t)rb * o->ldb, o->nc = (size_t)g->M * o->ldc;
    o->A = rand_floats(&r, o->na, 1.0);
    o->B = rand_floats(&r, o->nb, 1.0);
    o->C0 = rand_floats(&r, o->nc, 1.0);
    o->bias = rand_floats(&r, (size_t)g->N, 0.5);
    o->add_in = rand_floats(&r, o->nc, 1.0);
    o->Ah = malloc((o->na ? o->na : 1) * sizeof *o->Ah);
    o->Bh = malloc((o->nb ? o->nb : 1) * sizeof *o->Bh);
    lm_f32_to_bf16(o->Ah, o->A, o->na);
    lm_f32_to_bf16(o->Bh, o->B, o->nb);
}

static void operands_free(operands *o)
{
    free(o->A), free(o->B), free(o->C0), free(o->bias), free(o->add_in), free(o->Ah), free(o->Bh);
}

/* the bf16 value of stored element i as a double */
static double hv(const lm_bf16 *h, size_t i) { return (double)f_of((uint32_t)h[i] << 16); }

/* Runs the case into C (copy of C0, with sentinels in the gaps) and the epilogue outputs;
 * which: 0 fp32 inputs, 1 bf16 A, 2 bf16 B, 3 both bf16. Returns lm_gemm_bf16's status. */
static int run_case(const gcase *g, const operands *o, int which, float *C, float *gelu_out, float *add_out)
{
    memcpy(C, o->C0, o->nc * sizeof *C);
    if (g->beta == 0.0f)
        for (size_t i = 0; i < o->nc; i++) C[i] = NAN; /* beta 0 must ignore C entirely */
    const lm_gemm_epilogue e = {g->bias ? o->bias : NULL, g->gelu ? gelu_out : NULL, g->add ? add_out : NULL, o->add_in};
    return lm_gemm_bf16(g->ta, g->tb, g->M, g->N, g->K, g->alpha, (which & 1) ? NULL : o->A,
                        (which & 1) ? o->Ah : NULL, o->lda, (which & 2) ? NULL : o->B,
                        (which & 2) ? o->Bh : NULL, o->ldb, g->beta, C, o->ldc,
                        g->bias || g->gelu || g->add ? &e : NULL);
}

/* The oracle and its bound. The inputs are bf16 (8 significant bits), so each product a b
 * has at most 16 significant bits and is exact in fp32; the only errors are the fp32
 * additions of the K products (in whatever order and blocking oneDNN takes, a summation
 * tree of depth at most K - 1) and the final alpha scaling and beta / bias addition.
 * With u = 2^-24 and S = sum_k |a_k b_k|, a summation of K terms in any order is off by at
 * most (K - 1) u S / (1 - (K - 1) u) (Higham, Accuracy and Stability, 4.2), then alpha
 * (one rounding: u |alpha acc|), the beta term (one rounding) and their sum (one rounding):
 *     |C - ref| <= |alpha| (K - 1) u S (1 + 1e-3) + 3 u (|alpha| S + |beta c|)
 * which (K + 2) u (|alpha| S + |beta c|) bounds, times 2 for the flush of denormal
 * results to zero in vdpbf16ps / tdpbf16ps (never reached with these magnitudes) and
 * oneDNN possibly fusing the sum post-op into an FMA (which only removes a rounding).
 * For random inputs the actual error is far below this worst case; the bound is what no
 * correct implementation can exceed, and a wrong transpose, stride or epilogue breaks it
 * by orders of magnitude. */
static void check_case(const gcase *g, const char *name)
{
    operands o;
    operands_make(&o, g, (uint64_t)g->M * 1000003u + (uint64_t)g->N * 1009u + (uint64_t)g->K);
    float *C = malloc(o.nc * sizeof *C), *G = malloc(o.nc * sizeof *G), *D = malloc(o.nc * sizeof *D);
    for (size_t i = 0; i < o.nc; i++) G[i] = D[i] = -7.0f; /* sentinels */
    const int rc = run_case(g, &o, 0, C, G, D);
    CHECK(rc == 0, "%s: lm_gemm_bf16 returned %d", name, rc);
    if (rc) goto done;
    const double u = ldexp(1.0, -24);
    int bad = 0, gap = 0, ebad = 0;
    double worst = 0.0;
    for (int m = 0; m < g->M; m++) {
        for (int n = 0; n < g->N; n++) {
            double acc = 0.0, S = 0.0;
            for (int k = 0; k < g->K; k++) {
                const size_t ia = g->ta == CblasNoTrans ? (size_t)m * o.lda + k : (size_t)k * o.lda + m;
                const size_t ib = g->tb == CblasNoTrans ? (size_t)k * o.ldb + n : (size_t)n * o.ldb + k;
                const double p = hv(o.Ah, ia) * hv(o.Bh, ib);
                acc += p;
                S += fabs(p);
            }
            const size_t ic = (size_t)m * o.ldc + n;
            const double c0 = g->bias ? (double)o.bias[n] : (double)o.C0[ic];
            const double bc = g->beta == 0.0f ? 0.0 : (double)g->beta * c0;
            const double ref = (double)g->alpha * acc + bc;
            const double tol = 2.0 * (g->K + 2) * u * (fabs((double)g->alpha) * S + fabs(bc));
            const double err = fabs((double)C[ic] - ref);
            if (!(err <= tol)) {
                if (bad++ < 3)
                    fprintf(stderr, "  %s: C[%d,%d] = %.9g, want %.9g (tol %.3g)\n", name, m, n, C[ic], ref, tol);
            }
            if (tol > 0 && err / tol > worst) worst = err / tol;
            /* the epilogue: the same fp32 operations on the C just computed */
            if (g->gelu) {
                float want;
                lm_gelu_forward_chunk(&want, &C[ic], 1);
                ebad += u_of(G[ic]) != u_of(want);
            }
            if (g->add) ebad += u_of(D[ic]) != u_of(o.add_in[ic] + C[ic]);
        }
        for (int n = g->N; n < o.ldc; n++) { /* the gaps between rows are not written */
            const size_t ic = (size_t)m * o.ldc + n;
            gap += g->beta == 0.0f ? !isnan(C[ic]) : u_of(C[ic]) != u_of(o.C0[ic]);
            gap += (g->gelu && G[ic] != -7.0f) + (g->add && D[ic] != -7.0f);
        }
    }
    CHECK(bad == 0, "%s: %d of %d entries outside the bound (worst err/tol %.3g)", name, bad, g->M * g->N, worst);
    CHECK(ebad == 0, "%s: %d epilogue entries differ from gelu/add of C", name, ebad);
    CHECK(gap == 0, "%s: %d entries between rows written", name, gap);
    /* the inputs given in bf16 (either or both) meet the same primitive: the same bits */
    float *C2 = malloc(o.nc * sizeof *C2);
    for (int which = 1; which <= 3; which++) {
        const int rc2 = run_case(g, &o, which, C2, G, D);
        CHECK(rc2 == 0 && !memcmp(C, C2, o.nc * sizeof *C), "%s: inputs in bf16 (%d) give other bits", name, which);
    }
    free(C2);
done:
    free(C), free(G), free(D);
    operands_free(&o);
}

static void test_products(void)
{
    static const int shapes[][3] = {{1, 1, 1}, {1, 64, 37}, {17, 9, 1}, {7, 13, 5}, {300, 200, 129}};
    static const CBLAS_TRANSPOSE tr[2] = {CblasNoTrans, CblasTrans};
    static const float ab[][2] = {{1.0f, 0.0f}, {-0.75f, 1.0f}, {1.0f, 1.0f}, {0.5f, -0.5f}};
    char name[160];
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int pad = 0; pad <= 3; pad += 3)
                for (size_t a = 0; a < sizeof ab / sizeof ab[0]; a++) {
                    const gcase g = {tr[t >> 1], tr[t & 1], shapes[s][0], shapes[s][1], shapes[s][2], pad,
                                     ab[a][0], ab[a][1], 0, 0, 0};
                    snprintf(name, sizeof name, "%dx%dx%d %c%c pad %d alpha %g beta %g", g.M, g.N, g.K,
                             t >> 1 ? 'T' : 'N', t & 1 ? 'T' : 'N', pad, g.alpha, g.beta);
                    check_case(&g, name);
                }
    /* each epilogue alone and as the model uses them (bias + GELU, bias + residual) */
    static const int epi[][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {1, 0, 1}, {1, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t i = 0; i < sizeof epi / sizeof epi[0]; i++)
            for (int t = 0; t < 4; t += 3) {
                const gcase g = {tr[t >> 1], tr[t & 1], shapes[s][0], shapes[s][1], shapes[s][2], 2,
                                 1.0f, epi[i][0] ? 1.0f : 0.0f, epi[i][0], epi[i][1], epi[i][2]};
                snprintf(name, sizeof name, "%dx%dx%d %c%c epilogue bias %d gelu %d add %d", g.M, g.N, g.K,
                         t >> 1 ? 'T' : 'N', t & 1 ? 'T' : 'N', g.bias, g.gelu, g.add);
                check_case(&g, name);
            }
}

/* ---- determinism ---------------------------------------------------------------------- */

/* The engine's shapes, smaller: a GPT-2 MLP product (rows x 768 -> 2304) and a weight
 * gradient (768 x 2304 over the rows), the latter the kind of product where oneDNN may
 * split the K reduction over threads. */
typedef struct {
    const gcase *g;
    const operands *o;
    float *C;
    int rc;
} job;

static void *job_run(void *p)
{
    job *j = p;
    j->rc = run_case(j->g, j->o, 0, j->C, NULL, NULL);
    return NULL;
}

static void test_determinism(void)
{
    const gcase cases[] = {
        {CblasNoTrans, CblasNoTrans, 256, 2304, 768, 0, 1.0f, 0.0f, 0, 0, 0},
        {CblasTrans, CblasNoTrans, 768, 2304, 256, 0, 1.0f, 1.0f, 0, 0, 0},
        {CblasNoTrans, CblasTrans, 64, 768, 3072, 0, 1.0f, 0.0f, 0, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const gcase *g = &cases[c];
        operands o;
        operands_make(&o, g, 77 + c);
        float *ref = malloc(o.nc * sizeof *ref), *C = malloc(o.nc * sizeof *C);
        CHECK(run_case(g, &o, 0, ref, NULL, NULL) == 0, "determinism case %zu runs", c);
        int same = 1;
        for (int rep = 0; rep < 3; rep++) {
            run_case(g, &o, 0, C, NULL, NULL);
            same &= !memcmp(C, ref, o.nc * sizeof *C);
        }
        CHECK(same, "case %zu: repeated calls give other bits", c);

        /* two threads at once, each with the process's OpenMP thread count */
        float *C1 = malloc(o.nc * sizeof *C1), *C2 = malloc(o.nc * sizeof *C2);
        int both = 1;
        for (int rep = 0; rep < 2; rep++) {
            job j1 = {g, &o, C1, -1}, j2 = {g, &o, C2, -1};
            pthread_t t1, t2;
            pthread_create(&t1, NULL, job_run, &j1);
            pthread_create(&t2, NULL, job_run, &j2);
            pthread_join(t1, NULL);
            pthread_join(t2, NULL);
            both &= j1.rc == 0 && j2.rc == 0 && !memcmp(C1, ref, o.nc * sizeof *C1) &&
                    !memcmp(C2, ref, o.nc * sizeof *C2);
        }
        CHECK(both, "case %zu: two threads at once give other bits", c);

        /* released cache: the primitive is created again, the same bits */
        lm_bf16_release();
        CHECK(run_case(g, &o, 0, C, NULL, NULL) == 0 && !memcmp(C, ref, o.nc * sizeof *C),
              "case %zu: other bits after lm_bf16_release", c);

        /* inside a parallel region each thread runs the product alone: the same bits as a
         * call on one thread outside it, whichever thread */
        const int nt = omp_get_max_threads();
        omp_set_num_threads(1);
        float *one = malloc(o.nc * sizeof *one);
        CHECK(run_case(g, &o, 0, one, NULL, NULL) == 0, "case %zu: one thread", c);
        omp_set_num_threads(nt > 1 ? nt : 2);
        float *Cn[2] = {C1, C2};
        int rcn[2] = {-1, -1}, team = 0;
#pragma omp parallel num_threads(2)
        {
            const int id = omp_get_thread_num();
#pragma omp single
            team = omp_get_num_threads();
            if (id < 2) rcn[id] = run_case(g, &o, 0, Cn[id], NULL, NULL);
            /* the caller's thread count is back after the call */
            if (omp_get_max_threads() != (nt > 1 ? nt : 2)) rcn[id] = -2;
        }
        omp_set_num_threads(nt);
        int nested_ok = rcn[0] == 0 && !memcmp(C1, one, o.nc * sizeof *C1);
        if (team == 2) nested_ok &= rcn[1] == 0 && !memcmp(C2, one, o.nc * sizeof *C2);
        CHECK(nested_ok, "case %zu: inside a parallel region (team %d, rc %d %d) not the one-thread bits", c, team, rcn[0], rcn[1]);
        free(one), free(ref), free(C), free(C1), free(C2);
        operands_free(&o);
    }
}

/* arguments out of range, K = 0, no-ops, and oneDNN's fp32 product */
static void test_edges(void)
{
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4] = {9, 9, 9, 9};
    const float keep[4] = {9, 9, 9, 9};
    CHECK(lm_gemm_bf16(CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0f, A, NULL, 2, B, NULL, 2, 0.0f, C, 2, NULL) == -1 &&
              !memcmp(C, keep, sizeof C),
          "lda below K declined, C untouched");
    CHECK(lm_gemm_bf16(CblasNoTrans, CblasNoTrans, -1, 2, 3, 1.0f, A, NULL, 3, B, NULL, 2, 0.0f, C, 2, NULL) == -1,
          "negative M declined");
    CHECK(lm_gemm_bf16(CblasNoTrans, CblasNoTrans, 2, 2, 0, 1.0f, A, NULL, 1, B, NULL, 2, 0.5f, C, 2, NULL) == 0 &&
              C[0] == 4.5f && C[3] == 4.5f,
          "K = 0: C = beta C (%g)", C[0]);
    CHECK(lm_gemm_bf16(CblasNoTrans, CblasNoTrans, 0, 2, 3, 1.0f, A, NULL, 3, B, NULL, 2, 0.0f, C, 2, NULL) == 0 &&
              C[0] == 4.5f,
          "M = 0: nothing to do");
    /* (2,3) @ (3,2) in fp32 through oneDNN: small integers, exact */
    CHECK(lm_gemm_dnnl_f32(CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2, NULL) == 0 &&
              C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11,
          "oneDNN fp32: %g %g %g %g", C[0], C[1], C[2], C[3]);
}

static void *native_probe(void *p)
{
    *(int *)p = lm_bf16_native();
    return NULL;
}

int main(int argc, char **argv)
{
    (void)argc;
    test_conversion_cases();
    test_conversion_reference();
    /* lm_bf16_native from several threads at once: one answer */
    int ans[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, native_probe, &ans[i]);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    const int native = lm_bf16_native();
    CHECK(ans[0] == native && ans[1] == native && ans[2] == native && ans[3] == native, "one answer");
    printf("native bf16: %d, oneDNN's bf16 matmul: %s\n", native, lm_bf16_isa());
    if (!native) {
        CHECK(!strcmp(lm_bf16_isa(), "none"), "isa without native bf16: %s", lm_bf16_isa());
        float A[1] = {1}, B[1] = {2}, C[1] = {3};
        CHECK(lm_gemm_bf16(CblasNoTrans, CblasNoTrans, 1, 1, 1, 1.0f, A, NULL, 1, B, NULL, 1, 0.0f, C, 1, NULL) == -1 &&
                  C[0] == 3.0f,
              "without native bf16 the product declines, C untouched");
        const char *base = strrchr(argv[0], '/');
        printf("%s: skipped: no native bf16 (products, determinism, epilogues)\n", base ? base + 1 : argv[0]);
        return check_summary(argv[0]);
    }
    test_products();
    test_determinism();
    test_edges();
    return check_summary(argv[0]);
}
