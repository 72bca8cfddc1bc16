// Writes a SpikeGPT checkpoint of a given shape with random weights in the upstream layout
// (safetensors, float32) and its calibration file, for benchmarks at shapes whose real checkpoints
// cannot be had here (46M, 216M):
//   make_random_model --shape 18,768,50277 -o /tmp/spikegpt-216m.safetensors [--calibration-tokens 32]
// The calibration is measured with the golden model on a deterministic token sequence and written
// beside the checkpoint as <name>.calib.json, where `spiketile compile` looks for it.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <sstream>

#include "models/quantized.hpp"
#include "models/random_weights.hpp"
#include "models/spikegpt.hpp"
#include "models/tensor_file.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Random-weight SpikeGPT checkpoint + calibration for benchmarks"};
  std::string shape, output;
  uint64_t seed = 1;
  int calibration_tokens = 32;
  app.add_option("--shape", shape, "L,C,V")->required();
  app.add_option("-o,--output", output, "Checkpoint to write (.safetensors)")->required();
  app.add_option("--seed", seed, "Weight seed")->capture_default_str();
  app.add_option("--calibration-tokens", calibration_tokens, "Golden-model steps measuring activation ranges")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spiketile::ModelConfig c;
  char comma;
  std::stringstream ss(shape);
  ss >> c.n_layer >> comma >> c.n_embd >> comma >> c.vocab_size;
  spiketile::TensorFile file = spiketile::random_spikegpt_checkpoint(c, seed);
  spiketile::save_safetensors(output, file);
  fmt::print("wrote {} ({:.1f} M parameters)\n", output, double(c.parameter_count()) / 1e6);

  spiketile::GoldenModel golden(spiketile::SpikeGptWeights::from_file(std::move(file), {}), 0);
  std::vector<int> tokens;
  for (int i = 0; i < calibration_tokens; ++i) tokens.push_back(int((int64_t(i) * 7919 + 13) % c.vocab_size));
  const spiketile::Calibration cal = spiketile::calibrate(golden, tokens, fmt::format("{} deterministic tokens", calibration_tokens));
  std::string base = output;
  if (base.size() > 12 && base.compare(base.size() - 12, 12, ".safetensors") == 0) base.resize(base.size() - 12);
  cal.save(base + ".calib.json");
  fmt::print("wrote {}.calib.json\n", base);
  return 0;
}
