// The daemon's push (tag for the target, push, remove the tag hpn made) and rmi.
#include "hpn/ops/operations.hpp"

#include "hpn/util/log.hpp"

namespace hpn::ops {

// ---- push ---------------------------------------------------------------------

Result<std::string> push_target(const image::Reference& ref, const PushSpec& spec) {
  if (!ref.tag_given && !ref.digest.empty()) {
    return Error(ErrorKind::invalid_argument,
                 "cannot push " + ref.original + ": a registry needs a tag to push to; write it as name:tag@digest");
  }
  std::string registry = spec.registry;
  while (!registry.empty() && registry.back() == '/') registry.pop_back();
  // A path template: the source's parts put in, and its tag unless the template
  // places it.
  if (spec.project.find('{') != std::string::npos) {
    std::string path = spec.project;
    const std::pair<std::string_view, std::string> parts[] = {
        {"{registry}", ref.domain}, {"{repo}", ref.path}, {"{name}", ref.name()}, {"{tag}", ref.tag}};
    for (const auto& [key, value] : parts) {
      for (auto at = path.find(key); at != std::string::npos; at = path.find(key, at + value.size())) {
        path.replace(at, key.size(), value);
      }
    }
    return registry + "/" + path + (spec.project.find("{tag}") == std::string::npos ? ":" + ref.tag : "");
  }
  if (spec.mode == 1) {
    return registry + "/" + ref.name() + ":" + ref.tag;
  }
  const std::string project = spec.project.empty() ? ref.project() : spec.project;
  return registry + "/" + project + "/" + ref.name() + ":" + ref.tag;
}


EnginePlan plan_push(const ContainerEngine& store, const std::vector<image::Reference>& refs, const PushSpec& spec) {
  EnginePlan plan;
  const bool ask = store.traits().cheap_queries;
  for (const auto& ref : refs) {
    EngineTask t;
    t.label = ref.original;
    t.prepare = [ref, spec, ask](EngineConnection& conn) -> Result<std::uint64_t> {
      auto target = push_target(ref, spec);
      if (!target) return target.error();
      auto parsed = image::parse_reference(*target);
      if (!parsed) {
        return Error(ErrorKind::invalid_argument, "target name " + *target + " for " + ref.original +
                                                      " is invalid (" + parsed.error().message +
                                                      "); check -r and -p");
      }
      return ask ? inspect_size(conn, ref) : Result<std::uint64_t>(0);
    };
    t.run = [ref, spec, ask](EngineConnection& conn, const ProgressFn& progress) -> Result<Outcome> {
      progress("tagging", 0, 0);
      auto target_text = push_target(ref, spec);
      if (!target_text) return target_text.error();
      auto target = image::parse_reference(*target_text);
      if (!target) return target.error();
      const std::string source = local_name(ref);
      std::uint64_t size = 0;
      if (ask) {
        auto s = inspect_size(conn, ref);
        if (!s) return s.error();
        size = *s;
      }
      const std::string target_local = local_name(*target);
      const bool same = source == target_local;
      // Only remove afterwards a tag that hpn itself created.
      const bool existed = same || conn.inspect(target_local).ok();
      if (!same) {
        if (auto st = conn.tag(source, *target); !st) return st.error();
      }
      progress("pushing", 0, 0);
      auto pushed = conn.push(*target, progress);
      if (!existed) {
        auto removed = conn.remove(target_local, false);
        if (!removed && pushed) {
          return Error(removed.error().kind, "pushed " + *target_text + " but could not remove the temporary tag: " +
                                                 removed.error().message);
        }
      }
      if (!pushed) return pushed.error();
      Outcome o;
      Transferred moved;
      moved.target = *target_text;
      moved.digest = pushed->digest;
      o.result = std::move(moved);
      o.bytes = size;
      return o;
    };
    plan.tasks.push_back(std::move(t));
  }
  return plan;
}

// ---- rmi ----------------------------------------------------------------------

EnginePlan plan_rmi(const std::vector<image::Reference>& refs, bool force) {
  EnginePlan plan;
  for (const auto& ref : refs) {
    EngineTask t;
    t.label = ref.original;
    t.run = [ref, force](EngineConnection& conn, const ProgressFn&) -> Result<Outcome> {
      auto removed = conn.remove(local_name(ref), force);
      if (!removed) return removed.error();
      Outcome o;
      o.result = Removed{.untagged = removed->untagged, .deleted = removed->deleted};
      return o;
    };
    plan.tasks.push_back(std::move(t));
  }
  return plan;
}

}  // namespace hpn::ops
