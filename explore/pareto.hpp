// The Pareto front of a sweep: the points no other point beats on both energy and latency per
// token (both lower is better).
#pragma once

#include <vector>

namespace spiketile::explore {

struct Objectives {
  double energy = 0;   // per token
  double latency = 0;  // per token
};

// on_front[i]: no point j is at least as good as i on both objectives and better on one. Equal
// points are all on the front (neither dominates the other). Quadratic: sweeps are small.
std::vector<bool> pareto_front(const std::vector<Objectives>& points);

}  // namespace spiketile::explore
