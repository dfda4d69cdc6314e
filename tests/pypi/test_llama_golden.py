"""test_llama_golden.py — alim's Llama-family engine against Hugging Face transformers.

Random small models of each family are built here with transformers (nothing is
downloaded) and saved with save_pretrained: Llama with grouped-query attention (untied
head, F32), Qwen2 with q/k/v biases and an untied head (BF16 weights), a Llama with the
llama3 rope scaling and tied embeddings, Mistral, and a sharded checkpoint. For each:
log-probabilities of every position (alim eval --dump-logprobs), the total loss, every
parameter gradient of one fine-tuning step (alim train --lr 0 --beta1 0 leaves the gradient
in AdamW's first moment), greedy decoding through the key/value cache, and the checkpoint
alim writes back, loaded by transformers and scored again. transformers runs in float64
here, so the differences are alim's fp32 error.
"""
import json
import math
import os
import subprocess
import sys
import shutil
import atexit
import tempfile

import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, LlamaConfig, MistralConfig, Qwen2Config


ALIM = os.environ.get("ALIM", "build/alim")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import Checker, write_byte_tokenizer  # noqa: E402
CK = Checker("test_llama_golden")
check = CK.check
torch.set_num_threads(1)
torch.manual_seed(0)
tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail



def run(*args, env=None):
    p = subprocess.run([ALIM, *args], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        print("alim", " ".join(args), "failed:", p.stderr, file=sys.stderr)
    return p


V = 300  # >= 257: the byte tokenizer's ids (a saved model has no tokenizer files)
B, T = 3, 20
rng = np.random.default_rng(5)
text = bytes(rng.integers(ord("a"), ord("z") + 1, size=B * T - 1).tolist())
data = os.path.join(tmp, "d.txt")
open(data, "wb").write(text)
stream = [256] + list(text) + [256]
X = torch.tensor([stream[k * T:k * T + T] for k in range(B)])
Y = torch.tensor([stream[k * T + 1:k * T + T + 1] for k in range(B)])

common = dict(vocab_size=V, hidden_size=48, intermediate_size=80, num_hidden_layers=2,
              max_position_embeddings=64, rms_norm_eps=1e-5, initializer_range=0.2)
cases = [
    ("llama-gqa", LlamaConfig(num_attention_heads=6, num_key_value_heads=2, rope_theta=5000.0,
                              tie_word_embeddings=False, **common), torch.float32, {}),
    ("qwen2-bias", Qwen2Config(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
                               **common), torch.bfloat16, {}),
    ("llama3-rope", LlamaConfig(num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True,
                                rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                              "high_freq_factor": 4.0, "original_max_position_embeddings": 8},
                                **common), torch.float32, {}),
    ("mistral", MistralConfig(num_attention_heads=4, num_key_value_heads=1, sliding_window=None,
                              tie_word_embeddings=False, **common), torch.float32, {}),
    ("llama-sharded", LlamaConfig(num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=False,
                                  **common), torch.float32, {"max_shard_size": "60KB"}),
]

for name, cfg, dtype, save_kw in cases:
    model = AutoModelForCausalLM.from_config(cfg).to(dtype)
    if name == "qwen2-bias":  # random biases (transformers initialises them to zero)
        with torch.no_grad():
            for layer in model.model.layers:
                for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                    proj.bias.normal_(0, 0.3)
    d = os.path.join(tmp, name)
    model.save_pretrained(d, safe_serialization=True, **save_kw)
    write_byte_tokenizer(d)
    if name == "llama-sharded":
        check(os.path.exists(os.path.join(d, "model.safetensors.index.json")), "sharded checkpoint written")
    # reference in float64 from the weights as saved
    ref = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float64)
    ref.eval()
    out = ref(X, labels=None)
    logits = out.logits
    logp = torch.log_softmax(logits, -1)
    loss_sum = float(-logp.gather(-1, Y.unsqueeze(-1)).sum())
    lp_file = os.path.join(tmp, f"lp-{name}.safetensors")
    p = run("eval", "--model", d, "--data", data, "--context", str(T), "--batch", str(B), "--json",
            "--dump-logprobs", lp_file)
    check(p.returncode == 0, f"{name}: alim eval runs")
    if p.returncode == 0:
        j = json.loads(p.stdout)
        got = j["total_bits"] / math.log2(math.e)
        check(abs(got - loss_sum) < 2e-6 * B * T * max(1.0, loss_sum / (B * T)), f"{name}: total loss {got} vs {loss_sum}")
        lp = load_file(lp_file)["logprobs"]
        err = float(np.abs(lp - logp.detach().numpy().reshape(-1, V)).max())
        check(err < 2e-5, f"{name}: log-probabilities max |diff| {err:.3g} < 2e-5")
        print(f"{name}: loss {got:.6f} (ref {loss_sum:.6f}), logprobs max |diff| {err:.3g}")
    # gradients of one step: mean loss over the B*T targets
    ref.zero_grad()
    lo = torch.nn.functional.cross_entropy(ref(X).logits.reshape(-1, V), Y.reshape(-1))
    lo.backward()
    gdir = os.path.join(tmp, f"g-{name}")
    p = run("train", "--init", d, "--data", data, "--out", gdir, "--steps", "1", "--batch", str(B), "--context", str(T),
            "--beta1", "0", "--lr", "0", "--clip", "0", "--weight-decay", "0", "--threads", "2")
    check(p.returncode == 0, f"{name}: alim train runs")
    if p.returncode == 0:
        m1 = load_file(os.path.join(gdir, "optimizer.safetensors"))["adamw.m"]
        names = [n for n, _ in ref.named_parameters()]
        # alim's parameter order: embed_tokens, then block by block, then norm, lm_head
        params = dict(ref.named_parameters())
        order = ["model.embed_tokens.weight"]
        for l in range(cfg.num_hidden_layers):
            for part in ["input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.q_proj.bias",
                         "self_attn.k_proj.weight", "self_attn.k_proj.bias", "self_attn.v_proj.weight",
                         "self_attn.v_proj.bias", "self_attn.o_proj.weight", "post_attention_layernorm.weight",
                         "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"]:
                n = f"model.layers.{l}.{part}"
                if n in params:
                    order.append(n)
        order.append("model.norm.weight")
        if not cfg.tie_word_embeddings:
            order.append("lm_head.weight")
        # alim stores a per-layer tensor for all layers together: reorder by tensor kind
        kinds = []
        for n in order:
            k = n.split(".", 3)[-1] if n.startswith("model.layers.") else n
            if k not in kinds:
                kinds.append(k)
        flat = []
        for k in kinds:
            for n in order:
                kk = n.split(".", 3)[-1] if n.startswith("model.layers.") else n
                if kk == k:
                    flat.append(n)
        check(sum(params[n].numel() for n in flat) == m1.size, f"{name}: gradient size {m1.size}")
        off, worst = 0, 0.0
        for n in flat:
            g_ref = params[n].grad.detach().numpy().reshape(-1)
            g = m1[off:off + g_ref.size]
            off += g_ref.size
            rel = float(np.abs(g - g_ref).max() / max(np.abs(g_ref).max(), 1e-30))
            worst = max(worst, rel)
            check(rel < 2e-5, f"{name}: gradient {n}: {rel:.3g} >= 2e-5")
        print(f"{name}: {len(flat)} gradients, worst max|diff|/max|g| {worst:.3g}")
    # greedy decoding through the key/value cache against transformers' generate
    # (a plain loop: generate() imports torch.distributed, which Debian's torch 1.13
    # cannot import under Python 3.11)
    with torch.no_grad():
        ids = [256] + list(b"abc")
        gen = []
        for _ in range(12):
            nxt = int(torch.argmax(ref(torch.tensor([ids])).logits[0, -1, :257]))
            if nxt == 256:
                break
            gen.append(nxt)
            ids.append(nxt)
    p = subprocess.run([ALIM, "sample", "--model", d, "--prompt", "abc", "--temperature", "0", "--tokens", "12"],
                       capture_output=True)
    check(p.returncode == 0, f"{name}: alim sample runs: {p.stderr!r}")
    if p.returncode == 0:
        # the byte tokenizer has 257 ids: alim (and the loop above) choose among them only
        want = b"abc" + bytes(gen) + b"\n"
        check(p.stdout == want, f"{name}: greedy {p.stdout!r} vs reference {want!r}")
    # alim's own save, read back by transformers
    if name in ("llama-gqa", "qwen2-bias"):
        sdir = os.path.join(tmp, f"s-{name}")
        p = run("train", "--init", d, "--data", data, "--out", sdir, "--steps", "1", "--batch", str(B),
                "--context", str(T), "--lr", "1e-3")
        check(p.returncode == 0, f"{name}: alim fine-tunes one step")
        if p.returncode == 0:
            back = AutoModelForCausalLM.from_pretrained(sdir, torch_dtype=torch.float64)
            bl = float(torch.nn.functional.cross_entropy(back(X).logits.reshape(-1, V), Y.reshape(-1), reduction="sum"))
            p = run("eval", "--model", sdir, "--data", data, "--context", str(T), "--batch", str(B), "--json")
            if p.returncode == 0:
                got = json.loads(p.stdout)["total_bits"] / math.log2(math.e)
                check(abs(got - bl) < 1e-4 * abs(bl), f"{name}: saved model scores {got} in alim, {bl} in transformers")
                print(f"{name}: fine-tuned checkpoint: alim {got:.6f}, transformers {bl:.6f}")

# refusals: one line naming the file and field, exit 2
bad = os.path.join(tmp, "bad")
os.makedirs(bad)
for field, value, why in [("model_type", "gemma", "not supported"), ("hidden_act", "gelu", "silu"),
                          ("rope_scaling", {"rope_type": "yarn", "factor": 2.0}, "yarn"),
                          ("attention_bias", True, "attention_bias"), ("num_key_value_heads", 5, "num_key_value_heads")]:
    c = LlamaConfig(num_attention_heads=4, **common).to_dict()
    c[field] = value
    json.dump(c, open(os.path.join(bad, "config.json"), "w"))
    p = subprocess.run([ALIM, "eval", "--model", bad, "--data", data, "--json"], capture_output=True, text=True)
    msg = p.stderr.strip()
    check(p.returncode == 2 and msg.count("\n") == 0 and why in msg and "config.json" in msg,
          f"refusal of {field}={value}: exit {p.returncode}, {msg!r}")

# missing, mis-shaped and truncated weights: named, exit 2, nothing written
from safetensors.numpy import save_file  # noqa: E402
src = os.path.join(tmp, "llama-gqa")
w = load_file(os.path.join(src, "model.safetensors"))
for label, mutate, why in [
        ("missing tensor", lambda d: d.pop("model.layers.1.mlp.up_proj.weight"), "model.layers.1.mlp.up_proj.weight"),
        ("mis-shaped tensor", lambda d: d.__setitem__("model.layers.0.self_attn.k_proj.weight", np.zeros((24, 48), np.float32)),
         "model.layers.0.self_attn.k_proj.weight"),
        ("truncated file", None, "model.safetensors")]:
    bd = os.path.join(tmp, "bad-" + label.replace(" ", "-"))
    os.makedirs(bd)
    for fn in ("config.json", "vocab.json", "merges.txt"):
        open(os.path.join(bd, fn), "wb").write(open(os.path.join(src, fn), "rb").read())
    if mutate:
        d2 = dict(w)
        mutate(d2)
        save_file(d2, os.path.join(bd, "model.safetensors"))
    else:
        raw = open(os.path.join(src, "model.safetensors"), "rb").read()
        open(os.path.join(bd, "model.safetensors"), "wb").write(raw[: len(raw) - 1000])
    out = os.path.join(tmp, "never-" + label.replace(" ", "-"))
    p = subprocess.run([ALIM, "train", "--init", bd, "--data", data, "--out", out, "--steps", "1"], capture_output=True, text=True)
    msg = p.stderr.strip()
    check(p.returncode == 2 and "\n" not in msg and why in msg and not os.path.exists(out), f"{label}: exit {p.returncode}, {msg!r}")

# a config.json describing far more parameters than its weight files hold (a 1 kB config of
# 1000 layers of width 4096): refused before the model is allocated, exit 2
huge = os.path.join(tmp, "huge")
os.makedirs(huge)
for fn in ("model.safetensors", "vocab.json", "merges.txt"):
    open(os.path.join(huge, fn), "wb").write(open(os.path.join(src, fn), "rb").read())
c = json.load(open(os.path.join(src, "config.json")))
c.update(num_hidden_layers=1000, hidden_size=4096, num_attention_heads=32, num_key_value_heads=32, intermediate_size=11008)
c.pop("head_dim", None)
json.dump(c, open(os.path.join(huge, "config.json"), "w"))
p = subprocess.run([ALIM, "eval", "--model", huge, "--data", data], capture_output=True, text=True)
check(p.returncode == 2 and "more than its weight files" in p.stderr, f"oversized config: exit {p.returncode}, {p.stderr.strip()!r}")

sys.exit(CK.finish())
