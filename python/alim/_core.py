"""Shared plumbing of the binding: the error type, array conversion, progress and Ctrl-C.

Every C call goes through cffi's out-of-line API mode, which releases the GIL for the duration
of the call, so other Python threads run while alim computes."""
import math
import os
import threading

import numpy as np

from ._alim import ffi, lib

LN2 = 0.693147180559945309417232121458176568  # ALIM_LN2 of alim/info.h


def bits(nats):
    """nats -> bits, as alim_bits() of alim/info.h."""
    return nats / LN2


class Error(Exception):
    """An error reported by alim: the library's error record.

    Attributes: ``what`` (one-line description), ``where`` (the file, file:line or keyword
    argument it concerns; may be empty), ``status`` (the alim_status name, e.g. "invalid input")
    and ``user_error`` (True for bad input, which the CLI reports with exit status 2)."""

    def __init__(self, what, where="", status="invalid input", user_error=True):
        self.what = what
        self.where = where
        self.status = status
        self.user_error = user_error
        super().__init__(f"{where}: {what}" if where else what)


def new_error():
    err = ffi.new("alim_error *")
    lib.alim_error_clear(err)
    return err


# The library names a bad argument by its C parameter or options field (alim/status.h); these
# are the ones whose keyword here is spelled otherwise (the rest are the same word).
_KEYWORDS = {"lambda": "lam", "chat_template": "template"}


def raise_error(err):
    st = err.status
    what = ffi.string(err.what).decode("utf-8", "replace") or ffi.string(lib.alim_status_name(st)).decode()
    where = ffi.string(err.where).decode("utf-8", "replace")
    raise Error(what, _KEYWORDS.get(where, where),
                ffi.string(lib.alim_status_name(st)).decode(), bool(lib.alim_status_is_user_error(st)))


def check(st, err):
    """Raises Error from err when the status st is not ALIM_OK."""
    if st != lib.ALIM_OK:
        raise_error(err)


def fail(where, what):
    """Raises the Error the CLI reports for a bad argument (ALIM_EINVAL)."""
    raise Error(what, where)


def number(name, v, *, integer=False):
    """A real argument as float, refusing NaN and non-numbers like the CLI's parser does."""
    try:
        x = float(v)
    except (TypeError, ValueError):
        fail(name, f"'{v}' is not a number")
    if math.isnan(x):
        fail(name, "NaN is not allowed")
    if integer and (x != math.floor(x) or x < 0):
        fail(name, f"'{v}' is not a non-negative integer")
    return x


def vector(name, x):
    """A 1-D float64 C-contiguous copy of a sequence or numpy array."""
    try:
        a = np.array(x, dtype=np.float64, copy=True, order="C")
    except (TypeError, ValueError):
        fail(name, "must be a sequence of numbers")
    if a.ndim != 1:
        fail(name, f"must be one-dimensional (got shape {a.shape})")
    return a


def matrix(name, x):
    """A 2-D float64 C-contiguous copy."""
    try:
        a = np.array(x, dtype=np.float64, copy=True, order="C")
    except (TypeError, ValueError):
        fail(name, "must be a matrix of numbers")
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        fail(name, f"must be a non-empty two-dimensional matrix (got shape {a.shape})")
    return a


def dptr(a):
    """double * into a float64 numpy array (which must stay alive during the call)."""
    return ffi.cast("double *", ffi.from_buffer(a))


def is_path(x):
    return isinstance(x, (str, bytes, os.PathLike))


def fspath(x):
    p = os.fspath(x)
    return p if isinstance(p, str) else p.decode()


def carray(ptr, n):
    """A numpy copy of n doubles at ptr."""
    if n == 0:
        return np.zeros(0)
    return np.frombuffer(ffi.buffer(ptr, 8 * n), dtype=np.float64).copy()


# ---- progress callbacks and Ctrl-C ---------------------------------------------------------
# A long library loop calls alim_progress now and then (with the GIL re-acquired by cffi).
# Python runs its signal handlers there, so Ctrl-C raises KeyboardInterrupt inside the
# callback; the error handler below records it and returns 1, which asks the loop to stop
# early; the caller then re-raises it instead of returning the partial result.

_tls = threading.local()


class Progress:
    """A context for one library call that reports progress: .ptr is the alim_progress *."""

    def __init__(self, callback=None):
        self.callback = callback
        self.exception = None
        self._handle = ffi.new_handle(self)
        self.ptr = ffi.new("alim_progress *", {"fn": lib.alim_py_progress, "ctx": self._handle})

    def __enter__(self):
        self._outer = getattr(_tls, "current", None)
        _tls.current = self
        return self

    def __exit__(self, *exc):
        _tls.current = self._outer
        return False

    def reraise(self):
        """Raises what stopped the loop (KeyboardInterrupt, or the callback's own error)."""
        if self.exception is not None:
            raise self.exception


def _progress_error(exc_type, exc, tb):
    cur = getattr(_tls, "current", None)
    if cur is not None and cur.exception is None:
        cur.exception = exc if exc is not None else exc_type()
    return 1


@ffi.def_extern(onerror=_progress_error)
def alim_py_progress(ctx, stage, done, total):
    p = ffi.from_handle(ctx)
    if p.exception is not None:
        return 1
    if p.callback is not None:
        p.callback(ffi.string(stage).decode("utf-8", "replace"), done, total)
    return 0
