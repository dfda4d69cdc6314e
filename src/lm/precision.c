/* precision.c — the precision of a model's matrix products (alim_precision in alim/gpt.h):
 * the choice (auto, fp32, bf16), the model's bf16 copy of its weights and when it is made.
 *
 * The bf16 copy is made lazily, at the entry of the next pass after a change of the
 * parameters (params_version moved on), not once per product: a training step rounds its
 * weights once, however many micro-batches and products follow. Every writer of the
 * parameters inside alim bumps the version (alim_gpt_params_changed): initialisation, the
 * checkpoint and GGUF loaders and the trainer's optimizer step.
 */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_bf16.h"
#include "model.h"

const char *alim_precision_name(alim_precision p)
{
    switch (p) {
    case ALIM_PRECISION_FP32: return "fp32";
    case ALIM_PRECISION_BF16: return "bf16";
    case ALIM_PRECISION_AUTO: return "auto";
    }
    return "?";
}

alim_status alim_precision_parse(const char *s, alim_precision *p, const char *where, alim_error *err)
{
    static const alim_precision all[] = {ALIM_PRECISION_FP32, ALIM_PRECISION_BF16, ALIM_PRECISION_AUTO};
    for (size_t i = 0; s && i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, alim_precision_name(all[i]))) {
            *p = all[i];
            return ALIM_OK;
        }
    return alim_error_set(err, ALIM_EINVAL, where ? where : "precision", "unknown precision \"%s\" (auto, fp32 or bf16)", s ? s : "");
}

int alim_bf16_native(void) { return lm_bf16_native(); }

const char *alim_bf16_isa(void) { return lm_bf16_isa(); }

alim_precision alim_precision_resolve(alim_precision p)
{
    if (p != ALIM_PRECISION_AUTO) return p;
    return lm_bf16_native() ? ALIM_PRECISION_BF16 : ALIM_PRECISION_FP32;
}

void alim_gpt_params_changed(alim_gpt *m) { m->params_version++; }

/* One bf16 product of a small shape, to learn before a run whether oneDNN can do them here
 * (it has no bf16 matmul below AVX-512, and none at all in a build without it). */
static int bf16_probe(void)
{
    const float a[4] = {1.0f, 2.0f, 3.0f, 4.0f}, b[4] = {0.5f, -1.0f, 2.0f, 0.25f};
    float c[4] = {0};
    if (lm_gemm_bf16(CblasNoTrans, CblasNoTrans, 2, 2, 2, 1.0f, a, NULL, 2, b, NULL, 2, 0.0f, c, 2, NULL)) return 0;
    return c[0] == 4.5f && c[1] == -0.5f && c[2] == 9.5f && c[3] == -2.0f;
}

alim_status alim_precision_select(alim_precision want, alim_precision *out, alim_error *err)
{
    const alim_precision p = alim_precision_resolve(want);
    if (p != ALIM_PRECISION_FP32 && p != ALIM_PRECISION_BF16)
        return alim_error_set(err, ALIM_EINVAL, "precision", "unknown precision %d", (int)p);
    if (p == ALIM_PRECISION_BF16 && !bf16_probe())
        return alim_error_set(err, ALIM_EINVAL, "precision",
                              "bf16 products are not available here (%s; oneDNN's bf16 ISA: %s): use fp32",
#ifdef ALIM_HAVE_DNNL
                              "oneDNN has no bf16 matrix product for this CPU",
#else
                              "alim was built without oneDNN",
#endif
                              lm_bf16_isa());
    *out = p;
    return ALIM_OK;
}

alim_status alim_gpt_set_precision(alim_gpt *m, alim_precision want, alim_error *err)
{
    alim_precision p;
    const alim_status st = alim_precision_select(want, &p, err);
    if (st) return st;
    if (p == ALIM_PRECISION_FP32) {
        free(m->params_bf16);
        m->params_bf16 = NULL;
        m->precision = p;
        return ALIM_OK;
    }
    if (!m->params_bf16) {
        m->params_bf16 = malloc(m->num_params * sizeof(uint16_t));
        if (!m->params_bf16)
            return alim_error_set(err, ALIM_ENOMEM, "model", "out of memory for the bf16 copy of %zu parameters", m->num_params);
        m->bf16_version = m->params_version - 1; /* stale: made at the next pass */
    }
    m->precision = p;
    return ALIM_OK;
}

enum { SYNC_CHUNK = 1 << 16 };

void lm_model_sync_bf16(alim_gpt *m)
{
    m->bf16_failed = 0;
    if (m->precision != ALIM_PRECISION_BF16 || m->bf16_version == m->params_version) return;
    const size_t n = m->num_params;
    const float *src = m->params;
    lm_bf16 *dst = m->params_bf16;
#pragma omp parallel for schedule(static) if (n >= 4 * SYNC_CHUNK)
    for (size_t i = 0; i < n; i += SYNC_CHUNK) lm_f32_to_bf16(dst + i, src + i, n - i < SYNC_CHUNK ? n - i : SYNC_CHUNK);
    m->bf16_version = m->params_version;
}

alim_status lm_model_prec_status(const alim_gpt *m, alim_error *err)
{
    if (!m->bf16_failed) return ALIM_OK;
    return alim_error_set(err, ALIM_ENOMEM, "model", "a bf16 matrix product failed in oneDNN (out of memory?); its results were discarded");
}

lm_prec lm_model_prec(alim_gpt *m)
{
    const lm_prec pr = {m->params, m->precision == ALIM_PRECISION_BF16 ? m->params_bf16 : NULL, &m->bf16_failed};
    return pr;
}
