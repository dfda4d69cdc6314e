"""bench_lm_interop.py — alim checkpoints and tokenizers against Hugging Face's libraries.

Not part of CI (needs PyPI transformers, safetensors and tokenizers; see bench_lm_interop.sh
which makes a venv on top of Debian's torch). Checks:
  1. a checkpoint written by `alim train` loads in transformers' GPT2LMHeadModel and gives
     the same next-token distributions as `alim eval --dump-logprobs`;
  2. the reverse: a GPT2LMHeadModel saved with save_pretrained(safe_serialization=True)
     is read by `alim eval` with the same distributions;
  3. a BPE learned by `alim tokenizer train` gives the same ids under `tokenizers`
     (ByteLevel BPE from vocab.json + merges.txt) as `alim tokenizer encode`.
Prints "bench_lm_interop: N passed, N failed".
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "ref"))
import gpt_ref as R  # noqa: E402

import transformers  # noqa: E402
from tokenizers import Tokenizer, decoders, models, pre_tokenizers  # noqa: E402

ALIM = os.environ.get("ALIM", os.path.join(HERE, "..", "build", "alim"))
ck = R.Checker("bench_lm_interop")
tmp = tempfile.mkdtemp()


def alim(*args):
    p = subprocess.run([ALIM, *args], capture_output=True, text=True)
    if p.returncode:
        print("alim", *args, "failed:", p.stderr)
    return p


text = "the quick brown fox jumps over the lazy dog. " * 40
data = os.path.join(tmp, "d.txt")
open(data, "w").write(text)
T = 32
ids = [256] + list(text.encode())
X = torch.tensor([ids[:T]])


def hf_logprobs(model_dir):
    m = transformers.GPT2LMHeadModel.from_pretrained(model_dir)
    m.eval()
    with torch.no_grad():
        return torch.log_softmax(m(X).logits[0].double(), -1).numpy()


def alim_logprobs(model_dir):
    open(os.path.join(tmp, "w.txt"), "w").write(text[:T - 1])  # EOT + T-1 bytes + EOT = T+1 tokens
    out = os.path.join(tmp, "lp.safetensors")
    p = alim("eval", "--model", model_dir, "--data", os.path.join(tmp, "w.txt"), "--context", str(T), "--dump-logprobs", out)
    return R.read_safetensors(out)[0]["logprobs"] if p.returncode == 0 else None


# 1. alim -> transformers
a_dir = os.path.join(tmp, "alim-model")
p = alim("train", "--data", data, "--out", a_dir, "--layers", "2", "--dim", "32", "--heads", "4", "--context", "64",
         "--steps", "20", "--lr", "3e-3", "--batch", "4")
ck.check(p.returncode == 0, "alim train")
hf = hf_logprobs(a_dir)
al = alim_logprobs(a_dir)
ck.check(al is not None and al.shape == hf.shape, "shapes")
if al is not None:
    err = np.abs(al - hf).max()
    print(f"alim checkpoint in GPT2LMHeadModel: max |diff| of log-probabilities {err:.3g}")
    ck.check(err < 1e-4, f"alim -> HF log-probabilities agree ({err:.3g})")

# 2. transformers -> alim
h_dir = os.path.join(tmp, "hf-model")
cfg = transformers.GPT2Config(vocab_size=257, n_positions=64, n_embd=48, n_layer=2, n_head=4,
                              bos_token_id=256, eos_token_id=256)
torch.manual_seed(0)
m = transformers.GPT2LMHeadModel(cfg)
m.save_pretrained(h_dir, safe_serialization=True)
R.write_byte_tokenizer(h_dir)
hf = hf_logprobs(h_dir)
al = alim_logprobs(h_dir)
if al is not None:
    err = np.abs(al - hf).max()
    print(f"GPT2LMHeadModel.save_pretrained in alim: max |diff| of log-probabilities {err:.3g}")
    ck.check(err < 1e-4, f"HF -> alim log-probabilities agree ({err:.3g})")
else:
    ck.check(False, "alim reads the HF checkpoint")

# 3. BPE ids
tok_dir = os.path.join(tmp, "tok")
corpus = os.path.join(tmp, "corpus.txt")
open(corpus, "w").write(open(__file__).read() * 3)
p = alim("tokenizer", "train", "--vocab", "600", "--out", tok_dir, corpus)
ck.check(p.returncode == 0, "alim tokenizer train")
t = Tokenizer(models.BPE.from_file(os.path.join(tok_dir, "vocab.json"), os.path.join(tok_dir, "merges.txt")))
t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
t.decoder = decoders.ByteLevel()
samples = ["Hello world, it's 2024!", "  indented\n\tcode = x + 1;  ", open(__file__).read()[:2000],
           "don't stop   me   now\n\n\nend"]
for s in samples:
    ref = t.encode(s).ids
    p = alim("tokenizer", "encode", "--tokenizer", tok_dir, "--text", s, "--json")
    got = json.loads(p.stdout)["ids"] if p.returncode == 0 else None
    ck.check(got == ref, f"BPE ids of {s[:30]!r}: alim {None if got is None else got[:12]} vs tokenizers {ref[:12]}")
sys.exit(ck.finish())
