// containerd as an endpoint (containerd[:unix:///PATH]): images read from and
// written into its content store over its gRPC API, named by image records in
// one namespace, and unpacked into a snapshotter so a container starts from them
// at once.
//
// The gRPC client lives in a module of its own (hpn-containerd.so, beside the hpn
// binary or in hpn's library directory), loaded the first time a containerd
// endpoint is opened: the other roads never load gRPC and its libraries.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hpn/image/reference.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/transfer/roles.hpp"
#include "hpn/util/result.hpp"

namespace hpn::endpoint {

inline constexpr const char* k_containerd_default_namespace = "k8s.io";
inline constexpr const char* k_containerd_default_snapshotter = "overlayfs";

struct ContainerdSpec {
  std::string socket;  // a path; empty: the first default socket that exists
  std::string ns = k_containerd_default_namespace;
  std::string snapshotter = k_containerd_default_snapshotter;
  const std::atomic<bool>* interrupt = nullptr;
};

// Where hpn looks for containerd when no socket is named, in order.
const std::vector<std::filesystem::path>& containerd_default_sockets();

// The socket path of `location` (unix:///PATH or /PATH; empty: the defaults); the
// error names the location and what hpn accepts.
Result<std::string> containerd_socket(const std::string& location);

Result<std::shared_ptr<const transfer::ImageSource>> open_containerd_source(const ContainerdSpec& spec);
Result<std::shared_ptr<const transfer::ImageDestination>> open_containerd_destination(const ContainerdSpec& spec);

// Whether an image record's name names its image by digest (NAME@sha256:... or a
// bare sha256:..., the names containerd's CRI plugin adds beside a tag) rather than
// by tag.
inline bool containerd_name_by_digest(std::string_view name) {
  return name.starts_with("sha256:") || name.find('@') != std::string_view::npos;
}

// An image record as `ls` shows it: its name, the manifest or index it names and,
// for this machine's platform, the config digest (the image ID) and the bytes of
// manifest, config and layers.
struct ContainerdImage {
  std::string name;
  std::string digest;
  std::string id;  // "" when no entry of an index runs here
  std::uint64_t size = 0;
};

// The image records of one namespace, listed, looked up and removed. Shared by the
// workers of a batch.
class ContainerdCatalog {
 public:
  virtual ~ContainerdCatalog() = default;
  // Every image, once: the names containerd's CRI plugin adds for an image already
  // named by a tag (NAME@sha256:..., sha256:...) are left out.
  virtual Result<std::vector<ContainerdImage>> list() const = 0;
  // not_found when no record has the name of `ref`.
  virtual Result<ContainerdImage> find(const image::Reference& ref) const = 0;
  // Deletes the record of `ref`; when no other tag names its image, the digest
  // names of that image go too, and garbage collection frees its content.
  virtual Result<ops::Removed> remove(const image::Reference& ref) const = 0;
};

Result<std::shared_ptr<const ContainerdCatalog>> open_containerd_catalog(const ContainerdSpec& spec);

// The module's entry points: one table, looked up by name once it is loaded.
struct ContainerdModule {
  int abi = 0;  // k_containerd_module_abi
  Result<std::shared_ptr<const transfer::ImageSource>> (*source)(const ContainerdSpec& spec);
  Result<std::shared_ptr<const transfer::ImageDestination>> (*destination)(const ContainerdSpec& spec);
  Result<std::shared_ptr<const ContainerdCatalog>> (*catalog)(const ContainerdSpec& spec);
};
inline constexpr int k_containerd_module_abi = 2;
inline constexpr const char* k_containerd_module_symbol = "hpn_containerd_module";

}  // namespace hpn::endpoint
