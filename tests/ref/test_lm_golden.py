"""test_lm_golden.py — alim's GPT against an independent PyTorch reference (gpt_ref.py).

From the same safetensors weights (generated here) and the same tokens, compares:
logits (log-probabilities of every position), the loss, the KL to a second model, every
parameter gradient, the checkpoint round trip, and the losses of 10 AdamW steps with
weight decay and clipping. The reference runs in float64, so the differences are alim's
fp32 error; tolerances are a few times what fp32 arithmetic gives on this size.
"""
import math
import os
import subprocess
import sys
import shutil
import atexit
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt_ref as R  # noqa: E402

ALIM = os.environ.get("ALIM", "build/alim")
torch.set_num_threads(1)
ck = R.Checker("test_lm_golden")
tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail

cfg = {"n_layer": 2, "n_embd": 32, "n_head": 4, "n_positions": 24, "vocab_size": 260, "layer_norm_epsilon": 1e-5}
B, T = 3, 16
params = R.random_params(cfg, seed=7)
model = os.path.join(tmp, "model")
R.write_checkpoint(model, cfg, params)

# data: EOT + 47 bytes + EOT = B*T + 1 tokens, B windows of T+1
rng = np.random.default_rng(3)
text = bytes(rng.integers(ord("a"), ord("z") + 1, size=B * T - 1).tolist())
data = os.path.join(tmp, "d.txt")
with open(data, "wb") as f:
    f.write(text)
stream = [256] + list(text) + [256]
X = torch.tensor([stream[k * T:k * T + T] for k in range(B)])
Y = torch.tensor([stream[k * T + 1:k * T + T + 1] for k in range(B)])


def run(*args):
    p = subprocess.run([ALIM, *args], capture_output=True, text=True)
    if p.returncode != 0:
        print("alim", " ".join(args), "failed:", p.stderr, file=sys.stderr)
    return p


# ---- logits and loss ------------------------------------------------------------------
P = R.to_torch(params)
logits = R.forward(P, cfg, X)
logp_ref = torch.log_softmax(logits, dim=-1).detach().numpy().reshape(-1, cfg["vocab_size"])
loss_ref = R.loss_fn(logits, Y)
lp_file = os.path.join(tmp, "lp.safetensors")
p = run("eval", "--model", model, "--data", data, "--context", str(T), "--batch", str(B), "--json", "--dump-logprobs", lp_file)
ck.check(p.returncode == 0, "alim eval runs")
if p.returncode == 0:
    import json
    j = json.loads(p.stdout)
    ck.check(j["n_tokens"] == B * T, f"n_tokens {j['n_tokens']} == {B * T}")
    ck.check(j["n_bytes"] == B * T - 1, f"n_bytes {j['n_bytes']} == {B * T - 1} (EOT has no bytes)")
    ck.close(2e-6 * B * T, j["total_bits"] / math.log2(math.e), float(loss_ref) * B * T, "total loss (nats)")
    lp, _ = R.read_safetensors(lp_file)
    lp = lp["logprobs"]
    ck.check(lp.shape == logp_ref.shape, f"logprobs shape {lp.shape}")
    if lp.shape == logp_ref.shape:
        err = np.abs(lp - logp_ref).max()
        ck.check(err < 1e-5, f"log-probabilities max |diff| {err:.3g} < 1e-5")
        print(f"logprobs max |diff| {err:.3g}")

# ---- greedy decoding: `alim sample` (key/value cache, then the sliding window) ------------
# The reference re-runs the float64 model on the whole (last n_positions tokens of the)
# context for every token and takes the most likely id below 257 (the tokenizer's size;
# the model has 260). 4 + 30 tokens > n_positions = 24: the last 10 go through the window.
# Greedy choices could only differ on a near-tie (|gap| ~ 1e-6); the gaps are printed.
with torch.no_grad():
    ids = [256] + list(b"abc")
    gaps = []
    for _ in range(30):
        ctx = torch.tensor([ids[-cfg["n_positions"]:]])
        row = torch.log_softmax(R.forward(P, cfg, ctx)[0, -1], dim=-1)[:257]
        top = torch.topk(row, 2).values
        gaps.append(float(top[0] - top[1]))
        nxt = int(torch.argmax(row))
        if nxt == 256:
            break
        ids.append(nxt)
p = subprocess.run([ALIM, "sample", "--model", model, "--prompt", "abc", "--temperature", "0", "--tokens", "30"], capture_output=True)
ck.check(p.returncode == 0, f"alim sample runs: {p.stderr!r}")
if p.returncode == 0:
    want = bytes(ids[1:]) + b"\n"
    ck.check(p.stdout == want, f"greedy continuation {p.stdout!r} == reference {want!r}")
    print(f"greedy decoding: {len(ids) - 4} tokens as the reference (smallest top-2 gap {min(gaps):.3g} nats)")

# ---- KL to a base model ---------------------------------------------------------------
base_params = {k: v + 0.05 * np.random.default_rng(11).standard_normal(v.shape).astype(np.float32) for k, v in params.items()}
base = os.path.join(tmp, "base")
R.write_checkpoint(base, cfg, base_params)
with torch.no_grad():
    lq = torch.log_softmax(R.forward(R.to_torch(base_params), cfg, X), dim=-1)
    lpp = torch.log_softmax(logits.detach(), dim=-1)
    kl_ref = float((lpp.exp() * (lpp - lq)).sum(-1).mean())
p = run("eval", "--model", model, "--base", base, "--data", data, "--context", str(T), "--batch", "2", "--json")
if p.returncode == 0:
    j = json.loads(p.stdout)
    ck.close(1e-6 + 1e-5 * kl_ref, j["kl_nats"], kl_ref, "mean KL(model||base) nats")
    ck.close(1e-6, j["kl_bits"], kl_ref / math.log(2), "KL bits")
else:
    ck.check(False, "alim eval --base runs")

# ---- gradients: one step with beta1 = 0 leaves the gradient in the first moment ---------
loss_ref.backward()
out1 = os.path.join(tmp, "g")
p = run("train", "--init", model, "--data", data, "--out", out1, "--steps", "1", "--batch", str(B), "--context", str(T),
        "--beta1", "0", "--lr", "0", "--clip", "0", "--weight-decay", "0", "--threads", "2")
ck.check(p.returncode == 0, "alim train (gradient step) runs")
if p.returncode == 0:
    opt, meta = R.read_safetensors(os.path.join(out1, "optimizer.safetensors"))
    grads = R.unflatten(opt["adamw.m"], cfg)
    worst = 0.0
    for name, _ in R.param_shapes(cfg):
        g_ref = P[name].grad.numpy()
        g = grads[name]
        scale = max(np.abs(g_ref).max(), 1e-30)
        rel = np.abs(g - g_ref).max() / scale
        worst = max(worst, rel)
        ck.check(rel < 1e-5, f"gradient {name}: max |diff| / max |grad| = {rel:.3g} >= 1e-5")
    print(f"gradients: worst max|diff|/max|grad| = {worst:.3g}")
    ck.check(meta.get("step") == "1", "optimizer state records step 1")
    # with lr = 0 the weights come back bit for bit
    w, wmeta = R.read_safetensors(os.path.join(out1, "model.safetensors"))
    same = all(np.array_equal(w[k], params[k]) for k in params)
    ck.check(same, "checkpoint round trip is bit-exact")
    ck.check(wmeta.get("format") == "pt", "model.safetensors has format=pt metadata")
    import csv
    rows = list(csv.DictReader(open(os.path.join(out1, "log.csv"))))
    ck.close(2e-6 * float(loss_ref), float(rows[0]["loss"]), float(loss_ref), "step-1 loss in the log")

# ---- 10 AdamW steps (decay on matrices, clipping) -------------------------------------
lr, wd, clip = 3e-3, 0.1, 1.0
out2 = os.path.join(tmp, "t")
p = run("train", "--init", model, "--data", data, "--out", out2, "--steps", "10", "--batch", str(B), "--context", str(T),
        "--lr", str(lr), "--beta1", "0.9", "--beta2", "0.95", "--eps", "1e-8", "--weight-decay", str(wd),
        "--clip", str(clip), "--schedule", "constant")
ck.check(p.returncode == 0, "alim train (10 steps) runs")
P = R.to_torch(params)
decay = [P[n] for n, s in R.param_shapes(cfg) if len(s) == 2]
nodecay = [P[n] for n, s in R.param_shapes(cfg) if len(s) == 1]
optim = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": nodecay, "weight_decay": 0.0}],
                          lr=lr, betas=(0.9, 0.95), eps=1e-8)
ref_losses = []
for step in range(10):
    optim.zero_grad()
    loss = R.loss_fn(R.forward(P, cfg, X), Y)
    ref_losses.append(float(loss))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(list(P.values()), clip)
    optim.step()
if p.returncode == 0:
    import csv
    rows = list(csv.DictReader(open(os.path.join(out2, "log.csv"))))
    ck.check(len(rows) == 10, f"10 log rows, got {len(rows)}")
    worst = 0.0
    for i, r in enumerate(rows[:10]):
        d = abs(float(r["loss"]) - ref_losses[i])
        worst = max(worst, d)
        ck.close(2e-5, float(r["loss"]), ref_losses[i], f"AdamW step {i + 1} loss")
    print(f"AdamW losses {ref_losses[0]:.5f} -> {ref_losses[-1]:.5f}, worst |diff| {worst:.3g}")
    ck.check(ref_losses[-1] < ref_losses[0] - 0.1, "the reference learns in 10 steps (the test is not vacuous)")

# ---- gradients of one training step for other shapes and code paths ---------------------

def make_case(name, cfg, B, T, seed):
    """A random model (written as a checkpoint), B windows of T random letters (written as a
    data file) and the reference's logits and parameter gradients for them."""
    params = R.random_params(cfg, seed=seed)
    model = os.path.join(tmp, f"model-{name}")
    R.write_checkpoint(model, cfg, params)
    text = bytes(rng.integers(ord("a"), ord("z") + 1, size=B * T - 1).tolist())
    data = os.path.join(tmp, f"data-{name}.txt")
    open(data, "wb").write(text)
    s = [256] + list(text) + [256]
    X = torch.tensor([s[k * T:k * T + T] for k in range(B)])
    Y = torch.tensor([s[k * T + 1:k * T + T + 1] for k in range(B)])
    P = R.to_torch(params)
    logits = R.forward(P, cfg, X)
    R.loss_fn(logits, Y).backward()
    return model, data, P, logits


def check_step_gradients(label, name, cfg, B, T, model, data, P, env=None, extra=()):
    """One `alim train` step on 2 threads with beta1 = 0 and lr = 0 leaves the gradient in the
    first moment: every tensor against the reference's. Returns the process (None if it
    failed) and the worst max|diff|/max|grad|."""
    out = os.path.join(tmp, f"g-{name}")
    p = subprocess.run([ALIM, "train", "--init", model, "--data", data, "--out", out, "--steps", "1",
                        "--batch", str(B), "--context", str(T), "--beta1", "0", "--lr", "0", "--clip", "0",
                        "--weight-decay", "0", "--threads", "2", *extra], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        ck.check(False, f"train {label} runs: {p.stderr}")
        return None, float("nan")
    grads = R.unflatten(R.read_safetensors(os.path.join(out, "optimizer.safetensors"))[0]["adamw.m"], cfg)
    worst = 0.0
    for tname, _ in R.param_shapes(cfg):
        g_ref = P[tname].grad.numpy()
        rel = np.abs(grads[tname] - g_ref).max() / max(np.abs(g_ref).max(), 1e-30)
        worst = max(worst, rel)
        ck.check(rel < 1e-5, f"{label} gradient {tname}: {rel:.3g} >= 1e-5")
    return p, worst


# a longer context: attention is computed in blocks of 64 rows (sgemm path) or by the
# small-head kernels (head size 8 or 16); ALIM_ATT_SGEMM=1 forces the sgemm path
for C2, H2, force_sgemm in ((16, 2, False), (16, 2, True), (32, 2, False), (32, 2, True)):
    label = f"T=150 hs={C2 // H2}{' sgemm' if force_sgemm else ''}"
    env2 = dict(os.environ)
    env2.pop("ALIM_ATT_SGEMM", None)
    if force_sgemm:
        env2["ALIM_ATT_SGEMM"] = "1"
    cfg2 = {"n_layer": 1, "n_embd": C2, "n_head": H2, "n_positions": 160, "vocab_size": 257, "layer_norm_epsilon": 1e-5}
    B2, T2 = 2, 150
    name2 = f"t150-{C2}-{int(force_sgemm)}"
    model2, data2, P2, logits2 = make_case(name2, cfg2, B2, T2, seed=8)
    p = subprocess.run([ALIM, "eval", "--model", model2, "--data", data2, "--context", str(T2), "--batch", str(B2),
                        "--dump-logprobs", lp_file, "--threads", "2"], capture_output=True, text=True, env=env2)
    if p.returncode == 0:
        lp, _ = R.read_safetensors(lp_file)
        err = np.abs(lp["logprobs"] - torch.log_softmax(logits2, -1).detach().numpy().reshape(-1, 257)).max()
        ck.check(err < 1e-5, f"{label}: log-probabilities max |diff| {err:.3g} < 1e-5")
    else:
        ck.check(False, f"eval {label} runs: {p.stderr}")
    check_step_gradients(label, name2, cfg2, B2, T2, model2, data2, P2, env=env2)

# C = 64 with 2 threads: weight gradients with few rows are split by columns
cfg3 = {"n_layer": 1, "n_embd": 64, "n_head": 2, "n_positions": 32, "vocab_size": 257, "layer_norm_epsilon": 1e-5}
model3, data3, P3, _ = make_case("c64", cfg3, 4, 32, seed=9)
check_step_gradients("C=64", "c64", cfg3, 4, 32, model3, data3, P3)

# data parallel (2 threads, a small model): each thread runs whole passes on half the batch
cfg5 = {"n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 64, "vocab_size": 257, "layer_norm_epsilon": 1e-5}
model5, data5, P5, _ = make_case("shards", cfg5, 8, 64, seed=21)
p, worst = check_step_gradients("data-parallel", "shards", cfg5, 8, 64, model5, data5, P5, extra=("--json",))
if p is not None:
    ck.check(json.loads(p.stdout).get("data_parallel_shards") == 2, f"train reports 2 data-parallel shards: {p.stdout}")
    print(f"data-parallel gradients: worst max|diff|/max|grad| = {worst:.3g}")

sys.exit(ck.finish())
