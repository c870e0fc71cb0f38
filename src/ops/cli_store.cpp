#include "hpn/ops/cli_store.hpp"

#include <charconv>
#include <optional>
#include <utility>

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

// The text after each `prefix` at the start of a line of `out`.
std::vector<std::string> lines_after(const std::string& out, std::string_view prefix) {
  std::vector<std::string> found;
  for (auto pos = out.find(prefix); pos != std::string::npos; pos = out.find(prefix, pos + 1)) {
    if (pos != 0 && out[pos - 1] != '\n') continue;
    auto end = out.find('\n', pos);
    std::string v =
        out.substr(pos + prefix.size(), end == std::string::npos ? std::string::npos : end - pos - prefix.size());
    while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.pop_back();
    found.push_back(std::move(v));
  }
  return found;
}

class CliConnection final : public EngineConnection {
 public:
  explicit CliConnection(const CliTool& tool) : tool_(tool) {}

  void watch(const std::atomic<bool>* flag) override { interrupt_ = flag; }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override {
    deadline_ = deadline;
    deadline_why_ = std::move(why);
  }

  Result<StoredImage> inspect(const std::string& name) override {
    auto out = step(tool_.command({"image", "inspect", "--format", "{{.Id}} {{.Size}}", name}));
    if (!out) return out.error();
    const std::string line = last_line(*out);
    const auto space = line.find(' ');
    StoredImage img;
    img.id = line.substr(0, space);
    if (space != std::string::npos) {
      std::from_chars(line.data() + space + 1, line.data() + line.size(), img.size);
    }
    return img;
  }

  Result<std::uint64_t> export_images(std::span<const std::string> names, const std::string&,
                                      const engine::Sink& sink) override {
    engine::TarStreamChecker checker;
    util::ProcessIo io;
    io.output = [&](std::string_view chunk) {
      checker.feed(chunk);
      return sink(chunk);
    };
    auto argv = tool_.command({"save"});
    argv.insert(argv.end(), names.begin(), names.end());
    if (auto st = step(argv, io); !st) return st.error();
    if (auto st = checker.finish(); !st) return st.error();
    return checker.bytes();
  }

  Result<Loaded> import_archive(const engine::Source& source, const std::string&) override {
    util::ProcessIo io;
    io.input = source;
    auto out = step(tool_.command({"load"}), io);
    if (!out) return out.error();
    Loaded loaded;
    for (std::string_view prefix : {"Loaded image: ", "Loaded image(s): ", "Loaded image ID: "}) {
      for (auto& name : lines_after(*out, prefix)) loaded.images.push_back(std::move(name));
    }
    return loaded;
  }

  Result<Pulled> pull(const image::Reference& ref, const std::string& tag_or_digest, const std::string& platform,
                      const ProgressFn& progress) override {
    progress("pulling", 0, 0);
    std::vector<std::string> argv = tool_.command({"pull"});
    if (!platform.empty()) {
      argv.push_back("--platform");
      argv.push_back(platform);
    }
    const bool digest = tag_or_digest.rfind("sha256:", 0) == 0;
    argv.push_back(ref.repository() + (digest ? "@" : ":") + tag_or_digest);
    auto out = step(argv);
    if (!out) return out.error();
    Pulled p;
    if (auto d = lines_after(*out, "Digest: "); !d.empty()) p.digest = d.front();
    return p;
  }

  Status tag(const std::string& source, const image::Reference& target) override {
    auto out = step(tool_.command({"tag", source, target.familiar()}));
    if (!out) return out.error();
    return {};
  }

  Result<Pushed> push(const image::Reference& target, const ProgressFn& progress) override {
    progress("pushing", 0, 0);
    auto out = step(tool_.command({"push", target.familiar()}));
    if (!out) return out.error();
    Pushed p;
    if (auto pos = out->find("digest: sha256:"); pos != std::string::npos) p.digest = out->substr(pos + 8, 71);
    return p;
  }

  Result<Removed> remove(const std::string& name, bool force) override {
    auto out = step(force ? tool_.command({"rmi", "-f", name}) : tool_.command({"rmi", name}));
    if (!out) return out.error();
    Removed r;
    r.untagged = lines_after(*out, "Untagged: ").size();
    r.deleted = lines_after(*out, "Deleted: ").size();
    return r;
  }

 private:
  // Run a step; a non-zero exit becomes an error classified from its stderr.
  Result<std::string> step(const std::vector<std::string>& argv, util::ProcessIo io = {}) {
    io.interrupt = interrupt_ != nullptr ? interrupt_ : &interrupt_flag();
    io.env = tool_.env;
    io.deadline = deadline_;
    io.deadline_why = deadline_why_;
    std::string out;
    auto r = util::run_process(argv, io, &out);
    if (!r) return r.error();
    if (r->exit_code != 0) {
      std::string msg = last_line(r->err);
      if (msg.empty()) msg = "exit status " + std::to_string(r->exit_code);
      return Error(engine::classify_message(msg, ErrorKind::daemon_error), describe(argv) + ": " + msg);
    }
    return out;
  }

  const CliTool& tool_;
  const std::atomic<bool>* interrupt_ = nullptr;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::string deadline_why_;
};

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

CliStore::CliStore(CliTool tool, bool local) : tool_(std::move(tool)) { traits_.local = local; }

std::unique_ptr<EngineConnection> CliStore::open_engine() const { return std::make_unique<CliConnection>(tool_); }

Status CliStore::check_platform(const std::string&, std::string_view what) const {
  return Error(ErrorKind::invalid_argument,
               "--platform on " + std::string(what) + " is not supported with --backend cli");
}

}  // namespace hpn::ops
