/* test_bounds.c — information core, Fano, kl inverses, xi(m), PAC-Bayes against the
 * mpmath test vectors of spec bottleneck.md §6. */
#include <math.h>
#include <stdio.h>

#include "alim/bounds.h"
#include "alim/info.h"
#include "check.h"

#define TOL 1e-10

static double h2(double p) { return alim_bits(alim_binary_entropy(p)); }

int main(int argc, char **argv)
{
    (void)argc;
    /* binary entropy and its inverse (bits) */
    CHECK_ABS(h2(0.11), 0.4999159581645, TOL, "h2(.11)");
    CHECK_ABS(h2(0.1), 0.4689955935893, TOL, "h2(.1)");
    CHECK_ABS(h2(0.25), 0.8112781244591, TOL, "h2(.25)");
    CHECK_ABS(h2(0.01), 0.08079313589591, TOL, "h2(.01)");
    CHECK_ABS(alim_binary_entropy_inverse(alim_nats(0.5)), 0.1100278644384, TOL, "h2inv(.5)");
    CHECK_ABS(alim_binary_entropy_inverse(alim_nats(0.1)), 0.01298686205552, TOL, "h2inv(.1)");
    CHECK_ABS(alim_binary_entropy_inverse(alim_nats(0.9)), 0.3160193463236, TOL, "h2inv(.9)");
    CHECK(alim_binary_entropy(0.0) == 0.0 && alim_binary_entropy(1.0) == 0.0, "h(0), h(1)");
    CHECK(isnan(alim_binary_entropy(-0.1)) && isnan(alim_binary_entropy(NAN)), "h outside [0,1]");
    CHECK_ABS(alim_binary_entropy_inverse(ALIM_LN2), 0.5, 0, "h2inv(1 bit)");
    CHECK_ABS(alim_binary_entropy_inverse(0.0), 0.0, 0, "h2inv(0)");

    /* Fano: (M, I bits) -> weak, strong */
    static const double fano[][4] = {
        {2, 0.5, 0, 0.1100278644384},       {4, 1, 0, 0.1892896249152},
        {16, 1, 0.5, 0.5120228142543},      {16, 2, 0.25, 0.2896693115242},
        {256, 4, 0.375, 0.3804717309727},   {1024, 5, 0.4, 0.4028002679429},
        {1024, 0.5, 0.85, 0.9047530077579}, {1048576, 10, 0.45, 0.4503561710736},
        {4, 1.372508156339, 0, 0.1},        {256, 4.720403069712, 0.2849496162860, 0.3},
    };
    for (size_t i = 0; i < sizeof fano / sizeof *fano; i++) {
        double lm = log(fano[i][0]), I = alim_nats(fano[i][1]);
        char name[64];
        snprintf(name, sizeof name, "fano weak M=%g I=%g", fano[i][0], fano[i][1]);
        CHECK_ABS(alim_fano_weak(lm, I), fano[i][2], TOL, name);
        snprintf(name, sizeof name, "fano strong M=%g I=%g", fano[i][0], fano[i][1]);
        /* the MSC rows give 12 significant digits of capacity, so p to ~1e-11 */
        CHECK_ABS(alim_fano_strong(lm, I), fano[i][3], i >= 8 ? 1e-9 : TOL, name);
    }
    CHECK(alim_fano_strong(log(16), 0.0) == 1.0 - 1.0 / 16, "strong at I=0 is 1-1/M");
    CHECK(alim_fano_strong(log(16), log(16)) == 0.0, "strong at I=log M is 0");
    CHECK(alim_fano_strong(log(2) * 200, alim_nats(10)) >= alim_fano_weak(log(2) * 200, alim_nats(10)) && alim_fano_weak(log(2) * 200, alim_nats(10)) == 1 - 11.0 / 200, "log2 M = 200 works");
    /* monotone in M and in I */
    {
        int mono = 1;
        for (int k = 1; k < 60; k++) {
            double a = alim_fano_strong(k * ALIM_LN2, 1.0), b = alim_fano_strong((k + 1) * ALIM_LN2, 1.0);
            if (b < a) mono = 0;
            double c = alim_fano_strong(10.0, 0.1 * k), d = alim_fano_strong(10.0, 0.1 * (k + 1));
            if (d > c) mono = 0;
        }
        CHECK(mono, "Fano strong monotone in M and I");
    }

    /* required capacity (bits) for eps, M = 2^k */
    static const double req[][4] = {
        {0.1, 1, 0, 0.5310044064107},       {0.1, 2, 0.8, 1.372508156339},    {0.1, 4, 2.6, 3.140315346850},
        {0.1, 8, 6.2, 6.731569062725},      {0.1, 16, 13.4, 13.93100660781}, {0.1, 32, 27.8, 28.33100440644},
        {0.01, 1, 0, 0.9192068641041},      {0.01, 8, 6.92, 7.839263329736}, {0.01, 32, 30.68, 31.59920686411},
    };
    for (size_t i = 0; i < sizeof req / sizeof *req; i++) {
        double lm = req[i][1] * ALIM_LN2;
        CHECK_ABS(alim_bits(alim_fano_required_weak(lm, req[i][0])), req[i][2], TOL, "required weak");
        CHECK_ABS(alim_bits(alim_fano_required_strong(lm, req[i][0])), req[i][3], TOL, "required strong");
    }

    /* kl and its inverses (nats) */
    CHECK_ABS(alim_kl_bernoulli(0.1, 0.2), 0.03669001403475, TOL, "kl(.1||.2)");
    CHECK_ABS(alim_kl_bernoulli(0, 0.5), 0.6931471805599, TOL, "kl(0||.5)");
    CHECK_ABS(alim_kl_bernoulli(0.05, 0.3), 0.2005245936122, TOL, "kl(.05||.3)");
    CHECK_ABS(alim_kl_bernoulli(1, 0.9), 0.1053605156578, TOL, "kl(1||.9)");
    CHECK(isinf(alim_kl_bernoulli(0.5, 0.0)) && isinf(alim_kl_bernoulli(0.5, 1.0)), "kl infinite cases");
    static const double klu[][3] = {{0, 0.1, 0.09516258196404},   {0.1, 0.05, 0.2200786011069},
                                    {0.05, 0.01, 0.08690214907386}, {0.2, 0.5, 0.6852619250176},
                                    {0.5, 0.1, 0.7128786314558},  {0.01, 1, 0.6543693454347},
                                    {0.3, 0, 0.3},                {0.1, 3, 0.9750712035901}};
    for (size_t i = 0; i < sizeof klu / sizeof *klu; i++)
        CHECK_ABS(alim_kl_inverse_upper(klu[i][0], klu[i][1]), klu[i][2], TOL, "kl inverse upper");
    CHECK_ABS(alim_kl_inverse_lower(0.3, 0.1), 0.1291301210195, TOL, "kl inverse lower (.3,.1)");
    CHECK_ABS(alim_kl_inverse_lower(0.1, 0.05), 0.03127839627228, TOL, "kl inverse lower (.1,.05)");
    /* the inverse is feasible: kl(q||p) <= c at the returned p */
    for (double q = 0.0; q <= 1.0; q += 0.0625)
        for (double c = 1e-6; c < 10; c *= 7) {
            double p = alim_kl_inverse_upper(q, c);
            CHECK(p >= q && alim_kl_bernoulli(q, p) <= c * (1 + 1e-12), "kl^-1_+ feasible q=%g c=%g", q, c);
        }

    /* xi(m) */
    CHECK_ABS(alim_pacbayes_xi(1), 2, TOL, "xi(1)");
    CHECK_ABS(alim_pacbayes_xi(2), 2.5, TOL, "xi(2)");
    CHECK_ABS(alim_pacbayes_xi(8), 4.245018005371, TOL, "xi(8)");
    CHECK_ABS(alim_pacbayes_xi(10), 4.66021568, 1e-8, "xi(10)");
    CHECK_ABS(alim_pacbayes_xi(100), 13.20996063022, TOL, "xi(100)");
    CHECK_ABS(alim_pacbayes_xi(1000), 40.30321292618, 1e-9, "xi(1000)");
    CHECK(alim_pacbayes_xi(1e6) <= 2 * sqrt(1e6) && alim_pacbayes_xi(1e6) >= sqrt(1e6), "sqrt m <= xi <= 2 sqrt m");

    /* PAC-Bayes forms, m = 1000, KL = 5, delta = .05, R^ = .1 */
    CHECK_ABS(alim_pacbayes_bound(ALIM_PB_PINSKER, 0.1, 5, 1000, 0.05, 0), 0.1779190512442, TOL, "Pinsker");
    CHECK_ABS(alim_pacbayes_bound(ALIM_PB_KL_2SQRTM, 0.1, 5, 1000, 0.05, 0), 0.1531096281952, TOL, "kl 2sqrt(m)");
    CHECK_ABS(alim_pacbayes_bound(ALIM_PB_KL_XI, 0.1, 5, 1000, 0.05, 0), 0.1520011951812, TOL, "kl xi(m)");
    CHECK_ABS(alim_pacbayes_bound(ALIM_PB_CATONI, 0.1, 5, 1000, 0.05, 1), 0.1619446975780, TOL, "Catoni C=1");
    CHECK_ABS(alim_pacbayes_bound(ALIM_PB_CATONI, 0.1, 5, 1000, 0.05, 2), 0.2171818664073, TOL, "Catoni C=2");
    CHECK(isnan(alim_pacbayes_bound(ALIM_PB_KL_XI, 0.1, 5, 1000, 1.5, 0)), "delta > 1 rejected");

    /* entropies and divergences */
    {
        const double p[] = {0.5, 0.25, 0.25, 0}, q[] = {0.25, 0.25, 0.25, 0.25}, z[] = {0, 0.5, 0.5, 0};
        CHECK_ABS(alim_bits(alim_entropy(p, 4)), 1.5, 1e-15, "H(p)");
        CHECK_ABS(alim_bits(alim_kl(p, q, 4)), 0.5, 1e-15, "KL(p||u)");
        CHECK(isinf(alim_kl(p, z, 4)), "KL infinite off support");
        CHECK_ABS(alim_bits(alim_cross_entropy(p, q, 4)), 2.0, 1e-15, "H(p;u)");
        CHECK_ABS(alim_renyi_divergence(p, q, 4, 1.0), alim_kl(p, q, 4), 1e-15, "Renyi 1 = KL");
        CHECK_ABS(alim_renyi_divergence(p, q, 4, 1.0 + 1e-7), alim_kl(p, q, 4), 1e-6, "Renyi -> KL");
        CHECK_ABS(alim_renyi_divergence(p, q, 4, 2.0), log(4 * (0.25 + 0.0625 + 0.0625)), 1e-15, "Renyi 2");
        CHECK_ABS(alim_renyi_divergence(p, q, 4, INFINITY), log(2.0), 1e-15, "Renyi inf");
        CHECK_ABS(alim_renyi_divergence(p, q, 4, 0.0), -log(0.75), 1e-15, "Renyi 0");
        CHECK(isinf(alim_renyi_divergence(p, z, 4, 2.0)), "Renyi 2 infinite off support");
        CHECK_ABS(alim_renyi_divergence(p, z, 4, 0.5), -2 * log(sqrt(0.25 * 0.5) * 2), 1e-15, "Renyi 1/2 partial support");
        CHECK_ABS(alim_renyi_entropy(p, 4, 0.0), log(3.0), 1e-15, "H_0");
        CHECK_ABS(alim_renyi_entropy(p, 4, 2.0), -log(0.375), 1e-15, "H_2");
        CHECK_ABS(alim_renyi_entropy(p, 4, INFINITY), log(2.0), 1e-15, "H_inf");
        CHECK_ABS(alim_renyi_entropy(p, 4, 1.0), alim_entropy(p, 4), 0, "H_1");
        const double big[] = {-1000, -1000};
        CHECK_ABS(alim_logsumexp(big, 2), -1000 + log(2.0), 1e-12, "logsumexp no underflow");
        alim_error e;
        const double bad[] = {0.5, -0.1, 0.6};
        CHECK(alim_check_distribution(bad, 3, 1e-9, "x", &e) == ALIM_EINVAL, "negative rejected");
        const double nan_[] = {0.5, NAN};
        CHECK(alim_check_distribution(nan_, 2, 1e-9, "x", &e) == ALIM_EINVAL, "NaN rejected");
        const double off[] = {0.5, 0.4};
        CHECK(alim_check_distribution(off, 2, 1e-9, "x", &e) == ALIM_EINVAL, "not normalised rejected");
        CHECK(alim_check_distribution(q, 4, 1e-9, "x", &e) == ALIM_OK, "uniform accepted");
    }
    return check_summary(argv[0]);
}
