// What the user sees of a batch: live progress on a terminal, plain lines for logs,
// JSON events for scripts; the summary always last.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "hpn/ops/batch.hpp"

namespace hpn::ops {

std::string human_bytes(std::uint64_t bytes);
// `message` without the repetitions of the image `name` that daemons put in their
// errors (the failure line names the image once, before the message).
std::string without_name(std::string_view message, std::string_view name);
std::string human_duration(std::chrono::milliseconds d);

enum class OutputFormat { text, json };
enum class ProgressMode { automatic, always, never };

struct ReporterOptions {
  OutputFormat format = OutputFormat::text;
  // automatic: live progress when stderr is a terminal; always/never force it.
  ProgressMode progress = ProgressMode::automatic;
  bool quiet = false;  // failures and the summary only
  bool color = true;   // only used when stdout is a terminal; NO_COLOR and --no-color turn it off
  bool stats = false;  // per-image timings in the summary
  std::string noun = "images";
  std::FILE* out = stdout;
  std::FILE* err = stderr;
};

std::unique_ptr<Reporter> make_reporter(const ReporterOptions& options);

// The words of an outcome: its result's fields worded, then its note.
std::string outcome_text(const Outcome& outcome);

// Exit code for a finished batch: 0 all succeeded, 1 any failed, 130 interrupted.
int batch_exit_code(const std::vector<TaskResult>& results, bool interrupted);

}  // namespace hpn::ops
