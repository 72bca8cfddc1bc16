// One point of a sweep as work: its content hash (the cache key), its folder, the command lines
// that compute it (compile, simulate, report, and eval when the sweep scores a text) and the row
// its results make.
//
// The cache rule: a point's folder is DIR/points/<first 16 hex digits of the SHA-256 of its key>,
// where the key holds the bytes of the checkpoint, its calibration and a vocab.json beside it,
// the derived chip YAML, the compile and report options, the run setup (prompt, tokens, sampling,
// GPU precision and batch, with the bytes of the energy table and the GPU file) and the spiketile
// version. result.json, written
// last and whole, marks the point done; a later sweep reuses it when its key is the same. A point
// that failed because the model does not fit the chip (compile's exit status 2) is a result too;
// any other failure (a crash, a full disk) is computed again next time.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "explore/pool.hpp"
#include "explore/sweep.hpp"

namespace spiketile::explore {

inline constexpr const char* kPointResultFormat = "spiketile-explore-point-1";

struct PointPlan {
  std::size_t index = 0;
  std::string label;
  std::string hash;  // 64 hex digits
  std::string dir;   // <out>/points/<hash prefix>
  std::string model;
  std::string chip_yaml;
  nlohmann::json key;       // what the hash covers
  std::vector<Job> steps;   // compile, simulate, report[, eval]: each `spiketile <args>`
  std::string result_path() const { return dir + "/result.json"; }
};

// Every point of `sweep` planned under `out_dir`; each file is hashed once however many points
// read it.
std::vector<PointPlan> plan_points(const Sweep& sweep, const std::string& out_dir, const std::string& version);

// The point's result.json when it holds this very key (and, with `reusable_only`, a result a later
// sweep may reuse), else nullopt.
std::optional<nlohmann::json> stored_result(const PointPlan& plan, bool reusable_only);

// Computes the point: writes its chip and commands.sh, runs the steps with `exe` one after the
// other (each in its own process, its output in <step>.log), and writes result.json. Returns it.
nlohmann::json run_point(const PointPlan& plan, const std::string& exe);

// The figures of a finished point from its report (report --json), statistics (simulate --stats)
// and, for a sweep that scores its points, its evaluation (eval --json; null otherwise).
nlohmann::json point_metrics(const nlohmann::json& report, const nlohmann::json& stats, const nlohmann::json& eval);

// The error a failed step printed: from its first "spiketile:" line on (its last line otherwise).
std::string step_error(const std::string& log_text);

}  // namespace spiketile::explore
