#include <fmt/format.h>

#include <cstdio>

#include "cli/common.hpp"
#include "cli/nir_options.hpp"
#include "runtime/counts_report.hpp"
#include "runtime/execution.hpp"
#include "runtime/generation_stats.hpp"
#include "runtime/mapping_executor.hpp"
#include "runtime/npy.hpp"
#include "runtime/stats.hpp"

namespace spiketile::cli {

void GenerationOptions::add_to(CLI::App* cmd) {
  cmd->add_option("--prompt,-p", prompt, "Prompt text (encoded with the model's tokenizer)");
  cmd->add_option("--prompt-ids", prompt_ids, "Prompt as comma-separated token ids, e.g. 3,17,42")
      ->check(kNotEmpty)
      ->excludes(cmd->get_option("--prompt"));
  cmd->add_option("-n,--tokens", n_tokens, "Tokens to generate")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_flag("--lowercase", lowercase, kLowercaseHelp)->excludes(cmd->get_option("--prompt-ids"));
  cmd->add_option("--temperature,-t", sampling.temperature, "Sampling temperature; 0 = greedy argmax")
      ->check(kFiniteNonNegative)->capture_default_str();
  cmd->add_option("--top-p", sampling.top_p, "Nucleus sampling mass, in (0, 1]")->check(kUnitInterval)->capture_default_str();
  add_seed_option(cmd, "--sample-seed", sampling.seed, "Seed of the sampler (with --temperature > 0)");
  cmd->add_option("--logits-out", logits_out,
                  "Write every step's logits as a float32 .npy array [steps × vocab] (one row per consumed token)");
  cmd->add_option("--counts-out", counts_out, "Write event counts (per step, layer and op) as JSON");
  cmd->add_option("--spikes-out", spikes_out,
                  "Write every LIF spike as a uint8 .npy raster [steps × n_layer × 2 × n_embd] (0/1; index 0 the "
                  "time-mix LIF, 1 the channel-mix LIF), one row per consumed token");
  cmd->add_option("--membranes-out", membranes_out,
                  "Write every LIF membrane after its step as a float32 .npy [steps × n_layer × 2 × n_embd] in units "
                  "of the firing threshold (1.0 fires; 0 after a spike; the integer levels' Q.8 membrane / 256), laid "
                  "out as --spikes-out");
  cmd->add_option("--stats", stats_out,
                  fmt::format("Write the run's statistics (model, tokens, event counts, and the chip's cycles, network "
                              "and cores where measured) for 'spiketile report' (format {}, docs/stats-format.md)",
                              kStatsFormat));
  add_quiet_flag(cmd, quiet_stats, "Do not print speed and firing rates (simulate: the chip's summary) to stderr");
}

std::vector<std::string> GenerationOptions::output_paths() const {
  return {logits_out, counts_out, stats_out, spikes_out, membranes_out};
}

RunStats run_stats(const ModelOptions& model_options, const TokenModel& model, const std::vector<int>& prompt,
                   const std::vector<int>& generated, const CountTotals& counts) {
  const bool integer = model_options.quantized || !model_options.map.empty();
  return generation_stats(model_options.model, integer ? &model_options.quant : nullptr, model, prompt, generated, counts);
}

void run_generation(const GenerationOptions& o, const ModelOptions& model_options, TokenModel& model,
                    const FoundTokenizer& found, OutputBatch& outputs, const std::function<void(RunStats&)>& add_stats) {
  const auto prompt = prompt_tokens(o.prompt, o.prompt_ids, found, model.vocab_size(), o.text_case());
  const Tokenizer* tokenizer = found.tokenizer.get();
  // Opened before generating: an output folder that does not exist fails now, not after the run.
  const auto open_if_asked = [&](const std::string& path) { return path.empty() ? nullptr : &outputs.open(path); };
  OutputFile* logits_file = open_if_asked(o.logits_out);
  OutputFile* counts_file = open_if_asked(o.counts_out);
  OutputFile* stats_file = open_if_asked(o.stats_out);
  OutputFile* spikes_file = open_if_asked(o.spikes_out);
  OutputFile* membranes_file = open_if_asked(o.membranes_out);

  Utf8Stream text;
  if (tokenizer && o.prompt_ids.empty()) fmt::print("{}", o.prompt);
  auto on_token = [&](int id) {
    if (tokenizer) fmt::print("{}", text.push(tokenizer->token_bytes(id)));
    else fmt::print("{} ", id);
    std::fflush(stdout);
  };
  const auto result =
      generate(model, prompt, o.n_tokens, o.sampling,
               {!o.logits_out.empty(), !o.spikes_out.empty(), !o.membranes_out.empty()}, on_token);
  fmt::print("{}\n", text.flush());
  std::fflush(stdout);

  if (logits_file) write_npy(*logits_file, {result.logit_rows, int64_t(model.vocab_size())}, result.logits.data());
  const std::vector<int64_t> raster_shape{result.logit_rows, int64_t(model.n_layer()), 2, int64_t(model.n_embd())};
  if (spikes_file) write_npy(*spikes_file, raster_shape, result.spikes.data());
  if (membranes_file) write_npy(*membranes_file, raster_shape, result.membranes.data());
  if (!o.quiet_stats) {
    fmt::print(stderr, "[{} level] {} prompt + {} generated tokens in {:.3f} s ({:.1f} tokens/s)\n",
               model.level_name(), prompt.size(), result.generated.size(), result.seconds,
               double(result.logit_rows) / result.seconds);
    for (int i = 0; i < model.n_layer(); ++i)
      fmt::print(stderr, "  layer {:2d}: firing rate att {:.4f}  ffn {:.4f}  ReLU² density {:.4f}\n", i,
                 result.activity.firing_rate_att(i), result.activity.firing_rate_ffn(i),
                 result.activity.relu2_density(i));
    print_counts_per_layer(stderr, result.counts);
  }
  if (counts_file) {
    if (result.counts.empty()) throw std::invalid_argument("--counts-out needs a level that counts events (e.g. --quantized)");
    write_counts_json(*counts_file, result.counts);
  }
  if (stats_file) {
    if (result.counts.empty())
      throw std::invalid_argument("--stats needs a level that counts events (e.g. --quantized); 'spiketile report' "
                                  "prices counts");
    RunStats stats = run_stats(model_options, model, prompt, result.generated, result.counts);
    if (add_stats) add_stats(stats);
    write_stats(*stats_file, stats);
  }
}

namespace {
struct RunOptions {
  ModelOptions model;
  GenerationOptions generation;
  NirOptions nir;
};

void run(const RunOptions& o) {
  if (!o.model.map.empty() && !o.nir.input.empty()) {  // a compiled NIR graph
    refuse_overwriting_inputs({o.nir.output}, {o.model.map, o.nir.input});
    OutputBatch outputs;
    run_nir_mapping(o.model.map, o.nir, o.generation.quiet_stats, outputs);
    outputs.commit();
    return;
  }
  if (o.nir.given()) {
    refuse_overwriting_inputs({o.nir.output}, {o.nir.graph, o.nir.input, o.nir.calibrate});
    OutputBatch outputs;
    NirQuantization quantization{o.model.quantized, o.model.quant.weight_bits, o.model.quant.activation_bits,
                                 o.model.quant.membrane_bits};
    run_nir(o.nir, quantization, o.generation.quiet_stats, outputs);
    outputs.commit();
    return;
  }
  refuse_overwriting_inputs(o.generation.output_paths(), o.model.input_paths());
  auto model = o.model.make_model();
  const FoundTokenizer tokenizer = o.model.find_tokenizer(*model);
  OutputBatch outputs;
  if (o.model.map.empty()) {
    run_generation(o.generation, o.model, *model, tokenizer, outputs);
  } else {
    // A mapping knows the checkpoint it came from and the bits it was quantized to.
    const Mapping& mapping = static_cast<const MappingExecutor&>(*model).mapping();
    ModelOptions from_mapping = o.model;
    from_mapping.model = mapping.model_source;
    from_mapping.quant = mapping.quant;
    run_generation(o.generation, from_mapping, *model, tokenizer, outputs);
  }
  outputs.commit();
}
}  // namespace

void register_run(CLI::App& app) {
  auto opts = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Generate text (float32 golden model, --quantized integer model, or --map compiled "
                                        "mapping), streaming it to stdout; or run a NIR graph's float reference (--nir)");
  opts->model.add_to(cmd, true);
  opts->generation.add_to(cmd);
  opts->nir.add_to(cmd);
  cmd->callback([opts, cmd] {
    // A compiled NIR graph (--map with --input) takes the graph's input and output options.
    const bool nir_mapping = !opts->model.map.empty() && !opts->nir.input.empty();
    if (nir_mapping) {
      refuse_options_fixed_at_compile(*cmd);
    } else {
      refuse_options_of_the_other_kind(*cmd, opts->nir);
    }
    run(*opts);
  });
}

}  // namespace spiketile::cli
