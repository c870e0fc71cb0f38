// Harpoon archives as a source: `dir:PATH` (one archive per image, what save
// writes and load reads) and `archive:FILE` (one bundle of many images). Each
// archive's structure is read once when the source opens (libarchive, any
// compression); an image is named by its RepoTags. Its manifest is the archive's
// own (OCI layout, Docker 25+) or, in the legacy layout, one built from
// manifest.json and the config, naming the layer tars as stored (uncompressed,
// digest = diff_id). Every blob is hashed as it is read.
//
// A member of a compressed archive is found by decompressing from the start, so
// reading it costs a pass over the archive up to that member.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpn/ops/archive_image.hpp"
#include "hpn/transfer/roles.hpp"

namespace hpn::endpoint {

class ArchiveSource final : public transfer::ImageSource {
 public:
  // `inputs`: the directory (dir:) or the file (archive:).
  static Result<std::shared_ptr<ArchiveSource>> open(const std::filesystem::path& input, bool directory);
  std::unique_ptr<transfer::SourceReader> reader() const override;
  Result<std::vector<image::Reference>> images() const override;
  std::optional<std::string> registry_of(const image::Reference&) const override { return std::nullopt; }

  // One image as the reader serves it.
  struct Entry {
    image::Reference ref;
    ops::PushImage image;
    std::vector<registry::Manifest> manifests;  // one per part
    std::optional<registry::Manifest> index;
  };

 private:
  explicit ArchiveSource(std::filesystem::path input) : input_(std::move(input)) {}
  std::filesystem::path input_;
  std::map<std::string, Entry> entries_;  // by canonical name
  std::vector<image::Reference> order_;   // as found
};

}  // namespace hpn::endpoint
