"""bench_lm.py — training throughput of alim's GPT vs PyTorch on the same model and threads.

For each (layers, dim, vocab, context, batch) it trains the same GPT-2-style model with
`alim train` and with a PyTorch implementation (in a fresh process, with OpenBLAS using
`threads` threads and with OpenBLAS single-threaded; the faster counts) (tests/ref/gpt_ref.py's model, float32,
AdamW with the same settings, gradient clipping), and prints tokens/s, the ratio, the
achieved GFLOP/s (6 N + 12 L T C FLOPs per token, N = parameters without wpe) and the
fraction of the machine's measured fp32 peak (an FMA loop compiled here with gcc).
Memory: the peak RSS of the alim process (GNU time's %M) against the bytes it needs by
construction (alim_memory_theory: params, grads, AdamW m and v, activations, backward
scratch), and the peak RSS of the torch processes for comparison.
With --pypi-torch PYTHON (or PYPI_TORCH_PYTHON), also PyPI's torch (MKL + its own OpenMP)
in that interpreter, same threads and model.

usage: /usr/bin/python3 bench/bench_lm.py [--threads N] [--steps N] [--configs small|all]
                                           [--coretype Haswell|SkylakeX] [--alim build/alim]
                                           [--json FILE] [--pypi-torch VENV/bin/python]
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

CONFIGS = {  # name: (layers, dim, heads, vocab, context, batch)
    "tiny": (2, 64, 4, 256, 128, 16),
    "small": (4, 256, 4, 256, 256, 16),
    "gpt2-124M": (12, 768, 12, 50257, 64, 4),
}

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
        if isa == "avx512" and "avx512f" not in open("/proc/cpuinfo").read():
            out.append(None)
            continue
        src, exe = os.path.join(d, isa + ".c"), os.path.join(d, isa)
        open(src, "w").write(code)
        subprocess.run(["gcc", "-O2", *flags, "-fopenmp", src, "-o", exe], check=True)
        out.append(float(subprocess.run([exe], capture_output=True, text=True, env=env, check=True).stdout))
    return out[0], out[1]


def flops_per_token(L, C, V, T):
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


def bench_alim(alim, cfg, steps, threads, tmp):
    L, C, H, V, T, B = cfg
    data = os.path.join(tmp, "data.txt")
    make_data(data, max(B * T * (steps + 2), 20000))
    out = os.path.join(tmp, "alim-run")
    env = dict(os.environ)
    cmd = [alim, "train", "--data", data, "--out", out, "--layers", str(L), "--dim", str(C), "--heads", str(H),
           "--context", str(T), "--batch", str(B), "--vocab", str(max(V, 257)), "--steps", str(steps),
           "--lr", "1e-4", "--threads", str(threads), "--json"]
    # Peak RSS through GNU time: a child forked from this (torch-laden) Python would carry
    # the parent's resident size into its ru_maxrss (Linux keeps the high-water mark of the
    # pre-exec copy); /usr/bin/time forks alim from a small process.
    rssfile = os.path.join(tmp, "rss")
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rssfile, *cmd], capture_output=True, text=True, env=env)
    if p.returncode:
        raise RuntimeError(p.stderr)
    rss = int(open(rssfile).read().split()[-1]) * 1024
    rows = list(csv.DictReader(open(os.path.join(out, "log.csv"))))
    tps = [float(r["tokens_per_s"]) for r in rows[2:]] or [float(rows[-1]["tokens_per_s"])]
    return statistics.median(tps), float(rows[-1]["loss"]), rss


def alim_memory_theory(cfg, threads):
    """Bytes alim's training needs by construction, for (L, C, H, V, T, B): parameters,
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


def bench_torch(cfg, steps, threads):
    L, C, H, V, T, B = cfg
    V = max(V, 257)
    torch.set_num_threads(threads)
    conf = {"n_layer": L, "n_embd": C, "n_head": H, "n_positions": T, "vocab_size": V, "layer_norm_epsilon": 1e-5}
    params = R.random_params(conf, seed=1, std=0.02)
    P = R.to_torch(params, dtype=torch.float32)
    decay = [P[n] for n, s in R.param_shapes(conf) if len(s) == 2]
    nodecay = [P[n] for n, s in R.param_shapes(conf) if len(s) == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": nodecay, "weight_decay": 0.0}],
                            lr=1e-4, betas=(0.9, 0.95), eps=1e-8)
    g = torch.Generator().manual_seed(0)
    times = []
    for step in range(steps):
        x = torch.randint(0, 256, (B, T), generator=g)
        y = torch.randint(0, 256, (B, T), generator=g)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = R.loss_fn(R.forward(P, conf, x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(P.values()), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    dt = statistics.median(times[2:] if len(times) > 3 else times)
    return B * T / dt


def peak_rss():
    """VmHWM of this process (not ru_maxrss, which includes the forking parent's size)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def torch_best(cfg, steps, threads, python=sys.executable, blas_settings=None):
    """PyTorch tokens/s in a fresh process, once with OpenBLAS threads = threads and once
    with OpenBLAS single-threaded (torch's own OpenMP threads and OpenBLAS's pthreads
    compete otherwise); the better of the two, so the comparison is with torch at its best.
    Returns (tokens/s, peak RSS in bytes of that process)."""
    best, rss = 0.0, 0
    for blas in blas_settings or sorted({threads, 1}):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(blas))
        p = subprocess.run([python, os.path.abspath(__file__), "--torch-only", ",".join(map(str, cfg)),
                            "--steps", str(steps), "--threads", str(threads)], capture_output=True, text=True, env=env)
        if p.returncode == 0:
            tps, r = p.stdout.split()[-2:]
            if float(tps) > best:
                best, rss = float(tps), int(r)
        else:
            print(p.stderr, file=sys.stderr)
    return best, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--steps", type=int, default=0, help="steps per run (default: by size)")
    ap.add_argument("--configs", default="all", help="small (the two small ones), all, or names: tiny,small,gpt2-124M")
    ap.add_argument("--alim", default=os.environ.get("ALIM", os.path.join(HERE, "..", "build", "alim")))
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs per config; the best is kept")
    ap.add_argument("--coretype", default=None, help="OPENBLAS_CORETYPE for alim and torch")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--pypi-torch", default=os.environ.get("PYPI_TORCH_PYTHON"),
                    help="a python whose torch is PyPI's (e.g. a venv's bin/python): adds a column")
    ap.add_argument("--torch-only", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.torch_only:  # child process of torch_best: tokens/s and peak RSS (bytes)
        tps = bench_torch(tuple(int(x) for x in a.torch_only.split(",")), a.steps or 20, a.threads)
        print(tps, peak_rss())
        return
    names = {"small": ["tiny", "small"], "all": list(CONFIGS)}.get(a.configs, a.configs.split(","))
    peak2, peak512 = measure_peak(a.threads)
    peak = max(peak2, peak512 or 0)
    pypi_version = None
    if a.pypi_torch:
        pypi_version = subprocess.run([a.pypi_torch, "-c", "import torch; print(torch.__version__)"],
                                      capture_output=True, text=True, check=True).stdout.strip()
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset: alim picks, torch detects)')}, "
          f"threads {a.threads}, torch {torch.__version__} ({torch.__file__.split('/site-packages')[0].split('/dist-packages')[0]}), "
          f"measured fp32 FMA peak {peak:.1f} GFLOP/s (AVX2 {peak2:.1f}, AVX-512 {peak512 or 0:.1f})"
          + (f", PyPI torch {pypi_version} ({a.pypi_torch})" if pypi_version else ""))
    print(f"medians of steps per run, best of {a.rounds} alternating rounds; memory = peak RSS of the alim process "
          f"vs params + grads + AdamW m,v + activations + backward scratch")
    print(f"{'config (L,C,H,V,T,B)':34} {'alim tok/s':>11} {'torch tok/s':>12} {'ratio':>6}"
          + (f" {'pypi tok/s':>11} {'ratio':>6}" if pypi_version else "")
          + f" {'alim GFLOP/s':>13} {'%peak':>6} {'torch GFLOP/s':>14} {'alim RSS MB':>12} {'theory MB':>10} {'RSS/th':>7}"
          f" {'torch RSS MB':>13}" + (f" {'pypi RSS MB':>12}" if pypi_version else ""))
    results = []
    for name in names:
        cfg = CONFIGS[name]
        L, C, H, V, T, B = cfg
        steps = a.steps or (6 if name == "gpt2-124M" else 20)
        at = tt = pt = 0.0
        arss, trss, prss = [], 0, 0
        for _ in range(a.rounds):  # alternate, keep the best: robust to other load on the machine
            with tempfile.TemporaryDirectory() as tmp:
                r_at, _, r_rss = bench_alim(a.alim, cfg, steps, a.threads, tmp)
                at = max(at, r_at)
                arss.append(r_rss)
            r_tt, r_trss = torch_best(cfg, steps, a.threads)
            if r_tt > tt:
                tt, trss = r_tt, r_trss
            if pypi_version:  # PyPI's torch has its own BLAS (MKL) and OpenMP: one setting
                r_pt, r_prss = torch_best(cfg, steps, a.threads, python=a.pypi_torch, blas_settings=[a.threads])
                if r_pt > pt:
                    pt, prss = r_pt, r_prss
        fpt = flops_per_token(L, C, max(V, 257), T)
        theory, parts = alim_memory_theory(cfg, a.threads)
        rss = statistics.median(arss)
        r = {"config": name, "shape": cfg, "alim_tokens_per_s": at, "torch_tokens_per_s": tt, "ratio": at / tt,
             "alim_gflops": at * fpt / 1e9, "torch_gflops": tt * fpt / 1e9, "peak_gflops": peak,
             "alim_fraction_of_peak": at * fpt / 1e9 / peak, "alim_peak_rss_bytes": rss,
             "alim_peak_rss_all_rounds": arss, "memory_theory_bytes": theory, "memory_theory_parts": parts,
             "rss_over_theory": rss / theory, "torch_peak_rss_bytes": trss}
        if pypi_version:
            r.update({"pypi_torch_tokens_per_s": pt, "pypi_ratio": at / pt if pt else None, "pypi_peak_rss_bytes": prss})
        results.append(r)
        MB = 1 << 20
        print(f"{name + ' ' + str(cfg):34} {at:11.0f} {tt:12.0f} {at / tt:6.2f}"
              + (f" {pt:11.0f} {at / pt if pt else 0:6.2f}" if pypi_version else "")
              + f" {r['alim_gflops']:13.1f} {100 * r['alim_fraction_of_peak']:5.1f}% {r['torch_gflops']:14.1f}"
              f" {rss / MB:12.1f} {theory / MB:10.1f} {rss / theory:7.2f} {trss / MB:13.1f}"
              + (f" {prss / MB:12.1f}" if pypi_version else ""), flush=True)
        print("    theory: " + ", ".join(f"{k} {v / MB:.1f} MB" for k, v in parts.items()), flush=True)
    if a.json:
        json.dump({"threads": a.threads, "peak_gflops": peak, "peak_avx2_gflops": peak2, "peak_avx512_gflops": peak512,
                   "torch": torch.__version__, "pypi_torch": pypi_version, "results": results},
                  open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
