// The pieces of the energy report that every kind of run shares (runtime/report.cpp builds a
// SpikeGPT run's report from them, runtime/report_nir.cpp a NIR graph's): the chip's energy and
// time, each step's row, the mesh, the dense baselines and the chip set beside them. Internal to
// the report's sources.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>
#include <utility>

#include "runtime/report.hpp"

namespace spiketile {

ActionCounts& operator+=(ActionCounts& a, const ActionCounts& b);
ActionCounts scaled(ActionCounts a, double factor);
nlohmann::json actions_json(const ActionCounts& a);
// The measured network traffic (the run's StatsNetwork or one step's NetworkStepStats) as the
// actions that price it: the one place flit-hops, deliveries and inter-chip flits become energy.
template <class Traffic>
ActionCounts network_actions(const Traffic& t) {
  return {{"router.flit_hop", double(t.flit_hops)},
          {"router.flit_delivery", double(t.flits_delivered)},
          {"link.inter_chip_flit", double(t.inter_chip_flits)}};
}
// One breakdown row: its actions per step, priced.
nlohmann::json breakdown_row(nlohmann::json row, const ActionCounts& per_step, const EnergyTable& table);
// The GPU measurement files as the report shows them (null when none was given).
nlohmann::json measured_json(const std::vector<GpuMeasurement>& files);
// Every core's utilization and every link's flits (null without per-core counters).
nlohmann::json mesh_view(const ChipSpec& chip, const RunStats& s);

// The chip's energy over the run (dynamic from the actions, static from the simulated time and the
// tiles that drew power), per step, by component, with latency and throughput where measured.
nlohmann::json chip_section(const ReportInputs& in, const ActionCounts& run_actions, const std::string& counts_source,
                            const nlohmann::json& warnings);
// Each step's counts, dynamic energy, network traffic and cycles; `lif_share` of each step's neuron
// updates are LIF updates.
nlohmann::json per_step_rows(const ReportInputs& in, const ActionMapping& mapping, double lif_share);

// What a dense engine does per step: MACs, element-wise ops (and which), and the bytes of weights
// and recurrent state it moves (state_bytes: read and written, per sequence) and holds
// (state_held_bytes: one copy, per sequence).
struct DenseWork {
  double macs = 0, nonlinear_ops = 0;
  ActionCounts nonlinear;
  double weight_bytes = 0, state_bytes = 0, state_held_bytes = 0;
};
// Where a decode step of `batch` sequences reads the weights and state from: the L2 when they fit
// in what the GPU spec says data every SM reads can occupy (l2_cache.resident_mb), else device
// memory (docs/report.md §3).
struct WeightResidence {
  bool in_l2 = false;
  double held_bytes = 0;      // weights + batch × state_held_bytes
  double capacity_bytes = 0;  // l2_cache.resident_mb in bytes (0: the spec gives no L2)
  double bandwidth_tb_per_s = 0;
  BitEnergy energy;           // per bit read from there (not given: pj 0)
  std::string level() const { return in_l2 ? "L2" : "HBM"; }
};
WeightResidence weight_residence(const GpuSpec& gpu, const DenseWork& w, int batch);
// The assumptions the dense baseline's memory rests on, each with its figures: where the weights
// reside at every batch and why (the sizes compared), and the energy per bit of each level.
std::vector<std::string> memory_assumptions(const ReportInputs& in, const DenseWork& w);
// The report's "inputs" (stats, tables, chip, GPU, batch, encoding) and the GPU's "spec".
nlohmann::json inputs_json(const ReportInputs& in);
nlohmann::json gpu_spec_json(const ReportInputs& in);
// "compute 1.2 nJ (40.1%), synapse SRAM …": the chip's energy per step by component, in a line.
std::string components_line(const nlohmann::json& chip);
// "default 2.14 nJ (1×); loihi 18 nJ (8.42×); …": the chip's energy per step under every shipped
// energy table ("" when the report has none).
std::string side_by_side_line(const nlohmann::json& chip);

// Every core's counters priced per step (null without per-core counters).
nlohmann::json per_core_rows(const ReportInputs& in);

// The dense baseline's rows per step: {45 nm convention, GPU roofline}, at batch 1 and the report's
// batch; `prompt_tokens` steps known in advance run as one batched pass per sequence.
std::pair<nlohmann::json, nlohmann::json> dense_baseline_rows(const ReportInputs& in, const DenseWork& w,
                                                              int64_t prompt_tokens);
// The chip beside every dense baseline: energy, latency, throughput and EDP where a row has a time.
nlohmann::json versus_rows(const ReportInputs& in, const nlohmann::json& chip, double conv_compute_pj,
                           const nlohmann::json& convention, const nlohmann::json& roofline,
                           const nlohmann::json& measured, bool run_timed);

// A NIR graph's run (RunStats::nir): the same chip and baseline figures per time step and per
// inference (the whole input), by population; no paper section (runtime/report_nir.cpp).
nlohmann::json build_nir_report(const ReportInputs& in);
void print_nir_report_summary(std::FILE* out, const nlohmann::json& report);

}  // namespace spiketile
