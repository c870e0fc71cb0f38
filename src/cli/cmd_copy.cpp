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
std::optional<endpoint::Spec> destination_spec(const Context& ctx, const CopyOptions& opt,
                                               endpoint::Settings& settings) {
  if (opt.to.empty()) {
    auto target = push_spec(ctx, opt.target);
    if (!target) return std::nullopt;
    settings.naming = *target;
    return endpoint::Spec{.kind = endpoint::Kind::registry, .location = target->registry, .text = target->registry};
  }
  if (!opt.target.registry.empty()) {
    print_error("give the destination once: --to or -r, not both");
    return std::nullopt;
  }
  auto spec = endpoint::parse_spec(opt.to);
  if (!spec) {
    print_error(spec.error());
    return std::nullopt;
  }
  if (spec->kind != endpoint::Kind::registry && (!opt.target.project.empty() || opt.target.push_mode)) {
    print_error("-p and --push-mode name images in a registry; --to " + opt.to + " is not one");
    return std::nullopt;
  }
  settings.push_mode = opt.target.push_mode.value_or(0);
  settings.project = opt.target.project;
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
std::optional<std::vector<image::Reference>> images_to_move(const ImageInput& input, const endpoint::Spec& from,
                                                            endpoint::Settings& settings, int& code,
                                                            std::shared_ptr<const transfer::ImageSource>* opened = nullptr) {
  if (input.given() || from.kind == endpoint::Kind::registry || endpoint::takes_streams(from)) {
    auto listed = read_images(input);
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

// The context of the daemon commands (save, load) aimed at the daemon `d` names:
// that runtime only, at its URL when it has one.
Context aimed_at_daemon(const Context& ctx, const endpoint::Spec& d) {
  Context aimed = ctx;
  aimed.global.daemon.runtime = d.kind == endpoint::Kind::podman ? RuntimeChoice::podman : RuntimeChoice::docker;
  aimed.global.daemon.auto_fallback = false;
  if (!d.location.empty()) aimed.global.daemon.host = d.location;
  return aimed;
}

// push --archives of `inputs` into the registry `to` names, with its naming.
PushOptions push_archives_to(const CopyOptions& opt, std::vector<std::string> inputs, const endpoint::Spec& to,
                             const endpoint::Settings& settings) {
  const auto naming = endpoint::registry_naming(to, settings);
  PushOptions push;
  push.images.references = std::move(inputs);
  push.target = {.registry = naming.registry,
                 .project = naming.mode == 2 ? naming.project : std::string(),
                 .push_mode = naming.mode};
  push.archives = true;
  push.dry_run = opt.dry_run;
  push.insecure_registries = opt.insecure_registries;
  push.no_cache = opt.no_cache;
  push.referrers = opt.referrers;
  push.verify = opt.verify;
  return push;
}

// save into the directory or bundle `to` names, with copy's list and options.
SaveOptions save_into(const CopyOptions& opt, const endpoint::Spec& to) {
  SaveOptions save;
  save.images = opt.images;
  save.codec = opt.codec;
  save.dry_run = opt.dry_run;
  save.platform = opt.platform;
  save.referrers = opt.referrers;
  save.verify = opt.verify;
  if (to.kind == endpoint::Kind::dir) {
    save.path = to.location;
  } else {
    save.bundle = to.location;
    const auto parent = std::filesystem::path(to.location).parent_path();
    save.path = parent.empty() ? "." : parent.string();
  }
  return save;
}

// The pairs that save, load and push --archives carry out: copy runs them with
// their plans, options and output. nullopt: not such a pair.
std::optional<int> copy_by_command(const Context& ctx, const CopyOptions& opt, const endpoint::Spec& from,
                                   const endpoint::Spec& to, endpoint::Settings& settings) {
  using endpoint::Kind;
  const auto files = [](Kind k) { return k == Kind::dir || k == Kind::archive; };
  if (files(to.kind)) {
    SaveOptions save = save_into(opt, to);
    if (from.kind == Kind::registry) {
      save.source = SaveSource::registry;
      save.insecure_registries = opt.insecure_registries;
      return cmd_save(ctx, save);
    }
    if (endpoint::takes_streams(from)) {
      save.source = SaveSource::daemon;
      return cmd_save(aimed_at_daemon(ctx, from), save);
    }
    int code = k_exit_failed;
    std::shared_ptr<const transfer::ImageSource> source;
    auto refs = images_to_move(opt.images, from, settings, code, &source);
    if (!refs) return code;
    auto exporter = endpoint::make_exporter(from, settings, endpoint::ExportInto::archives, source);
    if (!exporter) return plan_failed(exporter.error());
    return save_from_source(ctx, save, *refs, **exporter);
  }
  if (!files(from.kind) || !(endpoint::takes_streams(to) || to.kind == Kind::registry)) return std::nullopt;
  if (opt.images.given()) {
    print_error("copy --from " + from.text + " --to " + to.text + " moves every image of its archives; name no images");
    return k_exit_usage;
  }
  if (endpoint::takes_streams(to)) {
    LoadOptions load;
    load.inputs = {from.location};
    load.dry_run = opt.dry_run;
    load.platform = opt.platform;
    load.verify = opt.verify;
    return cmd_load(aimed_at_daemon(ctx, to), load);
  }
  return cmd_push(ctx, push_archives_to(opt, {from.location}, to, settings));
}

// Into a daemon: each image exported by the source streams into the daemon's import.
int copy_streams(const Context& ctx, const CopyOptions& opt, const endpoint::Spec& from, const endpoint::Spec& to,
                 endpoint::Settings& settings) {
  int code = k_exit_failed;
  std::shared_ptr<const transfer::ImageSource> source;
  auto refs = images_to_move(opt.images, from, settings, code, &source);
  if (!refs) return code;
  if (opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : *refs) items.push_back({ref.original, to.text + " " + ops::local_name(ref), ""});
    return print_dry_run(ctx, "copy", "copy", "images", items);
  }
  auto exporter = endpoint::make_exporter(from, settings, endpoint::ExportInto::daemon, source);
  if (!exporter) return plan_failed(exporter.error());
  auto importer = endpoint::make_importer(to, settings);
  if (!importer) return plan_failed(importer.error());
  if (!opt.platform.empty()) {
    for (const ops::ImageStore* store : {exporter->get(), static_cast<const ops::ImageStore*>(importer->get())}) {
      if (auto st = store->check_platform(opt.platform, "copy"); !st) return plan_failed(st.error());
    }
  }
  const bool local = (*exporter)->traits().local || (*importer)->traits().local;
  return run_plan<transfer::StreamLanes>(ctx, transfer::stream_lanes_of(*exporter, *importer), local,
                                         transfer::plan_stream(*refs, {.platform = opt.platform,
                                                                       .to_name = to.text}));
}

// Blob by blob from `source` to `to`.
int copy_blobs(const Context& ctx, const CopyOptions& opt, const std::vector<image::Reference>& refs,
               std::shared_ptr<const transfer::ImageSource> source, const endpoint::Spec& to,
               endpoint::Settings& settings) {
  if (opt.dry_run) {
    std::vector<DryRunItem> items;
    for (const auto& ref : refs) items.push_back(dry_run_item(ref, to, settings));
    return print_dry_run(ctx, "copy", "copy", "images", items);
  }
  // A registry mounts blobs from the repositories earlier runs saw holding them.
  if (to.kind == endpoint::Kind::registry) settings.known = known_blobs(ctx, opt.no_cache);
  auto destination = endpoint::make_destination(to, settings);
  if (!destination) return plan_failed(destination.error());
  return run_plan<transfer::Lanes>(ctx, transfer::lanes_of(std::move(source), *destination), false,
                                   transfer::plan_transfer(refs, {.platform = opt.platform,
                                                                  .compress = {},
                                                                  .moving = "copying",
                                                                  .known = settings.known,
                                                                  .referrers = !opt.referrers.none,
                                                                  .referrer_types = opt.referrers.types,
                                                                  .verify = settings.verify,
                                                                  .platforms = {},
                                                                  .dry_run = false}));
}

// From a daemon into a layout or a registry: a daemon's export is one stream,
// they take blobs, so the images are saved first as archives in a directory
// beside the layout (same file system) or in the temporary directory, then go in
// blob by blob (into a registry as push --archives sends them, through hpn's own
// client: the daemon needs no access to the registry); the directory is removed.
int copy_staged(const Context& ctx, const CopyOptions& opt, const endpoint::Spec& from, const endpoint::Spec& to,
                endpoint::Settings& settings) {
  if (to.kind != endpoint::Kind::oci && to.kind != endpoint::Kind::registry && to.kind != endpoint::Kind::containerd) {
    return plan_failed(Error(ErrorKind::unsupported,
                             "copy --from " + from.text + " --to " + to.text + " is not a direction hpn takes"));
  }
  auto refs = read_images(opt.images);
  if (!refs) return k_exit_usage;
  if (opt.dry_run) {
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
  SaveOptions save = save_into(opt, endpoint::Spec{.kind = endpoint::Kind::dir, .location = stage.string(), .text = {}});
  save.source = SaveSource::daemon;
  save.save_mode = 2;  // flat: one archive per image in the directory itself
  const int saved = cmd_save(aimed_at_daemon(ctx, from), save);
  if (ops::interrupt_flag().load()) return k_exit_interrupted;
  if (to.kind == endpoint::Kind::registry) {
    return std::max(saved, cmd_push(ctx, push_archives_to(opt, {stage.string()}, to, settings)));
  }
  auto source = endpoint::ArchiveSource::open(stage, true);
  if (!source) return std::max(saved, plan_failed(source.error()));
  auto held = (*source)->images();
  if (!held) return std::max(saved, plan_failed(held.error()));
  return std::max(saved, copy_blobs(ctx, opt, *held, std::move(*source), to, settings));
}

}  // namespace

int cmd_copy(const Context& ctx, const CopyOptions& opt) {
  endpoint::Settings settings;
  auto to = destination_spec(ctx, opt, settings);
  if (!to) return k_exit_usage;
  auto from = endpoint::parse_spec(opt.from.empty() ? "registry" : opt.from);
  if (!from) {
    print_error(from.error());
    return k_exit_usage;
  }
  if (!opt.platform.empty()) {
    if (auto p = registry::parse_platform(opt.platform); !p) {
      print_error(p.error());
      return k_exit_usage;
    }
  }
  settings.client = registry_options(ctx, opt.insecure_registries);
  settings.interrupt = &ops::install_interrupt_handlers();
  settings.daemon = resolve_inputs(ctx);
  settings.daemon_client = client_options(ctx);
  settings.platform = opt.platform;
  settings.containerd_namespace = containerd_namespace(ctx);
  settings.snapshotter = snapshotter(ctx);
  const bool to_files = to->kind == endpoint::Kind::dir || to->kind == endpoint::Kind::archive;
  if (!to_files && opt.codec.given()) {
    print_error("--compress and --level apply to --to dir: and archive: only");
    return k_exit_usage;
  }
  if (same_place(*from, *to)) {
    print_error("copy --from " + from->text + " --to " + to->text + ": the source and the destination are one place");
    return k_exit_usage;
  }
  auto verify = verify_spec(opt.verify);
  if (!verify) return k_exit_usage;
  settings.verify = std::move(*verify);
  settings.referrers = !opt.referrers.none;
  settings.referrer_types = opt.referrers.types;
  // Signatures are read where they are kept: registries, layouts, hpn's archives.
  const bool keeps_signatures = from->kind == endpoint::Kind::registry || from->kind == endpoint::Kind::oci ||
                                from->kind == endpoint::Kind::dir || from->kind == endpoint::Kind::archive;
  if (settings.verify.wanted() && !keeps_signatures) {
    print_error("copy --from " + from->text + " --to " + to->text +
                ": --verify-key checks images read from a registry, an OCI layout, or hpn's archives; " +
                std::string(endpoint::kind_name(from->kind)) + " keeps no signatures");
    return k_exit_usage;
  }
  if (auto code = copy_by_command(ctx, opt, *from, *to, settings)) return *code;
  if (endpoint::takes_streams(*to)) return copy_streams(ctx, opt, *from, *to, settings);
  if (endpoint::takes_streams(*from)) return copy_staged(ctx, opt, *from, *to, settings);
  int code = k_exit_failed;
  std::shared_ptr<const transfer::ImageSource> source;
  auto listed = images_to_move(opt.images, *from, settings, code, &source);
  if (!listed) return code;
  if (!source) {
    auto made = endpoint::make_source(*from, settings);
    if (!made) return plan_failed(made.error());
    source = std::move(*made);
  }
  return copy_blobs(ctx, opt, *listed, source, *to, settings);
}

}  // namespace hpn::cli
