#include "hpn/ops/operations.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <thread>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/blob_check.hpp"
#include "hpn/archive/member_rules.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/ops/export_group.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/registry/resolver.hpp"
#include "hpn/util/file.hpp"
#include "hpn/util/log.hpp"
#include "hpn/util/sha256.hpp"
#include "hpn/util/write_behind.hpp"

namespace hpn::ops {

BatchOptions batch_options(const RunSettings& settings, std::chrono::milliseconds start_spacing, bool local) {
  BatchOptions bo;
  bo.workers = settings.workers;
  bo.retry = settings.retry;
  bo.operation_timeout = settings.operation_timeout;
  bo.interrupt = settings.interrupt;
  bo.start_spacing = start_spacing;
  // A local store shares this machine's cores: large transfers one per core.
  if (local) bo.heavy_limit = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return bo;
}

Result<std::uint64_t> inspect_size(StoreConnection& conn, const image::Reference& ref) {
  auto info = conn.inspect(local_name(ref));
  if (!info) {
    if (info.error().kind == ErrorKind::not_found && conn.pulls_into()) {
      // The daemon's words without the context of the inspect: the line names the image.
      return Error(ErrorKind::not_found, "not in the daemon (" + info.error().said + "); pull it first");
    }
    return info.error();
  }
  return info->size;
}

namespace {


}  // namespace

// ---- pull ---------------------------------------------------------------------

EnginePlan plan_pull(const ContainerEngine& store, const std::vector<image::Reference>& refs, const PullRequest& request) {
  // Digests asked of the registries while the pulls run (see registry/resolver.hpp):
  // worth it when there are more images than workers.
  std::shared_ptr<const registry::TagResolver> digests;
  if (request.resolve && refs.size() > request.workers) {
    digests = store.resolve_ahead(refs, std::min<std::size_t>(request.workers, 4));
  }
  EnginePlan plan;
  plan.tasks = pull_tasks(refs, request.platform, digests);
  // A near registry answers for the whole list in a few ms: then the largest pulls
  // start first, as saves do, so the batch does not end on one big image. A far or
  // slow one costs this wait once, and the list's order stays.
  if (digests && digests->wait_for(std::chrono::milliseconds(60))) size_pulls(plan.tasks, *digests);
  // Workers start a little apart, so that pulls of images alike do not reach the
  // daemon's unpacking at the same moments.
  plan.start_spacing = std::chrono::milliseconds(100);
  return plan;
}

std::vector<EngineTask> pull_tasks(const std::vector<image::Reference>& refs, const std::string& platform,
                             std::shared_ptr<const registry::TagResolver> digests) {
  std::vector<EngineTask> tasks;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& ref = refs[i];
    EngineTask t;
    t.label = ref.original;
    t.run = [ref, i, platform, digests](EngineConnection& conn, const ProgressFn& progress) -> Result<Outcome> {
      // Known already: the daemon skips asking the registry for the tag's digest.
      const auto resolved = digests && ref.digest.empty() ? digests->digest(i) : std::nullopt;
      progress("pulling", 0, 0);
      auto pulled = conn.pull(ref, resolved ? *resolved : ref.tag_or_digest(), platform, progress);
      if (!pulled) return pulled.error();
      if (resolved) {
        hpn::log::get("ops").debug("{}: pulled by digest {}", ref.original, *resolved);
        if (auto tagged = conn.tag(ref.repository() + "@" + *resolved, ref); !tagged) {
          return tagged.error().with_context(ref.original + ": pulled " + *resolved +
                                             " (its digest at the registry), then tagging it failed");
        }
        if (pulled->digest.empty()) pulled->digest = *resolved;
      }
      Outcome o;
      o.bytes = pulled->bytes;
      o.result = *pulled;
      return o;
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

bool size_pulls(std::vector<EngineTask>& tasks, const registry::TagResolver& digests) {
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (digests.size(i) == 0) return false;
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) tasks[i].size_hint = digests.size(i);
  return true;
}

// ---- save ---------------------------------------------------------------------

std::filesystem::path save_path(const image::Reference& ref, const SaveSpec& spec) {
  if (!spec.bundle.empty()) return spec.bundle;
  return archive::archive_path(ref, spec.dir, spec.by_project, archive::file_suffix(spec.compression));
}

Freshness archive_freshness(const std::filesystem::path& path, const image::Reference& ref,
                            const std::string& current_id) {
  auto check = archive::verify_sidecar(path);
  if (!check) return {false, check.error().message};
  if (*check == archive::Checksum::none) return {false, "no checksum sidecar"};
  if (*check == archive::Checksum::mismatch) return {false, "checksum mismatch"};
  auto info = archive::read_archive_info(path);
  if (!info) return {false, info.error().message};
  for (const auto& img : info->images) {
    for (const auto& tag : img.repo_tags) {
      auto t = image::parse_reference(tag);
      if (t && t->canonical() == ref.canonical()) {
        if (img.has_id(current_id)) return {true, {}};
        return {false, "image changed (archive has " + img.image_id.substr(0, 19) + ")"};
      }
    }
  }
  return {false, "archive does not hold " + ref.original};
}

Result<Outcome> write_archive(const TarProducer& producer, const std::filesystem::path& path, const SaveSpec& spec,
                              const ProgressFn& progress) {
  if (auto st = archive::ensure_directory(path.parent_path()); !st) return st.error();
  // The .part file is created with the first bytes: the request is already with
  // the daemon while the file system allocates it.
  // The file is written and hashed on a thread of its own, behind the stream.
  std::optional<util::WriteBehind> file;
  auto open_file = [&]() -> Status {
    if (file) return {};
    auto f = util::AtomicFile::create(path);
    if (!f) return f.error();
    file.emplace(std::move(*f));
    return {};
  };
  auto to_file = [&](std::string_view chunk) -> Status {
    if (auto st = open_file(); !st) return st;
    return file->write(chunk);
  };
  std::optional<archive::Compressor> compressor;
  if (spec.compression != archive::Compression::none) {
    auto c = archive::Compressor::open(spec.compression, spec.level, spec.threads, to_file);
    if (!c) return c.error();
    compressor.emplace(std::move(*c));
  }
  // The daemon stages the export before its first byte: "exporting" until then.
  if (progress) progress("exporting", 0, 0);
  std::uint64_t received = 0;
  auto n = producer([&](std::string_view chunk) {
    received += chunk.size();
    if (progress) progress("saving", received, 0);
    return compressor ? compressor->write(chunk) : to_file(chunk);
  });
  if (!n) return n.error();  // the partial is removed with `file`
  if (compressor) {
    if (auto st = compressor->finish(); !st) return st.error();
  }
  if (auto st = open_file(); !st) return st.error();
  auto done = file->finish();
  if (!done) return done.error();
  const std::uint64_t written = done->file.bytes_written();
  Outcome o;
  o.result = WrittenArchive{.path = path, .compression = spec.compression, .tar_bytes = *n, .file_bytes = written};
  o.bytes = *n;
  // The batch's commit thread writes the sidecar and gives both their names after
  // one sync; a failure there removes the archive too.
  o.uncommitted = std::make_shared<util::PendingGroup>();
  o.uncommitted->files.push_back(std::move(done->file));
  o.uncommitted->small_files.emplace_back(archive::sidecar_path(path), std::move(done->sha256_hex));
  return o;
}

namespace {

// Small images to export several per request: tag references of known size whose
// archive is to be written (not one that may turn out unchanged). `refs` are distinct:
// the image list drops duplicates (a repeated member would only be exported alone).
std::vector<std::shared_ptr<ExportGroup>> export_groups(const std::vector<image::Reference>& refs,
                                                        const SaveSpec& spec, const SizeIndex& sizes) {
  std::vector<std::shared_ptr<ExportGroup>> group_of(refs.size());
  if (!spec.group_small || !spec.platform.empty()) return group_of;
  std::vector<std::size_t> candidates;
  std::vector<std::uint64_t> candidate_sizes;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& ref = refs[i];
    const auto it = sizes.find(ref.canonical());
    std::error_code ec;
    if (!ref.digest.empty() || it == sizes.end() || (!spec.force && std::filesystem::exists(save_path(ref, spec), ec))) {
      continue;
    }
    candidates.push_back(i);
    candidate_sizes.push_back(it->second);
  }
  for (const auto& members : plan_export_groups(candidate_sizes, spec.workers)) {
    std::vector<image::Reference> group_refs;
    // Room for the archive's own files and headers (about 17 kB per image) besides the layers.
    std::uint64_t budget = 1u << 20;
    for (std::size_t m : members) {
      group_refs.push_back(refs[candidates[m]]);
      budget += candidate_sizes[m] + (64u << 10);
    }
    auto group = std::make_shared<ExportGroup>(std::move(group_refs), budget);
    for (std::size_t m : members) group_of[candidates[m]] = group;
  }
  return group_of;
}

}  // namespace


std::filesystem::path save_directory(const SaveSpec& spec) {
  const auto dir = spec.bundle.empty() ? spec.dir : spec.bundle.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

SaveSpec effective_save(const ImageStore* store, SaveSpec spec, std::string* note) {
  // The containerd image store exports the layers as it holds them, compressed as
  // pulled: compressing the archive again costs time and saves nothing, so it is
  // written as a plain tar (loadable everywhere, as docker save writes it). A
  // bundle keeps the compression its name asks for.
  if (store != nullptr && spec.compression != archive::Compression::none && spec.bundle.empty() &&
      store->traits().compressed_exports) {
    if (note != nullptr) {
      *note = std::string(store->traits().local || store->traits().pulls_by_digest
                              ? "the daemon keeps images in the containerd image store, compressed"
                              : "the registry serves the layers compressed") +
              "; archives are written as .tar with their layers as stored, not compressed again (--compress " +
              std::string(archive::to_string(spec.compression)) + ")";
    }
    spec.compression = archive::Compression::none;
  }
  return spec;
}

namespace {

// Stop before writing when the images cannot fit: the uncompressed size of every
// image whose archive does not exist yet must fit in the free space. Compressed
// saves are not checked in advance (their size is unknown); ENOSPC still fails
// the image cleanly.
Status check_space(const std::vector<image::Reference>& refs, const SaveSpec& spec, const SizeIndex& sizes) {
  if (spec.compression != archive::Compression::none) return {};
  std::uint64_t need = 0;
  for (const auto& ref : refs) {
    std::error_code ec;
    if (!spec.bundle.empty() || !std::filesystem::exists(save_path(ref, spec), ec)) {
      if (auto it = sizes.find(ref.canonical()); it != sizes.end()) need += it->second;
    }
  }
  const auto dir = save_directory(spec);
  auto avail = archive::free_space(dir);
  if (!avail) return avail.error();
  if (need > *avail) {
    return Error(ErrorKind::no_space, "not enough space on " + dir.string() + ": the images need about " +
                                          human_bytes(need) + ", " + human_bytes(*avail) +
                                          " is free; free some space, use --compress, or choose another --path");
  }
  return {};
}

Result<Outcome> save_archive(StoreConnection& conn, std::span<const std::string> names, const std::filesystem::path& path,
                             const SaveSpec& spec, const ProgressFn& progress) {
  return write_archive([&](const engine::Sink& sink) { return conn.export_images(names, spec.platform, sink); },
                       path, spec, progress);
}

// The partial files a killed run left of the archive at `path` (its .part and its
// sidecar's). Only the run holding the directory's lock calls this, so no other
// run is writing them.
void remove_stale_parts(const std::filesystem::path& path) {
  for (std::filesystem::path p : {path, archive::sidecar_path(path)}) {
    p += ".part";
    std::error_code ec;
    if (std::filesystem::remove(p, ec)) hpn::log::get("ops").info("removed {}, left by a run that was stopped", p.string());
  }
}

std::vector<Task> save_tasks(const std::vector<image::Reference>& refs, const SaveSpec& spec, const SizeIndex& sizes,
                             bool ask_sizes) {
  std::vector<Task> tasks;
  const auto groups = export_groups(refs, spec, sizes);
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& ref = refs[i];
    const auto group = groups[i];
    Task t;
    t.label = ref.original;
    if (auto it = sizes.find(ref.canonical()); it != sizes.end()) {
      t.size_hint = it->second;
    } else if (ask_sizes) {
      t.prepare = [ref](StoreConnection& conn) { return inspect_size(conn, ref); };
    }
    const auto path = save_path(ref, spec);
    t.run = [ref, path, spec, group](StoreConnection& conn, const ProgressFn& progress) -> Result<Outcome> {
      std::error_code ec;
      if (!spec.force && std::filesystem::exists(path, ec)) {
        progress("verifying", 0, 0);
        auto info = conn.inspect(local_name(ref));
        if (!info) return info.error();
        auto fresh = archive_freshness(path, ref, info->id);
        if (fresh.fresh) {
          remove_stale_parts(path);
          Outcome o;
          o.result = WrittenArchive{.path = path, .compression = spec.compression, .tar_bytes = 0, .file_bytes = 0};
          o.unchanged = true;
          return o;
        }
        hpn::log::get("ops").info("saving {} again: {}", ref.original, fresh.why);
      }
      if (group) {
        progress("exporting", 0, 0);
        auto multi = group->acquire(conn, ref);
        if (!multi && multi.error().kind == ErrorKind::cancelled) return multi.error();
        if (multi) {
          auto single = (*multi)->single(ref);
          if (single) {
            return write_archive([&](const engine::Sink& sink) { return single->write(sink); }, path, spec,
                                 progress);
          }
          hpn::log::get("ops").debug("{}: {}; exporting it alone", ref.original, single.error().message);
        }
      }
      const std::string name = local_name(ref);
      return save_archive(conn, {&name, 1}, path, spec, progress);
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

// One task saving every image into one archive (shared layers stored once).
Task bundle_task(const std::vector<image::Reference>& refs, const SaveSpec& spec, bool ask_sizes) {
  Task t;
  t.label = spec.bundle.string() + " (" + std::to_string(refs.size()) + " images)";
  std::vector<std::string> names;
  for (const auto& r : refs) names.push_back(local_name(r));
  if (ask_sizes) {
    t.prepare = [refs](StoreConnection& conn) -> Result<std::uint64_t> {
      std::uint64_t total = 0;
      for (const auto& r : refs) {
        auto s = inspect_size(conn, r);
        if (!s) return s.error();
        total += *s;
      }
      return total;
    };
  }
  t.run = [names, spec](StoreConnection& conn, const ProgressFn& progress) {
    return save_archive(conn, names, spec.bundle, spec, progress);
  };
  return t;
}

}  // namespace

Result<Plan> plan_save(const ImageStore& store, const std::vector<image::Reference>& refs, SaveSpec spec) {
  if (!spec.platform.empty()) {
    if (auto st = store.check_platform(spec.platform, "save"); !st) return st.error();
  }
  Plan plan;
  // Load the checksum algorithm while the store answers the first questions and
  // the first exports start.
  plan.background.emplace_back(util::Sha256::prepare);
  std::string note;
  spec = effective_save(&store, std::move(spec), &note);
  if (!note.empty()) plan.notes.push_back(note);
  const StoreTraits& traits = store.traits();
  const std::size_t running = std::min(spec.workers, refs.size());
  // Compressing several archives at once, the workers already keep every core busy:
  // each archive is compressed on its own worker's thread, since extra zstd threads
  // per archive would only add CPU. One archive at a time (a bundle, one image,
  // -j 1) gets every core.
  if (spec.bundle.empty() && running > 1) spec.threads = 1;
  // Small images go several per export where the store's exports can be split.
  spec.group_small = spec.bundle.empty() && traits.groupable_exports;
  // Sizes order the batch (largest first, heavy images one per core) and check the
  // free space; a size the store cannot tell only costs the ordering.
  const SizeIndex sizes = store.sizes(refs, spec.workers);
  if (auto st = check_space(refs, spec, sizes); !st) return st.error();
  if (!spec.bundle.empty()) {
    plan.noun = "bundles";
    plan.tasks.push_back(bundle_task(refs, spec, traits.cheap_queries));
  } else {
    plan.tasks = save_tasks(refs, spec, sizes, traits.cheap_queries);
  }
  return plan;
}

// ---- load ---------------------------------------------------------------------

// A reader's error about the file at `path`, told of "the archive" (the task's line
// names the file already).
Error as_the_archive(const Error& e, const std::filesystem::path& path) {
  return e.subject == path.string() ? e.told_of("the archive") : e;
}

Result<EnginePlan> plan_load(const ContainerEngine& store, const std::vector<std::filesystem::path>& files,
                       const LoadRequest& request) {
  if (!request.platform.empty()) {
    if (auto st = store.check_platform(request.platform, "load"); !st) return st.error();
  }
  EnginePlan plan;
  plan.noun = "files";
  for (const auto& path : files) {
    EngineTask t;
    t.label = path.string();
    std::error_code ec;
    t.size_hint = std::filesystem::file_size(path, ec);
    t.run = [path, request](EngineConnection& conn, const ProgressFn& progress) -> Result<Outcome> {
      auto reader = open_for_load(path, request.verify, progress);
      if (!reader) return reader.error();
      LoadedArchive result;
      if (request.check) {
        progress("checking signatures", 0, 0);
        if (auto st = request.check(path, result); !st) return st.error();
      }
      const std::uint64_t size = reader->file_size();
      progress("loading", 0, size);
      // Blobs named by their digest are checked as they pass: a damaged one stops
      // the upload, so the store never commits the image.
      archive::BlobChecker blobs("archive");
      std::optional<Error> damaged;
      auto loaded = conn.import_archive([&](std::span<char> buf) -> Result<std::size_t> {
        auto n = reader->read(buf);
        if (!n) damaged = as_the_archive(n.error(), path);
        if (n && *n > 0) {
          if (auto st = blobs.feed(std::string_view(buf.data(), *n)); !st) {
            damaged = st.error();
            return st.error();
          }
        }
        if (n && *n == 0) {
          progress("importing", size, size);  // all sent; the daemon is still writing layers
        } else if (n) {
          progress("loading", reader->bytes_consumed(), size);
        }
        return n;
      }, request.platform);
      if (!loaded) {
        if (damaged) return *damaged;
        // A reader error (corrupt compressed data) is about the file already.
        if (loaded.error().subject == path.string()) return loaded.error();
        // The daemon may reject garbage before the codec's checksum at the end of a
        // corrupt file is reached: read on, and blame the file when it is corrupt.
        if (loaded.error().kind != ErrorKind::cancelled && reader->compression() != archive::Compression::none) {
          std::vector<char> sink(1 << 16);
          for (;;) {
            auto n = reader->read(sink);
            if (!n) {
              return Error(n.error().kind, n.error().message + "; the daemon said: " + loaded.error().message);
            }
            if (*n == 0) break;
          }
        }
        return loaded.error().with_context(path.string());
      }
      result.images = loaded->images;
      result.compression = reader->compression();
      // hpn's own archives say in index.json how many referrers each image has.
      result.referrers_left = archive::referrers_in_index(blobs.index_json());
      Outcome o;
      o.result = std::move(result);
      o.bytes = reader->file_size();
      return o;
    };
    plan.tasks.push_back(std::move(t));
  }
  return plan;
}

Result<archive::DecompressingReader> open_for_load(const std::filesystem::path& path, bool verify,
                                                   const ProgressFn& progress) {
  if (verify) {
    progress("verifying", 0, 0);
    auto check = archive::verify_sidecar(path);
    if (!check) return check.error();
    if (*check == archive::Checksum::mismatch) {
      return Error(ErrorKind::invalid_argument,
                   path.string() + " does not match its checksum " + archive::sidecar_path(path).string() +
                       " (corrupt or replaced); save it again, or use --skip-verify to load it anyway");
    }
  }
  auto reader = archive::DecompressingReader::open(path);
  if (!reader) return reader.error();
  if (reader->file_size() == 0) {
    return Error(ErrorKind::invalid_argument, path.string() + " is empty; it is not an image archive");
  }
  // What is not a tar, and a member that could be written outside where it is
  // unpacked, are refused before a byte reaches the daemon.
  if (auto st = archive::check_image_archive(path); !st) return st.error();
  progress("checking", 0, 0);
  if (auto st = archive::check_archive_members(path); !st) return as_the_archive(st.error(), path);
  return reader;
}


}  // namespace hpn::ops
