// Diagnostics (not user-facing output): one spdlog logger per layer, writing to
// stderr or a file, off unless asked for. Never log secrets.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <spdlog/logger.h>

#include "hpn/util/result.hpp"

namespace hpn::log {

// Parse "trace|debug|info|warn|error|off".
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);

struct Settings {
  spdlog::level::level_enum level = spdlog::level::off;
  std::string file;      // write here; empty: stderr when `console`
  bool console = true;   // with no file: to stderr (false: nowhere)
  bool json = false;     // one JSON object a line: time, level, layer, message
  bool timestamp = true; // lead each line with the time
};
// Configure every layer's logger.
Status configure(const Settings& settings);

// The logger of a layer: "util", "engine", "archive", "ops", "cli".
spdlog::logger& get(std::string_view layer);

inline spdlog::logger& engine() { return get("engine"); }
inline spdlog::logger& cli() { return get("cli"); }

}  // namespace hpn::log
