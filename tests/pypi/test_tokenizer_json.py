"""test_tokenizer_json.py — alim's tokenizers against Hugging Face tokenizers 0.20.3, id for id.

Builds byte-level BPE tokenizer.json files here with `tokenizers` (trained on a few KB of
generated multilingual text; nothing downloaded), one per pre-tokeniser family:
  gpt2     ByteLevel(use_regex)                                  merges as "a b" strings
  llama3   Split(Llama 3 regex) + ByteLevel(use_regex=False), ignore_merges, BOS template,
           plus whole-word vocab entries that no merge reaches     merges as pairs
  qwen2    NFC + Split(Qwen2 regex) + ByteLevel(use_regex=False), specials after the vocab
                                                                   merges as "a b" strings
  smollm2  Digits(individual) + ByteLevel(use_regex), specials after the vocab (pairs)
and compares `alim tokenizer encode --model DIR --json` with tokenizer.encode(text).ids on
Unicode-heavy text (NFC/NFD accents, CJK, Cyrillic, Arabic, emoji with ZWJ, digit runs,
contractions, whitespace runs, tabs, CRLF, special tokens in the text); decode round trips
against tokenizer.decode; `alim tokenizer save` writes a tokenizer.json that HF loads and
encodes identically; alim's own GPT-2 format (vocab.json + merges.txt) against
ByteLevelBPETokenizer on non-ASCII text; invalid UTF-8 never fails and round-trips; bad
files (Unigram, WordPiece, unknown pre-tokenizer, broken JSON) give one error line naming
the file, exit 2.
"""
import atexit
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unicodedata

from tokenizers import ByteLevelBPETokenizer, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers

ALIM = os.environ.get("ALIM", "build/alim")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle import Checker  # noqa: E402
CK = Checker("test_tokenizer_json")
check = CK.check
NAME = "test_tokenizer_json"
tmp = tempfile.mkdtemp()
atexit.register(shutil.rmtree, tmp, True)

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
WHOLE = "qqqqq Zyxwvut 987654 東京都 Ωμέγα Zyxwvut"  # words the llama3 vocab holds whole (ignore_merges)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>"]



# ---- text ----------------------------------------------------------------------------------

WORDS = {
    "en": "the cat sat on a mat it's we'll they're I'd you've don't HELLO World's SHE'LL".split(),
    "fr": ["café", "déjà", "élève", "où", "garçon", "naïve", "Noël", "être"],
    "de": ["Straße", "Übermäßig", "schön", "Größe", "Bären"],
    "ru": ["привет", "мир", "Москва", "ёлка", "съешь", "ещё"],
    "el": ["καλημέρα", "κόσμε", "Ἀθῆναι"],
    "ar": ["مرحبا", "بالعالم", "السلام", "عليكم", "٣٤٥"],
    "zh": ["你好", "世界", "中文分词", "机器学习"],
    "ja": ["こんにちは", "カタカナ", "日本語"],
    "ko": ["안녕하세요", "세계"],
    "emoji": ["😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷"],
    "num": ["0", "7", "42", "123", "2024", "31415926", "1,000,000", "3.14", "½", "²"],
    "punct": ["!", "?", "...", "—", "«", "»", "(", ")", "{x}", "#", "$", "%", "&&", "->", "'", "\""],
}


def sentence(rng):
    out = []
    for _ in range(rng.randint(3, 12)):
        lang = rng.choice(list(WORDS))
        w = rng.choice(WORDS[lang])
        if rng.random() < 0.2:
            w = unicodedata.normalize("NFD", w)
        out.append(w)
        out.append(rng.choice([" ", " ", " ", "  ", "\t", ", ", "\n", "\r\n", " \n ", ""]))
    return "".join(out)


rng = random.Random(5)
corpus = [sentence(rng) for _ in range(400)]

TEXTS = [
    "Hello world! It's a test; we'LL see what they'RE doing, don't you?",
    "café déjà vu",                                       # NFC
    unicodedata.normalize("NFD", "café déjà vu Åström"),  # NFD: Qwen2's NFC changes it
    "Größe: 123456789 und 3.14159 — 1,000,000 £ ½ ² ٣٤٥",
    "привет, мир! Ёлка ещё…",
    "你好，世界。机器学习很有趣！中文分词",
    "こんにちは世界 カタカナ 안녕하세요",
    "مرحبا بالعالم، السلام عليكم",
    "emoji: 😀👍🏽 family 👨‍👩‍👧‍👦 flag 🏳️‍🌈🇫🇷 ❤️",
    "tabs\tand\t\ttabs   and    spaces     \n\n\n  end  ",
    "line one\r\nline two\r\n\r\nthree\n",
    "   leading and trailing   ",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\nHi there!<|im_end|>",
    "<|begin_of_text|>The end.<|endoftext|>next document<|endoftext|>",
    "<|im_start|><|im_end|><|endoftext|><|endoftext|>",
    "half <|im_start and <|endoftext| not specials <|",
    "x" * 300 + " " * 200 + "y",
    "a\u00a0b\u2003c\u3000d\u200be",   # NBSP, em space, ideographic space, zero-width space
    "ÀÁÂÃÄÅ àáâãäå ﬁ ﬂ Ω Ω",
    WHOLE,
    "",
] + [sentence(random.Random(100 + i)) for i in range(12)]


# ---- the tokenizers -----------------------------------------------------------------------


def train(family):
    tok = Tokenizer(models.BPE(ignore_merges=family == "llama3"))
    if family == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    elif family == "llama3":
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    elif family == "qwen2":
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    in_vocab = family in ("gpt2", "llama3")  # else: added after training, ids after the vocab
    trainer = trainers.BpeTrainer(vocab_size=700, min_frequency=2, show_progress=False,
                                  special_tokens=SPECIALS if in_vocab else [],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    if not in_vocab:
        tok.add_special_tokens(SPECIALS)
    if family == "llama3":
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                          special_tokens=[("<|begin_of_text|>", bos)])])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    d = os.path.join(tmp, family)
    os.makedirs(d)
    path = os.path.join(d, "tokenizer.json")
    tok.save(path)
    j = json.load(open(path, encoding="utf-8"))
    m = j["model"]
    if family in ("gpt2", "qwen2"):  # the older "a b" form of merges
        m["merges"] = [" ".join(p) if isinstance(p, list) else p for p in m["merges"]]
    if family == "llama3":
        # whole-word tokens with no merge path: only ignore_merges produces them
        b2u = bytes_to_unicode()
        extra = ["".join(b2u[b] for b in w.encode()) for w in (" Zyxwvut", "qqqqq", "987", " 東京都", " Ωμέγα")]
        extra = [w for w in extra if w not in m["vocab"]]
        top = max(max(m["vocab"].values()), max(t["id"] for t in j["added_tokens"])) + 1
        for i, w in enumerate(extra):
            m["vocab"][w] = top + i
    json.dump(j, open(path, "w", encoding="utf-8"), ensure_ascii=False)
    return d, Tokenizer.from_file(path)


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def alim(*args, data=None):
    return subprocess.run([ALIM, "tokenizer", *args], capture_output=True, input=data)


def alim_encode(d, text_bytes):
    f = os.path.join(tmp, "text.bin")
    open(f, "wb").write(text_bytes)
    p = alim("encode", "--model", d, "--json", f)
    if p.returncode != 0:
        return None, p.stderr.decode(errors="replace")
    return json.loads(p.stdout), ""


def alim_decode(d, ids):
    p = alim("decode", "--model", d, *map(str, ids))
    return p.stdout[:-1] if p.returncode == 0 and p.stdout.endswith(b"\n") else None


def compare(d, hf, family, label):
    bad = 0
    for text in TEXTS:
        want = hf.encode(text, add_special_tokens=False).ids
        got, msg = alim_encode(d, text.encode("utf-8"))
        ok = got is not None and got["ids"] == want
        if not ok and bad < 3:
            print(f"{label}: {text[:40]!r}: alim {got and got['ids'][:20]} {msg}\n  hf {want[:20]}", file=sys.stderr)
        bad += not ok
        check(ok, f"{label}: ids of {text[:40]!r}")
        if ok and want:
            dec = alim_decode(d, want)
            check(dec is not None and dec == hf.decode(want, skip_special_tokens=False).encode("utf-8"),
                  f"{label}: decode of {text[:40]!r} equals HF's")
            norm = unicodedata.normalize("NFC", text) if family == "qwen2" else text
            check(dec == norm.encode("utf-8"), f"{label}: decode round trip of {text[:40]!r}")
    return bad


# ---- the four families, saved again by alim -------------------------------------------------

for family in ("gpt2", "llama3", "qwen2", "smollm2"):
    d, hf = train(family)
    compare(d, hf, family, family)
    got, _ = alim_encode(d, b"x")
    want_bos = hf.token_to_id("<|begin_of_text|>") if family == "llama3" else None
    check(got is not None and got["add_bos"] == (family == "llama3"), f"{family}: add_bos")
    if family == "llama3":
        check(got["bos_id"] == want_bos and hf.encode("x").ids[0] == want_bos, "llama3: bos_id is the template's")
    check(got is not None and got["eos_id"] == hf.token_to_id("<|endoftext|>"), f"{family}: eos_id is <|endoftext|>")
    if family == "llama3":  # ignore_merges is exercised: a vocab word no merge reaches
        ids = hf.encode(WHOLE, add_special_tokens=False).ids
        b2u = bytes_to_unicode()
        word = "".join(b2u[b] for b in " Zyxwvut".encode())
        check(hf.token_to_id(word) in ids and hf.token_to_id("qqqqq") in ids, "llama3: whole-word tokens used")
    # invalid UTF-8: never an error, each bad byte its own piece, bytes round-trip
    raw = b"abc\xff\xfe def \xc3(\xe2\x82 end\xf0\x9f\x98" + "é<|im_end|>".encode()
    got, msg = alim_encode(d, raw)
    check(got is not None and alim_decode(d, got["ids"]) == raw, f"{family}: invalid UTF-8 round-trips ({msg.strip()})")
    # valid stretches between bad bytes tokenise as HF does on them alone
    if got is not None:
        want = [i for part in (b"abc", b"\xff", b"\xfe", b" def ") for i in
                (hf.encode(part.decode(), add_special_tokens=False).ids if part.isascii()
                 else [hf.token_to_id(bytes_to_unicode()[part[0]])])]
        check(got["ids"][:len(want)] == want, f"{family}: invalid bytes split the text, the rest as HF")
    # alim writes it again: HF loads that file and encodes identically; so does alim
    out = os.path.join(tmp, family + "-saved")
    p = alim("save", "--model", d, "--out", out)
    check(p.returncode == 0, f"{family}: alim tokenizer save ({p.stderr.decode().strip()})")
    if p.returncode == 0:
        hf2 = Tokenizer.from_file(os.path.join(out, "tokenizer.json"))
        same = all(hf2.encode(t, add_special_tokens=False).ids == hf.encode(t, add_special_tokens=False).ids for t in TEXTS)
        check(same, f"{family}: HF encodes alim's saved tokenizer.json identically")
        check(hf2.encode("x").ids == hf.encode("x").ids, f"{family}: saved post-processor (BOS) kept")
        check(compare(out, hf, family, family + " (saved)") == 0, f"{family}: alim encodes its saved file identically")

# ---- alim's GPT-2 format against ByteLevelBPETokenizer -----------------------------------------

cfile = os.path.join(tmp, "corpus.txt")
open(cfile, "w", encoding="utf-8").write("\n".join(corpus))
gd = os.path.join(tmp, "gpt2fmt")
p = subprocess.run([ALIM, "tokenizer", "train", "--vocab", "600", "--out", gd, cfile], capture_output=True)
check(p.returncode == 0, "alim tokenizer train")
bl = ByteLevelBPETokenizer(os.path.join(gd, "vocab.json"), os.path.join(gd, "merges.txt"))
for text in TEXTS:
    if "<|" in text:
        continue
    got, msg = alim_encode(gd, text.encode("utf-8"))
    want = bl.encode(text).ids
    check(got is not None and got["ids"] == want, f"GPT-2 format: ids of {text[:40]!r} ({got and got['ids'][:12]} vs {want[:12]}) {msg}")
    if got and want:
        check(alim_decode(gd, want) == text.encode("utf-8"), f"GPT-2 format: decode of {text[:40]!r}")

# ---- bad files ------------------------------------------------------------------------------------


def expect_error(d, label, needle):
    p = alim("encode", "--model", d, "--text", "hello")
    err = p.stderr.decode(errors="replace")
    lines = err.strip().split("\n")
    path = os.path.join(d, "tokenizer.json")
    check(p.returncode == 2 and len(lines) == 1 and lines[0].startswith("alim: error: " + path) and needle in err,
          f"{label}: exit {p.returncode}, stderr {err!r}")


def bad_dir(name, obj=None, text=None):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(text if text is not None else json.dumps(obj))
    return d


expect_error(bad_dir("unigram", json.loads(Tokenizer(models.Unigram()).to_str())), "Unigram", "Unigram")
expect_error(bad_dir("wordpiece", json.loads(Tokenizer(models.WordPiece(unk_token="[UNK]")).to_str())), "WordPiece", "WordPiece")
good = json.load(open(os.path.join(tmp, "gpt2", "tokenizer.json"), encoding="utf-8"))
meta = dict(good, pre_tokenizer={"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True})
expect_error(bad_dir("metaspace", meta), "unknown pre-tokenizer", "Metaspace")
expect_error(bad_dir("broken", text=json.dumps(good)[:5000]), "broken JSON", "invalid JSON")
lstrip = json.loads(json.dumps(good))
lstrip["added_tokens"][0]["lstrip"] = True
expect_error(bad_dir("lstrip", lstrip), "added token lstrip", "lstrip")
nfkc = dict(good, normalizer={"type": "NFKC"})
expect_error(bad_dir("nfkc", nfkc), "NFKC normalizer", "NFKC")

sys.exit(CK.finish())
