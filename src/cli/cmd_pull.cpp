// hpn pull: pull every listed image from its registry.
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/operations.hpp"

namespace hpn::cli {

int cmd_pull(Context& ctx) {
  auto refs = read_images(ctx);
  if (!refs) return k_exit_usage;
  auto cli = cli_backend_or_report(ctx);
  if (!cli) return k_exit_usage;
  if (*cli) return run_tasks(ctx, (*cli)->client, ops::cli_pull_tasks(*refs, ctx.opt.platform, (*cli)->tool));
  auto client = connect_or_report(ctx);
  if (!client) return k_exit_failed;
  const bool podman = client->runtime() == engine::Runtime::podman;
  return run_tasks(ctx, *client,
                   ops::pull_tasks(*refs, ctx.opt.platform, engine::CredentialSources::from_environment(podman)));
}

}  // namespace hpn::cli
