// Task builders for each batch operation. Each task talks to the daemon through
// the worker's own client; nothing here prints.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/engine/credentials.hpp"
#include "hpn/engine/registry.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/ops/batch.hpp"

namespace hpn::ops {

// The name hpn uses for local operations (inspect, save, tag, rmi): the familiar
// form with an explicit tag, which Docker and Podman both resolve locally.
std::string local_name(const image::Reference& ref);

// Image sizes by canonical name (tags and digests), from one GET /images/json: saves
// a round trip per image when ordering a batch. Names not found fall back to an inspect.
using SizeIndex = std::map<std::string, std::uint64_t>;
Result<SizeIndex> image_sizes(engine::Client& client);
// The same for the listed images only, by inspecting each (`workers` at a time, on
// connections of their own). For the containerd image store, whose image list is
// slow (it sums every image's content and snapshots: 0.3 s for 33 images) while an
// inspect takes milliseconds and already gives the content size an export writes.
// Images the daemon does not have are left out.
SizeIndex image_sizes_of(const engine::Client& client, const std::vector<image::Reference>& refs, std::size_t workers);

// Is the archive at `path` an up-to-date save of `ref`: its sidecar verifies and it
// holds the image ID the daemon has now for `ref`? Reasons for "no" are returned too.
struct Freshness {
  bool fresh = false;
  std::string why;  // "checksum mismatch", "image changed", ...
};
Freshness archive_freshness(const std::filesystem::path& path, const image::Reference& ref,
                            const std::string& current_id);

// Registry credentials for a batch: where to look (nullopt = always anonymous).
using CredentialLookup = std::optional<engine::CredentialSources>;
// The X-Registry-Auth header for `domain`; errors when a configured helper fails.
Result<std::string> auth_header_for(const std::string& domain, const CredentialLookup& lookup);

// Pull each image. With `digests` (engine/registry.hpp), an image whose digest is
// known when its pull starts is pulled by that digest and then tagged.
std::vector<Task> pull_tasks(const std::vector<image::Reference>& refs, const std::string& platform,
                             const CredentialLookup& credentials = std::nullopt,
                             std::shared_ptr<const engine::TagResolver> digests = nullptr);
// Size hints for pull tasks (so the largest start first) when every image's size is
// known from its manifest; otherwise none, and the list's order stays. True if set.
bool size_pulls(std::vector<Task>& tasks, const engine::TagResolver& digests);

struct SaveSpec {
  std::filesystem::path dir;
  bool by_project = false;  // Harpoon save-mode 3
  archive::Compression compression = archive::Compression::none;
  int level = archive::k_default_level;
  int threads = 0;          // zstd/xz threads per archive (0 = one per core, 1 = the saving thread)
  bool force = false;       // save even when an up-to-date archive exists
  std::string platform;     // os/arch[/variant]; needs API 1.48
  // Export small images several per request and split the export (a Docker daemon
  // with the legacy archive layout, API < 1.44: see archive/split.hpp).
  bool group_small = false;
  std::size_t workers = 1;  // of the batch: at least this many groups when there are enough small images
};
// Where `ref` is saved under `spec` (the name carries the compression suffix).
std::filesystem::path save_path(const image::Reference& ref, const SaveSpec& spec);
std::vector<Task> save_tasks(const std::vector<image::Reference>& refs, const SaveSpec& spec,
                             const SizeIndex& sizes = {});
// One task saving every image into one archive (shared layers stored once).
Task bundle_task(const std::vector<image::Reference>& refs, const std::filesystem::path& file,
                 const SaveSpec& spec);

// Where the bytes of an image tar come from: the API or a `docker save` process.
// It hands every byte to the sink and returns the tar's size.
using TarProducer = std::function<Result<std::uint64_t>(const engine::Sink&)>;

// Stream a tar from `producer` into `path`.part (compressed per `spec`), computing
// its sidecar's digest in the same pass. The archive and the sidecar's content are
// returned in Outcome::uncommitted: run_batch syncs them and gives them their final
// names, archive first, or removes them.
Result<Outcome> write_archive(const TarProducer& producer, const std::filesystem::path& path, const SaveSpec& spec,
                              const ProgressFn& progress = {});
// write_archive() of the daemon's save of `names`.
Result<Outcome> save_archive(engine::Client& client, const std::vector<std::string>& names,
                             const std::filesystem::path& path, const SaveSpec& spec,
                             const ProgressFn& progress = {});

// Check an archive's sidecar (when `verify` and one exists) and open it for loading:
// the decompressed tar. Errors name the file.
Result<archive::DecompressingReader> open_for_load(const std::filesystem::path& path, bool verify,
                                                   const ProgressFn& progress);

std::vector<Task> load_tasks(const std::vector<std::filesystem::path>& files, bool verify = true,
                             const std::string& platform = {});

struct PushSpec {
  std::string registry;
  int mode = 1;         // 1: REG/name:tag; 2: REG/project/name:tag
  std::string project;  // mode 2: overrides the image's own project when set
  CredentialLookup credentials;
};
// Target name for `ref`, e.g. harbor.local/library/nginx:latest.
Result<std::string> push_target(const image::Reference& ref, const PushSpec& spec);
std::vector<Task> push_tasks(const std::vector<image::Reference>& refs, const PushSpec& spec);

std::vector<Task> rmi_tasks(const std::vector<image::Reference>& refs, bool force);

}  // namespace hpn::ops
