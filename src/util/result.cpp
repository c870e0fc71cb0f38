#include "hpn/util/result.hpp"

namespace hpn {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::unauthorized: return "unauthorized";
    case ErrorKind::conflict: return "conflict";
    case ErrorKind::invalid_argument: return "invalid_argument";
    case ErrorKind::daemon_unreachable: return "daemon_unreachable";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::protocol: return "protocol";
    case ErrorKind::io: return "io";
    case ErrorKind::no_space: return "no_space";
    case ErrorKind::registry_unavailable: return "registry_unavailable";
    case ErrorKind::daemon_error: return "daemon_error";
    case ErrorKind::unsupported: return "unsupported";
  }
  return "unknown";
}

bool is_transient(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::daemon_unreachable:
    case ErrorKind::timeout:
    case ErrorKind::registry_unavailable:
      return true;
    default:
      return false;
  }
}

std::string Error::describe() const {
  std::string out(to_string(kind));
  out += ": ";
  out += message;
  return out;
}

Error Error::with_context(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  return e;
}

}  // namespace hpn
