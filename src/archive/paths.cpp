#include "hpn/archive/paths.hpp"

#include <algorithm>
#include <optional>
#include <cerrno>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "hpn/util/file.hpp"

namespace hpn::archive {
namespace fs = std::filesystem;

fs::path archive_path(const image::Reference& ref, const fs::path& dir, bool by_project,
                      std::string_view suffix) {
  const std::string file = image::archive_stem(ref.original) + std::string(suffix);
  return by_project ? dir / ref.project() / file : dir / file;
}

bool is_archive_name(const std::string& name) {
  static const char* const k_suffixes[] = {".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".tar.bz2"};
  return std::any_of(std::begin(k_suffixes), std::end(k_suffixes), [&](const char* suffix) {
    const std::size_t n = std::char_traits<char>::length(suffix);
    return name.size() > n && name.compare(name.size() - n, n, suffix) == 0;
  });
}

namespace {

// Why a directory entry with an archive's name (not a directory) cannot be read as
// one; nullopt for a regular file (or a link to one). Never throws: the entry may be a link loop, a
// dangling link, a FIFO or a socket, or vanish while the walk runs.
std::optional<std::string> unusable(const fs::directory_entry& e) {
  std::error_code ec;
  const auto st = e.status(ec);  // follows links
  if (ec) {
    if (ec == std::errc::too_many_symbolic_link_levels) return std::string("a symbolic link loop");
    if (ec == std::errc::no_such_file_or_directory) {
      const auto own = e.symlink_status(ec);
      return !ec && fs::is_symlink(own) ? std::string("a dangling symbolic link")
                                        : std::string("it vanished while the directory was read");
    }
    return "cannot read it (" + ec.message() + ")";
  }
  if (fs::is_regular_file(st)) return std::nullopt;
  if (fs::is_fifo(st)) return std::string("a FIFO, not a file");
  if (fs::is_socket(st)) return std::string("a socket, not a file");
  if (fs::is_block_file(st) || fs::is_character_file(st)) return std::string("a device, not a file");
  return std::string("not a regular file");
}

}  // namespace

Result<FoundArchives> find_archives(const std::vector<std::string>& inputs, bool recursive) {
  FoundArchives out;
  for (const auto& input : inputs) {
    std::error_code ec;
    auto st = fs::status(input, ec);
    if (ec && ec == std::errc::too_many_symbolic_link_levels) {
      return Error(ErrorKind::invalid_argument, "cannot read " + input + ": a symbolic link loop");
    }
    if (ec || !fs::exists(st)) {
      return Error(ErrorKind::not_found, "cannot read " + input + ": no such file or directory");
    }
    if (fs::is_regular_file(st)) {
      out.files.emplace_back(input);
      continue;
    }
    if (!fs::is_directory(st)) {
      return Error(ErrorKind::invalid_argument, "cannot read " + input + ": not a file or directory");
    }
    std::vector<fs::path> found;
    auto consider = [&](const fs::directory_entry& e) {
      std::error_code dir_ec;
      if (!is_archive_name(e.path().filename().string()) || e.is_directory(dir_ec)) return;  // a directory is walked, not read
      if (auto why = unusable(e)) {
        out.skipped.push_back({e.path(), Error(ErrorKind::invalid_argument,
                                               e.path().string() + ": " + *why + "; it is not read as an archive")});
        return;
      }
      found.push_back(e.path());
    };
    if (recursive) {
      for (auto it = fs::recursive_directory_iterator(input, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        consider(*it);
      }
    } else {
      for (auto it = fs::directory_iterator(input, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
        consider(*it);
      }
    }
    if (ec) {
      return Error(ErrorKind::io, "cannot list " + input + ": " + ec.message());
    }
    std::sort(found.begin(), found.end());
    out.files.insert(out.files.end(), found.begin(), found.end());
  }
  return out;
}

Status ensure_directory(const fs::path& dir) {
  if (dir.empty()) return {};
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
  if (fs::exists(fs::symlink_status(dir, ec))) {
    return Error(ErrorKind::invalid_argument, dir.string() + " exists and is not a directory; give a directory");
  }
  if (auto parent = dir.parent_path(); !parent.empty() && parent != dir) {
    if (auto st = ensure_directory(parent); !st) return st;
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return util::errno_error(errno, "cannot create directory", dir);
  }
  return {};
}

}  // namespace hpn::archive

namespace hpn::archive {

Result<std::uint64_t> free_space(const std::filesystem::path& dir) {
  std::filesystem::path p = dir.empty() ? std::filesystem::path(".") : dir;
  std::error_code ec;
  while (!std::filesystem::exists(p, ec)) {
    p = p.has_parent_path() && p != p.parent_path() ? p.parent_path() : std::filesystem::path(".");
  }
  struct statvfs st {};
  if (::statvfs(p.c_str(), &st) != 0) return util::errno_error(errno, "cannot check free space of", p);
  return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

}  // namespace hpn::archive
