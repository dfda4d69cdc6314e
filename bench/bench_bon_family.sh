#!/usr/bin/env bash
# Benchmark of the best-of-N family (not a test): best-of-N, Best-of-Poisson and soft best-of-N on
# 10^7 outcomes, alim (bench/bench_bon_family.c, a timing driver linked to libalim.a: alim's CSV
# reader, level building and the bonfam.h laws) against a straightforward numpy implementation
# (bench/bench_bon_family.py) on the same CSV. Runs alternate between the two programs; medians of
# RUNS runs; ratios per method (law + evaluation) and with the level building included; agreement
# of the results; the host's ISA and load. The input is bench_asymptotics.py's generator (cached).
# Environment: ROWS (1e7), RUNS (3), ALIM (build/alim; its directory must hold libalim.a),
# PYTHON (/usr/bin/python3), BENCH_DIR (/tmp/alim-bench), BENCH_N (1000), BENCH_LAMBDA (1.0).
set -euo pipefail
cd "$(dirname "$0")/.."
ALIM=${ALIM:-build/alim}
PYTHON=${PYTHON:-/usr/bin/python3}
ROWS=${ROWS:-1e7}
RUNS=${RUNS:-3}
DIR=${BENCH_DIR:-/tmp/alim-bench}
N=${BENCH_N:-1000}
LAMBDA=${BENCH_LAMBDA:-1.0}
MU=$("$PYTHON" -c "print(float('$N') - 1)") # Best-of-Poisson with the same mean number of draws
mkdir -p "$DIR"
IN="$DIR/dist_${ROWS}.csv"
if [ ! -s "$IN" ]; then
  echo "generating $IN ($ROWS rows) ..."
  "$PYTHON" bench/bench_asymptotics.py gen "$IN" "$ROWS" 42
fi
LIB="$(dirname "$ALIM")/libalim.a"
DRV="$DIR/bench_bon_family"
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -fopenmp -Iinclude -o "$DRV" bench/bench_bon_family.c "$LIB" \
  $(pkg-config --libs libcjson openblas plplot libpcre2-8 libutf8proc) -lm

echo "input: $IN ($(du -h "$IN" | cut -f1)), N = $N, mu = $MU, lambda = $LAMBDA"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(getconf _NPROCESSORS_ONLN) CPUs," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ISA: $("$ALIM" info | grep -i 'CPU features' | sed 's/^CPU features *//'); alim's soft best-of-N kernels:" \
     "$(if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo; then echo 'x86-64-v4 (AVX-512)';
        elif grep -qw avx2 /proc/cpuinfo; then echo 'x86-64-v3 (AVX2+FMA)'; else echo 'baseline (scalar)'; fi)," \
     "OpenMP threads ${OMP_NUM_THREADS:-$(getconf _NPROCESSORS_ONLN)}"

for i in $(seq "$RUNS"); do
  "$DRV" "$IN" "$N" "$MU" "$LAMBDA" >"$DIR/bf_alim_$i.json"
  "$PYTHON" bench/bench_bon_family.py "$IN" "$N" "$MU" "$LAMBDA" >"$DIR/bf_numpy_$i.json"
done

"$PYTHON" - "$DIR" "$RUNS" <<'PY'
import json, statistics, sys
d, runs = sys.argv[1], int(sys.argv[2])
A = [json.load(open(f"{d}/bf_alim_{i}.json")) for i in range(1, runs + 1)]
P = [json.load(open(f"{d}/bf_numpy_{i}.json")) for i in range(1, runs + 1)]
med = lambda xs: statistics.median(xs)
la, lp = med([a["levels_seconds"] for a in A]), med([p["levels_seconds"] for p in P])
ra, rp = med([a["read_seconds"] for a in A]), med([p["read_seconds"] for p in P])
print(f"{A[0]['levels']} reward levels; medians of {runs} runs")
print(f"{'read CSV':24s} alim {ra:7.3f} s  numpy {rp:7.3f} s  ratio {rp / ra:6.1f}x")
print(f"{'build levels':24s} alim {la:7.3f} s  numpy {lp:7.3f} s  ratio {lp / la:6.1f}x")
for m, name in (("bon", "best-of-N"), ("bop", "Best-of-Poisson"), ("soft", "soft best-of-N")):
    ta, tp = med([a[m]["seconds"] for a in A]), med([p[m]["seconds"] for p in P])
    print(f"{name:24s} alim {ta:7.3f} s  numpy {tp:7.3f} s  ratio {tp / ta:6.1f}x | with levels: "
          f"alim {ta + la:6.3f} s  numpy {tp + lp:6.3f} s  ratio {(tp + lp) / (ta + la):5.1f}x")
    a, p = A[0][m], P[0][m]
    print(f"{'':24s} agreement: KL {a['kl_nats']:.15g} vs {p['kl_nats']:.15g}, reward {a['reward']:.15g} vs "
          f"{p['reward']:.15g}, win rate {a['win_rate']:.15g} vs {p['win_rate']:.15g}")
s = A[0]
print(f"{'':24s} alim soft: {s['soft_nodes']} nodes (numpy {P[0]['soft']['nodes']}), law "
      f"{med([a['soft_law_seconds'] for a in A]):.3f} s + evaluation, step error {s['soft_step_error']:.2g}, "
      f"mass error {s['soft_mass_error']:.2g}")
PY
