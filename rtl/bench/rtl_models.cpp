// The verilated models this build holds, from the table rtl/CMakeLists.txt generates: each model's
// parameters, its bench driver and its verilated backend (both instantiated in model_entry_<name>.cpp).
#include <stdexcept>

#include "rtl/bench/bench.hpp"
#include "rtl/loop/neuron_core_backend.hpp"

namespace spiketile::rtl {
#define SPIKETILE_RTL_MODEL(name, axons, neurons, lanes, w, a, acc, mem, mutant) \
  BenchStats run_##name(const RtlModel&, const BenchOptions&);            \
  std::unique_ptr<NeuronCoreBackend> make_verilated_##name(const RtlModel&);
#include "rtl_bench_models.inc"
#undef SPIKETILE_RTL_MODEL

namespace {
struct ModelEntry {
  RtlModel model;
  BenchStats (*run)(const RtlModel&, const BenchOptions&);
  std::unique_ptr<NeuronCoreBackend> (*make_verilated)(const RtlModel&);
};
const std::vector<ModelEntry>& entries() {
#define SPIKETILE_RTL_MODEL(name, axons, neurons, lanes, w, a, acc, mem, mutant)                                 \
  ModelEntry{RtlModel{#name, CoreGeometry{CoreShape{axons, neurons, w, a, acc, mem}, lanes}, mutant}, &run_##name, \
             &make_verilated_##name},
  static const std::vector<ModelEntry> all = {
#include "rtl_bench_models.inc"
  };
#undef SPIKETILE_RTL_MODEL
  return all;
}
const ModelEntry& entry(const std::string& name) {
  for (const auto& e : entries())
    if (e.model.name == name) return e;
  std::string known;
  for (const auto& e : entries()) known += (known.empty() ? "" : ", ") + e.model.name;
  throw std::invalid_argument("no verilated neuron_core model '" + name + "' in this build (models: " + known + ")");
}
}  // namespace

const std::vector<RtlModel>& rtl_models() {
  static const std::vector<RtlModel> all = [] {
    std::vector<RtlModel> v;
    for (const auto& e : entries()) v.push_back(e.model);
    return v;
  }();
  return all;
}

const RtlModel& find_rtl_model(const std::string& config, int mutant) {
  return entry(mutant ? config + "_m" + std::to_string(mutant) : config).model;
}

BenchStats run_rtl_bench(const RtlModel& model, const BenchOptions& opt) { return entry(model.name).run(model, opt); }

std::unique_ptr<NeuronCoreBackend> make_verilated_backend(const RtlModel& model) {
  return entry(model.name).make_verilated(model);
}

}  // namespace spiketile::rtl
