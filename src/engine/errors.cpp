#include "hpn/engine/errors.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <nlohmann/json.hpp>

namespace hpn::engine {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains_any(const std::string& hay, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return hay.find(n) != std::string::npos; });
}

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

ErrorKind classify_message(std::string_view message, ErrorKind fallback) {
  const std::string m = lower(message);
  // Order matters: "pull access denied ... does not exist" is a missing repository,
  // unless the registry said it wants credentials (Docker 28: "... may require
  // authorization: authorization failed: no basic auth credentials").
  if (contains_any(m, {"no space left on device"})) {
    return ErrorKind::no_space;
  }
  if (contains_any(m, {"authorization failed", "no basic auth credentials", "401 unauthorized"})) {
    return ErrorKind::unauthorized;
  }
  if (contains_any(m, {"no such image", "not found", "manifest unknown", "does not exist",
                       "name unknown", "no such file", "reference does not exist"})) {
    return ErrorKind::not_found;
  }
  if (contains_any(m, {"unauthorized", "authentication required", "access denied",
                       "no basic auth credentials", "incorrect username or password",
                       "denied:"})) {
    return ErrorKind::unauthorized;
  }
  if (contains_any(m, {"conflict", "is using its referenced image", "image is being used",
                       "image is in use"})) {
    return ErrorKind::conflict;
  }
  if (contains_any(m, {"invalid reference format", "invalid tag", "invalid argument",
                       "repository name must", "invalid platform"})) {
    return ErrorKind::invalid_argument;
  }
  if (contains_any(m, {"i/o timeout", "tls handshake timeout", "timeout exceeded",
                       "connection refused", "connection reset", "service unavailable",
                       "bad gateway", "gateway timeout", "too many requests",
                       "unexpected eof", "toomanyrequests", "server misbehaving",
                       "502 ", "503 ", "504 ", "received unexpected http status: 5"})) {
    return ErrorKind::registry_unavailable;
  }
  return fallback;
}

std::string message_from_body(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_discarded() && j.is_object()) {
    if (auto it = j.find("message"); it != j.end() && it->is_string()) {
      return it->get<std::string>();
    }
    if (auto it = j.find("errorDetail"); it != j.end() && it->is_object()) {
      if (auto m = it->find("message"); m != it->end() && m->is_string()) {
        return m->get<std::string>();
      }
    }
    if (auto it = j.find("error"); it != j.end() && it->is_string()) {
      return it->get<std::string>();
    }
    if (auto it = j.find("cause"); it != j.end() && it->is_string()) {
      return it->get<std::string>();
    }
  }
  constexpr std::size_t k_max = 512;
  std::string text = trim(body.substr(0, k_max));
  return text.empty() ? std::string("(empty response body)") : text;
}

Error error_from_response(long http_status, std::string_view body) {
  std::string msg = message_from_body(body);
  ErrorKind kind;
  switch (http_status) {
    case 400: kind = classify_message(msg, ErrorKind::invalid_argument); break;
    case 401:
    case 403: kind = ErrorKind::unauthorized; break;
    case 404: kind = ErrorKind::not_found; break;
    case 409: kind = ErrorKind::conflict; break;
    case 502:
    case 503:
    case 504: kind = ErrorKind::registry_unavailable; break;
    default: kind = classify_message(msg, ErrorKind::daemon_error); break;
  }
  return {kind, msg + " (HTTP " + std::to_string(http_status) + ")", static_cast<int>(http_status)};
}

}  // namespace hpn::engine
