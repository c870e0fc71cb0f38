#include "hpn/engine/connection.hpp"

#include <algorithm>
#include <cstdlib>
#include <cctype>
#include <mutex>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <curl/curl.h>

#include "hpn/engine/failures.hpp"
#include "hpn/util/log.hpp"

namespace hpn::engine {
namespace {

constexpr std::size_t k_max_error_body = 64 * 1024;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlPtr = std::unique_ptr<CURL, CurlFree>;
using SlistPtr = std::unique_ptr<curl_slist, SlistFree>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

std::string url_escape(std::string_view s) {
  static constexpr char k_hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(k_hex[c >> 4]);
      out.push_back(k_hex[c & 0xf]);
    }
  }
  return out;
}

std::string Response::header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string{} : it->second;
}

constexpr long k_receive_buffer_bytes = 128L * 1024;
constexpr long k_send_buffer_bytes = 256L * 1024;

struct Connection::Impl {
  Endpoint endpoint;
  ConnectionOptions options;
  CurlPtr curl;
  std::atomic<bool> cancelled{false};
  const std::atomic<bool>* watched = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::string deadline_why;
  bool deadline_hit = false;

  // Per-request state, used by the callbacks.
  Response* response = nullptr;
  const Sink* sink = nullptr;
  const Source* source = nullptr;
  const std::function<Status(const Response&)>* on_response = nullptr;
  std::optional<Error> callback_error;
  bool status_known = false;
  char errbuf[CURL_ERROR_SIZE]{};

  bool should_abort() const {
    return cancelled.load(std::memory_order_relaxed) ||
           (watched != nullptr && watched->load(std::memory_order_relaxed));
  }

  static size_t on_header(char* data, size_t size, size_t n, void* self_) {
    auto* self = static_cast<Impl*>(self_);
    std::string_view line(data, size * n);
    if (line.substr(0, 5) == "HTTP/") {
      self->response->headers.clear();  // a new response (e.g. after 100 Continue)
      return size * n;
    }
    auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string name = lower(std::string(line.substr(0, colon)));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      self->response->headers[name] = std::string(value);
    }
    return size * n;
  }

  static size_t on_write(char* data, size_t size, size_t n, void* self_) {
    auto* self = static_cast<Impl*>(self_);
    const size_t len = size * n;
    Response& r = *self->response;
    if (!self->status_known) {
      curl_easy_getinfo(self->curl.get(), CURLINFO_RESPONSE_CODE, &r.status);
      self->status_known = true;
      if (r.success() && self->on_response != nullptr && *self->on_response) {
        auto st = (*self->on_response)(r);
        if (!st) {
          self->callback_error = st.error();
          return CURL_WRITEFUNC_ERROR;
        }
      }
    }
    r.bytes_received += len;
    if (!r.success()) {
      if (r.error_body.size() < k_max_error_body) {
        r.error_body.append(data, std::min(len, k_max_error_body - r.error_body.size()));
      }
      return len;
    }
    if (self->sink != nullptr && *self->sink) {
      auto st = (*self->sink)(std::string_view(data, len));
      if (!st) {
        self->callback_error = st.error();
        return CURL_WRITEFUNC_ERROR;
      }
    }
    return len;
  }

  static size_t on_read(char* buf, size_t size, size_t n, void* self_) {
    auto* self = static_cast<Impl*>(self_);
    if (self->should_abort()) {
      return CURL_READFUNC_ABORT;
    }
    auto got = (*self->source)(std::span<char>(buf, size * n));
    if (!got) {
      self->callback_error = got.error();
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }

  static int on_progress(void* self_, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* self = static_cast<Impl*>(self_);
    if (self->deadline && std::chrono::steady_clock::now() >= *self->deadline) {
      self->deadline_hit = true;
      return 1;
    }
    return self->should_abort() ? 1 : 0;
  }

  Error transport_error(CURLcode code, const Request& req) {
    std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(code);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == '\r')) detail.pop_back();
    using Failure = TransferFailure;
    const Failure f = transfer_failure(code);
    if (!req.url.empty()) {
      // A registry, by URL.
      const std::string where = " (" + req.method + " " + req.url + ")";
      switch (f) {
        case Failure::timeout: return {ErrorKind::timeout, "no answer in time: " + detail + where};
        case Failure::aborted: return {ErrorKind::cancelled, "cancelled" + where};
        case Failure::connect:
          return {ErrorKind::registry_unavailable, "cannot reach the registry: " + detail + where};
        case Failure::lost:
          return {ErrorKind::registry_unavailable, "the connection to the registry broke: " + detail + where};
        case Failure::tls: return {ErrorKind::registry_unavailable, "TLS to the registry failed: " + detail + where};
        case Failure::untrusted:
          return {ErrorKind::protocol, "TLS to the registry failed: " + detail + where +
                                           "; give its CA in /etc/docker/certs.d/HOST/ca.crt"};
        case Failure::local: return {ErrorKind::io, "HTTP transfer failed here: " + detail + where};
        case Failure::protocol: break;
      }
      return {ErrorKind::protocol, "HTTP transfer failed: " + detail + where};
    }
    const std::string where = " (" + req.method + " " + req.path + " on " + endpoint.describe() + ")";
    switch (f) {
      case Failure::connect: {
        std::string hint = "; is the daemon running? check -H/--host, DOCKER_HOST or the socket's permissions";
        if (endpoint.transport == Transport::unix_socket) {
          // libcurl does not say why; the socket file does. The endpoint names the path.
          const std::string& p = endpoint.socket_path;
          struct stat st {};
          if (::stat(p.c_str(), &st) != 0) {
            detail = "no socket there";
            hint = "; is the daemon running? check -H/--host or DOCKER_HOST";
          } else if (::access(p.c_str(), R_OK | W_OK) != 0 && errno == EACCES) {
            detail = "Permission denied";
            hint = "; run as root, or add your user to the socket's group (e.g. docker), or fix its permissions";
          } else {
            detail = "connection refused (a stale socket?)";
          }
        }
        return {ErrorKind::daemon_unreachable,
                "cannot connect to the daemon at " + endpoint.describe() + ": " + detail + hint};
      }
      case Failure::timeout: return {ErrorKind::timeout, "daemon did not answer in time: " + detail + where};
      case Failure::aborted: return {ErrorKind::cancelled, "cancelled" + where};
      case Failure::lost:
        return {ErrorKind::daemon_unreachable, "connection to the daemon was lost: " + detail + where};
      case Failure::tls:
      case Failure::untrusted:
        return {ErrorKind::daemon_unreachable,
                "TLS to the daemon failed: " + detail + where +
                    "; check DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem) and DOCKER_TLS_VERIFY"};
      case Failure::local: return {ErrorKind::io, "HTTP transfer failed here: " + detail + where};
      case Failure::protocol: break;
    }
    return {ErrorKind::protocol, "HTTP transfer failed: " + detail + where};
  }
};

Connection::Connection(ConnectionOptions options) : Connection(Endpoint{}, options) {}

Connection::Connection(Endpoint endpoint, ConnectionOptions options)
    : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->endpoint = std::move(endpoint);
  impl_->options = options;
  impl_->curl.reset(curl_easy_init());
}

Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

const Endpoint& Connection::endpoint() const { return impl_->endpoint; }
const ConnectionOptions& Connection::options() const { return impl_->options; }
void Connection::cancel() { impl_->cancelled.store(true); }
void Connection::reset_cancel() { impl_->cancelled.store(false); }
void Connection::watch(const std::atomic<bool>* flag) { impl_->watched = flag; }
void Connection::set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline,
                              std::string why) {
  impl_->deadline = deadline;
  impl_->deadline_why = std::move(why);
}

Result<Response> Connection::perform(const Request& req, const Sink& sink) {
  Impl& s = *impl_;
  CURL* c = s.curl.get();
  if (c == nullptr) {
    return Error(ErrorKind::io, "cannot initialise libcurl");
  }
  if (s.should_abort()) {
    return Error(ErrorKind::cancelled, "cancelled before " + req.method + " " + req.path);
  }
  // Reset options but keep the live connection for reuse.
  curl_easy_reset(c);

  const bool absolute = !req.url.empty();
  std::string url = absolute ? req.url : s.endpoint.base_url() + req.path;
  char sep = '?';
  for (const auto& [k, v] : req.query) {
    url += sep;
    url += url_escape(k);
    url += '=';
    url += url_escape(v);
    sep = '&';
  }

  Response response;
  s.response = &response;
  s.sink = &sink;
  s.source = req.upload ? &req.upload : nullptr;
  s.on_response = &req.on_response;
  s.callback_error.reset();
  s.status_known = false;
  s.errbuf[0] = '\0';
  s.deadline_hit = false;

  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, s.errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (!s.options.use_proxy) {
    curl_easy_setopt(c, CURLOPT_PROXY, "");  // never route the daemon API through a proxy
  } else if (absolute) {
    const std::string& proxy = url.rfind("https://", 0) == 0 ? s.options.https_proxy : s.options.http_proxy;
    if (!proxy.empty()) {
      curl_easy_setopt(c, CURLOPT_PROXY, proxy.c_str());
      const char* no_proxy = std::getenv("no_proxy");
      if (no_proxy == nullptr || *no_proxy == '\0') no_proxy = std::getenv("NO_PROXY");
      if (no_proxy != nullptr) curl_easy_setopt(c, CURLOPT_NOPROXY, no_proxy);
    }
  }
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(s.options.connect_timeout.count()));
  if (s.options.idle_timeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(std::max<long long>(1, s.options.idle_timeout.count() / 1000)));
  }
  if (req.timeout.count() > 0) {
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(req.timeout.count()));
  }
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!absolute && s.endpoint.transport == Transport::unix_socket) {
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, s.endpoint.socket_path.c_str());
  }
  if (absolute && req.max_redirects > 0) {
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(req.max_redirects));
  }
  const std::optional<TlsFiles>& tls = absolute ? req.tls : s.endpoint.tls;
  if ((absolute || s.endpoint.transport == Transport::tls) && tls) {
    const TlsFiles& t = *tls;
    if (!t.ca.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, t.ca.c_str());
    if (!t.cert.empty()) curl_easy_setopt(c, CURLOPT_SSLCERT, t.cert.c_str());
    if (!t.key.empty()) curl_easy_setopt(c, CURLOPT_SSLKEY, t.key.c_str());
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, t.verify ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, t.verify ? 2L : 0L);
  }
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Impl::on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Impl::on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &Impl::on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "hpn/" HPN_VERSION);
  // Large receive chunks (libcurl's default is 16 KiB): an image export arrives in
  // fewer reads, callbacks and file writes, which saves client CPU.
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, k_receive_buffer_bytes);

  curl_slist* raw_headers = nullptr;
  raw_headers = curl_slist_append(raw_headers, "Expect:");
  for (const auto& h : req.headers) {
    raw_headers = curl_slist_append(raw_headers, h.c_str());
  }
  if (!req.content_type.empty()) {
    raw_headers = curl_slist_append(raw_headers, ("Content-Type: " + req.content_type).c_str());
  }
  if (req.method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    // A body (possibly empty) for each of these; PUT and PATCH go as a POST renamed.
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    if (req.upload) {
      if (req.upload_size) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(*req.upload_size));
      } else {
        raw_headers = curl_slist_append(raw_headers, "Transfer-Encoding: chunked");
      }
      // Large sends (libcurl's default is 64 KiB): fewer writes and reads on both ends.
      curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, k_send_buffer_bytes);
      curl_easy_setopt(c, CURLOPT_READFUNCTION, &Impl::on_read);
      curl_easy_setopt(c, CURLOPT_READDATA, &s);
    } else {
      const std::string& b = req.body ? *req.body : std::string{};
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(b.size()));
      curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, b.c_str());
    }
    if (req.method != "POST") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  SlistPtr headers(raw_headers);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());

  auto& log = hpn::log::engine();
  log.debug("request {} {}", req.method, absolute ? url : url.substr(s.endpoint.base_url().size()));
  const CURLcode code = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &response.new_connections);
  s.response = nullptr;
  s.sink = nullptr;
  s.source = nullptr;
  s.on_response = nullptr;

  if (s.callback_error) {
    log.debug("response {} {}: aborted: {}", req.method, absolute ? url : req.path, s.callback_error->message);
    return *s.callback_error;
  }
  if (code != CURLE_OK) {
    if (s.deadline_hit) {
      return Error(ErrorKind::timeout, "operation took longer than " +
                                           (s.deadline_why.empty() ? std::string("its time limit") : s.deadline_why) +
                                           " (" + req.method + " " + req.path + ")");
    }
    if (code == CURLE_ABORTED_BY_CALLBACK || s.should_abort()) {
      return Error(ErrorKind::cancelled, "cancelled (" + req.method + " " + req.path + ")");
    }
    Error e = s.transport_error(code, req);
    log.debug("response {} {}: {}", req.method, absolute ? url : req.path, e.message);
    return e;
  }
  log.debug("response {} {}: HTTP {} ({} bytes)", req.method, absolute ? url : req.path, response.status,
            response.bytes_received);
  return response;
}

}  // namespace hpn::engine
