#include "runtime/gpu_measured.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <stdexcept>
#include <tuple>

#include "runtime/json_fields.hpp"

namespace spiketile {

using nlohmann::json;

namespace {

const JsonFields kFields("GPU measurement");

const std::vector<std::string> kPrecisions{"fp16", "bf16", "int8"};
const std::vector<std::string> kVariants{"stream", "graph"};

json optional_json(const std::optional<double>& v) { return v ? json(*v) : json(nullptr); }

json clocks_json(const std::optional<GpuClocks>& c) {
  if (!c) return nullptr;
  return {{"sm_mhz", c->sm_mhz}, {"memory_mhz", c->memory_mhz}};
}

std::string at(const std::string& section, const std::string& key) { return section.empty() ? key : section + "." + key; }

double number_at_least(const json& parent, const std::string& key, const std::string& section, double minimum) {
  const double v = kFields.get<double>(parent, key, section);
  if (v < minimum) kFields.error(at(section, key), fmt::format("must be at least {} (got {})", minimum, v));
  return v;
}

double positive_number(const json& parent, const std::string& key, const std::string& section) {
  const double v = kFields.get<double>(parent, key, section);
  if (!(v > 0)) kFields.error(at(section, key), fmt::format("must be above 0 (got {})", v));
  return v;
}

template <typename T>
T integer_at_least(const json& parent, const std::string& key, const std::string& section, T minimum) {
  const T v = kFields.get<T>(parent, key, section);
  if (v < minimum) kFields.error(at(section, key), fmt::format("must be at least {} (got {})", minimum, v));
  return v;
}

// A figure that is null where it was not measured (no energy counter): present either way.
std::optional<double> optional_number(const json& parent, const std::string& key, const std::string& section,
                                      std::optional<double> minimum) {
  if (kFields.field(parent, key, at(section, key)).is_null()) return std::nullopt;
  return minimum ? number_at_least(parent, key, section, *minimum) : kFields.get<double>(parent, key, section);
}

std::optional<GpuClocks> optional_clocks(const json& parent, const std::string& key, const std::string& section) {
  const std::string path = at(section, key);
  if (kFields.field(parent, key, path).is_null()) return std::nullopt;
  const json& c = kFields.object(parent, key, path);
  return GpuClocks{number_at_least(c, "sm_mhz", path, 0), number_at_least(c, "memory_mhz", path, 0)};
}

std::string one_of(const json& parent, const std::string& key, const std::string& section,
                   const std::vector<std::string>& allowed) {
  const std::string v = kFields.get<std::string>(parent, key, section);
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
    kFields.error(at(section, key), fmt::format("is '{}'; expected one of {}", v, fmt::join(allowed, ", ")));
  return v;
}

GpuMeasuredDevice device_from_json(const json& j) {
  const std::string s = "gpu";
  GpuMeasuredDevice d;
  d.name = kFields.get<std::string>(j, "name", s);
  if (d.name.empty()) kFields.error("gpu.name", "must name the GPU");
  d.pci_bus_id = kFields.get<std::string>(j, "pci_bus_id", s);
  d.compute_capability = kFields.get<std::string>(j, "compute_capability", s);
  d.sm_count = integer_at_least<int>(j, "sm_count", s, 1);
  d.memory_gib = positive_number(j, "memory_gib", s);
  d.driver = kFields.get<std::string>(j, "driver", s);
  d.cuda_runtime = kFields.get<std::string>(j, "cuda_runtime", s);
  d.cublas = kFields.get<std::string>(j, "cublas", s);
  d.max_clocks = optional_clocks(j, "max_clocks", s);
  d.power_limit_w = optional_number(j, "power_limit_w", s, 0.0);
  return d;
}

GpuMeasuredModel model_from_json(const json& j) {
  const std::string s = "model";
  GpuMeasuredModel m;
  m.path = kFields.get<std::string>(j, "path", s);
  m.n_layer = integer_at_least<int>(j, "n_layer", s, 1);
  m.n_embd = integer_at_least<int>(j, "n_embd", s, 1);
  m.vocab = integer_at_least<int>(j, "vocab", s, 1);
  m.params = integer_at_least<int64_t>(j, "params", s, 1);
  m.rescale = kFields.get<bool>(j, "rescale", s);
  m.binary_embedding = kFields.get<bool>(j, "binary_embedding", s);
  return m;
}

GpuLogitCheck check_from_json(const json& j, const std::string& s) {
  GpuLogitCheck c;
  c.tokens = integer_at_least<int>(j, "tokens", s, 1);
  c.sequences = integer_at_least<int>(j, "sequences", s, 1);
  c.pairs_without_flips = kFields.get<int>(j, "pairs_without_flips", s);
  c.max_normalized_error = number_at_least(j, "max_normalized_error", s, 0);
  c.max_state_error = number_at_least(j, "max_state_error", s, 0);
  c.tolerance = positive_number(j, "tolerance", s);
  c.spike_flip_share = number_at_least(j, "spike_flip_share", s, 0);
  c.spike_flip_tolerance = positive_number(j, "spike_flip_tolerance", s);
  c.max_abs_error = number_at_least(j, "max_abs_error", s, 0);
  c.argmax_agreement = number_at_least(j, "argmax_agreement", s, 0);
  for (const char* share : {"spike_flip_share", "argmax_agreement"})
    if (j[share].get<double>() > 1) kFields.error(s + "." + share, fmt::format("is a share, at most 1 (got {})", j[share].dump()));
  if (c.pairs_without_flips > c.tokens * c.sequences)
    kFields.error(s + ".pairs_without_flips", fmt::format("is {}, more than the {} × {} pairs compared",
                                                          c.pairs_without_flips, c.tokens, c.sequences));
  // A row is only ever written after its check passed: a file that says otherwise was edited.
  if (!c.passed())
    kFields.error(s, fmt::format("did not pass (errors {:.4g} and {:.4g} against tolerance {:.4g}, spike flips {:.4g} "
                                 "against {:.4g}): a configuration that fails its check is never timed",
                                 c.max_normalized_error, c.max_state_error, c.tolerance, c.spike_flip_share,
                                 c.spike_flip_tolerance));
  return c;
}

GpuMeasuredRow row_from_json(const json& j, std::size_t index) {
  const std::string s = fmt::format("rows[{}]", index);
  if (!j.is_object()) kFields.error(s, "must be an object");
  GpuMeasuredRow r;
  r.precision = one_of(j, "precision", s, kPrecisions);
  r.variant = one_of(j, "variant", s, kVariants);
  r.batch = integer_at_least<int>(j, "batch", s, 1);
  r.steps = integer_at_least<int64_t>(j, "steps", s, 1);
  r.seconds = positive_number(j, "seconds", s);
  r.steps_per_s = positive_number(j, "steps_per_s", s);
  r.tokens_per_s = positive_number(j, "tokens_per_s", s);
  r.energy_j = optional_number(j, "energy_j", s, 0.0);
  r.mean_power_w = optional_number(j, "mean_power_w", s, 0.0);
  r.energy_per_token_j = optional_number(j, "energy_per_token_j", s, 0.0);
  // Below idle is possible within the counter's resolution, so no lower bound.
  r.energy_per_token_above_idle_j = optional_number(j, "energy_per_token_above_idle_j", s, std::nullopt);
  r.clocks = optional_clocks(j, "clocks", s);
  r.check = check_from_json(kFields.object(j, "check", s + ".check"), s + ".check");
  return r;
}

}  // namespace

json gpu_measurement_to_json(const GpuMeasurement& m) {
  json rows = json::array();
  for (const GpuMeasuredRow& r : m.rows)
    rows.push_back({{"name", fmt::format("{} {} batch {}", r.precision, r.variant, r.batch)},
                    {"precision", r.precision},
                    {"variant", r.variant},
                    {"batch", r.batch},
                    {"steps", r.steps},
                    {"seconds", r.seconds},
                    {"steps_per_s", r.steps_per_s},
                    {"tokens_per_s", r.tokens_per_s},
                    {"energy_j", optional_json(r.energy_j)},
                    {"mean_power_w", optional_json(r.mean_power_w)},
                    {"energy_per_token_j", optional_json(r.energy_per_token_j)},
                    {"energy_per_token_above_idle_j", optional_json(r.energy_per_token_above_idle_j)},
                    {"clocks", clocks_json(r.clocks)},
                    {"check", {{"tokens", r.check.tokens},
                               {"sequences", r.check.sequences},
                               {"pairs_without_flips", r.check.pairs_without_flips},
                               {"max_normalized_error", r.check.max_normalized_error},
                               {"max_state_error", r.check.max_state_error},
                               {"tolerance", r.check.tolerance},
                               {"spike_flip_share", r.check.spike_flip_share},
                               {"spike_flip_tolerance", r.check.spike_flip_tolerance},
                               {"max_abs_error", r.check.max_abs_error},
                               {"argmax_agreement", r.check.argmax_agreement}}}});
  const GpuMeasuredDevice& d = m.gpu;
  return {{"format", kGpuMeasuredFormat},
          {"tool", m.tool},
          {"date", m.date},
          {"gpu", {{"name", d.name},
                   {"pci_bus_id", d.pci_bus_id},
                   {"compute_capability", d.compute_capability},
                   {"sm_count", d.sm_count},
                   {"memory_gib", d.memory_gib},
                   {"driver", d.driver},
                   {"cuda_runtime", d.cuda_runtime},
                   {"cublas", d.cublas},
                   {"max_clocks", clocks_json(d.max_clocks)},
                   {"power_limit_w", optional_json(d.power_limit_w)}}},
          {"model", {{"path", m.model.path},
                     {"n_layer", m.model.n_layer},
                     {"n_embd", m.model.n_embd},
                     {"vocab", m.model.vocab},
                     {"params", m.model.params},
                     {"rescale", m.model.rescale},
                     {"binary_embedding", m.model.binary_embedding}}},
          {"energy_counter", m.energy_counter},
          {"idle", m.idle ? json{{"seconds", m.idle->seconds}, {"energy_j", m.idle->energy_j}, {"power_w", m.idle->power_w}}
                          : json(nullptr)},
          {"rows", rows},
          {"not_measured", m.not_measured}};
}

GpuMeasurement gpu_measurement_from_json(const json& j) {
  if (!j.is_object()) kFields.error("(top level)", "must be an object");
  const std::string format = kFields.get<std::string>(j, "format", "");
  if (format != kGpuMeasuredFormat)
    kFields.error("format", fmt::format("is '{}'; expected '{}' (written by spiketile_gpu_bench --json)", format,
                                        kGpuMeasuredFormat));
  GpuMeasurement m;
  m.tool = kFields.get<std::string>(j, "tool", "");
  m.date = kFields.get<std::string>(j, "date", "");
  m.gpu = device_from_json(kFields.object(j, "gpu"));
  m.model = model_from_json(kFields.object(j, "model"));
  m.energy_counter = kFields.get<std::string>(j, "energy_counter", "");
  if (!kFields.field(j, "idle", "idle").is_null()) {
    const json& idle = kFields.object(j, "idle");
    m.idle = GpuIdle{positive_number(idle, "seconds", "idle"), number_at_least(idle, "energy_j", "idle", 0),
                     number_at_least(idle, "power_w", "idle", 0)};
  }
  const json& rows = kFields.field(j, "rows", "rows");
  if (!rows.is_array() || rows.empty()) kFields.error("rows", "must be an array of at least one measured configuration");
  std::map<std::tuple<std::string, std::string, int>, std::size_t> seen;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    m.rows.push_back(row_from_json(rows[i], i));
    const GpuMeasuredRow& r = m.rows.back();
    const auto [first, fresh] = seen.emplace(std::make_tuple(r.precision, r.variant, r.batch), i);
    if (!fresh)
      kFields.error(fmt::format("rows[{}]", i), fmt::format("repeats {} {} batch {} of rows[{}]", r.precision, r.variant,
                                                            r.batch, first->second));
  }
  const json& not_measured = kFields.field(j, "not_measured", "not_measured");
  if (!not_measured.is_array()) kFields.error("not_measured", "must be an array of strings");
  for (std::size_t i = 0; i < not_measured.size(); ++i) {
    if (!not_measured[i].is_string()) kFields.error(fmt::format("not_measured[{}]", i), "must be a string");
    m.not_measured.push_back(not_measured[i].get<std::string>());
  }
  return m;
}

// The format nests four levels (rows → row → check → value).
constexpr int kMaxMeasuredDepth = 8;

GpuMeasurement read_gpu_measurement(const std::string& path) {
  const json j = parse_json_file(path, "GPU measurement file", kMaxMeasuredDepth);
  GpuMeasurement m;
  try {
    m = gpu_measurement_from_json(j);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
  m.source_path = path;
  return m;
}

void require_same_model(const GpuMeasurement& m, const StatsModel& stats_model, const std::string& stats_path) {
  const struct {
    const char* field;
    int64_t measured, stats;
  } dims[] = {{"n_layer", m.model.n_layer, stats_model.n_layer},
              {"n_embd", m.model.n_embd, stats_model.n_embd},
              {"vocab", m.model.vocab, stats_model.vocab}};
  for (const auto& d : dims)
    if (d.measured != d.stats)
      throw std::runtime_error(fmt::format(
          "{}: 'model.{}' is {}, but the stats' model ({}) has {} {}: the GPU measured another model (L{} C{} V{}) "
          "than the one reported (L{} C{} V{}); measure the same checkpoint or shape",
          m.source_path, d.field, d.measured, stats_path, d.field, d.stats, m.model.n_layer, m.model.n_embd,
          m.model.vocab, stats_model.n_layer, stats_model.n_embd, stats_model.vocab));
}

}  // namespace spiketile
