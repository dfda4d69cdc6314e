#!/usr/bin/env bash
# test_elastic_resist.sh — `alim elastic resist` (E1) end to end with --quick: output shapes,
# resuming a run directory, refusing another configuration, prompted (text) sources, errors.
# The scientific outcome (PASS / NULL / FAIL) is not asserted.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

py() { "$PYTHON" -c "$@" 2>"$TMP/pyerr"; }
S="$TMP/syn" R="$TMP/run"
expect_exit 0 "data" -- "$ALIM" data synthetic --out "$S" --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32

# ---- a first run ----
start=$(date +%s.%N)
expect_exit 0 "quick run" -- "$ALIM" elastic resist --data "$S" --run "$R" --quick --json --csv "$TMP/sum.csv" --curves "$TMP/curves.csv"
t1=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
cp "$TMP/stdout" "$TMP/first.json"
expect_json "j['verdict'] in ('PASS','NULL','FAIL') and isinstance(j['verdict_reason'], str)" "verdict"
expect_json "j['cells']=={'total':22,'run':22,'reused':0}" "22 cells for 2 seeds (theta0, one SFT pass, 3 samples, 6 fine-tunings each), all run"
expect_json "set(j['sign_test'])>={'n','inverse_lower','p_value','inverse_lower_corrected','p_value_corrected','mean_gap_nats','se_gap_nats','mean_gap_corrected_nats','se_gap_corrected_nats'} and j['sign_test']['n']==6" "sign-test keys"
expect_json "0<=j['sign_test']['inverse_lower']<=6 and 0<j['sign_test']['p_value']<=1" "sign-test values"
expect_json "len(j['criteria'])==6 and all(v in ('PASS','FAIL') for v in j['criteria'].values())" "criteria"
expect_json "[(p['pair'],p['seed']) for p in j['pairs']]==[(a,s) for s in (1,2) for a in ('1-2','2-3','1-3')]" "pairs x seeds"
expect_json "all(set(p[d])>={'initial_nats','mean_nats','final_nats','excess_nats','target_entropy_nats','steps'} for p in j['pairs'] for d in ('forward','inverse'))" "per-direction keys"
expect_json "all(abs(p[d]['excess_nats']-(p[d]['mean_nats']-p[d]['target_entropy_nats']))<1e-9 for p in j['pairs'] for d in ('forward','inverse'))" "excess = mean - H"
expect_json "all(abs(p['gap_nats']-(p['forward']['mean_nats']-p['inverse']['mean_nats']))<1e-9 and p['inverse_lower']==(p['gap_nats']>0) for p in j['pairs'])" "gap and sign"
expect_json "all(s['D%d'%k]['docs']==24 and s['D%d'%k]['H_nats']>0 for s in j['per_seed'] for k in (1,2,3)) and len(j['per_seed'])==2" "sample sets and H_k"
expect_json "j['config']['model']=={'layers':1,'dim':16,'heads':2,'context':32,'tokenizer':'byte'} and j['config']['quick'] is True and j['num_params']>0" "config recorded"
if cmp -s "$TMP/sum.csv" "$R/summary.csv" && cmp -s "$TMP/curves.csv" "$R/curves.csv"; then ok; else bad "--csv/--curves copy the run directory's CSVs"; fi
if cmp -s "$TMP/first.json" "$R/summary.json"; then ok; else bad "--json prints RUN/summary.json"; fi
# curves: header, 3 pairs x 2 seeds x 2 directions, steps 1..n consecutive, finite positive losses
if py "
import csv,math,sys
rows=list(csv.reader(open('$TMP/curves.csv')))
assert rows[0]==['pair','seed','direction','step','loss_nats'], rows[0]
runs={}
for r in rows[1:]:
    assert len(r)==5
    runs.setdefault((r[0],r[1],r[2]),[]).append((int(r[3]),float(r[4])))
assert set(runs)=={(p,s,d) for p in ('1-2','2-3','1-3') for s in ('1','2') for d in ('forward','inverse')}, sorted(runs)
for k,v in runs.items():
    assert [s for s,_ in v]==list(range(1,len(v)+1)), (k,v)
    assert all(math.isfinite(l) and 0<l<10 for _,l in v), (k,v)
    assert len(v)>=2
"; then ok; else bad "curves.csv shape: $(tail -c 300 "$TMP/pyerr")"; fi
# summary CSV: 18 columns, 6 rows, consistent with the JSON
if py "
import csv,json
rows=list(csv.reader(open('$TMP/sum.csv')))
j=json.load(open('$TMP/first.json'))
assert len(rows)==7 and all(len(r)==18 for r in rows), [len(r) for r in rows]
h=rows[0]
assert h[:2]==['pair','seed'] and 'forward_mean_nats' in h and 'inverse_excess_nats' in h and h[-1]=='inverse_lower_corrected'
for r,p in zip(rows[1:], j['pairs']):
    d=dict(zip(h,r))
    assert d['pair']==p['pair'] and int(d['seed'])==p['seed']
    assert abs(float(d['forward_mean_nats'])-p['forward']['mean_nats'])<1e-6
    assert int(d['inverse_lower'])==int(p['inverse_lower'])
    assert int(d['forward_steps'])==p['forward']['steps']
"; then ok; else bad "summary.csv shape: $(tail -c 300 "$TMP/pyerr")"; fi
# the per-step curve's mean is the summary's mean
if py "
import csv,json
j=json.load(open('$TMP/first.json'))
runs={}
for r in list(csv.reader(open('$TMP/curves.csv')))[1:]: runs.setdefault((r[0],int(r[1]),r[2]),[]).append(float(r[4]))
for p in j['pairs']:
    for d in ('forward','inverse'):
        v=runs[(p['pair'],p['seed'],d)]
        assert abs(sum(v)/len(v)-p[d]['mean_nats'])<1e-6 and abs(v[0]-p[d]['initial_nats'])<1e-6 and abs(v[-1]-p[d]['final_nats'])<1e-6
"; then ok; else bad "curve means: $(tail -c 300 "$TMP/pyerr")"; fi
# generated data: JSONL with an empty prompt on the synthetic source (raw bytes: read as latin-1)
if py "
import json
for k in (1,2,3):
    L=[json.loads(l) for l in open('$R/cells/s1-D%d/D.jsonl'%k,encoding='latin-1')]
    assert len(L)==24 and all(x['prompt']=='' and 0<len(x['response'].encode('latin-1','replace'))<=32 for x in L)
"; then ok; else bad "D_k files: $(tail -c 300 "$TMP/pyerr")"; fi
for f in manifest.json cells/s1-theta0/model.safetensors cells/s2-sft/theta3/model.safetensors cells/s1-sft/theta1/model.safetensors cells/s1-sft/data.txt cells/s2-ft13-inverse/log.csv; do
  [ -f "$R/$f" ] && ok || bad "missing $R/$f"
done
# theta1..3 are three stops of ONE in-order pass: contiguous updates, one log, the last stop = the end
if py "
import json
j=json.load(open('$TMP/first.json'))
for sd in j['per_seed'] if 'per_seed' in j else j['seeds']:
    t=[sd['theta%d'%k] for k in (1,2,3)]
    assert t[0]['first_step']==0 and all(t[k]['first_step']==t[k-1]['steps'] for k in (1,2)), t
    assert all(len(x['losses_nats'])==x['steps']-x['first_step']>=1 for x in t)
steps=[int(l.split(',')[0]) for l in open('$R/cells/s1-sft/train/log.csv').read().split('\n')[1:] if l]
assert steps==list(range(1,len(steps)+1)), steps
"; then ok; else bad "SFT pass: $(tail -c 300 "$TMP/pyerr")"; fi

# ---- the same command again: every cell reused, same numbers ----
start=$(date +%s.%N)
expect_exit 0 "second run" -- "$ALIM" elastic resist --data "$S" --run "$R" --quick --json
t2=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')
expect_json "j['cells']=={'total':22,'run':0,'reused':22}" "second run reuses every cell"
expect_stderr "s2-ft13-inverse: reused" "reuse noted on stderr"
if py "
import json
a=json.load(open('$TMP/first.json')); b=json.load(open('$TMP/stdout'))
assert a['pairs']==b['pairs'] and a['sign_test']==b['sign_test'] and a['verdict']==b['verdict']
"; then ok; else bad "second run gives other numbers: $(tail -c 300 "$TMP/pyerr")"; fi
if awk -v a="$t1" -v b="$t2" 'BEGIN{exit !(b < a)}'; then ok; else bad "second run not faster ($t2 s vs $t1 s)"; fi

# ---- an interrupted cell (no result.json) is redone, and only it ----
rm "$R/cells/s1-ft23-forward/result.json"
expect_exit 0 "redo one cell" -- "$ALIM" elastic resist --data "$S" --run "$R" --quick --json
expect_json "j['cells']=={'total':22,'run':1,'reused':21}" "only the unfinished cell runs"
expect_stderr "s1-ft23-forward: done" "redone cell noted"

# ---- more seeds on the same run directory ----
expect_exit 0 "--seeds 3" -- "$ALIM" elastic resist --data "$S" --run "$R" --quick --seeds 3 --json
expect_json "j['cells']=={'total':33,'run':11,'reused':22} and j['sign_test']['n']==9 and len(j['pairs'])==9" "a third seed adds 11 cells"

# ---- another configuration on the same run directory: refused, nothing changed ----
before=$(cat "$R/manifest.json")
expect_exit 2 "other configuration" -- "$ALIM" elastic resist --data "$S" --run "$R" --quick --pretrain-tokens 8192
expect_one_line_error "other configuration"; expect_stderr "pretrain" "names the differing key"
[ "$before" = "$(cat "$R/manifest.json")" ] && ok || bad "manifest changed by a refused run"
expect_exit 0 "other data" -- "$ALIM" data synthetic --out "$TMP/syn2" --seed 2 --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32
expect_exit 2 "other data directory" -- "$ALIM" elastic resist --data "$TMP/syn2" --run "$R" --quick
expect_one_line_error "other data directory"; expect_stderr "data_manifest_hash" "names the data manifest"

# ---- text output ----
expect_exit 0 "text output" -- "$ALIM" elastic resist --data "$S" --run "$R" --quick
if grep -qE "^verdict: (PASS|NULL|FAIL) " "$TMP/stdout" && grep -q "^sign test" "$TMP/stdout" && [ "$(grep -cE '^(1-2|2-3|1-3) ' "$TMP/stdout")" -eq 6 ]; then ok
else bad "text output: $(head -c 600 "$TMP/stdout")"; fi

# ---- a prompted source (alim data text): prompt bytes kept, only continuations scored ----
py "
import random
r=random.Random(5)
words=[['alpha','beta','gamma','delta'],['one','two','three','four'],['red','green','blue','cyan']]
for i,w in enumerate(words):
    open('$TMP/comp%d.txt'%i,'w').write(' '.join(r.choice(w) for _ in range(6000)))
"
expect_exit 0 "text data" -- "$ALIM" data text "$TMP/comp0.txt" "$TMP/comp1.txt" "$TMP/comp2.txt" --out "$TMP/txt" --window 32 --pretrain-bytes 16000 --pool-docs 80 --test-docs 8
expect_exit 0 "prompted run" -- "$ALIM" elastic resist --data "$TMP/txt" --run "$TMP/run-txt" --quick --seeds 1 --json
expect_json "j['source']=='text' and j['cells']['run']==11 and j['config']['samples']['prompt_bytes']==8" "prompted run summary"
if py "
import json
pool=[d for d in open('$TMP/txt/pool_c1.txt','rb').read().split(b'<|endoftext|>') if d.strip()]
L=[json.loads(l) for l in open('$TMP/run-txt/cells/s1-D2/D.jsonl',encoding='latin-1')]
assert len(L)==24
for i,x in enumerate(L):
    assert x['prompt'].encode('latin-1')==pool[i][:8], (x['prompt'],pool[i][:8])
    assert len(x['response'].encode('latin-1','replace'))<=24
"; then ok; else bad "prompts are the first 8 bytes of pool_c1 windows: $(tail -c 300 "$TMP/pyerr")"; fi

# ---- errors: one line, exit 2 ----
expect_exit 2 "no --data" -- "$ALIM" elastic resist --run "$TMP/x"
expect_one_line_error "no --data"
expect_exit 2 "no --run" -- "$ALIM" elastic resist --data "$S"
expect_one_line_error "no --run"
expect_exit 2 "not a data dir" -- "$ALIM" elastic resist --data "$TMP" --run "$TMP/x" --quick
expect_one_line_error "not a data dir"; expect_stderr "manifest" "not a data dir message"
expect_exit 2 "pool too small" -- "$ALIM" elastic resist --data "$S" --run "$TMP/x2" --quick --sft-docs 30
expect_one_line_error "pool too small"; expect_stderr "pool_c2.txt: has 80 documents" "pool size message"
expect_exit 2 "sample tokens > context" -- "$ALIM" elastic resist --data "$S" --run "$TMP/x3" --quick --sample-tokens 64
expect_one_line_error "sample tokens > context"
expect_exit 2 "bad seeds" -- "$ALIM" elastic resist --data "$S" --run "$TMP/x4" --seeds 0
expect_one_line_error "bad seeds"
expect_exit 2 "unknown option" -- "$ALIM" elastic resist --data "$S" --run "$TMP/x5" --bogus
expect_stderr "unknown option" "unknown option message"
[ ! -e "$TMP/x2" ] && [ ! -e "$TMP/x3" ] && ok || bad "a refused run left a run directory"

# ---- one quick seed under AddressSanitizer + UBSan (when that build is there and current) ----
if [ -z "${ALIM_SKIP_ASAN:-}" ] && [ -x "${ALIM_ASAN:-}" ] && "$ALIM_ASAN" elastic --help 2>/dev/null | grep -q "^  resist "; then
  expect_exit 0 "asan quick run" -- "$ALIM_ASAN" elastic resist --data "$TMP/txt" --run "$TMP/run-asan" --quick --seeds 1 --json
  expect_json "j['cells']['run']==11 and j['verdict'] in ('PASS','NULL','FAIL')" "asan quick run summary"
  if grep -qE "ERROR: AddressSanitizer|runtime error" "$TMP/stderr"; then bad "sanitizer report: $(head -c 300 "$TMP/stderr")"; else ok; fi
fi

# ---- help ----
expect_exit 0 "help" -- "$ALIM" elastic --help
if grep -qE "^  resist " "$TMP/stdout" && grep -q "alim elastic resist --data DIR --run DIR" "$TMP/stdout"; then ok; else bad "help lists resist"; fi
expect_exit 0 "resist --help" -- "$ALIM" elastic resist --help
expect_exit 2 "unknown subcommand" -- "$ALIM" elastic bogus
expect_stderr "available: oracle, resist" "available subcommands"

finish
