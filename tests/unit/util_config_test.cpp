#include "hpn/util/config.hpp"

#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "support/testenv.hpp"

using hpn::util::load_config;
using hpn::util::parse_config;
using hpn::util::parse_duration;
using namespace std::chrono_literals;

TEST(Config, DefaultsMatchHarpoon) {
  hpn::util::Config c;
  EXPECT_EQ(c.registry, "registry.k8s.local");
  EXPECT_EQ(c.project, "library");
  EXPECT_EQ(c.max_workers, 4);
  EXPECT_EQ(c.runtime.retry.max_attempts, 3);
  EXPECT_EQ(c.runtime.retry.delay, 1s);
  EXPECT_EQ(c.runtime.retry.max_delay, 30s);
}

TEST(Config, ParsesHarpoonKeys) {
  auto c = parse_config(R"(
registry: harbor.local
project: prod
proxy: {http: "http://p:3128", https: "http://p:3128", enabled: true}
runtime:
  preferred: podman
  timeout: 5m
  auto_fallback: false
  retry: {max_attempts: 5, delay: 2s, max_delay: 1m}
logging: {level: debug, file: /tmp/hpn.log}
parallel: {max_workers: 8}
modes: {save_mode: 3, load_mode: 2, push_mode: 2}
)", "test.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->registry, "harbor.local");
  EXPECT_TRUE(c->registry_set);
  EXPECT_EQ(c->project, "prod");
  EXPECT_TRUE(c->proxy.enabled);
  EXPECT_EQ(c->runtime.preferred, "podman");
  EXPECT_EQ(c->runtime.timeout, 300s);
  EXPECT_FALSE(c->runtime.auto_fallback);
  EXPECT_EQ(c->runtime.retry.max_attempts, 5);
  EXPECT_EQ(c->runtime.retry.max_delay, 60s);
  EXPECT_EQ(c->logging.level, "debug");
  EXPECT_EQ(c->max_workers, 8);
  EXPECT_EQ(c->modes.save_mode, 3);
  EXPECT_EQ(c->modes.push_mode, 2);
}

TEST(Config, BadValuesNameTheFileAndKey) {
  auto c = parse_config("parallel: {max_workers: many}\n", "my.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("my.yaml"), std::string::npos);
  EXPECT_NE(c.error().message.find("parallel.max_workers"), std::string::npos);
  auto m = parse_config("modes: {save_mode: 7}\n", "my.yaml");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("modes.save_mode"), std::string::npos);
  auto y = parse_config("registry: [unclosed\n", "my.yaml");
  ASSERT_FALSE(y.ok());
  EXPECT_NE(y.error().message.find("not valid YAML"), std::string::npos);
}

TEST(Config, BothCachesLiveUnderCacheDirEachWithItsOwnBound) {
  auto c = parse_config("cache: {dir: /var/cache/hpn, keep_blobs: true, blobs_size: 5G, known_blobs_entries: 10}\n",
                        "my.yaml");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->cache.dir, "/var/cache/hpn");
  EXPECT_TRUE(c->cache.keep_blobs);
  EXPECT_EQ(c->cache.blobs_size, "5G");
  EXPECT_EQ(c->cache.known_blobs_entries, 10u);
  EXPECT_FALSE(hpn::util::Config{}.cache.keep_blobs);  // no blob bytes kept unless asked
  // A blob store of the save section is refused, naming the settings that hold it.
  for (const char* text : {"save: {cache: /var/cache/blobs}\n", "save: {cache_size: 1G}\n"}) {
    auto old = parse_config(text, "my.yaml");
    ASSERT_FALSE(old.ok()) << text;
    EXPECT_NE(old.error().message.find("cache.keep_blobs"), std::string::npos) << old.error().message;
    EXPECT_NE(old.error().message.find("cache.blobs_size"), std::string::npos) << old.error().message;
  }
}

TEST(Config, EnvironmentOverridesFile) {
  hpn::test::TempDir dir;
  std::ofstream(dir / "c.yaml") << "registry: from-file\nparallel: {max_workers: 2}\n";
  std::map<std::string, std::string> env{{"HPN_REGISTRY", "from-env"}, {"HPN_PARALLEL_MAX", "6"}};
  auto getenv = [&](const char* n) -> std::optional<std::string> {
    auto it = env.find(n);
    return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
  };
  auto c = load_config((dir / "c.yaml").string(), getenv);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->registry, "from-env");
  EXPECT_EQ(c->max_workers, 6);
  EXPECT_EQ(c->loaded_from, (dir / "c.yaml").string());
  env["HPN_PARALLEL_MAX"] = "zero";
  EXPECT_FALSE(load_config((dir / "c.yaml").string(), getenv).ok());
}

TEST(Config, ExplicitMissingFileIsAnError) {
  auto c = load_config("/nonexistent/hpn.yaml", [](const char*) { return std::optional<std::string>{}; });
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("/nonexistent/hpn.yaml"), std::string::npos);
}

TEST(Duration, Units) {
  EXPECT_EQ(*parse_duration("30s"), 30s);
  EXPECT_EQ(*parse_duration("5m"), 300s);
  EXPECT_EQ(*parse_duration("1h"), 3600s);
  EXPECT_EQ(*parse_duration("250ms"), 250ms);
  EXPECT_EQ(*parse_duration("12"), 12s);
  EXPECT_FALSE(parse_duration("soon").ok());
  EXPECT_FALSE(parse_duration("5d").ok());
}

// Regression (fuzz/fuzz_config): huge durations overflowed the conversion.
TEST(Duration, OutOfRangeIsAnErrorNotOverflow) {
  EXPECT_FALSE(parse_duration("33333333333333333333333333333333333h").ok());
  EXPECT_FALSE(parse_duration("9999999999h").ok());
  EXPECT_TRUE(parse_duration("8760h").ok());
}
