#include "models/nir/nir_reference.hpp"
#include "models/nir/nir_window.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace spiketile::nir {

namespace {

bool needs_time_step(Op op) {
  return op == Op::I || op == Op::IF || op == Op::LI || op == Op::LIF || op == Op::CubaLI || op == Op::CubaLIF ||
         op == Op::Delay;
}

// out = the window's sum over its taps (weights, or 1 for pooling), accumulated in tap order.
void apply_window(const Node& n, const std::vector<double>& in, std::vector<double>& out) {
  std::fill(out.begin(), out.end(), 0.0);
  const std::vector<double>* weight = n.has("weight") ? &n.values("weight") : nullptr;
  for_each_window_tap(n, [&](int64_t o, int64_t i, int64_t w) {
    out[std::size_t(o)] += w < 0 ? in[std::size_t(i)] : (*weight)[std::size_t(w)] * in[std::size_t(i)];
  });
}

}  // namespace

void parse_reset_option(const std::string& text, const Graph& graph, ReferenceOptions& options) {
  auto mode_of = [&](const std::string& word) {
    if (word == "subtract") return ResetMode::Subtract;
    if (word == "value" || word == "to-value" || word == "zero") return ResetMode::ToValue;
    throw std::invalid_argument(fmt::format("--reset: unknown mode '{}'; expected 'value' (v <- v_reset, NIR's "
                                            "definition) or 'subtract' (v <- v - v_threshold)",
                                            word));
  };
  std::stringstream list(text);
  std::string item;
  while (std::getline(list, item, ',')) {
    const auto eq = item.rfind('=');
    if (eq == std::string::npos) {
      options.reset = mode_of(item);
      continue;
    }
    const std::string id = item.substr(0, eq);
    const int n = graph.find(id);
    if (n < 0 || !primitive(graph.nodes[std::size_t(n)].op).spiking || graph.nodes[std::size_t(n)].op == Op::Threshold) {
      std::vector<std::string> spiking;
      for (const auto& node : graph.nodes)
        if (primitive(node.op).neuron && primitive(node.op).spiking) spiking.push_back(node.id);
      throw std::invalid_argument(fmt::format("--reset: '{}' is not a spiking neuron node of {}; its spiking neurons: {}", id,
                                              graph.path, spiking.empty() ? "none" : fmt::format("{}", fmt::join(spiking, ", "))));
    }
    options.reset_of[id] = mode_of(item.substr(eq + 1));
  }
}

ReferenceExecutor::ReferenceExecutor(const Graph& graph, ReferenceOptions options)
    : graph_(graph), options_(std::move(options)) {
  for (const Node& n : graph_.nodes)
    if (needs_time_step(n.op) && !(options_.dt > 0) )
      throw std::invalid_argument(fmt::format("node '{}' ({}) needs a time step: give --dt in seconds (e.g. 1e-4, the "
                                              "NIR paper's)",
                                              n.id, primitive(n.op).type));
  const std::size_t count = graph_.nodes.size();
  out_.resize(count);
  previous_out_.resize(count);
  in_.resize(count);
  v_.resize(count);
  i_.resize(count);
  delay_line_.resize(count);
  delay_steps_.resize(count);
  for (std::size_t k = 0; k < count; ++k) {
    const Node& n = graph_.nodes[k];
    if (n.op != Op::Delay) continue;
    int64_t longest = 0;
    for (std::size_t e = 0; e < std::size_t(element_count(n.output_shape)); ++e) {
      const double d = param(int(k), "delay", e);
      const double steps = std::round(d / options_.dt);
      if (steps > 1e6)
        throw std::invalid_argument(fmt::format("node '{}' (Delay): delay {} s is {} steps of {} s; at most 1e6 are kept",
                                                n.id, d, steps, options_.dt));
      delay_steps_[k].push_back(int64_t(steps));
      longest = std::max(longest, int64_t(steps));
    }
    delay_line_[k].assign(std::size_t(longest + 1), std::vector<double>(std::size_t(element_count(n.output_shape)), 0.0));
  }
  reset();
}

void ReferenceExecutor::reset() {
  for (std::size_t k = 0; k < graph_.nodes.size(); ++k) {
    const Node& n = graph_.nodes[k];
    const std::size_t size = std::size_t(element_count(n.output_shape));
    out_[k].assign(size, 0.0);
    previous_out_[k].assign(size, 0.0);
    const bool neuron = primitive(n.op).neuron && n.op != Op::Delay;
    v_[k].assign(neuron ? size : 0, 0.0);
    i_[k].assign(n.op == Op::CubaLI || n.op == Op::CubaLIF ? size : 0, 0.0);
    for (auto& slot : delay_line_[k]) std::fill(slot.begin(), slot.end(), 0.0);
  }
  spikes_.assign(graph_.nodes.size(), 0);
  steps_ = 0;
}

ResetMode ReferenceExecutor::reset_mode(int n) const {
  const auto it = options_.reset_of.find(graph_.nodes[std::size_t(n)].id);
  return it != options_.reset_of.end() ? it->second : options_.reset;
}

double ReferenceExecutor::param(int n, const char* name, std::size_t i, double fallback) const {
  const Node& node = graph_.nodes[std::size_t(n)];
  if (!node.has(name)) return fallback;
  const auto& values = node.values(name);
  return values.size() == 1 ? values[0] : values[i];
}

std::vector<std::vector<double>> ReferenceExecutor::step(const std::vector<std::vector<double>>& inputs) {
  if (inputs.size() != graph_.inputs.size())
    throw std::invalid_argument(fmt::format("{} inputs given; the graph has {}", inputs.size(), graph_.inputs.size()));
  for (std::size_t k = 0; k < graph_.nodes.size(); ++k) previous_out_[k] = out_[k];
  for (const int n : graph_.order) {
    const Node& node = graph_.nodes[std::size_t(n)];
    std::vector<double> x(std::size_t(element_count(node.input_shape)), 0.0);
    const auto input_slot = std::find(graph_.inputs.begin(), graph_.inputs.end(), n);
    if (input_slot != graph_.inputs.end()) {
      const auto& given = inputs[std::size_t(input_slot - graph_.inputs.begin())];
      if (given.size() != x.size())
        throw std::invalid_argument(fmt::format("input '{}' takes {} values per step; {} given", node.id, x.size(), given.size()));
      x = given;
    }
    for (const Edge& e : graph_.edges) {
      if (e.to != n) continue;
      const auto& src = e.recurrent ? previous_out_[std::size_t(e.from)] : out_[std::size_t(e.from)];
      for (std::size_t j = 0; j < x.size(); ++j) x[j] += src[j];
    }
    evaluate(n, x);
    in_[std::size_t(n)] = std::move(x);
  }
  ++steps_;
  std::vector<std::vector<double>> result;
  for (const int o : graph_.outputs) result.push_back(out_[std::size_t(o)]);
  return result;
}

void ReferenceExecutor::evaluate(int n, const std::vector<double>& x) {
  const Node& node = graph_.nodes[std::size_t(n)];
  auto& out = out_[std::size_t(n)];
  auto& v = v_[std::size_t(n)];
  auto& cur = i_[std::size_t(n)];
  const double dt = options_.dt;
  const std::size_t size = out.size();
  // Spike, then reset, as every spiking primitive of NIR does it.
  auto fire = [&](std::size_t j) {
    const double theta = param(n, "v_threshold", j);
    const bool spike = options_.fire_at_threshold ? v[j] >= theta : v[j] > theta;
    if (spike) {
      v[j] = reset_mode(n) == ResetMode::Subtract ? v[j] - theta : param(n, "v_reset", j, 0.0);
      ++spikes_[std::size_t(n)];
    }
    out[j] = spike ? 1.0 : 0.0;
  };
  switch (node.op) {
    case Op::Input:
    case Op::Output:
    case Op::Flatten: out = x; break;
    case Op::Affine:
    case Op::Linear: {
      const auto& w = node.values("weight");
      const std::size_t in = x.size();
      for (std::size_t o = 0; o < size; ++o) {
        double acc = 0;
        for (std::size_t j = 0; j < in; ++j) acc += w[o * in + j] * x[j];
        out[o] = node.op == Op::Affine ? acc + node.values("bias")[o] : acc;
      }
      break;
    }
    case Op::Scale:
      for (std::size_t j = 0; j < size; ++j) out[j] = param(n, "scale", j) * x[j];
      break;
    case Op::Threshold:
      for (std::size_t j = 0; j < size; ++j) {
        out[j] = x[j] > param(n, "threshold", j) ? 1.0 : 0.0;
        spikes_[std::size_t(n)] += int64_t(out[j]);
      }
      break;
    case Op::I:
      for (std::size_t j = 0; j < size; ++j) out[j] = v[j] = v[j] + dt * (param(n, "r", j) * x[j]);
      break;
    case Op::IF:
      for (std::size_t j = 0; j < size; ++j) {
        v[j] = v[j] + dt * (param(n, "r", j) * x[j]);
        fire(j);
      }
      break;
    case Op::LI:
    case Op::LIF:
      for (std::size_t j = 0; j < size; ++j) {
        const double a = dt / param(n, "tau", j);
        v[j] = v[j] + a * ((param(n, "v_leak", j) - v[j]) + param(n, "r", j) * x[j]);
        if (node.op == Op::LIF) fire(j);
        else out[j] = v[j];
      }
      break;
    case Op::CubaLI:
    case Op::CubaLIF:
      for (std::size_t j = 0; j < size; ++j) {
        const double i_prev = cur[j];
        cur[j] = cur[j] + (dt / param(n, "tau_syn", j)) * (param(n, "w_in", j, 1.0) * x[j] - cur[j]);
        v[j] = v[j] + (dt / param(n, "tau_mem", j)) * ((param(n, "v_leak", j) - v[j]) + param(n, "r", j) * i_prev);
        if (node.op == Op::CubaLIF) fire(j);
        else out[j] = v[j];
      }
      break;
    case Op::Conv1d:
    case Op::Conv2d: {
      apply_window(node, x, out);
      const auto& bias = node.values("bias");
      const int64_t per_channel = int64_t(size) / node.output_shape[0];
      for (std::size_t j = 0; j < size; ++j) out[j] += bias.size() == 1 ? bias[0] : bias[j / std::size_t(per_channel)];
      break;
    }
    case Op::SumPool2d:
    case Op::AvgPool2d:
      apply_window(node, x, out);
      if (node.op == Op::AvgPool2d) {
        const double area = double(node.window.kernel[0] * node.window.kernel[1]);
        for (double& value : out) value /= area;
      }
      break;
    case Op::Delay: {
      auto& line = delay_line_[std::size_t(n)];
      const std::size_t slots = line.size();
      const std::size_t now = std::size_t(steps_) % slots;
      line[now] = x;
      for (std::size_t j = 0; j < size; ++j) {
        const int64_t d = delay_steps_[std::size_t(n)][j];
        out[j] = d > steps_ ? 0.0 : line[(now + slots - std::size_t(d)) % slots][j];
      }
      break;
    }
  }
}

ReferenceRun run_reference(const Graph& graph, const ReferenceOptions& options, const Shape& input_shape,
                           const std::vector<double>& input) {
  if (graph.inputs.size() != 1 || graph.outputs.size() != 1)
    throw std::invalid_argument(fmt::format("{} has {} Input and {} Output nodes; a run feeds one input and reads one output",
                                            graph.path, graph.inputs.size(), graph.outputs.size()));
  const Node& in = graph.nodes[std::size_t(graph.inputs[0])];
  const Node& out = graph.nodes[std::size_t(graph.outputs[0])];
  const int64_t per_step = element_count(in.output_shape);
  if (input_shape.empty() || element_count(Shape(input_shape.begin() + 1, input_shape.end())) != per_step)
    throw std::invalid_argument(fmt::format("the input has shape {}; expected [T, {}] for input '{}' {} (T time steps)",
                                            shape_str(input_shape), fmt::join(in.output_shape, ", "), in.id,
                                            shape_str(in.output_shape)));
  ReferenceExecutor executor(graph, options);
  ReferenceRun run;
  run.steps = input_shape[0];
  run.shape = {run.steps};
  run.shape.insert(run.shape.end(), out.input_shape.begin(), out.input_shape.end());
  run.output.reserve(std::size_t(run.steps * element_count(out.input_shape)));
  for (int64_t t = 0; t < run.steps; ++t) {
    std::vector<double> x(input.begin() + t * per_step, input.begin() + (t + 1) * per_step);
    const auto y = executor.step({x});
    run.output.insert(run.output.end(), y[0].begin(), y[0].end());
  }
  for (std::size_t k = 0; k < graph.nodes.size(); ++k) run.spikes_per_node.push_back(executor.spike_count(int(k)));
  return run;
}

}  // namespace spiketile::nir
