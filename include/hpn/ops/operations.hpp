// Task builders for each batch operation. Each task talks to the daemon through
// the worker's own client; nothing here prints.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "hpn/image/reference.hpp"
#include "hpn/ops/batch.hpp"

namespace hpn::ops {

// The name hpn uses for local operations (inspect, save, tag, rmi): the familiar
// form with an explicit tag, which Docker and Podman both resolve locally.
std::string local_name(const image::Reference& ref);

// Image sizes by canonical name, from one GET /images/json: saves a round trip per
// image when ordering a batch. Names not found fall back to an inspect.
using SizeIndex = std::map<std::string, std::uint64_t>;
Result<SizeIndex> image_sizes(engine::Client& client);

std::vector<Task> pull_tasks(const std::vector<image::Reference>& refs, const std::string& platform);

struct SaveSpec {
  std::filesystem::path dir;
  bool by_project = false;  // Harpoon save-mode 3
};
std::vector<Task> save_tasks(const std::vector<image::Reference>& refs, const SaveSpec& spec,
                             const SizeIndex& sizes = {});

std::vector<Task> load_tasks(const std::vector<std::filesystem::path>& files);

struct PushSpec {
  std::string registry;
  int mode = 1;         // 1: REG/name:tag; 2: REG/project/name:tag
  std::string project;  // mode 2: overrides the image's own project when set
};
// Target name for `ref`, e.g. harbor.local/library/nginx:latest.
Result<std::string> push_target(const image::Reference& ref, const PushSpec& spec);
std::vector<Task> push_tasks(const std::vector<image::Reference>& refs, const PushSpec& spec);

std::vector<Task> rmi_tasks(const std::vector<image::Reference>& refs, bool force);

}  // namespace hpn::ops
