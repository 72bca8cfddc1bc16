// Router and network-interface behaviour (the timing rules are in sim/noc_config.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "sim/network.hpp"

namespace spiketile::sim {

namespace {

constexpr int kLocal = int(Port::local);

uint8_t bit(int port) { return uint8_t(1u << port); }

// The port of `to` that leads back to `from` (its neighbour through some port of `from`).
Port port_back(const Topology& topology, int from, int to) {
  for (int p = 0; p < kMeshPortCount; ++p)
    if (topology.neighbor(to, Port(p)) == from) return Port(p);
  throw std::logic_error(fmt::format("router {} is not a neighbour of router {}", to, from));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Credits and links
// ---------------------------------------------------------------------------------------------

void Router::Credits::settle(Cycle now) {
  while (!returning.empty() && returning.front().first <= now) {
    available += returning.front().second;
    returning.pop_front();
  }
}

Cycle Router::Credits::available_by(int units, Cycle now) const {
  int have = available;
  if (have >= units) return now;
  for (std::size_t i = 0; i < returning.size(); ++i) {
    have += returning[i].second;
    if (have >= units) return std::max(now, returning[i].first);
  }
  return kNever;
}

void Router::Credits::give_back(Cycle at, int units) {
  // Returns over one link come in cycle order; keep the queue sorted in case two sources share it.
  returning.insert_sorted({at, units}, [](const auto& a, const auto& b) { return a.first < b.first; });
}

Cycle Router::Link::earliest_start(Cycle from) const { return std::max(from, Cycle(next_free_slot / slots_per_cycle)); }

Cycle Router::Link::transmit(Cycle now, int flits) {
  const uint64_t start = std::max(now * slots_per_cycle, next_free_slot);
  next_free_slot = start + uint64_t(flits) * slots_per_flit;
  const Cycle last_cycle = (next_free_slot - 1) / slots_per_cycle;
  return last_cycle + latency;
}

// ---------------------------------------------------------------------------------------------
// Network interface
// ---------------------------------------------------------------------------------------------

int NetworkInterface::core() const { return router_.core(); }

Packet NetworkInterface::unicast_to(int destination_core, int axon, int64_t payload, int payload_bits) const {
  Packet p;
  p.kind = PacketKind::unicast;
  p.destination = destination_core;
  p.axon = axon;
  p.payload = payload;
  p.flits = uint16_t(router_.network_.packet_flits(payload_bits));
  p.source_core = core();
  return p;
}

Packet NetworkInterface::flow_event(int flow, int axon, int64_t payload, int payload_bits) const {
  const RoutingTables& tables = router_.network_.tables();
  if (flow < 0 || flow >= int(tables.flows.size()))
    throw NocError(fmt::format("no flow {} (the routing tables hold {} flows)", flow, tables.flows.size()));
  const FlowRoute& route = tables.flows[std::size_t(flow)];
  if (route.source_core != core())
    throw NocError(fmt::format("flow {} starts at core {} ({}), not at core {}", flow, route.source_core,
                               to_string(tables.topology.coord(route.source_core)), core()));
  if (route.packet == FlowPacket::none)
    throw NocError(fmt::format("flow {} has no destination: nothing travels", flow));
  Packet p = unicast_to(route.unicast_destination, axon, payload, payload_bits);
  p.flow = flow;
  if (route.packet == FlowPacket::multicast) {
    p.kind = PacketKind::multicast;
    p.destination = route.source_index;
  }
  return p;
}

Packet NetworkInterface::flow_burst(int flow, int first_axon, int events, int64_t handle, int payload_bits) const {
  Packet p = flow_event(flow, first_axon, handle, payload_bits);
  p.events = uint16_t(events);
  p.flits = uint16_t(router_.network_.packet_flits(payload_bits, events));
  return p;
}

NetworkInterface::Prepared NetworkInterface::prepared(Packet packet) const {
  const NocConfig& config = router_.network_.config();
  if (packet.flits < 1 || int(packet.flits) > config.input_buffer_depth_flits)
    throw NocError(fmt::format(
        "a packet of {} flits cannot be sent: router input buffers hold {} flits "
        "(router.input_buffer_depth_flits) and a packet moves only when the next buffer has room for all of it",
        packet.flits, config.input_buffer_depth_flits));
  if (packet.events < 1 || int(packet.events) > config.axon_input_queue_depth)
    throw NocError(fmt::format("a burst of {} values cannot be sent: a core's axon input queue holds {} events "
                               "(core.axon_input_queue_depth)",
                               packet.events, config.axon_input_queue_depth));
  Prepared p;
  p.outputs = router_.route(packet, p.entry);  // throws now, to the caller, for a packet that cannot be routed
  packet.source_core = core();
  packet.injected_at = router_.network_.clock().now();
  p.packet = packet;
  return p;
}

bool NetworkInterface::try_inject(const Packet& packet) { return enter(prepared(packet)); }

bool NetworkInterface::enter(const Prepared& p) {
  const Cycle now = p.packet.injected_at;
  if (!backlog_.empty() || now < drained_until_) return false;  // earlier packets go first
  router_.injection_credits_.settle(now);
  if (router_.injection_credits_.available < int(p.packet.flits)) return false;
  router_.injection_credits_.available -= int(p.packet.flits);
  router_.network_.on_injected();
  router_.accept(Port::local, p.packet, now, p.outputs, p.entry);
  return true;
}

void NetworkInterface::inject(const Packet& packet) {
  const Prepared p = prepared(packet);
  if (enter(p)) return;
  const Cycle now = p.packet.injected_at;
  if (backlog_.empty()) backlog_since_ = std::max(now, drained_until_);  // the backlog ends no earlier
  backlog_.push_back(p.packet);
  router_.network_.on_injected();
  router_.drain_backlog(now);
}

Cycle NetworkInterface::backlog_cycles() const {
  const Cycle now = router_.network_.clock().now();
  if (!backlog_.empty()) return backlog_cycles_ + (now > backlog_since_ ? now - backlog_since_ : 0);
  return backlog_cycles_ - (drained_until_ > now ? drained_until_ - now : 0);  // the last wait ends ahead
}

bool NetworkInterface::has_delivery() const {
  return !received_.empty() && received_.front().arrival <= router_.network_.clock().now();
}

std::size_t NetworkInterface::deliveries_waiting() const {
  const Cycle now = router_.network_.clock().now();
  std::size_t n = 0;
  while (n < received_.size() && received_[n].arrival <= now) ++n;
  return n;
}

Delivery NetworkInterface::receive() {
  if (!has_delivery()) throw NocError(fmt::format("core {}: receive() with no delivered event waiting", core()));
  return receive_at(router_.network_.clock().now());
}

Delivery NetworkInterface::receive_at(Cycle take) {
  if (received_.empty() || received_.front().arrival > take)
    throw NocError(fmt::format("core {}: no delivery to take at cycle {}", core(), take));
  Delivery d = received_.front();
  received_.pop_front();
  ++router_.network_.progress_;
  router_.return_credit(Port::local, d.packet.events, take + 1);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Router
// ---------------------------------------------------------------------------------------------

Router::Router(const sc_core::sc_module_name& name, Network& network, int core)
    : sc_module(name), network_(network), core_(core), interface_(*this) {
  const NocConfig& config = network.config();
  const Topology& topology = network.topology();
  arbiter_ = make_arbiter(config.arbitration, kPortCount + 1);  // the inputs, then the branch buffer
  pipeline_ = Cycle(config.router_pipeline_latency_cycles);
  branch_buffer_flits_ = uint64_t(config.multicast_branch_buffer_flits);
  const Link mesh_link{uint64_t(config.mesh_link_bandwidth_flits_per_cycle), 1, Cycle(config.mesh_link_latency_cycles), 0};
  const Link chip_link{1, uint64_t(config.inter_chip_cycles_per_flit), Cycle(config.inter_chip_link_latency_cycles), 0};
  for (int p = 0; p < kMeshPortCount; ++p) {
    const int next = topology.neighbor(core, Port(p));
    if (next < 0) continue;
    const bool inter_chip = topology.is_inter_chip_port(core, Port(p));
    OutputPort& out = outputs_[p];
    out.exists = true;
    out.downstream = next;
    out.downstream_port = port_back(topology, core, next);
    out.inter_chip = inter_chip;
    out.link = inter_chip ? chip_link : mesh_link;
    out.credits.available = config.input_buffer_depth_flits;
    InputPort& in = inputs_[p];
    in.exists = true;
    in.upstream = next;
    in.upstream_port = out.downstream_port;  // the same link, seen from the other end
    in.credit_delay = out.link.latency;  // credits go back over the link the packets came by
  }
  OutputPort& eject = outputs_[kLocal];
  eject.exists = true;
  eject.link = mesh_link;
  eject.credits.available = config.axon_input_queue_depth;
  inputs_[kLocal].exists = true;
  inputs_[kLocal].credit_delay = 1;
  injection_credits_.available = config.input_buffer_depth_flits;

  SC_METHOD(run);
  sensitive << wake_;
  dont_initialize();
}

uint8_t Router::route(const Packet& packet, const RouteEntry*& entry) const {
  const Topology& topology = network_.topology();
  entry = nullptr;
  if (packet.kind == PacketKind::unicast) {
    if (packet.destination < 0 || packet.destination >= topology.core_count())
      throw NocError(fmt::format("unicast packet (flow {}) at router {} for core {}, which is outside {}", packet.flow,
                                 core_, packet.destination, topology.describe()));
    const Port port = topology.route_step(core_, packet.destination);
    if (!outputs_[int(port)].exists)
      throw NocError(fmt::format("unicast packet for core {} would leave router {} ({}) through port {}, which "
                                 "leads nowhere",
                                 packet.destination, core_, to_string(topology.coord(core_)), port_name(port)));
    return bit(int(port));
  }
  const auto& table = network_.tables().tables;
  const auto* entries = std::size_t(core_) < table.size() ? &table[std::size_t(core_)] : nullptr;
  if (!entries || packet.destination < 0 || packet.destination >= int(entries->size()) ||
      (*entries)[std::size_t(packet.destination)].flow != packet.flow)
    throw NocError(fmt::format("multicast packet of flow {} reached router {} ({}) with table index {}, but that "
                               "router's table ({} entries) has no entry for the flow there",
                               packet.flow, core_, to_string(topology.coord(core_)), packet.destination,
                               entries ? entries->size() : 0));
  entry = &(*entries)[std::size_t(packet.destination)];
  for (int p = 0; p < kPortCount; ++p)
    if ((entry->output_ports & bit(p)) && !outputs_[p].exists)
      throw NocError(fmt::format("flow {}: the table entry at router {} sends through port {}, which leads nowhere",
                                 packet.flow, core_, port_name(Port(p))));
  return entry->output_ports;
}

void Router::accept(Port input, const Packet& packet, Cycle arrival) {
  const RouteEntry* entry = nullptr;
  const uint8_t outputs = route(packet, entry);
  accept(input, packet, arrival, outputs, entry);
}

void Router::accept(Port input, const Packet& packet, Cycle arrival, uint8_t outputs, const RouteEntry* entry) {
  Buffered b;
  b.packet = packet;
  b.arrival = arrival;
  b.entry = entry;
  b.remaining = outputs;
  Ring<Buffered>& fifo = inputs_[int(input)].fifo;
  fifo.push_back(b);
  occupied_ |= bit(int(input));
  // Only a head packet can leave; the run that sends the head looks at the next one (next_wake).
  // Until then its arrival changes nothing: it is admitted at the next run with the same
  // occupancies, as nothing leaves the buffer in between.
  if (traced_) request_wake(arrival);
  else if (fifo.size() == 1 && !in_run_) request_wake(head_wake(fifo.front(), network_.clock().now(), false));
}

void Router::return_credit(Port output, int units, Cycle at) {
  outputs_[int(output)].credits.give_back(at, units);
  crediting_ |= bit(int(output));
  if (!(credit_wanted_ & bit(int(output)))) return;
  // A head waiting for these credits cannot leave before it is through the pipeline: a return
  // that comes earlier is looked at then (the run then finds the output not blocked).
  Cycle ready = parked_ & bit(int(output)) ? 0 : kNever;  // a parked branch is through the pipeline
  for (uint32_t m = occupied_; m; m &= m - 1) {
    const Buffered& head = inputs_[__builtin_ctz(m)].fifo.front();
    if (head.remaining & bit(int(output))) ready = std::min(ready, head.arrival + pipeline_);
  }
  request_wake(std::max(at, ready));
}

void Router::request_wake(Cycle at) {
  if (in_run_ || at >= scheduled_wake_) return;  // a run recomputes its next wake from its state
  const Cycle now = network_.clock().now();
  scheduled_wake_ = std::max(at, now);
  wake_.notify(network_.clock().after(scheduled_wake_ - now));
}

std::size_t Router::arrived(const InputPort& in, Cycle now) const {
  std::size_t n = in.admitted;
  while (n < in.fifo.size() && in.fifo[n].arrival <= now) ++n;
  return n;
}

uint64_t Router::occupancy_flits(Port input) const {
  const InputPort& in = inputs_[std::size_t(input)];
  uint64_t flits = in.occupancy_flits;
  const std::size_t end = arrived(in, network_.clock().now());
  for (std::size_t k = in.admitted; k < end; ++k) flits += in.fifo[k].packet.flits;
  return flits;
}

uint64_t Router::peak_occupancy_flits(Port input) const {
  return std::max(inputs_[std::size_t(input)].peak_occupancy_flits, occupancy_flits(input));
}

void Router::admit(InputPort& in, Cycle now) {
  while (in.admitted < in.fifo.size() && in.fifo[in.admitted].arrival <= now) {
    in.occupancy_flits += in.fifo[in.admitted].packet.flits;
    ++in.admitted;
  }
  in.peak_occupancy_flits = std::max(in.peak_occupancy_flits, in.occupancy_flits);
}

void Router::eject(Cycle now) {
  while (!ejecting_.empty() && ejecting_.front().arrival <= now) {
    const Delivery d = ejecting_.front();
    ejecting_.pop_front();
    network_.on_delivered(d);
    return_credit(Port::local, d.packet.events, now + 1);
    interface_.handler_(d);
  }
}

// Backlog packets enter the local input buffer, in order, at the cycle its credits are back for
// each: the credits already on their way are known (the buffer returns them when its packets
// leave, in this router's runs), so a packet can be placed now with its future entry cycle and
// no run is needed then. Until that cycle the interface takes no new packet directly.
void Router::drain_backlog(Cycle now) {
  NetworkInterface& ni = interface_;
  while (!ni.backlog_.empty()) {
    const Packet& packet = ni.backlog_.front();
    const Cycle credited = injection_credits_.available_by(int(packet.flits), now);
    if (credited == kNever) return;  // the run that frees the buffer drains again
    const Cycle at = std::max(credited, ni.drained_until_);
    injection_credits_.settle(at);
    injection_credits_.available -= int(packet.flits);
    network_.injection_wait_sum_ += at - packet.injected_at;
    accept(Port::local, packet, at);
    ni.drained_until_ = at;
    ni.backlog_.pop_front();
    if (ni.backlog_.empty()) ni.backlog_cycles_ += at - ni.backlog_since_;
  }
}

// A blocked interval may be opened ahead of time (next_wake: a head that will be ready at `at`
// without the credits it needs) or after it began (allocate: a run that finds a requester waiting
// opens it where the wait began); a later run that finds the output free closes it, or cancels it
// if it has not begun.
void Router::note_blocked(int output, bool blocked, Cycle at) {
  OutputPort& out = outputs_[output];
  if (blocked) {
    out.blocked_since = std::min(out.blocked_since, at);
    blocking_ |= bit(output);
  } else if (out.blocked_since != kNever) {
    if (at > out.blocked_since) out.blocked += at - out.blocked_since;
    out.blocked_since = kNever;
    blocking_ &= uint8_t(~bit(output));
  }
}

// The first cycle a run could have sent the head of `input`: it is through the pipeline, and it
// was not the packet behind one that left in the same run.
Cycle Router::ready_since(int input) const {
  const InputPort& in = inputs_[input];
  return std::max(in.fifo.front().arrival + pipeline_, in.head_since + 1);
}

uint64_t Router::blocked_cycles(Port port) const {
  const OutputPort& out = outputs_[int(port)];
  const Cycle now = network_.clock().now();
  return out.blocked + (out.blocked_since != kNever && now > out.blocked_since ? now - out.blocked_since : 0);
}

Packet Router::branch_copy(const Buffered& head, int output) const {
  Packet copy = head.packet;
  if (copy.kind == PacketKind::multicast && output != kLocal) copy.destination = head.entry->next_index[std::size_t(output)];
  return copy;
}

// Puts one copy on the output's link (or into the local core's queue) with its credits.
void Router::transmit(const Packet& copy, int output, Cycle now) {
  OutputPort& out = outputs_[output];
  out.credits.available -= credit_cost(output, copy);
  out.credits_taken_at = now;
  const Cycle arrival = out.link.transmit(now, copy.flits);
  ++out.packets;
  out.flits += copy.flits;
  network_.on_forked();
  ++network_.progress_;
  if (output == kLocal) {
    // The packet's arrival in the axon queue is certain now (the credits hold its slots), so a core
    // that takes deliveries from the queue gets it without a router run at the arrival cycle.
    if (interface_.handler_) {
      ejecting_.push_back({copy, arrival});
    } else {
      const Delivery d{copy, arrival};
      network_.on_delivered(d);
      interface_.received_.push_back(d);
      if (interface_.listener_) interface_.listener_();
      else if (interface_.next_look_ == kNever) interface_.delivery_event_.notify(network_.clock().after(arrival - now));
    }
  } else {
    network_.count_link_flits(copy, out.inter_chip);
    if (out.inter_chip && network_.hold_inter_chip_) {
      network_.held_flits_.push_back({int32_t(out.downstream), uint8_t(out.downstream_port), arrival, copy});
      network_.on_dropped_copy();  // in flight between the chips until the window's end
    } else {
      network_.router_at(out.downstream).accept(out.downstream_port, copy, arrival);
    }
  }
}

void Router::send(int input, int output, Cycle now, uint32_t& finished) {
  transmit(branch_copy(inputs_[input].fifo.front(), output), output, now);
  branch_done(input, output, now, finished);
}

void Router::send_parked(int output, Cycle now) {
  OutputPort& out = outputs_[output];
  transmit(out.parked.front().packet, output, now);
  out.parked_flits -= out.parked.front().packet.flits;
  out.parked.pop_front();
  if (out.parked.empty()) parked_ &= uint8_t(~bit(output));
  network_.on_dropped_copy();  // the parked copy has become the one on the link
}

// The branch waits in the output's branch buffer as a copy of its own (already addressed for the
// next router); it leaves from there in order, ahead of any later branch for the output.
void Router::park(int input, int output, Cycle now, uint32_t& finished) {
  OutputPort& out = outputs_[output];
  const Buffered& head = inputs_[input].fifo.front();
  Buffered parked;
  parked.packet = branch_copy(head, output);
  parked.arrival = now;
  parked.remaining = bit(output);
  out.parked.push_back(parked);
  out.parked_flits += parked.packet.flits;
  out.peak_parked_flits = std::max(out.peak_parked_flits, out.parked_flits);
  ++out.parks;
  parked_ |= bit(output);
  network_.on_forked();
  ++network_.progress_;
  branch_done(input, output, now, finished);
}

void Router::branch_done(int input, int output, Cycle now, uint32_t& finished) {
  InputPort& in = inputs_[input];
  Buffered& head = in.fifo.front();
  head.remaining &= uint8_t(~bit(output));
  if (head.remaining) return;
  // Every branch has left (or moved to a branch buffer): the buffer slot frees and its credits go
  // back upstream.
  const int flits = head.packet.flits;
  in.fifo.pop_front();
  in.head_since = now;
  if (in.fifo.empty()) occupied_ &= uint8_t(~bit(input));
  --in.admitted;
  in.occupancy_flits -= uint64_t(flits);
  network_.on_dropped_copy();
  finished |= bit(input);
  if (input == kLocal) injection_credits_.give_back(now + in.credit_delay, flits);
  else if (outputs_[input].inter_chip && network_.hold_inter_chip_)
    network_.held_credits_.push_back({int32_t(in.upstream), uint8_t(in.upstream_port), int32_t(flits), now + in.credit_delay});
  else network_.router_at(in.upstream).return_credit(in.upstream_port, flits, now + in.credit_delay);
}

uint32_t Router::allocate(Cycle now) {
  uint32_t ready = 0, wanted = 0;
  for (uint32_t m = occupied_; m; m &= m - 1) {
    const int i = __builtin_ctz(m);
    const InputPort& in = inputs_[i];
    if (in.admitted > 0 && in.fifo.front().arrival + pipeline_ <= now) {
      ready |= bit(i);
      wanted |= in.fifo.front().remaining;
    }
  }
  uint32_t finished = 0;
  // Outputs a ready head or a parked branch wants, and blocked ones (whose interval may end now).
  for (uint32_t outputs = wanted | blocking_ | parked_; outputs; outputs &= outputs - 1) {
    const int o = __builtin_ctz(outputs);
    OutputPort& out = outputs_[o];
    // The earliest cycle from which a requester left without credits has been waiting: a run need
    // not come at that cycle (runs come when something can change, and an unrelated wake may add
    // one), so the interval opens there rather than at this run. Credits only grow between sends,
    // so a wait found now has lasted since the requester was ready or since the last send.
    Cycle waiting_since = kNever;
    for (;;) {
      uint32_t requests = 0;
      waiting_since = kNever;
      if (!out.parked.empty() && out.credits.available >= credit_cost(o, out.parked.front().packet))
        requests |= bit(kBranchBuffer);
      for (uint32_t pending = ready & ~finished; pending; pending &= pending - 1) {
        const int i = __builtin_ctz(pending);
        const Buffered& head = inputs_[i].fifo.front();
        if (!(head.remaining & bit(o))) continue;
        if (uses_branch_buffers(head.packet) && !out.parked.empty()) continue;  // queues behind them, below
        if (out.credits.available >= credit_cost(o, head.packet)) requests |= bit(i);
        else if (!uses_branch_buffers(head.packet))  // a branch moves to the buffer instead
          waiting_since = std::min(waiting_since, ready_since(i));
      }
      if (!requests || !out.link.can_start(now)) break;
      const int granted = arbiter_->grant(o, requests);
      if (granted == kBranchBuffer) send_parked(o, now);
      else send(granted, o, now, finished);
    }
    // Multicast branches that cannot leave now move into the branch buffer while it has room; one
    // that could leave but lost the arbitration or the link tries again next cycle.
    for (uint32_t pending = ready & ~finished; branch_buffer_flits_ && pending; pending &= pending - 1) {
      const int i = __builtin_ctz(pending);
      const Buffered& head = inputs_[i].fifo.front();
      if (!(head.remaining & bit(o)) || !uses_branch_buffers(head.packet)) continue;
      const bool has_credits = out.credits.available >= credit_cost(o, head.packet);
      if (out.parked.empty() && has_credits) continue;
      if (branch_has_room(o, head.packet)) park(i, o, now, finished);
      else if (!has_credits) waiting_since = std::min(waiting_since, ready_since(i));
    }
    // The oldest parked branch, if it lacks credits, has waited since it reached the front: since
    // it was parked (just now, or earlier), or since the send that took the branch before it.
    if (!out.parked.empty() && out.credits.available < credit_cost(o, out.parked.front().packet))
      waiting_since = std::min(waiting_since, out.parked.front().arrival);
    const bool blocked = waiting_since != kNever;
    note_blocked(o, blocked, blocked ? std::max(waiting_since, out.credits_taken_at) : now);
  }
  return finished;
}

// The next cycle at which a run can change something: a head packet can leave (it is through the
// pipeline, its output has the credits and the link is free), a blocked output gets its credits
// back, a delivery reaches a handler, or the backlog can enter.
Cycle Router::next_wake(Cycle now, uint32_t finished) {
  Cycle next = kNever;
  credit_wanted_ = 0;
  for (uint32_t m = occupied_; m; m &= m - 1) {
    const int i = __builtin_ctz(m);
    const InputPort& in = inputs_[i];
    if (traced_ && in.admitted < in.fifo.size()) next = std::min(next, in.fifo[in.admitted].arrival);
    const bool seen_by_allocate = in.fifo.front().arrival + pipeline_ <= now && !(finished & bit(i));
    next = std::min(next, head_wake(in.fifo.front(), now, seen_by_allocate));
  }
  for (uint32_t m = parked_; m; m &= m - 1) next = std::min(next, parked_wake(__builtin_ctz(m), now));
  if (!ejecting_.empty()) next = std::min(next, ejecting_.front().arrival);
  return next;
}

// When the oldest parked branch of `output` can leave: at once if the output has its credits
// (once the link is free), else at the return that brings them. allocate() has seen it, so the
// blocked interval is open already.
Cycle Router::parked_wake(int output, Cycle now) {
  OutputPort& out = outputs_[output];
  const Cycle credited = out.credits.available_by(credit_cost(output, out.parked.front().packet), now);
  if (credited == now) return out.link.earliest_start(now + 1);
  credit_wanted_ |= bit(output);
  return credited;
}

// When `head` (at the front of its input buffer) next needs a run. A head that will be ready
// without the credits it needs waits for the return that brings them (or, with none on its way,
// for any return: credit_wanted_), and its output counts as blocked from the cycle the head is
// ready; the run at the credits' return ends the blocked interval, even if the link is still busy.
Cycle Router::head_wake(const Buffered& head, Cycle now, bool seen_by_allocate) {
  Cycle next = kNever;
  const Cycle ready_at = std::max(head.arrival + pipeline_, now + 1);
  for (int o = 0; o < kPortCount; ++o) {
    if (!(head.remaining & bit(o))) continue;
    OutputPort& out = outputs_[o];
    if (uses_branch_buffers(head.packet)) {
      // Ready, it leaves or moves to the branch buffer; a full buffer frees in a run of its own
      // (parked_wake), which moves the branch in the same run.
      if (branch_has_room(o, head.packet) || out.parked.empty())
        next = std::min(next, seen_by_allocate ? out.link.earliest_start(now + 1) : ready_at);
      continue;
    }
    const Cycle credited = out.credits.available_by(credit_cost(o, head.packet), now);
    if (credited == now || (credited <= ready_at && !seen_by_allocate)) {
      next = std::min(next, out.link.earliest_start(ready_at));
      continue;
    }
    credit_wanted_ |= bit(o);
    if (!seen_by_allocate) note_blocked(o, true, ready_at);  // allocate() noted the others
    next = std::min(next, credited);
  }
  return next;
}

void Router::run() {
  const Cycle now = network_.clock().now();
  ++activations_;
  scheduled_wake_ = kNever;
  in_run_ = true;
  try {
    for (uint32_t m = crediting_; m; m &= m - 1) {
      const int o = __builtin_ctz(m);
      Credits& credits = outputs_[o].credits;
      credits.settle(now);
      if (credits.returning.empty()) crediting_ &= uint8_t(~bit(o));
    }
    eject(now);
    for (uint32_t m = occupied_; m; m &= m - 1) admit(inputs_[__builtin_ctz(m)], now);
    const uint32_t finished = allocate(now);
    drain_backlog(now);  // a packet that left the local buffer made room
    const Cycle next = next_wake(now, finished);
    if (next != kNever) {
      scheduled_wake_ = next;
      wake_.notify(network_.clock().after(next - now));
    }
  } catch (...) {
    network_.fail(std::current_exception());
  }
  in_run_ = false;
}

bool Router::holds_packets() const {
  if (parked_) return true;
  for (const InputPort& in : inputs_)
    if (!in.fifo.empty()) return true;
  return !ejecting_.empty() || !interface_.backlog_.empty() || !interface_.received_.empty();
}

// "E (2 credits + 1 returning from cycle 90, router 7 input W)": an output and what is behind it.
std::string Router::output_wait(int o) const {
  const OutputPort& port = outputs_[o];
  const std::string behind =
      o == kLocal ? fmt::format("core {}'s axon input queue ({} of {} events waiting to be taken)", core_,
                                interface_.received_.size(), network_.config().axon_input_queue_depth)
                  : fmt::format("router {} input {}", port.downstream, port_name(port.downstream_port));
  std::string returning;
  if (!port.credits.returning.empty())
    returning = fmt::format(" + {} returning from cycle {}", port.credits.returning.size(), port.credits.next_return());
  return fmt::format("{} ({} credit{}{}, {})", port_name(Port(o)), port.credits.available,
                     port.credits.available == 1 ? "" : "s", returning, behind);
}

std::string Router::state_report() const {
  const Topology& topology = network_.topology();
  const NocConfig& config = network_.config();
  const Cycle now = network_.clock().now();
  std::string out;
  const std::string where = fmt::format("router {} ({})", core_, to_string(topology.coord(core_)));
  for (int i = 0; i < kPortCount; ++i) {
    const InputPort& in = inputs_[i];
    if (in.fifo.empty()) continue;
    const Buffered& head = in.fifo.front();
    std::string waits;
    for (int o = 0; o < kPortCount; ++o) {
      if (!(head.remaining & bit(o))) continue;
      waits += (waits.empty() ? "" : "; ") + output_wait(o);
      const OutputPort& port = outputs_[o];
      if (uses_branch_buffers(head.packet) && !port.parked.empty())
        waits += fmt::format(" behind its branch buffer ({} of {} flits)", port.parked_flits, branch_buffer_flits_);
    }
    out += fmt::format(
        "  {} input {}: {}/{} flits buffered{}; head: {} packet of flow {} from core {} ({} flit{}), {}, waits for "
        "output {}\n",
        where, port_name(Port(i)), occupancy_flits(Port(i)), config.input_buffer_depth_flits,
        in.fifo.size() > arrived(in, now) ? fmt::format(" (+{} arriving)", in.fifo.size() - arrived(in, now)) : "",
        head.packet.kind == PacketKind::multicast ? "multicast" : "unicast", head.packet.flow,
        head.packet.source_core, head.packet.flits, head.packet.flits == 1 ? "" : "s",
        head.arrival + pipeline_ <= now ? "ready" : "in the pipeline", waits);
  }
  for (uint32_t m = parked_; m; m &= m - 1) {
    const int o = __builtin_ctz(m);
    const OutputPort& port = outputs_[o];
    const Buffered& head = port.parked.front();
    out += fmt::format("  {} branch buffer of output {}: {} packet{}, {}/{} flits; oldest: flow {} from core {}, waits "
                       "for output {}\n",
                       where, port_name(Port(o)), port.parked.size(), port.parked.size() == 1 ? "" : "s",
                       port.parked_flits, branch_buffer_flits_, head.packet.flow, head.packet.source_core,
                       output_wait(o));
  }
  if (!interface_.backlog_.empty())
    out += fmt::format("  {}: {} packets wait at core {}'s network interface for room in the local input buffer\n",
                       where, interface_.backlog_.size(), core_);
  if (!interface_.received_.empty() && interface_.received_.size() >= std::size_t(config.axon_input_queue_depth))
    out += fmt::format("  {}: core {}'s axon input queue is full ({} events) and the core has not taken them\n",
                       where, core_, interface_.received_.size());
  return out;
}

}  // namespace spiketile::sim
