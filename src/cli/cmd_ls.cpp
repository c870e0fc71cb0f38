// hpn ls: images in the daemon, archives in a directory, or which listed images
// are present (exit 1 if any is missing).
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "hpn/archive/archive_info.hpp"
#include "hpn/archive/paths.hpp"
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/reporter.hpp"

namespace hpn::cli {
namespace {

std::string short_id(const std::string& id) {
  std::string s = id.rfind("sha256:", 0) == 0 ? id.substr(7) : id;
  return s.substr(0, 12);
}

// Each archive with its compression, size and checksum status, then the images in it
// (tags and image ID from manifest.json). Exit 1 when an archive is unreadable or
// does not match its checksum.
int list_archives(const std::string& dir, bool recursive) {
  auto files = archive::find_archives({dir}, recursive);
  if (!files) {
    print_error(files.error());
    return k_exit_usage;
  }
  int rc = k_exit_ok;
  std::printf("%-50s %-5s %10s %-9s %s\n", "ARCHIVE", "COMP", "SIZE", "CHECKSUM", "IMAGES");
  for (const auto& f : *files) {
    auto check = archive::verify_sidecar(f);
    const std::string sum = check ? std::string(archive::to_string(*check)) : "error";
    if (!check || *check == archive::Checksum::mismatch) rc = k_exit_failed;
    auto info = archive::read_archive_info(f);
    if (!info) {
      std::error_code ec;
      std::printf("%-50s %-5s %10s %-9s unreadable: %s\n", f.c_str(), "?",
                  ops::human_bytes(std::filesystem::file_size(f, ec)).c_str(), sum.c_str(), info.error().message.c_str());
      rc = k_exit_failed;
      continue;
    }
    std::string images;
    for (const auto& img : info->images) {
      std::string tags;
      for (const auto& t : img.repo_tags) tags += (tags.empty() ? "" : ",") + t;
      images += (images.empty() ? "" : "; ") + (tags.empty() ? std::string("<untagged>") : tags) + " " +
                short_id(img.image_id);
    }
    std::printf("%-50s %-5s %10s %-9s %s\n", f.c_str(), std::string(archive::to_string(info->compression)).c_str(),
                ops::human_bytes(info->file_size).c_str(), sum.c_str(), images.c_str());
  }
  return rc;
}

}  // namespace

int cmd_ls(Context& ctx) {
  if (!ctx.opt.path.empty()) {
    return list_archives(ctx.opt.path, ctx.opt.recursive);
  }
  const bool check_list = !ctx.opt.list_file.empty() || !ctx.opt.positional.empty();
  std::optional<std::vector<image::Reference>> refs;
  if (check_list) {
    refs = read_images(ctx);
    if (!refs) return k_exit_usage;
  }
  auto client = connect_or_report(ctx);
  if (!client) return k_exit_failed;
  if (!check_list) {
    auto images = client->list_images();
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
    std::printf("%-60s %-12s %10s\n", "IMAGE", "ID", "SIZE");
    for (const auto& [name, img] : rows) {
      std::printf("%-60s %-12s %10s\n", name.c_str(), short_id(img->id).c_str(),
                  ops::human_bytes(static_cast<std::uint64_t>(std::max<std::int64_t>(0, img->size))).c_str());
    }
    return k_exit_ok;
  }
  std::size_t missing = 0;
  for (const auto& ref : *refs) {
    auto info = client->inspect_image(ops::local_name(ref));
    if (info) {
      std::printf("present  %-50s %s\n", ref.original.c_str(), short_id(info->id).c_str());
    } else if (info.error().kind == ErrorKind::not_found) {
      ++missing;
      std::printf("missing  %s\n", ref.original.c_str());
    } else {
      print_error(info.error());
      return k_exit_failed;
    }
  }
  std::printf("%zu present, %zu missing of %zu\n", refs->size() - missing, missing, refs->size());
  return missing == 0 ? k_exit_ok : k_exit_failed;
}

}  // namespace hpn::cli
