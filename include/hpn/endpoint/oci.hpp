// OCI image layout directories as an endpoint (oci:PATH): `oci-layout`,
// `index.json` and `blobs/sha256/`, many images content-addressed in one
// directory, as skopeo, crane, oras, regctl and containerd read and write them.
//
// Each image is an entry of index.json named by the annotations
// `org.opencontainers.image.ref.name` and `io.containerd.image.name`; hpn writes
// the full name (docker.io/library/nginx:1.25) into both, and finds an image by
// either, written in full or short (nginx:1.25). Every manifest and blob read is
// checked against its digest and size.
//
// Writing adds only the blobs the directory lacks (a blob under its digest's name
// with the right size is taken as there: it got that name only after its digest
// was checked), each through a `.part` file synced and renamed once its digest
// checks. The manifests follow, and last index.json is rewritten and renamed over
// the old one, so a reader sees an image complete or not at all. The directory is
// locked for the run (util::DirLock), so two runs into it take turns.
//
// Referrers (signatures, attestations, SBOMs) are kept as oras keeps them: each an
// entry of index.json with no name, found by the subject its manifest names.
// Entries named by a fallback tag (the index regctl keeps) are read as referrers
// too, and cosign's older tags are entries named REPO:sha256-HEX.sig (.att, .sbom).
// Neither is an image of the layout.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hpn/registry/blob_ledger.hpp"
#include "hpn/transfer/roles.hpp"
#include "hpn/util/dir_lock.hpp"

namespace hpn::endpoint {

// One entry of index.json.
struct OciEntry {
  registry::Descriptor descriptor;
  std::vector<std::string> names;  // its name annotations, containerd's first
};

// Read and check the layout at `dir`: its oci-layout file and index.json.
Result<std::vector<OciEntry>> read_oci_index(const std::filesystem::path& dir);
// The entry of `entries` that `ref` names: by its digest when it has one (an entry
// with no name too), else by name; not_found when none, an error when the names
// are ambiguous.
Result<registry::Descriptor> find_oci_entry(const std::vector<OciEntry>& entries, const image::Reference& ref,
                                            const std::filesystem::path& dir);
// blobs/sha256/HEX for `digest`; an error for a digest that is not sha256:HEX.
Result<std::filesystem::path> oci_blob_path(const std::filesystem::path& dir, const std::string& digest);

class OciSource final : public transfer::ImageSource {
 public:
  static Result<std::shared_ptr<OciSource>> open(const std::filesystem::path& dir);
  std::unique_ptr<transfer::SourceReader> reader() const override;
  Result<std::vector<image::Reference>> images() const override;
  std::optional<std::string> registry_of(const image::Reference&) const override { return std::nullopt; }
  bool reads_in_order(const image::Reference&) const override { return false; }

  struct Subjects;

 private:
  OciSource(std::filesystem::path dir, std::vector<OciEntry> entries);
  std::filesystem::path dir_;
  std::vector<OciEntry> entries_;
  std::shared_ptr<Subjects> subjects_;  // read when the first referrers are asked for
};

class OciDestination final : public transfer::ImageDestination {
 public:
  // Creates the layout when `dir` does not exist or is empty; locks it for the run.
  static Result<std::shared_ptr<OciDestination>> open(const std::filesystem::path& dir,
                                                       const std::atomic<bool>* interrupt);
  std::unique_ptr<transfer::DestinationWriter> writer() const override;
  Result<image::Reference> target_of(const image::Reference& source_ref) const override { return source_ref; }

  struct State;

 private:
  explicit OciDestination(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

}  // namespace hpn::endpoint
