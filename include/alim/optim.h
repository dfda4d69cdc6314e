/* alim/optim.h — AdamW, gradient clipping and learning-rate schedules.
 *
 * AdamW follows torch.optim.AdamW (decoupled weight decay, bias-corrected moments):
 *   p -= lr*wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
 *   p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * Weight decay applies only to the segments marked for it (by convention the matrices
 * and embeddings, not biases and LayerNorm parameters).
 */
#ifndef ALIM_OPTIM_H
#define ALIM_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "alim/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    float beta1, beta2, eps, weight_decay;
} alim_adamw_config;

/* A contiguous range of parameters and whether weight decay applies to it. */
typedef struct {
    size_t offset, count;
    int decay;
} alim_param_segment;

typedef struct {
    size_t n;         /* number of parameters */
    float *m, *v;     /* (n) first and second moments, owned */
    uint64_t step;    /* updates done so far */
} alim_adamw;

alim_status alim_adamw_create(alim_adamw *opt, size_t n, alim_error *err);
void alim_adamw_free(alim_adamw *opt);

/* One update of params (n) with grads (n) at learning rate lr; increments opt->step. The
 * segments must not overlap, nor params, grads and the moments (they are updated in
 * parallel). */
void alim_adamw_step(alim_adamw *opt, const alim_adamw_config *cfg, float lr, float *params,
                     const float *grads, const alim_param_segment *segs, size_t n_segs);

/* The same update with grad_scale * grads in place of grads (grads are not written):
 * clipping fused into the update, one pass over the gradients fewer. The results are
 * those of alim_grad_clip followed by alim_adamw_step, bit for bit, with grad_scale =
 * alim_grad_clip_scale(alim_grad_norm(grads, n), max_norm). */
void alim_adamw_step_scaled(alim_adamw *opt, const alim_adamw_config *cfg, float lr, float *params,
                            const float *grads, float grad_scale, const alim_param_segment *segs,
                            size_t n_segs);

/* Global L2 norm of grads (n), summed in double in a fixed order. */
double alim_grad_norm(const float *grads, size_t n);

/* The factor torch's clip_grad_norm_ scales gradients of this norm by: max_norm / (norm +
 * 1e-6) when max_norm > 0 and norm > max_norm, else 1. */
float alim_grad_clip_scale(double norm, double max_norm);

/* Global L2 norm of grads (n) (alim_grad_norm); when max_norm > 0 and the norm exceeds it,
 * scales grads by alim_grad_clip_scale as torch's clip_grad_norm_ does. Returns the norm
 * before clipping. */
double alim_grad_clip(float *grads, size_t n, double max_norm);

typedef enum { ALIM_LR_CONSTANT, ALIM_LR_COSINE } alim_lr_schedule;

/* Learning rate for update `step` (0-based) of `total`: linear warm-up from lr/warmup to lr
 * over the first `warmup` updates, then constant, or cosine decay to min_lr at total. */
double alim_lr_at(alim_lr_schedule kind, double lr, double min_lr, uint64_t step,
                  uint64_t warmup, uint64_t total);

#ifdef __cplusplus
}
#endif
#endif
