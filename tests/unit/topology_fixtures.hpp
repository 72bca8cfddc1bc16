// Hand-built topologies shared by the placement and routing tests.
#pragma once

#include <string>

#include "compiler/placement.hpp"

namespace spiketile::test_fixtures {

inline const std::string kChipsDir = std::string(SPIKETILE_SOURCE_DIR) + "/chips/";

// A grid_rows × grid_cols system of rows × cols meshes.
inline Topology hand_grid(int grid_rows, int grid_cols, int rows, int cols, int gateways, DimensionOrder order,
                          double inter_chip_hop_weight = 1.0, int table_entries = 1 << 16) {
  TopologyParams p;
  p.chip_grid_rows = grid_rows;
  p.chip_grid_cols = grid_cols;
  p.mesh_rows = rows;
  p.mesh_cols = cols;
  p.gateways_per_edge = gateways;
  p.routing = order;
  p.inter_chip_hop_weight = inter_chip_hop_weight;
  p.routing_table_entries = table_entries;
  return Topology(p);
}

}  // namespace spiketile::test_fixtures
