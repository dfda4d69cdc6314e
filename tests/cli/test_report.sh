#!/usr/bin/env bash
# End-to-end tests of `alim report`: the quick report renders, every figure is a valid PNG and
# SVG of plausible size, the HTML references only files that exist, the elasticity runs (E1, E2,
# E3; E4 from E2's cells) are cached and reused, and a bad config leaves no index.html behind.
. "$(dirname "$0")/lib.sh"
# tiny models on a shared machine: idle OpenMP threads must not spin
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

expect_exit 0 "quick report" -- "$ALIM" report --quick --out "$TMP/r" --json
expect_json "j['figures'] == 18 and j['tables'] >= 15" "summary counts"
expect_json "j['elasticity_cells']['total'] > 92 and j['elasticity_cells']['run'] == j['elasticity_cells']['total'] and j['elasticity_cells']['reused'] == 0 and not j['elasticity_cells']['data_reused']" "first run computes every cell"
cp "$TMP/stdout" "$TMP/first.json"
# the cells of each run, from the run directories' own summaries (E1 per seed, E2, E3)
read -r CELLS E1_SEED E3_CELLS <<<"$("$PYTHON" - "$TMP/r/cache" "$TMP/first.json" <<'PY'
import glob, json, sys
c = sys.argv[1]
e1 = json.load(open(glob.glob(c + "/resist-*/summary.json")[0]))["cells"]["total"]
e2 = json.load(open(glob.glob(c + "/rebound-*/summary.json")[0]))["cells"]["total"]
e3 = sum(json.load(open(f))["cells"]["total"] for f in glob.glob(c + "/scale-*/*/summary.json"))
t = json.load(open(sys.argv[2]))["elasticity_cells"]["total"]
assert t == e1 + e2 + e3, (t, e1, e2, e3)
print(t, e1 // 2, e3)
PY
)"
if [ -n "$E3_CELLS" ] && [ "$E3_CELLS" -gt 0 ]; then ok; else bad "cell counts of the runs do not add up"; fi
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
# the elasticity figures and tables (E1 per pair, E2 score and KL), referenced from the HTML
want = [f"elasticity_e1_pair{p}.{e}" for p in ("12", "23", "13") for e in ("png", "svg", "csv")]
want += [f"elasticity_e2_{n}.{e}" for n in ("score", "kl") for e in ("png", "svg")]
want += ["elasticity_e2_grid.csv", "elasticity_e1_curves.csv", "elasticity_e1_summary.csv"]
# E4 (from E2's cells) and E3 (elasticity versus scale: R and E_hat per part)
want += [f"elasticity_e4_coefficient.{e}" for e in ("png", "svg", "csv", "json")]
want += [f"elasticity_e3_{p}_{m}.{e}" for p in ("size", "tokens") for m in ("R", "ehat") for e in ("png", "svg")]
want += ["elasticity_e3_levels.csv", "elasticity_e3_scale.csv"]
missing = [w for w in want if w not in refs]
assert not missing, f"not referenced by the HTML: {missing}"
assert html.count("Verdict of this run: ") == 3 and re.search(r"Verdict of this run: (PASS|NULL|FAIL)</b>", html), "verdicts"
# the E4 and E3 verdicts and criteria come from the library's JSON, not from the report's text
import json
e4 = json.load(open(os.path.join(d, "elasticity_e4_coefficient.json")))
assert f"verdict of this analysis: {e4['verdict']}</b>" in html, "E4 verdict"
assert all(f"{k} {v['result']}" in html for k, v in e4["criteria"].items()), "E4 criteria"
assert "Spearman &rho; over (level, seed)" in html and "alim elastic scale --data DIR --run DIR" in html, "E3 caption"
import csv
lv = list(csv.DictReader(open(os.path.join(d, "elasticity_e3_levels.csv"))))
assert {r["part"] for r in lv} == {"size", "tokens"} and all(r["R_mean"] and r["e_hat"] for r in lv), "E3 levels"
co = list(csv.DictReader(open(os.path.join(d, "elasticity_e4_coefficient.csv"))))
assert co and all(float(r["l"]) > 0 and float(r["n_neg"]) <= 100 for r in co), "E4 rows"
for r in co:  # the caption states each n_pos's E_hat
    assert f"n<sub>pos</sub> = {int(float(r['n_pos']))} (k = {float(r['k']):.3g}): &Ecirc; = {float(r['e_hat']):.3g}" in html, "E4 caption"
if len(sys.argv) > 2:  # the quick grid: theta0 + 4 n_pos x 6 n_neg, 2 seeds; 3 pairs x 2 directions x 2 seeds
    import csv
    g = list(csv.DictReader(open(os.path.join(d, "elasticity_e2_grid.csv"))))
    assert len(g) == 25 and g[0]["row"] == "theta0" and all(r["seeds"] == "2" for r in g), "E2 grid"
    assert len(co) == 4 * 5 and len(lv) == 2 + 3, "E4: 4 n_pos x 5 n_neg; E3: 2 sizes + 3 budgets"
    c = list(csv.DictReader(open(os.path.join(d, "elasticity_e1_curves.csv"))))
    assert {(r["pair"], r["seed"], r["direction"]) for r in c} == {(p, s, x) for p in ("1-2", "2-3", "1-3") for s in ("1", "2") for x in ("forward", "inverse")}, "E1 curves"
    t = list(csv.DictReader(open(os.path.join(d, "elasticity_e1_pair12.csv"))))
    assert t and list(t[0])[:3] == ["step", "forward_mean_nats", "inverse_mean_nats"] and len(t[0]) == 7, "E1 pair table"
    cache = os.path.join(d, "cache")
    names = sorted(n for n in os.listdir(cache) if n != ".alim.lock")  # the cache's lock file (alim/io.h)
    assert [n.split("-")[0] for n in names] == ["data", "rebound", "resist", "scale"], f"cache holds {names}"
    assert os.path.isfile(os.path.join(cache, names[0], "manifest.json")), "data directory incomplete"
print("ok")
PY
if "$PYTHON" "$TMP/check.py" "$TMP/r" quick >"$TMP/py.out" 2>&1; then ok; else bad "report files: $(tail -3 "$TMP/py.out")"; fi

# a second run into the same directory reuses the cache: no cell is computed again and the
# numbers are the same
cp "$TMP/r/elasticity_e2_grid.csv" "$TMP/grid1.csv"; cp "$TMP/r/elasticity_e1_summary.csv" "$TMP/sum1.csv"
cp "$TMP/r/elasticity_e3_scale.csv" "$TMP/scale1.csv"; cp "$TMP/r/elasticity_e4_coefficient.csv" "$TMP/coef1.csv"
budgets1=$(stat -c %Y "$TMP"/r/cache/scale-*/cells/s1-budgets/result.json 2>/dev/null)
expect_exit 0 "quick report again" -- "$ALIM" report --quick --out "$TMP/r" --json
expect_json "j['elasticity_cells']['run'] == 0 and j['elasticity_cells']['reused'] == ${CELLS:-0} and j['elasticity_cells']['data_reused']" "re-run reuses every cell and the data"
if cmp -s "$TMP/grid1.csv" "$TMP/r/elasticity_e2_grid.csv" && cmp -s "$TMP/sum1.csv" "$TMP/r/elasticity_e1_summary.csv" &&
   cmp -s "$TMP/scale1.csv" "$TMP/r/elasticity_e3_scale.csv" && cmp -s "$TMP/coef1.csv" "$TMP/r/elasticity_e4_coefficient.csv"; then ok; else bad "re-run changed the elasticity numbers"; fi
# E3's own pretraining cells (the budgets) are reused too
if [ -n "$budgets1" ] && [ "$(stat -c %Y "$TMP"/r/cache/scale-*/cells/s1-budgets/result.json)" = "$budgets1" ]; then ok; else bad "E3 budget cell recomputed"; fi
if "$PYTHON" "$TMP/check.py" "$TMP/r" quick >"$TMP/py.out" 2>&1; then ok; else bad "re-run report files: $(tail -3 "$TMP/py.out")"; fi
# progress: one line per cell (reused) on stderr when asked for
expect_exit 0 "quick report with progress" -- env ALIM_PROGRESS=1 "$ALIM" report --quick --out "$TMP/r"
if [ "$(grep -cE 's[0-9]+-[^ ]*: reused' "$TMP/stderr")" -ge "${CELLS:-1}" ] && ! grep -qE 's[0-9]+-[^ ]*: done' "$TMP/stderr" &&
   grep -q "data: reused" "$TMP/stderr"; then ok; else bad "progress notes: $(grep -cE 's[0-9]+-[^ ]*: reused' "$TMP/stderr") reused lines"; fi
# --cache: another output directory with the first one's cache
expect_exit 0 "--cache" -- "$ALIM" report --quick --out "$TMP/r2" --cache "$TMP/r/cache" --json
expect_json "j['elasticity_cells']['run'] == 0 and j['elasticity_cells']['data_reused']" "--cache reuses the given cache"
if [ ! -e "$TMP/r2/cache" ] && cmp -s "$TMP/grid1.csv" "$TMP/r2/elasticity_e2_grid.csv"; then ok; else bad "--cache not used"; fi
# the elasticity config: fewer seeds and another grid reuse the data and E1's cells (seeds are
# not part of a run's identity) and run only the new E2 grid
cat >"$TMP/ecfg.json" <<JSON
{"elasticity": {"cache": "$TMP/r/cache", "resist": {"seeds": 1},
                "rebound": {"seeds": 1, "n_pos": [10, 20], "n_neg": [0, 8, 16, 24]}}}
JSON
expect_exit 0 "elasticity config" -- "$ALIM" report --quick --config "$TMP/ecfg.json" --out "$TMP/re" --json
expect_json "j['elasticity_cells']['total'] == ${E1_SEED:-0} + 1 + 2 * 2 + 2 * 4 + ${E3_CELLS:-0} and j['elasticity_cells']['reused'] == ${E1_SEED:-0} + ${E3_CELLS:-0} and j['elasticity_cells']['run'] == 13" "config: E1 and E3 reused, the new E2 grid computed"
if [ "$(wc -l <"$TMP/re/elasticity_e2_grid.csv")" -eq 10 ] && grep -q "1 seed" "$TMP/re/index.html"; then ok; else bad "config grid not applied"; fi
if "$PYTHON" "$TMP/check.py" "$TMP/re" >"$TMP/py.out" 2>&1; then ok; else bad "config report files: $(tail -3 "$TMP/py.out")"; fi
# no transformer runs at all
printf '{"elasticity": {"experiments": []}}' >"$TMP/none.json"
expect_exit 0 "no experiments" -- "$ALIM" report --quick --config "$TMP/none.json" --out "$TMP/rn" --json
expect_json "j['figures'] == 8 and j['elasticity_cells']['total'] == 0" "experiments [] runs no cells"
if [ ! -e "$TMP/rn/cache" ]; then ok; else bad "experiments [] made a cache"; fi
# E3 alone, from the first run's cache
printf '{"elasticity": {"experiments": ["scale"]}}' >"$TMP/e3.json"
expect_exit 0 "E3 only" -- "$ALIM" report --quick --config "$TMP/e3.json" --out "$TMP/r3" --cache "$TMP/r/cache" --json
expect_json "j['figures'] == 8 + 4 and j['elasticity_cells']['run'] == 0 and j['elasticity_cells']['reused'] == ${E3_CELLS:-0}" "experiments [scale]: E3's figures, every cell reused"
if cmp -s "$TMP/scale1.csv" "$TMP/r3/elasticity_e3_scale.csv" && [ ! -e "$TMP/r3/elasticity_e2_grid.csv" ]; then ok; else bad "E3 alone"; fi

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
expect_exit 0 "report with config" -- "$ALIM" report --quick --config "$TMP/cfg.json" --out "$TMP/rc" --cache "$TMP/r/cache"
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
            '{"bottleneck": |invalid JSON' \
            '{"elasticity": {"sed": 1}}|elasticity: unknown key "sed"' \
            '{"elasticity": {"rebound": {"n_neg": [5, 10]}}}|elasticity.rebound: "n_neg" needs at least 2 values, the first 0' \
            '{"elasticity": {"rebound": {"n_pos": [20, 10]}}}|"n_pos" must be increasing' \
            '{"elasticity": {"model": {"dim": 30, "heads": 4}}}|multiple of "heads"' \
            '{"elasticity": {"model": {"layerz": 2}}}|elasticity.model: unknown key "layerz"' \
            '{"elasticity": {"resist": {"seeds": 0}}}|"seeds" must be an integer' \
            '{"elasticity": {"resist": {"sft_docs": 5000}}}|pool' \
            '{"elasticity": {"rebound": {"sample_tokens": 500}}}|must not exceed the context' \
            '{"elasticity": {"experiments": ["E9"]}}|unknown experiment' \
            '{"elasticity": {"data": {"source": "web"}}}|"source" must be' \
            '{"elasticity": {"cache": 3}}|"cache" must be' \
            '{"elasticity": {"scale": {"seedz": 2}}}|elasticity.scale: unknown key "seedz"' \
            '{"elasticity": {"scale": {"sizes": [[2, 30, 4]]}}}|elasticity.scale: "sizes" entries must be' \
            '{"elasticity": {"scale": {"budget_model": 4}}}|elasticity.scale: "budget_model" .4. must name one of the 3 sizes' \
            '{"elasticity": {"scale": {"budgets": [1000]}}}|elasticity.scale: "budgets" needs at least 2' \
            '{"elasticity": {"scale": {"size_n_pos": [5000]}}}|elasticity.scale: the largest n_pos' \
            '{"elasticity": {"coefficient": {"bootstrapp": 5}}}|elasticity.coefficient: unknown key "bootstrapp"' \
            '{"elasticity": {"coefficient": {"max_n_neg": 10}}}|elasticity.coefficient: "max_n_neg" .10. leaves no n_neg' \
            '{"elasticity": {"experiments": ["coefficient"]}}|"coefficient" .E4. needs "rebound"'; do
  json=${case%%|*}; want=${case#*|}
  printf '%s' "$json" >"$TMP/bad.json"
  mkdir "$TMP/stale" && cp "$TMP/r"/*.* "$TMP/stale/"  # the report without its cache
  expect_exit 2 "bad config $want" -- "$ALIM" report --config "$TMP/bad.json" --out "$TMP/stale"
  expect_stderr "$want" "message for $want"
  expect_one_line_error "one line for $want"
  if cmp -s "$TMP/r/index.html" "$TMP/stale/index.html"; then ok; else bad "previous report changed by a rejected config"; fi
  rm -rf "$TMP/stale"
done
# a bad elasticity config on a fresh directory: nothing is written, no index.html
printf '{"elasticity": {"rebound": {"seedz": 2}}}' >"$TMP/bad.json"
expect_exit 2 "bad elasticity key, fresh dir" -- "$ALIM" report --quick --config "$TMP/bad.json" --out "$TMP/fresh"
expect_stderr 'unknown key "seedz"' "names the key"
if [ ! -e "$TMP/fresh/index.html" ]; then ok; else bad "index.html left by a rejected config"; fi
printf '{"elasticity": {"scale": {"sizes": [[1, 8, 2]], "budgetz": [1, 2]}}}' >"$TMP/bad.json"
expect_exit 2 "bad elasticity.scale key, fresh dir" -- "$ALIM" report --quick --config "$TMP/bad.json" --out "$TMP/fresh"
expect_stderr 'elasticity.scale: unknown key "budgetz"' "names the scale key"
expect_one_line_error "one line for the scale key"
if [ ! -e "$TMP/fresh/index.html" ] && [ ! -e "$TMP/fresh/cache" ]; then ok; else bad "index.html or cache left by a rejected scale config"; fi
# a failure while running (the cache cannot be made) removes the previous index.html
mkdir "$TMP/stale" && cp "$TMP/r"/*.* "$TMP/stale/"  # the report without its cache
expect_exit 1 "cache cannot be created" -- "$ALIM" report --quick --out "$TMP/stale" --cache /proc/alim-no/such
expect_one_line_error "cache failure is one line"
if [ ! -e "$TMP/stale/index.html" ]; then ok; else bad "a failed run left index.html"; fi
expect_exit 2 "missing config file" -- "$ALIM" report --config "$TMP/nope.json" --out "$TMP/x"
expect_exit 2 "unknown option" -- "$ALIM" report --bogus
expect_exit 2 "bad --threads" -- "$ALIM" report --quick --threads 0 --out "$TMP/x"
expect_exit 0 "help" -- "$ALIM" report --help
if grep -q -- "--cache DIR" "$TMP/stdout" && grep -q '"rebound"' "$TMP/stdout" && grep -q '"scale": {' "$TMP/stdout"; then ok; else bad "help lacks --cache / elasticity config"; fi
finish
