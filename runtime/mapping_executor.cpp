#include "runtime/mapping_executor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>


namespace spiketile {

CountedModel counted_model(const Mapping& m) {
  return {m.config, m.quant, m.binary_embedding, m.rescale_every_6_layers};
}

MappingExecutor::MappingExecutor(std::shared_ptr<const Mapping> mapping) : m_(std::move(mapping)), host_(*m_) {
  if (m_->kind == MappingKind::Nir)
    throw MappingError(fmt::format("this mapping holds the NIR graph {}: it runs time steps from an input (run --map MAP "
                                   "--input IN.npy [T, {}])",
                                   m_->nir.source_path, fmt::join(m_->nir.input_shape, ", ")));
  links_ = link_units(*m_);
  observations_.reset(m_->config.n_layer, m_->config.n_embd);
  for (int id = 0; id < int(m_->units.size()); ++id) units_.push_back(make_unit_behavior(*m_, id, links_[std::size_t(id)], observations_));
  reset();
}

void MappingExecutor::reset() {
  for (auto& u : units_) u->reset_state();
  counts_.reset(m_->config.n_layer);
}

void MappingExecutor::send(int unit, const UnitEvent& event) {
  for (int d : flow_sent_by(*m_, unit, event).destinations) queue_.emplace_back(d, event);
}

void MappingExecutor::logit(int64_t vocab_index, int64_t accumulator) { host_.logit(vocab_index, accumulator); }

const std::vector<float>& MappingExecutor::step(int token) {
  require_token_in_vocabulary(token);
  observations_.reset(m_->config.n_layer, m_->config.n_embd);
  host_.start_token();
  for (auto& u : units_) u->start_token(*this);
  const int32_t* row = host_.embedding_row(token);
  for (std::size_t id = 0; id < units_.size(); ++id)
    if (host_.takes_embedding(int(id))) units_[id]->host_input(row, *this);
  while (!queue_.empty()) {
    const auto [unit, event] = queue_.front();
    queue_.pop_front();
    units_[std::size_t(unit)]->receive(event, *this);
  }
  const std::string stalled = unfinished_units(*m_, units_, [](int id) { return fmt::format("unit {}", id); });
  if (!stalled.empty()) throw MappingError("token step stalled: no events left in flight, but" + stalled);
  const auto& logits = host_.logits();
  count_token(counted_model(*m_), observations_, row, counts_);
  return logits;
}

}  // namespace spiketile
