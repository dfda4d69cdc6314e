/* model.h — private interface between the model's generic parts (model.c: life cycle,
 * batches, data-parallel shards; kv_cache.c: the key/value cache), the tensor table (arch.c)
 * and each architecture's graph (gpt2.c, llama.c). Not installed.
 */
#ifndef ALIM_LM_MODEL_H
#define ALIM_LM_MODEL_H

#include "alim/gpt.h"

/* ---- arch.c ---- */
/* Fills m->n_tensors, tensor_id, tensor_size and num_params from m->config. */
void lm_model_setup(alim_gpt *m);
/* Points the views of m's architecture (gpt2 or llama) into base (params or grads). */
void lm_model_point(const alim_gpt *m, float *base, alim_gpt_tensors *gpt2, alim_llama_tensors *llama);

/* ---- model.c, precision.c ---- */
/* precision.c: at a pass's entry, makes the bf16 copy current if the parameters changed
 * and clears the failure flag; after the pass, the error if a bf16 product failed */
void lm_model_sync_bf16(alim_gpt *m);
alim_status lm_model_prec_status(const alim_gpt *m, alim_error *err);

/* the logits (B,T,V) of the last forward pass, whatever the architecture */
float *lm_model_logits(const alim_gpt *m);

/* The shard count a process with nt threads chooses for a (B,T) batch: min(nt, B) when the
 * shards' extra gradient buffers are small next to the activations, else 1 (model.c). */
int lm_model_shard_count(const alim_gpt *m, int B, int T, int nt);

/* One forward + backward of the batch in S data-parallel shards split over the R = ranks ranks
 * of alim/dist.h (ranks is alim_dist_size() or 1; rank r runs shards [S r / R, S (r+1) / R)),
 * the gradients added to m->grads and the loss in m->mean_loss exactly as a single process
 * running the S shards would have them, bit for bit (see docs/mpi.md). Collective when R > 1: every rank calls it with the
 * same batch and the same m->grads, and all return the same status. With one rank this is
 * alim_gpt_forward_backward with the shard count S forced (S = 1: operation-parallel). */
alim_status lm_model_forward_backward_dist(alim_gpt *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                                           float loss_scale, int S, int ranks, alim_error *err);

/* ---- gpt2.c (the same roles as llama.c's below) ---- */
void lm_gpt2_init_params(alim_gpt *m, uint64_t seed);
size_t lm_gpt2_layout_acts(alim_gpt_acts *a, float *base, const alim_gpt_config *cfg, size_t B,
                           size_t T, size_t L);
void lm_gpt2_forward_rows(alim_gpt *m, int b0, int b1, float *attscratch, int dlogits, float k);
/* scratch: dres, dtmp (BT,C) and dbig (BT,4C) of all rows, attention (threads,T,T) and
 * (threads,hs,T) for the threads of this call */
void lm_gpt2_backward_rows(alim_gpt *m, int b0, int b1, const alim_gpt_tensors *g, float k,
                           int dlogits, float *dres_all, float *dtmp_all, float *dbig_all,
                           float *attscratch, float *tbuf);
size_t lm_gpt2_cache_work_per_row(const alim_gpt_config *cfg, int T_max);
void lm_gpt2_step(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens);
void lm_gpt2_prefill_kv(const alim_gpt *m, alim_gpt_cache *c, int T0);

/* ---- llama.c ---- */
/* rope frequencies (m->rope_inv_freq, hs/2 floats) from the configuration */
alim_status lm_llama_setup(alim_gpt *m, alim_error *err);
/* weights N(0, 0.02), norms 1, biases 0 (LlamaPreTrainedModel._init_weights) */
void lm_llama_init_params(alim_gpt *m, uint64_t seed);
/* activation views for (B,T) with L blocks' activations kept (n_layer, or 1 for a
 * forward-only pass whose blocks overwrite each other); returns the floats needed, points the
 * views when base */
size_t lm_llama_layout_acts(alim_llama_acts *a, float *base, const alim_gpt_config *cfg, size_t B,
                            size_t T, size_t L);
/* cos/sin tables of the batch's positions 0..T-1 (after the layout) */
void lm_llama_prepare(alim_gpt *m);
/* forward pass over batch rows [b0,b1); dlogits: also make d logits with scale k */
void lm_llama_forward_rows(alim_gpt *m, int b0, int b1, float *tbuf, int dlogits, float k);
/* floats of backward row scratch for BT rows */
size_t lm_llama_backward_scratch(const alim_gpt_config *cfg, size_t BT);
/* backward pass over rows [b0,b1), adding into g; rows = the scratch of all BT rows */
void lm_llama_backward_rows(alim_gpt *m, int b0, int b1, const alim_llama_tensors *g, float k,
                            int dlogits, float *rows, float *attscratch, float *tbuf);
/* key/value cache: per-row step scratch; one step (checks done); keys and values of a
 * prefill from the forward pass's activations */
size_t lm_llama_cache_work_per_row(const alim_gpt_config *cfg, int T_max);
void lm_llama_step(alim_gpt *m, alim_gpt_cache *c, const int32_t *tokens);
void lm_llama_prefill_kv(const alim_gpt *m, alim_gpt_cache *c, int T0);

#endif
