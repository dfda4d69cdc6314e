#!/usr/bin/env bash
# pyvenv.sh — prints the path of a Python interpreter that has the PyPI oracles alim's
# model-file tests compare against (transformers, tokenizers, safetensors, gguf), creating
# the virtual environment on first use.
#
# The venv sits on top of Debian's python3 (--system-site-packages) so that it reuses
# Debian's python3-torch and numpy; it lives outside the checkout, keyed by the pinned
# requirement list, so a fresh clone (and CI) reuses it and a change of pins makes a new one:
#     ${ALIM_VENV_ROOT:-$HOME/.cache/alim}/venv-<hash>
# transformers 4.46 is the newest release that still runs on Debian 12's torch 1.13; it has
# Llama (incl. llama3 rope scaling), Qwen2, Mistral and its own GGUF loader (which needs
# accelerate). Usage:  PY=$(scripts/pyvenv.sh) && "$PY" tests/ref/test_x.py
set -euo pipefail
reqs=(
  "transformers==4.46.3"
  "tokenizers==0.20.3"
  "safetensors==0.4.5"
  "gguf==0.19.0"
  "accelerate==0.34.2"
  "jinja2==3.1.4"
  "cffi==1.17.1"
  "pytest==8.3.4"
)
root=${ALIM_VENV_ROOT:-$HOME/.cache/alim}
hash=$(printf '%s\n' "${reqs[@]}" | sha256sum | cut -c1-12)
venv="$root/venv-$hash"
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  mkdir -p "$root"
  # one creator at a time: parallel test runs wait for the first to finish
  exec 9>"$root/.venv-$hash.lock"
  flock 9
  if [ ! -f "$venv/.complete" ]; then
    echo "pyvenv: creating $venv (PyPI: ${reqs[*]})" >&2
    rm -rf "$venv"
    /usr/bin/python3 -m venv --system-site-packages "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "${reqs[@]}" >&2
    touch "$venv/.complete"
  fi
fi
echo "$venv/bin/python"
