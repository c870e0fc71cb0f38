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
  // In waves of one group per worker: a wave's members are dealt round-robin over
  // the next stretch of the list, so its first members (which export the groups)
  // start together and the rest follow before the next wave. Dealing the whole list
  // round-robin would export every group before writing any follower, holding all
  // the small images in memory at once.
  const std::size_t wave = std::clamp<std::size_t>(workers, 1, groups);
  std::vector<std::vector<std::size_t>> out(groups);
  std::size_t k = 0;
  for (std::size_t first = 0; first < groups; first += wave) {
    const std::size_t last = std::min(groups, first + wave);
    for (bool dealt = true; dealt;) {
      dealt = false;
      for (std::size_t g = first; g < last; ++g) {
        if (out[g].size() < want[g]) {
          out[g].push_back(order[k++]);
          dealt = true;
        }
      }
    }
  }
  return out;
}

ExportGroup::ExportGroup(std::vector<image::Reference> members, std::uint64_t budget)
    : members_(std::move(members)), served_(members_.size(), false), budget_(budget) {}

Result<std::shared_ptr<const archive::MultiImageArchive>> ExportGroup::acquire(engine::Client& client,
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
    auto n = client.save(names, [&](std::string_view chunk) -> Status {
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
