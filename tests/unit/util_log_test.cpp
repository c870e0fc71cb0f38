// Diagnostics as the logging.* keys shape them: text or JSON lines, with or
// without timestamps, to a file or nowhere.
#include "hpn/util/log.hpp"

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/testenv.hpp"

namespace {

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void reset() { ASSERT_TRUE(hpn::log::configure({}).ok()); }

}  // namespace

TEST(Log, JsonLinesEscapeTheMessage) {
  hpn::test::TempDir dir;
  hpn::log::Settings s;
  s.level = spdlog::level::debug;
  s.file = (dir / "hpn.log").string();
  s.json = true;
  ASSERT_TRUE(hpn::log::configure(s).ok());
  hpn::log::get("ops").info("saving \"{}\" again\tnow", "a\\b");
  hpn::log::get("ops").flush();
  reset();
  const std::string text = read(dir / "hpn.log");
  auto j = nlohmann::json::parse(text.substr(0, text.find('\n')), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << text;
  EXPECT_EQ(j["message"], "saving \"a\\b\" again\tnow");
  EXPECT_EQ(j["level"], "info");
  EXPECT_EQ(j["layer"], "ops");
  EXPECT_TRUE(std::regex_match(j["time"].get<std::string>(), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})")));
}

TEST(Log, TextLinesWithoutTimestamps) {
  hpn::test::TempDir dir;
  hpn::log::Settings s;
  s.level = spdlog::level::info;
  s.file = (dir / "hpn.log").string();
  s.timestamp = false;
  ASSERT_TRUE(hpn::log::configure(s).ok());
  hpn::log::get("engine").warn("slow daemon");
  hpn::log::get("engine").debug("below the level");
  hpn::log::get("engine").flush();
  reset();
  EXPECT_EQ(read(dir / "hpn.log"), "warning [engine] slow daemon\n");
}

TEST(Log, AnUnwritableFileIsAnError) {
  hpn::log::Settings s;
  s.level = spdlog::level::info;
  s.file = "/dev/null/hpn.log";
  auto st = hpn::log::configure(s);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/dev/null/hpn.log"), std::string::npos);
}
