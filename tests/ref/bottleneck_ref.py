"""Independent reference implementations (numpy/scipy) of the bottleneck engine's numerics.

Written from the formulas in shared/theory/bottleneck.md, not from alim's C code:
plain Blahut-Arimoto with its certified bracket, mutual information, MAP error, the Fano
bounds by root finding (scipy.optimize.brentq), the kl-inverse, xi(m) and the interval.
Used by tests/ref/test_bottleneck_ref.py and bench/bench_capacity.py."""
import math

import numpy as np
from scipy.optimize import brentq


def blahut_arimoto(W, tol=1e-12, max_iter=100000, seconds=None):
    """Plain BA; returns (lower, upper, iterations, r) in nats, lower <= C <= upper.
    With `seconds`, it also stops (unconverged) once that much wall time has passed."""
    import time
    t0 = time.perf_counter()
    W = np.asarray(W, dtype=float)
    W = W[:, W.sum(axis=0) > 0]
    nx = W.shape[0]
    logW = np.log(np.where(W > 0, W, 1.0))
    negent = (W * logW).sum(axis=1)
    r = np.full(nx, 1.0 / nx)
    lo = hi = None
    for it in range(1, max_iter + 1):
        q = r @ W
        D = np.maximum(negent - W @ np.log(q), 0.0)
        hi = D.max()
        with np.errstate(divide="ignore"):
            a = np.log(r) + D
        mx = a.max()
        lo = mx + math.log(np.exp(a - mx).sum())
        if hi - lo < tol:
            return lo, hi, it, r
        if seconds is not None and it % 100 == 0 and time.perf_counter() - t0 > seconds:
            return lo, hi, it, r
        r = r * np.exp(D - lo)
        r /= r.sum()
    return lo, hi, max_iter, r


def mutual_information(W, p):
    W = np.asarray(W, float)
    q = p @ W
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(W > 0, W * np.log(W / q), 0.0)
    return float(p @ t.sum(axis=1))


def binary_entropy(p):
    if p <= 0 or p >= 1:
        return 0.0
    return -p * math.log(p) - (1 - p) * math.log1p(-p)


def fano_strong(log_m, info):
    t = log_m - info
    if t <= 0:
        return 0.0
    top = 1 - math.exp(-log_m)
    lm1 = math.log(math.exp(log_m) - 1) if log_m < 700 else log_m
    f = lambda p: binary_entropy(p) + p * lm1 - t
    if f(top) <= 0:
        return top
    return brentq(f, 0.0, top, xtol=1e-15, rtol=1e-15, maxiter=500)


def fano_weak(log_m, info):
    return max(0.0, 1 - (info + math.log(2)) / log_m)


def kl_bern(q, p):
    d = 0.0
    if q > 0:
        d += q * math.log(q / p)
    if q < 1:
        d += (1 - q) * math.log((1 - q) / (1 - p))
    return d


def kl_inverse_upper(q, c):
    if c <= 0:
        return q
    if q == 0:
        return -math.expm1(-c)
    return brentq(lambda p: kl_bern(q, p) - c, q, math.nextafter(1.0, 0.0), xtol=1e-16, rtol=1e-15, maxiter=500)


def xi(m):
    s = 0.0
    for k in range(m + 1):
        a = (k / m) ** k if k else 1.0
        b = (1 - k / m) ** (m - k) if k < m else 1.0
        s += math.comb(m, k) * a * b
    return s
