#!/usr/bin/env bash
# Benchmark of the asymptotics engine (not a test):
#   1. `alim bon --n N` and `alim tilt --kl D` on 10^7 outcomes vs a straightforward numpy
#      implementation (bench/bench_asymptotics.py) on the same CSV; compute and end-to-end
#      times (median of RUNS runs), the ratio, peak memory, and agreement of the results;
#   2. `alim seq` at n = 10^4 with a 100-token lattice reward.
# Environment: ROWS (default 1e7), RUNS (3), ALIM (build/alim), PYTHON (/usr/bin/python3),
# BENCH_DIR (where the generated input is cached, default /tmp/alim-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
ALIM=${ALIM:-build/alim}
PYTHON=${PYTHON:-/usr/bin/python3}
ROWS=${ROWS:-1e7}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-/tmp/alim-bench}
N=${BENCH_N:-1000}
D=${BENCH_KL:-1.0}
mkdir -p "$DIR"
IN="$DIR/dist_${ROWS}.csv"
if [ ! -s "$IN" ]; then
  echo "generating $IN ($ROWS rows) ..."
  "$PYTHON" bench/bench_asymptotics.py gen "$IN" "$ROWS" 42
fi
echo "input: $IN ($(du -h "$IN" | cut -f1)), $(nproc) CPUs"

# peak memory through GNU time when it is installed (Debian package "time"), else not measured
if [ -x /usr/bin/time ]; then TIMECMD=(/usr/bin/time -f '%M' -o "$DIR/mem"); else TIMECMD=(); fi
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { "$PYTHON" -c "import json,sys; j=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

bench_pair() { # NAME ALIM-ARGS... -- PY-ARGS...
  local name=$1; shift
  local aargs=() pargs=()
  while [ "$1" != "--" ]; do aargs+=("$1"); shift; done; shift
  pargs=("$@")
  local ac=() at=() pc=() pt=() amem=0 pmem=0 aout pout
  for i in $(seq "$RUNS"); do
    local t0 t1
    t0=$(date +%s.%N)
    echo 0 >"$DIR/mem"
    aout=$("${TIMECMD[@]}" "$ALIM" "${aargs[@]}" --json --timing)
    t1=$(date +%s.%N)
    at+=("$(echo "$t1 - $t0" | bc)"); ac+=("$(field 'j["timing"]["compute_seconds"]' <<<"$aout")")
    amem=$(cat "$DIR/mem")
    t0=$(date +%s.%N)
    echo 0 >"$DIR/mem"
    pout=$("${TIMECMD[@]}" "$PYTHON" bench/bench_asymptotics.py "${pargs[@]}")
    t1=$(date +%s.%N)
    pt+=("$(echo "$t1 - $t0" | bc)"); pc+=("$(field 'j["compute_seconds"]' <<<"$pout")")
    pmem=$(cat "$DIR/mem")
  done
  local mac mat mpc mpt
  mac=$(printf '%s\n' "${ac[@]}" | median); mat=$(printf '%s\n' "${at[@]}" | median)
  mpc=$(printf '%s\n' "${pc[@]}" | median); mpt=$(printf '%s\n' "${pt[@]}" | median)
  printf '%-22s compute: alim %7.3f s  numpy %7.3f s  ratio %6.1fx | end-to-end (incl. CSV read): alim %6.2f s  numpy %6.2f s  ratio %5.1fx\n' \
    "$name" "$mac" "$mpc" "$(echo "$mpc / $mac" | bc -l)" "$mat" "$mpt" "$(echo "$mpt / $mat" | bc -l)"
  printf '%-22s peak RSS: alim %d MB, numpy %d MB; input arrays (p, r) %d MB\n' "" $((amem / 1024)) $((pmem / 1024)) \
    "$("$PYTHON" -c "print(int(16*float('$ROWS')/2**20))")"
  echo "$aout" >"$DIR/alim_$name.json"; echo "$pout" >"$DIR/numpy_$name.json"
}

bench_pair "bon --n $N" bon "$IN" --n "$N" -- bon "$IN" "$N"
"$PYTHON" - "$DIR/alim_bon --n $N.json" "$DIR/numpy_bon --n $N.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
print(f"{'':22s} agreement: KL {a['kl_nats']:.15g} vs {b['kl_nats']:.15g}, reward {a['reward']:.15g} vs {b['reward']:.15g}")
PY
bench_pair "tilt --kl $D" tilt "$IN" --kl "$D" -- tilt "$IN" "$D"
"$PYTHON" - "$DIR/alim_tilt --kl $D.json" "$DIR/numpy_tilt --kl $D.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
print(f"{'':22s} agreement: lambda {a['lambda']:.15g} vs {b['lambda']:.15g}, reward {a['reward']:.15g} vs {b['reward']:.15g}")
PY

# 2. sequences: n = 10^4, vocabulary 100 with rewards 0..99
SEQ="$DIR/v100.csv"
"$PYTHON" -c "
import numpy as np
p = 1.0 + np.arange(100) % 7; p /= p.sum()
np.savetxt('$SEQ', np.c_[p, np.arange(100)], delimiter=',', fmt='%.17g', header='p,r', comments='')"
ts=()
for i in $(seq "$RUNS"); do
  t0=$(date +%s.%N)
  "$ALIM" seq "$SEQ" --length 10000 --kl-per-token 0.5 --json >"$DIR/seq.json"
  t1=$(date +%s.%N)
  ts+=("$(echo "$t1 - $t0" | bc)")
done
printf '%-22s %.2f s (median of %d); %s\n' "seq n=10^4, V=100" "$(printf '%s\n' "${ts[@]}" | median)" "$RUNS" \
  "$(field '"levels %d, E r/n %.6f vs x* %.6f" % (j["rows"][0]["levels"], j["rows"][0]["bon_reward_per_token"], j["asymptotic"]["x_star"])' <"$DIR/seq.json")"
