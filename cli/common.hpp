// Options and helpers shared by the spiketile subcommands.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/output_file.hpp"
#include "models/quantized.hpp"
#include "models/spikegpt.hpp"
#include "models/tokenizer.hpp"
#include "runtime/sampler.hpp"
#include "runtime/stats.hpp"

namespace spiketile::cli {

std::string default_model_path();
std::string default_data_dir();
std::string default_chip_path();

// How a checkpoint is turned into a golden model; every execution level accepts the same flags.
struct ModelOptions {
  std::string model = default_model_path();
  bool no_rescale = false;
  std::string binary_embedding = "auto";
  int threads = 0;
  std::string data_dir = default_data_dir();

  // Quantized functional model (the integer contract) instead of the float golden model.
  bool quantized = false;
  std::string calibration;   // default: <model>.calib.json beside the checkpoint
  QuantOptions quant;

  // accepts_map: the command can run a compiled mapping (--map) instead of a checkpoint.
  void add_to(CLI::App* app, bool accepts_map = false);
  GoldenOptions golden() const;
  std::string calibration_path() const;
  // A compiled mapping (spiketile compile) to run with the mapping executor instead of a checkpoint.
  std::string map;

  // The integer parameters of the checkpoint under the quantization options and calibration.
  QuantizedSpikeGpt make_quantized() const;
  // The calibration file's ranges (an error naming the file and how to make it if it is missing).
  Calibration load_calibration(int n_layer) const;
  // The execution level these options select, ready to step.
  std::unique_ptr<TokenModel> make_model() const;
  // The files make_model() reads, which no output may overwrite.
  std::vector<std::string> input_paths() const;
};

// Numeric options: a finite number of at least 0 (CLI11's own checks let NaN through, and an
// unsigned option would take -1 as its largest value).
extern const CLI::Validator kFiniteNonNegative;
// Text options that may not be given empty (--prompt-ids "").
extern const CLI::Validator kNotEmpty;

// What every generating command (run, simulate) accepts: prompt, sampling, output files.
struct GenerationOptions {
  std::string prompt = "\n";
  std::string prompt_ids;
  int n_tokens = 200;
  SamplingOptions sampling;
  std::string logits_out, counts_out, stats_out, spikes_out;
  bool quiet_stats = false;
  void add_to(CLI::App* app);
  std::vector<std::string> output_paths() const;
};

// Generates with `model`, streaming the text to stdout, and writes the files the options ask
// for into `outputs` (the caller commits them); `add_stats` adds what only this level measured
// to the statistics file.
void run_generation(const GenerationOptions& options, const ModelOptions& model_options, TokenModel& model,
                    OutputBatch& outputs, const std::function<void(RunStats&)>& add_stats = {});

// Refuses, before any work, every output (empty: not asked for) that is one of the inputs.
void refuse_overwriting_inputs(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs);

// The statistics every level writes: model, tokens consumed (prompt, then generated) and counts.
RunStats run_stats(const ModelOptions& model_options, const TokenModel& model, const std::vector<int>& prompt,
                   const std::vector<int>& generated, const CountTotals& counts);

// Prompt given as text (--prompt) or ids (--prompt-ids 3,17,42).
std::vector<int> prompt_tokens(const std::string& text, const std::string& ids, const Tokenizer* tokenizer,
                               int vocab_size);

// What a command needs of a text: at least `tokens` of it, and the sentence saying so in an error.
struct TextNeed {
  std::size_t tokens;
  const char* reason;   // e.g. "evaluation needs at least two (one to predict the next)"
};
inline constexpr TextNeed kTextToEvaluate{2, "evaluation needs at least two (one to predict the next)"};
inline constexpr TextNeed kTextToCalibrate{1, "calibration needs at least one (ranges measured on nothing are zero)"};

// A text file encoded with the model's tokenizer, cut to max_tokens (0 = all). Errors name the
// file when it cannot be read, the vocabulary has no tokenizer, or it gives fewer tokens than
// `need` asks for.
std::vector<int> encode_text_file(const std::string& path, int vocab_size, const std::string& data_dir,
                                  int64_t max_tokens, TextNeed need);

// Collects token bytes and releases only complete UTF-8 characters, so byte-level BPE
// tokens that split a character still print correctly when streamed.
class Utf8Stream {
 public:
  std::string push(const std::string& bytes);
  std::string flush();

 private:
  std::string pending_;
};

void register_run(CLI::App& app);
void register_eval(CLI::App& app);
void register_inspect(CLI::App& app);
void register_calibrate(CLI::App& app);
void register_chip(CLI::App& app);
void register_compile(CLI::App& app);
void register_simulate(CLI::App& app);
void register_report(CLI::App& app);
void register_verify_rtl(CLI::App& app);

}  // namespace spiketile::cli
