// Finding containerd's socket, and loading the module that speaks its API.
#include "hpn/endpoint/containerd.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <mutex>
#include <system_error>

#ifndef HPN_MODULE_DIR
#define HPN_MODULE_DIR "/usr/local/lib/hpn"
#endif

namespace hpn::endpoint {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_module_file = "hpn-containerd.so";

// Where the module may be: beside the running binary (a build tree), then where
// hpn installs it.
std::vector<fs::path> module_candidates() {
  std::vector<fs::path> out;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back(self.parent_path() / k_module_file);
  out.push_back(fs::path(HPN_MODULE_DIR) / k_module_file);
  return out;
}

Result<const ContainerdModule*> load_module() {
  static std::mutex mu;
  static const ContainerdModule* loaded = nullptr;
  std::lock_guard lock(mu);
  if (loaded != nullptr) return loaded;
  std::string tried;
  for (const auto& path : module_candidates()) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path.string();
      continue;
    }
    // Never closed: the endpoints it makes live until the process ends.
    void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      return Error(ErrorKind::unsupported, "cannot load hpn's containerd module " + path.string() + ": " + ::dlerror() +
                                               "; is gRPC installed (libgrpc++)?");
    }
    using Entry = const ContainerdModule* (*)();
    auto entry = reinterpret_cast<Entry>(::dlsym(handle, k_containerd_module_symbol));
    const ContainerdModule* module = entry != nullptr ? entry() : nullptr;
    if (module == nullptr || module->abi != k_containerd_module_abi) {
      return Error(ErrorKind::unsupported, path.string() + " is not the containerd module of this hpn; reinstall hpn");
    }
    loaded = module;
    return loaded;
  }
  return Error(ErrorKind::unsupported,
               "containerd endpoints need hpn's containerd module, which is not installed (looked for " + tried + ")");
}

}  // namespace

const std::vector<fs::path>& containerd_default_sockets() {
  static const std::vector<fs::path> sockets{"/run/containerd/containerd.sock", "/run/k3s/containerd/containerd.sock"};
  return sockets;
}

Result<std::string> containerd_socket(const std::string& location) {
  if (location.empty()) {
    std::string tried;
    for (const auto& s : containerd_default_sockets()) {
      std::error_code ec;
      if (fs::exists(s, ec)) return s.string();
      tried += (tried.empty() ? "" : " or ") + s.string();
    }
    return Error(ErrorKind::daemon_unreachable,
                 "no containerd socket at " + tried + "; name it: containerd:unix:///PATH");
  }
  std::string path = location;
  if (path.rfind("unix://", 0) == 0) path = path.substr(7);
  if (path.empty() || path.front() != '/') {
    return Error(ErrorKind::invalid_argument, "endpoint 'containerd:" + location +
                                                  "': containerd is reached through its socket: "
                                                  "containerd:unix:///PATH or containerd:/PATH");
  }
  return path;
}

namespace {

// The socket resolved, the module loaded, then its `make` for the endpoint.
template <typename Make>
auto through_module(const ContainerdSpec& spec, Make make)
    -> decltype(make(std::declval<const ContainerdModule&>(), spec)) {
  auto socket = containerd_socket(spec.socket);
  if (!socket) return socket.error();
  auto module = load_module();
  if (!module) return module.error();
  ContainerdSpec resolved = spec;
  resolved.socket = std::move(*socket);
  return make(**module, resolved);
}

}  // namespace

Result<std::shared_ptr<const transfer::ImageSource>> open_containerd_source(const ContainerdSpec& spec) {
  return through_module(spec, [](const ContainerdModule& m, const ContainerdSpec& s) { return m.source(s); });
}

Result<std::shared_ptr<const transfer::ImageDestination>> open_containerd_destination(const ContainerdSpec& spec) {
  return through_module(spec, [](const ContainerdModule& m, const ContainerdSpec& s) { return m.destination(s); });
}

Result<std::shared_ptr<const ContainerdCatalog>> open_containerd_catalog(const ContainerdSpec& spec) {
  return through_module(spec, [](const ContainerdModule& m, const ContainerdSpec& s) { return m.catalog(s); });
}

}  // namespace hpn::endpoint
