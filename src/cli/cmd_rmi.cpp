// hpn rmi: remove the listed images from the daemon.
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/ops/operations.hpp"

namespace hpn::cli {

int cmd_rmi(Context& ctx) {
  auto refs = read_images(ctx);
  if (!refs) return k_exit_usage;
  auto cli = cli_backend_or_report(ctx);
  if (!cli) return k_exit_usage;
  if (*cli) return run_tasks(ctx, (*cli)->client, ops::cli_rmi_tasks(*refs, ctx.opt.force, (*cli)->tool));
  auto client = connect_or_report(ctx);
  if (!client) return k_exit_failed;
  return run_tasks(ctx, *client, ops::rmi_tasks(*refs, ctx.opt.force));
}

}  // namespace hpn::cli
