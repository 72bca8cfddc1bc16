// Output files that appear whole or not at all, and never destroy what they should not (issue 19).
//
// The one rule every writer follows: bytes go to a temporary file in the target's folder, every
// write and the close are checked, and only commit() renames the temporary onto the target. A
// writer that fails, or is destroyed without commit(), leaves no partial file and the old target
// untouched. Errors throw std::runtime_error "cannot write PATH: <OS error>".
//
// What the target is decides how it is written:
//  * missing or a regular file: replaced by rename (mode kept, or the umask's default for a new one);
//  * a symlink: followed; the file it points to is replaced and the link stays;
//  * anything else that exists (a device such as /dev/null, a FIFO): written through, never replaced,
//    since replacing it would destroy it (and no rename can make a stream atomic anyway).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spiketile {

class OutputFile {
 public:
  // Creates the temporary (or opens a non-regular target): a missing folder fails here, before
  // any work is done for the file.
  explicit OutputFile(const std::string& path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // The path as the user gave it (for messages).
  const std::string& path() const { return path_; }
  // Where the bytes go until commit(), for a writer that must open the file by name itself
  // (SystemC's VCD writer). It ends with the target's file name, so its extension is kept.
  const std::string& writing_path() const { return writing_path_; }

  void write(const void* bytes, std::size_t count);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flushes and closes, checked: every write error has surfaced once this returns.
  void close();
  // Closes (if close() was not called) and renames the temporary onto the target.
  void commit();

 private:
  void write_all(const char* bytes, std::size_t count);
  void flush();
  [[noreturn]] void fail(int error) const;

  std::string path_;
  std::string target_;        // path_ with its symlinks resolved: what commit() replaces
  std::string writing_path_;  // the temporary, or path_ itself when written through
  bool written_through_ = false;
  bool closed_ = false;
  bool committed_ = false;
  int fd_ = -1;
  std::vector<char> buffer_;  // writers emit many small fields (the mapping format's integers)
};

// All of one command's outputs: each is written to its temporary, and none is committed until
// every one was written, so a failure in the last leaves none of them.
class OutputBatch {
 public:
  OutputFile& open(const std::string& path);
  // Takes a file another part wrote (the simulator's VCD) into the batch.
  void adopt(std::unique_ptr<OutputFile> file);
  void commit();

 private:
  std::vector<std::unique_ptr<OutputFile>> files_;
};

// Writes a whole file under the rule above.
void write_file(const std::string& path, std::string_view contents);

// Throws when `output` is the same file as one of `inputs` (same device and inode: another
// spelling or a hard link of the path counts), before anything is written: `compile -m X -o X`
// would otherwise replace the checkpoint it reads. A missing output, and empty paths, are fine.
void refuse_same_file(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace spiketile
