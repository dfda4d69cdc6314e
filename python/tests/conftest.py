"""Fixtures of the alim Python tests: the CLI to compare with ($ALIM, default build/alim of
the checkout), and the CLI's --json output as Python values."""
import json
import math
import os
import subprocess

import numpy as np
import pytest

# the checkout (examples/, build/alim); the tests may run from a copy of python/tests
ROOT = os.environ.get("ALIM_SOURCE_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _alim_path():
    return os.environ.get("ALIM", os.path.join(ROOT, "build", "alim"))


@pytest.fixture(scope="session")
def cli():
    """cli(*args) -> the parsed --json output of `alim args... --json` (exit status 0)."""
    exe = _alim_path()
    if not os.access(exe, os.X_OK):
        pytest.fail(f"no alim program at {exe} (set ALIM)")

    # the program re-executes itself with the BLAS kernel it prefers (OPENBLAS_CORETYPE) unless
    # told not to: without that, both use OpenBLAS's own choice, as this process does
    env = dict(os.environ, ALIM_NO_BLAS_SELECT="1")

    def run(*args, ok=True):
        p = subprocess.run([exe, *map(str, args)], capture_output=True, encoding="utf-8", errors="replace", env=env)
        if not ok:
            return p
        assert p.returncode == 0, f"alim {' '.join(map(str, args))}: exit {p.returncode}: {p.stderr}"
        return json.loads(p.stdout)

    return run


def _num(v):
    """A CLI JSON number: infinities are the strings inf and -inf, NaN is null."""
    if v is None:
        return math.nan
    if isinstance(v, str) and v in ("inf", "-inf"):
        return float(v)
    return v


def assert_same(py, js, path="", rel=1e-13, skip=("solve_seconds", "timing")):
    """py (the binding's result) equals js (the CLI's JSON): the same keys, the same strings and
    booleans, numbers equal to a relative 1e-13 (both come from the same library calls), numpy
    arrays against JSON arrays, and dicts of arrays against lists of objects (curves)."""
    if isinstance(py, dict) and isinstance(js, list):  # a curve: columns against rows
        n = len(js)
        assert set(py) == set(js[0]) if n else True, f"{path}: keys {sorted(py)} != {sorted(js[0])}"
        for k, col in py.items():
            assert len(col) == n, f"{path}.{k}: {len(col)} points, CLI {n}"
            for i in range(n):
                assert_same(col[i], js[i][k], f"{path}[{i}].{k}", rel, skip)
        return
    if isinstance(py, dict):
        assert isinstance(js, dict), f"{path}: dict against {type(js).__name__}"
        a, b = set(py) - set(skip), set(js) - set(skip)
        assert a == b, f"{path}: keys only in Python {sorted(a - b)}, only in the CLI {sorted(b - a)}"
        for k in a:
            assert_same(py[k], js[k], f"{path}.{k}", rel, skip)
        return
    if isinstance(py, (list, tuple, np.ndarray)):
        assert isinstance(js, list), f"{path}: sequence against {type(js).__name__}"
        assert len(py) == len(js), f"{path}: length {len(py)} != {len(js)}"
        for i, (x, y) in enumerate(zip(py, js)):
            assert_same(x, y, f"{path}[{i}]", rel, skip)
        return
    if isinstance(py, (bool, np.bool_)) or isinstance(js, bool):
        assert isinstance(js, bool) and bool(py) == js, f"{path}: {py!r} != {js!r}"
        return
    if isinstance(py, str) or py is None:
        assert py == js, f"{path}: {py!r} != {js!r}"
        return
    x, y = float(py), float(_num(js))
    if math.isnan(x) or math.isnan(y):
        assert math.isnan(x) and math.isnan(y), f"{path}: {x!r} != {y!r}"
    elif math.isinf(x) or math.isinf(y):
        assert x == y, f"{path}: {x!r} != {y!r}"
    else:
        assert abs(x - y) <= rel * max(abs(x), abs(y)) or x == y, f"{path}: {x!r} != {y!r}"
    if isinstance(js, int) and not isinstance(js, bool) and not isinstance(py, (float, np.floating)):
        assert int(py) == js, f"{path}: {py!r} != {js!r}"


@pytest.fixture
def same():
    return assert_same
