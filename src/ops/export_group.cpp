#include "hpn/ops/export_group.hpp"

#include <algorithm>
#include <numeric>

#include "hpn/ops/operations.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/util/log.hpp"

namespace hpn::ops {

std::vector<std::vector<std::size_t>> plan_export_groups(const std::vector<std::uint64_t>& sizes,
                                                         std::size_t workers, const GroupLimits& limits) {
  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] <= limits.max_image) order.push_back(i);
  }
  // The batch starts the largest first (a stable sort): deal in that order.
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
  const std::size_t n = order.size();
  if (n < 2) return {};
  const std::uint64_t total = std::accumulate(order.begin(), order.end(), std::uint64_t{0},
                                              [&](std::uint64_t s, std::size_t i) { return s + sizes[i]; });
  const std::size_t per = std::clamp<std::size_t>(limits.members, 2, std::max<std::size_t>(2, limits.max_members));
  std::size_t groups = std::max<std::size_t>((n + per - 1) / per,
                                             static_cast<std::size_t>((total + limits.max_group_bytes - 1) /
                                                                      std::max<std::uint64_t>(1, limits.max_group_bytes)));
  groups = std::clamp<std::size_t>(std::max(groups, workers), 1, n / 2);
  std::vector<std::size_t> want(groups, n / groups);
  for (std::size_t g = 0; g < n % groups; ++g) ++want[g];
  // In waves of one group per worker: a wave's first members (which export its
  // groups) start together, and its other members follow the next wave's first
  // members. So the workers start the next wave's exports as they finish, the
  // daemon never waits for the slowest export of a wave, and the followers, written
  // from memory, come when their export is long done. About two waves (two groups
  // per worker) are held in memory at a time; dealing the whole list round-robin
  // would hold every small image at once.
  const std::size_t wave = std::clamp<std::size_t>(workers, 1, groups);
  const std::size_t waves = (groups + wave - 1) / wave;
  std::vector<std::vector<std::size_t>> out(groups);
  std::size_t k = 0;
  auto deal_firsts = [&](std::size_t w) {
    for (std::size_t g = w * wave; g < std::min(groups, (w + 1) * wave); ++g) out[g].push_back(order[k++]);
  };
  auto deal_followers = [&](std::size_t w) {
    for (bool dealt = true; dealt;) {
      dealt = false;
      for (std::size_t g = w * wave; g < std::min(groups, (w + 1) * wave); ++g) {
        if (out[g].size() < want[g]) {
          out[g].push_back(order[k++]);
          dealt = true;
        }
      }
    }
  };
  // One worker writes the followers between exports whatever the order.
  const bool ahead = workers > 1;
  if (ahead) deal_firsts(0);
  for (std::size_t w = 0; w < waves; ++w) {
    if (!ahead) deal_firsts(w);
    if (ahead && w + 1 < waves) deal_firsts(w + 1);
    deal_followers(w);
  }
  return out;
}

ExportGroup::ExportGroup(std::vector<image::Reference> members, std::uint64_t budget)
    : members_(std::move(members)), served_(members_.size(), false), budget_(budget) {}

Result<std::shared_ptr<const archive::MultiImageArchive>> ExportGroup::acquire(StoreConnection& conn,
                                                                              const image::Reference& member) {
  std::lock_guard lock(mu_);
  const auto want = member.canonical();
  const auto it = std::find_if(members_.begin(), members_.end(),
                               [&](const image::Reference& r) { return r.canonical() == want; });
  const auto k = static_cast<std::size_t>(it - members_.begin());
  if (it == members_.end() || served_[k]) {
    return Error(ErrorKind::invalid_argument, member.original + " has no archive waiting in its group");
  }
  served_[k] = true;
  if (!tried_) {
    tried_ = true;
    std::vector<std::string> names;
    for (const auto& r : members_) names.push_back(local_name(r));
    std::string bytes;
    bool over = false;
    auto n = conn.export_images(names, {}, [&](std::string_view chunk) -> Status {
      if (bytes.size() + chunk.size() > budget_) {
        over = true;
        return Error(ErrorKind::protocol, "the export outgrew its budget");
      }
      bytes.append(chunk);
      return {};
    });
    if (!n) {
      error_ = over ? Error(ErrorKind::protocol, "the export of " + std::to_string(names.size()) +
                                                   " small images outgrew " + human_bytes(budget_))
                    : n.error();
    } else if (auto a = archive::MultiImageArchive::parse(std::move(bytes)); !a) {
      error_ = a.error();
    } else {
      archive_ = std::make_shared<const archive::MultiImageArchive>(std::move(*a));
    }
    if (error_ && error_->kind != ErrorKind::cancelled) {
      hpn::log::get("ops").debug("exporting {} images in one request failed ({}); each is exported alone",
                                 names.size(), error_->describe());
    }
  }
  Result<std::shared_ptr<const archive::MultiImageArchive>> out =
      archive_ ? Result<std::shared_ptr<const archive::MultiImageArchive>>(archive_)
               : Result<std::shared_ptr<const archive::MultiImageArchive>>(*error_);
  if (std::find(served_.begin(), served_.end(), false) == served_.end()) {
    archive_.reset();  // every member has asked; those still writing hold their own reference
  }
  return out;
}

}  // namespace hpn::ops
