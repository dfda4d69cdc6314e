#!/usr/bin/env bash
# bench_mpi_sweep.sh — an E2 grid computed three ways in one run: one process with one cell at
# a time, one process with two cells side by side (--jobs 2), and two MPI ranks (mpirun -np 2),
# each cell on one thread; wall times, ratios, and that the grids are byte-identical. Then a
# projection for 8, 64 and 512 ranks from the cells' own measured times (their result.json
# "elapsed_s") and the dependency graph of E2: a sweep cannot finish before its longest chain
# of dependent cells (theta0 -> pos -> negpass -> evaluation), nor before its total work
# divided by the ranks.
#
#   ALIM=build/alim bench/bench_mpi_sweep.sh            # the bench's own grid
#   RUN=DIR bench/bench_mpi_sweep.sh --project-only     # project from a finished E2 run
#                                                        # (e.g. a report cache's rebound-*)
set -euo pipefail
ALIM=${ALIM:-build/alim}
PY=${PYTHON:-/usr/bin/python3}
export OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_mpi_yield_when_idle=1

project() {  # RUN_DIR: E2 cells' measured times -> wall-time bounds for R ranks
  "$PY" - "$1" <<'EOF'
import glob, json, os, re, sys
run = sys.argv[1]
t = {}
for p in glob.glob(os.path.join(run, "cells", "*", "result.json")):
    t[os.path.basename(os.path.dirname(p))] = json.load(open(p)).get("elapsed_s", 0.0)
if not t:
    sys.exit("no finished cells in " + run)
# E2's graph (src/elastic/rebound.c): theta0 -> theta0-eval, theta0 -> pos<n> -> pos<n>-negpass -> pos<n>-neg<m>
def deps(c):
    s = c.split("-")[0]
    m = re.match(r"(s\d+)-pos(\d+)-neg(\d+)$", c)
    if m: return [f"{s}-pos{m.group(2)}-negpass", f"{s}-pos{m.group(2)}", f"{s}-theta0"]
    m = re.match(r"(s\d+)-pos(\d+)-negpass$", c)
    if m: return [f"{s}-pos{m.group(2)}"]
    if re.match(r"s\d+-pos\d+$", c) or c.endswith("-theta0-eval"): return [f"{s}-theta0"]
    return []
memo = {}
def finish(c):  # earliest finish with unlimited ranks
    if c not in memo: memo[c] = t.get(c, 0.0) + max([finish(d) for d in deps(c) if d in t] or [0.0])
    return memo[c]
W, CP = sum(t.values()), max(finish(c) for c in t)
depth = max(len(deps(c)) for c in t) + 1
print(f"cells {len(t)}, work {W:.1f} s (one rank, one thread each), longest chain {CP:.1f} s")
print("projection: wall between max(W/R, CP) and W/R + CP (list scheduling), plus 0.1 s polling per dependency level")
for R in (1, 2, 8, 64, 512):
    lo, hi = max(W / R, CP), W / R + CP + 0.1 * depth
    print(f"  R={R:4d}: wall {lo:9.1f} .. {hi:9.1f} s, efficiency >= {W / R / hi * 100:5.1f}%, speed-up >= {W / hi:6.1f}")
EOF
}

if [ "${1:-}" = "--project-only" ]; then project "${RUN:?set RUN=an E2 run directory}"; exit 0; fi

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
echo "bench_mpi_sweep: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $("$ALIM" info | grep -E '^(CPU|ISA|MPI)' | tr -s ' ' | tr '\n' ';')"
"$ALIM" data synthetic --out "$T/data" --pretrain-tokens 200000 --pool-docs 200 --test-docs 16 --doc-len 64 > /dev/null
GRID=(elastic rebound --data "$T/data" --threads 1 --context 64 --pretrain-tokens 600000 --samples 512 --sample-tokens 64
      --n-pos 20,40,80 --n-neg 0,10,20,40,80 --seeds 2 --precision "${PRECISION:-fp32}")
run() {  # NAME CMD...
  local name=$1; shift
  local s e
  s=$(date +%s.%N); "$@" > "$T/$name.out" 2> "$T/$name.err"; e=$(date +%s.%N)
  echo "$e - $s" | bc
}
t1=$(run one "$ALIM" "${GRID[@]}" --run "$T/one" --jobs 1)
t2=$(run jobs2 "$ALIM" "${GRID[@]}" --run "$T/jobs2" --jobs 2)
t3=$(run ranks2 mpirun -np 2 "$ALIM" "${GRID[@]}" --run "$T/ranks2" --jobs 1)
same() { cmp -s "$T/one/grid.csv" "$T/$1/grid.csv" && echo yes || echo NO; }
cells=$(ls "$T"/one/cells/*/result.json | wc -l)
printf "E2 grid, %d cells (G1 2x64x4 at context 64, 600k pretraining tokens, 2 seeds, n_pos 20,40,80 x n_neg 0..80, 512 samples of 64 tokens, %s):\n" "$cells" "${PRECISION:-fp32}"
printf "  1 process, 1 cell at a time       %7.1f s\n" "$t1"
printf "  1 process, --jobs 2               %7.1f s   speed-up %.2f   grid identical: %s\n" "$t2" "$(echo "$t1 / $t2" | bc -l)" "$(same jobs2)"
printf "  2 ranks (mpirun -np 2), 1 job each %6.1f s   speed-up %.2f   grid identical: %s\n" "$t3" "$(echo "$t1 / $t3" | bc -l)" "$(same ranks2)"
project "$T/one"
