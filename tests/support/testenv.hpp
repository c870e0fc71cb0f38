// What the integration tests know about the environment scripts/testenv started.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "hpn/engine/client.hpp"

namespace hpn::test {

// Value of an environment variable, or "" when unset.
std::string env(const char* name);

// The test environment's endpoints (from HPN_TEST_* variables).
engine::Endpoint docker_endpoint();
engine::Endpoint podman_endpoint();
// Which Docker daemon of the environment the tests talk to (HPN_TEST_DOCKER):
// "docker20" (Debian's 20.10), "docker28" (classic store) or "docker28c"
// (containerd image store).
std::string docker_daemon();
// True for a daemon that keeps images in the containerd image store: its image IDs
// are manifest digests and its exports carry the layers compressed.
bool containerd_store();
// The API version the daemon announces (its /_ping Api-Version header, read with
// curl), and the one hpn should negotiate with it: the lower of that and hpn's.
std::string docker_daemon_api();
std::string docker_negotiated_api();
// The file suffix of an archive `hpn save --compress CODEC` writes on this daemon:
// ".tar.zst" and so on, ".tar" on the containerd image store (whose exports carry
// the layers compressed, so hpn does not compress them again).
std::string saved_suffix(const std::string& codec);
// Whether two daemons' inspections are of the same image. IDs differ between
// stores (the containerd image store's ID is the manifest digest, the others' the
// config digest), so this compares the layers' diff IDs and the creation time.
bool same_image(const engine::ImageInfo& a, const engine::ImageInfo& b);
// Connect and negotiate, failing the test (ADD_FAILURE) on error.
engine::Client connect_docker();
engine::Client connect_podman();

// A fresh temporary directory removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Run a shell command, capturing stdout and stderr.
CommandResult run_command(const std::string& command);

// Quote for the shell.
std::string shell_quote(const std::string& s);

// How a test runs the hpn under test (HPN_BINARY).
struct HpnRun {
  std::string host;                   // DOCKER_HOST; empty: HPN_TEST_DOCKER_HOST
  std::vector<std::string> unset;     // variables removed from its environment
  std::string env;                    // more "NAME=VALUE" words, shell-quoted by the caller
  std::string stdin_file = "/dev/null";
  std::string stdin_text;             // fed on stdin (with a newline) instead, when not empty
  bool exec = false;                  // the shell execs hpn (its pid is hpn's)
  // Where hpn keeps what it learns between runs (HPN_CACHE_DIR); empty: a new,
  // empty directory for this run alone, so that no test sees another's.
  std::string cache_dir;
};
// The shell command that runs `hpn ARGS` in `cwd` (output not redirected).
std::string hpn_command(const std::filesystem::path& cwd, const std::string& args, const HpnRun& how = {});
// Run it and capture its output.
CommandResult run_hpn(const std::filesystem::path& cwd, const std::string& args, const HpnRun& how = {});
// The same against `host`.
CommandResult run_hpn(const std::filesystem::path& cwd, const std::string& args, const std::string& host);

// Regular files below `dir`, relative and sorted.
std::vector<std::string> files_in(const std::filesystem::path& dir);
// Whole file as a string ("" when unreadable).
std::string slurp(const std::filesystem::path& p);
// Write `text` to `p`, creating parent directories.
void write_file(const std::filesystem::path& p, const std::string& text);

}  // namespace hpn::test
