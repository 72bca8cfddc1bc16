#include <fmt/format.h>

#include "compiler/mapping_io.hpp"
#include "models/checkpoint_files.hpp"
#include "models/nir/nir_graph.hpp"
#include "cli/common.hpp"
#include "runtime/mapping_summary.hpp"

namespace spiketile::cli {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct InspectOptions {
  std::string path = default_model_path();
  bool json = false;
  std::string tokenizer;
  std::string data_dir = default_data_dir();
};

// A compiled mapping: what it uses of its chip. The extension alone is enough to choose this
// path, so a damaged .stmap is reported as a damaged mapping rather than as a strange checkpoint.
void inspect_mapping(const InspectOptions& o) {
  const std::string& path = o.path;
  const bool json = o.json;
  const Mapping mapping = load_mapping(path);
  // A tokenizer given is checked against the mapping's record, as run --map and simulate would.
  if (!o.tokenizer.empty()) mapping_tokenizer(mapping, path, o.tokenizer, o.data_dir);
  if (json)
    fmt::print("{}\n", mapping_summary_json(mapping).dump(2));
  else
    fmt::print("{:<20} {}\n{}", "mapping:", path, mapping_summary(mapping));
}

// A NIR graph, by its HDF5 signature whatever its extension.
void inspect_nir(const std::string& path, bool json) {
  const nir::Graph graph = nir::read_nir(path);
  if (!json) return fmt::print("{}", nir::describe(graph));
  nlohmann::json j;
  j["path"] = graph.path;
  j["version"] = graph.version;
  j["parameters"] = graph.parameter_count();
  for (const int n : graph.order) {
    const nir::Node& node = graph.nodes[std::size_t(n)];
    j["nodes"].push_back({{"id", node.id},
                          {"type", nir::primitive(node.op).type},
                          {"input_shape", node.input_shape},
                          {"output_shape", node.output_shape},
                          {"parameters", node.parameter_count()}});
  }
  for (const nir::Edge& e : graph.edges)
    j["edges"].push_back({{"from", graph.nodes[std::size_t(e.from)].id},
                          {"to", graph.nodes[std::size_t(e.to)].id},
                          {"recurrent", e.recurrent}});
  j["cycles"] = graph.cycles();
  j["notes"] = graph.notes;
  fmt::print("{}\n", j.dump(2));
}

void inspect_checkpoint(const InspectOptions& o) {
  fmt::print("{}", describe_checkpoint(o.path, o.tokenizer, o.data_dir));
}
}  // namespace

void register_inspect(CLI::App& app) {
  auto o = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect",
                                 "Print a checkpoint's configuration, parameter count and tensor table, a compiled "
                                 "mapping's (.stmap) use of its chip, or a NIR graph's nodes, shapes, edges and cycles");
  auto* positional = cmd->add_option("model", o->path, "Checkpoint, compiled mapping (.stmap) or NIR graph (.nir) to inspect")
                         ->capture_default_str();
  // The same file by the name every other command gives it.
  cmd->add_option("-m,--model", o->path, "The same as the positional argument")->excludes(positional);
  cmd->add_flag("--json", o->json, "Print a mapping's or NIR graph's summary as JSON");
  add_tokenizer_option(cmd, o->tokenizer);
  cmd->add_option("--data-dir", o->data_dir, "Folder holding vocab_book.json and 20B_tokenizer.json")
      ->capture_default_str();
  cmd->callback([o] {
    if (ends_with(o->path, kMappingExtension) || is_mapping_file(o->path))
      return inspect_mapping(*o);
    if (ends_with(o->path, ".nir") || nir::looks_like_nir(o->path)) return inspect_nir(o->path, o->json);
    if (o->json) throw CLI::ValidationError("--json", "is available for compiled mappings (.stmap) and NIR graphs only");
    inspect_checkpoint(*o);
  });
}

}  // namespace spiketile::cli
