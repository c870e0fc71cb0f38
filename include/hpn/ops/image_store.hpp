// Where the images of a batch live, as the batch sees it: a store that can size its
// images and export them as a tar stream (ImageStore), and a container engine that
// can also import, pull, push, tag and remove (ContainerEngine). The Engine API
// client (a Docker or Podman daemon) and the command-line tool (docker, podman,
// nerdctl: one process per step) are engines; a store with no daemon
// (transfer::SourceStore) exports what a registry, a layout or archives hold.
//
// An ImageStore is shared by the whole batch; each worker opens its own StoreConnection on
// it (its own connection, or its own processes), so a StoreConnection is used by one thread
// at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hpn/engine/connection.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/ops/worker.hpp"
#include "hpn/util/result.hpp"

namespace hpn::registry {
class TagResolver;
}

namespace hpn::ops {

// The name hpn uses for local operations (inspect, save, tag, rmi): the familiar
// form with an explicit tag, which Docker and Podman both resolve locally.
inline std::string local_name(const image::Reference& ref) { return ref.familiar(); }

// An image the store holds: its ID and the bytes an export of it writes.
struct StoredImage {
  std::string id;
  std::uint64_t size = 0;
  // A store that reads more than the image (hpn's own reads of a registry or a
  // layout): what refers to it there, which a daemon's import leaves behind, and
  // its signatures and attestations that verified (--verify-key).
  std::size_t referrers_left = 0;
  std::size_t signatures_verified = 0, attestations_verified = 0;
};

// Image sizes by canonical name (tags and digests).
using SizeIndex = std::map<std::string, std::uint64_t>;

struct Pulled {
  std::string digest;       // the manifest digest the registry served ("" when not said)
  std::uint64_t bytes = 0;  // bytes fetched (or the image's size when the store does not count)
};

struct Pushed {
  std::string digest;  // sha256:... when the store reported it
};

struct Removed {
  std::size_t untagged = 0;
  std::size_t deleted = 0;
};

// What an import left in the store: "name:tag" for each tagged image, or the ID of
// an untagged one.
struct Loaded {
  std::vector<std::string> images;
};

// How a store behaves, for the plans that schedule work on it.
struct StoreTraits {
  // Transfers use this machine's CPUs and disk (a daemon on a local socket): the
  // batch runs large transfers at most one per core.
  bool local = false;
  // A question about one image is a request (milliseconds), not a process: worth
  // asking before the batch starts (sizes for largest-first, early failures).
  bool cheap_queries = false;
  // Exports of several images can be split into one archive per image (Docker's
  // legacy archive layout, API < 1.44, and the OCI layout of newer ones): small
  // images go several per export.
  bool groupable_exports = false;
  // Exports carry the layers compressed as they were pulled (the containerd image
  // store): compressing the archive again saves nothing.
  bool compressed_exports = false;
  // Pulls may be asked for a digest found at the registry ahead of them.
  bool pulls_by_digest = false;
};

// What every store does: say what it holds, and export it.
class StoreConnection : public WorkerConnection {
 public:
  // The image `name` as the store holds it; not_found when it does not.
  virtual Result<StoredImage> inspect(const std::string& name) = 0;
  // Whether an image the store lacks can be pulled into it first (a daemon); a
  // store that only exports serves what its source holds.
  virtual bool pulls_into() const { return false; }
  // Stream an archive of `names` to `sink` (the tar framing checked); returns its size.
  virtual Result<std::uint64_t> export_images(std::span<const std::string> names, const std::string& platform,
                                              const engine::Sink& sink) = 0;
};

// A container engine's own operations besides: import, and pull, tag, push and
// remove, which work on its registries and names.
class EngineConnection : public StoreConnection {
 public:
  bool pulls_into() const override { return true; }
  // Import the tar that `source` yields.
  virtual Result<Loaded> import_archive(const engine::Source& source, const std::string& platform) = 0;
  // Pull `ref` at `tag_or_digest` (its own tag or digest, or a digest found ahead).
  virtual Result<Pulled> pull(const image::Reference& ref, const std::string& tag_or_digest,
                              const std::string& platform, const ProgressFn& progress) = 0;
  // Give the image `source` (a local name) the name `target` as well.
  virtual Status tag(const std::string& source, const image::Reference& target) = 0;
  virtual Result<Pushed> push(const image::Reference& target, const ProgressFn& progress) = 0;
  virtual Result<Removed> remove(const std::string& name, bool force) = 0;
};

class ImageStore {
 public:
  virtual ~ImageStore() = default;
  virtual const StoreTraits& traits() const = 0;
  // A conn for one worker.
  virtual std::unique_ptr<StoreConnection> open() const = 0;
  // Sizes of the listed images, as cheaply as the store can tell them (one list
  // request, or an inspect each); images it cannot size are left out. Never fails:
  // a missing size only costs the ordering.
  virtual SizeIndex sizes(const std::vector<image::Reference>& refs, std::size_t workers) const = 0;
  // An error when the store cannot filter `what` ("save", "load") by platform.
  virtual Status check_platform(const std::string& platform, std::string_view what) const = 0;
  // Digests of the listed tags looked up at their registries while the pulls run
  // (see registry/resolver.hpp), when the store pulls by digest; else nullptr.
  virtual std::shared_ptr<const registry::TagResolver> resolve_ahead(const std::vector<image::Reference>& refs,
                                                                   std::size_t threads) const = 0;
};

// A container engine (a daemon through its API, or its command-line tool): a store
// whose connections also import, pull, tag, push and remove.
class ContainerEngine : public ImageStore {
 public:
  std::unique_ptr<StoreConnection> open() const final { return open_engine(); }
  virtual std::unique_ptr<EngineConnection> open_engine() const = 0;
};

}  // namespace hpn::ops
