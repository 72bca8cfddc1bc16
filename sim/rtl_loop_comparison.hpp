// RTL in the loop against the plain simulation: the same mapping on two chips in one SystemC
// elaboration, one with the selected crossbar cores accumulating on the RTL neuron core
// (SimulatorOptions::rtl), stepped through the same tokens. Per token it compares every event each
// core sent (so a difference is named by core, unit and event), the logits, the sampled token,
// the spikes of every layer and the event counts. Used by tests/sim and `spiketile verify-rtl`.
//
// Build it at most once per process, before any other ChipSimulator runs (one elaboration).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "sim/chip_simulator.hpp"

namespace spiketile::sim {

struct LoopComparisonOptions {
  int tokens = 16;
  int prompt_tokens = 5;   // teacher-forced ids first, then the plain run's greedy choice
  RtlInTheLoop rtl{{"all"}};
  std::function<void(int, int)> progress;  // (tokens compared, tokens), after each token
};

struct LoopComparisonResult {
  bool pass = false;
  int tokens = 0;                 // compared (the run stops at the first differing token)
  std::string first_difference;   // "step S: core C (unit U): ...", empty when none
  int64_t differing_cores = 0;    // in the first differing step
  Cycle plain_cycles = 0, rtl_cycles = 0;   // chip cycles over the compared tokens
  double plain_seconds = 0, rtl_seconds = 0;
  RtlLoopStats rtl;
};

LoopComparisonResult compare_rtl_in_the_loop(std::shared_ptr<const Mapping> mapping, const LoopComparisonOptions& options);

// One line: PASS/FAIL, tokens, cycles of both runs, the RTL's neuron updates/s.
std::string loop_comparison_summary(const LoopComparisonResult& r);

}  // namespace spiketile::sim
