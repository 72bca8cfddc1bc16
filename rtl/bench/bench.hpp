// Types shared by the RTL bench's driver (bench_driver.hpp) and its command line (rtl_bench.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "rtl/bench/core_reference.hpp"
#include "rtl/bench/stimulus.hpp"

namespace spiketile::rtl {

// One verilated build of rtl/neuron_core.sv: its parameters, as rtl/CMakeLists.txt passed them.
struct RtlModel {
  std::string name;       // "default", "small", "narrow", "small_m1", ...
  CoreGeometry geometry;
  int mutant = 0;         // MUTANT: the injected bug (rtl/README.md), 0 = the real design
};

struct BenchOptions {
  uint64_t cycles = 1'000'000;
  uint64_t seed = 1;
  Profile profile = Profile::kMixed;
  bool directed = true;
  int max_report = 10;         // mismatches printed; 0 also skips recording the neuron inputs
  bool stop_at_first = false;  // the mutation tests need one mismatch, not all of them
  // Breaks the port contract on purpose: weight writes also while the core is busy, which the
  // RTL's assertions must report.
  bool write_while_busy = false;
  // Where to write the run as a vector file for other simulators (rtl/bench/vector_file.hpp);
  // empty: none.
  std::string vectors_path;
};

// How often the stimulus reached each corner the issue asks for (counted on the reference, per
// neuron and tick), so a run shows it exercised them rather than only that nothing failed.
struct Corners {
  uint64_t at_threshold = 0;    // v + ((x - v) >> 1) == 256 exactly: fires
  uint64_t below_threshold = 0; // == 255: does not
  uint64_t current_max = 0, current_min = 0;   // requantizer saturated (or exactly at the rails)
  uint64_t membrane_min = 0;    // membrane at -2^(MEM_W-1)
  uint64_t acc_max = 0, acc_min = 0;           // accumulator at its rails
  uint64_t tie_pos = 0, tie_neg = 0;           // acc·m / 2^s exactly n.5, by sign
  uint64_t left_shift = 0;      // shift <= 0 with acc·m != 0
  uint64_t empty_ticks = 0;     // ticks with no event since the previous one
  uint64_t reset_in_tick = 0;   // resets while a tick was in the pipeline
  uint64_t readout_rail = 0;    // accumulators read out at either rail (partial sums saturate)
};

struct BenchStats {
  uint64_t cycles = 0, events = 0, ticks = 0, neuron_checks = 0, spikes = 0, resets = 0;
  uint64_t weight_words = 0, multiplier_writes = 0, sops = 0, mismatches = 0;
  uint64_t partial_sums = 0, readouts = 0;   // readouts are counted in ticks too
  uint64_t first_mismatch_cycle = 0;
  std::string first_mismatch_scenario;
  std::vector<std::string> skipped;
  Corners corners;
  double seconds = 0;
};

// Every verilated model (the SPIKETILE_RTL_MODEL table that rtl/CMakeLists.txt generates).
const std::vector<RtlModel>& rtl_models();
// The model of a configuration with mutant K (named <config>_m<K>); throws listing the models.
const RtlModel& find_rtl_model(const std::string& config, int mutant = 0);
// The self-checking bench on one model (rtl/bench/bench_driver.hpp).
BenchStats run_rtl_bench(const RtlModel& model, const BenchOptions& opt);
// "default      256 axons x  256 neurons,  16 lanes, w8 a8 acc32 mem16, mutant 0"
std::string describe_model(const RtlModel& model);
// The bench's summary (rtl/README.md "The bench"): totals, speed, corner coverage, skipped
// scenarios and, when opt.stop_at_first, the mutation check's verdict.
std::string bench_summary(const RtlModel& model, const BenchOptions& opt, const BenchStats& st);

}  // namespace spiketile::rtl
