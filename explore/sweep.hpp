// A design-space sweep (docs/explore.md): a base chip, a grid of values over chip parameters,
// compile options and models (their cartesian product, plus explicit points), and the run every
// point gets (prompt, tokens, energy table, GPU). The whole file is validated before any work, as
// a chip description is: every problem with its file:line:column, unknown keys named with a
// did-you-mean, each value checked against the schema of what it overrides, and every point's
// derived chip loaded by the chip loader itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chips/config_schema.hpp"

namespace spiketile::explore {

// The only sweep file format version this build reads.
inline constexpr int kSweepVersion = 1;

// One value a point gives one axis: "chip.mesh.rows" = "4", "compile.objective" = "cores",
// "model" = "../models/x.pth". The value is the YAML text as written (validated).
struct Setting {
  std::string key;
  std::string value;
  config::Position where;  // in the sweep file
};

struct SweepPoint {
  std::vector<Setting> settings;  // in axis order; an axis a point does not set keeps the base
  const Setting* find(const std::string& key) const;
  // "chip.mesh.rows=4 compile.objective=cores" ("base" for a point that sets nothing).
  std::string label() const;
};

// What every point runs after compiling: `simulate` on a prompt, then `report`.
struct RunSetup {
  std::string prompt = "\n";
  std::string prompt_ids;
  int64_t tokens = 8;
  std::optional<double> temperature;
  std::optional<int64_t> sample_seed;
  std::string energy_table;  // resolved path
  std::string gpu = "h100";  // a name of chips/gpu, or a resolved path
  std::string gpu_precision = "bf16";
  int64_t batch = 8;
  // A held-out text every point's mapping is scored on (eval --map: bits per character, the
  // accuracy axis of a frontier over models); empty: no scoring.
  std::string eval_text;    // resolved path
  int64_t eval_tokens = 0;  // eval --max-tokens (0: the whole text)
};

struct Sweep {
  std::string path;
  std::string name;
  std::string base_chip;       // resolved path
  std::string base_chip_yaml;  // its text
  std::string default_model;   // resolved path, for points that set no model
  RunSetup run;
  std::vector<std::string> axes;   // every key set anywhere, grid axes first, in file order
  std::vector<SweepPoint> points;  // the grid's product (first axis slowest), then the explicit points
};

// Reads and validates `path`; throws ConfigError listing every problem.
Sweep load_sweep(const std::string& path);

// A point's checkpoint (resolved path).
std::string point_model(const Sweep& sweep, const SweepPoint& point);
// The base chip with the point's chip.* settings applied, as YAML text.
std::string derived_chip_yaml(const Sweep& sweep, const SweepPoint& point);
// The point's settings of `command` ("compile", "report") as its options: compile.objective=cores
// is {"--objective", "cores"}.
std::vector<std::string> option_arguments(const SweepPoint& point, const std::string& command);

// The options of `command` ("compile", "report") a grid or point may set as `command.<key>`,
// with their ranges and descriptions (docs/explore.md lists them).
const std::vector<config::ParamSpec>& option_axis_params(const std::string& command);
// The `run` section's keys.
const config::Schema& run_schema();

}  // namespace spiketile::explore
