// Packet sizing, arbiters, parameter descriptions, statistics dump and VCD tracing.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "noc_fixtures.hpp"

namespace spiketile::sim {
namespace {

using test::contains;

TEST(NocParts, EventsAreOneFlitAndWidePayloadsSpill) {
  const ChipSpec spec = test::chip("default.yaml");
  const EventPacketFormat format = spec.event_packet_format();
  // docs/chip.md: 1 kind + 8 destination + 8 axon + 8 payload = 25 bits in a 32-bit flit.
  EXPECT_EQ(flits_per_packet(format, 32), 1);
  EXPECT_EQ(flits_per_packet(format, 32, 7 + 8), 1);   // 32 bits exactly
  EXPECT_EQ(flits_per_packet(format, 32, 7 + 9), 2);   // one bit more
  EXPECT_EQ(flits_per_packet(format, 32, 32), 2);      // a 32-bit partial sum: 49 bits
  EXPECT_EQ(flits_per_packet(format, 16, 32), 4);      // 49 bits in 16-bit flits
  EXPECT_THROW(flits_per_packet(format, 0), std::invalid_argument);
}

TEST(NocParts, ArbitersAreRegisteredByName) {
  auto rr = make_arbiter("round_robin", kPortCount);
  std::string turns;
  for (int k = 0; k < 7; ++k) turns += char('0' + rr->grant(0, 0b11111));
  EXPECT_EQ(turns, "0123401");
  EXPECT_EQ(rr->grant(0, 0b01001), 3);  // after 1: 3 comes before 0
  EXPECT_EQ(rr->grant(0, 0b01001), 0);
  EXPECT_EQ(rr->grant(1, 0b10000), 4);  // each output keeps its own turn
  auto fixed = make_arbiter("fixed_priority", kPortCount);
  EXPECT_EQ(fixed->grant(2, 0b10110), 1);
  EXPECT_EQ(fixed->grant(2, 0b10110), 1);
  try {
    make_arbiter("round_robbin", kPortCount);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_TRUE(contains(e.what(), "round_robbin")) << e.what();
    EXPECT_TRUE(contains(e.what(), "known: round_robin, fixed_priority")) << e.what();
  }
  struct Last : IArbiter {
    int grant(int, uint32_t requests) override { return 31 - __builtin_clz(requests); }
  };
  register_arbiter({"highest_port", "highest-numbered input wins", [](int) { return std::make_unique<Last>(); }});
  EXPECT_EQ(make_arbiter("highest_port", kPortCount)->grant(0, 0b00110), 2);
  EXPECT_THROW(register_arbiter({"highest_port", "again", nullptr}), std::invalid_argument);
}

TEST(NocParts, ConfigurationComesFromTheChipAndDescribesItself) {
  const ChipSpec spec = test::chip("default.yaml");
  const NocConfig config = noc_config(spec);
  EXPECT_EQ(config.clock_frequency_mhz, 500.0);
  EXPECT_EQ(config.input_buffer_depth_flits, 16);
  EXPECT_EQ(config.router_pipeline_latency_cycles, 2);
  EXPECT_EQ(config.inter_chip_link_latency_cycles, 20);
  EXPECT_EQ(config.inter_chip_cycles_per_flit, 4);
  EXPECT_EQ(config.axon_input_queue_depth, 64);
  EXPECT_EQ(config.arbitration, "round_robin");
  const std::string table = describe_noc_parameters();
  for (const char* part : {"noc.router", "input_buffer_depth_flits", "noc.inter_chip_link", "cycles_per_flit",
                           "noc.watchdog", "window_cycles", "round_robin", "fixed_priority"})
    EXPECT_TRUE(contains(table, part)) << part;
  EXPECT_TRUE(contains(describe(config), "arbitration = round_robin"));
  NocConfig broken = config;
  broken.input_buffer_depth_flits = 0;
  EXPECT_THROW(broken.validate(), std::invalid_argument);
  broken = config;
  broken.arbitration = "lottery";
  EXPECT_THROW(broken.validate(), std::invalid_argument);
}

TEST(NocParts, StatisticsDumpAsJsonWithDescriptionsAndSummary) {
  const Topology topology = test_fixtures::hand_grid(1, 1, 2, 2, 1, DimensionOrder::xy);
  Network network("noc", noc_config(topology), topology);
  test::DeliveryRecorder recorder(network);
  network.interface(0).inject(network.interface(0).unicast_to(3, 1));
  run(network);
  const nlohmann::json stats = network.stats().to_json();
  EXPECT_EQ(stats.at("noc.packets_delivered"), 1);
  EXPECT_EQ(stats.at("noc.router[0].out.E.flits"), 1);  // XY: east first
  EXPECT_EQ(stats.at("noc.router[1].out.S.flits"), 1);
  EXPECT_EQ(stats.at("noc.router[3].out.local.packets"), 1);
  EXPECT_EQ(stats.at("noc.router[0].out.S.flits"), 0);
  EXPECT_FALSE(stats.contains("noc.router[0].out.W.flits"));  // no link west of column 0
  EXPECT_EQ(stats.at("noc.flit_hops.mesh"), 2);
  const nlohmann::json described = network.stats().describe_json();
  EXPECT_EQ(described.at("noc.flit_hops.inter_chip").at("unit"), "flits");
  EXPECT_EQ(described.size(), stats.size());
  EXPECT_THROW(network.stats().value("noc.no_such_stat"), std::out_of_range);
  const std::string summary = network.summary();
  EXPECT_TRUE(contains(summary, "1 injected, 1 delivered")) << summary;
  EXPECT_TRUE(contains(summary, "2 mesh, 0 inter-chip")) << summary;
  EXPECT_TRUE(contains(network.stats().table("noc.router[1]."), "noc.router[1].out.S.flits")) << summary;
}

TEST(NocParts, VcdTracesOnlyTheSelectedRouters) {
  const Topology topology = test_fixtures::hand_grid(1, 1, 1, 4, 1, DimensionOrder::xy);
  NocConfig config = noc_config(topology);
  config.input_buffer_depth_flits = 2;
  Network network("noc", config, topology);
  test::DeliveryRecorder recorder(network);
  const std::string base = ::testing::TempDir() + "noc_trace_test";
  sc_core::sc_trace_file* file = sc_core::sc_create_vcd_trace_file(base.c_str());
  network.trace(file, {1, 2});
  for (int k = 0; k < 6; ++k) network.interface(0).inject(network.interface(0).unicast_to(3, k));
  run(network);
  sc_core::sc_close_vcd_trace_file(file);
  std::ifstream in(base + ".vcd");
  ASSERT_TRUE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  const std::string vcd = text.str();
  EXPECT_TRUE(contains(vcd, "in_W_occupancy_flits")) << vcd.substr(0, 2000);
  EXPECT_TRUE(contains(vcd, "router_1")) << vcd.substr(0, 2000);
  EXPECT_TRUE(contains(vcd, "router_2")) << vcd.substr(0, 2000);
  EXPECT_FALSE(contains(vcd, "router_0")) << vcd.substr(0, 2000);
  EXPECT_FALSE(contains(vcd, "router_3")) << vcd.substr(0, 2000);
  EXPECT_EQ(recorder.all.size(), 6u);
  // The first packet enters router 1's west buffer at cycle P + L = 3 (6000 ps at 500 MHz), the
  // second a cycle later: the traced occupancy changes exactly then.
  const std::size_t scope = vcd.find("$scope module router_1 $end");
  const std::size_t var = vcd.find("in_W_occupancy_flits", scope);
  ASSERT_NE(var, std::string::npos);
  const std::size_t id_end = vcd.rfind(' ', var - 2);
  const std::string id = vcd.substr(vcd.rfind(' ', id_end - 1) + 1, id_end - vcd.rfind(' ', id_end - 1) - 1);
  EXPECT_TRUE(contains(vcd, "#6000\nb1 " + id + "\n")) << id;
  EXPECT_TRUE(contains(vcd, "#8000\nb10 " + id + "\n")) << id;
  if (!std::getenv("KEEP_VCD")) std::remove((base + ".vcd").c_str());
}

}  // namespace
}  // namespace spiketile::sim
