"""Language models: score data with a checkpoint (eval) and sample from it (sample), as
``alim eval --json`` and ``alim sample --json``. A model is a checkpoint directory (from
``alim train``, or a Hugging Face GPT-2/Llama/Qwen2 directory) or a .gguf file."""
import math


from ._alim import ffi, lib
from ._core import LN2, Progress, check, fail, fspath, is_path, new_error, number

__all__ = ["eval", "sample"]


def _load(path, with_tokenizer):
    if not is_path(path):
        fail("model", "must be a checkpoint directory or a .gguf path")
    m = ffi.new("alim_gpt *")
    tk = ffi.new("alim_tokenizer *") if with_tokenizer else ffi.NULL
    err = new_error()
    st = lib.alim_checkpoint_load(fspath(path).encode(), m, tk, ffi.NULL, err)
    m = ffi.gc(m, lib.alim_gpt_free)
    if with_tokenizer:
        tk = ffi.gc(tk, lib.alim_tokenizer_free)
    check(st, err)
    return m, tk


def _template(name, option):
    k = lib.alim_chat_kind_parse(name.encode()) if isinstance(name, str) else -1
    if k < 0:
        fail(option, f"'{name}' is not auto, chatml, llama3 or none")
    return k


def _size(name, v, lo, hi, msg):
    x = number(name, v, integer=True)
    if not (lo <= x <= hi):
        fail(name, msg)
    return int(x)


def eval(model, data, *, base=None, format="auto", delimiter=None, template="auto", context=None, batch=8,
         progress=None):
    """Bits per token and per byte of a checkpoint on data files (``alim eval --json``).

    ``data`` is a path or a list of paths (text, lines or JSONL prompt/response data; JSONL
    scores only the responses). Returns total_bits, n_tokens, n_bytes, bits_per_token,
    bits_per_byte, loss_nats, precision ("fp32": the products are fp32 here; ``alim eval
    --precision bf16`` has the bf16 ones), and with ``base`` (another checkpoint) kl_nats and
    kl_bits, the mean KL(model || base) per scored position. ``progress(stage, done, total)`` is called
    per batch of windows; Ctrl-C stops the evaluation (KeyboardInterrupt)."""
    paths = [data] if is_path(data) else list(data)
    if not paths:
        fail("data", "no data files")
    for q in paths:
        if not is_path(q):
            fail("data", "must be a path or a list of paths")
    fmt = lib.alim_data_format_parse(format.encode()) if isinstance(format, str) else -1
    if fmt < 0:
        fail("format", f"'{format}' is not auto, text, lines or jsonl")
    want = _template(template, "template")
    ctx = 0 if context is None else _size("context", context, 1, 1 << 24, "must be >= 1")
    batch = _size("batch", batch, 1, 1 << 20, "must be >= 1")
    m, tk = _load(model, True)
    b = _load(base, False)[0] if base is not None else ffi.NULL
    err = new_error()
    tpl = ffi.gc(ffi.new("alim_chat_template *"), lib.alim_chat_template_free)
    check(lib.alim_chat_template_resolve(tpl, fspath(model).encode(), want, tk, err), err)
    keep = [ffi.new("char[]", fspath(q).encode()) for q in paths]
    cpaths = ffi.new("const char *[]", keep)
    delim = ffi.new("char[]", delimiter.encode()) if delimiter is not None else ffi.NULL
    ds = ffi.gc(ffi.new("alim_token_stream *"), lib.alim_dataset_free)
    check(lib.alim_dataset_load_chat(ds, cpaths, len(paths), fmt, delim, tk, tpl, err), err)
    T = ctx or m.config.n_positions
    if T > m.config.n_positions:
        fail("context", f"{T} is longer than the model's context (n_positions = {m.config.n_positions})")
    r = ffi.new("alim_eval_result *")
    with Progress(progress) as pg:
        st = lib.alim_lm_evaluate(m, b, ds, tk, T, batch, ffi.NULL, pg.ptr, r, err)
    pg.reraise()
    check(st, err)
    bits = r.total_nats / LN2
    nt, nb = int(r.n_tokens), int(r.n_bytes)
    o = {"total_bits": bits, "n_tokens": nt, "n_bytes": nb,
         "bits_per_token": bits / nt if nt else math.nan, "bits_per_byte": bits / nb if nb else math.nan,
         "loss_nats": r.total_nats / nt if nt else math.nan,
         "precision": "fp32"}  # the Python API's products are fp32 (the library's default)
    if base is not None:
        kl = r.kl_nats_sum / nt if nt else math.nan
        o["kl_nats"] = kl
        o["kl_bits"] = kl / LN2
    return o


def _encode(tk, text, ids, n, cap, err):
    raw = text.encode()
    check(lib.alim_tokenizer_encode(tk, raw, len(raw), ids, n, cap, b"prompt", err), err)


def sample(model, prompt="", *, n=1, tokens=100, temperature=1.0, top_k=0, seed=1, chat=False, system=None,
           template=None):
    """Draws n continuations of a prompt from a checkpoint (``alim sample --json``).

    Returns {"samples": [{"text", "tokens"}, ...]}: the text from the prompt on (with
    ``chat=True`` the reply alone) and the number of tokens generated. Sample i uses random
    stream i of ``seed``; temperature 0 is greedy. With chat=True the prompt is a user message
    rendered with the model's chat template (or ``template``: chatml, llama3, none) and an
    optional ``system`` message; generation stops at the end-of-turn token. Text is decoded
    as UTF-8 (invalid bytes replaced) and, as in the CLI, ends at a NUL byte."""
    n = _size("n", n, 1, 100000, "must be in [1, 100000]")
    ntok = _size("tokens", tokens, 0, 1 << 20, "must be at most 2^20")
    temp = number("temperature", temperature)
    if not (0 <= temp < 1e6):
        fail("temperature", "must be >= 0")
    topk = _size("top_k", top_k, 0, 1 << 24, "too large")
    seed = number("seed", seed, integer=True)
    if not isinstance(prompt, str):
        fail("prompt", "must be a string")
    if not chat and (system is not None or template is not None):
        fail("sample", f"{'system' if system is not None else 'template'} needs chat=True")
    want = _template(template if template is not None else "auto", "template")
    m, tk = _load(model, True)
    err = new_error()
    if tk.eot < 0:
        fail(fspath(model), "the tokenizer has no <|endoftext|> token")
    ids = ffi.new("int32_t **")
    np_, cap = ffi.new("size_t *"), ffi.new("size_t *")
    stops = ffi.new("int32_t[2]")
    n_stops = 0
    tpl = ffi.gc(ffi.new("alim_chat_template *"), lib.alim_chat_template_free)
    end_turn = None
    try:
        if chat:
            check(lib.alim_chat_template_resolve(tpl, fspath(model).encode(), want, tk, err), err)
            if want == lib.ALIM_CHAT_AUTO and tpl.kind == lib.ALIM_CHAT_NONE:
                fail(fspath(model), "has no chat template (give template='chatml' or 'llama3', or 'none' for a "
                                    "plain prompt)")
            ct = ffi.gc(ffi.new("alim_chat_text *"), lib.alim_chat_text_free)
            sysmsg = system.encode() if system is not None else ffi.NULL
            check(lib.alim_chat_render(tpl, sysmsg, prompt.encode(), ffi.NULL, ct, err), err)
            if tpl.kind == lib.ALIM_CHAT_NONE:
                ids[0] = ffi.cast("int32_t *", lib.malloc(4))
                ids[0][0] = tk.eot
                np_[0] = cap[0] = 1
            text = ffi.string(ct.text, ct.len)
            check(lib.alim_tokenizer_encode(tk, text, len(text), ids, np_, cap, b"prompt", err), err)
            if np_[0] == 0:
                fail("prompt", "the rendered prompt has no tokens")
            eot_turn = lib.alim_chat_end_of_turn_id(tpl, tk)
            if eot_turn >= 0:
                stops[n_stops] = eot_turn
                n_stops += 1
            if tk.eos_id >= 0 and tk.eos_id != eot_turn:
                stops[n_stops] = tk.eos_id
                n_stops += 1
            et = lib.alim_chat_end_of_turn_text(tpl)
            end_turn = ffi.string(et) if et != ffi.NULL else None
        else:
            ids[0] = ffi.cast("int32_t *", lib.malloc(4))
            ids[0][0] = tk.eot
            np_[0] = cap[0] = 1
            _encode(tk, prompt, ids, np_, cap, err)
        npr = int(np_[0])
        buf = ffi.new("int32_t[]", npr + ntok)
        so = ffi.new("alim_sample_options *", {"max_new": ntok, "temperature": temp, "top_k": topk, "stop_at_eot": 1,
                                               "eot": tk.eot, "vocab_limit": tk.vocab_size})
        rng = ffi.new("alim_rng *")
        length = ffi.new("size_t *")
        blen = ffi.new("size_t *")
        out = []
        stopset = {tk.eot} | {stops[k] for k in range(n_stops)}
        for i in range(n):
            lib.alim_rng_seed(rng, int(seed), i)
            ffi.memmove(buf, ids[0], 4 * npr)
            check(lib.alim_lm_sample_until(m, buf, npr, so, stops, n_stops, rng, length, err), err)
            first = npr if chat else 1
            parts = []
            for k in range(first, length[0]):
                if buf[k] in stopset:
                    continue
                s = lib.alim_tokenizer_decode(tk, buf[k], blen)
                if s != ffi.NULL:
                    parts.append(ffi.buffer(s, blen[0])[:])
            raw = b"".join(parts)
            nul = raw.find(b"\0")  # the CLI's text is a C string: it ends at a NUL byte
            if nul >= 0:
                raw = raw[:nul]
            if end_turn:
                cut = raw.find(end_turn)
                if cut >= 0:
                    raw = raw[:cut]
            out.append({"text": raw.decode("utf-8", "replace"), "tokens": int(length[0]) - npr})
        return {"samples": out}
    finally:
        if ids[0] != ffi.NULL:
            lib.free(ids[0])


