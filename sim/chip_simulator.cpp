#include "sim/chip_simulator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include <unistd.h>

#include "compiler/mapping_io.hpp"
#include "runtime/mapping_executor.hpp"
#include "runtime/nir_executor.hpp"
#include "sim/accumulator_engines.hpp"
#include "sim/cross_chip_starts.hpp"
#include "sim/network.hpp"
#include "runtime/mapping_summary.hpp"
#include "sim/noc_config.hpp"

namespace spiketile::sim {

namespace {
// The units --rtl selects: every crossbar unit for "all", else the units of the named cores.
std::vector<int> select_rtl_units(const Mapping& m, const Topology& topology, const RtlInTheLoop& rtl) {
  std::vector<int> units;
  if (!rtl.enabled()) return units;
  std::vector<char> chosen(m.units.size(), 0);
  for (const std::string& core : rtl.cores) {
    if (core == "all") {
      for (std::size_t id = 0; id < m.units.size(); ++id) chosen[id] |= m.units[id].crossbar();
      continue;
    }
    const int found = find_unit(m, topology, core);
    const bool numeric = !core.empty() && core.find_first_not_of("0123456789") == std::string::npos;
    if (found < 0)
      throw std::invalid_argument(fmt::format("--rtl: {} '{}' runs no unit of this mapping ({} cores in use; "
                                              "'spiketile inspect MAP' lists them)",
                                              numeric ? "core" : "unit", core, m.units.size()));
    const Unit& u = m.units[std::size_t(found)];
    if (!u.crossbar())
      throw std::invalid_argument(fmt::format("--rtl: core {} holds {}, a {} unit without a crossbar: only crossbar cores "
                                              "accumulate on the RTL neuron core",
                                              topology.core_index(m.unit_cores[std::size_t(found)]), u.name,
                                              unit_kind_name(u.kind)));
    chosen[std::size_t(found)] = 1;
  }
  for (std::size_t id = 0; id < m.units.size(); ++id)
    if (chosen[id]) units.push_back(int(id));
  return units;
}

static_assert(std::has_unique_object_representations_v<Counts>, "Counts are compared as bytes");

// The all-ones axon address is reserved: a packet to it is a flow's end-of-stream marker.
constexpr int32_t kEndOfStreamAxon = -1;

// A core's (or a step's) counters as the statistics keep them: the datapath's counts, whole SRAM
// accesses, and the neuron updates split into LIF and the rest.
CoreWork core_work(const Counts& work, int64_t lif_updates, int64_t synapse_accesses, int64_t state_reads,
                   int64_t state_writes, int64_t events_out) {
  CoreWork w;
  w.sop_binary = work.sop_binary;
  w.sop_graded = work.sop_graded;
  w.sop_bit_serial = work.sop_bit_serial;
  w.synapse_reads = synapse_accesses;
  w.state_reads = state_reads;
  w.state_writes = state_writes;
  w.neuron_updates_lif = lif_updates;
  w.neuron_updates_other = work.neuron_updates - lif_updates;
  for (int k = 0; k < kSfuCount; ++k)
    if (work.sfu[std::size_t(k)] > 0) w.sfu[sfu_name(Sfu(k))] = work.sfu[std::size_t(k)];
  w.events_out = events_out;
  return w;
}

}  // namespace

// One core: takes events from its axon input queue one at a time, lets its unit react, and
// injects what the unit sent once the work is done. Runs only when an event arrives or its own
// work finishes. A core whose unit accumulates on an engine with its own clock (the RTL) takes
// the datapath's cycles from that engine and hands it the time between reactions.
class CoreModule : public sc_core::sc_module {
 public:
  SC_HAS_PROCESS(CoreModule);
  CoreModule(const sc_core::sc_module_name& name, ChipSimulator& chip, int unit, NetworkInterface& ni,
             const CoreTiming& timing, const std::vector<int>& incoming_flows)
      : sc_module(name), chip_(chip), unit_(unit), ni_(ni), timing_(timing), clock_(chip.network_->clock()) {
    SC_METHOD(process);
    sensitive << ni_.delivery_event() << wake_;
    dont_initialize();
    if (AccumulatorEngine* e = behavior().engine(); e && e->timed()) {
      engine_ = e;
      engine_cycles_at_sync_ = e->cycles();   // loading the weights configures the chip before the run
    }
    // A core reacts to its events in arrival order, each when the last one's work ends, so its
    // reactions can be worked out the moment the router sends an event (no process run at the
    // arrival). A core whose engine keeps its own clock, or a traced one, runs at every event.
    if (!engine_) ni_.set_delivery_listener([this] { deliveries_known(); });
    const Mapping& m = *chip.mapping_;
    for (int f : incoming_flows) inputs_.push_back({f, statistics_per_token(m, m.flows[std::size_t(f)]), 0, 0});
  }

  // --- Tokens of a run. The unit works on one token at a time, in order; events of the next
  // token that arrive before it has finished its own wait in the core's input stage.
  void begin_run() {
    token_ = -1;
    finished_token_ = true;
    held_.clear();
    for (Input& in : inputs_) in.markers = in.statistics = 0;
  }
  int64_t token() const { return token_; }
  bool finished_token() const { return finished_token_; }

  // Starts the unit on the run's token `token` at cycle `at`: the host's embedding row if the
  // unit takes one, then the events that came for this token while it finished the last.
  void start(int64_t token, Cycle at) {
    token_ = token;
    finished_token_ = false;
    behavior().observe_into(chip_.token_in_flight(token).observations);
    behavior().start_token(chip_);
    chip_.unit_started(unit_, at);
    if (chip_.host_.takes_embedding(unit_)) {
      const int32_t* row = chip_.token_in_flight(token).embedding_row;
      last_input_ = std::max(at, busy_until_);
      account([&] { behavior().host_input(row, chip_); }, last_input_);
    }
    while (!held_.empty() && held_.front().token == token_ && !finished_token_) {
      const Held h = held_.front();
      held_.pop_front();
      last_input_ = std::max({at, h.arrival, busy_until_});
      account([&] { behavior().receive(h.event, chip_); }, last_input_);
    }
    if (!pending_.empty()) wake_at(pending_.front().due);
  }
  int64_t peak_held = 0;   // most events held at once for the next token

  // An event the unit sends in the reaction under way; it leaves when the reaction's work ends
  // (account() fills in that cycle). Consecutive values of one flow form a run (one record, the
  // values packed), which is what leaves as bursts.
  void stage(const UnitEvent& e) {
    if (!pending_.empty()) {
      Run& last = pending_[pending_.size() - 1];
      if (last.due == kNever && extends_run(last.flow, last.end_of_stream, last.first_index + last.count, e)) {
        ++last.count;
        pending_values_.push_back(e.value);
        return;
      }
    }
    pending_.push_back({kNever, e.flow, e.end_of_stream, e.index, pending_values_.size(), 1, 0, token_});
    pending_values_.push_back(e.value);
  }

  // VCD: whether the core is working and how many events wait in its axon queue, and for a unit
  // with spiking neurons each neuron's spike and integer membrane (named by its output index),
  // set when the update's work ends. Only traced cores own signals (and wake at the end of each
  // piece of work to lower `busy`).
  void trace(sc_core::sc_trace_file* file, const std::string& prefix) {
    busy_signal_ = std::make_unique<sc_core::sc_signal<bool>>((prefix + "_busy").c_str());
    queue_signal_ = std::make_unique<sc_core::sc_signal<int>>((prefix + "_queue").c_str());
    sc_core::sc_trace(file, *busy_signal_, prefix + ".busy");
    sc_core::sc_trace(file, *queue_signal_, prefix + ".axon_queue");
    const UnitBehavior::NeuronView n = behavior().neurons();
    const int64_t first = chip_.mapping_->units[std::size_t(unit_)].out_begin;
    for (int64_t r = 0; r < n.rows; ++r) {
      const std::string name = fmt::format("{}_neuron_{}", prefix, first + r);
      spike_signals_.push_back(std::make_unique<sc_core::sc_signal<bool>>((name + "_spike").c_str()));
      membrane_signals_.push_back(std::make_unique<sc_core::sc_signal<int>>((name + "_v").c_str()));
      sc_core::sc_trace(file, *spike_signals_.back(), fmt::format("{}.neuron_{}.spike", prefix, first + r));
      sc_core::sc_trace(file, *membrane_signals_.back(), fmt::format("{}.neuron_{}.v", prefix, first + r));
    }
    traced_updates_ = n.updates;
    ni_.set_delivery_listener(nullptr);
  }

  // The latest cycle at which the core took an input (its reactions may be worked out before the
  // kernel reaches that cycle).
  Cycle last_input_cycle() const { return last_input_; }

  // Totals over the run.
  Counts work;
  int64_t lif_updates = 0, events_out = 0, flits_injected = 0, synapse_accesses = 0, state_reads = 0,
          state_writes = 0;
  Cycle busy_cycles = 0;
  uint64_t activations = 0;  // runs of the process: the simulator's own cost, not the chip's
  // Outputs waiting for the router: the interface counts its backlog's cycles, so the core need not
  // wake every cycle to watch it.
  Cycle stall_cycles() const { return ni_.backlog_cycles(); }

 private:
  UnitBehavior& behavior() { return *chip_.behaviors_[std::size_t(unit_)]; }

  bool takes_ahead() const { return !engine_ && !busy_signal_; }

  void process() {
    const Cycle now = clock_.now();
    ++activations;
    scheduled_wake_ = kNever;
    while (!pending_.empty() && pending_.front().due <= now) inject_next();
    if (busy_until_ <= now && !takes_ahead() && ni_.has_delivery()) react(ni_.receive(), now);
    if (takes_ahead()) take_known_deliveries();
    Cycle next = kNever;
    if (!pending_.empty()) next = pending_.front().due;
    // The next input the core can take: at the end of its work, and not before it arrives.
    const Cycle input = takes_ahead() ? kNever : ni_.next_delivery();
    if (input != kNever) next = std::min(next, std::max({input, busy_until_, now + 1}));
    if (busy_signal_) {
      busy_signal_->write(busy_until_ > now);
      queue_signal_->write(int(ni_.deliveries_waiting()));
      if (neurons_due_ <= now) {
        for (std::size_t r = 0; r < spike_signals_.size(); ++r) {
          spike_signals_[r]->write(neuron_spikes_[r] != 0);
          membrane_signals_[r]->write(neuron_membranes_[r]);
        }
        neurons_due_ = kNever;
      }
      if (busy_until_ > now) next = std::min(next, busy_until_);
    }
    wake_at(next);
    ni_.set_next_look(next);
    // Busy with a wake already due when the work ends: events arriving meanwhile change nothing
    // before then, so they need not run this process (most arrivals come during busy periods).
    if (next == busy_until_ && busy_until_ > now) next_trigger(wake_);
  }

  // The router has put deliveries into the queue (with their arrival cycles).
  void deliveries_known() {
    take_known_deliveries();
    if (!pending_.empty()) wake_at(pending_.front().due);
  }

  // Asks for a run at `at` unless one is already asked for no later.
  void wake_at(Cycle at) {
    if (at >= scheduled_wake_) return;
    scheduled_wake_ = at;
    wake_.notify(clock_.after(at - clock_.now()));
  }

  // Every delivery in the queue, in order, each at its arrival or when the work before it ends:
  // what the core would do taking them one by one at those cycles.
  void take_known_deliveries() {
    for (Cycle arrival = ni_.next_delivery(); arrival != kNever; arrival = ni_.next_delivery()) {
      const Cycle take = std::max(arrival, busy_until_);
      react(ni_.receive_at(take), take);
    }
  }

  void react(const Delivery& d, Cycle now) {
    const auto& flow = chip_.mapping_->flows[std::size_t(d.packet.flow)];
    UnitEvent e;
    e.flow = d.packet.flow;
    e.end_of_stream = d.packet.axon == kEndOfStreamAxon;
    e.index = e.end_of_stream ? 0 : flow.index_begin + d.packet.axon;
    e.value = d.packet.payload;
    if (d.packet.events == 1) {
      take(e, now);
      return;
    }
    // A burst's values are taken one after the other, each at the cycle the previous one's work
    // ends: the timing of the same events waiting back to back in the axon queue.
    for (int k = 0; k < d.packet.events; ++k) {
      e.index = flow.index_begin + d.packet.axon + k;
      e.value = chip_.burst_value(d.packet.payload, k);
      take(e, k == 0 ? now : std::max(now, busy_until_));
    }
  }

  // The unit reacts to an event of its token; one of the next token waits for it to start that.
  void take(const UnitEvent& e, Cycle at) {
    const int64_t token = token_of(e);
    if (token == token_ && !finished_token_) {
      last_input_ = at;
      account([&] { behavior().receive(e, chip_); }, at);
      return;
    }
    if (token != token_ + 1)
      throw NocError(fmt::format("core of unit {} ({}): an event of flow {} for token {} of the run came while it works "
                                 "on token {}{}",
                                 unit_, chip_.mapping_->units[std::size_t(unit_)].name, e.flow, token, token_,
                                 token == token_ ? ", which it has finished" : ""));
    held_.push_back({e, token, at});
    peak_held = std::max(peak_held, int64_t(held_.size()));
  }

  // The token an event belongs to, from its flow's order: the markers before it, or for a
  // LayerNorm statistic flow the values before it.
  int64_t token_of(const UnitEvent& e) {
    auto in = std::lower_bound(inputs_.begin(), inputs_.end(), e.flow,
                               [](const Input& i, int flow) { return i.flow < flow; });
    if (in == inputs_.end() || in->flow != e.flow)
      throw NocError(fmt::format("core of unit {}: an event of flow {}, which does not lead to it", unit_, e.flow));
    if (in->statistics_per_token > 0) return in->statistics++ / in->statistics_per_token;
    return e.end_of_stream ? in->markers++ : in->markers;
  }

  template <class F>
  void account(F&& react, Cycle now) {
    const int64_t lif_before = behavior().lif_updates(), out_before = behavior().events_out();
    const std::size_t pending_before = pending_.size();
    uint64_t engine_before = 0;
    int64_t engine_updates_before = 0;
    if (engine_) {
      // The engine's clock stands where its last call left it; the time since then passes idle.
      const Cycle engine_now = engine_synced_at_ + Cycle(engine_->cycles() - engine_cycles_at_sync_);
      if (now > engine_now) engine_->idle(uint64_t(now - engine_now));
      engine_before = engine_->cycles();
      engine_updates_before = engine_->neuron_updates();
      engine_synced_at_ = now;
      engine_cycles_at_sync_ = engine_before;
    }
    chip_.reacting_token_ = token_;
    react();
    // Most reactions (a partial sum added, a value stored) count no work and skip the arithmetic.
    Counts delta;
    const bool no_work = !behavior().take_reaction_work(delta);
    // A crossbar core's events repeat the same work (one row read, `rows` SOPs): a repeat of the
    // last priced counts takes that pricing.
    if (!no_work && std::memcmp(&delta, &priced_.work, sizeof(Counts)) != 0) priced_ = price(delta);
    Cycle cost = no_work ? idle_reaction_cycles_ : priced_.cycles;
    if (engine_)
      cost = std::max<Cycle>(1, Cycle(engine_->cycles() - engine_before) +
                                    timing_.cycles_beside_datapath(delta, engine_->neuron_updates() - engine_updates_before));
    busy_until_ = now + cost;
    busy_cycles += cost;
    ChipSimulator::TokenInFlight& token = chip_.token_in_flight(token_);
    const int64_t lif = behavior().lif_updates() - lif_before, sent = behavior().events_out() - out_before;
    lif_updates += lif;
    events_out += sent;
    token.lif_updates += lif;
    token.events_out += sent;
    if (!no_work) {
      work += delta;
      synapse_accesses += priced_.synapse_accesses;
      state_reads += priced_.state_reads;
      state_writes += priced_.state_writes;
      token.core_work += delta;
      token.synapse_accesses += priced_.synapse_accesses;
      token.state_reads += priced_.state_reads;
      token.state_writes += priced_.state_writes;
    }
    for (std::size_t i = pending_before; i < pending_.size(); ++i) pending_[i].due = busy_until_;
    if (!spike_signals_.empty()) note_neuron_update();
    chip_.network_->note_progress();
    if (!finished_token_ && behavior().finished()) {
      finished_token_ = true;
      chip_.unit_finished(unit_, token_, busy_until_);
    }
  }

  // A traced unit's neurons after an update, kept for the signals until its work ends.
  void note_neuron_update() {
    const UnitBehavior::NeuronView n = behavior().neurons();
    if (n.updates == traced_updates_) return;
    traced_updates_ = n.updates;
    neuron_spikes_.assign(n.spikes, n.spikes + n.rows);
    neuron_membranes_.assign(n.membranes, n.membranes + n.rows);
    neurons_due_ = busy_until_;
  }

  // Injects the next values of the first pending run: up to the flow's burst capacity of them as
  // one burst (values of one reaction on one flow for consecutive indices), a single value as a
  // plain event. End-of-stream markers travel alone.
  void inject_next() {
    Run& run = pending_.front();
    const auto& flow = chip_.mapping_->flows[std::size_t(run.flow)];
    const int64_t index = run.first_index + run.taken;
    const int32_t axon = run.end_of_stream ? kEndOfStreamAxon : int32_t(index - flow.index_begin);
    const int payload_bits = run.end_of_stream ? 0 : flow.payload_bits;
    const int events =
        int(std::min<int64_t>(run.count - run.taken, chip_.burst_capacity_[std::size_t(run.flow)]));
    const int64_t* values = pending_values_.data() + run.values_at + run.taken;
    Packet p = events == 1 ? ni_.flow_event(run.flow, axon, values[0], payload_bits)
                           : ni_.flow_burst(run.flow, axon, events, chip_.store_burst(values, events, run.token),
                                            payload_bits);
    p.token = int32_t(run.token);
    ChipSimulator::TokenInFlight& token = chip_.token_in_flight(run.token);
    ++token.packets;
    run.taken += events;
    if (run.taken == run.count) {
      pending_.pop_front();
      if (pending_.empty()) pending_values_.clear();
    }
    flits_injected += p.flits;
    ni_.inject(p);
  }

  ChipSimulator& chip_;
  int unit_;
  NetworkInterface& ni_;
  const CoreTiming& timing_;
  const CycleClock& clock_;
  sc_core::sc_event wake_;
  Cycle busy_until_ = 0;
  int64_t token_ = -1;
  bool finished_token_ = true;
  // An incoming flow's order: markers (or statistics) seen so far tell which token an event is of.
  struct Input {
    int flow, statistics_per_token;
    int64_t markers, statistics;
  };
  std::vector<Input> inputs_;   // sorted by flow
  struct Held {
    UnitEvent event;
    int64_t token;
    Cycle arrival;
  };
  std::deque<Held> held_;
  // Counts of a reaction with the core time and SRAM accesses they cost.
  struct Priced {
    Counts work;
    Cycle cycles = 0;
    int64_t synapse_accesses = 0, state_reads = 0, state_writes = 0;
  };
  Priced price(const Counts& w) const {
    return {w, timing_.cycles(w), timing_.synapse_accesses(w), timing_.state_accesses(w.state_read_bytes),
            timing_.state_accesses(w.state_write_bytes)};
  }
  Priced priced_;  // the last reaction that counted any work
  Cycle scheduled_wake_ = kNever;  // the wake this process asked for (an earlier one may be pending)
  Cycle last_input_ = 0;
  AccumulatorEngine* engine_ = nullptr;   // a timed engine, or none
  Cycle engine_synced_at_ = 0;            // the simulated cycle at which the engine's clock read
  uint64_t engine_cycles_at_sync_ = 0;    // this
  // What reactions sent, injected when each reaction's work ends (due).
  struct Run {
    Cycle due;
    int flow;
    bool end_of_stream;
    int64_t first_index;
    std::size_t values_at;  // in pending_values_
    int64_t count, taken;
    int64_t token;          // of the run, that the reaction worked on
  };
  Ring<Run> pending_;
  std::vector<int64_t> pending_values_;
  const Cycle idle_reaction_cycles_ = timing_.cycles(Counts{});
  std::unique_ptr<sc_core::sc_signal<bool>> busy_signal_;
  std::unique_ptr<sc_core::sc_signal<int>> queue_signal_;
  std::vector<std::unique_ptr<sc_core::sc_signal<bool>>> spike_signals_;
  std::vector<std::unique_ptr<sc_core::sc_signal<int>>> membrane_signals_;
  int64_t traced_updates_ = 0;
  std::vector<uint8_t> neuron_spikes_;
  std::vector<int32_t> neuron_membranes_;
  Cycle neurons_due_ = kNever;
};

ChipSimulator::ChipSimulator(std::shared_ptr<const Mapping> mapping, const SimulatorOptions& options)
    : mapping_(std::move(mapping)), chip_(mapping_chip_spec(*mapping_)), options_(options), host_(*mapping_) {
  // Before elaborating anything: SystemC opens the VCD only when the run starts, and an open that
  // fails there ends the process in its trace writer's destructor (SIGFPE) instead of an error.
  if (!options.trace_path.empty()) trace_output_ = std::make_unique<OutputFile>(options.trace_path);
  const Mapping& m = *mapping_;
  links_ = link_units(m);
  observations_.reset(m.config.n_layer, m.config.n_embd);
  const Topology topology(chip_);
  rtl_units_ = select_rtl_units(m, topology, options.rtl);
  std::vector<char> on_rtl(m.units.size(), 0);
  for (int id : rtl_units_) on_rtl[std::size_t(id)] = 1;
  AccumulatorEngineFactory rtl_engine;
  if (!rtl_units_.empty())
    rtl_engine = accumulator_engine_factory("rtl", {{"backend", options.rtl.backend}, {"model", options.rtl.model}});
  for (int id = 0; id < int(m.units.size()); ++id) {
    try {
      behaviors_.push_back(make_unit_behavior(m, id, links_[std::size_t(id)], observations_,
                                              on_rtl[std::size_t(id)] ? rtl_engine : AccumulatorEngineFactory{}));
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("--rtl: core {}: {}", topology.core_index(m.unit_cores[std::size_t(id)]), e.what()));
    }
  }

  NocConfig noc = noc_config(chip_);
  if (options.watchdog_cycles > 0) noc.watchdog_window_cycles = options.watchdog_cycles;
  RoutingTables tables = rebuild_routing_tables(m, topology);
  network_ = std::make_unique<Network>((options.instance_name + "noc").c_str(), noc, std::move(tables));
  timing_ = CoreTiming::from_chip(chip_);
  for (const auto& flow : m.flows) burst_capacity_.push_back(network_->burst_capacity(flow.payload_bits));
  // Who sends to whom: the start rule of overlapped tokens, and each core's incoming flows (sorted).
  std::vector<std::vector<int>> incoming(m.units.size()), destinations(m.units.size());
  for (std::size_t f = 0; f < m.flows.size(); ++f)
    for (int d : m.flows[f].destinations) {
      incoming[std::size_t(d)].push_back(int(f));
      destinations[std::size_t(m.flows[f].source)].push_back(d);
    }
  for (auto& l : destinations) {
    std::sort(l.begin(), l.end());
    l.erase(std::unique(l.begin(), l.end()), l.end());
  }
  known_started_.resize(m.units.size());
  destination_off_chip_.resize(m.units.size());
  source_slots_.resize(m.units.size());
  for (std::size_t u = 0; u < m.units.size(); ++u)
    for (std::size_t k = 0; k < destinations[u].size(); ++k) {
      const int d = destinations[u][k];
      known_started_[u].push_back(-1);
      destination_off_chip_[u].push_back(m.unit_cores[u].chip != m.unit_cores[std::size_t(d)].chip);
      source_slots_[std::size_t(d)].push_back({int(u), k});
    }
  cross_chip_starts_ = std::make_unique<CrossChipStarts>(
      (options.instance_name + "cross_chip_starts").c_str(), network_->clock(), Cycle(noc.inter_chip_link_latency_cycles),
      [this](const CrossChipStarts::Notice& n) { destination_started(n.unit, std::size_t(n.slot), n.token, n.at); });
  // Chips run apart in windows when the mapping spans several: the bits of a run never depend on
  // how its chips are spread over processes (sim/README.md, "Windows").
  std::vector<int> chips_used;
  for (const auto& core : m.unit_cores) chips_used.push_back(core.chip);
  std::sort(chips_used.begin(), chips_used.end());
  windows_ = std::unique(chips_used.begin(), chips_used.end()) - chips_used.begin() > 1;
  network_->hold_inter_chip_traffic(windows_);
  cross_chip_starts_->hold(windows_);
  for (int id = 0; id < int(m.units.size()); ++id) {
    const int core = topology.core_index(m.unit_cores[std::size_t(id)]);
    cores_.push_back(std::make_unique<CoreModule>(fmt::format("{}core_{}", options.instance_name, core).c_str(), *this, id,
                                                  network_->interface(core), timing_, incoming[std::size_t(id)]));
  }
  if (trace_output_) {
    // SystemC appends ".vcd" to the name it is given and opens it itself: it writes a scratch file
    // whose content goes into the output when the trace is finished (finish_trace), so the output
    // is named as given and may be any writable target (a FIFO, a device).
    static int traces = 0;
    trace_scratch_ = (std::filesystem::temp_directory_path() /
                      fmt::format("spiketile-trace-{}-{}", ::getpid(), traces++)).string();
    auto* file = sc_core::sc_create_vcd_trace_file(trace_scratch_.c_str());
    trace_scratch_ += ".vcd";
    network_->trace(file, options.trace_cores);
    for (int id = 0; id < int(m.units.size()); ++id) {
      const int core = topology.core_index(m.unit_cores[std::size_t(id)]);
      if (std::find(options.trace_cores.begin(), options.trace_cores.end(), core) != options.trace_cores.end())
        cores_[std::size_t(id)]->trace(file, fmt::format("core_{}", core));
    }
    trace_file_ = file;
  }
  ranks_ = options.ranks;
  own_unit_.assign(m.units.size(), 1);
  if (ranks_) {
    partition_ = std::make_unique<RankPartition>(partition_chips(m, chip_.system.chip_count, ranks_->size()));
    if (over_ranks() && trace_output_)
      throw std::invalid_argument("--trace: a run over MPI ranks cannot trace (each rank holds only its chips' routers); "
                                  "trace the same run in one process");
    if (over_ranks() && !rtl_units_.empty())
      throw std::invalid_argument("--rtl: a run over MPI ranks does not drive the RTL neuron core yet; run --rtl in one "
                                  "process (it gives the same bits)");
    for (std::size_t id = 0; id < m.units.size(); ++id)
      own_unit_[id] = partition_->rank_of_chip[std::size_t(m.unit_cores[id].chip)] == ranks_->rank();
    remote_totals_.assign(std::size_t(ranks_->size()), network_->totals());
  }
  own_units_ = int(std::count(own_unit_.begin(), own_unit_.end(), 1));
  counts_.reset(m.config.n_layer);
  counted_ = counted_model(m);
  if (m.kind == MappingKind::Nir) population_sizes_ = nir_population_sizes(m.nir);
}

ChipSimulator::~ChipSimulator() {
  if (trace_file_) sc_core::sc_close_vcd_trace_file(static_cast<sc_core::sc_trace_file*>(trace_file_));
  // A trace not finished leaves nothing behind: SystemC's scratch file here, the output's
  // temporary in OutputFile.
  if (!trace_scratch_.empty()) std::remove(trace_scratch_.c_str());
}

std::unique_ptr<OutputFile> ChipSimulator::finish_trace() {
  if (trace_file_) sc_core::sc_close_vcd_trace_file(static_cast<sc_core::sc_trace_file*>(trace_file_));
  trace_file_ = nullptr;
  if (trace_output_) {
    // No simulated step: SystemC opened no file, and the trace stays empty.
    std::ifstream scratch(trace_scratch_, std::ios::binary);
    std::vector<char> chunk(std::size_t(1) << 20);
    while (scratch) {
      scratch.read(chunk.data(), std::streamsize(chunk.size()));
      if (scratch.gcount() > 0) trace_output_->write(chunk.data(), std::size_t(scratch.gcount()));
    }
    std::remove(trace_scratch_.c_str());
    trace_scratch_.clear();
  }
  return std::move(trace_output_);
}

Cycle ChipSimulator::now() const { return network_->clock().now(); }

int ChipSimulator::rank_of_router(int router) const {
  return partition_ ? partition_->rank_of_chip[std::size_t(network_->topology().coord(router).chip)] : 0;
}

int ChipSimulator::rank_of_unit(int unit) const {
  return partition_ ? partition_->rank_of_chip[std::size_t(mapping_->unit_cores[std::size_t(unit)].chip)] : 0;
}

std::pair<int64_t, bool> ChipSimulator::unit_progress(int unit) const {
  const CoreModule& c = *cores_[std::size_t(unit)];
  return {c.token(), c.finished_token()};
}

Bytes ChipSimulator::core_counters(int unit) const {
  const CoreModule& c = *cores_[std::size_t(unit)];
  ByteWriter out;
  out.put(c.work);
  for (int64_t v : {c.lif_updates, c.events_out, c.flits_injected, c.synapse_accesses, c.state_reads, c.state_writes,
                    c.peak_held})
    out.put(v);
  out.put(c.busy_cycles);
  out.put(c.activations);
  return std::move(out.bytes());
}

void ChipSimulator::set_core_counters(int unit, ByteReader& in) {
  CoreModule& c = *cores_[std::size_t(unit)];
  c.work = in.get<Counts>();
  for (int64_t* v : {&c.lif_updates, &c.events_out, &c.flits_injected, &c.synapse_accesses, &c.state_reads,
                     &c.state_writes, &c.peak_held})
    *v = in.get<int64_t>();
  c.busy_cycles = in.get<Cycle>();
  c.activations = in.get<uint64_t>();
}

void ChipSimulator::reset() {
  for (auto& b : behaviors_) b->reset_state();
  counts_.reset(mapping_->config.n_layer);
}

void ChipSimulator::send(int unit, const UnitEvent& event) {
  flow_sent_by(*mapping_, unit, event);
  if (options_.on_send) options_.on_send(unit, event);
  cores_[std::size_t(unit)]->stage(event);
}

void ChipSimulator::logit(int64_t vocab_index, int64_t accumulator) {
  TokenInFlight& t = token_in_flight(reacting_token_);
  t.host.logit(vocab_index, accumulator);
  if (over_ranks()) t.logit_writes.push_back({vocab_index, accumulator});
}

const std::vector<float>& ChipSimulator::step(int token) {
  run_tokens({token}, {});
  ++decode_.tokens;
  decode_.cycles += Cycle(cycles_per_step_.back());
  return logits_;
}

void ChipSimulator::prefill(const std::vector<int>& tokens, const TokenCallback& on_token) {
  const Cycle start = now();
  run_tokens(tokens, on_token);
  prefill_.tokens += int64_t(tokens.size());
  prefill_.cycles += now() - start;
}

void ChipSimulator::run_tokens(const std::vector<int>& tokens, const TokenCallback& on_token) {
  if (mapping_->kind != MappingKind::SpikeGpt)
    throw std::invalid_argument("this mapping is a NIR graph's: it runs time steps from an input (simulate --input)");
  for (int token : tokens) require_token_in_vocabulary(token);
  run_tokens_ = tokens;
  run_inputs_ = nullptr;
  on_token_ = &on_token;
  run_steps(int64_t(tokens.size()));
}

void ChipSimulator::run_nir_steps(const std::vector<std::vector<int32_t>>& inputs, const StepCallback& on_step) {
  if (mapping_->kind != MappingKind::Nir)
    throw std::invalid_argument("this mapping is a SpikeGPT model's: it runs tokens, not a NIR graph's time steps");
  for (std::size_t t = 0; t < inputs.size(); ++t)
    if (int64_t(inputs[t].size()) != mapping_->nir.input_size())
      throw std::invalid_argument(fmt::format("time step {}: the graph input takes {} values, {} given", t,
                                              mapping_->nir.input_size(), inputs[t].size()));
  run_tokens_.clear();
  run_inputs_ = &inputs;
  on_step_ = &on_step;
  const Cycle start = now();
  run_steps(int64_t(inputs.size()));
  prefill_.tokens += int64_t(inputs.size());
  prefill_.cycles += now() - start;
}

void ChipSimulator::run_steps(int64_t steps) {
  if (steps == 0) return;
  const auto wall0 = std::chrono::steady_clock::now();
  const Mapping& m = *mapping_;
  run_length_ = steps;
  in_flight_.clear();
  tokens_finished_ = 0;
  burst_values_.clear();  // the last run's bursts were all taken: it ended with every core done
  burst_base_ = 0;
  traffic_by_token_.assign(Network::kTrafficKinds * std::size_t(steps), 0);
  network_->count_traffic_by_token(&traffic_by_token_);
  const Cycle start = now();
  last_finished_at_ = start;
  for (auto& c : cores_) c->begin_run();
  for (auto& known : known_started_) std::fill(known.begin(), known.end(), -1);
  cross_chip_starts_->clear();
  // Starting a unit may start the units that send to it: each starts once.
  for (int id = 0; id < int(cores_.size()); ++id)
    if (owns_unit(id)) start_next_token_if_allowed(id, start);

  if (windows_) run_windows();
  else run(*network_);
  // Cores work out their reactions when their events are sent; the run ends at the last cycle
  // one of them took an input, or the kernel's last event, whichever is later.
  Cycle end = now();
  for (const auto& c : cores_) end = std::max(end, c->last_input_cycle());
  if (over_ranks()) end = latest_over_ranks(end);
  if (end > now()) sc_core::sc_start(network_->clock().after(end - now()));
  network_->count_traffic_by_token(nullptr);
  if (over_ranks()) finish_run_over_ranks();

  if (tokens_finished_ < steps) {
    const std::string stalled = unfinished_units(m, behaviors_, [&](int id) {
      return fmt::format("core {} (token {} of the run)", to_string(m.unit_cores[std::size_t(id)]),
                         cores_[std::size_t(id)]->token());
    });
    throw NocError(fmt::format("token step stalled at cycle {} with {} of {} tokens done: the network is empty, but{}",
                               now(), tokens_finished_, steps,
                               stalled.empty() ? " every unit waits for another to start the next token" : stalled));
  }
  // The last token's interval runs to the end of the run: the token intervals sum to its cycles.
  cycles_per_step_.back() += int64_t(now() - last_finished_at_);
  wall_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
}

ChipSimulator::TokenInFlight& ChipSimulator::token_in_flight(int64_t token) {
  const int64_t first = tokens_finished_;
  if (token < first) throw NocError(fmt::format("token {} of the run is used after it finished", token));
  while (first + int64_t(in_flight_.size()) <= token) {
    const auto position = std::size_t(first + int64_t(in_flight_.size()));
    TokenInFlight& t = in_flight_.emplace_back(*mapping_);
    t.embedding_row = run_inputs_ ? (*run_inputs_)[position].data() : host_.embedding_row(run_tokens_[position]);
    t.observations.reset(mapping_->config.n_layer, mapping_->config.n_embd);
    if (run_inputs_) t.observations.reset_populations(population_sizes_);
    t.host.start_token();
  }
  return in_flight_[std::size_t(token - first)];
}

void ChipSimulator::unit_started(int unit, Cycle at) {
  const int64_t token = cores_[std::size_t(unit)]->token();
  if (options_.on_token_start) options_.on_token_start(unit, token, at);
  for (const auto& [source, slot] : source_slots_[std::size_t(unit)]) {
    if (destination_off_chip_[std::size_t(source)][slot]) cross_chip_starts_->post(source, slot, token, at);
    else destination_started(source, slot, token, at);
  }
}

void ChipSimulator::destination_started(int unit, std::size_t k, int64_t token, Cycle at) {
  int64_t& known = known_started_[std::size_t(unit)][k];
  known = std::max(known, token);
  start_next_token_if_allowed(unit, at);
}

void ChipSimulator::unit_finished(int unit, int64_t token, Cycle at) {
  TokenInFlight& t = token_in_flight(token);
  t.finished_at = std::max(t.finished_at, at);
  // Over ranks, rank 0 finishes the tokens once the run is over and it has every rank's share.
  if (++t.units_finished == own_units_ && !over_ranks()) token_finished(t.finished_at);
  start_next_token_if_allowed(unit, at);
}

// A unit may start the run's next token once it has finished its own and every unit it sends to
// has started that one: no core then ever receives events of more than one token past its own.
void ChipSimulator::start_next_token_if_allowed(int unit, Cycle at) {
  CoreModule& core = *cores_[std::size_t(unit)];
  const int64_t next = core.token() + 1;
  if (!core.finished_token() || next >= run_length_) return;
  for (int64_t started : known_started_[std::size_t(unit)])
    if (started < next - 1) return;
  core.start(next, at);
}

// Every unit has finished the oldest token in flight (tokens finish in order: a unit finishes
// them in order).
void ChipSimulator::token_finished(Cycle at) {
  TokenInFlight& t = in_flight_.front();
  if (run_inputs_) {
    last_accumulators_ = t.host.outputs();
    std::swap(observations_, t.observations);
    // A NIR run's per-step counts are its cores' work (SpikeGPT's come from count_token).
    work_per_step_.push_back(t.core_work);
  } else {
    logits_ = t.host.logits();
    last_accumulators_ = t.host.accumulators();
    std::swap(observations_, t.observations);
    count_token(counted_, observations_, t.embedding_row, counts_);
  }
  const int64_t position = tokens_finished_;
  cycles_per_step_.push_back(int64_t(std::max(at, last_finished_at_) - last_finished_at_));
  last_finished_at_ = std::max(at, last_finished_at_);
  NetworkStepStats net;
  net.packets = t.packets;
  const int64_t* traffic = &traffic_by_token_[Network::kTrafficKinds * std::size_t(position)];
  net.inter_chip_flits = traffic[Network::kInterChipHops];
  net.flit_hops = traffic[Network::kMeshHops] + net.inter_chip_flits;
  net.flits_delivered = traffic[Network::kDelivered];
  network_per_step_.push_back(net);
  cores_per_step_.push_back(core_work(t.core_work, t.lif_updates, t.synapse_accesses, t.state_reads, t.state_writes,
                                      t.events_out));
  in_flight_.pop_front();
  ++tokens_finished_;
  // Burst values of finished tokens have all been taken.
  int64_t keep_from = burst_base_ + int64_t(burst_values_.size());
  for (const auto& later : in_flight_)
    if (later.first_burst >= 0) keep_from = std::min(keep_from, later.first_burst);
  burst_values_.erase(burst_values_.begin(), burst_values_.begin() + (keep_from - burst_base_));
  burst_base_ = keep_from;
  if (run_inputs_) {
    if (*on_step_) (*on_step_)(position, last_accumulators_);
  } else if (*on_token_) {
    (*on_token_)(position, logits_);
  }
  if (options_.progress) options_.progress({int64_t(cycles_per_step_.size()), now(), wall_seconds_});
}

int64_t ChipSimulator::store_burst(const int64_t* values, int events, int64_t token) {
  const int64_t handle = burst_base_ + int64_t(burst_values_.size());
  burst_values_.insert(burst_values_.end(), values, values + events);
  TokenInFlight& t = token_in_flight(token);
  if (t.first_burst < 0) t.first_burst = handle;
  return handle;
}

int64_t ChipSimulator::peak_held_events() const {
  int64_t peak = 0;
  for (const auto& c : cores_) peak = std::max(peak, c->peak_held);
  return peak;
}

void ChipSimulator::fill_stats(RunStats& s) const {
  const Mapping& m = *mapping_;
  const Topology topology(chip_);
  StatsChip chip;
  chip.name = chip_.name;
  chip.spec_path = chip_.source_path;
  chip.clock_mhz = chip_.clock_frequency_mhz;
  chip.chips = chip_.system.chip_count;
  chip.cores_total = chip_.total_cores();
  chip.cores_used = int64_t(m.units.size());
  s.chip = chip;
  s.estimate = stats_estimate(m);
  s.power = power_states(chip_, m.unit_cores, network_->tables());
  StatsCycles cycles;
  cycles.per_step = cycles_per_step_;
  for (auto c : cycles_per_step_) cycles.total += c;
  cycles.prefill_steps = prefill_.tokens;
  cycles.prefill_cycles = int64_t(prefill_.cycles);
  s.cycles = cycles;
  StatsNetwork net;
  net.per_step = network_per_step_;
  for (const auto& n : network_per_step_) {
    net.packets += n.packets;
    net.flit_hops += n.flit_hops;
    net.flits_delivered += n.flits_delivered;
    net.inter_chip_flits += n.inter_chip_flits;
  }
  net.detail_json = network_->stats().to_json().dump();
  s.network = net;
  std::vector<CoreStats> cores;
  for (std::size_t id = 0; id < cores_.size(); ++id) {
    const CoreModule& c = *cores_[id];
    const Unit& u = m.units[id];
    CoreStats cs;
    const CoreCoord coord = m.unit_cores[id];
    cs.index = topology.core_index(coord);
    cs.chip = coord.chip;
    cs.row = coord.row;
    cs.col = coord.col;
    cs.unit = u.name;
    cs.layer = u.layer;
    cs.op = u.kind == UnitKind::Residual      ? ""
            : u.kind == UnitKind::NirCrossbar ? m.nir.populations[std::size_t(u.layer)].node  // the population it serves
                                              : op_name(u.op);
    static_cast<CoreWork&>(cs) =
        core_work(c.work, c.lif_updates, c.synapse_accesses, c.state_reads, c.state_writes, c.events_out);
    cs.busy_cycles = int64_t(c.busy_cycles);
    cs.stall_cycles = int64_t(c.stall_cycles());
    if (const AccumulatorEngine* engine = behaviors_[id]->engine())
      if (const rtl::NeuronCoreBackend* core = rtl_core_of(*engine)) {
        const rtl::CoreCycleStats& r = core->stats();
        cs.rtl = RtlCoreStats{core->backend_name(), core->model_name(), int64_t(r.events), int64_t(r.partial_sums),
                              int64_t(r.ticks), int64_t(r.readouts), int64_t(r.total() - r.idle_cycles),
                              int64_t(r.idle_cycles), int64_t(r.neuron_updates), int64_t(r.sops)};
      }
    cores.push_back(std::move(cs));
  }
  s.cores = std::move(cores);
  s.cores_per_step = cores_per_step_;
}

std::string ChipSimulator::summary() const {
  const Mapping& m = *mapping_;
  const int64_t steps = int64_t(cycles_per_step_.size());
  if (steps == 0) return "no tokens simulated\n";
  int64_t total = 0;
  for (auto c : cycles_per_step_) total += c;
  Cycle busy = 0, stall = 0, busiest = 0;
  uint64_t core_runs = 0;
  std::string busiest_name;
  for (std::size_t id = 0; id < cores_.size(); ++id) {
    busy += cores_[id]->busy_cycles;
    stall += cores_[id]->stall_cycles();
    core_runs += cores_[id]->activations;
    if (cores_[id]->busy_cycles > busiest) {
      busiest = cores_[id]->busy_cycles;
      busiest_name = m.units[id].name;
    }
  }
  const double mhz = chip_.clock_frequency_mhz;
  std::string s = fmt::format("chip {} at {} MHz: {} cores in use of {}\n", chip_.name, mhz, m.units.size(),
                              chip_.total_cores());
  const bool nir = m.kind == MappingKind::Nir;
  if (nir && prefill_.tokens > 0) {
    const double per_step = double(prefill_.cycles) / double(prefill_.tokens);
    s += fmt::format("time steps (overlapped through the layers): {} steps in {} cycles, {:.0f} cycles per step ({:.2f} µs; "
                     "{:.0f} steps/s on the chip); at most {} events held for a core's next step\n",
                     prefill_.tokens, prefill_.cycles, per_step, per_step / chip_.clock_frequency_mhz,
                     chip_.clock_frequency_mhz * 1e6 / per_step, peak_held_events());
  } else if (prefill_.tokens > 0) {
    const double per_token = double(prefill_.cycles) / double(prefill_.tokens);
    s += fmt::format("prefill (tokens overlapped through the layers): {} tokens in {} cycles, {:.0f} cycles per token "
                     "({:.0f} tokens/s on the chip); at most {} events held for a core's next token\n",
                     prefill_.tokens, prefill_.cycles, per_token, mhz * 1e6 / per_token, peak_held_events());
  }
  double decode_mean = 0;
  if (decode_.tokens > 0) {
    decode_mean = double(decode_.cycles) / double(decode_.tokens);
    int64_t decode_max = 0;
    for (std::size_t i = cycles_per_step_.size() - std::size_t(decode_.tokens); i < cycles_per_step_.size(); ++i)
      decode_max = std::max(decode_max, cycles_per_step_[i]);
    s += fmt::format("decode (one token at a time, each needs the last): {} tokens, cycles per token mean {:.0f}, max {} "
                     "({:.2f} µs per token; {:.0f} tokens/s on the chip)\n",
                     decode_.tokens, decode_mean, decode_max, decode_mean / mhz, mhz * 1e6 / decode_mean);
  }
  s += fmt::format(
      "core utilization: mean {:.1f} % of the run, busiest {} ({:.1f} %); stall cycles (outputs waiting for the router) "
      "{}\n"
      "simulation: {} {} in {:.2f} s wall, {:.0f} chip cycles/s; {} core process runs\n",
      100.0 * double(busy) / double(total) / double(cores_.size()), busiest_name, 100.0 * double(busiest) / double(total),
      stall, steps, nir ? "time steps" : "tokens", wall_seconds_, double(total) / wall_seconds_, core_runs);
  if (windows_) {
    const WindowStats& w = window_stats();
    s += fmt::format("windows (chips apart, sim/README.md): {} window ends, {:.0f} per {}", w.windows,
                     double(w.windows) / double(steps), nir ? "time step" : "token");
    if (over_ranks())
      s += fmt::format("; {}: {} messages and {} bytes between ranks ({:.1f} and {:.0f} per window), {:.2f} s of "
                       "the ranks' wall in exchanges (one rank {:.2f} s at most, {:.2f} s at least)",
                       partition_->describe(), w.messages, w.bytes, double(w.messages) / double(std::max<int64_t>(1, w.windows)),
                       double(w.bytes) / double(std::max<int64_t>(1, w.windows)), w.exchange_seconds,
                       w.exchange_seconds_max, w.exchange_seconds_min);
    s += "\n";
  }
  if (m.estimate.profile_tokens > 0 && decode_.tokens > 0)
    s += fmt::format("latency bound (compiler, no network contention): {:.0f} cycles per token; decode measured {:.2f}× "
                     "the bound\n",
                     m.estimate.cycles_per_token, decode_mean / m.estimate.cycles_per_token);
  else if (m.estimate.profile_tokens > 0)
    s += fmt::format("latency bound (compiler, no network contention): {:.0f} cycles per token (no token decoded)\n",
                     m.estimate.cycles_per_token);
  else if (!nir)
    s += "latency bound: none in this mapping (compiled with --profile-tokens 0)\n";
  s += network_->summary();
  if (!rtl_units_.empty()) {
    const RtlLoopStats r = rtl_loop_stats();
    s += fmt::format(
        "RTL in the loop: {} crossbar cores on the {} backend (model {}): {} busy core cycles ({} events, {} partial "
        "sums, {} LIF ticks, {} readouts); {} neuron updates, {} SOPs: {:.3g} neuron updates/s, {:.3g} tokens/s\n",
        r.cores, r.backend, r.model, r.totals.total() - r.totals.idle_cycles, r.totals.events, r.totals.partial_sums, r.totals.ticks,
        r.totals.readouts, r.neuron_updates, r.totals.sops, double(r.neuron_updates) / wall_seconds_,
        double(steps) / wall_seconds_);
  }
  return s;
}

int ChipSimulator::core_index(int id) const { return Topology(chip_).core_index(mapping_->unit_cores[std::size_t(id)]); }

RtlLoopStats ChipSimulator::rtl_loop_stats() const {
  RtlLoopStats r;
  r.backend = options_.rtl.backend;
  r.model = options_.rtl.model;
  r.wall_seconds = wall_seconds_;
  for (int id : rtl_units_) {
    const rtl::NeuronCoreBackend* core = rtl_core_of(*behaviors_[std::size_t(id)]->engine());
    if (!core) continue;
    const rtl::CoreCycleStats& c = core->stats();
    ++r.cores;
    rtl::CoreCycleStats& t = r.totals;
    t.events += c.events;
    t.partial_sums += c.partial_sums;
    t.ticks += c.ticks;
    t.readouts += c.readouts;
    t.resets += c.resets;
    t.writes += c.writes;
    t.event_cycles += c.event_cycles;
    t.partial_sum_cycles += c.partial_sum_cycles;
    t.tick_cycles += c.tick_cycles;
    t.readout_cycles += c.readout_cycles;
    t.reset_cycles += c.reset_cycles;
    t.write_cycles += c.write_cycles;
    t.idle_cycles += c.idle_cycles;
    t.idle_cycles_clocked += c.idle_cycles_clocked;
    t.neuron_updates += c.neuron_updates;
    t.sops += c.sops;
    r.neuron_updates += int64_t(c.ticks + c.readouts) * core->shape().neurons;
  }
  return r;
}

}  // namespace spiketile::sim
