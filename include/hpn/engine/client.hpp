// Typed calls to the Docker Engine API (and Podman's compatible API) over one
// Connection. Negotiates the API version once; clone() gives a worker its own
// connection with the same settings.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpn/engine/connection.hpp"
#include "hpn/engine/endpoint.hpp"
#include "hpn/engine/jsonmessage.hpp"
#include "hpn/util/result.hpp"

namespace hpn::engine {

// The newest API version hpn speaks (Docker 28); negotiation takes min(this,
// daemon's). Behaviour that differs between versions is gated on the negotiated one.
inline constexpr std::string_view k_client_api_version = "1.51";
// What a daemon that sends no Api-Version header is assumed to speak.
inline constexpr std::string_view k_fallback_api_version = "1.24";

enum class Runtime { docker, podman };
std::string_view to_string(Runtime r);

struct PingInfo {
  std::string api_version;     // Api-Version header (may be empty)
  std::string server;          // Server header
  std::string libpod_version;  // Libpod-Api-Version header (Podman only)
  std::string os_type;         // Ostype header
  Runtime runtime = Runtime::docker;
};

// Compare "1.41" style versions: <0, 0, >0.
int compare_api_versions(std::string_view a, std::string_view b);

// "linux/arm64/v8" -> {"os":"linux","architecture":"arm64","variant":"v8"} (JSON text).
Result<std::string> platform_json(const std::string& platform);

struct ImageInfo {
  std::string id;
  std::vector<std::string> repo_tags;
  std::vector<std::string> repo_digests;
  std::int64_t size = 0;
  std::string os;
  std::string architecture;
  std::string created;              // the config's creation time, as the daemon writes it
  std::vector<std::string> layers;  // RootFS.Layers: the layers' diff IDs
};

struct ImageSummary {
  std::string id;
  std::vector<std::string> repo_tags;
  std::vector<std::string> repo_digests;
  std::int64_t size = 0;
  std::int64_t created = 0;
  // The containerd image store (API 1.47+, `manifests=1`): the bytes of content its
  // available platforms hold, which is what an export writes (Size also counts the
  // unpacked snapshots there); -1 when the daemon does not say.
  std::int64_t content_size = -1;
  // The target descriptor's digest (API 1.48+, multi-platform stores only): the
  // manifest or index digest that is the image ID there.
  std::string target_digest;
};

struct LoadResult {
  std::vector<std::string> images;  // "Loaded image: X" / "Loaded image ID: sha256:..."
};

struct PushResult {
  std::string digest;  // sha256:... when the daemon reported it
  std::int64_t size = 0;
};

struct ClientOptions {
  ConnectionOptions connection;
  // DOCKER_API_VERSION: use this version instead of negotiating.
  std::optional<std::string> api_version;
};

// Called with each message of a streamed operation (pull, push, load).
using MessageFn = std::function<void(const JsonMessage&)>;

class Client {
 public:
  // Connect and negotiate: GET /_ping, then min(ours, daemon's) unless overridden.
  static Result<Client> connect(const Endpoint& endpoint, const ClientOptions& options = {});


  // A client on a new connection with the same endpoint and negotiated version.
  Client clone() const;

  const PingInfo& server() const { return ping_; }
  const std::string& api_version() const { return api_version_; }
  Runtime runtime() const { return ping_.runtime; }
  Connection& connection() { return conn_; }
  const Connection& connection() const { return conn_; }

  Result<PingInfo> ping();
  Result<nlohmann::json> version();
  Result<nlohmann::json> info();  // GET /info
  // True when the daemon keeps images in the containerd image store (Docker 29's
  // default; /info's DriverStatus names the snapshotter driver type). Its image IDs
  // are manifest digests and its exports carry the layers compressed, as pulled.
  Result<bool> containerd_store();
  // The same from a GET /info answer already at hand, for a daemon of `runtime` at
  // API `api_version`.
  static bool containerd_store_in(const nlohmann::json& info, Runtime runtime, std::string_view api_version);
  Result<ImageInfo> inspect_image(const std::string& name);
  Result<std::vector<ImageSummary>> list_images();

  // Pull `image` (repository without tag) at `tag`; the tag is always sent.
  Result<void> pull(const std::string& image, const std::string& tag,
                    const std::string& platform = {}, const std::string& registry_auth = {},
                    const MessageFn& progress = {});
  // Stream `docker save` of one or several images to `sink`; checks the tar framing
  // and fails when the stream is truncated or the daemon appended an error.
  // `platform` ("os/arch[/variant]") needs API 1.48 (Docker 28+); older daemons and
  // Podman get an unsupported error rather than a silently different archive.
  Result<std::uint64_t> save(std::span<const std::string> names, const Sink& sink, const std::string& platform = {});
  // Load a tar (or compressed tar) streamed from `source` (chunked upload);
  // `platform` as for save.
  Result<LoadResult> load(const Source& source, const MessageFn& progress = {}, const std::string& platform = {});
  Result<void> tag(const std::string& source, const std::string& repo, const std::string& tag);
  // Push `repo` at `tag`; `registry_auth` is the X-Registry-Auth value (anonymous if empty).
  Result<PushResult> push(const std::string& repo, const std::string& tag,
                          const std::string& registry_auth = {}, const MessageFn& progress = {});
  // Check credentials against a registry through the daemon (POST /auth). Returns
  // the identity token the registry issued, if any. The password is never logged.
  Result<std::string> login(const std::string& server, const std::string& username, const std::string& password);

  // Remove an image; returns the daemon's list of untagged/deleted entries.
  Result<std::vector<std::string>> remove(const std::string& name, bool force = false);

  // The query value for a platform filter on save/load ("save"/"load"), or an
  // unsupported error when this daemon cannot filter by platform there.
  Result<std::string> platform_query(const std::string& platform, std::string_view what) const;

  // Base64url of "{}" (anonymous X-Registry-Auth).
  static constexpr std::string_view k_anonymous_auth = "e30=";

 private:
  Client(Connection conn, PingInfo ping, std::string version, ClientOptions options)
      : conn_(std::move(conn)), ping_(std::move(ping)), api_version_(std::move(version)),
        options_(std::move(options)) {}

  std::string path(std::string_view p) const { return "/v" + api_version_ + std::string(p); }
  Result<nlohmann::json> get_json(const std::string& p, std::string_view what);
  // POST with a jsonmessage response stream; errors inside the stream fail the call.
  Result<void> stream_call(Request req, const JsonMessageDecoder::Handler& handler,
                           std::string_view what);

  Connection conn_;
  PingInfo ping_;
  std::string api_version_;
  ClientOptions options_;
};

}  // namespace hpn::engine
