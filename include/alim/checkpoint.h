/* alim/checkpoint.h — model checkpoints as Hugging Face directories, and GGUF files.
 *
 * Reading: a Hugging Face directory of a GPT-2 (model_type gpt2) or Llama-family (llama,
 * qwen2, mistral) model — config.json, model.safetensors or sharded
 * model-0000k-of-0000n.safetensors + model.safetensors.index.json (F32, F16, BF16), the
 * tokenizer (tokenizer.json, or GPT-2's vocab.json + merges.txt) — or a GGUF file of the
 * llama or qwen2 architecture (alim_gguf_model_load). Writing: the layout below, with the
 * architecture's own config.json and tensor names (Llama: LlamaForCausalLM/Qwen2ForCausalLM
 * names, nn.Linear (out,in) layouts), always F32.
 *
 * A GPT-2 checkpoint is a directory holding
 *   model.safetensors      the parameters, F32, GPT-2 names and Conv1D (in,out) layouts:
 *                          wte.weight (V,C), wpe.weight (n_positions,C), h.{i}.ln_1.weight,
 *                          h.{i}.attn.c_attn.weight (C,3C), ..., ln_f.bias; metadata
 *                          {"format": "pt", "alim_step": "<updates done>"}
 *   config.json            GPT2Config keys (model_type, n_embd, n_layer, n_head, n_positions,
 *                          n_ctx, vocab_size, layer_norm_epsilon, activation_function, ...)
 *   vocab.json, merges.txt the tokenizer (alim/tokenizer.h)
 *   optimizer.safetensors  (training checkpoints) AdamW moments "adamw.m", "adamw.v" (N) and
 *                          metadata with the step, the data position, the RNG state and the
 *                          training options, all needed to resume bit for bit
 * Every file is written atomically; model.safetensors is written last among the model
 * files and optimizer.safetensors after it, and both carry the step so that a mismatch
 * after an interrupted save is detected on resume.
 * Reading accepts the names with a "transformer." prefix too (GPT2LMHeadModel state dicts)
 * and ignores tensors it does not use (attn.bias masks, lm_head.weight).
 */
#ifndef ALIM_CHECKPOINT_H
#define ALIM_CHECKPOINT_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "alim/gpt.h"
#include "alim/optim.h"
#include "alim/status.h"
#include "alim/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads dir/config.json. Errors name "dir/config.json: key". */
alim_status alim_checkpoint_read_config(const char *dir, alim_gpt_config *cfg, alim_error *err);

/* Creates *m from dir/config.json and fills it from dir/model.safetensors (or the shards
 * of dir/model.safetensors.index.json); dir may also be a GGUF file
 * (alim_gguf_model_load). When tk is not NULL also loads the tokenizer (which must not
 * have more ids than the model). Non-finite weights are refused naming the tensor. *step gets
 * the model's recorded update count (0 if absent; may be NULL). Errors name the file and
 * tensor: missing tensor, shape mismatch, wrong dtype, truncated file. */
alim_status alim_checkpoint_load(const char *dir, alim_gpt *m, alim_tokenizer *tk,
                                 uint64_t *step, alim_error *err);

/* 1 if path is a GGUF file (a regular file starting with "GGUF", or a path ending in
 * ".gguf" that does not exist: loading then reports it missing) rather than a directory. */
int alim_checkpoint_is_gguf(const char *path);

/* Creates *m and (tk != NULL) the tokenizer from a GGUF file of the Llama family
 * (general.architecture llama or qwen2): hyper-parameters from the llama.* / qwen2.* keys,
 * tensors dequantised to fp32 with Q and K rows un-permuted to the Hugging Face layout
 * (llama.cpp permutes them for its adjacent-pair rotation), the tokenizer from the
 * tokenizer.ggml.* keys. Errors name the file and the key or tensor. */
alim_status alim_gguf_model_load(const char *path, alim_gpt *m, alim_tokenizer *tk, alim_error *err);

/* The tokenizer of a GGUF file (tokenizer.ggml.* keys), without the weights. */
alim_status alim_gguf_tokenizer_load(const char *path, alim_tokenizer *tk, alim_error *err);

/* The tokenizer of a model: a GGUF file's, or a checkpoint directory's
 * (alim_tokenizer_load: tokenizer.json, else vocab.json + merges.txt). */
alim_status alim_checkpoint_load_tokenizer(const char *path, alim_tokenizer *tk, alim_error *err);

/* Creates directory dir if it does not exist (its parent must). */
alim_status alim_checkpoint_make_dir(const char *dir, alim_error *err);

/* Creates dir if needed and writes config.json, the tokenizer (if tk) and model.safetensors. */
alim_status alim_checkpoint_save(const char *dir, const alim_gpt *m, const alim_tokenizer *tk,
                                 uint64_t step, alim_error *err);

/* Writes dir/optimizer.safetensors: the moments and `state`, a JSON object whose values
 * are strings (stored as the safetensors metadata; "step" is added from opt). */
alim_status alim_checkpoint_save_optimizer(const char *dir, const alim_adamw *opt,
                                           const cJSON *state, alim_error *err);

/* Reads dir/optimizer.safetensors into opt (created here with n moments) and returns the
 * metadata object in *state (caller frees with cJSON_Delete). */
alim_status alim_checkpoint_load_optimizer(const char *dir, size_t n, alim_adamw *opt,
                                           cJSON **state, alim_error *err);

/* A training checkpoint (model, optimizer state, config, tokenizer, chat template) saved
 * as one transaction: alim_checkpoint_txn_begin keeps the current set (hard links in
 * dir/.prev), the caller writes the new files (alim_checkpoint_save, ..._save_optimizer),
 * alim_checkpoint_txn_commit drops the kept set. alim_checkpoint_recover, called by a
 * writer holding the directory's lock, rolls an interrupted save back to the kept set, so
 * every crash point leaves the previous or the next complete checkpoint. */
alim_status alim_checkpoint_txn_begin(const char *dir, alim_error *err);
alim_status alim_checkpoint_txn_commit(const char *dir, alim_error *err);
alim_status alim_checkpoint_recover(const char *dir, alim_error *err);

#ifdef __cplusplus
}
#endif
#endif
