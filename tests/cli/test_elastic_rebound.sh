#!/usr/bin/env bash
# test_elastic_rebound.sh — `alim elastic rebound` (E2) end to end with --quick: grid CSV shape,
# nested-prefix step counts, JSON keys, resuming, refusing another configuration, the control,
# a classifier-labelled (text) source, errors. The scientific outcome is not asserted.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

py() { "$PYTHON" -c "$@" 2>"$TMP/pyerr"; }
# tiny models on a shared machine: idle OpenMP threads must not spin
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
S="$TMP/syn" R="$TMP/run"
expect_exit 0 "data" -- "$ALIM" data synthetic --out "$S" --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32

# ---- a first run ----
start=$(date +%s.%N)
expect_exit 0 "quick run" -- "$ALIM" elastic rebound --data "$S" --run "$R" --quick --json --csv "$TMP/grid.csv"
t1=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
cp "$TMP/stdout" "$TMP/first.json"
expect_json "j['cells']=={'total':68,'run':68,'reused':0}" "68 cells for 2 seeds, all run"
expect_json "set(j)>={'baseline','grid','n_star','criteria','verdict','config','config_hash','cells','wall_s','train_tokens_per_s','num_params','per_seed','labels','epsilon_nats','control'}" "summary keys"
expect_json "j['verdict'] in ('PASS','NULL') and len(j['criteria'])==5 and all(c['result'] in ('PASS','FAIL','NULL') and isinstance(c['why'],str) for c in j['criteria'].values())" "criteria"
expect_json "j['criteria']['e_control_weaker']['result']=='NULL'" "(e) NULL without a control run"
expect_json "[(r['n_pos'],r['n_neg']) for r in j['grid']]==[(p,n) for p in (10,20,30,40) for n in (0,8,16,24,32,40)]" "grid order n_pos x n_neg"
expect_json "all(set(r)>={'score_mean','score_se','positive_rate_mean','negative_rate_mean','gamma_c1_bits_mean','gamma_c2_bits_mean','gamma_c3_bits_mean','gamma_mix_bits_mean','kl_to_base_nats_mean','kl_to_base_bits_mean','steps','seeds'} for r in j['grid']+[j['baseline']])" "grid row keys"
expect_json "all(abs(r['score_mean']-(r['positive_rate_mean']-r['negative_rate_mean']))<1e-9 and 0<=r['positive_rate_mean']<=1 and 0<=r['negative_rate_mean']<=1 for r in j['grid'])" "score = positive - negative"
expect_json "j['baseline']['row']=='theta0' and j['baseline']['kl_to_base_nats_mean']==0 and all(r['kl_to_base_nats_mean']>0 for r in j['grid'])" "KL: 0 at theta0, > 0 after training"
expect_json "all(2<r['gamma_mix_bits_mean']<12 and 2<r['gamma_c2_bits_mean']<12 for r in j['grid']+[j['baseline']])" "gammas in bits/token"
expect_json "[x['n_pos'] for x in j['n_star']]==[10,20,30,40] and all(x['n_star'] is None or 0<=x['n_star']<=40 for x in j['n_star'])" "n_star"
expect_json "j['config']['grid']=={'n_pos':[10,20,30,40],'n_neg':[0,8,16,24,32,40],'negatives':j['config']['grid']['negatives']} and j['config']['quick'] is True" "config grid"
expect_json "len(j['per_seed'])==2 and all(len(s['evaluations'])==25 and all(e['samples']==16 and e['positive']+e['negative']+e['neutral']+e['undecided']==16 for e in s['evaluations']) for s in j['per_seed'])" "per-seed evaluations"
if cmp -s "$TMP/grid.csv" "$R/grid.csv"; then ok; else bad "--csv copies RUN/grid.csv"; fi
if cmp -s "$TMP/first.json" "$R/summary.json"; then ok; else bad "--json prints RUN/summary.json"; fi
# grid CSV: header, the theta0 row, 4 x 6 rows, equal to the JSON
if py "
import csv,json
rows=list(csv.reader(open('$TMP/grid.csv')))
j=json.load(open('$TMP/first.json'))
h=rows[0]
assert h[:5]==['row','n_pos','n_neg','steps','seeds'] and 'score_mean' in h and 'kl_to_base_nats_se' in h, h
assert len(rows)==1+1+24 and all(len(r)==len(h)==23 for r in rows), (len(rows), [len(r) for r in rows])
assert rows[1][0]=='theta0' and all(r[0]=='grid' for r in rows[2:])
for r,g in zip(rows[2:], j['grid']):
    d=dict(zip(h,r))
    assert int(d['n_pos'])==g['n_pos'] and int(d['n_neg'])==g['n_neg']
    assert abs(float(d['score_mean'])-g['score_mean'])<1e-6 and abs(float(d['gamma_mix_bits_mean'])-g['gamma_mix_bits_mean'])<1e-6
"; then ok; else bad "grid.csv shape: $(tail -c 300 "$TMP/pyerr")"; fi
# nested prefixes: per seed and n_pos, steps 0 at n_neg 0, non-decreasing, the last = the whole pass
if py "
import json
j=json.load(open('$TMP/first.json'))
for s in j['per_seed']:
    for p in (10,20,30,40):
        st=s['pos%d-negpass'%p]['steps']
        assert len(st)==6 and st[0]==0 and all(a<=b for a,b in zip(st,st[1:])) and st[1]>=1, st
        assert st[-1]==s['pos%d-negpass'%p]['total_steps'], st
"; then ok; else bad "prefix steps: $(tail -c 300 "$TMP/pyerr")"; fi
# the pass's log has one line per update, and the checkpoints exist
if py "
import os
d='$R/cells/s1-pos20-negpass'
lines=open(d+'/train/log.csv').read().split('\n')
steps=[int(l.split(',')[0]) for l in lines[1:] if l]
assert steps==list(range(1,len(steps)+1)), steps
for n in (8,16,24,32,40): assert os.path.isfile(d+'/n%d/model.safetensors'%n)
"; then ok; else bad "negative pass log/checkpoints: $(tail -c 300 "$TMP/pyerr")"; fi

# ---- the same command again: every cell reused, same numbers ----
start=$(date +%s.%N)
expect_exit 0 "second run" -- "$ALIM" elastic rebound --data "$S" --run "$R" --quick --json
t2=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
expect_json "j['cells']=={'total':68,'run':0,'reused':68}" "second run reuses every cell"
expect_stderr "s2-pos40-neg40: reused" "reuse noted on stderr"
if py "
import json
a=json.load(open('$TMP/first.json')); b=json.load(open('$TMP/stdout'))
assert a['grid']==b['grid'] and a['baseline']==b['baseline'] and a['criteria']==b['criteria'] and a['n_star']==b['n_star']
"; then ok; else bad "second run gives other numbers: $(tail -c 300 "$TMP/pyerr")"; fi
if awk -v a="$t1" -v b="$t2" 'BEGIN{exit !(b < a)}'; then ok; else bad "second run not faster ($t2 s vs $t1 s)"; fi
rm "$R/cells/s1-pos30-neg16/result.json"
expect_exit 0 "redo one cell" -- "$ALIM" elastic rebound --data "$S" --run "$R" --quick --json
expect_json "j['cells']=={'total':68,'run':1,'reused':67}" "only the unfinished cell runs"
expect_stderr "s1-pos30-neg16: done" "redone cell noted"
if py "
import json
a=json.load(open('$TMP/first.json')); b=json.load(open('$TMP/stdout'))
assert a['grid']==b['grid']
"; then ok; else bad "a redone evaluation gives other numbers: $(tail -c 300 "$TMP/pyerr")"; fi

# ---- another configuration on the same run directory: refused, nothing changed ----
before=$(cat "$R/manifest.json")
expect_exit 2 "other configuration" -- "$ALIM" elastic rebound --data "$S" --run "$R" --quick --pretrain-tokens 8192
expect_one_line_error "other configuration"; expect_stderr "pretrain" "names the differing key"
expect_exit 2 "other grid" -- "$ALIM" elastic rebound --data "$S" --run "$R" --quick --n-neg 0,8,40
expect_one_line_error "other grid"; expect_stderr "grid" "names the grid"
[ "$before" = "$(cat "$R/manifest.json")" ] && ok || bad "manifest changed by a refused run"

# ---- text output ----
expect_exit 0 "text output" -- "$ALIM" elastic rebound --data "$S" --run "$R" --quick
if grep -qE "^verdict: (PASS|NULL)" "$TMP/stdout" && [ "$(grep -cE '^grid ' "$TMP/stdout")" -eq 24 ] && grep -q "^theta0 " "$TMP/stdout" \
   && [ "$(grep -cE '^  \([a-e]\) (PASS|FAIL|NULL) ' "$TMP/stdout")" -eq 5 ] && grep -q "^n\*(eps" "$TMP/stdout"; then ok
else bad "text output: $(head -c 600 "$TMP/stdout")"; fi

# ---- the control (novel negative): shares 0.95,0.05,0 ----
C="$TMP/ctl"
expect_exit 0 "control data" -- "$ALIM" data synthetic --out "$C" --shares 0.95,0.05,0 --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32
expect_exit 2 "control data without --control" -- "$ALIM" elastic rebound --data "$C" --run "$TMP/rc0" --quick
expect_one_line_error "control data without --control"; expect_stderr "use --control" "asks for --control"
expect_exit 2 "--control on normal data" -- "$ALIM" elastic rebound --data "$S" --run "$TMP/rc1" --quick --control
expect_one_line_error "--control on normal data"; expect_stderr "0.95,0.05,0" "names the data command"
expect_exit 0 "control run" -- "$ALIM" elastic rebound --data "$C" --run "$TMP/rc" --quick --seeds 1 --control --json
expect_json "j['control'] is True and j['config']['control'] is True and j['cells']['run']==34" "control run"
expect_exit 2 "control run is not a control" -- "$ALIM" elastic rebound --data "$S" --run "$R" --quick --control-run "$R"
expect_one_line_error "control run is not a control"
expect_exit 0 "with --control-run" -- "$ALIM" elastic rebound --data "$S" --run "$R" --quick --control-run "$TMP/rc" --json
expect_json "j['cells']['run']==0 and j['criteria']['e_control_weaker']['result'] in ('PASS','FAIL') and j['control_run']=='$TMP/rc'" "(e) evaluated against the control"

# ---- a classifier-labelled source (alim data text --classifier-docs) ----
py "
import random
r=random.Random(5)
words=[['alpha','beta','gamma','delta'],['one','two','three','four'],['red','green','blue','cyan']]
for i,w in enumerate(words):
    open('$TMP/comp%d.txt'%i,'w').write(' '.join(r.choice(w) for _ in range(9000)))
"
expect_exit 0 "text data" -- "$ALIM" data text "$TMP/comp0.txt" "$TMP/comp1.txt" "$TMP/comp2.txt" --out "$TMP/txt" --window 32 --pretrain-bytes 16000 --pool-docs 80 --test-docs 8 --classifier-docs 40
expect_exit 0 "text run" -- "$ALIM" elastic rebound --data "$TMP/txt" --run "$TMP/run-txt" --quick --seeds 1 --json
expect_json "j['source']=='text' and 'classifier' in j['labels'] and 0<=j['classifier_accuracy']<=1 and j['cells']['run']==34" "classifier labels and accuracy"

# ---- errors: one line, exit 2, nothing left behind ----
expect_exit 2 "no --data" -- "$ALIM" elastic rebound --run "$TMP/x"
expect_one_line_error "no --data"
expect_exit 2 "no --run" -- "$ALIM" elastic rebound --data "$S"
expect_one_line_error "no --run"
expect_exit 2 "not a data dir" -- "$ALIM" elastic rebound --data "$TMP" --run "$TMP/x1" --quick
expect_one_line_error "not a data dir"
# a chains.json whose probabilities are not numbers is refused, not read as 0
cp -r "$S" "$TMP/sbad"
python3 -c 'import json, sys
p = sys.argv[1] + "/chains.json"; c = json.load(open(p)); c["components"][1]["P"][0][3] = "x"; json.dump(c, open(p, "w"))' "$TMP/sbad"
expect_exit 2 "chains.json entry not a number" -- "$ALIM" elastic rebound --data "$TMP/sbad" --run "$TMP/xbad" --quick
expect_one_line_error "chains.json entry not a number"
expect_stderr 'chains.json: component 2: P\[0\]\[3\] is not a finite number' "the entry is named"
expect_exit 2 "n_neg not from 0" -- "$ALIM" elastic rebound --data "$S" --run "$TMP/x2" --quick --n-neg 8,16,24,32
expect_one_line_error "n_neg not from 0"
expect_exit 2 "n_pos decreasing" -- "$ALIM" elastic rebound --data "$S" --run "$TMP/x3" --quick --n-pos 20,10
expect_one_line_error "n_pos decreasing"
expect_exit 2 "pool too small" -- "$ALIM" elastic rebound --data "$S" --run "$TMP/x4" --quick --n-pos 10,100
expect_one_line_error "pool too small"; expect_stderr "pool_c2.txt: has 80 documents" "pool size message"
expect_exit 2 "bad epsilon" -- "$ALIM" elastic rebound --data "$S" --run "$TMP/x5" --quick --epsilon 0
expect_one_line_error "bad epsilon"
expect_exit 2 "unknown option" -- "$ALIM" elastic rebound --data "$S" --run "$TMP/x6" --bogus
expect_stderr "unknown option" "unknown option message"
for d in x1 x2 x3 x4 x5 x6 rc0 rc1; do [ ! -e "$TMP/$d" ] || { bad "a refused run left $d"; break; }; done; ok

# ---- one quick seed under AddressSanitizer + UBSan (when that build is there and current) ----
if [ -z "${ALIM_SKIP_ASAN:-}" ] && [ -x "${ALIM_ASAN:-}" ] && "$ALIM_ASAN" elastic --help 2>/dev/null | grep -q "^  rebound "; then
  expect_exit 0 "asan quick run" -- "$ALIM_ASAN" elastic rebound --data "$TMP/txt" --run "$TMP/run-asan" --quick --seeds 1 --json
  expect_json "j['cells']['run']==34" "asan quick run summary"
  if grep -qE "ERROR: AddressSanitizer|runtime error" "$TMP/stderr"; then bad "sanitizer report: $(head -c 300 "$TMP/stderr")"; else ok; fi
fi

# ---- help ----
expect_exit 0 "help" -- "$ALIM" elastic --help
if grep -qE "^  rebound " "$TMP/stdout" && grep -q "alim elastic rebound --data DIR --run DIR" "$TMP/stdout" && grep -q "shares 0.95,0.05,0" "$TMP/stdout"; then ok; else bad "help lists rebound"; fi
expect_exit 0 "rebound --help" -- "$ALIM" elastic rebound --help
expect_exit 2 "unknown subcommand" -- "$ALIM" elastic bogus
expect_stderr "available: oracle, resist, rebound" "available subcommands"

finish
