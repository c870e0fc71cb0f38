// hpn pull: pull every listed image from its registry.
#include <memory>
#include <mutex>
#include <optional>

#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/engine/registry.hpp"
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
  const auto credentials = engine::CredentialSources::from_environment(podman);
  const int workers = worker_count(ctx);
  // Digests asked of the registries while the pulls run (Docker only: Podman
  // resolves names its own way); see engine/registry.hpp.
  std::shared_ptr<engine::TagResolver> digests;
  if (!podman && !ctx.opt.no_resolve && refs->size() > static_cast<std::size_t>(workers)) {
    struct DaemonInfo {
      explicit DaemonInfo(engine::Client c) : client(std::move(c)) {}
      std::mutex mu;
      engine::Client client;
      std::optional<nlohmann::json> info;
      const nlohmann::json& get() {
        std::lock_guard lock(mu);
        if (!info) {
          auto j = client.info();
          info = j ? *j : nlohmann::json::object();
        }
        return *info;
      }
    };
    auto daemon = std::make_shared<DaemonInfo>(client->clone());
    engine::ResolverOptions ro;
    ro.threads = static_cast<std::size_t>(std::min(workers, 4));
    ro.credentials = credentials;
    ro.insecure = [daemon](const std::string& host) { return engine::daemon_treats_as_insecure(daemon->get(), host); };
    ro.resolve_domain = [daemon](const std::string& domain) {
      // Docker Hub through the daemon's mirrors: the mirror is what the daemon asks.
      const auto& cfg = daemon->get();
      return domain != "docker.io" || !cfg.contains("RegistryConfig") ||
             cfg["RegistryConfig"].value("Mirrors", nlohmann::json::array()).empty();
    };
    digests = std::make_shared<engine::TagResolver>(*refs, 0, std::move(ro));
  }
  auto tasks = ops::pull_tasks(*refs, ctx.opt.platform, credentials, digests);
  // A near registry answers for the whole list in a few ms: then the largest pulls
  // start first, as saves do, so the batch does not end on one big image. A far or
  // slow one costs this wait once, and the list's order stays.
  if (digests && digests->wait_for(std::chrono::milliseconds(60))) ops::size_pulls(tasks, *digests);
  // Workers start a little apart, so that pulls of images alike do not reach the
  // daemon's unpacking at the same moments.
  return run_tasks(ctx, *client, std::move(tasks), "images", std::chrono::milliseconds(100));
}

}  // namespace hpn::cli
