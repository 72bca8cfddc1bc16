// Speed of the SystemC network-on-chip model (sim/network.hpp) on token-shaped traffic.
//
// Every core of the chip holds one unit; units form layers of `--layer` units in index order. Per
// token, each unit sends `--events` graded events to a block of `--fanout` units of the next layer
// (one multicast flow; the last layer feeds the first, the recurrence of the next token) and half as
// many 32-bit partial sums (two flits each on the default chip) to its group's reducer (one unicast
// flow per unit, groups of 4). Placement and routing come from the compiler. A driver thread
// injects a token's events at once, waits on the network's token barrier (quiescence), and moves to
// the next token, so the figures include back-pressure and injection backlogs.
//
//   bench_noc                                     # chips/default.yaml, 4 tokens
//   bench_noc --index-placement                   # unit i on core i: every other layer crosses chips
//   bench_noc --chip chips/large.yaml --tokens 2 --events 16
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <string>
#include <vector>

#include <systemc>

#include "chips/chip_spec.hpp"
#include "compiler/placement.hpp"
#include "compiler/routing.hpp"
#include "sim/network.hpp"

namespace {

using spiketile::sim::Cycle;

struct Options {
  std::string chip = std::string(SPIKETILE_SOURCE_DIR) + "/chips/default.yaml";
  int tokens = 4;
  int events = 32;
  int fanout = 8;
  int layer = 32;
  int depth = 0;  // 0: the chip's input_buffer_depth_flits
  bool index_placement = false;
};

// Flow 2u: unit u's activations to the next layer; flow 2u + 1: its partial sums to the reducer.
std::vector<spiketile::Flow> token_flows(int units, const Options& o) {
  std::vector<spiketile::Flow> flows;
  const int layers = std::max(1, units / o.layer);
  for (int u = 0; u < units; ++u) {
    const int layer = std::min(u / o.layer, layers - 1);
    const int next_layer_start = (layer + 1) % layers * o.layer;
    const int within = u - layer * o.layer;
    spiketile::Flow activations{u, {}, double(o.events)};
    const int block_start = within / o.fanout * o.fanout;
    for (int k = 0; k < o.fanout; ++k) activations.destinations.push_back((next_layer_start + (block_start + k) % o.layer) % units);
    flows.push_back(activations);
    const int reducer = layer * o.layer + within / 4 * 4;
    flows.push_back(spiketile::Flow{u, {reducer == u ? u + 1 : reducer}, double(o.events)});
  }
  return flows;
}

class TokenDriver : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(TokenDriver);
  TokenDriver(const sc_core::sc_module_name& name, spiketile::sim::Network& network, const Options& options)
      : sc_module(name), network_(network), options_(options) {
    SC_THREAD(drive);
  }
  std::vector<Cycle> token_cycles;

 private:
  void drive() {
    const spiketile::RoutingTables& tables = network_.tables();
    for (int t = 0; t < options_.tokens; ++t) {
      const Cycle start = network_.clock().now();
      for (int f = 0; f < int(tables.flows.size()); ++f) {
        const spiketile::FlowRoute& route = tables.flows[std::size_t(f)];
        if (route.packet == spiketile::FlowPacket::none) continue;
        spiketile::sim::NetworkInterface& source = network_.interface(route.source_core);
        const bool partial_sums = f % 2 == 1;
        const int events = partial_sums ? options_.events / 2 : options_.events;
        for (int e = 0; e < events; ++e)
          source.inject(source.flow_event(f, e, e, partial_sums ? 32 : -1));
      }
      network_.wait_until_quiescent();
      token_cycles.push_back(network_.clock().now() - start);
      sc_core::wait(network_.clock().period());  // tokens start on distinct cycles
    }
  }
  spiketile::sim::Network& network_;
  Options options_;
};

double seconds_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

int sc_main(int argc, char** argv) {
  Options o;
  CLI::App app{"Speed of the SystemC network-on-chip model on token-shaped traffic"};
  app.add_option("--chip", o.chip, "chip description");
  app.add_option("--tokens", o.tokens, "tokens to simulate");
  app.add_option("--events", o.events, "activation events per unit per token (half as many partial sums)");
  app.add_option("--fanout", o.fanout, "destinations of each activation flow");
  app.add_option("--layer", o.layer, "units per layer");
  app.add_option("--depth", o.depth, "input buffer depth in flits (0: the chip's)");
  app.add_flag("--index-placement", o.index_placement,
               "unit i on core i (layers span chips) instead of the compiler's placement");
  CLI11_PARSE(app, argc, argv);

  const spiketile::ChipSpec spec = spiketile::load_chip_spec(o.chip);
  const spiketile::Topology topology(spec);
  const int units = topology.core_count();
  const std::vector<spiketile::Flow> flows = token_flows(units, o);
  double t0 = seconds_now();
  std::vector<spiketile::CoreCoord> unit_cores;
  if (o.index_placement)
    for (int u = 0; u < units; ++u) unit_cores.push_back(topology.coord(u));
  else
    unit_cores = spiketile::place(topology, units, flows).unit_cores;
  spiketile::RoutingOptions routing;
  routing.enforce_table_capacity = false;
  spiketile::RoutingTables tables = spiketile::build_routing_tables(topology, unit_cores, flows, routing);
  const double compile_s = seconds_now() - t0;

  spiketile::sim::NocConfig config = spiketile::sim::noc_config(spec);
  if (o.depth > 0) config.input_buffer_depth_flits = o.depth;
  t0 = seconds_now();
  spiketile::sim::Network network("noc", config, std::move(tables));
  uint64_t delivered = 0;
  for (int core = 0; core < units; ++core)
    network.interface(core).set_delivery_handler([&delivered](const spiketile::sim::Delivery&) { ++delivered; });
  TokenDriver driver("driver", network, o);
  const double elaborate_s = seconds_now() - t0;

  t0 = seconds_now();
  spiketile::sim::run(network);
  const double run_s = seconds_now() - t0;

  const spiketile::sim::StatRegistry& stats = network.stats();
  const double flit_hops = stats.value("noc.flit_hops.mesh") + stats.value("noc.flit_hops.inter_chip");
  const double activations = stats.value("noc.router_activations");
  const Cycle cycles = network.clock().now();
  fmt::print("{}: {} cores, {} flows ({} per unit), {} tokens of {} events per unit\n", spec.name, units, flows.size(), 2,
             o.tokens, o.events + o.events / 2);
  fmt::print("compile (place + route) {:.2f} s, elaboration {:.3f} s, simulation {:.3f} s\n", compile_s, elaborate_s,
             run_s);
  std::string per_token;
  for (Cycle c : driver.token_cycles) per_token += fmt::format(" {}", c);
  fmt::print("cycles per token:{} ({} cycles in all)\n", per_token, cycles);
  fmt::print("{:.0f} packets injected, {} delivered, {:.0f} flit-hops, {:.0f} router activations\n",
             stats.value("noc.packets_injected"), delivered, flit_hops, activations);
  fmt::print("per wall second: {:.2f} M deliveries, {:.2f} M flits delivered, {:.2f} M flit-hops, {:.2f} M router "
             "activations, {:.3f} M simulated cycles\n",
             double(delivered) / run_s / 1e6, stats.value("noc.flits_delivered") / run_s / 1e6, flit_hops / run_s / 1e6,
             activations / run_s / 1e6, double(cycles) / run_s / 1e6);
  fmt::print("{}", network.summary());
  return 0;
}
