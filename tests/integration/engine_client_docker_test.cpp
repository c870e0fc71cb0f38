// Engine API client against the real dockerd and registry started by scripts/testenv.
#include "hpn/engine/client.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "hpn/util/base64.hpp"
#include <nlohmann/json.hpp>

#include "hpn/image/reference.hpp"
#include "hpn/engine/registry.hpp"
#include "hpn/registry/resolver.hpp"
#include "hpn/ops/daemon_store.hpp"
#include "hpn/ops/operations.hpp"
#include "hpn/util/file.hpp"
#include "support/tar_util.hpp"
#include "support/testenv.hpp"

using namespace std::chrono_literals;
using hpn::ErrorKind;
using hpn::Status;
using hpn::engine::Client;
using hpn::test::env;
using hpn::test::run_command;
using hpn::test::shell_quote;

namespace {

std::string docker_cli() { return "docker -H " + shell_quote(env("HPN_TEST_DOCKER_HOST")) + " "; }

// Save `names` through the client into `path` (atomically).
hpn::Result<std::uint64_t> save_to(Client& c, std::vector<std::string> names,
                                   const std::filesystem::path& path) {
  auto f = hpn::util::AtomicFile::create(path);
  if (!f) return f.error();
  auto n = c.save(names, [&](std::string_view chunk) { return f->write(chunk); });
  if (!n) return n.error();
  if (auto st = f->commit(); !st) return st.error();
  return *n;
}

hpn::engine::Source file_source(hpn::util::FileReader& r) {
  return [&r](std::span<char> buf) { return r.read(buf); };
}

}  // namespace

TEST(DockerClient, NegotiatesTheLowerApiVersionAndDetectsDocker) {
  Client c = hpn::test::connect_docker();
  EXPECT_EQ(c.runtime(), hpn::engine::Runtime::docker);
  EXPECT_EQ(c.server().api_version, hpn::test::docker_daemon_api());
  EXPECT_EQ(c.api_version(), hpn::test::docker_negotiated_api());  // min(ours, daemon's)
  EXPECT_EQ(c.api_version(), hpn::test::docker_daemon() == "docker20" ? "1.41" : "1.51");
  EXPECT_NE(c.server().server.find("Docker"), std::string::npos);
  auto v = c.version();
  ASSERT_TRUE(v.ok()) << v.error().message;
  EXPECT_EQ((*v)["ApiVersion"], hpn::test::docker_daemon_api());
}

TEST(DockerClient, ApiVersionOverrideIsUsed) {
  hpn::engine::ClientOptions opts;
  opts.api_version = "1.40";
  auto c = Client::connect(hpn::test::docker_endpoint(), opts);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->api_version(), "1.40");
  auto info = c->inspect_image("hpn-test/base:1");
  ASSERT_TRUE(info.ok()) << info.error().message;
  opts.api_version = "one.two";
  auto bad = Client::connect(hpn::test::docker_endpoint(), opts);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().kind, ErrorKind::invalid_argument);
}

TEST(DockerClient, InspectMissingImageIsNotFoundWithTheDaemonsMessage) {
  Client c = hpn::test::connect_docker();
  auto r = c.inspect_image("hpn-test/does-not-exist:404");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::not_found);
  EXPECT_EQ(r.error().http_status, 404);
  EXPECT_NE(r.error().message.find("No such image: hpn-test/does-not-exist:404"), std::string::npos)
      << r.error().message;
}

TEST(DockerClient, InspectAndListSeededImages) {
  Client c = hpn::test::connect_docker();
  auto info = c.inspect_image("hpn-test/multi:1");
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->id.rfind("sha256:", 0), 0u);
  // 28 MiB of files; the containerd image store counts the content it holds, the
  // layers compressed (half of each is random).
  EXPECT_GT(info->size, hpn::test::containerd_store() ? 14 << 20 : 28 << 20);
  auto list = c.list_images();
  ASSERT_TRUE(list.ok());
  bool found = false;
  for (const auto& s : *list) {
    for (const auto& t : s.repo_tags) found |= (t == "hpn-test/multi:1" && s.id == info->id);
  }
  EXPECT_TRUE(found);
}

TEST(DockerClient, ConnectionIsReusedAcrossRequests) {
  Client c = hpn::test::connect_docker();
  hpn::engine::Request req;
  req.path = "/_ping";
  auto sink = [](std::string_view) { return Status{}; };
  auto first = c.connection().perform(req, sink);
  ASSERT_TRUE(first.ok());
  auto second = c.connection().perform(req, sink);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->new_connections, 0);
  EXPECT_EQ(second->status, 200);
}

TEST(DockerClient, SaveMatchesDockerSaveManifestAndLayers) {
  Client c = hpn::test::connect_docker();
  hpn::test::TempDir dir;
  auto n = save_to(c, {"hpn-test/multi:1"}, dir / "hpn.tar");
  ASSERT_TRUE(n.ok()) << n.error().message;
  EXPECT_EQ(*n, std::filesystem::file_size(dir / "hpn.tar"));
  auto cli = run_command(docker_cli() + "save -o " + shell_quote((dir / "cli.tar").string()) + " hpn-test/multi:1");
  ASSERT_EQ(cli.exit_code, 0) << cli.err;

  const auto ours = nlohmann::json::parse(hpn::test::tar_member(dir / "hpn.tar", "manifest.json"));
  const auto theirs = nlohmann::json::parse(hpn::test::tar_member(dir / "cli.tar", "manifest.json"));
  EXPECT_EQ(ours, theirs);
  ASSERT_TRUE(ours.is_array());
  ASSERT_EQ(ours.size(), 1u);
  EXPECT_EQ(ours[0]["RepoTags"][0], "hpn-test/multi:1");
  ASSERT_EQ(ours[0]["Layers"].size(), 4u);  // base + three COPY layers

  const auto our_digests = hpn::test::tar_member_digests(dir / "hpn.tar");
  const auto their_digests = hpn::test::tar_member_digests(dir / "cli.tar");
  for (const auto& layer : ours[0]["Layers"]) {
    const std::string name = layer.get<std::string>();
    ASSERT_TRUE(our_digests.count(name)) << name;
    EXPECT_EQ(our_digests.at(name), their_digests.at(name)) << name;
  }
  // The config blob is named after its own digest: the image ID, except in the
  // containerd image store, whose ID is the manifest's digest (index.json names it).
  const std::string config = ours[0]["Config"].get<std::string>();
  auto info = c.inspect_image("hpn-test/multi:1");
  ASSERT_TRUE(info.ok());
  if (hpn::test::containerd_store()) {
    const auto index = nlohmann::json::parse(hpn::test::tar_member(dir / "hpn.tar", "index.json"));
    EXPECT_EQ(index["manifests"][0]["digest"], info->id);
    EXPECT_EQ(our_digests.at(config), config.substr(config.rfind('/') + 1));
  } else {
    EXPECT_EQ("sha256:" + our_digests.at(config), info->id);
  }
}

TEST(DockerClient, SaveSeveralImagesInOneStream) {
  Client c = hpn::test::connect_docker();
  hpn::test::TempDir dir;
  auto n = save_to(c, {"hpn-test/small:1", "hpn-test/base:1"}, dir / "two.tar");
  ASSERT_TRUE(n.ok()) << n.error().message;
  const auto m = nlohmann::json::parse(hpn::test::tar_member(dir / "two.tar", "manifest.json"));
  ASSERT_EQ(m.size(), 2u);
  std::set<std::string> tags;
  for (const auto& e : m) tags.insert(e["RepoTags"][0].get<std::string>());
  EXPECT_EQ(tags, (std::set<std::string>{"hpn-test/small:1", "hpn-test/base:1"}));
}

TEST(DockerClient, SaveOfMissingImageFailsAndLeavesNoFile) {
  Client c = hpn::test::connect_docker();
  hpn::test::TempDir dir;
  auto n = save_to(c, {"hpn-test/nope:1"}, dir / "nope.tar");
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().kind, ErrorKind::not_found) << n.error().describe();
  EXPECT_FALSE(std::filesystem::exists(dir / "nope.tar"));
  EXPECT_FALSE(std::filesystem::exists(dir / "nope.tar.part"));
}

TEST(DockerClient, LoadRestoresARemovedImage) {
  Client c = hpn::test::connect_docker();
  hpn::test::TempDir dir;
  ASSERT_TRUE(c.tag("hpn-test/small:1", "hpn-test/load-probe", "1").ok());
  auto original = c.inspect_image("hpn-test/load-probe:1");
  ASSERT_TRUE(original.ok());
  ASSERT_TRUE(save_to(c, {"hpn-test/load-probe:1"}, dir / "probe.tar").ok());
  auto removed = c.remove("hpn-test/load-probe:1");
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  ASSERT_FALSE(c.inspect_image("hpn-test/load-probe:1").ok());

  auto reader = hpn::util::FileReader::open(dir / "probe.tar");
  ASSERT_TRUE(reader.ok());
  int progress_messages = 0;
  auto loaded = c.load(file_source(*reader), [&](const auto&) { ++progress_messages; });
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  ASSERT_EQ(loaded->images.size(), 1u);
  EXPECT_EQ(loaded->images[0], "hpn-test/load-probe:1");
  EXPECT_GE(progress_messages, 1);
  auto after = c.inspect_image("hpn-test/load-probe:1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->id, original->id);
  ASSERT_TRUE(c.remove("hpn-test/load-probe:1").ok());
}

TEST(DockerClient, LoadOfGarbageFailsWithTheDaemonsMessage) {
  Client c = hpn::test::connect_docker();
  std::string junk(4096, 'j');
  bool sent = false;
  auto loaded = c.load([&](std::span<char> buf) -> hpn::Result<std::size_t> {
    if (sent) return std::size_t{0};
    sent = true;
    std::size_t n = std::min(buf.size(), junk.size());
    std::copy_n(junk.data(), n, buf.data());
    return n;
  });
  ASSERT_FALSE(loaded.ok());
  EXPECT_FALSE(loaded.error().message.empty());
  EXPECT_NE(loaded.error().message.find("load"), std::string::npos);
}

TEST(DockerClient, PullFromLocalRegistry) {
  Client c = hpn::test::connect_docker();
  const std::string repo = env("HPN_TEST_REGISTRY") + "/hpn-test/small";
  (void)c.remove(repo + ":1");
  ASSERT_FALSE(c.inspect_image(repo + ":1").ok());
  int messages = 0;
  auto st = c.pull(repo, "1", {}, {}, [&](const auto&) { ++messages; });
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_GT(messages, 0);
  auto info = c.inspect_image(repo + ":1");
  ASSERT_TRUE(info.ok());
  // Other tests push the same image under other names: any of its digests will do.
  EXPECT_TRUE(std::any_of(info->repo_digests.begin(), info->repo_digests.end(),
                          [&](const std::string& d) { return d.rfind(repo + "@sha256:", 0) == 0; }))
      << info->repo_digests.size() << " repo digests, none of " << repo;
}

TEST(DockerClient, SizeIndexNamesImagesByTagAndByDigest) {
  Client c = hpn::test::connect_docker();
  const std::string repo = env("HPN_TEST_REGISTRY") + "/hpn-test/small";
  ASSERT_TRUE(c.pull(repo, "1").ok());
  auto info = c.inspect_image(repo + ":1");
  ASSERT_TRUE(info.ok());
  ASSERT_FALSE(info->repo_digests.empty());
  auto index = hpn::ops::image_sizes(c);
  ASSERT_TRUE(index.ok()) << index.error().describe();
  for (const std::string& name : {repo + ":1", info->repo_digests[0]}) {
    auto ref = hpn::image::parse_reference(name);
    ASSERT_TRUE(ref.ok()) << name;
    auto it = index->find(ref->canonical());
    ASSERT_NE(it, index->end()) << name << " is not in the size index";
    EXPECT_EQ(it->second, static_cast<std::uint64_t>(info->size)) << name;
  }
}

TEST(DockerClient, PullOfMissingTagFailsAsNotFound) {
  Client c = hpn::test::connect_docker();
  auto st = c.pull(env("HPN_TEST_REGISTRY") + "/hpn-test/small", "no-such-tag");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::not_found) << st.error().describe();
  EXPECT_NE(st.error().message.find("no-such-tag"), std::string::npos);
}

TEST(DockerClient, PullFromAuthRegistryWithoutCredentialsIsUnauthorized) {
  Client c = hpn::test::connect_docker();
  auto st = c.pull(env("HPN_TEST_AUTH_REGISTRY") + "/hpn-test/small", "1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::unauthorized) << st.error().describe();
}

TEST(DockerClient, TagPushAndRemove) {
  Client c = hpn::test::connect_docker();
  const std::string repo = env("HPN_TEST_REGISTRY") + "/hpn-test/pushed";
  ASSERT_TRUE(c.tag("hpn-test/small:1", repo, "v1").ok());
  auto pushed = c.push(repo, "v1");
  ASSERT_TRUE(pushed.ok()) << pushed.error().message;
  EXPECT_EQ(pushed->digest.rfind("sha256:", 0), 0u) << pushed->digest;
  EXPECT_EQ(pushed->digest.size(), 71u);
  auto removed = c.remove(repo + ":v1");
  ASSERT_TRUE(removed.ok());
  ASSERT_FALSE(removed->empty());
  EXPECT_EQ((*removed)[0], "Untagged: " + repo + ":v1");
  // The registry has it: pulling it back works.
  ASSERT_TRUE(c.pull(repo, "v1").ok());
  ASSERT_TRUE(c.remove(repo + ":v1").ok());
}

TEST(DockerClient, TagOfMissingImageIsNotFound) {
  Client c = hpn::test::connect_docker();
  auto st = c.tag("hpn-test/nope:1", "x/y", "z");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::not_found);
}

TEST(DockerClient, CancelAbortsASaveInFlightQuickly) {
  Client c = hpn::test::connect_docker();
  std::atomic<std::uint64_t> received{0};
  std::atomic<bool> done{false};
  std::chrono::steady_clock::time_point cancelled_at;
  std::thread canceller([&] {
    while (received.load() == 0 && !done.load()) std::this_thread::sleep_for(5ms);
    cancelled_at = std::chrono::steady_clock::now();
    c.connection().cancel();
  });
  std::vector<std::string> names{env("HPN_TEST_LARGE_IMAGE")};
  auto n = c.save(names, [&](std::string_view chunk) -> Status {
    received += chunk.size();
    std::this_thread::sleep_for(1ms);  // a slow disk
    return {};
  });
  done = true;
  canceller.join();
  auto elapsed = std::chrono::steady_clock::now() - cancelled_at;
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().kind, ErrorKind::cancelled);
  EXPECT_LT(elapsed, 2s);
  EXPECT_LT(received.load(), 200ull << 20);
  // After reset the connection works again.
  c.connection().reset_cancel();
  EXPECT_TRUE(c.ping().ok());
}

TEST(DockerClient, SinkErrorAbortsTheSaveWithThatError) {
  Client c = hpn::test::connect_docker();
  std::vector<std::string> names{"hpn-test/multi:1"};
  auto n = c.save(names, [](std::string_view) -> Status {
    return hpn::Error(ErrorKind::no_space, "no space left on /x/y.tar.part");
  });
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.error().kind, ErrorKind::no_space);
  EXPECT_NE(n.error().message.find("/x/y.tar.part"), std::string::npos);
}

TEST(DockerClient, UnreachableSocketNamesTheEndpointAndSource) {
  auto ep = hpn::engine::parse_host("unix:///nonexistent/hpn-test.sock", "--host");
  ASSERT_TRUE(ep.ok());
  auto c = Client::connect(*ep);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, ErrorKind::daemon_unreachable);
  EXPECT_NE(c.error().message.find("unix:///nonexistent/hpn-test.sock (--host)"), std::string::npos)
      << c.error().message;
}

TEST(DockerClient, ClonesTalkOnTheirOwnConnections) {
  Client c = hpn::test::connect_docker();
  std::vector<std::thread> workers;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&, w = c.clone()]() mutable {
      for (int k = 0; k < 5; ++k) ok += w.inspect_image("hpn-test/base:1").ok() ? 1 : 0;
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(ok.load(), 20);
}

namespace {

// Options as `hpn pull` sets them: insecure registries from the daemon's /info.
hpn::registry::ResolverOptions resolver_options(Client& c, std::optional<hpn::engine::CredentialSources> creds = {}) {
  auto info = c.info();
  EXPECT_TRUE(info.ok());
  hpn::registry::ResolverOptions o;
  o.threads = 2;
  o.credentials = std::move(creds);
  // The test registries listen on loopback: the daemon reaches them over plain
  // HTTP, and so does the registry client.
  const std::string registry = hpn::test::env("HPN_TEST_REGISTRY");
  if (hpn::engine::daemon_treats_as_insecure(info ? *info : nlohmann::json::object(), registry)) {
    o.insecure.push_back(registry);
  }
  return o;
}

class QuietReporter final : public hpn::ops::Reporter {
 public:
  void batch_started(const std::vector<std::string>&, const std::vector<std::uint64_t>&) override {}
  void task_started(std::size_t, const std::string&, std::uint64_t) override {}
  void task_progress(std::size_t, std::string_view, std::uint64_t, std::uint64_t) override {}
  void task_retrying(std::size_t, const std::string&, int, std::chrono::milliseconds, const hpn::Error&) override {}
  void task_finished(const hpn::ops::TaskResult&, std::size_t, std::size_t) override {}
  void batch_finished(const std::vector<hpn::ops::TaskResult>&, std::chrono::milliseconds, bool) override {}
};

}  // namespace

TEST(Resolver, TagsResolveToTheDigestsTheRegistryHoldsAndPullsByThemEndTagged) {
  Client c = hpn::test::connect_docker();
  const std::string reg = env("HPN_TEST_REGISTRY");
  std::vector<hpn::image::Reference> refs;
  std::vector<std::string> pushed;
  for (const std::string src : {"hpn-test/small:1", "hpn-test/base:1"}) {
    const std::string repo = reg + "/resolve/" + src.substr(9, src.find(':') - 9);
    ASSERT_TRUE(c.tag(src, repo, "r1").ok());
    auto p = c.push(repo, "r1");
    ASSERT_TRUE(p.ok()) << p.error().message;
    pushed.push_back(p->digest);
    auto ref = hpn::image::parse_reference(repo + ":r1");
    ASSERT_TRUE(ref.ok());
    refs.push_back(*ref);
  }
  refs.push_back(*hpn::image::parse_reference(reg + "/resolve/small:no-such-tag"));

  auto resolver = std::make_shared<hpn::registry::TagResolver>(refs, 0, resolver_options(c));
  resolver->wait();
  EXPECT_EQ(resolver->digest(0), std::optional<std::string>(pushed[0]));
  EXPECT_EQ(resolver->digest(1), std::optional<std::string>(pushed[1]));
  EXPECT_FALSE(resolver->digest(2).has_value());  // not there: left to the pull by tag and its error
  // Sizes: config and layers of each manifest, as the registry lists them.
  for (std::size_t i = 0; i < 2; ++i) {
    auto m = run_command("curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' http://" + reg +
                         "/v2/" + refs[i].path + "/manifests/r1");
    ASSERT_EQ(m.exit_code, 0) << m.err;
    const auto j = nlohmann::json::parse(m.out);
    std::uint64_t total = j["config"]["size"].get<std::uint64_t>();
    for (const auto& l : j["layers"]) total += l["size"].get<std::uint64_t>();
    EXPECT_GT(total, 0u);
    EXPECT_EQ(resolver->size(i), total) << refs[i].original;
  }
  EXPECT_EQ(resolver->size(2), 0u);
  auto sized = hpn::ops::pull_tasks(refs, "", resolver);
  EXPECT_FALSE(hpn::ops::size_pulls(sized, *resolver));  // one unknown: the list's order stays
  EXPECT_EQ(sized[1].size_hint, 0u);
  sized.pop_back();
  ASSERT_TRUE(hpn::ops::size_pulls(sized, *resolver));
  EXPECT_EQ(sized[0].size_hint, resolver->size(0));
  EXPECT_EQ(sized[1].size_hint, resolver->size(1));

  // Pulled by those digests, each ends up under its tag, pointing at that digest.
  for (std::size_t i = 0; i < 2; ++i) ASSERT_TRUE(c.remove(refs[i].canonical()).ok());
  QuietReporter quiet;
  hpn::ops::BatchOptions bo;
  bo.workers = 2;
  const hpn::ops::DaemonStore store(c.clone(), std::nullopt);
  auto results = hpn::ops::run_batch(store, hpn::ops::pull_tasks(refs, "", resolver), bo, quiet);
  ASSERT_EQ(results.size(), 3u);
  for (std::size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(results[i].state, hpn::ops::TaskState::succeeded) << results[i].error->describe();
    const auto* pulled = std::get_if<hpn::ops::Pulled>(&results[i].outcome.result);
    ASSERT_NE(pulled, nullptr);
    EXPECT_EQ(pulled->digest, pushed[i]);
    auto info = c.inspect_image(refs[i].canonical());
    ASSERT_TRUE(info.ok()) << refs[i].canonical() << " is not tagged after its pull by digest";
    EXPECT_NE(std::find(info->repo_digests.begin(), info->repo_digests.end(), refs[i].repository() + "@" + pushed[i]),
              info->repo_digests.end());
    (void)c.remove(refs[i].canonical());
  }
  ASSERT_EQ(results[2].state, hpn::ops::TaskState::failed);
  EXPECT_EQ(results[2].error->kind, ErrorKind::not_found) << results[2].error->describe();
  EXPECT_NE(results[2].error->message.find("no-such-tag"), std::string::npos) << results[2].error->message;
}

TEST(Resolver, BasicAuthRegistryResolvesWithTheStoredCredentialsOnly) {
  Client c = hpn::test::connect_docker();
  const std::string reg = env("HPN_TEST_AUTH_REGISTRY");
  hpn::engine::Credentials creds;
  creds.username = env("HPN_TEST_AUTH_USER");
  creds.password = env("HPN_TEST_AUTH_PASSWORD");
  const std::string repo = reg + "/resolve/small";
  ASSERT_TRUE(c.tag("hpn-test/small:1", repo, "r1").ok());
  auto p = c.push(repo, "r1", hpn::engine::registry_auth_header(creds, reg));
  ASSERT_TRUE(p.ok()) << p.error().message;
  (void)c.remove(repo + ":r1");
  const std::vector<hpn::image::Reference> refs{*hpn::image::parse_reference(repo + ":r1")};

  hpn::test::TempDir dir;
  hpn::test::write_file(dir / "config.json", R"({"auths":{")" + reg + R"(":{"auth":")" +
                                                 hpn::util::base64_encode(creds.username + ":" + creds.password) +
                                                 R"("}}})");
  hpn::engine::CredentialSources sources;
  sources.docker_config_dir = dir.path().string();
  hpn::registry::TagResolver with(refs, 0, resolver_options(c, sources));
  with.wait();
  EXPECT_EQ(with.digest(0), std::optional<std::string>(p->digest));

  hpn::engine::CredentialSources empty;
  empty.docker_config_dir = (dir / "none").string();
  hpn::registry::TagResolver without(refs, 0, resolver_options(c, empty));
  without.wait();
  EXPECT_FALSE(without.digest(0).has_value());
}
