// The image records of one namespace as ls and rmi see them. A record names an
// image by tag; containerd's CRI plugin adds two more for each image it manages
// (NAME@sha256:... and the config digest), which are the same image again.
#include <algorithm>
#include <set>

#include "hpn/registry/manifest.hpp"
#include "module.hpp"

namespace hpn::containerd {

namespace {

using endpoint::containerd_name_by_digest;
using endpoint::ContainerdImage;

class Catalog final : public endpoint::ContainerdCatalog {
 public:
  Catalog(std::shared_ptr<Connection> c, const std::atomic<bool>* flag) : c_(std::move(c)), flag_(flag) {}

  Result<std::vector<ContainerdImage>> list() const override {
    auto records = c_->images();
    if (!records) return records.error();
    std::set<std::string> tagged;
    for (const auto& r : *records) {
      if (!containerd_name_by_digest(r.name)) tagged.insert(r.target.digest);
    }
    std::set<std::string> untagged;
    std::vector<ContainerdImage> out;
    for (const auto& r : *records) {
      if (containerd_name_by_digest(r.name) &&
          (tagged.contains(r.target.digest) || !untagged.insert(r.target.digest).second)) {
        continue;
      }
      auto image = describe(r);
      if (!image) return image.error();
      out.push_back(std::move(*image));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
  }

  Result<ContainerdImage> find(const image::Reference& ref) const override {
    auto record = c_->image(ref.canonical());
    if (!record) return record.error();
    if (!*record) return missing(ref);
    return describe(**record);
  }

  Result<ops::Removed> remove(const image::Reference& ref) const override {
    const std::string name = ref.canonical();
    auto records = c_->images();
    if (!records) return records.error();
    const auto record =
        std::find_if(records->begin(), records->end(), [&](const ImageRecord& r) { return r.name == name; });
    if (record == records->end()) return missing(ref);
    const std::string target = record->target.digest;
    const bool kept = std::any_of(records->begin(), records->end(), [&](const ImageRecord& r) {
      return r.name != name && !containerd_name_by_digest(r.name) && r.target.digest == target;
    });
    if (auto st = c_->delete_image(name); !st) return st.error().told_of(ref.original);
    ops::Removed removed{.untagged = 1, .deleted = 0};
    if (kept) return removed;
    for (const auto& r : *records) {
      if (!containerd_name_by_digest(r.name) || r.target.digest != target) continue;
      if (auto st = c_->delete_image(r.name); !st && st.error().kind != ErrorKind::not_found) {
        return st.error().told_of(ref.original);
      }
    }
    removed.deleted = 1;
    return removed;
  }

 private:
  Error missing(const image::Reference& ref) const {
    return Error::about(ErrorKind::not_found, ref.original,
                        " is not an image of namespace " + c_->ns() + " of containerd at " + c_->socket());
  }

  // The record with its image ID and size; a record whose content is gone (or has
  // no entry for this machine) is still listed, without them.
  Result<ContainerdImage> describe(const ImageRecord& r) const {
    ContainerdImage image{.name = r.name, .digest = r.target.digest, .id = {}, .size = 0};
    auto body = read_small(*c_, r.target.digest, flag_);
    if (!body) {
      if (body.error().kind == ErrorKind::not_found) return image;
      return body.error();
    }
    auto manifest_body = platform_manifest(*c_, r.target, *body, r.name, flag_);
    if (!manifest_body) {
      if (manifest_body.error().kind == ErrorKind::not_found) return image;
      return manifest_body.error();
    }
    if (!*manifest_body) return image;
    auto manifest = registry::parse_image_manifest(**manifest_body, "the manifest of " + r.name);
    if (!manifest) return manifest.error();
    image.id = manifest->config.digest;
    image.size = (*manifest_body)->size() + manifest->config.size;
    for (const auto& layer : manifest->layers) image.size += layer.size;
    return image;
  }

  std::shared_ptr<Connection> c_;
  const std::atomic<bool>* flag_;
};

}  // namespace

Result<std::shared_ptr<const endpoint::ContainerdCatalog>> open_catalog(const ContainerdSpec& spec) {
  auto c = connect(spec);
  if (!c) return c.error();
  return std::shared_ptr<const endpoint::ContainerdCatalog>(
      std::make_shared<const Catalog>(std::move(*c), spec.interrupt));
}

}  // namespace hpn::containerd
