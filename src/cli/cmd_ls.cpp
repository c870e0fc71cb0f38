// hpn ls: images in the daemon (or containerd), archives in a directory, or which listed images
// are present (exit 1 if any is missing). Text tables, --format templates, or one
// JSON document with --output json.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/endpoint/factory.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/reporter.hpp"

namespace hpn::cli {
namespace {

std::string short_id(const std::string& id) {
  std::string s = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
  return s.substr(0, 12);
}

// "repo:tag" -> {"repo", "tag"}; "<none>:<none>" for untagged images.
std::pair<std::string, std::string> split_tag(const std::string& name) {
  const auto slash = name.rfind('/');
  const auto colon = name.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return {name, ""};
  return {name.substr(0, colon), name.substr(colon + 1)};
}

// A --format template, parsed once: literal text (with \t and \n escapes) and
// docker's placeholders {{.Repository}} {{.Tag}} {{.ID}} {{.FullID}} {{.Size}} {{.Digest}}.
struct FormatPart {
  enum class Field { text, repository, tag, id, full_id, size, digest } field = Field::text;
  std::string text;  // Field::text only
};
using Format = std::vector<FormatPart>;

// nullopt when the template names anything else or leaves a "{{" open.
std::optional<Format> parse_format(const std::string& format) {
  using Field = FormatPart::Field;
  static const std::pair<const char*, Field> k_fields[] = {
      {".Repository", Field::repository}, {".Tag", Field::tag},   {".ID", Field::id},
      {".FullID", Field::full_id},        {".Size", Field::size}, {".Digest", Field::digest}};
  Format parts;
  std::string literal;
  for (std::size_t i = 0; i < format.size();) {
    if (format.compare(i, 2, "{{") == 0) {
      const auto end = format.find("}}", i);
      if (end == std::string::npos) return std::nullopt;
      std::string name = format.substr(i + 2, end - i - 2);
      name.erase(std::remove(name.begin(), name.end(), ' '), name.end());
      const auto it =
          std::find_if(std::begin(k_fields), std::end(k_fields), [&](const auto& f) { return name == f.first; });
      if (it == std::end(k_fields)) return std::nullopt;
      if (!literal.empty()) parts.push_back({Field::text, std::exchange(literal, {})});
      parts.push_back({it->second, {}});
      i = end + 2;
    } else if (format[i] == '\\' && i + 1 < format.size() && (format[i + 1] == 't' || format[i + 1] == 'n')) {
      literal += format[i + 1] == 't' ? '\t' : '\n';
      i += 2;
    } else {
      literal += format[i++];
    }
  }
  if (!literal.empty()) parts.push_back({Field::text, literal});
  return parts;
}

std::string render(const Format& format, const std::string& repository, const std::string& tag, const std::string& id,
                   std::uint64_t size, const std::string& digest) {
  using Field = FormatPart::Field;
  std::string out;
  for (const auto& part : format) {
    switch (part.field) {
      case Field::text: out += part.text; break;
      case Field::repository: out += repository; break;
      case Field::tag: out += tag; break;
      case Field::id: out += short_id(id); break;
      case Field::full_id: out += id; break;
      case Field::size: out += ops::human_bytes(size); break;
      case Field::digest: out += digest; break;
    }
  }
  return out;
}

// Each archive with its compression, size and checksum status, then the images in it
// (tags and image ID from manifest.json). Exit 1 when an archive is unreadable or
// does not match its checksum.
int list_archives(const Context& ctx, const std::string& dir, bool recursive) {
  auto files = archive::find_archives({dir}, recursive);
  if (!files) {
    print_error(files.error());
    return k_exit_usage;
  }
  const bool json = json_output(ctx);
  if (files->files.empty() && files->skipped.empty()) {
    if (json) {
      print_json({{"directory", dir}, {"archives", nlohmann::json::array()}});
    } else {
      std::printf("no archives (*.tar, *.tar.gz, *.tar.zst, *.tar.xz) in %s%s\n", dir.c_str(),
                  recursive ? "" : "; use --recursive to look in subdirectories");
    }
    return k_exit_ok;
  }
  int rc = k_exit_ok;
  nlohmann::json list = nlohmann::json::array();
  if (!json) std::printf("%-50s %-5s %10s %-9s %s\n", "ARCHIVE", "COMP", "SIZE", "CHECKSUM", "IMAGES");
  for (const auto& s : files->skipped) {
    rc = k_exit_failed;
    if (json) list.push_back({{"path", s.path.string()}, {"error", s.error.message}});
    else std::printf("%-50s %-5s %10s %-9s unreadable: %s\n", s.path.c_str(), "?", "-", "-", s.error.message.c_str());
  }
  for (const auto& f : files->files) {
    auto check = archive::verify_sidecar(f);
    const std::string sum = check ? std::string(archive::to_string(*check)) : "error";
    if (!check || *check == archive::Checksum::mismatch) rc = k_exit_failed;
    auto info = archive::read_archive_info(f);
    std::error_code ec;
    const auto size = info ? info->file_size : static_cast<std::uint64_t>(std::filesystem::file_size(f, ec));
    nlohmann::json entry{{"path", f.string()}, {"size", ec ? 0 : size}, {"checksum", sum}};
    if (!info) {
      rc = k_exit_failed;
      entry["error"] = info.error().message;
      if (json) list.push_back(std::move(entry));
      else std::printf("%-50s %-5s %10s %-9s unreadable: %s\n", f.c_str(), "?", ops::human_bytes(size).c_str(),
                       sum.c_str(), info.error().message.c_str());
      continue;
    }
    entry["compression"] = std::string(archive::to_string(info->compression));
    nlohmann::json images = nlohmann::json::array();
    std::string text;
    for (const auto& img : info->images) {
      images.push_back({{"tags", img.repo_tags},
                        {"id", img.image_id},
                        {"config_digest", img.config_id},
                        {"manifest_digest", img.manifest_digest},
                        {"layers", img.layers},
                        {"referrers", img.referrers}});
      std::string tags;
      for (const auto& t : img.repo_tags) tags += (tags.empty() ? "" : ",") + t;
      text += (text.empty() ? "" : "; ") + (tags.empty() ? std::string("<untagged>") : tags) + " " + short_id(img.image_id);
      if (img.referrers > 0) {
        text += " +" + std::to_string(img.referrers) + (img.referrers == 1 ? " referrer" : " referrers");
      }
    }
    entry["images"] = std::move(images);
    if (json) list.push_back(std::move(entry));
    else std::printf("%-50s %-5s %10s %-9s %s\n", f.c_str(), std::string(archive::to_string(info->compression)).c_str(),
                     ops::human_bytes(info->file_size).c_str(), sum.c_str(), text.c_str());
  }
  if (json) print_json({{"directory", dir}, {"archives", list}});
  return rc;
}

// `format`: a --format template's rows instead of the table.
int list_images(const Context& ctx, const Result<std::vector<engine::ImageSummary>>& images,
                const std::optional<Format>& format) {
  if (!images) {
    print_error(images.error());
    return k_exit_failed;
  }
  std::vector<std::pair<std::string, const engine::ImageSummary*>> rows;
  for (const auto& img : *images) {
    if (img.repo_tags.empty()) rows.emplace_back("<none>:<none>", &img);
    for (const auto& t : img.repo_tags) rows.emplace_back(t, &img);
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  const bool json = json_output(ctx);
  nlohmann::json list = nlohmann::json::array();
  if (!json && !format) std::printf("%-60s %-12s %10s\n", "IMAGE", "ID", "SIZE");
  for (const auto& [name, img] : rows) {
    const auto size = static_cast<std::uint64_t>(std::max<std::int64_t>(0, img->size));
    const auto [repository, tag] = split_tag(name);
    std::string digest;
    for (const auto& d : img->repo_digests) {
      if (d.rfind(repository + "@", 0) == 0) digest = d.substr(repository.size() + 1);
    }
    if (json) {
      list.push_back({{"name", name}, {"repository", repository}, {"tag", tag}, {"id", img->id},
                      {"digest", digest}, {"size", size}});
    } else if (format) {
      std::printf("%s\n", render(*format, repository, tag, img->id, size, digest).c_str());
    } else {
      std::printf("%-60s %-12s %10s\n", name.c_str(), short_id(img->id).c_str(), ops::human_bytes(size).c_str());
    }
  }
  if (json) print_json({{"images", list}});
  return k_exit_ok;
}

// The image ID of `ref`, or not_found.
using Lookup = std::function<Result<std::string>(const image::Reference& ref)>;

int list_presence(const Context& ctx, const Lookup& lookup, const std::vector<image::Reference>& refs) {
  const bool json = json_output(ctx);
  nlohmann::json list = nlohmann::json::array();
  std::size_t missing = 0;
  for (const auto& ref : refs) {
    auto id = lookup(ref);
    if (!id && id.error().kind != ErrorKind::not_found) {
      print_error(id.error());
      return k_exit_failed;
    }
    if (!id) ++missing;
    if (json) {
      nlohmann::json j{{"image", ref.original}, {"present", id.ok()}};
      if (id) j["id"] = *id;
      list.push_back(std::move(j));
    } else if (id) {
      std::printf("present  %-50s %s\n", ref.original.c_str(), short_id(*id).c_str());
    } else {
      std::printf("missing  %s\n", ref.original.c_str());
    }
  }
  if (json) {
    print_json({{"images", list}, {"present", refs.size() - missing}, {"missing", missing}, {"total", refs.size()}});
  } else {
    std::printf("%zu present, %zu missing of %zu\n", refs.size() - missing, missing, refs.size());
  }
  return missing == 0 ? k_exit_ok : k_exit_failed;
}

// containerd's image records in the rows a daemon's list gives: the record's name
// as its tag (none for a name by digest), the config digest as its ID.
Result<std::vector<engine::ImageSummary>> containerd_summaries(const endpoint::ContainerdCatalog& catalog) {
  auto images = catalog.list();
  if (!images) return images.error();
  std::vector<engine::ImageSummary> out;
  for (const auto& image : *images) {
    engine::ImageSummary s;
    s.id = image.id.empty() ? image.digest : image.id;
    const auto at = image.name.find('@');
    const bool by_digest = endpoint::containerd_name_by_digest(image.name);
    if (!by_digest) s.repo_tags.push_back(image.name);
    const std::string repository = at != std::string::npos ? image.name.substr(0, at) : split_tag(image.name).first;
    if (!by_digest || at != std::string::npos) s.repo_digests.push_back(repository + "@" + image.digest);
    s.size = static_cast<std::int64_t>(image.size);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

int cmd_ls(const Context& ctx, const LsOptions& opt) {
  std::optional<Format> format;
  if (!opt.format.empty()) {
    if (json_output(ctx)) {
      print_error("--format and --output json exclude each other");
      return k_exit_usage;
    }
    if (!opt.path.empty() || opt.images.given()) {
      print_error("--format applies to the daemon's image list only (hpn ls without -p or images)");
      return k_exit_usage;
    }
    format = parse_format(opt.format);
    if (!format) {
      print_error("--format '" + opt.format +
                  "' is not understood; use {{.Repository}}, {{.Tag}}, {{.ID}}, {{.FullID}}, {{.Size}} or {{.Digest}}");
      return k_exit_usage;
    }
  }
  if (!opt.path.empty()) return list_archives(ctx, opt.path, opt.recursive);
  const bool check_list = opt.images.given();
  std::optional<std::vector<image::Reference>> refs;
  if (check_list) {
    refs = read_images(opt.images);
    if (!refs) return k_exit_usage;
  }
  if (auto containerd = containerd_runtime(ctx)) {
    auto catalog = endpoint::make_catalog(*containerd, containerd_settings(ctx));
    if (!catalog) {
      print_error(catalog.error());
      return k_exit_failed;
    }
    if (check_list) {
      return list_presence(
          ctx,
          [&](const image::Reference& ref) -> Result<std::string> {
            auto image = (*catalog)->find(ref);
            if (!image) return image.error();
            return image->id.empty() ? image->digest : image->id;
          },
          *refs);
    }
    return list_images(ctx, containerd_summaries(**catalog), format);
  }
  auto client = connect_or_report(ctx);
  if (!client) return k_exit_failed;
  if (check_list) {
    return list_presence(
        ctx,
        [&](const image::Reference& ref) -> Result<std::string> {
          auto info = client->inspect_image(ops::local_name(ref));
          if (!info) return info.error();
          return info->id;
        },
        *refs);
  }
  return list_images(ctx, client->list_images(), format);
}

}  // namespace hpn::cli
