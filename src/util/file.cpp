#include "hpn/util/file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hpn::util {

void Fd::reset(int fd) {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  fd_ = fd;
}

Error errno_error(int err, std::string_view what, const std::filesystem::path& path) {
  ErrorKind kind = ErrorKind::io;
  std::string msg;
  if (err == ENOSPC || err == EDQUOT) {
    kind = ErrorKind::no_space;
    msg = "no space left on " + path.string();
    msg += " (";
    msg += what;
    msg += ")";
    return {kind, msg};
  }
  msg = std::string(what) + " " + path.string() + ": " + std::strerror(err);
  return {kind, msg};
}

Result<AtomicFile> AtomicFile::create(const std::filesystem::path& final_path, mode_t mode) {
  std::filesystem::path part = final_path;
  part += ".part";
  // O_EXCL on a fresh name: a stale .part from a crashed run is replaced, never
  // appended to. (Unlinking only when one exists: an unlink locks the directory.)
  int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0 && errno == EEXIST) {
    ::unlink(part.c_str());
    fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  }
  if (fd < 0) {
    return errno_error(errno, "cannot create", part);
  }
  return AtomicFile(Fd(fd), final_path, part);
}

AtomicFile& AtomicFile::operator=(AtomicFile&& other) noexcept {
  if (this != &other) {
    discard();
    fd_ = std::move(other.fd_);
    final_ = std::move(other.final_);
    part_ = std::move(other.part_);
    written_ = other.written_;
    writeback_started_ = other.writeback_started_;
    writeback_hints_ = other.writeback_hints_;
    committed_ = std::exchange(other.committed_, true);
  }
  return *this;
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() {
  if (!committed_ && !part_.empty()) {
    fd_.reset();
    ::unlink(part_.c_str());
    committed_ = true;  // nothing left to clean up
  }
}

Status AtomicFile::write(std::string_view data) {
  if (!fd_.valid()) {
    return Error(ErrorKind::io, "write to closed file " + part_.string());
  }
  while (!data.empty()) {
    ssize_t n = ::write(fd_.get(), data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(errno, "cannot write", part_);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
    written_ += static_cast<std::uint64_t>(n);
  }
  if (written_ - writeback_started_ >= k_writeback_step_bytes) start_writeback();
  return {};
}

bool AtomicFile::start_writeback() {
  if (!fd_.valid() || written_ == writeback_started_) return false;
  // nbytes 0: from the offset to the end of the file.
  ::sync_file_range(fd_.get(), static_cast<off_t>(writeback_started_), 0, SYNC_FILE_RANGE_WRITE);
  writeback_started_ = written_;
  ++writeback_hints_;
  return true;
}

Status AtomicFile::commit() {
  if (auto st = sync(); !st) {
    return st;
  }
  return publish();
}

Status AtomicFile::close() {
  if (fd_.valid() && ::close(fd_.release()) != 0) {
    return errno_error(errno, "cannot close", part_);
  }
  return {};
}

Status AtomicFile::sync() {
  if (committed_) {
    return Error(ErrorKind::io, "sync of committed file " + final_.string());
  }
  Fd reopened;
  int fd = fd_.get();
  if (fd < 0) {
    // fsync through a read-only descriptor flushes the same inode.
    reopened.reset(::open(part_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!reopened.valid()) {
      return errno_error(errno, "cannot open", part_);
    }
    fd = reopened.get();
  }
  if (::fsync(fd) != 0) {
    return errno_error(errno, "cannot sync", part_);
  }
  return {};
}

Status AtomicFile::publish() {
  if (committed_) {
    return Error(ErrorKind::io, "commit of committed file " + final_.string());
  }
  if (auto st = close(); !st) {
    return st;
  }
  if (::rename(part_.c_str(), final_.c_str()) != 0) {
    return errno_error(errno, "cannot rename to " + final_.string() + " from", part_);
  }
  committed_ = true;
  return {};
}

Result<FileReader> FileReader::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return errno_error(errno, "cannot open", path);
  }
  Fd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return errno_error(errno, "cannot stat", path);
  }
  if (S_ISDIR(st.st_mode)) {
    return Error(ErrorKind::invalid_argument, path.string() + " is a directory, not a file");
  }
  return FileReader(std::move(owned), path, static_cast<std::uint64_t>(st.st_size));
}

Result<std::size_t> FileReader::read(std::span<char> buf) {
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf.data(), buf.size());
    if (n >= 0) {
      return static_cast<std::size_t>(n);
    }
    if (errno != EINTR) {
      return errno_error(errno, "cannot read", path_);
    }
  }
}

Result<std::string> read_small_file(const std::filesystem::path& path, std::size_t limit) {
  auto reader = FileReader::open(path);
  if (!reader) {
    return reader.error();
  }
  if (reader->size() > limit) {
    return Error(ErrorKind::invalid_argument,
                 path.string() + " is too large (" + std::to_string(reader->size()) + " bytes)");
  }
  std::string out;
  char buf[8192];
  for (;;) {
    auto n = reader->read(buf);
    if (!n) {
      return n.error();
    }
    if (*n == 0) {
      break;
    }
    out.append(buf, *n);
    if (out.size() > limit) {
      return Error(ErrorKind::invalid_argument, path.string() + " is too large");
    }
  }
  return out;
}

}  // namespace hpn::util
