#include "hpn/util/dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "hpn/util/file.hpp"

namespace hpn::util {
namespace {

DirLock::Holder read_holder(int fd) {
  DirLock::Holder h;
  char buf[1024];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return h;
  const std::string text(buf, static_cast<std::size_t>(n));
  const auto nl = text.find('\n');
  h.pid = static_cast<pid_t>(std::atoi(text.substr(0, nl).c_str()));
  if (nl != std::string::npos) {
    h.what = text.substr(nl + 1);
    while (!h.what.empty() && (h.what.back() == '\n' || h.what.back() == '\r')) h.what.pop_back();
  }
  return h;
}

// The descriptor still names the file at `path` (the holder before us may have
// removed it between our open and our flock).
bool still_current(int fd, const std::filesystem::path& path) {
  struct stat a {}, b {};
  return ::fstat(fd, &a) == 0 && ::stat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

std::string DirLock::Holder::describe() const {
  std::string s = "hpn";
  if (pid > 0) s += " (pid " + std::to_string(pid) + ")";
  if (!what.empty()) s += " " + what;
  return s;
}

Result<DirLock> DirLock::acquire(const std::filesystem::path& dir, const Options& o) {
  const std::filesystem::path path = dir / k_dir_lock_name;
  bool announced = false;
  for (;;) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd.valid()) return errno_error(errno, "cannot create lock file", path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      if (errno != EWOULDBLOCK) return errno_error(errno, "cannot lock", path);
      const Holder holder = read_holder(fd.get());
      if (!o.wait) {
        return Error(ErrorKind::conflict, holder.describe() + " is writing there; not waiting (--no-wait)");
      }
      if (!announced && o.on_wait) o.on_wait(holder);
      announced = true;
      // Poll rather than block, so that Ctrl-C stops the wait.
      while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) return errno_error(errno, "cannot lock", path);
        if (o.interrupt != nullptr && o.interrupt->load()) {
          return Error(ErrorKind::cancelled, "interrupted while waiting for " + holder.describe());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    if (!still_current(fd.get(), path)) continue;  // released and removed meanwhile: take the new one
    const std::string text = std::to_string(::getpid()) + "\n" + o.what + "\n";
    if (::ftruncate(fd.get(), 0) != 0 || ::pwrite(fd.get(), text.data(), text.size(), 0) < 0) {
      return errno_error(errno, "cannot write lock file", path);
    }
    return DirLock(std::move(fd), path);
  }
}

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = std::move(other.fd_);
    path_ = std::move(other.path_);
  }
  return *this;
}

DirLock::~DirLock() { release(); }

void DirLock::release() {
  if (!fd_.valid()) return;
  // Removed while still held, so that nobody locks a file that is about to vanish.
  ::unlink(path_.c_str());
  fd_.reset();
}

}  // namespace hpn::util
