"""Oracle test: alim's bottleneck commands against the numpy/scipy reference in
bottleneck_ref.py on random inputs. Prints '<name>: N passed, N failed'."""
import json
import math
import os
import subprocess
import sys
import shutil
import atexit
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import bottleneck_ref as ref  # noqa: E402

ALIM = os.environ.get("ALIM", "build/alim")
passed = failed = 0


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", msg, file=sys.stderr)


def alim_json(*args):
    out = subprocess.run([ALIM, *args, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"alim {' '.join(args)}: {out.stderr}")
    return json.loads(out.stdout)


rng = np.random.default_rng(20261123)
tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail

# 1. capacities of random channels: alim's certified bracket must overlap numpy's, be
#    narrow, and contain numpy's converged value
for t in range(30):
    nx, ny = rng.integers(2, 13, size=2)
    W = rng.random((nx, ny)) ** rng.choice([1, 3, 8])
    W[rng.random((nx, ny)) < 0.25] = 0
    W[:, 0] += 1e-3  # no all-zero rows
    W /= W.sum(axis=1, keepdims=True)
    path = os.path.join(tmp, f"w{t}.csv")
    np.savetxt(path, W, delimiter=",", fmt="%.17g")
    j = alim_json("capacity", path)
    lo, hi = j["lower_nats"], j["upper_nats"]
    rlo, rhi, it, r = ref.blahut_arimoto(W, tol=1e-12, max_iter=300000)
    check(lo <= rhi + 1e-13 and rlo <= hi + 1e-13, f"channel {t}: brackets [{lo},{hi}] and [{rlo},{rhi}] disjoint")
    check(hi - lo < 1e-11, f"channel {t}: alim bracket width {hi - lo}")
    check(lo >= rlo - 1e-12, f"channel {t}: alim lower {lo} below numpy lower {rlo}")
    # I at alim's input law is a lower bound on C: must not exceed numpy's upper end
    p = np.array(j["input_distribution"])
    check(abs(p.sum() - 1) < 1e-12 and ref.mutual_information(W, p) <= rhi + 1e-12, f"channel {t}: I(r*) above C")
    # data processing: the cascade with a random second stage is no better than either stage
    V = rng.random((ny, 3))
    V /= V.sum(axis=1, keepdims=True)
    p2 = os.path.join(tmp, f"v{t}.csv")
    np.savetxt(p2, V, delimiter=",", fmt="%.17g")
    jc = alim_json("capacity", path, "--then", p2)
    check(jc["cascade"]["lower_bits"] <= jc["min_bits"] + 1e-12, f"channel {t}: cascade above min of stages")
    clo, chi, _, _ = ref.blahut_arimoto(W @ V, tol=1e-12, max_iter=300000)
    check(abs(jc["cascade"]["lower_nats"] - clo) < 1e-9, f"channel {t}: cascade capacity differs from numpy")

# 2. Fano bounds against brentq
for t in range(40):
    log2m = float(rng.choice([1, 2, 3, 8, 20, 64, 200])) + (0 if t % 2 else float(rng.random()))
    info_bits = float(rng.random() * log2m * 1.2)
    j = alim_json("fano", "--log2M", repr(log2m), "--info", repr(info_bits))
    lm = log2m * math.log(2)
    want = ref.fano_strong(lm, info_bits * math.log(2))
    check(abs(j["strong"] - want) < 1e-10, f"fano strong log2M={log2m} I={info_bits}: {j['strong']} vs {want}")
    check(abs(j["weak"] - ref.fano_weak(lm, info_bits * math.log(2))) < 1e-12, "fano weak")
    check(j["weak"] <= j["strong"] + 1e-15, "weak <= strong")

# 3. kl-inverse against brentq
for t in range(40):
    q = float(rng.choice([0.0, rng.random(), rng.random() ** 4]))
    c = float(10 ** rng.uniform(-6, 1))
    j = alim_json("klinv", "--q", repr(q), "--c", repr(c))
    want = ref.kl_inverse_upper(q, c)
    check(abs(j["value"] - want) < 1e-10, f"klinv q={q} c={c}: {j['value']} vs {want}")

# 4. xi(m) through the PAC-Bayes kl form: c = (KL + ln(xi(m)/delta))/m
for m in [1, 2, 5, 8, 17, 100, 333]:
    j = alim_json("klinv", "--emp-risk", "0.2", "--kl", "1", "--m", str(m))
    check(abs(j["xi"] - ref.xi(m)) < 1e-9 * ref.xi(m), f"xi({m})")
    want = ref.kl_inverse_upper(0.2, (1 + math.log(ref.xi(m) / 0.05)) / m)
    check(abs(j["kl_xi"] - want) < 1e-10, f"kl-xi bound m={m}")

# 5. random scenarios: capacities, exact information, Bayes risk, bounds
for t in range(12):
    M = int(rng.choice([2, 3, 4, 6]))
    ctx = []
    weights = rng.dirichlet(np.ones(int(rng.integers(1, 4))))
    ref_ctx = []
    for w in weights:
        nh, ny = int(rng.integers(2, 5)), int(rng.integers(2, 5))
        Wc = rng.dirichlet(np.ones(nh) * 0.7, size=M)
        Wa = rng.dirichlet(np.ones(ny) * 0.7, size=nh)
        ctx.append({"weight": float(w), "cognitive": {"matrix": Wc.tolist()}, "articulation": {"matrix": Wa.tolist()}})
        ref_ctx.append((float(w), Wc, Wa))
    weights_sum = sum(c["weight"] for c in ctx)
    ctx[-1]["weight"] += 1 - weights_sum
    scen = {"M": M, "m": 500, "contexts": ctx}
    path = os.path.join(tmp, f"s{t}.json")
    with open(path, "w") as f:
        json.dump(scen, f)
    j = alim_json("interval", path)
    ctot = info = bayes = 0.0
    for w, Wc, Wa in ref_ctx:
        c1 = ref.blahut_arimoto(Wc, max_iter=300000)[1]
        c2 = ref.blahut_arimoto(Wa, max_iter=300000)[1]
        ctot += w * min(c1, c2)
        casc = Wc @ Wa
        u = np.full(M, 1.0 / M)
        info += w * ref.mutual_information(casc, u)
        bayes += w * (1 - (u[:, None] * casc).max(axis=0).sum())
    check(abs(j["C_tot_upper_bits"] * math.log(2) - ctot) < 1e-9, f"scenario {t}: C_tot")
    check(abs(j["info_nats"] - info) < 1e-12, f"scenario {t}: I(U;Y|S) {j['info_nats']} vs {info}")
    check(abs(j["bayes_risk"] - bayes) < 1e-12, f"scenario {t}: Bayes risk")
    lb = ref.fano_strong(math.log(M), j["C_tot_upper_bits"] * math.log(2))
    check(abs(j["lower_bound"] - lb) < 1e-10, f"scenario {t}: lower bound")
    check(j["lower_bound"] <= j["fano"]["strong_info"] + 1e-12 <= j["bayes_risk"] + 2e-12, f"scenario {t}: ordering")
    B = 500 * j["C_tot_upper_bits"] * math.log(2)
    ub = ref.kl_inverse_upper(j["bayes_risk"], (B / 0.5 + math.log(ref.xi(500) / 0.05)) / 500)
    check(abs(j["upper_bound"] - ub) < 1e-9, f"scenario {t}: upper bound {j['upper_bound']} vs {ub}")

print(f"test_bottleneck_ref: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
