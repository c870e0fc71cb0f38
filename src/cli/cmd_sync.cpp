// hpn sync FILE.yaml: mirror repositories by rules. Each entry's tags are listed
// at its registry (when its rule filters them) and picked; every picked image
// then goes through the transfer pipeline as one batch, each into its entry's
// destination. With --lock, every image copied or found there is written to a
// list by digest.
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <thread>

#include "hpn/cli/app.hpp"
#include "hpn/cli/commands.hpp"
#include "hpn/endpoint/factory.hpp"
#include "hpn/ops/signals.hpp"
#include "hpn/registry/client.hpp"
#include "hpn/sync/rules.hpp"
#include "hpn/transfer/pipeline.hpp"
#include "hpn/util/file.hpp"

namespace hpn::cli {

namespace {

// A worker's lanes to every destination of the file.
class SyncLanes final : public ops::WorkerConnection {
 public:
  explicit SyncLanes(std::vector<std::unique_ptr<transfer::Lanes>> lanes) : lanes_(std::move(lanes)) {}
  void watch(const std::atomic<bool>* flag) override {
    for (auto& l : lanes_) l->watch(flag);
  }
  void set_deadline(std::optional<std::chrono::steady_clock::time_point> deadline, std::string why) override {
    for (auto& l : lanes_) l->set_deadline(deadline, why);
  }
  transfer::Lanes& to(std::size_t group) { return *lanes_.at(group); }

 private:
  std::vector<std::unique_ptr<transfer::Lanes>> lanes_;
};

// Entries with the same destination and platforms share one.
struct Group {
  endpoint::Spec to;
  std::vector<std::string> platforms;
  std::shared_ptr<const transfer::ImageDestination> destination;
};

// One picked image: its entry and its group.
struct Picked {
  image::Reference ref;
  std::size_t entry = 0, group = 0;
};

// What each entry's tags are: listed at the registry where the rule filters them,
// each repository once, `workers` at a time; a failure is the entries'.
std::vector<Result<std::vector<std::string>>> list_tags(const sync::SyncFile& file,
                                                        const std::shared_ptr<registry::Client>& client,
                                                        std::size_t workers) {
  std::vector<std::size_t> lister(file.entries.size());  // the entry whose listing each uses
  std::vector<std::size_t> listings;
  std::map<std::string, std::size_t> first;
  for (std::size_t i = 0; i < file.entries.size(); ++i) {
    const auto& e = file.entries[i];
    auto [it, fresh] = first.emplace(e.repository.repository(), i);
    lister[i] = it->second;
    if (fresh && e.tags.needs_listing()) listings.push_back(i);
    if (!fresh && e.tags.needs_listing() && !file.entries[it->second].tags.needs_listing()) {
      it->second = i;
      lister[i] = i;
      listings.push_back(i);
    }
  }
  std::vector<Result<std::vector<std::string>>> out(file.entries.size(), std::vector<std::string>{});
  std::atomic<std::size_t> next{0};
  {
    std::vector<std::jthread> threads;
    const std::size_t n = std::clamp<std::size_t>(workers, 1, std::max<std::size_t>(listings.size(), 1));
    for (std::size_t t = 0; t < n; ++t) {
      threads.emplace_back([&] {
        auto fetcher = client->fetcher();
        fetcher->watch(&ops::interrupt_flag());  // Ctrl-C stops the listing too
        for (std::size_t k; (k = next++) < listings.size() && !ops::interrupt_flag().load();) {
          const auto& e = file.entries[listings[k]];
          out[listings[k]] = fetcher->tags(e.repository, file.tag_page_size);
        }
      });
    }
  }
  for (std::size_t i = 0; i < file.entries.size(); ++i) {
    if (lister[i] != i && file.entries[i].tags.needs_listing())
      out[i] = out[first[file.entries[i].repository.repository()]];
  }
  return out;
}

std::string joined(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

// The lock: each image copied or found there, by digest, after a comment with its
// platforms.
Status write_lock(const std::string& path, const sync::SyncFile& file, const std::vector<Picked>& picked,
                  const std::vector<Group>& groups, const std::vector<ops::TaskResult>& results) {
  std::string text = "# hpn sync " + file.path + ": the images copied or found up to date, by digest\n";
  std::size_t n = 0;
  for (const auto& r : results) {
    if (r.state != ops::TaskState::succeeded || r.index >= picked.size()) continue;
    const auto* t = r.outcome.transferred();
    if (t == nullptr || t->digest.empty()) continue;
    const auto& p = picked[r.index];
    const auto& platforms = groups[p.group].platforms;
    std::string digest = t->digest;
    std::string comment;
    if (platforms.empty()) {
      comment = "every platform";
    } else if (platforms.size() == 1) {
      comment = platforms[0] + (t->index_digest.empty() ? "" : " of the index " + t->index_digest);
    } else {
      // The index was written anew with these platforms: the lock names the source's.
      comment = joined(platforms, ", ") + " of the index";
      if (!t->index_digest.empty()) digest = t->index_digest;
    }
    text += "# " + comment + "\n" + p.ref.repository() + ":" + p.ref.tag + "@" + digest + "\n";
    ++n;
  }
  if (n == 0) text += "# (none)\n";
  auto out = util::AtomicFile::create(path, 0644);
  if (!out) return out.error();
  if (auto st = out->write(text); !st) return st;
  return out->commit();
}

}  // namespace

int cmd_sync(const Context& ctx, const SyncOptions& opt) {
  auto file = sync::read_sync_file(opt.file);
  if (!file) {
    print_error(file.error());
    return k_exit_usage;
  }
  auto verify = verify_spec(opt.verify);
  if (!verify) return k_exit_usage;
  endpoint::Settings settings;
  settings.client = registry_options(ctx, opt.insecure_registries);
  settings.interrupt = &ops::install_interrupt_handlers();
  settings.daemon = resolve_inputs(ctx);
  settings.daemon_client = client_options(ctx);
  settings.containerd_namespace = containerd_namespace(ctx);
  settings.snapshotter = snapshotter(ctx);
  settings.verify = std::move(*verify);
  if (!opt.no_cache) settings.known = known_blobs(ctx, false);
  // One client for the listing, the sources and the destinations: what it learns of
  // each registry (tokens, the tags listed) serves them all.
  auto client = registry::Client::create(settings.client);
  settings.registry_client = client;

  // Every destination checked before anything starts.
  std::vector<Group> groups;
  std::vector<std::size_t> group_of(file->entries.size());
  for (std::size_t i = 0; i < file->entries.size(); ++i) {
    const auto& e = file->entries[i];
    const std::string where = file->path + ":" + std::to_string(e.line) + ": ";
    auto spec = endpoint::parse_spec(e.to);
    if (!spec) {
      print_error(where + spec.error().message);
      return k_exit_usage;
    }
    using endpoint::Kind;
    if (spec->kind != Kind::registry && spec->kind != Kind::oci && spec->kind != Kind::containerd) {
      print_error(where + "sync mirrors into a registry, an OCI layout or containerd, not " + e.to +
                  "; copy from the mirror into it");
      return k_exit_usage;
    }
    if (spec->kind == Kind::registry && spec->location.empty()) {
      print_error(where + "registry: needs a HOST to mirror into");
      return k_exit_usage;
    }
    std::size_t g = 0;
    while (g < groups.size() && !(groups[g].to.text == spec->text && groups[g].platforms == e.platforms)) ++g;
    if (g == groups.size()) groups.push_back({*spec, e.platforms, nullptr});
    group_of[i] = g;
  }
  for (auto& g : groups) {
    auto d = endpoint::make_destination(g.to, settings);
    if (!d) return plan_failed(d.error().with_context(g.to.text));
    g.destination = std::move(*d);
  }

  // The tags each rule picks.
  const auto rs = run_settings(ctx);
  const auto listed = list_tags(*file, client, static_cast<std::size_t>(std::max(rs.workers, 1)));
  std::vector<Picked> picked;
  std::vector<std::pair<std::string, Error>> unlisted;
  std::vector<std::string> notes;
  for (std::size_t i = 0; i < file->entries.size(); ++i) {
    const auto& e = file->entries[i];
    if (!listed[i]) {
      unlisted.emplace_back(e.from, listed[i].error());
      continue;
    }
    const auto tags = sync::select_tags(e.tags, *listed[i]);
    std::string note = e.repository.repository() + ": " + std::to_string(tags.size()) + " tags";
    if (e.tags.needs_listing()) note += " of " + std::to_string(listed[i]->size());
    note += " -> " + e.to + (e.platforms.empty() ? "" : " (" + joined(e.platforms, ", ") + ")");
    notes.push_back(note);
    for (const auto& tag : tags) {
      auto ref = image::parse_reference(e.repository.repository() + ":" + tag);
      if (!ref) {
        unlisted.emplace_back(e.repository.repository() + ":" + tag, ref.error());
        continue;
      }
      picked.push_back({*ref, i, group_of[i]});
    }
  }

  // One batch: each image into its group's destination.
  auto source = endpoint::make_source(
      endpoint::Spec{.kind = endpoint::Kind::registry, .location = {}, .text = "registry"}, settings);
  if (!source) return plan_failed(source.error());
  ops::BasicPlan<SyncLanes> plan;
  plan.notes = notes;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    std::vector<image::Reference> refs;
    std::vector<std::size_t> at;
    for (std::size_t k = 0; k < picked.size(); ++k) {
      if (picked[k].group == g) {
        refs.push_back(picked[k].ref);
        at.push_back(k);
      }
    }
    const auto& platforms = groups[g].platforms;
    auto part =
        transfer::plan_transfer(refs, {.platform = platforms.size() == 1 ? platforms[0] : std::string(),
                                       .compress = {},
                                       .moving = "copying",
                                       .known = settings.known,
                                       .referrers = !opt.referrers.none,
                                       .referrer_types = opt.referrers.types,
                                       .verify = settings.verify,
                                       .platforms = platforms.size() > 1 ? platforms : std::vector<std::string>{},
                                       .dry_run = opt.dry_run});
    for (std::size_t k = 0; k < part.tasks.size(); ++k) {
      auto& t = part.tasks[k];
      ops::BasicTask<SyncLanes> task;
      task.label = t.label;
      task.size_hint = t.size_hint;
      if (t.prepare) task.prepare = [g, f = std::move(t.prepare)](SyncLanes& l) { return f(l.to(g)); };
      task.run = [g, f = std::move(t.run)](SyncLanes& l, const ops::ProgressFn& p) { return f(l.to(g), p); };
      task.on_failure = std::move(t.on_failure);
      // In the order picked, so a result's index names its image.
      if (plan.tasks.size() <= at[k]) plan.tasks.resize(picked.size());
      plan.tasks[at[k]] = std::move(task);
    }
  }
  // A repository whose tags could not be listed fails by name; the rest go on.
  for (const auto& [what, error] : unlisted) {
    ops::BasicTask<SyncLanes> task;
    task.label = what;
    task.run = [failed = error](SyncLanes&, const ops::ProgressFn&) -> Result<ops::Outcome> { return failed; };
    plan.tasks.push_back(std::move(task));
  }
  std::vector<ops::Opener<transfer::Lanes>> openers;
  for (const auto& g : groups) openers.push_back(transfer::lanes_of(*source, g.destination));
  const ops::Opener<SyncLanes> open = [openers] {
    std::vector<std::unique_ptr<transfer::Lanes>> lanes;
    for (const auto& o : openers) lanes.push_back(o());
    return std::make_unique<SyncLanes>(std::move(lanes));
  };
  print_notes(ctx, plan.notes);
  plan.notes.clear();
  auto reporter = reporter_for(ctx, plan.noun);
  const auto results = ops::run_plan<SyncLanes>(open, false, std::move(plan), rs, *reporter);
  int code = ops::batch_exit_code(results, rs.interrupt->load());
  if (!opt.lock.empty() && !opt.dry_run) {
    if (auto st = write_lock(opt.lock, *file, picked, groups, results); !st) {
      print_error(st.error());
      code = std::max(code, 1);
    }
  }
  return code;
}

}  // namespace hpn::cli
