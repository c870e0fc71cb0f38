// The stream path of the transfer: an image exported by one store (a Docker or
// Podman daemon, or hpn's own verified fetch from a registry) is imported by a
// daemon as it streams, through a bounded pipe between two threads: no file in
// between, memory bounded by the pipe.
//
// Per image: the source is asked for the image's ID; a destination that holds the
// same ID under the image's name has it already ("unchanged"). Otherwise the
// source's export streams into the destination's import (the daemon tags what it
// loads from the archive's own names).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "hpn/image/reference.hpp"
#include "hpn/ops/image_store.hpp"
#include "hpn/ops/operations.hpp"

namespace hpn::transfer {

// A worker's connections: one to the exporting store, one to the importing daemon.
class StreamLanes final : public ops::WorkerConnection {
 public:
  StreamLanes(std::unique_ptr<ops::StoreConnection> from, std::unique_ptr<ops::EngineConnection> to)
      : from_(std::move(from)), to_(std::move(to)) {}
  void watch(const std::atomic<bool>* flag) override {
    from_->watch(flag);
    to_->watch(flag);
  }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override {
    from_->set_deadline(deadline, why);
    to_->set_deadline(deadline, why);
  }
  ops::StoreConnection& from() { return *from_; }
  ops::EngineConnection& to() { return *to_; }

 private:
  std::unique_ptr<ops::StoreConnection> from_;
  std::unique_ptr<ops::EngineConnection> to_;
};

ops::Opener<StreamLanes> stream_lanes_of(std::shared_ptr<const ops::ImageStore> from,
                                         std::shared_ptr<const ops::ContainerEngine> to);

struct StreamSpec {
  std::string platform;  // os/arch[/variant]: export and import that platform only
  std::string to_name;   // the destination, as the result names it ("podman")
};

// One task per listed image: exported by `from`, imported by `to`.
ops::BasicPlan<StreamLanes> plan_stream(const std::vector<image::Reference>& refs, const StreamSpec& spec);

}  // namespace hpn::transfer
