#!/usr/bin/env bash
# test_elastic_scale.sh — `alim elastic coefficient` (E4) and `alim elastic scale` (E3) end to
# end with --quick: file shapes, E_hat recomputed independently with numpy from the per-seed
# changes, Spearman rho against scipy, the nested pretraining budgets, resuming, reuse of an
# E2 run (--from-rebound), refusing another configuration, errors. The scientific outcome is
# not asserted.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

py() { "$PYTHON" -c "$@" 2>"$TMP/pyerr"; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
S="$TMP/syn"
expect_exit 0 "data" -- "$ALIM" data synthetic --out "$S" --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32

# ---- E4: a run of its own ----
R4="$TMP/e4"
expect_exit 0 "coefficient quick" -- "$ALIM" elastic coefficient --data "$S" --run "$R4" --quick --threads 1 --json --csv "$TMP/coef.csv"
cp "$TMP/stdout" "$TMP/coef.json"
expect_json "set(j)>={'per_n_pos','criteria','verdict','pretrain_tokens','shares','rebound_run','source'} and j['verdict'] in ('PASS','NULL','FAIL')" "E4 summary keys"
expect_json "[r['n_pos'] for r in j['per_n_pos']]==[10,40] and all([p['n_neg'] for p in r['points']]==[8,16,24] for r in j['per_n_pos'])" "E4 grid"
expect_json "len(j['criteria'])==3 and all(c['result'] in ('PASS','FAIL','NULL') for c in j['criteria'].values())" "E4 criteria"
expect_json "all(abs(r['k']-j['pretrain_tokens']/r['a_tokens'])<1e-9*r['k'] and r['a_tokens']==r['n_pos']*33 for r in j['per_n_pos'])" "k = |D_p|/|D_a| (32-token documents + end-of-text)"
# E_hat, its interval and the per-l means recomputed from the per-seed changes with numpy
if py "
import json, numpy as np
j=json.load(open('$TMP/coef.json'))
for r in j['per_n_pos']:
    l=np.array([p['l'] for p in r['points']])
    P=np.array([[s['dgamma_p_bits'] for s in p['per_seed']] for p in r['points']]).T
    A=np.array([[s['dgamma_a_bits'] for s in p['per_seed']] for p in r['points']]).T
    mp, ma = P.mean(0), A.mean(0)
    sp, sa = (l@mp)/(l@l), (l@ma)/(l@l)
    assert abs(sp-r['slope_p_bits_per_l'])<=1e-9*abs(sp) and abs(sa-r['slope_a_bits_per_l'])<=1e-9*abs(sa), (sp, sa)
    e=-sa/sp
    assert abs(e-r['e_hat'])<=1e-9*abs(e), (e, r['e_hat'])
    assert r['e_hat_lo95']<=r['e_hat']<=r['e_hat_hi95'] or abs(r['e_hat_hi95']-r['e_hat_lo95'])<1e-9
    per=[-((l@A[s])/(l@l))/((l@P[s])/(l@l)) for s in range(len(P))]
    # every resample of whole seeds gives an E_hat within the range of the mixtures; the
    # interval cannot go beyond the extreme single-seed fits when all slopes_p share a sign
    if np.all(P@l<0): assert min(per)-1e-9<=r['e_hat_lo95'] and r['e_hat_hi95']<=max(per)+1e-9, (per, r['e_hat_lo95'], r['e_hat_hi95'])
    for p,a,b in zip(r['points'],mp,ma):
        assert abs(p['dgamma_p_bits_mean']-a)<1e-12 and abs(p['dgamma_a_bits_mean']-b)<1e-12
        assert abs(p['hooke']-b/(r['k']*abs(a)))<=1e-9*abs(p['hooke'])
"; then ok; else bad "E_hat against numpy: $(tail -c 400 "$TMP/pyerr")"; fi
# the per-seed changes are the differences of the rebound run's own evaluations
if py "
import json
j=json.load(open('$TMP/coef.json')); s=json.load(open('$R4/summary.json'))
ev={(e['n_pos'],e['n_neg']):e for e in s['per_seed'][1]['evaluations'] if e['model']=='grid'}
for r in j['per_n_pos']:
    for p in r['points']:
        d=ev[(r['n_pos'],p['n_neg'])]['gamma_mix_bits']-ev[(r['n_pos'],0)]['gamma_mix_bits']
        assert abs(p['per_seed'][1]['dgamma_p_bits']-d)<1e-12, (d, p)
"; then ok; else bad "per-seed changes vs the rebound cells: $(tail -c 300 "$TMP/pyerr")"; fi
if py "
import csv
rows=list(csv.DictReader(open('$TMP/coef.csv')))
assert len(rows)==6 and [int(r['n_neg']) for r in rows]==[8,16,24]*2, rows
"; then ok; else bad "coefficient.csv: $(tail -c 300 "$TMP/pyerr")"; fi
cmp -s "$TMP/coef.csv" "$R4/coefficient.csv" && ok || bad "--csv copies RUN/coefficient.csv"
expect_exit 0 "coefficient again" -- "$ALIM" elastic coefficient --data "$S" --run "$R4" --quick --threads 1
if grep -q "(0 run now, 28 reused)" "$TMP/stdout" && grep -qE "^verdict: (PASS|NULL|FAIL)" "$TMP/stdout" && grep -q "E_hat = " "$TMP/stdout"; then ok
else bad "second coefficient run: $(head -c 500 "$TMP/stdout")"; fi

# ---- E4 from a finished E2 run ----
R2="$TMP/e2"
expect_exit 0 "rebound quick" -- "$ALIM" elastic rebound --data "$S" --run "$R2" --quick --seeds 1 --threads 1 --json
expect_exit 0 "coefficient --from-rebound" -- "$ALIM" elastic coefficient --from-rebound "$R2" --run "$TMP/e4b" --n-pos 10,40 --n-neg 0,8,16 --json
expect_json "j['rebound_run']=='$R2' and [r['seeds'] for r in j['per_n_pos']]==[1,1] and all(r['e_hat_lo95'] is None for r in j['per_n_pos'])" "analysis of an E2 run, one seed: no interval"
[ -f "$TMP/e4b/coefficient.json" ] && ok || bad "--from-rebound writes RUN/coefficient.json"
expect_exit 2 "--from-rebound: point not in the grid" -- "$ALIM" elastic coefficient --from-rebound "$R2" --run "$TMP/e4c" --n-pos 10,40 --n-neg 0,12
expect_one_line_error "--from-rebound: point not in the grid"; expect_stderr "n_neg = 12" "names the missing point"
expect_exit 2 "--from-rebound: not a run" -- "$ALIM" elastic coefficient --from-rebound "$TMP" --run "$TMP/e4d"
expect_one_line_error "--from-rebound: not a run"
expect_exit 2 "--from-rebound with model options" -- "$ALIM" elastic coefficient --from-rebound "$R2" --run "$TMP/e4e" --layers 3
expect_one_line_error "--from-rebound with model options"

# ---- E3 ----
R3="$TMP/e3"
start=$(date +%s.%N)
expect_exit 0 "scale quick" -- "$ALIM" elastic scale --data "$S" --run "$R3" --quick --threads 1 --json --csv "$TMP/scale.csv"
t1=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
cp "$TMP/stdout" "$TMP/scale.json"
expect_json "set(j)>={'size','tokens','criteria','verdict','config','config_hash','cells','wall_s'} and j['verdict'] in ('PASS','NULL')" "E3 summary keys"
expect_json "[l['level'] for l in j['size']['levels']]==['1x8x2','1x16x2'] and j['size']['levels'][0]['params']<j['size']['levels'][1]['params']" "size levels"
expect_json "[l['pretrain_tokens'] for l in j['tokens']['levels']]==[4096,8192,16384]" "token budgets (whole steps of 16 x 32)"
expect_json "set(j['criteria'])=={'size_R','size_e_hat','tokens_R','tokens_e_hat'}" "E3 criteria"
expect_json "j['cells']['run']>0 and j['cells']['reused']==0" "E3 cells run"
# rho against scipy, from the per-seed values
if py "
import json
from scipy.stats import spearmanr
j=json.load(open('$TMP/scale.json'))
for part in ('size','tokens'):
    x=[];yr=[];ye=[]
    for i,l in enumerate(j[part]['levels']):
        for s in l['per_seed']: x.append(i); yr.append(s['R']); ye.append(s['e_hat'])
    for y,key in ((yr,'spearman_R'),(ye,'spearman_e_hat')):
        want=spearmanr(x,y)[0]; got=j[part][key]
        assert (got is None and want!=want) or abs(got-want)<1e-12, (part,key,got,want)
"; then ok; else bad "rho against scipy: $(tail -c 300 "$TMP/pyerr")"; fi
# R recomputed from the sub-runs' evaluations
if py "
import json
j=json.load(open('$TMP/scale.json'))
s=json.load(open('$R3/size-1x16x2/summary.json'))
for k,seed in enumerate(s['per_seed']):
    ev={(e['n_pos'],e['n_neg']):e for e in seed['evaluations'] if e['model']=='grid'}
    R=(ev[(40,0)]['score']-ev[(40,8)]['score'])/8
    assert abs(j['size']['levels'][1]['per_seed'][k]['R']-R)<1e-12
"; then ok; else bad "R from the sub-run: $(tail -c 300 "$TMP/pyerr")"; fi
# the budget checkpoints are one run stopped and resumed: one log, steps 1..32, and the
# 8-step checkpoint is the theta0 of the 4096-token rebound run
if py "
import json, os
d='$R3/cells/s1-budgets'
steps=[int(l.split(',')[0]) for l in open(d+'/train/log.csv').read().split('\n')[1:] if l]
assert steps==list(range(1,33)), steps
for t in (4096,8192,16384): assert os.path.isfile(d+'/t%d/model.safetensors'%t)
s=json.load(open('$R3/tokens-4096/summary.json'))
assert s['per_seed'][0]['theta0_dir'].endswith('s1-budgets/t4096') and 'constant' in s['config']['theta0_origin']
"; then ok; else bad "budget checkpoints: $(tail -c 300 "$TMP/pyerr")"; fi
if py "
import csv
rows=list(csv.DictReader(open('$TMP/scale.csv')))
assert len(rows)==(2+3)*2 and set(r['part'] for r in rows)=={'size','tokens'}, len(rows)
"; then ok; else bad "scale.csv: $(tail -c 300 "$TMP/pyerr")"; fi
[ -f "$R3/levels.csv" ] && [ "$(wc -l <"$R3/levels.csv")" -eq 6 ] && ok || bad "levels.csv has 5 levels"
start=$(date +%s.%N)
expect_exit 0 "scale again" -- "$ALIM" elastic scale --data "$S" --run "$R3" --quick --threads 1 --json
t2=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
expect_json "j['cells']['run']==0 and j['cells']['reused']>0" "second scale run reuses every cell"
if py "
import json
a=json.load(open('$TMP/scale.json')); b=json.load(open('$TMP/stdout'))
assert a['size']==b['size'] and a['tokens']==b['tokens']
"; then ok; else bad "second scale run gives other numbers: $(tail -c 300 "$TMP/pyerr")"; fi
awk -v a="$t1" -v b="$t2" 'BEGIN{exit !(b < a)}' && ok || bad "second scale run not faster ($t2 s vs $t1 s)"
expect_exit 0 "scale text" -- "$ALIM" elastic scale --data "$S" --run "$R3" --quick --threads 1
if grep -q "^model size" "$TMP/stdout" && grep -q "^pretraining tokens" "$TMP/stdout" && grep -qE "^verdict: (PASS|NULL)" "$TMP/stdout" \
   && [ "$(grep -cE '^  (size|tokens)_' "$TMP/stdout")" -eq 4 ]; then ok; else bad "scale text output: $(head -c 600 "$TMP/stdout")"; fi
before=$(cat "$R3/manifest.json")
expect_exit 2 "scale: other configuration" -- "$ALIM" elastic scale --data "$S" --run "$R3" --quick --budgets 4096,16384
expect_one_line_error "scale: other configuration"; expect_stderr "budgets" "names the differing key"
[ "$before" = "$(cat "$R3/manifest.json")" ] && ok || bad "manifest changed by a refused run"

# ---- errors ----
expect_exit 2 "scale: bad sizes" -- "$ALIM" elastic scale --data "$S" --run "$TMP/x1" --sizes 2x63x4
expect_one_line_error "scale: bad sizes"
expect_exit 2 "scale: budgets decreasing" -- "$ALIM" elastic scale --data "$S" --run "$TMP/x2" --budgets 8192,4096
expect_one_line_error "scale: budgets decreasing"
expect_exit 2 "scale: bad part" -- "$ALIM" elastic scale --data "$S" --run "$TMP/x3" --part all
expect_one_line_error "scale: bad part"
expect_exit 2 "scale: no --data" -- "$ALIM" elastic scale --run "$TMP/x4"
expect_one_line_error "scale: no --data"
expect_exit 2 "scale: not a data dir" -- "$ALIM" elastic scale --data "$TMP" --run "$TMP/x5" --quick
expect_one_line_error "scale: not a data dir"
expect_exit 2 "coefficient: no --run" -- "$ALIM" elastic coefficient --data "$S"
expect_one_line_error "coefficient: no --run"
expect_exit 2 "coefficient: n_neg without 0" -- "$ALIM" elastic coefficient --data "$S" --run "$TMP/x6" --n-neg 8,16
expect_one_line_error "coefficient: n_neg without 0"
for d in x1 x2 x3 x4 x5 x6 e4c e4d e4e; do [ ! -e "$TMP/$d" ] || { bad "a refused run left $d"; break; }; done; ok

# ---- a user's checkpoint as theta0 (--theta0), with its own BPE tokenizer ----
py "
import random
r=random.Random(7)
words=[['alpha','beta','gamma','delta'],['one','two','three','four'],['red','green','blue','cyan']]
for i,w in enumerate(words):
    open('$TMP/w%d.txt'%i,'w').write(' '.join(r.choice(w) for _ in range(6000)))
"
expect_exit 0 "text data" -- "$ALIM" data text "$TMP/w0.txt" "$TMP/w1.txt" "$TMP/w2.txt" --out "$TMP/txt" --window 32 --pretrain-bytes 16000 --pool-docs 80 --test-docs 8 --classifier-docs 40
expect_exit 0 "bpe" -- "$ALIM" tokenizer train --vocab 300 --out "$TMP/tok" "$TMP/txt/pretrain.txt"
expect_exit 0 "user model" -- "$ALIM" train --data "$TMP/txt/pretrain.txt" --format text --tokenizer "$TMP/tok" --out "$TMP/um" --layers 1 --dim 16 --heads 2 --context 32 --batch 4 --steps 10 --threads 1
expect_exit 0 "rebound --theta0" -- "$ALIM" elastic rebound --theta0 "$TMP/um" --data "$TMP/txt" --run "$TMP/rt" --quick --seeds 2 --pretrain-tokens 4096 --threads 1 --json
expect_json "j['config']['model']['tokenizer'].startswith('bpe') and j['config']['model']['dim']==16 and 'theta0' not in j['per_seed'][0] and j['per_seed'][1]['theta0_dir'].endswith('/um') and j['cells']['total']==2*(1+2*4+4*6)" "theta0 from the user's checkpoint, no pretraining cells"
expect_json "all(a['tokens']<a['n_pos']*33 for a in j['alignment_tokens'])" "alignment tokens counted with the BPE (fewer than bytes + 1)"
expect_exit 0 "coefficient from the --theta0 run" -- "$ALIM" elastic coefficient --from-rebound "$TMP/rt" --run "$TMP/rtc" --n-pos 10,40 --n-neg 0,8,16 --json
if py "
import json
c=json.load(open('$TMP/stdout')); s=json.load(open('$TMP/rt/summary.json'))
a={x['n_pos']:x['tokens'] for x in s['alignment_tokens']}
for r in c['per_n_pos']: assert r['a_tokens']==a[r['n_pos']] and abs(r['k']-4096/a[r['n_pos']])<1e-12, r
"; then ok; else bad "E4 uses the run's token counts: $(tail -c 300 "$TMP/pyerr")"; fi
expect_exit 2 "--theta0 with a shape" -- "$ALIM" elastic rebound --theta0 "$TMP/um" --data "$TMP/txt" --run "$TMP/x7" --quick --layers 2
expect_one_line_error "--theta0 with a shape"
expect_exit 2 "--theta0 missing" -- "$ALIM" elastic rebound --theta0 "$TMP/none" --data "$TMP/txt" --run "$TMP/x8" --quick
expect_one_line_error "--theta0 missing"
expect_exit 2 "--theta0 context too long" -- "$ALIM" elastic rebound --theta0 "$TMP/um" --data "$TMP/txt" --run "$TMP/x9" --quick --context 64 --sample-tokens 32
expect_one_line_error "--theta0 context too long"; expect_stderr "context 32" "names the checkpoint's context"
for d in x7 x8 x9; do [ ! -e "$TMP/$d" ] || { bad "a refused run left $d"; break; }; done; ok

# ---- help ----
expect_exit 0 "help" -- "$ALIM" elastic --help
if grep -qE "^  scale " "$TMP/stdout" && grep -qE "^  coefficient( |$)" "$TMP/stdout" && grep -q "alim elastic scale --data DIR --run DIR" "$TMP/stdout" \
   && grep -q "alim elastic coefficient --data DIR --run DIR" "$TMP/stdout"; then ok; else bad "help lists scale and coefficient"; fi

finish
