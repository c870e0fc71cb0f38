// Group commit: finished files made durable by one syncfs() per filesystem for
// many of them, instead of one fsync() each.
//
// Saving many small images spent much of its local time in fsync: each call
// writes one file's data, its inode and its directory block synchronously, twice
// per image (archive and sidecar). GroupCommit takes finished .part files from the
// workers without making them wait, gathers what arrives within a short window,
// syncs them (one syncfs() per filesystem when there are many, fsync each when
// there are few), and only then renames the files: a file still gets its final
// name only after its data is on disk.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hpn/util/file.hpp"
#include "hpn/util/result.hpp"

namespace hpn::util {

// Files that belong together (an archive, then its sidecar): published in order,
// all or nothing (a failure removes the ones of the group already published).
using FileGroup = std::vector<AtomicFile>;

// A group as handed to GroupCommit: files the caller wrote, and small files
// (final path, content) that the commit thread writes itself, published after
// `files`. A sidecar goes there: writing it is then off the worker's path.
struct PendingGroup {
  FileGroup files;
  std::vector<std::pair<std::filesystem::path, std::string>> small_files;
};

class GroupCommit {
 public:
  using Done = std::function<void(Status)>;

  // `window`: how long the first queued group waits for company before the sync.
  // `max_pending`: queued groups that trigger the sync at once.
  // `min_syncfs_files`: a round with at least this many files on one filesystem
  // syncs it with one syncfs(); fewer are fsynced one by one (a syncfs also flushes
  // everything else dirty there, so fsync is the cheaper of the two for a few large
  // archives, syncfs by far for many small ones).
  explicit GroupCommit(std::chrono::milliseconds window = std::chrono::milliseconds(50),
                       std::size_t max_pending = 64, std::size_t min_syncfs_files = 8);
  ~GroupCommit();  // commits what is queued
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queue a group (descriptors are closed here). `done` runs on the commit thread
  // once its files have their final names, or with the error that stopped them.
  // If syncfs() fails, each file of that round is fsynced on its own so that the
  // error lands on the file it belongs to.
  void submit(PendingGroup group, Done done);
  // Commit everything queued now and wait until every `done` has run.
  void drain();
  // submit() and wait for this group alone.
  Status commit(PendingGroup group);

  std::uint64_t rounds() const;            // rounds committed so far
  std::uint64_t filesystem_syncs() const;  // syncfs() calls so far
  std::uint64_t groups() const;  // groups committed or failed so far
  std::uint64_t writeback_hints() const;  // files whose writeback started at submit

  // Files of at least this size start their writeback when submitted.
  static constexpr std::uint64_t k_early_writeback_bytes = 4u << 20;

 private:
  struct Pending {
    PendingGroup group;
    Done done;
    Status result;  // the first failure of this group (small files, sync, rename)
  };
  void run();
  void prepare(Pending& p);
  void process(std::vector<Pending>& round);

  const std::chrono::milliseconds window_;
  const std::size_t max_pending_;
  const std::size_t min_syncfs_files_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::vector<Pending> queue_;
  std::chrono::steady_clock::time_point first_queued_{};
  bool busy_ = false;
  bool flush_ = false;
  bool stop_ = false;
  std::uint64_t rounds_ = 0;
  std::atomic<std::uint64_t> fs_syncs_{0};
  std::atomic<std::uint64_t> writeback_hints_{0};
  std::uint64_t groups_ = 0;
  std::thread thread_;
};

}  // namespace hpn::util
