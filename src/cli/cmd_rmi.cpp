// hpn rmi: remove the listed images from the daemon.
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"

namespace hpn::cli {

int cmd_rmi(Context& ctx) {
  auto refs = read_images(ctx);
  if (!refs) return k_exit_usage;
  int code = k_exit_failed;
  auto store = open_store(ctx, code);
  if (!store) return code;
  return run_plan(ctx, *store, ops::plan_rmi(*refs, ctx.opt.force));
}

}  // namespace hpn::cli
