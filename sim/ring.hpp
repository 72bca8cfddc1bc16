// A FIFO on one growable power-of-two array: router buffers and credit queues push and pop on every
// hop, and std::deque's chunk allocation and release on that path showed up in profiles.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace spiketile::sim {

template <class T>
class Ring {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  T& front() { return slots_[head_]; }
  const T& front() const { return slots_[head_]; }
  T& operator[](std::size_t i) { return slots_[(head_ + i) & mask_]; }
  const T& operator[](std::size_t i) const { return slots_[(head_ + i) & mask_]; }

  void push_back(T value) {
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) & mask_] = std::move(value);
    ++size_;
  }
  void pop_front() {
    head_ = (head_ + 1) & mask_;
    --size_;
  }
  // Inserts keeping the ring sorted by `before` (new elements usually belong at the back).
  template <class Before>
  void insert_sorted(T value, Before before) {
    push_back(std::move(value));
    for (std::size_t i = size_ - 1; i > 0 && before((*this)[i], (*this)[i - 1]); --i) std::swap((*this)[i], (*this)[i - 1]);
  }

 private:
  void grow() {
    std::vector<T> bigger(slots_.empty() ? 4 : 2 * slots_.size());
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move((*this)[i]);
    slots_ = std::move(bigger);
    head_ = 0;
    mask_ = slots_.size() - 1;
  }
  std::vector<T> slots_;
  std::size_t head_ = 0, size_ = 0, mask_ = 0;
};

}  // namespace spiketile::sim
