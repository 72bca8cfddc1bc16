#include "models/spikegpt.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>

#include "models/lif.hpp"
#include "models/numerics.hpp"
#include "models/output_file.hpp"

namespace spiketile {

namespace {

constexpr int kRescaleEvery = 6;     // upstream RWKV_RESCALE_LAYER
constexpr float kLayerNormEps = 1e-5f;
constexpr float kWkvInitialMax = -1e30f;  // upstream state[5i+4] initial value

std::string layer_key(int i, const char* suffix) { return fmt::format("blocks.{}.{}", i, suffix); }

Tensor read_squeezed(TensorReader& reader, const std::string& name) {
  Tensor t = reader.read(name);
  t.shape = {t.numel()};
  return t;
}

}  // namespace

void StepActivity::resize(int n_layer, int n_embd) {
  spikes_att.assign(n_layer, std::vector<uint8_t>(n_embd, 0));
  spikes_ffn.assign(n_layer, std::vector<uint8_t>(n_embd, 0));
  relu2_nonzero.assign(n_layer, 0);
  membrane_att.assign(n_layer, std::vector<float>(n_embd, 0.0f));
  membrane_ffn.assign(n_layer, std::vector<float>(n_embd, 0.0f));
}

int64_t ModelConfig::parameter_count() const {
  const int64_t L = n_layer, C = n_embd, V = vocab_size;
  return 2 * V * C + L * (13 * C * C + 11 * C) + 4 * C;
}

BinaryEmbedding parse_binary_embedding(const std::string& s) {
  if (s == "auto") return BinaryEmbedding::Auto;
  if (s == "on") return BinaryEmbedding::On;
  if (s == "off") return BinaryEmbedding::Off;
  throw std::invalid_argument(fmt::format("binary embedding must be auto, on or off (got '{}')", s));
}

ModelConfig infer_config(const TensorIndex& file) {
  if (!file.has("emb.weight"))
    throw CheckpointError(fmt::format(
        "{}: tensor 'emb.weight' is missing; a SpikeGPT checkpoint needs it to infer vocabulary "
        "size and width",
        file.path));
  const std::vector<int64_t>& emb = file.shape("emb.weight");
  if (emb.size() != 2 || emb[0] <= 0 || emb[1] <= 0)
    throw CheckpointError(fmt::format("{}: tensor 'emb.weight' has shape [{}], expected [vocab, n_embd]",
                                      file.path, fmt::join(emb, ", ")));
  ModelConfig c;
  c.vocab_size = int(emb[0]);
  c.n_embd = int(emb[1]);
  static const std::regex block_re(R"(^blocks\.(\d+)\.)");
  int max_block = -1;
  for (const auto& name : file.order) {
    std::smatch m;
    if (std::regex_search(name, m, block_re)) max_block = std::max(max_block, std::stoi(m[1]));
  }
  if (max_block < 0)
    throw CheckpointError(fmt::format("{}: no 'blocks.N.*' tensors; a SpikeGPT checkpoint has at least one block",
                                      file.path));
  c.n_layer = max_block + 1;
  return c;
}

std::string projection_inputs_description(int steps) {
  if (steps == 0) return "graded activations (the released graph)";
  if (steps == 1) return "binary spikes (spike-input variant, T = 1)";
  return fmt::format("spike counts of {} steps (spike-input variant, {}-bit)", steps, q::spike_count_bits(steps));
}

int spike_input_steps(const Tensor& recorded, const std::string& path) {
  const float steps = recorded.data.at(0);
  if (!(steps >= 1 && steps <= kMaxSpikeInputSteps) || steps != std::floor(steps))
    throw CheckpointError(fmt::format("{}: tensor '{}' holds {}, expected a whole number of spike steps in [1, {}]", path,
                                      kSpikeInputStepsTensor, steps, kMaxSpikeInputSteps));
  return int(steps);
}

std::vector<ExpectedTensor> expected_tensors(const ModelConfig& c) {
  const int64_t C = c.n_embd, V = c.vocab_size;
  std::vector<ExpectedTensor> e;
  e.push_back({"emb.weight", {V, C}});
  for (int i = 0; i < c.n_layer; ++i) {
    auto add = [&](const char* s, std::vector<int64_t> shape) { e.push_back({layer_key(i, s), std::move(shape)}); };
    add("ln1.weight", {C});
    add("ln1.bias", {C});
    add("ln2.weight", {C});
    add("ln2.bias", {C});
    if (i == 0) {
      add("ln0.weight", {C});
      add("ln0.bias", {C});
    }
    add("att.time_decay", {C});
    add("att.time_first", {C});
    add("att.time_mix_k", {1, 1, C});
    add("att.time_mix_v", {1, 1, C});
    add("att.time_mix_r", {1, 1, C});
    add("att.key.weight", {C, C});
    add("att.value.weight", {C, C});
    add("att.receptance.weight", {C, C});
    add("att.output.weight", {C, C});
    add("ffn.time_mix_k", {1, 1, C});
    add("ffn.time_mix_r", {1, 1, C});
    add("ffn.key.weight", {4 * C, C});
    add("ffn.receptance.weight", {C, C});
    add("ffn.value.weight", {C, 4 * C});
  }
  e.push_back({"ln_out.weight", {C}});
  e.push_back({"ln_out.bias", {C}});
  e.push_back({"head.weight", {V, C}});
  return e;
}

void validate_spikegpt(const TensorIndex& file, const ModelConfig& config) {
  std::vector<std::string> problems;
  std::set<std::string> expected_names;
  auto shape_str = [](const std::vector<int64_t>& s) { return fmt::format("[{}]", fmt::join(s, ", ")); };
  for (const auto& e : expected_tensors(config)) {
    expected_names.insert(e.name);
    if (!file.has(e.name)) {
      problems.push_back(fmt::format("tensor '{}' is missing (expected shape {})", e.name, shape_str(e.shape)));
      continue;
    }
    const std::vector<int64_t>& shape = file.shape(e.name);
    if (shape != e.shape)
      problems.push_back(fmt::format("tensor '{}' has shape {}, expected {}", e.name, shape_str(shape), shape_str(e.shape)));
  }
  if (file.has(kSpikeInputStepsTensor)) {
    expected_names.insert(kSpikeInputStepsTensor);
    const std::vector<int64_t>& shape = file.shape(kSpikeInputStepsTensor);
    if (shape != std::vector<int64_t>{1})
      problems.push_back(fmt::format("tensor '{}' has shape {}, expected [1] (the spike-input variant's T)",
                                     kSpikeInputStepsTensor, shape_str(shape)));
  }
  for (const auto& name : file.order)
    if (!expected_names.count(name))
      problems.push_back(fmt::format("unexpected tensor '{}' (not part of an upstream SpikeGPT state dict)", name));
  if (problems.empty()) return;
  std::string msg = fmt::format("{}: not a valid SpikeGPT checkpoint (inferred n_layer={}, n_embd={}, vocab={}):",
                                file.path, config.n_layer, config.n_embd, config.vocab_size);
  for (const auto& p : problems) msg += "\n  - " + p;
  throw CheckpointError(msg);
}

ModelConfig read_model_config(TensorReader& reader) {
  ModelConfig config = infer_config(reader.index());
  validate_spikegpt(reader.index(), config);
  if (reader.index().has(kSpikeInputStepsTensor))
    config.spike_input_steps = spike_input_steps(reader.read(kSpikeInputStepsTensor), reader.index().path);
  return config;
}

SpikeGptWeights SpikeGptWeights::read_outline(TensorReader& reader, const GoldenOptions& options) {
  SpikeGptWeights w;
  w.config = read_model_config(reader);
  w.rescale_every_6_layers = options.rescale_every_6_layers;
  w.binary_embedding = options.binary_embedding == BinaryEmbedding::On ||
                       (options.binary_embedding == BinaryEmbedding::Auto && w.config.vocab_size == 77);
  w.ln0_weight = reader.read("blocks.0.ln0.weight");
  w.ln0_bias = reader.read("blocks.0.ln0.bias");
  w.ln_out_weight = reader.read("ln_out.weight");
  w.ln_out_bias = reader.read("ln_out.bias");
  return w;
}

SpikeGptWeights::Layer SpikeGptWeights::read_layer(TensorReader& reader, int i, bool rescale_every_6_layers) {
  Layer l;
  auto read = [&](const char* s) { return reader.read(layer_key(i, s)); };
  auto squeezed = [&](const char* s) { return read_squeezed(reader, layer_key(i, s)); };
  l.ln1_weight = read("ln1.weight");
  l.ln1_bias = read("ln1.bias");
  l.ln2_weight = read("ln2.weight");
  l.ln2_bias = read("ln2.bias");
  l.att_time_decay = read("att.time_decay");
  for (float& d : l.att_time_decay.data) d = -std::exp(d);
  l.att_time_first = read("att.time_first");
  l.att_mix_k = squeezed("att.time_mix_k");
  l.att_mix_v = squeezed("att.time_mix_v");
  l.att_mix_r = squeezed("att.time_mix_r");
  l.att_key = read("att.key.weight");
  l.att_value = read("att.value.weight");
  l.att_receptance = read("att.receptance.weight");
  l.att_output = read("att.output.weight");
  l.ffn_mix_k = squeezed("ffn.time_mix_k");
  l.ffn_mix_r = squeezed("ffn.time_mix_r");
  l.ffn_key = read("ffn.key.weight");
  l.ffn_receptance = read("ffn.receptance.weight");
  l.ffn_value = read("ffn.value.weight");
  if (rescale_every_6_layers) {
    // A power-of-two divide is exact in float32, as upstream's w / 2**k is.
    const float scale = float(1 << (i / kRescaleEvery));
    for (float& x : l.att_output.data) x /= scale;
    for (float& x : l.ffn_value.data) x /= scale;
  }
  return l;
}

SpikeGptWeights SpikeGptWeights::read(TensorReader& reader, const GoldenOptions& options) {
  SpikeGptWeights w = read_outline(reader, options);
  w.emb = reader.read("emb.weight");
  w.head = reader.read("head.weight");
  for (int i = 0; i < w.config.n_layer; ++i) w.layers.push_back(read_layer(reader, i, w.rescale_every_6_layers));
  return w;
}

SpikeGptWeights SpikeGptWeights::from_file(TensorFile&& f, const GoldenOptions& options) {
  return read(*tensor_file_reader(std::move(f)), options);
}

SpikeGptWeights SpikeGptWeights::load(const std::string& path, const GoldenOptions& options) {
  return from_file(load_tensor_file(path), options);
}

RecurrentState::RecurrentState(int n_layer, int n_embd)
    : n_layer_(n_layer), n_embd_(n_embd), data_(std::size_t(n_layer) * kSlots * n_embd) {
  reset();
}

void RecurrentState::reset() {
  std::fill(data_.begin(), data_.end(), 0.0f);
  for (int i = 0; i < n_layer_; ++i) std::fill_n(slot(i, WkvMax), n_embd_, kWkvInitialMax);
}

bool RecurrentState::operator==(const RecurrentState& o) const {
  return n_layer_ == o.n_layer_ && n_embd_ == o.n_embd_ &&
         std::memcmp(data_.data(), o.data_.data(), data_.size() * sizeof(float)) == 0;
}

namespace {
constexpr char kStateMagic[8] = {'S', 'T', 'S', 'T', 'A', 'T', 'E', '1'};
}

void RecurrentState::save(const std::string& path) const {
  OutputFile out(path);
  const int32_t dims[2] = {n_layer_, n_embd_};
  out.write(kStateMagic, sizeof kStateMagic);
  out.write(dims, sizeof dims);
  out.write(data_.data(), data_.size() * sizeof(float));
  out.commit();
}

RecurrentState RecurrentState::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open state file", path));
  char magic[8];
  int32_t dims[2];
  in.read(magic, sizeof magic);
  in.read(reinterpret_cast<char*>(dims), sizeof dims);
  if (!in || std::memcmp(magic, kStateMagic, sizeof magic) != 0)
    throw std::runtime_error(fmt::format("{}: not a spiketile state file (bad magic)", path));
  if (dims[0] <= 0 || dims[1] <= 0 || dims[0] > 4096 || dims[1] > 65536)
    throw std::runtime_error(fmt::format("{}: implausible state shape L={} C={}", path, dims[0], dims[1]));
  RecurrentState s(dims[0], dims[1]);
  in.read(reinterpret_cast<char*>(s.data_.data()), std::streamsize(s.data_.size() * sizeof(float)));
  if (!in || in.peek() != std::char_traits<char>::eof())
    throw std::runtime_error(fmt::format("{}: state file size does not match L={} C={}", path, dims[0], dims[1]));
  return s;
}

void layer_norm(const float* x, const float* weight, const float* bias, int n, float* out) {
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += x[i];
  const double mean = sum / n;
  double sq = 0;
  for (int i = 0; i < n; ++i) sq += (x[i] - mean) * (x[i] - mean);
  const float rstd = float(1.0 / std::sqrt(sq / n + double(kLayerNormEps)));
  const float m = float(mean);
  for (int i = 0; i < n; ++i) out[i] = (x[i] - m) * rstd * weight[i] + bias[i];
}

namespace {
inline void token_shift(const float* x, const float* prev, const float* mix, int n, float* out) {
  for (int i = 0; i < n; ++i) out[i] = token_mix(x[i], prev[i], mix[i]);
}
}  // namespace

GoldenModel::GoldenModel(SpikeGptWeights weights, int threads)
    : w_(std::move(weights)), threads_(threads > 0 ? threads : omp_get_max_threads()),
      state_(w_.config.n_layer, w_.config.n_embd) {
  const int C = w_.config.n_embd;
  activity_.resize(w_.config.n_layer, C);
  logits_.resize(w_.config.vocab_size);
  for (auto* v : {&x_, &z_, &xk_, &xv_, &xr_, &r_, &k_, &v_, &y_}) v->resize(C);
  hidden_.resize(4 * C);
  hidden_in_.resize(C);
}

void GoldenModel::matvec(const Tensor& w, const float* in, float* out) const {
  const int64_t rows = w.shape[0], cols = w.shape[1];
  const MatrixView m(w.data.data(), rows, cols);
  const VectorView x(in, cols);
  // Threads only pay off once a matrix (here >= 1 MB) takes far longer than waking a thread;
  // below that a busy second core would stall every product.
  const int threads = rows * cols >= (1 << 18) ? threads_ : 1;
  if (threads == 1) {
    Eigen::Map<Eigen::VectorXf>(out, rows).noalias() = m * x;
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    // Row blocks aligned to 8 so each thread streams whole cache lines of its own rows.
    const int64_t per = ((rows + nt - 1) / nt + 7) / 8 * 8;
    const int64_t r0 = std::min<int64_t>(rows, t * per), r1 = std::min<int64_t>(rows, r0 + per);
    if (r1 > r0)
      Eigen::Map<Eigen::VectorXf>(out + r0, r1 - r0).noalias() = m.middleRows(r0, r1 - r0) * x;
  }
}

void GoldenModel::spike_inputs(float* x, int n) const {
  const int steps = w_.config.spike_input_steps;
  if (steps == 0) return;
  for (int j = 0; j < n; ++j) x[j] = spike_input(x[j], steps);
}

void GoldenModel::time_mix(int i, float* x) {
  const int C = w_.config.n_embd;
  const auto& l = w_.layers[i];
  layer_norm(x, l.ln1_weight.data.data(), l.ln1_bias.data.data(), C, z_.data());
  if (probe_) probe_(i, ProbePoint::Ln1Out, z_.data(), C);
  float* xa = state_.slot(i, RecurrentState::AttShift);
  token_shift(z_.data(), xa, l.att_mix_k.data.data(), C, xk_.data());
  token_shift(z_.data(), xa, l.att_mix_v.data.data(), C, xv_.data());
  token_shift(z_.data(), xa, l.att_mix_r.data.data(), C, xr_.data());
  std::copy(z_.begin(), z_.end(), xa);
  spike_inputs(xk_.data(), C);
  spike_inputs(xv_.data(), C);
  spike_inputs(xr_.data(), C);
  matvec(l.att_receptance, xr_.data(), r_.data());
  matvec(l.att_key, xk_.data(), k_.data());
  matvec(l.att_value, xv_.data(), v_.data());
  if (probe_) probe_(i, ProbePoint::AttValue, v_.data(), C);
  float* a = state_.slot(i, RecurrentState::WkvNum);
  float* b = state_.slot(i, RecurrentState::WkvDen);
  float* p = state_.slot(i, RecurrentState::WkvMax);
  const float* u = l.att_time_first.data.data();
  const float* w = l.att_time_decay.data.data();
  for (int c = 0; c < C; ++c) {
    const float wkv = wkv_step(k_[c], v_[c], u[c], w[c], a[c], b[c], p[c]);
    y_[c] = sigmoid(r_[c]) * wkv;
  }
  if (probe_) probe_(i, ProbePoint::AttGated, y_.data(), C);
  spike_inputs(y_.data(), C);
  matvec(l.att_output, y_.data(), z_.data());
  float* mem = state_.slot(i, RecurrentState::MemAtt);
  auto& spikes = activity_.spikes_att[i];
  for (int c = 0; c < C; ++c) {
    spikes[c] = lif_step(mem[c], z_[c]);
    x[c] += float(spikes[c]);
  }
  std::copy_n(mem, C, activity_.membrane_att[i].begin());
}

void GoldenModel::channel_mix(int i, float* x) {
  const int C = w_.config.n_embd;
  const auto& l = w_.layers[i];
  layer_norm(x, l.ln2_weight.data.data(), l.ln2_bias.data.data(), C, z_.data());
  if (probe_) probe_(i, ProbePoint::Ln2Out, z_.data(), C);
  float* xf = state_.slot(i, RecurrentState::FfnShift);
  token_shift(z_.data(), xf, l.ffn_mix_k.data.data(), C, xk_.data());
  token_shift(z_.data(), xf, l.ffn_mix_r.data.data(), C, xr_.data());
  std::copy(z_.begin(), z_.end(), xf);
  spike_inputs(xk_.data(), C);
  spike_inputs(xr_.data(), C);
  matvec(l.ffn_receptance, xr_.data(), r_.data());
  matvec(l.ffn_key, xk_.data(), hidden_.data());
  if (probe_) probe_(i, ProbePoint::FfnKey, hidden_.data(), 4 * C);
  for (float& h : hidden_) h = h > 0.0f ? h * h : 0.0f;
  if (probe_) probe_(i, ProbePoint::FfnHidden, hidden_.data(), 4 * C);
  spike_inputs(hidden_.data(), 4 * C);
  int nonzero = 0;
  for (float h : hidden_) nonzero += h != 0.0f;
  activity_.relu2_nonzero[i] = nonzero;
  matvec(l.ffn_value, hidden_.data(), y_.data());
  float* mem = state_.slot(i, RecurrentState::MemFfn);
  auto& spikes = activity_.spikes_ffn[i];
  for (int c = 0; c < C; ++c) {
    spikes[c] = lif_step(mem[c], sigmoid(r_[c]) * y_[c]);
    x[c] += float(spikes[c]);
  }
  std::copy_n(mem, C, activity_.membrane_ffn[i].begin());
}

const std::vector<float>& GoldenModel::step(int token) {
  const int C = w_.config.n_embd;
  require_token_in_vocabulary(token);
  const float* e = w_.emb.data.data() + std::size_t(token) * C;
  for (int c = 0; c < C; ++c) x_[c] = w_.binary_embedding ? float(e[c] >= 0.0f) : e[c];
  layer_norm(x_.data(), w_.ln0_weight.data.data(), w_.ln0_bias.data.data(), C, x_.data());
  for (int i = 0; i < w_.config.n_layer; ++i) {
    time_mix(i, x_.data());
    channel_mix(i, x_.data());
    if (w_.rescale_every_6_layers && (i + 1) % kRescaleEvery == 0)
      for (float& v : x_) v /= 2.0f;
  }
  layer_norm(x_.data(), w_.ln_out_weight.data.data(), w_.ln_out_bias.data.data(), C, z_.data());
  if (probe_) probe_(-1, ProbePoint::LnOut, z_.data(), C);
  matvec(w_.head, z_.data(), logits_.data());
  return logits_;
}

}  // namespace spiketile
