// Streaming decoder for the daemon's progress streams (jsonmessage): concatenated
// JSON objects separated by \r\n, \n or nothing, split across chunks at any byte.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "hpn/util/result.hpp"

namespace hpn::engine {

struct JsonMessage {
  std::string status;
  std::string id;
  std::string progress;
  std::string stream;
  std::optional<std::int64_t> current;  // progressDetail.current
  std::optional<std::int64_t> total;    // progressDetail.total
  nlohmann::json aux;                   // null when absent
  std::string error;                    // error or errorDetail.message; empty if none
  int error_code = 0;                   // errorDetail.code
};

// An integer from daemon JSON without undefined behaviour: integers as they are,
// floats only when finite and in range; nullopt otherwise (found by fuzz_jsonmessage).
std::optional<std::int64_t> json_int(const nlohmann::json& value);

// Parse one object (already delimited). Returns a protocol error when `text` is not
// a JSON object.
Result<JsonMessage> parse_json_message(std::string_view text);

class JsonMessageDecoder {
 public:
  // Called for each message that carries no error. Returning an error stops decoding.
  using Handler = std::function<Status(const JsonMessage&)>;

  // Largest single object accepted; a longer one is a protocol error.
  static constexpr std::size_t k_max_object = 1 << 20;

  explicit JsonMessageDecoder(Handler handler) : handler_(std::move(handler)) {}

  // Feed bytes. Returns the first failure: an `error`/`errorDetail` in a message
  // (kind classified from its text), bytes that are not JSON objects (protocol), or
  // the handler's own error. After a failure every later call returns it again.
  Status feed(std::string_view bytes);
  // End of stream: a half-received object is a protocol error.
  Status finish();

  std::size_t messages() const { return messages_; }

 private:
  Status emit();

  Handler handler_;
  std::string buf_;  // the object being collected
  int depth_ = 0;
  bool in_string_ = false;
  bool escape_ = false;
  std::size_t messages_ = 0;
  std::optional<Error> failed_;
};

}  // namespace hpn::engine
