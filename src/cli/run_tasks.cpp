// Shared driver of the batch subcommands.
#include <algorithm>
#include <thread>

#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/ops/signals.hpp"

namespace hpn::cli {

int worker_count(const Context& ctx) { return ctx.opt.workers > 0 ? ctx.opt.workers : ctx.config.max_workers; }

int run_tasks(Context& ctx, engine::Client& client, std::vector<ops::Task> tasks, const char* noun,
              std::chrono::milliseconds start_spacing) {
  ops::BatchOptions bo;
  bo.workers = worker_count(ctx);
  bo.start_spacing = start_spacing;
  bo.retry = ctx.config.runtime.retry;
  bo.operation_timeout = ctx.config.runtime.timeout;
  bo.interrupt = &ops::install_interrupt_handlers();
  if (client.connection().endpoint().transport == engine::Transport::unix_socket) {
    // A local daemon shares this machine's cores: large transfers one per core.
    bo.heavy_limit = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  ops::ReporterOptions ro;
  ro.format = ctx.opt.output == "json" ? ops::OutputFormat::json : ops::OutputFormat::text;
  ro.progress = ctx.opt.progress == "always" ? ops::ProgressMode::always
                : ctx.opt.progress == "never" ? ops::ProgressMode::never
                                              : ops::ProgressMode::automatic;
  ro.quiet = ctx.opt.quiet;
  ro.color = !ctx.opt.no_color && ctx.config.logging.colors;
  ro.stats = ctx.opt.stats;
  ro.noun = noun;
  auto reporter = ops::make_reporter(ro);
  auto results = ops::run_batch(client, std::move(tasks), bo, *reporter);
  return ops::batch_exit_code(results, bo.interrupt->load());
}

}  // namespace hpn::cli
