// The chips of a run over MPI ranks: whole chips per rank, contiguous, the busiest rank's expected
// work as small as it gets, then the least traffic between ranks; more ranks than chips refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "compiler/mapping_io.hpp"
#include "sim/rank_partition.hpp"
#include "tests/unit/shipped_fixtures.hpp"

namespace spiketile::sim {
namespace {

// 4 × 4 cores per chip: the shipped model's units spread over several chips.
std::shared_ptr<const Mapping> spread_mapping() {
  return test_fixtures::shipped_on_default_chip({{"rows: 8", "rows: 4"}, {"cols: 8", "cols: 4"}});
}

TEST(RankPartition, WholeChipsInOrderWithTheBusiestRankNoBusierThanAnEvenSplit) {
  const auto mapping = spread_mapping();
  const int chips = mapping_chip_spec(*mapping).system.chip_count;
  std::set<int> used;
  for (const auto& core : mapping->unit_cores) used.insert(core.chip);
  ASSERT_GE(used.size(), 4u);
  for (int ranks = 1; ranks <= int(used.size()); ++ranks) {
    const RankPartition p = partition_chips(*mapping, chips, ranks);
    ASSERT_EQ(p.chips.size(), std::size_t(ranks));
    int previous = -1;
    for (std::size_t r = 0; r < p.chips.size(); ++r) {
      ASSERT_FALSE(p.chips[r].empty());
      EXPECT_GT(p.units[r], 0) << "rank " << r;
      for (int c : p.chips[r]) {
        EXPECT_EQ(c, ++previous);  // contiguous, in order, every chip once
        EXPECT_EQ(p.rank_of_chip[std::size_t(c)], int(r));
      }
    }
    EXPECT_EQ(previous, chips - 1);
    EXPECT_EQ(std::accumulate(p.units.begin(), p.units.end(), 0), int(mapping->units.size()));
    if (ranks == 1) EXPECT_EQ(p.cut_flits_per_token, 0.0);
    else EXPECT_GT(p.cut_flits_per_token, 0.0);
    EXPECT_LT(p.cut_flits_per_token, p.total_flits_per_token);
    // The chosen split's busiest rank (delivered flits + units) against handing each rank the
    // same number of used chips.
    std::vector<double> load(std::size_t(chips), 0.0);
    for (const auto& flow : mapping->flows)
      for (int d : flow.destinations) load[std::size_t(mapping->unit_cores[std::size_t(d)].chip)] += flow.flits_per_token;
    for (const auto& core : mapping->unit_cores) load[std::size_t(core.chip)] += 1;
    auto busiest = [&](const std::vector<int>& rank_of) {
      std::vector<double> per_rank(std::size_t(ranks), 0.0);
      for (int c = 0; c < chips; ++c) per_rank[std::size_t(rank_of[std::size_t(c)])] += load[std::size_t(c)];
      return *std::max_element(per_rank.begin(), per_rank.end());
    };
    const std::vector<int> used_chips(used.begin(), used.end());
    std::vector<int> even(std::size_t(chips), 0);
    for (int c = 0, k = 0; c < chips; ++c) {
      if (used.count(c)) even[std::size_t(c)] = int(std::size_t(k++) * std::size_t(ranks) / used_chips.size());
      else even[std::size_t(c)] = c == 0 ? 0 : even[std::size_t(c - 1)];
    }
    EXPECT_LE(busiest(p.rank_of_chip), busiest(even) * 1.01) << p.describe();
    EXPECT_NE(p.describe().find(std::to_string(ranks) + (ranks == 1 ? " rank: chips " : " ranks: chips ")), std::string::npos)
        << p.describe();
  }
}

TEST(RankPartition, MoreRanksThanChipsWithUnitsAreRefused) {
  const auto mapping = test_fixtures::shipped_on_default_chip();  // one chip holds every unit
  try {
    partition_chips(*mapping, 4, 2);
    FAIL() << "2 ranks on one chip accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("2 ranks for a mapping whose units sit on 1 chip of 4"), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("at most 1 rank can take part"), std::string::npos) << e.what();
  }
  EXPECT_THROW(partition_chips(*mapping, 4, 0), std::invalid_argument);
  EXPECT_NO_THROW(partition_chips(*mapping, 4, 1));
}

}  // namespace
}  // namespace spiketile::sim
