#include "sim/rank_partition.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace spiketile::sim {

namespace {

// Visits every way to cut `n` items into `parts` contiguous non-empty ranges (cut positions
// strictly increasing in 1..n-1).
template <class F>
void for_each_split(int n, int parts, std::vector<int>& cuts, F&& visit) {
  if (int(cuts.size()) == parts - 1) {
    visit(cuts);
    return;
  }
  const int from = cuts.empty() ? 1 : cuts.back() + 1;
  const int left = parts - 1 - int(cuts.size());
  for (int c = from; c <= n - left; ++c) {
    cuts.push_back(c);
    for_each_split(n, parts, cuts, visit);
    cuts.pop_back();
  }
}

}  // namespace

RankPartition partition_chips(const Mapping& m, int chip_count, int ranks) {
  if (ranks < 1) throw std::invalid_argument(fmt::format("{} ranks: a run needs at least one", ranks));
  std::vector<int> units_on(std::size_t(chip_count), 0);
  for (const auto& core : m.unit_cores) ++units_on.at(std::size_t(core.chip));
  std::vector<int> used;  // chips holding units, in order
  for (int c = 0; c < chip_count; ++c)
    if (units_on[std::size_t(c)] > 0) used.push_back(c);
  if (ranks > int(used.size()))
    throw std::invalid_argument(fmt::format(
        "{} ranks for a mapping whose units sit on {} chip{} of {}: every rank simulates whole chips, so at most {} "
        "rank{} can take part (run mpirun with -n {} or fewer, or compile onto more chips)",
        ranks, used.size(), used.size() == 1 ? "" : "s", chip_count, used.size(), used.size() == 1 ? "" : "s",
        used.size()));
  // Expected flits per token delivered into each chip, and between each pair of units' chips.
  std::vector<double> delivered(std::size_t(chip_count), 0.0);
  std::vector<std::vector<double>> between(std::size_t(chip_count), std::vector<double>(std::size_t(chip_count), 0.0));
  double total = 0;
  for (const auto& flow : m.flows) {
    const int from = m.unit_cores[std::size_t(flow.source)].chip;
    for (int d : flow.destinations) {
      const int to = m.unit_cores[std::size_t(d)].chip;
      delivered[std::size_t(to)] += flow.flits_per_token;
      between[std::size_t(from)][std::size_t(to)] += flow.flits_per_token;
      total += flow.flits_per_token;
    }
  }
  // A split of the used chips; a chip without units goes with the used chip before it (or the
  // first rank), so its routers stay with their neighbours.
  auto assign = [&](const std::vector<int>& cuts) {
    std::vector<int> rank_of(std::size_t(chip_count), 0);
    int rank = 0;
    std::size_t next_cut = 0;
    for (std::size_t k = 0; k < used.size(); ++k) {
      if (next_cut < cuts.size() && int(k) == cuts[next_cut]) {
        ++rank;
        ++next_cut;
      }
      rank_of[std::size_t(used[k])] = rank;
    }
    int current = 0;
    for (int c = 0; c < chip_count; ++c) {
      if (units_on[std::size_t(c)] > 0) current = rank_of[std::size_t(c)];
      else rank_of[std::size_t(c)] = current;
    }
    return rank_of;
  };
  auto score = [&](const std::vector<int>& rank_of, double& worst, double& cut) {
    std::vector<double> load(std::size_t(ranks), 0.0);
    for (int c = 0; c < chip_count; ++c) load[std::size_t(rank_of[std::size_t(c)])] += delivered[std::size_t(c)] + units_on[std::size_t(c)];
    worst = *std::max_element(load.begin(), load.end());
    cut = 0;
    for (int a = 0; a < chip_count; ++a)
      for (int b = 0; b < chip_count; ++b)
        if (rank_of[std::size_t(a)] != rank_of[std::size_t(b)]) cut += between[std::size_t(a)][std::size_t(b)];
  };
  std::vector<int> best;
  double best_worst = std::numeric_limits<double>::infinity(), best_cut = best_worst;
  std::vector<int> cuts;
  for_each_split(int(used.size()), ranks, cuts, [&](const std::vector<int>& split) {
    const std::vector<int> rank_of = assign(split);
    double worst = 0, cut = 0;
    score(rank_of, worst, cut);
    // Even work first (within 1 %: the estimate is no finer), then the least traffic between ranks.
    const bool better = worst < best_worst * 0.99 || (worst <= best_worst * 1.01 && cut < best_cut);
    if (best.empty() || better) {
      best = rank_of;
      best_worst = worst;
      best_cut = cut;
    }
  });
  RankPartition p;
  p.rank_of_chip = best;
  p.chips.resize(std::size_t(ranks));
  p.units.assign(std::size_t(ranks), 0);
  p.load.assign(std::size_t(ranks), 0.0);
  for (int c = 0; c < chip_count; ++c) {
    const auto r = std::size_t(best[std::size_t(c)]);
    p.chips[r].push_back(c);
    p.units[r] += units_on[std::size_t(c)];
    p.load[r] += delivered[std::size_t(c)];
  }
  p.cut_flits_per_token = best_cut;
  p.total_flits_per_token = total;
  return p;
}

std::string RankPartition::describe() const {
  std::vector<std::string> chip_lists, unit_counts;
  for (std::size_t r = 0; r < chips.size(); ++r) {
    chip_lists.push_back(chips[r].size() == 1 ? std::to_string(chips[r][0])
                                              : fmt::format("{}-{}", chips[r].front(), chips[r].back()));
    unit_counts.push_back(std::to_string(units[r]));
  }
  return fmt::format("{} rank{}: chips {}; units {}; {:.0f} of {:.0f} expected flits per token cross ranks ({:.1f} %)",
                     chips.size(), chips.size() == 1 ? "" : "s", fmt::join(chip_lists, " | "),
                     fmt::join(unit_counts, " / "), cut_flits_per_token, total_flits_per_token,
                     total_flits_per_token > 0 ? 100.0 * cut_flits_per_token / total_flits_per_token : 0.0);
}

}  // namespace spiketile::sim
