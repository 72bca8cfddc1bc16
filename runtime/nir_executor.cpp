#include "runtime/nir_executor.hpp"

#include <fmt/format.h>

namespace spiketile {

std::vector<int64_t> nir_population_sizes(const NirProgram& program) {
  std::vector<int64_t> sizes;
  for (const auto& p : program.populations) sizes.push_back(p.size);
  return sizes;
}

void count_population_spikes(const NirProgram& program, const TokenObservations& observations,
                             std::vector<int64_t>& spikes) {
  const auto& populations = observations.population_values;
  for (std::size_t p = 1; p < populations.size(); ++p)
    if (program.populations[p].binary)
      for (int32_t v : populations[p]) spikes[p] += v;
}

NirMappingExecutor::NirMappingExecutor(std::shared_ptr<const Mapping> mapping) : m_(std::move(mapping)), host_(*m_) {
  if (m_->kind != MappingKind::Nir)
    throw MappingError(fmt::format("the mapping of '{}' is a {} mapping, not a NIR graph's", m_->model_source,
                                   mapping_kind_name(m_->kind)));
  links_ = link_units(*m_);
  population_sizes_ = nir_population_sizes(m_->nir);
  observations_.reset_populations(population_sizes_);
  for (int id = 0; id < int(m_->units.size()); ++id)
    units_.push_back(make_unit_behavior(*m_, id, links_[std::size_t(id)], observations_));
  reset();
}

void NirMappingExecutor::reset() {
  for (auto& u : units_) u->reset_state();
}

void NirMappingExecutor::send(int unit, const UnitEvent& event) {
  for (int d : flow_sent_by(*m_, unit, event).destinations) queue_.emplace_back(d, event);
}

void NirMappingExecutor::logit(int64_t index, int64_t value) { host_.logit(index, value); }

std::vector<double> NirMappingExecutor::step(const std::vector<double>& input) {
  return nir_output_values(m_->nir, step_quantized(nir_quantize_input(m_->nir, input)));
}

const std::vector<int64_t>& NirMappingExecutor::step_quantized(const std::vector<int32_t>& input) {
  if (int64_t(input.size()) != m_->nir.input_size())
    throw MappingError(fmt::format("the graph input takes {} values per step; {} given", m_->nir.input_size(), input.size()));
  observations_.reset_populations(population_sizes_);
  host_.start_token();
  for (auto& u : units_) u->start_token(*this);
  for (auto& u : units_) u->host_input(input.data(), *this);
  while (!queue_.empty()) {
    const auto [unit, event] = queue_.front();
    queue_.pop_front();
    units_[std::size_t(unit)]->receive(event, *this);
  }
  const std::string stalled = unfinished_units(*m_, units_, [](int id) { return fmt::format("unit {}", id); });
  if (!stalled.empty()) throw MappingError("time step stalled: no events left in flight, but" + stalled);
  return host_.outputs();
}

Counts NirMappingExecutor::last_work() const {
  Counts c;
  for (const auto& u : units_) c += u->work();
  return c;
}

}  // namespace spiketile
