// Running a child process with its stdin fed from a Source and its stdout streamed
// to a Sink (the CLI backend), cancellable through an interrupt flag.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hpn/util/result.hpp"

namespace hpn::util {

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string err;     // the last 16 KiB of stderr
};

struct ProcessIo {
  std::function<Result<std::size_t>(std::span<char>)> input;  // empty: stdin is /dev/null
  std::function<Status(std::string_view)> output;             // empty: stdout is kept in `captured`
  const std::atomic<bool>* interrupt = nullptr;
  // Kill the child still running at this time and fail as timeout, naming `deadline_why`.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::string deadline_why;
  std::vector<std::string> env;  // NAME=VALUE set in the child's environment (overriding)
};

// Run argv[0] (looked up in PATH). Fails only when it cannot be started, when
// feeding or draining it fails (the child is killed), on interrupt (cancelled) or
// at the deadline (timeout).
Result<ProcessResult> run_process(const std::vector<std::string>& argv, const ProcessIo& io,
                                  std::string* captured = nullptr);

}  // namespace hpn::util
