// hpn load: load archives from files or directories.
#include <cstdio>
#include <filesystem>

#include "hpn/archive/archive_info.hpp"

#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/endpoint/archive.hpp"
#include "hpn/ops/operations.hpp"

namespace hpn::cli {

int cmd_load(const Context& ctx, const LoadOptions& opt) {
  std::vector<std::string> inputs = opt.inputs;
  bool recursive = opt.recursive;
  if (inputs.empty()) {
    const std::optional<int> mode = opt.load_mode ? opt.load_mode : ctx.config.modes.load_mode;
    if (!opt.path.empty()) {
      inputs.push_back(opt.path);
    } else if (mode == 1) {
      inputs.emplace_back(".");
    } else {
      inputs.emplace_back("./images");
    }
    recursive = recursive || mode == 3;
  }
  auto verify = verify_spec(opt.verify);
  if (!verify) return k_exit_usage;
  int code = k_exit_failed;
  auto files = find_input_archives(inputs, recursive, code);
  if (!files) return code;
  if (opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& f : files->files) items.push_back({f.string(), "", ""});
    for (const auto& f : files->skipped) items.push_back({f.path.string(), "", f.error.message});
    return print_dry_run(ctx, "load", "load", "files", items);
  }
  if (auto containerd = containerd_runtime(ctx)) {
    // Blob by blob into the content store, as copy --from dir: does.
    auto settings = containerd_settings(ctx);
    auto destination = endpoint::make_destination(*containerd, settings);
    if (!destination) return plan_failed(destination.error());
    return move_archives(ctx, *files, !opt.skip_verify, std::move(*destination),
                         {.platform = opt.platform,
                          .compress = {},
                          .moving = "loading",
                          .known = {},
                          .referrers = true,
                          .referrer_types = {},
                          .verify = *verify,
                          .platforms = {},
                          .dry_run = false});
  }
  auto store = open_store(ctx, code);
  if (!store) return code;
  ops::LoadRequest request{.verify = !opt.skip_verify, .platform = opt.platform, .check = {}};
  if (verify->wanted()) {
    // Checked from what each archive holds, before the daemon sees it.
    request.check = [spec = std::move(*verify)](const std::filesystem::path& file, ops::LoadedArchive& l) -> Status {
      auto v = endpoint::verify_archive(file, spec);
      if (!v) return v.error();
      l.images_verified = v->images;
      l.signatures_verified = v->verified.signatures;
      l.attestations_verified = v->verified.attestations;
      return {};
    };
  }
  auto plan = ops::plan_load(*store, files->files, request);
  if (!plan) return plan_failed(plan.error());
  add_skipped(*plan, *files);
  return run_plan(ctx, *store, std::move(*plan));
}

}  // namespace hpn::cli
