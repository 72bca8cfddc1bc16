// From the file's tree to a checked graph: primitives, nesting, shapes, cycles, order.
#include "models/nir/nir_graph.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <regex>
#include <set>

namespace spiketile::nir {

int64_t element_count(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), int64_t(1), std::multiplies<>());
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

namespace {

std::string join_problems(const std::string& path, const std::vector<std::string>& problems) {
  std::string text = problems.size() == 1 ? fmt::format("{}: {}", path, problems[0])
                                          : fmt::format("{}: {} problems:", path, problems.size());
  if (problems.size() > 1)
    for (const auto& p : problems) text += "\n  " + p;
  return text;
}

}  // namespace

NirError::NirError(const std::string& path, const std::vector<std::string>& problems)
    : std::runtime_error(join_problems(path, problems)), problems_(problems) {}

const std::vector<Primitive>& nir_primitives() {
  using K = ParamKind;
  static const std::vector<Primitive> table = {
      {Op::Input, "Input", {{"shape", K::IntArray, true, "the graph input's shape"}}, "marks the graph's input", false, false},
      {Op::Output, "Output", {{"shape", K::IntArray, true, "the graph output's shape"}}, "marks the graph's output", false, false},
      {Op::Affine, "Affine",
       {{"weight", K::FloatArray, true, "[out, in]"}, {"bias", K::FloatArray, true, "[out]"}}, "W·x + b", false, false},
      {Op::Linear, "Linear", {{"weight", K::FloatArray, true, "[out, in]"}}, "W·x", false, false},
      {Op::Scale, "Scale", {{"scale", K::FloatArray, true, "per element"}}, "s·x", false, false},
      {Op::Threshold, "Threshold", {{"threshold", K::FloatArray, true, "per element"}}, "spike where x > θ", false, true},
      {Op::I, "I", {{"r", K::FloatArray, true, "resistance"}}, "v ← v + dt·(R·x); out v", true, false},
      {Op::IF, "IF",
       {{"r", K::FloatArray, true, "resistance"},
        {"v_threshold", K::FloatArray, true, "firing threshold"},
        {"v_reset", K::FloatArray, false, "reset potential (default 0)"}},
       "v ← v + dt·(R·x); spike where v > v_threshold, then reset", true, true},
      {Op::LI, "LI",
       {{"tau", K::FloatArray, true, "membrane time constant (s)"},
        {"r", K::FloatArray, true, "resistance"},
        {"v_leak", K::FloatArray, true, "leak potential"}},
       "v ← v + dt/τ·((v_leak − v) + R·x); out v", true, false},
      {Op::LIF, "LIF",
       {{"tau", K::FloatArray, true, "membrane time constant (s)"},
        {"r", K::FloatArray, true, "resistance"},
        {"v_leak", K::FloatArray, true, "leak potential"},
        {"v_threshold", K::FloatArray, true, "firing threshold"},
        {"v_reset", K::FloatArray, false, "reset potential (default 0)"}},
       "as LI; spike where v > v_threshold, then reset", true, true},
      {Op::CubaLI, "CubaLI",
       {{"tau_syn", K::FloatArray, true, "synaptic time constant (s)"},
        {"tau_mem", K::FloatArray, true, "membrane time constant (s)"},
        {"r", K::FloatArray, true, "resistance"},
        {"v_leak", K::FloatArray, true, "leak potential"},
        {"w_in", K::FloatArray, false, "input current weight (default 1)"}},
       "i ← i + dt/τ_syn·(w_in·x − i); v ← v + dt/τ_mem·((v_leak − v) + R·i_prev); out v", true, false},
      {Op::CubaLIF, "CubaLIF",
       {{"tau_syn", K::FloatArray, true, "synaptic time constant (s)"},
        {"tau_mem", K::FloatArray, true, "membrane time constant (s)"},
        {"r", K::FloatArray, true, "resistance"},
        {"v_leak", K::FloatArray, true, "leak potential"},
        {"v_threshold", K::FloatArray, true, "firing threshold"},
        {"v_reset", K::FloatArray, false, "reset potential (default 0)"},
        {"w_in", K::FloatArray, false, "input current weight (default 1)"}},
       "as CubaLI; spike where v > v_threshold, then reset", true, true},
      {Op::Conv1d, "Conv1d",
       {{"weight", K::FloatArray, true, "[out_ch, in_ch/groups, k]"},
        {"bias", K::FloatArray, true, "[out_ch]"},
        {"stride", K::IntArray, true, "1 value"},
        {"padding", K::IntOrString, true, "1 value, or 'same' / 'valid'"},
        {"dilation", K::IntArray, true, "1 value"},
        {"groups", K::IntScalar, true, "channel groups"},
        {"input_shape", K::IntArray, false, "[length]"}},
       "cross-correlation as in PyTorch (zero padding)", false, false},
      {Op::Conv2d, "Conv2d",
       {{"weight", K::FloatArray, true, "[out_ch, in_ch/groups, kh, kw]"},
        {"bias", K::FloatArray, true, "[out_ch]"},
        {"stride", K::IntArray, true, "1 or 2 values"},
        {"padding", K::IntOrString, true, "1 or 2 values, or 'same' / 'valid'"},
        {"dilation", K::IntArray, true, "1 or 2 values"},
        {"groups", K::IntScalar, true, "channel groups"},
        {"input_shape", K::IntArray, false, "[height, width]"}},
       "cross-correlation as in PyTorch (zero padding)", false, false},
      {Op::SumPool2d, "SumPool2d",
       {{"kernel_size", K::IntArray, true, "1 or 2 values"},
        {"stride", K::IntArray, true, "1 or 2 values"},
        {"padding", K::IntArray, true, "1 or 2 values"}},
       "window sum (zero padding)", false, false},
      {Op::AvgPool2d, "AvgPool2d",
       {{"kernel_size", K::IntArray, true, "1 or 2 values"},
        {"stride", K::IntArray, true, "1 or 2 values"},
        {"padding", K::IntArray, true, "1 or 2 values"}},
       "window sum / kernel area (padding counted, as PyTorch's default)", false, false},
      {Op::Flatten, "Flatten",
       {{"start_dim", K::IntScalar, true, "first dimension merged (batch not counted)"},
        {"end_dim", K::IntScalar, true, "last dimension merged (negative: from the end)"},
        {"input_type", K::IntArray, false, "the input's shape"}},
       "reshape", false, false},
      {Op::Delay, "Delay", {{"delay", K::FloatArray, true, "per element (s)"}}, "x(t − delay), round(delay/dt) steps", true, false},
  };
  return table;
}

const Primitive& primitive(Op op) { return nir_primitives().at(std::size_t(op)); }

int64_t Node::parameter_count() const {
  int64_t n = 0;
  for (const auto& spec : primitive(op).params)
    if (spec.kind == ParamKind::FloatArray && has(spec.name)) n += params.at(spec.name).size();
  return n;
}

int Graph::find(const std::string& id) const {
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].id == id) return int(i);
  return -1;
}

const Node& Graph::node(const std::string& id) const {
  const int i = find(id);
  if (i < 0) throw std::out_of_range(fmt::format("{}: no node '{}'", path, id));
  return nodes[std::size_t(i)];
}

std::vector<int> Graph::sources_of(int n) const {
  std::vector<int> result;
  for (std::size_t e = 0; e < edges.size(); ++e)
    if (edges[e].to == n) result.push_back(int(e));
  return result;
}

int64_t Graph::parameter_count() const {
  int64_t n = 0;
  for (const auto& node : nodes) n += node.parameter_count();
  return n;
}

std::vector<std::vector<std::string>> Graph::cycles() const {
  // The loop a recurrent edge u -> v closes: v ... u along non-recurrent edges, then back to v.
  std::vector<std::vector<std::string>> result;
  for (const Edge& back : edges) {
    if (!back.recurrent) continue;
    std::vector<int> parent(nodes.size(), -1);
    std::vector<int> queue{back.to};
    parent[std::size_t(back.to)] = back.to;
    for (std::size_t q = 0; q < queue.size() && parent[std::size_t(back.from)] < 0; ++q)
      for (const Edge& e : edges)
        if (!e.recurrent && e.from == queue[q] && parent[std::size_t(e.to)] < 0) {
          parent[std::size_t(e.to)] = queue[q];
          queue.push_back(e.to);
        }
    std::vector<std::string> loop;
    for (int n = back.from; parent[std::size_t(n)] >= 0; n = parent[std::size_t(n)]) {
      loop.push_back(nodes[std::size_t(n)].id);
      if (n == back.to) break;
    }
    std::reverse(loop.begin(), loop.end());
    loop.push_back(nodes[std::size_t(back.to)].id);
    result.push_back(loop);
  }
  return result;
}

namespace {

// Shapes, kernel sizes, strides: integers a network can have, and products that cannot overflow.
constexpr double kMaxInteger = double(int64_t(1) << 31);
constexpr int64_t kMaxNodeElements = int64_t(1) << 27;

const char* kind_expectation(ParamKind kind) {
  switch (kind) {
    case ParamKind::FloatArray: return "a float array";
    case ParamKind::IntArray: return "an integer array";
    case ParamKind::IntScalar: return "one integer";
    case ParamKind::IntOrString: return "integers or a string";
  }
  return "";
}

class Builder {
 public:
  explicit Builder(const NirFile& file) : file_(file) {
    graph_.path = file.path;
    graph_.version = file.version;
    graph_.notes = file.notes;
  }

  Graph build() {
    check_version();
    if (file_.root.type != "NIRGraph")
      problem("the top-level node", fmt::format("has type '{}'; expected NIRGraph", file_.root.type));
    else
      flatten(file_.root, "", 0);
    check_parameters();  // also after broken edges: every problem of the file is reported at once
    if (problems_.empty()) find_recurrent_edges_and_order();
    if (problems_.empty()) infer_shapes();
    if (!problems_.empty()) throw NirError(file_.path, problems_);
    return std::move(graph_);
  }

 private:
  struct Subgraph {
    std::vector<int> inputs, outputs;  // its own Input / Output nodes
  };

  void problem(const std::string& who, const std::string& what) { problems_.push_back(who + " " + what); }
  std::string who(const Node& n) const { return fmt::format("node '{}' ({})", n.id, primitive(n.op).type); }

  void check_version() {
    if (file_.version.empty()) return;
    static const std::regex supported(R"(0\.[12]\.\d+.*|1\.\d+\.\d+.*)");
    if (!std::regex_match(file_.version, supported))
      graph_.notes.push_back(fmt::format("format version '{}' is not one this reader was written for (0.1.x, 0.2.x, "
                                         "1.x); read with the 0.2 layout",
                                         file_.version));
  }

  // Nested graphs become their nodes, named "<graph id>.<node id>"; an edge that names a graph
  // enters through its one Input node and leaves through its one Output node.
  void flatten(const NirFileNode& g, const std::string& prefix, int depth) {
    std::vector<std::pair<std::string, std::string>> local_edges;
    for (const auto& entry : g.nodes) {
      const std::string& id = entry.first;
      const NirFileNode& child = entry.second;
      const std::string full = prefix + id;
      if (child.type == "NIRGraph") {
        flatten(child, full + ".", depth + 1);
        continue;
      }
      if (!child.nodes.empty() || !child.edges.empty())
        problem(fmt::format("node '{}' ({})", full, child.type), "holds nodes or edges; only a NIRGraph does");
      const auto it = std::find_if(nir_primitives().begin(), nir_primitives().end(),
                                   [&](const Primitive& p) { return child.type == p.type; });
      if (it == nir_primitives().end()) {
        std::vector<std::string> known;
        for (const auto& p : nir_primitives()) known.push_back(p.type);
        problem(fmt::format("node '{}'", full),
                fmt::format("has type '{}', which this importer cannot map; known: NIRGraph, {}", child.type,
                            fmt::join(known, ", ")));
        continue;
      }
      Node node{full, it->op, child.params, {}, {}, {}};
      graph_.nodes.push_back(std::move(node));
      if (it->op == Op::Input) subgraphs_[prefix].inputs.push_back(int(graph_.nodes.size()) - 1);
      if (it->op == Op::Output) subgraphs_[prefix].outputs.push_back(int(graph_.nodes.size()) - 1);
    }
    if (g.nodes.empty()) problem(prefix.empty() ? "the top-level graph" : fmt::format("graph '{}'", prefix.substr(0, prefix.size() - 1)), "has no nodes");
    for (const auto& [from, to] : g.edges) {
      const int a = resolve(prefix, from, true);
      const int b = resolve(prefix, to, false);
      if (a >= 0 && b >= 0) graph_.edges.push_back({a, b, false});
    }
    if (depth == 0) {
      graph_.inputs = subgraphs_[""].inputs;
      graph_.outputs = subgraphs_[""].outputs;
    }
  }

  int resolve(const std::string& prefix, const std::string& name, bool as_source) {
    const std::string full = prefix + name;
    const int direct = graph_.find(full);
    if (direct >= 0) return direct;
    const auto sub = subgraphs_.find(full + ".");
    if (sub != subgraphs_.end()) {
      const auto& ends = as_source ? sub->second.outputs : sub->second.inputs;
      if (ends.size() == 1) return ends[0];
      problem(fmt::format("edge {} '{}'", as_source ? "from" : "to", full),
              fmt::format("names a graph with {} {} nodes; expected exactly one, or name the node as '{}.<id>'",
                          ends.size(), as_source ? "Output" : "Input", full));
      return -1;
    }
    problem(fmt::format("edge {} '{}'", as_source ? "from" : "to", full), "names no node of the graph");
    return -1;
  }

  // Parameters present, of the right kind, finite; neuron constants that make sense.
  void check_parameters() {
    for (Node& n : graph_.nodes) {
      const Primitive& p = primitive(n.op);
      for (const auto& spec : p.params) {
        const auto it = n.params.find(spec.name);
        if (it == n.params.end()) {
          if (spec.required)
            problem(who(n), fmt::format("is missing parameter '{}'; expected {} ({})", spec.name,
                                        kind_expectation(spec.kind), spec.meaning));
          continue;
        }
        const NirArray& a = it->second;
        if (a.is_string()) {
          if (spec.kind != ParamKind::IntOrString)
            problem(who(n), fmt::format("parameter '{}' is a string; expected {}", spec.name, kind_expectation(spec.kind)));
          continue;
        }
        for (std::size_t i = 0; i < a.values.size(); ++i) {
          const double v = a.values[i];
          if (!std::isfinite(v)) {
            problem(who(n), fmt::format("parameter '{}' holds {} at index {}; expected finite values", spec.name, v, i));
            break;
          }
          if (spec.kind != ParamKind::FloatArray && (v != std::floor(v) || std::abs(v) > kMaxInteger)) {
            problem(who(n), fmt::format("parameter '{}' holds {:g} at index {}; expected integers of at most {} in "
                                        "magnitude",
                                        spec.name, v, i, kMaxInteger));
            break;
          }
        }
        if (spec.kind == ParamKind::IntScalar && a.size() != 1)
          problem(who(n), fmt::format("parameter '{}' has shape {}; expected one integer", spec.name, shape_str(a.shape)));
      }
      for (const auto& param : n.params) {
        const std::string& name = param.first;
        if (std::none_of(p.params.begin(), p.params.end(), [&](const ParamSpec& s) { return name == s.name; }))
          graph_.notes.push_back(fmt::format("{}: parameter '{}' is not part of the primitive; ignored", who(n), name));
      }
      for (const char* tau : {"tau", "tau_syn", "tau_mem"})
        if (n.has(tau))
          for (double v : n.values(tau))
            if (!(v > 0)) {
              problem(who(n), fmt::format("has {} = {:g}; expected a positive time constant", tau, v));
              break;
            }
      if (n.op == Op::Delay)
        for (double v : n.values("delay"))
          if (v < 0) {
            problem(who(n), fmt::format("has delay = {:g}; expected delays of at least 0", v));
            break;
          }
    }
    if (graph_.inputs.empty()) problem("the top-level graph", "has no Input node; expected one to feed");
    if (graph_.outputs.empty()) problem("the top-level graph", "has no Output node; expected one to read");
  }

  // Depth-first from the Input nodes (in id order), successors in edge order: an edge into a node
  // still on the stack closes a cycle and becomes recurrent. The reverse post-order is the
  // evaluation order. Nodes no Input reaches are searched after, in id order.
  void find_recurrent_edges_and_order() {
    const std::size_t n = graph_.nodes.size();
    std::vector<int> state(n, 0);  // 0 unseen, 1 on stack, 2 done
    std::vector<int> post;
    std::function<void(int)> visit = [&](int u) {
      state[std::size_t(u)] = 1;
      for (Edge& e : graph_.edges) {
        if (e.from != u) continue;
        if (state[std::size_t(e.to)] == 1) e.recurrent = true;
        else if (state[std::size_t(e.to)] == 0) visit(e.to);
      }
      state[std::size_t(u)] = 2;
      post.push_back(u);
    };
    std::vector<int> starts = graph_.inputs;
    auto by_id = [&](int a, int b) { return graph_.nodes[std::size_t(a)].id < graph_.nodes[std::size_t(b)].id; };
    std::sort(starts.begin(), starts.end(), by_id);
    for (int s : starts)
      if (state[std::size_t(s)] == 0) visit(s);
    std::vector<int> rest;
    for (std::size_t i = 0; i < n; ++i)
      if (state[i] == 0) rest.push_back(int(i));
    std::sort(rest.begin(), rest.end(), by_id);
    for (int r : rest) {
      if (state[std::size_t(r)] != 0) continue;
      graph_.notes.push_back(fmt::format("node '{}' is not reachable from an Input node", graph_.nodes[std::size_t(r)].id));
      visit(r);
    }
    graph_.order.assign(post.rbegin(), post.rend());
    for (const int o : graph_.outputs)
      for (const Edge& e : graph_.edges)
        if (e.from == o)
          problem(who(graph_.nodes[std::size_t(o)]), fmt::format("has an edge to '{}'; an Output node ends the graph",
                                                                   graph_.nodes[std::size_t(e.to)].id));
    for (const int i : graph_.inputs)
      for (const Edge& e : graph_.edges)
        if (e.to == i)
          problem(who(graph_.nodes[std::size_t(i)]), fmt::format("has an edge from '{}'; an Input node starts the graph",
                                                                   graph_.nodes[std::size_t(e.from)].id));
  }

  // 1 or `dims` values of an integer parameter, one per spatial dimension.
  std::vector<int64_t> per_dim(const Node& n, const char* name, std::size_t dims) {
    const auto& v = n.values(name);
    if (v.size() != 1 && v.size() != dims) {
      problem(who(n), fmt::format("parameter '{}' has {} values; expected 1 or {}", name, v.size(), dims));
      return std::vector<int64_t>(dims, 1);
    }
    std::vector<int64_t> out;
    for (std::size_t d = 0; d < dims; ++d) out.push_back(int64_t(v[v.size() == 1 ? 0 : d]));
    return out;
  }

  // Shape of what flows into node n along its non-recurrent edges (all must agree in size);
  // empty when nothing does (recurrent only, or unreachable).
  Shape incoming_shape(int n) {
    Shape shape;
    for (const Edge& e : graph_.edges) {
      if (e.to != n || e.recurrent) continue;
      const Shape& s = graph_.nodes[std::size_t(e.from)].output_shape;
      if (s.empty()) continue;
      if (shape.empty()) shape = s;
      else if (element_count(s) != element_count(shape))
        problem(who(graph_.nodes[std::size_t(n)]),
                fmt::format("receives {} from '{}' but {} along another edge; inputs of a node are summed, so their "
                            "sizes must agree",
                            shape_str(s), graph_.nodes[std::size_t(e.from)].id, shape_str(shape)));
    }
    return shape;
  }

  // The neuron's (or elementwise node's) shape: that of its parameters, which hold one value per
  // element or one for all.
  Shape parameter_shape(const Node& n) {
    const NirArray* widest = nullptr;
    for (const auto& spec : primitive(n.op).params)
      if (n.has(spec.name) && (!widest || n.params.at(spec.name).size() > widest->size())) widest = &n.params.at(spec.name);
    for (const auto& spec : primitive(n.op).params) {
      if (!n.has(spec.name)) continue;
      const int64_t size = n.params.at(spec.name).size();
      if (size != 1 && size != widest->size())
        problem(who(n), fmt::format("parameter '{}' has {} values but others have {}; expected one per element (or one "
                                    "for all)",
                                    spec.name, size, widest->size()));
    }
    if (!widest || widest->shape.empty()) return Shape{1};
    return widest->shape;
  }

  static bool oversized(const Shape& shape) {
    int64_t count = 1;
    for (int64_t d : shape) {
      if (d < 0 || (d > 0 && count > kMaxNodeElements / d)) return true;
      count *= d;
    }
    return count > kMaxNodeElements;
  }

  void infer_shapes() {
    for (const int idx : graph_.order) {
      Node& n = graph_.nodes[std::size_t(idx)];
      const Shape in = incoming_shape(idx);
      switch (n.op) {
        case Op::Input:
        case Op::Output: {
          Shape declared;
          for (double d : n.values("shape")) declared.push_back(int64_t(d));
          if (std::any_of(declared.begin(), declared.end(), [](int64_t d) { return d <= 0; }) || oversized(declared))
            problem(who(n), fmt::format("has shape {}; expected positive dimensions, at most {} values", shape_str(declared),
                                        kMaxNodeElements));
          n.input_shape = n.output_shape = declared;
          break;
        }
        case Op::Affine:
        case Op::Linear: {
          const NirArray& w = n.params.at("weight");
          if (w.shape.size() != 2) {
            problem(who(n), fmt::format("weight has shape {}; expected [out, in]", shape_str(w.shape)));
            break;
          }
          n.input_shape = {w.shape[1]};
          n.output_shape = {w.shape[0]};
          if (n.op == Op::Affine && n.params.at("bias").size() != w.shape[0])
            problem(who(n), fmt::format("bias has {} values; expected {} (one per output)", n.params.at("bias").size(),
                                        w.shape[0]));
          break;
        }
        case Op::Scale:
        case Op::Threshold:
        case Op::Delay:
        case Op::I:
        case Op::IF:
        case Op::LI:
        case Op::LIF:
        case Op::CubaLI:
        case Op::CubaLIF: {
          Shape s = parameter_shape(n);
          // Parameters of size 1 for all: the node takes the size of what flows in.
          if (element_count(s) == 1 && !in.empty()) s = in;
          n.input_shape = n.output_shape = s;
          break;
        }
        case Op::Conv1d:
        case Op::Conv2d: infer_conv(n, in); break;
        case Op::SumPool2d:
        case Op::AvgPool2d: infer_pool(n, in); break;
        case Op::Flatten: infer_flatten(n, in); break;
      }
      // Checked node by node: the next nodes' shapes are computed from these.
      for (const Shape* shape : {&n.input_shape, &n.output_shape})
        if (oversized(*shape)) {
          problem(who(n), fmt::format("has shape {}; at most {} values per node are simulated", shape_str(*shape),
                                      kMaxNodeElements));
          return;
        }
    }
    if (!problems_.empty()) return;
    for (const Edge& e : graph_.edges) {
      const Node& a = graph_.nodes[std::size_t(e.from)];
      const Node& b = graph_.nodes[std::size_t(e.to)];
      if (element_count(a.output_shape) != element_count(b.input_shape))
        problems_.push_back(fmt::format("edge '{}' -> '{}'{}: shape mismatch: '{}' ({}) gives {} ({} values), '{}' ({}) "
                                        "expects {} ({} values)",
                                        a.id, b.id, e.recurrent ? " (recurrent)" : "", a.id, primitive(a.op).type,
                                        shape_str(a.output_shape), element_count(a.output_shape), b.id,
                                        primitive(b.op).type, shape_str(b.input_shape), element_count(b.input_shape)));
      else if (a.output_shape != b.input_shape)
        graph_.notes.push_back(fmt::format("edge '{}' -> '{}': {} taken as {} (same {} values, reshaped)", a.id, b.id,
                                           shape_str(a.output_shape), shape_str(b.input_shape),
                                           element_count(a.output_shape)));
    }
  }

  void infer_conv(Node& n, const Shape& in) {
    const std::size_t dims = n.op == Op::Conv1d ? 1 : 2;
    const NirArray& w = n.params.at("weight");
    if (w.shape.size() != dims + 2) {
      problem(who(n), fmt::format("weight has shape {}; expected [out_ch, in_ch/groups, {}]", shape_str(w.shape),
                                  dims == 1 ? "k" : "kh, kw"));
      return;
    }
    Window& win = n.window;
    win.kernel.assign(w.shape.begin() + 2, w.shape.end());
    win.stride = per_dim(n, "stride", dims);
    win.dilation = per_dim(n, "dilation", dims);
    win.groups = int64_t(n.values("groups").at(0));
    const int64_t out_ch = w.shape[0], in_ch = w.shape[1] * win.groups;
    if (win.groups < 1 || out_ch % win.groups != 0) {
      problem(who(n), fmt::format("has groups = {} with {} output channels; expected a positive divisor", win.groups, out_ch));
      return;
    }
    if (n.params.at("bias").size() != out_ch && n.params.at("bias").size() != 1)
      problem(who(n), fmt::format("bias has {} values; expected {} (one per output channel)", n.params.at("bias").size(), out_ch));
    // The spatial input: input_shape if given, else what flows in (channels first).
    Shape spatial;
    if (n.has("input_shape")) {
      for (double d : n.values("input_shape")) spatial.push_back(int64_t(d));
      if (spatial.size() == dims + 1) spatial.erase(spatial.begin());  // [C, ...] written by some exporters
    } else if (in.size() == dims + 1) {
      spatial.assign(in.begin() + 1, in.end());
    } else if (!in.empty() && element_count(in) % in_ch == 0 && dims == 1) {
      spatial = {element_count(in) / in_ch};
    }
    if (spatial.size() != dims) {
      problem(who(n), fmt::format("has no input_shape and receives {}; expected [{} , {}]", in.empty() ? "nothing" : shape_str(in),
                                  in_ch, dims == 1 ? "length" : "height, width"));
      return;
    }
    n.input_shape = {in_ch};
    n.input_shape.insert(n.input_shape.end(), spatial.begin(), spatial.end());
    if (oversized(n.input_shape)) return;  // reported by the caller
    const NirArray& pad = n.params.at("padding");
    if (pad.is_string()) {
      const std::string mode = pad.texts.empty() ? "" : pad.texts[0];
      win.padding.assign(dims, 0);
      if (mode == "same") {
        for (std::size_t d = 0; d < dims; ++d) {
          const int64_t total = win.dilation[d] * (win.kernel[d] - 1);
          if (win.stride[d] != 1 || total % 2 != 0) {
            problem(who(n), "has padding 'same' with a stride above 1 or an even kernel extent; expected symmetric "
                            "padding (give it as numbers)");
            return;
          }
          win.padding[d] = total / 2;
        }
      } else if (mode != "valid") {
        problem(who(n), fmt::format("has padding '{}'; expected numbers, 'same' or 'valid'", mode));
        return;
      }
    } else {
      win.padding = per_dim(n, "padding", dims);
    }
    n.output_shape = {out_ch};
    for (std::size_t d = 0; d < dims; ++d) {
      const int64_t extent = spatial[d] + 2 * win.padding[d] - win.dilation[d] * (win.kernel[d] - 1) - 1;
      if (win.stride[d] < 1 || win.dilation[d] < 1 || win.padding[d] < 0 || extent < 0) {
        problem(who(n), fmt::format("window (kernel {}, stride {}, padding {}, dilation {}) does not fit input {}",
                                    win.kernel[d], win.stride[d], win.padding[d], win.dilation[d], shape_str(n.input_shape)));
        return;
      }
      n.output_shape.push_back(extent / win.stride[d] + 1);
    }
    if (!in.empty() && element_count(in) != element_count(n.input_shape))
      problem(who(n), fmt::format("receives {} but its weight and input_shape expect {}", shape_str(in),
                                  shape_str(n.input_shape)));
  }

  void infer_pool(Node& n, const Shape& in) {
    if (in.size() != 3) {
      problem(who(n), fmt::format("receives {}; expected [channels, height, width]", in.empty() ? "nothing" : shape_str(in)));
      return;
    }
    Window& win = n.window;
    win.kernel = per_dim(n, "kernel_size", 2);
    win.stride = per_dim(n, "stride", 2);
    win.padding = per_dim(n, "padding", 2);
    win.dilation = {1, 1};
    n.input_shape = in;
    n.output_shape = {in[0]};
    for (std::size_t d = 0; d < 2; ++d) {
      const int64_t extent = in[d + 1] + 2 * win.padding[d] - win.kernel[d];
      if (win.kernel[d] < 1 || win.stride[d] < 1 || win.padding[d] < 0 || extent < 0) {
        problem(who(n), fmt::format("window (kernel {}, stride {}, padding {}) does not fit input {}", win.kernel[d],
                                    win.stride[d], win.padding[d], shape_str(in)));
        return;
      }
      n.output_shape.push_back(extent / win.stride[d] + 1);
    }
  }

  void infer_flatten(Node& n, const Shape& in) {
    Shape shape = in;
    if (n.has("input_type")) {
      Shape declared;
      for (double d : n.values("input_type")) declared.push_back(int64_t(d));
      if (oversized(declared)) {
        n.input_shape = declared;
        return;  // reported by the caller
      }
      if (!in.empty() && element_count(declared) != element_count(in))
        problem(who(n), fmt::format("declares input {} but receives {}", shape_str(declared), shape_str(in)));
      shape = declared;
    }
    if (shape.empty()) {
      problem(who(n), "receives nothing and declares no input_type; expected one of them");
      return;
    }
    const int64_t rank = int64_t(shape.size());
    int64_t start = int64_t(n.values("start_dim").at(0)), end = int64_t(n.values("end_dim").at(0));
    if (start < 0) start += rank;
    if (end < 0) end += rank;
    if (start < 0 || end >= rank || start > end) {
      problem(who(n), fmt::format("merges dimensions {}..{} of a rank-{} input {}; expected 0 <= start <= end < rank",
                                  n.values("start_dim").at(0), n.values("end_dim").at(0), rank, shape_str(shape)));
      return;
    }
    n.input_shape = shape;
    n.output_shape.assign(shape.begin(), shape.begin() + start);
    n.output_shape.push_back(std::accumulate(shape.begin() + start, shape.begin() + end + 1, int64_t(1), std::multiplies<>()));
    n.output_shape.insert(n.output_shape.end(), shape.begin() + end + 1, shape.end());
  }

  const NirFile& file_;
  Graph graph_;
  std::vector<std::string> problems_;
  std::map<std::string, Subgraph> subgraphs_;  // by prefix ("" = top level)
};

}  // namespace

Graph build_nir_graph(const NirFile& file) { return Builder(file).build(); }

std::string primitives_markdown() {
  std::string out = "| type | parameters (optional in italics) | computation |\n|---|---|---|\n";
  for (const Primitive& p : nir_primitives()) {
    std::vector<std::string> params;
    for (const ParamSpec& spec : p.params)
      params.push_back(spec.required ? fmt::format("`{}` {}", spec.name, spec.meaning)
                                     : fmt::format("*`{}` {}*", spec.name, spec.meaning));
    out += fmt::format("| `{}` | {} | {} |\n", p.type, fmt::join(params, "; "), p.computation);
  }
  return out;
}

std::string describe(const Graph& g) {
  std::string out;
  int recurrent = 0;
  for (const Edge& e : g.edges) recurrent += e.recurrent;
  out += fmt::format("{:<18} {}\n", "NIR graph:", g.path);
  out += fmt::format("{:<18} {}\n", "format version:", g.version.empty() ? "(not stated)" : g.version);
  out += fmt::format("{:<18} {}\n", "nodes:", g.nodes.size());
  out += fmt::format("{:<18} {} ({} recurrent)\n", "edges:", g.edges.size(), recurrent);
  out += fmt::format("{:<18} {}\n", "parameters:", g.parameter_count());
  for (int i : g.inputs) out += fmt::format("{:<18} '{}' {}\n", "input:", g.nodes[std::size_t(i)].id, shape_str(g.nodes[std::size_t(i)].output_shape));
  for (int o : g.outputs) out += fmt::format("{:<18} '{}' {}\n", "output:", g.nodes[std::size_t(o)].id, shape_str(g.nodes[std::size_t(o)].input_shape));

  out += fmt::format("\nnodes, in evaluation order:\n{:<24} {:<10} {:>16} {:>16} {:>10}  {}\n", "id", "type", "input", "output",
                     "params", "parameters");
  for (int idx : g.order) {
    const Node& n = g.nodes[std::size_t(idx)];
    std::vector<std::string> names;
    for (const auto& spec : primitive(n.op).params)
      if (n.has(spec.name)) {
        const NirArray& a = n.params.at(spec.name);
        if (a.is_string()) names.push_back(fmt::format("{}='{}'", spec.name, a.texts.empty() ? "" : a.texts[0]));
        else if (a.size() <= 2 && spec.kind != ParamKind::FloatArray) names.push_back(fmt::format("{}={}", spec.name, fmt::join(a.values, "x")));
        else if (a.size() == 1) names.push_back(fmt::format("{}={:g}", spec.name, a.values[0]));
        else names.push_back(fmt::format("{}{}", spec.name, shape_str(a.shape)));
      }
    out += fmt::format("{:<24} {:<10} {:>16} {:>16} {:>10}  {}\n", n.id, primitive(n.op).type, shape_str(n.input_shape),
                       shape_str(n.output_shape), n.parameter_count(), fmt::join(names, " "));
  }
  out += "\nedges:\n";
  for (const Edge& e : g.edges)
    out += fmt::format("  {} -> {}{}\n", g.nodes[std::size_t(e.from)].id, g.nodes[std::size_t(e.to)].id,
                       e.recurrent ? "   (recurrent: carries the previous step's output)" : "");
  const auto cycles = g.cycles();
  out += fmt::format("\ncycles: {}\n", cycles.empty() ? "none" : std::to_string(cycles.size()));
  for (const auto& c : cycles) out += fmt::format("  {}\n", fmt::join(c, " -> "));
  if (!g.notes.empty()) {
    out += "\nnotes:\n";
    for (const auto& n : g.notes) out += "  " + n + "\n";
  }
  return out;
}

}  // namespace spiketile::nir
