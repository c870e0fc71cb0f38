// What a failed request means, by one table each for transfer failures (libcurl's
// result codes) and for HTTP statuses. The kinds decide what is retried
// (is_transient): a connection refused, reset or lost, a body libcurl could not
// send again, a TLS handshake that broke, a timeout, a 5xx that may pass (500,
// 502, 503, 504), 408 and 429. Everything else is reported at once.
#pragma once

#include "hpn/util/result.hpp"

namespace hpn::engine {

// What a failed transfer means, whoever the peer is.
enum class TransferFailure {
  connect,    // no connection was made (refused, unresolved, no route)
  timeout,    // no answer in time
  aborted,    // a callback of ours stopped it (cancel, deadline, our own error)
  lost,       // the connection broke (reset, closed early, nothing received, the body could not be sent again)
  tls,        // the TLS handshake broke
  untrusted,  // the peer's certificate is not trusted, or ours cannot be used: the same answer every time
  local,      // a fault of this process (memory, a bad option, our read or write callback)
  protocol,   // the peer said something that cannot be used
};

// The failure of libcurl's result `curl_code` (a CURLcode other than CURLE_OK).
TransferFailure transfer_failure(int curl_code);

// Whether asking again may succeed.
bool is_transient(TransferFailure f);

// The kind of an HTTP status that a registry answered in place of what was asked
// (2xx and 3xx are not failures and give protocol).
ErrorKind registry_status_kind(long status);

}  // namespace hpn::engine
