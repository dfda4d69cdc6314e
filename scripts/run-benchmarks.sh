#!/usr/bin/env bash
# Runs every benchmark in bench/ side by side with its competitor; each prints its ratios.
set -uo pipefail
cd "$(dirname "$0")/.."
export ALIM="$PWD/build/alim"
PY=/usr/bin/python3
for b in bench/bench_*.py; do
  [ -f "$b" ] || continue
  echo "== $b"
  "$PY" "$b"
done
for b in bench/bench_*.sh; do
  [ -f "$b" ] || continue
  echo "== $b"
  bash "$b"
done
