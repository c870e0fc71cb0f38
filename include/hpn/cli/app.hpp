// The hpn command line: parses arguments, runs a subcommand, returns the exit code.
#pragma once

namespace hpn::cli {

// Exit codes (also in man/hpn.1).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;      // at least one image failed
inline constexpr int k_exit_usage = 2;       // bad arguments or input list
inline constexpr int k_exit_interrupted = 130;

int run(int argc, char** argv);

}  // namespace hpn::cli
