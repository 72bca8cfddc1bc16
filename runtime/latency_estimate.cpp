#include "runtime/latency_estimate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>

#include "chips/event_packet.hpp"
#include "compiler/mapping_io.hpp"
#include "runtime/core_timing.hpp"
#include "runtime/sampler.hpp"
#include "runtime/unit_behavior.hpp"

namespace spiketile {

namespace {

using Cycle = uint64_t;
constexpr int kNone = -1;

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// The contention-free network: cycles from a packet's departure out of its source router to its
// arrival in the destination core's axon queue, before the destination's ejection link (which the
// replay queues for). Mirrors sim/README.md's timing model: a router passes a packet on
// pipeline_latency_cycles after it arrived; a link carries an n-flit packet in ceil(n / B) cycles
// (mesh) or n × S cycles (inter-chip), plus its latency.
struct NetworkTiming {
  Cycle router_pipeline = 0;
  Cycle mesh_latency = 0, mesh_flits_per_cycle = 1;
  Cycle chip_latency = 0, chip_cycles_per_flit = 1;

  explicit NetworkTiming(const ChipSpec& chip)
      : router_pipeline(Cycle(chip.router.pipeline_latency_cycles)),
        mesh_latency(Cycle(chip.mesh.link.latency_cycles)),
        mesh_flits_per_cycle(Cycle(std::max(1, chip.mesh.link.bandwidth_flits_per_cycle))),
        chip_latency(Cycle(chip.system.inter_chip_link.latency_cycles)),
        chip_cycles_per_flit(Cycle(std::max(1, chip.inter_chip_cycles_per_flit()))) {}

  Cycle mesh_transfer(int flits) const { return ceil_div(uint64_t(flits), mesh_flits_per_cycle); }
  // Source router departure -> the destination router's departure onto its ejection link.
  Cycle to_destination_router(const HopCount& hops, int flits) const {
    const Cycle mesh = Cycle(hops.mesh) * (mesh_transfer(flits) - 1 + mesh_latency + router_pipeline);
    const Cycle chip = Cycle(hops.inter_chip) * (Cycle(flits) * chip_cycles_per_flit - 1 + chip_latency + router_pipeline);
    return mesh + chip;
  }
  // The ejection link into the core, once the packet leaves its last router.
  Cycle ejection(int flits) const { return mesh_transfer(flits) - 1 + mesh_latency; }
};

// One value waiting in a core's axon queue, with what sent it (for the critical path).
struct Input {
  int flow = 0;
  int64_t index = 0;
  int64_t value = 0;
  bool end_of_stream = false;
  Cycle arrival = 0;
  int sender_reaction = kNone;
};

// A packet waiting to leave its core: one value, a burst, or an end-of-stream marker.
struct OutPacket {
  int flow = 0;
  int64_t first_index = 0;
  bool end_of_stream = false;
  std::vector<int64_t> values;
  int flits = 1;
  Cycle due = 0;
  int reaction = kNone;
};

// 24 bytes: the last token of a 216M-shape replay keeps about two million of them.
struct Reaction {
  uint32_t start = 0, end = 0, arrival = 0;
  int32_t unit = 0;
  int32_t previous_on_unit = kNone;
  int32_t sender = kNone;  // the reaction whose packet brought the input
};

struct FlowRouteFacts {
  std::vector<HopCount> hops;          // per destination, in the flow's order
  std::vector<int> destination_cores;  // per destination
  std::vector<Port> first_ports;       // distinct ports the packet leaves its source router by
  HopCount tree;                       // links of the multicast tree
  int burst_capacity = 1;
};

// What the replayed tokens sent and took, summed over them.
struct Totals {
  double packets = 0, flits_injected = 0, flits_delivered = 0, mesh_flit_hops = 0, inter_chip_flits = 0, cycles = 0;
};

class Replay final : private UnitOutbox {
 public:
  Replay(const Mapping& m, bool placed)
      : m_(m),
        chip_(mapping_chip_spec(m)),
        timing_(CoreTiming::from_chip(chip_)),
        network_(chip_),
        host_(m),
        links_(link_units(m)) {
    observations_.reset(m.config.n_layer, m.config.n_embd);
    for (int id = 0; id < int(m.units.size()); ++id)
      units_.push_back(make_unit_behavior(m, id, links_[std::size_t(id)], observations_));
    const std::optional<Topology> topology = placed ? std::optional<Topology>(Topology(chip_)) : std::nullopt;
    for (const MappedFlow& f : m.flows) {
      FlowRouteFacts facts;
      facts.burst_capacity = burst_capacity(chip_, f.payload_bits);
      if (topology) {
        const int source = topology->core_index(m.unit_cores[std::size_t(f.source)]);
        for (int d : f.destinations) {
          const CoreCoord& to = m.unit_cores[std::size_t(d)];
          const int core = topology->core_index(to);
          facts.hops.push_back(topology->distance(m.unit_cores[std::size_t(f.source)], to));
          facts.destination_cores.push_back(core);
          const Port port = topology->route_step(source, core);
          if (std::find(facts.first_ports.begin(), facts.first_ports.end(), port) == facts.first_ports.end())
            facts.first_ports.push_back(port);
        }
        facts.tree = multicast_tree_hops(*topology, source, facts.destination_cores);
      } else {
        facts.hops.assign(f.destinations.size(), HopCount{});
        facts.first_ports.push_back(Port::local);
      }
      flow_facts_.push_back(std::move(facts));
    }
    for (int id = 0; id < int(m.units.size()); ++id)
      source_port_.push_back(topology ? topology->core_index(m.unit_cores[std::size_t(id)]) : id);
    const std::size_t cores = std::size_t(chip_.total_cores());
    link_free_.assign(placed ? cores : m.units.size(), {});
    ejection_free_.assign(placed ? cores : m.units.size(), 0);
    flow_flits_.assign(m.flows.size(), 0.0);
    unit_busy_.assign(m.units.size(), 0.0);
    placed_ = placed;
  }

  // Replays one token; returns its logits.
  const std::vector<float>& step(const ProfileToken& token, bool keep_reactions) {
    start_token(keep_reactions);
    for (int id = 0; id < int(units_.size()); ++id) react_to_start(id);
    for (int id = 0; id < int(units_.size()); ++id)
      if (host_.takes_embedding(id)) {
        input_row_ = token.embedding_row.data();
        react(id, std::nullopt, 0);
        input_row_ = nullptr;
      }
    run();
    const std::string stalled = unfinished_units(m_, units_, [this](int id) { return m_.units[std::size_t(id)].name; });
    if (!stalled.empty()) throw MappingError("latency estimate: the token stalled, but" + stalled);
    totals_.cycles += double(token_end_);
    ++tokens_;
    return host_.logits();
  }

  EstimatedWork work() const {
    EstimatedWork w = work_;
    w.tokens = tokens_;
    return w;
  }
  std::vector<double> flow_flits_per_token() const { return per_token(flow_flits_); }

  LatencyEstimate estimate() const {
    LatencyEstimate e;
    e.profile_tokens = tokens_;
    const double n = std::max(1, tokens_);
    e.cycles_per_token = totals_.cycles / n;
    e.packets_per_token = totals_.packets / n;
    e.flits_injected_per_token = totals_.flits_injected / n;
    e.flits_delivered_per_token = totals_.flits_delivered / n;
    e.mesh_flit_hops_per_token = totals_.mesh_flit_hops / n;
    e.inter_chip_flits_per_token = totals_.inter_chip_flits / n;
    e.unit_busy_cycles = per_token(unit_busy_);
    for (const auto& [tensor, s] : stages_) {
      LatencyEstimate::Stage st;
      st.tensor = tensor;
      st.layer = s.layer;
      st.first_send = s.first_sum / n;
      st.last_send = s.last_sum / n;
      e.stages.push_back(st);
    }
    std::stable_sort(e.stages.begin(), e.stages.end(),
                     [](const auto& a, const auto& b) { return a.last_send < b.last_send; });
    e.critical_path = critical_path();
    return e;
  }

 private:
  struct StageTimes {
    int layer = -1;
    double first_sum = 0, last_sum = 0;
    Cycle first = 0, last = 0;
    bool seen = false;
  };
  enum class Kind : uint8_t { wake, depart, arrive };
  struct Event {
    Cycle time;
    uint64_t seq;
    Kind kind;
    int unit;     // wake: the unit; depart: the source unit; arrive: the destination unit
    int packet;   // arrive: index into in_flight_
    bool operator>(const Event& o) const { return time != o.time ? time > o.time : seq > o.seq; }
  };

  std::vector<double> per_token(const std::vector<double>& sums) const {
    std::vector<double> v(sums);
    for (double& x : v) x /= std::max(1, tokens_);
    return v;
  }

  void start_token(bool keep_reactions) {
    observations_.reset(m_.config.n_layer, m_.config.n_embd);
    host_.start_token();
    token_end_ = 0;
    keep_reactions_ = keep_reactions;
    reactions_.clear();
    last_reaction_.assign(units_.size(), kNone);
    busy_until_.assign(units_.size(), 0);
    wake_pending_.assign(units_.size(), false);
    queues_.assign(units_.size(), {});
    outgoing_.assign(units_.size(), {});
    depart_pending_.assign(units_.size(), false);
    for (auto& ports : link_free_) ports.fill(0);
    std::fill(ejection_free_.begin(), ejection_free_.end(), 0);
    in_flight_.clear();
    destinations_left_.clear();
    free_slots_.clear();
    for (auto& [tensor, s] : stages_) s.seen = false;
  }

  void push(Cycle time, Kind kind, int unit, int packet = kNone) { events_.push({time, seq_++, kind, unit, packet}); }

  void run() {
    while (!events_.empty()) {
      const Event e = events_.top();
      events_.pop();
      switch (e.kind) {
        case Kind::wake: wake(e.unit, e.time); break;
        case Kind::depart: depart(e.unit, e.time); break;
        case Kind::arrive: arrive(e.unit, e.packet, e.time); break;
      }
    }
    for (auto& [tensor, s] : stages_)
      if (s.seen) {
        s.first_sum += double(s.first);
        s.last_sum += double(s.last);
      }
  }

  // start_token may send (a unit with nothing to wait for): that is a reaction at cycle 0.
  void react_to_start(int unit) {
    units_[std::size_t(unit)]->start_token(*this);
    if (!sent_.empty()) schedule_sends(unit, 0, kNone);
  }

  void react(int unit, const std::optional<Input>& input, Cycle start) {
    UnitBehavior& b = *units_[std::size_t(unit)];
    const int64_t lif_before = b.lif_updates();
    if (input) {
      UnitEvent e;
      e.flow = input->flow;
      e.index = input->index;
      e.value = input->value;
      e.end_of_stream = input->end_of_stream;
      b.receive(e, *this);
    } else {
      b.host_input(input_row_, *this);
    }
    Counts delta;
    const bool worked = b.take_reaction_work(delta);
    const Cycle cost = worked ? timing_.cycles(delta) : timing_.cycles(Counts{});
    if (worked) {
      work_.counts += delta;
      work_.synapse_accesses += double(timing_.synapse_accesses(delta));
      work_.state_reads += double(timing_.state_accesses(delta.state_read_bytes));
      work_.state_writes += double(timing_.state_accesses(delta.state_write_bytes));
    }
    work_.lif_updates += double(b.lif_updates() - lif_before);
    const Cycle end = start + cost;
    busy_until_[std::size_t(unit)] = end;
    unit_busy_[std::size_t(unit)] += double(cost);
    token_end_ = std::max(token_end_, end);
    int reaction = kNone;
    if (keep_reactions_ && end > std::numeric_limits<uint32_t>::max()) {
      keep_reactions_ = false;  // a token of over 4e9 cycles: no critical path rather than a wrong one
      reactions_.clear();
    }
    if (keep_reactions_) {
      reaction = int(reactions_.size());
      reactions_.push_back({uint32_t(start), uint32_t(end), uint32_t(input ? input->arrival : 0), unit,
                            last_reaction_[std::size_t(unit)], input ? input->sender_reaction : kNone});
      last_reaction_[std::size_t(unit)] = reaction;
    }
    if (!sent_.empty()) schedule_sends(unit, end, reaction);
  }

  void send(int unit, const UnitEvent& event) override {
    flow_sent_by(m_, unit, event);
    sent_.push_back(event);
  }
  void logit(int64_t vocab_index, int64_t accumulator) override { host_.logit(vocab_index, accumulator); }

  // What one reaction sent, packed as the simulator packs it, leaves at `due`.
  void schedule_sends(int unit, Cycle due, int reaction) {
    auto& out = outgoing_[std::size_t(unit)];
    std::size_t i = 0;
    while (i < sent_.size()) {
      const UnitEvent& first = sent_[i];
      std::size_t j = i + 1;
      while (j < sent_.size() && extends_run(first.flow, first.end_of_stream, first.index + int64_t(j - i), sent_[j])) ++j;
      const MappedFlow& flow = m_.flows[std::size_t(first.flow)];
      const int capacity = flow_facts_[std::size_t(first.flow)].burst_capacity;
      for (std::size_t k = i; k < j; k += std::size_t(capacity)) {
        OutPacket p;
        p.flow = first.flow;
        p.first_index = sent_[k].index;
        p.end_of_stream = first.end_of_stream;
        const std::size_t count = std::min<std::size_t>(std::size_t(capacity), j - k);
        for (std::size_t v = k; v < k + count; ++v) p.values.push_back(sent_[v].value);
        p.flits = flits_per_packet(chip_, first.end_of_stream ? 0 : flow.payload_bits, int(count));
        p.due = due;
        p.reaction = reaction;
        out.push_back(std::move(p));
      }
      i = j;
    }
    sent_.clear();
    if (!depart_pending_[std::size_t(unit)]) {
      depart_pending_[std::size_t(unit)] = true;
      push(out.front().due, Kind::depart, unit);
    }
  }

  // The source core's next packet enters its router at its due cycle and leaves it after the
  // router pipeline, one packet per cycle through the local input port, each output link carrying
  // one packet at a time.
  void depart(int unit, Cycle now) {
    auto& out = outgoing_[std::size_t(unit)];
    OutPacket p = std::move(out.front());
    out.pop_front();
    const MappedFlow& flow = m_.flows[std::size_t(p.flow)];
    const FlowRouteFacts& facts = flow_facts_[std::size_t(p.flow)];
    auto& ports = link_free_[std::size_t(source_port_[std::size_t(unit)])];
    Cycle leave = std::max(p.due + network_.router_pipeline, ports[std::size_t(Port::local)]);
    for (Port port : facts.first_ports) leave = std::max(leave, ports[std::size_t(port)]);
    ports[std::size_t(Port::local)] = leave + 1;
    for (Port port : facts.first_ports) ports[std::size_t(port)] = leave + network_.mesh_transfer(p.flits);
    count_packet(flow, facts, p);
    // The packet waits in a slot until its last destination has taken it: the replay holds only
    // what is in flight, not the token's traffic.
    int slot;
    if (free_slots_.empty()) {
      slot = int(in_flight_.size());
      in_flight_.push_back(std::move(p));
      destinations_left_.push_back(0);
    } else {
      slot = free_slots_.back();
      free_slots_.pop_back();
      in_flight_[std::size_t(slot)] = std::move(p);
    }
    destinations_left_[std::size_t(slot)] = int(flow.destinations.size());
    const OutPacket& sent = in_flight_[std::size_t(slot)];
    for (std::size_t d = 0; d < flow.destinations.size(); ++d) {
      const int dest = flow.destinations[d];
      const std::size_t eject_at = placed_ ? std::size_t(facts.destination_cores[d]) : std::size_t(dest);
      const Cycle at_router = leave + network_.to_destination_router(facts.hops[d], sent.flits);
      const Cycle eject = std::max(at_router, ejection_free_[eject_at]);
      ejection_free_[eject_at] = eject + network_.mesh_transfer(sent.flits);
      push(eject + network_.ejection(sent.flits), Kind::arrive, dest, slot);
    }
    if (out.empty()) {
      depart_pending_[std::size_t(unit)] = false;
    } else {
      push(std::max(out.front().due, now), Kind::depart, unit);
    }
  }

  void count_packet(const MappedFlow& flow, const FlowRouteFacts& facts, const OutPacket& p) {
    totals_.packets += 1;
    totals_.flits_injected += p.flits;
    totals_.flits_delivered += double(p.flits) * double(flow.destinations.size());
    totals_.mesh_flit_hops += double(p.flits) * double(facts.tree.mesh);
    totals_.inter_chip_flits += double(p.flits) * double(facts.tree.inter_chip);
    flow_flits_[std::size_t(p.flow)] += p.flits;
    StageTimes& s = stages_[flow.tensor];
    s.layer = m_.units[std::size_t(flow.source)].layer;
    if (!s.seen) {
      s.seen = true;
      s.first = s.last = p.due;
    } else {
      s.first = std::min(s.first, p.due);
      s.last = std::max(s.last, p.due);
    }
  }

  void arrive(int unit, int packet, Cycle now) {
    const OutPacket& p = in_flight_[std::size_t(packet)];
    const MappedFlow& flow = m_.flows[std::size_t(p.flow)];
    auto& queue = queues_[std::size_t(unit)];
    if (p.end_of_stream) {
      queue.push_back({p.flow, flow.index_begin, 0, true, now, p.reaction});
    } else {
      for (std::size_t k = 0; k < p.values.size(); ++k)
        queue.push_back({p.flow, p.first_index + int64_t(k), p.values[k], false, now, p.reaction});
    }
    if (--destinations_left_[std::size_t(packet)] == 0) free_slots_.push_back(packet);
    token_end_ = std::max(token_end_, now);
    if (!wake_pending_[std::size_t(unit)]) {
      wake_pending_[std::size_t(unit)] = true;
      push(std::max(now, busy_until_[std::size_t(unit)]), Kind::wake, unit);
    }
  }

  void wake(int unit, Cycle now) {
    auto& queue = queues_[std::size_t(unit)];
    wake_pending_[std::size_t(unit)] = false;
    if (queue.empty()) return;
    const Input input = queue.front();
    queue.pop_front();
    react(unit, input, std::max(now, busy_until_[std::size_t(unit)]));
    if (!queue.empty()) {
      wake_pending_[std::size_t(unit)] = true;
      push(busy_until_[std::size_t(unit)], Kind::wake, unit);
    }
  }

  // From the reaction that ends last, back through what held each reaction up: the input it
  // waited for (its sender's reaction) or the work before it on the same core.
  std::vector<LatencyEstimate::PathStep> critical_path() const {
    std::vector<LatencyEstimate::PathStep> steps;
    if (reactions_.empty()) return steps;
    int r = int(std::max_element(reactions_.begin(), reactions_.end(),
                                 [](const Reaction& a, const Reaction& b) { return a.end < b.end; }) -
                reactions_.begin());
    while (r != kNone) {
      const Reaction& x = reactions_[std::size_t(r)];
      if (!steps.empty() && steps.back().unit == x.unit) {
        steps.back().start = double(x.start);
      } else {
        steps.push_back({x.unit, double(x.start), double(x.end)});
      }
      const bool waited_for_input = x.start == x.arrival && x.sender != kNone;
      if (waited_for_input) r = x.sender;
      else if (x.start > x.arrival) r = x.previous_on_unit;
      else r = kNone;
    }
    std::reverse(steps.begin(), steps.end());
    return steps;
  }

  const Mapping& m_;
  ChipSpec chip_;
  CoreTiming timing_;
  NetworkTiming network_;
  TokenHost host_;
  std::vector<UnitLinks> links_;
  TokenObservations observations_;
  std::vector<std::unique_ptr<UnitBehavior>> units_;
  std::vector<FlowRouteFacts> flow_facts_;
  bool placed_ = false;

  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t seq_ = 0;
  const int32_t* input_row_ = nullptr;
  std::vector<UnitEvent> sent_;
  std::vector<Cycle> busy_until_;
  std::vector<bool> wake_pending_, depart_pending_;
  std::vector<std::deque<Input>> queues_;
  std::vector<std::deque<OutPacket>> outgoing_;
  std::vector<std::array<Cycle, kPortCount>> link_free_;
  std::vector<Cycle> ejection_free_;
  std::vector<OutPacket> in_flight_;  // slots of packets on their way, reused once every destination took one
  std::vector<int> destinations_left_, free_slots_;
  std::vector<int> source_port_;      // per unit: its core (placed) or itself (unplaced), for link_free_
  Cycle token_end_ = 0;

  bool keep_reactions_ = false;
  std::vector<Reaction> reactions_;
  std::vector<int> last_reaction_;

  std::map<std::string, StageTimes> stages_;
  Totals totals_;
  std::vector<double> flow_flits_, unit_busy_;
  EstimatedWork work_;
  int tokens_ = 0;
};

}  // namespace

uint64_t contention_free_packet_cycles(const ChipSpec& chip, const HopCount& hops, int flits) {
  const NetworkTiming network(chip);
  return network.router_pipeline + network.to_destination_router(hops, flits) + network.ejection(flits);
}

FlowProfile profile_flows(const Mapping& mapping, const ProfileOptions& options, const EmbeddingRowSource& rows) {
  if (options.tokens < 1) throw std::invalid_argument(fmt::format("profile tokens must be >= 1, got {}", options.tokens));
  if (options.first_token < 0 || options.first_token >= mapping.config.vocab_size)
    throw std::invalid_argument(fmt::format("profile start token {} is outside the vocabulary of {} tokens",
                                            options.first_token, mapping.config.vocab_size));
  Replay replay(mapping, false);
  Sampler sampler(SamplingOptions{1.0f, 1.0f, options.seed});
  FlowProfile profile;
  int next = options.first_token;
  for (int t = 0; t < options.tokens; ++t) {
    ProfileToken token{next, rows(next)};
    if (token.embedding_row.size() != std::size_t(mapping.config.n_embd))
      throw std::invalid_argument(fmt::format("embedding row of token {} has {} values; the model has {} channels", next,
                                              token.embedding_row.size(), mapping.config.n_embd));
    next = sampler.sample(replay.step(token, false));
    profile.tokens.push_back(std::move(token));
  }
  profile.flits_per_token = replay.flow_flits_per_token();
  return profile;
}

LatencyEstimate estimate_latency(const Mapping& mapping, const std::vector<ProfileToken>& tokens, EstimatedWork* work) {
  if (tokens.empty()) throw std::invalid_argument("latency estimate: no profile tokens");
  if (mapping.unit_cores.size() != mapping.units.size())
    throw std::invalid_argument("latency estimate: the mapping is not placed");
  Replay replay(mapping, true);
  for (std::size_t t = 0; t < tokens.size(); ++t) replay.step(tokens[t], t + 1 == tokens.size());
  if (work) *work = replay.work();
  return replay.estimate();
}

Mapping compile_profiled(QuantizedSpikeGpt&& model, const ChipSpec& chip, const std::string& chip_yaml,
                         const CompileOptions& compile, const ProfileOptions& profile, const EmbeddingRowSource& rows,
                         EstimatedWork* work) {
  Mapping m = lower_to_units(std::move(model), chip, chip_yaml, compile);
  if (profile.tokens == 0) {
    m.decisions.push_back("traffic: flows weighed by the lowering's assumed densities (no profile: --profile-tokens 0); "
                          "no latency estimate");
    return place_and_route(std::move(m), chip, compile);
  }
  const FlowProfile flows = profile_flows(m, profile, rows);
  double assumed = 0, measured = 0;
  for (std::size_t f = 0; f < m.flows.size(); ++f) {
    assumed += m.flows[f].flits_per_token;
    measured += flows.flits_per_token[f];
    m.flows[f].flits_per_token = flows.flits_per_token[f];
  }
  m.decisions.push_back(fmt::format(
      "traffic: flows weighed by a replay of {} profile tokens (the model's own sampled continuation of token {}): "
      "{:.1f} flits per token, bursts and end-of-stream markers included, against {:.1f} from the lowering's assumed "
      "densities",
      flows.tokens.size(), profile.first_token, measured, assumed));
  m = place_and_route(std::move(m), chip, compile);
  m.estimate = estimate_latency(m, flows.tokens, work);
  m.decisions.push_back(fmt::format(
      "latency: {:.0f} cycles per token without network contention (the bound), over the same {} tokens",
      m.estimate.cycles_per_token, flows.tokens.size()));
  return m;
}

}  // namespace spiketile
