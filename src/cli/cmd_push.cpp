// hpn push: tag each image for the target registry, push it, remove the tag hpn made;
// with --archives, push the images of archive files straight to the registry.
#include <cstdio>
#include <future>
#include <map>
#include <mutex>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/layout.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/endpoint/archive.hpp"
#include "hpn/endpoint/factory.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/transfer/pipeline.hpp"

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

namespace {

// Each archive's .sha256 sidecar checked once, before the first of its images
// sends a blob; the images of a bundle wait for the one check.
class SidecarChecks {
 public:
  Status verify(const std::filesystem::path& file) {
    std::shared_future<Status> f;
    std::promise<Status> mine;
    bool run = false;
    {
      std::lock_guard lock(mu_);
      auto [it, fresh] = checks_.try_emplace(file.string());
      if (fresh) it->second = mine.get_future().share();
      f = it->second;
      run = fresh;
    }
    if (run) mine.set_value(check(file));
    return f.get();
  }

 private:
  static Status check(const std::filesystem::path& file) {
    auto c = archive::verify_sidecar(file);
    if (!c) return c.error();
    if (*c != archive::Checksum::mismatch) return {};
    return Error::about(ErrorKind::invalid_argument, file.string(),
                        " does not match its .sha256 sidecar: it changed or is damaged; nothing of it was pushed "
                        "(copy it again, or push with --skip-verify)");
  }
  std::mutex mu_;
  std::map<std::string, std::shared_future<Status>> checks_;
};

}  // namespace

static int push_archives(const Context& ctx, const PushOptions& opt, const ops::PushSpec& target) {
  if (!opt.images.list_file.empty()) {
    print_error("push --archives takes archive files or directories, not an image list (-f)");
    return k_exit_usage;
  }
  if (opt.images.references.empty()) {
    print_error("push --archives needs archive files or directories to push, e.g. hpn push --archives ./images -r REG");
    return k_exit_usage;
  }
  auto verify = verify_spec(opt.verify);
  if (!verify) return k_exit_usage;
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
  endpoint::Settings settings;
  settings.client = registry_options(ctx, opt.insecure_registries);
  settings.naming = target;
  settings.known = known_blobs(ctx, opt.no_cache);
  auto destination = endpoint::make_destination(
      {.kind = endpoint::Kind::registry, .location = target.registry, .text = target.registry}, settings);
  if (!destination) return plan_failed(destination.error());
  return move_archives(
      ctx, *files, !opt.skip_verify, std::move(*destination),
      {.platform = {},
       .compress = transfer::LayerCodec{.codec = opt.layer_compression, .level = archive::k_default_level},
       .moving = "uploading",
       .known = settings.known,
       .referrers = !opt.referrers.none,
       .referrer_types = opt.referrers.types,
       .verify = *verify,
       .platforms = {},
       .dry_run = false});
}

int move_archives(const Context& ctx, const archive::FoundArchives& files, bool verify,
                  std::shared_ptr<const transfer::ImageDestination> destination, const transfer::TransferSpec& spec) {
  auto source = endpoint::ArchiveSource::open_files(files.files, static_cast<std::size_t>(worker_count(ctx)));
  auto checks = std::make_shared<SidecarChecks>();
  std::vector<transfer::TransferItem> items;
  for (const auto& held : source->held()) {
    transfer::TransferItem item;
    item.ref = held.ref;
    item.also = held.also;
    item.label = held.label;
    item.size_hint = held.size;
    item.note = held.note;
    if (verify) item.check = [checks, file = held.file] { return checks->verify(file); };
    items.push_back(std::move(item));
  }
  auto plan = transfer::plan_transfer(items, spec);
  for (const auto& failure : source->failures()) {
    ops::BasicTask<transfer::Lanes> t;
    t.label = failure.label;
    t.run = [e = failure.error](transfer::Lanes&, const ops::ProgressFn&) -> Result<ops::Outcome> { return e; };
    plan.tasks.push_back(std::move(t));
  }
  add_skipped(plan, files);
  return run_plan<transfer::Lanes>(ctx, transfer::lanes_of(std::move(source), std::move(destination)), false,
                                   std::move(plan));
}

int cmd_push(const Context& ctx, const PushOptions& opt) {
  auto spec = push_spec(ctx, opt.target);
  if (!spec) return k_exit_usage;
  if (opt.archives) return push_archives(ctx, opt, *spec);
  if (!opt.verify.keys.empty() || !opt.referrers.types.empty() || opt.referrers.none) {
    print_error("--verify-key, --no-referrers and --referrers-type apply to push --archives; a daemon keeps no "
                "signatures");
    return k_exit_usage;
  }
  if (auto containerd = containerd_runtime(ctx)) {
    // From the content store through hpn's own registry client: a copy.
    CopyOptions copy;
    copy.images = opt.images;
    copy.target = opt.target;
    copy.dry_run = opt.dry_run;
    copy.insecure_registries = opt.insecure_registries;
    copy.no_cache = opt.no_cache;
    copy.from = "containerd" + (containerd->location.empty() ? std::string() : ":" + containerd->location);
    return cmd_copy(ctx, copy);
  }
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
