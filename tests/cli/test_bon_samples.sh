#!/bin/bash
# End-to-end tests of alim bon-samples: values on small hand-checked files, the CSV/JSON shapes,
# bootstrap repeatability (seed, thread count), --csv written atomically, and bad input (ragged
# rows, NaN rewards, logp > 0, missing columns, too large --n-max, bad options) as one line naming
# FILE:LINE with exit 2.
. "$(dirname "$0")/lib.sh"
S="$TMP/s.csv"
# two prompts of 3 samples: a = {0, 1, 2}, b = {1, 1, 3}; a text column with commas stays
printf 'prompt,text,r,g,logp\na,"x, y",1,0,-1\na,z,2,1,-2\na,"w",0,0.5,-0.1\nb,q,3,2,-3\nb,"r ""s""",1,1,-0.2\nb,t,1,0,-0.4\n' >"$S"
expect_exit 0 "json" -- "$ALIM" bon-samples "$S" --json
# n = 1: mean reward (1 + 5/3)/2; n = 2: a: (1*1 + 2*2)/3... E max of 2 of {0,1,2} = (1 + 2 + 2)/3 = 5/3,
# b: subsets {1,1},{1,3},{1,3} -> (1 + 3 + 3)/3 = 7/3; n = 3: max = 2 and 3
expect_json 'abs(j["rows"][0]["reward"] - (1 + 5/3)/2) < 1e-15 and abs(j["rows"][1]["reward"] - (5/3 + 7/3)/2) < 1e-15 and j["rows"][2]["reward"] == 2.5' "E max of n"
# win rate: a has no ties -> n/(n+1); b at n = 1: P(r(Y) > r(Y')) + 1/2 P(=) over distinct pairs = (2 + 1/2*2... )
expect_json 'abs(j["rows"][0]["win_rate"] - 0.5) < 1e-15 and j["rows"][2]["win_rate"] is None and j["n_max"] == 3 and j["groups"] == 2' "win rate n=1 is 1/2, undefined at n = N"
# gold of the selected sample (random ties): n = 3 -> a: g of r=2 is 1; b: g of r=3 is 2
expect_json 'abs(j["rows"][2]["gold_reward"] - 1.5) < 1e-15 and j["gold"] and j["logp"]' "gold at n = N"
expect_json 'all(r["kl_beirami_nats"] <= r["kl_bound_nats"] + 1e-15 and r["kl_plugin_nats"] <= r["kl_bound_nats"] + 1e-15 for r in j["rows"]) and j["rows"][0]["kl_beirami_nats"] == 0' "KL estimators below the bound"
expect_exit 0 "csv" -- "$ALIM" bon-samples "$S" --soft 1 --n-max 2
if [ "$(head -1 "$TMP/stdout")" = "n,kl_bound_nats,win_rate_bound,reward,win_rate,win_rate_strict,gold_reward,kl_plugin_nats,kl_beirami_nats,soft_reward,soft_gold_reward,bop_mu,bop_kl_bound_nats,bop_tail_mass,bop_reward,bop_win_rate,bop_gold_reward" ] \
   && [ "$(wc -l <"$TMP/stdout")" -eq 3 ]; then ok; else bad "CSV header/rows: $(head -2 "$TMP/stdout")"; fi
# soft at lambda = 0 is the mean of the subset (E r under p)
expect_exit 0 "soft 0" -- "$ALIM" bon-samples "$S" --soft 0 --json
expect_json 'all(abs(r["soft_reward"] - (1 + 5/3)/2) < 1e-13 for r in j["rows"]) and j["soft_step_error"] < 1e-6' "soft lambda=0 is p"
# soft with a huge lambda approaches best-of-n
expect_exit 0 "soft 40" -- "$ALIM" bon-samples "$S" --soft 40 --json
expect_json 'all(abs(r["soft_reward"] - r["reward"]) < 1e-12 for r in j["rows"])' "soft lambda=40 is best-of-n"
# bootstrap: intervals bracket the estimate, same seed same output, any thread count
expect_exit 0 "bootstrap" -- "$ALIM" bon-samples "$S" --bootstrap 200 --seed 4 --json
expect_json 'all(r["reward_lo"] <= r["reward"] <= r["reward_hi"] for r in j["rows"]) and j["bootstrap"]["replicates"] == 200' "bootstrap brackets"
# 8 prompts x 4 samples (2 prompts give only 3 distinct resamples: every seed has the same percentiles)
{ echo "group,r"; for i in $(seq 0 31); do echo "p$((i % 8)),$(( (i * 37) % 11 ))"; done; } >"$TMP/m.csv"
OMP_NUM_THREADS=1 "$ALIM" bon-samples "$TMP/m.csv" --bootstrap 300 --seed 4 --soft 0.5 >"$TMP/a1"
OMP_NUM_THREADS=2 "$ALIM" bon-samples "$TMP/m.csv" --bootstrap 300 --seed 4 --soft 0.5 >"$TMP/a2"
"$ALIM" bon-samples "$TMP/m.csv" --bootstrap 300 --seed 5 --soft 0.5 >"$TMP/a3"
if cmp -s "$TMP/a1" "$TMP/a2" && ! cmp -s "$TMP/a1" "$TMP/a3"; then ok; else bad "bootstrap repeatable across threads, seed matters"; fi
# --csv OUT: the file, nothing on stdout; with --json both
expect_exit 0 "csv out" -- "$ALIM" bon-samples "$S" --csv "$TMP/out.csv"
if [ -s "$TMP/out.csv" ] && [ ! -s "$TMP/stdout" ] && ! ls "$TMP"/out.csv.tmp.* >/dev/null 2>&1; then ok; else bad "--csv OUT"; fi
# named columns; no group column = one prompt
printf 'id,score\n1,3\n2,4\n1,5\n2,4\n' >"$TMP/n.csv"
expect_exit 0 "named" -- "$ALIM" bon-samples "$TMP/n.csv" --group id --reward score --json
expect_json 'j["groups"] == 2 and j["rows"][1]["reward"] == 4.5 and j["rows"][0]["win_rate"] == 0.5' "named columns"
expect_exit 0 "one group" -- "$ALIM" bon-samples "$TMP/n.csv" --reward score --json
expect_json 'j["groups"] == 1 and j["n_max"] == 4 and abs(j["rows"][0]["reward"] - 4) < 1e-15' "one group"
# errors: one line naming FILE:LINE, exit 2
printf 'group,r\na,1\na,2\nb,1,7\n' >"$TMP/ragged.csv"
expect_exit 2 "ragged" -- "$ALIM" bon-samples "$TMP/ragged.csv"
expect_one_line_error "ragged"; expect_stderr 'ragged.csv:4: row has 3 fields, expected 2' "ragged names the line"
printf 'group,r\na,1\na,nan\n' >"$TMP/nan.csv"
expect_exit 2 "nan" -- "$ALIM" bon-samples "$TMP/nan.csv"
expect_one_line_error "nan"; expect_stderr 'nan.csv:3: reward .*not a finite number' "NaN names the line"
printf 'group,r\na,1\na,\n' >"$TMP/empty.csv"
expect_exit 2 "empty field" -- "$ALIM" bon-samples "$TMP/empty.csv"
expect_one_line_error "empty field"; expect_stderr 'empty.csv:3: ' "empty field names the line"
printf 'group,r,logp\na,1,-1\na,2,0.5\n' >"$TMP/lp.csv"
expect_exit 2 "logp" -- "$ALIM" bon-samples "$TMP/lp.csv"
expect_one_line_error "logp"; expect_stderr 'lp.csv:3: logp 0.5 > 0' "logp > 0"
printf 'group,r,g\na,1,1\na,2,inf\n' >"$TMP/g.csv"
expect_exit 2 "gold inf" -- "$ALIM" bon-samples "$TMP/g.csv"
expect_one_line_error "gold inf"; expect_stderr 'g.csv:3: gold reward' "gold names the line"
printf 'group,score\na,1\n' >"$TMP/nor.csv"
expect_exit 2 "no reward column" -- "$ALIM" bon-samples "$TMP/nor.csv"
expect_one_line_error "no reward column"; expect_stderr 'nor.csv:1: no reward column' "missing column"
printf 'group,r\n' >"$TMP/nos.csv"
expect_exit 2 "no samples" -- "$ALIM" bon-samples "$TMP/nos.csv"
expect_one_line_error "no samples"
expect_exit 2 "n-max" -- "$ALIM" bon-samples "$S" --n-max 4
expect_one_line_error "n-max"; expect_stderr "smallest group: 'a' \(first sample at line 4\) has 3" "n-max names the group"
for args in "--soft -1" "--soft inf" "--soft nan" "--bootstrap 1" "--level 1" "--n-max 0" "--frobnicate" "--seed x"; do
  expect_exit 2 "option $args" -- "$ALIM" bon-samples "$S" $args
  expect_one_line_error "option $args"
done
expect_exit 2 "missing FILE" -- "$ALIM" bon-samples
expect_exit 2 "two files" -- "$ALIM" bon-samples "$S" "$S"
expect_exit 2 "missing file" -- "$ALIM" bon-samples "$TMP/none.csv"
expect_one_line_error "missing file"
expect_exit 0 "help" -- "$ALIM" bon-samples --help
finish
