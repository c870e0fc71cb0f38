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
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

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

// The module's entry points: one table, looked up by name once it is loaded.
struct ContainerdModule {
  int abi = 0;  // k_containerd_module_abi
  Result<std::shared_ptr<const transfer::ImageSource>> (*source)(const ContainerdSpec& spec);
  Result<std::shared_ptr<const transfer::ImageDestination>> (*destination)(const ContainerdSpec& spec);
};
inline constexpr int k_containerd_module_abi = 1;
inline constexpr const char* k_containerd_module_symbol = "hpn_containerd_module";

}  // namespace hpn::endpoint
