/* test_asymptotics.c — the asymptotics engine (rdist, tilt, bon, seqpmf) against the spec's
 * test vectors T1-T9 (/work/shared/theory/asymptotics.md §5), brute-force enumeration of
 * tiny cases, structural properties and the Monte Carlo validators. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "alim/bon.h"
#include "alim/rng.h"
#include "alim/seqpmf.h"
#include "alim/tilt.h"
#include "check.h"

static alim_rdist mk(const double *p, const double *r, size_t n)
{
    alim_rdist d;
    alim_error e;
    alim_status st = alim_rdist_from_arrays(&d, p, r, n, 0, 0, "test", &e);
    if (st) {
        fprintf(stderr, "rdist: %s\n", e.what);
        exit(1);
    }
    return d;
}

static alim_bon_size NN(double n)
{
    alim_bon_size s;
    alim_bon_size_from_n(n, &s, NULL);
    return s;
}
static alim_bon_size NL(double logn)
{
    alim_bon_size s;
    alim_bon_size_from_log(logn, &s, NULL);
    return s;
}

static const double P1[] = {0.5, 0.3, 0.2}, R1[] = {0, 1, 2};

static void test_t1(void)
{
    alim_rdist d = mk(P1, R1, 3);
    static const double lam[3] = {0.5, 1, 2};
    static const double phi[3][3] = {{0.325039887111712, 0.321540105424229, 0.353420007464059},
                                     {0.179000020574274, 0.291943501932506, 0.529056477493220},
                                     {0.0366667118402051, 0.162559434450360, 0.800773853709435}};
    static const double L[3] = {0.430660194048613, 1.02722217764137, 2.61273878929305};
    static const double K[3] = {0.0835298661275601, 0.322834279277580, 0.915475494445409};
    static const double M[3] = {1.02838012035235, 1.35005645691895, 1.76410714186923};
    static const double V[3] = {0.677654463344557, 0.585516975036848, 0.253580841294077};
    for (int i = 0; i < 3; i++) {
        alim_tilt_point pt;
        alim_tilt_eval(&d, lam[i], &pt);
        CHECK_ABS(pt.log_partition, L[i], 1e-13, "T1 Lambda");
        CHECK_ABS(pt.kl_nats, K[i], 1e-13, "T1 KL");
        CHECK_ABS(pt.mean, M[i], 1e-13, "T1 E r");
        CHECK_ABS(pt.var, V[i], 1e-13, "T1 Var");
        double f[3];
        alim_tilt_policy(&d, lam[i], f);
        for (int k = 0; k < 3; k++) CHECK_ABS(f[k], phi[i][k], 1e-14, "T1 phi");
    }
    CHECK_ABS(alim_tilt_kl_max(&d), 1.609437912434100, 1e-13, "T1 log 5");
    /* inverse */
    static const double D[2] = {0.1, 0.5}, LS[2] = {0.546513897227127, 1.28914691852586},
                        ER[2] = {1.05985703789571, 1.50544783773860};
    static const double PH[2][3] = {{0.309631071907555, 0.320880818289179, 0.369488109803266},
                                    {0.118375841163168, 0.257800479935063, 0.623823678901769}};
    for (int i = 0; i < 2; i++) {
        alim_tilt_solution s;
        CHECK(alim_tilt_solve_kl(&d, D[i], &s, NULL) == ALIM_OK, "solve");
        CHECK(!s.saturated, "T1 not saturated");
        CHECK_ABS(s.pt.lambda, LS[i], 1e-12, "T1 lambda*");
        CHECK_ABS(s.pt.mean, ER[i], 1e-12, "T1 R*");
        double f[3];
        alim_tilt_policy(&d, s.pt.lambda, f);
        for (int k = 0; k < 3; k++) CHECK_ABS(f[k], PH[i][k], 1e-12, "T1 phi*");
        /* R*(D) = inf_l (Lambda(l) + D)/l, attained at lambda* */
        double best = INFINITY;
        for (double l = 0.05; l < 6; l += 0.0005) {
            alim_tilt_point q;
            alim_tilt_eval(&d, l, &q);
            double v = (q.log_partition + D[i]) / l;
            if (v < best) best = v;
        }
        CHECK(best >= s.pt.mean - 1e-12 && best - s.pt.mean < 1e-6, "T1 inf_l (Lambda+D)/l = R* (%g vs %g)", best,
              s.pt.mean);
    }
    alim_rdist_free(&d);
}

static void test_solver_robust(void)
{
    alim_rdist d = mk(P1, R1, 3);
    const double kinf = alim_tilt_kl_max(&d);
    static const double tiny[] = {1e-300, 1e-200, 1e-30, 1e-12, 1e-7, 1e-4};
    for (size_t i = 0; i < sizeof tiny / sizeof *tiny; i++) {
        alim_tilt_solution s;
        CHECK(alim_tilt_solve_kl(&d, tiny[i], &s, NULL) == ALIM_OK, "solve tiny");
        CHECK(fabs(s.pt.kl_nats - tiny[i]) <= 1e-12 * tiny[i], "tiny D %g: K(l*) = %.17g", tiny[i], s.pt.kl_nats);
        if (tiny[i] <= 1e-7)
            CHECK(fabs(s.pt.lambda - sqrt(2 * tiny[i] / 0.61)) <= 1e-3 * s.pt.lambda, "tiny D: l* ~ sqrt(2D/Var)");
    }
    static const double gaps[] = {1e-1, 1e-4, 1e-8, 1e-11};
    for (size_t i = 0; i < sizeof gaps / sizeof *gaps; i++) {
        alim_tilt_solution s;
        double D = kinf - gaps[i];
        CHECK(alim_tilt_solve_kl(&d, D, &s, NULL) == ALIM_OK && !s.saturated, "near saturation");
        CHECK(fabs(s.pt.kl_gap_nats - gaps[i]) <= 1e-6 * gaps[i], "near saturation gap %g: %.17g", gaps[i],
              s.pt.kl_gap_nats);
        CHECK(s.pt.kl_nats <= kinf && s.pt.mean < 2, "K < K(inf)");
    }
    alim_tilt_solution s;
    CHECK(alim_tilt_solve_kl(&d, kinf, &s, NULL) == ALIM_OK && s.saturated && isinf(s.pt.lambda), "saturated at log 5");
    CHECK(alim_tilt_solve_kl(&d, 10, &s, NULL) == ALIM_OK && s.saturated && s.pt.mean == 2, "saturated above");
    CHECK(alim_tilt_solve_kl(&d, 0, &s, NULL) == ALIM_OK && s.pt.lambda == 0 && s.pt.mean == 0.7, "D = 0");
    CHECK(alim_tilt_solve_kl(&d, -1e-3, &s, NULL) == ALIM_EINVAL, "D < 0 rejected");
    CHECK(alim_tilt_solve_kl(&d, NAN, &s, NULL) == ALIM_EINVAL, "D NaN rejected");
    /* negative and shifted rewards: same lambda, reward shifted */
    double rn[3] = {-1000, -999, -998};
    alim_rdist dn = mk(P1, rn, 3);
    CHECK(alim_tilt_solve_kl(&dn, 0.5, &s, NULL) == ALIM_OK, "negative rewards");
    CHECK_ABS(s.pt.lambda, 1.28914691852586, 1e-11, "negative rewards lambda");
    CHECK_ABS(s.pt.mean, -1000 + 1.50544783773860, 1e-10, "negative rewards mean");
    alim_rdist_free(&dn);
    /* ties and a zero-probability outcome with a huge reward (outside the support) */
    double pt4[5] = {0.4, 0.1, 0.2, 0.3, 0.0}, rt4[5] = {0, 1, 1, 2, 1e6};
    alim_rdist dt = mk(pt4, rt4, 5);
    CHECK(dt.support == 4 && dt.r_max == 2, "p = 0 outside the support");
    CHECK(alim_tilt_solve_kl(&dt, 0.3, &s, NULL) == ALIM_OK && fabs(s.pt.kl_nats - 0.3) < 1e-14, "ties solve");
    double f[5];
    alim_tilt_policy(&dt, s.pt.lambda, f);
    CHECK(f[4] == 0 && fabs(f[1] / f[2] - 0.5) < 1e-14, "tied outcomes keep their ratio");
    alim_rdist_free(&dt);
    /* a subnormal top mass: K(inf) = 736.8 nats; budgets far out still solved to full accuracy */
    double ps[2] = {1e-320, 1}, rs[2] = {5, 0};
    alim_rdist dsub;
    alim_rdist_from_arrays(&dsub, ps, rs, 2, 1e-9, 0, "sub", NULL);
    static const double far[3] = {1, 100, 700};
    for (int i = 0; i < 3; i++) {
        CHECK(alim_tilt_solve_kl(&dsub, far[i], &s, NULL) == ALIM_OK && !s.saturated, "subnormal top");
        CHECK(fabs(s.pt.kl_nats - far[i]) <= 1e-12 * far[i], "subnormal top: K = %.17g, want %g", s.pt.kl_nats, far[i]);
    }
    alim_rdist_free(&dsub);
    /* one reward level: always saturated at KL 0 */
    double pc[2] = {0.5, 0.5}, rc[2] = {3, 3};
    alim_rdist dc = mk(pc, rc, 2);
    CHECK(alim_tilt_solve_kl(&dc, 0.2, &s, NULL) == ALIM_OK && s.saturated && s.pt.kl_nats == 0, "constant reward");
    alim_rdist_free(&dc);
    alim_rdist_free(&d);
}

static void test_rdist_errors(void)
{
    alim_rdist d;
    alim_error e;
    double p[3] = {0.5, -0.1, 0.6}, r[3] = {0, 1, 2};
    CHECK(alim_rdist_from_arrays(&d, p, r, 3, 0, 0, "x", &e) == ALIM_EINVAL && strstr(e.what, "negative"), "negative p");
    double p2[3] = {0.5, NAN, 0.5};
    CHECK(alim_rdist_from_arrays(&d, p2, r, 3, 0, 0, "x", &e) == ALIM_EINVAL, "NaN p");
    double p3[3] = {0.5, 0.3, 0.3};
    CHECK(alim_rdist_from_arrays(&d, p3, r, 3, 0, 0, "x", &e) == ALIM_EINVAL && strstr(e.what, "sum"), "sum != 1");
    CHECK(alim_rdist_from_arrays(&d, p3, r, 3, 0, 1, "x", &e) == ALIM_OK && fabs(d.p[2] - 0.3 / 1.1) < 1e-16, "normalize");
    alim_rdist_free(&d);
    double r2[3] = {0, INFINITY, 1};
    CHECK(alim_rdist_from_arrays(&d, P1, r2, 3, 0, 0, "x", &e) == ALIM_EINVAL, "inf reward");
    CHECK(alim_rdist_from_arrays(&d, P1, r, 0, 0, 0, "x", &e) == ALIM_EINVAL, "empty");
    alim_bon_size N;
    CHECK(alim_bon_size_from_n(0.5, &N, &e) == ALIM_EINVAL, "N < 1");
    CHECK(alim_bon_size_from_n(NAN, &N, &e) == ALIM_EINVAL, "N NaN");
    CHECK(alim_bon_size_from_log(-1, &N, &e) == ALIM_EINVAL, "log N < 0");
    alim_rdist t = mk(P1, R1, 3);
    alim_levels lv;
    alim_seqpmf_info info;
    CHECK(alim_seqpmf_compute(&t, 0, NULL, &lv, &info, NULL, &e) == ALIM_EINVAL, "length 0");
    alim_rdist_free(&t);
}

static void test_t2(void)
{
    alim_rdist d = mk(P1, R1, 3);
    alim_levels lv;
    CHECK(alim_levels_from_rdist(&d, &lv, NULL) == ALIM_OK && lv.n == 3, "levels");
    static const double N[4] = {1, 2, 4, 16};
    static const double PI[4][3] = {{0.5, 0.3, 0.2},
                                    {0.25, 0.39, 0.36},
                                    {0.0625, 0.3471, 0.5904},
                                    {1.52587890625e-5, 0.0281322388820031, 0.9718525023289344}};
    static const double KL[4] = {0, 0.1406384673671, 0.5597505603575, 1.469644779722};
    static const double B[4] = {0, 0.1931471805599, 0.6362943611199, 1.835088722240};
    static const double ER[4] = {0.7, 1.11, 1.5279, 1.9718372435398719};
    static const double WS[4] = {0.31, 0.483, 0.64587, 0.7915481213041};
    static const double WH[4] = {0.5, 0.64, 0.7726, 0.8929570220666};
    static const double LS[4] = {0, 0.6479093869595, 1.384401050496, 4.013078470738};
    static const double RS[4] = {0.7, 1.127918028746, 1.550164969096, 1.972030782390};
    for (int i = 0; i < 4; i++) {
        alim_bon_result b;
        alim_bon_eval(&lv, NN(N[i]), &b);
        CHECK_ABS(b.kl_nats, KL[i], 1e-12, "T2 KL");
        CHECK_ABS(b.kl_bound_nats, B[i], 1e-12, "T2 bound");
        CHECK_ABS(b.reward, ER[i], 1e-13, "T2 E r");
        CHECK_ABS(b.win_rate_strict, WS[i], 1e-12, "T2 W>");
        CHECK_ABS(b.win_rate, WH[i], 1e-12, "T2 W1/2");
        double pi[3];
        CHECK(alim_bon_policy(&d, &lv, NULL, NN(N[i]), ALIM_TIES_RANDOM, pi, NULL) == ALIM_OK, "policy");
        for (int k = 0; k < 3; k++) CHECK_ABS(pi[k], PI[i][k], 1e-15, "T2 pi");
        alim_tilt_solution s;
        alim_tilt_solve_kl(&d, b.kl_nats, &s, NULL);
        CHECK_ABS(s.pt.lambda, LS[i], 1e-11, "T2 lambda at same KL");
        CHECK_ABS(s.pt.mean, RS[i], 1e-12, "T2 R* at same KL");
    }
    static const double N2[4] = {3, 5, 6, 8}, KL2[4] = {0.3605547865515, 0.7249401604942, 0.860665826535, 1.06853267138},
                        ER2[4] = {1.363, 1.64107, 1.722231, 1.82832159};
    for (int i = 0; i < 4; i++) {
        alim_bon_result b;
        alim_bon_eval(&lv, NN(N2[i]), &b);
        CHECK_ABS(b.kl_nats, KL2[i], 1e-11, "T2 KL (more N)");
        CHECK_ABS(b.reward, ER2[i], 1e-13, "T2 E r (more N)");
    }
    /* identity checks */
    alim_bon_result b4;
    alim_bon_eval(&lv, NN(4), &b4);
    alim_tilt_point pt;
    alim_tilt_eval(&d, 1.384401050496, &pt);
    CHECK_ABS(alim_tilt_kl_from(&pt, b4.kl_nats, b4.reward), 0.03082364660543, 1e-11, "T2 KL(pi4||phi)");
    CHECK_ABS(alim_tilt_kl_from(&pt, b4.kl_nats, b4.reward), pt.lambda * (1.550164969096 - b4.reward), 1e-11,
              "T2 = lambda (R* - E r)");
    alim_tilt_solution s5;
    alim_tilt_solve_kl(&d, 0.5, &s5, NULL);
    CHECK_ABS(alim_tilt_kl_from(&s5.pt, b4.kl_nats, b4.reward), 0.03080642456396, 1e-12, "T2 KL(pi4||phi_l*(0.5))");
    /* the same KL(pi4 || phi) from the policies themselves */
    double pi[3], f[3];
    alim_bon_policy(&d, &lv, NULL, NN(4), ALIM_TIES_RANDOM, pi, NULL);
    alim_tilt_policy(&d, s5.pt.lambda, f);
    double direct = 0;
    for (int k = 0; k < 3; k++) direct += pi[k] * log(pi[k] / f[k]);
    CHECK_ABS(direct, 0.03080642456396, 1e-12, "T2 KL(pi4||phi) direct");
    alim_levels_free(&lv);
    alim_rdist_free(&d);
}

static void test_t3(void)
{
    double p[4] = {0.4, 0.1, 0.2, 0.3}, r[4] = {0, 1, 1, 2};
    alim_rdist d = mk(p, r, 4);
    alim_levels lv, ord;
    alim_levels_from_rdist(&d, &lv, NULL);
    alim_levels_ordered(&d, &lv, &ord, NULL);
    CHECK(lv.n == 3 && ord.n == 4, "T3 levels");
    static const double PR[2][4] = {{0.16, 0.11, 0.22, 0.51}, {0.0256, 0.0715, 0.143, 0.7599}};
    static const double PO[2][4] = {{0.16, 0.09, 0.24, 0.51}, {0.0256, 0.0369, 0.1776, 0.7599}};
    static const double KR[2] = {0.1554662502773, 0.5639243513960}, KO[2] = {0.1582886181632, 0.5779995237086};
    static const double ER[2] = {1.35, 1.7343}, WH[2] = {0.647, 0.76901};
    for (int i = 0; i < 2; i++) {
        double N = i ? 4 : 2, pi[4];
        alim_bon_result b;
        alim_bon_eval(&lv, NN(N), &b);
        CHECK_ABS(b.kl_nats, KR[i], 1e-12, "T3 KL random");
        CHECK_ABS(alim_bon_kl(&ord, NN(N)), KO[i], 1e-12, "T3 KL ordered");
        CHECK_ABS(b.reward, ER[i], 1e-14, "T3 E r");
        CHECK_ABS(b.win_rate, WH[i], 1e-14, "T3 W");
        alim_bon_policy(&d, &lv, &ord, NN(N), ALIM_TIES_RANDOM, pi, NULL);
        for (int k = 0; k < 4; k++) CHECK_ABS(pi[k], PR[i][k], 1e-15, "T3 pi random");
        alim_bon_policy(&d, &lv, &ord, NN(N), ALIM_TIES_ORDERED, pi, NULL);
        for (int k = 0; k < 4; k++) CHECK_ABS(pi[k], PO[i][k], 1e-15, "T3 pi ordered");
    }
    alim_levels_free(&lv);
    alim_levels_free(&ord);
    alim_rdist_free(&d);
}

static void test_t4(void)
{
    alim_rdist d = mk(P1, R1, 3);
    static const double X[] = {0, 0.2, 0.7, 1.0, 1.5, 1.9, 2};
    static const double I[] = {0.6931471805599, 0.2569043652813, 0, 0.06993381542838, 0.4930073413751, 1.233710314047,
                               1.609437912434};
    static const double T[] = {-INFINITY, -1.236922288228, 0, 0.4581453659371, 1.278000149966, 2.79709172483, INFINITY};
    for (int i = 0; i < 7; i++) {
        double t, v = alim_rate_cramer(&d, X[i], &t);
        CHECK_ABS(v, I[i], 1e-12, "T4 I_p");
        CHECK_ABS(t, T[i], 1e-10, "T4 argmax t");
    }
    CHECK(isinf(alim_rate_cramer(&d, 2.0000001, NULL)), "I = inf outside");
    static const double XJ[] = {0.7, 1.0, 1.35005645691895, 1.5, 2},
                        J[] = {0.3272221776414, 0.09715599306974, 0, 0.02022951901647, 0.6366600900755};
    for (int i = 0; i < 5; i++) CHECK_ABS(alim_rate_tilted(&d, 1, XJ[i]), J[i], 1e-12, "T4 J_1");
    const double logc = alim_tilt_log_softmax_norm(&d);
    CHECK_ABS(logc, 2.407605964444, 1e-12, "T4 log C");
    CHECK_ABS(alim_tilt_renyi_cross_entropy(&d, 0, 1.0), 1.707605964444, 1e-12, "T4 H(p;q)");
    CHECK_ABS(alim_tilt_renyi_cross_entropy(&d, 0, 1.5), 1.546285576347, 1e-12, "T4 H_1.5");
    CHECK_ABS(alim_tilt_renyi_cross_entropy(&d, 0, 2.0), 1.380383786803, 1e-12, "T4 H_2");
    CHECK_ABS(alim_tilt_renyi_cross_entropy(&d, 0, 3.0), 1.101236569798, 1e-12, "T4 H_3");
    static const double ts[3] = {0.5, 1, 2};
    for (int i = 0; i < 3; i++) {
        alim_tilt_point pt;
        alim_tilt_eval(&d, ts[i], &pt);
        CHECK_ABS(ts[i] * (logc - alim_tilt_renyi_cross_entropy(&d, 0, 1 + ts[i])), pt.log_partition, 1e-13,
                  "T4 Lambda(t) = t[log C - H_{1+t}(p;q)]");
    }
    alim_tilt_point p1, p15, p2;
    alim_tilt_eval(&d, 1, &p1);
    alim_tilt_eval(&d, 1.5, &p15);
    alim_tilt_eval(&d, 2, &p2);
    CHECK_ABS(p15.log_partition - p1.log_partition, 0.741202832685, 1e-12, "T4 Lambda(1.5) - Lambda(1)");
    CHECK_ABS(p2.log_partition - p1.log_partition, 1.585516611652, 1e-12, "T4 Lambda(2) - Lambda(1)");
    CHECK_ABS(0.5 * (logc - alim_tilt_renyi_cross_entropy(&d, 1, 1.5)), 0.741202832685, 1e-12, "T4 tilted Renyi 0.5");
    CHECK_ABS(1.0 * (logc - alim_tilt_renyi_cross_entropy(&d, 1, 2.0)), 1.585516611652, 1e-12, "T4 tilted Renyi 1");
    /* frontier = rate function: I_p(R*(D)) = D */
    for (double D = 0.05; D < 1.6; D += 0.1) {
        alim_tilt_solution s;
        alim_tilt_solve_kl(&d, D, &s, NULL);
        CHECK_ABS(alim_rate_cramer(&d, s.pt.mean, NULL), D, 1e-12, "I_p(R*(D)) = D");
    }
    alim_rdist_free(&d);
}

/* T5 and T6: the spec's finite-n tables */
static void test_t5_t6(void)
{
    alim_rdist d = mk(P1, R1, 3);
    static const int n5[] = {1, 2, 3, 4, 5, 6, 7, 8, 16, 64, 256, 1024};
    static const double t5[][4] = {{1.11, 0.1406384673671, 0.1504288288255, 0.1504288288255},
                                   {1.17028, 0.1994649542149, 0.1315455394246, 0.2630910788492},
                                   {1.171956095754, 0.2012151981364, 0.1311350496696, 0.3934051490089},
                                   {1.242337320045, 0.2616891299609, 0.1008772430778, 0.4035089723112},
                                   {1.287010357863, 0.3036912023526, 0.08528920642464, 0.4264460321232},
                                   {1.315470343885, 0.3316350923834, 0.07654399317453, 0.4592639590472},
                                   {1.336068013394, 0.3522513528973, 0.07060683151166, 0.4942478205817},
                                   {1.353543766437, 0.3699596437555, 0.06578630918492, 0.5262904734794},
                                   {1.416319773784, 0.4320027673291, 0.04690193633025, 0.7504309812840},
                                   {1.475877860853, 0.4825448052563, 0.02066484983859, 1.322550389670},
                                   {1.496063323665, 0.4956167717242, 0.007714789123931, 1.974986015726},
                                   {1.502587020151, 0.4988974048115, 0.002585418988635, 2.647469044363}};
    for (int i = 0; i < 12; i++) {
        int n = n5[i];
        alim_bon_size N = n <= 8 ? NN(round(exp(n / 2.0))) : NL(n / 2.0);
        alim_seq_result s;
        alim_error e;
        CHECK(alim_seq_compare(&d, n, 0.5, N, NULL, &s, NULL, &e) == ALIM_OK, "T5 n=%d: %s", n, e.what);
        CHECK_REL(s.bon.reward / n, t5[i][0], 1e-10, "T5 E/n");
        CHECK_REL(s.bon.kl_nats / n, t5[i][1], 1e-10, "T5 KL_p/n");
        CHECK_REL(s.bon_kl_to_rl_nats / n, t5[i][2], 1e-10, "T5 KL_phi/n");
        CHECK_REL(s.bon_kl_to_rl_nats, t5[i][3], 1e-10, "T5 KL_phi total");
        if (i == 0) {
            CHECK_ABS(s.rl.pt.lambda, 1.289146918526, 1e-11, "T5 lambda*");
            CHECK_ABS(s.rl.pt.mean, 1.505447837739, 1e-11, "T5 x*");
        }
        if (n == 1024) {
            CHECK_ABS(s.rl.pt.mean - s.bon.reward / n, 0.00286, 5e-6, "T5 shortfall at 1024");
            CHECK_ABS(log(1024.0) / (2 * 1024 * s.rl.pt.lambda), 0.00263, 5e-6, "T5 log n/(2 n l*)");
        }
    }
    alim_rdist_free(&d);
    double p6[2] = {0.7, 0.3}, r6[2] = {0, 1};
    alim_rdist b = mk(p6, r6, 2);
    static const int n6[] = {1, 2, 3, 4, 5, 6, 7, 8, 64, 256, 1024};
    static const double t6[][4] = {{0.51, 0.09584968551173, 0.3614921034569, 0.3614921034569},
                                   {0.62830119, 0.2611703379675, 0.2070837629847, 0.4141675259694},
                                   {0.6845759695755, 0.3515855702485, 0.1454068768272, 0.4362206304815},
                                   {0.7185028707063, 0.4113999278058, 0.1135280406665, 0.4541121626661},
                                   {0.7407651746421, 0.4541912425920, 0.09615171032873, 0.4807585516436},
                                   {0.7569230794983, 0.4882612169988, 0.08655221152491, 0.5193132691495},
                                   {0.7698370961440, 0.5166196841821, 0.08000836253719, 0.5600585377603},
                                   {0.7804366653799, 0.5387306970682, 0.07347224518512, 0.5877779614810},
                                   {0.8490521205076, 0.6710548312368, 0.02035149610899, 1.302495750975},
                                   {0.8600122132162, 0.6879124539283, 0.007587612845041, 1.942428888330},
                                   {0.8633328895074, 0.6918028993368, 0.002503368426472, 2.563449268707}};
    for (int i = 0; i < 11; i++) {
        int n = n6[i];
        alim_bon_size N = n < 60 ? NN(ldexp(1.0, n)) : NL(n * log(2.0));
        alim_seq_result s;
        alim_error e;
        CHECK(alim_seq_compare(&b, n, log(2.0), N, NULL, &s, NULL, &e) == ALIM_OK, "T6 n=%d: %s", n, e.what);
        CHECK_REL(s.bon.reward / n, t6[i][0], 1e-10, "T6 E/n");
        CHECK_REL(s.bon.kl_nats / n, t6[i][1], 1e-10, "T6 KL_p/n");
        CHECK_REL(s.bon_kl_to_rl_nats / n, t6[i][2], 1e-10, "T6 KL_phi/n");
        CHECK_REL(s.bon_kl_to_rl_nats, t6[i][3], 1e-10, "T6 KL_phi total");
        if (i == 0) {
            CHECK_ABS(s.rl.pt.lambda, 2.70266928784, 1e-10, "T6 lambda*");
            CHECK_ABS(s.rl.pt.mean, 0.864756537479, 1e-11, "T6 x*");
        }
    }
    alim_rdist_free(&b);
}

static void test_t7_t9(void)
{
    static const double N[3] = {2, 4, 16}, K[3] = {0.1924055220820, 0.6255252825981, 1.493827842356},
                        Kd[3] = {0.1924054867955, 0.6255252633981, 1.493827823507};
    /* discrete check: 4000 equal small atoms (total 0.8) below one top atom of 0.2 */
    const size_t M = 4001;
    double *p = malloc(M * sizeof *p), *r = malloc(M * sizeof *r);
    for (size_t i = 0; i < 4000; i++) p[i] = 0.8 / 4000, r[i] = (double)i;
    p[4000] = 0.2, r[4000] = 1e4;
    alim_rdist d;
    alim_rdist_from_arrays(&d, p, r, M, 1e-12, 0, "t7", NULL);
    alim_levels lv;
    alim_levels_from_rdist(&d, &lv, NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_ABS(alim_bon_kl_one_atom(0.2, NN(N[i])), K[i], 1e-12, "T7 one-atom KL");
        CHECK_ABS(alim_bon_kl(&lv, NN(N[i])), Kd[i], 1e-12, "T7 discrete check");
    }
    CHECK_ABS(alim_bon_kl_one_atom(1e-300, NN(16)), alim_bon_kl_bound(NN(16)), 1e-14, "one atom -> bound");
    CHECK_ABS(alim_bon_kl_one_atom(0.2, NL(1e4)), log(5.0), 1e-12, "one atom -> log 1/eps");
    alim_levels_free(&lv);
    alim_rdist_free(&d);
    /* T9: atomless reward (10^5 equal atoms): W = N/(N+1), KL = bound; optimal quantile tilt */
    const size_t A = 100000;
    p = realloc(p, A * sizeof *p), r = realloc(r, A * sizeof *r);
    for (size_t i = 0; i < A; i++) p[i] = 1.0 / A, r[i] = (double)(i * 7919 % A);
    alim_rdist_from_arrays(&d, p, r, A, 1e-9, 0, "t9", NULL);
    alim_levels_from_rdist(&d, &lv, NULL);
    static const double N9[4] = {2, 4, 16, 64}, C9[4] = {2.288640585901, 4.91690793237, 17.03189902739, 65.00785334955},
                        W9[4] = {0.6759068192692, 0.8039958879275, 0.9412866812198, 0.9846172431718};
    for (int i = 0; i < 4; i++) {
        alim_bon_result b;
        alim_bon_eval(&lv, NN(N9[i]), &b);
        CHECK_ABS(b.win_rate, N9[i] / (N9[i] + 1), 1e-5, "T9 W = N/(N+1)");
        CHECK_ABS(b.kl_nats, b.kl_bound_nats, 1e-3, "T9 KL = bound (atomless)");
        double c, w = alim_bon_win_rate_optimal(alim_bon_kl_bound(NN(N9[i])), &c);
        CHECK_ABS(c, C9[i], 1e-9, "T9 c");
        CHECK_ABS(w, W9[i], 1e-12, "T9 optimal W");
        CHECK(w >= N9[i] / (N9[i] + 1), "T9 BoN below the optimum");
    }
    alim_levels_free(&lv);
    alim_rdist_free(&d);
    free(p), free(r);
}

/* T8: exact tail probabilities of r_n (n = 64) from the sequence PMF (theta = 0). */
static double tail_at_least(const alim_levels *lv, double s)
{
    for (size_t j = 0; j < lv->n; j++)
        if (lv->v[j] >= s - 1e-9) return j == 0 ? 1.0 : exp(lv->log_tail[j - 1]);
    return 0;
}

static void test_t8(void)
{
    double p6[2] = {0.7, 0.3}, r6[2] = {0, 1};
    alim_rdist b = mk(p6, r6, 2), d = mk(P1, R1, 3);
    alim_seqpmf_options o = ALIM_SEQPMF_OPTIONS_DEFAULT;
    o.theta = 0, o.window_floor = 0;
    alim_levels lv;
    alim_seqpmf_info info;
    CHECK(alim_seqpmf_compute(&b, 64, &o, &lv, &info, NULL, NULL) == ALIM_OK && info.lattice, "T8 PMF");
    CHECK_REL(tail_at_least(&lv, 25), 0.07643481617, 1e-9, "T8 Bernoulli P(S>=25)");
    CHECK(fabs(tail_at_least(&lv, 45) / 3.556657608e-11 - 1) < 1e-9, "T8 Bernoulli P(S>=45)");
    alim_levels_free(&lv);
    CHECK(alim_seqpmf_compute(&d, 64, &o, &lv, &info, NULL, NULL) == ALIM_OK, "T8 PMF T1");
    CHECK(fabs(tail_at_least(&lv, 90) / 2.428586026e-12 - 1) < 1e-9, "T8 T1 P(S>=90)");
    CHECK(fabs(tail_at_least(&lv, 110) / 1.001993739e-24 - 1) < 1e-9, "T8 T1 P(S>=110)");
    alim_levels_free(&lv);
    /* the Lugannani-Rice values of the spec (lattice span 1) */
    CHECK(fabs(alim_seq_tail_saddlepoint(&b, 64, 25, 1) / 0.07648186609 - 1) < 1e-9, "T8 LR Bernoulli 25");
    CHECK(fabs(alim_seq_tail_saddlepoint(&b, 64, 45, 1) / 3.56838279e-11 - 1) < 1e-8, "T8 LR Bernoulli 45");
    CHECK(fabs(alim_seq_tail_saddlepoint(&d, 64, 90, 1) / 2.433131537e-12 - 1) < 1e-9, "T8 LR T1 90");
    CHECK(fabs(alim_seq_tail_saddlepoint(&d, 64, 110, 1) / 1.006790745e-24 - 1) < 1e-9, "T8 LR T1 110");
    alim_rdist_free(&b), alim_rdist_free(&d);
}

/* Brute force: BoN by enumerating all N-tuples (single space), and sequences by
 * enumerating all V^n sequences and running single-space BoN on them. */
static void test_enumeration(void)
{
    double p[4] = {0.4, 0.1, 0.2, 0.3}, r[4] = {0, 1, 1, 2};
    alim_rdist d = mk(p, r, 4);
    alim_levels lv, ord;
    alim_levels_from_rdist(&d, &lv, NULL);
    alim_levels_ordered(&d, &lv, &ord, NULL);
    for (int N = 1; N <= 5; N++) {
        double rnd[4] = {0}, odr[4] = {0};
        int tot = 1;
        for (int k = 0; k < N; k++) tot *= 4;
        for (int code = 0; code < tot; code++) {
            int idx[8], c = code;
            double pr = 1, best = -1;
            for (int k = 0; k < N; k++) idx[k] = c % 4, c /= 4, pr *= p[idx[k]];
            for (int k = 0; k < N; k++) best = fmax(best, r[idx[k]]);
            int cnt = 0, last = -1;
            for (int k = 0; k < N; k++)
                if (r[idx[k]] == best) cnt++, last = idx[k] > last ? idx[k] : last;
            for (int k = 0; k < N; k++)
                if (r[idx[k]] == best) rnd[idx[k]] += pr / cnt;
            odr[last] += pr;
        }
        double pi[4], kr = 0, ko = 0;
        alim_bon_policy(&d, &lv, &ord, NN(N), ALIM_TIES_RANDOM, pi, NULL);
        for (int k = 0; k < 4; k++) CHECK_ABS(pi[k], rnd[k], 1e-13, "enum random pi");
        alim_bon_policy(&d, &lv, &ord, NN(N), ALIM_TIES_ORDERED, pi, NULL);
        for (int k = 0; k < 4; k++) CHECK_ABS(pi[k], odr[k], 1e-13, "enum ordered pi");
        for (int k = 0; k < 4; k++) kr += rnd[k] > 0 ? rnd[k] * log(rnd[k] / p[k]) : 0;
        for (int k = 0; k < 4; k++) ko += odr[k] > 0 ? odr[k] * log(odr[k] / p[k]) : 0;
        CHECK_ABS(alim_bon_kl(&lv, NN(N)), kr, 1e-13, "enum KL random");
        CHECK_ABS(alim_bon_kl(&ord, NN(N)), ko, 1e-13, "enum KL ordered");
        CHECK(kr <= ko + 1e-15, "RANDOM ties give the least KL");
    }
    alim_levels_free(&lv), alim_levels_free(&ord), alim_rdist_free(&d);

    /* sequences: V = 3 tokens with non-uniform p, n = 4 -> 81 sequences */
    double tp[3] = {0.6, 0.25, 0.15}, tr[3] = {-1, 0.5, 2};
    alim_rdist tok = mk(tp, tr, 3);
    for (int n = 1; n <= 4; n++) {
        int S = 1;
        for (int k = 0; k < n; k++) S *= 3;
        double *sp = malloc(S * sizeof *sp), *sr = malloc(S * sizeof *sr);
        for (int code = 0; code < S; code++) {
            int c = code;
            sp[code] = 1, sr[code] = 0;
            for (int k = 0; k < n; k++) sp[code] *= tp[c % 3], sr[code] += tr[c % 3], c /= 3;
        }
        /* make equal sums compare equal (e.g. 0.5+0.5+... vs others) by rounding to 1e-9 */
        for (int code = 0; code < S; code++) sr[code] = round(sr[code] * 1e9) / 1e9;
        alim_rdist sd;
        alim_rdist_from_arrays(&sd, sp, sr, S, 1e-12, 0, "seq", NULL);
        alim_levels slv;
        alim_levels_from_rdist(&sd, &slv, NULL);
        const double Ns[3] = {2, 5, 3.7};
        for (int t = 0; t < 3; t++) {
            alim_bon_result b;
            alim_bon_eval(&slv, NN(Ns[t]), &b);
            for (int m = 0; m < 2; m++) {
                alim_seqpmf_options o = ALIM_SEQPMF_OPTIONS_DEFAULT;
                o.method = m ? ALIM_SEQPMF_TYPES : ALIM_SEQPMF_LATTICE;
                alim_seq_result s;
                alim_error e;
                CHECK(alim_seq_compare(&tok, n, 0.3, NN(Ns[t]), &o, &s, NULL, &e) == ALIM_OK, "seq enum: %s", e.what);
                CHECK_ABS(s.bon.kl_nats, b.kl_nats, 1e-13, "seq enum KL");
                CHECK_ABS(s.bon.reward, b.reward, 1e-13, "seq enum E r");
                CHECK_ABS(s.bon.win_rate, b.win_rate, 1e-13, "seq enum W");
                /* KL(pi || phi_{n,l*}) from the enumerated policies */
                double *pi = malloc(S * sizeof *pi), *phi = malloc(S * sizeof *phi), kl = 0;
                alim_bon_policy(&sd, &slv, NULL, NN(Ns[t]), ALIM_TIES_RANDOM, pi, NULL);
                alim_tilt_policy(&sd, s.rl.pt.lambda, phi); /* the tilt of r_n is phi_{n,l} */
                for (int k = 0; k < S; k++) kl += pi[k] > 0 ? pi[k] * log(pi[k] / phi[k]) : 0;
                CHECK_ABS(s.bon_kl_to_rl_nats, kl, 1e-12, "seq enum KL(pi||phi_n)");
                free(pi), free(phi);
            }
        }
        alim_levels_free(&slv);
        alim_rdist_free(&sd);
        free(sp), free(sr);
    }
    alim_rdist_free(&tok);
}

/* Properties on random distributions: E_BoN r <= R*(KL_BoN), KL <= bound, RANDOM <= ORDERED,
 * policies sum to 1, monotone E r, huge-N stability. */
static void test_properties(void)
{
    alim_rng g;
    alim_rng_seed(&g, 12345, 0);
    for (int rep = 0; rep < 60; rep++) {
        size_t n = 2 + alim_rng_below(&g, 40);
        double p[64], r[64], s = 0;
        for (size_t i = 0; i < n; i++) {
            p[i] = alim_rng_uniform_pos(&g);
            if (alim_rng_uniform(&g) < 0.1) p[i] *= 1e-9;
            r[i] = (double)alim_rng_below(&g, 8) - 3.0; /* ties */
            s += p[i];
        }
        for (size_t i = 0; i < n; i++) p[i] /= s;
        alim_rdist d;
        alim_rdist_from_arrays(&d, p, r, n, 1e-9, 1, "rand", NULL);
        alim_levels lv, ord;
        alim_levels_from_rdist(&d, &lv, NULL);
        alim_levels_ordered(&d, &lv, &ord, NULL);
        double prev_r = -INFINITY;
        static const double Ns[] = {1, 1.5, 2, 3, 7, 20, 100, 1e3, 1e6, 1e15, 1e100};
        for (size_t k = 0; k < sizeof Ns / sizeof *Ns; k++) {
            alim_bon_result b;
            alim_bon_eval(&lv, NN(Ns[k]), &b);
            alim_tilt_solution t;
            alim_tilt_solve_kl(&d, b.kl_nats, &t, NULL);
            CHECK(b.reward <= t.pt.mean + 1e-12, "E_BoN r <= R*(KL_BoN): %.17g > %.17g", b.reward, t.pt.mean);
            CHECK(b.kl_nats <= b.kl_bound_nats + 1e-13, "KL <= bound");
            CHECK(b.kl_nats <= alim_bon_kl(&ord, NN(Ns[k])) + 1e-13, "RANDOM <= ORDERED");
            CHECK(b.kl_nats <= -lv.log_q[lv.n - 1] + 1e-13, "KL <= log 1/q_L");
            CHECK(b.reward >= prev_r - 1e-13, "E r rises with N");
            CHECK(b.win_rate <= Ns[k] / (Ns[k] + 1) + 1e-13 && b.win_rate >= 0.5 - 1e-13, "1/2 <= W <= N/(N+1)");
            prev_r = b.reward;
            double pi[64], sum = 0;
            alim_bon_policy(&d, &lv, &ord, NN(Ns[k]), ALIM_TIES_RANDOM, pi, NULL);
            for (size_t i = 0; i < n; i++) sum += pi[i];
            CHECK(fabs(sum - 1) < 1e-13, "policy sums to 1");
        }
        /* N given by its log agrees with N given directly */
        alim_bon_result a, c;
        alim_bon_eval(&lv, NN(1e15), &a);
        alim_bon_eval(&lv, NL(log(1e15)), &c);
        CHECK_ABS(a.kl_nats, c.kl_nats, 1e-12, "N vs log N");
        alim_levels_free(&lv), alim_levels_free(&ord);
        alim_rdist_free(&d);
    }
    /* astronomically large N with a tiny top level: smooth approach to saturation */
    double p[3] = {0.5, 0.5 - 1e-12, 1e-12}, r[3] = {0, 1, 2};
    alim_rdist d = mk(p, r, 3);
    alim_levels lv;
    alim_levels_from_rdist(&d, &lv, NULL);
    double prev = 0;
    for (double ln = 1; ln < 200; ln += 3) {
        alim_bon_result b;
        alim_bon_eval(&lv, NL(ln), &b);
        CHECK(b.kl_nats >= prev - 1e-12 && isfinite(b.kl_nats) && b.kl_nats <= -log(1e-12) + 1e-9, "huge N KL finite, rising");
        prev = b.kl_nats;
    }
    alim_bon_result b;
    alim_bon_eval(&lv, NL(1e6), &b);
    CHECK_ABS(b.kl_nats, -log(1e-12), 1e-9, "N = e^1e6 saturates at log 1/q_L");
    CHECK_ABS(b.reward, 2, 1e-15, "N = e^1e6 reward");
    /* the one-atom formula in its regime of validity */
    alim_levels_free(&lv);
    alim_rdist_free(&d);
    /* budget (spec §7): D = 0.5 -> N = 3 */
    alim_rdist t1 = mk(P1, R1, 3);
    alim_levels_from_rdist(&t1, &lv, NULL);
    alim_bon_budget bb;
    CHECK(alim_bon_budget_kl(&lv, 0.5, &bb, NULL) == ALIM_OK && bb.n_max == 3 && bb.verified, "budget N = 3");
    CHECK(bb.n_bound == 3, "bound-only N"); /* log 3 - 2/3 = 0.432, log 4 - 3/4 = 0.636 */
    CHECK(alim_bon_budget_kl(&lv, 1.7, &bb, NULL) == ALIM_OK && isinf(bb.n_max), "budget above log 1/q_L");
    CHECK_ABS(alim_bon_bound_inverse(alim_bon_kl_bound(NN(1234.5))), 1234.5, 1e-9, "bound inverse");
    double n;
    CHECK(alim_bon_min_n_for_reward(&lv, 1.5, &n, NULL) == ALIM_OK && n == 4, "N for E r >= 1.5");
    CHECK(alim_bon_min_n_for_reward(&lv, 0.5, &n, NULL) == ALIM_OK && n == 1, "N for E r <= mean");
    CHECK(alim_bon_min_n_for_reward(&lv, 2, &n, NULL) == ALIM_OK && isinf(n), "N for max reward");
    alim_levels_free(&lv);
    alim_rdist_free(&t1);
}

/* The lattice PMF with a trimmed window against the untrimmed one, and a large problem. */
static void test_window(void)
{
    double p[10], r[10], s = 0;
    for (int i = 0; i < 10; i++) p[i] = 1.0 + (i % 3), s += p[i], r[i] = i;
    for (int i = 0; i < 10; i++) p[i] /= s;
    alim_rdist d = mk(p, r, 10);
    alim_seqpmf_options a = ALIM_SEQPMF_OPTIONS_DEFAULT, b = ALIM_SEQPMF_OPTIONS_DEFAULT;
    b.window_floor = 0;
    alim_seq_result x, y;
    CHECK(alim_seq_compare(&d, 3000, 0.3, NL(900), &a, &x, NULL, NULL) == ALIM_OK, "window");
    CHECK(alim_seq_compare(&d, 3000, 0.3, NL(900), &b, &y, NULL, NULL) == ALIM_OK, "no window");
    CHECK(x.pmf.floor > 0 && x.pmf.lumped, "trimmed window used");
    CHECK_REL(x.bon.kl_nats, y.bon.kl_nats, 1e-12, "window KL");
    CHECK_REL(x.bon.reward, y.bon.reward, 1e-13, "window E r");
    CHECK_ABS(x.bon_kl_to_rl_nats, y.bon_kl_to_rl_nats, 1e-9, "window KL to RL");
    /* types vs lattice on a non-trivial lattice */
    alim_seqpmf_options t = ALIM_SEQPMF_OPTIONS_DEFAULT;
    t.method = ALIM_SEQPMF_TYPES;
    CHECK(alim_seq_compare(&d, 12, 0.4, NN(100), NULL, &x, NULL, NULL) == ALIM_OK, "lattice n=12");
    CHECK(alim_seq_compare(&d, 12, 0.4, NN(100), &t, &y, NULL, NULL) == ALIM_OK && y.pmf.types == 293930, "types n=12");
    CHECK_REL(x.bon.kl_nats, y.bon.kl_nats, 1e-12, "types = lattice KL");
    CHECK_REL(x.bon.reward, y.bon.reward, 1e-13, "types = lattice E r");
    /* non-lattice rewards go to type enumeration automatically */
    double rn[3] = {0, 1, M_SQRT2};
    alim_rdist dn = mk(P1, rn, 3);
    CHECK(alim_seq_compare(&dn, 20, 0.3, NN(50), NULL, &x, NULL, NULL) == ALIM_OK && !x.pmf.lattice && x.pmf.levels == 231,
          "non-lattice: types");
    alim_rdist_free(&dn);
    alim_rdist_free(&d);
    double a0, h;
    size_t K;
    double pl[4] = {0.25, 0.25, 0.25, 0.25}, rl[4] = {0.25, 1.0, -0.5, 0};
    alim_rdist dl = mk(pl, rl, 4);
    CHECK(alim_seqpmf_lattice_detect(&dl, 1e-9, 1000, &a0, &h, &K) && fabs(h - 0.25) < 1e-15 && K == 6, "lattice detect");
    alim_rdist_free(&dl);
}

/* Monte Carlo validators agree with the exact values (fixed seeds: deterministic). */
static void test_mc(void)
{
    alim_rdist d = mk(P1, R1, 3);
    alim_levels lv;
    alim_levels_from_rdist(&d, &lv, NULL);
    for (int direct = 0; direct < 2; direct++) {
        alim_bon_mc_result m;
        alim_bon_result b;
        alim_bon_eval(&lv, NN(4), &b);
        CHECK(alim_bon_mc(&lv, NN(4), 200000, 7, direct, &m, NULL) == ALIM_OK, "mc");
        CHECK(m.reward.lo <= b.reward && b.reward <= m.reward.hi, "MC reward CI [%g, %g] holds %g", m.reward.lo, m.reward.hi,
              b.reward);
        CHECK(fabs(m.reward.mean - 1.5279) < 0.0054, "MC reward (spec: 1.5279 +- 0.0027)");
        CHECK(m.kl_nats.lo <= b.kl_nats && b.kl_nats <= m.kl_nats.hi, "MC KL CI");
        CHECK(m.win_rate.lo <= b.win_rate && b.win_rate <= m.win_rate.hi, "MC win CI");
        CHECK(m.win_rate_strict.lo <= b.win_rate_strict && b.win_rate_strict <= m.win_rate_strict.hi, "MC strict win CI");
    }
    /* astronomically large N: the inversion sampler still works */
    double p[3] = {0.5, 0.5 - 1e-9, 1e-9}, r[3] = {0, 1, 2};
    alim_rdist d2 = mk(p, r, 3);
    alim_levels l2;
    alim_levels_from_rdist(&d2, &l2, NULL);
    alim_bon_result b;
    alim_bon_eval(&l2, NN(1e9), &b);
    alim_bon_mc_result m;
    alim_bon_mc(&l2, NN(1e9), 100000, 3, 0, &m, NULL);
    CHECK(m.reward.lo <= b.reward && b.reward <= m.reward.hi, "MC N = 1e9 reward");
    CHECK(m.kl_nats.lo <= b.kl_nats && b.kl_nats <= m.kl_nats.hi, "MC N = 1e9 KL");
    alim_levels_free(&l2);
    alim_rdist_free(&d2);
    /* tilt and sequence simulators */
    alim_mc_estimate er, ek;
    alim_tilt_solution s;
    alim_tilt_solve_kl(&d, 0.5, &s, NULL);
    CHECK(alim_tilt_mc(&d, s.pt.lambda, 200000, 5, &er, &ek, NULL) == ALIM_OK, "tilt mc");
    CHECK(er.lo <= s.pt.mean && s.pt.mean <= er.hi, "tilt MC reward CI");
    CHECK(ek.lo <= 0.5 && 0.5 <= ek.hi, "tilt MC KL CI");
    alim_seq_result q;
    alim_seq_compare(&d, 8, 0.5, NN(55), NULL, &q, NULL, NULL);
    alim_seq_mc_result sm;
    CHECK(alim_seq_mc(&d, 8, 55, 0.5, 20000, 9, &sm, NULL) == ALIM_OK, "seq mc");
    CHECK(sm.reward_per_token.lo <= q.bon.reward / 8 && q.bon.reward / 8 <= sm.reward_per_token.hi,
          "seq MC reward CI [%g,%g] vs %g", sm.reward_per_token.lo, sm.reward_per_token.hi, q.bon.reward / 8);
    CHECK(sm.win_rate.lo <= q.bon.win_rate && q.bon.win_rate <= sm.win_rate.hi, "seq MC win CI");
    CHECK(sm.kl_nats.lo <= q.bon.kl_nats && q.bon.kl_nats <= sm.kl_nats.hi, "seq MC KL CI [%g,%g] vs %g", sm.kl_nats.lo,
          sm.kl_nats.hi, q.bon.kl_nats);
    CHECK(sm.kl_to_rl_nats.lo <= q.bon_kl_to_rl_nats && q.bon_kl_to_rl_nats <= sm.kl_to_rl_nats.hi,
          "seq MC KL to RL CI [%g,%g] vs %g", sm.kl_to_rl_nats.lo, sm.kl_to_rl_nats.hi, q.bon_kl_to_rl_nats);
    /* non-lattice tokens */
    double rn[3] = {-0.3, 0.77, M_SQRT2};
    alim_rdist dn = mk(P1, rn, 3);
    alim_seq_compare(&dn, 5, 0.4, NN(7), NULL, &q, NULL, NULL);
    CHECK(alim_seq_mc(&dn, 5, 7, 0.4, 20000, 4, &sm, NULL) == ALIM_OK, "seq mc types");
    CHECK(sm.reward_per_token.lo <= q.bon.reward / 5 && q.bon.reward / 5 <= sm.reward_per_token.hi, "seq MC types reward");
    CHECK(sm.kl_nats.lo <= q.bon.kl_nats && q.bon.kl_nats <= sm.kl_nats.hi, "seq MC types KL");
    CHECK(sm.win_rate.lo <= q.bon.win_rate && q.bon.win_rate <= sm.win_rate.hi, "seq MC types win");
    alim_rdist_free(&dn);
    alim_levels_free(&lv);
    alim_rdist_free(&d);
}

/* Large inputs take the parallel paths (radix sort >= 5e5 outcomes, tilt passes > 2e5, BoN
 * evaluation > 1e5 levels): compare them with a plain serial computation here. */
static int cmp_pr(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static void test_large(void)
{
    const size_t n = 600000;
    double *p = malloc(n * sizeof *p), *r = malloc(n * sizeof *r), *pr = malloc(2 * n * sizeof *pr);
    alim_rng g;
    alim_rng_seed(&g, 99, 0);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        p[i] = alim_rng_uniform_pos(&g);
        r[i] = floor(alim_rng_normal(&g) * 20000) / 1000; /* ~ 2e5 distinct values: many ties */
        if (i % 1000 == 0) r[i] = -r[i];
        s += p[i];
    }
    for (size_t i = 0; i < n; i++) p[i] /= s;
    alim_rdist d;
    CHECK(alim_rdist_from_arrays(&d, p, r, n, 1e-9, 1, "large", NULL) == ALIM_OK, "large rdist");
    alim_levels lv, lv2;
    CHECK(alim_levels_from_rdist(&d, &lv, NULL) == ALIM_OK, "large levels");
    CHECK(alim_levels_from_rdist_nomap(&d, &lv2, NULL) == ALIM_OK, "large levels nomap");
    /* reference: qsort, then plain F^N differences (N = 3 keeps the plain formula accurate) */
    for (size_t i = 0; i < n; i++) pr[2 * i] = d.p[i], pr[2 * i + 1] = d.r[i];
    qsort(pr, n, 2 * sizeof *pr, cmp_pr);
    size_t L = 0;
    double F = 0, Fprev = 0, kl = 0, er = 0, q = 0;
    for (size_t i = 0; i < n; i++) {
        q += pr[2 * i];
        if (i + 1 == n || pr[2 * i + 3] != pr[2 * i + 1]) {
            F = Fprev + q;
            double P = pow(F, 3) - pow(Fprev, 3);
            kl += P * log(P / q);
            er += P * pr[2 * i + 1];
            Fprev = F, q = 0, L++;
        }
    }
    CHECK(lv.n == L && lv2.n == L, "large: %zu levels, reference %zu", lv.n, L);
    int sorted = 1;
    for (size_t j = 1; j < lv.n; j++) sorted &= lv.v[j] > lv.v[j - 1];
    CHECK(sorted, "levels strictly increasing");
    int mapped = 1; /* every outcome of level j has reward v_j */
    for (size_t j = 0; j < lv.n; j++)
        for (size_t k = lv.start[j]; k < lv.start[j + 1]; k++) mapped &= d.r[lv.order[k]] == lv.v[j];
    CHECK(mapped && lv.start[lv.n] == d.support, "outcome map");
    alim_bon_result b, b2;
    alim_bon_eval(&lv, NN(3), &b);
    alim_bon_eval(&lv2, NN(3), &b2);
    CHECK_ABS(b.kl_nats, kl, 1e-9, "large BoN KL vs plain");
    CHECK_ABS(b.reward, er, 1e-9, "large BoN E r vs plain");
    CHECK(b.kl_nats == b2.kl_nats && b.reward == b2.reward, "map / no map agree");
    CHECK_ABS(alim_bon_kl(&lv, NN(3)), b.kl_nats, 1e-15, "alim_bon_kl = eval");
    double *pi = malloc(n * sizeof *pi), sum = 0;
    alim_bon_policy(&d, &lv, NULL, NN(3), ALIM_TIES_RANDOM, pi, NULL);
    for (size_t i = 0; i < n; i++) sum += pi[i];
    CHECK(fabs(sum - 1) < 1e-11, "large policy sums to 1");
    /* the tilt on 6e5 outcomes (parallel passes) = the tilt on the merged levels (serial) */
    double *lq = malloc(lv.n * sizeof *lq);
    for (size_t j = 0; j < lv.n; j++) lq[j] = exp(lv.log_q[j]);
    alim_rdist dl;
    alim_rdist_from_arrays(&dl, lq, lv.v, lv.n, 1e-6, 1, "levels", NULL);
    for (double D = 0.01; D < 3; D *= 4) {
        alim_tilt_solution a, c;
        alim_tilt_solve_kl(&d, D, &a, NULL);
        alim_tilt_solve_kl(&dl, D, &c, NULL);
        CHECK_REL(a.pt.lambda, c.pt.lambda, 1e-11, "large tilt lambda: outcomes vs levels");
        CHECK_REL(a.pt.mean, c.pt.mean, 1e-12, "large tilt reward: outcomes vs levels");
        CHECK(fabs(a.pt.kl_nats - D) < 1e-12 * D, "large tilt K = D");
    }
    free(lq), free(pi), free(p), free(r), free(pr);
    alim_rdist_free(&dl);
    alim_levels_free(&lv), alim_levels_free(&lv2);
    alim_rdist_free(&d);
}

/* The radix sort of the levels against a comparison sort: (reward, row) order by qsort,
 * levels merged on exact equality (-0 == +0), the outcome map, the masses (compensated sums
 * in row order), on inputs with many ties, negative rewards, +-0, p = 0 outcomes, extreme
 * and subnormal rewards, integer rewards (trivial digits) and a constant reward; serial and
 * parallel sizes, and the same bits with one thread as with all of them. */
static int cmp_row(const void *a, const void *b)
{
    const double *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static int same_bits(const double *a, const double *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static void test_radix_vs_compare(void)
{
    const size_t sizes[] = {1, 2, 7, 1000, 30000, 700000};
    alim_rng g;
    alim_rng_seed(&g, 2024, 3);
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (int shape = 0; shape < 5; shape++) {
            const size_t n = sizes[si];
            double *p = malloc(n * sizeof *p), *r = malloc(n * sizeof *r), *ref = malloc(2 * n * sizeof *ref);
            for (size_t i = 0; i < n; i++) {
                p[i] = alim_rng_uniform(&g) < 0.05 ? 0.0 : alim_rng_uniform_pos(&g);
                double u = alim_rng_uniform(&g);
                switch (shape) {
                case 0: r[i] = (double)((int)(u * 41) - 20); break; /* 41 integers, many ties */
                case 1: r[i] = u < 0.3 ? (u < 0.15 ? -0.0 : 0.0) : floor(alim_rng_normal(&g) * 1000) / 100; break;
                case 2: { /* extremes, subnormals, signed zeros and ordinary values */
                    const double ex[] = {DBL_MAX, -DBL_MAX, DBL_MIN, -DBL_MIN, 4.9e-324, -4.9e-324, 1e-310,
                                         -1e-310, 0.0, -0.0, 1.0, -1.0, 1e300, -1e300};
                    r[i] = u < 0.5 ? ex[(size_t)(u * 28) % 14] : alim_rng_normal(&g) * pow(10, (int)(u * 40) - 20);
                    break;
                }
                case 3: r[i] = 2.5; break; /* one level: every digit trivial */
                default: r[i] = alim_rng_normal(&g); /* all distinct */
                }
            }
            if (n == 1) p[0] = 1.0;
            alim_rdist d;
            if (alim_rdist_from_arrays(&d, p, r, n, 1e-9, 1, "radix", NULL) != ALIM_OK) {
                CHECK(0, "radix rdist n=%zu shape %d", n, shape);
                free(p), free(r), free(ref);
                continue;
            }
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (d.p[i] > 0) ref[2 * m] = d.r[i], ref[2 * m + 1] = (double)i, m++;
            qsort(ref, m, 2 * sizeof *ref, cmp_row);
            alim_levels lv, lv2, lv1;
            CHECK(alim_levels_from_rdist(&d, &lv, NULL) == ALIM_OK, "radix levels");
            CHECK(alim_levels_from_rdist_nomap(&d, &lv2, NULL) == ALIM_OK, "radix levels nomap");
            const int nt = omp_get_max_threads();
            omp_set_num_threads(1);
            CHECK(alim_levels_from_rdist(&d, &lv1, NULL) == ALIM_OK, "radix levels, 1 thread");
            omp_set_num_threads(nt);
            int order_ok = m == d.support && lv.start[lv.n] == m, v_ok = 1, q_ok = 1;
            size_t L = 0;
            double total = 0, tc = 0;
            for (size_t i = 0; i < d.n; i++) {
                double pe = d.p[i], t = total + pe;
                tc += fabs(total) >= pe ? (total - t) + pe : (pe - t) + total;
                total = t;
            }
            total += tc;
            for (size_t i = 0; i < m && order_ok;) {
                size_t e = i;
                double s = 0, c = 0; /* the library's compensated sum, in row order */
                while (e < m && ref[2 * e] == ref[2 * i]) {
                    double pe = d.p[(size_t)ref[2 * e + 1]], t = s + pe;
                    c += fabs(s) >= pe ? (s - t) + pe : (pe - t) + s;
                    s = t;
                    order_ok &= lv.order[e] == (uint32_t)ref[2 * e + 1];
                    e++;
                }
                order_ok &= L < lv.n && lv.start[L] == i;
                if (!order_ok) break;
                v_ok &= lv.v[L] == ref[2 * i] && (lv.v[L] != 0 || !signbit(lv.v[L])); /* +0 */
                q_ok &= fabs(exp(lv.log_q[L]) - (s + c) / total) <= 1e-14 * (s + c) / total;
                L++;
                i = e;
            }
            CHECK(order_ok && lv.n == L, "radix n=%zu shape %d: outcome map / level starts (%zu levels, ref %zu)", n,
                  shape, lv.n, L);
            CHECK(v_ok && q_ok, "radix n=%zu shape %d: level rewards %d, masses %d", n, shape, v_ok, q_ok);
            int same = lv2.n == lv.n && lv1.n == lv.n && lv2.order == NULL;
            if (same) {
                const alim_levels *o[2] = {&lv2, &lv1};
                for (int k = 0; k < 2; k++)
                    same &= same_bits(o[k]->v, lv.v, lv.n) && same_bits(o[k]->log_q, lv.log_q, lv.n) &&
                            same_bits(o[k]->log_tail, lv.log_tail, lv.n) && same_bits(o[k]->log_cdf, lv.log_cdf, lv.n);
                same &= memcmp(lv1.order, lv.order, m * sizeof *lv.order) == 0 &&
                        memcmp(lv1.start, lv.start, (lv.n + 1) * sizeof *lv.start) == 0;
            }
            CHECK(same, "radix n=%zu shape %d: map / no map / one thread give the same bits", n, shape);
            alim_levels_free(&lv), alim_levels_free(&lv2), alim_levels_free(&lv1);
            alim_rdist_free(&d);
            free(p), free(r), free(ref);
        }
}

int main(int argc, char **argv)
{
    (void)argc;
    test_t1();
    test_solver_robust();
    test_rdist_errors();
    test_t2();
    test_t3();
    test_t4();
    test_t5_t6();
    test_t7_t9();
    test_t8();
    test_enumeration();
    test_properties();
    test_window();
    test_mc();
    test_large();
    test_radix_vs_compare();
    return check_summary(argv[0]);
}
