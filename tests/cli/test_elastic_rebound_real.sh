#!/usr/bin/env bash
# test_elastic_rebound_real.sh — `alim elastic rebound --theta0 MODEL` (E2 on a real pretrained
# model, docs/elastic.md "E2 on a real pretrained model") end to end on SmolLM2-135M-Instruct
# with the chat data of `alim data behaviours`, --quick (n_pos 2,4, n_neg 0,2, 1 seed, context
# 64, 4 replies of <= 8 tokens, D_0 of 2 replies) --control (the c4 passes): every cell
# finite, a re-run reuses every cell, another theta0
# (one byte changed, or a Hugging Face directory) is refused on the same run directory, bad
# inputs are one-line errors with exit 2 and touch nothing. The scientific outcome is not
# asserted. Skipped (with the reason) when SmolLM2 cannot be fetched.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
smollm2_or_skip
need_free_gb 6
B="$TMP/beh" R="$TMP/run"
expect_exit 0 "behaviour data" -- "$ALIM" data behaviours --out "$B"

# ---- the smoke run ----
start=$(date +%s.%N)
expect_exit 0 "quick run on SmolLM2" -- "$ALIM" elastic rebound --data "$B" --run "$R" --theta0 "$G" --quick --control --threads 1 --json
secs=$(echo "$(date +%s.%N) - $start" | bc)
echo "note: the SmolLM2 smoke run took ${secs} s"
cp "$TMP/stdout" "$TMP/first.json"
FIN="all(isinstance(v,(int,float)) and math.isfinite(v) for v in vals)"
expect_json "j['cells']=={'total':14,'run':14,'reused':0}" "14 cells, all run"
expect_json "sorted((r['n_pos'],r['n_neg']) for r in j['grid'])==[(2,0),(2,2),(4,0),(4,2)]" "every (n_pos, n_neg) cell"
expect_json "sorted((r['n_pos'],r['n_neg']) for r in j['control_grid'])==[(2,0),(2,2),(4,0),(4,2)] and j['config']['control'] is True" "every control cell"
expect_json "(lambda vals: $FIN)([r[k] for r in j['grid']+j['control_grid']+[j['baseline']] for k in ('score_mean','positive_rate_mean','negative_rate_mean','gamma_c1_bits_mean','gamma_c2_bits_mean','gamma_c3_bits_mean','gamma_mix_bits_mean','kl_to_base_nats_mean')])" "finite numbers in every row"
expect_json "all(r['kl_to_base_nats_mean']>0 for r in j['grid']+j['control_grid']) and j['baseline']['kl_to_base_nats_mean']==0" "KL to theta0 > 0 after fine-tuning, 0 at theta0"
expect_json "all(r['gamma_c2_bits_mean']<j['baseline']['gamma_c2_bits_mean'] for r in j['grid'] if r['n_neg']==0)" "theta_pos predicts the positive test set better than theta0"
expect_json "j['config']['theta0']['format']=='gguf' and len(j['config']['theta0']['content_fnv1a64'])==16 and j['config']['theta0']['architecture']=='llama' and j['config']['theta0']['chat_template']=='chatml'" "theta0 recorded by content"
expect_json "j['num_params']==134515008 and j['theta0_model']=='$G' and j['config'].get('precision', 'fp32') in ('fp32','bf16')" "SmolLM2's size, path and precision"
expect_json "[a['n_pos'] for a in j['alignment_tokens']]==[2,4] and 0<j['alignment_tokens'][0]['tokens']<j['alignment_tokens'][1]['tokens']" "response tokens of the aligned records"
expect_json "all(e['samples']==4 and e['positive']+e['negative']+e['neutral']+e['undecided']==4 and len(e['examples'])==3 for e in j['per_seed'][0]['evaluations'])" "4 classified replies per evaluation"
expect_json "(lambda s: s[0]==0 and s[1]>=1)(j['per_seed'][0]['pos4-negpass']['steps'])" "negative pass stopped at n_neg 2"
expect_json "(lambda m,c: all(a['positive_rate_mean']==b['positive_rate_mean'] and a['gamma_c2_bits_mean']==b['gamma_c2_bits_mean'] for a,b in zip(m,c) if a['n_neg']==0))(j['grid'],j['control_grid'])" "the control starts from theta_pos's evaluation"
expect_json "all(e['negative']==e['class_counts'][3] and math.isfinite(e['gamma_c4_bits']) for e in j['per_seed'][0]['control_evaluations'])" "control: negative = the c4 class, bits on test_c4"
expect_json "all(e['negative']==e['class_counts'][2] for e in j['per_seed'][0]['evaluations'])" "main: negative = the c3 class"
expect_json "(lambda s: s[0]==0 and s[1]>=1)(j['per_seed'][0]['pos2-ctlpass']['steps'])" "control pass stopped at n_neg 2"
expect_json "j['per_seed'][0]['d0']['records']==2 and j['config']['data']['d0_records']==2 and j['config']['data']['d0_tokens']==8" "D_0 in the configuration and the summary"
"$PYTHON" -c "
import json,sys
r=[json.loads(l) for l in open('$R/cells/s1-d0/d0.jsonl')]; p=open('$B/prompts.txt').read().split('\\n')
sys.exit(0 if len(r)==2 and [x['prompt'] for x in r]==p[:2] and all(isinstance(x['response'],str) for x in r) else 1)" && ok || bad "D_0: theta0's replies to the first 2 prompts as chat records"
n=$(wc -l <"$R/grid.csv")
[ "$n" -eq 10 ] && ok || bad "grid.csv has $n lines, want 10 (header, theta0, 4 cells, 4 control cells)"
[ ! -e "$R/cells/s1-pos2/optimizer.safetensors" ] && [ ! -e "$R/cells/s1-pos2-negpass/train/optimizer.safetensors" ] && ok || bad "AdamW moments of finished passes removed"
[ ! -e "$R/cells/s1-pos2-negpass/n2/model.safetensors" ] && [ ! -e "$R/cells/s1-pos4-ctlpass/n2/model.safetensors" ] && [ -s "$R/cells/s1-pos4/model.safetensors" ] &&
  [ -s "$R/cells/s1-pos4-ctlpass/train/model.safetensors" ] && ok || bad "evaluated stops' weights removed, theta_pos and the passes' last checkpoints kept"

# ---- alim sample --chat --prompts draws what the experiment drew: theta0's evaluation is
# seed 1, stream 0, the first 4 prompts, <= 8 tokens (--quick); its 3 example replies ----
head -n 4 "$B/prompts.txt" >"$TMP/p4.txt"
expect_exit 0 "sample --prompts" -- "$ALIM" sample --model "$G" --chat --prompts "$TMP/p4.txt" --tokens 8 --seed 1 --threads 1 --out "$TMP/p4.jsonl"
"$PYTHON" -c "
import json, sys
got = [json.loads(l) for l in open('$TMP/p4.jsonl', encoding='utf-8')]  # strict UTF-8
ex = json.load(open('$R/cells/s1-theta0-eval/result.json', encoding='utf-8'))['examples']
p = open('$TMP/p4.txt').read().split(chr(10))[:4]
sys.exit(0 if [g['prompt'] for g in got] == p and [g['response'] for g in got[:3]] == [e['reply'] for e in ex] else 1)" && ok ||
  bad "sample --prompts: the replies of theta0's evaluation, in the prompts' order, as valid UTF-8"

# ---- a re-run reuses every cell ----
expect_exit 0 "re-run" -- "$ALIM" elastic rebound --data "$B" --run "$R" --theta0 "$G" --quick --control --threads 1 --json
expect_json "j['cells']=={'total':14,'run':0,'reused':14}" "every cell reused"
"$PYTHON" -c "import json,sys; a=json.load(open('$TMP/first.json')); b=json.load(open('$TMP/stdout')); sys.exit(0 if a['grid']==b['grid'] and a['control_grid']==b['control_grid'] and a['baseline']==b['baseline'] else 1)" && ok || bad "the re-run's grid is the first run's"

# ---- E4 from the run's cells: the main grid and the control (coefficient --from-rebound) ----
for part in main control; do
  flag=(); [ $part = control ] && flag=(--control)
  expect_exit 0 "E4 from the $part cells" -- "$ALIM" elastic coefficient --from-rebound "$R" --run "$TMP/e4-$part" --n-pos 2,4 --n-neg 0,2 \
    --pretrain-tokens 2e12 --bootstrap 0 "${flag[@]}" --json
  cp "$TMP/stdout" "$TMP/e4-$part.json"
  # the oracle: the differences and k recomputed here from the rebound summary
  "$PYTHON" -c "
import json, math, sys
e4 = json.load(open('$TMP/e4-$part.json')); rb = json.load(open('$TMP/first.json'))
key = 'control_evaluations' if '$part' == 'control' else 'evaluations'
ev = {(e['n_pos'], e['n_neg']): e for e in rb['per_seed'][0][key]}
at = {a['n_pos']: a['tokens'] for a in rb['alignment_tokens']}
ok = e4['pretrain_tokens'] == 2e12 and e4['control'] == ('$part' == 'control') and 'D_0' in e4['gamma_p']
for r in e4['per_n_pos']:
    n = r['n_pos']; p = r['points'][0]
    ok &= r['k'] == 2e12 / at[n] and r['a_tokens'] == at[n] and p['n_neg'] == 2 and p['l'] == 2 / n
    ok &= math.isclose(p['dgamma_p_bits_mean'], ev[(n, 2)]['gamma_mix_bits'] - ev[(n, 0)]['gamma_mix_bits'], rel_tol=1e-12)
    ok &= math.isclose(p['dgamma_a_bits_mean'], ev[(n, 2)]['gamma_c2_bits'] - ev[(n, 0)]['gamma_c2_bits'], rel_tol=1e-12)
    ok &= math.isclose(r['e_hat'], -p['dgamma_a_bits_mean'] / p['dgamma_p_bits_mean'], rel_tol=1e-12)
sys.exit(0 if ok and e4['verdict'] in ('PASS', 'NULL', 'FAIL') else 1)" && ok || bad "E4 ($part): k, the differences and E_hat as recomputed from the rebound summary"
  [ -s "$TMP/e4-$part/coefficient.csv" ] && ok || bad "E4 ($part): coefficient.csv written"
done
expect_exit 2 "E4 of a pretrained theta0 without its pretraining tokens" -- "$ALIM" elastic coefficient --from-rebound "$R" --run "$TMP/e4-bad" --n-pos 2,4 --n-neg 0,2
expect_one_line_error "E4 without --pretrain-tokens"; expect_stderr "pretraining tokens" "names the missing figure"
[ ! -e "$TMP/e4-bad" ] && ok || bad "E4 refused: no results directory"
expect_exit 2 "E4 --control without --from-rebound" -- "$ALIM" elastic coefficient --data "$B" --run "$TMP/e4-bad" --control --quick
expect_one_line_error "E4 --control without --from-rebound"

# ---- another theta0 on the same run directory is refused ----
cp "$R/manifest.json" "$TMP/manifest.before"
cp "$G" "$TMP/other.gguf"
"$PYTHON" -c "import os; p='$TMP/other.gguf'; n=os.path.getsize(p); f=open(p,'r+b'); f.seek(n-1); b=f.read(1); f.seek(n-1); f.write(bytes([b[0]^1]))"
expect_exit 2 "theta0 with one byte changed" -- "$ALIM" elastic rebound --data "$B" --run "$R" --theta0 "$TMP/other.gguf" --quick --control --threads 1
expect_one_line_error "theta0 with one byte changed"; expect_stderr "theta0\.content_fnv1a64" "names the theta0 hash"
mkdir "$TMP/hfdir"
cp "$R/cells/s1-pos2/"{config.json,model.safetensors,tokenizer.json,tokenizer_config.json,chat_template.jinja} "$TMP/hfdir/"
expect_exit 2 "a Hugging Face directory as theta0" -- "$ALIM" elastic rebound --data "$B" --run "$R" --theta0 "$TMP/hfdir" --quick --control --threads 1
expect_one_line_error "a Hugging Face directory as theta0"; expect_stderr "different configuration \(first difference: theta0\." "names theta0"
expect_exit 2 "the same run without its control" -- "$ALIM" elastic rebound --data "$B" --run "$R" --theta0 "$G" --quick --threads 1
expect_one_line_error "the same run without its control"; expect_stderr "first difference: control" "names control"
cmp -s "$R/manifest.json" "$TMP/manifest.before" && ok || bad "the run directory's manifest is untouched"

# ---- bad inputs: one line, exit 2, no run directory ----
S="$TMP/syn"
expect_exit 0 "synthetic data" -- "$ALIM" data synthetic --out "$S" --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32
err() { # err DESCRIPTION REGEX ARGS...
  local d=$1 re=$2; shift 2
  expect_exit 2 "$d" -- "$ALIM" elastic rebound --run "$TMP/bad" --quick --threads 1 "$@"
  expect_one_line_error "$d"; expect_stderr "$re" "$d: message"
  [ ! -e "$TMP/bad" ] && ok || bad "$d: made a run directory"
}
err "no theta0" "need a pretrained theta0" --data "$B"
err "shape options" "drop --layers" --data "$B" --theta0 "$G" --layers 2
err "missing model" "no such model file" --data "$B" --theta0 "$TMP/nope.gguf"
err "not a model" "holds no model files" --data "$B" --theta0 "$B"
err "n_pos beyond the slice" "per-seed slice" --data "$B" --theta0 "$G" --n-pos 2,100
err "more replies than prompts" "need as many prompts" --data "$B" --theta0 "$G" --samples 1000
err "pool too small for the seeds" "seed\(s\) with slices" --data "$B" --theta0 "$G" --seeds 1000
err "control run directory" "part of the run" --data "$B" --theta0 "$G" --control-run "$R"
err "context too long" "longer than theta0's context" --data "$B" --theta0 "$G" --context 100000
err "test records on synthetic data" "goes with behaviour data" --data "$S" --test-records 3
err "D_0 size on synthetic data" "goes with behaviour data" --data "$S" --d0-records 3
err "D_0 larger than the prompts" "--d0-records" --data "$B" --theta0 "$G" --d0-records 1000
err "bad lr" "--lr" --data "$B" --theta0 "$G" --lr 0
finish
