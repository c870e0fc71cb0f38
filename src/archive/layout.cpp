#include "hpn/archive/layout.hpp"

#include <archive.h>
#include <archive_entry.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/member_rules.hpp"

namespace hpn::archive {
namespace fs = std::filesystem;
namespace {

struct ReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ReadFree>;

constexpr la_int64_t k_max_json_member = 4 << 20;
constexpr std::size_t k_max_json_total = 64 << 20;

std::string message_of(struct archive* a) {
  const char* s = archive_error_string(a);
  return s != nullptr ? std::string(s) : std::string("read error");
}

// The tar of a compressed archive as DecompressingReader yields it, so that each
// codec's own check of the data (gzip's CRC-32, zstd's and xz's checksums) holds.
struct Decompressed {
  explicit Decompressed(DecompressingReader r) : reader(std::move(r)), buf(256 * 1024) {}
  DecompressingReader reader;
  std::vector<char> buf;
  std::optional<Error> error;  // what the reader said, when it failed
  TarGuard* guard = nullptr;   // sees every byte of the tar, when set
  bool refused = false;        // `error` is the guard's: a member broke a rule

  static la_ssize_t read(struct archive* a, void* self, const void** out) {
    auto* d = static_cast<Decompressed*>(self);
    auto n = d->reader.read(d->buf);
    if (n && d->guard != nullptr) {
      if (auto st = d->guard->feed(std::string_view(d->buf.data(), *n)); !st) {
        d->refused = true;
        n = st.error();
      }
    }
    if (!n) {
      d->error = n.error();
      archive_set_error(a, EIO, "%s", n.error().message.c_str());
      return -1;
    }
    *out = d->buf.data();
    return static_cast<la_ssize_t>(*n);
  }

  // Reads what is left, so that the codec's check at the very end is made
  // (libarchive stops at the tar's end-of-archive blocks, before it).
  Status drain() {
    for (;;) {
      auto n = reader.read(buf);
      if (!n) {
        error = n.error();
        return n.error();
      }
      if (*n == 0) return {};
    }
  }
};

struct OpenArchive {
  std::unique_ptr<Decompressed> source;  // compressed archives; outlives `a`
  ArchivePtr a;
  struct archive* get() const { return a.get(); }
};

Result<OpenArchive> open_archive(const fs::path& path) {
  OpenArchive open;
  auto reader = DecompressingReader::open(path);
  if (!reader) return reader.error();
  const bool compressed = reader->compression() != Compression::none;
  if (compressed) open.source = std::make_unique<Decompressed>(std::move(*reader));
  open.a.reset(archive_read_new());
  if (!compressed) archive_read_support_filter_all(open.a.get());  // a codec hpn does not read itself
  archive_read_support_format_tar(open.a.get());
  archive_read_support_format_gnutar(open.a.get());
  // An uncompressed file is read by libarchive itself, which seeks past the
  // members it does not want.
  const int r = compressed ? archive_read_open(open.a.get(), open.source.get(), nullptr, &Decompressed::read, nullptr)
                           : archive_read_open_filename(open.a.get(), path.c_str(), 256 * 1024);
  if (r != ARCHIVE_OK) {
    if (open.source && open.source->error) return *open.source->error;
    return Error::about(ErrorKind::invalid_argument, path.string(),
                        " is not a tar archive (" + message_of(open.get()) + ")");
  }
  return open;
}

std::string member_name(archive_entry* e) {
  std::string name = archive_entry_pathname(e) != nullptr ? archive_entry_pathname(e) : "";
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  return name;
}

bool worth_reading(const std::string& name) {
  return name == "manifest.json" || name == "index.json" || name.rfind("blobs/", 0) == 0 ||
         (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0);
}

constexpr std::string_view k_again = "; save it again, or copy it again from where it was saved";

Error corrupt(const fs::path& path, const OpenArchive& open) {
  if (open.source && open.source->error) {
    if (open.source->refused) return *open.source->error;
    return Error(open.source->error->kind, open.source->error->message + std::string(k_again));
  }
  return Error::about(ErrorKind::invalid_argument, path.string(),
                      " is corrupt or truncated (" + message_of(open.get()) + ")" + std::string(k_again));
}

}  // namespace

std::string Layout::blob_member(const std::string& digest) {
  const auto colon = digest.find(':');
  return "blobs/" + digest.substr(0, colon) + "/" + digest.substr(colon + 1);
}

const std::string* Layout::blob(const std::string& digest) const {
  auto it = small.find(blob_member(digest));
  return it == small.end() ? nullptr : &it->second;
}

bool Layout::has_blob(const std::string& digest) const { return sizes.count(blob_member(digest)) != 0; }

Result<Layout> scan_layout(const fs::path& path) {
  Layout layout;
  layout.path = path;
  // What is not a tar gets the words it gets when named on the command line.
  if (auto st = check_image_archive(path); !st) return st.error();
  auto a = open_archive(path);
  if (!a) return a.error();
  layout.compression = a->source ? a->source->reader.compression() : Compression::none;
  // Every member name, and those of the layer tars, keeps the rules: a compressed
  // archive's tar is checked as it is read here; libarchive seeks past an
  // uncompressed one's layers, so that one gets a pass of its own.
  TarGuard guard(path.string());
  if (a->source) {
    a->source->guard = &guard;
  } else if (auto st = check_archive_members(path); !st) {
    return st.error();
  }
  std::size_t kept = 0;
  archive_entry* e = nullptr;
  int r;
  std::map<std::string, std::string> links;  // member -> the member it names
  while ((r = archive_read_next_header(a->get(), &e)) == ARCHIVE_OK) {
    const std::string name = member_name(e);
    // Docker's legacy layout writes a layer that two images share once and links the
    // other's layer.tar to it (a symbolic link, relative to its directory).
    if (archive_entry_filetype(e) == AE_IFLNK && archive_entry_symlink(e) != nullptr) {
      fs::path target = fs::path(name).parent_path() / archive_entry_symlink(e);
      links[name] = target.lexically_normal().generic_string();
      continue;
    }
    if (archive_entry_hardlink(e) != nullptr) {
      std::string target = archive_entry_hardlink(e);
      while (target.rfind("./", 0) == 0) target.erase(0, 2);
      links[name] = target;
      continue;
    }
    if (archive_entry_filetype(e) != AE_IFREG) continue;
    const auto size = archive_entry_size(e);
    layout.sizes[name] = static_cast<std::uint64_t>(size);
    if (!worth_reading(name) || size > k_max_json_member || kept + static_cast<std::size_t>(size) > k_max_json_total) {
      continue;
    }
    std::string content;
    content.reserve(static_cast<std::size_t>(size));
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a->get(), buf, sizeof buf)) > 0) content.append(buf, static_cast<std::size_t>(n));
    if (n < 0) return corrupt(path, *a);
    if (!content.empty() && (content.front() == '{' || content.front() == '[')) {
      kept += content.size();
      layout.small.emplace(name, std::move(content));
    }
  }
  if (r != ARCHIVE_EOF) return corrupt(path, *a);
  // Nothing is pushed from a compressed archive whose codec check fails.
  if (a->source) {
    if (auto st = a->source->drain(); !st) return corrupt(path, *a);
  }
  auto m = layout.small.find("manifest.json");
  if (m == layout.small.end()) {
    return Error::about(ErrorKind::invalid_argument, path.string(),
                        " is not an image archive (no manifest.json); give a file that hpn save, docker "
                        "save or podman save wrote");
  }
  auto j = nlohmann::json::parse(m->second, nullptr, false);
  if (!j.is_array()) {
    return Error::about(ErrorKind::invalid_argument, path.string(), ": manifest.json is not a JSON array");
  }
  // index.json (OCI layout): the descriptor each name points at.
  struct Named {
    std::string digest, media_type, referrers;
  };
  std::map<std::string, Named> by_name;
  if (auto ix = layout.small.find("index.json"); ix != layout.small.end()) {
    auto ij = nlohmann::json::parse(ix->second, nullptr, false);
    if (ij.is_object() && ij.contains("manifests") && ij["manifests"].is_array()) {
      for (const auto& d : ij["manifests"]) {
        if (!d.is_object() || !d.contains("digest") || !d["digest"].is_string()) continue;
        if (!d.contains("annotations") || !d["annotations"].is_object()) continue;
        for (const char* key : {"io.containerd.image.name", "org.opencontainers.image.ref.name"}) {
          if (auto it = d["annotations"].find(key); it != d["annotations"].end() && it->is_string()) {
            const auto& a = d["annotations"];
            const auto referrers = a.find(k_referrers_annotation);
            by_name.emplace(it->get<std::string>(),
                            Named{d["digest"].get<std::string>(), d.value("mediaType", std::string()),
                                  referrers != a.end() && referrers->is_string() ? referrers->get<std::string>()
                                                                                  : std::string()});
          }
        }
      }
    }
  }
  for (const auto& item : j) {
    if (!item.is_object()) continue;
    LayoutImage img;
    if (auto it = item.find("RepoTags"); it != item.end() && it->is_array()) {
      for (const auto& t : *it) {
        if (t.is_string()) img.tags.push_back(t.get<std::string>());
      }
    }
    if (auto it = item.find("Config"); it != item.end() && it->is_string()) img.config_member = it->get<std::string>();
    if (auto it = item.find("Layers"); it != item.end() && it->is_array()) {
      for (const auto& l : *it) {
        if (l.is_string()) img.layer_members.push_back(l.get<std::string>());
      }
    }
    while (img.config_member.rfind("./", 0) == 0) img.config_member.erase(0, 2);
    for (auto& l : img.layer_members) {
      while (l.rfind("./", 0) == 0) l.erase(0, 2);
      for (int hops = 0; hops < 8 && links.count(l) != 0; ++hops) l = links.at(l);
    }
    for (const auto& tag : img.tags) {
      // Docker names "nginx:1" as "docker.io/library/nginx:1" in index.json.
      for (const std::string& name : {tag, "docker.io/" + tag, "docker.io/library/" + tag}) {
        if (auto it = by_name.find(name); it != by_name.end()) {
          img.top_digest = it->second.digest;
          img.top_media_type = it->second.media_type;
          img.referrers_digest = it->second.referrers;
          break;
        }
      }
      if (!img.top_digest.empty()) break;
    }
    layout.images.push_back(std::move(img));
  }
  return layout;
}

struct MemberStream::Impl {
  fs::path path;
  OpenArchive open;
};

MemberStream::MemberStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MemberStream::~MemberStream() = default;
MemberStream::MemberStream(MemberStream&&) noexcept = default;
MemberStream& MemberStream::operator=(MemberStream&&) noexcept = default;

Result<MemberStream> MemberStream::open(const fs::path& path, const std::string& member) {
  auto a = open_archive(path);
  if (!a) return a.error();
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->open = std::move(*a);
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(impl->open.get(), &e)) == ARCHIVE_OK) {
    if (archive_entry_filetype(e) == AE_IFREG && member_name(e) == member) return MemberStream(std::move(impl));
  }
  if (r != ARCHIVE_EOF) return corrupt(path, impl->open);
  return Error::about(ErrorKind::invalid_argument, path.string(), " lacks " + member + ", which its manifest names");
}

Result<bool> MemberStream::next(const std::string& member) {
  archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(impl_->open.get(), &e)) == ARCHIVE_OK) {
    if (archive_entry_filetype(e) == AE_IFREG && member_name(e) == member) return true;
  }
  if (r != ARCHIVE_EOF) return corrupt(impl_->path, impl_->open);
  return false;
}

Result<std::size_t> MemberStream::read(std::span<char> buf) {
  const la_ssize_t n = archive_read_data(impl_->open.get(), buf.data(), buf.size());
  if (n < 0) return corrupt(impl_->path, impl_->open);
  return static_cast<std::size_t>(n);
}

}  // namespace hpn::archive
