// The CLI backend: the same batch through the docker, podman or nerdctl command
// line, one process per step as Harpoon does it, for nerdctl users and for
// side-by-side comparisons. Same tasks, output, archives and exit codes as the API.
#pragma once

#include <string>
#include <vector>

#include "hpn/engine/endpoint.hpp"
#include "hpn/ops/operations.hpp"
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

std::vector<Task> cli_pull_tasks(const std::vector<image::Reference>& refs, const std::string& platform, const CliTool& tool);
std::vector<Task> cli_save_tasks(const std::vector<image::Reference>& refs, const SaveSpec& spec, const CliTool& tool);
std::vector<Task> cli_load_tasks(const std::vector<std::filesystem::path>& files, bool verify, const CliTool& tool);
std::vector<Task> cli_push_tasks(const std::vector<image::Reference>& refs, const PushSpec& spec, const CliTool& tool);
std::vector<Task> cli_rmi_tasks(const std::vector<image::Reference>& refs, bool force, const CliTool& tool);

}  // namespace hpn::ops
