// A neuron core as a SystemC module: any NeuronCoreBackend (reference or verilated) behind a
// command queue, run by one SC_METHOD that wakes only when there is work and then sleeps for the
// cycles each command took on the core. No clock, no signal per neuron (stack.md A2): an idle
// core costs no kernel activations; time that passed while it waited is handed to the backend
// as idle(cycles), so the core's clock and SystemC time stay equal (cycles() == now / period).
#pragma once

#include <systemc>

#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "rtl/loop/neuron_core_backend.hpp"

namespace spiketile::rtl {

class NeuronCoreModule : public sc_core::sc_module {
 public:
  struct Command {
    enum class Kind { kEvent, kPartialSum, kTick, kReadout, kReset, kWeights, kMultiplier, kNeuronParams, kParamReset };
    Kind kind = Kind::kTick;
    AxonEvent event;                 // kEvent
    int neuron = 0;                  // kPartialSum, kMultiplier, kNeuronParams; kWeights: the first neuron
    int64_t partial_sum = 0;         // kPartialSum
    int axon = 0;                    // kWeights
    std::vector<int32_t> weights;    // kWeights
    q::Multiplier multiplier;        // kMultiplier
    q::NeuronParams params;          // kNeuronParams
  };
  // A tick's (or readout's) results and the time its last lane group left the core.
  using TickCallback = std::function<void(const TickResult& result, const sc_core::sc_time& done)>;

  NeuronCoreModule(sc_core::sc_module_name name, std::unique_ptr<NeuronCoreBackend> backend,
                   const sc_core::sc_time& clock_period);

  // Queue a command (from any process); the core starts it once the commands before it are done.
  void push(Command command);
  void on_tick(TickCallback callback) { on_tick_ = std::move(callback); }

  NeuronCoreBackend& backend() { return *backend_; }
  const sc_core::sc_time& clock_period() const { return period_; }
  // When the core's clock stands: the end of the last command it ran.
  const sc_core::sc_time& busy_until() const { return busy_until_; }
  uint64_t activations() const { return activations_; }
  // Notified when the core has finished every queued command.
  const sc_core::sc_event& drained() const { return drained_; }

 private:
  void run();
  uint64_t execute(const Command& c);

  std::unique_ptr<NeuronCoreBackend> backend_;
  sc_core::sc_time period_, busy_until_;
  std::deque<Command> queue_;
  sc_core::sc_event work_, drained_;
  TickCallback on_tick_;
  TickResult result_;
  uint64_t activations_ = 0;
};

}  // namespace spiketile::rtl
