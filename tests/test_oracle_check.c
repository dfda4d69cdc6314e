/* test_oracle_check.c — E0's checks (alim_oracle_judge, _grid_run, _table_run) against the
 * assertions of spec §4.4 written out again here, and mutated points that must fail. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/oracle.h"
#include "check.h"

static const char *const NAMES[ALIM_ORACLE_N_CHECKS] = {"signs", "ratio_near_k", "analytic_equals_fd", "hooke_near_1",
                                                        "novel_both_positive"};

/* The spec's assertions, from its text, for one point: returns the pass flag of check i. */
static int spec_pass(int i, const alim_oracle_point *p, const alim_oracle_point *nv)
{
    double tol = p->l > 0.001 * (1 + 1e-9) ? 0.05 * (1 + 10 * p->l) : 0.05;
    switch (i) {
    case ALIM_ORACLE_CHECK_SIGNS: return p->dgamma_p_dl < 0 && 0 < p->dgamma_a_dl;
    case ALIM_ORACLE_CHECK_RATIO: return p->ratio >= p->k * (1 - tol) && p->ratio <= p->k * (1 + tol);
    case ALIM_ORACLE_CHECK_FD:
        return fabs(p->dgamma_a_dl_fd - p->dgamma_a_dl) <= 1e-3 * fabs(p->dgamma_a_dl) &&
               fabs(p->dgamma_p_dl_fd - p->dgamma_p_dl) <= 1e-3 * fabs(p->dgamma_p_dl);
    case ALIM_ORACLE_CHECK_HOOKE: return p->l == 0 || (p->hooke >= 0.95 && p->hooke <= 1.05);
    default: return nv->dgamma_a_dl > 0 && nv->dgamma_p_dl > 0;
    }
}

static void check_row_against_spec(const alim_oracle_verdict *v, const char *what)
{
    int all = 1;
    for (int i = 0; i < ALIM_ORACLE_N_CHECKS; i++) {
        int want = spec_pass(i, &v->point, &v->novel);
        CHECK(v->checks[i].pass == want, "%s: check %s: library %d, spec %d", what, NAMES[i], v->checks[i].pass, want);
        CHECK(!strcmp(v->checks[i].name, NAMES[i]), "%s: check %d is named %s", what, i, v->checks[i].name);
        all &= want;
    }
    CHECK(v->pass == all, "%s: row pass %d, spec %d", what, v->pass, all);
}

/* a point of the 'mix' learner, evaluated directly (not through the grid) */
static alim_oracle_point mix_point(const double *q, double k, double l)
{
    double *comp = alim_oracle_zipf_components(3, 30);
    alim_oracle_mix m = {3, 90, comp, q, 1, 2, 0};
    alim_oracle_point p;
    memset(&p, 0, sizeof p);
    CHECK(alim_oracle_mix_eval(&m, k, l, &p, NULL) == ALIM_OK, "mix eval k=%g l=%g", k, l);
    free(comp);
    return p;
}

int main(int argc, char **argv)
{
    (void)argc;
    alim_error err;

    /* ---- the paper's configuration (the defaults of `alim elastic oracle`): all pass ---- */
    alim_oracle_grid_config cfg;
    alim_oracle_grid_config_default(&cfg);
    CHECK(cfg.n_k == 3 && cfg.k[0] == 10 && cfg.k[2] == 1000 && cfg.n_l == 2 && cfg.l[0] == 0.001 && cfg.markov,
          "default grid");
    alim_oracle_grid g;
    alim_error_clear(&err);
    CHECK(alim_oracle_grid_run(&cfg, &g, &err) == ALIM_OK, "grid: %s", err.what);
    CHECK(g.n_rows == 12, "12 rows (2 learners x 3 k x 2 l), got %zu", g.n_rows);
    CHECK(g.all_pass, "the paper's configuration passes every check");
    CHECK_ABS(g.novel_q[0], 0.5, 1e-15, "novel shares (1/2, 1/2, 0)");
    CHECK_ABS(g.novel_q[2], 0, 0, "novel share of C3");
    for (size_t r = 0; r < g.n_rows; r++) {
        const alim_oracle_verdict *v = &g.rows[r];
        CHECK(!strcmp(v->model, r < 6 ? "mix" : "markov"), "row %zu model %s", r, v->model);
        CHECK(v->point.k == cfg.k[(r % 6) / 2] && v->point.l == cfg.l[r % 2], "row %zu order (k outer, l inner)", r);
        check_row_against_spec(v, "default grid");
        /* the rows carry what they measured: value, expected, tolerance */
        const alim_oracle_check *c = v->checks;
        CHECK_ABS(c[ALIM_ORACLE_CHECK_RATIO].value, v->point.ratio / v->point.k, 0, "ratio check value = ratio/k");
        CHECK(c[ALIM_ORACLE_CHECK_RATIO].expected == 1, "ratio expected 1");
        CHECK_ABS(c[ALIM_ORACLE_CHECK_RATIO].tolerance, v->point.l <= 0.001 ? 0.05 : 0.05 * (1 + 10 * v->point.l), 1e-15,
                  "ratio tolerance");
        CHECK(c[ALIM_ORACLE_CHECK_FD].value >= 0 && c[ALIM_ORACLE_CHECK_FD].value <= 1e-3 && c[ALIM_ORACLE_CHECK_FD].tolerance == 1e-3,
              "fd value %g", c[ALIM_ORACLE_CHECK_FD].value);
        CHECK_ABS(c[ALIM_ORACLE_CHECK_HOOKE].value, v->point.hooke, 0, "hooke value");
        CHECK(c[ALIM_ORACLE_CHECK_SIGNS].value > 0 && c[ALIM_ORACLE_CHECK_NOVEL].value > 0, "sign margins positive");
    }
    /* the 'mix' point of the grid is the one alim_oracle_mix_eval gives (spec §1.6 closed form
     * is tested in test_elastic_oracle.c) */
    alim_oracle_point direct = mix_point(cfg.q, 100, 0.01);
    CHECK_ABS(g.rows[3].point.gamma_a_bits, direct.gamma_a_bits, 0, "grid row = direct evaluation");
    CHECK_ABS(g.rows[3].point.ratio, direct.ratio, 0, "grid row ratio = direct evaluation");

    /* ---- mutations of a passing point: each makes its own check fail, and the row ---- */
    const alim_oracle_verdict base = g.rows[3]; /* mix, k = 100, l = 0.01 */
    alim_oracle_verdict v;
    CHECK(base.pass, "base row passes");
    struct {
        int check;
        const char *what;
    } mut[] = {{ALIM_ORACLE_CHECK_SIGNS, "dgamma_p/dl > 0"},     {ALIM_ORACLE_CHECK_SIGNS, "dgamma_a/dl = 0"},
               {ALIM_ORACLE_CHECK_RATIO, "ratio 20% above k"},   {ALIM_ORACLE_CHECK_RATIO, "ratio NaN"},
               {ALIM_ORACLE_CHECK_FD, "fd derivative off 0.2%"}, {ALIM_ORACLE_CHECK_FD, "fd derivative NaN"},
               {ALIM_ORACLE_CHECK_HOOKE, "hooke 1.06"},          {ALIM_ORACLE_CHECK_NOVEL, "novel dgamma_p/dl < 0"},
               {ALIM_ORACLE_CHECK_NOVEL, "novel dgamma_a/dl NaN"}};
    for (size_t m = 0; m < sizeof mut / sizeof *mut; m++) {
        alim_oracle_point p = base.point, nv = base.novel;
        switch (m) {
        case 0: p.dgamma_p_dl = -p.dgamma_p_dl; break;
        case 1: p.dgamma_a_dl = 0; break;
        case 2: p.ratio = 1.2 * p.k; break;
        case 3: p.ratio = NAN; break;
        case 4: p.dgamma_a_dl_fd = p.dgamma_a_dl * 1.002; break;
        case 5: p.dgamma_p_dl_fd = NAN; break;
        case 6: p.hooke = 1.06; break;
        case 7: nv.dgamma_p_dl = -1e-6; break;
        default: nv.dgamma_a_dl = NAN; break;
        }
        alim_oracle_judge(&p, &nv, &v);
        CHECK(!v.checks[mut[m].check].pass, "%s: check %s must fail", mut[m].what, NAMES[mut[m].check]);
        CHECK(!v.pass, "%s: the row must fail", mut[m].what);
        for (int i = 0; i < ALIM_ORACLE_N_CHECKS; i++)
            if (i != mut[m].check && !(m <= 1 && i == ALIM_ORACLE_CHECK_FD)) /* a changed derivative also moves fd */
                CHECK(v.checks[i].pass, "%s: check %s is not touched", mut[m].what, NAMES[i]);
    }
    /* the edges of the bands: at the tolerance passes, just beyond fails */
    alim_oracle_point p = base.point;
    const double tol = 0.05 * (1 + 10 * p.l);
    p.ratio = p.k * (1 + tol * 0.999);
    alim_oracle_judge(&p, &base.novel, &v);
    CHECK(v.checks[ALIM_ORACLE_CHECK_RATIO].pass, "ratio just inside the band passes");
    p.ratio = p.k * (1 + tol * 1.001);
    alim_oracle_judge(&p, &base.novel, &v);
    CHECK(!v.checks[ALIM_ORACLE_CHECK_RATIO].pass, "ratio just outside the band fails");
    /* at l = 0 nothing changed: the Hooke check passes whatever the ratio says */
    p = mix_point(cfg.q, 100, 0);
    p.hooke = NAN;
    alim_oracle_judge(&p, &base.novel, &v);
    CHECK(v.checks[ALIM_ORACLE_CHECK_HOOKE].pass, "hooke at l = 0 passes");
    CHECK_ABS(v.checks[ALIM_ORACLE_CHECK_RATIO].tolerance, 0.05, 0, "l = 0: the 5% band");

    alim_oracle_grid_free(&g);
    CHECK(g.rows == NULL && g.n_rows == 0, "grid freed");

    /* ---- a configuration outside the theorem's regime: real rows fail ---- */
    /* shares (.9, .05, .05): l = 0.01 is not small against q_t = 0.05, so the ratio leaves k */
    alim_oracle_grid_config_default(&cfg);
    cfg.q[0] = 0.9, cfg.q[1] = 0.05, cfg.q[2] = 0.05;
    cfg.markov = 0;
    alim_error_clear(&err);
    CHECK(alim_oracle_grid_run(&cfg, &g, &err) == ALIM_OK, "natural shares: %s", err.what);
    CHECK(g.n_rows == 6 && !g.all_pass, "natural shares: not all pass");
    int failed_at_001 = 0, failed_at_0001 = 0;
    for (size_t r = 0; r < g.n_rows; r++) {
        check_row_against_spec(&g.rows[r], "natural shares");
        if (g.rows[r].checks[ALIM_ORACLE_CHECK_RATIO].pass) continue;
        if (g.rows[r].point.l == 0.01) failed_at_001++;
        else failed_at_0001++;
    }
    CHECK(failed_at_001 > 0, "the ratio check fails at l = 0.01");
    CHECK(failed_at_0001 == 0, "and holds at l = 0.001");
    alim_oracle_grid_free(&g);

    /* ---- bad input ---- */
    alim_oracle_grid_config_default(&cfg);
    cfg.q[0] = cfg.q[1] = 0, cfg.q[2] = 1;
    alim_error_clear(&err);
    CHECK(alim_oracle_grid_run(&cfg, &g, &err) == ALIM_EINVAL, "no novel control without C1, C2");
    CHECK(strstr(err.where, "shares") != NULL, "where names the shares: %s", err.where);
    CHECK(g.rows == NULL, "nothing to free after an error");
    const double k0[] = {0};
    alim_oracle_grid_config_default(&cfg);
    cfg.k = k0, cfg.n_k = 1;
    alim_error_clear(&err);
    CHECK(alim_oracle_grid_run(&cfg, &g, &err) == ALIM_EINVAL, "k = 0 refused");

    /* ---- spec §1.6 table: three rows match; the l = .02 row is 1020.44 (the spec prints 1021)
     * and the smoothing row differs by the definition of smoothing (docs/elastic.md) ---- */
    alim_oracle_table_row t[ALIM_ORACLE_TABLE_ROWS];
    int all = -1;
    alim_error_clear(&err);
    CHECK(alim_oracle_table_run(t, &all, &err) == ALIM_OK, "table: %s", err.what);
    const int match[ALIM_ORACLE_TABLE_ROWS] = {1, 1, 0, 1, 0};
    const double spec[ALIM_ORACLE_TABLE_ROWS] = {100.1, 1001, 1021, 1004.5, 1002};
    for (int i = 0; i < ALIM_ORACLE_TABLE_ROWS; i++) {
        CHECK(t[i].check.pass == match[i], "table row %d match %d", i, t[i].check.pass);
        CHECK(t[i].check.expected == spec[i], "table row %d spec %g", i, t[i].check.expected);
        CHECK(t[i].check.pass == (fabs(t[i].check.value - spec[i]) <= t[i].check.tolerance), "table row %d pass = |ours - spec| <= tol", i);
    }
    CHECK(!all, "not every table row matches");
    CHECK(!strcmp(t[3].check.name, "k = 1000, q = (.8, .1, .1)"), "table setting names");
    CHECK_ABS(t[2].check.value, 1020.4385, 1e-3, "k = 1000, l = .02: 1020.44");
    alim_oracle_point tp = mix_point(t[0].q, 100, 0.001);
    CHECK_ABS(t[0].check.value, tp.ratio_secant, 0, "table row 0 = direct evaluation");
    CHECK_ABS(t[0].ratio_derivative, tp.ratio, 0, "table derivative ratio");

    return check_summary(argv[0]);
}
