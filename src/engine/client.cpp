#include "hpn/engine/client.hpp"

#include <algorithm>
#include <charconv>
#include <type_traits>

#include "hpn/engine/errors.hpp"
#include "hpn/engine/tar_stream.hpp"
#include "hpn/util/log.hpp"

namespace hpn::engine {
namespace {

std::pair<int, int> split_version(std::string_view v) {
  int major = 0;
  int minor = 0;
  auto dot = v.find('.');
  std::from_chars(v.data(), v.data() + (dot == std::string_view::npos ? v.size() : dot), major);
  if (dot != std::string_view::npos) {
    std::from_chars(v.data() + dot + 1, v.data() + v.size(), minor);
  }
  return {major, minor};
}

bool valid_api_version(std::string_view v) {
  auto dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i != dot && (v[i] < '0' || v[i] > '9')) return false;
  }
  return true;
}

std::vector<std::string> string_list(const nlohmann::json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it != j.end() && it->is_array()) {
    for (const auto& v : *it) {
      if (v.is_string()) out.push_back(v.get<std::string>());
    }
  }
  return out;
}

template <class T>
T field_or(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if constexpr (std::is_same_v<T, std::int64_t>) {
    return json_int(*it).value_or(fallback);  // no UB on out-of-range floats
  } else {
    try {
      return it->get<T>();
    } catch (const nlohmann::json::exception&) {
      return fallback;
    }
  }
}

std::string auth_header(const std::string& registry_auth) {
  return "X-Registry-Auth: " +
         (registry_auth.empty() ? std::string(Client::k_anonymous_auth) : registry_auth);
}

}  // namespace

std::string_view to_string(Runtime r) { return r == Runtime::podman ? "podman" : "docker"; }

int compare_api_versions(std::string_view a, std::string_view b) {
  auto [am, an] = split_version(a);
  auto [bm, bn] = split_version(b);
  if (am != bm) return am < bm ? -1 : 1;
  if (an != bn) return an < bn ? -1 : 1;
  return 0;
}

Result<std::string> platform_json(const std::string& platform) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto slash = platform.find('/', start);
    parts.push_back(platform.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (parts.size() < 2 || parts.size() > 3 ||
      std::any_of(parts.begin(), parts.end(), [](const std::string& p) { return p.empty(); })) {
    return Error(ErrorKind::invalid_argument, "invalid platform '" + platform + "'; use os/arch[/variant], e.g. linux/arm64");
  }
  nlohmann::json j{{"os", parts[0]}, {"architecture", parts[1]}};
  if (parts.size() == 3) j["variant"] = parts[2];
  return j.dump();
}

Result<std::string> Client::platform_query(const std::string& platform, std::string_view what) const {
  if (ping_.runtime == Runtime::podman) {
    return Error(ErrorKind::unsupported, "Podman's compatible API cannot " + std::string(what) +
                                             " a single platform; leave out --platform");
  }
  if (compare_api_versions(api_version_, "1.48") < 0) {
    return Error(ErrorKind::unsupported, "the daemon speaks API " + api_version_ + "; --platform on " +
                                             std::string(what) + " needs API 1.48 (Docker 28 or newer)");
  }
  return platform_json(platform);
}

Result<Client> Client::connect(const Endpoint& endpoint, const ClientOptions& options) {
  Connection conn(endpoint, options.connection);
  Client client(std::move(conn), {}, std::string(k_client_api_version), options);
  auto ping = client.ping();
  if (!ping) {
    return ping.error();
  }
  client.ping_ = *ping;
  if (options.api_version && !options.api_version->empty()) {
    if (!valid_api_version(*options.api_version)) {
      return Error(ErrorKind::invalid_argument,
                   "invalid API version '" + *options.api_version +
                       "' in DOCKER_API_VERSION; use a version like 1.41");
    }
    client.api_version_ = *options.api_version;
  } else if (ping->api_version.empty()) {
    client.api_version_ = std::string(k_fallback_api_version);
  } else if (!valid_api_version(ping->api_version)) {
    return Error(ErrorKind::protocol, "daemon at " + endpoint.describe() +
                                          " sent an invalid Api-Version '" + ping->api_version + "'");
  } else if (compare_api_versions(ping->api_version, k_client_api_version) < 0) {
    client.api_version_ = ping->api_version;
  }
  hpn::log::engine().debug("negotiated API {} with {} ({})", client.api_version_, ping->server,
                           to_string(ping->runtime));
  return client;
}

Client Client::clone() const {
  return Client(Connection(conn_.endpoint(), options_.connection), ping_, api_version_, options_);
}

Result<PingInfo> Client::ping() {
  Request req;
  req.path = "/_ping";
  req.timeout = std::max(options_.connection.connect_timeout, std::chrono::milliseconds(30000));
  auto r = conn_.perform(req, [](std::string_view) { return Status{}; });
  if (!r) {
    return r.error();
  }
  if (!r->success()) {
    return error_from_response(r->status, r->error_body)
        .with_context("ping of " + conn_.endpoint().describe());
  }
  PingInfo p;
  p.api_version = r->header("api-version");
  p.server = r->header("server");
  p.libpod_version = r->header("libpod-api-version");
  p.os_type = r->header("ostype");
  const bool podman = !p.libpod_version.empty() || p.server.rfind("Libpod", 0) == 0;
  p.runtime = podman ? Runtime::podman : Runtime::docker;
  return p;
}

Result<nlohmann::json> Client::get_json(const std::string& p, std::string_view what) {
  std::string body;
  constexpr std::size_t k_max_json = 64 << 20;
  Request req;
  req.path = path(p);
  auto r = conn_.perform(req, [&](std::string_view chunk) -> Status {
    if (body.size() + chunk.size() > k_max_json) {
      return Error(ErrorKind::protocol, std::string(what) + ": daemon answer exceeds 64 MiB");
    }
    body.append(chunk);
    return {};
  });
  if (!r) {
    return r.error().with_context(what);
  }
  if (!r->success()) {
    return error_from_response(r->status, r->error_body).with_context(what);
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    return Error(ErrorKind::protocol, std::string(what) + ": daemon sent invalid JSON");
  }
  return j;
}

Result<nlohmann::json> Client::version() { return get_json("/version", "version"); }

Result<nlohmann::json> Client::info() { return get_json("/info", "info"); }

Result<bool> Client::containerd_store() {
  // The store arrived with Docker 24 (API 1.43); older daemons are spared the /info.
  if (ping_.runtime != Runtime::docker || compare_api_versions(api_version_, "1.43") < 0) return false;
  auto j = info();
  if (!j) return j.error();
  return containerd_store_in(*j, ping_.runtime, api_version_);
}

bool Client::containerd_store_in(const nlohmann::json& info, Runtime runtime, std::string_view api_version) {
  if (runtime != Runtime::docker || compare_api_versions(api_version, "1.43") < 0) return false;
  const nlohmann::json* j = &info;
  if (auto ds = j->find("DriverStatus"); ds != j->end() && ds->is_array()) {
    for (const auto& pair : *ds) {
      if (pair.is_array() && pair.size() == 2 && pair[0] == "driver-type" &&
          pair[1] == "io.containerd.snapshotter.v1") {
        return true;
      }
    }
  }
  return false;
}

Result<ImageInfo> Client::inspect_image(const std::string& name) {
  auto j = get_json("/images/" + name + "/json", "inspect " + name);
  if (!j) {
    return j.error();
  }
  if (!j->is_object()) {
    return Error(ErrorKind::protocol, "inspect " + name + ": daemon sent a non-object");
  }
  ImageInfo info;
  info.id = field_or<std::string>(*j, "Id", "");
  info.repo_tags = string_list(*j, "RepoTags");
  info.repo_digests = string_list(*j, "RepoDigests");
  info.size = field_or<std::int64_t>(*j, "Size", 0);
  info.os = field_or<std::string>(*j, "Os", "");
  info.architecture = field_or<std::string>(*j, "Architecture", "");
  info.created = field_or<std::string>(*j, "Created", "");
  if (auto rf = j->find("RootFS"); rf != j->end() && rf->is_object()) info.layers = string_list(*rf, "Layers");
  if (info.id.empty()) {
    return Error(ErrorKind::protocol, "inspect " + name + ": daemon sent no image Id");
  }
  return info;
}

Result<std::vector<ImageSummary>> Client::list_images() {
  // `manifests` (API 1.47) adds, on the containerd image store, each platform's
  // content size: what an export writes.
  const bool manifests = ping_.runtime == Runtime::docker && compare_api_versions(api_version_, "1.47") >= 0;
  auto j = get_json(manifests ? "/images/json?manifests=1" : "/images/json", "list images");
  if (!j) {
    return j.error();
  }
  if (!j->is_array()) {
    return Error(ErrorKind::protocol, "list images: daemon sent a non-array");
  }
  std::vector<ImageSummary> out;
  for (const auto& item : *j) {
    if (!item.is_object()) continue;
    ImageSummary s;
    s.id = field_or<std::string>(item, "Id", "");
    s.repo_tags = string_list(item, "RepoTags");
    s.repo_digests = string_list(item, "RepoDigests");
    s.size = field_or<std::int64_t>(item, "Size", 0);
    s.created = field_or<std::int64_t>(item, "Created", 0);
    if (auto d = item.find("Descriptor"); d != item.end() && d->is_object()) {
      s.target_digest = field_or<std::string>(*d, "digest", "");
    }
    if (auto ms = item.find("Manifests"); ms != item.end() && ms->is_array() && !ms->empty()) {
      std::int64_t content = 0;
      for (const auto& m : *ms) {
        if (!m.is_object() || !m.value("Available", false)) continue;
        if (auto sz = m.find("Size"); sz != m.end() && sz->is_object()) content += field_or<std::int64_t>(*sz, "Content", 0);
      }
      if (content > 0) s.content_size = content;
    }
    out.push_back(std::move(s));
  }
  return out;
}

Result<void> Client::stream_call(Request req, const JsonMessageDecoder::Handler& handler,
                                 std::string_view what) {
  JsonMessageDecoder decoder(handler);
  auto r = conn_.perform(req, [&](std::string_view chunk) { return decoder.feed(chunk); });
  if (!r) {
    return r.error().with_context(what);
  }
  if (!r->success()) {
    return error_from_response(r->status, r->error_body).with_context(what);
  }
  if (auto st = decoder.finish(); !st) {
    return st.error().with_context(what);
  }
  return {};
}

Result<void> Client::pull(const std::string& image, const std::string& tag,
                          const std::string& platform, const std::string& registry_auth,
                          const MessageFn& progress) {
  Request req;
  req.method = "POST";
  req.path = path("/images/create");
  req.query = {{"fromImage", image}, {"tag", tag.empty() ? "latest" : tag}};
  if (!platform.empty()) {
    req.query.emplace_back("platform", platform);
  }
  req.headers.push_back(auth_header(registry_auth));
  return stream_call(
      std::move(req),
      [&](const JsonMessage& m) {
        if (progress) progress(m);
        return Status{};
      },
      "pull " + image + ":" + (tag.empty() ? "latest" : tag));
}

Result<std::uint64_t> Client::save(std::span<const std::string> names, const Sink& sink, const std::string& platform) {
  std::string what = "save";
  Request req;
  req.path = path("/images/get");
  if (!platform.empty()) {
    auto q = platform_query(platform, "save");
    if (!q) return q.error();
    req.query.emplace_back("platform", *q);
  }
  for (const auto& n : names) {
    req.query.emplace_back("names", n);
    what += " " + n;
  }
  TarStreamChecker checker;
  auto r = conn_.perform(req, [&](std::string_view chunk) -> Status {
    checker.feed(chunk);
    return sink(chunk);
  });
  if (!r) {
    return r.error().with_context(what);
  }
  if (!r->success()) {
    return error_from_response(r->status, r->error_body).with_context(what);
  }
  if (auto st = checker.finish(); !st) {
    return st.error().with_context(what);
  }
  return checker.bytes();
}

Result<LoadResult> Client::load(const Source& source, const MessageFn& progress, const std::string& platform) {
  Request req;
  req.method = "POST";
  req.path = path("/images/load");
  req.query = {{"quiet", "0"}};
  if (!platform.empty()) {
    auto q = platform_query(platform, "load");
    if (!q) return q.error();
    req.query.emplace_back("platform", *q);
  }
  req.content_type = "application/x-tar";
  req.upload = source;
  LoadResult result;
  auto st = stream_call(
      std::move(req),
      [&](const JsonMessage& m) {
        // Docker: {"stream":"Loaded image: x:1\n"}; Podman: {"stream":"Loaded image: x:1\n"}
        // or "Loaded image(s): a,b".
        std::string_view s = m.stream;
        for (std::string_view prefix : {"Loaded image ID: ", "Loaded image: ", "Loaded image(s): "}) {
          auto pos = s.find(prefix);
          if (pos == std::string_view::npos) continue;
          std::string_view rest = s.substr(pos + prefix.size());
          while (!rest.empty()) {
            auto end = rest.find_first_of(",\n");
            std::string_view item = rest.substr(0, end);
            while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
            while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
            if (!item.empty()) result.images.emplace_back(item);
            if (end == std::string_view::npos || rest[end] == '\n') break;
            rest.remove_prefix(end + 1);
          }
          break;
        }
        if (progress) progress(m);
        return Status{};
      },
      "load");
  if (!st) {
    return st.error();
  }
  return result;
}

Result<void> Client::tag(const std::string& source, const std::string& repo, const std::string& tag) {
  Request req;
  req.method = "POST";
  req.path = path("/images/" + source + "/tag");
  req.query = {{"repo", repo}, {"tag", tag}};
  const std::string what = "tag " + source + " as " + repo + ":" + tag;
  auto r = conn_.perform(req, [](std::string_view) { return Status{}; });
  if (!r) {
    return r.error().with_context(what);
  }
  if (!r->success()) {
    return error_from_response(r->status, r->error_body).with_context(what);
  }
  return {};
}

Result<PushResult> Client::push(const std::string& repo, const std::string& tag,
                                const std::string& registry_auth, const MessageFn& progress) {
  Request req;
  req.method = "POST";
  req.path = path("/images/" + repo + "/push");
  req.query = {{"tag", tag.empty() ? "latest" : tag}};
  req.headers.push_back(auth_header(registry_auth));
  PushResult result;
  auto st = stream_call(
      std::move(req),
      [&](const JsonMessage& m) {
        // Docker: aux {"Tag","Digest","Size"}; both also print "TAG: digest: sha256:... size: N".
        if (m.aux.is_object()) {
          result.digest = field_or<std::string>(m.aux, "Digest", result.digest);
          result.size = field_or<std::int64_t>(m.aux, "Size", result.size);
        }
        if (result.digest.empty()) {
          auto pos = m.status.find("digest: sha256:");
          if (pos != std::string::npos) {
            auto start = pos + 8;
            auto end = m.status.find(' ', start);
            result.digest = m.status.substr(start, end == std::string::npos ? end : end - start);
          }
        }
        if (progress) progress(m);
        return Status{};
      },
      "push " + repo + ":" + (tag.empty() ? "latest" : tag));
  if (!st) {
    return st.error();
  }
  return result;
}

Result<std::string> Client::login(const std::string& server, const std::string& username,
                                  const std::string& password) {
  Request req;
  req.method = "POST";
  req.path = path("/auth");
  req.content_type = "application/json";
  req.body = nlohmann::json{{"username", username}, {"password", password}, {"serveraddress", server}}.dump();
  std::string body;
  auto r = conn_.perform(req, [&](std::string_view chunk) -> Status {
    if (body.size() < (1 << 20)) body.append(chunk);
    return {};
  });
  const std::string what = "login to " + server + " as " + username;
  if (!r) return r.error().with_context(what);
  if (!r->success()) {
    Error e = error_from_response(r->status, r->error_body).with_context(what);
    if (r->status == 500 && classify_message(e.message) == ErrorKind::unauthorized) e.kind = ErrorKind::unauthorized;
    return e;
  }
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) return field_or<std::string>(j, "IdentityToken", "");
  return std::string();
}

Result<std::vector<std::string>> Client::remove(const std::string& name, bool force) {
  std::string body;
  Request req;
  req.method = "DELETE";
  req.path = path("/images/" + name);
  if (force) {
    req.query = {{"force", "1"}};
  }
  const std::string what = "remove " + name;
  auto r = conn_.perform(req, [&](std::string_view chunk) -> Status {
    if (body.size() < (1 << 20)) body.append(chunk);
    return {};
  });
  if (!r) {
    return r.error().with_context(what);
  }
  if (!r->success()) {
    return error_from_response(r->status, r->error_body).with_context(what);
  }
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_array()) {
    for (const auto& item : j) {
      if (!item.is_object()) continue;
      for (const char* key : {"Untagged", "Deleted"}) {
        if (auto it = item.find(key); it != item.end() && it->is_string()) {
          out.push_back(std::string(key) + ": " + it->get<std::string>());
        }
      }
    }
  }
  return out;
}

}  // namespace hpn::engine
