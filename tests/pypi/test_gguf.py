"""test_gguf.py — `alim gguf` against gguf-py 0.19.0 (the reader/writer of llama.cpp).

Writes GGUF files with gguf.GGUFWriter: a tensor of every type alim dequantises (F32, F16,
BF16 and Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 quantised by gguf.quants.quantize from random data; the
legacy quants also as random raw blocks; Q4_K/Q5_K/Q6_K as random raw blocks whose f16 scale
fields are overwritten with finite values), in 1-D, 2-D and 3-D shapes, some large enough to
be split over threads, and metadata of every value type including arrays and nested arrays.
Then checks that
  - every tensor `alim gguf FILE --tensor NAME --out F` writes equals gguf.quants.dequantize
    of the same bytes bit for bit (compared as uint32, so NaN payloads and -0 count too),
    with 1 and 2 OpenMP threads;
  - the metadata and its types in `--json` are what was written, and the tensor list agrees
    with gguf.GGUFReader (shape, type, bytes, file offset);
  - a version-2 copy reads the same, a 64-byte alignment is honoured;
  - bad files (truncated at many points, bad magic, version 1 and 4, big-endian, unknown
    tensor type id, misaligned offset, length fields of 2^63, 5 dimensions, ragged block,
    duplicate key or tensor, alignment 48, overlapping tensors) give one error line naming
    the file, exit 2, and write nothing; a known but unsupported type (Q2_K) is listed and
    refused by name when read; a directory and a missing file are refused by name.
Run: ALIM=/path/to/alim $(scripts/pyvenv.sh) tests/pypi/test_gguf.py
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T, GGUFValueType as V

ALIM = os.environ.get("ALIM", "build/alim")
NAME = "test_gguf"
passed = failed = 0


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {msg}", file=sys.stderr)


def run(*args, threads=None):
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    return subprocess.run([ALIM, "gguf", *args], capture_output=True, text=True, env=env)


rng = np.random.default_rng(20240611)
tmp = tempfile.mkdtemp(prefix="alim-gguf-")

# ---- tensors -------------------------------------------------------------------------------
# name -> (ggml type, logical numpy shape, raw bytes as written, numpy array to hand the writer)
tensors = {}


def add_plain(name, arr):
    qt = T.F32 if arr.dtype == np.float32 else T.F16
    tensors[name] = (qt, arr.shape, np.ascontiguousarray(arr).view(np.uint8), arr)


def add_quantised(name, qt, shape):
    x = rng.standard_normal(shape).astype(np.float32) * np.float32(0.7)
    q = gguf.quants.quantize(x, qt)
    tensors[name] = (qt, shape, q, q)


# where each block keeps its f16 scale fields (byte offsets), for random raw blocks
SCALE_FIELDS = {T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
                T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208], T.Q2_K: [80, 82]}


def add_raw(name, qt, shape):
    bs, bb = gguf.GGML_QUANT_SIZES[qt]
    nb = shape[-1] // bs
    raw = rng.integers(0, 256, size=(*shape[:-1], nb, bb), dtype=np.uint8)
    for off in SCALE_FIELDS[qt]:
        # finite, both signs, a wide range of magnitudes incl. f16 subnormals
        h = (rng.choice([-1, 1], size=raw.shape[:-1]) * 10.0 ** rng.uniform(-7, 0, size=raw.shape[:-1]))
        raw[..., off:off + 2] = h.astype(np.float16)[..., None].view(np.uint8)
    raw = raw.reshape(*shape[:-1], nb * bb)
    tensors[name] = (qt, shape, raw, raw)


add_plain("f32_1d", rng.standard_normal(33).astype(np.float32))
add_plain("f32_2d", rng.standard_normal((5, 7)).astype(np.float32))
f32_3d = rng.standard_normal((2, 3, 4)).astype(np.float32)
f32_3d.flat[:6] = [np.inf, -np.inf, -0.0, 1e-45, 3.4e38, np.nan]
add_plain("f32_3d", f32_3d)
f16 = (rng.standard_normal((4, 9)) * 100).astype(np.float16)
f16.flat[:8] = [np.inf, -np.inf, -0.0, 6e-8, 3e-5, 65504, -65504, np.nan]
add_plain("f16_2d", f16)
add_plain("f16_big", (rng.standard_normal((300, 200))).astype(np.float16))
add_quantised("bf16_2d", T.BF16, (3, 10))
add_quantised("bf16_big", T.BF16, (100, 400))
add_quantised("q4_0_1d", T.Q4_0, (64,))
add_quantised("q4_0_2d", T.Q4_0, (6, 96))
add_quantised("q4_0_big", T.Q4_0, (128, 512))
add_quantised("q4_1_2d", T.Q4_1, (5, 64))
add_quantised("q5_0_3d", T.Q5_0, (2, 3, 64))
add_quantised("q5_1_2d", T.Q5_1, (4, 32))
add_quantised("q8_0_2d", T.Q8_0, (7, 64))
add_quantised("q8_0_3d", T.Q8_0, (2, 2, 32))
add_quantised("q8_0_big", T.Q8_0, (64, 1024))
for qt in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
    add_raw(f"{qt.name.lower()}_raw", qt, (9, 128))
add_raw("q4_k_2d", T.Q4_K, (3, 512))
add_raw("q4_k_3d", T.Q4_K, (2, 2, 256))
add_raw("q4_k_big", T.Q4_K, (64, 1024))
add_raw("q5_k_1d", T.Q5_K, (256,))
add_raw("q5_k_2d", T.Q5_K, (4, 768))
add_raw("q5_k_big", T.Q5_K, (32, 2048))
add_raw("q6_k_1d", T.Q6_K, (512,))
add_raw("q6_k_2d", T.Q6_K, (3, 256))
add_raw("q6_k_3d", T.Q6_K, (2, 3, 256))
add_raw("q6_k_big", T.Q6_K, (64, 1024))
add_raw("q2_k_unsupported", T.Q2_K, (2, 256))

# ---- metadata -----------------------------------------------------------------------------
# (key, value, GGUF type, sub type, expected JSON value, expected type text)
BIG = 2 ** 53
meta = [
    ("test.u8", 250, V.UINT8, None, 250, "uint8"),
    ("test.i8", -120, V.INT8, None, -120, "int8"),
    ("test.u16", 65000, V.UINT16, None, 65000, "uint16"),
    ("test.i16", -32000, V.INT16, None, -32000, "int16"),
    ("test.u32", 4000000000, V.UINT32, None, 4000000000, "uint32"),
    ("test.i32", -2000000000, V.INT32, None, -2000000000, "int32"),
    ("test.u64.small", BIG, V.UINT64, None, BIG, "uint64"),
    ("test.u64.big", 2 ** 64 - 1, V.UINT64, None, 2 ** 64 - 1, "uint64"),
    ("test.i64", -(2 ** 63), V.INT64, None, -(2 ** 63), "int64"),
    ("test.i64.small", -123456789012, V.INT64, None, -123456789012, "int64"),
    ("test.f32", 0.1, V.FLOAT32, None, float(np.float32(0.1)), "float32"),
    ("test.f32.tiny", 1e-40, V.FLOAT32, None, float(np.float32(1e-40)), "float32"),
    ("test.f64", 2.0 / 3.0, V.FLOAT64, None, 2.0 / 3.0, "float64"),
    ("test.f64.inf", float("inf"), V.FLOAT64, None, "inf", "float64"),
    ("test.true", True, V.BOOL, None, True, "bool"),
    ("test.false", False, V.BOOL, None, False, "bool"),
    ("test.string", "h\u00e9llo \u2713 \U0001F600 \"quoted\"\n\ttab", V.STRING, None,
     "h\u00e9llo \u2713 \U0001F600 \"quoted\"\n\ttab", "string"),
    ("test.arr.str", ["a", "", "\u00fc\u00f1\u00ee", "<|endoftext|>"], V.ARRAY, V.STRING,
     ["a", "", "\u00fc\u00f1\u00ee", "<|endoftext|>"], "array[string]"),
    ("test.arr.i32", [1, -2, 3, 2 ** 31 - 1], V.ARRAY, V.INT32, [1, -2, 3, 2 ** 31 - 1], "array[int32]"),
    ("test.arr.u8", [0, 1, 255], V.ARRAY, V.UINT8, [0, 1, 255], "array[uint8]"),
    ("test.arr.u64", [0, 2 ** 64 - 1], V.ARRAY, V.UINT64, [0, 2 ** 64 - 1], "array[uint64]"),
    ("test.arr.i64", [-5, 2 ** 62], V.ARRAY, V.INT64, [-5, 2 ** 62], "array[int64]"),
    ("test.arr.f32", [0.5, -1.25, 1e-3], V.ARRAY, V.FLOAT32, [float(np.float32(v)) for v in (0.5, -1.25, 1e-3)],
     "array[float32]"),
    ("test.arr.f64", [0.1, -2.5], V.ARRAY, V.FLOAT64, [0.1, -2.5], "array[float64]"),
    ("test.arr.bool", [True, False, True], V.ARRAY, V.BOOL, [True, False, True], "array[bool]"),
    ("test.arr.nested", [[1, 2], [3], [4, 5, 6]], V.ARRAY, None, [[1, 2], [3], [4, 5, 6]], "array[array[int32]]"),
    ("test.arr.nested.str", [["x", "y"], ["z"]], V.ARRAY, None, [["x", "y"], ["z"]], "array[array[string]]"),
    ("test.arr.deep", [[[1.5]], [[2.5, 3.5]]], V.ARRAY, None, [[[1.5]], [[2.5, 3.5]]], "array[array[array[float32]]]"),
    ("tokenizer.ggml.tokens", [f"tok{i}" for i in range(100)], V.ARRAY, V.STRING,
     [f"tok{i}" for i in range(100)], "array[string]"),
]


def write_file(path, alignment=None, endian=gguf.GGUFEndian.LITTLE, names=None):
    w = gguf.GGUFWriter(path, "llama", endianess=endian)
    if alignment:
        w.add_custom_alignment(alignment)
    for key, val, vt, st, _, _ in meta:
        w.add_key_value(key, val, vt, sub_type=st)
    for name in (names or tensors):
        qt, shape, raw, arr = tensors[name]
        if qt in (T.F32, T.F16):
            w.add_tensor(name, arr)
        else:
            w.add_tensor(name, arr, raw_dtype=qt)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


main = os.path.join(tmp, "all.gguf")
write_file(main)
data = open(main, "rb").read()

# ---- metadata and tensor list ---------------------------------------------------------------
p = run(main, "--json", "--tensors", "--full")
check(p.returncode == 0, f"alim gguf --json runs: {p.stderr}")
j = json.loads(p.stdout) if p.returncode == 0 else {}
md, mt = j.get("metadata", {}), j.get("metadata_types", {})
check(j.get("version") == 3, "version 3")
check(md.get("general.architecture") == "llama", "general.architecture")
for key, _, _, _, want, wtype in meta:
    check(key in md and md[key] == want, f"metadata {key}: got {md.get(key)!r}, want {want!r}")
    check(mt.get(key) == wtype, f"metadata type {key}: got {mt.get(key)!r}, want {wtype!r}")
check(len(md) == len(meta) + 1, f"{len(md)} metadata keys, want {len(meta) + 1}")

reader = gguf.GGUFReader(main)
by_name = {t["name"]: t for t in j.get("tensors", [])}
check(j.get("n_tensors") == len(tensors) == len(reader.tensors), "tensor count")
check(j.get("n_parameters") == sum(int(np.prod(s)) for _, s, _, _ in tensors.values()), "n_parameters")
for rt in reader.tensors:
    t = by_name.get(rt.name, {})
    qt, shape, raw, _ = tensors[rt.name]
    ok = (t.get("type") == qt.name and t.get("type_id") == int(qt) and t.get("shape") == list(shape)
          and t.get("ne") == [int(x) for x in rt.shape] and t.get("bytes") == int(rt.n_bytes) == raw.nbytes
          and t.get("offset") == int(rt.data_offset) and t["offset"] % 32 == 0
          and t.get("n_elements") == int(rt.n_elements))
    check(ok, f"tensor info {rt.name}: {t} vs reader {list(rt.shape)} {rt.tensor_type.name} {rt.data_offset}")

# text output: summaries and totals
p = run(main)
check(p.returncode == 0 and "GGUF v3" in p.stdout and "array of 100 strings" in p.stdout
      and "Q2_K" in p.stdout and str(j.get("n_parameters")) in p.stdout, "text output")
p = run(main, "--tensors")
check(p.returncode == 0 and "[2, 3, 256]" in p.stdout and "q6_k_3d" in p.stdout, "text tensor list")
p = run(main, "--json")
jj = json.loads(p.stdout) if p.returncode == 0 else {}
check(jj.get("metadata", {}).get("tokenizer.ggml.tokens") == "array of 100 strings", "long array summarised in JSON")


# ---- dequantisation, bit for bit -----------------------------------------------------------
def read_out(path, shape):
    return np.fromfile(path, dtype="<f4").reshape(shape)


def oracle(qt, raw, shape):
    r = gguf.quants.dequantize(raw, qt)
    return np.asarray(r, dtype=np.float32).reshape(shape)


for name, (qt, shape, raw, _) in tensors.items():
    out = os.path.join(tmp, name + ".f32")
    p = run(main, "--tensor", name, "--out", out, "--json")
    if qt == T.Q2_K:
        check(p.returncode == 2 and not os.path.exists(out) and p.stderr.count("\n") == 1
              and f"{main}: {name}: tensor type Q2_K (10) is not supported" in p.stderr, f"Q2_K refused: {p.stderr}")
        continue
    check(p.returncode == 0, f"{name}: alim runs: {p.stderr}")
    if p.returncode != 0:
        continue
    w = json.loads(p.stdout).get("written", {})
    check(w.get("tensor") == name and w.get("n_elements") == int(np.prod(shape)), f"{name}: written record")
    got = read_out(out, shape)
    want = oracle(qt, raw, shape)
    same = np.array_equal(got.view(np.uint32), want.view(np.uint32))
    if not same:
        bad = np.flatnonzero(got.view(np.uint32).ravel() != want.view(np.uint32).ravel())
        print(f"  {name}: {bad.size} differ, first at {bad[0]}: got {got.ravel()[bad[0]]!r} want {want.ravel()[bad[0]]!r}",
              file=sys.stderr)
    check(same, f"{name} ({qt.name} {shape}) equals gguf.quants.dequantize bit for bit")
    check(np.isfinite(want).all() or name in ("f32_3d", "f16_2d"), f"{name}: oracle values are finite")

# thread count does not change a bit
for name in ("q4_0_big", "q4_k_big", "q5_k_big", "q6_k_big", "q8_0_big", "f16_big", "bf16_big"):
    outs = []
    for th in (1, 2):
        out = os.path.join(tmp, f"{name}.t{th}.f32")
        p = run(main, "--tensor", name, "--out", out, threads=th)
        outs.append(open(out, "rb").read() if p.returncode == 0 else b"")
    check(outs[0] and outs[0] == outs[1], f"{name}: same bytes with 1 and 2 threads")

p = run(main, "--read-all", "--json")
ra = json.loads(p.stdout).get("read_all", {}) if p.returncode == 0 else {}
check(ra.get("tensors") == len(tensors) - 1 and ra.get("unsupported_tensors") == 1
      and ra.get("non_finite") == 6, f"--read-all: {ra}")  # inf, -inf, nan in f32_3d and in f16_2d

# ---- version 2, other alignment -------------------------------------------------------------
v2 = os.path.join(tmp, "v2.gguf")
open(v2, "wb").write(data[:4] + struct.pack("<I", 2) + data[8:])
p2 = run(v2, "--json", "--tensors", "--full")
j2 = json.loads(p2.stdout) if p2.returncode == 0 else {}
check(p2.returncode == 0 and j2.get("version") == 2, f"version 2 file reads: {p2.stderr}")
for k in ("metadata", "metadata_types", "tensors", "n_parameters"):
    check(j2.get(k) == j.get(k), f"v2 {k} same as v3")
out2 = os.path.join(tmp, "v2_q6k.f32")
p = run(v2, "--tensor", "q6_k_2d", "--out", out2)
check(p.returncode == 0 and open(out2, "rb").read() == open(os.path.join(tmp, "q6_k_2d.f32"), "rb").read(),
      "v2 tensor data same")

al = os.path.join(tmp, "align64.gguf")
write_file(al, alignment=64, names=["f32_1d", "q4_0_2d", "q5_k_1d"])
p = run(al, "--json", "--tensors")
ja = json.loads(p.stdout) if p.returncode == 0 else {}
check(p.returncode == 0 and ja.get("alignment") == 64 and ja.get("data_offset", 1) % 64 == 0
      and all(t["offset"] % 64 == 0 for t in ja.get("tensors", [])), f"alignment 64: {p.stderr}")
out = os.path.join(tmp, "al.f32")
p = run(al, "--tensor", "q5_k_1d", "--out", out)
check(p.returncode == 0 and open(out, "rb").read() == open(os.path.join(tmp, "q5_k_1d.f32"), "rb").read(),
      "alignment 64: tensor data same")

# ---- bad files ---------------------------------------------------------------------------------
r = reader
first_info = r.tensors[0].field.offset  # start of tensor info 0
data_start = r.data_offset
data_end = max(int(t.data_offset) + int(t.n_bytes) for t in r.tensors)  # the writer pads after it


def info_pos(i):
    """Byte positions of the n_dims, type and offset fields of tensor info i."""
    t = r.tensors[i]
    pos = t.field.offset + 8 + len(t.name.encode())
    nd = struct.unpack_from("<I", data, pos)[0]
    return pos, pos + 4 + 8 * nd, pos + 4 + 8 * nd + 4


def patched(at, fmt, val, src=data):
    b = bytearray(src)
    struct.pack_into(fmt, b, at, val)
    return bytes(b)


def expect_bad(label, content, *needles):
    path = os.path.join(tmp, f"bad-{label}.gguf")
    open(path, "wb").write(content)
    odir = tempfile.mkdtemp(dir=tmp)
    out = os.path.join(odir, "o.f32")
    p = run(path, "--tensor", "f32_1d", "--out", out)
    lines = p.stderr.splitlines()
    ok = (p.returncode == 2 and len(lines) == 1 and lines[0].startswith(f"alim: error: {path}")
          and all(n in lines[0] for n in needles) and os.listdir(odir) == [] and p.stdout == "")
    check(ok, f"bad file {label}: rc {p.returncode}, stderr {p.stderr!r}, wrote {os.listdir(odir)}")


key0 = 24  # the first key's length field
for cut in sorted({0, 3, 4, 7, 8, 15, 16, 23, 24, 30, first_info - 1, first_info, first_info + 10,
                   first_info + 40, data_start - 1, data_start, data_start + 1000, data_end - 1}):
    expect_bad(f"cut{cut}", data[:cut], "truncated")
expect_bad("magic", b"GGUX" + data[4:], "not a GGUF file")
expect_bad("version1", patched(4, "<I", 1), "GGUF version 1 is not supported")
expect_bad("version4", patched(4, "<I", 4), "GGUF version 4 is not supported")
be = os.path.join(tmp, "be.gguf")
write_file(be, endian=gguf.GGUFEndian.BIG, names=["f32_1d"])
expect_bad("bigendian", open(be, "rb").read(), "big-endian")
pos_nd, pos_type, pos_off = info_pos(0)
expect_bad("typeid", patched(pos_type, "<I", 99), "unknown ggml tensor type id 99")
expect_bad("ndims", patched(pos_nd, "<I", 5), "5 dimensions")
_, _, pos_off1 = info_pos(1)
off1 = struct.unpack_from("<Q", data, pos_off1)[0]
expect_bad("misaligned", patched(pos_off1, "<Q", off1 + 4), "not a multiple of the alignment 32")
expect_bad("overlap", patched(pos_off1, "<Q", 0), "overlaps")
expect_bad("offset-huge", patched(pos_off1, "<Q", 2 ** 64 - 32), "truncated")
expect_bad("keylen-2^63", patched(key0, "<Q", 2 ** 63), "9223372036854775808")
expect_bad("tensorcount-2^63", patched(8, "<Q", 2 ** 63), "tensor count 9223372036854775808")
expect_bad("kvcount-2^63", patched(16, "<Q", 2 ** 63), "metadata count 9223372036854775808")
# the string value of test.string and the length of tokenizer.ggml.tokens
f = r.fields["test.string"]
expect_bad("strlen-2^63", patched(int(f.offset) + 8 + len("test.string") + 4, "<Q", 2 ** 63), "9223372036854775808")
f = r.fields["tokenizer.ggml.tokens"]
expect_bad("arraylen-2^63", patched(int(f.offset) + 8 + len("tokenizer.ggml.tokens") + 4 + 4, "<Q", 2 ** 63),
           "array of 9223372036854775808")
f = r.fields["test.u8"]
b = bytearray(data)
b[int(f.offset) + 8:int(f.offset) + 8 + 7] = b"test.i8"
expect_bad("dupkey", bytes(b), "'test.i8' appears twice")
b = bytearray(data)
t0 = r.tensors[0]  # f32_1d -> rename to f32_2d (same length)
b[t0.field.offset + 8:t0.field.offset + 8 + 6] = b"f32_2d"
expect_bad("duptensor", bytes(b), "f32_2d: two tensors have this name")
# ragged block: ne[0] of q4_0_2d (96) -> 95
i = [t.name for t in r.tensors].index("q4_0_2d")
pos_nd, _, _ = info_pos(i)
expect_bad("ragged", patched(pos_nd + 4, "<Q", 95), "not a multiple of the Q4_0 block size 32")
expect_bad("ne0", patched(pos_nd + 4, "<Q", 0), "ne[0] = 0")
# gguf-py refuses to write alignment 48, so patch the value of a 64-byte-aligned file
a64 = open(al, "rb").read()
fa = gguf.GGUFReader(al).fields["general.alignment"]
expect_bad("align48", patched(int(fa.offset) + 8 + len("general.alignment") + 4, "<I", 48, a64),
           "general.alignment", "48 is not a power of two")

# a directory, a missing file, a missing tensor, usage
for label, path, needle in (("directory", tmp, "is a directory"), ("missing", os.path.join(tmp, "nope.gguf"), "cannot open")):
    p = run(path)
    check(p.returncode == 2 and p.stderr.startswith(f"alim: error: {path}: ") and needle in p.stderr
          and p.stderr.count("\n") == 1, f"{label}: {p.stderr!r}")
p = run(main, "--tensor", "no.such", "--out", os.path.join(tmp, "x.f32"))
check(p.returncode == 2 and "no.such: no such tensor" in p.stderr and not os.path.exists(os.path.join(tmp, "x.f32")),
      f"missing tensor: {p.stderr!r}")
p = run(main, "--tensor", "f32_1d")
check(p.returncode == 2 and "--out" in p.stderr, "--tensor without --out")
p = run("--help")
check(p.returncode == 0 and "usage: alim gguf" in p.stdout, "--help")

if failed:
    print(f"files kept in {tmp}", file=sys.stderr)
else:
    shutil.rmtree(tmp, ignore_errors=True)
print(f"{NAME}: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
