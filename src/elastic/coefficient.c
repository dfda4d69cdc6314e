/* coefficient.c — E4: the elasticity coefficient under SGD (see alim/coefficient.h). */
#define _POSIX_C_SOURCE 200809L
#include "alim/coefficient.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alim/corpus.h"
#include "alim/dist.h"
#include "alim/io.h"
#include "alim/lab.h"
#include "alim/oracle.h"
#include "alim/rng.h"

void alim_coefficient_config_default(alim_coefficient_config *c)
{
    memset(c, 0, sizeof *c);
    alim_rebound_config_default(&c->rebound);
    static const size_t P[] = {200, 2000}, N[] = {0, 20, 40, 100};
    c->rebound.n_pos_count = 2;
    c->rebound.n_neg_count = 4;
    memcpy(c->rebound.n_pos, P, sizeof P);
    memcpy(c->rebound.n_neg, N, sizeof N);
    c->n_boot = 10000;
    c->boot_seed = 1;
}

void alim_coefficient_config_quick(alim_coefficient_config *c)
{
    alim_coefficient_config_default(c);
    alim_rebound_config_quick(&c->rebound);
    static const size_t P[] = {10, 40}, N[] = {0, 8, 16, 24};
    c->rebound.n_pos_count = 2;
    c->rebound.n_neg_count = 4;
    memcpy(c->rebound.n_pos, P, sizeof P);
    memcpy(c->rebound.n_neg, N, sizeof N);
    c->n_boot = 2000;
}

/* ---- the fit ------------------------------------------------------------------------------ */

double alim_coefficient_slope0(const double *x, const double *y, size_t n)
{
    double sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) sxy += x[i] * y[i], sxx += x[i] * x[i];
    return sxx > 0 ? sxy / sxx : NAN;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* E_hat of the seed means of rows idx[0..n) */
static double e_of(const double *l, size_t n_l, const double *dgp, const double *dga, const size_t *idx, size_t n, double *mp,
                   double *ma)
{
    for (size_t j = 0; j < n_l; j++) {
        double sp = 0, sa = 0;
        for (size_t s = 0; s < n; s++) sp += dgp[idx[s] * n_l + j], sa += dga[idx[s] * n_l + j];
        mp[j] = sp / (double)n;
        ma[j] = sa / (double)n;
    }
    return -alim_coefficient_slope0(l, ma, n_l) / alim_coefficient_slope0(l, mp, n_l);
}

alim_status alim_coefficient_fit(const double *l, size_t n_l, const double *dgp, const double *dga, size_t n_seeds, double k,
                                 size_t n_boot, uint64_t seed, alim_coefficient_estimate *o, alim_error *err)
{
    memset(o, 0, sizeof *o);
    if (n_l < 1 || n_l > ALIM_COEFFICIENT_MAX_L) return alim_error_set(err, ALIM_EINVAL, "coefficient", "needs 1..%d perturbation sizes", ALIM_COEFFICIENT_MAX_L);
    if (n_seeds < 1 || n_seeds > 1000) return alim_error_set(err, ALIM_EINVAL, "coefficient", "needs 1..1000 seeds");
    if (!(k > 0 && isfinite(k))) return alim_error_set(err, ALIM_EINVAL, "coefficient", "k = %g must be > 0", k);
    for (size_t j = 0; j < n_l; j++)
        if (!(l[j] > 0 && isfinite(l[j]))) return alim_error_set(err, ALIM_EINVAL, "coefficient", "l = %g must be > 0", l[j]);
    for (size_t i = 0; i < n_seeds * n_l; i++)
        if (!isfinite(dgp[i]) || !isfinite(dga[i])) return alim_error_set(err, ALIM_EINVAL, "coefficient", "a change of gamma is not finite");
    o->k = k;
    o->n_l = n_l;
    o->n_seeds = n_seeds;
    memcpy(o->l, l, n_l * sizeof *l);
    double vp[1000], va[1000];
    for (size_t j = 0; j < n_l; j++) {
        for (size_t s = 0; s < n_seeds; s++) vp[s] = dgp[s * n_l + j], va[s] = dga[s * n_l + j];
        alim_lab_mean_se(vp, n_seeds, &o->dgamma_p[j], &o->dgamma_p_se[j]);
        alim_lab_mean_se(va, n_seeds, &o->dgamma_a[j], &o->dgamma_a_se[j]);
        o->hooke[j] = o->dgamma_a[j] / (k * fabs(o->dgamma_p[j]));
    }
    o->slope_p = alim_coefficient_slope0(l, o->dgamma_p, n_l);
    o->slope_a = alim_coefficient_slope0(l, o->dgamma_a, n_l);
    o->e_hat = -o->slope_a / o->slope_p;
    o->hooke_fit = o->e_hat / k;
    o->signs_ok = o->slope_p < 0 && o->slope_a > 0;
    o->e_lo = o->e_hi = NAN;
    if (n_seeds < 2 || n_boot < 1) return ALIM_OK;
    /* percentile bootstrap over whole seeds; a resample whose slope_p is 0 gives +-inf or
     * NaN, which sorts to the ends (NaN counted as +inf) and widens the interval honestly */
    double *e = malloc(n_boot * sizeof *e);
    size_t *idx = malloc(n_seeds * sizeof *idx);
    if (!e || !idx) {
        free(e), free(idx);
        return alim_error_set(err, ALIM_ENOMEM, "coefficient", "out of memory");
    }
    alim_rng r;
    alim_rng_seed(&r, seed, 0xE4);
    double mp[ALIM_COEFFICIENT_MAX_L], ma[ALIM_COEFFICIENT_MAX_L];
    for (size_t b = 0; b < n_boot; b++) {
        for (size_t s = 0; s < n_seeds; s++) idx[s] = (size_t)alim_rng_below(&r, n_seeds);
        double v = e_of(l, n_l, dgp, dga, idx, n_seeds, mp, ma);
        e[b] = isnan(v) ? INFINITY : v;
    }
    qsort(e, n_boot, sizeof *e, cmp_double);
    /* type-1 quantiles (inverse of the empirical CDF) at 2.5% and 97.5% */
    size_t lo = (size_t)ceil(0.025 * (double)n_boot), hi = (size_t)ceil(0.975 * (double)n_boot);
    o->e_lo = e[lo ? lo - 1 : 0];
    o->e_hi = e[hi ? hi - 1 : 0];
    free(e), free(idx);
    return ALIM_OK;
}

alim_status alim_coefficient_oracle(const double q[3], double k, const double *l, size_t n_l, double *e_hat, alim_error *err)
{
    *e_hat = NAN;
    if (n_l < 1 || n_l > ALIM_COEFFICIENT_MAX_L) return alim_error_set(err, ALIM_EINVAL, "oracle", "needs 1..%d l values", ALIM_COEFFICIENT_MAX_L);
    double *comp = alim_oracle_zipf_components(3, 30);
    if (!comp) return alim_error_set(err, ALIM_ENOMEM, "oracle", "out of memory");
    const alim_oracle_mix m = {3, 90, comp, q, 1, 2, 0.0};
    double dp[ALIM_COEFFICIENT_MAX_L], da[ALIM_COEFFICIENT_MAX_L];
    alim_status st = ALIM_OK;
    for (size_t j = 0; j < n_l && !st; j++) {
        alim_oracle_point pt;
        st = alim_oracle_mix_eval(&m, k, l[j], &pt, err);
        dp[j] = pt.delta_p_bits;
        da[j] = pt.delta_a_bits;
    }
    free(comp);
    if (!st) *e_hat = -alim_coefficient_slope0(l, da, n_l) / alim_coefficient_slope0(l, dp, n_l);
    return st;
}

/* ---- analysis of a rebound summary ---------------------------------------------------------- */

/* coefficient.json's row of an->est[i], from the typed row and its per-seed changes dgp, dga
 * ((S, N) row-major, bits/token) */
static cJSON *row_json(const alim_coefficient_analysis *an, size_t i, const double *dgp, const double *dga)
{
    const alim_coefficient_estimate *x = &an->est[i];
    const size_t N = x->n_l, S = x->n_seeds;
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "n_pos", (double)an->n_pos[i]);
    cJSON_AddNumberToObject(r, "a_tokens", an->a_tokens[i]);
    cJSON_AddNumberToObject(r, "k", x->k);
    cJSON_AddNumberToObject(r, "seeds", (double)S);
    cJSON *pts = cJSON_AddArrayToObject(r, "points");
    for (size_t j = 0; j < N; j++) {
        cJSON *p = cJSON_CreateObject();
        cJSON_AddNumberToObject(p, "n_neg", (double)an->n_neg[j]);
        cJSON_AddNumberToObject(p, "l", x->l[j]);
        alim_lab_add_num(p, "dgamma_p_bits_mean", x->dgamma_p[j]);
        alim_lab_add_num(p, "dgamma_p_bits_se", x->dgamma_p_se[j]);
        alim_lab_add_num(p, "dgamma_a_bits_mean", x->dgamma_a[j]);
        alim_lab_add_num(p, "dgamma_a_bits_se", x->dgamma_a_se[j]);
        alim_lab_add_num(p, "hooke", x->hooke[j]);
        cJSON *ps = cJSON_AddArrayToObject(p, "per_seed");
        for (size_t s = 0; s < S; s++) {
            cJSON *q2 = cJSON_CreateObject();
            cJSON_AddNumberToObject(q2, "dgamma_p_bits", dgp[s * N + j]);
            cJSON_AddNumberToObject(q2, "dgamma_a_bits", dga[s * N + j]);
            cJSON_AddItemToArray(ps, q2);
        }
        cJSON_AddItemToArray(pts, p);
    }
    alim_lab_add_num(r, "slope_p_bits_per_l", x->slope_p);
    alim_lab_add_num(r, "slope_a_bits_per_l", x->slope_a);
    alim_lab_add_num(r, "e_hat", x->e_hat);
    alim_lab_add_num(r, "e_hat_lo95", x->e_lo);
    alim_lab_add_num(r, "e_hat_hi95", x->e_hi);
    alim_lab_add_num(r, "e_hat_over_k", x->hooke_fit);
    alim_lab_add_num(r, "oracle_e_hat", an->oracle_e_hat[i]);
    cJSON_AddBoolToObject(r, "signs_ok", x->signs_ok);
    return r;
}

/* criteria (docs/elastic.md "E4"), fixed before the first run:
 *   (a) signs: slope_p < 0 < slope_a for every n_pos
 *   (b) elastic: the 95% interval of E_hat lies above 1 for every n_pos (the spec's
 *       "E_hat >> 1"; with one seed, E_hat > 1)
 *   (c) E_hat grows with k: E_hat at the smaller n_pos (larger k) is the larger */
static void judge(alim_coefficient_analysis *an, size_t S, size_t n_boot)
{
    const size_t P = an->n_pos_count;
    const alim_coefficient_estimate *est = an->est;
    size_t sign_ok = 0, above = 0, grows = 0;
    for (size_t i = 0; i < P; i++) {
        sign_ok += est[i].signs_ok;
        above += S > 1 && n_boot ? est[i].e_lo > 1 : est[i].e_hat > 1;
        if (i) grows += est[i - 1].e_hat > est[i].e_hat; /* n_pos increasing: k decreasing */
    }
    alim_coefficient_criterion *c = an->criteria;
    c[0] = (alim_coefficient_criterion){"a_signs", sign_ok == P ? "PASS" : "FAIL", ""};
    snprintf(c[0].why, sizeof c[0].why, "slope_p < 0 < slope_a for %zu of %zu n_pos", sign_ok, P);
    c[1] = (alim_coefficient_criterion){"b_e_above_1", above == P ? "PASS" : "FAIL", ""};
    snprintf(c[1].why, sizeof c[1].why, "95%% interval of E_hat above 1 for %zu of %zu n_pos", above, P);
    c[2] = (alim_coefficient_criterion){"c_e_grows_with_k", P < 2 ? "NULL" : grows == P - 1 ? "PASS" : "FAIL", ""};
    if (P < 2) snprintf(c[2].why, sizeof c[2].why, "needs >= 2 n_pos");
    else snprintf(c[2].why, sizeof c[2].why, "E_hat larger at the larger k in %zu of %zu steps", grows, P - 1);
    an->n_criteria = ALIM_COEFFICIENT_N_CRITERIA;
    int all = 1;
    for (size_t k = 0; k < an->n_criteria; k++) all &= !strcmp(c[k].result, "PASS");
    an->verdict = all ? "PASS" : sign_ok == 0 && P > 0 ? "FAIL" : "NULL";
}

alim_status alim_coefficient_analyse(const alim_rebound_evaluations *ev, const size_t *n_pos_want, size_t P, const size_t *n_neg_want,
                                     size_t N, double pretrain_tokens, const double *a_tokens, const double q[3], size_t n_boot,
                                     uint64_t seed, alim_coefficient_analysis *an, cJSON **out, alim_error *err)
{
    memset(an, 0, sizeof *an);
    if (out) *out = NULL;
    const size_t S = ev->n_seeds;
    if (S < 1) return alim_error_set(err, ALIM_EFORMAT, "summary.json", "no per_seed results");
    if (S > 1000) return alim_error_set(err, ALIM_EFORMAT, "summary.json", "more than 1000 seeds");
    if (N < 1 || N > ALIM_COEFFICIENT_MAX_L) return alim_error_set(err, ALIM_EINVAL, "n_neg", "needs 1..%d perturbation sizes > 0", ALIM_COEFFICIENT_MAX_L);
    if (P > ALIM_COEFFICIENT_MAX_N_POS) return alim_error_set(err, ALIM_EINVAL, "n_pos", "needs at most %d values", ALIM_COEFFICIENT_MAX_N_POS);
    double *dgp = malloc(S * N * sizeof *dgp), *dga = malloc(S * N * sizeof *dga);
    if (!dgp || !dga) {
        free(dgp), free(dga);
        return alim_error_set(err, ALIM_ENOMEM, "coefficient", "out of memory");
    }
    an->n_pos_count = P;
    memcpy(an->n_neg, n_neg_want, N * sizeof *n_neg_want);
    cJSON *o = out ? cJSON_CreateObject() : NULL, *rows = out ? cJSON_AddArrayToObject(o, "per_n_pos") : NULL;
    alim_status st = ALIM_OK;
    for (size_t i = 0; i < P && !st; i++) {
        const double np = (double)n_pos_want[i];
        double l[ALIM_COEFFICIENT_MAX_L];
        for (size_t j = 0; j < N; j++) l[j] = (double)n_neg_want[j] / np;
        for (size_t s = 0; s < S && !st; s++) {
            const alim_rebound_eval *e0 = alim_rebound_evaluations_find(ev, s, 0, np, 0);
            if (!e0) st = alim_error_set(err, ALIM_EINVAL, "summary.json", "seed %zu has no evaluation at n_pos = %zu, n_neg = 0", s + 1, n_pos_want[i]);
            for (size_t j = 0; j < N && !st; j++) {
                const alim_rebound_eval *e = alim_rebound_evaluations_find(ev, s, 0, np, (double)n_neg_want[j]);
                if (!e) {
                    st = alim_error_set(err, ALIM_EINVAL, "summary.json", "seed %zu has no evaluation at n_pos = %zu, n_neg = %zu (the run's grid lacks it)",
                                        s + 1, n_pos_want[i], n_neg_want[j]);
                    break;
                }
                dgp[s * N + j] = e->gamma_mix_bits - e0->gamma_mix_bits;
                dga[s * N + j] = e->gamma_c2_bits - e0->gamma_c2_bits;
            }
        }
        if (st) break;
        const double k = pretrain_tokens / a_tokens[i];
        st = alim_coefficient_fit(l, N, dgp, dga, S, k, n_boot, seed + i, &an->est[i], err);
        if (st) break;
        double oe = NAN;
        if (q) {
            alim_error e2;
            alim_error_clear(&e2);
            if (alim_coefficient_oracle(q, k, l, N, &oe, &e2)) oe = NAN; /* e.g. C3 absent: gamma_p infinite */
        }
        an->n_pos[i] = n_pos_want[i];
        an->a_tokens[i] = a_tokens[i];
        an->oracle_e_hat[i] = oe;
        if (rows) cJSON_AddItemToArray(rows, row_json(an, i, dgp, dga));
    }
    free(dgp), free(dga);
    if (st) {
        cJSON_Delete(o);
        memset(an, 0, sizeof *an);
        return st;
    }
    judge(an, S, n_boot);
    if (!out) return ALIM_OK;
    cJSON *cj = cJSON_AddObjectToObject(o, "criteria");
    for (size_t c = 0; c < an->n_criteria; c++) {
        cJSON *x = cJSON_AddObjectToObject(cj, an->criteria[c].name);
        cJSON_AddStringToObject(x, "result", an->criteria[c].result);
        cJSON_AddStringToObject(x, "why", an->criteria[c].why);
    }
    cJSON_AddStringToObject(o, "verdict", an->verdict);
    *out = o;
    return ALIM_OK;
}

/* ---- the experiment ------------------------------------------------------------------------- */

/* |D_a| in tokens of the first n_pos[i] documents of DATA/pool_c2.txt (byte tokens plus one
 * end-of-text token per document, as the SFT stream holds them) */
static alim_status alignment_tokens(const char *data_dir, const size_t *n_pos, size_t P, double *a, alim_error *err)
{
    char path[4200];
    alim_corpus c = {0};
    alim_status st = alim_corpus_read(&c, alim_lab_path(data_dir, "pool_c2.txt", path, sizeof path), err);
    for (size_t i = 0; i < P && !st; i++) {
        if (n_pos[i] > c.n_docs) {
            st = alim_error_set(err, ALIM_EINVAL, path, "has %zu documents, n_pos needs %zu", c.n_docs, n_pos[i]);
            break;
        }
        double t = 0;
        for (size_t d = 0; d < n_pos[i]; d++) {
            size_t len;
            alim_corpus_doc(&c, d, &len);
            t += (double)len + 1;
        }
        a[i] = t;
    }
    alim_corpus_free(&c);
    return st;
}

alim_status alim_coefficient_alignment_tokens(const alim_rebound_evaluations *ev, const char *data_dir, const size_t *n_pos, size_t n,
                                              double *a, alim_error *err)
{
    /* as the rebound run counted them with its tokenizer (the last entry for an n_pos, as
     * ever); older summaries: from the data */
    size_t have = 0;
    for (size_t i = 0; i < n; i++) {
        a[i] = NAN;
        for (size_t k = 0; k < ev->n_alignment; k++)
            if (ev->alignment_n_pos[k] == (double)n_pos[i]) a[i] = ev->alignment_tokens[k];
        have += a[i] > 0;
    }
    return have == n ? ALIM_OK : alignment_tokens(data_dir, n_pos, n, a, err);
}

static alim_status coefficient_analyse_run(const alim_coefficient_config *cfg, cJSON *sum, const alim_rebound_evaluations *evs,
                                           const char *data_dir, alim_coefficient_result *res, alim_dir_lock **lock, alim_error *err);

/* The run; *lock is the run directory's lock when held (taken here, with from_run, only when
 * the directory is made). */
static alim_status coefficient_run(const alim_coefficient_config *cfg, const alim_progress *progress, alim_rebound_note_fn note,
                                   void *note_ctx, alim_coefficient_result *res, alim_dir_lock **lock, alim_error *err)
{
    const alim_rebound_config *rc = &cfg->rebound;
    cJSON *sum = NULL;
    alim_rebound_evaluations evs = {0}; /* what the analysis reads: the run's own, or the file's through the reader */
    alim_status st = ALIM_OK;
    char path[4200];
    const char *data_dir = rc->data_dir;
    if (cfg->from_run && alim_dist_multi() && alim_dist_rank() != 0) return ALIM_OK; /* an analysis only: rank 0's */
    if (cfg->from_run) {
        st = alim_json_read_file(alim_lab_path(cfg->from_run, "summary.json", path, sizeof path), &sum, err);
        if (st == ALIM_EIO) return alim_error_set(err, ALIM_EINVAL, "from_run", "%s has no summary.json (not a finished 'alim elastic rebound' run)", cfg->from_run);
        if (st) return st;
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(sum, "experiment");
        if (!cJSON_IsString(e) || strncmp(e->valuestring, "E2 rebound", 10) != 0) {
            cJSON_Delete(sum);
            return alim_error_set(err, ALIM_EFORMAT, path, "not the summary of an 'alim elastic rebound' run");
        }
        const cJSON *dd = cJSON_GetObjectItemCaseSensitive(sum, "data_dir");
        if (!data_dir && cJSON_IsString(dd)) data_dir = dd->valuestring;
        if ((st = alim_rebound_evaluations_from_summary(sum, &evs, err))) {
            cJSON_Delete(sum);
            return st;
        }
    } else {
        alim_rebound_result rr;
        st = alim_rebound_run(rc, progress, note, note_ctx, &rr, err);
        if (st) return st;
        /* the summary stays for coefficient.json's description of the run; the analysis takes
         * the typed evaluations */
        sum = rr.summary;
        rr.summary = NULL;
        evs = rr.evaluations;
        memset(&rr.evaluations, 0, sizeof rr.evaluations);
        res->cells_run = rr.cells_run;
        res->cells_reused = rr.cells_reused;
        alim_rebound_result_free(&rr);
        if (!sum) { /* under MPI, a rank other than 0: the analysis is rank 0's */
            alim_rebound_evaluations_free(&evs);
            return ALIM_OK;
        }
    }
    st = coefficient_analyse_run(cfg, sum, &evs, data_dir, res, lock, err);
    alim_rebound_evaluations_free(&evs);
    return st;
}

/* The analysis of the rebound run (summary sum, owned and freed here; evaluations evs) and its
 * files. */
static alim_status coefficient_analyse_run(const alim_coefficient_config *cfg, cJSON *sum, const alim_rebound_evaluations *evs,
                                           const char *data_dir, alim_coefficient_result *res, alim_dir_lock **lock, alim_error *err)
{
    const alim_rebound_config *rc = &cfg->rebound;
    cJSON *out = NULL;
    alim_status st = ALIM_OK;
    char path[4200];
    if (!data_dir) {
        cJSON_Delete(sum);
        return alim_error_set(err, ALIM_EINVAL, "data_dir", "no data directory given");
    }
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(sum, "config");
    double pre = evs->pretrain_tokens, q[3] = {evs->shares[0], evs->shares[1], evs->shares[2]};
    /* a pretrained theta0 (the real-model path) has no pretraining cell: |D_p| is given */
    const int real = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(config, "theta0"));
    if (cfg->from_run && cfg->pretrain_tokens > 0) {
        if (!real && pre > 0 && pre != cfg->pretrain_tokens) {
            cJSON_Delete(sum);
            return alim_error_set(err, ALIM_EINVAL, "pretrain_tokens", "%s pretrained its theta0 on %.0f tokens; a stated figure is for a pretrained theta0 only",
                                  cfg->from_run, pre);
        }
        pre = cfg->pretrain_tokens;
    } else if (cfg->from_run && real) {
        cJSON_Delete(sum);
        return alim_error_set(err, ALIM_EINVAL, "pretrain_tokens", "%s starts from a pretrained theta0 whose pretraining tokens it cannot know: give them (SmolLM2-135M: 2e12)",
                              cfg->from_run);
    }
    /* with control, the control's evaluations stand in for the grid's, seed by seed: a view
     * of evs whose grid lists are the control's (it owns only its seed array) */
    alim_rebound_evaluations view = *evs;
    if (cfg->control) {
        for (size_t s = 0; s < evs->n_seeds; s++)
            if (!evs->seed[s].has_control) {
                cJSON_Delete(sum);
                return alim_error_set(err, ALIM_EINVAL, "control", "%s has no control cells (a pretrained theta0's run with its control pass)",
                                      cfg->from_run ? cfg->from_run : rc->run_dir);
            }
        if (evs->n_seeds && !(view.seed = malloc(evs->n_seeds * sizeof *view.seed))) {
            cJSON_Delete(sum);
            return alim_error_set(err, ALIM_ENOMEM, "coefficient", "out of memory");
        }
        for (size_t s = 0; s < evs->n_seeds; s++) {
            view.seed[s] = evs->seed[s];
            view.seed[s].grid = evs->seed[s].control, view.seed[s].n_grid = evs->seed[s].n_control;
        }
    }
    size_t nneg[ALIM_COEFFICIENT_MAX_L], N = 0;
    for (size_t j = 0; j < rc->n_neg_count; j++)
        if (rc->n_neg[j] > 0) nneg[N++] = rc->n_neg[j];
    double a_tok[ALIM_REBOUND_MAX_GRID];
    alim_coefficient_analysis *an = &res->analysis;
    if (!(pre > 0)) st = alim_error_set(err, ALIM_EFORMAT, "summary.json", "config.pretrain.tokens missing");
    if (!st) st = alim_coefficient_alignment_tokens(&view, data_dir, rc->n_pos, rc->n_pos_count, a_tok, err);
    if (!st)
        st = alim_coefficient_analyse(&view, rc->n_pos, rc->n_pos_count, nneg, N, pre, a_tok, isfinite(q[0]) ? q : NULL, cfg->n_boot,
                                      cfg->boot_seed, an, &out, err);
    if (view.seed != evs->seed) free(view.seed);
    if (st) {
        cJSON_Delete(sum);
        return st;
    }
    /* data_dir and the source may point into the rebound summary, freed below: the result
     * keeps copies */
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(sum, "source");
    if (!(res->data_dir = strdup(data_dir)) || (cJSON_IsString(src) && !(res->source = strdup(src->valuestring)))) {
        cJSON_Delete(sum);
        cJSON_Delete(out);
        return alim_error_set(err, ALIM_ENOMEM, "coefficient", "out of memory");
    }
    res->gamma_p = real ? "bits/token on D_0 (theta0's own replies to the held-out prompts)" : "bits/token on test_mix (the pretraining mixture)";
    cJSON_AddStringToObject(out, "experiment", "E4 elasticity coefficient (elastic coefficient)");
    cJSON_AddStringToObject(out, "rebound_run", cfg->from_run ? cfg->from_run : rc->run_dir);
    cJSON_AddStringToObject(out, "data_dir", res->data_dir);
    if (res->source) cJSON_AddStringToObject(out, "source", res->source);
    cJSON_AddItemToObject(out, "shares", cJSON_CreateDoubleArray(q, 3));
    cJSON_AddNumberToObject(out, "pretrain_tokens", pre);
    cJSON_AddNumberToObject(out, "bootstrap_resamples", (double)cfg->n_boot);
    cJSON_AddStringToObject(out, "gamma_p", res->gamma_p);
    cJSON_AddStringToObject(out, "gamma_a", "bits/token on test_c2 (the alignment component)");
    cJSON_AddBoolToObject(out, "control", cfg->control != 0);
    if (real) cJSON_AddStringToObject(out, "a_tokens", "the scored (response) tokens of seed 1's first n_pos records");
    const cJSON *ch = cJSON_GetObjectItemCaseSensitive(sum, "config_hash");
    if (cJSON_IsString(ch)) cJSON_AddStringToObject(out, "rebound_config_hash", ch->valuestring);
    alim_lab_add_num(out, "num_params", alim_lab_json_num(sum, "num_params"));
    alim_lab_add_num(out, "rebound_wall_s", alim_lab_json_num(sum, "wall_s"));
    cJSON_Delete(sum);

    /* with from_run the results directory is made only now, so a refused analysis leaves nothing */
    if (cfg->from_run && mkdir(rc->run_dir, 0777) != 0 && errno != EEXIST) {
        cJSON_Delete(out);
        return alim_error_set(err, ALIM_EIO, rc->run_dir, "cannot create: %s", strerror(errno));
    }
    if (!*lock && (st = alim_dir_lock_acquire(rc->run_dir, lock, err))) {
        cJSON_Delete(out);
        return st;
    }
    alim_atomic_file f = {0};
    st = alim_atomic_open(&f, alim_lab_path(rc->run_dir, "coefficient.csv", path, sizeof path), err);
    if (!st) {
        fprintf(f.fp, "n_pos,k,n_neg,l,seeds,dgamma_p_bits_mean,dgamma_p_bits_se,dgamma_a_bits_mean,dgamma_a_bits_se,hooke,"
                      "slope_p,slope_a,e_hat,e_hat_lo95,e_hat_hi95,e_hat_over_k,oracle_e_hat\n");
        for (size_t i = 0; i < an->n_pos_count; i++) {
            const alim_coefficient_estimate *x = &an->est[i];
            for (size_t j = 0; j < x->n_l; j++)
                fprintf(f.fp, "%.0f,%.9g,%zu,%.9g,%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", (double)an->n_pos[i],
                        x->k, an->n_neg[j], x->l[j], x->n_seeds, x->dgamma_p[j], x->dgamma_p_se[j], x->dgamma_a[j], x->dgamma_a_se[j],
                        x->hooke[j], x->slope_p, x->slope_a, x->e_hat, x->e_lo, x->e_hi, x->hooke_fit, an->oracle_e_hat[i]);
        }
        st = alim_atomic_commit(&f, err);
    }
    if (!st) st = alim_lab_write_json(alim_lab_path(rc->run_dir, "coefficient.json", path, sizeof path), out, err);
    if (st) {
        cJSON_Delete(out);
        return st;
    }
    res->summary = out;
    res->verdict = an->verdict;
    res->pretrain_tokens = pre;
    return ALIM_OK;
}

alim_status alim_coefficient_run(const alim_coefficient_config *cfg, const alim_progress *progress, alim_rebound_note_fn note,
                                 void *note_ctx, alim_coefficient_result *res, alim_error *err)
{
    memset(res, 0, sizeof *res);
    const alim_rebound_config *rc = &cfg->rebound;
    if (!rc->run_dir) return alim_error_set(err, ALIM_EINVAL, "run_dir", "no run directory given");
    /* One writer from the rebound cells to coefficient.csv: the rebound run takes the same
     * lock again (counted) and must not release it before the results here are written. */
    alim_dir_lock *lock = NULL;
    /* under MPI rank 0 holds the lock for the job (alim_rundir_open) */
    if (!cfg->from_run && (!alim_dist_multi() || alim_dist_rank() == 0)) {
        if (mkdir(rc->run_dir, 0777) != 0 && errno != EEXIST)
            return alim_error_set(err, ALIM_EIO, rc->run_dir, "cannot create the run directory: %s", strerror(errno));
        alim_status st = alim_dir_lock_acquire(rc->run_dir, &lock, err);
        if (st) return st;
    }
    alim_status st = coefficient_run(cfg, progress, note, note_ctx, res, &lock, err);
    alim_dir_lock_release(lock);
    if (st) alim_coefficient_result_free(res); /* nothing for the caller to free; the cell counts stay */
    return st;
}

void alim_coefficient_result_free(alim_coefficient_result *res)
{
    if (!res) return;
    cJSON_Delete(res->summary);
    res->summary = NULL;
    res->verdict = NULL;
    res->pretrain_tokens = 0;
    memset(&res->analysis, 0, sizeof res->analysis);
    free(res->source);
    free(res->data_dir);
    res->source = res->data_dir = NULL;
    res->gamma_p = NULL;
}
