#!/usr/bin/env bash
# End-to-end tests of `alim report`: the quick report renders, every figure is a valid PNG and
# SVG of plausible size, the HTML references only files that exist, and a bad config leaves no
# index.html behind.
. "$(dirname "$0")/lib.sh"

expect_exit 0 "quick report" -- "$ALIM" report --quick --out "$TMP/r" --json
expect_json "j['figures'] >= 5 and j['tables'] >= 5" "summary counts"
cat >"$TMP/check.py" <<'PY'
import os, re, sys, struct, xml.etree.ElementTree as ET
d = sys.argv[1]
html = open(os.path.join(d, "index.html"), encoding="utf-8").read()
refs = re.findall(r'(?:src|href)="([^"#:]+)"', html)
bad = [r for r in refs if not os.path.isfile(os.path.join(d, r))]
assert not bad, f"missing files referenced by the HTML: {bad}"
pngs = [r for r in refs if r.endswith(".png")]
assert len(pngs) >= 2, "fewer than two figures"
for p in pngs:
    b = open(os.path.join(d, p), "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", f"{p}: not a PNG"
    w, h = struct.unpack(">II", b[16:24])
    assert 400 <= w <= 4000 and 300 <= h <= 3000, f"{p}: implausible size {w}x{h}"
    assert len(b) > 10000, f"{p}: suspiciously small ({len(b)} bytes)"
for s in [r for r in refs if r.endswith(".svg")]:
    root = ET.parse(os.path.join(d, s)).getroot()
    assert root.tag.endswith("svg"), f"{s}: not SVG"
    assert len(list(root.iter())) > 50, f"{s}: nearly empty SVG"
for c in [r for r in refs if r.endswith(".csv")]:
    lines = open(os.path.join(d, c)).read().splitlines()
    assert len(lines) >= 2 and "," in lines[0], f"{c}: no header or rows"
    n = len(lines[0].split(","))
    assert all(len(l.split(",")) == n for l in lines[1:]), f"{c}: ragged"
assert not [f for f in os.listdir(d) if ".tmp." in f], "temporary files left behind"
print("ok")
PY
if "$PYTHON" "$TMP/check.py" "$TMP/r" >"$TMP/py.out" 2>&1; then ok; else bad "report files: $(tail -3 "$TMP/py.out")"; fi

# the asymptotics rows at n = 16, 64 reproduce the spec's table T5 (real N = e^{n Delta})
if "$PYTHON" - "$TMP/r/asymptotics_bon_vs_rl.csv" <<'PY'
import csv, sys
rows = {int(float(r["n"])): r for r in csv.DictReader(open(sys.argv[1]))}
t5 = {16: (1.416319773784, 0.4320027673291, 0.7504309812840), 64: (1.475877860853, 0.4825448052563, 1.322550389670)}
for n, (e, kl, tot) in t5.items():
    r = rows[n]
    assert abs(float(r["bon_reward_per_token"]) - e) < 1e-10, n
    assert abs(float(r["bon_kl_per_token_nats"]) - kl) < 1e-10, n
    assert abs(float(r["kl_bon_to_rl_total_nats"]) - tot) < 1e-9, n
PY
then ok; else bad "asymptotics CSV does not match T5"; fi

# a config overrides the defaults
cat >"$TMP/cfg.json" <<'JSON'
{"bottleneck": {"m_values": [10, 100], "replicates": 1, "test_items": 1000, "log2M_max": 8,
  "scenario": {"M": 2, "m": 100, "contexts": [{"weight": 1, "cognitive": {"type": "bsc", "p": 0.1},
                                               "articulation": {"type": "bsc", "p": 0.2}}]}}}
JSON
expect_exit 0 "report with config" -- "$ALIM" report --config "$TMP/cfg.json" --out "$TMP/rc"
if [ "$(wc -l <"$TMP/rc/bottleneck_risk_vs_m.csv")" -eq 3 ] && [ "$(wc -l <"$TMP/rc/bottleneck_required_capacity.csv")" -eq 9 ]; then ok; else bad "config sizes not applied"; fi

# bad configs: clear error, exit 2; the config is checked before anything is written, so the
# directory keeps whatever it had (here a previous complete report) untouched
for case in '{"bottlenek": {}}|unknown key "bottlenek"' \
            '{"bottleneck": {"replicates": "many"}}|"replicates" must be a number' \
            '{"bottleneck": {"scenario": {"M": 2, "m": 10, "contexts": [{"weight": 1, "cognitive": {"type": "bsc", "p": 1.5}, "articulation": {"type": "bsc", "p": 0.1}}]}}}|not a probability' \
            '{"bottleneck": {"m_values": [0]}}|m_values' \
            '{"asymptotics": {"p": [0.5, 0.6], "r": [0, 1]}}|sum to' \
            '{"asymptotics": {"p": [0.5, 0.5]}}|together' \
            '{"asymptotics": {"delta_nats": -1}}|delta_nats' \
            '{"bottleneck": |invalid JSON'; do
  json=${case%%|*}; want=${case#*|}
  printf '%s' "$json" >"$TMP/bad.json"
  cp -r "$TMP/r" "$TMP/stale"
  expect_exit 2 "bad config $want" -- "$ALIM" report --config "$TMP/bad.json" --out "$TMP/stale"
  expect_stderr "$want" "message for $want"
  expect_one_line_error "one line for $want"
  if cmp -s "$TMP/r/index.html" "$TMP/stale/index.html"; then ok; else bad "previous report changed by a rejected config"; fi
  rm -rf "$TMP/stale"
done
expect_exit 2 "missing config file" -- "$ALIM" report --config "$TMP/nope.json" --out "$TMP/x"
expect_exit 2 "unknown option" -- "$ALIM" report --bogus
finish
