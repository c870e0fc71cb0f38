// The members of an image archive as a registry push needs them: which images it
// holds, under which names, and for each its config, layers and (in the OCI layout)
// manifests, read with libarchive without extracting anything. Small JSON members
// (manifests, configs, index.json, manifest.json) are kept in memory; layers are
// only located, then streamed one at a time by stream_members().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/util/result.hpp"

namespace hpn::archive {

// One image of manifest.json.
struct LayoutImage {
  std::vector<std::string> tags;            // RepoTags
  std::string config_member;                // path of the config inside the archive
  std::vector<std::string> layer_members;   // layer paths, in the manifest's order
  // OCI layout: what index.json names for the image's tags (a manifest or an index)
  // and its media type; empty in the legacy layout.
  std::string top_digest;
  std::string top_media_type;
};

struct Layout {
  std::filesystem::path path;
  Compression compression = Compression::none;
  std::vector<LayoutImage> images;
  std::map<std::string, std::uint64_t> sizes;  // member path -> size
  std::map<std::string, std::string> small;    // JSON members kept: path -> content
  // The content of a blob "sha256:<hex>" kept in `small` (nullptr when absent).
  const std::string* blob(const std::string& digest) const;
  bool has_blob(const std::string& digest) const;
  static std::string blob_member(const std::string& digest);  // blobs/sha256/<hex>
};

// Read the archive's structure (any compression). A truncated or corrupt archive,
// or one without manifest.json, fails with an error naming the file.
Result<Layout> scan_layout(const std::filesystem::path& path);

// Reads the current member's bytes into `buf`; 0 at its end.
using MemberReader = std::function<Result<std::size_t>(std::span<char> buf)>;
// Hand each member named in `wanted` to `each` in archive order (once each; a
// member `each` does not read to its end is skipped). Fails when one is missing.
Status stream_members(const std::filesystem::path& path, const std::set<std::string>& wanted,
                      const std::function<Status(const std::string& member, std::uint64_t size,
                                                 const MemberReader& read)>& each);

// One member of the archive at `path`, read from its start: a layer read again
// when its upload must begin again. Fails when the member is missing.
class MemberStream {
 public:
  static Result<MemberStream> open(const std::filesystem::path& path, const std::string& member);
  ~MemberStream();
  MemberStream(MemberStream&&) noexcept;
  MemberStream& operator=(MemberStream&&) noexcept;
  // The member's next bytes; 0 at its end.
  Result<std::size_t> read(std::span<char> buf);

 private:
  struct Impl;
  explicit MemberStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpn::archive
