// Timing against hand-computed formulas from the chip YAML, back-pressure, and the event-driven
// promise that a router with nothing to do never runs.
#include <gtest/gtest.h>

#include <cstdio>
#include <numeric>

#include "noc_fixtures.hpp"
#include "runtime/latency_estimate.hpp"

namespace spiketile::sim {
namespace {

// Records (core, arrival cycle, SystemC time at the handler call) of every delivery.
struct ArrivalLog {
  struct Arrival {
    int core;
    Cycle cycle;
    sc_core::sc_time time;
    Packet packet;
  };
  std::vector<Arrival> arrivals;
  explicit ArrivalLog(Network& network) {
    for (int core = 0; core < network.core_count(); ++core)
      network.interface(core).set_delivery_handler([this, core](const Delivery& d) {
        arrivals.push_back({core, d.arrival, sc_core::sc_time_stamp(), d.packet});
      });
  }
};

TEST(NocTiming, SinglePacketAcrossFourChipsTakesTheHandComputedCycles) {
  const ChipSpec spec = test::chip("default.yaml");
  const Topology topology(spec);
  Network network("noc", noc_config(spec), topology);
  ArrivalLog log(network);
  const int corner_first = topology.core_index({0, 0, 0});
  const int corner_last = topology.core_index({3, 7, 7});
  // chip 0 (0,0) -> chip 3 (7,7), XY at chip level and within chips, gateways at row 4 of each
  // facing edge: chip 0 east 7 + south 4, cross; chips 1 and 2 east 7, cross; chip 3 east 7 +
  // south 3. 35 mesh links, 3 inter-chip links, 39 routers. The way back (west, north) uses the
  // opposite links and has the same counts, so both packets travel at once without meeting.
  const int mesh = 7 + 4 + 7 + 7 + 7 + 3, chips = 3, routers = mesh + chips + 1;
  ASSERT_EQ(topology.distance(topology.coord(corner_first), topology.coord(corner_last)), (HopCount{mesh, chips}));
  ASSERT_EQ(topology.distance(topology.coord(corner_last), topology.coord(corner_first)), (HopCount{mesh, chips}));

  const int P = spec.router.pipeline_latency_cycles;                // 2
  const int L = spec.mesh.link.latency_cycles;                      // 1
  const int B = spec.mesh.link.bandwidth_flits_per_cycle;           // 1
  const int Lc = spec.system.inter_chip_link.latency_cycles;        // 20
  const int S = (spec.router.flit_bits + spec.system.inter_chip_link.bandwidth_bits_per_cycle - 1) /
                spec.system.inter_chip_link.bandwidth_bits_per_cycle;  // 32 / 8 = 4
  // Each router holds a packet P cycles; an n-flit packet occupies a mesh link ceil(n/B) cycles and
  // arrives L after its last cycle there, an inter-chip link n*S cycles and arrives Lc after; the
  // last hop is the mesh-like link into the core.
  auto latency = [&](int n) {
    const int mesh_link = (n + B - 1) / B - 1 + L;
    const int chip_link = n * S - 1 + Lc;
    return Cycle(routers * P + mesh * mesh_link + chips * chip_link + mesh_link);
  };
  ASSERT_EQ(latency(1), 183u);  // 78 + 35 + 69 + 1
  ASSERT_EQ(latency(2), 231u);  // 78 + 70 + 81 + 2
  // The compiler's latency estimate prices a lone packet the same way.
  for (int n : {1, 2, 4})
    EXPECT_EQ(contention_free_packet_cycles(spec, HopCount{mesh, chips}, n), latency(n)) << n << " flits";

  NetworkInterface& east = network.interface(corner_first);
  NetworkInterface& west = network.interface(corner_last);
  ASSERT_TRUE(east.try_inject(east.unicast_to(corner_last, 5)));
  ASSERT_TRUE(west.try_inject(west.unicast_to(corner_first, 6, 0x12345678, /*payload_bits=*/32)));
  run(network);
  ASSERT_EQ(log.arrivals.size(), 2u);
  for (const auto& a : log.arrivals) {
    const bool wide = a.core == corner_first;
    EXPECT_EQ(a.packet.flits, wide ? 2 : 1);
    EXPECT_EQ(a.cycle, latency(a.packet.flits)) << (wide ? "2-flit packet west" : "1-flit packet east");
    EXPECT_EQ(a.time, sc_core::sc_time(double(a.cycle) * spec.clock_period_ns(), sc_core::SC_NS));
  }
  EXPECT_EQ(network.stats().value("noc.latency.max_cycles"), double(latency(2)));
  EXPECT_EQ(network.stats().value("noc.flit_hops.inter_chip"), double(chips * 1 + chips * 2));
}

TEST(NocTiming, SinglePacketOnTheTinyChipAtItsOwnClock) {
  const ChipSpec spec = test::chip("tiny.yaml");  // 100 MHz, schema-default router and links
  Network network("noc", noc_config(spec), Topology(spec));
  ArrivalLog log(network);
  network.interface(0).inject(network.interface(0).unicast_to(3, 0));  // (0,0) -> (1,1): 2 links
  run(network);
  ASSERT_EQ(log.arrivals.size(), 1u);
  const int P = spec.router.pipeline_latency_cycles, L = spec.mesh.link.latency_cycles;
  EXPECT_EQ(log.arrivals[0].cycle, Cycle(3 * P + 2 * L + L));
  EXPECT_EQ(log.arrivals[0].time, sc_core::sc_time(10.0 * double(3 * P + 3 * L), sc_core::SC_NS));
}

TEST(NocTiming, WidePacketsOnAWideLinkUseItsBandwidth) {
  // 1 × 4 mesh with 2 flits per cycle on each link, 3-cycle links and a 1-cycle router: a 3-flit
  // packet occupies a link ceil(3/2) = 2 cycles and arrives 3 after the second.
  const Topology topology = test_fixtures::hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy);
  NocConfig config = noc_config(topology);
  config.mesh_link_bandwidth_flits_per_cycle = 2;
  config.mesh_link_latency_cycles = 3;
  config.router_pipeline_latency_cycles = 1;
  config.input_buffer_depth_flits = 3;
  const int payload_bits = 3 * config.flit_bits - (config.packet_format.total_bits() - config.packet_format.payload_bits);
  ASSERT_EQ(flits_per_packet(config.packet_format, config.flit_bits, payload_bits), 3);
  ASSERT_EQ(flits_per_packet(config.packet_format, config.flit_bits, payload_bits + 1), 4);
  Network network("noc", config, topology);
  ArrivalLog log(network);
  network.interface(0).inject(network.interface(0).unicast_to(3, 0, 0, payload_bits));
  run(network);
  ASSERT_EQ(log.arrivals.size(), 1u);
  EXPECT_EQ(log.arrivals[0].cycle, Cycle(4 * 1 + 3 * (1 + 3) + (1 + 3)));
}

TEST(NocBackpressure, OneFlitBuffersThrottleAStreamToTheCreditLoop) {
  // Eight packets from core 0 to core 3 of a 1 × 4 mesh, default timings (P = 2, L = 1).
  // Deep buffers: one packet per cycle, the first after (h + 1)(P + L) = 12 cycles. One-flit
  // buffers: a slot is reused only after the packet moved on and the credit came back, every
  // 2L + P = 4 cycles; each packet after the first is ready at the source one cycle before its
  // credit returns, so the source's east port is blocked N - 1 cycles.
  const Topology topology = test_fixtures::hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy);
  NocConfig deep = noc_config(topology), shallow = deep;
  deep.input_buffer_depth_flits = 8;
  shallow.input_buffer_depth_flits = 1;
  Network wide("deep", deep, topology), narrow("shallow", shallow, topology);
  ArrivalLog wide_log(wide), narrow_log(narrow);
  const int N = 8, P = deep.router_pipeline_latency_cycles, L = deep.mesh_link_latency_cycles;
  for (int k = 0; k < N; ++k) {
    wide.interface(0).inject(wide.interface(0).unicast_to(3, k));
    narrow.interface(0).inject(narrow.interface(0).unicast_to(3, k));
  }
  EXPECT_EQ(narrow.interface(0).backlog(), std::size_t(N - 1));
  run({&wide, &narrow});
  ASSERT_EQ(wide_log.arrivals.size(), std::size_t(N));
  ASSERT_EQ(narrow_log.arrivals.size(), std::size_t(N));
  const Cycle first = Cycle(4 * (P + L));
  for (int k = 0; k < N; ++k) {
    EXPECT_EQ(wide_log.arrivals[std::size_t(k)].packet.axon, k);  // in order
    EXPECT_EQ(wide_log.arrivals[std::size_t(k)].cycle, first + Cycle(k)) << k;
    EXPECT_EQ(narrow_log.arrivals[std::size_t(k)].packet.axon, k);
    EXPECT_EQ(narrow_log.arrivals[std::size_t(k)].cycle, first + Cycle(k * (2 * L + P))) << k;
  }
  EXPECT_EQ(wide.stats().value("noc.blocked_cycles"), 0.0);
  EXPECT_EQ(narrow.stats().value("noc.router[0].out.E.blocked_cycles"), double(N - 1));
  EXPECT_EQ(narrow.stats().value("noc.blocked_cycles"), double(N - 1));
  EXPECT_EQ(narrow.stats().value("noc.peak_input_occupancy_flits"), 1.0);
  EXPECT_EQ(wide.stats().value("noc.router[0].in.local.peak_occupancy_flits"), double(N));
  EXPECT_GT(narrow.stats().value("noc.injection_wait_cycles"), 0.0);
  // Packet 0 enters the local buffer in cycle 0, the other N - 1 wait in the backlog from then on.
  // Packet k leaves router 0 in cycle P + k(2L + P); the slot it frees reaches the interface one
  // cycle later (the local credit delay), when packet k + 1 enters: the backlog empties when
  // packet N - 1 enters, in cycle P + (N - 2)(2L + P) + 1.
  EXPECT_EQ(wide.interface(0).backlog_cycles(), 0u);
  EXPECT_EQ(narrow.interface(0).backlog_cycles(), Cycle(P + (N - 2) * (2 * L + P) + 1));
}

TEST(NocBackpressure, BlockedCyclesDoNotDependOnWhenTheRouterRuns) {
  // Heavy multicast: ports wait for credits all the time. A traced router also runs at every
  // arrival (so its traced occupancies are exact per cycle), an untraced one only when something
  // can change, so the two networks run their routers at different cycles. A blocked cycle is a
  // property of the traffic (a ready packet, no credit): every port's count must be the same.
  const test::HeavyMulticast heavy;
  const Topology& topology = heavy.topology;
  Network quiet("quiet", heavy.config, heavy.tables());
  Network traced("traced", heavy.config, heavy.tables());
  const std::string vcd = ::testing::TempDir() + "blocked_cycles_trace";
  sc_core::sc_trace_file* file = sc_core::sc_create_vcd_trace_file(vcd.c_str());
  std::vector<int> every_router(std::size_t(topology.core_count()));
  std::iota(every_router.begin(), every_router.end(), 0);
  traced.trace(file, every_router);
  test::FlowTraffic quiet_flows(quiet, 12), traced_flows(traced, 12);
  run({&quiet, &traced}, 10'000'000);
  sc_core::sc_close_vcd_trace_file(file);
  std::remove((vcd + ".vcd").c_str());
  quiet_flows.verify();
  traced_flows.verify();
  EXPECT_GT(traced.stats().value("noc.router_activations"), quiet.stats().value("noc.router_activations"));
  EXPECT_GT(quiet.stats().value("noc.branch_parks"), 0.0);
  EXPECT_GT(quiet.stats().value("noc.blocked_cycles"), 0.0);
  int ports = 0;
  for (int r = 0; r < topology.core_count(); ++r)
    for (int p = 0; p < kPortCount; ++p) {
      if (!quiet.router(r).has_output(Port(p))) continue;
      ++ports;
      EXPECT_EQ(traced.router(r).blocked_cycles(Port(p)), quiet.router(r).blocked_cycles(Port(p)))
          << "router " << r << " port " << port_name(Port(p));
    }
  EXPECT_GT(ports, 3 * topology.core_count());
}

TEST(NocBackpressure, AnInterChipLinkIsLimitedBySerialisationOrByItsCreditLoop) {
  // Eight packets from the east gateway of chip 0 to the west gateway of chip 1 (default chip:
  // S = 4 cycles per flit, Lc = 20, P = 2, L = 1). With deep buffers the link's serialisation
  // spaces them S apart. With the chip's 4-flit buffers a slot returns only after the packet
  // crossed (S - 1 + Lc), left the far buffer (P) and its credit came back (Lc): 4 packets per
  // 45 cycles, the bandwidth-delay product the default buffers do not cover.
  const ChipSpec spec = test::chip("default.yaml");
  const Topology topology(spec);
  const int from = topology.core_index({0, 4, 7}), to = topology.core_index({1, 4, 0});
  ASSERT_TRUE(topology.is_inter_chip_port(from, Port::east));
  ASSERT_EQ(topology.neighbor(from, Port::east), to);
  NocConfig deep = noc_config(spec), shallow = deep;
  deep.input_buffer_depth_flits = 64;
  deep.multicast_branch_buffer_flits = 64;  // holds what an input buffer holds (unused: unicast only)
  shallow.input_buffer_depth_flits = 4;  // fewer flits than the 8 packets: the credit loop shows
  Network wide("deep", deep, topology), narrow("shallow", shallow, topology);
  ArrivalLog wide_log(wide), narrow_log(narrow);
  const int N = 8, S = shallow.inter_chip_cycles_per_flit, Lc = shallow.inter_chip_link_latency_cycles;
  const int P = shallow.router_pipeline_latency_cycles, L = shallow.mesh_link_latency_cycles;
  const int depth = shallow.input_buffer_depth_flits;
  for (int k = 0; k < N; ++k) {
    wide.interface(from).inject(wide.interface(from).unicast_to(to, k));
    narrow.interface(from).inject(narrow.interface(from).unicast_to(to, k));
  }
  run({&wide, &narrow});
  ASSERT_EQ(wide_log.arrivals.size(), std::size_t(N));
  ASSERT_EQ(narrow_log.arrivals.size(), std::size_t(N));
  const Cycle first = Cycle(2 * P + (S - 1 + Lc) + L);  // 28
  for (int k = 0; k < N; ++k) {
    EXPECT_EQ(wide_log.arrivals[std::size_t(k)].cycle, first + Cycle(k * S)) << k;
    EXPECT_EQ(narrow_log.arrivals[std::size_t(k)].cycle,
              first + Cycle(k / depth * (S - 1 + Lc + P + Lc) + k % depth * S))
        << k;
  }
  EXPECT_EQ(wide.stats().value("noc.flit_hops.inter_chip"), double(N));
  EXPECT_GT(narrow.stats().value("noc.router[" + std::to_string(from) + "].out.E.blocked_cycles"), 0.0);
}

TEST(NocBackpressure, UndersizedBuffersUnderHeavyMulticastCompleteWithMoreStalls) {
  // Every core of a 4 × 4 mesh multicasts to up to 10 cores, 12 events per flow, all at once.
  // XY multicast trees with asynchronous replication cannot deadlock on one chip, so one-flit
  // buffers and one-event core queues must still deliver everything, only later and with stalls.
  const Topology topology = test_fixtures::hand_grid(1, 1, 4, 4, 1, DimensionOrder::xy);
  const test::Traffic traffic = test::random_traffic(topology, 32, 10, 21);
  const NocConfig roomy = noc_config(topology), tight = test::starved_config(topology, 2000);
  Network normal("roomy", roomy, test::route(topology, traffic, false));
  Network starved("tight", tight, test::route(topology, traffic, false));
  test::FlowTraffic normal_traffic(normal, 12), starved_traffic(starved, 12);
  run({&normal, &starved}, 1'000'000);
  normal_traffic.verify();
  starved_traffic.verify();
  const double roomy_blocked = normal.stats().value("noc.blocked_cycles");
  const double tight_blocked = starved.stats().value("noc.blocked_cycles");
  EXPECT_GT(tight_blocked, roomy_blocked);
  EXPECT_GT(tight_blocked, 0.0);
  EXPECT_GT(starved.stats().value("noc.last_delivery_cycle"), normal.stats().value("noc.last_delivery_cycle"));
  EXPECT_EQ(starved.stats().value("noc.peak_input_occupancy_flits"), 1.0);
}

TEST(NocActivity, RoutersOffThePathNeverRun) {
  const Topology topology = test_fixtures::hand_grid(1, 1, 4, 4, 1, DimensionOrder::xy);
  const NocConfig config = noc_config(topology);
  Network network("noc", config, topology);
  ArrivalLog log(network);
  network.interface(0).inject(network.interface(0).unicast_to(3, 0));  // along row 0
  run(network);
  ASSERT_EQ(log.arrivals.size(), 1u);
  // One run per router to forward the packet, one more at the destination to hand it to the core.
  for (int core = 0; core < topology.core_count(); ++core) {
    const uint64_t expected = core < 3 ? 1 : core == 3 ? 2 : 0;
    EXPECT_EQ(network.router(core).activations(), expected) << "router " << core;
  }
  EXPECT_EQ(network.stats().value("noc.routers_active"), 4.0);
  // Nothing keeps the kernel busy afterwards: simulated time stops at the delivery.
  const Cycle arrival = Cycle(4 * (config.router_pipeline_latency_cycles + config.mesh_link_latency_cycles));
  EXPECT_EQ(log.arrivals[0].cycle, arrival);
  EXPECT_EQ(network.clock().now(), arrival);
}

TEST(NocActivity, RoundRobinSharesAnOutputAndFixedPriorityDoesNot) {
  // Cores 0 and 2 of a 1 × 3 mesh both stream to core 1; its local output is the shared port.
  // One-event core queue drained every cycle: the output serves one packet per cycle.
  const Topology topology = test_fixtures::hand_grid(1, 1, 1, 3, 1, DimensionOrder::xy);
  NocConfig fair = noc_config(topology), fixed = fair;
  fixed.arbitration = "fixed_priority";
  Network a("round_robin", fair, topology), b("fixed_priority", fixed, topology);
  ArrivalLog log_a(a), log_b(b);
  for (Network* n : {&a, &b})
    for (int k = 0; k < 6; ++k) {
      n->interface(0).inject(n->interface(0).unicast_to(1, 0));  // enters router 1 from the west
      n->interface(2).inject(n->interface(2).unicast_to(1, 2));  // from the east
    }
  run({&a, &b});
  auto sources = [](const ArrivalLog& log) {
    std::string order;
    for (const auto& arrival : log.arrivals) order += char('0' + arrival.packet.source_core);
    return order;
  };
  // Both streams reach router 1 in the same cycles; round robin alternates, fixed priority serves
  // the east input (port 1) before the west one (port 3) whenever both wait.
  EXPECT_EQ(sources(log_a), "202020202020");
  EXPECT_EQ(sources(log_b).substr(0, 6), "222222");
}

}  // namespace
}  // namespace spiketile::sim
