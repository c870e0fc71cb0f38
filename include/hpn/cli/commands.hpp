// Subcommand entry points, one file each under src/cli/. Each returns an exit code.
#pragma once

#include <chrono>

#include "hpn/cli/common.hpp"
#include "hpn/ops/batch.hpp"

namespace hpn::cli {

int cmd_info(Context& ctx);
int cmd_pull(Context& ctx);
int cmd_save(Context& ctx);
int cmd_load(Context& ctx);
int cmd_push(Context& ctx);
int cmd_rmi(Context& ctx);
int cmd_ls(Context& ctx);
int cmd_login(Context& ctx);
int cmd_logout(Context& ctx);

// Worker count: -j, else config parallel.max_workers.
int worker_count(const Context& ctx);

// Connect, run `tasks` on the worker pool with the configured retries, timeouts and
// interrupt handling, print results; returns the exit code.
int run_tasks(Context& ctx, engine::Client& client, std::vector<ops::Task> tasks, const char* noun = "images",
              std::chrono::milliseconds start_spacing = {});

}  // namespace hpn::cli
