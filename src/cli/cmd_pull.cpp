// hpn pull: pull every listed image from its registry.
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"

namespace hpn::cli {

int cmd_pull(const Context& ctx, const PullOptions& opt) {
  if (auto containerd = containerd_runtime(ctx)) {
    // Through hpn's own registry client into the content store: a copy.
    CopyOptions copy;
    copy.images = opt.images;
    copy.platform = opt.platform;
    copy.to = "containerd" + (containerd->location.empty() ? std::string() : ":" + containerd->location);
    return cmd_copy(ctx, copy);
  }
  auto refs = read_images(opt.images);
  if (!refs) return k_exit_usage;
  int code = k_exit_failed;
  auto store = open_store(ctx, code);
  if (!store) return code;
  ops::PullRequest request;
  request.platform = opt.platform;
  request.resolve = !opt.no_resolve;
  request.workers = static_cast<std::size_t>(worker_count(ctx));
  return run_plan(ctx, *store, ops::plan_pull(*store, *refs, request));
}

}  // namespace hpn::cli
