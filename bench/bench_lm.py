"""bench_lm.py — training throughput of alim against PyTorch, fp32 and bf16, same model and threads.

Columns (tokens/s of training steps: forward, loss, backward, clipping at 1, AdamW):
  alim fp32       `alim train --precision fp32`
  alim bf16       `alim train --precision bf16` (oneDNN bf16 products, fp32 accumulation)
  alim default    `alim train` without --precision (auto: bf16 where the CPU has native bf16,
                  else fp32; ALIM_PRECISION is removed from its environment); the table says
                  what it resolved to (the "precision" of its --json summary)
  PyPI fp32       PyPI's torch (MKL, oneDNN, its own OpenMP), float32
  PyPI bf16 ac    PyPI's torch, forward and loss under torch.autocast("cpu", dtype=torch.bfloat16),
                  backward outside it, fp32 master weights, fp32 AdamW: what a user writes
  Debian fp32     Debian's python3-torch (system OpenBLAS), float32; run once with OpenBLAS
                  at `threads` threads and once single-threaded (torch's own OpenMP threads and
                  OpenBLAS's pthreads compete otherwise), the faster counts (smollm2-135M:
                  OpenBLAS at `threads` threads only)
Configs: GPT-2 2x64 (T128 B16), 4x256 (T256 B16), GPT-2 124M (T64 B4): tests/ref/gpt_ref.py's
model in torch, a fresh `alim train` model on a byte tokenizer; smollm2-135M: a fine-tune of
SmolLM2-135M-Instruct at T256 B4, `alim train --init GGUF` on plain ASCII text (fortunes,
control bytes removed) against a transformers LlamaForCausalLM of the same configuration
(30 layers, 576 wide, FF 1536, 9 heads / 3 kv heads, vocab 49152, tied embeddings, rope_theta
1e5, RMSNorm eps 1e-5), randomly initialised, on random token ids (the speed of a step does
not depend on the values). Debian's torch runs it through the interpreter of
scripts/pyvenv.sh (transformers 4.46 on Debian's torch), PyPI's through --pypi-torch (which
needs transformers too).
Each figure is the median tokens/s over a run's steps >= 2 (the first step, the model load and
alim's checkpoint save at the end are not in it: alim's log.csv has every step's own
tokens/s, torch's steps are timed one by one); every column runs once per round, rounds
alternate, the best round of each column is kept (robust to other load on the machine);
--rounds for the GPT-2 configs (3), --llama-rounds for smollm2-135M (2: a round takes minutes).
Each torch column runs in a fresh process.
Also: achieved GFLOP/s (6 N + 12 L T C FLOPs per token, N = the parameters that enter matrix
products, the tied output layer once), the machine's measured fp32 FMA peak, and peak RSS:
alim's (GNU time's %M) against the bytes it needs by construction (GPT-2 configs,
alim_memory_theory, the fp32 run) and the torch processes' (VmHWM).

usage: /usr/bin/python3 bench/bench_lm.py [--threads N] [--configs small|all|NAME,...] [--rounds N]
           [--alim ALIM] [--pypi-torch PY] [--debian-tf-python PY] [--model GGUF] [--text FILE]
           [--coretype Haswell|SkylakeX] [--steps N] [--json FILE]
Configs: tiny (2x64), small (4x256), gpt2-124M, smollm2-135M; "small" = tiny,small;
"all" = all four (smollm2-135M only with --model and --debian-tf-python or --pypi-torch,
which bench/bench_lm.sh supplies).
Both alim and Debian's torch use the system OpenBLAS; --coretype sets OPENBLAS_CORETYPE for
both (default: the environment's value, as alim and torch would see it).
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

for _i, _a in enumerate(sys.argv):  # must be set before torch loads OpenBLAS
    if _a == "--coretype" and _i + 1 < len(sys.argv):
        os.environ["OPENBLAS_CORETYPE"] = sys.argv[_i + 1]

import numpy as np  # noqa: E402
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
import gpt_ref as R  # noqa: E402

# name: (kind, (layers, dim, heads, vocab, context, batch), label)
CONFIGS = {
    "tiny": ("gpt2", (2, 64, 4, 256, 128, 16), "GPT-2 2x64, T128 B16"),
    "small": ("gpt2", (4, 256, 4, 256, 256, 16), "GPT-2 4x256, T256 B16"),
    "gpt2-124M": ("gpt2", (12, 768, 12, 50257, 64, 4), "GPT-2 124M, T64 B4"),
    "smollm2-135M": ("llama", (30, 576, 9, 49152, 256, 4), "SmolLM2-135M fine-tune, T256 B4"),
}
LLAMA = {"kv_heads": 3, "ff": 1536, "rope_theta": 100000.0, "eps": 1e-5}  # the rest of SmolLM2-135M's shape
COLS = ["alim_fp32", "alim_bf16", "alim_default", "pypi_fp32", "pypi_bf16", "debian_fp32"]
HEAD = {"alim_fp32": "alim fp32", "alim_bf16": "alim bf16", "alim_default": "alim default", "pypi_fp32": "PyPI fp32",
        "pypi_bf16": "PyPI bf16 ac", "debian_fp32": "Debian fp32"}
TORCH_COLS = ["pypi_fp32", "pypi_bf16", "debian_fp32"]

PEAK_C = r"""
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
int main(void){
  const long iters=200000000/8; double best=0;
  for(int rep=0;rep<3;rep++){
    double t0=now(); float sink=0;
    #pragma omp parallel reduction(+:sink)
    {
      __m256 a0=_mm256_set1_ps(1.0f),a1=a0,a2=a0,a3=a0,a4=a0,a5=a0,a6=a0,a7=a0,a8=a0,a9=a0;
      const __m256 m=_mm256_set1_ps(0.9999999f),c=_mm256_set1_ps(1e-7f);
      for(long i=0;i<iters;i++){
        a0=_mm256_fmadd_ps(a0,m,c);a1=_mm256_fmadd_ps(a1,m,c);a2=_mm256_fmadd_ps(a2,m,c);a3=_mm256_fmadd_ps(a3,m,c);a4=_mm256_fmadd_ps(a4,m,c);
        a5=_mm256_fmadd_ps(a5,m,c);a6=_mm256_fmadd_ps(a6,m,c);a7=_mm256_fmadd_ps(a7,m,c);a8=_mm256_fmadd_ps(a8,m,c);a9=_mm256_fmadd_ps(a9,m,c);
      }
      __m256 s=_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0,a1),_mm256_add_ps(a2,a3)),_mm256_add_ps(_mm256_add_ps(a4,a5),_mm256_add_ps(a6,a7)));
      s=_mm256_add_ps(s,_mm256_add_ps(a8,a9)); float o[8]; _mm256_storeu_ps(o,s); sink+=o[0];
    }
    double dt=now()-t0; double gf=(double)iters*10*8*2*omp_get_max_threads()/dt/1e9;
    if(gf>best)best=gf; if(sink==42)printf("x");
  }
  printf("%.2f\n",best); return 0;}
"""


def measure_peak(threads):
    """Best FMA throughput (GFLOP/s) with `threads` threads: AVX2 and, if the CPU has it,
    AVX-512 (the same loop on 16-wide registers). Returns (avx2, avx512 or None)."""
    d = tempfile.mkdtemp()
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = []
    for isa, flags, code in (("avx2", ["-mavx2", "-mfma"], PEAK_C),
                             ("avx512", ["-mavx512f"], PEAK_C.replace("__m256", "__m512").replace("_mm256_", "_mm512_")
                              .replace("o[8]", "o[16]").replace("*8*2*", "*16*2*"))):
        if isa == "avx512" and "avx512f" not in cpu_flags():
            out.append(None)
            continue
        src, exe = os.path.join(d, isa + ".c"), os.path.join(d, isa)
        open(src, "w").write(code)
        subprocess.run(["gcc", "-O2", *flags, "-fopenmp", src, "-o", exe], check=True)
        out.append(float(subprocess.run([exe], capture_output=True, text=True, env=env, check=True).stdout))
    return out[0], out[1]


def cpu_flags():
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def flops_per_token(kind, cfg):
    """6 N + 12 L T C: N = parameters in matrix products (the tied output layer once; GPT-2's
    LayerNorms and biases too, as before), the attention scores and their use 12 L T C."""
    L, C, H, V, T, B = cfg
    if kind == "llama":
        kv = C // H * LLAMA["kv_heads"]
        n = V * C + L * (2 * C * C + 2 * C * kv + 3 * C * LLAMA["ff"])
    else:
        n = V * C + L * (12 * C * C + 13 * C) + 2 * C  # parameters without wpe
    return 6 * n + 12 * L * T * C


def make_data(path, ntokens):
    rng = np.random.default_rng(0)
    words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "big", "red", "house"]
    out, n = [], 0
    while n < ntokens:
        w = words[rng.integers(len(words))]
        out.append(w)
        n += len(w) + 1
    open(path, "w").write(" ".join(out))


def make_text(path, src, min_bytes):
    """Plain ASCII from src (printable bytes, newlines, tabs; others, e.g. the backspaces some
    fortune files hold, dropped: the SmolLM2 tokenizer rejects control bytes), repeated to at
    least min_bytes."""
    raw = open(src, "rb").read()
    txt = bytes(b for b in raw if 32 <= b < 127 or b in (9, 10))
    out = txt
    while len(out) < min_bytes:
        out += b"\n" + txt
    open(path, "wb").write(out)


def bench_alim(a, name, precision, tmp):
    """One `alim train` run: (median tokens/s of steps >= 2, peak RSS bytes, resolved precision,
    bf16 ISA or None). precision None = alim's default (no --precision, no ALIM_PRECISION)."""
    kind, cfg, _ = CONFIGS[name]
    L, C, H, V, T, B = cfg
    steps = a.steps or default_steps(name)
    out = os.path.join(tmp, "alim-run")
    env = dict(os.environ)
    env.pop("ALIM_PRECISION", None)
    if kind == "llama":
        data = os.path.join(tmp, "text.txt")
        make_text(data, a.text, 8 * B * T * (steps + 2))
        cmd = [a.alim, "train", "--init", a.model, "--data", data, "--out", out, "--context", str(T), "--batch", str(B),
               "--steps", str(steps), "--lr", "1e-5", "--threads", str(a.threads), "--json"]
    else:
        data = os.path.join(tmp, "data.txt")
        make_data(data, max(B * T * (steps + 2), 20000))
        cmd = [a.alim, "train", "--data", data, "--out", out, "--layers", str(L), "--dim", str(C), "--heads", str(H),
               "--context", str(T), "--batch", str(B), "--vocab", str(max(V, 257)), "--steps", str(steps),
               "--lr", "1e-4", "--threads", str(a.threads), "--json"]
    if precision:
        cmd += ["--precision", precision]
    # Peak RSS through GNU time: a child forked from this (torch-laden) Python would carry
    # the parent's resident size into its ru_maxrss (Linux keeps the high-water mark of the
    # pre-exec copy); /usr/bin/time forks alim from a small process.
    rssfile = os.path.join(tmp, "rss")
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rssfile, *cmd], capture_output=True, text=True, env=env)
    if p.returncode:
        raise RuntimeError(f"{' '.join(cmd)}: {p.stderr[-2000:]}")
    rss = int(open(rssfile).read().split()[-1]) * 1024
    summary = json.loads(p.stdout)
    rows = list(csv.DictReader(open(os.path.join(out, "log.csv"))))
    tps = [float(r["tokens_per_s"]) for r in rows if int(r["step"]) >= 2] or [float(rows[-1]["tokens_per_s"])]
    return statistics.median(tps), rss, summary.get("precision", "fp32"), summary.get("bf16_isa")


def default_steps(name):
    return {"gpt2-124M": 6, "smollm2-135M": 5}.get(name, 20)


def alim_memory_theory(cfg, threads):
    """Bytes alim's fp32 training needs by construction, for (L, C, H, V, T, B): parameters,
    gradients and the two AdamW moments (4 N floats, N with wpe of n_positions = T rows),
    the forward activations exactly as gpt.c's layout_acts lays them out (per layer ln1,
    atty, attproj, residual2, ln2, fcproj, residual3 (B,T,C), qkv (B,T,3C), fch and
    fch_gelu (B,T,4C), the softmax weights (B,NH,T,T), four (B,T) LayerNorm statistics;
    plus encoded and lnf (B,T,C), the logits (B,T,V) and four (B,T) vectors) and the
    backward scratch (dres, dtmp (B,T,C), dbig (B,T,4C), one (T,T) and one (hs,T) per thread,
    and the gradient buffers of data-parallel shards 1..S-1, S = threads when those are at
    most 1/8 of the activations, as gpt.c's shard_count decides).
    Returns (total, parts) in bytes."""
    L, C, H, V, T, B = cfg
    V = max(V, 257)
    N = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C
    BT = B * T
    acts = BT * C * (2 + 18 * L) + BT * (4 * L + 4) + L * B * H * T * T + BT * V
    scratch = 6 * BT * C + threads * T * T + threads * (C // H) * T
    S = min(threads, B)
    shard_grads = (S - 1) * N if S > 1 and (S - 1) * N <= acts // 8 else 0
    parts = {"params": 4 * N, "grads": 4 * N, "adamw_moments": 8 * N, "activations": 4 * acts,
             "backward_scratch": 4 * scratch}
    if shard_grads:
        parts["shard_grads"] = 4 * shard_grads
    return sum(parts.values()), parts


def bench_torch(kind, cfg, steps, threads, precision):
    """In this process: tokens/s of torch training steps (median of steps >= 2) and a note."""
    L, C, H, V, T, B = cfg
    V = max(V, 257) if kind == "gpt2" else V
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    note = f"torch {torch.__version__}"
    if kind == "llama":
        import transformers
        from transformers import LlamaConfig, LlamaForCausalLM
        conf = LlamaConfig(vocab_size=V, hidden_size=C, intermediate_size=LLAMA["ff"], num_hidden_layers=L,
                           num_attention_heads=H, num_key_value_heads=LLAMA["kv_heads"], rms_norm_eps=LLAMA["eps"],
                           rope_theta=LLAMA["rope_theta"], tie_word_embeddings=True, max_position_embeddings=8192,
                           hidden_act="silu", bos_token_id=1, eos_token_id=2)
        m = LlamaForCausalLM(conf).train()  # random initialisation, no hub
        assert m.lm_head.weight is m.model.embed_tokens.weight
        params = list(m.parameters())
        decay = [p for p in params if p.dim() >= 2]
        nodecay = [p for p in params if p.dim() < 2]
        note += (f", transformers {transformers.__version__}, attention {m.config._attn_implementation}, "
                 f"{sum(p.numel() for p in params)} parameters")

        def logits_of(x):
            return m(x).logits
    else:
        conf = {"n_layer": L, "n_embd": C, "n_head": H, "n_positions": T, "vocab_size": V, "layer_norm_epsilon": 1e-5}
        P = R.to_torch(R.random_params(conf, seed=1, std=0.02), dtype=torch.float32)
        params = list(P.values())
        decay = [P[n] for n, s in R.param_shapes(conf) if len(s) == 2]
        nodecay = [P[n] for n, s in R.param_shapes(conf) if len(s) == 1]

        def logits_of(x):
            return R.forward(P, conf, x)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(0)
    times, losses = [], []
    for step in range(steps):
        x = torch.randint(0, V, (B, T), generator=g)
        y = torch.randint(0, V, (B, T), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        if precision == "bf16":  # forward and loss under autocast, backward outside, as documented
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(logits_of(x).float().reshape(-1, V), y.reshape(-1))
        else:
            loss = torch.nn.functional.cross_entropy(logits_of(x).reshape(-1, V), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
        losses.append(float(loss))
    dt = statistics.median(times[1:] if len(times) > 1 else times)
    return B * T / dt, note + f", loss {losses[0]:.3f}"


def peak_rss():
    """VmHWM of this process (not ru_maxrss, which includes the forking parent's size)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def torch_run(name, a, python, precision, blas_settings):
    """torch tokens/s in a fresh process per OpenBLAS thread setting; the best.
    Returns (tokens/s, peak RSS bytes of that process, note)."""
    kind, cfg, _ = CONFIGS[name]
    best, rss, note = 0.0, 0, ""
    for blas in blas_settings:
        env = dict(os.environ, OMP_NUM_THREADS=str(a.threads), TQDM_DISABLE="1")
        if blas:
            env["OPENBLAS_NUM_THREADS"] = str(blas)
        p = subprocess.run([python, os.path.abspath(__file__), "--torch-only", kind + ":" + ",".join(map(str, cfg)),
                            "--torch-precision", precision, "--steps", str(a.steps or default_steps(name)),
                            "--threads", str(a.threads)], capture_output=True, text=True, env=env)
        if p.returncode == 0:
            r = json.loads(p.stdout.strip().splitlines()[-1])
            if r["tokens_per_s"] > best:
                best, rss, note = r["tokens_per_s"], r["peak_rss"], r["note"] + (f", OpenBLAS threads {blas}" if blas else "")
        else:
            print(f"bench_lm: torch {precision} run of {name} failed ({python}):\n{p.stderr[-3000:]}", file=sys.stderr)
    return best, rss, note


def python_torch(python):
    """(torch version, torch's directory) of an interpreter, or None."""
    if not python:
        return None
    p = subprocess.run([python, "-c", "import torch; print(torch.__version__, torch.__file__)"],
                       capture_output=True, text=True)
    return tuple(p.stdout.split()) if p.returncode == 0 else None


def alim_info(alim):
    p = subprocess.run([alim, "info", "--json"], capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def load():
    return list(os.getloadavg())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=0, help="steps per run (default: 20, 6 for GPT-2 124M, 5 for SmolLM2)")
    ap.add_argument("--configs", default="all", help="small (tiny,small), all, or names: tiny,small,gpt2-124M,smollm2-135M")
    ap.add_argument("--alim", default=os.environ.get("ALIM", os.path.join(HERE, "..", "build", "alim")))
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds per config; the best of each column is kept")
    ap.add_argument("--llama-rounds", type=int, default=2, help="rounds of smollm2-135M (minutes each; default 2)")
    ap.add_argument("--coretype", default=None, help="OPENBLAS_CORETYPE for alim and Debian's torch")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--pypi-torch", default=os.environ.get("PYPI_TORCH_PYTHON"),
                    help="a python whose torch is PyPI's (a venv's bin/python; with transformers for smollm2-135M)")
    ap.add_argument("--debian-tf-python", default=os.environ.get("DEBIAN_TF_PYTHON"),
                    help="a python with transformers on Debian's torch (scripts/pyvenv.sh), for smollm2-135M")
    ap.add_argument("--model", default=os.environ.get("SMOLLM2_GGUF"), help="SmolLM2-135M GGUF (scripts/fetch-smollm2.sh)")
    ap.add_argument("--text", default="/usr/share/games/fortunes/fortunes", help="text of alim's SmolLM2 fine-tune")
    ap.add_argument("--torch-only", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--torch-precision", default="fp32", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_only:  # child process of torch_run: one JSON line
        kind, shape = a.torch_only.split(":")
        tps, note = bench_torch(kind, tuple(int(x) for x in shape.split(",")), a.steps or 20, a.threads,
                                a.torch_precision)
        print(json.dumps({"tokens_per_s": tps, "peak_rss": peak_rss(), "note": note}))
        return
    load0 = load()
    names = {"small": ["tiny", "small"], "all": list(CONFIGS)}.get(a.configs, a.configs.split(","))
    skipped = []
    pypi = python_torch(a.pypi_torch)
    if a.pypi_torch and not pypi:
        sys.exit(f"bench_lm: {a.pypi_torch} cannot import torch")
    if pypi and pypi[1].startswith("/usr/lib/python3/"):
        print(f"bench_lm: {a.pypi_torch}'s torch is Debian's ({pypi[1]}), not PyPI's: no PyPI columns", file=sys.stderr)
        pypi = None
    deb_tf = python_torch(a.debian_tf_python)
    if "smollm2-135M" in names and not (a.model and os.path.exists(a.model)):
        names.remove("smollm2-135M")
        skipped.append("smollm2-135M (no --model GGUF; bench/bench_lm.sh gets it from scripts/fetch-smollm2.sh)")
    info = alim_info(a.alim)
    bf16 = info.get("bf16", {})
    flags = cpu_flags()
    peak2, peak512 = measure_peak(a.threads)
    peak = max(peak2, peak512 or 0)
    host = {"cpu": cpu_model(), "cores": os.cpu_count(), "avx512_bf16": "avx512_bf16" in flags,
            "amx_bf16": "amx_bf16" in flags, "amx_tile": "amx_tile" in flags, "onednn": bf16.get("onednn"),
            "onednn_bf16_isa": bf16.get("isa"), "bf16_native": bf16.get("native"),
            "precision_auto": info.get("precision_auto"), "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
            "blas_kernel": info.get("blas_kernel")}
    yn = lambda b: "yes" if b else "no"  # noqa: E731
    print(f"host: {host['cpu']}, {host['cores']} cores; avx512_bf16 {yn(host['avx512_bf16'])}, "
          f"amx_bf16 {yn(host['amx_bf16'])}; oneDNN {yn(host['onednn'])}, bf16 ISA {host['onednn_bf16_isa']}; "
          f"alim's auto precision here: {host['precision_auto']}")
    print(f"threads {a.threads}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset: alim picks, torch detects)')}; "
          f"measured fp32 FMA peak {peak:.1f} GFLOP/s (AVX2 {peak2:.1f}, AVX-512 {peak512 or 0:.1f})")
    print(f"Debian torch {torch.__version__} ({sys.executable}"
          + (f"; {a.debian_tf_python} for smollm2-135M" if deb_tf else "") + "); "
          + (f"PyPI torch {pypi[0]} ({a.pypi_torch})" if pypi else "PyPI torch: none (PYPI_TORCH_PYTHON / --pypi-torch)"))
    print(f"alim {a.alim}; load average at start {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f} (1/5/15 min)")
    for s in skipped:
        print("skipped:", s)
    print(f"tokens/s of training steps, median of each run's steps >= 2, best of {a.rounds} alternating rounds "
          f"({a.llama_rounds} for smollm2-135M)", flush=True)

    results = []
    for name in names:
        kind, cfg, label = CONFIGS[name]
        best = {c: 0.0 for c in COLS}
        rss = {c: 0 for c in COLS}
        notes = {c: "" for c in COLS}
        rounds = {c: [] for c in COLS}
        resolved, isa = None, None
        deb_python = sys.executable if kind == "gpt2" else (a.debian_tf_python if deb_tf else None)
        t_cfg = time.time()
        for _ in range(a.llama_rounds if kind == "llama" else a.rounds):  # alternate, keep the best: robust to other load on the machine
            for col in COLS:
                tps, r, note = None, 0, ""
                if col.startswith("alim_"):
                    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
                        prec = {"alim_fp32": "fp32", "alim_bf16": "bf16", "alim_default": None}[col]
                        tps, r, got, got_isa = bench_alim(a, name, prec, tmp)
                        if col == "alim_default":
                            resolved, isa = got, got_isa
                        note = got + (f" ({got_isa})" if got == "bf16" and got_isa else "")
                elif col.startswith("pypi_") and pypi:
                    tps, r, note = torch_run(name, a, a.pypi_torch, col[5:], [None])
                elif col == "debian_fp32" and deb_python:
                    # SmolLM2: OpenBLAS at `threads` only (its products are large; a run takes minutes)
                    tps, r, note = torch_run(name, a, deb_python, "fp32",
                                             sorted({a.threads, 1}) if kind == "gpt2" else [a.threads])
                if tps is None:
                    continue
                rounds[col].append(tps)
                if tps > best[col]:
                    best[col], rss[col], notes[col] = tps, r, note
        have = {c: best[c] for c in COLS if best[c] > 0}
        torch_best = max((have[c], c) for c in TORCH_COLS if c in have) if any(c in have for c in TORCH_COLS) else None
        fpt = flops_per_token(kind, cfg)
        r = {"config": name, "label": label, "kind": kind, "shape": cfg, "tokens_per_s": have, "rounds": rounds,
             "notes": notes, "default_resolved": resolved, "default_isa": isa, "peak_rss_bytes": {c: rss[c] for c in have},
             "flops_per_token": fpt, "gflops": {c: v * fpt / 1e9 for c, v in have.items()}, "seconds": time.time() - t_cfg,
             "load_after": load()}
        if "alim_default" in have and torch_best:
            r["default_over_best_torch"] = have["alim_default"] / torch_best[0]
            r["best_torch_column"] = torch_best[1]
        if "alim_bf16" in have and "alim_fp32" in have:
            r["bf16_over_fp32"] = have["alim_bf16"] / have["alim_fp32"]
        if kind == "gpt2":
            theory, parts = alim_memory_theory(cfg, a.threads)
            r["alim_fp32_memory_theory_bytes"] = theory
            r["alim_fp32_memory_theory_parts"] = parts
            r["alim_fp32_rss_over_theory"] = rss["alim_fp32"] / theory
        results.append(r)
        print_row(r, first=len(results) == 1)
    load1 = load()
    print_summary(results, peak)
    print(f"load average at end {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} (1/5/15 min; {os.cpu_count()} cores, "
          f"this benchmark adds about {a.threads})")
    if a.json:
        json.dump({"host": host, "threads": a.threads, "rounds": a.rounds, "llama_rounds": a.llama_rounds, "peak_gflops": peak,
                   "peak_avx2_gflops": peak2, "peak_avx512_gflops": peak512, "debian_torch": torch.__version__,
                   "pypi_torch": pypi[0] if pypi else None, "pypi_python": a.pypi_torch if pypi else None,
                   "load_start": load0, "load_end": load1, "skipped": skipped, "results": results},
                  open(a.json, "w"), indent=1)


def fmt_tps(v):
    if not v:
        return "-"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


W = {c: (20 if c == "alim_default" else 13) for c in COLS}


def print_row(r, first):
    """One config's row as soon as it is measured."""
    if first:
        print(f"{'config':33}" + "".join(f"{HEAD[c]:>{W[c]}}" for c in COLS) + f"{'default/torch':>15}{'bf16/fp32':>11}")
    t = r["tokens_per_s"]
    cells = []
    for c in COLS:
        s = fmt_tps(t.get(c))
        if c == "alim_default" and r["default_resolved"]:
            s += f" ({r['default_resolved']})"
        cells.append(f"{s:>{W[c]}}")
    ratio1 = f"{r['default_over_best_torch']:.2f}x" if "default_over_best_torch" in r else "-"
    ratio2 = f"{r['bf16_over_fp32']:.2f}x" if "bf16_over_fp32" in r else "-"
    print(f"{r['label']:33}" + "".join(cells) + f"{ratio1:>15}{ratio2:>11}"
          f"   [{r['seconds']:.0f} s, load {r['load_after'][0]:.2f}]", flush=True)


def print_summary(results, peak):
    MB = 1 << 20
    print("\nratios: alim default / the best torch column (which), alim bf16 / alim fp32")
    for r in results:
        parts = []
        if "default_over_best_torch" in r:
            parts.append(f"default ({r['default_resolved']}) / {HEAD[r['best_torch_column']]} "
                         f"{r['default_over_best_torch']:.2f}x")
        if "bf16_over_fp32" in r:
            parts.append(f"bf16 / fp32 {r['bf16_over_fp32']:.2f}x")
        slower = [HEAD[c] for c in TORCH_COLS if c in r["tokens_per_s"] and "alim_default" in r["tokens_per_s"]
                  and r["tokens_per_s"]["alim_default"] < r["tokens_per_s"][c]]
        if slower:
            parts.append("alim default SLOWER than " + ", ".join(slower))
        print(f"  {r['label']:34} " + "; ".join(parts))
    print(f"\nGFLOP/s (6N + 12LTC per token; fp32 FMA peak {peak:.0f}) and peak RSS (MB)")
    print(f"{'config':41}" + "".join(f"{HEAD[c]:>13}" for c in COLS) + f"{'fp32 theory':>12}{'RSS/th':>7}")
    for r in results:
        print(f"{r['label'] + ' GFLOP/s':41}" + "".join(f"{r['gflops'].get(c, 0):13.1f}" if c in r["gflops"] else f"{'-':>13}"
                                                        for c in COLS))
        th = r.get("alim_fp32_memory_theory_bytes")
        print(f"{r['label'] + ' RSS MB':41}"
              + "".join(f"{r['peak_rss_bytes'][c] / MB:13.0f}" if r["peak_rss_bytes"].get(c) else f"{'-':>13}" for c in COLS)
              + (f"{th / MB:12.1f}{r['alim_fp32_rss_over_theory']:7.2f}" if th else ""))
    print("  (alim's fp32 theory: params + grads + AdamW m,v + activations + backward scratch; torch RSS = whole "
          "Python processes)")
    for r in results:
        for c in TORCH_COLS:
            if r["notes"].get(c):
                print(f"  {r['label']}, {HEAD[c]}: {r['notes'][c]}")


if __name__ == "__main__":
    main()
