/* rebound_evals.c — the per-seed evaluations E3 and E4 analyse (alim_rebound_evaluations,
 * alim/rebound.h): the lookup, and the one reader of a finished run's summary.json (the file
 * is the edge; in one process the run hands them over typed, rebound_summary.c). */
#define _POSIX_C_SOURCE 200809L
#include "rebound_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alim/io.h"

const alim_rebound_eval *alim_rebound_evaluations_find(const alim_rebound_evaluations *ev, size_t s, int control, double n_pos,
                                                      double n_neg)
{
    if (!ev || s >= ev->n_seeds) return NULL;
    const alim_rebound_seed_evals *sd = &ev->seed[s];
    const alim_rebound_eval *e = control ? sd->control : sd->grid;
    const size_t n = control ? sd->n_control : sd->n_grid;
    for (size_t k = 0; k < n; k++)
        if (e[k].n_pos == n_pos && e[k].n_neg == n_neg) return &e[k];
    return NULL;
}

void alim_rebound_evaluations_free(alim_rebound_evaluations *ev)
{
    if (!ev) return;
    for (size_t s = 0; ev->seed && s < ev->n_seeds; s++) free(ev->seed[s].grid), free(ev->seed[s].control);
    free(ev->seed);
    free(ev->alignment_n_pos);
    free(ev->alignment_tokens);
    memset(ev, 0, sizeof *ev);
}

void rb_eval_from_json(const cJSON *e, alim_rebound_eval *out)
{
    out->n_pos = alim_lab_json_num(e, "n_pos");
    out->n_neg = alim_lab_json_num(e, "n_neg");
    out->score = alim_lab_json_num(e, "score");
    out->gamma_mix_bits = alim_lab_json_num(e, "gamma_mix_bits");
    out->gamma_c2_bits = alim_lab_json_num(e, "gamma_c2_bits");
}

/* the entries of arr that take(e) accepts, typed, into *out (NULL when none) */
static int evals_of(const cJSON *arr, int (*take)(const cJSON *), alim_rebound_eval **out, size_t *n)
{
    const cJSON *e;
    size_t m = 0;
    *out = NULL, *n = 0;
    cJSON_ArrayForEach(e, arr) m += take(e);
    if (!m) return 0;
    if (!(*out = calloc(m, sizeof **out))) return -1;
    cJSON_ArrayForEach(e, arr) if (take(e)) rb_eval_from_json(e, &(*out)[(*n)++]);
    return 0;
}

/* a grid point of "evaluations": "model" is "grid" (theta0's entry is not one) */
static int is_grid(const cJSON *e)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "model");
    return cJSON_IsString(m) && !strcmp(m->valuestring, "grid");
}

/* an entry of "control_evaluations": any with a "model" (E4 has always taken each such entry as
 * a grid point, whatever its model says) */
static int is_control(const cJSON *e)
{
    return cJSON_GetObjectItemCaseSensitive(e, "model") != NULL;
}

alim_status alim_rebound_evaluations_from_summary(const cJSON *sum, alim_rebound_evaluations *ev, alim_error *err)
{
    memset(ev, 0, sizeof *ev);
    const cJSON *config = cJSON_GetObjectItemCaseSensitive(sum, "config");
    ev->pretrain_tokens = alim_lab_json_num(cJSON_GetObjectItemCaseSensitive(config, "pretrain"), "tokens");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(sum, "shares");
    for (int i = 0; i < 3; i++) ev->shares[i] = cJSON_IsNumber(cJSON_GetArrayItem(sh, i)) ? cJSON_GetArrayItem(sh, i)->valuedouble : NAN;
    const cJSON *seeds = cJSON_GetObjectItemCaseSensitive(sum, "per_seed"), *at = cJSON_GetObjectItemCaseSensitive(sum, "alignment_tokens");
    const size_t S = cJSON_IsArray(seeds) ? (size_t)cJSON_GetArraySize(seeds) : 0;
    const size_t A = (size_t)cJSON_GetArraySize(at);
    if ((S && !(ev->seed = calloc(S, sizeof *ev->seed))) ||
        (A && (!(ev->alignment_n_pos = malloc(A * sizeof *ev->alignment_n_pos)) || !(ev->alignment_tokens = malloc(A * sizeof *ev->alignment_tokens)))))
        goto oom;
    ev->n_seeds = S;
    const cJSON *e;
    cJSON_ArrayForEach(e, at) {
        ev->alignment_n_pos[ev->n_alignment] = alim_lab_json_num(e, "n_pos");
        ev->alignment_tokens[ev->n_alignment++] = alim_lab_json_num(e, "tokens");
    }
    size_t s = 0;
    const cJSON *sd;
    cJSON_ArrayForEach(sd, seeds) {
        alim_rebound_seed_evals *x = &ev->seed[s++];
        const cJSON *grid = cJSON_GetObjectItemCaseSensitive(sd, "evaluations"), *ctl = cJSON_GetObjectItemCaseSensitive(sd, "control_evaluations");
        if (evals_of(grid, is_grid, &x->grid, &x->n_grid)) goto oom;
        x->has_control = ctl != NULL;
        /* a seed without "evaluations" has never had its control entries taken as its grid */
        if (grid && evals_of(ctl, is_control, &x->control, &x->n_control)) goto oom;
    }
    return ALIM_OK;
oom:
    alim_rebound_evaluations_free(ev);
    return alim_error_set(err, ALIM_ENOMEM, "summary.json", "out of memory");
}
