// Per-router multicast routing tables for placed flows, with link traffic and buffer accounting.
//
// Every flow (compiler/placement.hpp) gets the dimension-order multicast tree the cost model prices:
// the union of the unicast routes (Topology::route_step) from its source core to each destination
// core, which is a tree (each router is reached from one input port). Each router on the tree holds
// one entry for the flow: the input port it arrives on and the set of output ports (N, E, S, W,
// local; at a gateway the edge-facing port is the inter-chip link).
//
// Tables are label-swapped, as the event packet implies: a multicast packet carries a routing-table
// index of ceil(log2 routing_table_entries) bits (docs/chip.md, "Event packet"), which can only name
// an entry of one router's table. So an entry's index is its position in its router's table, and for
// each mesh output port the entry also records the index of the flow's entry in the next router;
// the router rewrites the packet's index as it forwards it. The source core injects the packet
// with the index of the flow's entry in its own router.
//
// A flow with a single destination can instead travel as a unicast packet (destination address in
// the header, routed by Topology::route_step with no table entry); RoutingOptions chooses.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "compiler/placement.hpp"

namespace spiketile {

class RoutingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RouteEntry {
  int flow = 0;
  Port input_port = Port::local;  // local at the source router (injection)
  uint8_t output_ports = 0;       // bit (1 << int(Port)) per output
  // Index of this flow's entry in the router behind each mesh output port (-1 where unused).
  std::array<int32_t, kMeshPortCount> next_index{{-1, -1, -1, -1}};
  bool outputs(Port port) const { return (output_ports >> int(port)) & 1u; }
};

enum class FlowPacket : uint8_t {
  none,       // no destination other than the source itself, or no destinations: nothing travels
  unicast,    // one destination, address in the packet, no table entries
  multicast,  // routing-table entries along the tree
};

struct FlowRoute {
  int source_core = -1;
  FlowPacket packet = FlowPacket::none;
  int unicast_destination = -1;     // core, for unicast
  int source_index = -1;            // multicast: index of the entry in the source router's table
  std::vector<int> destination_cores;  // distinct, sorted
  HopCount tree;                    // links of the tree (same as multicast_tree_hops)
  double flits_per_token = 0.0;
};

// Traffic into one router, per input port (index int(Port); local = injected by its own core).
struct RouterLoad {
  std::array<int, kPortCount> flows_in{};         // distinct flows entering through the port
  std::array<double, kPortCount> flits_in{};      // their flits per token
  int table_entries = 0;
  // Buffer-need estimate: if every flow through an input port fires in the same timestep, that
  // port must queue this many flits; more than router.input_buffer_depth_flits means back-pressure.
  int peak_input_flows() const;
};

struct RoutingOptions {
  bool unicast_single_destination = true;  // one-destination flows as unicast packets, no entries
  bool enforce_table_capacity = true;      // throw RoutingError when a table overflows
};

struct RoutingTables {
  explicit RoutingTables(const Topology& routed_on) : topology(routed_on) {}

  Topology topology;
  std::vector<std::vector<RouteEntry>> tables;  // per router (core index), sorted by flow
  std::vector<FlowRoute> flows;                 // per flow, in the order given
  // Flits per token leaving each router through each output port: N, E, S, W (mesh or inter-chip
  // links, see Topology::is_inter_chip_port) and local (delivered to the core).
  std::vector<std::array<double, kPortCount>> link_flits_per_token;
  std::vector<RouterLoad> router_loads;

  // Summary for resource accounting.
  int max_table_entries = 0;
  int max_table_router = -1;           // a router with max_table_entries (the lowest index)
  int routers_over_table_capacity = 0;
  double max_mesh_link_flits_per_token = 0.0;
  double max_inter_chip_link_flits_per_token = 0.0;
  double mesh_flit_hops_per_token = 0.0;    // Σ over mesh links
  double inter_chip_flits_per_token = 0.0;  // Σ over inter-chip links
  int peak_input_port_flows = 0;
  int input_ports_over_buffer_depth = 0;  // ports whose peak_input_flows exceed input_buffer_depth_flits

  const RouteEntry* find(int router, int flow) const;  // the flow's entry at a router, or nullptr
  std::string summary() const;
};

// Builds the tables for flows between units placed at unit_cores. Flow ids are positions in
// `flows`. Throws RoutingError naming the fullest router, its entries and the capacity when a table
// overflows (unless options say not to), and std::invalid_argument for units without a core.
RoutingTables build_routing_tables(const Topology& topology, const std::vector<CoreCoord>& unit_cores,
                                   const std::vector<Flow>& flows, const RoutingOptions& options = {});

// Simulates one event of `flow` injected at `source` by following the tables (or, for a unicast
// flow, Topology::route_step) and returns every core where it leaves a router's local port, in the
// order reached. Throws RoutingError if the packet would reach a router twice (a loop or a
// duplicate), leave the system, or find no entry for the flow.
std::vector<int> deliver(const RoutingTables& tables, int flow, CoreCoord source);

// Channel dependencies of the routes (Dally & Seitz): a packet holding the input buffer behind
// link L (a router's output port: mesh or inter-chip) waits for the next link L' of its route or
// tree. With whole-packet buffers and no virtual channels, a cycle among these waits is what a
// deadlock needs. Empty when the dependency graph is acyclic (then no traffic and no buffer depth
// can deadlock the network); otherwise one cycle, as the (router, output port) links in order,
// each leading into the router of the next.
std::vector<std::pair<int, Port>> channel_dependency_cycle(const RoutingTables& tables);

}  // namespace spiketile
