// hpn save: one archive per image, named as Harpoon names them.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/archive/codec.hpp"
#include "hpn/ops/daemon_store.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/ops/signals.hpp"
#include "hpn/transfer/source_store.hpp"
#include "hpn/endpoint/registry.hpp"
#include "hpn/util/dir_lock.hpp"

namespace hpn::cli {

// Directory and layout: --path wins; else save-mode (flag, then config): 1 ".",
// 2 "./images", 3 "./images/<project>"; else "./images".
static ops::SaveSpec save_spec(const Context& ctx, const SaveOptions& opt) {
  const std::optional<int> mode = opt.save_mode ? opt.save_mode : ctx.config.modes.save_mode;
  ops::SaveSpec spec;
  spec.compression = opt.codec.compress;
  spec.level = opt.codec.level;
  spec.force = opt.force;
  spec.platform = opt.platform;
  spec.by_project = mode == 3;
  spec.bundle = opt.bundle;
  spec.workers = static_cast<std::size_t>(std::max(1, worker_count(ctx)));
  if (!opt.path.empty()) {
    spec.dir = opt.path;
  } else if (mode == 1) {
    spec.dir = ".";
  } else {
    spec.dir = "./images";
  }
  return spec;
}

// One run at a time writes into a directory: a second run waits for the first (or,
// with --no-wait, stops), so that neither removes the other's partial files. After the
// wait, the images the first run has just saved are found unchanged.
// A path that cannot be a directory is a usage error (exit 2).
static std::optional<util::DirLock> lock_directory(const Context& ctx, const SaveOptions& opt,
                                                   const std::filesystem::path& dir, int& exit_code) {
  const std::filesystem::path where = dir.empty() ? std::filesystem::path(".") : dir;
  if (auto st = archive::ensure_directory(where); !st) {
    print_error(st.error());
    if (st.error().kind == ErrorKind::invalid_argument) exit_code = k_exit_usage;
    return std::nullopt;
  }
  util::DirLock::Options lo;
  lo.what = "saving into " + where.string();
  lo.wait = !opt.no_wait;
  lo.interrupt = &ops::install_interrupt_handlers();
  lo.on_wait = [&](const util::DirLock::Holder& h) {
    if (!ctx.global.quiet) std::fprintf(stderr, "hpn: waiting for %s\n", h.describe().c_str());
  };
  auto lock = util::DirLock::acquire(where, lo);
  if (!lock) {
    print_error(lock.error());
    return std::nullopt;
  }
  return std::move(*lock);
}

// --source registry (or save.source, HPN_SAVE_SOURCE): the registry back end.
static bool from_registry(const Context& ctx, const SaveOptions& opt) {
  if (opt.source == SaveSource::configured) return ctx.config.save.source == "registry";
  return opt.source == SaveSource::registry;
}

static Result<std::unique_ptr<transfer::SourceStore>> registry_store(const Context& ctx, const SaveOptions& opt,
                                                                      const ops::SaveSpec& spec,
                                                                      transfer::VerifySpec verify) {
  transfer::SourceStoreSpec src;
  src.platform = spec.platform;
  src.other_way = "; use --source daemon";
  src.referrers = !opt.referrers.none;
  src.referrer_types = opt.referrers.types;
  src.verify = std::move(verify);
  // The blob store: --cache DIR, else cache.dir's with cache.keep_blobs; none with --no-cache.
  if (opt.no_cache) {
    src.cache_dir.clear();
  } else if (!opt.cache_dir.empty()) {
    src.cache_dir = opt.cache_dir;
  } else if (ctx.config.cache.keep_blobs) {
    src.cache_dir = cache_home(ctx);
  }
  auto limit = util::parse_byte_size(ctx.config.cache.blobs_size);
  if (!limit) return limit.error().with_context("cache.blobs_size");
  src.cache_limit = *limit;
  src.scratch_parent = ops::save_directory(spec);
  auto images = std::make_shared<const endpoint::RegistryImages>(registry::Client::create(registry_options(ctx, opt.insecure_registries)));
  return std::make_unique<transfer::SourceStore>(std::move(images), std::move(src));
}

// Save `refs` from a store hpn reads itself (a registry, an OCI layout): the
// archives are written from its blobs, with no daemon.
int save_from_source(const Context& ctx, const SaveOptions& opt, const std::vector<image::Reference>& refs,
                     const ops::ImageStore& store) {
  auto spec = save_spec(ctx, opt);
  if (!spec.platform.empty()) {
    if (auto st = store.check_platform(spec.platform, "save"); !st) {
      print_error(st.error());
      return k_exit_usage;
    }
  }
  spec = ops::effective_save(&store, std::move(spec));
  if (opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : refs) items.push_back({ref.original, ops::save_path(ref, spec).string(), ""});
    return print_dry_run(ctx, "save", "save", "images", items);
  }
  int lock_code = k_exit_failed;
  auto lock = lock_directory(ctx, opt, ops::save_directory(spec), lock_code);
  if (!lock) return ops::interrupt_flag().load() ? k_exit_interrupted : lock_code;
  auto plan = ops::plan_save(store, refs, std::move(spec));
  if (!plan) return plan_failed(plan.error());
  return run_plan(ctx, store, std::move(*plan));
}

int cmd_save(const Context& ctx, const SaveOptions& opt) {
  auto refs = read_images(opt.images);
  if (!refs) return k_exit_usage;
  auto spec = save_spec(ctx, opt);
  if (!from_registry(ctx, opt) && (!opt.cache_dir.empty() || !opt.insecure_registries.empty())) {
    print_error("--cache and --insecure-registry apply to --source registry only");
    return k_exit_usage;
  }
  if (!from_registry(ctx, opt) &&
      (!opt.verify.keys.empty() || opt.referrers.none || !opt.referrers.types.empty())) {
    print_error("--verify-key, --no-referrers and --referrers-type apply to --source registry only: a daemon keeps "
                "no signatures");
    return k_exit_usage;
  }
  if (from_registry(ctx, opt)) {
    if (ctx.global.daemon.backend == Backend::cli) {
      print_error("--source registry reads registries itself; it takes no --backend cli");
      return k_exit_usage;
    }
    auto verify = verify_spec(opt.verify);
    if (!verify) return k_exit_usage;
    auto store = registry_store(ctx, opt, spec, std::move(*verify));
    if (!store) {
      print_error(store.error());
      return k_exit_usage;
    }
    return save_from_source(ctx, opt, *refs, **store);
  }
  const auto containerd = containerd_runtime(ctx);
  if (containerd && !opt.dry_run) {
    // The content store read by hpn itself, as from a registry.
    auto settings = containerd_settings(ctx);
    auto store = endpoint::make_exporter(*containerd, settings, endpoint::ExportInto::archives);
    if (!store) return plan_failed(store.error());
    return save_from_source(ctx, opt, *refs, **store);
  }
  if (opt.dry_run) {
    // The names a real run would write: the daemon, when it answers, decides the
    // compression (see ops::effective_save); without one, the names as asked.
    std::unique_ptr<ops::ImageStore> store;
    if (spec.compression != archive::Compression::none && ctx.global.daemon.backend == Backend::api && !containerd) {
      if (auto c = connect(ctx); c) store = std::make_unique<ops::DaemonStore>(std::move(*c));
    }
    spec = ops::effective_save(store.get(), std::move(spec));
    std::vector<DryRunItem> items;
    for (const auto& ref : *refs) items.push_back({ref.original, ops::save_path(ref, spec).string(), ""});
    return print_dry_run(ctx, "save", "save", "images", items);
  }
  int code = k_exit_failed;
  auto store = open_store(ctx, code);
  if (!store) return code;
  // A platform the store cannot filter stops the save before it touches the directory.
  if (!spec.platform.empty()) {
    if (auto st = store->check_platform(spec.platform, "save"); !st) return plan_failed(st.error());
  }
  int lock_code = k_exit_failed;
  auto lock = lock_directory(ctx, opt, ops::save_directory(spec), lock_code);
  if (!lock) return ops::interrupt_flag().load() ? k_exit_interrupted : lock_code;
  auto plan = ops::plan_save(*store, *refs, std::move(spec));
  if (!plan) return plan_failed(plan.error());
  return run_plan(ctx, *store, std::move(*plan));
}

}  // namespace hpn::cli
