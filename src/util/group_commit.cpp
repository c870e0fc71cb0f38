#include "hpn/util/group_commit.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <iterator>
#include <map>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

#include "hpn/util/log.hpp"

namespace hpn::util {

GroupCommit::GroupCommit(std::chrono::milliseconds window, std::size_t max_pending, std::size_t min_syncfs_files)
    : window_(window), max_pending_(std::max<std::size_t>(1, max_pending)), min_syncfs_files_(min_syncfs_files) {}

GroupCommit::~GroupCommit() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GroupCommit::submit(PendingGroup group, Done done) {
  Status closed;
  for (auto& f : group.files) {
    // Start the writeback of a large file now: the round's sync then mostly waits
    // for I/O already under way. Only a hint; errors surface in the sync. Small
    // files are left to the round's one syncfs(), which writes them together more
    // cheaply than a writeback call each.
    // (What write() already started every k_writeback_step_bytes is not asked again.)
    if (f.native_handle() >= 0 && f.bytes_written() >= k_early_writeback_bytes && f.start_writeback()) {
      writeback_hints_.fetch_add(1, std::memory_order_relaxed);
    }
    if (auto st = f.close(); !st) {
      closed = st;
      break;
    }
  }
  if (!closed) {
    done(closed);  // the partials are removed with `group`
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    if (queue_.empty()) first_queued_ = std::chrono::steady_clock::now();
    queue_.push_back(Pending{std::move(group), std::move(done), {}});
  }
  wake_.notify_all();
}

void GroupCommit::drain() {
  std::unique_lock lock(mu_);
  if (queue_.empty() && !busy_) return;
  flush_ = true;
  wake_.notify_all();
  idle_.wait(lock, [&] { return queue_.empty() && !busy_; });
  flush_ = false;
}

Status GroupCommit::commit(PendingGroup group) {
  std::mutex m;
  std::condition_variable cv;
  std::optional<Status> result;
  submit(std::move(group), [&](Status st) {
    std::lock_guard lock(m);
    result = std::move(st);
    cv.notify_all();
  });
  drain();
  std::unique_lock lock(m);
  cv.wait(lock, [&] { return result.has_value(); });
  return *result;
}

std::uint64_t GroupCommit::rounds() const {
  std::lock_guard lock(mu_);
  return rounds_;
}

std::uint64_t GroupCommit::filesystem_syncs() const { return fs_syncs_.load(); }
std::uint64_t GroupCommit::writeback_hints() const { return writeback_hints_.load(); }

std::uint64_t GroupCommit::groups() const {
  std::lock_guard lock(mu_);
  return groups_;
}

void GroupCommit::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    // Gather a round until the window closes (or it is full, or we are told to
    // hurry), writing each group's small files as it arrives.
    const auto deadline = first_queued_ + window_;
    busy_ = true;
    std::vector<Pending> round;
    for (;;) {
      std::vector<Pending> arrived;
      arrived.swap(queue_);
      lock.unlock();
      for (auto& p : arrived) prepare(p);
      std::move(arrived.begin(), arrived.end(), std::back_inserter(round));
      lock.lock();
      if (round.size() >= max_pending_) break;
      if (stop_ || flush_) {
        if (queue_.empty()) break;
        continue;  // take the stragglers too
      }
      if (!wake_.wait_until(lock, deadline, [&] { return stop_ || flush_ || !queue_.empty(); })) break;
    }
    lock.unlock();
    process(round);
    lock.lock();
    busy_ = false;
    ++rounds_;
    groups_ += round.size();
    idle_.notify_all();
  }
}

void GroupCommit::prepare(Pending& p) {
  for (auto& [path, content] : p.group.small_files) {
    auto f = AtomicFile::create(path);
    if (!f) {
      p.result = f.error();
      break;
    }
    if (auto st = f->write(content); !st) {
      p.result = st;
      break;
    }
    if (auto st = f->close(); !st) {
      p.result = st;
      break;
    }
    p.group.files.push_back(std::move(*f));
  }
  p.group.small_files.clear();
}

namespace {

// Remove the files of a group that were already published.
void unpublish(FileGroup& files) {
  for (auto& f : files) {
    if (f.committed()) ::unlink(f.final_path().c_str());
  }
}

std::string directory_of(const AtomicFile& f) {
  const auto dir = f.part_path().parent_path();
  return dir.empty() ? "." : dir.string();
}

}  // namespace

void GroupCommit::process(std::vector<Pending>& round) {
  // A descriptor on each directory of the round, and the round's files per filesystem.
  std::map<std::string, std::pair<Fd, dev_t>> dirs;          // directory -> (descriptor, device)
  std::map<dev_t, std::pair<int, std::size_t>> filesystems;  // device -> (a descriptor, files)
  for (auto& p : round) {
    if (!p.result) continue;
    for (auto& f : p.group.files) {
      const std::string dir = directory_of(f);
      auto d = dirs.find(dir);
      if (d == dirs.end()) {
        Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        struct stat st {};
        if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
          p.result = errno_error(errno, "cannot open directory", dir);
          break;
        }
        filesystems.emplace(st.st_dev, std::make_pair(fd.get(), std::size_t{0}));
        d = dirs.emplace(dir, std::make_pair(std::move(fd), st.st_dev)).first;
      }
      ++filesystems[d->second.second].second;
    }
  }
  // Many files: one syncfs() of their filesystem. A few: fsync each, which spares
  // whatever else is dirty there (the daemon's staging files, other programs' data).
  std::map<dev_t, bool> synced;
  for (const auto& [dev, entry] : filesystems) {
    synced[dev] = false;
    if (entry.second < min_syncfs_files_) continue;
    synced[dev] = ::syncfs(entry.first) == 0;
    if (synced[dev]) {
      ++fs_syncs_;
    } else {
      hpn::log::get("util").warn("syncfs failed ({}); syncing each file on its own", std::strerror(errno));
    }
  }
  hpn::log::get("util").debug("group commit: {} groups on {} filesystems", round.size(), filesystems.size());
  for (auto& p : round) {
    for (auto& f : p.group.files) {
      if (!p.result) break;
      // Every directory of a group still in the running was opened above.
      if (!synced[dirs.at(directory_of(f)).second]) {
        if (auto st = f.sync(); !st) {
          p.result = st;
          break;
        }
      }
      if (auto st = f.publish(); !st) p.result = st;
    }
    if (!p.result) unpublish(p.group.files);
  }
  // The renames themselves: one directory sync each (a lost rename only leaves a .part).
  for (auto& [dir, entry] : dirs) {
    if (::fsync(entry.first.get()) != 0) {
      hpn::log::get("util").debug("fsync of directory {} failed: {}", dir, std::strerror(errno));
    }
  }
  for (auto& p : round) {
    p.group.files.clear();  // partials of a failed group are removed here
    p.done(p.result);
  }
}

}  // namespace hpn::util
