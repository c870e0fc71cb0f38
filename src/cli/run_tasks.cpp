// Shared driver of the batch subcommands.
#include <cstdio>

#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/ops/signals.hpp"

namespace hpn::cli {

int worker_count(const Context& ctx) { return ctx.global.workers > 0 ? ctx.global.workers : ctx.config.max_workers; }

void print_notes(const Context& ctx, const std::vector<std::string>& notes) {
  if (ctx.global.quiet) return;
  for (const auto& note : notes) std::fprintf(stderr, "hpn: %s\n", note.c_str());
}

ops::RunSettings run_settings(const Context& ctx) {
  ops::RunSettings rs;
  rs.workers = worker_count(ctx);
  rs.retry = ctx.config.runtime.retry;
  rs.operation_timeout = ctx.config.runtime.timeout;
  rs.interrupt = &ops::install_interrupt_handlers();
  return rs;
}

std::unique_ptr<ops::Reporter> reporter_for(const Context& ctx, const std::string& noun) {
  ops::ReporterOptions ro;
  ro.format = ctx.global.output;
  ro.progress = ctx.global.progress;
  ro.quiet = ctx.global.quiet;
  ro.color = !ctx.global.no_color && ctx.config.logging.colors;
  ro.stats = ctx.global.stats;
  ro.noun = noun;
  return ops::make_reporter(ro);
}

int run_plan(const Context& ctx, const ops::ImageStore& store, ops::Plan plan) {
  return run_plan<ops::StoreConnection>(ctx, [&store] { return store.open(); }, store.traits().local, std::move(plan));
}

int run_plan(const Context& ctx, const ops::ContainerEngine& engine, ops::EnginePlan plan) {
  return run_plan<ops::EngineConnection>(ctx, [&engine] { return engine.open_engine(); }, engine.traits().local,
                                         std::move(plan));
}

int plan_failed(const Error& error) {
  print_error(error);
  if (ops::interrupt_flag().load()) return k_exit_interrupted;
  return error.kind == ErrorKind::invalid_argument ? k_exit_usage : k_exit_failed;
}

}  // namespace hpn::cli
