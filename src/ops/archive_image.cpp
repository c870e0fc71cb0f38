#include "hpn/ops/archive_image.hpp"

#include <nlohmann/json.hpp>

#include "hpn/util/sha256.hpp"

namespace hpn::ops {

namespace {

Result<Part> part_from_manifest(const archive::Layout& layout, const std::string& body, const std::string& what) {
  auto m = registry::parse_image_manifest(body, what);
  if (!m) return m.error();
  Part p;
  p.config_digest = m->config.digest;
  const std::string* config = layout.blob(m->config.digest);
  if (config == nullptr) {
    return Error(ErrorKind::invalid_argument, what + ": the archive lacks the config " + m->config.digest);
  }
  p.config = *config;
  p.config_media = m->config.media_type.empty() ? p.config_media : m->config.media_type;
  p.oci = m->media_type == registry::k_oci_manifest;
  p.stored = body;
  p.stored_media = registry::manifest_media_type(body, m->media_type);
  bool all_compressed = true;
  for (const auto& l : m->layers) {
    Part::Layer layer;
    layer.member = archive::Layout::blob_member(l.digest);
    layer.blob = l;
    layer.compressed = registry::is_compressed_layer(l.media_type);
    if (!layout.has_blob(l.digest)) {
      return Error(ErrorKind::invalid_argument, what + ": the archive lacks the layer " + l.digest);
    }
    all_compressed = all_compressed && layer.compressed;
    p.layers.push_back(layer);
  }
  if (all_compressed) {
    p.body = body;
    p.media_type = m->media_type;
  }
  return p;
}

}  // namespace

Result<PushImage> image_of(const std::shared_ptr<const archive::Layout>& layout, const archive::LayoutImage& img) {
  PushImage out;
  out.layout = layout;
  out.tags = img.tags;
  const std::string file = layout->path.string();
  if (!img.top_digest.empty() && layout->blob(img.top_digest) != nullptr) {
    const std::string& top = *layout->blob(img.top_digest);
    const std::string media = registry::manifest_media_type(top, img.top_media_type);
    if (registry::is_index(media)) {
      auto entries = registry::parse_index(top, file + ": index " + img.top_digest);
      if (!entries) return entries.error();
      std::vector<std::string> missing;
      for (const auto& e : *entries) {
        const std::string* body = layout->blob(e.descriptor.digest);
        if (body == nullptr || !registry::is_image_manifest(registry::manifest_media_type(*body, e.descriptor.media_type))) {
          missing.push_back(e.platform.text());
          continue;
        }
        auto p = part_from_manifest(*layout, *body, file + ": manifest " + e.descriptor.digest);
        if (!p) {
          missing.push_back(e.platform.text());
          continue;
        }
        p->platform = e.platform;
        if (!p->body) {
          return Error(ErrorKind::unsupported, file + ": an index whose manifests name uncompressed layers");
        }
        out.parts.push_back(std::move(*p));
      }
      if (out.parts.empty()) {
        return Error(ErrorKind::invalid_argument, file + ": the index " + img.top_digest +
                                                      " names no manifest the archive holds");
      }
      if (missing.empty()) {
        out.index = top;
        out.index_media = media;
      } else if (out.parts.size() > 1) {
        // A new index of the platforms the archive holds.
        auto j = nlohmann::json::parse(top);
        nlohmann::json kept = nlohmann::json::array();
        for (const auto& m : j["manifests"]) {
          if (layout->blob(m.value("digest", "")) != nullptr) kept.push_back(m);
        }
        j["manifests"] = kept;
        out.index = j.dump();
        out.index_media = media;
        out.note = "the archive holds " + std::to_string(out.parts.size()) + " of the index's " +
                   std::to_string(entries->size()) + " platforms: a new index names them";
      } else {
        out.note = "the archive holds only " + out.parts[0].platform.text() + " of its index: pushed that manifest";
      }
      return out;
    }
    auto p = part_from_manifest(*layout, top, file + ": manifest " + img.top_digest);
    if (!p) return p.error();
    out.parts.push_back(std::move(*p));
    return out;
  }
  // The legacy layout: manifest.json names the config and the layer tars; the
  // config's diff_ids are the layers' digests.
  Part p;
  auto c = layout->small.find(img.config_member);
  if (c == layout->small.end()) {
    return Error(ErrorKind::invalid_argument, file + " lacks the config " + img.config_member + " its manifest.json names");
  }
  p.config = c->second;
  p.config_digest = "sha256:" + util::sha256_hex(p.config);
  auto cj = nlohmann::json::parse(p.config, nullptr, false);
  std::vector<std::string> diff_ids;
  if (cj.is_object() && cj.contains("rootfs") && cj["rootfs"].is_object() && cj["rootfs"].contains("diff_ids") &&
      cj["rootfs"]["diff_ids"].is_array()) {
    for (const auto& d : cj["rootfs"]["diff_ids"]) {
      if (d.is_string()) diff_ids.push_back(d.get<std::string>());
    }
  }
  if (diff_ids.size() != img.layer_members.size()) {
    return Error(ErrorKind::invalid_argument, file + ": its config names " + std::to_string(diff_ids.size()) +
                                                  " layers and manifest.json " +
                                                  std::to_string(img.layer_members.size()));
  }
  for (std::size_t i = 0; i < diff_ids.size(); ++i) {
    Part::Layer l;
    l.member = img.layer_members[i];
    if (!layout->sizes.count(l.member)) {
      return Error(ErrorKind::invalid_argument, file + " lacks the layer " + l.member + " its manifest.json names");
    }
    l.blob.digest = diff_ids[i];
    l.blob.size = layout->sizes.at(l.member);
    l.blob.media_type = std::string(registry::k_docker_plain_layer);
    p.layers.push_back(l);
  }
  out.parts.push_back(std::move(p));
  return out;
}

std::pair<std::string, std::string> build_manifest(const Part& p, const std::vector<Descriptor>& layers,
                                                   archive::Compression codec) {
  const Descriptor config{.media_type = p.config_media, .digest = p.config_digest, .size = p.config.size()};
  return registry::write_image_manifest(p.oci || codec == archive::Compression::zstd, config, layers);
}

}  // namespace hpn::ops
