// The rules of `hpn sync`: a YAML file naming source repositories, which of their
// tags and platforms to mirror, and where to. Read whole and checked before
// anything starts; a mistake is reported with its line and column.
//
//   defaults:                      # for every entry (each key optional)
//     to: registry:mirror.local/cache
//     platforms: [linux/amd64]     # or all (the default: every platform, the index whole)
//     tags: all
//     tag_page_size: 100           # tags asked of the registry a page (default: its own)
//   sync:
//     - from: docker.io/library/nginx
//       tags: {semver: ">=1.25 <2", newest: 5, regex: "...", exclude: ["..."]}
//       to: "registry:mirror.local/{repo}"
//
// A destination is any endpoint (endpoint/factory.hpp). A registry's path may be a
// template: {registry}, {repo}, {name} and {tag} of the source (ops::push_target).
#pragma once

#include <cstddef>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "hpn/image/reference.hpp"
#include "hpn/sync/semver.hpp"
#include "hpn/util/result.hpp"

namespace hpn::sync {

// Which tags of a repository: a list as written, every tag, or those a filter keeps.
struct TagRule {
  enum class Kind { list, all, filter } kind = Kind::all;
  std::vector<std::string> list;
  // The filter: each part optional. regex and exclude match the whole tag.
  std::optional<std::regex> regex;
  std::vector<std::regex> exclude;
  std::optional<Range> semver;
  std::size_t newest = 0;  // the N highest versions of what is left; 0: all of it
  bool needs_listing() const { return kind != Kind::list; }
};

struct SyncEntry {
  image::Reference repository;  // its tag unused
  std::string from;             // as written
  TagRule tags;
  std::vector<std::string> platforms;  // empty: all of them (the index whole)
  std::string to;                      // an endpoint
  std::size_t line = 0;                // where the entry starts (1-based)
};

struct SyncFile {
  std::string path;
  std::vector<SyncEntry> entries;
  std::size_t tag_page_size = 0;  // 0: the registry's own
};

// Parse the rules `text` read from `path`. Errors name "PATH:LINE:COLUMN".
Result<SyncFile> parse_sync_file(const std::string& text, const std::string& path);
Result<SyncFile> read_sync_file(const std::string& path);

// The tags of `listed` that `rule` keeps, highest version first when it asks for
// the newest, else in the order listed. Tags that hold what refers to an image
// (sha256-HEX and cosign's) are never images.
std::vector<std::string> select_tags(const TagRule& rule, const std::vector<std::string>& listed);

}  // namespace hpn::sync
