#!/usr/bin/python3
"""Competitor for bench/bench_bon_family.sh: a straightforward numpy implementation of the level
laws of best-of-N, Best-of-Poisson and soft best-of-N (alim/bonfam.h) on a p,r CSV, each followed
by the same evaluation (KL, reward, win rate).

  bench_bon_family.py FILE N MU LAMBDA   print JSON {read_seconds, levels_seconds, bon, bop, soft}

Levels: argsort/unique/reduceat/cumsum, as bench_asymptotics.py. Soft best-of-N: the integral
pi_j = N q_j w_j int_0^inf e^{-t w_j} M(t)^{N-1} dt, M(t) = sum_k q_k e^{-t w_k}, by the trapezoid
rule in log t with step 1/8 (alim's step) from t = 1e-8 / max_j a_j to 45 / (N w_1), one vectorised
pass over the levels per node (M through log1p of sum q expm1(-t w), as alim)."""
import json
import math
import sys
import time

import numpy as np


def read(path):
    t = time.perf_counter()
    a = np.loadtxt(path, delimiter=",", skiprows=1)
    return a[:, 0].copy(), a[:, 1].copy(), time.perf_counter() - t


def levels(p, r):
    order = np.argsort(r, kind="stable")
    rs, ps = r[order], p[order]
    v, start = np.unique(rs, return_index=True)
    q = np.add.reduceat(ps, start)
    return v, q


def evaluate(pi, v, q):
    pi = pi / pi.sum()
    F = np.cumsum(q)
    Fm = np.concatenate([[0.0], F[:-1]])
    m = pi > 0
    kl = float(np.sum(pi[m] * np.log(pi[m] / q[m])))
    return {"kl_nats": kl, "reward": float(pi @ v), "win_rate": float(pi @ ((Fm + F) / 2))}


def bon(v, q, N):
    F = np.cumsum(q)
    Fm = np.concatenate([[0.0], F[:-1]])
    return F ** N - Fm ** N


def bop(v, q, mu):
    F = np.cumsum(q)
    S = np.maximum(1.0 - F, 0.0)
    G = F * np.exp(-mu * S)
    return np.diff(np.concatenate([[0.0], G]))


def soft(v, q, N, lam, h=0.125):
    w = np.exp(lam * (v - v[-1]))
    Ew = float(q @ w)
    a_max = w[-1] + (N - 1) * Ew
    x0, x1 = math.log(1e-8 / a_max), math.log(45.0 / (N * w[0]))
    xs = np.arange(x0, x1 + h, h)
    I = np.full(len(v), 1e-8 / a_max)  # the part below t0, where the integrand is 1
    for x in xs:
        t = math.exp(x)
        s = float(q @ np.expm1(-t * w))
        lM = math.log1p(s)
        I += h * t * np.exp(-t * w + (N - 1) * lM)
    return N * q * w * I, len(xs)


def main():
    path, N, mu, lam = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
    p, r, tr = read(path)
    out = {"read_seconds": tr}
    t = time.perf_counter()
    v, q = levels(p, r)
    out["levels_seconds"] = time.perf_counter() - t
    out["levels"] = len(v)
    for name, f in (("bon", lambda: (bon(v, q, N), 0)), ("bop", lambda: (bop(v, q, mu), 0)),
                    ("soft", lambda: soft(v, q, N, lam))):
        t = time.perf_counter()
        pi, nodes = f()
        res = evaluate(pi, v, q)
        res["seconds"] = time.perf_counter() - t
        if nodes:
            res["nodes"] = nodes
        out[name] = res
    print(json.dumps(out))


if __name__ == "__main__":
    main()
