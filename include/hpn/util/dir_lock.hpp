// One writer per output directory: two hpn runs saving into the same directory
// (overlapping cron jobs) take turns instead of removing each other's partial files.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>

#include "hpn/util/fd.hpp"
#include "hpn/util/result.hpp"

namespace hpn::util {

// An exclusive flock(2) on DIR/.hpn.lock. The kernel drops the lock when its holder
// exits, however it exits (kill -9 included), so a dead run never blocks the next
// one. The file holds the holder's pid and what it does, for the waiting message.
// The holder removes the file when it releases the lock; a waiter that then finds the
// name gone or pointing at another file starts over on the new one.
class DirLock {
 public:
  // What the holder wrote: its pid and a description ("saving into DIR").
  struct Holder {
    pid_t pid = 0;
    std::string what;
    // "hpn (pid 123) saving into DIR"
    std::string describe() const;
  };

  struct Options {
    std::string what;   // written for others to read, e.g. "saving into ./images"
    bool wait = true;   // false: fail at once when another run holds the lock
    // Called once, when the lock is held by another run and this one starts to wait.
    std::function<void(const Holder&)> on_wait;
    // Waiting stops with ErrorKind::cancelled when this becomes true.
    const std::atomic<bool>* interrupt = nullptr;
  };

  // Lock `dir` (which must exist). Without `wait`, a lock held by another run is an
  // ErrorKind::conflict error whose message names the holder.
  static Result<DirLock> acquire(const std::filesystem::path& dir, const Options& options);

  DirLock(DirLock&&) noexcept = default;
  DirLock& operator=(DirLock&&) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;
  ~DirLock();

  const std::filesystem::path& path() const { return path_; }

 private:
  DirLock(Fd fd, std::filesystem::path path) : fd_(std::move(fd)), path_(std::move(path)) {}
  void release();

  Fd fd_;
  std::filesystem::path path_;
};

// Name of the lock file inside a locked directory.
inline constexpr const char* k_dir_lock_name = ".hpn.lock";

}  // namespace hpn::util
