// What every command that takes a NIR graph accepts (run now; compile and simulate as they gain
// NIR graphs): the graph, the time step and the reset/firing conventions NIR files cannot state.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "models/nir/nir_reference.hpp"
#include "compiler/lowering.hpp"
#include "models/output_file.hpp"

namespace spiketile::cli {

struct NirOptions {
  std::string graph;    // --nir
  double dt = 0;        // --dt, seconds
  std::string reset;    // --reset
  bool fire_at_threshold = false;
  std::string input;    // --input [T, *input shape] .npy
  std::string output;   // --output [T, *output shape] .npy
  std::string calibrate;  // --calibrate: the input the integer model's ranges come from (default --input)

  // takes_io: the command runs the graph (--input, --output); compile only calibrates on an input.
  void add_to(CLI::App* cmd, bool takes_io = true);
  bool given() const { return !graph.empty(); }
  // The options only a NIR graph uses; a command refuses them without --nir.
  std::vector<std::string> own_option_names() const;
  nir::ReferenceOptions reference_options(const nir::Graph& graph) const;

 private:
  bool takes_io_ = true;
};

// A command that runs either SpikeGPT or a NIR graph refuses every option the chosen kind ignores,
// naming it, instead of silently dropping it.
// `shared` lists the command's options that mean the same for both.
void refuse_options_of_the_other_kind(const CLI::App& cmd, const NirOptions& nir,
                                      const std::vector<std::string>& shared = {});

// run --map MAP --input: the mapping runs as compiled, so every option that shapes the graph or
// its quantization, and every option of SpikeGPT generation, is refused, naming it.
void refuse_options_fixed_at_compile(const CLI::App& cmd);

// The integer contract's widths, as the SpikeGPT levels take them (--weight-bits, ...).
struct NirQuantization {
  bool quantized = false;
  int weight_bits = 8, activation_bits = 8, membrane_bits = 16;
};

// run --nir: the float reference over the input, or with --quantized the integer model (its
// agreement with the float reference per layer on stderr); output written as float32 .npy
// [T, *output shape].
void run_nir(const NirOptions& options, const NirQuantization& quantization, bool quiet, OutputBatch& outputs);

// run --map MAP --input: a compiled NIR graph on the mapping executor, output written as float32
// .npy [T, *output shape]; per-population spike counts on stderr unless quiet.
void run_nir_mapping(const std::string& map_path, const NirOptions& options, bool quiet, OutputBatch& outputs);

// compile --nir: the integer model calibrated on --calibrate, its agreement with the float
// reference on that input printed, then lowered onto the chip. Returns 2 when it does not fit.
struct NirCompileRequest {
  NirQuantization quantization;
  std::string chip_path;
  std::string output;   // empty with check
  bool check = false;
  CompileOptions compile;
};
int compile_nir_graph(const NirOptions& options, const NirCompileRequest& request);

}  // namespace spiketile::cli
