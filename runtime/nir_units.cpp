#include "runtime/nir_units.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "models/op_rules.hpp"

namespace spiketile {

namespace {

class NirCrossbarUnit final : public UnitBehavior {
 public:
  NirCrossbarUnit(const Mapping& m, int id, const UnitLinks& links, TokenObservations& obs,
                  const AccumulatorEngineFactory& make_engine)
      : m_(m), p_(m.nir), u_(m.units[std::size_t(id)]) {
    observe_into(obs);
    const CrossbarTile tile = crossbar_tile(m, u_);
    engine_ = make_engine ? make_engine(tile) : make_cpp_accumulator_engine(tile);
    const auto rows = std::size_t(u_.rows());
    if (u_.function == NeuronFunction::NirNeuron) {
      spiked_.resize(rows);
      membranes_.resize(rows);
      current_stage_ = std::any_of(tile.neurons.begin(), tile.neurons.end(), [](const q::NeuronParams& n) { return n.current; });
    }
    acc_.resize(rows);
    const NirProgram::Population& target = p_.populations.at(std::size_t(u_.layer));
    binary_output_ = target.binary;
    to_host_ = u_.reduces() && u_.layer == p_.output_population;
    // The graph input's columns in this tile, and the bias columns.
    for (const auto& proj : p_.projections) {
      if (proj.target != u_.layer || proj.source != 0) continue;
      const int64_t b = std::max(u_.in_begin, proj.column_begin);
      const int64_t e = std::min(u_.in_end, proj.column_begin + p_.populations[0].size);
      if (b < e) input_columns_.push_back({b - u_.in_begin, b - proj.column_begin, e - b, proj.spike_value});
    }
    input_binary_ = p_.populations[0].binary;
    auto local = [&](int64_t column) { return column >= u_.in_begin && column < u_.in_end ? column - u_.in_begin : -1; };
    bias_col_ = target.bias_column < 0 ? -1 : local(target.bias_column);
    late_bias_col_ = target.late_bias_column < 0 ? -1 : local(target.late_bias_column);
    // Outgoing flows (sorted by role, then begin) and what each event on them is worth.
    for (const auto& o : links.outputs) {
      const int k = p_.flow_projection.at(std::size_t(o.flow));
      Out out{o.flow, o.begin, o.end, 1, false};
      if (k >= 0) {
        out.value = p_.projections[std::size_t(k)].spike_value;
        out.recurrent = p_.projections[std::size_t(k)].recurrent;
      }
      outputs_.push_back(out);
    }
    expected_partials_ = links.inputs_per_role[std::size_t(FlowRole::PartialSum)];
    expected_events_ = links.inputs_per_role[std::size_t(FlowRole::Spikes)] + links.inputs_per_role[std::size_t(FlowRole::Activation)];
    reset_state();
  }

  void reset_state() override {
    std::fill(spiked_.begin(), spiked_.end(), 0);
    steps_ = 0;
    engine_->reset_state();
  }

  AccumulatorEngine* engine() override { return engine_.get(); }

  NeuronView neurons() const override {
    if (membranes_.empty()) return {};
    return {spiked_.data(), membranes_.data(), int64_t(membranes_.size()), lif_updates_};
  }

  void start_token(UnitOutbox&) override {
    started_ = computed_ = finished_ = false;
    events_ended_ = partials_ended_ = 0;
    reset_work();
    events_out_ = lif_updates_ = 0;
  }

  void host_input(const int32_t* input, UnitOutbox& out) override {
    if (started_) throw MappingError(fmt::format("unit {} ({}) was started twice in one step", u_.id, u_.name));
    started_ = true;
    // Last step's spikes first: the recurrent events of this step.
    for (const Out& o : outputs_) {
      if (!o.recurrent) continue;
      for (int64_t j = o.begin; j < o.end; ++j)
        if (spiked_[std::size_t(j - u_.out_begin)]) send(o, j, out);
      end_stream(o, out);
    }
    for (const InputColumns& c : input_columns_)
      for (int64_t k = 0; k < c.count; ++k)
        if (const int32_t x = input[c.first_input + k]; x != 0)
          accumulate(int(c.first_column + k), x * c.spike_value, input_binary_ && c.spike_value == 1);
    if (bias_col_ >= 0) accumulate(int(bias_col_), 1, true);
    if (late_bias_col_ >= 0 && steps_ > 0) accumulate(int(late_bias_col_), 1, true);
    ++steps_;
    advance(out);
  }

  void receive(const UnitEvent& e, UnitOutbox& out) override {
    const MappedFlow& flow = m_.flows[std::size_t(e.flow)];
    const bool partial = flow.role == FlowRole::PartialSum;
    if (e.end_of_stream) {
      ++(partial ? partials_ended_ : events_ended_);
    } else if (partial) {
      if (e.index < u_.out_begin || e.index >= u_.out_end)
        throw MappingError(fmt::format("unit {} ({}): partial sum for row {} outside its rows [{}, {})", u_.id, u_.name,
                                       e.index, u_.out_begin, u_.out_end));
      engine_->partial_sum(int(e.index - u_.out_begin), e.value);
    } else {
      const auto& proj = p_.projections[std::size_t(p_.flow_projection[std::size_t(e.flow)])];
      const int64_t column = proj.column_begin + e.index;
      if (column < u_.in_begin || column >= u_.in_end)
        throw MappingError(fmt::format("unit {} ({}): an event of '{}' neuron {} lands in column {}, outside its columns "
                                       "[{}, {})",
                                       u_.id, u_.name, p_.populations[std::size_t(proj.source)].node, e.index, column,
                                       u_.in_begin, u_.in_end));
      accumulate(int(column - u_.in_begin), int32_t(e.value), flow.role == FlowRole::Spikes);
    }
    advance(out);
  }

  bool finished() const override { return finished_; }

  std::string waiting_for() const override {
    if (!started_) return "the step's start from the host";
    std::string s;
    if (events_ended_ < expected_events_) s += fmt::format(" spike streams {}/{} ended;", events_ended_, expected_events_);
    if (partials_ended_ < expected_partials_)
      s += fmt::format(" partial-sum streams {}/{} ended;", partials_ended_, expected_partials_);
    return s.empty() ? "nothing" : s;
  }

 private:
  struct InputColumns {
    int64_t first_column, first_input, count;
    int32_t spike_value;
  };
  struct Out {
    int flow;
    int64_t begin, end;
    int32_t value;     // what one spike is worth on this flow
    bool recurrent;
  };

  // One input event: column `col` of the tile carries x; the crossbar reads the column's weight
  // of every row (docs/numerics.md §5).
  void accumulate(int col, int32_t x, bool binary) {
    engine_->activation(col, x);
    Counts& c = counted();
    ++(binary ? c.events_binary : c.events_graded);
    (binary ? c.sop_binary : c.sop_graded) += u_.rows();
    c.synapse_read_bits += u_.rows() * p_.weight_bits;
  }

  void send(const Out& o, int64_t index, UnitOutbox& out) {
    out.send(u_.id, {o.flow, index, o.value, false});
    ++events_out_;
  }
  void end_stream(const Out& o, UnitOutbox& out) {
    out.send(u_.id, {o.flow, 0, 0, true});
    ++events_out_;
  }

  void advance(UnitOutbox& out) {
    if (finished_ || !started_) return;
    if (!computed_ && events_ended_ >= expected_events_) {
      computed_ = true;
      if (u_.function == NeuronFunction::PartialSum) {
        engine_->read_out(acc_.data());
        for (const Out& o : outputs_) {
          for (int64_t r = o.begin; r < o.end; ++r)
            if (const int64_t v = acc_[std::size_t(r - u_.out_begin)]; v != 0) out.send(u_.id, {o.flow, r, v, false}), ++events_out_;
          end_stream(o, out);
        }
        finished_ = true;
        return;
      }
    }
    if (!computed_ || partials_ended_ < expected_partials_) return;
    if (u_.function == NeuronFunction::NirReadout) {
      engine_->read_out(acc_.data());
      for (int64_t r = 0; r < u_.rows(); ++r) out.logit(u_.out_begin + r, acc_[std::size_t(r)]);
    } else {
      fire(out);
    }
    finished_ = true;
  }

  // The neurons run where the tile's accumulators are (the engine: the C++ rule or the RTL core).
  void fire(UnitOutbox& out) {
    const int64_t rows = u_.rows();
    engine_->fire_neurons(spiked_.data(), membranes_.data());
    auto& recorded = observations().population_values[std::size_t(u_.layer)];
    for (int64_t r = 0; r < rows; ++r) {
      const auto i = std::size_t(r);
      const int32_t value = binary_output_ ? int32_t(spiked_[i]) : membranes_[i];
      recorded[std::size_t(u_.out_begin + r)] = value;
      if (to_host_) out.logit(u_.out_begin + r, value);
    }
    for (const Out& o : outputs_) {
      if (o.recurrent) continue;
      for (int64_t j = o.begin; j < o.end; ++j)
        if (spiked_[std::size_t(j - u_.out_begin)]) send(o, j, out);
      end_stream(o, out);
    }
    // The requantization and the neuron update: two neuron-unit updates per row, as SpikeGPT's LIF
    // rows count (docs/numerics.md §5); the membrane (and the synaptic current) read and written.
    Counts& c = counted();
    c.neuron_updates += 2 * rows;
    lif_updates_ += rows;
    const int64_t state = rules::packed_bytes(rows, p_.membrane_bits) * (current_stage_ ? 2 : 1);
    c.state_read_bytes += state;
    c.state_write_bytes += state;
    for (uint8_t spike : spiked_) c.spikes += spike;
  }

  const Mapping& m_;
  const NirProgram& p_;
  const Unit& u_;
  std::unique_ptr<AccumulatorEngine> engine_;
  std::vector<uint8_t> spiked_;   // this row block's spikes of the last step
  std::vector<int32_t> membranes_;
  bool current_stage_ = false;
  std::vector<int64_t> acc_;
  std::vector<InputColumns> input_columns_;
  std::vector<Out> outputs_;
  int64_t bias_col_ = -1, late_bias_col_ = -1;
  bool input_binary_ = true, binary_output_ = true, to_host_ = false;
  int expected_events_ = 0, expected_partials_ = 0, events_ended_ = 0, partials_ended_ = 0;
  int64_t steps_ = 0;
  bool started_ = false, computed_ = false, finished_ = false;
};

}  // namespace

std::unique_ptr<UnitBehavior> make_nir_unit_behavior(const Mapping& mapping, int id, const UnitLinks& links,
                                                     TokenObservations& observations,
                                                     const AccumulatorEngineFactory& make_engine) {
  return std::make_unique<NirCrossbarUnit>(mapping, id, links, observations, make_engine);
}

}  // namespace spiketile
