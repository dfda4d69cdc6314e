/* test_bon_samples.c — the best-of-N family from samples (alim/bonsamples.h) against brute-force
 * enumeration of every subset of small groups (best-of-n with random ties, soft best-of-n, the
 * held-out win-rate kernel, Beirami et al.'s estimator, the gold reward), unbiasedness against the
 * exact population values of alim/bon.h and alim/bonfam.h (all N-tuples of a 3-outcome law),
 * Best-of-Poisson as a Poisson mixture, bootstrap replicates rebuilt by hand, the CSV reader
 * (quotes, groups, every error naming FILE:LINE), and the vectorised fast path of soft best-of-N
 * (bonfam.c) against its general path and across thread counts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include "alim/bon.h"
#include "alim/bonfam.h"
#include "alim/bonsamples.h"
#include "alim/rdist.h"
#include "alim/rng.h"
#include "check.h"

#define NQ ALIM_BS_NQ

/* ---- brute force over subsets (bitmasks) of one group ------------------------------------- */

static int popcount(unsigned x) { return __builtin_popcount(x); }

/* best-of-n with random ties, soft best-of-n, Beirami's d_n, all averaged over the n-subsets */
static void brute_subsets(const double *r, const double *g, const double *lp, size_t N, size_t n, double lambda,
                          double *er, double *eg, double *kb, double *sr, double *sg)
{
    double cnt = 0;
    *er = *eg = *kb = *sr = *sg = 0;
    alim_bon_size sz = {(double)n, log((double)n)};
    for (unsigned S = 0; S < (1u << N); S++) {
        if ((size_t)popcount(S) != n) continue;
        cnt++;
        double best = -INFINITY;
        for (size_t i = 0; i < N; i++)
            if ((S >> i & 1) && r[i] > best) best = r[i];
        double c = 0, gs = 0, ks = 0, z = 0, zr = 0, zg = 0;
        for (size_t i = 0; i < N; i++) {
            if (!(S >> i & 1)) continue;
            if (r[i] == best) {
                c++;
                if (g) gs += g[i];
                if (lp) ks += alim_bon_kl_one_atom(exp(lp[i]), sz);
            }
            const double w = exp(lambda * (r[i] - best));
            z += w, zr += w * r[i];
            if (g) zg += w * g[i];
        }
        *er += best, *eg += gs / c, *kb += ks / c, *sr += zr / z, *sg += zg / z;
    }
    *er /= cnt, *eg /= cnt, *kb /= cnt, *sr /= cnt, *sg /= cnt;
}

/* the win-rate kernel: over n+1-subsets T and the held-out y' in T, does the best of T \ y' beat y' */
static void brute_win(const double *r, size_t N, size_t n, double *wh, double *ws)
{
    double cnt = 0;
    *wh = *ws = 0;
    for (unsigned T = 0; T < (1u << N); T++) {
        if ((size_t)popcount(T) != n + 1) continue;
        for (size_t o = 0; o < N; o++) {
            if (!(T >> o & 1)) continue;
            double best = -INFINITY;
            for (size_t i = 0; i < N; i++)
                if ((T >> i & 1) && i != o && r[i] > best) best = r[i];
            cnt++;
            *ws += best > r[o];
            *wh += best > r[o] ? 1.0 : (best == r[o] ? 0.5 : 0.0);
        }
    }
    *wh /= cnt, *ws /= cnt;
}

/* exact BoN KL of the group's empirical law, straight from the definition */
static double plugin_kl(const double *r, size_t N, size_t n)
{
    double kl = 0, F = 0;
    for (size_t b = 0; b < N;) {
        size_t e = b + 1;
        while (e < N && r[e] == r[b]) e++;
        const double q = (double)(e - b) / (double)N, F1 = F + q;
        const double P = pow(F1, (double)n) - pow(F, (double)n);
        if (P > 0) kl += P * log(P / q);
        F = F1, b = e;
    }
    return kl;
}

static void check_group(const char *name, const double *r, const double *g, const double *lp, size_t N, double lambda)
{
    alim_error err;
    double *out = malloc(NQ * N * sizeof *out), tail[16], serr;
    CHECK(!alim_bon_samples_group_curve(r, g, lp, N, N, lambda, out, tail, &serr, &err), "%s: %s", name, err.what);
    char what[96];
    for (size_t n = 1; n <= N; n++) {
        double er, eg, kb, sr, sg, wh, ws;
        brute_subsets(r, g, lp, N, n, isnan(lambda) ? 0 : lambda, &er, &eg, &kb, &sr, &sg);
#define Q(q) out[(q) * N + n - 1]
        snprintf(what, sizeof what, "%s n=%zu reward", name, n);
        CHECK_REL(Q(ALIM_BS_REWARD), er, 1e-13, what);
        if (g) {
            snprintf(what, sizeof what, "%s n=%zu gold", name, n);
            CHECK_REL(Q(ALIM_BS_GOLD), eg, 1e-13, what);
        } else CHECK(isnan(Q(ALIM_BS_GOLD)), "%s: gold without a gold column", name);
        if (lp) {
            snprintf(what, sizeof what, "%s n=%zu beirami", name, n);
            CHECK_REL(Q(ALIM_BS_KL_BEIRAMI), kb, 1e-13, what);
            CHECK(Q(ALIM_BS_KL_BEIRAMI) <= alim_bon_kl_bound((alim_bon_size){(double)n, log((double)n)}) + 1e-15,
                  "%s n=%zu: Beirami's estimate above log n - (n-1)/n", name, n);
        }
        if (!isnan(lambda)) {
            snprintf(what, sizeof what, "%s n=%zu soft reward", name, n);
            CHECK_REL(Q(ALIM_BS_SOFT_REWARD), sr, 1e-12, what);
            if (g) {
                snprintf(what, sizeof what, "%s n=%zu soft gold", name, n);
                CHECK_REL(Q(ALIM_BS_SOFT_GOLD), sg, 1e-12, what);
            }
        }
        snprintf(what, sizeof what, "%s n=%zu plug-in KL", name, n);
        CHECK_ABS(Q(ALIM_BS_KL_PLUGIN), plugin_kl(r, N, n), 1e-13, what);
        if (n < N) {
            brute_win(r, N, n, &wh, &ws);
            snprintf(what, sizeof what, "%s n=%zu win rate", name, n);
            CHECK_ABS(Q(ALIM_BS_WIN_RATE), wh, 1e-14, what);
            snprintf(what, sizeof what, "%s n=%zu strict win rate", name, n);
            CHECK_ABS(Q(ALIM_BS_WIN_STRICT), ws, 1e-14, what);
        } else CHECK(isnan(Q(ALIM_BS_WIN_RATE)), "%s: win rate at n = N needs N + 1 samples", name);
        /* the selection law sums to 1 and reproduces the reward */
        double w[16], sw = 0, ew = 0;
        CHECK(!alim_bon_subset_max_weights(r, N, n, w, &err), "weights");
        for (size_t i = 0; i < N; i++) sw += w[i], ew += w[i] * r[i];
        CHECK_ABS(sw, 1.0, 1e-14, "weights sum to 1");
        CHECK_REL(ew, er, 1e-13, "weights give E max");
    }
    /* Best-of-Poisson: the Poisson mixture of the subset values over the sizes the group has */
    for (size_t n = 1; n <= N; n++) {
        const double mu = (double)(n - 1);
        double sr = 0, mr = 0, sw = 0, mw = 0;
        for (size_t k = 0; k + 1 <= N; k++) {
            const double pk = exp(-mu) * pow(mu, (double)k) / tgamma((double)k + 1);
            sr += pk * out[ALIM_BS_REWARD * N + k], mr += pk;
            if (k + 1 < N) sw += pk * out[ALIM_BS_WIN_RATE * N + k], mw += pk;
        }
        snprintf(what, sizeof what, "%s mu=%g BoP reward", name, mu);
        CHECK_REL(out[ALIM_BS_BOP_REWARD * N + n - 1], sr / mr, 1e-13, what);
        snprintf(what, sizeof what, "%s mu=%g BoP win rate", name, mu);
        if (N > 1) CHECK_REL(out[ALIM_BS_BOP_WIN_RATE * N + n - 1], sw / mw, 1e-13, what);
        else CHECK(isnan(out[ALIM_BS_BOP_WIN_RATE * N + n - 1]), "%s: BoP win rate needs 2 samples", name);
        snprintf(what, sizeof what, "%s mu=%g BoP tail", name, mu);
        CHECK_ABS(tail[n - 1], 1 - mw, 1e-14, what);
    }
    /* the diagnostic is the error of the coarser rule (step 2h): the h rule is ~its square */
    if (!isnan(lambda)) CHECK(serr < 1e-6, "%s: soft step error %g", name, serr);
    free(out);
}

static void test_enumeration(void)
{
    /* distinct rewards */
    const double r1[] = {-1.5, -0.2, 0.1, 0.7, 1.3, 2.0, 2.4, 3.9};
    const double g1[] = {0.3, 1.0, -0.5, 2.0, 0.1, 0.9, -1.0, 0.0};
    const double l1[] = {-3.0, -0.1, -9.0, -1.2, -0.7, -20.0, -2.2, -0.05};
    check_group("distinct", r1, g1, l1, 8, 1.3);
    /* ties at the top and inside */
    const double r2[] = {0, 0, 1, 1, 1, 2, 2, 5, 5};
    const double g2[] = {1, 2, 0, 4, -1, 3, 3, 0.5, -2};
    const double l2[] = {-1, -2, -0.5, -0.5, -3, -1e-3, -4, -0.2, -0.3};
    check_group("ties", r2, g2, l2, 9, 0.7);
    check_group("ties lambda=0", r2, g2, NULL, 9, 0.0);
    check_group("ties strong lambda", r2, g2, NULL, 9, 25.0);
    /* binary reward, no gold, no soft */
    const double r3[] = {0, 0, 0, 0, 0, 1, 1};
    check_group("binary", r3, NULL, NULL, 7, NAN);
    /* one sample, all equal */
    const double r4[] = {2.5};
    check_group("single", r4, NULL, NULL, 1, 3.0);
    const double r5[] = {1, 1, 1, 1};
    check_group("constant", r5, r5, NULL, 4, 2.0);
    /* without ties the held-out win rate is n/(n+1) exactly */
    double out[NQ * 8];
    alim_error err;
    CHECK(!alim_bon_samples_group_curve(r1, NULL, NULL, 8, 8, NAN, out, NULL, NULL, &err), "distinct");
    for (size_t n = 1; n < 8; n++) CHECK_ABS(out[ALIM_BS_WIN_RATE * 8 + n - 1], (double)n / (n + 1), 1e-15, "n/(n+1)");
    /* the order-statistics formula of the brief: sum_i r_(i) C(i-1,n-1)/C(N,n) */
    for (size_t n = 1; n <= 8; n++) {
        double s = 0;
        for (size_t i = n; i <= 8; i++) {
            double c = 1; /* C(i-1, n-1)/C(8, n) */
            for (size_t k = 0; k < n - 1; k++) c *= (double)(i - 1 - k) / (double)(n - 1 - k);
            double cn = 1;
            for (size_t k = 0; k < n; k++) cn *= (double)(8 - k) / (double)(n - k);
            s += r1[i - 1] * c / cn;
        }
        CHECK_REL(out[ALIM_BS_REWARD * 8 + n - 1], s, 1e-13, "order-statistics formula");
    }
}

/* ---- unbiasedness: the mean of the U-statistics over all N-tuples is the population value ---- */

static void test_unbiased(void)
{
    const double p[] = {0.5, 0.3, 0.2}, rv[] = {0, 1, 2}, gv[] = {0, 1.5, 0.5};
    const size_t N = 6;
    alim_error err;
    alim_rdist d;
    alim_levels lv;
    CHECK(!alim_rdist_from_arrays(&d, p, rv, 3, 1e-12, 0, "t", &err), "rdist");
    CHECK(!alim_levels_from_rdist(&d, &lv, &err), "levels");
    double mean[NQ * 6] = {0};
    size_t t[6] = {0};
    for (;;) {
        double prob = 1, r[6], g[6];
        for (size_t i = 0; i < N; i++) prob *= p[t[i]];
        /* sorted draw */
        size_t u[6];
        memcpy(u, t, sizeof u);
        for (size_t i = 1; i < N; i++)
            for (size_t j = i; j > 0 && u[j] < u[j - 1]; j--) {
                size_t x = u[j];
                u[j] = u[j - 1], u[j - 1] = x;
            }
        for (size_t i = 0; i < N; i++) r[i] = rv[u[i]], g[i] = gv[u[i]];
        double out[NQ * 6];
        CHECK(!alim_bon_samples_group_curve(r, g, NULL, N, N, 1.5, out, NULL, NULL, &err), "curve");
        for (size_t k = 0; k < NQ * N; k++) mean[k] += prob * out[k];
        size_t i = 0;
        while (i < N && ++t[i] == 3) t[i++] = 0;
        if (i == N) break;
    }
    double *lp = malloc(lv.n * sizeof *lp);
    for (size_t n = 1; n <= N; n++) {
        alim_bonfam_point pt;
        char what[64];
        CHECK(!alim_bonfam_eval(&lv, gv, ALIM_METHOD_BON, (double)n, 0, &pt, &err), "bon");
        snprintf(what, sizeof what, "unbiased reward n=%zu", n);
        CHECK_ABS(mean[ALIM_BS_REWARD * N + n - 1], pt.reward, 1e-13, what);
        snprintf(what, sizeof what, "unbiased gold n=%zu", n);
        CHECK_ABS(mean[ALIM_BS_GOLD * N + n - 1], pt.gold_reward, 1e-13, what);
        if (n < N) {
            snprintf(what, sizeof what, "unbiased win rate n=%zu", n);
            CHECK_ABS(mean[ALIM_BS_WIN_RATE * N + n - 1], pt.win_rate, 1e-13, what);
            snprintf(what, sizeof what, "unbiased strict win rate n=%zu", n);
            CHECK_ABS(mean[ALIM_BS_WIN_STRICT * N + n - 1], pt.win_rate_strict, 1e-13, what);
        }
        CHECK(!alim_bonfam_eval(&lv, gv, ALIM_METHOD_SOFT, (double)n, 1.5, &pt, &err), "soft");
        snprintf(what, sizeof what, "unbiased soft reward n=%zu", n);
        CHECK_ABS(mean[ALIM_BS_SOFT_REWARD * N + n - 1], pt.reward, 1e-12, what);
        snprintf(what, sizeof what, "unbiased soft gold n=%zu", n);
        CHECK_ABS(mean[ALIM_BS_SOFT_GOLD * N + n - 1], pt.gold_reward, 1e-12, what);
    }
    /* the plug-in KL is biased (low) for n near N: documented, checked to be below the exact value */
    CHECK(mean[ALIM_BS_KL_PLUGIN * N + N - 1] < alim_bon_kl(&lv, (alim_bon_size){(double)N, log((double)N)}),
          "plug-in KL below the exact KL at n = N");
    free(lp);
    alim_levels_free(&lv);
    alim_rdist_free(&d);
}

/* ---- over prompts: means and bootstrap replicates -------------------------------------------- */

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void test_curves(void)
{
    /* 5 prompts of different sizes, not contiguous in the input */
    const size_t grp[] = {0, 1, 2, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 3, 4, 0, 2, 4, 3, 1};
    double r[20], g[20];
    alim_rng rng;
    alim_rng_seed(&rng, 7, 0);
    for (size_t i = 0; i < 20; i++) r[i] = floor(alim_rng_normal(&rng) * 3) / 2, g[i] = alim_rng_normal(&rng);
    alim_error err;
    alim_bon_samples s;
    CHECK(!alim_bon_samples_from_arrays(&s, grp, r, g, NULL, 20, &err), "from arrays");
    size_t mn, mx;
    alim_bon_samples_group_sizes(&s, &mn, &mx);
    CHECK(s.n_groups == 5 && mn == 4 && mx == 4, "groups %zu, sizes %zu..%zu", s.n_groups, mn, mx);
    alim_bon_samples_options o = {0, 0.8, 400, 11, 0.9};
    alim_bon_samples_curves c;
    CHECK(!alim_bon_samples_curves_compute(&s, &o, &c, &err), "curves: %s", err.what);
    const size_t nm = c.n_max, W = NQ * nm;
    CHECK(nm == 4, "n_max defaults to the smallest group");
    /* per-group curves, rebuilt */
    double cur[5][NQ * 4];
    for (size_t k = 0; k < 5; k++) {
        double rr[4], gg[4];
        size_t m = 0;
        for (size_t i = 0; i < 20; i++)
            if (grp[i] == k) rr[m] = r[i], gg[m] = g[i], m++;
        /* sort by reward, stable */
        for (size_t i = 1; i < 4; i++)
            for (size_t j = i; j > 0 && rr[j] < rr[j - 1]; j--) {
                double x = rr[j];
                rr[j] = rr[j - 1], rr[j - 1] = x;
                x = gg[j], gg[j] = gg[j - 1], gg[j - 1] = x;
            }
        CHECK(!alim_bon_samples_group_curve(rr, gg, NULL, 4, 4, 0.8, cur[k], NULL, NULL, &err), "group");
    }
    for (size_t i = 0; i < W; i++) {
        double m = 0;
        for (size_t k = 0; k < 5; k++) m += cur[k][i];
        if (isnan(m)) CHECK(isnan(c.value[i]), "NaN mean");
        else CHECK_REL(c.value[i], m / 5, 1e-15, "mean over prompts");
    }
    /* bootstrap rebuilt: replicate b from stream (11, b), percentiles by numpy's linear rule */
    double *rep = malloc(400 * W * sizeof *rep);
    for (size_t b = 0; b < 400; b++) {
        alim_rng_seed(&rng, 11, b);
        size_t cnt[5] = {0};
        for (size_t i = 0; i < 5; i++) cnt[alim_rng_below(&rng, 5)]++;
        for (size_t i = 0; i < W; i++) {
            double m = 0;
            for (size_t k = 0; k < 5; k++) m += (double)cnt[k] * cur[k][i];
            rep[b * W + i] = m / 5;
        }
    }
    size_t checked = 0;
    for (size_t i = 0; i < W; i++) {
        double col[400];
        for (size_t b = 0; b < 400; b++) col[b] = rep[b * W + i];
        if (isnan(col[0])) {
            CHECK(isnan(c.lo[i]) && isnan(c.hi[i]), "NaN interval");
            continue;
        }
        qsort(col, 400, sizeof *col, cmpd);
        const double hl = 399 * 0.05, hh = 399 * 0.95;
        const double lo = col[(size_t)hl] + (hl - floor(hl)) * (col[(size_t)hl + 1] - col[(size_t)hl]);
        const double hi = col[(size_t)hh] + (hh - floor(hh)) * (col[(size_t)hh + 1] - col[(size_t)hh]);
        CHECK_REL(c.lo[i], lo, 1e-14, "bootstrap lo");
        CHECK_REL(c.hi[i], hi, 1e-14, "bootstrap hi");
        CHECK(c.lo[i] <= c.hi[i], "lo <= hi");
        checked++;
    }
    CHECK(checked > 20, "intervals checked: %zu", checked);
    free(rep);
    alim_bon_samples_curves_free(&c);
    /* n_max beyond the smallest group names it */
    o.n_max = 5;
    CHECK(alim_bon_samples_curves_compute(&s, &o, &c, &err) == ALIM_EINVAL && strstr(err.what, "smallest group"),
          "n_max too large: %s", err.what);
    alim_bon_samples_free(&s);
}

/* ---- soft best-of-N: the vectorised fast path of bonfam.c against its general path -------------- */

/* The general path runs when some level has q < e^-600: a bottom level of mass e^-650 changes the law
 * of the others by ~e^-650, so the two paths must agree on them to rounding. Also: 1 and 2 threads
 * give the same bits on 30 000 levels (the parallel passes use fixed chunks). */
static void test_soft_paths(void)
{
    alim_error err;
    alim_rng rng;
    alim_rng_seed(&rng, 99, 0);
    const size_t Ls[] = {7, 500, 30000};
    for (size_t li = 0; li < 3; li++) {
        const size_t L = Ls[li];
        double *v = malloc((L + 1) * sizeof *v), *lq = malloc((L + 1) * sizeof *lq);
        double *a = malloc((L + 1) * sizeof *a), *b = malloc((L + 1) * sizeof *b);
        v[0] = -10, lq[0] = -650;
        for (size_t j = 1; j <= L; j++) v[j] = v[j - 1] + 0.1 + alim_rng_uniform(&rng), lq[j] = log(alim_rng_uniform_pos(&rng));
        const double span = v[L] - v[1];
        alim_levels fast, slow;
        CHECK(!alim_levels_from_log(v + 1, lq + 1, L, &fast, &err), "levels");
        CHECK(!alim_levels_from_log(v, lq, L + 1, &slow, &err), "levels");
        const double lams[] = {0.3 / span, 3 / span, 30 / span, 400 / span};
        const double Nsz[] = {2, 2.5, 37, 1e6};
        const int big = L > 20000; /* the large case: one (lambda, N), for time */
        for (size_t i = big; i < (big ? 2u : 4u); i++)
            for (size_t k = 2 * big; k < (big ? 3u : 4u); k++) {
                alim_bon_size N = {Nsz[k], log(Nsz[k])};
                alim_soft_info sf, ss;
                CHECK(!alim_soft_bon_level_log_probs(&fast, N, lams[i], a, &sf, &err), "fast: %s", err.what);
                CHECK(!alim_soft_bon_level_log_probs(&slow, N, lams[i], b, &ss, &err), "general: %s", err.what);
                if (sf.limit || ss.limit) {
                    CHECK(sf.limit == ss.limit, "same limit");
                    continue;
                }
                double md = 0;
                for (size_t j = 0; j < L; j++) {
                    const double d = fabs(a[j] - b[j + 1]);
                    if (exp(a[j]) > 1e-300 && d > md) md = d;
                }
                CHECK(md < 2e-13, "L=%zu lambda=%g N=%g: fast and general log-laws differ by %g", L, lams[i], Nsz[k], md);
                /* (the extra level moves the grid by a node or two: w_1 differs) */
                CHECK(fabs(sf.mass_error) < 1e-13 && sf.step_error < 1e-12, "L=%zu: mass %g step %g", L, sf.mass_error,
                      sf.step_error);
            }
        if (L > 20000) {
            alim_bon_size N = {37, log(37.0)};
            omp_set_num_threads(1);
            CHECK(!alim_soft_bon_level_log_probs(&fast, N, lams[1], a, NULL, &err), "1 thread");
            omp_set_num_threads(2);
            CHECK(!alim_soft_bon_level_log_probs(&fast, N, lams[1], b, NULL, &err), "2 threads");
            CHECK(!memcmp(a, b, L * sizeof *a), "soft law: 1 and 2 threads give the same bits");
            alim_bonfam_point p1, p2;
            omp_set_num_threads(1);
            alim_bonfam_eval_law(&fast, NULL, a, &p1);
            omp_set_num_threads(2);
            alim_bonfam_eval_law(&fast, NULL, a, &p2);
            CHECK(!memcmp(&p1, &p2, sizeof p1), "evaluation: 1 and 2 threads give the same bits");
        }
        alim_levels_free(&fast), alim_levels_free(&slow);
        free(v), free(lq), free(a), free(b);
    }
}

/* ---- the CSV reader ------------------------------------------------------------------------- */

static const char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/test_bon_samples_%d.csv", (int)getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void expect_error(const char *text, const char *where_suffix, const char *what_part)
{
    alim_bon_samples s;
    alim_error err;
    alim_error_clear(&err);
    const char *path = write_tmp(text);
    const alim_status st = alim_bon_samples_read_csv(&s, path, NULL, NULL, &err);
    const size_t lw = strlen(err.where), ls = strlen(where_suffix);
    CHECK(st == ALIM_EFORMAT || st == ALIM_EINVAL, "bad input accepted: %s", text);
    CHECK(lw >= ls && !strcmp(err.where + lw - ls, where_suffix), "where '%s', want suffix '%s'", err.where,
          where_suffix);
    CHECK(strstr(err.what, what_part) != NULL, "what '%s' lacks '%s'", err.what, what_part);
    CHECK(!strchr(err.what, '\n'), "one line");
}

static void test_csv(void)
{
    alim_error err;
    alim_bon_samples s;
    const char *path = write_tmp("# scored samples\nprompt,text,r,g,logp\n"
                                 "a,\"hello, world\",1.5,0.2,-3\n"
                                 "b,\"she said \"\"hi\"\"\nand left\",0.5,1,-1\n"
                                 "\n"
                                 "a,plain,-2,0.1,-0.5\n"
                                 "\"b\",x,0.5,3,-2\r\n");
    CHECK(!alim_bon_samples_read_csv(&s, path, NULL, NULL, &err), "read: %s: %s", err.where, err.what);
    CHECK(s.n_groups == 2 && s.n_samples == 4 && s.g && s.logp, "shape");
    CHECK(!strcmp(s.group_name[0], "a") && !strcmp(s.group_name[1], "b"), "names");
    CHECK(s.r[0] == -2 && s.r[1] == 1.5 && s.line[0] == 7 && s.line[1] == 3, "group a sorted by r, lines kept");
    CHECK(s.r[2] == 0.5 && s.g[2] == 1 && s.line[2] == 4 && s.g[3] == 3 && s.line[3] == 8,
          "group b: ties in file order, a quoted newline counted (lines %zu %zu)", s.line[2], s.line[3]);
    alim_bon_samples_free(&s);
    /* --group / --reward by name; no group column: one group */
    path = write_tmp("id,score\n1,3\n2,4\n1,5\n");
    CHECK(!alim_bon_samples_read_csv(&s, path, "id", "score", &err), "named columns");
    CHECK(s.n_groups == 2 && !s.g && !s.logp, "named columns shape");
    alim_bon_samples_free(&s);
    CHECK(!alim_bon_samples_read_csv(&s, path, NULL, "score", &err), "one group");
    CHECK(s.n_groups == 1 && s.n_samples == 3, "one group shape");
    alim_bon_samples_free(&s);
    expect_error("group,r\na,1\nb,2,3\n", ":3", "row has 3 fields, expected 2");
    expect_error("group,r\na,1\nb,nan\n", ":3", "not a finite number");
    expect_error("group,r\na,1\n\nb,abc\n", ":4", "is not a number");
    expect_error("group,r,g\na,1,inf\n", ":2", "gold reward");
    expect_error("group,r,logp\na,1,0.5\n", ":2", "logp 0.5 > 0");
    expect_error("group,score\na,1\n", ":1", "no reward column");
    expect_error("1,2\n3,4\n", ":1", "header");
    expect_error("group,r\n", ".csv", "no samples");
    expect_error("", ".csv", "empty file");
    path = write_tmp("id,score\n1,3\n");
    alim_bon_samples_read_csv(&s, path, "nope", "score", &err);
    CHECK(strstr(err.what, "no column 'nope'") != NULL, "missing --group column: %s", err.what);
    unlink(path);
}

int main(int argc, char **argv)
{
    (void)argc;
    test_enumeration();
    test_unbiased();
    test_curves();
    test_soft_paths();
    test_csv();
    return check_summary(argv[0]);
}
