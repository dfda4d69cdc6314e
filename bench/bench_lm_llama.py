"""bench_lm_llama.py — alim on a real Llama-family model (SmolLM2-135M-Instruct, GGUF
Q4_1/Q8_0) against Hugging Face transformers (fp32 and bf16, the same GGUF through its own
loader) and llama.cpp (its own binaries on the same file), same threads, same run.

Measured, each competitor in turn within every repetition (A B C D A B C D ...) so that a
drift of the shared machine's load hits all of them; the table gives medians:
  eval    tokens/s of scoring a text (windows of --context tokens, --batch windows a pass);
          alim: whole `alim eval` processes on the text and on a few words, the difference
          (so the model's load and dequantisation are not counted, as they are not for the
          others); transformers: the forward passes and the log-softmax in this process;
          llama.cpp: llama-perplexity's own "prompt eval" timing (-c context, -b context).
  sample  tokens/s of greedy decoding, one sequence, --new-tokens tokens after a prompt;
          alim: `alim sample --temperature 0` with N and with 1 new token, the difference;
          transformers: a greedy loop on its KV cache likewise; llama.cpp: llama-bench tg N.
  train   tokens/s of full fine-tuning steps (AdamW, clip 1, context 256, batch 4):
          `alim train --init FILE.gguf` (log.csv, steps after the first) against a PyTorch
          fp32 step of the transformers model (forward, cross-entropy, backward, clipping,
          AdamW), steps after the first.
Before timing, transformers' total bits of the text must match `alim eval` (same tokens:
alim's stream <|im_end|> text <|im_end|>, same windows), else the run stops.
Memory: alim's peak RSS (GNU time) against what the computation needs: weights in fp32,
KV cache, activations (see theory_*); llama.cpp's peak RSS for comparison.

usage: PY bench/bench_lm_llama.py --alim ALIM --model FILE.gguf [--llama-bin DIR]
          [--threads 2] [--reps 3] [--text FILE] [--context 512] [--batch 4]
          [--new-tokens 128] [--train-steps 5] [--json FILE]
PY: an interpreter with transformers 4.46 and gguf (scripts/pyvenv.sh).
"""
import argparse
import csv
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ap = argparse.ArgumentParser()
ap.add_argument("--alim", required=True)
ap.add_argument("--model", required=True)
ap.add_argument("--llama-bin", default="")
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
ap.add_argument("--max-bytes", type=int, default=20000, help="score the text's first bytes only (whole lines)")
ap.add_argument("--context", type=int, default=512)
ap.add_argument("--batch", type=int, default=4)
ap.add_argument("--new-tokens", type=int, default=128)
ap.add_argument("--train-steps", type=int, default=5)
ap.add_argument("--train-context", type=int, default=256)
ap.add_argument("--train-batch", type=int, default=4)
ap.add_argument("--skip", default="", help="comma list of parts to skip: eval,sample,train,bf16")
ap.add_argument("--json", default="")
args = ap.parse_args()
skip = set(filter(None, args.skip.split(",")))

FLAGS = set()
for line in open("/proc/cpuinfo"):
    if line.startswith("flags"):
        FLAGS = set(line.split(":", 1)[1].split())
        break
# the same OpenBLAS kernel as the alim program chooses for itself (src/core/blas.c), also
# for Debian's torch (which uses OpenBLAS too); must be set before torch loads it
if "OPENBLAS_CORETYPE" not in os.environ and {"avx512bw", "avx512vl"} <= FLAGS:
    os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
TH = str(args.threads)
os.environ.update(OMP_NUM_THREADS=TH, OPENBLAS_NUM_THREADS=TH, TQDM_DISABLE="1")

import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

torch.set_num_threads(args.threads)
transformers.logging.set_verbosity_error()
transformers.logging.disable_progress_bar()
tmp = tempfile.mkdtemp(prefix="bench_lm_llama.")
EOS = 2  # <|im_end|>: alim's document separator for this vocabulary (the GGUF's eos id)
PROMPT = "The GNU General Public License is a free, copyleft license for software and other kinds of works. It"
load0 = os.getloadavg()


def isa():
    have = [("AMX", "amx_tile" in FLAGS and "amx_bf16" in FLAGS), ("AVX512-BF16", "avx512_bf16" in FLAGS),
            ("AVX-512", "avx512f" in FLAGS), ("AVX512-VNNI", "avx512_vnni" in FLAGS), ("AVX2", "avx2" in FLAGS)]
    return ", ".join(f"{n} {'yes' if h else 'no'}" for n, h in have)


def run(cmd, what):
    """Runs cmd under GNU time: (wall seconds, peak RSS bytes, stdout, stderr)."""
    rss = os.path.join(tmp, "rss")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss, *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"bench_lm_llama: {what} failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return wall, int(open(rss).read().split()[-1]) * 1024, p.stdout, p.stderr


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---- the text and the token stream alim scores --------------------------------------------
text = open(args.text, encoding="utf-8").read()
if len(text.encode()) > args.max_bytes:  # the same cut text for every competitor
    text = text.encode()[:args.max_bytes].decode("utf-8", "ignore")
    text = text[:text.rfind("\n") + 1]
    args.text = os.path.join(tmp, "text.txt")
    open(args.text, "w", encoding="utf-8").write(text)
short = os.path.join(tmp, "short.txt")
open(short, "w").write("Hello world.")
d, f = os.path.dirname(os.path.abspath(args.model)), os.path.basename(args.model)


def gguf_tokenizer(path):
    """The model's byte-level BPE from the GGUF metadata (tokens, merges) with SmolLM's
    pre-tokenizer (digits one by one, then GPT-2's ByteLevel split), built with `tokenizers`.
    transformers 4.46's GGUF loader converts this vocabulary as a SentencePiece-style BPE
    (byte_fallback, its own whitespace handling) and splits runs of spaces after newlines
    differently (7 more tokens on the GPL's first 12 kB), so it is not used for the ids."""
    import gguf
    from tokenizers import Tokenizer, decoders, models as tmodels, pre_tokenizers
    r = gguf.GGUFReader(path)

    def strings(key):
        fl = r.fields[key]
        return [bytes(fl.parts[i]).decode("utf-8") for i in fl.data]

    pre = bytes(r.fields["tokenizer.ggml.pre"].parts[-1]).decode()
    if pre != "smollm":
        sys.exit(f"bench_lm_llama: {path}: tokenizer.ggml.pre {pre!r}, this benchmark knows 'smollm' only")
    toks = strings("tokenizer.ggml.tokens")
    t = Tokenizer(tmodels.BPE(vocab={s: i for i, s in enumerate(toks)},
                              merges=[tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]))
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    t.decoder = decoders.ByteLevel()
    return t


tok = gguf_tokenizer(args.model)
stream = [EOS] + tok.encode(text).ids + [EOS]
T, B = args.context, args.batch


def load_hf(dtype):
    m = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
    with torch.no_grad():  # 4.46's GGUF loader leaves lm_head untied (random) for tied models
        m.lm_head.weight = m.model.embed_tokens.weight
    return m.to(dtype).eval()


models = {"tf fp32": load_hf(torch.float32)}
if "bf16" not in skip:
    models["tf bf16"] = load_hf(torch.bfloat16)
cfg = models["tf fp32"].config
NPARAM = sum(p.numel() for p in models["tf fp32"].parameters())  # tied: the embedding once
L, C, NH, NKV, FF, V = (cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads, cfg.num_key_value_heads,
                        cfg.intermediate_size, cfg.vocab_size)
HS = C // NH


def windows():
    """alim eval's windows: consecutive T-token inputs, the next tokens as targets; runs of
    B equal-length windows a pass (the shorter last window alone)."""
    n = len(stream)
    starts = list(range(0, n - 1, T))
    out, i = [], 0
    while i < len(starts):
        ln = min(T, n - 1 - starts[i])
        grp = [s for s in starts[i:i + B] if min(T, n - 1 - s) == ln]
        x = torch.tensor([stream[s:s + ln] for s in grp])
        y = torch.tensor([stream[s + 1:s + 1 + ln] for s in grp])
        out.append((x, y))
        i += len(grp)
    return out


WIN = windows()


def hf_eval(m):
    """(seconds, total bits) of scoring the stream with transformers."""
    bits = 0.0
    t0 = time.perf_counter()
    with torch.inference_mode():
        for x, y in WIN:
            lg = m(x).logits.float()
            bits += float(torch.nn.functional.cross_entropy(lg.reshape(-1, V), y.reshape(-1), reduction="sum"))
    return time.perf_counter() - t0, bits / math.log(2)


def alim_eval(data):
    w, rss, out, _ = run([args.alim, "eval", "--model", args.model, "--data", data, "--context", str(T), "--batch",
                          str(B), "--threads", TH, "--json"], "alim eval")
    return w, rss, json.loads(out)


def llama_ppl():
    exe = os.path.join(args.llama_bin, "llama-perplexity")
    w, rss, out, err = run([exe, "-m", args.model, "-f", args.text, "-c", str(T), "-b", str(T), "-t", TH, "-tb", TH], "llama-perplexity")
    # llama_perf_context_print: prompt eval time = X ms / N tokens ( ... tokens per second)
    mt = re.search(r"prompt eval time\s*=\s*([\d.]+) ms /\s*(\d+) tokens", err)
    ppl = re.search(r"Final estimate: PPL = ([\d.]+)", err + out)
    if not mt:
        sys.exit("bench_lm_llama: no timing line in llama-perplexity's output:\n" + err[-2000:])
    return int(mt.group(2)) / (float(mt.group(1)) / 1000), rss, float(ppl.group(1)) if ppl else None


have_llama = bool(args.llama_bin) and os.access(os.path.join(args.llama_bin, "llama-perplexity"), os.X_OK)
R = {k: {} for k in ("alim", "tf fp32", "tf bf16", "llama.cpp")}
notes = []

print(f"host: {os.cpu_count()} cores; ISA: {isa()}; threads {args.threads}; "
      f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}")
print(f"model: {args.model} ({NPARAM / 1e6:.1f}M parameters: L={L} C={C} heads {NH}/{NKV} kv, FF={FF}, V={V})")
print(f"torch {torch.__version__}, transformers {transformers.__version__}; "
      f"llama.cpp: {args.llama_bin if have_llama else 'not found (--llama-bin / LLAMA_CPP_BIN), column left empty'}")
print(f"load average at start: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} (1/5/15 min)")
sys.stdout.flush()

# ---- correctness gate: the same loss before any timing ---------------------------------------
_, _, ja = alim_eval(args.text)
_, bits32 = hf_eval(models["tf fp32"])
rel = abs(bits32 - ja["total_bits"]) / ja["total_bits"]
print(f"check: {ja['n_tokens']} tokens scored; total bits alim {ja['total_bits']:.3f}, transformers fp32 {bits32:.3f} "
      f"(relative difference {rel:.2e})")
if ja["n_tokens"] != len(stream) - 1 or rel > 1e-4:
    sys.exit(f"bench_lm_llama: alim and transformers disagree (tokens {ja['n_tokens']} vs {len(stream) - 1}, "
             f"relative difference of the bits {rel:.2e}); not timing different computations")
if "tf bf16" in models:
    _, b16 = hf_eval(models["tf bf16"])
    print(f"       transformers bf16 {b16:.3f} bits ({(b16 / ja['total_bits'] - 1) * 100:+.2f}%)")
NTOK = ja["n_tokens"]
sys.stdout.flush()

# ---- eval -----------------------------------------------------------------------------------
if "eval" not in skip:
    ev = {k: [] for k in R}
    rss_eval, rss_llama, load_s, ppl = [], [], [], None
    for rep in range(args.reps):
        w0, _, j0 = alim_eval(short)
        w1, rss, j1 = alim_eval(args.text)
        ev["alim"].append((j1["n_tokens"] - j0["n_tokens"]) / (w1 - w0))
        rss_eval.append(rss)
        load_s.append(w0)
        for k, m in models.items():
            s, _ = hf_eval(m)
            ev[k].append(NTOK / s)
        if have_llama:
            tps, rss_l, ppl = llama_ppl()
            ev["llama.cpp"].append(tps)
            rss_llama.append(rss_l)
        print(f"  eval rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in ev.items() if v) + " tok/s")
        sys.stdout.flush()
    for k in R:
        R[k]["eval"] = med(ev[k])
    R["alim"]["eval_rss"] = med(rss_eval)
    R["alim"]["load_s"] = med(load_s)
    R["llama.cpp"]["eval_rss"] = med(rss_llama)
    if ppl:
        notes.append(f"llama.cpp's perplexity of the text: {ppl:.3f} (alim: {2 ** ja['bits_per_token']:.3f}; llama.cpp "
                     "adds BOS, scores the second half of each window, and multiplies quantised blocks with 8-bit activations)")

# ---- sampling -------------------------------------------------------------------------------
N = args.new_tokens
if "sample" not in skip:
    sp = {k: [] for k in R}
    rss_sample, alim_text, alim_n = [], None, None
    pids = torch.tensor([[EOS] + tok.encode(PROMPT).ids])

    def alim_sample(n):
        w, rss, out, _ = run([args.alim, "sample", "--model", args.model, "--prompt", PROMPT, "--temperature", "0",
                              "--tokens", str(n), "--threads", TH, "--json"], "alim sample")
        s = json.loads(out)["samples"][0]
        return w, rss, s["tokens"], s["text"]

    def hf_generate(m, n):
        """Greedy decoding with transformers' KV cache (past_key_values), n new tokens; what
        generate(do_sample=False) does (generate itself cannot run here: it imports
        torch.distributed.fsdp, which fails on Debian's torch 1.13 under Python 3.11)."""
        t0 = time.perf_counter()
        gen = []
        with torch.inference_mode():
            out = m(pids, use_cache=True)
            for _ in range(n):
                nxt = int(torch.argmax(out.logits[0, -1]))
                gen.append(nxt)
                if len(gen) == n:
                    break
                out = m(torch.tensor([[nxt]]), past_key_values=out.past_key_values, use_cache=True)
        return time.perf_counter() - t0, gen

    for rep in range(args.reps):
        w0, _, n0, _ = alim_sample(1)
        w1, rss, alim_n, alim_text = alim_sample(N)
        sp["alim"].append((alim_n - n0) / (w1 - w0))
        rss_sample.append(rss)
        for k, m in models.items():
            s0, _ = hf_generate(m, 1)
            s1, gen = hf_generate(m, N)
            sp[k].append((N - 1) / (s1 - s0))
            if k == "tf fp32" and rep == 0:
                same = PROMPT + tok.decode(gen[:alim_n]) == alim_text
                print(f"  greedy text: alim {alim_n} tokens, {'identical to' if same else 'DIFFERENT from'} "
                      f"transformers fp32's first {alim_n}")
        if have_llama:
            w, rss_l, out, _ = run([os.path.join(args.llama_bin, "llama-bench"), "-m", args.model, "-p", "0", "-n", str(N),
                                    "-t", TH, "-r", "1", "-o", "json"], "llama-bench")
            sp["llama.cpp"].append(float(json.loads(out)[0]["avg_ts"]))
        print(f"  sample rep {rep + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in sp.items() if v) + " tok/s")
        sys.stdout.flush()
    for k in R:
        R[k]["sample"] = med(sp[k])
    R["alim"]["sample_rss"] = med(rss_sample)
    R["alim"]["sample_tokens"] = alim_n
    if alim_n is not None and alim_n < N:
        notes.append(f"alim's greedy sample ended at <|im_end|> after {alim_n} tokens (< {N})")

# ---- fine-tuning ----------------------------------------------------------------------------
TT, BB, S = args.train_context, args.train_batch, args.train_steps
if "train" not in skip:
    out_dir = os.path.join(tmp, "ft")
    w, rss, _, _ = run([args.alim, "train", "--init", args.model, "--data", args.text, "--out", out_dir, "--context",
                        str(TT), "--batch", str(BB), "--steps", str(S), "--lr", "1e-5", "--threads", TH, "--json"],
                       "alim train")
    rows = list(csv.DictReader(open(os.path.join(out_dir, "log.csv"))))
    R["alim"]["train"] = med([float(r["tokens_per_s"]) for r in rows[1:]] or [float(rows[-1]["tokens_per_s"])])
    R["alim"]["train_rss"] = rss
    R["alim"]["train_loss0"] = float(rows[0]["loss"])
    shutil.rmtree(out_dir, ignore_errors=True)

    # PyTorch: the transformers model in fp32, AdamW as alim's (decay 0.1 on matrices and
    # embeddings, none on norms), global-norm clipping at 1
    m = load_hf(torch.float32).train()
    decay = [p for p in m.parameters() if p.dim() >= 2]
    other = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-5, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(1)
    starts = torch.randint(0, len(stream) - TT - 1, (S, BB), generator=g)
    times, loss0 = [], None
    for s in range(S):
        x = torch.tensor([stream[i:i + TT] for i in starts[s].tolist()])
        y = torch.tensor([stream[i + 1:i + 1 + TT] for i in starts[s].tolist()])
        t0 = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(m(x).logits.reshape(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        loss0 = float(loss) if loss0 is None else loss0
    R["tf fp32"]["train"] = BB * TT / med(times[1:] or times)
    R["tf fp32"]["train_loss0"] = loss0
    del m, opt


# ---- memory theory --------------------------------------------------------------------------
MB = 1e6
W = 4 * NPARAM  # fp32 weights (the tied embedding once)
ld = C + 2 * NKV * HS  # q|k|v row


def theory_eval(Bw, Tw):
    """What one scoring pass needs: fp32 weights, the logits of the batch (B T V, plus their
    log-softmax row), and the transient activations of one block at a time (its input and
    output, norm, q|k|v, attention output, one head's T x T scores, gate, up, hidden)."""
    BT = Bw * Tw
    block = BT * (4 * C + ld + 3 * FF) + Tw * Tw
    return W + 4 * (BT * V + block)


def theory_alim_layout(Bw, Tw):
    """What alim's forward allocates by construction (the training layout of
    lm_llama_layout_acts, every block's activations kept for a backward pass)."""
    BT = Bw * Tw
    per_layer = BT * (4 * C + 2 + ld + NH * HS + 3 * FF) + Bw * NH * Tw * Tw
    return W + 4 * (L * per_layer + BT * (2 * C + V + 3) + Tw * HS)


def theory_sample(n_ctx):
    """Greedy decoding with a KV cache: weights, keys and values of every layer for n_ctx
    positions, one row of logits and one block's activations."""
    return W + 4 * (2 * L * n_ctx * NKV * HS + V + 4 * C + ld + 3 * FF + n_ctx * NH)


def theory_train(Bw, Tw):
    """A training step: weights, gradients, AdamW's two moments, the kept activations."""
    return 3 * W + theory_alim_layout(Bw, Tw) + 4 * Bw * Tw * V  # + d logits


# ---- table ----------------------------------------------------------------------------------
def fmt(x, p=0):
    return "-" if x is None else f"{x:.{p}f}"


def ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


cols = ["alim", "tf fp32", "tf bf16", "llama.cpp"]
print()
print(f"SmolLM2-135M-Instruct, {args.threads} threads, medians of {args.reps} repetitions "
      "(tokens/s; ratio = alim / other, > 1 means alim is faster)")
print(f"{'':28s}" + "".join(f"{c:>11s}" for c in cols) + "".join(f"{'alim/' + c.split()[-1]:>15s}" for c in cols[1:]))
rows_t = [("eval tok/s", "eval", f"{NTOK} tok, ctx {T}, batch {B}"),
          ("sample tok/s", "sample", f"greedy, {N} new"),
          ("train tok/s", "train", f"ctx {TT} x batch {BB}")]
for name, key, what in rows_t:
    if key in skip:
        continue
    vals = [R[c].get(key) for c in cols]
    print(f"{name:12s} {what:15s}" + "".join(f"{fmt(v, 1 if (v or 0) < 100 else 0):>11s}" for v in vals)
          + "".join(f"{ratio(vals[0], v):>15s}" for v in vals[1:]))
print("  (llama.cpp computes with the file's Q4_1/Q8_0 blocks and 8-bit activations; alim and transformers fp32 "
      "dequantise to fp32 on load; 'tf bf16' = .to(bfloat16))")
if "eval" not in skip:
    print(f"  alim's load (GGUF parse, dequantisation, tokenizer): {R['alim']['load_s']:.2f} s a process, not in the figures")
if "train" not in skip:
    print(f"  first-step loss: alim {R['alim']['train_loss0']:.3f}, PyTorch {R['tf fp32']['train_loss0']:.3f} "
          "(different random windows)")

print("\nmemory (peak RSS, MB) against what the computation needs (fp32 weights "
      f"{W / MB:.0f} MB + KV cache + activations):")
if "eval" not in skip:
    r = R["alim"]["eval_rss"]
    te, tl = theory_eval(B, T), theory_alim_layout(B, T)
    print(f"  alim eval   {r / MB:7.0f}   needs {te / MB:6.0f} (one block at a time)  -> {r / te:.2f}x; "
          f"alim's training layout (all {L} blocks kept) {tl / MB:.0f} -> {r / tl:.2f}x")
    if R["llama.cpp"].get("eval_rss"):
        print(f"  llama.cpp perplexity {R['llama.cpp']['eval_rss'] / MB:7.0f} (quantised weights, mmap)")
if "sample" not in skip:
    r = R["alim"]["sample_rss"]
    n_ctx = int(pids.shape[1]) + N
    ts = theory_sample(n_ctx)
    print(f"  alim sample {r / MB:7.0f}   needs {ts / MB:6.0f} (KV cache of {n_ctx} positions "
          f"{8 * L * n_ctx * NKV * HS / MB:.1f} MB)  -> {r / ts:.2f}x")
if "train" not in skip:
    r = R["alim"]["train_rss"]
    tt = theory_train(BB, TT)
    print(f"  alim train  {r / MB:7.0f}   needs {tt / MB:6.0f} (weights, grads, 2 AdamW moments, kept activations)"
          f"  -> {r / tt:.2f}x")
for n in notes:
    print("note:", n)
load1 = os.getloadavg()
print(f"load average at end: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} (the machine has {os.cpu_count()} cores; "
      "this benchmark itself adds about the thread count)")
if args.json:
    json.dump({"results": R, "isa": isa(), "threads": args.threads, "load": [load0, load1], "notes": notes},
              open(args.json, "w"), indent=1)
shutil.rmtree(tmp, ignore_errors=True)
