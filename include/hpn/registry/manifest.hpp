// Manifests and indexes as the registry serves them (OCI image-spec and Docker's
// schema 2), read strictly: what a save needs from them, and the platform pick.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hpn/util/result.hpp"

namespace hpn::registry {

inline constexpr std::string_view k_oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view k_oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view k_docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view k_docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";

// The Accept header values for a manifest request, in preference order.
const std::vector<std::string>& manifest_accept();

struct Descriptor {
  std::string media_type;
  std::string digest;  // sha256:<64 hex>
  std::uint64_t size = 0;
};

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string text() const;  // os/arch[/variant]
};

// "os/arch[/variant]"; the error names the text.
Result<Platform> parse_platform(std::string_view text);
// The platform this machine runs (linux/amd64, linux/arm64, ...).
Platform host_platform();

struct IndexEntry {
  Descriptor descriptor;
  Platform platform;
};

// An image manifest: its config and layers, in order.
struct ImageManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::uint64_t blob_bytes() const;  // config and layers
};

bool is_index(std::string_view media_type);
bool is_image_manifest(std::string_view media_type);

// The media type a manifest body declares (its mediaType field), or `served` (the
// Content-Type) when it declares none.
std::string manifest_media_type(std::string_view body, std::string_view served);

// Parse an index (OCI index or Docker manifest list); `what` names it in errors.
Result<std::vector<IndexEntry>> parse_index(std::string_view body, const std::string& what);
// Parse an image manifest; every descriptor must name a sha256 digest and a size.
Result<ImageManifest> parse_image_manifest(std::string_view body, const std::string& what);

// Layer media types: a plain tar (OCI's or Docker's), and whether a type names a
// compressed one (gzip or zstd).
inline constexpr std::string_view k_docker_plain_layer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view k_oci_plain_layer = "application/vnd.oci.image.layer.v1.tar";
bool is_plain_layer(std::string_view media_type);
bool is_compressed_layer(std::string_view media_type);

// An image manifest naming `config` and `layers`, in OCI's media types when `oci`
// or when a layer has an OCI type (zstd has no other), else Docker's; gzip and
// plain layer types are given in the manifest's family. Returns the body and its media type.
std::pair<std::string, std::string> write_image_manifest(bool oci, const Descriptor& config,
                                                         const std::vector<Descriptor>& layers);

// The entry of `entries` for `want`: os and architecture equal, and the variant
// when `want` names one (arm64 without a variant takes v8 or none first). Errors
// list the platforms the index has.
Result<IndexEntry> pick_platform(const std::vector<IndexEntry>& entries, const Platform& want, const std::string& what);

}  // namespace hpn::registry
