// Generation speed of an execution level against the machine's memory-bandwidth limit.
//
// Batch-1 generation streams every weight once per token, so tokens/s can never exceed
// (memory read bandwidth) / (weight bytes per token). This program measures that bandwidth,
// then the tokens/s and peak RSS of the float golden model (4-byte weights) or the quantized
// functional model (weight_bits/8-byte weights) on a checkpoint or on random weights of a
// given shape, and prints the speed as a fraction of the limit.
//
//   bench_levels --shape 12,512,5458 --tokens 64 --threads 2
//   bench_levels --model models/spikegpt-fortunes.pth --level quantized --tokens 512
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <omp.h>
#include <sys/resource.h>

#include <chrono>
#include <sstream>
#include <vector>

#include "models/quantized.hpp"
#include "models/random_weights.hpp"
#include "models/spikegpt.hpp"
#include "runtime/sampler.hpp"

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) * 1024.0;
}

// Best of several passes summing a buffer far larger than the caches, split across threads.
// Eigen's vectorised sum keeps the loop memory-bound (a scalar float sum would be add-latency
// bound and under-report the bandwidth).
double measure_read_bandwidth_gbs(int threads, std::size_t bytes) {
  std::vector<float> buf(bytes / sizeof(float), 1.0f);
  const std::size_t n = buf.size();
  double best = 0;
  volatile float sink = 0;
  for (int pass = 0; pass < 5; ++pass) {
    const double t0 = now();
    float total = 0;
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const std::size_t nt = std::size_t(omp_get_num_threads()), t = std::size_t(omp_get_thread_num());
      const std::size_t b = n * t / nt, e = n * (t + 1) / nt;
      total += Eigen::Map<const Eigen::VectorXf>(buf.data() + b, Eigen::Index(e - b)).sum();
    }
    sink = sink + total;
    best = std::max(best, double(bytes) / (now() - t0) / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Golden SpikeGPT generation speed vs the memory-bandwidth limit"};
  std::string model_path, shape, level = "golden";
  int tokens = 32, threads = 2;
  std::size_t bw_mb = 1024;
  app.add_option("--model", model_path, "Checkpoint to load");
  app.add_option("--shape", shape, "Random weights of shape L,C,V instead of a checkpoint");
  app.add_option("--level", level, "golden or quantized")->check(CLI::IsMember({"golden", "quantized"}));
  app.add_option("--tokens", tokens, "Generated tokens to time (after 4 warm-up tokens)");
  app.add_option("--threads", threads, "Threads");
  app.add_option("--bandwidth-mb", bw_mb, "Buffer size for the bandwidth measurement (0 = skip)");
  CLI11_PARSE(app, argc, argv);

  spiketile::SpikeGptWeights weights;
  std::string what;
  const double t_load = now();
  if (!shape.empty()) {
    spiketile::ModelConfig c;
    char sep;
    std::stringstream ss(shape);
    ss >> c.n_layer >> sep >> c.n_embd >> sep >> c.vocab_size;
    weights = spiketile::SpikeGptWeights::from_file(spiketile::random_spikegpt_checkpoint(c, 1), {});
    what = fmt::format("random L{} C{} V{}", c.n_layer, c.n_embd, c.vocab_size);
  } else {
    weights = spiketile::SpikeGptWeights::load(model_path, {});
    what = model_path;
  }
  const double load_s = now() - t_load;
  const spiketile::ModelConfig c = weights.config;
  omp_set_num_threads(threads);
  std::unique_ptr<spiketile::TokenModel> model;
  double bytes_per_weight = 4.0;
  if (level == "golden") {
    model = std::make_unique<spiketile::GoldenModel>(std::move(weights), threads);
  } else {
    // Ranges from a short greedy run of the golden model itself; speed does not depend on them.
    spiketile::GoldenModel golden(std::move(weights), threads);
    std::vector<int> sample{0};
    for (int i = 0; i < 15; ++i) sample.push_back(spiketile::argmax(golden.step(sample.back())));
    const spiketile::Calibration cal = spiketile::calibrate(golden, sample, "bench greedy sample");
    spiketile::QuantOptions options;
    model = std::make_unique<spiketile::QuantizedModel>(spiketile::QuantizedSpikeGpt::build(golden.weights(), cal, options));
    bytes_per_weight = options.weight_bits / 8.0;
  }

  // Bytes one token must read: every matrix once (the embedding row is noise).
  const double weight_bytes = bytes_per_weight * (double(c.n_layer) * 13.0 * c.n_embd * c.n_embd + double(c.vocab_size) * c.n_embd);
  int token = 0;
  for (int i = 0; i < 4; ++i) token = spiketile::argmax(model->step(token));
  const double t0 = now();
  for (int i = 0; i < tokens; ++i) token = spiketile::argmax(model->step(token));
  const double tps = tokens / (now() - t0);
  const double rss = peak_rss_bytes();

  fmt::print("model:            {} ({:.1f} M params, {:.1f} MB fp32)\n", what, double(c.parameter_count()) / 1e6,
             double(c.parameter_count()) * 4 / 1e6);
  fmt::print("level:            {}\n", level);
  fmt::print("threads:          {}\n", threads);
  fmt::print("load:             {:.2f} s\n", load_s);
  fmt::print("tokens/s:         {:.2f} (over {} tokens)\n", tps, tokens);
  fmt::print("weight bytes/tok: {:.1f} MB\n", weight_bytes / 1e6);
  fmt::print("peak RSS:         {:.1f} MB ({:.2f}x fp32 weights)\n", rss / 1e6, rss / (double(c.parameter_count()) * 4));
  if (bw_mb > 0) {
    const double bw = measure_read_bandwidth_gbs(threads, bw_mb << 20);
    const double limit = bw * 1e9 / weight_bytes;
    fmt::print("read bandwidth:   {:.2f} GB/s ({} threads)\n", bw, threads);
    fmt::print("limit tokens/s:   {:.2f}\n", limit);
    fmt::print("fraction of limit: {:.1f} %\n", 100.0 * tps / limit);
  }
  return 0;
}
