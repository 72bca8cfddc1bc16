#include "models/nir/nir_integer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>

#include "models/nir/nir_window.hpp"

namespace spiketile::nir {

int64_t Projection::synapses() const {
  int64_t n = 0;
  for (const auto& row : rows) n += int64_t(row.size());
  return n;
}

namespace {

using FloatRow = std::vector<std::pair<int64_t, double>>;  // (source index, weight), sorted by index

bool is_population(Op op) {
  return op == Op::I || op == Op::IF || op == Op::LI || op == Op::LIF || op == Op::CubaLI || op == Op::CubaLIF ||
         op == Op::Threshold;
}
bool is_linear(Op op) {
  return op == Op::Affine || op == Op::Linear || op == Op::Scale || op == Op::Flatten || op == Op::Conv1d ||
         op == Op::Conv2d || op == Op::SumPool2d || op == Op::AvgPool2d;
}
bool spiking(Op op) { return op == Op::IF || op == Op::LIF || op == Op::CubaLIF || op == Op::Threshold; }
bool has_current(Op op) { return op == Op::CubaLI || op == Op::CubaLIF; }

double param_at(const Node& n, const char* name, int64_t i, double fallback) {
  if (!n.has(name)) return fallback;
  const auto& v = n.values(name);
  return v.size() == 1 ? v[0] : v[std::size_t(i)];
}

// The linear node's own matrix (output element -> its inputs and weights), without bias.
std::vector<FloatRow> node_matrix(const Node& n) {
  const int64_t out = element_count(n.output_shape), in = element_count(n.input_shape);
  std::vector<FloatRow> rows(static_cast<std::size_t>(out));
  switch (n.op) {
    case Op::Affine:
    case Op::Linear: {
      const auto& w = n.values("weight");
      for (int64_t o = 0; o < out; ++o)
        for (int64_t i = 0; i < in; ++i)
          if (w[std::size_t(o * in + i)] != 0.0) rows[std::size_t(o)].emplace_back(i, w[std::size_t(o * in + i)]);
      break;
    }
    case Op::Scale:
      for (int64_t o = 0; o < out; ++o) rows[std::size_t(o)].emplace_back(o, param_at(n, "scale", o, 1.0));
      break;
    case Op::Conv1d:
    case Op::Conv2d:
    case Op::SumPool2d:
    case Op::AvgPool2d: {
      const double pool_weight =
          n.op == Op::AvgPool2d ? 1.0 / double(n.window.kernel[0] * n.window.kernel[1]) : 1.0;
      const std::vector<double>* w = n.has("weight") ? &n.values("weight") : nullptr;
      for_each_window_tap(n, [&](int64_t o, int64_t i, int64_t k) {
        rows[std::size_t(o)].emplace_back(i, k < 0 ? pool_weight : (*w)[std::size_t(k)]);
      });
      break;
    }
    default:  // Flatten and pass-through Input/Output: identity
      for (int64_t o = 0; o < out; ++o) rows[std::size_t(o)].emplace_back(o, 1.0);
  }
  return rows;
}

std::vector<double> node_bias(const Node& n) {
  const int64_t out = element_count(n.output_shape);
  std::vector<double> b(std::size_t(out), 0.0);
  if ((n.op == Op::Affine || n.op == Op::Conv1d || n.op == Op::Conv2d) && n.has("bias")) {
    const auto& bias = n.values("bias");
    const int64_t per_channel = n.op == Op::Affine ? 1 : out / n.output_shape[0];
    for (int64_t o = 0; o < out; ++o) b[std::size_t(o)] = bias.size() == 1 ? bias[0] : bias[std::size_t(o / per_channel)];
  }
  return b;
}

// rows_out[o] = Σ w · rows_in[i] over the node's matrix: the path's map extended by one node.
std::vector<FloatRow> compose(const std::vector<FloatRow>& node, const std::vector<FloatRow>& in, int64_t sources) {
  std::vector<FloatRow> out(node.size());
  std::vector<double> dense(std::size_t(sources), 0.0);
  std::vector<int64_t> touched;
  std::vector<char> seen(std::size_t(sources), 0);
  for (std::size_t o = 0; o < node.size(); ++o) {
    touched.clear();
    for (const auto& [i, w] : node[o])
      for (const auto& [s, v] : in[std::size_t(i)]) {
        if (!seen[std::size_t(s)]) seen[std::size_t(s)] = 1, touched.push_back(s);
        dense[std::size_t(s)] += w * v;
      }
    std::sort(touched.begin(), touched.end());
    for (int64_t s : touched) {
      if (dense[std::size_t(s)] != 0.0) out[o].emplace_back(s, dense[std::size_t(s)]);
      dense[std::size_t(s)] = 0.0;
      seen[std::size_t(s)] = 0;
    }
  }
  return out;
}

struct FloatProjection {
  int source_node, target_node;  // graph node indices; target: a population node or the top-level Output
  bool recurrent;
  std::vector<std::string> path;
  std::vector<FloatRow> rows;
  int64_t parameters;  // weights of the nodes folded in
};

}  // namespace

IntegerGraph IntegerGraph::build(const Graph& graph, const IntegerOptions& options, const Shape& calibration_shape,
                                 const std::vector<double>& calibration) {
  IntegerGraph g;
  g.options_ = options;
  const int M = options.membrane_bits;
  if (graph.inputs.size() != 1 || graph.outputs.size() != 1)
    throw std::invalid_argument(fmt::format("{} has {} Input and {} Output nodes; the integer model feeds one and reads one",
                                            graph.path, graph.inputs.size(), graph.outputs.size()));
  const int input_node = graph.inputs[0], output_node = graph.outputs[0];
  for (const Node& n : graph.nodes)
    if (n.op == Op::Delay)
      throw std::invalid_argument(fmt::format("node '{}' (Delay): delays are not mapped onto the chip yet; the float "
                                              "reference (run --nir) runs them",
                                              n.id));

  // ---- populations, in evaluation order ------------------------------------------------------
  std::map<int, int> population_of;  // graph node -> population
  for (const int n : graph.order) {
    const Node& node = graph.nodes[std::size_t(n)];
    if (n != input_node && !is_population(node.op)) continue;
    population_of[n] = int(g.populations_.size());
    g.order_.push_back(int(g.populations_.size()));
    Population p;
    p.node = node.id;
    p.op = node.op;
    p.size = element_count(node.output_shape);
    p.binary = n == input_node ? true : spiking(node.op);
    g.populations_.push_back(std::move(p));
  }

  // ---- projections: every linear path from a population to the next one, folded ---------------
  std::vector<FloatProjection> paths;
  for (const auto& entry : population_of) {
    const int source = entry.first;
    const int64_t sources = element_count(graph.nodes[std::size_t(source)].output_shape);
    std::vector<FloatRow> identity(static_cast<std::size_t>(sources));
    for (int64_t s = 0; s < sources; ++s) identity[std::size_t(s)].emplace_back(s, 1.0);
    std::vector<int> on_path;
    std::function<void(int, const std::vector<FloatRow>&, bool, std::vector<std::string>&, int64_t)> walk =
        [&](int from, const std::vector<FloatRow>& rows, bool recurrent, std::vector<std::string>& path, int64_t params) {
          for (const Edge& e : graph.edges) {
            if (e.from != from) continue;
            const Node& next = graph.nodes[std::size_t(e.to)];
            if (e.recurrent && recurrent)
              throw std::invalid_argument(fmt::format("the path from '{}' to '{}' crosses two recurrent edges (a delay of two "
                                                      "steps through stateless nodes); not mapped",
                                                      graph.nodes[std::size_t(source)].id, next.id));
            const bool rec = recurrent || e.recurrent;
            if (population_of.count(e.to) || e.to == output_node) {
              FloatProjection f;
              f.source_node = source;
              f.target_node = e.to;
              f.recurrent = rec;
              f.path = path;
              f.rows = rows;
              f.parameters = params;
              paths.push_back(std::move(f));
              continue;
            }
            if (std::find(on_path.begin(), on_path.end(), e.to) != on_path.end())
              throw std::invalid_argument(fmt::format("node '{}' ({}) lies on a cycle of stateless nodes only; a cycle needs "
                                                      "a neuron to hold its state",
                                                      next.id, primitive(next.op).type));
            if (!is_linear(next.op) && next.op != Op::Input && next.op != Op::Output)
              throw std::invalid_argument(fmt::format("node '{}' ({}) is not mapped", next.id, primitive(next.op).type));
            on_path.push_back(e.to);
            path.push_back(next.id);
            const int64_t own = next.has("weight") ? next.params.at("weight").size() : next.has("scale") ? next.params.at("scale").size() : 0;
            walk(e.to, compose(node_matrix(next), rows, sources), rec, path, params + own);
            path.pop_back();
            on_path.pop_back();
          }
        };
    std::vector<std::string> path;
    walk(source, identity, false, path, 0);
  }

  // ---- biases: the value the stateless nodes deliver when every population is silent ------------
  // Split into what arrives the same step and what arrives through a recurrent edge (one step
  // late, so not at step 0).
  std::vector<std::vector<double>> bias_now(graph.nodes.size()), bias_late(graph.nodes.size());
  {
    std::vector<std::vector<double>> now(graph.nodes.size()), late(graph.nodes.size());
    // Twice: a recurrent edge's source comes later in the order, so its value is known only
    // from the first pass (a path crosses at most one recurrent edge, so two passes settle it).
    for (int pass = 0; pass < 2; ++pass) {
      for (const int n : graph.order) {
        const Node& node = graph.nodes[std::size_t(n)];
        std::vector<double> in_now(std::size_t(element_count(node.input_shape)), 0.0), in_late = in_now;
        for (const Edge& e : graph.edges) {
          if (e.to != n || population_of.count(e.from)) continue;
          const auto& src_now = now[std::size_t(e.from)];
          const auto& src_late = late[std::size_t(e.from)];
          for (std::size_t j = 0; j < in_now.size() && j < src_now.size(); ++j) {
            (e.recurrent ? in_late : in_now)[j] += src_now[j];
            in_late[j] += src_late[j];
          }
        }
        bias_now[std::size_t(n)] = in_now;
        bias_late[std::size_t(n)] = in_late;
        if (population_of.count(n) || n == output_node) continue;
        const auto matrix = node_matrix(node);
        const auto own = node_bias(node);
        now[std::size_t(n)] = own;
        late[std::size_t(n)].assign(own.size(), 0.0);
        for (std::size_t o = 0; o < matrix.size(); ++o)
          for (const auto& [i, w] : matrix[o]) {
            now[std::size_t(n)][o] += w * in_now[std::size_t(i)];
            late[std::size_t(n)][o] += w * in_late[std::size_t(i)];
          }
      }
    }
  }

  // ---- calibration: the float reference's ranges on the calibration input -------------------------
  const Node& input = graph.nodes[std::size_t(input_node)];
  const int64_t per_step = element_count(input.output_shape);
  if (calibration_shape.empty() || element_count(Shape(calibration_shape.begin() + 1, calibration_shape.end())) != per_step)
    throw std::invalid_argument(fmt::format("the calibration input has shape {}; expected [T, {}]", shape_str(calibration_shape),
                                            fmt::join(input.output_shape, ", ")));
  std::map<int, double> max_v, max_i, max_drive;
  double max_input = 0;
  bool input_is_spikes = true;
  for (double x : calibration) {
    max_input = std::max(max_input, std::abs(x));
    if (x != 0.0 && x != 1.0) input_is_spikes = false;
  }
  {
    ReferenceExecutor run(graph, options.reference);
    for (int64_t t = 0; t < calibration_shape[0]; ++t) {
      run.step({std::vector<double>(calibration.begin() + t * per_step, calibration.begin() + (t + 1) * per_step)});
      for (const auto& [n, p] : population_of) {
        (void)p;
        for (double v : run.membrane(n)) max_v[n] = std::max(max_v[n], std::abs(v));
        const Node& node = graph.nodes[std::size_t(n)];
        const auto& cur = run.synaptic_current(n);
        for (std::size_t j = 0; j < cur.size(); ++j)
          max_i[n] = std::max(max_i[n], std::abs(cur[j] * param_at(node, "r", int64_t(j), 1.0)));
        // The input current in membrane units (x of §4.8a): R·input for a leaky neuron (it enters
        // before the rate), dt·R·input for an integrator, R·w_in·input into a current stage.
        const auto& in = run.input(n);
        for (std::size_t j = 0; j < in.size(); ++j) {
          const double r = param_at(node, "r", int64_t(j), 1.0);
          const double fold = node.op == Op::IF || node.op == Op::I   ? options.reference.dt * r
                              : has_current(node.op)                  ? r * param_at(node, "w_in", int64_t(j), 1.0)
                              : node.op == Op::Threshold              ? 1.0
                                                                      : r;
          max_drive[n] = std::max(max_drive[n], std::abs(fold * in[j]) + std::abs(param_at(node, "v_leak", int64_t(j), 0.0)));
        }
      }
    }
  }
  Population& in_pop = g.populations_[std::size_t(population_of.at(input_node))];
  in_pop.binary = input_is_spikes;
  const int act_levels = (1 << (options.activation_bits - 1)) - 1;
  in_pop.scale = input_is_spikes ? 1.0 : (max_input > 0 ? max_input / act_levels : 1.0);
  // A target fed both by the graded input and by spikes sums both in one accumulator: spikes then
  // travel as graded events worth exactly 1.0, so the input's scale becomes 1/p for an integer p.
  std::set<int> mixed_targets;
  if (!input_is_spikes)
    for (const auto& f : paths) {
      if (f.source_node != input_node) continue;
      for (const auto& other : paths)
        if (other.target_node == f.target_node && other.source_node != input_node) mixed_targets.insert(f.target_node);
    }
  int32_t spike_value = 1;
  if (!mixed_targets.empty()) {
    spike_value = int32_t(std::max<int64_t>(1, std::min<int64_t>(act_levels, int64_t(std::floor(act_levels / std::max(max_input, 1e-300))))));
    in_pop.scale = 1.0 / spike_value;
  }
  g.decisions_.push_back(input_is_spikes
                             ? fmt::format("input '{}' {}: the calibration input holds only 0 and 1, so it enters as "
                                           "binary spikes",
                                           input.id, shape_str(input.output_shape))
                             : fmt::format("input '{}' {}: graded, {}-bit signed, max |x| {:g} on the calibration input "
                                           "(scale {:g} per LSB){}",
                                           input.id, shape_str(input.output_shape), options.activation_bits, max_input,
                                           in_pop.scale,
                                           mixed_targets.empty() ? ""
                                                                 : fmt::format("; {} layer(s) also take spikes, which reach "
                                                                               "them as graded events of value {} (1.0)",
                                                                               mixed_targets.size(), spike_value)));

  // ---- each neuron population: membrane scale, neuron constants, weights, multipliers -------------
  const double dt = options.reference.dt;
  const int weight_levels = (1 << (options.weight_bits - 1)) - 1;
  const double membrane_top = double(int64_t(1) << (M - 2));  // headroom of 2× for overshoot
  for (const int n : graph.order) {  // in evaluation order, so the decisions read as the data flows
    if (n == input_node || !population_of.count(n)) continue;
    const int pi = population_of.at(n);
    Population& p = g.populations_[std::size_t(pi)];
    const Node& node = graph.nodes[std::size_t(n)];
    const ResetMode reset = [&] {
      const auto it = options.reference.reset_of.find(node.id);
      return it != options.reference.reset_of.end() ? it->second : options.reference.reset;
    }();
    std::vector<const FloatProjection*> incoming;
    for (const auto& f : paths)
      if (f.target_node == n) incoming.push_back(&f);
    const bool cuba = has_current(node.op);
    const bool leaky = node.op == Op::LIF || node.op == Op::LI || cuba || node.op == Op::Threshold;
    // What multiplies the input current on its way into the membrane (docs/nir.md).
    auto fold = [&](int64_t j) {
      const double r = param_at(node, "r", j, 1.0);
      if (node.op == Op::IF || node.op == Op::I) return dt * r;
      if (cuba) return r * param_at(node, "w_in", j, 1.0);
      if (node.op == Op::Threshold) return 1.0;
      return r;
    };
    // Bias folded into the neuron where it acts on the membrane directly and from step 0; through
    // an always-on bias input (a synaptic event each step) where it must pass the current stage or
    // arrives one step late.
    const auto& late = bias_late[std::size_t(n)];
    const bool late_bias = std::any_of(late.begin(), late.end(), [](double b) { return b != 0; });
    bool bias_axon = late_bias;
    for (int64_t j = 0; j < p.size; ++j)
      if (cuba && bias_now[std::size_t(n)][std::size_t(j)] != 0.0) bias_axon = true;

    // Membrane scale: the largest constant or calibrated value maps to 2^(m-2).
    // The input current shares the membrane's scale and word: a leaky neuron's input is ~τ/dt
    // times its membrane's swing, so it usually sets the scale.
    double top = std::max(max_v[n], max_drive[n]);
    if (cuba) top = std::max(top, max_i[n]);
    for (int64_t j = 0; j < p.size; ++j) {
      for (const char* name : {"v_threshold", "v_reset", "v_leak", "threshold"}) top = std::max(top, std::abs(param_at(node, name, j, 0.0)));
      if (!bias_axon) {
        const double b = bias_now[std::size_t(n)][std::size_t(j)] * fold(j);
        top = std::max(top, std::abs(param_at(node, "v_leak", j, 0.0) + b));
      }
    }
    p.scale = top > 0 ? top / membrane_top : 1.0 / 256.0;
    p.binary = spiking(node.op);

    // Weights: one scale per neuron over every projection into it (they share its accumulator).
    // Value of one LSB of what a projection delivers: 1 for a spike, the input's scale for graded
    // input and for spikes sent as graded events of value spike_value.
    const bool mixed = mixed_targets.count(n) != 0;
    auto unit_of = [&](const FloatProjection& f) {
      const Population& src = g.populations_[std::size_t(population_of.at(f.source_node))];
      return !src.binary || mixed ? in_pop.scale : 1.0;
    };
    std::vector<double> row_max(std::size_t(p.size), 0.0);
    for (const FloatProjection* f : incoming)
      for (std::size_t r = 0; r < f->rows.size(); ++r)
        for (const auto& [s, w] : f->rows[r]) row_max[r] = std::max(row_max[r], std::abs(w) * unit_of(*f));
    if (bias_axon)
      for (int64_t j = 0; j < p.size; ++j)
        row_max[std::size_t(j)] = std::max({row_max[std::size_t(j)], std::abs(bias_now[std::size_t(n)][std::size_t(j)]),
                                            std::abs(late[std::size_t(j)])});
    p.input_scale.resize(std::size_t(p.size));
    for (int64_t j = 0; j < p.size; ++j)
      p.input_scale[std::size_t(j)] = row_max[std::size_t(j)] > 0 ? row_max[std::size_t(j)] / weight_levels : 1.0;
    for (const FloatProjection* f : incoming) {
      const Population& src = g.populations_[std::size_t(population_of.at(f->source_node))];
      Projection proj;
      proj.source = population_of.at(f->source_node);
      proj.target = pi;
      proj.recurrent = f->recurrent;
      proj.spike_value = src.binary && mixed ? spike_value : 1;
      proj.path = f->path;
      proj.distinct_float_weights = f->parameters;
      proj.rows.resize(f->rows.size());
      for (std::size_t r = 0; r < f->rows.size(); ++r)
        for (const auto& [s, w] : f->rows[r]) {
          const int64_t q = std::llround(w * unit_of(*f) / p.input_scale[r]);
          if (q != 0) proj.rows[r].emplace_back(int32_t(s), int32_t(std::clamp<int64_t>(q, -weight_levels, weight_levels)));
        }
      g.projections_.push_back(std::move(proj));
    }
    if (bias_axon) {
      auto quantized = [&](double b, int64_t j) {
        return int32_t(std::clamp<int64_t>(std::llround(b / p.input_scale[std::size_t(j)]), -weight_levels, weight_levels));
      };
      p.bias_weight.resize(std::size_t(p.size));
      for (int64_t j = 0; j < p.size; ++j) p.bias_weight[std::size_t(j)] = quantized(bias_now[std::size_t(n)][std::size_t(j)], j);
      if (late_bias) {
        p.late_bias_weight.resize(std::size_t(p.size));
        for (int64_t j = 0; j < p.size; ++j) p.late_bias_weight[std::size_t(j)] = quantized(late[std::size_t(j)], j);
      }
    }

    // Neuron constants (docs/numerics.md §4.8a, "Mapping NIR's neurons").
    auto to_membrane = [&](double value) { return int32_t(q::saturate(std::llround(value / p.scale), M)); };
    auto rate = [&](double tau, const char* what) {
      const double a = dt / tau;
      if (a > 1.0)
        throw std::invalid_argument(fmt::format("node '{}' ({}): dt / {} = {:g} / {:g} = {:g} > 1, unstable under forward "
                                                "Euler; choose --dt of at most {:g}",
                                                node.id, primitive(node.op).type, what, dt, tau, a, tau));
      return int32_t(std::llround(4096.0 * a));
    };
    p.params.resize(std::size_t(p.size));
    p.multiplier.resize(std::size_t(p.size));
    for (int64_t j = 0; j < p.size; ++j) {
      q::NeuronParams& np = p.params[std::size_t(j)];
      np.current = cuba;
      np.leak = leaky;
      np.dv = node.op == Op::IF || node.op == Op::I || node.op == Op::Threshold
                  ? 4096
                  : rate(param_at(node, cuba ? "tau_mem" : "tau", j, 1.0), cuba ? "tau_mem" : "tau");
      np.di = cuba ? rate(param_at(node, "tau_syn", j, 1.0), "tau_syn") : 4096;
      const double folded_bias = bias_axon ? 0.0 : bias_now[std::size_t(n)][std::size_t(j)] * fold(j);
      np.bias = to_membrane(param_at(node, "v_leak", j, 0.0) + folded_bias);
      np.theta = to_membrane(param_at(node, node.op == Op::Threshold ? "threshold" : "v_threshold", j, 0.0));
      np.v_reset = to_membrane(param_at(node, "v_reset", j, 0.0));
      np.reset_mode = !spiking(node.op)              ? q::ResetMode::kNone
                      : reset == ResetMode::Subtract ? q::ResetMode::kSubtract
                                                     : q::ResetMode::kToValue;
      np.fire_ge = options.reference.fire_at_threshold;
      const std::string bad = np.validation_error(M);
      if (!bad.empty()) throw std::invalid_argument(fmt::format("node '{}' ({}) neuron {}: {}", node.id, primitive(node.op).type, j, bad));
      p.multiplier[std::size_t(j)] = q::make_multiplier(p.input_scale[std::size_t(j)] * fold(j) / p.scale);
    }
    std::vector<std::string> sources;
    for (const FloatProjection* f : incoming) {
      int64_t synapses = 0;
      for (const auto& row : f->rows) synapses += int64_t(row.size());
      std::vector<std::string> through;
      for (const auto& id : f->path) through.push_back(fmt::format("{} ({})", id, primitive(graph.node(id).op).type));
      sources.push_back(fmt::format("from '{}'{}{}: {} synapses from {} weights{}", graph.nodes[std::size_t(f->source_node)].id,
                                    f->recurrent ? " (recurrent, previous step)" : "",
                                    through.empty() ? "" : fmt::format(" through {}", fmt::join(through, " -> ")), synapses,
                                    f->parameters,
                                    synapses > f->parameters ? " (shared or pooled weights unrolled onto every synapse)" : ""));
    }
    int max_dv_error_permille = 0;
    for (int64_t j = 0; j < p.size; ++j) {
      const double tau = param_at(node, cuba ? "tau_mem" : "tau", j, 0.0);
      if (tau > 0 && leaky && node.op != Op::Threshold)
        max_dv_error_permille = std::max(max_dv_error_permille,
                                         int(std::lround(1000.0 * std::abs(p.params[std::size_t(j)].dv / 4096.0 - dt / tau) / (dt / tau))));
    }
    g.decisions_.push_back(fmt::format("'{}' ({}, {} neurons): membrane and input current at {:g} per LSB ({}-bit; the "
                                       "largest constant, calibrated membrane or input current at 2^{}); rates dt/τ on the "
                                       "1/4096 grid (largest rounding {:.1f}%); {}{}",
                                       node.id, primitive(node.op).type, p.size, p.scale, M, M - 2,
                                       max_dv_error_permille / 10.0, fmt::join(sources, "; "),
                                       late_bias ? "; bias through an always-on input, its recurrent part from step 1 on "
                                                   "(it arrives one step late)"
                                       : bias_axon ? "; bias through an always-on input (it must pass the current stage)"
                                                   : ""));
  }

  // ---- the output --------------------------------------------------------------------------------
  std::vector<const FloatProjection*> into_output;
  for (const auto& f : paths)
    if (f.target_node == output_node) into_output.push_back(&f);
  if (into_output.size() == 1 && into_output[0]->path.empty()) {
    const int src = population_of.at(into_output[0]->source_node);
    g.output_population_ = src;
    g.output_kind_ = g.populations_[std::size_t(src)].binary ? OutputKind::Spikes : OutputKind::Membrane;
    if (src == population_of.at(input_node) && !in_pop.binary) g.output_kind_ = OutputKind::Membrane;
  } else {
    // A readout: the output's accumulators leave for the host, which scales them and adds the bias.
    g.output_kind_ = OutputKind::Readout;
    const int64_t rows = element_count(graph.nodes[std::size_t(output_node)].input_shape);
    std::vector<double> row_max(std::size_t(rows), 0.0);
    for (const FloatProjection* f : into_output) {
      const Population& src = g.populations_[std::size_t(population_of.at(f->source_node))];
      for (std::size_t r = 0; r < f->rows.size(); ++r)
        for (const auto& [s, w] : f->rows[r]) row_max[r] = std::max(row_max[r], std::abs(w) * (src.binary ? 1.0 : src.scale));
    }
    g.readout_scale_.resize(std::size_t(rows));
    for (int64_t r = 0; r < rows; ++r) g.readout_scale_[std::size_t(r)] = row_max[std::size_t(r)] > 0 ? row_max[std::size_t(r)] / weight_levels : 1.0;
    g.readout_bias_ = bias_now[std::size_t(output_node)];
    for (const FloatProjection* f : into_output) {
      const Population& src = g.populations_[std::size_t(population_of.at(f->source_node))];
      Projection proj;
      proj.source = population_of.at(f->source_node);
      proj.target = -1;
      proj.recurrent = f->recurrent;
      proj.path = f->path;
      proj.distinct_float_weights = f->parameters;
      proj.rows.resize(f->rows.size());
      for (std::size_t r = 0; r < f->rows.size(); ++r)
        for (const auto& [s, w] : f->rows[r]) {
          const int64_t q = std::llround(w * (src.binary ? 1.0 : src.scale) / g.readout_scale_[r]);
          if (q != 0) proj.rows[r].emplace_back(int32_t(s), int32_t(std::clamp<int64_t>(q, -weight_levels, weight_levels)));
        }
      g.projections_.push_back(std::move(proj));
    }
    g.decisions_.push_back(fmt::format("output '{}': a readout of {} accumulators (the host scales them and adds the bias)",
                                       graph.nodes[std::size_t(output_node)].id, rows));
  }
  for (const Population& p : g.populations_)
    if (!p.binary && p.op != Op::Input)
      for (const Projection& proj : g.projections_)
        if (&g.populations_[std::size_t(proj.source)] == &p)
          throw std::invalid_argument(fmt::format("node '{}' ({}) puts out membrane potentials and feeds another layer; only "
                                                  "spikes travel between layers on the chip (a potential may only be the "
                                                  "graph's output)",
                                                  p.node, primitive(p.op).type));
  g.reset();
  return g;
}

void IntegerGraph::reset() {
  values_.assign(populations_.size(), {});
  previous_values_.assign(populations_.size(), {});
  state_.assign(populations_.size(), {});
  for (std::size_t p = 0; p < populations_.size(); ++p) {
    values_[p].assign(std::size_t(populations_[p].size), 0);
    previous_values_[p] = values_[p];
    if (populations_[p].op != Op::Input) state_[p].assign(std::size_t(populations_[p].size), q::NeuronState{});
  }
  counts_ = IntegerCounts{};
  steps_ = 0;
  counts_.spikes.assign(populations_.size(), 0);
}

std::vector<double> IntegerGraph::step(const std::vector<double>& input) {
  const int M = options_.membrane_bits;
  previous_values_ = values_;
  const Population& in = populations_[std::size_t(order_.front())];
  values_[std::size_t(order_.front())] = quantize_input(in.node, in.size, in.binary, in.scale, options_.activation_bits, input);
  // Accumulate every projection into its target (or the readout), then run the neurons.
  auto accumulate = [&](const Projection& proj, std::vector<int64_t>& acc) {
    const auto& src = proj.recurrent ? previous_values_[std::size_t(proj.source)] : values_[std::size_t(proj.source)];
    const bool binary = populations_[std::size_t(proj.source)].binary && proj.spike_value == 1;
    for (std::size_t r = 0; r < proj.rows.size(); ++r)
      for (const auto& [s, w] : proj.rows[r]) {
        const int32_t x = src[std::size_t(s)];
        if (x == 0) continue;
        acc[r] += int64_t(w) * x * proj.spike_value;
        ++(binary ? counts_.binary_sops : counts_.graded_sops);
      }
  };
  for (std::size_t k = 1; k < order_.size(); ++k) {
    const int pi = order_[k];
    Population& p = populations_[std::size_t(pi)];
    std::vector<int64_t> acc(std::size_t(p.size), 0);
    for (const Projection& proj : projections_)
      if (proj.target == pi) accumulate(proj, acc);
    for (std::size_t j = 0; j < p.bias_weight.size(); ++j) {
      acc[j] += p.bias_weight[j];
      counts_.bias_sops += p.bias_weight[j] != 0;
    }
    if (steps_ > 0)
      for (std::size_t j = 0; j < p.late_bias_weight.size(); ++j) {
        acc[j] += p.late_bias_weight[j];
        counts_.bias_sops += p.late_bias_weight[j] != 0;
      }
    auto& out = values_[std::size_t(pi)];
    for (int64_t j = 0; j < p.size; ++j) {
      const int32_t x = int32_t(q::requantize(acc[std::size_t(j)], p.multiplier[std::size_t(j)], M));
      auto& s = state_[std::size_t(pi)][std::size_t(j)];
      const bool spike = q::neuron_step_int(p.params[std::size_t(j)], s, x, M);
      out[std::size_t(j)] = p.binary ? int32_t(spike) : s.v;
      counts_.spikes[std::size_t(pi)] += spike;
    }
    counts_.neuron_updates += p.size;
  }
  ++steps_;
  std::vector<double> result;
  if (output_kind_ == OutputKind::Readout) {
    std::vector<int64_t> acc(readout_scale_.size(), 0);
    for (const Projection& proj : projections_)
      if (proj.target == -1) accumulate(proj, acc);
    for (std::size_t r = 0; r < acc.size(); ++r) result.push_back(double(acc[r]) * readout_scale_[r] + readout_bias_[r]);
  } else {
    const Population& p = populations_[std::size_t(output_population_)];
    for (int32_t v : values_[std::size_t(output_population_)])
      result.push_back(output_kind_ == OutputKind::Spikes ? double(v) : double(v) * p.scale);
  }
  return result;
}

Agreement compare_with_reference(const Graph& graph, IntegerGraph& integer, const Shape& input_shape,
                                 const std::vector<double>& input) {
  const int64_t T = input_shape.at(0), per_step = T ? int64_t(input.size()) / T : 0;
  ReferenceExecutor reference(graph, integer.options().reference);
  integer.reset();
  Agreement a;
  a.output = integer.output_kind();
  const auto& pops = integer.populations();
  std::vector<int64_t> agree(pops.size(), 0), float_spikes(pops.size(), 0);
  double error_sq = 0, value_sq = 0;
  int64_t output_equal = 0, output_count = 0;
  for (int64_t t = 0; t < T; ++t) {
    const std::vector<double> x(input.begin() + t * per_step, input.begin() + (t + 1) * per_step);
    const auto y_float = reference.step({x})[0];
    const auto y_int = integer.step(x);
    a.integer_output.insert(a.integer_output.end(), y_int.begin(), y_int.end());
    for (std::size_t p = 1; p < pops.size(); ++p) {
      if (!pops[p].binary) continue;
      const auto& f = reference.output(graph.find(pops[p].node));
      const auto& v = integer.values(int(p));
      for (std::size_t j = 0; j < f.size(); ++j) {
        agree[p] += (f[j] != 0.0) == (v[j] != 0);
        float_spikes[p] += f[j] != 0.0;
      }
    }
    for (std::size_t j = 0; j < y_float.size(); ++j) {
      ++output_count;
      output_equal += y_float[j] == y_int[j];
      error_sq += (y_float[j] - y_int[j]) * (y_float[j] - y_int[j]);
      value_sq += y_float[j] * y_float[j];
      a.output_max_abs_error = std::max(a.output_max_abs_error, std::abs(y_float[j] - y_int[j]));
    }
  }
  for (std::size_t p = 1; p < pops.size(); ++p) {
    if (!pops[p].binary) continue;
    PopulationAgreement pa;
    pa.node = pops[p].node;
    pa.neurons = pops[p].size;
    pa.steps = T;
    const double cells = double(pa.neurons * T);
    pa.float_rate = cells ? double(float_spikes[p]) / cells : 0;
    pa.integer_rate = cells ? double(integer.counts().spikes[p]) / cells : 0;
    pa.spike_agreement = cells ? double(agree[p]) / cells : 1;
    a.populations.push_back(pa);
  }
  a.output_agreement = a.output == OutputKind::Spikes ? (output_count ? double(output_equal) / double(output_count) : 1.0)
                                                      : (value_sq > 0 ? 1.0 - std::sqrt(error_sq / value_sq) : 1.0);
  return a;
}

}  // namespace spiketile::nir
