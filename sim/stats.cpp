#include "sim/stats.hpp"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace spiketile::sim {

std::size_t StatRegistry::add(Entry entry) {
  if (!index_.emplace(entry.name, entries_.size()).second)
    throw std::invalid_argument(fmt::format("statistic '{}' is registered twice", entry.name));
  entries_.push_back(std::move(entry));
  return entries_.size() - 1;
}

void StatRegistry::add_counter(const std::string& name, const uint64_t* counter, std::string description,
                               std::string unit) {
  add(Entry{name, std::move(description), std::move(unit), true, [counter] { return double(*counter); }});
}

void StatRegistry::add_derived(const std::string& name, std::function<double()> read, std::string description,
                               std::string unit, bool integral) {
  add(Entry{name, std::move(description), std::move(unit), integral, std::move(read)});
}

bool StatRegistry::contains(const std::string& name) const {
  return index_.count(name) != 0;
}

double StatRegistry::value(const std::string& name) const {
  const auto it = index_.find(name);
  if (it != index_.end()) return entries_[it->second].read();
  throw std::out_of_range(fmt::format("no statistic named '{}' ({} registered)", name, entries_.size()));
}

nlohmann::json StatRegistry::to_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const Entry& e : entries_) {
    const double v = e.read();
    if (e.integral) out[e.name] = uint64_t(std::llround(v));
    else out[e.name] = v;
  }
  return out;
}

nlohmann::json StatRegistry::describe_json() const {
  nlohmann::json out = nlohmann::json::object();
  for (const Entry& e : entries_) out[e.name] = {{"description", e.description}, {"unit", e.unit}};
  return out;
}

std::string StatRegistry::table(const std::string& prefix, bool include_zero) const {
  std::string out;
  for (const Entry& e : entries_) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) continue;
    const double v = e.read();
    if (v == 0.0 && !include_zero) continue;
    const std::string value = e.integral ? fmt::format("{}", uint64_t(std::llround(v))) : fmt::format("{:.3f}", v);
    out += fmt::format("  {:<44} {:>14} {}\n", e.name, value, e.unit);
  }
  return out;
}

}  // namespace spiketile::sim
