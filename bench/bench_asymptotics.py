#!/usr/bin/python3
"""Competitor for bench/bench_asymptotics.sh: a straightforward numpy/scipy implementation of
`alim bon` (exact best-of-N, random ties) and `alim tilt --kl` (KL-constrained optimum by
brentq on K(lambda) = D with scipy's logsumexp) on the same CSV input.

  bench_asymptotics.py gen FILE N SEED     write a random p,r table with N rows
  bench_asymptotics.py bon FILE N          print JSON {read_seconds, compute_seconds, kl_nats, reward}
  bench_asymptotics.py tilt FILE D         print JSON {read_seconds, compute_seconds, lambda, reward}
"""
import json
import math
import sys
import time

import numpy as np
from scipy import optimize, special


def gen(path, n, seed):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    p /= p.sum()
    r = np.round(rng.normal(size=n), 6)  # continuous-looking rewards with some ties
    with open(path, "w") as f:
        f.write("p,r\n")
        chunk = 1_000_000
        for s in range(0, n, chunk):
            block = np.c_[p[s:s + chunk], r[s:s + chunk]]
            np.savetxt(f, block, delimiter=",", fmt=("%.17g", "%.6f"))


def read(path):
    t = time.perf_counter()
    a = np.loadtxt(path, delimiter=",", skiprows=1)
    return a[:, 0].copy(), a[:, 1].copy(), time.perf_counter() - t


def bon(p, r, N):
    order = np.argsort(r, kind="stable")
    rs, ps = r[order], p[order]
    v, start = np.unique(rs, return_index=True)
    q = np.add.reduceat(ps, start)
    F = np.cumsum(q)
    Fm = np.concatenate([[0.0], F[:-1]])
    P = F ** N - Fm ** N
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = float(np.sum(np.where(P > 0, P * np.log(P / q), 0.0)))
    reward = float(np.sum(P * v))
    win = float(np.sum(P * (Fm + F) / 2))
    return kl, reward, win


def tilt(p, r, D):
    lp = np.log(p)

    def K(lam):
        lw = lp + lam * r
        lz = special.logsumexp(lw)
        phi = np.exp(lw - lz)
        return float(np.sum(phi * (lam * r - lz))), float(np.sum(phi * r))

    hi = 1.0
    while K(hi)[0] < D:
        hi *= 2
    lam = optimize.brentq(lambda t: K(t)[0] - D, 0.0, hi, xtol=1e-12, rtol=1e-12)
    return lam, K(lam)[1]


def main():
    cmd = sys.argv[1]
    if cmd == "gen":
        gen(sys.argv[2], int(float(sys.argv[3])), int(sys.argv[4]))
        return
    p, r, tr = read(sys.argv[2])
    t = time.perf_counter()
    if cmd == "bon":
        kl, reward, win = bon(p, r, float(sys.argv[3]))
        out = {"kl_nats": kl, "reward": reward, "win_rate": win}
    else:
        lam, reward = tilt(p, r, float(sys.argv[3]))
        out = {"lambda": lam, "reward": reward}
    out["compute_seconds"] = time.perf_counter() - t
    out["read_seconds"] = tr
    print(json.dumps(out))


if __name__ == "__main__":
    main()
