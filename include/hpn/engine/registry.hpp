// What a daemon's settings say about the registries it reaches.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace hpn::engine {

// Whether the daemon's GET /info says it reaches `host` ("name[:port]") as an
// insecure registry: marked not Secure, or an IPv4 address (localhost counts as
// 127.0.0.1) inside one of its insecure CIDRs (127.0.0.0/8 by default).
bool daemon_treats_as_insecure(const nlohmann::json& info, const std::string& host);

}  // namespace hpn::engine
