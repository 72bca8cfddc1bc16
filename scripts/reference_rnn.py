#!/usr/bin/python3
"""Independent float32 PyTorch reference of SpikeGPT RNN inference (upstream src/model_run.py,
class RWKV_RNN at HEAD, FLOAT_MODE fp32), written from ../shared/reference/spikegpt.md §3–§5.

It is the oracle the C++ golden model is tested against (tests/data/fixtures/) and the Python
side of the CPU throughput benchmark. Needs torch, so run it with the Debian interpreter:

    /usr/bin/python3 scripts/reference_rnn.py --model M.pth --tokens 1,2,3 --logits-out l.npy
    /usr/bin/python3 scripts/reference_rnn.py --model M.pth --tokens-file t.json \
        --logits-out l.npy --spikes-out s.npz [--no-rescale] [--binary-embedding auto|on|off]
    /usr/bin/python3 scripts/reference_rnn.py --bench 64 --random-shape 12,512,5458 --threads 1
    /usr/bin/python3 scripts/reference_rnn.py --model M.pth --tokens-file t.json --check-parallel

Semantics (upstream defaults in brackets):
  * load: .pth (torch.save'd state dict) or .safetensors (parsed by hand below); L, C, V are
    inferred from tensor shapes (D8), every key of §5.2 is checked for presence and shape.
  * load-time transforms: every tensor is cast to float32 first; `.time_*` squeezed;
    time_decay -> -exp(time_decay) (float32); time_first unchanged; [D1 on] att.output.weight
    and ffn.value.weight of block i divided by 2**(i // 6) (upstream divides in the stored
    dtype before its cast; both orders agree bit for bit unless a 16-bit weight is subnormal,
    which make_fixtures.py checks never happens in the fixtures).
  * per token: state [5L, C] float32 (xf, xa, a, b, p; p starts at -1e30), 2L LIF membranes
    (start at 0); embedding row binarised with 1[e >= 0] iff [auto: V == 77] (D2);
    LIF: v = v + (x - v) / 2.0; spike = (v - 1.0 >= 0); v = (1 - spike) * v + spike * 0.0;
    [D1 on] x = x / 2 after every 6th layer.

`--no-rescale` switches off both halves of D1 (weight division and x/2).
"""

import argparse
import collections
import json
import math
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

RESCALE_LAYER = 6          # RWKV_RESCALE_LAYER in model_run.py
LIF_TAU = 2.0              # spikingjelly LIFNode defaults
LIF_V_THRESHOLD = 1.0
LIF_V_RESET = 0.0
WKV_P_INIT = -1e30         # state[5i+4] initial value


# --------------------------------------------------------------------------------------------
# Checkpoint I/O
# --------------------------------------------------------------------------------------------

_ST_DTYPES = {
    "F32": (torch.float32, 4),
    "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2),
    "F64": (torch.float64, 8),
}


def load_safetensors(path):
    """Minimal safetensors reader: u64 LE header length, JSON header, raw little-endian data."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", raw[:8])
    if 8 + hlen > len(raw):
        raise ValueError(f"{path}: header length {hlen} exceeds file size {len(raw)}")
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    entries.sort(key=lambda kv: kv[1]["data_offsets"][0])   # file order
    out = collections.OrderedDict()
    for name, info in entries:
        if info["dtype"] not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {info['dtype']}")
        dt, size = _ST_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        shape = list(info["shape"])
        n = math.prod(shape) if shape else 1
        if end - begin != n * size:
            raise ValueError(f"{path}: tensor {name}: {end - begin} bytes for shape {shape}")
        buf = bytearray(raw[base + begin:base + end])
        t = torch.frombuffer(buf, dtype=dt) if n > 0 else torch.empty(0, dtype=dt)
        out[name] = t.reshape(shape).clone()
    return out


def save_safetensors(path, state_dict):
    """Writes a safetensors file by hand (the safetensors package is not installed).

    Header keys are written in state-dict order, data laid out in the same order, header padded
    with spaces to a multiple of 8 bytes (as the reference implementation does)."""
    rev = {v[0]: k for k, v in _ST_DTYPES.items()}
    header = collections.OrderedDict()
    blobs = []
    offset = 0
    for name, t in state_dict.items():
        t = t.detach().contiguous().cpu()
        if t.dtype not in rev:
            raise ValueError(f"tensor {name}: dtype {t.dtype} not supported")
        if t.dtype == torch.bfloat16:
            data = t.view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": rev[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


def load_checkpoint(path):
    """Returns the raw state dict (stored dtypes, file order)."""
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic[:2] == b"PK":   # zip archive written by torch.save
        sd = torch.load(path, map_location="cpu")
    elif path.endswith(".safetensors"):
        sd = load_safetensors(path)
    else:
        try:
            sd = load_safetensors(path)
        except Exception:
            sd = torch.load(path, map_location="cpu")
    if not isinstance(sd, dict):
        raise ValueError(f"{path}: expected a state dict, got {type(sd).__name__}")
    return collections.OrderedDict(sd)


def expected_layout(L, C, V):
    """(name, shape) of every tensor in registration order, upstream §5.2."""
    keys = [("emb.weight", [V, C])]
    for i in range(L):
        p = f"blocks.{i}."
        keys += [(p + "ln1.weight", [C]), (p + "ln1.bias", [C]),
                 (p + "ln2.weight", [C]), (p + "ln2.bias", [C])]
        if i == 0:
            keys += [(p + "ln0.weight", [C]), (p + "ln0.bias", [C])]
        keys += [(p + "att.time_decay", [C]), (p + "att.time_first", [C]),
                 (p + "att.time_mix_k", [1, 1, C]), (p + "att.time_mix_v", [1, 1, C]),
                 (p + "att.time_mix_r", [1, 1, C]),
                 (p + "att.key.weight", [C, C]), (p + "att.value.weight", [C, C]),
                 (p + "att.receptance.weight", [C, C]), (p + "att.output.weight", [C, C]),
                 (p + "ffn.time_mix_k", [1, 1, C]), (p + "ffn.time_mix_r", [1, 1, C]),
                 (p + "ffn.key.weight", [4 * C, C]), (p + "ffn.receptance.weight", [C, C]),
                 (p + "ffn.value.weight", [C, 4 * C])]
    keys += [("ln_out.weight", [C]), ("ln_out.bias", [C]), ("head.weight", [V, C])]
    return keys


def infer_shape(sd):
    """(L, C, V) from tensor shapes (never from a config); checks every key of §5.2."""
    if "emb.weight" not in sd:
        raise ValueError("checkpoint has no emb.weight")
    V, C = list(sd["emb.weight"].shape)
    blocks = set()
    for k in sd:
        if k.startswith("blocks."):
            blocks.add(int(k.split(".")[1]))
    L = len(blocks)
    if L == 0 or blocks != set(range(L)):
        raise ValueError(f"block indices not contiguous from 0: {sorted(blocks)}")
    for name, shape in expected_layout(L, C, V):
        if name not in sd:
            raise ValueError(f"missing tensor {name} (expected shape {shape})")
        got = list(sd[name].shape)
        # time_* may be stored squeezed or as [1,1,C]; both load the same
        if got != shape and not (".time_" in name and math.prod(got) == math.prod(shape)):
            raise ValueError(f"tensor {name}: shape {got}, expected {shape}")
    return L, C, V


class Weights:
    """Float32 weights after the load-time transforms of §3.1."""

    def __init__(self, sd, rescale=True):
        L, C, V = infer_shape(sd)
        self.L, self.C, self.V = L, C, V
        self.rescale = rescale
        self.source_dtypes = sorted({str(t.dtype).replace("torch.", "") for t in sd.values()})
        f = {}
        for name, _ in expected_layout(L, C, V):
            t = sd[name].detach().to(torch.float32)    # cast first (see module doc); no copy if f32
            block = int(name.split(".")[1]) if name.startswith("blocks.") else 0
            if rescale and ("att.output.weight" in name or "ffn.value.weight" in name):
                t = t / (2 ** int(block // RESCALE_LAYER))
            if ".time_" in name:
                t = t.squeeze()
                if t.dim() == 0:
                    t = t.reshape(1)
            if ".time_decay" in name:
                t = -torch.exp(t)
            f[name] = t.contiguous()
        self.t = f
        # A spike-input variant (docs/spiking-frontier.md) records its T in one extra tensor.
        steps = sd.get(SPIKE_INPUT_KEY)
        self.spike_steps = 0 if steps is None else int(float(steps.reshape(-1)[0]))
        self.emb = f["emb.weight"]
        self.ln0 = (f["blocks.0.ln0.weight"], f["blocks.0.ln0.bias"])
        self.ln_out = (f["ln_out.weight"], f["ln_out.bias"])
        self.head = f["head.weight"]
        self.blocks = []
        for i in range(L):
            p = f"blocks.{i}."
            b = types_ns()
            b.ln1 = (f[p + "ln1.weight"], f[p + "ln1.bias"])
            b.ln2 = (f[p + "ln2.weight"], f[p + "ln2.bias"])
            b.att_decay = f[p + "att.time_decay"]     # already -exp(raw)
            b.att_first = f[p + "att.time_first"]
            b.att_mk = f[p + "att.time_mix_k"]
            b.att_mv = f[p + "att.time_mix_v"]
            b.att_mr = f[p + "att.time_mix_r"]
            b.att_k = f[p + "att.key.weight"]
            b.att_v = f[p + "att.value.weight"]
            b.att_r = f[p + "att.receptance.weight"]
            b.att_o = f[p + "att.output.weight"]
            b.ffn_mk = f[p + "ffn.time_mix_k"]
            b.ffn_mr = f[p + "ffn.time_mix_r"]
            b.ffn_k = f[p + "ffn.key.weight"]
            b.ffn_r = f[p + "ffn.receptance.weight"]
            b.ffn_v = f[p + "ffn.value.weight"]
            self.blocks.append(b)

    def param_count(self):
        return sum(t.numel() for t in self.t.values())


SPIKE_INPUT_KEY = "spiketile.spike_input_steps"


class types_ns:
    pass


def resolve_binary_embedding(mode, V):
    if mode == "on":
        return True
    if mode == "off":
        return False
    return V == 77          # upstream: `if self.args.vocab_size == 77`


# --------------------------------------------------------------------------------------------
# Random weights in the upstream layout (fixtures and the benchmark's --random-shape)
# --------------------------------------------------------------------------------------------

def random_state_dict(L, C, V, seed=0, gain_att=6.0, gain_ffn=3.0, dtype=torch.float32):
    """Random SpikeGPT state dict, keys/shapes/order exactly as §5.2 (time_mix as [1,1,C]).

    Scales keep LN outputs ~unit and make the LIF input currents large enough that the
    neurons fire at a moderate rate: gain_att / gain_ffn scale att.output / ffn.value."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape, std=1.0, mean=0.0):
        return torch.randn(*shape, generator=g) * std + mean

    def unif(*shape, lo=0.0, hi=1.0):
        return torch.rand(*shape, generator=g) * (hi - lo) + lo

    sd = collections.OrderedDict()
    for name, shape in expected_layout(L, C, V):
        if name == "emb.weight":
            t = randn(V, C)
        elif name.endswith("ln0.weight") or name.endswith("ln1.weight") \
                or name.endswith("ln2.weight") or name == "ln_out.weight":
            t = randn(C, std=0.1, mean=1.0)
        elif name.endswith(".bias"):
            t = randn(C, std=0.1)
        elif name.endswith("time_decay"):
            t = unif(C, lo=-2.5, hi=1.0)         # log-decay -exp(raw) in (-2.7, -0.08)
        elif name.endswith("time_first"):
            t = unif(C, lo=-1.0, hi=1.0)
        elif ".time_mix_" in name:
            t = unif(1, 1, C)
        elif name.endswith("att.output.weight"):
            t = randn(C, C, std=gain_att / math.sqrt(C))
        elif name.endswith("ffn.value.weight"):
            t = randn(C, 4 * C, std=gain_ffn / math.sqrt(4 * C))
        else:                                    # key/value/receptance, ffn.key, head
            t = randn(*shape, std=1.0 / math.sqrt(shape[1]))
        sd[name] = t.reshape(shape).to(dtype).contiguous()
    return sd


# --------------------------------------------------------------------------------------------
# RNN inference (model_run.py RWKV_RNN.forward, FLOAT_MODE fp32)
# --------------------------------------------------------------------------------------------

class RNN:
    def __init__(self, weights, binary_embedding, record=True):
        self.w = weights
        self.binary_embedding = bool(binary_embedding)
        self.record = record
        self.reset()

    def reset(self):
        L, C = self.w.L, self.w.C
        self.state = torch.zeros(L * 5, C, dtype=torch.float32)
        for i in range(L):
            self.state[5 * i + 4] -= 1e30                  # exactly as upstream
        self.mem1 = [torch.zeros(C, dtype=torch.float32) for _ in range(L)]
        self.mem2 = [torch.zeros(C, dtype=torch.float32) for _ in range(L)]
        self.min_margin = math.inf
        self.spikes_att = []      # per step: uint8 [L, C]
        self.spikes_ffn = []
        self.currents = []        # per step: float32 [L, 2, C] LIF input currents (att, ffn)
        self._currents = []

    def _ln(self, x, ln):
        return F.layer_norm(x, (self.w.C,), weight=ln[0], bias=ln[1])    # eps 1e-5

    def _lif(self, mem, i, x):
        if self.record:
            self._currents.append(x)
        v = mem[i]
        v = v + (x - v) / LIF_TAU                          # neuronal_charge, decay_input
        d = v - LIF_V_THRESHOLD
        spike = (d >= 0).to(v)                             # heaviside forward
        if self.record:
            m = float(d.abs().min())
            if m < self.min_margin:
                self.min_margin = m
        mem[i] = (1. - spike) * v + spike * LIF_V_RESET    # hard reset
        return spike

    def _spike(self, x):
        """A spike-input variant's projection input: the number of the T thresholds j/T that x
        reaches (an integrate-and-fire neuron with threshold 1 driven T steps by x), over T.
        Identity for the released graph."""
        T = self.w.spike_steps
        if T == 0:
            return x
        scaled = x * T
        count = torch.zeros_like(x)
        for j in range(1, T + 1):
            d = scaled - j
            count = count + (d >= 0).to(x)
            if self.record:
                self.min_margin = min(self.min_margin, float(d.abs().min()))
        return count / T

    def _sa(self, x, i, b):
        s = self.state
        xa = s[5 * i + 1]
        xk = self._spike(x * b.att_mk + xa * (1 - b.att_mk))
        xv = self._spike(x * b.att_mv + xa * (1 - b.att_mv))
        xr = self._spike(x * b.att_mr + xa * (1 - b.att_mr))
        s[5 * i + 1] = x
        r = torch.sigmoid(b.att_r @ xr)
        k = b.att_k @ xk
        v = b.att_v @ xv
        aa = s[5 * i + 2]
        bb = s[5 * i + 3]
        pp = s[5 * i + 4]
        ww = b.att_first + k
        p = torch.maximum(pp, ww)
        e1 = torch.exp(pp - p)
        e2 = torch.exp(ww - p)
        a = e1 * aa + e2 * v
        bsum = e1 * bb + e2
        ww = pp + b.att_decay
        p = torch.maximum(ww, k)
        e1 = torch.exp(ww - p)
        e2 = torch.exp(k - p)
        s[5 * i + 2] = e1 * aa + e2 * v
        s[5 * i + 3] = e1 * bb + e2
        s[5 * i + 4] = p
        wkv = a / bsum
        return self._lif(self.mem1, i, b.att_o @ self._spike(r * wkv))

    def _ff(self, x, i, b):
        s = self.state
        xf = s[5 * i + 0]
        xk = self._spike(x * b.ffn_mk + xf * (1 - b.ffn_mk))
        xr = self._spike(x * b.ffn_mr + xf * (1 - b.ffn_mr))
        s[5 * i + 0] = x
        r = torch.sigmoid(b.ffn_r @ xr)
        k = self._spike(torch.square(torch.relu(b.ffn_k @ xk)))
        kv = b.ffn_v @ k
        return self._lif(self.mem2, i, r * kv)

    @torch.no_grad()
    def step(self, token):
        w = self.w
        x = w.emb[token]
        if self.binary_embedding:
            x = (x >= 0).to(x)                             # ATan forward = heaviside
        satt, sffn = [], []
        for i, b in enumerate(w.blocks):
            if i == 0:
                x = self._ln(x, w.ln0)
            sa = self._sa(self._ln(x, b.ln1), i, b)
            x = x + sa
            sf = self._ff(self._ln(x, b.ln2), i, b)
            x = x + sf
            if w.rescale and (i + 1) % RESCALE_LAYER == 0:
                x = x / 2
            if self.record:
                satt.append(sa)
                sffn.append(sf)
        if self.record:
            self.spikes_att.append(torch.stack(satt).to(torch.uint8).numpy())
            self.spikes_ffn.append(torch.stack(sffn).to(torch.uint8).numpy())
            self.currents.append(torch.stack(self._currents).reshape(-1, 2, self.w.C).numpy())
            self._currents = []
        x = self._ln(x, w.ln_out)
        return w.head @ x


def run_sequence(weights, tokens, binary_embedding, return_currents=False):
    """Runs tokens from a fresh state. Returns (logits [T,V] f32, s_att [T,L,C] u8,
    s_ffn [T,L,C] u8, min |v - 1| over all LIF charges[, currents [T,L,2,C] f32])."""
    rnn = RNN(weights, binary_embedding, record=True)
    logits = np.stack([rnn.step(int(t)).numpy() for t in tokens]).astype(np.float32)
    out = (logits, np.stack(rnn.spikes_att), np.stack(rnn.spikes_ffn), rnn.min_margin)
    return out + (np.stack(rnn.currents),) if return_currents else out


# --------------------------------------------------------------------------------------------
# Parallel (whole-sequence) forward = training graph src/model.py, for self-validation (§3.4)
# --------------------------------------------------------------------------------------------

def wkv_closed_form(w, u, k, v):
    """wkv_t = (sum_{j<t} e^{(t-1-j)w + k_j} v_j + e^{u+k_t} v_t) / (same without v), in float64.
    w = -exp(time_decay) (log-decay), u = time_first, k/v: [T, C]."""
    w, u, k, v = (t.to(torch.float64) for t in (w, u, k, v))
    T = k.shape[0]
    t_idx = torch.arange(T, dtype=torch.float64)
    lag = (t_idx[:, None] - 1 - t_idx[None, :])                      # [t, j] = t-1-j
    expo = lag[:, :, None] * w[None, None, :] + k[None, :, :]         # [T, T, C]
    past = (t_idx[None, :] < t_idx[:, None])[:, :, None]
    expo = torch.where(past, expo, torch.full_like(expo, -math.inf))
    diag = torch.arange(T)
    expo[diag, diag] = u[None, :] + k                                 # current token
    m = expo.max(dim=1, keepdim=True).values
    e = torch.exp(expo - m)
    return ((e * v[None, :, :]).sum(1) / e.sum(1)).to(torch.float32)


def _multistep_lif(y):
    v = torch.zeros(y.shape[1], dtype=torch.float32)
    out = torch.empty_like(y)
    margin = math.inf
    for t in range(y.shape[0]):
        h = v + (y[t] - v) / LIF_TAU
        s = (h - LIF_V_THRESHOLD >= 0).to(h)
        margin = min(margin, float((h - LIF_V_THRESHOLD).abs().min()))
        v = (1. - s) * h + s * LIF_V_RESET
        out[t] = s
    return out, margin


@torch.no_grad()
def parallel_forward(weights, tokens, binary_embedding=True):
    """Training-graph forward (model.py GPT.forward, eval mode): x = atan(emb(idx)) (binary,
    `binary_embedding`), blocks with ZeroPad2d token shift and MultiStepLIF over the token axis,
    ln_out, head. Pass weights loaded with rescale=False (the training graph has no D1)."""
    w = weights
    assert not w.rescale, "parallel graph has no RWKV_RESCALE_LAYER: load with rescale=False"
    idx = torch.tensor([int(t) for t in tokens])
    x = w.emb[idx]
    if binary_embedding:
        x = (x >= 0).to(x)
    C = w.C

    def ln(z, p):
        return F.layer_norm(z, (C,), weight=p[0], bias=p[1])

    def shift(z):
        return torch.cat([torch.zeros(1, C), z[:-1]], dim=0)

    x = ln(x, w.ln0)
    sa_all, sf_all, cur_all = [], [], []
    margin = math.inf
    for b in w.blocks:
        z = ln(x, b.ln1)
        zz = shift(z)
        xk = z * b.att_mk + zz * (1 - b.att_mk)
        xv = z * b.att_mv + zz * (1 - b.att_mv)
        xr = z * b.att_mr + zz * (1 - b.att_mr)
        k = xk @ b.att_k.T
        v = xv @ b.att_v.T
        r = xr @ b.att_r.T
        y = (torch.sigmoid(r) * wkv_closed_form(b.att_decay, b.att_first, k, v)) @ b.att_o.T
        cur_all.append(y)
        sa, m1 = _multistep_lif(y)
        x = x + sa
        z = ln(x, b.ln2)
        zz = shift(z)
        xk = z * b.ffn_mk + zz * (1 - b.ffn_mk)
        xr = z * b.ffn_mr + zz * (1 - b.ffn_mr)
        kk = torch.square(torch.relu(xk @ b.ffn_k.T))
        y = torch.sigmoid(xr @ b.ffn_r.T) * (kk @ b.ffn_v.T)
        cur_all.append(y)
        sf, m2 = _multistep_lif(y)
        x = x + sf
        margin = min(margin, m1, m2)
        sa_all.append(sa)
        sf_all.append(sf)
    x = ln(x, w.ln_out)
    logits = (x @ w.head.T).numpy().astype(np.float32)
    s_att = torch.stack(sa_all, dim=1).to(torch.uint8).numpy()
    s_ffn = torch.stack(sf_all, dim=1).to(torch.uint8).numpy()
    currents = torch.stack(cur_all, dim=1).reshape(len(idx), w.L, 2, C).numpy()
    return logits, s_att, s_ffn, margin, currents


def check_parallel(sd, tokens, binary_embedding, rescale=True):
    """RNN vs the parallel training graph (same embedding mode) on one checkpoint.

    The graphs coincide when D1 does nothing: rescale=False (any L), or rescale=True with
    L <= 5 (with L == 6 the only difference is x/2 before ln_out, felt through LN's eps).
    Logits depend on the currents only through the (binary) spikes, so the LIF input currents
    are compared too (relative to their scale)."""
    L = infer_shape(sd)[0]
    rnn_logits, ra, rf, _, rc = run_sequence(Weights(sd, rescale=rescale), tokens,
                                             binary_embedding, return_currents=True)
    par_logits, pa, pf, margin, pc = parallel_forward(Weights(sd, rescale=False), tokens,
                                                      binary_embedding)
    return {
        "L": L, "rnn_rescale": rescale, "binary_embedding": bool(binary_embedding),
        "expected_equal": (not rescale) or L <= 5,
        "spikes_equal": bool((ra == pa).all() and (rf == pf).all()),
        "spike_mismatches": int((ra != pa).sum() + (rf != pf).sum()),
        "max_abs_logit_diff": float(np.abs(rnn_logits - par_logits).max()),
        "max_abs_logit": float(np.abs(rnn_logits).max()),
        "max_abs_current_diff": float(np.abs(rc - pc).max()),
        "max_abs_current": float(np.abs(rc).max()),
        "parallel_min_margin": margin,
    }


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------

def parse_tokens(args):
    if args.tokens is not None:
        return [int(t) for t in args.tokens.replace(" ", "").split(",") if t != ""]
    if args.tokens_file is not None:
        with open(args.tokens_file) as f:
            text = f.read()
        try:
            obj = json.loads(text)
            return [int(t) for t in (obj["tokens"] if isinstance(obj, dict) else obj)]
        except (json.JSONDecodeError, KeyError, TypeError):
            return [int(t) for t in text.replace(",", " ").split()]
    return None


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # Linux: KiB


def bench(weights, binary_embedding, n_tokens, warmup, prompt):
    rnn = RNN(weights, binary_embedding, record=False)
    token = prompt[0] if prompt else 0
    t0 = time.perf_counter()
    for t in (prompt or [token]):
        logits = rnn.step(int(t))
    prompt_s = time.perf_counter() - t0
    for _ in range(warmup):
        logits = rnn.step(int(torch.argmax(logits)))
    generated = []
    t0 = time.perf_counter()
    for _ in range(n_tokens):
        tok = int(torch.argmax(logits))
        generated.append(tok)
        logits = rnn.step(tok)
    dt = time.perf_counter() - t0
    return {
        "L": weights.L, "C": weights.C, "V": weights.V, "params": weights.param_count(),
        "threads": torch.get_num_threads(), "prompt_tokens": len(prompt or [token]),
        "prompt_s": prompt_s, "warmup_tokens": warmup, "tokens": n_tokens, "seconds": dt,
        "tokens_per_s": n_tokens / dt if dt > 0 else float("inf"),
        "ms_per_token": 1000.0 * dt / n_tokens if n_tokens else 0.0,
        "peak_rss_mib": peak_rss_mib(), "first_generated": generated[:8],
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help=".pth (torch.save state dict) or .safetensors checkpoint")
    ap.add_argument("--random-shape", metavar="L,C,V",
                    help="build random weights of this shape in memory instead of --model")
    ap.add_argument("--seed", type=int, default=0, help="seed for --random-shape (default 0)")
    tok = ap.add_mutually_exclusive_group()
    tok.add_argument("--tokens", help="comma-separated token ids, e.g. 1,2,3")
    tok.add_argument("--tokens-file", help='JSON {"tokens": [...]}, a JSON list, or '
                                           "whitespace/comma separated ids")
    ap.add_argument("--logits-out", help="write float32 [steps x V] logits (.npy)")
    ap.add_argument("--spikes-out", help="write s_att, s_ffn uint8 [steps x L x C] (.npz)")
    ap.add_argument("--no-rescale", action="store_true",
                    help="disable D1 (att.output/ffn.value /2^(i//6) and x/2 every 6 layers)")
    ap.add_argument("--binary-embedding", choices=["auto", "on", "off"], default="auto",
                    help="D2: binarise the embedding row (auto = iff V == 77, upstream)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads(N)")
    ap.add_argument("--bench", type=int, metavar="N",
                    help="time N greedily generated tokens after a warm-up")
    ap.add_argument("--warmup", type=int, default=4, help="warm-up tokens for --bench")
    ap.add_argument("--check-parallel", action="store_true",
                    help="also run the whole-sequence training graph (model.py, closed-form WKV) "
                         "and compare spikes, LIF currents, logits; the graphs coincide with "
                         "--no-rescale, or for L <= 5")
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    args = ap.parse_args(argv)
    rss_baseline = peak_rss_mib()          # interpreter + torch import, before any weights

    if args.threads:
        torch.set_num_threads(args.threads)
    if (args.model is None) == (args.random_shape is None):
        ap.error("give exactly one of --model or --random-shape")
    t0 = time.perf_counter()
    if args.random_shape:
        try:
            L, C, V = (int(v) for v in args.random_shape.split(","))
        except ValueError:
            ap.error("--random-shape wants L,C,V")
        sd = random_state_dict(L, C, V, seed=args.seed)
    else:
        sd = load_checkpoint(args.model)
    weights = Weights(sd, rescale=not args.no_rescale)
    load_s = time.perf_counter() - t0
    del sd
    binemb = resolve_binary_embedding(args.binary_embedding, weights.V)
    tokens = parse_tokens(args)
    switches = {"rescale": not args.no_rescale, "binary_embedding": binemb,
                "binary_embedding_arg": args.binary_embedding}
    summary = {"model": args.model or f"random {args.random_shape} seed {args.seed}",
               "L": weights.L, "C": weights.C, "V": weights.V,
               "source_dtypes": weights.source_dtypes, "switches": switches,
               "load_s": round(load_s, 3)}

    if args.bench is not None:
        if args.logits_out or args.spikes_out or args.check_parallel:
            ap.error("--bench cannot be combined with --logits-out/--spikes-out/--check-parallel")
        summary.update(bench(weights, binemb, args.bench, args.warmup, tokens))
        summary["rss_after_import_mib"] = rss_baseline
        if args.json:
            print(json.dumps(summary))
        else:
            print(f"bench: L={weights.L} C={weights.C} V={weights.V} "
                  f"params={summary['params']:,} threads={summary['threads']}")
            print(f"  {summary['tokens']} tokens in {summary['seconds']:.3f} s after "
                  f"{summary['warmup_tokens']} warm-up: {summary['tokens_per_s']:.2f} tokens/s "
                  f"({summary['ms_per_token']:.3f} ms/token)")
            print(f"  peak RSS {summary['peak_rss_mib']:.1f} MiB (of which {rss_baseline:.1f} MiB "
                  f"python + torch before loading), load {load_s:.2f} s")
        return 0

    if not tokens:
        ap.error("give --tokens or --tokens-file (or --bench N)")
    bad = [t for t in tokens if not 0 <= t < weights.V]
    if bad:
        ap.error(f"token ids out of range [0, {weights.V}): {bad[:5]}")

    logits, s_att, s_ffn, margin = run_sequence(weights, tokens, binemb)
    if args.logits_out:
        np.save(args.logits_out, logits)
    if args.spikes_out:
        np.savez(args.spikes_out, s_att=s_att, s_ffn=s_ffn, tokens=np.array(tokens, np.int64))
    summary.update({
        "steps": len(tokens),
        "rate_att": [round(float(r), 4) for r in s_att.mean(axis=(0, 2))],
        "rate_ffn": [round(float(r), 4) for r in s_ffn.mean(axis=(0, 2))],
        "rate_total": round(float((s_att.mean() + s_ffn.mean()) / 2), 4),
        "min_threshold_margin": margin,
        "argmax": [int(a) for a in logits.argmax(axis=1)],
    })
    if args.check_parallel:
        summary["check_parallel"] = check_parallel(load_checkpoint(args.model)
                                                   if args.model else
                                                   random_state_dict(weights.L, weights.C,
                                                                     weights.V, args.seed),
                                                   tokens, binemb, rescale=not args.no_rescale)
    if args.json:
        print(json.dumps(summary))
    else:
        for k, v in summary.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
