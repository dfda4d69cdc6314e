#!/usr/bin/env bash
# Installs the Debian packages alim needs to build and test, if any is missing.
# Idempotent and quiet when everything is present; needs root (or sudo) otherwise.
# Extra package sets: ALIM_DEPS_EXTRA="..." scripts/install-deps.sh
set -euo pipefail
pkgs=(build-essential pkg-config libcjson-dev libopenblas-dev libplplot-dev plplot-driver-cairo
      python3 python3-numpy python3-scipy python3-torch python3-venv libpcre2-dev libutf8proc-dev clang
      libclang-rt-dev libomp-dev xxd help2man python3-dev libopenmpi-dev openmpi-bin
      zlib1g-dev liblapacke-dev libdnnl-dev
      fortunes bible-kjv jargon-text chromium bc time ${ALIM_DEPS_EXTRA:-})
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
