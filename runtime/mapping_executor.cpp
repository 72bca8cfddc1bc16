#include "runtime/mapping_executor.hpp"

#include <fmt/format.h>

#include <algorithm>


namespace sf {

CountedModel counted_model(const Mapping& m) {
  return {m.config, m.quant, m.binary_embedding, m.rescale_every_6_layers};
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
  count_token(counted_model(*m_), observations_, row, counts_);
  return logits_;
}

}  // namespace sf
