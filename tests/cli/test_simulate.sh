#!/usr/bin/env bash
# test_simulate.sh — `alim simulate e1|e4` end to end: CSV written and well-formed, JSON keys and
# checks, reproducibility, and bad input -> one 'alim: error:' line with exit 2.
. "$(dirname "$0")/lib.sh"
A=examples/interval-A.json

# ---- e1: CSV + JSON at small scale -------------------------------------------------------------
expect_exit 0 "e1 small" -- "$ALIM" simulate e1 "$A" --m 10,100,1000 --replicates 3 --test-items 20000 --seed 3 \
  --csv "$TMP/e1.csv" --json
expect_json "j['experiment'] == 'e1' and j['M'] == 2 and j['cells'] == 4 and j['m_values'] == [10, 100, 1000]" "e1 header keys"
expect_json "abs(j['lower_bound'] - 0.1443278689736) < 1e-9 and abs(j['lb_info'] - 0.1731071766619) < 1e-9 and abs(j['bayes_risk'] - 0.176) < 1e-12" "e1 bounds = interval example A"
expect_json "all(k in j for k in ('c_tot_upper_nats', 'info_nats', 'lb_casc', 'seed', 'replicates', 'test_items', 'csv'))" "e1 keys with units"
expect_json "len(j['summary']) == 9 and set(j['summary'][0]) >= {'m', 'learner', 'mean_risk_exact', 'sd_risk_exact', 'mean_risk_mc', 'min_risk_mc_minus_3se', 'excess_risk'}" "e1 summary rows"
expect_json "j['checks']['mc_above_lower_bound'] is True and j['checks']['exact_above_bayes'] is True and all(j['checks']['gap_shrinks'].values())" "e1 checks pass on example A"
expect_json "all(s['mean_risk_exact'] >= j['lower_bound'] for s in j['summary'])" "e1 never below the LB"
cp "$TMP/stdout" "$TMP/e1.json"
if [ -f "$TMP/e1.csv" ] && "$PYTHON" - "$TMP/e1.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cols = "m,learner,replicate,risk_exact,risk_mc,risk_mc_se,ci_low,ci_high,lower_bound,lb_info,bayes_risk".split(",")
assert list(rows[0].keys()) == cols, rows[0].keys()
assert len(rows) == 3 * 3 * 3, len(rows)
assert {r["learner"] for r in rows} == {"plugin-map", "erm-canonical", "logistic"}
for r in rows:
    x = {k: float(r[k]) for k in cols if k != "learner"}
    assert 0 <= x["ci_low"] <= x["risk_mc"] <= x["ci_high"] <= 1, r
    assert x["risk_exact"] >= x["bayes_risk"] - 1e-12 >= x["lower_bound"], r
    assert x["risk_mc"] - 3 * x["risk_mc_se"] >= x["lower_bound"], r
EOF
then ok; else bad "e1 CSV is not well-formed"; fi
ls "$TMP"/e1.csv.tmp.* >/dev/null 2>&1 && bad "e1 left a temporary file" || ok

# same seed -> same output; another seed -> other numbers
expect_exit 0 "e1 again" -- "$ALIM" simulate e1 "$A" --m 10,100,1000 --replicates 3 --test-items 20000 --seed 3 --csv "$TMP/e1b.csv" --json
cmp -s "$TMP/e1.csv" "$TMP/e1b.csv" && ok || bad "e1 not reproducible with the same seed"
expect_exit 0 "e1 other seed" -- "$ALIM" simulate e1 "$A" --m 10,100,1000 --replicates 3 --test-items 20000 --seed 4 --csv "$TMP/e1c.csv"
cmp -s "$TMP/e1.csv" "$TMP/e1c.csv" && bad "e1: seed has no effect" || ok
OMP_NUM_THREADS=1 "$ALIM" simulate e1 "$A" --m 10,100,1000 --replicates 3 --test-items 20000 --seed 3 --csv "$TMP/e1d.csv" >/dev/null 2>&1
cmp -s "$TMP/e1.csv" "$TMP/e1d.csv" && ok || bad "e1 depends on the thread count"

# human table
expect_exit 0 "e1 table" -- "$ALIM" simulate e1 "$A" --m 10,100 --replicates 2 --test-items 20000
grep -q "risk_mc - 3 SE >= LB(C_tot) in every row:  yes" "$TMP/stdout" && ok || bad "e1 table lacks the LB check line"

# ---- e4 ----------------------------------------------------------------------------------------
expect_exit 0 "e4 small" -- "$ALIM" simulate e4 "$A" --replicates 200 --lambda 1 --seed 2 --csv "$TMP/e4.csv" --json
expect_json "j['experiment'] == 'e4' and j['m'] == 100 and j['replicates'] == 200 and j['class_size_log2'] == 4" "e4 header"
expect_json "abs(j['kl_max_nats'] - math.log(16)) < 1e-12 and j['max_kl_nats'] <= math.log(16) + 1e-12" "e4 KL <= ln 16"
expect_json "j['coverage_measured']['fraction'] >= 0.95 and j['coverage_measured']['target'] == 0.95 and j['coverage_budget']['fraction'] >= 0.45" "e4 coverage"
expect_json "all(k in j['coverage_budget'] for k in ('covered', 'datasets', 'ci_low', 'ci_high')) and 'budget_nats' in j and 'mean_kl_nats' in j" "e4 keys"
expect_json "j['coverage_naive_control']['fraction'] < 0.9" "e4 control (no complexity term) undercovers"
expect_json "j['checks'] == {'measured_ok': True, 'budget_ok': True, 'above_lower_bound': True, 'kl_within_budget': True}" "e4 checks"
expect_json "abs(j['mean_ub_measured'] - 0.3615) < 0.01" "e4 measured bound near the spec's 'KL = ln 16' value at m = 100"
if "$PYTHON" - "$TMP/e4.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 200
assert list(rows[0].keys()) == "replicate,m,lambda,emp_risk,kl_nats,true_risk,ub_measured,ub_budget,covered_measured,covered_budget,budget_nats,lower_bound".split(",")
for r in rows:
    t, um, ub = float(r["true_risk"]), float(r["ub_measured"]), float(r["ub_budget"])
    assert int(r["covered_measured"]) == (t <= um) and int(r["covered_budget"]) == (t <= ub), r
    assert 0 <= float(r["kl_nats"]) <= 2.7725887223, r
EOF
then ok; else bad "e4 CSV is not well-formed"; fi
expect_exit 0 "e4 table" -- "$ALIM" simulate e4 "$A" --m 20 --replicates 50
grep -qE "measured-KL +[0-9]+/50" "$TMP/stdout" && ok || bad "e4 table lacks the coverage line"

# ---- help and errors ---------------------------------------------------------------------------
expect_exit 0 "help" -- "$ALIM" simulate --help
grep -q "examples/interval-A.json" "$TMP/stdout" && ok || bad "help lacks the example"
printf '{"M": 2, "m": 10, "contexts": [}' >"$TMP/bad.json"
printf '{"M": 2, "m": 10, "contexts": [{"weight": 1, "cognitive": {"type": "bsc", "p": 0.1}, "articulation": {"type": "bsc", "p": 1.5}}]}' >"$TMP/badp.json"
for args in "e1 $TMP/missing.json" "e4 $TMP/missing.json" "e1 $TMP/bad.json" "e1 $TMP/badp.json" \
            "e1 $A --m 0" "e1 $A --m 10,0" "e4 $A --m 0" "e1 $A --replicates -2" "e4 $A --replicates -1" \
            "e1 $A --replicates 0" "e4 $A --lambda -1" "e1 $A --test-items 0" "e3 $A" "" "e1" "e1 $A $A" \
            "e1 $A --lambda 2" "e4 $A --bogus" "e4 examples/interval-B.json" "e1 $A --logistic-rate 3"; do
  # shellcheck disable=SC2086
  expect_exit 2 "simulate $args" -- "$ALIM" simulate $args
  expect_one_line_error "simulate $args"
done
expect_exit 2 "bad JSON" -- "$ALIM" simulate e1 "$TMP/bad.json"
expect_stderr "bad.json: invalid JSON at line 1" "bad JSON names the file and line"
expect_exit 2 "class too large" -- "$ALIM" simulate e4 examples/interval-B.json
expect_stderr "2\^4096 decoders" "class size in the message"
finish
