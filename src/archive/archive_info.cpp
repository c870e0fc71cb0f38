#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/layout.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <map>

#include <nlohmann/json.hpp>

#include "hpn/archive/member_rules.hpp"
#include "hpn/util/tar_header.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::archive {
namespace fs = std::filesystem;
namespace {

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

constexpr std::size_t k_max_manifest = 16 << 20;
// Blobs small enough to be manifests are kept while scanning, up to a total.
constexpr la_int64_t k_max_small_blob = 256 << 10;
constexpr std::size_t k_max_small_blobs = 8 << 20;

std::string id_from_config_name(const std::string& config) {
  // Docker 20.10 and Podman: "<hex>.json"; Docker 25+ (OCI layout): "blobs/sha256/<hex>".
  std::string name = config;
  if (auto slash = name.rfind('/'); slash != std::string::npos) name = name.substr(slash + 1);
  if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) name.resize(name.size() - 5);
  if (name.size() == 64 && std::all_of(name.begin(), name.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); })) {
    return "sha256:" + name;
  }
  return {};
}


}  // namespace

Status check_image_archive(const fs::path& path) {
  auto reader = DecompressingReader::open(path);
  if (!reader) return reader.error();
  char header[512];
  std::size_t got = 0;
  while (got < sizeof header) {
    auto n = reader->read(std::span<char>(header + got, sizeof header - got));
    if (!n) {
      return Error::about(ErrorKind::invalid_argument, path.string(),
                          " is not an image archive (" + n.error().message +
                              "); give a file that hpn save, docker save or podman save wrote");
    }
    if (*n == 0) break;
    got += *n;
  }
  // A tar header: its checksum field (octal, bytes 148-155) is the sum of the
  // header's bytes with that field read as spaces.
  bool ok = got == sizeof header;
  if (ok) {
    std::uint64_t recorded = 0;
    ok = util::parse_tar_number(header + 148, 8, recorded);
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < sizeof header; ++i) {
      sum += (i >= 148 && i < 156) ? static_cast<unsigned char>(' ') : static_cast<unsigned char>(header[i]);
    }
    ok = ok && sum == recorded && header[0] != '\0';
  }
  if (!ok) {
    return Error::about(ErrorKind::invalid_argument, path.string(),
                        " is not an image archive (no tar header at its start); "
                        "give a file that hpn save, docker save or podman save wrote");
  }
  return {};
}

std::size_t referrer_count(const nlohmann::json& annotations) {
  const std::string key = std::string(k_referrers_annotation) + ".count";
  if (!annotations.is_object() || !annotations.contains(key) || !annotations[key].is_string()) return 0;
  const std::string n = annotations[key].get<std::string>();
  if (n.empty() || n.size() >= 7 || !std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 0;
  }
  return std::stoul(n);
}

std::size_t referrers_in_index(std::string_view index_json) {
  if (index_json.empty()) return 0;
  const auto j = nlohmann::json::parse(index_json, nullptr, false);
  if (!j.is_object() || !j.contains("manifests") || !j["manifests"].is_array()) return 0;
  std::size_t n = 0;
  for (const auto& m : j["manifests"]) {
    if (m.is_object() && m.contains("annotations")) n += referrer_count(m["annotations"]);
  }
  return n;
}

Result<ArchiveInfo> read_archive_info(const fs::path& path) {
  ArchiveInfo info;
  {
    auto reader = DecompressingReader::open(path);  // for the compression and size
    if (!reader) return reader.error();
    info.compression = reader->compression();
    info.file_size = reader->file_size();
  }
  std::unique_ptr<struct archive, ReadFree> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_gnutar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 128 * 1024) != ARCHIVE_OK) {
    return Error::about(ErrorKind::invalid_argument, path.string(),
                        " is not a tar archive (" +
                            std::string(archive_error_string(a.get()) ? archive_error_string(a.get()) : "?") + ")");
  }
  // manifest.json names each image's config and layers; in the OCI layout index.json
  // names its manifest, and the manifest (a small blob, kept while scanning: the
  // daemons write blobs first) tells whether the layers are stored compressed.
  std::string manifest, index;
  bool found = false, have_index = false, oci = false;
  std::map<std::string, std::string> small_blobs;  // "sha256:<hex>" -> content
  std::size_t small_total = 0;
  archive_entry* e = nullptr;
  int r;
  auto read_member = [&](std::string& out) -> bool {
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return n == 0;
  };
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e) != nullptr ? archive_entry_pathname(e) : "";
    // The members read here keep the rules (the layers are not read: see
    // check_archive_members).
    std::optional<MemberRule> broken = check_member_name(name);
    const char* link = archive_entry_symlink(e);
    if (!broken && link != nullptr) broken = check_archive_symlink(name, link);
    const char* hard = archive_entry_hardlink(e);
    if (!broken && hard != nullptr && check_member_name(hard)) broken = MemberRule::hard_link_leaves;
    if (broken) {
      return Error::about(ErrorKind::invalid_argument, path.string(),
                          ": the member " + name + " has " + std::string(to_string(*broken)) +
                              "; hpn refuses archives whose members could be written outside "
                              "where they are unpacked");
    }
    if (name.rfind("./", 0) == 0) name = name.substr(2);
    const auto size = archive_entry_size(e);
    if (name == "oci-layout" || name.rfind("blobs/", 0) == 0) oci = true;
    if (name.rfind("blobs/sha256/", 0) == 0 && archive_entry_filetype(e) == AE_IFREG && size <= k_max_small_blob &&
        small_total + static_cast<std::size_t>(size) <= k_max_small_blobs) {
      std::string content;
      if (!read_member(content)) break;
      small_total += content.size();
      small_blobs["sha256:" + name.substr(13)] = std::move(content);
      continue;
    }
    if (name != "manifest.json" && name != "index.json") continue;
    if (size > static_cast<la_int64_t>(k_max_manifest)) {
      return Error::about(ErrorKind::invalid_argument, path.string(), ": " + name + " is implausibly large");
    }
    if (!read_member(name == "index.json" ? index : manifest)) break;
    (name == "index.json" ? have_index : found) = true;
    // The legacy layout has no index.json: stop at manifest.json.
    if (found && (have_index || !oci)) break;
  }
  if (!found) {
    const char* why = archive_error_string(a.get());
    if (r != ARCHIVE_EOF && r != ARCHIVE_OK) {
      return Error::about(ErrorKind::invalid_argument, path.string(),
                          " is corrupt or truncated (" + std::string(why ? why : "read error") + ")");
    }
    return Error::about(ErrorKind::invalid_argument, path.string(), " is not an image archive (no manifest.json)");
  }
  auto j = nlohmann::json::parse(manifest, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    return Error::about(ErrorKind::invalid_argument, path.string(), ": manifest.json is not a JSON array");
  }
  // index.json: the manifest (or index) descriptor of each tag, by canonical name.
  std::map<std::string, nlohmann::json> by_name;
  if (have_index) {
    auto ij = nlohmann::json::parse(index, nullptr, false);
    if (ij.is_object() && ij.contains("manifests") && ij["manifests"].is_array()) {
      for (const auto& d : ij["manifests"]) {
        if (!d.is_object() || !d.contains("annotations") || !d["annotations"].is_object()) continue;
        const auto& an = d["annotations"];
        for (const char* key : {"io.containerd.image.name", "org.opencontainers.image.ref.name"}) {
          if (auto it = an.find(key); it != an.end() && it->is_string()) {
            if (auto ref = image::parse_reference(it->get<std::string>()); ref) by_name.emplace(ref->canonical(), d);
          }
        }
      }
    }
  }
  for (const auto& item : j) {
    if (!item.is_object()) continue;
    ArchiveImage img;
    if (auto it = item.find("RepoTags"); it != item.end() && it->is_array()) {
      for (const auto& t : *it) {
        if (t.is_string()) img.repo_tags.push_back(t.get<std::string>());
      }
    }
    if (auto it = item.find("Config"); it != item.end() && it->is_string()) img.config = it->get<std::string>();
    if (auto it = item.find("Layers"); it != item.end() && it->is_array()) img.layers = it->size();
    img.config_id = id_from_config_name(img.config);
    img.image_id = img.config_id;
    for (const auto& tag : img.repo_tags) {
      auto ref = image::parse_reference(tag);
      auto it = ref ? by_name.find(ref->canonical()) : by_name.end();
      if (it == by_name.end() || !it->second.contains("digest") || !it->second["digest"].is_string()) continue;
      img.manifest_digest = it->second["digest"].get<std::string>();
      if (const auto& an = it->second["annotations"]; an.contains("io.hpn.source") && an["io.hpn.source"].is_string()) {
        img.source = an["io.hpn.source"].get<std::string>();
      }
      img.referrers = referrer_count(it->second["annotations"]);
      const std::string media = it->second.value("mediaType", "");
      if (media.find("index") != std::string::npos || media.find("manifest.list") != std::string::npos) {
        img.image_id = img.manifest_digest;  // only the containerd image store exports indexes
      } else if (auto b = small_blobs.find(img.manifest_digest); b != small_blobs.end()) {
        auto m = nlohmann::json::parse(b->second, nullptr, false);
        if (m.is_object() && m.contains("layers") && m["layers"].is_array() && !m["layers"].empty()) {
          const bool compressed = std::all_of(m["layers"].begin(), m["layers"].end(), [](const nlohmann::json& l) {
            const std::string t = l.is_object() ? l.value("mediaType", "") : "";
            return t.find("gzip") != std::string::npos || t.find("zstd") != std::string::npos;
          });
          if (compressed) img.image_id = img.manifest_digest;
        }
      }
      break;
    }
    info.images.push_back(std::move(img));
  }
  return info;
}

fs::path sidecar_path(const fs::path& archive) {
  fs::path p = archive;
  p += ".sha256";
  return p;
}

Status write_sidecar(const fs::path& archive, const std::string& hex) {
  auto f = util::AtomicFile::create(sidecar_path(archive));
  if (!f) return f.error();
  if (auto st = f->write(hex); !st) return st;
  return f->commit();
}

Result<std::optional<std::string>> read_sidecar(const fs::path& archive) {
  const fs::path p = sidecar_path(archive);
  std::error_code ec;
  if (!fs::exists(p, ec)) return std::optional<std::string>{};
  auto text = util::read_small_file(p, 4096);
  if (!text) return text.error();
  // Harpoon writes the bare hex; also accept sha256sum's "HEX  NAME".
  std::string_view s = *text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  std::string_view hex = s.substr(0, s.find_first_of(" \t\r\n"));
  std::string lower(hex);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!util::is_sha256_hex(lower)) {
    return Error::about(ErrorKind::invalid_argument, p.string(), " is not a SHA-256 sidecar (want 64 hex digits)");
  }
  return std::optional<std::string>(lower);
}

Result<std::string> file_sha256(const fs::path& path) {
  auto f = util::FileReader::open(path);
  if (!f) return f.error();
  util::Sha256 h;
  std::vector<char> buf(1 << 20);
  for (;;) {
    auto n = f->read(buf);
    if (!n) return n.error();
    if (*n == 0) break;
    h.update(std::string_view(buf.data(), *n));
  }
  return h.hex_digest();
}

std::string_view to_string(Checksum c) {
  switch (c) {
    case Checksum::none: return "none";
    case Checksum::ok: return "ok";
    case Checksum::mismatch: return "MISMATCH";
  }
  return "none";
}

Result<Checksum> verify_sidecar(const fs::path& archive) {
  auto expected = read_sidecar(archive);
  if (!expected) return expected.error();
  if (!expected->has_value()) return Checksum::none;
  auto actual = file_sha256(archive);
  if (!actual) return actual.error();
  return **expected == *actual ? Checksum::ok : Checksum::mismatch;
}

}  // namespace hpn::archive
