// Harpoon archives as a source: `dir:PATH` (one archive per image, what save
// writes and load reads) and `archive:FILE` (one bundle of many images). Each
// archive's structure is read once when the source opens (libarchive, any
// compression); an image is named by its RepoTags. Its manifest is the archive's
// own (OCI layout, Docker 25+) or, in the legacy layout, one built from
// manifest.json and the config, naming the layer tars as stored (uncompressed,
// digest = diff_id). Every blob is hashed as it is read.
//
// A member of a compressed archive is found by decompressing from the start: its
// images' blobs are read one after another in the order the archive holds them,
// each read going on from where the last one stopped.
//
// What refers to an image (signatures, attestations, SBOMs) is read from the index
// an hpn archive names for it (archive::k_referrers_annotation); each referrer is
// served by its digest from the archive's blobs, checked as it is read.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpn/archive/layout.hpp"
#include "hpn/ops/archive_image.hpp"
#include "hpn/transfer/roles.hpp"
#include "hpn/transfer/verify.hpp"

namespace hpn::endpoint {

class ArchiveSource final : public transfer::ImageSource {
 public:
  // `input`: the directory (dir:) or the file (archive:); any archive that cannot
  // be read fails the whole.
  static Result<std::shared_ptr<ArchiveSource>> open(const std::filesystem::path& input, bool directory);
  // The archive files `files`, read for their structure `readers` at a time. An
  // archive that cannot be read, or an image in it that cannot be moved, is one of
  // failures(); the rest are held().
  static std::shared_ptr<ArchiveSource> open_files(const std::vector<std::filesystem::path>& files,
                                                   std::size_t readers);
  std::unique_ptr<transfer::SourceReader> reader() const override;
  Result<std::vector<image::Reference>> images() const override;
  std::optional<std::string> registry_of(const image::Reference&) const override { return std::nullopt; }
  bool reads_in_order(const image::Reference& ref) const override;

  // One image as found: its first name and the others, its archive, how the batch
  // names it ("NAME (FILE)"), the bytes of its layers there, and what to say of it
  // (a filtered index).
  struct Held {
    image::Reference ref;
    std::string label;
    std::vector<image::Reference> also;
    std::filesystem::path file;
    std::uint64_t size = 0;
    std::string note;
  };
  const std::vector<Held>& held() const { return held_; }
  // What could not be read: `label` names the archive (and the image).
  struct Failure {
    std::string label;
    Error error;
  };
  const std::vector<Failure>& failures() const { return failures_; }

  // One image as the reader serves it.
  struct Entry {
    image::Reference ref;
    ops::PushImage image;
    std::vector<registry::Manifest> manifests;  // one per part
    std::optional<registry::Manifest> index;
    std::string referrers;  // the digest of the index of what refers to it; empty: none
  };

 private:
  explicit ArchiveSource(std::filesystem::path input) : input_(std::move(input)) {}
  // The images of one archive, or why they cannot be moved.
  Status add(const std::filesystem::path& file, Result<archive::Layout> scanned);
  std::filesystem::path input_;
  std::map<std::string, Entry> entries_;  // by canonical name
  std::vector<image::Reference> order_;   // as found
  std::vector<Held> held_;
  std::vector<Failure> failures_;
};

// The signatures of every image of the archive `file`, checked with `spec` against
// what the archive holds (transfer/verify.hpp), offline: the first image that fails
// fails the whole, by name. The archive's structure is read for it (decompressed
// once when it is compressed).
struct ArchiveSignatures {
  std::size_t images = 0;
  transfer::Verified verified;  // summed over its images
};
Result<ArchiveSignatures> verify_archive(const std::filesystem::path& file, const transfer::VerifySpec& spec);

}  // namespace hpn::endpoint
