#!/usr/bin/env python3
"""Self-check of the SpikeGPT PyTorch training code (no pytest; plain asserts, exit code).

Run with Debian's interpreter: /usr/bin/python3 scripts/test_train_step.py
Exits 0 with a message (skipped) when torch is not importable.

Checks:
  1. WKV: torch.autograd.gradcheck (float64) of the custom Function, and its values and
     gradients against autograd through a naive sequential loop; for both kernel
     implementations (C++ when it compiles, pure torch always); large-|k| stability.
  2. LIF: spikes and surrogate gradients against autograd through a naive loop.
  3. Parallel graph == RNN (model_run transcription), and whole-sequence == chunked
     evaluation with carried state.
  4. One training step runs; the loss decreases over a few steps on a repeated batch.
  5. The state_dict has exactly the upstream keys, shapes and order, and survives
     torch.save / torch.load.
"""
import os
import sys
import tempfile

try:
    import torch
except Exception as e:  # pragma: no cover
    print(f"SKIP: torch not importable ({e}); run with /usr/bin/python3 (python3-torch)")
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spikegpt_torch as sg  # noqa: E402

FAILS = []
PASSES = []


def check(name, cond, detail=""):
    (PASSES if cond else FAILS).append(name)
    print(("PASS " if cond else "FAIL ") + name + (f"  ({detail})" if detail else ""))


def impls():
    out = [("torch", None)]
    if sg.get_ext() is not None:
        out.insert(0, ("cpp", sg.get_ext()))
    else:
        print("note: C++ kernels not available, only the pure-torch kernels are tested")
    return out


def with_impl(name, fn):
    saved = (sg.IMPL, sg._ext, sg._ext_tried)
    if name == "torch":
        sg.IMPL = "torch"
    try:
        return fn()
    finally:
        sg.IMPL, sg._ext, sg._ext_tried = saved


def test_wkv():
    torch.manual_seed(0)
    B, T, C = 2, 9, 5
    dd = torch.float64
    td = (torch.randn(C, dtype=dd) * 0.8).requires_grad_()
    tf = (torch.randn(C, dtype=dd) * 0.5).requires_grad_()
    k = (torch.randn(B, T, C, dtype=dd) * 1.5).requires_grad_()
    v = torch.randn(B, T, C, dtype=dd).requires_grad_()
    gy = torch.randn(B, T, C, dtype=dd)
    y_ref = sg.wkv_naive(td, tf, k, v)
    g_ref = torch.autograd.grad(y_ref, (td, tf, k, v), gy)
    for name, _ in impls():
        def run():
            ok = torch.autograd.gradcheck(sg.WKVFunction.apply, (td, tf, k, v), eps=1e-6,
                                          atol=1e-7, rtol=1e-5)
            check(f"wkv[{name}] gradcheck float64", ok)
            y = sg.WKVFunction.apply(td, tf, k, v)
            g = torch.autograd.grad(y, (td, tf, k, v), gy)
            err_y = float((y - y_ref).abs().max())
            err_g = max(float((a - b).abs().max()) for a, b in zip(g, g_ref))
            check(f"wkv[{name}] == naive loop (values)", err_y < 1e-12, f"max err {err_y:.2e}")
            check(f"wkv[{name}] == naive loop (grads)", err_g < 1e-10, f"max err {err_g:.2e}")
            # stability: large keys (naive form would overflow exp in float32)
            kb = torch.randn(1, 300, 4) * 40
            vb = torch.randn(1, 300, 4)
            tdb = torch.tensor([-5.0, 0.0, 2.0, 3.0], requires_grad=True)
            tfb = torch.zeros(4, requires_grad=True)
            kb.requires_grad_()
            yb = sg.WKVFunction.apply(tdb, tfb, kb, vb)
            yb.sum().backward()
            fin = bool(torch.isfinite(yb).all() and torch.isfinite(kb.grad).all()
                       and torch.isfinite(tdb.grad).all())
            check(f"wkv[{name}] finite for |k| ~ 100, T=300 (float32)", fin)
            # chunked with state == whole
            k2, v2 = torch.randn(2, 40, 6), torch.randn(2, 40, 6)
            td2, tf2 = torch.randn(6), torch.randn(6)
            y_all, _ = sg.wkv_with_state(td2, tf2, k2, v2, None)
            st = None
            ys = []
            for s in range(0, 40, 13):
                yc, st = sg.wkv_with_state(td2, tf2, k2[:, s:s + 13], v2[:, s:s + 13], st)
                ys.append(yc)
            err = float((torch.cat(ys, 1) - y_all).abs().max())
            check(f"wkv[{name}] chunked with state == whole", err < 1e-6, f"max err {err:.2e}")
        with_impl(name, run)


def test_lif():
    torch.manual_seed(1)
    x = (torch.randn(3, 25, 7, dtype=torch.float64) * 1.5 + 1.2).requires_grad_()
    gs = torch.randn(3, 25, 7, dtype=torch.float64)
    s_ref = sg.lif_naive(x)
    g_ref = torch.autograd.grad(s_ref, x, gs)[0]
    for name, _ in impls():
        def run():
            s, v = sg.lif(x)
            g = torch.autograd.grad(s, x, gs)[0]
            check(f"lif[{name}] spikes == naive loop", bool((s == s_ref).all()),
                  f"rate {float(s.mean()):.3f}")
            err = float((g - g_ref).abs().max())
            check(f"lif[{name}] surrogate grads == naive loop", err < 1e-12, f"max err {err:.2e}")
            s1, v1 = sg.lif(x[:, :10].detach())
            s2, _ = sg.lif(x[:, 10:].detach(), v1)
            check(f"lif[{name}] chunked with membrane == whole",
                  bool((torch.cat([s1, s2], 1) == s.detach()).all()))
        with_impl(name, run)


def tiny_model(seed=0, L=2, C=32):
    torch.manual_seed(seed)
    return sg.GPT(sg.GPTConfig(vocab_size=77, n_layer=L, n_embd=C, ctx_len=32, dropout=0.03))


def test_rnn_equivalence():
    m = tiny_model(3, L=3, C=32)
    with torch.no_grad():  # make the LIFs fire so the check means something
        for blk in m.blocks:
            blk.att.output.weight.mul_(12.0)
            blk.ffn.value.weight.mul_(40.0)
    m.eval()
    torch.manual_seed(5)
    idx = torch.randint(0, 77, (1, 60))
    stats = {}
    with torch.no_grad():
        logits_par, _, _ = m(idx, stats=stats)
        rnn = sg.RNN(m)
        logits_rnn = torch.stack([rnn.step(int(t)) for t in idx[0]])
        st = m.zero_state(1)
        outs = []
        for s in range(0, 60, 17):
            lo, _, st = m(idx[:, s:s + 17], state=st)
            outs.append(lo)
        logits_chunk = torch.cat(outs, 1)
    err = float((logits_par[0] - logits_rnn).abs().max())
    rate = [stats[i]["lif1"] / (60 * 32) for i in range(3)] + \
           [stats[i]["lif2"] / (60 * 32) for i in range(3)]
    check("parallel graph == RNN token-by-token", err < 1e-3,
          f"max |dlogit| {err:.2e}, firing rates {[round(r, 3) for r in rate]}")
    check("LIFs fire in the equivalence test", min(rate) > 0.0 and max(rate) < 1.0)
    spk_match = all(abs(stats[i]["lif1"] - rnn.stats["lif1"][i]) < 0.5 and
                    abs(stats[i]["lif2"] - rnn.stats["lif2"][i]) < 0.5 for i in range(3))
    check("spike counts parallel == RNN", spk_match)
    err = float((logits_par - logits_chunk).abs().max())
    check("whole sequence == chunked with carried state", err < 1e-4, f"max {err:.2e}")


def test_training():
    m = tiny_model(0)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3, betas=(0.9, 0.99), eps=1e-8)
    torch.manual_seed(1)
    data = torch.randint(0, 77, (4, 33))
    x, y = data[:, :-1], data[:, 1:]
    losses = []
    for _ in range(8):
        m.train()
        _, loss, _ = m(x, y)
        opt.zero_grad()
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
        losses.append(float(loss))
    check("one training step runs, finite loss and grad norm",
          all(map(lambda v: v == v, losses)) and float(gn) == float(gn), f"losses {losses[0]:.3f}..")
    check("loss decreases on a repeated batch", losses[-1] < losses[0] - 0.05,
          f"{losses[0]:.3f} -> {losses[-1]:.3f}")
    return m


def test_state_dict(m):
    V, C, L = 77, m.config.n_embd, m.config.n_layer
    want = sg.upstream_keys(V, C, L)
    sd = m.state_dict()
    got = [(k, tuple(t.shape)) for k, t in sd.items()]
    check("state_dict keys/shapes/order == upstream", got == want,
          "" if got == want else f"diff {set(got) ^ set(want)}")
    n = sum(t.numel() for t in sd.values())
    check("parameter count == 2VC + L(13C^2+11C) + 4C", n == sg.n_params_formula(V, C, L), str(n))
    check("all tensors float32", all(t.dtype == torch.float32 for t in sd.values()))
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "m.pth")
        torch.save(sd, p)
        sd2 = torch.load(p)
        check("torch.save/torch.load round trip (plain dict of tensors)",
              list(sd2.keys()) == [k for k, _ in want] and all(torch.equal(sd[k], sd2[k]) for k in sd))
        m2 = sg.load_checkpoint(p)
        check("load_checkpoint infers L, C, V", (m2.config.n_layer, m2.config.n_embd,
                                                 m2.config.vocab_size) == (L, C, V))


def main():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    test_wkv()
    test_lif()
    test_rnn_equivalence()
    m = test_training()
    test_state_dict(m)
    print(f"{len(PASSES)} passed, {len(FAILS)} failed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
