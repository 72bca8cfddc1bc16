// NeuronCoreModule (one elaboration per process, so its own binary with sc_main): a reference and
// a verilated core side by side in one SystemC simulation, fed the same commands at the same
// times. Checks timing worked out by hand, then the bench's stimulus with its idle gaps: equal
// results at equal times, SystemC time equal to the cores' clocks, and no activations while idle.
#include <systemc>

#include <cstdio>
#include <deque>
#include <string>

#include "rtl/bench/stimulus.hpp"
#include "rtl/loop/neuron_core_module.hpp"

namespace {
using spiketile::rtl::NeuronCoreModule;
using Kind = NeuronCoreModule::Command::Kind;

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    if (failures <= 10) std::printf("FAIL: %s\n", what.c_str());
  }
}

struct Recorded {
  spiketile::rtl::TickResult result;
  sc_core::sc_time done;
};

NeuronCoreModule::Command from_op(const spiketile::rtl::Op& op, int lanes) {
  NeuronCoreModule::Command c;
  switch (op.type) {
    case spiketile::rtl::Op::Type::kEvent: c.kind = Kind::kEvent; c.event = op.event; break;
    case spiketile::rtl::Op::Type::kPartialSum: c.kind = Kind::kPartialSum; c.neuron = op.neuron; c.partial_sum = op.partial_sum; break;
    case spiketile::rtl::Op::Type::kTick: c.kind = Kind::kTick; break;
    case spiketile::rtl::Op::Type::kReadout: c.kind = Kind::kReadout; break;
    case spiketile::rtl::Op::Type::kReset: c.kind = Kind::kReset; break;
    case spiketile::rtl::Op::Type::kWeights: c.kind = Kind::kWeights; c.axon = op.axon; c.neuron = op.group * lanes; c.weights = op.weights; break;
    case spiketile::rtl::Op::Type::kMultiplier: c.kind = Kind::kMultiplier; c.neuron = op.neuron; c.multiplier = op.multiplier; break;
    case spiketile::rtl::Op::Type::kNeuronParams: c.kind = Kind::kNeuronParams; c.neuron = op.neuron; c.params = op.params; break;
    case spiketile::rtl::Op::Type::kParamReset: c.kind = Kind::kParamReset; break;
    case spiketile::rtl::Op::Type::kGap: break;   // handled by the driver as time
  }
  return c;
}

SC_MODULE(Driver) {
  std::vector<NeuronCoreModule*> cores;
  sc_core::sc_time period;
  uint64_t cycles_budget = 200'000;
  void both(const NeuronCoreModule::Command& c) {
    for (auto* core : cores) core->push(c);
  }
  void run() {
    // Hand-worked timing on `small` (2 lane groups), weights {3, -3} on row 0, multipliers 1:
    // event at 0 (1 cycle), tick right behind it: 1 wait + 1 accept + 5 drain, done at 8.
    NeuronCoreModule::Command c;
    c.kind = Kind::kWeights;
    c.weights = {3, -3};
    both(c);   // 1 word: cycle 0..1
    for (int n = 0; n < 8; ++n) {
      c.kind = Kind::kMultiplier;
      c.neuron = n;
      c.multiplier = {1 << 30, 30};
      both(c);   // cycles 1..9
    }
    c = {};
    c.kind = Kind::kEvent;
    c.event = {0, spiketile::rtl::EventKind::kGradedUnsigned, 100, false};
    both(c);   // accepted at cycle 9 -> 10
    c.kind = Kind::kTick;
    both(c);   // 7 cycles -> done at 17
    wait(100 * period);   // at 100: the core has been idle since 17 and must not have run
    const uint64_t activations = cores[0]->activations();
    c.kind = Kind::kEvent;
    both(c);   // 100 -> 101
    c.kind = Kind::kTick;
    both(c);   // -> 108
    wait(50 * period);
    check(cores[0]->activations() == activations + 3, "activations: 2 commands and the wake-up after the second, none while idle");

    // The bench's stimulus, its gaps as SystemC time.
    spiketile::rtl::Stimulus stim(cores[0]->backend().shape(), cores[0]->backend().geometry().lanes, 5,
                           spiketile::rtl::Profile::kMixed, true, cycles_budget);
    std::deque<spiketile::rtl::Op> ops;
    while (cores[0]->backend().cycles() < cycles_budget) {
      if (ops.empty()) stim.next_segment(ops);
      const spiketile::rtl::Op op = std::move(ops.front());
      ops.pop_front();
      if (op.type == spiketile::rtl::Op::Type::kGap) {
        wait(double(op.count) * period);
        continue;
      }
      both(from_op(op, cores[0]->backend().geometry().lanes));
      // A token's commands queue up; after its tick the driver waits for the cores, so that the
      // stimulus's gaps fall between commands as idle time.
      if (op.type == spiketile::rtl::Op::Type::kTick || op.type == spiketile::rtl::Op::Type::kReadout) wait(cores[0]->drained());
    }
  }
  SC_CTOR(Driver) { SC_THREAD(run); }
};
}  // namespace

int sc_main(int, char*[]) {
  const sc_core::sc_time period(2, sc_core::SC_NS);   // 500 MHz, chips/default.yaml
  const auto& model = spiketile::rtl::find_rtl_model("small");
  NeuronCoreModule reference("reference", spiketile::rtl::make_neuron_core_backend("reference", model), period);
  NeuronCoreModule verilated("verilated", spiketile::rtl::make_neuron_core_backend("verilated", model), period);
  std::vector<Recorded> ra, rb;
  reference.on_tick([&](const spiketile::rtl::TickResult& r, const sc_core::sc_time& t) { ra.push_back({r, t}); });
  verilated.on_tick([&](const spiketile::rtl::TickResult& r, const sc_core::sc_time& t) { rb.push_back({r, t}); });
  Driver driver("driver");
  driver.cores = {&reference, &verilated};
  driver.period = period;
  sc_core::sc_start();

  check(ra.size() >= 2 && ra[0].done == 17 * period && ra[0].result.membranes[0] == 150 &&
            ra[0].result.membranes[1] == -150,
        "first tick: done at cycle 17, v = 150 / -150");
  check(ra.size() >= 2 && ra[1].done == 108 * period && ra[1].result.membranes[0] == 225,
        "second tick after 83 idle cycles: done at cycle 108, v = 225");
  check(ra.size() == rb.size() && ra.size() > 100, "both cores ran every tick");
  uint64_t spikes = 0, readouts = 0;
  for (std::size_t i = 0; i < std::min(ra.size(), rb.size()); ++i) {
    spikes += uint64_t(ra[i].result.spike_count);
    readouts += !ra[i].result.accumulators.empty();
    check(ra[i].done == rb[i].done, "tick " + std::to_string(i) + " done at the same time");
    check(ra[i].result.spikes == rb[i].result.spikes && ra[i].result.membranes == rb[i].result.membranes &&
              ra[i].result.accumulators == rb[i].result.accumulators,
          "tick " + std::to_string(i) + " results equal");
  }
  check(spikes > 0 && readouts > 0, "the stimulus fired neurons and read accumulators out");
  for (auto* core : {&reference, &verilated}) {
    const double clock = core->busy_until() / period;
    check(double(core->backend().cycles()) == clock,
          std::string(core->name()) + ": backend clock " + std::to_string(core->backend().cycles()) +
              " equals SystemC time " + std::to_string(clock));
  }
  check(reference.backend().stats().idle_cycles > 0, "idle gaps reached the cores as idle cycles");
  std::printf("neuron core module: %zu ticks (%llu readouts, %llu spikes), %llu cycles, %llu idle (%llu evaluated), "
              "%llu activations: %s\n",
              ra.size(), (unsigned long long)readouts, (unsigned long long)spikes,
              (unsigned long long)reference.backend().cycles(),
              (unsigned long long)reference.backend().stats().idle_cycles,
              (unsigned long long)reference.backend().stats().idle_cycles_clocked,
              (unsigned long long)reference.activations(), failures ? "FAIL" : "PASS");
  return failures ? 1 : 0;
}
