// What is inside an image archive (docker-archive or OCI layout with manifest.json),
// read with libarchive without extracting it, and the .sha256 sidecar files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "hpn/archive/codec.hpp"
#include "hpn/util/result.hpp"

namespace hpn::archive {

struct ArchiveImage {
  std::vector<std::string> repo_tags;
  std::string config;     // path of the config blob inside the archive
  std::string config_id;  // sha256:<hex>, derived from the config blob's name (its digest)
  // OCI layout (Docker 25+): the digest of the manifest, or image index, that
  // index.json names for the image's tags; "" in the legacy layout.
  std::string manifest_digest;
  // The image ID the daemon that wrote the archive used: the manifest (or index)
  // digest for an export of the containerd image store (its layers stored
  // compressed, as pulled, or an index), otherwise the config digest, which is what
  // Docker's classic store and Podman call the ID.
  std::string image_id;
  std::size_t layers = 0;
  // A registry save records what the registry served (index.json's "io.hpn.source"
  // annotation): the manifest digest, or the index digest and the platform picked.
  std::string source;
  // How many signatures, attestations and SBOMs a registry save put in the archive
  // with the image (annotation k_referrers_annotation + ".count").
  std::size_t referrers = 0;
  // True when `id` names this image under any of the daemons' conventions.
  bool has_id(const std::string& id) const {
    return !id.empty() && (id == config_id || id == manifest_digest || id == image_id || id == source);
  }
};

struct ArchiveInfo {
  Compression compression = Compression::none;
  std::uint64_t file_size = 0;
  std::vector<ArchiveImage> images;
};

// Read manifest.json from an archive (any supported compression). Fails with the
// file's name when it is not an image archive or is corrupt.
Result<ArchiveInfo> read_archive_info(const std::filesystem::path& path);

// The referrers an entry of index.json says its image has in the archive (the
// annotations k_referrers_annotation + ".count"; 0 when it says none or nonsense),
// and their sum over the entries of the index.json `index_json` (0 when it is not
// one).
std::size_t referrer_count(const nlohmann::json& annotations);
std::size_t referrers_in_index(std::string_view index_json);

// Cheap check that `path` is a tar (after any compression): its first header is
// valid. Fails with ErrorKind::invalid_argument naming the file otherwise.
Status check_image_archive(const std::filesystem::path& path);

// ---- sidecars: F.tar.sha256 holds the lowercase hex SHA-256 of F.tar (Harpoon v2) ----

std::filesystem::path sidecar_path(const std::filesystem::path& archive);
// Atomically write the sidecar (mode 0600).
Status write_sidecar(const std::filesystem::path& archive, const std::string& hex);
// The digest recorded in the sidecar; nullopt when there is none.
Result<std::optional<std::string>> read_sidecar(const std::filesystem::path& archive);
// SHA-256 of a whole file, streamed.
Result<std::string> file_sha256(const std::filesystem::path& path);

enum class Checksum { none, ok, mismatch };
std::string_view to_string(Checksum c);
// Compare a file with its sidecar.
Result<Checksum> verify_sidecar(const std::filesystem::path& archive);

}  // namespace hpn::archive
