#include "support/testenv.hpp"

#include <atomic>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include <gtest/gtest.h>

namespace hpn::test {
namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

static engine::Endpoint endpoint_from(const char* var) {
  auto ep = engine::parse_host(env(var), var);
  if (!ep) {
    ADD_FAILURE() << var << ": " << ep.error().message;
    return {};
  }
  return *ep;
}

engine::Endpoint docker_endpoint() { return endpoint_from("HPN_TEST_DOCKER_HOST"); }
engine::Endpoint podman_endpoint() { return endpoint_from("HPN_TEST_PODMAN_HOST"); }

static engine::Client must_connect(const engine::Endpoint& ep) {
  auto c = engine::Client::connect(ep);
  if (!c) {
    throw std::runtime_error("cannot connect to " + ep.describe() + ": " + c.error().message);
  }
  return std::move(*c);
}

std::string docker_daemon() {
  auto d = env("HPN_TEST_DOCKER");
  return d.empty() ? "docker20" : d;
}

bool containerd_store() { return docker_daemon() == "docker28c"; }

std::string docker_daemon_api() {
  const auto host = env("HPN_TEST_DOCKER_HOST");
  const std::string sock = host.rfind("unix://", 0) == 0 ? host.substr(7) : host;
  auto r = run_command("curl -sI --unix-socket " + shell_quote(sock) +
                       " http://d/_ping | tr -d '\\r' | sed -n 's/^[Aa]pi-[Vv]ersion: //p'");
  auto v = r.out;
  while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
  return v;
}

std::string docker_negotiated_api() {
  const auto daemon = docker_daemon_api();
  return engine::compare_api_versions(daemon, engine::k_client_api_version) < 0
             ? daemon
             : std::string(engine::k_client_api_version);
}

std::string saved_suffix(const std::string& codec) {
  if (codec == "none" || containerd_store()) return ".tar";
  if (codec == "gzip") return ".tar.gz";
  if (codec == "zstd") return ".tar.zst";
  return ".tar.xz";
}

bool same_image(const engine::ImageInfo& a, const engine::ImageInfo& b) {
  if (a.id == b.id) return true;
  return !a.layers.empty() && a.layers == b.layers && !a.created.empty() &&
         a.created.substr(0, 19) == b.created.substr(0, 19);
}

engine::Client connect_docker() { return must_connect(docker_endpoint()); }
engine::Client connect_podman() { return must_connect(podman_endpoint()); }

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "hpn-test.XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

CommandResult run_command(const std::string& command) {
  TempDir tmp;
  const std::string out_file = (tmp / "out").string();
  const std::string err_file = (tmp / "err").string();
  std::string full = "( " + command + " ) >" + shell_quote(out_file) + " 2>" + shell_quote(err_file) + " </dev/null";
  int status = std::system(full.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  r.out = slurp(out_file);
  r.err = slurp(err_file);
  return r;
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(fs::relative(it->path(), dir).string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

namespace {

// A directory no other run of hpn uses, below one removed when the tests end.
std::filesystem::path fresh_cache_dir() {
  static TempDir caches;
  static std::atomic<int> next{0};
  return caches / ("run" + std::to_string(next++));
}

}  // namespace

std::string hpn_command(const std::filesystem::path& cwd, const std::string& args, const HpnRun& how) {
  std::string cmd = "cd " + shell_quote(cwd.string()) + " && ";
  if (!how.stdin_text.empty()) cmd += "printf '%s\\n' " + shell_quote(how.stdin_text) + " | ";
  cmd += how.exec ? "exec env" : "env";
  for (const auto& name : how.unset) cmd += " -u " + name;
  cmd += " DOCKER_HOST=" + shell_quote(how.host.empty() ? env("HPN_TEST_DOCKER_HOST") : how.host);
  cmd += " HPN_CACHE_DIR=" + shell_quote(how.cache_dir.empty() ? fresh_cache_dir().string() : how.cache_dir);
  if (!how.env.empty()) cmd += " " + how.env;
  cmd += " " + shell_quote(env("HPN_BINARY")) + " " + args;
  return cmd;
}

CommandResult run_hpn(const std::filesystem::path& cwd, const std::string& args, const HpnRun& how) {
  std::string cmd = hpn_command(cwd, args, how);
  if (how.stdin_text.empty()) cmd += " <" + shell_quote(how.stdin_file);
  return run_command(cmd);
}

CommandResult run_hpn(const std::filesystem::path& cwd, const std::string& args, const std::string& host) {
  HpnRun how;
  how.host = host;
  return run_hpn(cwd, args, how);
}

}  // namespace hpn::test
