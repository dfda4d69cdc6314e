#!/usr/bin/env bash
# test_lm.sh — alim train / eval / sample / tokenizer end to end: learning, resume ==
# uninterrupted, determinism, prompt masking, and one-line errors for bad input.
source "$(dirname "$0")/lib.sh"
# one thread by default (a busy machine makes OpenMP barriers slow); the resume and
# determinism runs use two, so that the split products are exercised there
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
T=$TMP

# a structured corpus: 8 fixed "words" in random order, one sentence per line
"$PYTHON" - "$T/corpus.txt" "$T/held.txt" <<'EOF'
import random, sys
random.seed(1)
words = "alpha beta gamma delta kappa sigma omega zeta".split()
for path, n in ((sys.argv[1], 1500), (sys.argv[2], 100)):
    with open(path, "w") as f:
        for _ in range(n):
            f.write(" ".join(random.choice(words) for _ in range(6)) + ".\n")
EOF
printf '{"prompt": "Q: alpha?", "response": " A: beta."}\n{"prompt": "Q: gamma?", "response": " A: delta."}\n' >"$T/sft.jsonl"

SMALL=(--layers 1 --dim 32 --heads 2 --context 32 --batch 8 --seed 3)

# ---- training learns ------------------------------------------------------------------
expect_exit 0 "train" -- "$ALIM" train --data "$T/corpus.txt" --format lines --out "$T/m" "${SMALL[@]}" \
  --steps 150 --lr 1e-2 --schedule cosine --warmup 10 --eval-data "$T/held.txt" --eval-every 50 --json
expect_json 'j["last_step"] == 150 and j["loss_nats"] < 1.5 and j["eval_loss_nats"] < 1.5' "loss well below log 257 = 5.55 on a structured corpus"
for f in model.safetensors config.json vocab.json merges.txt optimizer.safetensors log.csv; do
  if [ -s "$T/m/$f" ]; then ok; else bad "checkpoint file $f missing"; fi
done
if [ "$(head -1 "$T/m/log.csv")" = "step,loss,lr,grad_norm,tokens,tokens_per_s,elapsed_s,eval_loss" ] && [ "$(wc -l <"$T/m/log.csv")" -eq 151 ]; then ok
else bad "log.csv header or length: $(head -1 "$T/m/log.csv"), $(wc -l <"$T/m/log.csv") lines"; fi
expect_exit 0 "progress line" -- env ALIM_PROGRESS=1 "$ALIM" train --data "$T/corpus.txt" --out "$T/p" "${SMALL[@]}" --steps 3
expect_stderr 'loss [0-9.]+, [0-9]+ tok/s, step: 3/3' "progress line shows loss, tokens/s and steps"

# ---- eval -----------------------------------------------------------------------------
expect_exit 0 "eval" -- "$ALIM" eval --model "$T/m" --data "$T/held.txt" --format lines --json
expect_json 'j["n_bytes"] == sum(len(l) - 1 for l in open("'"$T"'/held.txt")) and j["n_tokens"] == j["n_bytes"] + 100 and abs(j["bits_per_token"] * j["n_tokens"] - j["total_bits"]) < 1e-6 * j["total_bits"] and j["bits_per_byte"] < 2' "eval counts and bits"
expect_exit 0 "eval vs itself" -- "$ALIM" eval --model "$T/m" --base "$T/m" --data "$T/held.txt" --json
expect_json 'abs(j["kl_nats"]) < 1e-6 and "kl_bits" in j' "KL(model || model) = 0"
expect_exit 0 "eval jsonl" -- "$ALIM" eval --model "$T/m" --data "$T/sft.jsonl" --json
expect_json 'j["n_tokens"] == len(" A: beta.") + len(" A: delta.") + 2 and j["n_bytes"] == j["n_tokens"] - 2' "JSONL: only response tokens (and their EOT) are scored"

# ---- fine-tuning on JSONL ---------------------------------------------------------------
expect_exit 0 "sft" -- "$ALIM" train --init "$T/m" --data "$T/sft.jsonl" --out "$T/sft" --context 16 --batch 2 --steps 30 --lr 3e-3 --json
expect_json 'j["loss_nats"] < 1.0' "fine-tuning on two examples fits them"
expect_exit 0 "eval sft vs base" -- "$ALIM" eval --model "$T/sft" --base "$T/m" --data "$T/sft.jsonl" --json
expect_json 'j["kl_nats"] > 0' "the fine-tuned model moved away from its base"

# ---- resume == uninterrupted ----------------------------------------------------------
RUN=(--data "$T/corpus.txt" --format lines "${SMALL[@]}" --steps 20 --lr 3e-3 --schedule cosine --warmup 3 --grad-accum 2 --threads 2)
expect_exit 0 "uninterrupted" -- "$ALIM" train "${RUN[@]}" --out "$T/full"
expect_exit 0 "interrupted at 8" -- "$ALIM" train "${RUN[@]}" --out "$T/part" --stop-at 8
expect_exit 0 "resumed" -- "$ALIM" train "${RUN[@]}" --out "$T/part" --resume
cut -d, -f1-5 "$T/full/log.csv" >"$T/a"; cut -d, -f1-5 "$T/part/log.csv" >"$T/b"
if cmp -s "$T/a" "$T/b"; then ok; else bad "resumed log differs: $(diff "$T/a" "$T/b" | head -4)"; fi
if cmp -s "$T/full/model.safetensors" "$T/part/model.safetensors" && cmp -s "$T/full/optimizer.safetensors" "$T/part/optimizer.safetensors"; then ok
else bad "resumed checkpoint differs from the uninterrupted one"; fi
expect_exit 2 "resume with another batch" -- "$ALIM" train "${RUN[@]}" --out "$T/part" --resume --batch 4
expect_stderr '^alim: error: --batch: 4 differs' "resume checks the options"

# ---- determinism ------------------------------------------------------------------------
expect_exit 0 "same run again" -- "$ALIM" train "${RUN[@]}" --out "$T/again"
if cmp -s "$T/full/model.safetensors" "$T/again/model.safetensors"; then ok; else bad "two identical runs differ"; fi
# this model trains in 2 data-parallel shards; when OpenMP gives fewer threads than asked
# (a thread limit, OMP_DYNAMIC), one thread runs both shards: the same bits
expect_exit 0 "2 shards" -- "$ALIM" train "${RUN[@]}" --out "$T/shards" --json
expect_json 'j["data_parallel_shards"] == 2' "the resume/determinism model runs in 2 shards"
expect_exit 0 "2 shards on 1 thread" -- env OMP_THREAD_LIMIT=1 "$ALIM" train "${RUN[@]}" --out "$T/limit"
if cmp -s "$T/full/model.safetensors" "$T/limit/model.safetensors"; then ok; else bad "2 shards on a team of 1 thread differ from 2 threads"; fi

# ---- sample ---------------------------------------------------------------------------
expect_exit 0 "sample" -- "$ALIM" sample --model "$T/m" --prompt "alpha" --n 2 --tokens 30 --seed 5 --json
expect_json 'len(j["samples"]) == 2 and all(s["text"].startswith("alpha") for s in j["samples"])' "samples continue the prompt"
"$ALIM" sample --model "$T/m" --prompt "alpha" --n 2 --tokens 30 --seed 5 --json >"$T/s2" 2>/dev/null
if cmp -s "$TMP/stdout" "$T/s2"; then ok; else bad "sampling with the same seed differs"; fi
expect_exit 0 "greedy" -- "$ALIM" sample --model "$T/m" --prompt "omega zeta" --temperature 0 --tokens 40 --top-k 5
expect_exit 0 "words" -- "$PYTHON" -c "
import sys; t = open('$TMP/stdout').read().split()
words = set('alpha beta gamma delta kappa sigma omega zeta'.split())
sys.exit(0 if sum(w.strip('.') in words for w in t) >= len(t) - 1 else 1)"

# ---- tokenizer --------------------------------------------------------------------------
expect_exit 0 "tokenizer train" -- "$ALIM" tokenizer train --vocab 300 --out "$T/tok" "$T/corpus.txt" --json
expect_json '257 + 20 < j["vocab_size"] <= 300 and j["merges"] == j["vocab_size"] - 257' "BPE: merges until no pair repeats (8 distinct words)"
expect_exit 0 "encode" -- "$ALIM" tokenizer encode --tokenizer "$T/tok" --text "alpha beta gamma"
ids=$(cat "$TMP/stdout")
expect_exit 0 "decode" -- "$ALIM" tokenizer decode --tokenizer "$T/tok" $ids
if [ "$(cat "$TMP/stdout")" = "alpha beta gamma" ] && [ "$(echo $ids | wc -w)" -le 6 ]; then ok; else bad "BPE round trip: ids '$ids' -> '$(cat "$TMP/stdout")'"; fi
expect_exit 0 "train with BPE" -- "$ALIM" train --data "$T/corpus.txt" --format lines --tokenizer "$T/tok" --out "$T/mb" "${SMALL[@]}" --steps 5 --json
expect_exit 0 "eval BPE model" -- "$ALIM" eval --model "$T/mb" --data "$T/held.txt" --format lines --json
expect_json 'j["n_tokens"] < 0.5 * j["n_bytes"]' "BPE model: fewer tokens than bytes"

# ---- bad input: one line, exit 2 ----------------------------------------------------------
: >"$T/empty.txt"
expect_exit 2 "empty data" -- "$ALIM" train --data "$T/empty.txt" --out "$T/x" "${SMALL[@]}" --steps 1
expect_one_line_error "empty data"; expect_stderr "empty.txt: no documents" "empty data names the file"
expect_exit 2 "context too long (eval)" -- "$ALIM" eval --model "$T/m" --data "$T/held.txt" --context 64
expect_one_line_error "context"; expect_stderr "^alim: error: --context: 64 is longer than the model's context" "eval context"
expect_exit 2 "context too long (fine-tune)" -- "$ALIM" train --init "$T/m" --data "$T/held.txt" --out "$T/x" --context 33 --steps 1
expect_one_line_error "context (train)"
expect_exit 2 "data shorter than the context" -- "$ALIM" train --data "$T/sft.jsonl" --out "$T/x" --context 128 --steps 1
expect_one_line_error "short data"; expect_stderr "fewer than context" "short data message"
mkdir -p "$T/bad"; cp "$T/m/config.json" "$T/m/vocab.json" "$T/m/merges.txt" "$T/bad/"
head -c 20000 "$T/m/model.safetensors" >"$T/bad/model.safetensors"
expect_exit 2 "truncated safetensors" -- "$ALIM" eval --model "$T/bad" --data "$T/held.txt"
expect_one_line_error "truncated"; expect_stderr 'model.safetensors: [a-z_.0-9]+(weight|bias): .*past the end' "truncated file: message names the tensor"
sed 's/"F32"/"I8"/' "$T/m/model.safetensors" >"$T/bad/model.safetensors"
expect_exit 2 "wrong dtype" -- "$ALIM" sample --model "$T/bad"
expect_one_line_error "dtype"; expect_stderr "wte.weight: unsupported dtype 'I8'" "dtype error names the tensor"
"$PYTHON" -c "import json; c = json.load(open('$T/m/config.json')); c['n_embd'] = 16; json.dump(c, open('$T/bad/config.json', 'w'))"; cp "$T/m/model.safetensors" "$T/bad/"
expect_exit 2 "shape mismatch" -- "$ALIM" eval --model "$T/bad" --data "$T/held.txt"
expect_one_line_error "shape"; expect_stderr "wte.weight: shape mismatch" "shape mismatch names the tensor"
printf '{"a": 0, "<|endoftext|>": 1}' >"$T/vocab.json"; mkdir -p "$T/small"; mv "$T/vocab.json" "$T/small/"; printf '#version: 0.2\n' >"$T/small/merges.txt"
expect_exit 2 "unknown token" -- "$ALIM" tokenizer encode --tokenizer "$T/small" --text "ab"
expect_one_line_error "unknown token"; expect_stderr "^alim: error: --text: byte 0x62" "unknown token (encode)"
expect_exit 2 "unknown token in data" -- "$ALIM" train --tokenizer "$T/small" --data "$T/held.txt" --out "$T/x" --steps 1
expect_one_line_error "unknown token in data"; expect_stderr "^alim: error: .*held.txt: byte 0x.. at offset [0-9]+ has no token in the vocabulary \(unknown token\)" "unknown token message names the data file"
expect_exit 2 "resume without a checkpoint" -- "$ALIM" train --data "$T/corpus.txt" --out "$T/nothing" --resume
expect_one_line_error "resume nothing"; expect_stderr "^alim: error: --resume: .* holds no training checkpoint" "resume without a checkpoint says so"
expect_exit 2 "no --out" -- "$ALIM" train --data "$T/corpus.txt"
expect_one_line_error "no out"
expect_exit 2 "bad option" -- "$ALIM" train --data "$T/corpus.txt" --out "$T/x" --bogus
expect_exit 2 "bad heads" -- "$ALIM" train --data "$T/corpus.txt" --out "$T/x" --dim 30 --heads 4 --steps 1
expect_one_line_error "heads"; expect_stderr "^alim: error: --dim: " "shape errors name the option"
expect_exit 2 "bad schedule" -- "$ALIM" train --data "$T/corpus.txt" --out "$T/x" --schedule linear
expect_one_line_error "schedule"
expect_exit 2 "bad jsonl" -- "$ALIM" train --data "$T/held.txt" --format jsonl --out "$T/x" --steps 1
expect_one_line_error "jsonl"; expect_stderr "held.txt:1: not a JSON object" "JSONL errors name file:line"
finish
