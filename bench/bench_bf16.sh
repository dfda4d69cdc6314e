#!/usr/bin/env bash
# Benchmark of the bf16 matrix product (not a test; docs/lm.md, "bf16 kernel"): the engine's
# products on GPT-2 124M's shapes (B*T = 256 and 1024 rows, C = 768: qkv 2304, attention
# projection 768, MLP 3072 and back, the 50257-token tied head) and SmolLM2-135M's (1024 rows,
# C = 576: q 576, k/v 192, o, gate/up 1536, down, the 49152-token head), forward, dinp and dW
# each, through lm_gemm (OpenBLAS fp32), oneDNN's fp32 matmul, lm_gemm_bf16 with fp32 inputs
# (their rounding to bf16 included) and with the weight already in bf16; the peaks on 4096^3;
# GFLOP/s, the fraction of the peak, the ratio to OpenBLAS, and per model one training step's
# products weighted by the layer count. bench/bench_bf16.c is the timing driver, linked to
# libalim.a. Environment: ALIM (build/alim; its directory holds libalim.a), RUNS (5, medians),
# OMP_NUM_THREADS (all CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
ALIM=${ALIM:-build/alim}
RUNS=${RUNS:-5}
LIB="$(dirname "$ALIM")/libalim.a"
DIR=${BENCH_DIR:-/tmp/alim-bench}
mkdir -p "$DIR"
DRV="$DIR/bench_bf16"
[ -f "$LIB" ] || { echo "bench_bf16: $LIB missing (make first)" >&2; exit 1; }
if ! nm "$LIB" 2>/dev/null | grep ' U dnnl_primitive_execute' >/dev/null; then
  echo "bench_bf16: $LIB was built without oneDNN (libdnnl-dev; make DNNL=auto): nothing to compare"
  exit 0
fi
# shellcheck disable=SC2046
cc -std=gnu11 -O2 -fopenmp -Iinclude $(pkg-config --cflags openblas) -o "$DRV" bench/bench_bf16.c "$LIB" \
  $(pkg-config --libs libcjson openblas plplot libpcre2-8 libutf8proc zlib lapacke) -ldnnl -lm

flags=$(grep -m1 '^flags' /proc/cpuinfo)
has() { [[ " $flags " == *" $1 "* ]] && echo yes || echo no; }
# the OpenBLAS kernel alim's main picks (docs/design.md, "BLAS kernel selection"): Debian's
# OpenBLAS 0.3.21 falls back to SSE3 kernels on recent CPUs unless told
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if [ "$(has avx512f)$(has avx512cd)$(has avx512bw)$(has avx512dq)$(has avx512vl)" = yesyesyesyesyes ]; then
    export OPENBLAS_CORETYPE=SkylakeX
  elif [ "$(has avx2)$(has fma)" = yesyes ]; then
    export OPENBLAS_CORETYPE=Haswell
  fi
fi
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(getconf _NPROCESSORS_ONLN) CPUs," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "cpu flags: avx512f $(has avx512f), avx512_bf16 $(has avx512_bf16), amx_bf16 $(has amx_bf16), amx_tile $(has amx_tile);" \
     "OpenBLAS core ${OPENBLAS_CORETYPE:-unset}; oneDNN $(dpkg-query -W -f='${Version}' libdnnl-dev 2>/dev/null || echo '?')"
"$DRV" "$RUNS"
