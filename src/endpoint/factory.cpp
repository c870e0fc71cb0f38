#include "hpn/endpoint/factory.hpp"

#include <array>
#include <utility>

#include "hpn/endpoint/oci.hpp"
#include "hpn/endpoint/registry.hpp"

namespace hpn::endpoint {

namespace {

constexpr std::array<std::pair<std::string_view, Kind>, 6> k_kinds{{{"registry", Kind::registry},
                                                                    {"docker", Kind::docker},
                                                                    {"podman", Kind::podman},
                                                                    {"dir", Kind::dir},
                                                                    {"archive", Kind::archive},
                                                                    {"oci", Kind::oci}}};

Error usage(const std::string& text, const std::string& why) {
  return Error(ErrorKind::invalid_argument,
               "endpoint '" + text + "': " + why +
                   "; endpoints are registry[:HOST[/PROJECT]], docker[:URL], podman[:URL], dir:PATH, archive:FILE or "
                   "oci:PATH");
}

// Endpoints that the transfer pipeline moves images between, as blobs and manifests.
Error not_a_blob_endpoint(const Spec& spec, const char* role) {
  return Error(ErrorKind::unsupported,
               "endpoint '" + spec.text + "' cannot be the " + role +
                   " of a copy yet; copy moves images between registry and oci: endpoints (save, load and push "
                   "move images between daemons and dir: or archive:)");
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

ops::PushSpec registry_naming(const Spec& spec, const Settings& settings) {
  ops::PushSpec naming;
  const auto slash = spec.location.find('/');
  naming.registry = spec.location.substr(0, slash);
  if (slash != std::string::npos) naming.project = spec.location.substr(slash + 1);
  if (!settings.project.empty()) naming.project = settings.project;
  naming.mode = settings.push_mode != 0 ? settings.push_mode : naming.project.empty() ? 1 : 2;
  return naming;
}

Result<std::shared_ptr<const transfer::ImageSource>> make_source(const Spec& spec, const Settings& settings) {
  switch (spec.kind) {
    case Kind::registry:
      if (!spec.location.empty()) {
        return usage(spec.text, "a registry source is each image's own registry; name it in the image's reference");
      }
      return std::shared_ptr<const transfer::ImageSource>(
          std::make_shared<const RegistryImages>(registry::Client::create(settings.client)));
    case Kind::oci: {
      auto source = OciSource::open(spec.location);
      if (!source) return source.error();
      return std::shared_ptr<const transfer::ImageSource>(std::move(*source));
    }
    default:
      return not_a_blob_endpoint(spec, "source");
  }
}

Result<std::shared_ptr<const transfer::ImageDestination>> make_destination(const Spec& spec, const Settings& settings) {
  switch (spec.kind) {
    case Kind::registry: {
      if (spec.location.empty()) return usage(spec.text, "a registry destination needs a HOST");
      return std::shared_ptr<const transfer::ImageDestination>(std::make_shared<const RegistryDestination>(
          registry::Client::create(settings.client), registry_naming(spec, settings)));
    }
    case Kind::oci: {
      auto destination = OciDestination::open(spec.location, settings.interrupt);
      if (!destination) return destination.error();
      return std::shared_ptr<const transfer::ImageDestination>(std::move(*destination));
    }
    default:
      return not_a_blob_endpoint(spec, "destination");
  }
}

}  // namespace hpn::endpoint
