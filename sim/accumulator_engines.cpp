#include "sim/accumulator_engines.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace spiketile::sim {

namespace {

class RtlAccumulatorEngine final : public AccumulatorEngine {
 public:
  RtlAccumulatorEngine(const CrossbarTile& tile, std::unique_ptr<rtl::NeuronCoreBackend> core)
      : tile_(tile), core_(std::move(core)) {
    require_fit();
    // The crossbar's rows are its axons (the tile's input columns), its neurons the tile's rows.
    std::vector<int32_t> by_axon(std::size_t(tile_.cols) * std::size_t(tile_.rows));
    for (int r = 0; r < tile_.rows; ++r)
      for (int c = 0; c < tile_.cols; ++c)
        by_axon[std::size_t(c) * std::size_t(tile_.rows) + std::size_t(r)] =
            tile_.weights[std::size_t(r) * std::size_t(tile_.cols) + std::size_t(c)];
    core_->load_weights(by_axon.data(), tile_.cols, tile_.rows);
    if (tile_.lif || !tile_.neurons.empty()) core_->load_multipliers(tile_.lif_current);
    if (!tile_.neurons.empty()) core_->load_neuron_params(tile_.neurons);
  }

  std::string name() const override { return "rtl:" + core_->backend_name(); }

  void activation(int col, int32_t x) override {
    core_->apply(rtl::AxonEvent{col, tile_.unsigned_inputs ? rtl::EventKind::kGradedUnsigned : rtl::EventKind::kGradedSigned,
                                x, false});
  }
  void partial_sum(int row, int64_t value) override { core_->add_partial_sum(row, value); }

  void read_out(int64_t* acc) override {
    core_->read_out(result_);
    std::copy_n(result_.accumulators.begin(), tile_.rows, acc);
    updates_ += tile_.rows;
  }

  // The LIF of att.output is the general neuron in its default configuration on the core: one tick.
  void fire_lif(uint8_t* spikes, int32_t* membranes) override { fire_neurons(spikes, membranes); }

  void fire_neurons(uint8_t* spikes, int32_t* membranes) override {
    core_->tick(result_);
    std::copy_n(result_.spikes.begin(), tile_.rows, spikes);
    std::copy_n(result_.membranes.begin(), tile_.rows, membranes);
    updates_ += 2 * int64_t(tile_.rows);
  }

  void reset_state() override { core_->reset(); }

  bool timed() const override { return true; }
  uint64_t cycles() const override { return core_->cycles(); }
  void idle(uint64_t cycles) override { core_->idle(cycles); }
  int64_t neuron_updates() const override { return updates_; }

  const rtl::NeuronCoreBackend& core() const { return *core_; }

 private:
  // Everything the core cannot compute bit for bit is refused here, before a token runs.
  void require_fit() const {
    const rtl::CoreShape& s = core_->shape();
    const std::string who = fmt::format("unit {} ({}, {}×{} tile) on the RTL neuron core '{}' ({} axons × {} neurons, "
                                        "w{} a{} acc{} mem{})",
                                        tile_.unit->id, tile_.unit->name, tile_.rows, tile_.cols, core_->model_name(),
                                        s.axons, s.neurons, s.weight_bits, s.activation_bits, s.accumulator_bits,
                                        s.membrane_bits);
    auto refuse = [&](const std::string& why) { throw std::invalid_argument(who + ": " + why); };
    if (tile_.cols > s.axons)
      refuse(fmt::format("the tile has {} input columns, the core {} axons (compile for a chip whose crossbar has at "
                         "most {} axons)", tile_.cols, s.axons, s.axons));
    if (tile_.rows > s.neurons)
      refuse(fmt::format("the tile has {} rows, the core {} neurons (compile for a chip whose crossbar has at most {} "
                         "neurons)", tile_.rows, s.neurons, s.neurons));
    if (tile_.weight_bits > s.weight_bits)
      refuse(fmt::format("weights are {} bits, the core holds {}", tile_.weight_bits, s.weight_bits));
    if (tile_.activation_bits > s.activation_bits)
      refuse(fmt::format("graded inputs are {} bits, the core's payload {}", tile_.activation_bits, s.activation_bits));
    if ((tile_.lif || !tile_.neurons.empty()) && tile_.membrane_bits != s.membrane_bits)
      refuse(fmt::format("the {} runs on {}-bit membranes, the core's on {}", tile_.lif ? "LIF" : "neuron",
                         tile_.membrane_bits, s.membrane_bits));
  }

  CrossbarTile tile_;
  std::unique_ptr<rtl::NeuronCoreBackend> core_;
  rtl::TickResult result_;
  int64_t updates_ = 0;
};

std::string param_or_default(const AccumulatorEngineInfo& info, const EngineParams& params, const std::string& name) {
  const auto it = params.find(name);
  if (it != params.end()) return it->second;
  for (const auto& p : info.params)
    if (p.name == name) return p.default_value;
  throw std::logic_error("accumulator engine '" + info.name + "' has no parameter '" + name + "'");
}

}  // namespace

const std::vector<AccumulatorEngineInfo>& accumulator_engines() {
  static const std::vector<AccumulatorEngineInfo> all = [] {
    std::vector<AccumulatorEngineInfo> v;
    v.push_back({"cpp", "the tile's integer matrix-vector product (crossbar_matvec) and the contract's LIF rule", {},
                 [](const CrossbarTile& t, const EngineParams&) { return make_cpp_accumulator_engine(t); }});
    AccumulatorEngineInfo rtl{
        "rtl",
        "the RTL neuron core through rtl::NeuronCoreBackend: graded events, partial sums, LIF or readout ticks; "
        "the core's cycles time the datapath",
        {{"backend", "neuron core backend: verilated (rtl/neuron_core.sv) or reference (its C++ model)", "verilated"},
         {"model", "verilated model (rtl/CMakeLists.txt), sized like the chip's crossbar", "default"}},
        {}};
    rtl.make = [info = rtl](const CrossbarTile& t, const EngineParams& p) -> std::unique_ptr<AccumulatorEngine> {
      const rtl::RtlModel& model = rtl::find_rtl_model(param_or_default(info, p, "model"));
      return std::make_unique<RtlAccumulatorEngine>(
          t, rtl::make_neuron_core_backend(param_or_default(info, p, "backend"), model));
    };
    v.push_back(std::move(rtl));
    return v;
  }();
  return all;
}

AccumulatorEngineFactory accumulator_engine_factory(const std::string& name, const EngineParams& params) {
  std::string known;
  for (const auto& info : accumulator_engines()) {
    known += (known.empty() ? "" : ", ") + info.name;
    if (info.name != name) continue;
    for (const auto& [key, value] : params) {
      bool found = false;
      std::string names;
      for (const auto& p : info.params) {
        found = found || p.name == key;
        names += (names.empty() ? "" : ", ") + p.name;
      }
      if (!found)
        throw std::invalid_argument(fmt::format("accumulator engine '{}' has no parameter '{}' (parameters: {})", name,
                                                key, names.empty() ? "none" : names));
    }
    return [&info, params](const CrossbarTile& t) { return info.make(t, params); };
  }
  throw std::invalid_argument(fmt::format("no accumulator engine '{}' (engines: {})", name, known));
}

const rtl::NeuronCoreBackend* rtl_core_of(const AccumulatorEngine& engine) {
  const auto* rtl = dynamic_cast<const RtlAccumulatorEngine*>(&engine);
  return rtl ? &rtl->core() : nullptr;
}

}  // namespace spiketile::sim
