#!/usr/bin/env bash
# bench_lm_interop.sh — runs bench/bench_lm_interop.py in a venv that adds PyPI's
# transformers, tokenizers and safetensors on top of Debian's python3-torch.
# Not part of CI, nor of `make bench` (which runs every bench/bench_*.sh): it downloads
# packages from PyPI, so it runs only when asked: `make interop`, or
#   ALIM_INTEROP=1 bench/bench_lm_interop.sh          (VENV=dir to choose where)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${ALIM_INTEROP:-}" ]; then
  echo "bench_lm_interop: skipped (needs PyPI packages; run 'make interop' or ALIM_INTEROP=1 $0)"
  exit 0
fi
VENV=${VENV:-build/interop-venv}
if [ ! -x "$VENV/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$VENV"
  "$VENV/bin/pip" install -q "transformers==4.38.2" "tokenizers<0.16" "safetensors<0.5" "numpy<2"
fi
ALIM=${ALIM:-build/alim} "$VENV/bin/python" bench/bench_lm_interop.py
