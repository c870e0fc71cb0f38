#include "hpn/ops/operations.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include <cstdio>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/blob_check.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/ops/export_group.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/util/file.hpp"
#include "hpn/util/log.hpp"
#include "hpn/util/sha256.hpp"

namespace hpn::ops {

std::string local_name(const image::Reference& ref) { return ref.familiar(); }

namespace {

// Sums the daemon's per-layer progressDetail (pull: "Downloading", push: "Pushing").
class LayerProgress {
 public:
  void update(const engine::JsonMessage& m, std::string_view status, const ProgressFn& progress,
              std::string_view phase) {
    if (m.id.empty() || !m.total || *m.total <= 0) return;
    auto& [cur, tot] = layers_[m.id];
    tot = static_cast<std::uint64_t>(*m.total);
    if (m.status == status && m.current) cur = static_cast<std::uint64_t>(std::max<std::int64_t>(0, *m.current));
    progress(phase, done(), total());
  }
  std::uint64_t done() const {
    std::uint64_t d = 0;
    for (const auto& [id, v] : layers_) d += v.first;
    return d;
  }
  std::uint64_t total() const {
    std::uint64_t t = 0;
    for (const auto& [id, v] : layers_) t += v.second;
    return t;
  }

 private:
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> layers_;
};

Result<std::uint64_t> inspect_size(engine::Client& client, const image::Reference& ref) {
  auto info = client.inspect_image(local_name(ref));
  if (!info) {
    if (info.error().kind == ErrorKind::not_found) {
      // The daemon's words without the "inspect NAME: " context: the line names the image.
      std::string_view said = info.error().message;
      if (const std::string ctx = "inspect " + local_name(ref) + ": "; said.rfind(ctx, 0) == 0) {
        said.remove_prefix(ctx.size());
      }
      return Error(ErrorKind::not_found, "not in the daemon (" + std::string(said) + "); pull it first");
    }
    return info.error();
  }
  return static_cast<std::uint64_t>(std::max<std::int64_t>(0, info->size));
}

}  // namespace

Result<SizeIndex> image_sizes(engine::Client& client) {
  auto images = client.list_images();
  if (!images) return images.error();
  SizeIndex index;
  for (const auto& img : *images) {
    // What the export will write: the content size where the store says it
    // (containerd: Size also counts unpacked snapshots), else the image's size.
    const auto size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, img.content_size >= 0 ? img.content_size : img.size));
    // By tag and by digest: an image listed as name@sha256:... needs no inspect either.
    for (const auto* names : {&img.repo_tags, &img.repo_digests}) {
      for (const auto& name : *names) {
        if (auto ref = image::parse_reference(name); ref) index[ref->canonical()] = size;
      }
    }
    // Where the ID is the manifest digest (containerd), every repository of the
    // image names it by that digest.
    if (!img.target_digest.empty() && img.target_digest == img.id) {
      for (const auto& tag : img.repo_tags) {
        if (auto ref = image::parse_reference(tag); ref) {
          if (auto by_digest = image::parse_reference(ref->repository() + "@" + img.id); by_digest) {
            index[by_digest->canonical()] = size;
          }
        }
      }
    }
  }
  return index;
}

SizeIndex image_sizes_of(const engine::Client& client, const std::vector<image::Reference>& refs, std::size_t workers) {
  SizeIndex index;
  std::mutex mu;
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    engine::Client c = client.clone();
    for (std::size_t i = next++; i < refs.size(); i = next++) {
      auto info = c.inspect_image(local_name(refs[i]));
      if (!info) continue;
      std::lock_guard lock(mu);
      index[refs[i].canonical()] = static_cast<std::uint64_t>(std::max<std::int64_t>(0, info->size));
    }
  };
  {
    std::vector<std::jthread> pool;
    for (std::size_t w = 0; w < std::clamp<std::size_t>(workers, 1, refs.size()); ++w) pool.emplace_back(work);
  }
  return index;
}

Result<std::string> auth_header_for(const std::string& domain, const CredentialLookup& lookup) {
  if (!lookup) return engine::registry_auth_header(std::nullopt, domain);
  auto creds = engine::find_credentials(domain, *lookup);
  if (!creds) return creds.error().with_context("credentials for " + domain);
  if (*creds) hpn::log::get("ops").debug("using credentials for {} from {}", domain, (*creds)->source);
  return engine::registry_auth_header(*creds, domain);
}

std::vector<Task> pull_tasks(const std::vector<image::Reference>& refs, const std::string& platform,
                             const CredentialLookup& credentials, std::shared_ptr<const engine::TagResolver> digests) {
  std::vector<Task> tasks;
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& ref = refs[i];
    Task t;
    t.label = ref.original;
    t.run = [ref, i, platform, credentials, digests](engine::Client& client,
                                                     const ProgressFn& progress) -> Result<Outcome> {
      LayerProgress layers;
      std::string digest;
      auto auth = auth_header_for(ref.domain, credentials);
      if (!auth) return auth.error();
      // Known already: the daemon skips asking the registry for the tag's digest.
      const auto resolved = digests && ref.digest.empty() ? digests->digest(i) : std::nullopt;
      progress("pulling", 0, 0);
      auto st = client.pull(ref.repository(), resolved ? *resolved : ref.tag_or_digest(), platform, *auth,
                            [&](const engine::JsonMessage& m) {
                              if (m.status.rfind("Digest: ", 0) == 0) digest = m.status.substr(8);
                              layers.update(m, "Downloading", progress, "pulling");
                              if (m.status == "Extracting") progress("extracting", layers.done(), layers.total());
                            });
      if (!st) return st.error();
      if (resolved) {
        hpn::log::get("ops").debug("{}: pulled by digest {}", ref.original, *resolved);
        if (auto tagged = client.tag(ref.repository() + "@" + *resolved, ref.repository(), ref.tag); !tagged) {
          Error e = tagged.error();
          e.message = ref.original + ": pulled " + *resolved + " (its digest at the registry), then tagging it failed: " +
                      e.message;
          return e;
        }
        if (digest.empty()) digest = *resolved;
      }
      Outcome o;
      o.bytes = layers.total();
      if (o.bytes == 0 && client.runtime() == engine::Runtime::podman) {
        // Podman's pull stream reports no byte counts: the image's size stands in.
        if (auto info = client.inspect_image(local_name(ref)); info) {
          o.bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(0, info->size));
        }
      }
      if (!digest.empty()) o.detail = digest;
      return o;
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

bool size_pulls(std::vector<Task>& tasks, const engine::TagResolver& digests) {
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (digests.size(i) == 0) return false;
  }
  for (std::size_t i = 0; i < tasks.size(); ++i) tasks[i].size_hint = digests.size(i);
  return true;
}

std::filesystem::path save_path(const image::Reference& ref, const SaveSpec& spec) {
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

Result<Outcome> save_archive(engine::Client& client, const std::vector<std::string>& names,
                             const std::filesystem::path& path, const SaveSpec& spec,
                             const ProgressFn& progress) {
  return write_archive([&](const engine::Sink& sink) { return client.save(names, sink, spec.platform); }, path, spec,
                       progress);
}

Result<Outcome> write_archive(const TarProducer& producer, const std::filesystem::path& path, const SaveSpec& spec,
                              const ProgressFn& progress) {
  if (auto st = archive::ensure_directory(path.parent_path()); !st) return st.error();
  // The .part file is created with the first bytes: the request is already with
  // the daemon while the file system allocates it.
  std::optional<util::AtomicFile> file;
  auto open_file = [&]() -> Status {
    if (file) return {};
    auto f = util::AtomicFile::create(path);
    if (!f) return f.error();
    file.emplace(std::move(*f));
    return {};
  };
  util::Sha256 digest;
  auto to_file = [&](std::string_view chunk) -> Status {
    if (auto st = open_file(); !st) return st;
    digest.update(chunk);
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
  const std::uint64_t written = file->bytes_written();
  Outcome o;
  o.detail = "-> " + path.string();
  if (spec.compression != archive::Compression::none) {
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, " (%s, %.0f%%)", std::string(archive::to_string(spec.compression)).c_str(),
                  *n > 0 ? 100.0 * static_cast<double>(written) / static_cast<double>(*n) : 0.0);
    o.detail += ratio;
  }
  o.bytes = *n;
  // The batch's commit thread writes the sidecar and gives both their names after
  // one sync; a failure there removes the archive too.
  o.uncommitted = std::make_shared<util::PendingGroup>();
  o.uncommitted->files.push_back(std::move(*file));
  o.uncommitted->small_files.emplace_back(archive::sidecar_path(path), digest.hex_digest());
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

std::vector<Task> save_tasks(const std::vector<image::Reference>& refs, const SaveSpec& spec,
                             const SizeIndex& sizes) {
  std::vector<Task> tasks;
  const auto groups = export_groups(refs, spec, sizes);
  for (std::size_t i = 0; i < refs.size(); ++i) {
    const auto& ref = refs[i];
    const auto group = groups[i];
    Task t;
    t.label = ref.original;
    if (auto it = sizes.find(ref.canonical()); it != sizes.end()) {
      t.size_hint = it->second;
    } else {
      t.prepare = [ref](engine::Client& client) { return inspect_size(client, ref); };
    }
    const auto path = save_path(ref, spec);
    t.run = [ref, path, spec, group](engine::Client& client, const ProgressFn& progress) -> Result<Outcome> {
      std::error_code ec;
      if (!spec.force && std::filesystem::exists(path, ec)) {
        progress("verifying", 0, 0);
        auto info = client.inspect_image(local_name(ref));
        if (!info) return info.error();
        auto fresh = archive_freshness(path, ref, info->id);
        if (fresh.fresh) {
          return Outcome{.detail = "unchanged: " + path.string() + " already exists and verified", .bytes = 0,
                         .unchanged = true, .uncommitted = {}};
        }
        hpn::log::get("ops").info("saving {} again: {}", ref.original, fresh.why);
      }
      if (group) {
        progress("exporting", 0, 0);
        auto multi = group->acquire(client, ref);
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
      return save_archive(client, {local_name(ref)}, path, spec, progress);
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

Task bundle_task(const std::vector<image::Reference>& refs, const std::filesystem::path& file,
                 const SaveSpec& spec) {
  Task t;
  t.label = file.string() + " (" + std::to_string(refs.size()) + " images)";
  std::vector<std::string> names;
  for (const auto& r : refs) names.push_back(local_name(r));
  t.prepare = [refs](engine::Client& client) -> Result<std::uint64_t> {
    std::uint64_t total = 0;
    for (const auto& r : refs) {
      auto s = inspect_size(client, r);
      if (!s) return s.error();
      total += *s;
    }
    return total;
  };
  t.run = [names, file, spec](engine::Client& client, const ProgressFn& progress) {
    return save_archive(client, names, file, spec, progress);
  };
  return t;
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
  return reader;
}

std::vector<Task> load_tasks(const std::vector<std::filesystem::path>& files, bool verify,
                             const std::string& platform) {
  std::vector<Task> tasks;
  for (const auto& path : files) {
    Task t;
    t.label = path.string();
    std::error_code ec;
    t.size_hint = std::filesystem::file_size(path, ec);
    t.run = [path, verify, platform](engine::Client& client, const ProgressFn& progress) -> Result<Outcome> {
      auto reader = open_for_load(path, verify, progress);
      if (!reader) return reader.error();
      const std::uint64_t size = reader->file_size();
      progress("loading", 0, size);
      // Blobs named by their digest are checked as they pass: a damaged one stops
      // the upload, so the daemon never commits the image.
      archive::BlobChecker blobs("archive");
      std::optional<Error> damaged;
      auto loaded = client.load([&](std::span<char> buf) -> Result<std::size_t> {
        auto n = reader->read(buf);
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
      }, {}, platform);
      if (!loaded) {
        if (damaged) return *damaged;
        // A reader error (corrupt compressed data) names the file already.
        if (loaded.error().message.find(path.string()) != std::string::npos) return loaded.error();
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
      std::string detail;
      for (const auto& img : loaded->images) detail += (detail.empty() ? "loaded " : ", ") + img;
      if (reader->compression() != archive::Compression::none) {
        detail += " (" + std::string(archive::to_string(reader->compression())) + ")";
      }
      return Outcome{.detail = detail, .bytes = reader->file_size(), .unchanged = false, .uncommitted = {}};
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

Result<std::string> push_target(const image::Reference& ref, const PushSpec& spec) {
  if (!ref.tag_given && !ref.digest.empty()) {
    return Error(ErrorKind::invalid_argument,
                 "cannot push " + ref.original + ": a registry needs a tag to push to; write it as name:tag@digest");
  }
  std::string registry = spec.registry;
  while (!registry.empty() && registry.back() == '/') registry.pop_back();
  if (spec.mode == 1) {
    return registry + "/" + ref.name() + ":" + ref.tag;
  }
  const std::string project = spec.project.empty() ? ref.project() : spec.project;
  return registry + "/" + project + "/" + ref.name() + ":" + ref.tag;
}

std::vector<Task> push_tasks(const std::vector<image::Reference>& refs, const PushSpec& spec) {
  std::vector<Task> tasks;
  for (const auto& ref : refs) {
    Task t;
    t.label = ref.original;
    t.prepare = [ref, spec](engine::Client& client) -> Result<std::uint64_t> {
      auto target = push_target(ref, spec);
      if (!target) return target.error();
      auto parsed = image::parse_reference(*target);
      if (!parsed) {
        return Error(ErrorKind::invalid_argument, "target name " + *target + " for " + ref.original +
                                                      " is invalid (" + parsed.error().message +
                                                      "); check -r and -p");
      }
      return inspect_size(client, ref);
    };
    t.run = [ref, spec](engine::Client& client, const ProgressFn& progress) -> Result<Outcome> {
      progress("tagging", 0, 0);
      auto target_text = push_target(ref, spec);
      if (!target_text) return target_text.error();
      auto target = image::parse_reference(*target_text);
      if (!target) return target.error();
      auto auth = auth_header_for(target->domain, spec.credentials);  // before tagging: nothing to undo
      if (!auth) return auth.error();
      const std::string source = local_name(ref);
      auto size = inspect_size(client, ref);
      if (!size) return size.error();
      const std::string target_local = local_name(*target);
      const bool same = source == target_local;
      // Only remove afterwards a tag that hpn itself created.
      const bool existed = same || client.inspect_image(target_local).ok();
      if (!same) {
        if (auto st = client.tag(source, target->familiar_repository(), target->tag); !st) {
          return st.error();
        }
      }
      LayerProgress layers;
      progress("pushing", 0, 0);
      auto pushed = client.push(target->familiar_repository(), target->tag, *auth,
                                [&](const engine::JsonMessage& m) { layers.update(m, "Pushing", progress, "pushing"); });
      if (!existed) {
        auto removed = client.remove(target_local);
        if (!removed && pushed) {
          return Error(removed.error().kind, "pushed " + *target_text + " but could not remove the temporary tag: " +
                                                 removed.error().message);
        }
      }
      if (!pushed) return pushed.error();
      Outcome o;
      o.detail = "-> " + *target_text + (pushed->digest.empty() ? "" : " " + pushed->digest);
      o.bytes = *size;
      return o;
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::vector<Task> rmi_tasks(const std::vector<image::Reference>& refs, bool force) {
  std::vector<Task> tasks;
  for (const auto& ref : refs) {
    Task t;
    t.label = ref.original;
    t.run = [ref, force](engine::Client& client, const ProgressFn&) -> Result<Outcome> {
      auto removed = client.remove(local_name(ref), force);
      if (!removed) return removed.error();
      std::size_t untagged = 0, deleted = 0;
      for (const auto& line : *removed) {
        if (line.rfind("Untagged", 0) == 0) ++untagged;
        else ++deleted;
      }
      return Outcome{.detail = "(untagged " + std::to_string(untagged) + ", deleted " + std::to_string(deleted) + ")",
                     .bytes = 0, .unchanged = false, .uncommitted = {}};
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

}  // namespace hpn::ops
