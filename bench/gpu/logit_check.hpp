// The check every configuration passes before it is timed: its steps against the golden float32
// model on the same tokens, run on the host in the same program.
//
// Why lockstep, and why spikes are counted apart. A spiking network is discontinuous: a
// membrane within rounding distance of the threshold fires on one side of it and not on the
// other, and a spike that flips adds 1 to one channel of the residual stream, which every later
// step carries. So a free-running fp16 run leaves any rounding-sized tolerance of the float32
// model within a few steps (the shipped model: a flip at step 2, logits 12 % of their range
// apart by step 15), whatever its kernels' quality. Each checked step therefore starts from the
// golden model's state (uploaded before it), and the comparison is split:
//   * spike flips: the share of LIF updates whose spike differs from the golden model's (a
//     flipped neuron's new membranes differ by about 1: one was reset to 0, the other stayed
//     just below threshold) must stay below the precision's flip tolerance;
//   * logits, on the (step, sequence) pairs without a flip: max |GPU − golden| over the range
//     of the golden logits;
//   * the new recurrent state, for the layers before the pair's first flip: per layer and slot,
//     max |GPU − golden| over max |golden| (token shifts, WKV a/b/p, membranes);
// the two errors must stay within the precision's tolerance (check_tolerance()).
#pragma once

#include <string>
#include <vector>

#include "bench/gpu/precision.hpp"
#include "models/spikegpt.hpp"
#include "runtime/gpu_measured.hpp"

namespace spiketile::gpu_bench {

struct CheckTolerance {
  double error = 0;             // on the normalized logits and state errors
  double spike_flip_share = 0;  // on the share of LIF updates whose spike flipped
};
// Ten times each 16-bit format's unit roundoff (fp16 2^-11, bf16 2^-8: six times the largest
// error the host emulation of the GPU's step shows on the shipped model, the 46M and the 216M
// shapes), for int8 0.15 (4.7 times its largest, 0.032); the flip shares three to five times the
// emulation's on the shipped model, whose membranes sit near the threshold far more often than
// random weights' (docs/performance.md, "A measured GPU baseline", has the table).
CheckTolerance check_tolerance(Precision p);

// The token stream `stream` feeds at step `step` of the check: fixed, different per stream.
int check_token(int stream, int step, int vocab);

// The golden model's trajectory on `streams` token streams of `steps` tokens each, from the
// zero state: per stream and step the state before, the logits and the state after.
struct GoldenTrajectory {
  int streams = 0, steps = 0;
  std::vector<std::vector<int>> tokens;                      // [stream][step]
  std::vector<std::vector<std::vector<float>>> state_before;  // [stream][step]: RecurrentState::raw()
  std::vector<std::vector<std::vector<float>>> logits;        // [stream][step]
  std::vector<std::vector<std::vector<float>>> state_after;   // [stream][step]
};
GoldenTrajectory record_golden(GoldenModel& golden, int streams, int steps);

// What the check drives: a batch of sequences whose state can be set and read in the golden
// model's layout. Sequence b follows golden stream b % streams.
class LockstepDevice {
 public:
  virtual ~LockstepDevice() = default;
  virtual int batch() const = 0;
  virtual void set_state(int sequence, const std::vector<float>& state) = 0;
  // One step; logits [batch × vocab].
  virtual const std::vector<float>& step(const std::vector<int>& tokens) = 0;
  virtual std::vector<float> state(int sequence) = 0;
};

struct CheckOutcome {
  GpuLogitCheck result;
  std::string failure;  // "" when it passed; else what failed, where (step, sequence, layer) and by how much
};
CheckOutcome run_check(LockstepDevice& device, const GoldenTrajectory& golden, const ModelConfig& config,
                       Precision precision);

}  // namespace spiketile::gpu_bench
