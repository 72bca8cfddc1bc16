"""SpikeGPT (spiking RWKV-v4 LM, arXiv 2302.13939) in plain PyTorch for CPU.

Shared by scripts/train_spikegpt.py, scripts/eval_spikegpt.py and scripts/test_train_step.py.

* `GPT` reproduces the training graph of upstream `src/model.py` (docs: shared/reference/
  spikegpt.md section 3.4) with identical parameter names, shapes and registration order, so
  `torch.save(model.state_dict(), path)` is an upstream-compatible checkpoint (section 5.2).
* The WKV operator and the multi-step LIF neuron are `torch.autograd.Function`s with explicit
  backward passes. Two implementations of each: a small C++ kernel compiled at first use with
  `torch.utils.cpp_extension.load_inline` (needs g++ and the torch headers; OpenMP over
  batch x channel), and a pure-torch fallback (vectorised over batch x channel, one loop over
  T). Both use the max-subtraction (log-scaled) form of the upstream CUDA kernel, forward and
  backward, so nothing overflows for any T.
* Every recurrent operator takes and returns its state (WKV a, b, p; token-shift inputs; LIF
  membranes), so a long text can be run in chunks and give exactly the same result as one
  sequence (what the RNN in section 3.2 computes token by token).
* `RNN` is a literal token-by-token transcription of upstream `src/model_run.py` (section 3.2),
  used for generation and as a cross-check of the parallel graph.
"""
import json
import math
import os
import sys
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

ATAN_ALPHA = 2.0
LIF_TAU = 2.0
LIF_VTH = 1.0
NEG_BIG = -1e38  # upstream's MIN_VALUE / initial p

# --------------------------------------------------------------------------------------------
# vocabulary (77-char vocab_book.json, UTF-16 LE with BOM)
# --------------------------------------------------------------------------------------------
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VOCAB = os.path.join(REPO, "..", "shared", "data", "vocab_book.json")


class CharVocab:
    def __init__(self, path=DEFAULT_VOCAB):
        d = json.loads(open(path, "rb").read().decode("utf-16"))
        self.itos = [d[str(i)] for i in range(len(d))]
        self.stoi = {c: i for i, c in enumerate(self.itos)}
        self.unk = self.stoi[" "]

    def __len__(self):
        return len(self.itos)

    def encode(self, s):
        return [self.stoi.get(c, self.unk) for c in s]

    def decode(self, ids):
        return "".join(self.itos[i] for i in ids)


# --------------------------------------------------------------------------------------------
# C++ kernels (optional)
# --------------------------------------------------------------------------------------------
_CPP_SRC = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <algorithm>

// WKV forward. k, v, y: [B,T,C]; w (= -exp(time_decay)), u: [C]; a, b, p: [B,C] state (in/out).
// If save: sa, sb, sp receive the state *before* each step ([B,T,C]).
template <typename F>
static void wkv_fwd_t(int64_t B, int64_t T, int64_t C, const F* w, const F* u, const F* k,
                      const F* v, F* y, F* a_, F* b_, F* p_, F* sa, F* sb, F* sp) {
  at::parallel_for(0, B * C, 16, [&](int64_t begin, int64_t end) {
    for (int64_t bc = begin; bc < end; ++bc) {
      const int64_t bi = bc / C, c = bc % C;
      const F ww = w[c], uu = u[c];
      F a = a_[bc], bb = b_[bc], p = p_[bc];
      for (int64_t t = 0; t < T; ++t) {
        const int64_t i = (bi * T + t) * C + c;
        const F kk = k[i], vv = v[i];
        if (sa) { sa[i] = a; sb[i] = bb; sp[i] = p; }
        F q = std::max(p, uu + kk);
        F e1 = std::exp(p - q), e2 = std::exp(uu + kk - q);
        y[i] = (e1 * a + e2 * vv) / (e1 * bb + e2);
        q = std::max(p + ww, kk);
        e1 = std::exp(p + ww - q); e2 = std::exp(kk - q);
        a = e1 * a + e2 * vv; bb = e1 * bb + e2; p = q;
      }
      a_[bc] = a; b_[bc] = bb; p_[bc] = p;
    }
  });
}

// WKV backward (adjoint of the recurrence, carried with a running log-scale like upstream's
// kernel_backward). gw is the gradient w.r.t. time_decay (chain rule through w = -exp(td)
// applied: multiply by w), gw/gu are per (b, c); the caller sums over b.
template <typename F>
static void wkv_bwd_t(int64_t B, int64_t T, int64_t C, const F* w, const F* u, const F* k,
                      const F* v, const F* y, const F* sa, const F* sb, const F* sp, const F* gy,
                      F* gk, F* gv, F* gw, F* gu) {
  at::parallel_for(0, B * C, 16, [&](int64_t begin, int64_t end) {
    for (int64_t bc = begin; bc < end; ++bc) {
      const int64_t bi = bc / C, c = bc % C;
      const F ww = w[c], uu = u[c];
      F ga = 0, gb = 0, o = (F)(-1e38), sw = 0, su = 0;
      for (int64_t t = T - 1; t >= 0; --t) {
        const int64_t i = (bi * T + t) * C + c;
        const F kk = k[i], vv = v[i], yy = y[i], g = gy[i];
        const F a = sa[i], bb = sb[i], p = sp[i];
        const F q = std::max(p, uu + kk);
        const F e1 = std::exp(p - q), e2 = std::exp(uu + kk - q);
        const F gd = g / (e1 * bb + e2);   // dL/dy / D_t, times e^{q}
        const F ek = e2 * gd;              // g e^{u+k} / D_t
        const F ko = std::exp(kk + o);     // e^{k_t} * scale of alpha_{t+1}
        su += ek * (vv - yy);
        gk[i] = ek * (vv - yy) + ko * (ga * vv + gb);
        gv[i] = ek + ko * ga;
        sw += std::exp(ww + o + p) * (ga * a + gb * bb);
        const F no = std::max(ww + o, -q);
        const F A = std::exp(ww + o - no), Bq = std::exp(-q - no);
        ga = A * ga + Bq * gd;
        gb = A * gb - Bq * gd * yy;
        o = no;
      }
      gw[bc] = sw * ww;
      gu[bc] = su;
    }
  });
}

std::vector<torch::Tensor> wkv_forward(torch::Tensor w, torch::Tensor u, torch::Tensor k,
                                       torch::Tensor v, torch::Tensor a, torch::Tensor b,
                                       torch::Tensor p, bool save) {
  const int64_t B = k.size(0), T = k.size(1), C = k.size(2);
  auto y = torch::empty_like(k);
  torch::Tensor sa, sb, sp;
  if (save) { sa = torch::empty_like(k); sb = torch::empty_like(k); sp = torch::empty_like(k); }
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "wkv_forward", [&] {
    wkv_fwd_t<scalar_t>(B, T, C, w.data_ptr<scalar_t>(), u.data_ptr<scalar_t>(),
                        k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                        a.data_ptr<scalar_t>(), b.data_ptr<scalar_t>(), p.data_ptr<scalar_t>(),
                        save ? sa.data_ptr<scalar_t>() : nullptr,
                        save ? sb.data_ptr<scalar_t>() : nullptr,
                        save ? sp.data_ptr<scalar_t>() : nullptr);
  });
  if (save) return {y, sa, sb, sp};
  return {y};
}

std::vector<torch::Tensor> wkv_backward(torch::Tensor w, torch::Tensor u, torch::Tensor k,
                                        torch::Tensor v, torch::Tensor y, torch::Tensor sa,
                                        torch::Tensor sb, torch::Tensor sp, torch::Tensor gy) {
  const int64_t B = k.size(0), T = k.size(1), C = k.size(2);
  auto gk = torch::empty_like(k), gv = torch::empty_like(k);
  auto gw = torch::empty({B, C}, k.options()), gu = torch::empty({B, C}, k.options());
  AT_DISPATCH_FLOATING_TYPES(k.scalar_type(), "wkv_backward", [&] {
    wkv_bwd_t<scalar_t>(B, T, C, w.data_ptr<scalar_t>(), u.data_ptr<scalar_t>(),
                        k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                        sa.data_ptr<scalar_t>(), sb.data_ptr<scalar_t>(), sp.data_ptr<scalar_t>(),
                        gy.data_ptr<scalar_t>(), gk.data_ptr<scalar_t>(), gv.data_ptr<scalar_t>(),
                        gw.data_ptr<scalar_t>(), gu.data_ptr<scalar_t>());
  });
  return {gk, gv, gw.sum(0), gu.sum(0)};
}

// Multi-step LIF (tau 2, decay_input, hard reset to 0, threshold 1) over dim 1 of x [B,T,C].
// v: [B,C] membrane (in/out). Returns spikes and the pre-spike potentials h.
std::vector<torch::Tensor> lif_forward(torch::Tensor x, torch::Tensor v) {
  const int64_t B = x.size(0), T = x.size(1), C = x.size(2);
  auto s = torch::empty_like(x), h = torch::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "lif_forward", [&] {
    const scalar_t* X = x.data_ptr<scalar_t>();
    scalar_t* V = v.data_ptr<scalar_t>();
    scalar_t* S = s.data_ptr<scalar_t>();
    scalar_t* H = h.data_ptr<scalar_t>();
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t c = 0; c < C; ++c) {
            const int64_t i = (bi * T + t) * C + c;
            scalar_t vv = V[bi * C + c];
            const scalar_t hh = vv + (X[i] - vv) / (scalar_t)2.0;
            const bool fire = hh >= (scalar_t)1.0;
            H[i] = hh; S[i] = fire ? 1 : 0;
            V[bi * C + c] = fire ? (scalar_t)0 : hh;
          }
    });
  });
  return {s, h};
}

torch::Tensor lif_backward(torch::Tensor gs, torch::Tensor s, torch::Tensor h, double alpha) {
  const int64_t B = s.size(0), T = s.size(1), C = s.size(2);
  auto gx = torch::empty_like(s);
  AT_DISPATCH_FLOATING_TYPES(s.scalar_type(), "lif_backward", [&] {
    const scalar_t* GS = gs.data_ptr<scalar_t>();
    const scalar_t* S = s.data_ptr<scalar_t>();
    const scalar_t* H = h.data_ptr<scalar_t>();
    scalar_t* GX = gx.data_ptr<scalar_t>();
    const scalar_t c1 = (scalar_t)(alpha / 2.0), c2 = (scalar_t)(M_PI / 2.0 * alpha);
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
      std::vector<scalar_t> gvn(C);
      for (int64_t bi = b0; bi < b1; ++bi) {
        std::fill(gvn.begin(), gvn.end(), (scalar_t)0);
        for (int64_t t = T - 1; t >= 0; --t)
          for (int64_t c = 0; c < C; ++c) {
            const int64_t i = (bi * T + t) * C + c;
            const scalar_t z = c2 * (H[i] - (scalar_t)1.0);
            const scalar_t sg = c1 / ((scalar_t)1.0 + z * z);
            const scalar_t gh = GS[i] * sg + gvn[c] * ((scalar_t)1.0 - S[i] - H[i] * sg);
            GX[i] = gh * (scalar_t)0.5;
            gvn[c] = gh * (scalar_t)0.5;
          }
      }
    });
  });
  return gx;
}
"""
_CPP_DECL = r"""
std::vector<torch::Tensor> wkv_forward(torch::Tensor w, torch::Tensor u, torch::Tensor k, torch::Tensor v, torch::Tensor a, torch::Tensor b, torch::Tensor p, bool save);
std::vector<torch::Tensor> wkv_backward(torch::Tensor w, torch::Tensor u, torch::Tensor k, torch::Tensor v, torch::Tensor y, torch::Tensor sa, torch::Tensor sb, torch::Tensor sp, torch::Tensor gy);
std::vector<torch::Tensor> lif_forward(torch::Tensor x, torch::Tensor v);
torch::Tensor lif_backward(torch::Tensor gs, torch::Tensor s, torch::Tensor h, double alpha);
"""

_ext = None
_ext_tried = False
IMPL = os.environ.get("SPIKEGPT_KERNELS", "auto")  # auto | cpp | torch


def get_ext():
    """The compiled C++ kernels, or None (then the pure-torch fallback is used)."""
    global _ext, _ext_tried
    if IMPL == "torch":
        return None
    if _ext_tried:
        return _ext
    _ext_tried = True
    try:
        import hashlib
        import importlib.machinery
        import importlib.util
        from torch.utils.cpp_extension import load_inline, _get_build_directory
        cflags = ["-O3", "-fopenmp"]
        tag = hashlib.sha256((_CPP_DECL + _CPP_SRC + repr(cflags) + torch.__version__)
                             .encode()).hexdigest()[:12]
        name = f"spikegpt_cpu_kernels_{tag}"
        so = os.path.join(_get_build_directory(name, False), name + ".so")
        if os.path.exists(so):  # built before by this exact source: load without ninja
            loader = importlib.machinery.ExtensionFileLoader(name, so)
            spec = importlib.util.spec_from_file_location(name, so, loader=loader)
            _ext = importlib.util.module_from_spec(spec)
            loader.exec_module(_ext)
        else:  # first use: compile (about 20-30 s)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _ext = load_inline(
                    name=name, cpp_sources=[_CPP_DECL + _CPP_SRC],
                    functions=["wkv_forward", "wkv_backward", "lif_forward", "lif_backward"],
                    extra_cflags=cflags, extra_ldflags=["-fopenmp"], verbose=False)
    except Exception as e:  # no compiler / headers: fall back
        if IMPL == "cpp":
            raise
        print(f"[spikegpt_torch] C++ kernels unavailable ({type(e).__name__}: {e}); "
              "using the pure-torch kernels", file=sys.stderr)
        _ext = None
    return _ext


# --------------------------------------------------------------------------------------------
# pure-torch kernels (same algorithms, vectorised over [B, C], one loop over T)
# --------------------------------------------------------------------------------------------
def _wkv_fwd_torch(w, u, k, v, a, b, p, save):
    B, T, C = k.shape
    y = torch.empty_like(k)
    if save:
        sa, sb, sp = torch.empty_like(k), torch.empty_like(k), torch.empty_like(k)
    for t in range(T):
        kk, vv = k[:, t], v[:, t]
        if save:
            sa[:, t], sb[:, t], sp[:, t] = a, b, p
        q = torch.maximum(p, u + kk)
        e1, e2 = torch.exp(p - q), torch.exp(u + kk - q)
        y[:, t] = (e1 * a + e2 * vv) / (e1 * b + e2)
        q = torch.maximum(p + w, kk)
        e1, e2 = torch.exp(p + w - q), torch.exp(kk - q)
        a, b, p = e1 * a + e2 * vv, e1 * b + e2, q
    out = [y, a, b, p]
    if save:
        out += [sa, sb, sp]
    return out


def _wkv_bwd_torch(w, u, k, v, y, sa, sb, sp, gy):
    B, T, C = k.shape
    gk, gv = torch.empty_like(k), torch.empty_like(k)
    ga = torch.zeros(B, C, dtype=k.dtype)
    gb = torch.zeros(B, C, dtype=k.dtype)
    o = torch.full((B, C), NEG_BIG, dtype=k.dtype)
    sw = torch.zeros(B, C, dtype=k.dtype)
    su = torch.zeros(B, C, dtype=k.dtype)
    for t in range(T - 1, -1, -1):
        kk, vv, yy, g = k[:, t], v[:, t], y[:, t], gy[:, t]
        a, bb, p = sa[:, t], sb[:, t], sp[:, t]
        q = torch.maximum(p, u + kk)
        e1, e2 = torch.exp(p - q), torch.exp(u + kk - q)
        gd = g / (e1 * bb + e2)
        ek = e2 * gd
        ko = torch.exp(kk + o)
        su += ek * (vv - yy)
        gk[:, t] = ek * (vv - yy) + ko * (ga * vv + gb)
        gv[:, t] = ek + ko * ga
        sw += torch.exp(w + o + p) * (ga * a + gb * bb)
        no = torch.maximum(w + o, -q)
        A, Bq = torch.exp(w + o - no), torch.exp(-q - no)
        ga = A * ga + Bq * gd
        gb = A * gb - Bq * gd * yy
        o = no
    return gk, gv, (sw * w).sum(0), su.sum(0)


def _lif_fwd_torch(x, v):
    B, T, C = x.shape
    s, h = torch.empty_like(x), torch.empty_like(x)
    for t in range(T):
        hh = v + (x[:, t] - v) / LIF_TAU
        ss = (hh >= LIF_VTH).to(x.dtype)
        h[:, t], s[:, t] = hh, ss
        v = hh * (1.0 - ss)
    return s, h, v


def _lif_bwd_torch(gs, s, h, alpha):
    B, T, C = s.shape
    gx = torch.empty_like(s)
    gvn = torch.zeros(B, C, dtype=s.dtype)
    for t in range(T - 1, -1, -1):
        z = (math.pi / 2 * alpha) * (h[:, t] - LIF_VTH)
        sg = (alpha / 2) / (1 + z * z)
        gh = gs[:, t] * sg + gvn * (1.0 - s[:, t] - h[:, t] * sg)
        gx[:, t] = gh * 0.5
        gvn = gh * 0.5
    return gx


# --------------------------------------------------------------------------------------------
# autograd Functions
# --------------------------------------------------------------------------------------------
class WKVFunction(torch.autograd.Function):
    """y = WKV(time_decay, time_first, k, v) as upstream's CUDA op (w = -exp(time_decay) is
    applied inside, the gradient is w.r.t. the raw time_decay), from a zero state.
    k, v: [B, T, C]; time_decay, time_first: [C]."""

    @staticmethod
    def forward(ctx, time_decay, time_first, k, v):
        dt = k.dtype
        w = -torch.exp(time_decay.detach().to(dt).contiguous())
        u = time_first.detach().to(dt).contiguous()
        k = k.contiguous()
        v = v.to(dt).contiguous()
        B, T, C = k.shape
        a = torch.zeros(B, C, dtype=dt)
        b = torch.zeros(B, C, dtype=dt)
        p = torch.full((B, C), NEG_BIG, dtype=dt)
        ext = get_ext()
        if ext is not None:
            y, sa, sb, sp = ext.wkv_forward(w, u, k, v, a, b, p, True)
        else:
            y, _, _, _, sa, sb, sp = _wkv_fwd_torch(w, u, k, v, a, b, p, True)
        ctx.save_for_backward(w, u, k, v, y, sa, sb, sp)
        return y

    @staticmethod
    def backward(ctx, gy):
        w, u, k, v, y, sa, sb, sp = ctx.saved_tensors
        gy = gy.to(k.dtype).contiguous()
        ext = get_ext()
        if ext is not None:
            gk, gv, gw, gu = ext.wkv_backward(w, u, k, v, y, sa, sb, sp, gy)
        else:
            gk, gv, gw, gu = _wkv_bwd_torch(w, u, k, v, y, sa, sb, sp, gy)
        return gw, gu, gk, gv


def wkv_with_state(time_decay, time_first, k, v, state=None):
    """Forward only (no autograd), carrying (a, b, p); used for evaluation in chunks."""
    B, T, C = k.shape
    dt = k.dtype
    w = -torch.exp(time_decay.detach().to(dt)).contiguous()
    u = time_first.detach().to(dt).contiguous()
    if state is None:
        a, b = torch.zeros(B, C, dtype=dt), torch.zeros(B, C, dtype=dt)
        p = torch.full((B, C), NEG_BIG, dtype=dt)
    else:
        a, b, p = (s.clone().contiguous() for s in state)
    k, v = k.detach().contiguous(), v.detach().contiguous()
    ext = get_ext()
    if ext is not None:
        y = ext.wkv_forward(w, u, k, v, a, b, p, False)[0]
    else:
        y, a, b, p = _wkv_fwd_torch(w, u, k, v, a, b, p, False)
    return y, (a, b, p)


class LIFFunction(torch.autograd.Function):
    """Multi-step LIF over dim 1 of x [B, T, C]: v += (x - v)/2; spike = v >= 1 (ATan(alpha=2)
    surrogate gradient); hard reset to 0 with detach_reset=False. Returns (spikes, v_final);
    v_final carries no gradient."""

    @staticmethod
    def forward(ctx, x, v0):
        x = x.contiguous()
        v = v0.detach().to(x.dtype).clone().contiguous()
        ext = get_ext()
        if ext is not None:
            s, h = ext.lif_forward(x, v)
        else:
            s, h, v = _lif_fwd_torch(x, v)
        ctx.save_for_backward(s, h)
        ctx.mark_non_differentiable(v)
        return s, v

    @staticmethod
    def backward(ctx, gs, gv_unused):
        s, h = ctx.saved_tensors
        gs = gs.contiguous()
        ext = get_ext()
        if ext is not None:
            gx = ext.lif_backward(gs, s, h, ATAN_ALPHA)
        else:
            gx = _lif_bwd_torch(gs, s, h, ATAN_ALPHA)
        return gx, None


def lif(x, v0=None):
    if v0 is None:
        v0 = torch.zeros(x.shape[0], x.shape[2], dtype=x.dtype)
    return LIFFunction.apply(x, v0)


class ATanHeaviside(torch.autograd.Function):
    """spikingjelly surrogate.ATan(alpha=2): forward heaviside(x) = (x >= 0), backward
    alpha / (2 (1 + (pi/2 alpha x)^2))."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        z = (math.pi / 2 * ATAN_ALPHA) * x
        return g * (ATAN_ALPHA / 2) / (1 + z * z)


SPIKE_INPUT_KEY = "spiketile.spike_input_steps"
SPIKE_INPUT_VARIANTS = {"graded": 0, "binary": 1, "2bit": 3, "4bit": 15}


class RateSpike(torch.autograd.Function):
    """The spike function of the spike-input variants (docs/spiking-frontier.md §1): T time
    steps of an integrate-and-fire neuron (threshold 1, reset by subtraction, zero initial
    membrane) driven by a constant input x fire count = clamp(floor(T·x), 0, T) times; the
    projection receives count / T. T = 1 is the binary spike H(x − 1), the LIF threshold of the
    model. Backward: the ATan surrogate of each of the T step edges x = j/T, scaled by 1/T, so
    T = 1 is exactly the embedding's surrogate."""

    @staticmethod
    def forward(ctx, x, steps):
        ctx.save_for_backward(x)
        ctx.steps = steps
        return torch.clamp(torch.floor(x * steps), 0, steps) / steps

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        T = ctx.steps
        grad = torch.zeros_like(x)
        for j in range(1, T + 1):
            z = (math.pi / 2 * ATAN_ALPHA) * (x - j / T)
            grad += (ATAN_ALPHA / 2) / (1 + z * z)
        return g * grad / T, None


def spike_input(x, steps):
    """Identity for the released graph (steps 0), else the RateSpike of the variant."""
    return x if steps == 0 else RateSpike.apply(x, steps)


def spike_count(x, steps):
    """The no-grad form for the RNN: the same values as RateSpike.forward."""
    return x if steps == 0 else torch.clamp(torch.floor(x * steps), 0, steps) / steps


class L2Wrap(torch.autograd.Function):
    """Upstream's regulariser: identity on the loss, adds 1e-4/(B*T) * max-logit to the
    gradient of each position's largest logit."""

    @staticmethod
    def forward(ctx, loss, y):
        ctx.save_for_backward(y)
        return loss

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        factor = 1e-4 / (y.shape[0] * y.shape[1])
        maxx, ids = torch.max(y, -1, keepdim=True)
        gy = torch.zeros_like(y)
        gy.scatter_(-1, ids, maxx * factor)
        return grad_output, gy


# --------------------------------------------------------------------------------------------
# naive references (autograd through plain loops; for tests only)
# --------------------------------------------------------------------------------------------
def wkv_naive(time_decay, time_first, k, v):
    """Direct sequential recurrence with unscaled exponentials (fine in float64 for moderate
    inputs); autograd differentiates through the loop."""
    B, T, C = k.shape
    w = -torch.exp(time_decay)
    lam = torch.exp(w)
    a = torch.zeros(B, C, dtype=k.dtype)
    b = torch.zeros(B, C, dtype=k.dtype)
    ys = []
    for t in range(T):
        ek = torch.exp(k[:, t])
        eu = torch.exp(time_first + k[:, t])
        ys.append((a + eu * v[:, t]) / (b + eu))
        a = lam * a + ek * v[:, t]
        b = lam * b + ek
    return torch.stack(ys, 1)


def lif_naive(x):
    B, T, C = x.shape
    v = torch.zeros(B, C, dtype=x.dtype)
    out = []
    for t in range(T):
        h = v + (x[:, t] - v) / LIF_TAU
        s = ATanHeaviside.apply(h - LIF_VTH)
        out.append(s)
        v = (1.0 - s) * h  # hard reset to 0, reset not detached
    return torch.stack(out, 1)


# --------------------------------------------------------------------------------------------
# model (names/shapes/registration order exactly as upstream src/model.py)
# --------------------------------------------------------------------------------------------
class GPTConfig:
    def __init__(self, vocab_size=77, n_layer=4, n_embd=128, ctx_len=256, dropout=0.03,
                 spike_input_steps=0):
        self.vocab_size, self.n_layer, self.n_embd = vocab_size, n_layer, n_embd
        self.ctx_len, self.dropout = ctx_len, dropout
        # 0: the released graph (graded projection inputs); T >= 1: every projection input
        # passes through RateSpike with T steps (1 = binary)
        self.spike_input_steps = spike_input_steps

    def to_dict(self):
        return dict(vocab_size=self.vocab_size, n_layer=self.n_layer, n_embd=self.n_embd,
                    ctx_len=self.ctx_len, dropout=self.dropout,
                    spike_input_steps=self.spike_input_steps)


def _token_shift(z, prev):
    """xx[t] = z[t-1], xx[0] = prev (zeros in training, like nn.ZeroPad2d((0,0,1,-1)))."""
    if prev is None:
        return F.pad(z, (0, 0, 1, -1))
    return torch.cat([prev.unsqueeze(1), z[:, :-1]], 1)


class RWKV_TimeMix(nn.Module):
    def __init__(self, config, layer_id):
        super().__init__()
        C, L = config.n_embd, config.n_layer
        with torch.no_grad():  # RWKV-v4 "fancy init" as in upstream src/model.py
            ratio_0_to_1 = layer_id / (L - 1) if L > 1 else 0.0
            ratio_1_to_almost0 = 1.0 - layer_id / L
            decay_speed = torch.ones(C)
            for h in range(C):
                decay_speed[h] = -5 + 8 * (h / (C - 1)) ** (0.7 + 1.3 * ratio_0_to_1)
            self.time_decay = nn.Parameter(decay_speed)
            zigzag = torch.tensor([(i + 1) % 3 - 1 for i in range(C)]) * 0.5
            self.time_first = nn.Parameter(torch.ones(C) * math.log(0.3) + zigzag)
            x = torch.ones(1, 1, C)
            for i in range(C):
                x[0, 0, i] = i / C
            self.time_mix_k = nn.Parameter(torch.pow(x, ratio_1_to_almost0))
            self.time_mix_v = nn.Parameter(torch.pow(x, ratio_1_to_almost0) + 0.3 * ratio_0_to_1)
            self.time_mix_r = nn.Parameter(torch.pow(x, 0.5 * ratio_1_to_almost0))
        self.key = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(C, C, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.output = nn.Linear(C, C, bias=False)
        self.spike_steps = config.spike_input_steps

    def forward(self, z, state=None, stats=None):
        """z = ln1(x) [B,T,C]. state = (prev_z, (a, b, p)) or None (zero state, trainable).
        stats: optional dict, per projection the number of non-zero (spiking) inputs."""
        xx = _token_shift(z, None if state is None else state[0])
        xk = z * self.time_mix_k + xx * (1 - self.time_mix_k)
        xv = z * self.time_mix_v + xx * (1 - self.time_mix_v)
        xr = z * self.time_mix_r + xx * (1 - self.time_mix_r)
        T = self.spike_steps
        xk, xv, xr = spike_input(xk, T), spike_input(xv, T), spike_input(xr, T)
        k, v, sr = self.key(xk), self.value(xv), torch.sigmoid(self.receptance(xr))
        if state is None:
            y = WKVFunction.apply(self.time_decay, self.time_first, k, v)
            new_wkv = None
        else:
            y, new_wkv = wkv_with_state(self.time_decay, self.time_first, k, v, state[1])
        out_in = spike_input(sr * y, T)
        if stats is not None and T:
            for name, t in (("att.key", xk), ("att.value", xv), ("att.receptance", xr),
                            ("att.output", out_in)):
                stats[name] = stats.get(name, 0.0) + float((t > 0).sum())
        return self.output(out_in), (z[:, -1], new_wkv)


class RWKV_ChannelMix(nn.Module):
    def __init__(self, config, layer_id):
        super().__init__()
        C, L = config.n_embd, config.n_layer
        with torch.no_grad():
            ratio_1_to_almost0 = 1.0 - layer_id / L
            x = torch.ones(1, 1, C)
            for i in range(C):
                x[0, 0, i] = i / C
            self.time_mix_k = nn.Parameter(torch.pow(x, ratio_1_to_almost0))
            self.time_mix_r = nn.Parameter(torch.pow(x, ratio_1_to_almost0))
        self.key = nn.Linear(C, 4 * C, bias=False)
        self.receptance = nn.Linear(C, C, bias=False)
        self.value = nn.Linear(4 * C, C, bias=False)
        self.spike_steps = config.spike_input_steps

    def forward(self, z, prev=None, stats=None, spike_stats=None):
        xx = _token_shift(z, prev)
        xk = z * self.time_mix_k + xx * (1 - self.time_mix_k)
        xr = z * self.time_mix_r + xx * (1 - self.time_mix_r)
        T = self.spike_steps
        xk, xr = spike_input(xk, T), spike_input(xr, T)
        h = spike_input(torch.square(torch.relu(self.key(xk))), T)
        if stats is not None:
            stats.append(float((h > 0).sum()))
        if spike_stats is not None and T:
            for name, t in (("ffn.key", xk), ("ffn.receptance", xr), ("ffn.value", h)):
                spike_stats[name] = spike_stats.get(name, 0.0) + float((t > 0).sum())
        return torch.sigmoid(self.receptance(xr)) * self.value(h), z[:, -1]


class Block(nn.Module):
    def __init__(self, config, layer_id):
        super().__init__()
        self.layer_id = layer_id
        C = config.n_embd
        self.ln1 = nn.LayerNorm(C)
        self.ln2 = nn.LayerNorm(C)
        self.dropout = nn.Dropout(config.dropout)
        if layer_id == 0:
            self.ln0 = nn.LayerNorm(C)
        self.att = RWKV_TimeMix(config, layer_id)
        self.ffn = RWKV_ChannelMix(config, layer_id)

    def forward(self, x, state=None, stats=None):
        """state: None (training: zero state, full autograd) or a dict with keys
        'att' (prev z, (a,b,p)), 'ffn' (prev z), 'v1', 'v2' (membranes [B,C])."""
        if self.layer_id == 0:
            x = self.ln0(x)
        st = state
        spike_stats = None if stats is None else stats.setdefault("spike_inputs", {})
        y, att_st = self.att(self.ln1(x), None if st is None else st["att"], spike_stats)
        s1, v1 = lif(y, None if st is None else st["v1"])
        x = x + s1
        y, ffn_prev = self.ffn(self.ln2(x), None if st is None else st["ffn"],
                               None if stats is None else stats["relu2_nnz"], spike_stats)
        s2, v2 = lif(y, None if st is None else st["v2"])
        x = x + s2
        x = self.dropout(x)
        if stats is not None:
            stats["lif1"].append(float(s1.sum()))
            stats["lif2"].append(float(s2.sum()))
        new_state = None
        if st is not None:
            new_state = {"att": att_st, "ffn": ffn_prev, "v1": v1, "v2": v2}
        return x, new_state


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.blocks = nn.Sequential(*[Block(config, i) for i in range(config.n_layer)])
        self.ln_out = nn.LayerNorm(config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.spike_input_steps:
            # PyTorch's default init gives Var(w) = 1/(3·fan_in), made for unit-variance
            # inputs. Spike inputs fire at a rate p well below 1 (about 1/6 for a LayerNorm
            # output against threshold 1), so the projection's output would have variance p/3
            # and the spike functions after att.value/ffn.key (threshold 1) would never fire
            # at the start. Scaling by sqrt(3/p0), p0 = 1/6, gives unit output variance.
            gain = math.sqrt(3 * 6)
            with torch.no_grad():
                for blk in self.blocks:
                    for lin in (blk.att.key, blk.att.value, blk.att.receptance, blk.att.output,
                                blk.ffn.key, blk.ffn.receptance, blk.ffn.value):
                        lin.weight.mul_(gain)

    def zero_state(self, B):
        C = self.config.n_embd
        dt = self.emb.weight.dtype
        z = lambda: torch.zeros(B, C, dtype=dt)
        return [{"att": (z(), (z(), z(), torch.full((B, C), NEG_BIG, dtype=dt))), "ffn": z(),
                 "v1": z(), "v2": z()} for _ in range(self.config.n_layer)]

    def forward(self, idx, targets=None, state=None, stats=None):
        """Training graph (state None: zero initial state, as upstream with reset_net) or
        stateful evaluation (state from zero_state()/a previous call; no autograd through
        WKV). stats: optional dict collecting per-layer spike / ReLU^2 non-zero counts."""
        x = ATanHeaviside.apply(self.emb(idx))
        new_states = [] if state is not None else None
        per_layer = []
        for i, blk in enumerate(self.blocks):
            ls = None
            if stats is not None:
                ls = {"lif1": [], "lif2": [], "relu2_nnz": [], "spike_inputs": {}}
            x, ns = blk(x, None if state is None else state[i], ls)
            if new_states is not None:
                new_states.append(ns)
            per_layer.append(ls)
        if stats is not None:
            for i, ls in enumerate(per_layer):
                d = stats.setdefault(i, {"lif1": 0.0, "lif2": 0.0, "relu2_nnz": 0.0})
                for key in ("lif1", "lif2", "relu2_nnz"):
                    d[key] += sum(ls[key])
                si = d.setdefault("spike_inputs", {})
                for name, n in ls["spike_inputs"].items():
                    si[name] = si.get(name, 0.0) + n
        logits = self.head(self.ln_out(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
            loss = L2Wrap.apply(loss, logits)
        return logits, loss, new_states


def n_params_formula(V, C, L):
    return 2 * V * C + L * (13 * C * C + 11 * C) + 4 * C


def upstream_keys(V, C, L):
    """The upstream state_dict (keys, shapes) in registration order (reference section 5.2)."""
    out = [("emb.weight", (V, C))]
    for i in range(L):
        p = f"blocks.{i}."
        out += [(p + "ln1.weight", (C,)), (p + "ln1.bias", (C,)),
                (p + "ln2.weight", (C,)), (p + "ln2.bias", (C,))]
        if i == 0:
            out += [(p + "ln0.weight", (C,)), (p + "ln0.bias", (C,))]
        out += [(p + "att.time_decay", (C,)), (p + "att.time_first", (C,)),
                (p + "att.time_mix_k", (1, 1, C)), (p + "att.time_mix_v", (1, 1, C)),
                (p + "att.time_mix_r", (1, 1, C)),
                (p + "att.key.weight", (C, C)), (p + "att.value.weight", (C, C)),
                (p + "att.receptance.weight", (C, C)), (p + "att.output.weight", (C, C)),
                (p + "ffn.time_mix_k", (1, 1, C)), (p + "ffn.time_mix_r", (1, 1, C)),
                (p + "ffn.key.weight", (4 * C, C)), (p + "ffn.receptance.weight", (C, C)),
                (p + "ffn.value.weight", (C, 4 * C))]
    out += [("ln_out.weight", (C,)), ("ln_out.bias", (C,)), ("head.weight", (V, C))]
    return out


def spike_input_steps_of(sd):
    """The variant recorded in a checkpoint: the extra tensor SPIKE_INPUT_KEY ([1], float32,
    holding T) or, when absent, 0 (the released graph)."""
    t = sd.get(SPIKE_INPUT_KEY)
    return 0 if t is None else int(round(float(t.reshape(-1)[0])))


def variant_state_dict(model):
    """The upstream state_dict, plus SPIKE_INPUT_KEY for a spike-input variant."""
    sd = model.state_dict()
    T = model.config.spike_input_steps
    if T:
        sd[SPIKE_INPUT_KEY] = torch.tensor([float(T)])
    return sd


def config_from_state_dict(sd):
    V, C = sd["emb.weight"].shape
    L = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    return GPTConfig(vocab_size=V, n_layer=L, n_embd=C, spike_input_steps=spike_input_steps_of(sd))


def load_checkpoint(path):
    obj = torch.load(path, map_location="cpu")
    sd = obj["model"] if isinstance(obj, dict) and "model" in obj else obj
    cfg = config_from_state_dict(sd)
    model = GPT(cfg)
    model.load_state_dict({k: v for k, v in sd.items() if k != SPIKE_INPUT_KEY})
    return model


# --------------------------------------------------------------------------------------------
# RNN mode: literal transcription of upstream src/model_run.py (reference section 3.2),
# without the RWKV_RESCALE_LAYER trick unless rescale=True.
# --------------------------------------------------------------------------------------------
class RNN:
    def __init__(self, model_or_sd, rescale=False):
        sd = variant_state_dict(model_or_sd) if isinstance(model_or_sd, nn.Module) else model_or_sd
        self.w = {}
        self.spike_steps = spike_input_steps_of(sd)
        for k, t in sd.items():
            if k == SPIKE_INPUT_KEY:
                continue
            t = t.detach().float().clone()
            if rescale:
                if "att.output.weight" in k or "ffn.value.weight" in k:
                    t = t / (2 ** (int(k.split(".")[1]) // 6))
            if ".time_" in k:
                t = t.squeeze()
            if ".time_decay" in k:
                t = -torch.exp(t)
            self.w[k] = t
        self.rescale = rescale
        self.V, self.C = self.w["emb.weight"].shape
        self.L = 1 + max(int(k.split(".")[1]) for k in self.w if k.startswith("blocks."))
        self.reset()

    def reset(self):
        L, C = self.L, self.C
        self.state = torch.zeros(5 * L, C)
        for i in range(L):
            self.state[5 * i + 4] = NEG_BIG
        self.mem1 = [torch.zeros(C) for _ in range(L)]
        self.mem2 = [torch.zeros(C) for _ in range(L)]
        self.stats = {"lif1": [0.0] * L, "lif2": [0.0] * L, "relu2_nnz": [0.0] * L, "tokens": 0}

    @staticmethod
    def _ln(x, w, b):
        return F.layer_norm(x, (x.shape[-1],), weight=w, bias=b)

    @staticmethod
    def _lif(x, mem):
        h = mem + (x - mem) / LIF_TAU
        s = (h - LIF_VTH >= 0).float()
        mem.copy_((1 - s) * h)
        return s

    @torch.no_grad()
    def step(self, token):
        w, st = self.w, self.state
        x = w["emb.weight"][token]
        if self.V == 77:
            x = (x >= 0).float()
        self.stats["tokens"] += 1
        for i in range(self.L):
            p = f"blocks.{i}."
            if i == 0:
                x = self._ln(x, w[p + "ln0.weight"], w[p + "ln0.bias"])
            # time-mix
            z = self._ln(x, w[p + "ln1.weight"], w[p + "ln1.bias"])
            xa = st[5 * i + 1]
            mk, mv, mr = w[p + "att.time_mix_k"], w[p + "att.time_mix_v"], w[p + "att.time_mix_r"]
            xk = z * mk + xa * (1 - mk)
            xv = z * mv + xa * (1 - mv)
            xr = z * mr + xa * (1 - mr)
            st[5 * i + 1] = z
            T = self.spike_steps
            xk, xv, xr = spike_count(xk, T), spike_count(xv, T), spike_count(xr, T)
            r = torch.sigmoid(w[p + "att.receptance.weight"] @ xr)
            k = w[p + "att.key.weight"] @ xk
            v = w[p + "att.value.weight"] @ xv
            aa, bb, pp = st[5 * i + 2], st[5 * i + 3], st[5 * i + 4]
            u, ww = w[p + "att.time_first"], w[p + "att.time_decay"]
            q = torch.maximum(pp, u + k)
            e1, e2 = torch.exp(pp - q), torch.exp(u + k - q)
            wkv = (e1 * aa + e2 * v) / (e1 * bb + e2)
            q = torch.maximum(pp + ww, k)
            e1, e2 = torch.exp(pp + ww - q), torch.exp(k - q)
            st[5 * i + 2] = e1 * aa + e2 * v
            st[5 * i + 3] = e1 * bb + e2
            st[5 * i + 4] = q
            s = self._lif(w[p + "att.output.weight"] @ spike_count(r * wkv, T), self.mem1[i])
            self.stats["lif1"][i] += float(s.sum())
            x = x + s
            # channel-mix
            z = self._ln(x, w[p + "ln2.weight"], w[p + "ln2.bias"])
            xf = st[5 * i + 0]
            mk, mr = w[p + "ffn.time_mix_k"], w[p + "ffn.time_mix_r"]
            xk = z * mk + xf * (1 - mk)
            xr = z * mr + xf * (1 - mr)
            st[5 * i + 0] = z
            xk, xr = spike_count(xk, T), spike_count(xr, T)
            r = torch.sigmoid(w[p + "ffn.receptance.weight"] @ xr)
            h = spike_count(torch.square(torch.relu(w[p + "ffn.key.weight"] @ xk)), T)
            self.stats["relu2_nnz"][i] += float((h > 0).sum())
            s = self._lif(r * (w[p + "ffn.value.weight"] @ h), self.mem2[i])
            self.stats["lif2"][i] += float(s.sum())
            x = x + s
            if self.rescale and (i + 1) % 6 == 0:
                x = x / 2
        return w["head.weight"] @ self._ln(x, w["ln_out.weight"], w["ln_out.bias"])


def sample_logits(logits, gen, temperature=1.0, top_p=0.7):
    """Upstream-style nucleus sampling (src/utils.py): softmax, keep the smallest set of
    tokens whose cumulative probability reaches top_p, optional temperature as p^(1/T)."""
    probs = torch.softmax(logits.float(), -1)
    sp, _ = torch.sort(probs, descending=True)
    cum = torch.cumsum(sp, 0)
    cutoff = float(sp[int(torch.argmax((cum > top_p).int()))])
    probs = torch.where(probs < cutoff, torch.zeros_like(probs), probs)
    if temperature != 1.0:
        probs = probs.pow(1.0 / temperature)
    return int(torch.multinomial(probs / probs.sum(), 1, generator=gen))


def generate(model_or_sd, vocab, prompt, n_chars, greedy=True, seed=0, temperature=1.0,
             top_p=0.7):
    """RNN-style (token by token from a zero state) generation."""
    rnn = RNN(model_or_sd)
    gen = torch.Generator().manual_seed(seed)
    logits = None
    for t in vocab.encode(prompt):
        logits = rnn.step(t)
    out = []
    for _ in range(n_chars):
        nxt = int(torch.argmax(logits)) if greedy else sample_logits(logits, gen, temperature, top_p)
        out.append(nxt)
        logits = rnn.step(nxt)
    return vocab.decode(out)


# --------------------------------------------------------------------------------------------
# evaluation: the whole text as ONE sequence from a zero state (what the RNN computes), run
# in chunks with the WKV (a, b, p), token-shift and LIF states carried across chunks exactly
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def evaluate_ids(model, ids, chunk=2048):
    """ids: list/1-D tensor of token ids. Predicts ids[t+1] from ids[<=t], t = 0..N-2.
    Returns dict: bpc, nll_nats (mean), tokens (predicted positions), per-layer LIF firing
    rates (mean over all N tokens and C channels) and ReLU^2 density (fraction of non-zero
    entries of h over N tokens and 4C hidden units)."""
    was_training = model.training
    model.eval()
    ids = torch.as_tensor(ids, dtype=torch.long).view(1, -1)
    N = ids.shape[1]
    C, L = model.config.n_embd, model.config.n_layer
    state = model.zero_state(1)
    stats = {}
    nll = 0.0
    for s in range(0, N, chunk):
        x = ids[:, s:s + chunk]
        logits, _, state = model(x, state=state, stats=stats)
        tgt = ids[:, s + 1:s + chunk + 1]
        n = tgt.shape[1]
        if n:
            lp = torch.log_softmax(logits[0, :n].double(), -1)
            nll -= float(lp.gather(1, tgt[0].view(-1, 1)).sum())
    model.train(was_training)
    npred = N - 1
    res = {"tokens": npred, "nll_nats": nll / npred, "bpc": nll / npred / math.log(2)}
    res["lif1_rate"] = [stats[i]["lif1"] / (N * C) for i in range(L)]
    res["lif2_rate"] = [stats[i]["lif2"] / (N * C) for i in range(L)]
    res["relu2_density"] = [stats[i]["relu2_nnz"] / (N * 4 * C) for i in range(L)]
    if model.config.spike_input_steps:
        fan_in = {"att.key": C, "att.value": C, "att.receptance": C, "att.output": C,
                  "ffn.key": C, "ffn.receptance": C, "ffn.value": 4 * C}
        res["spike_input_rate"] = [{name: stats[i]["spike_inputs"].get(name, 0.0) / (N * n)
                                    for name, n in fan_in.items()} for i in range(L)]
    return res


def unigram_bpc(train_text, eval_text, vocab_size=77, add=1.0):
    """Cross-entropy (bits/char) of eval_text under train-split character frequencies
    (add-`add` smoothing over the vocabulary), over the same predicted positions 1..N-1."""
    from collections import Counter
    cnt = Counter(train_text)
    total = len(train_text) + add * vocab_size
    bits = 0.0
    for ch in eval_text[1:]:
        bits -= math.log2((cnt.get(ch, 0) + add) / total)
    return bits / max(1, len(eval_text) - 1)
