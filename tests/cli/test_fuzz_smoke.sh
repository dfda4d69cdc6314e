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
# the harnesses' scratch files (each input is written to a file, then parsed): in memory
# when /dev/shm is there, as `make fuzz` has it (on this machine's disk a harness runs 50
# times slower); a directory of its own, removed at exit, since a crashed run skips the
# harness's own cleanup
SCRATCH=$(mktemp -d "$( [ -w /dev/shm ] && echo /dev/shm || echo "$TMP")/alim-fuzz-smoke.XXXXXX")
trap 'rm -rf "$TMP" "$SCRATCH"' EXIT
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
  # -max_len: the largest seeds (tokenizer.json, GGUF models) are about 5.5 kB
  ALIM_FUZZ_DIR="$SCRATCH" "$bin" -runs="$RUNS" -seed=1 -max_len=8192 -artifact_prefix="$TMP/crash-$h-" "$TMP/work/$h" "$TMP/seeds/$h" >"$TMP/$h.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && grep -q "^Done $RUNS runs" "$TMP/$h.log"; then ok
  else bad "$h: exit $rc: $(grep -m2 -E 'ERROR|SUMMARY|runtime error' "$TMP/$h.log")"; fi
done
# one harness per parser: CSV (channel, distribution), scenario and report JSON, safetensors,
# checkpoint config (GPT-2 and Llama family), tokenizer files, data, run directories,
# classifier, corpus; GGUF files, GGUF models, tokenizer.json, GGUF tokenizer parts, chat
# templates
for h in fuzz_gguf fuzz_gguf_model fuzz_tokenizer_json fuzz_tokenizer_parts fuzz_chat_template; do
  if [ -f "fuzz/$h.c" ]; then ok; else bad "no harness $h"; fi
done
if [ "$n" -ge 16 ]; then ok; else bad "only $n harnesses"; fi
finish
