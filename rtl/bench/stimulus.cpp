#include "rtl/bench/stimulus.hpp"

#include <algorithm>
#include <cmath>

namespace spiketile::rtl {

namespace {
enum Scenario : uint8_t {
  kThreshold, kMembraneExtremes, kRequantizerExtremes, kRoundingTies, kResetMidstream, kSameAxon,
  kEmptyTicks, kAccumulatorExtremes, kRandom, kTicksOnly, kInit, kPartialSums, kNeuronModels, kNeuronThresholds,
  kNeuronSaturation, kNeuronTable
};
constexpr int kNeuronFamilies = 7;   // Stimulus::random_neuron_params
// The reference, q::requantize, computes v·m·2^-s in __int128: exact for s >= -64 (|v·m| <= 2^62),
// overflowing below. make_multiplier never goes below 31 - 95; the RTL saturates any shift.
constexpr int kMinShift = -64;
uint64_t splitmix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

Rng::Rng(uint64_t seed) {
  for (auto& s : s_) s = splitmix(seed);
}
uint64_t Rng::next() {
  const auto rotl = [](uint64_t x, int k) { return (x << k) | (x >> (64 - k)); };
  const uint64_t result = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}
int64_t Rng::uniform(int64_t lo, int64_t hi) {
  const uint64_t span = uint64_t(hi - lo) + 1;
  return span == 0 ? int64_t(next()) : lo + int64_t(next() % span);
}

uint64_t encode_payload(const AxonEvent& e, int activation_bits) {
  const uint64_t mask = (uint64_t(1) << activation_bits) - 1;
  switch (e.kind) {
    case EventKind::kBinary: return 0;
    case EventKind::kGradedSigned:
    case EventKind::kGradedUnsigned: return uint64_t(int64_t(e.value)) & mask;
    case EventKind::kBitSerial: return (uint64_t(e.negative) << (activation_bits - 1)) | uint64_t(e.value);
  }
  return 0;
}

std::array<PortField, 9> neuron_param_fields(const q::NeuronParams& p, int membrane_bits) {
  const int m = membrane_bits, rate = q::kNeuronRateFrac + 1;
  const uint64_t mask = (uint64_t(1) << m) - 1;
  return {{{0, rate, uint64_t(p.dv)},
           {rate, rate, uint64_t(p.di)},
           {2 * rate, 1, uint64_t(p.current)},
           {2 * rate + 1, 1, uint64_t(p.leak)},
           {2 * rate + 2, 1, uint64_t(p.fire_ge)},
           {2 * rate + 3, 2, uint64_t(p.reset_mode)},
           {2 * rate + 5, m, uint64_t(int64_t(p.bias)) & mask},
           {2 * rate + 5 + m, m, uint64_t(int64_t(p.theta)) & mask},
           {2 * rate + 5 + 2 * m, m, uint64_t(int64_t(p.v_reset)) & mask}}};
}

std::string describe_neuron_params(const q::NeuronParams& p) {
  if (p == q::NeuronParams::spikegpt_lif()) return "";
  return " [dv=" + std::to_string(p.dv) + " di=" + std::to_string(p.di) + " current=" + std::to_string(p.current) +
         " leak=" + std::to_string(p.leak) + " bias=" + std::to_string(p.bias) + " theta=" + std::to_string(p.theta) +
         " v_reset=" + std::to_string(p.v_reset) + " reset_mode=" + std::to_string(int(p.reset_mode)) +
         " fire_ge=" + std::to_string(p.fire_ge) + "]";
}

q::Multiplier exact_multiplier(int64_t t) {
  if (t == 0) return {int32_t(1) << 30, 40};  // round(2^-10) = 0
  int k = 0;
  while ((t >> (k + 1)) != 0) ++k;            // floor(log2 t) <= 30
  return {int32_t(t << (30 - k)), 30 - k};
}

const std::vector<std::string>& Stimulus::scenario_names() {
  static const std::vector<std::string> names = {
      "threshold", "membrane_extremes", "requantizer_extremes", "rounding_ties", "reset_midstream",
      "same_axon", "empty_ticks", "accumulator_extremes", "random", "ticks_only", "init", "partial_sums",
      "neuron_models", "neuron_thresholds", "neuron_saturation", "neuron_table"};
  return names;
}

Stimulus::Stimulus(const CoreShape& shape, int lanes, uint64_t seed, Profile profile, bool directed,
                   uint64_t cycle_budget)
    : shape_(shape), lanes_(lanes), groups_(shape.neurons / lanes), rng_(seed), profile_(profile),
      cycle_budget_(cycle_budget), w_(std::size_t(shape.axons) * shape.neurons, 0) {
  if (directed && profile == Profile::kMixed)
    // The general neuron's scenarios early, so that short runs (the Icarus and gate-level replays)
    // drive the parameter table too; they leave it at SpikeGPT's LIF for the scenarios after them.
    directed_queue_ = {kThreshold, kNeuronModels, kNeuronThresholds, kNeuronSaturation, kNeuronTable,
                       kMembraneExtremes, kRequantizerExtremes, kRoundingTies, kResetMidstream, kSameAxon,
                       kEmptyTicks, kAccumulatorExtremes, kPartialSums};
}

// ---- emitters ------------------------------------------------------------------------------
Op& Stimulus::emit(Op::Type type) {
  Op op;
  op.type = type;
  op.scenario = scenario_;
  out_->push_back(std::move(op));
  return out_->back();
}
void Stimulus::event(const AxonEvent& e) { emit(Op::Type::kEvent).event = e; }
void Stimulus::tick() { emit(Op::Type::kTick); }
void Stimulus::readout() { emit(Op::Type::kReadout); }
void Stimulus::partial_sum(int neuron, int64_t value) {
  Op& op = emit(Op::Type::kPartialSum);
  op.neuron = neuron;
  op.partial_sum = value;
}
void Stimulus::reset() { emit(Op::Type::kReset); }
void Stimulus::gap(int cycles) {
  if (cycles > 0) emit(Op::Type::kGap).count = cycles;
}
void Stimulus::load_row_word(int axon, int group) {
  Op& op = emit(Op::Type::kWeights);
  op.axon = axon;
  op.group = group;
  op.weights.assign(w_.begin() + std::ptrdiff_t(axon) * shape_.neurons + group * lanes_,
                    w_.begin() + std::ptrdiff_t(axon) * shape_.neurons + (group + 1) * lanes_);
}
void Stimulus::load_weights() {
  for (int a = 0; a < shape_.axons; ++a)
    for (int g = 0; g < groups_; ++g) load_row_word(a, g);
  weights_loaded_ = true;
}
void Stimulus::load_multiplier(int neuron, const q::Multiplier& m) {
  Op& op = emit(Op::Type::kMultiplier);
  op.neuron = neuron;
  op.multiplier = m;
}

void Stimulus::load_neuron_params(int neuron, const q::NeuronParams& p) {
  Op& op = emit(Op::Type::kNeuronParams);
  op.neuron = neuron;
  op.params = p;
}
void Stimulus::reset_neuron_params() { emit(Op::Type::kParamReset); }

void Stimulus::tick_with_currents(const std::vector<int64_t>& x) {
  const int64_t cap = int64_t(1) << 30;
  for (int n = 0; n < shape_.neurons; ++n) {
    w_[n] = x[n] > 0 ? 1 : x[n] < 0 ? -1 : 0;
    load_multiplier(n, exact_multiplier(std::min(std::abs(x[n]), cap)));
  }
  for (int g = 0; g < groups_; ++g) load_row_word(0, g);
  event({0, EventKind::kBinary, 0, false});
  tick();
}

// ---- random pieces ---------------------------------------------------------------------------
int32_t Stimulus::random_weight(int mode) {
  const int32_t wmax = (1 << (shape_.weight_bits - 1)) - 1, wmin = -wmax - 1;
  switch (mode) {
    case 1: return rng_.chance(0.8) ? 0 : int32_t(rng_.uniform(wmin, wmax));        // sparse
    case 2: return rng_.pick(std::vector<int32_t>{wmin, wmax, wmin + 1, 0, 1, -1});  // extremes
    case 3: return int32_t(rng_.uniform(-3, 3));                                     // small
    case 4: return int32_t(rng_.uniform(0, wmax));                                   // excitatory
    case 5: return int32_t(rng_.uniform(wmin, 0));                                   // inhibitory
    default: return int32_t(rng_.uniform(wmin, wmax));
  }
}

AxonEvent Stimulus::random_event(int kind_mode, int value_mode, int axon) {
  const int a = shape_.activation_bits;
  const int32_t smax = (1 << (a - 1)) - 1, smin = -smax - 1, umax = (1 << a) - 1;
  AxonEvent e;
  e.axon = axon;
  e.kind = kind_mode < 4 ? EventKind(kind_mode) : EventKind(rng_.uniform(0, 3));
  switch (e.kind) {
    case EventKind::kBinary: break;
    case EventKind::kGradedSigned:
      e.value = value_mode == 1 ? rng_.pick(std::vector<int32_t>{smin, smax, -1, 1})
                : value_mode == 2 ? int32_t(rng_.uniform(-4, 4)) : int32_t(rng_.uniform(smin, smax));
      break;
    case EventKind::kGradedUnsigned:
      e.value = value_mode == 1 ? rng_.pick(std::vector<int32_t>{umax, 1, umax - 1})
                : value_mode == 2 ? int32_t(rng_.uniform(0, 4)) : int32_t(rng_.uniform(0, umax));
      break;
    case EventKind::kBitSerial:
      e.value = value_mode == 1 ? rng_.pick(std::vector<int32_t>{0, a - 1}) : int32_t(rng_.uniform(0, a - 1));
      e.negative = rng_.chance(0.5);
      break;
  }
  return e;
}

int64_t Stimulus::random_partial_sum() {
  const int64_t amax = (int64_t(1) << (shape_.accumulator_bits - 1)) - 1;
  switch (rng_.uniform(0, 3)) {
    case 0: return rng_.uniform(-amax - 1, amax);                           // any
    case 1: return rng_.pick(std::vector<int64_t>{-amax - 1, amax, -1, 1, 0, amax / 2 + 1});
    default: return rng_.uniform(-(int64_t(1) << 12), int64_t(1) << 12);  // a partial crossbar sum
  }
}

q::Multiplier Stimulus::random_multiplier(double typical_acc) {
  // SHIFT_W = 8 holds [-128, 127]; q::requantize multiplies by 2^-s in __int128, exact only for s >= -64.
  const int smax_shift = 127, smin_shift = kMinShift;
  if (rng_.chance(0.02)) return {0, int(rng_.uniform(smin_shift, smax_shift))};
  if (rng_.chance(0.02))  // any int32 mantissa: the RTL is exact for all of them, not only [2^30, 2^31)
    return {int32_t(uint32_t(rng_.next())), int(rng_.uniform(smin_shift, smax_shift))};
  int32_t m = rng_.chance(0.25) ? int32_t((1 << 30) | (rng_.uniform(0, 1023) << 20))  // many ties
                                : int32_t(rng_.uniform(int64_t(1) << 30, (int64_t(1) << 31) - 1));
  // Aim |current| near the threshold's scale (2^8.6) so that neurons both fire and do not.
  int s = int(std::lround(30.6 + std::log2(std::max(typical_acc, 1.0)) - 8.6)) + int(rng_.uniform(-3, 3));
  if (rng_.chance(0.03)) s = int(rng_.uniform(smin_shift, smax_shift));
  return {m, std::clamp(s, smin_shift, smax_shift)};
}

int32_t Stimulus::random_rate() {
  const int32_t one = 1 << q::kNeuronRateFrac;
  if (rng_.chance(0.2)) return rng_.pick(std::vector<int32_t>{0, 1, one / 2, one - 1, one});
  return int32_t(rng_.uniform(0, one));
}

q::NeuronParams Stimulus::random_neuron_params(int family) {
  const int64_t vmax = (int64_t(1) << (shape_.membrane_bits - 1)) - 1, vmin = -vmax - 1;
  const auto potential = [&](int64_t lo, int64_t hi) {   // mostly near the threshold's scale, 10% anywhere
    return int32_t(rng_.chance(0.1) ? rng_.uniform(vmin, vmax) : std::clamp(rng_.uniform(lo, hi), vmin, vmax));
  };
  if (family < 0) family = int(rng_.uniform(0, kNeuronFamilies - 1));
  q::NeuronParams p;   // family 0: SpikeGPT's LIF
  if (family == 0) return p;
  const bool integrator = family == 2 || family == 4, spiking = family == 1 || family == 2 || family == 5;
  p.current = family >= 5;
  p.leak = !integrator;
  p.dv = integrator && rng_.chance(0.7) ? 1 << q::kNeuronRateFrac : random_rate();
  p.di = random_rate();
  p.bias = integrator && rng_.chance(0.7) ? 0 : potential(-300, 300);
  p.theta = potential(-100, 1000);
  p.v_reset = potential(-300, 300);
  p.reset_mode = !spiking ? q::ResetMode::kNone : rng_.chance(0.5) ? q::ResetMode::kToValue : q::ResetMode::kSubtract;
  p.fire_ge = rng_.chance(0.5);
  return p;
}

// ---- scenarios -------------------------------------------------------------------------------
void Stimulus::next_segment(std::deque<Op>& out) {
  out_ = &out;
  if (!weights_loaded_ || !multipliers_loaded_) {  // RTL memories power up unknown: define them
    scenario_ = kInit;
    for (auto& w : w_) w = random_weight(0);
    load_weights();
    for (int n = 0; n < shape_.neurons; ++n) load_multiplier(n, random_multiplier(1000));
    multipliers_loaded_ = true;
    reset();
    return;
  }
  if (profile_ == Profile::kTicks) {
    scenario_ = kTicksOnly;
    ticks_only();
    return;
  }
  while (!directed_queue_.empty()) {
    const int s = directed_queue_.front();
    directed_queue_.erase(directed_queue_.begin());
    scenario_ = uint8_t(s);
    switch (s) {
      case kThreshold: threshold(); return;
      case kMembraneExtremes: membrane_extremes(); return;
      case kRequantizerExtremes: requantizer_extremes(); return;
      case kRoundingTies: rounding_ties(); return;
      case kResetMidstream: reset_midstream(); return;
      case kSameAxon: same_axon(); return;
      case kEmptyTicks: empty_ticks(); return;
      case kPartialSums: partial_sums(); return;
      case kNeuronModels: neuron_models(); return;
      case kNeuronThresholds: neuron_thresholds(); return;
      case kNeuronSaturation: neuron_saturation(); return;
      case kNeuronTable: neuron_table(); return;
      case kAccumulatorExtremes: {
        // ~2^(ACC-1) / (|w| x) events of `groups_` cycles each: only when the run is long enough
        const double events = 2.75 * std::ldexp(1.0, shape_.accumulator_bits - 1) /
                              (((1 << (shape_.weight_bits - 1)) - 1) * ((1 << shape_.activation_bits) - 1));
        if (events * groups_ * 2 > double(cycle_budget_)) {
          skipped_.push_back(scenario_names()[s]);
          continue;
        }
        accumulator_extremes();
        return;
      }
    }
  }
  scenario_ = kRandom;
  if (rng_.chance(0.2)) random_neuron_table();
  if (rng_.chance(0.15)) random_currents();
  else random_segment();
}

void Stimulus::threshold() {
  // From v = 0, x = 2·v0 gives v0; then x = v0 + 2·(256 − v0) + d gives 256 + floor(d/2):
  // exactly at the threshold for d in {0, 1}, one below for d in {−2, −1}.
  for (int round = 0; round < 8; ++round) {
    reset();
    std::vector<int64_t> v0(shape_.neurons), x(shape_.neurons);
    for (int n = 0; n < shape_.neurons; ++n) {
      v0[n] = round == 0 ? 0 : round == 1 ? 255 : round == 2 ? -1 : rng_.uniform(-3000, 255);
      x[n] = 2 * v0[n];
    }
    tick_with_currents(x);
    for (int n = 0; n < shape_.neurons; ++n) x[n] = v0[n] + 2 * (256 - v0[n]) + rng_.uniform(-3, 2);
    tick_with_currents(x);
    // and one more step from wherever that left each neuron (0 after a spike, 255 otherwise)
    for (int n = 0; n < shape_.neurons; ++n) x[n] = rng_.pick(std::vector<int64_t>{256, 257, 258, 510, 511, 512, 513});
    tick_with_currents(x);
  }
}

void Stimulus::membrane_extremes() {
  const int64_t vmax = (int64_t(1) << (shape_.membrane_bits - 1)) - 1, vmin = -vmax - 1;
  reset();
  std::vector<int64_t> x(shape_.neurons, vmin);
  for (int t = 0; t < shape_.membrane_bits + 4; ++t) tick_with_currents(x);  // v converges to exactly vmin
  std::fill(x.begin(), x.end(), vmax);
  tick_with_currents(x);  // the largest rise: vmin -> -1
  tick_with_currents(x);
  const std::vector<int64_t> picks = {vmin, vmax, vmin + 1, vmax - 1, 0, int64_t(1) << 20, -(int64_t(1) << 20)};
  for (int t = 0; t < 40; ++t) {
    for (auto& xi : x) xi = rng_.pick(picks);
    tick_with_currents(x);
  }
}

void Stimulus::requantizer_extremes() {
  reset();
  for (auto& w : w_) w = random_weight(rng_.chance(0.5) ? 2 : 0);
  load_weights();
  const std::vector<int64_t> mantissas = {0, 1, -1, int64_t(1) << 30, (int64_t(1) << 31) - 1, -(int64_t(1) << 31),
                                          (int64_t(1) << 30) + 1, 3 << 29};
  const int acc = shape_.accumulator_bits, mem = shape_.membrane_bits;
  const std::vector<int> shifts = {kMinShift, -mem - 1, -mem, -mem + 1, -1, 0, 1, 2, mem - 1, mem, 30, 31,
                                   30 + acc - mem, 31 + acc - mem, 32 + acc - mem, acc + 30, acc + 31,
                                   acc + 32, acc + 33, acc + 34, 93, 126, 127};
  for (int round = 0; round < 16; ++round) {
    for (int n = 0; n < shape_.neurons; ++n) {
      q::Multiplier m{int32_t(rng_.chance(0.7) ? rng_.pick(mantissas) : int64_t(int32_t(uint32_t(rng_.next())))),
                      rng_.chance(0.8) ? rng_.pick(shifts) : int(rng_.uniform(kMinShift, 127))};
      load_multiplier(n, m);
    }
    const int events = int(rng_.uniform(0, 3 * shape_.axons));
    for (int e = 0; e < events; ++e) event(random_event(4, 1, int(rng_.uniform(0, shape_.axons - 1))));
    tick();
  }
}

void Stimulus::rounding_ties() {
  reset();
  for (auto& w : w_) w = random_weight(rng_.chance(0.5) ? 3 : 0);
  load_weights();
  for (int round = 0; round < 12; ++round) {
    // m with many trailing zeros and small s - 30 make acc·m / 2^s an exact half often, both signs.
    for (int n = 0; n < shape_.neurons; ++n) {
      const int32_t m = int32_t((1 << 30) | (rng_.uniform(0, 7) << 27));
      load_multiplier(n, {m, int(rng_.uniform(31, 36))});
    }
    for (int t = 0; t < 4; ++t) {
      const int events = int(rng_.uniform(1, 6));
      for (int e = 0; e < events; ++e)
        event(random_event(int(rng_.uniform(0, 4)), 2 * int(rng_.uniform(0, 1)), int(rng_.uniform(0, shape_.axons - 1))));
      tick();
    }
  }
}

void Stimulus::reset_midstream() {
  for (auto& w : w_) w = random_weight(0);
  load_weights();
  const double typ = 127.0 * 127.0 * 2;
  for (int n = 0; n < shape_.neurons; ++n) load_multiplier(n, random_multiplier(typ));
  // A reset k cycles after a tick was accepted lands in every stage of that tick's pipeline.
  for (int k = 0; k <= groups_ + 6; ++k) {
    for (int t = 0; t < 3; ++t) {
      for (int e = 0; e < 4; ++e) event(random_event(4, 0, int(rng_.uniform(0, shape_.axons - 1))));
      tick();
    }
    for (int e = 0; e < 3; ++e) event(random_event(4, 0, int(rng_.uniform(0, shape_.axons - 1))));
    tick();
    gap(k);
    reset();
    // and in the middle of a token's events, k cycles into an event
    for (int e = 0; e < 5; ++e) event(random_event(4, 0, int(rng_.uniform(0, shape_.axons - 1))));
    gap(k % (groups_ + 1));
    reset();
    if (k % 3 == 0) reset();  // back to back
    tick();                   // from a clean state
  }
}

void Stimulus::same_axon() {
  for (auto& w : w_) w = random_weight(0);
  load_weights();
  for (int t = 0; t < 8; ++t) {
    const int n_events = int(rng_.uniform(2, 3 * shape_.axons));
    const int kind = int(rng_.uniform(0, 4));
    const double typ = 64.0 * (kind == 0 ? 1 : 100) * n_events;
    if (t % 2 == 0)
      for (int n = 0; n < shape_.neurons; ++n) load_multiplier(n, random_multiplier(typ));
    const int axon = int(rng_.uniform(0, shape_.axons - 1));
    for (int e = 0; e < n_events; ++e) event(random_event(kind, int(rng_.uniform(0, 2)), axon));
    tick();
  }
}

void Stimulus::empty_ticks() {
  reset();
  std::vector<int64_t> x(shape_.neurons);
  for (int round = 0; round < 4; ++round) {
    for (auto& xi : x) xi = rng_.uniform(-(int64_t(1) << (shape_.membrane_bits - 1)), 510);
    tick_with_currents(x);
    for (int t = 0; t < 24; ++t) {  // no events: acc = 0, x = 0, the membrane only leaks
      tick();
      if (round % 2) gap(int(rng_.uniform(0, 3)));
    }
  }
}

void Stimulus::accumulator_extremes() {
  reset();
  const int32_t wmax = (1 << (shape_.weight_bits - 1)) - 1, wmin = -wmax - 1;
  const int32_t umax = (1 << shape_.activation_bits) - 1, smin = -(1 << (shape_.activation_bits - 1));
  for (int n = 0; n < shape_.neurons; ++n) {
    w_[n] = n % 2 ? wmax : wmin;  // row 0 drives half the neurons up, half down
    w_[std::size_t(shape_.neurons) + n] = n % 3 ? wmin : wmax;
  }
  for (int g = 0; g < groups_; ++g) {
    load_row_word(0, g);
    load_row_word(1, g);
  }
  // Read the accumulator back through a multiplier that keeps ±2^(ACC-1) inside the membrane
  // range, so a wrapped accumulator shows as a different current.
  const int s = 30 + shape_.accumulator_bits - shape_.membrane_bits + 1;
  for (int n = 0; n < shape_.neurons; ++n) load_multiplier(n, {int32_t(1) << 30, s});
  const int64_t n_events = (int64_t(1) << (shape_.accumulator_bits - 1)) / (int64_t(wmax) * umax) + 64;
  for (int64_t e = 0; e < n_events; ++e) event({0, EventKind::kGradedUnsigned, umax, false});
  tick();
  // Saturate, then come back from the rail: the result depends on the clamp having happened.
  for (int64_t e = 0; e < n_events; ++e) event({0, EventKind::kGradedUnsigned, umax, false});
  for (int64_t e = 0; e < n_events / 2; ++e) event({1, EventKind::kGradedSigned, smin, false});
  for (int64_t e = 0; e < n_events / 4; ++e)
    event({0, EventKind::kBitSerial, shape_.activation_bits - 1, true});
  tick();
  tick();
}

void Stimulus::partial_sums() {
  // Partial sums (one-beat commands at their neuron's group) between events and ticks, read back
  // raw by readout ticks and through the LIF by normal ticks; rails from both sides; a readout
  // clears what the next token would otherwise see; resets between the two.
  const int64_t amax = (int64_t(1) << (shape_.accumulator_bits - 1)) - 1;
  reset();
  for (auto& w : w_) w = random_weight(0);
  load_weights();
  for (int n = 0; n < shape_.neurons; ++n) load_multiplier(n, random_multiplier(1000));
  for (int n = 0; n < shape_.neurons; ++n) {   // to the rail and past it, each way
    partial_sum(n, n % 2 ? amax : -amax - 1);
    partial_sum(n, n % 2 ? 1000 : -5);
  }
  readout();
  for (int n = shape_.neurons - 1; n >= 0; --n) partial_sum(n, -1 - n);   // negative, reverse order
  readout();
  readout();                                                               // back to back: all 0
  for (int round = 0; round < 24; ++round) {
    const int items = int(rng_.uniform(0, 2 * shape_.neurons));
    for (int i = 0; i < items; ++i) {
      if (rng_.chance(0.5)) partial_sum(int(rng_.uniform(0, shape_.neurons - 1)), random_partial_sum());
      else event(random_event(4, 0, int(rng_.uniform(0, shape_.axons - 1))));
    }
    if (round % 6 == 5) reset();
    if (rng_.chance(0.5)) readout();
    else tick();
    if (rng_.chance(0.3)) gap(int(rng_.uniform(0, groups_ + 5)));
  }
}

void Stimulus::neuron_models() {
  // Every family side by side, one per neuron, from rest: a positive step, silence, a negative
  // step, then currents anywhere, so leak, integration, the current stage's delay and each reset
  // show in the membranes.
  const int64_t vmax = (int64_t(1) << (shape_.membrane_bits - 1)) - 1;
  std::vector<int64_t> x(shape_.neurons);
  for (int round = 0; round < 2 * kNeuronFamilies; ++round) {
    reset();
    for (int n = 0; n < shape_.neurons; ++n) load_neuron_params(n, random_neuron_params((n + round) % kNeuronFamilies));
    const int64_t step = rng_.pick(std::vector<int64_t>{100, 300, 600, 2000, vmax});
    const auto ticks = [&](int count, int64_t value) {
      std::fill(x.begin(), x.end(), value);
      for (int t = 0; t < count; ++t) tick_with_currents(x);
    };
    ticks(6, step);
    ticks(3, 0);
    ticks(4, -step);
    for (int t = 0; t < 4; ++t) {
      for (auto& xi : x) xi = rng_.uniform(-vmax - 1, vmax);
      tick_with_currents(x);
    }
  }
}

void Stimulus::neuron_thresholds() {
  // Membranes landing exactly on theta - 2 ... theta + 1 under both comparisons and every reset
  // mode, with thresholds across the whole range: with the leak on and dv = 1.0 the step is
  // v = bias + x_src exactly (x_src: this input, or with a current stage of di = 1.0 the previous
  // one, so each input is held for two ticks). The last rounds put theta near the bottom rail
  // and the membrane at the top, so a subtract reset's v - theta overflows and saturates.
  const int64_t vmax = (int64_t(1) << (shape_.membrane_bits - 1)) - 1, vmin = -vmax - 1;
  std::vector<q::NeuronParams> params(shape_.neurons);
  std::vector<int64_t> x(shape_.neurons);
  for (int round = 0; round < 8; ++round) {
    const bool overflow = round >= 6;
    reset();
    for (int n = 0; n < shape_.neurons; ++n) {
      q::NeuronParams& p = params[n];
      p = q::NeuronParams{};
      p.dv = 1 << q::kNeuronRateFrac;
      p.di = 1 << q::kNeuronRateFrac;
      p.current = rng_.chance(0.3);
      p.fire_ge = (n + round) % 2 == 0;
      p.bias = int32_t(rng_.uniform(-300, 300));
      p.theta = int32_t(overflow ? rng_.uniform(vmin, vmin + 64)
                        : round < 3 ? rng_.uniform(-600, 600) : rng_.uniform(vmin + 302, vmax - 301));
      p.v_reset = int32_t(rng_.uniform(-300, 300));
      p.reset_mode = overflow ? q::ResetMode::kSubtract : q::ResetMode(rng_.uniform(0, 2));
      load_neuron_params(n, p);
    }
    for (int t = 0; t < 6; ++t) {
      for (int n = 0; n < shape_.neurons; ++n)
        x[n] = overflow ? vmax : int64_t(params[n].theta) - params[n].bias + rng_.uniform(-2, 1);
      tick_with_currents(x);
      tick_with_currents(x);
    }
  }
}

void Stimulus::neuron_saturation() {
  // Membranes and currents driven to both rails and held there: integrators fed rail currents,
  // leaks toward a bias at a rail, current stages at the rails, and dv, di of 0 and 1.0 side by side.
  const int64_t vmax = (int64_t(1) << (shape_.membrane_bits - 1)) - 1, vmin = -vmax - 1;
  const int32_t one = 1 << q::kNeuronRateFrac;
  std::vector<int64_t> x(shape_.neurons);
  for (int round = 0; round < 4; ++round) {
    reset();
    for (int n = 0; n < shape_.neurons; ++n) {
      q::NeuronParams p = random_neuron_params(n % 2 ? 4 : 6);   // I or CubaLI: no spikes
      switch ((n / 2 + round) % 4) {
        case 0: p.leak = false; p.dv = one; p.di = one; break;        // pure integrator of the rails
        case 1: p.leak = true; p.dv = one; p.bias = int32_t(n % 4 < 2 ? vmax : vmin); break;
        case 2: p.dv = 0; p.di = rng_.chance(0.5) ? 0 : one; break;   // nothing moves the membrane
        default: p.di = 0; p.dv = random_rate(); break;                // the current never moves
      }
      if (round == 3) {   // the same with spikes: thresholds at the rails, every reset mode
        p.reset_mode = q::ResetMode(rng_.uniform(0, 1));
        p.theta = int32_t(rng_.pick(std::vector<int64_t>{vmax, vmax - 1, vmin, 0}));
        p.v_reset = int32_t(rng_.pick(std::vector<int64_t>{vmax, vmin, 0}));
      }
      load_neuron_params(n, p);
    }
    const std::vector<int64_t> rails = {vmax, vmax, vmax, vmin, vmin, vmin, vmin, vmax, vmax};
    for (int64_t rail : rails) {
      std::fill(x.begin(), x.end(), rail);
      tick_with_currents(x);
    }
    for (int t = 0; t < 3; ++t) {
      for (auto& xi : x) xi = rng_.pick(std::vector<int64_t>{vmin, vmax, 0, 1, -1});
      tick_with_currents(x);
    }
  }
}

void Stimulus::neuron_table() {
  // The table's mechanics: entries rewritten one at a time between ticks (the state carries
  // over), a readout between ticks (the state stays), rst_n keeps the table, par_rst_n puts
  // SpikeGPT's LIF back, also right after writes. It ends at SpikeGPT's LIF for what follows.
  std::vector<int64_t> x(shape_.neurons);
  const auto random_ticks = [&](int count) {
    for (int t = 0; t < count; ++t) {
      for (auto& xi : x) xi = rng_.uniform(-600, 600);
      tick_with_currents(x);
    }
  };
  reset();
  for (int n = 0; n < shape_.neurons; ++n) load_neuron_params(n, random_neuron_params());
  random_ticks(3);
  for (int k = 0; k < shape_.neurons; ++k) {
    load_neuron_params(int(rng_.uniform(0, shape_.neurons - 1)), random_neuron_params());
    random_ticks(1);
  }
  readout();
  random_ticks(1);
  reset();   // the state only: the table stays
  random_ticks(2);
  reset_neuron_params();
  random_ticks(3);
  for (int n = 0; n < shape_.neurons; n += 2) load_neuron_params(n, random_neuron_params());
  random_ticks(1);
  for (int n = 1; n < shape_.neurons; n += 2) load_neuron_params(n, random_neuron_params());
  reset_neuron_params();
  random_ticks(2);
}

void Stimulus::random_neuron_table() {
  // A fresh random table (mixed families), a few entries rewritten, or SpikeGPT's LIF back.
  const int kind = int(rng_.uniform(0, 9));
  if (kind == 0) {
    reset_neuron_params();
    return;
  }
  const bool all = kind < 7;
  for (int n = 0; n < shape_.neurons; ++n)
    if (all || rng_.chance(0.2)) load_neuron_params(n, random_neuron_params());
}

void Stimulus::random_segment() {
  // weights
  const int wmode = int(rng_.uniform(0, 5));
  if (rng_.chance(0.3)) {
    for (auto& w : w_) w = random_weight(wmode);
    load_weights();
  } else if (rng_.chance(0.4)) {
    const int words = int(rng_.uniform(1, 8));
    for (int i = 0; i < words; ++i) {
      const int a = int(rng_.uniform(0, shape_.axons - 1)), g = int(rng_.uniform(0, groups_ - 1));
      for (int l = 0; l < lanes_; ++l) w_[std::size_t(a) * shape_.neurons + g * lanes_ + l] = random_weight(wmode);
      load_row_word(a, g);
    }
  }
  // event statistics of this segment
  const int kind_mode = int(rng_.uniform(0, 4));
  const int value_mode = rng_.chance(0.6) ? 0 : int(rng_.uniform(1, 2));
  const int density = int(rng_.uniform(0, 99));
  const auto n_events = [&]() -> int {
    if (density < 10) return 0;
    if (density < 35) return int(rng_.uniform(1, 4));
    if (density < 70) return int(rng_.uniform(1, std::max(1, shape_.axons / 4)));
    if (density < 95) return int(rng_.uniform(shape_.axons / 2, shape_.axons));
    return int(rng_.uniform(shape_.axons, 3 * shape_.axons));  // more than one event per axon
  };
  const int axon_mode = int(rng_.uniform(0, 9));  // 0..6 uniform, 7 one axon, 8..9 a few axons
  std::vector<int> hot = {int(rng_.uniform(0, shape_.axons - 1)), int(rng_.uniform(0, shape_.axons - 1)),
                          int(rng_.uniform(0, shape_.axons - 1))};
  // multipliers
  const double mean_events = density < 10 ? 0 : density < 35 ? 2.5 : density < 70 ? shape_.axons / 8.0
                             : density < 95 ? 0.75 * shape_.axons : 2.0 * shape_.axons;
  const double w_abs = (1 << (shape_.weight_bits - 1)) * (wmode == 1 ? 0.1 : wmode == 3 ? 0.02 : 0.5);
  const double x_abs = kind_mode == 0 ? 1.0 : value_mode == 2 ? 2.0 : (1 << (shape_.activation_bits - 1)) * 0.7;
  const double typ = w_abs * x_abs * (wmode >= 4 ? mean_events : std::sqrt(mean_events)) + 1;
  if (rng_.chance(0.5)) {
    const bool all = rng_.chance(0.7);
    for (int n = 0; n < shape_.neurons; ++n)
      if (all || rng_.chance(0.2)) load_multiplier(n, random_multiplier(typ));
  }
  // tokens
  const int tokens = int(rng_.uniform(1, 16));
  for (int t = 0; t < tokens; ++t) {
    const int n = n_events();
    const int reset_at = rng_.chance(0.015) ? int(rng_.uniform(0, n)) : -1;
    const int axon = int(rng_.uniform(0, shape_.axons - 1));
    for (int e = 0; e < n; ++e) {
      if (e == reset_at) reset();
      const int a = axon_mode < 7 ? int(rng_.uniform(0, shape_.axons - 1)) : axon_mode == 7 ? axon : rng_.pick(hot);
      event(random_event(kind_mode, value_mode, a));
      if (rng_.chance(0.03)) gap(int(rng_.uniform(1, 5)));
      if (rng_.chance(0.01)) partial_sum(int(rng_.uniform(0, shape_.neurons - 1)), random_partial_sum());
    }
    if (rng_.chance(0.05)) readout();
    else tick();
    if (rng_.chance(0.1)) gap(int(rng_.uniform(1, groups_ + 6)));
    if (rng_.chance(0.01)) reset();
  }
}

void Stimulus::random_currents() {
  // LIF-heavy: each tick updates every neuron with a current drawn around the threshold, over
  // the whole membrane range, or at the requantizer's rails.
  const int64_t vmax = (int64_t(1) << (shape_.membrane_bits - 1)) - 1;
  std::vector<int64_t> x(shape_.neurons);
  const int ticks = int(rng_.uniform(2, 12));
  for (int t = 0; t < ticks; ++t) {
    const int mode = int(rng_.uniform(0, 3));
    for (auto& xi : x)
      xi = mode == 0 ? rng_.uniform(-600, 600)
           : mode == 1 ? rng_.uniform(-vmax - 1, vmax)
           : mode == 2 ? rng_.uniform(250, 520)
                       : rng_.pick(std::vector<int64_t>{-vmax - 1, vmax, 0, 511, 512, int64_t(1) << 24});
    tick_with_currents(x);
  }
}

void Stimulus::ticks_only() {
  for (int e = 0; e < shape_.axons; ++e) event(random_event(4, 0, e));
  for (int t = 0; t < 1000; ++t) tick();
}

}  // namespace spiketile::rtl
