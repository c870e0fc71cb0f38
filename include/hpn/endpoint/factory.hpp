// Endpoints by name, one grammar: KIND[:LOCATION].
//   registry                 as a source: each reference's own registry
//   registry:HOST[/PROJECT]  as a destination: REG/NAME:TAG, or REG/PROJECT/NAME:TAG
//   oci:PATH                 an OCI image layout directory
//   containerd[:unix:///PATH] containerd's content store and image records, in one
//                            namespace (containerd.hpp)
//   docker[:URL], podman[:URL], dir:PATH, archive:FILE  name the daemons and
//                            Harpoon archives that save, load and push move
// One factory builds every endpoint: a new endpoint is one source/destination pair
// and one line here.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "hpn/endpoint/containerd.hpp"
#include "hpn/engine/client.hpp"
#include "hpn/engine/endpoint.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/registry/client.hpp"
#include "hpn/registry/known_blobs.hpp"
#include "hpn/transfer/roles.hpp"
#include "hpn/transfer/verify.hpp"

namespace hpn::endpoint {

enum class Kind { registry, docker, podman, containerd, dir, archive, oci };

struct Spec {
  Kind kind = Kind::registry;
  std::string location;  // "" when none was given
  std::string text;      // as written
};

// Parse an endpoint; the error says what the grammar is.
Result<Spec> parse_spec(std::string_view text);
std::string_view kind_name(Kind kind);

struct Settings {
  registry::ClientOptions client;
  // The registry client registry endpoints share (what it learnt of each host, its
  // tokens); made from `client` when the first of them is built.
  std::shared_ptr<registry::Client> registry_client;
  int push_mode = 0;        // registry destinations: 0 = 1 without a project, 2 with one
  std::string project;      // registry destinations: overrides PROJECT
  // Registry destinations: the naming a command worked out from -r, -p and the push
  // mode (Harpoon's rules, -r taken whole), used instead of the location's.
  std::optional<ops::PushSpec> naming;
  const std::atomic<bool>* interrupt = nullptr;
  // Daemons named without a URL are found as every command finds them, the
  // runtime named preferred and no other.
  engine::ResolveInputs daemon;
  engine::ClientOptions daemon_client;
  std::string platform;  // os/arch[/variant] a registry source picks from an index
  std::string containerd_namespace = k_containerd_default_namespace;
  std::string snapshotter = k_containerd_default_snapshotter;  // where containerd destinations unpack images
  // What earlier runs learned about blobs (registry destinations mount from the
  // repositories it names); none: this run alone.
  std::shared_ptr<registry::KnownBlobs> known;
  // Signatures each image must pass before a registry or layout exports it.
  transfer::VerifySpec verify;
  // What refers to the images (signatures, attestations, SBOMs) goes with them, of
  // these artifact types only when any are named.
  bool referrers = true;
  std::vector<std::string> referrer_types;
};

// Whether images go into `spec` as one import stream (a daemon) rather than as
// blobs and manifests.
bool takes_streams(const Spec& spec);

// How a registry destination names images: Settings::naming when given, else
// Harpoon's push mode under registry:HOST[/PROJECT] (a project switches mode 1 to
// 2; Settings::project wins).
ops::PushSpec registry_naming(const Spec& spec, const Settings& settings);

Result<std::shared_ptr<const transfer::ImageSource>> make_source(const Spec& spec, Settings& settings);
Result<std::shared_ptr<const transfer::ImageDestination>> make_destination(const Spec& spec, Settings& settings);

// The stream path's ends: a daemon (docker, podman) exports and imports; a
// registry or an OCI layout exports through hpn's own verified reads
// (transfer::SourceStore), which save also writes archives from. Its exports go
// `into` a daemon's import (what refers to an image is counted, left behind) or
// into archives (which hold it). `source`: the endpoint's source when it is
// already open.
enum class ExportInto { daemon, archives };
Result<std::shared_ptr<const ops::ImageStore>> make_exporter(const Spec& spec, Settings& settings, ExportInto into,
                                                             std::shared_ptr<const transfer::ImageSource> source = {});
Result<std::shared_ptr<const ops::ContainerEngine>> make_importer(const Spec& spec, const Settings& settings);

// The image records of a store that keeps them itself (containerd), for ls and rmi.
Result<std::shared_ptr<const ContainerdCatalog>> make_catalog(const Spec& spec, const Settings& settings);

}  // namespace hpn::endpoint
