#include "cli/common.hpp"

#include "compiler/mapping_io.hpp"
#include "models/checkpoint_files.hpp"
#include "models/unicode_util.hpp"
#include "runtime/mapping_executor.hpp"
#include "runtime/npy.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace spiketile::cli {

std::string default_model_path() { return std::string(SPIKETILE_SOURCE_DIR) + "/models/spikegpt-fortunes.pth"; }

std::string default_chip_path() { return std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml"; }

std::string default_data_dir() { return shipped_data_dir(); }

void ModelOptions::add_to(CLI::App* app, bool accepts_map) {
  fixed_by_mapping_.clear();
  fixed_by_mapping_.push_back(app->add_option("--model,-m", model, "Checkpoint (.pth written by torch.save, or .safetensors)")
                                  ->capture_default_str());
  fixed_by_mapping_.push_back(app->add_flag("--no-rescale", no_rescale,
                "Disable upstream's 2^-floor(i/6) rescale of att.output/ffn.value and x/2 every 6 layers"));
  fixed_by_mapping_.push_back(app->add_option("--binary-embedding", binary_embedding,
                  "Binarize the embedding row: auto (upstream: only when vocab == 77), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str());
  app->add_option("--threads", threads, "Threads for matrix-vector products (0 = all cores)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app->add_option("--data-dir", data_dir, "Folder holding vocab_book.json and 20B_tokenizer.json")
      ->capture_default_str();
  add_tokenizer_option(app, tokenizer);
  auto* group = app->add_option_group("quantized", "Integer contract (docs/numerics.md)");
  if (accepts_map)
    group->add_option("--map", map,
                      "Run a compiled mapping (spiketile compile) with the mapping executor; needs no checkpoint")
        ->check(CLI::ExistingFile);
  fixed_by_mapping_.push_back(
      group->add_flag("--quantized", quantized, "Run the quantized functional model instead of the float golden model"));
  fixed_by_mapping_.push_back(group->add_option("--calibration", calibration,
                                                "Activation ranges (default: <model>.calib.json; see 'spiketile calibrate')"));
  fixed_by_mapping_.push_back(
      group->add_option("--weight-bits", quant.weight_bits, "Crossbar weight bits")->check(CLI::Range(2, 8))->capture_default_str());
  fixed_by_mapping_.push_back(group->add_option("--activation-bits", quant.activation_bits, "Bits of real-valued crossbar inputs")
                                  ->check(CLI::Range(2, 8))->capture_default_str());
  fixed_by_mapping_.push_back(group->add_option("--membrane-bits", quant.membrane_bits, "LIF membrane bits (Q.8)")
                                  ->check(CLI::Range(10, 32))->capture_default_str());
}

void ModelOptions::refuse_what_the_mapping_fixes() const {
  if (map.empty()) return;
  for (const CLI::Option* option : fixed_by_mapping_)
    if (option->count() > 0)
      throw CLI::ValidationError("--" + option->get_lnames().front(),
                                 "was fixed when the mapping was compiled; --map runs it as compiled (recompile to change it)");
}

std::string ModelOptions::calibration_path() const { return calibration_path_for(model, calibration); }

QuantizedSpikeGpt ModelOptions::make_quantized() const {
  return read_quantized_checkpoint(model, calibration, quant, golden());
}

std::unique_ptr<TokenModel> ModelOptions::make_model() const {
  refuse_what_the_mapping_fixes();
  if (!map.empty()) return std::make_unique<MappingExecutor>(std::make_shared<const Mapping>(load_mapping(map)));
  // The integer level is read tensor by tensor: it never holds the float weights beside its own.
  if (quantized) return std::make_unique<QuantizedModel>(make_quantized());
  return std::make_unique<GoldenModel>(SpikeGptWeights::load(model, golden()), threads);
}

std::vector<std::string> ModelOptions::input_paths() const {
  std::vector<std::string> inputs{map.empty() ? model : map};
  if (map.empty() && quantized) inputs.push_back(calibration_path());
  if (!tokenizer.empty()) inputs.push_back(tokenizer);
  return inputs;
}

FoundTokenizer ModelOptions::find_tokenizer(const TokenModel& model) const {
  // make_model() makes the mapping executor exactly when a mapping is given.
  if (!map.empty())
    return mapping_tokenizer(static_cast<const MappingExecutor&>(model).mapping(), map, tokenizer, data_dir);
  return spiketile::find_tokenizer(tokenizer, this->model, model.vocab_size(), data_dir);
}

void add_tokenizer_option(CLI::App* app, std::string& path) {
  app->add_option("--tokenizer", path,
                  "Tokenizer file: upstream SpikeGPT's vocab.json (a character vocabulary of any size, UTF-16 or "
                  "UTF-8) or a Hugging Face tokenizer.json, told apart by content (default: vocab.json beside the "
                  "checkpoint, else the shipped one of the vocabulary size; a mapping's own record)")
      ->check(CLI::ExistingFile);
}

void refuse_overwriting_inputs(const std::vector<std::string>& outputs, const std::vector<std::string>& inputs) {
  for (const std::string& output : outputs) refuse_same_file(output, inputs);
}

GoldenOptions ModelOptions::golden() const {
  GoldenOptions o;
  o.rescale_every_6_layers = !no_rescale;
  o.binary_embedding = parse_binary_embedding(binary_embedding);
  o.threads = threads;
  return o;
}

namespace {
// `text` read whole as a number by `convert` (a wrapper of std::stod, std::stoi), or nothing.
template <class Convert>
auto parsed_whole(const std::string& text, Convert convert) -> std::optional<decltype(convert(text, nullptr))> {
  std::size_t used = 0;
  try {
    const auto value = convert(text, &used);
    if (used > 0 && used == text.size()) return value;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}
}  // namespace

const CLI::Validator kUnitInterval(
    [](std::string& value) -> std::string {
      const auto number = parsed_whole(value, [](const std::string& s, std::size_t* used) { return std::stod(s, used); });
      if (!number || !(*number > 0.0 && *number <= 1.0)) return fmt::format("'{}' is not a number in (0, 1]", value);
      return {};
    },
    "NUMBER in (0, 1]");

namespace {
// A hidden former spelling of `named`: giving both is an error naming both (whichever comes second
// sees the other already counted).
void refuse_both(CLI::Option* named, const std::string& named_flag, CLI::Option* former, const std::string& former_flag) {
  const std::string message = fmt::format("is the former spelling of {}: give one of them", named_flag);
  named->each([former, former_flag, message](const std::string&) {
    if (former->count() > 0) throw CLI::ValidationError(former_flag, message);
  });
  former->each([named, former_flag, message](const std::string&) {
    if (named->count() > 0) throw CLI::ValidationError(former_flag, message);
  });
}
}  // namespace

void add_seed_option(CLI::App* cmd, const std::string& name, uint64_t& seed, const std::string& help) {
  auto* named = cmd->add_option(name, seed, help)->check(kFiniteNonNegative)->capture_default_str();
  // CLI11 gives a hidden option no name in its errors: the check names it itself.
  const CLI::Validator former_check(
      [](std::string& value) {
        const std::string problem = kFiniteNonNegative(value);
        return problem.empty() ? problem : "--seed: " + problem;
      },
      "NUMBER >= 0");
  refuse_both(named, name, cmd->add_option("--seed", seed, "Former spelling of " + name)->check(former_check)->group(""),
              "--seed");
}

void add_quiet_flag(CLI::App* cmd, bool& quiet, const std::string& help) {
  refuse_both(cmd->add_flag("--quiet", quiet, help), "--quiet",
              cmd->add_flag("--quiet-stats", quiet, "Former spelling of --quiet")->group(""), "--quiet-stats");
}

void ProgressOption::add_to(CLI::App* cmd) {
  cmd->add_option("--progress", mode, "Progress line on stderr: auto (when a terminal), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
}

bool ProgressOption::enabled() const { return mode == "on" || (mode == "auto" && isatty(fileno(stderr))); }

ProgressLine::ProgressLine(const ProgressOption& option, std::string command)
    : enabled_(option.enabled()), command_(std::move(command)) {}

bool ProgressLine::due() {
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::steady_clock::now().time_since_epoch()).count();
  if (drawn_ && now - last_drawn_ns_ < 100'000'000) return false;
  last_drawn_ns_ = now;
  return true;
}

void ProgressLine::draw(const std::string& text) {
  fmt::print(stderr, "\r\033[K[{}] {}", command_, text);
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::clear() {
  if (!drawn_) return;
  fmt::print(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

const CLI::Validator kFiniteNonNegative(
    [](std::string& value) -> std::string {
      const auto number = parsed_whole(value, [](const std::string& s, std::size_t* used) { return std::stod(s, used); });
      if (!number || !std::isfinite(*number) || *number < 0)
        return fmt::format("'{}' is not a finite number of at least 0", value);
      return {};
    },
    "NUMBER >= 0");

const char* const kLowercaseHelp =
    "Lowercase the text before encoding it, for a lowercase vocabulary such as the shipped one (which reads \"The\" "
    "as \" he\", a space for the capital, without it; characters read as space are counted on stderr either way)";

const CLI::Validator kNotEmpty([](std::string& value) -> std::string { return value.empty() ? "may not be empty" : ""; },
                               "NOT EMPTY");

std::vector<int> prompt_tokens(const std::string& text, const std::string& ids, const FoundTokenizer& tokenizer,
                               int vocab_size, TextCase text_case) {
  std::vector<int> tokens;
  if (!ids.empty()) {
    std::stringstream ss(ids);
    std::string item;
    while (std::getline(ss, item, ',')) {
      const auto parsed = parsed_whole(item, [](const std::string& s, std::size_t* used) { return std::stoi(s, used); });
      if (!parsed) throw std::invalid_argument(fmt::format("--prompt-ids: '{}' is not an integer token id", item));
      const int id = *parsed;
      if (id < 0 || id >= vocab_size)
        throw std::invalid_argument(fmt::format("--prompt-ids: token id {} is outside the vocabulary [0, {})", id, vocab_size));
      tokens.push_back(id);
    }
    return tokens;
  }
  return encode_prompt(text, tokenizer, vocab_size, {}, print_note_to_stderr, text_case);
}

namespace {
// Whitespace-separated integers; an item that is not one is named with its position.
std::vector<int64_t> integers_in_text(const std::string& path, const std::string& text) {
  std::vector<int64_t> values;
  std::istringstream items(text);
  std::string item;
  while (items >> item) {
    const auto value = parsed_whole(item, [](const std::string& s, std::size_t* used) { return std::stoll(s, used); });
    if (!value)
      throw std::invalid_argument(fmt::format("{}: item {} (counting from 0), '{}', is not an integer token id", path,
                                              values.size(), item.substr(0, 40)));
    values.push_back(*value);
  }
  return values;
}

std::vector<int64_t> integers_in_npy(const std::string& path) {
  const NpyValues array = read_npy_values(path);
  const char kind = array.dtype.size() > 1 ? array.dtype[1] : '?';
  if (kind != 'i' && kind != 'u')
    throw std::invalid_argument(fmt::format("{}: a .npy of dtype '{}'; token ids are an integer array (int8 to int64, "
                                            "uint8 to uint64)",
                                            path, array.dtype));
  if (array.shape.size() != 1)
    throw std::invalid_argument(fmt::format("{}: a .npy of {} dimensions; token ids are a 1-D array", path,
                                            array.shape.size()));
  // Integers of up to 8 bytes read as double: exact up to 2^53, and anything larger is out of range anyway.
  std::vector<int64_t> values;
  values.reserve(array.data.size());
  for (const double v : array.data) values.push_back(v >= 9.2e18 ? std::numeric_limits<int64_t>::max() : int64_t(v));
  return values;
}

bool is_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[6] = {};
  return in.read(magic, sizeof magic) && std::string(magic, sizeof magic) == "\x93NUMPY";
}
}  // namespace

std::vector<int> read_token_ids_file(const std::string& path, int vocab_size, int64_t max_tokens, TextNeed need) {
  const std::vector<int64_t> values =
      is_npy(path) ? integers_in_npy(path)
                   : integers_in_text(path, unicode::read_file_bytes(path, "token ids (.npy, or whitespace-separated integers)"));
  const std::size_t count = max_tokens > 0 ? std::min(values.size(), std::size_t(max_tokens)) : values.size();
  std::vector<int> tokens;
  tokens.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (values[i] < 0 || values[i] >= vocab_size)
      throw std::invalid_argument(fmt::format("{}: token id {} at position {} (counting from 0) is outside the "
                                              "vocabulary [0, {})",
                                              path, values[i], i, vocab_size));
    tokens.push_back(int(values[i]));
  }
  require_enough(path, tokens.size(), need, "token id", "");
  return tokens;
}

void TokenInputOptions::add_to(CLI::App* app, const std::string& text_help, const std::string& max_tokens_help) {
  auto* text = app->add_option("--text", text_file, text_help);
  app->add_option("--ids", ids_file,
                  "Token ids instead of text, for a vocabulary without a tokenizer: a 1-D .npy integer array, or a "
                  "text file of whitespace-separated integers")
      ->excludes(text);
  app->add_option("--max-tokens", max_tokens, max_tokens_help)->check(kFiniteNonNegative)->capture_default_str();
  app->add_flag("--lowercase", lowercase, kLowercaseHelp)->excludes("--ids");
}

const std::string& TokenInputOptions::path() const {
  if (text_file.empty() && ids_file.empty()) throw CLI::RequiredError("--text or --ids");
  return text_file.empty() ? ids_file : text_file;
}

FileTokens TokenInputOptions::read(const FoundTokenizer& tokenizer, int vocab_size, TextNeed need) const {
  if (!text_file.empty())
    return encode_text_file(text_file, tokenizer, vocab_size, max_tokens, need, print_note_to_stderr,
                            text_case_of(lowercase));
  FileTokens ids;
  ids.tokens = read_token_ids_file(path(), vocab_size, max_tokens, need);
  return ids;
}

std::string Utf8Stream::push(const std::string& bytes) {
  pending_ += bytes;
  // Find the end of the last complete character.
  std::size_t complete = pending_.size();
  for (std::size_t back = 1; back <= 4 && back <= pending_.size(); ++back) {
    const unsigned char c = pending_[pending_.size() - back];
    if ((c & 0xC0) == 0x80) continue;  // continuation byte
    const std::size_t need = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (need > back) complete = pending_.size() - back;
    break;
  }
  std::string out = pending_.substr(0, complete);
  pending_.erase(0, complete);
  return out;
}

std::string Utf8Stream::flush() {
  std::string out;
  out.swap(pending_);
  return out;
}

}  // namespace spiketile::cli
