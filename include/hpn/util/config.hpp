// hpn configuration: Harpoon's YAML keys and search path, HPN_* environment
// variables, then flags (applied by the CLI), in that precedence.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hpn/util/result.hpp"

namespace hpn::util {

inline constexpr int k_default_workers = 4;
inline constexpr const char* k_default_registry = "registry.k8s.local";
inline constexpr const char* k_default_project = "library";

// How transient failures are retried, the same for every request of every road:
// an image's task by the batch, a registry request by the registry client, an
// upload from what the registry holds. A retry that made progress (an upload chunk
// the registry took) starts the count again.
struct RetryPolicy {
  int max_attempts = 3;
  std::chrono::milliseconds delay{1000};
  std::chrono::milliseconds max_delay{30000};
};

// Backoff before retry `attempt` (1-based): delay * 2^(attempt-1), capped, with jitter
// in [50%, 100%]. `unit` in [0,1) supplies the randomness.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double unit);

struct Config {
  std::string registry = k_default_registry;
  // Blobs larger than this go up to registries in chunks of this size, each a point
  // an upload resumes from ("64M"; registry.chunk_size).
  std::string registry_chunk_size = "64M";
  std::string project = k_default_project;
  struct {
    std::string http;
    std::string https;
    bool enabled = false;
  } proxy;
  struct {
    std::string preferred;  // docker|podman|"" (any)
    std::chrono::milliseconds timeout{0};  // per image operation; 0 = none
    bool auto_fallback = true;
    RetryPolicy retry;
  } runtime;
  struct {
    std::string level = "off";
    std::string format = "text";
    std::string file;
    bool console = true;
    bool timestamp = true;
    bool colors = true;
  } logging;
  int max_workers = k_default_workers;
  struct {
    std::string ns = "k8s.io";              // containerd.namespace: where the kubelet looks
    std::string snapshotter = "overlayfs";  // containerd.snapshotter: where images are unpacked
  } containerd;
  struct {
    std::string source = "daemon";  // daemon|registry: where hpn save reads images
  } save;
  // Where hpn keeps what it learns between runs ("" = $XDG_CACHE_HOME/hpn, else
  // ~/.cache/hpn), two stores, each with its own bound:
  // - known-blobs.sqlite: facts about blobs (what a layer became, who holds a blob);
  // - blobs/sha256/: the bytes of the blobs registry saves fetched (with keep_blobs).
  struct {
    std::string dir;
    std::uint64_t known_blobs_entries = 200000;  // each kind of fact kept, at most
    bool keep_blobs = false;                     // registry saves keep blob bytes in blobs/
    std::string blobs_size = "20G";              // what blobs/ keeps after a run
  } cache;
  // Registries reached over plain HTTP when HTTPS fails (loopback always is).
  std::vector<std::string> insecure_registries;
  struct {
    std::optional<int> save_mode;
    std::optional<int> load_mode;
    std::optional<int> push_mode;
  } modes;

  std::string loaded_from;  // the config file read, or "" for none
  bool registry_set = false;  // registry came from the file or HPN_REGISTRY
  bool project_set = false;   // project came from the file or HPN_PROJECT
};

// Sizes as "500M", "20G", "64MiB" or a byte count (units of 1024).
Result<std::uint64_t> parse_byte_size(const std::string& text);

// Durations as Harpoon writes them: "30s", "5m", "1h", "500ms", or a bare number of seconds.
Result<std::chrono::milliseconds> parse_duration(const std::string& text);

// Parse YAML text (`source` names it in errors) on top of `base`.
Result<Config> parse_config(const std::string& yaml, const std::string& source, Config base = {});

// The file to read: `explicit_path` if given (must exist), else the first of
// ./config.yaml, ~/.hpn/config.yaml, /etc/hpn/config.yaml that exists, else none.
std::vector<std::string> config_search_path(const std::string& home);

using Getenv = std::function<std::optional<std::string>(const char*)>;

// Load defaults < file < environment.
Result<Config> load_config(const std::string& explicit_path, const Getenv& getenv = {});

}  // namespace hpn::util
