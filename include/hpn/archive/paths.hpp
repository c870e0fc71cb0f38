// Where archives go and where they are found.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "hpn/image/reference.hpp"
#include "hpn/util/result.hpp"

namespace hpn::archive {

// `dir`/F.tar, or `dir`/<project>/F.tar when `by_project` (Harpoon save-mode 3);
// `suffix` replaces ".tar" for compressed archives.
std::filesystem::path archive_path(const image::Reference& ref, const std::filesystem::path& dir,
                                   bool by_project, std::string_view suffix = ".tar");

// Bytes available to an unprivileged writer on the file system holding `dir` (or
// its nearest existing parent).
Result<std::uint64_t> free_space(const std::filesystem::path& dir);

// True for names hpn loads: .tar, .tar.gz, .tgz, .tar.zst, .tar.xz, .tar.bz2
// (never .part or .sha256 files).
bool is_archive_name(const std::string& filename);

// Files to read from `inputs`: a file is taken as given; a directory contributes its
// archives (recursively when asked), sorted by path. Missing inputs are errors.
// An entry of a directory with an archive's name that cannot be read as a file (a
// link loop, a dangling link, a FIFO, a socket, one that vanished) is skipped with
// the reason; the walk never stops on one.
struct FoundArchives {
  struct Skipped {
    std::filesystem::path path;
    Error error;  // why it cannot be read as a file, naming it
  };
  std::vector<std::filesystem::path> files;
  std::vector<Skipped> skipped;
};
Result<FoundArchives> find_archives(const std::vector<std::string>& inputs, bool recursive);

// Create `dir` and its parents with mode 0700 (Harpoon v2) when missing.
Status ensure_directory(const std::filesystem::path& dir);

}  // namespace hpn::archive
