#include "runtime/compile_checkpoint.hpp"

#include <algorithm>

#include "models/checkpoint_files.hpp"

namespace spiketile {

CheckpointCompiler::CheckpointCompiler(CheckpointCompileOptions options)
    : options_(std::move(options)), reader_(open_tensor_file(options_.model)) {
  const ModelConfig checkpoint_config = infer_config(reader_->index());
  // Found before compiling, so a tokenizer that does not fit stops the compile at once; recorded in
  // the mapping so that text runs from the mapping alone.
  tokenizer_ = find_tokenizer(options_.tokenizer, options_.model, checkpoint_config.vocab_size, options_.data_dir);
  calibration_ = load_model_calibration(calibration_path_for(options_.model, options_.calibration), options_.model,
                                        checkpoint_config.n_layer);
}

QuantizedSpikeGpt CheckpointCompiler::read_model() const {
  return QuantizedSpikeGpt::read(*reader_, calibration_, options_.quant, options_.golden, false);
}

// A profile token's embedding row, straight from the checkpoint: the table is never held here,
// only the rows of the profile's tokens, which every compile of the objective's search replays
// again (the same model and seed give the same tokens), so each row is read once.
std::vector<int32_t> CheckpointCompiler::embedding_row(int token) {
  const auto known = profile_rows_.find(token);
  if (known != profile_rows_.end()) return known->second;
  std::vector<int32_t> row;
  int64_t at = 0;
  const int64_t begin = int64_t(token) * config_.n_embd, end = begin + config_.n_embd;
  QuantizedSpikeGpt::read_embedding_blocks(*reader_, config_, binary_embedding_, [&](const int32_t* values, std::size_t count) {
    const int64_t from = std::max(at, begin), to = std::min(at + int64_t(count), end);
    if (from < to) row.insert(row.end(), values + (from - at), values + (to - at));
    at += int64_t(count);
  });
  return profile_rows_[token] = row;
}

Mapping CheckpointCompiler::compile(const ChipSpec& chip, const std::string& chip_yaml) {
  const ModelSource read = [this] {
    QuantizedSpikeGpt qm = read_model();
    config_ = qm.config;
    binary_embedding_ = qm.binary_embedding;
    return qm;
  };
  const EmbeddingRowSource rows = [this](int token) { return embedding_row(token); };
  // The energy and edp objectives price the estimate with the table the report would use.
  ObjectiveOptions objective = options_.objective;
  if (objective.objective == Objective::energy || objective.objective == Objective::edp) {
    if (!energy_table_) energy_table_ = load_energy_table(options_.energy_table);
    objective.energy_table = &*energy_table_;
  }
  Mapping mapping = compile_for_objective(read, chip, chip_yaml, options_.compile, options_.profile, rows, objective);
  mapping.model_source = options_.model;
  mapping.tokenizer = tokenizer_.source;
  return mapping;
}

EmbeddingStream CheckpointCompiler::embedding(const Mapping& mapping) const {
  // The embedding goes from the checkpoint into the file block by block: at 216M it is 155 MB the
  // compile does not need to hold.
  EmbeddingStream stream;
  stream.values = int64_t(mapping.config.vocab_size) * mapping.config.n_embd;
  TensorReader* reader = reader_.get();
  const ModelConfig config = mapping.config;
  const bool binary = mapping.binary_embedding;
  stream.produce = [reader, config, binary](const std::function<void(const int32_t*, std::size_t)>& emit) {
    QuantizedSpikeGpt::read_embedding_blocks(*reader, config, binary, emit);
  };
  return stream;
}

void CheckpointCompiler::read_embedding(Mapping& mapping) const {
  mapping.host.embedding = QuantizedSpikeGpt::read_embedding(*reader_, mapping.config, mapping.binary_embedding);
}

}  // namespace spiketile
