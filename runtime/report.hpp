// The energy and operation report: a run's statistics priced with a per-action energy table,
// beside a dense GPU baseline for the same model and tokens, and beside the SpikeGPT paper's
// own operation-count comparison (docs/report.md).
//
// Every figure is a count times a cited constant: counts come from the stats file
// (runtime/stats.hpp), constants from chips/energy/*.yaml and chips/gpu/*.yaml. What a level
// did not measure is listed as such, never reported as zero.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "chips/chip_spec.hpp"
#include "chips/energy_table.hpp"
#include "chips/gpu_spec.hpp"
#include "runtime/gpu_measured.hpp"
#include "runtime/spike_raster.hpp"
#include "runtime/stats.hpp"

namespace spiketile {

inline constexpr const char* kReportFormat = "spiketile-report-1";

// How real-valued crossbar inputs travel (docs/numerics.md §3): one graded event per non-zero
// value, or one bit-serial event per set bit.
enum class GradedEncoding { Graded, BitSerial };
GradedEncoding parse_graded_encoding(const std::string& name);  // "graded" | "bit_serial"
const char* graded_encoding_name(GradedEncoding e);

// Energy-table action -> how many times it happened (fractional where an access is charged pro
// rata, see chip_actions).
using ActionCounts = std::map<std::string, double>;

// The chip parameters the counts -> actions mapping needs.
struct ActionMapping {
  int synapse_read_width_bits = 64;
  int state_access_width_bits = 64;
  GradedEncoding encoding = GradedEncoding::Graded;
  // Bits of the weight one crossbar SOP reads: what a bit-serial event re-reads per set bit.
  int weight_bits = 8;
  // GPU baselines measured on real boards (bench/gpu), each of the stats' model (require_same_model).
  std::vector<GpuMeasurement> gpu_measured;
};
ActionMapping action_mapping(const ChipSpec& chip, GradedEncoding encoding);

// THE mapping from the functional model's counts to energy-table actions (docs/report.md §2):
// SOPs by encoding; LIF vs other neuron updates (lif_updates of c.neuron_updates are LIF);
// synapse reads = weight bits read / read width; state accesses = bytes × 8 / access width;
// core.event_out = events entering synapses in the chosen encoding plus binary events; SFU ops
// by name. Router and link actions come only from network statistics.
ActionCounts chip_actions(const Counts& c, double lif_updates, const ActionMapping& m);
// The same actions as a simulator core counted them.
ActionCounts core_actions(const CoreWork& core);

// Σ count × pJ over the actions (throws EnergyTableError for an action the table lacks).
double price_pj(const ActionCounts& actions, const EnergyTable& table);

// The paper's Table 1 (spikegpt.md §7.4) evaluated for one reading of it.
struct PaperSetting {
  double tokens = 3072;   // T
  double width = 512;     // d
  double rate = 0.15;     // R̂, one firing rate for every neuron
  double e_mac_pj = 4.5;
  double e_ac_pj = 0.9;
  int wkv_macs_per_channel = 6;      // SpikeGPT's f(R,K,V) term: 6Td ([ISSUE12]) or 7Td ([T-REIMPL])
  bool quadratic_attention = false;  // include vanilla attention's 2T²d + T² + 2T² rows
};
struct PaperEnergy {
  double vanilla_pj = 0, spikegpt_pj = 0;
  double ratio() const { return vanilla_pj / spikegpt_pj; }
};
PaperEnergy paper_table1(const PaperSetting& s);

struct ReportInputs {
  RunStats stats;
  std::string stats_path;
  EnergyTable table;             // prices the chip
  EnergyTable convention_table;  // the 45 nm E_MAC / E_AC convention, for the dense baseline and paper mode
  ChipSpec chip;
  GpuSpec gpu;                   // as the baseline runs it (at_precision applied)
  std::string gpu_precision = "bf16";
  int batch = 8;                 // the second GPU batch size (batch 1 is always reported)
  GradedEncoding encoding = GradedEncoding::Graded;
  // GPU baselines measured on real boards (bench/gpu), each of the stats' model (require_same_model).
  std::vector<GpuMeasurement> gpu_measured;
  // Every shipped energy table (chips/energy/): the run priced with each, side by side with
  // `table`, so a conclusion that holds under one calibration only shows as such.
  std::vector<EnergyTable> side_by_side;
  // One layer's spikes from the run's --spikes-out file, drawn as a raster (absent: none given).
  std::optional<SpikeRaster> raster;
};

// Builds the whole report as JSON (format kReportFormat, docs/report.md §5). Everything the text,
// CSV and HTML forms show is read from this object, so they cannot disagree.
nlohmann::json build_report(const ReportInputs& in);

// "GPU dense, 45 nm convention + DDR DRAM (Horowitz), batch 8": a gpu.convention_45nm row by name.
std::string convention_row_name(const nlohmann::json& row);
// "GPU dense, 45 nm convention + H100 L2, batch 8": the same row's data movement priced at the
// GPU's own memory where the weights reside (its gpu_memory object, which must not be null).
std::string gpu_memory_row_name(const std::string& gpu_name, const nlohmann::json& row);
// "NVIDIA H100 80GB HBM3 measured, fp16 graph, batch 8": a row of gpu.measured[].rows by name.
std::string measured_row_name(const nlohmann::json& file, const nlohmann::json& row);

// One line naming a measured GPU (gpu.measured[]): name, SMs, driver, CUDA, cuBLAS, clocks, date, file.
std::string measured_gpu_headline(const nlohmann::json& file);
// "1980/2619" (SM/memory MHz) or "-".
std::string measured_clocks(const nlohmann::json& clocks);

// 1234.5 pJ -> "1.23 nJ" (pJ, nJ, µJ, mJ).
std::string format_energy_pj(double pj);

// Per token, static beside dynamic with the power policy named, from a report's "chip" object:
// "dynamic 2.1 µJ, static 1.75 µJ (core gating: 49 of 256 tiles powered, 207 gated at 5 %), total 3.85 µJ".
std::string chip_energy_split(const nlohmann::json& chip);
// "7.1 µJ to 7.6 µJ per token where the sources disagree: router.flit_hop 9.6-13.5 pJ, …" (""
// when the report's table states no range for an action the run counted).
std::string energy_range_line(const nlohmann::json& chip, const std::string& step);

// The verdict (report["verdict"]): per baseline, each metric's winner, factor and the term behind
// each side, computed from the report's figures (runtime/report_verdict.cpp).
nlohmann::json report_verdict(const nlohmann::json& report);
// "energy per token: the chip wins, 112× lower (7.32 µJ vs 820 µJ); chip: ...; baseline: ...".
std::string verdict_sentence(const nlohmann::json& comparison);

void print_report_summary(std::FILE* out, const nlohmann::json& report, bool paper_detail);
std::string report_csv(const nlohmann::json& report);
std::string report_html(const nlohmann::json& report);

}  // namespace spiketile
