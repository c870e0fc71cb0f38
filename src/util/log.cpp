#include "hpn/util/log.hpp"

#include <map>
#include <mutex>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace hpn::log {
namespace {

struct Registry {
  std::mutex mu;
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  spdlog::level::level_enum level = spdlog::level::off;
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;
};

Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "off" || name == "none") return spdlog::level::off;
  return std::nullopt;
}

Status configure(spdlog::level::level_enum level, const std::string& file) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  if (!file.empty()) {
    try {
      r.sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file);
    } catch (const spdlog::spdlog_ex& e) {
      return Error(ErrorKind::io, "cannot open log file " + file + ": " + e.what());
    }
  }
  r.level = level;
  for (auto& [name, logger] : r.loggers) {
    logger->sinks() = {r.sink};
    logger->set_level(level);
  }
  return {};
}

spdlog::logger& get(std::string_view layer) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.loggers.find(layer);
  if (it == r.loggers.end()) {
    auto logger = std::make_shared<spdlog::logger>(std::string(layer), r.sink);
    logger->set_level(r.level);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v");
    it = r.loggers.emplace(std::string(layer), std::move(logger)).first;
  }
  return *it->second;
}

}  // namespace hpn::log
