// The images of an archive as a push sends them: per image manifest its config,
// its layers (as stored, compressed or not) and the archive's own manifest when it
// can go up as it is; the index when the archive holds every manifest it names.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/archive/layout.hpp"
#include "hpn/engine/connection.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/util/result.hpp"

namespace hpn::ops {

using registry::Descriptor;

// One image manifest to push from an archive.
struct Part {
  std::string config_digest;
  std::string config;  // bytes
  std::string config_media = "application/vnd.docker.container.image.v1+json";
  struct Layer {
    std::string member;
    Descriptor blob;  // compressed: the blob as stored; uncompressed: digest = diff_id
    bool compressed = false;
  };
  std::vector<Layer> layers;
  std::optional<std::string> body;  // the archive's manifest, pushed as is (every layer compressed)
  std::string media_type;
  // The archive's manifest whatever its layers (OCI layout); nullopt in the legacy
  // layout, where the manifest is built from manifest.json and the config.
  std::optional<std::string> stored;
  std::string stored_media;
  registry::Platform platform;
  bool oci = false;  // the archive's manifest used OCI media types
};

struct PushImage {
  std::shared_ptr<const archive::Layout> layout;
  std::vector<std::string> tags;
  std::vector<Part> parts;
  std::optional<std::string> index;  // the archive's index, as is, when it holds every manifest it names
  std::string index_media;
  std::string note;  // said on the finish line (a filtered index)
};

// The image `img` of `layout`, checked: its manifests, configs and layers.
Result<PushImage> image_of(const std::shared_ptr<const archive::Layout>& layout, const archive::LayoutImage& img);

// The manifest that names the pushed blobs of `p` (body, media type).
std::pair<std::string, std::string> build_manifest(const Part& p, const std::vector<Descriptor>& layers,
                                                   archive::Compression codec);

}  // namespace hpn::ops
