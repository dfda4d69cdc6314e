/* report_e0.c — the start of the report's section 3, "Elasticity": its introduction and E0, the
 * exact count-weighted learner's ratio of rate changes against the perturbation size. */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>

#include "alim/oracle.h"

/* E0 (elasticity spec §1.6, §4.4): the exact count-weighted learner on three disjoint Zipf
 * components. The figure shows ratio/k (secant: the changes from l = 0) against the perturbation
 * size l for several k, at equal pretraining shares and at the data shares (0.9, 0.05, 0.05). */
alim_status report_e0(report *r)
{
    static const double ks[] = {10, 100, 1000};
    enum { NL = 25 };
    double ls[NL], y[6][NL];
    static const double shares[2][3] = {{1.0 / 3, 1.0 / 3, 1.0 / 3}, {0.9, 0.05, 0.05}};
    double *comp = alim_oracle_zipf_components(3, 30);
    if (!comp) return alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
    alim_status st = ALIM_OK;
    double rows[NL * 7];
    for (size_t i = 0; i < NL; i++) ls[i] = pow(10.0, -4.0 + 3.0 * (double)i / (NL - 1));
    for (int q = 0; q < 2 && !st; q++)
        for (int k = 0; k < 3 && !st; k++) {
            alim_oracle_mix m = {3, 90, comp, shares[q], 1, 2, 0.0};
            for (size_t i = 0; i < NL && !st; i++) {
                alim_oracle_point pt;
                st = alim_oracle_mix_eval(&m, ks[k], ls[i], &pt, r->err);
                y[q * 3 + k][i] = pt.ratio_secant / ks[k];
            }
        }
    free(comp);
    if (st) return st;
    for (size_t i = 0; i < NL; i++) {
        rows[i * 7] = ls[i];
        for (int c = 0; c < 6; c++) rows[i * 7 + 1 + c] = y[c][i];
    }
    if ((st = report_write_csv(r, "elasticity_oracle_ratio",
                               "l,ratio_over_k_equal_k10,ratio_over_k_equal_k100,ratio_over_k_equal_k1000,"
                               "ratio_over_k_data_k10,ratio_over_k_data_k100,ratio_over_k_data_k1000",
                               rows, NL, 7)))
        return st;
    sb_printf(&r->html,
              "<section><h2>3. Elasticity</h2>\n"
              "<p>Language models resist alignment: perturbing an aligned model moves its fit to the alignment data "
              "about k = |D<sub>p</sub>|/|D<sub>a</sub>| times faster than its fit to the pretraining data "
              "(Ji et al. 2025, Theorem 4.2). E0 checks this with the exact count-weighted learner; E1 (resistance) "
              "and E2 (rebound) below test the paper's two predictions on small transformers. The full-scale runs "
              "(<code>alim elastic</code>) are reported in the project's <code>docs/results.md</code>.</p>\n");
    alim_plot_series se[] = {
        {ls, y[0], NL, "equal shares, k = 10", ALIM_PLOT_LINE, 0},
        {ls, y[1], NL, "equal shares, k = 100", ALIM_PLOT_LINE, 1},
        {ls, y[2], NL, "equal shares, k = 1000", ALIM_PLOT_LINE, 2},
        {ls, y[3], NL, "shares (.9, .05, .05), k = 10", ALIM_PLOT_DASHED, 0},
        {ls, y[4], NL, "shares (.9, .05, .05), k = 100", ALIM_PLOT_DASHED, 1},
        {ls, y[5], NL, "shares (.9, .05, .05), k = 1000", ALIM_PLOT_DASHED, 2},
    };
    alim_plot p = {"E0: how much faster the alignment fit moves", "perturbation size l = |D_t|/|D_a| (log scale)",
                   "ratio of rate changes / k", 1, 1, NAN, NAN, 0.8, NAN, se, 6, 4, 0, 0};
    st = report_add_figure(r, "elasticity_oracle_ratio", &p,
                           "The exact count-weighted learner: the ratio of the changes in compression rate of the alignment "
                           "data and of the pretraining data, divided by k. It is 1 (Hooke's law with stiffness |D_i|) as "
                           "long as l is small against the perturbation component's pretraining share, and grows beyond "
                           "that: at the shares (0.9, 0.05, 0.05) the theorem's regime ends near l = 0.01 (elasticity spec "
                           "§1.6, §4.4).");
    return st;
}
