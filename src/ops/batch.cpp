#include "hpn/ops/batch.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <numeric>
#include <optional>
#include <random>
#include <thread>

#include "hpn/util/log.hpp"

namespace hpn::ops {
namespace {

using Clock = std::chrono::steady_clock;

bool interrupted(const BatchOptions& o) {
  return o.interrupt != nullptr && o.interrupt->load(std::memory_order_relaxed);
}

// Sleep up to `d`, waking early on interrupt.
void interruptible_sleep(std::chrono::milliseconds d, const BatchOptions& o) {
  const auto end = Clock::now() + d;
  while (Clock::now() < end && !interrupted(o)) {
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(50), end - Clock::now()));
  }
}

// How many worker threads run `jobs` with `workers` asked for.
int worker_threads(int workers, std::size_t jobs) { return std::max(1, std::min<int>(workers, static_cast<int>(jobs))); }

// Run `body` on worker_threads() threads, each with its own conn (connection)
// and its number (0-based), and wait for them.
void on_workers(const Opener<WorkerConnection>& open, int workers, std::size_t jobs, const BatchOptions& o,
                const std::function<void(WorkerConnection&, int)>& body) {
  const int n = worker_threads(workers, jobs);
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int w = 0; w < n; ++w) {
    threads.emplace_back([&, w] {
      const std::unique_ptr<WorkerConnection> conn = open();
      conn->watch(o.interrupt);
      body(*conn, w);
    });
  }
  for (auto& t : threads) t.join();
}

// Run `fn(worker_connection, index)` over `indices` in order.
void parallel_over(const Opener<WorkerConnection>& store, const std::vector<std::size_t>& indices, int workers,
                   const BatchOptions& o, const std::function<void(WorkerConnection&, std::size_t)>& fn) {
  std::atomic<std::size_t> next{0};
  on_workers(store, workers, indices.size(), o, [&](WorkerConnection& conn, int) {
    for (std::size_t i; (i = next.fetch_add(1)) < indices.size();) fn(conn, indices[i]);
  });
}

// Phase 2's scheduler: `queue` is in start order (largest first). A worker takes
// the front, unless it is heavy and `heavy_limit` heavy tasks are running: then it
// takes the smallest (the back) if that one is light, or waits for a heavy one to end.
void parallel_scheduled(const Opener<WorkerConnection>& store, std::deque<std::size_t> queue, int workers,
                        const BatchOptions& o, const std::function<bool(std::size_t)>& heavy,
                        const std::function<void(WorkerConnection&, std::size_t)>& fn) {
  std::mutex mu;
  std::condition_variable heavy_done;
  int heavy_running = 0;
  const int limit = o.heavy_limit;
  struct Pick {
    std::size_t index;
    bool heavy;
  };
  auto take = [&]() -> std::optional<Pick> {
    std::unique_lock lock(mu);
    for (;;) {
      if (queue.empty() || interrupted(o)) return std::nullopt;
      const std::size_t front = queue.front();
      const bool front_heavy = limit > 0 && heavy(front);
      if (!front_heavy || heavy_running < limit) {
        queue.pop_front();
        if (front_heavy) ++heavy_running;
        return Pick{front, front_heavy};
      }
      if (const std::size_t back = queue.back(); !heavy(back)) {
        queue.pop_back();
        return Pick{back, false};
      }
      heavy_done.wait_for(lock, std::chrono::milliseconds(50));  // also notices an interrupt
    }
  };
  const std::size_t jobs = queue.size();
  const int n = worker_threads(workers, jobs);
  // Spaced starts: worker w takes its first task w * spacing after worker 0, the
  // last one within k_max_start_spread.
  const auto spacing = n > 1 ? std::min(o.start_spacing, BatchOptions::k_max_start_spread / (n - 1))
                             : std::chrono::milliseconds(0);
  on_workers(store, workers, jobs, o, [&](WorkerConnection& conn, int w) {
    if (spacing.count() > 0 && w > 0) interruptible_sleep(spacing * w, o);
    while (auto pick = take()) {
      fn(conn, pick->index);
      if (pick->heavy) {
        std::lock_guard lock(mu);
        --heavy_running;
        heavy_done.notify_all();
      }
    }
  });
}

}  // namespace

std::vector<TaskResult> run_tasks(const Opener<WorkerConnection>& store, std::vector<BasicTask<WorkerConnection>> tasks,
                                  const BatchOptions& o, Reporter& reporter) {
  const auto start = Clock::now();
  std::vector<TaskResult> results(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    results[i].index = i;
    results[i].label = tasks[i].label;
  }
  std::vector<bool> done(tasks.size(), false);
  std::mutex mu;
  std::size_t finished = 0;
  // Archives the tasks leave uncommitted are synced in groups; the thread starts
  // with the first one.
  util::GroupCommit commits;

  auto finish = [&](std::size_t i, TaskResult r) {
    std::lock_guard lock(mu);
    r.index = i;
    results[i] = std::move(r);
    done[i] = true;
    ++finished;
    reporter.task_finished(results[i], finished, tasks.size());
  };

  std::vector<std::size_t> order(tasks.size());
  std::iota(order.begin(), order.end(), 0);

  // Phase 1: learn sizes (and fail early what cannot run).
  const bool any_prepare = std::any_of(tasks.begin(), tasks.end(), [](const BasicTask<WorkerConnection>& t) { return bool(t.prepare); });
  if (any_prepare) {
    parallel_over(store, order, o.workers, o, [&](WorkerConnection& conn, std::size_t i) {
      if (!tasks[i].prepare || interrupted(o)) return;
      auto t0 = Clock::now();
      auto size = tasks[i].prepare(conn);
      if (size) {
        tasks[i].size_hint = *size;
        return;
      }
      TaskResult r;
      r.label = tasks[i].label;
      r.state = size.error().kind == ErrorKind::cancelled ? TaskState::skipped : TaskState::failed;
      r.error = size.error();
      r.attempts = 1;
      r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
      if (r.state == TaskState::failed) {
        // Reported once the batch has started (after batch_started), in list order.
        std::lock_guard lock(mu);
        r.index = i;
        results[i] = std::move(r);
        done[i] = true;
      }
    });
  }

  std::vector<std::size_t> pending;
  for (std::size_t i : order) {
    if (!done[i]) pending.push_back(i);
  }
  {
    std::vector<std::string> labels;
    std::vector<std::uint64_t> sizes;
    for (const auto& t : tasks) {
      labels.push_back(t.label);
      sizes.push_back(t.size_hint);
    }
    std::lock_guard lock(mu);
    reporter.batch_started(labels, sizes);
    for (std::size_t i = 0; i < tasks.size(); ++i) {
      if (done[i]) reporter.task_finished(results[i], ++finished, tasks.size());
    }
  }
  if (o.largest_first) {
    std::stable_sort(pending.begin(), pending.end(),
                     [&](std::size_t a, std::size_t b) { return tasks[a].size_hint > tasks[b].size_hint; });
  }

  // Phase 2: run.
  const auto heavy = [&](std::size_t i) { return tasks[i].size_hint >= o.heavy_bytes; };
  parallel_scheduled(store, {pending.begin(), pending.end()}, o.workers, o, heavy,
                     [&](WorkerConnection& conn, std::size_t i) {
    auto& task = tasks[i];
    if (interrupted(o)) return;  // left as skipped
    {
      std::lock_guard lock(mu);
      reporter.task_started(i, task.label, task.size_hint);
    }
    std::string last_phase;
    auto last_report = Clock::time_point{};
    const ProgressFn progress = [&](std::string_view phase, std::uint64_t done_bytes, std::uint64_t total) {
      const auto now = Clock::now();
      if (phase == last_phase && now - last_report < std::chrono::milliseconds(100)) return;
      last_phase.assign(phase);
      last_report = now;
      std::lock_guard lock(mu);
      reporter.task_progress(i, phase, done_bytes, total);
    };
    std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(task.label)) ^
                     static_cast<unsigned>(Clock::now().time_since_epoch().count()));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    TaskResult r;
    r.label = task.label;
    const auto t0 = Clock::now();
    std::shared_ptr<util::PendingGroup> uncommitted;
    for (int attempt = 1;; ++attempt) {
      r.attempts = attempt;
      if (o.operation_timeout.count() > 0) {
        conn.set_deadline(Clock::now() + o.operation_timeout,
                                         "runtime.timeout (" + std::to_string(o.operation_timeout.count()) + " ms)");
      }
      auto outcome = task.run(conn, progress);
      conn.set_deadline(std::nullopt, {});
      if (outcome) {
        r.state = TaskState::succeeded;
        uncommitted = std::exchange(outcome->uncommitted, nullptr);
        r.outcome = std::move(*outcome);
        r.error.reset();
        break;
      }
      r.error = outcome.error();
      if (task.on_failure) task.on_failure();
      if (outcome.error().kind == ErrorKind::cancelled || interrupted(o)) {
        r.state = TaskState::failed;
        r.error = Error(ErrorKind::cancelled, "interrupted");
        break;
      }
      if (!is_transient(outcome.error().kind) || attempt >= o.retry.max_attempts) {
        r.state = TaskState::failed;
        break;
      }
      auto delay = util::backoff_delay(o.retry, attempt, unit(rng));
      // A daemon that cannot be reached is either restarting or gone: retry it, but
      // briefly, so that a dead daemon fails the batch within seconds.
      if (outcome.error().kind == ErrorKind::daemon_unreachable) {
        delay = std::min(delay, std::chrono::milliseconds(1000));
      }
      hpn::log::get("ops").info("{}: attempt {} failed ({}); retrying in {} ms", task.label, attempt,
                                outcome.error().describe(), delay.count());
      {
        std::lock_guard lock(mu);
        reporter.task_retrying(i, task.label, attempt, delay, outcome.error());
      }
      interruptible_sleep(delay, o);
      if (interrupted(o)) {
        r.state = TaskState::failed;
        r.error = Error(ErrorKind::cancelled, "interrupted");
        break;
      }
    }
    if (uncommitted) {
      // Reported once the files have their final names; the worker goes on.
      commits.submit(std::move(*uncommitted), [&finish, i, t0, r](Status st) mutable {
        if (!st) {
          r.state = TaskState::failed;
          r.error = st.error();
        }
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
        finish(i, std::move(r));
      });
      return;
    }
    r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    finish(i, std::move(r));
  });
  commits.drain();

  const bool was_interrupted = interrupted(o);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (!done[i]) {
      results[i].state = TaskState::skipped;
      results[i].error = Error(ErrorKind::cancelled, "not started (interrupted)");
    }
  }
  reporter.batch_finished(results, std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start),
                          was_interrupted);
  return results;
}

}  // namespace hpn::ops
