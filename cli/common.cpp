#include "cli/common.hpp"

#include "compiler/mapping_io.hpp"
#include "models/unicode_util.hpp"
#include "runtime/mapping_executor.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace spiketile::cli {

std::string default_model_path() { return std::string(SPIKETILE_SOURCE_DIR) + "/models/spikegpt-fortunes.pth"; }

std::string default_chip_path() { return std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml"; }

std::string default_data_dir() {
  if (const char* env = std::getenv("SPIKETILE_DATA_DIR")) return env;
  return std::string(SPIKETILE_SHARED_DIR) + "/data";
}

void ModelOptions::add_to(CLI::App* app, bool accepts_map) {
  app->add_option("--model,-m", model, "Checkpoint (.pth written by torch.save, or .safetensors)")
      ->capture_default_str();
  app->add_flag("--no-rescale", no_rescale,
                "Disable upstream's 2^-floor(i/6) rescale of att.output/ffn.value and x/2 every 6 layers");
  app->add_option("--binary-embedding", binary_embedding,
                  "Binarize the embedding row: auto (upstream: only when vocab == 77), on, off")
      ->check(CLI::IsMember({"auto", "on", "off"}))
      ->capture_default_str();
  app->add_option("--threads", threads, "Threads for matrix-vector products (0 = all cores)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app->add_option("--data-dir", data_dir, "Folder holding vocab_book.json and 20B_tokenizer.json")
      ->capture_default_str();
  auto* group = app->add_option_group("quantized", "Integer contract (docs/numerics.md)");
  if (accepts_map)
    group->add_option("--map", map,
                      "Run a compiled mapping (spiketile compile) with the mapping executor; needs no checkpoint")
        ->check(CLI::ExistingFile);
  group->add_flag("--quantized", quantized, "Run the quantized functional model instead of the float golden model");
  group->add_option("--calibration", calibration, "Activation ranges (default: <model>.calib.json; see 'spiketile calibrate')");
  group->add_option("--weight-bits", quant.weight_bits, "Crossbar weight bits")->check(CLI::Range(2, 8))->capture_default_str();
  group->add_option("--activation-bits", quant.activation_bits, "Bits of real-valued crossbar inputs")
      ->check(CLI::Range(2, 8))->capture_default_str();
  group->add_option("--membrane-bits", quant.membrane_bits, "LIF membrane bits (Q.8)")->check(CLI::Range(10, 32))->capture_default_str();
}

std::string ModelOptions::calibration_path() const {
  if (!calibration.empty()) return calibration;
  std::string base = model;
  for (const char* ext : {".pth", ".safetensors"}) {
    const std::string e(ext);
    if (base.size() > e.size() && base.compare(base.size() - e.size(), e.size(), e) == 0) base.resize(base.size() - e.size());
  }
  return base + ".calib.json";
}

Calibration ModelOptions::load_calibration(int n_layer) const {
  const std::string cal_path = calibration_path();
  if (!std::ifstream(cal_path))
    throw std::runtime_error(fmt::format("the integer model needs activation ranges: {} does not exist; create it with "
                                         "'spiketile calibrate --model {} --text SAMPLE.txt -o {}'",
                                         cal_path, model, cal_path));
  return Calibration::load(cal_path, n_layer);
}

QuantizedSpikeGpt ModelOptions::make_quantized() const {
  // Tensor by tensor: the float model is never held whole (a 216M checkpoint is 860 MB of float32).
  const std::unique_ptr<TensorReader> reader = open_tensor_file(model);
  return QuantizedSpikeGpt::read(*reader, load_calibration(infer_config(reader->index()).n_layer), quant, golden());
}

std::unique_ptr<TokenModel> ModelOptions::make_model() const {
  if (!map.empty()) return std::make_unique<MappingExecutor>(std::make_shared<const Mapping>(load_mapping(map)));
  // The integer level is read tensor by tensor: it never holds the float weights beside its own.
  if (quantized) return std::make_unique<QuantizedModel>(make_quantized());
  return std::make_unique<GoldenModel>(SpikeGptWeights::load(model, golden()), threads);
}

std::vector<std::string> ModelOptions::input_paths() const {
  if (!map.empty()) return {map};
  if (quantized) return {model, calibration_path()};
  return {model};
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

std::vector<int> prompt_tokens(const std::string& text, const std::string& ids, const Tokenizer* tokenizer,
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
  if (!tokenizer)
    throw std::invalid_argument(fmt::format(
        "this model's vocabulary ({} tokens) has no text tokenizer; give the prompt with --prompt-ids", vocab_size));
  tokens = tokenizer->encode(text);
  if (tokens.empty()) throw std::invalid_argument("the prompt is empty; give --prompt or --prompt-ids");
  return tokens;
}

namespace {
std::vector<int> encode_text_prefix(const std::string& path, int vocab_size, const std::string& data_dir,
                                    int64_t max_tokens) {
  auto tokenizer = tokenizer_for_vocab(vocab_size, data_dir);
  if (!tokenizer)
    throw std::invalid_argument(fmt::format("vocabulary of {} tokens has no tokenizer to encode {}", vocab_size, path));
  constexpr const char* kWhat = "a text file to encode";
  if (max_tokens <= 0) return tokenizer->encode(unicode::read_file_bytes(path, kWhat));
  // Only as much of the file as the tokens need (a stream such as /dev/zero has no end): a prefix
  // that encodes to more tokens than asked for, by a margin that keeps the BPE merges at the cut
  // those of the whole text.
  constexpr int64_t kMargin = 64;
  for (std::size_t bytes = std::size_t(max_tokens + kMargin) * 4;; bytes *= 2) {
    bytes = std::min(bytes, unicode::kMaxInputFileBytes);
    bool complete = false;
    auto tokens = tokenizer->encode(unicode::read_file_prefix(path, kWhat, bytes, &complete));
    if (complete || int64_t(tokens.size()) >= max_tokens + kMargin) {
      if (int64_t(tokens.size()) > max_tokens) tokens.resize(std::size_t(max_tokens));
      return tokens;
    }
    if (bytes == unicode::kMaxInputFileBytes)
      throw std::invalid_argument(fmt::format("the first {} bytes of {} encode to only {} tokens of the {} asked for",
                                              bytes, path, tokens.size(), max_tokens));
  }
}
}  // namespace

std::vector<int> encode_text_file(const std::string& path, int vocab_size, const std::string& data_dir,
                                  int64_t max_tokens, TextNeed need) {
  std::vector<int> tokens = encode_text_prefix(path, vocab_size, data_dir, max_tokens);
  if (tokens.size() < need.tokens)
    throw std::invalid_argument(
        fmt::format("{}: {} token{} of text; {}", path, tokens.size(), tokens.size() == 1 ? "" : "s", need.reason));
  return tokens;
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
