// hpn rmi: remove the listed images from the daemon, or their records from
// containerd.
#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/endpoint/factory.hpp"

namespace hpn::cli {

namespace {

// A worker of a batch over containerd's image records: each call is one short
// request on the catalog's shared channel, with nothing to interrupt or time out.
struct CatalogWorker final : ops::WorkerConnection {
  void watch(const std::atomic<bool>*) override {}
  void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}
};

int remove_from_containerd(const Context& ctx, const endpoint::Spec& containerd,
                           const std::vector<image::Reference>& refs) {
  auto catalog = endpoint::make_catalog(containerd, containerd_settings(ctx));
  if (!catalog) {
    print_error(catalog.error());
    return k_exit_failed;
  }
  ops::BasicPlan<CatalogWorker> plan;
  for (const auto& ref : refs) {
    ops::BasicTask<CatalogWorker> t;
    t.label = ref.original;
    t.run = [ref, catalog = *catalog](CatalogWorker&, const ops::ProgressFn&) -> Result<ops::Outcome> {
      auto removed = catalog->remove(ref);
      if (!removed) return removed.error();
      ops::Outcome o;
      o.result = *removed;
      return o;
    };
    plan.tasks.push_back(std::move(t));
  }
  return run_plan<CatalogWorker>(
      ctx, [] { return std::make_unique<CatalogWorker>(); }, false, std::move(plan));
}

}  // namespace

int cmd_rmi(const Context& ctx, const RmiOptions& opt) {
  auto refs = read_images(opt.images);
  if (!refs) return k_exit_usage;
  if (auto containerd = containerd_runtime(ctx)) return remove_from_containerd(ctx, *containerd, *refs);
  int code = k_exit_failed;
  auto store = open_store(ctx, code);
  if (!store) return code;
  return run_plan(ctx, *store, ops::plan_rmi(*refs, opt.force));
}

}  // namespace hpn::cli
