#!/usr/bin/python3
"""Independent numpy/scipy oracle for the asymptotics commands (tilt, bon, rate, seq,
budget, frontier): random reward distributions are written to CSV, `alim ... --json` is run
($ALIM, default build/alim) and its numbers are compared with a straightforward
re-implementation here. Prints 'test_asymptotics_ref: N passed, N failed'."""
import json
import math
import os
import subprocess
import sys
import shutil
import atexit
import tempfile

import numpy as np

np.seterr(divide='ignore', invalid='ignore')
from scipy import optimize, special

ALIM = os.environ.get("ALIM", "build/alim")
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def close(a, b, tol, what, rel=True):
    scale = max(1.0, abs(b)) if rel else 1.0
    check(abs(a - b) <= tol * scale, f"{what}: alim {a!r} vs ref {b!r}")


def run(*args):
    out = subprocess.run([ALIM, *map(str, args), "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{args}: exit {out.returncode}: {out.stderr}")
    return json.loads(out.stdout)


def num(v):
    return float(v) if not isinstance(v, str) else float(v.replace("inf", "inf"))


# ---- reference implementations -------------------------------------------------------

def Lam(p, r, t):
    m = p > 0
    return special.logsumexp(t * r[m], b=p[m])


def K(p, r, t):
    m = p > 0
    lw = np.log(p[m]) + t * r[m]
    lz = special.logsumexp(lw)
    phi = np.exp(lw - lz)
    return float(np.sum(phi * (lw - lz - np.log(p[m])))), float(np.sum(phi * r[m]))


def tilt_ref(p, r, D):
    hi = 1.0
    while K(p, r, hi)[0] < D:
        hi *= 2
    lo = hi / 2
    while lo > 1e-300 and K(p, r, lo)[0] >= D:
        lo /= 2
    lam = optimize.brentq(lambda t: K(p, r, t)[0] - D, lo, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
    return lam, K(p, r, lam)[1]


def bon_ref(p, r, N):
    m = p > 0
    v, inv = np.unique(r[m], return_inverse=True)
    q = np.bincount(inv, weights=p[m])
    F = np.cumsum(q)
    F /= F[-1]
    Fm = np.concatenate([[0.0], F[:-1]])
    P = F ** N - Fm ** N
    kl = float(np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1) / q), 0)))
    er = float(np.sum(P * v))
    ws = float(np.sum(P * Fm))
    wh = float(np.sum(P * (Fm + F) / 2))
    pi = np.zeros_like(p)
    pi[m] = p[m] * (P / q)[inv]
    return kl, er, ws, wh, pi


def bon_ordered_ref(p, r, N):
    idx = np.lexsort((np.arange(len(r)), r))
    idx = idx[p[idx] > 0]
    G = np.cumsum(p[idx])
    G /= G[-1]
    Gm = np.concatenate([[0.0], G[:-1]])
    P = G ** N - Gm ** N
    pi = np.zeros_like(p)
    pi[idx] = P
    kl = float(np.sum(np.where(P > 0, P * np.log(np.where(P > 0, P, 1) / p[idx]), 0)))
    return kl, pi


def rate_ref(p, r, x):
    # sup_t [t x - Lambda(t)] by bounded scalar minimisation (a different method from alim's)
    res = optimize.minimize_scalar(lambda t: -(t * x - Lam(p, r, t)), bounds=(-60, 60), method="bounded",
                                   options={"xatol": 1e-12})
    return -res.fun


def seq_pmf_ref(p, r, n):
    """log PMF of r_n for integer rewards 0..K by plain log-domain DP (n steps)."""
    K = int(r.max())
    tok = np.full(K + 1, -np.inf)
    for pi, ri in zip(p, r):
        if pi > 0:
            tok[int(ri)] = np.logaddexp(tok[int(ri)], math.log(pi))
    cur = tok.copy()
    for _ in range(n - 1):
        nxt = np.full(len(cur) + K, -np.inf)
        for k in range(K + 1):
            if tok[k] > -np.inf:
                nxt[k:k + len(cur)] = np.logaddexp(nxt[k:k + len(cur)], cur + tok[k])
        cur = nxt
    return np.arange(len(cur), dtype=float), cur


def bon_from_logpmf(v, lq, logN):
    keep = lq > -np.inf
    v, lq = v[keep], lq[keep]
    lq = lq - special.logsumexp(lq)
    # log F and log of (F_{j-1}/F_j) via mpmath-free stable formulas
    lF = np.logaddexp.accumulate(lq)
    lS = np.array([special.logsumexp(lq[j + 1:]) if j + 1 < len(lq) else -np.inf for j in range(len(lq))])
    with np.errstate(divide="ignore"):
        mlF = np.where(lF >= -math.log(2), -np.log1p(-np.exp(lS)), -lF)
    N = math.exp(logN)
    a = -N * mlF
    lFm = np.concatenate([[-np.inf], lF[:-1]])
    d = lFm - lF
    lP = a + np.log(-np.expm1(N * d))
    P = np.exp(lP)
    kl = float(np.sum(np.where(P > 0, P * (lP - lq), 0)))
    er = float(v[-1] - np.sum(np.diff(v) * np.exp(a[:-1])))
    return kl, er


# ---- tests -------------------------------------------------------------------------------

rng = np.random.default_rng(20240401)
tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail


def write(p, r):
    path = os.path.join(tmp, "d.csv")
    np.savetxt(path, np.c_[p, r], delimiter=",", header="p,r", comments="", fmt="%.17g")
    return path


for rep in range(12):
    n = int(rng.integers(2, 30))
    p = rng.random(n) ** 2
    p[rng.random(n) < 0.15] = 0.0
    if p.sum() == 0:
        p[0] = 1
    p /= p.sum()
    r = rng.integers(-3, 6, n).astype(float) if rep % 2 else rng.normal(size=n)
    path = write(p, r)
    m = p > 0
    kinf = -math.log(p[m][r[m] == r[m].max()].sum())
    # tilt
    for frac in (0.05, 0.4, 0.9):
        D = frac * kinf
        j = run("tilt", path, "--kl", repr(D), "--policy")
        lam, er = tilt_ref(p, r, D)
        close(num(j["lambda"]), lam, 1e-9, f"tilt lambda rep {rep}")
        close(j["reward"], er, 1e-11, f"tilt reward rep {rep}")
        close(j["kl_nats"], D, 1e-12, f"tilt kl rep {rep}")
        lw = np.where(m, np.log(np.where(m, p, 1)) + lam * r, -np.inf)
        phi = np.exp(lw - special.logsumexp(lw[m]))
        check(np.max(np.abs(np.array(j["policy"]) - phi)) < 1e-9, f"tilt policy rep {rep}")
    j = run("tilt", path, "--kl", repr(kinf * 1.01))
    check(j["saturated"] is True and j["lambda"] == "inf", f"tilt saturated rep {rep}")
    # bon
    for N in (1, 2, 3.5, 10, 77):
        j = run("bon", path, "--n", N, "--policy")
        kl, er, ws, wh, pi = bon_ref(p, r, N)
        close(j["kl_nats"], kl, 1e-11, f"bon kl rep {rep} N {N}")
        close(j["reward"], er, 1e-12, f"bon reward rep {rep} N {N}")
        close(j["win_rate_strict"], ws, 1e-12, f"bon W> rep {rep} N {N}")
        close(j["win_rate"], wh, 1e-12, f"bon W rep {rep} N {N}")
        close(j["kl_bound_nats"], math.log(N) - (N - 1) / N, 1e-13, f"bon bound N {N}")
        check(np.max(np.abs(np.array(j["policy"]) - pi)) < 1e-12, f"bon policy rep {rep} N {N}")
        if 1e-12 < kl < kinf * 0.999:
            lam_same, r_same = tilt_ref(p, r, kl)
            close(j["rl_same_kl"]["reward"], r_same, 1e-10, f"bon R*(KL) rep {rep} N {N} kl {kl!r} kinf {kinf!r}")
        check(j["reward"] <= num(j["rl_same_kl"]["reward"]) + 1e-12, "E_BoN r <= R*(KL)")
        jo = run("bon", path, "--n", N, "--ties", "ordered", "--policy")
        klo, pio = bon_ordered_ref(p, r, N)
        close(jo["kl_nats"], klo, 1e-11, f"bon ordered kl rep {rep} N {N}")
        check(np.max(np.abs(np.array(jo["policy"]) - pio)) < 1e-12, f"bon ordered policy rep {rep}")
        check(jo["kl_nats"] >= j["kl_nats"] - 1e-13, "ordered >= random KL")
    # rate
    for x in np.linspace(r[m].min(), r[m].max(), 7)[1:-1]:
        j = run("rate", path, "--x", repr(float(x)))
        ref = rate_ref(p, r, float(x))
        if ref < 30:  # the bounded search cannot reach |t| > 60
            close(j["rate_nats"], ref, 1e-8, f"rate I_p({x:.3f}) rep {rep}")
    # budget: brute force over N
    D = 0.3 * kinf
    j = run("budget", path, "--kl", repr(D))
    Nb = 1
    while bon_ref(p, r, Nb + 1)[0] <= D and Nb < 10 ** 5:
        Nb += 1
    check(num(j["n_max"]) == Nb, f"budget n_max rep {rep}: {j['n_max']} vs {Nb}")

# seq against a plain log-domain DP (small n, integer rewards)
for rep in range(4):
    V = int(rng.integers(2, 6))
    p = rng.random(V) + 0.05
    p /= p.sum()
    r = rng.permutation(V).astype(float)
    path = write(p, r)
    for n in (1, 3, 10, 25):
        for logN in (math.log(2), 0.4 * n, 1.1 * n):
            j = run("seq", path, "--length", n, "--n", f"e^{logN!r}")
            row = j["rows"][0]
            v, lq = seq_pmf_ref(p, r, n)
            kl, er = bon_from_logpmf(v, lq, logN)
            close(row["bon_kl_per_token_nats"] * n, kl, 1e-9, f"seq KL rep {rep} n {n}")
            close(row["bon_reward_per_token"] * n, er, 1e-11, f"seq E r rep {rep} n {n}")
            D = logN / n
            kinf = -math.log(p[r == r.max()].sum())
            if D < 0.99 * kinf:
                lam, x = tilt_ref(p, r, D)
                # KL(pi || phi_{n,lam}) = KL(pi || p_n) - lam E r_n + n Lambda(lam)
                ref = kl - lam * er + n * Lam(p, r, lam)
                close(row["bon_kl_to_rl_total_nats"], ref, 1e-8, f"seq KL to RL rep {rep} n {n}")
                close(row["rl_reward_per_token"], x, 1e-11, f"seq x* rep {rep}")

# frontier: RL points lie on the rate function; BoN points below the curve
p = np.array([0.1, 0.2, 0.3, 0.15, 0.25])
r = np.array([3.0, -1.0, 0.5, 2.0, 1.0])
path = write(p, r)
j = run("frontier", path, "--points", 9, "--n-list", "1,2,5,50")
for e in j["rl"][1:-1]:
    close(rate_ref(p, r, e["reward"]), e["kl_nats"], 1e-8, "frontier = rate function")
for e in j["bon"]:
    check(e["reward"] <= e["rl_reward_same_kl"] + 1e-12 and e["shortfall"] >= -1e-12, "BoN below the RL frontier")

print(f"test_asymptotics_ref: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
