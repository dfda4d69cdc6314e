#!/usr/bin/env bash
# test_fuzz_smoke.sh — a short run of every libFuzzer harness (fuzz/fuzz_*.c, one per input
# parser) from its committed seeds: each must build, load its seeds and survive 2,000
# mutated inputs under ASan + UBSan (a crash, a sanitizer report, an allocation beyond
# libFuzzer's limit or an error without a message fails). The seeds include the inputs of
# fixed defects (fuzz/corpus/*/regress-*), so the smoke is also their regression test. The
# harnesses are built (incrementally) with `make fuzz-build` into $FUZZ_BUILD (default
# build/fuzz); the campaign is `make fuzz` (docs/hardening.md).
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

FUZZ_BUILD=${FUZZ_BUILD:-build/fuzz}
RUNS=${FUZZ_SMOKE_RUNS:-2000}
if ! command -v clang >/dev/null; then
  bad "clang is not installed (scripts/install-deps.sh installs it)"
  finish; exit
fi
if make -s --no-print-directory FUZZ_BUILD="$FUZZ_BUILD" fuzz-build >"$TMP/build.log" 2>&1; then ok
else bad "make fuzz-build failed: $(grep -m3 -E 'error' "$TMP/build.log")"; finish; exit; fi
fuzz/seeds.sh "$TMP/seeds" || bad "fuzz/seeds.sh failed"

n=0
for src in fuzz/fuzz_*.c; do
  h=$(basename "$src" .c)
  n=$((n + 1))
  bin="$FUZZ_BUILD/$h"
  if [ ! -x "$bin" ]; then bad "$h: not built"; continue; fi
  # every harness has seeds, and they are read (a seed that crashes is a finding as well)
  nseeds=$(find "$TMP/seeds/$h" -type f 2>/dev/null | wc -l)
  if [ "$nseeds" -ge 1 ]; then ok; else bad "$h: no seeds in fuzz/corpus/$h"; fi
  mkdir -p "$TMP/work/$h"
  ALIM_FUZZ_DIR="$TMP" "$bin" -runs="$RUNS" -seed=1 -max_len=4096 -artifact_prefix="$TMP/crash-$h-" "$TMP/work/$h" "$TMP/seeds/$h" >"$TMP/$h.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -q "^Done $RUNS runs" "$TMP/$h.log"; then ok
  else bad "$h: exit $rc: $(grep -m2 -E 'ERROR|SUMMARY|runtime error' "$TMP/$h.log")"; fi
done
# one harness per parser of the brief: CSV (channel, distribution), scenario and report JSON,
# safetensors, checkpoint config, tokenizer files, data, run directories, classifier, corpus
if [ "$n" -ge 11 ]; then ok; else bad "only $n harnesses"; fi
finish
