#!/usr/bin/python3
"""test_elastic_ref.py — an independent numpy oracle for the elasticity lab.

Checks, against `alim` (ALIM, default build/alim):
  * the synthetic source S: stationary laws by a linear solve, entropy rates, per-document
    entropies by propagating marginals, the mixture's exact per-document entropy by Monte
    Carlo over documents sampled with numpy from chains.json;
  * the E0 oracle: the closed form of spec §1.6 (gamma_a, gamma_p, derivatives, the secant
    ratio and the table), and the count-based Markov learner recomputed from chains.json.
Prints "test_elastic_ref: N passed, N failed".
"""
import json
import math
import os
import subprocess
import sys
import shutil
import atexit
import tempfile

import numpy as np

ALIM = os.environ.get("ALIM", "build/alim")
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def run(*args):
    out = subprocess.run([ALIM, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"alim {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def H(p):
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail
d = os.path.join(tmp, "syn")
man = json.loads(run("data", "synthetic", "--out", d, "--pretrain-tokens", "12800", "--pool-docs", "10",
                     "--test-docs", "8", "--json"))
ch = json.load(open(os.path.join(d, "chains.json")))
n, L = ch["symbols"], ch["doc_len"]
comps = [(np.array(c["init"]), np.array(c["P"])) for c in ch["components"]]
q = np.array(man["shares"])
for i, (init, P) in enumerate(comps):
    check(np.allclose(P.sum(1), 1, atol=1e-12) and abs(init.sum() - 1) < 1e-12, f"rows of C{i+1} sum to 1")
    A = P.T - np.eye(n)
    A[-1, :] = 1
    b = np.zeros(n)
    b[-1] = 1
    pi = np.linalg.solve(A, b)
    rate = sum(pi[s] * H(P[s]) for s in range(n))
    c = man["components"][i]
    check(abs(rate - c["entropy_rate_bits"]) < 1e-9, f"C{i+1} entropy rate {rate} vs {c['entropy_rate_bits']}")
    mu, h = init.copy(), H(init)
    hrow = np.array([H(P[s]) for s in range(n)])
    for t in range(1, L):
        h += mu @ hrow
        mu = mu @ P
    check(abs(h - c["doc_entropy_bits"]) < 1e-8, f"C{i+1} document entropy {h} vs {c['doc_entropy_bits']}")

# mixture: Monte Carlo of -log2 p_mix(X) over documents drawn with numpy
rng = np.random.default_rng(1)
N = 3000
z = rng.choice(3, size=N, p=q)
logp = np.zeros((N, 3))
X = np.zeros((N, L), dtype=int)
cdfs = [(np.cumsum(init), np.cumsum(P, axis=1)) for init, P in comps]
u = rng.random((N, L))
for k in range(N):
    ci, cP = cdfs[z[k]]
    x = min(int(np.searchsorted(ci, u[k, 0], side="right")), n - 1)
    X[k, 0] = x
    for t in range(1, L):
        x = min(int(np.searchsorted(cP[x], u[k, t], side="right")), n - 1)
        X[k, t] = x
with np.errstate(divide="ignore"):
    for i, (init, P) in enumerate(comps):
        logp[:, i] = np.log2(init[X[:, 0]]) + np.log2(P[X[:, :-1], X[:, 1:]]).sum(1) + np.log2(q[i])
m = logp.max(1, keepdims=True)
nll = -(m[:, 0] + np.log2(np.exp2(logp - m).sum(1)))
mean, se = nll.mean(), nll.std() / math.sqrt(N)
mx = man["mixture"]
check(abs(mean - mx["doc_entropy_bits"]) < 4 * se,
      f"mixture doc entropy MC {mean:.3f} +- {se:.3f} vs exact {mx['doc_entropy_bits']:.3f}")

# the generated test documents are possible under their chain and impossible under the others
docs = [dd for dd in open(os.path.join(d, "test_c2.txt"), "rb").read().split(b"<|endoftext|>") if dd]
ok = True
for dd in docs:
    x = np.frombuffer(dd, dtype=np.uint8).astype(int) - 48
    lp = [np.log2(comps[i][1][x[:-1], x[1:]]).sum() if np.all(comps[i][1][x[:-1], x[1:]] > 0) else -np.inf for i in range(3)]
    ok &= bool(np.isfinite(lp[1]) and not np.isfinite(lp[0]) and not np.isfinite(lp[2]))
check(ok, "test_c2 documents are possible under C2 only")

# ---- E0: closed form of spec §1.6 ----
zipf = 1 / np.arange(1, 31)
zipf /= zipf.sum()
Hz = H(zipf)


def closed(k, l, qq):
    N_ = k + 1 + l
    w = np.array([qq[0] * k, qq[1] * k + 1, qq[2] * k + l]) / N_
    ga = Hz - math.log2(w[1])
    gp = sum(qq[i] * (Hz - math.log2(w[i])) for i in range(3) if qq[i] > 0)
    return ga, gp


g = json.loads(run("elastic", "oracle", "--json"))
for r in g["grid"]:
    if r["model"] != "mix":
        continue
    k, l = r["k"], r["l"]
    qq = [1 / 3] * 3
    ga, gp = closed(k, l, qq)
    check(abs(ga - r["gamma_a_bits"]) < 1e-10 and abs(gp - r["gamma_p_bits"]) < 1e-10, f"gamma at k={k} l={l}")
    N_ = k + 1 + l
    check(abs(r["dgamma_a_dl_bits"] * N_ * math.log(2) - 1) < 1e-9, "dgamma_a/dl = 1/(N ln 2)")
    dgp = (1 / N_ - qq[2] / (qq[2] * k + l)) / math.log(2)
    check(abs(r["dgamma_p_dl_bits"] / dgp - 1) < 1e-9, f"dgamma_p/dl closed form at k={k} l={l}")
    ga0, gp0 = closed(k, 0, qq)
    # secant in extended precision via log1p
    da = math.log1p(l / (k + 1)) / math.log(2)
    dp = da - qq[2] * math.log1p(l / (qq[2] * k)) / math.log(2)
    check(abs(r["hooke_ratio"] - da / (k * abs(dp))) < 1e-6, f"Hooke ratio at k={k} l={l}")

t = json.loads(run("elastic", "oracle", "--table", "--json"))["table"]
spec = [(100, 0.001, (1/3, 1/3, 1/3)), (1000, 0.001, (1/3, 1/3, 1/3)), (1000, 0.02, (1/3, 1/3, 1/3)), (1000, 0.001, (.8, .1, .1))]
for row, (k, l, qq) in zip(t, spec):
    da = math.log1p(l / (k + 1))
    dp = da - qq[2] * math.log1p(l / (qq[2] * k))
    check(abs(row["ratio_secant"] - (-da / dp)) < 1e-6 * k, f"table row {row['setting']}: {row['ratio_secant']} vs {-da/dp}")
# the smoothed row: add alpha to every probability of the 90-symbol alphabet
C = np.zeros((3, 90))
for i in range(3):
    C[i, 30 * i:30 * i + 30] = zipf


def smoothed(k, l, alpha, qq=(1/3, 1/3, 1/3)):
    N_ = k + 1 + l
    w = np.array([qq[0] * k, qq[1] * k + 1, qq[2] * k + l]) / N_
    p = (w @ C + alpha) / (1 + 90 * alpha)
    return -(C[1] * np.log2(p)).sum(), -((np.array(qq) @ C) * np.log2(p)).sum()


a1, p1 = smoothed(1000, 0.001, 1e-3)
a0, p0 = smoothed(1000, 0, 1e-3)
check(abs(t[4]["ratio_secant"] - (-(a1 - a0) / (p1 - p0))) < 0.05, f"smoothed row {t[4]['ratio_secant']} vs {-(a1-a0)/(p1-p0)}")

# ---- the count-based Markov learner from chains.json ----
occ = []
for init, P in comps:
    mu, o = init.copy(), np.zeros(n)
    for _ in range(L - 1):
        o += mu
        mu = mu @ P
    occ.append(o)


def markov_gamma(k, l, qq, A=2000.0):
    nd = [A * (qq[i] * k + (i == 1) + (i == 2) * l) for i in range(3)]
    cnt = sum(nd[i] * occ[i][:, None] * comps[i][1] for i in range(3))
    bos = sum(nd[i] * comps[i][0] for i in range(3))
    with np.errstate(divide="ignore", invalid="ignore"):
        ph = np.where(cnt.sum(1, keepdims=True) > 0, cnt / cnt.sum(1, keepdims=True), 1 / n)
        pb = bos / bos.sum()

        def ce(i):
            init, P = comps[i]
            m_ = P > 0
            return (-(init[init > 0] * np.log2(pb[init > 0])).sum() - (occ[i][:, None] * P * np.where(m_, np.log2(np.where(m_, ph, 1)), 0)).sum()) / L
    return ce(1), sum(qq[i] * ce(i) for i in range(3) if qq[i] > 0)


g = json.loads(run("elastic", "oracle", "--json", "--k", "10,1000", "--l", "0.01"))
for r in g["grid"]:
    if r["model"] != "markov":
        continue
    ga, gp = markov_gamma(r["k"], r["l"], [1/3] * 3)
    check(abs(ga - r["gamma_a_bits"]) < 1e-9 and abs(gp - r["gamma_p_bits"]) < 1e-9,
          f"markov gamma at k={r['k']}: {ga} {gp} vs {r['gamma_a_bits']} {r['gamma_p_bits']}")
    ga0, gp0 = markov_gamma(r["k"], 0, [1/3] * 3)
    check(abs((ga - ga0) / (r["k"] * abs(gp - gp0)) - r["hooke_ratio"]) < 1e-3 * r["hooke_ratio"], f"markov Hooke at k={r['k']}")

print(f"test_elastic_ref: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
