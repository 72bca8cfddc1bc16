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

  // One message to and from every other rank: each parcel is sent as it is (an empty one too) and
  // received as it comes, sized by probing, so a window costs one message latency.
  std::vector<Bytes> exchange(const std::vector<Bytes>& parcels) override {
    std::vector<Bytes> got(static_cast<std::size_t>(size_));
    if (size_ == 1) return got;
    ++round_;
    std::vector<MPI_Request> sends;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      const Bytes& out = parcels[std::size_t(r)];
      sends.emplace_back();
      MPI_Isend(out.data(), count(out.size()), MPI_BYTE, r, kTag, MPI_COMM_WORLD, &sends.back());
    }
    std::vector<char> received(std::size_t(size_), 0);
    received[std::size_t(rank_)] = 1;
    int pending = size_ - 1;
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t polls = 0; pending > 0; ++polls) {
      for (int r = 0; r < size_; ++r) {
        if (received[std::size_t(r)]) continue;
        int found = 0;
        MPI_Message message;
        MPI_Status status;
        MPI_Improbe(r, kTag, MPI_COMM_WORLD, &found, &message, &status);
        if (!found) continue;
        int bytes = 0;
        MPI_Get_count(&status, MPI_BYTE, &bytes);
        got[std::size_t(r)].resize(std::size_t(bytes));
        MPI_Mrecv(got[std::size_t(r)].data(), bytes, MPI_BYTE, &message, MPI_STATUS_IGNORE);
        received[std::size_t(r)] = 1;
        --pending;
      }
      if (pending == 0) break;
      sched_yield();  // ranks may share cores
      if (polls % 256 == 255) give_up_if_late(start, received);
    }
    for (uint64_t polls = 0;; ++polls) {
      int done = 0;
      MPI_Testall(int(sends.size()), sends.data(), &done, MPI_STATUSES_IGNORE);
      if (done) break;
      sched_yield();
      if (polls % 256 == 255) give_up_if_late(start, received);
    }
    return got;
  }

 private:
  static constexpr int kTag = 1;

  static int count(std::size_t bytes) {
    if (bytes > std::size_t(std::numeric_limits<int>::max()))
      throw RankFailure(fmt::format("a parcel of {} bytes for another rank is larger than one MPI message takes", bytes));
    return int(bytes);
  }

  // Names the ranks still owing this round once the timeout has passed (a send that does not
  // complete waits on a rank that stopped receiving: it is named by the others' rounds).
  void give_up_if_late(std::chrono::steady_clock::time_point start, const std::vector<char>& received) const {
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited < timeout_seconds_) return;
    std::vector<int> silent;
    for (int r = 0; r < size_; ++r)
      if (!received[std::size_t(r)]) silent.push_back(r);
    throw RankFailure(fmt::format("rank {} of {}: rank{} {} did not answer within {:g} s (exchange round {}): it "
                                  "stopped, hangs or fell behind",
                                  rank_, size_, silent.size() == 1 ? "" : "s", fmt::join(silent, ", "), timeout_seconds_,
                                  round_));
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
