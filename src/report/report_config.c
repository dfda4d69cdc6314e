/* report_config.c — the JSON readers the report's configuration sections share: number
 * arrays, optional integers and sub-objects, and increasing grids of sizes, each an error
 * naming the key when the value is missing its type or range (see report_impl.h). */
#define _POSIX_C_SOURCE 200809L
#include "report_impl.h"

#include <math.h>

alim_status report_read_numbers(const cJSON *a, const char *where, const char *key, double *out, size_t max, size_t *n,
                                double lo, double hi, int integer, alim_error *err)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0 || (size_t)cJSON_GetArraySize(a) > max)
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be an array of 1 to %zu numbers", key, max);
    size_t k = 0;
    for (const cJSON *v = a->child; v; v = v->next) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
            (integer && v->valuedouble != floor(v->valuedouble)))
            return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" entries must be %s in [%g, %g]", key,
                                  integer ? "integers" : "numbers", lo, hi);
        out[k++] = v->valuedouble;
    }
    *n = k;
    return ALIM_OK;
}

alim_status report_read_integer(const cJSON *obj, const char *key, const char *where, double lo, double hi, double *x,
                                int *given, alim_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (given) *given = v != NULL;
    if (!v) return ALIM_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) || v->valuedouble != floor(v->valuedouble))
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be an integer in [%.15g, %.15g]", key, lo, hi);
    *x = v->valuedouble;
    return ALIM_OK;
}

alim_status report_read_object(const cJSON *obj, const char *key, const char *where, const cJSON **out, alim_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!v) return ALIM_OK;
    if (!cJSON_IsObject(v)) return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be an object", key);
    *out = v;
    return ALIM_OK;
}

alim_status report_read_grid(const cJSON *obj, const char *key, const char *where, size_t *out, size_t *n,
                             int first_zero, alim_error *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!a) return ALIM_OK;
    double v[ALIM_REBOUND_MAX_GRID];
    size_t k;
    alim_status st = report_read_numbers(a, where, key, v, ALIM_REBOUND_MAX_GRID, &k, first_zero ? 0 : 1, 1e7, 1, err);
    if (st) return st;
    if (first_zero && (k < 2 || v[0] != 0))
        return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" needs at least 2 values, the first 0 (theta_pos itself)", key);
    for (size_t i = 1; i < k; i++)
        if (!(v[i] > v[i - 1])) return alim_error_set(err, ALIM_EINVAL, where, "\"%s\" must be increasing", key);
    for (size_t i = 0; i < k; i++) out[i] = (size_t)v[i];
    *n = k;
    return ALIM_OK;
}

/* report_read_integer into a field of the type the configs hold (unchanged when absent) */
alim_status report_read_size(const cJSON *obj, const char *key, const char *where, double lo, double hi, size_t *v,
                             int *given, alim_error *err)
{
    double x = (double)*v;
    alim_status st = report_read_integer(obj, key, where, lo, hi, &x, given, err);
    if (!st) *v = (size_t)x;
    return st;
}

alim_status report_read_u64(const cJSON *obj, const char *key, const char *where, double lo, double hi, uint64_t *v,
                            alim_error *err)
{
    double x = (double)*v;
    alim_status st = report_read_integer(obj, key, where, lo, hi, &x, NULL, err);
    if (!st) *v = (uint64_t)x;
    return st;
}

alim_status report_read_int(const cJSON *obj, const char *key, const char *where, double lo, double hi, int *v,
                            alim_error *err)
{
    double x = (double)*v;
    alim_status st = report_read_integer(obj, key, where, lo, hi, &x, NULL, err);
    if (!st) *v = (int)x;
    return st;
}
