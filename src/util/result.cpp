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
    case ErrorKind::not_signed: return "unsigned";
    case ErrorKind::signature_invalid: return "signature_invalid";
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

namespace {

std::string sentence(const std::vector<std::string>& context, std::string_view subject, std::string_view said) {
  std::string out;
  for (const auto& c : context) out += c + ": ";
  out += subject;
  out += said;
  return out;
}

}  // namespace

Error Error::about(ErrorKind k, std::string subject, std::string said) {
  Error e(k, sentence({}, subject, said));
  e.subject = std::move(subject);
  e.said = std::move(said);
  return e;
}

Error Error::told_of(std::string_view other) const {
  if (subject.empty()) return *this;
  Error e = *this;
  e.subject = std::string(other);
  e.message = sentence(context, other, said);
  return e;
}

Error Error::with_context(std::string_view context) const {
  Error e = *this;
  e.message = std::string(context) + ": " + message;
  e.context.insert(e.context.begin(), std::string(context));
  return e;
}

}  // namespace hpn
