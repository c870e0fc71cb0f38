// hpn copy: move images from one endpoint to another (--from, --to) through the
// transfer pipeline, blob by blob, with no daemon and no temporary file. Without
// --to the destination is the registry of -r (Harpoon's push modes).
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/endpoint/archive.hpp"
#include "hpn/endpoint/factory.hpp"
#include "hpn/ops/signals.hpp"
#include "hpn/registry/manifest.hpp"
#include "hpn/transfer/pipeline.hpp"
#include "hpn/transfer/stream.hpp"

namespace hpn::cli {

namespace {

// The destination as an endpoint (--to, else registry:-r) and how it names
// images (-p, --push-mode, the config's push mode and project).
std::optional<endpoint::Spec> destination_spec(const Context& ctx, endpoint::Settings& settings) {
  if (ctx.opt.to.empty()) {
    auto target = push_spec(ctx);
    if (!target) return std::nullopt;
    settings.push_mode = target->mode;
    settings.project = target->project;
    return endpoint::Spec{.kind = endpoint::Kind::registry, .location = target->registry, .text = target->registry};
  }
  if (!ctx.opt.registry.empty()) {
    print_error("give the destination once: --to or -r, not both");
    return std::nullopt;
  }
  auto spec = endpoint::parse_spec(ctx.opt.to);
  if (!spec) {
    print_error(spec.error());
    return std::nullopt;
  }
  if (spec->kind != endpoint::Kind::registry && (!ctx.opt.project.empty() || ctx.opt.push_mode)) {
    print_error("-p and --push-mode name images in a registry; --to " + ctx.opt.to + " is not one");
    return std::nullopt;
  }
  settings.push_mode = ctx.opt.push_mode.value_or(0);
  settings.project = ctx.opt.project;
  return *spec;
}

// What a dry run says each image becomes at the destination.
DryRunItem dry_run_item(const image::Reference& ref, const endpoint::Spec& to, const endpoint::Settings& settings) {
  if (to.kind != endpoint::Kind::registry) return {ref.original, to.text + " " + ref.canonical(), ""};
  auto name = ops::push_target(ref, endpoint::registry_naming(to, settings));
  return {ref.original, name ? *name : "", name ? "" : name.error().message};
}

// The images to move: the list, or with none, every image an endpoint that can
// list (dir:, archive:, oci:) holds, then opened as `opened`. An error is printed;
// nullopt then.
std::optional<std::vector<image::Reference>> images_to_move(const Context& ctx, const endpoint::Spec& from,
                                                            endpoint::Settings& settings, int& code,
                                                            std::shared_ptr<const transfer::ImageSource>* opened = nullptr) {
  if (!ctx.opt.list_file.empty() || !ctx.opt.positional.empty() || from.kind == endpoint::Kind::registry ||
      endpoint::takes_streams(from)) {
    auto listed = read_images(ctx);
    if (!listed) {
      code = k_exit_usage;
      return std::nullopt;
    }
    return std::move(*listed);
  }
  auto source = endpoint::make_source(from, settings);
  auto all = source ? (*source)->images() : Result<std::vector<image::Reference>>(source.error());
  if (!all) {
    code = plan_failed(all.error());
    return std::nullopt;
  }
  if (opened != nullptr) *opened = *source;
  return std::move(*all);
}

// Whether two file endpoints name the same directory or file.
bool same_place(const endpoint::Spec& from, const endpoint::Spec& to) {
  using endpoint::Kind;
  const auto files = [](Kind k) { return k == Kind::dir || k == Kind::archive || k == Kind::oci; };
  if (!files(from.kind) || !files(to.kind)) return false;
  std::error_code ec1, ec2;
  const auto a = std::filesystem::weakly_canonical(from.location, ec1);
  const auto b = std::filesystem::weakly_canonical(to.location, ec2);
  return !ec1 && !ec2 && a == b;
}

// The daemon commands (save, load) aimed at the daemon `d` names: that runtime
// only, at its URL when it has one.
void aim_at_daemon(Context& ctx, const endpoint::Spec& d) {
  ctx.opt.runtime = d.kind == endpoint::Kind::podman ? RuntimeChoice::podman : RuntimeChoice::docker;
  ctx.opt.auto_fallback = false;
  if (!d.location.empty()) ctx.opt.host = d.location;
}

// push --archives into the registry `to` names, its naming as push's options.
void push_archives_to(Context& ctx, const endpoint::Spec& to, const endpoint::Settings& settings) {
  const auto naming = endpoint::registry_naming(to, settings);
  ctx.opt.archives = true;
  ctx.opt.registry = naming.registry;
  ctx.opt.project = naming.mode == 2 ? naming.project : std::string();
  ctx.opt.push_mode = naming.mode;
}

// The pairs that save, load and push --archives carry out: copy runs them with
// their plans, options and output. nullopt: not such a pair.
std::optional<int> copy_by_command(Context& ctx, const endpoint::Spec& from, const endpoint::Spec& to,
                                   endpoint::Settings& settings) {
  using endpoint::Kind;
  const auto files = [](Kind k) { return k == Kind::dir || k == Kind::archive; };
  const auto daemon = [&](const endpoint::Spec& d) { aim_at_daemon(ctx, d); };
  if (files(to.kind)) {
    if (to.kind == Kind::dir) {
      ctx.opt.path = to.location;
    } else {
      ctx.opt.bundle = to.location;
      const auto parent = std::filesystem::path(to.location).parent_path();
      ctx.opt.path = parent.empty() ? "." : parent.string();
    }
    if (from.kind == Kind::registry) {
      ctx.opt.source = "registry";
    } else if (endpoint::takes_streams(from)) {
      ctx.opt.source = "daemon";
      daemon(from);
    } else {
      int code = k_exit_failed;
      std::shared_ptr<const transfer::ImageSource> source;
      auto refs = images_to_move(ctx, from, settings, code, &source);
      if (!refs) return code;
      auto exporter = endpoint::make_exporter(from, settings, source);
      if (!exporter) return plan_failed(exporter.error());
      return save_from_source(ctx, *refs, **exporter);
    }
    return cmd_save(ctx);
  }
  if (!files(from.kind) || !(endpoint::takes_streams(to) || to.kind == Kind::registry)) return std::nullopt;
  if (!ctx.opt.list_file.empty() || !ctx.opt.positional.empty()) {
    print_error("copy --from " + from.text + " --to " + to.text + " moves every image of its archives; name no images");
    return k_exit_usage;
  }
  ctx.opt.positional = {from.location};
  if (endpoint::takes_streams(to)) {
    daemon(to);
    return cmd_load(ctx);
  }
  if (to.kind == Kind::registry) {
    push_archives_to(ctx, to, settings);
    return cmd_push(ctx);
  }
  return std::nullopt;
}

// Into a daemon: each image exported by the source streams into the daemon's import.
int copy_streams(const Context& ctx, const endpoint::Spec& from, const endpoint::Spec& to,
                 endpoint::Settings& settings) {
  int code = k_exit_failed;
  std::shared_ptr<const transfer::ImageSource> source;
  auto refs = images_to_move(ctx, from, settings, code, &source);
  if (!refs) return code;
  if (ctx.opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : *refs) items.push_back({ref.original, to.text + " " + ops::local_name(ref), ""});
    return print_dry_run(ctx, "copy", "copy", "images", items);
  }
  auto exporter = endpoint::make_exporter(from, settings, source);
  if (!exporter) return plan_failed(exporter.error());
  auto importer = endpoint::make_importer(to, settings);
  if (!importer) return plan_failed(importer.error());
  if (!ctx.opt.platform.empty()) {
    for (const ops::ImageStore* store : {exporter->get(), static_cast<const ops::ImageStore*>(importer->get())}) {
      if (auto st = store->check_platform(ctx.opt.platform, "copy"); !st) return plan_failed(st.error());
    }
  }
  const bool local = (*exporter)->traits().local || (*importer)->traits().local;
  return run_plan<transfer::StreamLanes>(ctx, transfer::stream_lanes_of(*exporter, *importer), local,
                                         transfer::plan_stream(*refs, {.platform = ctx.opt.platform,
                                                                       .to_name = to.text}));
}

// Blob by blob from `source` to `to`.
int copy_blobs(const Context& ctx, const std::vector<image::Reference>& refs,
               std::shared_ptr<const transfer::ImageSource> source, const endpoint::Spec& to,
               endpoint::Settings& settings) {
  if (ctx.opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : refs) items.push_back(dry_run_item(ref, to, settings));
    return print_dry_run(ctx, "copy", "copy", "images", items);
  }
  auto destination = endpoint::make_destination(to, settings);
  if (!destination) return plan_failed(destination.error());
  return run_plan<transfer::Lanes>(ctx, transfer::lanes_of(std::move(source), *destination), false,
                                   transfer::plan_transfer(refs, {.platform = ctx.opt.platform}));
}

// From a daemon into a layout or a registry: a daemon's export is one stream,
// they take blobs, so the images are saved first as archives in a directory
// beside the layout (same file system) or in the temporary directory, then go in
// blob by blob (into a registry as push --archives sends them, through hpn's own
// client: the daemon needs no access to the registry); the directory is removed.
int copy_staged(Context& ctx, const endpoint::Spec& from, const endpoint::Spec& to, endpoint::Settings& settings) {
  if (to.kind != endpoint::Kind::oci && to.kind != endpoint::Kind::registry) {
    return plan_failed(Error(ErrorKind::unsupported,
                             "copy --from " + from.text + " --to " + to.text + " is not a direction hpn takes"));
  }
  auto refs = read_images(ctx);
  if (!refs) return k_exit_usage;
  if (ctx.opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : *refs) items.push_back(dry_run_item(ref, to, settings));
    return print_dry_run(ctx, "copy", "copy", "images", items);
  }
  std::filesystem::path stage;
  if (to.kind == endpoint::Kind::oci) {
    const std::filesystem::path layout(to.location);
    const auto parent = layout.parent_path().empty() ? std::filesystem::path(".") : layout.parent_path();
    stage = parent / (".hpn-stage." + layout.filename().string() + "." + std::to_string(::getpid()));
  } else {
    std::error_code ec;
    stage = std::filesystem::temp_directory_path(ec) / (".hpn-stage." + std::to_string(::getpid()));
  }
  struct Removal {
    std::filesystem::path dir;
    ~Removal() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } removal{stage};
  ctx.opt.source = "daemon";
  aim_at_daemon(ctx, from);
  ctx.opt.path = stage.string();
  ctx.opt.save_mode = 2;  // flat: one archive per image in the directory itself
  auto insecure = std::move(ctx.opt.insecure_registries);  // for the push only
  ctx.opt.insecure_registries.clear();
  const int saved = cmd_save(ctx);
  ctx.opt.insecure_registries = std::move(insecure);
  if (ops::interrupt_flag().load()) return k_exit_interrupted;
  if (to.kind == endpoint::Kind::registry) {
    ctx.opt.list_file.clear();
    ctx.opt.positional = {stage.string()};
    push_archives_to(ctx, to, settings);
    return std::max(saved, cmd_push(ctx));
  }
  auto source = endpoint::ArchiveSource::open(stage, true);
  if (!source) return std::max(saved, plan_failed(source.error()));
  auto held = (*source)->images();
  if (!held) return std::max(saved, plan_failed(held.error()));
  return std::max(saved, copy_blobs(ctx, *held, std::move(*source), to, settings));
}

}  // namespace

int cmd_copy(Context& ctx) {
  endpoint::Settings settings;
  auto to = destination_spec(ctx, settings);
  if (!to) return k_exit_usage;
  auto from = endpoint::parse_spec(ctx.opt.from.empty() ? "registry" : ctx.opt.from);
  if (!from) {
    print_error(from.error());
    return k_exit_usage;
  }
  if (!ctx.opt.platform.empty()) {
    if (auto p = registry::parse_platform(ctx.opt.platform); !p) {
      print_error(p.error());
      return k_exit_usage;
    }
  }
  settings.client = registry_options(ctx);
  settings.interrupt = &ops::install_interrupt_handlers();
  settings.daemon = resolve_inputs(ctx);
  settings.daemon_client = client_options(ctx);
  settings.platform = ctx.opt.platform;
  const bool to_files = to->kind == endpoint::Kind::dir || to->kind == endpoint::Kind::archive;
  if (!to_files && (ctx.opt.compress != archive::Compression::none || ctx.opt.level >= 0)) {
    print_error("--compress and --level apply to --to dir: and archive: only");
    return k_exit_usage;
  }
  if (same_place(*from, *to)) {
    print_error("copy --from " + from->text + " --to " + to->text + ": the source and the destination are one place");
    return k_exit_usage;
  }
  if (auto code = copy_by_command(ctx, *from, *to, settings)) return *code;
  if (endpoint::takes_streams(*to)) return copy_streams(ctx, *from, *to, settings);
  if (endpoint::takes_streams(*from)) return copy_staged(ctx, *from, *to, settings);
  int code = k_exit_failed;
  std::shared_ptr<const transfer::ImageSource> source;
  auto listed = images_to_move(ctx, *from, settings, code, &source);
  if (!listed) return code;
  if (!source) {
    auto made = endpoint::make_source(*from, settings);
    if (!made) return plan_failed(made.error());
    source = std::move(*made);
  }
  return copy_blobs(ctx, *listed, source, *to, settings);
}

}  // namespace hpn::cli
