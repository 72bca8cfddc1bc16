// Statistics registered by name (Ramulator-2 style).
//
// A component keeps its counters as plain members (an increment on the hot path costs what any
// integer increment costs) and registers each once, at elaboration, under a dotted name with a
// description and a unit: `noc.router[12].out.E.flits`. Derived values (totals, means, maxima)
// register a function instead. The registry reads everything at dump time, so it never touches
// the simulation's hot paths, and reports, the JSON dump and energy accounting find statistics by
// name without knowing which component owns them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace spiketile::sim {

class StatRegistry {
 public:
  struct Entry {
    std::string name;
    std::string description;
    std::string unit;
    bool integral = true;  // counters are integers; derived values may be fractional
    std::function<double()> read;
  };

  // Registers a counter owned by a component; the pointer must outlive the registry's use.
  void add_counter(const std::string& name, const uint64_t* counter, std::string description, std::string unit);
  // Registers a value computed when read (a total, a mean, a maximum over components).
  void add_derived(const std::string& name, std::function<double()> read, std::string description,
                   std::string unit, bool integral = false);

  bool contains(const std::string& name) const;
  // Throws std::out_of_range naming the statistic when it is not registered.
  double value(const std::string& name) const;
  const std::vector<Entry>& entries() const { return entries_; }

  // {"name": value, ...}; keys sorted by name.
  nlohmann::json to_json() const;
  // {"name": {"description": ..., "unit": ...}, ...}
  nlohmann::json describe_json() const;
  // "name  value unit" per line for the names starting with `prefix` that are not zero (all when
  // include_zero), in registration order.
  std::string table(const std::string& prefix = "", bool include_zero = false) const;

 private:
  std::size_t add(Entry entry);
  std::vector<Entry> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace spiketile::sim
