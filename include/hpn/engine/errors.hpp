// Mapping daemon answers to hpn's Error: HTTP status + body, and messages found
// inside progress streams.
#pragma once

#include <string>
#include <string_view>

#include "hpn/util/result.hpp"

namespace hpn::engine {

// Classify a daemon or registry message ("manifest unknown", "unauthorized: ...").
ErrorKind classify_message(std::string_view message, ErrorKind fallback = ErrorKind::daemon_error);

// The human message inside an error body: Docker's {"message":...}, Podman's
// {"cause","message","response"} or a jsonmessage {"error","errorDetail"}; plain text
// bodies are returned trimmed (and cut to a sane length).
std::string message_from_body(std::string_view body);

// Error for a non-2xx response.
Error error_from_response(long http_status, std::string_view body);

}  // namespace hpn::engine
