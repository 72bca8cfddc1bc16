#include "compiler/routing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <tuple>

namespace spiketile {

namespace {

constexpr Port kMeshPorts[kMeshPortCount] = {Port::north, Port::east, Port::south, Port::west};
constexpr Port kAllPorts[kPortCount] = {Port::north, Port::east, Port::south, Port::west, Port::local};

Port opposite(Port port) {
  switch (port) {
    case Port::north: return Port::south;
    case Port::south: return Port::north;
    case Port::east: return Port::west;
    case Port::west: return Port::east;
    case Port::local: return Port::local;
  }
  return Port::local;
}

uint8_t bit(Port port) { return uint8_t(1u << int(port)); }

}  // namespace

int RouterLoad::peak_input_flows() const { return *std::max_element(flows_in.begin(), flows_in.end()); }

const RouteEntry* RoutingTables::find(int router, int flow) const {
  if (router < 0 || router >= int(tables.size())) return nullptr;
  const auto& table = tables[std::size_t(router)];
  auto it = std::lower_bound(table.begin(), table.end(), flow, [](const RouteEntry& e, int f) { return e.flow < f; });
  return it != table.end() && it->flow == flow ? &*it : nullptr;
}

std::string RoutingTables::summary() const {
  std::string fullest = max_table_router >= 0 ? to_string(topology.coord(max_table_router)) : "none";
  return fmt::format(
      "routing: {} flows; table entries max {} of {} ({}); links max {:.2f} flits/token on chip, {:.2f} between "
      "chips; {:.1f} mesh flit-hops and {:.1f} inter-chip flits per token; peak {} flows into one input port "
      "(buffer {} flits, {} ports above)",
      flows.size(), max_table_entries, topology.routing_table_entries(), fullest, max_mesh_link_flits_per_token,
      max_inter_chip_link_flits_per_token, mesh_flit_hops_per_token, inter_chip_flits_per_token,
      peak_input_port_flows, topology.input_buffer_depth_flits(), input_ports_over_buffer_depth);
}

RoutingTables build_routing_tables(const Topology& topology, const std::vector<CoreCoord>& unit_cores,
                                   const std::vector<Flow>& flows, const RoutingOptions& options) {
  for (std::size_t u = 0; u < unit_cores.size(); ++u)
    if (!topology.contains(unit_cores[u]))
      throw std::invalid_argument(fmt::format("unit {} sits at {}, outside {}", u, to_string(unit_cores[u]), topology.describe()));
  const int routers = topology.core_count();
  RoutingTables result(topology);
  result.tables.resize(std::size_t(routers));
  result.flows.resize(flows.size());
  result.link_flits_per_token.assign(std::size_t(routers), {});
  result.router_loads.assign(std::size_t(routers), {});

  // Per-router scratch for the tree of the flow being built, stamped with the flow's id + 1.
  std::vector<int> stamp(std::size_t(routers), 0), table_index(std::size_t(routers), -1);
  std::vector<Port> input(std::size_t(routers), Port::local);
  std::vector<uint8_t> outputs(std::size_t(routers), 0);
  std::vector<int> tree;  // routers of the current tree, in the order first reached

  for (std::size_t f = 0; f < flows.size(); ++f) {
    const Flow& flow = flows[f];
    const int flow_stamp = int(f) + 1;
    auto core_of = [&](int unit, const char* role) {
      if (unit < 0 || unit >= int(unit_cores.size()))
        throw std::invalid_argument(
            fmt::format("flow {}: {} unit {} has no core (only {} units placed)", f, role, unit, unit_cores.size()));
      return topology.core_index(unit_cores[std::size_t(unit)]);
    };
    FlowRoute& route = result.flows[f];
    route.source_core = core_of(flow.source, "source");
    route.flits_per_token = flow.flits_per_token;
    for (int d : flow.destinations) route.destination_cores.push_back(core_of(d, "destination"));
    std::sort(route.destination_cores.begin(), route.destination_cores.end());
    route.destination_cores.erase(std::unique(route.destination_cores.begin(), route.destination_cores.end()),
                                  route.destination_cores.end());
    if (route.destination_cores.empty()) continue;
    const bool unicast = options.unicast_single_destination && route.destination_cores.size() == 1;
    route.packet = unicast ? FlowPacket::unicast : FlowPacket::multicast;
    if (unicast) route.unicast_destination = route.destination_cores.front();

    // The tree is the union of the unicast routes; check as it grows that each router is only ever
    // entered through one port (otherwise it would receive the event twice).
    tree.clear();
    auto reach = [&](int router, Port from) {
      if (stamp[std::size_t(router)] == flow_stamp) {
        if (input[std::size_t(router)] != from)
          throw std::logic_error(fmt::format("flow {}: router {} reached through ports {} and {}; routes must form a tree",
                                             f, to_string(topology.coord(router)), port_name(input[std::size_t(router)]),
                                             port_name(from)));
        return;
      }
      stamp[std::size_t(router)] = flow_stamp;
      input[std::size_t(router)] = from;
      outputs[std::size_t(router)] = 0;
      tree.push_back(router);
    };
    reach(route.source_core, Port::local);
    for (int destination : route.destination_cores) {
      int at = route.source_core;
      for (int steps = 0;; ++steps) {
        if (steps > 4 * routers) throw std::logic_error(fmt::format("flow {}: route does not terminate", f));
        const Port port = topology.route_step(at, destination);
        outputs[std::size_t(at)] |= bit(port);
        if (port == Port::local) break;
        const int next = topology.neighbor(at, port);
        if (next < 0)
          throw std::logic_error(fmt::format("flow {}: route leaves {} through port {} into nothing", f,
                                             to_string(topology.coord(at)), port_name(port)));
        reach(next, opposite(port));
        at = next;
      }
    }

    for (int router : tree) {
      const std::size_t r = std::size_t(router);
      for (Port port : kMeshPorts)
        if (outputs[r] & bit(port)) {
          if (topology.is_inter_chip_port(router, port)) ++route.tree.inter_chip;
          else ++route.tree.mesh;
        }
      for (Port port : kAllPorts)
        if (outputs[r] & bit(port)) result.link_flits_per_token[r][std::size_t(port)] += flow.flits_per_token;
      RouterLoad& load = result.router_loads[r];
      ++load.flows_in[std::size_t(input[r])];
      load.flits_in[std::size_t(input[r])] += flow.flits_per_token;
    }
    if (unicast) continue;
    for (int router : tree) {
      auto& table = result.tables[std::size_t(router)];
      table_index[std::size_t(router)] = int(table.size());
      RouteEntry entry;
      entry.flow = int(f);
      entry.input_port = input[std::size_t(router)];
      entry.output_ports = outputs[std::size_t(router)];
      table.push_back(entry);
    }
    for (int router : tree) {
      RouteEntry& entry = result.tables[std::size_t(router)].back();
      for (Port port : kMeshPorts)
        if (entry.outputs(port))
          entry.next_index[std::size_t(port)] = table_index[std::size_t(topology.neighbor(router, port))];
    }
    route.source_index = table_index[std::size_t(route.source_core)];
  }

  // Resource summary.
  const int capacity = topology.routing_table_entries();
  for (int router = 0; router < routers; ++router) {
    const std::size_t r = std::size_t(router);
    RouterLoad& load = result.router_loads[r];
    load.table_entries = int(result.tables[r].size());
    if (load.table_entries > result.max_table_entries) {
      result.max_table_entries = load.table_entries;
      result.max_table_router = router;
    }
    if (load.table_entries > capacity) ++result.routers_over_table_capacity;
    for (Port port : kMeshPorts) {
      const double flits = result.link_flits_per_token[r][std::size_t(port)];
      if (topology.is_inter_chip_port(router, port)) {
        result.inter_chip_flits_per_token += flits;
        result.max_inter_chip_link_flits_per_token = std::max(result.max_inter_chip_link_flits_per_token, flits);
      } else {
        result.mesh_flit_hops_per_token += flits;
        result.max_mesh_link_flits_per_token = std::max(result.max_mesh_link_flits_per_token, flits);
      }
    }
    for (int flows_in : load.flows_in) {
      result.peak_input_port_flows = std::max(result.peak_input_port_flows, flows_in);
      if (flows_in > topology.input_buffer_depth_flits()) ++result.input_ports_over_buffer_depth;
    }
  }
  if (options.enforce_table_capacity && result.routers_over_table_capacity > 0)
    throw RoutingError(fmt::format(
        "multicast routing tables do not fit on {}: the router at {} needs {} entries but holds {} "
        "(router.routing_table_entries{}); {} of {} routers overflow. Use a chip with larger routing tables, "
        "send fewer multicast flows, or spread the placement",
        topology.name(), to_string(topology.coord(result.max_table_router)), result.max_table_entries, capacity,
        capacity == 0 ? ", 0 = unicast only" : "", result.routers_over_table_capacity, routers));
  return result;
}

std::vector<std::pair<int, Port>> channel_dependency_cycle(const RoutingTables& tables) {
  const Topology& topology = tables.topology;
  const int links = topology.core_count() * kMeshPortCount;
  auto link = [](int router, Port port) { return router * kMeshPortCount + int(port); };
  std::vector<std::vector<int>> waits_for(static_cast<std::size_t>(links));
  auto depend = [&](int from, int to) {
    if (from >= 0) waits_for[std::size_t(from)].push_back(to);
  };
  for (std::size_t f = 0; f < tables.flows.size(); ++f) {
    const FlowRoute& route = tables.flows[f];
    if (route.packet == FlowPacket::unicast) {
      int at = route.source_core, held = -1;
      for (Port port = topology.route_step(at, route.unicast_destination); port != Port::local;
           port = topology.route_step(at, route.unicast_destination)) {
        depend(held, link(at, port));
        held = link(at, port);
        at = topology.neighbor(at, port);
      }
    } else if (route.packet == FlowPacket::multicast) {
      std::vector<std::tuple<int, int, int>> pending{{route.source_core, route.source_index, -1}};  // router, entry, held link
      while (!pending.empty()) {
        const auto [router, index, held] = pending.back();
        pending.pop_back();
        const RouteEntry& entry = tables.tables[std::size_t(router)][std::size_t(index)];
        for (int p = 0; p < kMeshPortCount; ++p) {
          if (!entry.outputs(Port(p))) continue;
          depend(held, link(router, Port(p)));
          pending.emplace_back(topology.neighbor(router, Port(p)), entry.next_index[std::size_t(p)], link(router, Port(p)));
        }
      }
    }
  }
  for (auto& next : waits_for) {
    std::sort(next.begin(), next.end());
    next.erase(std::unique(next.begin(), next.end()), next.end());
  }
  // Depth-first search; a link met again while still on the path closes a cycle.
  enum : char { kUnseen, kOnPath, kDone };
  std::vector<char> state(static_cast<std::size_t>(links), kUnseen);
  std::vector<std::pair<int, std::size_t>> path;  // link, next successor to try
  for (int start = 0; start < links; ++start) {
    if (state[std::size_t(start)] != kUnseen || waits_for[std::size_t(start)].empty()) continue;
    path.push_back({start, 0});
    state[std::size_t(start)] = kOnPath;
    while (!path.empty()) {
      auto& [at, next] = path.back();
      if (next == waits_for[std::size_t(at)].size()) {
        state[std::size_t(at)] = kDone;
        path.pop_back();
        continue;
      }
      const int to = waits_for[std::size_t(at)][next++];
      if (state[std::size_t(to)] == kOnPath) {
        std::vector<std::pair<int, Port>> cycle;
        std::size_t k = path.size();
        while (path[k - 1].first != to) --k;
        for (; k <= path.size(); ++k) {
          const int l = path[k - 1].first;
          cycle.emplace_back(l / kMeshPortCount, Port(l % kMeshPortCount));
        }
        return cycle;
      }
      if (state[std::size_t(to)] == kUnseen) {
        state[std::size_t(to)] = kOnPath;
        path.push_back({to, 0});
      }
    }
  }
  return {};
}

std::vector<int> deliver(const RoutingTables& tables, int flow, CoreCoord source) {
  const Topology& topology = tables.topology;
  if (flow < 0 || flow >= int(tables.flows.size()))
    throw std::invalid_argument(fmt::format("no flow {} (the tables route {} flows)", flow, tables.flows.size()));
  if (!topology.contains(source))
    throw std::invalid_argument(fmt::format("{} is outside {}", to_string(source), topology.describe()));
  const FlowRoute& route = tables.flows[std::size_t(flow)];
  const int start = topology.core_index(source);
  if (route.packet != FlowPacket::none && start != route.source_core)
    throw RoutingError(fmt::format("flow {} is injected at {}, not at {}", flow,
                                   to_string(topology.coord(route.source_core)), to_string(source)));
  std::vector<int> delivered;
  std::vector<char> visited(std::size_t(topology.core_count()), 0);
  auto enter = [&](int router, int from_router) {
    if (router < 0)
      throw RoutingError(fmt::format("flow {}: the event leaves the system at {}", flow,
                                     to_string(topology.coord(from_router))));
    if (visited[std::size_t(router)])
      throw RoutingError(fmt::format("flow {}: the event reaches {} twice", flow, to_string(topology.coord(router))));
    visited[std::size_t(router)] = 1;
  };

  if (route.packet == FlowPacket::none) return delivered;
  if (route.packet == FlowPacket::unicast) {
    int at = start;
    enter(at, at);
    for (;;) {
      const Port port = topology.route_step(at, route.unicast_destination);
      if (port == Port::local) {
        delivered.push_back(at);
        return delivered;
      }
      const int next = topology.neighbor(at, port);
      enter(next, at);
      at = next;
    }
  }

  std::deque<std::pair<int, int>> pending{{start, route.source_index}};  // (router, table index)
  enter(start, start);
  while (!pending.empty()) {
    const auto [router, index] = pending.front();
    pending.pop_front();
    const auto& table = tables.tables[std::size_t(router)];
    if (index < 0 || index >= int(table.size()) || table[std::size_t(index)].flow != flow)
      throw RoutingError(fmt::format("flow {}: no entry for it at index {} of the table at {}", flow, index,
                                     to_string(topology.coord(router))));
    const RouteEntry& entry = table[std::size_t(index)];
    for (Port port : kAllPorts) {
      if (!entry.outputs(port)) continue;
      if (port == Port::local) {
        delivered.push_back(router);
        continue;
      }
      const int next = topology.neighbor(router, port);
      enter(next, router);
      pending.emplace_back(next, entry.next_index[std::size_t(port)]);
    }
  }
  return delivered;
}

}  // namespace spiketile
