#include "rtl/loop/neuron_core_module.hpp"

#include <stdexcept>

namespace spiketile::rtl {

NeuronCoreModule::NeuronCoreModule(sc_core::sc_module_name name, std::unique_ptr<NeuronCoreBackend> backend,
                                   const sc_core::sc_time& clock_period)
    : sc_core::sc_module(name), backend_(std::move(backend)), period_(clock_period), busy_until_(sc_core::SC_ZERO_TIME) {
  if (!backend_) throw std::invalid_argument(std::string(this->name()) + ": no neuron core backend");
  if (period_ <= sc_core::SC_ZERO_TIME) throw std::invalid_argument(std::string(this->name()) + ": clock period must be > 0");
  SC_HAS_PROCESS(NeuronCoreModule);
  SC_METHOD(run);
  sensitive << work_;
  dont_initialize();
}

void NeuronCoreModule::push(Command command) {
  queue_.push_back(std::move(command));
  work_.notify(sc_core::SC_ZERO_TIME);   // ignored while run() sleeps on a timed next_trigger
}

void NeuronCoreModule::run() {
  ++activations_;
  const sc_core::sc_time now = sc_core::sc_time_stamp();
  if (now < busy_until_) {   // woken by new work while still busy: resume when the core is free
    next_trigger(busy_until_ - now);
    return;
  }
  if (queue_.empty()) {
    drained_.notify();
    next_trigger(work_);
    return;
  }
  // The core was idle since busy_until_: let those cycles pass on it (commands in flight drain).
  const auto idle = uint64_t((now - busy_until_) / period_);
  if (idle) backend_->idle(idle);
  const Command c = std::move(queue_.front());
  queue_.pop_front();
  const uint64_t cycles = execute(c);
  busy_until_ = now + double(cycles) * period_;
  if ((c.kind == Command::Kind::kTick || c.kind == Command::Kind::kReadout) && on_tick_) on_tick_(result_, busy_until_);
  if (busy_until_ > now) next_trigger(busy_until_ - now);
  else next_trigger(sc_core::SC_ZERO_TIME);
}

uint64_t NeuronCoreModule::execute(const Command& c) {
  switch (c.kind) {
    case Command::Kind::kEvent: return backend_->apply(c.event);
    case Command::Kind::kPartialSum: return backend_->add_partial_sum(c.neuron, c.partial_sum);
    case Command::Kind::kTick: return backend_->tick(result_);
    case Command::Kind::kReadout: return backend_->read_out(result_);
    case Command::Kind::kReset: return backend_->reset();
    case Command::Kind::kWeights: return backend_->set_weights(c.axon, c.neuron, c.weights.data(), int(c.weights.size()));
    case Command::Kind::kMultiplier: return backend_->set_multiplier(c.neuron, c.multiplier);
    case Command::Kind::kNeuronParams: return backend_->set_neuron_params(c.neuron, c.params);
    case Command::Kind::kParamReset: return backend_->reset_neuron_params();
  }
  return 0;
}

}  // namespace spiketile::rtl
