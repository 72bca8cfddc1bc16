#include "sim/arbiter.hpp"

#include <fmt/format.h>

#include <stdexcept>

namespace spiketile::sim {

namespace {

int lowest_bit(uint32_t mask) { return __builtin_ctz(mask); }

// The input after the one granted last (per output) goes first.
class RoundRobinArbiter : public IArbiter {
 public:
  explicit RoundRobinArbiter(int ports) : ports_(ports), last_(std::size_t(ports), ports - 1) {}
  int grant(int output, uint32_t requests) override {
    int& last = last_[std::size_t(output)];
    if ((requests & (requests - 1)) == 0) return last = lowest_bit(requests);  // one requester
    const int start = last + 1 == ports_ ? 0 : last + 1;
    const uint32_t all = (1u << ports_) - 1u;
    const uint32_t rotated = ((requests >> start) | (requests << (ports_ - start))) & all;
    last = lowest_bit(rotated) + start;
    if (last >= ports_) last -= ports_;
    return last;
  }

 private:
  int ports_;
  std::vector<int> last_;
};

// Port order N, E, S, W, local: the lowest-numbered requester always wins.
class FixedPriorityArbiter : public IArbiter {
 public:
  int grant(int, uint32_t requests) override { return lowest_bit(requests); }
};

std::vector<ArbiterInfo>& registry() {
  static std::vector<ArbiterInfo> arbiters{
      {"round_robin", "input ports take turns for each output port, starting after the last one granted",
       [](int ports) { return std::make_unique<RoundRobinArbiter>(ports); }},
      {"fixed_priority", "the lowest-numbered input port (N, E, S, W, local) wins; can starve the others",
       [](int) { return std::make_unique<FixedPriorityArbiter>(); }},
  };
  return arbiters;
}

}  // namespace

const std::vector<ArbiterInfo>& arbiters() { return registry(); }

void register_arbiter(ArbiterInfo info) {
  for (const ArbiterInfo& known : registry())
    if (known.name == info.name) throw std::invalid_argument(fmt::format("arbiter '{}' is registered twice", info.name));
  registry().push_back(std::move(info));
}

std::unique_ptr<IArbiter> make_arbiter(const std::string& name, int ports) {
  std::string known;
  for (const ArbiterInfo& info : registry()) {
    if (info.name == name) return info.make(ports);
    known += (known.empty() ? "" : ", ") + info.name;
  }
  throw std::invalid_argument(fmt::format("router.arbitration: unknown arbiter '{}'; known: {}", name, known));
}

}  // namespace spiketile::sim
