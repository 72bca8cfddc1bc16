#include "rtl/loop/neuron_core_backend.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace spiketile::rtl {

namespace {
void check_index(const char* what, int64_t i, int64_t limit, const std::string& model) {
  if (i < 0 || i >= limit)
    throw std::out_of_range(fmt::format("neuron core '{}': {} {} outside [0, {})", model, what, i, limit));
}
}  // namespace

NeuronCoreBackend::NeuronCoreBackend(std::string backend, std::string model, const CoreGeometry& geometry)
    : backend_(std::move(backend)), model_(std::move(model)), geometry_(geometry),
      weights_(std::size_t(geometry.shape.axons) * geometry.shape.neurons, 0) {
  if (geometry.lanes <= 0 || geometry.shape.neurons % geometry.lanes != 0)
    throw std::invalid_argument(fmt::format("neuron core '{}': {} neurons are not a multiple of {} lanes", model_,
                                            geometry.shape.neurons, geometry.lanes));
}

// ---- the port protocol: one place for both backends, so their cycle counts are comparable ------
uint64_t NeuronCoreBackend::cycle(const Drive& d, uint64_t& counter) {
  if (clock(d, scratch_) >= 0)
    throw std::runtime_error(fmt::format("neuron core '{}' ({}): an output beat with no tick in flight", model_, backend_));
  ++counter;
  return 1;
}

uint64_t NeuronCoreBackend::wait_until(bool idle, uint64_t& counter) {
  // A command occupies the issue stage for `groups` cycles and the pipeline for 4 more; a longer
  // wait means the core never frees up, which is a bug of the core, not a long command.
  const int limit = geometry_.groups() + 8;
  uint64_t waited = 0;
  while (!(idle ? core_idle() : cmd_ready())) {
    if (int(waited) == limit)
      throw std::runtime_error(fmt::format("neuron core '{}' ({}): not {} after {} cycles", model_, backend_,
                                           idle ? "idle" : "ready for a command", limit));
    waited += cycle(Drive{}, counter);
  }
  return waited;
}

uint64_t NeuronCoreBackend::write_word(int axon, int group, uint64_t& counter) {
  Drive d;
  d.kind = Drive::Kind::kWeightWord;
  d.axon = axon;
  d.group = group;
  d.word = &weights_[std::size_t(axon) * shape().neurons + std::size_t(group) * geometry_.lanes];
  return wait_until(true, counter) + cycle(d, counter);
}

uint64_t NeuronCoreBackend::set_weights(int axon, int first_neuron, const int32_t* w, int count) {
  const CoreShape& s = shape();
  check_index("axon", axon, s.axons, model_);
  if (count <= 0) return 0;
  check_index("neuron", first_neuron, s.neurons, model_);
  check_index("last neuron", int64_t(first_neuron) + count - 1, s.neurons, model_);
  const int32_t wmax = (1 << (s.weight_bits - 1)) - 1, wmin = -wmax - 1;
  for (int i = 0; i < count; ++i)
    if (w[i] < wmin || w[i] > wmax)
      throw std::out_of_range(fmt::format("neuron core '{}': weight {} at axon {}, neuron {} outside the {}-bit range [{}, {}]",
                                          model_, w[i], axon, first_neuron + i, s.weight_bits, wmin, wmax));
  std::copy(w, w + count, &weights_[std::size_t(axon) * s.neurons + first_neuron]);
  const uint64_t before = stats_.write_cycles;
  for (int g = first_neuron / geometry_.lanes; g <= (first_neuron + count - 1) / geometry_.lanes; ++g) {
    write_word(axon, g, stats_.write_cycles);
    ++stats_.writes;
  }
  return stats_.write_cycles - before;
}

uint64_t NeuronCoreBackend::load_weights(const int32_t* w, int rows, int neurons) {
  const CoreShape& s = shape();
  if (rows < 0 || rows > s.axons || neurons < 0 || neurons > s.neurons)
    throw std::out_of_range(fmt::format("neuron core '{}': a {} x {} weight tile does not fit the {} x {} crossbar",
                                        model_, rows, neurons, s.axons, s.neurons));
  std::vector<int32_t> row(s.neurons);
  uint64_t cycles = 0;
  for (int a = 0; a < s.axons; ++a) {
    std::fill(row.begin(), row.end(), 0);
    if (a < rows) std::copy(w + std::size_t(a) * neurons, w + std::size_t(a + 1) * neurons, row.begin());
    cycles += set_weights(a, 0, row.data(), s.neurons);
  }
  return cycles;
}

uint64_t NeuronCoreBackend::set_multiplier(int neuron, const q::Multiplier& m) {
  check_index("neuron", neuron, shape().neurons, model_);
  // The RTL takes any 8-bit signed shift; q::requantize (the contract) is exact down to -64.
  if (m.shift < -64 || m.shift > 127)
    throw std::out_of_range(fmt::format("neuron core '{}': multiplier shift {} of neuron {} outside [-64, 127]", model_,
                                        m.shift, neuron));
  Drive d;
  d.kind = Drive::Kind::kMultiplier;
  d.neuron = neuron;
  d.multiplier = m;
  return write(d);
}

uint64_t NeuronCoreBackend::write(const Drive& d) {
  const uint64_t before = stats_.write_cycles;
  wait_until(true, stats_.write_cycles);
  cycle(d, stats_.write_cycles);
  ++stats_.writes;
  return stats_.write_cycles - before;
}

uint64_t NeuronCoreBackend::load_multipliers(const std::vector<q::Multiplier>& m) {
  if (m.size() > std::size_t(shape().neurons))
    throw std::out_of_range(fmt::format("neuron core '{}': {} multipliers for {} neurons", model_, m.size(), shape().neurons));
  uint64_t cycles = 0;
  for (std::size_t n = 0; n < m.size(); ++n) cycles += set_multiplier(int(n), m[n]);
  return cycles;
}

uint64_t NeuronCoreBackend::set_neuron_params(int neuron, const q::NeuronParams& p) {
  check_index("neuron", neuron, shape().neurons, model_);
  const std::string error = p.validation_error(shape().membrane_bits);
  if (!error.empty()) throw std::out_of_range(fmt::format("neuron core '{}': neuron {}: {}", model_, neuron, error));
  Drive d;
  d.kind = Drive::Kind::kNeuronParams;
  d.neuron = neuron;
  d.params = p;
  return write(d);
}

uint64_t NeuronCoreBackend::load_neuron_params(const std::vector<q::NeuronParams>& p) {
  if (p.size() > std::size_t(shape().neurons))
    throw std::out_of_range(fmt::format("neuron core '{}': {} neuron parameter entries for {} neurons", model_, p.size(),
                                        shape().neurons));
  uint64_t cycles = 0;
  for (std::size_t n = 0; n < p.size(); ++n) cycles += set_neuron_params(int(n), p[n]);
  return cycles;
}

uint64_t NeuronCoreBackend::reset_neuron_params() {
  Drive d;
  d.kind = Drive::Kind::kParamReset;
  return write(d);
}

uint64_t NeuronCoreBackend::apply(const AxonEvent& e) {
  const CoreShape& s = shape();
  check_index("axon", e.axon, s.axons, model_);
  const int a = s.activation_bits;
  const auto check_value = [&](int64_t lo, int64_t hi, const char* what) {
    if (e.value < lo || e.value > hi)
      throw std::out_of_range(fmt::format("neuron core '{}': {} {} of an event at axon {} outside [{}, {}] ({}-bit payload)",
                                          model_, what, e.value, e.axon, lo, hi, a));
  };
  switch (e.kind) {
    case EventKind::kBinary: break;
    case EventKind::kGradedSigned: check_value(-(int64_t(1) << (a - 1)), (int64_t(1) << (a - 1)) - 1, "graded value"); break;
    case EventKind::kGradedUnsigned: check_value(0, (int64_t(1) << a) - 1, "graded value"); break;
    case EventKind::kBitSerial: check_value(0, a - 1, "bit position"); break;
  }
  Drive d;
  d.kind = Drive::Kind::kEvent;
  d.event = e;
  ++stats_.events;
  stats_.sops += uint64_t(s.neurons);
  return command(d, stats_.event_cycles);
}

uint64_t NeuronCoreBackend::command(const Drive& d, uint64_t& counter) {
  return wait_until(false, counter) + cycle(d, counter);
}

uint64_t NeuronCoreBackend::add_partial_sum(int neuron, int64_t value) {
  check_index("neuron", neuron, shape().neurons, model_);
  const int bits = shape().accumulator_bits;
  const int64_t amax = (int64_t(1) << (bits - 1)) - 1;
  if (value < -amax - 1 || value > amax)
    throw std::out_of_range(fmt::format("neuron core '{}': partial sum {} for neuron {} outside the {}-bit accumulator range [{}, {}]",
                                        model_, value, neuron, bits, -amax - 1, amax));
  Drive d;
  d.kind = Drive::Kind::kPartialSum;
  d.neuron = neuron;
  d.partial_sum = value;
  ++stats_.partial_sums;
  return command(d, stats_.partial_sum_cycles);
}

uint64_t NeuronCoreBackend::tick(TickResult& out) {
  const uint64_t c = run_tick(out, false);
  ++stats_.ticks;
  stats_.neuron_updates += uint64_t(shape().neurons);
  return c;
}

uint64_t NeuronCoreBackend::read_out(TickResult& out) {
  ++stats_.readouts;
  return run_tick(out, true);
}

uint64_t NeuronCoreBackend::run_tick(TickResult& out, bool readout) {
  const int neurons = shape().neurons, groups = geometry_.groups();
  out.spikes.assign(neurons, 0);
  out.membranes.assign(neurons, 0);
  if (readout) out.accumulators.assign(neurons, 0);
  else out.accumulators.clear();
  uint64_t& counter = readout ? stats_.readout_cycles : stats_.tick_cycles;
  const uint64_t before = counter;
  wait_until(false, counter);
  Drive d;
  d.kind = readout ? Drive::Kind::kReadout : Drive::Kind::kTick;
  if (clock(d, out) >= 0) throw std::runtime_error(fmt::format("neuron core '{}' ({}): output on the tick's issue edge", model_, backend_));
  ++counter;
  // Lane groups come out in order, the first 4 cycles after issue (rtl/README.md "Pipeline").
  const int limit = groups + 8;
  for (int expected = 0, waited = 0; expected < groups; ++waited) {
    if (waited == limit)
      throw std::runtime_error(fmt::format("neuron core '{}' ({}): tick output incomplete after {} cycles ({} of {} lane groups)",
                                           model_, backend_, limit, expected, groups));
    const int g = clock(Drive{}, out);
    ++counter;
    if (g < 0) continue;
    if (g != expected)
      throw std::runtime_error(fmt::format("neuron core '{}' ({}): tick output lane group {} where {} was due", model_,
                                           backend_, g, expected));
    ++expected;
  }
  out.spike_count = 0;
  for (uint8_t sp : out.spikes) out.spike_count += sp;
  out.cycles = counter - before;
  return out.cycles;
}

uint64_t NeuronCoreBackend::reset() {
  Drive d;
  d.kind = Drive::Kind::kReset;
  ++stats_.resets;
  return cycle(d, stats_.reset_cycles);
}

uint64_t NeuronCoreBackend::idle(uint64_t cycles) {
  uint64_t clocked = 0;
  for (; clocked < cycles && !core_idle(); ++clocked) cycle(Drive{}, stats_.idle_cycles);
  stats_.idle_cycles += cycles - clocked;
  stats_.idle_cycles_clocked += clocked;
  return cycles;
}

// ---- registry ------------------------------------------------------------------------------------
const std::vector<BackendInfo>& neuron_core_backends() {
  static const std::vector<BackendInfo> all = {
      {"reference",
       "CoreReference (models/numerics.hpp), timed by the RTL's cycle rule (rtl/bench/pipeline_model.hpp)",
       {{"model", "core geometry: a verilated model's parameters (default, small, narrow)", "default"}},
       [](const RtlModel& m) { return make_reference_backend(m.geometry, m.name); }},
      {"verilated",
       "the verilated --cc model of rtl/neuron_core.sv, clocked edge by edge (real cycles)",
       {{"model", "verilated configuration (default, small, narrow, small_m1..)", "default"},
        {"mutant", "injected bug K of rtl/README.md's mutation table (0 = the real design)", "0"}},
       [](const RtlModel& m) { return make_verilated_backend(m); }},
  };
  return all;
}

std::unique_ptr<NeuronCoreBackend> make_neuron_core_backend(const std::string& backend, const RtlModel& model) {
  std::string known;
  for (const auto& b : neuron_core_backends()) {
    if (b.name == backend) return b.make(model);
    known += (known.empty() ? "" : ", ") + b.name;
  }
  throw std::invalid_argument("no neuron core backend '" + backend + "' (backends: " + known + ")");
}

}  // namespace spiketile::rtl
