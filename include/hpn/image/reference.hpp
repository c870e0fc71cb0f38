// Image references by the distribution/reference grammar:
//   [domain[:port]/]path[:tag][@algo:hex]
// normalised the way Docker does it: no domain means docker.io, a single-component
// name on docker.io gets library/.
#pragma once

#include <string>
#include <string_view>

#include "hpn/util/result.hpp"

namespace hpn::image {

struct Reference {
  std::string original;  // exactly as written
  std::string domain;    // "docker.io", "localhost:5000", "quay.io"
  std::string path;      // "library/nginx", "calico/node"
  std::string tag;       // "latest" when neither tag nor digest was given
  std::string digest;    // "sha256:<hex>" or ""
  bool tag_given = false;

  // domain/path
  std::string repository() const;
  // domain/path[:tag][@digest], always explicit.
  std::string canonical() const;
  // Docker's short form: nginx:latest, calico/node:v1, quay.io/a/b:1.
  std::string familiar() const;
  // familiar() without tag or digest: nginx, calico/node, quay.io/a/b.
  std::string familiar_repository() const;
  // The last path component: "nginx", "node", "c".
  std::string name() const;
  // The path component before the name, or "library" for a single component
  // (Harpoon's project, without its bug of taking a registry host as the project).
  std::string project() const;
  // Tag if given, else the digest if given, else "latest": what to pull.
  std::string tag_or_digest() const;
};

// Docker Hub, the one registry with several names: references say docker.io; its
// index and API answer as index.docker.io and registry-1.docker.io.
inline constexpr std::string_view k_docker_hub = "docker.io";
// Whether `host` is one of Docker Hub's names.
bool is_docker_hub(std::string_view host);
// The host a registry's API answers on: registry-1.docker.io for Docker Hub, else
// the domain itself.
std::string registry_api_host(std::string_view domain);

// Parse and normalise; the error names what is wrong with `text`.
Result<Reference> parse_reference(std::string_view text);

// Harpoon's archive file stem: the reference as written with '/', ':' and '@'
// replaced by '_': "localhost:5000/app:1" -> "localhost_5000_app_1".
std::string archive_stem(std::string_view original);

}  // namespace hpn::image
