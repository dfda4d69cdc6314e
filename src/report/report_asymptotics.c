/* report_asymptotics.c — the report's section 2, "KL-regularised RL versus best-of-N": the
 * reward-KL frontier with exact best-of-N for n-token sequences, KL(best-of-N || RL optimum)
 * against n, and the exact KL of best-of-N against the log N - (N-1)/N bound. */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/bon.h"
#include "alim/io.h"
#include "alim/rdist.h"
#include "alim/seqpmf.h"
#include "alim/tilt.h"

alim_status report_asymptotics_config_read(const cJSON *c, const char *where, int quick, asymptotics_config *ac,
                                           alim_error *err)
{
    memset(ac, 0, sizeof *ac);
    static const double p0[] = {0.5, 0.3, 0.2}, r0[] = {0, 1, 2}; /* the spec's T1 token law */
    static const double len_full[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    static const double len_quick[] = {1, 4, 16, 64};
    ac->n_out = 3;
    memcpy(ac->p, p0, sizeof p0);
    memcpy(ac->r, r0, sizeof r0);
    ac->delta = 0.5;
    ac->n_len = quick ? 4 : 11;
    memcpy(ac->lengths, quick ? len_quick : len_full, ac->n_len * sizeof(double));
    ac->log10_n_max = quick ? 4 : 8;
    if (!c) return ALIM_OK;
    static const char *const keys[] = {"p", "r", "delta_nats", "lengths", "log10_N_max", NULL};
    alim_status st = alim_json_check_keys(c, keys, where, err);
    if (st) return st;
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(c, "p"), *jr = cJSON_GetObjectItemCaseSensitive(c, "r");
    if (!jp != !jr) return alim_error_set(err, ALIM_EINVAL, where, "give \"p\" and \"r\" together");
    if (jp) {
        size_t np, nr;
        if ((st = report_read_numbers(jp, where, "p", ac->p, 64, &np, 0, 1, 0, err)) ||
            (st = report_read_numbers(jr, where, "r", ac->r, 64, &nr, -1e300, 1e300, 0, err)))
            return st;
        if (np != nr) return alim_error_set(err, ALIM_EINVAL, where, "\"p\" and \"r\" must have the same length");
        ac->n_out = np;
    }
    if ((st = alim_json_get_number(c, "delta_nats", 0, where, &ac->delta, err))) return st;
    if (!(ac->delta > 0)) return alim_error_set(err, ALIM_EINVAL, where, "\"delta_nats\" must be positive");
    const cJSON *jl = cJSON_GetObjectItemCaseSensitive(c, "lengths");
    if (jl && (st = report_read_numbers(jl, where, "lengths", ac->lengths, 32, &ac->n_len, 1, 4096, 1, err))) return st;
    if ((st = alim_json_get_number(c, "log10_N_max", 0, where, &ac->log10_n_max, err))) return st;
    if (!(ac->log10_n_max >= 1 && ac->log10_n_max <= 300))
        return alim_error_set(err, ALIM_EINVAL, where, "\"log10_N_max\" must be in [1, 300]");
    /* the token law itself is checked where it is used (alim_rdist_from_arrays) */
    alim_rdist d;
    if ((st = alim_rdist_from_arrays(&d, ac->p, ac->r, ac->n_out, 1e-9, 0, where, err))) return st;
    alim_rdist_free(&d);
    return ALIM_OK;
}

alim_status report_asymptotics(report *r, const cJSON *c, const char *where)
{
    asymptotics_config ac;
    alim_status st = report_asymptotics_config_read(c, where, r->quick, &ac, r->err);
    if (st) return st;
    alim_rdist d;
    alim_levels lv = {0};
    double *tab = NULL;
    int have_d = 0, have_lv = 0;
    if ((st = alim_rdist_from_arrays(&d, ac.p, ac.r, ac.n_out, 1e-9, 0, where, r->err))) goto out;
    have_d = 1;
    if ((st = alim_levels_from_rdist_nomap(&d, &lv, r->err))) goto out;
    have_lv = 1;
    const double kmax = alim_tilt_kl_max(&d);
    alim_tilt_solution rl;
    if ((st = alim_tilt_solve_kl(&d, ac.delta, &rl, r->err))) goto out;
    sb_printf(&r->html,
              "<section><h2>2. KL-regularised RL versus best-of-N</h2>\n"
              "<p>The optimal policy under a KL budget is an exponential tilt &phi;<sub>&lambda;</sub> &prop; "
              "p&middot;e<sup>&lambda;r</sup> of the base model; best-of-N is its cheap cousin. For a memoryless "
              "model generating n tokens, best-of-N with N = e<sup>n&Delta;</sup> approaches the KL-RL optimum with "
              "budget n&Delta; per token as n grows (Yang et al. 2024). Token law: %zu outcomes, per-token budget "
              "&Delta; = %g nats (&lambda;* = %.10g, x* = %.10g per token%s).</p>\n",
              ac.n_out, ac.delta, rl.pt.lambda, rl.pt.mean, rl.saturated ? ", saturated" : "");

    /* F1: reward-KL frontier with best-of-N points */
    const size_t nf = 101;
    const size_t nl = ac.n_len;
    tab = malloc((nf * 2 + nl * 6 + 4096) * sizeof *tab);
    if (!tab) {
        st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
        goto out;
    }
    double *fk = tab, *fx = tab + nf;
    for (size_t i = 0; i < nf; i++) {
        alim_tilt_solution sol;
        double budget = kmax * (double)i / (double)(nf - 1) * (i + 1 == nf ? 1.0 : 0.999);
        if ((st = alim_tilt_solve_kl(&d, budget, &sol, r->err))) goto out;
        fk[i] = sol.pt.kl_nats;
        fx[i] = sol.saturated ? d.r_max : sol.pt.mean;
        if (sol.saturated) fk[i] = kmax;
    }
    double *bk = tab + 2 * nf, *bx = bk + nl, *pk = bx + nl, *tot = pk + nl, *nn = tot + nl, *rx = nn + nl;
    for (size_t i = 0; i < nl; i++) {
        alim_bon_size N;
        alim_seq_result sr;
        size_t n = (size_t)ac.lengths[i];
        if ((st = alim_bon_size_from_log((double)n * ac.delta, &N, r->err))) goto out;
        if ((st = alim_seq_compare(&d, n, ac.delta, N, NULL, &sr, r->progress, r->err))) goto out;
        nn[i] = (double)n;
        bk[i] = sr.bon.kl_nats / (double)n;
        bx[i] = sr.bon.reward / (double)n;
        tot[i] = sr.bon_kl_to_rl_nats;
        pk[i] = tot[i] / (double)n;
        rx[i] = sr.rl.pt.mean;
    }
    {
        double *rows = malloc(nl * 6 * sizeof *rows);
        if (!rows) {
            st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nl; i++) {
            double row[6] = {nn[i], bk[i], bx[i], rx[i], pk[i], tot[i]};
            memcpy(rows + i * 6, row, sizeof row);
        }
        st = report_write_csv(r, "asymptotics_bon_vs_rl",
                              "n,bon_kl_per_token_nats,bon_reward_per_token,rl_reward_per_token,"
                              "kl_bon_to_rl_per_token_nats,kl_bon_to_rl_total_nats",
                              rows, nl, 6);
        free(rows);
        if (st) goto out;
        double *rows2 = malloc(nf * 2 * sizeof *rows2);
        if (!rows2) {
            st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nf; i++) rows2[2 * i] = fk[i], rows2[2 * i + 1] = fx[i];
        st = report_write_csv(r, "asymptotics_frontier", "kl_per_token_nats,reward_per_token", rows2, nf, 2);
        free(rows2);
        if (st) goto out;
    }
    {
        double dx[2] = {ac.delta, ac.delta}, dy[2] = {d.r_min, d.r_max};
        alim_plot_series se[] = {
            {fk, fx, nf, "KL-RL frontier (rate function)", ALIM_PLOT_LINE, 0},
            {bk, bx, nl, "best-of-N, N = exp(n Delta)", ALIM_PLOT_LINE_POINTS, 3},
            {dx, dy, 2, "per-token budget Delta", ALIM_PLOT_DASHED, 7},
        };
        alim_plot p = {"Reward versus KL per token", "KL to the base model per token (nats)",
                       "expected reward per token", 0, 0, 0.0, NAN, NAN, NAN, se, 3, 4, 0, 0};
        if ((st = report_add_figure(r, "asymptotics_frontier", &p,
                                    "The KL-RL frontier (exact tilts &phi;<sub>&lambda;</sub>) and exact best-of-N for "
                                    "sequences of n tokens with N = e<sup>n&Delta;</sup>: the best-of-N points lie below the "
                                    "curve and move up along it toward (&Delta;, x*) as n grows (asymptotics spec F1).")))
            goto out;
    }
    {
        alim_plot_series se[] = {
            {nn, tot, nl, "total KL(BoN || RL optimum)", ALIM_PLOT_LINE_POINTS, 1},
            {nn, pk, nl, "per token", ALIM_PLOT_LINE_POINTS, 0},
        };
        alim_plot p = {"How far best-of-N is from the KL-RL optimum", "sequence length n (tokens)",
                       "KL(best-of-N || tilted optimum) (nats)", 1, 1, NAN, NAN, NAN, NAN, se, 2, 4, 0, 0};
        if ((st = report_add_figure_csv(r, "asymptotics_kl_to_rl", "asymptotics_bon_vs_rl", &p,
                             "Exact KL divergence from best-of-N to the optimal KL-regularised policy: the per-token "
                             "value vanishes (about log n / 2n) while the total grows like &frac12; log n: the "
                             "equivalence is per token (asymptotics spec F2).")))
            goto out;
    }
    /* F4: exact KL of best-of-N against the log N - (N-1)/N bound */
    {
        size_t nb = (size_t)(4 * ac.log10_n_max) + 1;
        if (nb > 1000) nb = 1000;
        double *bn = tab + 2 * nf + 6 * nl, *be = bn + nb, *bb = be + nb, *b1 = bb + nb;
        for (size_t i = 0; i < nb; i++) {
            alim_bon_size N;
            alim_bon_result br;
            if ((st = alim_bon_size_from_log(log(10.0) * (double)i / 4.0, &N, r->err))) goto out;
            alim_bon_eval(&lv, N, &br);
            bn[i] = N.n;
            be[i] = br.kl_nats;
            bb[i] = br.kl_bound_nats;
            b1[i] = br.kl_one_atom_nats;
        }
        double *rows = malloc(nb * 4 * sizeof *rows);
        if (!rows) {
            st = alim_error_set(r->err, ALIM_ENOMEM, "report", "out of memory");
            goto out;
        }
        for (size_t i = 0; i < nb; i++) {
            double row[4] = {bn[i], be[i], bb[i], b1[i]};
            memcpy(rows + 4 * i, row, sizeof row);
        }
        st = report_write_csv(r, "asymptotics_bon_kl_bound", "N,kl_exact_nats,kl_bound_nats,kl_one_atom_nats", rows, nb, 4);
        free(rows);
        if (st) goto out;
        double sx[2] = {1, bn[nb - 1]}, sy[2] = {kmax, kmax};
        alim_plot_series se[] = {
            {bn, bb, nb, "bound log N - (N-1)/N", ALIM_PLOT_DASHED, 3},
            {bn, be, nb, "exact KL(best-of-N || p)", ALIM_PLOT_LINE, 0},
            {bn, b1, nb, "one-atom model (top mass)", ALIM_PLOT_LINE, 2},
            {sx, sy, 2, "saturation log 1/p(top)", ALIM_PLOT_DASHED, 7},
        };
        alim_plot p = {"Exact KL of best-of-N versus the usual bound", "N (log scale)", "KL to the base model (nats)",
                       1, 0, NAN, NAN, 0.0, NAN, se, 4, 4, 0, 0};
        if ((st = report_add_figure(r, "asymptotics_bon_kl_bound", &p,
                                    "For a discrete reward the exact KL of best-of-N saturates at log 1/p(top) while the "
                                    "bound log N - (N-1)/N keeps growing (asymptotics spec F4; Beirami et al.).")))
            goto out;
    }
    sb_printf(&r->html, "</section>\n");
out:
    free(tab);
    if (have_lv) alim_levels_free(&lv);
    if (have_d) alim_rdist_free(&d);
    return st;
}
