#!/usr/bin/env bash
# A real-browser check of the quick report: headless Chromium loads index.html from a file URL.
# Every image must have loaded (a copy of the page with a load hook reports broken images
# through the dumped DOM), and a screenshot of the page must not be blank.
. "$(dirname "$0")/lib.sh"
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
  echo "chromium not installed (scripts/install-deps.sh installs it)" >&2
  bad "chromium missing"
  finish
  exit 1
fi
chrome() {
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-dev-shm-usage --user-data-dir="$TMP/profile" \
    --allow-file-access-from-files "$@" 2>>"$TMP/chrome.log"
}
expect_exit 0 "quick report" -- "$ALIM" report --quick --out "$TMP/r"
# the same page plus a hook that counts images that failed to load
sed 's|</body>|<script>window.addEventListener("load",function(){var a=Array.from(document.images);document.body.setAttribute("data-images",a.length);document.body.setAttribute("data-broken",a.filter(function(i){return !(i.complete\&\&i.naturalWidth>0)}).length);});</script></body>|' \
  "$TMP/r/index.html" >"$TMP/r/check.html"
chrome --virtual-time-budget=10000 --dump-dom "file://$TMP/r/check.html" >"$TMP/dom.html"
images=$(grep -o 'data-images="[0-9]*"' "$TMP/dom.html" | grep -o '[0-9]*')
broken=$(grep -o 'data-broken="[0-9]*"' "$TMP/dom.html" | grep -o '[0-9]*')
if [ -n "$images" ] && [ "$images" -ge 2 ] && [ "$broken" = 0 ]; then ok; else bad "browser: images=$images broken=$broken ($(tail -2 "$TMP/chrome.log"))"; fi
# the control: a missing image IS reported as broken, so the check can fail
sed 's|src="bottleneck_risk_vs_m.png"|src="no-such-figure.png"|' "$TMP/r/check.html" >"$TMP/r/check2.html"
chrome --virtual-time-budget=10000 --dump-dom "file://$TMP/r/check2.html" >"$TMP/dom2.html"
broken2=$(grep -o 'data-broken="[0-9]*"' "$TMP/dom2.html" | grep -o '[0-9]*')
if [ "$broken2" = 1 ]; then ok; else bad "control with a missing image: broken=$broken2"; fi
# screenshot, and a check that it is not blank
chrome --window-size=1200,1800 --hide-scrollbars --virtual-time-budget=10000 --screenshot="$TMP/shot.png" \
  "file://$TMP/r/index.html" >/dev/null
cat >"$TMP/blank.py" <<'PY'
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", b[16:24])
pos, idat = 8, b""
while pos < len(b):
    n, t = struct.unpack(">I4s", b[pos:pos + 8])
    if t == b"IDAT":
        idat += b[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
distinct = len(set(raw))
mid = sum(1 for x in raw if x not in (0, 255)) / len(raw)
print(f"{w}x{h}, {distinct} distinct byte values, {100 * mid:.1f}% not 0/255")
assert w >= 800 and h >= 600, "screenshot too small"
assert distinct > 40 and mid > 0.005, "screenshot looks blank"
PY
if "$PYTHON" "$TMP/blank.py" "$TMP/shot.png" >"$TMP/blank.out" 2>&1; then ok; else bad "screenshot: $(cat "$TMP/blank.out" | tail -2)"; fi
cat "$TMP/blank.out"
[ -n "${ALIM_KEEP_SCREENSHOT:-}" ] && cp "$TMP/shot.png" "$ALIM_KEEP_SCREENSHOT"
finish
