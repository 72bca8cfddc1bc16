// Read-only access to the zip archives written by torch.save: STORED (uncompressed) entries,
// optional zip64 records, data descriptors. Opening validates the end-of-central-directory
// record, the central directory and every local header against the file size; reading checks
// CRC-32. Entry data is streamed by offset, never loaded as a whole file.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "models/checkpoint_io.hpp"

namespace spiketile {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;          // 0 = STORED, 8 = deflate, ...
  uint16_t flags = 0;
  uint32_t crc32 = 0;           // from the central directory
  uint64_t compressed_size = 0;
  uint64_t size = 0;            // uncompressed size
  uint64_t local_header_offset = 0;
  uint64_t data_offset = 0;     // first byte of the entry's data, resolved from its local header
};

class ZipArchive {
 public:
  explicit ZipArchive(const std::string& path);   // throws CheckpointError

  const std::string& path() const { return file_.path(); }
  uint64_t file_size() const { return file_.size(); }
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;

  // The whole entry in memory, CRC-checked. Only for small entries (the pickle, version files):
  // larger than `max_size` is an error.
  std::string read_entry(const ZipEntry& entry, uint64_t max_size) const;

  // Receives consecutive pieces of an entry; `entry_offset` is the position of bytes[0] in the entry.
  using ChunkSink = std::function<void(const uint8_t* bytes, std::size_t length, uint64_t entry_offset)>;
  // Streams bytes [begin, end) of a STORED entry to `sink`. Every piece starts at `begin` or at a
  // multiple of the (8-aligned) chunk size, so no element is split when `begin` and `end` are
  // element-aligned. With `verify_crc`, reads the whole entry (passing only [begin, end) on) and
  // throws if its CRC-32 differs from the central directory. `subject` prefixes error messages,
  // e.g. "tensor 'emb.weight'".
  void stream_entry(const ZipEntry& entry, uint64_t begin, uint64_t end, bool verify_crc, const ChunkSink& sink,
                    const std::string& subject = "") const;

 private:
  void read_central_directory();
  void resolve_local_header(ZipEntry& entry, uint64_t central_directory_offset) const;
  void require_stored(const ZipEntry& entry, const std::string& subject) const;

  checkpoint_io::RandomAccessFile file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, std::size_t> index_by_name_;
};

}  // namespace spiketile
