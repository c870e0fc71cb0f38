#include "hpn/engine/jsonmessage.hpp"

#include <cmath>
#include <cstdint>

#include "hpn/engine/errors.hpp"

namespace hpn::engine {
namespace {

std::optional<std::int64_t> int_field(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? std::nullopt : json_int(*it);
}

std::string string_field(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  if (it != obj.end() && it->is_string()) {
    return it->get<std::string>();
  }
  return {};
}

std::string printable_excerpt(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80)) {
    out.push_back((c >= 0x20 && c < 0x7f) ? c : '?');
  }
  return out;
}

}  // namespace

std::optional<std::int64_t> json_int(const nlohmann::json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<std::int64_t>();
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    return u > static_cast<std::uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<std::int64_t>(u);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d >= -9.2e18 && d <= 9.2e18) return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

Result<JsonMessage> parse_json_message(std::string_view text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(ErrorKind::protocol,
                 "daemon sent a malformed progress message: '" + printable_excerpt(text) + "'");
  }
  JsonMessage m;
  m.status = string_field(j, "status");
  m.id = string_field(j, "id");
  m.progress = string_field(j, "progress");
  m.stream = string_field(j, "stream");
  if (auto pd = j.find("progressDetail"); pd != j.end() && pd->is_object()) {
    m.current = int_field(*pd, "current");
    m.total = int_field(*pd, "total");
  }
  if (auto aux = j.find("aux"); aux != j.end()) {
    m.aux = *aux;
  }
  if (auto ed = j.find("errorDetail"); ed != j.end() && ed->is_object()) {
    m.error = string_field(*ed, "message");
    m.error_code = static_cast<int>(int_field(*ed, "code").value_or(0));
  }
  if (m.error.empty()) {
    m.error = string_field(j, "error");
  }
  if (m.error.empty() && j.contains("errorDetail")) {
    m.error = "daemon reported an error without a message";
  }
  return m;
}

Status JsonMessageDecoder::emit() {
  auto msg = parse_json_message(buf_);
  buf_.clear();
  if (!msg) {
    return msg.error();
  }
  ++messages_;
  if (!msg->error.empty()) {
    ErrorKind kind = classify_message(msg->error, ErrorKind::daemon_error);
    if (msg->error_code == 401 || msg->error_code == 403) {
      kind = ErrorKind::unauthorized;
    } else if (msg->error_code == 404) {
      kind = ErrorKind::not_found;
    }
    return Error(kind, msg->error);
  }
  return handler_ ? handler_(*msg) : Status{};
}

Status JsonMessageDecoder::feed(std::string_view bytes) {
  if (failed_) {
    return *failed_;
  }
  auto fail = [&](Error e) -> Status {
    failed_ = e;
    return e;
  };
  std::size_t start = 0;  // start of the not-yet-copied part of an open object
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    if (depth_ == 0) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        continue;
      }
      if (c != '{') {
        return fail(Error(ErrorKind::protocol, "daemon sent non-JSON data in a progress stream: '" +
                                                   printable_excerpt(bytes.substr(i)) + "'"));
      }
      depth_ = 1;
      start = i;
      continue;
    }
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (--depth_ == 0) {
        buf_.append(bytes.substr(start, i + 1 - start));
        if (auto st = emit(); !st) {
          return fail(st.error());
        }
      }
    }
  }
  if (depth_ > 0) {
    buf_.append(bytes.substr(start));
    if (buf_.size() > k_max_object) {
      return fail(Error(ErrorKind::protocol, "daemon sent a progress message over 1 MiB"));
    }
  }
  return {};
}

Status JsonMessageDecoder::finish() {
  if (failed_) {
    return *failed_;
  }
  if (depth_ > 0) {
    failed_ = Error(ErrorKind::protocol, "progress stream ended inside a message: '" +
                                             printable_excerpt(buf_) + "'");
    return *failed_;
  }
  return {};
}

}  // namespace hpn::engine
