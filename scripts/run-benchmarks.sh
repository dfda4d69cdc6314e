#!/usr/bin/env bash
# Runs every benchmark in bench/ side by side with its competitor; each prints its ratios.
# A bench_X.sh is the entry point when it exists (it may call its bench_X.py); otherwise
# bench_X.py runs with Debian's python3. BENCH=regex runs a subset.
set -uo pipefail
cd "$(dirname "$0")/.."
export ALIM="$PWD/build/alim"
PY=/usr/bin/python3
for b in bench/bench_*.sh bench/bench_*.py; do
  [ -f "$b" ] || continue
  stem=${b%.*}
  [ "${b##*.}" = py ] && [ -f "$stem.sh" ] && continue
  [ -n "${BENCH:-}" ] && ! [[ $b =~ $BENCH ]] && continue
  echo "== $b"
  case $b in
    *.sh) bash "$b" ;;
    *.py) "$PY" "$b" ;;
  esac
done
