#include "hpn/cli/app.hpp"

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "hpn/cli/commands.hpp"
#include "hpn/util/log.hpp"

namespace hpn::cli {
namespace {

using Runner = int (*)(Context&);

// The subcommand table: name, help, runner, and which per-command options it takes.
enum Opt : unsigned {
  k_list = 1u << 0,       // -f and positional images
  k_files = 1u << 1,      // positional files/directories (load)
  k_path = 1u << 2,       // -p/--path DIR
  k_dry_run = 1u << 3,
  k_recursive = 1u << 4,
  k_force = 1u << 5,
  k_platform = 1u << 6,
  k_registry = 1u << 7,   // push: -r and -p/--project
  k_archive = 1u << 8,    // save: --compress, --level, --force, --bundle
  k_verify = 1u << 9,     // load: --skip-verify
  k_login = 1u << 10,     // login: REGISTRY, -u, --password-stdin
  k_logout = 1u << 11,    // logout: REGISTRY
  k_resolve = 1u << 12,   // pull: --no-resolve
};

struct Command {
  const char* name;
  const char* help;
  Runner run;
  unsigned opts;
};

const Command k_commands[] = {
    {"pull", "Pull the listed images from their registries", cmd_pull, k_list | k_platform | k_resolve},
    {"save", "Save each listed image to its own archive (NAME.tar, Harpoon naming)", cmd_save,
     k_list | k_path | k_dry_run | k_archive | k_platform},
    {"load", "Load archives (any compression) from files or directories into the daemon", cmd_load,
     k_files | k_path | k_dry_run | k_recursive | k_verify | k_platform},
    {"push", "Tag each listed image for a registry, push it, remove the temporary tag", cmd_push,
     k_list | k_registry | k_dry_run},
    {"rmi", "Remove the listed images from the daemon", cmd_rmi, k_list | k_force},
    {"ls", "List daemon images, archives in a directory (-p), or which listed images are present",
     cmd_ls, k_list | k_path | k_recursive},
    {"info", "Show the daemon endpoint, how it was chosen, server and API version", cmd_info, 0},
    {"login", "Check registry credentials through the daemon and store them (docker config or helper)",
     cmd_login, k_login},
    {"logout", "Remove stored credentials for a registry", cmd_logout, k_logout},
};

int apply_logging(Context& ctx) {
  std::string level = ctx.opt.log_level;
  if (level.empty()) level = ctx.config.logging.level;
  std::string file = ctx.opt.log_file.empty() ? ctx.config.logging.file : ctx.opt.log_file;
  auto parsed = hpn::log::parse_level(level.empty() ? "off" : level);
  if (!parsed) {
    print_error("invalid log level '" + level + "'; use trace, debug, info, warn, error or off");
    return k_exit_usage;
  }
  if (auto st = hpn::log::configure(*parsed, file); !st) {
    print_error(st.error());
    return k_exit_usage;
  }
  return k_exit_ok;
}

// A mode flag given for another action is a usage error (Harpoon v1 rule).
bool modes_fit(const Options& o, const std::string& action) {
  auto bad = [&](const char* flag) {
    print_error(std::string(flag) + " does not apply to '" + action + "'");
    return false;
  };
  if (o.save_mode && action != "save") return bad("--save-mode");
  if (o.load_mode && action != "load") return bad("--load-mode");
  if (o.push_mode && action != "push") return bad("--push-mode");
  return true;
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
  Context ctx;
  Options& o = ctx.opt;

  app.add_option("-H,--host", o.host,
                 "Daemon: unix:///path, tcp://host:port or host:port (default: DOCKER_HOST, docker "
                 "context, CONTAINER_HOST, default sockets)");
  app.add_option("--runtime", o.runtime,
                 "docker|podman: prefer this runtime's default socket (config runtime.preferred); "
                 "nerdctl with --backend cli")
      ->check(CLI::IsMember({"docker", "podman", "nerdctl"}));
  app.add_flag_callback("--auto-fallback", [&o] { o.auto_fallback = true; },
                        "Use the other runtime's socket when the preferred one is missing (default)");
  app.add_flag_callback("--no-auto-fallback", [&o] { o.auto_fallback = false; },
                        "Only use the preferred runtime's socket");
  app.add_option("-c,--config", o.config_file,
                 "Config file (default: ./config.yaml, ~/.hpn/config.yaml, /etc/hpn/config.yaml)");
  app.add_option("-f,--file", o.list_file, "Image list: one reference a line, '#' comments; '-' reads stdin");
  app.add_option("-j,--workers", o.workers, "Parallel workers (config parallel.max_workers, default 4)")
      ->check(CLI::Range(1, 256));
  app.add_flag("-q,--quiet", o.quiet, "Print only failures and the summary (no retry notices)");
  app.add_option("--output", o.output, "text (default) or json: one JSON event per line on stdout")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--progress", o.progress,
                 "Live progress on stderr: auto (when stderr is a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));
  app.add_flag("--no-color", o.no_color, "No colors (also NO_COLOR, logging.colors: false)");
  app.add_flag("--stats", o.stats, "Add per-image timings to the summary");
  app.add_option("--backend", o.backend,
                 "api (default): the Engine API; cli: one docker/podman/nerdctl process per step, as Harpoon")
      ->check(CLI::IsMember({"api", "cli"}));
  app.add_option("-r,--registry", o.registry, "Target registry for push (config registry, HPN_REGISTRY)");
  app.add_option("-p,--project", o.project,
                 "Harpoon v1: target project for push (switches push mode 1 to 2)");
  app.add_option("-a,--action", o.action, "Harpoon v1 action: pull, save, load or push")
      ->check(CLI::IsMember({"pull", "save", "load", "push"}));
  app.add_option("--save-mode", o.save_mode, "1: ./NAME.tar  2: ./images/NAME.tar  3: ./images/PROJECT/NAME.tar")
      ->check(CLI::Range(1, 3));
  app.add_option("--load-mode", o.load_mode, "1: ./*.tar  2: ./images/*.tar  3: ./images recursively")
      ->check(CLI::Range(1, 3));
  app.add_option("--push-mode", o.push_mode, "1: REGISTRY/NAME:TAG  2: REGISTRY/PROJECT/NAME:TAG")
      ->check(CLI::Range(1, 2));
  app.add_option("--log-level", o.log_level,
                 "Diagnostics on stderr: trace|debug|info|warn|error|off (HPN_LOG_LEVEL, logging.level)")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "warning", "error", "off"}));
  app.add_option("--log-file", o.log_file, "Write diagnostics to FILE (HPN_LOG_FILE, logging.file)");
  app.add_option("--connect-timeout", o.connect_timeout_s, "Seconds to wait for the daemon to accept a connection")
      ->check(CLI::PositiveNumber);

  std::vector<std::pair<CLI::App*, const Command*>> subs;
  for (const auto& c : k_commands) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    sub->fallthrough();
    if (c.opts & k_list) {
      sub->add_option("images", o.positional, "Image references (in addition to -f)");
    }
    if (c.opts & k_files) {
      sub->add_option("files", o.positional, "Archives or directories to load (default: see --path)");
    }
    if (c.opts & k_path) {
      sub->add_option("-p,--path", o.path,
                      std::string(c.name) == "save" ? "Directory for archives (default ./images)"
                                                    : "Directory of archives (default ./images)");
    }
    if (c.opts & k_dry_run) sub->add_flag("--dry-run", o.dry_run, "Show what would be done, change nothing");
    if (c.opts & k_recursive) sub->add_flag("--recursive", o.recursive, "Look for archives in subdirectories too");
    if (c.opts & k_force) sub->add_flag("--force", o.force, "Remove images even when tagged in several repositories");
    if (c.opts & k_archive) {
      sub->add_option("--compress", o.compress, "Compress archives on the fly: none (default), gzip, zstd, xz")
          ->check(CLI::IsMember({"none", "gzip", "zstd", "xz"}));
      sub->add_option("--level", o.level, "Compression level (codec default if omitted)")->check(CLI::Range(0, 22));
      sub->add_flag("--force", o.force, "Save again even when an up-to-date, verified archive exists");
      sub->add_option("--bundle", o.bundle, "Save all images into this one archive (shared layers stored once)");
    }
    if (c.opts & (k_login | k_logout)) {
      sub->add_option("registry", o.positional, "Registry host[:port] (Docker Hub: docker.io)")->required();
    }
    if (c.opts & k_login) {
      sub->add_option("-u,--username", o.username, "User name (prompted on a terminal when omitted)");
      sub->add_flag("--password-stdin", o.password_stdin, "Read the password from standard input");
    }
    if (c.opts & k_verify) {
      sub->add_flag("--skip-verify", o.skip_verify, "Load even when an archive does not match its .sha256 sidecar");
    }
    if (c.opts & k_resolve) {
      sub->add_flag("--no-resolve", o.no_resolve,
                    "Pull by tag only, in the list's order: do not ask registries for manifests first");
    }
    if (c.opts & k_platform) {
      sub->add_option("--platform", o.platform,
                      std::string(c.name) == "pull" ? "os/arch[/variant] to pull"
                                                    : "os/arch[/variant] only (needs API 1.48, Docker 28+)");
    }
    if (c.opts & k_registry) {
      sub->add_option("-p,--project", o.project, "Target project (switches push mode 1 to 2)");
    }
    subs.emplace_back(sub, &c);
  }
  auto* version = app.add_subcommand("version", "Print hpn's version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? k_exit_ok : k_exit_usage;
  }

  if (*version) {
    std::printf("hpn %s\n", HPN_VERSION);
    return k_exit_ok;
  }

  auto config = util::load_config(o.config_file);
  if (!config) {
    print_error(config.error());
    return k_exit_usage;
  }
  ctx.config = std::move(*config);
  if (int rc = apply_logging(ctx); rc != k_exit_ok) return rc;

  const Command* chosen = nullptr;
  for (const auto& [sub, cmd] : subs) {
    if (sub->parsed()) chosen = cmd;
  }
  if (chosen != nullptr && !o.action.empty()) {
    print_error("use either a subcommand ('hpn " + std::string(chosen->name) + "') or -a " + o.action + ", not both");
    return k_exit_usage;
  }
  if (chosen == nullptr && !o.action.empty()) {
    // Harpoon v1: hpn -a ACTION -f LIST [--save-mode N] ... ; v1 modes default to 1.
    for (const auto& c : k_commands) {
      if (o.action == c.name) chosen = &c;
    }
    if (!modes_fit(o, o.action)) return k_exit_usage;
    if (o.action == "save" && !o.save_mode && !ctx.config.modes.save_mode) o.save_mode = 1;
    if (o.action == "load" && !o.load_mode && !ctx.config.modes.load_mode) o.load_mode = 1;
    if (o.action == "pull" || o.action == "save" || o.action == "push") {
      if (o.list_file.empty()) {
        print_error("-a " + o.action + " needs an image list: -f FILE");
        return k_exit_usage;
      }
    }
  }
  if (chosen == nullptr) {
    std::fputs(app.help().c_str(), stderr);
    return k_exit_usage;
  }
  if (!modes_fit(o, chosen->name)) return k_exit_usage;
  if (o.runtime == "nerdctl" && o.backend != "cli") {
    print_error("nerdctl has no Engine API socket; use --backend cli with --runtime nerdctl");
    return k_exit_usage;
  }
  if (!o.project.empty() && std::string(chosen->name) != "push") {
    print_error("-p/--project applies to push only; save and load take -p/--path after the subcommand");
    return k_exit_usage;
  }
  return chosen->run(ctx);
}

}  // namespace hpn::cli
