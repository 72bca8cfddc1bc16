// The Python module `spiketile` (docs/python.md): loading checkpoints and NIR graphs, chip
// descriptions, compiling onto a chip, running and simulating on every level, evaluating a text,
// reports. A thin layer: every rule it applies
// (defaults, calibration, tokenizer choice, the objective's search, NIR quantization and lowering)
// is the libraries' own, shared with the command-line front end, so the same options give the same
// mapping file byte for byte (tests/python/test_compile.py checks it against build/spiketile).
#include <optional>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <functional>
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
#include "models/nir/nir_reference.hpp"
#include "models/output_file.hpp"
#include "models/quantized.hpp"
#include "models/spikegpt.hpp"
#include "models/tensor_file.hpp"
#include "models/unicode_util.hpp"
#include "runtime/compile_checkpoint.hpp"
#include "runtime/evaluation_json.hpp"
#include "runtime/execution.hpp"
#include "runtime/generation_stats.hpp"
#include "runtime/mapping_executor.hpp"
#include "runtime/mapping_summary.hpp"
#include "runtime/nir_executor.hpp"
#include "runtime/report.hpp"
#include "runtime/report_request.hpp"
#include "runtime/stats.hpp"
#include "runtime/token_input.hpp"
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
    m.config = read_model_config(*reader);
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
  d["spike_input_steps"] = m.config.spike_input_steps;
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
  // The file it was loaded from or saved to: what the CLI's messages name (the tokenizer's rule).
  std::string path = "the mapping";
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
    throw py::type_error(fmt::format("{} got unexpected option(s): {}", kind, fmt::join(names, ", ")));
  }

 private:
  std::map<std::string, py::object> given_;
};

// An array that owns the vector it views (a capsule deletes it): results reach Python uncopied.
template <class T>
py::array_t<T> owned_array(std::vector<T>&& values, std::vector<py::ssize_t> shape) {
  auto* held = new std::vector<T>(std::move(values));
  py::capsule owner(held, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(std::move(shape), held->data(), owner);
}

// The same of bytes that hold T values (a result received from a simulation's child).
template <class T>
py::array_t<T> owned_array_of_bytes(std::vector<uint8_t>&& bytes, std::vector<py::ssize_t> shape) {
  auto* held = new std::vector<uint8_t>(std::move(bytes));
  py::capsule owner(held, [](void* p) { delete static_cast<std::vector<uint8_t>*>(p); });
  return py::array_t<T>(std::move(shape), reinterpret_cast<const T*>(held->data()), owner);
}

std::vector<uint8_t> take_binary(nlohmann::json& j, const char* key) {
  return std::move(static_cast<std::vector<uint8_t>&>(j.at(key).get_binary()));
}

// A Python progress callable (or None), called from work that runs without the GIL. The GIL is
// taken back for each report, and Ctrl-C is looked for then too; Ctrl-C, or an exception the
// callable raises, ends the work: Stop is thrown with that Python error set, and released() turns
// it back into the Python exception.
class Progress {
 public:
  struct Stop {};
  explicit Progress(py::object callback) : callback_(std::move(callback)) {
    if (!callback_.is_none() && !PyCallable_Check(callback_.ptr()))
      throw py::type_error("progress must be a callable progress(done, total), or None");
  }
  void operator()(int64_t done, int64_t total) {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) throw Stop{};
    if (callback_.is_none() || !rate_.due(done, total)) return;
    call_now(done, total);
  }
  // In the parent of a simulation: the child thinned its reports already, and the GIL is held.
  python::ProgressFn forwarder() {
    if (callback_.is_none()) return {};
    return [this](int64_t done, int64_t total) { callback_(done, total); };
  }

 private:
  void call_now(int64_t done, int64_t total) {
    try {
      callback_(done, total);
    } catch (py::error_already_set& e) {
      e.restore();
      throw Stop{};
    }
  }
  py::object callback_;
  python::ProgressRate rate_;
};

// Runs `work` with the GIL released; a Progress::Stop becomes the Python exception it set.
template <class Work>
auto released(Work&& work) {
  try {
    py::gil_scoped_release release;
    return work();
  } catch (const Progress::Stop&) {
    throw py::error_already_set();
  }
}

// Notes on the text (characters read as space) become Python warnings with the CLI's sentence.
struct Notes {
  std::vector<std::string> notes;
  NoteSink sink() {
    return [this](const std::string& note) { notes.push_back(note); };
  }
  void warn() const {
    for (const std::string& note : notes)
      if (PyErr_WarnEx(PyExc_UserWarning, note.c_str(), 1) != 0) throw py::error_already_set();  // warnings as errors
  }
};

void take_placement_options(Options& options, CompileOptions& compile) {
  options.take("seed", compile.placement.seed);
  options.take("placement_effort", compile.placement.moves_per_unit);
  options.take("firing_rate", compile.expected_firing_rate);
}

// The conventions a NIR file cannot state (the CLI's --dt, --reset, --fire-at-threshold).
void take_reference_options(Options& options, const nir::Graph& graph, nir::ReferenceOptions& reference) {
  std::string reset;
  options.take("dt", reference.dt);
  options.take("reset", reset);
  options.take("fire_at_threshold", reference.fire_at_threshold);
  if (!reset.empty()) nir::parse_reset_option(reset, graph, reference);
}

PyMapping compile_spikegpt(const Model& model, const Chip& chip, Options& options, Progress& progress) {
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
  options.refuse_rest("compile() of a SpikeGPT checkpoint");
  request.objective.objective = objective_from_name(objective);
  request.golden.rescale_every_6_layers = !no_rescale;
  request.golden.binary_embedding = parse_binary_embedding(binary_embedding);
  request.objective.progress = [&](int tried, int most) { progress(tried, most); };
  return released([&] {
    CheckpointCompiler compiler(request);
    auto mapping = std::make_shared<Mapping>(compiler.compile(chip.spec, chip.yaml));
    compiler.read_embedding(*mapping);
    return PyMapping{std::move(mapping)};
  });
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
  take_reference_options(options, *model.graph, integer_options.reference);
  options.take("weight_bits", integer_options.weight_bits);
  options.take("activation_bits", integer_options.activation_bits);
  options.take("membrane_bits", integer_options.membrane_bits);
  take_placement_options(options, compile);
  const py::object calibrate = options.take_object("calibrate");
  options.refuse_rest("compile() of a NIR graph");
  if (calibrate.is_none())
    throw py::value_error("compile() of a NIR graph quantizes it on an input: give calibrate=array [T, *input shape]");
  auto [shape, values] = array_values(calibrate, "calibrate");
  py::gil_scoped_release release;
  const nir::IntegerGraph integer = nir::IntegerGraph::build(*model.graph, integer_options, shape, values);
  return {std::make_shared<Mapping>(compile_nir(*model.graph, integer, chip.spec, chip.yaml, compile))};
}

PyMapping compile_any(const py::object& model_or_path, const py::object& chip_or_path, const py::object& progress_callback,
                      const py::kwargs& kwargs) {
  const Model model = py::isinstance<py::str>(model_or_path) ? load_model(model_or_path.cast<std::string>(), "", "")
                                                             : model_or_path.cast<Model>();
  const Chip chip = py::isinstance<py::str>(chip_or_path) ? load_chip(chip_or_path.cast<std::string>())
                                                          : chip_or_path.cast<Chip>();
  Options options(kwargs);
  Progress progress(progress_callback);
  if (model.kind == "nir") {
    if (!progress_callback.is_none())
      throw py::type_error("compile() of a NIR graph has no search to report: progress is for SpikeGPT checkpoints");
    return compile_nir_model(model, chip, options);
  }
  return compile_spikegpt(model, chip, options, progress);
}

// What run() and evaluate() take: a Model, a path to one, or a compiled Mapping.
struct Subject {
  std::optional<Model> model;
  std::shared_ptr<const Mapping> mapping;
  std::string mapping_path;
  bool nir() const { return mapping ? mapping->kind == MappingKind::Nir : model->kind == "nir"; }
};

Subject subject_of(const py::object& o) {
  if (py::isinstance<PyMapping>(o)) {
    const auto& m = o.cast<const PyMapping&>();
    return {std::nullopt, m.mapping, m.path};
  }
  if (py::isinstance<Model>(o)) return {o.cast<Model>(), nullptr, ""};
  const std::string path = py::module_::import("os").attr("fspath")(o).cast<std::string>();
  return {load_model(path, "", ""), nullptr, ""};
}

// The execution levels run() and evaluate() name: the float model, the integer model, and a
// compiled mapping on the mapping executor (the CLI's run, run --quantized and run --map).
enum class Level { golden, quantized, executor };
constexpr const char* kLevelNames[] = {"golden", "quantized", "executor"};

Level level_of(const std::optional<std::string>& name, const Subject& s) {
  if (!name) return s.mapping ? Level::executor : Level::golden;
  Level level = Level::golden;
  bool known = false;
  for (int i = 0; i < 3; ++i)
    if (*name == kLevelNames[i]) level = Level(i), known = true;
  if (!known)
    throw py::value_error(fmt::format("level='{}' is not a level: choose 'golden' (the float model), 'quantized' (the "
                                      "integer model) or 'executor' (a compiled Mapping on the mapping executor)",
                                      *name));
  if (level == Level::executor && !s.mapping)
    throw py::value_error("level='executor' runs a compiled Mapping: compile the model first, then pass the Mapping");
  if (level != Level::executor && s.mapping)
    throw py::value_error(fmt::format("level='{}' runs a model (load_model's result or its path); a Mapping runs on "
                                      "level='executor'",
                                      *name));
  return level;
}

// A SpikeGPT level ready to step, with what its statistics and its text need.
struct TokenLevel {
  std::unique_ptr<TokenModel> model;
  std::string source;               // the checkpoint the statistics name
  std::optional<QuantOptions> quant;  // the integer levels' bits
  FoundTokenizer tokenizer;
};

TokenLevel token_level(const Subject& s, Level level, Options& options, const char* call) {
  TokenLevel t;
  if (level == Level::executor) {
    options.refuse_rest(fmt::format("{} of a Mapping (it runs as compiled)", call));
    t.source = s.mapping->model_source;
    t.quant = s.mapping->quant;
    t.tokenizer = mapping_tokenizer(*s.mapping, s.mapping_path, "", shipped_data_dir());
    t.model = std::make_unique<MappingExecutor>(s.mapping);
    return t;
  }
  const Model& m = *s.model;
  GoldenOptions golden;
  std::string binary_embedding = "auto";
  bool no_rescale = false;
  options.take("no_rescale", no_rescale);
  options.take("binary_embedding", binary_embedding);
  options.take("threads", golden.threads);
  golden.rescale_every_6_layers = !no_rescale;
  golden.binary_embedding = parse_binary_embedding(binary_embedding);
  t.source = m.path;
  if (level == Level::quantized) {
    QuantOptions quant;
    std::string calibration;
    options.take("calibration", calibration);
    options.take("weight_bits", quant.weight_bits);
    options.take("activation_bits", quant.activation_bits);
    options.take("membrane_bits", quant.membrane_bits);
    options.refuse_rest(fmt::format("{} on level 'quantized'", call));
    t.quant = quant;
    t.model = released([&] { return std::make_unique<QuantizedModel>(read_quantized_checkpoint(m.path, calibration, quant, golden)); });
  } else {
    options.refuse_rest(fmt::format("{} on level 'golden'", call));
    t.model = released([&] { return std::make_unique<GoldenModel>(SpikeGptWeights::load(m.path, golden), golden.threads); });
  }
  t.tokenizer = find_tokenizer(m.tokenizer, m.path, t.model->vocab_size(), m.data_dir);
  return t;
}

// The names the module's errors give the prompt's forms.
constexpr PromptNames kPythonPrompt{"prompt", "prompt_ids", "load_model(..., tokenizer=...)"};

// A SpikeGPT generation's request: the prompt's ids and how the next tokens are drawn.
struct GenerationRequest {
  std::vector<int> prompt;
  int n_tokens = 0;
  SamplingOptions sampling;
  bool spikes = false, membranes = false;  // the LIF records `--spikes-out`, `--membranes-out` keep
};

// The prompt as the CLI takes it: text encoded with the model's tokenizer (the CLI's default
// prompt when neither is given), or ids.
GenerationRequest generation_request(const FoundTokenizer& tokenizer, int vocab_size, const py::object& prompt,
                                     const py::object& prompt_ids, int n, float temperature, float top_p, uint64_t seed,
                                     bool spikes, bool membranes, bool lowercase) {
  if (!prompt.is_none() && !prompt_ids.is_none())
    throw py::value_error("give the prompt as prompt=\"text\" or as prompt_ids=[...], not both");
  if (n < 0) throw py::value_error("n must be at least 0");
  GenerationRequest r;
  if (!prompt_ids.is_none()) {
    r.prompt = prompt_ids.cast<std::vector<int>>();
    if (r.prompt.empty()) throw py::value_error("prompt_ids is empty");
    for (std::size_t i = 0; i < r.prompt.size(); ++i)
      if (r.prompt[i] < 0 || r.prompt[i] >= vocab_size)
        throw py::value_error(fmt::format("prompt_ids[{}]: token id {} is outside the vocabulary [0, {})", i,
                                          r.prompt[i], vocab_size));
  } else {
    Notes notes;
    const std::string text = prompt.is_none() ? std::string(kDefaultPrompt) : prompt.cast<std::string>();
    r.prompt = encode_prompt(text, tokenizer, vocab_size, kPythonPrompt, notes.sink(),
                             text_case_of(lowercase));
    notes.warn();
  }
  r.n_tokens = n;
  r.sampling = {temperature, top_p, seed};
  r.spikes = spikes;
  r.membranes = membranes;
  return r;
}

// The sizes a generation's arrays are shaped by: logits [rows, vocab], the LIF records
// [rows, n_layer, 2, n_embd].
struct GenerationShape {
  int64_t rows = 0, vocab = 0, n_layer = 0, n_embd = 0;
};

// What a SpikeGPT generation gives back, in this process or from a simulation's child: the tokens
// generated, every consumed token's logits, spikes and membranes (`--logits-out`, `--spikes-out`,
// `--membranes-out`) and the statistics (`--stats`, null on a level that counts nothing).
struct GenerationOutcome {
  std::vector<int> generated;
  std::vector<float> logits;
  std::vector<uint8_t> spikes;
  std::vector<float> membranes;
  GenerationShape shape;
  nlohmann::json stats;
};

GenerationOutcome generate_outcome(TokenModel& model, const GenerationRequest& r, const std::string& source,
                                   const QuantOptions* quant, const std::function<void(int)>& on_token,
                                   const std::function<void(RunStats&)>& add_stats = {}) {
  GenerationResult result = generate(model, r.prompt, r.n_tokens, r.sampling, {true, r.spikes, r.membranes}, on_token);
  GenerationOutcome o;
  if (!result.counts.empty()) {
    RunStats stats = generation_stats(source, quant, model, r.prompt, result.generated, result.counts);
    if (add_stats) add_stats(stats);
    o.stats = stats_to_json(stats);
  }
  o.generated = std::move(result.generated);
  o.logits = std::move(result.logits);
  o.spikes = std::move(result.spikes);
  o.membranes = std::move(result.membranes);
  o.shape = {result.logit_rows, model.vocab_size(), model.n_layer(), model.n_embd()};
  return o;
}

template <class T>
nlohmann::json::binary_t as_binary(const std::vector<T>& values) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
  return nlohmann::json::binary_t(std::vector<uint8_t>(bytes, bytes + values.size() * sizeof(T)));
}

std::vector<uint8_t> outcome_to_cbor(const GenerationOutcome& o) {
  return nlohmann::json::to_cbor(nlohmann::json{{"generated", o.generated},
                                                {"logits", as_binary(o.logits)},
                                                {"spikes", as_binary(o.spikes)},
                                                {"membranes", as_binary(o.membranes)},
                                                {"shape", {o.shape.rows, o.shape.vocab, o.shape.n_layer, o.shape.n_embd}},
                                                {"stats", o.stats}});
}

struct Generation {
  std::vector<int> prompt_ids, tokens;
  py::object text;       // str, or None without a tokenizer
  py::object logits;     // float32 array
  py::object spikes;     // uint8 array, or None when not asked for
  py::object membranes;  // float32 array, or None when not asked for
  py::object stats;      // dict, or None on the golden level
};

// A generation's array by name ("logits", "spikes", "membranes") in its shape: made from the
// vectors of a run in this process, or from the bytes a simulation's child sent.
using ArrayMaker = std::function<py::object(const std::string& name, std::vector<py::ssize_t> shape)>;

// The LIF records are made only when asked for.
Generation generation_of(const GenerationRequest& r, const FoundTokenizer& tokenizer, std::vector<int> generated,
                         const nlohmann::json& stats, const GenerationShape& shape, const ArrayMaker& array) {
  Generation g;
  g.prompt_ids = r.prompt;
  g.tokens = std::move(generated);
  // The text the CLI prints after the prompt, its bytes those of the tokens; bytes that are no
  // UTF-8 (a BPE run cut inside a character) read as U+FFFD.
  g.text = tokenizer.tokenizer
               ? py::object(py::bytes(tokenizer.tokenizer->decode(g.tokens)).attr("decode")("utf-8", "replace"))
               : py::none();
  g.logits = array("logits", {py::ssize_t(shape.rows), py::ssize_t(shape.vocab)});
  const std::vector<py::ssize_t> per_lif = {py::ssize_t(shape.rows), py::ssize_t(shape.n_layer), 2,
                                            py::ssize_t(shape.n_embd)};
  g.spikes = r.spikes ? array("spikes", per_lif) : py::none();
  g.membranes = r.membranes ? array("membranes", per_lif) : py::none();
  g.stats = stats.is_null() ? py::none() : to_python(stats);
  return g;
}

Generation generation_from(GenerationOutcome&& o, const GenerationRequest& r, const FoundTokenizer& tokenizer) {
  return generation_of(r, tokenizer, std::move(o.generated), o.stats, o.shape,
                       [&o](const std::string& name, std::vector<py::ssize_t> shape) -> py::object {
                         if (name == "spikes") return owned_array(std::move(o.spikes), std::move(shape));
                         return owned_array(std::move(name == "logits" ? o.logits : o.membranes), std::move(shape));
                       });
}

Generation generation_from_cbor(std::vector<uint8_t>&& cbor, const GenerationRequest& r, const FoundTokenizer& tokenizer) {
  nlohmann::json j = nlohmann::json::from_cbor(cbor);
  cbor.clear();
  cbor.shrink_to_fit();
  const auto dims = j.at("shape").get<std::vector<int64_t>>();
  return generation_of(r, tokenizer, j.at("generated").get<std::vector<int>>(), j.at("stats"),
                       {dims.at(0), dims.at(1), dims.at(2), dims.at(3)},
                       [&j](const std::string& name, std::vector<py::ssize_t> shape) -> py::object {
                         if (name == "spikes") return owned_array_of_bytes<uint8_t>(take_binary(j, "spikes"), std::move(shape));
                         return owned_array_of_bytes<float>(take_binary(j, name.c_str()), std::move(shape));
                       });
}

// spikes=True and membranes=True record SpikeGPT's LIFs; a NIR graph's `call` returns its output.
void refuse_lif_records(bool spikes, bool membranes, const char* call) {
  for (const auto& [asked, what] : {std::pair{spikes, "spikes=True records SpikeGPT's LIF spikes"},
                                    std::pair{membranes, "membranes=True records SpikeGPT's LIF membranes"}})
    if (asked) throw py::value_error(fmt::format("{}; a NIR graph's {} returns its output", what, call));
}

// The generation's on_token: progress over the tokens generated (Ctrl-C looked for with it).
std::function<void(int)> token_progress(Progress& progress, int n_tokens) {
  return [&progress, n_tokens, done = int64_t(0)](int) mutable { progress(++done, n_tokens); };
}

// A NIR graph's levels as `spiketile run --nir G [--quantized]` and `run --map X --input` run them:
// the output [T, *output shape].
py::array_t<float> run_nir(const Subject& s, Level level, const py::object& input, Options& options, Progress& progress) {
  const auto given = array_values(input, "input");
  const nir::Shape& shape = given.first;
  const std::vector<double>& values = given.second;
  std::vector<float> out;
  std::vector<py::ssize_t> out_shape = {py::ssize_t(shape.at(0))};
  if (level == Level::executor) {
    options.refuse_rest("run() of a Mapping (it runs as compiled)");
    const NirProgram& program = s.mapping->nir;
    const std::vector<std::vector<int32_t>> steps = nir_quantize_steps(program, shape, values, "input");
    for (int64_t d : program.output_shape) out_shape.push_back(py::ssize_t(d));
    released([&] {
      NirMappingExecutor executor(s.mapping);
      const int64_t T = int64_t(steps.size());
      for (int64_t t = 0; t < T; ++t) {
        for (double v : nir_output_values(program, executor.step_quantized(steps[std::size_t(t)]))) out.push_back(float(v));
        progress(t + 1, T);
      }
    });
    return owned_array(std::move(out), out_shape);
  }
  const nir::Graph& graph = *s.model->graph;
  nir::IntegerOptions integer_options;
  take_reference_options(options, graph, integer_options.reference);
  std::vector<double> result;
  if (level == Level::quantized) {
    options.take("weight_bits", integer_options.weight_bits);
    options.take("activation_bits", integer_options.activation_bits);
    options.take("membrane_bits", integer_options.membrane_bits);
    const py::object calibrate = options.take_object("calibrate");
    options.refuse_rest("run() of a NIR graph on level 'quantized'");
    // The integer model's ranges come from `calibrate`, else from the input itself (run --quantized's rule).
    const auto calibration = calibrate.is_none() ? given : array_values(calibrate, "calibrate");
    result = released([&] {
      nir::IntegerGraph integer = nir::IntegerGraph::build(graph, integer_options, calibration.first, calibration.second);
      std::vector<double> output = nir::compare_with_reference(graph, integer, shape, values).integer_output;
      progress(shape.at(0), shape.at(0));  // the library runs the steps in one call: the end alone is known
      return output;
    });
    const nir::Node& output = graph.nodes[std::size_t(graph.outputs[0])];
    for (int64_t d : output.input_shape) out_shape.push_back(py::ssize_t(d));
  } else {
    options.refuse_rest("run() of a NIR graph on level 'golden'");
    const nir::ReferenceRun run = released([&] {
      nir::ReferenceRun reference = nir::run_reference(graph, integer_options.reference, shape, values);
      progress(shape.at(0), shape.at(0));
      return reference;
    });
    result = run.output;
    out_shape.assign(run.shape.begin(), run.shape.end());
  }
  return owned_array(std::vector<float>(result.begin(), result.end()), out_shape);
}

py::object run_any(const py::object& subject, const std::optional<std::string>& level_name, const py::object& input,
               const py::object& prompt, const py::object& prompt_ids, int n, float temperature, float top_p,
               uint64_t seed, bool spikes, bool membranes, bool lowercase, const py::object& progress_callback,
               const py::kwargs& kwargs) {
  const Subject s = subject_of(subject);
  const Level level = level_of(level_name, s);
  Options options(kwargs);
  Progress progress(progress_callback);
  if (s.nir()) {
    if (!prompt_ids.is_none() || !prompt.is_none())
      throw py::value_error("a NIR graph runs on input=array, not on a prompt");
    if (input.is_none()) throw py::value_error("a NIR graph runs on an input: give input=array [T, *input shape]");
    refuse_lif_records(spikes, membranes, "run");
    return run_nir(s, level, input, options, progress);
  }
  if (!input.is_none())
    throw py::value_error("a SpikeGPT model runs on a prompt (prompt=\"text\" or prompt_ids=[...]), not on an input array");
  TokenLevel t = token_level(s, level, options, "run()");
  const GenerationRequest request =
      generation_request(t.tokenizer, t.model->vocab_size(), prompt, prompt_ids, n, temperature, top_p, seed, spikes,
                         membranes, lowercase);
  GenerationOutcome outcome = released([&] {
    return generate_outcome(*t.model, request, t.source, t.quant ? &*t.quant : nullptr,
                            token_progress(progress, request.n_tokens));
  });
  return py::cast(generation_from(std::move(outcome), request, t.tokenizer));
}

// A simulation's results, as the parent receives them from the child.
struct Simulation {
  py::array_t<float> outputs;
  py::object stats;
};

// A mapping on the SystemC chip, in a forked child (SystemC elaborates once per process): a NIR
// graph's output and statistics, or a SpikeGPT generation.
py::object simulate(const PyMapping& m, const py::object& input, const py::object& prompt, const py::object& prompt_ids,
                    int n, float temperature, float top_p, uint64_t seed, bool spikes, bool membranes,
                    bool lowercase, uint64_t watchdog_cycles,
                    const py::object& progress_callback) {
  Progress progress(progress_callback);
  const std::shared_ptr<const Mapping> mapping = m.mapping;
  sim::SimulatorOptions options;
  options.watchdog_cycles = watchdog_cycles;
  if (mapping->kind != MappingKind::Nir) {
    if (!input.is_none())
      throw py::value_error("a SpikeGPT mapping runs on a prompt (prompt=\"text\" or prompt_ids=[...]), not on an input array");
    const FoundTokenizer tokenizer = mapping_tokenizer(*mapping, m.path, "", shipped_data_dir());
    const GenerationRequest request = generation_request(tokenizer, mapping->config.vocab_size, prompt, prompt_ids, n,
                                                         temperature, top_p, seed, spikes, membranes, lowercase);
    std::vector<uint8_t> answer = python::run_forked(
        [&](const python::ProgressFn& report) {
          sim::ChipSimulator chip(mapping, options);
          int64_t done = 0;
          const auto on_token = [&](int) { report(++done, request.n_tokens); };
          return outcome_to_cbor(generate_outcome(chip, request, mapping->model_source, &mapping->quant, on_token,
                                                  [&](RunStats& stats) { chip.fill_stats(stats); }));
        },
        progress.forwarder());
    return py::cast(generation_from_cbor(std::move(answer), request, tokenizer));
  }
  if (!prompt_ids.is_none() || !prompt.is_none()) throw py::value_error("a NIR graph's mapping runs on input=array, not on a prompt");
  if (input.is_none()) throw py::value_error("a NIR graph's mapping runs on an input: give input=array [T, *input shape]");
  refuse_lif_records(spikes, membranes, "simulation");
  const auto given = array_values(input, "input");
  const nir::Shape& shape = given.first;
  const std::vector<double>& values = given.second;
  std::vector<uint8_t> answer = python::run_forked(
      [&](const python::ProgressFn& report) {
        options.progress = [&](const sim::SimulationProgress& p) { report(p.tokens_done, shape.at(0)); };
        sim::ChipSimulator chip(mapping, options);
        sim::NirChipRun run = sim::run_nir_on_chip(chip, shape, values, "input");
        chip.fill_stats(run.stats);
        return nlohmann::json::to_cbor(
            nlohmann::json{{"shape", run.shape}, {"outputs", as_binary(run.outputs)}, {"stats", stats_to_json(run.stats)}});
      },
      progress.forwarder());
  nlohmann::json j = nlohmann::json::from_cbor(answer);
  answer = {};
  const auto out_shape = j.at("shape").get<std::vector<py::ssize_t>>();
  return py::cast(Simulation{owned_array_of_bytes<float>(take_binary(j, "outputs"), out_shape), to_python(j.at("stats"))});
}

// evaluate(): `spiketile eval`'s scoring of a text on a level, its --json as a dict.
py::object evaluate_text(const py::object& subject, const py::object& text, const py::object& path,
                    const std::optional<std::string>& level_name, int64_t max_tokens, bool lowercase,
                    const py::object& progress_callback, const py::kwargs& kwargs) {
  const Subject s = subject_of(subject);
  if (s.nir()) throw py::value_error("evaluate() scores a SpikeGPT model on a text; a NIR graph has none (use run())");
  if (!text.is_none() && !path.is_none()) throw py::value_error("give the text as text=\"...\" or as path=FILE, not both");
  if (text.is_none() && path.is_none()) throw py::value_error("evaluate() needs a text: give text=\"...\" or path=FILE");
  if (max_tokens < 0) throw py::value_error("max_tokens must be at least 0 (0: the whole text)");
  const Level level = level_of(level_name, s);
  Options options(kwargs);
  Progress progress(progress_callback);
  TokenLevel t = token_level(s, level, options, "evaluate()");
  Notes notes;
  const int vocab = t.model->vocab_size();
  const std::string file = path.is_none() ? "" : py::module_::import("os").attr("fspath")(path).cast<std::string>();
  const TextCase text_case = text_case_of(lowercase);
  const FileTokens input = path.is_none()
                               ? encode_text(text.cast<std::string>(), "text", t.tokenizer, vocab, max_tokens,
                                             kTextToEvaluate, notes.sink(), text_case)
                               : encode_text_file(file, t.tokenizer, vocab, max_tokens, kTextToEvaluate, notes.sink(),
                                                  text_case);
  notes.warn();
  const EvalResult r = released([&] {
    return spiketile::evaluate(*t.model, input.tokens, [&](int64_t done, int64_t total) { progress(done, total); });
  });
  const EvaluationInput evaluated{t.source, "text", path.is_none() ? nlohmann::json(nullptr) : nlohmann::json(file),
                                  t.tokenizer.source, input.report.replaced};
  return to_python(evaluation_json(evaluated, *t.model, r));
}

// report(): the same request as `spiketile report`, assembled by the same library function.
py::object report(const py::object& stats, const std::optional<std::string>& energy_table,
                  const std::optional<std::string>& convention_table, const std::optional<std::string>& chip,
                  const std::string& gpu, const std::string& gpu_precision, int batch, const std::string& encoding,
                  const std::vector<std::string>& gpu_measured, const py::object& raster, int raster_layer) {
  ReportRequest request;
  // A dict is priced as it is, without a file between (the statistics of run() and simulate()).
  if (py::isinstance<py::dict>(stats))
    request.stats_json = nlohmann::json::parse(py::module_::import("json").attr("dumps")(stats).cast<std::string>());
  else
    request.stats = py::module_::import("os").attr("fspath")(stats).cast<std::string>();
  if (energy_table) request.energy_table = *energy_table;
  if (convention_table) request.convention_table = *convention_table;
  if (chip) request.chip = *chip;
  request.gpu = gpu;
  request.gpu_precision = gpu_precision;
  request.batch = batch;
  request.encoding = encoding;
  request.gpu_measured = gpu_measured;
  // An array is checked as the CLI checks its file, once the stats it must agree with are read, and
  // is read in place: no file between.
  std::optional<py::array> array;
  if (py::isinstance<py::array>(raster)) {
    array = py::array::ensure(raster, py::array::c_style);
  } else if (!raster.is_none()) {
    request.raster = py::module_::import("os").attr("fspath")(raster).cast<std::string>();
    request.raster_layer = raster_layer;
  } else if (raster_layer != 0) {
    throw py::value_error("raster_layer names a layer of raster=: give raster= (a --spikes-out file or array) too");
  }
  const std::string dtype = array ? array->dtype().attr("str").cast<std::string>() : "";
  const std::vector<int64_t> shape = array ? std::vector<int64_t>(array->shape(), array->shape() + array->ndim())
                                           : std::vector<int64_t>{};
  nlohmann::json r;
  {
    py::gil_scoped_release release;
    ReportInputs in = report_inputs(request);
    if (array)
      in.raster = spike_raster_of_array("(array)", dtype, shape, static_cast<const uint8_t*>(array->data()),
                                        raster_layer, in.stats);
    r = build_report(in);
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
      .def_static("load", [](const std::string& path) { return PyMapping{std::make_shared<const Mapping>(load_mapping(path)), path}; },
                  py::arg("path"), "Reads and validates a mapping file (.stmap); raises MappingError naming the problem.")
      .def("save", [](PyMapping& pm, const std::string& path) {
             {
               py::gil_scoped_release release;
               save_mapping(*pm.mapping, path);
             }
             pm.path = path;
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

  m.def("compile", &compile_any, py::arg("model"), py::arg("chip") = default_chip(), py::kw_only(),
        py::arg("progress") = py::none(),
        "Compiles a model (load_model's result or a path) onto a chip (a Chip or a YAML path) and returns a Mapping; "
        "the same options give the same mapping file as `spiketile compile`. SpikeGPT options: objective "
        "('latency', 'energy', 'edp', 'cores'), energy_table, max_cores, search_steps, profile_tokens, "
        "profile_start, calibration, weight_bits, activation_bits, membrane_bits, no_rescale, binary_embedding, "
        "seed, placement_effort, firing_rate. NIR options: dt (seconds, required), calibrate (array [T, *input "
        "shape], required), reset ('value', 'subtract' or 'NODE=subtract,...'), fire_at_threshold, weight_bits, "
        "activation_bits, membrane_bits, seed, placement_effort, firing_rate. Raises DoesNotFit when it does not "
        "fit, TypeError naming an unknown option. progress(done, total), if given, hears the objective's search: splits "
        "tried of the most it may try.");

  py::class_<Simulation>(m, "Simulation", "What simulate() returns.")
      .def_readonly("outputs", &Simulation::outputs, "The output node's values, float32 [T, *output shape].")
      .def_readonly("stats", &Simulation::stats,
                    "The run's statistics as a dict: the file `spiketile simulate --stats` writes (docs/stats-format.md).");

  py::class_<Generation>(m, "Generation", "What run() and simulate() of a SpikeGPT model return.")
      .def_readonly("prompt_ids", &Generation::prompt_ids, "The prompt's token ids (a text prompt as the tokenizer encoded it).")
      .def_readonly("tokens", &Generation::tokens, "The generated token ids.")
      .def_readonly("text", &Generation::text,
                    "The generated text, decoded with the model's tokenizer: what the CLI prints after the prompt "
                    "(None for a vocabulary without a tokenizer).")
      .def_readonly("logits", &Generation::logits,
                    "Every consumed token's logits, float32 [rows, vocab] (prompt tokens included): the array "
                    "`--logits-out` writes.")
      .def_readonly("spikes", &Generation::spikes,
                    "With spikes=True: every LIF spike, uint8 0/1 [rows, n_layer, 2, n_embd] (index 0 the time-mix "
                    "LIF, 1 the channel-mix LIF), the array `--spikes-out` writes; else None.")
      .def_readonly("membranes", &Generation::membranes,
                    "With membranes=True: every LIF membrane after its step, float32 [rows, n_layer, 2, n_embd] laid "
                    "out as spikes, in units of the firing threshold (1.0 fires, 0 after a spike; the integer levels' "
                    "Q.8 membrane / 256), the array `--membranes-out` writes; else None.")
      .def_readonly("stats", &Generation::stats,
                    "The run's statistics as a dict: the file `--stats` writes (None on the golden level, which "
                    "counts no events).");

  m.def("simulate", &simulate, py::arg("mapping"), py::kw_only(), py::arg("input") = py::none(),
        py::arg("prompt") = py::none(), py::arg("prompt_ids") = py::none(), py::arg("n") = kDefaultGeneratedTokens,
        py::arg("temperature") = SamplingOptions{}.temperature, py::arg("top_p") = SamplingOptions{}.top_p,
        py::arg("seed") = SamplingOptions{}.seed, py::arg("spikes") = false, py::arg("membranes") = false,
        py::arg("lowercase") = false, py::arg("watchdog_cycles") = 0,
        py::arg("progress") = py::none(),
        "Runs a mapping on the cycle-accurate SystemC chip, each call in its own child process (SystemC elaborates "
        "once per process), so a session simulates as often as it likes; the GIL is released while it runs and "
        "Ctrl-C stops it with KeyboardInterrupt. A NIR graph's mapping runs over input [T, *input shape] and returns "
        "a Simulation (outputs, stats): the bits of `spiketile simulate --map X --input IN.npy --output OUT.npy`. A "
        "SpikeGPT mapping feeds its prompt (prompt: text, encoded with the mapping's tokenizer, default the CLI's; or "
        "prompt_ids; lowercase=True lowercases the text first, as --lowercase) as one pipelined prefill, then generates n tokens (temperature 0: greedy; top_p, seed as the "
        "CLI's) and returns a Generation (tokens, text, logits, spikes with spikes=True, membranes with "
        "membranes=True, stats): the bits of `spiketile simulate --map X --prompt ... -n N --logits-out L.npy "
        "--spikes-out S.npy --membranes-out M.npy --stats S.json`. "
        "progress(done, total) hears the tokens generated (a NIR graph: the time steps finished), at most ten times "
        "a second and at the end; an exception it raises stops the simulation and propagates.");

  m.def("report", &report, py::arg("stats"), py::kw_only(), py::arg("energy_table") = py::none(),
        py::arg("convention_table") = py::none(), py::arg("chip") = py::none(), py::arg("gpu") = "h100",
        py::arg("gpu_precision") = "bf16", py::arg("batch") = 8, py::arg("encoding") = "graded",
        py::arg("gpu_measured") = std::vector<std::string>{}, py::arg("raster") = py::none(),
        py::arg("raster_layer") = 0,
        "The energy and operation report of a run's statistics: a stats file (run or simulate with stats), or a "
        "statistics dict (a Generation's or Simulation's .stats, priced as it is, with no file written; the report's "
        "inputs.stats is then \"\"): the dict `spiketile report --stats S.json --json R.json` writes, with the same "
        "options (energy_table, convention_table and chip default as the CLI's: the shipped tables, the chip the "
        "stats were simulated on; the module's statistics name the chip their mapping embeds, which is no file, so "
        "give chip=). raster, the same run's spikes (a Generation's .spikes, uint8 or bool [steps, n_layer, 2, "
        "n_embd], read in place, or a `--spikes-out` file), adds layer raster_layer's spikes as `raster` "
        "(`report --raster F --raster-layer L`): the HTML draws them; an array or file that disagrees with the "
        "stats raises ValueError with the CLI's message (an array is named \"(array)\" there and its "
        "raster[\"file\"] is \"\").");
  m.def("to_html", &to_html, py::arg("report"), py::arg("path"),
        "Writes a report dict as the self-contained HTML page `spiketile report --html` writes (all or nothing).");

  m.def("run", &run_any, py::arg("model"), py::kw_only(), py::arg("level") = py::none(), py::arg("input") = py::none(),
        py::arg("prompt") = py::none(), py::arg("prompt_ids") = py::none(), py::arg("n") = kDefaultGeneratedTokens,
        py::arg("temperature") = SamplingOptions{}.temperature, py::arg("top_p") = SamplingOptions{}.top_p,
        py::arg("seed") = SamplingOptions{}.seed, py::arg("spikes") = false, py::arg("membranes") = false,
        py::arg("lowercase") = false, py::arg("progress") = py::none(),
        "Runs a model in this process, the GIL released, on a level: 'golden' (the float model, `spiketile run`), "
        "'quantized' (the integer model, `run --quantized`) or 'executor' (a compiled Mapping on the mapping "
        "executor, `run --map`); the default is 'executor' for a Mapping, else 'golden'. `model` is a Mapping, "
        "load_model's result or a path. A SpikeGPT model generates n tokens after its prompt (prompt: text, encoded "
        "with the model's tokenizer, default the CLI's, lowercased first with lowercase=True as --lowercase; or "
        "prompt_ids) and returns a Generation (tokens, text, "
        "logits, spikes with spikes=True, membranes with membranes=True, stats on the levels that count): the bits "
        "of `spiketile run ... --prompt ... -n N --logits-out L.npy --spikes-out S.npy --membranes-out M.npy --stats "
        "S.json`. A NIR graph runs over input [T, *input "
        "shape] and returns its output as float32 [T, *output shape] (`run --nir G [--quantized]`, `run --map X "
        "--input IN.npy`). Options of the model levels, as the CLI's flags: no_rescale, binary_embedding, threads; "
        "quantized: calibration, weight_bits, activation_bits, membrane_bits; a NIR graph: dt, reset, "
        "fire_at_threshold, and quantized: calibrate (default: the input), weight_bits, activation_bits, "
        "membrane_bits. progress(done, total) hears the tokens generated (a NIR mapping: the steps), at most ten "
        "times a second and at the end; Ctrl-C or an exception it raises stops the run and propagates.");

  m.def("evaluate", &evaluate_text, py::arg("model"), py::kw_only(), py::arg("text") = py::none(),
        py::arg("path") = py::none(), py::arg("level") = py::none(), py::arg("max_tokens") = 0,
        py::arg("lowercase") = false, py::arg("progress") = py::none(),
        "Scores a SpikeGPT model on a text as `spiketile eval` does, from the zero state, each token predicted from "
        "the ones before it: the dict `spiketile eval --text FILE --json J` writes (bits_per_token, which is bits "
        "per character for a character vocabulary, mean_nll_nats, per-layer firing rates, event counts on the "
        "levels that count). The text is given as text=str (its 'text' entry is then None) or path=FILE; "
        "max_tokens cuts it (0: all); lowercase=True lowercases it first (--lowercase). level and the model options as run()'s. progress(done, total) hears the "
        "tokens scored.");
}
