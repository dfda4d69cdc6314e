/* rebound_judge.c — E2's pure functions (see alim/rebound.h): the Markov labeller, n*(eps)
 * and the criteria from a grid of seed means (rebound_impl.h names the other files). */
#include "alim/rebound.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int alim_rebound_label_markov(const alim_markov *comp, size_t K, const uint8_t *doc, size_t len)
{
    if (K < 1 || K > ALIM_SOURCE_MAX_COMPONENTS) return -1;
    const size_t n = comp[0].n;
    size_t imp[ALIM_SOURCE_MAX_COMPONENTS] = {0};
    double ll[ALIM_SOURCE_MAX_COMPONENTS] = {0};
    long prev = -1; /* -1: BOS, -2: after a non-symbol */
    for (size_t t = 0; t < len; t++) {
        int s = alim_source_byte_symbol(doc[t]);
        if (s < 0 || (size_t)s >= n) {
            for (size_t k = 0; k < K; k++) imp[k]++;
            prev = -2;
            continue;
        }
        for (size_t k = 0; k < K; k++) {
            if (prev == -2) {
                imp[k]++;
                continue;
            }
            double p = prev == -1 ? comp[k].init[s] : comp[k].P[(size_t)prev * n + (size_t)s];
            if (p > 0) ll[k] += log(p);
            else imp[k]++;
        }
        prev = s;
    }
    int best = 0, tie = 0;
    for (size_t k = 1; k < K; k++) {
        if (imp[k] < imp[best] || (imp[k] == imp[best] && ll[k] > ll[best] + 1e-9)) {
            best = (int)k;
            tie = 0;
        } else if (imp[k] == imp[best] && fabs(ll[k] - ll[best]) <= 1e-9)
            tie = 1;
    }
    return tie ? -1 : best;
}

double alim_rebound_nstar(const double *n_neg, const double *kl, size_t n, double eps)
{
    for (size_t j = 0; j < n; j++) {
        if (!(kl[j] < eps)) continue;
        if (j == 0) return n_neg[0];
        const double a = kl[j - 1], b = kl[j];
        if (!isfinite(a)) return n_neg[j];
        return n_neg[j - 1] + (a - eps) / (a - b) * (n_neg[j] - n_neg[j - 1]);
    }
    return NAN;
}

static int grid_finite(const alim_rebound_grid *g)
{
    if (!g || g->n_pos_count < 2 || g->n_neg_count < 4) return 0;
    const size_t N = g->n_pos_count * g->n_neg_count;
    for (size_t i = 0; i < N; i++)
        if (!isfinite(g->score[i]) || !isfinite(g->gamma_mix[i]) || !isfinite(g->gamma_c2[i])) return 0;
    return isfinite(g->gamma_mix_base);
}

/* mean drop over the first negatives, mean early and late |slope|, and the mean change of
 * |gamma_mix - gamma_mix(theta0)| from n_neg[0] to the last n_neg */
static void grid_stats(const alim_rebound_grid *g, double *drop, double *mean_drop, double *early, double *late,
                       double *back, size_t *n_back, size_t *n_c2_up)
{
    const size_t P = g->n_pos_count, N = g->n_neg_count;
    double md = 0, e = 0, l = 0, bk = 0;
    size_t nb = 0, nu = 0;
    for (size_t i = 0; i < P; i++) {
        const double *s = g->score + i * N;
        drop[i] = s[0] - s[1];
        md += drop[i];
        double es = 0;
        for (size_t j = 0; j < 2; j++) es += fabs(s[j + 1] - s[j]) / (g->n_neg[j + 1] - g->n_neg[j]);
        e += es / 2;
        l += fabs(s[N - 1] - s[N - 2]) / (g->n_neg[N - 1] - g->n_neg[N - 2]);
        const double d0 = fabs(g->gamma_mix[i * N] - g->gamma_mix_base), d1 = fabs(g->gamma_mix[i * N + N - 1] - g->gamma_mix_base);
        bk += d1 - d0;
        nb += d1 < d0;
        nu += g->gamma_c2[i * N + N - 1] > g->gamma_c2[i * N];
    }
    *mean_drop = md / (double)P;
    *early = e / (double)P;
    *late = l / (double)P;
    *back = bk / (double)P;
    *n_back = nb;
    *n_c2_up = nu;
}

void alim_rebound_judge(const alim_rebound_grid *g, const alim_rebound_grid *control, alim_rebound_criteria *o)
{
    memset(o, 0, sizeof *o);
    o->a = o->b = o->c = o->d = o->e = "NULL";
    o->early_slope = o->late_slope = NAN;
    if (!grid_finite(g)) {
        for (int k = 0; k < 5; k++)
            snprintf(o->why[k], sizeof o->why[k], "needs >= 2 n_pos, >= 4 n_neg values and finite seed means");
        o->verdict = "NULL";
        return;
    }
    const size_t P = g->n_pos_count, N = g->n_neg_count;
    double mean_drop, back;
    size_t n_back, n_up;
    grid_stats(g, o->drop, &mean_drop, &o->early_slope, &o->late_slope, &back, &n_back, &n_up);
    /* (a) score at n_neg[0] rises with n_pos: every step up */
    size_t up = 0;
    for (size_t i = 0; i + 1 < P; i++) up += g->score[(i + 1) * N] > g->score[i * N];
    o->a = up == P - 1 ? "PASS" : "FAIL";
    snprintf(o->why[0], sizeof o->why[0], "score at n_neg = %g rises in %zu of %zu n_pos steps", g->n_neg[0], up, P - 1);
    /* (b) the drop over the first negatives grows with n_pos in >= ceil(3/4 of the steps) */
    size_t grow = 0;
    for (size_t i = 0; i + 1 < P; i++) grow += o->drop[i + 1] > o->drop[i];
    const size_t need = (3 * (P - 1) + 3) / 4;
    o->b = grow >= need ? "PASS" : "FAIL";
    snprintf(o->why[1], sizeof o->why[1], "drop over the first %g negatives grows in %zu of %zu steps (need %zu)", g->n_neg[1], grow, P - 1, need);
    /* (c) early |slope| >= 3 x late |slope| (and there is an early drop at all) */
    o->c = o->early_slope > 0 && o->early_slope >= 3 * o->late_slope ? "PASS" : "FAIL";
    snprintf(o->why[2], sizeof o->why[2], "mean |slope| over n_neg %g-%g is %.4g, over %g-%g %.4g (ratio %.3g, need >= 3)", g->n_neg[0],
             g->n_neg[2], o->early_slope, g->n_neg[N - 2], g->n_neg[N - 1], o->late_slope, o->early_slope / o->late_slope);
    /* (d) gamma_mix moves back toward theta0 and gamma_C2 rises, for every n_pos */
    o->d = n_back == P && n_up == P ? "PASS" : "FAIL";
    snprintf(o->why[3], sizeof o->why[3], "gamma_mix closer to theta0 at n_neg = %g than at %g for %zu of %zu n_pos, gamma_C2 up for %zu of %zu",
             g->n_neg[N - 1], g->n_neg[0], n_back, P, n_up, P);
    /* (e) control: (b) and (c) absent or at most half as strong, gamma_mix not going back */
    if (!control) snprintf(o->why[4], sizeof o->why[4], "no control run given (--control-run)");
    else if (!grid_finite(control) || control->n_pos_count != P || control->n_neg_count != N)
        snprintf(o->why[4], sizeof o->why[4], "the control run's grid is incomplete or has another shape");
    else {
        alim_rebound_criteria cc;
        alim_rebound_judge(control, NULL, &cc);
        double cdrop[ALIM_REBOUND_MAX_GRID], cmd, ce, cl, cb;
        size_t cnb, cnu;
        grid_stats(control, cdrop, &cmd, &ce, &cl, &cb, &cnb, &cnu);
        const int b_weak = strcmp(cc.b, "PASS") != 0 || cmd <= 0.5 * mean_drop;
        const int c_weak = strcmp(cc.c, "PASS") != 0 || ce <= 0.5 * o->early_slope;
        const int no_back = cb >= 0;
        o->e = b_weak && c_weak && no_back ? "PASS" : "FAIL";
        snprintf(o->why[4], sizeof o->why[4],
                 "control: (b) %s, mean first drop %.4g vs %.4g; (c) %s, early slope %.4g vs %.4g; gamma_mix distance change %+.4g bits",
                 cc.b, cmd, mean_drop, cc.c, ce, o->early_slope, cb);
    }
    int all = !strcmp(o->a, "PASS") && !strcmp(o->b, "PASS") && !strcmp(o->c, "PASS") && !strcmp(o->d, "PASS") && !strcmp(o->e, "PASS");
    o->verdict = all ? "PASS" : "NULL";
}
