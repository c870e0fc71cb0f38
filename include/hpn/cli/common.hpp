// State shared by all subcommands: global options, configuration, how to reach
// the daemon, and the image inputs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpn/engine/client.hpp"
#include "hpn/engine/endpoint.hpp"
#include "hpn/image/image_list.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/util/config.hpp"
#include "hpn/util/result.hpp"

namespace hpn::cli {

// Every option any subcommand takes; each subcommand binds the ones it accepts.
struct Options {
  // global
  std::string host;
  std::string runtime;
  std::optional<bool> auto_fallback;  // --auto-fallback / --no-auto-fallback
  std::string log_level;
  std::string log_file;
  std::string config_file;
  double connect_timeout_s = 10;
  int workers = 0;  // 0 = from config
  bool quiet = false;
  std::string output = "text";     // --output text|json
  std::string progress = "auto";   // --progress auto|always|never
  bool no_color = false;
  bool stats = false;
  // Harpoon v1
  std::string action;
  std::optional<int> save_mode;
  std::optional<int> load_mode;
  std::optional<int> push_mode;
  // inputs
  std::string list_file;              // -f
  std::vector<std::string> positional;  // image references or files
  // per command
  std::string path;  // save/load/ls directory
  std::string registry;
  std::string project;
  std::string platform;
  bool dry_run = false;
  bool recursive = false;
  bool force = false;
  // archives
  std::string compress = "none";
  int level = -1;
  std::string bundle;
  bool skip_verify = false;
  bool no_resolve = false;  // pull: by tag only
  std::string format;       // ls: --format TEMPLATE
  bool no_wait = false;     // save: fail at once when another run writes into the directory
  // login
  std::string username;
  bool password_stdin = false;
  std::string backend = "api";  // --backend api|cli
};

struct Context {
  Options opt;
  util::Config config;
};

Result<engine::Endpoint> resolve(const Context& ctx);
// Resolve, connect and negotiate.
Result<engine::Client> connect(const Context& ctx);
// connect(), printing the error when it fails (the caller then exits 1).
std::optional<engine::Client> connect_or_report(const Context& ctx);

// The store a batch works on: the daemon through its Engine API, or with
// --backend cli the command-line tool (docker -H URI, podman --url URI, nerdctl).
// On failure the error is printed and `exit_code` says how to stop.
std::unique_ptr<ops::ImageStore> open_store(const Context& ctx, int& exit_code);

// The images to work on, from -f LIST and/or positional references. Prints every
// problem (with line numbers) and returns nullopt when the batch must not start.
std::optional<std::vector<image::Reference>> read_images(const Context& ctx);

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
