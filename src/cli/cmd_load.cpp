// hpn load: load archives from files or directories.
#include <cstdio>
#include <filesystem>

#include "hpn/archive/archive_info.hpp"

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
  // Files named on the command line are checked before anything needs the daemon.
  for (const auto& input : ctx.opt.positional) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(input, ec)) continue;
    if (auto st = archive::check_image_archive(input); !st) {
      print_error(st.error());
      return k_exit_usage;
    }
  }
  if (ctx.opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& f : *files) items.push_back({f.string(), "", ""});
    return print_dry_run(ctx, "load", "load", "files", items);
  }
  int code = k_exit_failed;
  auto store = open_store(ctx, code);
  if (!store) return code;
  auto plan = ops::plan_load(*store, *files, {.verify = !ctx.opt.skip_verify, .platform = ctx.opt.platform});
  if (!plan) return plan_failed(plan.error());
  return run_plan(ctx, *store, std::move(*plan));
}

}  // namespace hpn::cli
