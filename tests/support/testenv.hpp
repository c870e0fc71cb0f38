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

// Regular files below `dir`, relative and sorted.
std::vector<std::string> files_in(const std::filesystem::path& dir);
// Whole file as a string ("" when unreadable).
std::string slurp(const std::filesystem::path& p);
// Write `text` to `p`, creating parent directories.
void write_file(const std::filesystem::path& p, const std::string& text);

}  // namespace hpn::test
