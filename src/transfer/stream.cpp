#include "hpn/transfer/stream.hpp"

#include <thread>

#include "pipe.hpp"

namespace hpn::transfer {

namespace {

Result<ops::Outcome> stream_image(StreamLanes& lanes, const image::Reference& ref, const StreamSpec& spec,
                                  const ops::ProgressFn& progress) {
  const std::string name = ops::local_name(ref);
  progress("checking", 0, 0);
  auto have = lanes.from().inspect(name);
  if (!have) return have.error();
  ops::Transferred moved;
  moved.target = spec.to_name + " " + name;
  moved.image_id = true;
  moved.referrers_left = have->referrers_left;
  moved.signatures_verified = have->signatures_verified;
  moved.attestations_verified = have->attestations_verified;
  if (auto there = lanes.to().inspect(name); there && there->id == have->id) {
    moved.digest = there->id;
    ops::Outcome o;
    o.unchanged = true;
    o.result = moved;
    return o;
  }
  Pipe pipe;
  std::optional<Error> export_error;
  std::uint64_t exported = 0;
  std::thread exporter([&] {
    const std::string names[] = {name};
    auto n = lanes.from().export_images(names, spec.platform, [&](std::string_view chunk) -> Status {
      exported += chunk.size();
      progress("copying", exported, have->size);
      return pipe.push(chunk);
    });
    if (!n) export_error = n.error();
    pipe.close(export_error);
  });
  auto loaded = lanes.to().import_archive([&](std::span<char> buf) { return pipe.pop(buf); }, spec.platform);
  pipe.abort();
  exporter.join();
  // The export's own failure names what went wrong; the import then only saw the
  // stream end early.
  if (export_error && export_error->kind != ErrorKind::cancelled) return *export_error;
  if (!loaded) return loaded.error();
  auto now = lanes.to().inspect(name);
  if (!now) {
    return Error(ErrorKind::daemon_error, spec.to_name + " loaded the archive but holds no image " + name + " (" +
                                              now.error().message + ")");
  }
  moved.digest = now->id;
  ops::Outcome o;
  o.bytes = exported;
  o.result = moved;
  return o;
}

}  // namespace

ops::Opener<StreamLanes> stream_lanes_of(std::shared_ptr<const ops::ImageStore> from,
                                         std::shared_ptr<const ops::ContainerEngine> to) {
  return [from, to] { return std::make_unique<StreamLanes>(from->open(), to->open_engine()); };
}

ops::BasicPlan<StreamLanes> plan_stream(const std::vector<image::Reference>& refs, const StreamSpec& spec) {
  ops::BasicPlan<StreamLanes> plan;
  for (const auto& ref : refs) {
    ops::BasicTask<StreamLanes> t;
    t.label = ref.original;
    t.run = [spec, ref](StreamLanes& lanes, const ops::ProgressFn& progress) {
      return stream_image(lanes, ref, spec, progress);
    };
    plan.tasks.push_back(std::move(t));
  }
  return plan;
}

}  // namespace hpn::transfer
