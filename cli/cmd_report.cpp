#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "cli/common.hpp"
#include "runtime/report.hpp"
#include "runtime/report_request.hpp"

namespace spiketile::cli {

namespace {
struct ReportOptions {
  ReportRequest request;
  std::string json_out, csv_out, html_out;
  bool paper = false;
  bool quiet = false;
};

void run(const ReportOptions& o) {
  std::vector<std::string> inputs;
  const ReportInputs in = report_inputs(o.request, &inputs);
  refuse_overwriting_inputs({o.json_out, o.csv_out, o.html_out}, inputs);
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
  cmd->add_option("--stats", opts->request.stats, "Statistics written by 'spiketile run --quantized --stats' or the simulator")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--energy-table", opts->request.energy_table, "Per-action energy table pricing the chip (chips/energy/*.yaml)")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  cmd->add_option("--convention-table", opts->request.convention_table,
                  "Table of the 45 nm E_MAC / E_AC convention, used for the dense baseline and paper mode")
      ->check(CLI::ExistingFile)
      ->capture_default_str();
  cmd->add_option("--chip", opts->request.chip,
                  "Chip description whose SRAM widths turn counted bits into accesses (default: the chip the stats "
                  "were simulated on, else chips/default.yaml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--gpu", opts->request.gpu, "GPU for the roofline baseline: h100, h200 (chips/gpu/NAME.yaml) or a YAML path")
      ->capture_default_str();
  cmd->add_option("--gpu-precision", opts->request.gpu_precision,
                  "Weight format of the dense GPU baseline: bf16 (2 bytes, 16-bit tensor peak), fp8 or int8 (1 byte, "
                  "the GPU's 8-bit tensor peak)")
      ->check(CLI::IsMember({"bf16", "fp8", "int8"}))
      ->capture_default_str();
  cmd->add_option("--batch", opts->request.batch, "Second GPU batch size (batch 1 is always reported)")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--encoding", opts->request.encoding,
                  "Encoding of real-valued crossbar inputs when the stats do not fix it: graded (one event per "
                  "non-zero value) or bit_serial (one per set bit)")
      ->check(CLI::IsMember({"graded", "bit_serial"}))
      ->capture_default_str();
  cmd->add_option("--gpu-measured", opts->request.gpu_measured,
                  "GPU baselines measured on real boards by spiketile_gpu_bench --json (one or more files, of the "
                  "stats' model), shown beside the roofline")
      ->check(CLI::ExistingFile);
  auto* raster = cmd->add_option("--raster", opts->request.raster,
                                 "The same run's spike raster (run/simulate --spikes-out F.npy): the HTML draws one "
                                 "layer's spikes, the JSON lists them")
                     ->check(CLI::ExistingFile);
  cmd->add_option("--raster-layer", opts->request.raster_layer, "Layer of --raster to draw")
      ->check(CLI::NonNegativeNumber)
      ->needs(raster)
      ->capture_default_str();
  cmd->add_option("--json", opts->json_out, "Write the full report as JSON (format spiketile-report-1)");
  cmd->add_option("--csv", opts->csv_out, "Write every figure of the report as CSV rows: quantity,value");
  cmd->add_option("--html", opts->html_out, "Write a self-contained HTML report with charts");
  cmd->add_flag("--paper", opts->paper, "Also print every reading of the paper's Table 1, its formulas and sources");
  add_quiet_flag(cmd, opts->quiet, "Do not print the summary");
  cmd->callback([opts] { run(*opts); });
}

}  // namespace spiketile::cli
