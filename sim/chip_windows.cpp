// Windows: the chips of a run see each other only at window boundaries (sim/README.md, "Windows"),
// and a run over MPI ranks, which rests on them ("Runs over MPI ranks").
//
// Everything that crosses a chip boundary — a packet on an inter-chip link, credits coming back
// over one, a token start on its way to another chip's core — takes at least the inter-chip link
// latency L to arrive. So if the earliest event or crossing anywhere lies at cycle e, nothing sent
// from then on can matter anywhere before e + L: every chip runs to e + L on its own, and what
// crossed chips is handed over there, before anything at e + L happens. The window ends are a
// function of the run's events alone, so the bits and every count are the same however the chips
// are spread over processes.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "sim/chip_simulator.hpp"
#include "sim/cross_chip_starts.hpp"
#include "sim/network.hpp"

namespace spiketile::sim {

namespace {

// What one rank tells all others at a window boundary (before handing over).
struct WindowReport {
  Cycle next_event = kNever;     // its kernel's next event
  Cycle earliest_held = kNever;  // the earliest crossing it holds
  uint64_t progress = 0;         // progress since its last report
  int64_t in_flight = 0;         // packets in its routers and held between chips
  int64_t waiting = 0;           // units waiting for something (watchdog)
  uint8_t failed = 0;            // a message follows
};

void put_text(ByteWriter& out, const std::string& text) {
  out.put(uint64_t(text.size()));
  for (char ch : text) out.put(ch);
}

std::string get_text(ByteReader& in) {
  std::string text(std::size_t(in.get<uint64_t>()), '\0');
  for (char& ch : text) ch = in.get<char>();
  return text;
}

// A token's observations travel whole; on rank 0 the shares add up: counters sum, and a value one
// unit owns (a spike, a membrane, a population output) is zero on every other rank, so its bits
// are or-ed in.
void put_observations(ByteWriter& out, const TokenObservations& o) {
  out.put(uint64_t(o.crossbar_inputs.size()));
  for (const auto& ops : o.crossbar_inputs)
    for (const auto& inputs : ops) out.put(inputs);
  for (const auto* rows : {&o.activity.spikes_att, &o.activity.spikes_ffn}) {
    out.put(uint64_t(rows->size()));
    for (const auto& row : *rows) out.put_all(row);
  }
  out.put_all(o.activity.relu2_nonzero);
  for (const auto* rows : {&o.activity.membrane_att, &o.activity.membrane_ffn}) {
    out.put(uint64_t(rows->size()));
    for (const auto& row : *rows) out.put_all(row);
  }
  out.put(uint64_t(o.population_values.size()));
  for (const auto& row : o.population_values) out.put_all(row);
}

template <class T>
void or_bits(T& into, T value) {
  static_assert(sizeof(T) <= sizeof(uint32_t));
  uint32_t a = 0, b = 0;
  std::memcpy(&a, &into, sizeof(T));
  std::memcpy(&b, &value, sizeof(T));
  a |= b;
  std::memcpy(&into, &a, sizeof(T));
}

template <class T, class Merge>
void take_rows(ByteReader& in, std::vector<std::vector<T>>& rows, Merge merge) {
  const auto n = std::size_t(in.get<uint64_t>());
  if (n != rows.size()) throw RankFailure("observations of another rank do not have this rank's shape");
  for (auto& row : rows) {
    const std::vector<T> got = in.get_all<T>();
    if (got.size() != row.size()) throw RankFailure("observations of another rank do not have this rank's shape");
    for (std::size_t k = 0; k < row.size(); ++k) merge(row[k], got[k]);
  }
}

// `replace`: the observations become those read (every rank after rank 0 merged them); else the
// read share is merged in.
void take_observations(ByteReader& in, TokenObservations& o, bool replace) {
  const auto layers = std::size_t(in.get<uint64_t>());
  if (layers != o.crossbar_inputs.size()) throw RankFailure("observations of another rank do not have this rank's shape");
  for (auto& ops : o.crossbar_inputs)
    for (auto& inputs : ops) {
      const auto got = in.get<rules::CrossbarInputs>();
      if (replace) inputs = got;
      else inputs += got;
    }
  auto bits = [replace](auto& into, auto value) {
    if (replace) into = value;
    else or_bits(into, value);
  };
  take_rows(in, o.activity.spikes_att, bits);
  take_rows(in, o.activity.spikes_ffn, bits);
  const std::vector<int> relu2 = in.get_all<int>();
  if (relu2.size() != o.activity.relu2_nonzero.size()) throw RankFailure("observations of another rank do not have this rank's shape");
  for (std::size_t l = 0; l < relu2.size(); ++l) o.activity.relu2_nonzero[l] = (replace ? 0 : o.activity.relu2_nonzero[l]) + relu2[l];
  take_rows(in, o.activity.membrane_att, bits);
  take_rows(in, o.activity.membrane_ffn, bits);
  take_rows(in, o.population_values, bits);
}

}  // namespace

int64_t ChipSimulator::hand_over_held_traffic(std::vector<ByteWriter>* parcels) {
  std::vector<InterChipFlit> flits;
  std::vector<InterChipCredit> credits;
  std::vector<CrossChipStarts::Notice> starts;
  flits.swap(network_->held_flits());
  credits.swap(network_->held_credits());
  starts.swap(cross_chip_starts_->held());
  const int me = rank();
  if (!parcels) {
    for (const auto& f : flits) network_->deliver(f);
    for (const auto& c : credits) network_->deliver(c);
    for (const auto& s : starts) cross_chip_starts_->queue(s);
    return 0;
  }
  const std::size_t n = parcels->size();
  std::vector<std::vector<const InterChipFlit*>> flits_to(n);
  std::vector<std::vector<const InterChipCredit*>> credits_to(n);
  std::vector<std::vector<const CrossChipStarts::Notice*>> starts_to(n);
  for (const auto& f : flits) flits_to[std::size_t(rank_of_router(f.router))].push_back(&f);
  for (const auto& c : credits) credits_to[std::size_t(rank_of_router(c.router))].push_back(&c);
  for (const auto& s : starts) starts_to[std::size_t(rank_of_unit(s.unit))].push_back(&s);
  for (std::size_t r = 0; r < n; ++r) {
    if (int(r) == me) continue;
    ByteWriter& out = (*parcels)[r];
    out.put(uint64_t(flits_to[r].size()));
    for (const InterChipFlit* f : flits_to[r]) {
      out.put(*f);
      // A burst's values stay with its sender: they travel with the packet and are kept anew there.
      for (int k = 0; k < (f->packet.events > 1 ? int(f->packet.events) : 0); ++k) out.put(burst_value(f->packet.payload, k));
    }
    out.put(uint64_t(credits_to[r].size()));
    for (const InterChipCredit* c : credits_to[r]) out.put(*c);
    out.put(uint64_t(starts_to[r].size()));
    for (const CrossChipStarts::Notice* s : starts_to[r]) out.put(*s);
  }
  for (const InterChipFlit* f : flits_to[std::size_t(me)]) network_->deliver(*f);
  for (const InterChipCredit* c : credits_to[std::size_t(me)]) network_->deliver(*c);
  for (const CrossChipStarts::Notice* s : starts_to[std::size_t(me)]) cross_chip_starts_->queue(*s);
  const auto kept = flits_to[std::size_t(me)].size() + credits_to[std::size_t(me)].size() + starts_to[std::size_t(me)].size();
  return int64_t(flits.size() + credits.size() + starts.size() - kept);
}

void ChipSimulator::take_parcel(ByteReader& in) {
  for (auto n = in.get<uint64_t>(); n > 0; --n) {
    InterChipFlit f = in.get<InterChipFlit>();
    if (f.packet.events > 1) {
      std::vector<int64_t> values(f.packet.events);
      for (int64_t& v : values) v = in.get<int64_t>();
      f.packet.payload = store_burst(values.data(), int(values.size()), f.packet.token);
    }
    network_->deliver(f);
  }
  for (auto n = in.get<uint64_t>(); n > 0; --n) network_->deliver(in.get<InterChipCredit>());
  for (auto n = in.get<uint64_t>(); n > 0; --n) cross_chip_starts_->queue(in.get<CrossChipStarts::Notice>());
}

void ChipSimulator::run_windows() {
  const CycleClock& clock = network_->clock();
  const Cycle lookahead = Cycle(network_->config().inter_chip_link_latency_cycles);
  const Cycle watchdog = Cycle(network_->config().watchdog_window_cycles);
  const int n = ranks_ ? ranks_->size() : 1, me = rank();
  uint64_t reported = network_->progress();
  Cycle progress_at = clock.now();
  std::string failure;  // what stopped this rank's kernel (over ranks: told to the others first)
  auto next_kernel_event = [&clock] {
    return sc_core::sc_pending_activity() ? clock.now() + clock.cycles(sc_core::sc_time_to_pending_activity()) : kNever;
  };
  for (;;) {
    WindowReport mine;
    mine.next_event = next_kernel_event();
    for (const auto& f : network_->held_flits()) mine.earliest_held = std::min(mine.earliest_held, f.arrival);
    for (const auto& c : network_->held_credits()) mine.earliest_held = std::min(mine.earliest_held, c.at);
    for (const auto& s : cross_chip_starts_->held()) mine.earliest_held = std::min(mine.earliest_held, s.at);
    mine.progress = network_->progress() - reported;
    mine.in_flight = network_->packets_in_flight() + int64_t(network_->held_flits().size());
    mine.waiting = int64_t(network_->waiting_units());
    if (failure.empty() && n > 1 && network_->failed()) {
      try {
        network_->rethrow_if_failed();
      } catch (const std::exception& e) {
        failure = e.what();
      }
    }
    mine.failed = !failure.empty();
    std::vector<WindowReport> reports{mine};
    std::vector<std::pair<int, std::string>> failures;
    if (mine.failed) failures.emplace_back(me, failure);
    if (n == 1) {
      hand_over_held_traffic(nullptr);
    } else {
      std::vector<ByteWriter> parcels(static_cast<std::size_t>(n));
      for (int r = 0; r < n; ++r) {
        if (r == me) continue;
        parcels[std::size_t(r)].put(mine);
        if (mine.failed) put_text(parcels[std::size_t(r)], failure);
      }
      own_windows_.messages += hand_over_held_traffic(&parcels);
      std::vector<Bytes> out(static_cast<std::size_t>(n));
      for (int r = 0; r < n; ++r) {
        out[std::size_t(r)] = std::move(parcels[std::size_t(r)].bytes());
        own_windows_.bytes += int64_t(out[std::size_t(r)].size());
      }
      const auto exchange_start = std::chrono::steady_clock::now();
      const std::vector<Bytes> got = ranks_->exchange(out);
      own_windows_.exchange_seconds +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - exchange_start).count();
      for (int r = 0; r < n; ++r) {
        if (r == me) continue;
        ByteReader in(got[std::size_t(r)]);
        reports.push_back(in.get<WindowReport>());
        if (reports.back().failed) failures.emplace_back(r, get_text(in));
        else take_parcel(in);
      }
    }
    if (!failures.empty()) {
      std::sort(failures.begin(), failures.end());
      std::vector<std::string> lines;
      for (const auto& [r, text] : failures) lines.push_back(fmt::format("rank {} of {}: {}", r, n, text));
      throw RankFailure(fmt::format("{}", fmt::join(lines, "\n")));
    }
    Cycle next = kNever;
    uint64_t progress = 0;
    int64_t in_flight = 0, waiting = 0;
    for (const WindowReport& r : reports) {
      next = std::min({next, r.next_event, r.earliest_held});
      progress += r.progress;
      in_flight += r.in_flight;
      waiting += r.waiting;
    }
    network_->add_progress(progress - mine.progress);
    reported = network_->progress();
    const Cycle boundary = next == kNever ? clock.now() : next;
    if (progress > 0) progress_at = boundary;
    const bool stuck = in_flight > 0 || waiting > 0;
    if (stuck && (next == kNever || boundary - progress_at >= watchdog)) {
      // Nothing moves anywhere: each rank's part of the stall report, on rank 0.
      const std::string report = network_->stall_report();
      if (n == 1) throw NetworkStalled(report);
      ByteWriter mine_report;
      put_text(mine_report, report);
      const std::vector<Bytes> all = ranks_->gather(mine_report.bytes());
      std::vector<std::string> parts;
      for (int r = 0; r < int(all.size()); ++r) {
        ByteReader in(all[std::size_t(r)]);
        parts.push_back(fmt::format("rank {} of {}: {}", r, n, get_text(in)));
      }
      throw NetworkStalled(me == 0 ? fmt::format("{}", fmt::join(parts, "\n")) : fmt::format("rank {} of {}: the network stalled (rank 0 reports where)", me, n));
    }
    if (next == kNever) break;
    ++own_windows_.windows;
    const Cycle until = next + lookahead;
    // A rank with nothing before the window's end waits for the others' crossings.
    if (next_kernel_event() >= until) continue;
    if (n == 1) {
      sc_core::sc_start(clock.after(until - clock.now()), sc_core::SC_EXIT_ON_STARVATION);
      network_->rethrow_if_failed();
      continue;
    }
    try {
      sc_core::sc_start(clock.after(until - clock.now()), sc_core::SC_EXIT_ON_STARVATION);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  }
}

Cycle ChipSimulator::latest_over_ranks(Cycle mine) {
  std::vector<Bytes> parcels(static_cast<std::size_t>(ranks_->size()));
  for (int r = 0; r < ranks_->size(); ++r) {
    if (r == rank()) continue;
    ByteWriter out;
    out.put(mine);
    parcels[std::size_t(r)] = std::move(out.bytes());
  }
  Cycle latest = mine;
  const std::vector<Bytes> got = ranks_->exchange(parcels);
  for (int r = 0; r < ranks_->size(); ++r) {
    if (r == rank()) continue;
    ByteReader in(got[std::size_t(r)]);
    latest = std::max(latest, in.get<Cycle>());
  }
  return latest;
}

void ChipSimulator::finish_run_over_ranks() {
  const int n = ranks_->size(), me = rank();
  const Mapping& m = *mapping_;
  // What this rank did of the run: tokens every unit here finished, and what stopped the others.
  int64_t finished_here = 0;
  while (finished_here < int64_t(in_flight_.size()) && finished_here < run_length_ &&
         in_flight_[std::size_t(finished_here)].units_finished == own_units_)
    ++finished_here;
  std::string stalled;
  for (int id = 0; id < int(cores_.size()); ++id) {
    const auto [token, finished] = unit_progress(id);
    if (owns_unit(id) && (token < run_length_ - 1 || !finished))
      stalled += fmt::format("\n  core {} ({}) on rank {}: token {} of the run", to_string(m.unit_cores[std::size_t(id)]),
                             m.units[std::size_t(id)].name, me, token);
  }
  ByteWriter share;
  share.put(finished_here);
  put_text(share, stalled);
  share.put(own_windows_.messages);
  share.put(own_windows_.bytes);
  share.put(own_windows_.exchange_seconds);
  if (me != 0 && finished_here == run_length_) {
    for (int64_t t = 0; t < run_length_; ++t) {
      const TokenInFlight& tok = in_flight_[std::size_t(t)];
      share.put(tok.finished_at);
      share.put_all(tok.logit_writes);
      put_observations(share, tok.observations);
      share.put(tok.core_work);
      for (int64_t v : {tok.packets, tok.synapse_accesses, tok.state_reads, tok.state_writes, tok.lif_updates, tok.events_out})
        share.put(v);
    }
    share.put_all(traffic_by_token_);
    share.put(uint64_t(own_units_));
    for (int id = 0; id < int(cores_.size()); ++id)
      if (owns_unit(id)) {
        share.put(int32_t(id));
        for (uint8_t b : core_counters(id)) share.put(b);
      }
    std::vector<int> routers;
    for (int r = 0; r < network_->core_count(); ++r)
      if (rank_of_router(r) == me) routers.push_back(r);
    share.put(uint64_t(routers.size()));
    for (int r : routers) {
      share.put(int32_t(r));
      share.put_all(network_->router_counters(r));
    }
    share.put_all(network_->totals());
  }
  const std::vector<Bytes> shares = ranks_->gather(share.bytes());

  // Rank 0: every share merged into its tokens, then the tokens finished in order; what every
  // rank needs of each token goes back to all.
  ByteWriter results;
  if (me == 0) {
    std::string problems;
    int64_t finished = run_length_;
    std::vector<ByteReader> readers;
    readers.reserve(shares.size());
    // This rank's counts become the run's: every rank's messages, bytes and waits, until now.
    WindowStats all;
    all.windows = own_windows_.windows;
    for (int r = 0; r < n; ++r) {
      readers.emplace_back(shares[std::size_t(r)]);
      finished = std::min(finished, readers.back().get<int64_t>());
      problems += get_text(readers.back());
      all.messages += readers.back().get<int64_t>();
      all.bytes += readers.back().get<int64_t>();
      const double waited = readers.back().get<double>();
      all.exchange_seconds += waited;
      all.exchange_seconds_max = std::max(all.exchange_seconds_max, waited);
      all.exchange_seconds_min = r == 0 ? waited : std::min(all.exchange_seconds_min, waited);
    }
    window_stats_ = all;
    if (finished < run_length_) {
      put_text(results, fmt::format("token step stalled at cycle {} with {} of {} tokens done on every rank: the network "
                                    "is empty, but{}",
                                    now(), finished, run_length_,
                                    problems.empty() ? " every unit waits for another to start the next token" : problems));
    } else {
      put_text(results, "");
      for (int r = 1; r < n; ++r) {
        ByteReader& in = readers[std::size_t(r)];
        for (int64_t t = 0; t < run_length_; ++t) {
          TokenInFlight& tok = in_flight_[std::size_t(t)];
          tok.finished_at = std::max(tok.finished_at, in.get<Cycle>());
          for (const auto& w : in.get_all<TokenInFlight::LogitWrite>()) tok.host.logit(w.index, w.accumulator);
          take_observations(in, tok.observations, false);
          tok.core_work += in.get<Counts>();
          for (int64_t* v : {&tok.packets, &tok.synapse_accesses, &tok.state_reads, &tok.state_writes, &tok.lif_updates,
                             &tok.events_out})
            *v += in.get<int64_t>();
        }
        const std::vector<int64_t> traffic = in.get_all<int64_t>();
        for (std::size_t k = 0; k < traffic.size() && k < traffic_by_token_.size(); ++k) traffic_by_token_[k] += traffic[k];
        for (auto units = in.get<uint64_t>(); units > 0; --units) set_core_counters(in.get<int32_t>(), in);
        for (auto routers = in.get<uint64_t>(); routers > 0; --routers) {
          const int router = in.get<int32_t>();
          network_->set_router_counters(router, in.get_all<uint64_t>());
        }
        const std::vector<uint64_t> totals = in.get_all<uint64_t>();
        network_->add_totals(totals, remote_totals_[std::size_t(r)]);
        remote_totals_[std::size_t(r)] = totals;
      }
      // token_finished hands each token over (callbacks included) as one process would; what
      // it leaves of each token goes to the other ranks.
      for (int64_t t = 0; t < run_length_; ++t) {
        token_finished(in_flight_.front().finished_at);
        results.put(cycles_per_step_.back());
        if (run_inputs_) results.put(work_per_step_.back());
        results.put_all(logits_);
        results.put_all(last_accumulators_);
        put_observations(results, observations_);
      }
      results.put(last_finished_at_);
    }
  }
  Bytes outcome = std::move(results.bytes());
  ranks_->broadcast(outcome);
  ByteReader in(outcome);
  const std::string error = get_text(in);
  if (!error.empty()) throw NocError(error);
  if (me == 0) return;
  // The other ranks: the run's tokens as rank 0 finished them, handed over as there, so a caller
  // on any rank sees the same logits, observations and counts.
  for (int64_t t = 0; t < run_length_; ++t) {
    cycles_per_step_.push_back(in.get<int64_t>());
    if (run_inputs_) work_per_step_.push_back(in.get<Counts>());
    logits_ = in.get_all<float>();
    last_accumulators_ = in.get_all<int64_t>();
    take_observations(in, observations_, true);
    if (run_inputs_) {
      if (*on_step_) (*on_step_)(t, last_accumulators_);
    } else {
      count_token(counted_, observations_, in_flight_[std::size_t(t)].embedding_row, counts_);
      if (*on_token_) (*on_token_)(t, logits_);
    }
  }
  last_finished_at_ = in.get<Cycle>();
  in_flight_.clear();
  tokens_finished_ = run_length_;
}

}  // namespace spiketile::sim
