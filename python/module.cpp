// The Python module `spiketile` (docs/python.md): loading checkpoints and NIR graphs, chip
// descriptions, compiling onto a chip, compiled mappings. A thin layer: every rule it applies
// (defaults, calibration, tokenizer choice, the objective's search, NIR quantization and lowering)
// is the libraries' own, shared with the command-line front end, so the same options give the same
// mapping file byte for byte (tests/python/test_compile.py checks it against build/spiketile).
#include <optional>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/mapping_io.hpp"
#include "compiler/nir/nir_lowering.hpp"
#include "models/checkpoint_files.hpp"
#include "models/nir/nir_graph.hpp"
#include "models/nir/nir_integer.hpp"
#include "models/output_file.hpp"
#include "models/tensor_file.hpp"
#include "models/unicode_util.hpp"
#include "runtime/compile_checkpoint.hpp"
#include "runtime/execution.hpp"
#include "runtime/generation_stats.hpp"
#include "runtime/mapping_executor.hpp"
#include "runtime/mapping_summary.hpp"
#include "runtime/nir_executor.hpp"
#include "runtime/report.hpp"
#include "runtime/report_request.hpp"
#include "runtime/stats.hpp"
#include "python/forked.hpp"
#include "sim/chip_simulator.hpp"
#include "sim/nir_run.hpp"

namespace py = pybind11;
using namespace spiketile;

// libsystemc.so supplies a main() that calls sc_main; Python never runs it, but the symbol must
// resolve when the module loads. Simulations elaborate in forked children (python/forked.hpp).
__attribute__((visibility("default"))) int sc_main(int, char**) { return 1; }

namespace {

std::string default_chip() { return std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml"; }
std::string default_energy_table() { return std::string(SPIKETILE_SOURCE_DIR) + "/chips/energy/default.yaml"; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// JSON to Python objects through the json module: one conversion rule, no hand-written walker.
py::object to_python(const nlohmann::json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

// A checkpoint or a NIR graph as load_model read it.
struct Model {
  std::string path;
  std::string kind;  // "spikegpt" or "nir"
  std::string tokenizer, data_dir;
  std::shared_ptr<const nir::Graph> graph;  // kind "nir"
  ModelConfig config;                       // kind "spikegpt"
};

Model load_model(const std::string& path, const std::string& tokenizer, const std::string& data_dir) {
  Model m;
  m.path = path;
  m.tokenizer = tokenizer;
  m.data_dir = data_dir.empty() ? shipped_data_dir() : data_dir;
  if (ends_with(path, ".nir") || nir::looks_like_nir(path)) {
    m.kind = "nir";
    m.graph = std::make_shared<const nir::Graph>(nir::read_nir(path));
  } else {
    m.kind = "spikegpt";
    const std::unique_ptr<TensorReader> reader = open_tensor_file(path);
    m.config = infer_config(reader->index());
    validate_spikegpt(reader->index(), m.config);
  }
  return m;
}

py::dict model_config(const Model& m) {
  py::dict d;
  d["kind"] = m.kind;
  if (m.kind == "nir") {
    const nir::Graph& g = *m.graph;
    d["version"] = g.version;
    d["parameters"] = g.parameter_count();
    d["nodes"] = g.nodes.size();
    d["edges"] = g.edges.size();
    d["input_shape"] = g.nodes[std::size_t(g.inputs.at(0))].output_shape;
    d["output_shape"] = g.nodes[std::size_t(g.outputs.at(0))].input_shape;
    return d;
  }
  d["n_layer"] = m.config.n_layer;
  d["n_embd"] = m.config.n_embd;
  d["vocab_size"] = m.config.vocab_size;
  d["parameters"] = m.config.parameter_count();
  return d;
}

std::string model_inspect(const Model& m) {
  if (m.kind == "nir") return nir::describe(*m.graph);
  return describe_checkpoint(m.path, m.tokenizer, m.data_dir);
}

// A chip description, validated; its text is kept as the mapping embeds it.
struct Chip {
  std::string path;
  ChipSpec spec;
  std::string yaml;
};

Chip load_chip(const std::string& path) {
  Chip c;
  c.path = path;
  c.spec = load_chip_spec(path);
  c.yaml = unicode::read_file_bytes(path, "a chip description (YAML)");
  return c;
}

struct PyMapping {
  std::shared_ptr<const Mapping> mapping;
};

// Keyword options: each taken once by name; what is left is refused, naming it.
class Options {
 public:
  explicit Options(const py::kwargs& kwargs) {
    for (const auto& item : kwargs) given_[py::str(item.first)] = py::reinterpret_borrow<py::object>(item.second);
  }
  template <class T>
  void take(const char* name, T& value) {
    const auto it = given_.find(name);
    if (it == given_.end()) return;
    value = it->second.cast<T>();
    given_.erase(it);
  }
  py::object take_object(const char* name) {
    const auto it = given_.find(name);
    if (it == given_.end()) return py::none();
    py::object o = it->second;
    given_.erase(it);
    return o;
  }
  void refuse_rest(const std::string& kind) const {
    if (given_.empty()) return;
    std::vector<std::string> names;
    for (const auto& [name, value] : given_) names.push_back(name);
    throw py::type_error(fmt::format("compile() of a {} got unexpected option(s): {}", kind, fmt::join(names, ", ")));
  }

 private:
  std::map<std::string, py::object> given_;
};

void take_placement_options(Options& options, CompileOptions& compile) {
  options.take("seed", compile.placement.seed);
  options.take("placement_effort", compile.placement.moves_per_unit);
  options.take("firing_rate", compile.expected_firing_rate);
}

PyMapping compile_spikegpt(const Model& model, const Chip& chip, Options& options) {
  CheckpointCompileOptions request;
  request.model = model.path;
  request.tokenizer = model.tokenizer;
  request.data_dir = model.data_dir;
  request.energy_table = default_energy_table();
  std::string objective = "latency", binary_embedding = "auto";
  bool no_rescale = false;
  options.take("calibration", request.calibration);
  options.take("objective", objective);
  options.take("energy_table", request.energy_table);
  options.take("max_cores", request.objective.max_cores);
  options.take("search_steps", request.objective.search_steps);
  options.take("profile_tokens", request.profile.tokens);
  options.take("profile_start", request.profile.first_token);
  options.take("weight_bits", request.quant.weight_bits);
  options.take("activation_bits", request.quant.activation_bits);
  options.take("membrane_bits", request.quant.membrane_bits);
  options.take("no_rescale", no_rescale);
  options.take("binary_embedding", binary_embedding);
  take_placement_options(options, request.compile);
  options.refuse_rest("SpikeGPT checkpoint");
  request.objective.objective = objective_from_name(objective);
  request.golden.rescale_every_6_layers = !no_rescale;
  request.golden.binary_embedding = parse_binary_embedding(binary_embedding);
  py::gil_scoped_release release;
  CheckpointCompiler compiler(request);
  auto mapping = std::make_shared<Mapping>(compiler.compile(chip.spec, chip.yaml));
  compiler.read_embedding(*mapping);
  return {std::move(mapping)};
}

// [T, *input shape] as the NIR readers take it: shape and float64 values.
std::pair<nir::Shape, std::vector<double>> array_values(const py::object& object, const char* what) {
  const auto array = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(object);
  if (!array) throw py::type_error(fmt::format("{} must be an array [T, *input shape]", what));
  nir::Shape shape(array.shape(), array.shape() + array.ndim());
  return {shape, std::vector<double>(array.data(), array.data() + array.size())};
}

PyMapping compile_nir_model(const Model& model, const Chip& chip, Options& options) {
  nir::IntegerOptions integer_options;
  CompileOptions compile;
  std::string reset;
  options.take("dt", integer_options.reference.dt);
  options.take("reset", reset);
  options.take("fire_at_threshold", integer_options.reference.fire_at_threshold);
  options.take("weight_bits", integer_options.weight_bits);
  options.take("activation_bits", integer_options.activation_bits);
  options.take("membrane_bits", integer_options.membrane_bits);
  take_placement_options(options, compile);
  const py::object calibrate = options.take_object("calibrate");
  options.refuse_rest("NIR graph");
  if (calibrate.is_none())
    throw py::value_error("compile() of a NIR graph quantizes it on an input: give calibrate=array [T, *input shape]");
  if (!reset.empty()) nir::parse_reset_option(reset, *model.graph, integer_options.reference);
  auto [shape, values] = array_values(calibrate, "calibrate");
  py::gil_scoped_release release;
  const nir::IntegerGraph integer = nir::IntegerGraph::build(*model.graph, integer_options, shape, values);
  return {std::make_shared<Mapping>(compile_nir(*model.graph, integer, chip.spec, chip.yaml, compile))};
}

PyMapping compile_any(const py::object& model_or_path, const py::object& chip_or_path, const py::kwargs& kwargs) {
  const Model model = py::isinstance<py::str>(model_or_path) ? load_model(model_or_path.cast<std::string>(), "", "")
                                                             : model_or_path.cast<Model>();
  const Chip chip = py::isinstance<py::str>(chip_or_path) ? load_chip(chip_or_path.cast<std::string>())
                                                          : chip_or_path.cast<Chip>();
  Options options(kwargs);
  return model.kind == "nir" ? compile_nir_model(model, chip, options) : compile_spikegpt(model, chip, options);
}

// A compiled NIR graph on the mapping executor (no timing, in-process): the output per step.
py::array_t<float> run_nir_mapping(const PyMapping& m, const py::object& input) {
  const Mapping& mapping = *m.mapping;
  if (mapping.kind != MappingKind::Nir)
    throw py::value_error("run(mapping, input=...) runs a compiled NIR graph; this mapping holds a SpikeGPT model");
  auto [shape, values] = array_values(input, "input");
  const NirProgram& program = mapping.nir;
  const std::vector<std::vector<int32_t>> steps = nir_quantize_steps(program, shape, values, "input");
  std::vector<py::ssize_t> out_shape = {py::ssize_t(shape[0])};
  for (int64_t d : program.output_shape) out_shape.push_back(py::ssize_t(d));
  py::array_t<float> out(out_shape);
  float* at = out.mutable_data();
  NirMappingExecutor executor(m.mapping);
  for (const auto& step : steps) {
    std::vector<double> step_output;
    {
      py::gil_scoped_release release;
      step_output = nir_output_values(program, executor.step_quantized(step));
    }
    for (double v : step_output) *at++ = float(v);
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
  return out;
}

// A SpikeGPT generation's request: the prompt's ids and how the next tokens are drawn.
struct GenerationRequest {
  std::vector<int> prompt;
  int n_tokens = 0;
  SamplingOptions sampling;
};

GenerationRequest generation_request(const Mapping& mapping, const py::object& prompt_ids, int n, float temperature,
                                     float top_p, uint64_t seed) {
  if (prompt_ids.is_none()) throw py::value_error("a SpikeGPT mapping generates from a prompt: give prompt_ids=[...]");
  GenerationRequest r;
  r.prompt = prompt_ids.cast<std::vector<int>>();
  if (r.prompt.empty()) throw py::value_error("prompt_ids is empty");
  for (std::size_t i = 0; i < r.prompt.size(); ++i)
    if (r.prompt[i] < 0 || r.prompt[i] >= mapping.config.vocab_size)
      throw py::value_error(fmt::format("prompt_ids[{}]: token id {} is outside the vocabulary [0, {})", i, r.prompt[i],
                                        mapping.config.vocab_size));
  if (n < 0) throw py::value_error("n must be at least 0");
  r.n_tokens = n;
  r.sampling = {temperature, top_p, seed};
  return r;
}

// What a SpikeGPT generation gives back: the tokens generated, every consumed token's logits and
// the statistics (`--stats`), as CBOR so a forked simulation sends it the same way.
nlohmann::json generation_answer(TokenModel& model, const Mapping& mapping, const GenerationRequest& r,
                                 const std::function<void(RunStats&)>& add_stats = {},
                                 const std::function<void(int)>& on_token = {}) {
  const GenerationResult result = generate(model, r.prompt, r.n_tokens, r.sampling, {true, false}, on_token);
  RunStats stats = generation_stats(mapping.model_source, &mapping.quant, model, r.prompt, result.generated, result.counts);
  if (add_stats) add_stats(stats);
  const auto* bytes = reinterpret_cast<const uint8_t*>(result.logits.data());
  return {{"generated", result.generated},
          {"rows", result.logit_rows},
          {"vocab", model.vocab_size()},
          {"logits", nlohmann::json::binary(std::vector<uint8_t>(bytes, bytes + result.logits.size() * sizeof(float)))},
          {"stats", stats_to_json(stats)}};
}

struct Generation {
  std::vector<int> prompt_ids, tokens;
  py::array_t<float> logits;
  py::object stats;
};

Generation generation_from(const nlohmann::json& j, const std::vector<int>& prompt) {
  Generation g;
  g.prompt_ids = prompt;
  g.tokens = j.at("generated").get<std::vector<int>>();
  const auto& bytes = j.at("logits").get_binary();
  g.logits = py::array_t<float>({j.at("rows").get<py::ssize_t>(), j.at("vocab").get<py::ssize_t>()});
  std::memcpy(g.logits.mutable_data(), bytes.data(), bytes.size());
  g.stats = to_python(j.at("stats"));
  return g;
}

py::object run_mapping(const PyMapping& m, const py::object& input, const py::object& prompt_ids, int n, float temperature,
                       float top_p, uint64_t seed) {
  if (m.mapping->kind == MappingKind::Nir) {
    if (!prompt_ids.is_none()) throw py::value_error("a NIR graph's mapping runs on input=array, not on prompt_ids");
    if (input.is_none()) throw py::value_error("a NIR graph's mapping runs on an input: give input=array [T, *input shape]");
    return run_nir_mapping(m, input);
  }
  if (!input.is_none())
    throw py::value_error("this mapping holds a SpikeGPT model: it runs on prompt_ids=[...], not on an input array");
  const GenerationRequest request = generation_request(*m.mapping, prompt_ids, n, temperature, top_p, seed);
  // Ctrl-C is looked for after every generated token (the GIL taken back for the check); it ends
  // the generation with KeyboardInterrupt.
  struct Interrupted {};
  const auto check_signals = [](int) {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) throw Interrupted{};
  };
  nlohmann::json answer;
  try {
    py::gil_scoped_release release;
    MappingExecutor executor(m.mapping);
    answer = generation_answer(executor, *m.mapping, request, {}, check_signals);
  } catch (const Interrupted&) {
    throw py::error_already_set();
  }
  return py::cast(generation_from(answer, request.prompt));
}

// A simulation's results, as the parent receives them from the child.
struct Simulation {
  py::array_t<float> outputs;
  py::object stats;
};

// A compiled NIR graph's time steps on the SystemC chip, in a forked child (SystemC elaborates
// once per process): the output and the statistics `simulate --stats` writes.
py::object simulate(const PyMapping& m, const py::object& input, const py::object& prompt_ids, int n, float temperature,
                    float top_p, uint64_t seed, uint64_t watchdog_cycles) {
  if (m.mapping->kind != MappingKind::Nir) {
    if (!input.is_none())
      throw py::value_error("this mapping holds a SpikeGPT model: it runs on prompt_ids=[...], not on an input array");
    const GenerationRequest request = generation_request(*m.mapping, prompt_ids, n, temperature, top_p, seed);
    const std::shared_ptr<const Mapping> mapping = m.mapping;
    const std::vector<uint8_t> answer = python::run_forked([&]() {
      sim::SimulatorOptions options;
      options.watchdog_cycles = watchdog_cycles;
      sim::ChipSimulator chip(mapping, options);
      return nlohmann::json::to_cbor(
          generation_answer(chip, *mapping, request, [&](RunStats& stats) { chip.fill_stats(stats); }));
    });
    return py::cast(generation_from(nlohmann::json::from_cbor(answer), request.prompt));
  }
  if (!prompt_ids.is_none()) throw py::value_error("a NIR graph's mapping runs on input=array, not on prompt_ids");
  if (input.is_none()) throw py::value_error("a NIR graph's mapping runs on an input: give input=array [T, *input shape]");
  auto [shape, values] = array_values(input, "input");
  const std::shared_ptr<const Mapping> mapping = m.mapping;
  const std::vector<uint8_t> answer = python::run_forked([&]() {
    sim::SimulatorOptions options;
    options.watchdog_cycles = watchdog_cycles;
    sim::ChipSimulator chip(mapping, options);
    sim::NirChipRun run = sim::run_nir_on_chip(chip, shape, values, "input");
    chip.fill_stats(run.stats);
    const auto* bytes = reinterpret_cast<const uint8_t*>(run.outputs.data());
    return nlohmann::json::to_cbor(nlohmann::json{
        {"shape", run.shape},
        {"outputs", nlohmann::json::binary(std::vector<uint8_t>(bytes, bytes + run.outputs.size() * sizeof(float)))},
        {"stats", stats_to_json(run.stats)}});
  });
  const nlohmann::json j = nlohmann::json::from_cbor(answer);
  const auto& bytes = j.at("outputs").get_binary();
  const auto out_shape = j.at("shape").get<std::vector<py::ssize_t>>();
  py::array_t<float> outputs(out_shape);
  std::memcpy(outputs.mutable_data(), bytes.data(), bytes.size());
  return py::cast(Simulation{outputs, to_python(j.at("stats"))});
}

// report(): the same request as `spiketile report`, assembled by the same library function.
py::object report(const std::string& stats, const std::optional<std::string>& energy_table,
                  const std::optional<std::string>& convention_table, const std::optional<std::string>& chip,
                  const std::string& gpu, const std::string& gpu_precision, int batch, const std::string& encoding,
                  const std::vector<std::string>& gpu_measured) {
  ReportRequest request;
  request.stats = stats;
  if (energy_table) request.energy_table = *energy_table;
  if (convention_table) request.convention_table = *convention_table;
  if (chip) request.chip = *chip;
  request.gpu = gpu;
  request.gpu_precision = gpu_precision;
  request.batch = batch;
  request.encoding = encoding;
  request.gpu_measured = gpu_measured;
  nlohmann::json r;
  {
    py::gil_scoped_release release;
    r = build_report(report_inputs(request));
  }
  return to_python(r);
}

// to_html(): a report dict as the self-contained page `report --html` writes, through the same
// all-or-nothing writer.
void to_html(const py::object& report, const std::string& path) {
  const nlohmann::json r = nlohmann::json::parse(py::module_::import("json").attr("dumps")(report).cast<std::string>());
  OutputFile out(path);
  out.write(report_html(r));
  out.commit();
}

}  // namespace


PYBIND11_MODULE(spiketile, m) {
  m.doc() = "spiketile: compile SpikeGPT checkpoints and NIR spiking networks onto a modelled crossbar "
            "neuromorphic chip (docs/python.md).";
  m.attr("__version__") = SPIKETILE_VERSION;
  m.attr("DEFAULT_CHIP") = default_chip();

  static py::exception<ChipSpecError> chip_error(m, "ChipError", PyExc_ValueError);
  chip_error.doc() = "A chip description that is not valid: str() lists every problem as file:line:column: "
                     "message; .problems holds (file, line, column, message) tuples.";
  static py::exception<DoesNotFitError> does_not_fit(m, "DoesNotFit", PyExc_ValueError);
  does_not_fit.doc() = "The model does not fit the chip: str() lists every resource with need, capacity and fix.";
  static py::exception<MappingError> mapping_error(m, "MappingError", PyExc_ValueError);
  mapping_error.doc() = "A mapping file that is damaged, of an unknown version or inconsistent.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ChipSpecError& e) {
      py::list problems;
      for (const ConfigProblem& q : e.problems()) problems.append(py::make_tuple(q.file, q.line, q.column, q.message));
      py::object error = py::handle(chip_error.ptr())(e.what());  // an instance, to carry .problems
      error.attr("problems") = problems;
      PyErr_SetObject(chip_error.ptr(), error.ptr());
    } catch (const DoesNotFitError& e) {
      does_not_fit(e.what());
    } catch (const MappingError& e) {
      mapping_error(e.what());
    }
  });

  py::class_<Model>(m, "Model", "A SpikeGPT checkpoint or a NIR graph, as load_model read it.")
      .def_readonly("path", &Model::path, "The file it was read from.")
      .def_readonly("kind", &Model::kind, "'spikegpt' or 'nir'.")
      .def_property_readonly("config", &model_config,
                             "The configuration: n_layer, n_embd, vocab_size and parameters for a checkpoint "
                             "(inferred from tensor shapes); version, parameters, nodes, edges, input_shape and "
                             "output_shape for a NIR graph.")
      .def("inspect", &model_inspect, "The text `spiketile inspect PATH` prints.")
      .def("__repr__", [](const Model& mo) { return fmt::format("<spiketile.Model {} '{}'>", mo.kind, mo.path); });

  m.def("load_model", &load_model, py::arg("path"), py::kw_only(), py::arg("tokenizer") = "", py::arg("data_dir") = "",
        "Reads a SpikeGPT checkpoint (.pth, .safetensors) or a NIR graph (.nir). `tokenizer` names a vocab.json or "
        "tokenizer.json (default: the CLI's rule); `data_dir` the shipped tokenizers' folder.");

  py::class_<Chip>(m, "Chip", "A chip description (YAML), validated as `spiketile chip` validates it.")
      .def(py::init(&load_chip), py::arg("path"),
           "Loads and validates a chip description; raises ChipError listing every problem with file and line.")
      .def_readonly("path", &Chip::path, "The YAML file.")
      .def_property_readonly("name", [](const Chip& c) { return c.spec.name; }, "The chip's name.")
      .def_property_readonly("total_cores", [](const Chip& c) { return c.spec.total_cores(); },
                             "Cores over every chip of the system.")
      .def("__repr__", [](const Chip& c) { return fmt::format("<spiketile.Chip '{}' {} cores>", c.spec.name, c.spec.total_cores()); });

  py::class_<PyMapping>(m, "Mapping", "A model compiled onto a chip: what `spiketile compile -o X.stmap` writes.")
      .def_static("load", [](const std::string& path) { return PyMapping{std::make_shared<const Mapping>(load_mapping(path))}; },
                  py::arg("path"), "Reads and validates a mapping file (.stmap); raises MappingError naming the problem.")
      .def("save", [](const PyMapping& pm, const std::string& path) {
             py::gil_scoped_release release;
             save_mapping(*pm.mapping, path);
           }, py::arg("path"),
           "Writes the mapping file (via a temporary renamed onto `path`, so no partial file is left).")
      .def("summary", [](const PyMapping& pm) { return to_python(mapping_summary_json(*pm.mapping)); },
           "The mapping's use of its chip as a dict: the JSON `spiketile inspect X.stmap --json` prints.")
      .def("text", [](const PyMapping& pm) { return mapping_summary(*pm.mapping); },
           "The same summary as text (`spiketile inspect X.stmap`).")
      .def_property_readonly("kind", [](const PyMapping& pm) { return pm.mapping->kind == MappingKind::Nir ? "nir" : "spikegpt"; },
                             "'spikegpt' or 'nir'.")
      .def_property_readonly("cores", [](const PyMapping& pm) { return pm.mapping->units.size(); }, "Cores used.")
      .def("__repr__", [](const PyMapping& pm) {
        return fmt::format("<spiketile.Mapping {} on '{}', {} cores>",
                           pm.mapping->kind == MappingKind::Nir ? "nir" : "spikegpt", pm.mapping->chip_name,
                           pm.mapping->units.size());
      });

  m.def("compile", &compile_any, py::arg("model"), py::arg("chip") = default_chip(),
        "Compiles a model (load_model's result or a path) onto a chip (a Chip or a YAML path) and returns a Mapping; "
        "the same options give the same mapping file as `spiketile compile`. SpikeGPT options: objective "
        "('latency', 'energy', 'edp', 'cores'), energy_table, max_cores, search_steps, profile_tokens, "
        "profile_start, calibration, weight_bits, activation_bits, membrane_bits, no_rescale, binary_embedding, "
        "seed, placement_effort, firing_rate. NIR options: dt (seconds, required), calibrate (array [T, *input "
        "shape], required), reset ('value', 'subtract' or 'NODE=subtract,...'), fire_at_threshold, weight_bits, "
        "activation_bits, membrane_bits, seed, placement_effort, firing_rate. Raises DoesNotFit when it does not "
        "fit, TypeError naming an unknown option.");

  py::class_<Simulation>(m, "Simulation", "What simulate() returns.")
      .def_readonly("outputs", &Simulation::outputs, "The output node's values, float32 [T, *output shape].")
      .def_readonly("stats", &Simulation::stats,
                    "The run's statistics as a dict: the file `spiketile simulate --stats` writes (docs/stats-format.md).");

  py::class_<Generation>(m, "Generation", "What run() and simulate() of a SpikeGPT mapping return.")
      .def_readonly("prompt_ids", &Generation::prompt_ids, "The prompt's token ids.")
      .def_readonly("tokens", &Generation::tokens, "The generated token ids.")
      .def_readonly("logits", &Generation::logits,
                    "Every consumed token's logits, float32 [rows, vocab] (prompt tokens included): the array "
                    "`--logits-out` writes.")
      .def_readonly("stats", &Generation::stats, "The run's statistics as a dict: the file `--stats` writes.");

  m.def("simulate", &simulate, py::arg("mapping"), py::kw_only(), py::arg("input") = py::none(),
        py::arg("prompt_ids") = py::none(), py::arg("n") = 200, py::arg("temperature") = SamplingOptions{}.temperature,
        py::arg("top_p") = SamplingOptions{}.top_p, py::arg("seed") = SamplingOptions{}.seed, py::arg("watchdog_cycles") = 0,
        "Runs a mapping on the cycle-accurate SystemC chip, each call in its own child process (SystemC elaborates "
        "once per process), so a session simulates as often as it likes; the GIL is released while it runs and "
        "Ctrl-C stops it with KeyboardInterrupt. A NIR graph's mapping runs over input [T, *input shape] and returns "
        "a Simulation (outputs, stats): the bits of `spiketile simulate --map X --input IN.npy --output OUT.npy`. A "
        "SpikeGPT mapping feeds prompt_ids as one pipelined prefill, then generates n tokens (temperature 0: greedy; "
        "top_p, seed as the CLI's) and returns a Generation (tokens, logits, stats): the bits of `spiketile simulate "
        "--map X --prompt-ids ... -n N --logits-out L.npy --stats S.json`.");

  m.def("report", &report, py::arg("stats"), py::kw_only(), py::arg("energy_table") = py::none(),
        py::arg("convention_table") = py::none(), py::arg("chip") = py::none(), py::arg("gpu") = "h100",
        py::arg("gpu_precision") = "bf16", py::arg("batch") = 8, py::arg("encoding") = "graded",
        py::arg("gpu_measured") = std::vector<std::string>{},
        "The energy and operation report of a run's statistics file (run or simulate with stats): the dict "
        "`spiketile report --stats S.json --json R.json` writes, with the same options (energy_table, "
        "convention_table and chip default as the CLI's: the shipped tables, the chip the stats were simulated on).");
  m.def("to_html", &to_html, py::arg("report"), py::arg("path"),
        "Writes a report dict as the self-contained HTML page `spiketile report --html` writes (all or nothing).");

  m.def("run", &run_mapping, py::arg("mapping"), py::kw_only(), py::arg("input") = py::none(),
        py::arg("prompt_ids") = py::none(), py::arg("n") = 200, py::arg("temperature") = SamplingOptions{}.temperature,
        py::arg("top_p") = SamplingOptions{}.top_p, py::arg("seed") = SamplingOptions{}.seed,
        "Runs a mapping on the mapping executor (the chip's units without timing, in this process, the GIL released). "
        "A NIR graph's mapping runs over input [T, *input shape] and returns its output as float32 [T, *output "
        "shape] (the bits of `spiketile run --map X --input IN.npy --output OUT.npy`; Ctrl-C stops it between "
        "steps). A SpikeGPT mapping generates n tokens after prompt_ids and returns a Generation (tokens, logits, "
        "stats): the bits of `spiketile run --map X --prompt-ids ... -n N --logits-out L.npy --stats S.json`.");
}
