#!/usr/bin/python3
"""Writes the NIR test fixtures (tests/data/nir/): small NIR graphs, their inputs and expected outputs.

    /usr/bin/python3 scripts/make_nir_fixtures.py            # (re)write tests/data/nir/
    /usr/bin/python3 scripts/make_nir_fixtures.py --verify   # regenerate in a temp dir, compare bytes

Run it with Debian's interpreter (h5py, numpy). One small graph per NIR primitive, a nested graph,
two recurrent CubaLIF networks after the NIR paper's Braille task, a NIR 0.1.1-style pair and
float64-parameter files. Each graph is written the way the real files in ../shared/data/nir/ are
(h5py defaults, no compression; variable-length UTF-8 strings for `version`, `type` and the [E, 2]
`edges`; int64 for shapes, kernel sizes, strides; per-neuron parameter arrays).

The expected outputs come from the numpy reference below, written from the discretisation documented
in tests/data/nir/README.md (not from any C++ code): float64, fixed expression orders, sums
accumulated in a stated order, so that a plain double-precision implementation of the same order can
match it bit for bit. The reference reads every graph back from the file it was written to, so it
computes with the stored (float32 or float64) parameter values.

Deterministic: fixed seeds; each fixture takes the first seed (counting up from its base seed) whose
run passes the acceptance checks (every spiking node fires at a rate within [MIN_RATE, MAX_RATE],
at least half of its neurons fire, and no membrane ever comes within MIN_MARGIN of its threshold, so
that float rounding differences between implementations cannot flip a spike).
"""

import argparse
import json
import math
import os
import sys

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402  (verify_regenerated)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "nir")
STR = h5py.string_dtype("utf-8")
MIN_RATE, MAX_RATE = 0.05, 0.6
MIN_MARGIN = 1e-6
NEURONS = ("I", "IF", "LI", "LIF", "CubaLI", "CubaLIF")
SPIKING = ("IF", "LIF", "CubaLIF", "Threshold")


# ---------------------------------------------------------------------------------------------
# Writing NIR files (graph = {"type": "NIRGraph", "nodes": {id: node}, "edges": [(src, dst)]})
# ---------------------------------------------------------------------------------------------

def write_nir(path, graph, version):
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data=version, dtype=STR)
        write_node(f.create_group("node"), graph)


def write_node(group, node):
    for key, value in node.items():
        if key == "nodes":
            nodes = group.create_group("nodes")
            for nid, sub in value.items():
                write_node(nodes.create_group(nid), sub)
        elif key == "edges":
            edges = np.empty((len(value), 2), dtype=object)
            for k, (src, dst) in enumerate(value):
                edges[k, 0], edges[k, 1] = src, dst
            group.create_dataset("edges", data=edges, dtype=STR)
        elif isinstance(value, str):
            group.create_dataset(key, data=value, dtype=STR)
        else:
            arr = np.asarray(value)
            assert arr.dtype in (np.float32, np.float64, np.int64), (key, arr.dtype)
            group.create_dataset(key, data=arr)


def graph(nodes, edges):
    return {"type": "NIRGraph", "nodes": nodes, "edges": edges}


def ints(*v):
    return np.array(v, dtype=np.int64)


def io_node(kind, shape):
    return {"type": kind, "shape": ints(*shape)}


def param(value, shape, dtype):
    """A per-neuron parameter array: a scalar broadcast, or values given per neuron."""
    return np.broadcast_to(np.asarray(value, dtype=np.float64), shape).astype(dtype)


# ---------------------------------------------------------------------------------------------
# Reading NIR files back (own reader: the expected outputs use the values as stored)
# ---------------------------------------------------------------------------------------------

def read_nir(path):
    with h5py.File(path, "r") as f:
        return f["version"][()].decode("utf-8"), read_node(f["node"])


def read_node(group):
    node = {}
    for key, item in group.items():
        if key == "nodes":
            node["nodes"] = {nid: read_node(sub) for nid, sub in item.items()}
        elif key == "edges":
            node["edges"] = [(a.decode("utf-8"), b.decode("utf-8")) for a, b in item[()]]
        elif key == "metadata":
            continue
        elif h5py.check_string_dtype(item.dtype) is not None:
            node[key] = item[()].decode("utf-8")
        elif item.dtype.kind == "f":
            node[key] = np.asarray(item[()], dtype=np.float64)
        else:
            node[key] = np.asarray(item[()], dtype=np.int64)
    return node


# ---------------------------------------------------------------------------------------------
# Graph order: recurrent (back) edges by DFS, topological order of the rest
# ---------------------------------------------------------------------------------------------

def recurrent_edges(g):
    """Indices of the back edges of a depth-first search that starts from the Input nodes in sorted
    id order (then from any node not yet reached, in sorted id order) and follows each node's
    out-edges in the order they stand in the file. A back edge reaches a node on the current DFS
    path (a self-loop included)."""
    nodes, edges = g["nodes"], g["edges"]
    out_edges = {nid: [] for nid in nodes}
    for k, (src, _) in enumerate(edges):
        out_edges[src].append(k)
    state = {nid: 0 for nid in nodes}  # 0 unvisited, 1 on the path, 2 done
    back = set()
    roots = sorted(n for n in nodes if nodes[n]["type"] == "Input")
    roots += sorted(n for n in nodes if nodes[n]["type"] != "Input")
    for root in roots:
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(out_edges[root]))]
        while stack:
            nid, it = stack[-1]
            k = next(it, None)
            if k is None:
                state[nid] = 2
                stack.pop()
                continue
            dst = edges[k][1]
            if state[dst] == 1:
                back.add(k)
            elif state[dst] == 0:
                state[dst] = 1
                stack.append((dst, iter(out_edges[dst])))
    return back


def topological_order(g, back):
    """Kahn's algorithm on the edges that are not recurrent; ready nodes taken in sorted id order
    (any topological order gives the same values)."""
    nodes, edges = g["nodes"], g["edges"]
    indeg = {nid: 0 for nid in nodes}
    for k, (_, dst) in enumerate(edges):
        if k not in back:
            indeg[dst] += 1
    order, ready = [], sorted(n for n in nodes if indeg[n] == 0)
    while ready:
        nid = ready.pop(0)
        order.append(nid)
        for k, (src, dst) in enumerate(edges):
            if src == nid and k not in back:
                indeg[dst] -= 1
                if indeg[dst] == 0:
                    ready.append(dst)
                    ready.sort()
    assert len(order) == len(nodes), "cycle left after removing the recurrent edges"
    return order


# ---------------------------------------------------------------------------------------------
# The numpy reference (float64; see tests/data/nir/README.md for the discretisation)
# ---------------------------------------------------------------------------------------------

def per_dim(value, nd):
    v = np.atleast_1d(np.asarray(value, dtype=np.int64))
    return tuple(int(x) for x in (np.repeat(v, nd) if v.size == 1 else v))


def window_out(size, kernel, stride, pad, dil):
    return tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                 for n, k, s, p, d in zip(size, kernel, stride, pad, dil))


def zero_pad(x, pad):
    """x [C, *spatial] with zeros added on both sides of each spatial dim."""
    return np.pad(x, [(0, 0)] + [(p, p) for p in pad])


def window(xp, kidx, dil, stride, out):
    """The strided view of padded input xp [*spatial] that kernel tap kidx sees for every output."""
    return xp[tuple(slice(k * d, k * d + s * (n - 1) + 1, s)
                    for k, d, s, n in zip(kidx, dil, stride, out))]


def conv(x, node):
    """PyTorch cross-correlation. Per output element: acc = 0, then acc + w*x over the group's input
    channels (ascending), then kernel taps in row-major order; bias added last."""
    w, b = node["weight"], node["bias"]
    nd = w.ndim - 2
    stride, pad, dil = (per_dim(node[k], nd) for k in ("stride", "padding", "dilation"))
    groups = int(node["groups"])
    cout, cin_g, kernel = w.shape[0], w.shape[1], w.shape[2:]
    assert x.shape[0] == cin_g * groups and cout % groups == 0
    out = window_out(x.shape[1:], kernel, stride, pad, dil)
    xp = zero_pad(x, pad)
    y = np.empty((cout,) + out)
    for co in range(cout):
        g = co // (cout // groups)
        acc = np.zeros(out)
        for ci in range(cin_g):
            for kidx in np.ndindex(*kernel):
                acc = acc + w[co, ci][kidx] * window(xp[g * cin_g + ci], kidx, dil, stride, out)
        y[co] = acc + b[co]
    return y


def pool(x, node, average):
    """Window sum with zero padding (acc = 0, taps in row-major order); AvgPool2d divides the sum by
    the kernel area (PyTorch count_include_pad=True)."""
    kernel, stride, pad = (per_dim(node[k], 2) for k in ("kernel_size", "stride", "padding"))
    out = window_out(x.shape[1:], kernel, stride, pad, (1, 1))
    xp = zero_pad(x, pad)
    y = np.empty((x.shape[0],) + out)
    for c in range(x.shape[0]):
        acc = np.zeros(out)
        for kidx in np.ndindex(*kernel):
            acc = acc + window(xp[c], kidx, (1, 1), stride, out)
        y[c] = acc / float(kernel[0] * kernel[1]) if average else acc
    return y


def matvec(w, x):
    """W·x with acc = 0, then acc + W[:, j]*x[j] for j ascending."""
    acc = np.zeros(w.shape[0])
    for j in range(w.shape[1]):
        acc = acc + w[:, j] * x[j]
    return acc


def flatten_shape(shape, start, end):
    nd = len(shape)
    start, end = start % nd, end % nd
    return tuple(shape[:start]) + (int(np.prod(shape[start:end + 1])),) + tuple(shape[end + 1:])


def delay_steps(delay, dt):
    """d = round(delay / dt), halves rounded away from zero (as C's lround); ties are avoided."""
    steps = []
    for q in (np.asarray(delay, dtype=np.float64) / dt).ravel():
        frac = q - math.floor(q)
        assert q >= 0 and abs(frac - 0.5) > 1e-6, f"delay/dt = {q} is negative or a tie"
        steps.append(math.floor(q) + (1 if frac >= 0.5 else 0))
    return np.array(steps, dtype=np.int64).reshape(np.shape(delay))


def output_shape(node, in_shape, sub):
    t = node["type"]
    if t in ("Input", "Output"):
        assert tuple(node["shape"]) == in_shape, (t, node["shape"], in_shape)
        return in_shape
    if t in ("Affine", "Linear"):
        assert node["weight"].ndim == 2 and in_shape == (node["weight"].shape[1],)
        return (node["weight"].shape[0],)
    if t in ("Conv1d", "Conv2d"):
        w = node["weight"]
        nd = w.ndim - 2
        return (w.shape[0],) + window_out(in_shape[1:], w.shape[2:],
                                          *(per_dim(node[k], nd) for k in ("stride", "padding", "dilation")))
    if t in ("SumPool2d", "AvgPool2d"):
        return (in_shape[0],) + window_out(in_shape[1:], per_dim(node["kernel_size"], 2),
                                           per_dim(node["stride"], 2), per_dim(node["padding"], 2), (1, 1))
    if t == "Flatten":
        if "input_type" in node:
            assert tuple(node["input_type"]) == in_shape
        return flatten_shape(in_shape, int(node["start_dim"]), int(node["end_dim"]))
    if t == "NIRGraph":
        return sub.out_shape
    key = {"Scale": "scale", "Threshold": "threshold", "Delay": "delay"}.get(t, "r")
    assert node[key].shape == in_shape, (t, node[key].shape, in_shape)
    return in_shape


class Executor:
    """Runs one graph level step by step; a NIRGraph node is run by its own Executor, its single
    Input node receiving the sum of the edges into the subgraph node, its single Output node giving
    the subgraph node's output."""

    def __init__(self, g, dt, reset, in_shapes=None):
        self.g, self.dt, self.reset = g, dt, reset
        nodes, edges = g["nodes"], g["edges"]
        self.back = recurrent_edges(g)
        self.order = topological_order(g, self.back)
        self.inputs = {nid: [(src, k in self.back) for k, (src, dst) in enumerate(edges) if dst == nid]
                       for nid in nodes}
        self.sub, self.shape, self.state = {}, {}, {}
        for nid in self.order:
            node = nodes[nid]
            feeds = [self.shape[src] for src, rec in self.inputs[nid] if not rec]
            in_shape = feeds[0] if feeds else (in_shapes or {}).get(nid, tuple(int(v) for v in node["shape"]))
            assert all(f == in_shape for f in feeds), (nid, feeds)
            if node["type"] == "NIRGraph":
                inner = [k for k, n in node["nodes"].items() if n["type"] == "Input"]
                assert len(inner) == 1
                self.sub[nid] = Executor(node, dt, reset, {inner[0]: in_shape})
            self.shape[nid] = output_shape(node, in_shape, self.sub.get(nid))
            if node["type"] in NEURONS:
                self.state[nid] = {"v": np.zeros(in_shape), "i": np.zeros(in_shape)}
            if node["type"] == "Delay":
                self.state[nid] = {"steps": delay_steps(node["delay"], dt), "past": []}
        for nid in nodes:  # every edge into a node, recurrent ones included, carries one shape
            assert len({self.shape[src] for src, _ in self.inputs[nid]}) <= 1, nid
        outs = [k for k, n in nodes.items() if n["type"] == "Output"]
        assert len(outs) == 1
        self.out_id = outs[0]
        self.out_shape = self.shape[self.out_id]
        self.prev = {nid: np.zeros(self.shape[nid]) for nid in nodes}
        self.trace = {}  # node path -> {"v": [...], "i": [...]}
        self.margin = math.inf
        self.spikes = {}  # node path -> list of 0/1 arrays

    def step(self, feed):
        nodes = self.g["nodes"]
        out = {}
        for nid in self.order:
            node = nodes[nid]
            if node["type"] == "Input":
                out[nid] = feed[nid]
                continue
            x = None
            for src, rec in self.inputs[nid]:  # several edges into one node: summed in file order
                val = self.prev[src] if rec else out[src]
                x = val.copy() if x is None else x + val
            out[nid] = self.node_step(nid, node, x)
        self.prev = out
        return out[self.out_id]

    def record(self, nid, name, value):
        self.trace.setdefault((nid,), {}).setdefault(name, []).append(value.copy())

    def spike(self, nid, v_pre, thr):
        z = v_pre > thr
        self.margin = min(self.margin, float(np.min(np.abs(v_pre - thr))))
        self.spikes.setdefault((nid,), []).append(z.astype(np.float64))
        return z

    def node_step(self, nid, node, x):
        t = node["type"]
        if t == "Output":
            return x
        if t == "Affine":
            return matvec(node["weight"], x) + node["bias"]
        if t == "Linear":
            return matvec(node["weight"], x)
        if t == "Scale":
            return node["scale"] * x
        if t == "Threshold":
            return self.spike(nid, x, node["threshold"]).astype(np.float64)
        if t == "Flatten":
            return x.reshape(self.shape[nid])
        if t in ("Conv1d", "Conv2d"):
            return conv(x, node)
        if t in ("SumPool2d", "AvgPool2d"):
            return pool(x, node, average=(t == "AvgPool2d"))
        if t == "Delay":
            st = self.state[nid]
            st["past"].append(x.copy())
            y = np.zeros(x.shape)
            for idx in np.ndindex(*x.shape):
                d = int(st["steps"][idx])
                if d < len(st["past"]):
                    y[idx] = st["past"][-1 - d][idx]
            return y
        if t == "NIRGraph":
            sub = self.sub[nid]
            inner = [k for k, n in node["nodes"].items() if n["type"] == "Input"][0]
            return sub.step({inner: x})
        if t in NEURONS:
            return self.neuron_step(nid, node, x)
        raise ValueError(f"unknown node type {t}")

    def neuron_step(self, nid, node, x):
        t, st, dt = node["type"], self.state[nid], self.dt
        v, r = st["v"], node["r"]
        if t in ("I", "IF"):
            v = v + dt * (r * x)
        elif t in ("LI", "LIF"):
            a = dt / node["tau"]
            v = v + a * ((node["v_leak"] - v) + r * x)
        else:  # CubaLI, CubaLIF
            a_syn, a_mem = dt / node["tau_syn"], dt / node["tau_mem"]
            w_in = node.get("w_in", np.ones_like(r))
            i_prev = st["i"]
            st["i"] = i_prev + a_syn * (w_in * x - i_prev)
            v = v + a_mem * ((node["v_leak"] - v) + r * i_prev)
            self.record(nid, "i", st["i"])
        if t in ("I", "LI", "CubaLI"):
            st["v"] = v
            self.record(nid, "v", v)
            return v.copy()
        thr = node["v_threshold"]
        z = self.spike(nid, v, thr)
        if self.reset == "subtract":
            v = v - z * thr
        else:
            v = np.where(z, node.get("v_reset", np.zeros_like(v)), v)
        st["v"] = v
        self.record(nid, "v", v)
        return z.astype(np.float64)

    def all_traces(self):
        """Traces and spikes of every neuron node, nested ones under their path."""
        traces, spikes, margin = dict(self.trace), dict(self.spikes), self.margin
        for nid, sub in self.sub.items():
            t, s, m = sub.all_traces()
            traces.update({(nid,) + p: v for p, v in t.items()})
            spikes.update({(nid,) + p: v for p, v in s.items()})
            margin = min(margin, m)
        return traces, spikes, margin


def run_reference(g, dt, reset, x):
    ins = [k for k, n in g["nodes"].items() if n["type"] == "Input"]
    assert len(ins) == 1
    ex = Executor(g, dt, reset)
    assert tuple(x.shape[1:]) == ex.shape[ins[0]]
    y = np.stack([ex.step({ins[0]: np.asarray(xt, dtype=np.float64)}) for xt in x])
    traces, spikes, margin = ex.all_traces()
    traces = {p: {k: np.stack(v) for k, v in d.items()} for p, d in traces.items()}
    spikes = {p: np.stack(v) for p, v in spikes.items()}
    return y, traces, spikes, margin


# ---------------------------------------------------------------------------------------------
# The fixtures
# ---------------------------------------------------------------------------------------------

def uniform(rng, lo, hi, shape):
    return lo + (hi - lo) * rng.random(shape)


def spikes_in(rng, p, shape):
    return (rng.random(shape) < p).astype(np.float32)


def currents_in(rng, lo, hi, shape):
    return uniform(rng, lo, hi, shape).astype(np.float32)


def chain(*named):
    """Input -> nodes in the given order -> Output; named = [(id, node), ...] including input/output."""
    nodes = dict(named)
    ids = [nid for nid, _ in named]
    return graph(nodes, [(a, b) for a, b in zip(ids, ids[1:])])


def dense(rng, n_out, n_in, lo, hi, dtype, bias=None):
    node = {"type": "Affine" if bias else "Linear", "weight": uniform(rng, lo, hi, (n_out, n_in)).astype(dtype)}
    if bias:
        node["bias"] = uniform(rng, bias[0], bias[1], (n_out,)).astype(dtype)
    return node


def single_node(node_id, node, in_shape, out_shape, x, what, dt=1e-3, reset="zero"):
    """Input -> one node -> Output."""
    g = chain(("input", io_node("Input", in_shape)), (node_id, node), ("output", io_node("Output", out_shape)))
    return dict(graph=g, dt=dt, x=x, what=what, reset=reset)


def fx_affine(rng):
    node = dense(rng, 4, 5, -1, 1, np.float32, (-0.5, 0.5))
    return single_node("affine", node, (5,), (4,), currents_in(rng, -1, 1, (20, 5)),
                       "`Affine` W·x + b (bias per output)")


def fx_linear(rng):
    node = dense(rng, 6, 5, -1, 1, np.float64)
    return single_node("linear", node, (5,), (6,), currents_in(rng, -1, 1, (20, 5)), "`Linear` W·x; float64 weight")


def fx_scale(rng):
    node = {"type": "Scale", "scale": uniform(rng, -2, 2, (6,)).astype(np.float32)}
    return single_node("scale", node, (6,), (6,), currents_in(rng, -1, 1, (20, 6)), "`Scale` s·x elementwise")


def fx_threshold(rng):
    node = {"type": "Threshold", "threshold": uniform(rng, -0.2, 0.5, (6,)).astype(np.float32)}
    return single_node("threshold", node, (6,), (6,), currents_in(rng, -1, 1, (30, 6)),
                       "`Threshold` (x > θ) as 0/1, θ per element")


def neuron_fixture(rng, node_id, node, n, T, dt, lo, hi, what, reset="zero"):
    return single_node(node_id, node, (n,), (n,), currents_in(rng, lo, hi, (T, n)), what, dt, reset)


def fx_i(rng):
    n = 4
    node = {"type": "I", "r": param(uniform(rng, 50, 150, n), n, np.float32)}
    return neuron_fixture(rng, "i", node, n, 20, 1e-3, -0.5, 1.0, "`I` integrator, output v")


def if_node(rng, n, v_reset):
    node = {"type": "IF", "r": param(uniform(rng, 200, 400, n), n, np.float32),
            "v_threshold": param(uniform(rng, 0.8, 1.2, n), n, np.float32)}
    if v_reset is not None:
        node["v_reset"] = param(v_reset, n, np.float32)
    return node


def fx_if(rng):
    n = 5
    return neuron_fixture(rng, "if", if_node(rng, n, None), n, 30, 1e-3, -0.5, 2.0,
                          "`IF` without a `v_reset` dataset (default 0)")


def fx_if_vreset(rng):
    n = 5
    return neuron_fixture(rng, "if", if_node(rng, n, [-0.3, 0.2, 0.0, 0.4, -0.1]), n, 30, 1e-3, -0.5, 2.0,
                          "`IF` with `v_reset` per neuron (negative, zero, positive)")


def fx_li(rng):
    n = 4
    node = {"type": "LI", "tau": param(uniform(rng, 5e-4, 2e-3, n), n, np.float64),
            "r": param(uniform(rng, 1, 3, n), n, np.float64),
            "v_leak": param(uniform(rng, -0.2, 0.3, n), n, np.float64)}
    return neuron_fixture(rng, "li", node, n, 30, 1e-4, -1.0, 1.5, "`LI` with v_leak ≠ 0, output v; float64")


def lif_node(rng, n, v_reset, dtype=np.float32):
    node = {"type": "LIF", "tau": param(uniform(rng, 3e-4, 1e-3, n), n, dtype),
            "r": param(uniform(rng, 1, 2, n), n, dtype),
            "v_leak": param(uniform(rng, -0.1, 0.2, n), n, dtype),
            "v_threshold": param(uniform(rng, 0.8, 1.2, n), n, dtype)}
    if v_reset is not None:
        node["v_reset"] = param(v_reset, n, dtype)
    return node


def fx_lif(rng):
    n = 6
    return neuron_fixture(rng, "lif", lif_node(rng, n, 0.0), n, 40, 1e-4, 0.0, 2.0,
                          "`LIF`, `v_reset` = 0 stored, v_leak ≠ 0")


def fx_lif_vreset(rng):
    n = 6
    return neuron_fixture(rng, "lif", lif_node(rng, n, uniform(rng, -0.4, 0.4, n)), n, 40, 1e-4, 0.0, 2.0,
                          "`LIF` with `v_reset` ≠ 0 per neuron")


def cuba_node(rng, n, spiking, dtype, v_reset=0.0):
    node = {"type": "CubaLIF" if spiking else "CubaLI",
            "tau_syn": param(uniform(rng, 2e-4, 5e-4, n), n, dtype),
            "tau_mem": param(uniform(rng, 5e-4, 2e-3, n), n, dtype),
            "r": param(uniform(rng, 1, 3, n), n, dtype),
            "v_leak": param(uniform(rng, -0.1, 0.1, n), n, dtype),
            "w_in": param(uniform(rng, 0.5, 2, n), n, dtype)}
    if spiking:
        node["v_threshold"] = param(uniform(rng, 0.8, 1.2, n), n, dtype)
        if v_reset is not None:
            node["v_reset"] = param(v_reset, n, dtype)
    return node


def fx_cubali(rng):
    n = 4
    return neuron_fixture(rng, "cubali", cuba_node(rng, n, False, np.float64), n, 30, 1e-4, -1.0, 2.0,
                          "`CubaLI` (current lags the voltage by one step), output v; float64")


def fx_cubalif(rng):
    n = 5
    return neuron_fixture(rng, "cubalif", cuba_node(rng, n, True, np.float64), n, 40, 1e-4, 0.0, 3.0,
                          "`CubaLIF`, reset to `v_reset` = 0 (stored); float64")


def fx_cubalif_subtract(rng):
    n = 5
    return neuron_fixture(rng, "cubalif", cuba_node(rng, n, True, np.float32, v_reset=None), n, 40, 1e-4,
                          0.0, 3.0, "`CubaLIF` reset by subtraction (the NIR paper's numpy reference); "
                          "no `v_reset` dataset", reset="subtract")


def conv_node(rng, cout, cin_g, kernel, stride, padding, dilation, groups, input_shape):
    w = uniform(rng, -1, 1, (cout, cin_g) + kernel).astype(np.float32)
    node = {"type": "Conv1d" if len(kernel) == 1 else "Conv2d", "weight": w,
            "bias": uniform(rng, -0.5, 0.5, (cout,)).astype(np.float32),
            "stride": stride, "padding": padding, "dilation": dilation, "groups": np.int64(groups)}
    if input_shape is not None:
        node["input_shape"] = input_shape
    return node


def fx_conv1d(rng):
    node = conv_node(rng, 4, 2, (3,), np.int64(2), np.int64(2), np.int64(2), 1, np.int64(10))
    return single_node("conv", node, (2, 10), (4, 5), spikes_in(rng, 0.3, (20, 2, 10)),
                       "`Conv1d` stride 2, padding 2, dilation 2 (scalar int64 datasets)")


def fx_conv2d(rng):
    node = conv_node(rng, 4, 2, (3, 3), ints(1, 1), ints(1, 1), ints(1, 1), 1, ints(6, 6))
    return single_node("conv", node, (2, 6, 6), (4, 6, 6), spikes_in(rng, 0.3, (20, 2, 6, 6)),
                       "`Conv2d` 3×3, padding 1")


def fx_conv2d_groups(rng):
    node = conv_node(rng, 6, 2, (3, 3), ints(2, 1), ints(1, 2), ints(1, 2), 2, ints(7, 7))
    return single_node("conv", node, (4, 7, 7), (6, 4, 7), spikes_in(rng, 0.3, (20, 4, 7, 7)),
                       "`Conv2d` groups 2, stride (2,1), padding (1,2), dilation (1,2): every per-dim "
                       "parameter differs between H and W")


def fx_sumpool2d(rng):
    node = {"type": "SumPool2d", "kernel_size": ints(2, 3), "stride": ints(2, 3), "padding": ints(0, 0)}
    return single_node("pool", node, (2, 6, 6), (2, 3, 2), spikes_in(rng, 0.3, (20, 2, 6, 6)),
                       "`SumPool2d` kernel (2,3), stride (2,3), no padding")


def fx_avgpool2d(rng):
    node = {"type": "AvgPool2d", "kernel_size": ints(3, 2), "stride": ints(2, 2), "padding": ints(1, 1)}
    return single_node("pool", node, (2, 6, 6), (2, 3, 4), spikes_in(rng, 0.3, (20, 2, 6, 6)),
                       "`AvgPool2d` kernel (3,2), stride 2, padding 1: padded zeros count in the mean")


def fx_flatten(rng):
    node = {"type": "Flatten", "start_dim": np.int64(1), "end_dim": np.int64(2), "input_type": ints(2, 3, 4, 2)}
    return single_node("flatten", node, (2, 3, 4, 2), (2, 12, 2), currents_in(rng, -1, 1, (20, 2, 3, 4, 2)),
                       "`Flatten` start_dim 1, end_dim 2 of the node's own [2,3,4,2] input → [2,12,2]")


def fx_delay(rng):
    node = {"type": "Delay", "delay": np.array([0.0, 1e-3, 2.4e-3, 2.6e-3, 5e-3], dtype=np.float32)}
    return single_node("delay", node, (5,), (5,), spikes_in(rng, 0.3, (20, 5)),
                       "`Delay` per element 0, 1, 2.4, 2.6, 5 ms at dt 1 ms → 0, 1, 2, 3, 5 steps")


def fx_recurrent_order(rng):
    n, T = 4, 40
    a, b = lif_node(rng, n, 0.0), lif_node(rng, n, 0.0)
    nodes = {"input": io_node("Input", (n,)), "a": a, "b": b, "output": io_node("Output", (n,))}
    edges = [("input", "b"), ("input", "a"), ("b", "a"), ("a", "b"), ("b", "output")]
    return dict(graph=graph(nodes, edges), dt=1e-4, x=currents_in(rng, 0.2, 1.8, (T, n)),
                what="two LIFs feeding each other: the DFS meets `b` first (edge order), so a→b is the "
                     "recurrent edge though `a` sorts first")


def fx_nested(rng):
    n_in, n_h, n_out, T = 6, 8, 3, 40
    hidden = graph({"input": io_node("Input", (n_h,)), "lif": lif_node(rng, n_h, 0.0),
                    "w_rec": dense(rng, n_h, n_h, -0.4, 0.4, np.float32), "output": io_node("Output", (n_h,))},
                   [("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    li = {"type": "LI", "tau": param(1e-3, n_out, np.float32), "r": param(1.0, n_out, np.float32),
          "v_leak": param(0.0, n_out, np.float32)}
    g = chain(("input", io_node("Input", (n_in,))), ("fc", dense(rng, n_h, n_in, -0.3, 1.5, np.float32, (0.0, 0.5))),
              ("hidden", hidden), ("readout", dense(rng, n_out, n_h, -1, 1, np.float32)), ("li", li),
              ("output", io_node("Output", (n_out,))))
    return dict(graph=g, dt=1e-4, x=spikes_in(rng, 0.3, (T, n_in)),
                what="a `NIRGraph` node `hidden` (own Input/Output, a recurrent LIF inside) between "
                     "Affine and Linear → LI; inner ids repeat the outer `input`/`output`")


def braille(rng, variant):
    """The NIR paper's Braille network, small: 12 → fc1 → CubaLIF 16 (+ recurrent w_rec) → fc2 →
    CubaLIF 4. Parameters in snnTorch's export style: tau_syn = dt/(1-alpha), w_in = 1/(1-alpha),
    tau_mem = dt/(1-beta), r = 1/(1-beta) (float64 neurons, float32 weights, as the paper's files)."""
    dt, n_in, n_h, n_out, T = 1e-4, 12, 16, 4, 50

    def cuba(n, alpha, beta):
        return {"type": "CubaLIF", "tau_syn": param(dt / (1 - alpha), n, np.float64),
                "tau_mem": param(dt / (1 - beta), n, np.float64), "r": param(1 / (1 - beta), n, np.float64),
                "v_leak": param(0.0, n, np.float64), "v_threshold": param(1.0, n, np.float64),
                "w_in": param(1 / (1 - alpha), n, np.float64)}

    bias = (-0.3, 0.3) if variant == "zero" else None
    fc1, fc2 = ((-0.3, 0.6), (-0.4, 0.5)) if variant == "zero" else ((-0.35, 0.5), (-0.5, 0.45))
    nodes = {"input": io_node("Input", (n_in,)), "fc1": dense(rng, n_h, n_in, *fc1, np.float32, bias),
             "lif1.lif": cuba(n_h, uniform(rng, 0.4, 0.7, n_h), uniform(rng, 0.8, 0.95, n_h)),
             "lif1.w_rec": dense(rng, n_h, n_h, -0.4, 0.3, np.float32, bias),
             "fc2": dense(rng, n_out, n_h, *fc2, np.float32, bias),
             "lif2": cuba(n_out, uniform(rng, 0.4, 0.7, n_out), uniform(rng, 0.8, 0.95, n_out)),
             "output": io_node("Output", (n_out,))}
    edges = [("input", "fc1"), ("fc1", "lif1.lif"), ("lif1.lif", "lif1.w_rec"), ("lif1.w_rec", "lif1.lif"),
             ("lif1.lif", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    if variant == "subtract":  # the paper's files list their edges in no particular order
        edges = [edges[k] for k in (3, 5, 2, 6, 0, 1, 4)]
    x = spikes_in(rng, 0.25, (T, n_in))
    kind = ("Affine (fc1, recurrent w_rec, fc2; biases), reset to 0 (no `v_reset` dataset)"
            if variant == "zero" else "Linear (fc1, recurrent w_rec, fc2), reset by subtraction, "
            "edges in shuffled order")
    return dict(graph=graph(nodes, edges), dt=dt, x=x, reset=variant,
                what=f"recurrent CubaLIF net after the NIR paper's Braille task, 12→16(rec)→4; {kind}; "
                     "dotted ids (`lif1.lif`) are plain ids")


def fx_braille_zero(rng):
    return braille(rng, "zero")


def fx_braille_subtract(rng):
    return braille(rng, "subtract")


def fx_v011(rng):
    T, dt = 40, 1e-4
    lif = lif_node(rng, 4, None)
    cuba = {k: v for k, v in cuba_node(rng, 3, True, np.float32, v_reset=None).items() if k != "w_in"}
    g = chain(("input", io_node("Input", (2, 3))),
              ("0", {"type": "Flatten", "start_dim": np.int64(0), "end_dim": np.int64(-1)}),
              ("1", dense(rng, 4, 6, -0.2, 1.2, np.float32, (0.0, 0.5))), ("2", lif),
              ("3", dense(rng, 3, 4, 0.0, 2.0, np.float32)), ("4", cuba), ("output", io_node("Output", (3,))))
    return dict(graph=g, dt=dt, x=spikes_in(rng, 0.5, (T, 2, 3)), version="0.1.1",
                what="version 0.1.1 as 0.1.x writers wrote it: Flatten without `input_type`, LIF "
                     "without `v_reset`, CubaLIF without `w_in` (default 1) or `v_reset`")


def fx_v011_conv(rng):
    T, dt = 30, 1.0
    node = conv_node(rng, 4, 2, (3, 3), ints(2, 2), ints(1, 1), ints(1, 1), 1, None)
    spiking = {"type": "IF", "r": param(1.0, (4, 3, 3), np.float32), "v_threshold": param(1.0, (4, 3, 3), np.float32)}
    g = chain(("input", io_node("Input", (2, 6, 6))), ("0", node), ("1", spiking),
              ("output", io_node("Output", (4, 3, 3))))
    return dict(graph=g, dt=dt, x=spikes_in(rng, 0.4, (T, 2, 6, 6)), version="0.1.1",
                what="version 0.1.1 Conv2d without `input_shape` (0.1.x writers had none) → IF [4,3,3] "
                     "(Sinabs style r = 1, θ = 1, dt = 1); nir 1.0.8's `nir.read` rejects it")


FIXTURES = [  # (name, builder, base seed)
    ("affine", fx_affine, 100), ("linear_f64", fx_linear, 200), ("scale", fx_scale, 300),
    ("threshold", fx_threshold, 400), ("i", fx_i, 500), ("if", fx_if, 600), ("if_vreset", fx_if_vreset, 700),
    ("li_f64", fx_li, 800), ("lif", fx_lif, 900), ("lif_vreset", fx_lif_vreset, 1000),
    ("cubali_f64", fx_cubali, 1100), ("cubalif_f64", fx_cubalif, 1200),
    ("cubalif_subtract", fx_cubalif_subtract, 1300), ("conv1d", fx_conv1d, 1400), ("conv2d", fx_conv2d, 1500),
    ("conv2d_groups", fx_conv2d_groups, 1600), ("sumpool2d", fx_sumpool2d, 1700),
    ("avgpool2d", fx_avgpool2d, 1800), ("flatten", fx_flatten, 1900), ("delay", fx_delay, 2000),
    ("recurrent_order", fx_recurrent_order, 2100), ("nested", fx_nested, 2200),
    ("braille_zero", fx_braille_zero, 2300), ("braille_subtract", fx_braille_subtract, 2400),
    ("v011", fx_v011, 2500), ("v011_conv", fx_v011_conv, 2600),
]


def accept(spikes, margin):
    for z in spikes.values():
        rate, fired = z.mean(), (z.reshape(len(z), -1).max(axis=0) > 0).mean()
        if not (MIN_RATE <= rate <= MAX_RATE and fired >= 0.5):
            return False
    return margin >= MIN_MARGIN


def param_dtypes(node):
    kinds = set()
    for key, value in node.items():
        if key == "nodes":
            for sub in value.values():
                kinds |= param_dtypes(sub)
        elif isinstance(value, np.ndarray) and value.dtype.kind == "f":
            kinds.add(str(value.dtype))
    return kinds


def make_fixture(out_dir, name, builder, base_seed):
    for seed in range(base_seed, base_seed + 100):
        fx = builder(np.random.default_rng(seed))
        path = os.path.join(out_dir, name + ".nir")
        write_nir(path, fx["graph"], fx.get("version", "0.2.0"))
        version, g = read_nir(path)
        y, traces, spikes, margin = run_reference(g, fx["dt"], fx.get("reset", "zero"), fx["x"])
        if accept(spikes, margin):
            break
    else:
        raise RuntimeError(f"{name}: no seed in {base_seed}..{base_seed + 99} passes the acceptance checks")
    np.save(os.path.join(out_dir, name + ".input.npy"), fx["x"])
    np.save(os.path.join(out_dir, name + ".expected.npy"), y)
    files = {"nir": name + ".nir", "input": name + ".input.npy", "expected": name + ".expected.npy",
             "traces": {}}
    for path_ids, tr in sorted(traces.items()):
        for var in ("v", "i"):
            if var in tr:
                fname = f"{name}.{'.'.join(path_ids)}.{var}.npy"
                np.save(os.path.join(out_dir, fname), tr[var])
                files["traces"]["/".join(path_ids) + ":" + var] = fname
    rates = {"/".join(p): float(z.mean()) for p, z in sorted(spikes.items())}
    is_spikes = bool(np.all((fx["x"] == 0) | (fx["x"] == 1)))
    return {"name": name, "seed": seed, "version": version, "dt": fx["dt"], "T": int(len(fx["x"])),
            "reset": fx.get("reset", "zero"), "what": fx["what"], "files": files,
            "input_shape": list(fx["x"].shape[1:]), "output_shape": list(y.shape[1:]),
            "input_kind": "spikes" if is_spikes else "currents",
            "input_rate": float(fx["x"].mean()) if is_spikes else None,
            "param_dtypes": sorted(param_dtypes(fx["graph"])), "rates": rates,
            "spike_margin": margin if spikes else None}


README_HEAD = """# NIR fixtures

Written by `scripts/make_nir_fixtures.py` (run `/usr/bin/python3 scripts/make_nir_fixtures.py`;
`--verify` regenerates into a temp folder and checks every file here is byte-identical). Do not edit
by hand. Licence: the project's own; every file is generated by that script (own random parameters,
fixed seeds); nothing is copied from NIR or any framework. `scripts/check_nir_fixtures.py` loads all
of them with NIR's reference reader (`nir.read`) and cross-checks the CubaLIF ones against the NIR
paper's numpy CubaLIF (see `scripts/README.md`).

Per fixture `<name>`:
- `<name>.nir`: the graph (HDF5, laid out as the real files in `../shared/data/nir/`: h5py defaults,
  no compression, variable-length UTF-8 strings for `version`, `type` and the `[E, 2]` `edges`,
  int64 for shapes/kernel sizes/strides/paddings/dilations/groups/dims, per-neuron parameter arrays).
- `<name>.input.npy`: float32 `[T, *input_shape]` (0/1 spikes, or currents for the single-node graphs).
- `<name>.expected.npy`: float64 `[T, *output_shape]`, the graph's Output at each step.
- `<name>.<node path>.v.npy` (and `.i.npy` for CubaLI/CubaLIF): float64 `[T, *shape]`, the neuron's
  state after step t (after any reset); a node inside a subgraph has the path `<subgraph>.<node>`.
- `manifest.json`: the same, machine-readable: per fixture dt (the exact float64 value used), reset
  mode, version, shapes, seed, the files (`traces` maps `<node path joined by "/">:<v|i>` to its
  file), the stored parameter dtypes, firing rates, spike margin.

## Fixtures
"""

README_TAIL = """
Firing rates: mean of the node's 0/1 output over all steps and neurons (input rate for spike inputs).
Spike margin: the smallest |v − v_threshold| (|x − θ| for Threshold) met at any spike decision; every
fixture keeps it ≥ 1e-6, so spikes do not depend on float rounding.

## How the expected outputs are computed

The script's own numpy reference, float64 throughout (parameters converted from their stored dtype,
inputs from float32); all state starts at 0.

Graph order. Each step t = 0..T−1 evaluates every node once, in a topological order of the graph with
its recurrent edges removed. An edge is recurrent if it is a back edge of a depth-first search that
starts from the Input nodes in sorted id order (Python string order, i.e. by Unicode code points),
then from any node not reached yet in sorted id order, and follows each node's out-edges in the order
the edges stand in the file's `edges` dataset; a back edge is one that reaches a node on the current
search path (a self-loop is one). A recurrent edge delivers its source's output of step t−1 (zeros at
t = 0, even where the source is an Affine with a bias). Several edges into one node are summed in
file order. The rule is applied to each graph level on its own.

Nested graphs (the convention of NIR's reference `nir/ir/graph.py`, and of the paper's
`braille_*_subgraph.nir`): an edge of the outer graph names the `NIRGraph` node itself
(`("fc", "hidden")`, `("hidden", "readout")`); the subgraph has exactly one Input and one Output node;
what the edges deliver to the subgraph node is the input of its Input node, and its Output node's value
is the subgraph node's output. Ids are local to their graph (the subgraph in `nested.nir` has its own
`input`/`output`). Dotted edge targets such as `"hidden.lif"`, described in NIR's `api_design.md`, are
not used: the reference's type checker and `validate_structure` treat every edge end as a plain id of
the same graph, and dots do occur in plain ids (`lif1.lif` in the paper's flat Braille files, here in
`braille_*.nir`).

Primitives (x = the node's summed input at step t):
- `Affine`: W·x + b; `Linear`: W·x. The sum for output i is accumulated as acc = 0, acc = acc +
  W[i, j]·x[j] for j ascending; the bias is added last.
- `Scale`: s·x; `Threshold`: (x > θ) as 0/1.
- `Flatten`: reshape (row-major) of the node's own input; start_dim/end_dim count the node's input dims
  (no batch or time dim), negative from the end.
- `Conv1d`/`Conv2d`: PyTorch cross-correlation with zero padding, stride, dilation, groups (output
  channel o uses input channel group o // (C_out / groups)). Per output element acc = 0, then acc +
  w·x over the group's input channels ascending, for each channel over the kernel taps in row-major
  order; bias added last. Output size floor((n + 2p − d(k − 1) − 1)/s) + 1 per spatial dim.
- `SumPool2d`: window sum with zero padding (acc = 0, taps row-major); `AvgPool2d`: that sum divided by
  the kernel area (PyTorch count_include_pad=True).
- `Delay`: d = round(delay/dt) steps per element (delay/dt in float64, halves away from zero as C's
  `lround`; no fixture has a delay/dt within 1e-6 of a half), output x[t − d], 0 for t < d.
- Neurons, with a = dt/tau (a_syn = dt/tau_syn, a_mem = dt/tau_mem), evaluated in exactly this order:
  - `I`: v = v + dt·(r·x); output v.
  - `IF`: v = v + dt·(r·x); z = v > v_threshold; reset; output z.
  - `LI`: v = v + a·((v_leak − v) + r·x); output v.
  - `LIF`: as LI, then z = v > v_threshold; reset; output z.
  - `CubaLI`: i_prev = i; i = i + a_syn·(w_in·x − i); v = v + a_mem·((v_leak − v) + r·i_prev); output v.
  - `CubaLIF`: as CubaLI, then z = v > v_threshold; reset; output z.
  - Reset: `zero` = NIR's definition, where z: v = v_reset (0 where the file has no `v_reset`);
    `subtract` = v = v − z·v_threshold (the NIR paper's numpy CubaLIF; snnTorch's
    reset_mechanism="subtract"). NIR files carry no reset mode: it is in the table and in the file
    name (`*_subtract.nir`). `w_in` defaults to 1 where absent.

Every elementwise operation is one IEEE double operation, so a C++ double implementation that keeps
these orders (and does not contract a·b + c into an FMA, e.g. `-ffp-contract=off`) reproduces the
expected files bit for bit; otherwise compare with a small tolerance (1e-12 relative is ample) and
spikes exactly.

The spike inputs are Bernoulli trains, the currents uniform, drawn from numpy's `default_rng(seed)`
with the seed in `manifest.json`.
"""


def fmt_shape(s):
    return "[" + ",".join(str(int(v)) for v in s) + "]"


def write_readme(out_dir, report):
    rows = ["| file | exercises | version | input → output | T | dt (s) | reset | stored params | firing rates |",
            "|---|---|---|---|---|---|---|---|---|"]
    for r in report:
        rates = [f"in {r['input_rate']:.2f}"] if r["input_rate"] is not None else []
        rates += [f"{k} {v:.2f}" for k, v in r["rates"].items()]
        rows.append(f"| `{r['files']['nir']}` | {r['what']} | {r['version']} | {fmt_shape(r['input_shape'])} "
                    f"{r['input_kind']} → {fmt_shape(r['output_shape'])} | {r['T']} | {r['dt']:g} | "
                    f"{r['reset']} | {', '.join(r['param_dtypes']) or '—'} | {', '.join(rates) or '—'} |")
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(README_HEAD + "\n".join(rows) + "\n" + README_TAIL)


def make_all(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    report = [make_fixture(out_dir, name, builder, seed) for name, builder, seed in FIXTURES]
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump({"generator": "scripts/make_nir_fixtures.py", "fixtures": report}, f, indent=1)
        f.write("\n")
    write_readme(out_dir, report)
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    ap.add_argument("--verify", action="store_true",
                    help="regenerate into a temp folder and check the files in --out are byte-identical")
    args = ap.parse_args()
    if args.verify:
        return make_fixtures.verify_regenerated(make_all, args.out, "spiketile_nir_fixtures_",
                                                every_file_generated=True)

    report = make_all(args.out)
    print(f"{'fixture':18s} {'seed':>5s} {'T':>3s} {'dt':>7s} {'reset':>8s} {'margin':>8s}  input -> output; rates")
    for r in report:
        rates = " ".join(f"{k}={v:.2f}" for k, v in r["rates"].items())
        inp = f"in={r['input_rate']:.2f} " if r["input_rate"] is not None else ""
        margin = f"{r['spike_margin']:.1e}" if r["spike_margin"] is not None else "-"
        print(f"{r['name']:18s} {r['seed']:5d} {r['T']:3d} {r['dt']:7g} {r['reset']:>8s} {margin:>8s}  "
              f"{fmt_shape(r['input_shape'])} -> {fmt_shape(r['output_shape'])}; {inp}{rates}")
    total = sum(os.path.getsize(os.path.join(args.out, n)) for n in os.listdir(args.out))
    print(f"\n{len(os.listdir(args.out))} files, {total / 1024:.1f} KiB in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
