"""alim — alignment limits, from Python.

Functions mirror the alim commands and return the keys of their --json output:

    alim.capacity(W)            channel capacity with a certified bracket
    alim.fano(M=..., info=...)  Fano lower bounds on risk (or the capacity a risk needs)
    alim.klinv(q=..., c=...)    kl-inverse; klinv(emp_risk=, kl=, m=) PAC-Bayes bounds
    alim.interval(scenario)     the alignment performance interval of a scenario (path or dict)
    alim.tilt(p, r, kl=...)     optimal KL-regularised policy (exponential tilt)
    alim.bon(p, r, n=...)       exact best-of-N
    alim.frontier(p, r)         reward-KL frontier of KL-RL and best-of-N (numpy arrays)
    alim.seq(p, r, ...)         n-token sequences: exact finite-n best-of-N vs KL-RL
    alim.rate(p, r, ...)        Cramer rate functions
    alim.eval(model, data)      bits per token / byte of a checkpoint (directory or .gguf)
    alim.sample(model, prompt)  text from a checkpoint

Errors raise alim.Error (attributes what, where, status). Reward distributions are (p, r)
sequences or numpy arrays, or a DIST.csv path. Long calls release the GIL; seq and eval stop
on Ctrl-C. See docs/python.md.
"""
from ._alim import ffi as _ffi, lib as _lib
from ._core import Error
from .asymptotics import bon, frontier, rate, seq, tilt
from .bottleneck import capacity, fano, interval, klinv
from .lm import eval, sample

__version__ = "0.1.0"
__all__ = ["Error", "capacity", "fano", "klinv", "interval", "tilt", "bon", "frontier", "seq", "rate", "eval",
           "sample", "__version__"]
