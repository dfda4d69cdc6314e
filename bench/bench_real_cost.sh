#!/usr/bin/env bash
# bench_real_cost.sh — the measured unit costs behind docs/real-elasticity.md §9: fine-tuning
# SmolLM2-135M-Instruct on behaviour chat data (`alim train --init`, context 128, batch 8), scoring
# with the KL to θ0 (`alim eval --base`), single-stream sampling (`alim sample --chat`) and batched
# sampling (alim_lm_sample_batch through bench/bench_real_sample.c). Each line gives wall time
# and the CPU seconds (user + sys) of the command, so a shared machine's share can be read off:
# rate on an idle machine ≈ work / (CPU seconds / cores). Re-run it after an engine change
# (issue 18's bf16: add PRECISION=bf16) to rescale the projection.
#
# Environment: ALIM (build/alim; its directory must hold libalim.a), STEPS (12), THREADS (2),
# OUT (a scratch directory, default /tmp/alim-bench-real), PRECISION (unset: the engine's
# default flags; set: passed as --precision to train/eval/sample where they accept it).
set -euo pipefail
cd "$(dirname "$0")/.."
ALIM=${ALIM:-build/alim}
STEPS=${STEPS:-12}
THREADS=${THREADS:-2}
OUT=${OUT:-/tmp/alim-bench-real}
export OMP_NUM_THREADS=$THREADS OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
M=$(scripts/fetch-smollm2.sh)
PREC=()
[ -n "${PRECISION:-}" ] && PREC=(--precision "$PRECISION")
rm -rf "$OUT" && mkdir -p "$OUT"
"$ALIM" data behaviours --out "$OUT/beh" >/dev/null
head -n 32 "$OUT/beh/test_c2.jsonl" >"$OUT/t32.jsonl"

echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(getconf _NPROCESSORS_ONLN) CPUs;" \
     "threads $THREADS; precision ${PRECISION:-engine default}"
timed() {  # timed LABEL CMD... : runs CMD, prints wall and CPU seconds and the load average
  local label=$1; shift
  local t0 t1 load0
  load0=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$OUT/time" "$@" >"$OUT/stdout" 2>"$OUT/stderr"
  t1=$(date +%s.%N)
  read -r u s <"$OUT/time"
  printf '%-34s wall %7.2f s  user %7.2f s  sys %6.2f s  (load average %s -> %s)\n' "$label" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$u" "$s" "$load0" "$(cut -d' ' -f1 /proc/loadavg)"
}
timed "train $STEPS updates of 8x128" "$ALIM" train --init "$M" --data "$OUT/beh/pool_c2.jsonl" --out "$OUT/ft" \
  --steps "$STEPS" --context 128 --batch 8 --lr 1e-5 --weight-decay 0 --in-order --threads "$THREADS" "${PREC[@]}" --json
python3 - "$OUT/ft/log.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
tok = float(rows[-1]['tokens']); el = float(rows[-1]['elapsed_s'])
print(f"  updates: {tok:.0f} tokens in {el:.1f} s = {tok/el:.1f} training tokens/s (wall, loading excluded)")
PY
timed "eval 32 records --base θ0" "$ALIM" eval --model "$OUT/ft" --base "$M" --data "$OUT/t32.jsonl" --context 128 --batch 8 \
  --threads "$THREADS" "${PREC[@]}" --json
echo "  $(grep -E '"n_tokens"|"kl_nats"' "$OUT/stdout" | tr -d '\t\n ,')"
timed "eval 32 records θ0 alone" "$ALIM" eval --model "$M" --data "$OUT/t32.jsonl" --context 128 --batch 8 \
  --threads "$THREADS" "${PREC[@]}" --json
timed "sample --chat 4 x 64 (one stream)" "$ALIM" sample --model "$M" --chat --prompt "Describe a storm." --n 4 --tokens 64 \
  --threads "$THREADS" "${PREC[@]}" --json
echo "  tokens: $(python3 -c "import json,sys; print(sum(x['tokens'] for x in json.load(open(sys.argv[1]))['samples']))" "$OUT/stdout")"
ids=$("$ALIM" sample --model "$M" --chat --prompt "Describe a storm." --dump-prompt |
      python3 -c "import json,sys; print(' '.join(map(str, json.load(sys.stdin)['ids'])))")
LIB="$(dirname "$ALIM")/libalim.a"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -fopenmp -Iinclude -o "$OUT/bench_real_sample" bench/bench_real_sample.c "$LIB" \
  $(pkg-config --libs libcjson openblas plplot libpcre2-8 libutf8proc zlib lapacke) \
  $(pkg-config --exists ompi-c 2>/dev/null && pkg-config --libs ompi-c || mpicc --showme:link 2>/dev/null || true) -lm
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-$(grep -qw avx512f /proc/cpuinfo && echo SkylakeX || echo Haswell)}
for B in 8 48; do
  # <|im_end|> (id 2) ends a reply
  # shellcheck disable=SC2086
  echo "  batched: $("$OUT/bench_real_sample" "$M" "$B" 48 2 $ids)"
done
