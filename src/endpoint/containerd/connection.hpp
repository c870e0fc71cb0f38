// One gRPC channel to containerd, the calls hpn makes, each in one namespace and,
// for what it creates, under one lease. Every failure comes back as a typed Error
// that says which call failed and containerd's own words.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpn/engine/connection.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/util/result.hpp"

namespace hpn::containerd {

using Labels = std::map<std::string, std::string>;

struct ContentInfo {
  std::string digest;
  std::uint64_t size = 0;
  Labels labels;
};

struct ImageRecord {
  std::string name;
  registry::Descriptor target;
  Labels labels;
};

struct Mount {
  std::string type, source, target;
  std::vector<std::string> options;
};

class Connection {
 public:
  // Connects to the socket at `path` and asks containerd's version, so a wrong
  // socket fails here, by name.
  static Result<std::shared_ptr<Connection>> open(const std::string& path, std::string ns);
  ~Connection();

  const std::string& version() const { return version_; }
  const std::string& ns() const { return ns_; }
  const std::string& socket() const { return socket_; }

  // ---- content store
  Result<std::optional<ContentInfo>> info(const std::string& digest);
  // Streams the blob to `sink`; returns the bytes delivered (not checked here).
  Result<std::uint64_t> read(const std::string& digest, const engine::Sink& sink, const std::atomic<bool>* flag);
  // Writes the bytes of `source` under the ingest `ref` and commits them with
  // `labels`. `expected` (digest and size) is checked by containerd on commit when
  // given; returns the digest containerd stored. A blob that is there already is
  // not an error.
  Result<std::string> write(const std::string& ref, const std::optional<registry::Descriptor>& expected,
                            const engine::Source& source, const Labels& labels, const std::string& lease,
                            const std::atomic<bool>* flag);
  // Adds or replaces these labels of a blob.
  Status label(const std::string& digest, const Labels& labels);
  Status abort(const std::string& ref);

  // ---- image records
  Result<std::optional<ImageRecord>> image(const std::string& name);
  Result<std::vector<ImageRecord>> images();
  // Creates the record, or points an existing one at the new target.
  Status put_image(const ImageRecord& record);
  Status delete_image(const std::string& name);

  // ---- leases
  Status create_lease(const std::string& id, const Labels& labels);
  Status delete_lease(const std::string& id);

  // ---- snapshots and unpacking
  Result<bool> snapshot_exists(const std::string& snapshotter, const std::string& key);
  Result<std::vector<Mount>> prepare(const std::string& snapshotter, const std::string& key, const std::string& parent,
                                     const std::string& lease);
  // Ok when committed, conflict when `name` exists already.
  Status commit(const std::string& snapshotter, const std::string& name, const std::string& key,
                const std::string& lease);
  Status remove_snapshot(const std::string& snapshotter, const std::string& key);
  // Applies the layer `layer` (in the content store) onto `mounts`; returns the
  // digest of the tar it unpacked (the diff ID).
  Result<std::string> apply(const registry::Descriptor& layer, const std::vector<Mount>& mounts,
                            const std::string& lease);

  struct Stubs;

 private:
  Connection() = default;
  std::string socket_, ns_, version_;
  std::unique_ptr<Stubs> stubs_;
};

// The bytes of `digest` (a manifest or a config: at most 16 MiB), checked against it.
Result<std::string> read_small(Connection& c, const std::string& digest, const std::atomic<bool>* flag);

// The image manifest that `target` (whose bytes are `body`) stands for on this
// machine: itself, or the entry of an index for this machine's platform; nullopt
// when the index has none. `what` names the image in errors.
Result<std::optional<std::string>> platform_manifest(Connection& c, const registry::Descriptor& target,
                                                     const std::string& body, const std::string& what,
                                                     const std::atomic<bool>* flag);

}  // namespace hpn::containerd
