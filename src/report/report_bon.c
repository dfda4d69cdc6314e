/* report_bon.c — the report's section 2b, "Beyond best-of-N": win rate and gold reward against KL
 * for best-of-N, Best-of-Poisson, soft best-of-N and the tilt on a built-in distribution with a
 * gold reward, with the N/(N+1) and log N - (N-1)/N bounds (see alim/bonfam.h). */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/bonfam.h"
#include "alim/io.h"
#include "alim/rdist.h"
#include "alim/tilt.h"

enum { NOUT = 41, NPTS = 40, NMETH = 4 };

alim_status report_bon(report *r)
{
    alim_error *err = r->err;
    /* built-in: a discretised normal proxy reward on [-2, 2] and a gold reward g = r - 0.35 r^2 that
     * agrees with the proxy at first and peaks at r = 1.43 (the top proxy rewards are "hacked") */
    double p[NOUT], pr[NOUT], g[NOUT], s = 0; /* pr: the proxy reward r */
    for (int i = 0; i < NOUT; i++) {
        pr[i] = -2 + 4.0 * i / (NOUT - 1);
        p[i] = exp(-pr[i] * pr[i] / 2);
        s += p[i];
        g[i] = pr[i] - 0.35 * pr[i] * pr[i];
    }
    for (int i = 0; i < NOUT; i++) p[i] /= s;
    alim_rdist d;
    alim_levels lv;
    alim_status st = alim_rdist_from_arrays(&d, p, pr, NOUT, 1e-9, 1, "report: beyond best-of-N", err);
    if (st) return st;
    double gl[NOUT];
    if ((st = alim_levels_from_rdist(&d, &lv, err))) {
        alim_rdist_free(&d);
        return st;
    }
    const size_t npts = r->quick ? 16 : NPTS;
    double kl[NMETH][NPTS], win[NMETH][NPTS], gold[NMETH][NPTS], par[NMETH][NPTS], bk[NPTS], bw[NPTS];
    alim_hedge_result hr[NMETH];
    static const char *names[NMETH] = {"best-of-N", "Best-of-Poisson", "soft best-of-N (N = 64)", "optimal tilt"};
    static const alim_bon_method ms[NMETH] = {ALIM_METHOD_BON, ALIM_METHOD_BOP, ALIM_METHOD_SOFT, ALIM_METHOD_TILT};
    const double kmax = alim_tilt_kl_max(&d);
    if ((st = alim_levels_gold(&d, &lv, g, gl, err))) goto out;
    for (size_t i = 0; i < npts; i++) {
        const double u = (double)i / (double)(npts - 1);
        const double nv = floor(pow(2.0, 12 * u) + 0.5); /* N = 1 .. 4096 */
        double pv[NMETH] = {nv, nv - 1, 0, 0};
        pv[2] = u == 0 ? 0 : 0.02 * pow(1000.0, u); /* lambda of soft: 0, 0.02 .. 20 */
        alim_tilt_solution ts;
        if ((st = alim_tilt_solve_kl(&d, kmax * u * 0.999, &ts, err))) goto out;
        pv[3] = ts.pt.lambda;
        for (int m = 0; m < NMETH; m++) {
            alim_bonfam_point pt;
            if (ms[m] != ALIM_METHOD_SOFT) {
                if ((st = alim_bonfam_eval(&lv, gl, ms[m], pv[m], 0, &pt, err))) goto out;
            } else { /* soft: the parameter is lambda at N = 64 */
                double lp[NOUT];
                alim_bon_size N64 = {64, log(64.0)};
                if ((st = alim_soft_bon_level_log_probs(&lv, N64, pv[m], lp, NULL, err))) goto out;
                alim_bonfam_eval_law(&lv, gl, lp, &pt);
            }
            kl[m][i] = pt.kl_nats, win[m][i] = pt.win_rate, gold[m][i] = pt.gold_reward, par[m][i] = pv[m];
        }
        alim_bon_size N = {nv, log(nv)};
        bk[i] = alim_bon_kl_bound(N), bw[i] = nv / (nv + 1);
    }
    static const double hi[NMETH] = {4096, 4096, 100, 100};
    for (int m = 0; m < NMETH; m++)
        if ((st = alim_bonfam_hedge(&lv, gl, ms[m], 64, ms[m] == ALIM_METHOD_BON ? 1 : 0, hi[m], &hr[m], err))) goto out;
    /* the table behind both figures */
    {
        char *path = report_path(r, "beyond_bon_family.csv");
        alim_atomic_file f;
        st = path ? alim_atomic_open(&f, path, err) : alim_error_set(err, ALIM_ENOMEM, "report", "out of memory");
        free(path);
        if (st) goto out;
        fputs("method,param,kl_nats,win_rate,gold_reward,bon_kl_bound_nats,bon_win_rate_bound\n", f.fp);
        for (int m = 0; m < NMETH; m++)
            for (size_t i = 0; i < npts; i++) {
                fprintf(f.fp, "%s", alim_bon_method_name(ms[m]));
                const double v[6] = {par[m][i], kl[m][i], win[m][i], gold[m][i], bk[i], bw[i]};
                for (int j = 0; j < 6; j++) { /* the bounds on best-of-N's rows only */
                    fputc(',', f.fp);
                    if (j < 4 || m == 0) report_csv_num(f.fp, v[j]);
                }
                fputc('\n', f.fp);
            }
        if ((st = alim_atomic_commit(&f, err))) goto out;
        r->n_tab++;
    }
    {
        double ok[NPTS], ow[NPTS];
        for (size_t i = 0; i < npts; i++) ok[i] = kmax * (double)i / (double)(npts - 1), ow[i] = alim_bon_win_rate_optimal(ok[i], NULL);
        alim_plot_series se[] = {
            {kl[0], win[0], npts, names[0], ALIM_PLOT_LINE_POINTS, 0},
            {kl[1], win[1], npts, names[1], ALIM_PLOT_LINE, 1},
            {kl[2], win[2], npts, names[2], ALIM_PLOT_LINE, 2},
            {kl[3], win[3], npts, names[3], ALIM_PLOT_LINE, 3},
            {bk, bw, npts, "bound: (log N - (N-1)/N, N/(N+1))", ALIM_PLOT_DASHED, 7},
            {ok, ow, npts, "best win rate, atomless reward", ALIM_PLOT_DASHED, 4},
        };
        alim_plot pl = {"Win rate against KL", "KL to the base model (nats)", "win rate against a draw from p (ties 1/2)",
                        0, 0, 0.0, NAN, NAN, NAN, se, 6, 4, 0, 0};
        if ((st = report_draw(r, "beyond_bon_win_rate", &pl))) goto out;
        alim_plot_series sg[] = {
            {kl[0], gold[0], npts, names[0], ALIM_PLOT_LINE_POINTS, 0},
            {kl[1], gold[1], npts, names[1], ALIM_PLOT_LINE, 1},
            {kl[2], gold[2], npts, names[2], ALIM_PLOT_LINE, 2},
            {kl[3], gold[3], npts, names[3], ALIM_PLOT_LINE, 3},
        };
        alim_plot pg = {"Gold reward against KL (reward hacking)", "KL to the base model (nats)",
                        "gold reward E g (selection by the proxy r)", 0, 0, 0.0, NAN, NAN, NAN, sg, 4, 4, 0, 0};
        if ((st = report_draw(r, "beyond_bon_gold", &pg))) goto out;
        r->n_fig += 2;
    }
    sb_printf(&r->html,
              "<section><h2>2b. Beyond best-of-N</h2>\n"
              "<p>Four inference-time methods on a built-in distribution (41 outcomes, proxy reward r a "
              "discretised N(0,1) on [-2, 2], gold reward g = r - 0.35 r<sup>2</sup>): best-of-N, "
              "Best-of-Poisson (N = 1 + Poisson(&mu;), Khalaf et al. 2025), soft best-of-N with N = 64 "
              "(Verdun et al. 2025) and the KL-optimal tilt. All values are exact (alim/bonfam.h; "
              "<code>alim frontier --family</code>). Best-of-N stays under the bound "
              "(log N - (N-1)/N, N/(N+1)) of Beirami et al. and near the atomless optimum (Gui et al.). "
              "Selecting by the proxy first raises and then lowers the gold reward: the parameters that "
              "maximise it (HedgeTune) are N&dagger; = %.0f (gold %.4f, KL %.3f nats), &mu; = %.4g (gold "
              "%.4f), soft &lambda; = %.4g (gold %.4f), tilt &lambda; = %.4g (gold %.4f).</p>\n"
              "<figure><a href=\"beyond_bon_win_rate.svg\"><img src=\"beyond_bon_win_rate.png\" "
              "alt=\"win rate against KL\"></a><figcaption><b>Figure %d.</b> Win rate against KL for the "
              "four methods, with the best-of-N bound and the best win rate any policy reaches at that KL "
              "for an atomless reward. <a href=\"beyond_bon_win_rate.svg\">SVG</a>, <a "
              "href=\"beyond_bon_family.csv\">data (CSV)</a>.</figcaption></figure>\n"
              "<figure><a href=\"beyond_bon_gold.svg\"><img src=\"beyond_bon_gold.png\" alt=\"gold reward "
              "against KL\"></a><figcaption><b>Figure %d.</b> Gold reward against KL: each method peaks and "
              "then declines as it optimises the proxy harder (inference-time reward hacking). <a "
              "href=\"beyond_bon_gold.svg\">SVG</a>, <a href=\"beyond_bon_family.csv\">data "
              "(CSV)</a>.</figcaption></figure>\n</section>\n",
              hr[0].param, hr[0].at.gold_reward, hr[0].at.kl_nats, hr[1].param, hr[1].at.gold_reward,
              hr[2].param, hr[2].at.gold_reward, hr[3].param, hr[3].at.gold_reward, r->n_fig - 1, r->n_fig);
out:
    alim_levels_free(&lv);
    alim_rdist_free(&d);
    return st;
}
