// Placement of compute units onto the cores of a chip system, and the network model it optimises.
//
// The lowering produces units (one core each) and flows (a source unit multicasting events to a set
// of destination units, weighted by expected flits per token). `place` assigns units to cores so
// that Σ_flows weight × (multicast tree size) is small, where the tree is the exact dimension-order
// multicast tree the routers will build (compiler/routing.hpp walks the same routes hop by hop).
//
// Network model (docs/chip.md, "Chips, meshes and gateways"):
//  * Within a chip, dimension-order routing (router.routing: xy = columns first, then rows; yx the
//    reverse); a hop is one mesh link.
//  * Across chips, the same dimension order at chip level: a packet first crosses chips along the
//    first axis (for xy: chip columns, east/west), then along the second. To leave a chip it heads
//    for the gateway on the facing edge nearest to the router where it starts heading there (ties:
//    the lower offset), dimension-order on the way, crosses the inter-chip link to the gateway
//    opposite, and continues from there. Because "nearest to where I am" stays the same as the
//    packet approaches that gateway, every router can take this decision from its own position and
//    the destination (unicast packets need no table), and the routes from one source form a tree:
//    each chip is entered at exactly one router.
//  * A gateway's inter-chip link uses its otherwise unconnected edge-facing port (the E port of an
//    east-edge gateway), so routers keep their 5 ports (N, E, S, W, local) and a corner router that is
//    a gateway on two edges owns two distinct inter-chip ports.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"

namespace spiketile {

struct CoreCoord {
  int chip = 0, row = 0, col = 0;
  bool operator==(const CoreCoord& o) const { return chip == o.chip && row == o.row && col == o.col; }
  bool operator!=(const CoreCoord& o) const { return !(*this == o); }
};

// Cores are numbered chip by chip, row-major within a chip.
inline int linear_core_index(const CoreCoord& c, int mesh_rows, int mesh_cols) {
  return (c.chip * mesh_rows + c.row) * mesh_cols + c.col;
}

std::string to_string(const CoreCoord& c);  // "chip 2 (row 3, col 4)"

enum class Port : uint8_t { north = 0, east = 1, south = 2, west = 3, local = 4 };
inline constexpr int kPortCount = 5;
inline constexpr int kMeshPortCount = 4;  // N, E, S, W: the ports that lead to another router
const char* port_name(Port port);         // "N", "E", "S", "W", "local"

enum class DimensionOrder { xy, yx };

// Links traversed: mesh links and inter-chip links separately, since the latter are costlier.
struct HopCount {
  int64_t mesh = 0;
  int64_t inter_chip = 0;
  int64_t total() const { return mesh + inter_chip; }
  // Mesh-hop equivalents: an inter-chip crossing counts `inter_chip_hop_weight` mesh hops.
  double weighted(double inter_chip_hop_weight) const { return double(mesh) + inter_chip_hop_weight * double(inter_chip); }
  bool operator==(const HopCount& o) const { return mesh == o.mesh && inter_chip == o.inter_chip; }
};

// Explicit numbers, for tests and what-if studies; Topology(ChipSpec) fills the same fields.
struct TopologyParams {
  std::string name = "hand-built";
  int chip_grid_rows = 1;  // chips are numbered row-major in this grid; a chain is 1 × chip_count
  int chip_grid_cols = 1;
  int mesh_rows = 1;
  int mesh_cols = 1;
  int gateways_per_edge = 1;
  DimensionOrder routing = DimensionOrder::xy;
  double inter_chip_hop_weight = 1.0;
  int routing_table_entries = 256;  // per router; 0 = unicast only
  int input_buffer_depth_flits = 4;
};

class Topology {
 public:
  explicit Topology(const TopologyParams& params);
  // inter_chip_hop_weight defaults to default_inter_chip_hop_weight(spec); pass a value to override.
  explicit Topology(const ChipSpec& spec, double inter_chip_hop_weight = -1.0);

  // Cycles a flit spends crossing one inter-chip link over the cycles it spends on one mesh hop:
  //   (inter_chip_link.latency_cycles + ceil(flit_bits / inter_chip_link.bandwidth_bits_per_cycle))
  //   / (router.pipeline_latency_cycles + mesh.link.latency_cycles + 1 / mesh.link.bandwidth_flits_per_cycle)
  // i.e. latency plus serialisation on each side. Default and large chips: (20 + 4) / (2 + 1 + 1) = 6.
  // The gateway routers at both ends are counted as ordinary mesh hops beside the crossing.
  static double default_inter_chip_hop_weight(const ChipSpec& spec);

  const TopologyParams& params() const { return params_; }
  const std::string& name() const { return params_.name; }
  int chip_count() const { return params_.chip_grid_rows * params_.chip_grid_cols; }
  int mesh_rows() const { return params_.mesh_rows; }
  int mesh_cols() const { return params_.mesh_cols; }
  int cores_per_chip() const { return params_.mesh_rows * params_.mesh_cols; }
  int core_count() const { return chip_count() * cores_per_chip(); }
  double inter_chip_hop_weight() const { return params_.inter_chip_hop_weight; }
  DimensionOrder routing() const { return params_.routing; }
  int routing_table_entries() const { return params_.routing_table_entries; }
  int input_buffer_depth_flits() const { return params_.input_buffer_depth_flits; }
  std::string describe() const;  // "16 chips (4 × 4 grid) × 16 × 16 cores = 4096 cores"

  int chip_row(int chip) const { return chip / params_.chip_grid_cols; }
  int chip_col(int chip) const { return chip % params_.chip_grid_cols; }
  int core_index(const CoreCoord& c) const { return linear_core_index(c, params_.mesh_rows, params_.mesh_cols); }
  CoreCoord coord(int core) const;
  bool contains(const CoreCoord& c) const;

  // Offsets of the gateway routers along east/west edges (rows) and north/south edges (columns).
  const std::vector<int>& gateway_rows() const { return gateway_rows_; }
  const std::vector<int>& gateway_cols() const { return gateway_cols_; }

  // Links of the unicast route from a to b (the path `route_step` follows).
  HopCount distance(const CoreCoord& a, const CoreCoord& b) const;
  int64_t hops(const CoreCoord& a, const CoreCoord& b) const { return distance(a, b).total(); }
  double cost(const CoreCoord& a, const CoreCoord& b) const { return distance(a, b).weighted(inter_chip_hop_weight()); }

  // The router reached through `port` of router `core` (a mesh neighbour, or across the inter-chip
  // link when `core` is a gateway on that edge), or -1 where the port leads nowhere.
  int neighbor(int core, Port port) const;
  bool is_inter_chip_port(int core, Port port) const;
  // The port a packet at `core` bound for `destination` leaves by (local once it has arrived).
  Port route_step(int core, int destination) const;

  // Internal coordinates in which the routing order is always "first axis a, then axis b"
  // (xy: a = column, b = row; yx: a = row, b = column), at both chip and core level.
  struct Frame {
    int32_t chip, a, b, chip_a, chip_b;
  };
  const Frame& frame(int core) const { return frames_[std::size_t(core)]; }
  int a_extent() const { return a_extent_; }            // mesh size along a
  int b_extent() const { return b_extent_; }            // mesh size along b
  int chip_a_extent() const { return chip_a_extent_; }  // chip grid size along a
  int chip_b_extent() const { return chip_b_extent_; }
  // Nearest gateway on an a-facing edge (offset along b) to position b, and vice versa.
  int nearest_gateway_b(int b) const { return nearest_gateway_b_[std::size_t(b)]; }
  int nearest_gateway_a(int a) const { return nearest_gateway_a_[std::size_t(a)]; }
  // Ports for moving along the frame axes.
  Port port_a(int direction) const { return direction > 0 ? a_plus_ : a_minus_; }
  Port port_b(int direction) const { return direction > 0 ? b_plus_ : b_minus_; }
  int chip_at(int chip_a, int chip_b) const;
  int core_at(int chip, int a, int b) const;

 private:
  void build();
  TopologyParams params_;
  std::vector<int> gateway_rows_, gateway_cols_;
  std::vector<char> is_gateway_row_, is_gateway_col_;
  std::vector<Frame> frames_;
  std::vector<int> nearest_gateway_a_, nearest_gateway_b_;
  int a_extent_ = 0, b_extent_ = 0, chip_a_extent_ = 0, chip_b_extent_ = 0;
  Port a_plus_ = Port::east, a_minus_ = Port::west, b_plus_ = Port::south, b_minus_ = Port::north;
};

// Exact size of the dimension-order multicast tree from `source_core` to `destination_cores` (core
// indices; duplicates and the source itself add nothing): per chip visited, the dimension-order tree
// from the router where the packet enters (or the source) to that chip's destinations and exit
// gateways, plus one inter-chip hop for each chip entered. Equals the link count of the tree
// compiler/routing.hpp builds hop by hop. A single destination gives Topology::distance.
HopCount multicast_tree_hops(const Topology& topology, int source_core, const std::vector<int>& destination_cores);

struct Flow {
  int source = 0;                 // unit index
  std::vector<int> destinations;  // unit indices
  double flits_per_token = 0.0;   // expected traffic, the flow's weight
};

class PlacementError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct PlacementOptions {
  uint64_t seed = 0x5eedf07u;
  // Annealing budget: moves_per_unit × num_units proposed moves, at least min_moves (small problems
  // are cheap and converge better with more) and at most max_moves; moves_per_unit ≤ 0 keeps the
  // constructive placement. Each move re-prices only the flows touching the one or two units it
  // moves, so time grows with moves × (flows per unit) × (destinations per flow): about 2-3 s for
  // 4,000 units and 20,000 flows on chips/large.yaml (bench/bench_placement.cpp).
  double moves_per_unit = 120.0;
  int64_t min_moves = 50'000;
  int64_t max_moves = 2'000'000;
};

struct Placement {
  std::vector<CoreCoord> unit_cores;  // where each unit sits
  // Σ_flows flits_per_token × multicast tree size in mesh-hop equivalents (HopCount::weighted).
  double cost = 0.0;
  double baseline_cost = 0.0;      // units in index order on cores in index order (row-major, chip by chip)
  double constructive_cost = 0.0;  // the best constructive start, before annealing
  // A cost no placement can beat (see lower_bound in placement.cpp): every destination other than
  // the source needs its own link into it, and a flow with more units than a chip holds must cross
  // at least ceil(units / cores_per_chip) - 1 inter-chip links.
  double lower_bound = 0.0;
  double mesh_flit_hops_per_token = 0.0;    // Σ flits_per_token × mesh links of the tree
  double inter_chip_flits_per_token = 0.0;  // Σ flits_per_token × inter-chip links of the tree
  std::string start;                        // the constructive start annealing refined
  int64_t moves_proposed = 0;
  int64_t moves_accepted = 0;

  std::vector<int> unit_core_indices(const Topology& topology) const;
  std::string summary() const;  // "cost X (baseline Y, lower bound Z)"
};

// Places units one per core. Constructive starts: the baseline, units in index order along a
// space-filling order of the cores (chips in serpentine order, a generalised Hilbert curve within
// each chip), units in Cuthill–McKee order of the flow graph along it, and units in a spectral (2D
// Laplacian embedding) order along it; the cheapest is refined by simulated annealing with the
// budget of PlacementOptions, and the result is never worse than that start.
//
// Deterministic: the same topology, unit count, flows (in any order, destinations in any order)
// and options give the identical placement. Single-threaded, own RNG (no std distributions, whose
// output differs between standard libraries). Throws PlacementError if the units do not fit and
// std::invalid_argument for flows naming units outside [0, num_units) or negative weights.
Placement place(const Topology& topology, int num_units, const std::vector<Flow>& flows,
                const PlacementOptions& options = {});

// Σ_flows flits_per_token × multicast tree size (mesh-hop equivalents) of a given placement.
double placement_cost(const Topology& topology, const std::vector<CoreCoord>& unit_cores, const std::vector<Flow>& flows);

// The cost lower bound `place` reports (independent of any placement).
double placement_lower_bound(const Topology& topology, const std::vector<Flow>& flows);

}  // namespace spiketile
