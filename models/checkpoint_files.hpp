// What belongs beside a SpikeGPT checkpoint, and how it reads: the calibration file's default
// place, its loading with an error that says how to make it, and the description `spiketile
// inspect MODEL` prints. One implementation for the command line and the Python module.
#pragma once

#include <string>

#include "models/quantized.hpp"

namespace spiketile {

// The folder holding the shipped tokenizers (vocab_book.json, 20B_tokenizer.json):
// $SPIKETILE_DATA_DIR, else the data/ folder of the shared/ folder beside the checkout.
std::string shipped_data_dir();

// <model without .pth/.safetensors>.calib.json, or `given` when it is not empty.
std::string calibration_path_for(const std::string& model, const std::string& given = "");

// The calibration's ranges from `path` (an error naming the file and the command that makes it
// when it does not exist).
Calibration load_model_calibration(const std::string& path, const std::string& model, int n_layer);

// The integer parameters of a checkpoint under `quant`, with the calibration `calibration` (empty:
// the one beside the checkpoint): what the quantized level runs.
QuantizedSpikeGpt read_quantized_checkpoint(const std::string& model, const std::string& calibration,
                                            const QuantOptions& quant, const GoldenOptions& golden);

// Configuration inferred from the tensor shapes, parameter count, the tokenizer text would be
// encoded with (its file and rule, or why none is usable) and the tensor table.
std::string describe_checkpoint(const std::string& path, const std::string& tokenizer, const std::string& data_dir);

}  // namespace spiketile
