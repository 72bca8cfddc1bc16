// Two neuron core backends driven with the same stimulus (rtl/bench/stimulus.hpp), call by call,
// comparing every tick's spikes and membranes and every call's cycle count (writes of weights,
// multipliers and neuron parameters included: their effect shows in the ticks after them). This is the bench's
// check one level up: through NeuronCoreBackend, as a simulator would drive a core.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rtl/bench/stimulus.hpp"
#include "rtl/loop/neuron_core_backend.hpp"

namespace spiketile::rtl {

struct ComparisonOptions {
  uint64_t cycles = 1'000'000;   // stop starting new scenarios once backend a has run this many
  uint64_t seed = 1;
  Profile profile = Profile::kMixed;
  bool directed = true;          // the bench's directed scenarios first
  int max_report = 10;           // mismatch descriptions kept
  bool stop_at_first = false;
  // Called after every stimulus call with (backend a's cycles, cycles), for a progress line.
  std::function<void(uint64_t, uint64_t)> progress;
};

struct BackendRun {
  std::string backend, model;
  CoreCycleStats stats;
  double seconds = 0;            // time spent inside this backend's calls
};

struct ComparisonResult {
  uint64_t calls = 0, ticks = 0, spikes = 0;
  uint64_t mismatches = 0;       // ticks whose spikes or membranes differ, calls whose cycles differ, errors
  std::vector<std::string> reports;
  BackendRun a, b;
};

ComparisonResult compare_backends(NeuronCoreBackend& a, NeuronCoreBackend& b, const ComparisonOptions& opt);
std::string comparison_summary(const ComparisonResult& r);

}  // namespace spiketile::rtl
