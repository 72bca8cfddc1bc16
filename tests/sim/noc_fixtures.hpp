// Shared helpers of the network tests: chips, random flows on placed units, a delivery recorder.
#pragma once

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../unit/topology_fixtures.hpp"
#include "chips/chip_spec.hpp"
#include "compiler/routing.hpp"
#include "sim/network.hpp"

namespace spiketile::sim::test {

inline ChipSpec chip(const std::string& file) { return load_chip_spec(test_fixtures::kChipsDir + file); }

// One unit per core in shuffled order, and `count` flows from random units to 1..max_fanout
// random units (repeats and the source itself allowed: the tables must cope with both).
struct Traffic {
  std::vector<CoreCoord> unit_cores;
  std::vector<Flow> flows;
};

inline Traffic random_traffic(const Topology& topology, int count, int max_fanout, unsigned seed) {
  std::mt19937 rng(seed);
  Traffic traffic;
  std::vector<int> order(std::size_t(topology.core_count()));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  for (int core : order) traffic.unit_cores.push_back(topology.coord(core));
  std::uniform_int_distribution<int> unit(0, topology.core_count() - 1), fanout(1, max_fanout);
  for (int k = 0; k < count; ++k) {
    Flow flow;
    flow.source = unit(rng);
    flow.flits_per_token = 1.0;
    for (int d = fanout(rng); d > 0; --d) flow.destinations.push_back(unit(rng));
    traffic.flows.push_back(flow);
  }
  return traffic;
}

// The schema's network with one-flit buffers and one-event core queues: the smallest that works.
inline NocConfig starved_config(const Topology& topology, uint64_t watchdog_window_cycles) {
  NocConfig config = noc_config(topology);
  config.input_buffer_depth_flits = 1;
  config.axon_input_queue_depth = 1;
  config.watchdog_window_cycles = watchdog_window_cycles;
  return config;
}

inline RoutingTables route(const Topology& topology, const Traffic& traffic, bool unicast_single_destination = true) {
  RoutingOptions options;
  options.enforce_table_capacity = false;  // random wide flows may overfill real tables; not what is tested here
  options.unicast_single_destination = unicast_single_destination;
  return build_routing_tables(topology, traffic.unit_cores, traffic.flows, options);
}

// Two multicast flows per core of a 4 x 4 mesh to up to 10 cores each, through two-flit input
// and branch buffers: outputs wait for credits much of the time, heads and parked branches alike.
struct HeavyMulticast {
  Topology topology = test_fixtures::hand_grid(1, 1, 4, 4, 1, DimensionOrder::xy);
  Traffic traffic = random_traffic(topology, 2 * topology.core_count(), 10, 5);
  NocConfig config = [this] {
    NocConfig c = noc_config(topology);
    c.input_buffer_depth_flits = 2;
    c.multicast_branch_buffer_flits = 2;
    return c;
  }();
  RoutingTables tables() const { return route(topology, traffic, false); }
};

// Takes every delivery at its arrival cycle (so cores never back-pressure) and files it by flow.
struct DeliveryRecorder {
  std::vector<std::vector<int>> cores_by_flow;  // flow -> cores it reached, in arrival order
  std::vector<std::pair<int, Delivery>> all;    // (core, delivery)

  explicit DeliveryRecorder(Network& network) : cores_by_flow(network.tables().flows.size()) {
    for (int core = 0; core < network.core_count(); ++core)
      network.interface(core).set_delivery_handler([this, core](const Delivery& d) {
        if (d.packet.flow >= 0) cores_by_flow[std::size_t(d.packet.flow)].push_back(core);
        all.emplace_back(core, d);
      });
  }
};

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Runs and returns the watchdog's report; fails the test if the run ends without a stall.
inline std::string stall_report_of(Network& network, Cycle max_cycles = kNever) {
  try {
    run(network, max_cycles);
  } catch (const NetworkStalled& stalled) {
    return stalled.what();
  }
  ADD_FAILURE() << "the run ended without the watchdog reporting a stall";
  return "";
}

inline std::vector<int> sorted(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// Injects `events` events of every flow of the network's tables at cycle 0 (the interfaces queue
// what does not fit); after the run, verify() checks every flow against deliver() and the link
// statistics against the tree sizes.
class FlowTraffic {
 public:
  FlowTraffic(Network& network, int events, int payload_bits = -1)
      : network_(network), recorder_(network), events_(events), flits_(network.packet_flits(payload_bits)) {
    const RoutingTables& tables = network.tables();
    for (int f = 0; f < int(tables.flows.size()); ++f) {
      const FlowRoute& route = tables.flows[std::size_t(f)];
      if (route.packet == FlowPacket::none) continue;
      NetworkInterface& source = network.interface(route.source_core);
      for (int e = 0; e < events; ++e) {
        source.inject(source.flow_event(f, /*axon=*/e, /*payload=*/f, payload_bits));
        ++injected_;
      }
      mesh_flit_hops_ += int64_t(events) * route.tree.mesh * flits_;
      inter_chip_flits_ += int64_t(events) * route.tree.inter_chip * flits_;
      copies_ += int64_t(events) * int64_t(route.destination_cores.size());
    }
  }

  void verify() const {
    const RoutingTables& tables = network_.tables();
    for (int f = 0; f < int(tables.flows.size()); ++f) {
      const FlowRoute& route = tables.flows[std::size_t(f)];
      std::vector<int> expected;
      if (route.packet != FlowPacket::none) {
        const std::vector<int> once = deliver(tables, f, tables.topology.coord(route.source_core));
        for (int e = 0; e < events_; ++e) expected.insert(expected.end(), once.begin(), once.end());
      }
      ASSERT_EQ(sorted(recorder_.cores_by_flow[std::size_t(f)]), sorted(expected)) << network_.name() << " flow " << f;
    }
    for (const auto& [core, delivery] : recorder_.all) {
      EXPECT_EQ(delivery.packet.payload, delivery.packet.flow);  // the payload travels unchanged
      EXPECT_EQ(delivery.packet.flits, flits_);
      EXPECT_EQ(delivery.packet.source_core, tables.flows[std::size_t(delivery.packet.flow)].source_core);
    }
    const StatRegistry& stats = network_.stats();
    EXPECT_EQ(stats.value("noc.packets_injected"), double(injected_));
    EXPECT_EQ(stats.value("noc.packets_delivered"), double(copies_));
    EXPECT_EQ(stats.value("noc.flits_delivered"), double(copies_ * flits_));
    EXPECT_EQ(stats.value("noc.flit_hops.mesh"), double(mesh_flit_hops_));
    EXPECT_EQ(stats.value("noc.flit_hops.inter_chip"), double(inter_chip_flits_));
    EXPECT_TRUE(network_.quiescent());
    EXPECT_FALSE(network_.failed());
  }

 private:
  Network& network_;
  DeliveryRecorder recorder_;
  int events_, flits_;
  int64_t injected_ = 0, mesh_flit_hops_ = 0, inter_chip_flits_ = 0, copies_ = 0;
};

}  // namespace spiketile::sim::test
