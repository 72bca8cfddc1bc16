#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "cli/common.hpp"
#include "explore/point.hpp"
#include "explore/pool.hpp"
#include "explore/results.hpp"
#include "explore/sweep.hpp"
#include "sim/mpi_rank_group.hpp"

namespace spiketile::cli {

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

struct ExploreOptions {
  std::string sweep;
  std::string out;
  int jobs = int(std::max(1u, std::thread::hardware_concurrency()));
  int64_t point = -1;  // --point K: compute only point K (a worker, an array job's task)
  double rank_timeout_seconds = 7 * 24 * 3600.0;  // under mpirun: the longest wait for another rank's points
  bool list = false;
  bool quiet = false;
  ProgressOption progress;
};

// The one command line that computes point `index`: what the pool starts, and what a cluster's
// array job runs per task (docs/explore.md).
std::vector<std::string> worker_args(const ExploreOptions& o, std::size_t index) {
  return {"explore", fs::absolute(o.sweep).lexically_normal().string(), "-o",
          fs::absolute(o.out).lexically_normal().string(), "--point",
          std::to_string(index), "--progress", "off"};
}

json point_row(const explore::Sweep& sweep, const explore::PointPlan& plan, const json& result, bool computed) {
  json settings = json::object();
  for (const auto& s : sweep.points[plan.index].settings) settings[s.key] = s.value;
  json row{{"index", plan.index},
           {"hash", plan.hash.substr(0, 16)},
           {"dir", "points/" + plan.hash.substr(0, 16)},
           {"label", plan.label},
           {"settings", settings},
           {"model", plan.model},
           {"status", result.value("status", "failed")},
           {"error", result.value("error", json())},
           {"failed_step", result.value("failed_step", json())},
           {"computed", computed},
           {"metrics", result.value("metrics", json())}};
  return row;
}

int run_worker(const ExploreOptions& o, const std::vector<explore::PointPlan>& plans) {
  if (o.point >= int64_t(plans.size()))
    throw CLI::ValidationError("--point", fmt::format("{} has points 0 to {}", o.sweep, plans.size() - 1));
  const json result = explore::run_point(plans[std::size_t(o.point)], explore::self_executable());
  if (result["status"] != "ok") {
    fmt::print(stderr, "spiketile: point {} failed in {}: {}\n", o.point, result["failed_step"].get<std::string>(),
               result["error"].get<std::string>());
    return 2;
  }
  return 0;
}

// What a point computed this run left in its folder, or the failure row when it left nothing.
json computed_result(const explore::PointPlan& plan, const std::string& why) {
  if (auto result = explore::stored_result(plan, false)) return *result;
  return json{{"status", "failed"}, {"failed_step", "worker"}, {"error", fmt::format("{} (see {}/worker.log)", why, plan.dir)}};
}

int explore_sweep(const ExploreOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const explore::Sweep sweep = explore::load_sweep(o.sweep);
  const std::vector<explore::PointPlan> plans = explore::plan_points(sweep, o.out, SPIKETILE_VERSION);
  if (o.list) {
    for (const auto& plan : plans)
      fmt::print("{}\t{}\t{}\t{}\n", plan.index, plan.hash.substr(0, 16), plan.label,
                 explore::shell_command(explore::self_executable(), worker_args(o, plan.index)));
    return 0;
  }
  if (o.point >= 0) return run_worker(o, plans);

  // Cached points are read; each distinct key left is computed once, however many points share it.
  std::vector<std::optional<json>> results(plans.size());
  std::map<std::string, std::size_t> first_with_hash;
  std::vector<explore::Job> jobs;
  std::vector<std::size_t> job_point;
  for (const auto& plan : plans) {
    results[plan.index] = explore::stored_result(plan, true);
    if (results[plan.index] || !first_with_hash.emplace(plan.hash, plan.index).second) continue;
    fs::create_directories(plan.dir);
    jobs.push_back({worker_args(o, plan.index), plan.dir + "/worker.log"});
    job_point.push_back(plan.index);
  }
  // Under mpirun the points to compute are dealt out over the ranks (the output folder must be one
  // every rank sees); each computes its own with -j workers, then rank 0 reads every result.
  const std::shared_ptr<sim::RankGroup> ranks = sim::mpi_ranks_if_launched(o.rank_timeout_seconds);
  const int rank = ranks ? ranks->rank() : 0, rank_count = ranks ? ranks->size() : 1;
  std::vector<explore::Job> mine;
  std::vector<std::size_t> mine_in_jobs;
  for (std::size_t k = 0; k < jobs.size(); ++k)
    if (int(k % std::size_t(rank_count)) == rank) {
      mine.push_back(jobs[k]);
      mine_in_jobs.push_back(k);
    }
  const std::size_t cached = plans.size() - jobs.size();
  std::size_t finished = 0, failed = 0;
  ProgressLine progress(o.progress, "explore");
  auto seconds = [&t0] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  auto tick = [&] {
    const std::size_t running = std::min<std::size_t>(std::size_t(o.jobs), mine.size() - finished);
    progress.show("{} of {} points done ({} cached, {} failed), {} running, {:.0f} s", cached + finished, plans.size(),
                  cached, failed, running, seconds());
  };
  explore::run_pool(explore::self_executable(), mine, o.jobs,
                    [&](std::size_t job, int status) {
                      const auto& plan = plans[job_point[mine_in_jobs[job]]];
                      const json result = computed_result(
                          plan, fmt::format("the worker exited with status {} and wrote no result", status));
                      ++finished;
                      failed += result["status"] == "ok" ? 0 : 1;
                      results[plan.index] = result;
                    },
                    tick);
  progress.clear();
  if (rank_count > 1) {
    ranks->gather({});  // every rank's points are in their folders
    if (rank != 0) {
      fmt::print(stderr, "explore: rank {} of {} computed {} of the {} points to compute\n", rank, rank_count, mine.size(),
                 jobs.size());
      return 0;
    }
    for (std::size_t k = 0; k < jobs.size(); ++k) {
      if (int(k % std::size_t(rank_count)) == 0) continue;
      const auto& plan = plans[job_point[k]];
      results[plan.index] = computed_result(plan, fmt::format("rank {} left no result", k % std::size_t(rank_count)));
    }
  }

  json rows = json::array();
  std::size_t failures = 0;
  for (const auto& plan : plans) {
    const std::size_t source = results[plan.index] ? plan.index : first_with_hash.at(plan.hash);
    const json& result = *results[source];
    const bool computed = std::find(job_point.begin(), job_point.end(), source) != job_point.end();
    rows.push_back(point_row(sweep, plan, result, computed));
    failures += result.value("status", "") == "ok" ? 0 : 1;
  }
  const json document = explore::results_json(sweep, rows);
  fs::create_directories(o.out);
  OutputBatch outputs;
  outputs.open(o.out + "/results.json").write(document.dump(1) + "\n");
  outputs.open(o.out + "/results.csv").write(explore::results_csv(document));
  outputs.open(o.out + "/explore.html").write(explore::results_html(document));
  outputs.commit();
  if (!o.quiet) fmt::print("{}", explore::results_text(document));
  fmt::print(stderr, "explore: {} points: {} computed, {} cached, {} failed [{:.1f} s]; wrote {}/results.csv, "
                     "results.json, explore.html\n",
             plans.size(), jobs.size(), cached, failures, seconds(), o.out);
  return failures > 0 ? 2 : 0;
}
}  // namespace

void register_explore(CLI::App& app) {
  auto o = std::make_shared<ExploreOptions>();
  auto* cmd = app.add_subcommand(
      "explore",
      "Design-space exploration: compile, simulate and report every point of a sweep (a grid over chip parameters, "
      "compile options and models) in worker processes, results cached by content hash; writes results.csv, "
      "results.json and explore.html (the Pareto front of energy against latency per token). See docs/explore.md");
  cmd->add_option("sweep", o->sweep, "Sweep file (YAML; chips/sweeps/*.yaml, docs/explore.md)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", o->out, "Output folder: points/<hash>/ per point, results.csv, results.json, explore.html")
      ->required();
  cmd->add_option("-j,--jobs", o->jobs, "Points computed at a time (worker processes)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_option("--point", o->point,
                  "Compute only point K (0-based, as --list numbers them) into its folder and write no table: the "
                  "worker command line, for a cluster's array job")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--rank-timeout", o->rank_timeout_seconds,
                  "Under mpirun: seconds rank 0 waits for the other ranks' points before it stops, naming them")
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--list", o->list, "Print every point (index, hash, settings, its worker command line) and compute nothing");
  add_quiet_flag(cmd, o->quiet, "Do not print the table of points");
  o->progress.add_to(cmd);
  cmd->callback([o] {
    const int rc = explore_sweep(*o);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace spiketile::cli
