#!/usr/bin/env bash
# reproduce.sh — the elasticity experiments E0-E4 at the spec's small scale (docs/results.md).
#
#   scripts/reproduce.sh [OUT]      (make reproduce [OUT=DIR]; default OUT=runs/reproduce)
#
# Builds the data directories (synthetic S, its control without C3 in pretraining, natural N
# from the Debian packages fortunes, bible-kjv, jargon-text), then runs every experiment with
# its defaults (3 seeds), in two lanes of one thread each (the models are small: two single-
# threaded runs use the 2 cores better than one run on both). Every run directory is
# resumable: run the same command again after an interruption and only unfinished cells are
# computed. Logs go to OUT/logs/, results to OUT/<experiment>/; OUT/summary.md collects the
# verdicts and OUT/times.txt the wall time of each step.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/reproduce}
ALIM=${ALIM:-$PWD/build/alim}
mkdir -p "$OUT/logs"
export OMP_WAIT_POLICY=passive
# docs/results.md was computed in fp32, whose bits do not depend on the CPU: pinned here so the
# numbers reproduce on any machine (ALIM_PRECISION=bf16 or auto for the bf16 products)
export ALIM_PRECISION=${ALIM_PRECISION:-fp32}
T=(--threads 1)

step() {  # step NAME CMD... : runs CMD with stdout to OUT/NAME.txt, stderr to OUT/logs/NAME.log
  local name=$1; shift
  local t0 t1
  t0=$(date +%s)
  echo "[$(date +%T)] start $name" >&2
  if "$@" >"$OUT/$name.txt" 2>"$OUT/logs/$name.log"; then
    t1=$(date +%s)
    echo "$name $((t1 - t0)) s" >>"$OUT/times.txt"
    echo "[$(date +%T)] done  $name ($((t1 - t0)) s)" >&2
  else
    echo "[$(date +%T)] FAILED $name (exit $?): $(tail -n 1 "$OUT/logs/$name.log")" >&2
    return 1
  fi
}

data() {  # the data directories (skipped when present)
  [ -d "$OUT/syn" ] || step data-syn "$ALIM" data synthetic --out "$OUT/syn" || return 1
  [ -d "$OUT/syn-ctl" ] || step data-syn-ctl "$ALIM" data synthetic --shares 0.95,0.05,0 --out "$OUT/syn-ctl" || return 1
  [ -d "$OUT/nat" ] || step data-nat "$ALIM" data natural --out "$OUT/nat" || return 1
}

lane_a() {
  step e1-syn "$ALIM" elastic resist --data "$OUT/syn" --run "$OUT/e1-syn" "${T[@]}" &&
  step e1-nat "$ALIM" elastic resist --data "$OUT/nat" --run "$OUT/e1-nat" "${T[@]}" &&
  step e3-syn "$ALIM" elastic scale --data "$OUT/syn" --run "$OUT/e3-syn" "${T[@]}"
}

lane_b() {
  step e2-ctl "$ALIM" elastic rebound --data "$OUT/syn-ctl" --run "$OUT/e2-ctl" --control "${T[@]}" &&
  step e2-syn "$ALIM" elastic rebound --data "$OUT/syn" --run "$OUT/e2-syn" --control-run "$OUT/e2-ctl" "${T[@]}" &&
  step e4-syn "$ALIM" elastic coefficient --from-rebound "$OUT/e2-syn" --run "$OUT/e4-syn" &&
  step e4-ctl "$ALIM" elastic coefficient --from-rebound "$OUT/e2-ctl" --run "$OUT/e4-ctl" &&
  step e2-nat "$ALIM" elastic rebound --data "$OUT/nat" --run "$OUT/e2-nat" "${T[@]}" &&
  step e4-nat "$ALIM" elastic coefficient --from-rebound "$OUT/e2-nat" --run "$OUT/e4-nat"
}

start=$(date +%s)
: >"$OUT/times.txt"
data || exit 1
step e0 "$ALIM" elastic oracle --shares 0.3333333333333333,0.3333333333333333,0.3333333333333334 || exit 1
step e0-table "$ALIM" elastic oracle --table || exit 1
step e0-data-shares "$ALIM" elastic oracle --shares 0.9,0.05,0.05 || exit 1
lane_a & a=$!
lane_b & b=$!
wait $a; ra=$?
wait $b; rb=$?
total=$(( $(date +%s) - start ))
echo "total $total s" >>"$OUT/times.txt"

{
  echo "# Elasticity experiments, $(date -u +%F) ($total s on $(nproc) cores)"
  echo
  for f in e0 e0-data-shares e1-syn e1-nat e2-ctl e2-syn e2-nat e3-syn e4-syn e4-ctl e4-nat; do
    [ -f "$OUT/$f.txt" ] || continue
    echo "## $f"
    echo '```'
    grep -E "^(verdict|criteria|  \(|  [a-z_]+ +(PASS|FAIL|NULL)|summary|.*PASS|.*NULL)" "$OUT/$f.txt" | head -n 30
    echo '```'
  done
} >"$OUT/summary.md"
echo "results in $OUT (summary.md, times.txt); total $total s" >&2
[ $ra -eq 0 ] && [ $rb -eq 0 ]
