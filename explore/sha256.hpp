// SHA-256 (FIPS 180-4), the content hash that names a sweep point's cache folder: a collision
// would hand one point another's results, so the hash is a cryptographic one, not a quick checksum.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace spiketile::explore {

class Sha256 {
 public:
  Sha256();
  void update(const void* bytes, std::size_t count);
  void update(std::string_view text) { update(text.data(), text.size()); }
  // The digest as 64 lowercase hex digits; the object is spent afterwards.
  std::string hex();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  uint64_t length_ = 0;
};

std::string sha256_hex(std::string_view bytes);
// The hash of a file's bytes, read in blocks (a checkpoint may be large); an error names the file.
std::string sha256_file(const std::string& path);

}  // namespace spiketile::explore
