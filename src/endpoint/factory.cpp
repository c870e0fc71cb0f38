#include "hpn/endpoint/factory.hpp"

#include <array>
#include <utility>

#include "hpn/endpoint/archive.hpp"
#include "hpn/endpoint/containerd.hpp"
#include "hpn/endpoint/oci.hpp"
#include "hpn/endpoint/registry.hpp"
#include "hpn/ops/daemon_store.hpp"
#include "hpn/transfer/source_store.hpp"

namespace hpn::endpoint {

namespace {

constexpr std::array<std::pair<std::string_view, Kind>, 7> k_kinds{{{"registry", Kind::registry},
                                                                    {"docker", Kind::docker},
                                                                    {"podman", Kind::podman},
                                                                    {"containerd", Kind::containerd},
                                                                    {"dir", Kind::dir},
                                                                    {"archive", Kind::archive},
                                                                    {"oci", Kind::oci}}};

Error usage(const std::string& text, const std::string& why) {
  return Error(ErrorKind::invalid_argument,
               "endpoint '" + text + "': " + why +
                   "; endpoints are registry[:HOST[/PROJECT]], docker[:URL], podman[:URL], containerd[:unix:///PATH], "
                   "dir:PATH, archive:FILE or oci:PATH");
}

Error not_yet(const Spec& spec, const char* role, const char* what) {
  return Error(ErrorKind::unsupported, "endpoint '" + spec.text + "' cannot be the " + role + " of a copy " + what +
                                           " yet; save, load and push move images between daemons and dir: or "
                                           "archive:");
}

// One client for every registry endpoint of a run: a copy between two repositories
// of one registry probes it and fetches its tokens once.
std::shared_ptr<registry::Client> shared_client(Settings& settings) {
  if (!settings.registry_client) settings.registry_client = registry::Client::create(settings.client);
  return settings.registry_client;
}

// A registry source reads each image from its own registry: a location is a mistake.
std::optional<Error> located_registry_source(const Spec& spec) {
  if (spec.location.empty()) return std::nullopt;
  return usage(spec.text, "a registry source is each image's own registry; name it in the image's reference");
}

// The daemon `spec` names: its URL, or the one found for its runtime.
Result<std::shared_ptr<const ops::ContainerEngine>> daemon(const Spec& spec, const Settings& settings) {
  Result<engine::Endpoint> where = Error(ErrorKind::invalid_argument, "");
  if (!spec.location.empty()) {
    where = engine::parse_host(spec.location, "endpoint " + spec.text);
  } else {
    engine::ResolveInputs in = settings.daemon;
    in.runtime = spec.kind == Kind::podman ? engine::RuntimePreference::podman : engine::RuntimePreference::docker;
    in.auto_fallback = false;
    where = engine::resolve_endpoint(in);
  }
  if (!where) return usage(spec.text, where.error().message);
  auto client = engine::Client::connect(*where, settings.daemon_client);
  if (!client) return client.error();
  const auto want = spec.kind == Kind::podman ? engine::Runtime::podman : engine::Runtime::docker;
  if (client->runtime() != want) {
    return Error(ErrorKind::invalid_argument, "endpoint '" + spec.text + "': the daemon at " + where->describe() +
                                                  " is " + (want == engine::Runtime::podman ? "not Podman" : "Podman") +
                                                  "; name it by its own kind");
  }
  return std::shared_ptr<const ops::ContainerEngine>(std::make_shared<const ops::DaemonStore>(std::move(*client)));
}

ContainerdSpec containerd_spec(const Spec& spec, const Settings& settings) {
  return {.socket = spec.location,
          .ns = settings.containerd_namespace,
          .snapshotter = settings.snapshotter,
          .interrupt = settings.interrupt};
}

}  // namespace

std::string_view kind_name(Kind kind) {
  for (const auto& [name, k] : k_kinds) {
    if (k == kind) return name;
  }
  return "?";
}

Result<Spec> parse_spec(std::string_view text) {
  const std::string all(text);
  const auto colon = text.find(':');
  const std::string_view head = text.substr(0, colon);
  Spec spec;
  spec.text = all;
  bool known = false;
  for (const auto& [name, k] : k_kinds) {
    if (name == head) {
      spec.kind = k;
      known = true;
    }
  }
  if (!known) return usage(all, "unknown kind '" + std::string(head) + "'");
  if (colon != std::string_view::npos) spec.location = std::string(text.substr(colon + 1));
  if (colon != std::string_view::npos && spec.location.empty()) return usage(all, "nothing after ':'");
  const bool needs_location = spec.kind == Kind::dir || spec.kind == Kind::archive || spec.kind == Kind::oci;
  if (needs_location && spec.location.empty()) return usage(all, std::string(head) + " needs a path");
  return spec;
}

bool takes_streams(const Spec& spec) { return spec.kind == Kind::docker || spec.kind == Kind::podman; }

Result<std::shared_ptr<const ops::ImageStore>> make_exporter(const Spec& spec, Settings& settings, ExportInto into,
                                                             std::shared_ptr<const transfer::ImageSource> source) {
  if (takes_streams(spec)) {
    auto engine = daemon(spec, settings);
    if (!engine) return engine.error();
    return std::shared_ptr<const ops::ImageStore>(std::move(*engine));
  }
  if (!source) {
    auto made = make_source(spec, settings);
    if (!made) return made.error();
    source = std::move(*made);
  }
  transfer::SourceStoreSpec store;
  store.platform = settings.platform;
  store.local = spec.kind != Kind::registry;
  store.verify = settings.verify;
  store.referrers = settings.referrers && into == ExportInto::archives;
  store.count_referrers = settings.referrers && into == ExportInto::daemon;
  store.referrer_types = settings.referrer_types;
  std::error_code ec;
  store.scratch_parent = std::filesystem::temp_directory_path(ec);
  return std::shared_ptr<const ops::ImageStore>(
      std::make_shared<const transfer::SourceStore>(std::move(source), std::move(store)));
}

Result<std::shared_ptr<const ops::ContainerEngine>> make_importer(const Spec& spec, const Settings& settings) {
  if (!takes_streams(spec)) return not_yet(spec, "destination", "as one stream");
  return daemon(spec, settings);
}

Result<std::shared_ptr<const ContainerdCatalog>> make_catalog(const Spec& spec, const Settings& settings) {
  if (spec.kind != Kind::containerd) {
    return Error(ErrorKind::unsupported, "endpoint '" + spec.text + "' has no image records of its own to list");
  }
  return open_containerd_catalog(containerd_spec(spec, settings));
}

ops::PushSpec registry_naming(const Spec& spec, const Settings& settings) {
  if (settings.naming) return *settings.naming;
  ops::PushSpec naming;
  const auto slash = spec.location.find('/');
  naming.registry = spec.location.substr(0, slash);
  if (slash != std::string::npos) naming.project = spec.location.substr(slash + 1);
  if (!settings.project.empty()) naming.project = settings.project;
  naming.mode = settings.push_mode != 0 ? settings.push_mode : naming.project.empty() ? 1 : 2;
  return naming;
}

Result<std::shared_ptr<const transfer::ImageSource>> make_source(const Spec& spec, Settings& settings) {
  switch (spec.kind) {
    case Kind::registry:
      if (auto e = located_registry_source(spec)) return *e;
      return std::shared_ptr<const transfer::ImageSource>(
          std::make_shared<const RegistryImages>(shared_client(settings)));
    case Kind::oci: {
      auto source = OciSource::open(spec.location);
      if (!source) return source.error();
      return std::shared_ptr<const transfer::ImageSource>(std::move(*source));
    }
    case Kind::dir:
    case Kind::archive: {
      auto source = ArchiveSource::open(spec.location, spec.kind == Kind::dir);
      if (!source) return source.error();
      return std::shared_ptr<const transfer::ImageSource>(std::move(*source));
    }
    case Kind::containerd: return open_containerd_source(containerd_spec(spec, settings));
    default:
      return not_yet(spec, "source", "as blobs");
  }
}

Result<std::shared_ptr<const transfer::ImageDestination>> make_destination(const Spec& spec, Settings& settings) {
  switch (spec.kind) {
    case Kind::registry: {
      if (spec.location.empty()) return usage(spec.text, "a registry destination needs a HOST");
      return std::shared_ptr<const transfer::ImageDestination>(std::make_shared<const RegistryDestination>(
          shared_client(settings), registry_naming(spec, settings), settings.known));
    }
    case Kind::oci: {
      auto destination = OciDestination::open(spec.location, settings.interrupt);
      if (!destination) return destination.error();
      return std::shared_ptr<const transfer::ImageDestination>(std::move(*destination));
    }
    case Kind::containerd: return open_containerd_destination(containerd_spec(spec, settings));
    default:
      return not_yet(spec, "destination", "from a registry or oci:");
  }
}

}  // namespace hpn::endpoint
