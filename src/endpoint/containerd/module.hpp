// The containerd module's ways in, each from a spec whose socket is resolved: the
// transfer pipeline's source and destination, and the catalog of image records
// that ls and rmi use.
#pragma once

#include <memory>

#include "connection.hpp"
#include "hpn/endpoint/containerd.hpp"

namespace hpn::containerd {

using endpoint::ContainerdSpec;

// A connection in the spec's namespace; the error says what is wrong with the spec
// or which socket did not answer.
Result<std::shared_ptr<Connection>> connect(const ContainerdSpec& spec);

Result<std::shared_ptr<const transfer::ImageSource>> open_source(const ContainerdSpec& spec);
Result<std::shared_ptr<const transfer::ImageDestination>> open_destination(const ContainerdSpec& spec);
Result<std::shared_ptr<const endpoint::ContainerdCatalog>> open_catalog(const ContainerdSpec& spec);

}  // namespace hpn::containerd
