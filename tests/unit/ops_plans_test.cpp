// The daemon commands' plans (save, load, push, rmi) against an in-memory container
// engine: what each asks the engine, in which order, and what it leaves on disk.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "hpn/archive/archive_info.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/ops/reporter.hpp"
#include "hpn/util/sha256.hpp"
#include "hpn/util/tar_header.hpp"

namespace {

namespace fs = std::filesystem;
using namespace hpn;

// What the engine holds and what it was asked, shared by its connections.
struct World {
  std::mutex mu;
  std::map<std::string, std::string> configs;  // local name -> config JSON (the ID is its digest)
  std::vector<std::string> calls;
  std::string imported;  // the bytes of the last import
  void record(std::string call) {
    std::lock_guard lock(mu);
    calls.push_back(std::move(call));
  }
  std::size_t count(const std::string& prefix) {
    std::lock_guard lock(mu);
    return static_cast<std::size_t>(
        std::count_if(calls.begin(), calls.end(), [&](const std::string& c) { return c.rfind(prefix, 0) == 0; }));
  }
};

std::string id_of(const std::string& config) { return "sha256:" + util::sha256_hex(config); }

void member(std::string& tar, const std::string& name, const std::string& body) {
  tar += util::tar_member_header(name, body.size());
  tar += body;
  tar.append(util::tar_padding(body.size()), '\0');
}

class Connection final : public ops::EngineConnection {
 public:
  explicit Connection(std::shared_ptr<World> w) : w_(std::move(w)) {}
  void watch(const std::atomic<bool>*) override {}
  void set_deadline(std::optional<std::chrono::steady_clock::time_point>, std::string) override {}

  Result<ops::StoredImage> inspect(const std::string& name) override {
    std::lock_guard lock(w_->mu);
    auto it = w_->configs.find(name);
    if (it == w_->configs.end()) return Error(ErrorKind::not_found, "inspect " + name + ": No such image");
    return ops::StoredImage{id_of(it->second), it->second.size() + 2048};
  }
  // A legacy `docker save` archive: the config and manifest.json (no layers).
  Result<std::uint64_t> export_images(std::span<const std::string> names, const std::string&,
                                      const engine::Sink& sink) override {
    w_->record("export");
    std::string tar;
    nlohmann::json manifest = nlohmann::json::array();
    for (const auto& name : names) {
      std::string config;
      {
        std::lock_guard lock(w_->mu);
        config = w_->configs.at(name);
      }
      const std::string file = util::sha256_hex(config) + ".json";
      member(tar, file, config);
      manifest.push_back({{"Config", file}, {"RepoTags", {name}}, {"Layers", nlohmann::json::array()}});
    }
    member(tar, "manifest.json", manifest.dump());
    tar.append(2 * util::k_tar_block, '\0');
    if (auto st = sink(tar); !st) return st.error();
    return tar.size();
  }
  Result<ops::Loaded> import_archive(const engine::Source& source, const std::string&) override {
    std::string all;
    std::vector<char> buf(4096);
    for (;;) {
      auto n = source(buf);
      if (!n) return n.error();
      if (*n == 0) break;
      all.append(buf.data(), *n);
    }
    std::lock_guard lock(w_->mu);
    w_->imported = all;
    w_->calls.push_back("import");
    return ops::Loaded{{"loaded:1"}};
  }
  Result<ops::Pulled> pull(const image::Reference& ref, const std::string& at, const std::string&,
                           const ops::ProgressFn&) override {
    w_->record("pull " + ref.familiar() + " " + at);
    return ops::Pulled{};
  }
  Status tag(const std::string& source, const image::Reference& target) override {
    w_->record("tag " + source + " " + ops::local_name(target));
    std::lock_guard lock(w_->mu);
    w_->configs[ops::local_name(target)] = w_->configs.at(source);
    return {};
  }
  Result<ops::Pushed> push(const image::Reference& target, const ops::ProgressFn&) override {
    w_->record("push " + ops::local_name(target));
    return ops::Pushed{"sha256:" + std::string(64, 'a')};
  }
  Result<ops::Removed> remove(const std::string& name, bool force) override {
    w_->record("rmi " + name + (force ? " force" : ""));
    std::lock_guard lock(w_->mu);
    return ops::Removed{w_->configs.erase(name), 0};
  }

 private:
  std::shared_ptr<World> w_;
};

class Engine final : public ops::ContainerEngine {
 public:
  Engine() { traits_.cheap_queries = true; }
  std::shared_ptr<World> world = std::make_shared<World>();
  const ops::StoreTraits& traits() const override { return traits_; }
  std::unique_ptr<ops::EngineConnection> open_engine() const override { return std::make_unique<Connection>(world); }
  ops::SizeIndex sizes(const std::vector<image::Reference>&, std::size_t) const override { return {}; }
  Status check_platform(const std::string&, std::string_view) const override { return {}; }
  std::shared_ptr<const registry::TagResolver> resolve_ahead(const std::vector<image::Reference>&,
                                                           std::size_t) const override {
    return nullptr;
  }

 private:
  ops::StoreTraits traits_;
};

class Quiet final : public ops::Reporter {
 public:
  void batch_started(const std::vector<std::string>&, const std::vector<std::uint64_t>&) override {}
  void task_started(std::size_t, const std::string&, std::uint64_t) override {}
  void task_progress(std::size_t, std::string_view, std::uint64_t, std::uint64_t) override {}
  void task_retrying(std::size_t, const std::string&, int, std::chrono::milliseconds, const Error&) override {}
  void task_finished(const ops::TaskResult&, std::size_t, std::size_t) override {}
  void batch_finished(const std::vector<ops::TaskResult>&, std::chrono::milliseconds, bool) override {}
};

ops::RunSettings settings() {
  static std::atomic<bool> never{false};
  ops::RunSettings rs;
  rs.workers = 2;
  rs.retry.max_attempts = 1;
  rs.interrupt = &never;
  return rs;
}

image::Reference ref(const std::string& text) { return *image::parse_reference(text); }

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("hpn-plans-" + std::to_string(::getpid()) + "-" +
                                               std::to_string(reinterpret_cast<std::uintptr_t>(this)));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

template <class Store, class P>
std::vector<ops::TaskResult> run(const Store& store, P plan) {
  Quiet quiet;
  return ops::run_plan(store, std::move(plan), settings(), quiet);
}

}  // namespace

TEST(Plans, SaveWritesOneArchiveEachThenFindsThemUnchangedUntilAnImageChanges) {
  Engine engine;
  engine.world->configs = {{"example.com/app/a:1", R"({"a":1})"}, {"example.com/app/b:2", R"({"b":2})"}};
  TempDir dir;
  ops::SaveSpec spec;
  spec.dir = dir.path;
  spec.workers = 2;
  const std::vector<image::Reference> refs = {ref("example.com/app/a:1"), ref("example.com/app/b:2")};

  auto plan = ops::plan_save(engine, refs, spec);
  ASSERT_TRUE(plan) << plan.error().message;
  for (const auto& r : run(engine, std::move(*plan))) {
    EXPECT_EQ(r.state, ops::TaskState::succeeded) << r.label << ": " << (r.error ? r.error->message : "");
    EXPECT_FALSE(r.outcome.unchanged) << r.label;
  }
  EXPECT_EQ(engine.world->count("export"), 2u);
  for (const auto& r : refs) {
    const auto path = ops::save_path(r, spec);
    EXPECT_TRUE(fs::exists(path)) << path;
    EXPECT_TRUE(fs::exists(archive::sidecar_path(path))) << path;
    EXPECT_FALSE(fs::exists(path.string() + ".part")) << path;
  }

  // Nothing new: each image costs a question, no export.
  plan = ops::plan_save(engine, refs, spec);
  ASSERT_TRUE(plan);
  for (const auto& r : run(engine, std::move(*plan))) EXPECT_TRUE(r.outcome.unchanged) << r.label;
  EXPECT_EQ(engine.world->count("export"), 2u);

  // b changed in the engine: only b is written again.
  engine.world->configs["example.com/app/b:2"] = R"({"b":3})";
  plan = ops::plan_save(engine, refs, spec);
  ASSERT_TRUE(plan);
  const auto third = run(engine, std::move(*plan));
  ASSERT_EQ(third.size(), 2u);
  for (const auto& r : third) EXPECT_EQ(r.outcome.unchanged, r.label == "example.com/app/a:1") << r.label;
  EXPECT_EQ(engine.world->count("export"), 3u);
}

TEST(Plans, SaveOfAnImageTheEngineLacksFailsByNameAndTheOthersAreSaved) {
  Engine engine;
  engine.world->configs = {{"example.com/app/a:1", R"({"a":1})"}};
  TempDir dir;
  ops::SaveSpec spec;
  spec.dir = dir.path;
  auto plan = ops::plan_save(engine, {ref("example.com/app/a:1"), ref("example.com/app/absent:1")}, spec);
  ASSERT_TRUE(plan);
  const auto results = run(engine, std::move(*plan));
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    if (r.label == "example.com/app/absent:1") {
      EXPECT_EQ(r.state, ops::TaskState::failed);
      ASSERT_TRUE(r.error);
      EXPECT_EQ(r.error->kind, ErrorKind::not_found);
      EXPECT_NE(r.error->message.find("pull it first"), std::string::npos) << r.error->message;
    } else {
      EXPECT_EQ(r.state, ops::TaskState::succeeded) << r.label;
    }
  }
  EXPECT_FALSE(fs::exists(ops::save_path(ref("example.com/app/absent:1"), spec)));
}

TEST(Plans, LoadHandsTheEngineTheArchiveByteForByteAndRefusesOneWhoseSidecarDisagrees) {
  Engine engine;
  engine.world->configs = {{"example.com/app/a:1", R"({"a":1})"}};
  TempDir dir;
  ops::SaveSpec spec;
  spec.dir = dir.path;
  auto saved = ops::plan_save(engine, {ref("example.com/app/a:1")}, spec);
  ASSERT_TRUE(saved);
  run(engine, std::move(*saved));
  const auto file = ops::save_path(ref("example.com/app/a:1"), spec);
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  auto plan = ops::plan_load(engine, {file}, {});
  ASSERT_TRUE(plan);
  auto results = run(engine, std::move(*plan));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].state, ops::TaskState::succeeded) << (results[0].error ? results[0].error->message : "");
  EXPECT_EQ(engine.world->imported, bytes);

  // The sidecar no longer matches: nothing reaches the engine.
  std::ofstream(archive::sidecar_path(file)) << std::string(64, '0') << "\n";
  engine.world->imported.clear();
  plan = ops::plan_load(engine, {file}, {});
  ASSERT_TRUE(plan);
  results = run(engine, std::move(*plan));
  EXPECT_EQ(results[0].state, ops::TaskState::failed);
  EXPECT_TRUE(engine.world->imported.empty());
  EXPECT_EQ(engine.world->count("import"), 1u);
}

TEST(Plans, PushTagsForTheTargetPushesAndRemovesOnlyTheTagItMade) {
  Engine engine;
  engine.world->configs = {{"example.com/app/a:1", R"({"a":1})"}, {"example.com/app/b:1", R"({"b":1})"},
                           {"mirror.local/b:1", R"({"b":1})"}};
  ops::PushSpec spec;
  spec.registry = "mirror.local";
  auto results = run(engine, ops::plan_push(engine, {ref("example.com/app/a:1")}, spec));
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].state, ops::TaskState::succeeded) << (results[0].error ? results[0].error->message : "");
  const auto* pushed = results[0].outcome.transferred();
  ASSERT_NE(pushed, nullptr);
  EXPECT_EQ(pushed->target, "mirror.local/a:1");
  EXPECT_EQ(pushed->digest.substr(0, 11), "sha256:aaaa");
  EXPECT_NE(ops::outcome_text(results[0].outcome).find("-> mirror.local/a:1 digest sha256:aaaa"), std::string::npos);
  const std::vector<std::string> expected = {"tag example.com/app/a:1 mirror.local/a:1", "push mirror.local/a:1",
                                             "rmi mirror.local/a:1"};
  EXPECT_EQ(engine.world->calls, expected);

  // The target name was there before: it stays.
  engine.world->calls.clear();
  results = run(engine, ops::plan_push(engine, {ref("example.com/app/b:1")}, spec));
  EXPECT_EQ(results[0].state, ops::TaskState::succeeded);
  EXPECT_EQ(engine.world->count("rmi"), 0u);
  EXPECT_EQ(engine.world->count("push mirror.local/b:1"), 1u);

  // Mode 2 with a project.
  engine.world->calls.clear();
  spec.mode = 2;
  spec.project = "team";
  results = run(engine, ops::plan_push(engine, {ref("example.com/app/a:1")}, spec));
  EXPECT_EQ(engine.world->count("push mirror.local/team/a:1"), 1u);
}

TEST(Plans, RmiRemovesEachImageByItsLocalNameWithForceWhenAsked) {
  Engine engine;
  engine.world->configs = {{"example.com/app/a:1", "{}"}, {"nginx:1.25", "{}"}};
  auto results = run(engine, ops::plan_rmi({ref("example.com/app/a:1"), ref("nginx:1.25")}, true));
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) EXPECT_EQ(r.state, ops::TaskState::succeeded) << r.label;
  EXPECT_EQ(engine.world->count("rmi example.com/app/a:1 force"), 1u);
  EXPECT_EQ(engine.world->count("rmi nginx:1.25 force"), 1u);
  EXPECT_TRUE(engine.world->configs.empty());
}
