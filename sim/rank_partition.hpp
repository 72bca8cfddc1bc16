// Which rank simulates which chips of a mapping, for a run over MPI ranks: whole chips per rank,
// contiguous in chip order (the system's chips are a chain or a mesh numbered row by row, so a
// contiguous range keeps neighbours together), split to even out the work and, among the splits
// that do, to cut the least inter-chip traffic. Pure: the compiler's expected traffic decides.
#pragma once

#include <string>
#include <vector>

#include "compiler/mapping.hpp"

namespace spiketile::sim {

struct RankPartition {
  std::vector<int> rank_of_chip;          // per chip of the system
  std::vector<std::vector<int>> chips;    // per rank, the chips it simulates
  std::vector<int> units;                 // per rank, the units on its chips
  std::vector<double> load;               // per rank, expected flits delivered into its cores per token
  double cut_flits_per_token = 0;         // expected flits per token between units of different ranks
  double total_flits_per_token = 0;       // all expected flits per token between units
  // One line: "4 ranks: chips 0 | 1 | 2 | 3; units 64 / 64 / 64 / 63; ...".
  std::string describe() const;
};

// Refuses (std::invalid_argument, naming both numbers) more ranks than chips that hold units.
RankPartition partition_chips(const Mapping& mapping, int chip_count, int ranks);

}  // namespace spiketile::sim
