"""The asymptotics engine (KL-RL against best-of-N): tilt, bon, frontier, seq, rate.

A reward distribution is given as two sequences ``p, r`` (reference probabilities and
rewards, one entry per outcome) or as the path of a DIST.csv table (rows p,r) with ``r``
omitted. Each function mirrors the alim command of the same name and returns the keys of its
--json output ("file" only when a path was given); curves are numpy arrays."""
import math

import numpy as np

from ._alim import ffi, lib
from ._core import Progress, bits, carray, check, dptr, fail, fspath, is_path, new_error, number, vector

__all__ = ["tilt", "bon", "frontier", "seq", "rate"]

RDIST_SUM_TOL = 1e-9  # ALIM_RDIST_SUM_TOL


def _rdist(p, r, normalize):
    """(alim_rdist *, file name or None) from arrays or a DIST.csv path."""
    d = ffi.new("alim_rdist *")
    err = new_error()
    if r is None:
        if not is_path(p):
            fail("r", "give the rewards r, or a DIST.csv path as p")
        path = fspath(p)
        check(lib.alim_rdist_read_csv(d, path.encode(), RDIST_SUM_TOL, int(bool(normalize)), err), err)
        return ffi.gc(d, lib.alim_rdist_free), path
    pa, ra = vector("p", p), vector("r", r)
    if pa.shape != ra.shape:
        fail("r", f"has {ra.size} entries, p has {pa.size}")
    if pa.size == 0:
        fail("p", "no outcomes")
    check(lib.alim_rdist_from_arrays(d, dptr(pa), dptr(ra), pa.size, RDIST_SUM_TOL, int(bool(normalize)), b"p", err),
          err)
    return ffi.gc(d, lib.alim_rdist_free), None


def _levels(d, with_map):
    lv = ffi.new("alim_levels *")
    err = new_error()
    check((lib.alim_levels_from_rdist if with_map else lib.alim_levels_from_rdist_nomap)(d, lv, err), err)
    return ffi.gc(lv, lib.alim_levels_free)


def _rdist_of_levels(lv):
    """The reward law of merged levels as a distribution (the tilt depends on it only)."""
    n = lv.n
    q = np.array([math.exp(lv.log_q[k]) for k in range(n)])  # libm's exp, as the CLI (numpy's may differ by an ulp)
    v = carray(lv.v, n)
    d = ffi.new("alim_rdist *")
    err = new_error()
    check(lib.alim_rdist_from_arrays(d, dptr(q), dptr(v), n, 1e-6, 1, b"levels", err), err)
    return ffi.gc(d, lib.alim_rdist_free)


def _solve_kl(d, kl):
    s = ffi.new("alim_tilt_solution *")
    err = new_error()
    check(lib.alim_tilt_solve_kl(d, kl, s, err), err)
    return s


def _bon_size(name, n):
    """N from a number >= 1 or a string "e^X" / "exp(X)" (N = e^X, for huge N)."""
    N = ffi.new("alim_bon_size *")
    err = new_error()
    if isinstance(n, str):
        x = None
        if n.startswith("e^"):
            x = n[2:]
        elif n.startswith("exp(") and n.endswith(")"):
            x = n[4:-1]
        if x is not None:
            lx = number(name, x)
            if lib.alim_bon_size_from_log(lx, N, err):
                fail(name, f"N = e^{x}: the exponent must be finite and >= 0")
            return N[0]
    v = number(name, n)
    if lib.alim_bon_size_from_n(v, N, err):
        fail(name, f"N must be a finite number >= 1 (got '{n}')")
    return N[0]


def _mc_samples(check_mc):
    mc = int(number("check_mc", check_mc, integer=True))
    if mc and mc < 2:
        fail("check_mc", "need at least 2 samples")
    return mc


def _seed(seed):
    s = number("seed", seed, integer=True)
    if s >= 2.0**64:
        fail("seed", f"'{seed}' is out of range")
    return int(seed)


def _est(e):
    return np.array([e.mean, e.lo, e.hi])


def tilt(p, r=None, *, kl=None, lam=None, policy=False, normalize=False, check_mc=0, seed=1):
    """The optimal KL-regularised policy phi ∝ p e^{lam r} (``alim tilt --json``): give the
    tilt ``lam`` (any real or ±inf) or a KL budget ``kl`` in nats (lambda is solved for).

    Returns outcomes, support, lambda, saturated, kl_budget_nats (with kl), kl_nats, kl_bits,
    reward, reward_gain, reward_variance, log_partition_nats, kl_max_nats, reference_reward,
    reward_max, subgaussian_gain_bound, iterations (with kl), monte_carlo (with check_mc:
    samples, seed, reward and kl_nats as [mean, lo, hi]) and policy (numpy, with policy=True)."""
    if (kl is None) == (lam is None):
        fail("tilt", "give exactly one of lam and kl")
    if kl is not None:
        kl = number("kl", kl)
        if kl < 0:
            fail("kl", f"KL budget must be >= 0 (got {kl:g})")
    else:
        lam = number("lam", lam)
    mc, seed = _mc_samples(check_mc), _seed(seed)
    d, path = _rdist(p, r, normalize)
    if kl is not None:
        s = _solve_kl(d, kl)
        pt, saturated, iterations = s.pt, bool(s.saturated), int(s.iterations)
    else:
        pt = ffi.new("alim_tilt_point *")
        lib.alim_tilt_eval(d, lam, pt)
        pt, saturated = pt[0], math.isinf(lam)
    kmax = lib.alim_tilt_kl_max(d)
    rng = d.r_max - d.r_min
    subg = math.sqrt(2.0 * rng * rng / 4.0 * pt.kl_nats)
    o = {}
    if path is not None:
        o["file"] = path
    o.update({"outcomes": int(d.n), "support": int(d.support), "lambda": getattr(pt, "lambda"),
              "saturated": saturated})
    if kl is not None:
        o["kl_budget_nats"] = kl
    o.update({"kl_nats": pt.kl_nats, "kl_bits": bits(pt.kl_nats), "reward": pt.mean, "reward_gain": pt.mean - d.mean,
              "reward_variance": pt.var, "log_partition_nats": pt.log_partition, "kl_max_nats": kmax,
              "reference_reward": d.mean, "reward_max": d.r_max, "subgaussian_gain_bound": subg})
    if kl is not None:
        o["iterations"] = iterations
    if mc:
        mr, mk = ffi.new("alim_mc_estimate *"), ffi.new("alim_mc_estimate *")
        err = new_error()
        check(lib.alim_tilt_mc(d, getattr(pt, "lambda"), mc, seed, mr, mk, err), err)
        o["monte_carlo"] = {"samples": mc, "seed": seed, "reward": _est(mr), "kl_nats": _est(mk)}
    if policy:
        phi = np.empty(d.n)
        lib.alim_tilt_policy(d, getattr(pt, "lambda"), dptr(phi))
        o["policy"] = phi
    return o


def bon(p, r=None, *, n, ties="random", policy=False, normalize=False, check_mc=0, seed=1, mc_direct=False):
    """Exact best-of-N (``alim bon --json``): N draws from p, keep one of maximal reward.
    ``n`` is a number >= 1 or "e^X" for N = e^X; ``ties`` "random" or "ordered".

    Returns outcomes, levels, n, log_n, ties, kl_nats, kl_bits, kl_random_nats,
    kl_ordered_nats (ordered ties), kl_bound_nats, kl_bound_gap_nats, kl_one_atom_nats,
    kl_saturation_nats, reward, reward_gain, win_rate, win_rate_strict, win_rate_bound,
    top_level_prob, pass_at_k (rewards in {0, 1}), rl_same_kl {lambda, saturated, reward,
    shortfall, kl_bon_to_rl_nats}, monte_carlo (with check_mc) and policy (numpy)."""
    N = _bon_size("n", n)
    if ties not in ("random", "ordered"):
        fail("ties", f"'{ties}' is not 'random' or 'ordered'")
    ordered = ties == "ordered"
    mc, seed = _mc_samples(check_mc), _seed(seed)
    d, path = _rdist(p, r, normalize)
    err = new_error()
    lv = _levels(d, policy or ordered)
    ordl = ffi.NULL
    if ordered:
        ordl = ffi.new("alim_levels *")
        check(lib.alim_levels_ordered(d, lv, ordl, err), err)
        ordl = ffi.gc(ordl, lib.alim_levels_free)
    b = ffi.new("alim_bon_result *")
    lib.alim_bon_eval(lv, N, b)
    v0, vl = lv.v[0], lv.v[lv.n - 1]
    binary = lv.n <= 2 and v0 in (0.0, 1.0) and vl in (0.0, 1.0)
    kl_ord = lib.alim_bon_kl(ordl, N) if ordered else math.nan
    kl = kl_ord if ordered else b.kl_nats
    rl = _solve_kl(_rdist_of_levels(lv), kl)
    shortfall = rl.pt.mean - b.reward
    kl_to_rl = lib.alim_tilt_kl_from(ffi.addressof(rl, "pt"), kl, b.reward)
    wbound = N.n / (N.n + 1) if math.isfinite(N.n) else 1.0
    o = {}
    if path is not None:
        o["file"] = path
    o.update({"outcomes": int(d.n), "levels": int(lv.n), "n": N.n, "log_n": N.log_n,
              "ties": "ordered" if ordered else "random", "kl_nats": kl, "kl_bits": bits(kl),
              "kl_random_nats": b.kl_nats})
    if ordered:
        o["kl_ordered_nats"] = kl_ord
    o.update({"kl_bound_nats": b.kl_bound_nats, "kl_bound_gap_nats": b.kl_bound_nats - kl,
              "kl_one_atom_nats": b.kl_one_atom_nats, "kl_saturation_nats": 0.0 - lv.log_q[lv.n - 1],
              "reward": b.reward, "reward_gain": b.reward - d.mean, "win_rate": b.win_rate,
              "win_rate_strict": b.win_rate_strict, "win_rate_bound": wbound, "top_level_prob": b.top_prob})
    if binary:
        o["pass_at_k"] = b.reward
    o["rl_same_kl"] = {"lambda": getattr(rl.pt, "lambda"), "saturated": bool(rl.saturated), "reward": rl.pt.mean,
                       "shortfall": shortfall, "kl_bon_to_rl_nats": kl_to_rl}
    if mc:
        m = ffi.new("alim_bon_mc_result *")
        check(lib.alim_bon_mc(lv, N, mc, seed, int(bool(mc_direct)), m, err), err)
        o["monte_carlo"] = {"samples": mc, "seed": seed, "sampler": "direct" if mc_direct else "inversion",
                            "reward": _est(m.reward), "kl_nats": _est(m.kl_nats), "win_rate": _est(m.win_rate),
                            "win_rate_strict": _est(m.win_rate_strict)}
    elif mc_direct:
        fail("mc_direct", "goes with check_mc")
    if policy:
        pi = np.empty(d.n)
        check(lib.alim_bon_policy(d, lv, ordl, N, lib.ALIM_TIES_ORDERED if ordered else lib.ALIM_TIES_RANDOM,
                                  dptr(pi), err), err)
        o["policy"] = pi
    return o


def frontier(p, r=None, *, points=41, n_max=1e6, n_list=None, normalize=False):
    """The reward-KL frontier of KL-RL and best-of-N (``alim frontier --json``).

    Returns rl {lambda, kl_nats, reward} (numpy arrays over `points` budgets equally spaced
    in KL from 0 to saturation), bon {n, kl_nats, reward, kl_bound_nats, win_rate,
    rl_reward_same_kl, shortfall, lambda_same_kl, kl_bon_to_rl_nats} (numpy arrays over N =
    1..10 then doubling up to n_max, or n_list), kl_max_nats and reference_reward. The CLI's
    JSON holds the same values as lists of objects (one per point)."""
    points = number("points", points, integer=True)
    if points < 2:
        fail("points", "need at least 2 points")
    points = int(points)
    if n_list is not None:
        nlist = [number("n_list", v) for v in n_list]
        if not nlist:
            fail("n_list", "empty list")
        for v in nlist:
            if not (v >= 1) or math.isinf(v):
                fail("n_list", f"N must be a finite number >= 1 (got {v:g})")
    else:
        n_max = number("n_max", n_max)
        if not (n_max >= 1) or math.isinf(n_max):
            fail("n_max", "N must be a finite number >= 1")
        nlist, v = [], 1.0
        while v <= n_max and len(nlist) < 80:
            nlist.append(v)
            v = v + 1 if v < 10 else v * 2
    d, _ = _rdist(p, r, normalize)
    lv = _levels(d, False)
    ld = _rdist_of_levels(lv)
    kmax = lib.alim_tilt_kl_max(ld)
    rl = np.empty((points, 3))
    for i in range(points):
        s = _solve_kl(ld, kmax * i / (points - 1))
        rl[i] = (getattr(s.pt, "lambda"), s.pt.kl_nats, s.pt.mean)
    bonv = np.empty((len(nlist), 9))
    b = ffi.new("alim_bon_result *")
    for i, nv in enumerate(nlist):
        N = _bon_size("n_list", nv)
        lib.alim_bon_eval(lv, N, b)
        s = _solve_kl(ld, b.kl_nats)
        bonv[i] = (N.n, b.kl_nats, b.reward, b.kl_bound_nats, b.win_rate, s.pt.mean, s.pt.mean - b.reward,
                   getattr(s.pt, "lambda"), lib.alim_tilt_kl_from(ffi.addressof(s, "pt"), b.kl_nats, b.reward))
    bon_keys = ("n", "kl_nats", "reward", "kl_bound_nats", "win_rate", "rl_reward_same_kl", "shortfall",
                "lambda_same_kl", "kl_bon_to_rl_nats")
    return {"rl": {k: rl[:, t].copy() for t, k in enumerate(("lambda", "kl_nats", "reward"))},
            "bon": {k: bonv[:, t].copy() for t, k in enumerate(bon_keys)},
            "kl_max_nats": kmax, "reference_reward": d.mean}


def rate(p, r=None, *, x=None, lam=0.0, points=101, normalize=False):
    """Cramer rate functions I_p(x) and J_lam(x) of the mean reward (``alim rate --json``).

    With x: x, rate_nats, t, lambda, tilted_rate_nats, reference_reward. Without: lambda and
    curve {x, rate_nats, t, tilted_rate_nats} (numpy arrays over `points` values of x
    spanning [min r, max r])."""
    lam = number("lam", lam)
    if math.isinf(lam):
        fail("lam", "must be finite")
    if x is not None:
        x = number("x", x)
    points = number("points", points, integer=True)
    if points < 2:
        fail("points", "need at least 2 points")
    points = int(points)
    d, _ = _rdist(p, r, normalize)
    t = ffi.new("double *")
    if x is not None:
        I = lib.alim_rate_cramer(d, x, t)
        J = lib.alim_rate_tilted(d, lam, x)
        return {"x": x, "rate_nats": I, "t": t[0], "lambda": lam, "tilted_rate_nats": J, "reference_reward": d.mean}
    cur = np.empty((points, 4))
    for i in range(points):
        xi = d.r_max if i + 1 == points else d.r_min + (d.r_max - d.r_min) * i / (points - 1)
        I = lib.alim_rate_cramer(d, xi, t)
        cur[i] = (xi, I, t[0], lib.alim_rate_tilted(d, lam, xi))
    return {"lambda": lam,
            "curve": {k: cur[:, c].copy() for c, k in enumerate(("x", "rate_nats", "t", "tilted_rate_nats"))}}


_SEQ_COLS = ("n", "N", "log_n", "delta_nats", "lambda", "rl_reward_per_token", "rl_kl_per_token_nats",
             "bon_reward_per_token", "bon_kl_per_token_nats", "bon_kl_bound_per_token_nats",
             "bon_kl_to_rl_per_token_nats", "bon_kl_to_rl_total_nats", "shortfall_per_token", "predicted_shortfall",
             "rl_kl_for_bon_reward_per_token_nats", "tilted_rate_of_bon_reward_nats", "win_rate", "levels",
             "mc_reward_per_token", "mc_reward_lo", "mc_reward_hi", "mc_kl_per_token_nats", "mc_kl_per_token_lo",
             "mc_kl_per_token_hi", "mc_kl_to_rl_total_nats", "mc_kl_to_rl_total_lo", "mc_kl_to_rl_total_hi",
             "mc_win_rate", "mc_win_rate_lo", "mc_win_rate_hi", "bon_reward_total", "bon_kl_total_nats",
             "rl_reward_total", "rl_kl_total_nats")


def _n_from_rule(logn, rule):
    if rule == "real" or logn > 36.7:  # e^36.7 > 2^53
        N = ffi.new("alim_bon_size *")
        lib.alim_bon_size_from_log(logn, N, ffi.NULL)
        return N[0]
    x = math.exp(logn)
    rr = float(round(x))
    if abs(x - rr) <= 1e-9 * x:
        v = rr
    else:
        v = math.ceil(x) if rule == "ceil" else math.floor(x) if rule == "floor" else rr
    N = ffi.new("alim_bon_size *")
    lib.alim_bon_size_from_n(max(float(v), 1.0), N, ffi.NULL)
    return N[0]


def seq(p, r=None, *, length=None, sweep=None, kl_per_token=None, n=None, n_rule="ceil", method="auto",
        lattice_step=None, check_mc=0, seed=1, normalize=False, progress=None):
    """Sequences of n i.i.d. tokens: exact finite-n best-of-N against KL-RL (``alim seq --json``).
    Give ``length`` or ``sweep`` (a list of lengths) and ``kl_per_token`` (N = e^{n D}, rounded
    by n_rule: ceil, round, floor or real) or a fixed ``n``.

    Returns tokens, asymptotic {delta_nats, lambda_star, saturated, x_star, ...} and rows, a
    list with one dict per length holding the CLI's columns (n, N, log_n, ..., the mc_* ones
    with check_mc) plus method, lumped, rounded, lattice_span. ``progress(stage, done, total)``
    is called during the PMF computation; Ctrl-C stops it (KeyboardInterrupt)."""
    if length is not None and sweep is not None:
        fail("seq", "give length or sweep, not both")
    if length is not None:
        ln = number("length", length, integer=True)
        if ln == 0:
            fail("length", "sequence length must be >= 1")
        lengths = [ln]
    elif sweep is not None:
        lengths = [number("sweep", v) for v in sweep]
        for v in lengths:
            if not (v >= 1) or v != math.floor(v) or v > 1e9:
                fail("sweep", f"lengths must be integers >= 1 (got {v:g})")
        if not lengths:
            fail("sweep", "empty list")
    else:
        fail("seq", "give length n or sweep LIST")
    if (kl_per_token is None) == (n is None):
        fail("seq", "give exactly one of kl_per_token and n")
    if kl_per_token is not None:
        delta = number("kl_per_token", kl_per_token)
        if delta < 0 or math.isinf(delta):
            fail("kl_per_token", f"KL budget must be finite and >= 0 (got {delta:g})")
    else:
        Nfix = _bon_size("n", n)
    if n_rule not in ("ceil", "round", "floor", "real"):
        fail("n_rule", f"'{n_rule}' is not ceil, round, floor or real")
    methods = {"auto": lib.ALIM_SEQPMF_AUTO, "lattice": lib.ALIM_SEQPMF_LATTICE, "types": lib.ALIM_SEQPMF_TYPES}
    if method not in methods:
        fail("method", f"'{method}' is not auto, lattice or types")
    opt = ffi.new("alim_seqpmf_options *", {"method": methods[method], "lattice_tol": 1e-9, "lattice_step": 0.0,
                                            "max_lattice": 1000000, "merge_tol": 1e-12, "max_types": 2e7,
                                            "theta": math.nan, "window_floor": -1.0})
    if lattice_step is not None:
        h = number("lattice_step", lattice_step)
        if not (h > 0) or math.isinf(h):
            fail("lattice_step", "must be > 0")
        opt.lattice_step = h
    mc, seed = _mc_samples(check_mc), _seed(seed)
    d, path = _rdist(p, r, normalize)
    err = new_error()
    rows, results = [], []
    for ln in lengths:
        nt = int(ln)
        N = Nfix if n is not None else _n_from_rule(nt * delta, n_rule)
        D = N.log_n / nt if n is not None else delta
        s = ffi.new("alim_seq_result *")
        with Progress(progress) as pg:
            st = lib.alim_seq_compare(d, nt, D, N, opt, s, pg.ptr, err)
        pg.reraise()
        check(st, err)
        nn, xs, lam = float(nt), s.rl.pt.mean, getattr(s.rl.pt, "lambda")
        xb = s.bon.reward / nn
        row = [nn, N.n, N.log_n, D, lam, xs, s.rl.pt.kl_nats, xb, s.bon.kl_nats / nn, s.bon.kl_bound_nats / nn,
               s.bon_kl_to_rl_nats / nn, s.bon_kl_to_rl_nats, xs - xb,
               math.log(nn) / (2 * nn * lam) if lam > 0 and math.isfinite(lam) else math.nan,
               lib.alim_rate_cramer(d, xb, ffi.NULL),
               lib.alim_rate_tilted(d, lam, xb) if math.isfinite(lam) else math.nan,
               s.bon.win_rate, float(s.pmf.levels)] + [math.nan] * 12 + \
              [s.bon.reward, s.bon.kl_nats, nn * xs, nn * s.rl.pt.kl_nats]
        if mc:
            if N.n != math.floor(N.n) or N.n * nn * mc > 4e9:
                if len(lengths) == 1:
                    fail("check_mc", f"direct simulation needs an integer N with N n M <= 4e9 (N = {N.n:g})")
            else:
                sm = ffi.new("alim_seq_mc_result *")
                check(lib.alim_seq_mc(d, nt, N.n, D, mc, seed, sm, err), err)
                row[18:30] = [sm.reward_per_token.mean, sm.reward_per_token.lo, sm.reward_per_token.hi,
                              sm.kl_nats.mean / nn, sm.kl_nats.lo / nn, sm.kl_nats.hi / nn,
                              sm.kl_to_rl_nats.mean, sm.kl_to_rl_nats.lo, sm.kl_to_rl_nats.hi,
                              sm.win_rate.mean, sm.win_rate.lo, sm.win_rate.hi]
        rows.append(row)
        results.append(s)
    rl = results[0].rl
    lam = getattr(rl.pt, "lambda")
    logc = lib.alim_tilt_log_softmax_norm(d)
    ren = [math.nan] * 4
    if math.isfinite(lam) and lam > 0:
        p1 = ffi.new("alim_tilt_point *")
        lib.alim_tilt_eval(d, lam + 1.0, p1)
        ren = [rl.pt.log_partition, lam * (logc - lib.alim_tilt_renyi_cross_entropy(d, 0.0, 1.0 + lam)),
               p1.log_partition - rl.pt.log_partition, 1.0 * (logc - lib.alim_tilt_renyi_cross_entropy(d, lam, 2.0))]
    o = {}
    if path is not None:
        o["file"] = path
    o["tokens"] = int(d.n)
    o["asymptotic"] = {
        "delta_nats": results[0].delta_nats, "lambda_star": lam, "saturated": bool(rl.saturated), "x_star": rl.pt.mean,
        "rate_at_x_star_nats": lib.alim_rate_cramer(d, rl.pt.mean, ffi.NULL), "log_partition_nats": rl.pt.log_partition,
        "kl_max_per_token_nats": lib.alim_tilt_kl_max(d), "log_softmax_norm": logc,
        "renyi_identity_lhs": ren[0], "renyi_identity_rhs": ren[1],
        "renyi_tilted_identity_lhs": ren[2], "renyi_tilted_identity_rhs": ren[3]}
    out_rows = []
    for row, s in zip(rows, results):
        e = {k: v for t, (k, v) in enumerate(zip(_SEQ_COLS, row)) if not (18 <= t < 30 and math.isnan(v))}
        e["method"] = "lattice" if s.pmf.lattice else "types"
        e["lumped"] = bool(s.pmf.lumped)
        e["rounded"] = bool(s.pmf.rounded)
        if s.pmf.lattice:
            e["lattice_span"] = s.pmf.h
        out_rows.append(e)
    o["rows"] = out_rows
    return o
