// Each batch operation's plan: what runs, in which order, on which ImageStore.
// A plan_* function asks the store what it needs (sizes, what it can do), decides
// the schedule and builds the tasks; run_plan() runs them on the worker pool.
// Nothing here prints: what the user should know before the batch starts comes
// back as the plan's notes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/ops/batch.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/util/config.hpp"

namespace hpn::ops {

template <class C>
struct BasicPlan {
  std::vector<BasicTask<C>> tasks;
  std::string noun = "images";     // what the tasks are, for the summary: images, files, bundles
  std::vector<std::string> notes;  // said once before the batch starts (not with --quiet)
  // Workers take their first task this far apart (see BatchOptions::start_spacing).
  std::chrono::milliseconds start_spacing{0};
  // Preparation that goes on while the batch starts (joined when the plan is done).
  std::vector<std::jthread> background;
};
using Plan = BasicPlan<StoreConnection>;        // save: any store
using EnginePlan = BasicPlan<EngineConnection>;  // pull, load, push, rmi: an engine

// How every batch runs, from the command line and the configuration.
struct RunSettings {
  int workers = util::k_default_workers;
  util::RetryPolicy retry;
  std::chrono::milliseconds operation_timeout{0};  // 0 = none
  const std::atomic<bool>* interrupt = nullptr;
};

BatchOptions batch_options(const RunSettings& settings, std::chrono::milliseconds start_spacing, bool local);

// Run the plan's tasks on connections that `open` makes; with `local` (the work uses
// this machine's CPUs and disk), large transfers run at most one per core.
template <class C>
std::vector<TaskResult> run_plan(const Opener<C>& open, bool local, BasicPlan<C> plan, const RunSettings& settings,
                                 Reporter& reporter) {
  const auto options = batch_options(settings, plan.start_spacing, local);
  const std::vector<std::jthread> background = std::move(plan.background);
  return run_batch<C>(open, std::move(plan.tasks), options, reporter);
}

// Run the plan's tasks on connections of `store`.
inline std::vector<TaskResult> run_plan(const ImageStore& store, Plan plan, const RunSettings& settings,
                                        Reporter& reporter) {
  return run_plan<StoreConnection>([&store] { return store.open(); }, store.traits().local, std::move(plan), settings,
                                   reporter);
}
inline std::vector<TaskResult> run_plan(const ContainerEngine& engine, EnginePlan plan, const RunSettings& settings,
                                        Reporter& reporter) {
  return run_plan<EngineConnection>([&engine] { return engine.open_engine(); }, engine.traits().local,
                                    std::move(plan), settings, reporter);
}

// The size of `ref` in the store, or why it cannot be worked on (not in the
// daemon: pull it first).
Result<std::uint64_t> inspect_size(StoreConnection& conn, const image::Reference& ref);

// ---- pull ---------------------------------------------------------------------

struct PullRequest {
  std::string platform;  // os/arch[/variant]; empty: the daemon's
  bool resolve = true;   // look up the tags' digests at the registries while the pulls run
  std::size_t workers = 1;
};
EnginePlan plan_pull(const ContainerEngine& store, const std::vector<image::Reference>& refs, const PullRequest& request);

// Pull each image. With `digests` (registry/resolver.hpp), an image whose digest is
// known when its pull starts is pulled by that digest and then tagged.
std::vector<EngineTask> pull_tasks(const std::vector<image::Reference>& refs, const std::string& platform,
                             std::shared_ptr<const registry::TagResolver> digests = nullptr);
// Size hints for pull tasks (so the largest start first) when every image's size is
// known from its manifest; otherwise none, and the list's order stays. True if set.
bool size_pulls(std::vector<EngineTask>& tasks, const registry::TagResolver& digests);

// ---- save ---------------------------------------------------------------------

struct SaveSpec {
  std::filesystem::path dir;
  bool by_project = false;  // Harpoon save-mode 3
  archive::Compression compression = archive::Compression::none;
  int level = archive::k_default_level;
  int threads = 0;          // zstd/xz threads per archive (0 = one per core, 1 = the saving thread)
  bool force = false;       // save even when an up-to-date archive exists
  std::string platform;     // os/arch[/variant]; needs API 1.48
  std::filesystem::path bundle;  // one archive holding every image (shared layers once); empty: one per image
  // Export small images several per request and split the export (see archive/split.hpp).
  bool group_small = false;
  std::size_t workers = 1;  // of the batch: at least this many groups when there are enough small images
};

// The directory a save writes into (the caller holds it for the run: util::DirLock).
std::filesystem::path save_directory(const SaveSpec& spec);
// `spec` as a save on `store` carries it out (nullptr: no store reachable, as asked):
// the containerd image store's exports are already compressed, so per-image
// archives are written as plain tars; the note says so ("" when nothing changed).
SaveSpec effective_save(const ImageStore* store, SaveSpec spec, std::string* note = nullptr);
// Where `ref` is saved under `spec` (the bundle, or a name with the compression suffix).
std::filesystem::path save_path(const image::Reference& ref, const SaveSpec& spec);
// The save: sizes (largest first, heavy images one per core), the free-space check,
// small-image groups, then per image the freshness check, export, stream check,
// compression, checksum and the commit. An error stops the batch before it starts.
Result<Plan> plan_save(const ImageStore& store, const std::vector<image::Reference>& refs, SaveSpec spec);

// Is the archive at `path` an up-to-date save of `ref`: its sidecar verifies and it
// holds the image ID the store has now for `ref`? Reasons for "no" are returned too.
struct Freshness {
  bool fresh = false;
  std::string why;  // "checksum mismatch", "image changed", ...
};
Freshness archive_freshness(const std::filesystem::path& path, const image::Reference& ref,
                            const std::string& current_id);

// Where the bytes of an image tar come from: it hands every byte to the sink and
// returns the tar's size.
using TarProducer = std::function<Result<std::uint64_t>(const engine::Sink&)>;

// Stream a tar from `producer` into `path`.part (compressed per `spec`), computing
// its sidecar's digest in the same pass. The archive and the sidecar's content are
// returned in Outcome::uncommitted: run_batch syncs them and gives them their final
// names, archive first, or removes them.
Result<Outcome> write_archive(const TarProducer& producer, const std::filesystem::path& path, const SaveSpec& spec,
                              const ProgressFn& progress = {});

// ---- load ---------------------------------------------------------------------

struct LoadRequest {
  bool verify = true;    // check each archive's sidecar first
  std::string platform;  // load only this platform (API 1.48)
  // Run on each archive after its sidecar and before it loads (its images'
  // signatures, --verify-key): it fills the result's counts, and an error keeps the
  // archive out of the store.
  std::function<Status(const std::filesystem::path&, LoadedArchive&)> check;
};
Result<EnginePlan> plan_load(const ContainerEngine& store, const std::vector<std::filesystem::path>& files,
                       const LoadRequest& request);

// Check an archive's sidecar (when `verify` and one exists) and open it for loading:
// the decompressed tar. Errors name the file.
Result<archive::DecompressingReader> open_for_load(const std::filesystem::path& path, bool verify,
                                                   const ProgressFn& progress);

// ---- push ---------------------------------------------------------------------

struct PushSpec {
  std::string registry;
  int mode = 1;         // 1: REG/name:tag; 2: REG/project/name:tag
  // Mode 2: overrides the image's own project when set. With placeholders
  // ({registry}, {repo}, {name}, {tag} of the source) it is the whole path: a
  // template, whatever the mode (REG/TEMPLATE, with :tag unless it places {tag}).
  std::string project;
};
// Target name for `ref`, e.g. harbor.local/library/nginx:latest.
Result<std::string> push_target(const image::Reference& ref, const PushSpec& spec);
// Tag each image for the target, push it, and remove the tag hpn made.
EnginePlan plan_push(const ContainerEngine& store, const std::vector<image::Reference>& refs, const PushSpec& spec);

// ---- rmi ----------------------------------------------------------------------

EnginePlan plan_rmi(const std::vector<image::Reference>& refs, bool force);

}  // namespace hpn::ops
