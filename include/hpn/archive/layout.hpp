// The members of an image archive as a push or a copy reads them: which images it
// holds, under which names, and for each its config, layers and (in the OCI layout)
// manifests, read with libarchive without extracting anything. Small JSON members
// (manifests, configs, index.json, manifest.json) are kept in memory; layers are
// only located, then read one at a time through MemberStream.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
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
  // The index of what refers to the image, when the archive holds it (the
  // annotation k_referrers_annotation of its entry in index.json); empty: none.
  std::string referrers_digest;
};

// The annotation of an image's entry in index.json naming the index of what refers
// to it (signatures, attestations, SBOMs), whose manifests and blobs the archive
// holds under blobs/: hpn's own, which loaders pass over. The same name with
// ".count" says how many the index lists (for `ls -p`).
inline constexpr std::string_view k_referrers_annotation = "io.hpn.referrers";

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

// One member of the archive at `path`, read from its start, and later members of
// it after it in one pass. Fails when the member is missing.
class MemberStream {
 public:
  static Result<MemberStream> open(const std::filesystem::path& path, const std::string& member);
  ~MemberStream();
  MemberStream(MemberStream&&) noexcept;
  MemberStream& operator=(MemberStream&&) noexcept;
  // The member's next bytes; 0 at its end.
  Result<std::size_t> read(std::span<char> buf);
  // Go on to `member`, which must come later in the archive: true once there,
  // false when the archive ends first (open it again to read an earlier member).
  Result<bool> next(const std::string& member);

 private:
  struct Impl;
  explicit MemberStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace hpn::archive
