#include "hpn/util/log.hpp"

#include <map>
#include <mutex>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace hpn::log {
namespace {

struct Registry {
  std::mutex mu;
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  spdlog::level::level_enum level = spdlog::level::off;
  std::string pattern = "%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v";
  bool json = false;
  std::map<std::string, std::shared_ptr<spdlog::logger>, std::less<>> loggers;
};

Registry& registry() {
  static Registry r;
  return r;
}

// %* in a pattern: the message as the inside of a JSON string.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr char k_hex[] = "0123456789abcdef";
    for (char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (u < 0x20) {
        const char esc[] = {'\\', 'u', '0', '0', k_hex[u >> 4], k_hex[u & 15]};
        dest.append(esc, esc + sizeof esc);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

void apply_format(Registry& r, spdlog::logger& logger) {
  if (r.json) {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<JsonMessageFlag>('*').set_pattern(r.pattern);
    logger.set_formatter(std::move(f));
  } else {
    logger.set_pattern(r.pattern);
  }
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

Status configure(const Settings& settings) {
  auto& r = registry();
  std::lock_guard lock(r.mu);
  if (!settings.file.empty()) {
    try {
      r.sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(settings.file);
    } catch (const spdlog::spdlog_ex& e) {
      return Error(ErrorKind::io, "cannot open log file " + settings.file + ": " + e.what());
    }
  } else if (settings.console) {
    r.sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    r.sink = std::make_shared<spdlog::sinks::null_sink_mt>();
  }
  r.level = settings.level;
  r.json = settings.json;
  if (settings.json) {
    r.pattern = settings.timestamp ? R"({"time":"%Y-%m-%dT%H:%M:%S.%e","level":"%l","layer":"%n","message":"%*"})"
                                   : R"({"level":"%l","layer":"%n","message":"%*"})";
  } else {
    r.pattern = settings.timestamp ? "%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%n] %v" : "%^%l%$ [%n] %v";
  }
  for (auto& [name, logger] : r.loggers) {
    logger->sinks() = {r.sink};
    logger->set_level(r.level);
    apply_format(r, *logger);
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
    apply_format(r, *logger);
    it = r.loggers.emplace(std::string(layer), std::move(logger)).first;
  }
  return *it->second;
}

}  // namespace hpn::log
