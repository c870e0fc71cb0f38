#include "hpn/ops/reporter.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

#include <nlohmann/json.hpp>

#include "overloaded.hpp"

namespace hpn::ops {

namespace {

// What a result says of referrers left behind and signatures verified.
void add_signed(nlohmann::json& j, std::size_t left, std::size_t signatures, std::size_t attestations) {
  if (left > 0) j["referrers_left"] = left;
  if (signatures > 0) j["verified"] = {{"signatures", signatures}, {"attestations", attestations}};
}

// The result's fields, for a JSON event.
void add_fields(nlohmann::json& j, const Outcome& o) {
  std::visit(Overloaded{
                 [](const std::monostate&) {},
                 [&j](const Transferred& t) {
                   j["target"] = t.target;
                   if (!t.digest.empty()) j[t.image_id ? "image_id" : "digest"] = t.digest;
                   if (t.blobs_counted) {
                     j["blobs"] = {{"sent", t.blobs_sent},
                                   {"present", t.blobs_present},
                                   {"mounted", t.blobs_mounted},
                                   {"cache_hits", t.cache_hits}};
                   }
                   if (t.blobs_counted || t.referrers > 0) j["referrers"] = t.referrers;
                   add_signed(j, t.referrers_left, t.signatures_verified, t.attestations_verified);
                   if (!t.platform.empty()) {
                     j["platform"] = t.platform;
                     j["index_digest"] = t.index_digest;
                   }
                 },
                 [&j](const Pulled& p) {
                   if (!p.digest.empty()) j["digest"] = p.digest;
                 },
                 [&j](const WrittenArchive& w) {
                   j["path"] = w.path.string();
                   j["compression"] = std::string(archive::to_string(w.compression));
                   if (w.file_bytes > 0) j["file_bytes"] = w.file_bytes;
                 },
                 [&j](const LoadedArchive& l) {
                   j["loaded"] = l.images;
                   j["compression"] = std::string(archive::to_string(l.compression));
                   add_signed(j, l.referrers_left, l.signatures_verified, l.attestations_verified);
                 },
                 [&j](const Removed& r) {
                   j["untagged"] = r.untagged;
                   j["deleted"] = r.deleted;
                 },
             },
             o.result);
  if (!o.note.empty()) j["note"] = o.note;
}

using Clock = std::chrono::steady_clock;

// Plain output: at most one progress line per image this often.
constexpr std::chrono::seconds k_plain_interval{10};

std::chrono::milliseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t);
}

std::string rate(std::uint64_t bytes, std::chrono::milliseconds d) {
  if (d.count() <= 0) return "-";
  return human_bytes(static_cast<std::uint64_t>(static_cast<double>(bytes) * 1000.0 / static_cast<double>(d.count()))) + "/s";
}

struct Counts {
  std::size_t ok = 0, failed = 0, skipped = 0, unchanged = 0;
  std::size_t cache_hits = 0;  // layers the known-blob cache spared
  std::size_t referrers = 0;   // signatures, attestations and SBOMs copied
  std::size_t verified = 0;    // images whose signature verified (--verify-key)
  std::uint64_t bytes = 0;
};

Counts count(const std::vector<TaskResult>& results) {
  Counts c;
  for (const auto& r : results) {
    if (r.state == TaskState::succeeded) {
      ++c.ok;
      c.unchanged += r.outcome.unchanged ? 1 : 0;
      c.bytes += r.outcome.bytes;
      if (const auto* t = r.outcome.transferred()) {
        c.cache_hits += t->cache_hits;
        c.referrers += t->referrers;
        c.verified += t->signatures_verified > 0 ? 1 : 0;
      } else if (const auto* l = std::get_if<LoadedArchive>(&r.outcome.result)) {
        c.verified += l->images_verified;
      }
    } else if (r.state == TaskState::failed) {
      ++c.failed;
    } else {
      ++c.skipped;
    }
  }
  return c;
}

// "kind: message" of a failed task, its label left out of the message (the line
// names it already).
std::string failure_text(const TaskResult& r) {
  if (!r.error) return "failed";
  return std::string(to_string(r.error->kind)) + ": " + without_name(r.error->message, r.label);
}

// Display width of UTF-8 text (continuation bytes take no column).
std::size_t columns(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string fit(std::string s, std::size_t width) {
  if (width == 0 || columns(s) <= width) return s;
  std::size_t cols = 0;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (cols + 1 >= width) break;
      ++cols;
    }
  }
  s.resize(i);
  return s + "\u2026";
}

int terminal_width(std::FILE* f) {
  winsize ws{};
  if (::ioctl(::fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

// ---- text: plain lines, or a live progress area on a terminal ------------------------

class TextReporter : public Reporter {
 public:
  TextReporter(const ReporterOptions& o, bool live, bool color) : o_(o), live_(live), color_(color) {}

  ~TextReporter() override { stop_renderer(); }

  void batch_started(const std::vector<std::string>& labels, const std::vector<std::uint64_t>& sizes) override {
    std::lock_guard lock(mu_);
    labels_ = labels;
    sizes_ = sizes;
    total_bytes_ = 0;
    for (auto s : sizes) total_bytes_ += s;
    start_ = Clock::now();
    if (live_) renderer_ = std::thread([this] { render_loop(); });
  }

  void task_started(std::size_t index, const std::string& label, std::uint64_t total) override {
    std::lock_guard lock(mu_);
    Active a;
    a.label = label;
    a.total = total;
    a.start = Clock::now();
    a.last_plain = a.start;
    active_[index] = a;
    if (!live_ && !o_.quiet) {
      std::fprintf(o_.out, "start %s%s\n", label.c_str(), total ? (" (" + human_bytes(total) + ")").c_str() : "");
      std::fflush(o_.out);
    }
    dirty_ = true;
  }

  void task_progress(std::size_t index, std::string_view phase, std::uint64_t done, std::uint64_t total) override {
    std::lock_guard lock(mu_);
    auto it = active_.find(index);
    if (it == active_.end()) return;
    Active& a = it->second;
    a.phase.assign(phase);
    a.done = done;
    if (total) a.total = total;
    dirty_ = true;
    if (live_ || o_.quiet) return;
    // Plain output (logs): phase changes fold into the lines there are; a transfer
    // still running gets one progress line every 10 s, whatever the daemon streams.
    if (since(a.last_plain) < k_plain_interval) return;
    std::string line = "      " + a.label + ": " + a.phase;
    if (const auto amt = amount(a); !amt.empty()) line += " " + amt;
    if (a.done > 0) line += ", " + rate(a.done, since(a.start));
    std::fprintf(o_.out, "%s\n", line.c_str());
    std::fflush(o_.out);
    a.last_plain = Clock::now();
  }

  void task_retrying(std::size_t, const std::string& label, int attempt, std::chrono::milliseconds delay,
                     const Error& error) override {
    if (o_.quiet) return;  // a retry is not a failure; the final failure is still reported
    std::lock_guard lock(mu_);
    clear_area();
    std::fprintf(o_.err, "hpn: warning: %s: attempt %d failed (%s); retrying in %s\n", label.c_str(), attempt,
                 error.describe().c_str(), human_duration(delay).c_str());
    std::fflush(o_.err);
    draw_area();
  }

  void task_finished(const TaskResult& r, std::size_t finished, std::size_t total) override {
    std::lock_guard lock(mu_);
    active_.erase(r.index);
    if (r.state == TaskState::succeeded) {
      done_bytes_ += r.outcome.bytes;
    } else {
      ++failed_;
    }
    finished_ = finished;
    clear_area();
    if (r.state == TaskState::succeeded) {
      if (!o_.quiet) {
        std::string extra;
        if (r.outcome.bytes > 0) extra = human_bytes(r.outcome.bytes) + ", ";
        extra += human_duration(r.elapsed);
        if (r.attempts > 1) extra += ", " + std::to_string(r.attempts) + " attempts";
        const std::string detail = outcome_text(r.outcome);
        std::fprintf(o_.out, "[%zu/%zu] %s %s%s%s (%s)\n", finished, total, mark(true).c_str(), r.label.c_str(),
                     detail.empty() ? "" : " ", detail.c_str(), extra.c_str());
      }
    } else {
      std::fprintf(o_.out, "[%zu/%zu] %s %s: %s%s\n", finished, total, mark(false).c_str(), r.label.c_str(),
                   failure_text(r).c_str(),
                   r.attempts > 1 ? (" (after " + std::to_string(r.attempts) + " attempts)").c_str() : "");
    }
    std::fflush(o_.out);
    draw_area();
  }

  void batch_finished(const std::vector<TaskResult>& results, std::chrono::milliseconds wall,
                      bool interrupted) override {
    stop_renderer();
    std::lock_guard lock(mu_);
    clear_area();
    const Counts c = count(results);
    std::FILE* out = o_.out;
    if (o_.stats) {
      std::fprintf(out, "%-50s %-10s %10s %8s %12s %s\n", "IMAGE", "RESULT", "SIZE", "TIME", "RATE", "ATTEMPTS");
      for (const auto& r : results) {
        const char* state = r.state == TaskState::succeeded ? (r.outcome.unchanged ? "unchanged" : "ok")
                            : r.state == TaskState::failed  ? "failed"
                                                            : "skipped";
        std::fprintf(out, "%-50s %-10s %10s %8s %12s %d\n", r.label.c_str(), state,
                     human_bytes(r.outcome.bytes).c_str(), human_duration(r.elapsed).c_str(),
                     r.outcome.bytes ? rate(r.outcome.bytes, r.elapsed).c_str() : "-", r.attempts);
      }
    }
    std::fprintf(out, "Summary: %zu successful, %zu failed", c.ok, c.failed);
    if (c.skipped > 0) std::fprintf(out, ", %zu not started", c.skipped);
    if (c.unchanged > 0) std::fprintf(out, " (%zu unchanged)", c.unchanged);
    std::fprintf(out, " of %zu %s; %s in %s", results.size(), noun(results.size()).c_str(), human_bytes(c.bytes).c_str(),
                 human_duration(wall).c_str());
    if (wall.count() > 0 && c.bytes > 0) std::fprintf(out, " (%s)", rate(c.bytes, wall).c_str());
    std::fprintf(out, "\n");
    if (o_.stats && c.cache_hits > 0) {
      std::fprintf(out, "Cache: %zu %s not compressed again: earlier runs had made the %s the destination holds\n",
                   c.cache_hits, c.cache_hits == 1 ? "layer" : "layers", c.cache_hits == 1 ? "blob" : "blobs");
    }
    if (o_.stats && c.referrers > 0) {
      std::fprintf(out, "Referrers: %zu copied (signatures, attestations, SBOMs)\n", c.referrers);
    }
    if (o_.stats && c.verified > 0) {
      std::fprintf(out, "Signatures: %zu %s verified with the keys given\n", c.verified,
                   c.verified == 1 ? "image's" : "images'");
    }
    if (c.failed > 0) {
      // Each reason once, with the images that failed for it.
      std::vector<std::pair<std::string, std::vector<std::string>>> reasons;
      for (const auto& r : results) {
        if (r.state != TaskState::failed) continue;
        const std::string why = failure_text(r);
        auto it = std::find_if(reasons.begin(), reasons.end(), [&](const auto& g) { return g.first == why; });
        if (it == reasons.end()) it = reasons.insert(reasons.end(), {why, {}});
        it->second.push_back(r.label);
      }
      std::fprintf(out, "Failed:\n");
      for (const auto& [why, labels] : reasons) {
        if (labels.size() == 1) {
          std::fprintf(out, "  %s: %s\n", labels.front().c_str(), why.c_str());
          continue;
        }
        std::string names;
        constexpr std::size_t k_named = 3;
        for (std::size_t i = 0; i < labels.size() && i < k_named; ++i) names += (i ? ", " : "") + labels[i];
        if (labels.size() > k_named) names += ", ... " + std::to_string(labels.size() - k_named) + " more";
        std::fprintf(out, "  %zu %s (%s): %s\n", labels.size(), o_.noun.c_str(), names.c_str(), why.c_str());
      }
    }
    if (interrupted) std::fprintf(out, "Interrupted: %zu %s not started\n", c.skipped, noun(c.skipped).c_str());
    std::fflush(out);
  }

 private:
  struct Active {
    std::string label;
    std::string phase = "starting";
    std::uint64_t done = 0;
    std::uint64_t total = 0;
    Clock::time_point start;
    Clock::time_point last_plain;
  };

  // The noun for `n` of them ("1 image", "2 images").
  std::string noun(std::size_t n) const {
    if (n == 1 && o_.noun.size() > 1 && o_.noun.back() == 's') return o_.noun.substr(0, o_.noun.size() - 1);
    return o_.noun;
  }

  static std::string amount(const Active& a) {
    if (a.total == 0) return a.done ? human_bytes(a.done) : std::string();
    const double pct = 100.0 * static_cast<double>(std::min(a.done, a.total)) / static_cast<double>(a.total);
    char buf[32];
    std::snprintf(buf, sizeof buf, " (%.0f%%)", pct);
    return human_bytes(a.done) + "/" + human_bytes(a.total) + buf;
  }

  std::string mark(bool ok) const {
    if (!color_) return ok ? "\u2713" : "\u2717";
    return ok ? "\x1b[32m\u2713\x1b[0m" : "\x1b[31m\u2717\x1b[0m";
  }

  // Live area on stderr: one line per active image, then the overall line.
  void draw_area() {
    if (!live_ || stopped_) return;
    const std::size_t width = static_cast<std::size_t>(std::max(20, terminal_width(o_.err) - 1));
    std::string text;
    int lines = 0;
    for (const auto& [i, a] : active_) {
      std::string line = "  " + a.label + "  " + a.phase;
      if (const auto amt = amount(a); !amt.empty()) line += "  " + amt;
      if (a.done > 0) line += "  " + rate(a.done, since(a.start));
      text += fit(line, width) + "\n";
      ++lines;
    }
    std::uint64_t done = done_bytes_;
    for (const auto& [i, a] : active_) done += a.done;
    const auto elapsed = since(start_);
    std::string overall = "[" + std::to_string(finished_) + "/" + std::to_string(labels_.size()) + " done";
    if (failed_ > 0) overall += ", " + std::to_string(failed_) + " failed";
    overall += "] " + human_bytes(done);
    if (total_bytes_ > 0) overall += "/" + human_bytes(total_bytes_);
    if (done > 0) overall += "  " + rate(done, elapsed);
    if (total_bytes_ > done && done > 0 && elapsed.count() > 500) {
      const double secs = static_cast<double>(total_bytes_ - done) * static_cast<double>(elapsed.count()) / static_cast<double>(done) / 1000.0;
      overall += "  ETA " + human_duration(std::chrono::milliseconds(static_cast<long long>(secs * 1000)));
    }
    text += fit(overall, width) + "\n";
    ++lines;
    std::fputs(text.c_str(), o_.err);
    std::fflush(o_.err);
    area_lines_ = lines;
    dirty_ = false;
  }

  void clear_area() {
    if (!live_ || area_lines_ == 0) return;
    std::fprintf(o_.err, "\x1b[%dF\x1b[J", area_lines_);  // up to the area's first line, clear below
    std::fflush(o_.err);
    area_lines_ = 0;
  }

  void render_loop() {
    std::unique_lock lock(mu_);
    while (!stopped_) {
      cv_.wait_for(lock, std::chrono::milliseconds(100));  // at most about 10 redraws a second
      if (stopped_) break;
      clear_area();
      draw_area();
    }
  }

  void stop_renderer() {
    {
      std::lock_guard lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    if (renderer_.joinable()) renderer_.join();
  }

  ReporterOptions o_;
  bool live_;
  bool color_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread renderer_;
  bool stopped_ = false;
  bool dirty_ = false;
  int area_lines_ = 0;
  std::vector<std::string> labels_;
  std::vector<std::uint64_t> sizes_;
  std::map<std::size_t, Active> active_;
  std::uint64_t total_bytes_ = 0;
  std::uint64_t done_bytes_ = 0;
  std::size_t finished_ = 0;
  std::size_t failed_ = 0;
  Clock::time_point start_ = Clock::now();
};

// ---- JSON events, one object a line, on stdout ----------------------------------------

class JsonReporter : public Reporter {
 public:
  explicit JsonReporter(const ReporterOptions& o) : o_(o) {}

  void batch_started(const std::vector<std::string>& labels, const std::vector<std::uint64_t>& sizes) override {
    start_ = Clock::now();
    std::uint64_t total = 0;
    for (auto s : sizes) total += s;
    emit({{"event", "batch"}, {"total", labels.size()}, {"bytes_total", total}});
  }

  void task_started(std::size_t index, const std::string& label, std::uint64_t total) override {
    last_progress_[index] = Clock::time_point{};
    emit({{"event", "start"}, {"index", index}, {"image", label}, {"bytes_total", total}});
    totals_[index] = total;
  }

  void task_progress(std::size_t index, std::string_view phase, std::uint64_t done, std::uint64_t total) override {
    auto& last = last_progress_[index];
    if (Clock::now() - last < std::chrono::seconds(1)) return;  // at most once a second per image
    last = Clock::now();
    if (total == 0) total = totals_[index];
    emit({{"event", "progress"}, {"index", index}, {"phase", phase}, {"bytes", done}, {"bytes_total", total}});
  }

  void task_retrying(std::size_t index, const std::string& label, int attempt, std::chrono::milliseconds delay,
                     const Error& error) override {
    emit({{"event", "retry"}, {"index", index}, {"image", label}, {"attempt", attempt},
          {"delay_ms", delay.count()}, {"kind", to_string(error.kind)}, {"message", error.message}});
  }

  void task_finished(const TaskResult& r, std::size_t finished, std::size_t total) override {
    nlohmann::json j{{"index", r.index}, {"image", r.label}, {"finished", finished}, {"total", total},
                     {"seconds", static_cast<double>(r.elapsed.count()) / 1000.0}, {"attempts", r.attempts}};
    if (r.state == TaskState::succeeded) {
      j["event"] = "done";
      j["bytes"] = r.outcome.bytes;
      j["detail"] = outcome_text(r.outcome);
      j["unchanged"] = r.outcome.unchanged;
      add_fields(j, r.outcome);
    } else {
      j["event"] = "failed";
      j["kind"] = r.error ? to_string(r.error->kind) : "daemon_error";
      j["message"] = r.error ? r.error->message : "failed";
    }
    emit(j);
  }

  void batch_finished(const std::vector<TaskResult>& results, std::chrono::milliseconds wall,
                      bool interrupted) override {
    const Counts c = count(results);
    nlohmann::json failures = nlohmann::json::array();
    nlohmann::json images = nlohmann::json::array();
    for (const auto& r : results) {
      if (r.state == TaskState::failed) {
        failures.push_back({{"image", r.label}, {"kind", r.error ? to_string(r.error->kind) : "daemon_error"},
                            {"message", r.error ? r.error->message : ""}});
      }
      if (o_.stats) {
        images.push_back({{"image", r.label},
                          {"result", r.state == TaskState::succeeded ? (r.outcome.unchanged ? "unchanged" : "ok")
                                     : r.state == TaskState::failed  ? "failed"
                                                                     : "skipped"},
                          {"bytes", r.outcome.bytes},
                          {"seconds", static_cast<double>(r.elapsed.count()) / 1000.0},
                          {"attempts", r.attempts}});
      }
    }
    nlohmann::json j{
        {"event", "summary"},
        {"succeeded", c.ok},
        {"failed", c.failed},
        {"not_started", c.skipped},
        {"unchanged", c.unchanged},
        {"cache_hits", c.cache_hits},
        {"referrers", c.referrers},
        {"verified", c.verified},
        {"total", results.size()},
        {"bytes", c.bytes},
        {"seconds", static_cast<double>(wall.count()) / 1000.0},
        {"bytes_per_second",
         wall.count() > 0 ? static_cast<double>(c.bytes) * 1000.0 / static_cast<double>(wall.count()) : 0.0},
        {"interrupted", interrupted},
        {"failures", failures}};
    if (o_.stats) j["images"] = images;
    emit(j);
  }

 private:
  void emit(const nlohmann::json& j) {
    nlohmann::json event = j;
    event["time"] = static_cast<double>(since(start_).count()) / 1000.0;
    const std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fputs(line.c_str(), o_.out);
    std::fflush(o_.out);
  }

  ReporterOptions o_;
  Clock::time_point start_ = Clock::now();
  std::map<std::size_t, Clock::time_point> last_progress_;
  std::map<std::size_t, std::uint64_t> totals_;
};

}  // namespace

std::unique_ptr<Reporter> make_reporter(const ReporterOptions& o) {
  if (o.format == OutputFormat::json) return std::make_unique<JsonReporter>(o);
  const bool err_tty = ::isatty(::fileno(o.err)) != 0;
  const bool live = !o.quiet && (o.progress == ProgressMode::always ||
                                 (o.progress == ProgressMode::automatic && err_tty));
  const char* no_color = std::getenv("NO_COLOR");
  const bool color = o.color && (no_color == nullptr || *no_color == '\0') && ::isatty(::fileno(o.out)) != 0;
  return std::make_unique<TextReporter>(o, live, color);
}

int batch_exit_code(const std::vector<TaskResult>& results, bool interrupted) {
  if (interrupted) return 130;
  for (const auto& r : results) {
    if (r.state != TaskState::succeeded) return 1;
  }
  return 0;
}

}  // namespace hpn::ops
