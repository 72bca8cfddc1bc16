#include "compiler/nir/nir_lowering.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "compiler/tiling.hpp"

namespace spiketile {

int64_t nir_neuron_state_bytes_per_row(int membrane_bits, bool current) {
  const int64_t multiplier = 5;                                  // i32 mantissa + i8 shift
  const int64_t constants = (3 * int64_t(membrane_bits) + 31 + 7) / 8;  // the neuron parameter table's word
  const int64_t word = (membrane_bits + 7) / 8;
  return multiplier + constants + word * (current ? 2 : 1) + 1;  // + the last spike, for recurrent sends
}

namespace {

class NirLowering {
 public:
  NirLowering(const nir::Graph& graph, const nir::IntegerGraph& integer, const ChipSpec& chip, const std::string& yaml,
              const CompileOptions& options)
      : graph_(graph), g_(integer), chip_(chip), options_(options) {
    map_.kind = MappingKind::Nir;
    map_.config = ModelConfig{};
    map_.config.n_layer = 0;
    map_.config.n_embd = 0;
    map_.config.vocab_size = 0;
    const nir::IntegerOptions& o = integer.options();
    map_.quant.weight_bits = o.weight_bits;
    map_.quant.activation_bits = o.activation_bits;
    map_.quant.membrane_bits = o.membrane_bits;
    map_.model_source = graph.path;
    map_.chip_name = chip.name;
    map_.chip_yaml = yaml;
    map_.encoding_rule.graded_payload_bits = chip.core.activation_bits;
  }

  Mapping run() {
    describe_program();
    check_formats();
    for (const auto& d : g_.decisions()) note("quantization: " + d);
    note(map_.encoding_rule.describe());
    for (int t = 1; t < int(program().populations.size()); ++t) lower_population(t);
    connect();
    check_totals();
    if (!problems_.empty()) throw DoesNotFitError(chip_.name, problems_);
    return std::move(map_);
  }

 private:
  NirProgram& program() { return map_.nir; }
  void note(std::string s) { map_.decisions.push_back(std::move(s)); }
  void problem(std::string resource, std::string where, int64_t need, int64_t capacity, std::string fix) {
    problems_.push_back({std::move(resource), std::move(where), need, capacity, std::move(fix)});
  }

  // The program: populations (the readout as one more), projections side by side in each
  // target's column space, bias columns after them, and the host's output rule.
  void describe_program() {
    NirProgram& p = program();
    const nir::IntegerOptions& o = g_.options();
    p.source_path = graph_.path;
    p.dt = o.reference.dt;
    p.weight_bits = o.weight_bits;
    p.activation_bits = o.activation_bits;
    p.membrane_bits = o.membrane_bits;
    const nir::Node& input = graph_.nodes[std::size_t(graph_.inputs.at(0))];
    const nir::Node& output = graph_.nodes[std::size_t(graph_.outputs.at(0))];
    p.input_shape = input.output_shape;
    p.output_shape = output.input_shape;
    const auto& pops = g_.populations();
    if (pops.empty() || pops[0].op != nir::Op::Input)
      throw MappingError(fmt::format("{}: the integer model's first population is not the graph input", graph_.path));
    for (const nir::Population& pop : pops) {
      NirProgram::Population q;
      q.node = pop.node;
      q.type = nir::primitive(pop.op).type;
      q.size = pop.size;
      q.binary = pop.binary;
      q.scale = pop.scale;
      p.populations.push_back(q);
    }
    readout_ = -1;
    if (g_.output_kind() == nir::OutputKind::Readout) {
      NirProgram::Population r;
      r.node = output.id;
      r.type = "Readout";
      r.size = int64_t(g_.readout_scale().size());
      r.binary = false;
      readout_ = int(p.populations.size());
      p.populations.push_back(r);
    }
    for (const nir::Projection& proj : g_.projections()) {
      NirProgram::Projection q;
      q.source = proj.source;
      q.target = proj.target < 0 ? readout_ : proj.target;
      q.recurrent = proj.recurrent;
      q.spike_value = proj.spike_value;
      q.path = proj.path;
      q.synapses = proj.synapses();
      q.distinct_weights = proj.distinct_float_weights;
      if (q.recurrent && q.source == 0)
        throw MappingError(fmt::format("{}: a recurrent path from the graph input '{}' to '{}' is not mapped (the host "
                                       "writes the input of the current step only)",
                                       graph_.path, p.populations[0].node, p.populations[std::size_t(q.target)].node));
      NirProgram::Population& target = p.populations[std::size_t(q.target)];
      q.column_begin = target.columns;
      target.columns += pops[std::size_t(q.source)].size;
      p.projections.push_back(q);
    }
    for (std::size_t t = 1; t < pops.size(); ++t) {
      NirProgram::Population& target = p.populations[t];
      if (!pops[t].bias_weight.empty()) target.bias_column = target.columns++;
      if (!pops[t].late_bias_weight.empty()) target.late_bias_column = target.columns++;
    }
    switch (g_.output_kind()) {
      case nir::OutputKind::Readout:
        p.output = NirProgram::Output::Readout;
        p.output_population = readout_;
        p.output_scale = g_.readout_scale();
        p.output_bias = g_.readout_bias();
        break;
      case nir::OutputKind::Spikes:
      case nir::OutputKind::Membrane: {
        p.output = g_.output_kind() == nir::OutputKind::Spikes ? NirProgram::Output::Spikes : NirProgram::Output::Membrane;
        p.output_population = g_.output_population();
        if (p.output_population == 0)
          throw MappingError(fmt::format("{}: the graph's output is its input '{}': nothing runs on the chip", graph_.path,
                                         p.populations[0].node));
        const auto& pop = p.populations[std::size_t(p.output_population)];
        p.output_scale.assign(std::size_t(pop.size), p.output == NirProgram::Output::Spikes ? 1.0 : pop.scale);
        p.output_bias.assign(std::size_t(pop.size), 0.0);
        break;
      }
    }
    if (int64_t(p.output_scale.size()) != nir::element_count(p.output_shape))
      throw MappingError(fmt::format("{}: the output '{}' has {} elements, its readout {}", graph_.path, output.id,
                                     nir::element_count(p.output_shape), p.output_scale.size()));
    note(fmt::format("graph input '{}' {}: {} — the host writes each step's values into the tiles whose columns take "
                     "them (no core, no network traffic), as it writes SpikeGPT's embedding row",
                     input.id, nir::shape_str(p.input_shape),
                     pops[0].binary ? "binary spikes" : fmt::format("graded, {}-bit at {:g} per LSB", o.activation_bits, pops[0].scale)));
  }

  void check_formats() {
    const auto& core = chip_.core;
    const NirProgram& p = map_.nir;
    check_word_widths(chip_, p.weight_bits, p.membrane_bits, "every neuron", problems_);
    bool graded = !p.populations[0].binary;
    for (const auto& proj : p.projections) graded |= proj.spike_value > 1;
    if (graded && p.activation_bits > core.activation_bits)
      problem("graded event bits", "the graded inputs", p.activation_bits, core.activation_bits,
              fmt::format("compile with --activation-bits {}", core.activation_bits));
    if (!core.neuron_unit.supports("lif"))
      problem("neuron function 'lif'", "the neuron unit", 1, 0,
              "add it to core.neuron_unit.functions (the general neuron of NIR graphs extends the LIF datapath)");
  }

  // The largest |x| column c of `target` can carry: a spike 1 (or its graded value), a graded
  // input 2^(A-1), the bias inputs 1.
  std::vector<int64_t> column_magnitudes(int target) const {
    const NirProgram::Population& t = map_.nir.populations[std::size_t(target)];
    std::vector<int64_t> m(std::size_t(t.columns), 1);
    for (const auto& proj : map_.nir.projections) {
      if (proj.target != target) continue;
      const auto& src = map_.nir.populations[std::size_t(proj.source)];
      const int64_t x = !src.binary ? int64_t(1) << (map_.nir.activation_bits - 1) : proj.spike_value;
      std::fill(m.begin() + proj.column_begin, m.begin() + proj.column_begin + src.size, x);
    }
    return m;
  }

  void lower_population(int t) {
    const NirProgram& p = map_.nir;
    const NirProgram::Population& pop = p.populations[std::size_t(t)];
    const bool readout = t == readout_;
    const nir::Population* neurons = readout ? nullptr : &g_.populations()[std::size_t(t)];
    const int64_t rows = pop.size, cols = pop.columns;
    const std::string& base = pop.node;
    // The population's whole input matrix, dense as the crossbars hold it.
    std::vector<int8_t> w(std::size_t(rows * cols), 0);
    const int ti = readout ? -1 : t;
    int k = 0;
    for (const nir::Projection& proj : g_.projections()) {
      const NirProgram::Projection& placed = p.projections[std::size_t(k++)];
      if (proj.target != ti) continue;
      for (std::size_t r = 0; r < proj.rows.size(); ++r)
        for (const auto& [s, weight] : proj.rows[r])
          w[r * std::size_t(cols) + std::size_t(placed.column_begin + s)] = int8_t(weight);
    }
    if (neurons) {
      for (int64_t r = 0; r < rows && pop.bias_column >= 0; ++r)
        w[std::size_t(r * cols + pop.bias_column)] = int8_t(neurons->bias_weight[std::size_t(r)]);
      for (int64_t r = 0; r < rows && pop.late_bias_column >= 0; ++r)
        w[std::size_t(r * cols + pop.late_bias_column)] = int8_t(neurons->late_bias_weight[std::size_t(r)]);
    }
    const std::vector<int64_t> magnitude = column_magnitudes(t);
    auto worst_row = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      int64_t worst = 0;
      for (int64_t r = r0; r < r1; ++r) {
        int64_t s = 0;
        for (int64_t c = c0; c < c1; ++c) s += std::abs(int64_t(w[std::size_t(r * cols + c)])) * magnitude[std::size_t(c)];
        worst = std::max(worst, s);
      }
      return worst;
    };
    const int64_t capacity = (int64_t(1) << (chip_.core.accumulator_bits - 1)) - 1;
    if (const int64_t worst = worst_row(0, rows, 0, cols); worst > capacity)
      problem("accumulator range", base, worst, capacity,
              fmt::format("a {}-bit accumulator cannot hold the worst-case row sum; use more accumulator bits or fewer "
                          "weight/activation bits",
                          chip_.core.accumulator_bits));

    const bool current = neurons && std::any_of(neurons->params.begin(), neurons->params.end(),
                                                [](const q::NeuronParams& n) { return n.current; });
    const int64_t per_row = readout ? 0 : nir_neuron_state_bytes_per_row(p.membrane_bits, current);
    int64_t max_rows = chip_.core.crossbar.neurons;
    if (per_row > 0) max_rows = std::min<int64_t>(max_rows, chip_.core.state_sram.size_bytes / per_row);
    if (max_rows < 1) {
      problem("state SRAM bytes", base + " (one neuron)", per_row, chip_.core.state_sram.size_bytes, "a larger state SRAM");
      max_rows = 1;
    }
    const MatrixTiling tiling = tile_matrix(rows, cols, chip_.core.crossbar.axons, int(max_rows));
    std::vector<int> ids;
    int dropped = 0;
    for (const Tile& tile : tiling.tiles) {
      bool any = false;
      for (int64_t r = tile.out_begin; r < tile.out_end && !any; ++r)
        for (int64_t c = tile.in_begin; c < tile.in_end && !any; ++c) any = w[std::size_t(r * cols + c)] != 0;
      if (!any && !tile.reduces_partial_sums()) {
        ++dropped;
        continue;
      }
      Unit u = tile_unit(tile, tiling, w.data(), cols, p.weight_bits);
      u.kind = UnitKind::NirCrossbar;
      u.layer = t;
      u.op = Op::Head;  // unused by NIR units; a valid value for code that prints ops
      u.function = !tile.reduces_partial_sums() ? NeuronFunction::PartialSum
                   : readout                    ? NeuronFunction::NirReadout
                                                : NeuronFunction::NirNeuron;
      u.name = fmt::format("{}[{},{}]", base, tile.out_index, tile.in_index);
      if (u.function == NeuronFunction::NirNeuron) {
        const auto b = neurons->params.begin() + long(u.out_begin), e = neurons->params.begin() + long(u.out_end);
        add_multipliers(u, param::kOut, std::vector<q::Multiplier>(neurons->multiplier.begin() + long(u.out_begin),
                                                                   neurons->multiplier.begin() + long(u.out_end)));
        add_neuron_params(u, std::vector<q::NeuronParams>(b, e));
      }
      u.resources.state_bytes = u.reduces() ? u.rows() * per_row : 0;
      check_unit_resources(chip_, u, problems_);
      const int bits = signed_bits_for(worst_row(u.out_begin, u.out_end, u.in_begin, u.in_end), chip_.core.accumulator_bits);
      ids.push_back(add_unit(std::move(u)));
      partial_bits_.push_back(bits);
    }
    tiles_of_.resize(p.populations.size());
    tiles_of_[std::size_t(t)] = ids;
    for (int id : ids) {
      const Unit& u = map_.units[std::size_t(id)];
      if (u.reduces()) continue;
      const int reducer = reducer_of(t, u.out_index);
      map_.flows.push_back(make_flow(chip_, map_.encoding_rule, id, {reducer}, FlowRole::PartialSum, base + ".partial",
                                     u.out_begin, u.out_end, partial_bits_[std::size_t(id)], double(u.rows())));
      map_.nir.flow_projection.push_back(-1);
    }
    describe_population(t, tiling, dropped, per_row, max_rows);
  }

  void describe_population(int t, const MatrixTiling& tiling, int dropped, int64_t per_row, int64_t max_rows) {
    const NirProgram& p = map_.nir;
    const NirProgram::Population& pop = p.populations[std::size_t(t)];
    std::vector<std::string> columns;
    for (const auto& proj : p.projections) {
      if (proj.target != t) continue;
      const auto& src = p.populations[std::size_t(proj.source)];
      std::string shared;
      if (proj.synapses > proj.distinct_weights && proj.distinct_weights > 0)
        shared = fmt::format(", {} synapses from {} weights: shared weights unrolled, each stored {:.1f}× on average",
                             proj.synapses, proj.distinct_weights, double(proj.synapses) / double(proj.distinct_weights));
      columns.push_back(fmt::format("[{}, {}) from '{}'{}{}{}", proj.column_begin, proj.column_begin + src.size, src.node,
                                    proj.recurrent ? " (recurrent: its spikes of the previous step, sent as the step starts)" : "",
                                    proj.spike_value > 1 ? fmt::format(" (spikes as graded events of value {})", proj.spike_value) : "",
                                    shared));
    }
    if (pop.bias_column >= 0) columns.push_back(fmt::format("{} the always-on bias", pop.bias_column));
    if (pop.late_bias_column >= 0) columns.push_back(fmt::format("{} the recurrent bias, on from step 1", pop.late_bias_column));
    note(fmt::format("'{}' ({}, {} {}): a {}×{} input matrix, columns {} -> {} tile{} ({} row block{} × {} column block{}{}){}{}",
                     pop.node, pop.type, pop.size, t == readout_ ? "rows read by the host" : "neurons", pop.size, pop.columns,
                     fmt::join(columns, "; "), tiling.tiles.size() - std::size_t(dropped),
                     tiling.tiles.size() - std::size_t(dropped) == 1 ? "" : "s", tiling.out_tiles,
                     tiling.out_tiles == 1 ? "" : "s", tiling.in_tiles, tiling.in_tiles == 1 ? "" : "s",
                     dropped ? fmt::format("; {} tile{} without a weight not placed", dropped, dropped == 1 ? "" : "s") : "",
                     per_row > 0 ? fmt::format("; {} B of neuron state per row{}", per_row,
                                               max_rows < chip_.core.crossbar.neurons && pop.size > max_rows
                                                   ? fmt::format(", so row blocks of ≤ {} rows", max_rows)
                                                   : "")
                                 : "",
                     t == map_.nir.output_population ? "; its values go to the host every step (the graph output)" : ""));
  }

  int reducer_of(int population, int out_index) const {
    for (int id : tiles_of_[std::size_t(population)]) {
      const Unit& u = map_.units[std::size_t(id)];
      if (u.out_index == out_index && u.reduces()) return id;
    }
    throw MappingError(fmt::format("row block {} of '{}' has no reducing tile", out_index,
                                   map_.nir.populations[std::size_t(population)].node));
  }

  int add_unit(Unit u) {
    u.id = int(map_.units.size());
    map_.units.push_back(std::move(u));
    return map_.units.back().id;
  }

  // Spikes of every source population's reducers to the tiles whose columns take them: one flow
  // per projection and maximal run of neurons with the same destination tiles.
  void connect() {
    const NirProgram& p = map_.nir;
    int recurrent = 0;
    for (int k = 0; k < int(p.projections.size()); ++k) {
      const NirProgram::Projection& proj = p.projections[std::size_t(k)];
      if (proj.source == 0) continue;  // the host writes the graph input
      recurrent += proj.recurrent;
      std::vector<DestinationRange> ranges;
      for (int id : tiles_of_[std::size_t(proj.target)]) {
        const Unit& u = map_.units[std::size_t(id)];
        ranges.push_back({id, u.in_begin - proj.column_begin, u.in_end - proj.column_begin});
      }
      const bool graded = proj.spike_value > 1;
      const std::string tensor = fmt::format("{}->{}", p.populations[std::size_t(proj.source)].node,
                                             p.populations[std::size_t(proj.target)].node);
      for (int source : tiles_of_[std::size_t(proj.source)]) {
        const Unit& s = map_.units[std::size_t(source)];
        if (!s.reduces()) continue;
        for (const IndexRun& run : runs_by_destination(s.out_begin, s.out_end, ranges)) {
          map_.flows.push_back(make_flow(chip_, map_.encoding_rule, source, run.destinations,
                                         graded ? FlowRole::Activation : FlowRole::Spikes, tensor, run.begin, run.end,
                                         graded ? p.activation_bits : 0,
                                         options_.expected_firing_rate * double(run.end - run.begin)));
          map_.nir.flow_projection.push_back(k);
        }
      }
    }
    if (recurrent > 0)
      note(fmt::format("{} recurrent projection{}: a reducer keeps its last step's spikes and sends them as the next step "
                       "starts, so recurrent events never wait on the step that made them",
                       recurrent, recurrent == 1 ? "" : "s"));
  }

  void check_totals() {
    const int64_t units = int64_t(map_.units.size()), cores = chip_.total_cores();
    note(fmt::format("{} crossbar tiles, one per core; the system has {} cores ({} chip{} × {}×{})", units, cores,
                     chip_.system.chip_count, chip_.system.chip_count == 1 ? "" : "s", chip_.mesh.rows, chip_.mesh.cols));
    if (units > cores) {
      const int64_t chips = (units + chip_.cores_per_chip() - 1) / chip_.cores_per_chip();
      problem("cores", "the chip system", units, cores,
              fmt::format("{} crossbar tiles need one core each: use ≥ {} chips of this kind (system.chip_count), or "
                          "larger crossbars (fewer tiles per matrix)",
                          units, chips));
    }
  }

  const nir::Graph& graph_;
  const nir::IntegerGraph& g_;
  const ChipSpec& chip_;
  CompileOptions options_;
  Mapping map_;
  std::vector<FitProblem> problems_;
  int readout_ = -1;
  std::vector<std::vector<int>> tiles_of_;  // per population: its tiles' unit ids
  std::vector<int> partial_bits_;           // per unit
};

}  // namespace

Mapping lower_nir_to_units(const nir::Graph& graph, const nir::IntegerGraph& integer, const ChipSpec& chip,
                           const std::string& chip_yaml, const CompileOptions& options) {
  return NirLowering(graph, integer, chip, chip_yaml, options).run();
}

Mapping compile_nir(const nir::Graph& graph, const nir::IntegerGraph& integer, const ChipSpec& chip,
                    const std::string& chip_yaml, const CompileOptions& options) {
  return place_and_route(lower_nir_to_units(graph, integer, chip, chip_yaml, options), chip, options);
}

}  // namespace spiketile
