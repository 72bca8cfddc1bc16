#include "models/quantized.hpp"

#include "models/crossbar_kernel.hpp"
#include "models/op_rules.hpp"
#include "models/output_file.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>

namespace spiketile {

namespace {
constexpr double kLog2e = 1.4426950408889634;
using rules::kInternalBits;

double max_abs(const float* d, int n) {
  double m = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, double(std::abs(d[i])));
  return m;
}
double max_positive(const float* d, int n) {
  double m = 0;
  for (int i = 0; i < n; ++i) m = std::max(m, double(d[i]));
  return m;
}
}  // namespace

// ---- calibration ----------------------------------------------------------------------------

nlohmann::json Calibration::to_json() const {
  return {{"format", "spiketile-calibration-1"},
          {"text", text},
          {"tokens", tokens},
          {"ln1", ln1},
          {"att_value", att_value},
          {"att_gated", att_gated},
          {"ln2", ln2},
          {"ffn_key_pos", ffn_key_pos},
          {"ffn_hidden", ffn_hidden},
          {"ln_out", ln_out}};
}

Calibration Calibration::from_json(const nlohmann::json& j, int n_layer) {
  if (j.value("format", "") != "spiketile-calibration-1")
    throw std::runtime_error("calibration: expected format 'spiketile-calibration-1'");
  Calibration c;
  c.text = j.at("text").get<std::string>();
  c.tokens = j.at("tokens").get<int64_t>();
  // Every range scales a quantizer: finite and non-negative.
  auto range = [](const char* key, double x) {
    if (!(x >= 0) || !std::isfinite(x)) throw std::runtime_error(fmt::format("calibration: '{}' has a bad range {}", key, x));
    return x;
  };
  auto layer_vector = [&](const char* key) {
    auto v = j.at(key).get<std::vector<double>>();
    if (int(v.size()) != n_layer)
      throw std::runtime_error(fmt::format("calibration: '{}' has {} layers, the model has {}", key, v.size(), n_layer));
    for (double x : v) range(key, x);
    return v;
  };
  if (c.tokens < 0) throw std::runtime_error(fmt::format("calibration: 'tokens' is {}, below 0", c.tokens));
  c.ln1 = layer_vector("ln1");
  c.att_value = layer_vector("att_value");
  c.att_gated = layer_vector("att_gated");
  c.ln2 = layer_vector("ln2");
  c.ffn_key_pos = layer_vector("ffn_key_pos");
  c.ffn_hidden = layer_vector("ffn_hidden");
  c.ln_out = range("ln_out", j.at("ln_out").get<double>());
  return c;
}

void Calibration::save(const std::string& path) const { write_file(path, to_json().dump(2) + "\n"); }

Calibration Calibration::load(const std::string& path, int n_layer) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot open calibration file", path));
  try {
    return from_json(nlohmann::json::parse(in), n_layer);
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
}

Calibration calibrate(GoldenModel& golden, const std::vector<int>& tokens, const std::string& text_name,
                      const std::function<void(int64_t, int64_t)>& progress) {
  const int L = golden.n_layer();
  Calibration c;
  c.text = text_name;
  c.tokens = int64_t(tokens.size());
  for (auto* v : {&c.ln1, &c.att_value, &c.att_gated, &c.ln2, &c.ffn_key_pos, &c.ffn_hidden}) v->assign(L, 0.0);
  golden.set_probe([&](int i, ProbePoint p, const float* d, int n) {
    switch (p) {
      case ProbePoint::Ln1Out: c.ln1[i] = std::max(c.ln1[i], max_abs(d, n)); break;
      case ProbePoint::AttValue: c.att_value[i] = std::max(c.att_value[i], max_abs(d, n)); break;
      case ProbePoint::AttGated: c.att_gated[i] = std::max(c.att_gated[i], max_abs(d, n)); break;
      case ProbePoint::Ln2Out: c.ln2[i] = std::max(c.ln2[i], max_abs(d, n)); break;
      case ProbePoint::FfnKey: c.ffn_key_pos[i] = std::max(c.ffn_key_pos[i], max_positive(d, n)); break;
      case ProbePoint::FfnHidden: c.ffn_hidden[i] = std::max(c.ffn_hidden[i], max_abs(d, n)); break;
      case ProbePoint::LnOut: c.ln_out = std::max(c.ln_out, max_abs(d, n)); break;
    }
  });
  golden.reset();
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    golden.step(tokens[k]);
    if (progress && (k + 1) % 1024 == 0) progress(int64_t(k + 1), int64_t(tokens.size()));
  }
  golden.set_probe({});
  golden.reset();
  return c;
}

// ---- building the integer parameters ----------------------------------------------------------

namespace {
using RowScaleToMultiplier = std::function<double(double)>;

QuantizedSpikeGpt::Linear with_multipliers(q::QuantizedMatrix w, const RowScaleToMultiplier& row_scale_to_multiplier) {
  QuantizedSpikeGpt::Linear lin;
  lin.w = std::move(w);
  lin.out.reserve(lin.w.rows);
  for (double s : lin.w.scale) lin.out.push_back(q::make_multiplier(row_scale_to_multiplier(s)));
  return lin;
}

QuantizedSpikeGpt::Linear quantize_linear(const Tensor& w, int bits, const RowScaleToMultiplier& row_scale_to_multiplier) {
  return with_multipliers(q::quantize_rows(w.data.data(), int(w.shape[0]), int(w.shape[1]), bits), row_scale_to_multiplier);
}

std::vector<int32_t> quantize_mix(const Tensor& mix) {
  std::vector<int32_t> out(mix.data.size());
  for (std::size_t i = 0; i < out.size(); ++i)
    out[i] = int32_t(std::clamp<int64_t>(std::llround(double(mix.data[i]) * (1 << q::kMixFrac)), 0, 1 << q::kMixFrac));
  return out;
}

void quantize_embedding(const float* e, std::size_t count, bool binary, int32_t* out) {
  for (std::size_t i = 0; i < count; ++i) {
    const double x = binary ? double(e[i] >= 0.0f) : double(e[i]);
    out[i] = int32_t(q::saturate(std::llround(std::ldexp(x, q::kResidualFrac)), 32));
  }
}

// Everything but the embedding, the head weights and the blocks: options checked, config,
// switches and the ln0/ln_out constants set from the outline's LayerNorms.
QuantizedSpikeGpt quantize_outline(const SpikeGptWeights& w, const Calibration& cal, const QuantOptions& o) {
  if (o.activation_bits < 2 || o.activation_bits > 8)
    throw std::invalid_argument(fmt::format("activation bits must be in [2, 8] (got {})", o.activation_bits));
  if (o.membrane_bits < 10 || o.membrane_bits > 32)
    throw std::invalid_argument(fmt::format("membrane bits must be in [10, 32] (got {})", o.membrane_bits));
  const int C = w.config.n_embd;
  QuantizedSpikeGpt m;
  m.config = w.config;
  m.options = o;
  m.binary_embedding = w.binary_embedding;
  m.rescale_every_6_layers = w.rescale_every_6_layers;
  m.ln0 = q::make_layer_norm_constants(w.ln0_weight.data.data(), w.ln0_bias.data.data(), C,
                                       std::ldexp(1.0, -q::kResidualFrac), 32);
  m.ln_out = q::make_layer_norm_constants(w.ln_out_weight.data.data(), w.ln_out_bias.data.data(), C,
                                          q::activation_scale(cal.ln_out, o.activation_bits, false), o.activation_bits);
  return m;
}

// The head's multipliers and logit scales, once its weights are quantized.
void finish_head(QuantizedSpikeGpt& m, q::QuantizedMatrix head, const Calibration& cal) {
  const double s_out = q::activation_scale(cal.ln_out, m.options.activation_bits, false);
  m.head = with_multipliers(std::move(head), [](double) { return 0.0; });
  m.head_logit_scale.clear();
  for (double s : m.head.w.scale) m.head_logit_scale.push_back(s * s_out);
}

QuantizedSpikeGpt::Layer quantize_layer(const SpikeGptWeights::Layer& l, int i, const Calibration& cal,
                                        const QuantOptions& o, int spike_input_steps) {
  const int C = int(l.ln1_weight.data.size()), A = o.activation_bits;
  QuantizedSpikeGpt::Layer ql;
  const double s_z1 = q::activation_scale(cal.ln1[i], A, false);
  const double s_v = q::activation_scale(cal.att_value[i], kInternalBits, false);
  const double s_y = q::activation_scale(cal.att_gated[i], A, false);
  const double s_z2 = q::activation_scale(cal.ln2[i], A, false);
  const double s_k = q::activation_scale(cal.ffn_key_pos[i], kInternalBits, false);
  const double s_h = q::activation_scale(cal.ffn_hidden[i], A, true);
  ql.shift_scale = s_z1;
  ql.v_scale = s_v;
  ql.gated_scale = s_y;
  ql.ffn_shift_scale = s_z2;
  ql.key_scale = s_k;
  ql.hidden_scale = s_h;
  ql.ln1 = q::make_layer_norm_constants(l.ln1_weight.data.data(), l.ln1_bias.data.data(), C, s_z1, A);
  ql.ln2 = q::make_layer_norm_constants(l.ln2_weight.data.data(), l.ln2_bias.data.data(), C, s_z2, A);
  ql.att_mix_k = quantize_mix(l.att_mix_k);
  ql.att_mix_v = quantize_mix(l.att_mix_v);
  ql.att_mix_r = quantize_mix(l.att_mix_r);
  ql.ffn_mix_k = quantize_mix(l.ffn_mix_k);
  ql.ffn_mix_r = quantize_mix(l.ffn_mix_r);
  for (int c = 0; c < C; ++c) {
    ql.time_first.push_back(int32_t(std::llround(double(l.att_time_first.data[c]) * kLog2e * (1 << q::kLogFrac))));
    // At least one Q.8 step of decay per token bounds b by 1/(1 - 2^(-1/256)) ≈ 370.
    ql.time_decay.push_back(int32_t(std::min<int64_t>(
        -1, std::llround(double(l.att_time_decay.data[c]) * kLog2e * (1 << q::kLogFrac)))));
  }
  const int bits = o.weight_bits;
  const double sig_in = std::ldexp(1.0, q::kSigmoidInFrac);
  // A projection's input scale: the activation's, or 1/T for a variant's spike counts (count/T).
  auto input_scale = [&](double activation_scale) {
    return spike_input_steps ? 1.0 / spike_input_steps : activation_scale;
  };
  const double in_z1 = input_scale(s_z1), in_y = input_scale(s_y), in_z2 = input_scale(s_z2), in_h = input_scale(s_h);
  ql.att_receptance = quantize_linear(l.att_receptance, bits, [&](double s) { return s * in_z1 * sig_in; });
  ql.att_key = quantize_linear(l.att_key, bits, [&](double s) { return s * in_z1 * kLog2e * (1 << q::kLogFrac); });
  ql.att_value = quantize_linear(l.att_value, bits, [&](double s) { return s * in_z1 / s_v; });
  ql.att_output = quantize_linear(l.att_output, bits, [&](double s) { return s * in_y * (1 << q::kMembraneFrac); });
  ql.att_gate = q::make_multiplier(s_v / (double(1 << q::kSigmoidOutFrac) * s_y));
  ql.ffn_receptance = quantize_linear(l.ffn_receptance, bits, [&](double s) { return s * in_z2 * sig_in; });
  ql.ffn_key = quantize_linear(l.ffn_key, bits, [&](double s) { return s * in_z2 / s_k; });
  ql.ffn_hidden = q::make_multiplier(s_k * s_k / s_h);
  // (r/256)·acc·s_w·s_h in Q.8 is r·acc·s_w·s_h.
  ql.ffn_value = quantize_linear(l.ffn_value, bits, [&](double s) { return s * in_h; });
  if (spike_input_steps) {
    ql.att_mix_spikes = q::make_spike_thresholds(s_z1, spike_input_steps);
    ql.ffn_mix_spikes = q::make_spike_thresholds(s_z2, spike_input_steps);
    ql.att_gate_spikes = q::make_spike_thresholds(s_v / double(1 << q::kSigmoidOutFrac), spike_input_steps);
    ql.ffn_hidden_spikes = q::make_spike_thresholds(s_k * s_k, spike_input_steps);
  }
  return ql;
}

// Rows of the embedding and the head read per block: 192 KiB of float32 at C = 768, next to
// nothing beside the tables they fill.
constexpr int64_t kRowsPerBlock = 64;
}  // namespace

QuantizedSpikeGpt QuantizedSpikeGpt::build(const SpikeGptWeights& w, const Calibration& cal, const QuantOptions& o) {
  QuantizedSpikeGpt m = quantize_outline(w, cal, o);
  m.embedding.resize(w.emb.data.size());
  quantize_embedding(w.emb.data.data(), w.emb.data.size(), w.binary_embedding, m.embedding.data());
  finish_head(m, q::quantize_rows(w.head.data.data(), int(w.head.shape[0]), int(w.head.shape[1]), o.weight_bits), cal);
  for (int i = 0; i < w.config.n_layer; ++i) m.layers.push_back(quantize_layer(w.layers[i], i, cal, o, w.config.spike_input_steps));
  return m;
}

void QuantizedSpikeGpt::read_embedding_blocks(TensorReader& reader, const ModelConfig& config, bool binary_embedding,
                                              const std::function<void(const int32_t*, std::size_t)>& emit) {
  const std::size_t C = std::size_t(config.n_embd);
  std::vector<int32_t> block;
  reader.read_row_blocks("emb.weight", kRowsPerBlock, [&](int64_t, int64_t rows, const float* values) {
    block.resize(std::size_t(rows) * C);
    quantize_embedding(values, block.size(), binary_embedding, block.data());
    emit(block.data(), block.size());
  });
}

std::vector<int32_t> QuantizedSpikeGpt::read_embedding(TensorReader& reader, const ModelConfig& config,
                                                      bool binary_embedding) {
  std::vector<int32_t> table;
  table.reserve(std::size_t(config.vocab_size) * std::size_t(config.n_embd));
  read_embedding_blocks(reader, config, binary_embedding,
                        [&](const int32_t* values, std::size_t count) { table.insert(table.end(), values, values + count); });
  return table;
}

QuantizedSpikeGpt QuantizedSpikeGpt::read(TensorReader& reader, const Calibration& cal, const QuantOptions& o,
                                          const GoldenOptions& golden, bool with_embedding) {
  const SpikeGptWeights outline = SpikeGptWeights::read_outline(reader, golden);
  QuantizedSpikeGpt m = quantize_outline(outline, cal, o);
  const int L = m.config.n_layer, C = m.config.n_embd, V = m.config.vocab_size;
  // Smallest first, so the peak (int8 weights + int32 embedding) is reached only at the very end.
  for (int i = 0; i < L; ++i)
    m.layers.push_back(quantize_layer(SpikeGptWeights::read_layer(reader, i, m.rescale_every_6_layers), i, cal, o,
                                    m.config.spike_input_steps));
  q::QuantizedMatrix head = q::empty_quantized_matrix(V, C, o.weight_bits);
  reader.read_row_blocks("head.weight", kRowsPerBlock, [&](int64_t first, int64_t rows, const float* values) {
    q::quantize_row_block(values, int(first), int(rows), head);
  });
  finish_head(m, std::move(head), cal);
  if (with_embedding) m.embedding = read_embedding(reader, m.config, m.binary_embedding);
  return m;
}

int64_t QuantizedSpikeGpt::weight_bytes() const {
  int64_t bits = int64_t(head.w.q.size());
  for (const auto& l : layers)
    for (const Linear* lin : {&l.att_receptance, &l.att_key, &l.att_value, &l.att_output, &l.ffn_receptance,
                              &l.ffn_key, &l.ffn_value})
      bits += int64_t(lin->w.q.size());
  return (bits * options.weight_bits + 7) / 8;
}

// ---- the functional model ---------------------------------------------------------------------

bool QuantizedModel::State::operator==(const State& o) const {
  return att_shift == o.att_shift && ffn_shift == o.ffn_shift && wkv_p == o.wkv_p && mem_att == o.mem_att &&
         mem_ffn == o.mem_ffn && wkv_a == o.wkv_a && wkv_b == o.wkv_b;
}

QuantizedModel::QuantizedModel(QuantizedSpikeGpt model) : m_(std::move(model)) {
  const int C = m_.config.n_embd;
  obs_.reset(m_.config.n_layer, C);
  logits_.resize(m_.config.vocab_size);
  head_acc_.resize(m_.config.vocab_size);
  for (auto* v : {&x_, &z_, &xk_, &xv_, &xr_, &r_, &k_, &v_, &y_, &cur_}) v->resize(C);
  h_.resize(4 * C);
  acc_.resize(std::max(4 * C, m_.config.vocab_size));
  reset();
}

void QuantizedModel::reset() {
  const int L = m_.config.n_layer, C = m_.config.n_embd;
  for (auto* v : {&state_.att_shift, &state_.ffn_shift, &state_.mem_att, &state_.mem_ffn}) v->assign(L, std::vector<int32_t>(C, 0));
  state_.wkv_p.assign(L, std::vector<int32_t>(C, q::kWkvNegInf));
  state_.wkv_a.assign(L, std::vector<int64_t>(C, 0));
  state_.wkv_b.assign(L, std::vector<int64_t>(C, 0));
  counts_.reset(L);
}

void QuantizedModel::crossbar(const QuantizedSpikeGpt::Linear& lin, const int32_t* x, int64_t* acc, int layer, Op op) {
  const int rows = lin.w.rows, cols = lin.w.cols;
  obs_.inputs(layer, op) += rules::observe_inputs(x, cols);
  crossbar_matvec(lin.w.q.data(), std::size_t(cols), rows, cols, lin.w.row_sum.data(), x, acc,
                  int64_t(rows) * cols >= (1 << 18));
}

void QuantizedModel::layer_norm(const int32_t* in, const q::LayerNormConstants& c, int32_t* out) {
  const int C = m_.config.n_embd;
  q::layer_norm_int(in, C, c, out);
}

void QuantizedModel::lif_and_residual(std::vector<int32_t>& membrane, std::vector<uint8_t>& spikes,
                                      std::vector<float>& recorded) {
  const int C = m_.config.n_embd, M = m_.options.membrane_bits;
  for (int c = 0; c < C; ++c) {
    spikes[c] = q::lif_step_int(membrane[c], cur_[c], M);
    if (spikes[c]) x_[c] += rules::kSpikeResidual;
    recorded[c] = q::membrane_in_thresholds(membrane[c]);
  }
}

void QuantizedModel::spike_inputs(std::vector<int32_t>& x, const std::vector<int64_t>& thresholds) {
  if (thresholds.empty()) return;
  for (auto& v : x) v = q::spike_count(v, thresholds);
}

void QuantizedModel::receptance(const QuantizedSpikeGpt::Linear& lin, int layer, Op op) {
  const int C = m_.config.n_embd;
  crossbar(lin, xr_.data(), acc_.data(), layer, op);
  for (int c = 0; c < C; ++c) r_[c] = rules::receptance(acc_[c], lin.out[c]);
}

void QuantizedModel::time_mix(int i) {
  const int C = m_.config.n_embd, A = m_.options.activation_bits, M = m_.options.membrane_bits;
  const auto& l = m_.layers[i];
  layer_norm(x_.data(), l.ln1, z_.data());

  auto& prev = state_.att_shift[i];
  for (int c = 0; c < C; ++c) {
    xk_[c] = q::token_shift_int(z_[c], prev[c], l.att_mix_k[c]);
    xv_[c] = q::token_shift_int(z_[c], prev[c], l.att_mix_v[c]);
    xr_[c] = q::token_shift_int(z_[c], prev[c], l.att_mix_r[c]);
  }
  prev.assign(z_.begin(), z_.end());
  spike_inputs(xk_, l.att_mix_spikes);
  spike_inputs(xv_, l.att_mix_spikes);
  spike_inputs(xr_, l.att_mix_spikes);

  receptance(l.att_receptance, i, Op::AttReceptance);
  crossbar(l.att_key, xk_.data(), acc_.data(), i, Op::AttKey);
  for (int c = 0; c < C; ++c) k_[c] = rules::att_key(acc_[c], l.att_key.out[c]);
  crossbar(l.att_value, xv_.data(), acc_.data(), i, Op::AttValue);
  for (int c = 0; c < C; ++c) v_[c] = rules::att_value(acc_[c], l.att_value.out[c]);

  auto &a = state_.wkv_a[i], &b = state_.wkv_b[i];
  auto& p = state_.wkv_p[i];
  for (int c = 0; c < C; ++c) {
    const int32_t wkv = q::wkv_step_int(k_[c], v_[c], l.time_first[c], l.time_decay[c], a[c], b[c], p[c]);
    y_[c] = rules::att_gate(r_[c], wkv, l.att_gate, A, l.att_gate_spikes);
  }

  crossbar(l.att_output, y_.data(), acc_.data(), i, Op::AttOutput);
  for (int c = 0; c < C; ++c) cur_[c] = rules::att_current(acc_[c], l.att_output.out[c], M);

  lif_and_residual(state_.mem_att[i], obs_.activity.spikes_att[i], obs_.activity.membrane_att[i]);
}

void QuantizedModel::channel_mix(int i) {
  const int C = m_.config.n_embd, A = m_.options.activation_bits, M = m_.options.membrane_bits;
  const auto& l = m_.layers[i];
  layer_norm(x_.data(), l.ln2, z_.data());

  auto& prev = state_.ffn_shift[i];
  for (int c = 0; c < C; ++c) {
    xk_[c] = q::token_shift_int(z_[c], prev[c], l.ffn_mix_k[c]);
    xr_[c] = q::token_shift_int(z_[c], prev[c], l.ffn_mix_r[c]);
  }
  prev.assign(z_.begin(), z_.end());
  spike_inputs(xk_, l.ffn_mix_spikes);
  spike_inputs(xr_, l.ffn_mix_spikes);

  receptance(l.ffn_receptance, i, Op::FfnReceptance);

  crossbar(l.ffn_key, xk_.data(), acc_.data(), i, Op::FfnKey);
  int nonzero = 0;
  for (int c = 0; c < 4 * C; ++c) {
    h_[c] = rules::ffn_hidden(acc_[c], l.ffn_key.out[c], l.ffn_hidden, A, l.ffn_hidden_spikes);
    nonzero += h_[c] != 0;
  }
  obs_.activity.relu2_nonzero[i] = nonzero;

  crossbar(l.ffn_value, h_.data(), acc_.data(), i, Op::FfnValue);
  for (int c = 0; c < C; ++c) cur_[c] = rules::ffn_current(r_[c], acc_[c], l.ffn_value.out[c], M);

  lif_and_residual(state_.mem_ffn[i], obs_.activity.spikes_ffn[i], obs_.activity.membrane_ffn[i]);
}

const std::vector<float>& QuantizedModel::step(int token) {
  const int C = m_.config.n_embd, L = m_.config.n_layer;
  require_token_in_vocabulary(token);
  obs_.reset(L, C);
  const int32_t* e = m_.embedding.data() + std::size_t(token) * C;
  layer_norm(e, m_.ln0, x_.data());
  for (int i = 0; i < L; ++i) {
    time_mix(i);
    channel_mix(i);
    if (m_.rescale_every_6_layers && (i + 1) % 6 == 0)
      for (auto& v : x_) v = rules::rescale_residual(v);
  }
  layer_norm(x_.data(), m_.ln_out, z_.data());
  crossbar(m_.head, z_.data(), head_acc_.data(), -1, Op::Head);
  for (int v = 0; v < m_.config.vocab_size; ++v) logits_[v] = float(double(head_acc_[v]) * m_.head_logit_scale[v]);
  count_token({m_.config, m_.options, m_.binary_embedding, m_.rescale_every_6_layers}, obs_, e, counts_);
  return logits_;
}

}  // namespace spiketile
