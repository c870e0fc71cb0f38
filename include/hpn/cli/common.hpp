// State shared by all subcommands: global options, configuration, how to reach
// the daemon, and the image inputs.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpn/archive/codec.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/cli/options.hpp"
#include "hpn/endpoint/factory.hpp"
#include "hpn/engine/client.hpp"
#include "hpn/engine/endpoint.hpp"
#include "hpn/image/image_list.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/registry/client.hpp"
#include "hpn/registry/known_blobs.hpp"
#include "hpn/util/config.hpp"
#include "hpn/util/result.hpp"

namespace hpn::cli {

// What every command works with: the shared options and the configuration. Each
// command's own options (options.hpp) come beside it.
struct Context {
  GlobalOptions global;
  util::Config config;
};

// The runtime asked for: --runtime, else the config's runtime.preferred.
RuntimeChoice runtime_choice(const Context& ctx);
// The containerd endpoint when --runtime (or runtime.preferred) is containerd, or
// nerdctl with the API back end (nerdctl is containerd's client): at -H when
// given, else at its default sockets. nullopt for the other runtimes.
std::optional<endpoint::Spec> containerd_runtime(const Context& ctx);
// The endpoint settings of a containerd runtime: namespace, snapshotter, interrupt.
endpoint::Settings containerd_settings(const Context& ctx);
// containerd's namespace and snapshotter: the option, else the configuration.
std::string containerd_namespace(const Context& ctx);
std::string snapshotter(const Context& ctx);

Result<engine::Endpoint> resolve(const Context& ctx);
// What resolve() looks at (-H, --runtime, --auto-fallback, the config).
engine::ResolveInputs resolve_inputs(const Context& ctx);
// How clients connect (--connect-timeout, DOCKER_API_VERSION).
engine::ClientOptions client_options(const Context& ctx);
// Resolve, connect and negotiate.
Result<engine::Client> connect(const Context& ctx);
// connect(), printing the error when it fails (the caller then exits 1).
std::optional<engine::Client> connect_or_report(const Context& ctx);

// The store a batch works on: the daemon through its Engine API, or with
// --backend cli the command-line tool (docker -H URI, podman --url URI, nerdctl).
// On failure the error is printed and `exit_code` says how to stop.
std::unique_ptr<ops::ContainerEngine> open_store(const Context& ctx, int& exit_code);

// How hpn reaches registries itself (save --source registry, push --archives,
// copy): credentials, insecure registries (the config's and `insecure`), proxies,
// timeouts and retries.
registry::ClientOptions registry_options(const Context& ctx, const std::vector<std::string>& insecure = {});

// Where hpn keeps what it learns between runs: cache.dir, else $XDG_CACHE_HOME/hpn,
// else ~/.cache/hpn; "" when none of them is set.
std::filesystem::path cache_home(const Context& ctx);

// The keys and attestation types of --verify-key and --verify-attestation, loaded;
// nullopt (the problem printed) when a key cannot be read, or attestations are
// asked for without a key.
std::optional<transfer::VerifySpec> verify_spec(const VerifyOptions& opt);

// What earlier runs learned about blobs (known-blobs.sqlite in cache_home()); none
// with --no-cache, or when it cannot be used (a warning says why, and the run goes
// on without it).
std::shared_ptr<registry::KnownBlobs> known_blobs(const Context& ctx, bool no_cache);

// The archives in `inputs` (files, directories; subdirectories with `recursive`).
// Prints the problem and sets `exit_code` when there are none, or when a file of
// `inputs` is not an image archive. Entries of a directory that cannot be
// read as files come back in `skipped`: add_skipped() makes each a failed task.
std::optional<archive::FoundArchives> find_input_archives(const std::vector<std::string>& inputs, bool recursive,
                                                          int& exit_code);
// A failed task for each entry find_input_archives skipped, so that the batch
// reports it by name and its exit code counts it.
template <class C>
void add_skipped(ops::BasicPlan<C>& plan, const archive::FoundArchives& found) {
  for (const auto& s : found.skipped) {
    ops::BasicTask<C> t;
    t.label = s.path.string();
    t.run = [e = s.error](C&, const ops::ProgressFn&) -> Result<ops::Outcome> { return e; };
    plan.tasks.push_back(std::move(t));
  }
}

// The images to work on, from -f LIST and/or references given as arguments. Prints
// every problem (with line numbers) and returns nullopt when the batch must not start.
std::optional<std::vector<image::Reference>> read_images(const ImageInput& input);

// --output json was asked for.
bool json_output(const Context& ctx);
// One JSON document on stdout, on one line.
void print_json(const nlohmann::json& document);

// What a --dry-run would do: each input and what it would become ("" when nothing
// more is to say), as "[i/n] would VERB INPUT -> TARGET" lines and a closing line, or
// as one JSON document {"command","dry_run":true,"total","items":[{"input","target"}]}.
struct DryRunItem {
  std::string input;
  std::string target;
  std::string error;  // why it could not be planned ("" when it could)
};
int print_dry_run(const Context& ctx, const char* command, const char* verb, const char* noun,
                  const std::vector<DryRunItem>& items);

// "1 image", "3 images" (noun given in the plural).
std::string count_of(std::size_t n, std::string_view noun);

// "hpn: error: <message>" on stderr.
void print_error(const Error& e);
void print_error(const std::string& message);

}  // namespace hpn::cli
