// The module's entry table, the one symbol it exports.
#include "module.hpp"

namespace hpn::containerd {

Result<std::shared_ptr<Connection>> connect(const ContainerdSpec& spec) {
  if (spec.ns.empty()) {
    return Error(ErrorKind::invalid_argument, "the containerd namespace is empty; name one with --namespace");
  }
  return Connection::open(spec.socket, spec.ns);
}

namespace {

const endpoint::ContainerdModule k_module{.abi = endpoint::k_containerd_module_abi,
                                          .source = &open_source,
                                          .destination = &open_destination,
                                          .catalog = &open_catalog};

}  // namespace

}  // namespace hpn::containerd

extern "C" __attribute__((visibility("default"))) const hpn::endpoint::ContainerdModule* hpn_containerd_module() {
  return &hpn::containerd::k_module;
}
