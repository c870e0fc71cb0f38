// hpn copy: copy the listed images from their registries to the target registry,
// blob by blob, with no daemon and nothing written to disk.
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/registry_push.hpp"
#include "hpn/registry/manifest.hpp"

namespace hpn::cli {

int cmd_copy(Context& ctx) {
  auto target = push_spec(ctx);
  if (!target) return k_exit_usage;
  auto refs = read_images(ctx);
  if (!refs) return k_exit_usage;
  if (!ctx.opt.platform.empty()) {
    if (auto p = registry::parse_platform(ctx.opt.platform); !p) {
      print_error(p.error());
      return k_exit_usage;
    }
  }
  if (ctx.opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : *refs) {
      auto to = ops::push_target(ref, *target);
      items.push_back({ref.original, to ? *to : "", to ? "" : to.error().message});
    }
    return print_dry_run(ctx, "copy", "copy", "images", items);
  }
  ops::RegistryTarget store(registry_options(ctx));
  return run_plan(ctx, store, ops::plan_copy(store, *refs, {.target = *target, .platform = ctx.opt.platform}));
}

}  // namespace hpn::cli
