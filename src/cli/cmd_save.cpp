// hpn save: one archive per image, named as Harpoon names them.
#include <cstdio>

#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/operations.hpp"

namespace hpn::cli {

// Directory and layout: --path wins; else save-mode (flag, then config): 1 ".",
// 2 "./images", 3 "./images/<project>"; else "./images".
static ops::SaveSpec save_spec(const Context& ctx) {
  const std::optional<int> mode = ctx.opt.save_mode ? ctx.opt.save_mode : ctx.config.modes.save_mode;
  ops::SaveSpec spec;
  spec.by_project = mode == 3;
  if (!ctx.opt.path.empty()) {
    spec.dir = ctx.opt.path;
  } else if (mode == 1) {
    spec.dir = ".";
  } else {
    spec.dir = "./images";
  }
  return spec;
}

int cmd_save(Context& ctx) {
  auto refs = read_images(ctx);
  if (!refs) return k_exit_usage;
  const auto spec = save_spec(ctx);
  if (ctx.opt.dry_run) {
    for (std::size_t i = 0; i < refs->size(); ++i) {
      const auto& ref = (*refs)[i];
      std::printf("[%zu/%zu] would save %s -> %s\n", i + 1, refs->size(), ref.original.c_str(),
                  archive::archive_path(ref, spec.dir, spec.by_project).c_str());
    }
    std::printf("Dry run: %zu images, nothing saved\n", refs->size());
    return k_exit_ok;
  }
  auto client = connect(ctx);
  if (!client) {
    print_error(client.error());
    return k_exit_failed;
  }
  // One list request gives the sizes for largest-first ordering; failure only costs speed.
  auto sizes = ops::image_sizes(*client);
  return run_tasks(ctx, *client, ops::save_tasks(*refs, spec, sizes ? *sizes : ops::SizeIndex{}));
}

}  // namespace hpn::cli
