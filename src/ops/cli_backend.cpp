#include "hpn/ops/cli_backend.hpp"

#include "hpn/engine/errors.hpp"
#include "hpn/engine/tar_stream.hpp"
#include "hpn/ops/signals.hpp"
#include "hpn/util/process.hpp"

namespace hpn::ops {
namespace {

std::string last_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  auto nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

std::string describe(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + a;
  return out;
}

// Run a step; a non-zero exit becomes an error classified from its stderr.
Result<std::string> step(const CliTool& tool, const std::vector<std::string>& argv, const util::ProcessIo& io = {}) {
  util::ProcessIo with_interrupt = io;
  with_interrupt.interrupt = &interrupt_flag();
  with_interrupt.env = tool.env;
  std::string out;
  auto r = util::run_process(argv, with_interrupt, &out);
  if (!r) return r.error();
  if (r->exit_code != 0) {
    std::string msg = last_line(r->err);
    if (msg.empty()) msg = "exit status " + std::to_string(r->exit_code);
    return Error(engine::classify_message(msg, ErrorKind::daemon_error), describe(argv) + ": " + msg);
  }
  return out;
}

}  // namespace

std::vector<std::string> CliTool::command(std::initializer_list<std::string> rest) const {
  std::vector<std::string> argv{program};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

CliTool cli_tool(const std::string& runtime, const engine::Endpoint* ep) {
  CliTool t;
  t.program = runtime.empty() ? "docker" : runtime;
  if (ep != nullptr && t.program == "docker") t.args = {"-H", ep->uri};
  if (ep != nullptr && t.program == "podman") t.args = {"--remote", "--url", ep->uri};
  return t;
}

std::vector<std::string> proxy_environment(const util::Config& config) {
  std::vector<std::string> env;
  if (!config.proxy.enabled) return env;
  if (!config.proxy.http.empty()) {
    env.push_back("HTTP_PROXY=" + config.proxy.http);
    env.push_back("http_proxy=" + config.proxy.http);
  }
  if (!config.proxy.https.empty()) {
    env.push_back("HTTPS_PROXY=" + config.proxy.https);
    env.push_back("https_proxy=" + config.proxy.https);
  }
  return env;
}

std::vector<Task> cli_pull_tasks(const std::vector<image::Reference>& refs, const std::string& platform,
                                 const CliTool& tool) {
  std::vector<Task> tasks;
  for (const auto& ref : refs) {
    Task t;
    t.label = ref.original;
    t.run = [ref, platform, tool](engine::Client&, const ProgressFn& progress) -> Result<Outcome> {
      progress("pulling", 0, 0);
      std::vector<std::string> argv = tool.command({"pull"});
      if (!platform.empty()) {
        argv.push_back("--platform");
        argv.push_back(platform);
      }
      argv.push_back(ref.digest.empty() ? ref.canonical() : ref.repository() + "@" + ref.digest);
      auto out = step(tool, argv);
      if (!out) return out.error();
      Outcome o;
      if (auto pos = out->find("Digest: "); pos != std::string::npos) o.detail = last_line(out->substr(pos + 8, 71));
      return o;
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::vector<Task> cli_save_tasks(const std::vector<image::Reference>& refs, const SaveSpec& spec, const CliTool& tool) {
  std::vector<Task> tasks;
  for (const auto& ref : refs) {
    Task t;
    t.label = ref.original;
    const auto path = save_path(ref, spec);
    t.run = [ref, path, spec, tool](engine::Client&, const ProgressFn& progress) -> Result<Outcome> {
      auto producer = [&](const engine::Sink& sink) -> Result<std::uint64_t> {
        engine::TarStreamChecker checker;
        util::ProcessIo io;
        io.output = [&](std::string_view chunk) {
          checker.feed(chunk);
          return sink(chunk);
        };
        if (auto st = step(tool, tool.command({"save", local_name(ref)}), io); !st) return st.error();
        if (auto st = checker.finish(); !st) return st.error();
        return checker.bytes();
      };
      return write_archive(producer, path, spec, progress);
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::vector<Task> cli_load_tasks(const std::vector<std::filesystem::path>& files, bool verify, const CliTool& tool) {
  std::vector<Task> tasks;
  for (const auto& path : files) {
    Task t;
    t.label = path.string();
    std::error_code ec;
    t.size_hint = std::filesystem::file_size(path, ec);
    t.run = [path, verify, tool](engine::Client&, const ProgressFn& progress) -> Result<Outcome> {
      auto reader = open_for_load(path, verify, progress);
      if (!reader) return reader.error();
      const std::uint64_t size = reader->file_size();
      util::ProcessIo io;
      io.input = [&](std::span<char> buf) -> Result<std::size_t> {
        auto n = reader->read(buf);
        if (n) progress("loading", reader->bytes_consumed(), size);
        return n;
      };
      auto out = step(tool, tool.command({"load"}), io);
      if (!out) return out.error().with_context(path.string());
      std::string detail;
      for (std::string_view prefix : {"Loaded image: ", "Loaded image(s): ", "Loaded image ID: "}) {
        for (auto pos = out->find(prefix); pos != std::string::npos; pos = out->find(prefix, pos + 1)) {
          auto end = out->find('\n', pos);
          detail += (detail.empty() ? "loaded " : ", ") + out->substr(pos + prefix.size(), end == std::string::npos ? std::string::npos : end - pos - prefix.size());
        }
      }
      return Outcome{.detail = detail, .bytes = size, .unchanged = false, .uncommitted = {}};
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::vector<Task> cli_push_tasks(const std::vector<image::Reference>& refs, const PushSpec& spec, const CliTool& tool) {
  std::vector<Task> tasks;
  for (const auto& ref : refs) {
    Task t;
    t.label = ref.original;
    t.run = [ref, spec, tool](engine::Client&, const ProgressFn& progress) -> Result<Outcome> {
      auto target_text = push_target(ref, spec);
      if (!target_text) return target_text.error();
      auto target = image::parse_reference(*target_text);
      if (!target) return target.error();
      const std::string target_name = target->familiar();
      const bool same = local_name(ref) == target_name;
      // Keep a target tag that existed before; remove only the one we create.
      const bool existed = same || step(tool, tool.command({"image", "inspect", target_name})).ok();
      progress("tagging", 0, 0);
      if (!same) {
        if (auto st = step(tool, tool.command({"tag", local_name(ref), target_name})); !st) return st.error();
      }
      progress("pushing", 0, 0);
      auto pushed = step(tool, tool.command({"push", target_name}));
      if (!existed) (void)step(tool, tool.command({"rmi", target_name}));
      if (!pushed) return pushed.error();
      Outcome o;
      o.detail = "-> " + *target_text;
      if (auto pos = pushed->find("digest: sha256:"); pos != std::string::npos) o.detail += " " + pushed->substr(pos + 8, 71);
      return o;
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::vector<Task> cli_rmi_tasks(const std::vector<image::Reference>& refs, bool force, const CliTool& tool) {
  std::vector<Task> tasks;
  for (const auto& ref : refs) {
    Task t;
    t.label = ref.original;
    t.run = [ref, force, tool](engine::Client&, const ProgressFn&) -> Result<Outcome> {
      auto argv = force ? tool.command({"rmi", "-f", local_name(ref)}) : tool.command({"rmi", local_name(ref)});
      auto out = step(tool, argv);
      if (!out) return out.error();
      return Outcome{};
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

}  // namespace hpn::ops
