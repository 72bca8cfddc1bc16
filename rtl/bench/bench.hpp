// Types shared by the RTL bench's driver (bench_driver.hpp) and its command line (rtl_bench.cpp).
#pragma once

#include <cstdint>
#include <functional>
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
  // Called every 16,384 checked cycles with (cycles checked, cycles to check), for a progress line.
  std::function<void(uint64_t, uint64_t)> progress;
};

// How often the stimulus reached each corner the issue asks for (counted on the reference, per
// neuron and tick), so a run shows it exercised them rather than only that nothing failed.
struct Corners {
  uint64_t at_threshold = 0;    // the integrated membrane exactly at theta (SpikeGPT: 256)
  uint64_t at_threshold_gt = 0; // of those, neurons firing at v > theta (they hold; >= fires)
  uint64_t below_threshold = 0; // theta - 1: does not fire
  uint64_t current_max = 0, current_min = 0;   // requantizer saturated (or exactly at the rails)
  uint64_t membrane_min = 0;    // membrane at -2^(MEM_W-1)
  uint64_t acc_max = 0, acc_min = 0;           // accumulator at its rails
  uint64_t tie_pos = 0, tie_neg = 0;           // acc·m / 2^s exactly n.5, by sign
  uint64_t left_shift = 0;      // shift <= 0 with acc·m != 0
  uint64_t empty_ticks = 0;     // ticks with no event since the previous one
  uint64_t reset_in_tick = 0;   // resets while a tick was in the pipeline
  uint64_t readout_rail = 0;    // accumulators read out at either rail (partial sums saturate)
  // The general neuron's modes (docs/numerics.md §4.8a), per neuron and tick unless said otherwise.
  uint64_t reset_to_value = 0, reset_subtract = 0;   // spikes by reset mode
  uint64_t subtract_saturated = 0;                   // of the subtract resets, v - theta past the rail
  uint64_t no_spike_mode = 0, no_spike_over = 0;     // reset_mode 2; of those, v at or above theta
  uint64_t membrane_clamp_max = 0, membrane_clamp_min = 0;   // v + ((u·dv) >> 12) beyond a rail
  uint64_t current_stage = 0;                        // current stage on with x != i (the delay shows)
  uint64_t syn_current_max = 0, syn_current_min = 0; // the synaptic current at a rail
  uint64_t integrator = 0;                           // leak off with v != 0 (the flag matters)
  uint64_t dv_zero = 0, dv_one = 0, di_zero = 0, di_one = 0;   // rates 0 and 1.0 (di: current stage on)
};

struct BenchStats {
  uint64_t cycles = 0, events = 0, ticks = 0, neuron_checks = 0, spikes = 0, resets = 0;
  uint64_t weight_words = 0, multiplier_writes = 0, sops = 0, mismatches = 0;
  uint64_t partial_sums = 0, readouts = 0;   // readouts are counted in ticks too
  uint64_t param_writes = 0, param_resets = 0;   // neuron parameter table entries, table resets
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
