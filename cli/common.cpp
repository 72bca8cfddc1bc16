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

Calibration ModelOptions::load_calibration(int n_layer) const {
  return load_model_calibration(calibration_path(), model, n_layer);
}

QuantizedSpikeGpt ModelOptions::make_quantized() const {
  // Tensor by tensor: the float model is never held whole (a 216M checkpoint is 860 MB of float32).
  const std::unique_ptr<TensorReader> reader = open_tensor_file(model);
  return QuantizedSpikeGpt::read(*reader, load_calibration(infer_config(reader->index()).n_layer), quant, golden());
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

FoundTokenizer mapping_tokenizer(const Mapping& mapping, const std::string& map_path, const std::string& given_path,
                                 const std::string& data_dir) {
  const TokenizerSource& recorded = mapping.tokenizer;
  if (mapping.tokenizer_recorded && recorded.kind != TokenizerKind::None) {
    if (!given_path.empty()) {
      const FoundTokenizer given = read_tokenizer_file(given_path, "given with --tokenizer");
      std::string difference;
      if (!same_tokenizer(recorded, given.source, &difference))
        throw std::invalid_argument(fmt::format(
            "--tokenizer {} is not the tokenizer {} was compiled with ({}, {}): {} (the recorded one against {}); "
            "leave --tokenizer out to use the recorded one, or recompile with 'spiketile compile --tokenizer {}'",
            given_path, map_path, recorded.path, recorded.rule, difference, given_path, given_path));
    }
    FoundTokenizer found;
    found.source = recorded;
    found.source.rule = fmt::format("recorded in {} ({})", map_path, recorded.rule);
    found.tokenizer = tokenizer_from_source(recorded, fmt::format("the tokenizer {} records ({})", map_path, recorded.path));
    return found;
  }
  const std::string no_record = mapping.tokenizer_recorded
                                    ? fmt::format("{} records no tokenizer: {}", map_path, recorded.rule)
                                    : fmt::format("{} (mapping format version 3) records no tokenizer", map_path);
  if (!given_path.empty()) {
    FoundTokenizer given = read_tokenizer_file(given_path, "given with --tokenizer; " + no_record);
    require_tokenizer_size(given, mapping.config.vocab_size);
    return given;
  }
  FoundTokenizer shipped = find_shipped_tokenizer(mapping.config.vocab_size, data_dir);
  shipped.source.rule = no_record + "; " + shipped.source.rule;
  return shipped;
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

const CLI::Validator kNotEmpty([](std::string& value) -> std::string { return value.empty() ? "may not be empty" : ""; },
                               "NOT EMPTY");

namespace {
// Characters read as space are never silent: their count, and the first of them, on stderr.
void note_replaced_characters(const EncodeReport& report, const std::string& text, const std::string& what,
                              const FoundTokenizer& tokenizer) {
  if (report.replaced == 0) return;
  fmt::print(stderr, "spiketile: note: {} character{} of {} {} not in the vocabulary {} and read as space (the first, "
             "{}, at {})\n",
             report.replaced, report.replaced == 1 ? "" : "s", what, report.replaced == 1 ? "is" : "are",
             tokenizer.source.path, describe_character(report.first_replaced),
             describe_text_position(text, report.first_replaced_byte));
}

// Encodes `text`, naming `what` it is (the prompt, a file) in the error for a character a
// vocabulary without a space lacks.
std::vector<int> encode_naming(const FoundTokenizer& tokenizer, const std::string& text, const std::string& what,
                               EncodeReport& report) {
  try {
    return tokenizer.tokenizer->encode(text, report);
  } catch (const UnknownCharacterError& e) {
    throw UnknownCharacterError(fmt::format("{}: {}", what, e.what()));
  }
}
}  // namespace

std::vector<int> prompt_tokens(const std::string& text, const std::string& ids, const FoundTokenizer& tokenizer,
                               int vocab_size) {
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
  if (!tokenizer.tokenizer)
    throw std::invalid_argument(fmt::format(
        "this model's vocabulary ({} tokens) has no text tokenizer; give the prompt with --prompt-ids, or a "
        "tokenizer with --tokenizer ({})",
        vocab_size, tokenizer.source.rule));
  EncodeReport report;
  tokens = encode_naming(tokenizer, text, "--prompt", report);
  note_replaced_characters(report, text, "the prompt", tokenizer);
  if (tokens.empty()) throw std::invalid_argument("the prompt is empty; give --prompt or --prompt-ids");
  return tokens;
}

namespace {
// The text of a file the tokens were taken from, and its tokens.
struct EncodedPrefix {
  std::string text;
  FileTokens encoded;
};

EncodedPrefix encode_text_prefix(const std::string& path, const FoundTokenizer& tokenizer, int vocab_size,
                                 int64_t max_tokens) {
  if (!tokenizer.tokenizer)
    throw std::invalid_argument(fmt::format("vocabulary of {} tokens has no tokenizer to encode {} ({}); give one with "
                                            "--tokenizer, or token ids with --ids",
                                            vocab_size, path, tokenizer.source.rule));
  constexpr const char* kWhat = "a text file to encode";
  EncodedPrefix prefix;
  if (max_tokens <= 0) {
    prefix.text = unicode::read_file_bytes(path, kWhat);
    prefix.encoded.tokens = encode_naming(tokenizer, prefix.text, path, prefix.encoded.report);
    return prefix;
  }
  // Only as much of the file as the tokens need (a stream such as /dev/zero has no end): a prefix
  // that encodes to more tokens than asked for, by a margin that keeps the BPE merges at the cut
  // those of the whole text; a character vocabulary stops at the cut itself.
  constexpr int64_t kMargin = 64;
  for (std::size_t bytes = std::size_t(max_tokens + kMargin) * 4;; bytes *= 2) {
    bytes = std::min(bytes, unicode::kMaxInputFileBytes);
    bool complete = false;
    prefix.text = unicode::read_file_prefix(path, kWhat, bytes, &complete);
    prefix.encoded.report = EncodeReport{};
    prefix.encoded.report.stop_after_tokens = max_tokens;
    std::vector<int>& tokens = prefix.encoded.tokens;
    tokens = encode_naming(tokenizer, prefix.text, path, prefix.encoded.report);
    if (complete || prefix.encoded.report.stopped || int64_t(tokens.size()) >= max_tokens + kMargin) {
      if (int64_t(tokens.size()) > max_tokens) tokens.resize(std::size_t(max_tokens));
      return prefix;
    }
    if (bytes == unicode::kMaxInputFileBytes)
      throw std::invalid_argument(fmt::format("the first {} bytes of {} encode to only {} tokens of the {} asked for",
                                              bytes, path, tokens.size(), max_tokens));
  }
}

// `noun` and `of_what` spell the count: "1 token of text", "0 token ids".
void require_enough(const std::string& path, std::size_t tokens, TextNeed need, const char* noun, const char* of_what) {
  if (tokens < need.tokens)
    throw std::invalid_argument(
        fmt::format("{}: {} {}{}{}; {}", path, tokens, noun, tokens == 1 ? "" : "s", of_what, need.reason));
}
}  // namespace

FileTokens encode_text_file(const std::string& path, const FoundTokenizer& tokenizer, int vocab_size,
                            int64_t max_tokens, TextNeed need) {
  EncodedPrefix prefix = encode_text_prefix(path, tokenizer, vocab_size, max_tokens);
  note_replaced_characters(prefix.encoded.report, prefix.text, path, tokenizer);
  require_enough(path, prefix.encoded.tokens.size(), need, "token", " of text");
  return std::move(prefix.encoded);
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
}

const std::string& TokenInputOptions::path() const {
  if (text_file.empty() && ids_file.empty()) throw CLI::RequiredError("--text or --ids");
  return text_file.empty() ? ids_file : text_file;
}

FileTokens TokenInputOptions::read(const FoundTokenizer& tokenizer, int vocab_size, TextNeed need) const {
  if (!text_file.empty()) return encode_text_file(text_file, tokenizer, vocab_size, max_tokens, need);
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
