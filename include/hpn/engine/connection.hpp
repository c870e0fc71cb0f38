// One HTTP connection (a libcurl easy handle) reused across requests: to the
// daemon at its endpoint, or to registries named by absolute URLs. Every HTTP
// user in hpn goes through here. Bodies stream both ways; nothing here holds a
// whole body in memory except the (size-capped) body of an error response.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hpn/engine/endpoint.hpp"
#include "hpn/util/result.hpp"
#include "hpn/util/stream.hpp"

namespace hpn::engine {

using namespace std::chrono_literals;

inline constexpr std::chrono::milliseconds k_default_connect_timeout = 10s;
inline constexpr std::chrono::milliseconds k_default_idle_timeout = 300s;

// Response bodies go to a sink, request bodies come from a source (util/stream.hpp).
using Sink = util::Sink;
using Source = util::Source;
using util::string_source;

struct Response;

struct Request {
  std::string method = "GET";
  std::string path;  // with the version prefix, e.g. /v1.41/images/json
  std::vector<std::pair<std::string, std::string>> query;  // escaped by perform()
  std::vector<std::string> headers;                        // "Name: value"; never logged
  std::optional<std::string> body;                         // small bodies (JSON)
  Source upload;                                           // streamed body
  // The streamed body's length when known beforehand (sent as Content-Length);
  // otherwise the body goes chunked.
  std::optional<std::uint64_t> upload_size;
  std::string content_type;
  std::chrono::milliseconds timeout{0};  // whole request; 0 = none
  // A registry request: the absolute URL (scheme://host[:port]/path) instead of the
  // endpoint's base URL and `path`, with its TLS settings (nullopt: the system CAs,
  // verified). Redirects are followed up to `max_redirects`; libcurl sends no
  // Authorization header to another host.
  std::string url;
  std::optional<TlsFiles> tls;
  int max_redirects = 0;
  // Called once with the status and headers of a 2xx response before its first body
  // byte reaches the sink (a Range answer, say, is checked here); an error aborts.
  std::function<Status(const Response&)> on_response;
};

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error_body;  // body of a non-2xx response (capped); 2xx bodies go to the sink
  std::uint64_t bytes_received = 0;
  long new_connections = 0;  // connections opened for this request (0 = reused)

  std::string header(const std::string& lower_name) const;
  bool success() const { return status >= 200 && status < 300; }
};

struct ConnectionOptions {
  std::chrono::milliseconds connect_timeout = k_default_connect_timeout;
  // Abort when no byte moves for this long.
  std::chrono::milliseconds idle_timeout = k_default_idle_timeout;
  // Use the proxies of the environment (HTTPS_PROXY, HTTP_PROXY, NO_PROXY): for
  // registries. The daemon's API is never routed through a proxy.
  bool use_proxy = false;
  // Proxies to use instead of the environment's (hpn's proxy.* keys): for http://
  // and https:// URLs; NO_PROXY still exempts hosts. Empty: the environment's.
  std::string http_proxy;
  std::string https_proxy;
};

class Connection {
 public:
  Connection(Endpoint endpoint, ConnectionOptions options = {});
  // A connection for absolute-URL requests only (registries).
  explicit Connection(ConnectionOptions options);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Perform a request. 2xx bodies stream to `sink`; other bodies are captured in
  // Response::error_body. Transport failures come back as errors that name the
  // endpoint and how it was chosen.
  Result<Response> perform(const Request& request, const Sink& sink = {});

  // Abort the transfer in progress (thread-safe); later requests fail as cancelled
  // until reset_cancel().
  void cancel();
  void reset_cancel();
  // Also abort when *flag becomes true (a batch-wide interrupt). Not owned.
  void watch(const std::atomic<bool>* flag);
  // Fail requests still running at `deadline` as timeout (a per-operation limit);
  // nullopt clears it.
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline,
                    std::string why = {});

  const Endpoint& endpoint() const;
  const ConnectionOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encode a query component.
std::string url_escape(std::string_view s);

}  // namespace hpn::engine
