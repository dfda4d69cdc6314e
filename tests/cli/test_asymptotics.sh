#!/usr/bin/env bash
# End-to-end tests of the asymptotics commands: tilt, bon, frontier, budget, seq, rate.
source "$(dirname "$0")/lib.sh"

D=$TMP/d.csv
printf 'p,r\n0.5,0\n0.3,1\n0.2,2\n' >"$D"

# ---- bad input: one line 'alim: error: <where>: <what>', exit 2 ----
printf 'p,r\n0.5,0\n-0.1,1\n0.6,2\n' >"$TMP/neg.csv"
expect_exit 2 "negative p" -- "$ALIM" tilt "$TMP/neg.csv" --kl 0.1
expect_one_line_error "negative p"
expect_stderr '^alim: error: .*neg.csv:3: .*negative' "negative p names file:line"
printf 'p,r\n0.5,0\nnan,1\n0.5,2\n' >"$TMP/nan.csv"
expect_exit 2 "NaN p" -- "$ALIM" bon "$TMP/nan.csv" --n 2
expect_one_line_error "NaN p"
expect_stderr 'nan.csv:3' "NaN names the line"
printf 'p,r\n0.5,0\n0.3,1\n0.3,2\n' >"$TMP/sum.csv"
expect_exit 2 "sum != 1" -- "$ALIM" bon "$TMP/sum.csv" --n 2
expect_one_line_error "sum != 1"
expect_stderr 'sum.csv: probabilities sum to' "sum message"
expect_exit 0 "--normalize accepts it" -- "$ALIM" bon "$TMP/sum.csv" --n 2 --normalize --json
expect_json 'abs(j["reward"] - (2 - (0.5/1.1)**2 - (0.8/1.1)**2)) < 1e-12' "normalized BoN reward"
: >"$TMP/empty.csv"
for cmd in "tilt --kl 0.1" "bon --n 2" "frontier" "budget --kl 0.1" "seq --length 2 --kl-per-token 0.1" "rate --x 1"; do
  expect_exit 2 "empty file ($cmd)" -- "$ALIM" $cmd "$TMP/empty.csv"
  expect_one_line_error "empty file ($cmd)"
done
printf 'p,r\n0.5,0,1\n0.5,1\n' >"$TMP/ragged.csv"
expect_exit 2 "ragged/3 columns" -- "$ALIM" tilt "$TMP/ragged.csv" --kl 0.1
expect_one_line_error "ragged"
expect_exit 2 "N < 1" -- "$ALIM" bon "$D" --n 0.5
expect_one_line_error "N < 1"
expect_stderr '^alim: error: --n: ' "N < 1 names --n"
expect_exit 2 "N not a number" -- "$ALIM" bon "$D" --n abc
expect_one_line_error "N not a number"
expect_exit 2 "D < 0 (tilt)" -- "$ALIM" tilt "$D" --kl -0.1
expect_one_line_error "D < 0 (tilt)"
expect_stderr '^alim: error: --kl: ' "D < 0 names --kl"
expect_exit 2 "D < 0 (budget)" -- "$ALIM" budget "$D" --kl -1
expect_one_line_error "D < 0 (budget)"
expect_exit 2 "D < 0 (seq)" -- "$ALIM" seq "$D" --length 3 --kl-per-token -1
expect_one_line_error "D < 0 (seq)"
expect_exit 2 "length 0" -- "$ALIM" seq "$D" --length 0 --kl-per-token 0.5
expect_one_line_error "length 0"
expect_stderr '^alim: error: --length: ' "length 0 names --length"
expect_exit 2 "sweep with 0" -- "$ALIM" seq "$D" --sweep 1,0 --kl-per-token 0.5
expect_one_line_error "sweep with 0"
expect_exit 2 "both --lambda and --kl" -- "$ALIM" tilt "$D" --lambda 1 --kl 1
expect_one_line_error "both --lambda and --kl"
expect_exit 2 "unknown option" -- "$ALIM" bon "$D" --n 2 --bogus
expect_one_line_error "unknown option"
expect_exit 2 "bad ties" -- "$ALIM" bon "$D" --n 2 --ties sometimes
expect_one_line_error "bad ties"
expect_exit 2 "x outside range is fine (inf) but NaN is not" -- "$ALIM" rate "$D" --x nan
expect_one_line_error "rate x NaN"
expect_exit 2 "missing file" -- "$ALIM" tilt "$TMP/nope.csv" --kl 0.1
expect_one_line_error "missing file"

# ---- tilt ----
expect_exit 0 "tilt --kl" -- "$ALIM" tilt "$D" --kl 0.5 --json --policy
expect_json 'abs(j["lambda"] - 1.28914691852586) < 1e-12 and abs(j["reward"] - 1.50544783773860) < 1e-12' "T1 inverse"
expect_json 'j["saturated"] is False and abs(sum(j["policy"]) - 1) < 1e-14 and abs(j["kl_nats"] - 0.5) < 1e-14' "tilt keys"
expect_exit 0 "tilt saturated" -- "$ALIM" tilt "$D" --kl 3 --json
expect_json 'j["lambda"] == "inf" and j["saturated"] is True and j["reward"] == 2 and abs(j["kl_nats"] - math.log(5)) < 1e-14' "saturated lambda is \"inf\""
expect_exit 0 "tilt --lambda" -- "$ALIM" tilt "$D" --lambda 2 --json
expect_json 'abs(j["kl_nats"] - 0.915475494445409) < 1e-13 and abs(j["log_partition_nats"] - 2.61273878929305) < 1e-13' "T1 lambda=2"
expect_exit 0 "tilt --csv" -- "$ALIM" tilt "$D" --lambda 1 --csv "$TMP/phi.csv"
if [ -f "$TMP/phi.csv" ] && [ "$(head -1 "$TMP/phi.csv")" = "p,r,policy" ] && [ "$(wc -l <"$TMP/phi.csv")" -eq 4 ] && ! ls "$TMP"/phi.csv.tmp.* >/dev/null 2>&1; then ok; else bad "tilt --csv file"; fi
expect_exit 0 "tilt mc" -- "$ALIM" tilt "$D" --kl 0.5 --check-mc 50000 --seed 3 --json
expect_json 'j["monte_carlo"]["reward"][1] <= j["reward"] <= j["monte_carlo"]["reward"][2]' "tilt MC CI covers"

# ---- bon ----
expect_exit 0 "bon N=4" -- "$ALIM" bon "$D" --n 4 --json --policy
expect_json 'abs(j["kl_nats"] - 0.5597505603575) < 1e-12 and abs(j["reward"] - 1.5279) < 1e-14 and abs(j["win_rate"] - 0.7726) < 1e-14 and abs(j["win_rate_strict"] - 0.64587) < 1e-14' "T2 N=4"
expect_json 'abs(j["kl_bound_nats"] - 0.6362943611199) < 1e-12 and abs(j["rl_same_kl"]["reward"] - 1.550164969096) < 1e-11' "T2 bound, R*"
expect_json 'max(abs(a-b) for a,b in zip(j["policy"], [0.0625, 0.3471, 0.5904])) < 1e-15' "T2 policy"
printf 'p,r\n0.4,0\n0.1,1\n0.2,1\n0.3,2\n' >"$TMP/t3.csv"
expect_exit 0 "bon ordered" -- "$ALIM" bon "$TMP/t3.csv" --n 2 --ties ordered --json --policy
expect_json 'abs(j["kl_nats"] - 0.1582886181632) < 1e-12 and abs(j["kl_random_nats"] - 0.1554662502773) < 1e-12' "T3 ordered KL"
expect_json 'max(abs(a-b) for a,b in zip(j["policy"], [0.16, 0.09, 0.24, 0.51])) < 1e-15' "T3 ordered policy"
expect_exit 0 "bon N=1e15" -- "$ALIM" bon "$D" --n 1e15 --json
expect_json 'abs(j["kl_nats"] - math.log(5)) < 1e-12 and j["reward"] == 2 and abs(j["kl_bound_nats"] - (math.log(1e15) - 1 + 1e-15)) < 1e-12' "huge N"
expect_exit 0 "bon N=e^5000" -- "$ALIM" bon "$D" --n e^5000 --json
expect_json 'j["n"] == "inf" and j["log_n"] == 5000 and abs(j["kl_bound_nats"] - 4999) < 1e-9' "astronomical N"
expect_exit 0 "bon mc" -- "$ALIM" bon "$D" --n 4 --check-mc 100000 --seed 11 --json
expect_json 'all(j["monte_carlo"][k][1] <= j[k] <= j["monte_carlo"][k][2] for k in ("reward","kl_nats","win_rate","win_rate_strict"))' "BoN MC CIs cover"
expect_exit 0 "bon mc direct" -- "$ALIM" bon "$D" --n 4 --check-mc 50000 --mc-direct --json
expect_json 'j["monte_carlo"]["sampler"] == "direct" and j["monte_carlo"]["reward"][1] <= j["reward"] <= j["monte_carlo"]["reward"][2]' "direct sampler"

# ---- frontier ----
expect_exit 0 "frontier" -- "$ALIM" frontier "$D" --points 5 --n-list 1,2,4,16
if grep -q '^method,lambda,n,kl_nats,reward' "$TMP/stdout" && [ "$(grep -c '^rl,' "$TMP/stdout")" -eq 5 ] && [ "$(grep -c '^bon,' "$TMP/stdout")" -eq 4 ]; then ok; else bad "frontier CSV shape"; fi
"$PYTHON" - "$TMP/stdout" <<'PY' && ok || bad "frontier values"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
bon = [r for r in rows if r["method"] == "bon"]
b4 = [r for r in bon if float(r["n"]) == 4][0]
assert abs(float(b4["kl_nats"]) - 0.5597505603575) < 1e-12
assert abs(float(b4["kl_bon_to_rl_nats"]) - 0.03082364660543) < 1e-11
assert all(float(r["shortfall"]) >= -1e-13 for r in bon)
rl = [r for r in rows if r["method"] == "rl"]
assert rl[-1]["lambda"] == "inf" and float(rl[-1]["reward"]) == 2
PY
expect_exit 0 "frontier json" -- "$ALIM" frontier "$D" --json --n-max 100
expect_json 'len(j["rl"]) == 41 and j["bon"][0]["n"] == 1 and j["bon"][-1]["n"] <= 100' "frontier json"

# ---- budget ----
expect_exit 0 "budget" -- "$ALIM" budget "$D" --kl 0.5 --reward 1.9 --json
expect_json 'j["n_max"] == 3 and j["n_bound"] == 3 and j["verified"] is True and j["n_for_reward"] == 11' "budget answers"
expect_exit 0 "budget saturated" -- "$ALIM" budget "$D" --kl 2 --json
expect_json 'j["n_max"] == "inf"' "budget above log 1/q_L"

# ---- seq ----
expect_exit 0 "seq T5" -- "$ALIM" seq "$D" --kl-per-token 0.5 --sweep 1,2,3,4,5,6,7,8 --n-rule round --json
expect_json '[r["N"] for r in j["rows"]] == [2,3,4,7,12,20,33,55]' "T5 N = round(e^{n/2})"
expect_json 'abs(j["rows"][7]["bon_reward_per_token"] - 1.353543766437) < 1e-11 and abs(j["rows"][7]["bon_kl_to_rl_total_nats"] - 0.5262904734794) < 1e-11' "T5 n=8"
expect_json 'abs(j["asymptotic"]["x_star"] - 1.505447837739) < 1e-11 and abs(j["asymptotic"]["renyi_identity_lhs"] - j["asymptotic"]["renyi_identity_rhs"]) < 1e-12' "seq asymptotics"
expect_exit 0 "seq T5 real N" -- "$ALIM" seq "$D" --kl-per-token 0.5 --sweep 16,64,256,1024 --n-rule real --json
expect_json 'abs(j["rows"][3]["bon_kl_to_rl_total_nats"] - 2.647469044363) < 1e-10 and abs(j["rows"][1]["bon_kl_per_token_nats"] - 0.4825448052563) < 1e-11' "T5 n=64,1024"
expect_exit 0 "seq ceil" -- "$ALIM" seq "$D" --kl-per-token 0.5 --length 3 --json
expect_json 'j["rows"][0]["N"] == 5' "default rule ceil(e^1.5) = 5"
printf 'p,r\n0.7,0\n0.3,1\n' >"$TMP/ber.csv"
expect_exit 0 "seq T6" -- "$ALIM" seq "$TMP/ber.csv" --n 256 --length 8 --json
expect_json 'abs(j["rows"][0]["bon_reward_per_token"] - 0.7804366653799) < 1e-12 and abs(j["rows"][0]["delta_nats"] - math.log(2)) < 1e-15' "T6 with --n"
expect_exit 0 "seq mc" -- "$ALIM" seq "$D" --kl-per-token 0.5 --length 6 --n-rule round --check-mc 20000 --json
expect_json 'j["rows"][0]["mc_reward_lo"] <= j["rows"][0]["bon_reward_per_token"] <= j["rows"][0]["mc_reward_hi"]' "seq MC CI covers"
expect_json 'j["rows"][0]["mc_kl_per_token_lo"] <= j["rows"][0]["bon_kl_per_token_nats"] <= j["rows"][0]["mc_kl_per_token_hi"] and j["rows"][0]["mc_kl_to_rl_total_lo"] <= j["rows"][0]["bon_kl_to_rl_total_nats"] <= j["rows"][0]["mc_kl_to_rl_total_hi"]' "seq MC KL CIs cover"
expect_json 'abs(j["rows"][0]["bon_reward_total"] - 6*j["rows"][0]["bon_reward_per_token"]) < 1e-12 and abs(j["rows"][0]["rl_kl_total_nats"] - 3) < 1e-12' "seq totals"
printf 'p,r\n0.5,0\n0.3,1\n0.2,1.41421356237\n' >"$TMP/nonlat.csv"
expect_exit 0 "seq non-lattice" -- "$ALIM" seq "$TMP/nonlat.csv" --kl-per-token 0.3 --length 10 --json
expect_json 'j["rows"][0]["method"] == "types" and j["rows"][0]["levels"] == 66' "types method"
expect_exit 0 "seq csv" -- "$ALIM" seq "$D" --kl-per-token 0.5 --sweep 1,4 --csv "$TMP/seq.csv"
if [ "$(wc -l <"$TMP/seq.csv")" -eq 3 ] && head -1 "$TMP/seq.csv" | grep -q '^n,N,log_n,delta_nats'; then ok; else bad "seq csv"; fi

# ---- rate ----
expect_exit 0 "rate" -- "$ALIM" rate "$D" --x 1.5 --lambda 1 --json
expect_json 'abs(j["rate_nats"] - 0.4930073413751) < 1e-12 and abs(j["tilted_rate_nats"] - 0.02022951901647) < 1e-12 and abs(j["t"] - 1.278000149966) < 1e-11' "T4 rate"
expect_exit 0 "rate outside" -- "$ALIM" rate "$D" --x 3 --json
expect_json 'j["rate_nats"] == "inf"' "rate outside the range is inf"
expect_exit 0 "rate curve" -- "$ALIM" rate "$D" --points 11
if [ "$(grep -c . "$TMP/stdout")" -eq 12 ] && head -1 "$TMP/stdout" | grep -q '^x,rate_nats,t,tilted_rate_nats$'; then ok; else bad "rate curve"; fi

# ---- help ----
for c in tilt bon frontier budget seq rate; do
  expect_exit 0 "help $c" -- "$ALIM" $c --help
  if grep -q '^example' "$TMP/stdout" && grep -q '^options' "$TMP/stdout"; then ok; else bad "help $c teaches"; fi
done
finish
