#include "compiler/graph.hpp"

#include <fmt/format.h>

#include <functional>

namespace spiketile::ir {

const char* unit_name(Unit u) {
  switch (u) {
    case Unit::Host: return "host";
    case Unit::Crossbar: return "crossbar";
    case Unit::NeuronUnit: return "neuron-unit";
    case Unit::Sfu: return "sfu";
  }
  return "?";
}

const char* encoding_name(Encoding e) {
  switch (e) {
    case Encoding::Binary: return "binary";
    case Encoding::Graded: return "graded";
    case Encoding::BitSerial: return "bit-serial";
    case Encoding::Wide: return "wide";
  }
  return "?";
}

std::string Format::str() const { return fmt::format("{}{}", is_signed ? "i" : "u", bits) + (meaning.empty() ? "" : " " + meaning); }

Encoding EncodingRule::choose(const Tensor& t) const {
  if (t.format.bits == 1) return Encoding::Binary;
  if (!t.feeds_crossbar) return Encoding::Wide;
  return t.format.bits <= graded_payload_bits ? Encoding::Graded : Encoding::BitSerial;
}

std::string EncodingRule::describe() const {
  return fmt::format(
      "1-bit tensors travel as binary spikes; multi-bit crossbar inputs as graded events when they fit the "
      "{}-bit payload, else bit-serial; other values (accumulators, currents, WKV operands) as wide words",
      graded_payload_bits);
}

namespace {
class Builder {
 public:
  Builder(const QuantizedSpikeGpt& m, const EncodingRule& rule) : m_(m) {
    g_.config = m.config;
    g_.encoding_rule = rule;
  }

  int tensor(const std::string& name, int64_t size, Format f) {
    Tensor t;
    t.id = int(g_.tensors.size());
    t.name = name;
    t.size = size;
    t.format = std::move(f);
    g_.tensors.push_back(t);
    return t.id;
  }

  Node& node(Op op, int layer, Unit unit, std::vector<int> in, std::vector<int> out, std::string rule) {
    Node n;
    n.id = int(g_.nodes.size());
    n.op = op;
    n.layer = layer;
    n.unit = unit;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    n.rule = std::move(rule);
    g_.nodes.push_back(n);
    return g_.nodes.back();
  }

  Node& crossbar(Op op, int layer, int in, int out, const QuantizedSpikeGpt::Linear& lin) {
    g_.tensors[in].feeds_crossbar = true;
    Node& n = node(op, layer, Unit::Crossbar, {in}, {out}, "§4.3 crossbar + per-row requantization");
    n.weight_rows = lin.w.rows;
    n.weight_cols = lin.w.cols;
    n.weight_bits = lin.w.bits;
    return n;
  }

  Graph build() {
    const int C = m_.config.n_embd, A = m_.options.activation_bits, M = m_.options.membrane_bits;
    const Format residual{32, true, "Q.12"}, act{A, true, "calibrated"}, spike{1, false, "spike"},
        current{M, true, "Q.8 current"}, sig{9, false, "Q0.8 sigmoid"};
    // A spike-input variant's projection inputs are spike counts of T steps (§4.10).
    const int T = m_.config.spike_input_steps;
    const Format spike_count{q::spike_count_bits(T), false, fmt::format("spike count of {} step{}", T, T == 1 ? "" : "s")};
    const Format mixed = T ? spike_count : act;
    int e = tensor("embedding", C, m_.binary_embedding ? spike : residual);
    node(Op::Embedding, -1, Unit::Host, {}, {e}, m_.binary_embedding ? "binary embedding row" : "embedding row, Q.12");
    int x = tensor("x0", C, residual);
    node(Op::Ln0, -1, Unit::Sfu, {e}, {x}, "§4.1 integer LayerNorm");
    for (int i = 0; i < m_.config.n_layer; ++i) {
      const auto& l = m_.layers[i];
      auto nm = [&](const char* s) { return fmt::format("L{}.{}", i, s); };
      const int z = tensor(nm("att.z"), C, act);
      node(Op::Ln1, i, Unit::Sfu, {x}, {z}, "§4.1 integer LayerNorm");
      const int xk = tensor(nm("att.xk"), C, mixed), xv = tensor(nm("att.xv"), C, mixed), xr = tensor(nm("att.xr"), C, mixed);
      node(Op::AttShift, i, Unit::NeuronUnit, {z}, {xk, xv, xr}, T ? "§4.2 token shift, §4.10 spike function" : "§4.2 token shift").state = {{nm("att.shift.prev"), C, A}};
      const int r = tensor(nm("att.r"), C, sig);
      crossbar(Op::AttReceptance, i, xr, r, l.att_receptance);
      const int k = tensor(nm("att.k"), C, Format{24, true, "log2 Q.8"});
      crossbar(Op::AttKey, i, xk, k, l.att_key);
      const int v = tensor(nm("att.v"), C, Format{16, true, "calibrated"});
      crossbar(Op::AttValue, i, xv, v, l.att_value);
      const int wkv = tensor(nm("att.wkv"), C, Format{16, true, "v units"});
      node(Op::AttWkv, i, Unit::Sfu, {k, v}, {wkv}, "§4.5 fixed-point WKV").state = {
          {nm("att.wkv.a"), C, 64}, {nm("att.wkv.b"), C, 64}, {nm("att.wkv.p"), C, 32}};
      const int y = tensor(nm("att.y"), C, T ? spike_count : act);
      node(Op::AttGate, i, Unit::Sfu, {r, wkv}, {y}, T ? "§4.7 r·wkv, §4.10 spike function" : "§4.7 r·wkv requantized");
      const int cur = tensor(nm("att.current"), C, current);
      crossbar(Op::AttOutput, i, y, cur, l.att_output);
      const int s = tensor(nm("att.spikes"), C, spike);
      node(Op::AttLif, i, Unit::NeuronUnit, {cur}, {s}, "§4.8 LIF").state = {{nm("att.membrane"), C, M}};
      const int x1 = tensor(nm("x.att"), C, residual);
      node(Op::AttResidual, i, Unit::NeuronUnit, {x, s}, {x1}, "§4.9 residual add");
      x = x1;

      const int z2 = tensor(nm("ffn.z"), C, act);
      node(Op::Ln2, i, Unit::Sfu, {x}, {z2}, "§4.1 integer LayerNorm");
      const int fk = tensor(nm("ffn.xk"), C, mixed), fr = tensor(nm("ffn.xr"), C, mixed);
      node(Op::FfnShift, i, Unit::NeuronUnit, {z2}, {fk, fr}, T ? "§4.2 token shift, §4.10 spike function" : "§4.2 token shift").state = {{nm("ffn.shift.prev"), C, A}};
      const int rr = tensor(nm("ffn.r"), C, sig);
      crossbar(Op::FfnReceptance, i, fr, rr, l.ffn_receptance);
      const int key = tensor(nm("ffn.key"), 4 * C, Format{16, true, "calibrated"});
      crossbar(Op::FfnKey, i, fk, key, l.ffn_key);
      const int h = tensor(nm("ffn.h"), 4 * C, T ? spike_count : Format{A, false, "calibrated, sparse"});
      node(Op::FfnRelu2, i, Unit::NeuronUnit, {key}, {h}, T ? "§4.6 ReLU², §4.10 spike function" : "§4.6 ReLU²");
      const int acc = tensor(nm("ffn.acc"), C, Format{32, true, "accumulator"});
      crossbar(Op::FfnValue, i, h, acc, l.ffn_value);
      const int cur2 = tensor(nm("ffn.current"), C, current);
      node(Op::FfnGate, i, Unit::NeuronUnit, {rr, acc}, {cur2}, "§4.7 r·acc requantized");
      const int s2 = tensor(nm("ffn.spikes"), C, spike);
      node(Op::FfnLif, i, Unit::NeuronUnit, {cur2}, {s2}, "§4.8 LIF").state = {{nm("ffn.membrane"), C, M}};
      const int x2 = tensor(nm("x.ffn"), C, residual);
      node(Op::FfnResidual, i, Unit::NeuronUnit, {x, s2}, {x2}, "§4.9 residual add");
      x = x2;
      if (m_.rescale_every_6_layers && (i + 1) % 6 == 0) {
        const int x3 = tensor(nm("x.rescaled"), C, residual);
        node(Op::Rescale, i, Unit::NeuronUnit, {x}, {x3}, "§4.9 x >> 1 (upstream rescale)");
        x = x3;
      }
    }
    const int zo = tensor("out.z", C, act);
    node(Op::LnOut, -1, Unit::Sfu, {x}, {zo}, "§4.1 integer LayerNorm");
    const int logits = tensor("logits", m_.config.vocab_size, Format{32, true, "accumulator"});
    crossbar(Op::Head, -1, zo, logits, m_.head);
    for (auto& t : g_.tensors) t.encoding = g_.encoding_rule.choose(t);
    return std::move(g_);
  }

 private:
  const QuantizedSpikeGpt& m_;
  Graph g_;
};
}  // namespace

Graph build_token_graph(const QuantizedSpikeGpt& model, const EncodingRule& rule) { return Builder(model, rule).build(); }

std::string Graph::to_text() const {
  std::string out = fmt::format("graph: SpikeGPT token step, n_layer={} n_embd={} vocab={}\n", config.n_layer,
                                config.n_embd, config.vocab_size);
  out += fmt::format("encoding rule: {}\n\n", encoding_rule.describe());
  auto tensor_list = [&](const std::vector<int>& ids) {
    std::vector<std::string> parts;
    for (int id : ids) {
      const Tensor& t = tensors[id];
      parts.push_back(fmt::format("%{}[{}] {} ({})", t.name, t.size, t.format.str(), encoding_name(t.encoding)));
    }
    return fmt::format("{}", fmt::join(parts, ", "));
  };
  for (const Node& n : nodes) {
    out += fmt::format("{:>4}  {:<16} {:<11}", n.id, op_name(n.op) + (n.layer >= 0 ? fmt::format("@{}", n.layer) : ""),
                       unit_name(n.unit));
    if (n.weight_rows) out += fmt::format(" W[{}x{}] i{}", n.weight_rows, n.weight_cols, n.weight_bits);
    out += fmt::format("\n      in:  {}\n      out: {}\n", n.inputs.empty() ? "-" : tensor_list(n.inputs),
                       tensor_list(n.outputs));
    for (const State& s : n.state) out += fmt::format("      state: {}[{}] {} bits\n", s.name, s.size, s.bits);
    out += fmt::format("      rule: {}\n", n.rule);
  }
  return out;
}

}  // namespace spiketile::ir
