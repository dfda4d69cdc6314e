#!/usr/bin/env bash
# bench_lm.sh — alim vs PyTorch training throughput (see bench/bench_lm.py).
#   bench/bench_lm.sh            the two small configs and GPT-2 124M, environment's BLAS kernel
#   bench/bench_lm.sh small      only the two small configs
# Extra arguments after the first go to bench_lm.py (e.g. --coretype SkylakeX --threads 2).
# PYPI_TORCH_PYTHON=/path/to/venv/bin/python adds a column for PyPI's torch (what users
# install: pip install torch in a venv); the table also gives alim's peak RSS against the
# memory it needs by construction (params + grads + AdamW moments + activations).
set -euo pipefail
cd "$(dirname "$0")/.."
configs=${1:-all}
shift || true
exec /usr/bin/python3 bench/bench_lm.py --configs "$configs" "$@"
