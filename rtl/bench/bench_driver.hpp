// The cycle loop of the RTL bench, for any verilated neuron_core configuration (the port types
// differ with the widths, hence a template). Each cycle it drives one operation of the stimulus,
// checks the handshake and idle outputs against a cycle model of the pipeline, and on every
// output beat compares each neuron's spike and membrane with the reference.
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "rtl/bench/bench.hpp"
#include "rtl/bench/core_reference.hpp"
#include "rtl/bench/pipeline_model.hpp"
#include "rtl/bench/port_bits.hpp"
#include "rtl/bench/vector_file.hpp"
#include "rtl/bench/stimulus.hpp"
#include "verilated.h"

namespace spiketile::rtl {

__extension__ typedef __int128 Int128;  // g++/clang built-in; -Wpedantic would flag the bare name

// Corner coverage of the tick about to happen, from the reference's state before it: each neuron
// is stepped on a copy of its state by the contract's own function (q::neuron_step_int), whose
// trace says where the membrane landed before the clamp, the comparison and the reset.
inline void count_corners(const CoreReference& ref, uint64_t events_since_tick, Corners& c) {
  const CoreShape& s = ref.shape();
  const int64_t vmax = (int64_t(1) << (s.membrane_bits - 1)) - 1, amax = (int64_t(1) << (s.accumulator_bits - 1)) - 1;
  const int32_t one = 1 << q::kNeuronRateFrac;
  c.empty_ticks += events_since_tick == 0;
  for (int n = 0; n < s.neurons; ++n) {
    const int32_t x = ref.current(n);
    const q::NeuronState before = ref.neuron_state(n);
    const q::NeuronParams& p = ref.neuron_params(n);
    q::NeuronState after = before;
    q::NeuronStepTrace t;
    const bool spike = q::neuron_step_int(p, after, x, s.membrane_bits, &t);
    if (p.reset_mode != q::ResetMode::kNone) {
      c.at_threshold += t.v_integrated == p.theta;
      c.at_threshold_gt += t.v_integrated == p.theta && !p.fire_ge;
      c.below_threshold += t.v_integrated == int64_t(p.theta) - 1;
    } else {
      ++c.no_spike_mode;
      c.no_spike_over += t.v_integrated >= p.theta;
    }
    if (spike) {
      ++(p.reset_mode == q::ResetMode::kToValue ? c.reset_to_value : c.reset_subtract);
      c.subtract_saturated += t.v_subtracted > vmax;
    }
    c.membrane_clamp_max += t.v_unclamped > vmax;
    c.membrane_clamp_min += t.v_unclamped < -vmax - 1;
    if (p.current) {
      c.current_stage += x != before.i;
      c.syn_current_max += after.i == vmax;
      c.syn_current_min += after.i == -vmax - 1;
      c.di_zero += p.di == 0;
      c.di_one += p.di == one;
    }
    c.integrator += !p.leak && before.v != 0;
    c.dv_zero += p.dv == 0;
    c.dv_one += p.dv == one;
    const int64_t acc = ref.accumulator(n);
    const q::Multiplier& m = ref.multiplier(n);
    c.current_max += x == vmax;
    c.current_min += x == -vmax - 1;
    c.membrane_min += before.v == -vmax - 1;
    c.acc_max += acc == amax;
    c.acc_min += acc == -amax - 1;
    const Int128 prod = Int128(acc) * m.mantissa;
    if (m.shift <= 0) {
      c.left_shift += prod != 0;
    } else if (m.shift < 126) {
      const Int128 mag = prod < 0 ? -prod : prod, bit = 1;
      if ((mag & ((bit << m.shift) - 1)) == (bit << (m.shift - 1))) (prod < 0 ? c.tie_neg : c.tie_pos)++;
    }
  }
}

template <typename V>
BenchStats run_bench(const RtlModel& cfg, const BenchOptions& opt) {
  // Context first and owned here, never file-scope statics (their init order is unspecified).
  auto ctx = make_core_context();
  auto dut = std::make_unique<V>(ctx.get(), "core");

  const CoreShape& shape = cfg.geometry.shape;
  const int lanes = cfg.geometry.lanes, groups = shape.neurons / lanes, mem = shape.membrane_bits;
  const uint64_t wmask = (uint64_t(1) << shape.weight_bits) - 1;
  const int acc_w = shape.accumulator_bits;
  const uint64_t amask = (uint64_t(1) << acc_w) - 1;
  const int64_t amax = int64_t(amask >> 1);
  CoreReference ref(shape);
  Stimulus stim(shape, lanes, opt.seed, opt.profile, opt.directed, opt.cycles);
  const auto& names = Stimulus::scenario_names();
  BenchStats st;

  CorePipelineModel pipeline(groups);
  std::unique_ptr<VectorFile> vectors;
  if (!opt.vectors_path.empty()) vectors = std::make_unique<VectorFile>(opt.vectors_path);
  const auto bits_for = [](int n) { return n > 1 ? int(std::ceil(std::log2(double(n)))) : 1; };
  const int axon_bits = bits_for(shape.axons), neuron_bits = bits_for(shape.neurons), group_bits = bits_for(groups);
  std::string vector_inputs;
  bool vector_ready = false;
  struct Expected {
    uint64_t index;
    uint8_t scenario;
    bool readout;
    std::vector<uint8_t> spikes;
    std::vector<int32_t> membranes, currents;
    std::vector<int64_t> accumulators;   // a readout's output; a LIF tick's inputs, for the report
  };
  std::deque<Expected> expected;
  uint64_t tick_index = 0, events_since_tick = 0;

  const auto report = [&](const std::string& what, uint8_t scenario) {
    if (st.mismatches == 0) {
      st.first_mismatch_cycle = st.cycles;
      st.first_mismatch_scenario = names[scenario];
    }
    ++st.mismatches;
    if (int(st.mismatches) <= opt.max_report)
      std::printf("MISMATCH cycle %llu [%s] %s\n", (unsigned long long)st.cycles, names[scenario].c_str(), what.c_str());
  };

  const auto clock = [&] { clock_edge(*dut, *ctx); };
  power_on(*dut, *ctx);

  std::deque<Op> ops;
  std::vector<uint8_t> spikes;
  std::vector<int32_t> membranes;
  bool draining = false;
  const auto t0 = std::chrono::steady_clock::now();

  while (true) {
    if (!draining && st.cycles >= opt.cycles) draining = true;
    const bool model_idle = pipeline.idle();
    if (draining && model_idle && expected.empty()) break;
    if (opt.stop_at_first && st.mismatches) break;
    if (!draining && ops.empty()) stim.next_segment(ops);

    // ---- drive this cycle's inputs ----
    dut->rst_n = 1;
    dut->cmd_valid = 0;
    dut->cmd_psum = 0;
    dut->wr_en = 0;
    dut->mul_wr_en = 0;
    dut->par_rst_n = 1;
    dut->par_wr_en = 0;
    const bool model_ready = pipeline.ready();
    bool accept = false, accept_tick = false, do_reset = false;
    int psum_group = -1;
    if (!draining) {
      Op& op = ops.front();
      switch (op.type) {
        case Op::Type::kEvent:
        case Op::Type::kTick:
        case Op::Type::kReadout:
        case Op::Type::kPartialSum:
          accept_tick = op.type == Op::Type::kTick || op.type == Op::Type::kReadout;
          dut->cmd_valid = 1;
          dut->cmd_tick = accept_tick;
          dut->cmd_axon = op.event.axon;
          dut->cmd_kind = op.type == Op::Type::kReadout ? uint8_t(TickFunction::kReadout) : uint8_t(op.event.kind);
          dut->cmd_value = encode_payload(op.event, shape.activation_bits);
          dut->cmd_psum = op.type == Op::Type::kPartialSum;
          dut->cmd_neuron = op.neuron;
          dut->cmd_psum_value = uint32_t(uint64_t(op.partial_sum) & amask);
          if (model_ready) {
            accept = true;
            if (op.type == Op::Type::kReadout) {
              Expected e{tick_index++, op.scenario, true, std::vector<uint8_t>(shape.neurons, 0), {}, {}, {}};
              ref.readout(e.accumulators, e.membranes);
              for (int64_t acc : e.accumulators) st.corners.readout_rail += acc == amax || acc == -amax - 1;
              events_since_tick = 0;
              expected.push_back(std::move(e));
              ++st.ticks;
              ++st.readouts;
            } else if (accept_tick) {
              Expected e{tick_index++, op.scenario, false, {}, {}, {}, {}};
              if (opt.max_report > 0) {  // the neuron's inputs, for the mismatch report
                for (int n = 0; n < shape.neurons; ++n) {
                  e.accumulators.push_back(ref.accumulator(n));
                  e.currents.push_back(ref.current(n));
                }
              }
              count_corners(ref, events_since_tick, st.corners);
              events_since_tick = 0;
              st.spikes += ref.tick(spikes, membranes);
              e.spikes = spikes;
              e.membranes = membranes;
              expected.push_back(std::move(e));
              ++st.ticks;
            } else if (op.type == Op::Type::kPartialSum) {
              psum_group = op.neuron / lanes;
              ref.add_partial_sum(op.neuron, op.partial_sum);
              ++st.partial_sums;
              ++events_since_tick;
            } else {
              ref.apply(op.event);
              ++st.events;
              ++events_since_tick;
            }
            ops.pop_front();
          }
          break;
        case Op::Type::kReset:
          if (!expected.empty()) ++st.corners.reset_in_tick;
          events_since_tick = 0;
          dut->rst_n = 0;
          // A command presented during reset is not taken (cmd_ready is low): a tick here would
          // put beats on the outputs that the model, which drops it, does not expect.
          dut->cmd_valid = 1;
          dut->cmd_tick = 1;
          do_reset = true;
          ref.reset();
          ++st.resets;
          ops.pop_front();
          break;
        case Op::Type::kGap:
          if (--op.count <= 0) ops.pop_front();
          break;
        case Op::Type::kWeights:
          if (model_idle || opt.write_while_busy) {  // the write port is for an idle core
            dut->wr_en = 1;
            dut->wr_axon = op.axon;
            dut->wr_group = op.group;
            clear_port(dut->wr_weights);
            for (int l = 0; l < lanes; ++l) {
              put_field(dut->wr_weights, l * shape.weight_bits, shape.weight_bits, uint64_t(op.weights[l]) & wmask);
              ref.set_weight(op.axon, op.group * lanes + l, op.weights[l]);
            }
            ++st.weight_words;
            ops.pop_front();
          }
          break;
        case Op::Type::kMultiplier:
          if (model_idle) {
            dut->mul_wr_en = 1;
            dut->mul_wr_neuron = op.neuron;
            dut->mul_wr_mantissa = uint32_t(op.multiplier.mantissa);
            dut->mul_wr_shift = uint8_t(int8_t(op.multiplier.shift));
            ref.set_multiplier(op.neuron, op.multiplier);
            ++st.multiplier_writes;
            ops.pop_front();
          }
          break;
        case Op::Type::kNeuronParams:
          if (model_idle) {
            dut->par_wr_en = 1;
            dut->par_wr_neuron = op.neuron;
            put_fields(dut->par_wr_data, neuron_param_fields(op.params, mem));
            ref.set_neuron_params(op.neuron, op.params);
            ++st.param_writes;
            ops.pop_front();
          }
          break;
        case Op::Type::kParamReset:
          if (model_idle) {
            dut->par_rst_n = 0;
            ref.reset_neuron_params();
            ++st.param_resets;
            ops.pop_front();
          }
          break;
      }
    }

    // ---- combinational outputs with this cycle's inputs (cmd_ready follows rst_n): before the edge ----
    dut->eval();
    if (vectors) {
      using VF = VectorFile;
      vector_inputs = VF::hex(dut->rst_n, 1) + ' ' + VF::hex(dut->cmd_valid, 1) + ' ' + VF::hex(dut->cmd_tick, 1) + ' ' +
                      VF::hex(dut->cmd_axon, axon_bits) + ' ' + VF::hex(dut->cmd_kind, 2) + ' ' +
                      VF::hex(dut->cmd_value, shape.activation_bits) + ' ' + VF::hex(dut->cmd_psum, 1) + ' ' +
                      VF::hex(dut->cmd_neuron, neuron_bits) + ' ' + VF::hex(dut->cmd_psum_value, acc_w) + ' ' +
                      VF::hex(dut->wr_en, 1) + ' ' + VF::hex(dut->wr_axon, axon_bits) + ' ' +
                      VF::hex(dut->wr_group, group_bits) + ' ' + VF::hex(dut->wr_weights, lanes * shape.weight_bits) +
                      ' ' + VF::hex(dut->mul_wr_en, 1) + ' ' + VF::hex(dut->mul_wr_neuron, neuron_bits) + ' ' +
                      VF::hex(dut->mul_wr_mantissa, 32) + ' ' + VF::hex(dut->mul_wr_shift, 8) + ' ' +
                      VF::hex(dut->par_rst_n, 1) + ' ' + VF::hex(dut->par_wr_en, 1) + ' ' +
                      VF::hex(dut->par_wr_neuron, neuron_bits) + ' ' +
                      VF::hex(dut->par_wr_data, neuron_param_bits(mem));
      vector_ready = model_ready && !do_reset;
    }
    const uint8_t scen = ops.empty() ? uint8_t(names.size() - 1) : ops.front().scenario;
    if (bool(dut->cmd_ready) != (model_ready && !do_reset))
      report("cmd_ready=" + std::to_string(dut->cmd_ready) + " expected " + std::to_string(model_ready && !do_reset) +
                 (do_reset ? " (reset)" : ""),
             scen);
    if (bool(dut->idle) != model_idle)
      report("idle=" + std::to_string(dut->idle) + " expected " + std::to_string(model_idle), scen);

    clock();
    ++st.cycles;
    if (opt.progress && (st.cycles & 0x3FFF) == 0) opt.progress(st.cycles, opt.cycles);
    if (assertion_failed(*ctx)) report("an RTL assertion failed (its message is above)", scen);

    // ---- advance the cycle model through the same edge ----
    if (do_reset) {
      pipeline.reset();
      expected.clear();  // ticks in flight are abandoned with the membranes they would have set
    } else {
      pipeline.edge(accept, accept_tick, psum_group);
    }
    const CorePipelineModel::Beat& out = pipeline.output();
    if (vectors) {
      std::string outputs = "0 0 0 0 0 0";
      if (out.valid && !expected.empty()) {
        const Expected& e = expected.front();
        std::vector<uint64_t> s(std::size_t{0}), v, a;
        s.resize(std::size_t(lanes));
        v.resize(std::size_t(lanes));
        a.resize(std::size_t(lanes));
        for (int l = 0; l < lanes; ++l) {
          const std::size_t n = std::size_t(out.group * lanes + l);
          s[std::size_t(l)] = e.readout ? 0 : e.spikes[n];
          v[std::size_t(l)] = uint64_t(e.membranes[n]) & ((uint64_t(1) << mem) - 1);
          if (e.readout) a[std::size_t(l)] = uint64_t(e.accumulators[n]) & amask;
        }
        outputs = "1 " + VectorFile::hex(uint32_t(out.group), group_bits) + ' ' + (e.readout ? "1 " : "0 ") +
                  VectorFile::hex_lanes(s, 1) + ' ' + VectorFile::hex_lanes(v, mem) + ' ' +
                  VectorFile::hex_lanes(a, acc_w);
      }
      vectors->cycle(vector_inputs, vector_ready, model_idle, outputs);
    }

    // ---- registered outputs after the edge ----
    if (bool(dut->out_valid) != out.valid) {
      report("out_valid=" + std::to_string(dut->out_valid) + " expected " + std::to_string(out.valid), scen);
    } else if (out.valid) {
      if (expected.empty()) {
        report("output beat with no tick in flight", scen);
        continue;
      }
      const Expected& e = expected.front();
      if (int(dut->out_group) != out.group || bool(dut->out_last) != (out.group == groups - 1))
        report("out_group=" + std::to_string(dut->out_group) + " expected " + std::to_string(out.group), e.scenario);
      if (bool(dut->out_readout) != e.readout)
        report("out_readout=" + std::to_string(dut->out_readout) + " expected " + std::to_string(e.readout), e.scenario);
      for (int l = 0; l < lanes; ++l) {
        const int n = out.group * lanes + l;
        const bool s = get_field(dut->out_spikes, l, 1);
        const int32_t v = int32_t(sign_extend(get_field(dut->out_membrane, l * mem, mem), mem));
        if (e.readout) {
          const int64_t acc = sign_extend(get_field(dut->out_acc, l * acc_w, acc_w), acc_w);
          if (s || v != e.membranes[n] || acc != e.accumulators[n]) {
            char buf[256];
            std::snprintf(buf, sizeof buf, "readout %llu neuron %d: rtl acc=%lld v=%d spike=%d, ref acc=%lld v=%d",
                          (unsigned long long)e.index, n, (long long)acc, v, int(s), (long long)e.accumulators[n],
                          e.membranes[n]);
            report(buf, e.scenario);
          }
        } else if (s != bool(e.spikes[n]) || v != e.membranes[n]) {
          char buf[256];
          if (!e.currents.empty())
            std::snprintf(buf, sizeof buf, "tick %llu neuron %d: rtl v=%d spike=%d, ref v=%d spike=%d (acc=%lld, m=%d, s=%d, x=%d)",
                          (unsigned long long)e.index, n, v, int(s), e.membranes[n], int(e.spikes[n]),
                          (long long)e.accumulators[n], ref.multiplier(n).mantissa, ref.multiplier(n).shift,
                          e.currents[n]);
          else
            std::snprintf(buf, sizeof buf, "tick %llu neuron %d: rtl v=%d spike=%d, ref v=%d spike=%d",
                          (unsigned long long)e.index, n, v, int(s), e.membranes[n], int(e.spikes[n]));
          report(buf + describe_neuron_params(ref.neuron_params(n)), e.scenario);
        }
        ++st.neuron_checks;
      }
      if (out.group == groups - 1) expected.pop_front();
    }
  }

  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  st.sops = st.events * uint64_t(shape.neurons);
  st.skipped = stim.skipped();
  dut->final();
  return st;
}

}  // namespace spiketile::rtl
