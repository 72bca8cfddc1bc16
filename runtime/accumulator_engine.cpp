#include "runtime/accumulator_engine.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "models/crossbar_kernel.hpp"
#include "models/op_rules.hpp"

namespace spiketile {

CrossbarTile crossbar_tile(const Mapping& m, const Unit& u) {
  const ParamArray& weights = u.param(param::kWeights);
  if (weights.type != ParamType::i8 || weights.count != u.rows() * u.cols())
    throw MappingError(fmt::format("unit {} ({}): {} weights for a {}×{} tile", u.id, u.name, weights.count, u.rows(),
                                   u.cols()));
  CrossbarTile t;
  t.unit = &u;
  t.weights = weights.data<int8_t>();
  t.rows = int(u.rows());
  t.cols = int(u.cols());
  t.unsigned_inputs = u.op == Op::FfnValue;
  t.lif = u.function == NeuronFunction::AttOutputLif;
  if (t.lif) t.lif_current = read_multipliers(u, param::kOut);
  if (u.function == NeuronFunction::NirNeuron) {
    t.lif_current = read_multipliers(u, param::kOut);
    t.neurons = read_neuron_params(u, m.quant.membrane_bits);
  }
  t.weight_bits = m.quant.weight_bits;
  t.activation_bits = m.quant.activation_bits;
  t.membrane_bits = m.quant.membrane_bits;
  return t;
}

namespace {

class CppAccumulatorEngine final : public AccumulatorEngine {
 public:
  explicit CppAccumulatorEngine(const CrossbarTile& t) : tile_(t) {
    row_sum_.assign(std::size_t(t.rows), 0);
    for (int r = 0; r < t.rows; ++r)
      for (int c = 0; c < t.cols; ++c) row_sum_[std::size_t(r)] += t.weights[std::size_t(r) * std::size_t(t.cols) + std::size_t(c)];
    x_.assign(std::size_t(t.cols), 0);
    partial_.assign(std::size_t(t.rows), 0);
    acc_.resize(std::size_t(t.rows));
    membrane_.assign(std::size_t(t.rows), 0);
    state_.assign(t.neurons.size(), q::NeuronState{});
  }

  std::string name() const override { return "cpp"; }

  void activation(int col, int32_t x) override { x_[std::size_t(col)] = x; }
  void partial_sum(int row, int64_t value) override { partial_[std::size_t(row)] += value; }

  void read_out(int64_t* acc) override {
    crossbar_matvec(tile_.weights, std::size_t(tile_.cols), tile_.rows, tile_.cols, row_sum_.data(), x_.data(), acc, false);
    for (std::size_t r = 0; r < partial_.size(); ++r) acc[r] += partial_[r];
    clear();
  }

  void fire_lif(uint8_t* spikes, int32_t* membranes) override {
    read_out(acc_.data());
    for (std::size_t r = 0; r < acc_.size(); ++r) {
      spikes[r] = q::lif_step_int(membrane_[r], rules::att_current(acc_[r], tile_.lif_current[r], tile_.membrane_bits),
                                  tile_.membrane_bits);
      membranes[r] = membrane_[r];
    }
  }

  void fire_neurons(uint8_t* spikes, int32_t* membranes) override {
    read_out(acc_.data());
    const int M = tile_.membrane_bits;
    for (std::size_t r = 0; r < acc_.size(); ++r) {
      const int32_t x = int32_t(q::requantize(acc_[r], tile_.lif_current[r], M));
      spikes[r] = q::neuron_step_int(tile_.neurons[r], state_[r], x, M);
      membranes[r] = state_[r].v;
    }
  }

  void reset_state() override {
    std::fill(membrane_.begin(), membrane_.end(), 0);
    state_.assign(tile_.neurons.size(), q::NeuronState{});
    clear();
  }

 private:
  void clear() {
    std::fill(x_.begin(), x_.end(), 0);
    std::fill(partial_.begin(), partial_.end(), 0);
  }

  CrossbarTile tile_;
  std::vector<int32_t> row_sum_, x_, membrane_;
  std::vector<int64_t> partial_, acc_;
  std::vector<q::NeuronState> state_;   // general neurons: membrane and synaptic current per row
};

}  // namespace

std::unique_ptr<AccumulatorEngine> make_cpp_accumulator_engine(const CrossbarTile& tile) {
  return std::make_unique<CppAccumulatorEngine>(tile);
}

}  // namespace spiketile
