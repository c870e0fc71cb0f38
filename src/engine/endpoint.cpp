#include "hpn/engine/endpoint.hpp"

#include <cstdlib>
#include <filesystem>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "hpn/util/file.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::engine {
namespace fs = std::filesystem;

namespace {

constexpr std::string_view k_default_docker_socket = "/var/run/docker.sock";
constexpr std::string_view k_default_podman_socket = "/run/podman/podman.sock";

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

Error bad_host(std::string_view host, std::string_view source, std::string_view why) {
  return {ErrorKind::invalid_argument,
          "invalid daemon host '" + std::string(host) + "' from " + std::string(source) + " (" +
              std::string(why) +
              "); use unix:///path/to/socket, tcp://host:port or host:port"};
}

std::optional<TlsFiles> tls_from_env(const ResolveInputs& in, const std::string& docker_config) {
  auto verify = in.getenv("DOCKER_TLS_VERIFY");
  if (!verify || verify->empty()) {
    return std::nullopt;
  }
  std::string dir = docker_config;
  if (auto p = in.getenv("DOCKER_CERT_PATH"); p && !p->empty()) {
    dir = *p;
  }
  TlsFiles t;
  t.ca = dir + "/ca.pem";
  t.cert = dir + "/cert.pem";
  t.key = dir + "/key.pem";
  return t;
}

std::string docker_config_dir(const ResolveInputs& in) {
  if (auto d = in.getenv("DOCKER_CONFIG"); d && !d->empty()) {
    return *d;
  }
  return in.home + "/.docker";
}

// The context named by DOCKER_CONTEXT or config.json's currentContext, if any.
Result<std::optional<Endpoint>> from_context(const ResolveInputs& in, const std::string& cfg_dir) {
  std::string name;
  std::string why;
  if (auto c = in.getenv("DOCKER_CONTEXT"); c && !c->empty()) {
    name = *c;
    why = "DOCKER_CONTEXT";
  } else {
    const fs::path cfg = fs::path(cfg_dir) / "config.json";
    std::error_code ec;
    if (!fs::exists(cfg, ec)) return std::optional<Endpoint>{};
    auto text = util::read_small_file(cfg);
    if (!text) return text.error();
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return Error(ErrorKind::invalid_argument,
                   cfg_dir + "/config.json is not valid JSON; fix or remove it");
    }
    auto it = j.find("currentContext");
    if (it == j.end() || !it->is_string()) {
      return std::optional<Endpoint>{};
    }
    name = it->get<std::string>();
    why = "currentContext in " + cfg_dir + "/config.json";
  }
  if (name.empty() || name == "default") {
    return std::optional<Endpoint>{};
  }
  const std::string hash = util::sha256_hex(name);
  const fs::path meta_path = fs::path(cfg_dir) / "contexts" / "meta" / hash / "meta.json";
  auto text = util::read_small_file(meta_path);
  if (!text) {
    return Error(ErrorKind::not_found, "docker context '" + name + "' (from " + why +
                                           ") not found: no " + meta_path.string() +
                                           "; run 'docker context ls' or unset " +
                                           (why == "DOCKER_CONTEXT" ? "DOCKER_CONTEXT" : "it"));
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  const nlohmann::json* docker = nullptr;
  if (!j.is_discarded() && j.is_object()) {
    auto eps = j.find("Endpoints");
    if (eps != j.end() && eps->is_object()) {
      auto d = eps->find("docker");
      if (d != eps->end() && d->is_object()) {
        docker = &*d;
      }
    }
  }
  if (docker == nullptr || !docker->contains("Host") || !(*docker)["Host"].is_string()) {
    return Error(ErrorKind::invalid_argument,
                 "docker context '" + name + "' has no docker endpoint in " + meta_path.string());
  }
  std::string host = (*docker)["Host"].get<std::string>();
  std::optional<TlsFiles> tls;
  const fs::path tls_dir = fs::path(cfg_dir) / "contexts" / "tls" / hash / "docker";
  std::error_code ec;
  bool skip_verify = docker->value("SkipTLSVerify", false);
  if (fs::exists(tls_dir / "cert.pem", ec) || fs::exists(tls_dir / "ca.pem", ec)) {
    TlsFiles t;
    if (fs::exists(tls_dir / "ca.pem", ec)) t.ca = (tls_dir / "ca.pem").string();
    if (fs::exists(tls_dir / "cert.pem", ec)) t.cert = (tls_dir / "cert.pem").string();
    if (fs::exists(tls_dir / "key.pem", ec)) t.key = (tls_dir / "key.pem").string();
    t.verify = !skip_verify;
    tls = t;
  } else if (skip_verify) {
    tls = TlsFiles{.ca = {}, .cert = {}, .key = {}, .verify = false};
  }
  auto ep = parse_host(host, "docker context '" + name + "' (" + why + ")", tls);
  if (!ep) {
    return ep.error();
  }
  return std::optional<Endpoint>(std::move(*ep));
}

}  // namespace

std::string Endpoint::base_url() const {
  switch (transport) {
    case Transport::unix_socket: return "http://localhost";
    case Transport::tcp: return "http://" + host_port;
    case Transport::tls: return "https://" + host_port;
  }
  return {};
}

std::string Endpoint::describe() const { return uri + " (" + source + ")"; }

Result<Endpoint> parse_host(std::string_view host, std::string source,
                            std::optional<TlsFiles> tls) {
  Endpoint ep;
  ep.source = std::move(source);
  if (host.empty()) {
    return bad_host(host, ep.source, "empty");
  }
  if (starts_with(host, "unix://")) {
    std::string_view path = host.substr(7);
    if (path.empty() || path.front() != '/') {
      return bad_host(host, ep.source, "a unix socket needs an absolute path");
    }
    ep.transport = Transport::unix_socket;
    ep.socket_path = std::string(path);
    ep.uri = "unix://" + ep.socket_path;
    return ep;
  }
  if (starts_with(host, "ssh://") || starts_with(host, "npipe://") || starts_with(host, "fd://")) {
    return Error(ErrorKind::unsupported,
                 "daemon host '" + std::string(host) + "' from " + ep.source +
                     " is not supported by hpn; use a unix socket or tcp (forward ssh with "
                     "'ssh -L /tmp/docker.sock:/var/run/docker.sock HOST')");
  }
  std::string_view rest = host;
  bool https = false;
  if (starts_with(rest, "tcp://")) {
    rest.remove_prefix(6);
  } else if (starts_with(rest, "https://")) {
    rest.remove_prefix(8);
    https = true;
  } else if (starts_with(rest, "http://")) {
    rest.remove_prefix(7);
  } else if (rest.find("://") != std::string_view::npos) {
    return bad_host(host, ep.source, "unknown scheme");
  }
  while (!rest.empty() && rest.back() == '/') {
    rest.remove_suffix(1);
  }
  if (rest.find('/') != std::string_view::npos) {
    return bad_host(host, ep.source, "a path is not allowed after host:port");
  }
  if (rest.empty() || rest.front() == ':') {
    return bad_host(host, ep.source, "missing host name");
  }
  const bool use_tls = https || tls.has_value();
  std::string hp(rest);
  // host[:port]; [v6]:port keeps its brackets.
  auto colon = hp.rfind(':');
  bool has_port = colon != std::string::npos && hp.find(']', colon) == std::string::npos;
  if (has_port) {
    std::string port = hp.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port) == 0 || std::stoi(port) > 65535) {
      return bad_host(host, ep.source, "invalid port '" + port + "'");
    }
  } else {
    hp += use_tls ? ":2376" : ":2375";
  }
  ep.host_port = hp;
  ep.transport = use_tls ? Transport::tls : Transport::tcp;
  if (use_tls) {
    ep.tls = tls.value_or(TlsFiles{});
  }
  ep.uri = std::string(use_tls && https ? "https://" : "tcp://") + hp;
  return ep;
}

Result<Endpoint> resolve_endpoint(const ResolveInputs& given) {
  ResolveInputs in = given;
  if (!in.getenv) {
    in.getenv = [](const char* name) -> std::optional<std::string> {
      const char* v = std::getenv(name);
      return v ? std::optional<std::string>(v) : std::nullopt;
    };
  }
  if (!in.socket_exists) {
    in.socket_exists = [](const std::string& path) {
      struct stat st {};
      return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
    };
  }
  if (in.home.empty()) {
    in.home = in.getenv("HOME").value_or("/root");
  }
  const std::string cfg_dir = docker_config_dir(in);

  if (in.host_flag && !in.host_flag->empty()) {
    return parse_host(*in.host_flag, "--host", tls_from_env(in, cfg_dir));
  }
  if (auto h = in.getenv("DOCKER_HOST"); h && !h->empty()) {
    return parse_host(*h, "DOCKER_HOST", tls_from_env(in, cfg_dir));
  }
  auto ctx = from_context(in, cfg_dir);
  if (!ctx) {
    return ctx.error();
  }
  if (ctx->has_value()) {
    return std::move(**ctx);
  }
  if (auto h = in.getenv("CONTAINER_HOST"); h && !h->empty()) {
    return parse_host(*h, "CONTAINER_HOST", tls_from_env(in, cfg_dir));
  }

  std::vector<std::string> candidates;
  const std::string docker_sock(k_default_docker_socket);
  std::vector<std::string> podman_socks{std::string(k_default_podman_socket)};
  if (auto x = in.getenv("XDG_RUNTIME_DIR"); x && !x->empty()) {
    podman_socks.push_back(*x + "/podman/podman.sock");
  }
  if (in.runtime == RuntimePreference::podman) {
    candidates = podman_socks;
    if (in.auto_fallback) candidates.push_back(docker_sock);
  } else {
    candidates.push_back(docker_sock);
    if (in.runtime == RuntimePreference::any || in.auto_fallback) {
      candidates.insert(candidates.end(), podman_socks.begin(), podman_socks.end());
    }
  }
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (in.socket_exists(candidates[i])) {
      const bool fell_back = in.runtime != RuntimePreference::any &&
                             (in.runtime == RuntimePreference::podman) != (candidates[i] != docker_sock);
      return parse_host("unix://" + candidates[i],
                        fell_back ? "default socket; preferred runtime not found, auto_fallback" : "default socket");
    }
  }
  std::string others;  // the endpoint names the first one
  for (std::size_t i = 1; i < candidates.size(); ++i) {
    others += (others.empty() ? "" : ", ") + candidates[i];
  }
  auto ep = parse_host("unix://" + candidates.front(),
                       others.empty() ? "default socket" : "default socket; no " + others + " either");
  return ep;
}

}  // namespace hpn::engine
