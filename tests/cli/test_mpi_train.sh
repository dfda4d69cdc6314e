#!/usr/bin/env bash
# test_mpi_train.sh — data-parallel training over MPI ranks (docs/mpi.md): `mpirun -np 2|4
# alim train` against one process, byte for byte (model.safetensors, optimizer.safetensors,
# the log's numbers); resume under mpirun, and across rank counts; the refusals (exit 2);
# rank 0 alone prints and writes; GPT-2 and a tiny random Llama. Open MPI runs as root,
# oversubscribed, over shared memory only. Without MPI compiled in (alim info says so) the
# mpirun checks are skipped, saying why, and the one-process --shards path is checked alone.
. "$(dirname "$0")/lib.sh"

export OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_rmaps_base_mapping_policy=slot OMPI_MCA_mpi_yield_when_idle=1

# a corpus of 300 short lines, the same at every run
"$PYTHON" - "$TMP/c.txt" <<'EOF'
import sys
words = "the cat sat on a mat and dog ran far away from big red house while small bird sang".split()
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write(" ".join(words[(i * 7 + k * k) % len(words)] for k in range(6 + i % 5)) + "\n")
EOF

# the bytes that must agree: both safetensors, and the log's numbers (not its timings)
sig() { (cd "$1" && sha256sum model.safetensors optimizer.safetensors && cut -d, -f1-5,8 log.csv) | sha256sum | cut -c1-16; }
same() {  # same DESC DIR_A DIR_B
  local a b; a=$(sig "$2" 2>/dev/null) b=$(sig "$3" 2>/dev/null)
  if [ -n "$a" ] && [ "$a" = "$b" ]; then ok; else bad "$1: $2 and $3 differ"; fi
}

GPT=(--data "$TMP/c.txt" --format lines --layers 2 --dim 32 --heads 4 --context 32 --batch 8 --steps 6
     --lr 3e-3 --seed 3 --eval-data "$TMP/c.txt" --eval-every 3)

compiled=$("$ALIM" info --json | "$PYTHON" -c "import json,sys; print(int(json.load(sys.stdin)['mpi']['compiled']))")
if [ "$compiled" != 1 ] || ! command -v mpirun >/dev/null; then
  echo "test_mpi_train: MPI checks skipped: $([ "$compiled" != 1 ] && echo 'alim was built without MPI (alim info: not compiled in)' || echo 'mpirun is not installed')"
  expect_exit 0 "info without MPI" -- "$ALIM" info
  grep -q "^MPI  *not compiled in" "$TMP/stdout" && ok || bad "alim info does not say MPI is not compiled in"
  expect_exit 0 "one process, 2 shards" -- "$ALIM" train "${GPT[@]}" --out "$TMP/a" --threads 1 --shards 2
  expect_exit 0 "one process, 2 shards, 2 threads" -- "$ALIM" train "${GPT[@]}" --out "$TMP/b" --threads 2 --shards 2
  same "--shards 2 on 1 and 2 threads" "$TMP/a" "$TMP/b"
  finish; exit
fi
MPIRUN=(mpirun --oversubscribe)

# ---- launched or not -----------------------------------------------------------------------
expect_exit 0 "info" -- "$ALIM" info
grep -q "^MPI  *compiled in; not launched" "$TMP/stdout" && ok || bad "alim info without mpirun: $(grep MPI "$TMP/stdout")"
expect_exit 0 "info under mpirun" -- "${MPIRUN[@]}" -np 2 "$ALIM" info
grep -q "^MPI  *rank 1 of 2" "$TMP/stdout" && ok || bad "alim info under mpirun -np 2: $(grep MPI "$TMP/stdout")"

# ---- GPT-2: shards chosen from the threads (2 in all), one process against 2 ranks -----------
expect_exit 0 "one process, 2 threads" -- "$ALIM" train "${GPT[@]}" --out "$TMP/s2" --threads 2 --json
expect_json "j['data_parallel_shards'] == 2 and not j['shards_set'] and j['mpi_ranks'] == 1" "2 threads choose 2 shards"
expect_exit 0 "mpirun -np 2" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/m2" --threads 1 --json
expect_json "j['data_parallel_shards'] == 2 and not j['shards_set'] and j['mpi_ranks'] == 2" "2 ranks: 2 shards"
same "mpirun -np 2 against one process with 2 threads" "$TMP/s2" "$TMP/m2"
# rank 0 alone prints and writes: one summary, one log, the lock file and the checkpoint
expect_exit 0 "mpirun -np 2 text" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/m2t" --threads 1
[ "$(grep -c '^trained ' "$TMP/stdout")" = 1 ] && grep -q "over 2 MPI ranks" "$TMP/stdout" && ok || bad "summary lines under mpirun: $(cat "$TMP/stdout")"
[ "$(ls -A "$TMP/m2t" | tr '\n' ' ')" = ".alim.lock config.json log.csv merges.txt model.safetensors optimizer.safetensors vocab.json " ] && ok ||
  bad "files of the run: $(ls -A "$TMP/m2t" | tr '\n' ' ')"

# ---- 4 ranks against one process with --shards 4 (on 1 thread and on 2) ----------------------
expect_exit 0 "one process --shards 4" -- "$ALIM" train "${GPT[@]}" --out "$TMP/s4" --threads 1 --shards 4
expect_exit 0 "one process --shards 4, 2 threads" -- "$ALIM" train "${GPT[@]}" --out "$TMP/s4b" --threads 2 --shards 4
expect_exit 0 "mpirun -np 4" -- "${MPIRUN[@]}" -np 4 "$ALIM" train "${GPT[@]}" --out "$TMP/m4" --threads 1 --json
expect_json "j['data_parallel_shards'] == 4 and j['mpi_ranks'] == 4" "4 ranks: 4 shards"
same "mpirun -np 4 against one process --shards 4" "$TMP/s4" "$TMP/m4"
same "--shards 4 on 1 and 2 threads" "$TMP/s4" "$TMP/s4b"
# 5 shards over 2 ranks (3 + 2: uneven) against one process
expect_exit 0 "mpirun -np 2 --shards 5" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/m5" --threads 1 --shards 5
expect_exit 0 "one process --shards 5" -- "$ALIM" train "${GPT[@]}" --out "$TMP/s5" --threads 1 --shards 5
same "5 shards over 2 ranks against one process" "$TMP/s5" "$TMP/m5"

# ---- resume ----------------------------------------------------------------------------------
expect_exit 0 "mpirun -np 2 stop at 2" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/r2" --threads 1 --stop-at 2
expect_exit 0 "mpirun -np 2 resume" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/r2" --threads 1 --resume
# the stopped run evaluated at its last update (2): compare the checkpoint and the losses
cmp -s "$TMP/r2/model.safetensors" "$TMP/s2/model.safetensors" && cmp -s "$TMP/r2/optimizer.safetensors" "$TMP/s2/optimizer.safetensors" &&
  [ "$(cut -d, -f1-5 "$TMP/r2/log.csv")" = "$(cut -d, -f1-5 "$TMP/s2/log.csv")" ] && ok || bad "resume under mpirun -np 2 is not the uninterrupted run"
# the same threads in all on another rank count: one process with 2 threads continues it
expect_exit 0 "mpirun -np 2 stop at 3" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/r1" --threads 1 --stop-at 3
expect_exit 0 "resume in one process" -- "$ALIM" train "${GPT[@]}" --out "$TMP/r1" --threads 2 --resume
same "2 ranks then one process of 2 threads" "$TMP/r1" "$TMP/s2"
# a set shard count: any rank count continues it
expect_exit 0 "mpirun -np 4 --shards 4 stop at 2" -- "${MPIRUN[@]}" -np 4 "$ALIM" train "${GPT[@]}" --out "$TMP/r4" --threads 1 --shards 4 --stop-at 2
expect_exit 0 "mpirun -np 2 resume of 4 shards" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/r4" --threads 1 --resume
cmp -s "$TMP/r4/model.safetensors" "$TMP/s4/model.safetensors" && cmp -s "$TMP/r4/optimizer.safetensors" "$TMP/s4/optimizer.safetensors" && ok ||
  bad "4 shards on 4 ranks resumed on 2 ranks is not the uninterrupted run"
# what cannot continue bit for bit is refused (exit 2), naming the option
expect_exit 0 "mpirun -np 2 stop at 2 again" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/rx" --threads 1 --stop-at 2
expect_exit 2 "resume on 4 ranks (4 threads in all)" -- "${MPIRUN[@]}" -np 4 "$ALIM" train "${GPT[@]}" --out "$TMP/rx" --threads 1 --resume
# (mpirun's own notice may split rank 0's line on the way: the message's parts are checked)
[ "$(grep -c 'alim: error: ' "$TMP/stderr")" = 1 ] && ok || bad "one refusal line: $(grep alim "$TMP/stderr")"
expect_stderr "4 \(threads of all ranks\) differs from the resumed run's 2 threads" "the thread count is kept"
expect_exit 2 "resume with --shards 3" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/r4" --threads 1 --resume --shards 3
expect_stderr "3 differs from the resumed run's 4 data-parallel shards" "the shard count is kept"
expect_exit 2 "2 shards over 4 ranks" -- "${MPIRUN[@]}" -np 4 "$ALIM" train "${GPT[@]}" --out "$TMP/bad" --threads 1 --shards 2
expect_stderr "2 shards over 4 ranks: every rank needs at least one" "a rank without a shard"
[ ! -e "$TMP/bad" ] && ok || bad "a refused run left its directory"
# rank 0's failure (the lock's directory is a file) reaches every rank: one error, exit 2
: >"$TMP/afile"
expect_exit 2 "--out is a file" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${GPT[@]}" --out "$TMP/afile" --threads 1
[ "$(grep -c '^alim: error: ' "$TMP/stderr")" = 1 ] && ok || bad "error lines: $(grep alim "$TMP/stderr")"

# ---- Llama: a tiny random checkpoint, fine-tuned on 2 ranks and in one process ----------------
"$PYTHON" - "$TMP/llama" "$TMP/s2" <<'EOF'
import json, os, shutil, struct, sys
import numpy as np
out, gpt = sys.argv[1], sys.argv[2]
os.makedirs(out)
for f in ("vocab.json", "merges.txt"):
    shutil.copy(os.path.join(gpt, f), out)
C, L, H, KV, I, V = 32, 2, 4, 2, 48, 257
hs = C // H
cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": C, "intermediate_size": I,
       "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": KV, "head_dim": hs,
       "max_position_embeddings": 64, "vocab_size": V, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
       "rope_scaling": None, "hidden_act": "silu", "tie_word_embeddings": True, "attention_bias": False,
       "mlp_bias": False, "bos_token_id": 256, "eos_token_id": 256, "torch_dtype": "float32"}
json.dump(cfg, open(os.path.join(out, "config.json"), "w"))
rng = np.random.default_rng(5)
t = {"model.embed_tokens.weight": (V, C), "model.norm.weight": (C,)}
for l in range(L):
    p = f"model.layers.{l}."
    t.update({p + "input_layernorm.weight": (C,), p + "post_attention_layernorm.weight": (C,),
              p + "self_attn.q_proj.weight": (C, C), p + "self_attn.k_proj.weight": (KV * hs, C),
              p + "self_attn.v_proj.weight": (KV * hs, C), p + "self_attn.o_proj.weight": (C, C),
              p + "mlp.gate_proj.weight": (I, C), p + "mlp.up_proj.weight": (I, C), p + "mlp.down_proj.weight": (C, I)})
header, blobs, off = {}, [], 0
for name, shape in sorted(t.items()):
    a = (np.ones(shape) if name.endswith("norm.weight") else 0.05 * rng.standard_normal(shape)).astype("<f4")
    header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [off, off + a.nbytes]}
    blobs.append(a.tobytes()); off += a.nbytes
h = json.dumps(header).encode()
h += b" " * (-len(h) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
EOF
LL=(--data "$TMP/c.txt" --format lines --init "$TMP/llama" --context 32 --batch 8 --steps 4 --lr 1e-3 --seed 2
    --eval-data "$TMP/c.txt" --eval-every 2)
expect_exit 0 "Llama one process --shards 2" -- "$ALIM" train "${LL[@]}" --out "$TMP/ls" --threads 1 --shards 2
expect_exit 0 "Llama mpirun -np 2" -- "${MPIRUN[@]}" -np 2 "$ALIM" train "${LL[@]}" --out "$TMP/lm" --threads 1 --shards 2 --json
expect_json "j['data_parallel_shards'] == 2 and j['mpi_ranks'] == 2" "Llama: 2 shards on 2 ranks"
grep -q '"model_type":.*"llama"' "$TMP/lm/config.json" && ok || bad "the fine-tuned model is not a Llama"
same "Llama: mpirun -np 2 against one process" "$TMP/ls" "$TMP/lm"
expect_exit 0 "Llama mpirun -np 4 --shards 4" -- "${MPIRUN[@]}" -np 4 "$ALIM" train "${LL[@]}" --out "$TMP/lm4" --threads 1 --shards 4
expect_exit 0 "Llama one process --shards 4" -- "$ALIM" train "${LL[@]}" --out "$TMP/ls4" --threads 1 --shards 4
same "Llama: mpirun -np 4 against one process" "$TMP/ls4" "$TMP/lm4"
finish
