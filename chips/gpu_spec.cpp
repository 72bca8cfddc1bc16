#include "chips/gpu_spec.hpp"

#include <fmt/format.h>

#include <utility>

namespace spiketile {

using config::Need;
using config::ParamSpec;
using config::ParamType;

namespace {

ParamSpec number(std::string key, std::string unit, std::string description) {
  ParamSpec param;
  param.key = std::move(key);
  param.type = ParamType::number;
  param.unit = std::move(unit);
  param.min_value = 1e-9;
  param.description = std::move(description);
  return param;
}

// An optional figure: 0 when the spec sheet does not give it.
ParamSpec optional_number(std::string key, std::string unit, std::string description) {
  ParamSpec param = number(std::move(key), std::move(unit), std::move(description));
  param.need = Need::defaulted;
  param.default_value = "0";
  param.min_value = 0;
  return param;
}

ParamSpec bytes(std::string key, std::string default_value, std::string description) {
  ParamSpec param;
  param.key = std::move(key);
  param.unit = "bytes";
  param.need = Need::defaulted;
  param.default_value = std::move(default_value);
  param.min_value = 1;
  param.max_value = 8;
  param.description = std::move(description);
  return param;
}

config::Schema build_gpu_schema() {
  config::Schema schema;
  schema.push_back(config::SectionSpec{
      "",
      "A GPU's public specification. Every number must carry its source in a `#` comment.",
      false,
      {config::version_param(kGpuSpecVersion), config::string_param("name", Need::required, "Short name, used in reports (e.g. H100)."),
       config::string_param("variant", Need::required, "Form factor the numbers are for (e.g. SXM5); PCIe and NVL parts differ."),
       config::string_param("description", Need::defaulted, "Free text for people."),
       config::string_param("sources", Need::required, "Where the numbers come from (URLs), quoted in every report."),
       number("peak_dense_tensor_tflops", "TFLOP/s",
              "Peak 16-bit (bf16/fp16) tensor-core FLOP/s without structured sparsity (spec sheets often "
              "print the 2:4-sparse figure, twice this)."),
       optional_number("peak_dense_fp8_tflops", "TFLOP/s",
                       "Peak 8-bit float tensor-core FLOP/s without structured sparsity, for report "
                       "--gpu-precision fp8 (0: not given)."),
       optional_number("peak_dense_int8_tops", "TOP/s",
                       "Peak 8-bit integer tensor-core OP/s without structured sparsity, for report "
                       "--gpu-precision int8 (0: not given)."),
       number("peak_fp32_tflops", "TFLOP/s", "Peak non-tensor fp32 FLOP/s, for element-wise work."),
       number("memory_bandwidth_tb_per_s", "TB/s", "Peak device-memory bandwidth, 10^12 bytes per second."),
       number("memory_gb", "GB", "Device memory capacity."),
       number("board_power_w", "W", "Maximum board power (TDP); the roofline charges it for the whole step.")},
      std::nullopt});
  schema.push_back(config::SectionSpec{
      "l2_cache",
      "The L2 cache, where the weights stay between steps when they fit (docs/report.md §3). Without this "
      "section the baseline reads them from device memory every step.",
      true,
      {number("size_mb", "MB", "Capacity, 10^6 bytes."),
       number("resident_mb", "MB",
              "What data read by every SM can occupy: on a partitioned L2 each partition holds its own copy, "
              "so one partition's share (at most size_mb)."),
       number("read_bandwidth_tb_per_s", "TB/s", "Read bandwidth from resident_mb, 10^12 bytes per second.")},
      std::nullopt});
  // energy_pj_per_bit, and its low and high ends where sources disagree (as in energy tables).
  const char* kEnergySections[] = {"energy_pj_per_bit", "low_pj_per_bit", "high_pj_per_bit"};
  for (const char* section : kEnergySections) {
    const std::string name = section;
    const bool value = name == "energy_pj_per_bit";
    const std::string end = name == "low_pj_per_bit" ? "low" : "high";
    ParamSpec hbm = number("hbm", "pJ/bit",
                           value ? "Energy to read one bit from device memory (HBM), for the data-movement rows."
                                 : "The " + end + " end of energy_pj_per_bit.hbm where sources disagree.");
    ParamSpec l2 = number("l2", "pJ/bit",
                          value ? "Energy to read one bit from the L2 (needed with an l2_cache section)."
                                : "The " + end + " end of energy_pj_per_bit.l2 where sources disagree.");
    if (!value) hbm.need = Need::optional;
    l2.need = Need::optional;
    schema.push_back(config::SectionSpec{
        name,
        value ? "Energy per bit moved from each memory level; every figure with its source."
              : "Where published sources disagree: the " + end + " end of the range they support (docs/report.md).",
        true, {hbm, l2}, std::nullopt});
  }
  schema.push_back(config::SectionSpec{
      "baseline",
      "How the dense baseline holds the model on this GPU.",
      false,
      {bytes("weight_bytes", "2", "Bytes per weight as stored and streamed (2 = bf16)."),
       bytes("state_bytes", "4", "Bytes per recurrent-state element (4 = fp32).")},
      std::nullopt});
  return schema;
}

// One level's energy per bit and the ends of its range; an end the file does not state is the
// value itself. An end on the wrong side of the value, or without one, is reported at its line.
BitEnergy bit_energy(const config::ParsedConfig& parsed, const std::string& level, config::ProblemSink& sink) {
  BitEnergy e;
  e.pj = parsed.number("energy_pj_per_bit." + level).value_or(0);
  e.low = e.high = e.pj;
  for (const bool low : {true, false}) {
    const std::string path = std::string(low ? "low" : "high") + "_pj_per_bit." + level;
    const std::optional<double> end = parsed.number(path);
    if (!end) continue;
    if (!e.given())
      sink.add(parsed.position(path), fmt::format("{}: a range end without energy_pj_per_bit.{}", path, level));
    else if (low ? *end > e.pj : *end < e.pj)
      sink.add(parsed.position(path), fmt::format("{}: {} pJ/bit is {} energy_pj_per_bit.{} ({} pJ/bit); a range's {} "
                                                  "end must not be",
                                                  path, *end, low ? "above" : "below", level, e.pj, low ? "low" : "high"));
    (low ? e.low : e.high) = *end;
  }
  return e;
}

}  // namespace

const config::Schema& gpu_spec_schema() {
  static const config::Schema kSchema = build_gpu_schema();
  return kSchema;
}

std::string describe_gpu_spec() { return config::describe_markdown(gpu_spec_schema()); }

GpuSpec load_gpu_spec(const std::string& path) {
  config::ProblemSink sink(path);
  const config::ParsedConfig parsed = config::parse_file(path, gpu_spec_schema(), sink);
  config::check_version(parsed, kGpuSpecVersion, "GPU spec", sink);
  if (!sink.empty()) throw GpuSpecError(config::problems_headline("GPU spec", sink), sink.sorted());
  GpuSpec gpu;
  gpu.source_path = path;
  gpu.version = int(parsed.integer("version").value_or(0));
  gpu.name = parsed.string("name").value_or("");
  gpu.variant = parsed.string("variant").value_or("");
  gpu.description = parsed.string("description").value_or("");
  gpu.sources = parsed.string("sources").value_or("");
  gpu.peak_dense_tensor_tflops = parsed.number("peak_dense_tensor_tflops").value_or(0);
  gpu.peak_dense_fp8_tflops = parsed.number("peak_dense_fp8_tflops").value_or(0);
  gpu.peak_dense_int8_tops = parsed.number("peak_dense_int8_tops").value_or(0);
  gpu.peak_fp32_tflops = parsed.number("peak_fp32_tflops").value_or(0);
  gpu.memory_bandwidth_tb_per_s = parsed.number("memory_bandwidth_tb_per_s").value_or(0);
  gpu.memory_gb = parsed.number("memory_gb").value_or(0);
  gpu.board_power_w = parsed.number("board_power_w").value_or(0);
  gpu.weight_bytes = int(parsed.integer("baseline.weight_bytes").value_or(2));
  gpu.state_bytes = int(parsed.integer("baseline.state_bytes").value_or(4));
  gpu.l2_cache_mb = parsed.number("l2_cache.size_mb").value_or(0);
  gpu.l2_resident_mb = parsed.number("l2_cache.resident_mb").value_or(0);
  gpu.l2_read_bandwidth_tb_per_s = parsed.number("l2_cache.read_bandwidth_tb_per_s").value_or(0);
  if (gpu.l2_resident_mb > gpu.l2_cache_mb)
    sink.add(parsed.position("l2_cache.resident_mb"),
             fmt::format("l2_cache.resident_mb: {} MB is more than the cache's size_mb ({} MB)", gpu.l2_resident_mb,
                         gpu.l2_cache_mb));
  gpu.hbm_energy = bit_energy(parsed, "hbm", sink);
  gpu.l2_energy = bit_energy(parsed, "l2", sink);
  if (parsed.has_section("l2_cache") && parsed.has_section("energy_pj_per_bit") && !gpu.l2_energy.given())
    sink.add(parsed.position("energy_pj_per_bit"),
             "energy_pj_per_bit.l2 is missing; a spec with an l2_cache section prices reads from it");
  if (!sink.empty()) throw GpuSpecError(config::problems_headline("GPU spec", sink), sink.sorted());
  return gpu;
}

GpuPrecision parse_gpu_precision(const std::string& name) {
  for (GpuPrecision p : {GpuPrecision::bf16, GpuPrecision::fp8, GpuPrecision::int8})
    if (gpu_precision_name(p) == name) return p;
  throw std::invalid_argument(fmt::format("GPU precision '{}': expected bf16, fp8 or int8", name));
}

std::string gpu_precision_name(GpuPrecision precision) {
  switch (precision) {
    case GpuPrecision::bf16: return "bf16";
    case GpuPrecision::fp8: return "fp8";
    case GpuPrecision::int8: return "int8";
  }
  return "?";
}

GpuSpec at_precision(GpuSpec gpu, GpuPrecision precision) {
  if (precision == GpuPrecision::bf16) return gpu;
  const bool fp8 = precision == GpuPrecision::fp8;
  const double peak = fp8 ? gpu.peak_dense_fp8_tflops : gpu.peak_dense_int8_tops;
  if (peak <= 0)
    throw GpuSpecError(fmt::format("{}: no {} (needed for --gpu-precision {})", gpu.source_path,
                                   fp8 ? "peak_dense_fp8_tflops" : "peak_dense_int8_tops", gpu_precision_name(precision)));
  gpu.peak_dense_tensor_tflops = peak;
  gpu.weight_bytes = 1;
  return gpu;
}

}  // namespace spiketile
