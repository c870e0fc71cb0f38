#include "hpn/ops/operations.hpp"

#include <map>

#include "hpn/archive/paths.hpp"
#include "hpn/util/file.hpp"

namespace hpn::ops {

std::string local_name(const image::Reference& ref) { return ref.familiar(); }

namespace {

Result<std::uint64_t> inspect_size(engine::Client& client, const image::Reference& ref) {
  auto info = client.inspect_image(local_name(ref));
  if (!info) {
    if (info.error().kind == ErrorKind::not_found) {
      return Error(ErrorKind::not_found, "image " + ref.original + " is not in the daemon (" +
                                             info.error().message + "); pull it first");
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
    for (const auto& tag : img.repo_tags) {
      if (auto ref = image::parse_reference(tag); ref) {
        index[ref->canonical()] = static_cast<std::uint64_t>(std::max<std::int64_t>(0, img.size));
      }
    }
  }
  return index;
}

std::vector<Task> pull_tasks(const std::vector<image::Reference>& refs, const std::string& platform) {
  std::vector<Task> tasks;
  for (const auto& ref : refs) {
    Task t;
    t.label = ref.original;
    t.run = [ref, platform](engine::Client& client) -> Result<Outcome> {
      std::map<std::string, std::int64_t> layer_totals;
      std::string digest;
      auto st = client.pull(ref.repository(), ref.tag_or_digest(), platform, {},
                            [&](const engine::JsonMessage& m) {
                              if (m.total && *m.total > 0 && !m.id.empty()) layer_totals[m.id] = *m.total;
                              if (m.status.rfind("Digest: ", 0) == 0) digest = m.status.substr(8);
                            });
      if (!st) return st.error();
      Outcome o;
      for (const auto& [id, total] : layer_totals) o.bytes += static_cast<std::uint64_t>(total);
      if (!digest.empty()) o.detail = digest;
      return o;
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::vector<Task> save_tasks(const std::vector<image::Reference>& refs, const SaveSpec& spec,
                             const SizeIndex& sizes) {
  std::vector<Task> tasks;
  for (const auto& ref : refs) {
    Task t;
    t.label = ref.original;
    if (auto it = sizes.find(ref.canonical()); it != sizes.end()) {
      t.size_hint = it->second;
    } else {
      t.prepare = [ref](engine::Client& client) { return inspect_size(client, ref); };
    }
    const auto path = archive::archive_path(ref, spec.dir, spec.by_project);
    t.run = [ref, path](engine::Client& client) -> Result<Outcome> {
      if (auto st = archive::ensure_directory(path.parent_path()); !st) return st.error();
      auto file = util::AtomicFile::create(path);
      if (!file) return file.error();
      const std::vector<std::string> names{local_name(ref)};
      auto n = client.save(names, [&](std::string_view chunk) { return file->write(chunk); });
      if (!n) return n.error();  // the partial is removed with `file`
      if (auto st = file->commit(); !st) return st.error();
      return Outcome{.detail = "-> " + path.string(), .bytes = *n, .unchanged = false};
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

std::vector<Task> load_tasks(const std::vector<std::filesystem::path>& files) {
  std::vector<Task> tasks;
  for (const auto& path : files) {
    Task t;
    t.label = path.string();
    std::error_code ec;
    t.size_hint = std::filesystem::file_size(path, ec);
    t.run = [path](engine::Client& client) -> Result<Outcome> {
      auto reader = util::FileReader::open(path);
      if (!reader) return reader.error();
      if (reader->size() == 0) {
        return Error(ErrorKind::invalid_argument, path.string() + " is empty; it is not an image archive");
      }
      auto loaded = client.load([&](std::span<char> buf) { return reader->read(buf); });
      if (!loaded) return loaded.error().with_context(path.string());
      std::string detail;
      for (const auto& img : loaded->images) detail += (detail.empty() ? "loaded " : ", ") + img;
      return Outcome{.detail = detail, .bytes = reader->size(), .unchanged = false};
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
    t.run = [ref, spec](engine::Client& client) -> Result<Outcome> {
      auto target_text = push_target(ref, spec);
      if (!target_text) return target_text.error();
      auto target = image::parse_reference(*target_text);
      if (!target) return target.error();
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
      auto pushed = client.push(target->familiar_repository(), target->tag);
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
    t.run = [ref, force](engine::Client& client) -> Result<Outcome> {
      auto removed = client.remove(local_name(ref), force);
      if (!removed) return removed.error();
      std::size_t untagged = 0, deleted = 0;
      for (const auto& line : *removed) {
        if (line.rfind("Untagged", 0) == 0) ++untagged;
        else ++deleted;
      }
      return Outcome{.detail = "(untagged " + std::to_string(untagged) + ", deleted " + std::to_string(deleted) + ")",
                     .bytes = 0, .unchanged = false};
    };
    tasks.push_back(std::move(t));
  }
  return tasks;
}

}  // namespace hpn::ops
