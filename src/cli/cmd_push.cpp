// hpn push: tag each image for the target registry, push it, remove the tag hpn made.
#include <cstdio>

#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/operations.hpp"

namespace hpn::cli {

int cmd_push(Context& ctx) {
  auto refs = read_images(ctx);
  if (!refs) return k_exit_usage;
  ops::PushSpec spec;
  spec.registry = !ctx.opt.registry.empty() ? ctx.opt.registry : (ctx.config.registry_set ? ctx.config.registry : "");
  if (spec.registry.empty()) {
    print_error("push needs a target registry: -r REGISTRY (or 'registry' in the config file, or HPN_REGISTRY)");
    return k_exit_usage;
  }
  spec.mode = ctx.opt.push_mode.value_or(ctx.config.modes.push_mode.value_or(1));
  if (!ctx.opt.project.empty()) {
    spec.project = ctx.opt.project;
    spec.mode = 2;  // Harpoon: an explicit project switches mode 1 to mode 2
  } else if (ctx.config.project_set && spec.mode == 2) {
    spec.project = ctx.config.project;
  }
  if (ctx.opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : *refs) {
      auto target = ops::push_target(ref, spec);
      items.push_back({ref.original, target ? *target : "", target ? "" : target.error().message});
    }
    return print_dry_run(ctx, "push", "push", "images", items);
  }
  int code = k_exit_failed;
  auto store = open_store(ctx, code);
  if (!store) return code;
  return run_plan(ctx, *store, ops::plan_push(*store, *refs, spec));
}

}  // namespace hpn::cli
