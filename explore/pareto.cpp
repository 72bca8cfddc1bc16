#include "explore/pareto.hpp"

namespace spiketile::explore {

namespace {
bool dominates(const Objectives& a, const Objectives& b) {
  return a.energy <= b.energy && a.latency <= b.latency && (a.energy < b.energy || a.latency < b.latency);
}
}  // namespace

std::vector<bool> pareto_front(const std::vector<Objectives>& points) {
  std::vector<bool> on_front(points.size(), true);
  for (std::size_t i = 0; i < points.size(); ++i)
    for (std::size_t j = 0; j < points.size() && on_front[i]; ++j)
      if (j != i && dominates(points[j], points[i])) on_front[i] = false;
  return on_front;
}

}  // namespace spiketile::explore
