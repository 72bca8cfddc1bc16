// Files and models the tests of several levels share: reading a text file, the shipped model's
// integer parameters, and the shipped model compiled onto variants of chips/default.yaml.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/lowering.hpp"
#include "models/quantized.hpp"
#include "runtime/compile_objective.hpp"

namespace spiketile::test_fixtures {

inline const std::filesystem::path kRepo = SPIKETILE_SOURCE_DIR;

// The whole file, bytes as stored; a missing file is an error, not an empty text.
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("test data missing: " + path.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The shipped model under the integer contract with its committed calibration.
inline QuantizedSpikeGpt shipped_quantized(const QuantOptions& options = {}) {
  const auto weights = SpikeGptWeights::load((kRepo / "models" / "spikegpt-fortunes.pth").string(), {});
  const auto cal =
      Calibration::load((kRepo / "models" / "spikegpt-fortunes.calib.json").string(), weights.config.n_layer);
  return QuantizedSpikeGpt::build(weights, cal, options);
}

// The shipped model compiled onto chips/default.yaml with some of its lines replaced; the mapping
// embeds the edited text.
inline std::string edited_default_chip(const std::vector<std::pair<std::string, std::string>>& edits) {
  std::string yaml = read_text(kRepo / "chips" / "default.yaml");
  for (const auto& [from, to] : edits) {
    const auto at = yaml.find(from);
    if (at == std::string::npos) throw std::runtime_error("default.yaml has no '" + from + "'");
    yaml.replace(at, from.size(), to);
  }
  return yaml;
}

inline std::shared_ptr<const Mapping> shipped_on_default_chip(
    const std::vector<std::pair<std::string, std::string>>& edits = {}) {
  const std::string yaml = edited_default_chip(edits);
  return std::make_shared<const Mapping>(
      compile_model(shipped_quantized(), load_chip_spec_from_string(yaml, "test chip"), yaml));
}

// The same as `spiketile compile --objective ...` does it: flows weighed by a replay of profile
// tokens, the latency estimate (runtime/latency_estimate.hpp) and, for the latency objective, the
// search that splits the critical path (runtime/compile_objective.hpp).
inline std::shared_ptr<const Mapping> shipped_for_objective(
    const ObjectiveOptions& objective, const std::vector<std::pair<std::string, std::string>>& edits = {},
    const ProfileOptions& profile = {}) {
  const std::string yaml = edited_default_chip(edits);
  const QuantizedSpikeGpt model = shipped_quantized();
  const int C = model.config.n_embd;
  const EmbeddingRowSource rows = [&](int token) {
    return std::vector<int32_t>(model.embedding.begin() + std::ptrdiff_t(token) * C,
                                model.embedding.begin() + std::ptrdiff_t(token + 1) * C);
  };
  return std::make_shared<const Mapping>(compile_for_objective([&] { return model; },
                                                               load_chip_spec_from_string(yaml, "test chip"), yaml,
                                                               CompileOptions{}, profile, rows, objective));
}

// Profiled on as few cores as the model needs (objective cores).
inline std::shared_ptr<const Mapping> shipped_profiled_on_default_chip(
    const std::vector<std::pair<std::string, std::string>>& edits = {}, const ProfileOptions& profile = {}) {
  ObjectiveOptions cores;
  cores.objective = Objective::cores;
  return shipped_for_objective(cores, edits, profile);
}

}  // namespace spiketile::test_fixtures
