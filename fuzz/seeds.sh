#!/usr/bin/env bash
# seeds.sh OUTDIR — materialises the committed seed corpora fuzz/corpus/<harness>/ into
# OUTDIR/<harness>/: text seeds are copied, binary ones (safetensors, classifier files) are
# committed as hex text (*.hex) and decoded here, so the repository holds no binary file.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=$1
for d in "$here"/corpus/*/; do
  h=$(basename "$d")
  mkdir -p "$out/$h"
  for f in "$d"*; do
    [ -f "$f" ] || continue
    case $f in
      *.hex) xxd -r -p "$f" >"$out/$h/$(basename "$f" .hex)" ;;
      *) cp "$f" "$out/$h/" ;;
    esac
  done
done
