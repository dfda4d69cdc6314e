"""make_seeds.py — writes the GGUF seeds of fuzz_gguf and fuzz_gguf_model as hex text
(fuzz/corpus/<harness>/*.hex, decoded by fuzz/seeds.sh): small valid files made with the
`gguf` package (gguf 0.19.0, the venv of scripts/pyvenv.sh). Run once when the seeds change:
    $(scripts/pyvenv.sh) fuzz/make_seeds.py
Nothing here is downloaded; the values are fixed, so the files are reproducible."""
import os
import sys
import tempfile

import gguf
import numpy as np

Q = gguf.GGMLQuantizationType
here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(13)


sys.path.insert(0, os.path.join(here, "..", "tests", "ref"))
from gpt_ref import bytes_to_unicode  # noqa: E402  GPT-2's byte alphabet


def save(harness, name, build, arch="llama"):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "f.gguf")
        w = gguf.GGUFWriter(path, arch)
        build(w)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        data = open(path, "rb").read()
    os.makedirs(os.path.join(here, "corpus", harness), exist_ok=True)
    hexed = data.hex()
    with open(os.path.join(here, "corpus", harness, name + ".hex"), "w") as f:
        for i in range(0, len(hexed), 64):
            f.write(hexed[i:i + 64] + "\n")
    print(f"{harness}/{name}: {len(data)} bytes")


def quant(w, name, a, qt):
    if qt == Q.F32:
        w.add_tensor(name, a.astype(np.float32))
    elif qt == Q.F16:
        w.add_tensor(name, a.astype(np.float16))
    elif qt in (Q.Q4_K, Q.Q5_K, Q.Q6_K):
        # gguf-py cannot quantise to the K types: random block bytes (only read here)
        bs, bb = gguf.GGML_QUANT_SIZES[qt]
        d = rng.integers(0, 256, size=(a.shape[0], a.shape[1] // bs * bb), dtype=np.uint8)
        w.add_tensor(name, d, raw_shape=d.shape, raw_dtype=qt)
    else:
        d = gguf.quants.quantize(a.astype(np.float32), qt)
        w.add_tensor(name, d, raw_shape=d.shape, raw_dtype=qt)


def metadata(w):
    """one key of every metadata type, arrays of several types and a nested array"""
    w.add_uint8("t.u8", 200)
    w.add_int8("t.i8", -5)
    w.add_uint16("t.u16", 60000)
    w.add_int16("t.i16", -300)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -7)
    w.add_float32("t.f32", 1.5)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "h\u00e9llo")
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**40))
    w.add_float64("t.f64", -2.25)
    w.add_array("t.arr_i", [1, -2, 3])
    w.add_array("t.arr_f", [0.5, 1.5])
    w.add_array("t.arr_s", ["a", "bc", ""])
    w.add_array("t.arr_b", [True, False])
    w.add_array("t.arr_nested", [[1, 2], [3]])
    w.add_array("t.arr_empty", [])
    w.add_uint32("general.alignment", 64)


def small_tensors(qtypes):
    def build(w):
        metadata(w)
        for qt in qtypes:
            cols = 32 if qt in (Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1) else 256 if qt in (Q.Q4_K, Q.Q5_K, Q.Q6_K) else 3
            rows = 2 if cols < 256 else 1
            quant(w, f"w.{qt.name.lower()}", rng.standard_normal((rows, cols)), qt)
    return build


save("fuzz_gguf", "meta-f32-f16", small_tensors([Q.F32, Q.F16]))
save("fuzz_gguf", "bf16-q8", small_tensors([Q.BF16, Q.Q8_0]))
save("fuzz_gguf", "q4-q5", small_tensors([Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1]))
save("fuzz_gguf", "q4k", small_tensors([Q.Q4_K]))
save("fuzz_gguf", "q5k", small_tensors([Q.Q5_K]))
save("fuzz_gguf", "q6k", small_tensors([Q.Q6_K]))


def tiny_model(arch, qt, merges, pre, bias=False, tied=False):
    """a Llama/Qwen2 model of 1 layer, dim 8, 2 heads (1 KV head), vocab 12"""
    V, C, F, H, KV = 12, 8, 8, 2, 1
    hs = C // H
    b2u = bytes_to_unicode()
    tokens = [b2u[b] for b in b"abehlorw "] + ["\u0120w", "he", "<|endoftext|>"]

    def build(w):
        w.add_block_count(1)
        w.add_context_length(16)
        w.add_embedding_length(C)
        w.add_feed_forward_length(F)
        w.add_head_count(H)
        w.add_head_count_kv(KV)
        w.add_rope_freq_base(10000.0)
        w.add_layer_norm_rms_eps(1e-5)
        w.add_rope_dimension_count(hs)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types([1] * (V - 1) + [3])
        if merges:
            w.add_token_merges(["\u0120 w", "h e"])
        w.add_bos_token_id(V - 1)
        w.add_eos_token_id(V - 1)
        w.add_add_bos_token(False)
        quant(w, "token_embd.weight", 0.1 * rng.standard_normal((V, C)), qt)
        quant(w, "output_norm.weight", 1 + 0.1 * rng.standard_normal(C), Q.F32)
        if not tied:
            quant(w, "output.weight", 0.1 * rng.standard_normal((V, C)), qt)
        p = "blk.0."
        quant(w, p + "attn_norm.weight", 1 + 0.1 * rng.standard_normal(C), Q.F32)
        quant(w, p + "attn_q.weight", 0.1 * rng.standard_normal((C, C)), qt)
        quant(w, p + "attn_k.weight", 0.1 * rng.standard_normal((KV * hs, C)), qt)
        quant(w, p + "attn_v.weight", 0.1 * rng.standard_normal((KV * hs, C)), qt)
        if bias:
            for n, k in (("attn_q.bias", C), ("attn_k.bias", KV * hs), ("attn_v.bias", KV * hs)):
                quant(w, p + n, 0.1 * rng.standard_normal(k), Q.F32)
        quant(w, p + "attn_output.weight", 0.1 * rng.standard_normal((C, C)), qt)
        quant(w, p + "ffn_norm.weight", 1 + 0.1 * rng.standard_normal(C), Q.F32)
        quant(w, p + "ffn_gate.weight", 0.1 * rng.standard_normal((F, C)), qt)
        quant(w, p + "ffn_up.weight", 0.1 * rng.standard_normal((F, C)), qt)
        quant(w, p + "ffn_down.weight", 0.1 * rng.standard_normal((C, F)), qt)
    return build




def huge_config(w):
    """regression: 1000 layers of width 4096 declared by a file of a few hundred bytes; the
    loader sized the model (976 GB) before reading a tensor"""
    w.add_block_count(1000)
    w.add_context_length(16)
    w.add_embedding_length(4096)
    w.add_feed_forward_length(16384)
    w.add_head_count(32)
    w.add_head_count_kv(8)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["a", "b"])
    w.add_tensor("token_embd.weight", np.zeros((2, 8), np.float32))


save("fuzz_gguf_model", "regress-huge-config", huge_config, "llama")
save("fuzz_gguf_model", "llama-f32", tiny_model("llama", Q.F32, True, "llama-bpe"), "llama")
save("fuzz_gguf_model", "llama-f16-tied", tiny_model("llama", Q.F16, False, "default", tied=True), "llama")
save("fuzz_gguf_model", "qwen2-bias", tiny_model("qwen2", Q.F32, True, "qwen2", bias=True), "qwen2")


# ---- tokenizer.json (fuzz_tokenizer_json) and GGUF tokenizer parts (fuzz_tokenizer_parts):
# text seeds, written as they are
import json  # noqa: E402

B2U = bytes_to_unicode()
GPT2_PAT = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PAT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def text_seed(harness, name, text):
    os.makedirs(os.path.join(here, "corpus", harness), exist_ok=True)
    with open(os.path.join(here, "corpus", harness, name), "w", encoding="utf-8") as f:
        f.write(text)
    print(f"{harness}/{name}: {len(text.encode())} bytes")


def vocab_of(byte_values, merges):
    """byte tokens, then the merges' results in order"""
    toks = [B2U[b] for b in byte_values]
    for a, b in merges:
        toks.append(a + b)
    return {t: i for i, t in enumerate(dict.fromkeys(toks))}


def tokenizer_json(byte_values, merges, pre, normalizer=None, added=(), ignore_merges=False, pairs=False,
                   post=None):
    vocab = vocab_of(byte_values, merges)
    added_tokens = []
    for content in added:
        added_tokens.append({"id": len(vocab) + len(added_tokens), "content": content, "single_word": False,
                             "lstrip": False, "rstrip": False, "normalized": False, "special": True})
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
        "normalizer": normalizer, "pre_tokenizer": pre, "post_processor": post,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": ignore_merges, "vocab": vocab,
                  "merges": [[a, b] for a, b in merges] if pairs else [f"{a} {b}" for a, b in merges]}},
        ensure_ascii=False, indent=1)


G = "\u0120"
byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
byte_level_noregex = dict(byte_level, use_regex=False)
letters = list(range(256))  # every byte has its token: any text encodes
text_seed("fuzz_tokenizer_json", "gpt2.json",
          tokenizer_json(range(256), [("l", "l"), (G, "w"), ("ll", "o"), ("H", "e")], byte_level,
                         added=["<|endoftext|>"], post={"type": "ByteLevel", "add_prefix_space": True,
                                                         "trim_offsets": False, "use_regex": True}))
bot = "<|begin_of_text|>"
llama3_vocab = len(vocab_of(letters, [("l", "l"), ("ll", "o"), (G, "w")]))
text_seed("fuzz_tokenizer_json", "llama3.json",
          tokenizer_json(letters, [("l", "l"), ("ll", "o"), (G, "w")],
                         {"type": "Sequence", "pretokenizers": [
                             {"type": "Split", "pattern": {"Regex": LLAMA3_PAT}, "behavior": "Isolated", "invert": False},
                             byte_level_noregex]},
                         added=[bot, "<|end_of_text|>"], ignore_merges=True, pairs=True,
                         post={"type": "TemplateProcessing",
                               "single": [{"SpecialToken": {"id": bot, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                               "pair": [{"SpecialToken": {"id": bot, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                        {"SpecialToken": {"id": bot, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                               "special_tokens": {bot: {"id": bot, "ids": [llama3_vocab], "tokens": [bot]}}})
          + "\n%%CONFIG%%\n" + json.dumps({"bos_token": bot, "eos_token": "<|end_of_text|>"}))
text_seed("fuzz_tokenizer_json", "qwen2.json",
          tokenizer_json(letters, [("e", "l"), ("el", "l"), (G, "w")],
                         {"type": "Sequence", "pretokenizers": [
                             {"type": "Split", "pattern": {"Regex": LLAMA3_PAT}, "behavior": "Isolated", "invert": False},
                             byte_level_noregex]},
                         normalizer={"type": "NFC"}, added=["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
          + "\n%%CONFIG%%\n" + json.dumps({"eos_token": {"content": "<|im_end|>", "__type": "AddedToken"}}))
text_seed("fuzz_tokenizer_json", "smollm.json",
          tokenizer_json(letters, [("H", "e"), ("He", "l"), ("1", "2")],
                         {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, byte_level]},
                         normalizer={"type": "Sequence", "normalizers": [{"type": "NFC"}]},
                         added=["<|endoftext|>", "<|im_start|>"]))

# parts: pre name, "bos eos unk pad add_bos", tokens, %%MERGES%%, merges, %%TYPES%%, types
part_tokens = [B2U[b] for b in letters] + ["ll", "llo", G + "w", "<|endoftext|>", "<|im_start|>", "<tool>"]
types = "1" * (len(part_tokens) - 3) + "334"
for pre in ("llama-bpe", "qwen2", "smollm", "gpt2", "default"):
    n = len(part_tokens)
    text_seed("fuzz_tokenizer_parts", pre + ".txt",
              f"{pre}\n{n - 3} {n - 3} -1 -1 {1 if pre == 'llama-bpe' else 0}\n" + "\n".join(part_tokens)
              + "\n%%MERGES%%\nl l\nll o\n" + G + " w\n%%TYPES%%\n" + types)
