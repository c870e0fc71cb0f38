#include "hpn/cli/common.hpp"

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/paths.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "hpn/cli/app.hpp"
#include "hpn/ops/cli_store.hpp"
#include "hpn/ops/daemon_store.hpp"
#include "hpn/ops/signals.hpp"

namespace hpn::cli {
namespace {

// "saved", "loaded", "pushed", "copied"
std::string past_tense(std::string_view verb) {
  std::string s(verb);
  if (s.size() > 1 && s.back() == 'y' && std::string_view("aeiou").find(s[s.size() - 2]) == std::string_view::npos) {
    return s.substr(0, s.size() - 1) + "ied";
  }
  return s.back() == 'e' ? s + "d" : s + "ed";
}

}  // namespace

RuntimeChoice runtime_choice(const Context& ctx) {
  if (ctx.global.daemon.runtime != RuntimeChoice::unset) return ctx.global.daemon.runtime;
  const std::string& preferred = ctx.config.runtime.preferred;
  if (preferred == "docker") return RuntimeChoice::docker;
  if (preferred == "podman") return RuntimeChoice::podman;
  if (preferred == "nerdctl") return RuntimeChoice::nerdctl;
  if (preferred == "containerd") return RuntimeChoice::containerd;
  return RuntimeChoice::unset;
}

std::optional<endpoint::Spec> containerd_runtime(const Context& ctx) {
  const RuntimeChoice runtime = runtime_choice(ctx);
  if (runtime != RuntimeChoice::containerd &&
      !(runtime == RuntimeChoice::nerdctl && ctx.global.daemon.backend == Backend::api)) {
    return std::nullopt;
  }
  return endpoint::Spec{.kind = endpoint::Kind::containerd, .location = ctx.global.daemon.host, .text = "containerd"};
}

endpoint::Settings containerd_settings(const Context& ctx) {
  endpoint::Settings settings;
  settings.interrupt = &ops::install_interrupt_handlers();
  settings.containerd_namespace = containerd_namespace(ctx);
  settings.snapshotter = snapshotter(ctx);
  return settings;
}

std::string containerd_namespace(const Context& ctx) {
  const auto& given = ctx.global.daemon.containerd_namespace;
  return given.empty() ? ctx.config.containerd.ns : given;
}

std::string snapshotter(const Context& ctx) {
  const auto& given = ctx.global.daemon.snapshotter;
  return given.empty() ? ctx.config.containerd.snapshotter : given;
}

engine::ResolveInputs resolve_inputs(const Context& ctx) {
  engine::ResolveInputs in;
  if (!ctx.global.daemon.host.empty()) {
    in.host_flag = ctx.global.daemon.host;
  }
  in.auto_fallback = ctx.global.daemon.auto_fallback.value_or(ctx.config.runtime.auto_fallback);
  const RuntimeChoice runtime = runtime_choice(ctx);
  if (runtime == RuntimeChoice::podman) {
    in.runtime = engine::RuntimePreference::podman;
  } else if (runtime == RuntimeChoice::docker) {
    in.runtime = engine::RuntimePreference::docker;
  }
  return in;
}

Result<engine::Endpoint> resolve(const Context& ctx) { return engine::resolve_endpoint(resolve_inputs(ctx)); }

engine::ClientOptions client_options(const Context& ctx) {
  engine::ClientOptions opts;
  opts.connection.connect_timeout = ctx.global.daemon.connect_timeout;
  if (const char* v = std::getenv("DOCKER_API_VERSION"); v != nullptr && *v != '\0') {
    opts.api_version = v;
  }
  return opts;
}

Result<engine::Client> connect(const Context& ctx) {
  if (containerd_runtime(ctx)) {
    return Error(
        ErrorKind::unsupported,
        "containerd has no Engine API: load, save, pull, push, ls and rmi reach it (--runtime containerd), and "
        "copy moves images to and from it (--from/--to containerd)");
  }
  auto ep = resolve(ctx);
  if (!ep) {
    return ep.error();
  }
  return engine::Client::connect(*ep, client_options(ctx));
}

std::optional<engine::Client> connect_or_report(const Context& ctx) {
  auto client = connect(ctx);
  if (!client) {
    print_error(client.error());
    return std::nullopt;
  }
  return std::move(*client);
}

std::unique_ptr<ops::ContainerEngine> open_store(const Context& ctx, int& exit_code) {
  if (containerd_runtime(ctx)) {
    print_error(ctx.global.daemon.backend == Backend::cli
                    ? "--backend cli runs docker, podman or nerdctl; containerd is reached over its API (no --backend)"
                    : "this command does not reach containerd; load, save, pull, push, ls and rmi do (--runtime "
                      "containerd), and copy moves images to and from it (--from/--to containerd)");
    exit_code = k_exit_usage;
    return nullptr;
  }
  if (ctx.global.daemon.backend == Backend::cli) {
    const RuntimeChoice runtime = runtime_choice(ctx);
    if (runtime == RuntimeChoice::nerdctl) {
      // nerdctl talks to containerd on this machine itself.
      auto tool = ops::cli_tool("nerdctl", nullptr);
      tool.env = ops::proxy_environment(ctx.config);
      return std::make_unique<ops::CliStore>(std::move(tool), true);
    }
    auto ep = resolve(ctx);
    if (!ep) {
      print_error(ep.error());
      exit_code = k_exit_usage;
      return nullptr;
    }
    auto tool = ops::cli_tool(runtime == RuntimeChoice::podman ? "podman" : "docker", &*ep);
    tool.env = ops::proxy_environment(ctx.config);
    return std::make_unique<ops::CliStore>(std::move(tool), ep->transport == engine::Transport::unix_socket);
  }
  auto client = connect(ctx);
  if (!client) {
    print_error(client.error());
    exit_code = k_exit_failed;
    return nullptr;
  }
  return std::make_unique<ops::DaemonStore>(std::move(*client));
}

std::optional<std::vector<image::Reference>> read_images(const ImageInput& input) {
  std::vector<image::Reference> refs;
  std::vector<std::string> problems;
  std::set<std::string> seen;
  if (!input.list_file.empty()) {
    auto list = image::read_image_list(input.list_file);
    if (!list) {
      print_error(list.error());
      return std::nullopt;
    }
    problems = image::describe_problems(*list);
    for (auto& e : list->entries) {
      if (seen.insert(e.ref.canonical()).second) refs.push_back(std::move(e.ref));
    }
  }
  for (std::size_t i = 0; i < input.references.size(); ++i) {
    auto ref = image::parse_reference(input.references[i]);
    if (!ref) {
      problems.push_back("argument " + std::to_string(i + 1) + ": " + ref.error().message);
      continue;
    }
    if (seen.insert(ref->canonical()).second) refs.push_back(std::move(*ref));
  }
  if (!problems.empty()) {
    for (const auto& p : problems) std::fprintf(stderr, "hpn: error: %s\n", p.c_str());
    std::fprintf(stderr, "hpn: error: %zu invalid image reference%s; nothing was started. Fix the list and run again.\n",
                 problems.size(), problems.size() == 1 ? "" : "s");
    return std::nullopt;
  }
  if (refs.empty()) {
    print_error("no images given; use -f LIST (one image a line, '-' for stdin) or name images as arguments");
    return std::nullopt;
  }
  return refs;
}

bool json_output(const Context& ctx) { return ctx.global.output == ops::OutputFormat::json; }

void print_json(const nlohmann::json& document) {
  const std::string text = document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::printf("%s\n", text.c_str());
}

int print_dry_run(const Context& ctx, const char* command, const char* verb, const char* noun,
                  const std::vector<DryRunItem>& items) {
  if (json_output(ctx)) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& it : items) {
      nlohmann::json j{{"input", it.input}};
      if (!it.target.empty()) j["target"] = it.target;
      if (!it.error.empty()) j["error"] = it.error;
      list.push_back(std::move(j));
    }
    print_json({{"command", command}, {"dry_run", true}, {"total", items.size()}, {"items", list}});
    return k_exit_ok;  // a dry run changes nothing; items it cannot plan say why
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    const auto& it = items[i];
    std::string line = "[" + std::to_string(i + 1) + "/" + std::to_string(items.size()) + "] would " + verb + " " + it.input;
    if (!it.error.empty()) line += ": " + it.error;
    else if (!it.target.empty()) line += " -> " + it.target;
    std::printf("%s\n", line.c_str());
  }
  std::printf("Dry run: %s, nothing %s\n", count_of(items.size(), noun).c_str(), past_tense(verb).c_str());
  return k_exit_ok;
}

std::string count_of(std::size_t n, std::string_view noun) {
  std::string s = std::to_string(n) + " " + std::string(noun);
  if (n == 1 && !s.empty() && s.back() == 's') s.pop_back();
  return s;
}

void print_error(const std::string& message) { std::fprintf(stderr, "hpn: error: %s\n", message.c_str()); }

void print_error(const Error& e) { print_error(e.message); }

std::filesystem::path cache_home(const Context& ctx) {
  if (!ctx.config.cache.dir.empty()) return ctx.config.cache.dir;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && *xdg == '/') return std::filesystem::path(xdg) / "hpn";
  if (home != nullptr && *home != '\0') return std::filesystem::path(home) / ".cache" / "hpn";
  return {};
}

std::optional<transfer::VerifySpec> verify_spec(const VerifyOptions& opt) {
  transfer::VerifySpec spec;
  if (opt.keys.empty() && !opt.attestations.empty()) {
    print_error("--verify-attestation needs --verify-key: the attestation is checked with the key");
    return std::nullopt;
  }
  for (const auto& file : opt.keys) {
    auto key = sigstore::PublicKey::load(file);
    if (!key) {
      print_error(key.error());
      return std::nullopt;
    }
    spec.keys.push_back(std::move(*key));
  }
  for (const auto& type : opt.attestations) spec.attestations.push_back(sigstore::predicate_type(type));
  return spec;
}

std::shared_ptr<registry::KnownBlobs> known_blobs(const Context& ctx, bool no_cache) {
  if (no_cache) return nullptr;
  const std::filesystem::path dir = cache_home(ctx);
  if (dir.empty()) return nullptr;
  auto known = registry::KnownBlobs::open(dir / "known-blobs.sqlite", ctx.config.cache.known_blobs_entries);
  if (!known) {
    std::fprintf(stderr, "hpn: warning: the blob cache %s; going on without it\n",
                 known.error().message.c_str());
    return nullptr;
  }
  if (!(*known)->rebuilt().empty()) {
    std::fprintf(stderr, "hpn: warning: the blob cache %s could not be read (%s); a new one was started\n",
                 (*known)->file().c_str(), (*known)->rebuilt().c_str());
  }
  return *known;
}

registry::ClientOptions registry_options(const Context& ctx, const std::vector<std::string>& insecure) {
  registry::ClientOptions co;
  co.credentials = engine::CredentialSources::from_environment(runtime_choice(ctx) == RuntimeChoice::podman);
  co.insecure = ctx.config.insecure_registries;
  co.insecure.insert(co.insecure.end(), insecure.begin(), insecure.end());
  if (ctx.config.proxy.enabled) {
    co.http_proxy = ctx.config.proxy.http;
    co.https_proxy = ctx.config.proxy.https.empty() ? ctx.config.proxy.http : ctx.config.proxy.https;
  }
  co.connect_timeout = ctx.global.daemon.connect_timeout;
  co.retry = ctx.config.runtime.retry;
  if (auto chunk = util::parse_byte_size(ctx.config.registry_chunk_size); chunk && *chunk > 0) co.chunk_size = *chunk;
  return co;
}

std::optional<archive::FoundArchives> find_input_archives(const std::vector<std::string>& inputs, bool recursive,
                                                          int& exit_code) {
  auto files = archive::find_archives(inputs, recursive);
  if (!files) {
    print_error(files.error());
    exit_code = k_exit_usage;
    return std::nullopt;
  }
  if (files->files.empty() && files->skipped.empty()) {
    std::string where;
    for (const auto& i : inputs) where += (where.empty() ? "" : ", ") + i;
    print_error("no archives (*.tar, *.tar.gz, *.tar.zst, *.tar.xz) in " + where +
                (recursive ? "" : "; use --recursive to look in subdirectories"));
    exit_code = k_exit_failed;
    return std::nullopt;
  }
  // Files named as inputs are checked before anything else is asked.
  for (const auto& input : inputs) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(input, ec)) continue;
    if (auto st = archive::check_image_archive(input); !st) {
      print_error(st.error());
      exit_code = k_exit_usage;
      return std::nullopt;
    }
  }
  return std::move(*files);
}

}  // namespace hpn::cli
