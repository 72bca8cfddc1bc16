#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "runtime/cli/common.hpp"

namespace sf::cli {

namespace {
struct CalibrateOptions {
  ModelOptions model;
  std::string text_file;
  std::string out;
  int64_t max_tokens = 20000;
};

void run_calibrate(const CalibrateOptions& o) {
  GoldenModel golden(SpikeGptWeights::load(o.model.model, o.model.golden()), o.model.threads);
  auto tokenizer = tokenizer_for_vocab(golden.vocab_size(), o.model.data_dir);
  if (!tokenizer) throw std::invalid_argument("calibration text needs a tokenizer for this vocabulary");
  std::ifstream in(o.text_file, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open calibration text", o.text_file));
  std::stringstream ss;
  ss << in.rdbuf();
  auto tokens = tokenizer->encode(ss.str());
  if (o.max_tokens > 0 && int64_t(tokens.size()) > o.max_tokens) tokens.resize(std::size_t(o.max_tokens));
  const Calibration cal = calibrate(golden, tokens, o.text_file);
  const std::string out = o.out.empty() ? o.model.calibration_path() : o.out;
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
  cmd->add_option("--max-tokens", opts->max_tokens, "Tokens of the text to run")->capture_default_str();
  cmd->callback([opts] { run_calibrate(*opts); });
}

}  // namespace sf::cli
