/* optim.c — AdamW, clipping, schedules (see alim/optim.h). */
/* The update loop must vectorise: at -O2 with math-errno, sqrtf kept it scalar (two
 * divisions and a square root per parameter, ~2% of a step of the 2x64 model and a good
 * part of AdamW's ~23% on GPT-2 124M). The Makefile compiles this file with
 * -fno-math-errno (sqrtf's argument is never negative); no FMA contraction, so the update
 * gives the same bits on every ISA, as the scalar loop did. Not -ffast-math: sqrt and
 * division stay correctly rounded. */
#include "alim/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

alim_status alim_adamw_create(alim_adamw *opt, size_t n, alim_error *err)
{
    memset(opt, 0, sizeof *opt);
    opt->m = calloc(n ? n : 1, sizeof(float));
    opt->v = calloc(n ? n : 1, sizeof(float));
    if (!opt->m || !opt->v) {
        alim_adamw_free(opt);
        return alim_error_set(err, ALIM_ENOMEM, "optimizer", "out of memory for %zu moments", n);
    }
    opt->n = n;
    return ALIM_OK;
}

void alim_adamw_free(alim_adamw *opt)
{
    if (!opt) return;
    free(opt->m);
    free(opt->v);
    memset(opt, 0, sizeof *opt);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define OPTIM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define OPTIM_CLONES
#endif

enum { ADAMW_CHUNK = 4096 };

/* AdamW on n parameters, with grad_scale * g as the gradient (the clipped gradient, as if
 * scaled in place: the same single rounding) */
OPTIM_CLONES static void adamw_update(float *restrict p, float *restrict m, float *restrict v,
                                      const float *restrict g, size_t n, float grad_scale,
                                      float decay, float b1, float b2, float eps, float bc2_sqrt,
                                      float step_size)
{
    for (size_t i = 0; i < n; i++) {
        const float gi = g[i] * grad_scale;
        float pi = p[i] * decay;
        float mi = m[i] * b1 + (1.0f - b1) * gi;
        float vi = v[i] * b2 + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / bc2_sqrt + eps;
        p[i] = pi - step_size * (mi / denom);
    }
}

void alim_adamw_step_scaled(alim_adamw *opt, const alim_adamw_config *cfg, float lr, float *params,
                            const float *grads, float grad_scale, const alim_param_segment *segs,
                            size_t n_segs)
{
    opt->step++;
    const double t = (double)opt->step;
    const float b1 = cfg->beta1, b2 = cfg->beta2, eps = cfg->eps;
    const float step_size = (float)((double)lr / (1.0 - pow(cfg->beta1, t)));
    const float bc2_sqrt = (float)sqrt(1.0 - pow(cfg->beta2, t));
    /* one parallel region for all segments (they are disjoint, so no barrier between
     * them): a fork/join per segment cost more than the update itself on small models */
#pragma omp parallel
    for (size_t s = 0; s < n_segs; s++) {
        const float decay = segs[s].decay ? (float)(1.0 - (double)lr * cfg->weight_decay) : 1.0f;
        float *p = params + segs[s].offset, *m = opt->m + segs[s].offset, *v = opt->v + segs[s].offset;
        const float *g = grads + segs[s].offset;
        const size_t n = segs[s].count;
#pragma omp for schedule(static) nowait
        for (size_t i = 0; i < n; i += ADAMW_CHUNK) {
            const size_t len = n - i < ADAMW_CHUNK ? n - i : ADAMW_CHUNK;
            adamw_update(p + i, m + i, v + i, g + i, len, grad_scale, decay, b1, b2, eps, bc2_sqrt, step_size);
        }
    }
}

void alim_adamw_step(alim_adamw *opt, const alim_adamw_config *cfg, float lr, float *params,
                     const float *grads, const alim_param_segment *segs, size_t n_segs)
{
    alim_adamw_step_scaled(opt, cfg, lr, params, grads, 1.0f, segs, n_segs);
}

double alim_grad_norm(const float *grads, size_t n)
{
    /* blocks of fixed size summed in parallel, then the block sums in order */
    enum { BLK = 1 << 14 };
    size_t nb = (n + BLK - 1) / BLK;
    double *part = malloc((nb ? nb : 1) * sizeof(double));
    double total = 0.0;
    if (part) {
#pragma omp parallel for schedule(static) if (nb > 1)
        for (size_t b = 0; b < nb; b++) {
            double s = 0.0;
            size_t end = (b + 1) * BLK < n ? (b + 1) * BLK : n;
            for (size_t i = b * BLK; i < end; i++) s += (double)grads[i] * grads[i];
            part[b] = s;
        }
        for (size_t b = 0; b < nb; b++) total += part[b];
        free(part);
    } else {
        for (size_t i = 0; i < n; i++) total += (double)grads[i] * grads[i];
    }
    return sqrt(total);
}

float alim_grad_clip_scale(double norm, double max_norm)
{
    return max_norm > 0 && norm > max_norm ? (float)(max_norm / (norm + 1e-6)) : 1.0f;
}

double alim_grad_clip(float *grads, size_t n, double max_norm)
{
    const double norm = alim_grad_norm(grads, n);
    const float c = alim_grad_clip_scale(norm, max_norm);
    if (c != 1.0f) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) grads[i] *= c;
    }
    return norm;
}

double alim_lr_at(alim_lr_schedule kind, double lr, double min_lr, uint64_t step,
                  uint64_t warmup, uint64_t total)
{
    if (step < warmup) return lr * (double)(step + 1) / (double)warmup;
    if (kind == ALIM_LR_CONSTANT || total <= warmup) return lr;
    double frac = (double)(step - warmup) / (double)(total - warmup);
    if (frac > 1.0) frac = 1.0;
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + cos(M_PI * frac));
}
