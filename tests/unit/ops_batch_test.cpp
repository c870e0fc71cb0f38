// The batch scheduler with tasks that do not touch any store.
#include "hpn/ops/batch.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <unistd.h>

#include <gtest/gtest.h>

namespace {

using namespace std::chrono_literals;

class Quiet final : public hpn::ops::Reporter {
 public:
  void batch_started(const std::vector<std::string>&, const std::vector<std::uint64_t>&) override {}
  void task_started(std::size_t index, const std::string&, std::uint64_t) override {
    std::lock_guard lock(mu);
    started.push_back(index);
  }
  void task_progress(std::size_t, std::string_view, std::uint64_t, std::uint64_t) override {}
  void task_retrying(std::size_t, const std::string&, int, std::chrono::milliseconds, const hpn::Error&) override {}
  void task_finished(const hpn::ops::TaskResult&, std::size_t, std::size_t) override {}
  void batch_finished(const std::vector<hpn::ops::TaskResult>&, std::chrono::milliseconds, bool) override {}
  std::mutex mu;
  std::vector<std::size_t> started;
};

// A store whose connections do nothing: the tasks here never ask it anything.
class IdleStore final : public hpn::ops::ImageStore {
 public:
  class Idle final : public hpn::ops::StoreConnection {
   public:
    void watch(const std::atomic<bool>*) override {}
    void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}
    hpn::Result<hpn::ops::StoredImage> inspect(const std::string&) override { return unused(); }
    hpn::Result<std::uint64_t> export_images(std::span<const std::string>, const std::string&,
                                             const hpn::engine::Sink&) override {
      return unused();
    }

   private:
    static hpn::Error unused() { return hpn::Error(hpn::ErrorKind::unsupported, "not used by these tests"); }
  };
  const hpn::ops::StoreTraits& traits() const override { return traits_; }
  std::unique_ptr<hpn::ops::StoreConnection> open() const override { return std::make_unique<Idle>(); }
  hpn::ops::SizeIndex sizes(const std::vector<hpn::image::Reference>&, std::size_t) const override { return {}; }
  hpn::Status check_platform(const std::string&, std::string_view) const override { return {}; }
  std::shared_ptr<const hpn::registry::TagResolver> resolve_ahead(const std::vector<hpn::image::Reference>&,
                                                                std::size_t) const override {
    return nullptr;
  }

 private:
  hpn::ops::StoreTraits traits_;
};

const IdleStore k_store;

struct Concurrency {
  std::atomic<int> heavy{0}, all{0}, max_heavy{0}, max_all{0};
  static void raise(std::atomic<int>& max, int v) {
    for (int m = max.load(); v > m && !max.compare_exchange_weak(m, v);) {
    }
  }
};

hpn::ops::Task sleeper(const std::string& label, std::uint64_t size, bool heavy, Concurrency& c) {
  hpn::ops::Task t;
  t.label = label;
  t.size_hint = size;
  t.run = [&c, heavy](hpn::ops::StoreConnection&, const hpn::ops::ProgressFn&) -> hpn::Result<hpn::ops::Outcome> {
    if (heavy) Concurrency::raise(c.max_heavy, ++c.heavy);
    Concurrency::raise(c.max_all, ++c.all);
    std::this_thread::sleep_for(150ms);  // long beside a thread start, even under a sanitizer
    --c.all;
    if (heavy) --c.heavy;
    return hpn::ops::Outcome{};
  };
  return t;
}

}  // namespace

TEST(Batch, HeavyTasksRunAtMostTheLimitWhileLightOnesFillTheOtherWorkers) {
  Concurrency c;
  std::vector<hpn::ops::Task> tasks;
  for (int i = 0; i < 4; ++i) tasks.push_back(sleeper("big" + std::to_string(i), (100 + i) << 20, true, c));
  for (int i = 0; i < 6; ++i) tasks.push_back(sleeper("small" + std::to_string(i), 1 << 20, false, c));
  hpn::ops::BatchOptions o;
  o.workers = 4;
  o.heavy_limit = 2;
  o.heavy_bytes = 16 << 20;
  Quiet r;
  auto results = hpn::ops::run_batch(k_store, std::move(tasks), o, r);
  for (const auto& res : results) EXPECT_EQ(res.state, hpn::ops::TaskState::succeeded) << res.label;
  EXPECT_EQ(c.max_heavy.load(), 2);
  EXPECT_EQ(c.max_all.load(), 4);  // the two free workers took small images meanwhile
  // The largest start first. The workers report their starts concurrently, so a
  // small image taken at the same moment may be reported in between: compare the
  // order of the large ones only.
  std::vector<std::size_t> big_order;
  for (auto i : r.started) {
    if (i < 4) big_order.push_back(i);
  }
  ASSERT_EQ(big_order.size(), 4u);
  EXPECT_TRUE((big_order[0] == 3 && big_order[1] == 2) || (big_order[0] == 2 && big_order[1] == 3));
}

TEST(Batch, WithoutALimitEveryWorkerTakesTheLargestLeft) {
  Concurrency c;
  std::vector<hpn::ops::Task> tasks;
  for (int i = 0; i < 4; ++i) tasks.push_back(sleeper("big" + std::to_string(i), (100 + i) << 20, true, c));
  // Each task holds its worker until all four run at once (or 5 s pass), so a slow
  // thread start (as under a sanitizer) cannot let one task end before the last begins.
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0, running = 0;
  for (auto& t : tasks) {
    t.run = [&](hpn::ops::StoreConnection&, const hpn::ops::ProgressFn&) -> hpn::Result<hpn::ops::Outcome> {
      std::unique_lock lock(mu);
      ++arrived;
      Concurrency::raise(c.max_heavy, ++running);
      cv.notify_all();
      cv.wait_for(lock, 5s, [&] { return arrived >= 4; });
      --running;
      return hpn::ops::Outcome{};
    };
  }
  hpn::ops::BatchOptions o;
  o.workers = 4;
  Quiet r;
  auto results = hpn::ops::run_batch(k_store, std::move(tasks), o, r);
  for (const auto& res : results) EXPECT_EQ(res.state, hpn::ops::TaskState::succeeded) << res.label;
  EXPECT_EQ(c.max_heavy.load(), 4);
}

TEST(Batch, OnlyHeavyTasksLeftWaitForAFreeSlot) {
  Concurrency c;
  std::vector<hpn::ops::Task> tasks;
  for (int i = 0; i < 5; ++i) tasks.push_back(sleeper("big" + std::to_string(i), 100 << 20, true, c));
  hpn::ops::BatchOptions o;
  o.workers = 4;
  o.heavy_limit = 1;
  Quiet r;
  auto results = hpn::ops::run_batch(k_store, std::move(tasks), o, r);
  for (const auto& res : results) EXPECT_EQ(res.state, hpn::ops::TaskState::succeeded) << res.label;
  EXPECT_EQ(c.max_heavy.load(), 1);
}

TEST(Batch, UncommittedFilesAreReportedOnceTheyHaveTheirNames) {
  // A task that leaves its archive to the batch's group commit.
  const auto dir = std::filesystem::temp_directory_path() / ("hpn-batch-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  hpn::ops::Task t;
  t.label = "one";
  t.run = [&](hpn::ops::StoreConnection&, const hpn::ops::ProgressFn&) -> hpn::Result<hpn::ops::Outcome> {
    auto f = hpn::util::AtomicFile::create(dir / "one.tar");
    if (!f) return f.error();
    if (auto st = f->write("bytes"); !st) return st.error();
    hpn::ops::Outcome o;
    o.uncommitted = std::make_shared<hpn::util::PendingGroup>();
    o.uncommitted->files.push_back(std::move(*f));
    o.uncommitted->small_files.emplace_back(dir / "one.tar.sha256", "digest");
    return o;
  };
  std::vector<hpn::ops::Task> tasks;
  tasks.push_back(std::move(t));
  Quiet r;
  auto results = hpn::ops::run_batch(k_store, std::move(tasks), {}, r);
  EXPECT_EQ(results[0].state, hpn::ops::TaskState::succeeded);
  EXPECT_TRUE(std::filesystem::exists(dir / "one.tar"));
  EXPECT_TRUE(std::filesystem::exists(dir / "one.tar.sha256"));
  EXPECT_FALSE(std::filesystem::exists(dir / "one.tar.part"));
  std::filesystem::remove_all(dir);
}

TEST(Batch, SpacedStartsGiveEachWorkerItsFirstTaskApartAndTheRestAtOnce) {
  using Clock = std::chrono::steady_clock;
  std::mutex mu;
  std::vector<Clock::time_point> starts;
  std::chrono::milliseconds duration = 300ms;  // longer than the spread: every worker takes one
  auto timed = [&](const std::string& label) {
    hpn::ops::Task t;
    t.label = label;
    t.run = [&](hpn::ops::StoreConnection&, const hpn::ops::ProgressFn&) -> hpn::Result<hpn::ops::Outcome> {
      {
        std::lock_guard lock(mu);
        starts.push_back(Clock::now());
      }
      std::this_thread::sleep_for(duration);
      return hpn::ops::Outcome{};
    };
    return t;
  };
  auto run = [&](std::chrono::milliseconds spacing, int workers, int tasks) {
    starts.clear();
    std::vector<hpn::ops::Task> v;
    for (int i = 0; i < tasks; ++i) v.push_back(timed("t" + std::to_string(i)));
    hpn::ops::BatchOptions o;
    o.workers = workers;
    o.start_spacing = spacing;
    Quiet q;
    const auto t0 = Clock::now();
    auto results = hpn::ops::run_batch(k_store, std::move(v), o, q);
    for (const auto& r : results) EXPECT_EQ(r.state, hpn::ops::TaskState::succeeded);
    std::vector<long> ms;
    for (auto s : starts) ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(s - t0).count());
    std::sort(ms.begin(), ms.end());
    return ms;
  };
  // The lower bounds are what the spacing guarantees; the upper ones only tell the
  // design from a wrong one (twice the spacing, no cap, spacing where none was
  // asked), with room for a loaded machine.
  // Four workers 100 ms apart: first tasks at about 0, 100, 200 and 300 ms.
  auto ms = run(100ms, 4, 4);
  ASSERT_EQ(ms.size(), 4u);
  for (int w = 1; w < 4; ++w) {
    EXPECT_GE(ms[static_cast<std::size_t>(w)] - ms[0], 100 * w - 5) << w;
    EXPECT_LT(ms[static_cast<std::size_t>(w)] - ms[0], 150 * w + 50) << w;
  }
  // Eight workers: the spread is capped (400 ms, so 57 ms apart) instead of 700 ms.
  duration = 600ms;
  ms = run(100ms, 8, 8);
  ASSERT_EQ(ms.size(), 8u);
  EXPECT_GE(ms[7] - ms[0], 395);
  EXPECT_LT(ms[7] - ms[0], 650);
  // No spacing: all at once, long before the first task (300 ms) ends.
  duration = 300ms;
  ms = run(0ms, 4, 4);
  ASSERT_EQ(ms.size(), 4u);
  EXPECT_LT(ms[3] - ms[0], 250);
}
