// What a report is built from, as the command line and the Python module name it: the stats file
// and the tables, chip and GPU to price it with. `spiketile report` and spiketile.report() both
// assemble their ReportInputs here, so the same request gives the same report.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "runtime/report.hpp"

namespace spiketile {

struct ReportRequest {
  std::string stats;   // the stats file (run --stats, simulate --stats)
  // The statistics themselves, in place of the file (the Python module's dict; `stats` is then "").
  std::optional<nlohmann::json> stats_json;
  std::string energy_table = std::string(SPIKETILE_SOURCE_DIR) + "/chips/energy/default.yaml";
  std::string convention_table = std::string(SPIKETILE_SOURCE_DIR) + "/chips/energy/45nm-horowitz.yaml";
  std::string chip;    // empty: the chip the stats were simulated on, else chips/default.yaml
  std::string gpu = "h100";   // chips/gpu/NAME.yaml, or a YAML path
  std::string gpu_precision = "bf16";
  int batch = 8;
  std::string encoding = "graded";
  std::vector<std::string> gpu_measured;   // spiketile_gpu_bench --json files of the stats' model
  std::string raster;  // the same run's --spikes-out file, to draw (empty: none)
  int raster_layer = 0;
};

// "h100" names chips/gpu/h100.yaml; anything with a '/' or ending in .yaml is a path. An unknown
// name is an error listing the known ones.
std::string gpu_spec_path(const std::string& gpu);

// Reads every file of the request (errors name the file), the shipped energy tables for the
// side-by-side view included. `inputs` (may be null) receives every path read, for callers that
// refuse to write over an input.
ReportInputs report_inputs(const ReportRequest& request, std::vector<std::string>* inputs = nullptr);

}  // namespace spiketile
