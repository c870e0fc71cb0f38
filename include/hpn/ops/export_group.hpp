// Small images saved several per daemon request (see archive/split.hpp): a group
// is exported once, by the first of its members to run, and every member then
// writes its own archive from that export.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "hpn/archive/split.hpp"
#include "hpn/image/reference.hpp"
#include "hpn/ops/batch.hpp"

namespace hpn::ops {

struct GroupLimits {
  std::uint64_t max_image = 1u << 20;        // larger images are exported alone
  std::uint64_t max_group_bytes = 4u << 20;  // sum of the members' sizes
  std::size_t members = 6;                   // aimed at per group
  std::size_t max_members = 8;
};

// Groups of the candidates, given their sizes in list order: each candidate lands in
// at most one group; groups have at least two members, and there are at least as
// many as `workers` when the candidates allow. In the order the batch starts them
// (largest first), members are dealt in waves of `workers` groups: first a wave's
// first members (one per group: workers taking the list in order each start a
// different group rather than wait for one), then the next wave's first members,
// then this wave's other members round-robin. About two waves are in memory at a
// time (and groups whose last members are still being written).
// Candidates larger than max_image stay out.
std::vector<std::vector<std::size_t>> plan_export_groups(const std::vector<std::uint64_t>& sizes,
                                                         std::size_t workers = 1, const GroupLimits& limits = {});

class ExportGroup {
 public:
  // `members` are the images of the group; `budget`: the most bytes the export
  // may take (held in memory until every member has its archive).
  ExportGroup(std::vector<image::Reference> members, std::uint64_t budget);

  // The group's export, made on the first call (through `conn`). An error means
  // the member should be exported on its own; `cancelled` means interrupted.
  // Each member asks once: when all have, the export is let go.
  Result<std::shared_ptr<const archive::MultiImageArchive>> acquire(StoreConnection& conn,
                                                                   const image::Reference& member);

 private:
  std::mutex mu_;
  std::vector<image::Reference> members_;
  std::vector<bool> served_;  // members that have asked
  std::uint64_t budget_;
  bool tried_ = false;
  std::shared_ptr<const archive::MultiImageArchive> archive_;
  std::optional<Error> error_;
};

}  // namespace hpn::ops
