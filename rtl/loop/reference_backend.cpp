// The "reference" neuron core backend: CoreReference computes, CorePipelineModel times.
#include <stdexcept>

#include "rtl/bench/pipeline_model.hpp"
#include "rtl/loop/neuron_core_backend.hpp"

namespace spiketile::rtl {

namespace {
class ReferenceBackend final : public NeuronCoreBackend {
 public:
  ReferenceBackend(const CoreGeometry& geometry, const std::string& model)
      : NeuronCoreBackend("reference", model, geometry), ref_(geometry.shape), pipeline_(geometry.groups()) {}

 protected:
  bool cmd_ready() const override { return pipeline_.ready(); }
  bool core_idle() const override { return pipeline_.idle(); }

  int clock(const Drive& d, TickResult& out) override {
    const int lanes = geometry().lanes;
    switch (d.kind) {
      case Drive::Kind::kReset:
        ref_.reset();
        pipeline_.reset();
        return -1;
      case Drive::Kind::kEvent:
      case Drive::Kind::kPartialSum:
      case Drive::Kind::kTick:
      case Drive::Kind::kReadout:
        if (!pipeline_.ready()) throw std::logic_error("reference core: command driven while not ready");
        // A tick's results are computed now and come out lane group by lane group 4+ cycles later.
        if (d.kind == Drive::Kind::kEvent) {
          ref_.apply(d.event);
        } else if (d.kind == Drive::Kind::kPartialSum) {
          ref_.add_partial_sum(d.neuron, d.partial_sum);
        } else if (d.kind == Drive::Kind::kTick) {
          ref_.tick(pending_spikes_, pending_membranes_);
          pending_accumulators_.clear();
        } else {
          ref_.readout(pending_accumulators_, pending_membranes_);
          pending_spikes_.assign(shape().neurons, 0);
        }
        pipeline_.edge(true, d.kind == Drive::Kind::kTick || d.kind == Drive::Kind::kReadout,
                       d.kind == Drive::Kind::kPartialSum ? d.neuron / lanes : -1);
        break;
      case Drive::Kind::kWeightWord:
        for (int l = 0; l < lanes; ++l) ref_.set_weight(d.axon, d.group * lanes + l, d.word[l]);
        pipeline_.edge(false, false);
        break;
      case Drive::Kind::kMultiplier:
        ref_.set_multiplier(d.neuron, d.multiplier);
        pipeline_.edge(false, false);
        break;
      case Drive::Kind::kNeuronParams:
        ref_.set_neuron_params(d.neuron, d.params);
        pipeline_.edge(false, false);
        break;
      case Drive::Kind::kParamReset:
        ref_.reset_neuron_params();
        pipeline_.edge(false, false);
        break;
      case Drive::Kind::kIdle:
        pipeline_.edge(false, false);
        break;
    }
    const CorePipelineModel::Beat& beat = pipeline_.output();
    if (!beat.valid) return -1;
    for (int n = beat.group * lanes; n < (beat.group + 1) * lanes; ++n) {
      out.spikes[n] = pending_spikes_[n];
      out.membranes[n] = pending_membranes_[n];
      if (!pending_accumulators_.empty()) out.accumulators[n] = pending_accumulators_[n];
    }
    return beat.group;
  }

 private:
  CoreReference ref_;
  CorePipelineModel pipeline_;
  std::vector<uint8_t> pending_spikes_;
  std::vector<int32_t> pending_membranes_;
  std::vector<int64_t> pending_accumulators_;   // empty unless the tick in flight is a readout
};
}  // namespace

std::unique_ptr<NeuronCoreBackend> make_reference_backend(const CoreGeometry& geometry, const std::string& model_name) {
  return std::make_unique<ReferenceBackend>(geometry, model_name);
}

}  // namespace spiketile::rtl
