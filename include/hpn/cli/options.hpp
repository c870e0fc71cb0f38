// The command line's options, typed: what every command shares (how to reach the
// daemon, how a batch runs and reports), then one struct per subcommand holding
// only what that subcommand takes. app.cpp binds them; each cmd_* reads its own.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "hpn/archive/codec.hpp"
#include "hpn/ops/reporter.hpp"

namespace hpn::cli {

// --runtime: which runtime's socket to prefer, or the tool of --backend cli;
// containerd (and nerdctl with the API back end) is reached over its own API.
enum class RuntimeChoice { unset, docker, podman, nerdctl, containerd };
// --backend: the Engine API, or one command-line process per step.
enum class Backend { api, cli };

// How the daemon is found and reached: -H, --runtime, --auto-fallback,
// --connect-timeout, --backend.
struct DaemonOptions {
  std::string host;
  RuntimeChoice runtime = RuntimeChoice::unset;
  std::optional<bool> auto_fallback;  // --auto-fallback / --no-auto-fallback
  std::chrono::milliseconds connect_timeout{10000};
  Backend backend = Backend::api;
  std::string containerd_namespace;  // --namespace ("" = config containerd.namespace)
  std::string snapshotter;           // --snapshotter ("" = config containerd.snapshotter)
};

// Options every command takes: the daemon, the configuration, logging, and how a
// batch runs and reports.
struct GlobalOptions {
  DaemonOptions daemon;
  std::string config_file;
  std::string log_level;
  std::string log_file;
  int workers = 0;  // 0 = from config
  bool quiet = false;
  ops::OutputFormat output = ops::OutputFormat::text;
  ops::ProgressMode progress = ops::ProgressMode::automatic;
  bool no_color = false;
  bool stats = false;
};

// The images a command works on: -f LIST and references given as arguments.
struct ImageInput {
  std::string list_file;
  std::vector<std::string> references;
  bool given() const { return !list_file.empty() || !references.empty(); }
};

// Where push and copy put images in a registry: -r, -p, --push-mode (each unset
// falls back to the configuration).
struct RegistryTargetOptions {
  std::string registry;
  std::string project;
  std::optional<int> push_mode;
};

// --compress and --level.
struct CodecOptions {
  archive::Compression compress = archive::Compression::none;
  int level = -1;  // the codec's default
  bool given() const { return compress != archive::Compression::none || level >= 0; }
};

// save --source: the configured one (save.source), the daemon, or the registries.
enum class SaveSource { configured, daemon, registry };

// What refers to the images (signatures, attestations, SBOMs) and whether it moves.
struct ReferrerOptions {
  bool none = false;               // --no-referrers: the images alone
  std::vector<std::string> types;  // --referrers-type: only these artifact types (empty: all)
};

// --verify-key and --verify-attestation: what each image's signatures must pass.
struct VerifyOptions {
  std::vector<std::string> keys;          // PEM public key files
  std::vector<std::string> attestations;  // predicate types (cosign's names or URIs)
};

struct PullOptions {
  ImageInput images;
  std::string platform;
  bool no_resolve = false;
};

struct SaveOptions {
  ImageInput images;
  std::string path;
  std::optional<int> save_mode;
  CodecOptions codec;
  bool force = false;
  bool dry_run = false;
  bool no_wait = false;
  std::string bundle;
  std::string platform;
  SaveSource source = SaveSource::configured;
  std::string cache_dir;  // --cache: the blob store of registry saves in this directory
  bool no_cache = false;  // neither the blob store nor the facts about blobs
  std::vector<std::string> insecure_registries;
  ReferrerOptions referrers;
  VerifyOptions verify;
};

struct LoadOptions {
  std::vector<std::string> inputs;  // archives and directories
  std::string path;
  std::optional<int> load_mode;
  bool dry_run = false;
  bool recursive = false;
  bool skip_verify = false;
  std::string platform;
  VerifyOptions verify;
};

struct PushOptions {
  ImageInput images;  // with `archives`: the references are archive files and directories
  RegistryTargetOptions target;
  bool dry_run = false;
  bool archives = false;
  bool recursive = false;
  bool skip_verify = false;
  archive::Compression layer_compression = archive::Compression::gzip;
  std::vector<std::string> insecure_registries;
  bool no_cache = false;  // neither read nor write the known-blob cache
  ReferrerOptions referrers;
  VerifyOptions verify;
};

struct CopyOptions {
  ImageInput images;
  RegistryTargetOptions target;
  std::string from;  // "" = registry
  std::string to;    // "" = registry:-r
  CodecOptions codec;
  bool dry_run = false;
  std::string platform;
  std::vector<std::string> insecure_registries;
  bool no_cache = false;  // neither read nor write the known-blob cache
  ReferrerOptions referrers;
  VerifyOptions verify;
};

struct SyncOptions {
  std::string file;  // the rules (YAML)
  bool dry_run = false;
  std::string lock;  // write what was copied, by digest, to this list
  std::vector<std::string> insecure_registries;
  bool no_cache = false;
  ReferrerOptions referrers;
  VerifyOptions verify;
};

struct RmiOptions {
  ImageInput images;
  bool force = false;
};

struct LsOptions {
  ImageInput images;
  std::string path;
  bool recursive = false;
  std::string format;
};

struct LoginOptions {
  std::string registry;
  std::string username;
  bool password_stdin = false;
};

struct LogoutOptions {
  std::string registry;
};

}  // namespace hpn::cli
