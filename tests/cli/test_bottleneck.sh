#!/usr/bin/env bash
# End-to-end tests of the bottleneck commands: outputs, JSON keys, and bad input
# (one-line 'alim: error:' message, exit 2) for every file format and option.
. "$(dirname "$0")/lib.sh"
EX="$(dirname "$0")/../../examples"

# --- capacity
printf '# a BSC(0.1)\n0.9,0.1\n0.1 0.9\n' >"$TMP/bsc.csv"
expect_exit 0 "capacity runs" -- "$ALIM" capacity "$TMP/bsc.csv" --json
expect_json "abs(j['capacity_bits'] - 0.5310044064107) < 1e-10 and j['lower_bits'] <= 0.5310044064107 + 1e-12 <= j['upper_bits'] + 2e-12 and j['converged'] and len(j['input_distribution']) == 2 and j['iterations'] >= 1" "capacity JSON"
printf 'x,y\n0.7,0.2,0.1\n0.1,0.3,0.6\n' >"$TMP/w1.csv"
expect_exit 0 "header line accepted" -- "$ALIM" capacity "$TMP/w1.csv" --json
expect_json "abs(j['capacity_bits'] - 0.3328866725999) < 1e-10" "W1 capacity"
expect_exit 0 "cascade" -- "$ALIM" capacity "$TMP/bsc.csv" --then "$TMP/bsc.csv" --json
expect_json "abs(j['cascade']['capacity_bits'] - (1 + 0.18*__import__('math').log2(0.18) + 0.82*__import__('math').log2(0.82))) < 1e-10 and j['min_bits'] >= j['cascade']['capacity_bits']" "cascade JSON"
printf '0.5,0.6\n0.1,0.9\n' >"$TMP/notstoch.csv"
expect_exit 2 "non-stochastic row" -- "$ALIM" capacity "$TMP/notstoch.csv"
expect_one_line_error "non-stochastic row"
expect_stderr "notstoch.csv:1: row 1 sums to" "names file and line"
expect_exit 0 "--normalize rescues it" -- "$ALIM" capacity "$TMP/notstoch.csv" --normalize
printf '0.5,0.5\n1.1,-0.1\n' >"$TMP/neg.csv"
expect_exit 2 "negative entry" -- "$ALIM" capacity "$TMP/neg.csv"
expect_stderr "negative" "negative named"
printf '0.5,0.5\nnan,1\n' >"$TMP/nan.csv"
expect_exit 2 "NaN entry" -- "$ALIM" capacity "$TMP/nan.csv"
expect_stderr "nan.csv:2: column 1 is not a finite number" "NaN named with line"
printf '0.5,0.5\n1\n' >"$TMP/ragged.csv"
expect_exit 2 "ragged rows" -- "$ALIM" capacity "$TMP/ragged.csv"
expect_stderr "ragged.csv:2: .*ragged" "ragged named"
: >"$TMP/empty.csv"
expect_exit 2 "empty file" -- "$ALIM" capacity "$TMP/empty.csv"
expect_stderr "empty" "empty named"
printf '0.5,abc\n' >"$TMP/text.csv"
expect_exit 2 "non-numeric field" -- "$ALIM" capacity "$TMP/text.csv"
expect_exit 2 "missing file" -- "$ALIM" capacity "$TMP/does-not-exist.csv"
expect_one_line_error "missing file"
expect_exit 2 "bad --tol" -- "$ALIM" capacity "$TMP/bsc.csv" --tol -1
expect_exit 2 "unknown option" -- "$ALIM" capacity "$TMP/bsc.csv" --bogus
expect_exit 0 "--help" -- "$ALIM" capacity --help
expect_exit 0 "max-iter reached still answers" -- "$ALIM" capacity "$TMP/w1.csv" --max-iter 3 --json
expect_json "not j['converged'] and j['lower_bits'] <= 0.3328866725999 <= j['upper_bits']" "bracket valid before convergence"
expect_stderr "warning" "warns when not converged"

# --- fano
expect_exit 0 "fano" -- "$ALIM" fano --M 256 --info 4 --json
expect_json "j['weak'] == 0.375 and abs(j['strong'] - 0.3804717309727) < 1e-10" "fano JSON"
expect_exit 0 "fano log2M" -- "$ALIM" fano --log2M 20 --info 10 --json
expect_json "abs(j['strong'] - 0.4503561710736) < 1e-10" "fano log2M"
expect_exit 0 "fano inverse" -- "$ALIM" fano --log2M 32 --risk 0.01 --json
expect_json "abs(j['required_weak_bits'] - 30.68) < 1e-10 and abs(j['required_strong_bits'] - 31.59920686411) < 1e-9" "fano inverse JSON"
expect_exit 2 "fano M=1" -- "$ALIM" fano --M 1 --info 1
expect_exit 2 "fano negative info" -- "$ALIM" fano --M 4 --info -1
expect_exit 2 "fano both M forms" -- "$ALIM" fano --M 4 --log2M 2 --info 1
expect_exit 2 "fano risk out of range" -- "$ALIM" fano --M 4 --risk 1.5
expect_exit 2 "fano NaN" -- "$ALIM" fano --M 4 --info nan
expect_one_line_error "fano NaN"

# --- klinv
expect_exit 0 "klinv" -- "$ALIM" klinv --q 0.1 --c 0.05 --json
expect_json "abs(j['value'] - 0.2200786011069) < 1e-12" "klinv value"
expect_exit 0 "klinv lower" -- "$ALIM" klinv --q 0.3 --c 0.1 --lower --json
expect_json "abs(j['value'] - 0.1291301210195) < 1e-12" "klinv lower value"
expect_exit 0 "pac-bayes" -- "$ALIM" klinv --emp-risk 0.1 --kl 5 --m 1000 --json
expect_json "abs(j['kl_xi'] - 0.1520011951812) < 1e-10 and abs(j['pinsker'] - 0.1779190512442) < 1e-10 and abs(j['catoni'] - 0.1619446975780) < 1e-10 and abs(j['kl_2sqrtm'] - 0.1531096281952) < 1e-10" "pac-bayes forms"
expect_exit 2 "klinv q > 1" -- "$ALIM" klinv --q 1.5 --c 0.1
expect_exit 2 "klinv c < 0" -- "$ALIM" klinv --q 0.5 --c -0.1
expect_exit 2 "klinv m = 0" -- "$ALIM" klinv --emp-risk 0.1 --kl 5 --m 0
expect_exit 2 "klinv mixed modes" -- "$ALIM" klinv --q 0.1 --c 0.1 --m 10

# --- interval
expect_exit 0 "interval A" -- "$ALIM" interval "$EX/interval-A.json" --json --m-sweep 100,1000,10000
expect_json "abs(j['C_tot_bits'] - 0.4045381557617) < 1e-10 and abs(j['bayes_risk'] - 0.176) < 1e-12 and abs(j['lower_bound'] - 0.1443278689736) < 1e-10 and abs(j['upper_bound'] - 0.7106018809596) < 1e-10 and abs(j['sweep'][2]['ub_expectation'] - 0.5385316864722) < 1e-10 and abs(j['info_bits']*0.6931471805599453 - 0.2323681910561) < 1e-10 and len(j['contexts']) == 2" "interval A JSON"
expect_exit 0 "interval B" -- "$ALIM" interval "$EX/interval-B.json" --json
expect_json "abs(j['C_tot_bits'] - 5.789450962758) < 1e-9 and abs(j['fano']['strong_info'] - 0.2136946688127) < 1e-10 and abs(j['bayes_risk'] - 0.2402266666667) < 1e-10" "interval B JSON"
expect_exit 0 "interval issue example" -- "$ALIM" interval "$EX/interval-issue.json" --json
expect_json "j['lower_bound'] <= j['fano']['strong_info'] <= j['bayes_risk'] and 0 <= j['lower_bound'] <= j['upper_bound'] <= 1" "issue example ordering"
expect_exit 0 "interval csv" -- "$ALIM" interval "$EX/interval-A.json" --m-sweep 10,100 --csv "$TMP/sweep.csv"
if [ "$(head -1 "$TMP/sweep.csv")" = "m,lower_bound,bayes_risk,ub_high_prob,ub_expectation,ub_measured" ] && [ "$(wc -l <"$TMP/sweep.csv")" -eq 3 ]; then ok; else bad "sweep CSV shape"; fi
if ls "$TMP"/sweep.csv.tmp.* >/dev/null 2>&1; then bad "temporary file left behind"; else ok; fi
printf '{"M": 2, "m": 10, "contexts": [' >"$TMP/trunc.json"
expect_exit 2 "truncated JSON" -- "$ALIM" interval "$TMP/trunc.json"
expect_stderr "trunc.json: invalid JSON at line 1" "truncated JSON named"
expect_one_line_error "truncated JSON"
: >"$TMP/empty.json"
expect_exit 2 "empty JSON" -- "$ALIM" interval "$TMP/empty.json"
printf '{"M": 2, "m": 10, "contexts": [{"weight": 1, "cognitive": {"type": "bsc"}, "articulation": {"type": "bsc", "p": 0.1}}]}' >"$TMP/nokey.json"
expect_exit 2 "missing key" -- "$ALIM" interval "$TMP/nokey.json"
expect_stderr 'contexts\[0\]\.cognitive: missing key "p"' "missing key named with its path"
printf '{"M": 2, "m": 10, "colour": 1, "contexts": []}' >"$TMP/unknown.json"
expect_exit 2 "unknown key" -- "$ALIM" interval "$TMP/unknown.json"
expect_stderr 'unknown key "colour"' "unknown key named"
printf '{"M": 2, "m": 10, "contexts": [{"weight": 1, "cognitive": {"matrix": [[0.5, 0.4], [0.2, 0.8]]}, "articulation": {"type": "bsc", "p": 0.1}}]}' >"$TMP/nonstoch.json"
expect_exit 2 "non-stochastic matrix" -- "$ALIM" interval "$TMP/nonstoch.json"
expect_stderr "row 1 sums to" "non-stochastic matrix named"
printf '{"M": 2, "m": 10, "contexts": [{"weight": 1, "cognitive": {"type": "bsc", "p": -0.1}, "articulation": {"type": "bsc", "p": 0.1}}]}' >"$TMP/negp.json"
expect_exit 2 "negative probability" -- "$ALIM" interval "$TMP/negp.json"
expect_exit 2 "interval bad sweep" -- "$ALIM" interval "$EX/interval-A.json" --m-sweep 10,0

# --- demo
expect_exit 0 "bottleneck-demo" -- "$ALIM" bottleneck-demo --json
expect_json "set(j) == {'p1','p2','p3','p4'} and j['p1']['never_below_bound'] and all(r['risk_plugin_map'] >= j['p1']['lower_bound'] for r in j['p1']['rows']) and abs(j['p3']['rows'][1]['rho_nats'] - 0.5997021409198) < 1e-10 and len({round(r['C_tot_bits'], 12) for r in j['p4']['rows'][:4]}) == 1" "demo JSON"
expect_exit 2 "demo bad replicates" -- "$ALIM" bottleneck-demo --replicates 0

# --- dispatch
expect_exit 2 "unknown command" -- "$ALIM" frobnicate
expect_one_line_error "unknown command"
expect_exit 0 "help command" -- "$ALIM" help interval
expect_exit 0 "info" -- "$ALIM" info --json
expect_json "'blas_kernel' in j and 'cpu_features' in j" "info JSON"
finish
