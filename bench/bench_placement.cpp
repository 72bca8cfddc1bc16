// Time of placement and routing at SpikeGPT-216M scale (~4,000 units, ~20,000 flows) on
// chips/large.yaml, with the costs it reaches.
//
// The workload is synthetic but shaped like the lowering's: layers of units in index order; each
// unit multicasts its activations to a block of units of the next layer, sends partial sums to the
// reducing unit of its group, and exchanges a few flows with units of its own layer.
//
//   bench_placement                                  # 4000 units, 5 flows per unit, large.yaml
//   bench_placement --units 2000 --moves-per-unit 400 --chip chips/default.yaml
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

#include "chips/chip_spec.hpp"
#include "compiler/placement.hpp"
#include "compiler/routing.hpp"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// splitmix64: the same workload on every platform.
struct Random {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  int below(int n) { return int(next() % uint64_t(n)); }
};

std::vector<spiketile::Flow> layered_workload(int units, int layers, Random& random) {
  std::vector<spiketile::Flow> flows;
  const int per_layer = units / layers;
  for (int u = 0; u < units; ++u) {
    const int layer = std::min(u / per_layer, layers - 1);
    const int base = layer * per_layer;
    const int width = layer == layers - 1 ? units - base : per_layer;
    const int within = u - base;
    const double weight = 0.5 + 0.5 * random.below(16);
    // Activations to a block of 8 units of the next layer (the last layer feeds the first: the
    // recurrence of the next token).
    const int next_base = layer + 1 < layers ? base + per_layer : 0;
    const int next_width = layer + 1 < layers ? (layer + 2 == layers ? units - next_base : per_layer) : per_layer;
    spiketile::Flow activations{u, {}, weight};
    const int block = (within * next_width / width) / 8 * 8;
    for (int k = 0; k < 8 && block + k < next_width; ++k) activations.destinations.push_back(next_base + block + k);
    flows.push_back(activations);
    // Partial sums to the group's reducer (groups of 4).
    const int reducer = base + within / 4 * 4;
    flows.push_back(spiketile::Flow{u, {reducer == u ? base + (within / 4 * 4 + 1) % width : reducer}, 2.0 * weight});
    // Three flows within the layer, to 1-4 units each, mostly nearby in index.
    for (int k = 0; k < 3; ++k) {
      spiketile::Flow local{u, {}, 0.25 * (1 + random.below(8))};
      const int fanout = 1 + random.below(4);
      for (int d = 0; d < fanout; ++d) {
        const int offset = random.below(4) == 0 ? random.below(width) : within + random.below(33) - 16;
        local.destinations.push_back(base + ((offset % width) + width) % width);
      }
      flows.push_back(local);
    }
  }
  return flows;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Placement and routing time at SpikeGPT-216M scale"};
  std::string chip = std::string(SPIKETILE_SOURCE_DIR) + "/chips/large.yaml";
  int units = 4000, layers = 18;
  double moves_per_unit = spiketile::PlacementOptions{}.moves_per_unit;
  app.add_option("--chip", chip, "Chip description");
  app.add_option("--units", units, "Units to place (5 flows each)");
  app.add_option("--layers", layers, "Layers the units form");
  app.add_option("--moves-per-unit", moves_per_unit, "Annealing budget per unit");
  CLI11_PARSE(app, argc, argv);

  const spiketile::ChipSpec spec = spiketile::load_chip_spec(chip);
  const spiketile::Topology topology(spec);
  Random random{42};
  const std::vector<spiketile::Flow> flows = layered_workload(units, layers, random);
  std::size_t destinations = 0;
  for (const auto& f : flows) destinations += f.destinations.size();
  fmt::print("{}: {}\n{} units, {} flows, {} destinations, inter-chip hop weight {:.2f}\n", spec.name,
             topology.describe(), units, flows.size(), destinations, topology.inter_chip_hop_weight());

  spiketile::PlacementOptions options;
  options.moves_per_unit = moves_per_unit;
  double start = now();
  const spiketile::Placement placement = spiketile::place(topology, units, flows, options);
  const double place_s = now() - start;
  fmt::print("place: {:.2f} s  {}\n", place_s, placement.summary());
  fmt::print("       start: {} (cost {:.1f}); {} of {} moves accepted\n", placement.start,
             placement.constructive_cost, placement.moves_accepted, placement.moves_proposed);
  fmt::print("       {:.1f} mesh flit-hops and {:.1f} inter-chip flits per token\n",
             placement.mesh_flit_hops_per_token, placement.inter_chip_flits_per_token);

  spiketile::RoutingOptions routing;
  routing.enforce_table_capacity = false;  // report the need rather than stop the benchmark
  start = now();
  const spiketile::RoutingTables tables = spiketile::build_routing_tables(topology, placement.unit_cores, flows, routing);
  const double route_s = now() - start;
  fmt::print("route: {:.2f} s  {}\n", route_s, tables.summary());

  start = now();
  std::size_t delivered = 0;
  for (std::size_t f = 0; f < flows.size(); ++f)
    delivered += spiketile::deliver(tables, int(f), placement.unit_cores[std::size_t(flows[f].source)]).size();
  fmt::print("deliver every flow once: {:.2f} s ({} deliveries)\n", now() - start, delivered);
  fmt::print("place + route: {:.2f} s\n", place_s + route_s);
  return 0;
}
