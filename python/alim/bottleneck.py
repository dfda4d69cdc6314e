"""The bottleneck engine: channel capacity, Fano bounds, kl-inverse / PAC-Bayes, the
performance interval. Each function mirrors the alim command of the same name and returns
the keys of its --json output (numbers as floats, inf/nan as float('inf')/float('nan'),
arrays as numpy arrays)."""
import json
import math
import time
import warnings

from ._alim import ffi, lib
from ._core import bits, check, dptr, fail, fspath, is_path, matrix, new_error, number, carray

__all__ = ["capacity", "fano", "klinv", "interval"]


def _channel(W, normalize, where):
    a = matrix(where, W)
    ch = ffi.new("alim_channel *")
    err = new_error()
    check(lib.alim_channel_from_matrix(ch, dptr(a), a.shape[0], a.shape[1], 0.0, int(bool(normalize)),
                                       where.encode(), err), err)
    return ffi.gc(ch, lib.alim_channel_free)


def _solve(ch, opt):
    cap = ffi.new("alim_capacity *")
    err = new_error()
    t0 = time.monotonic()
    check(lib.alim_channel_capacity(ch, opt, cap, err), err)
    seconds = time.monotonic() - t0
    try:
        return _capacity_dict(cap), bool(cap.converged), cap.upper_nats, seconds
    finally:
        lib.alim_capacity_free(cap)


def _capacity_dict(c):
    return {
        "capacity_bits": bits(c.lower_nats),
        "lower_bits": bits(c.lower_nats),
        "upper_bits": bits(c.upper_nats),
        "lower_nats": c.lower_nats,
        "upper_nats": c.upper_nats,
        "gap_nats": c.upper_nats - c.lower_nats,
        "input_distribution": carray(c.input, c.nx),
        "iterations": int(c.iterations),
        "converged": bool(c.converged),
    }


def capacity(W, *, then=None, tol=1e-12, max_iter=1000000, normalize=False):
    """Capacity of the discrete memoryless channel W (rows = inputs, a row-stochastic matrix)
    by Blahut-Arimoto with a certified bracket, as ``alim capacity --json``.

    Returns capacity_bits (the certified lower end), lower_bits, upper_bits, lower_nats,
    upper_nats, gap_nats, input_distribution (numpy), iterations, converged, solve_seconds.
    With ``then=W2`` (a cascade W then W2): stage1, stage2, cascade (each such a dict) and
    min_bits. Rows must sum to 1 within 1e-9 unless ``normalize``. Not converging within
    max_iter warns (RuntimeWarning); the bracket is still valid."""
    tol = number("tol", tol)
    if not tol > 0:
        fail("tol", "must be positive")
    max_iter = number("max_iter", max_iter, integer=True)
    if max_iter < 1:
        fail("max_iter", "must be at least 1")
    opt = ffi.new("alim_capacity_options *", {"tol": tol, "max_iter": int(max_iter)})
    ch1 = _channel(W, normalize, "W")
    s1, conv1, up1, sec1 = _solve(ch1, opt)
    if then is None:
        if not conv1:
            warnings.warn(f"max_iter reached before the gap fell below {tol:g} nats; the bracket is still valid",
                          RuntimeWarning, stacklevel=2)
        s1["solve_seconds"] = sec1
        return s1
    ch2 = _channel(then, normalize, "then")
    s2, conv2, up2, _ = _solve(ch2, opt)
    casc = ffi.new("alim_channel *")
    err = new_error()
    st = lib.alim_channel_compose(ch1, ch2, casc, err)
    if st:
        err.where = b"then"
        check(st, err)
    casc = ffi.gc(casc, lib.alim_channel_free)
    sc, convc, _, _ = _solve(casc, opt)
    if not (conv1 and conv2 and convc):
        warnings.warn(f"max_iter reached before the gap fell below {tol:g} nats; the bracket is still valid",
                      RuntimeWarning, stacklevel=2)
    return {"stage1": s1, "stage2": s2, "cascade": sc, "min_bits": bits(min(up1, up2))}


def fano(*, M=None, log2M=None, info=None, info_nats=None, loss_gap=1.0, risk=None):
    """Fano lower bounds on the risk of any learner that sees the value through I bits
    (``alim fano --json``): give one of M (codebook size, integer >= 2) and log2M, and one of
    info (bits), info_nats and risk. Returns log2M, info_bits, info_nats, loss_gap, weak,
    strong; with risk: log2M, risk, required_weak_bits, required_strong_bits,
    required_weak_nats, required_strong_nats."""
    if M is not None:
        M = number("M", M)
        if not (M >= 2) or M != math.floor(M) or math.isinf(M):
            fail("M", "must be an integer >= 2 (use log2M for huge M)")
    if log2M is not None:
        log2M = number("log2M", log2M)
        if not (log2M >= 1) or math.isinf(log2M):
            fail("log2M", "must be a finite number >= 1")
    if (M is None) == (log2M is None):
        fail("fano", "give exactly one of M and log2M")
    if info is not None and info_nats is not None:
        fail("fano", "give only one of info and info_nats")
    if info is not None:
        info = number("info", info)
        if not (info >= 0) or math.isinf(info):
            fail("info", "must be a finite number of bits >= 0")
        info_n = info * 0.693147180559945309417232121458176568
    elif info_nats is not None:
        info_n = number("info_nats", info_nats)
        if not (info_n >= 0) or math.isinf(info_n):
            fail("info_nats", "must be a finite number of nats >= 0")
    else:
        info_n = None
    loss_gap = number("loss_gap", loss_gap)
    if not (0 < loss_gap <= 1):
        fail("loss_gap", "must be in (0, 1]")
    if risk is not None:
        risk = number("risk", risk)
        if not (0 <= risk <= 1):
            fail("risk", "must be in [0, 1]")
    if (info_n is None) == (risk is None):
        fail("fano", "give exactly one of info/info_nats and risk")
    log_m = log2M * 0.693147180559945309417232121458176568 if M is None else math.log(M)
    l2 = log2M if M is None else math.log2(M)
    if risk is not None:
        w, s = lib.alim_fano_required_weak(log_m, risk), lib.alim_fano_required_strong(log_m, risk)
        return {"log2M": l2, "risk": risk, "required_weak_bits": bits(w), "required_strong_bits": bits(s),
                "required_weak_nats": w, "required_strong_nats": s}
    w = loss_gap * lib.alim_fano_weak(log_m, info_n)
    s = loss_gap * lib.alim_fano_strong(log_m, info_n)
    return {"log2M": l2, "info_bits": bits(info_n), "info_nats": info_n, "loss_gap": loss_gap, "weak": w, "strong": s}


def klinv(*, q=None, c=None, lower=False, emp_risk=None, kl=None, m=None, delta=0.05, catoni_c=1.0):
    """The Bernoulli kl-inverse, or the PAC-Bayes upper bounds (``alim klinv --json``).

    ``klinv(q=Q, c=C[, lower=True])`` -> q, c_nats, side, value.
    ``klinv(emp_risk=R, kl=K, m=M[, delta, catoni_c])`` -> emp_risk, kl_nats, m, delta, xi,
    kl_xi, kl_2sqrtm, pinsker, catoni, catoni_c."""
    vals = {}
    for name, v in (("q", q), ("c", c), ("emp_risk", emp_risk), ("kl", kl), ("m", m)):
        vals[name] = None if v is None else number(name, v)
    delta, catoni_c = number("delta", delta), number("catoni_c", catoni_c)
    inverse_mode = vals["q"] is not None or vals["c"] is not None
    pb_mode = any(vals[k] is not None for k in ("emp_risk", "kl", "m"))
    if inverse_mode == pb_mode:
        fail("klinv", "give either q and c, or emp_risk, kl and m")
    if inverse_mode:
        q, c = vals["q"], vals["c"]
        if q is None or c is None:
            fail("klinv", "q and c go together")
        if not (0 <= q <= 1):
            fail("q", "must be in [0, 1]")
        if not (c >= 0) or math.isinf(c):
            fail("c", "must be a finite number >= 0")
        v = lib.alim_kl_inverse_lower(q, c) if lower else lib.alim_kl_inverse_upper(q, c)
        return {"q": q, "c_nats": c, "side": "lower" if lower else "upper", "value": v}
    r, k, m = vals["emp_risk"], vals["kl"], vals["m"]
    if r is None or k is None or m is None:
        fail("klinv", "PAC-Bayes needs emp_risk, kl and m")
    if lower:
        fail("klinv", "lower goes with q and c")
    if not (0 <= r <= 1):
        fail("emp_risk", "must be in [0, 1]")
    if not (k >= 0) or math.isinf(k):
        fail("kl", "must be a finite number of nats >= 0")
    if not (m >= 1) or m != math.floor(m) or m > 1e15:
        fail("m", "must be an integer >= 1")
    if not (0 < delta < 1):
        fail("delta", "must be in (0, 1)")
    if not (catoni_c > 0) or math.isinf(catoni_c):
        fail("catoni_c", "must be positive")
    v = [lib.alim_pacbayes_bound(f, r, k, m, delta, catoni_c) for f in range(4)]
    return {"emp_risk": r, "kl_nats": k, "m": m, "delta": delta, "xi": lib.alim_pacbayes_xi(m),
            "kl_xi": v[0], "kl_2sqrtm": v[1], "pinsker": v[2], "catoni": v[3], "catoni_c": catoni_c}


def _bracket(d, name, lo, hi):
    d[f"{name}_bits"] = bits(lo)
    d[f"{name}_lower_bits"] = bits(lo)
    d[f"{name}_upper_bits"] = bits(hi)


def _nan_to_none(x):
    return None if math.isnan(x) else x


def interval(scenario, *, m_sweep=None, tol=1e-12):
    """The alignment performance interval of a scenario (``alim interval --json``).

    ``scenario`` is a SCENARIO.json path or the same content as a dict (format in
    docs/formats.md). Returns log2M, m, delta, eta, loss_gap, C_tot_bits (+ _lower_bits,
    _upper_bits), C_casc_*, info_bits, info_nats, bayes_risk, lower_bound, upper_bound,
    fano {...}, pac_bayes {...}, contexts [...], and with ``m_sweep`` (a list of m) sweep
    [...]; a missing measured-KL bound is None (JSON null)."""
    ms = None
    if m_sweep is not None:
        ms = [number("m_sweep", v) for v in (m_sweep if hasattr(m_sweep, "__iter__") else [m_sweep])]
        if not ms:
            fail("m_sweep", "empty list")
        if any(not (v >= 1) or v != math.floor(v) or v > 1e15 for v in ms):
            fail("m_sweep", "every m must be an integer >= 1")
    tol = number("tol", tol)
    if not tol > 0:
        fail("tol", "must be positive")
    s = ffi.new("alim_scenario *")
    err = new_error()
    if is_path(scenario):
        path = fspath(scenario)
        check(lib.alim_scenario_read(path.encode(), s, err), err)
    elif isinstance(scenario, dict):
        path = "scenario"
        try:
            text = json.dumps(scenario, allow_nan=False)
        except (TypeError, ValueError) as e:
            fail("scenario", f"not representable as JSON: {e}")
        j = lib.cJSON_Parse(text.encode())
        if j == ffi.NULL:
            fail("scenario", "not representable as JSON")
        try:
            check(lib.alim_scenario_from_json(j, b"scenario", s, err), err)
        finally:
            lib.cJSON_Delete(j)
    else:
        fail("scenario", "must be a path or a dict")
    s = ffi.gc(s, lib.alim_scenario_free)
    s.ba.tol = tol
    iv = ffi.new("alim_interval *")
    st = lib.alim_interval_compute(s, iv, err)
    if st:
        where = ffi.string(err.where).decode("utf-8", "replace")
        if where and not where.startswith(path):
            err.where = f"{path[:120]}: {where[:120]}".encode()[:255]
        check(st, err)
    iv = ffi.gc(iv, lib.alim_interval_free)
    o = {"log2M": bits(s.log_m), "m": s.m, "delta": s.delta, "eta": s.eta, "loss_gap": s.loss_gap}
    _bracket(o, "C_tot", iv.c_tot_lower, iv.c_tot_upper)
    _bracket(o, "C_casc", iv.c_casc_lower, iv.c_casc_upper)
    o.update({"info_bits": bits(iv.info_nats), "info_nats": iv.info_nats, "bayes_risk": iv.bayes_risk,
              "lower_bound": iv.lower_bound, "upper_bound": iv.upper_bound})
    o["fano"] = {"weak_C_tot": iv.lb_weak_tot, "strong_C_tot": iv.lb_strong_tot, "weak_C_casc": iv.lb_weak_casc,
                 "strong_C_casc": iv.lb_strong_casc, "weak_info": iv.lb_weak_info, "strong_info": iv.lb_strong_info}
    form = lambda k: ffi.string(lib.alim_pacbayes_form_name(k)).decode()  # noqa: E731
    o["pac_bayes"] = {
        "empirical_risk": iv.empirical_risk,
        "empirical_risk_is_bayes_risk": bool(iv.empirical_is_bayes),
        "budget_nats": iv.budget_nats,
        "high_probability": iv.ub_high_prob,
        "form": form(s.form),
        "high_probability_by_form": {form(k): iv.ub_forms[k] for k in range(4)},
        "expectation": iv.ub_expectation,
        "measured_kl": _nan_to_none(iv.ub_measured),
    }
    ctx = []
    for i in range(iv.n_contexts):
        r = iv.contexts[i]
        x = {"weight": r.weight}
        _bracket(x, "C_cog", r.cog_lower, r.cog_upper)
        _bracket(x, "C_art", r.art_lower, r.art_upper)
        _bracket(x, "C_casc", r.casc_lower, r.casc_upper)
        _bracket(x, "C_tot", r.tot_lower, r.tot_upper)
        x.update({"info_bits": bits(r.info_nats), "bayes_risk": r.bayes_risk,
                  "binding_stage": "articulation" if r.binding_stage else "cognitive",
                  "closed_form": bool(r.closed_form)})
        ctx.append(x)
    o["contexts"] = ctx
    if ms is not None:
        hp, ex, me = ffi.new("double *"), ffi.new("double *"), ffi.new("double *")
        sweep = []
        for m in ms:
            lib.alim_interval_upper_at(s, iv, m, hp, ex, me)
            sweep.append({"m": m, "ub_high_prob": hp[0], "ub_expectation": ex[0], "ub_measured": _nan_to_none(me[0])})
        o["sweep"] = sweep
    return o
