#include "sim/mpi_rank_group.hpp"

#include <fmt/format.h>
#include <mpi.h>
#include <sched.h>

#include <chrono>
#include <limits>
#include <cstdlib>

namespace spiketile::sim {

namespace {

bool g_initialised = false;

bool launched_by_mpirun() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

class MpiRankGroup final : public RankGroup {
 public:
  explicit MpiRankGroup(double timeout_seconds) : timeout_seconds_(timeout_seconds) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }

  std::vector<Bytes> exchange(const std::vector<Bytes>& parcels) override {
    std::vector<Bytes> got(static_cast<std::size_t>(size_));
    if (size_ == 1) return got;
    ++round_;
    std::vector<uint64_t> out_sizes(std::size_t(size_), 0), in_sizes(std::size_t(size_), 0);
    std::vector<MPI_Request> requests;
    std::vector<int> peer_of;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      out_sizes[std::size_t(r)] = parcels[std::size_t(r)].size();
      requests.emplace_back();
      peer_of.push_back(r);
      MPI_Irecv(&in_sizes[std::size_t(r)], 1, MPI_UINT64_T, r, kSizeTag, MPI_COMM_WORLD, &requests.back());
      requests.emplace_back();
      peer_of.push_back(r);
      MPI_Isend(&out_sizes[std::size_t(r)], 1, MPI_UINT64_T, r, kSizeTag, MPI_COMM_WORLD, &requests.back());
    }
    wait(requests, peer_of);
    requests.clear();
    peer_of.clear();
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      Bytes& in = got[std::size_t(r)];
      in.resize(std::size_t(in_sizes[std::size_t(r)]));
      if (!in.empty()) {
        requests.emplace_back();
        peer_of.push_back(r);
        MPI_Irecv(in.data(), count(in.size()), MPI_BYTE, r, kDataTag, MPI_COMM_WORLD, &requests.back());
      }
      const Bytes& out = parcels[std::size_t(r)];
      if (!out.empty()) {
        requests.emplace_back();
        peer_of.push_back(r);
        MPI_Isend(out.data(), count(out.size()), MPI_BYTE, r, kDataTag, MPI_COMM_WORLD, &requests.back());
      }
    }
    wait(requests, peer_of);
    return got;
  }

 private:
  static constexpr int kSizeTag = 1, kDataTag = 2;

  static int count(std::size_t bytes) {
    if (bytes > std::size_t(std::numeric_limits<int>::max()))
      throw RankFailure(fmt::format("a parcel of {} bytes for another rank is larger than one MPI message takes", bytes));
    return int(bytes);
  }

  // Polls (yielding the core: ranks may share cores) until every request is done, or names the
  // ranks still owing an answer once the timeout has passed.
  void wait(std::vector<MPI_Request>& requests, const std::vector<int>& peer_of) {
    if (requests.empty()) return;
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t polls = 0;; ++polls) {
      int done = 0;
      MPI_Testall(int(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE);
      if (done) return;
      sched_yield();
      if (polls % 256 != 255) continue;
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (waited < timeout_seconds_) continue;
      std::vector<int> silent;
      for (std::size_t k = 0; k < requests.size(); ++k) {
        int finished = 0;
        MPI_Test(&requests[k], &finished, MPI_STATUS_IGNORE);
        if (!finished && (silent.empty() || silent.back() != peer_of[k])) silent.push_back(peer_of[k]);
      }
      throw RankFailure(fmt::format("rank {} of {}: rank{} {} did not answer within {:g} s (exchange round {}): it "
                                    "stopped, hangs or fell behind",
                                    rank_, size_, silent.size() == 1 ? "" : "s", fmt::join(silent, ", "),
                                    timeout_seconds_, round_));
    }
  }

  int rank_ = 0, size_ = 1;
  double timeout_seconds_;
  uint64_t round_ = 0;
};

}  // namespace

std::unique_ptr<RankGroup> mpi_ranks_if_launched(double timeout_seconds) {
  if (!launched_by_mpirun()) return nullptr;
  if (!g_initialised) {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    // Errors come back as codes (and our own messages), not as MPI's abort.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    g_initialised = true;
  }
  return std::make_unique<MpiRankGroup>(timeout_seconds);
}

bool mpi_active() { return g_initialised; }

int mpi_rank() {
  int rank = 0;
  if (g_initialised) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int mpi_size() {
  int size = 1;
  if (g_initialised) MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

void mpi_abort_all(int exit_code) {
  if (g_initialised) MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::exit(exit_code);
}

void mpi_finish() {
  if (!g_initialised) return;
  MPI_Finalize();
  g_initialised = false;
}

}  // namespace spiketile::sim
