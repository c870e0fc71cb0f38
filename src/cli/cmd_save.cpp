// hpn save: one archive per image, named as Harpoon names them.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/archive/codec.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/ops/signals.hpp"
#include "hpn/util/dir_lock.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::cli {

// Directory and layout: --path wins; else save-mode (flag, then config): 1 ".",
// 2 "./images", 3 "./images/<project>"; else "./images".
static ops::SaveSpec save_spec(const Context& ctx) {
  const std::optional<int> mode = ctx.opt.save_mode ? ctx.opt.save_mode : ctx.config.modes.save_mode;
  ops::SaveSpec spec;
  spec.compression = archive::parse_compression(ctx.opt.compress).value_or(archive::Compression::none);
  spec.level = ctx.opt.level;
  spec.force = ctx.opt.force;
  spec.platform = ctx.opt.platform;
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

// Stop before writing when the images cannot fit: the uncompressed size of every
// image whose archive does not exist yet must fit in the free space. Compressed
// saves are not checked in advance (their size is unknown); ENOSPC still fails
// the image cleanly.
static Status check_space(const std::vector<image::Reference>& refs, const ops::SaveSpec& spec,
                          const ops::SizeIndex& sizes, const std::filesystem::path& bundle) {
  if (spec.compression != archive::Compression::none) return {};
  std::uint64_t need = 0;
  for (const auto& ref : refs) {
    std::error_code ec;
    const auto path = bundle.empty() ? ops::save_path(ref, spec) : bundle;
    if (!bundle.empty() || !std::filesystem::exists(path, ec)) {
      if (auto it = sizes.find(ref.canonical()); it != sizes.end()) need += it->second;
    }
  }
  const auto dir = bundle.empty() ? spec.dir : bundle.parent_path();
  auto avail = archive::free_space(dir);
  if (!avail) return avail.error();
  if (need > *avail) {
    return Error(ErrorKind::no_space, "not enough space on " + (dir.empty() ? std::string(".") : dir.string()) +
                                          ": the images need about " + ops::human_bytes(need) + ", " +
                                          ops::human_bytes(*avail) + " is free; free some space, use --compress, or choose another --path");
  }
  return {};
}

// One run at a time writes into a directory: a second run waits for the first (or,
// with --no-wait, stops), so that neither removes the other's partial files. After the
// wait, the images the first run has just saved are found unchanged.
static std::optional<util::DirLock> lock_directory(const Context& ctx, const std::filesystem::path& dir) {
  const std::filesystem::path where = dir.empty() ? std::filesystem::path(".") : dir;
  if (auto st = archive::ensure_directory(where); !st) {
    print_error(st.error());
    return std::nullopt;
  }
  util::DirLock::Options lo;
  lo.what = "saving into " + where.string();
  lo.wait = !ctx.opt.no_wait;
  lo.interrupt = &ops::install_interrupt_handlers();
  lo.on_wait = [&](const util::DirLock::Holder& h) {
    if (!ctx.opt.quiet) std::fprintf(stderr, "hpn: waiting for %s\n", h.describe().c_str());
  };
  auto lock = util::DirLock::acquire(where, lo);
  if (!lock) {
    print_error(lock.error());
    return std::nullopt;
  }
  return std::move(*lock);
}

int cmd_save(Context& ctx) {
  auto refs = read_images(ctx);
  if (!refs) return k_exit_usage;
  if (!archive::parse_compression(ctx.opt.compress)) {
    print_error("unknown compression '" + ctx.opt.compress + "'; use none, gzip, zstd or xz");
    return k_exit_usage;
  }
  auto spec = save_spec(ctx);
  const std::filesystem::path bundle = ctx.opt.bundle;
  // Compressing several archives at once, the workers already keep every core busy:
  // each archive is compressed on its own worker's thread, since extra zstd threads
  // per archive would only add CPU. One archive at a time (a bundle, one image,
  // -j 1) gets every core.
  if (bundle.empty() && std::min<std::size_t>(static_cast<std::size_t>(worker_count(ctx)), refs->size()) > 1) {
    spec.threads = 1;
  }
  if (ctx.opt.dry_run) {
    // The names a real run would write: a reachable containerd image store gets
    // plain tars (see below); without a daemon, the names as asked.
    if (spec.compression != archive::Compression::none && bundle.empty() && ctx.opt.backend != "cli") {
      if (auto c = connect(ctx); c) {
        if (auto cs = c->containerd_store(); cs && *cs) spec.compression = archive::Compression::none;
      }
    }
    std::vector<DryRunItem> items;
    for (const auto& ref : *refs) {
      items.push_back({ref.original, bundle.empty() ? ops::save_path(ref, spec).string() : bundle.string(), ""});
    }
    return print_dry_run(ctx, "save", "save", "images", items);
  }
  auto cli = cli_backend_or_report(ctx);
  if (!cli) return k_exit_usage;
  if (*cli) {
    if (!bundle.empty() || !ctx.opt.platform.empty()) {
      print_error("--bundle and --platform are not supported with --backend cli");
      return k_exit_usage;
    }
    auto lock = lock_directory(ctx, spec.dir);
    if (!lock) return ops::interrupt_flag().load() ? k_exit_interrupted : k_exit_failed;
    return run_tasks(ctx, (*cli)->client, ops::cli_save_tasks(*refs, spec, (*cli)->tool));
  }
  auto client = connect_or_report(ctx);
  if (!client) return k_exit_failed;
  // Load the checksum algorithm while the daemon answers the next requests.
  std::jthread prepare_digest(util::Sha256::prepare);
  if (!ctx.opt.platform.empty()) {
    if (auto q = client->platform_query(ctx.opt.platform, "save"); !q) {
      print_error(q.error());
      return q.error().kind == ErrorKind::invalid_argument ? k_exit_usage : k_exit_failed;
    }
  }
  // The containerd image store exports the layers as it holds them, compressed as
  // pulled: compressing the archive again costs time and saves nothing, so it is
  // written as a plain tar (loadable everywhere, as docker save writes it). A
  // bundle keeps the compression its name asks for.
  const auto store = client->containerd_store();
  const bool containerd = store && *store;
  if (spec.compression != archive::Compression::none && bundle.empty()) {
    if (containerd) {
      if (!ctx.opt.quiet) {
        std::fprintf(stderr, "hpn: the daemon keeps images in the containerd image store, compressed; "
                             "archives are written as .tar with their layers as stored, not compressed again (--compress %s)\n",
                     ctx.opt.compress.c_str());
      }
      spec.compression = archive::Compression::none;
    }
  }
  // Small images go several per export (Docker only: Podman's exports cannot be split).
  spec.workers = static_cast<std::size_t>(std::max(1, worker_count(ctx)));
  spec.group_small = bundle.empty() && client->runtime() == engine::Runtime::docker;
  // One list request gives the sizes for largest-first ordering (on the containerd
  // image store, whose list is slow, an inspect per image); failure only costs speed.
  auto sizes = containerd ? Result<ops::SizeIndex>(ops::image_sizes_of(*client, *refs, spec.workers))
                          : ops::image_sizes(*client);
  const ops::SizeIndex index = sizes ? *sizes : ops::SizeIndex{};
  auto lock = lock_directory(ctx, bundle.empty() ? spec.dir : bundle.parent_path());
  if (!lock) return ops::interrupt_flag().load() ? k_exit_interrupted : k_exit_failed;
  if (auto st = check_space(*refs, spec, index, bundle); !st) {
    print_error(st.error());
    return k_exit_failed;
  }
  if (!bundle.empty()) {
    std::vector<ops::Task> one;
    one.push_back(ops::bundle_task(*refs, bundle, spec));
    return run_tasks(ctx, *client, std::move(one), "bundles");
  }
  return run_tasks(ctx, *client, ops::save_tasks(*refs, spec, index));
}

}  // namespace hpn::cli
