// The "verilated" neuron core backend: the verilated --cc model of rtl/neuron_core.sv driven
// through its ports, one rising edge per clock() (a template: the port types differ with the
// widths). Instantiated per model in model_entry_<name>.cpp; created by make_verilated_backend().
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "rtl/bench/port_bits.hpp"
#include "rtl/bench/stimulus.hpp"   // encode_payload, neuron_param_fields
#include "rtl/loop/neuron_core_backend.hpp"
#include "verilated.h"

namespace spiketile::rtl {

template <typename V>
class VerilatedBackend final : public NeuronCoreBackend {
 public:
  explicit VerilatedBackend(const RtlModel& model)
      : NeuronCoreBackend("verilated", model.name, model.geometry), ctx_(make_core_context()) {
    dut_ = std::make_unique<V>(ctx_.get(), "core");
    power_on(*dut_, *ctx_);   // before cycle 0 of the backend's clock
  }
  // The model's scopes (the assertions' %m) unregister from the thread's current context, which
  // is whichever model was built last, possibly one already destroyed: make it this model's own
  // first (several cores in one process, torn down in any order).
  ~VerilatedBackend() override {
    Verilated::threadContextp(ctx_.get());
    dut_->final();
    dut_.reset();
  }

 protected:
  // cmd_ready depends on rst_n combinationally: asked for a cycle that is not a reset (reset()
  // drives its own), after a reset cycle it must see rst_n high.
  bool cmd_ready() const override {
    dut_->rst_n = 1;
    dut_->eval();
    return dut_->cmd_ready;
  }
  bool core_idle() const override { return dut_->idle; }

  int clock(const Drive& d, TickResult& out) override {
    const CoreShape& s = shape();
    const int lanes = geometry().lanes;
    dut_->rst_n = d.kind != Drive::Kind::kReset;
    const bool tick = d.kind == Drive::Kind::kTick || d.kind == Drive::Kind::kReadout;
    dut_->cmd_valid = tick || d.kind == Drive::Kind::kEvent || d.kind == Drive::Kind::kPartialSum;
    dut_->cmd_tick = tick;
    dut_->cmd_psum = d.kind == Drive::Kind::kPartialSum;
    if (d.kind == Drive::Kind::kEvent) {
      dut_->cmd_axon = d.event.axon;
      dut_->cmd_kind = uint8_t(d.event.kind);
      dut_->cmd_value = encode_payload(d.event, s.activation_bits);
    } else if (tick) {
      dut_->cmd_kind = uint8_t(d.kind == Drive::Kind::kReadout ? TickFunction::kReadout : TickFunction::kNeuron);
    } else if (d.kind == Drive::Kind::kPartialSum) {
      dut_->cmd_neuron = d.neuron;
      dut_->cmd_psum_value = uint32_t(uint64_t(d.partial_sum) & ((uint64_t(1) << s.accumulator_bits) - 1));
    }
    dut_->wr_en = d.kind == Drive::Kind::kWeightWord;
    if (dut_->wr_en) {
      const uint64_t wmask = (uint64_t(1) << s.weight_bits) - 1;
      dut_->wr_axon = d.axon;
      dut_->wr_group = d.group;
      clear_port(dut_->wr_weights);
      for (int l = 0; l < lanes; ++l) put_field(dut_->wr_weights, l * s.weight_bits, s.weight_bits, uint64_t(d.word[l]) & wmask);
    }
    dut_->mul_wr_en = d.kind == Drive::Kind::kMultiplier;
    if (dut_->mul_wr_en) {
      dut_->mul_wr_neuron = d.neuron;
      dut_->mul_wr_mantissa = uint32_t(d.multiplier.mantissa);
      dut_->mul_wr_shift = uint8_t(int8_t(d.multiplier.shift));
    }
    dut_->par_rst_n = d.kind != Drive::Kind::kParamReset;
    dut_->par_wr_en = d.kind == Drive::Kind::kNeuronParams;
    if (dut_->par_wr_en) {
      dut_->par_wr_neuron = d.neuron;
      put_fields(dut_->par_wr_data, neuron_param_fields(d.params, s.membrane_bits));
    }
    clock_edge(*dut_, *ctx_);
    if (assertion_failed(*ctx_))
      throw std::runtime_error("neuron core '" + model_name() + "' (verilated): an RTL assertion failed (its message "
                               "is above)");
    if (!dut_->out_valid) return -1;
    const int g = dut_->out_group, mem = s.membrane_bits, acc = s.accumulator_bits;
    if (g >= geometry().groups()) return g;   // a broken core: the protocol reports it
    const bool readout = !out.accumulators.empty();
    if (bool(dut_->out_readout) != readout)
      throw std::runtime_error("neuron core '" + model_name() + "' (verilated): out_readout=" +
                               std::to_string(dut_->out_readout) + " on a " + (readout ? "readout" : "LIF tick"));
    for (int l = 0; l < lanes; ++l) {
      const int n = g * lanes + l;
      out.spikes[n] = uint8_t(get_field(dut_->out_spikes, l, 1));
      out.membranes[n] = int32_t(sign_extend(get_field(dut_->out_membrane, l * mem, mem), mem));
      if (readout) out.accumulators[n] = sign_extend(get_field(dut_->out_acc, l * acc, acc), acc);
    }
    return g;
  }

 private:
  std::unique_ptr<VerilatedContext> ctx_;   // before the model: it must outlive it
  std::unique_ptr<V> dut_;
};

}  // namespace spiketile::rtl
