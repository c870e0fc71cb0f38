// Shared driver of the batch subcommands.
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/ops/signals.hpp"

namespace hpn::cli {

int run_tasks(Context& ctx, engine::Client& client, std::vector<ops::Task> tasks, const char* noun) {
  ops::BatchOptions bo;
  bo.workers = ctx.opt.workers > 0 ? ctx.opt.workers : ctx.config.max_workers;
  bo.retry = ctx.config.runtime.retry;
  bo.operation_timeout = ctx.config.runtime.timeout;
  bo.interrupt = &ops::install_interrupt_handlers();
  ops::PlainReporter reporter(stdout, stderr, ctx.opt.quiet, noun);
  auto results = ops::run_batch(client, std::move(tasks), bo, reporter);
  return ops::batch_exit_code(results, bo.interrupt->load());
}

}  // namespace hpn::cli
