// hpn rmi: remove the listed images from the daemon.
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"

namespace hpn::cli {

int cmd_rmi(const Context& ctx, const RmiOptions& opt) {
  auto refs = read_images(opt.images);
  if (!refs) return k_exit_usage;
  int code = k_exit_failed;
  auto store = open_store(ctx, code);
  if (!store) return code;
  return run_plan(ctx, *store, ops::plan_rmi(*refs, opt.force));
}

}  // namespace hpn::cli
