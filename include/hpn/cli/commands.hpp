// Subcommand entry points, one file each under src/cli/.
#pragma once

#include "hpn/cli/common.hpp"

namespace hpn::cli {

int cmd_info(const GlobalOptions& g);

}  // namespace hpn::cli
