"""The alim Python package against the alim program: every function returns the keys and
values of the matching command's --json output on the same inputs, and bad input raises
alim.Error naming what is wrong."""
import os
import signal
import threading

import numpy as np
import pytest

import alim

# the checkout (examples/, build/alim); the tests may run from a copy of python/tests
ROOT = os.environ.get("ALIM_SOURCE_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
P, R = [0.5, 0.3, 0.2], [0.0, 1.0, 2.0]  # the DIST.csv of `alim tilt --help`


def write_dist(tmp_path, p, r, name="d.csv"):
    f = tmp_path / name
    f.write_text("p,r\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(p, r)))
    return str(f)


@pytest.fixture
def dist(tmp_path):
    return write_dist(tmp_path, P, R)


@pytest.fixture
def big_dist(tmp_path):
    rng = np.random.default_rng(7)
    p = rng.random(60)
    p /= p.sum()
    r = np.round(rng.normal(size=60), 2)
    r[5] = r[9]  # a tie
    return write_dist(tmp_path, p, r, "big.csv"), p, r


# ---- bottleneck -----------------------------------------------------------------------------

def test_capacity(tmp_path, cli, same):
    W = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])
    f = tmp_path / "w.csv"
    np.savetxt(f, W, delimiter=",", fmt="%r")
    py = alim.capacity(W)
    same(py, cli("capacity", f, "--json"))
    assert isinstance(py["input_distribution"], np.ndarray) and py["converged"] is True


def test_capacity_cascade_and_options(tmp_path, cli, same):
    W1 = [[0.9, 0.1], [0.2, 0.8]]
    W2 = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]
    f1, f2 = tmp_path / "a.csv", tmp_path / "b.csv"
    np.savetxt(f1, W1, delimiter=",", fmt="%r")
    np.savetxt(f2, W2, delimiter=",", fmt="%r")
    same(alim.capacity(W1, then=W2, tol=1e-10), cli("capacity", f1, "--then", f2, "--tol", "1e-10", "--json"))
    with pytest.warns(RuntimeWarning):
        py = alim.capacity(W1, max_iter=2)
    same(py, cli("capacity", f1, "--max-iter", 2, "--json"))
    same(alim.capacity([[2, 1], [1, 3]], normalize=True), cli("capacity", _csv(tmp_path, [[2, 1], [1, 3]]), "--normalize", "--json"))


def _csv(tmp_path, rows):
    f = tmp_path / "m.csv"
    np.savetxt(f, rows, delimiter=",", fmt="%r")
    return f


def test_capacity_errors(tmp_path, cli):
    with pytest.raises(alim.Error) as e:
        alim.capacity([[0.5, 0.2], [0.5, 0.5]])
    assert e.value.where == "W" and "row 1" in e.value.what and e.value.user_error
    assert cli("capacity", _csv(tmp_path, [[0.5, 0.2], [0.5, 0.5]]), ok=False).returncode == 2
    for bad in ([[-0.1, 1.1]], [[np.nan, 1.0]], [1.0, 0.0], "x"):
        with pytest.raises(alim.Error):
            alim.capacity(bad)
    with pytest.raises(alim.Error, match="tol"):
        alim.capacity([[1.0]], tol=0)


def test_fano(cli, same):
    same(alim.fano(M=256, info=4), cli("fano", "--M", 256, "--info", 4, "--json"))
    same(alim.fano(log2M=40, info_nats=3.5, loss_gap=0.5),
         cli("fano", "--log2M", 40, "--info-nats", 3.5, "--loss-gap", 0.5, "--json"))
    same(alim.fano(log2M=32, risk=0.01), cli("fano", "--log2M", 32, "--risk", 0.01, "--json"))
    for kw in ({"M": 1, "info": 1}, {"M": 4}, {"M": 4, "log2M": 2, "info": 1}, {"M": 4, "info": -1},
               {"M": 4, "risk": 2}, {"M": 2.5, "info": 1}):
        with pytest.raises(alim.Error):
            alim.fano(**kw)


def test_klinv(cli, same):
    same(alim.klinv(q=0.1, c=0.05), cli("klinv", "--q", 0.1, "--c", 0.05, "--json"))
    same(alim.klinv(q=0.3, c=0.2, lower=True), cli("klinv", "--q", 0.3, "--c", 0.2, "--lower", "--json"))
    same(alim.klinv(emp_risk=0.1, kl=5, m=1000, delta=0.01, catoni_c=2),
         cli("klinv", "--emp-risk", 0.1, "--kl", 5, "--m", 1000, "--delta", 0.01, "--catoni-c", 2, "--json"))
    for kw in ({"q": 1.5, "c": 1}, {"q": 0.1}, {"emp_risk": 0.1, "kl": 1}, {"emp_risk": 0.1, "kl": 1, "m": 0.5},
               {"q": 0.1, "c": 1, "m": 10}):
        with pytest.raises(alim.Error):
            alim.klinv(**kw)


@pytest.mark.parametrize("name", ["interval-A.json", "interval-B.json"])
def test_interval(name, cli, same):
    path = os.path.join(ROOT, "examples", name)
    same(alim.interval(path, m_sweep=[10, 100, 1000]), cli("interval", path, "--m-sweep", "10,100,1000", "--json"))
    import json
    with open(path) as f:
        scen = json.load(f)
    same(alim.interval(scen), cli("interval", path, "--json"))


def test_interval_errors(tmp_path, cli):
    scen = {"M": 4, "m": 100, "contexts": [{"weight": 0.5, "cognitive": {"type": "bsc", "p": 0.1},
                                            "articulation": {"type": "bsc", "p": 0.1}}]}
    with pytest.raises(alim.Error) as e:
        alim.interval(scen)
    assert e.value.where.startswith("scenario")
    f = tmp_path / "s.json"
    f.write_text(__import__("json").dumps(scen))
    with pytest.raises(alim.Error) as e2:
        alim.interval(f)
    p = cli("interval", f, "--json", ok=False)
    assert p.returncode == 2 and p.stderr.strip() == f"alim: error: {e2.value.where}: {e2.value.what}"
    with pytest.raises(alim.Error):
        alim.interval(tmp_path / "missing.json")
    with pytest.raises(alim.Error):
        alim.interval(os.path.join(ROOT, "examples", "interval-A.json"), m_sweep=[0.5])


# ---- asymptotics ----------------------------------------------------------------------------

def test_tilt(dist, cli, same):
    same(alim.tilt(dist, kl=0.5, policy=True), cli("tilt", dist, "--kl", 0.5, "--policy", "--json"))
    same(alim.tilt(dist, lam=-0.7), cli("tilt", dist, "--lambda", -0.7, "--json"))
    same(alim.tilt(dist, lam=float("inf"), policy=True), cli("tilt", dist, "--lambda", "inf", "--policy", "--json"))
    same(alim.tilt(dist, kl=5), cli("tilt", dist, "--kl", 5, "--json"))
    same(alim.tilt(dist, kl=0.2, check_mc=500, seed=9), cli("tilt", dist, "--kl", 0.2, "--check-mc", 500, "--seed", 9, "--json"))
    # arrays give the same numbers (without "file")
    js = cli("tilt", dist, "--kl", 0.5, "--policy", "--json")
    del js["file"]
    same(alim.tilt(np.array(P), np.array(R), kl=0.5, policy=True), js)
    same(alim.tilt(P, R, kl=0.5, policy=True), js)


def test_asymptotics_errors(dist):
    bad = [
        lambda: alim.tilt(P, R),  # neither lam nor kl
        lambda: alim.tilt(P, R, kl=-1),
        lambda: alim.tilt([0.5, 0.6], [0, 1], kl=1),  # does not sum to 1
        lambda: alim.tilt(P, [0, 1], kl=1),
        lambda: alim.tilt(P, [0, np.inf, 1], kl=1),
        lambda: alim.tilt(P, None, kl=1),
        lambda: alim.bon(P, R, n=0.5),
        lambda: alim.bon(P, R, n="e^-1"),
        lambda: alim.bon(P, R, n=4, ties="first"),
        lambda: alim.frontier(P, R, points=1),
        lambda: alim.frontier(P, R, n_list=[0]),
        lambda: alim.rate(P, R, lam=float("inf")),
        lambda: alim.seq(P, R, length=0, kl_per_token=1),
        lambda: alim.seq(P, R, length=4),
        lambda: alim.seq(P, R, length=4, kl_per_token=1, n_rule="up"),
        lambda: alim.tilt("/nonexistent/d.csv", kl=1),
    ]
    for f in bad:
        with pytest.raises(alim.Error):
            f()
    with pytest.raises(alim.Error) as e:
        alim.tilt([0.5, 0.6], [0, 1], kl=1)
    assert e.value.where.startswith("p") and "sum" in e.value.what and "normalize" in e.value.what
    # an argument the library refuses is named by its keyword, not by the CLI's flag
    with pytest.raises(alim.Error) as e:
        alim.seq([0.3, 0.3, 0.4], [0, 1, 2 ** 0.5], length=4, kl_per_token=0.1, method="lattice")
    assert e.value.where == "method" and "lattice" in e.value.what


def test_bon(dist, big_dist, cli, same):
    same(alim.bon(dist, n=4, policy=True), cli("bon", dist, "--n", 4, "--policy", "--json"))
    same(alim.bon(dist, n="e^50"), cli("bon", dist, "--n", "e^50", "--json"))
    same(alim.bon(dist, n=1e15), cli("bon", dist, "--n", "1e15", "--json"))
    same(alim.bon(dist, n=7, check_mc=400, seed=3), cli("bon", dist, "--n", 7, "--check-mc", 400, "--seed", 3, "--json"))
    same(alim.bon(dist, n=3, check_mc=200, mc_direct=True),
         cli("bon", dist, "--n", 3, "--check-mc", 200, "--mc-direct", "--json"))
    f, p, r = big_dist
    for ties in ("random", "ordered"):
        same(alim.bon(f, n=5.5, ties=ties, policy=True), cli("bon", f, "--n", 5.5, "--ties", ties, "--policy", "--json"))
    pass_file = write_dist(os.path.dirname(f) and __import__("pathlib").Path(os.path.dirname(f)), [0.7, 0.3], [0, 1], "pass.csv")
    py = alim.bon(pass_file, n=8)
    same(py, cli("bon", pass_file, "--n", 8, "--json"))
    assert "pass_at_k" in py


def test_frontier(dist, big_dist, cli, same):
    same(alim.frontier(dist, n_list=[1, 2, 4, 16], points=5),
         cli("frontier", dist, "--n-list", "1,2,4,16", "--points", 5, "--json"))
    f = big_dist[0]
    py = alim.frontier(f, n_max=1000)
    same(py, cli("frontier", f, "--n-max", 1000, "--json"))
    assert isinstance(py["rl"]["kl_nats"], np.ndarray) and py["rl"]["kl_nats"].shape == (41,)


def test_rate(dist, cli, same):
    same(alim.rate(dist, x=1.5, lam=1), cli("rate", dist, "--x", 1.5, "--lambda", 1, "--json"))
    same(alim.rate(dist, x=3), cli("rate", dist, "--x", 3, "--json"))
    py = alim.rate(dist, points=11, lam=0.5)
    same(py, cli("rate", dist, "--points", 11, "--lambda", 0.5, "--json"))
    assert isinstance(py["curve"]["rate_nats"], np.ndarray)


def test_seq(dist, cli, same):
    same(alim.seq(dist, kl_per_token=0.5, sweep=[1, 4, 16, 64], n_rule="real"),
         cli("seq", dist, "--kl-per-token", 0.5, "--sweep", "1,4,16,64", "--n-rule", "real", "--json"))
    same(alim.seq(dist, length=8, n=100, check_mc=200, seed=4),
         cli("seq", dist, "--length", 8, "--n", 100, "--check-mc", 200, "--seed", 4, "--json"))
    same(alim.seq(dist, sweep=[2, 3], kl_per_token=0.3, method="types", n_rule="floor"),
         cli("seq", dist, "--sweep", "2,3", "--kl-per-token", 0.3, "--method", "types", "--n-rule", "floor", "--json"))


def test_progress_and_ctrl_c(dist):
    seen = []
    alim.seq(dist, length=4096, kl_per_token=0.5, progress=lambda s, d, t: seen.append((s, d, t)))
    assert seen and seen[-1][1] == seen[-1][2]

    def interrupt(stage, done, total):  # a real SIGINT, handled by Python inside the callback
        # raise(3) delivers it to this thread, so Python's handler runs before the callback returns
        signal.raise_signal(signal.SIGINT)

    # A job started in the background by a non-interactive shell (`nohup .ci/run &`) inherits
    # SIGINT ignored, and Python then installs no handler: Ctrl-C could not reach it at all.
    # The test is about what the binding does with a KeyboardInterrupt, so it installs
    # Python's own handler for its duration.
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            alim.seq(dist, length=4096, kl_per_token=0.5, progress=interrupt)
    finally:
        signal.signal(signal.SIGINT, old)

    def broken(stage, done, total):
        raise ValueError("from the callback")

    with pytest.raises(ValueError, match="from the callback"):
        alim.seq(dist, length=4096, kl_per_token=0.5, progress=broken)
    alim.seq(dist, length=16, kl_per_token=0.5)  # still usable afterwards


def test_threads(dist, cli, same):
    """Calls from several threads at once give the single-thread answers (the GIL is released
    during each C call, so they overlap)."""
    want = alim.bon(dist, n=9)
    out = [None] * 4

    def work(i):
        out[i] = [alim.bon(dist, n=9) for _ in range(50)]

    th = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    for res in out:
        for r in res:
            assert r["kl_nats"] == want["kl_nats"] and r["reward"] == want["reward"]


# ---- language models ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model(tmp_path_factory, cli):
    """A tiny checkpoint trained by the CLI at test time on a structured corpus."""
    import random
    d = tmp_path_factory.mktemp("lm")
    words = "alpha beta gamma delta kappa sigma omega zeta".split()
    rnd = random.Random(1)
    (d / "corpus.txt").write_text("".join(" ".join(rnd.choice(words) for _ in range(6)) + ".\n" for _ in range(300)))
    (d / "held.txt").write_text("".join(" ".join(rnd.choice(words) for _ in range(6)) + ".\n" for _ in range(20)))
    (d / "sft.jsonl").write_text('{"prompt": "Q: alpha?", "response": " A: beta."}\n'
                                 '{"prompt": "Q: gamma?", "response": " A: delta."}\n')
    small = ["--layers", 1, "--dim", 32, "--heads", 2, "--context", 32, "--batch", 8, "--seed", 3, "--lr", "1e-2"]
    cli("train", "--data", d / "corpus.txt", "--format", "lines", "--out", d / "m", *small, "--steps", 30, "--json")
    cli("train", "--init", d / "m", "--data", d / "corpus.txt", "--format", "lines", "--out", d / "m2", "--steps", 5,
        "--lr", "1e-2", "--json")
    return d


def test_eval(model, cli, same):
    m, held = model / "m", model / "held.txt"
    same(alim.eval(m, held), cli("eval", "--model", m, "--data", held, "--json"))
    same(alim.eval(model / "m2", [held, model / "sft.jsonl"], base=m, context=16, batch=3),
         cli("eval", "--model", model / "m2", "--base", m, "--data", held, model / "sft.jsonl", "--context", 16,
             "--batch", 3, "--json"))
    with pytest.raises(alim.Error):
        alim.eval(m, held, context=33)
    with pytest.raises(alim.Error):
        alim.eval(model / "nope", held)
    with pytest.raises(alim.Error):
        alim.eval(m, model / "missing.txt")
    with pytest.raises(alim.Error):
        alim.eval(m, held, format="csv")


def test_sample(model, cli, same):
    m = model / "m"
    same(alim.sample(m, "alpha beta", n=3, tokens=20, top_k=5, seed=7),
         cli("sample", "--model", m, "--prompt", "alpha beta", "--n", 3, "--tokens", 20, "--top-k", 5, "--seed", 7, "--json"))
    same(alim.sample(m, "gamma", tokens=15, temperature=0),
         cli("sample", "--model", m, "--prompt", "gamma", "--tokens", 15, "--temperature", 0, "--json"))
    same(alim.sample(m, "Q: alpha?", chat=True, template="chatml", tokens=10, temperature=0.5),
         cli("sample", "--model", m, "--prompt", "Q: alpha?", "--chat", "--template", "chatml", "--tokens", 10,
             "--temperature", 0.5, "--json"))
    with pytest.raises(alim.Error):
        alim.sample(m, "x", temperature=-1)
    with pytest.raises(alim.Error):
        alim.sample(m, "x", system="be brief")  # needs chat=True
    with pytest.raises(alim.Error):
        alim.sample(m, "x", chat=True)  # this model has no chat template
