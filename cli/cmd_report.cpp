#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "cli/common.hpp"
#include "runtime/report.hpp"

namespace spiketile::cli {

namespace {
struct ReportOptions {
  std::string stats;
  std::string energy_table = std::string(SPIKETILE_SOURCE_DIR) + "/chips/energy/default.yaml";
  std::string convention_table = std::string(SPIKETILE_SOURCE_DIR) + "/chips/energy/45nm-horowitz.yaml";
  std::string chip;  // default: the stats' chip, else chips/default.yaml
  std::string gpu = "h100";
  std::string gpu_precision = "bf16";
  int batch = 8;
  std::string encoding = "graded";
  std::vector<std::string> gpu_measured;
  std::string json_out, csv_out, html_out;
  bool paper = false;
  bool quiet = false;
};

// "h100" names chips/gpu/h100.yaml; anything with a '/' or ending in .yaml is a path.
std::string gpu_path(const std::string& gpu) {
  if (gpu.find('/') != std::string::npos || gpu.find(".yaml") != std::string::npos) return gpu;
  const std::filesystem::path folder = std::filesystem::path(SPIKETILE_SOURCE_DIR) / "chips/gpu";
  const std::filesystem::path path = folder / (gpu + ".yaml");
  if (std::filesystem::exists(path)) return path.string();
  std::vector<std::string> known;
  for (const auto& entry : std::filesystem::directory_iterator(folder))
    if (entry.path().extension() == ".yaml") known.push_back(entry.path().stem().string());
  std::sort(known.begin(), known.end());
  throw std::invalid_argument(fmt::format("--gpu {}: no {} ; known GPUs: {} (or give a YAML path)", gpu,
                                          path.string(), fmt::join(known, ", ")));
}

void run(const ReportOptions& o) {
  ReportInputs in;
  in.stats = read_stats(o.stats);
  in.stats_path = o.stats;
  in.table = load_energy_table(o.energy_table);
  in.convention_table = load_energy_table(o.convention_table);
  std::string chip_path = o.chip;
  if (chip_path.empty())
    chip_path = in.stats.chip && !in.stats.chip->spec_path.empty()
                    ? in.stats.chip->spec_path
                    : std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml";
  in.chip = load_chip_spec(chip_path);
  const std::string gpu = gpu_path(o.gpu);
  std::vector<std::string> inputs{o.stats, o.energy_table, o.convention_table, chip_path, gpu};
  inputs.insert(inputs.end(), o.gpu_measured.begin(), o.gpu_measured.end());
  refuse_overwriting_inputs({o.json_out, o.csv_out, o.html_out}, inputs);
  for (const std::string& path : o.gpu_measured) {
    in.gpu_measured.push_back(read_gpu_measurement(path));
    require_same_model(in.gpu_measured.back(), in.stats.model, o.stats);
  }
  in.gpu = at_precision(load_gpu_spec(gpu), parse_gpu_precision(o.gpu_precision));
  in.gpu_precision = o.gpu_precision;
  in.batch = o.batch;
  in.encoding = parse_graded_encoding(o.encoding);
  // Every shipped energy table beside the chosen one (sorted by name, so the order is stable).
  std::vector<std::filesystem::path> shipped;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(SPIKETILE_SOURCE_DIR) / "chips/energy"))
    if (entry.path().extension() == ".yaml") shipped.push_back(entry.path());
  std::sort(shipped.begin(), shipped.end());
  for (const auto& path : shipped) in.side_by_side.push_back(load_energy_table(path.string()));
  const nlohmann::json report = build_report(in);
  if (!o.quiet) print_report_summary(stdout, report, o.paper);
  // All or none: a failing --html must not leave the --json of the same run behind.
  OutputBatch outputs;
  if (!o.json_out.empty()) outputs.open(o.json_out).write(report.dump(1) + "\n");
  if (!o.csv_out.empty()) outputs.open(o.csv_out).write(report_csv(report));
  if (!o.html_out.empty()) outputs.open(o.html_out).write(report_html(report));
  outputs.commit();
}
}  // namespace

void register_report(CLI::App& app) {
  auto opts = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand(
      "report", "Energy and operation report of a run (from 'run --stats' or the simulator) against a dense GPU "
                "baseline and the SpikeGPT paper's own comparison");
  cmd->add_option("--stats", opts->stats, "Statistics written by 'spiketile run --quantized --stats' or the simulator")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--energy-table", opts->energy_table, "Per-action energy table pricing the chip (chips/energy/*.yaml)")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  cmd->add_option("--convention-table", opts->convention_table,
                  "Table of the 45 nm E_MAC / E_AC convention, used for the dense baseline and paper mode")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  cmd->add_option("--chip", opts->chip,
                  "Chip description whose SRAM widths turn counted bits into accesses (default: the chip the stats "
                  "were simulated on, else chips/default.yaml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--gpu", opts->gpu, "GPU for the roofline baseline: h100, h200 (chips/gpu/NAME.yaml) or a YAML path")
      ->capture_default_str();
  cmd->add_option("--gpu-precision", opts->gpu_precision,
                  "Weight format of the dense GPU baseline: bf16 (2 bytes, 16-bit tensor peak), fp8 or int8 (1 byte, "
                  "the GPU's 8-bit tensor peak)")
      ->check(CLI::IsMember({"bf16", "fp8", "int8"}))
      ->capture_default_str();
  cmd->add_option("--batch", opts->batch, "Second GPU batch size (batch 1 is always reported)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--encoding", opts->encoding,
                  "Encoding of real-valued crossbar inputs when the stats do not fix it: graded (one event per "
                  "non-zero value) or bit_serial (one per set bit)")
      ->check(CLI::IsMember({"graded", "bit_serial"}))
      ->capture_default_str();
  cmd->add_option("--gpu-measured", opts->gpu_measured,
                  "GPU baselines measured on real boards by spiketile_gpu_bench --json (one or more files, of the "
                  "stats' model), shown beside the roofline")
      ->check(CLI::ExistingFile);
  cmd->add_option("--json", opts->json_out, "Write the full report as JSON (format spiketile-report-1)");
  cmd->add_option("--csv", opts->csv_out, "Write every figure of the report as CSV rows: quantity,value");
  cmd->add_option("--html", opts->html_out, "Write a self-contained HTML report with charts");
  cmd->add_flag("--paper", opts->paper, "Also print every reading of the paper's Table 1, its formulas and sources");
  add_quiet_flag(cmd, opts->quiet, "Do not print the summary");
  cmd->callback([opts] { run(*opts); });
}

}  // namespace spiketile::cli
