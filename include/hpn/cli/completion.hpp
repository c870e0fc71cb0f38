// Shell completion scripts for bash, zsh and fish, written from the same CLI11 option
// table that `hpn --help` prints, so the two cannot drift apart.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace hpn::cli {

// The script for `shell` ("bash", "zsh" or "fish"); nullopt for another shell.
std::optional<std::string> completion_script(const CLI::App& app, std::string_view shell);

}  // namespace hpn::cli
