"""Benchmark: `alim capacity` against a straightforward numpy Blahut-Arimoto on the same
random 1000 x 1000 channels, to the same tolerance (1e-12 nats), in the same run.

    /usr/bin/python3 bench/bench_capacity.py [--alim build/alim] [--cap-seconds 120] [--repeats 5]

alim's time is the median wall time of --repeats runs of the whole command (CSV parsing
included). The numpy competitor iterates plain BA until its own certified gap is below the
tolerance or --cap-seconds pass; if it stops at the cap, the ratio printed is a lower bound
('>'). Both use the same OpenBLAS (numpy through its BLAS for the matrix-vector products)."""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "ref"))
import bottleneck_ref as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alim", default=os.environ.get("ALIM", "build/alim"))
    ap.add_argument("--cap-seconds", type=float, default=120.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--tol", type=float, default=1e-12)
    args = ap.parse_args()
    info = json.loads(subprocess.run([args.alim, "info", "--json"], capture_output=True, text=True, check=True).stdout)
    print(f"BLAS kernel: alim {info['blas_kernel']} (chosen by {info['blas_kernel_chosen_by']}); "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} for numpy {np.__version__}")
    rng = np.random.default_rng(2026)
    channels = {
        "uniform rows": (lambda W: W / W.sum(1, keepdims=True))(rng.random((1000, 1000))),
        "Dirichlet(1) rows": rng.dirichlet(np.ones(1000), 1000),
        "softmax(3 N(0,1))": (lambda G: np.exp(G) / np.exp(G).sum(1, keepdims=True))(3 * rng.standard_normal((1000, 1000))),
    }
    tmp = tempfile.mkdtemp()
    print(f"\n{'channel':<20} {'alim s':>8} {'solve s':>8} {'alim gap':>10} {'numpy s':>9} {'its':>7} {'numpy gap':>10} "
          f"{'load s':>7} {'ratio':>8} {'solve ratio':>11}")
    for name, W in channels.items():
        path = os.path.join(tmp, "w.csv")
        np.savetxt(path, W, delimiter=",", fmt="%.17g")
        times, solve = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            out = subprocess.run([args.alim, "capacity", path, "--json", "--tol", repr(args.tol)],
                                 capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - t0)
            solve.append(json.loads(out.stdout)["solve_seconds"])
        j = json.loads(out.stdout)
        ta, ts = statistics.median(times), statistics.median(solve)
        t0 = time.perf_counter()
        np.loadtxt(path, delimiter=",")
        tload = time.perf_counter() - t0
        t0 = time.perf_counter()
        lo, hi, its, _ = ref.blahut_arimoto(W, tol=args.tol, max_iter=10**9, seconds=args.cap_seconds)
        tn, conv = time.perf_counter() - t0, hi - lo < args.tol
        # both brackets are certified: they must overlap
        ok = j["lower_nats"] <= hi + 1e-13 and lo <= j["upper_nats"] + 1e-13
        gt = "" if conv else ">"
        print(f"{name:<20} {ta:8.3f} {ts:8.3f} {j['upper_nats'] - j['lower_nats']:10.2e} {tn:9.2f} {its:7d} {hi - lo:10.2e} "
              f"{tload:7.2f} {gt + format((tn + tload) / ta, '.0f') + 'x':>8} {gt + format(tn / ts, '.0f') + 'x':>11}"
              f"{'' if ok else '  BRACKETS DISAGREE'}")
    print("\nalim s: median wall time of the whole command (CSV parsing included); solve s: the solver alone.")
    print("alim gap includes the rounding margin. numpy: plain Blahut-Arimoto on the array in memory;")
    print("load s: np.loadtxt of the same CSV. ratio = (numpy + load) / alim; solve ratio = numpy / alim solve.")
    print("'>' = numpy stopped at --cap-seconds before reaching the tolerance (ratio is a lower bound).")


if __name__ == "__main__":
    main()
