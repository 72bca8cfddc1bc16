#include "runtime/mapping_executor.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "models/op_rules.hpp"

namespace sf {

void count_token(const Mapping& m, const TokenObservations& obs, int token, TokenCounts& counts) {
  const int L = m.config.n_layer, C = m.config.n_embd, V = m.config.vocab_size;
  const int A = m.quant.activation_bits, M = m.quant.membrane_bits, W = m.quant.weight_bits;
  counts.reset(L);
  const int32_t* e = m.host.embedding.data() + std::size_t(token) * std::size_t(C);
  rules::count_embedding(counts.at(0, Op::Embedding), C, m.binary_embedding,
                         std::count_if(e, e + C, [](int32_t v) { return v != 0; }));
  rules::count_layer_norm(counts.at(0, Op::Ln0), C, 32);
  const auto& act = obs.activity;
  for (int l = 0; l < L; ++l) {
    auto crossbar = [&](Op op, int64_t rows, int64_t cols) {
      rules::count_crossbar(counts.at(l, op), rows, cols, W, obs.crossbar_inputs[std::size_t(l)][std::size_t(op)]);
    };
    rules::count_layer_norm(counts.at(l, Op::Ln1), C, A);
    rules::count_token_shift(counts.at(l, Op::AttShift), C, A, 3);
    crossbar(Op::AttReceptance, C, C);
    rules::count_receptance(counts.at(l, Op::AttReceptance), C);
    crossbar(Op::AttKey, C, C);
    crossbar(Op::AttValue, C, C);
    rules::count_wkv_and_gate(counts.at(l, Op::AttWkv), counts.at(l, Op::AttGate), C, A);
    crossbar(Op::AttOutput, C, C);
    const auto& sa = act.spikes_att[std::size_t(l)];
    rules::count_lif_and_residual(counts.at(l, Op::AttLif), counts.at(l, Op::AttResidual), C,
                                  std::count(sa.begin(), sa.end(), uint8_t(1)), M);
    rules::count_layer_norm(counts.at(l, Op::Ln2), C, A);
    rules::count_token_shift(counts.at(l, Op::FfnShift), C, A, 2);
    crossbar(Op::FfnReceptance, C, C);
    rules::count_receptance(counts.at(l, Op::FfnReceptance), C);
    crossbar(Op::FfnKey, 4 * int64_t(C), C);
    rules::count_relu2(counts.at(l, Op::FfnRelu2), 4 * int64_t(C), A);
    crossbar(Op::FfnValue, C, 4 * int64_t(C));
    rules::count_ffn_gate(counts.at(l, Op::FfnGate), C);
    const auto& sf_ = act.spikes_ffn[std::size_t(l)];
    rules::count_lif_and_residual(counts.at(l, Op::FfnLif), counts.at(l, Op::FfnResidual), C,
                                  std::count(sf_.begin(), sf_.end(), uint8_t(1)), M);
    if (m.rescale_every_6_layers && (l + 1) % 6 == 0) rules::count_rescale(counts.at(l, Op::Rescale), C);
  }
  rules::count_layer_norm(counts.at(0, Op::LnOut), C, A);
  rules::count_crossbar(counts.at(0, Op::Head), V, C, W, obs.crossbar_inputs.back()[std::size_t(Op::Head)]);
}

MappingExecutor::MappingExecutor(std::shared_ptr<const Mapping> mapping) : m_(std::move(mapping)) {
  links_ = link_units(*m_);
  observations_.reset(m_->config.n_layer, m_->config.n_embd);
  for (int id = 0; id < int(m_->units.size()); ++id) units_.push_back(make_unit_behavior(*m_, id, links_[std::size_t(id)], observations_));
  logit_acc_.resize(std::size_t(m_->config.vocab_size));
  logit_written_.resize(std::size_t(m_->config.vocab_size));
  logits_.resize(std::size_t(m_->config.vocab_size));
  reset();
}

void MappingExecutor::reset() {
  for (auto& u : units_) u->reset_state();
  counts_.reset(m_->config.n_layer);
}

void MappingExecutor::send(int unit, const UnitEvent& event) {
  const auto& flow = m_->flows[std::size_t(event.flow)];
  if (flow.source != unit)
    throw MappingError(fmt::format("unit {} sent on flow {}, which belongs to unit {}", unit, event.flow, flow.source));
  for (int d : flow.destinations) queue_.emplace_back(d, event);
}

void MappingExecutor::logit(int64_t vocab_index, int64_t accumulator) {
  logit_acc_[std::size_t(vocab_index)] = accumulator;
  logit_written_[std::size_t(vocab_index)] = 1;
}

const std::vector<float>& MappingExecutor::step(int token) {
  require_token_in_vocabulary(token);
  const int C = m_->config.n_embd;
  observations_.reset(m_->config.n_layer, C);
  std::fill(logit_written_.begin(), logit_written_.end(), 0);
  for (auto& u : units_) u->start_token(*this);
  const int32_t* row = m_->host.embedding.data() + std::size_t(token) * std::size_t(C);
  for (std::size_t id = 0; id < units_.size(); ++id)
    if (m_->units[id].kind == UnitKind::Residual && m_->units[id].layer == 0) units_[id]->host_input(row, *this);
  delivered_ = 0;
  while (!queue_.empty()) {
    const auto [unit, event] = queue_.front();
    queue_.pop_front();
    ++delivered_;
    units_[std::size_t(unit)]->receive(event, *this);
  }
  std::string stalled;
  for (std::size_t id = 0; id < units_.size(); ++id)
    if (!units_[id]->finished())
      stalled += fmt::format("\n  unit {} ({}) waits for {}", id, m_->units[id].name, units_[id]->waiting_for());
  if (!stalled.empty()) throw MappingError("token step stalled: no events left in flight, but" + stalled);
  for (int v = 0; v < m_->config.vocab_size; ++v) {
    if (!logit_written_[std::size_t(v)])
      throw MappingError(fmt::format("token step produced no logit for vocabulary entry {}: no head tile covers it", v));
    logits_[std::size_t(v)] = float(double(logit_acc_[std::size_t(v)]) * m_->host.head_logit_scale[std::size_t(v)]);
  }
  count_token(*m_, observations_, token, counts_);
  return logits_;
}

}  // namespace sf
