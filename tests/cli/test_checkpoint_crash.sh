#!/usr/bin/env bash
# test_checkpoint_crash.sh — a training checkpoint is one transaction (issue 13, D2): the run
# is stopped (_exit, as kill -9 or a power cut would) at EVERY call that changes its
# directory — rename, link, unlink, rmdir, mkdir: each write boundary of each save — by an
# LD_PRELOAD shim (tests/cli/fault_inject.c); then `--resume` (or, when no checkpoint was
# complete yet, a new run) must finish and give the uninterrupted run's model bit for bit,
# and the directory must never hold a model and an optimizer state of different steps.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} ALIM_NO_BLAS_SELECT=1

cc -shared -fPIC -O1 -o "$TMP/fault.so" tests/cli/fault_inject.c -ldl || { bad "cannot build the shim"; finish; exit 1; }
"$PYTHON" -c "
import random; random.seed(2)
w = 'alpha beta gamma delta eps zeta eta theta'.split()
print('\n'.join(' '.join(random.choice(w) for _ in range(random.randint(4, 12))) for _ in range(300)))" >"$TMP/c.txt"
RUN=(train --data "$TMP/c.txt" --format lines --layers 1 --dim 16 --heads 2 --context 16 --batch 4 --steps 6 --save-every 2
     --lr 3e-3 --seed 5 --threads 1)

expect_exit 0 "uninterrupted run" -- "$ALIM" "${RUN[@]}" --out "$TMP/ref"
expect_exit 0 "counting run" -- env LD_PRELOAD="$TMP/fault.so" ALIM_FAULT_COUNT="$TMP/count" "$ALIM" "${RUN[@]}" --out "$TMP/cnt"
cmp -s "$TMP/ref/model.safetensors" "$TMP/cnt/model.safetensors" && ok || bad "the shim changes the result"
K=$(cat "$TMP/count" 2>/dev/null || echo 0)
[ "$K" -ge 20 ] && ok || bad "only $K directory-changing calls in 3 saves"

# step recorded by a safetensors file's metadata (model: alim_step, optimizer: step)
steps() { "$PYTHON" - "$1" <<'PY'
import json, struct, sys, os
d = sys.argv[1]
def meta(f, key):
    p = os.path.join(d, f)
    if not os.path.exists(p): return None
    b = open(p, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
    return json.loads(b[8:8 + n]).get('__metadata__', {}).get(key)
print(meta('model.safetensors', 'alim_step'), meta('optimizer.safetensors', 'step'))
PY
}

torn=0 diverged=0 refused=0 killed=0
for k in $(seq 1 "$K"); do
  d="$TMP/k$k"
  env LD_PRELOAD="$TMP/fault.so" ALIM_FAULT_AT="$k" "$ALIM" "${RUN[@]}" --out "$d" >/dev/null 2>&1
  [ $? -eq 86 ] && killed=$((killed + 1))
  if "$ALIM" "${RUN[@]}" --out "$d" --resume >/dev/null 2>"$TMP/err"; then
    # the resumed run started from the checkpoint the roll-back left: a consistent pair
    read -r ms os < <(steps "$d")
    [ "$ms" = "$os" ] || { torn=$((torn + 1)); echo "k=$k: model step $ms, optimizer step $os" >&2; }
  elif grep -q "holds no training checkpoint" "$TMP/err"; then
    # stopped before the first save was complete: a new run in the same directory
    "$ALIM" "${RUN[@]}" --out "$d" >/dev/null 2>"$TMP/err" || { refused=$((refused + 1)); echo "k=$k: new run refused: $(head -c 200 "$TMP/err")" >&2; continue; }
  else
    refused=$((refused + 1)); echo "k=$k: resume refused: $(head -c 200 "$TMP/err")" >&2; continue
  fi
  cmp -s "$TMP/ref/model.safetensors" "$d/model.safetensors" || { diverged=$((diverged + 1)); echo "k=$k: model differs from the uninterrupted run" >&2; }
  rm -rf "$d"
done
[ "$killed" -eq "$K" ] && ok || bad "stopped at $killed of $K boundaries"
[ "$refused" -eq 0 ] && ok || bad "$refused of $K crash points left a directory that resume or a new run refuses"
[ "$torn" -eq 0 ] && ok || bad "$torn of $K crash points left model and optimizer of different steps"
[ "$diverged" -eq 0 ] && ok || bad "$diverged of $K crash points did not end in the uninterrupted run's model"
echo "crash points: $K (every directory-changing call of 3 saves); refused $refused, torn $torn, diverged $diverged"
finish
