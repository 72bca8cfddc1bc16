#include "models/checkpoint_files.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "models/tensor_file.hpp"
#include "models/tokenizer.hpp"

namespace spiketile {

std::string shipped_data_dir() {
  if (const char* env = std::getenv("SPIKETILE_DATA_DIR")) return env;
  return std::string(SPIKETILE_SHARED_DIR) + "/data";
}

std::string calibration_path_for(const std::string& model, const std::string& given) {
  if (!given.empty()) return given;
  std::string base = model;
  for (const char* ext : {".pth", ".safetensors"}) {
    const std::string e(ext);
    if (base.size() > e.size() && base.compare(base.size() - e.size(), e.size(), e) == 0) base.resize(base.size() - e.size());
  }
  return base + ".calib.json";
}

Calibration load_model_calibration(const std::string& path, const std::string& model, int n_layer) {
  if (!std::ifstream(path))
    throw std::runtime_error(fmt::format("the integer model needs activation ranges: {} does not exist; create it with "
                                         "'spiketile calibrate --model {} --text SAMPLE.txt -o {}'",
                                         path, model, path));
  return Calibration::load(path, n_layer);
}

QuantizedSpikeGpt read_quantized_checkpoint(const std::string& model, const std::string& calibration,
                                            const QuantOptions& quant, const GoldenOptions& golden) {
  // Tensor by tensor: the float model is never held whole (a 216M checkpoint is 860 MB of float32).
  const std::unique_ptr<TensorReader> reader = open_tensor_file(model);
  const Calibration ranges =
      load_model_calibration(calibration_path_for(model, calibration), model, infer_config(reader->index()).n_layer);
  return QuantizedSpikeGpt::read(*reader, ranges, quant, golden);
}

namespace {
// Which tokenizer text would be encoded with, and by which rule; a problem with it is reported
// here rather than failing the inspection.
std::string describe_tokenizer(const std::string& given, const std::string& checkpoint, int vocab_size,
                               const std::string& data_dir) {
  try {
    return find_tokenizer(given, checkpoint, vocab_size, data_dir).describe();
  } catch (const std::exception& e) {
    return fmt::format("none usable: {}", e.what());
  }
}
}  // namespace

std::string describe_checkpoint(const std::string& path, const std::string& tokenizer, const std::string& data_dir) {
  TensorFile file = load_tensor_file(path);
  const ModelConfig c = infer_config(file);
  validate_spikegpt(file, c);
  int64_t stored_bytes = 0;
  for (const auto& name : file.order) stored_bytes += file.at(name).numel() * int64_t(dtype_size(file.at(name).source_dtype));
  std::string out;
  auto print = [&out](auto&&... args) { fmt::format_to(std::back_inserter(out), std::forward<decltype(args)>(args)...); };
  print("checkpoint:        {} ({})\n", path, file.format);
  print("architecture:      SpikeGPT (spiking RWKV), inferred from tensor shapes\n");
  print("n_layer:           {}\n", c.n_layer);
  print("n_embd:            {}\n", c.n_embd);
  print("vocab_size:        {}{}\n", c.vocab_size,
        c.vocab_size == 77 ? " (77-char book vocabulary)" : c.vocab_size == 50277 ? " (GPT-NeoX BPE)" : "");
  print("tokenizer:         {}\n", describe_tokenizer(tokenizer, path, c.vocab_size, data_dir));
  print("parameters:        {} ({:.2f} M)\n", c.parameter_count(), double(c.parameter_count()) / 1e6);
  print("tensor bytes:      {} as stored, {} as float32\n", stored_bytes, c.parameter_count() * 4);
  print("binary embedding:  {} (upstream binarizes only when vocab == 77)\n", c.vocab_size == 77 ? "yes" : "no");
  print("rescale quirk:     {}\n", c.n_layer > 6 ? "applies (n_layer > 6): att.output/ffn.value /2^floor(i/6), x/2 every 6 layers"
                                                 : "no effect (n_layer <= 6)");
  print("recurrent state:   {} floats (7·L·C)\n", 7LL * c.n_layer * c.n_embd);
  if (file.has(kSpikeInputStepsTensor)) {
    const int steps = spike_input_steps(file.at(kSpikeInputStepsTensor), path);
    print("projection inputs: {}; docs/spiking-frontier.md\n", projection_inputs_description(steps));
  } else {
    print("projection inputs: {}\n", projection_inputs_description(0));
  }
  print("\n{:<34} {:>16} {:>6} {:>12}\n", "tensor", "shape", "dtype", "elements");
  for (const auto& name : file.order) {
    const Tensor& t = file.at(name);
    print("{:<34} {:>16} {:>6} {:>12}\n", name, t.shape_str(), dtype_name(t.source_dtype), t.numel());
  }
  return out;
}

}  // namespace spiketile
