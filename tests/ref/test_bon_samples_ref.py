#!/usr/bin/env python3
"""test_bon_samples_ref.py — an independent numpy/scipy oracle for `alim bon-samples`.

Independent methods: every n-subset of a prompt's samples enumerated with itertools.combinations
(best-of-n with random ties, soft best-of-n as a softmax, Beirami et al.'s d_n written from its
formula, the gold reward), the win rate by enumerating every (n+1)-subset and held-out sample, the
plug-in KL from np.unique/cumsum, Best-of-Poisson as a scipy.stats.poisson mixture, a larger group
with exact integer binomials (fractions), and the bootstrap rebuilt with a Python xoshiro256**
(splitmix64 seeding as alim_rng) and np.percentile. Prints `test_bon_samples_ref: N passed, N failed`."""
import atexit, itertools, json, math, os, shutil, subprocess, sys, tempfile
from fractions import Fraction

import numpy as np
from scipy import stats

ALIM = os.environ.get("ALIM", "build/alim")
passed = failed = 0
M64 = (1 << 64) - 1


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what, file=sys.stderr)


def close(a, b, tol, what):
    # alim writes NaN (undefined) as JSON null, and "nan" in its CSV
    if a is None or isinstance(a, str) or isinstance(b, str) or (isinstance(b, float) and math.isnan(b)):
        check((a is None or a == "nan") and (isinstance(b, str) or math.isnan(b)), f"{what}: alim {a!r} vs ref {b!r}")
        return
    check(abs(a - b) <= tol * max(1.0, abs(b)), f"{what}: alim {a!r} vs ref {b!r}")


def run(*args, env=None):
    out = subprocess.run([ALIM, *map(str, args)], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"alim {' '.join(map(str, args))}: {out.stderr}")
    return out.stdout


# ---- the estimators, written from their definitions --------------------------------------------

def d_n(eps, n):
    """Beirami et al.: (1-e)^n [log n + (n-1) log(1-e) - (n-1)/n] + (1-(1-e)^n) log((1-(1-e)^n)/e)"""
    if n == 1:
        return 0.0
    c = (1 - eps) ** n
    t1 = c * (math.log(n) + (n - 1) * math.log1p(-eps) - (n - 1) / n) if c > 0 else 0.0
    t2 = (1 - c) * math.log((1 - c) / eps) if c < 1 else 0.0
    return t1 + t2


def group_ref(r, g, lp, n, lam):
    N = len(r)
    er = eg = kb = sr = sg = 0.0
    subs = list(itertools.combinations(range(N), n))
    for S in subs:
        rs = r[list(S)]
        best = rs.max()
        top = [i for i in S if r[i] == best]
        er += best
        eg += np.mean(g[top])
        kb += np.mean([d_n(math.exp(lp[i]), n) for i in top])
        w = np.exp(lam * (rs - best))
        sr += float(w @ rs) / w.sum()
        sg += float(w @ g[list(S)]) / w.sum()
    k = len(subs)
    win = strict = float("nan")
    if n < N:
        wh = ws = cnt = 0
        for T in itertools.combinations(range(N), n + 1):
            for o in T:
                best = max(r[i] for i in T if i != o)
                cnt += 1
                ws += best > r[o]
                wh += 1.0 if best > r[o] else (0.5 if best == r[o] else 0.0)
        win, strict = wh / cnt, ws / cnt
    v, cts = np.unique(r, return_counts=True)
    q = cts / N
    F = np.cumsum(q)
    P = F ** n - np.concatenate([[0.0], F[:-1]]) ** n
    m = P > 0
    kl = float(np.sum(P[m] * np.log(P[m] / q[m])))
    return dict(reward=er / k, gold_reward=eg / k, kl_beirami_nats=kb / k, soft_reward=sr / k,
                soft_gold_reward=sg / k, win_rate=win, win_rate_strict=strict, kl_plugin_nats=kl)


# ---- alim_rng in Python ------------------------------------------------------------------------

def splitmix(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


class Rng:
    def __init__(self, seed, stream):
        x, z = splitmix(seed)
        h = z ^ ((stream * 0xD1342543DE82EF95 + 0x2545F4914F6CDD1D) & M64)
        self.s = []
        for _ in range(4):
            h, z = splitmix(h)
            self.s.append(z)

    def next(self):
        s = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M64
        res = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 45)
        return res

    def below(self, n):
        lim = M64 - M64 % n
        while True:
            x = self.next()
            if x < lim:
                return x % n


def main():
    rng = np.random.default_rng(20261203)
    tmp = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail
    # ---- 6 prompts, 5..8 samples each, rewards with ties, gold and logp; interleaved rows ----
    sizes = [7, 5, 8, 6, 5, 7]
    rows = []
    for k, N in enumerate(sizes):
        r = np.round(rng.normal(size=N) * 2) / 2
        g = rng.normal(size=N)
        lp = -rng.exponential(2.0, size=N)
        for i in range(N):
            rows.append((f"p{k}", r[i], g[i], lp[i]))
    order = rng.permutation(len(rows))
    path = os.path.join(tmp, "s.csv")
    with open(path, "w") as f:
        f.write("prompt,text,r,g,logp\n")
        for i in order:
            p, r, g, lp = rows[i]
            f.write(f'{p},"a text, with a comma",{r!r},{g!r},{lp!r}\n')
    lam, B, seed = 1.7, 300, 5
    j = json.loads(run("bon-samples", path, "--soft", lam, "--bootstrap", B, "--seed", seed, "--level", 0.9, "--json"))
    check(j["groups"] == 6 and j["n_max"] == 5 and j["group_size_max"] == 8, "shape")
    groups = {}
    for p, r, g, lp in rows:
        groups.setdefault(p, []).append((r, g, lp))
    names = []
    for i in order:  # groups in order of first appearance in the file
        if rows[i][0] not in names:
            names.append(rows[i][0])
    keys = ["reward", "gold_reward", "kl_beirami_nats", "soft_reward", "soft_gold_reward", "win_rate",
            "win_rate_strict", "kl_plugin_nats", "bop_reward", "bop_win_rate", "bop_gold_reward"]
    nmax = 5
    cur = {p: {k: np.zeros(nmax) for k in keys} for p in names}
    for p in names:
        a = np.array(groups[p])
        r, g, lp = a[:, 0], a[:, 1], a[:, 2]
        N = len(r)
        full = [group_ref(r, g, lp, n, lam) for n in range(1, N + 1)]
        for n in range(1, nmax + 1):
            for k in keys[:8]:
                cur[p][k][n - 1] = full[n - 1][k]
            mu = n - 1
            pk = stats.poisson.pmf(np.arange(N), mu)
            rew = np.array([x["reward"] for x in full])
            gold = np.array([x["gold_reward"] for x in full])
            win = np.array([x["win_rate"] for x in full[:N - 1]])
            cur[p]["bop_reward"][n - 1] = pk @ rew / pk.sum()
            cur[p]["bop_gold_reward"][n - 1] = pk @ gold / pk.sum()
            cur[p]["bop_win_rate"][n - 1] = pk[:N - 1] @ win / pk[:N - 1].sum()
    for n in range(1, nmax + 1):
        row = j["rows"][n - 1]
        close(row["kl_bound_nats"], math.log(n) - (n - 1) / n, 1e-15, f"bound n={n}")
        for k in keys:
            ref = float(np.mean([cur[p][k][n - 1] for p in names]))
            close(row[k], ref, 1e-12, f"{k} n={n}")
        check(row["kl_beirami_nats"] <= row["kl_bound_nats"] + 1e-15, f"Beirami <= bound n={n}")
        check(row["kl_plugin_nats"] <= math.log(5) + 1e-12, "plug-in KL <= log N")
    # bootstrap, rebuilt
    G = len(names)
    reps = {k: np.zeros((B, nmax)) for k in keys}
    for b in range(B):
        rr = Rng(seed, b)
        cnt = np.zeros(G)
        for _ in range(G):
            cnt[rr.below(G)] += 1
        for k in keys:
            reps[k][b] = sum(cnt[i] * cur[names[i]][k] for i in range(G)) / G
    for n in range(1, nmax + 1):
        row = j["rows"][n - 1]
        for k in keys:
            col = reps[k][:, n - 1]
            if np.isnan(col).any():
                check(row[k + "_lo"] is None, f"{k}_lo undefined (null)")
                continue
            close(row[k + "_lo"], float(np.percentile(col, 5)), 1e-12, f"{k}_lo n={n}")
            close(row[k + "_hi"], float(np.percentile(col, 95)), 1e-12, f"{k}_hi n={n}")
    # the CSV carries the same numbers
    csv = run("bon-samples", path, "--soft", lam, "--bootstrap", B, "--seed", seed, "--level", 0.9)
    lines = csv.strip().split("\n")
    hdr = lines[0].split(",")
    check(len(lines) == nmax + 1 and hdr[0] == "n", "CSV shape")
    for n in range(1, nmax + 1):
        vals = dict(zip(hdr, lines[n].split(",")))
        for k in keys:
            # cJSON prints 15 significant digits when they read back within DBL_EPSILON
            close(float(vals[k]) if vals[k] != "nan" else "nan", j["rows"][n - 1][k] if j["rows"][n - 1][k] is not None
                  else float("nan"), 4e-16, f"CSV {k} n={n}")

    # ---- one larger prompt: the order-statistics formula with exact integers -------------------
    N = 40
    r = np.round(rng.normal(size=N), 1)
    path2 = os.path.join(tmp, "big.csv")
    with open(path2, "w") as f:
        f.write("r\n" + "".join(f"{x!r}\n" for x in r))
    j2 = json.loads(run("bon-samples", path2, "--json"))
    rs = sorted(Fraction(float(x)) for x in r)
    for n in (1, 2, 3, 10, 25, 39, 40):
        ref = sum(rs[i - 1] * math.comb(i - 1, n - 1) for i in range(n, N + 1)) / math.comb(N, n)
        close(j2["rows"][n - 1]["reward"], float(ref), 1e-13, f"E max of {n} of {N}")
        if n < N:  # the held-out win rate from the tie counts, with exact integers
            v, c = np.unique(r, return_counts=True)
            m = np.concatenate([[0], np.cumsum(c)[:-1]])
            s = Fraction(0)
            for vv, cc, mm in zip(v, c, m):
                s += int(cc) * (math.comb(int(mm + cc - 1), n) + math.comb(int(mm), n))
            ref = 1 - s / (2 * (N - n) * math.comb(N, n))
            close(j2["rows"][n - 1]["win_rate"], float(ref), 1e-13, f"win rate {n} of {N}")
    check(abs(j2["rows"][9]["kl_bound_nats"] - (math.log(10) - 0.9)) < 1e-15, "bound row 10")

    # ---- thread count does not change anything -----------------------------------------------
    env1 = dict(os.environ, OMP_NUM_THREADS="1")
    a = run("bon-samples", path, "--soft", lam, "--bootstrap", 50, "--seed", 9, env=env1)
    b = run("bon-samples", path, "--soft", lam, "--bootstrap", 50, "--seed", 9, env=dict(os.environ, OMP_NUM_THREADS="2"))
    check(a == b, "1 and 2 threads give identical output")

    print(f"test_bon_samples_ref: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
