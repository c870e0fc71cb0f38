// hpn load: load archives from files or directories.
#include <cstdio>

#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/operations.hpp"

namespace hpn::cli {

int cmd_load(Context& ctx) {
  std::vector<std::string> inputs = ctx.opt.positional;
  bool recursive = ctx.opt.recursive;
  if (inputs.empty()) {
    const std::optional<int> mode = ctx.opt.load_mode ? ctx.opt.load_mode : ctx.config.modes.load_mode;
    if (!ctx.opt.path.empty()) {
      inputs.push_back(ctx.opt.path);
    } else if (mode == 1) {
      inputs.emplace_back(".");
    } else {
      inputs.emplace_back("./images");
    }
    recursive = recursive || mode == 3;
  }
  auto files = archive::find_archives(inputs, recursive);
  if (!files) {
    print_error(files.error());
    return k_exit_usage;
  }
  if (files->empty()) {
    std::string where;
    for (const auto& i : inputs) where += (where.empty() ? "" : ", ") + i;
    print_error("no archives (*.tar, *.tar.gz, *.tar.zst, *.tar.xz) in " + where +
                (recursive ? "" : "; use --recursive to look in subdirectories"));
    return k_exit_failed;
  }
  if (ctx.opt.dry_run) {
    for (std::size_t i = 0; i < files->size(); ++i) {
      std::printf("[%zu/%zu] would load %s\n", i + 1, files->size(), (*files)[i].c_str());
    }
    std::printf("Dry run: %zu files, nothing loaded\n", files->size());
    return k_exit_ok;
  }
  auto cli = cli_backend_or_report(ctx);
  if (!cli) return k_exit_usage;
  if (*cli) {
    if (!ctx.opt.platform.empty()) {
      print_error("--platform on load is not supported with --backend cli");
      return k_exit_usage;
    }
    return run_tasks(ctx, (*cli)->client, ops::cli_load_tasks(*files, !ctx.opt.skip_verify, (*cli)->tool), "files");
  }
  auto client = connect_or_report(ctx);
  if (!client) return k_exit_failed;
  if (!ctx.opt.platform.empty()) {
    if (auto q = client->platform_query(ctx.opt.platform, "load"); !q) {
      print_error(q.error());
      return q.error().kind == ErrorKind::invalid_argument ? k_exit_usage : k_exit_failed;
    }
  }
  return run_tasks(ctx, *client, ops::load_tasks(*files, !ctx.opt.skip_verify, ctx.opt.platform), "files");
}

}  // namespace hpn::cli
