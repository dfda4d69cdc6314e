#!/usr/bin/env python3
"""test_bon_family_ref.py — an independent numpy/scipy oracle for `alim bon --soft/--poisson`,
`alim frontier --family` and `alim passk`.

Independent methods: soft best-of-N by enumerating the multinomial counts of N draws over the
reward levels (exact for integer N; no integral), Best-of-Poisson as a Poisson mixture of
best-of-N laws F^N (scipy.stats.poisson weights), the tilt by logsumexp, gold rewards per outcome,
pass@k with scipy.special.comb and a direct binomial sum. Prints `test_bon_family_ref: N passed, N failed`."""
import atexit, itertools, json, math, os, shutil, subprocess, sys, tempfile

import numpy as np
from scipy import special, stats

ALIM = os.environ.get("ALIM", "build/alim")
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def close(a, b, tol, what):
    check(abs(a - b) <= tol * max(1.0, abs(b)), f"{what}: alim {a!r} vs ref {b!r}")


def run(*args):
    out = subprocess.run([ALIM, *map(str, args)], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"alim {' '.join(map(str, args))}: {out.stderr}")
    return out.stdout


def levels(p, r, g):
    v, inv = np.unique(r[p > 0], return_inverse=True)
    q = np.bincount(inv, weights=p[p > 0])
    gl = np.bincount(inv, weights=(p * g)[p > 0]) / q
    return v, q, gl


def summarise(pi, v, q, gl):
    F = np.cumsum(q)
    Fm = np.concatenate([[0.0], F[:-1]])
    m = pi > 0
    return dict(kl=float(np.sum(pi[m] * np.log(pi[m] / q[m]))), reward=float(pi @ v),
                win=float(pi @ ((Fm + F) / 2)), strict=float(pi @ Fm), gold=float(pi @ gl))


def soft_law(q, v, N, lam):
    """multinomial enumeration: counts c over levels, sum c = N; each level's share c_j w_j / sum c w"""
    L = len(q)
    w = np.exp(lam * (v - v.max()))
    pi = np.zeros(L)
    for c in itertools.product(range(N + 1), repeat=L):
        if sum(c) != N:
            continue
        c = np.array(c)
        logm = special.gammaln(N + 1) - special.gammaln(c + 1).sum() + np.sum(c * np.log(q))
        pi += math.exp(logm) * c * w / np.sum(c * w)
    return pi


def bon_law(q, N):
    F = np.minimum(np.cumsum(q), 1.0)
    F[-1] = 1.0
    return F ** N - np.concatenate([[0.0], F[:-1]]) ** N


def bop_law(q, mu):
    ks = np.arange(0, int(mu + 40 * math.sqrt(mu) + 60))
    wts = stats.poisson.pmf(ks, mu)
    return sum(wk * bon_law(q, k + 1) for k, wk in zip(ks, wts))


def tilt_law(q, v, lam):
    a = np.log(q) + lam * (v - v.max())
    return np.exp(a - special.logsumexp(a))


rng = np.random.default_rng(20250615)
tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail
for case in range(8):
    n = int(rng.integers(2, 6))
    p = rng.dirichlet(np.ones(n))
    r = rng.integers(0, 4, size=n).astype(float)  # ties on purpose
    g = np.round(rng.normal(size=n), 3)
    path = os.path.join(tmp, f"d{case}.csv")
    with open(path, "w") as f:
        f.write("p,r,g\n")
        for a, b, c in zip(p, r, g):
            f.write(f"{a!r},{b!r},{c!r}\n")
    v, q, gl = levels(p, r, g)
    for N in (1, 2, 3, 6):
        for lam in (0.0, 0.4, 1.7):
            ref = summarise(soft_law(q, v, N, lam), v, q, gl)
            j = json.loads(run("bon", path, "--n", N, "--soft", lam, "--json"))
            for key, rk in (("kl_nats", "kl"), ("reward", "reward"), ("win_rate", "win"), ("win_rate_strict", "strict"),
                            ("gold_reward", "gold")):
                close(j[key], ref[rk], 1e-11, f"case {case} soft N={N} lambda={lam} {key}")
    for mu in (0.3, 2.0, 7.5):
        ref = summarise(bop_law(q, mu), v, q, gl)
        j = json.loads(run("bon", path, "--poisson", mu, "--json"))
        for key, rk in (("kl_nats", "kl"), ("reward", "reward"), ("win_rate", "win"), ("gold_reward", "gold")):
            close(j[key], ref[rk], 1e-11, f"case {case} bop mu={mu} {key}")
        Ns = 1 + np.arange(0, 400)
        wts = stats.poisson.pmf(Ns - 1, mu)
        close(j["kl_bound_nats"], float(np.sum(wts * (np.log(Ns) - (Ns - 1) / Ns))), 1e-12, f"bop KL bound mu={mu}")
        close(j["win_rate_bound"], float(np.sum(wts * Ns / (Ns + 1))), 1e-12, f"bop win bound mu={mu}")
    # the family table: every row against the laws above
    rows = json.loads(run("frontier", path, "--family", "--points", 4, "--n-list", "1,2,5", "--soft-n", 3, "--json"))["rows"]
    for row in rows:
        m, par = row["method"], float(row["param"]) if row["param"] != "inf" else math.inf
        if m == "bon":
            pi = bon_law(q, int(par))
        elif m == "bop":
            pi = bop_law(q, par)
        elif m == "soft":
            pi = soft_law(q, v, 3, par)
        else:
            pi = tilt_law(q, v, par) if math.isfinite(par) else (v == v.max()).astype(float)
        ref = summarise(pi, v, q, gl)
        close(row["kl_nats"], ref["kl"], 1e-10, f"family {m} {par} kl")
        close(row["win_rate"], ref["win"], 1e-10, f"family {m} {par} win")
        close(row["gold_reward"], ref["gold"], 1e-10, f"family {m} {par} gold")
    # HedgeTune for best-of-N: brute force over N
    j = json.loads(run("bon", path, "--n", 2, "--hedge", 200, "--json"))
    golds = [summarise(bon_law(q, N), v, q, gl)["gold"] for N in range(1, 201)]
    check(j["hedge"]["best"] == 1 + int(np.argmax(golds)), f"case {case} hedge N {j['hedge']['best']}")

# pass@k against scipy's binomial coefficients and a direct sum over c
for n, c, k in ((10, 3, 2), (50, 7, 10), (200, 150, 40), (30, 0, 5), (30, 28, 5)):
    j = json.loads(run("passk", "--n", n, "--c", c, "--k", k, "--p", 0.25, "--json"))
    est = 1 - special.comb(n - c, k, exact=True) / special.comb(n, k, exact=True)
    close(j["pass_at_k_estimate"], float(est), 1e-13, f"passk {n},{c},{k}")
    for th, key in ((c / n, "var_plugin"), (0.25, "var_at_theta")):
        cs = np.arange(n + 1)
        e = 1 - np.array([special.comb(n - x, k, exact=True) / special.comb(n, k, exact=True) for x in cs], dtype=float)
        b = stats.binom.pmf(cs, n, th)
        close(j[key], float(b @ (e - b @ e) ** 2), 1e-12, f"passk {key} {n},{c},{k}")
    close(j["pass_at_k_exact"], 1 - 0.75 ** k, 1e-14, "passk exact")

print(f"test_bon_family_ref: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
