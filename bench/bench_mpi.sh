#!/usr/bin/env bash
# bench_mpi.sh — data-parallel training over MPI on this machine (docs/mpi.md).
#
# For a small model and a GPT-2-124M-sized one (12 x 768, vocabulary 50257), training
# tokens/s of one process with 2 threads (its own shard choice, and --shards 2) against
# mpirun -np 2 with 1 thread per rank; the bytes each rank exchanges per step; and the
# measured time of that exchange (the all-to-all + all-gather alim does, and, for
# comparison, one MPI_Allreduce of the gradients) at the models' sizes, from a small MPI
# program compiled here. Ratios are printed, and a projection of the step time at 8, 64
# and 512 ranks from the measured compute per shard and an assumed network (see the end).
#
#   ALIM=build/alim bench/bench_mpi.sh           STEPS_SMALL=20 STEPS_BIG=3 by default
set -euo pipefail
cd "$(dirname "$0")/.."
ALIM=${ALIM:-build/alim}
STEPS_SMALL=${STEPS_SMALL:-20}
STEPS_BIG=${STEPS_BIG:-3}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_hwloc_base_binding_policy=none OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

if ! "$ALIM" info | grep -q "^MPI  *compiled in"; then
  echo "bench_mpi: $ALIM was built without MPI (alim info); nothing to measure" >&2
  exit 1
fi
command -v mpicc >/dev/null || { echo "bench_mpi: mpicc missing (scripts/install-deps.sh)" >&2; exit 1; }

/usr/bin/python3 - "$TMP/c.txt" <<'EOF'
import random, sys
random.seed(1)
words = "the of and a to in is was he for it with as his on be at by had are but from or have an they which one you were her all she there would their we him been has when who will more no if out so said what up its about into than them can only other new some could time these two may then do first any my now such like our over man me even most made after also did many before must through back years where much your way well down should because each just those people".split()
with open(sys.argv[1], "w") as f:
    for _ in range(4000):
        f.write(" ".join(random.choice(words) for _ in range(random.randint(8, 30))) + "\n")
EOF

# the exchange of one step, measured: REPS times (alltoallv of each rank's shard slices, then
# allgatherv of the reduced slices), and MPI_Allreduce of the same gradients for comparison
cat >"$TMP/xchg.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int R, me;
    MPI_Comm_size(MPI_COMM_WORLD, &R);
    MPI_Comm_rank(MPI_COMM_WORLD, &me);
    const size_t np = strtoull(argv[1], NULL, 10);
    const int S = atoi(argv[2]), reps = atoi(argv[3]);
    int *sc = malloc(6 * R * sizeof(int)), *sd = sc + R, *rc = sc + 2 * R, *rd = sc + 3 * R, *pc = sc + 4 * R, *pd = sc + 5 * R;
    const int local = S * (me + 1) / R - S * me / R;
    for (int q = 0; q < R; q++) { pd[q] = (int)(np * q / R); pc[q] = (int)(np * (q + 1) / R) - pd[q]; }
    int off = 0;
    for (int q = 0; q < R; q++) { sd[q] = off; sc[q] = local * pc[q]; off += sc[q]; }
    off = 0;
    for (int r = 0; r < R; r++) { rd[r] = off; rc[r] = (S * (r + 1) / R - S * r / R) * pc[me]; off += rc[r]; }
    float *send = calloc((size_t)local * np, 4), *recv = calloc((size_t)S * (np / R + 1), 4), *g = calloc(np, 4), *g2 = calloc(np, 4);
    double best[2] = {1e30, 1e30};
    for (int k = 0; k < reps; k++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        MPI_Alltoallv(send, sc, sd, MPI_FLOAT, recv, rc, rd, MPI_FLOAT, MPI_COMM_WORLD);
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, g, pc, pd, MPI_FLOAT, MPI_COMM_WORLD);
        t = MPI_Wtime() - t;
        if (t < best[0]) best[0] = t;
        MPI_Barrier(MPI_COMM_WORLD);
        t = MPI_Wtime();
        MPI_Allreduce(g, g2, (int)np, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t = MPI_Wtime() - t;
        if (t < best[1]) best[1] = t;
    }
    double worst[2];
    MPI_Reduce(best, worst, 2, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (me == 0) printf("%.6f %.6f\n", worst[0], worst[1]);
    MPI_Finalize();
    return 0;
}
EOF
mpicc -O2 -o "$TMP/xchg" "$TMP/xchg.c"

# json_field FILE KEY
jf() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

run_config() {  # NAME STEPS ARGS...
  local name=$1 steps=$2; shift 2
  local common=(--data "$TMP/c.txt" --format lines --steps "$steps" --lr 1e-3 --seed 1 --json "$@")
  "$ALIM" train "${common[@]}" --out "$TMP/$name-1x2" --threads 2 >"$TMP/$name-1x2.json"
  "$ALIM" train "${common[@]}" --out "$TMP/$name-1x2s" --threads 2 --shards 2 >"$TMP/$name-1x2s.json"
  mpirun -np 2 "$ALIM" train "${common[@]}" --out "$TMP/$name-2x1" --threads 1 >"$TMP/$name-2x1.json"
  local np tps1 tps1s tps2 s1 s2 B T
  np=$(jf "$TMP/$name-1x2.json" num_params)
  tps1=$(jf "$TMP/$name-1x2.json" tokens_per_s); s1=$(jf "$TMP/$name-1x2.json" data_parallel_shards)
  tps1s=$(jf "$TMP/$name-1x2s.json" tokens_per_s)
  tps2=$(jf "$TMP/$name-2x1.json" tokens_per_s); s2=$(jf "$TMP/$name-2x1.json" data_parallel_shards)
  local same=no
  cmp -s "$TMP/$name-1x2s/model.safetensors" "$TMP/$name-2x1/model.safetensors" && same=yes
  local x; x=$(mpirun -np 2 "$TMP/xchg" "$np" 2 "$([ "$np" -gt 10000000 ] && echo 5 || echo 50)")
  local tx=${x% *} tar=${x#* }
  # bytes a rank sends per step (1 shard each of 2): the all-to-all's (R-1)/R of its shard,
  # the all-gather's (R-1) slices of np/R floats; plus the rows' losses (B*T floats)
  B=$(grep -o -- '--batch [0-9]*' <<<"$*" | cut -d' ' -f2); T=$(grep -o -- '--context [0-9]*' <<<"$*" | cut -d' ' -f2)
  /usr/bin/python3 - "$name" "$np" "$tps1" "$s1" "$tps1s" "$tps2" "$s2" "$same" "$tx" "$tar" "$B" "$T" <<'EOF'
import sys
name, np_, tps1, s1, tps1s, tps2, s2, same, tx, tar, B, T = sys.argv[1:]
np_, tps1, tps1s, tps2, tx, tar, B, T = int(np_), float(tps1), float(tps1s), float(tps2), float(tx), float(tar), int(B), int(T)
R = 2
sent = 4 * (np_ * (R - 1) / R + (np_ / R) * (R - 1)) + 4 * B * T / R
step2 = B * T / tps2
print(f"{name}: {np_:,} parameters, batch {B} x {T} tokens")
print(f"  1 rank x 2 threads ({s1} shard{'s' if s1 != '1' else ''}, its own choice) {tps1:10.0f} tokens/s")
print(f"  1 rank x 2 threads (--shards 2)               {tps1s:10.0f} tokens/s")
print(f"  2 ranks x 1 thread ({s2} shards)                {tps2:10.0f} tokens/s   ratio to 1x2: {tps2 / tps1:.2f}, to 1x2 --shards 2: {tps2 / tps1s:.2f}")
print(f"  bit-identical to one process with --shards 2: {same}")
print(f"  bytes sent per rank per step: {sent / 1e6:.3f} MB (gradients {4 * np_ / 1e6:.3f} MB)")
print(f"  exchange (all-to-all + all-gather) {tx * 1e3:.3f} ms; MPI_Allreduce of the gradients {tar * 1e3:.3f} ms; "
      f"exchange / allreduce = {tx / tar:.2f}")
print(f"  step on 2 ranks {step2 * 1e3:.1f} ms, of which exchange {100 * tx / step2:.1f}%; compute per shard ~{(step2 - tx) * 1e3:.1f} ms")
print(f"PROJ {name} {np_} {step2 - tx:.6f}")
EOF
}

{
  run_config small "$STEPS_SMALL" --layers 2 --dim 64 --heads 4 --context 64 --batch 8
  run_config gpt2-124M "$STEPS_BIG" --layers 12 --dim 768 --heads 12 --context 64 --batch 4 --vocab 50257
} | tee "$TMP/out.txt" | grep -v '^PROJ'

# Projection: weak scaling (one shard of the same size per rank, batch = R shards), step =
# compute per shard + exchange. Exchange on a ring/pairwise network: all-to-all and
# all-gather each move (R-1)/R of the gradients per rank and take R-1 rounds of latency.
echo
echo "projection (weak scaling, 1 shard per rank; exchange = 2 (R-1)/R * 4 np / bandwidth + 2 (R-1) * latency)"
grep '^PROJ' "$TMP/out.txt" | while read -r _ name np comp; do
  /usr/bin/python3 - "$name" "$np" "$comp" <<'EOF'
import sys
name, np_, comp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print(f"  {name}: compute per shard {comp * 1e3:.1f} ms, gradients {4 * np_ / 1e6:.1f} MB")
for bw_gbit, lat_us in ((10, 20), (100, 2)):
    bw = bw_gbit * 1e9 / 8
    row = []
    for R in (8, 64, 512):
        x = 2 * (R - 1) / R * 4 * np_ / bw + 2 * (R - 1) * lat_us * 1e-6
        row.append(f"R={R}: step {1e3 * (comp + x):8.1f} ms, efficiency {comp / (comp + x):5.1%}")
    print(f"    {bw_gbit:3d} Gb/s, {lat_us:2d} us: " + "; ".join(row))
EOF
done
