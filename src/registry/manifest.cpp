#include "hpn/registry/manifest.hpp"

#include <sys/utsname.h>

#include <nlohmann/json.hpp>

#include "hpn/util/tar_header.hpp"

namespace hpn::registry {

const std::vector<std::string>& manifest_accept() {
  static const std::vector<std::string> accept = {std::string(k_oci_index), std::string(k_docker_list),
                                                  std::string(k_docker_manifest), std::string(k_oci_manifest)};
  return accept;
}

std::string Platform::text() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }

Result<Platform> parse_platform(std::string_view text) {
  Platform p;
  std::vector<std::string> parts;
  std::string cur;
  for (char c : text) {
    if (c == '/') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  bool ok = parts.size() >= 2 && parts.size() <= 3;
  for (const auto& part : parts) ok = ok && !part.empty();
  if (!ok) {
    return Error(ErrorKind::invalid_argument,
                 "platform '" + std::string(text) + "' is not os/arch[/variant] (for example linux/amd64)");
  }
  p.os = parts[0];
  p.architecture = parts[1];
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

Platform host_platform() {
  Platform p{"linux", "amd64", ""};
  utsname u{};
  if (uname(&u) != 0) return p;
  const std::string m = u.machine;
  if (m == "aarch64" || m == "arm64") {
    p.architecture = "arm64";
  } else if (m.rfind("armv7", 0) == 0) {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (m.rfind("armv6", 0) == 0) {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (m == "i386" || m == "i686") {
    p.architecture = "386";
  } else if (m == "ppc64le" || m == "s390x" || m == "riscv64") {
    p.architecture = m;
  }
  return p;
}

std::uint64_t ImageManifest::blob_bytes() const {
  std::uint64_t total = config.size;
  for (const auto& l : layers) total += l.size;
  return total;
}

bool is_index(std::string_view t) { return t == k_oci_index || t == k_docker_list; }
bool is_image_manifest(std::string_view t) { return t == k_oci_manifest || t == k_docker_manifest; }

std::string manifest_media_type(std::string_view body, std::string_view served) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto it = j.find("mediaType"); it != j.end() && it->is_string()) return it->get<std::string>();
    // An OCI manifest or index may leave mediaType out: tell them apart by shape.
    if (served.empty() || served == "application/json") {
      if (j.contains("manifests")) return std::string(k_oci_index);
      if (j.contains("layers")) return std::string(k_oci_manifest);
    }
  }
  std::string s(served);
  if (auto semi = s.find(';'); semi != std::string::npos) s.resize(semi);
  return s;
}

namespace {

Result<Descriptor> descriptor(const nlohmann::json& d, const std::string& what) {
  Descriptor out;
  if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string() || !d.contains("size") ||
      !d["size"].is_number_unsigned()) {
    return Error(ErrorKind::protocol, what + " has a descriptor without digest or size");
  }
  out.digest = d["digest"].get<std::string>();
  out.size = d["size"].get<std::uint64_t>();
  out.media_type = d.value("mediaType", "");
  if (out.digest.rfind("sha256:", 0) != 0 || !util::is_sha256_hex(std::string_view(out.digest).substr(7))) {
    return Error(ErrorKind::unsupported, what + " names a blob by " + out.digest + "; hpn verifies sha256 digests only");
  }
  return out;
}

}  // namespace

Result<std::vector<IndexEntry>> parse_index(std::string_view body, const std::string& what) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) {
    return Error(ErrorKind::protocol, what + ": the registry's index is not valid JSON with a manifests list");
  }
  std::vector<IndexEntry> out;
  for (const auto& m : j["manifests"]) {
    auto d = descriptor(m, what);
    if (!d) return d.error();
    IndexEntry e;
    e.descriptor = std::move(*d);
    if (auto p = m.find("platform"); p != m.end() && p->is_object()) {
      e.platform.os = p->value("os", "");
      e.platform.architecture = p->value("architecture", "");
      e.platform.variant = p->value("variant", "");
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<ImageManifest> parse_image_manifest(std::string_view body, const std::string& what) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) return Error(ErrorKind::protocol, what + ": the registry's manifest is not valid JSON");
  if (j.value("schemaVersion", 0) == 1) {
    return Error(ErrorKind::unsupported, what + " is a schema 1 manifest, which registries no longer serve for "
                                                "saving; save it with --source daemon");
  }
  if (!j.contains("config") || !j.contains("layers") || !j["layers"].is_array()) {
    return Error(ErrorKind::protocol, what + ": the registry's manifest has no config or layers");
  }
  ImageManifest m;
  m.media_type = manifest_media_type(body, "");
  auto c = descriptor(j["config"], what);
  if (!c) return c.error();
  m.config = std::move(*c);
  for (const auto& l : j["layers"]) {
    auto d = descriptor(l, what);
    if (!d) return d.error();
    m.layers.push_back(std::move(*d));
  }
  return m;
}

Result<IndexEntry> pick_platform(const std::vector<IndexEntry>& entries, const Platform& want,
                                 const std::string& what) {
  const IndexEntry* best = nullptr;
  for (const auto& e : entries) {
    if (e.platform.os != want.os || e.platform.architecture != want.architecture) continue;
    if (!is_image_manifest(e.descriptor.media_type) && !e.descriptor.media_type.empty()) continue;
    if (!want.variant.empty()) {
      if (e.platform.variant == want.variant) return e;
      continue;
    }
    // No variant asked: arm64's v8 (or none) first, else the first of the architecture.
    const bool preferred = e.platform.variant.empty() || (want.architecture == "arm64" && e.platform.variant == "v8");
    if (preferred) return e;
    if (best == nullptr) best = &e;
  }
  if (best != nullptr) return *best;
  std::string have;
  for (const auto& e : entries) {
    if (e.platform.os.empty() || e.platform.os == "unknown") continue;
    have += (have.empty() ? "" : ", ") + e.platform.text();
  }
  return Error(ErrorKind::not_found, what + " has no image for " + want.text() + " (it has " +
                                         (have.empty() ? std::string("none with a platform") : have) +
                                         "); choose one with --platform");
}

bool is_plain_layer(std::string_view media_type) {
  return media_type == k_docker_plain_layer || media_type == k_oci_plain_layer;
}

bool is_compressed_layer(std::string_view media_type) {
  return media_type.find("gzip") != std::string_view::npos || media_type.find("zstd") != std::string_view::npos;
}

std::pair<std::string, std::string> write_image_manifest(bool oci, const Descriptor& config,
                                                         const std::vector<Descriptor>& layers) {
  constexpr std::string_view docker_gzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
  constexpr std::string_view oci_gzip = "application/vnd.oci.image.layer.v1.tar+gzip";
  for (const auto& l : layers) oci = oci || l.media_type.find("vnd.oci") != std::string::npos;
  nlohmann::ordered_json j;
  j["schemaVersion"] = 2;
  j["mediaType"] = oci ? std::string(k_oci_manifest) : std::string(k_docker_manifest);
  j["config"] = {{"mediaType",
                  oci ? "application/vnd.oci.image.config.v1+json" : "application/vnd.docker.container.image.v1+json"},
                 {"size", config.size},
                 {"digest", config.digest}};
  nlohmann::ordered_json ls = nlohmann::ordered_json::array();
  for (const auto& l : layers) {
    std::string media = l.media_type;
    if (oci && media == docker_gzip) media = oci_gzip;
    if (!oci && media == oci_gzip) media = docker_gzip;
    if (oci && media == k_docker_plain_layer) media = k_oci_plain_layer;
    if (!oci && media == k_oci_plain_layer) media = k_docker_plain_layer;
    ls.push_back({{"mediaType", media}, {"size", l.size}, {"digest", l.digest}});
  }
  j["layers"] = ls;
  return {j.dump(3), j["mediaType"].get<std::string>()};
}

}  // namespace hpn::registry
