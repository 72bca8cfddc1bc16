#include "models/output_file.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace spiketile {

namespace {
constexpr std::size_t kBufferBytes = std::size_t(1) << 20;

// The file a path names once its symlinks are followed, so that the link itself stays; a missing
// path is its own target, and a link to a missing file names that file.
std::string resolve_symlinks(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved)) return resolved;
  std::error_code not_a_link;
  const std::filesystem::path link = std::filesystem::read_symlink(path, not_a_link);
  if (not_a_link) return path;
  return (link.is_absolute() ? link : std::filesystem::path(path).parent_path() / link).string();
}

std::string folder_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string name_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// mkstemp creates 0600; a replaced file keeps its mode and a new one gets what open() would give.
// Reading the umask means setting it: the commands open their outputs from one thread.
mode_t mode_for_new_file() {
  const mode_t mask = ::umask(0);
  ::umask(mask);
  return 0666 & ~mask;
}
}  // namespace

OutputFile::OutputFile(const std::string& path) : path_(path), target_(resolve_symlinks(path)) {
  struct stat existing;
  const bool exists = ::stat(target_.c_str(), &existing) == 0;
  if (exists && !S_ISREG(existing.st_mode)) {
    written_through_ = true;
    writing_path_ = path_;
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) fail(errno);
    return;
  }
  // The random part comes first, so the temporary ends with the name the user gave (and its
  // extension), and the leading dot keeps it out of plain listings.
  const std::string suffix = "." + name_of(path_);
  std::string pattern = folder_of(target_) + "/.XXXXXX" + suffix;
  fd_ = ::mkstemps(pattern.data(), int(suffix.size()));
  if (fd_ < 0) fail(errno);
  writing_path_ = pattern;
  if (::fchmod(fd_, exists ? existing.st_mode & 07777 : mode_for_new_file()) != 0) {
    const int error = errno;
    ::close(fd_);   // the destructor does not run for a constructor that throws
    ::unlink(writing_path_.c_str());
    fail(error);
  }
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !written_through_ && !writing_path_.empty()) ::unlink(writing_path_.c_str());
}

void OutputFile::write(const void* bytes, std::size_t count) {
  if (buffer_.size() + count > kBufferBytes) flush();
  if (count >= kBufferBytes) return write_all(static_cast<const char*>(bytes), count);
  const char* first = static_cast<const char*>(bytes);
  buffer_.insert(buffer_.end(), first, first + count);
}

void OutputFile::close() {
  if (closed_) return;
  flush();
  closed_ = true;
  const int fd = fd_;
  fd_ = -1;
  // close() reports errors a network or quota-limited file system only finds at the end.
  if (::close(fd) != 0) fail(errno);
}

void OutputFile::commit() {
  if (committed_) throw std::logic_error(fmt::format("{} was committed twice", path_));
  close();
  if (!written_through_ && ::rename(writing_path_.c_str(), target_.c_str()) != 0) fail(errno);
  committed_ = true;
}

void OutputFile::write_all(const char* bytes, std::size_t count) {
  while (count > 0) {
    const ssize_t written = ::write(fd_, bytes, count);
    if (written < 0) {
      if (errno == EINTR) continue;
      fail(errno);
    }
    bytes += written;
    count -= std::size_t(written);
  }
}

void OutputFile::flush() {
  write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void OutputFile::fail(int error) const {
  throw std::runtime_error(fmt::format("cannot write {}: {}", path_, std::strerror(error)));
}

OutputFile& OutputBatch::open(const std::string& path) {
  files_.push_back(std::make_unique<OutputFile>(path));
  return *files_.back();
}

void OutputBatch::adopt(std::unique_ptr<OutputFile> file) { files_.push_back(std::move(file)); }

void OutputBatch::commit() {
  // Every write error surfaces at a close, so all are closed before the first rename.
  for (auto& file : files_) file->close();
  for (auto& file : files_) file->commit();
}

void write_file(const std::string& path, std::string_view contents) {
  OutputFile out(path);
  out.write(contents);
  out.commit();
}

void refuse_same_file(const std::string& output, const std::vector<std::string>& inputs) {
  struct stat out;
  // Only a regular file loses data: a device or FIFO may be both read and written (/dev/null).
  if (output.empty() || ::stat(output.c_str(), &out) != 0 || !S_ISREG(out.st_mode)) return;
  for (const std::string& input : inputs) {
    struct stat in;
    if (input.empty() || ::stat(input.c_str(), &in) != 0) continue;
    if (in.st_dev == out.st_dev && in.st_ino == out.st_ino)
      throw std::runtime_error(
          fmt::format("refusing to write {}: it is the input {}, which writing would destroy", output, input));
  }
}

}  // namespace spiketile
