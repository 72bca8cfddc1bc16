#include <fmt/format.h>

#include "cli/common.hpp"

namespace spiketile::cli {

namespace {
struct CalibrateOptions {
  ModelOptions model;
  TokenInputOptions input;
  std::string out;
  ProgressOption progress;
};

void run_calibrate(const CalibrateOptions& o) {
  const std::string out = o.out.empty() ? o.model.calibration_path() : o.out;
  refuse_overwriting_inputs({out}, {o.model.model, o.model.tokenizer, o.input.path()});
  GoldenModel golden(SpikeGptWeights::load(o.model.model, o.model.golden()), o.model.threads);
  const FileTokens input = o.input.read(o.model.find_tokenizer(golden), golden.vocab_size(), kTextToCalibrate);
  ProgressLine progress(o.progress, "calibrate");
  const Calibration cal = calibrate(golden, input.tokens, o.input.path(), [&progress](int64_t done, int64_t total) {
    progress.show("{}/{} tokens", done, total);
  });
  progress.clear();
  cal.save(out);
  fmt::print("calibrated on {} tokens of {}; wrote {}\n", input.tokens.size(), o.input.path(), out);
}
}  // namespace

void register_calibrate(CLI::App& app) {
  auto opts = std::make_shared<CalibrateOptions>();
  auto* cmd = app.add_subcommand("calibrate", "Measure activation ranges with the golden model for the integer contract");
  opts->model.add_to(cmd);
  opts->input.max_tokens = 20000;
  opts->input.add_to(cmd, "Sample text (use training data, not the evaluation text)", "Tokens of the text to run");
  cmd->add_option("-o,--output", opts->out, "Calibration file (default: <model>.calib.json)");
  opts->progress.add_to(cmd);
  cmd->callback([opts] { run_calibrate(*opts); });
}

}  // namespace spiketile::cli
