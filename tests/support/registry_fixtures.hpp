// Registries and forwarders of a test's own, for the tests against real registries:
// a docker-registry serving a copy of the open registry's storage (or an empty one),
// the HTTP forwarder of support/bin/registry-helper in front of one (its log lists
// every request), and background processes killed when the test ends.
#pragma once

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "support/testenv.hpp"

namespace hpn::test {

using namespace std::chrono_literals;

inline bool wait_for(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

inline std::string free_port() {
  auto r = run_command(
      "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'");
  return r.out.substr(0, r.out.find('\n'));
}

inline std::string helper() { return env("HPN_TEST_SUPPORT_BIN") + "/registry-helper"; }

// A Docker archive of one image NAME written by support/bin/make-archive, with one
// hostile part of KIND (good, parent, absolute, symlink-out, layer-parent); returns
// the image's config digest.
inline std::string make_archive(const std::string& kind, const std::string& name, const std::filesystem::path& out) {
  auto r = run_command(shell_quote(env("HPN_TEST_SUPPORT_BIN") + "/make-archive") + " " + kind + " " +
                       shell_quote(name) + " " + shell_quote(out.string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.out.substr(0, r.out.find('\n'));
}

// The hostile kinds of make_archive, each with the member and the words of the rule
// hpn names when it refuses it.
struct HostileKind {
  std::string kind, member, rule;
};
inline const std::vector<HostileKind>& hostile_kinds() {
  static const std::vector<HostileKind> kinds = {
      {"parent", "../../etc/hpn-escape", "a '..' component in its name"},
      {"absolute", "/tmp/hpn-escape", "an absolute name"},
      {"symlink-out", "escape -> ../../../etc/passwd", "a symbolic link that leads out of the archive"},
      {"layer-parent", "../../etc/hpn-escape", "a '..' component in its name"},
  };
  return kinds;
}

// A process of our own in the background; killed by the destructor.
struct Proc {
  std::string pidfile;
  void start(const std::string& cmd, const std::string& log) {
    ASSERT_EQ(std::system(("setsid " + cmd + " >>" + shell_quote(log) + " 2>&1 & echo $! >" + shell_quote(pidfile)).c_str()),
              0);
  }
  void kill9() { run_command("kill -9 $(cat " + shell_quote(pidfile) + ") 2>/dev/null; sleep 0.1"); }
  ~Proc() {
    if (!pidfile.empty()) kill9();
  }
};

// The HTTP forwarder of registry-helper in front of `upstream`; its log lists each request.
struct Proxy {
  TempDir dir;
  Proc proc;
  std::string port;
  explicit Proxy(const std::string& upstream, const std::string& extra = {}) {
    proc.pidfile = (dir / "pid").string();
    proc.start(shell_quote(helper()) + " proxy --upstream " + upstream + " --port-file " +
                   shell_quote((dir / "port").string()) + " --log " + shell_quote((dir / "log").string()) + " " + extra,
               (dir / "out").string());
    EXPECT_TRUE(wait_for([&] { return std::filesystem::exists(dir / "port"); }, 20s)) << slurp(dir / "out");
    port = slurp(dir / "port");
  }
  std::string host() const { return "127.0.0.1:" + port; }
  std::string log() const { return slurp(dir / "log"); }
  std::size_t count(const std::string& what) const {
    const std::string l = log();
    std::size_t n = 0;
    for (auto p = l.find(what); p != std::string::npos; p = l.find(what, p + 1)) ++n;
    return n;
  }
};

// A docker-registry of our own, serving a copy of the open registry's storage.
struct PrivateRegistry {
  TempDir dir;
  Proc proc;
  std::string port = free_port();
  std::string ip;
  // `http_extra`: more keys of its http section (", tls: {...}").
  // `seeded`: start with the test images (a copy of the open registry's storage),
  // else empty.
  explicit PrivateRegistry(const std::string& auth_yaml = {}, std::string listen_ip = "127.0.0.1",
                           const std::string& http_extra = {}, bool seeded = true)
      : ip(std::move(listen_ip)) {
    const std::filesystem::path storage = std::filesystem::path(env("HPN_TESTENV_DIR")) / "registry";
    if (seeded) {
      EXPECT_EQ(run_command("cp -a " + shell_quote(storage.string()) + " " + shell_quote((dir / "data").string())).exit_code,
                0);
    } else {
      std::filesystem::create_directories(dir / "data");
    }
    std::ofstream(dir / "reg.yml") << "version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\n"
                                   << "storage: {filesystem: {rootdirectory: " << (dir / "data").string()
                                   << "}}\nhttp: {addr: " << ip << ":" << port << http_extra << "}\n"
                                   << auth_yaml;
    proc.pidfile = (dir / "pid").string();
    start();
  }
  void start() {
    proc.start("docker-registry serve " + shell_quote((dir / "reg.yml").string()), (dir / "reg.log").string());
    EXPECT_TRUE(wait_for([&] {
      return run_command("curl -s -o /dev/null http://" + ip + ":" + port + "/v2/").exit_code == 0;
    }, 20s)) << slurp(dir / "reg.log");
  }
  void kill() { proc.kill9(); }
  std::string host() const { return ip + ":" + port; }
  // The file holding blob `digest`.
  std::filesystem::path blob_file(const std::string& digest) const {
    const std::string hex = digest.substr(7);
    return dir / "data/docker/registry/v2/blobs/sha256" / hex.substr(0, 2) / hex / "data";
  }
};

// hpn with DOCKER_HOST naming a socket that does not exist: no daemon takes part.
inline constexpr const char* k_no_daemon = "unix:///nonexistent/hpn-no-daemon.sock";
inline CommandResult hpn_alone(const TempDir& dir, const std::string& args, const std::string& env_words = {}) {
  HpnRun how;
  how.host = k_no_daemon;
  how.env = env_words;
  return run_hpn(dir.path(), args, how);
}

// The digest a registry serves for repo:tag ("" when none).
inline std::string served_digest(const std::string& registry, const std::string& repo, const std::string& tag) {
  auto r = run_command("curl -sfI -H 'Accept: application/vnd.oci.image.index.v1+json' -H 'Accept: "
                       "application/vnd.docker.distribution.manifest.list.v2+json' -H 'Accept: "
                       "application/vnd.oci.image.manifest.v1+json' -H 'Accept: "
                       "application/vnd.docker.distribution.manifest.v2+json' http://" +
                       registry + "/v2/" + repo + "/manifests/" + tag);
  std::smatch m;
  static const std::regex re("[Dd]ocker-[Cc]ontent-[Dd]igest: (sha256:[0-9a-f]{64})");
  return std::regex_search(r.out, m, re) ? m[1].str() : "";
}

// The Docker schema 2 manifest that `registry` serves for REPO:1.
inline nlohmann::json manifest_of(const std::string& registry, const std::string& repo) {
  auto r = run_command("curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' http://" +
                       registry + "/v2/" + repo + "/manifests/1");
  return nlohmann::json::parse(r.out, nullptr, false);
}

// The docker CLI against `host` (stdout and stderr).
inline std::string docker_at(const std::string& host, const std::string& args) {
  return run_command("docker -H " + shell_quote(host) + " " + args + " 2>&1").out;
}

// The ID `host` gives `ref` ("" or an error text when it has none).
inline std::string image_id_at(const std::string& host, const std::string& ref) {
  auto out = docker_at(host, "image inspect -f '{{.Id}}' " + shell_quote(ref));
  return out.substr(0, out.find('\n'));
}

// The token issuer of registry-helper (Debian packages none): `options` as its
// command line takes them (--user U:P, --public REPOS, --one-scope).
struct TokenIssuer {
  TempDir dir;
  Proc proc;
  explicit TokenIssuer(const std::string& options) {
    proc.pidfile = (dir / "pid").string();
    proc.start(shell_quote(helper()) + " token-issuer " + options + " --port-file " +
                   shell_quote((dir / "port").string()) + " --cert " + shell_quote((dir / "cert.pem").string()) +
                   " --log " + shell_quote((dir / "log").string()),
               (dir / "out").string());
    EXPECT_TRUE(wait_for([&] { return std::filesystem::exists(dir / "port"); }, 30s)) << slurp(dir / "out");
  }
  std::string log() const { return slurp(dir / "log"); }
  // The auth section of a registry that takes this issuer's tokens.
  std::string registry_auth() const {
    return "auth:\n  token:\n    realm: http://127.0.0.1:" + slurp(dir / "port") +
           "/token\n    service: hpn-test-registry\n    issuer: hpn-test-issuer\n    rootcertbundle: " +
           (dir / "cert.pem").string() + "\n";
  }
};

// Environment words for hpn: a docker config.json under `dir`/`name` holding
// user:password for `host`, and no Podman auth file.
inline std::string credentials_env(const TempDir& dir, const std::string& name, const std::string& host,
                                   const std::string& user_password) {
  const std::filesystem::path cfg = dir / name;
  write_file(cfg / "config.json", "{\"auths\":{\"" + host + "\":{\"auth\":\"" +
                                      run_command("printf %s " + shell_quote(user_password) + " | base64 -w0").out +
                                      "\"}}}");
  return "DOCKER_CONFIG=" + shell_quote(cfg.string()) + " REGISTRY_AUTH_FILE=" +
         shell_quote((dir / "none/auth.json").string());
}

}  // namespace hpn::test
