// The command-line back end (--backend cli): the same batch through the docker,
// podman or nerdctl command line, one process per step as Harpoon does it, for
// nerdctl users and for side-by-side comparisons. Same plans, output, archives and
// exit codes as the Engine API back end.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hpn/engine/endpoint.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/util/config.hpp"

namespace hpn::ops {

struct CliTool {
  std::string program;            // docker | podman | nerdctl
  std::vector<std::string> args;  // global arguments: -H URI, --url URI
  std::vector<std::string> env;   // added to the environment: HTTP_PROXY=... (config proxy.*)
  std::vector<std::string> command(std::initializer_list<std::string> rest) const;
};

// docker -H URI; podman --remote --url URI; nerdctl (talks to containerd itself).
CliTool cli_tool(const std::string& runtime, const engine::Endpoint* endpoint);
// HTTP_PROXY/HTTPS_PROXY (and lower-case) for the tool's processes from config
// proxy.*, when enabled: nerdctl pulls and pushes itself and honours them.
std::vector<std::string> proxy_environment(const util::Config& config);

class CliStore final : public ContainerEngine {
 public:
  // `local`: the tool's daemon runs on this machine (a socket, or nerdctl's containerd).
  CliStore(CliTool tool, bool local);

  const StoreTraits& traits() const override { return traits_; }
  std::unique_ptr<EngineConnection> open_engine() const override;
  // Sizes would cost a process per image: none are asked for.
  SizeIndex sizes(const std::vector<image::Reference>&, std::size_t) const override { return {}; }
  Status check_platform(const std::string& platform, std::string_view what) const override;
  std::shared_ptr<const registry::TagResolver> resolve_ahead(const std::vector<image::Reference>&,
                                                           std::size_t) const override {
    return nullptr;
  }
  const CliTool& tool() const { return tool_; }

 private:
  CliTool tool_;
  StoreTraits traits_;
};

}  // namespace hpn::ops
