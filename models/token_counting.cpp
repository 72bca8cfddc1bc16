#include "models/token_counting.hpp"

#include <algorithm>

namespace spiketile {

void TokenObservations::reset(int n_layer, int n_embd) {
  crossbar_inputs.assign(std::size_t(n_layer) + 1, {});
  if (int(activity.spikes_att.size()) != n_layer) activity.resize(n_layer, n_embd);
  for (auto& s : activity.spikes_att) std::fill(s.begin(), s.end(), uint8_t(0));
  for (auto& s : activity.spikes_ffn) std::fill(s.begin(), s.end(), uint8_t(0));
  std::fill(activity.relu2_nonzero.begin(), activity.relu2_nonzero.end(), 0);
}

void TokenObservations::reset_populations(const std::vector<int64_t>& sizes) {
  population_values.resize(sizes.size());
  for (std::size_t p = 0; p < sizes.size(); ++p) population_values[p].assign(std::size_t(sizes[p]), 0);
}

void count_token(const CountedModel& m, const TokenObservations& obs, const int32_t* e, TokenCounts& counts) {
  const int L = m.config.n_layer, C = m.config.n_embd, V = m.config.vocab_size;
  const int A = m.quant.activation_bits, M = m.quant.membrane_bits, W = m.quant.weight_bits;
  // A spike-input variant's projection inputs are spike counts: binary events for T = 1.
  const int T = m.config.spike_input_steps;
  const int P = q::projection_input_bits(T, A);
  const bool binary_inputs = T == 1;
  counts.reset(L);
  rules::count_embedding(counts.at(0, Op::Embedding), C, m.binary_embedding,
                         std::count_if(e, e + C, [](int32_t v) { return v != 0; }));
  rules::count_layer_norm(counts.at(0, Op::Ln0), C, 32);
  const auto& act = obs.activity;
  for (int l = 0; l < L; ++l) {
    auto crossbar = [&](Op op, int64_t rows, int64_t cols) {
      rules::count_crossbar(counts.at(l, op), rows, cols, W, obs.crossbar_inputs[std::size_t(l)][std::size_t(op)],
                            binary_inputs);
    };
    auto spike_function = [&](Op op, int64_t n) {
      if (T) rules::count_spike_function(counts.at(l, op), n);
    };
    rules::count_layer_norm(counts.at(l, Op::Ln1), C, A);
    rules::count_token_shift(counts.at(l, Op::AttShift), C, A, P, 3);
    spike_function(Op::AttShift, 3 * int64_t(C));
    crossbar(Op::AttReceptance, C, C);
    rules::count_receptance(counts.at(l, Op::AttReceptance), C);
    crossbar(Op::AttKey, C, C);
    crossbar(Op::AttValue, C, C);
    rules::count_wkv_and_gate(counts.at(l, Op::AttWkv), counts.at(l, Op::AttGate), C, P);
    spike_function(Op::AttGate, C);
    crossbar(Op::AttOutput, C, C);
    const auto& sa = act.spikes_att[std::size_t(l)];
    rules::count_lif_and_residual(counts.at(l, Op::AttLif), counts.at(l, Op::AttResidual), C,
                                  std::count(sa.begin(), sa.end(), uint8_t(1)), M);
    rules::count_layer_norm(counts.at(l, Op::Ln2), C, A);
    rules::count_token_shift(counts.at(l, Op::FfnShift), C, A, P, 2);
    spike_function(Op::FfnShift, 2 * int64_t(C));
    crossbar(Op::FfnReceptance, C, C);
    rules::count_receptance(counts.at(l, Op::FfnReceptance), C);
    crossbar(Op::FfnKey, 4 * int64_t(C), C);
    rules::count_relu2(counts.at(l, Op::FfnRelu2), 4 * int64_t(C), P);
    spike_function(Op::FfnRelu2, 4 * int64_t(C));
    crossbar(Op::FfnValue, C, 4 * int64_t(C));
    rules::count_ffn_gate(counts.at(l, Op::FfnGate), C);
    const auto& sf_ = act.spikes_ffn[std::size_t(l)];
    rules::count_lif_and_residual(counts.at(l, Op::FfnLif), counts.at(l, Op::FfnResidual), C,
                                  std::count(sf_.begin(), sf_.end(), uint8_t(1)), M);
    if (m.rescale_every_6_layers && (l + 1) % 6 == 0) rules::count_rescale(counts.at(l, Op::Rescale), C);
  }
  rules::count_layer_norm(counts.at(0, Op::LnOut), C, A);
  // The head reads ln_out's graded output in every variant.
  rules::count_crossbar(counts.at(0, Op::Head), V, C, W, obs.crossbar_inputs.back()[std::size_t(Op::Head)], false);
}

}  // namespace spiketile
