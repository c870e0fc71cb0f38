// Local file helpers: an atomically committed output file and a streaming reader.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <sys/types.h>

#include "hpn/util/fd.hpp"
#include "hpn/util/result.hpp"

namespace hpn::util {

// Error for a failed system call on `path`: ErrorKind::no_space for ENOSPC and EDQUOT,
// ErrorKind::io for everything else (a missing file included: it is a local I/O
// failure, never an image that is not found).
Error errno_error(int err, std::string_view what, const std::filesystem::path& path);

// Writes to `<final>.part`; only commit() (fsync + rename) gives the data its final
// name. Destroying an uncommitted file removes the partial: a failed or interrupted
// write never leaves a file with the final name.
class AtomicFile {
 public:
  // Every this many bytes, write() starts the writeback of what it wrote since the
  // last time (start_writeback(): a hint, the sync at the end then waits for little).
  static constexpr std::uint64_t k_writeback_step_bytes = 8u << 20;

  static Result<AtomicFile> create(const std::filesystem::path& final_path, mode_t mode = 0600);

  AtomicFile(AtomicFile&&) noexcept = default;
  AtomicFile& operator=(AtomicFile&&) noexcept;
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  Status write(std::string_view data);
  // Start the asynchronous writeback of what was written since the last start (up to
  // the end of the file). Only a hint: errors surface in the sync. False when there
  // was nothing new to start.
  bool start_writeback();
  // fsync, close and rename: the data is on disk before it has its final name.
  Status commit();
  // Close the descriptor (the .part file stays until publish() or discard()).
  Status close();
  // Make the data durable: fsync (reopening the .part file if closed).
  Status sync();
  // Close and rename to the final name, without syncing: only after sync() or
  // after a syncfs() of the file's filesystem (GroupCommit does that).
  Status publish();
  // Remove the partial file now (also done by the destructor).
  void discard();

  const std::filesystem::path& final_path() const { return final_; }
  const std::filesystem::path& part_path() const { return part_; }
  std::uint64_t bytes_written() const { return written_; }
  // How many times writeback was started (by write(), one per k_writeback_step_bytes,
  // and by start_writeback()).
  std::uint32_t writeback_hints() const { return writeback_hints_; }
  bool committed() const { return committed_; }
  int native_handle() const { return fd_.get(); }

 private:
  AtomicFile(Fd fd, std::filesystem::path final_path, std::filesystem::path part_path)
      : fd_(std::move(fd)), final_(std::move(final_path)), part_(std::move(part_path)) {}

  Fd fd_;
  std::filesystem::path final_;
  std::filesystem::path part_;
  std::uint64_t written_ = 0;
  std::uint64_t writeback_started_ = 0;
  std::uint32_t writeback_hints_ = 0;
  bool committed_ = false;
};

// Sequential reader over a file descriptor.
class FileReader {
 public:
  static Result<FileReader> open(const std::filesystem::path& path);
  // Returns bytes read into `buf`, 0 at end of file.
  Result<std::size_t> read(std::span<char> buf);
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  FileReader(Fd fd, std::filesystem::path path, std::uint64_t size)
      : fd_(std::move(fd)), path_(std::move(path)), size_(size) {}
  Fd fd_;
  std::filesystem::path path_;
  std::uint64_t size_ = 0;
};

// Read a whole small file (config files, metadata); refuses files over `limit` bytes.
Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t limit = 4 << 20);

}  // namespace hpn::util
