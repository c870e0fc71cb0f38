#include "hpn/archive/paths.hpp"

#include <algorithm>
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

Result<std::vector<fs::path>> find_archives(const std::vector<std::string>& inputs, bool recursive) {
  std::vector<fs::path> out;
  for (const auto& input : inputs) {
    std::error_code ec;
    auto st = fs::status(input, ec);
    if (ec || !fs::exists(st)) {
      return Error(ErrorKind::not_found, "cannot load " + input + ": no such file or directory");
    }
    if (fs::is_regular_file(st)) {
      out.emplace_back(input);
      continue;
    }
    if (!fs::is_directory(st)) {
      return Error(ErrorKind::invalid_argument, "cannot load " + input + ": not a file or directory");
    }
    std::vector<fs::path> found;
    auto consider = [&](const fs::directory_entry& e) {
      if (e.is_regular_file() && is_archive_name(e.path().filename().string())) found.push_back(e.path());
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
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

Status ensure_directory(const fs::path& dir) {
  if (dir.empty()) return {};
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return {};
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
