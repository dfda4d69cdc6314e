/* gemm_bf16.c — the bf16 matrix product through oneDNN's matmul primitive (gemm_bf16.h).
 *
 * One CPU engine for the process. Primitives are created once per (data type, transposes,
 * sizes, strides, alpha, beta, thread count) and kept in a small mutex-protected cache with
 * use counts, so that a primitive in use is never destroyed under a running product. Each
 * calling thread has its own stream and its own scratch (the bf16 copies of fp32 inputs and
 * oneDNN's scratchpad, which is user-managed: with the library's shared scratchpad, two
 * threads running one primitive at once would share memory), kept in a pthread key whose
 * destructor frees them when the thread ends. */
#include "gemm_bf16.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#ifdef ALIM_HAVE_DNNL
#include <dnnl.h>
#endif

/* ---- conversion ---------------------------------------------------------------------- */

/* Round to nearest even on the bit pattern: adding 0x7FFF plus the lowest kept bit carries
 * into the kept bits exactly when the dropped half is above one half, or equal to it and
 * the kept part is odd. A carry out of the mantissa bumps the exponent, which is right
 * (up to the next binade, and from the largest finite values to inf); inf's dropped half is
 * 0, so it stays inf. NaN would round to inf or change sign class, so it is replaced by the
 * quiet NaN 0x7FC0, as c10::BFloat16 does. A select rather than a branch, so the loop
 * vectorises (with the AVX-512 / AVX2 clones of LM_CLONES). */
LM_CLONES void lm_f32_to_bf16(lm_bf16 *restrict dst, const float *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, src + i, sizeof u);
        const uint32_t r = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
        dst[i] = (u & 0x7FFFFFFFu) > 0x7F800000u ? (lm_bf16)0x7FC0 : (lm_bf16)r;
    }
}

LM_CLONES void lm_bf16_to_f32(float *restrict dst, const lm_bf16 *restrict src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const uint32_t u = (uint32_t)src[i] << 16;
        memcpy(dst + i, &u, sizeof u);
    }
}

/* ---- the epilogue (the same steps as gemm_block in kernels.c) ------------------------- */

/* Loops over the M rows of C take the OpenMP threads when there are enough of them and the
 * caller is not already inside a parallel region (then the pragma's team has one thread). */
static void epi_bias(const lm_gemm_epilogue *e, float *C, int M, int N, int ldc)
{
#pragma omp parallel for schedule(static) if ((size_t)M * N >= PAR_MIN)
    for (int r = 0; r < M; r++) memcpy(C + (size_t)r * ldc, e->bias, (size_t)N * sizeof(float));
}

/* GELU and the residual addition in one pass over the rows (one parallel region: see
 * convert_operands); each reads C only, so their order does not matter */
static void epi_after(const lm_gemm_epilogue *e, const float *C, int M, int N, int ldc)
{
    if (!e->gelu_out && !e->add_out) return;
#pragma omp parallel for schedule(static) if ((size_t)M * N >= PAR_MIN)
    for (int r = 0; r < M; r++) {
        const size_t o = (size_t)r * ldc;
        if (e->gelu_out) lm_gelu_forward_chunk(e->gelu_out + o, C + o, (size_t)N);
        if (e->add_out) lm_add_vectors(e->add_out + o, e->add_in + o, C + o, (size_t)N);
    }
}

/* The stored matrix behind op(X) (rows x cols, row stride ld) of a product with sizes
 * (outer, K): X itself (outer x K, or K x outer for the B side) or its transpose. */
typedef struct {
    size_t rows, cols, ld;
} stored_shape;

static size_t stored_span(stored_shape s) { return s.rows ? (s.rows - 1) * s.ld + s.cols : 0; }

/* K == 0: no products to add, C = beta C as BLAS does (beta 0 writes zeros, not 0 * C,
 * so NaN in C goes away), then the epilogue. */
static void gemm_k0(int M, int N, float beta, float *C, int ldc, const lm_gemm_epilogue *e)
{
    if (e && e->bias) epi_bias(e, C, M, N, ldc);
    if (beta != 1.0f)
        for (int r = 0; r < M; r++)
            for (int c = 0; c < N; c++) {
                float *p = C + (size_t)r * ldc + c;
                *p = beta == 0.0f ? 0.0f : beta * *p;
            }
    if (e) epi_after(e, C, M, N, ldc);
}

/* sizes, strides and pointers checked the way cblas_sgemm checks them (row-major) */
static int args_ok(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, int lda, int ldb,
                   int ldc, const void *A, const void *B, const float *C)
{
    if ((ta != CblasNoTrans && ta != CblasTrans) || (tb != CblasNoTrans && tb != CblasTrans)) return 0;
    if (M < 0 || N < 0 || K < 0) return 0;
    const int wa = ta == CblasNoTrans ? K : M, wb = tb == CblasNoTrans ? N : K;
    if (lda < (wa > 1 ? wa : 1) || ldb < (wb > 1 ? wb : 1) || ldc < (N > 1 ? N : 1)) return 0;
    if (M && N && (!C || (K && (!A || !B)))) return 0;
    return 1;
}

#ifndef ALIM_HAVE_DNNL

int lm_bf16_native(void) { return 0; }
const char *lm_bf16_isa(void) { return "none"; }
int lm_gemm_bf16(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                 const float *A, const lm_bf16 *Ah, int lda, const float *B, const lm_bf16 *Bh,
                 int ldb, float beta, float *C, int ldc, const lm_gemm_epilogue *e)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)Ah, (void)lda;
    (void)B, (void)Bh, (void)ldb, (void)beta, (void)C, (void)ldc, (void)e;
    (void)gemm_k0, (void)args_ok, (void)stored_span;
    return -1;
}
int lm_gemm_dnnl_f32(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc, const lm_gemm_epilogue *e)
{
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)alpha, (void)A, (void)lda, (void)B;
    (void)ldb, (void)beta, (void)C, (void)ldc, (void)e;
    return -1;
}
void lm_bf16_release(void) {}

#else /* ALIM_HAVE_DNNL */

/* ---- process-wide state ----------------------------------------------------------------- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static dnnl_engine_t g_engine;  /* created once, kept to the end (streams refer to it) */
static pthread_key_t g_tls_key; /* per-thread stream and scratch */
static int g_ready;             /* engine and key exist: fp32 products possible */
static int g_native;            /* ... and the CPU has native bf16 (lm_bf16_native) */
static char g_isa[64] = "none";

/* The CPU's own answer (cpuid), before asking oneDNN: AVX512_BF16 is leaf 7 sub-leaf 1
 * EAX bit 5, AMX-BF16 leaf 7 sub-leaf 0 EDX bit 22. */
static int cpu_has_bf16(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    int amx = 0, avx = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) amx = (d >> 22) & 1;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) avx = (a >> 5) & 1;
    return amx || avx;
#else
    return 0;
#endif
}

/* ---- per-thread state --------------------------------------------------------------- */

typedef struct {
    dnnl_stream_t stream;
    void *buf[3]; /* bf16 copy of A, of B, oneDNN's scratchpad */
    size_t cap[3];
} tls_state;

static void tls_free(void *p)
{
    tls_state *t = p;
    if (!t) return;
    if (t->stream) dnnl_stream_destroy(t->stream);
    for (int i = 0; i < 3; i++) free(t->buf[i]);
    free(t);
}

static tls_state *tls_get(void)
{
    tls_state *t = pthread_getspecific(g_tls_key);
    if (t) return t;
    t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (dnnl_stream_create(&t->stream, g_engine, dnnl_stream_default_flags) != dnnl_success ||
        pthread_setspecific(g_tls_key, t)) {
        tls_free(t);
        return NULL;
    }
    return t;
}

/* scratch buffer i of the calling thread with at least n bytes (grown, never shrunk:
 * the engine's products come in a handful of shapes that repeat every step) */
static void *tls_buf(tls_state *t, int i, size_t n)
{
    if (n <= t->cap[i]) return t->buf[i];
    const size_t want = (n + 4095) / 4096 * 4096;
    void *p = NULL;
    if (posix_memalign(&p, 64, want)) return NULL;
    free(t->buf[i]);
    t->buf[i] = p;
    t->cap[i] = want;
    return p;
}

/* ---- the primitive cache ---------------------------------------------------------------- */

typedef struct {
    int dt; /* dnnl_data_type_t of A and B */
    int ta, tb, M, N, K, lda, ldb, ldc, nthr;
    uint32_t alpha, beta; /* bit patterns; beta 0 (either sign) as +0 */
} prim_key;

typedef struct {
    prim_key key;
    dnnl_primitive_t prim;
    dnnl_memory_desc_t md_a, md_b, md_c, md_pad;
    size_t pad_bytes;
    int users;   /* products running it now */
    int cached;  /* in g_cache (else freed by its last user) */
    uint64_t used; /* tick of the last lookup, for LRU eviction */
    char impl[48];
} prim_entry;

/* Enough for every distinct product of a few models trained side by side (a model has
 * about a dozen: forward, dinp and dW of its four or five layer shapes and the head). */
enum { CACHE_MAX = 128 };
static pthread_mutex_t g_cache_mutex = PTHREAD_MUTEX_INITIALIZER;
static prim_entry *g_cache[CACHE_MAX];
static uint64_t g_tick;

static void entry_free(prim_entry *p)
{
    if (p->prim) dnnl_primitive_destroy(p->prim);
    free(p);
}

static prim_entry *entry_create(const prim_key *k)
{
    prim_entry *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->key = *k;
    const dnnl_data_type_t dt = (dnnl_data_type_t)k->dt;
    /* op(A) (M,K) and op(B) (K,N) described on the stored matrices through their strides:
     * a transpose is a swap of the strides, never a copy */
    const dnnl_dims_t da = {k->M, k->K}, db = {k->K, k->N}, dc = {k->M, k->N};
    const dnnl_dims_t sa = {k->ta ? 1 : k->lda, k->ta ? k->lda : 1};
    const dnnl_dims_t sb = {k->tb ? 1 : k->ldb, k->tb ? k->ldb : 1};
    const dnnl_dims_t sc = {k->ldc, 1};
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_matmul_desc_t desc;
    int ok = dnnl_memory_desc_init_by_strides(&p->md_a, 2, da, dt, sa) == dnnl_success &&
             dnnl_memory_desc_init_by_strides(&p->md_b, 2, db, dt, sb) == dnnl_success &&
             dnnl_memory_desc_init_by_strides(&p->md_c, 2, dc, dnnl_f32, sc) == dnnl_success &&
             dnnl_matmul_desc_init(&desc, &p->md_a, &p->md_b, NULL, &p->md_c) == dnnl_success &&
             dnnl_primitive_attr_create(&attr) == dnnl_success &&
             dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) == dnnl_success;
    float alpha, beta;
    memcpy(&alpha, &k->alpha, sizeof alpha);
    memcpy(&beta, &k->beta, sizeof beta);
    /* alpha as a common output scale, beta C as the sum post-op: dst = alpha acc + beta dst,
     * in that order, as sgemm; neither when it is the identity (alpha 1, beta 0) */
    if (ok && alpha != 1.0f) ok = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) == dnnl_success;
    if (ok && beta != 0.0f)
        ok = dnnl_post_ops_create(&po) == dnnl_success && dnnl_post_ops_append_sum(po, beta) == dnnl_success &&
             dnnl_primitive_attr_set_post_ops(attr, po) == dnnl_success;
    if (ok) ok = dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL) == dnnl_success;
    if (ok) {
        const char *impl = NULL;
        if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
            snprintf(p->impl, sizeof p->impl, "%s", impl);
        const dnnl_memory_desc_t *pad = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
        if (pad) {
            p->md_pad = *pad;
            p->pad_bytes = dnnl_memory_desc_get_size(pad);
        }
        ok = dnnl_primitive_create(&p->prim, pd) == dnnl_success;
    }
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (!ok) {
        entry_free(p);
        return NULL;
    }
    return p;
}

static prim_entry *cache_find(const prim_key *k)
{
    for (int i = 0; i < CACHE_MAX; i++)
        if (g_cache[i] && !memcmp(&g_cache[i]->key, k, sizeof *k)) return g_cache[i];
    return NULL;
}

/* The primitive for k with its use count taken (cache_put gives it back). Created outside
 * the lock (JIT compilation takes milliseconds; other threads' products go on meanwhile);
 * if another thread created the same one in the meantime, the first one stays. A full
 * cache evicts its least recently used idle entry; if every entry is busy the new one is
 * used once, uncached. */
static prim_entry *cache_get(const prim_key *k)
{
    pthread_mutex_lock(&g_cache_mutex);
    prim_entry *p = cache_find(k);
    if (p) {
        p->users++;
        p->used = ++g_tick;
    }
    pthread_mutex_unlock(&g_cache_mutex);
    if (p) return p;
    prim_entry *fresh = entry_create(k);
    if (!fresh) return NULL;
    pthread_mutex_lock(&g_cache_mutex);
    p = cache_find(k);
    if (p) {
        p->users++;
        p->used = ++g_tick;
    } else {
        p = fresh;
        fresh = NULL;
        p->users = 1;
        p->used = ++g_tick;
        int slot = -1;
        for (int i = 0; i < CACHE_MAX && slot < 0; i++)
            if (!g_cache[i]) slot = i;
        for (int i = 0; i < CACHE_MAX && slot < 0; i++)
            if (g_cache[i]->users == 0 && (slot < 0 || g_cache[i]->used < g_cache[slot]->used)) slot = i;
        if (slot >= 0) { /* else every entry is busy: p stays uncached */
            if (g_cache[slot]) entry_free(g_cache[slot]);
            g_cache[slot] = p;
            p->cached = 1;
        }
    }
    pthread_mutex_unlock(&g_cache_mutex);
    if (fresh) entry_free(fresh);
    return p;
}

static void cache_put(prim_entry *p)
{
    pthread_mutex_lock(&g_cache_mutex);
    const int last = --p->users == 0 && !p->cached;
    pthread_mutex_unlock(&g_cache_mutex);
    if (last) entry_free(p);
}

void lm_bf16_release(void)
{
    pthread_mutex_lock(&g_cache_mutex);
    for (int i = 0; i < CACHE_MAX; i++) {
        prim_entry *p = g_cache[i];
        if (!p) continue;
        g_cache[i] = NULL;
        p->cached = 0;
        if (p->users == 0) entry_free(p); /* else its last user frees it */
    }
    pthread_mutex_unlock(&g_cache_mutex);
    /* oneDNN keeps its own cache of the primitives created: emptied by a capacity of 0 */
    int cap = 0;
    if (g_ready && dnnl_get_primitive_cache_capacity(&cap) == dnnl_success && cap > 0) {
        dnnl_set_primitive_cache_capacity(0);
        dnnl_set_primitive_cache_capacity(cap);
    }
}

/* ---- initialisation ----------------------------------------------------------------- */

static void init_once(void)
{
    if (dnnl_engine_create(&g_engine, dnnl_cpu, 0) != dnnl_success) return;
    if (pthread_key_create(&g_tls_key, tls_free)) return;
    /* No exit handler frees the primitives: oneDNN's own static objects (its primitive
     * cache among them) are destroyed by exit handlers registered when they are first
     * used, after ours would be, so ours would run after them and call into destroyed
     * objects (it crashed or hung at exit in most runs). The process's end frees them. */
    g_ready = 1;
    /* oneDNN's view: the ISA it dispatches to must include avx512_core_bf16 (AMX includes
     * it); the order is partial (avx2_vnni is not above it), hence the bit test */
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    if (!cpu_has_bf16() || (isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) != (unsigned)dnnl_cpu_isa_avx512_core_bf16)
        return;
    /* A probe: the implementation oneDNN picks for a mid-size bf16 product; a reference
     * (scalar) implementation is no native bf16. */
    const prim_key k = {.dt = dnnl_bf16, .M = 256, .N = 256, .K = 256, .lda = 256, .ldb = 256,
                        .ldc = 256, .nthr = 1, .alpha = 0x3f800000u};
    prim_entry *p = entry_create(&k);
    if (!p) return;
    const char *s = p->impl;
    if (strncmp(s, "brg:", 4) == 0) s += 4;
    if (strncmp(s, "ref", 3) != 0 && *s) {
        snprintf(g_isa, sizeof g_isa, "%s", s);
        g_native = 1;
    }
    entry_free(p);
}

int lm_bf16_native(void)
{
    pthread_once(&g_once, init_once);
    return g_native;
}

const char *lm_bf16_isa(void)
{
    pthread_once(&g_once, init_once);
    return g_isa;
}

/* ---- the product ---------------------------------------------------------------------- */

/* Part `part` of `parts` of the rounding of the rows x cols stored at row stride ld:
 * dst := src rounded to bf16, dst laid out with the same stride (the gaps between rows are
 * not touched). A contiguous matrix is split as one range, a strided one by rows. */
static void convert_part(lm_bf16 *dst, const float *src, stored_shape s, int part, int parts)
{
    if (!dst) return;
    const int flat = s.ld == s.cols;
    const size_t n = flat ? s.rows * s.cols : s.rows;
    const size_t i0 = n * (size_t)part / (size_t)parts, i1 = n * (size_t)(part + 1) / (size_t)parts;
    if (flat) lm_f32_to_bf16(dst + i0, src + i0, i1 - i0);
    else
        for (size_t r = i0; r < i1; r++) lm_f32_to_bf16(dst + r * s.ld, src + r * s.ld, s.cols);
}

/* Both operands' rounding in one parallel region (a region's fork/join costs little on a
 * quiet machine, but on a loaded one each can wait a whole scheduler slice for the second
 * thread: measured, every region of a product added ~8 ms), and on the calling thread
 * alone below CONVERT_PAR floats, where one thread is done in about 0.1 ms. */
enum { CONVERT_PAR = 1 << 18 };
static void convert_operands(lm_bf16 *ca, const float *A, stored_shape sa, lm_bf16 *cb, const float *B,
                             stored_shape sb)
{
    const size_t n = (ca ? sa.rows * sa.cols : 0) + (cb ? sb.rows * sb.cols : 0);
#pragma omp parallel if (n >= CONVERT_PAR)
    {
        const int part = omp_get_thread_num(), parts = omp_get_num_threads();
        convert_part(ca, A, sa, part, parts);
        convert_part(cb, B, sb, part, parts);
    }
}

static int gemm_dnnl(int dt, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
                     float alpha, const float *A, const lm_bf16 *Ah, int lda, const float *B,
                     const lm_bf16 *Bh, int ldb, float beta, float *C, int ldc,
                     const lm_gemm_epilogue *e)
{
    const void *pa = Ah ? (const void *)Ah : (const void *)A, *pb = Bh ? (const void *)Bh : (const void *)B;
    if (!args_ok(ta, tb, M, N, K, lda, ldb, ldc, pa, pb, C)) return -1;
    if (M == 0 || N == 0) return 0;
    if (K == 0) {
        gemm_k0(M, N, beta, C, ldc, e);
        return 0;
    }
    /* Inside a parallel region the product runs on this thread alone: oneDNN plans its
     * work split (and so the order of the K sums) for omp_get_max_threads() threads when
     * the primitive is created, and would open a nested team of that size if nesting is
     * on. This thread's nthreads-var is set to 1 for the call (an ICV of the calling task
     * only: the team's other threads are not affected) and restored after. */
    const int nested = omp_in_parallel();
    const int saved = omp_get_max_threads();
    if (nested && saved != 1) omp_set_num_threads(1);
    int rc = -1;
    prim_entry *p = NULL;
    tls_state *t = tls_get();
    if (!t) goto out;
    const float beta0 = beta == 0.0f ? 0.0f : beta; /* -0 as +0: both ignore C */
    prim_key k;
    memset(&k, 0, sizeof k); /* the key is compared with memcmp */
    k.dt = dt, k.ta = ta != CblasNoTrans, k.tb = tb != CblasNoTrans, k.M = M, k.N = N, k.K = K;
    k.lda = lda, k.ldb = ldb, k.ldc = ldc, k.nthr = nested ? 1 : saved;
    memcpy(&k.alpha, &alpha, sizeof alpha);
    memcpy(&k.beta, &beta0, sizeof beta0);
    p = cache_get(&k);
    if (!p) goto out;
    /* the inputs oneDNN reads: fp32 as given, or bf16 (given, or rounded into this
     * thread's scratch with the caller's strides, so both ways meet the same primitive) */
    const stored_shape sa = {ta == CblasNoTrans ? (size_t)M : (size_t)K, ta == CblasNoTrans ? (size_t)K : (size_t)M, (size_t)lda};
    const stored_shape sb = {tb == CblasNoTrans ? (size_t)K : (size_t)N, tb == CblasNoTrans ? (size_t)N : (size_t)K, (size_t)ldb};
    const void *in_a = A, *in_b = B;
    if (dt == dnnl_bf16) {
        lm_bf16 *ca = NULL, *cb = NULL;
        if (!Ah && !(ca = tls_buf(t, 0, stored_span(sa) * sizeof(lm_bf16)))) goto out;
        if (!Bh && !(cb = tls_buf(t, 1, stored_span(sb) * sizeof(lm_bf16)))) goto out;
        if (ca || cb) convert_operands(ca, A, sa, cb, B, sb);
        in_a = Ah ? (const void *)Ah : (const void *)ca;
        in_b = Bh ? (const void *)Bh : (const void *)cb;
    }
    void *pad = p->pad_bytes ? tls_buf(t, 2, p->pad_bytes) : NULL;
    if (p->pad_bytes && !pad) goto out;
    /* memory objects wrap the caller's pointers (oneDNN reads src and weights only) */
    dnnl_memory_t ma = NULL, mb = NULL, mc = NULL, mp = NULL;
    int ok = dnnl_memory_create(&ma, &p->md_a, g_engine, (void *)in_a) == dnnl_success &&
             dnnl_memory_create(&mb, &p->md_b, g_engine, (void *)in_b) == dnnl_success &&
             dnnl_memory_create(&mc, &p->md_c, g_engine, C) == dnnl_success &&
             (!pad || dnnl_memory_create(&mp, &p->md_pad, g_engine, pad) == dnnl_success);
    if (ok) {
        /* From here C changes. The bias goes in first (beta then 1), as in gemm_block. */
        if (e && e->bias) epi_bias(e, C, M, N, ldc);
        const dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mb}, {DNNL_ARG_DST, mc},
                                         {DNNL_ARG_SCRATCHPAD, mp}};
        ok = dnnl_primitive_execute(p->prim, t->stream, mp ? 4 : 3, args) == dnnl_success &&
             dnnl_stream_wait(t->stream) == dnnl_success;
        if (ok && e) epi_after(e, C, M, N, ldc);
    }
    if (ma) dnnl_memory_destroy(ma);
    if (mb) dnnl_memory_destroy(mb);
    if (mc) dnnl_memory_destroy(mc);
    if (mp) dnnl_memory_destroy(mp);
    rc = ok ? 0 : -1;
out:
    if (p) cache_put(p);
    if (nested && saved != 1) omp_set_num_threads(saved);
    return rc;
}

int lm_gemm_bf16(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                 const float *A, const lm_bf16 *Ah, int lda, const float *B, const lm_bf16 *Bh,
                 int ldb, float beta, float *C, int ldc, const lm_gemm_epilogue *e)
{
    if (!lm_bf16_native()) return -1;
    return gemm_dnnl(dnnl_bf16, ta, tb, M, N, K, alpha, A, Ah, lda, B, Bh, ldb, beta, C, ldc, e);
}

int lm_gemm_dnnl_f32(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc, const lm_gemm_epilogue *e)
{
    pthread_once(&g_once, init_once);
    if (!g_ready) return -1;
    return gemm_dnnl(dnnl_f32, ta, tb, M, N, K, alpha, A, NULL, lda, B, NULL, ldb, beta, C, ldc, e);
}

#endif /* ALIM_HAVE_DNNL */
