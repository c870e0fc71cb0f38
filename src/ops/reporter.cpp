#include "hpn/ops/reporter.hpp"

#include <cinttypes>

namespace hpn::ops {

std::string human_bytes(std::uint64_t bytes) {
  char buf[32];
  const double b = static_cast<double>(bytes);
  if (bytes < 1000) std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
  else if (b < 1e6) std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  else if (b < 1e9) std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  return buf;
}

std::string human_duration(std::chrono::milliseconds d) {
  char buf[32];
  const double s = static_cast<double>(d.count()) / 1000.0;
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  return buf;
}

void PlainReporter::task_started(std::size_t, const std::string&) {}

void PlainReporter::task_retrying(const std::string& label, int attempt, std::chrono::milliseconds delay,
                                  const Error& error) {
  if (quiet_) return;
  std::fprintf(err_, "hpn: warning: %s: attempt %d failed (%s); retrying in %s\n", label.c_str(), attempt,
               error.describe().c_str(), human_duration(delay).c_str());
  std::fflush(err_);
}

void PlainReporter::task_finished(const TaskResult& r, std::size_t finished, std::size_t total) {
  if (r.state == TaskState::succeeded) {
    if (quiet_) return;
    std::string extra;
    if (r.outcome.bytes > 0) extra = human_bytes(r.outcome.bytes) + ", ";
    extra += human_duration(r.elapsed);
    if (r.attempts > 1) extra += ", " + std::to_string(r.attempts) + " attempts";
    std::fprintf(out_, "[%zu/%zu] \u2713 %s%s%s (%s)\n", finished, total, r.label.c_str(),
                 r.outcome.detail.empty() ? "" : " ", r.outcome.detail.c_str(), extra.c_str());
    std::fflush(out_);
  } else {
    std::fprintf(out_, "[%zu/%zu] \u2717 %s: %s\n", finished, total, r.label.c_str(),
                 r.error ? r.error->describe().c_str() : "failed");
    std::fflush(out_);
  }
}

void PlainReporter::batch_finished(const std::vector<TaskResult>& results, std::chrono::milliseconds wall,
                                   bool interrupted) {
  std::size_t ok = 0, failed = 0, skipped = 0, unchanged = 0;
  std::uint64_t bytes = 0;
  for (const auto& r : results) {
    if (r.state == TaskState::succeeded) {
      ++ok;
      unchanged += r.outcome.unchanged ? 1 : 0;
      bytes += r.outcome.bytes;
    } else if (r.state == TaskState::failed) {
      ++failed;
    } else {
      ++skipped;
    }
  }
  std::fprintf(out_, "Summary: %zu successful, %zu failed", ok, failed);
  if (skipped > 0) std::fprintf(out_, ", %zu not started", skipped);
  if (unchanged > 0) std::fprintf(out_, " (%zu unchanged)", unchanged);
  std::fprintf(out_, " of %zu %s; %s in %s", results.size(), noun_.c_str(), human_bytes(bytes).c_str(),
               human_duration(wall).c_str());
  if (wall.count() > 0 && bytes > 0) {
    std::fprintf(out_, " (%s/s)", human_bytes(static_cast<std::uint64_t>(static_cast<double>(bytes) * 1000.0 /
                                                                          static_cast<double>(wall.count())))
                                      .c_str());
  }
  std::fprintf(out_, "\n");
  if (failed > 0) {
    std::fprintf(out_, "Failed:\n");
    for (const auto& r : results) {
      if (r.state == TaskState::failed) {
        std::fprintf(out_, "  %s: %s\n", r.label.c_str(), r.error ? r.error->describe().c_str() : "failed");
      }
    }
  }
  if (interrupted) {
    std::fprintf(out_, "Interrupted: %zu %s not started\n", skipped, noun_.c_str());
  }
  std::fflush(out_);
}

int batch_exit_code(const std::vector<TaskResult>& results, bool interrupted) {
  if (interrupted) return 130;
  for (const auto& r : results) {
    if (r.state != TaskState::succeeded) return 1;
  }
  return 0;
}

}  // namespace hpn::ops
