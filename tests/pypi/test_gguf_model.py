"""test_gguf_model.py — Llama-family models from GGUF files against transformers' own GGUF loader.

Random small models are built here with transformers and written as GGUF files with the
`gguf` package the way llama.cpp's converter writes them (Q and K rows of "llama" files
permuted for the adjacent-pair rotation; Qwen2 files not), with tensors in F32, F16, BF16,
Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1, and a byte-level vocabulary in the metadata. transformers
(4.46) reads the same file with its own dequantiser and un-permutation; both models score
the same tokens, and alim's log-probabilities must match the float64 reference.
"""
import json
import math
import os
import subprocess
import sys
import shutil
import atexit
import tempfile

import gguf
import numpy as np
import torch
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, LlamaConfig, Qwen2Config

ALIM = os.environ.get("ALIM", "build/alim")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import Checker, bytes_to_unicode  # noqa: E402
CK = Checker("test_gguf_model")
check = CK.check
torch.set_num_threads(1)
torch.manual_seed(1)
tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail
Q = gguf.GGMLQuantizationType




def permute(w, n_head):
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute (rows of each head interleaved)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path, arch, cfg, sd, qtypes):
    w = gguf.GGUFWriter(path, arch)
    w.add_name(arch + "-test")  # transformers reads general.name
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in range(256)] + ["<|endoftext|>"] + [f"<|extra_{i}|>" for i in range(cfg.vocab_size - 257)]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([1] * 256 + [3] * (cfg.vocab_size - 256))
    w.add_token_merges([])
    w.add_bos_token_id(256)
    w.add_eos_token_id(256)
    w.add_add_bos_token(False)
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
             "lm_head.weight": "output.weight"}
    per = {"input_layernorm.weight": "attn_norm.weight", "self_attn.q_proj.weight": "attn_q.weight",
           "self_attn.k_proj.weight": "attn_k.weight", "self_attn.v_proj.weight": "attn_v.weight",
           "self_attn.o_proj.weight": "attn_output.weight", "self_attn.q_proj.bias": "attn_q.bias",
           "self_attn.k_proj.bias": "attn_k.bias", "self_attn.v_proj.bias": "attn_v.bias",
           "post_attention_layernorm.weight": "ffn_norm.weight", "mlp.gate_proj.weight": "ffn_gate.weight",
           "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight"}
    k = 0
    for n, t in sd.items():
        a = t.detach().float().numpy()
        if n.startswith("model.layers."):
            _, _, l, rest = n.split(".", 3)
            g = f"blk.{l}.{per[rest]}"
            if arch == "llama" and rest == "self_attn.q_proj.weight":
                a = permute(a, cfg.num_attention_heads)
            if arch == "llama" and rest == "self_attn.k_proj.weight":
                a = permute(a, cfg.num_key_value_heads)
        else:
            g = names[n]
        if a.ndim == 2:  # 2-D weights take the quantisation types in turn
            qt = qtypes[k % len(qtypes)]
            k += 1
        else:
            qt = Q.F32
        if qt == Q.F32:
            w.add_tensor(g, a.astype(np.float32))
        elif qt == Q.F16:
            w.add_tensor(g, a.astype(np.float16))
        else:
            data = gguf.quants.quantize(a.astype(np.float32), qt)
            w.add_tensor(g, data, raw_shape=data.shape, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


V, B, T = 300, 2, 24
rng = np.random.default_rng(2)
text = bytes(rng.integers(ord("a"), ord("z") + 1, size=B * T - 1).tolist())
data = os.path.join(tmp, "d.txt")
open(data, "wb").write(text)
stream = [256] + list(text) + [256]
X = torch.tensor([stream[k * T:k * T + T] for k in range(B)])

common = dict(vocab_size=V, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              max_position_embeddings=64, rms_norm_eps=1e-5, initializer_range=0.1, tie_word_embeddings=False)
cases = [
    ("llama-f32", "llama", LlamaConfig(num_attention_heads=4, num_key_value_heads=2, rope_theta=10000.0, **common), [Q.F32]),
    ("llama-quant", "llama", LlamaConfig(num_attention_heads=4, num_key_value_heads=2, **common),
     [Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.F16, Q.BF16]),
    ("qwen2-bias", "qwen2", Qwen2Config(num_attention_heads=4, num_key_value_heads=1, **common), [Q.F32, Q.Q8_0]),
]
for name, arch, cfg, qtypes in cases:
    model = AutoModelForCausalLM.from_config(cfg)
    if arch == "qwen2":
        with torch.no_grad():
            for layer in model.model.layers:
                for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                    proj.bias.normal_(0, 0.3)
    d = os.path.join(tmp, name)
    os.makedirs(d)
    f = os.path.join(d, "model.gguf")
    write_gguf(f, arch, cfg, model.state_dict(), qtypes)
    ref = AutoModelForCausalLM.from_pretrained(d, gguf_file="model.gguf", torch_dtype=torch.float32).double()
    ref.eval()
    with torch.no_grad():
        logp = torch.log_softmax(ref(X).logits, -1).numpy().reshape(-1, V)
    lp_file = os.path.join(tmp, f"lp-{name}.safetensors")
    p = subprocess.run([ALIM, "eval", "--model", f, "--data", data, "--context", str(T), "--batch", str(B), "--json",
                        "--dump-logprobs", lp_file], capture_output=True, text=True)
    check(p.returncode == 0, f"{name}: alim eval runs: {p.stderr.strip()}")
    if p.returncode == 0:
        lp = load_file(lp_file)["logprobs"]
        check(lp.shape == logp.shape, f"{name}: logprobs shape {lp.shape}")
        if lp.shape == logp.shape:
            err = float(np.abs(lp - logp).max())
            check(err < 2e-5, f"{name}: log-probabilities max |diff| {err:.3g} < 2e-5")
            print(f"{name} ({', '.join(q.name for q in qtypes)}): logprobs max |diff| {err:.3g} against transformers' GGUF loader")

# an elasticity experiment from a GGUF theta0 (E2 rebound, quick grid, one seed): the
# fine-tuning cells copy the model with its GGUF-derived tokenizer.json
syn = os.path.join(tmp, "syn")
p = subprocess.run([ALIM, "data", "synthetic", "--out", syn, "--pretrain-tokens", "20000", "--pool-docs", "80", "--test-docs", "8",
                    "--doc-len", "32"], capture_output=True, text=True)
check(p.returncode == 0, f"alim data synthetic: {p.stderr.strip()}")
run = os.path.join(tmp, "e2")
p = subprocess.run([ALIM, "elastic", "rebound", "--theta0", os.path.join(tmp, "llama-f32", "model.gguf"), "--data", syn, "--run", run,
                    "--quick", "--seeds", "1", "--threads", "1", "--json"], capture_output=True, text=True)
check(p.returncode == 0, f"elastic rebound --theta0 FILE.gguf: {p.stderr.strip()[-300:]}")
if p.returncode == 0:
    j = json.loads(p.stdout)
    check(len(j["grid"]) == 24 and j["verdict"] in ("PASS", "NULL", "FAIL"), f"rebound grid of {len(j['grid'])} rows")
    print(f"elastic rebound from a GGUF theta0: {len(j['grid'])} grid rows, verdict {j['verdict']}")

# bad files: one line naming the file, exit 2
bad = os.path.join(tmp, "bad.gguf")
good = os.path.join(tmp, "llama-f32", "model.gguf")
raw = open(good, "rb").read()
for label, blob, why in [("truncated", raw[: len(raw) // 2], ""), ("not gguf", b"GGUF" + b"\xff" * 20, ""),
                         ("missing", None, "")]:
    if blob is None:
        path = os.path.join(tmp, "nonexistent.gguf")
    else:
        path = bad
        open(bad, "wb").write(blob)
    p = subprocess.run([ALIM, "eval", "--model", path, "--data", data], capture_output=True, text=True)
    msg = p.stderr.strip()
    check(p.returncode == 2 and "\n" not in msg and path in msg, f"{label}: exit {p.returncode}, {msg!r}")

sys.exit(CK.finish())
