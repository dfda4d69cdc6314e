/* test_bon_family.c — soft best-of-N, Best-of-Poisson, the tilt's level law, gold rewards, HedgeTune
 * and pass@k (alim/bonfam.h) against brute-force enumeration of all N-tuples (both tie rules),
 * closed forms, limits and Monte Carlo. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/bonfam.h"
#include "alim/rdist.h"
#include "alim/tilt.h"
#include "check.h"

/* A distribution over outcomes with a gold reward, and everything built from it. */
typedef struct {
    size_t n;
    const double *p, *r, *g;
    alim_rdist d;
    alim_levels lv, ord;
    double gl[16], go[16]; /* gold per merged level, per ordered level */
} fx;

static void fx_init(fx *f, size_t n, const double *p, const double *r, const double *g)
{
    alim_error err;
    f->n = n, f->p = p, f->r = r, f->g = g;
    CHECK(!alim_rdist_from_arrays(&f->d, p, r, n, 1e-12, 0, "t", &err), "rdist");
    CHECK(!alim_levels_from_rdist(&f->d, &f->lv, &err), "levels");
    CHECK(!alim_levels_ordered(&f->d, &f->lv, &f->ord, &err), "ordered");
    CHECK(!alim_levels_gold(&f->d, &f->lv, g, f->gl, &err), "gold");
    for (size_t i = 0; i < f->ord.n; i++) f->go[i] = g[f->lv.order[i]];
}

static void fx_free(fx *f)
{
    alim_levels_free(&f->lv);
    alim_levels_free(&f->ord);
    alim_rdist_free(&f->d);
}

/* The selection rules on one tuple (indices into the outcomes), adding prob * choice to pi. */
enum { RULE_RANDOM, RULE_ORDERED, RULE_SOFT };

static void select_tuple(const fx *f, const size_t *t, size_t N, int rule, double lambda, double prob, double *pi)
{
    double best = -INFINITY;
    for (size_t i = 0; i < N; i++)
        if (f->r[t[i]] > best) best = f->r[t[i]];
    if (rule == RULE_RANDOM) {
        size_t c = 0;
        for (size_t i = 0; i < N; i++) c += f->r[t[i]] == best;
        for (size_t i = 0; i < N; i++)
            if (f->r[t[i]] == best) pi[t[i]] += prob / (double)c;
    } else if (rule == RULE_ORDERED) {
        size_t w = t[0];
        for (size_t i = 1; i < N; i++)
            if (f->r[t[i]] > f->r[w] || (f->r[t[i]] == f->r[w] && t[i] > w)) w = t[i];
        pi[w] += prob;
    } else {
        double z = 0;
        for (size_t i = 0; i < N; i++) z += exp(lambda * (f->r[t[i]] - best));
        for (size_t i = 0; i < N; i++) pi[t[i]] += prob * exp(lambda * (f->r[t[i]] - best)) / z;
    }
}

/* Enumerates all n^N tuples. */
static void brute(const fx *f, size_t N, int rule, double lambda, double weight, double *pi)
{
    size_t t[16] = {0};
    for (;;) {
        double prob = weight;
        for (size_t i = 0; i < N; i++) prob *= f->p[t[i]];
        if (prob > 0) select_tuple(f, t, N, rule, lambda, prob, pi);
        size_t i = 0;
        while (i < N && ++t[i] == f->n) t[i++] = 0;
        if (i == N) break;
    }
}

/* Quantities of a policy over outcomes, computed directly. */
static void outcome_point(const fx *f, const double *pi, alim_bonfam_point *o)
{
    o->kl_nats = o->reward = o->win_rate = o->win_rate_strict = o->gold_reward = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (!(pi[i] > 0)) continue;
        o->kl_nats += pi[i] * log(pi[i] / f->p[i]);
        o->reward += pi[i] * f->r[i];
        o->gold_reward += pi[i] * f->g[i];
        for (size_t k = 0; k < f->n; k++) {
            o->win_rate += pi[i] * f->p[k] * (f->r[i] > f->r[k] ? 1 : f->r[i] == f->r[k] ? 0.5 : 0);
            o->win_rate_strict += pi[i] * f->p[k] * (f->r[i] > f->r[k]);
        }
    }
}

static void check_point(const alim_bonfam_point *a, const alim_bonfam_point *b, double tol, const char *what)
{
    char nm[160];
    snprintf(nm, sizeof nm, "%s kl", what);
    CHECK_ABS(a->kl_nats, b->kl_nats, tol, nm);
    snprintf(nm, sizeof nm, "%s reward", what);
    CHECK_ABS(a->reward, b->reward, tol, nm);
    snprintf(nm, sizeof nm, "%s win", what);
    CHECK_ABS(a->win_rate, b->win_rate, tol, nm);
    snprintf(nm, sizeof nm, "%s win strict", what);
    CHECK_ABS(a->win_rate_strict, b->win_rate_strict, tol, nm);
    snprintf(nm, sizeof nm, "%s gold", what);
    CHECK_ABS(a->gold_reward, b->gold_reward, tol, nm);
}

/* KL of the ORDERED-ties law given on ordered levels (one outcome each). */
static double ordered_kl(const alim_levels *ord, const double *lp)
{
    double kl = 0;
    for (size_t i = 0; i < ord->n; i++)
        if (lp[i] > -INFINITY) kl += exp(lp[i]) * (lp[i] - ord->log_q[i]);
    return kl;
}

static void test_brute(fx *f, const char *name)
{
    alim_error err;
    char w[160];
    double pi[16], lp[16];
    alim_bonfam_point a, b;
    for (size_t N = 1; N <= 5; N++) {
        alim_bon_size Ns;
        alim_bon_size_from_n((double)N, &Ns, &err);
        /* best-of-N, both tie rules */
        memset(pi, 0, sizeof pi);
        brute(f, N, RULE_RANDOM, 0, 1, pi);
        outcome_point(f, pi, &b);
        CHECK(!alim_bonfam_eval(&f->lv, f->gl, ALIM_METHOD_BON, (double)N, 0, &a, &err), "bon eval");
        snprintf(w, sizeof w, "%s bon N=%zu", name, N);
        check_point(&a, &b, 1e-13, w);
        memset(pi, 0, sizeof pi);
        brute(f, N, RULE_ORDERED, 0, 1, pi);
        outcome_point(f, pi, &b);
        alim_bon_level_log_probs(&f->ord, Ns, lp);
        snprintf(w, sizeof w, "%s bon ordered N=%zu kl", name, N);
        CHECK_ABS(ordered_kl(&f->ord, lp), b.kl_nats, 1e-13, w);
        /* soft best-of-N at several lambdas */
        static const double lams[] = {0, 0.3, 1, 2.5, 8};
        for (size_t li = 0; li < 5; li++) {
            memset(pi, 0, sizeof pi);
            brute(f, N, RULE_SOFT, lams[li], 1, pi);
            outcome_point(f, pi, &b);
            alim_soft_info si;
            CHECK(!alim_soft_bon_level_log_probs(&f->lv, Ns, lams[li], lp, &si, &err), "soft");
            alim_bonfam_eval_law(&f->lv, f->gl, lp, &a);
            snprintf(w, sizeof w, "%s soft N=%zu lambda=%g", name, N, lams[li]);
            check_point(&a, &b, 2e-13, w);
            CHECK(fabs(si.mass_error) < 1e-13, "%s: soft mass error %g", w, si.mass_error);
            /* per-level law */
            for (size_t j = 0; j < f->lv.n; j++) {
                double s = 0;
                for (size_t k = f->lv.start[j]; k < f->lv.start[j + 1]; k++) s += pi[f->lv.order[k]];
                snprintf(w, sizeof w, "%s soft N=%zu lambda=%g level %zu", name, N, lams[li], j);
                CHECK_REL(exp(lp[j]), s, 1e-12, w);
            }
        }
    }
    /* Best-of-Poisson: mixture over N = 1 + K of brute-force best-of-N (N <= 7) and the best-of-N
     * law (verified above) beyond */
    static const double mus[] = {0, 0.25, 0.8, 2};
    for (size_t mi = 0; mi < 4; mi++) {
        const double mu = mus[mi];
        double pr[16] = {0}, po[16] = {0}, lvl[16] = {0}, lvo[16] = {0};
        for (size_t N = 1; N <= 80; N++) {
            const double wgt = mu == 0 ? (N == 1) : exp((double)(N - 1) * log(mu) - mu - lgamma((double)N));
            if (wgt == 0) continue;
            if (N <= 7) {
                brute(f, N, RULE_RANDOM, 0, wgt, pr);
                brute(f, N, RULE_ORDERED, 0, wgt, po);
            } else {
                alim_bon_size Ns = {(double)N, log((double)N)};
                alim_bon_level_log_probs(&f->lv, Ns, lp);
                for (size_t j = 0; j < f->lv.n; j++) lvl[j] += wgt * exp(lp[j]);
                alim_bon_level_log_probs(&f->ord, Ns, lp);
                for (size_t j = 0; j < f->ord.n; j++) lvo[j] += wgt * exp(lp[j]);
            }
        }
        /* spread the level masses over outcomes in proportion to p (random) / onto the outcome (ordered) */
        for (size_t j = 0; j < f->lv.n; j++) {
            const double q = exp(f->lv.log_q[j]);
            for (size_t k = f->lv.start[j]; k < f->lv.start[j + 1]; k++) pr[f->lv.order[k]] += lvl[j] * f->p[f->lv.order[k]] / q;
        }
        for (size_t i = 0; i < f->ord.n; i++) po[f->lv.order[i]] += lvo[i];
        outcome_point(f, pr, &b);
        CHECK(!alim_bonfam_eval(&f->lv, f->gl, ALIM_METHOD_BOP, mu, 0, &a, &err), "bop eval");
        snprintf(w, sizeof w, "%s bop mu=%g", name, mu);
        check_point(&a, &b, 1e-12, w); /* the brute-force mixture sums ~10^6 products */
        alim_bon_size M = {mu, log(mu)};
        alim_bop_level_log_probs(&f->ord, M, lp);
        outcome_point(f, po, &b);
        snprintf(w, sizeof w, "%s bop ordered mu=%g kl", name, mu);
        CHECK_ABS(ordered_kl(&f->ord, lp), b.kl_nats, 1e-12, w);
        /* the convexity bounds hold */
        CHECK(a.kl_nats <= alim_bop_kl_bound(M) + 1e-15, "%s: KL %g > bound %g", w, a.kl_nats, alim_bop_kl_bound(M));
        CHECK(a.win_rate <= alim_bop_win_rate_bound(M) + 1e-15, "%s: win rate above bound", w);
    }
}

static void test_limits(fx *f)
{
    alim_error err;
    double lp[16], lt[16];
    alim_bonfam_point a, b;
    alim_soft_info si;
    /* soft with a large lambda tends to best-of-N (random ties); lambda = inf is it exactly */
    alim_bon_size N4 = {4, log(4.0)};
    CHECK(!alim_soft_bon_level_log_probs(&f->lv, N4, 40, lp, &si, &err), "soft 40");
    alim_bonfam_eval_law(&f->lv, f->gl, lp, &a);
    CHECK(!alim_bonfam_eval(&f->lv, f->gl, ALIM_METHOD_BON, 4, 0, &b, &err), "bon");
    CHECK_ABS(a.kl_nats, b.kl_nats, 1e-12, "soft lambda=40 -> bon kl");
    CHECK_ABS(a.reward, b.reward, 1e-12, "soft lambda=40 -> bon reward");
    CHECK(!alim_soft_bon_level_log_probs(&f->lv, N4, INFINITY, lp, &si, &err) && si.limit == 4, "soft inf");
    alim_bonfam_eval_law(&f->lv, f->gl, lp, &a);
    CHECK_ABS(a.kl_nats, b.kl_nats, 1e-15, "soft lambda=inf = bon");
    /* soft converges to the tilt in N: pi_N = phi (1 + c/N + ...), so the reward gap is O(1/N) and
     * KL(soft_N || phi) = O(1/N^2): N^2 KL and N (reward gap) settle */
    alim_tilt_level_log_probs(&f->lv, 1.5, lt);
    alim_bonfam_point tpt;
    alim_bonfam_eval_law(&f->lv, NULL, lt, &tpt);
    double prev = NAN, prevg = NAN;
    for (double n = 1e3; n <= 1e6; n *= 10) {
        alim_bon_size Ns = {n, log(n)};
        CHECK(!alim_soft_bon_level_log_probs(&f->lv, Ns, 1.5, lp, &si, &err), "soft big N");
        double kl = 0;
        for (size_t j = 0; j < f->lv.n; j++) kl += exp(lp[j]) * (lp[j] - lt[j]);
        alim_bonfam_eval_law(&f->lv, NULL, lp, &a);
        const double gap = n * (tpt.reward - a.reward);
        if (!isnan(prev)) {
            CHECK_REL(n * n * kl, prev, 1.5e3 / n + 1e-3, "N^2 KL(soft || tilt) converges");
            CHECK_REL(gap, prevg, 1.5e3 / n + 1e-3, "N (tilt reward - soft reward) converges");
        }
        CHECK(gap > 0, "soft below the tilt's reward at finite N");
        prev = n * n * kl, prevg = gap;
    }
    CHECK(prev > 0, "soft differs from the tilt at finite N");
    alim_bon_size Nh;
    alim_bon_size_from_log(5000, &Nh, &err);
    CHECK(!alim_soft_bon_level_log_probs(&f->lv, Nh, 1.5, lp, &si, &err) && si.limit == 3, "soft N=e^5000: tilt");
    for (size_t j = 0; j < f->lv.n; j++) CHECK_ABS(lp[j], lt[j], 1e-15, "soft N=e^5000 = tilt");
    /* tilt's level law against the tilt engine */
    alim_tilt_point tp;
    alim_tilt_eval(&f->d, 1.5, &tp);
    CHECK(!alim_bonfam_eval(&f->lv, f->gl, ALIM_METHOD_TILT, 1.5, 0, &a, &err), "tilt eval");
    CHECK_REL(a.kl_nats, tp.kl_nats, 1e-13, "tilt law KL = K(lambda)");
    CHECK_REL(a.reward, tp.mean, 1e-13, "tilt law reward = Lambda'(lambda)");
    /* Best-of-Poisson at mu = e^5000: the top level; KL = log 1/q_top; exact */
    alim_bon_size Mh = {INFINITY, 5000};
    alim_bop_level_log_probs(&f->lv, Mh, lp);
    alim_bonfam_eval_law(&f->lv, f->gl, lp, &a);
    CHECK_REL(a.kl_nats, -f->lv.log_q[f->lv.n - 1], 1e-15, "bop e^5000 KL");
    CHECK_ABS(a.reward, f->lv.v[f->lv.n - 1], 0, "bop e^5000 reward");
    CHECK_ABS(alim_bop_kl_bound(Mh), 4999, 1e-12, "bop KL bound e^5000");
    /* mu = 1e9 is still a proper law (sums to 1) */
    alim_bon_size M9 = {1e9, log(1e9)};
    alim_bop_level_log_probs(&f->lv, M9, lp);
    double s = 0;
    for (size_t j = 0; j < f->lv.n; j++) s += exp(lp[j]);
    CHECK_ABS(s, 1, 1e-14, "bop mu=1e9 sums to 1");
    /* KL bound series against the large-mu expansion where both apply */
    alim_bon_size Ma = {9.9e6, log(9.9e6)}, Mb = {1.01e7, log(1.01e7)};
    /* E log(K+1) - 1 + E 1/(K+1) = log mu - 1 + 3/(2 mu) + O(mu^-2) on both sides of the switch at 10^7 */
    CHECK_ABS((alim_bop_kl_bound(Ma) - (log(9.9e6) - 1)) * 9.9e6, 1.5, 1e-5, "bop KL bound: series (mu < 1e7)");
    CHECK_ABS((alim_bop_kl_bound(Mb) - (log(1.01e7) - 1)) * 1.01e7, 1.5, 1e-5, "bop KL bound: expansion (mu > 1e7)");
    /* soft best-of-N real N: between its integer neighbours */
    alim_bonfam_point lo, mid, hi;
    alim_bon_size N2 = {2, log(2.0)}, N25 = {2.5, log(2.5)}, N3 = {3, log(3.0)};
    alim_soft_bon_level_log_probs(&f->lv, N2, 1, lp, NULL, &err), alim_bonfam_eval_law(&f->lv, NULL, lp, &lo);
    alim_soft_bon_level_log_probs(&f->lv, N25, 1, lp, NULL, &err), alim_bonfam_eval_law(&f->lv, NULL, lp, &mid);
    alim_soft_bon_level_log_probs(&f->lv, N3, 1, lp, NULL, &err), alim_bonfam_eval_law(&f->lv, NULL, lp, &hi);
    CHECK(lo.reward < mid.reward && mid.reward < hi.reward, "soft reward increasing in real N");
    CHECK(isnan(mid.gold_reward), "no gold -> NAN");
    /* a wide lambda range still integrates (rewards 0..2, lambda 300: ~5000 nodes) */
    CHECK(!alim_soft_bon_level_log_probs(&f->lv, N4, 300, lp, &si, &err), "soft lambda=300");
    CHECK(fabs(si.mass_error) < 1e-12 && si.nodes > 4000, "soft lambda=300: mass %g nodes %zu", si.mass_error, si.nodes);
    CHECK(alim_soft_bon_level_log_probs(&f->lv, N4, -1, lp, &si, &err) == ALIM_EINVAL, "soft lambda < 0");
    CHECK(alim_soft_bon_level_log_probs(&f->lv, N4, 1e7, lp, &si, &err) == ALIM_ERANGE, "soft lambda too wide");
}

static void test_hedge(fx *f)
{
    alim_error err;
    alim_hedge_result h;
    alim_bonfam_point a;
    /* BoN: brute-force argmax over N = 1..300 */
    double bn = 1, bg = -INFINITY;
    for (double n = 1; n <= 300; n++) {
        alim_bonfam_eval(&f->lv, f->gl, ALIM_METHOD_BON, n, 0, &a, &err);
        if (a.gold_reward > bg) bg = a.gold_reward, bn = n;
    }
    CHECK(!alim_bonfam_hedge(&f->lv, f->gl, ALIM_METHOD_BON, 0, 1, 300, &h, &err), "hedge bon");
    CHECK(h.exhaustive && h.param == bn, "hedge bon N = %g, brute %g", h.param, bn);
    CHECK(h.interior && bn > 1 && bn < 300, "gold reward of this fixture peaks inside (hacking)");
    CHECK_ABS(h.at.gold_reward, bg, 0, "hedge bon gold");
    /* BoP and tilt: fine grids */
    static const alim_bon_method ms[] = {ALIM_METHOD_BOP, ALIM_METHOD_TILT};
    for (int t = 0; t < 2; t++) {
        double bp = 0, bgr = -INFINITY;
        for (double x = 0; x <= 20; x += 1e-3) {
            alim_bonfam_eval(&f->lv, f->gl, ms[t], x, 0, &a, &err);
            if (a.gold_reward > bgr) bgr = a.gold_reward, bp = x;
        }
        CHECK(!alim_bonfam_hedge(&f->lv, f->gl, ms[t], 0, 0, 20, &h, &err), "hedge");
        CHECK_ABS(h.param, bp, 2e-3, ms[t] == ALIM_METHOD_BOP ? "hedge bop mu" : "hedge tilt lambda");
        CHECK(h.at.gold_reward >= bgr - 1e-15, "hedge at least the grid's best");
    }
    /* soft: lambda at N = 8 */
    double bl = 0, bgl = -INFINITY;
    for (double x = 0; x <= 30; x += 0.01) {
        double lp[16];
        alim_bon_size N8 = {8, log(8.0)};
        alim_soft_bon_level_log_probs(&f->lv, N8, x, lp, NULL, &err);
        alim_bonfam_eval_law(&f->lv, f->gl, lp, &a);
        if (a.gold_reward > bgl) bgl = a.gold_reward, bl = x;
    }
    CHECK(!alim_bonfam_hedge(&f->lv, f->gl, ALIM_METHOD_SOFT, 8, 0, 30, &h, &err), "hedge soft");
    CHECK_ABS(h.param, bl, 0.02, "hedge soft lambda");
    CHECK(h.at.gold_reward >= bgl - 1e-15, "hedge soft at least the grid's best");
    CHECK(alim_bonfam_hedge(&f->lv, NULL, ALIM_METHOD_BON, 0, 1, 10, &h, &err) == ALIM_EINVAL, "hedge needs gold");
}

static double binom_pmf(int n, int c, double th)
{
    return exp(lgamma(n + 1) - lgamma(c + 1) - lgamma(n - c + 1) + c * log(th) + (n - c) * log1p(-th));
}

static double choose(int n, int k) { return k < 0 || k > n ? 0 : round(exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1))); }

static void test_passk(fx *f)
{
    alim_error err;
    alim_passk_result r;
    CHECK(!alim_pass_at_k_estimate(10, 3, 2, &r, &err), "passk");
    CHECK_ABS(r.estimate, 1 - 21.0 / 45.0, 1e-15, "pass@2 n=10 c=3");
    CHECK(!alim_pass_at_k_estimate(10, 9, 2, &r, &err) && r.estimate == 1, "n - c < k -> 1");
    CHECK(!alim_pass_at_k_estimate(10, 0, 2, &r, &err) && r.estimate == 0, "c = 0 -> 0");
    /* unbiasedness, exact variance, unbiased variance estimate: sums over the binomial */
    static const double ths[] = {0.05, 0.3, 0.77};
    for (int ti = 0; ti < 3; ti++)
        for (int n = 4; n <= 24; n += 10)
            for (int k = 1; k <= n / 2; k += 2) {
                const double th = ths[ti];
                double m = 0, m2 = 0, eu = 0;
                for (int c = 0; c <= n; c++) {
                    const double b = binom_pmf(n, c, th);
                    const double e = 1 - choose(n - c, k) / choose(n, k);
                    alim_pass_at_k_estimate((uint64_t)n, (uint64_t)c, (uint64_t)k, &r, &err);
                    CHECK_ABS(r.estimate, e, 1e-13, "estimator vs binomials");
                    m += b * e, m2 += b * e * e;
                    eu += b * r.var_unbiased;
                }
                CHECK_ABS(m, alim_pass_at_k(th, k), 1e-13, "estimator unbiased");
                const double var = m2 - m * m;
                CHECK_ABS(alim_pass_at_k_estimator_var((uint64_t)n, (uint64_t)k, th), var, 1e-13, "estimator variance");
                CHECK_ABS(eu, var, 1e-12, "variance estimate unbiased");
            }
    CHECK(alim_pass_at_k_estimate(10, 11, 2, &r, &err) == ALIM_EINVAL, "c > n");
    CHECK(alim_pass_at_k_estimate(10, 1, 11, &r, &err) == ALIM_EINVAL, "k > n");
    CHECK(alim_pass_at_k_estimate(10, 1, 0, &r, &err) == ALIM_EINVAL, "k = 0");
    /* large n: the variance's window sum against the plug-in formula's small-theta limit */
    CHECK(!alim_pass_at_k_estimate(1000000, 1000, 10, &r, &err), "large n");
    long double lr = 0; /* C(n-c,k)/C(n,k) in extended precision */
    for (int i = 0; i < 10; i++) lr += log1pl(-1000.0L / (1000000.0L - i));
    CHECK_REL(r.estimate, (double)-expm1l(lr), 1e-14, "large n estimate");
    CHECK(r.var_plugin > 0 && r.std_error < 1e-3, "large n variance small");
    /* pass@k is best-of-k's reward on a binary reward */
    static const double pb[] = {0.6, 0.3, 0.1}, rb[] = {0, 1, 0}, gb[] = {0, 0, 0};
    fx b;
    fx_init(&b, 3, pb, rb, gb);
    alim_bonfam_point a;
    for (double k = 1; k <= 50; k *= 7) {
        alim_bonfam_eval(&b.lv, NULL, ALIM_METHOD_BON, k, 0, &a, &err);
        CHECK_ABS(a.reward, alim_pass_at_k(0.3, k), 1e-15, "pass@k = best-of-k reward");
    }
    fx_free(&b);
    (void)f;
}

static void test_mc(fx *f)
{
    alim_error err;
    alim_bonfam_mc_result m;
    alim_bonfam_point a;
    struct {
        alim_bon_method m;
        double par, lam;
    } cs[] = {{ALIM_METHOD_SOFT, 3, 1.2}, {ALIM_METHOD_BOP, 2.5, 0}, {ALIM_METHOD_BON, 4, 0}, {ALIM_METHOD_TILT, 1.1, 0}};
    for (int i = 0; i < 4; i++) {
        CHECK(!alim_bonfam_mc(&f->lv, f->gl, cs[i].m, cs[i].par, cs[i].lam, 400000, 7 + i, &m, &err), "mc");
        alim_bonfam_eval(&f->lv, f->gl, cs[i].m, cs[i].par, cs[i].lam, &a, &err);
        /* 95% intervals widened to ~4 sigma so the test is not flaky (seeded anyway) */
        const double wr = 2 * (m.reward.hi - m.reward.lo), wg = 2 * (m.gold_reward.hi - m.gold_reward.lo);
        CHECK(fabs(m.reward.mean - a.reward) < wr, "mc %s reward %g vs %g", alim_bon_method_name(cs[i].m), m.reward.mean,
              a.reward);
        CHECK(fabs(m.gold_reward.mean - a.gold_reward) < wg, "mc %s gold", alim_bon_method_name(cs[i].m));
        CHECK(fabs(m.kl_nats.mean - a.kl_nats) < 2 * (m.kl_nats.hi - m.kl_nats.lo), "mc %s kl",
              alim_bon_method_name(cs[i].m));
        CHECK(fabs(m.win_rate.mean - a.win_rate) < 2 * (m.win_rate.hi - m.win_rate.lo), "mc %s win",
              alim_bon_method_name(cs[i].m));
    }
    CHECK(alim_bonfam_mc(&f->lv, f->gl, ALIM_METHOD_SOFT, 2.5, 1, 100, 1, &m, &err) == ALIM_EINVAL, "mc soft real N");
}

int main(int argc, char **argv)
{
    (void)argc;
    /* T1 of the asymptotics spec with a gold reward that peaks at the middle reward (hacking) */
    static const double p1[] = {0.5, 0.3, 0.2}, r1[] = {0, 1, 2}, g1[] = {0, 1.5, 0.5};
    /* ties (rows 0 and 2 at reward 1, rows 1 and 4 at 0), a zero-probability row */
    static const double p2[] = {0.1, 0.25, 0.15, 0.3, 0.2, 0.0}, r2[] = {1, 0, 1, 2, 0, 5},
                        g2[] = {2, -1, 0.5, 1, 0.25, 9};
    /* a tiny top mass */
    static const double p3[] = {0.6, 0.399, 0.001}, r3[] = {-1, 0.5, 3}, g3[] = {0, 1, -2};
    fx f1, f2, f3;
    fx_init(&f1, 3, p1, r1, g1);
    fx_init(&f2, 6, p2, r2, g2);
    fx_init(&f3, 3, p3, r3, g3);
    test_brute(&f1, "T1");
    test_brute(&f2, "ties");
    test_brute(&f3, "tiny top");
    test_limits(&f1);
    test_limits(&f3);
    test_hedge(&f1);
    test_passk(&f1);
    test_mc(&f2);
    fx_free(&f1);
    fx_free(&f2);
    fx_free(&f3);
    return check_summary(argv[0]);
}
