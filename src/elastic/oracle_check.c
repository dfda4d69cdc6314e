/* oracle_check.c — E0's checks: the exact learner of oracle.c against the paper's claims
 * (see alim/oracle.h). The CLI and the report only format these rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/oracle.h"

/* |a - b| / |b|, with |b| floored so that b = 0 gives a large (not infinite) value */
static double rel_diff(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

/* min and max that keep NaN (fmin/fmax drop it), so a NaN quantity fails its check */
static double min_nan(double a, double b) { return isnan(a) || isnan(b) ? NAN : fmin(a, b); }
static double max_nan(double a, double b) { return isnan(a) || isnan(b) ? NAN : fmax(a, b); }

static alim_oracle_check above(const char *name, double value, double expected)
{
    alim_oracle_check c = {name, value, expected, 0, value > expected};
    return c;
}

static alim_oracle_check near(const char *name, double value, double expected, double tolerance)
{
    alim_oracle_check c = {name, value, expected, tolerance, fabs(value - expected) <= tolerance};
    return c;
}

void alim_oracle_judge(const alim_oracle_point *point, const alim_oracle_point *novel, alim_oracle_verdict *out)
{
    const alim_oracle_point *p = point;
    out->point = *point;
    out->novel = *novel;
    /* the ratio leaves k as l grows (the perturbation becomes a visible share of the data),
     * so beyond the smallest l the spec widens the band in proportion */
    const double ratio_tol = p->l <= 0.001 + 1e-12 ? 0.05 : 0.05 * (1 + 10 * p->l);
    alim_oracle_check *c = out->checks;
    c[ALIM_ORACLE_CHECK_SIGNS] = above("signs", min_nan(p->dgamma_a_dl, -p->dgamma_p_dl), 0);
    c[ALIM_ORACLE_CHECK_RATIO] = near("ratio_near_k", p->ratio / p->k, 1, ratio_tol);
    c[ALIM_ORACLE_CHECK_FD] = near("analytic_equals_fd",
                                   max_nan(rel_diff(p->dgamma_a_dl_fd, p->dgamma_a_dl), rel_diff(p->dgamma_p_dl_fd, p->dgamma_p_dl)),
                                   0, 1e-3);
    c[ALIM_ORACLE_CHECK_HOOKE] = near("hooke_near_1", p->hooke, 1, 0.05);
    if (!(p->l > 0)) c[ALIM_ORACLE_CHECK_HOOKE].pass = 1; /* no change at l = 0: nothing to compare */
    c[ALIM_ORACLE_CHECK_NOVEL] = above("novel_both_positive", min_nan(novel->dgamma_a_dl, novel->dgamma_p_dl), 0);
    out->pass = 1;
    for (int i = 0; i < ALIM_ORACLE_N_CHECKS; i++) out->pass &= c[i].pass;
}

static const double DEFAULT_K[] = {10, 100, 1000}, DEFAULT_L[] = {0.001, 0.01};

void alim_oracle_grid_config_default(alim_oracle_grid_config *c)
{
    memset(c, 0, sizeof *c);
    c->k = DEFAULT_K, c->n_k = sizeof DEFAULT_K / sizeof *DEFAULT_K;
    c->l = DEFAULT_L, c->n_l = sizeof DEFAULT_L / sizeof *DEFAULT_L;
    c->q[0] = c->q[1] = c->q[2] = 1.0 / 3;
    c->markov = 1;
    c->seed = 1;
    c->a_docs = 2000;
}

/* spec §1.6: three components, each Zipf(1) over its own 30 symbols */
enum { MIX_COMPONENTS = 3, MIX_SYMBOLS = 30, ALIGN = 1, PERTURB = 2 };

alim_status alim_oracle_grid_run(const alim_oracle_grid_config *c, alim_oracle_grid *out, alim_error *err)
{
    memset(out, 0, sizeof *out);
    const double *q = c->q;
    double qn[3] = {0, 0, 0};
    const double s12 = q[0] + q[1];
    alim_status st = ALIM_OK;
    if (!(s12 > 0)) st = alim_error_set(err, ALIM_EINVAL, "oracle: shares", "C1 and C2 shares are both 0");
    else qn[0] = q[0] / s12, qn[1] = q[1] / s12;
    alim_source src;
    memset(&src, 0, sizeof src);
    alim_source_config scfg;
    alim_source_config_default(&scfg);
    scfg.seed = c->seed;
    if (!st && c->markov) st = alim_source_build(&src, &scfg, err);
    const size_t n_models = c->markov ? 2 : 1, n_rows = n_models * c->n_k * c->n_l;
    double *comp = st ? NULL : alim_oracle_zipf_components(MIX_COMPONENTS, MIX_SYMBOLS);
    alim_oracle_verdict *rows = st ? NULL : calloc(n_rows ? n_rows : 1, sizeof *rows);
    if (!st && (!comp || !rows)) st = alim_error_set(err, ALIM_ENOMEM, "oracle", "out of memory");
    size_t r = 0;
    for (size_t mi = 0; mi < n_models && !st; mi++)
        for (size_t i = 0; i < c->n_k && !st; i++)
            for (size_t j = 0; j < c->n_l && !st; j++, r++) {
                alim_oracle_point pt, novel;
                if (mi == 0) {
                    alim_oracle_mix m = {MIX_COMPONENTS, MIX_COMPONENTS * MIX_SYMBOLS, comp, q, ALIGN, PERTURB, c->smoothing};
                    st = alim_oracle_mix_eval(&m, c->k[i], c->l[j], &pt, err);
                    m.q = qn;
                    if (!st) st = alim_oracle_mix_eval(&m, c->k[i], c->l[j], &novel, err);
                } else {
                    alim_oracle_markov m = {&src, q, ALIGN, PERTURB, c->a_docs, c->smoothing};
                    st = alim_oracle_markov_eval(&m, c->k[i], c->l[j], &pt, err);
                    m.q = qn;
                    if (!st) st = alim_oracle_markov_eval(&m, c->k[i], c->l[j], &novel, err);
                }
                if (!st) {
                    alim_oracle_judge(&pt, &novel, &rows[r]);
                    rows[r].model = mi == 0 ? "mix" : "markov";
                }
            }
    free(comp);
    alim_source_free(&src);
    if (st) {
        free(rows);
        return st;
    }
    memcpy(out->novel_q, qn, sizeof qn);
    out->rows = rows;
    out->n_rows = n_rows;
    out->all_pass = 1;
    for (r = 0; r < n_rows; r++) out->all_pass &= rows[r].pass;
    return ALIM_OK;
}

void alim_oracle_grid_free(alim_oracle_grid *g)
{
    free(g->rows);
    memset(g, 0, sizeof *g);
}

/* The spec's §1.6 table: its printed ratio and half a unit of its last digit. */
static const struct {
    const char *setting;
    double k, l, q1, q2, q3, smoothing, spec, half_unit;
} SPEC_TABLE[ALIM_ORACLE_TABLE_ROWS] = {
    {"k = 100", 100, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 100.1, 0.05},
    {"k = 1000", 1000, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 1001, 0.5},
    {"k = 1000", 1000, 0.02, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0, 1021, 0.5},
    {"k = 1000, q = (.8, .1, .1)", 1000, 0.001, 0.8, 0.1, 0.1, 0, 1004.5, 0.05},
    {"k = 1000, additive smoothing 1e-3", 1000, 0.001, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1e-3, 1002, 0.5},
};

alim_status alim_oracle_table_run(alim_oracle_table_row *rows, int *all_match, alim_error *err)
{
    double *comp = alim_oracle_zipf_components(MIX_COMPONENTS, MIX_SYMBOLS);
    if (!comp) return alim_error_set(err, ALIM_ENOMEM, "oracle", "out of memory");
    *all_match = 1;
    for (size_t i = 0; i < ALIM_ORACLE_TABLE_ROWS; i++) {
        alim_oracle_table_row *t = &rows[i];
        t->k = SPEC_TABLE[i].k, t->l = SPEC_TABLE[i].l, t->smoothing = SPEC_TABLE[i].smoothing;
        t->q[0] = SPEC_TABLE[i].q1, t->q[1] = SPEC_TABLE[i].q2, t->q[2] = SPEC_TABLE[i].q3;
        alim_oracle_mix m = {MIX_COMPONENTS, MIX_COMPONENTS * MIX_SYMBOLS, comp, t->q, ALIGN, PERTURB, t->smoothing};
        alim_oracle_point p;
        alim_status st = alim_oracle_mix_eval(&m, t->k, t->l, &p, err);
        if (st) {
            free(comp);
            return st;
        }
        t->ratio_derivative = p.ratio;
        t->check = near(SPEC_TABLE[i].setting, p.ratio_secant, SPEC_TABLE[i].spec, SPEC_TABLE[i].half_unit);
        *all_match &= t->check.pass;
    }
    free(comp);
    return ALIM_OK;
}
