// hpn push: tag each image for the target registry, push it, remove the tag hpn made;
// with --archives, push the images of archive files straight to the registry.
#include <cstdio>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/layout.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/registry_push.hpp"

namespace hpn::cli {

std::optional<ops::PushSpec> push_spec(const Context& ctx, const RegistryTargetOptions& opt) {
  ops::PushSpec spec;
  spec.registry = !opt.registry.empty() ? opt.registry : (ctx.config.registry_set ? ctx.config.registry : "");
  if (spec.registry.empty()) {
    print_error("a target registry is needed: -r REGISTRY (or 'registry' in the config file, or HPN_REGISTRY)");
    return std::nullopt;
  }
  spec.mode = opt.push_mode.value_or(ctx.config.modes.push_mode.value_or(1));
  if (!opt.project.empty()) {
    spec.project = opt.project;
    spec.mode = 2;  // Harpoon: an explicit project switches mode 1 to mode 2
  } else if (ctx.config.project_set && spec.mode == 2) {
    spec.project = ctx.config.project;
  }
  return spec;
}

static int push_archives(const Context& ctx, const PushOptions& opt, const ops::PushSpec& target) {
  if (!opt.images.list_file.empty()) {
    print_error("push --archives takes archive files or directories, not an image list (-f)");
    return k_exit_usage;
  }
  if (opt.images.references.empty()) {
    print_error("push --archives needs archive files or directories to push, e.g. hpn push --archives ./images -r REG");
    return k_exit_usage;
  }
  int code = k_exit_failed;
  auto files = find_input_archives(opt.images.references, opt.recursive, code);
  if (!files) return code;
  if (opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& f : files->skipped) items.push_back({f.path.string(), "", f.error.message});
    for (const auto& f : files->files) {
      auto layout = archive::scan_layout(f);
      if (!layout) {
        items.push_back({f.string(), "", layout.error().message});
        continue;
      }
      for (const auto& img : layout->images) {
        std::string to, error;
        for (const auto& tag : img.tags) {
          auto ref = image::parse_reference(tag);
          auto name = ref ? ops::push_target(*ref, target) : Result<std::string>(ref.error());
          if (!name) error = name.error().message;
          else to += (to.empty() ? "" : ", ") + *name;
        }
        if (img.tags.empty()) error = "the image has no name";
        items.push_back({f.string() + (img.tags.empty() ? "" : " " + img.tags[0]), to, error});
      }
    }
    return print_dry_run(ctx, "push", "push", "images", items);
  }
  ops::RegistryTarget store(registry_options(ctx, opt.insecure_registries));
  ops::ArchivePushSpec spec;
  spec.target = target;
  spec.layer_compression = opt.layer_compression;
  spec.verify = !opt.skip_verify;
  auto plan = ops::plan_push_archives(store, files->files, spec, static_cast<std::size_t>(worker_count(ctx)));
  if (!plan) return plan_failed(plan.error());
  add_skipped(*plan, *files);
  return run_plan<ops::TargetConnection>(ctx, store.opener(), false, std::move(*plan));
}

int cmd_push(const Context& ctx, const PushOptions& opt) {
  auto spec = push_spec(ctx, opt.target);
  if (!spec) return k_exit_usage;
  if (opt.archives) return push_archives(ctx, opt, *spec);
  if (!opt.insecure_registries.empty()) {
    print_error("--insecure-registry applies to push --archives only (a daemon push uses the daemon's settings)");
    return k_exit_usage;
  }
  auto refs = read_images(opt.images);
  if (!refs) return k_exit_usage;
  if (opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : *refs) {
      auto target = ops::push_target(ref, *spec);
      items.push_back({ref.original, target ? *target : "", target ? "" : target.error().message});
    }
    return print_dry_run(ctx, "push", "push", "images", items);
  }
  int code = k_exit_failed;
  auto store = open_store(ctx, code);
  if (!store) return code;
  return run_plan(ctx, *store, ops::plan_push(*store, *refs, *spec));
}

}  // namespace hpn::cli
