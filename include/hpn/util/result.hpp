// One error model for hpn: Result<T> holds either a value or an Error.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace hpn {

// What went wrong, coarse enough for callers to decide (retry, skip, report).
enum class ErrorKind {
  not_found,            // image, file or context does not exist
  unauthorized,         // registry or daemon refused the credentials
  conflict,             // e.g. image in use (HTTP 409)
  invalid_argument,     // bad input from the user (reference, host, flag)
  daemon_unreachable,   // could not connect, or the connection dropped
  timeout,              // connect or idle timeout expired
  cancelled,            // the user interrupted, or cancel() was called
  protocol,             // the peer said something we cannot understand
  io,                   // local file system error
  no_space,             // ENOSPC on a local file
  registry_unavailable, // the registry failed transiently (5xx, timeouts) inside a stream
  daemon_error,         // the daemon reported a failure we could not classify
  unsupported,          // the endpoint or daemon lacks a feature
  not_signed,           // "unsigned": no signature (or attestation) the check asks for refers to the image
  signature_invalid,    // signatures refer to the image, but none verifies with the keys given
};

std::string_view to_string(ErrorKind kind);

// True for kinds worth retrying with backoff.
bool is_transient(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::daemon_error;
  std::string message;  // the whole sentence: what we were doing, then the daemon's or system's own words
  int http_status = 0;  // 0 when no HTTP response was involved
  // The message in fields: the context, then `subject` + `said`. `said` is the
  // words of whoever found the error (the daemon's, the system's, hpn's); `subject`
  // is the file or image an error made about() one names, else empty.
  std::string subject;
  std::string said;
  std::vector<std::string> context;  // what we were doing, outermost first

  Error() = default;
  Error(ErrorKind k, std::string msg, int status = 0)
      : kind(k), message(msg), http_status(status), said(std::move(msg)) {}

  // An error about `subject`: "images/a.tar" + " is corrupt or truncated (...)".
  static Error about(ErrorKind k, std::string subject, std::string said);
  // The same error told of `other` instead of its subject ("the archive", where the
  // line already names the file); unchanged when it has no subject.
  Error told_of(std::string_view other) const;

  // "not_found: no such image: x"
  std::string describe() const;
  // Prefix the message with context: "saving nginx: <message>".
  Error with_context(std::string_view context) const;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(implicit)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(implicit)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(implicit)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace hpn
