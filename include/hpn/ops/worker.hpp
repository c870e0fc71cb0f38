// What the batch needs of a worker's connection, whatever it connects to: a way to
// be interrupted and a deadline. Each back end's connection adds its own calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace hpn::ops {

// Progress of one task: a phase ("exporting", "saving", "pulling", ...) and bytes
// done out of total (0 = unknown). Cheap to call per chunk: the batch throttles it.
using ProgressFn = std::function<void(std::string_view phase, std::uint64_t done, std::uint64_t total)>;

class WorkerConnection {
 public:
  virtual ~WorkerConnection() = default;
  // Abort what runs when *flag becomes true (a batch-wide interrupt). Not owned.
  virtual void watch(const std::atomic<bool>* flag) = 0;
  // Fail work still running at `deadline` as timed out; nullopt clears it.
  virtual void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) = 0;
};

}  // namespace hpn::ops
