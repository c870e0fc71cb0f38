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

// Configure every layer's logger. `file` empty means stderr.
Status configure(spdlog::level::level_enum level, const std::string& file = {});

// The logger of a layer: "util", "engine", "archive", "ops", "cli".
spdlog::logger& get(std::string_view layer);

inline spdlog::logger& engine() { return get("engine"); }
inline spdlog::logger& cli() { return get("cli"); }

}  // namespace hpn::log
