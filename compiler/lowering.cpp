#include "compiler/lowering.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "chips/event_packet.hpp"
#include "compiler/tiling.hpp"
#include "models/op_rules.hpp"

namespace spiketile {

std::string FitProblem::str() const {
  return fmt::format("{} at {}: need {}, capacity {}{}", resource, where, need, capacity, fix.empty() ? "" : " — " + fix);
}

namespace {
std::string fit_message(const std::string& chip, const std::vector<FitProblem>& problems) {
  std::string s = fmt::format("the model does not fit chip '{}' ({} problem{}):", chip, problems.size(),
                              problems.size() == 1 ? "" : "s");
  for (const auto& p : problems) s += "\n  - " + p.str();
  return s;
}
}  // namespace

DoesNotFitError::DoesNotFitError(std::string chip, std::vector<FitProblem> problems)
    : MappingError(fit_message(chip, problems)), problems_(std::move(problems)) {}

int64_t state_bytes_per_row(NeuronFunction f, const QuantOptions& quant) {
  const int64_t multiplier = 5;                            // i32 mantissa + i8 shift
  const int64_t membrane = (quant.membrane_bits + 7) / 8;  // packed membrane
  switch (f) {
    case NeuronFunction::PartialSum: return 0;             // accumulators live in the accumulator array
    case NeuronFunction::Receptance:
    case NeuronFunction::AttKey:
    case NeuronFunction::FfnKeyRelu2: return multiplier;
    // a, b (i64), p (i32), time_first, time_decay (i32), staged k (i32) and r (u8).
    case NeuronFunction::AttValueWkvGate: return multiplier + 8 + 8 + 4 + 4 + 4 + 4 + 1;
    case NeuronFunction::AttOutputLif: return multiplier + membrane;
    case NeuronFunction::FfnValueGateLif: return multiplier + membrane + 1;  // + staged r
    case NeuronFunction::HeadLogits: return 0;             // logit scales stay on the host
    // NIR reducers keep their own state (compiler/nir/nir_lowering.hpp, nir_neuron_state_bytes_per_row).
    case NeuronFunction::NirNeuron:
    case NeuronFunction::NirReadout: return 0;
  }
  return 0;
}

int64_t residual_state_bytes_per_channel(const QuantOptions& quant) {
  const int64_t activation = (quant.activation_bits + 7) / 8;
  // x (i32, Q.12), the previous LN outputs of both token shifts, five mixes (Q0.10 in 16 bits).
  return 4 + 2 * activation + 5 * 2;
}

int64_t residual_parameter_bytes_per_channel(int layer_norms) { return int64_t(layer_norms) * 16; }

namespace {

struct MatrixSpec {
  Op op;
  const char* name;
  QuantizedSpikeGpt::Linear* linear;
  NeuronFunction function;
};

// Builds the units and flows of one model; collects fit problems instead of stopping at the first.
class Lowering {
 public:
  // consume: release each weight matrix (and move the embedding) as soon as it is lowered, so the
  // model and the mapping never both hold all the weights.
  Lowering(QuantizedSpikeGpt& m, bool consume, const ChipSpec& chip, const std::string& yaml, const CompileOptions& o)
      : m_(m), consume_(consume), chip_(chip), options_(o) {
    map_.config = m.config;
    map_.quant = m.options;
    map_.binary_embedding = m.binary_embedding;
    map_.rescale_every_6_layers = m.rescale_every_6_layers;
    map_.chip_name = chip.name;
    map_.chip_yaml = yaml;
    map_.encoding_rule.graded_payload_bits = chip.core.activation_bits;
    map_.host.embedding = consume ? std::move(m.embedding) : m.embedding;
    map_.host.head_logit_scale = m.head_logit_scale;
  }

  Mapping run() {
    check_formats();
    const int C = m_.config.n_embd, L = m_.config.n_layer;
    residual_slices_ = int((C + chip_.core.crossbar.neurons - 1) / chip_.core.crossbar.neurons);
    if (options_.residual_slices > residual_slices_) {
      residual_slices_ = std::min(options_.residual_slices, C);
      note(fmt::format("residual stream: {} slices per layer where {} would fit, so each does less LayerNorm and "
                       "token-shift work (objective latency)",
                       residual_slices_, int((C + chip_.core.crossbar.neurons - 1) / chip_.core.crossbar.neurons)));
    }
    note(fmt::format("residual stream: {} slice{} of ≤ {} channels per layer (one neuron per channel); x, the "
                     "token-shift history and the mixes in state SRAM ({} B/channel), LayerNorm constants in the "
                     "slice's unused synapse SRAM ({} B/channel per LayerNorm)",
                     residual_slices_, residual_slices_ == 1 ? "" : "s", (C + residual_slices_ - 1) / residual_slices_,
                     residual_state_bytes_per_channel(m_.options), residual_parameter_bytes_per_channel(1)));
    note(map_.encoding_rule.describe());
    for (int l = 0; l < L; ++l) lower_layer(l);
    lower_head();
    connect_layers();
    check_axon_queues();
    check_totals();
    if (!problems_.empty()) throw DoesNotFitError(chip_.name, problems_);
    return std::move(map_);
  }

 private:
  void note(std::string s) { map_.decisions.push_back(std::move(s)); }
  void problem(std::string resource, std::string where, int64_t need, int64_t capacity, std::string fix) {
    problems_.push_back({std::move(resource), std::move(where), need, capacity, std::move(fix)});
  }

  void check_formats() {
    const auto& core = chip_.core;
    check_word_widths(chip_, m_.options.weight_bits, m_.options.membrane_bits, "every LIF neuron", problems_);
    for (const char* fn : {"lif", "relu2"})
      if (!core.neuron_unit.supports(fn))
        problem(fmt::format("neuron function '{}'", fn), "the neuron unit", 1, 0,
                "add it to core.neuron_unit.functions (SpikeGPT needs lif and relu2)");
    for (int k = 0; k < kSfuCount; ++k)  // every special function the integer contract counts
      if (const char* op = sfu_name(Sfu(k)); !core.sfu.supports(op))
        problem(fmt::format("special function '{}'", op), "the SFU", 1, 0, "add it to core.sfu.ops");
  }

  // The largest |Σ w·x| a row of `lin` can reach over rows [r0, r1) and columns [c0, c1), for
  // inputs of `input_bits` (|x| ≤ 2^(input_bits-1)): Σ|w| · max|x| of the worst row.
  static int64_t worst_row_sum(const QuantizedSpikeGpt::Linear& lin, int64_t r0, int64_t r1, int64_t c0, int64_t c1,
                               int input_bits) {
    const int64_t max_input = int64_t(1) << (input_bits - 1);
    int64_t worst = 0;
    for (int64_t r = r0; r < r1; ++r) {
      int64_t s = 0;
      for (int64_t c = c0; c < c1; ++c) s += std::abs(int64_t(lin.w.q[std::size_t(r * lin.w.cols + c)]));
      worst = std::max(worst, s * max_input);
    }
    return worst;
  }

  // Worst-case |accumulator| of every row must fit the chip's accumulator: Σ|w| · max|x|.
  void check_accumulator(const std::string& name, const QuantizedSpikeGpt::Linear& lin, int input_bits) {
    const int64_t worst = worst_row_sum(lin, 0, lin.w.rows, 0, lin.w.cols, input_bits);
    const int64_t capacity = (int64_t(1) << (chip_.core.accumulator_bits - 1)) - 1;
    if (worst > capacity)
      problem("accumulator range", name, worst, capacity,
              fmt::format("a {}-bit accumulator cannot hold the worst-case row sum; use more accumulator bits or fewer "
                          "weight/activation bits", chip_.core.accumulator_bits));
  }

  // Bits of a two's-complement partial sum of tile `u`: its worst row over the tile's columns,
  // with the inputs check_accumulator() is given (the unsigned A-bit ReLU² outputs feeding
  // ffn.value as A + 1 bits), needs 1 + ceil(log2(worst + 1)) bits. At most the accumulator's
  // width, which check_accumulator() guarantees holds any row's sum.
  int partial_sum_bits(const QuantizedSpikeGpt::Linear& lin, const Unit& u, int input_bits) const {
    return signed_bits_for(worst_row_sum(lin, u.out_begin, u.out_end, u.in_begin, u.in_end, input_bits),
                           chip_.core.accumulator_bits);
  }

  int add_unit(Unit u) {
    u.id = int(map_.units.size());
    map_.units.push_back(std::move(u));
    return map_.units.back().id;
  }

  void check_unit(const Unit& u) { check_unit_resources(chip_, u, problems_); }

  // The residual slices of one layer.
  std::vector<int> lower_residual(int l) {
    const int C = m_.config.n_embd, L = m_.config.n_layer;
    const auto& ql = m_.layers[std::size_t(l)];
    std::vector<int> ids;
    for (int s = 0; s < residual_slices_; ++s) {
      Unit u;
      u.kind = UnitKind::Residual;
      u.layer = l;
      u.op = Op::Ln1;
      u.slice = s;
      u.slices = residual_slices_;
      u.out_begin = int64_t(C) * s / residual_slices_;
      u.out_end = int64_t(C) * (s + 1) / residual_slices_;
      u.in_begin = u.out_begin;
      u.in_end = u.out_end;
      u.name = fmt::format("L{}.residual[{}]", l, s);
      const auto b = std::size_t(u.out_begin), e = std::size_t(u.out_end);
      int norms = 0;
      auto add_ln = [&](const char* prefix, const q::LayerNormConstants& c) {
        u.params.push_back(make_param(std::string(prefix) + ".gain", std::vector<int64_t>(c.gain.begin() + b, c.gain.begin() + e)));
        u.params.push_back(make_param(std::string(prefix) + ".bias", std::vector<int64_t>(c.bias.begin() + b, c.bias.begin() + e)));
        ++norms;
      };
      if (l == 0) add_ln(param::kLn0, m_.ln0);
      add_ln(param::kLn1, ql.ln1);
      add_ln(param::kLn2, ql.ln2);
      if (l == L - 1) add_ln(param::kLnOut, m_.ln_out);
      auto add_mix = [&](const char* name, const std::vector<int32_t>& v) {
        u.params.push_back(make_param(name, std::vector<int32_t>(v.begin() + b, v.begin() + e)));
      };
      add_mix(param::kMixAttK, ql.att_mix_k);
      add_mix(param::kMixAttV, ql.att_mix_v);
      add_mix(param::kMixAttR, ql.att_mix_r);
      add_mix(param::kMixFfnK, ql.ffn_mix_k);
      add_mix(param::kMixFfnR, ql.ffn_mix_r);
      if (m_.config.spike_input_steps) {
        u.params.push_back(make_param(param::kSpikesAttMix, ql.att_mix_spikes));
        u.params.push_back(make_param(param::kSpikesFfnMix, ql.ffn_mix_spikes));
      }
      const int64_t n = u.out_end - u.out_begin;
      u.resources.neurons = n;
      u.resources.state_bytes = n * residual_state_bytes_per_channel(m_.options);
      u.resources.synapse_bytes = n * residual_parameter_bytes_per_channel(norms) +
                                  2 * 8 * int64_t(m_.config.spike_input_steps);  // the two threshold arrays
      check_unit(u);
      ids.push_back(add_unit(std::move(u)));
    }
    return ids;
  }

  // The tiles of one matrix; returns the unit ids in tile order (out-major).
  std::vector<int> lower_matrix(int l, const MatrixSpec& spec) {
    const auto& lin = *spec.linear;
    const std::string base = l >= 0 ? fmt::format("L{}.{}", l, spec.name) : std::string(spec.name);
    const auto& core = chip_.core;
    const int64_t per_row = state_bytes_per_row(spec.function, m_.options);
    // The gate multiplier (5 bytes) and, for a spike-input variant, its T spike thresholds (8 bytes each).
    const int64_t fixed = (spec.function == NeuronFunction::AttValueWkvGate || spec.function == NeuronFunction::FfnKeyRelu2)
                              ? 5 + 8 * int64_t(m_.config.spike_input_steps)
                              : 0;
    int64_t max_rows = core.crossbar.neurons;
    if (per_row > 0) max_rows = std::min<int64_t>(max_rows, (core.state_sram.size_bytes - fixed) / per_row);
    if (max_rows < 1) {
      problem("state SRAM bytes", base + " (one row)", per_row + fixed, core.state_sram.size_bytes, "a larger state SRAM");
      max_rows = 1;
    }
    if (max_rows < core.crossbar.neurons && lin.w.rows > max_rows)
      note(fmt::format("{}: row blocks of ≤ {} rows (not {}): {} keeps {} B of state per row in a {} B state SRAM", base,
                       max_rows, core.crossbar.neurons, neuron_function_name(spec.function), per_row,
                       core.state_sram.size_bytes));
    if (const auto split = options_.row_blocks.find({l, spec.op}); split != options_.row_blocks.end() && split->second > 1) {
      const int64_t rows = (lin.w.rows + split->second - 1) / split->second;
      if (rows < max_rows) {
        max_rows = std::max<int64_t>(1, rows);
        note(fmt::format("{}: row blocks of ≤ {} rows, {} or more blocks, to shorten the critical path: each block's "
                         "events read shorter rows and its neuron function (and SFU work) covers fewer of them "
                         "(objective latency)",
                         base, max_rows, split->second));
      }
    }
    const MatrixTiling t = tile_matrix(lin.w.rows, lin.w.cols, core.crossbar.axons, int(max_rows));
    note(fmt::format("{}: {}×{} weights -> {} tile{} ({} row block{} × {} column block{}){}", base, lin.w.rows, lin.w.cols,
                     t.tiles.size(), t.tiles.size() == 1 ? "" : "s", t.out_tiles, t.out_tiles == 1 ? "" : "s", t.in_tiles,
                     t.in_tiles == 1 ? "" : "s",
                     t.in_tiles > 1 ? fmt::format(", {} partial sums per token reduced at each row block's first tile",
                                                  t.partial_sums_per_token())
                                    : ""));
    std::vector<int> ids;
    for (const auto& tile : t.tiles) {
      Unit u = tile_unit(tile, t, lin.w.q.data(), lin.w.cols, m_.options.weight_bits);
      u.kind = UnitKind::Crossbar;
      u.layer = l;
      u.op = spec.op;
      u.function = tile.reduces_partial_sums() ? spec.function : NeuronFunction::PartialSum;
      u.name = fmt::format("{}[{},{}]", base, tile.out_index, tile.in_index);
      if (u.reduces() && u.function != NeuronFunction::HeadLogits)
        add_multipliers(u, param::kOut,
                        std::vector<q::Multiplier>(lin.out.begin() + tile.out_begin, lin.out.begin() + tile.out_end));
      if (u.function == NeuronFunction::AttValueWkvGate) {
        const auto& ql = m_.layers[std::size_t(l)];
        add_multipliers(u, param::kGate, {ql.att_gate});
        u.params.push_back(make_param(param::kTimeFirst, std::vector<int32_t>(ql.time_first.begin() + tile.out_begin,
                                                                              ql.time_first.begin() + tile.out_end)));
        u.params.push_back(make_param(param::kTimeDecay, std::vector<int32_t>(ql.time_decay.begin() + tile.out_begin,
                                                                              ql.time_decay.begin() + tile.out_end)));
        if (m_.config.spike_input_steps) u.params.push_back(make_param(param::kSpikesGate, ql.att_gate_spikes));
      }
      if (u.function == NeuronFunction::FfnKeyRelu2) {
        const auto& ql = m_.layers[std::size_t(l)];
        add_multipliers(u, param::kGate, {ql.ffn_hidden});
        if (m_.config.spike_input_steps) u.params.push_back(make_param(param::kSpikesGate, ql.ffn_hidden_spikes));
      }
      u.resources.state_bytes = u.reduces() ? u.rows() * per_row + fixed : 0;
      check_unit(u);
      ids.push_back(add_unit(std::move(u)));
    }
    // Partial sums of every non-reducing tile go to its row block's reducer, each as wide as the
    // tile's worst case needs (not the whole accumulator): fewer flits for the same bits.
    for (int id : ids) {
      const Unit& u = map_.units[std::size_t(id)];
      if (u.reduces() || u.function != NeuronFunction::PartialSum) continue;
      const int reducer = ids[std::size_t(u.out_index * t.in_tiles)];
      add_flow(id, {reducer}, FlowRole::PartialSum, base + ".partial", u.out_begin, u.out_end,
               partial_sum_bits(lin, u, m_.options.activation_bits + (spec.op == Op::FfnValue ? 1 : 0)),
               double(u.rows()));
    }
    if (consume_) std::vector<int8_t>().swap(spec.linear->w.q);
    return ids;
  }

  void add_flow(int source, std::vector<int> destinations, FlowRole role, const std::string& tensor, int64_t begin,
                int64_t end, int payload_bits, double events_per_token) {
    map_.flows.push_back(make_flow(chip_, map_.encoding_rule, source, std::move(destinations), role, tensor, begin, end,
                                   payload_bits, events_per_token));
  }

  // Connects `source` (producing indices [begin, end) of `tensor`) to every destination unit whose input
  // range overlaps, one flow per maximal run of indices with the same destination set.
  void fan_out(int source, int64_t begin, int64_t end, const std::vector<int>& destinations, bool by_output_range,
               FlowRole role, const std::string& tensor, int payload_bits, double density) {
    std::vector<DestinationRange> ranges;
    for (int d : destinations) {
      const Unit& u = map_.units[std::size_t(d)];
      ranges.push_back({d, by_output_range ? u.out_begin : u.in_begin, by_output_range ? u.out_end : u.in_end});
    }
    for (const IndexRun& run : runs_by_destination(begin, end, ranges))
      add_flow(source, run.destinations, role, tensor, run.begin, run.end, payload_bits,
               density * double(run.end - run.begin));
  }

  std::vector<int> reducers(const std::vector<int>& tiles) const {
    std::vector<int> r;
    for (int id : tiles)
      if (map_.units[std::size_t(id)].reduces()) r.push_back(id);
    return r;
  }

  void fan_out_all(const std::vector<int>& sources, const std::vector<int>& destinations, bool by_output_range,
                   FlowRole role, const std::string& tensor, int payload_bits, double density) {
    for (int s : sources) {
      const Unit& u = map_.units[std::size_t(s)];
      fan_out(s, u.out_begin, u.out_end, destinations, by_output_range, role, tensor, payload_bits, density);
    }
  }

  void lower_layer(int l) {
    auto& ql = m_.layers[std::size_t(l)];
    const int A = m_.options.activation_bits;
    const std::string p = fmt::format("L{}.", l);
    for (const auto* lin : {&ql.att_receptance, &ql.att_key, &ql.att_value, &ql.att_output, &ql.ffn_receptance, &ql.ffn_key})
      check_accumulator(p + "crossbar", *lin, A);
    check_accumulator(p + "ffn.value", ql.ffn_value, A + 1);  // h is unsigned A bits: |h| < 2^A

    const auto residual = lower_residual(l);
    residuals_.push_back(residual);
    const auto att_r = lower_matrix(l, {Op::AttReceptance, "att.receptance", &ql.att_receptance, NeuronFunction::Receptance});
    const auto att_k = lower_matrix(l, {Op::AttKey, "att.key", &ql.att_key, NeuronFunction::AttKey});
    const auto att_v = lower_matrix(l, {Op::AttValue, "att.value", &ql.att_value, NeuronFunction::AttValueWkvGate});
    const auto att_o = lower_matrix(l, {Op::AttOutput, "att.output", &ql.att_output, NeuronFunction::AttOutputLif});
    const auto ffn_r = lower_matrix(l, {Op::FfnReceptance, "ffn.receptance", &ql.ffn_receptance, NeuronFunction::Receptance});
    const auto ffn_k = lower_matrix(l, {Op::FfnKey, "ffn.key", &ql.ffn_key, NeuronFunction::FfnKeyRelu2});
    const auto ffn_v = lower_matrix(l, {Op::FfnValue, "ffn.value", &ql.ffn_value, NeuronFunction::FfnValueGateLif});

    const double spikes = options_.expected_firing_rate;
    // A projection input's payload and expected density: graded activations, or a spike-input
    // variant's counts (binary spikes carry no payload, like the LIF spikes, and fire about as often).
    const int T = m_.config.spike_input_steps;
    const int counts = T == 1 ? 0 : q::projection_input_bits(T, A);
    const double count_density = T == 1 ? spikes : 1.0;
    fan_out_all(residual, att_r, false, FlowRole::Activation, p + "att.xr", counts, count_density);
    fan_out_all(residual, att_k, false, FlowRole::Activation, p + "att.xk", counts, count_density);
    fan_out_all(residual, att_v, false, FlowRole::Activation, p + "att.xv", counts, count_density);
    fan_out_all(reducers(att_r), reducers(att_v), true, FlowRole::Receptance, p + "att.r", q::kSigmoidOutFrac + 1, 1.0);
    fan_out_all(reducers(att_k), reducers(att_v), true, FlowRole::Key, p + "att.k", rules::kKeyBits, 1.0);
    fan_out_all(reducers(att_v), att_o, false, FlowRole::Activation, p + "att.y", counts, count_density);
    fan_out_all(reducers(att_o), residual, true, FlowRole::Spikes, p + "att.spikes", 0, spikes);
    fan_out_all(residual, ffn_r, false, FlowRole::Activation, p + "ffn.xr", counts, count_density);
    fan_out_all(residual, ffn_k, false, FlowRole::Activation, p + "ffn.xk", counts, count_density);
    fan_out_all(reducers(ffn_r), reducers(ffn_v), true, FlowRole::Receptance, p + "ffn.r", q::kSigmoidOutFrac + 1, 1.0);
    fan_out_all(reducers(ffn_k), ffn_v, false, FlowRole::Activation, p + "ffn.h", counts, 0.25);
    fan_out_all(reducers(ffn_v), residual, true, FlowRole::Spikes, p + "ffn.spikes", 0, spikes);
    // LayerNorm statistics: every other slice -> the leader, the leader -> every other slice.
    if (residual.size() > 1) {
      const std::vector<int> others(residual.begin() + 1, residual.end());
      const int norms = 2 + (l == 0) + (l == m_.config.n_layer - 1);
      for (int s : others)
        add_flow(s, {residual[0]}, FlowRole::LnGather, p + "ln.partial", 0, 1, 64, 2.0 * norms - 1.0);
      add_flow(residual[0], others, FlowRole::LnScatter, p + "ln.stat", 0, 1, 64, 2.0 * norms - 1.0);
    }
  }

  void lower_head() {
    check_accumulator("head", m_.head, m_.options.activation_bits);  // before lowering may release the weights
    head_ = lower_matrix(-1, {Op::Head, "head", &m_.head, NeuronFunction::HeadLogits});
  }

  void connect_layers() {
    const int L = m_.config.n_layer;
    for (int l = 0; l + 1 < L; ++l)
      fan_out_all(residuals_[std::size_t(l)], residuals_[std::size_t(l) + 1], true, FlowRole::Residual,
                  fmt::format("L{}.x", l), 32, 1.0);
    fan_out_all(residuals_.back(), head_, false, FlowRole::Activation, "ln_out.z", m_.options.activation_bits, 1.0);
  }

  // A vector one reaction sends on a flow (up to the flow's index range) that is longer than the
  // destination's axon input queue cannot all wait there while the destination is busy: the rest
  // holds router buffers and, behind it, the sender's later packets to other destinations. A
  // multicast branch first waits in the destination router's branch buffer (one event per flit at
  // least). Not an error (the simulator runs it, slower); a decision line says how many flows and
  // how wide.
  void check_axon_queues() {
    const int64_t depth = chip_.core.axon_input_queue_depth;
    const int64_t branch = chip_.router.multicast_branch_buffer_flits;
    int64_t wider = 0, wider_than_branch = 0, widest = 0;
    for (const MappedFlow& f : map_.flows) {
      const int64_t width = f.index_end - f.index_begin;
      widest = std::max(widest, width);
      wider += width > depth;
      wider_than_branch += width > depth + branch;
    }
    if (wider == 0) {
      note(fmt::format("axon queues: every flow's vector (at most {} events) fits the {}-event axon input queue of its "
                       "destination, so a busy destination never holds up its sender's other flows",
                       widest, depth));
    } else if (branch == 0) {
      note(fmt::format("axon queues: {} of {} flows send vectors longer than the {}-event axon input queue (up to {} "
                       "events): while such a destination is busy the rest waits in router buffers and can hold up the "
                       "sender's packets to other destinations (core.axon_input_queue_depth; "
                       "router.multicast_branch_buffer_flits is 0)",
                       wider, map_.flows.size(), depth, widest));
    } else {
      note(fmt::format("axon queues: {} of {} flows send vectors longer than the {}-event axon input queue (up to {} "
                       "events); a multicast branch for a busy destination then waits in its router's {}-flit branch "
                       "buffer, and {} flow{} longer than the two together ({} events): those, and unicast flows "
                       "longer than the queue, can hold up the sender's packets to other destinations "
                       "(core.axon_input_queue_depth, router.multicast_branch_buffer_flits)",
                       wider, map_.flows.size(), depth, widest, branch, wider_than_branch,
                       wider_than_branch == 1 ? " is" : "s are", depth + branch));
    }
  }

  void check_totals() {
    const int64_t units = int64_t(map_.units.size()), cores = chip_.total_cores();
    int64_t tiles = 0;
    for (const auto& u : map_.units) tiles += u.kind == UnitKind::Crossbar;
    note(fmt::format("{} units, one per core: {} crossbar tiles + {} residual slices; the system has {} cores "
                     "({} chip{} × {}×{})",
                     units, tiles, units - tiles, cores, chip_.system.chip_count, chip_.system.chip_count == 1 ? "" : "s",
                     chip_.mesh.rows, chip_.mesh.cols));
    if (units > cores) {
      const int64_t chips = (units + chip_.cores_per_chip() - 1) / chip_.cores_per_chip();
      problem("cores", "the chip system", units, cores,
              fmt::format("{} crossbar tiles + {} residual slices need one core each: use ≥ {} chips of this kind "
                          "(system.chip_count), or larger crossbars (fewer tiles per matrix)",
                          tiles, units - tiles, chips));
    }
  }

  QuantizedSpikeGpt& m_;
  bool consume_ = false;
  const ChipSpec& chip_;
  CompileOptions options_;
  Mapping map_;
  std::vector<FitProblem> problems_;
  int residual_slices_ = 1;
  std::vector<std::vector<int>> residuals_;
  std::vector<int> head_;
};

}  // namespace

MappedFlow make_flow(const ChipSpec& chip, const ir::EncodingRule& rule, int source, std::vector<int> destinations,
                     FlowRole role, const std::string& tensor, int64_t begin, int64_t end, int payload_bits,
                     double events_per_token) {
  MappedFlow f;
  f.source = source;
  std::sort(destinations.begin(), destinations.end());
  f.destinations = std::move(destinations);
  f.role = role;
  f.tensor = tensor;
  f.index_begin = begin;
  f.index_end = end;
  f.payload_bits = payload_bits;
  // Spikes, and a binary spike-input variant's crossbar inputs (payload 0), are binary events.
  if (role == FlowRole::Spikes || (role == FlowRole::Activation && payload_bits == 0)) f.encoding = ir::Encoding::Binary;
  else if (role == FlowRole::Activation)
    f.encoding = payload_bits <= rule.graded_payload_bits ? ir::Encoding::Graded : ir::Encoding::BitSerial;
  else f.encoding = ir::Encoding::Wide;
  const double events = f.encoding == ir::Encoding::BitSerial ? events_per_token * payload_bits / 2.0 : events_per_token;
  const int payload = f.encoding == ir::Encoding::BitSerial ? 1 : payload_bits;
  // + one end-of-stream marker per token, so a destination knows the flow is complete.
  f.flits_per_token = (events + 1.0) * flits_per_packet(chip, payload);
  return f;
}

std::vector<IndexRun> runs_by_destination(int64_t begin, int64_t end, const std::vector<DestinationRange>& ranges) {
  std::set<int64_t> cuts{begin, end};
  for (const auto& d : ranges) {
    if (d.begin > begin && d.begin < end) cuts.insert(d.begin);
    if (d.end > begin && d.end < end) cuts.insert(d.end);
  }
  const std::vector<int64_t> edges(cuts.begin(), cuts.end());
  std::vector<IndexRun> runs;
  std::vector<int> current;
  int64_t run_begin = begin;
  for (std::size_t i = 0; i + 1 < edges.size(); ++i) {
    std::vector<int> set;
    for (const auto& d : ranges)
      if (d.begin < edges[i + 1] && d.end > edges[i]) set.push_back(d.unit);
    if (i > 0 && set != current) {
      if (!current.empty()) runs.push_back({run_begin, edges[i], current});
      run_begin = edges[i];
    }
    current = set;
  }
  if (!current.empty()) runs.push_back({run_begin, end, current});
  return runs;
}

int signed_bits_for(int64_t worst, int accumulator_bits) {
  int bits = 1;
  while (bits < accumulator_bits && worst > (int64_t(1) << (bits - 1)) - 1) ++bits;
  return bits;
}

Unit tile_unit(const Tile& tile, const MatrixTiling& tiling, const int8_t* matrix, int64_t matrix_cols, int weight_bits) {
  Unit u;
  u.in_begin = tile.in_begin;
  u.in_end = tile.in_end;
  u.out_begin = tile.out_begin;
  u.out_end = tile.out_end;
  u.in_index = tile.in_index;
  u.out_index = tile.out_index;
  u.in_tiles = tiling.in_tiles;
  u.out_tiles = tiling.out_tiles;
  std::vector<int8_t> w(std::size_t(u.rows() * u.cols()));
  for (int64_t r = 0; r < u.rows(); ++r)
    std::copy_n(matrix + (tile.out_begin + r) * matrix_cols + tile.in_begin, u.cols(), w.data() + r * u.cols());
  u.params.push_back(make_param(param::kWeights, w));
  u.resources.axons = u.cols();
  u.resources.neurons = u.rows();
  u.resources.synapse_bytes = (u.rows() * u.cols() * weight_bits + 7) / 8;
  return u;
}

void check_word_widths(const ChipSpec& chip, int weight_bits, int membrane_bits, const std::string& neurons,
                       std::vector<FitProblem>& problems) {
  const auto& core = chip.core;
  if (weight_bits > core.weight_bits)
    problems.push_back({"weight bits", "every crossbar", weight_bits, core.weight_bits,
                        fmt::format("compile with --weight-bits {} or use a chip whose cells hold {} bits", core.weight_bits,
                                    weight_bits)});
  if (membrane_bits > core.membrane_bits)
    problems.push_back({"membrane bits", neurons, membrane_bits, core.membrane_bits,
                        fmt::format("compile with --membrane-bits {}", core.membrane_bits)});
}

void check_unit_resources(const ChipSpec& chip, const Unit& u, std::vector<FitProblem>& problems) {
  const auto& core = chip.core;
  auto problem = [&](const char* resource, int64_t need, int64_t capacity, const char* fix) {
    if (need > capacity) problems.push_back({resource, u.name, need, capacity, fix});
  };
  problem("crossbar axons", u.resources.axons, core.crossbar.axons, "larger crossbars");
  problem("neurons", u.resources.neurons, core.crossbar.neurons, "larger crossbars");
  problem("synapse SRAM bytes", u.resources.synapse_bytes, core.synapse_sram.size_bytes,
          "a larger synapse SRAM or fewer weight bits");
  problem("state SRAM bytes", u.resources.state_bytes, core.state_sram.size_bytes, "a larger state SRAM");
}

Mapping lower_to_units(const QuantizedSpikeGpt& model, const ChipSpec& chip, const std::string& chip_yaml,
                       const CompileOptions& options) {
  return Lowering(const_cast<QuantizedSpikeGpt&>(model), false, chip, chip_yaml, options).run();
}

Mapping lower_to_units(QuantizedSpikeGpt&& model, const ChipSpec& chip, const std::string& chip_yaml,
                       const CompileOptions& options) {
  return Lowering(model, true, chip, chip_yaml, options).run();
}

Mapping compile_model(const QuantizedSpikeGpt& model, const ChipSpec& chip, const std::string& chip_yaml,
                      const CompileOptions& options) {
  return place_and_route(lower_to_units(model, chip, chip_yaml, options), chip, options);
}

Mapping compile_model(QuantizedSpikeGpt&& model, const ChipSpec& chip, const std::string& chip_yaml,
                      const CompileOptions& options) {
  return place_and_route(lower_to_units(std::move(model), chip, chip_yaml, options), chip, options);
}

namespace {

// Whether the routes can deadlock the network (routing.hpp, channel_dependency_cycle).
std::string deadlock_note(const RoutingTables& tables) {
  const auto cycle = channel_dependency_cycle(tables);
  if (cycle.empty())
    return "routing: the routes' channel dependencies are acyclic: no traffic and no buffer depth can deadlock the "
           "network";
  std::string links;
  for (std::size_t k = 0; k < cycle.size() && k < 8; ++k)
    links += fmt::format("{}router {} {}", k ? " → " : "", cycle[k].first, port_name(cycle[k].second));
  if (cycle.size() > 8) links += " → …";
  return fmt::format("routing: the routes' channel dependencies have a cycle of {} links ({}): heavy traffic can "
                     "deadlock the network (no virtual channels); the simulator's watchdog names the waiting buffers if "
                     "it does",
                     cycle.size(), links);
}

}  // namespace

Mapping place_and_route(Mapping m, const ChipSpec& chip, const CompileOptions& options) {
  const Topology topology(chip);
  const auto flows = to_placement_flows(m.flows);
  m.placement = place(topology, int(m.units.size()), flows, options.placement);
  m.unit_cores = m.placement.unit_cores;
  m.decisions.push_back("placement: " + m.placement.summary());
  RoutingOptions routing = options.routing;
  routing.enforce_table_capacity = false;
  RoutingTables tables = build_routing_tables(topology, m.unit_cores, flows, routing);
  m.decisions.push_back(tables.summary());
  m.decisions.push_back(deadlock_note(tables));
  m.routing_options = options.routing;
  m.routing_tables = std::move(tables.tables);
  if (options.routing.enforce_table_capacity && tables.max_table_entries > topology.routing_table_entries()) {
    const auto where = to_string(topology.coord(tables.max_table_router));
    throw DoesNotFitError(
        chip.name, {{"routing-table entries", "router " + where, tables.max_table_entries, topology.routing_table_entries(),
                     fmt::format("{} router{} over capacity; use more table entries (router.routing_table_entries), "
                                 "more chips to spread the units, or larger crossbars (fewer flows)",
                                 tables.routers_over_table_capacity, tables.routers_over_table_capacity == 1 ? "" : "s")}});
  }
  return m;
}

}  // namespace spiketile
