// What the user sees of a batch, through the reporter's injectable streams: plain
// lines for logs, the live area on a terminal, JSON events for scripts.
#include "hpn/ops/reporter.hpp"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace {

using namespace std::chrono_literals;
using hpn::ops::TaskResult;
using hpn::ops::TaskState;

// A stream in memory: what the reporter wrote, once closed.
class Captured {
 public:
  Captured() : file_(open_memstream(&data_, &size_)) {}
  ~Captured() {
    if (file_ != nullptr) std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() const { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

// A save of `label` into `path` ("" = a result with nothing to say).
TaskResult succeeded(std::size_t index, const std::string& label, std::uint64_t bytes, const std::string& path) {
  TaskResult r;
  r.index = index;
  r.label = label;
  r.state = TaskState::succeeded;
  r.outcome.bytes = bytes;
  if (!path.empty()) r.outcome.result = hpn::ops::WrittenArchive{.path = path, .tar_bytes = bytes};
  r.attempts = 1;
  r.elapsed = 1500ms;
  return r;
}

TaskResult failed(std::size_t index, const std::string& label, const std::string& why) {
  TaskResult r;
  r.index = index;
  r.label = label;
  r.state = TaskState::failed;
  r.error = hpn::Error(hpn::ErrorKind::not_found, why);
  r.attempts = 3;
  return r;
}

// One image saved, one failed after retries.
void run_two(hpn::ops::Reporter& r) {
  r.batch_started({"alpine:3", "missing:1"}, {2000000u, 0});
  r.task_started(0, "alpine:3", 2000000u);
  r.task_progress(0, "saving", 1000000u, 2000000u);
  r.task_started(1, "missing:1", 0);
  r.task_retrying(1, "missing:1", 1, 1000ms, hpn::Error(hpn::ErrorKind::registry_unavailable, "503 from the registry"));
  r.task_finished(succeeded(0, "alpine:3", 2000000u, "images/alpine_3.tar"), 1, 2);
  r.task_finished(failed(1, "missing:1", "not in the daemon; pull it first"), 2, 2);
  r.batch_finished({succeeded(0, "alpine:3", 2000000u, "images/alpine_3.tar"),
                    failed(1, "missing:1", "not in the daemon; pull it first")},
                   2000ms, false);
}

hpn::ops::ReporterOptions options(Captured& out, Captured& err) {
  hpn::ops::ReporterOptions o;
  o.out = out.file();
  o.err = err.file();
  o.color = false;
  return o;
}

}  // namespace

TEST(Reporter, PlainModeWritesOneLineAStepAndTheSummary) {
  Captured out, err;
  auto o = options(out, err);
  o.progress = hpn::ops::ProgressMode::never;
  run_two(*hpn::ops::make_reporter(o));
  const std::string text = out.text();
  EXPECT_NE(text.find("start alpine:3 (2.0 MB)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[1/2] \u2713 alpine:3 -> images/alpine_3.tar (2.0 MB, 1.5s)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("[2/2] \u2717 missing:1: not_found: not in the daemon; pull it first (after 3 attempts)\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("Summary: 1 successful, 1 failed of 2 images"), std::string::npos) << text;
  EXPECT_NE(text.find("Failed:\n  missing:1: "), std::string::npos) << text;
  // No live area: nothing moves the cursor.
  EXPECT_EQ(text.find("\x1b["), std::string::npos);
  EXPECT_EQ(err.text().find("\x1b["), std::string::npos);
  EXPECT_NE(err.text().find("hpn: warning: missing:1: attempt 1 failed"), std::string::npos) << err.text();
}

TEST(Reporter, OneImageIsCountedInTheSingular) {
  Captured out, err;
  auto o = options(out, err);
  o.progress = hpn::ops::ProgressMode::never;
  auto r = hpn::ops::make_reporter(o);
  r->batch_started({"alpine:3"}, {0});
  r->task_started(0, "alpine:3", 0);
  r->task_finished(succeeded(0, "alpine:3", 0, ""), 1, 1);
  r->batch_finished({succeeded(0, "alpine:3", 0, "")}, 10ms, false);
  EXPECT_NE(out.text().find("Summary: 1 successful, 0 failed of 1 image;"), std::string::npos) << out.text();
}

TEST(Reporter, QuietModeKeepsFailuresAndTheSummaryOnly) {
  Captured out, err;
  auto o = options(out, err);
  o.quiet = true;
  o.progress = hpn::ops::ProgressMode::always;  // quiet wins
  run_two(*hpn::ops::make_reporter(o));
  const std::string text = out.text();
  EXPECT_EQ(text.find("start "), std::string::npos) << text;
  EXPECT_EQ(text.find("\u2713 alpine:3"), std::string::npos) << text;
  EXPECT_NE(text.find("\u2717 missing:1"), std::string::npos) << text;
  EXPECT_NE(text.find("Summary: 1 successful, 1 failed"), std::string::npos) << text;
  EXPECT_EQ(err.text(), "");  // no retry notices, no live area
}

TEST(Reporter, TerminalModeDrawsTheLiveAreaOnStderrAndClearsIt) {
  Captured out, err;
  auto o = options(out, err);
  o.progress = hpn::ops::ProgressMode::always;  // as on a terminal
  auto r = hpn::ops::make_reporter(o);
  r->batch_started({"alpine:3", "busybox:1"}, {2000000u, 1000000u});
  r->task_started(0, "alpine:3", 2000000u);
  r->task_progress(0, "saving", 1000000u, 2000000u);
  r->task_finished(succeeded(0, "alpine:3", 2000000u, "a.tar"), 1, 2);
  r->task_started(1, "busybox:1", 1000000u);
  r->task_progress(1, "exporting", 0, 1000000u);
  // A notice is printed above the area, which is drawn again below it.
  r->task_retrying(1, "busybox:1", 1, 1000ms, hpn::Error(hpn::ErrorKind::timeout, "slow"));
  r->task_finished(succeeded(1, "busybox:1", 1000000u, "b.tar"), 2, 2);
  r->batch_finished({succeeded(0, "alpine:3", 2000000u, "a.tar"), succeeded(1, "busybox:1", 1000000u, "b.tar")},
                    1000ms, false);
  const std::string area = err.text();
  EXPECT_NE(area.find("  busybox:1  exporting"), std::string::npos) << area;
  EXPECT_NE(area.find("[1/2 done] 2.0 MB/3.0 MB"), std::string::npos) << area;
  EXPECT_NE(area.find("\x1b[2F\x1b[J"), std::string::npos) << area;  // the area cleared before a line is printed
  const std::string text = out.text();
  EXPECT_EQ(text.find("start "), std::string::npos) << text;  // the area shows starts instead
  EXPECT_NE(text.find("[2/2] \u2713 busybox:1 -> b.tar"), std::string::npos) << text;
  EXPECT_NE(text.find("Summary: 2 successful, 0 failed of 2 images"), std::string::npos) << text;
}

TEST(Reporter, JsonModeWritesOneEventALineAndNothingElse) {
  Captured out, err;
  auto o = options(out, err);
  o.format = hpn::ops::OutputFormat::json;
  o.stats = true;
  run_two(*hpn::ops::make_reporter(o));
  std::istringstream lines(out.text());
  std::vector<nlohmann::json> events;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    events.push_back(j);
  }
  std::vector<std::string> names;
  for (const auto& e : events) names.push_back(e.value("event", ""));
  EXPECT_EQ(names,
            (std::vector<std::string>{"batch", "start", "progress", "start", "retry", "done", "failed", "summary"}));
  EXPECT_EQ(events[0]["bytes_total"], 2000000u);
  EXPECT_EQ(events[4]["kind"], "registry_unavailable");
  EXPECT_EQ(events[5]["detail"], "-> images/alpine_3.tar");
  EXPECT_EQ(events[5]["path"], "images/alpine_3.tar");
  EXPECT_EQ(events[5]["compression"], "none");
  EXPECT_EQ(events[6]["kind"], "not_found");
  const auto& summary = events.back();
  EXPECT_EQ(summary["succeeded"], 1);
  EXPECT_EQ(summary["failed"], 1);
  EXPECT_EQ(summary["failures"][0]["image"], "missing:1");
  EXPECT_EQ(summary["images"].size(), 2u);
  EXPECT_EQ(err.text(), "");
}
