// Subcommand entry points, one file each under src/cli/. Each returns an exit code.
#pragma once

#include <chrono>

#include "hpn/cli/common.hpp"
#include "hpn/cli/options.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/transfer/pipeline.hpp"

namespace hpn::cli {

int cmd_info(const Context& ctx);
int cmd_pull(const Context& ctx, const PullOptions& opt);
int cmd_save(const Context& ctx, const SaveOptions& opt);
int cmd_load(const Context& ctx, const LoadOptions& opt);
int cmd_push(const Context& ctx, const PushOptions& opt);
int cmd_rmi(const Context& ctx, const RmiOptions& opt);
int cmd_ls(const Context& ctx, const LsOptions& opt);
int cmd_login(const Context& ctx, const LoginOptions& opt);
int cmd_logout(const Context& ctx, const LogoutOptions& opt);
int cmd_copy(const Context& ctx, const CopyOptions& opt);
int cmd_sync(const Context& ctx, const SyncOptions& opt);

// save from a store hpn reads itself (a registry, an OCI layout), with save's
// options, output and exit codes.
int save_from_source(const Context& ctx, const SaveOptions& opt, const std::vector<image::Reference>& refs,
                     const ops::ImageStore& store);

// Every image of the archives `files` into `destination`, blob by blob; with
// `verify`, each archive's .sha256 sidecar is checked before the first of its
// images sends a blob (an archive that does not match moves nothing).
int move_archives(const Context& ctx, const archive::FoundArchives& files, bool verify,
                  std::shared_ptr<const transfer::ImageDestination> destination, const transfer::TransferSpec& spec);

// The target of push and copy: -r (or config), --push-mode, -p. Prints the problem
// and returns nullopt when there is no registry.
std::optional<ops::PushSpec> push_spec(const Context& ctx, const RegistryTargetOptions& opt);

// Worker count: -j, else config parallel.max_workers.
int worker_count(const Context& ctx);

void print_notes(const Context& ctx, const std::vector<std::string>& notes);
// Workers, retries, timeouts and the interrupt flag, from the options and config.
ops::RunSettings run_settings(const Context& ctx);
std::unique_ptr<ops::Reporter> reporter_for(const Context& ctx, const std::string& noun);

// Run `plan` on connections that `open` makes, with the configured workers, retries,
// timeouts and interrupt handling; print its notes, progress and results; return
// the exit code.
template <class C>
int run_plan(const Context& ctx, const ops::Opener<C>& open, bool local, ops::BasicPlan<C> plan) {
  print_notes(ctx, plan.notes);
  const auto rs = run_settings(ctx);
  auto reporter = reporter_for(ctx, plan.noun);
  const auto results = ops::run_plan<C>(open, local, std::move(plan), rs, *reporter);
  return ops::batch_exit_code(results, rs.interrupt->load());
}
// The same on connections of `store`.
int run_plan(const Context& ctx, const ops::ImageStore& store, ops::Plan plan);
int run_plan(const Context& ctx, const ops::ContainerEngine& engine, ops::EnginePlan plan);
// The exit code for a plan that could not be made: usage for a bad argument.
int plan_failed(const Error& error);

}  // namespace hpn::cli
