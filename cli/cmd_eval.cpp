#include <fmt/format.h>

#include <optional>

#include "cli/common.hpp"
#include "runtime/counts_report.hpp"
#include "runtime/evaluation_json.hpp"
#include "runtime/execution.hpp"
#include "runtime/mapping_executor.hpp"

namespace spiketile::cli {

namespace {
struct EvalOptions {
  ModelOptions model;
  TokenInputOptions input;
  std::string json_out;
  ProgressOption progress;
};

void eval(const EvalOptions& o) {
  std::vector<std::string> inputs = o.model.input_paths();
  inputs.push_back(o.input.path());
  refuse_overwriting_inputs({o.json_out}, inputs);
  // Opened before the evaluation: an output folder that does not exist fails now, not after it.
  std::optional<OutputFile> json_file;
  if (!o.json_out.empty()) json_file.emplace(o.json_out);
  auto model_ptr = o.model.make_model();
  TokenModel& model = *model_ptr;
  const FoundTokenizer tokenizer = o.model.find_tokenizer(model);
  const FileTokens input = o.input.read(tokenizer, model.vocab_size(), kTextToEvaluate);
  ProgressLine progress(o.progress, "eval");
  const auto r = evaluate(model, input.tokens, [&progress](int64_t done, int64_t total) {
    progress.show("{}/{} tokens", done, total);
  });
  progress.clear();
  // A character vocabulary's tokens are characters, whichever its size and whether read from text or ids.
  const bool characters = evaluates_characters(tokenizer.source);
  // A mapping names the checkpoint it was compiled from (--model is refused with --map).
  const std::string model_path =
      o.model.map.empty() ? o.model.model : static_cast<const MappingExecutor&>(model).mapping().model_source;
  fmt::print("model:             {}\n", model_path);
  if (o.input.text_file.empty())
    fmt::print("ids:               {}\n", o.input.ids_file);
  else
    fmt::print("text:              {}\n", o.input.text_file);
  fmt::print("tokens evaluated:  {}\n", r.tokens_evaluated);
  fmt::print("{:<18} {:.6f}\n", std::string(characters ? "BPC:" : "bits/token:"), r.bits_per_token());
  fmt::print("time:              {:.2f} s ({:.0f} tokens/s)\n", r.seconds, double(r.tokens_evaluated) / r.seconds);
  fmt::print("layer  firing(att)  firing(ffn)  ReLU²-density\n");
  for (int i = 0; i < model.n_layer(); ++i)
    fmt::print("{:5d}  {:11.6f}  {:11.6f}  {:13.6f}\n", i, r.activity.firing_rate_att(i), r.activity.firing_rate_ffn(i),
               r.activity.relu2_density(i));
  print_counts_per_layer(stdout, r.counts);
  if (json_file) {
    const EvaluationInput evaluated{model_path, o.input.text_file.empty() ? "ids" : "text", o.input.path(),
                                    tokenizer.source, input.report.replaced};
    json_file->write(evaluation_json(evaluated, model, r).dump(2) + "\n");
    json_file->commit();
  }
}
}  // namespace

void register_eval(CLI::App& app) {
  auto opts = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval", "Bits per character (or token) and per-layer firing rates on a text file or token ids");
  opts->model.add_to(cmd, true);
  opts->input.add_to(cmd, "Text to evaluate as one sequence from the zero state",
                     "Evaluate only the first N tokens (0 = all)");
  cmd->add_option("--json", opts->json_out, "Also write the results as JSON");
  opts->progress.add_to(cmd);
  cmd->callback([opts] { eval(*opts); });
}

}  // namespace spiketile::cli
