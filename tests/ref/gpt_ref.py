"""gpt_ref.py — an independent PyTorch reference of alim's GPT-2 model, for the oracles.

Written from the GPT-2 description (Radford et al. 2019) and Hugging Face's GPT2LMHeadModel
conventions, not from alim's C code: Conv1D weights are (in, out), attention is causal with
1/sqrt(head size) scaling, GELU is the tanh approximation ("gelu_new"), the output layer is
the token embedding transposed. Runs in float64 by default so that differences measure
alim's fp32 error. Also: a safetensors reader/writer (numpy), GPT-2's byte alphabet, and
helpers to write an alim/HF checkpoint directory.
"""
import json
import math
import os
import struct

import numpy as np
import torch

# ---- safetensors -------------------------------------------------------------------

_DT = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (written as F32 in the given order)."""
    header, off, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, dtype=np.float32)
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """Returns (dict name -> numpy array, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    out = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype=_DT[t["dtype"]]).reshape(t["shape"])
    return out, meta


# ---- GPT-2 byte alphabet and the byte tokenizer -------------------------------------

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def write_byte_tokenizer(d):
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    vocab["<|endoftext|>"] = 256
    with open(os.path.join(d, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")


# ---- the model ------------------------------------------------------------------------

def param_shapes(cfg):
    """(name, shape) of every parameter, in alim's internal (flat) order."""
    L, C, V, P = cfg["n_layer"], cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    per_layer = [("ln_1.weight", (C,)), ("ln_1.bias", (C,)), ("attn.c_attn.weight", (C, 3 * C)),
                 ("attn.c_attn.bias", (3 * C,)), ("attn.c_proj.weight", (C, C)), ("attn.c_proj.bias", (C,)),
                 ("ln_2.weight", (C,)), ("ln_2.bias", (C,)), ("mlp.c_fc.weight", (C, 4 * C)),
                 ("mlp.c_fc.bias", (4 * C,)), ("mlp.c_proj.weight", (4 * C, C)), ("mlp.c_proj.bias", (C,))]
    out = [("wte.weight", (V, C)), ("wpe.weight", (P, C))]
    for suffix, shape in per_layer:  # stacked: all layers of one tensor kind together
        for l in range(L):
            out.append((f"h.{l}.{suffix}", shape))
    out += [("ln_f.weight", (C,)), ("ln_f.bias", (C,))]
    return out


def unflatten(flat, cfg):
    """alim's flat parameter/gradient/moment vector -> dict name -> array."""
    out, off = {}, 0
    for name, shape in param_shapes(cfg):
        n = int(np.prod(shape))
        out[name] = flat[off:off + n].reshape(shape)
        off += n
    assert off == flat.size, (off, flat.size)
    return out


def random_params(cfg, seed, std=0.1):
    g = np.random.default_rng(seed)
    P = {}
    for name, shape in param_shapes(cfg):
        if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name == "ln_f.weight":
            P[name] = (1.0 + std * g.standard_normal(shape)).astype(np.float32)
        else:
            P[name] = (std * g.standard_normal(shape)).astype(np.float32)
    return P


def write_checkpoint(d, cfg, params):
    os.makedirs(d, exist_ok=True)
    conf = dict(cfg)
    conf.update({"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_ctx": cfg["n_positions"],
                 "activation_function": "gelu_new", "layer_norm_epsilon": cfg.get("layer_norm_epsilon", 1e-5),
                 "bos_token_id": 256, "eos_token_id": 256, "tie_word_embeddings": True})
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(conf, f)
    order = ["wte.weight", "wpe.weight"] + [f"h.{l}.{s}" for l in range(cfg["n_layer"]) for s in
                                            ["ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                                             "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                                             "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
                                             "mlp.c_proj.bias"]] + ["ln_f.weight", "ln_f.bias"]
    write_safetensors(os.path.join(d, "model.safetensors"), {k: params[k] for k in order}, {"format": "pt"})
    write_byte_tokenizer(d)


def to_torch(params, dtype=torch.float64):
    return {k: torch.tensor(np.array(v), dtype=dtype, requires_grad=True) for k, v in params.items()}


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def forward(P, cfg, idx):
    """idx: LongTensor (B,T) -> logits (B,T,V)."""
    B, T = idx.shape
    C, nh, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    hs = C // nh
    x = P["wte.weight"][idx] + P["wpe.weight"][:T]
    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(L):
        p = lambda s: P[f"h.{l}.{s}"]
        h = torch.nn.functional.layer_norm(x, (C,), p("ln_1.weight"), p("ln_1.bias"), eps)
        qkv = h @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = qkv.split(C, dim=2)
        q, k, v = (t.view(B, T, nh, hs).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + y @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        h = torch.nn.functional.layer_norm(x, (C,), p("ln_2.weight"), p("ln_2.bias"), eps)
        h = gelu_tanh(h @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
        x = x + h @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    x = torch.nn.functional.layer_norm(x, (C,), P["ln_f.weight"], P["ln_f.bias"], eps)
    return x @ P["wte.weight"].t()


def loss_fn(logits, targets):
    """Mean cross-entropy over targets != -1 (nats)."""
    V = logits.shape[-1]
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)


class Checker:
    """Counts checks and prints '<name>: N passed, N failed' at the end."""

    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL:", what, flush=True)

    def close(self, tol, got, want, what):
        err = abs(got - want)
        self.check(err <= tol, f"{what}: got {got!r}, want {want!r}, |diff| {err:.3g} > {tol:.3g}")

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        return 1 if self.failed else 0
