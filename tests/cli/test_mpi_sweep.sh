#!/usr/bin/env bash
# test_mpi_sweep.sh — experiment cells handed out to MPI ranks (alim/runner.h, docs/mpi.md):
# `mpirun -np 2|4 alim elastic rebound|resist|scale` give the summary of one process (timing
# keys aside) and its CSV files byte for byte; a rank killed mid-sweep kills the job, and the
# same command run again computes only the missing cells, with the same result; an error on
# one rank reaches all (exit 2, one message). Open MPI runs as root, oversubscribed, over
# shared memory. Skipped (saying why) without MPI compiled in.
. "$(dirname "$0")/lib.sh"

export OMP_WAIT_POLICY=passive OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_rmaps_base_mapping_policy=slot OMPI_MCA_mpi_yield_when_idle=1

compiled=$("$ALIM" info --json | "$PYTHON" -c "import json,sys; print(int(json.load(sys.stdin)['mpi']['compiled']))")
if [ "$compiled" != 1 ] || ! command -v mpirun >/dev/null; then
  echo "test_mpi_sweep: skipped: $([ "$compiled" != 1 ] && echo 'alim was built without MPI' || echo 'mpirun is not installed')"
  finish
  exit $?
fi

# summaries equal but for what measures time (and the run directory's name)
same_summary() {  # DESC A.json B.json [also=KEY]: KEY (e.g. cells: computed vs reused) is left out too
  if "$PYTHON" - "$2" "$3" "${4:-}" <<'EOF'
import json, sys
T = {"wall_s", "train_tokens_per_s", "tokens_per_s", "elapsed_s", "sampled_tokens_per_s", "run_dir", "rebound_run", "rebound_wall_s", sys.argv[3]}
def strip(o):
    if isinstance(o, dict): return {k: strip(v) for k, v in o.items() if k not in T}
    if isinstance(o, list): return [strip(v) for v in o]
    return o
a, b = (strip(json.load(open(p))) for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
EOF
  then ok; else bad "$1: summaries differ"; fi
}
same_file() { if cmp -s "$2" "$3"; then ok; else bad "$1: $2 and $3 differ"; fi; }

S="$TMP/data"
expect_exit 0 "data" -- "$ALIM" data synthetic --out "$S" --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32
E2=(elastic rebound --data "$S" --quick --threads 1)
E1=(elastic resist --data "$S" --quick --threads 1)

# ---- one process, then 2 and 4 ranks ----
expect_exit 0 "E2 one process" -- "$ALIM" "${E2[@]}" --run "$TMP/e2-1" --json
cp "$TMP/stdout" "$TMP/e2-1.json"
for np in 2 4; do
  expect_exit 0 "E2 on $np ranks" -- mpirun -np $np "$ALIM" "${E2[@]}" --run "$TMP/e2-$np" --json
  cp "$TMP/stdout" "$TMP/e2-$np.json"
  same_summary "E2 $np ranks" "$TMP/e2-1.json" "$TMP/e2-$np.json"
  same_file "E2 $np ranks grid.csv" "$TMP/e2-1/grid.csv" "$TMP/e2-$np/grid.csv"
  expect_json "j['cells']=={'total':68,'run':68,'reused':0}" "E2 $np ranks: every cell computed once, counted once"
  # rank 0 alone prints: one note per cell, one JSON document
  n=$(grep -c ": done, " "$TMP/stderr")
  [ "$n" -eq 68 ] && ok || bad "E2 $np ranks: $n notes, expected 68 (one per cell, rank 0's)"
  ls "$TMP/e2-$np"/cells/*/.claim >/dev/null 2>&1 && bad "E2 $np ranks: claims left behind" || ok
done
# every cell was computed by some rank: each rank's claim file was its own
expect_exit 0 "E1 one process" -- "$ALIM" "${E1[@]}" --run "$TMP/e1-1" --json
cp "$TMP/stdout" "$TMP/e1-1.json"
expect_exit 0 "E1 on 2 ranks" -- mpirun -np 2 "$ALIM" "${E1[@]}" --run "$TMP/e1-2" --json
cp "$TMP/stdout" "$TMP/e1-2.json"
same_summary "E1 2 ranks" "$TMP/e1-1.json" "$TMP/e1-2.json"
for f in summary.csv curves.csv; do same_file "E1 2 ranks $f" "$TMP/e1-1/$f" "$TMP/e1-2/$f"; done

# E4: its E2 grid over the ranks, the analysis on rank 0
E4=(elastic coefficient --data "$S" --quick --threads 1 --bootstrap 200)
expect_exit 0 "E4 one process" -- "$ALIM" "${E4[@]}" --run "$TMP/e4-1" --json
cp "$TMP/stdout" "$TMP/e4-1.json"
expect_exit 0 "E4 on 2 ranks" -- mpirun -np 2 "$ALIM" "${E4[@]}" --run "$TMP/e4-2" --json
cp "$TMP/stdout" "$TMP/e4-2.json"
same_summary "E4 2 ranks" "$TMP/e4-1.json" "$TMP/e4-2.json"
same_file "E4 2 ranks coefficient.csv" "$TMP/e4-1/coefficient.csv" "$TMP/e4-2/coefficient.csv"

# E3: nested run directories (the levels' E2 runs) and the budget cells
E3=(elastic scale --data "$S" --quick --threads 1)
expect_exit 0 "E3 one process" -- "$ALIM" "${E3[@]}" --run "$TMP/e3-1" --json
cp "$TMP/stdout" "$TMP/e3-1.json"
expect_exit 0 "E3 on 2 ranks" -- mpirun -np 2 "$ALIM" "${E3[@]}" --run "$TMP/e3-2" --json
cp "$TMP/stdout" "$TMP/e3-2.json"
same_summary "E3 2 ranks" "$TMP/e3-1.json" "$TMP/e3-2.json"
for f in scale.csv levels.csv; do same_file "E3 2 ranks $f" "$TMP/e3-1/$f" "$TMP/e3-2/$f"; done

# ---- the report: its elasticity cells over the ranks, the same figures and tables ----
expect_exit 0 "quick report, one process" -- "$ALIM" report --quick --out "$TMP/rep1" --jobs 1
expect_exit 0 "quick report, 2 ranks" -- mpirun -np 2 "$ALIM" report --quick --out "$TMP/rep2" --jobs 1
grep -q "^report written to $TMP/rep2/index.html" "$TMP/stdout" && [ "$(wc -l < "$TMP/stdout")" -eq 1 ] && ok || bad "report on 2 ranks: one line from rank 0"
n=0
for f in $(cd "$TMP/rep1" && ls *.csv *.svg); do cmp -s "$TMP/rep1/$f" "$TMP/rep2/$f" || { n=$((n + 1)); echo "differs: $f" >&2; }; done
[ "$n" -eq 0 ] && ok || bad "report on 2 ranks: $n figure/table files differ"
expect_exit 0 "quick report, 2 jobs" -- "$ALIM" report --quick --out "$TMP/rep3" --jobs 2
n=0
for f in $(cd "$TMP/rep1" && ls *.csv *.svg); do cmp -s "$TMP/rep1/$f" "$TMP/rep3/$f" || n=$((n + 1)); done
[ "$n" -eq 0 ] && ok || bad "report with 2 jobs: $n figure/table files differ"

# ---- a rank killed mid-sweep: the job dies, finished cells stay, a re-run completes ----
R="$TMP/e2-kill"
# (1024 samples per evaluation: some 5 s on 2 ranks, long enough to kill it midway)
mpirun -np 2 "$ALIM" "${E2[@]}" --run "$R" --samples 1024 > "$TMP/kill.out" 2> "$TMP/kill.err" &
job=$!
for _ in $(seq 1 300); do  # until a few cells are finished (at most 30 s)
  n=$(ls "$R"/cells/*/result.json 2>/dev/null | wc -l)
  [ "$n" -ge 6 ] && break
  sleep 0.1
done
# a rank: not mpirun itself (alim's comm is "exe": it re-executes itself through /proc/self/exe)
victim=$(pgrep -f -- "--run $R" | while read -r p; do case "$(cat /proc/$p/comm 2>/dev/null)" in mpirun|orterun|orted|"") ;; *) echo "$p" ;; esac; done | tail -1)
if [ -n "$victim" ]; then kill -9 "$victim"; ok; else bad "no rank to kill"; fi
wait $job && bad "the job survived a killed rank" || ok
done_before=$(ls "$R"/cells/*/result.json 2>/dev/null | wc -l)
[ "$done_before" -ge 6 ] && [ "$done_before" -lt 68 ] && ok || bad "kill: $done_before cells finished before the kill (expected 6..67)"
expect_exit 0 "re-run after the kill" -- mpirun -np 2 "$ALIM" "${E2[@]}" --run "$R" --samples 1024 --json
cp "$TMP/stdout" "$TMP/kill-rerun.json"
expect_json "j['cells']['reused']>=$done_before and j['cells']['run']==68-j['cells']['reused']" "the re-run computes only the missing cells"
expect_exit 0 "the same grid in one process" -- "$ALIM" "${E2[@]}" --run "$TMP/e2-kill-ref" --samples 1024 --json
cp "$TMP/stdout" "$TMP/kill-ref.json"
same_summary "killed and re-run" "$TMP/kill-ref.json" "$TMP/kill-rerun.json" cells
same_file "killed and re-run grid.csv" "$TMP/e2-kill-ref/grid.csv" "$R/grid.csv"

# ---- an error reaches every rank: one message, exit 2 ----
expect_exit 2 "a bad data directory" -- mpirun -np 2 "$ALIM" elastic rebound --data "$TMP/nothing" --run "$TMP/e2-bad" --quick
n=$(grep -c "^alim: error: " "$TMP/stderr")
[ "$n" -eq 1 ] && ok || bad "bad data directory: $n error lines, expected 1 (rank 0's)"
# a cell failing on one rank: a corrupt result that rank 0 must read back
R2="$TMP/e2-corrupt"
cp -r "$TMP/e2-1" "$R2"
rm -f "$R2/grid.csv" "$R2/summary.json"
echo '"hello"' > "$R2/cells/s2-pos40-neg40/result.json"
expect_exit 2 "a corrupt cell result" -- mpirun -np 2 "$ALIM" "${E2[@]}" --run "$R2"
n=$(grep -c "^alim: error: .*s2-pos40-neg40/result.json" "$TMP/stderr")
[ "$n" -eq 1 ] && ok || bad "corrupt result: $n messages naming it, expected 1"

finish
