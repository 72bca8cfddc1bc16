#include "runtime/report_request.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace spiketile {

std::string gpu_spec_path(const std::string& gpu) {
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

ReportInputs report_inputs(const ReportRequest& o, std::vector<std::string>* inputs) {
  ReportInputs in;
  in.stats = o.stats_json ? stats_from_json(*o.stats_json) : read_stats(o.stats);
  in.stats_path = o.stats;
  in.table = load_energy_table(o.energy_table);
  in.convention_table = load_energy_table(o.convention_table);
  std::string chip_path = o.chip;
  if (chip_path.empty())
    chip_path = in.stats.chip && !in.stats.chip->spec_path.empty()
                    ? in.stats.chip->spec_path
                    : std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml";
  in.chip = load_chip_spec(chip_path);
  const std::string gpu = gpu_spec_path(o.gpu);
  if (inputs) {
    *inputs = {o.stats, o.energy_table, o.convention_table, chip_path, gpu};
    inputs->insert(inputs->end(), o.gpu_measured.begin(), o.gpu_measured.end());
    if (!o.raster.empty()) inputs->push_back(o.raster);
  }
  if (!o.raster.empty()) in.raster = read_spike_raster(o.raster, o.raster_layer, in.stats);
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
  return in;
}

}  // namespace spiketile
