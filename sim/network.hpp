// The chip's network-on-chip as SystemC modules: one router per core (one SC_METHOD each), the mesh
// and inter-chip links between them, one network interface per core, a watchdog and statistics.
//
// Event-driven throughout: there is no sc_clock. A router's process runs only in cycles where it
// has something to do (a head packet can leave, a credit a blocked head waits for returns, the
// interface's backlog can enter) and sleeps otherwise, so idle routers cost nothing. A packet for
// the local core goes into the core's queue when it leaves the router, with its arrival cycle: the
// core takes it from then on, and no router run is needed at the arrival. Timing rules:
// sim/noc_config.hpp.
//
// Routing: a unicast packet carries its destination core and every router applies
// Topology::route_step; a multicast packet carries a routing-table index (label-swapped at each
// hop from RouteEntry::next_index) and every router forwards it to all output ports of the entry.
// Replication is asynchronous: the packet stays at the head of its input buffer until every branch
// has left, each branch competing for its output port on its own, so a blocked branch holds the
// buffer but not the branches that can go. With branch buffers (router.multicast_branch_buffer_flits)
// a branch that lacks its output's credits moves, in order, into that output's branch buffer, and
// the input slot frees once every branch has left or moved: one slow destination then holds up
// only its own branch until the branch buffer fills. A router sends at most one packet per input
// port per cycle (all branches of one packet may leave in the same cycle) and, per output port, as
// many as the link's bandwidth allows.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <systemc>

#include "compiler/routing.hpp"
#include "sim/arbiter.hpp"
#include "sim/clock.hpp"
#include "sim/noc_config.hpp"
#include "sim/packet.hpp"
#include "sim/ring.hpp"
#include "sim/stats.hpp"

namespace spiketile::sim {

class NocError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The watchdog's verdict: events outstanding (or a unit waiting) and nothing moved for a window.
// what() names every blocked router and port, its buffer occupancy, the head packet's flow and the
// outputs it waits for, and every registered wait.
class NetworkStalled : public NocError {
 public:
  using NocError::NocError;
};

class Network;
class Router;

// A buffer in a router: an input port's buffer, or (branch) the branch buffer of an output port.
struct WaitingBuffer {
  int router = -1;
  Port port = Port::local;
  bool branch = false;
  bool operator==(const WaitingBuffer& o) const { return router == o.router && port == o.port && branch == o.branch; }
};

// What crosses a chip boundary: a packet on an inter-chip link, or the credits coming back over it.
// While Network::hold_inter_chip_traffic is on, neither reaches the other chip's router when sent:
// it waits for the next window boundary, where deliver() hands it over (sim/README.md, "Windows").
struct InterChipFlit {
  int32_t router = 0;  // the receiving router and its input port
  uint8_t port = 0;
  Cycle arrival = 0;
  Packet packet;
};
struct InterChipCredit {
  int32_t router = 0;  // the router whose output gets the credits back, and that output
  uint8_t port = 0;
  int32_t units = 0;
  Cycle at = 0;
};

struct Delivery {
  Packet packet;
  Cycle arrival = 0;  // the cycle the event entered the core's axon input queue
};

// A core's connection to its router: what a core model uses to send and receive events.
class NetworkInterface {
 public:
  int core() const;

  // A unicast event to `destination_core`, or the event of `flow` (which must start at this core;
  // unicast or multicast as the routing tables chose). payload_bits < 0: the chip's payload width.
  Packet unicast_to(int destination_core, int axon, int64_t payload = 0, int payload_bits = -1) const;
  Packet flow_event(int flow, int axon, int64_t payload = 0, int payload_bits = -1) const;
  // A burst of `events` values of `flow` for axons first_axon, first_axon + 1, ...; the values stay
  // with the sender, `handle` (carried as the payload) tells the receiver where.
  Packet flow_burst(int flow, int first_axon, int events, int64_t handle, int payload_bits = -1) const;

  // Puts the packet into the router's local input buffer this cycle, or returns false (and does
  // nothing) when the buffer lacks room or earlier packets still wait in the backlog.
  bool try_inject(const Packet& packet);
  // The same, but a packet that does not fit waits in an unbounded backlog at the interface and
  // enters the buffer, in order, as room frees.
  void inject(const Packet& packet);
  std::size_t backlog() const { return backlog_.size(); }
  // Cycles in which packets waited in the backlog (up to now): from the cycle one entered an empty
  // backlog to the cycle the router took the last of them.
  Cycle backlog_cycles() const;

  // Events delivered to this core (arrived in its axon input queue) and not yet taken. Taking one
  // frees its slots in the queue, one per value (the router sees the room one cycle later).
  bool has_delivery() const;
  std::size_t deliveries_waiting() const;
  Delivery receive();
  // Takes the next delivery, arrived or still on the link, as of cycle `take` (>= its arrival): a
  // core that works out its reactions ahead of time (set_delivery_listener) frees the queue slots
  // at the cycle it takes the event, not at the cycle it computed the reaction.
  Delivery receive_at(Cycle take);
  // The arrival cycle of the next delivery not yet taken, arrived or still on the link from the
  // router (kNever: none).
  Cycle next_delivery() const { return received_.empty() ? kNever : received_.front().arrival; }
  // Notified at the arrival cycle of a delivery unless the core said it will look at its queue
  // anyway (set_next_look), which spares a kernel event per delivery to a busy core.
  const sc_core::sc_event& delivery_event() const { return delivery_event_; }
  // The cycle the core's process will next run on its own (kNever: it sleeps until a delivery);
  // that run must look at next_delivery(). A core that does not call this is woken every time.
  void set_next_look(Cycle cycle) { next_look_ = cycle; }

  // Alternative to receive(): every delivery is handed to `handler` at its arrival cycle (from the
  // router's process) and its queue slot frees at once, so the core never back-pressures.
  using DeliveryHandler = std::function<void(const Delivery&)>;
  void set_delivery_handler(DeliveryHandler handler) { handler_ = std::move(handler); }

  // Alternative to the delivery event: `listener` is called (from the router's process) the moment
  // a delivery enters the queue with its arrival cycle, for a core whose reaction to each depends
  // only on their order and arrival cycles and so can be worked out at once (receive_at).
  void set_delivery_listener(std::function<void()> listener) { listener_ = std::move(listener); }

 private:
  friend class Router;
  friend class Network;
  explicit NetworkInterface(Router& router) : router_(router) {}
  struct Prepared {
    Packet packet;
    uint8_t outputs = 0;                // its route at this router
    const RouteEntry* entry = nullptr;
  };
  Prepared prepared(Packet packet) const;  // checked and routed, so errors reach the caller
  bool enter(const Prepared& p);

  Router& router_;
  Ring<Packet> backlog_;
  // The backlog's packets are placed in the buffer ahead of their entry cycles; the last such
  // cycle (the backlog counts as waiting until then).
  Cycle drained_until_ = 0;
  Cycle backlog_since_ = 0, backlog_cycles_ = 0;  // backlog_cycles_ counts up to drained_until_
  // In arrival order; an entry whose arrival lies ahead is still on the link (its queue slots are
  // taken: the router sent it with the queue's credits).
  Ring<Delivery> received_;
  DeliveryHandler handler_;
  std::function<void()> listener_;
  sc_core::sc_event delivery_event_;
  Cycle next_look_ = kNever;
};

class Router : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Router);
  Router(const sc_core::sc_module_name& name, Network& network, int core);

  int core() const { return core_; }
  NetworkInterface& interface() { return interface_; }
  const NetworkInterface& interface() const { return interface_; }

  // Times the process ran: 0 for a router no event ever touched.
  uint64_t activations() const { return activations_; }
  bool has_output(Port port) const { return outputs_[std::size_t(port)].exists; }
  bool has_input(Port port) const { return inputs_[std::size_t(port)].exists; }
  uint64_t packets_out(Port port) const { return outputs_[std::size_t(port)].packets; }
  uint64_t flits_out(Port port) const { return outputs_[std::size_t(port)].flits; }
  // Cycles in which a ready packet wanted the output and its link had no credit (up to now).
  uint64_t blocked_cycles(Port port) const;
  // Multicast branches that moved into the output's branch buffer, and the flits it holds now and
  // held at most.
  uint64_t branch_parks(Port port) const { return outputs_[std::size_t(port)].parks; }
  uint64_t branch_occupancy_flits(Port port) const { return outputs_[std::size_t(port)].parked_flits; }
  uint64_t peak_branch_occupancy_flits(Port port) const { return outputs_[std::size_t(port)].peak_parked_flits; }
  // Flits in the input buffer now. A packet that arrived since the router last ran counts: its
  // admission waits for the next run (nothing leaves before), but an observer sees it.
  uint64_t occupancy_flits(Port input) const;
  uint64_t peak_occupancy_flits(Port input) const;
  bool holds_packets() const;
  // Lines describing what the router holds and what each head packet waits for ("" when empty).
  std::string state_report() const;

 private:
  friend class NetworkInterface;
  friend class Network;

  struct Buffered {
    Packet packet;
    Cycle arrival = 0;
    const RouteEntry* entry = nullptr;  // multicast: this router's table entry
    uint8_t remaining = 0;              // output ports (bit per Port) still to send to
  };
  // Credits (free slots downstream), with returns in flight applied once their cycle has come.
  struct Credits {
    int available = 0;
    Ring<std::pair<Cycle, int>> returning;
    void settle(Cycle now);
    void give_back(Cycle at, int units);
    Cycle next_return() const { return returning.empty() ? kNever : returning.front().first; }
    // The first cycle at which `units` credits are available counting the returns already on their
    // way (kNever: not before further returns are sent).
    Cycle available_by(int units, Cycle now) const;
  };
  // A link's bandwidth in slots: B slots per cycle and 1 per flit on a mesh link, 1 slot per cycle
  // and cycles_per_flit per flit across chips.
  struct Link {
    uint64_t slots_per_cycle = 1;
    uint64_t slots_per_flit = 1;
    Cycle latency = 1;
    uint64_t next_free_slot = 0;
    bool can_start(Cycle now) const { return next_free_slot < (now + 1) * slots_per_cycle; }
    Cycle earliest_start(Cycle from) const;
    Cycle transmit(Cycle now, int flits);  // returns the arrival cycle
  };
  struct InputPort {
    bool exists = false;
    Ring<Buffered> fifo;  // entries [0, admitted) have arrived, the rest are on the link
    std::size_t admitted = 0;
    uint64_t occupancy_flits = 0;       // of the admitted entries
    uint64_t peak_occupancy_flits = 0;  // as of the last admission (peak_occupancy_flits() is exact)
    int upstream = -1;  // router feeding this port (-1 for local: the interface)
    Port upstream_port = Port::local;
    Cycle credit_delay = 1;
    Cycle head_since = 0;  // the run in which the front packet became the head (it is ready after)
  };
  struct OutputPort {
    bool exists = false;
    int downstream = -1;  // router behind the port (-1 for local: the core)
    Port downstream_port = Port::local;
    bool inter_chip = false;
    Credits credits;
    Link link;
    uint64_t packets = 0, flits = 0, blocked = 0;
    Cycle blocked_since = kNever;
    Cycle credits_taken_at = 0;  // the last send: only sends take credits, returns only add them
    // Branch buffer: multicast branches waiting for this output's credits, oldest first, each
    // already addressed for the next router; they leave in order, before any later branch.
    Ring<Buffered> parked;
    uint64_t parked_flits = 0, peak_parked_flits = 0, parks = 0;
  };
  // The arbiter's requester index for an output's branch buffer, after the input ports.
  static constexpr int kBranchBuffer = kPortCount;

  void run();
  uint32_t allocate(Cycle now);  // returns the input ports that sent their head packet
  void send(int input, int output, Cycle now, uint32_t& finished);
  void send_parked(int output, Cycle now);
  void park(int input, int output, Cycle now, uint32_t& finished);
  void transmit(const Packet& copy, int output, Cycle now);
  void branch_done(int input, int output, Cycle now, uint32_t& finished);
  Packet branch_copy(const Buffered& head, int output) const;
  // A multicast branch goes through the output's branch buffer (when the router has them) unless
  // the buffer is empty and the output has the credits.
  bool uses_branch_buffers(const Packet& packet) const {
    return branch_buffer_flits_ > 0 && packet.kind == PacketKind::multicast;
  }
  // Whether `packet` fits the output's branch buffer as it is now.
  bool branch_has_room(int output, const Packet& packet) const {
    return outputs_[output].parked_flits + packet.flits <= branch_buffer_flits_;
  }
  Cycle next_wake(Cycle now, uint32_t finished);
  Cycle head_wake(const Buffered& head, Cycle now, bool seen_by_allocate);
  Cycle parked_wake(int output, Cycle now);
  std::string output_wait(int output) const;
  void admit(InputPort& in, Cycle now);
  std::size_t arrived(const InputPort& in, Cycle now) const;  // packets in the buffer, admitted or not
  void eject(Cycle now);
  void drain_backlog(Cycle now);
  void note_blocked(int output, bool blocked, Cycle at);
  Cycle ready_since(int input) const;

  // Called from other processes (upstream routers, the interface).
  void accept(Port input, const Packet& packet, Cycle arrival);
  void accept(Port input, const Packet& packet, Cycle arrival, uint8_t outputs, const RouteEntry* entry);
  void return_credit(Port output, int units, Cycle at);
  void request_wake(Cycle at);

  uint8_t route(const Packet& packet, const RouteEntry*& entry) const;
  // A delivered packet takes one axon-queue slot per value it carries.
  int credit_cost(int output, const Packet& packet) const {
    return output == int(Port::local) ? packet.events : packet.flits;
  }

  Network& network_;
  const int core_;
  NetworkInterface interface_;
  std::unique_ptr<IArbiter> arbiter_;
  InputPort inputs_[kPortCount];
  OutputPort outputs_[kPortCount];
  Credits injection_credits_;  // room in the local input buffer, as the interface sees it
  Ring<Delivery> ejecting_;  // on the link to a core that takes deliveries through a handler
  sc_core::sc_event wake_;
  Cycle scheduled_wake_ = kNever;
  uint8_t credit_wanted_ = 0;  // outputs whose credits a ready packet waits for
  // Bit masks (bit per port) so a run looks only at the ports that hold something.
  uint8_t occupied_ = 0;   // inputs with packets buffered or arriving
  uint8_t crediting_ = 0;  // outputs with credits on their way back
  uint8_t blocking_ = 0;   // outputs with an open (or pending) blocked interval
  uint8_t parked_ = 0;     // outputs whose branch buffer holds packets
  uint64_t branch_buffer_flits_ = 0;
  Cycle pipeline_ = 1;
  bool in_run_ = false;
  bool traced_ = false;  // wakes at arrivals too, so traced occupancies are exact per cycle
  uint64_t activations_ = 0;
};

class Network : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(Network);
  // Multicast and unicast flows of `tables` (which also give the topology).
  Network(const sc_core::sc_module_name& name, const NocConfig& config, RoutingTables tables);
  // Unicast traffic only.
  Network(const sc_core::sc_module_name& name, const NocConfig& config, const Topology& topology);

  const NocConfig& config() const { return config_; }
  const Topology& topology() const { return tables_.topology; }
  const RoutingTables& tables() const { return tables_; }
  const CycleClock& clock() const { return clock_; }
  int core_count() const { return int(routers_.size()); }
  int packet_flits(int payload_bits = -1, int events = 1) const;
  // The most values of `payload_bits` one burst may carry here: router.max_burst_events, fewer where
  // the packet would outgrow an input buffer or the axon input queue. 1: no bursts.
  int burst_capacity(int payload_bits = -1) const;
  NetworkInterface& interface(int core) { return router_at(core).interface(); }
  const Router& router(int core) const { return *routers_.at(std::size_t(core)); }

  // Token barrier: every injected packet has reached all its destinations' queues.
  bool quiescent() const { return in_flight_ == 0; }
  int64_t packets_in_flight() const { return in_flight_; }
  const sc_core::sc_event& quiescent_event() const { return quiescent_event_; }
  void wait_until_quiescent();  // from an SC_THREAD

  // Watchdog. A unit that waits for something (a core expecting events) registers the wait so
  // the watchdog can name it; a unit that works without network traffic reports progress so the
  // watchdog does not mistake its work for a stall.
  int begin_wait(std::string unit, std::string waiting_for);
  void end_wait(int wait_id);
  void note_progress() { ++progress_; }
  std::size_t waiting_units() const { return waits_.size(); }
  // What the watchdog would report now.
  std::string stall_report() const;
  // Input buffers (router, port) that wait on each other in a cycle, each head packet needing a
  // credit only the next one's departure can return: a deadlock. Empty when there is none.
  std::vector<WaitingBuffer> wait_cycle() const;

  // Flits by token (Packet::token), kTrafficKinds entries per token t: mesh flit-hops, inter-chip
  // flit-hops and flits delivered into cores, at kTrafficKinds·t + TrafficKind; null stops the
  // count. The simulator's overlapped tokens take their traffic from here.
  enum TrafficKind { kMeshHops = 0, kInterChipHops = 1, kDelivered = 2, kTrafficKinds = 3 };
  void count_traffic_by_token(std::vector<int64_t>* flits) { traffic_by_token_ = flits; }

  // Statistics under "noc." (per router, port and link, and totals).
  StatRegistry& stats() { return stats_; }
  const StatRegistry& stats() const { return stats_; }
  std::string summary() const;

  // VCD: buffer occupancy per input port and flits sent per output port of the given routers.
  // Call before sc_start; untraced routers get no trace and keep waking only when they have work.
  void trace(sc_core::sc_trace_file* file, const std::vector<int>& routers);

  // Windows (sim/README.md): packets and credits crossing chips are held, each chip's routers see
  // nothing of the other chips within a window, and the window driver hands them over at its end.
  void hold_inter_chip_traffic(bool on) { hold_inter_chip_ = on; }
  std::vector<InterChipFlit>& held_flits() { return held_flits_; }
  std::vector<InterChipCredit>& held_credits() { return held_credits_; }
  // At a window boundary: the packet enters its router's input port (it arrives at its own cycle),
  // the credits are on their way back to the output.
  void deliver(const InterChipFlit& flit);
  void deliver(const InterChipCredit& credit);
  // A run over ranks (sim/README.md): each rank's routers count on the rank that simulates them;
  // rank 0 copies in the counters of the others' routers and adds their totals, so its statistics
  // cover the whole system.
  std::vector<uint64_t> router_counters(int router) const;
  void set_router_counters(int router, const std::vector<uint64_t>& counters);
  std::vector<uint64_t> totals() const;
  // Adds what another rank counted between two of its totals() (maxima: the larger).
  void add_totals(const std::vector<uint64_t>& now, const std::vector<uint64_t>& before);
  // Progress made elsewhere (other ranks), so the watchdog does not take waiting for it for a stall.
  void add_progress(uint64_t steps) { progress_ += steps; }
  uint64_t progress() const { return progress_; }

  // An error raised inside a process (a stall, a packet without a route) is kept and stops the
  // simulation; this rethrows it.
  bool failed() const { return bool(error_); }
  void rethrow_if_failed() const;

 private:
  friend class Router;
  friend class NetworkInterface;

  void build();
  void register_stats();
  Router& router_at(int core);
  void fail(std::exception_ptr error);
  void on_injected();
  void on_delivered(const Delivery& delivery);
  void on_forked() { ++in_flight_; }
  void count_link_flits(const Packet& p, bool inter_chip) {
    (inter_chip ? inter_chip_flit_hops_ : mesh_flit_hops_) += p.flits;
    count_by_token(p, inter_chip ? kInterChipHops : kMeshHops);
  }
  void count_by_token(const Packet& p, TrafficKind kind) {
    if (traffic_by_token_ && p.token >= 0) (*traffic_by_token_)[kTrafficKinds * std::size_t(p.token) + kind] += p.flits;
  }
  void on_quiescent();
  void on_dropped_copy();
  void arm_watchdog();
  void disarm_watchdog_if_idle();
  void watchdog_check();

  NocConfig config_;
  RoutingTables tables_;
  CycleClock clock_;
  std::vector<std::unique_ptr<Router>> routers_;
  StatRegistry stats_;
  std::exception_ptr error_;

  int64_t in_flight_ = 0;
  sc_core::sc_event quiescent_event_;
  uint64_t progress_ = 0;
  uint64_t progress_at_last_check_ = 0;
  sc_core::sc_event watchdog_event_;
  bool watchdog_armed_ = false;
  Cycle watchdog_armed_at_ = 0;
  struct Wait {
    std::string unit, waiting_for;
    Cycle since = 0;
  };
  std::vector<std::pair<int, Wait>> waits_;
  int next_wait_id_ = 0;

  bool hold_inter_chip_ = false;
  std::vector<InterChipFlit> held_flits_;
  std::vector<InterChipCredit> held_credits_;

  // Totals.
  uint64_t packets_injected_ = 0, packets_delivered_ = 0, flits_delivered_ = 0;
  uint64_t mesh_flit_hops_ = 0, inter_chip_flit_hops_ = 0;
  std::vector<int64_t>* traffic_by_token_ = nullptr;
  uint64_t latency_sum_ = 0, latency_max_ = 0, injection_wait_sum_ = 0, last_delivery_cycle_ = 0;
};

// Runs the simulation until nothing is left to do or `max_cycles` have passed (on the first
// network's clock), then rethrows any error a network raised and throws NocError, with the stall
// report, if a network still has packets in flight.
void run(std::initializer_list<Network*> networks, Cycle max_cycles = kNever);
inline void run(Network& network, Cycle max_cycles = kNever) { run({&network}, max_cycles); }

}  // namespace spiketile::sim
