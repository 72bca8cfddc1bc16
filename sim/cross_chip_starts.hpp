// Starts of tokens on their way to the cores of other chips (ChipSimulator's start rule): each
// reaches its core one inter-chip link latency after it happened, in a fixed order within a cycle
// (time, receiving unit, slot) so that how the notices were queued never matters. With windows on
// (sim/README.md, "Windows"), a notice is held until the window's end like the packets that cross
// chips, and the window driver queues it there (it is due no earlier than that).
#pragma once

#include <functional>
#include <queue>
#include <tuple>
#include <vector>

#include <systemc>

#include "sim/clock.hpp"

namespace spiketile::sim {

class CrossChipStarts : public sc_core::sc_module {
 public:
  struct Notice {
    Cycle at;           // when the unit learns of the start
    int32_t unit;       // the unit that learns it
    uint64_t slot;      // the destination's index in the unit's destinations
    int64_t token;
    bool operator>(const Notice& o) const {
      return std::tie(at, unit, slot, token) > std::tie(o.at, o.unit, o.slot, o.token);
    }
  };
  using Receiver = std::function<void(const Notice&)>;

  SC_HAS_PROCESS(CrossChipStarts);
  CrossChipStarts(const sc_core::sc_module_name& name, const CycleClock& clock, Cycle latency, Receiver receiver)
      : sc_module(name), clock_(clock), latency_(latency), receiver_(std::move(receiver)) {
    SC_METHOD(deliver);
    sensitive << due_;
    dont_initialize();
  }

  void hold(bool on) { hold_ = on; }
  std::vector<Notice>& held() { return held_; }

  void post(int unit, std::size_t slot, int64_t token, Cycle started_at) {
    const Notice n{started_at + latency_, int32_t(unit), uint64_t(slot), token};
    if (hold_) held_.push_back(n);
    else queue(n);
  }
  void queue(const Notice& n) {
    if (queue_.empty() || n.at < queue_.top().at) due_.notify(clock_.after(n.at - clock_.now()));
    queue_.push(n);
  }
  void clear() {
    queue_ = {};
    held_.clear();
    due_.cancel();
  }

 private:
  void deliver() {
    const Cycle now = clock_.now();
    while (!queue_.empty() && queue_.top().at <= now) {
      const Notice n = queue_.top();
      queue_.pop();
      receiver_(n);
    }
    if (!queue_.empty()) due_.notify(clock_.after(queue_.top().at - now));
  }

  const CycleClock& clock_;
  const Cycle latency_;
  Receiver receiver_;
  bool hold_ = false;
  std::vector<Notice> held_;
  std::priority_queue<Notice, std::vector<Notice>, std::greater<Notice>> queue_;
  sc_core::sc_event due_;
};

}  // namespace spiketile::sim
