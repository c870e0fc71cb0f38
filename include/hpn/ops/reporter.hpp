// Plain-text reporting of a batch: a line per finished image, then the summary.
#pragma once

#include <cstdio>
#include <string>

#include "hpn/ops/batch.hpp"

namespace hpn::ops {

std::string human_bytes(std::uint64_t bytes);
std::string human_duration(std::chrono::milliseconds d);

class PlainReporter : public Reporter {
 public:
  // `noun` names what the batch counts ("images", "files").
  PlainReporter(std::FILE* out, std::FILE* err, bool quiet, std::string noun = "images")
      : out_(out), err_(err), quiet_(quiet), noun_(std::move(noun)) {}

  void task_started(std::size_t index, const std::string& label) override;
  void task_retrying(const std::string& label, int attempt, std::chrono::milliseconds delay,
                     const Error& error) override;
  void task_finished(const TaskResult& result, std::size_t finished, std::size_t total) override;
  void batch_finished(const std::vector<TaskResult>& results, std::chrono::milliseconds wall,
                      bool interrupted) override;

 private:
  std::FILE* out_;
  std::FILE* err_;
  bool quiet_;
  std::string noun_;
};

// Exit code for a finished batch: 0 all succeeded, 1 any failed, 130 interrupted.
int batch_exit_code(const std::vector<TaskResult>& results, bool interrupted);

}  // namespace hpn::ops
