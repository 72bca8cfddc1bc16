#include "explore/point.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "chips/chip_spec.hpp"
#include "chips/core_area.hpp"
#include "explore/sha256.hpp"
#include "models/checkpoint_files.hpp"
#include "models/output_file.hpp"
#include "runtime/report_request.hpp"

namespace spiketile::explore {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class FileHashes {
 public:
  const std::string& of(const std::string& path) {
    auto found = hashes_.find(path);
    if (found == hashes_.end()) found = hashes_.emplace(path, sha256_file(path)).first;
    return found->second;
  }

 private:
  std::map<std::string, std::string> hashes_;
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> simulate_args(const RunSetup& run, const std::string& dir) {
  std::vector<std::string> args{"simulate", "--map", dir + "/model.stmap"};
  if (run.prompt_ids.empty()) args.insert(args.end(), {"--prompt", run.prompt});
  else args.insert(args.end(), {"--prompt-ids", run.prompt_ids});
  args.insert(args.end(), {"--tokens", std::to_string(run.tokens)});
  if (run.temperature) args.insert(args.end(), {"--temperature", fmt::format("{}", *run.temperature)});
  if (run.sample_seed) args.insert(args.end(), {"--sample-seed", std::to_string(*run.sample_seed)});
  args.insert(args.end(), {"--stats", dir + "/stats.json", "--progress", "off", "--quiet"});
  return args;
}

std::vector<Job> point_steps(const Sweep& sweep, const SweepPoint& point, const std::string& model, const std::string& dir) {
  std::vector<std::string> compile{"compile",        "--model",    model, "--chip", dir + "/chip.yaml", "-o",
                                   dir + "/model.stmap", "--energy-table", sweep.run.energy_table, "--progress", "off"};
  const std::vector<std::string> options = option_arguments(point, "compile");
  compile.insert(compile.end(), options.begin(), options.end());
  std::vector<std::string> report{"report",   "--stats",         dir + "/stats.json",     "--energy-table",
                                        sweep.run.energy_table, "--gpu", sweep.run.gpu, "--gpu-precision",
                                        sweep.run.gpu_precision, "--batch", std::to_string(sweep.run.batch),
                                        "--json", dir + "/report.json", "--quiet"};
  const std::vector<std::string> pricing = option_arguments(point, "report");
  report.insert(report.end(), pricing.begin(), pricing.end());
  std::vector<Job> steps{{compile, dir + "/compile.log"}, {simulate_args(sweep.run, dir), dir + "/simulate.log"},
                         {report, dir + "/report.log"}};
  if (!sweep.run.eval_text.empty()) {
    std::vector<std::string> eval{"eval", "--map", dir + "/model.stmap", "--text", sweep.run.eval_text,
                                  "--json", dir + "/eval.json", "--progress", "off"};
    if (sweep.run.eval_tokens > 0) eval.insert(eval.end(), {"--max-tokens", std::to_string(sweep.run.eval_tokens)});
    steps.push_back({eval, dir + "/eval.log"});
  }
  return steps;
}

json run_key(const RunSetup& run, FileHashes& hashes) {
  // Files by their bytes only: the same table or GPU under another path is the same point.
  json key{{"prompt", run.prompt},
           {"prompt_ids", run.prompt_ids},
           {"tokens", run.tokens},
           {"gpu_precision", run.gpu_precision},
           {"batch", run.batch},
           {"energy_table", hashes.of(run.energy_table)},
           {"gpu_spec", hashes.of(gpu_spec_path(run.gpu))}};
  key["temperature"] = run.temperature ? json(*run.temperature) : json();
  key["sample_seed"] = run.sample_seed ? json(*run.sample_seed) : json();
  // Only a sweep that scores adds these, so the points of one that does not keep their hashes.
  if (!run.eval_text.empty()) {
    key["eval_text"] = hashes.of(run.eval_text);
    key["eval_tokens"] = run.eval_tokens;
  }
  return key;
}

// A vocab.json beside the checkpoint is its tokenizer (README, "Your own SpikeGPT"), which the
// mapping records; without one the shipped tokenizer of the vocabulary's size is used.
json tokenizer_beside(const std::string& model, FileHashes& hashes) {
  const fs::path vocab = fs::path(model).parent_path() / "vocab.json";
  return fs::is_regular_file(vocab) ? json(hashes.of(vocab.string())) : json();
}

}  // namespace

std::vector<PointPlan> plan_points(const Sweep& sweep, const std::string& out_dir, const std::string& version) {
  FileHashes hashes;
  const json run = run_key(sweep.run, hashes);
  const std::string root = fs::absolute(out_dir).lexically_normal().string();
  std::vector<PointPlan> plans;
  for (std::size_t i = 0; i < sweep.points.size(); ++i) {
    const SweepPoint& point = sweep.points[i];
    PointPlan plan;
    plan.index = i;
    plan.label = point.label();
    plan.model = point_model(sweep, point);
    plan.chip_yaml = derived_chip_yaml(sweep, point);
    plan.key = {{"spiketile", version},
                {"model", hashes.of(plan.model)},
                {"calibration", hashes.of(calibration_path_for(plan.model))},
                {"tokenizer", tokenizer_beside(plan.model, hashes)},
                {"chip", plan.chip_yaml},
                {"compile", option_arguments(point, "compile")},
                {"report", option_arguments(point, "report")},
                {"run", run}};
    plan.hash = sha256_hex(plan.key.dump());
    plan.dir = root + "/points/" + plan.hash.substr(0, 16);
    plan.steps = point_steps(sweep, point, plan.model, plan.dir);
    plans.push_back(std::move(plan));
  }
  return plans;
}

std::optional<json> stored_result(const PointPlan& plan, bool reusable_only) {
  std::ifstream in(plan.result_path());
  if (!in) return std::nullopt;
  try {
    json result = json::parse(in);
    if (result.value("format", "") == kPointResultFormat && result.value("hash", "") == plan.hash &&
        (!reusable_only || result.value("reusable", false)))
      return result;
  } catch (const json::exception&) {
  }
  return std::nullopt;
}

std::string step_error(const std::string& log_text) {
  std::istringstream lines(log_text);
  std::string line, error, last;
  bool started = false;
  while (std::getline(lines, line)) {
    if (!line.empty()) last = line;
    if (!started && line.rfind("spiketile:", 0) == 0) {
      started = true;
      line = line.substr(line.rfind("spiketile: error:", 0) == 0 ? 17 : 10);
      line.erase(0, line.find_first_not_of(' '));
    }
    if (started) error += (error.empty() ? "" : "\n") + line;
  }
  return started ? error : last;
}

json point_metrics(const json& report, const json& stats, const json& eval) {
  const json& chip = report.at("chip");
  const double steps = stats.at("tokens").at("steps").get<double>();
  const double cycles = stats.at("cycles").at("total").get<double>();
  const double energy = chip.at("energy_per_token_pj").get<double>();
  const double latency_us = chip.at("latency_per_token_ns").get<double>() / 1e3;
  json m{{"cores_used", chip.at("cores_used")},
         {"cores_total", chip.at("cores_total")},
         {"energy_per_token_pj", energy},
         {"dynamic_per_token_pj", chip.at("dynamic_per_token_pj")},
         {"static_per_token_pj", chip.at("static_per_token_pj")},
         {"latency_per_token_cycles", cycles / steps},
         {"latency_per_token_us", latency_us},
         {"tokens_per_s", chip.at("tokens_per_s")},
         {"edp_pj_s", energy * latency_us * 1e-6},
         {"steps", stats.at("tokens").at("steps")}};
  const json& decode = chip.value("decode_latency_per_token_ns", json());
  m["decode_latency_per_token_us"] = decode.is_number() ? json(decode.get<double>() / 1e3) : json();
  m["sops_per_token"] = report.contains("paper") ? report["paper"]["counted"]["chip_sops_per_token"] : json();
  const json& inputs = report.value("projection_inputs", json());
  m["spike_input_steps"] = inputs.is_object() ? inputs["spike_input_steps"] : json();
  m["projection_input_rate"] = inputs.is_object() ? inputs["rate_mean"] : json();
  m["bits_per_token"] = eval.is_object() ? eval.at("bits_per_token") : json();  // per character: a char vocabulary
  return m;
}

namespace {
// The RTL core's logic cells times the cores used: an area proxy, where the synthesis covers the
// chip's widths (chips/core_area.hpp).
json area_proxy(const std::string& chip_yaml, const json& metrics) {
  const auto proxy = core_area_proxy(load_chip_spec_from_string(chip_yaml, "chip.yaml"));
  if (!proxy || !metrics["cores_used"].is_number()) return json();
  return json(double(proxy->logic_cells) * metrics["cores_used"].get<double>());
}
}  // namespace

json run_point(const PointPlan& plan, const std::string& exe) {
  fs::create_directories(plan.dir);
  write_file(plan.dir + "/chip.yaml", plan.chip_yaml);
  std::string commands = "#!/bin/sh\n# spiketile explore point " + plan.hash.substr(0, 16) + ": " + plan.label + "\nset -e\n";
  for (const Job& step : plan.steps) commands += shell_command(exe, step.args) + "\n";
  write_file(plan.dir + "/commands.sh", commands);
  json result{{"format", kPointResultFormat}, {"hash", plan.hash}, {"label", plan.label}, {"key", plan.key}};
  static const char* const kStepNames[] = {"compile", "simulate", "report", "eval"};
  for (std::size_t i = 0; i < plan.steps.size(); ++i) {
    const int status = run_job(exe, plan.steps[i]);
    if (status != 0) {
      result["status"] = "failed";
      result["failed_step"] = kStepNames[i];
      result["exit_status"] = status;
      result["error"] = step_error(read_text(plan.steps[i].log));
      // Not fitting is a property of the point; anything else may not happen again.
      result["reusable"] = i == 0 && status == 2;
      write_file(plan.result_path(), result.dump(1) + "\n");
      return result;
    }
  }
  result["status"] = "ok";
  result["error"] = nullptr;
  const bool scored = plan.steps.size() > 3;
  result["metrics"] = point_metrics(json::parse(read_text(plan.dir + "/report.json")),
                                    json::parse(read_text(plan.dir + "/stats.json")),
                                    scored ? json::parse(read_text(plan.dir + "/eval.json")) : json());
  result["metrics"]["area_proxy_logic_cells"] = area_proxy(plan.chip_yaml, result["metrics"]);
  result["reusable"] = true;
  write_file(plan.result_path(), result.dump(1) + "\n");
  return result;
}

}  // namespace spiketile::explore
