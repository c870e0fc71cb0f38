#include "hpn/cli/app.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "hpn/cli/commands.hpp"
#include "hpn/cli/completion.hpp"
#include "hpn/util/log.hpp"

namespace hpn::cli {
namespace {

// What the command line says, as parsed: the options every command shares, those
// given before the subcommand or after it (Harpoon v1 puts them first), and each
// subcommand's own.
struct Parsed {
  GlobalOptions global;
  std::string list_file;  // -f
  std::string registry;   // -r
  std::string project;    // -p before a subcommand (v1), or the push project
  std::string action;     // -a (v1)
  std::optional<int> save_mode;
  std::optional<int> load_mode;
  std::optional<int> push_mode;
  PullOptions pull;
  SaveOptions save;
  LoadOptions load;
  PushOptions push;
  CopyOptions copy;
  SyncOptions sync;
  RmiOptions rmi;
  LsOptions ls;
  LoginOptions login;
  LogoutOptions logout;
};

// Options that hpn takes before the subcommand (Harpoon v1 style) and after it. Each
// subcommand lists the ones that apply to it in its own --help; they bind the same
// variables, so either place works.
enum Shared : unsigned {
  s_daemon = 1u << 0,    // -H, --runtime, --auto-fallback, --connect-timeout
  s_config = 1u << 1,    // -c, --log-level, --log-file, --output
  s_batch = 1u << 2,     // -j, -q, --progress, --no-color, --stats, --backend
  s_list = 1u << 3,      // -f
  s_registry = 1u << 4,  // -r
  s_v1 = 1u << 5,        // -a, -p/--project, the mode flags
};
constexpr unsigned k_everything = ~0u;

// A subcommand: its help, the shared options it takes, how its own options bind,
// where its -p/--path is (when it has one), and how it runs.
struct Command {
  const char* name;
  const char* help;
  unsigned shared;
  void (*bind)(CLI::App&, Parsed&);
  std::string* (*path)(Parsed&);
  int (*run)(const Context&, const Parsed&);
};

constexpr unsigned k_base = s_daemon | s_config;
constexpr unsigned k_batch = k_base | s_batch;
constexpr unsigned k_list_batch = k_batch | s_list;

// An option taking one of `choices` by name (shown and completed as "TEXT:{a,b}"),
// stored as its typed value.
template <class E>
CLI::Option* add_choice(CLI::App& app, const std::string& flags, E& target,
                        const std::vector<std::pair<std::string, E>>& choices, const std::string& help) {
  std::vector<std::string> names;
  for (const auto& [name, value] : choices) names.push_back(name);
  return app
      .add_option_function<std::string>(
          flags,
          [&target, choices](const std::string& given) {
            for (const auto& [name, value] : choices) {
              if (name == given) target = value;
            }
          },
          help)
      ->check(CLI::IsMember(names));
}

// The options several subcommands take, each with the help its subcommand gives it.
void add_images(CLI::App& sub, ImageInput& in, const std::string& help = "Image references (also with -f LIST)") {
  sub.add_option("images", in.references, help);
}
void add_dry_run(CLI::App& sub, bool& dry_run) {
  sub.add_flag("--dry-run", dry_run, "Show what would be done, change nothing");
}
void add_path(CLI::App& sub, std::string& path, const std::string& help = "Directory of archives (default ./images)") {
  sub.add_option("-p,--path", path, help);
}
void add_codec(CLI::App& sub, CodecOptions& codec, const std::string& help) {
  add_choice(sub, "--compress", codec.compress,
             {{"none", archive::Compression::none}, {"gzip", archive::Compression::gzip},
              {"zstd", archive::Compression::zstd}, {"xz", archive::Compression::xz}},
             help);
  sub.add_option("--level", codec.level, "Compression level (codec default if omitted)")->check(CLI::Range(0, 22));
}
void add_insecure(CLI::App& sub, std::vector<std::string>& hosts, const std::string& when) {
  sub.add_option("--insecure-registry", hosts,
                 when + " this registry host[:port] over plain HTTP if HTTPS fails (loopback always may); repeatable")
      ->allow_extra_args(false);  // one host each time: the words after it are images
}
void add_platform(CLI::App& sub, std::string& platform, const std::string& help) {
  sub.add_option("--platform", platform, help);
}
void add_project(CLI::App& sub, RegistryTargetOptions& target) {
  sub.add_option("-p,--project", target.project, "Target project (switches push mode 1 to 2)");
}
void add_registry_name(CLI::App& sub, std::string& registry) {
  sub.add_option("registry", registry, "Registry host[:port] (Docker Hub: docker.io)")->required();
}

void bind_pull(CLI::App& sub, Parsed& p) {
  add_images(sub, p.pull.images);
  add_platform(sub, p.pull.platform, "os/arch[/variant] to pull");
  sub.add_flag("--no-resolve", p.pull.no_resolve,
               "Pull by tag only, in the list's order: do not ask registries for manifests first");
}

void add_verify(CLI::App& sub, VerifyOptions& o, const std::string& when) {
  sub.add_option("--verify-key", o.keys,
                 when + "check each image's cosign signature with this PEM public key (repeatable: any of them "
                        "will do; ECDSA, RSA, Ed25519) before it moves; an image that fails fails (unsigned, "
                        "signature_invalid)")
      ->allow_extra_args(false);
  sub.add_option("--verify-attestation", o.attestations,
                 "With --verify-key: also require a signed attestation of this predicate type (repeatable; "
                 "cosign's names such as spdxjson, cyclonedx, slsaprovenance, or a URI)")
      ->allow_extra_args(false);
}

void add_referrers(CLI::App& sub, ReferrerOptions& o, const std::string& verb, const std::string& where) {
  sub.add_flag("--no-referrers", o.none,
               verb + " the images alone: not the signatures, attestations and SBOMs that refer to them (moved by "
                      "default " + where + ")");
  sub.add_option("--referrers-type", o.types,
                 verb + " only the referrers of this artifact type (repeatable; e.g. application/spdx+json), and "
                        "what refers to them")
      ->allow_extra_args(false);
}

void bind_save(CLI::App& sub, Parsed& p) {
  SaveOptions& o = p.save;
  add_images(sub, o.images);
  add_path(sub, o.path, "Directory for archives (default ./images)");
  add_dry_run(sub, o.dry_run);
  add_codec(sub, o.codec, "Compress archives on the fly: none (default), gzip, zstd, xz");
  sub.add_flag("--force", o.force, "Save again even when an up-to-date, verified archive exists");
  sub.add_option("--bundle", o.bundle, "Save all images into this one archive (shared layers stored once)");
  sub.add_flag("--no-wait", o.no_wait,
               "Stop with exit 1 when another hpn is saving into the same directory (default: wait)");
  add_choice(sub, "--source", o.source, {{"daemon", SaveSource::daemon}, {"registry", SaveSource::registry}},
             "Where images come from: daemon (default: what the daemon holds, local builds too) or registry "
             "(straight from the registries, no daemon needed)");
  auto* cache = sub.add_option("--cache", o.cache_dir,
                               "With --source registry: keep the bytes of blobs in this directory across runs "
                               "(default with cache.keep_blobs: cache.dir; trimmed to cache.blobs_size)");
  sub.add_flag("--no-cache", o.no_cache,
               "Keep no blob bytes (cache.keep_blobs) and leave the facts about blobs (cache.dir) alone for this run")
      ->excludes(cache);
  add_insecure(sub, o.insecure_registries, "With --source registry: reach");
  add_referrers(sub, o.referrers, "Save", "with --source registry");
  add_verify(sub, o.verify, "With --source registry: ");
  add_platform(sub, o.platform,
               "os/arch[/variant] only: from a daemon needs API 1.48 (Docker 28+); from a registry picks it from an "
               "index (default: this machine's)");
}

void bind_load(CLI::App& sub, Parsed& p) {
  LoadOptions& o = p.load;
  sub.add_option("files", o.inputs, "Archives or directories to load (default: see --path)");
  add_path(sub, o.path);
  add_dry_run(sub, o.dry_run);
  sub.add_flag("--recursive", o.recursive, "Look for archives in subdirectories too");
  sub.add_flag("--skip-verify", o.skip_verify, "Load even when an archive does not match its .sha256 sidecar");
  add_platform(sub, o.platform, "os/arch[/variant] only (needs API 1.48, Docker 28+)");
  add_verify(sub, o.verify, "From archives that hpn saved from a registry: ");
}

void add_no_cache(CLI::App& sub, bool& no_cache) {
  sub.add_flag("--no-cache", no_cache,
               "Neither use nor update the cache of what earlier runs learned about blobs (cache.dir)");
}

void bind_push(CLI::App& sub, Parsed& p) {
  PushOptions& o = p.push;
  add_images(sub, o.images,
             "Image references (also with -f LIST); with --archives: archive files or directories");
  add_dry_run(sub, o.dry_run);
  add_insecure(sub, o.insecure_registries, "With --archives: reach");
  sub.add_flag("--archives", o.archives,
               "Push the images in archive files (or directories of them) given as arguments, straight to the "
               "registry: no daemon");
  sub.add_flag("--recursive", o.recursive, "With --archives: look for archives in subdirectories too");
  add_choice(sub, "--layer-compression", o.layer_compression,
             {{"gzip", archive::Compression::gzip}, {"zstd", archive::Compression::zstd}},
             "With --archives: how uncompressed layers are compressed on the way: gzip (default, every runtime "
             "pulls it) or zstd (containerd 1.5+, Docker 23+, Podman)");
  sub.add_flag("--skip-verify", o.skip_verify,
               "With --archives: push even when an archive does not match its .sha256 sidecar");
  add_no_cache(sub, o.no_cache);
  add_referrers(sub, o.referrers, "Push", "from archives that hold them");
  add_verify(sub, o.verify, "With --archives: ");
  add_project(sub, o.target);
}

void bind_copy(CLI::App& sub, Parsed& p) {
  CopyOptions& o = p.copy;
  add_images(sub, o.images);
  add_dry_run(sub, o.dry_run);
  add_codec(sub, o.codec,
            "With --to dir: or archive:, compress the archives on the fly: none (default), gzip, zstd, xz");
  add_insecure(sub, o.insecure_registries, "Reach");
  add_platform(sub, o.platform,
               "os/arch[/variant] only: copy that manifest of an index, not the whole index (the target's digest is "
               "then the manifest's)");
  add_no_cache(sub, o.no_cache);
  add_referrers(sub, o.referrers, "Copy", "between registries and OCI layouts");
  add_verify(sub, o.verify, "From a registry, an OCI layout or archives: ");
  add_project(sub, o.target);
  sub.add_option("--from", o.from,
                 "Where the images are: registry (default: each image's own registry), docker[:URL], podman[:URL], "
                 "containerd[:unix:///PATH], oci:DIR, dir:DIR or archive:FILE (with no list: every image they hold)");
  sub.add_option("--to", o.to,
                 "Where they go: registry:HOST[/PROJECT] (as -r and -p), oci:DIR (an OCI image layout, created or "
                 "added to), docker[:URL], podman[:URL], containerd[:unix:///PATH] (content store, unpacked, in "
                 "--namespace), dir:DIR (one archive per image) or archive:FILE (one bundle)");
}

void bind_sync(CLI::App& sub, Parsed& p) {
  SyncOptions& o = p.sync;
  sub.add_option("file", o.file, "The rules: YAML naming repositories, their tags and platforms, and destinations")
      ->required();
  sub.add_flag("--dry-run", o.dry_run,
               "Print the plan: the tags each rule picks, which would be copied and which are there already; "
               "change nothing");
  sub.add_option("--lock", o.lock,
                 "Write every image copied or found up to date, by digest, with its platform, to this list (-f "
                 "takes it back and gives the same images after the tags have moved)");
  add_insecure(sub, o.insecure_registries, "Reach");
  add_no_cache(sub, o.no_cache);
  add_referrers(sub, o.referrers, "Mirror", "into registries and OCI layouts");
  add_verify(sub, o.verify, "");
}

void bind_rmi(CLI::App& sub, Parsed& p) {
  add_images(sub, p.rmi.images);
  sub.add_flag("--force", p.rmi.force, "Remove images even when tagged in several repositories");
}

void bind_ls(CLI::App& sub, Parsed& p) {
  add_images(sub, p.ls.images);
  add_path(sub, p.ls.path);
  sub.add_flag("--recursive", p.ls.recursive, "Look for archives in subdirectories too");
  sub.add_option("--format", p.ls.format,
                 "Template for each daemon image, as docker's: {{.Repository}} {{.Tag}} {{.ID}} {{.Size}} "
                 "{{.Digest}} {{.FullID}}");
}

void bind_nothing(CLI::App&, Parsed&) {}

void bind_login(CLI::App& sub, Parsed& p) {
  add_registry_name(sub, p.login.registry);
  sub.add_option("-u,--username", p.login.username, "User name (prompted on a terminal when omitted)");
  sub.add_flag("--password-stdin", p.login.password_stdin, "Read the password from standard input");
}

void bind_logout(CLI::App& sub, Parsed& p) { add_registry_name(sub, p.logout.registry); }

std::string* no_path(Parsed&) { return nullptr; }

const Command k_commands[] = {
    {"pull", "Pull the listed images from their registries", k_list_batch, bind_pull, no_path,
     [](const Context& c, const Parsed& p) { return cmd_pull(c, p.pull); }},
    {"save", "Save each listed image to its own archive (NAME.tar, Harpoon naming)", k_list_batch, bind_save,
     [](Parsed& p) { return &p.save.path; }, [](const Context& c, const Parsed& p) { return cmd_save(c, p.save); }},
    {"load", "Load archives (any compression) from files or directories into the daemon", k_batch, bind_load,
     [](Parsed& p) { return &p.load.path; }, [](const Context& c, const Parsed& p) { return cmd_load(c, p.load); }},
    {"push", "Push the listed images from the daemon (tag, push, untag), or with --archives from archive files",
     k_list_batch | s_registry, bind_push, no_path,
     [](const Context& c, const Parsed& p) { return cmd_push(c, p.push); }},
    {"copy", "Copy images between any two endpoints: registries, daemons, OCI layouts, archives",
     k_list_batch | s_registry, bind_copy, no_path,
     [](const Context& c, const Parsed& p) { return cmd_copy(c, p.copy); }},
    {"sync", "Mirror repositories by rules (a YAML file): tag filters, platforms, path templates, a digest lock",
     k_batch, bind_sync, no_path, [](const Context& c, const Parsed& p) { return cmd_sync(c, p.sync); }},
    {"rmi", "Remove the listed images from the daemon or containerd", k_list_batch, bind_rmi, no_path,
     [](const Context& c, const Parsed& p) { return cmd_rmi(c, p.rmi); }},
    {"ls", "List daemon or containerd images, archives in a directory (-p), or which listed images are present",
     k_base | s_list, bind_ls, [](Parsed& p) { return &p.ls.path; },
     [](const Context& c, const Parsed& p) { return cmd_ls(c, p.ls); }},
    {"info", "Show the daemon endpoint, how it was chosen, server and API version", k_base, bind_nothing, no_path,
     [](const Context& c, const Parsed&) { return cmd_info(c); }},
    {"login", "Check registry credentials through the daemon and store them (docker config or helper)", k_base,
     bind_login, no_path, [](const Context& c, const Parsed& p) { return cmd_login(c, p.login); }},
    {"logout", "Remove stored credentials for a registry", k_base, bind_logout, no_path,
     [](const Context& c, const Parsed& p) { return cmd_logout(c, p.logout); }},
};

// The options given before the subcommand or after it, handed to the subcommand's
// own: the list, the registry target and the mode flags.
void hand_on_shared(Parsed& p) {
  for (ImageInput* in : {&p.pull.images, &p.save.images, &p.push.images, &p.copy.images, &p.rmi.images, &p.ls.images}) {
    in->list_file = p.list_file;
  }
  p.save.save_mode = p.save_mode;
  p.load.load_mode = p.load_mode;
  for (RegistryTargetOptions* t : {&p.push.target, &p.copy.target}) {
    t->registry = p.registry;
    t->push_mode = p.push_mode;
    if (t->project.empty()) t->project = p.project;
  }
}

// The first word that is not an option or an option's value, when it names no
// subcommand: "unknown command 'sav' (did you mean 'save'?)". "" when all is well.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string unknown_command(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return {};
    if (arg.size() > 1 && arg[0] == '-') {
      if (arg.find('=') != std::string::npos) continue;
      // "-j4" carries its value; "-j 4" and "--workers 4" take the next word.
      const std::string name = arg.rfind("--", 0) == 0 ? arg : arg.substr(0, 2);
      const CLI::Option* opt = app.get_option_no_throw(name);
      if (opt != nullptr && opt->get_expected_max() != 0 && (arg.rfind("--", 0) == 0 || arg.size() == 2)) ++i;
      continue;
    }
    std::string best;
    std::size_t best_d = 3;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->get_name() == arg) return {};
      const std::size_t d = edit_distance(arg, sub->get_name());
      if (d < best_d) best = sub->get_name(), best_d = d;
    }
    return "unknown command '" + arg + "'" + (best.empty() ? "" : " (did you mean '" + best + "'?)") +
           "; see 'hpn --help'";
  }
  return {};
}

// A global option given before the subcommand that does nothing for it: a warning.
void warn_unused(const CLI::App& app, const CLI::App& sub, const std::string& command) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt->count() == 0) continue;
    const std::string name = opt->get_name();
    if (name == "--help" || name == "--version" || name == "--action" || name == "--project" ||
        name == "--save-mode" || name == "--load-mode" || name == "--push-mode") {
      continue;  // help, or checked elsewhere (-a, -p, and the mode flags are errors)
    }
    if (sub.get_option_no_throw(name) == nullptr) {
      std::fprintf(stderr, "hpn: warning: %s does nothing for '%s'\n", name.c_str(), command.c_str());
    }
  }
}

int apply_logging(Context& ctx) {
  std::string level = ctx.global.log_level;
  if (level.empty()) level = ctx.config.logging.level;
  std::string file = ctx.global.log_file.empty() ? ctx.config.logging.file : ctx.global.log_file;
  auto parsed = hpn::log::parse_level(level.empty() ? "off" : level);
  if (!parsed) {
    print_error("invalid log level '" + level + "'; use trace, debug, info, warn, error or off");
    return k_exit_usage;
  }
  const auto& lc = ctx.config.logging;
  if (lc.format != "text" && lc.format != "json") {
    print_error("logging.format is '" + lc.format + "'; use text or json");
    return k_exit_usage;
  }
  hpn::log::Settings settings;
  settings.level = *parsed;
  settings.file = file;
  settings.console = lc.console;
  settings.json = lc.format == "json";
  settings.timestamp = lc.timestamp;
  if (auto st = hpn::log::configure(settings); !st) {
    print_error(st.error());
    return k_exit_usage;
  }
  return k_exit_ok;
}

// A mode flag given for another action is a usage error (Harpoon v1 rule).
bool modes_fit(const Parsed& o, const std::string& action) {
  auto bad = [&](const char* flag) {
    print_error(std::string(flag) + " does not apply to '" + action + "'");
    return false;
  };
  if (o.save_mode && action != "save") return bad("--save-mode");
  if (o.load_mode && action != "load") return bad("--load-mode");
  if (o.push_mode && action != "push" && action != "copy") return bad("--push-mode");
  return true;
}

const std::vector<std::pair<std::string, ops::OutputFormat>> k_output_choices{{"text", ops::OutputFormat::text},
                                                                             {"json", ops::OutputFormat::json}};

void add_shared_options(CLI::App& app, Parsed& p, unsigned which, const std::string& command) {
  GlobalOptions& o = p.global;
  DaemonOptions& d = o.daemon;
  const auto group = [&](CLI::Option* opt) { return command.empty() ? opt : opt->group("Global options"); };
  if (which & s_daemon) {
    group(app.add_option("-H,--host", d.host,
                         "Daemon: unix:///path, tcp://host:port or host:port (default: DOCKER_HOST, docker "
                         "context, CONTAINER_HOST, default sockets)"));
    group(add_choice(
        app, "--runtime", d.runtime,
        {{"docker", RuntimeChoice::docker},
         {"podman", RuntimeChoice::podman},
         {"nerdctl", RuntimeChoice::nerdctl},
         {"containerd", RuntimeChoice::containerd}},
        "docker|podman: prefer this runtime's default socket (config runtime.preferred); "
        "containerd, or nerdctl: containerd over its own API (load, save, pull, push, ls, rmi; -H unix:///PATH "
        "names its socket); nerdctl with --backend cli: the nerdctl tool"));
    group(app.add_flag_callback("--auto-fallback", [&d] { d.auto_fallback = true; },
                                "Use the other runtime's socket when the preferred one is missing (default)"));
    group(app.add_flag_callback("--no-auto-fallback", [&d] { d.auto_fallback = false; },
                                "Only use the preferred runtime's socket"));
    group(app.add_option_function<double>(
                 "--connect-timeout",
                 [&d](double seconds) { d.connect_timeout = std::chrono::milliseconds(std::llround(seconds * 1000)); },
                 "Seconds to wait for the daemon to accept a connection")
              ->check(CLI::PositiveNumber));
    group(app.add_option("--namespace", d.containerd_namespace,
                         "containerd: the namespace images go into and come from (config containerd.namespace, "
                         "default k8s.io, the kubelet's; ctr and nerdctl use default)"));
    group(app.add_option("--snapshotter", d.snapshotter,
                         "containerd: the snapshotter images are unpacked into (config containerd.snapshotter, "
                         "default overlayfs)"));
  }
  if (which & s_config) {
    group(app.add_option("-c,--config", o.config_file,
                         "Config file (default: ./config.yaml, ~/.hpn/config.yaml, /etc/hpn/config.yaml)"));
    group(add_choice(app, "--output", o.output, k_output_choices,
                     "text (default) or json: JSON on stdout (see the man page)"));
    group(app.add_option("--log-level", o.log_level,
                         "Diagnostics on stderr: trace|debug|info|warn|error|off (HPN_LOG_LEVEL, logging.level)")
              ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"})));
    group(app.add_option("--log-file", o.log_file, "Write diagnostics to FILE (HPN_LOG_FILE, logging.file)"));
  }
  if (which & s_list) {
    group(app.add_option("-f,--file", p.list_file, "Image list: one reference a line, '#' comments; '-' reads stdin"));
  }
  if (which & s_batch) {
    group(app.add_option("-j,--workers", o.workers, "Parallel workers (config parallel.max_workers, default 4)")
              ->check(CLI::Range(1, 256)));
    group(app.add_flag("-q,--quiet", o.quiet, "Print only failures and the summary (no retry notices)"));
    group(add_choice(app, "--progress", o.progress,
                     {{"auto", ops::ProgressMode::automatic},
                      {"always", ops::ProgressMode::always},
                      {"never", ops::ProgressMode::never}},
                     "Live progress on stderr: auto (when stderr is a terminal), always, never"));
    group(app.add_flag("--no-color", o.no_color, "No colors (also NO_COLOR, logging.colors: false)"));
    group(app.add_flag("--stats", o.stats, "Add per-image timings to the summary"));
    group(add_choice(app, "--backend", d.backend, {{"api", Backend::api}, {"cli", Backend::cli}},
                     "api (default): the Engine API; cli: one docker/podman/nerdctl process per step, as Harpoon"));
  }
  if (which & s_registry) {
    group(app.add_option("-r,--registry", p.registry, "Target registry for push and copy (config registry, HPN_REGISTRY)"));
  }
  if (which & s_v1) {
    app.add_option("-p,--project", p.project,
                   "Before a subcommand: its -p (push: project; save, load, ls: path). With -a: the push project "
                   "(switches push mode 1 to 2)");
    app.add_option("-a,--action", p.action, "Harpoon v1 action: pull, save, load or push")
        ->check(CLI::IsMember({"pull", "save", "load", "push"}));
  }
  // The mode flags: everywhere at the top; after a subcommand only where they apply.
  if ((which & s_v1) || command == "save") {
    group(app.add_option("--save-mode", p.save_mode, "1: ./NAME.tar  2: ./images/NAME.tar  3: ./images/PROJECT/NAME.tar")
              ->check(CLI::Range(1, 3)));
  }
  if ((which & s_v1) || command == "load") {
    group(app.add_option("--load-mode", p.load_mode, "1: ./*.tar  2: ./images/*.tar  3: ./images recursively")
              ->check(CLI::Range(1, 3)));
  }
  if ((which & s_v1) || command == "push" || command == "copy") {
    group(app.add_option("--push-mode", p.push_mode, "1: REGISTRY/NAME:TAG  2: REGISTRY/PROJECT/NAME:TAG")
              ->check(CLI::Range(1, 2)));
  }
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"hpn " HPN_VERSION ": pull, save, load, push, remove and list container images in bulk\n"
               "through the Docker Engine API (Docker or Podman).\n"
               "Exit status: 0 all succeeded, 1 any image failed, 2 usage error, 130 interrupted.",
               "hpn"};
  app.require_subcommand(0, 1);
  app.fallthrough();  // global options may follow the subcommand
  app.set_version_flag("--version", "hpn " HPN_VERSION);
  Parsed p;
  add_shared_options(app, p, k_everything, "");
  std::vector<std::pair<CLI::App*, const Command*>> subs;
  for (const auto& c : k_commands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    sub->fallthrough();
    add_shared_options(*sub, p, c.shared, c.name);
    c.bind(*sub, p);
    subs.emplace_back(sub, &c);
  }
  auto* version = app.add_subcommand("version", "Print hpn's version");
  add_choice(*version, "--output", p.global.output, k_output_choices, "text (default) or json");
  std::string shell;
  auto* completion = app.add_subcommand("completion", "Print the shell completion script for bash, zsh or fish");
  completion->add_option("shell", shell, "bash, zsh or fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));

  if (auto unknown = unknown_command(app, argc, argv); !unknown.empty()) {
    print_error(unknown);
    return k_exit_usage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e) == 0 ? k_exit_ok : k_exit_usage;
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e) == 0 ? k_exit_ok : k_exit_usage;
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e) == 0 ? k_exit_ok : k_exit_usage;
  } catch (const CLI::ParseError& e) {
    print_error(std::string(e.what()) + "; see 'hpn --help' or 'hpn COMMAND --help'");
    return k_exit_usage;
  }

  if (*completion) {
    std::fputs(completion_script(app, shell).value_or("").c_str(), stdout);
    return k_exit_ok;
  }
  if (*version) {
    if (p.global.output == ops::OutputFormat::json) {
      print_json({{"version", HPN_VERSION}});
    } else {
      std::printf("hpn %s\n", HPN_VERSION);
    }
    return k_exit_ok;
  }

  auto config = util::load_config(p.global.config_file);
  if (!config) {
    print_error(config.error());
    return k_exit_usage;
  }
  Context ctx{.global = p.global, .config = std::move(*config)};
  if (int rc = apply_logging(ctx); rc != k_exit_ok) return rc;

  const Command* chosen = nullptr;
  for (const auto& [sub, cmd] : subs) {
    if (sub->parsed()) chosen = cmd;
  }
  if (chosen != nullptr && !p.action.empty()) {
    print_error("use either a subcommand ('hpn " + std::string(chosen->name) + "') or -a " + p.action + ", not both");
    return k_exit_usage;
  }
  if (chosen == nullptr && !p.action.empty()) {
    // Harpoon v1: hpn -a ACTION -f LIST [--save-mode N] ... ; v1 modes default to 1.
    for (const auto& c : k_commands) {
      if (p.action == c.name) chosen = &c;
    }
    if (!modes_fit(p, p.action)) return k_exit_usage;
    if (p.action == "save" && !p.save_mode && !ctx.config.modes.save_mode) p.save_mode = 1;
    if (p.action == "load" && !p.load_mode && !ctx.config.modes.load_mode) p.load_mode = 1;
    if (p.action == "pull" || p.action == "save" || p.action == "push") {
      if (p.list_file.empty()) {
        print_error("-a " + p.action + " needs an image list: -f FILE");
        return k_exit_usage;
      }
    }
  }
  if (chosen == nullptr) {
    std::fputs(app.help().c_str(), stderr);
    return k_exit_usage;
  }
  if (!modes_fit(p, chosen->name)) return k_exit_usage;
  const std::string name = chosen->name;
  if (!p.project.empty() && name != "push" && name != "copy") {
    // -p before a subcommand means what it means after it: the path of save, load and ls.
    std::string* path = chosen->path(p);
    if (p.action.empty() && path != nullptr && path->empty()) {
      *path = std::exchange(p.project, {});
    } else {
      print_error("-p means --project for push only; '" + name + "' takes " +
                  (path != nullptr ? "-p/--path DIR" : "no -p"));
      return k_exit_usage;
    }
  }
  hand_on_shared(p);
  for (const auto& [sub, cmd] : subs) {
    if (cmd == chosen && p.action.empty()) warn_unused(app, *sub, name);
  }
  return chosen->run(ctx, p);
}

}  // namespace hpn::cli
