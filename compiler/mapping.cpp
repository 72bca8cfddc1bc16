#include "compiler/mapping.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>

#include "models/nir/nir_input.hpp"

namespace spiketile {

const char* unit_kind_name(UnitKind k) {
  switch (k) {
    case UnitKind::Residual: return "residual";
    case UnitKind::Crossbar: return "crossbar";
    case UnitKind::NirCrossbar: return "nir-crossbar";
  }
  return "?";
}

const char* neuron_function_name(NeuronFunction f) {
  switch (f) {
    case NeuronFunction::PartialSum: return "partial-sum";
    case NeuronFunction::Receptance: return "receptance(sigmoid)";
    case NeuronFunction::AttKey: return "key";
    case NeuronFunction::AttValueWkvGate: return "value+wkv+gate";
    case NeuronFunction::AttOutputLif: return "lif";
    case NeuronFunction::FfnKeyRelu2: return "relu2";
    case NeuronFunction::FfnValueGateLif: return "gate+lif";
    case NeuronFunction::HeadLogits: return "logits";
    case NeuronFunction::NirNeuron: return "neuron";
    case NeuronFunction::NirReadout: return "readout";
  }
  return "?";
}

const char* mapping_kind_name(MappingKind k) {
  switch (k) {
    case MappingKind::SpikeGpt: return "spikegpt";
    case MappingKind::Nir: return "nir";
  }
  return "?";
}

void add_neuron_params(Unit& u, const std::vector<q::NeuronParams>& neurons) {
  std::vector<int32_t> dv, di, bias, theta, v_reset;
  std::vector<int8_t> mode;
  for (const q::NeuronParams& n : neurons) {
    dv.push_back(n.dv);
    di.push_back(n.di);
    bias.push_back(n.bias);
    theta.push_back(n.theta);
    v_reset.push_back(n.v_reset);
    mode.push_back(int8_t((n.current ? 1 : 0) | (n.leak ? 2 : 0) | (int(n.reset_mode) << 2) | (n.fire_ge ? 16 : 0)));
  }
  u.params.push_back(make_param(param::kNeuronDv, dv));
  u.params.push_back(make_param(param::kNeuronDi, di));
  u.params.push_back(make_param(param::kNeuronBias, bias));
  u.params.push_back(make_param(param::kNeuronTheta, theta));
  u.params.push_back(make_param(param::kNeuronVReset, v_reset));
  u.params.push_back(make_param(param::kNeuronMode, mode));
}

std::vector<q::NeuronParams> read_neuron_params(const Unit& u, int membrane_bits) {
  auto values = [&](const char* name, int bytes) {
    const ParamArray& a = u.param(name);
    if (a.element_bytes() != bytes || a.count != u.rows())
      throw MappingError(fmt::format("unit {} ({}): parameter '{}' holds {} {}-byte values, expected {} of {} bytes", u.id,
                                     u.name, name, a.count, a.element_bytes(), u.rows(), bytes));
    return &a;
  };
  const int32_t* dv = values(param::kNeuronDv, 4)->data<int32_t>();
  const int32_t* di = values(param::kNeuronDi, 4)->data<int32_t>();
  const int32_t* bias = values(param::kNeuronBias, 4)->data<int32_t>();
  const int32_t* theta = values(param::kNeuronTheta, 4)->data<int32_t>();
  const int32_t* v_reset = values(param::kNeuronVReset, 4)->data<int32_t>();
  const int8_t* mode = values(param::kNeuronMode, 1)->data<int8_t>();
  std::vector<q::NeuronParams> neurons(static_cast<std::size_t>(u.rows()));
  for (std::size_t r = 0; r < neurons.size(); ++r) {
    q::NeuronParams& n = neurons[r];
    n.dv = dv[r];
    n.di = di[r];
    n.bias = bias[r];
    n.theta = theta[r];
    n.v_reset = v_reset[r];
    n.current = (mode[r] & 1) != 0;
    n.leak = (mode[r] & 2) != 0;
    n.reset_mode = q::ResetMode((mode[r] >> 2) & 3);
    n.fire_ge = (mode[r] & 16) != 0;
    if ((mode[r] & ~0x1F) != 0 || ((mode[r] >> 2) & 3) == 3)
      throw MappingError(fmt::format("unit {} ({}) row {}: neuron.mode {:#x} has bits no mode defines", u.id, u.name, r,
                                     uint8_t(mode[r])));
    const std::string bad = n.validation_error(membrane_bits);
    if (!bad.empty()) throw MappingError(fmt::format("unit {} ({}) row {}: {}", u.id, u.name, r, bad));
  }
  return neurons;
}

std::vector<int32_t> nir_quantize_input(const NirProgram& program, const std::vector<double>& input) {
  const NirProgram::Population& in = program.populations.at(0);
  return nir::quantize_input(in.node, in.size, in.binary, in.scale, program.activation_bits, input);
}

std::vector<double> nir_output_values(const NirProgram& program, const std::vector<int64_t>& integers) {
  std::vector<double> values(integers.size());
  for (std::size_t j = 0; j < integers.size(); ++j)
    values[j] = double(integers[j]) * program.output_scale[j] + program.output_bias[j];
  return values;
}

std::vector<std::vector<int32_t>> nir_quantize_steps(const NirProgram& program, const std::vector<int64_t>& shape,
                                                     const std::vector<double>& values, const std::string& input_name) {
  const int64_t per_step = program.input_size();
  if (shape.empty() || shape[0] < 1 || int64_t(values.size()) != shape[0] * per_step)
    throw std::invalid_argument(fmt::format("{}: shape [{}], expected [T, {}] (T time steps of the graph input '{}')",
                                            input_name, fmt::join(shape, ", "), fmt::join(program.input_shape, ", "),
                                            program.populations.at(0).node));
  std::vector<std::vector<int32_t>> steps;
  for (int64_t t = 0; t < shape[0]; ++t)
    steps.push_back(nir_quantize_input(
        program, std::vector<double>(values.begin() + t * per_step, values.begin() + (t + 1) * per_step)));
  return steps;
}

const char* flow_role_name(FlowRole r) {
  switch (r) {
    case FlowRole::Activation: return "activation";
    case FlowRole::PartialSum: return "partial-sum";
    case FlowRole::Receptance: return "receptance";
    case FlowRole::Key: return "key";
    case FlowRole::Spikes: return "spikes";
    case FlowRole::Residual: return "residual";
    case FlowRole::LnGather: return "ln-gather";
    case FlowRole::LnScatter: return "ln-scatter";
  }
  return "?";
}

int find_unit(const Mapping& mapping, const Topology& topology, const std::string& core_or_name) {
  const bool numeric = !core_or_name.empty() && core_or_name.size() < 10 &&
                       core_or_name.find_first_not_of("0123456789") == std::string::npos;
  for (std::size_t id = 0; id < mapping.units.size(); ++id)
    if (numeric ? topology.core_index(mapping.unit_cores[id]) == std::stoi(core_or_name)
                : mapping.units[id].name == core_or_name)
      return int(id);
  return -1;
}

const ParamArray* Unit::find_param(const std::string& wanted) const {
  for (const auto& p : params)
    if (p.name == wanted) return &p;
  return nullptr;
}

const ParamArray& Unit::param(const std::string& wanted) const {
  if (const auto* p = find_param(wanted)) return *p;
  throw MappingError(fmt::format("unit {} ({}) has no parameter array '{}'", id, name, wanted));
}

int64_t Mapping::weight_bytes() const {
  int64_t bits = 0;
  for (const auto& u : units)
    if (const auto* w = u.find_param(param::kWeights)) bits += w->count * quant.weight_bits;
  return (bits + 7) / 8;
}

ParamArray make_param(const std::string& name, ParamType type, int64_t count, const void* data) {
  ParamArray p;
  p.name = name;
  p.type = type;
  p.count = count;
  p.bytes.resize(std::size_t(count) * std::size_t(type));
  if (count > 0) std::memcpy(p.bytes.data(), data, p.bytes.size());
  return p;
}

void add_multipliers(Unit& unit, const std::string& prefix, const std::vector<q::Multiplier>& m) {
  std::vector<int32_t> mantissa;
  std::vector<int8_t> shift;
  for (const auto& x : m) {
    mantissa.push_back(x.mantissa);
    shift.push_back(int8_t(x.shift));
  }
  unit.params.push_back(make_param(prefix + ".mantissa", mantissa));
  unit.params.push_back(make_param(prefix + ".shift", shift));
}

std::vector<q::Multiplier> read_multipliers(const Unit& unit, const std::string& prefix) {
  const auto& mantissa = unit.param(prefix + ".mantissa");
  const auto& shift = unit.param(prefix + ".shift");
  if (mantissa.count != shift.count || mantissa.type != ParamType::i32 || shift.type != ParamType::i8)
    throw MappingError(fmt::format("unit {} ({}): multiplier arrays '{}' are inconsistent", unit.id, unit.name, prefix));
  std::vector<q::Multiplier> m(std::size_t(mantissa.count));
  for (int64_t i = 0; i < mantissa.count; ++i) {
    m[std::size_t(i)].mantissa = mantissa.data<int32_t>()[i];
    m[std::size_t(i)].shift = shift.data<int8_t>()[i];
  }
  return m;
}

std::vector<Flow> to_placement_flows(const std::vector<MappedFlow>& flows) {
  std::vector<Flow> out;
  out.reserve(flows.size());
  for (const auto& f : flows) out.push_back(Flow{f.source, f.destinations, f.flits_per_token});
  return out;
}

}  // namespace spiketile
