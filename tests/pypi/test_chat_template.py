"""test_chat_template.py — alim's chat templates against Hugging Face.

A tiny byte-level BPE tokenizer (with <|im_start|>, <|eot_id|>, ... as special added tokens)
and a tiny random Llama model are built at test time and saved as a Hugging Face directory
with a chat template in tokenizer_config.json: SmolLM2's (read from the real GGUF file's
metadata with the gguf package when the file is present, else the well-known text), Qwen2.5's
default-system ChatML, Meta-Llama-3's and Llama 3.1's. For each, with and without a system
message:
  - the prompt alim renders (`alim sample --chat --dump-prompt`): text and token ids against
    tokenizer.apply_chat_template(..., add_generation_prompt=True) when jinja2 is installed,
    else against a rendering written here from the template text and tokenized by HF
    `tokenizers` (the ids of apply_chat_template are exactly those: it renders, then encodes
    without adding special tokens);
  - greedy chat replies (`alim sample --chat --temperature 0`) against model.generate;
  - the masks of a JSONL file (`alim eval --dump-tokens`): TRL's prompt-completion rule,
    mask 0 on the tokens of the prompt rendered alone with the generation prompt, 1 on the
    rest of the conversation (response, end-of-turn, ChatML's "\\n"), 0 on the EOT after it.
Bad templates: a one-line error naming the template, exit 2; --template none still works.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM

ALIM = os.environ.get("ALIM", "build/alim")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import Checker, smollm2_path  # noqa: E402
GGUF = os.environ.get("SMOLLM2_GGUF") or smollm2_path()
CK = Checker("test_chat_template")
check = CK.check
torch.set_num_threads(2)
torch.manual_seed(0)
tmp = tempfile.mkdtemp()



try:
    import jinja2  # noqa: F401
    HAVE_JINJA = True
except ImportError:
    HAVE_JINJA = False

# ---- the templates ------------------------------------------------------------------------

SMOLLM2 = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"
           "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + "
           "message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
           "'<|im_start|>assistant\n' }}{% endif %}")
smollm2_source = "embedded"
if os.path.exists(GGUF):
    import gguf
    f = gguf.GGUFReader(GGUF).fields["tokenizer.chat_template"]
    SMOLLM2 = bytes(f.parts[f.data[0]]).decode("utf-8")
    smollm2_source = "GGUF"

QWEN25 = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {{- "\\n\\n# Tools<|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""

LLAMA3 = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + "
          "message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
          "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ "
          "'<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}")

LLAMA31 = """{{- bos_token }}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\\n\\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\\n" }}
{{- "Today Date: " + date_string + "\\n\\n" }}
{{- system_message }}
{{- "<|eot_id|>" }}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""


# ---- the oracle renderings (from the template texts above) ----------------------------------

def chatml(default_system):
    def render(msgs, gen):
        out = ""
        if default_system is not None and msgs[0]["role"] != "system":
            out += "<|im_start|>system\n" + default_system + "<|im_end|>\n"
        for m in msgs:
            out += "<|im_start|>" + m["role"] + "\n" + m["content"] + "<|im_end|>\n"
        return out + ("<|im_start|>assistant\n" if gen else "")
    return render


def llama3(bos, v31):
    def render(msgs, gen):
        out = bos
        if v31:
            sysm = msgs[0]["content"].strip() if msgs[0]["role"] == "system" else ""
            if msgs[0]["role"] == "system":
                msgs = msgs[1:]
            out += ("<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                    "Today Date: 26 Jul 2024\n\n" + sysm + "<|eot_id|>")
        for m in msgs:
            out += "<|start_header_id|>" + m["role"] + "<|end_header_id|>\n\n" + m["content"].strip() + "<|eot_id|>"
        return out + ("<|start_header_id|>assistant<|end_header_id|>\n\n" if gen else "")
    return render


# ---- a tiny tokenizer and model ----------------------------------------------------------------

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>",
            "<|end_header_id|>", "<|eot_id|>"]
corpus = ["The capital of France is Paris. What is two plus two? It is four.",
          "You are a helpful assistant. Hello there, how are you today?",
          "Zürich, café, naïve; 東京 and Привет! 12345 apples   and\ttabs\n\nnew lines"] * 20
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
tok.decoder = decoders.ByteLevel()
tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=400, min_frequency=2, show_progress=False,
                                                     special_tokens=[], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
V = tok.get_vocab_size()
model_dir = os.path.join(tmp, "model")
cfg = LlamaConfig(vocab_size=V, hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                  num_key_value_heads=1, max_position_embeddings=512, tie_word_embeddings=True,
                  bos_token_id=tok.token_to_id("<|begin_of_text|>"), eos_token_id=tok.token_to_id("<|endoftext|>"))
model = LlamaForCausalLM(cfg).eval()
with torch.no_grad():  # larger weights: greedy replies that are not all one token
    for p in model.parameters():
        p.mul_(8.0)
model.save_pretrained(model_dir, safe_serialization=True)
tok.save(os.path.join(model_dir, "tokenizer.json"))
B2U = None


def token_bytes(ids):
    global B2U
    if B2U is None:
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
        cs, n = bs[:], 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        B2U = {chr(c): b for b, c in zip(bs, cs)}
    out = b""
    for i in ids:
        s = tok.id_to_token(i)
        out += s.encode() if s in SPECIALS else bytes(B2U[c] for c in s)
    return out


def with_template(name, template, eos):
    """A directory holding the model with this chat template (symlinked weights)."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    for f in os.listdir(model_dir):
        os.symlink(os.path.join(model_dir, f), os.path.join(d, f))
    json.dump({"chat_template": template, "bos_token": "<|begin_of_text|>", "eos_token": eos,
               "tokenizer_class": "PreTrainedTokenizerFast"}, open(os.path.join(d, "tokenizer_config.json"), "w"))
    return d


def alim(*args):
    return subprocess.run([ALIM, *args], capture_output=True)


def hf_render(d, msgs, gen):
    """apply_chat_template's text and ids (only with jinja2)."""
    from transformers import PreTrainedTokenizerFast
    t = PreTrainedTokenizerFast.from_pretrained(d)
    return (t.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen),
            t.apply_chat_template(msgs, tokenize=True, add_generation_prompt=gen))


CASES = [
    ("smollm2", SMOLLM2, "<|im_end|>", chatml("You are a helpful AI assistant named SmolLM, trained by Hugging Face")),
    ("qwen2.5", QWEN25, "<|im_end|>", chatml("You are Qwen, created by Alibaba Cloud. You are a helpful assistant.")),
    ("llama3", LLAMA3, "<|eot_id|>", llama3("<|begin_of_text|>", False)),
    ("llama3.1", LLAMA31, "<|eot_id|>", llama3("<|begin_of_text|>", True)),
]
CONVS = [(None, "What is the capital of France?"),
         ("Be brief.", "  Hello there!\n"),
         ("", "Zürich café 東京 12345\tand Привет"),
         (" \u00a0You are a helpful assistant.\u3000", "two plus two?")]
RECORDS = [("What is two plus two?", "It is four."),
           ("Hello", " how are you?\n"),
           ("Zürich café", "\n\nnaïve 東京 12345  "),
           ("<|im_start|> inside a prompt", "apples")]

for name, template, eos, render in CASES:
    d = with_template(name, template, eos)
    eot_turn = tok.token_to_id(eos)
    for system, user in CONVS:
        msgs = ([{"role": "system", "content": system}] if system is not None else []) + [{"role": "user", "content": user}]
        want_text = render(msgs, True)
        want_ids = tok.encode(want_text, add_special_tokens=False).ids
        if HAVE_JINJA:
            hf_text, hf_ids = hf_render(d, msgs, True)
            check(hf_text == want_text, f"{name}: the oracle rendering is apply_chat_template's: {hf_text!r} vs {want_text!r}")
            want_text, want_ids = hf_text, hf_ids
        args = ["sample", "--model", d, "--chat", "--prompt", user, "--dump-prompt"] + (["--system", system] if system is not None else [])
        p = alim(*args)
        got = json.loads(p.stdout) if p.returncode == 0 else {}
        check(p.returncode == 0, f"{name}: alim sample --dump-prompt: {p.stderr.decode()}")
        check(got.get("text") == want_text, f"{name} system={system!r}: text {got.get('text')!r} != {want_text!r}")
        check(got.get("ids") == want_ids, f"{name} system={system!r}: ids {got.get('ids')} != {want_ids}")
        check(eot_turn in got.get("stop_ids", []), f"{name}: stops at {eos}")
        # greedy reply against transformers
        p = alim(*[a for a in args if a != "--dump-prompt"], "--temperature", "0", "--tokens", "12")
        # (a plain greedy loop: generate() imports torch.distributed, which Debian's torch 1.13
        # cannot import under Python 3.11)
        out, ids = [], list(want_ids)
        with torch.no_grad():
            for _ in range(12):
                nxt = int(torch.argmax(model(torch.tensor([ids])).logits[0, -1]))
                if nxt in (got.get("stop_ids") or [eot_turn]):
                    break
                out.append(nxt)
                ids.append(nxt)
        want_reply = token_bytes(out)
        check(p.returncode == 0 and p.stdout == want_reply + b"\n",
              f"{name} system={system!r}: greedy reply {p.stdout!r} != transformers' {want_reply!r}")
    # masks of a JSONL file
    data = os.path.join(tmp, name + ".jsonl")
    with open(data, "w", encoding="utf-8") as f:
        for pr, re_ in RECORDS:
            f.write(json.dumps({"prompt": pr, "response": re_}, ensure_ascii=False) + "\n")
    dump = os.path.join(tmp, name + ".tokens.json")
    p = alim("eval", "--model", d, "--data", data, "--dump-tokens", dump)
    check(p.returncode == 0, f"{name}: alim eval --dump-tokens: {p.stderr.decode()}")
    got = json.load(open(dump)) if p.returncode == 0 else {"tokens": [], "mask": []}
    eot = got["tokens"][0] if got["tokens"] else -1
    check(eot == tok.token_to_id("<|endoftext|>"), f"{name}: the stream starts with the document separator")
    want_tokens, want_mask = [eot], [0]
    for pr, re_ in RECORDS:
        prompt = [{"role": "user", "content": pr}]
        full = prompt + [{"role": "assistant", "content": re_}]
        if HAVE_JINJA:
            p_ids, f_ids = hf_render(d, prompt, True)[1], hf_render(d, full, False)[1]
        else:
            p_ids = tok.encode(render(prompt, True), add_special_tokens=False).ids
            f_ids = tok.encode(render(full, False), add_special_tokens=False).ids
        check(f_ids[:len(p_ids)] == p_ids, f"{name}: the prompt's tokens start the conversation's ({pr!r})")
        want_tokens += f_ids + [eot]
        want_mask += [0] * len(p_ids) + [1] * (len(f_ids) - len(p_ids)) + [0]
    check(got["tokens"] == want_tokens, f"{name}: JSONL tokens {got['tokens']} != {want_tokens}")
    check(got["mask"] == want_mask, f"{name}: JSONL mask {got['mask']} != {want_mask}")
    # the end-of-turn token is counted, once per record
    counted = [t for t, m in zip(got["tokens"], got["mask"]) if m]
    check(counted.count(eot_turn) == len(RECORDS), f"{name}: {eos} counted once per record")
    # --template none: today's masks (prompt then response, the EOT counted)
    p = alim("eval", "--model", d, "--data", data, "--template", "none", "--dump-tokens", dump)
    got = json.load(open(dump)) if p.returncode == 0 else {"tokens": [], "mask": []}
    want_tokens, want_mask = [eot], [0]
    for pr, re_ in RECORDS:
        a, b = tok.encode(pr, add_special_tokens=False).ids, tok.encode(re_, add_special_tokens=False).ids
        want_tokens += a + b + [eot]
        want_mask += [0] * len(a) + [1] * (len(b) + 1)
    check(got["tokens"] == want_tokens and got["mask"] == want_mask, f"{name}: --template none keeps plain prompt + response")

# the real SmolLM2's prompt ids, with its own tokenizer rebuilt from the GGUF vocabulary
# (byte-level BPE, single digits then GPT-2's pattern, control tokens as special added tokens)
if smollm2_source == "GGUF":
    r = gguf.GGUFReader(GGUF)
    field = lambda k: [bytes(r.fields[k].parts[i]) for i in r.fields[k].data]
    toks = [b.decode("utf-8") for b in field("tokenizer.ggml.tokens")]
    merges = [b.decode("utf-8") for b in field("tokenizer.ggml.merges")]
    types = [int(r.fields["tokenizer.ggml.token_type"].parts[i][0]) for i in r.fields["tokenizer.ggml.token_type"].data]
    t = Tokenizer(models.BPE({s: i for i, s in enumerate(toks)}, [tuple(m.split(" ", 1)) for m in merges]))
    t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                               pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    t.add_special_tokens([AddedToken(s, special=True, normalized=False) for s, ty in zip(toks, types) if ty == 3])
    render = chatml("You are a helpful AI assistant named SmolLM, trained by Hugging Face")
    for system, user in CONVS[:2]:  # (loading the 135M model takes seconds)
        msgs = ([{"role": "system", "content": system}] if system is not None else []) + [{"role": "user", "content": user}]
        p = alim("sample", "--model", GGUF, "--chat", "--prompt", user, "--dump-prompt", *(["--system", system] if system is not None else []))
        got = json.loads(p.stdout) if p.returncode == 0 else {}
        want = t.encode(render(msgs, True), add_special_tokens=False).ids
        check(got.get("ids") == want, f"SmolLM2 GGUF system={system!r}: prompt ids {got.get('ids')} != {want}")
        check(got.get("stop_ids", [None])[0] == toks.index("<|im_end|>"), "SmolLM2 GGUF: stops at <|im_end|>")

# ---- errors --------------------------------------------------------------------------------
bad = with_template("bad", "{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}", "<|endoftext|>")
data = os.path.join(tmp, "bad.jsonl")
open(data, "w").write('{"prompt": "a", "response": "b"}\n')
for args in (["eval", "--model", bad, "--data", data], ["sample", "--model", bad, "--chat", "--prompt", "x"],
             ["train", "--init", bad, "--data", data, "--out", os.path.join(tmp, "bad-out"), "--steps", "1"]):
    p = alim(*args)
    err = p.stderr.decode()
    check(p.returncode == 2 and err.count("\n") == 1 and "chat template not recognised" in err and "[INST]" in err
          and "tokenizer_config.json" in err, f"{args[0]}: bad template: rc {p.returncode}: {err!r}")
check(not os.path.exists(os.path.join(tmp, "bad-out", "model.safetensors")), "train wrote nothing")
p = alim("eval", "--model", bad, "--data", data, "--template", "none", "--json")
check(p.returncode == 0, f"--template none ignores the unrecognised template: {p.stderr.decode()}")
txt = os.path.join(tmp, "plain.txt")
open(txt, "w").write("plain text needs no template")
p = alim("eval", "--model", bad, "--data", txt, "--json")
check(p.returncode == 0, f"text data needs no template: {p.stderr.decode()}")
p = alim("eval", "--model", bad, "--data", data, "--template", "jinja")
check(p.returncode == 2 and b"--template" in p.stderr, "unknown --template value")
p = alim("sample", "--model", model_dir, "--chat", "--prompt", "x")
check(p.returncode == 2 and b"has no chat template" in p.stderr, f"--chat without a template: {p.stderr!r}")
p = alim("sample", "--model", model_dir, "--system", "x", "--prompt", "x")
check(p.returncode == 2 and b"needs --chat" in p.stderr, "--system needs --chat")

print(f"(chat templates compared with {'apply_chat_template (jinja2)' if HAVE_JINJA else 'renderings written from the template texts (no jinja2)'}; "
      f"SmolLM2 template from the {smollm2_source} text)")
shutil.rmtree(tmp, ignore_errors=True)
sys.exit(CK.finish())
