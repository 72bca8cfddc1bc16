// Network assembly, totals, watchdog, tracing and the run helper.
#include "sim/network.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace spiketile::sim {

namespace {

constexpr std::size_t kMaxReportedRouters = 24;

RoutingTables unicast_only(const Topology& topology) {
  RoutingTables tables(topology);
  tables.tables.resize(std::size_t(topology.core_count()));
  return tables;
}

}  // namespace

Network::Network(const sc_core::sc_module_name& name, const NocConfig& config, RoutingTables tables)
    : sc_module(name), config_(config), tables_(std::move(tables)), clock_(config.clock_frequency_mhz) {
  config_.validate();
  const int cores = tables_.topology.core_count();
  if (tables_.tables.empty()) tables_.tables.resize(std::size_t(cores));
  if (int(tables_.tables.size()) != cores)
    throw NocError(fmt::format("routing tables for {} routers, but {} has {} cores", tables_.tables.size(),
                               tables_.topology.describe(), cores));
  routers_.reserve(std::size_t(cores));
  for (int core = 0; core < cores; ++core)
    routers_.push_back(std::make_unique<Router>(fmt::format("router_{}", core).c_str(), *this, core));
  register_stats();
  SC_METHOD(watchdog_check);
  sensitive << watchdog_event_;
  dont_initialize();
}

Network::Network(const sc_core::sc_module_name& name, const NocConfig& config, const Topology& topology)
    : Network(name, config, unicast_only(topology)) {}

int Network::packet_flits(int payload_bits, int events) const {
  return flits_per_packet(config_.packet_format, config_.flit_bits, payload_bits, events, config_.max_burst_events);
}

int Network::burst_capacity(int payload_bits) const {
  return spiketile::burst_capacity(config_.packet_format, config_.flit_bits, payload_bits, config_.max_burst_events,
                                   config_.axon_input_queue_depth, config_.input_buffer_depth_flits);
}

Router& Network::router_at(int core) {
  if (core < 0 || core >= int(routers_.size()))
    throw NocError(fmt::format("no core {} in {} ({} cores)", core, topology().describe(), routers_.size()));
  return *routers_[std::size_t(core)];
}

// ---------------------------------------------------------------------------------------------
// Accounting
// ---------------------------------------------------------------------------------------------

void Network::on_injected() {
  ++packets_injected_;
  ++in_flight_;
  ++progress_;
  arm_watchdog();
}

void Network::on_delivered(const Delivery& delivery) {
  --in_flight_;
  ++progress_;
  ++packets_delivered_;
  flits_delivered_ += delivery.packet.flits;
  count_by_token(delivery.packet, kDelivered);
  const Cycle latency = delivery.arrival - delivery.packet.injected_at;
  latency_sum_ += latency;
  latency_max_ = std::max<uint64_t>(latency_max_, latency);
  last_delivery_cycle_ = std::max<uint64_t>(last_delivery_cycle_, delivery.arrival);
  if (in_flight_ == 0) on_quiescent();
}

// A router's input buffer let go of a packet whose copies have all left: its last copy may have
// been delivered before (into a queue it reaches a cycle later), so this may empty the network.
void Network::on_dropped_copy() {
  if (--in_flight_ == 0) on_quiescent();
}

void Network::deliver(const InterChipFlit& flit) {
  ++in_flight_;
  arm_watchdog();
  router_at(flit.router).accept(Port(flit.port), flit.packet, flit.arrival);
}

void Network::deliver(const InterChipCredit& credit) {
  router_at(credit.router).return_credit(Port(credit.port), credit.units, credit.at);
}

std::vector<uint64_t> Network::router_counters(int router) const {
  const Router& r = *routers_.at(std::size_t(router));
  std::vector<uint64_t> c{r.activations_, r.interface_.backlog_cycles_, r.interface_.drained_until_};
  for (int p = 0; p < kPortCount; ++p) {
    const auto& out = r.outputs_[p];
    c.insert(c.end(), {out.packets, out.flits, out.blocked, out.blocked_since, out.parks, out.peak_parked_flits,
                       r.inputs_[p].peak_occupancy_flits});
  }
  return c;
}

void Network::set_router_counters(int router, const std::vector<uint64_t>& c) {
  Router& r = router_at(router);
  if (c.size() != 3 + 7 * std::size_t(kPortCount))
    throw NocError(fmt::format("router {}: {} counters from another rank, expected {}", router, c.size(), 3 + 7 * kPortCount));
  std::size_t k = 0;
  r.activations_ = c[k++];
  r.interface_.backlog_cycles_ = c[k++];
  r.interface_.drained_until_ = c[k++];
  for (int p = 0; p < kPortCount; ++p) {
    auto& out = r.outputs_[p];
    out.packets = c[k++];
    out.flits = c[k++];
    out.blocked = c[k++];
    out.blocked_since = c[k++];
    out.parks = c[k++];
    out.peak_parked_flits = c[k++];
    r.inputs_[p].peak_occupancy_flits = c[k++];
  }
}

namespace {
constexpr std::size_t kSummedTotals = 7;  // totals() ends with maxima after these
}

std::vector<uint64_t> Network::totals() const {
  return {packets_injected_, packets_delivered_, flits_delivered_, mesh_flit_hops_, inter_chip_flit_hops_, latency_sum_,
          injection_wait_sum_, latency_max_, last_delivery_cycle_};
}

void Network::add_totals(const std::vector<uint64_t>& now, const std::vector<uint64_t>& before) {
  uint64_t* summed[kSummedTotals] = {&packets_injected_, &packets_delivered_, &flits_delivered_, &mesh_flit_hops_,
                                     &inter_chip_flit_hops_, &latency_sum_, &injection_wait_sum_};
  uint64_t* maxima[] = {&latency_max_, &last_delivery_cycle_};
  if (now.size() != kSummedTotals + 2 || before.size() != now.size())
    throw NocError(fmt::format("{} network totals from another rank, expected {}", now.size(), kSummedTotals + 2));
  for (std::size_t k = 0; k < kSummedTotals; ++k) *summed[k] += now[k] - before[k];
  for (std::size_t k = 0; k < 2; ++k) *maxima[k] = std::max(*maxima[k], now[kSummedTotals + k]);
}

void Network::on_quiescent() {
  quiescent_event_.notify(sc_core::SC_ZERO_TIME);
  disarm_watchdog_if_idle();
}

void Network::wait_until_quiescent() {
  while (!quiescent()) sc_core::wait(quiescent_event_);
}

void Network::fail(std::exception_ptr error) {
  if (!error_) error_ = error;
  // The error says why the run stopped; the kernel's "stopped by user" note would only add noise.
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  sc_core::sc_stop();
}

void Network::rethrow_if_failed() const {
  if (error_) std::rethrow_exception(error_);
}

// ---------------------------------------------------------------------------------------------
// Watchdog
// ---------------------------------------------------------------------------------------------

int Network::begin_wait(std::string unit, std::string waiting_for) {
  const int id = next_wait_id_++;
  waits_.push_back({id, Wait{std::move(unit), std::move(waiting_for), clock_.now()}});
  arm_watchdog();
  return id;
}

void Network::end_wait(int wait_id) {
  auto it = std::find_if(waits_.begin(), waits_.end(), [&](const auto& w) { return w.first == wait_id; });
  if (it == waits_.end()) throw NocError(fmt::format("end_wait({}): no such wait is registered", wait_id));
  waits_.erase(it);
  ++progress_;
  disarm_watchdog_if_idle();
}

// Nothing outstanding: a pending check would only advance simulated time past the last activity.
void Network::disarm_watchdog_if_idle() {
  if (in_flight_ != 0 || !waits_.empty() || !watchdog_armed_) return;
  watchdog_event_.cancel();
  watchdog_armed_ = false;
}

void Network::arm_watchdog() {
  // In windows the window driver watches progress over all chips (and ranks): a check of its own
  // here would put events in the kernel whose times depend on which chips this process holds.
  if (watchdog_armed_ || hold_inter_chip_) return;
  watchdog_armed_ = true;
  watchdog_armed_at_ = clock_.now();
  progress_at_last_check_ = progress_;
  watchdog_event_.notify(clock_.after(config_.watchdog_window_cycles));
}

void Network::watchdog_check() {
  watchdog_armed_ = false;
  if (in_flight_ == 0 && waits_.empty()) return;
  if (progress_ != progress_at_last_check_) {
    arm_watchdog();
    return;
  }
  fail(std::make_exception_ptr(NetworkStalled(stall_report())));
}

std::vector<WaitingBuffer> Network::wait_cycle() const {
  // Node = router * 2·kPortCount + input port, or + kPortCount + output port for an output's branch
  // buffer. Edges: a head (or oldest parked branch) that wants a mesh output with no credit (and
  // none on the way back) waits on the input buffer behind the output; a multicast branch that
  // must queue in a full branch buffer waits on that buffer.
  constexpr int kNodesPerRouter = 2 * kPortCount;
  const int nodes = core_count() * kNodesPerRouter;
  auto waits_on = [this](int node) {
    std::vector<int> targets;
    const int router = node / kNodesPerRouter, k = node % kNodesPerRouter;
    const Router& r = *routers_[std::size_t(router)];
    auto credit_wait = [&](int o, const Packet& packet) {
      const Router::OutputPort& out = r.outputs_[o];
      if (o < kMeshPortCount && out.credits.available < int(packet.flits) && out.credits.returning.empty())
        targets.push_back(out.downstream * kNodesPerRouter + int(out.downstream_port));
    };
    if (k >= kPortCount) {
      const Router::OutputPort& out = r.outputs_[k - kPortCount];
      if (!out.parked.empty()) credit_wait(k - kPortCount, out.parked.front().packet);
      return targets;
    }
    const Router::InputPort& in = r.inputs_[k];
    if (in.fifo.empty()) return targets;
    const Router::Buffered& head = in.fifo.front();
    for (int o = 0; o < kPortCount; ++o) {
      if (!(head.remaining & (1u << o))) continue;
      if (!r.uses_branch_buffers(head.packet)) credit_wait(o, head.packet);
      else if (!r.branch_has_room(o, head.packet))
        targets.push_back(router * kNodesPerRouter + kPortCount + o);
    }
    return targets;
  };
  std::vector<char> state(std::size_t(nodes), 0);  // 0 unseen, 1 on the DFS path, 2 done
  struct Frame {
    int node;
    std::vector<int> next;
    std::size_t at = 0;
  };
  for (int root = 0; root < nodes; ++root) {
    if (state[std::size_t(root)]) continue;
    std::vector<Frame> path{{root, waits_on(root)}};
    state[std::size_t(root)] = 1;
    while (!path.empty()) {
      Frame& top = path.back();
      if (top.at == top.next.size()) {
        state[std::size_t(top.node)] = 2;
        path.pop_back();
        continue;
      }
      const int next = top.next[top.at++];
      if (state[std::size_t(next)] == 1) {
        std::vector<WaitingBuffer> cycle;
        auto it = std::find_if(path.begin(), path.end(), [next](const Frame& f) { return f.node == next; });
        for (; it != path.end(); ++it) {
          const int k = it->node % kNodesPerRouter;
          cycle.push_back({it->node / kNodesPerRouter, Port(k % kPortCount), k >= kPortCount});
        }
        return cycle;
      }
      if (state[std::size_t(next)] == 0) {
        state[std::size_t(next)] = 1;
        path.push_back({next, waits_on(next)});
      }
    }
  }
  return {};
}

std::string Network::stall_report() const {
  const Cycle now = clock_.now();
  std::string out = fmt::format(
      "network '{}' stalled at cycle {}: {} packet{} in flight, {} unit{} waiting, and nothing has moved for {} "
      "cycles (noc.watchdog window_cycles)\n",
      name(), now, in_flight_, in_flight_ == 1 ? "" : "s", waits_.size(), waits_.size() == 1 ? "" : "s",
      config_.watchdog_window_cycles);
  const std::vector<WaitingBuffer> cycle = wait_cycle();
  if (cycle.empty()) {
    out += "  no cyclic wait among router buffers: the stall starts where a core does not take its events or a "
           "unit waits\n";
  } else {
    auto name = [](const WaitingBuffer& b) {
      return fmt::format("router {} {} {}", b.router, b.branch ? "branch buffer" : "input", port_name(b.port));
    };
    out += fmt::format("  deadlock: cyclic wait of {} full buffers, each waiting for the next:", cycle.size());
    for (const WaitingBuffer& b : cycle) out += " " + name(b) + " ->";
    out += " " + name(cycle.front()) + "\n";
  }
  std::size_t reported = 0, blocked = 0;
  for (const auto& router : routers_) {
    if (!router->holds_packets()) continue;
    ++blocked;
    if (reported++ < kMaxReportedRouters) out += router->state_report();
  }
  if (blocked > kMaxReportedRouters) out += fmt::format("  ... and {} more routers holding packets\n", blocked - kMaxReportedRouters);
  if (blocked == 0) out += "  no router holds a packet\n";
  for (const auto& [id, wait] : waits_)
    out += fmt::format("  {} waits for {} (since cycle {})\n", wait.unit, wait.waiting_for, wait.since);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Statistics
// ---------------------------------------------------------------------------------------------

void Network::register_stats() {
  const std::string prefix = "noc.";
  for (const auto& owned : routers_) {
    const Router* r = owned.get();
    const std::string router = fmt::format("{}router[{}].", prefix, r->core());
    stats_.add_counter(router + "activations", &r->activations_, "times the router's process ran: the simulator's cost, not the chip's", "activations");
    for (int p = 0; p < kPortCount; ++p) {
      const Port port = Port(p);
      if (r->has_input(port))
        stats_.add_derived(fmt::format("{}in.{}.peak_occupancy_flits", router, port_name(port)),
                           [r, port] { return double(r->peak_occupancy_flits(port)); },
                           "most flits buffered at once in the input port", "flits", true);
      if (!r->has_output(port)) continue;
      const std::string link = fmt::format("{}out.{}.", router, port_name(port));
      stats_.add_counter(link + "packets", &r->outputs_[p].packets, "packets sent through the output port", "packets");
      stats_.add_counter(link + "flits", &r->outputs_[p].flits, "flits sent through the output port", "flits");
      stats_.add_derived(link + "blocked_cycles", [r, port] { return double(r->blocked_cycles(port)); },
                         "cycles a ready packet wanted the port and the link had no credit", "cycles", true);
      if (!config_.multicast_branch_buffer_flits) continue;
      stats_.add_counter(link + "branch_parks", &r->outputs_[p].parks,
                         "multicast branches that waited in the port's branch buffer", "packets");
      stats_.add_counter(link + "peak_branch_occupancy_flits", &r->outputs_[p].peak_parked_flits,
                         "most flits in the port's branch buffer at once", "flits");
    }
  }
  auto sum = [this](auto per_router) {
    return [this, per_router] {
      double total = 0;
      for (const auto& r : routers_) total += per_router(*r);
      return total;
    };
  };
  stats_.add_counter(prefix + "packets_injected", &packets_injected_, "packets cores handed to the network", "packets");
  stats_.add_counter(prefix + "packets_delivered", &packets_delivered_,
                     "packet copies delivered to cores' axon input queues (a multicast counts once per core)", "packets");
  stats_.add_counter(prefix + "flits_delivered", &flits_delivered_, "flits of the delivered packets", "flits");
  stats_.add_counter(prefix + "flit_hops.mesh", &mesh_flit_hops_, "flits × mesh links crossed", "flit-hops");
  stats_.add_counter(prefix + "flit_hops.inter_chip", &inter_chip_flit_hops_, "flits × inter-chip links crossed", "flits");
  stats_.add_derived(prefix + "router_activations", sum([](const Router& r) { return double(r.activations()); }),
                     "router process runs, all routers: the simulator's cost, not the chip's", "activations", true);
  stats_.add_derived(prefix + "blocked_cycles", sum([](const Router& r) {
                       double total = 0;
                       for (int p = 0; p < kPortCount; ++p)
                         if (r.has_output(Port(p))) total += double(r.blocked_cycles(Port(p)));
                       return total;
                     }),
                     "blocked cycles summed over all output ports", "cycles", true);
  stats_.add_derived(prefix + "peak_input_occupancy_flits",
                     [this] {
                       uint64_t peak = 0;
                       for (const auto& r : routers_)
                         for (int p = 0; p < kPortCount; ++p) peak = std::max(peak, r->peak_occupancy_flits(Port(p)));
                       return double(peak);
                     },
                     "fullest input buffer seen, any router and port", "flits", true);
  if (config_.multicast_branch_buffer_flits) {
    stats_.add_derived(prefix + "branch_parks", sum([](const Router& r) {
                         double total = 0;
                         for (int p = 0; p < kPortCount; ++p) total += double(r.branch_parks(Port(p)));
                         return total;
                       }),
                       "multicast branches that waited in a branch buffer, all routers", "packets", true);
    stats_.add_derived(prefix + "peak_branch_occupancy_flits",
                       [this] {
                         uint64_t peak = 0;
                         for (const auto& r : routers_)
                           for (int p = 0; p < kPortCount; ++p)
                             peak = std::max(peak, r->peak_branch_occupancy_flits(Port(p)));
                         return double(peak);
                       },
                       "fullest branch buffer seen, any router and port", "flits", true);
  }
  stats_.add_derived(prefix + "routers_active", sum([](const Router& r) { return r.activations() > 0 ? 1.0 : 0.0; }),
                     "routers that ran at least once", "routers", true);
  stats_.add_counter(prefix + "latency.sum_cycles", &latency_sum_, "Σ injection-to-delivery latency", "cycles");
  stats_.add_counter(prefix + "latency.max_cycles", &latency_max_, "longest injection-to-delivery latency", "cycles");
  stats_.add_derived(prefix + "latency.mean_cycles",
                     [this] { return packets_delivered_ ? double(latency_sum_) / double(packets_delivered_) : 0.0; },
                     "mean injection-to-delivery latency per delivered copy", "cycles");
  stats_.add_counter(prefix + "injection_wait_cycles", &injection_wait_sum_,
                     "Σ cycles packets waited in interface backlogs for room in the local input buffer", "cycles");
  stats_.add_counter(prefix + "last_delivery_cycle", &last_delivery_cycle_, "cycle of the latest delivery", "cycles");
}

std::string Network::summary() const {
  struct LinkLine {
    double value;
    std::string text;
  };
  std::vector<LinkLine> busiest, most_blocked;
  for (const auto& r : routers_)
    for (int p = 0; p < kPortCount; ++p) {
      const Port port = Port(p);
      if (!r->has_output(port)) continue;
      const std::string link =
          fmt::format("router {} ({}) {}{}", r->core(), to_string(topology().coord(r->core())), port_name(port),
                      r->outputs_[p].inter_chip ? " (inter-chip)" : "");
      if (r->flits_out(port)) busiest.push_back({double(r->flits_out(port)), link});
      if (r->blocked_cycles(port)) most_blocked.push_back({double(r->blocked_cycles(port)), link});
    }
  auto top = [](std::vector<LinkLine>& lines, const char* unit) {
    std::sort(lines.begin(), lines.end(), [](const LinkLine& a, const LinkLine& b) { return a.value > b.value; });
    std::string out;
    for (std::size_t k = 0; k < std::min<std::size_t>(5, lines.size()); ++k)
      out += fmt::format("    {:>10} {}  {}\n", uint64_t(lines[k].value), unit, lines[k].text);
    return out;
  };
  return fmt::format(
      "network '{}' on {}: {} cycles at {} MHz ({:.1f} ns)\n"
      "  packets: {} injected, {} delivered ({} flits), {} in flight\n"
      "  flit-hops: {} mesh, {} inter-chip\n"
      "  latency: mean {:.1f}, max {} cycles; injection backlog waits {} cycles\n"
      "  routers: {} of {} ever active ({} process runs); blocked cycles {}; fullest input buffer {} of {} flits\n"
      "  busiest links:\n{}  most blocked links:\n{}",
      name(), topology().describe(), last_delivery_cycle_, clock_.frequency_mhz(), clock_.to_ns(last_delivery_cycle_),
      packets_injected_, packets_delivered_, flits_delivered_, in_flight_, mesh_flit_hops_, inter_chip_flit_hops_,
      stats_.value("noc.latency.mean_cycles"), latency_max_, injection_wait_sum_, stats_.value("noc.routers_active"),
      routers_.size(), stats_.value("noc.router_activations"), stats_.value("noc.blocked_cycles"),
      stats_.value("noc.peak_input_occupancy_flits"), config_.input_buffer_depth_flits, top(busiest, "flits"),
      top(most_blocked, "cycles"));
}

// ---------------------------------------------------------------------------------------------
// Tracing and running
// ---------------------------------------------------------------------------------------------

void Network::trace(sc_core::sc_trace_file* file, const std::vector<int>& routers) {
  for (int core : routers) {
    Router& r = router_at(core);
    r.traced_ = true;
    for (int p = 0; p < kPortCount; ++p) {
      const Port port = Port(p);
      if (r.has_input(port))
        sc_core::sc_trace(file, r.inputs_[p].occupancy_flits, fmt::format("{}.in_{}_occupancy_flits", r.name(), port_name(port)));
      if (r.has_output(port))
        sc_core::sc_trace(file, r.outputs_[p].flits, fmt::format("{}.out_{}_flits", r.name(), port_name(port)));
    }
  }
}

void run(std::initializer_list<Network*> networks, Cycle max_cycles) {
  if (networks.size() == 0) throw std::invalid_argument("run: no network given");
  const CycleClock& clock = (*networks.begin())->clock();
  if (max_cycles == kNever) sc_core::sc_start();
  else sc_core::sc_start(clock.after(max_cycles), sc_core::SC_EXIT_ON_STARVATION);
  for (Network* network : networks) network->rethrow_if_failed();
  for (Network* network : networks)
    if (!network->quiescent())
      throw NocError(fmt::format("simulation stopped after {} cycles with packets still in flight:\n{}", clock.now(),
                                 network->stall_report()));
}

}  // namespace spiketile::sim
