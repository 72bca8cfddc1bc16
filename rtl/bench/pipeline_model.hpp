// Cycle model of rtl/neuron_core.sv's command pipeline: when the core accepts a command
// (cmd_ready), when it is idle, and which tick lane group is on the outputs after each edge.
// The bench checks the RTL's handshake against it every cycle; the reference backend
// (rtl/loop) uses it as its timing, so both agree with the RTL by construction of the test.
#pragma once

namespace spiketile::rtl {

class CorePipelineModel {
 public:
  struct Beat {
    bool valid = false, tick = false;
    int group = 0;
  };

  explicit CorePipelineModel(int groups) : groups_(groups) {}

  int groups() const { return groups_; }
  // cmd_ready during the current cycle with rst_n high: the issue stage is free or on its last
  // beat. With rst_n low cmd_ready is low.
  bool ready() const { return !busy_ || beat_ == last_beat_; }
  // idle during the current cycle: no beat anywhere in the pipeline.
  bool idle() const { return !busy_ && !s1_.valid && !s2_.valid && !s3_.valid && !out_.valid; }
  // The tick beat on the outputs (out_valid, out_group) after the last edge.
  const Beat& output() const { return out_; }

  // One rising edge; `accept` = a command was valid while ready(): an event or tick (readouts
  // included) takes every lane group, a partial sum (psum_group >= 0) only its neuron's.
  void edge(bool accept, bool tick, int psum_group = -1) {
    out_ = s3_;
    s3_ = s2_;
    s2_ = (s1_.valid && s1_.tick) ? s1_ : Beat{};   // only tick beats go past S1
    s1_ = busy_ ? Beat{true, cur_tick_, beat_} : Beat{};
    if (accept) {
      busy_ = true;
      beat_ = psum_group >= 0 ? psum_group : 0;
      last_beat_ = psum_group >= 0 ? psum_group : groups_ - 1;
      cur_tick_ = tick;
    } else if (busy_) {
      if (beat_ == last_beat_) busy_ = false;
      else ++beat_;
    }
  }
  // An edge with rst_n low: every stage empties (commands in flight are dropped).
  void reset() { *this = CorePipelineModel(groups_); }

 private:
  int groups_;
  bool busy_ = false, cur_tick_ = false;
  int beat_ = 0, last_beat_ = 0;
  Beat s1_, s2_, s3_, out_;
};

}  // namespace spiketile::rtl
