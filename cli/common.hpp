// Options and helpers shared by the spiketile subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compiler/mapping.hpp"
#include "models/output_file.hpp"
#include "models/quantized.hpp"
#include "models/spikegpt.hpp"
#include "models/tokenizer.hpp"
#include "runtime/sampler.hpp"
#include "runtime/stats.hpp"
#include "runtime/token_input.hpp"

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
  // A tokenizer file (--tokenizer): vocab.json or tokenizer.json; empty: found by find_tokenizer's rule.
  std::string tokenizer;

  // Quantized functional model (the integer contract) instead of the float golden model.
  bool quantized = false;
  std::string calibration;   // default: <model>.calib.json beside the checkpoint
  QuantOptions quant;

  // accepts_map: the command can run a compiled mapping (--map) instead of a checkpoint.
  void add_to(CLI::App* app, bool accepts_map = false);
  // With --map: every option the mapping fixed (checkpoint, rescale, embedding, quantization) is
  // an error naming it, instead of being silently ignored.
  void refuse_what_the_mapping_fixes() const;
  GoldenOptions golden() const;
  std::string calibration_path() const;
  // A compiled mapping (spiketile compile) to run with the mapping executor instead of a checkpoint.
  std::string map;

 private:
  std::vector<const CLI::Option*> fixed_by_mapping_;

 public:

  // The integer parameters of the checkpoint under the quantization options and calibration.
  QuantizedSpikeGpt make_quantized() const;
  // The execution level these options select, ready to step.
  std::unique_ptr<TokenModel> make_model() const;
  // The files make_model() reads, which no output may overwrite.
  std::vector<std::string> input_paths() const;
  // The tokenizer of the model make_model() made: the mapping's (mapping_tokenizer) with --map,
  // else the checkpoint's (find_tokenizer: --tokenizer, vocab.json beside it, shipped by size).
  FoundTokenizer find_tokenizer(const TokenModel& model) const;
};

// The option naming a tokenizer file, for commands with their own option sets (simulate, inspect).
void add_tokenizer_option(CLI::App* app, std::string& path);

// Numeric options: a finite number of at least 0 (CLI11's own checks let NaN through, and an
// unsigned option would take -1 as its largest value).
extern const CLI::Validator kFiniteNonNegative;
extern const CLI::Validator kUnitInterval;   // a number in (0, 1]

// The option names every command shares (README, "One vocabulary"). A seed is named by what it
// seeds (--sample-seed, --placement-seed, --stimulus-seed); the bare --seed of earlier releases
// stays as a hidden alias. --quiet silences a command's summary on stderr; --quiet-stats is its
// hidden former spelling.
void add_seed_option(CLI::App* cmd, const std::string& name, uint64_t& seed, const std::string& help);
void add_quiet_flag(CLI::App* cmd, bool& quiet, const std::string& help);
// --progress auto|on|off: a progress line on stderr, by default only when stderr is a terminal
// (never '\r' lines in a redirected file). One style everywhere: "\r\033[K[command] …".
struct ProgressOption {
  std::string mode = "auto";
  void add_to(CLI::App* cmd);
  bool enabled() const;
};
// The progress line itself, the one implementation of that style: `show` rewrites it at most ten
// times a second (a per-cycle loop may call it freely; the text is formatted only when it is
// drawn), `clear` erases it before the command prints, as the destructor does.
class ProgressLine {
 public:
  ProgressLine(const ProgressOption& option, std::string command);
  ~ProgressLine() { clear(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;
  bool enabled() const { return enabled_; }
  template <class... Args>
  void show(fmt::format_string<Args...> format, Args&&... args) {
    if (enabled_ && due()) draw(fmt::format(format, std::forward<Args>(args)...));
  }
  void clear();

 private:
  bool due();
  void draw(const std::string& text);
  bool enabled_ = false, drawn_ = false;
  std::string command_;
  int64_t last_drawn_ns_ = 0;
};
// --lowercase's help, one text for every command that reads text.
extern const char* const kLowercaseHelp;
// Text options that may not be given empty (--prompt-ids "").
extern const CLI::Validator kNotEmpty;

// What every generating command (run, simulate) accepts: prompt, sampling, output files.
struct GenerationOptions {
  std::string prompt = kDefaultPrompt;
  std::string prompt_ids;
  int n_tokens = kDefaultGeneratedTokens;
  SamplingOptions sampling;
  std::string logits_out, counts_out, stats_out, spikes_out, membranes_out;
  bool lowercase = false;  // --lowercase: the prompt (and simulate's --text) lowercased first
  TextCase text_case() const { return text_case_of(lowercase); }
  bool quiet_stats = false;
  void add_to(CLI::App* app);
  std::vector<std::string> output_paths() const;
};

// Generates with `model`, streaming the text to stdout (encoded and decoded with `tokenizer`, or
// ids where it has none), and writes the files the options ask for into `outputs` (the caller
// commits them); `add_stats` adds what only this level measured to the statistics file.
void run_generation(const GenerationOptions& options, const ModelOptions& model_options, TokenModel& model,
                    const FoundTokenizer& tokenizer, OutputBatch& outputs,
                    const std::function<void(RunStats&)>& add_stats = {});

// Refuses, before any work, every output (empty: not asked for) that is one of the inputs.
void refuse_overwriting_inputs(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs);

// The statistics every level writes: model, tokens consumed (prompt, then generated) and counts.
RunStats run_stats(const ModelOptions& model_options, const TokenModel& model, const std::vector<int>& prompt,
                   const std::vector<int>& generated, const CountTotals& counts);

// Prompt given as text (--prompt) or ids (--prompt-ids 3,17,42).
std::vector<int> prompt_tokens(const std::string& text, const std::string& ids, const FoundTokenizer& tokenizer,
                               int vocab_size, TextCase text_case = TextCase::AsGiven);

// Token ids from a file: a 1-D .npy array of any integer dtype, or text of whitespace-separated
// integers; cut to max_tokens (0 = all). An id outside [0, vocab_size) is an error naming its
// position, as is a file with fewer ids than `need` asks for.
std::vector<int> read_token_ids_file(const std::string& path, int vocab_size, int64_t max_tokens, TextNeed need);

// What eval and calibrate run on: a text (--text, encoded with the model's tokenizer) or token
// ids (--ids, for a vocabulary without a tokenizer), exactly one of them, and --max-tokens.
struct TokenInputOptions {
  std::string text_file;
  std::string ids_file;
  int64_t max_tokens = 0;
  bool lowercase = false;
  void add_to(CLI::App* app, const std::string& text_help, const std::string& max_tokens_help);
  // The file given (a CLI::RequiredError when neither is).
  const std::string& path() const;
  FileTokens read(const FoundTokenizer& tokenizer, int vocab_size, TextNeed need) const;
};

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
void register_explore(CLI::App& app);

}  // namespace spiketile::cli
