#!/usr/bin/env bash
# Runs every test of alim and adds up the counts. Each test prints a line
#     <name>: N passed, N failed
# as its last such line; a test that crashes or exits non-zero without failures counted
# is counted as one failure. The script's last line is the total, in the same form.
#
#   tests/test_*.c       C unit tests, built in build/, (ASan+UBSan) in build-asan/ and
#                        (clang, UBSan, -Werror: `make clang`) in build-clang/, whose build
#                        counts as one more check
#   tests/cli/test_*.sh  the alim program end to end (errors, exit codes, JSON)
#   tests/ref/test_*.py  independent oracles (numpy/scipy/torch from Debian's python3)
#   tests/pypi/test_*.py oracles from the model-file ecosystem (transformers, tokenizers,
#                        gguf from PyPI) in the venv scripts/pyvenv.sh creates on first use
#
# Environment: ALIM_TEST_FILTER=regex runs only matching tests; ALIM_SKIP_ASAN=1 skips
# the sanitizer builds; ALIM_SKIP_CLANG=1 skips the clang build.
set -uo pipefail
cd "$(dirname "$0")/.."
export ALIM="$PWD/build/alim"
export ALIM_ASAN="$PWD/build-asan/alim"
export PYTHON="${PYTHON:-/usr/bin/python3}"   # Debian's python3 has the oracle packages
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
# idle OpenMP threads sleep instead of spinning: the tests' models are tiny, and a spinning
# team on a machine that is busy with anything else slows a test down tenfold
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
# The CLI's --precision defaults to auto (bf16 on CPUs with native bf16): the suite pins fp32,
# whose bits are the same on every CPU, and the bf16 tests ask for bf16 explicitly.
export ALIM_PRECISION="${ALIM_PRECISION:-fp32}"
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
# every temporary file of the tests lives under $log, removed at the end whatever a test left
# behind (a test killed half-way once leaked 1.6 GB a run into /tmp and filled the disk)
mkdir "$log/tmp" && export TMPDIR="$log/tmp"
# the real-model tests write a few GB of checkpoints: say what the disk has, so that a failure
# for want of space reads as one
echo "note: $(df -h --output=avail "$TMPDIR" | tail -n 1 | tr -d ' ') free under $TMPDIR ($(df --output=target "$TMPDIR" | tail -n 1))"
total_pass=0 total_fail=0 failed_names=()

run() {  # run NAME CMD...
  local name=$1; shift
  if [ -n "${ALIM_TEST_FILTER:-}" ] && ! [[ $name =~ $ALIM_TEST_FILTER ]]; then return; fi
  local out="$log/out" start end rc
  start=$(date +%s.%N)
  "$@" >"$out" 2>&1
  rc=$?
  end=$(date +%s.%N)
  local line p f
  line=$(grep -E '^[A-Za-z0-9_./-]+: [0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
  if [ -n "$line" ]; then
    p=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/' <<<"$line")
    f=$(sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/' <<<"$line")
  else
    p=0 f=0
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; echo "(ran no check)" >>"$out"; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  printf '%-40s %5d passed, %3d failed  (%.1f s)\n' "$name" "$p" "$f" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
  if [ "$f" -ne 0 ]; then
    failed_names+=("$name")
    sed 's/^/    | /' "$out" | tail -n 60
    local first="$log/failed-${#failed_names[@]}"
    grep -E '^(FAIL|note|Traceback|alim: error)' "$out" | head -n 12 >"$first"
    [ -s "$first" ] || tail -n 8 "$out" >"$first"
  fi
}

for t in build/tests/test_*; do
  [ -x "$t" ] && run "$(basename "$t")" "$t"
done
if [ -z "${ALIM_SKIP_ASAN:-}" ]; then
  for t in build-asan/tests/test_*; do
    [ -x "$t" ] && run "asan/$(basename "$t")" "$t"
  done
fi
# the clang leg, when `make clang` has run: its build (warnings are errors there) as one
# check, then the C tests it built
clang_build() {
  if [ "$(cat build-clang/build.status)" = 0 ]; then echo "clang-build: 1 passed, 0 failed"; return 0; fi
  grep -E 'warning:|error:' build-clang/build.log | head -n 40
  echo "clang-build: 0 passed, 1 failed (log: build-clang/build.log)"
  return 1
}
if [ -z "${ALIM_SKIP_CLANG:-}" ] && [ -f build-clang/build.status ]; then
  run "clang/build" clang_build
  for t in build-clang/tests/test_*; do
    [ -x "$t" ] && run "clang/$(basename "$t")" "$t"
  done
fi
for t in tests/cli/test_*.sh; do
  [ -f "$t" ] && run "$(basename "$t")" bash "$t"
done
# the bf16 tests again as on a CPU without native bf16 (oneDNN capped below AVX512-BF16): auto
# is fp32 there and an explicit bf16 is refused with one line
if [ -x build/tests/test_lm_precision ]; then
  run "no-bf16/test_lm_precision" env ONEDNN_MAX_CPU_ISA=AVX512_CORE build/tests/test_lm_precision
  run "no-bf16/test_precision.sh" env ONEDNN_MAX_CPU_ISA=AVX512_CORE bash tests/cli/test_precision.sh
fi
# the bottleneck's end-to-end tests once more against the sanitizer build of the program
if [ -z "${ALIM_SKIP_ASAN:-}" ] && [ -x "$ALIM_ASAN" ]; then
  for t in tests/cli/test_bottleneck.sh tests/cli/test_simulate.sh tests/cli/test_elastic.sh tests/cli/test_asymptotics.sh; do
    [ -f "$t" ] && ALIM="$ALIM_ASAN" run "asan/$(basename "$t")" bash "$t"
  done
fi
for t in tests/ref/test_*.py; do
  [ -f "$t" ] && run "$(basename "$t")" "$PYTHON" "$t"
done

pypi_tests=()
for t in tests/pypi/test_*.py; do
  [ -f "$t" ] || continue
  if [ -n "${ALIM_TEST_FILTER:-}" ] && ! [[ $(basename "$t") =~ $ALIM_TEST_FILTER ]]; then continue; fi
  pypi_tests+=("$t")
done
if [ ${#pypi_tests[@]} -gt 0 ]; then
  if VENV_PY=$(scripts/pyvenv.sh); then
    for t in "${pypi_tests[@]}"; do run "$(basename "$t")" "$VENV_PY" "$t"; done
  else
    run "pyvenv.sh (PyPI oracles)" false
  fi
fi

# the failures once more at the end, where a reader of the last lines (a CI log's tail) sees them
for i in "${!failed_names[@]}"; do
  echo "---- ${failed_names[$i]}: its first failures ----"
  sed 's/^/    | /' "$log/failed-$((i + 1))"
done
if [ ${#failed_names[@]} -gt 0 ]; then echo "failed: ${failed_names[*]}"; fi
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
