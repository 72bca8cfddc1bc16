#!/usr/bin/python3
"""Writes the tiny checkpoints the C++ checkpoint-loader tests read (tests/data/loader/).

Run with Debian's interpreter, which has torch:  /usr/bin/python3 scripts/make_loader_fixtures.py

Every .pth is written by torch.save exactly as training code does; the safetensors file and the
big-endian archive are assembled by hand (struct + json + zipfile), independently of the C++ code.
expected.json holds, per file, the key order and every tensor's values as float32 bit patterns,
computed with numpy from the raw stored bits, so the C++ tests compare against values that do
not come from the loader under test. The output is deterministic: rerunning changes no byte.
"""
import collections
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile
import zipfile

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "loader")


def ramp(shape, scale=1.0, offset=0.0):
    """Deterministic, non-repeating values (no RNG: identical on every machine)."""
    n = int(np.prod(shape)) if shape else 1
    values = [offset + scale * math.sin(0.7 * i + 0.3) * (1 + i % 5) for i in range(n)]
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def expected_f32_bits(t):
    """float32 bits of a tensor's logical (row-major) contents, converted by numpy, not torch."""
    t = t.detach().contiguous()
    if t.dtype == torch.float32:
        values = t.numpy().astype(np.float32)
    elif t.dtype == torch.float64:
        values = t.numpy().astype(np.float32)
    elif t.dtype == torch.float16:
        values = t.view(torch.int16).numpy().view(np.float16).astype(np.float32)
    elif t.dtype == torch.bfloat16:
        bits = t.view(torch.int16).numpy().view(np.uint16).astype(np.uint32) << 16
        values = bits.view(np.float32)
    else:
        raise ValueError(t.dtype)
    return [int(b) for b in values.reshape(-1).view(np.uint32)]


def describe(state):
    return {
        "order": list(state.keys()),
        "tensors": {
            name: {
                "shape": list(t.shape),
                "dtype": str(t.dtype).replace("torch.", ""),
                "f32_bits": expected_f32_bits(t),
            }
            for name, t in state.items()
        },
    }


def save_torch(state, file_name, archive_folder=None):
    """torch.save names the zip's top folder after the file stem; save under `archive_folder`
    first when the test needs the folder and the file name to differ."""
    target = os.path.join(OUT, file_name)
    if archive_folder is None:
        torch.save(state, target)
        return
    with tempfile.TemporaryDirectory() as tmp:
        staged = os.path.join(tmp, archive_folder + ".pth")
        torch.save(state, staged)
        shutil.copyfile(staged, target)


class TinySpikeGPTLike(torch.nn.Module):
    """A module whose state_dict has SpikeGPT-style names, so the file carries the
    OrderedDict + `_metadata` BUILD that real training checkpoints have."""

    def __init__(self, vocab=11, width=8, hidden=16):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, width)
        block = torch.nn.Module()
        block.ln0 = torch.nn.LayerNorm(width)
        block.ln1 = torch.nn.LayerNorm(width)
        att = torch.nn.Module()
        att.time_decay = torch.nn.Parameter(torch.zeros(width))
        att.time_mix_k = torch.nn.Parameter(torch.zeros(1, 1, width))
        att.key = torch.nn.Linear(width, width, bias=False)
        block.att = att
        ffn = torch.nn.Module()
        ffn.key = torch.nn.Linear(width, hidden, bias=False)
        block.ffn = ffn
        self.blocks = torch.nn.ModuleList([block])
        self.head = torch.nn.Linear(width, vocab, bias=False)
        with torch.no_grad():
            for i, p in enumerate(self.parameters()):
                p.copy_(ramp(tuple(p.shape), scale=0.5, offset=0.01 * i).float())


def fp16_specials():
    bits = [0x0000, 0x8000, 0x3C00, 0xC100, 0x7BFF, 0xFBFF, 0x0400, 0x0001, 0x03FF, 0x8001, 0x3555, 0x4248, 0x0200, 0x83FF]
    return torch.tensor(np.array(bits, dtype=np.uint16).view(np.int16)).view(torch.float16)


def bf16_specials():
    bits = [0x0000, 0x8000, 0x3F80, 0xC020, 0x7F7F, 0xFF7F, 0x0080, 0x0001, 0x007F, 0x8001, 0x3EAB, 0x4049]
    return torch.tensor(np.array(bits, dtype=np.uint16).view(np.int16)).view(torch.bfloat16)


def fp64_specials():
    # Values that float32 must round: ties, subnormal results, underflow to zero, FLT_MAX itself.
    return torch.tensor([0.0, -0.0, 1.0 / 3.0, 1.0 + 2.0 ** -24, 1.0 + 3 * 2.0 ** -24, 1e-40, 1e-50, -1e-45,
                         3.4028234663852886e38, -2.5, math.pi, 123456789.0], dtype=torch.float64)


def make_module_fp32(expected):
    state = TinySpikeGPTLike().state_dict()
    save_torch(state, "module_fp32.pth", archive_folder="spikegpt_tiny")
    expected["module_fp32.pth"] = describe(state)


def make_dtype_files(expected):
    files = {
        "dtype_fp16.pth": (torch.float16, fp16_specials()),
        "dtype_bf16.pth": (torch.bfloat16, bf16_specials()),
        "dtype_fp64.pth": (torch.float64, fp64_specials()),
    }
    for file_name, (dtype, specials) in files.items():
        state = collections.OrderedDict()
        state["specials"] = specials
        state["matrix"] = ramp((3, 5), scale=2.0).to(dtype)
        state["bias"] = ramp((5,), scale=0.25, offset=-1.0).to(dtype)
        save_torch(state, file_name)
        expected[file_name] = describe(state)


def make_views(expected):
    """Plain dict (EMPTY_DICT), views sharing storages, offsets, strides, stride-0 expand,
    0-dim and empty tensors, a Parameter, key order that is not sorted."""
    base = ramp((4, 6)).float()
    half_base = ramp((3, 4), scale=3.0).half()
    flat = ramp((20,), scale=1.5).float()
    row = ramp((4,)).float()
    state = {
        "zeta_base": base,
        "transposed": base.t(),
        "row_slice": base[1:3],
        "col_slice": base[:, 2:5],
        "strided": flat[3::4],
        "expanded": row.expand(3, 4),
        "half_transposed": half_base.t(),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "alpha_param": torch.nn.Parameter(ramp((2, 2)).float()),
    }
    save_torch(state, "views_plain_dict.pth")
    expected["views_plain_dict.pth"] = describe(state)


def make_error_fixtures():
    state = collections.OrderedDict()
    state["weight"] = ramp((2, 3)).float()
    state["steps"] = torch.arange(3)   # LongStorage: not a float dtype
    save_torch(state, "int64_storage.pth")

    state = collections.OrderedDict()
    state["good"] = ramp((3,)).float()
    bad = ramp((2, 4)).float()
    bad[1, 1] = float("nan")
    state["bad"] = bad
    save_torch(state, "nonfinite.pth")


def make_big_endian(expected):
    """A torch archive as a big-endian machine writes it (byteorder = 'big'), assembled with
    Python's zipfile: no data descriptors, no alignment padding, top folder 'archive'."""
    state = collections.OrderedDict()
    state["f32"] = ramp((2, 3)).float()
    state["f16"] = ramp((4,), scale=3.0).half()
    state["f64"] = ramp((3,), scale=7.0)
    with tempfile.TemporaryDirectory() as tmp:
        staged = os.path.join(tmp, "little.pth")
        torch.save(state, staged)
        with zipfile.ZipFile(staged) as source:
            pickle_bytes = source.read("little/data.pkl")
            storages = [source.read(f"little/data/{k}") for k in range(3)]
    swapped = [np.frombuffer(raw, dtype=t.numpy().dtype).byteswap().tobytes() for raw, t in zip(storages, state.values())]

    def stored(name, data):
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_STORED
        return info, data

    with zipfile.ZipFile(os.path.join(OUT, "big_endian.pth"), "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(*stored("archive/data.pkl", pickle_bytes))
        archive.writestr(*stored("archive/byteorder", b"big"))
        for key, data in enumerate(swapped):
            archive.writestr(*stored(f"archive/data/{key}", data))
        archive.writestr(*stored("archive/version", b"3\n"))
    expected["big_endian.pth"] = describe(state)


def make_safetensors(expected):
    """Written by hand (the safetensors package is not installed): header keys unsorted, data
    laid out in a different order than the header lists it, __metadata__ present."""
    tensors = collections.OrderedDict()
    tensors["w_f32"] = ramp((2, 3)).float()
    tensors["b_f16"] = fp16_specials()
    tensors["a_bf16"] = bf16_specials().reshape(3, 4)
    tensors["c_f64"] = fp64_specials().reshape(2, 2, 3)
    codes = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}

    def raw(t):
        if t.dtype == torch.bfloat16:
            return t.contiguous().view(torch.int16).numpy().tobytes()
        return t.contiguous().numpy().tobytes()

    header = collections.OrderedDict()
    header["__metadata__"] = {"format": "pt", "source": "scripts/make_loader_fixtures.py"}
    offset = 0
    blobs = []
    for name in reversed(tensors):            # data order: reverse of header order
        data = raw(tensors[name])
        header[name] = (codes[tensors[name].dtype], list(tensors[name].shape), offset, offset + len(data))
        blobs.append(data)
        offset += len(data)
    ordered = collections.OrderedDict([("__metadata__", header["__metadata__"])])
    for name in tensors:
        dtype, shape, begin, end = header[name]
        ordered[name] = {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}
    text = json.dumps(ordered, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(OUT, "mixed.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    expected["mixed.safetensors"] = describe(tensors)


def main():
    if not hasattr(torch, "save"):
        sys.exit("needs torch: run with /usr/bin/python3")
    os.makedirs(OUT, exist_ok=True)
    expected = collections.OrderedDict()
    make_module_fp32(expected)
    make_dtype_files(expected)
    make_views(expected)
    make_big_endian(expected)
    make_safetensors(expected)
    make_error_fixtures()
    text = json.dumps(expected, indent=1)
    # One line per number list keeps the file short and diffs readable.
    text = re.sub(r"\[\s+([-\d,\s]+?)\s+\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        f.write(text + "\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total} bytes, to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
