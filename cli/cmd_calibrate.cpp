#include <fmt/format.h>

#include "cli/common.hpp"

namespace spiketile::cli {

namespace {
struct CalibrateOptions {
  ModelOptions model;
  std::string text_file;
  std::string out;
  int64_t max_tokens = 20000;
};

void run_calibrate(const CalibrateOptions& o) {
  const std::string out = o.out.empty() ? o.model.calibration_path() : o.out;
  refuse_overwriting_inputs({out}, {o.model.model, o.text_file});
  GoldenModel golden(SpikeGptWeights::load(o.model.model, o.model.golden()), o.model.threads);
  const auto tokens = encode_text_file(o.text_file, golden.vocab_size(), o.model.data_dir, o.max_tokens,
                                       kTextToCalibrate);
  const Calibration cal = calibrate(golden, tokens, o.text_file);
  cal.save(out);
  fmt::print("calibrated on {} tokens of {}; wrote {}\n", tokens.size(), o.text_file, out);
}
}  // namespace

void register_calibrate(CLI::App& app) {
  auto opts = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand("calibrate", "Measure activation ranges with the golden model for the integer contract");
  opts->model.add_to(cmd);
  cmd->add_option("--text", opts->text_file, "Sample text (use training data, not the evaluation text)")->required();
  cmd->add_option("-o,--output", opts->out, "Calibration file (default: <model>.calib.json)");
  cmd->add_option("--max-tokens", opts->max_tokens, "Tokens of the text to run")
      ->check(kFiniteNonNegative)
      ->capture_default_str();
  cmd->callback([opts] { run_calibrate(*opts); });
}

}  // namespace spiketile::cli
