// Shared driver of the batch subcommands.
#include <cstdio>

#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/ops/signals.hpp"

namespace hpn::cli {

int worker_count(const Context& ctx) { return ctx.opt.workers > 0 ? ctx.opt.workers : ctx.config.max_workers; }

int run_plan(const Context& ctx, const ops::ImageStore& store, ops::Plan plan) {
  if (!ctx.opt.quiet) {
    for (const auto& note : plan.notes) std::fprintf(stderr, "hpn: %s\n", note.c_str());
  }
  ops::RunSettings rs;
  rs.workers = worker_count(ctx);
  rs.retry = ctx.config.runtime.retry;
  rs.operation_timeout = ctx.config.runtime.timeout;
  rs.interrupt = &ops::install_interrupt_handlers();
  ops::ReporterOptions ro;
  ro.format = ctx.opt.output;
  ro.progress = ctx.opt.progress;
  ro.quiet = ctx.opt.quiet;
  ro.color = !ctx.opt.no_color && ctx.config.logging.colors;
  ro.stats = ctx.opt.stats;
  ro.noun = plan.noun;
  auto reporter = ops::make_reporter(ro);
  auto results = ops::run_plan(store, std::move(plan), rs, *reporter);
  return ops::batch_exit_code(results, rs.interrupt->load());
}

int plan_failed(const Error& error) {
  print_error(error);
  if (ops::interrupt_flag().load()) return k_exit_interrupted;
  return error.kind == ErrorKind::invalid_argument ? k_exit_usage : k_exit_failed;
}

}  // namespace hpn::cli
