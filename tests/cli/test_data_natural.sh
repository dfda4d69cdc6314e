#!/usr/bin/env bash
# test_data_natural.sh — `alim data natural` reads its packages' files itself (no program is
# run): the Bible from bible-kjv-text's data file (--bible), the Jargon File gzip-compressed
# or plain through zlib (--jargon). Oracles: the `bible` program and zcat.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

# missing or damaged inputs: exit 2, one error line naming the package or the file
expect_exit 2 "no bible data file" -- "$ALIM" data natural --out "$TMP/n0" --bible "$TMP/none.data"
expect_one_line_error "no bible data file"; expect_stderr "package 'bible-kjv-text' is missing" "names the package"
printf 'EC01 not a data file' >"$TMP/bad.data"
if [ -d /usr/share/games/fortunes ]; then
  expect_exit 2 "damaged bible data file" -- "$ALIM" data natural --out "$TMP/n0" --bible "$TMP/bad.data"
  expect_one_line_error "damaged bible data file"; expect_stderr "$TMP/bad.data: not a bible-kjv data file" "names the file"
fi
if [ -f /usr/share/doc/jargon-text/jargon.txt.gz ] && [ -f /usr/lib/bible.data ] && [ -d /usr/share/games/fortunes ]; then
  head -c 50000 /usr/share/doc/jargon-text/jargon.txt.gz >"$TMP/cut.gz"
  expect_exit 2 "truncated gzip" -- "$ALIM" data natural --out "$TMP/n0" --jargon "$TMP/cut.gz"
  expect_one_line_error "truncated gzip"; expect_stderr "$TMP/cut.gz: cannot decompress" "names the file"
  if [ -e "$TMP/n0" ]; then bad "a failed build left $TMP/n0"; else ok; fi
  # gzip and plain give the same directory (zcat -f semantics); small sizes keep it fast
  zcat /usr/share/doc/jargon-text/jargon.txt.gz >"$TMP/jargon.txt"
  small=(--pretrain-bytes 200000 --pool-docs 300 --test-docs 64 --classifier-docs 200)
  expect_exit 0 "natural, gzip jargon" -- "$ALIM" data natural --out "$TMP/gz" "${small[@]}"
  expect_exit 0 "natural, plain jargon" -- "$ALIM" data natural --out "$TMP/plain" "${small[@]}" --jargon "$TMP/jargon.txt"
  for f in pretrain.txt pool_c1.txt pool_c2.txt pool_c3.txt test_mix.txt classifier.nb; do
    if cmp -s "$TMP/gz/$f" "$TMP/plain/$f"; then ok; else bad "$f differs between gzip and plain jargon"; fi
  done
  # the Bible component holds the verses of `bible -f`, references removed
  if command -v bible >/dev/null; then
    bible -f 'Gen1:1-Rev22:21' 2>/dev/null | sed -E 's/^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ +//' >"$TMP/verses.txt"
    "$PYTHON" - "$TMP/gz/pool_c2.txt" "$TMP/verses.txt" <<'PY' && ok || bad "pool_c2 windows are not text of bible -f"
import sys
verses = open(sys.argv[2], 'rb').read()
docs = [d for d in open(sys.argv[1], 'rb').read().split(b'<|endoftext|>') if d.strip(b'\n')]
# each document is a 128-byte window of the text (plus the separator's newline)
bad = [d for d in docs if d.strip(b'\n')[:100] not in verses]
sys.exit(1 if bad or len(docs) < 300 else 0)
PY
  else
    echo "note: bible program missing: verse oracle skipped (install bible-kjv)"
  fi
else
  echo "note: natural-source tests skipped (install fortunes bible-kjv jargon-text)"
fi
finish
