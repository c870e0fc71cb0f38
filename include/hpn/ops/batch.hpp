// The worker pool: a fixed number of workers, each on its own connection, run a
// list of tasks. Largest first when sizes are known; results in list order; one
// failure never stops the batch; transient failures are retried with backoff.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/util/config.hpp"
#include "hpn/util/group_commit.hpp"
#include "hpn/util/result.hpp"

namespace hpn::ops {

// What a task did, in fields: the text reporter words them (outcome_text), JSON
// prints them as fields.

// An image moved to a registry, a layout or a daemon (copy, push).
struct Transferred {
  std::string target;  // the image's name at the destination (with the endpoint, for a daemon)
  std::string digest;  // what that name points at there: a manifest digest, or a daemon's image ID
  bool image_id = false;  // `digest` is a daemon's image ID
  bool blobs_counted = false;  // moved blob by blob (not as one stream): the counts apply
  std::size_t blobs_sent = 0, blobs_present = 0, blobs_mounted = 0;  // present includes mounted
  std::size_t cache_hits = 0;  // layers not compressed: the cache of earlier runs named their blob
  std::size_t referrers = 0;   // manifests that refer to the image (signatures, attestations, SBOMs) copied
  std::size_t referrers_left = 0;  // found at the source, left behind: the destination keeps none (a daemon)
  std::size_t signatures_verified = 0;    // cosign signatures of it that verified (--verify-key)
  std::size_t attestations_verified = 0;  // its signed attestations that verified
  // With a platform: only that platform's manifest of the index `index_digest` moved.
  std::string platform, index_digest;
};

// An archive written (save), or found up to date.
struct WrittenArchive {
  std::filesystem::path path;
  archive::Compression compression = archive::Compression::none;
  std::uint64_t tar_bytes = 0;   // the image tar
  std::uint64_t file_bytes = 0;  // the file, compressed as `compression`
};

// The images an archive loaded.
struct LoadedArchive {
  std::vector<std::string> images;
  archive::Compression compression = archive::Compression::none;  // of the archive file
  // What the archive holds that refers to its images (signatures, attestations,
  // SBOMs): a daemon keeps none of it.
  std::size_t referrers_left = 0;
  // With --verify-key: its images whose signatures verified, and the signatures and
  // signed attestations that did.
  std::size_t images_verified = 0, signatures_verified = 0, attestations_verified = 0;
};

// A pull and a removal give the store's own results (Pulled, Removed: image_store.hpp).
using TaskResultData = std::variant<std::monostate, Transferred, Pulled, WrittenArchive, LoadedArchive, Removed>;

struct Outcome {
  TaskResultData result;
  std::uint64_t bytes = 0;   // bytes moved
  bool unchanged = false;    // nothing to do (already there)
  std::string note;          // said after the result: a caveat about this image ("" when none)
  // Files written but not yet durable (an archive, then its sidecar): the batch
  // syncs them together with others (util::GroupCommit) and reports the task once
  // they have their final names.
  std::shared_ptr<util::PendingGroup> uncommitted;

  const Transferred* transferred() const { return std::get_if<Transferred>(&result); }
};

// One unit of work of a batch, run on a worker's connection of type C.
template <class C>
struct BasicTask {
  std::string label;  // the image or file as the user wrote it
  // Optional first phase, run by the workers for all tasks before any `run`:
  // returns the size used to start the largest tasks first. An error fails the task.
  std::function<Result<std::uint64_t>(C&)> prepare;
  std::uint64_t size_hint = 0;
  std::function<Result<Outcome>(C&, const ProgressFn&)> run;
  // Called after a failed attempt, before a retry or giving up (e.g. to clean up).
  std::function<void()> on_failure;
};
using Task = BasicTask<StoreConnection>;
using EngineTask = BasicTask<EngineConnection>;

enum class TaskState { succeeded, failed, skipped };

struct TaskResult {
  std::size_t index = 0;  // position in the list
  std::string label;
  TaskState state = TaskState::skipped;
  Outcome outcome;
  std::optional<Error> error;
  std::chrono::milliseconds elapsed{0};
  int attempts = 0;
};

// What the user sees of a batch. The batch calls these under one lock, so an
// implementation sees one call at a time (it may run its own render thread).
class Reporter {
 public:
  virtual ~Reporter() = default;
  // Before the first task starts: every label and its expected size (0 = unknown).
  virtual void batch_started(const std::vector<std::string>& labels, const std::vector<std::uint64_t>& sizes) = 0;
  virtual void task_started(std::size_t index, const std::string& label, std::uint64_t total) = 0;
  // Throttled by the batch: a phase change, or at most every 100 ms per task.
  virtual void task_progress(std::size_t index, std::string_view phase, std::uint64_t done, std::uint64_t total) = 0;
  virtual void task_retrying(std::size_t index, const std::string& label, int attempt,
                             std::chrono::milliseconds delay, const Error& error) = 0;
  virtual void task_finished(const TaskResult& result, std::size_t finished, std::size_t total) = 0;
  // Always the last call: the summary.
  virtual void batch_finished(const std::vector<TaskResult>& results, std::chrono::milliseconds wall,
                              bool interrupted) = 0;
};

struct BatchOptions {
  int workers = util::k_default_workers;
  util::RetryPolicy retry;
  std::chrono::milliseconds operation_timeout{0};  // 0 = none
  const std::atomic<bool>* interrupt = nullptr;    // set by the signal handler
  bool largest_first = true;
  // Tasks of at least `heavy_bytes` (size known) run at most `heavy_limit` at a time
  // (0 = no limit); meanwhile the other workers take the smallest tasks. For a local
  // store the plans set the limit to the number of cores: more large exports at
  // once than cores only share the same CPUs and disk (bench: save-mixed10).
  int heavy_limit = 0;
  std::uint64_t heavy_bytes = std::uint64_t{16} << 20;
  // Workers take their first task this far apart (worker w after w * start_spacing,
  // the last within k_max_start_spread); 0 = all at once. Pulls of images alike
  // started together reach the daemon's CPU-heavy unpacking together, and on few
  // cores that costs more than the stagger (bench: pull-proxy20).
  std::chrono::milliseconds start_spacing{0};
  static constexpr std::chrono::milliseconds k_max_start_spread{400};
};

// Opens one connection for a worker.
template <class C>
using Opener = std::function<std::unique_ptr<C>()>;

// Run `tasks` on connections that `open` makes (one per worker) and return one
// result per task, in list order.
std::vector<TaskResult> run_tasks(const Opener<WorkerConnection>& open, std::vector<BasicTask<WorkerConnection>> tasks,
                                  const BatchOptions& options, Reporter& reporter);

// The same for tasks that need a connection of type C, which `open` makes.
template <class C>
std::vector<TaskResult> run_batch(const Opener<C>& open, std::vector<BasicTask<C>> tasks, const BatchOptions& options,
                                  Reporter& reporter) {
  std::vector<BasicTask<WorkerConnection>> any;
  any.reserve(tasks.size());
  for (auto& t : tasks) {
    BasicTask<WorkerConnection> a;
    a.label = std::move(t.label);
    a.size_hint = t.size_hint;
    a.on_failure = std::move(t.on_failure);
    // Every connection comes from `open`, so each is a C.
    if (t.prepare) a.prepare = [f = std::move(t.prepare)](WorkerConnection& c) { return f(static_cast<C&>(c)); };
    a.run = [f = std::move(t.run)](WorkerConnection& c, const ProgressFn& p) { return f(static_cast<C&>(c), p); };
    any.push_back(std::move(a));
  }
  return run_tasks([&open]() -> std::unique_ptr<WorkerConnection> { return open(); }, std::move(any), options,
                   reporter);
}

// Run `tasks` on connections of `store` (one per worker) and return one result per
// task, in list order.
inline std::vector<TaskResult> run_batch(const ImageStore& store, std::vector<Task> tasks, const BatchOptions& options,
                                         Reporter& reporter) {
  return run_batch<StoreConnection>([&store] { return store.open(); }, std::move(tasks), options, reporter);
}
inline std::vector<TaskResult> run_batch(const ContainerEngine& engine, std::vector<EngineTask> tasks,
                                         const BatchOptions& options, Reporter& reporter) {
  return run_batch<EngineConnection>([&engine] { return engine.open_engine(); }, std::move(tasks), options, reporter);
}

}  // namespace hpn::ops
