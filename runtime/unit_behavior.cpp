#include "runtime/unit_behavior.hpp"

#include "runtime/nir_units.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>

namespace spiketile {

namespace {
int64_t host_outputs(const Mapping& m) { return m.kind == MappingKind::Nir ? m.nir.output_size() : m.config.vocab_size; }
}  // namespace

TokenHost::TokenHost(const Mapping& m)
    : m_(m),
      accumulators_(std::size_t(host_outputs(m))),
      written_(std::size_t(host_outputs(m))),
      logits_(m.kind == MappingKind::Nir ? 0 : std::size_t(m.config.vocab_size)) {}

const int32_t* TokenHost::embedding_row(int token) const {
  return m_.host.embedding.data() + std::size_t(token) * std::size_t(m_.config.n_embd);
}

bool TokenHost::takes_embedding(int unit) const {
  if (m_.kind == MappingKind::Nir) return true;  // every NIR unit starts its step from the host (runtime/nir_units.hpp)
  const Unit& u = m_.units[std::size_t(unit)];
  return u.kind == UnitKind::Residual && u.layer == 0;
}

void TokenHost::start_token() { std::fill(written_.begin(), written_.end(), 0); }

void TokenHost::logit(int64_t vocab_index, int64_t accumulator) {
  accumulators_[std::size_t(vocab_index)] = accumulator;
  written_[std::size_t(vocab_index)] = 1;
}

const std::vector<float>& TokenHost::logits() {
  for (std::size_t v = 0; v < logits_.size(); ++v) {
    if (!written_[v])
      throw MappingError(fmt::format("token step produced no logit for vocabulary entry {}: no head tile covers it", v));
    logits_[v] = float(double(accumulators_[v]) * m_.host.head_logit_scale[v]);
  }
  return logits_;
}

const std::vector<int64_t>& TokenHost::outputs() const {
  for (std::size_t j = 0; j < written_.size(); ++j)
    if (!written_[j])
      throw MappingError(fmt::format("time step produced no value for output element {} of '{}': no tile covers it", j,
                                     m_.nir.populations.at(std::size_t(m_.nir.output_population)).node));
  return accumulators_;
}

int statistics_per_token(const Mapping& m, const MappedFlow& flow) {
  if (flow.role != FlowRole::LnGather && flow.role != FlowRole::LnScatter) return 0;
  const int layer = m.units[std::size_t(flow.source)].layer, L = m.config.n_layer;
  const int layer_norms = 2 + (layer == 0 ? 1 : 0) + (layer == L - 1 ? 1 : 0);
  return 2 * layer_norms;
}

const MappedFlow& flow_sent_by(const Mapping& m, int unit, const UnitEvent& event) {
  const auto& flow = m.flows[std::size_t(event.flow)];
  if (flow.source != unit)
    throw MappingError(fmt::format("unit {} sent on flow {}, which belongs to unit {}", unit, event.flow, flow.source));
  // A partial sum travels in as many bits as the compiler found its tile can need; a value outside
  // them would be cut off on the chip.
  if (flow.role == FlowRole::PartialSum && !event.end_of_stream && flow.payload_bits < 64) {
    const int64_t limit = int64_t(1) << (flow.payload_bits - 1);
    if (event.value < -limit || event.value >= limit)
      throw MappingError(fmt::format("unit {} sent partial sum {} on flow {} ({}), whose {}-bit events hold [{}, {}]", unit,
                                     event.value, event.flow, flow.tensor, flow.payload_bits, -limit, limit - 1));
  }
  return flow;
}

std::string unfinished_units(const Mapping& m, const std::vector<std::unique_ptr<UnitBehavior>>& units,
                             const std::function<std::string(int)>& where) {
  std::string s;
  for (std::size_t id = 0; id < units.size(); ++id)
    if (!units[id]->finished())
      s += fmt::format("\n  {} ({}) waits for {}", where(int(id)), m.units[id].name, units[id]->waiting_for());
  return s;
}

bool UnitBehavior::take_counted(Counts& delta) {
  delta = work_;
  delta -= counted_from_;
  counting_ = false;
  return true;
}

std::vector<UnitLinks> link_units(const Mapping& m) {
  std::vector<UnitLinks> links(m.units.size());
  for (std::size_t f = 0; f < m.flows.size(); ++f) {
    const auto& flow = m.flows[f];
    links[std::size_t(flow.source)].outputs.push_back({flow.role, flow.index_begin, flow.index_end, int(f)});
    const bool att_spikes = flow.role == FlowRole::Spikes && m.units[std::size_t(flow.source)].op == Op::AttOutput;
    for (int d : flow.destinations) {
      auto& in = links[std::size_t(d)];
      if (flow.role != FlowRole::LnGather && flow.role != FlowRole::LnScatter) ++in.inputs_per_role[std::size_t(flow.role)];
      if (att_spikes) ++in.incoming_att_spike_flows;
    }
  }
  for (auto& l : links)
    std::sort(l.outputs.begin(), l.outputs.end(), [](const auto& a, const auto& b) {
      return std::tie(a.role, a.begin) < std::tie(b.role, b.begin);
    });
  return links;
}

namespace {

template <class T>
std::vector<T> param_vector(const Unit& u, const std::string& name) {
  const auto& p = u.param(name);
  if (p.element_bytes() != int(sizeof(T)))
    throw MappingError(fmt::format("unit {} ({}): parameter '{}' has {}-byte elements, expected {}", u.id, u.name, name,
                                   p.element_bytes(), sizeof(T)));
  return std::vector<T>(p.data<T>(), p.data<T>() + p.count);
}

// Sending and stream bookkeeping shared by both unit kinds.
class LinkedUnit : public UnitBehavior {
 public:
  LinkedUnit(const Mapping& m, int id, const UnitLinks& links, TokenObservations& obs)
      : m_(m), u_(m.units[std::size_t(id)]), links_(links) {
    observe_into(obs);
  }

 protected:
  // Sends `value` at tensor index `index` on this unit's flow of `role` that carries it, if any
  // unit needs it; zeros are not sent. `dest_filter` narrows flows by their destinations' op.
  template <class Filter>
  void send_value(FlowRole role, int64_t index, int64_t value, UnitOutbox& out, Filter dest_filter) {
    if (value == 0) return;
    for (const auto& o : links_.outputs)
      if (o.role == role && index >= o.begin && index < o.end && dest_filter(o.flow)) {
        out.send(u_.id, {o.flow, index, value, false});
        ++events_out_;
        return;
      }
  }
  void send_value(FlowRole role, int64_t index, int64_t value, UnitOutbox& out) {
    send_value(role, index, value, out, [](int) { return true; });
  }
  template <class Filter>
  void end_streams(FlowRole role, UnitOutbox& out, Filter dest_filter) {
    for (const auto& o : links_.outputs)
      if (o.role == role && dest_filter(o.flow)) {
        out.send(u_.id, {o.flow, 0, 0, true});
        ++events_out_;
      }
  }
  void end_streams(FlowRole role, UnitOutbox& out) {
    end_streams(role, out, [](int) { return true; });
  }
  int expected(FlowRole role) const { return links_.inputs_per_role[std::size_t(role)]; }
  Op destination_op(int flow) const { return m_.units[std::size_t(m_.flows[std::size_t(flow)].destinations[0])].op; }

  const Mapping& m_;
  const Unit& u_;
  const UnitLinks& links_;
};

class CrossbarUnit final : public LinkedUnit {
 public:
  CrossbarUnit(const Mapping& m, int id, const UnitLinks& links, TokenObservations& obs,
               const AccumulatorEngineFactory& make_engine)
      : LinkedUnit(m, id, links, obs) {
    // The engine reads the weights where the mapping holds them: a level holds no second copy.
    const CrossbarTile tile = crossbar_tile(m, u_);
    engine_ = make_engine ? make_engine(tile) : make_cpp_accumulator_engine(tile);
    if (u_.reduces() && u_.function != NeuronFunction::HeadLogits) out_ = read_multipliers(u_, param::kOut);
    if (u_.function == NeuronFunction::AttValueWkvGate || u_.function == NeuronFunction::FfnKeyRelu2) {
      gate_ = read_multipliers(u_, param::kGate).at(0);
      if (m.config.spike_input_steps) spike_thresholds_ = param_vector<int64_t>(u_, param::kSpikesGate);
    }
    // A spike-input variant's counts: the bits its neuron functions put out, binary or not.
    const int T = m.config.spike_input_steps;
    projection_input_bits_ = q::projection_input_bits(T, m.quant.activation_bits);
    if (u_.function == NeuronFunction::AttValueWkvGate) {
      time_first_ = param_vector<int32_t>(u_, param::kTimeFirst);
      time_decay_ = param_vector<int32_t>(u_, param::kTimeDecay);
    }
    // Per-row state only where the function keeps it: at the 216M shape every byte per row is 0.7 MB.
    const auto rows = std::size_t(u_.rows());
    const bool wkv = u_.function == NeuronFunction::AttValueWkvGate, gate_lif = u_.function == NeuronFunction::FfnValueGateLif;
    acc_.resize(rows);
    if (u_.function == NeuronFunction::AttOutputLif || gate_lif) spikes_.resize(rows);
    if (wkv || gate_lif) r_.resize(rows);
    if (wkv) k_.resize(rows);
    reset_state();
  }

  [[noreturn]] void unused(FlowRole role) const {
    throw MappingError(fmt::format("unit {} ({}) received a {} event it has no use for", u_.id, u_.name,
                                   flow_role_name(role)));
  }

  void reset_state() override {
    const auto rows = std::size_t(u_.rows());
    if (u_.function == NeuronFunction::AttValueWkvGate) {
      a_.assign(rows, 0);
      b_.assign(rows, 0);
      p_.assign(rows, q::kWkvNegInf);
    }
    if (u_.function == NeuronFunction::FfnValueGateLif || u_.function == NeuronFunction::AttOutputLif)
      membrane_.assign(rows, 0);
    engine_->reset_state();
  }

  AccumulatorEngine* engine() override { return engine_.get(); }

  NeuronView neurons() const override {
    if (membrane_.empty()) return {};
    return {spikes_.data(), membrane_.data(), int64_t(membrane_.size()), lif_updates_};
  }

  void start_token(UnitOutbox&) override {
    std::fill(r_.begin(), r_.end(), 0);
    std::fill(k_.begin(), k_.end(), 0);
    ended_.fill(0);
    computed_ = finished_ = false;
    reset_work();
    events_out_ = lif_updates_ = 0;
  }

  void receive(const UnitEvent& e, UnitOutbox& out) override {
    const FlowRole role = m_.flows[std::size_t(e.flow)].role;
    if (e.end_of_stream) {
      ++ended_[std::size_t(role)];
    } else {
      switch (role) {
        case FlowRole::Activation:
          engine_->activation(int(local_input(e.index)), int32_t(e.value));
          if (m_.flows[std::size_t(e.flow)].encoding == ir::Encoding::Binary) {
            ++counted().events_binary;
            counted().sop_binary += u_.rows();
          } else {
            ++counted().events_graded;
            counted().sop_graded += u_.rows();
          }
          counted().synapse_read_bits += u_.rows() * m_.quant.weight_bits;
          if (u_.out_index == 0) observations().inputs(u_.layer, u_.op).add(int32_t(e.value));
          break;
        case FlowRole::PartialSum: engine_->partial_sum(int(local_row(e.index)), e.value); break;
        case FlowRole::Receptance:
          if (r_.empty()) unused(role);
          r_[local_row(e.index)] = int32_t(e.value);
          break;
        case FlowRole::Key:
          if (k_.empty()) unused(role);
          k_[local_row(e.index)] = int32_t(e.value);
          break;
        default:
          unused(role);
      }
    }
    advance(out);
  }

  bool finished() const override { return finished_; }

  std::string waiting_for() const override {
    std::string s;
    for (FlowRole role : {FlowRole::Activation, FlowRole::PartialSum, FlowRole::Receptance, FlowRole::Key})
      if (ended_[std::size_t(role)] < expected(role))
        s += fmt::format(" {} {}/{} streams ended;", flow_role_name(role), ended_[std::size_t(role)], expected(role));
    return s.empty() ? "nothing" : s;
  }

 private:
  std::size_t local_input(int64_t index) const {
    if (index < u_.in_begin || index >= u_.in_end)
      throw MappingError(fmt::format("unit {} ({}): input index {} outside its columns [{}, {})", u_.id, u_.name, index,
                                     u_.in_begin, u_.in_end));
    return std::size_t(index - u_.in_begin);
  }
  std::size_t local_row(int64_t index) const {
    if (index < u_.out_begin || index >= u_.out_end)
      throw MappingError(fmt::format("unit {} ({}): row index {} outside its rows [{}, {})", u_.id, u_.name, index,
                                     u_.out_begin, u_.out_end));
    return std::size_t(index - u_.out_begin);
  }
  bool all_ended(FlowRole role) const { return ended_[std::size_t(role)] >= expected(role); }

  void advance(UnitOutbox& out) {
    if (finished_) return;
    if (!computed_ && all_ended(FlowRole::Activation)) {
      computed_ = true;
      if (u_.function == NeuronFunction::PartialSum) {
        engine_->read_out(acc_.data());
        for (int64_t r = 0; r < u_.rows(); ++r) send_value(FlowRole::PartialSum, u_.out_begin + r, acc_[std::size_t(r)], out);
        end_streams(FlowRole::PartialSum, out);
        finished_ = true;
        return;
      }
    }
    if (!computed_ || !all_ended(FlowRole::PartialSum) || !all_ended(FlowRole::Receptance) || !all_ended(FlowRole::Key))
      return;
    // The LIF of att.output runs in the engine (the RTL core's tick); every other function needs the
    // raw accumulators (rtl/README.md, "Why partial sums and readout ticks").
    if (u_.function == NeuronFunction::AttOutputLif) engine_->fire_lif(spikes_.data(), membrane_.data());
    else engine_->read_out(acc_.data());
    fire(out);
    finished_ = true;
  }

  void fire(UnitOutbox& out) {
    const int A = m_.quant.activation_bits, M = m_.quant.membrane_bits;
    const int64_t rows = u_.rows();
    const int64_t membrane_bytes = rules::packed_bytes(rows, M);
    counted().neuron_updates += rows;
    switch (u_.function) {
      case NeuronFunction::Receptance:
        for (int64_t r = 0; r < rows; ++r)
          send_value(FlowRole::Receptance, u_.out_begin + r, rules::receptance(acc_[std::size_t(r)], out_[std::size_t(r)]), out);
        end_streams(FlowRole::Receptance, out);
        rules::count_receptance(counted(), rows);
        break;
      case NeuronFunction::AttKey:
        for (int64_t r = 0; r < rows; ++r)
          send_value(FlowRole::Key, u_.out_begin + r, rules::att_key(acc_[std::size_t(r)], out_[std::size_t(r)]), out);
        end_streams(FlowRole::Key, out);
        break;
      case NeuronFunction::AttValueWkvGate:
        for (int64_t r = 0; r < rows; ++r) {
          const auto i = std::size_t(r);
          const int32_t v = rules::att_value(acc_[i], out_[i]);
          const int32_t wkv = q::wkv_step_int(k_[i], v, time_first_[i], time_decay_[i], a_[i], b_[i], p_[i]);
          send_value(FlowRole::Activation, u_.out_begin + r, rules::att_gate(r_[i], wkv, gate_, A, spike_thresholds_), out);
        }
        end_streams(FlowRole::Activation, out);
        rules::count_wkv_and_gate(counted(), counted(), rows, projection_input_bits_);
        if (!spike_thresholds_.empty()) rules::count_spike_function(counted(), rows);
        break;
      case NeuronFunction::AttOutputLif:
      case NeuronFunction::FfnValueGateLif: {
        const bool att = u_.function == NeuronFunction::AttOutputLif;
        StepActivity& activity = observations().activity;
        auto& spikes = (att ? activity.spikes_att : activity.spikes_ffn)[std::size_t(u_.layer)];
        auto& membranes = (att ? activity.membrane_att : activity.membrane_ffn)[std::size_t(u_.layer)];
        for (int64_t r = 0; r < rows; ++r) {
          const auto i = std::size_t(r);
          const bool spike = att ? spikes_[i] != 0 : q::lif_step_int(membrane_[i], rules::ffn_current(r_[i], acc_[i], out_[i], M), M);
          spikes_[i] = uint8_t(spike);
          membranes[std::size_t(u_.out_begin + r)] = q::membrane_in_thresholds(membrane_[i]);
          if (spike) {
            spikes[std::size_t(u_.out_begin + r)] = 1;
            send_value(FlowRole::Spikes, u_.out_begin + r, 1, out);
          }
        }
        end_streams(FlowRole::Spikes, out);
        // The readout above, then the LIF update: two neuron-unit updates per row, as in §5.
        counted().neuron_updates += rows;
        lif_updates_ += rows;
        counted().state_read_bytes += membrane_bytes;
        counted().state_write_bytes += membrane_bytes;
        if (!att) rules::count_ffn_gate(counted(), rows);
        break;
      }
      case NeuronFunction::FfnKeyRelu2: {
        int nonzero = 0;
        for (int64_t r = 0; r < rows; ++r) {
          const int32_t h = rules::ffn_hidden(acc_[std::size_t(r)], out_[std::size_t(r)], gate_, A, spike_thresholds_);
          nonzero += h != 0;
          send_value(FlowRole::Activation, u_.out_begin + r, h, out);
        }
        observations().activity.relu2_nonzero[std::size_t(u_.layer)] += nonzero;
        end_streams(FlowRole::Activation, out);
        rules::count_relu2(counted(), rows, projection_input_bits_);
        if (!spike_thresholds_.empty()) rules::count_spike_function(counted(), rows);
        break;
      }
      case NeuronFunction::HeadLogits:
        for (int64_t r = 0; r < rows; ++r) out.logit(u_.out_begin + r, acc_[std::size_t(r)]);
        break;
      case NeuronFunction::PartialSum: break;
      case NeuronFunction::NirNeuron:
      case NeuronFunction::NirReadout:  // NIR tiles are runtime/nir_units.cpp's, never this class's
        throw MappingError(fmt::format("unit {} ({}): a NIR function on a SpikeGPT crossbar unit", u_.id, u_.name));
    }
  }

  std::unique_ptr<AccumulatorEngine> engine_;
  std::vector<q::Multiplier> out_;
  q::Multiplier gate_;
  std::vector<int64_t> spike_thresholds_;  // a spike-input variant's, on r·wkv or k²; empty otherwise
  int projection_input_bits_ = 8;
  std::vector<int32_t> time_first_, time_decay_;
  std::vector<int64_t> a_, b_;
  // membrane_: the channel mix's LIF (the gate r·acc runs outside the core), or the time mix's as
  // the engine reported it after its tick.
  std::vector<int32_t> p_, membrane_;
  std::vector<int32_t> r_, k_;
  std::vector<int64_t> acc_;
  std::vector<uint8_t> spikes_;
  std::array<int, 8> ended_{};
  bool computed_ = false, finished_ = false;
};

// A slice of one layer's residual stream: the token's program is a fixed sequence of steps, each
// waiting for its inputs; `advance` runs as far as the received events allow.
class ResidualUnit final : public LinkedUnit {
 public:
  ResidualUnit(const Mapping& m, int id, const UnitLinks& links, TokenObservations& obs) : LinkedUnit(m, id, links, obs) {
    const int L = m.config.n_layer;
    n_ = int(u_.out_end - u_.out_begin);
    auto load_ln = [&](const char* name, int slot) {
      ln_gain_[slot] = param_vector<int64_t>(u_, std::string(name) + ".gain");
      ln_bias_[slot] = param_vector<int64_t>(u_, std::string(name) + ".bias");
      if (int(ln_gain_[slot].size()) != n_ || int(ln_bias_[slot].size()) != n_)
        throw MappingError(fmt::format("unit {} ({}): LayerNorm '{}' constants do not cover its {} channels", u_.id, u_.name,
                                       name, n_));
    };
    if (u_.layer == 0) load_ln(param::kLn0, kSlotLn0);
    load_ln(param::kLn1, kSlotLn1);
    load_ln(param::kLn2, kSlotLn2);
    if (u_.layer == L - 1) load_ln(param::kLnOut, kSlotLnOut);
    mix_att_k_ = param_vector<int32_t>(u_, param::kMixAttK);
    mix_att_v_ = param_vector<int32_t>(u_, param::kMixAttV);
    mix_att_r_ = param_vector<int32_t>(u_, param::kMixAttR);
    mix_ffn_k_ = param_vector<int32_t>(u_, param::kMixFfnK);
    mix_ffn_r_ = param_vector<int32_t>(u_, param::kMixFfnR);
    if (m.config.spike_input_steps) {
      att_mix_spikes_ = param_vector<int64_t>(u_, param::kSpikesAttMix);
      ffn_mix_spikes_ = param_vector<int64_t>(u_, param::kSpikesFfnMix);
    }
    x_.resize(std::size_t(n_));
    z_.resize(std::size_t(n_));
    for (const auto& o : links.outputs)
      if (o.role == FlowRole::LnGather) gather_flow_ = o.flow;
      else if (o.role == FlowRole::LnScatter) scatter_flow_ = o.flow;
    reset_state();
  }

  void reset_state() override {
    prev_att_.assign(std::size_t(n_), 0);
    prev_ffn_.assign(std::size_t(n_), 0);
  }

  void start_token(UnitOutbox&) override {
    std::fill(x_.begin(), x_.end(), 0);
    step_ = u_.layer == 0 ? Step::WaitHost : Step::WaitResidual;
    residual_ended_ = att_spikes_ended_ = ffn_spikes_ended_ = 0;
    ln_phase_ = 0;
    gathered_.clear();
    scattered_.clear();
    reset_work();
    events_out_ = lif_updates_ = 0;
  }

  void host_input(const int32_t* embedding_row, UnitOutbox& out) override {
    if (step_ != Step::WaitHost)
      throw MappingError(fmt::format("unit {} ({}) got the embedding but does not expect it", u_.id, u_.name));
    std::copy_n(embedding_row + u_.out_begin, n_, x_.begin());
    step_ = Step::Ln0;
    advance(out);
  }

  void receive(const UnitEvent& e, UnitOutbox& out) override {
    const auto& flow = m_.flows[std::size_t(e.flow)];
    switch (flow.role) {
      case FlowRole::Residual:
        if (e.end_of_stream) ++residual_ended_;
        else x_[local(e.index)] = int32_t(e.value);
        break;
      case FlowRole::Spikes: {
        const bool att = m_.units[std::size_t(flow.source)].op == Op::AttOutput;
        if (e.end_of_stream) ++(att ? att_spikes_ended_ : ffn_spikes_ended_);
        else {
          x_[local(e.index)] += rules::kSpikeResidual;
          ++counted().events_binary;
          ++counted().sop_binary;
        }
        break;
      }
      case FlowRole::LnGather: gathered_.push_back(e.value); break;
      case FlowRole::LnScatter: scattered_.push_back(e.value); break;
      default:
        throw MappingError(fmt::format("unit {} ({}) received a {} event it has no use for", u_.id, u_.name,
                                       flow_role_name(flow.role)));
    }
    advance(out);
  }

  bool finished() const override { return step_ == Step::Done; }

  std::string waiting_for() const override {
    switch (step_) {
      case Step::WaitHost: return "the embedding from the host";
      case Step::WaitResidual:
        return fmt::format("x from the previous layer: {}/{} streams ended", residual_ended_, expected(FlowRole::Residual));
      case Step::WaitAttSpikes:
        return fmt::format("att spikes: {}/{} streams ended", att_spikes_ended_, links_.incoming_att_spike_flows);
      case Step::WaitFfnSpikes:
        return fmt::format("ffn spikes: {}/{} streams ended", ffn_spikes_ended_,
                           expected(FlowRole::Spikes) - links_.incoming_att_spike_flows);
      case Step::Done: return "nothing";
      default:
        return fmt::format("LayerNorm statistics (phase {}, {} gathered, {} scattered)", ln_phase_, gathered_.size(),
                           scattered_.size());
    }
  }

 private:
  enum class Step { WaitHost, Ln0, WaitResidual, Ln1, WaitAttSpikes, Ln2, WaitFfnSpikes, Finish, LnOut, Done };
  static constexpr int kSlotLn0 = 0, kSlotLn1 = 1, kSlotLn2 = 2, kSlotLnOut = 3;

  std::size_t local(int64_t index) const {
    if (index < u_.out_begin || index >= u_.out_end)
      throw MappingError(fmt::format("unit {} ({}): channel {} outside its slice [{}, {})", u_.id, u_.name, index,
                                     u_.out_begin, u_.out_end));
    return std::size_t(index - u_.out_begin);
  }

  // One distributed LayerNorm over all slices of the layer (docs/numerics.md §4.2, split as
  // q::ln_*): returns true once z_ holds this slice's output.
  bool layer_norm(int slot, const std::vector<int32_t>& in, int out_bits) {
    const int C = m_.config.n_embd;
    const bool leader = u_.slice == 0, alone = u_.slices == 1;
    const auto others = std::size_t(u_.slices - 1);
    auto combine = [&](int64_t mine, int64_t& total) {  // the leader's gather, or a follower's scatter
      if (alone) {
        total = mine;
        return true;
      }
      if (leader) {
        if (gathered_.size() < others) return false;
        total = mine;
        for (std::size_t i = 0; i < others; ++i) total += gathered_[i];
        gathered_.erase(gathered_.begin(), gathered_.begin() + long(others));
        return true;
      }
      if (scattered_.empty()) return false;
      total = scattered_.front();
      scattered_.pop_front();
      return true;
    };
    UnitOutbox& out = *outbox_;
    if (ln_phase_ == 0) {  // partial sum out
      partial_ = q::ln_partial_sum(in.data(), n_);
      if (!alone && !leader) send_statistic(gather_flow_, partial_, out);
      ln_phase_ = 1;
    }
    if (ln_phase_ == 1) {  // the mean
      int64_t total = 0;
      if (!combine(partial_, total)) return false;
      mean_ = leader ? q::ln_mean(total, C) : total;
      if (!alone && leader) send_statistic(scatter_flow_, mean_, out);
      partial_ = q::ln_partial_squares(in.data(), n_, mean_);
      if (!alone && !leader) send_statistic(gather_flow_, partial_, out);
      ln_phase_ = 2;
    }
    if (ln_phase_ == 2) {  // σ
      int64_t total = 0;
      if (!combine(partial_, total)) return false;
      const int64_t sigma = leader ? q::ln_sigma(total, C) : total;
      if (!alone && leader) send_statistic(scatter_flow_, sigma, out);
      q::ln_normalize(in.data(), n_, mean_, sigma, ln_gain_[slot].data(), ln_bias_[slot].data(), out_bits, false, z_.data());
      counted().sfu[int(Sfu::MeanVar)] += n_;
      counted().sfu[int(Sfu::Divide)] += n_;
      counted().sfu[int(Sfu::Rsqrt)] += leader ? 1 : 0;
      ln_phase_ = 0;
      return true;
    }
    return false;
  }

  void send_statistic(int flow, int64_t value, UnitOutbox& out) {
    out.send(u_.id, {flow, 0, value, false});
    ++events_out_;
  }

  template <class Filter>
  void send_vector(FlowRole role, const std::vector<int32_t>& v, UnitOutbox& out, Filter dest_filter) {
    for (int c = 0; c < n_; ++c) send_value(role, u_.out_begin + c, v[std::size_t(c)], out, dest_filter);
  }

  // The token shift's mixed vectors; a spike-input variant sends their spike counts (`spikes`).
  void token_shift(std::vector<int32_t>& prev, const std::vector<std::pair<const std::vector<int32_t>*, Op>>& outputs,
                   const std::vector<int64_t>& spikes, UnitOutbox& out) {
    std::vector<int32_t> mixed(static_cast<std::size_t>(n_));
    for (const auto& [mix, op] : outputs) {
      for (int c = 0; c < n_; ++c) {
        const int32_t v = q::token_shift_int(z_[std::size_t(c)], prev[std::size_t(c)], (*mix)[std::size_t(c)]);
        mixed[std::size_t(c)] = spikes.empty() ? v : q::spike_count(v, spikes);
      }
      auto to_op = [this, op = op](int flow) { return destination_op(flow) == op; };
      send_vector(FlowRole::Activation, mixed, out, to_op);
      end_streams(FlowRole::Activation, out, to_op);
    }
    prev = z_;
    const int T = m_.config.spike_input_steps;
    const int outputs_n = int(outputs.size());
    rules::count_token_shift(counted(), n_, m_.quant.activation_bits,
                             q::projection_input_bits(T, m_.quant.activation_bits), outputs_n);
    if (!spikes.empty()) rules::count_spike_function(counted(), int64_t(outputs_n) * n_);
  }

  void advance(UnitOutbox& out) {
    outbox_ = &out;
    const int A = m_.quant.activation_bits, L = m_.config.n_layer;
    auto to_head = [this](int flow) { return destination_op(flow) == Op::Head; };
    for (;;) {
      switch (step_) {
        case Step::WaitHost: return;
        case Step::Ln0: {
          const std::vector<int32_t> embedded = x_;
          if (!layer_norm(kSlotLn0, embedded, 32)) return;
          x_ = z_;
          step_ = Step::Ln1;
          break;
        }
        case Step::WaitResidual:
          if (residual_ended_ < expected(FlowRole::Residual)) return;
          step_ = Step::Ln1;
          break;
        case Step::Ln1:
          if (!layer_norm(kSlotLn1, x_, A)) return;
          token_shift(prev_att_, {{&mix_att_k_, Op::AttKey}, {&mix_att_v_, Op::AttValue}, {&mix_att_r_, Op::AttReceptance}},
                      att_mix_spikes_, out);
          step_ = Step::WaitAttSpikes;
          break;
        case Step::WaitAttSpikes:
          if (att_spikes_ended_ < links_.incoming_att_spike_flows) return;
          step_ = Step::Ln2;
          break;
        case Step::Ln2:
          if (!layer_norm(kSlotLn2, x_, A)) return;
          token_shift(prev_ffn_, {{&mix_ffn_k_, Op::FfnKey}, {&mix_ffn_r_, Op::FfnReceptance}}, ffn_mix_spikes_, out);
          step_ = Step::WaitFfnSpikes;
          break;
        case Step::WaitFfnSpikes:
          if (ffn_spikes_ended_ < expected(FlowRole::Spikes) - links_.incoming_att_spike_flows) return;
          if (m_.rescale_every_6_layers && (u_.layer + 1) % 6 == 0) {
            for (auto& v : x_) v = rules::rescale_residual(v);
            rules::count_rescale(counted(), n_);
          }
          step_ = u_.layer == L - 1 ? Step::LnOut : Step::Finish;
          break;
        case Step::Finish:
          send_vector(FlowRole::Residual, x_, out, [](int) { return true; });
          end_streams(FlowRole::Residual, out);
          step_ = Step::Done;
          break;
        case Step::LnOut:
          if (!layer_norm(kSlotLnOut, x_, A)) return;
          send_vector(FlowRole::Activation, z_, out, to_head);
          end_streams(FlowRole::Activation, out, to_head);
          step_ = Step::Done;
          break;
        case Step::Done: return;
      }
    }
  }

  int n_ = 0;
  std::array<std::vector<int64_t>, 4> ln_gain_, ln_bias_;
  std::vector<int32_t> mix_att_k_, mix_att_v_, mix_att_r_, mix_ffn_k_, mix_ffn_r_;
  std::vector<int64_t> att_mix_spikes_, ffn_mix_spikes_;  // a spike-input variant's thresholds; empty otherwise
  std::vector<int32_t> x_, z_, prev_att_, prev_ffn_;
  Step step_ = Step::WaitHost;
  int residual_ended_ = 0, att_spikes_ended_ = 0, ffn_spikes_ended_ = 0;
  int ln_phase_ = 0;
  int64_t partial_ = 0, mean_ = 0;
  std::deque<int64_t> gathered_, scattered_;
  int gather_flow_ = -1, scatter_flow_ = -1;
  UnitOutbox* outbox_ = nullptr;
};

}  // namespace

std::unique_ptr<UnitBehavior> make_unit_behavior(const Mapping& mapping, int id, const UnitLinks& links,
                                                 TokenObservations& observations,
                                                 const AccumulatorEngineFactory& make_engine) {
  switch (mapping.units[std::size_t(id)].kind) {
    case UnitKind::Crossbar: return std::make_unique<CrossbarUnit>(mapping, id, links, observations, make_engine);
    case UnitKind::Residual: return std::make_unique<ResidualUnit>(mapping, id, links, observations);
    case UnitKind::NirCrossbar: return make_nir_unit_behavior(mapping, id, links, observations, make_engine);
  }
  throw MappingError(fmt::format("unit {} has an unknown kind", id));
}

}  // namespace spiketile
