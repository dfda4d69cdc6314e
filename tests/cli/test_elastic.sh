#!/usr/bin/env bash
# test_elastic.sh — `alim data`, `alim elastic`, `alim compress` end to end.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

py() { "$PYTHON" -c "$@" 2>"$TMP/pyerr"; }
# disjoint DIR : no document appears in two split files of DIR
disjoint() {
  py "
import glob,sys
seen={}
for f in sorted(glob.glob('$1/*.txt')):
    if f.endswith('_components.txt'): continue
    docs=[d for d in open(f,'rb').read().split(b'<|endoftext|>') if d.strip()]
    for d in docs:
        if d in seen and seen[d]!=f: sys.exit(1)
        seen[d]=f
sys.exit(0 if seen else 1)"
}

# ---- data synthetic ----
S="$TMP/syn"
expect_exit 0 "synthetic" -- "$ALIM" data synthetic --out "$S" --pretrain-tokens 64000 --pool-docs 100 --test-docs 32 --json
expect_json "j['format']=='alim-elastic-data/1' and j['source']=='synthetic' and j['sizes']['pretrain_docs']==500" "manifest header"
expect_json "all(abs(c['entropy_rate_bits']-2.6197148)<1e-6 for c in j['components'])" "entropy rates 2.62 bits"
expect_json "j['mixture']['doc_entropy_bits_lower']<=j['mixture']['doc_entropy_bits']<=j['mixture']['doc_entropy_bits_upper']" "mixture bounds"
expect_json "[c['pool_docs'] for c in j['components']]==[100,100,100] and [c['test_docs'] for c in j['components']]==[32,32,32]" "sizes"
if cmp -s "$TMP/stdout" "$S/manifest.json"; then ok; else bad "--json prints the manifest that was written"; fi
n=$(ls "$S" | wc -l); if [ "$n" -eq 12 ]; then ok; else bad "synthetic: expected 12 files, got $n: $(ls "$S")"; fi
if ls -d "$TMP"/syn.tmp.* >/dev/null 2>&1; then bad "temporary directory left behind"; else ok; fi
if disjoint "$S"; then ok; else bad "synthetic splits overlap $(cat "$TMP/pyerr")"; fi
n=$(py "print(len([d for d in open('$S/test_c2.txt','rb').read().split(b'<|endoftext|>') if d]))"); [ "$n" = 32 ] && ok || bad "test_c2 has $n docs"
n=$(py "import re; d=open('$S/pool_c1.txt','rb').read().split(b'<|endoftext|>')[0]; print(len(d), all(48<=b<112 for b in d))"); [ "$n" = "128 True" ] && ok || bad "document format: $n"
expect_exit 0 "same seed" -- "$ALIM" data synthetic --out "$TMP/syn2" --pretrain-tokens 64000 --pool-docs 100 --test-docs 32
if cmp -s "$S/pretrain.txt" "$TMP/syn2/pretrain.txt" && cmp -s "$S/test_mix.txt" "$TMP/syn2/test_mix.txt"; then ok; else bad "same seed, different data"; fi
expect_exit 0 "other seed" -- "$ALIM" data synthetic --out "$TMP/syn3" --seed 2 --pretrain-tokens 64000 --pool-docs 100 --test-docs 32
if cmp -s "$S/pretrain.txt" "$TMP/syn3/pretrain.txt"; then bad "other seed, same data"; else ok; fi
# bad input: one line, exit 2, nothing written
expect_exit 2 "existing dir" -- "$ALIM" data synthetic --out "$S"
expect_one_line_error "existing dir"; expect_stderr "not empty" "existing dir message"
expect_exit 2 "shares sum" -- "$ALIM" data synthetic --out "$TMP/bad1" --shares 0.5,0.5,0.5
expect_one_line_error "shares sum"; expect_stderr "^alim: error: --shares: " "shares names the option"
expect_exit 2 "shares count" -- "$ALIM" data synthetic --out "$TMP/bad1" --shares 0.5,0.5
expect_one_line_error "shares count"
expect_exit 2 "symbols" -- "$ALIM" data synthetic --out "$TMP/bad1" --symbols 300
expect_one_line_error "symbols"
if [ -e "$TMP/bad1" ] || ls -d "$TMP"/bad1.tmp.* >/dev/null 2>&1; then bad "failed runs left output"; else ok; fi
expect_exit 2 "missing --out" -- "$ALIM" data synthetic
expect_one_line_error "missing --out"
expect_exit 2 "unknown option" -- "$ALIM" data synthetic --out "$TMP/x" --bogus
expect_one_line_error "unknown option"
expect_exit 2 "unknown subcommand" -- "$ALIM" data frobnicate
expect_one_line_error "unknown subcommand"
expect_exit 0 "data --help" -- "$ALIM" data --help
if grep -q "synthetic" "$TMP/stdout" && grep -q "classify" "$TMP/stdout"; then ok; else bad "data help"; fi

# ---- data text: your own corpus, with a classifier ----
py "
import random
random.seed(5)
words=[['alpha','beta','gamma','delta','epsilon'],['red','green','blue','yellow','violet'],['one','two','three','four','five']]
for i,w in enumerate(words):
    with open('$TMP/corpus%d.txt'%(i+1),'w') as f:
        f.write(' '.join(random.choice(w) for _ in range(12000)))
"
T="$TMP/text"
expect_exit 0 "text" -- "$ALIM" data text "$TMP/corpus1.txt" "$TMP/corpus2.txt" "$TMP/corpus3.txt" --out "$T" --test-docs 16 --classifier-docs 40 --pool-docs 50 --json
expect_json "j['source']=='text' and j['n_components']==3 and j['window']==128" "text manifest"
expect_json "j['classifier']['accuracy']>=0.95" "classifier accuracy on clean windows"
expect_json "abs(sum(j['shares'])-1)<1e-9 and j['sizes']['pretrain_docs']>500" "text shares and auto size"
if disjoint "$T"; then ok; else bad "text splits overlap"; fi
expect_exit 0 "classify" -- "$ALIM" data classify --model "$T/classifier.nb" --data "$T/test_c2.txt" --json
expect_json "j['n_docs']==16 and j['fraction'][1]>=0.9 and len(j['documents'])==16" "classify test_c2"
expect_exit 2 "classify bad model" -- "$ALIM" data classify --model "$T/test_c1.txt" --data "$T/test_c2.txt"
expect_one_line_error "classify bad model"
expect_exit 2 "text missing file" -- "$ALIM" data text "$TMP/nonexistent.txt" --out "$TMP/t2"
expect_one_line_error "text missing file"
expect_exit 2 "text too small" -- "$ALIM" data text "$TMP/corpus1.txt" --out "$TMP/t3" --pretrain-bytes 100000000
expect_one_line_error "text too small"; expect_stderr "component 1" "names the component"

# ---- data natural (Debian packages fortunes, bible-kjv, jargon-text) ----
expect_exit 2 "natural without fortunes" -- "$ALIM" data natural --out "$TMP/n0" --fortunes-dir "$TMP/none"
expect_one_line_error "natural without fortunes"; expect_stderr "package 'fortunes' is missing" "names the package"
expect_exit 2 "natural without jargon" -- "$ALIM" data natural --out "$TMP/n0" --jargon "$TMP/none.gz"
expect_one_line_error "natural without jargon"
if [ -d /usr/share/games/fortunes ] && command -v bible >/dev/null && [ -f /usr/share/doc/jargon-text/jargon.txt.gz ]; then
  N="$TMP/nat"
  expect_exit 0 "natural" -- "$ALIM" data natural --out "$N" --json
  expect_json "j['source']=='natural' and [c['label'] for c in j['components']]==['fortunes','bible-kjv','jargon']" "natural manifest"
  expect_json "j['sizes']['pretrain_tokens']==2000000 and j['classifier']['accuracy']>=0.95" "natural D_p 2 MB, classifier >= 95%"
  if disjoint "$N"; then ok; else bad "natural splits overlap"; fi
  if grep -q 'Ge1:1' "$N/pool_c2.txt"; then bad "verse references left in the Bible"; else ok; fi
else
  echo "note: natural-source tests skipped (install fortunes bible-kjv jargon-text)"
fi

# ---- elastic oracle ----
expect_exit 0 "oracle" -- "$ALIM" elastic oracle --json
expect_json "j['all_pass'] and len(j['grid'])==12 and {g['model'] for g in j['grid']}=={'mix','markov'}" "oracle grid passes"
expect_json "all(g['dgamma_a_dl_bits']>0 and g['dgamma_p_dl_bits']<0 and g['novel_dgamma_p_dl_bits']>0 for g in j['grid'])" "oracle signs"
expect_json "all(set(g['checks'])=={'signs','ratio_near_k','analytic_equals_fd','hooke_near_1','novel_both_positive'} for g in j['grid'])" "check keys"
expect_exit 0 "oracle table" -- "$ALIM" elastic oracle --table --json
expect_json "[r['match'] for r in j['table']]==[True,True,False,True,False] and abs(j['table'][2]['ratio_secant']-1020.44)<0.01" "spec table (two rows differ, documented)"
expect_exit 0 "oracle csv" -- "$ALIM" elastic oracle --no-markov --k 100 --l 0.001,0.01 --csv "$TMP/e0.csv"
n=$(wc -l <"$TMP/e0.csv"); [ "$n" -eq 3 ] && ok || bad "csv rows: $n"
head -1 "$TMP/e0.csv" | grep -q '^model,k,l,gamma_a_bits' && ok || bad "csv header"
grep -q "all assertions PASS" "$TMP/stdout" && ok || bad "table output says PASS"
expect_exit 0 "oracle natural shares" -- "$ALIM" elastic oracle --shares 0.9,0.05,0.05 --json
expect_json "not j['all_pass'] and any(not g['checks']['ratio_near_k'] for g in j['grid'] if g['l']==0.01)" "l = 0.01 is not << q_t = 0.05: the 5% check fails"
expect_exit 2 "oracle bad k" -- "$ALIM" elastic oracle --k 0
expect_one_line_error "oracle bad k"
expect_exit 2 "oracle bad shares" -- "$ALIM" elastic oracle --shares 1,2
expect_one_line_error "oracle bad shares"
expect_exit 2 "elastic no subcommand" -- "$ALIM" elastic
expect_one_line_error "elastic no subcommand"
expect_exit 2 "elastic unknown subcommand" -- "$ALIM" elastic bogus
expect_one_line_error "elastic unknown subcommand"
expect_exit 0 "elastic help" -- "$ALIM" elastic --help
# the help lists the subcommands that exist
if grep -q "oracle" "$TMP/stdout" && grep -q "resist" "$TMP/stdout" && grep -q "rebound" "$TMP/stdout" && \
   grep -qE "^  scale " "$TMP/stdout" && grep -qE "^  coefficient$" "$TMP/stdout"; then ok; else bad "help lists the subcommands"; fi

# ---- compress ----
expect_exit 0 "compress" -- "$ALIM" compress --data "$S/test_c1.txt" --protocol tree --depth 4 --json
expect_json "j['arith_roundtrip_ok'] and 0<=j['arith_excess_bits']<=2 and j['n_tokens']==32*128" "arith within 2 bits"
expect_json "j['shannon_bits_per_token']<=j['huffman_bits_per_token']<=j['thm34_bits_per_token']+1e-12 and j['ceil_chunks_bits_per_token']<=j['thm34_bits_per_token']" "ordering of the bounds"
expect_exit 0 "compress table" -- "$ALIM" compress --data "$S/test_c1.txt" --depth 2
grep -q "Thm 3.4, both ceilings" "$TMP/stdout" && ok || bad "compress table"
expect_exit 2 "compress depth" -- "$ALIM" compress --data "$S/test_c1.txt" --depth 17
expect_one_line_error "compress depth"
expect_exit 2 "compress missing file" -- "$ALIM" compress --data "$TMP/nope.txt"
expect_one_line_error "compress missing file"
expect_exit 2 "compress protocol" -- "$ALIM" compress --data "$S/test_c1.txt" --protocol model
expect_one_line_error "compress protocol"
expect_exit 2 "compress no data" -- "$ALIM" compress
expect_one_line_error "compress no data"

# ---- alim data text with a JSONL component ({"prompt","response"} records) ----
"$PYTHON" -c "
import json,random
r=random.Random(3)
with open('$TMP/pr.jsonl','w') as f:
    for i in range(400): f.write(json.dumps({'prompt':'Q%d: '%i+r.choice(['why','how','what']), 'response':' '+' '.join(r.choice(['yes','no','maybe']) for _ in range(8))})+'\n')
open('$TMP/plain.txt','w').write(' '.join(r.choice(['alpha','beta','gamma']) for _ in range(4000)))
open('$TMP/plain2.txt','w').write(' '.join(r.choice(['red','green','blue']) for _ in range(4000)))
"
expect_exit 0 "data text with jsonl" -- "$ALIM" data text "$TMP/plain.txt" "$TMP/pr.jsonl" "$TMP/plain2.txt" --out "$TMP/tj" --window 32 --pretrain-bytes 8000 --pool-docs 40 --test-docs 8 --json
if grep -q '"response"' "$TMP/tj/pool_c2.txt" || ! grep -q "Q[0-9]*: " "$TMP/tj/pool_c2.txt"; then bad "jsonl read as records (no JSON syntax left)"; else ok; fi
printf '{"prompt": "a", "response": "b"}\n{"prompt": 3}\n' >"$TMP/bad.jsonl"
expect_exit 2 "data text bad jsonl" -- "$ALIM" data text "$TMP/plain.txt" "$TMP/bad.jsonl" --out "$TMP/tj2" --window 32
expect_one_line_error "data text bad jsonl"; expect_stderr "bad.jsonl:2" "names file and line"
[ ! -e "$TMP/tj2" ] && ok || bad "a refused data text left its directory"

# ---- compress with a model: eval's total_bits, a real arithmetic code, round trip ----
expect_exit 0 "tiny model" -- "$ALIM" train --data "$S/test_c2.txt" --format text --out "$TMP/cm" --layers 1 --dim 16 --heads 2 --context 32 --batch 4 --steps 20 --threads 1
expect_exit 0 "compress --model" -- "$ALIM" compress --model "$TMP/cm" --data "$S/test_c1.txt" --code "$TMP/c1.code" --threads 1 --json
expect_json "j['model']['arithmetic']['round_trip'] is True and j['model']['context']==32 and j['model']['vocab_size']==257" "model code round trip"
expect_json "abs(j['model']['arithmetic']['code_bits']-j['model']['arithmetic']['shannon_bits'])<2.01+1e-9*j['model']['arithmetic']['shannon_bits']" "code within 2 bits of the Shannon length"
expect_json "abs(j['model']['arithmetic']['shannon_bits']-(j['model']['total_bits']+math.log2(257)))<1e-4*j['model']['total_bits']" "Shannon length = eval total_bits + log2 V (first token)"
expect_json "j['model']['arithmetic']['stream_tokens']==j['model']['n_tokens']+1 and j['model']['n_bytes']==j['n_tokens']" "token counts"
[ -f "$TMP/c1.code" ] && [ "$(stat -c %s "$TMP/c1.code")" = "$("$PYTHON" -c "import json;print(json.load(open('$TMP/stdout'))['model']['arithmetic']['code_bytes'])")" ] && ok || bad "--code writes the code"
"$ALIM" eval --model "$TMP/cm" --data "$S/test_c1.txt" --format text --threads 1 --json >"$TMP/eval.json" 2>/dev/null
"$PYTHON" -c "
import json,sys
a=json.load(open('$TMP/eval.json')); b=json.load(open('$TMP/stdout'))['model']
sys.exit(0 if abs(a['total_bits']-b['total_bits'])<=1e-9*a['total_bits'] and a['n_tokens']==b['n_tokens'] else 1)" && ok || bad "compress total_bits = alim eval total_bits"
expect_exit 0 "compress --model table" -- "$ALIM" compress --model "$TMP/cm" --data "$S/test_c1.txt" --threads 1
grep -q "decoded token for token" "$TMP/stdout" && grep -q "Thm 3.4, both ceilings" "$TMP/stdout" && ok || bad "compress --model table"
expect_exit 2 "compress --code without --model" -- "$ALIM" compress --data "$S/test_c1.txt" --code "$TMP/x.code"
expect_one_line_error "compress --code without --model"
expect_exit 2 "compress --model missing" -- "$ALIM" compress --model "$TMP/nomodel" --data "$S/test_c1.txt"
expect_one_line_error "compress --model missing"
expect_exit 2 "compress --context too long" -- "$ALIM" compress --model "$TMP/cm" --data "$S/test_c1.txt" --context 64
expect_one_line_error "compress --context too long"
[ ! -e "$TMP/x.code" ] && ok || bad "a refused compress wrote a code"

finish
