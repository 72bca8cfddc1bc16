// Compiling a SpikeGPT checkpoint onto a chip: `spiketile compile` and the Python module's
// compile() both run this, so the same options give the same mapping file byte for byte.
//
// The checkpoint is read tensor by tensor, never as a whole float model, and anew for every
// compile the objective's search runs (lowering consumes the weights). The int32 embedding table is
// not held by the compile: embedding() streams it from the checkpoint into the mapping file, or
// read_embedding() fills it into the mapping for a caller that keeps the mapping in memory.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "compiler/mapping_io.hpp"
#include "models/tensor_file.hpp"
#include "models/tokenizer.hpp"
#include "runtime/compile_objective.hpp"

namespace spiketile {

struct CheckpointCompileOptions {
  std::string model;         // .pth or .safetensors
  std::string calibration;   // empty: <model>.calib.json (calibration_path_for)
  std::string tokenizer;     // empty: find_tokenizer's rule
  std::string data_dir;      // the shipped tokenizers
  GoldenOptions golden;
  QuantOptions quant;
  CompileOptions compile;
  ProfileOptions profile;
  ObjectiveOptions objective;
  std::string energy_table;    // prices the energy and edp objectives (loaded only for them)
};

class CheckpointCompiler {
 public:
  // Opens the checkpoint, finds its tokenizer (a tokenizer that does not fit stops here, before
  // any compile) and loads its calibration.
  explicit CheckpointCompiler(CheckpointCompileOptions options);

  // The integer model the compile lowers (--dump-ir prints its graph).
  QuantizedSpikeGpt read_model() const;
  // compile_for_objective on `chip`; records the checkpoint and the tokenizer in the mapping.
  // Throws DoesNotFitError listing every problem when the model does not fit.
  Mapping compile(const ChipSpec& chip, const std::string& chip_yaml);
  // The mapping's embedding table, streamed from the checkpoint (valid while this compiler lives).
  EmbeddingStream embedding(const Mapping& mapping) const;
  // The same table, held in mapping.host.embedding (the file save_mapping writes is the same).
  void read_embedding(Mapping& mapping) const;

 private:
  std::vector<int32_t> embedding_row(int token);

  CheckpointCompileOptions options_;
  std::unique_ptr<TensorReader> reader_;
  FoundTokenizer tokenizer_;
  Calibration calibration_;
  ModelConfig config_;
  bool binary_embedding_ = false;
  std::map<int, std::vector<int32_t>> profile_rows_;
  std::optional<EnergyTable> energy_table_;
};

}  // namespace spiketile
