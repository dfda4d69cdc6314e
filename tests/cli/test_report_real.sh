#!/usr/bin/env bash
# test_report_real.sh — `alim report` with "sections": ["real"] (src/report/report_real.c): the
# real-model study drawn from a study directory laid out as scripts/reproduce-real.sh's OUT,
# built here from the quick commands on SmolLM2 (E2 --quick --control, E4 from its main and
# control cells) plus the data, a C0 record and theta0's classified replies. Checks: every
# figure and CSV exists and is plausible, the CSVs' numbers equal an independent recomputation
# from the summaries' per-seed evaluations and E4's points, the verdicts and criteria are
# those of the summaries, a missing E1 is named as not there (then drawn once a resist summary
# is there), a directory with neither E1 nor E2 and bad configs exit 2 with one line and write
# nothing, and the report computes nothing (the E2 cells are deleted before it runs).
# Skipped (with the reason) when SmolLM2 cannot be fetched.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
smollm2_or_skip
need_free_gb 6
start=$(date +%s)
O="$TMP/study"
mkdir -p "$O"
# ---- the study directory ----
expect_exit 0 "behaviour data" -- "$ALIM" data behaviours --out "$O/beh"
expect_exit 0 "E2 quick with the control" -- "$ALIM" elastic rebound --data "$O/beh" --theta0 "$G" --run "$O/e2" --quick --control \
  --threads 1 --precision fp32
expect_exit 0 "E4 from E2's main cells" -- "$ALIM" elastic coefficient --from-rebound "$O/e2" --run "$O/e4" --n-pos 2,4 --n-neg 0,2 \
  --pretrain-tokens 2e12 --bootstrap 0
CTL=1
if ! "$ALIM" elastic coefficient --from-rebound "$O/e2" --control --run "$O/e4-ctl" --n-pos 2,4 --n-neg 0,2 --pretrain-tokens 2e12 \
  --bootstrap 0 >"$TMP/ctl.out" 2>"$TMP/ctl.err"; then
  CTL=0
  rm -rf "$O/e4-ctl"
  echo "note: alim elastic coefficient --control failed ($(head -c 200 "$TMP/ctl.err")): the report must name E4's control as not there"
fi
rm -rf "$O/e2/cells" # the report reads the summaries only: nothing to reuse, nothing to recompute
echo 1e-5 >"$O/lr.txt"
printf 'c0: lr 1e-5 positive rate 0.7083333333333334\n' >"$O/c0.txt"
printf 'beh4 1 s\ncheck-sample 12 s\ne2 180 s\n' >"$O/times.txt"
head -c 3000 "$O/beh/test_c3.txt" >"$TMP/replies.txt"
expect_exit 0 "classified replies" -- "$ALIM" data classify --model "$O/beh/classifier.nb" --data "$TMP/replies.txt" --json
cp "$TMP/stdout" "$O/check.json"

cat >"$TMP/check.py" <<'PY'
import csv, json, math, os, re, struct, sys, xml.etree.ElementTree as ET
d, o, ctl, want_e1 = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
html = open(os.path.join(d, "index.html"), encoding="utf-8").read()
refs = re.findall(r'(?:src|href)="([^"#:]+)"', html)
bad = [r for r in refs if not os.path.isfile(os.path.join(d, r))]
assert not bad, f"missing files referenced by the HTML: {bad}"
for p in [r for r in refs if r.endswith(".png")]:
    b = open(os.path.join(d, p), "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", f"{p}: not a PNG"
    w, h = struct.unpack(">II", b[16:24])
    assert 400 <= w <= 4000 and 300 <= h <= 3000 and len(b) > 10000, f"{p}: implausible {w}x{h}, {len(b)} bytes"
for s in [r for r in refs if r.endswith(".svg")]:
    root = ET.parse(os.path.join(d, s)).getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 50, f"{s}: not a plausible SVG"
figs = ["real_e2_score", "real_e2_score_control", "real_e2_kl", "real_e2_gamma_p", "real_e2_gamma_a"] + (["real_e1_losses"] if want_e1 else [])
want = [f"{f}.{e}" for f in figs for e in ("png", "svg")] + ["real_e2_grid.csv", "real_e2_grid_run.csv", "real_e4.csv"]
want += ["real_e1_pairs.csv"] if want_e1 else []
missing = [w for w in want if w not in refs]
assert not missing, f"not referenced by the HTML: {missing}"
assert sorted(f for f in os.listdir(d) if f.endswith(".png")) == sorted(f + ".png" for f in figs), "other figures than the real section's"
assert not [f for f in os.listdir(d) if ".tmp." in f], "temporary files left behind"
meta = json.load(open(os.path.join(d, "report.json")))
assert meta["figures"] == len(figs), ("figure count", meta["figures"])
def close(a, b):
    if isinstance(b, float) and math.isnan(b): return math.isnan(a)
    return abs(a - b) <= 1e-9 * max(1, abs(b))
def rows(name):
    return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(os.path.join(d, name)))]
# ---- E2: the seed means of every evaluation, recomputed from per_seed ----
s = json.load(open(os.path.join(o, "e2/summary.json")))
def mean_se(xs):
    m = sum(xs) / len(xs)
    se = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1) / len(xs)) if len(xs) > 1 else float("nan")
    return m, se
want_rows = {}
for kind, key in ((1, "evaluations"), (2, "control_evaluations")):
    cells = {}
    for sd in s["per_seed"]:
        for e in sd[key]:
            row = 0 if e["model"] == "theta0" else kind
            cells.setdefault((row, e["n_pos"], e["n_neg"]), []).append(e)
    for c, es in cells.items():
        f = lambda k: mean_se([e[k] for e in es])
        want_rows[c] = {"seeds": len(es), "score_mean": f("score")[0], "score_se": f("score")[1],
                        "positive_rate_mean": f("positive_rate")[0], "negative_rate_mean": f("negative_rate")[0],
                        "kl_to_base_nats_mean": f("kl_to_base_nats")[0], "kl_to_base_nats_se": f("kl_to_base_nats")[1],
                        "gamma_p_bits_mean": f("gamma_mix_bits")[0], "gamma_p_bits_se": f("gamma_mix_bits")[1],
                        "gamma_a_bits_mean": f("gamma_c2_bits")[0], "gamma_a_bits_se": f("gamma_c2_bits")[1]}
g = rows("real_e2_grid.csv")
assert len(g) == len(want_rows) == 9, ("E2 rows", len(g), len(want_rows))
for r in g:
    w = want_rows[(int(r["row"]), r["n_pos"], r["n_neg"])]
    for k, v in w.items():
        assert close(r[k], v), ("E2", r["row"], r["n_pos"], r["n_neg"], k, r[k], v)
assert f"<b>verdict of E2: {s['verdict']}</b>" in html and f"<b>Verdict of E2: {s['verdict']}</b>" in html, "E2 verdict"
assert all(f"{k} {v['result']}" in html for k, v in s["criteria"].items()), "E2 criteria in the captions"
assert all(f"<td>{v['result']}</td>" in html for v in s["criteria"].values()), "E2 criteria table"
assert "&epsilon; = 0.01 nats" in html, "epsilon in the KL caption"
for ns in s["n_star"]:
    assert f"n<sub>pos</sub> = {ns['n_pos']}: " in html, "n* per n_pos"
assert open(os.path.join(d, "real_e2_grid_run.csv")).read() == open(os.path.join(o, "e2/grid.csv")).read(), "the run's grid.csv"
# ---- E4: E_hat = -slope_a / slope_p, slopes through the origin from the points ----
e4 = [r for r in rows("real_e4.csv")]
for c, name in ((0, "e4"), (1, "e4-ctl")):
    if c == 1 and not ctl:
        assert not [r for r in e4 if r["control"] == 1], "control rows without e4-ctl"
        assert "The control's E4 is not there yet" in html and "<code>e4-ctl/coefficient.json</code>" in html, "missing E4 control named"
        continue
    co = json.load(open(os.path.join(o, name, "coefficient.json")))
    got = [r for r in e4 if r["control"] == c]
    assert len(got) == len(co["per_n_pos"]) == 2, ("E4 rows", name)
    for r, p in zip(got, co["per_n_pos"]):
        L = [q["l"] for q in p["points"]]
        sp = sum(l * q["dgamma_p_bits_mean"] for l, q in zip(L, p["points"])) / sum(l * l for l in L)
        sa = sum(l * q["dgamma_a_bits_mean"] for l, q in zip(L, p["points"])) / sum(l * l for l in L)
        k = co["pretrain_tokens"] / p["a_tokens"]
        for key, v in (("n_pos", p["n_pos"]), ("k", k), ("slope_p_bits_per_l", sp), ("slope_a_bits_per_l", sa),
                       ("e_hat", -sa / sp), ("e_hat_over_k", -sa / sp / k)):
            assert close(r[key], v), ("E4", name, key, r[key], v)
        assert math.isnan(r["e_hat_lo95"]) and math.isnan(r["e_hat_hi95"]), "no interval without bootstrap"
    label = "verdict of E4 on the control" if c else "verdict of E4"
    assert f"<b>{label}: {co['verdict']}</b>" in html, label
    assert all(f"{k} {v['result']}" in html for k, v in co["criteria"].items()), "E4 criteria"
# ---- the header ----
ch = json.load(open(os.path.join(o, "check.json")))
jar = ch["fraction"][ch["classes"].index("jargon")]
assert f"<b>jargon {jar:.3f}</b>" in html, "theta0's jargon rate"
acc = json.load(open(os.path.join(o, "beh/manifest.json")))["classifier"]["accuracy"]
assert f"accuracy {acc:.4f}" in html and "134515008 parameters" in html and "precision fp32" in html, "classifier, theta0, precision"
assert "learning rate 1e-5 (C0" in html and "<code>c0: lr 1e-5 positive rate 0.7083333333333334</code>" in html, "C0"
assert "e2 180 s" in html and "193 s" in html and "docs/real-elasticity.md" in html, "times, the pre-registration"
# ---- E1 ----
if not want_e1:
    assert "<b>E1 is not there yet</b>" in html and "<li><code>e1/summary.json</code> (E1)</li>" in html, "missing E1 named"
else:
    e1 = json.load(open(os.path.join(o, "e1/summary.json")))
    p1 = rows("real_e1_pairs.csv")
    assert len(p1) == len(e1["pairs"]) > 0, "E1 rows"
    lower = 0
    for r, p in zip(p1, e1["pairs"]):
        f, i = p["forward"]["mean_nats"], p["inverse"]["mean_nats"]
        hl, hk = p["forward"]["target_entropy_nats"], p["inverse"]["target_entropy_nats"]
        for key, v in (("k", p["k"]), ("l", p["l"]), ("seed", p["seed"]), ("forward_mean_nats", f), ("inverse_mean_nats", i),
                       ("gap_nats", f - i), ("gap_corrected_nats", (f - i) - (hl - hk)), ("inverse_lower", float(i < f))):
            assert abs(r[key] - v) <= 1e-7, ("E1", key, r[key], v)
        lower += i < f
    assert f"inverse lower in {lower} (one-sided p = " in html, "E1 sign test count"
    assert f"<b>Verdict of E1: {e1['verdict']}</b>" in html and f"<b>verdict of E1: {e1['verdict']}</b>" in html, "E1 verdict"
    assert "E1 is not there yet" not in html, "E1 drawn"
PY
check() {  # check DIR CTL E1 DESCRIPTION
  if "$PYTHON" "$TMP/check.py" "$1" "$O" "$2" "$3" 2>"$TMP/pyerr"; then ok; else bad "$4: $(tail -n 3 "$TMP/pyerr")"; fi
}
cfg() { printf '{"description": "test", "sections": ["real"], "real": {"run": "%s"}}\n' "$1" >"$TMP/cfg.json"; }

# ---- the report without E1 ----
cfg "$O"
t0=$(date +%s.%N)
expect_exit 0 "report of the study" -- "$ALIM" report --config "$TMP/cfg.json" --out "$TMP/r" --json
echo "note: the real section rendered in $(echo "$(date +%s.%N) - $t0" | bc) s"
expect_json "j['figures'] == 5 and j['tables'] == 3 and j['elasticity_cells']['total'] == 0" "5 figures, 3 tables, no cell"
check "$TMP/r" "$CTL" 0 "report without E1"

# ---- with E1 (a byte-level resist summary: the shape the real E1 writes) ----
expect_exit 0 "synthetic data" -- "$ALIM" data synthetic --out "$TMP/syn" --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32
expect_exit 0 "E1 quick" -- "$ALIM" elastic resist --data "$TMP/syn" --run "$TMP/e1run" --quick --threads 1
mkdir -p "$O/e1" && cp "$TMP/e1run/summary.json" "$O/e1/"
expect_exit 0 "report with E1" -- "$ALIM" report --config "$TMP/cfg.json" --out "$TMP/r" --json
check "$TMP/r" "$CTL" 1 "report with E1"

# ---- a relative run directory, E1 alone ----
mkdir -p "$TMP/cwd/rel/e1" && cp "$O/e1/summary.json" "$TMP/cwd/rel/e1/"
cfg rel
expect_exit 0 "relative run directory, E1 only" -- sh -c "cd '$TMP/cwd' && '$(realpath "$ALIM")' report --config '$TMP/cfg.json' --out out"
if grep -q "<b>E2 is not there yet</b>" "$TMP/cwd/out/index.html" && grep -q "<b>E4 is not there yet.</b>" "$TMP/cwd/out/index.html" &&
   grep -q "not built yet" "$TMP/cwd/out/index.html" && [ -s "$TMP/cwd/out/real_e1_losses.png" ]; then ok
else bad "E1 alone: E2, E4 and the data not named as not there"; fi

# ---- summaries without the keys the page draws: said on the page, not an error ----
mkdir -p "$TMP/k/e1" "$TMP/k/e2"
echo '{"grid": [{"n_pos": 1, "n_neg": 0}, {"n_pos": 1, "n_neg": 4}], "verdict": "NULL"}' >"$TMP/k/e2/summary.json"
echo '{"verdict": "NULL"}' >"$TMP/k/e1/summary.json"
cfg "$TMP/k"
expect_exit 0 "summaries without keys" -- "$ALIM" report --config "$TMP/cfg.json" --out "$TMP/rk" --json
expect_json "j['figures'] == 0" "no figure without values"
if [ "$(grep -o 'is not drawn: the summary has no usable' "$TMP/rk/index.html" | wc -l)" -eq 4 ] &&
   grep -q "The summary has no <code>pairs</code>" "$TMP/rk/index.html" && grep -q "The control is not there yet" "$TMP/rk/index.html" &&
   grep -q "<b>Verdict of E2: NULL</b>" "$TMP/rk/index.html"; then ok
else bad "absent keys not named on the page"; fi

# ---- errors: one line, exit 2, nothing written ----
mkdir -p "$TMP/empty/e2"
bad_cfg() {  # bad_cfg JSON REGEX
  printf '%s\n' "$1" >"$TMP/bad.json"
  expect_exit 2 "bad config $1" -- "$ALIM" report --config "$TMP/bad.json" --out "$TMP/none"
  expect_one_line_error "bad config $1"
  expect_stderr "$2" "bad config $1"
  if [ -e "$TMP/none" ]; then bad "bad config $1 wrote $TMP/none"; rm -rf "$TMP/none"; else ok; fi
}
bad_cfg "{\"sections\": [\"real\"], \"real\": {\"run\": \"$TMP/empty\"}}" "empty: neither e1/summary.json nor e2/summary.json"
bad_cfg "{\"sections\": [\"real\"], \"real\": {\"run\": \"$TMP/nothere\"}}" "nothere: no such study directory"
bad_cfg '{"sections": ["real"]}' '"real": \{"run": DIR\} is required'
bad_cfg "{\"sections\": [\"real\", \"reals\"], \"real\": {\"run\": \"$O\"}}" 'unknown section'
bad_cfg "{\"sections\": [\"real\", \"real\"], \"real\": {\"run\": \"$O\"}}" '"real" given twice'
bad_cfg '{"sections": []}' '"sections" must be an array'
bad_cfg '{"sections": "real"}' '"sections" must be an array'
bad_cfg "{\"sections\": [\"real\"], \"real\": {\"run\": \"$O\", \"seeds\": 3}}" 'real: unknown key "seeds"'
bad_cfg '{"sections": ["real"], "real": {"run": ""}}' 'real: "run" must be the study directory'
bad_cfg "{\"sections\": [\"real\"], \"real\": \"$O\"}" 'real: must be an object'
bad_cfg "{\"sections\": [\"real\"], \"real\": {\"run\": \"$O\"}, \"reel\": 1}" 'unknown key "reel"'
# a bad config leaves a previous report untouched
cp "$TMP/r/index.html" "$TMP/index.before"
printf '{"sections": ["real"], "real": {"run": "%s/empty"}}\n' "$TMP" >"$TMP/bad.json"
expect_exit 2 "bad config over a report" -- "$ALIM" report --config "$TMP/bad.json" --out "$TMP/r"
if cmp -s "$TMP/index.before" "$TMP/r/index.html"; then ok; else bad "a bad config changed the previous report"; fi
# the example config passes the config check (runs/real, make reproduce-real's OUT, need not exist here)
if [ ! -d runs/real ]; then
  expect_exit 2 "example config" -- "$ALIM" report --config examples/report-real.json --out "$TMP/none"
  expect_stderr "^alim: error: runs/real: no such study directory" "example config checked up to its directory"
fi
rm -rf "$TMP/none"
echo "note: test_report_real took $(( $(date +%s) - start )) s"
finish
