// Items of one task worked on a few lanes side by side: lane 0 on the calling
// thread, the others on threads of their own, each lane with its own connections
// and its own tally. No item starts after a failure; the first failure is returned.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "hpn/util/result.hpp"

namespace hpn::util {

// Runs work(k, lane, tally) for k = 0..count-1 on up to `max_lanes` lanes.
// `open(i)` gives lane i; all lanes are opened here, before any thread starts.
// Each lane's tally is added to `tally` (Tally::add) at its end.
template <class Lane, class Tally>
Status run_in_lanes(std::size_t count, std::size_t max_lanes, const std::function<Lane(std::size_t)>& open,
                    const std::function<Status(std::size_t, Lane&, Tally&)>& work, Tally& tally) {
  const std::size_t n = std::min(count, max_lanes);
  std::vector<Lane> lanes;
  for (std::size_t i = 0; i < n; ++i) lanes.push_back(open(i));
  std::mutex mu;
  std::optional<Error> failed;
  std::atomic<std::size_t> next{0};
  auto run_lane = [&](std::size_t lane_no) {
    Tally mine;
    for (std::size_t k; (k = next.fetch_add(1)) < count;) {
      {
        std::lock_guard lock(mu);
        if (failed) break;
      }
      if (auto st = work(k, lanes[lane_no], mine); !st) {
        std::lock_guard lock(mu);
        if (!failed) failed = st.error();
        break;
      }
    }
    std::lock_guard lock(mu);
    tally.add(mine);
  };
  {
    std::vector<std::jthread> helpers;
    for (std::size_t i = 1; i < n; ++i) helpers.emplace_back(run_lane, i);
    if (n > 0) run_lane(0);
  }
  if (failed) return *failed;
  return {};
}

}  // namespace hpn::util
