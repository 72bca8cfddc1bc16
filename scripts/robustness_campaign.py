#!/usr/bin/env python3
"""Robustness campaign (issue 19): malformed inputs and CLI misuse against the built spiketile.

    scripts/robustness_campaign.py [--bin build/spiketile] [--timeout 120] [--only TEXT] [-v]

Generates bad inputs class by class (checkpoints, mapping files, chip and energy YAML, statistics,
tokenizer files, text inputs, numeric options, output targets) from the repository's own fixtures,
runs the CLI on each in a fresh folder with a time limit, and tallies per class how each case
ended. A case ends well only as

  clean error  exit status 1..125 (no signal), a message naming the file or the field or option,
               and the folder exactly as before (no partial output, no input overwritten), or
  ok           for the cases that must succeed (a bounded read of /dev/zero, a FIFO or symlink
               target, a stats file read from another folder): exit 0 and the check that case names.

Anything else (a signal, a timeout, an error naming neither file nor field, a leftover file, a
changed input, an input accepted that must be refused) is a defect and makes the script exit 1.
Python 3 standard library only; the C++ test suite never runs this (it takes minutes).
docs/robustness.md records a run.
"""
import argparse
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zipfile
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "data", "fixtures")
SHIPPED_MODEL = os.path.join(ROOT, "models", "spikegpt-fortunes.pth")
SHIPPED_CALIBRATION = os.path.join(ROOT, "models", "spikegpt-fortunes.calib.json")
TINY_PTH = os.path.join(FIXTURES, "tiny_l2_c32_v77_fp32.pth")
TINY_SAFETENSORS = os.path.join(FIXTURES, "tiny_l2_c32_v77_fp32.safetensors")
HELDOUT = os.path.join(ROOT, "tests", "data", "heldout_excerpt.txt")
TINY_CHIP = os.path.join(ROOT, "chips", "tiny.yaml")
DEFAULT_CHIP = os.path.join(ROOT, "chips", "default.yaml")
DEFAULT_ENERGY = os.path.join(ROOT, "chips", "energy", "default.yaml")


class Case:
    """One invocation. `files` maps names in the case folder to bytes (or to a callable that
    creates the entry at that path: a folder, a FIFO, a symlink); `{dir}` in args is the folder.
    `names` are strings of which at least one must appear in the message of an error. `check`
    returns a problem (a string) or None; `drain` names a FIFO another thread reads."""

    def __init__(self, cls, name, args, files=None, names=None, expect="error", check=None, drain=None):
        self.cls, self.name, self.args = cls, name, args
        self.files = files or {}
        self.names = names or []
        self.expect, self.check, self.drain = expect, check, drain


# ------------------------------------------------------------------------------------------------
# Byte helpers


def read(path):
    with open(path, "rb") as f:
        return f.read()


def crc(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def flip(data, at, mask=0xFF):
    b = bytearray(data)
    b[at] ^= mask
    return bytes(b)


def make_folder(path):
    os.mkdir(path)


def make_fifo(path):
    os.mkfifo(path)


def symlink_to(target):
    return lambda path: os.symlink(target, path)


def replace_once(text, old, new):
    assert old in text, old
    return text.replace(old, new, 1)


# ------------------------------------------------------------------------------------------------
# Checkpoints: .pth (zip + pickle) and safetensors


def zip_entries(data):
    """(name, data offset, length) of every stored entry of a zip held in memory."""
    out = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            off = info.header_offset
            name_len, extra_len = struct.unpack_from("<HH", data, off + 26)
            out.append((info.filename, off + 30 + name_len + extra_len, info.compress_size))
    return out


def rezip(data, replace):
    """The archive rebuilt with STORED entries, `replace` mapping a name suffix to new bytes."""
    dst = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            body = zin.read(info.filename)
            for suffix, new in replace.items():
                if info.filename.endswith(suffix):
                    body = new
            zout.writestr(info.filename, body)
    return dst.getvalue()


def pth_cases():
    base = read(TINY_PTH)
    cases = []
    inspect = lambda f: ["inspect", "{dir}/" + f]
    run = lambda f: ["run", "--model", "{dir}/" + f, "--prompt-ids", "3", "-n", "1"]
    for cut in [0, 1, 4, 22, 100, 1000, len(base) // 4, len(base) // 2, 3 * len(base) // 4, len(base) - 100,
                len(base) - 22, len(base) - 1]:
        cases.append(Case("pth: truncated zip", f"cut at {cut}", inspect("m.pth"), {"m.pth": base[:cut]}, ["m.pth"]))
    entries = zip_entries(base)
    rng = random.Random(19)
    for name, start, length in entries:
        if length == 0 or not (name.endswith("data.pkl") or "/data/" in name):
            continue   # the reader never opens the other records (version, byteorder)
        for _ in range(2 if length > 64 else 1):
            at = start + rng.randrange(length)
            cases.append(Case("pth: corrupted entry byte", f"{name} byte {at}", run("m.pth"),
                              {"m.pth": flip(base, at)}, ["m.pth"]))
    central = base.find(b"PK\x01\x02")
    for at, what in [(base.rfind(b"PK\x05\x06"), "end-of-central-directory signature"),
                     (0, "first local header signature"), (central, "first central directory record signature"),
                     (central + 28, "first central record's name length")]:
        cases.append(Case("pth: corrupted zip structure", what, inspect("m.pth"), {"m.pth": flip(base, at)}, ["m.pth"]))
    pkl_name = [n for n, _, _ in entries if n.endswith("data.pkl")][0]
    original_pickle = zipfile.ZipFile(io.BytesIO(base)).read(pkl_name)
    bad_pickles = {
        "empty pickle": b"",
        "garbage": bytes(rng.randrange(256) for _ in range(200)),
        "first half of the pickle": original_pickle[: len(original_pickle) // 2],
        "GLOBAL os.system": b"\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.",
        "a list, not a dict": b"\x80\x02]q\x00.",
        "protocol 9": b"\x80\x09}q\x00.",
        "unknown opcode": b"\x80\x02\xff.",
        "100000 nested MARKs": b"\x80\x02" + b"(" * 100000 + b".",
        "100000 nested lists": b"\x80\x02" + b"]" * 100000 + b".",
        "BINUNICODE of 4 GiB": b"\x80\x02X\xff\xff\xff\xffabc",
        "stack underflow (SETITEM on empty)": b"\x80\x02s.",
        "persistent id of a missing storage": original_pickle.replace(b"X\x01\x00\x00\x000", b"X\x01\x00\x00\x009", 1),
        "no STOP": b"\x80\x02}q\x00",
    }
    for what, body in bad_pickles.items():
        cases.append(Case("pth: bad pickle (valid CRC)", what, run("m.pth"), {"m.pth": rezip(base, {"data.pkl": body})},
                          ["m.pth"]))
    cases.append(Case("pth: bad pickle (valid CRC)", "tensor storage emptied", run("m.pth"),
                      {"m.pth": rezip(base, {"data/0": b""})}, ["m.pth"]))
    for what, content in [("empty file", b""), ("text file", b"hello\n"), ("random bytes", bytes(range(256)) * 8),
                          ("a folder", make_folder)]:
        cases.append(Case("pth: not a checkpoint", what, inspect("m.pth"), {"m.pth": content}, ["m.pth"]))
    cases.append(Case("pth: not a checkpoint", "missing file", inspect("absent.pth"), {}, ["absent.pth"]))
    return cases


def safetensors_parts(data):
    n = struct.unpack_from("<Q", data, 0)[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def safetensors_bytes(header, body, raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def safetensors_cases():
    base = read(TINY_SAFETENSORS)
    header, body = safetensors_parts(base)
    first = next(k for k in header if k != "__metadata__")
    first_at = header[first]["data_offsets"][0]
    cases = []
    cmd = ["run", "--model", "{dir}/m.safetensors", "--prompt-ids", "3", "-n", "1"]

    def variant(cls, what, change=None, raw=None, length=None, data=None):
        h = json.loads(json.dumps(header))
        if change:
            change(h)
        out = safetensors_bytes(h, body if data is None else data, raw)
        if length is not None:
            out = struct.pack("<Q", length) + out[8:]
        cases.append(Case(cls, what, cmd, {"m.safetensors": out}, ["m.safetensors"]))

    def entry(key, value):
        return lambda h: h[first].__setitem__(key, value)

    hdr = "safetensors: bad header"
    variant(hdr, "header length beyond the file", length=len(base))
    variant(hdr, "header length 2^63", length=1 << 63)
    variant(hdr, "header length 0", length=0)
    variant(hdr, "header not JSON", raw=b"{not json" + b" " * 20)
    variant(hdr, "header a list", raw=b"[1, 2, 3]")
    variant(hdr, "header not UTF-8", raw=b'{"\xff\xfe": 1}')
    variant(hdr, "number beyond double", raw=json.dumps(header).encode().replace(b"[", b"[1e999, ", 1))
    variant(hdr, "__metadata__ nested 100000 deep",
            raw=b'{"__metadata__": ' + b"[" * 100000 + b"]" * 100000 + b", " + json.dumps(header).encode()[1:])
    variant(hdr, "__metadata__ value not a string", lambda h: h.__setitem__("__metadata__", {"format": 7}))
    variant(hdr, "duplicate tensor name",
            raw=b"{" + json.dumps(first).encode() + b": " + json.dumps(header[first]).encode() + b", " +
            json.dumps(header).encode()[1:])
    off = "safetensors: bad offsets"
    variant(off, "end beyond the data", entry("data_offsets", [0, len(body) + 4]))
    variant(off, "begin after end", entry("data_offsets", [8, 4]))
    variant(off, "negative offset", entry("data_offsets", [-4, 0]))
    variant(off, "offset 2^64 - 1", entry("data_offsets", [0, 18446744073709551615]))
    variant(off, "length not shape × dtype", entry("data_offsets", [header[first]["data_offsets"][0],
                                                                    header[first]["data_offsets"][1] - 4]))
    variant(off, "data cut short", data=body[: len(body) // 2])
    variant(off, "offsets not a pair", entry("data_offsets", [0]))
    dt = "safetensors: bad dtype or shape"
    variant(dt, "dtype Q8", entry("dtype", "Q8"))
    variant(dt, "dtype missing", lambda h: h[first].pop("dtype"))
    variant(dt, "dtype a number", entry("dtype", 4))
    variant(dt, "negative dimension", entry("shape", [-1, 32]))
    variant(dt, "shape product overflows", entry("shape", [1 << 62, 1 << 62]))
    variant(dt, "NaN weight", data=body[:first_at] + struct.pack("<f", float("nan")) + body[first_at + 4:])
    return cases


# ------------------------------------------------------------------------------------------------
# Mapping files (docs/mapping-format.md): 24-byte header, 9 × 32-byte section table, CRCs.

MAP_HEADER, MAP_ENTRY, MAP_SECTIONS = 24, 32, 9
MAP_TABLE_END = MAP_HEADER + MAP_SECTIONS * MAP_ENTRY


def map_sections(data):
    out = []
    for i in range(MAP_SECTIONS):
        at = MAP_HEADER + i * MAP_ENTRY
        name = data[at:at + 16].rstrip(b"\0").decode()
        offset, length = struct.unpack_from("<QQ", data, at + 16)
        out.append((name, offset, length))
    return out


def reseal(data):
    """Every CRC recomputed, so a damaged field reaches the parser instead of a checksum."""
    b = bytearray(data)
    struct.pack_into("<I", b, MAP_TABLE_END, crc(bytes(b[:MAP_TABLE_END])))
    for _, offset, length in map_sections(bytes(b)):
        if offset + length + 4 <= len(b):
            struct.pack_into("<I", b, offset + length, crc(bytes(b[offset:offset + length])))
    struct.pack_into("<I", b, len(b) - 4, crc(bytes(b[:-4])))
    return bytes(b)


def mapping_cases(base):
    cases = []
    cmd = ["inspect", "{dir}/m.stmap"]
    sections = map_sections(base)
    for cut in [8, 24, MAP_TABLE_END, MAP_TABLE_END + 4, 1000, len(base) // 3, len(base) // 2, len(base) - 5,
                len(base) - 1]:
        cases.append(Case("mapping: truncated", f"cut at {cut}", cmd, {"m.stmap": base[:cut]}, ["m.stmap"]))
    cases.append(Case("mapping: CRC mismatch", "header byte", cmd, {"m.stmap": flip(base, 20)}, ["m.stmap"]))
    for name, offset, length in sections:
        if length:
            cases.append(Case("mapping: CRC mismatch", f"section '{name}' byte", cmd,
                              {"m.stmap": flip(base, offset + length // 2)}, ["m.stmap"]))
    cases.append(Case("mapping: CRC mismatch", "whole-file CRC", cmd, {"m.stmap": flip(base, len(base) - 2)},
                      ["m.stmap"]))

    def field(what, change):
        b = bytearray(base)
        change(b)
        cases.append(Case("mapping: damaged field, valid CRCs", what, cmd, {"m.stmap": reseal(bytes(b))}, ["m.stmap"]))

    field("magic", lambda b: b.__setitem__(slice(0, 4), b"XXXX"))
    field("format version 99", lambda b: struct.pack_into("<I", b, 8, 99))
    field("section count 3", lambda b: struct.pack_into("<I", b, 12, 3))
    field("declared file size", lambda b: struct.pack_into("<Q", b, 16, len(base) + 8))
    field("section name", lambda b: b.__setitem__(slice(MAP_HEADER, MAP_HEADER + 5), b"modex"))
    field("section offset", lambda b: struct.pack_into("<Q", b, MAP_HEADER + MAP_ENTRY + 16, 7))
    field("section length 2^63", lambda b: struct.pack_into("<Q", b, MAP_HEADER + 24, 1 << 63))
    units = next(s for s in sections if s[0] == "units")
    field("unit count 2^60", lambda b: struct.pack_into("<Q", b, units[1], 1 << 60))
    field("first unit id 7", lambda b: struct.pack_into("<i", b, units[1] + 8, 7))
    field("first unit name length 2^32-1", lambda b: struct.pack_into("<I", b, units[1] + 12, 0xFFFFFFFF))
    name_len = struct.unpack_from("<I", base, units[1] + 12)[0]
    name_at = units[1] + 16
    for what, bad in [("0xFF", b"\xff"), ("overlong '/'", b"\xc0\xaf"), ("surrogate", b"\xed\xa0\x80"),
                      ("cut sequence", b"\xe2\x82")]:
        if name_len >= len(bad):
            field(f"unit name not UTF-8 ({what})",
                  lambda b, bad=bad: b.__setitem__(slice(name_at, name_at + len(bad)), bad))
    model = sections[0]
    field("model n_layer 0", lambda b: struct.pack_into("<i", b, model[1], 0))
    field("model n_embd -1", lambda b: struct.pack_into("<i", b, model[1] + 4, -1))
    field("model weight_bits 99", lambda b: struct.pack_into("<i", b, model[1] + 12, 99))
    field("model binary_embedding 7", lambda b: struct.pack_into("<B", b, model[1] + 24, 7))
    field("trailing byte in 'model'", lambda b: struct.pack_into("<Q", b, MAP_HEADER + 24, model[2] + 1))
    for what, content in [("empty file", b""), ("a checkpoint", read(TINY_PTH)[:2000]), ("a folder", make_folder)]:
        cases.append(Case("mapping: not a mapping", what,
                          ["simulate", "--map", "{dir}/m.stmap", "--prompt-ids", "3", "-n", "1"], {"m.stmap": content},
                          ["m.stmap"]))
    return cases


# ------------------------------------------------------------------------------------------------
# Chip and energy YAML

# Nine levels of nine aliases each: 9^10 scalars if expanded.
ALIAS_BOMB = b"a: &a [x, x, x, x, x, x, x, x, x]\n" + b"".join(
    b"%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n" % ((bytes([c]),) * 2 + (bytes([c - 1]),) * 9)
    for c in range(ord("b"), ord("k")))
SMALL_BUFFERS = (b"  flit_bits: 32\n", b"  flit_bits: 32\n  input_buffer_depth_flits: 1\n")


def chip_cases():
    base = read(TINY_CHIP)
    cases = []
    cmd = ["chip", "{dir}/c.yaml"]

    def chip(cls, what, data, names=("c.yaml",)):
        cases.append(Case(cls, what, cmd, {"c.yaml": data}, list(names)))

    t = "chip YAML: wrong type"
    chip(t, "text for an integer", replace_once(base, b"rows: 2", b"rows: two"), ["rows"])
    chip(t, "list for an integer", replace_once(base, b"rows: 2", b"rows: [2]"), ["rows"])
    chip(t, "number for a section", replace_once(base, b"mesh:", b"mesh: 3\nmesh_:"), ["mesh"])
    chip(t, "integer overflow", replace_once(base, b"rows: 2", b"rows: 99999999999999999999999"), ["rows"])
    chip(t, "float for an integer", replace_once(base, b"rows: 2", b"rows: 2.5"), ["rows"])
    chip(t, "1e999 for a number", replace_once(base, b"clock_frequency_mhz: 100", b"clock_frequency_mhz: 1e999"),
         ["clock_frequency_mhz"])
    r = "chip YAML: out of range"
    chip(r, "zero rows", replace_once(base, b"rows: 2", b"rows: 0"), ["rows"])
    chip(r, "negative rows", replace_once(base, b"rows: 2", b"rows: -2"), ["rows"])
    chip(r, "a million rows", replace_once(base, b"rows: 2", b"rows: 1000000"), ["rows"])
    chip(r, "buffer smaller than a packet", replace_once(base, *SMALL_BUFFERS), ["buffer"])
    u = "chip YAML: unknown or duplicate key"
    chip(u, "misspelt key", replace_once(base, b"rows:", b"rowz:"), ["rowz"])
    chip(u, "extra key", base + b"\nextra_section: 1\n", ["extra_section"])
    chip(u, "duplicate key", replace_once(base, b"rows: 2", b"rows: 2\n  rows: 2"), ["rows"])
    chip(u, "missing section", b"name: x\n", ["c.yaml"])
    e = "chip YAML: bad encoding or structure"
    chip(e, "name not UTF-8", replace_once(base, b"name: ", b"name: bad\xff"), ["name"])
    chip(e, "alias bomb", ALIAS_BOMB)
    chip(e, "nested 100000 deep", b"[" * 100000 + b"]" * 100000)
    chip(e, "unterminated quote", b'name: "abc\n')
    chip(e, "tab indentation", replace_once(base, b"\n  ", b"\n\t"))
    chip(e, "empty file", b"")
    chip(e, "binary", bytes(range(256)))
    chip(e, "a folder", make_folder)
    # YAML 1.2 allows UTF-16 with a byte-order mark, and yaml-cpp reads it: the same chip loads.
    cases.append(Case(e, "UTF-16 file with a byte-order mark (valid YAML)", cmd,
                      {"c.yaml": base.decode().encode("utf-16")}, expect="ok"))
    passwd = b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    cases.append(Case(e, "a passwd file (not echoed)", cmd, {"c.yaml": passwd}, ["c.yaml"],
                      check=lambda out: "the file's content is echoed" if "/usr/sbin/nologin" in out else None))
    cases.append(Case(e, "missing file", ["chip", "{dir}/absent.yaml"], {}, ["absent.yaml"]))
    cases.append(Case(e, "compile on a chip the simulator cannot run",
                      ["compile", "-m", TINY_PTH, "--check", "--chip", "{dir}/c.yaml"],
                      {"c.yaml": replace_once(base, *SMALL_BUFFERS)}, ["c.yaml"]))
    return cases


def energy_cases():
    base = read(DEFAULT_ENERGY)
    cases = []
    cmd = ["chip", DEFAULT_CHIP, "--energy-table", "{dir}/e.yaml"]
    line = b"    binary: 0.1 "          # energy_pj.synaptic_op.binary
    key = "synaptic_op.binary"

    def energy(what, data, names=("e.yaml",)):
        cases.append(Case("energy YAML", what, cmd, {"e.yaml": data}, list(names)))

    energy("action missing", replace_once(base, line, b"    # "), ["'binary'"])
    energy("negative energy", replace_once(base, line, b"    binary: -1.0 "), [key])
    energy("text for a number", replace_once(base, line, b"    binary: lots "), [key])
    energy("NaN energy", replace_once(base, line, b"    binary: .nan "), [key])
    energy("unknown action", replace_once(base, line, b"    teleport: 1.0\n" + line), ["teleport"])
    energy("version 2", replace_once(base, b"version: 1", b"version: 2"), ["version"])
    energy("name not UTF-8", replace_once(base, b"name: default", b"name: \xc0\xaf"), ["name"])
    energy("alias bomb", ALIAS_BOMB)
    energy("empty file", b"")
    energy("a folder", make_folder)
    return cases


# ------------------------------------------------------------------------------------------------
# Statistics JSON (report --stats)


def stats_cases(stats_text, chip_yaml):
    base = json.loads(stats_text)
    cases = []
    cmd = ["report", "--stats", "{dir}/s.json"]

    def stats(cls, what, data, names=("s.json",), check=None):
        files = {"s.json": data if isinstance(data, bytes) or callable(data) else json.dumps(data).encode(),
                 "s.json.chip.yaml": chip_yaml}
        cases.append(Case(cls, what, cmd, files, list(names), check=check))

    def changed(f):
        d = json.loads(stats_text)
        f(d)
        return d

    core0 = base["cores"][0]
    r = "stats JSON: out-of-range count"
    stats(r, "negative core count", changed(lambda d: d["cores"][0].__setitem__("sop_binary", -5)), ["sop_binary"])
    stats(r, "count above 2^63", changed(lambda d: d["cores"][0].__setitem__("sop_binary", 1 << 64)), ["sop_binary"])
    stats(r, "counts whose sum over layers leaves INT64",
          changed(lambda d: [layer["att.key"]["sop"].__setitem__("graded", (1 << 63) - 1)
                             for layer in d["counts"]["sum"]["layers"][:2]]), ["sop.graded"])
    stats(r, "fractional count", changed(lambda d: d["cores"][0].__setitem__("busy_cycles", 2.5)), ["busy_cycles"])
    stats(r, "negative total cycles", changed(lambda d: d["cycles"].__setitem__("total", -1)), ["total"])
    stats(r, "1e999", replace_once(stats_text.encode(), b'"steps": ', b'"steps": 1e999, "_": '), ["s.json"])
    d = "stats JSON: duplicate or inconsistent cores"
    stats(d, "1000 copies of the cores", changed(lambda x: x.__setitem__("cores", x["cores"] * 1000)), ["core"])
    stats(d, "one core twice", changed(lambda x: x["cores"].append(dict(core0))), ["core"])
    stats(d, "core index beyond the chip", changed(lambda x: x["cores"][0].__setitem__("index", 10 ** 6)), ["index"])
    stats(d, "core index 2^32 (wraps to core 0 as an int)",
          changed(lambda x: x["cores"][1].__setitem__("index", (1 << 32) + x["cores"][0]["index"])), ["index"])
    stats(d, "cores not a list", changed(lambda x: x.__setitem__("cores", {"a": 1})), ["cores"])
    s = "stats JSON: chip.spec_path"
    stats(s, "spec_path /etc/passwd (not echoed)", changed(lambda x: x["chip"].__setitem__("spec_path", "/etc/passwd")),
          ["/etc/passwd"], check=lambda out: "echoes the file" if "root:x:0:0" in out else None)
    stats(s, "spec_path missing file", changed(lambda x: x["chip"].__setitem__("spec_path", "nowhere.yaml")),
          ["nowhere.yaml"])
    stats(s, "spec_path a folder", changed(lambda x: x["chip"].__setitem__("spec_path", "/")), ["description / "])
    stats(s, "spec_path a number", changed(lambda x: x["chip"].__setitem__("spec_path", 7)), ["spec_path"])
    # The chip file beside the stats is found from any working folder: the path is relative to the
    # stats file, not to where simulate ran.
    cases.append(Case(s, "relative spec_path, report run from another folder", ["report", "--stats", "sub/s.json"],
                      {"sub": make_folder, "sub/s.json": stats_text.encode(), "sub/s.json.chip.yaml": chip_yaml},
                      expect="ok"))
    f = "stats JSON: malformed"
    stats(f, "not JSON", b"{\"format\": ", ["s.json"])
    stats(f, "nested 100000 deep", b"[" * 100000 + b"]" * 100000, ["s.json"])
    stats(f, "wrong format tag", changed(lambda x: x.__setitem__("format", "other-1")), ["format"])
    stats(f, "unknown level", changed(lambda x: x.__setitem__("level", "quantum")), ["level"])
    stats(f, "counts missing", changed(lambda x: x.pop("counts")), ["counts"])
    stats(f, "empty file", b"", ["s.json"])
    stats(f, "a folder", make_folder, ["s.json"])
    return cases


# ------------------------------------------------------------------------------------------------
# Tokenizer files and text inputs


def utf16_vocab(mapping):
    return b"\xff\xfe" + json.dumps(mapping, ensure_ascii=False).encode("utf-16-le")


def neox_model_safetensors(n_embd=4, vocab=50277):
    """A one-layer SpikeGPT of the NeoX vocabulary with constant weights: it exists only to make
    the CLI load 20B_tokenizer.json."""
    c, v = n_embd, vocab
    shapes = [("emb.weight", [v, c])]
    for s, shape in [("ln1.weight", [c]), ("ln1.bias", [c]), ("ln2.weight", [c]), ("ln2.bias", [c]),
                     ("ln0.weight", [c]), ("ln0.bias", [c]), ("att.time_decay", [c]), ("att.time_first", [c]),
                     ("att.time_mix_k", [1, 1, c]), ("att.time_mix_v", [1, 1, c]), ("att.time_mix_r", [1, 1, c]),
                     ("att.key.weight", [c, c]), ("att.value.weight", [c, c]), ("att.receptance.weight", [c, c]),
                     ("att.output.weight", [c, c]), ("ffn.time_mix_k", [1, 1, c]), ("ffn.time_mix_r", [1, 1, c]),
                     ("ffn.key.weight", [4 * c, c]), ("ffn.receptance.weight", [c, c]),
                     ("ffn.value.weight", [c, 4 * c])]:
        shapes.append(("blocks.0." + s, shape))
    shapes += [("ln_out.weight", [c]), ("ln_out.bias", [c]), ("head.weight", [v, c])]
    header, body, offset = {}, bytearray(), 0
    for name, shape in shapes:
        n = 1
        for dim in shape:
            n *= dim
        value = 1.0 if name.endswith(("ln0.weight", "ln1.weight", "ln2.weight", "ln_out.weight")) else 0.01
        body += struct.pack("<f", value) * n
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + 4 * n]}
        offset += 4 * n
    return safetensors_bytes(header, bytes(body))


def tokenizer_cases(data_dir, neox_model):
    cases = []
    vocab = json.loads(read(os.path.join(data_dir, "vocab_book.json"))[2:].decode("utf-16-le"))
    char_cmd = ["run", "--model", SHIPPED_MODEL, "--data-dir", "{dir}/d", "--prompt", "hello", "-n", "1"]

    def char(what, content, names=("vocab_book.json",)):
        cases.append(Case("tokenizer JSON: vocab_book.json", what, char_cmd,
                          {"d": make_folder, "d/vocab_book.json": content}, list(names)))

    char("empty file", b"")
    char("UTF-8 instead of UTF-16", json.dumps(vocab).encode())
    char("odd byte count", utf16_vocab(vocab)[:-1])
    char("unpaired surrogate", b"\xff\xfe" + '{"0": "'.encode("utf-16-le") + b"\x00\xd8" + '"}'.encode("utf-16-le"))
    char("one id missing (76 ids)", utf16_vocab({k: v for k, v in vocab.items() if k != "5"}))
    dup = dict(vocab)
    dup["1"] = dup["2"]
    char("a character twice", utf16_vocab(dup))
    char("two characters in one id", utf16_vocab(dict(vocab, **{"3": "ab"})))
    char("number beyond double", b"\xff\xfe" + '{"0": " ", "1": 1e999}'.encode("utf-16-le"))
    char("not an object", utf16_vocab(["a", "b"]))
    char("a folder", make_folder)

    neox_cmd = ["run", "--model", "{dir}/neox.safetensors", "--data-dir", "{dir}/d", "--prompt", "hello", "-n", "1"]
    small_bpe = read(os.path.join(ROOT, "tests", "fuzz", "corpus", "bpe_tokenizer_json", "neox_first_500_ids.json"))

    def bpe(what, content, names=("20B_tokenizer.json",)):
        cases.append(Case("tokenizer JSON: 20B_tokenizer.json", what, neox_cmd,
                          {"neox.safetensors": neox_model, "d": make_folder, "d/20B_tokenizer.json": content},
                          list(names)))

    def edited(change):
        t = json.loads(small_bpe)
        change(t)
        return json.dumps(t).encode()

    bpe("empty file", b"")
    bpe("not JSON", b"{\"model\": ")
    bpe("number beyond double", small_bpe.replace(b"{", b'{"x": 1e999, ', 1))
    bpe("500 ids, not 50277", small_bpe, ["20B_tokenizer"])
    bpe("empty added token", edited(lambda t: t.__setitem__("added_tokens", [{"id": 600, "content": "",
                                                                              "special": True}])))
    bpe("duplicate added token", edited(lambda t: t.__setitem__(
        "added_tokens", [{"id": 600, "content": "<x>", "special": True}, {"id": 601, "content": "<x>", "special": True}])))
    bpe("merge of unknown tokens", edited(lambda t: t["model"].__setitem__(
        "merges", ["\u0120 zzzzunknown"] + list(t["model"]["merges"]))))
    bpe("byte token missing", edited(lambda t: t["model"].__setitem__(
        "vocab", {k: v for k, v in t["model"]["vocab"].items() if k != "a"})))
    bpe("model not an object", edited(lambda t: t.__setitem__("model", 7)))
    bpe("a folder", make_folder)
    return cases


def text_cases(mapping):
    cases = []
    ev = lambda *extra: ["eval", "--model", SHIPPED_MODEL, "--text"] + list(extra)
    t = "text input"
    cases.append(Case(t, "eval --text a folder", ev("{dir}/t"), {"t": make_folder}, ["t"]))
    cases.append(Case(t, "eval --text /dev/zero", ev("/dev/zero"), {}, ["/dev/zero"]))
    cases.append(Case(t, "eval --text missing file", ev("{dir}/absent.txt"), {}, ["absent.txt"]))
    cases.append(Case(t, "eval --text empty file", ev("{dir}/t.txt"), {"t.txt": b""}, ["t.txt"]))
    cases.append(Case(t, "calibrate --text a folder", ["calibrate", "--model", SHIPPED_MODEL, "--text", "{dir}/t",
                                                        "-o", "{dir}/c.json"], {"t": make_folder}, ["t"]))
    cases.append(Case(t, "calibrate --text empty file", ["calibrate", "--model", SHIPPED_MODEL, "--text",
                                                          "{dir}/t.txt", "-o", "{dir}/c.json"], {"t.txt": b""},
                      ["t.txt"]))
    cases.append(Case(t, "simulate --text empty file", ["simulate", "--map", mapping, "--progress", "off", "--text",
                                                         "{dir}/t.txt"], {"t.txt": b""}, ["t.txt"]))
    cases.append(Case(t, "eval --text /dev/zero --max-tokens 20 (bounded)", ev("/dev/zero", "--max-tokens", "20"), {},
                      expect="ok", check=lambda out: None if "tokens evaluated:  19" in out else "did not evaluate 19"))
    # The character vocabulary maps a character it lacks to its unknown id, as upstream does.
    cases.append(Case(t, "run --prompt of a character outside the vocabulary",
                      ["run", "--model", SHIPPED_MODEL, "--prompt", "\u4e2d", "-n", "1"], expect="ok"))
    return cases


# ------------------------------------------------------------------------------------------------
# CLI misuse: numeric options


def option_cases(mapping, stats_file):
    m = ["--model", SHIPPED_MODEL]
    run = ["run"] + m + ["--prompt-ids", "3", "-n", "1"]
    sim = ["simulate", "--map", mapping, "--prompt-ids", "3", "-n", "1", "--progress", "off"]
    cases = []
    for args, option in [
        (["eval"] + m + ["--text", HELDOUT, "--max-tokens", "-5"], "--max-tokens"),
        (["eval"] + m + ["--text", HELDOUT, "--max-tokens", "1e3"], "--max-tokens"),
        (run + ["--seed", "-1"], "--seed"),
        (run + ["--temperature", "nan"], "--temperature"),
        (run + ["--temperature", "-1"], "--temperature"),
        (run + ["--top-p", "2"], "--top-p"),
        (run + ["--threads", "-1"], "--threads"),
        (["run"] + m + ["--prompt-ids", "3", "-n", "-1"], "--tokens"),
        (["run"] + m + ["--prompt-ids", "", "-n", "1"], "--prompt-ids"),
        (["run"] + m + ["--prompt-ids", "3,x", "-n", "1"], "--prompt-ids"),
        (["run"] + m + ["--prompt-ids", "99999999999", "-n", "1"], "99999999999"),
        (["compile"] + m + ["--check", "--placement-effort", "nan"], "--placement-effort"),
        (["compile"] + m + ["--check", "--firing-rate", "inf"], "--firing-rate"),
        (["compile"] + m + ["--check", "--max-cores", "-1"], "--max-cores"),
        (["compile"] + m + ["--check", "--profile-tokens", "-3"], "--profile-tokens"),
        (["compile"] + m + ["--check", "--objective", "speed"], "--objective"),
        (["run", "--quantized"] + m + ["--weight-bits", "1", "--prompt-ids", "3", "-n", "1"], "--weight-bits"),
        (sim + ["--watchdog-cycles", "-1"], "--watchdog-cycles"),
        (sim + ["--trace-cores", "100000", "--trace", "{dir}/t.vcd"], "--trace-cores"),
        (sim + ["--trace-cores", "-1", "--trace", "{dir}/t.vcd"], "--trace-cores"),
        (["report", "--stats", stats_file, "--batch", "0"], "--batch"),
        (["verify-rtl", "--cycles", "0"], "--cycles"),
        (run + ["--no-such-option"], "--no-such-option"),
    ]:
        shown = " ".join(a for a in args if a not in (SHIPPED_MODEL, mapping, stats_file))
        cases.append(Case("CLI: option out of range or unknown", shown[:80], args, {}, [option]))
    return cases


# ------------------------------------------------------------------------------------------------
# Outputs: same file as an input, full device, FIFO and symlink targets, unwritable paths


def output_cases(mapping, stats_text, chip_yaml):
    cases = []
    model = {"m.pth": read(SHIPPED_MODEL), "t.txt": read(HELDOUT)[:600]}
    m = ["--model", "{dir}/m.pth"]
    short = ["--prompt-ids", "3", "-n", "1"]
    # The checkpoint is a copy in the case folder, so its calibration is named explicitly.
    compile_ = ["compile"] + m + ["--calibration", SHIPPED_CALIBRATION, "--objective", "cores", "--profile-tokens", "0"]
    quantized = ["run", "--quantized", "--calibration", SHIPPED_CALIBRATION] + m + short
    sim = ["simulate", "--map", mapping, "--prompt-ids", "20,45", "-n", "1", "--quiet-stats", "--progress", "off"]
    stats_files = {"s.json": stats_text.encode(), "s.json.chip.yaml": chip_yaml}
    same = "output: same file as an input"
    for what, args, target in [
        ("compile -o the checkpoint", compile_ + ["-o", "{dir}/./m.pth"], "m.pth"),
        ("calibrate -o the checkpoint", ["calibrate"] + m + ["--text", "{dir}/t.txt", "-o", "{dir}/m.pth"], "m.pth"),
        ("calibrate -o the text", ["calibrate"] + m + ["--text", "{dir}/t.txt", "-o", "{dir}/t.txt"], "t.txt"),
        ("run --logits-out the checkpoint", ["run"] + m + short + ["--logits-out", "{dir}/m.pth"], "m.pth"),
        ("run --stats the checkpoint", quantized + ["--stats", "{dir}/m.pth"], "m.pth"),
        ("run --counts-out the checkpoint", quantized + ["--counts-out", "{dir}/m.pth"], "m.pth"),
        ("eval --json the text", ["eval"] + m + ["--text", "{dir}/t.txt", "--json", "{dir}/t.txt"], "t.txt"),
        ("report --json the stats", ["report", "--stats", "{dir}/s.json", "--json", "{dir}/s.json"], "s.json"),
        ("report --html the chip", ["report", "--stats", "{dir}/s.json", "--html", "{dir}/s.json.chip.yaml"],
         "s.json.chip.yaml"),
        ("simulate --stats the mapping", ["simulate", "--map", "{dir}/x.stmap", "--prompt-ids", "3", "-n", "1",
                                          "--stats", "{dir}/x.stmap"], "x.stmap"),
        ("compile -o the chip", compile_ + ["--chip", "{dir}/c.yaml", "-o", "{dir}/c.yaml"], "c.yaml"),
        ("compile -o a symlink to the checkpoint", compile_ + ["-o", "{dir}/link"], "m.pth"),
    ]:
        files = dict(model, **stats_files, **{"c.yaml": read(DEFAULT_CHIP), "x.stmap": read(mapping)})
        if "symlink" in what:
            files["link"] = symlink_to("m.pth")
        cases.append(Case(same, what, args, files, [target]))
    full = "output: /dev/full"
    for what, args in [
        ("compile -o", compile_ + ["-o", "/dev/full"]),
        ("calibrate -o", ["calibrate"] + m + ["--text", "{dir}/t.txt", "-o", "/dev/full"]),
        ("run --logits-out", ["run"] + m + short + ["--logits-out", "/dev/full"]),
        ("run --quantized --counts-out", quantized + ["--counts-out", "/dev/full"]),
        ("run --quantized --stats", quantized + ["--stats", "/dev/full"]),
        ("eval --json", ["eval"] + m + ["--text", "{dir}/t.txt", "--json", "/dev/full"]),
        ("simulate --stats", sim + ["--stats", "/dev/full"]),
        ("report --json", ["report", "--stats", "{dir}/s.json", "--json", "/dev/full"]),
        ("report --csv", ["report", "--stats", "{dir}/s.json", "--csv", "/dev/full"]),
        ("report --html", ["report", "--stats", "{dir}/s.json", "--html", "/dev/full"]),
        ("report --json ok + --html full", ["report", "--stats", "{dir}/s.json", "--json", "{dir}/ok.json", "--html",
                                            "/dev/full"]),
        ("verify-rtl --json", ["verify-rtl", "--config", "small", "--cycles", "2000", "--skip-backends", "--skip-loop",
                               "--json", "/dev/full"]),
    ]:
        cases.append(Case(full, what, args, dict(model, **stats_files), ["/dev/full"]))
    unw = "output: unwritable path"
    for what, args, target in [
        ("simulate --trace into a missing folder", sim + ["--trace", "/nonexistent-dir/t.vcd", "--trace-cores", "0",
                                                          "--stats", "{dir}/s2.json"], "/nonexistent-dir/t.vcd"),
        ("simulate --trace onto a folder", sim + ["--trace", "{dir}/sub.vcd", "--trace-cores", "0"], "sub.vcd"),
        ("compile -o into a missing folder", compile_ + ["-o", "/nonexistent-dir/x.stmap"], "/nonexistent-dir/x.stmap"),
        ("report --html into a missing folder", ["report", "--stats", "{dir}/s.json", "--json", "{dir}/ok.json",
                                                 "--html", "/nonexistent-dir/x.html"], "/nonexistent-dir/x.html"),
        ("eval --json onto a folder", ["eval"] + m + ["--text", "{dir}/t.txt", "--json", "{dir}/sub"], "sub"),
    ]:
        files = dict(model, **stats_files, **{"sub": make_folder, "sub.vcd": make_folder})
        cases.append(Case(unw, what, args, files, [target]))
    # Targets written through or followed, never replaced: these must succeed.
    special = "output: FIFO or symlink target"
    cases.append(Case(special, "compile -o a FIFO (read by another process)", compile_ + ["-o", "{dir}/fifo"],
                      dict(model, fifo=make_fifo), expect="ok", drain="fifo"))
    cases.append(Case(special, "report --json a FIFO (read by another process)",
                      ["report", "--stats", "{dir}/s.json", "--quiet", "--json", "{dir}/fifo"],
                      dict(stats_files, fifo=make_fifo), expect="ok", drain="fifo"))
    cases.append(Case(special, "report --json a symlink to a file",
                      ["report", "--stats", "{dir}/s.json", "--quiet", "--json", "{dir}/link.json"],
                      dict(stats_files, **{"real.json": b"old", "link.json": symlink_to("real.json")}), expect="ok",
                      check=lambda out, folder: None if os.path.islink(os.path.join(folder, "link.json")) and read(
                          os.path.join(folder, "real.json")) != b"old" else "symlink replaced or not followed"))
    return cases


# ------------------------------------------------------------------------------------------------
# Running


def snapshot(folder):
    state = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, folder)
            if os.path.islink(p):
                state[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                state[rel] = ("dir",)
            elif os.path.isfile(p):
                state[rel] = ("file", read(p))
            else:
                state[rel] = ("special", os.stat(p).st_mode)
    return state


def describe_change(before, after):
    for rel in sorted(set(before) | set(after)):
        if rel not in before:
            return f"left {rel}"
        if rel not in after:
            return f"removed {rel}"
        if before[rel] != after[rel]:
            return f"changed {rel}"
    return None


def drain(path, sink):
    with open(path, "rb") as f:
        sink.append(f.read())


def call_check(check, text, folder):
    return check(text, folder) if check.__code__.co_argcount == 2 else check(text)


def run_case(binary, case, work, timeout):
    folder = tempfile.mkdtemp(prefix="case-", dir=work)
    for rel, content in case.files.items():
        path = os.path.join(folder, rel)
        if callable(content):
            content(path)
        else:
            with open(path, "wb") as f:
                f.write(content)
    args = [binary] + [a.replace("{dir}", folder) for a in case.args]
    drained, drainer = [], None
    if case.drain:
        drainer = threading.Thread(target=drain, args=(os.path.join(folder, case.drain), drained), daemon=True)
        drainer.start()
    before = snapshot(folder)
    proc = subprocess.Popen(args, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        rc = None
    if drainer:
        drainer.join(5)
    errors = err.decode("utf-8", "replace")
    text = out.decode("utf-8", "replace") + errors
    change = describe_change(before, snapshot(folder))
    if rc is None:
        outcome = "hung"
    elif rc < 0 or rc >= 126:
        outcome = f"crashed (signal {-rc if rc < 0 else rc - 128})"
    elif case.expect == "ok":
        problem = None if rc == 0 else f"refused (exit {rc})"
        if problem is None and case.check:
            problem = call_check(case.check, text, folder)
        if problem is None and case.drain:
            mode = os.lstat(os.path.join(folder, case.drain)).st_mode
            problem = None if drained and drained[0] and (mode & 0o170000) == 0o010000 else "FIFO not written through"
        outcome = problem or "ok"
    elif rc == 0:
        outcome = "accepted"
    elif change:
        outcome = f"partial output ({change})"
    elif case.names and not any(n in text for n in case.names):
        outcome = "error naming neither file nor field"
    elif case.check and call_check(case.check, text, folder):
        outcome = call_check(case.check, text, folder)
    else:
        outcome = "clean error"
    shutil.rmtree(folder, ignore_errors=True)
    # The error's headline and, for a list of problems, the first.
    lines = [l.strip() for l in (errors if errors.strip() else text).splitlines() if l.strip()]
    first = next((i for i, l in enumerate(lines) if "error" in l.lower()), 0)
    message = " ".join(lines[first:first + 2])
    return outcome, message.replace(folder, "DIR").replace(work, "WORK")


def prepare(binary, work, timeout):
    """A mapping of the shipped model on the default chip, and the statistics of one simulated
    token with the chip file simulate writes beside them."""
    mapping = os.path.join(work, "shipped.stmap")
    stats = os.path.join(work, "shipped.stats.json")
    for args in ([binary, "compile", "--objective", "cores", "--profile-tokens", "0", "-o", mapping],
                 [binary, "simulate", "--map", mapping, "--prompt-ids", "20,45", "-n", "1", "--quiet-stats",
                  "--progress", "off", "--stats", stats]):
        r = subprocess.run(args, capture_output=True, timeout=timeout * 5)
        if r.returncode != 0:
            sys.exit(f"setup failed: {' '.join(args)}\n{r.stdout.decode()}{r.stderr.decode()}")
    stats_json = json.loads(read(stats))
    chip_yaml = read(stats + ".chip.yaml")
    stats_json["chip"]["spec_path"] = "s.json.chip.yaml"   # beside the stats file, relative to it
    return mapping, stats, json.dumps(stats_json), chip_yaml


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "spiketile"))
    ap.add_argument("--data-dir", default=os.environ.get("SPIKETILE_DATA_DIR",
                                                         os.path.join(os.path.dirname(ROOT), "shared", "data")))
    ap.add_argument("--timeout", type=float, default=120, help="seconds one case may take")
    ap.add_argument("--only", help="run only the classes whose name contains this text")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case and its message")
    a = ap.parse_args()
    binary = os.path.abspath(a.bin)
    if not os.access(binary, os.X_OK):
        sys.exit(f"{binary} is not an executable; build first (scripts/build.sh) or give --bin")
    work = tempfile.mkdtemp(prefix="spiketile-robustness-")
    try:
        mapping, stats_file, stats_text, chip_yaml = prepare(binary, work, a.timeout)
        cases = (pth_cases() + safetensors_cases() + mapping_cases(read(mapping)) + chip_cases() + energy_cases() +
                 stats_cases(stats_text, chip_yaml) + tokenizer_cases(a.data_dir, neox_model_safetensors()) +
                 text_cases(mapping) + option_cases(mapping, stats_file) +
                 output_cases(mapping, stats_text, chip_yaml))
        if a.only:
            cases = [c for c in cases if a.only in c.cls]
        table, defects = {}, []
        for case in cases:
            outcome, message = run_case(binary, case, work, a.timeout)
            row = table.setdefault(case.cls, {"cases": 0, "outcomes": {}, "example": ""})
            row["cases"] += 1
            row["outcomes"][outcome] = row["outcomes"].get(outcome, 0) + 1
            if not row["example"] and outcome == "clean error":
                row["example"] = message
            if outcome not in ("clean error", "ok"):
                defects.append((case, outcome, message))
            if a.verbose:
                print(f"[{outcome}] {case.cls} / {case.name}: {message[:240]}", flush=True)
        print("| class | cases | outcome | example message |")
        print("|---|---|---|---|")
        for cls, row in table.items():
            outcomes = ", ".join(f"{n} {o}" for o, n in sorted(row["outcomes"].items()))
            example = row["example"].replace("|", "\\|")[:200]
            print(f"| {cls} | {row['cases']} | {outcomes} | `{example}` |")
        print(f"\n{len(cases)} cases, {len(defects)} defects")
        for case, outcome, message in defects:
            print(f"DEFECT [{outcome}] {case.cls} / {case.name}: {message[:300]}")
        return 1 if defects else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
