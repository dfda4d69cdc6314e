#!/usr/bin/env bash
# test_hardening.sh — the reliability audit's defects (issue 13, docs/hardening.md), each
# reproduced as the audit found it: one writer per directory (locks), NaN never saved, log
# errors and resume, output directories that are not checkpoints, tampered cell results,
# corrupt classifier files, out-of-range conversions, a directory given for a file, stale
# temporaries, option messages, one writer per log (D1b). Each defect's checks failed before its
# fix (52 of the 76 checks the script had at the audit's fixes, and D1b's 7 on the program
# before it); the others are the "and nothing else changed" halves.
cd "$(dirname "$0")/../.." || exit 1
. tests/cli/lib.sh

export OMP_WAIT_POLICY=passive
py() { "$PYTHON" -c "$@" 2>"$TMP/pyerr"; }
M=(--layers 1 --dim 16 --heads 2 --context 32 --batch 4 --threads 1)
C="$TMP/corpus.txt"
py "
import random
random.seed(1)
w = ['the', 'cat', 'sat', 'on', 'mat', 'a', 'dog', 'ran', 'far', 'away']
open('$C', 'w').write('\n'.join(' '.join(random.choice(w) for _ in range(12)) for _ in range(400)) + '\n')"
# a process id that is certainly not alive: a child that has exited
sh -c 'exit 0' & DEAD=$!
wait "$DEAD"

# ---- D1: one writer per directory --------------------------------------------------------
# a second train on the --out of a running one is refused at once, naming the first
# (the running one saves only when it ends, so the kill -9 below never lands in a save: a
# checkpoint torn between its files is another matter, D2)
L="$TMP/lock"
expect_exit 0 "a checkpoint to continue" -- "$ALIM" train --data "$C" --out "$L" "${M[@]}" --steps 1000000 --stop-at 5
"$ALIM" train --data "$C" --out "$L" "${M[@]}" --steps 1000000 --resume >/dev/null 2>&1 &
P=$!
for _ in $(seq 200); do [ "$(wc -l <"$L/log.csv")" -gt 7 ] && break; sleep 0.05; done
t0=$(date +%s.%N)
expect_exit 2 "second train on a busy --out" -- "$ALIM" train --data "$C" --out "$L" "${M[@]}" --steps 5
expect_one_line_error "busy --out"
expect_stderr "^alim: error: $L: in use by process $P\$" "the message names the directory and the process"
t1=$(date +%s.%N)
if awk -v a="$t0" -v b="$t1" 'BEGIN{exit !(b - a < 5)}'; then ok; else bad "the second writer waited instead of failing at once"; fi
# killed (kill -9 mid-run), the lock goes with the process; its stale temporaries go with
# the next writer, a live process's stay (D11)
kill -9 "$P"; wait "$P" 2>/dev/null
touch "$L/model.safetensors.tmp.$DEAD" "$L/optimizer.safetensors.tmp.$$"
expect_exit 0 "resume after kill -9" -- "$ALIM" train --data "$C" --out "$L" "${M[@]}" --steps 1000000 --stop-at 6 --resume
if [ "$(cut -d, -f1 "$L/log.csv" | tr '\n' ' ')" = "step 1 2 3 4 5 6 " ]; then ok; else bad "log after kill -9 and resume: $(cut -d, -f1 "$L/log.csv" | head -12 | tr '\n' ' ')"; fi
if [ ! -e "$L/model.safetensors.tmp.$DEAD" ]; then ok; else bad "a dead process's temporary was not removed"; fi
if [ -e "$L/optimizer.safetensors.tmp.$$" ]; then ok; else bad "a live process's temporary was removed"; fi
rm -f "$L/optimizer.safetensors.tmp.$$"

# ---- D1b: one writer per log ---------------------------------------------------------------
# --log puts the log outside --out, where the directory's lock does not reach: a second run
# given the same log is refused at once, before it loads anything, and the first run's rows
# are untouched; so after a resume that cut the log (the cut log is a new file, held anew)
X="$TMP/shared.csv"
expect_exit 0 "a checkpoint with its log outside --out" -- "$ALIM" train --data "$C" --out "$TMP/la" "${M[@]}" --steps 1000000 --stop-at 3 --log "$X"
row3=$(sed -n '4p' "$X")
printf '%s\n' "4${row3#3}" >>"$X" # a row after the checkpoint: the resume cuts it
"$ALIM" train --data "$C" --out "$TMP/la" "${M[@]}" --steps 1000000 --resume --log "$X" >/dev/null 2>&1 &
P=$!
for _ in $(seq 200); do [ "$(wc -l <"$X")" -gt 6 ] && break; sleep 0.05; done
head -n 6 "$X" >"$TMP/shared.before"
expect_exit 2 "second train writing a busy --log" -- "$ALIM" train --data "$C" --out "$TMP/lb" "${M[@]}" --steps 5 --log "$X"
expect_one_line_error "busy --log"
expect_stderr "^alim: error: $X: written by another process\$" "the message names the log"
if [ ! -e "$TMP/lb" ]; then ok; else bad "the refused run made its --out"; fi
kill -9 "$P"; wait "$P" 2>/dev/null
if head -n 6 "$X" | cmp -s - "$TMP/shared.before" && [ "$(cut -d, -f1 "$X" | head -n 6 | tr '\n' ' ')" = "step 1 2 3 4 5 " ]; then ok
else bad "the first run's log was touched: $(cut -d, -f1 "$X" | head -n 8 | tr '\n' ' ')"; fi
# the holder gone, the log is free; two runs may share /dev/null (nothing to hold there)
expect_exit 0 "the log is free once its writer is gone" -- "$ALIM" train --data "$C" --out "$TMP/lb" "${M[@]}" --steps 2 --log "$X"
"$ALIM" train --data "$C" --out "$TMP/lc" "${M[@]}" --steps 1000000 --log /dev/null >/dev/null 2>&1 &
P=$!
for _ in $(seq 200); do [ -e "$TMP/lc/config.json" ] || [ -e "$TMP/lc/log.csv" ] && break; sleep 0.05; done
sleep 0.3
expect_exit 0 "a second run with --log /dev/null" -- "$ALIM" train --data "$C" --out "$TMP/ld" "${M[@]}" --steps 2 --log /dev/null
kill -9 "$P"; wait "$P" 2>/dev/null
mkdir -p "$TMP/logdir"
expect_exit 2 "--log a directory" -- "$ALIM" train --data "$C" --out "$TMP/le" "${M[@]}" --steps 2 --log "$TMP/logdir"
expect_stderr "^alim: error: $TMP/logdir: is a directory\$" "a directory as the log, named"
: >"$TMP/empty.txt"
expect_exit 2 "a run failing after taking its log" -- "$ALIM" train --data "$TMP/empty.txt" --out "$TMP/lf" "${M[@]}" --steps 2 --log "$TMP/new.csv"
if [ ! -e "$TMP/new.csv" ] && [ ! -e "$TMP/lf" ]; then ok; else bad "a failed run left its log or --out: $(ls "$TMP/lf" 2>&1) $(ls -l "$TMP/new.csv" 2>&1)"; fi

# an elasticity run directory held by another process (here flock(1) standing in for alim,
# with a PID in the lock file as alim writes it) is refused too
S="$TMP/syn" R="$TMP/run"
expect_exit 0 "data" -- "$ALIM" data synthetic --out "$S" --pretrain-tokens 20000 --pool-docs 80 --test-docs 8 --doc-len 32
mkdir -p "$R"
if command -v flock >/dev/null; then
  ( exec 9>>"$R/.alim.lock"; flock 9; echo 4242 >"$R/.alim.lock"; touch "$TMP/held"; exec sleep 20 ) &
  H=$!
  for _ in $(seq 100); do [ -e "$TMP/held" ] && break; sleep 0.05; done
  expect_exit 2 "resist on a held run directory" -- "$ALIM" elastic resist --data "$S" --run "$R" --quick --seeds 1 --threads 1
  expect_stderr "^alim: error: $R: in use by process 4242\$" "resist names the holder"
  if [ ! -e "$R/manifest.json" ]; then ok; else bad "the refused run wrote into the directory"; fi
  kill "$H"; wait "$H" 2>/dev/null
  rm -f "$TMP/held"
  # the report's --out likewise
  mkdir -p "$TMP/rep"
  ( exec 9>>"$TMP/rep/.alim.lock"; flock 9; echo 4343 >"$TMP/rep/.alim.lock"; touch "$TMP/held"; exec sleep 20 ) &
  H=$!
  for _ in $(seq 100); do [ -e "$TMP/held" ] && break; sleep 0.05; done
  expect_exit 2 "report on a held --out" -- "$ALIM" report --out "$TMP/rep" --quick
  expect_stderr "^alim: error: $TMP/rep: in use by process 4343\$" "report names the holder"
  kill "$H"; wait "$H" 2>/dev/null
else
  bad "flock(1) (util-linux) is missing"
fi
# two identical runs at once: exactly one does the work, the other is refused (exit 2)
R2="$TMP/run2"
"$ALIM" elastic resist --data "$S" --run "$R2" --quick --seeds 1 --threads 1 >"$TMP/a.out" 2>"$TMP/a.err" & PA=$!
"$ALIM" elastic resist --data "$S" --run "$R2" --quick --seeds 1 --threads 1 >"$TMP/b.out" 2>"$TMP/b.err" & PB=$!
wait "$PA"; ra=$?; wait "$PB"; rb=$?
if { [ $ra -eq 0 ] && { [ $rb -eq 0 ] || { [ $rb -eq 2 ] && grep -q "in use by process $PA" "$TMP/b.err"; }; }; } ||
   { [ $rb -eq 0 ] && [ $ra -eq 2 ] && grep -q "in use by process $PB" "$TMP/a.err"; }; then ok
else bad "two resist runs at once: exits $ra, $rb: $(cat "$TMP/a.err" "$TMP/b.err" | grep error | head -2)"; fi
# and the finished directory is the one a lone run makes
expect_exit 0 "lone resist" -- "$ALIM" elastic resist --data "$S" --run "$TMP/run3" --quick --seeds 1 --threads 1
if cmp -s "$R2/summary.csv" "$TMP/run3/summary.csv"; then ok; else bad "concurrent runs left a summary that differs from a lone run's"; fi

# ---- D6: a cell result of the wrong shape is not a finished cell --------------------------
echo '"hello"' >"$R2/cells/s1-D1/result.json"
expect_exit 2 "tampered result" -- "$ALIM" elastic resist --data "$S" --run "$R2" --quick --seeds 1 --threads 1
expect_stderr "^alim: error: $R2/cells/s1-D1/result.json: is not a cell result" "the message names the result file"
cp "$TMP/run3/cells/s1-D1/result.json" "$R2/cells/s1-D1/result.json"
sed -i 's/"H_nats":[^,]*/"H_nats": 9/' "$R2/cells/s1-D1/result.json"
expect_exit 2 "edited result" -- "$ALIM" elastic resist --data "$S" --run "$R2" --quick --seeds 1 --threads 1
expect_stderr "result.json: was changed after the cell finished" "an edited value is detected"
rm "$R2/cells/s1-D1/result.json"
expect_exit 0 "deleted result: the cell is redone" -- "$ALIM" elastic resist --data "$S" --run "$R2" --quick --seeds 1 --threads 1
if ! grep -qi nan "$R2/summary.csv"; then ok; else bad "NaN in summary.csv"; fi

# ---- D3: a diverging run stops, naming the update, and never saves NaN ---------------------
T="$TMP/div"
expect_exit 1 "diverging run" -- "$ALIM" train --data "$C" --out "$T" "${M[@]}" --steps 30 --lr 1e10 --save-every 1
expect_one_line_error "divergence"
expect_stderr "^alim: error: $T: training diverged at update [0-9]+: the loss is NaN; .*checkpoint of update [0-9]+ is kept" "divergence names the update and the checkpoint kept"
step=$(sed -E -n 's/.*checkpoint of update ([0-9]+) is kept.*/\1/p' "$TMP/stderr")
py "
import json, struct, sys, math
b = open('$T/model.safetensors', 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
data = b[8 + n:]
bad = 0
for k, v in h.items():
    if k == '__metadata__': continue
    s, e = v['data_offsets']
    bad += sum(1 for x in struct.unpack('<%df' % ((e - s) // 4), data[s:e]) if not math.isfinite(x))
sys.exit(0 if bad == 0 and h['__metadata__']['alim_step'] == '$step' else 1)" && ok || bad "the kept checkpoint is not finite or not from update $step ($(cat "$TMP/pyerr"))"
expect_exit 0 "the kept checkpoint evaluates" -- "$ALIM" eval --model "$T" --data "$C" --threads 1
expect_exit 2 "--lr beyond a float" -- "$ALIM" train --data "$C" --out "$TMP/lr" "${M[@]}" --steps 3 --lr 1e300
expect_stderr "^alim: error: --lr: 1e\+300 is larger than the largest float" "--lr 1e300 refused"

# ---- D4: log write errors ------------------------------------------------------------------
expect_exit 1 "log on a full disk" -- "$ALIM" train --data "$C" --out "$TMP/full" "${M[@]}" --steps 3 --log /dev/full
expect_stderr "^alim: error: /dev/full: cannot write the log: No space left on device" "full disk named"

# ---- D5: --out that holds other files ------------------------------------------------------
O="$TMP/other"
mkdir -p "$O"; echo "my notes" >"$O/notes.txt"; echo '{"mine": 1}' >"$O/config.json"
expect_exit 2 "non-empty --out" -- "$ALIM" train --data "$C" --out "$O" "${M[@]}" --steps 3
expect_stderr "^alim: error: $O: .*refusing" "non-checkpoint --out refused"
if [ "$(cat "$O/config.json")" = '{"mine": 1}' ] && [ "$(ls "$O")" = "$(printf 'config.json\nnotes.txt')" ]; then ok; else bad "files of a refused --out changed: $(ls "$O")"; fi
expect_exit 0 "re-training over a checkpoint" -- "$ALIM" train --data "$C" --out "$T" "${M[@]}" --steps 3
# a first save killed after config.json and the tokenizer: the same command can run again
mkdir -p "$TMP/torn"; cp "$T/config.json" "$T/vocab.json" "$T/merges.txt" "$T/log.csv" "$TMP/torn/"
touch "$TMP/torn/model.safetensors.tmp.$DEAD"
expect_exit 0 "redo after a torn first save" -- "$ALIM" train --data "$C" --out "$TMP/torn" "${M[@]}" --steps 3

# ---- D12: resume cuts the log after the checkpoint ------------------------------------------
G="$TMP/resume"
expect_exit 0 "interrupted run" -- "$ALIM" train --data "$C" --out "$G" "${M[@]}" --steps 10 --save-every 3 --stop-at 6
# what a kill -9 after update 8 leaves (checkpoint at 6): rows 7 and 8 and a torn last line
row6=$(sed -n '7p' "$G/log.csv")
printf '%s\n%s\n9,5.1' "7${row6#6}" "8${row6#6}" >>"$G/log.csv"
expect_exit 0 "resumed" -- "$ALIM" train --data "$C" --out "$G" "${M[@]}" --steps 10 --save-every 3 --resume
if [ "$(cut -d, -f1 "$G/log.csv" | tr '\n' ' ')" = "step 1 2 3 4 5 6 7 8 9 10 " ]; then ok; else bad "resumed log rows: $(cut -d, -f1 "$G/log.csv" | tr '\n' ' ')"; fi
expect_exit 0 "uninterrupted" -- "$ALIM" train --data "$C" --out "$TMP/whole" "${M[@]}" --steps 10 --save-every 3
if cmp -s <(cut -d, -f1-5 "$G/log.csv") <(cut -d, -f1-5 "$TMP/whole/log.csv"); then ok; else bad "resumed log differs from the uninterrupted one"; fi

# ---- D15: resume with another thread count ---------------------------------------------------
expect_exit 0 "run on 1 thread" -- "$ALIM" train --data "$C" --out "$TMP/thr" "${M[@]}" --steps 6 --stop-at 3
expect_exit 2 "resume on 2 threads" -- "$ALIM" train --data "$C" --out "$TMP/thr" --layers 1 --dim 16 --heads 2 --context 32 --batch 4 --threads 2 --steps 6 --resume
expect_stderr "^alim: error: --threads: 2 differs from the resumed run's 1 threads" "both thread counts named"

# ---- D14: a train that fails before its first checkpoint leaves nothing ----------------------
"$PYTHON" -c "import sys; sys.stdout.write('the cat sat on the mat\n' * 50000)" >"$TMP/big.txt"
( ulimit -v 4000000; "$ALIM" train --data "$TMP/big.txt" --out "$TMP/oom" --layers 1 --dim 16 --heads 2 --batch 1 --threads 1 --context 1048576 --steps 2 ) >/dev/null 2>"$TMP/stderr"
rc=$?
if [ $rc -eq 1 ] && [ ! -e "$TMP/oom" ]; then ok; else bad "failed train: exit $rc, left: $(ls -a "$TMP/oom" 2>&1 | tr '\n' ' ')"; fi

# ---- D8: out-of-range conversions ------------------------------------------------------------
expect_exit 2 "--epochs beyond 2^64 updates" -- "$ALIM" train --data "$C" --out "$TMP/ep" "${M[@]}" --epochs 1e18
expect_stderr "^alim: error: --epochs: 1e\+18 passes over [0-9]+ windows are .* updates, more than 2\^64" "huge --epochs refused"
expect_exit 0 "--epochs 1e15 counts its updates" -- "$ALIM" train --data "$C" --out "$TMP/ep" "${M[@]}" --epochs 1e15 --stop-at 2 --json
expect_json "j['last_step'] == 2 and j['total_steps'] == 143000000000000000" "1e15 epochs of 572 windows in batches of 4"
py "
import json
j = json.load(open('examples/interval-A.json'))
j['contexts'][0]['cognitive'] = {'type': 'msc', 'p': 0.1, 'size': -3}
json.dump(j, open('$TMP/neg.json', 'w'))"
for bin in "$ALIM" ${ALIM_ASAN:+"$ALIM_ASAN"}; do
  [ -x "$bin" ] || continue
  expect_exit 2 "negative msc size ($(basename "$(dirname "$bin")"))" -- "$bin" interval "$TMP/neg.json"
  expect_stderr '"size" must be an integer >= 2' "negative size refused with its message"
done

# ---- D7, D9: corrupt classifier files ----------------------------------------------------------
echo "the cat sat" >"$TMP/docs.txt"
py "
import struct
def nb(K=2, order=3, ng=0, tail=b''):
    b = b'ALIMNB1\n' + struct.pack('<IId', K, order, 1.0)
    b += b''.join(('c%d' % c).encode().ljust(32, b'\0') for c in range(K))
    return b + struct.pack('<%dQ' % K, *([5] * K)) + struct.pack('<Q', ng) + tail
open('$TMP/order.nb', 'wb').write(nb(order=9))
open('$TMP/wrap.nb', 'wb').write(nb(K=1, ng=(2**64 + 11) // 12, tail=b'\1' * 40))"
expect_exit 2 "classifier with a bad order" -- "$ALIM" data classify --model "$TMP/order.nb" --data "$TMP/docs.txt"
expect_stderr "^alim: error: $TMP/order.nb: bad header: n-gram order 9 outside 1..7\$" "the header message is not garbled"
expect_exit 2 "classifier whose entry count overflows" -- "$ALIM" data classify --model "$TMP/wrap.nb" --data "$TMP/docs.txt"
expect_stderr "^alim: error: $TMP/wrap.nb: " "the corrupt file is named"

# ---- D10: a directory where a file is expected -------------------------------------------------
expect_exit 2 "--data DIR" -- "$ALIM" train --data "$S" --out "$TMP/dd" "${M[@]}" --steps 2
expect_stderr "^alim: error: $S: is a directory, expected a file" "train --data DIR"
expect_exit 2 "interval DIR" -- "$ALIM" interval "$S"
expect_stderr "^alim: error: $S: is a directory, expected a file" "interval DIR"
expect_exit 2 "tilt DIR" -- "$ALIM" tilt "$S" --lambda 1
expect_stderr "^alim: error: $S: is a directory, expected a file" "tilt DIR"
expect_exit 2 "classify --model DIR" -- "$ALIM" data classify --model "$S" --data "$TMP/docs.txt"
expect_stderr "^alim: error: $S: is a directory, expected a file" "classifier DIR"

# ---- D13: messages about options that were given ----------------------------------------------
expect_exit 2 "--dim 65537" -- "$ALIM" train --data "$C" --out "$TMP/d13" --dim 65537 --heads 1
expect_stderr "^alim: error: --dim: '65537' must be an integer in \[1, 65536\]" "--dim names its limit"
if "$ALIM" train --help 2>&1 | grep -q "at most 65536"; then ok; else bad "train --help does not give the --dim limit"; fi
printf 'prob,reward\n0.5,1e308\n0.5,-1e308\n' >"$TMP/wide.csv"
for c in "bon $TMP/wide.csv --n 4" "tilt $TMP/wide.csv --lambda 1" "seq $TMP/wide.csv --length 3 --n 4" "budget $TMP/wide.csv --kl 0.5"; do
  # shellcheck disable=SC2086
  expect_exit 2 "rewards +-1e308: ${c%% *}" -- "$ALIM" $c
  expect_stderr "^alim: error: $TMP/wide.csv: rewards span \[-1e\+308, 1e\+308\]" "${c%% *} names the file, not --kl"
done

# A Hugging Face directory whose config.json describes a model far larger than its weights is
# refused before anything is allocated (the GGUF loader's finding, checked for this loader):
# a 4.5T-parameter Llama config beside a 16-byte safetensors file
mkdir -p "$TMP/hfbig"
python3 - "$TMP/hfbig" <<'PY'
import json, struct, sys
d = sys.argv[1]
json.dump({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 65536,
           "intermediate_size": 262144, "num_hidden_layers": 64, "num_attention_heads": 64,
           "num_key_value_heads": 64, "vocab_size": 1000000, "max_position_embeddings": 4096,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
           "hidden_act": "silu"}, open(d + "/config.json", "w"))
h = json.dumps({"model.embed_tokens.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(d + "/model.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + b"\0" * 16)
PY
expect_exit 2 "huge config, tiny weights" -- "$ALIM" sample --model "$TMP/hfbig" --prompt hi --tokens 1
expect_stderr "config.json describes 4529126965248 parameters, more than its weight files" "refused before allocating"
sed -i 's/"max_position_embeddings": 4096/"max_position_embeddings": 2000000000/' "$TMP/hfbig/config.json"
expect_exit 2 "a dimension beyond int" -- "$ALIM" sample --model "$TMP/hfbig" --prompt hi --tokens 1
expect_stderr "max_position_embeddings: must be at most 10\^9 in magnitude, got 2000000000" "says why, not 'not an integer'"

finish
