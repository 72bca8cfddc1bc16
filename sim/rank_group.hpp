// The processes one simulation runs in: MPI ranks, each simulating whole chips of the mapping
// (sim/README.md, "Runs over MPI ranks"). The simulator talks to the other ranks only through
// this interface, so it builds and runs without MPI; sim/mpi_rank_group.hpp is the MPI side.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace spiketile::sim {

// A rank that failed, stopped answering or was refused: the message names the rank and the cause.
class RankFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Bytes = std::vector<uint8_t>;

class RankGroup {
 public:
  virtual ~RankGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // One round with every other rank: parcels[r] goes to rank r; returns what each rank sent this
  // one (entry rank() empty). Throws RankFailure naming the ranks that did not answer in time.
  virtual std::vector<Bytes> exchange(const std::vector<Bytes>& parcels) = 0;

  // Every rank's bytes on rank 0 (index: rank); the other ranks get an empty list.
  std::vector<Bytes> gather(const Bytes& mine) {
    std::vector<Bytes> parcels(static_cast<std::size_t>(size()));
    if (rank() != 0) parcels[0] = mine;
    std::vector<Bytes> got = exchange(parcels);
    if (rank() != 0) return {};
    got[0] = mine;
    return got;
  }
  // Rank 0's bytes, on every rank.
  void broadcast(Bytes& bytes) {
    std::vector<Bytes> parcels(static_cast<std::size_t>(size()));
    if (rank() == 0)
      for (int r = 1; r < size(); ++r) parcels[std::size_t(r)] = bytes;
    std::vector<Bytes> got = exchange(parcels);
    if (rank() != 0) bytes = std::move(got[0]);
  }
};

// Plain values in and out of a parcel, in the layout of this build (every rank runs the same binary).
class ByteWriter {
 public:
  template <class T>
  void put(const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  template <class T>
  void put_all(const std::vector<T>& values) {
    put(uint64_t(values.size()));
    for (const T& v : values) put(v);
  }
  Bytes& bytes() { return bytes_; }

 private:
  Bytes bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(const Bytes& bytes) : bytes_(bytes) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    if (at_ + sizeof(T) > bytes_.size())
      throw RankFailure("a parcel from another rank ends early: the ranks run different builds or mappings");
    T value;
    std::memcpy(&value, bytes_.data() + at_, sizeof(T));
    at_ += sizeof(T);
    return value;
  }
  template <class T>
  std::vector<T> get_all() {
    std::vector<T> values(std::size_t(get<uint64_t>()));
    for (T& v : values) v = get<T>();
    return values;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  const Bytes& bytes_;
  std::size_t at_ = 0;
};

}  // namespace spiketile::sim
