#include "hpn/engine/credentials.hpp"

#include "hpn/image/reference.hpp"
#include "hpn/util/base64.hpp"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "hpn/util/fd.hpp"
#include "hpn/util/file.hpp"
#include "hpn/util/log.hpp"

extern char** environ;

namespace hpn::engine {
namespace fs = std::filesystem;
namespace {

constexpr const char* k_docker_hub_key = "https://index.docker.io/v1/";

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}

Result<nlohmann::json> read_json_file(const fs::path& p) {
  auto text = util::read_small_file(p, 16 << 20);
  if (!text) return text.error();
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(ErrorKind::invalid_argument, p.string() + " is not valid JSON; fix or remove it");
  }
  return j;
}

// Run `docker-credential-<helper> <verb>` with `input` on stdin; returns stdout.
Result<std::string> run_helper(const std::string& helper, const std::string& verb, const std::string& input) {
  const std::string prog = "docker-credential-" + helper;
  int in_pipe[2];
  int out_pipe[2];
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return Error(ErrorKind::io, "cannot create pipes for " + prog);
  }
  util::Fd in_r(in_pipe[0]), in_w(in_pipe[1]), out_r(out_pipe[0]), out_w(out_pipe[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  std::array<char*, 3> argv{const_cast<char*>(prog.c_str()), const_cast<char*>(verb.c_str()), nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, prog.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    return Error(ErrorKind::not_found, "credential helper " + prog + " is not installed (configured in " +
                                           "docker config.json); install it or remove it from credsStore/credHelpers");
  }
  in_r.reset();
  out_w.reset();
  std::string_view rest = input;
  while (!rest.empty()) {
    ssize_t n = ::write(in_w.get(), rest.data(), rest.size());
    if (n <= 0) break;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  in_w.reset();
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(out_r.get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > (1 << 20)) break;
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string msg = out;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    if (msg.find("credentials not found") != std::string::npos) {
      return Error(ErrorKind::not_found, "credentials not found");
    }
    return Error(ErrorKind::unauthorized, prog + " " + verb + " failed: " + (msg.empty() ? "exit status " + std::to_string(WEXITSTATUS(status)) : msg));
  }
  return out;
}

std::optional<Credentials> from_auth_entry(const nlohmann::json& entry, const std::string& key, const std::string& source) {
  if (!entry.is_object()) return std::nullopt;
  Credentials c;
  c.server = key;
  c.source = source;
  if (auto it = entry.find("identitytoken"); it != entry.end() && it->is_string() && !it->get<std::string>().empty()) {
    c.identity_token = it->get<std::string>();
  }
  if (auto it = entry.find("auth"); it != entry.end() && it->is_string() && !it->get<std::string>().empty()) {
    auto decoded = util::base64_decode(it->get<std::string>());
    if (decoded) {
      auto colon = decoded->find(':');
      if (colon != std::string::npos) {
        c.username = decoded->substr(0, colon);
        c.password = decoded->substr(colon + 1);
      }
    }
  }
  if (c.username.empty() && c.identity_token.empty()) {
    if (auto u = entry.find("username"); u != entry.end() && u->is_string()) c.username = u->get<std::string>();
    if (auto p = entry.find("password"); p != entry.end() && p->is_string()) c.password = p->get<std::string>();
  }
  if (c.username.empty() && c.identity_token.empty()) return std::nullopt;
  return c;
}

// auths{} lookup, accepting legacy keys with a scheme or a path.
std::optional<Credentials> from_auths(const nlohmann::json& cfg, const std::string& domain, const std::string& source) {
  auto auths = cfg.find("auths");
  if (auths == cfg.end() || !auths->is_object()) return std::nullopt;
  const std::string want = registry_key(domain);
  if (auto it = auths->find(want); it != auths->end()) {
    if (auto c = from_auth_entry(*it, want, source)) return c;
  }
  for (auto it = auths->begin(); it != auths->end(); ++it) {
    const std::string host = key_host(it.key());
    if (host == domain || (image::is_docker_hub(domain) && image::is_docker_hub(host))) {
      if (auto c = from_auth_entry(it.value(), it.key(), source)) return c;
    }
  }
  return std::nullopt;
}

Result<std::optional<Credentials>> from_helper(const std::string& helper, const std::string& domain) {
  const std::string key = registry_key(domain);
  auto out = run_helper(helper, "get", key);
  if (!out) {
    if (out.error().kind == ErrorKind::not_found && out.error().message == "credentials not found") {
      return std::optional<Credentials>{};
    }
    return out.error();
  }
  auto j = nlohmann::json::parse(*out, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(ErrorKind::protocol, "docker-credential-" + helper + " get returned something that is not JSON");
  }
  Credentials c;
  c.server = key;
  c.source = "credential helper docker-credential-" + helper;
  c.username = j.value("Username", "");
  const std::string secret = j.value("Secret", "");
  if (c.username == "<token>") {
    c.username.clear();
    c.identity_token = secret;
  } else {
    c.password = secret;
  }
  if (c.username.empty() && c.identity_token.empty()) return std::optional<Credentials>{};
  return std::optional<Credentials>(c);
}

// Which helper, if any, docker's config routes `domain` to.
std::optional<std::string> helper_for(const nlohmann::json& cfg, const std::string& domain) {
  if (auto ch = cfg.find("credHelpers"); ch != cfg.end() && ch->is_object()) {
    for (auto it = ch->begin(); it != ch->end(); ++it) {
      if ((key_host(it.key()) == domain || (image::is_docker_hub(domain) && image::is_docker_hub(key_host(it.key())))) &&
          it.value().is_string()) {
        return it.value().get<std::string>();
      }
    }
  }
  if (auto cs = cfg.find("credsStore"); cs != cfg.end() && cs->is_string() && !cs->get<std::string>().empty()) {
    return cs->get<std::string>();
  }
  return std::nullopt;
}

Result<std::optional<Credentials>> from_docker_config(const std::string& domain, const CredentialSources& s) {
  const fs::path path = fs::path(s.docker_config_dir) / "config.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<Credentials>{};
  auto cfg = read_json_file(path);
  if (!cfg) return cfg.error();
  if (auto helper = helper_for(*cfg, domain)) {
    return from_helper(*helper, domain);
  }
  return from_auths(*cfg, domain, path.string() + " auths");
}

Result<std::optional<Credentials>> from_podman_files(const std::string& domain, const CredentialSources& s) {
  for (const auto& f : s.podman_auth_files) {
    std::error_code ec;
    if (f.empty() || !fs::exists(f, ec)) continue;
    auto cfg = read_json_file(f);
    if (!cfg) return cfg.error();
    if (auto c = from_auths(*cfg, domain, f + " auths")) return std::optional<Credentials>(c);
  }
  return std::optional<Credentials>{};
}

}  // namespace

CredentialSources CredentialSources::from_environment(bool podman_first) {
  CredentialSources s;
  const std::string home = env_or("HOME", "/root");
  s.docker_config_dir = env_or("DOCKER_CONFIG", home + "/.docker");
  if (auto f = env_or("REGISTRY_AUTH_FILE", ""); !f.empty()) s.podman_auth_files.push_back(f);
  if (auto x = env_or("XDG_RUNTIME_DIR", ""); !x.empty()) s.podman_auth_files.push_back(x + "/containers/auth.json");
  s.podman_auth_files.push_back(home + "/.config/containers/auth.json");
  s.podman_first = podman_first;
  return s;
}

std::string registry_key(const std::string& domain) {
  return image::is_docker_hub(domain) ? std::string(k_docker_hub_key) : domain;
}

std::string key_host(const std::string& key) {
  std::string_view k = key;
  if (auto scheme = k.find("://"); scheme != std::string_view::npos) k.remove_prefix(scheme + 3);
  if (auto slash = k.find('/'); slash != std::string_view::npos) k = k.substr(0, slash);
  return std::string(k);
}

Result<std::optional<Credentials>> find_credentials(const std::string& domain, const CredentialSources& s) {
  auto first = s.podman_first ? from_podman_files(domain, s) : from_docker_config(domain, s);
  if (!first) return first.error();
  if (first->has_value()) return first;
  return s.podman_first ? from_docker_config(domain, s) : from_podman_files(domain, s);
}

std::string registry_auth_header(const std::optional<Credentials>& creds, const std::string& domain) {
  if (!creds) return "e30=";  // base64url("{}")
  nlohmann::json j;
  if (!creds->identity_token.empty()) {
    j["identitytoken"] = creds->identity_token;
  } else {
    j["username"] = creds->username;
    j["password"] = creds->password;
  }
  j["serveraddress"] = image::is_docker_hub(domain) ? std::string(k_docker_hub_key) : domain;
  return util::base64_encode(j.dump(), true);
}

Result<std::string> store_credentials(const std::string& domain, const Credentials& creds, const CredentialSources& s) {
  const fs::path dir = s.docker_config_dir;
  const fs::path path = dir / "config.json";
  nlohmann::json cfg = nlohmann::json::object();
  std::error_code ec;
  if (fs::exists(path, ec)) {
    auto read = read_json_file(path);
    if (!read) return read.error();
    cfg = std::move(*read);
  }
  const std::string key = registry_key(domain);
  if (auto helper = helper_for(cfg, domain)) {
    nlohmann::json in{{"ServerURL", key},
                      {"Username", creds.identity_token.empty() ? creds.username : "<token>"},
                      {"Secret", creds.identity_token.empty() ? creds.password : creds.identity_token}};
    auto out = run_helper(*helper, "store", in.dump());
    if (!out) return out.error();
    return "credential helper docker-credential-" + *helper;
  }
  nlohmann::json entry = nlohmann::json::object();
  if (!creds.identity_token.empty()) {
    entry["identitytoken"] = creds.identity_token;
    entry["auth"] = util::base64_encode(creds.username + ":");
  } else {
    entry["auth"] = util::base64_encode(creds.username + ":" + creds.password);
  }
  if (!cfg.contains("auths") || !cfg["auths"].is_object()) cfg["auths"] = nlohmann::json::object();
  cfg["auths"][key] = entry;
  if (!fs::exists(dir, ec) && ::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return util::errno_error(errno, "cannot create", dir);
  }
  auto f = util::AtomicFile::create(path, 0600);
  if (!f) return f.error();
  if (auto st = f->write(cfg.dump(1, '\t') + "\n"); !st) return st.error();
  if (auto st = f->commit(); !st) return st.error();
  return path.string();
}

Result<std::string> erase_credentials(const std::string& domain, const CredentialSources& s) {
  const fs::path path = fs::path(s.docker_config_dir) / "config.json";
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return Error(ErrorKind::not_found, "not logged in to " + domain + " (no " + path.string() + ")");
  }
  auto cfg = read_json_file(path);
  if (!cfg) return cfg.error();
  if (auto helper = helper_for(*cfg, domain)) {
    auto out = run_helper(*helper, "erase", registry_key(domain));
    if (!out) return out.error();
    return "credential helper docker-credential-" + *helper;
  }
  bool removed = false;
  if (auto auths = cfg->find("auths"); auths != cfg->end() && auths->is_object()) {
    for (auto it = auths->begin(); it != auths->end();) {
      const std::string host = key_host(it.key());
      if (host == domain || (image::is_docker_hub(domain) && image::is_docker_hub(host))) {
        it = auths->erase(it);
        removed = true;
      } else {
        ++it;
      }
    }
  }
  if (!removed) return Error(ErrorKind::not_found, "not logged in to " + domain + " (no entry in " + path.string() + ")");
  auto f = util::AtomicFile::create(path, 0600);
  if (!f) return f.error();
  if (auto st = f->write(cfg->dump(1, '\t') + "\n"); !st) return st.error();
  if (auto st = f->commit(); !st) return st.error();
  return path.string();
}


}  // namespace hpn::engine
