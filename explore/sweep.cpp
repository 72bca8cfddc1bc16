#include "explore/sweep.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "chips/chip_spec.hpp"
#include "chips/energy_table.hpp"
#include "models/checkpoint_files.hpp"
#include "models/unicode_util.hpp"
#include "runtime/report_request.hpp"

namespace spiketile::explore {

namespace fs = std::filesystem;
using config::Need;
using config::ParamSpec;
using config::ParamType;
using config::Position;
using config::ProblemSink;

namespace {

ParamSpec integer_param(std::string key, double min, double max, std::string description) {
  ParamSpec p;
  p.key = std::move(key);
  p.need = Need::optional;
  p.min_value = min;
  p.max_value = max;
  p.description = std::move(description);
  return p;
}

ParamSpec number_param(std::string key, double min, double max, std::string description) {
  ParamSpec p = integer_param(std::move(key), min, max, std::move(description));
  p.type = ParamType::number;
  return p;
}

// One of a few names, checked like a chip's implementation name.
ParamSpec choice_param(std::string key, Need need, std::string default_value, std::vector<config::ImplChoice> choices,
                       std::string description) {
  ParamSpec p = config::string_param(std::move(key), need, std::move(description));
  p.type = ParamType::impl;
  p.default_value = std::move(default_value);
  p.choices = std::move(choices);
  return p;
}

Position position_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return Position{};
  return Position{mark.line + 1, mark.column + 1};
}

std::string resolved(const std::string& sweep_path, const std::string& value) {
  const fs::path p(value);
  if (value.empty() || p.is_absolute()) return value;
  return (fs::path(sweep_path).parent_path() / p).lexically_normal().string();
}

// Every chip parameter a sweep may override, by its dotted path in the chip description; an
// implementation's own parameters under their owner ("power.gating.gated_static_fraction").
const std::map<std::string, ParamSpec>& chip_params() {
  static const std::map<std::string, ParamSpec> kParams = [] {
    std::map<std::string, ParamSpec> params;
    for (const config::SectionSpec& section : chip_spec_schema())
      for (const ParamSpec& param : section.params) {
        const std::string path = section.path.empty() ? param.key : section.path + "." + param.key;
        if (param.key == "version") continue;
        params.emplace(path, param);
        for (const config::ImplChoice& choice : param.choices)
          for (const ParamSpec& sub : choice.params) params.emplace(path + "." + sub.key, sub);
      }
    return params;
  }();
  return kParams;
}

const ParamSpec& model_param() {
  static const ParamSpec kModel = config::string_param(
      "model", Need::required, "Checkpoint (.pth or .safetensors), relative to the sweep file; its calibration beside it");
  return kModel;
}

// The ParamSpec an axis key names, or null.
const ParamSpec* axis_param(const std::string& key) {
  if (key == "model") return &model_param();
  if (key.rfind("chip.", 0) == 0) {
    auto found = chip_params().find(key.substr(5));
    return found == chip_params().end() ? nullptr : &found->second;
  }
  for (const char* command : {"compile", "report"})
    if (key.rfind(std::string(command) + ".", 0) == 0)
      for (const ParamSpec& param : option_axis_params(command))
        if (command + ("." + param.key) == key) return &param;
  return nullptr;
}

std::vector<std::string> axis_keys() {
  std::vector<std::string> keys{"model"};
  for (const auto& [path, param] : chip_params()) keys.push_back("chip." + path);
  for (const char* command : {"compile", "report"})
    for (const ParamSpec& param : option_axis_params(command)) keys.push_back(command + ("." + param.key));
  return keys;
}

std::string found_kind(const YAML::Node& node) {
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "nothing";
}

class SweepReader {
 public:
  SweepReader(const std::string& path, ProblemSink& sink) : path_(path), sink_(sink) {}

  // A key a grid or a point sets; false (reported) when it names nothing a sweep can set.
  bool check_axis(const YAML::Node& key) {
    const Position where = position_of(key.Mark());
    if (!key.IsScalar()) {
      sink_.add(where, fmt::format("an axis must be a plain key, got {}", found_kind(key)));
      return false;
    }
    const std::string name = key.Scalar();
    const ParamSpec* param = axis_param(name);
    if (!param) {
      std::string hint;
      if (name.rfind("chip.", 0) != 0 && name.rfind("compile.", 0) != 0 && name.rfind("report.", 0) != 0 &&
          name != "model")
        hint = " (an axis is 'model', 'chip.<parameter path>', 'compile.<option>' or 'report.<option>')";
      const std::string near = config::closest_match(name, axis_keys());
      sink_.add(where, fmt::format("unknown axis '{}'{}{}", name, hint,
                                   near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near)));
      return false;
    }
    if (param->type == ParamType::impl_list) {
      sink_.add(where, fmt::format("{}: a list-valued parameter cannot be swept; set it in the base chip", name));
      return false;
    }
    return true;
  }

  // One value of an axis, checked as the file it overrides would check it.
  std::optional<Setting> value(const std::string& key, const YAML::Node& node) {
    const Position where = position_of(node.Mark());
    if (!node.IsScalar()) {
      sink_.add(where, fmt::format("{}: expected a value, got {}", key, found_kind(node)));
      return std::nullopt;
    }
    const std::string text = node.Scalar();
    const ParamSpec& param = *axis_param(key);
    std::string problem;
    if (param.type == ParamType::impl) {
      std::vector<std::string> names;
      for (const auto& choice : param.choices) names.push_back(choice.name);
      if (std::find(names.begin(), names.end(), text) == names.end()) {
        const std::string near = config::closest_match(text, names);
        sink_.add(where, fmt::format("{}: unknown value '{}'{}; known: {}", key, text,
                                     near.empty() ? "" : fmt::format(" (did you mean '{}'?)", near),
                                     fmt::join(names, ", ")));
        return std::nullopt;
      }
    } else if (!config::scalar_value(key, param, text, problem)) {
      sink_.add(where, problem);
      return std::nullopt;
    }
    if (key == "model" && !check_model(resolved(path_, text), where)) return std::nullopt;
    return Setting{key, text, where};
  }

  bool check_model(const std::string& model, Position where) {
    if (!fs::is_regular_file(model)) {
      sink_.add(where, fmt::format("model: no checkpoint {}", model));
      return false;
    }
    const std::string calibration = calibration_path_for(model);
    if (!fs::is_regular_file(calibration)) {
      sink_.add(where, fmt::format("model: {} has no calibration {} (make it with 'spiketile calibrate --model {}')",
                                   model, calibration, model));
      return false;
    }
    return true;
  }

  // grid: {axis: value | [values]}; one list of settings per axis, in file order.
  std::vector<std::vector<Setting>> grid(const YAML::Node& node, std::vector<std::string>& axes) {
    std::vector<std::vector<Setting>> lists;
    if (!node.IsMap()) {
      sink_.add(position_of(node.Mark()), fmt::format("grid: expected a mapping of axes to value lists, got {}",
                                                      found_kind(node)));
      return lists;
    }
    std::map<std::string, int> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (!check_axis(it->first) || !unique(it->first, seen, "grid")) continue;
      const std::string key = it->first.Scalar();
      axes.push_back(key);
      std::vector<Setting> values;
      const bool list = it->second.IsSequence();
      if (list && it->second.size() == 0)
        sink_.add(position_of(it->first.Mark()), fmt::format("{}: an axis needs at least one value", key));
      std::vector<YAML::Node> items;
      if (list)
        for (const YAML::Node& item : it->second) items.push_back(item);
      else
        items.push_back(it->second);
      std::set<std::string> distinct;
      for (const YAML::Node& item : items) {
        auto setting = value(key, item);
        if (setting && !distinct.insert(setting->value).second)
          sink_.add(setting->where, fmt::format("{}: value '{}' is listed twice", key, setting->value));
        else if (setting)
          values.push_back(*setting);
      }
      lists.push_back(values);
    }
    return lists;
  }

  // points: [{axis: value, ...}, ...]
  std::vector<SweepPoint> points(const YAML::Node& node, std::vector<std::string>& axes) {
    std::vector<SweepPoint> out;
    if (!node.IsSequence()) {
      sink_.add(position_of(node.Mark()), fmt::format("points: expected a list of points, got {}", found_kind(node)));
      return out;
    }
    for (const YAML::Node& item : node) {
      if (!item.IsMap()) {
        sink_.add(position_of(item.Mark()),
                  fmt::format("points: a point is a mapping of axes to values, got {}", found_kind(item)));
        continue;
      }
      SweepPoint point;
      std::map<std::string, int> seen;
      for (auto it = item.begin(); it != item.end(); ++it) {
        if (!check_axis(it->first) || !unique(it->first, seen, "a point")) continue;
        if (auto setting = value(it->first.Scalar(), it->second)) point.settings.push_back(*setting);
        if (std::find(axes.begin(), axes.end(), it->first.Scalar()) == axes.end()) axes.push_back(it->first.Scalar());
      }
      out.push_back(point);
    }
    return out;
  }

 private:
  bool unique(const YAML::Node& key, std::map<std::string, int>& seen, const char* where) {
    const Position at = position_of(key.Mark());
    auto [first, inserted] = seen.emplace(key.Scalar(), at.line);
    if (!inserted)
      sink_.add(at, fmt::format("duplicate key '{}' in {} (first given on line {})", key.Scalar(), where, first->second));
    return inserted;
  }

  std::string path_;
  ProblemSink& sink_;
};

const config::Schema& top_schema() {
  static const config::Schema kSchema = [] {
    config::SectionSpec top;
    top.description = "A design-space sweep (spiketile explore).";
    top.params = {config::version_param(kSweepVersion),
                  config::string_param("name", Need::optional, "Name of the sweep, shown on the page"),
                  config::string_param("description", Need::optional, "What the sweep asks"),
                  config::string_param("base_chip", Need::optional,
                                       "Chip description every point starts from, relative to this file (default: "
                                       "chips/default.yaml)"),
                  config::string_param("model", Need::optional,
                                       "Checkpoint of the points that set no 'model', relative to this file (default: the "
                                       "shipped models/spikegpt-fortunes.pth)")};
    config::Schema schema{top};
    schema.insert(schema.end(), run_schema().begin(), run_schema().end());
    return schema;
  }();
  return kSchema;
}

const std::vector<std::string> kTopKeys{"version", "name", "description", "base_chip", "model", "run", "grid", "points"};

// The grid's cartesian product, the first axis slowest.
std::vector<SweepPoint> product(const std::vector<std::vector<Setting>>& lists) {
  std::vector<SweepPoint> points{SweepPoint{}};
  for (const auto& values : lists) {
    std::vector<SweepPoint> next;
    for (const SweepPoint& prefix : points)
      for (const Setting& value : values) {
        SweepPoint point = prefix;
        point.settings.push_back(value);
        next.push_back(point);
      }
    points = next;
  }
  return points;
}

void read_run(const config::ParsedConfig& parsed, const std::string& path, bool both_prompts, RunSetup& run,
              ProblemSink& sink) {
  run.prompt = parsed.string("run.prompt").value_or(run.prompt);
  run.prompt_ids = parsed.string("run.prompt_ids").value_or("");
  run.tokens = parsed.integer("run.tokens").value_or(run.tokens);
  run.temperature = parsed.number("run.temperature");
  run.sample_seed = parsed.integer("run.sample_seed");
  run.energy_table = resolved(path, parsed.string("run.energy_table").value_or(""));
  if (run.energy_table.empty()) run.energy_table = std::string(SPIKETILE_SOURCE_DIR) + "/chips/energy/default.yaml";
  run.gpu = parsed.string("run.gpu").value_or(run.gpu);
  if (run.gpu.find('/') != std::string::npos || run.gpu.find(".yaml") != std::string::npos)
    run.gpu = resolved(path, run.gpu);
  run.gpu_precision = parsed.string("run.gpu_precision").value_or(run.gpu_precision);
  run.batch = parsed.integer("run.batch").value_or(run.batch);
  run.eval_text = resolved(path, parsed.string("run.eval_text").value_or(""));
  run.eval_tokens = parsed.integer("run.eval_tokens").value_or(0);
  if (!run.eval_text.empty() && !std::filesystem::is_regular_file(run.eval_text))
    sink.add(parsed.position("run.eval_text"), fmt::format("run.eval_text: {} is not a file", run.eval_text));
  if (run.eval_text.empty() && run.eval_tokens > 0)
    sink.add(parsed.position("run.eval_tokens"), "run.eval_tokens: set run.eval_text, the text it limits");
  if (both_prompts)
    sink.add(parsed.position("run.prompt_ids"), "run: give prompt or prompt_ids, not both");
  try {
    gpu_spec_path(run.gpu);
  } catch (const std::exception& e) {
    sink.add(parsed.position("run.gpu"), fmt::format("run.gpu: {}", e.what()));
  }
}

// Every point's derived chip goes through the chip loader, so what the chip's own consistency
// rules refuse (a crossbar larger than its SRAM) is refused here, at the value the problem names
// (else the point's first chip value), once for all the points it breaks.
void check_derived_chips(const Sweep& sweep, ProblemSink& sink) {
  std::map<std::pair<std::pair<int, int>, std::string>, std::vector<std::size_t>> broken;  // (where, why) -> points
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    std::vector<const Setting*> chip;
    for (const Setting& s : sweep.points[i].settings)
      if (s.key.rfind("chip.", 0) == 0) chip.push_back(&s);
    if (chip.empty()) continue;
    try {
      load_chip_spec_from_string(derived_chip_yaml(sweep, sweep.points[i]), "derived chip");
    } catch (const ConfigError& e) {
      for (const ConfigProblem& problem : e.problems()) {
        const Setting* named = chip.front();
        for (const Setting* s : chip)
          if (problem.message.find(s->key.substr(5)) != std::string::npos) {
            named = s;
            break;
          }
        broken[{{named->where.line, named->where.column}, problem.message}].push_back(i);
      }
    }
  }
  for (const auto& [where_why, points] : broken) {
    const SweepPoint& first = sweep.points[points.front()];
    sink.add(Position{where_why.first.first, where_why.first.second},
             points.size() == 1
                 ? fmt::format("point {} ({}): its chip is invalid: {}", points.front(), first.label(), where_why.second)
                 : fmt::format("points {} ({} points, the first {}): their chip is invalid: {}", fmt::join(points, ", "),
                               points.size(), first.label(), where_why.second));
  }
}

}  // namespace

// The ranges restate the commands' own option checks so that a bad value is reported at its line
// before any work; CliExplore.EveryCompileRangeTheSweepCheckIsOneCompileRefusesPastItsEnds keeps
// them in step with compile's.
const std::vector<ParamSpec>& option_axis_params(const std::string& command) {
  if (command == "report") {
    static const std::vector<ParamSpec> kReport = {choice_param(
        "encoding", Need::optional, "",
        {{"graded", "one event per non-zero value (report's default)", {}}, {"bit_serial", "one event per set bit", {}}},
        "report --encoding: how real-valued crossbar inputs are priced")};
    return kReport;
  }
  static const std::vector<ParamSpec> kParams = {
      choice_param("objective", Need::optional, "",
                   {{"latency", "split the critical path while the bound shortens (compile's default)", {}},
                    {"energy", "split while the estimated energy per token falls", {}},
                    {"edp", "split while energy x latency falls", {}},
                    {"cores", "as few cores as fit", {}}},
                   "compile --objective"),
      integer_param("max_cores", 0, 1e9, "compile --max-cores (0: every core)"),
      integer_param("weight_bits", 2, 8, "compile --weight-bits: crossbar weight bits"),
      integer_param("activation_bits", 2, 8, "compile --activation-bits: bits of real-valued crossbar inputs"),
      integer_param("membrane_bits", 10, 32, "compile --membrane-bits: LIF membrane bits"),
      integer_param("placement_seed", 0, 1e18, "compile --placement-seed"),
      number_param("placement_effort", 0, 1e9, "compile --placement-effort: annealing moves per unit"),
      integer_param("profile_tokens", 0, 4096, "compile --profile-tokens"),
      integer_param("search_steps", 0, 100000, "compile --search-steps"),
      number_param("firing_rate", 0, 1, "compile --firing-rate (used without a profile)")};
  return kParams;
}

const config::Schema& run_schema() {
  static const config::Schema kSchema = [] {
    config::SectionSpec run;
    run.path = "run";
    run.description = "What every point runs after compiling: simulate, then report.";
    ParamSpec prompt = config::string_param("prompt", Need::defaulted, "simulate --prompt");
    prompt.default_value = "\n";
    ParamSpec tokens = integer_param("tokens", 1, 1e6, "simulate -n: tokens generated per point");
    tokens.need = Need::defaulted;
    tokens.default_value = "8";
    ParamSpec batch = integer_param("batch", 1, 1 << 20, "report --batch");
    batch.need = Need::defaulted;
    batch.default_value = "8";
    ParamSpec gpu = config::string_param("gpu", Need::defaulted, "report --gpu: h100, h200 or a GPU YAML");
    gpu.default_value = "h100";
    run.params = {prompt,
                  config::string_param("prompt_ids", Need::optional, "simulate --prompt-ids, instead of prompt"),
                  tokens,
                  number_param("temperature", 0, 1e9, "simulate --temperature (default greedy)"),
                  integer_param("sample_seed", 0, 1e18, "simulate --sample-seed"),
                  config::string_param("energy_table", Need::optional,
                                       "compile and report --energy-table, relative to this file (default: "
                                       "chips/energy/default.yaml)"),
                  gpu,
                  choice_param("gpu_precision", Need::defaulted, "bf16", {{"bf16", "", {}}, {"fp8", "", {}}, {"int8", "", {}}},
                               "report --gpu-precision"),
                  batch,
                  config::string_param("eval_text", Need::optional,
                                       "eval --map --text: a held-out text each point's mapping is scored on (bits "
                                       "per character), relative to this file"),
                  integer_param("eval_tokens", 0, 1e12, "eval --max-tokens: score only the first N tokens (0 = all)")};
    return config::Schema{run};
  }();
  return kSchema;
}

const Setting* SweepPoint::find(const std::string& key) const {
  for (const Setting& s : settings)
    if (s.key == key) return &s;
  return nullptr;
}

std::string SweepPoint::label() const {
  if (settings.empty()) return "base";
  std::vector<std::string> parts;
  for (const Setting& s : settings)
    parts.push_back(s.key == "model" ? "model=" + fs::path(s.value).filename().string() : s.key + "=" + s.value);
  return fmt::format("{}", fmt::join(parts, " "));
}

namespace {

YAML::Node load_root(const std::string& path) {
  YAML::Node root;
  try {
    if (fs::is_directory(path)) throw std::runtime_error("it is a folder");
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError(fmt::format("cannot open the sweep file {}", path));
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("invalid sweep file {}", path), {{path, e.mark.line + 1, e.mark.column + 1, e.msg}});
  } catch (const std::exception& e) {
    throw ConfigError(fmt::format("cannot read the sweep file {}: {}", path, e.what()));
  }
  if (!root.IsMap()) throw ConfigError(fmt::format("invalid sweep file {}", path), {{path, 1, 1, "expected a mapping of keys"}});
  return root;
}

// The plain keys go through the project's schema reader; grid and points are lists of values it
// has no type for, read by SweepReader with the same messages.
struct TopLevel {
  YAML::Node plain{YAML::NodeType::Map};
  std::optional<YAML::Node> grid, points;
};

TopLevel split_top_level(const YAML::Node& root, ProblemSink& sink) {
  TopLevel top;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.IsScalar() ? it->first.Scalar() : "";
    if (key == "grid") {
      top.grid = it->second;
    } else if (key == "points") {
      top.points = it->second;
    } else if (std::find(kTopKeys.begin(), kTopKeys.end(), key) != kTopKeys.end()) {
      top.plain.force_insert(it->first, it->second);
    } else {
      const std::string near = config::closest_match(key, kTopKeys);
      sink.add(position_of(it->first.Mark()),
               fmt::format("unknown key '{}' at the top level{}", key,
                           near.empty() ? fmt::format(" (expected one of: {})", fmt::join(kTopKeys, ", "))
                                        : fmt::format(" (did you mean '{}'?)", near)));
    }
  }
  return top;
}

// A file another loader reads (base chip, energy table): its own problems with its own lines, or
// a problem at the key that names it. False when it cannot be used.
template <class Load>
bool check_file(const char* key, Position where, ProblemSink& sink, std::vector<ConfigProblem>& other_files, Load load) {
  try {
    load();
    return true;
  } catch (const ConfigError& e) {
    if (e.problems().empty()) sink.add(where, fmt::format("{}: {}", key, e.what()));
    other_files.insert(other_files.end(), e.problems().begin(), e.problems().end());
  } catch (const std::exception& e) {
    sink.add(where, fmt::format("{}: {}", key, e.what()));
  }
  return false;
}

}  // namespace

Sweep load_sweep(const std::string& path) {
  ProblemSink sink(path);
  std::vector<ConfigProblem> other_files;
  const YAML::Node root = load_root(path);
  const TopLevel top = split_top_level(root, sink);
  const config::ParsedConfig parsed = config::parse_node(top.plain, top_schema(), sink);
  config::check_version(parsed, kSweepVersion, "sweep file", sink);
  Sweep sweep;
  sweep.path = path;
  sweep.name = parsed.string("name").value_or(fs::path(path).stem().string());
  sweep.base_chip = resolved(path, parsed.string("base_chip").value_or(""));
  if (sweep.base_chip.empty()) sweep.base_chip = std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml";
  sweep.default_model = resolved(path, parsed.string("model").value_or(""));
  if (sweep.default_model.empty()) sweep.default_model = std::string(SPIKETILE_SOURCE_DIR) + "/models/spikegpt-fortunes.pth";
  const YAML::Node run = root["run"];  // const: looking adds no key
  read_run(parsed, path, run.IsDefined() && run.IsMap() && run["prompt"] && run["prompt_ids"], sweep.run, sink);
  const bool base_ok = check_file("base_chip", parsed.position("base_chip"), sink, other_files, [&] {
    load_chip_spec(sweep.base_chip);
    sweep.base_chip_yaml = unicode::read_file_bytes(sweep.base_chip, "a chip description (YAML)");
  });
  check_file("run.energy_table", parsed.position("run.energy_table"), sink, other_files,
             [&] { load_energy_table(sweep.run.energy_table); });

  SweepReader reader(path, sink);
  std::vector<std::vector<Setting>> lists;
  if (top.grid) lists = reader.grid(*top.grid, sweep.axes);
  if (top.grid || !top.points) sweep.points = product(lists);
  if (top.points) {
    const std::vector<SweepPoint> explicit_points = reader.points(*top.points, sweep.axes);
    sweep.points.insert(sweep.points.end(), explicit_points.begin(), explicit_points.end());
  }
  const bool model_axis = std::find(sweep.axes.begin(), sweep.axes.end(), "model") != sweep.axes.end();
  if (!model_axis || parsed.has("model")) reader.check_model(sweep.default_model, parsed.position("model"));
  if (base_ok && sink.empty()) check_derived_chips(sweep, sink);

  std::vector<ConfigProblem> problems = sink.sorted();
  problems.insert(problems.end(), other_files.begin(), other_files.end());
  if (!problems.empty())
    throw ConfigError(fmt::format("invalid sweep file {} ({} problem{}):", path, problems.size(),
                                  problems.size() == 1 ? "" : "s"),
                      problems);
  return sweep;
}

std::string point_model(const Sweep& sweep, const SweepPoint& point) {
  const Setting* model = point.find("model");
  return model ? resolved(sweep.path, model->value) : sweep.default_model;
}

namespace {
// Sets `value` at the dotted `path` of a chip tree. An implementation written as a bare name
// (`gating: core`) becomes {impl: core} when one of its parameters is set; a new implementation
// name replaces the old one's parameters (they may not exist in the new one).
void set_chip_value(YAML::Node node, const std::string& path, const std::string& value, bool is_impl) {
  std::vector<std::string> parts;
  for (std::size_t start = 0, dot = 0; dot != std::string::npos; start = dot + 1) {
    dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
  }
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (node[parts[i]].IsScalar()) {
      YAML::Node impl(YAML::NodeType::Map);
      impl["impl"] = node[parts[i]].Scalar();
      node[parts[i]] = impl;
    }
    node.reset(node[parts[i]]);
  }
  const std::string& leaf = parts.back();
  if (is_impl && node[leaf].IsMap() && node[leaf]["impl"] && node[leaf]["impl"].Scalar() == value) return;
  node[leaf] = value;
}
}  // namespace

std::string derived_chip_yaml(const Sweep& sweep, const SweepPoint& point) {
  YAML::Node root = YAML::Load(sweep.base_chip_yaml);
  std::vector<const Setting*> chip_settings;
  for (const Setting& s : point.settings)
    if (s.key.rfind("chip.", 0) == 0) chip_settings.push_back(&s);
  // Implementations first, so a parameter of the new one lands in it.
  std::stable_sort(chip_settings.begin(), chip_settings.end(), [](const Setting* a, const Setting* b) {
    return std::count(a->key.begin(), a->key.end(), '.') < std::count(b->key.begin(), b->key.end(), '.');
  });
  for (const Setting* s : chip_settings)
    set_chip_value(root, s->key.substr(5), s->value, axis_param(s->key)->type == ParamType::impl);
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::vector<std::string> option_arguments(const SweepPoint& point, const std::string& command) {
  std::vector<std::string> args;
  for (const Setting& s : point.settings) {
    if (s.key.rfind(command + ".", 0) != 0) continue;
    std::string flag = "--" + s.key.substr(command.size() + 1);
    std::replace(flag.begin(), flag.end(), '_', '-');
    args.push_back(flag);
    args.push_back(s.value);
  }
  return args;
}

}  // namespace spiketile::explore
