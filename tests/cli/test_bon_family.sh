#!/bin/bash
# End-to-end tests of the best-of-N family: alim bon --soft/--poisson/--hedge with a gold column,
# alim frontier --family, alim passk (values, huge N/mu, errors as one line with exit 2).
. "$(dirname "$0")/lib.sh"
G="$TMP/g.csv" D="$TMP/d.csv"
printf 'p,r,g\n0.5,0,0\n0.3,1,1.5\n0.2,2,0.5\n' >"$G"
printf 'p,r\n0.5,0\n0.3,1\n0.2,2\n' >"$D"

# soft best-of-N: lambda = 0 is p, inf is best-of-N, huge N is the tilt
expect_exit 0 "soft lambda=0" -- "$ALIM" bon "$D" --n 7 --soft 0 --json
expect_json 'j["kl_nats"] == 0 and abs(j["reward"] - 0.7) < 1e-15' "soft lambda=0 is p"
expect_exit 0 "soft inf" -- "$ALIM" bon "$D" --n 4 --soft inf --json
expect_json 'abs(j["kl_nats"] - 0.5597505604) < 1e-10 and abs(j["reward"] - 1.5279) < 1e-13' "soft inf = best-of-4 (spec T1)"
expect_exit 0 "soft N=e^5000" -- "$ALIM" bon "$D" --n e^5000 --soft 1.5 --json
expect_json 'j["quadrature"]["method"] == "tilt" and j["kl_to_tilt_nats"] < 1e-15 and abs(j["reward"] - j["tilt_reward"]) < 1e-14' "soft N=e^5000 = tilt"
expect_exit 0 "soft N=4 lambda=1.5 with gold and MC" -- "$ALIM" bon "$G" --n 4 --soft 1.5 --check-mc 100000 --json
expect_json 'abs(j["quadrature"]["mass_error"]) < 1e-13 and all(j["monte_carlo"][k][1] - 0.01 <= j[v] <= j["monte_carlo"][k][2] + 0.01 for k, v in (("reward","reward"),("kl_nats","kl_nats"),("win_rate","win_rate"),("gold_reward","gold_reward")))' "soft MC intervals cover"
# Best-of-Poisson: mu = 0 is p, e^5000 the top level, ordered ties cost more KL
expect_exit 0 "bop mu=0" -- "$ALIM" bon "$D" --poisson 0 --json
expect_json 'j["kl_nats"] == 0 and j["expected_n"] == 1' "bop mu=0 is p"
expect_exit 0 "bop e^5000" -- "$ALIM" bon "$D" --poisson e^5000 --json
expect_json 'abs(j["kl_nats"] - math.log(5)) < 1e-14 and j["reward"] == 2 and j["kl_bound_nats"] == 4999' "bop mu=e^5000"
printf 'p,r\n0.25,1\n0.25,1\n0.5,0\n' >"$TMP/t.csv"
expect_exit 0 "bop ordered" -- "$ALIM" bon "$TMP/t.csv" --poisson 2 --ties ordered --json
expect_json 'j["kl_ordered_nats"] > j["kl_random_nats"] > 0 and j["kl_nats"] == j["kl_ordered_nats"]' "bop ordered KL > random"
expect_exit 0 "bop hedge" -- "$ALIM" bon "$G" --poisson 3 --hedge 1000 --check-mc 50000 --json
expect_json 'j["hedge"]["interior"] and 2 < j["hedge"]["best"] < 4 and j["hedge"]["gold_reward"] >= j["gold_reward"]' "bop hedge interior"
# best-of-N with gold: N-dagger = 3 on this fixture
expect_exit 0 "bon hedge" -- "$ALIM" bon "$G" --n 8 --hedge 100 --json
expect_json 'j["hedge"]["best"] == 3 and j["hedge"]["exhaustive"] and abs(j["hedge"]["gold_reward"] - 0.8245) < 1e-14 and "gold_reward" in j' "bon N-dagger"
printf 'p,r\n0.7,0\n0.3,1\n' >"$TMP/b.csv"
expect_exit 0 "bon binary" -- "$ALIM" bon "$TMP/b.csv" --n 5 --json
expect_json 'abs(j["pass_at_k"] - (1 - 0.7**5)) < 1e-15' "pass@k of a binary reward"
# family frontier
expect_exit 0 "family csv" -- "$ALIM" frontier "$G" --family --points 5 --n-list 1,2,4
if [ "$(head -1 "$TMP/stdout")" = "method,param,kl_nats,reward,win_rate,win_rate_strict,gold_reward,win_rate_bound,kl_bound_nats,win_rate_optimal" ] \
   && [ "$(grep -c '^bon,' "$TMP/stdout")" -eq 3 ] && [ "$(grep -c '^bop,' "$TMP/stdout")" -eq 3 ] \
   && [ "$(grep -c '^soft,' "$TMP/stdout")" -eq 5 ] && [ "$(grep -c '^tilt,' "$TMP/stdout")" -eq 5 ]; then ok; else bad "family CSV shape"; fi
expect_exit 0 "family json" -- "$ALIM" frontier "$G" --family --points 5 --n-list 1,2,4,64 --json
expect_json 'all(r["win_rate"] <= r.get("win_rate_bound", 1) + 1e-15 and r["kl_nats"] <= r.get("kl_bound_nats", 99) + 1e-15 for r in j["rows"]) and j["hedge"]["bon_n"]["best"] == 3' "family bounds hold"
# pass@k
expect_exit 0 "passk" -- "$ALIM" passk --n 10 --c 3 --k 2 --p 0.3 --json
expect_json 'abs(j["pass_at_k_estimate"] - (1 - 21/45)) < 1e-15 and abs(j["pass_at_k_exact"] - 0.51) < 1e-15 and j["var_plugin"] > 0' "passk values"
expect_exit 0 "passk text" -- "$ALIM" passk --n 100 --c 0 --k 5
# errors: one line, exit 2
for args in "bon $D --n 4 --soft -1" "bon $D --poisson -2" "bon $D --poisson 1 --n 3" "bon $D --n 3 --soft 1 --ties ordered" \
            "bon $D --n 3 --hedge 10" "bon $D --poisson 1 --policy" "passk --n 5 --c 6 --k 2" "passk --n 5 --c 1 --k 9" \
            "passk --n 5 --c 1" "passk --n 5 --c 1 --k 2 --p 1.5" "frontier $D --family --soft-n 0" \
            "bon $D --n 3 --soft 1 --check-mc 100 --n 2.5"; do
  expect_exit 2 "error: $args" -- "$ALIM" $args
  expect_one_line_error "error: $args"
done
printf 'p,r,g\n0.5,0,nan\n0.5,1,1\n' >"$TMP/badg.csv"
expect_exit 2 "non-finite gold" -- "$ALIM" bon "$TMP/badg.csv" --n 2
expect_stderr 'badg.csv:2: ' "gold error names the line"
finish
