#include "models/zip_archive.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

namespace spiketile {

namespace {

constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndOfCentralDirectorySignature = 0x06054b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr std::size_t kEndRecordSize = 22;
constexpr std::size_t kZip64EndRecordSize = 56;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kMaxCommentSize = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kZip64Sentinel32 = 0xFFFFFFFFu;
constexpr uint16_t kZip64Sentinel16 = 0xFFFFu;
// A torch checkpoint's central directory is ~100 bytes per tensor; this bounds what a corrupt
// size field can make us allocate.
constexpr uint64_t kMaxCentralDirectorySize = 256ull << 20;
// 256 KiB pieces: large enough that reads run at disk speed, small next to what a caller builds.
constexpr std::size_t kStreamChunk = 256u << 10;

uint16_t u16_at(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t u32_at(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t u64_at(const uint8_t* p) { return static_cast<uint64_t>(u32_at(p)) | (static_cast<uint64_t>(u32_at(p + 4)) << 32); }

const char* method_name(uint16_t method) {
  switch (method) {
    case 0: return "stored";
    case 8: return "deflate";
    case 9: return "deflate64";
    case 12: return "bzip2";
    case 14: return "lzma";
    case 93: return "zstd";
    case 95: return "xz";
    default: return "unknown";
  }
}

struct EndOfCentralDirectory {
  uint64_t record_offset = 0;            // where the (classic) end record starts
  uint64_t entry_count = 0;
  uint64_t directory_size = 0;
  uint64_t directory_offset = 0;
  uint64_t directory_limit = 0;          // the central directory must end before this offset
};

// Reads the zip64 end record through its locator, which sits right before the classic end record.
bool read_zip64_end(const checkpoint_io::RandomAccessFile& file, EndOfCentralDirectory& end) {
  if (end.record_offset < kZip64LocatorSize) return false;
  uint8_t locator[kZip64LocatorSize];
  const uint64_t locator_offset = end.record_offset - kZip64LocatorSize;
  file.read_exact(locator_offset, locator, sizeof locator, "zip64 end-of-central-directory locator");
  if (u32_at(locator) != kZip64LocatorSignature) return false;
  const std::string& path = file.path();
  if (u32_at(locator + 4) != 0 || u32_at(locator + 16) > 1) {
    throw CheckpointError(fmt::format("{}: multi-disk zip archives are not supported (zip64 locator names disk {} of {})",
                                      path, u32_at(locator + 4), u32_at(locator + 16)));
  }
  const uint64_t record_offset = u64_at(locator + 8);
  if (record_offset > locator_offset || locator_offset - record_offset < kZip64EndRecordSize) {
    throw CheckpointError(fmt::format(
        "{}: corrupt zip64 locator: end record at offset {} does not fit before the locator at offset {}", path,
        record_offset, locator_offset));
  }
  uint8_t record[kZip64EndRecordSize];
  file.read_exact(record_offset, record, sizeof record, "zip64 end-of-central-directory record");
  if (u32_at(record) != kZip64EndSignature) {
    throw CheckpointError(fmt::format("{}: corrupt zip64 end-of-central-directory record at offset {}: signature 0x{:08x}, expected 0x{:08x}",
                                      path, record_offset, u32_at(record), kZip64EndSignature));
  }
  if (u32_at(record + 16) != 0 || u32_at(record + 20) != 0 || u64_at(record + 24) != u64_at(record + 32)) {
    throw CheckpointError(fmt::format("{}: multi-disk zip archives are not supported (zip64 end record)", path));
  }
  end.entry_count = u64_at(record + 32);
  end.directory_size = u64_at(record + 40);
  end.directory_offset = u64_at(record + 48);
  end.directory_limit = record_offset;
  return true;
}

EndOfCentralDirectory find_end_of_central_directory(const checkpoint_io::RandomAccessFile& file) {
  const std::string& path = file.path();
  const uint64_t size = file.size();
  if (size < kEndRecordSize) {
    throw CheckpointError(fmt::format("{}: {} bytes is too small to be a zip archive (need at least {} for the end record; file truncated?)",
                                      path, size, kEndRecordSize));
  }
  const uint64_t tail_size = std::min<uint64_t>(size, kEndRecordSize + kMaxCommentSize);
  std::vector<uint8_t> tail(static_cast<std::size_t>(tail_size));
  const uint64_t tail_offset = size - tail_size;
  file.read_exact(tail_offset, tail.data(), tail.size(), "end of the zip archive");

  // The end record is the last one whose comment reaches exactly to the end of the file; a
  // truncated file has none.
  for (std::size_t pos = tail.size() - kEndRecordSize + 1; pos-- > 0;) {
    const uint8_t* record = tail.data() + pos;
    if (u32_at(record) != kEndOfCentralDirectorySignature) continue;
    if (pos + kEndRecordSize + u16_at(record + 20) != tail.size()) continue;

    EndOfCentralDirectory end;
    end.record_offset = tail_offset + pos;
    const uint16_t disk = u16_at(record + 4);
    const uint16_t directory_disk = u16_at(record + 6);
    const uint16_t entries_here = u16_at(record + 8);
    const uint16_t entries_total = u16_at(record + 10);
    end.entry_count = entries_total;
    end.directory_size = u32_at(record + 12);
    end.directory_offset = u32_at(record + 16);
    end.directory_limit = end.record_offset;
    if (!read_zip64_end(file, end)) {
      if (disk != 0 || directory_disk != 0 || entries_here != entries_total) {
        throw CheckpointError(fmt::format("{}: multi-disk zip archives are not supported (end record names disk {})",
                                          path, disk));
      }
      if (entries_total == kZip64Sentinel16 || end.directory_size == kZip64Sentinel32 ||
          end.directory_offset == kZip64Sentinel32) {
        throw CheckpointError(fmt::format("{}: the end record defers to a zip64 record, but no zip64 locator precedes it", path));
      }
    }
    return end;
  }
  throw CheckpointError(fmt::format(
      "{}: not a complete zip archive: no end-of-central-directory record in the last {} bytes (file truncated?)", path,
      tail_size));
}

// Replaces 0xFFFFFFFF size/offset fields with the 64-bit values of the zip64 extra field, which
// holds only the fields whose 32-bit slot is the sentinel, in this fixed order.
void apply_zip64_extra(const std::string& path, ZipEntry& entry, const uint8_t* extra, std::size_t extra_size,
                       bool size_deferred, bool compressed_deferred, bool offset_deferred) {
  if (!size_deferred && !compressed_deferred && !offset_deferred) return;
  std::size_t pos = 0;
  while (pos + 4 <= extra_size) {
    const uint16_t id = u16_at(extra + pos);
    const uint16_t length = u16_at(extra + pos + 2);
    if (pos + 4 + length > extra_size) break;
    if (id == kZip64ExtraId) {
      const uint8_t* field = extra + pos + 4;
      std::size_t used = 0;
      auto take = [&](uint64_t& target) {
        if (used + 8 > length) {
          throw CheckpointError(fmt::format("{}: entry '{}': zip64 extra field is too short ({} bytes)", path,
                                            entry.name, length));
        }
        target = u64_at(field + used);
        used += 8;
      };
      if (size_deferred) take(entry.size);
      if (compressed_deferred) take(entry.compressed_size);
      if (offset_deferred) take(entry.local_header_offset);
      return;
    }
    pos += 4 + static_cast<std::size_t>(length);
  }
  throw CheckpointError(fmt::format(
      "{}: entry '{}': central directory defers sizes/offset to a zip64 extra field, but there is none", path,
      entry.name));
}

}  // namespace

ZipArchive::ZipArchive(const std::string& path) : file_(path) { read_central_directory(); }

void ZipArchive::read_central_directory() {
  const std::string& zip_path = path();
  const EndOfCentralDirectory end = find_end_of_central_directory(file_);
  if (end.directory_offset > end.directory_limit || end.directory_size > end.directory_limit - end.directory_offset) {
    throw CheckpointError(fmt::format(
        "{}: central directory at offset {} ({} bytes) extends past the end record at offset {} (file truncated or corrupt)",
        zip_path, end.directory_offset, end.directory_size, end.directory_limit));
  }
  if (end.directory_size > kMaxCentralDirectorySize) {
    throw CheckpointError(fmt::format("{}: central directory of {} bytes is implausibly large (limit {})", zip_path,
                                      end.directory_size, kMaxCentralDirectorySize));
  }
  if (end.entry_count > end.directory_size / kCentralHeaderSize) {
    throw CheckpointError(fmt::format("{}: end record declares {} entries, but the central directory holds only {} bytes",
                                      zip_path, end.entry_count, end.directory_size));
  }
  std::vector<uint8_t> directory(static_cast<std::size_t>(end.directory_size));
  file_.read_exact(end.directory_offset, directory.data(), directory.size(), "central directory");

  std::size_t pos = 0;
  entries_.reserve(static_cast<std::size_t>(end.entry_count));
  for (uint64_t i = 0; i < end.entry_count; ++i) {
    if (directory.size() - pos < kCentralHeaderSize || u32_at(directory.data() + pos) != kCentralHeaderSignature) {
      throw CheckpointError(fmt::format("{}: corrupt central directory: entry {} of {} at directory offset {} has no valid header",
                                        zip_path, i, end.entry_count, pos));
    }
    const uint8_t* header = directory.data() + pos;
    const std::size_t name_size = u16_at(header + 28);
    const std::size_t extra_size = u16_at(header + 30);
    const std::size_t comment_size = u16_at(header + 32);
    const std::size_t record_size = kCentralHeaderSize + name_size + extra_size + comment_size;
    if (directory.size() - pos < record_size) {
      throw CheckpointError(fmt::format("{}: corrupt central directory: entry {} of {} runs past the directory's end",
                                        zip_path, i, end.entry_count));
    }
    ZipEntry entry;
    entry.name.assign(reinterpret_cast<const char*>(header + kCentralHeaderSize), name_size);
    entry.flags = u16_at(header + 8);
    entry.method = u16_at(header + 10);
    entry.crc32 = u32_at(header + 16);
    entry.compressed_size = u32_at(header + 20);
    entry.size = u32_at(header + 24);
    entry.local_header_offset = u32_at(header + 42);
    if (u16_at(header + 34) != 0 && u16_at(header + 34) != kZip64Sentinel16) {
      throw CheckpointError(fmt::format("{}: entry '{}' starts on disk {}; multi-disk archives are not supported",
                                        zip_path, entry.name, u16_at(header + 34)));
    }
    apply_zip64_extra(zip_path, entry, header + kCentralHeaderSize + name_size, extra_size,
                      entry.size == kZip64Sentinel32, entry.compressed_size == kZip64Sentinel32,
                      entry.local_header_offset == kZip64Sentinel32);
    if (entry.name.empty()) throw CheckpointError(fmt::format("{}: central directory entry {} has an empty name", zip_path, i));
    if (entry.flags & 0x1) {
      throw CheckpointError(fmt::format("{}: entry '{}' is encrypted; encrypted archives are not supported", zip_path, entry.name));
    }
    resolve_local_header(entry, end.directory_offset);
    if (!index_by_name_.emplace(entry.name, entries_.size()).second) {
      throw CheckpointError(fmt::format("{}: entry '{}' appears twice in the central directory", zip_path, entry.name));
    }
    entries_.push_back(std::move(entry));
    pos += record_size;
  }
}

void ZipArchive::resolve_local_header(ZipEntry& entry, uint64_t central_directory_offset) const {
  const std::string& zip_path = path();
  if (entry.local_header_offset > central_directory_offset ||
      central_directory_offset - entry.local_header_offset < kLocalHeaderSize) {
    throw CheckpointError(fmt::format("{}: entry '{}': local header offset {} is not before the central directory (offset {})",
                                      zip_path, entry.name, entry.local_header_offset, central_directory_offset));
  }
  uint8_t header[kLocalHeaderSize];
  file_.read_exact(entry.local_header_offset, header, sizeof header, fmt::format("local header of '{}'", entry.name));
  if (u32_at(header) != kLocalHeaderSignature) {
    throw CheckpointError(fmt::format("{}: entry '{}': no local header at offset {} (signature 0x{:08x}, expected 0x{:08x})",
                                      zip_path, entry.name, entry.local_header_offset, u32_at(header), kLocalHeaderSignature));
  }
  const uint16_t flags = u16_at(header + 6);
  const uint16_t method = u16_at(header + 8);
  const std::size_t name_size = u16_at(header + 26);
  const std::size_t extra_size = u16_at(header + 28);
  if (method != entry.method) {
    throw CheckpointError(fmt::format("{}: entry '{}': local header says compression method {}, central directory says {}",
                                      zip_path, entry.name, method, entry.method));
  }
  std::string local_name(name_size, '\0');
  file_.read_exact(entry.local_header_offset + kLocalHeaderSize, local_name.data(), name_size,
                   fmt::format("local header name of '{}'", entry.name));
  if (local_name != entry.name) {
    throw CheckpointError(fmt::format("{}: entry '{}': local header names it '{}'", zip_path, entry.name, local_name));
  }
  // Without a data descriptor (flag bit 3) the local header repeats CRC and sizes; they must agree.
  const bool has_data_descriptor = (flags & 0x8) != 0;
  const uint32_t local_crc = u32_at(header + 14);
  const uint32_t local_compressed = u32_at(header + 18);
  const uint32_t local_size = u32_at(header + 22);
  if (!has_data_descriptor && local_compressed != kZip64Sentinel32 && local_size != kZip64Sentinel32 &&
      (local_crc != entry.crc32 || local_compressed != entry.compressed_size || local_size != entry.size)) {
    throw CheckpointError(fmt::format(
        "{}: entry '{}': local header (crc 0x{:08x}, {} bytes) disagrees with the central directory (crc 0x{:08x}, {} bytes)",
        zip_path, entry.name, local_crc, local_size, entry.crc32, entry.size));
  }
  entry.data_offset = entry.local_header_offset + kLocalHeaderSize + name_size + extra_size;
  if (entry.data_offset > central_directory_offset || entry.compressed_size > central_directory_offset - entry.data_offset) {
    throw CheckpointError(fmt::format(
        "{}: entry '{}': data at offset {} ({} bytes) extends into the central directory at offset {} (file truncated or corrupt)",
        zip_path, entry.name, entry.data_offset, entry.compressed_size, central_directory_offset));
  }
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  const auto it = index_by_name_.find(name);
  return it == index_by_name_.end() ? nullptr : &entries_[it->second];
}

void ZipArchive::require_stored(const ZipEntry& entry, const std::string& subject) const {
  const std::string prefix = subject.empty() ? path() : fmt::format("{}: {}", path(), subject);
  if (entry.method != 0) {
    throw CheckpointError(fmt::format(
        "{}: entry '{}' is compressed (method {}, {}); expected STORED (method 0) as torch.save writes it. "
        "Re-save the checkpoint with torch.save instead of re-zipping it",
        prefix, entry.name, entry.method, method_name(entry.method)));
  }
  if (entry.compressed_size != entry.size) {
    throw CheckpointError(fmt::format("{}: STORED entry '{}' has compressed size {} but size {}", prefix, entry.name,
                                      entry.compressed_size, entry.size));
  }
}

std::string ZipArchive::read_entry(const ZipEntry& entry, uint64_t max_size) const {
  require_stored(entry, "");
  if (entry.size > max_size) {
    throw CheckpointError(fmt::format("{}: entry '{}' holds {} bytes, more than the {} expected", path(), entry.name,
                                      entry.size, max_size));
  }
  std::string bytes(static_cast<std::size_t>(entry.size), '\0');
  file_.read_exact(entry.data_offset, bytes.data(), bytes.size(), fmt::format("entry '{}'", entry.name));
  const uint32_t crc = checkpoint_io::crc32(bytes.data(), bytes.size());
  if (crc != entry.crc32) {
    throw CheckpointError(fmt::format("{}: entry '{}' is corrupt: CRC-32 is 0x{:08x}, the central directory expects 0x{:08x}",
                                      path(), entry.name, crc, entry.crc32));
  }
  return bytes;
}

void ZipArchive::stream_entry(const ZipEntry& entry, uint64_t begin, uint64_t end, bool verify_crc,
                              const ChunkSink& sink, const std::string& subject) const {
  require_stored(entry, subject);
  const std::string prefix = subject.empty() ? path() : fmt::format("{}: {}", path(), subject);
  if (begin > end || end > entry.size) {
    throw CheckpointError(fmt::format("{}: byte range [{}, {}) is outside entry '{}' ({} bytes)", prefix, begin, end,
                                      entry.name, entry.size));
  }
  const uint64_t read_begin = verify_crc ? 0 : begin;
  const uint64_t read_end = verify_crc ? entry.size : end;
  if (read_begin == read_end && !verify_crc) return;
  std::vector<uint8_t> buffer(static_cast<std::size_t>(std::min<uint64_t>(kStreamChunk, read_end - read_begin)));
  checkpoint_io::Crc32 crc;
  const std::string what = fmt::format("entry '{}'", entry.name);
  for (uint64_t pos = read_begin; pos < read_end;) {
    const std::size_t length =
        static_cast<std::size_t>(std::min<uint64_t>(kStreamChunk - pos % kStreamChunk, read_end - pos));
    file_.read_exact(entry.data_offset + pos, buffer.data(), length, what);
    if (verify_crc) crc.update(buffer.data(), length);
    const uint64_t piece_begin = std::max(pos, begin);
    const uint64_t piece_end = std::min<uint64_t>(pos + length, end);
    if (piece_begin < piece_end) {
      sink(buffer.data() + (piece_begin - pos), static_cast<std::size_t>(piece_end - piece_begin), piece_begin);
    }
    pos += length;
  }
  if (verify_crc && crc.value() != entry.crc32) {
    throw CheckpointError(fmt::format("{}: entry '{}' is corrupt: CRC-32 is 0x{:08x}, the central directory expects 0x{:08x}",
                                      prefix, entry.name, crc.value(), entry.crc32));
  }
}

}  // namespace spiketile
