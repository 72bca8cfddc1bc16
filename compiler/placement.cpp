#include "compiler/placement.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <cmath>
#include <numeric>
#include <stdexcept>

namespace spiketile {

std::string to_string(const CoreCoord& c) { return fmt::format("chip {} (row {}, col {})", c.chip, c.row, c.col); }

const char* port_name(Port port) {
  switch (port) {
    case Port::north: return "N";
    case Port::east: return "E";
    case Port::south: return "S";
    case Port::west: return "W";
    case Port::local: return "local";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------
// Topology
// ---------------------------------------------------------------------------------------------

namespace {

// Same formula as ChipSpec::gateway_offsets, for hand-built topologies.
std::vector<int> evenly_spread_gateways(int gateways, int edge_length) {
  gateways = std::min(gateways, edge_length);
  std::vector<int> offsets;
  for (int k = 0; k < gateways; ++k) offsets.push_back((2 * k + 1) * edge_length / (2 * gateways));
  return offsets;
}

// For each position 0..length-1 the nearest offset (ties: the lower one); -1 without offsets.
std::vector<int> nearest_offsets(const std::vector<int>& offsets, int length) {
  std::vector<int> nearest(std::size_t(length), -1);
  for (int x = 0; x < length; ++x)
    for (int o : offsets)
      if (nearest[std::size_t(x)] < 0 || std::abs(o - x) < std::abs(nearest[std::size_t(x)] - x)) nearest[std::size_t(x)] = o;
  return nearest;
}

std::vector<char> membership(const std::vector<int>& offsets, int length) {
  std::vector<char> is(std::size_t(length), 0);
  for (int o : offsets) is[std::size_t(o)] = 1;
  return is;
}

}  // namespace

Topology::Topology(const TopologyParams& params) : params_(params) {
  gateway_rows_ = evenly_spread_gateways(params_.gateways_per_edge, params_.mesh_rows > 0 ? params_.mesh_rows : 0);
  gateway_cols_ = evenly_spread_gateways(params_.gateways_per_edge, params_.mesh_cols > 0 ? params_.mesh_cols : 0);
  build();
}

double Topology::default_inter_chip_hop_weight(const ChipSpec& spec) {
  const double mesh_hop_cycles = double(spec.router.pipeline_latency_cycles) + double(spec.mesh.link.latency_cycles) +
                                 1.0 / double(std::max(1, spec.mesh.link.bandwidth_flits_per_cycle));
  const double crossing_cycles =
      double(spec.system.inter_chip_link.latency_cycles) + double(spec.inter_chip_cycles_per_flit());
  return mesh_hop_cycles > 0 ? crossing_cycles / mesh_hop_cycles : 1.0;
}

Topology::Topology(const ChipSpec& spec, double inter_chip_hop_weight) {
  params_.name = spec.name;
  if (spec.system.topology.impl == "grid_2d") {
    params_.chip_grid_rows = spec.system.topology.grid_rows;
    params_.chip_grid_cols = spec.system.topology.grid_cols;
  } else {
    params_.chip_grid_rows = 1;
    params_.chip_grid_cols = spec.system.chip_count;
  }
  params_.mesh_rows = spec.mesh.rows;
  params_.mesh_cols = spec.mesh.cols;
  params_.gateways_per_edge = spec.system.inter_chip_link.gateways_per_edge;
  params_.routing = spec.router.routing == "yx" ? DimensionOrder::yx : DimensionOrder::xy;
  params_.inter_chip_hop_weight =
      inter_chip_hop_weight >= 0 ? inter_chip_hop_weight : default_inter_chip_hop_weight(spec);
  params_.routing_table_entries = spec.router.routing_table_entries;
  params_.input_buffer_depth_flits = spec.router.input_buffer_depth_flits;
  // The spec's own placement rule, so gateways never drift from what docs/chip.md states.
  gateway_rows_ = spec.gateway_offsets(spec.mesh.rows);
  gateway_cols_ = spec.gateway_offsets(spec.mesh.cols);
  build();
}

void Topology::build() {
  const TopologyParams& p = params_;
  if (p.chip_grid_rows < 1 || p.chip_grid_cols < 1 || p.mesh_rows < 1 || p.mesh_cols < 1)
    throw std::invalid_argument(fmt::format("topology '{}': chip grid {} × {} and mesh {} × {} must all be positive",
                                            p.name, p.chip_grid_rows, p.chip_grid_cols, p.mesh_rows, p.mesh_cols));
  if (int64_t(p.chip_grid_rows) * p.chip_grid_cols * p.mesh_rows * p.mesh_cols > (int64_t{1} << 30))
    throw std::invalid_argument(fmt::format("topology '{}' has too many cores to index", p.name));
  if (chip_count() > 1 && p.gateways_per_edge < 1)
    throw std::invalid_argument(fmt::format("topology '{}': {} chips need at least one gateway per facing edge",
                                            p.name, chip_count()));
  if (!(p.inter_chip_hop_weight >= 0) || !std::isfinite(p.inter_chip_hop_weight))
    throw std::invalid_argument(fmt::format("topology '{}': inter_chip_hop_weight must be finite and ≥ 0, got {}",
                                            p.name, p.inter_chip_hop_weight));
  if (p.routing_table_entries < 0 || p.input_buffer_depth_flits < 1)
    throw std::invalid_argument(fmt::format("topology '{}': routing_table_entries must be ≥ 0 and "
                                            "input_buffer_depth_flits ≥ 1", p.name));
  is_gateway_row_ = membership(gateway_rows_, p.mesh_rows);
  is_gateway_col_ = membership(gateway_cols_, p.mesh_cols);

  const bool xy = p.routing == DimensionOrder::xy;
  a_extent_ = xy ? p.mesh_cols : p.mesh_rows;
  b_extent_ = xy ? p.mesh_rows : p.mesh_cols;
  chip_a_extent_ = xy ? p.chip_grid_cols : p.chip_grid_rows;
  chip_b_extent_ = xy ? p.chip_grid_rows : p.chip_grid_cols;
  a_plus_ = xy ? Port::east : Port::south;
  a_minus_ = xy ? Port::west : Port::north;
  b_plus_ = xy ? Port::south : Port::east;
  b_minus_ = xy ? Port::north : Port::west;
  // Gateways on the edges an a-move leaves by are spread along b, and vice versa.
  nearest_gateway_b_ = nearest_offsets(xy ? gateway_rows_ : gateway_cols_, b_extent_);
  nearest_gateway_a_ = nearest_offsets(xy ? gateway_cols_ : gateway_rows_, a_extent_);

  frames_.resize(std::size_t(core_count()));
  for (int core = 0; core < core_count(); ++core) {
    const CoreCoord c = coord(core);
    Frame& f = frames_[std::size_t(core)];
    f.chip = c.chip;
    f.a = xy ? c.col : c.row;
    f.b = xy ? c.row : c.col;
    f.chip_a = xy ? chip_col(c.chip) : chip_row(c.chip);
    f.chip_b = xy ? chip_row(c.chip) : chip_col(c.chip);
  }
}

std::string Topology::describe() const {
  const std::string chips =
      params_.chip_grid_rows == 1
          ? fmt::format("{} chip{}{}", chip_count(), chip_count() == 1 ? "" : "s", chip_count() > 1 ? " (chain)" : "")
          : fmt::format("{} chips ({} × {} grid)", chip_count(), params_.chip_grid_rows, params_.chip_grid_cols);
  return fmt::format("{} × {} × {} cores = {} cores", chips, params_.mesh_rows, params_.mesh_cols, core_count());
}

CoreCoord Topology::coord(int core) const {
  const int per_chip = cores_per_chip();
  const int within = core % per_chip;
  return CoreCoord{core / per_chip, within / params_.mesh_cols, within % params_.mesh_cols};
}

bool Topology::contains(const CoreCoord& c) const {
  return c.chip >= 0 && c.chip < chip_count() && c.row >= 0 && c.row < params_.mesh_rows && c.col >= 0 &&
         c.col < params_.mesh_cols;
}

int Topology::chip_at(int chip_a, int chip_b) const {
  return params_.routing == DimensionOrder::xy ? chip_b * params_.chip_grid_cols + chip_a
                                               : chip_a * params_.chip_grid_cols + chip_b;
}

int Topology::core_at(int chip, int a, int b) const {
  return params_.routing == DimensionOrder::xy ? linear_core_index({chip, b, a}, params_.mesh_rows, params_.mesh_cols)
                                               : linear_core_index({chip, a, b}, params_.mesh_rows, params_.mesh_cols);
}

int Topology::neighbor(int core, Port port) const {
  const CoreCoord c = coord(core);
  const int rows = params_.mesh_rows, cols = params_.mesh_cols;
  const int grid_cols = params_.chip_grid_cols;
  switch (port) {
    case Port::north:
      if (c.row > 0) return core_index({c.chip, c.row - 1, c.col});
      if (chip_row(c.chip) > 0 && is_gateway_col_[std::size_t(c.col)]) return core_index({c.chip - grid_cols, rows - 1, c.col});
      return -1;
    case Port::south:
      if (c.row < rows - 1) return core_index({c.chip, c.row + 1, c.col});
      if (chip_row(c.chip) < params_.chip_grid_rows - 1 && is_gateway_col_[std::size_t(c.col)])
        return core_index({c.chip + grid_cols, 0, c.col});
      return -1;
    case Port::east:
      if (c.col < cols - 1) return core_index({c.chip, c.row, c.col + 1});
      if (chip_col(c.chip) < grid_cols - 1 && is_gateway_row_[std::size_t(c.row)]) return core_index({c.chip + 1, c.row, 0});
      return -1;
    case Port::west:
      if (c.col > 0) return core_index({c.chip, c.row, c.col - 1});
      if (chip_col(c.chip) > 0 && is_gateway_row_[std::size_t(c.row)]) return core_index({c.chip - 1, c.row, cols - 1});
      return -1;
    case Port::local: return -1;
  }
  return -1;
}

bool Topology::is_inter_chip_port(int core, Port port) const {
  const int next = neighbor(core, port);
  return next >= 0 && next / cores_per_chip() != core / cores_per_chip();
}

Port Topology::route_step(int core, int destination) const {
  const Frame& v = frame(core);
  const Frame& d = frame(destination);
  auto toward = [](int from, int to) { return to > from ? 1 : -1; };
  if (v.chip == d.chip) {
    if (v.a != d.a) return port_a(toward(v.a, d.a));
    if (v.b != d.b) return port_b(toward(v.b, d.b));
    return Port::local;
  }
  if (v.chip_a != d.chip_a) {  // cross chips along a first: to the gateway nearest along b
    const int direction = toward(v.chip_a, d.chip_a);
    const int edge = direction > 0 ? a_extent_ - 1 : 0;
    const int gateway = nearest_gateway_b(v.b);
    if (v.a != edge) return port_a(direction);
    if (v.b != gateway) return port_b(toward(v.b, gateway));
    return port_a(direction);  // the inter-chip link
  }
  const int direction = toward(v.chip_b, d.chip_b);
  const int edge = direction > 0 ? b_extent_ - 1 : 0;
  const int gateway = nearest_gateway_a(v.a);
  if (v.a != gateway) return port_a(toward(v.a, gateway));
  if (v.b != edge) return port_b(direction);
  return port_b(direction);
}

// ---------------------------------------------------------------------------------------------
// Multicast tree size
// ---------------------------------------------------------------------------------------------

namespace {

// Measures dimension-order multicast trees with scratch reused across calls (no allocation per
// flow, which matters inside the annealing loop).
class TreeMeter {
 public:
  explicit TreeMeter(const Topology& topology)
      : t_(topology),
        column_stamp_(std::size_t(topology.a_extent()), 0),
        column_low_(std::size_t(topology.a_extent()), 0),
        column_high_(std::size_t(topology.a_extent()), 0),
        chip_stamp_(std::size_t(topology.chip_count()), 0),
        chip_head_(std::size_t(topology.chip_count()), -1),
        line_stamp_(std::size_t(topology.chip_a_extent()), 0),
        line_low_(std::size_t(topology.chip_a_extent()), 0),
        line_high_(std::size_t(topology.chip_a_extent()), 0) {}

  HopCount measure(int source, const int* destinations, std::size_t count) {
    const Topology::Frame& s = t_.frame(source);
    bool single_chip = true;
    for (std::size_t i = 0; i < count && single_chip; ++i) single_chip = t_.frame(destinations[i]).chip == s.chip;
    if (single_chip) {
      begin(s.a, s.b);
      for (std::size_t i = 0; i < count; ++i) add(t_.frame(destinations[i]));
      return HopCount{finish(), 0};
    }
    return measure_across_chips(s, destinations, count);
  }

 private:
  // The dimension-order tree from (a0, b0): one run along b = b0 spanning every target's a, then
  // per target column a run along a = const from b0 to its farthest targets on either side.
  void begin(int a0, int b0) {
    ++stamp_;
    a0_ = a0;
    b0_ = b0;
    a_low_ = a_high_ = a0;
    touched_.clear();
  }
  void add(int a, int b) {
    a_low_ = std::min(a_low_, a);
    a_high_ = std::max(a_high_, a);
    const std::size_t column = std::size_t(a);
    if (column_stamp_[column] != stamp_) {
      column_stamp_[column] = stamp_;
      column_low_[column] = column_high_[column] = b0_;
      touched_.push_back(a);
    }
    column_low_[column] = std::min(column_low_[column], b);
    column_high_[column] = std::max(column_high_[column], b);
  }
  void add(const Topology::Frame& f) { add(f.a, f.b); }
  int64_t finish() const {
    int64_t links = a_high_ - a_low_;
    for (int a : touched_) links += column_high_[std::size_t(a)] - column_low_[std::size_t(a)];
    return links;
  }

  void add_bucket(int chip, const int* destinations) {
    if (chip_stamp_[std::size_t(chip)] != chip_stamp_counter_) return;
    for (int i = chip_head_[std::size_t(chip)]; i >= 0; i = next_[std::size_t(i)]) add(t_.frame(destinations[i]));
  }

  // Chip level repeats the dimension order: the chips on the source's chip line (b = source chip b)
  // from the lowest to the highest destination chip a, and from each of those chips a run along b to
  // the farthest destination chips in that chip column. Within each visited chip the tree runs from
  // its entry router to its destinations and exit gateways (see Topology::route_step for why the
  // gateways are the ones nearest the entry).
  HopCount measure_across_chips(const Topology::Frame& s, const int* destinations, std::size_t count) {
    ++chip_stamp_counter_;
    if (next_.size() < count) next_.resize(count);
    int line_low = s.chip_a, line_high = s.chip_a;
    for (std::size_t i = 0; i < count; ++i) {
      const Topology::Frame& f = t_.frame(destinations[i]);
      const std::size_t chip = std::size_t(f.chip);
      if (chip_stamp_[chip] != chip_stamp_counter_) {
        chip_stamp_[chip] = chip_stamp_counter_;
        chip_head_[chip] = -1;
      }
      next_[i] = chip_head_[chip];
      chip_head_[chip] = int(i);
      line_low = std::min(line_low, f.chip_a);
      line_high = std::max(line_high, f.chip_a);
      const std::size_t line = std::size_t(f.chip_a);
      if (line_stamp_[line] != chip_stamp_counter_) {
        line_stamp_[line] = chip_stamp_counter_;
        line_low_[line] = line_high_[line] = s.chip_b;
      }
      line_low_[line] = std::min(line_low_[line], f.chip_b);
      line_high_[line] = std::max(line_high_[line], f.chip_b);
    }
    const int a_last = t_.a_extent() - 1, b_last = t_.b_extent() - 1;
    const int exit_b = line_low < line_high ? t_.nearest_gateway_b(s.b) : 0;
    int64_t mesh = 0, chips_visited = 0;
    for (int chip_a = line_low; chip_a <= line_high; ++chip_a) {
      const int entry_a = chip_a == s.chip_a ? s.a : chip_a > s.chip_a ? 0 : a_last;
      const int entry_b = chip_a == s.chip_a ? s.b : exit_b;
      begin(entry_a, entry_b);
      add_bucket(t_.chip_at(chip_a, s.chip_b), destinations);
      if (chip_a >= s.chip_a && chip_a < line_high) add(a_last, exit_b);
      if (chip_a <= s.chip_a && chip_a > line_low) add(0, exit_b);
      const bool line_touched = line_stamp_[std::size_t(chip_a)] == chip_stamp_counter_;
      const int column_low = line_touched ? line_low_[std::size_t(chip_a)] : s.chip_b;
      const int column_high = line_touched ? line_high_[std::size_t(chip_a)] : s.chip_b;
      const int exit_a = column_low < column_high ? t_.nearest_gateway_a(entry_a) : 0;
      if (column_high > s.chip_b) add(exit_a, b_last);
      if (column_low < s.chip_b) add(exit_a, 0);
      mesh += finish();
      ++chips_visited;
      for (int chip_b = s.chip_b + 1; chip_b <= column_high; ++chip_b) {
        begin(exit_a, 0);
        add_bucket(t_.chip_at(chip_a, chip_b), destinations);
        if (chip_b < column_high) add(exit_a, b_last);
        mesh += finish();
        ++chips_visited;
      }
      for (int chip_b = s.chip_b - 1; chip_b >= column_low; --chip_b) {
        begin(exit_a, b_last);
        add_bucket(t_.chip_at(chip_a, chip_b), destinations);
        if (chip_b > column_low) add(exit_a, 0);
        mesh += finish();
        ++chips_visited;
      }
    }
    return HopCount{mesh, chips_visited - 1};
  }

  const Topology& t_;
  // Per-column extents of the tree being measured (stamped instead of cleared).
  std::vector<int> column_stamp_, column_low_, column_high_;
  std::vector<int> touched_;
  int stamp_ = 0, a0_ = 0, b0_ = 0, a_low_ = 0, a_high_ = 0;
  // Destinations bucketed by chip (linked lists through next_), chip-column extents per chip a.
  std::vector<int> chip_stamp_, chip_head_, next_;
  std::vector<int> line_stamp_, line_low_, line_high_;
  int chip_stamp_counter_ = 0;
};

}  // namespace

HopCount multicast_tree_hops(const Topology& topology, int source_core, const std::vector<int>& destination_cores) {
  if (source_core < 0 || source_core >= topology.core_count())
    throw std::invalid_argument(fmt::format("multicast source core {} is outside {}", source_core, topology.describe()));
  for (int d : destination_cores)
    if (d < 0 || d >= topology.core_count())
      throw std::invalid_argument(fmt::format("multicast destination core {} is outside {}", d, topology.describe()));
  TreeMeter meter(topology);
  return meter.measure(source_core, destination_cores.data(), destination_cores.size());
}

HopCount Topology::distance(const CoreCoord& a, const CoreCoord& b) const {
  if (!contains(a) || !contains(b))
    throw std::invalid_argument(fmt::format("distance between {} and {}: outside {}", to_string(a), to_string(b), describe()));
  const int destination = core_index(b);
  TreeMeter meter(*this);
  return meter.measure(core_index(a), &destination, 1);
}

// ---------------------------------------------------------------------------------------------
// Placement
// ---------------------------------------------------------------------------------------------

namespace {

// xoshiro256** seeded by splitmix64: fixed, portable output for a given seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& word : state_) {
      seed += 0x9e3779b97f4a7c15ull;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      word = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }
  // Uniform in [0, n) for n < 2^31 (Lemire's multiply-shift on 32 random bits; the bias of at most
  // n / 2^32 is irrelevant here).
  int below(int n) { return int(((next() >> 32) * uint64_t(n)) >> 32); }
  int between(int low, int high) { return low + below(high - low + 1); }
  double unit() { return double(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

// Flows in a canonical form that does not depend on the order they (or their destinations) were
// given in: destinations sorted and distinct, the source removed from its own destinations (it
// costs nothing), weightless or destinationless flows dropped, identical (source, destinations)
// merged with their weights summed, and the whole list sorted.
struct CanonicalFlows {
  std::vector<int> source;
  std::vector<int> begin;  // destinations of flow f: units[begin[f] .. begin[f + 1])
  std::vector<int> units;
  std::vector<double> weight;
  std::size_t size() const { return source.size(); }
  int destination_count(std::size_t f) const { return begin[f + 1] - begin[f]; }
};

CanonicalFlows canonicalize(int num_units, const std::vector<Flow>& flows) {
  struct Item {
    int source;
    std::vector<int> destinations;
    double weight;
  };
  std::vector<Item> items;
  items.reserve(flows.size());
  for (std::size_t f = 0; f < flows.size(); ++f) {
    const Flow& flow = flows[f];
    auto check_unit = [&](int unit, const char* role) {
      if (unit < 0 || unit >= num_units)
        throw std::invalid_argument(
            fmt::format("flow {}: {} unit {} is outside the {} units being placed", f, role, unit, num_units));
    };
    check_unit(flow.source, "source");
    for (int d : flow.destinations) check_unit(d, "destination");
    if (!(flow.flits_per_token >= 0) || !std::isfinite(flow.flits_per_token))
      throw std::invalid_argument(fmt::format("flow {}: flits_per_token must be finite and ≥ 0, got {}", f, flow.flits_per_token));
    Item item{flow.source, flow.destinations, flow.flits_per_token};
    std::sort(item.destinations.begin(), item.destinations.end());
    item.destinations.erase(std::unique(item.destinations.begin(), item.destinations.end()), item.destinations.end());
    item.destinations.erase(std::remove(item.destinations.begin(), item.destinations.end(), item.source),
                            item.destinations.end());
    if (item.destinations.empty() || item.weight == 0) continue;
    items.push_back(std::move(item));
  }
  std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) {
    if (x.source != y.source) return x.source < y.source;
    if (x.destinations != y.destinations) return x.destinations < y.destinations;
    return x.weight < y.weight;
  });
  CanonicalFlows c;
  c.begin.push_back(0);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const bool same_as_previous = i > 0 && items[i].source == items[i - 1].source &&
                                  items[i].destinations == items[i - 1].destinations;
    if (same_as_previous) {
      c.weight.back() += items[i].weight;
      continue;
    }
    c.source.push_back(items[i].source);
    c.units.insert(c.units.end(), items[i].destinations.begin(), items[i].destinations.end());
    c.begin.push_back(int(c.units.size()));
    c.weight.push_back(items[i].weight);
  }
  return c;
}

// Compressed adjacency: list u is items[offset[u] .. offset[u + 1]).
struct Adjacency {
  std::vector<int> offset, items;
  const int* begin(int u) const { return items.data() + offset[std::size_t(u)]; }
  const int* end(int u) const { return items.data() + offset[std::size_t(u) + 1]; }
  int count(int u) const { return offset[std::size_t(u) + 1] - offset[std::size_t(u)]; }
};

template <typename ForEachPair>
Adjacency build_adjacency(int num_units, ForEachPair for_each_pair, bool deduplicate) {
  Adjacency adjacency;
  adjacency.offset.assign(std::size_t(num_units) + 1, 0);
  for_each_pair([&](int unit, int) { ++adjacency.offset[std::size_t(unit) + 1]; });
  for (int u = 0; u < num_units; ++u) adjacency.offset[std::size_t(u) + 1] += adjacency.offset[std::size_t(u)];
  adjacency.items.resize(std::size_t(adjacency.offset.back()));
  std::vector<int> fill(adjacency.offset.begin(), adjacency.offset.end() - 1);
  for_each_pair([&](int unit, int item) { adjacency.items[std::size_t(fill[std::size_t(unit)]++)] = item; });
  if (!deduplicate) return adjacency;
  Adjacency unique;
  unique.offset.assign(std::size_t(num_units) + 1, 0);
  for (int u = 0; u < num_units; ++u) {
    std::vector<int> list(adjacency.begin(u), adjacency.end(u));
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
    unique.items.insert(unique.items.end(), list.begin(), list.end());
    unique.offset[std::size_t(u) + 1] = int(unique.items.size());
  }
  return unique;
}

// Lower bound of one flow's cost. A tree reaching k destinations on k distinct cores other than
// the source's has at least k links. Its k + 1 units need at least c = ceil((k + 1) / cores_per_chip)
// chips, and a tree spanning c chips crosses at least c - 1 inter-chip links. So the weighted size
// is at least (k - x) + x·w for some crossing count x ≥ c - 1, i.e. (k - (c - 1)) + (c - 1)·w when
// a crossing costs w ≥ 1 mesh hop, and k·w when it costs less.
double flow_lower_bound(int destinations, int cores_per_chip, double inter_chip_hop_weight) {
  const int64_t k = destinations;
  const int64_t chips = (k + 1 + cores_per_chip - 1) / cores_per_chip;
  const int64_t crossings = chips - 1;
  if (inter_chip_hop_weight >= 1.0) return double(k - crossings) + double(crossings) * inter_chip_hop_weight;
  return double(k) * inter_chip_hop_weight;
}

double lower_bound_of(const Topology& topology, const CanonicalFlows& flows) {
  double bound = 0.0;
  for (std::size_t f = 0; f < flows.size(); ++f)
    bound += flows.weight[f] *
             flow_lower_bound(flows.destination_count(f), topology.cores_per_chip(), topology.inter_chip_hop_weight());
  return bound;
}

// Generalised Hilbert curve over a rectangle of any size ("gilbert", J. Červený): visits every cell
// once, almost always stepping to a neighbour, from (0, 0) to the far corner of the long side.
void gilbert(int x, int y, int ax, int ay, int bx, int by, std::vector<std::pair<int, int>>& cells) {
  auto sign = [](int v) { return (v > 0) - (v < 0); };
  auto floor_half = [](int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  const int w = std::abs(ax + ay), h = std::abs(bx + by);
  if (w == 0 || h == 0) return;
  const int dax = sign(ax), day = sign(ay), dbx = sign(bx), dby = sign(by);
  if (h == 1) {
    for (int i = 0; i < w; ++i, x += dax, y += day) cells.emplace_back(x, y);
    return;
  }
  if (w == 1) {
    for (int i = 0; i < h; ++i, x += dbx, y += dby) cells.emplace_back(x, y);
    return;
  }
  int ax2 = floor_half(ax), ay2 = floor_half(ay), bx2 = floor_half(bx), by2 = floor_half(by);
  const int w2 = std::abs(ax2 + ay2), h2 = std::abs(bx2 + by2);
  if (2 * w > 3 * h) {
    if ((w2 % 2) && w > 2) ax2 += dax, ay2 += day;  // prefer even steps
    gilbert(x, y, ax2, ay2, bx, by, cells);
    gilbert(x + ax2, y + ay2, ax - ax2, ay - ay2, bx, by, cells);
  } else {
    if ((h2 % 2) && h > 2) bx2 += dbx, by2 += dby;
    gilbert(x, y, bx2, by2, ax2, ay2, cells);
    gilbert(x + bx2, y + by2, ax, ay, bx - bx2, by - by2, cells);
    gilbert(x + (ax - dax) + (bx2 - dbx), y + (ay - day) + (by2 - dby), -bx2, -by2, -(ax - ax2), -(ay - ay2), cells);
  }
}

// Cores in space-filling order: chips in serpentine order over the chip grid (consecutive chips are
// neighbours, so a cut of the order costs one link), a generalised Hilbert curve inside each chip,
// mirrored on westward rows of chips so it starts at the side facing the previous chip.
std::vector<int> space_filling_core_order(const Topology& topology) {
  std::vector<std::pair<int, int>> cells;
  const int rows = topology.mesh_rows(), cols = topology.mesh_cols();
  if (cols >= rows) gilbert(0, 0, cols, 0, 0, rows, cells);
  else gilbert(0, 0, 0, rows, cols, 0, cells);
  // A broken curve would silently lose cores; fall back to a serpentine if it ever is not a permutation.
  std::vector<char> seen(std::size_t(rows * cols), 0);
  bool permutation = int(cells.size()) == rows * cols;
  for (auto [x, y] : cells) {
    if (!permutation) break;
    if (x < 0 || x >= cols || y < 0 || y >= rows || seen[std::size_t(y * cols + x)]) permutation = false;
    else seen[std::size_t(y * cols + x)] = 1;
  }
  if (!permutation) {
    cells.clear();
    for (int r = 0; r < rows; ++r)
      for (int i = 0; i < cols; ++i) cells.emplace_back(r % 2 == 0 ? i : cols - 1 - i, r);
  }
  const TopologyParams& p = topology.params();
  std::vector<int> order;
  order.reserve(std::size_t(topology.core_count()));
  for (int chip_row = 0; chip_row < p.chip_grid_rows; ++chip_row)
    for (int i = 0; i < p.chip_grid_cols; ++i) {
      const bool westward = chip_row % 2 == 1;
      const int chip = chip_row * p.chip_grid_cols + (westward ? p.chip_grid_cols - 1 - i : i);
      for (auto [x, y] : cells) order.push_back(topology.core_index({chip, y, westward ? cols - 1 - x : x}));
    }
  return order;
}

// Cuthill–McKee ordering of the undirected flow graph (not reversed: the reversal only matters for
// matrix fill-in): breadth-first from a least-connected unit of each component,
// neighbours in order of increasing degree, so units that talk end up close in the order. Units
// without flows go last.
std::vector<int> flow_graph_order(int num_units, const Adjacency& neighbors) {
  std::vector<int> by_degree(static_cast<std::size_t>(num_units));
  std::iota(by_degree.begin(), by_degree.end(), 0);
  std::stable_sort(by_degree.begin(), by_degree.end(),
                   [&](int x, int y) { return neighbors.count(x) < neighbors.count(y); });
  std::vector<char> visited(std::size_t(num_units), 0);
  std::vector<int> order, frontier;
  order.reserve(std::size_t(num_units));
  for (int start : by_degree) {
    if (visited[std::size_t(start)] || neighbors.count(start) == 0) continue;
    visited[std::size_t(start)] = 1;
    order.push_back(start);
    for (std::size_t head = order.size() - 1; head < order.size(); ++head) {
      frontier.clear();
      for (const int* n = neighbors.begin(order[head]); n != neighbors.end(order[head]); ++n)
        if (!visited[std::size_t(*n)]) {
          visited[std::size_t(*n)] = 1;
          frontier.push_back(*n);
        }
      std::stable_sort(frontier.begin(), frontier.end(),
                       [&](int x, int y) { return neighbors.count(x) < neighbors.count(y); });
      order.insert(order.end(), frontier.begin(), frontier.end());
    }
  }
  for (int u = 0; u < num_units; ++u)
    if (!visited[std::size_t(u)]) order.push_back(u);
  return order;
}

// Index of (x, y) along the Hilbert curve over an n × n grid, n a power of two.
int64_t hilbert_index(int n, int x, int y) {
  int64_t index = 0;
  for (int s = n / 2; s > 0; s /= 2) {
    const int rx = (x & s) > 0, ry = (y & s) > 0;
    index += int64_t(s) * s * ((3 * rx) ^ ry);
    if (ry == 0) {
      if (rx == 1) x = n - 1 - x, y = n - 1 - y;
      std::swap(x, y);
    }
  }
  return index;
}

// Spectral ordering: embed the flow graph in 2D with the two lowest non-trivial eigenvectors of its
// Laplacian (units that exchange traffic land close together: they minimise Σ w_ij |p_i - p_j|²),
// then read the embedding along a Hilbert curve. Laid on the cores' own space-filling order this
// keeps 2D structure (a stencil stays a grid) that a breadth-first order flattens. The vectors come
// from a fixed number of power iterations of I - L / (2 d_max) on a seeded start, deflating the
// constant vector; unconverged vectors are still smooth over the graph, which is all a start needs.
std::vector<int> spectral_order(int num_units, const CanonicalFlows& flows, uint64_t seed) {
  // Star model of each multicast: source–destination edges carrying the flow's weight.
  std::vector<std::vector<std::pair<int, double>>> edges(static_cast<std::size_t>(num_units));
  for (std::size_t f = 0; f < flows.size(); ++f)
    for (int i = flows.begin[f]; i < flows.begin[f + 1]; ++i) {
      const int s = flows.source[f], d = flows.units[std::size_t(i)];
      edges[std::size_t(s)].emplace_back(d, flows.weight[f]);
      edges[std::size_t(d)].emplace_back(s, flows.weight[f]);
    }
  std::vector<double> degree(static_cast<std::size_t>(num_units), 0.0);
  double max_degree = 0.0;
  for (int u = 0; u < num_units; ++u) {
    for (auto [v, w] : edges[std::size_t(u)]) degree[std::size_t(u)] += w;
    max_degree = std::max(max_degree, degree[std::size_t(u)]);
  }
  std::vector<int> order(static_cast<std::size_t>(num_units));
  std::iota(order.begin(), order.end(), 0);
  if (num_units < 3 || max_degree <= 0) return order;

  Rng rng(seed ^ 0x5bec7a1ull);
  std::vector<std::vector<double>> vectors(2, std::vector<double>(static_cast<std::size_t>(num_units)));
  for (auto& v : vectors)
    for (double& x : v) x = rng.unit() - 0.5;
  std::vector<double> next(static_cast<std::size_t>(num_units));
  auto orthonormalise = [&]() {
    for (std::size_t k = 0; k < vectors.size(); ++k) {
      auto& v = vectors[k];
      double mean = 0.0;
      for (double x : v) mean += x;
      mean /= num_units;
      for (double& x : v) x -= mean;
      for (std::size_t j = 0; j < k; ++j) {
        double dot = 0.0;
        for (int u = 0; u < num_units; ++u) dot += v[std::size_t(u)] * vectors[j][std::size_t(u)];
        for (int u = 0; u < num_units; ++u) v[std::size_t(u)] -= dot * vectors[j][std::size_t(u)];
      }
      double norm = 0.0;
      for (double x : v) norm += x * x;
      norm = std::sqrt(norm);
      if (norm > 0)
        for (double& x : v) x /= norm;
    }
  };
  orthonormalise();
  const int iterations = std::clamp(int(10 * std::sqrt(double(num_units))), 100, 1000);
  const double step = 1.0 / (2.0 * max_degree);
  for (int it = 0; it < iterations; ++it) {
    for (auto& v : vectors) {
      for (int u = 0; u < num_units; ++u) {
        double laplacian = degree[std::size_t(u)] * v[std::size_t(u)];
        for (auto [n, w] : edges[std::size_t(u)]) laplacian -= w * v[std::size_t(n)];
        next[std::size_t(u)] = v[std::size_t(u)] - step * laplacian;
      }
      v.swap(next);
    }
    orthonormalise();
  }

  // Rank-transform each coordinate onto a 2^k grid, then sort along the Hilbert curve.
  int grid = 1;
  while (int64_t(grid) * grid < num_units) grid *= 2;
  std::vector<std::array<int, 2>> cell(static_cast<std::size_t>(num_units));
  for (int axis = 0; axis < 2; ++axis) {
    std::vector<int> by_value(order);
    const auto& v = vectors[std::size_t(axis)];
    std::stable_sort(by_value.begin(), by_value.end(), [&](int a, int b) { return v[std::size_t(a)] < v[std::size_t(b)]; });
    for (int rank = 0; rank < num_units; ++rank)
      cell[std::size_t(by_value[std::size_t(rank)])][std::size_t(axis)] = int(int64_t(rank) * grid / num_units);
  }
  std::vector<int64_t> key(static_cast<std::size_t>(num_units));
  for (int u = 0; u < num_units; ++u)
    key[std::size_t(u)] = degree[std::size_t(u)] > 0 ? hilbert_index(grid, cell[std::size_t(u)][0], cell[std::size_t(u)][1])
                                                     : std::numeric_limits<int64_t>::max();  // no flows: last
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return key[std::size_t(a)] < key[std::size_t(b)]; });
  return order;
}

// Prices flows for a unit → core assignment with a reused TreeMeter.
class FlowPricer {
 public:
  FlowPricer(const Topology& topology, const CanonicalFlows& flows)
      : topology_(topology), flows_(flows), meter_(topology) {}

  HopCount hops(std::size_t f, const std::vector<int>& unit_core) {
    cores_.clear();
    for (int i = flows_.begin[f]; i < flows_.begin[f + 1]; ++i)
      cores_.push_back(unit_core[std::size_t(flows_.units[std::size_t(i)])]);
    return meter_.measure(unit_core[std::size_t(flows_.source[f])], cores_.data(), cores_.size());
  }
  double cost(std::size_t f, const std::vector<int>& unit_core) {
    return flows_.weight[f] * hops(f, unit_core).weighted(topology_.inter_chip_hop_weight());
  }
  double total(const std::vector<int>& unit_core) {
    double sum = 0.0;
    for (std::size_t f = 0; f < flows_.size(); ++f) sum += cost(f, unit_core);
    return sum;
  }

 private:
  const Topology& topology_;
  const CanonicalFlows& flows_;
  TreeMeter meter_;
  std::vector<int> cores_;
};

// Simulated annealing over unit ↔ core swaps (a move to an empty core is a swap with nobody).
// Only the flows touching the one or two moved units are re-priced, exactly.
//
// Moves: a random unit goes to a core picked, by chance, near the median position of its flow
// partners (30 %: the spot minimising its summed Manhattan distance to them, as in VPR's median
// move), near one random partner (30 %), near its own position (38 %), or anywhere (2 %). Positions
// are taken over the whole system with chips side by side, so units can change chips.
//
// Schedule: the start temperature accepts the median uphill move of a 256-move calibration sample
// with probability e^-4 ≈ 2 % (we start from a good constructive placement and a hot start would
// only scramble it; smaller uphill moves are accepted more often); it falls geometrically by 10^3
// over 85 % of the budget, and the last 15 % is greedy. The search radius shrinks linearly from
// half the mesh to one core alongside.
constexpr double kAnywhereMoves = 0.02;
constexpr double kMedianMoves = 0.30;
constexpr double kPartnerMoves = 0.30;
constexpr double kStartUphillNats = 4.0;

class Annealer {
 public:
  Annealer(const Topology& topology, const CanonicalFlows& flows, int num_units, std::vector<int> unit_core,
           uint64_t seed)
      : topology_(topology), flows_(flows), pricer_(topology, flows), rng_(seed), unit_core_(std::move(unit_core)) {
    incident_ = build_adjacency(
        num_units,
        [&](auto emit) {
          for (std::size_t f = 0; f < flows_.size(); ++f) {
            emit(flows_.source[f], int(f));
            for (int i = flows_.begin[f]; i < flows_.begin[f + 1]; ++i) emit(flows_.units[std::size_t(i)], int(f));
          }
        },
        false);
    partners_ = build_adjacency(
        num_units,
        [&](auto emit) {
          for (std::size_t f = 0; f < flows_.size(); ++f)
            for (int i = flows_.begin[f]; i < flows_.begin[f + 1]; ++i) {
              emit(flows_.source[f], flows_.units[std::size_t(i)]);
              emit(flows_.units[std::size_t(i)], flows_.source[f]);
            }
        },
        true);
    core_unit_.assign(std::size_t(topology.core_count()), -1);
    for (int u = 0; u < num_units; ++u) core_unit_[std::size_t(unit_core_[std::size_t(u)])] = u;
    flow_cost_.resize(flows_.size());
    for (std::size_t f = 0; f < flows_.size(); ++f) flow_cost_[f] = pricer_.cost(f, unit_core_);
    flow_stamp_.assign(flows_.size(), 0);
  }

  void run(int64_t moves) {
    const int num_units = int(unit_core_.size());
    if (moves <= 0 || num_units == 0 || flows_.size() == 0) return;
    const int initial_radius = std::max(2, std::max(topology_.mesh_rows(), topology_.mesh_cols()) / 2);
    // Calibrate on a sample of proposals that are priced but not applied.
    std::vector<double> uphill;
    for (int i = 0; i < 256; ++i) {
      Move move = propose(initial_radius);
      if (move.unit < 0) continue;
      const double delta = price(move);
      undo_positions(move);
      if (delta > 0) uphill.push_back(delta);
    }
    double typical_uphill = 0.0;
    if (!uphill.empty()) {
      std::nth_element(uphill.begin(), uphill.begin() + std::ptrdiff_t(uphill.size() / 2), uphill.end());
      typical_uphill = uphill[uphill.size() / 2];
    }
    const double start_temperature = typical_uphill / kStartUphillNats;
    const int64_t annealed = moves * 85 / 100;
    double temperature = start_temperature;
    int radius = initial_radius;
    for (int64_t k = 0; k < moves; ++k) {
      if ((k & 255) == 0) {
        const double progress = double(k) / double(annealed);
        temperature = k < annealed ? start_temperature * std::pow(1e-3, progress) : 0.0;
        radius = k < annealed ? std::max(1, int(std::lround(initial_radius * (1.0 - progress)))) : 1;
      }
      Move move = propose(radius);
      if (move.unit < 0) continue;
      ++proposed_;
      const double delta = price(move);
      const bool accept = delta <= 0 || (temperature > 0 && rng_.unit() < std::exp(-delta / temperature));
      if (accept) commit(move);
      else undo_positions(move);
    }
  }

  const std::vector<int>& unit_core() const { return unit_core_; }
  int64_t proposed() const { return proposed_; }
  int64_t accepted() const { return accepted_; }

 private:
  struct Move {
    int unit = -1, other = -1;  // other: the unit at the target core, or -1 if it is empty
    int from = -1, to = -1;     // cores
  };

  Move propose(int radius) {
    Move move;
    const int num_units = int(unit_core_.size());
    move.unit = rng_.below(num_units);
    move.from = unit_core_[std::size_t(move.unit)];
    const int partners = partners_.count(move.unit);
    const double pick = rng_.unit();
    if (pick < kAnywhereMoves) {
      move.to = rng_.below(topology_.core_count());
    } else if (partners > 0 && pick < kAnywhereMoves + kMedianMoves) {
      // Near the median of the partners' positions, the spot that minimises the summed Manhattan
      // distance to them (VPR-style median move), over the whole system so it can change chips.
      rows_.clear();
      cols_.clear();
      for (const int* p = partners_.begin(move.unit); p != partners_.end(move.unit); ++p) {
        const int core = unit_core_[std::size_t(*p)];
        rows_.push_back(global_row(core));
        cols_.push_back(global_col(core));
      }
      const std::size_t middle = rows_.size() / 2;
      std::nth_element(rows_.begin(), rows_.begin() + std::ptrdiff_t(middle), rows_.end());
      std::nth_element(cols_.begin(), cols_.begin() + std::ptrdiff_t(middle), cols_.end());
      const int jitter = std::max(1, radius / 2);
      move.to = core_at_global(rows_[middle] + rng_.between(-jitter, jitter), cols_[middle] + rng_.between(-jitter, jitter));
    } else {
      int anchor = move.from;
      if (partners > 0 && pick >= 1.0 - kPartnerMoves) anchor = unit_core_[std::size_t(partners_.begin(move.unit)[rng_.below(partners)])];
      move.to = core_at_global(global_row(anchor) + rng_.between(-radius, radius), global_col(anchor) + rng_.between(-radius, radius));
    }
    if (move.to == move.from) return Move{};
    move.other = core_unit_[std::size_t(move.to)];
    return move;
  }

  // Rows and columns of the whole system, chips side by side as in their grid.
  int global_row(int core) const {
    const CoreCoord c = topology_.coord(core);
    return topology_.chip_row(c.chip) * topology_.mesh_rows() + c.row;
  }
  int global_col(int core) const {
    const CoreCoord c = topology_.coord(core);
    return topology_.chip_col(c.chip) * topology_.mesh_cols() + c.col;
  }
  int core_at_global(int row, int col) const {
    const TopologyParams& p = topology_.params();
    row = std::clamp(row, 0, p.chip_grid_rows * p.mesh_rows - 1);
    col = std::clamp(col, 0, p.chip_grid_cols * p.mesh_cols - 1);
    const int chip = (row / p.mesh_rows) * p.chip_grid_cols + col / p.mesh_cols;
    return topology_.core_index({chip, row % p.mesh_rows, col % p.mesh_cols});
  }

  // Applies the move to the positions and returns the change in cost of the flows it touches.
  double price(const Move& move) {
    unit_core_[std::size_t(move.unit)] = move.to;
    if (move.other >= 0) unit_core_[std::size_t(move.other)] = move.from;
    ++stamp_;
    touched_.clear();
    double delta = 0.0;
    auto reprice = [&](int unit) {
      for (const int* f = incident_.begin(unit); f != incident_.end(unit); ++f) {
        if (flow_stamp_[std::size_t(*f)] == stamp_) continue;
        flow_stamp_[std::size_t(*f)] = stamp_;
        const double cost = pricer_.cost(std::size_t(*f), unit_core_);
        touched_.emplace_back(*f, cost);
        delta += cost - flow_cost_[std::size_t(*f)];
      }
    };
    reprice(move.unit);
    if (move.other >= 0) reprice(move.other);
    return delta;
  }
  void undo_positions(const Move& move) {
    unit_core_[std::size_t(move.unit)] = move.from;
    if (move.other >= 0) unit_core_[std::size_t(move.other)] = move.to;
  }
  void commit(const Move& move) {
    core_unit_[std::size_t(move.to)] = move.unit;
    core_unit_[std::size_t(move.from)] = move.other;
    for (auto [f, cost] : touched_) flow_cost_[std::size_t(f)] = cost;
    ++accepted_;
  }

  const Topology& topology_;
  const CanonicalFlows& flows_;
  FlowPricer pricer_;
  Rng rng_;
  std::vector<int> unit_core_, core_unit_;
  Adjacency incident_, partners_;
  std::vector<double> flow_cost_;
  std::vector<int> flow_stamp_;
  std::vector<std::pair<int, double>> touched_;
  std::vector<int> rows_, cols_;  // scratch of the median move
  int stamp_ = 0;
  int64_t proposed_ = 0, accepted_ = 0;
};

std::vector<CoreCoord> to_coords(const Topology& topology, const std::vector<int>& unit_core) {
  std::vector<CoreCoord> coords;
  coords.reserve(unit_core.size());
  for (int core : unit_core) coords.push_back(topology.coord(core));
  return coords;
}

}  // namespace

std::vector<int> Placement::unit_core_indices(const Topology& topology) const {
  std::vector<int> cores;
  cores.reserve(unit_cores.size());
  for (const CoreCoord& c : unit_cores) cores.push_back(topology.core_index(c));
  return cores;
}

std::string Placement::summary() const {
  return fmt::format("cost {:.1f} (baseline {:.1f}, lower bound {:.1f})", cost, baseline_cost, lower_bound);
}

double placement_lower_bound(const Topology& topology, const std::vector<Flow>& flows) {
  int num_units = 0;
  for (const Flow& f : flows) {
    num_units = std::max(num_units, f.source + 1);
    for (int d : f.destinations) num_units = std::max(num_units, d + 1);
  }
  return lower_bound_of(topology, canonicalize(num_units, flows));
}

double placement_cost(const Topology& topology, const std::vector<CoreCoord>& unit_cores, const std::vector<Flow>& flows) {
  std::vector<int> unit_core;
  unit_core.reserve(unit_cores.size());
  for (const CoreCoord& c : unit_cores) {
    if (!topology.contains(c)) throw std::invalid_argument(fmt::format("{} is outside {}", to_string(c), topology.describe()));
    unit_core.push_back(topology.core_index(c));
  }
  const CanonicalFlows canonical = canonicalize(int(unit_cores.size()), flows);
  return FlowPricer(topology, canonical).total(unit_core);
}

Placement place(const Topology& topology, int num_units, const std::vector<Flow>& flows, const PlacementOptions& options) {
  if (num_units < 0) throw std::invalid_argument(fmt::format("cannot place {} units", num_units));
  if (num_units > topology.core_count())
    throw PlacementError(fmt::format(
        "cannot place {} units on {} ({}): each unit needs a core of its own, {} more than there are; "
        "use more chips (system.chip_count) or a larger mesh (mesh.rows, mesh.cols)",
        num_units, topology.name(), topology.describe(), num_units - topology.core_count()));
  const CanonicalFlows canonical = canonicalize(num_units, flows);
  FlowPricer pricer(topology, canonical);

  Placement result;
  result.lower_bound = lower_bound_of(topology, canonical);

  // Constructive starts; annealing refines the cheapest (the first on ties), so the result is never
  // worse than the baseline.
  std::vector<int> baseline(static_cast<std::size_t>(num_units));
  std::iota(baseline.begin(), baseline.end(), 0);
  result.baseline_cost = pricer.total(baseline);

  const std::vector<int> curve = space_filling_core_order(topology);
  std::vector<int> index_on_curve(static_cast<std::size_t>(num_units)), flow_order_on_curve(index_on_curve.size());
  for (int i = 0; i < num_units; ++i) index_on_curve[std::size_t(i)] = curve[std::size_t(i)];
  const Adjacency neighbors = build_adjacency(
      num_units,
      [&](auto emit) {
        for (std::size_t f = 0; f < canonical.size(); ++f)
          for (int i = canonical.begin[f]; i < canonical.begin[f + 1]; ++i) {
            emit(canonical.source[f], canonical.units[std::size_t(i)]);
            emit(canonical.units[std::size_t(i)], canonical.source[f]);
          }
      },
      true);
  const std::vector<int> order = flow_graph_order(num_units, neighbors);
  for (int i = 0; i < num_units; ++i) flow_order_on_curve[std::size_t(order[std::size_t(i)])] = curve[std::size_t(i)];
  const std::vector<int> spectral = spectral_order(num_units, canonical, options.seed);
  std::vector<int> spectral_on_curve(index_on_curve.size());
  for (int i = 0; i < num_units; ++i) spectral_on_curve[std::size_t(spectral[std::size_t(i)])] = curve[std::size_t(i)];

  struct Start {
    const char* name;
    const std::vector<int>* unit_core;
    double cost;
  };
  const Start starts[] = {{"index order, row-major (baseline)", &baseline, result.baseline_cost},
                          {"index order on a space-filling curve", &index_on_curve, pricer.total(index_on_curve)},
                          {"flow-graph order on a space-filling curve", &flow_order_on_curve, pricer.total(flow_order_on_curve)},
                          {"spectral order on a space-filling curve", &spectral_on_curve, pricer.total(spectral_on_curve)}};
  const Start* best = &starts[0];
  for (const Start& s : starts)
    if (s.cost < best->cost) best = &s;
  result.start = best->name;
  result.constructive_cost = best->cost;

  const int64_t budget =
      options.moves_per_unit > 0
          ? std::min(options.max_moves, std::max(options.min_moves, int64_t(std::llround(options.moves_per_unit * num_units))))
          : 0;
  Annealer annealer(topology, canonical, num_units, *best->unit_core, options.seed);
  annealer.run(budget);
  result.moves_proposed = annealer.proposed();
  result.moves_accepted = annealer.accepted();

  // Price the result from scratch (the running sum would carry rounding drift) and never return
  // something worse than the start.
  std::vector<int> final_cores = annealer.unit_core();
  double final_cost = pricer.total(final_cores);
  if (final_cost > result.constructive_cost) {
    final_cores = *best->unit_core;
    final_cost = result.constructive_cost;
  }
  result.cost = final_cost;
  for (std::size_t f = 0; f < canonical.size(); ++f) {
    const HopCount hops = pricer.hops(f, final_cores);
    result.mesh_flit_hops_per_token += canonical.weight[f] * double(hops.mesh);
    result.inter_chip_flits_per_token += canonical.weight[f] * double(hops.inter_chip);
  }
  result.unit_cores = to_coords(topology, final_cores);
  return result;
}

}  // namespace spiketile
